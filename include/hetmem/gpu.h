/* SPDX-License-Identifier: MIT */
/*
 * The GPU driver: binds to the emulated GPU (include/hetmem/gpu-regs.h)
 * and makes it an HMM device.
 *
 *  - VRAM beyond the BAR2 window becomes device-private memory
 *    (memremap_pages(MEMORY_DEVICE_PRIVATE), owner the driver instance):
 *    process memory migrates there and comes back on a CPU touch, its data
 *    moved only by the GPU's copy engine. When it is full, the least
 *    recently used 2 MiB blocks are evicted home to make room.
 *  - VRAM in the BAR2 window becomes P2PDMA memory
 *    (pci_p2pdma_add_resource()), published for other drivers.
 *  - Each mirror of the process (a struct dmirror opened on
 *    gpu_host_dmirror()) gets a GPU address space whose page table follows
 *    the CPU's through an interval notifier. Pages it lacks are device
 *    page faults, taken from the GPU's fault buffer by a driver thread and
 *    serviced by policy: mapped where they are (hmm_range_fault(), system
 *    pages by DMA address), or migrated to VRAM on the fault, or once the
 *    GPU's access counters say a page is hot.
 *  - The kernel's HMM test device interface (include/hetmem/hmm-dmirror.h)
 *    is served by the GPU: dmirror_read() and dmirror_write() are copy
 *    engine transfers through the GPU MMU, migrations use the copy engine.
 *  - Applications run the GPU's built-in kernels on their own memory with
 *    gpu_launch().
 *
 * Documentation/gpu-driver.md tells the whole story.
 */
#ifndef HETMEM_GPU_H
#define HETMEM_GPU_H

#include <stddef.h>
#include <stdint.h>

struct pci_dev;
struct gpu_host;
struct gpu_job;
struct dmirror;
struct dmirror_device;

/* Migration policies (gpu_host_opts.policy), may be combined. */
#define GPU_POLICY_MIGRATE_ON_FAULT   (1u << 0) /* a device fault migrates its page to VRAM */
#define GPU_POLICY_MIGRATE_ON_COUNTER (1u << 1) /* a hot system page migrates to VRAM */

/**
 * struct gpu_host_opts - how to drive a GPU
 * @size: sizeof(struct gpu_host_opts) as the caller knows it (0 is taken
 *	  as the current size): later versions may add fields at the end
 * @policy: GPU_POLICY_* (0: migrate only on request)
 * @counter_threshold: accesses to a system page that make it hot
 *		       (GPU_POLICY_MIGRATE_ON_COUNTER; 0: 64)
 * @migrate_pages: the block around a fault or a hot page whose pages the
 *		   device uses (faults on, or maps already) migrate with
 *		   it, within its 2 MiB block and mapping (0: 16)
 * @fault_window: pages after a faulting one mapped with it when they are
 *		  already present, so a streaming access faults once per
 *		  window (0: 16; 1: the faulting page alone)
 * @poll_us: after servicing faults, the fault thread keeps polling the
 *	     fault buffer this long before it sleeps on the interrupt (0:
 *	     interrupt-driven only; ~0U: polls all the time)
 * @no_p2p: do not register BAR2 as P2PDMA memory
 * @range_fault: a read or write of the test-device interface that finds
 *		 pages missing from the mirror has the driver fault the rest
 *		 of its range in with one hmm_range_fault() pass before the
 *		 GPU runs it, and counts that as its one fault, as the
 *		 kernel's lib/test_hmm.c does (what hmm-tests expects of
 *		 /dev/hmm_dmirrorN). Off, the GPU meets the missing pages
 *		 itself and each serviced device fault counts.
 */
struct gpu_host_opts {
	size_t size;
	unsigned int policy;
	unsigned int counter_threshold;
	unsigned int migrate_pages;
	unsigned int fault_window;
	unsigned int poll_us;
	int no_p2p;
	int range_fault;
};

/**
 * gpu_host_probe - bind the driver to a GPU function
 * @pdev: the function (class 030200, vendor 4854, device 0002), enumerated
 *	  and with its device model started
 * @opts: options, or NULL for the defaults
 *
 * Resets the device, enables bus mastering, sets up its command rings and
 * fault buffer, registers device-private VRAM with memremap_pages() and
 * BAR2 with pci_p2pdma_add_resource(), and starts the driver's threads.
 *
 * Return: the driver instance; ERR_PTR(-ENODEV) when @pdev is not this
 * GPU, or its registers do not answer, or it has no VRAM beyond BAR2;
 * ERR_PTR(-EINVAL) for bad @opts; ERR_PTR(-EBUSY) when it is already
 * bound; ERR_PTR(-EIO) when the device does not come out of reset or
 * refuses its rings; the errors of memremap_pages(); ERR_PTR(-ENOMEM);
 * ERR_PTR(-EAGAIN) when a thread cannot be started.
 */
struct gpu_host *gpu_host_probe(struct pci_dev *pdev, const struct gpu_host_opts *opts);

/**
 * gpu_host_remove - unbind
 * @gpu: the driver instance, or NULL
 *
 * Every device-private page comes home first (as migrate_device_range()
 * does in the kernel), with its data: nothing is lost and the CPU reads
 * it afterwards without a fault. Then the page map and the P2PDMA
 * resource go (waiting for their last users), the device is reset and
 * bus mastering disabled. Mirrors of gpu_host_dmirror() must be closed
 * and jobs waited for.
 */
void gpu_host_remove(struct gpu_host *gpu);

