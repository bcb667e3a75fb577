// SPDX-License-Identifier: MIT
/*
 * The test device's mirrors: a page table of the process per open mirror,
 * filled by hmm_range_fault() and emptied by invalidations, and the
 * commands the kernel's test driver takes as ioctls.
 *
 * The table (the driver's record of what the device maps, as the kernel
 * test driver's xarray) maps an address to a pfn with DPT_VALID, DPT_WRITE
 * or DPT_ATOMIC: a system page (its address, or the zero page's pfn) or
 * one of the device's pages. The backend is told of every change
 * (ops->map, ops->unmap) to program the device's own page table, and does
 * the device's accesses (ops->access) and copies. All of it is generic:
 * what a device driver of the test interface does around its hardware.
 */
#define pr_fmt(fmt) "dmirror: " fmt

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hetmem/err.h>
#include <hetmem/hmm.h>
#include <hetmem/log.h>
#include <hetmem/migrate.h>
#include "dmirror.h"

#define FAULT_PAGES   64UL /* pages per hmm_range_fault(), as the kernel driver */
#define MIGRATE_PAGES 4096UL /* pages per migrate_vma round to the device */

void (*dmirror_test_hook)(enum dmirror_hook_point where, unsigned long start, unsigned long end);

/* --- the table --------------------------------------------------------------------- */

unsigned long dmirror_pt_get(struct dmirror *d, unsigned long va)
{
	unsigned long *slot = va_table_slot(&d->pt, va, false);

	return slot ? __atomic_load_n(slot, __ATOMIC_RELAXED) : 0;
}

static int dpt_set(struct dmirror *d, unsigned long va, unsigned long e)
{
	unsigned long *slot = va_table_slot(&d->pt, va, e != 0);

	if (slot)
		__atomic_store_n(slot, e, __ATOMIC_RELAXED);
	return slot || !e ? 0 : -ENOMEM;
}

static bool dpt_clear(unsigned long va, unsigned long *slot, void *arg)
{
	bool *any = arg;

	__atomic_store_n(slot, 0, __ATOMIC_RELAXED);
	*any = true;
	return true;
}

/* Drop [start, end) from the table and the device; under d->mutex. */
static void dmirror_unmap_locked(struct dmirror *d, unsigned long start, unsigned long end)
{
	bool any = false;

	va_table_for_each(&d->pt, start, end, dpt_clear, &any);
	if (any && d->mdevice->ops->unmap)
		d->mdevice->ops->unmap(d, start, end);
}

/* Enter @n entries from @va and tell the device; under d->mutex. */
static int dmirror_map_locked(struct dmirror *d, unsigned long va, unsigned long n,
			      const unsigned long *entries)
{
	const struct dmirror_backend_ops *ops = d->mdevice->ops;
	int ret = 0;

	for (unsigned long i = 0; i < n && !ret; i++)
		ret = dpt_set(d, va + (i << PAGE_SHIFT), entries[i]);
	if (!ret && ops->map)
		ret = ops->map(d, va, n, entries);
	if (ret)
		dmirror_unmap_locked(d, va, va + (n << PAGE_SHIFT));
	return ret;
}

void dmirror_log_add(struct dmirror_range_log *log, unsigned long start, unsigned long end)
{
	log->r[log->n % DMIRROR_LOG].start = start;
	log->r[log->n % DMIRROR_LOG].end = end;
	log->n++;
}

static bool dmirror_interval_invalidate(struct mmu_interval_notifier *mni,
					const struct mmu_notifier_range *range,
					unsigned long cur_seq)
{
	struct dmirror *d = container_of(mni, struct dmirror, notifier);

	pthread_mutex_lock(&d->mutex);
	/*
	 * Every change is logged: a transfer that ran without the mutex, or a
	 * fault that looked before it, asks the log (struct dmirror_range_log).
	 */
	dmirror_log_add(&d->changed, range->start, range->end);
	/*
	 * Our own migrations update the table themselves, as the kernel
	 * driver's do: a device that reaches system pages through the CPU's
	 * page table (no unmap op) cannot use a stale entry. One that maps
	 * them by DMA address must let go of them before they move.
	 */
	if (range->event == MMU_NOTIFY_MIGRATE && range->owner == d->mdevice->owner &&
	    !d->mdevice->ops->unmap) {
		pthread_mutex_unlock(&d->mutex);
		return true;
	}
	mmu_interval_set_seq(mni, cur_seq);
	dmirror_unmap_locked(d, range->start, range->end);
	if (range->event == MMU_NOTIFY_UNMAP)
		dmirror_log_add(&d->unmapped, range->start, range->end);
	pthread_mutex_unlock(&d->mutex);
	return true;
}

