/* SPDX-License-Identifier: MIT */
/*
 * The NVMe host driver's private structures, shared by its files.
 *
 * Objects and who touches them:
 *
 *   struct nvme_ctrl    one per controller. The admin queue pair, the list
 *                       of I/O queue pairs and the qid map are under
 *                       admin_lock; the state word is atomic.
 *   struct nvme_qpair   a submission/completion queue pair with its request
 *                       slots. The admin queue pair is qid 0 and is used
 *                       under admin_lock; an I/O queue pair belongs to one
 *                       thread (its owner) and takes no lock.
 *   struct nvme_request one command slot of a queue pair, preallocated with
 *                       its PRP/SGL list pages, its scatterlist and (on first
 *                       need) its bounce buffer. The slot index is the
 *                       command ID's low bits.
 *
 * The reset handshake. A reset must not run while an owner is writing its
 * SQ or reading its CQ (a doorbell rung on a disabled or re-created queue
 * would be an invalid doorbell write). Each owner marks its queue pair busy
 * around every touch of the rings and checks the controller state after
 * marking; the resetter sets the state to RESETTING and then waits for
 * every queue pair to be idle. Both sides are sequentially consistent, so
 * either the owner sees RESETTING and backs off, or the resetter sees the
 * owner busy and waits (the Dekker pattern). Uncontended it costs the owner
 * one atomic exchange per call and no lock.
 */
#ifndef HETMEM_NVME_HOST_H
#define HETMEM_NVME_HOST_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <hetmem/nvme.h>
#include <hetmem/scatterlist.h>
#include "lib/compiler.h"
#include "lib/list.h"

/* The driver uses 4 KiB memory pages: CC.MPS = 0 (sec. 3.1.5). */
#define NVME_PAGE_SHIFT 12
#define NVME_PAGE_SIZE	(1U << NVME_PAGE_SHIFT)

/* Admin queue: 32 entries, 31 commands in flight at most. */
#define NVME_ADMIN_ENTRIES 32

/*
 * Command IDs: the slot in the low 12 bits, a 4-bit generation above it
 * that changes each time the slot is reused, so a completion for a command
 * that is no longer outstanding (a controller bug, or a late completion
 * after a reset) is recognised and dropped instead of completing a newer
 * command with the wrong data.
 */
#define NVME_CID_SLOT_BITS 12
#define NVME_CID_SLOT_MASK ((1U << NVME_CID_SLOT_BITS) - 1)
#define NVME_CID_GEN_MASK  0xf
#define NVME_MAX_SLOTS	   4095

#define NVME_DEFAULT_DEPTH	  64
#define NVME_DEFAULT_TIMEOUT_MS	  30000
#define NVME_DEFAULT_MAX_TRANSFER (1U << 20)
#define NVME_DEFAULT_IO_QUEUES	  64

/* PRP list: 512 entries per 4 KiB page, the last one chains (sec. 4.3). */
#define NVME_PRPS_PER_PAGE (NVME_PAGE_SIZE / 8)
/* SGL segment: 256 descriptors per page, the last one chains (sec. 4.4). */
#define NVME_SGLS_PER_PAGE (NVME_PAGE_SIZE / 16)

#define NVME_MAX_REG_BUFS 16

#define DIV_ROUND_UP(n, d) (((n) + (d)-1) / (d))

enum nvme_ctrl_state {
	NVME_CTRL_LIVE = 0,
	NVME_CTRL_RESETTING,
	NVME_CTRL_DEAD,
};

enum nvme_rq_state {
	NVME_RQ_FREE = 0,
	NVME_RQ_INFLIGHT,
	NVME_RQ_FAILED, /* failed by a reset; the owner delivers it */
};

struct nvme_request;

/*
 * Called when a request completes, on the queue pair's owner, after its data
 * was unmapped. @status: 0, negative errno, or positive NVMe status. The
 * function owns the request from then on and must give it back with
 * nvme_rq_put().
 */
typedef void (*nvme_rq_end_fn)(struct nvme_request *rq, int status, uint32_t result);

/**
 * struct nvme_list_page - one page of PRP list or SGL segment
 * @cpu: where the driver writes it
 * @dma: where the controller reads it
 */
