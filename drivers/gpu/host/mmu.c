// SPDX-License-Identifier: MIT
/*
 * GPU address spaces: one ASID per mirror, its page table in the device
 * (changed only by commands on the MMU channel), and the driver's shadow
 * of it.
 *
 * The mirror's record (mm/dmirror.c) says which page each address maps;
 * this file turns that into PTEs:
 *
 *	a page of this GPU's VRAM	VRAM offset | VALID [| WRITE | ATOMIC]
 *	a system page			dma_map_single() of its address (the
 *					IOMMU's IOVA, or a peer's bus address
 *					for P2P memory) | SYSTEM | VALID
 *					[| WRITE | ATOMIC]
 *
 * Atomics are allowed wherever writes are: the GPU's atomics are
 * coherent with the CPU's on system memory (PCIe FetchAdd). A
 * device-exclusive page is mapped read-only, though: here the device
 * reaches system memory through the process's own page table, where an
 * exclusive page is write-protected, so a GPU write there would wait on
 * the userfaultfd handler that is revoking the exclusivity from this
 * very driver. An atomic or a write on it faults instead; servicing it
 * revokes the exclusivity (hmm_range_fault() asked for write) and maps
 * the page writable.
 *
 * The shadow (per mirror, by VA, under the mirror's mutex) keeps each PTE
 * as written: unmapping needs the IOVA to give back, and the range to
 * clear and invalidate. A PTE replaced or cleared is invalidated in the
 * GPU's TLB before its IOVA is unmapped, so no access in flight can reach
 * a page that went away.
 */
#define pr_fmt(fmt) "gpu-host: " fmt

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <hetmem/log.h>
#include <hetmem/pci.h>
#include "host.h"

#define MAX_PTES GPU_PAYLOAD_PTES /* PTEs one PTE_WRITE takes (its payload page) */

struct gpu_mirror *gpu_mirror_get(struct gpu_host *gpu, unsigned int asid)
{
	struct gpu_mirror *m;

	if (asid >= GPU_NR_ASIDS)
		return NULL;
	pthread_mutex_lock(&gpu->asid_lock);
	m = gpu->asid[asid];
	if (m)
		m->refs++;
	pthread_mutex_unlock(&gpu->asid_lock);
	return m;
}

void gpu_mirror_put(struct gpu_mirror *m)
{
	struct gpu_host *gpu = m->gpu;

	pthread_mutex_lock(&gpu->asid_lock);
	if (!--m->refs)
		pthread_cond_broadcast(&gpu->asid_cond);
	pthread_mutex_unlock(&gpu->asid_lock);
}

static int asid_reset(struct gpu_host *gpu, unsigned int asid)
{
	struct gpu_cmd c = { .opcode = GPU_OP_ASID_RESET, .asid = (uint16_t)asid };

	return gpu_ch_run(&gpu->ch[GPU_CH_MMU], &c, 1);
}

int gpu_mirror_open(struct dmirror *d)
{
	struct gpu_host *gpu = mdevice_to_gpu(d->mdevice);
	struct gpu_mirror *m = calloc(1, sizeof(*m));
	unsigned int asid;
	int ret;

	if (!m)
		return -ENOMEM;
	if (__atomic_load_n(&gpu->dead, __ATOMIC_ACQUIRE)) {
		free(m);
		return -ENODEV;
	}
	ret = va_table_init(&m->pte);
	if (ret) {
		free(m);
		return ret;
	}
	m->gpu = gpu;
	m->dmirror = d;
	m->refs = 1;
	pthread_mutex_lock(&gpu->asid_lock);
	for (asid = 0; asid < GPU_NR_ASIDS && gpu->asid[asid]; asid++)
		;
	if (asid < GPU_NR_ASIDS)
		gpu->asid[asid] = m;
	pthread_mutex_unlock(&gpu->asid_lock);
	if (asid == GPU_NR_ASIDS) {
		va_table_destroy(&m->pte);
		free(m);
		return -ENOSPC;
	}
	m->asid = asid;
	d->priv = m;
	/* A clean address space, whatever its last user left. */
	ret = asid_reset(gpu, asid);
	if (ret)
		gpu_mirror_close(d);
	return ret;
}

/* How a system page was mapped for the device: as its PTE allows. */
static enum dma_data_direction pte_dir(uint64_t pte)
{
	return pte & GPU_PTE_WRITE ? DMA_BIDIRECTIONAL : DMA_TO_DEVICE;
}

