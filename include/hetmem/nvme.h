/* SPDX-License-Identifier: MIT */
/*
 * The NVMe host driver.
 *
 * It reaches its controller through a transport: register access, DMA
 * mapping and interrupt waits. The emulated transport drives a controller
 * on the fabric (nvme_transport_emu()); a platform transport drives a real
 * PCI function. Nothing else in the driver knows which it has.
 */
#ifndef HETMEM_NVME_H
#define HETMEM_NVME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hetmem/dma-mapping.h>
#include <hetmem/nvme-spec.h>

struct pci_dev;
struct nvme_ctrl;
struct nvme_qpair;

/**
 * struct nvme_transport_ops - how the driver reaches a controller
 * @reg_read32: read a 32-bit BAR0 register
 * @reg_read64: read a 64-bit BAR0 register (CAP, ASQ, ACQ, CMBMSC)
 * @reg_write32: write a 32-bit BAR0 register or doorbell; memory writes the
 *		 driver made before the call are visible to the controller
 *		 before the register write is (the kernel's writel()
 *		 ordering: a real transport issues a write barrier first)
 * @reg_write64: write a 64-bit BAR0 register (low dword first), ordered
 *		 the same way
 * @dma_map: make [@buf, @buf + @len) reachable by the controller; the DMA
 *	     address is stored in @dma. Returns 0 or a negative errno
 *	     (-EREMOTEIO: P2P memory the controller cannot reach).
 * @dma_unmap: undo @dma_map
 * @alloc_coherent: @len bytes of zeroed, page-aligned memory the driver
 *		    and controller share (queues, PRP lists); returns the CPU
 *		    pointer and stores the DMA address, or NULL
 * @free_coherent: free it
 * @irq_wait: wait up to @timeout_ms for an interrupt on @vector; returns
 *	      1 when one arrived, 0 on timeout, a negative errno on error
 * @pdev: the PCI function, for P2PDMA registration (NULL when none)
 * @bar_map: the CPU mapping of memory BAR @bar and its length in @len, or
 *	     NULL when the CPU cannot map it (a register BAR, or none). The
 *	     driver places submission queues in the controller memory buffer
 *	     through it.
 * @bar_bus_address: the bus address BAR @bar is programmed at, 0 when it is
 *		     unimplemented: what the controller memory buffer's
 *		     CMBMSC.CBA must hold (NVMe 1.4)
 *
 * @bar_map and @bar_bus_address may be NULL: the driver then leaves the
 * controller memory buffer alone.
 */
struct nvme_transport_ops {
	uint32_t (*reg_read32)(void *t, uint32_t off);
	uint64_t (*reg_read64)(void *t, uint32_t off);
	void (*reg_write32)(void *t, uint32_t off, uint32_t val);
	void (*reg_write64)(void *t, uint32_t off, uint64_t val);
	int (*dma_map)(void *t, void *buf, size_t len, enum dma_data_direction dir,
		       dma_addr_t *dma);
	void (*dma_unmap)(void *t, dma_addr_t dma, size_t len, enum dma_data_direction dir);
	void *(*alloc_coherent)(void *t, size_t len, dma_addr_t *dma);
	void (*free_coherent)(void *t, void *cpu, size_t len, dma_addr_t dma);
	int (*irq_wait)(void *t, unsigned int vector, int timeout_ms);
	struct pci_dev *(*pdev)(void *t);
	void *(*bar_map)(void *t, int bar, uint64_t *len);
	uint64_t (*bar_bus_address)(void *t, int bar);
};

/**
 * struct nvme_transport - a transport instance
 * @ops: its operations
 * @priv: passed to every operation
 * @dma_seg_max: the longest virtually contiguous range @ops->dma_map is
 *		 asked to map as one DMA segment, a power of two of at least
 *		 4096; 0 for no limit. Behind an IOMMU (the emulated platform)
 *		 any range maps to one contiguous IOVA range: 0. Without one
 *		 (physical addresses from /proc/self/pagemap) only a page, or a
 *		 huge page, is contiguous: 4096. The driver then maps a buffer
 *		 page by page and describes it with a PRP list or an SGL of
 *		 several data blocks. Tests set it to exercise those paths.
 */