bool dmirror_log_hit(const struct dmirror_range_log *log, uint64_t since, unsigned long start,
		     unsigned long end)
{
	bool hit = log->n - since > DMIRROR_LOG;

	for (uint64_t i = since; i < log->n && !hit; i++)
		hit = log->r[i % DMIRROR_LOG].start < end && log->r[i % DMIRROR_LOG].end > start;
	return hit;
}

uint64_t dmirror_unmaps(struct dmirror *d)
{
	uint64_t n;

	pthread_mutex_lock(&d->mutex);
	n = d->unmapped.n;
	pthread_mutex_unlock(&d->mutex);
	return n;
}

bool dmirror_unmapped_since(struct dmirror *d, uint64_t unmaps, unsigned long start,
			    unsigned long end)
{
	bool hit;

	pthread_mutex_lock(&d->mutex);
	hit = dmirror_log_hit(&d->unmapped, unmaps, start, end);
	pthread_mutex_unlock(&d->mutex);
	return hit;
}

static const struct mmu_interval_notifier_ops dmirror_min_ops = {
	.invalidate = dmirror_interval_invalidate,
};

struct dmirror *dmirror_open(struct dmirror_device *mdevice)
{
	struct dmirror *d = calloc(1, sizeof(*d));
	int ret;

	if (!d)
		return ERR_PTR(-ENOMEM);
	d->mdevice = mdevice;
	pthread_mutex_init(&d->mutex, NULL);
	ret = va_table_init(&d->pt);
	if (ret)
		goto fail;
	d->mm = hetmem_mm_get();
	if (IS_ERR(d->mm)) {
		ret = (int)PTR_ERR(d->mm);
		goto fail;
	}
	ret = mdevice->ops->mirror_open ? mdevice->ops->mirror_open(d) : 0;
	if (ret) {
		hetmem_mm_put(d->mm);
		goto fail;
	}
	/* The whole address space, as the kernel driver. */
	ret = mmu_interval_notifier_insert(&d->notifier, d->mm, 0, ~0UL & PAGE_MASK,
					   &dmirror_min_ops);
	hetmem_mm_put(d->mm); /* the notifier holds its own */
	if (ret) {
		if (mdevice->ops->mirror_close)
			mdevice->ops->mirror_close(d);
		goto fail;
	}
	pthread_mutex_lock(&mdevice->mirrors_lock);
	list_add(&d->node, &mdevice->mirrors);
	pthread_mutex_unlock(&mdevice->mirrors_lock);
	return d;
fail:
	va_table_destroy(&d->pt);
	pthread_mutex_destroy(&d->mutex);
	free(d);
	return ERR_PTR(ret);
}

void dmirror_close(struct dmirror *d)
{
	struct dmirror_device *mdevice;

	if (!d)
		return;
	mdevice = d->mdevice;
	hetmem_mm_grab(d->mm);
	mmu_interval_notifier_remove(&d->notifier);
	pthread_mutex_lock(&mdevice->mirrors_lock);
	list_del(&d->node);
	pthread_mutex_unlock(&mdevice->mirrors_lock);
	/* As the kernel driver's release: the device's pages come home. */
	mdevice->ops->release(mdevice, false);
	pthread_mutex_lock(&d->mutex);
	dmirror_unmap_locked(d, 0, ~0UL & PAGE_MASK);
	pthread_mutex_unlock(&d->mutex);
	if (mdevice->ops->mirror_close)
		mdevice->ops->mirror_close(d);
	hetmem_mm_put(d->mm);
	va_table_destroy(&d->pt);
	pthread_mutex_destroy(&d->mutex);
	free(d);
}