struct unmap_walk {
	struct gpu_host *gpu;
	struct gpu_cmd *cmds; /* PTE_SET runs, then the TLB invalidation */
	unsigned int ncmds, cap_cmds;
	uint64_t *iova; /* system PTEs whose IOVA goes back once the TLB is clean */
	unsigned long niova, cap_iova;
	unsigned long run_va, run_n, first, last;
	int err;
};

static bool grow(void **p, unsigned long *cap, unsigned long want, size_t size)
{
	void *q;

	if (want <= *cap)
		return true;
	q = realloc(*p, (*cap ? *cap * 2 : 64) * size);
	if (!q)
		return false;
	*p = q;
	*cap = *cap ? *cap * 2 : 64;
	return true;
}

static void walk_flush_run(struct unmap_walk *w, unsigned int asid)
{
	unsigned long cap = w->cap_cmds;
	struct gpu_cmd *c;

	if (!w->run_n)
		return;
	if (!grow((void **)&w->cmds, &cap, w->ncmds + 2, sizeof(*w->cmds))) {
		w->err = -ENOMEM;
		return;
	}
	w->cap_cmds = (unsigned int)cap;
	c = &w->cmds[w->ncmds++];
	memset(c, 0, sizeof(*c));
	c->opcode = GPU_OP_PTE_SET;
	c->asid = (uint16_t)asid;
	c->arg[0] = w->run_va;
	c->arg[1] = w->run_n;
	w->run_n = 0;
}

struct unmap_arg {
	struct unmap_walk *w;
	unsigned int asid;
};

static bool unmap_one(unsigned long va, unsigned long *slot, void *arg)
{
	struct unmap_arg *a = arg;
	struct unmap_walk *w = a->w;
	uint64_t pte = *slot;

	*slot = 0;
	if (!(pte & GPU_PTE_VALID))
		return true;
	if ((pte & GPU_PTE_SYSTEM) && !w->err) {
		if (grow((void **)&w->iova, &w->cap_iova, w->niova + 1, sizeof(*w->iova)))
			w->iova[w->niova++] = pte;
		else
			w->err = -ENOMEM;
	}
	if (w->run_n && (va != w->run_va + (w->run_n << PAGE_SHIFT) || w->run_n == GPU_PTE_MAX_COUNT))
		walk_flush_run(w, a->asid);
	if (!w->run_n)
		w->run_va = va;
	w->run_n++;
	if (!w->last)
		w->first = va;
	w->last = va + PAGE_SIZE;
	return true;
}

/* Clear the PTEs the shadow has in [start, end), invalidate, give the IOVAs back. */
static void unmap_range(struct gpu_mirror *m, unsigned long start, unsigned long end)
{
	struct gpu_host *gpu = m->gpu;
	struct unmap_walk w = { .gpu = gpu };
	struct unmap_arg a = { &w, m->asid };
	struct gpu_cmd *c;
	unsigned long pages;
	int ret;

	va_table_for_each(&m->pte, start, end, unmap_one, &a);
	walk_flush_run(&w, m->asid);
	if (!w.ncmds)
		goto out;
	c = &w.cmds[w.ncmds++];
	memset(c, 0, sizeof(*c));
	c->opcode = GPU_OP_TLB_INVALIDATE;
	c->asid = (uint16_t)m->asid;
	pages = (w.last - w.first) >> PAGE_SHIFT;
	/* A span too long for one command: the whole address space. */
	c->arg[0] = pages <= GPU_PTE_MAX_COUNT ? w.first : 0;
	c->arg[1] = pages <= GPU_PTE_MAX_COUNT ? pages : 0;
	ret = w.err ? w.err : gpu_ch_run(&gpu->ch[GPU_CH_MMU], w.cmds, w.ncmds);
	if (ret) {
		/* The GPU may still use the pages: keep their IOVAs mapped (leak, not corrupt). */
		pr_err("%s: cannot unmap [%#lx, %#lx) of ASID %u: %d", pci_name(gpu->pdev),
		       w.first, w.last, m->asid, ret);
		goto out;
	}
	for (unsigned long i = 0; i < w.niova; i++)
		dma_unmap_single(gpu->pdev, GPU_PTE_ADDR(w.iova[i]), PAGE_SIZE, pte_dir(w.iova[i]));
	gpu_stat_add(gpu, pages_unmapped, pages);
out:
	free(w.cmds);
	free(w.iova);
}

void gpu_mmu_unmap(struct dmirror *d, unsigned long start, unsigned long end)
{
	unmap_range(d->priv, start, end);
}

