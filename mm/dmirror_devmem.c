// SPDX-License-Identifier: MIT
/*
 * The test device's memory: chunks of device-private pages, their
 * allocation, CPU faults on them, and eviction.
 *
 * A chunk is a MEMORY_DEVICE_PRIVATE page map over pfn space from
 * request_free_mem_region(), backed by "VRAM": an anonymous mapping of the
 * process, populated up front (so copies into it do not fault) and wiped
 * in fork children, which never own its pages. Pages are allocated
 * next-fit from per-chunk bitmaps, so a migration's pages are mostly
 * consecutive and their way home is one UFFDIO_MOVE per run.
 *
 * CPU faults (migrate_to_ram) bring the faulting page home alone, which
 * wakes the faulting thread as early as possible; when the fault is at
 * the address right after the last range brought home, faults are walking
 * through memory, and the handler goes on with the rest of the 2 MiB block
 * and the three blocks after it, 2 MiB at a time, while the thread works
 * on the page it got. Threads that reach a page being prefetched wait for
 * that block, not for a fault of their own.
 */
#define pr_fmt(fmt) "dmirror: " fmt

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <hetmem/err.h>
#include <hetmem/log.h>
#include <hetmem/migrate.h>
#include "dmirror.h"

#define BITS_PER_LONG	64
#define HPAGE		(2UL << 20)
#define PREFETCH_BLOCKS 4 /* the faulting block and three more */
#define PREFETCH_STEP	(2UL << 20)
#define RANGE_PAGES	(PREFETCH_STEP >> PAGE_SHIFT)

static struct dmirror_chunk *page_chunk(struct page *page)
{
	return container_of(page->pgmap, struct dmirror_chunk, pagemap);
}

void *dmirror_page_backing(struct page *page)
{
	struct dmirror_chunk *chunk = page_chunk(page);

	return chunk->vram + ((page_to_pfn(page) - chunk->first_pfn) << PAGE_SHIFT);
}

static void dmirror_devmem_free(struct page *page)
{
	struct dmirror_chunk *chunk = page_chunk(page);
	struct dmirror_device *mdevice = chunk->mdevice;
	unsigned long i = page_to_pfn(page) - chunk->first_pfn;

	page->zone_device_data = NULL;
	pthread_mutex_lock(&mdevice->lock);
	chunk->used[i / BITS_PER_LONG] &= ~(1UL << (i % BITS_PER_LONG));
	mdevice->cfree++;
	pthread_mutex_unlock(&mdevice->lock);
}

static unsigned int dmirror_devmem_fault(struct vm_fault *vmf);

static const struct dev_pagemap_ops dmirror_devmem_ops = {
	.page_free = dmirror_devmem_free,
	.migrate_to_ram = dmirror_devmem_fault,
};

/* Called with devmem_lock held. */
static int dmirror_add_chunk(struct dmirror_device *mdevice)
{
	unsigned long bytes = mdevice->chunk_pages << PAGE_SHIFT;
	struct dmirror_chunk *chunk;
	uint64_t start;
	void *ret;

	if (mdevice->nchunks == mdevice->max_chunks)
		return -ENOMEM;
	start = request_free_mem_region(bytes);
	chunk = calloc(1, sizeof(*chunk));
	if (!start || !chunk)
		goto fail;
	chunk->used = calloc(mdevice->chunk_pages / BITS_PER_LONG + 1, sizeof(unsigned long));
	chunk->vram = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (!chunk->used || chunk->vram == MAP_FAILED)
		goto fail;
	madvise(chunk->vram, bytes, MADV_WIPEONFORK);
	chunk->mdevice = mdevice;
	chunk->first_pfn = start >> PAGE_SHIFT;
	chunk->npages = mdevice->chunk_pages;
	chunk->pagemap.type = MEMORY_DEVICE_PRIVATE;
	chunk->pagemap.range.start = start;
	chunk->pagemap.range.end = start + bytes - 1;
	chunk->pagemap.nr_range = 1;
	chunk->pagemap.ops = &dmirror_devmem_ops;
	chunk->pagemap.owner = mdevice;
	ret = memremap_pages(&chunk->pagemap, 0);
	if (IS_ERR(ret)) {
		munmap(chunk->vram, bytes);
		free(chunk->used);
		free(chunk);
		return (int)PTR_ERR(ret);
	}
	pthread_mutex_lock(&mdevice->lock);
	mdevice->chunks[mdevice->nchunks++] = chunk;
	pthread_mutex_unlock(&mdevice->lock);
	pr_info("device %p: chunk %u, %lu MiB, pfns [%#lx-%#lx)", (void *)mdevice, mdevice->nchunks,
		bytes >> 20, chunk->first_pfn, chunk->first_pfn + chunk->npages);
	return 0;
fail:
	if (chunk && chunk->vram && chunk->vram != MAP_FAILED)
		munmap(chunk->vram, bytes);
	if (chunk)
		free(chunk->used);
	free(chunk);
	return -ENOMEM;
}

