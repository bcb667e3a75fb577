// SPDX-License-Identifier: MIT
/*
 * Device-private VRAM: VRAM past the BAR2 window, as struct pages.
 *
 * One MEMORY_DEVICE_PRIVATE page map, owner the driver instance, over pfn
 * space from request_free_mem_region(): page i stands for VRAM offset
 * VRAM_VISIBLE + i * 4 KiB. Nothing decodes those pfns and the driver
 * never dereferences them: the data of a page moves only with copy-engine
 * commands on the migration channel, VRAM <-> system memory by bus
 * address.
 *
 * Allocation is next-fit over a bitmap, so the pages of one migration are
 * mostly consecutive and copy in few commands. When VRAM is full the
 * least recently used 2 MiB blocks are evicted home (dmirror_evict_pfns(),
 * migrate_device_range() underneath) until the allocation fits. A block
 * is used when pages are allocated in it, when the GPU faults one of its
 * pages into an address space, when an access counter notification says
 * one of its pages is hot, and, checked just before choosing a victim,
 * when the GPU's access counters show any access to it since the last
 * look (a second chance, as the kernel's LRU gives referenced pages).
 */
#define pr_fmt(fmt) "gpu-host: " fmt

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hetmem/err.h>
#include <hetmem/log.h>
#include <hetmem/migrate.h>
#include <hetmem/pci.h>
#include "host.h"

#define BITS_PER_LONG 64
#define EVICT_PASSES  1000 /* an unbind waits this many times 100 us for busy pages */

static struct gpu_host *pgmap_gpu(struct dev_pagemap *pgmap)
{
	return container_of(pgmap, struct gpu_host, vram.pagemap);
}

bool gpu_is_vram_page(struct gpu_host *gpu, struct page *page)
{
	return page && page->pgmap == &gpu->vram.pagemap;
}

uint64_t gpu_page_vram_offset(struct gpu_host *gpu, struct page *page)
{
	return gpu->vram.offset + ((page_to_pfn(page) - gpu->vram.first_pfn) << PAGE_SHIFT);
}

/* Move a block to the LRU's tail (most recently used); vram->lock held. */
static void block_touch(struct gpu_vram *v, unsigned long b)
{
	struct gpu_vram_block *blk = &v->blocks[b];

	if (blk->on_lru)
		list_del(&blk->lru);
	list_add_tail(&blk->lru, &v->lru);
	blk->on_lru = true;
}

void gpu_vram_touch(struct gpu_host *gpu, uint64_t vram_offset)
{
	struct gpu_vram *v = &gpu->vram;
	unsigned long i;

	if (vram_offset < v->offset)
		return;
	i = (vram_offset - v->offset) >> PAGE_SHIFT;
	if (i >= v->npages)
		return;
	pthread_mutex_lock(&v->lock);
	if (v->blocks[i / GPU_BLOCK_PAGES].used)
		block_touch(v, i / GPU_BLOCK_PAGES);
	pthread_mutex_unlock(&v->lock);
}

static void gpu_page_free(struct page *page)
{
	struct gpu_host *gpu = pgmap_gpu(page->pgmap);
	struct gpu_vram *v = &gpu->vram;
	unsigned long i = page_to_pfn(page) - v->first_pfn;
	struct gpu_vram_block *blk = &v->blocks[i / GPU_BLOCK_PAGES];

	page->zone_device_data = NULL;
	pthread_mutex_lock(&v->lock);
	v->used[i / BITS_PER_LONG] &= ~(1UL << (i % BITS_PER_LONG));
	if (!--blk->used && blk->on_lru) {
		list_del(&blk->lru);
		blk->on_lru = false;
	}
	pthread_mutex_unlock(&v->lock);
	dmirror_count_free(&gpu->mdevice, 1);
}

static unsigned int gpu_migrate_to_ram(struct vm_fault *vmf)
{
	return dmirror_migrate_to_ram(&pgmap_gpu(vmf->page->pgmap)->mdevice, vmf);
}

static const struct dev_pagemap_ops gpu_pagemap_ops = {
	.page_free = gpu_page_free,
	.migrate_to_ram = gpu_migrate_to_ram,
};