struct nvme_transport {
	const struct nvme_transport_ops *ops;
	void *priv;
	size_t dma_seg_max;
};

/**
 * nvme_transport_emu_init - a transport for an emulated controller
 * @t: the transport to fill in
 * @pdev: the controller's function (nvme_emu_pdev()), on an enumerated
 *	  fabric
 *
 * Registers are reached with pci_mmio_read()/pci_mmio_write() on BAR0, a
 * 64-bit register as two 32-bit accesses, low dword first (all that PCIe
 * hardware guarantees); DMA mappings come from the DMA layer, so P2P
 * memory resolves to a bus address or an IOVA by its map type; interrupts
 * are the controller's per-vector eventfds. Turns bus mastering on.
 *
 * Return: 0, -EINVAL when @pdev is not an emulated NVMe controller,
 * -ENOMEM.
 */
int nvme_transport_emu_init(struct nvme_transport *t, struct pci_dev *pdev);

/**
 * nvme_transport_emu_fini - release what nvme_transport_emu_init() set up
 * @t: the transport; the controller driven through it must be removed
 */
void nvme_transport_emu_fini(struct nvme_transport *t);

/**
 * nvme_transport_sysfs_init - a transport for a real PCI NVMe function
 * @t: the transport to fill in
 * @root: the sysfs devices directory (PCI_SYSFS_ROOT)
 * @bdf: the controller's address, "dddd:bb:dd.f"
 *
 * Registers through the resource0 mapping; DMA by physical address from
 * /proc/self/pagemap (no IOMMU or passthrough), page by page
 * (@t->dma_seg_max is 4096); coherent memory from a locked 2 MiB pool (a
 * hugepage when available, else nothing over 4 KiB); no interrupts: the
 * driver polls. Turns on memory decode and bus mastering.
 *
 * Return: 0, -ENOENT for no such function, -EACCES/-EPERM without root,
 * -ENOMEM, or the errno of mapping BAR0.
 */
int nvme_transport_sysfs_init(struct nvme_transport *t, const char *root, const char *bdf);

/**
 * nvme_transport_sysfs_add_peer - let the controller DMA into another BAR
 * @t: a sysfs transport
 * @va: the CPU mapping of the peer's BAR (or part of it)
 * @bus: its bus address
 * @len: its length
 *
 * Buffers inside [@va, @va + @len) then map to bus addresses in the peer's
 * BAR: peer-to-peer DMA.
 *
 * Return: 0, or -ENOSPC when four peers are registered already.
 */
int nvme_transport_sysfs_add_peer(struct nvme_transport *t, void *va, uint64_t bus, size_t len);

/**
 * nvme_transport_sysfs_fini - release what nvme_transport_sysfs_init() set up
 * @t: the transport; the controller driven through it must be removed
 */
void nvme_transport_sysfs_fini(struct nvme_transport *t);

/* --- the driver ------------------------------------------------------------- */

/*
 * Return values. Functions that run an NVMe command return 0 on success, a
 * negative errno when the command could not be run or did not complete
 * (-ETIMEDOUT: timed out and aborted; -EIO: failed by a controller reset;
 * -ENODEV: the controller is dead), or a positive NVMe status when the
 * controller completed it with an error: the completion's status field
 * shifted right by one (phase tag dropped), so bits 7:0 are the status
 * code, 10:8 the status code type, 13 More and 14 DNR, as the values in
 * <hetmem/nvme-spec.h>. That is exactly what the kernel's
 * NVME_IOCTL_ADMIN_CMD and NVME_IOCTL_IO_CMD return.
 */

