/* SPDX-License-Identifier: MIT */
/*
 * Private to the emulated NVMe controller (drivers/nvme/emu/).
 *
 * The controller is split by concept:
 *
 *   ctrl.c      lifetime, the registry behind nvme_emu_from_pdev(), the
 *               controller thread (poll, then sleep) and interrupts
 *   regs.c      BAR0: registers, the CC state machine, CMB registers,
 *               doorbells
 *   queue.c     SQs and CQs: fetching SQEs, posting CQEs, Create/Delete
 *               I/O SQ/CQ
 *   cmd.c       command dispatch from the opcode tables, rejection,
 *               completion
 *   admin.c     the admin opcode table, Abort, Asynchronous Event Request,
 *               Format NVM
 *   identify.c  Identify
 *   features.c  Set/Get Features
 *   logpage.c   Get Log Page, the error log ring, SMART counters,
 *               asynchronous events
 *   io.c        the I/O opcode table and the NVM commands
 *   dptr.c      data pointers (PRP, SGL) into segment lists, and DMA
 *   ns.c        namespaces: file or RAM backing
 *   wcache.c    the volatile write cache of file-backed namespaces
 *   inject.c    test hooks: injected faults, step mode (inject.h)
 *
 * Threads. Register and doorbell writes arrive on whatever thread the
 * driver uses (the fabric calls the BAR handlers without its lock held).
 * Everything else runs on the one controller thread: queue state, command
 * execution, namespaces, logs. The two meet only through the register
 * image (reg_lock), atomics (doorbells, CSTS, interrupt masks, the CMB
 * window) and the pending-doorbell-error list (ev_lock). So nothing on the
 * I/O path takes a lock of the controller's own.
 */
#ifndef HETMEM_NVME_EMU_PRIV_H
#define HETMEM_NVME_EMU_PRIV_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <hetmem/nvme-emu.h>
#include <hetmem/nvme-spec.h>
#include <hetmem/pci.h>
#include "lib/compiler.h"
#include "lib/list.h"

#define NVME_EMU_CLASS	   0x010802
#define NVME_EMU_VENDOR	   0x4854
#define NVME_EMU_DEVICE	   0x0001
#define NVME_EMU_BAR0_SIZE (16 << 10)

#define NVME_EMU_PAGE_SHIFT    12 /* CAP.MPSMIN = CAP.MPSMAX = 0: 4 KiB pages */
#define NVME_EMU_PAGE_SIZE     (1u << NVME_EMU_PAGE_SHIFT)
#define NVME_EMU_MDTS	       9 /* 2 MiB transfers */
#define NVME_EMU_MAX_XFER      ((size_t)NVME_EMU_PAGE_SIZE << NVME_EMU_MDTS)
#define NVME_EMU_TIMEOUT       20 /* CAP.TO, 500 ms units */
#define NVME_EMU_DEF_MQES      1023
#define NVME_EMU_DEF_IO_QUEUES 8
#define NVME_EMU_MAX_IO_QUEUES (NVME_EMU_MAX_VECTORS - 1) /* one vector each */
#define NVME_EMU_SQES	       6 /* log2 of 64 */
#define NVME_EMU_CQES	       4 /* log2 of 16 */
#define NVME_EMU_ACL	       3 /* four Aborts outstanding (0-based) */
#define NVME_EMU_AERL	       3 /* four AERs outstanding (0-based) */
#define NVME_EMU_ERR_LOG       64 /* error log entries kept (ELPE + 1) */
#define NVME_EMU_MAX_EVENTS    16 /* asynchronous events waiting for an AER */
#define NVME_EMU_MAX_DB_ERRS   8 /* doorbell errors waiting for the thread */
#define NVME_EMU_BURST	       32 /* commands taken from one SQ before the next */
#define NVME_EMU_MAX_SGL_DESCS 65536 /* descriptors in one SGL */

/* Register bits nvme-spec.h leaves out. */
#define NVME_CAP_MQES_SHIFT 0
#define NVME_CAP_CQR_BIT    (1ULL << 16)
#define NVME_CAP_TO_SHIFT   24
#define NVME_CAP_CSS_SHIFT  37
#define NVME_CAP_CMBS_BIT   (1ULL << 57)
#define NVME_CC_WRITABLE                                                           \
	(NVME_CC_ENABLE | NVME_CC_CSS_MASK | NVME_CC_MPS_MASK | NVME_CC_AMS_MASK | \
	 NVME_CC_SHN_MASK | NVME_CC_IOSQES_MASK | NVME_CC_IOCQES_MASK)
