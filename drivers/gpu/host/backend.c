// SPDX-License-Identifier: MIT
/*
 * The HMM test device interface (hetmem/hmm-dmirror.h) served by the GPU.
 *
 * mm/dmirror.c does what every driver of that interface does (the mirror's
 * record, hmm_range_fault() loops, migrate_vma around the copies); this
 * backend does the hardware's part:
 *
 *	device memory	device-private VRAM (vram.c)
 *	copies		the copy engine, VRAM <-> system memory (vram.c)
 *	page table	the GPU MMU of the mirror's ASID (mmu.c)
 *	accesses	a read or write command is one copy-engine transfer
 *			between the process's addresses, through the MMU, and
 *			a bounce buffer by DMA address; pages the MMU lacks
 *			fault, and the fault handler (fault.c) services them
 *			while the copy waits
 */
#define pr_fmt(fmt) "gpu-host: " fmt

#include <errno.h>
#include <string.h>

#include <hetmem/gpu.h>
#include <hetmem/log.h>
#include <hetmem/pci.h>
#include "host.h"

static int gpu_access(struct dmirror *d, unsigned long start, unsigned long end, char *buf,
		      bool write, bool fault, uint64_t *done, uint64_t *faults)
{
	struct gpu_host *gpu = mdevice_to_gpu(d->mdevice);
	struct gpu_channel *ch = &gpu->ch[GPU_CH_ACCESS];
	struct gpu_mirror *m = d->priv;
	unsigned long from = start + (*done << PAGE_SHIFT), f = 0, cf = 0;
	size_t len = end - from;
	struct gpu_submit s;
	uint64_t unmaps;
	dma_addr_t dma;
	int ret;

	if (!len)
		return 0;
	if (fault && gpu->opts.range_fault) {
		/*
		 * As the kernel's test driver: a command that finds pages
		 * missing from the mirror has the driver fault the rest of its
		 * range in at once (one fault), then runs. The GPU still
		 * faults on whatever an invalidation takes away meanwhile.
		 */
		unsigned long miss = end;

		pthread_mutex_lock(&d->mutex);
		for (unsigned long va = from; va < end; va += PAGE_SIZE) {
			unsigned long e = dmirror_pt_get(d, va);

			if (!(e & DPT_VALID) || (write && !(e & DPT_WRITE))) {
				miss = va;
				break;
			}
		}
		pthread_mutex_unlock(&d->mutex);
		if (miss < end) {
			ret = dmirror_fault(d, miss, end, write);
			f++;
			if (ret) {
				*faults += f;
				*done = (miss - start) >> PAGE_SHIFT;
				return ret;
			}
		}
	} else if (!fault) {
		/* What the mirror maps, and no more, as the kernel driver's read back. */
		pthread_mutex_lock(&d->mutex);
		for (unsigned long va = from; va < end; va += PAGE_SIZE) {
			unsigned long e = dmirror_pt_get(d, va);

			if (!(e & DPT_VALID) || (write && !(e & DPT_WRITE))) {
				*done = (va - start) >> PAGE_SHIFT;
				pthread_mutex_unlock(&d->mutex);
				return -ENOENT;
			}
		}
		pthread_mutex_unlock(&d->mutex);
	}
	buf += from - start;
	unmaps = dmirror_unmaps(d);
	dma = dma_map_single(gpu->pdev, buf, len, write ? DMA_TO_DEVICE : DMA_FROM_DEVICE);
	ret = dma_mapping_error(gpu->pdev, dma);
	if (ret)
		return ret;
	gpu_ch_reserve(ch, &s);
	s.cmd->opcode = GPU_OP_COPY;
	s.cmd->asid = (uint16_t)m->asid;
	s.cmd->arg[0] = write ? from : dma;
	s.cmd->arg[1] = write ? dma : from;
	s.cmd->arg[2] = len;
	s.cmd->arg[3] = write ? GPU_COPY_DST(GPU_APERTURE_VA) | GPU_COPY_SRC(GPU_APERTURE_SYSTEM) :
				GPU_COPY_DST(GPU_APERTURE_SYSTEM) | GPU_COPY_SRC(GPU_APERTURE_VA);
	s.opcode = GPU_OP_COPY;
	gpu_ch_commit(ch, &s);
	ret = gpu_ch_wait(ch, &s, &cf);
	f += cf;
	dma_unmap_single(gpu->pdev, dma, len, write ? DMA_TO_DEVICE : DMA_FROM_DEVICE);
	*faults += f;
	/*
	 * Unmapped under the copy: what it met at those addresses afterwards
	 * may be anyone's new mapping, so the transfer failed (as it does
	 * when it meets nothing there). An munmap() returns before its
	 * invalidation has run here: wait for the ones already read.
	 */
	if (!ret) {
		hetmem_mm_sync(d->mm);
		if (dmirror_unmapped_since(d, unmaps, from, end))
			ret = -EFAULT;
	}
	if (!ret)
		*done = (end - start) >> PAGE_SHIFT;
	return ret;
}

static void gpu_release(struct dmirror_device *mdevice, bool drop)
{
	struct gpu_host *gpu = mdevice_to_gpu(mdevice);
	unsigned long left = gpu_vram_evict_all(gpu);

	/* VRAM is the device's own: nothing more to give up than its pages. */
	if (left)
		pr_warn("%s: %lu device pages stayed busy", pci_name(gpu->pdev), left);
}

static void gpu_destroy(struct dmirror_device *mdevice)
{
	pr_err("%s: dmirror_device_destroy() on a GPU: unbind it with gpu_host_remove()",
	       pci_name(mdevice_to_gpu(mdevice)->pdev));
}

const struct dmirror_backend_ops gpu_dmirror_ops = {
	.alloc_pages = gpu_vram_alloc,
	.copy_to_dev = gpu_copy_to_vram,
	.copy_to_sys = gpu_copy_from_vram,
	.access = gpu_access,
	.mirror_open = gpu_mirror_open,
	.mirror_close = gpu_mirror_close,
	.map = gpu_mmu_map,
	.unmap = gpu_mmu_unmap,
	.release = gpu_release,
	.destroy = gpu_destroy,
};

long gpu_migrate(struct dmirror *mirror, void *addr, size_t len, int to_vram)
{
	struct hmm_dmirror_cmd cmd = {
		.addr = (uintptr_t)addr,
		.npages = len >> PAGE_SHIFT,
	};
	int ret;

	if (!mirror || mirror->mdevice->ops != &gpu_dmirror_ops || (len & (PAGE_SIZE - 1)))
		return -EINVAL;
	ret = to_vram ? dmirror_migrate_to_dev(mirror, &cmd) : dmirror_migrate_to_sys(mirror, &cmd);
	return ret ? ret : (long)cmd.cpages;
}