/* Next-fit over the chunks' bitmaps; called with mdevice->lock held. */
static unsigned long alloc_locked(struct dmirror_device *mdevice, unsigned long n,
				  struct page **pages)
{
	unsigned long got = 0;

	for (unsigned int tried = 0; got < n && tried <= mdevice->nchunks; tried++) {
		struct dmirror_chunk *chunk;
		unsigned long i;

		if (mdevice->cur_chunk >= mdevice->nchunks) {
			mdevice->cur_chunk = 0;
			mdevice->cur_page = 0;
		}
		if (!mdevice->nchunks)
			break;
		chunk = mdevice->chunks[mdevice->cur_chunk];
		for (i = mdevice->cur_page; !chunk->remove && got < n && i < chunk->npages; i++) {
			unsigned long *w = &chunk->used[i / BITS_PER_LONG],
				      bit = 1UL << (i % BITS_PER_LONG);

			if (*w == ~0UL && !(i % BITS_PER_LONG)) {
				i += BITS_PER_LONG - 1;
				continue;
			}
			if (*w & bit)
				continue;
			*w |= bit;
			pages[got++] = pfn_to_page(chunk->first_pfn + i);
		}
		if (got < n) {
			mdevice->cur_chunk++;
			mdevice->cur_page = 0;
		} else {
			mdevice->cur_page = i;
		}
	}
	mdevice->calloc += got;
	return got;
}

unsigned long dmirror_devmem_alloc(struct dmirror_device *mdevice, unsigned long n,
				   struct page **pages)
{
	unsigned long got;

	pthread_mutex_lock(&mdevice->lock);
	got = alloc_locked(mdevice, n, pages);
	pthread_mutex_unlock(&mdevice->lock);
	while (got < n) {
		unsigned long more;

		pthread_mutex_lock(&mdevice->devmem_lock);
		if (dmirror_add_chunk(mdevice)) {
			pthread_mutex_unlock(&mdevice->devmem_lock);
			break;
		}
		pthread_mutex_unlock(&mdevice->devmem_lock);
		pthread_mutex_lock(&mdevice->lock);
		more = alloc_locked(mdevice, n - got, pages + got);
		pthread_mutex_unlock(&mdevice->lock);
		if (!more)
			break;
		got += more;
	}
	for (unsigned long i = 0; i < got; i++) {
		if (zone_device_page_init(pages[i]))
			pr_err("device page %#llx was not free", (unsigned long long)pages[i]->pfn);
	}
	return got;
}

void dmirror_forget(struct dmirror_device *mdevice, const unsigned long *vas, unsigned long n)
{
	struct dmirror *d;

	pthread_mutex_lock(&mdevice->mirrors_lock);
	list_for_each_entry(d, &mdevice->mirrors, node) {
		pthread_mutex_lock(&d->mutex);
		for (unsigned long i = 0; i < n; i++) {
			unsigned long *slot = vas[i] ? va_table_slot(&d->pt, vas[i], false) : NULL;

			if (slot)
				__atomic_store_n(slot, 0, __ATOMIC_RELAXED);
		}
		pthread_mutex_unlock(&d->mutex);
	}
	pthread_mutex_unlock(&mdevice->mirrors_lock);
}

/*
 * Copy the collected device pages of @args into system pages: pool pages
 * when there are some (moved into place without a second copy), else the
 * VRAM page itself serves as the source of an UFFDIO_COPY.
 */