#define NVME_CMBSZ_SZU_1M   (2u << 8)
#define NVME_CMBMSC_LATCHED (NVME_CMBMSC_CRE | NVME_CMBMSC_CMSE | NVME_CMBMSC_CBA_MASK)

/* Status helpers: the status field without its phase bit. */
#define NVME_DNR(sc) ((uint16_t)((sc) | NVME_SC_DNR))

/* CC changes the BAR handler leaves to the controller thread (cc_events). */
enum {
	NVME_EMU_EV_ENABLE = 1 << 0,
	NVME_EMU_EV_DISABLE = 1 << 1,
	NVME_EMU_EV_SHUTDOWN = 1 << 2,
};

/* Which way an opcode's data goes; see the opcode tables. */
enum nvme_emu_dir {
	NVME_EMU_DIR_NONE,
	NVME_EMU_DIR_TO_HOST, /* controller to host: Read, Identify, Get Log Page */
	NVME_EMU_DIR_FROM_HOST, /* host to controller: Write, Compare, DSM */
};

/* What an opcode needs in NSID. */
enum nvme_emu_nsreq {
	NVME_EMU_NS_NONE, /* NSID not used by the generic checks */
	NVME_EMU_NS_ONE, /* an active namespace */
	NVME_EMU_NS_ALL, /* an active namespace or FFFFFFFFh for all */
};

struct nvme_emu;
struct nvme_emu_req;

/**
 * struct nvme_emu_op - one supported opcode
 * @name: for messages
 * @fn: the handler; returns an NVMe status (0 for success)
 * @dir: which way its data goes, as the spec's opcode tables say (messages name it)
 * @ns: what NSID must name before @fn runs
 */
struct nvme_emu_op {
	const char *name;
	uint16_t (*fn)(struct nvme_emu *emu, struct nvme_emu_req *req);
	enum nvme_emu_dir dir;
	enum nvme_emu_nsreq ns;
};

/**
 * struct nvme_emu_cq - a completion queue
 * @qid: its identifier
 * @size: entries
 * @base: bus address of entry 0
 * @tail: next entry the controller writes
 * @phase: phase tag of the current pass
 * @irq: interrupts enabled
 * @vector: the interrupt vector
 * @nr_sqs: SQs that complete into this CQ
 */
struct nvme_emu_cq {
	uint16_t qid;
	uint32_t size;
	uint64_t base;
	uint32_t tail;
	uint8_t phase;
	bool irq;
	uint16_t vector;
	unsigned int nr_sqs;
};

/**
 * struct nvme_emu_sq - a submission queue
 * @qid: its identifier
 * @size: entries
 * @base: bus address of entry 0 (host memory or the CMB)
 * @head: next entry the controller fetches
 * @cq: where its commands complete
 */
struct nvme_emu_sq {
	uint16_t qid;
	uint32_t size;
	uint64_t base;
	uint32_t head;
	struct nvme_emu_cq *cq;
};

/**
 * struct nvme_emu_seg - a contiguous piece of a data buffer
 * @addr: bus address (or CMB address)
 * @len: bytes
 */
struct nvme_emu_seg {
	uint64_t addr;
	uint64_t len;
};

/**
 * struct nvme_emu_sg - a data buffer as the data pointer describes it
 * @seg: pieces, adjacent ones merged
 * @nr: pieces in use
 * @cap: pieces allocated
 * @len: bytes in all
 */
struct nvme_emu_sg {
	struct nvme_emu_seg *seg;
	unsigned int nr;
	unsigned int cap;
	uint64_t len;
};

/**
 * struct nvme_emu_req - a command being executed
 * @emu: the controller
 * @cmd: the SQE as fetched
 * @sq: the SQ it came from
 * @op: its table entry, NULL for an unsupported opcode
 * @admin: it came from the admin SQ
 * @ns: the namespace NSID names, when @op needs one (NULL for "all")
 * @result: completion dword 0
 * @held: the handler keeps the command (an AER): no completion now
 * @err_lba: LBA for the error log, when @has_lba
 * @has_lba: @err_lba is meaningful
 * @err_loc: parameter error location (byte << 0 | bit << 8), 0xffff if none
 * @stray: an injected fault sends its data to @stray_addr (inject.c)
 * @stray_addr: where
 */