/* --- faulting into the table ------------------------------------------------------- */

/*
 * Map what hmm_range_fault() found, under d->mutex: every valid page, a
 * run at a time. A page that was asked for and is not valid is -EFAULT.
 */
static int dmirror_do_fault(struct dmirror *d, struct hmm_range *range, const unsigned long *req)
{
	unsigned long n = (range->end - range->start) >> PAGE_SHIFT, e[FAULT_PAGES], first = 0;
	unsigned long *pfns = range->hmm_pfns, run = 0;
	int ret = 0;

	for (unsigned long i = 0; i <= n && !ret; i++) {
		unsigned long want = i < n ? range->default_flags | (req ? req[i] : 0) : 0;
		bool valid = i < n && (pfns[i] & HMM_PFN_VALID) && !(pfns[i] & HMM_PFN_ERROR);

		if (i < n && (want & HMM_PFN_REQ_FAULT) &&
		    (!valid || ((want & HMM_PFN_REQ_WRITE) && !(pfns[i] & HMM_PFN_WRITE))))
			ret = -EFAULT;
		if (run && (!valid || ret)) {
			int r = dmirror_map_locked(d, range->start + (first << PAGE_SHIFT), run, e);

			ret = ret ? ret : r;
			run = 0;
		}
		if (!valid || ret)
			continue;
		if (!run)
			first = i;
		e[run++] = hmm_pfn_to_pfn(pfns[i]) << DPT_SHIFT | DPT_VALID |
			   (pfns[i] & HMM_PFN_WRITE ? DPT_WRITE : 0);
	}
	return ret;
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* The kernel driver's loop around hmm_range_fault(), then the mapping. */
static int dmirror_range_fault(struct dmirror *d, struct hmm_range *range, const unsigned long *req)
{
	unsigned long n = (range->end - range->start) >> PAGE_SHIFT;
	struct timespec t0;
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		uint64_t changed;

		if (elapsed_ms(&t0) > HMM_RANGE_DEFAULT_TIMEOUT)
			return -EBUSY;
		/* The entries are requests going in and answers coming out. */
		if (req)
			memcpy(range->hmm_pfns, req, n * sizeof(*req));
		range->notifier_seq = mmu_interval_read_begin(range->notifier);
		pthread_mutex_lock(&d->mutex);
		changed = d->changed.n;
		pthread_mutex_unlock(&d->mutex);
		ret = hmm_range_fault(range);
		if (ret == -EBUSY)
			continue;
		if (ret)
			return ret;
		pthread_mutex_lock(&d->mutex);
		/*
		 * Our own migrations leave the sequence alone (as the kernel
		 * driver's), but one taking a device page home was logged: a
		 * page seen before it must not be mapped.
		 */
		if (!mmu_interval_read_retry(range->notifier, range->notifier_seq) &&
		    !dmirror_log_hit(&d->changed, changed, range->start, range->end))
			break;
		pthread_mutex_unlock(&d->mutex);
	}
	ret = dmirror_do_fault(d, range, req);
	pthread_mutex_unlock(&d->mutex);
	return ret;
}

int dmirror_fault(struct dmirror *d, unsigned long start, unsigned long end, bool write)
{
	unsigned long pfns[FAULT_PAGES];
	struct hmm_range range = {
		.notifier = &d->notifier,
		.hmm_pfns = pfns,
		.default_flags = HMM_PFN_REQ_FAULT | (write ? HMM_PFN_REQ_WRITE : 0),
		.dev_private_owner = d->mdevice->owner,
	};
	int ret = 0;

	for (unsigned long a = start; a < end && !ret; a = range.end) {
		range.start = a;
		range.end =
			end - a > FAULT_PAGES << PAGE_SHIFT ? a + (FAULT_PAGES << PAGE_SHIFT) : end;
		ret = dmirror_range_fault(d, &range, NULL);
	}
	return ret;
}

int dmirror_fault_pages(struct dmirror *d, unsigned long start, unsigned long npages,
			const unsigned long *req)
{
	unsigned long pfns[FAULT_PAGES];
	struct hmm_range range = {
		.notifier = &d->notifier,
		.start = start,
		.end = start + (npages << PAGE_SHIFT),
		.hmm_pfns = pfns,
		.pfn_flags_mask = HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE,
		.dev_private_owner = d->mdevice->owner,
	};

	if (!npages || npages > FAULT_PAGES)
		return -EINVAL;
	return dmirror_range_fault(d, &range, req);
}