/**
 * struct nvme_ctrl_opts - how to drive a controller (zero fields: defaults)
 * @io_queue_depth: commands in flight per I/O queue pair (0: 64); capped by
 *		    CAP.MQES and 4095
 * @timeout_ms: how long a command may take before it is aborted (0: 30000;
 *	        measured from submission, to within a clock tick)
 * @max_transfer: bytes per command (0: 1 MiB); capped by MDTS. Larger
 *		  reads and writes are split.
 * @max_io_queues: I/O queue pairs asked for with Set Features Number of
 *		   Queues (0: 64); the controller may grant fewer
 * @use_irq: wait for completions on the CQ's interrupt vector instead of
 *	     polling
 * @use_sgl: describe I/O data with SGLs when the controller supports them
 *	     (Identify SGLS); admin commands always use PRPs (sec. 4.3)
 * @sq_in_cmb: place I/O submission queues in the controller memory buffer
 *	       when CMBSZ.SQS allows it
 */
struct nvme_ctrl_opts {
	unsigned int io_queue_depth;
	unsigned int timeout_ms;
	size_t max_transfer;
	unsigned int max_io_queues;
	bool use_irq;
	bool use_sgl;
	bool sq_in_cmb;
};

/**
 * struct nvme_ctrl_stats - what the driver had to do (counters since probe)
 * @bounced_ios: commands whose data went through a bounce buffer: the
 *		 controller cannot reach the caller's P2P memory (map type
 *		 NOT_SUPPORTED), or the buffer's alignment cannot be described
 *		 with PRPs or the controller's SGLs
 * @split_ios: reads and writes split because they exceeded the largest
 *	       transfer
 * @timeouts: commands that timed out
 * @aborts: Abort commands sent
 * @resets: controller resets
 * @reset_failed: commands failed with -EIO by a reset
 */
struct nvme_ctrl_stats {
	uint64_t bounced_ios;
	uint64_t split_ios;
	uint64_t timeouts;
	uint64_t aborts;
	uint64_t resets;
	uint64_t reset_failed;
};

/**
 * struct nvme_ns - an active namespace (read only for callers)
 * @ctrl: its controller
 * @nsid: namespace ID
 * @lba_shift: log2 of the logical block size
 * @nr_blocks: size in logical blocks (NSZE)
 * @size: size in bytes
 * @ms: metadata bytes per block of the format in use (the driver transfers
 *	none: such namespaces are listed but reads and writes fail -EINVAL)
 * @id: the Identify Namespace data
 */
struct nvme_ns {
	struct nvme_ctrl *ctrl;
	uint32_t nsid;
	unsigned int lba_shift;
	uint64_t nr_blocks;
	uint64_t size;
	unsigned int ms;
	struct nvme_id_ns *id;
};

/**
 * struct nvme_cmb_info - the controller memory buffer as the driver set it up
 * @size: bytes (0: no CMB in use)
 * @bar: the BAR it is in (CMBLOC.BIR)
 * @offset: its offset in the BAR
 * @bus_addr: its bus address (what CMBMSC.CBA was programmed with)
 * @cmbsz: the CMBSZ register
 * @p2p: registered as P2PDMA memory of the function
 * @published: published as p2pmem (CMBSZ has both RDS and WDS)
 * @sqs: I/O submission queues are placed in it
 */
struct nvme_cmb_info {
	uint64_t size;
	int bar;
	uint64_t offset;
	uint64_t bus_addr;
	uint32_t cmbsz;
	bool p2p;
	bool published;
	bool sqs;
};