struct nvme_list_page {
	void *cpu;
	dma_addr_t dma;
};

/**
 * struct nvme_data - a request's data and how it was mapped
 * @buf: the caller's buffer
 * @len: bytes
 * @dir: direction
 * @sg: the segments handed to the controller (preallocated, @max_segs)
 * @nents: segments in use
 * @mapped: segments mapped by the transport (to unmap at completion)
 * @bounced: the data went through @bounce
 */
struct nvme_data {
	void *buf;
	size_t len;
	enum dma_data_direction dir;
	struct scatterlist *sg;
	unsigned int nents;
	unsigned int mapped;
	bool bounced;
};

/**
 * struct nvme_request - a command slot
 * @qp: its queue pair
 * @slot: index in @qp->rqs
 * @gen: generation, the high bits of the command ID
 * @state: enum nvme_rq_state
 * @aborting: an Abort was sent for it
 * @cmd: the command being built; copied into the SQ on submission
 * @deadline_ns: when it times out (CLOCK_MONOTONIC)
 * @end: completion handler
 * @end_data: its data
 * @fail_status: the status a reset failed it with
 * @data: its data mapping
 * @lists: PRP list / SGL segment pages (@qp->ctrl->list_pages of them)
 * @bounce: bounce buffer of max_transfer bytes, allocated at first need
 * @bounce_dma: its DMA address
 * @head: the first request of a split I/O (itself when not split)
 * @pending: on a head: requests of the I/O not completed yet
 * @io_status: on a head: the first error of the I/O
 * @cb: on a head: the caller's callback
 * @cb_arg: its argument
 */
struct nvme_request {
	struct nvme_qpair *qp;
	uint16_t slot;
	uint8_t gen;
	uint8_t state;
	bool aborting;
	struct nvme_command cmd;
	uint64_t deadline_ns;
	nvme_rq_end_fn end;
	void *end_data;
	int fail_status;
	struct nvme_data data;
	struct nvme_list_page *lists;
	void *bounce;
	dma_addr_t bounce_dma;
	struct nvme_request *head;
	unsigned int pending;
	int io_status;
	nvme_io_cb cb;
	void *cb_arg;
};

/**
 * struct nvme_qpair - a submission and completion queue pair
 * @ctrl: the controller
 * @qid: queue ID (0: admin)
 * @entries: ring entries of both queues
 * @depth: request slots, @entries - 1 (a full ring is indistinguishable
 *	   from an empty one, sec. 4.1.1), so neither queue can overflow
 * @sq: submission queue
 * @sq_dma: its bus address
 * @sq_cmb: @sq is p2pmem of the controller memory buffer
 * @cq: completion queue
 * @cq_dma: its bus address
 * @sq_db: SQ tail doorbell offset in BAR0
 * @cq_db: CQ head doorbell offset in BAR0
 * @sq_tail: next SQ entry to fill
 * @sq_head: SQ head as last reported by a completion
 * @cq_head: next CQ entry to look at
 * @phase: the phase tag that marks a new completion at @cq_head
 * @vector: interrupt vector of the CQ, -1 when polled
 * @polling: inside nvme_qpair_poll(): submissions defer their doorbell
 * @sq_db_pending: the SQ tail doorbell is owed
 * @created: the controller knows the queues (Create I/O CQ/SQ done)
 * @rqs: request slots
 * @nr_lists: list pages each slot was given
 * @bounce_len: size of a slot's bounce buffer
 * @free: stack of free slot indices
 * @nr_free: entries on @free
 * @nr_failed: slots failed by a reset and not delivered yet
 * @idle_polls: polls that found nothing, to space out timeout checks
 * @nest: owner's nesting of busy sections (callbacks submitting)
 * @busy: the owner is touching the rings (see the reset handshake)
 * @node: in the controller's list of I/O queue pairs
 */