/* --- reading and writing ------------------------------------------------------------ */

static int check_cmd(const struct hmm_dmirror_cmd *cmd)
{
	if (cmd->addr & (PAGE_SIZE - 1) || !cmd->npages || cmd->npages > (~0UL >> PAGE_SHIFT) ||
	    cmd->addr + (cmd->npages << PAGE_SHIFT) <= cmd->addr)
		return -EINVAL;
	return 0;
}

static int dmirror_rw(struct dmirror *d, struct hmm_dmirror_cmd *cmd, bool write)
{
	unsigned long start = cmd->addr, end = start + (cmd->npages << PAGE_SHIFT);
	size_t size = cmd->npages << PAGE_SHIFT;
	char *bounce;
	int ret = check_cmd(cmd);

	cmd->cpages = cmd->faults = 0;
	if (ret)
		return ret;
	/* What the application unmapped before asking is out of the table. */
	hetmem_mm_sync(d->mm);
	bounce = malloc(size);
	if (!bounce)
		return -ENOMEM;
	if (write)
		memcpy(bounce, (void *)(uintptr_t)cmd->ptr, size);
	ret = d->mdevice->ops->access(d, start, end, bounce, write, true, &cmd->cpages,
				      &cmd->faults);
	if (!ret && !write)
		memcpy((void *)(uintptr_t)cmd->ptr, bounce, size);
	free(bounce);
	return ret;
}

int dmirror_read(struct dmirror *d, struct hmm_dmirror_cmd *cmd)
{
	return dmirror_rw(d, cmd, false);
}

int dmirror_write(struct dmirror *d, struct hmm_dmirror_cmd *cmd)
{
	return dmirror_rw(d, cmd, true);
}

/* Read back what the table maps, without faulting, as the kernel driver does. */
static int dmirror_read_back(struct dmirror *d, struct hmm_dmirror_cmd *cmd)
{
	unsigned long start = cmd->addr, end = start + (cmd->npages << PAGE_SHIFT);
	char *bounce = malloc(cmd->npages << PAGE_SHIFT);
	int ret;

	if (!bounce)
		return -ENOMEM;
	cmd->cpages = 0;
	ret = d->mdevice->ops->access(d, start, end, bounce, false, false, &cmd->cpages,
				      &cmd->faults);
	if (!ret)
		memcpy((void *)(uintptr_t)cmd->ptr, bounce, cmd->npages << PAGE_SHIFT);
	free(bounce);
	return ret;
}

/* --- migration --------------------------------------------------------------------- */

/*
 * Device pages for what setup collected, filled through the backend's
 * copy; dst[] names them. Pages that did not get one stay behind.
 */
static void alloc_and_copy_to_dev(struct dmirror *d, struct migrate_vma *args, struct page **pages,
				  unsigned long *from)
{
	struct dmirror_device *mdevice = d->mdevice;
	unsigned long want = 0, got, k = 0;

	for (unsigned long i = 0; i < args->npages; i++)
		want += !!(args->src[i] & MIGRATE_PFN_MIGRATE);
	got = mdevice->ops->alloc_pages(mdevice, want, pages);
	for (unsigned long i = 0; i < args->npages && k < got; i++) {
		unsigned long s = args->src[i];

		if (!(s & MIGRATE_PFN_MIGRATE))
			continue;
		/* An empty source: a never-populated or zero page. */
		from[k] = s & MIGRATE_PFN_VALID ? migrate_pfn_to_pfn(s) << PAGE_SHIFT : 0;
		args->dst[i] = migrate_pfn(page_to_pfn(pages[k])) | (s & MIGRATE_PFN_WRITE);
		k++;
	}
	if (!k || !mdevice->ops->copy_to_dev(mdevice, pages, from, k))
		return;
	/* The data did not get there: nothing migrates. */
	pr_warn("copy of %lu pages to the device failed", k);
	for (unsigned long i = 0; i < args->npages; i++)
		args->dst[i] = 0;
	for (unsigned long i = 0; i < k; i++) {
		unlock_page(pages[i]);
		put_page(pages[i]);
	}
}