struct nvme_emu_req {
	struct nvme_emu *emu;
	struct nvme_command cmd;
	struct nvme_emu_sq *sq;
	const struct nvme_emu_op *op;
	bool admin;
	struct nvme_emu_ns *ns;
	uint32_t result;
	bool held;
	uint64_t err_lba;
	bool has_lba;
	uint16_t err_loc;
	bool stray;
	uint64_t stray_addr;
};

struct nvme_emu_wcache;

/**
 * struct nvme_emu_ns - a namespace
 * @nsid: its identifier
 * @size: bytes
 * @lba_shift: log2 of the LBA size (9 or 12)
 * @nlb: size in LBAs
 * @ram: RAM backing, or NULL
 * @fd: file backing, or -1
 * @dsync_fd: the same file opened O_DSYNC, for writes with the cache off
 * @path: the file's name
 * @wc: dirty blocks not yet in the file (file backing only)
 * @no_punch: the file system cannot punch holes; zero with writes
 * @eui64: IEEE extended unique identifier
 * @nguid: namespace globally unique identifier
 * @uuid: namespace UUID
 */
struct nvme_emu_ns {
	uint32_t nsid;
	uint64_t size;
	unsigned int lba_shift;
	uint64_t nlb;
	uint8_t *ram;
	int fd;
	int dsync_fd;
	char *path;
	struct nvme_emu_wcache *wc;
	bool no_punch;
	uint8_t eui64[8];
	uint8_t nguid[16];
	uint8_t uuid[16];
};

/**
 * struct nvme_emu_features - Set Features values (sec. 5.21.1)
 * @arbitration: FID 01h
 * @power_mgmt: FID 02h
 * @temp_thresh: FID 04h, over and under thresholds of sensor 0
 * @err_recovery: FID 05h
 * @vwc: FID 06h, volatile write cache enabled
 * @nsqa: FID 07h, I/O SQs allocated (1-based)
 * @ncqa: FID 07h, I/O CQs allocated (1-based)
 * @irq_coalesce: FID 08h
 * @irq_config: FID 09h, per vector
 * @write_atomic: FID 0Ah
 * @async_event: FID 0Bh
 */
struct nvme_emu_features {
	uint32_t arbitration;
	uint32_t power_mgmt;
	uint16_t temp_thresh[2];
	uint32_t err_recovery;
	bool vwc;
	uint16_t nsqa;
	uint16_t ncqa;
	uint32_t irq_coalesce;
	uint32_t irq_config[NVME_EMU_MAX_VECTORS];
	uint32_t write_atomic;
	uint32_t async_event;
};

/**
 * struct nvme_emu_event - an asynchronous event waiting for an AER
 * @type: NVME_AER_TYPE_*
 * @info: event information
 * @lid: the log page that clears it
 */
struct nvme_emu_event {
	uint8_t type;
	uint8_t info;
	uint8_t lid;
};

/**
 * struct nvme_emu_db_err - a bad doorbell write, noticed by the BAR handler
 * @qid: the queue it named
 * @info: NVME_AER_ERROR_INVALID_DB_REG or NVME_AER_ERROR_INVALID_DB_VALUE
 */
struct nvme_emu_db_err {
	uint16_t qid;
	uint8_t info;
};

/**
 * struct nvme_emu_smart - live SMART / Health counters
 * @bytes_read: data read by Read and Compare
 * @bytes_written: data written by Write
 * @host_reads: Read and Compare commands completed
 * @host_writes: Write commands completed
 * @unsafe_shutdowns: resets while ready without a completed shutdown
 * @errors: error log entries ever recorded
 * @busy_ns: time spent executing commands
 */
struct nvme_emu_smart {
	uint64_t bytes_read;
	uint64_t bytes_written;
	uint64_t host_reads;
	uint64_t host_writes;
	uint64_t unsafe_shutdowns;
	uint64_t errors;
	uint64_t busy_ns;
};