struct nvme_qpair {
	struct nvme_ctrl *ctrl;
	uint16_t qid;
	uint16_t entries;
	uint16_t depth;
	struct nvme_command *sq;
	dma_addr_t sq_dma;
	bool sq_cmb;
	struct nvme_completion *cq;
	dma_addr_t cq_dma;
	uint32_t sq_db;
	uint32_t cq_db;
	uint16_t sq_tail;
	uint16_t sq_head;
	uint16_t cq_head;
	uint8_t phase;
	int vector;
	bool polling;
	bool sq_db_pending;
	bool created;
	struct nvme_request *rqs;
	unsigned int nr_lists;
	size_t bounce_len;
	uint16_t *free;
	unsigned int nr_free;
	unsigned int nr_failed;
	unsigned int idle_polls;
	unsigned int nest;
	int busy;
	struct list_head node;
};

/**
 * struct nvme_reg_buf - a buffer mapped once (nvme_ctrl_register_buffer())
 * @valid: published (acquire/release)
 * @start: first byte
 * @len: bytes
 * @seg: mapping granule (the transport's dma_seg_max, or @len)
 * @dma: DMA address of each granule
 */
struct nvme_reg_buf {
	int valid;
	uintptr_t start;
	size_t len;
	size_t seg;
	dma_addr_t *dma;
};

/**
 * struct nvme_ctrl - a controller
 * @t: the transport
 * @opts: options with defaults filled in
 * @cap: CAP
 * @vs: VS
 * @dstrd: CAP.DSTRD
 * @ready_timeout_ms: CAP.TO in milliseconds
 * @id: Identify Controller data
 * @max_transfer: bytes per command
 * @max_segs: scatterlist entries per request
 * @list_pages: PRP/SGL list pages per request
 * @sgl: I/O commands use SGLs
 * @sgl_dword: the controller needs dword-aligned SGL data blocks
 * @nr_io_queues: I/O queues granted
 * @qid_used: which I/O qids are taken (under @admin_lock)
 * @admin_lock: serialises admin commands, queue creation and reset
 * @admin: the admin queue pair
 * @qpairs: I/O queue pairs (under @admin_lock)
 * @state: enum nvme_ctrl_state (atomic)
 * @in_reset: a reset is running (under @admin_lock)
 * @ns: active namespaces, by NSID
 * @nr_ns: how many
 * @cmb: controller memory buffer
 * @cmb_cpu: its CPU mapping
 * @cmbmsc: the CMBMSC value programmed (to restore after a reset)
 * @stats: counters (relaxed atomics)
 * @bounce_logged: the bounce fallback was reported
 * @reg: registered buffers
 */
struct nvme_ctrl {
	struct nvme_transport *t;
	struct nvme_ctrl_opts opts;
	uint64_t cap;
	uint32_t vs;
	unsigned int dstrd;
	unsigned int ready_timeout_ms;
	struct nvme_id_ctrl *id;
	size_t max_transfer;
	unsigned int max_segs;
	unsigned int list_pages;
	bool sgl;
	bool sgl_dword;
	unsigned int nr_io_queues;
	uint8_t *qid_used;
	pthread_mutex_t admin_lock;
	struct nvme_qpair *admin;
	struct list_head qpairs;
	int state;
	bool in_reset;
	struct nvme_ns *ns;
	unsigned int nr_ns;
	struct nvme_cmb_info cmb;
	void *cmb_cpu;
	uint64_t cmb_sq_used; /* bytes of the CMB given to SQs without a pool */
	uint64_t cmbmsc;
	struct nvme_ctrl_stats stats;
	int bounce_logged;
	struct nvme_reg_buf reg[NVME_MAX_REG_BUFS];
};

#define nvme_stat_inc(ctrl, field) __atomic_fetch_add(&(ctrl)->stats.field, 1, __ATOMIC_RELAXED)

/* A spin-wait hint: lets the sibling hyperthread (or the hypervisor) run. */
static inline void nvme_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static inline int nvme_ctrl_state(struct nvme_ctrl *ctrl)
{
	return __atomic_load_n(&ctrl->state, __ATOMIC_SEQ_CST);
}

/* --- registers (ctrl.c) ---------------------------------------------------- */

static inline uint32_t nvme_readl(struct nvme_ctrl *ctrl, uint32_t off)
{
	return ctrl->t->ops->reg_read32(ctrl->t->priv, off);
}

static inline void nvme_writel(struct nvme_ctrl *ctrl, uint32_t off, uint32_t val)
{
	ctrl->t->ops->reg_write32(ctrl->t->priv, off, val);
}