static void alloc_and_copy_to_sys(struct dmirror_device *mdevice, struct migrate_vma *args)
{
	unsigned long vas[RANGE_PAGES], nvas = 0, i, run;

	/* The mirrors stop using the pages before their data is copied out. */
	for (i = 0; i < args->npages; i++)
		if ((args->src[i] & MIGRATE_PFN_MIGRATE) && nvas < RANGE_PAGES)
			vas[nvas++] = args->start + (i << PAGE_SHIFT);
	dmirror_forget(mdevice, vas, nvas);

	for (i = 0; i < args->npages; i += run ? run : 1) {
		unsigned long pfn = 0, got = 0;

		for (run = 0; i + run < args->npages && (args->src[i + run] & MIGRATE_PFN_MIGRATE);
		     run++)
			;
		if (run) {
			got = alloc_sys_pages(args->mm, run, &pfn);
			/* A shorter run of pool pages: the rest gets its own next round. */
			if (got)
				run = got;
		}
		for (unsigned long k = 0; k < run; k++) {
			unsigned long s = args->src[i + k];
			void *from = dmirror_page_backing(migrate_pfn_to_page(s));

			if (got) {
				memcpy((void *)((pfn + k) << PAGE_SHIFT), from, PAGE_SIZE);
				args->dst[i + k] = migrate_pfn(pfn + k);
			} else {
				args->dst[i + k] = migrate_pfn((unsigned long)from >> PAGE_SHIFT);
			}
			args->dst[i + k] |= s & MIGRATE_PFN_WRITE;
		}
	}
}

long dmirror_range_to_sys(struct dmirror_device *mdevice, struct hetmem_mm *mm, unsigned long start,
			  unsigned long end, struct page *fault_page)
{
	unsigned long src[RANGE_PAGES], dst[RANGE_PAGES];
	struct migrate_vma args = {
		.src = src,
		.dst = dst,
		.start = start,
		.end = end,
		.pgmap_owner = mdevice,
		.flags = MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
		.fault_page = fault_page,
		.mm = mm,
	};
	long moved = 0;
	int ret;

	if (end - start > PREFETCH_STEP)
		return -EINVAL;
	ret = migrate_vma_setup(&args);
	if (ret)
		return ret;
	if (args.cpages)
		alloc_and_copy_to_sys(mdevice, &args);
	migrate_vma_pages(&args);
	for (unsigned long i = 0; i < args.npages; i++)
		if ((src[i] & MIGRATE_PFN_VALID) && (src[i] & MIGRATE_PFN_MIGRATE))
			moved++;
	migrate_vma_finalize(&args);
	return moved;
}

static unsigned int dmirror_devmem_fault(struct vm_fault *vmf)
{
	struct dmirror_device *mdevice = page_chunk(vmf->page)->mdevice;
	unsigned long addr = vmf->address, end, expect;
	long ret;

	__atomic_add_fetch(&mdevice->cpu_faults, 1, __ATOMIC_RELAXED);
	ret = dmirror_range_to_sys(mdevice, vmf->mm, addr, addr + PAGE_SIZE, vmf->page);
	if (ret < 0)
		return VM_FAULT_SIGBUS;
	expect = __atomic_exchange_n(&mdevice->next_fault, addr + PAGE_SIZE, __ATOMIC_RELAXED);
	if (expect != addr)
		return 0;
	/* Sequential: the rest of this 2 MiB block and the next ones. */
	end = (addr & ~(HPAGE - 1)) + PREFETCH_BLOCKS * HPAGE;
	if (end > vmf->vma->vm_end)
		end = vmf->vma->vm_end;
	for (unsigned long a = addr + PAGE_SIZE; a < end;) {
		unsigned long b = (a & ~(PREFETCH_STEP - 1)) + PREFETCH_STEP;

		if (b > end)
			b = end;
		ret = dmirror_range_to_sys(mdevice, vmf->mm, a, b, NULL);
		if (ret > 0)
			__atomic_add_fetch(&mdevice->prefetched, (unsigned long)ret,
					   __ATOMIC_RELAXED);
		a = b;
	}
	__atomic_store_n(&mdevice->next_fault, end, __ATOMIC_RELAXED);
	return 0;
}

/* Brings every mapped page of a chunk home; true when none is left. */
static bool evict_chunk_once(struct dmirror_chunk *chunk, unsigned long *src, unsigned long *dst)
{
	unsigned long n = chunk->npages;
	bool left = false;

	migrate_device_range(src, chunk->first_pfn, n);
	for (unsigned long i = 0; i < n; i++) {
		struct page *page = pfn_to_page(chunk->first_pfn + i);

		dst[i] = 0;
		if (src[i] & MIGRATE_PFN_MIGRATE) {
			/* Eviction is rare: the VRAM page is the source of a copy. */
			dst[i] = migrate_pfn((unsigned long)dmirror_page_backing(page) >>
					     PAGE_SHIFT) |
				 (src[i] & MIGRATE_PFN_WRITE);
		} else if (page_ref_count(page) &&
			   __atomic_load_n(&page->private, __ATOMIC_ACQUIRE)) {
			left = true; /* busy: a migration has it */
		}
	}
	migrate_device_pages(src, dst, n);
	migrate_device_finalize(src, dst, n);
	return !left;
}