/**
 * struct nvme_emu - an emulated NVMe controller
 *
 * Fields marked (T) belong to the controller thread; (R) are the register
 * image under @reg_lock; (A) are accessed with atomics from both sides.
 */
struct nvme_emu {
	uint64_t magic;
	struct pci_dev *pdev;
	struct list_head node; /* in the registry */
	char name[48];
	char serial[21];
	char model[41];
	uint16_t vendor;
	uint16_t device;
	uint16_t mqes;
	unsigned int max_io_queues;
	unsigned int nr_queues; /* admin + I/O */
	unsigned int nr_vectors;
	uint64_t cap;
	struct timespec created;

	/* Registers. */
	pthread_mutex_t reg_lock;
	uint32_t cc; /* (R), read with atomics too */
	uint32_t aqa; /* (R) */
	uint64_t asq; /* (R) */
	uint64_t acq; /* (R) */
	uint64_t cmbmsc; /* (R) */
	uint32_t cmbmsc_hi; /* (R) high dword written, waiting for the low one */
	uint32_t cmbsts; /* (R) */
	uint32_t csts; /* (A) */
	uint32_t intms; /* (A) */
	uint32_t cc_events; /* (A) NVME_EMU_EV_* */

	/* The controller memory buffer: BAR2. */
	uint8_t *cmb;
	uint64_t cmb_size;
	uint64_t cmb_base; /* (A) bus address while the memory space is enabled, else 0 */

	/* Doorbells: written by the BAR handler, read by the thread. */
	uint32_t *sq_db; /* (A) SQ tails */
	uint32_t *cq_db; /* (A) CQ heads */
	uint32_t *sq_live; /* (A) SQ sizes, 0 when the queue does not exist */
	uint32_t *cq_live; /* (A) CQ sizes, likewise */

	/* Bad doorbell writes the thread turns into events. */
	pthread_mutex_t ev_lock;
	struct nvme_emu_db_err db_err[NVME_EMU_MAX_DB_ERRS];
	unsigned int nr_db_err; /* under ev_lock */
	unsigned int db_err_any; /* (A) nonzero when @nr_db_err may be */

	/* Interrupts: one eventfd per vector. */
	int irq_fd[NVME_EMU_MAX_VECTORS];
	uint32_t irq_count[NVME_EMU_MAX_VECTORS]; /* (T) to signal at the end of a burst */
	uint64_t irq_dirty; /* (T) vectors with a count */
	uint32_t irq_masked[NVME_EMU_MAX_VECTORS]; /* (A) held back by INTMS */

	/* The thread. */
	pthread_t thread;
	bool started;
	int stop; /* (A) */
	int sleeping; /* (A) */
	unsigned int kick_sync; /* (A) orders kicks against sleeping, see nvme_emu_kick() */
	pthread_mutex_t wake_lock;
	pthread_cond_t wake;
	uint64_t spin_ns; /* (T) busy-poll budget, adapted */

	/* Controller state (T). */
	bool enabled;
	bool fatal;
	bool shut_down;
	bool clean; /* a shutdown completed since the last enable */
	uint32_t page_size;
	struct nvme_emu_sq **sq;
	struct nvme_emu_cq **cq;
	unsigned int rr; /* round-robin position */
	struct nvme_emu_features feat;

	/* Abort and AER (T). */
	struct {
		uint16_t sqid;
		uint16_t cid;
	} aborts[NVME_EMU_ACL + 1];
	unsigned int nr_aborts;
	uint16_t aer_cid[NVME_EMU_AERL + 1];
	unsigned int nr_aer;
	struct nvme_emu_event events[NVME_EMU_MAX_EVENTS];
	unsigned int nr_events;
	uint8_t ev_masked; /* bit per event type: reported, its log page not yet read */

	/* Logs (T). */
	struct nvme_error_log_entry err_log[NVME_EMU_ERR_LOG];
	unsigned int err_next;
	struct nvme_emu_smart smart;

	/* Namespaces (T after start). */
	unsigned int nr_ns;
	struct nvme_emu_ns ns[NVME_EMU_MAX_NS];

	/* Scratch (T). */
	uint8_t *bounce; /* NVME_EMU_MAX_XFER bytes */
	uint8_t *bounce2; /* a second one, for Compare */
	struct nvme_emu_sg sg;
	struct nvme_command sqe[NVME_EMU_BURST];