static void finalize_and_map(struct dmirror *d, struct migrate_vma *args)
{
	unsigned long e[FAULT_PAGES], first = 0, n = 0;

	/*
	 * Not a page the application unmapped or moved (mremap) meanwhile:
	 * the invalidation of the old address may be over already, and an
	 * unmapped page is freed at finalize. The check is under the mutex the
	 * invalidation takes, and the event marks the page away before it
	 * invalidates: a page not away here is taken out of the table by the
	 * invalidation still to come.
	 */
	pthread_mutex_lock(&d->mutex);
	for (unsigned long i = 0; i <= args->npages; i++) {
		struct page *dpage = i < args->npages ? migrate_pfn_to_page(args->dst[i]) : NULL;
		bool moved = dpage && (args->src[i] & MIGRATE_PFN_MIGRATE) &&
			     !migrate_vma_page_away(args, i);

		/* Runs of consecutive addresses, FAULT_PAGES at most, map at once. */
		if (n && (!moved || n == FAULT_PAGES)) {
			dmirror_map_locked(d, args->start + (first << PAGE_SHIFT), n, e);
			n = 0;
		}
		if (!moved)
			continue;
		if (!n)
			first = i;
		e[n++] = page_to_pfn(dpage) << DPT_SHIFT | DPT_VALID |
			 (args->dst[i] & MIGRATE_PFN_WRITE ? DPT_WRITE : 0);
	}
	pthread_mutex_unlock(&d->mutex);
}

/* The readable mapping at @addr, clamped to @end and @max pages; 0 when none. */
static unsigned long next_stop(struct dmirror *d, unsigned long addr, unsigned long end,
			       unsigned long max)
{
	struct vm_area_struct vma;
	unsigned long next;

	if (hetmem_vma_lookup(d->mm, addr, &vma) || !(vma.vm_flags & VM_READ))
		return 0;
	next = end - addr > max << PAGE_SHIFT ? addr + (max << PAGE_SHIFT) : end;
	return next > vma.vm_end ? vma.vm_end : next;
}

int dmirror_migrate_range(struct dmirror *d, unsigned long start, unsigned long end,
			  unsigned long *moved)
{
	unsigned long n = (end - start) >> PAGE_SHIFT, next;
	unsigned long *src, *dst, *from;
	struct page **pages;
	int ret = 0;

	*moved = 0;
	if (n > MIGRATE_PAGES)
		n = MIGRATE_PAGES;
	src = malloc(n * sizeof(*src));
	dst = malloc(n * sizeof(*dst));
	from = malloc(n * sizeof(*from));
	pages = malloc(n * sizeof(*pages));
	if (!src || !dst || !from || !pages) {
		ret = -ENOMEM;
		goto out;
	}
	for (unsigned long a = start; a < end; a = next) {
		struct migrate_vma args = {
			.src = src,
			.dst = dst,
			.start = a,
			.pgmap_owner = d->mdevice->owner,
			.flags = MIGRATE_VMA_SELECT_SYSTEM,
			.mm = d->mm,
		};

		next = next_stop(d, a, end, n);
		if (!next) {
			ret = -EINVAL;
			goto out;
		}
		args.end = next;
		ret = migrate_vma_setup(&args);
		if (ret)
			goto out;
		dmirror_hook(DMIRROR_HOOK_TO_DEV, args.start, args.end);
		if (args.cpages)
			alloc_and_copy_to_dev(d, &args, pages, from);
		migrate_vma_pages(&args);
		finalize_and_map(d, &args);
		for (unsigned long i = 0; i < args.npages; i++)
			*moved += !!(src[i] & MIGRATE_PFN_MIGRATE);
		migrate_vma_finalize(&args);
	}
out:
	free(src);
	free(dst);
	free(from);
	free(pages);
	return ret;
}