/* Next-fit; vram->lock held. */
static unsigned long alloc_locked(struct gpu_vram *v, unsigned long n, struct page **pages)
{
	unsigned long got = 0, i = v->cursor;

	for (unsigned long scanned = 0; got < n && scanned < v->npages; scanned++, i++) {
		unsigned long *w, bit;

		if (i >= v->npages)
			i = 0;
		w = &v->used[i / BITS_PER_LONG];
		bit = 1UL << (i % BITS_PER_LONG);
		if (*w == ~0UL && !(i % BITS_PER_LONG) && v->npages - i >= BITS_PER_LONG) {
			i += BITS_PER_LONG - 1;
			scanned += BITS_PER_LONG - 1;
			continue;
		}
		if (*w & bit)
			continue;
		*w |= bit;
		v->blocks[i / GPU_BLOCK_PAGES].used++;
		block_touch(v, i / GPU_BLOCK_PAGES);
		pages[got++] = pfn_to_page(v->first_pfn + i);
	}
	v->cursor = i >= v->npages ? 0 : i;
	return got;
}

/*
 * Blocks the GPU accessed since the last look move to the LRU's tail, in
 * address order. The counters of VRAM pages are read and cleared with one
 * command; those of system pages are left to the counter policy.
 */
static void refresh_lru(struct gpu_host *gpu)
{
	struct gpu_vram *v = &gpu->vram;
	struct gpu_cmd c = {
		.opcode = GPU_OP_COUNTERS_READ,
		.arg = { GPU_APERTURE_VRAM, v->offset, v->npages, v->counters_dma,
			 GPU_COUNTERS_CLEAR },
	};

	if (!v->counters || gpu_ch_run(&gpu->ch[GPU_CH_MIGRATE], &c, 1))
		return;
	pthread_mutex_lock(&v->lock);
	for (unsigned long b = 0; b < v->nblocks; b++) {
		unsigned long first = b * GPU_BLOCK_PAGES, end = first + GPU_BLOCK_PAGES;
		bool hot = false;

		for (unsigned long i = first; i < end && i < v->npages && !hot; i++)
			hot = v->counters[i] != 0;
		if (hot && v->blocks[b].used)
			block_touch(v, b);
	}
	pthread_mutex_unlock(&v->lock);
}

/*
 * Evict the least recently used blocks until about @want pages are free;
 * at most every block once. Returns the pages evicted.
 */
static unsigned long evict_lru(struct gpu_host *gpu, unsigned long want)
{
	struct gpu_vram *v = &gpu->vram;
	unsigned long moved = 0;

	pthread_mutex_lock(&v->evict_lock);
	refresh_lru(gpu);
	for (unsigned long tries = 0; moved < want && tries < v->nblocks; tries++) {
		struct gpu_vram_block *blk;
		unsigned long b, n;
		long ret;

		pthread_mutex_lock(&v->lock);
		if (list_empty(&v->lru)) {
			pthread_mutex_unlock(&v->lock);
			break;
		}
		blk = list_first_entry(&v->lru, struct gpu_vram_block, lru);
		b = (unsigned long)(blk - v->blocks);
		/* Whatever happens to it, the next victim is another block. */
		block_touch(v, b);
		pthread_mutex_unlock(&v->lock);
		n = v->npages - b * GPU_BLOCK_PAGES < GPU_BLOCK_PAGES ?
			    v->npages - b * GPU_BLOCK_PAGES :
			    GPU_BLOCK_PAGES;
		ret = dmirror_evict_pfns(&gpu->mdevice, v->first_pfn + b * GPU_BLOCK_PAGES, n, NULL);
		if (ret > 0)
			moved += (unsigned long)ret;
	}
	pthread_mutex_unlock(&v->evict_lock);
	if (moved)
		gpu_stat_add(gpu, evicted, moved);
	return moved;
}

unsigned long gpu_vram_alloc(struct dmirror_device *mdevice, unsigned long n, struct page **pages)
{
	struct gpu_host *gpu = mdevice_to_gpu(mdevice);
	struct gpu_vram *v = &gpu->vram;
	unsigned long got;

	pthread_mutex_lock(&v->lock);
	got = alloc_locked(v, n, pages);
	pthread_mutex_unlock(&v->lock);
	/* VRAM is full: make room rather than fail. */
	while (got < n && !__atomic_load_n(&gpu->dead, __ATOMIC_ACQUIRE)) {
		unsigned long more;

		if (!evict_lru(gpu, n - got))
			break;
		pthread_mutex_lock(&v->lock);
		more = alloc_locked(v, n - got, pages + got);
		pthread_mutex_unlock(&v->lock);
		if (!more)
			break;
		got += more;
	}
	for (unsigned long i = 0; i < got; i++)
		if (zone_device_page_init(pages[i]))
			pr_err("device page %#llx was not free", (unsigned long long)pages[i]->pfn);
	dmirror_count_alloc(mdevice, got);
	return got;
}