/**
 * nvme_ctrl_probe - bring a controller up
 * @t: the transport; must outlive the controller
 * @opts: options, or NULL for the defaults
 *
 * Disables the controller first when firmware left it enabled (CC.EN=1:
 * clear it and wait for CSTS.RDY=0, CAP.TO), programs the admin queue,
 * enables it with 4 KiB pages, 64-byte SQ and 16-byte CQ entries and the
 * NVM command set, waits for CSTS.RDY (CAP.TO), identifies the controller,
 * asks for I/O queues, enables the controller memory buffer (and registers
 * it as P2PDMA memory) when there is one, and identifies the active
 * namespaces. I/O queue pairs are created by nvme_qpair_alloc().
 *
 * Return: the controller, or ERR_PTR(-EINVAL) for bad options,
 * ERR_PTR(-ENODEV) when the registers read all ones or CAP lacks the NVM
 * command set or 4 KiB pages, ERR_PTR(-ETIMEDOUT) when CSTS.RDY does not
 * follow CC.EN within CAP.TO, ERR_PTR(-EIO) when the controller reports a
 * fatal status (CSTS.CFS), ERR_PTR of a failed admin command's status
 * mapped to -EIO, ERR_PTR(-ENOMEM).
 */
struct nvme_ctrl *nvme_ctrl_probe(struct nvme_transport *t, const struct nvme_ctrl_opts *opts);

/**
 * nvme_ctrl_remove - shut a controller down cleanly and free it
 * @ctrl: the controller, or NULL
 *
 * Frees the queue pairs still allocated (their owners must have stopped
 * using them), deletes the I/O queues, sets CC.SHN to normal shutdown and
 * waits for CSTS.SHST to report it complete, so that the controller can
 * flush its volatile write cache; then takes the controller memory buffer
 * out of P2PDMA, which waits until every p2pmem allocation from it is
 * freed (as device removal does in the kernel).
 */
void nvme_ctrl_remove(struct nvme_ctrl *ctrl);

/**
 * nvme_ctrl_reset - reset a controller and resume
 * @ctrl: the controller
 *
 * What the driver does itself when a command times out and its Abort does
 * not finish it: quiesce every queue pair, disable the controller (CC.EN=0,
 * wait CSTS.RDY=0), fail every outstanding command with -EIO (their
 * callbacks run on their queue pair's owner at its next call), enable it
 * again and recreate the I/O queues.
 *
 * Return: 0, or the errno that left the controller dead (-ETIMEDOUT, -EIO);
 * -ENODEV when it already was.
 */
int nvme_ctrl_reset(struct nvme_ctrl *ctrl);

/**
 * nvme_ctrl_identify - the Identify Controller data read at probe
 * @ctrl: the controller
 *
 * Return: the data (MDTS, SGLS, VWC, ONCS, SN, MN, ...).
 */
const struct nvme_id_ctrl *nvme_ctrl_identify(const struct nvme_ctrl *ctrl);

/**
 * nvme_ctrl_cap - the CAP register read at probe
 * @ctrl: the controller
 *
 * Return: CAP.
 */
uint64_t nvme_ctrl_cap(const struct nvme_ctrl *ctrl);

/**
 * nvme_ctrl_max_transfer - the largest transfer of one command, in bytes
 * @ctrl: the controller
 *
 * Return: the smaller of the option and MDTS.
 */
size_t nvme_ctrl_max_transfer(const struct nvme_ctrl *ctrl);

/**
 * nvme_ctrl_uses_sgl - whether I/O data is described with SGLs
 * @ctrl: the controller
 *
 * Return: true when asked for and the controller supports SGLs.
 */
bool nvme_ctrl_uses_sgl(const struct nvme_ctrl *ctrl);

/**
 * nvme_ctrl_nr_io_queues - I/O queue pairs the controller granted
 * @ctrl: the controller
 *
 * Return: the number.
 */
unsigned int nvme_ctrl_nr_io_queues(const struct nvme_ctrl *ctrl);

/**
 * nvme_ctrl_cmb - how the controller memory buffer is set up
 * @ctrl: the controller
 * @info: the answer (size 0 when none is in use)
 */
void nvme_ctrl_cmb(const struct nvme_ctrl *ctrl, struct nvme_cmb_info *info);

/**
 * nvme_ctrl_get_stats - the driver's counters
 * @ctrl: the controller
 * @stats: the counters
 */
