/* SPDX-License-Identifier: MIT */
/*
 * The run directory of `hetmem run`: what the command prepares and every
 * interposed process shares.
 *
 *   RUN/machine.ini   the machine config, namespaces backed by files here
 *   RUN/state         struct hi_state, mapped MAP_SHARED by every process
 *   RUN/nvme0n1.img   namespace images (sparse), unless the config names one
 *   RUN/bar/          memory BARs of the p2pmem providers (sparse): every
 *                     process maps the same bytes at the same offsets
 *   RUN/sys/          the machine's sysfs tree as real files (sysfs-tree.c)
 *   RUN/view/         merged listings: a host directory's entries plus the
 *                     machine's, for /sys directories the host has too
 *
 * The state is one fixed-size structure under one process-shared robust
 * mutex: the description of the machine the interposer answers stat and
 * size queries from without building it, the p2pmem pools' allocations,
 * and the counters processes add up as they exit.
 */
#ifndef HETMEM_INTERPOSE_RUN_H
#define HETMEM_INTERPOSE_RUN_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HI_ENV_RUN_DIR "HETMEM_RUN_DIR"
#define HI_ENV_PRELOAD "HETMEM_PRELOAD"

#define HI_MACHINE_FILE "machine.ini"
#define HI_STATE_FILE	"state"
#define HI_SYS_DIR	"sys"
#define HI_VIEW_DIR	"view"
#define HI_BAR_DIR	"bar"

#define HI_STATE_MAGIC	 0x3130534e55524d48ULL /* "HMRUNS01" */
#define HI_STATE_VERSION 1

#define HI_MAX_CTRL	8
#define HI_MAX_NS	16
#define HI_MAX_PROV	8
#define HI_MAX_CHUNKS	1024 /* live p2pmem allocations per provider */
#define HI_CHUNK_PIDS	8 /* processes mapping one allocation */
#define HI_MAX_LINKS	256
#define HI_MAX_RC	16
#define HI_LABEL_LEN	32
#define HI_QUEUE_DEPTH	64 /* commands per I/O queue the driver is asked for */
#define HI_BDF_LEN	16

/*
 * Device numbers /dev and sysfs give the machine's nodes. Namespaces take
 * block major 259 (blkext, where the kernel puts NVMe namespaces) from a
 * minor no real disk reaches; the character majors are from the range the
 * kernel hands out dynamically.
 */
#define HI_NVME_CHAR_MAJOR 242
#define HI_NVME_BLK_MAJOR  259
#define HI_NVME_BLK_MINOR0 0x10000
#define HI_HMM_CHAR_MAJOR  241
#define HI_HMM_MINORS	   2

/* The block device minor of namespace @nsid of controller instance @instance. */
static inline unsigned int hi_ns_minor(unsigned int instance, unsigned int nsid)
{
	return HI_NVME_BLK_MINOR0 + instance * 64 + nsid;
}

/**
 * struct hi_ns_desc - a namespace as the controller identified it
 * @nsid: namespace ID
 * @lba_shift: log2 of the LBA size
 * @size: bytes
 * @nuse: NUSE, in blocks
 * @image: its backing file (absolute)
 */
struct hi_ns_desc {
	uint32_t nsid;
	uint32_t lba_shift;
	uint64_t size;
	uint64_t nuse;
	char image[256];
};

/**
 * struct hi_smart_rec - SMART / Health counters of controller instances gone
 * @data_units_read: Data Units Read, in the log's units
 * @data_units_written: Data Units Written
 * @host_reads: Host Read Commands
 * @host_writes: Host Write Commands
 * @busy_minutes: Controller Busy Time
 * @power_cycles: Power Cycles (one per instance)
 * @unsafe_shutdowns: Unsafe Shutdowns
 * @media_errors: Media and Data Integrity Errors
 * @err_entries: Number of Error Information Log Entries
 *
 * SMART data is non-volatile on a real controller. Each interposed process
 * runs an instance of the controller of its own; what an instance counted
 * is added here when the process exits, and a SMART log read through the
 * interposer reports this record plus the live instance's counters.
 */
struct hi_smart_rec {
	uint64_t data_units_read;
	uint64_t data_units_written;
	uint64_t host_reads;
	uint64_t host_writes;
	uint64_t busy_minutes;
	uint64_t power_cycles;
	uint64_t unsafe_shutdowns;
	uint64_t media_errors;
	uint64_t err_entries;
};

