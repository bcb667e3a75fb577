// SPDX-License-Identifier: MIT
/*
 * What every test device does with its device-private pages, whatever
 * backs them: CPU faults on them (migrate_to_ram), bringing ranges home,
 * and eviction.
 *
 * CPU faults bring the faulting page home alone, which wakes the faulting
 * thread as early as possible; when the fault is at the address right
 * after the last range brought home, faults are walking through memory,
 * and the handler goes on with the rest of the 2 MiB block and the three
 * blocks after it, 2 MiB at a time, while the thread works on the page it
 * got. Threads that reach a page being prefetched wait for that block, not
 * for a fault of their own.
 *
 * Data comes home into pool pages when there are some (moved into place
 * without a second copy); else a backend whose memory the CPU can address
 * lends the device page itself as the source of an UFFDIO_COPY, and any
 * other copies into a staging buffer first. Copies go through the
 * backend, so a device whose memory only its DMA engine reaches moves it
 * with that engine.
 */
#define pr_fmt(fmt) "dmirror: " fmt

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <hetmem/err.h>
#include <hetmem/log.h>
#include <hetmem/migrate.h>
#include "dmirror.h"

#define HPAGE		(2UL << 20)
#define PREFETCH_BLOCKS 4 /* the faulting block and three more */
#define PREFETCH_STEP	(2UL << 20)
#define RANGE_PAGES	(PREFETCH_STEP >> PAGE_SHIFT)

void dmirror_device_init(struct dmirror_device *mdevice, const struct dmirror_backend_ops *ops,
			 void *owner)
{
	mdevice->ops = ops;
	mdevice->owner = owner;
	pthread_mutex_init(&mdevice->lock, NULL);
	pthread_mutex_init(&mdevice->mirrors_lock, NULL);
	INIT_LIST_HEAD(&mdevice->mirrors);
	mdevice->next_fault = 1;
}

void dmirror_device_fini(struct dmirror_device *mdevice)
{
	if (!list_empty(&mdevice->mirrors))
		pr_err("device destroyed with mirrors open");
	pthread_mutex_destroy(&mdevice->lock);
	pthread_mutex_destroy(&mdevice->mirrors_lock);
}

void dmirror_count_alloc(struct dmirror_device *mdevice, unsigned long n)
{
	pthread_mutex_lock(&mdevice->lock);
	mdevice->calloc += n;
	pthread_mutex_unlock(&mdevice->lock);
}

void dmirror_count_free(struct dmirror_device *mdevice, unsigned long n)
{
	pthread_mutex_lock(&mdevice->lock);
	mdevice->cfree += n;
	pthread_mutex_unlock(&mdevice->lock);
}

void dmirror_device_destroy(struct dmirror_device *mdevice)
{
	if (mdevice)
		mdevice->ops->destroy(mdevice);
}

void dmirror_device_counters(struct dmirror_device *mdevice, struct dmirror_counters *c)
{
	pthread_mutex_lock(&mdevice->lock);
	c->calloc = mdevice->calloc;
	c->cfree = mdevice->cfree;
	pthread_mutex_unlock(&mdevice->lock);
	c->cpu_faults = __atomic_load_n(&mdevice->cpu_faults, __ATOMIC_RELAXED);
	c->prefetched = __atomic_load_n(&mdevice->prefetched, __ATOMIC_RELAXED);
	c->evicted = __atomic_load_n(&mdevice->evicted, __ATOMIC_RELAXED);
}

void dmirror_forget(struct dmirror_device *mdevice, const unsigned long *vas, unsigned long n)
{
	struct dmirror *d;

	pthread_mutex_lock(&mdevice->mirrors_lock);
	list_for_each_entry(d, &mdevice->mirrors, node) {
		unsigned long first = 0, last = 0;

		pthread_mutex_lock(&d->mutex);
		for (unsigned long i = 0; i <= n; i++) {
			unsigned long *slot = i < n && vas[i] ? va_table_slot(&d->pt, vas[i], false) :
								NULL;
			bool had = slot && __atomic_load_n(slot, __ATOMIC_RELAXED);

			if (had)
				__atomic_store_n(slot, 0, __ATOMIC_RELAXED);
			/* The device hears of runs of consecutive addresses at once. */
			if (last && (!had || vas[i] != last)) {
				if (mdevice->ops->unmap)
					mdevice->ops->unmap(d, first, last);
				last = 0;
			}
			if (!had)
				continue;
			if (!last)
				first = vas[i];
			last = vas[i] + PAGE_SIZE;
		}
		pthread_mutex_unlock(&d->mutex);
	}
	pthread_mutex_unlock(&mdevice->mirrors_lock);
}

/*
 * System destinations for the collected device pages of @src, filled
 * through the backend; dst[] names them. *@staging is a buffer to unmap
 * (*@staging_len bytes) once the pages are installed. On a failed copy
 * nothing is given a destination.
 */