	/* Test hooks (inject.c). */
	struct nvme_emu_inject *inject; /* (A) allocated at the first nvme_emu_inject() */
	unsigned int inject_armed; /* (A) a fault is armed: look at @inject */
	bool stepped; /* no thread: nvme_emu_step() does the work */
};

/* ctrl.c */
__internal void nvme_emu_kick(struct nvme_emu *emu);
__internal void nvme_emu_irq_raise(struct nvme_emu *emu, unsigned int vector);
__internal void nvme_emu_irq_flush(struct nvme_emu *emu);
__internal void nvme_emu_irq_unmask(struct nvme_emu *emu, uint32_t vectors);
__internal uint64_t nvme_emu_now_ns(void);
__internal bool nvme_emu_run_once(struct nvme_emu *emu);
__internal void nvme_emu_stop_thread(struct nvme_emu *emu);

/* regs.c */
__internal extern const struct pci_bar_ops nvme_emu_bar_ops;
__internal bool nvme_emu_handle_cc(struct nvme_emu *emu);
__internal bool nvme_emu_in_cmb(struct nvme_emu *emu, uint64_t addr, uint64_t len);

/* queue.c */
__internal int nvme_emu_sq_create(struct nvme_emu *emu, uint16_t qid, uint32_t size, uint64_t base,
				  struct nvme_emu_cq *cq);
__internal int nvme_emu_cq_create(struct nvme_emu *emu, uint16_t qid, uint32_t size, uint64_t base,
				  bool irq, uint16_t vector);
__internal void nvme_emu_sq_delete(struct nvme_emu *emu, uint16_t qid);
__internal void nvme_emu_cq_delete(struct nvme_emu *emu, uint16_t qid);
__internal void nvme_emu_queues_reset(struct nvme_emu *emu);
__internal void nvme_emu_go_fatal(struct nvme_emu *emu);
__internal uint32_t nvme_emu_cq_room(struct nvme_emu *emu, const struct nvme_emu_cq *cq);
__internal int nvme_emu_cq_post(struct nvme_emu *emu, struct nvme_emu_cq *cq,
				const struct nvme_completion *cqe);
__internal bool nvme_emu_sq_ready(struct nvme_emu *emu, const struct nvme_emu_sq *sq);
__internal unsigned int nvme_emu_sq_process(struct nvme_emu *emu, struct nvme_emu_sq *sq);
__internal bool nvme_emu_sq_pending(struct nvme_emu *emu, uint16_t sqid, uint16_t cid);
__internal uint16_t nvme_emu_create_sq(struct nvme_emu *emu, struct nvme_emu_req *req);
__internal uint16_t nvme_emu_create_cq(struct nvme_emu *emu, struct nvme_emu_req *req);
__internal uint16_t nvme_emu_delete_sq(struct nvme_emu *emu, struct nvme_emu_req *req);
__internal uint16_t nvme_emu_delete_cq(struct nvme_emu *emu, struct nvme_emu_req *req);

/* cmd.c */
__internal void nvme_emu_execute(struct nvme_emu *emu, struct nvme_emu_req *req);
__internal int nvme_emu_complete(struct nvme_emu *emu, struct nvme_emu_sq *sq, uint16_t cid,
				 uint16_t status, uint32_t result, const struct nvme_emu_req *req);