/* --- copies ------------------------------------------------------------------------ */

/* A batch of copy commands and the DMA mappings of their system buffers. */
struct copy_batch {
	struct gpu_host *gpu;
	struct gpu_cmd *cmds;
	unsigned int n;
	dma_addr_t *maps;
	size_t *map_len;
	unsigned int nmaps;
	enum dma_data_direction dir;
};

static int batch_init(struct copy_batch *b, struct gpu_host *gpu, unsigned long n,
		      enum dma_data_direction dir)
{
	memset(b, 0, sizeof(*b));
	b->gpu = gpu;
	b->dir = dir;
	b->cmds = calloc(n, sizeof(*b->cmds));
	b->maps = calloc(n, sizeof(*b->maps));
	b->map_len = calloc(n, sizeof(*b->map_len));
	return b->cmds && b->maps && b->map_len ? 0 : -ENOMEM;
}

static void batch_fini(struct copy_batch *b)
{
	for (unsigned int i = 0; i < b->nmaps; i++)
		dma_unmap_single(b->gpu->pdev, b->maps[i], b->map_len[i], b->dir);
	free(b->cmds);
	free(b->maps);
	free(b->map_len);
}

static int batch_map(struct copy_batch *b, unsigned long addr, size_t len, dma_addr_t *dma)
{
	*dma = dma_map_single(b->gpu->pdev, (void *)addr, len, b->dir);
	if (dma_mapping_error(b->gpu->pdev, *dma))
		return dma_mapping_error(b->gpu->pdev, *dma);
	b->maps[b->nmaps] = *dma;
	b->map_len[b->nmaps++] = len;
	return 0;
}

static void batch_copy(struct copy_batch *b, uint64_t dst, unsigned int dst_ap, uint64_t src,
		       unsigned int src_ap, uint64_t len)
{
	struct gpu_cmd *c = &b->cmds[b->n++];

	c->opcode = GPU_OP_COPY;
	c->arg[0] = dst;
	c->arg[1] = src;
	c->arg[2] = len;
	c->arg[3] = GPU_COPY_DST(dst_ap) | GPU_COPY_SRC(src_ap);
}

/*
 * Runs of pages whose system addresses and VRAM offsets both follow on
 * copy with one command; zero pages copy from the driver's zero buffer.
 */
int gpu_copy_to_vram(struct dmirror_device *mdevice, struct page **dst, const unsigned long *src,
		     unsigned long n)
{
	struct gpu_host *gpu = mdevice_to_gpu(mdevice);
	struct copy_batch b;
	unsigned long run;
	int ret = batch_init(&b, gpu, n, DMA_TO_DEVICE);

	for (unsigned long i = 0; !ret && i < n; i += run) {
		uint64_t to = gpu_page_vram_offset(gpu, dst[i]);
		dma_addr_t from = gpu->zero_dma;

		for (run = 1; i + run < n; run++) {
			if (gpu_page_vram_offset(gpu, dst[i + run]) != to + (run << PAGE_SHIFT))
				break;
			if (!src[i] ? src[i + run] || run == 16 :
				      src[i + run] != src[i] + (run << PAGE_SHIFT))
				break;
		}
		if (src[i])
			ret = batch_map(&b, src[i], run << PAGE_SHIFT, &from);
		if (!ret)
			batch_copy(&b, to, GPU_APERTURE_VRAM, from, GPU_APERTURE_SYSTEM,
				   run << PAGE_SHIFT);
	}
	if (!ret)
		ret = gpu_ch_run(&gpu->ch[GPU_CH_MIGRATE], b.cmds, b.n);
	batch_fini(&b);
	return ret;
}

int gpu_copy_from_vram(struct dmirror_device *mdevice, const unsigned long *dst, struct page **src,
		       unsigned long n)
{
	struct gpu_host *gpu = mdevice_to_gpu(mdevice);
	struct copy_batch b;
	unsigned long run;
	int ret = batch_init(&b, gpu, n, DMA_FROM_DEVICE);

	for (unsigned long i = 0; !ret && i < n; i += run) {
		uint64_t from = gpu_page_vram_offset(gpu, src[i]);
		dma_addr_t to;

		for (run = 1; i + run < n; run++)
			if (gpu_page_vram_offset(gpu, src[i + run]) != from + (run << PAGE_SHIFT) ||
			    dst[i + run] != dst[i] + (run << PAGE_SHIFT))
				break;
		ret = batch_map(&b, dst[i], run << PAGE_SHIFT, &to);
		if (!ret)
			batch_copy(&b, to, GPU_APERTURE_SYSTEM, from, GPU_APERTURE_VRAM,
				   run << PAGE_SHIFT);
	}
	if (!ret)
		ret = gpu_ch_run(&gpu->ch[GPU_CH_MIGRATE], b.cmds, b.n);
	batch_fini(&b);
	return ret;
}