static int copy_home(struct dmirror_device *mdevice, struct hetmem_mm *mm,
		     const unsigned long *src, unsigned long *dst, unsigned long npages,
		     void **staging, size_t *staging_len)
{
	unsigned long *addrs = malloc(npages * sizeof(*addrs)), i, run, k = 0, used = 0;
	struct page **pages = malloc(npages * sizeof(*pages));
	bool *pooled = calloc(npages, sizeof(*pooled));
	char *stage = NULL;
	int ret = -ENOMEM;

	*staging = NULL;
	*staging_len = 0;
	if (!addrs || !pages || !pooled)
		goto out;
	for (i = 0; i < npages; i++)
		dst[i] = 0;
	for (i = 0; i < npages; i += run ? run : 1) {
		unsigned long pfn = 0, got = 0;

		for (run = 0; i + run < npages && (src[i + run] & MIGRATE_PFN_MIGRATE); run++)
			;
		if (run && mm) {
			got = alloc_sys_pages(mm, run, &pfn);
			/* A shorter run of pool pages: the rest gets its own next round. */
			if (got)
				run = got;
		}
		for (unsigned long j = 0; j < run; j++) {
			struct page *page = migrate_pfn_to_page(src[i + j]);
			unsigned long to;
			void *cpu;

			if (got) {
				to = (pfn + j) << PAGE_SHIFT;
				pooled[i + j] = true;
			} else if (mdevice->ops->page_cpu_addr &&
				   (cpu = mdevice->ops->page_cpu_addr(page))) {
				/* The device page itself is the source of the install. */
				dst[i + j] = migrate_pfn((uintptr_t)cpu >> PAGE_SHIFT) |
					     (src[i + j] & MIGRATE_PFN_WRITE);
				continue;
			} else {
				if (!stage) {
					stage = mmap(NULL, npages << PAGE_SHIFT,
						     PROT_READ | PROT_WRITE,
						     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
					if (stage == MAP_FAILED) {
						stage = NULL;
						goto fail;
					}
				}
				to = (uintptr_t)stage + (used++ << PAGE_SHIFT);
			}
			pages[k] = page;
			addrs[k++] = to;
			dst[i + j] = migrate_pfn(to >> PAGE_SHIFT) | (src[i + j] & MIGRATE_PFN_WRITE);
		}
	}
	ret = k ? mdevice->ops->copy_to_sys(mdevice, addrs, pages, k) : 0;
	if (!ret) {
		*staging = stage;
		*staging_len = npages << PAGE_SHIFT;
		goto out;
	}
	pr_warn("copy of %lu pages home failed: %d", k, ret);
fail:
	for (i = 0; i < npages; i++) {
		if (pooled[i])
			free_sys_pages(mm, migrate_pfn_to_pfn(dst[i]), 1);
		dst[i] = 0;
	}
	if (stage)
		munmap(stage, npages << PAGE_SHIFT);
	if (!ret)
		ret = -ENOMEM;
out:
	free(addrs);
	free(pages);
	free(pooled);
	return ret;
}

long dmirror_range_to_sys(struct dmirror_device *mdevice, struct hetmem_mm *mm, unsigned long start,
			  unsigned long end, struct page *fault_page)
{
	unsigned long src[RANGE_PAGES], dst[RANGE_PAGES], vas[RANGE_PAGES], nvas = 0;
	struct migrate_vma args = {
		.src = src,
		.dst = dst,
		.start = start,
		.end = end,
		.pgmap_owner = mdevice->owner,
		.flags = MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
		.fault_page = fault_page,
		.mm = mm,
	};
	size_t staging_len = 0;
	void *staging = NULL;
	long moved = 0;
	int ret;

	if (end - start > PREFETCH_STEP)
		return -EINVAL;
	ret = migrate_vma_setup(&args);
	if (ret)
		return ret;
	dmirror_hook(DMIRROR_HOOK_TO_SYS, start, end);
	if (args.cpages) {
		/* The mirrors stop using the pages before their data is copied out. */
		for (unsigned long i = 0; i < args.npages; i++)
			if (src[i] & MIGRATE_PFN_MIGRATE)
				vas[nvas++] = args.start + (i << PAGE_SHIFT);
		dmirror_forget(mdevice, vas, nvas);
		ret = copy_home(mdevice, args.mm, src, dst, args.npages, &staging, &staging_len);
	}
	migrate_vma_pages(&args);
	for (unsigned long i = 0; i < args.npages; i++)
		if ((src[i] & MIGRATE_PFN_VALID) && (src[i] & MIGRATE_PFN_MIGRATE))
			moved++;
	migrate_vma_finalize(&args);
	if (staging)
		munmap(staging, staging_len);
	return ret ? ret : moved;
}

unsigned int dmirror_migrate_to_ram(struct dmirror_device *mdevice, struct vm_fault *vmf)
{
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

long dmirror_evict_pfns(struct dmirror_device *mdevice, unsigned long first_pfn,
			unsigned long npages, bool *busy)
{
	unsigned long src[RANGE_PAGES], dst[RANGE_PAGES], collected = 0;
	size_t staging_len = 0;
	void *staging = NULL;
	long moved = 0;
	int ret = 0;

	if (npages > RANGE_PAGES)
		return -EINVAL;
	if (busy)
		*busy = false;
	migrate_device_range(src, first_pfn, npages);
	for (unsigned long i = 0; i < npages; i++) {
		struct page *page = pfn_to_page(first_pfn + i);

		if (src[i] & MIGRATE_PFN_MIGRATE)
			collected++;
		else if (busy && page && page_ref_count(page) &&
			 __atomic_load_n(&page->private, __ATOMIC_ACQUIRE))
			*busy = true; /* a migration has it */
	}
	if (!collected)
		return 0;
	dmirror_hook(DMIRROR_HOOK_EVICT, 0, 0);
	ret = copy_home(mdevice, hetmem_mm_current(), src, dst, npages, &staging, &staging_len);
	migrate_device_pages(src, dst, npages);
	for (unsigned long i = 0; i < npages; i++)
		moved += !!(src[i] & MIGRATE_PFN_MIGRATE);
	migrate_device_finalize(src, dst, npages);
	if (staging)
		munmap(staging, staging_len);
	/* Collected but still here (no copy, no install): the caller tries again. */
	if (busy && (ret || (unsigned long)moved < collected))
		*busy = true;
	__atomic_add_fetch(&mdevice->evicted, (unsigned long)moved, __ATOMIC_RELAXED);
	return ret ? ret : moved;
}