/* The PTE for a record entry; 0 when the page cannot be mapped. */
static uint64_t make_pte(struct gpu_host *gpu, unsigned long e, bool *vram, uint64_t *vram_off)
{
	unsigned long pfn = e >> DPT_SHIFT;
	struct page *page = pfn_to_page(pfn);
	bool write = (e & DPT_WRITE) && !(e & DPT_ATOMIC);
	dma_addr_t iova;

	*vram = false;
	if (gpu_is_vram_page(gpu, page)) {
		*vram = true;
		*vram_off = gpu_page_vram_offset(gpu, page);
		return *vram_off | GPU_PTE_VALID | (write ? GPU_PTE_WRITE | GPU_PTE_ATOMIC : 0);
	}
	if (page && is_device_private_page(page))
		return 0; /* another device's: hmm_range_fault() never gives one */
	iova = dma_map_single(gpu->pdev, (void *)(pfn << PAGE_SHIFT), PAGE_SIZE,
			      write ? DMA_BIDIRECTIONAL : DMA_TO_DEVICE);
	if (dma_mapping_error(gpu->pdev, iova))
		return 0;
	return (iova & GPU_PTE_ADDR_MASK) | GPU_PTE_SYSTEM | GPU_PTE_VALID |
	       (write ? GPU_PTE_WRITE | GPU_PTE_ATOMIC : 0);
}

int gpu_mmu_map(struct dmirror *d, unsigned long va, unsigned long n, const unsigned long *entries)
{
	struct gpu_mirror *m = d->priv;
	struct gpu_host *gpu = m->gpu;
	uint64_t ptes[64];
	bool replaced = false;
	struct gpu_submit s;
	int ret = 0;

	if (n > 64)
		return -EINVAL;
	/* Whatever the shadow had there goes first (rare: a write upgrade, a race). */
	for (unsigned long i = 0; i < n && !replaced; i++) {
		unsigned long *slot = va_table_slot(&m->pte, va + (i << PAGE_SHIFT), false);

		replaced = slot && *slot;
	}
	if (replaced)
		unmap_range(m, va, va + (n << PAGE_SHIFT));
	for (unsigned long i = 0; i < n; i++) {
		uint64_t off = 0;
		bool vram;

		ptes[i] = make_pte(gpu, entries[i], &vram, &off);
		if (!ptes[i])
			ret = -ENOMEM;
		else if (vram)
			gpu_vram_touch(gpu, off);
	}
	if (!ret) {
		gpu_ch_reserve(&gpu->ch[GPU_CH_MMU], &s);
		memcpy(s.payload, ptes, n * sizeof(ptes[0]));
		s.cmd->opcode = GPU_OP_PTE_WRITE;
		s.cmd->asid = (uint16_t)m->asid;
		s.cmd->arg[0] = va;
		s.cmd->arg[1] = n;
		s.cmd->arg[2] = s.payload_dma;
		s.opcode = GPU_OP_PTE_WRITE;
		gpu_ch_commit(&gpu->ch[GPU_CH_MMU], &s);
		ret = gpu_ch_wait(&gpu->ch[GPU_CH_MMU], &s, NULL);
	}
	for (unsigned long i = 0; i < n; i++) {
		unsigned long *slot;

		if (!ptes[i])
			continue;
		slot = ret ? NULL : va_table_slot(&m->pte, va + (i << PAGE_SHIFT), true);
		if (slot) {
			*slot = ptes[i];
			continue;
		}
		if (ptes[i] & GPU_PTE_SYSTEM)
			dma_unmap_single(gpu->pdev, GPU_PTE_ADDR(ptes[i]), PAGE_SIZE,
					 pte_dir(ptes[i]));
		if (!ret)
			ret = -ENOMEM;
	}
	if (!ret)
		gpu_stat_add(gpu, pages_mapped, n);
	return ret;
}

void gpu_mirror_close(struct dmirror *d)
{
	struct gpu_mirror *m = d->priv;
	struct gpu_host *gpu = m->gpu;

	pthread_mutex_lock(&gpu->asid_lock);
	gpu->asid[m->asid] = NULL;
	m->refs--;
	/* The fault handler may be working for this mirror: let it finish. */
	while (m->refs)
		pthread_cond_wait(&gpu->asid_cond, &gpu->asid_lock);
	pthread_mutex_unlock(&gpu->asid_lock);
	/* What it may have mapped after the mirror emptied its record. */
	pthread_mutex_lock(&d->mutex);
	unmap_range(m, 0, ~0UL & PAGE_MASK);
	pthread_mutex_unlock(&d->mutex);
	asid_reset(gpu, m->asid);
	va_table_destroy(&m->pte);
	d->priv = NULL;
	free(m);
}