void nvme_ctrl_get_stats(const struct nvme_ctrl *ctrl, struct nvme_ctrl_stats *stats);

/**
 * nvme_ctrl_nr_ns - how many active namespaces were found
 * @ctrl: the controller
 *
 * Return: the number.
 */
unsigned int nvme_ctrl_nr_ns(const struct nvme_ctrl *ctrl);

/**
 * nvme_ctrl_ns - an active namespace by ID
 * @ctrl: the controller
 * @nsid: its ID
 *
 * Return: the namespace (valid until nvme_ctrl_remove()), or NULL.
 */
struct nvme_ns *nvme_ctrl_ns(struct nvme_ctrl *ctrl, uint32_t nsid);

/**
 * nvme_ctrl_ns_at - the @i-th active namespace, in NSID order
 * @ctrl: the controller
 * @i: index, below nvme_ctrl_nr_ns()
 *
 * Return: the namespace, or NULL.
 */
struct nvme_ns *nvme_ctrl_ns_at(struct nvme_ctrl *ctrl, unsigned int i);

/**
 * nvme_qpair_alloc - create an I/O queue pair for the calling thread
 * @ctrl: the controller
 *
 * A queue pair belongs to one thread at a time: submission and completion
 * on it take no lock (a thread that wants I/O allocates its own; that is
 * how the driver scales with threads). Its submission and completion
 * queues, its request slots, their PRP/SGL list pages and bounce buffers
 * are allocated here, so nothing is allocated per command.
 *
 * Return: the queue pair, or ERR_PTR(-EBUSY) when every I/O queue the
 * controller granted is in use, ERR_PTR(-ENODEV) when the controller is
 * dead, ERR_PTR(-EIO) when Create I/O CQ/SQ failed, ERR_PTR(-ETIMEDOUT),
 * ERR_PTR(-ENOMEM).
 */
struct nvme_qpair *nvme_qpair_alloc(struct nvme_ctrl *ctrl);

/**
 * nvme_qpair_free - delete an I/O queue pair
 * @qp: the queue pair, or NULL
 *
 * Commands still outstanding are given until the timeout to complete;
 * Delete I/O SQ then aborts the rest, which complete with the controller's
 * status or -EIO. Their callbacks run before this returns.
 */
void nvme_qpair_free(struct nvme_qpair *qp);

/**
 * nvme_qpair_id - the queue ID of a queue pair
 * @qp: the queue pair
 *
 * Return: the QID (1 and up).
 */
unsigned int nvme_qpair_id(const struct nvme_qpair *qp);

/**
 * nvme_qpair_outstanding - commands submitted and not yet completed
 * @qp: the queue pair
 *
 * Return: the number.
 */
unsigned int nvme_qpair_outstanding(const struct nvme_qpair *qp);

/**
 * typedef nvme_io_cb - called when an asynchronous command completes
 * @arg: the argument given at submission
 * @status: 0, a negative errno or a positive NVMe status (see above)
 *
 * Runs on the queue pair's owner, inside nvme_qpair_process_completions()
 * (or a synchronous call on the same queue pair). It may submit more
 * commands on the same queue pair (their doorbell is rung once, when the
 * reaping call returns). It must not reap or free that queue pair, run
 * admin commands or reset the controller: a reset waits for the queue pair
 * the callback runs in.
 */
typedef void (*nvme_io_cb)(void *arg, int status);

/**
 * nvme_qpair_process_completions - reap completions of a queue pair
 * @qp: the queue pair
 * @max: the most to reap, 0 for all there are
 *
 * Polls the completion queue (it does not wait, even with interrupts on),
 * runs the callbacks of completed commands, and notices commands past
 * their timeout (Abort, then reset).
 *
 * Return: how many commands completed, or -ENODEV when the controller is
 * dead and nothing was outstanding.
 */
int nvme_qpair_process_completions(struct nvme_qpair *qp, unsigned int max);

