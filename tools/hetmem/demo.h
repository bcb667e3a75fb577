/* SPDX-License-Identifier: MIT */
/*
 * hetmem demo: what the orchestration (cmd-demo.c) and its steps share.
 * Each step is a file of its own; it prints what it does, counts its
 * checks in struct demo and adds its line to the summary.
 *
 * A step whose subsystem is compiled out has a stub here that answers
 * -EOPNOTSUPP: the demo reports it as skipped, not failed.
 */
#ifndef HETMEM_TOOL_DEMO_H
#define HETMEM_TOOL_DEMO_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct machine;
struct pci_fabric;
struct pci_dev;
struct pci_host_bridge;
struct pci_link_stats;
struct pci_rc_stats;
struct demo_nvme;

#define DEMO_MAX_ROWS	16
#define DEMO_STEP_LEN	40
#define DEMO_FIGURE_LEN 96

/* How a step ended, as the summary shows it. */
enum demo_result {
	DEMO_OK,
	DEMO_FAILED,
	DEMO_SKIPPED,
};

/**
 * struct demo_row - one line of the summary
 * @step: what was done
 * @result: how it ended
 * @figure: the number that says how well, or why it was skipped
 */
struct demo_row {
	char step[DEMO_STEP_LEN];
	enum demo_result result;
	char figure[DEMO_FIGURE_LEN];
};

/**
 * struct demo - one run of the demo
 * @prog: "hetmem demo", for messages
 * @m: the machine
 * @f: its fabric
 * @dev: every function of the fabric, in enumeration order (demo_collect())
 * @nr_dev: entries in @dev
 * @hb: every host bridge, in the order added
 * @nr_hb: entries in @hb
 * @nvme: the NVMe controller and its driver (demo_nvme_probe()), or NULL
 * @corrupt: flip a bit of what the peer-to-peer read put in GPU memory
 *	     before verifying it (--corrupt): the check must catch it
 * @passed: checks that held
 * @failed: checks that did not
 * @row: the summary, in the order the steps ran
 * @nr_row: entries in @row
 */
struct demo {
	const char *prog;
	struct machine *m;
	struct pci_fabric *f;
	struct pci_dev **dev;
	size_t nr_dev;
	struct pci_host_bridge **hb;
	size_t nr_hb;
	struct demo_nvme *nvme;
	bool corrupt;
	unsigned int passed, failed;
	struct demo_row row[DEMO_MAX_ROWS];
	unsigned int nr_row;
};

/**
 * struct demo_counters - every counter of the fabric at one moment, or the
 *			  difference of two such moments
 * @link: per function, in demo.dev order
 * @rc: per host bridge, in demo.hb order
 */
struct demo_counters {
	struct pci_link_stats *link;
	struct pci_rc_stats *rc;
};

/**
 * struct demo_column - one transfer in the counter table
 * @title: its heading, such as "nvme0 -> gpu0"
 * @delta: what it moved
 */
struct demo_column {
	const char *title;
	const struct demo_counters *delta;
};

/* --- cmd-demo.c: checks and the summary ----------------------------------- */

/**
 * demo_check - print and count one check
 * @d: the demo
 * @ok: whether it held
 * @fmt: printf format of what was checked
 */