/**
 * struct hi_ctrl_desc - an emulated NVMe controller
 * @label: its machine-config name
 * @bdf: its PCI address
 * @instance: N of /dev/nvmeN and /sys/class/nvme/nvmeN
 * @subsys: N of /sys/class/nvme-subsystem/nvme-subsysN
 * @nr_ns: active namespaces
 * @ns: them, in NSID order
 * @smart: counters of instances gone
 */
struct hi_ctrl_desc {
	char label[HI_LABEL_LEN];
	char bdf[HI_BDF_LEN];
	uint32_t instance;
	uint32_t subsys;
	uint32_t nr_ns;
	struct hi_ns_desc ns[HI_MAX_NS];
	struct hi_smart_rec smart;
};

/**
 * struct hi_chunk - one live allocation from a p2pmem pool
 * @off: offset in the pool (and in the BAR)
 * @len: bytes, a page multiple; 0 for a free slot
 * @pid: the processes mapping it (0: none); it goes back to the pool when
 *	 the last one unmaps it or dies
 */
struct hi_chunk {
	uint64_t off;
	uint64_t len;
	int32_t pid[HI_CHUNK_PIDS];
};

/**
 * struct hi_prov_desc - a p2pmem provider and its pool
 * @label: machine-config name
 * @bdf: PCI address
 * @bar: the BAR its pool covers (whole)
 * @size: the pool's size, the BAR's
 * @used: bytes allocated
 * @nr_chunks: slots in use at the front of @chunk
 * @chunk: allocations, by offset
 */
struct hi_prov_desc {
	char label[HI_LABEL_LEN];
	char bdf[HI_BDF_LEN];
	int32_t bar;
	uint64_t size;
	uint64_t used;
	uint32_t nr_chunks;
	struct hi_chunk chunk[HI_MAX_CHUNKS];
};

/**
 * struct hi_link_rec - traffic counted on one link, summed over processes
 * @label: the function's or port's name
 * @bdf: its address
 * @bytes: data bytes, [0] up (toward the root complex), [1] down
 * @tlps: requests, likewise
 */
struct hi_link_rec {
	char label[HI_LABEL_LEN];
	char bdf[HI_BDF_LEN];
	uint64_t bytes[2];
	uint64_t tlps[2];
};

/**
 * struct hi_rc_rec - traffic through one root complex, summed over processes
 * @label: the host bridge's name
 * @mem_bytes: bytes between devices and host memory, [0] written, [1] read
 * @p2p_bytes: peer-to-peer bytes through the root complex
 * @iommu_faults: DMAs the IOMMU blocked
 * @unsupported: requests nobody claimed
 */
struct hi_rc_rec {
	char label[HI_LABEL_LEN];
	uint64_t mem_bytes[2];
	uint64_t p2p_bytes;
	uint64_t iommu_faults;
	uint64_t unsupported;
};

/**
 * struct hi_state - the shared state of one run
 * @magic: HI_STATE_MAGIC
 * @version: HI_STATE_VERSION
 * @size: sizeof(struct hi_state) of the writer
 * @lock: process-shared, robust: protects everything below
 * @nr_ctrl: NVMe controllers
 * @nr_prov: p2pmem providers
 * @nr_links: functions and ports, in enumeration order
 * @nr_rc: host bridges
 * @processes: machine instances whose counters were added
 * @ctrl: the controllers
 * @prov: the providers
 * @link: the links
 * @rc: the root complexes
 */
struct hi_state {
	uint64_t magic;
	uint32_t version;
	uint32_t size;
	pthread_mutex_t lock;
	uint32_t nr_ctrl;
	uint32_t nr_prov;
	uint32_t nr_links;
	uint32_t nr_rc;
	uint64_t processes;
	struct hi_ctrl_desc ctrl[HI_MAX_CTRL];
	struct hi_prov_desc prov[HI_MAX_PROV];
	struct hi_link_rec link[HI_MAX_LINKS];
	struct hi_rc_rec rc[HI_MAX_RC];
};

/**
 * hi_state_init - initialise a state in memory (zeroes it, sets up the lock)
 * @st: the state, in a MAP_SHARED mapping
 *
 * Return: 0, or a negative errno from the mutex attributes.
 */
int hi_state_init(struct hi_state *st);