void dmirror_evict_chunks(struct dmirror_device *mdevice, bool remove)
{
	pthread_mutex_lock(&mdevice->devmem_lock);
	for (unsigned int c = 0; c < mdevice->nchunks; c++) {
		struct dmirror_chunk *chunk = mdevice->chunks[c];
		unsigned long *src = calloc(chunk->npages, sizeof(*src));
		unsigned long *dst = calloc(chunk->npages, sizeof(*dst));

		if (remove) {
			pthread_mutex_lock(&mdevice->lock);
			chunk->remove = true;
			pthread_mutex_unlock(&mdevice->lock);
		}
		for (int pass = 0; src && dst && !evict_chunk_once(chunk, src, dst); pass++) {
			if (pass == 1000) {
				pr_err("pages of chunk %u stay busy", c);
				break;
			}
			nanosleep(&(struct timespec){ .tv_nsec = 100000 }, NULL);
		}
		free(src);
		free(dst);
		if (!remove)
			continue;
		/* Waits for the last page reference (migrations in flight). */
		memunmap_pages(&chunk->pagemap);
		munmap(chunk->vram, chunk->npages << PAGE_SHIFT);
		free(chunk->used);
		free(chunk);
	}
	if (remove) {
		pthread_mutex_lock(&mdevice->lock);
		mdevice->nchunks = 0;
		mdevice->cur_chunk = 0;
		mdevice->cur_page = 0;
		pthread_mutex_unlock(&mdevice->lock);
	}
	pthread_mutex_unlock(&mdevice->devmem_lock);
}

struct dmirror_device *dmirror_device_create(unsigned int max_chunks, unsigned int chunk_mb)
{
	struct dmirror_device *mdevice = calloc(1, sizeof(*mdevice));
	int ret;

	if (!mdevice)
		return ERR_PTR(-ENOMEM);
	mdevice->max_chunks = max_chunks ? max_chunks : 16;
	mdevice->chunk_pages = ((unsigned long)(chunk_mb ? chunk_mb : 32) << 20) >> PAGE_SHIFT;
	mdevice->chunks = calloc(mdevice->max_chunks, sizeof(*mdevice->chunks));
	pthread_mutex_init(&mdevice->devmem_lock, NULL);
	pthread_mutex_init(&mdevice->lock, NULL);
	pthread_mutex_init(&mdevice->mirrors_lock, NULL);
	INIT_LIST_HEAD(&mdevice->mirrors);
	mdevice->next_fault = 1;
	if (!mdevice->chunks) {
		ret = -ENOMEM;
		goto fail;
	}
	pthread_mutex_lock(&mdevice->devmem_lock);
	ret = dmirror_add_chunk(mdevice);
	pthread_mutex_unlock(&mdevice->devmem_lock);
	if (ret)
		goto fail;
	return mdevice;
fail:
	free(mdevice->chunks);
	free(mdevice);
	return ERR_PTR(ret);
}

void dmirror_device_destroy(struct dmirror_device *mdevice)
{
	if (!mdevice)
		return;
	if (!list_empty(&mdevice->mirrors))
		pr_err("device destroyed with mirrors open");
	dmirror_evict_chunks(mdevice, true);
	pthread_mutex_destroy(&mdevice->devmem_lock);
	pthread_mutex_destroy(&mdevice->lock);
	pthread_mutex_destroy(&mdevice->mirrors_lock);
	free(mdevice->chunks);
	free(mdevice);
}

void dmirror_device_counters(struct dmirror_device *mdevice, struct dmirror_counters *c)
{
	pthread_mutex_lock(&mdevice->lock);
	c->calloc = mdevice->calloc;
	c->cfree = mdevice->cfree;
	pthread_mutex_unlock(&mdevice->lock);
	c->cpu_faults = __atomic_load_n(&mdevice->cpu_faults, __ATOMIC_RELAXED);
	c->prefetched = __atomic_load_n(&mdevice->prefetched, __ATOMIC_RELAXED);
}