int dmirror_migrate_to_dev(struct dmirror *d, struct hmm_dmirror_cmd *cmd)
{
	unsigned long start = cmd->addr, end = start + (cmd->npages << PAGE_SHIFT), moved;
	int ret = check_cmd(cmd);

	cmd->cpages = cmd->faults = 0;
	if (ret)
		return ret;
	ret = dmirror_migrate_range(d, start, end, &moved);
	if (ret)
		return ret;
	/* The data as the device now has it; -ENOENT if a page did not come. */
	if (cmd->ptr)
		return dmirror_read_back(d, cmd);
	cmd->cpages = moved;
	return 0;
}

int dmirror_migrate_to_sys(struct dmirror *d, struct hmm_dmirror_cmd *cmd)
{
	unsigned long start = cmd->addr, end = start + (cmd->npages << PAGE_SHIFT), next;
	int ret = check_cmd(cmd);

	cmd->cpages = cmd->faults = 0;
	if (ret)
		return ret;
	for (unsigned long a = start; a < end; a = next) {
		long moved;

		/* At most the 2 MiB dmirror_range_to_sys() takes at a time. */
		next = next_stop(d, a, end, 512);
		if (!next)
			return -EINVAL;
		moved = dmirror_range_to_sys(d->mdevice, d->mm, a, next, NULL);
		if (moved < 0)
			return (int)moved;
		cmd->cpages += (uint64_t)moved;
	}
	return 0;
}

/* --- snapshot ---------------------------------------------------------------------- */

struct dmirror_interval {
	struct mmu_interval_notifier notifier;
	struct dmirror *dmirror;
};

static bool dmirror_snapshot_invalidate(struct mmu_interval_notifier *mni,
					const struct mmu_notifier_range *range,
					unsigned long cur_seq)
{
	struct dmirror_interval *dmi = container_of(mni, struct dmirror_interval, notifier);

	/* Any invalidation in the interval spoils the whole snapshot. */
	pthread_mutex_lock(&dmi->dmirror->mutex);
	mmu_interval_set_seq(mni, cur_seq);
	pthread_mutex_unlock(&dmi->dmirror->mutex);
	return true;
}

static const struct mmu_interval_notifier_ops dmirror_mrn_ops = {
	.invalidate = dmirror_snapshot_invalidate,
};

static unsigned char dmirror_mkentry(struct dmirror *d, unsigned long entry)
{
	struct page *page;
	unsigned char perm;

	if (entry & HMM_PFN_ERROR)
		return HMM_DMIRROR_PROT_ERROR;
	if (!(entry & HMM_PFN_VALID))
		return HMM_DMIRROR_PROT_NONE;
	page = hmm_pfn_to_page(entry);
	if (page && is_device_private_page(page))
		perm = page->pgmap->owner == d->mdevice->owner ?
			       HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL :
			       HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE;
	else if (is_zero_pfn(hmm_pfn_to_pfn(entry)))
		perm = HMM_DMIRROR_PROT_ZERO;
	else
		perm = HMM_DMIRROR_PROT_NONE;
	perm |= entry & HMM_PFN_WRITE ? HMM_DMIRROR_PROT_WRITE : HMM_DMIRROR_PROT_READ;
	if (hmm_pfn_to_map_order(entry) + PAGE_SHIFT == 21)
		perm |= HMM_DMIRROR_PROT_PMD;
	else if (hmm_pfn_to_map_order(entry) + PAGE_SHIFT == 30)
		perm |= HMM_DMIRROR_PROT_PUD;
	return perm;
}

static int dmirror_range_snapshot(struct dmirror *d, struct hmm_range *range, unsigned char *perm)
{
	struct dmirror_interval dmi = { .dmirror = d };
	struct timespec t0;
	int ret;

	range->notifier = &dmi.notifier;
	ret = mmu_interval_notifier_insert(range->notifier, d->mm, range->start,
					   range->end - range->start, &dmirror_mrn_ops);
	if (ret)
		return ret;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (elapsed_ms(&t0) > HMM_RANGE_DEFAULT_TIMEOUT) {
			ret = -EBUSY;
			goto out;
		}
		range->notifier_seq = mmu_interval_read_begin(range->notifier);
		ret = hmm_range_fault(range);
		if (ret == -EBUSY)
			continue;
		if (ret)
			goto out;
		pthread_mutex_lock(&d->mutex);
		if (!mmu_interval_read_retry(range->notifier, range->notifier_seq))
			break;
		pthread_mutex_unlock(&d->mutex);
	}
	for (unsigned long i = 0; i < (range->end - range->start) >> PAGE_SHIFT; i++)
		perm[i] = dmirror_mkentry(d, range->hmm_pfns[i]);
	pthread_mutex_unlock(&d->mutex);