/**
 * gpu_host_dmirror - the HMM test device this GPU serves
 * @gpu: the driver instance
 *
 * dmirror_open() and the other functions of hetmem/hmm-dmirror.h work on
 * it unchanged; dmirror_device_destroy() on it does nothing (unbind with
 * gpu_host_remove()).
 *
 * Return: the device, valid until gpu_host_remove().
 */
struct dmirror_device *gpu_host_dmirror(struct gpu_host *gpu);

/**
 * gpu_host_pdev - the function a driver instance is bound to
 * @gpu: the driver instance
 *
 * Return: the function.
 */
struct pci_dev *gpu_host_pdev(struct gpu_host *gpu);

/**
 * gpu_host_set_policy - change the migration policy
 * @gpu: the driver instance
 * @policy: GPU_POLICY_* flags
 * @counter_threshold: as gpu_host_opts.counter_threshold (0: keep)
 *
 * Return: 0; -EINVAL for an unknown policy bit; -EOPNOTSUPP for
 * GPU_POLICY_MIGRATE_ON_COUNTER on a GPU without access counters.
 */
int gpu_host_set_policy(struct gpu_host *gpu, unsigned int policy, unsigned int counter_threshold);

/**
 * struct gpu_host_stats - what the driver did since probe
 * @fault_batches: times the fault thread found entries in the fault buffer
 * @faults: page fault entries read
 * @faults_serviced: page faults serviced by mapping or migrating
 * @faults_cancelled: faulting commands cancelled (the page could not be had)
 * @pages_mapped: PTEs written
 * @pages_unmapped: PTEs cleared on invalidation
 * @counter_notifications: access counter entries read
 * @migrated_on_fault: pages migrated to VRAM by a device fault
 * @migrated_on_counter: pages migrated to VRAM because they were hot
 * @evicted: device pages evicted home to make room in VRAM
 * @service_ns: time spent servicing page faults, from reading a batch to
 *		the replay, summed
 * @commands: commands submitted
 */
struct gpu_host_stats {
	unsigned long fault_batches;
	unsigned long faults;
	unsigned long faults_serviced;
	unsigned long faults_cancelled;
	unsigned long pages_mapped;
	unsigned long pages_unmapped;
	unsigned long counter_notifications;
	unsigned long migrated_on_fault;
	unsigned long migrated_on_counter;
	unsigned long evicted;
	unsigned long service_ns;
	unsigned long commands;
};

/**
 * gpu_host_stats - read the driver's counters
 * @gpu: the driver instance
 * @st: filled in
 */
void gpu_host_stats(struct gpu_host *gpu, struct gpu_host_stats *st);

/**
 * gpu_launch - start one of the GPU's built-in kernels on a mirror
 * @gpu: the driver instance
 * @mirror: a mirror opened on gpu_host_dmirror(@gpu): the kernel's
 *	    address space, so its VA operands are the process's pointers
 * @kernel: enum gpu_kernel (GPU_KERNEL_FILL, ..._SAXPY, ...)
 * @args: the kernel's operands, arg[1] to arg[5] of its launch command
 *	  (gpu-regs.h says what each kernel takes)
 * @nargs: entries in @args, at most 5 (the rest are zero)
 * @job: set to the job, to wait for with gpu_job_wait()
 *
 * The kernel runs on the compute engine through the GPU MMU: pages the
 * mirror lacks fault and are serviced as they are touched. Jobs on one
 * GPU run one after the other, in launch order.
 *
 * Return: 0; -EINVAL for an unknown kernel, a mirror of another device,
 * more than 5 arguments or no @job; -ENODEV after removal started;
 * -ENOMEM.
 */
int gpu_launch(struct gpu_host *gpu, struct dmirror *mirror, unsigned int kernel,
	       const uint64_t *args, unsigned int nargs, struct gpu_job **job);

/**
 * gpu_job_wait - wait for a job, and free it
 * @job: from gpu_launch()
 * @faults: set to the device page faults serviced for it (may be NULL)
 *
 * Return: 0 when the kernel ran to completion; -EFAULT when it touched
 * memory the process has not mapped (or mapped PROT_NONE), -EPERM when it
 * wrote read-only memory: the fault was cancelled and the kernel stopped
 * there; -EINVAL when the device refused the command (a misaligned
 * operand, an address beyond 47 bits); -ENOMEM when the device had no
 * room for the address space's page table; -EIO for a device error.
 */
int gpu_job_wait(struct gpu_job *job, unsigned long *faults);

/**
 * gpu_run - gpu_launch() and gpu_job_wait() in one
 * @gpu: the driver instance
 * @mirror: the address space
 * @kernel: enum gpu_kernel
 * @args: operands
 * @nargs: how many
 *
 * Return: as gpu_launch(), then as gpu_job_wait().
 */
int gpu_run(struct gpu_host *gpu, struct dmirror *mirror, unsigned int kernel,
	    const uint64_t *args, unsigned int nargs);

/**
 * gpu_migrate - migrate a range of a mirror's memory to VRAM or home
 * @mirror: a mirror opened on gpu_host_dmirror()
 * @addr: first byte, page aligned
 * @len: bytes, a page multiple
 * @to_vram: true for VRAM, false for system memory
 *
 * The explicit policy: dmirror_migrate_to_dev() or dmirror_migrate_to_sys()
 * without reading anything back.
 *
 * Return: the number of pages that moved; -EINVAL for a bad range, one
 * not mapped readable throughout, or a mirror that is not a GPU's; -ENOMEM.
 */
long gpu_migrate(struct dmirror *mirror, void *addr, size_t len, int to_vram);

#endif /* HETMEM_GPU_H */