__internal uint64_t nvme_time_ns(void);
__internal uint64_t nvme_time_coarse_ns(void);
__internal int nvme_ctrl_disable(struct nvme_ctrl *ctrl);
__internal int nvme_ctrl_enable(struct nvme_ctrl *ctrl);
__internal int nvme_set_queue_count(struct nvme_ctrl *ctrl);

/* --- queue pairs and rings (queue.c) ----------------------------------------- */

__internal int nvme_qpair_init(struct nvme_qpair *qp, struct nvme_ctrl *ctrl, uint16_t qid,
			       unsigned int entries, bool sq_in_cmb);
__internal void nvme_qpair_destroy(struct nvme_qpair *qp);
__internal void nvme_qpair_reset_ring(struct nvme_qpair *qp);
__internal struct nvme_request *nvme_rq_get(struct nvme_qpair *qp);
__internal void nvme_rq_put(struct nvme_request *rq);
__internal void nvme_rq_submit(struct nvme_request *rq);
__internal int nvme_qpair_poll(struct nvme_qpair *qp, unsigned int max);
__internal unsigned int nvme_qpair_fail_all(struct nvme_qpair *qp, int status);
__internal int nvme_qpair_deliver_failed(struct nvme_qpair *qp);
__internal bool nvme_qpair_enter(struct nvme_qpair *qp);
__internal void nvme_qpair_exit(struct nvme_qpair *qp);
__internal int nvme_qpair_wait_live(struct nvme_qpair *qp);

/* --- I/O queue creation (qpair.c) -------------------------------------------- */

__internal int nvme_qpair_create_queues(struct nvme_qpair *qp);

/* --- data mapping (map.c) and PRP/SGL building (prp.c) ---------------------- */

__internal int nvme_rq_map_data(struct nvme_request *rq, void *buf, size_t len,
				enum dma_data_direction dir);
__internal void nvme_rq_unmap_data(struct nvme_request *rq, bool copy_back);
__internal int nvme_build_prps(struct nvme_command *cmd, struct scatterlist *sg, unsigned int nents,
			       const struct nvme_list_page *lists, unsigned int nr_lists);
__internal int nvme_build_sgl(struct nvme_command *cmd, struct scatterlist *sg, unsigned int nents,
			      const struct nvme_list_page *lists, unsigned int nr_lists,
			      bool dword);
__internal unsigned int nvme_prp_list_pages(size_t max_transfer);
__internal unsigned int nvme_sgl_list_pages(unsigned int max_segs);
__internal void nvme_reg_bufs_release(struct nvme_ctrl *ctrl);

/* --- commands, timeouts and reset (cmd.c, timeout.c) ------------------------- */

__internal int nvme_sync_locked(struct nvme_qpair *qp, const struct nvme_command *cmd, void *buf,
				size_t len, enum dma_data_direction dir, uint32_t *result);
__internal int nvme_wait_done(struct nvme_qpair *qp, const bool *done, int64_t timeout_ns);
__internal void nvme_check_timeouts(struct nvme_qpair *qp);
__internal int nvme_ctrl_reset_locked(struct nvme_ctrl *ctrl);
__internal int nvme_irq_wait(struct nvme_qpair *qp, int timeout_ms);
__internal void nvme_idle(struct nvme_qpair *qp, unsigned int *spins, uint64_t limit_ns);

/* --- CMB (cmb.c) and namespaces (ns.c) ---------------------------------------- */

__internal void nvme_cmb_setup(struct nvme_ctrl *ctrl);
__internal void nvme_cmb_restore(struct nvme_ctrl *ctrl);
__internal void nvme_cmb_release(struct nvme_ctrl *ctrl);
__internal void *nvme_cmb_alloc_sq(struct nvme_ctrl *ctrl, size_t len, dma_addr_t *dma);
__internal void nvme_cmb_free_sq(struct nvme_ctrl *ctrl, void *sq, size_t len);
__internal int nvme_ns_scan(struct nvme_ctrl *ctrl);
__internal void nvme_ns_free(struct nvme_ctrl *ctrl);

#endif /* HETMEM_NVME_HOST_H */