out:
	mmu_interval_notifier_remove(range->notifier);
	return ret;
}

int dmirror_snapshot(struct dmirror *d, struct hmm_dmirror_cmd *cmd)
{
	unsigned long start = cmd->addr, end = start + (cmd->npages << PAGE_SHIFT), next;
	unsigned char perm[FAULT_PAGES], *uptr = (unsigned char *)(uintptr_t)cmd->ptr;
	unsigned long pfns[FAULT_PAGES];
	struct hmm_range range = { .hmm_pfns = pfns, .dev_private_owner = d->mdevice->owner };
	int ret = check_cmd(cmd);

	cmd->cpages = cmd->faults = 0;
	if (ret)
		return ret;
	for (unsigned long a = start; a < end; a = next) {
		unsigned long n;

		next = end - a > FAULT_PAGES << PAGE_SHIFT ? a + (FAULT_PAGES << PAGE_SHIFT) : end;
		range.start = a;
		range.end = next;
		ret = dmirror_range_snapshot(d, &range, perm);
		if (ret)
			return ret;
		n = (next - a) >> PAGE_SHIFT;
		memcpy(uptr, perm, n);
		uptr += n;
		cmd->cpages += n;
	}
	return 0;
}

/* --- device-exclusive access ------------------------------------------------------- */

int dmirror_exclusive(struct dmirror *d, struct hmm_dmirror_cmd *cmd)
{
	unsigned long start = cmd->addr, end = start + (cmd->npages << PAGE_SHIFT), next;
	unsigned long pfns[FAULT_PAGES];
	int ret = check_cmd(cmd);

	cmd->cpages = cmd->faults = 0;
	if (ret)
		return ret;
	for (unsigned long a = start; a < end; a = next) {
		unsigned long n, mapped = 0;
		long got;

		next = end - a > FAULT_PAGES << PAGE_SHIFT ? a + (FAULT_PAGES << PAGE_SHIFT) : end;
		n = (next - a) >> PAGE_SHIFT;
		got = make_device_exclusive_range(d->mm, a, next, pfns, NULL);
		if (got < 0) {
			/* Whatever stopped it (unmapped, no memory): busy, as the kernel driver. */
			pr_debug("exclusive access at %#lx: %ld", a, got);
			return -EBUSY;
		}
		/* Map only when every page is exclusive, as the kernel driver. */
		for (unsigned long i = 0; (unsigned long)got == n && i < n; i++)
			mapped += !!pfns[i];
		if (mapped == n) {
			for (unsigned long i = 0; i < n; i++)
				pfns[i] = pfns[i] << DPT_SHIFT | DPT_VALID | DPT_ATOMIC;
			pthread_mutex_lock(&d->mutex);
			if (dmirror_map_locked(d, a, n, pfns))
				mapped = 0;
			pthread_mutex_unlock(&d->mutex);
		}
		if (mapped < n)
			return -EBUSY;
	}
	return dmirror_read_back(d, cmd);
}

int dmirror_check_exclusive(struct dmirror *d, struct hmm_dmirror_cmd *cmd)
{
	unsigned long start = cmd->addr, end = start + (cmd->npages << PAGE_SHIFT);
	int ret = check_cmd(cmd);

	if (ret)
		return ret;
	hetmem_mm_sync(d->mm);
	pthread_mutex_lock(&d->mutex);
	for (unsigned long va = start; va < end && !ret; va += PAGE_SIZE)
		if (dmirror_pt_get(d, va) & DPT_ATOMIC)
			ret = -EPERM;
	pthread_mutex_unlock(&d->mutex);
	return ret;
}

int dmirror_release(struct dmirror *d, struct hmm_dmirror_cmd *cmd)
{
	d->mdevice->ops->release(d->mdevice, true);
	return 0;
}