/**
 * nvme_qpair_wait - wait for completions on a queue pair
 * @qp: the queue pair
 * @timeout_ms: the most to wait; -1 for no limit
 *
 * Waits on the CQ's interrupt vector with interrupts on, or polls (yielding
 * the CPU between polls) without, until a command completes.
 *
 * Return: how many completed (0 on timeout or when none is outstanding),
 * or -ENODEV.
 */
int nvme_qpair_wait(struct nvme_qpair *qp, int timeout_ms);

/**
 * nvme_admin_cmd - run an admin command and wait for it
 * @ctrl: the controller
 * @cmd: the command; its command ID and data pointer are filled in by the
 *	 driver (the caller's copy is not changed)
 * @buf: data, or NULL
 * @len: bytes of data, at most nvme_ctrl_max_transfer()
 * @dir: DMA_TO_DEVICE, DMA_FROM_DEVICE, or DMA_NONE without data
 * @result: if not NULL, completion dword 0
 *
 * Admin commands are serialised by the controller's admin lock.
 *
 * Return: 0, a positive NVMe status, or -EINVAL (@len too big, or data
 * without a direction), -EREMOTEIO/-EINVAL/-ENOSPC/-ENOMEM from mapping
 * @buf, -ETIMEDOUT, -EIO, -ENODEV.
 */
int nvme_admin_cmd(struct nvme_ctrl *ctrl, const struct nvme_command *cmd, void *buf, size_t len,
		   enum dma_data_direction dir, uint32_t *result);

/**
 * nvme_io_cmd - run an I/O command on a queue pair and wait for it
 * @qp: the queue pair (the caller's)
 * @cmd: the command; command ID, data pointer and PSDT are filled in
 * @buf: data (system or P2P memory), or NULL
 * @len: bytes, at most nvme_ctrl_max_transfer()
 * @dir: DMA_TO_DEVICE, DMA_FROM_DEVICE, or DMA_NONE without data
 * @result: if not NULL, completion dword 0
 *
 * Return: as nvme_admin_cmd().
 */
int nvme_io_cmd(struct nvme_qpair *qp, const struct nvme_command *cmd, void *buf, size_t len,
		enum dma_data_direction dir, uint32_t *result);

/*
 * The block interface. Buffers may be system memory or P2P memory (from
 * pci_alloc_p2pmem() of any provider): the DMA layer gives the controller a
 * bus address or an IOVA as the topology allows, and when it cannot reach
 * the memory at all the driver bounces the data through system memory
 * (counted in nvme_ctrl_stats.bounced_ios). Transfers larger than
 * nvme_ctrl_max_transfer() are split. Buffers must be 4-byte aligned
 * unless SGLs are in use.
 */

/**
 * nvme_read - read @nlb blocks from @slba into @buf
 * @ns: the namespace
 * @qp: the caller's queue pair
 * @buf: at least @nlb << @ns->lba_shift bytes
 * @slba: first block
 * @nlb: number of blocks (not 0-based)
 *
 * Return: 0, a positive NVMe status (NVME_SC_LBA_RANGE, ...), -EINVAL (no
 * blocks, a namespace with metadata), mapping errors, -ETIMEDOUT, -EIO,
 * -ENODEV.
 */
int nvme_read(struct nvme_ns *ns, struct nvme_qpair *qp, void *buf, uint64_t slba, uint32_t nlb);

/**
 * nvme_write - write @nlb blocks from @buf at @slba
 * @ns: the namespace
 * @qp: the caller's queue pair
 * @buf: the data
 * @slba: first block
 * @nlb: number of blocks
 *
 * Return: as nvme_read().
 */
int nvme_write(struct nvme_ns *ns, struct nvme_qpair *qp, const void *buf, uint64_t slba,
	       uint32_t nlb);

/**
 * nvme_flush - commit the namespace's volatile write cache (Flush)
 * @ns: the namespace
 * @qp: the caller's queue pair
 *
 * Return: 0, a positive NVMe status, -ETIMEDOUT, -EIO, -ENODEV.
 */