/**
 * hi_state_map - map a run directory's state file
 * @dir: the run directory
 *
 * Return: the state (MAP_SHARED), or ERR_PTR(-ENOENT) without a state file,
 * ERR_PTR(-EINVAL) for a file of another version or size, or the errno of
 * opening or mapping it.
 */
struct hi_state *hi_state_map(const char *dir);

/**
 * hi_state_create - create a run directory's state file and map it
 * @dir: the run directory
 *
 * Return: the state, initialised, or an ERR_PTR(-errno).
 */
struct hi_state *hi_state_create(const char *dir);

/**
 * hi_state_unmap - unmap a state
 * @st: the state, or NULL
 */
void hi_state_unmap(struct hi_state *st);

/**
 * hi_state_lock - take the state's lock
 * @st: the state
 *
 * A process that died holding it leaves it to the next taker, who marks it
 * consistent: every update under the lock leaves the state valid at each
 * step, so there is nothing to repair.
 */
void hi_state_lock(struct hi_state *st);

/** hi_state_unlock - release the state's lock */
void hi_state_unlock(struct hi_state *st);

/**
 * hi_pool_alloc - allocate from a provider's pool (state locked)
 * @p: the provider
 * @len: bytes, a page multiple
 * @pid: the process that maps it
 * @off: where the allocation starts in the pool
 *
 * First fit. When nothing fits, allocations whose processes are all gone
 * are reclaimed and the search is repeated.
 *
 * Return: 0, -EINVAL for a zero or unaligned @len, -ENOMEM when the pool
 * cannot satisfy it or has no free slot.
 */
int hi_pool_alloc(struct hi_prov_desc *p, uint64_t len, pid_t pid, uint64_t *off);

/**
 * hi_pool_put - a process stops mapping an allocation (state locked)
 * @p: the provider
 * @off: the allocation's offset
 * @pid: the process
 *
 * Return: 1 when the allocation went back to the pool, 0 when other
 * processes still map it, -ENOENT when @pid does not map it.
 */
int hi_pool_put(struct hi_prov_desc *p, uint64_t off, pid_t pid);

/**
 * hi_pool_share - one more process maps an allocation (state locked)
 * @p: the provider
 * @off: the allocation's offset
 * @pid: the process
 *
 * Return: 0, -ENOENT for no such allocation, -ENOSPC when it is mapped by
 * HI_CHUNK_PIDS processes already.
 */
int hi_pool_share(struct hi_prov_desc *p, uint64_t off, pid_t pid);

/**
 * hi_pool_reclaim - return allocations of processes that are gone (state locked)
 * @p: the provider
 *
 * Return: bytes returned to the pool.
 */
uint64_t hi_pool_reclaim(struct hi_prov_desc *p);

/**
 * hi_pool_drop_pid - a process is going away: forget its mappings (state locked)
 * @p: the provider
 * @pid: the process
 *
 * Return: bytes returned to the pool.
 */
uint64_t hi_pool_drop_pid(struct hi_prov_desc *p, pid_t pid);

/**
 * hi_fmt - snprintf that says whether the text fitted
 * @buf: where to
 * @len: its size
 * @fmt: printf format
 *
 * Return: 0, or -ENAMETOOLONG when the text was cut.
 */
int hi_fmt(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/**
 * hi_run_path - RUN/@rel into @buf
 * @buf: where to
 * @len: its size
 * @dir: the run directory
 * @rel: the relative path
 *
 * Return: 0, or -ENAMETOOLONG.
 */
int hi_run_path(char *buf, size_t len, const char *dir, const char *rel);

/**
 * hi_bar_file - the backing file of a provider's BAR, relative to the run directory
 * @buf: where to
 * @len: its size
 * @p: the provider
 *
 * Return: 0, or -ENAMETOOLONG.
 */
int hi_bar_file(char *buf, size_t len, const struct hi_prov_desc *p);

/**
 * hi_write_available - rewrite a provider's p2pmem/available file
 * @sysroot: the sysfs tree's root (RUN/sys)
 * @p: the provider (state locked, so the value is current)
 *
 * The file is a real file, so readers that are not interposed see the
 * value too.
 *
 * Return: 0, or a negative errno.
 */
int hi_write_available(const char *sysroot, const struct hi_prov_desc *p);

#endif /* HETMEM_INTERPOSE_RUN_H */