void demo_check(struct demo *d, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/**
 * demo_row - add a line to the summary
 * @d: the demo
 * @step: what was done (copied, cut at DEMO_STEP_LEN - 1 bytes)
 * @result: how it ended
 * @fmt: printf format of its figure
 *
 * Lines past DEMO_MAX_ROWS are dropped; a failure among them still counts.
 */
void demo_row(struct demo *d, const char *step, enum demo_result result, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/**
 * demo_result_since - whether the checks since a mark all held
 * @d: the demo
 * @mark: @d->failed when the step began
 *
 * Return: DEMO_OK, or DEMO_FAILED when a check failed since.
 */
static inline enum demo_result demo_result_since(const struct demo *d, unsigned int mark)
{
	return d->failed == mark ? DEMO_OK : DEMO_FAILED;
}

/**
 * demo_now - a monotonic clock, in seconds
 *
 * Return: the time.
 */
double demo_now(void);

/**
 * demo_gbps - a rate in GB/s (10^9 bytes per second)
 * @bytes: bytes moved
 * @seconds: in how long
 *
 * Return: the rate, 0 when @seconds is not positive.
 */
double demo_gbps(uint64_t bytes, double seconds);

/* --- demo-data.c: patterns and checksums ----------------------------------- */

/*
 * The device kernel of the HMM step: y = A * x + B over single-precision
 * floats that hold integers below 2^DEMO_KERNEL_BITS, so every result is
 * exact (below 2^24) and the CPU can say what each word must be.
 */
#define DEMO_KERNEL_A	 3u
#define DEMO_KERNEL_B	 1u
#define DEMO_KERNEL_BITS 22

/**
 * demo_pattern_fill - the demo's data for a range of a byte stream
 * @buf: where it goes, 8-byte aligned
 * @off: the stream offset of @buf[0], a multiple of 8
 * @len: bytes, a multiple of 8
 * @seed: which stream
 *
 * Every 64-bit word follows from @seed and its offset alone, so any range
 * can be produced again without keeping a copy, and no two words of a
 * stream (nor two streams) repeat each other.
 */
void demo_pattern_fill(void *buf, uint64_t off, size_t len, uint64_t seed);

/**
 * demo_checksum - a 64-bit checksum of a buffer
 * @buf: the data, 8-byte aligned
 * @len: bytes, a multiple of 8
 *
 * FNV-1a over 64-bit words: a flipped bit, a swapped word or a missing
 * one changes it.
 *
 * Return: the checksum.
 */
uint64_t demo_checksum(const void *buf, size_t len);

/* The checksum of nothing: where demo_checksum_continue() starts. */
#define DEMO_CHECKSUM_INIT 0xcbf29ce484222325ULL

/**
 * demo_checksum_continue - extend a checksum by the next part of the data
 * @sum: the checksum of what came before (DEMO_CHECKSUM_INIT for nothing)
 * @buf: the next part, 8-byte aligned
 * @len: bytes, a multiple of 8
 *
 * Return: the checksum of everything so far: over parts taken in order,
 * the same as demo_checksum() of the whole.
 */
uint64_t demo_checksum_continue(uint64_t sum, const void *buf, size_t len);

/**
 * demo_checksum_combine - the checksum of a sequence of chunk checksums
 * @sum: per chunk, in order
 * @n: how many
 *
 * Return: one checksum standing for the whole sequence.
 */
uint64_t demo_checksum_combine(const uint64_t *sum, size_t n);

/**
 * demo_kernel_fill - the HMM step's input for a range of its buffer
 * @buf: where it goes, 8-byte aligned
 * @off: the buffer offset of @buf[0], a multiple of 8
 * @len: bytes, a multiple of 8
 * @seed: which stream
 *
 * Floats holding integers below 2^DEMO_KERNEL_BITS, each following from
 * @seed and its offset alone (demo_pattern_fill()).
 */
void demo_kernel_fill(void *buf, uint64_t off, size_t len, uint64_t seed);

/**
 * demo_kernel_ref - the device kernel, computed by the CPU
 * @buf: floats from demo_kernel_fill(), 4-byte aligned
 * @len: bytes, a multiple of 4
 *
 * y = DEMO_KERNEL_A * x + DEMO_KERNEL_B in place, in single precision
 * (exact for these inputs): what the HMM step expects of the device, and
 * how a device without a compute engine of its own runs it.
 */
void demo_kernel_ref(void *buf, size_t len);

/* Where demo_fnv1a() starts: the GPU's FNV offset basis. */
#define DEMO_FNV1A_INIT 0xcbf29ce484222325ULL

/**
 * demo_fnv1a - extend a byte-wise 64-bit FNV-1a hash
 * @h: the hash so far (DEMO_FNV1A_INIT for nothing)
 * @buf: the next bytes
 * @len: how many
 *
 * The hash the emulated GPU's checksum kernel computes (GPU_KERNEL_CHECKSUM):
 * for each byte h ^= byte, h *= 0x100000001b3.
 *
 * Return: the hash of everything so far.
 */
uint64_t demo_fnv1a(uint64_t h, const void *buf, size_t len);

/* --- demo-progress.c: a progress bar -------------------------------------- */

/**
 * struct demo_progress - the progress of one transfer
 * @label: what is moving, as printed before the bar
 * @total: bytes to move
 * @tty: standard output is a terminal: redraw one bar in place
 * @shown: the last percentage (terminal) or quarter (plain lines) printed
 * @start: demo_now() at demo_progress_start()
 */
struct demo_progress {
	const char *label;
	uint64_t total;
	bool tty;
	int shown;
	double start;
};

/**
 * demo_progress_start - begin showing a transfer
 * @p: the progress
 * @label: what moves (static storage)
 * @total: bytes to move
 *
 * On a terminal a bar is redrawn in place as the transfer goes; otherwise
 * a plain line is printed at every quarter.
 */
void demo_progress_start(struct demo_progress *p, const char *label, uint64_t total);

/**
 * demo_progress_update - say how far the transfer is
 * @p: the progress
 * @done: bytes moved so far
 */
void demo_progress_update(struct demo_progress *p, uint64_t done);

/**
 * demo_progress_end - finish the bar with its rate
 * @p: the progress
 * @done: bytes moved in the end
 * @seconds: how long it took
 */
void demo_progress_end(struct demo_progress *p, uint64_t done, double seconds);

/* --- demo-counters.c: where data went -------------------------------------- */

/**
 * demo_collect - list the fabric's functions and host bridges in @d
 * @d: the demo, its machine loaded
 *
 * Return: 0, or -ENOMEM (demo_release() still frees what was taken).
 */
int demo_collect(struct demo *d);

/**
 * demo_release - free what demo_collect() allocated
 * @d: the demo
 */
void demo_release(struct demo *d);

/**
 * demo_counters_alloc - room for a snapshot of every counter
 * @d: the demo, collected
 * @c: the snapshot, zeroed
 *
 * Return: 0, or -ENOMEM with nothing allocated.
 */
int demo_counters_alloc(const struct demo *d, struct demo_counters *c);

/**
 * demo_counters_free - free a snapshot (of NULLs, too)
 * @c: the snapshot
 */
void demo_counters_free(struct demo_counters *c);

/**
 * demo_counters_read - take a snapshot
 * @d: the demo
 * @c: where it goes
 */
void demo_counters_read(const struct demo *d, struct demo_counters *c);

/**
 * demo_counters_sub - what moved between two snapshots
 * @d: the demo
 * @after: the later snapshot; becomes @after - @before
 * @before: the earlier one
 */
void demo_counters_sub(const struct demo *d, struct demo_counters *after,
		       const struct demo_counters *before);

/**
 * demo_link - a function's link counters in a snapshot
 * @d: the demo
 * @c: the snapshot
 * @dev: the function
 *
 * Return: the counters, or zeroes for a function not in the fabric.
 */
const struct pci_link_stats *demo_link(const struct demo *d, const struct demo_counters *c,
				       const struct pci_dev *dev);

/**
 * demo_rc - a root complex's counters in a snapshot
 * @d: the demo
 * @c: the snapshot
 * @hb: its host bridge, or NULL
 *
 * Return: the counters, or zeroes for NULL or a host bridge not in the fabric.
 */
const struct pci_rc_stats *demo_rc(const struct demo *d, const struct demo_counters *c,
				   const struct pci_host_bridge *hb);

/**
 * demo_rc_bytes - every byte through every root complex in a snapshot
 * @d: the demo
 * @c: the snapshot
 *
 * Return: peer-to-peer bytes plus bytes to and from host memory, summed.
 */
uint64_t demo_rc_bytes(const struct demo *d, const struct demo_counters *c);

/**
 * demo_root_port_of - the port on the root bus a function is below
 * @dev: the function
 *
 * Return: the root port, or NULL for a function on the root bus.
 */
struct pci_dev *demo_root_port_of(struct pci_dev *dev);

/**
 * demo_print_counters - the bytes each transfer moved, link by link
 * @d: the demo
 * @col: one column pair (up, down) per transfer
 * @nr_col: how many
 *
 * One row per link, indented by depth; then per root complex its
 * peer-to-peer and host memory bytes.
 */
void demo_print_counters(const struct demo *d, const struct demo_column *col, unsigned int nr_col);

/* --- the steps ------------------------------------------------------------- */

#ifdef CONFIG_PCI_P2PDMA
/**
 * demo_p2p_matrix - the peer-to-peer providers and map-type step
 * @d: the demo, its GPUs already made providers (cli_p2p_add_providers())
 *
 * Lists every provider with its pool, then the distance and map type from
 * every provider to every endpoint, with the kernel's reason under every
 * entry that is not BUS_ADDR, and adds its summary line. Nothing is
 * checked.
 *
 * Return: 0, or -ENOMEM, -EIO (a p2pmem attribute that does not parse);
 * the step has printed the reason.
 */
int demo_p2p_matrix(struct demo *d);
#else
static inline int demo_p2p_matrix(struct demo *d)
{
	return -EOPNOTSUPP;
}
#endif

#if defined(CONFIG_PCI_P2PDMA) && defined(CONFIG_NVME_HOST) && defined(CONFIG_NVME_EMU)
/**
 * demo_nvme_probe - bring up the NVMe driver on the machine's controller
 * @d: the demo; @d->nvme is set on success
 *
 * Takes the first emulated NVMe controller of the machine, gives it the
 * emulated transport, probes the host driver on it (which enables its
 * controller memory buffer and may publish it as p2pmem), allocates an I/O
 * queue pair and prints what the driver found.
 *
 * Return: 0, -ENODEV when the machine has no emulated NVMe controller or
 * it has no namespace, or the error of the transport, the probe or the
 * queue pair (-ENOMEM, -ETIMEDOUT, -EIO, ...); the step has printed why.
 */
int demo_nvme_probe(struct demo *d);

/**
 * demo_nvme_remove - shut the controller down and free the driver's state
 * @d: the demo; @d->nvme may be NULL
 */
void demo_nvme_remove(struct demo *d);

/**
 * demo_nvme_read - the NVMe-into-GPU-memory step, and the bounce path
 * @d: the demo, its GPUs providers and its controller probed
 * @len: bytes to read (clamped to the namespace and the GPU's free p2pmem)
 *
 * Writes a pattern to the namespace through the driver from system
 * memory; reads it with queue depth > 1 straight into p2pmem of the GPU
 * closest to the controller and checks the checksum of what landed
 * there; does the same through system memory and a CPU copy (the bounce
 * path); prints both rates, the bytes every link and root complex moved
 * for each transfer, and checks that the direct read took the path its
 * map type says (on the default machine: switch-local, never through the
 * root complex) while the bounce path went through host memory.
 *
 * Return: 0 when the step ran (its checks counted in @d), -ENODEV when
 * the machine has no GPU p2pmem, -ENOSPC when the GPU has no free
 * p2pmem, -ENOMEM, or an I/O error of the driver; the step has printed
 * why.
 */
int demo_nvme_read(struct demo *d, size_t len);
#else
static inline int demo_nvme_probe(struct demo *d)
{
	return -EOPNOTSUPP;
}

static inline void demo_nvme_remove(struct demo *d)
{
}

static inline int demo_nvme_read(struct demo *d, size_t len)
{
	return -EOPNOTSUPP;
}
#endif

#if defined(CONFIG_HMM_MIRROR) && defined(CONFIG_DEVICE_PRIVATE) && defined(CONFIG_ZONE_DEVICE)
/**
 * demo_hmm - the device-private memory step
 * @d: the demo
 * @len: bytes of the buffer, a multiple of the page size
 *
 * Fills a malloc'd buffer with the CPU, migrates it into a device's
 * private memory, runs a device kernel over it there, touches it from the
 * CPU so that it faults back, verifies every byte and prints timings and
 * fault counts (demo-hmm.c; the device behind it is a struct
 * demo_hmm_device: the machine's first emulated GPU with CONFIG_GPU_HOST,
 * the HMM test device without).
 *
 * Without userfaultfd (not allowed here, or a kernel without its
 * write-protect and events), or under Valgrind, where a CPU fault on
 * registered memory is never served, or on a machine without an emulated
 * GPU (CONFIG_GPU_HOST), the step says why and is skipped.
 *
 * Return: 0 when the step ran (its checks counted in @d) or was skipped,
 * -ENOMEM, or the error of the device (creating it, migrating, running
 * the kernel); the step has printed why.
 */
int demo_hmm(struct demo *d, size_t len);
#else
static inline int demo_hmm(struct demo *d, size_t len)
{
	return -EOPNOTSUPP;
}
#endif

/* --- the device the HMM step runs on --------------------------------------- */

/**
 * struct demo_hmm_stats - what a device did
 * @device_faults: device page faults its commands raised
 * @cpu_faults: CPU faults on its pages it served (migrate_to_ram())
 * @prefetched: pages it brought home ahead of a fault
 */
struct demo_hmm_stats {
	uint64_t device_faults;
	uint64_t cpu_faults;
	uint64_t prefetched;
};

/**
 * struct demo_hmm_device - a device with private memory that mirrors the
 *			    process, as the HMM step uses it
 * @name: what the output calls it
 * @note: one line on how it runs the kernel, or NULL
 * @open: bind to the machine's device and mirror the calling process;
 *	  Return: the device's state, or an ERR_PTR (-EPERM or -ENOSYS: no
 *	  userfaultfd here; -ENODEV: the machine has no such device)
 * @close: stop mirroring and free it (its pages are evicted home first)
 * @migrate: move [@buf, @buf + @len) into its private memory; *@pages
 *	     counts those that moved. Return: 0 or a negative errno.
 * @kernel: run the device kernel (demo_kernel_ref()) over [@buf, @buf +
 *	    @len) where the data is; *@in_sum is demo_fnv1a() of the input
 *	    as the device read it, *@out_sum of the result as the device
 *	    wrote it. Return: 0 or a negative errno.
 * @resident: how many pages of [@buf, @buf + @len) are in its private
 *	      memory, looked up without faulting. Return: the count or a
 *	      negative errno.
 * @stats: its counters since open
 * @report: print what its driver did since open, or NULL
 *
 * The emulated GPU's driver (demo-hmm-gpu.c) is one, with real kernel
 * launches; the HMM test device (demo-hmm-dmirror.c) is the other, for
 * builds without the GPU driver.
 */
struct demo_hmm_device {
	const char *name;
	const char *note;
	void *(*open)(struct demo *d);
	void (*close)(void *dev);
	int (*migrate)(void *dev, void *buf, size_t len, uint64_t *pages);
	int (*kernel)(void *dev, void *buf, size_t len, uint64_t *in_sum, uint64_t *out_sum);
	long (*resident)(void *dev, void *buf, size_t len);
	void (*stats)(void *dev, struct demo_hmm_stats *s);
	void (*report)(void *dev);
};

#if defined(CONFIG_HMM_MIRROR) && defined(CONFIG_DEVICE_PRIVATE) && defined(CONFIG_ZONE_DEVICE)
/* The HMM test device (include/hetmem/hmm-dmirror.h). */
extern const struct demo_hmm_device demo_hmm_dmirror;
#endif

#ifdef CONFIG_GPU_HOST
/* The emulated GPU's driver on the machine's first GPU (include/hetmem/gpu.h). */
extern const struct demo_hmm_device demo_hmm_gpu;
#endif

#endif /* HETMEM_TOOL_DEMO_H */