/* --- the page map ----------------------------------------------------------------- */

unsigned long gpu_vram_evict_all(struct gpu_host *gpu)
{
	struct gpu_vram *v = &gpu->vram;
	unsigned long busy_pages = 0;

	if (!v->registered)
		return 0;
	for (int pass = 0; pass < EVICT_PASSES; pass++) {
		busy_pages = 0;
		for (unsigned long first = 0; first < v->npages; first += GPU_BLOCK_PAGES) {
			unsigned long n = v->npages - first < GPU_BLOCK_PAGES ? v->npages - first :
										 GPU_BLOCK_PAGES;
			bool busy = false;
			long ret;

			pthread_mutex_lock(&v->lock);
			n = v->blocks[first / GPU_BLOCK_PAGES].used ? n : 0;
			pthread_mutex_unlock(&v->lock);
			if (!n)
				continue;
			ret = dmirror_evict_pfns(&gpu->mdevice, v->first_pfn + first, n, &busy);
			if (ret < 0 || busy)
				busy_pages++;
		}
		if (!busy_pages)
			break;
		nanosleep(&(struct timespec){ .tv_nsec = 100000 }, NULL);
	}
	return busy_pages;
}

int gpu_vram_init(struct gpu_host *gpu)
{
	struct gpu_vram *v = &gpu->vram;
	uint64_t bytes = gpu->vram_size - gpu->vram_visible, start;
	void *ret;

	pthread_mutex_init(&v->lock, NULL);
	pthread_mutex_init(&v->evict_lock, NULL);
	INIT_LIST_HEAD(&v->lru);
	v->offset = gpu->vram_visible;
	v->npages = bytes >> PAGE_SHIFT;
	v->nblocks = (v->npages + GPU_BLOCK_PAGES - 1) / GPU_BLOCK_PAGES;
	v->used = calloc(v->npages / BITS_PER_LONG + 1, sizeof(*v->used));
	v->blocks = calloc(v->nblocks, sizeof(*v->blocks));
	if (!v->used || !v->blocks)
		return -ENOMEM;
	start = request_free_mem_region(v->npages << PAGE_SHIFT);
	if (!start)
		return -ENOMEM;
	v->first_pfn = start >> PAGE_SHIFT;
	v->pagemap.type = MEMORY_DEVICE_PRIVATE;
	v->pagemap.range.start = start;
	v->pagemap.range.end = start + (v->npages << PAGE_SHIFT) - 1;
	v->pagemap.nr_range = 1;
	v->pagemap.ops = &gpu_pagemap_ops;
	v->pagemap.owner = gpu;
	ret = memremap_pages(&v->pagemap, 0);
	if (IS_ERR(ret))
		return (int)PTR_ERR(ret);
	v->registered = true;
	/* Where the access counters of VRAM pages are read to (refresh_lru()). */
	if (gpu->features & GPU_FEAT_COUNTERS && v->npages <= GPU_PTE_MAX_COUNT) {
		size_t len = (v->npages * sizeof(uint32_t) + PAGE_SIZE - 1) & PAGE_MASK;

		v->counters = aligned_alloc(PAGE_SIZE, len);
		if (v->counters) {
			v->counters_dma = dma_map_single(gpu->pdev, v->counters, len,
							 DMA_FROM_DEVICE);
			if (dma_mapping_error(gpu->pdev, v->counters_dma)) {
				free(v->counters);
				v->counters = NULL;
			}
		}
	}
	return 0;
}

void gpu_vram_fini(struct gpu_host *gpu)
{
	struct gpu_vram *v = &gpu->vram;

	/* Waits for the last page reference (migrations in flight). */
	if (v->registered)
		memunmap_pages(&v->pagemap);
	v->registered = false;
	if (v->counters) {
		dma_unmap_single(gpu->pdev, v->counters_dma,
				 (v->npages * sizeof(uint32_t) + PAGE_SIZE - 1) & PAGE_MASK,
				 DMA_FROM_DEVICE);
		free(v->counters);
		v->counters = NULL;
	}
	free(v->used);
	free(v->blocks);
	v->used = NULL;
	v->blocks = NULL;
	if (v->npages) {
		pthread_mutex_destroy(&v->lock);
		pthread_mutex_destroy(&v->evict_lock);
	}
}