__internal uint16_t nvme_emu_reject(struct nvme_emu_req *req, uint16_t status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
__internal struct nvme_emu_ns *nvme_emu_ns_get(struct nvme_emu *emu, uint32_t nsid);
__internal const char *nvme_emu_op_name(const struct nvme_emu_req *req);

/* admin.c */
__internal extern const struct nvme_emu_op nvme_emu_admin_ops[256];
__internal bool nvme_emu_abort_pending(struct nvme_emu *emu, uint16_t sqid, uint16_t cid);
__internal void nvme_emu_aer_reset(struct nvme_emu *emu);
__internal bool nvme_emu_aer_ready(struct nvme_emu *emu);
__internal bool nvme_emu_aer_post(struct nvme_emu *emu);

/* identify.c */
__internal uint16_t nvme_emu_identify(struct nvme_emu *emu, struct nvme_emu_req *req);

/* features.c */
__internal void nvme_emu_features_reset(struct nvme_emu *emu);
__internal uint16_t nvme_emu_set_features(struct nvme_emu *emu, struct nvme_emu_req *req);
__internal uint16_t nvme_emu_get_features(struct nvme_emu *emu, struct nvme_emu_req *req);

/* logpage.c */
__internal uint16_t nvme_emu_get_log_page(struct nvme_emu *emu, struct nvme_emu_req *req);
__internal void nvme_emu_log_error(struct nvme_emu *emu, uint16_t sqid, uint16_t cid,
				   uint16_t status, const struct nvme_emu_req *req);
__internal void nvme_emu_event_add(struct nvme_emu *emu, uint8_t type, uint8_t info, uint8_t lid);
__internal bool nvme_emu_db_errors(struct nvme_emu *emu);

/* io.c */
__internal extern const struct nvme_emu_op nvme_emu_io_ops[256];

/* dptr.c */
__internal uint16_t nvme_emu_map_dptr(struct nvme_emu *emu, struct nvme_emu_req *req, uint64_t len,
				      struct nvme_emu_sg *sg);
__internal uint16_t nvme_emu_sg_xfer(struct nvme_emu *emu, struct nvme_emu_req *req,
				     const struct nvme_emu_sg *sg, void *buf, bool to_host);
__internal uint16_t nvme_emu_xfer(struct nvme_emu *emu, struct nvme_emu_req *req, void *buf,
				  uint64_t len, bool to_host);
__internal int nvme_emu_dma(struct nvme_emu *emu, uint64_t addr, void *buf, uint64_t len,
			    bool write);
__internal void nvme_emu_sg_free(struct nvme_emu_sg *sg);

/* ns.c */
__internal int nvme_emu_ns_init(struct nvme_emu_ns *ns, uint32_t nsid,
				const struct nvme_emu_ns_params *p, const char *serial);
__internal void nvme_emu_ns_exit(struct nvme_emu_ns *ns);
__internal int nvme_emu_ns_read(struct nvme_emu_ns *ns, uint64_t off, void *buf, uint64_t len);
__internal int nvme_emu_ns_write(struct nvme_emu_ns *ns, uint64_t off, const void *buf,
				 uint64_t len, bool cache, bool fua);
__internal int nvme_emu_ns_zero(struct nvme_emu_ns *ns, uint64_t off, uint64_t len, bool cache);
__internal int nvme_emu_ns_flush(struct nvme_emu_ns *ns);
__internal int nvme_emu_ns_flush_range(struct nvme_emu_ns *ns, uint64_t off, uint64_t len);
__internal int nvme_emu_ns_format(struct nvme_emu_ns *ns, unsigned int lba_shift);

/* wcache.c */
__internal struct nvme_emu_wcache *nvme_emu_wc_alloc(unsigned int max_pages);
__internal void nvme_emu_wc_free(struct nvme_emu_wcache *wc);
__internal unsigned int nvme_emu_wc_pages(const struct nvme_emu_wcache *wc);
__internal int nvme_emu_wc_write(struct nvme_emu_wcache *wc, int fd, uint64_t size, uint64_t off,
				 const void *buf, uint64_t len);
__internal void nvme_emu_wc_overlay(struct nvme_emu_wcache *wc, uint64_t off, void *buf,
				    uint64_t len);
__internal int nvme_emu_wc_writeback(struct nvme_emu_wcache *wc, int fd, uint64_t size,
				     uint64_t off, uint64_t len);
__internal void nvme_emu_wc_zero(struct nvme_emu_wcache *wc, uint64_t off, uint64_t len);
__internal void nvme_emu_wc_drop(struct nvme_emu_wcache *wc);

/* inject.c */
__internal bool nvme_emu_inject_cmd(struct nvme_emu *emu, struct nvme_emu_req *req);
__internal void nvme_emu_inject_free(struct nvme_emu *emu);

/* Whether a test armed a fault: one relaxed load per command when none is. */
static inline bool nvme_emu_inject_armed(struct nvme_emu *emu)
{
	return __atomic_load_n(&emu->inject_armed, __ATOMIC_RELAXED);
}

static inline uint16_t nvme_emu_cid(const struct nvme_emu_req *req)
{
	return req->cmd.command_id;
}

static inline uint64_t nvme_emu_min(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

#endif /* HETMEM_NVME_EMU_PRIV_H */