int nvme_flush(struct nvme_ns *ns, struct nvme_qpair *qp);

/**
 * nvme_trim - deallocate blocks (Dataset Management, AD)
 * @ns: the namespace
 * @qp: the caller's queue pair
 * @slba: first block
 * @nlb: number of blocks
 *
 * Return: 0, a positive NVMe status, -EINVAL (no blocks), -EOPNOTSUPP when
 * ONCS lacks Dataset Management, -ETIMEDOUT, -EIO, -ENODEV.
 */
int nvme_trim(struct nvme_ns *ns, struct nvme_qpair *qp, uint64_t slba, uint32_t nlb);

/**
 * nvme_write_zeroes - zero blocks (Write Zeroes)
 * @ns: the namespace
 * @qp: the caller's queue pair
 * @slba: first block
 * @nlb: number of blocks; split in commands of at most 65536
 *
 * Return: as nvme_trim(), -EOPNOTSUPP when ONCS lacks Write Zeroes.
 */
int nvme_write_zeroes(struct nvme_ns *ns, struct nvme_qpair *qp, uint64_t slba, uint32_t nlb);

/**
 * nvme_submit_read - start a read; @cb runs when it completes
 * @ns: the namespace
 * @qp: the caller's queue pair
 * @buf: the buffer, untouched by the caller until @cb runs
 * @slba: first block
 * @nlb: number of blocks
 * @cb: completion callback
 * @arg: its argument
 *
 * A read above the largest transfer is split into several commands and
 * @cb runs once, after the last, with the first error. Nothing is
 * allocated: each command takes one of the queue pair's request slots.
 *
 * Return: 0 when submitted, -EAGAIN when the queue pair has not enough
 * free slots (reap completions and try again), -EINVAL (no blocks, more
 * commands than the queue depth, metadata), mapping errors (nothing was
 * submitted then), -ENODEV.
 */
int nvme_submit_read(struct nvme_ns *ns, struct nvme_qpair *qp, void *buf, uint64_t slba,
		     uint32_t nlb, nvme_io_cb cb, void *arg);

/**
 * nvme_submit_write - start a write; @cb runs when it completes
 * @ns: the namespace
 * @qp: the caller's queue pair
 * @buf: the data, unchanged until @cb runs
 * @slba: first block
 * @nlb: number of blocks
 * @cb: completion callback
 * @arg: its argument
 *
 * Return: as nvme_submit_read().
 */
int nvme_submit_write(struct nvme_ns *ns, struct nvme_qpair *qp, const void *buf, uint64_t slba,
		      uint32_t nlb, nvme_io_cb cb, void *arg);

/**
 * nvme_ctrl_register_buffer - map a buffer once for many commands
 * @ctrl: the controller
 * @buf: start, page aligned
 * @len: bytes, a multiple of 4096
 *
 * Commands whose data lies inside a registered buffer use its mapping
 * instead of mapping and unmapping their data each time (the fast path of
 * the benchmarks: no IOMMU work per command). P2P memory may be
 * registered; memory the controller cannot reach cannot (commands on it
 * bounce).
 *
 * Return: 0, -EINVAL (alignment, overlap with a registered buffer),
 * -ENOSPC (too many registered buffers), -EREMOTEIO and the other errors
 * of mapping, -ENOMEM.
 */
int nvme_ctrl_register_buffer(struct nvme_ctrl *ctrl, void *buf, size_t len);

/**
 * nvme_ctrl_unregister_buffer - undo nvme_ctrl_register_buffer()
 * @ctrl: the controller
 * @buf: the start given at registration
 *
 * No command on the buffer may be outstanding.
 *
 * Return: 0, or -ENOENT when @buf is not registered.
 */
int nvme_ctrl_unregister_buffer(struct nvme_ctrl *ctrl, void *buf);

#endif /* HETMEM_NVME_H */
