// SPDX-License-Identifier: MIT
/*
 * The test device's mirrors: a page table of the process per open mirror,
 * filled by hmm_range_fault() and emptied by invalidations, and the
 * commands the kernel's test driver takes as ioctls.
 *
 * The table maps an address to a pfn with DPT_VALID, DPT_WRITE or
 * DPT_ATOMIC: a system page (its address, or the zero page's pfn) or one
 * of the device's pages. The device touches a system page through that
 * address with process_vm_readv/writev: the kernel copies, so an unmapped
 * page is an error, not a crash, and a page that went to a device since
 * faults back like any access. It touches its own pages in VRAM, under the
 * mirror's mutex, which migrate_to_ram() also takes to drop the entries
 * before copying a page out.
 */
#define pr_fmt(fmt) "dmirror: " fmt

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <hetmem/err.h>
#include <hetmem/hmm.h>
#include <hetmem/log.h>
#include <hetmem/migrate.h>
#include "dmirror.h"

#define FAULT_PAGES   64UL /* pages per hmm_range_fault(), as the kernel driver */
#define MIGRATE_PAGES 4096UL /* pages per migrate_vma round to the device */
#define IOV_BATCH     512

/* --- the table --------------------------------------------------------------------- */

static unsigned long dpt_get(struct dmirror *d, unsigned long va)
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
	__atomic_store_n(slot, 0, __ATOMIC_RELAXED);
	return true;
}

static bool dmirror_interval_invalidate(struct mmu_interval_notifier *mni,
					const struct mmu_notifier_range *range,
					unsigned long cur_seq)
{
	struct dmirror *d = container_of(mni, struct dmirror, notifier);

	/* Our own migrations update the table themselves. */
	if (range->event == MMU_NOTIFY_MIGRATE && range->owner == d->mdevice)
		return true;
	pthread_mutex_lock(&d->mutex);
	mmu_interval_set_seq(mni, cur_seq);
	va_table_for_each(&d->pt, range->start, range->end, dpt_clear, NULL);
	pthread_mutex_unlock(&d->mutex);
	return true;
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
	/* The whole address space, as the kernel driver. */
	ret = mmu_interval_notifier_insert(&d->notifier, d->mm, 0, ~0UL & PAGE_MASK,
					   &dmirror_min_ops);
	hetmem_mm_put(d->mm); /* the notifier holds its own */
	if (ret)
		goto fail;
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
	dmirror_evict_chunks(mdevice, false);
	hetmem_mm_put(d->mm);
	va_table_destroy(&d->pt);
	pthread_mutex_destroy(&d->mutex);
	free(d);
}

/* --- faulting into the table ------------------------------------------------------- */

static int dmirror_do_fault(struct dmirror *d, struct hmm_range *range)
{
	unsigned long *pfns = range->hmm_pfns;

	for (unsigned long va = range->start; va < range->end; va += PAGE_SIZE, pfns++) {
		unsigned long e;

		if (!(*pfns & HMM_PFN_VALID) || (*pfns & HMM_PFN_ERROR))
			return -EFAULT;
		e = hmm_pfn_to_pfn(*pfns) << DPT_SHIFT | DPT_VALID;
		if (*pfns & HMM_PFN_WRITE)
			e |= DPT_WRITE;
		else if (range->default_flags & HMM_PFN_REQ_WRITE)
			return -EFAULT;
		if (dpt_set(d, va, e))
			return -ENOMEM;
	}
	return 0;
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static int dmirror_range_fault(struct dmirror *d, struct hmm_range *range)
{
	struct timespec t0;
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (elapsed_ms(&t0) > HMM_RANGE_DEFAULT_TIMEOUT)
			return -EBUSY;
		range->notifier_seq = mmu_interval_read_begin(range->notifier);
		ret = hmm_range_fault(range);
		if (ret == -EBUSY)
			continue;
		if (ret)
			return ret;
		pthread_mutex_lock(&d->mutex);
		if (!mmu_interval_read_retry(range->notifier, range->notifier_seq))
			break;
		pthread_mutex_unlock(&d->mutex);
	}
	ret = dmirror_do_fault(d, range);
	pthread_mutex_unlock(&d->mutex);
	return ret;
}

static int dmirror_fault(struct dmirror *d, unsigned long start, unsigned long end, bool write)
{
	unsigned long pfns[FAULT_PAGES];
	struct hmm_range range = {
		.notifier = &d->notifier,
		.hmm_pfns = pfns,
		.default_flags = HMM_PFN_REQ_FAULT | (write ? HMM_PFN_REQ_WRITE : 0),
		.dev_private_owner = d->mdevice,
	};
	int ret = 0;

	for (unsigned long a = start; a < end && !ret; a = range.end) {
		range.start = a;
		range.end =
			end - a > FAULT_PAGES << PAGE_SHIFT ? a + (FAULT_PAGES << PAGE_SHIFT) : end;
		ret = dmirror_range_fault(d, &range);
	}
	return ret;
}

/* --- reading and writing ------------------------------------------------------------ */

/* System pages to copy once the mutex is dropped. */
struct sys_copy {
	struct iovec local[IOV_BATCH], remote[IOV_BATCH];
	int n;
	bool write;
	int err;
};

static void sys_copy_flush(struct sys_copy *c)
{
	ssize_t want = 0, got;

	for (int i = 0; i < c->n; i++)
		want += (ssize_t)c->local[i].iov_len;
	if (!c->n)
		return;
	if (c->write)
		got = process_vm_writev(getpid(), c->local, (unsigned long)c->n, c->remote,
					(unsigned long)c->n, 0);
	else
		got = process_vm_readv(getpid(), c->local, (unsigned long)c->n, c->remote,
				       (unsigned long)c->n, 0);
	if (got != want && !c->err)
		c->err = -EFAULT;
	c->n = 0;
}

static void sys_copy_add(struct sys_copy *c, void *local, unsigned long remote)
{
	if (c->n && (char *)c->local[c->n - 1].iov_base + c->local[c->n - 1].iov_len == local &&
	    (unsigned long)c->remote[c->n - 1].iov_base + c->remote[c->n - 1].iov_len == remote) {
		c->local[c->n - 1].iov_len += PAGE_SIZE;
		c->remote[c->n - 1].iov_len += PAGE_SIZE;
		return;
	}
	if (c->n == IOV_BATCH)
		sys_copy_flush(c);
	c->local[c->n] = (struct iovec){ local, PAGE_SIZE };
	c->remote[c->n] = (struct iovec){ (void *)remote, PAGE_SIZE };
	c->n++;
}

/*
 * Copy between the bounce buffer and [start, end) through the table, from
 * *cpages on. -ENOENT at the first page without a (writable) entry.
 */
static int dmirror_do_copy(struct dmirror *d, unsigned long base, unsigned long end, char *bounce,
			   uint64_t *cpages, bool write)
{
	struct sys_copy *c = calloc(1, sizeof(*c));
	unsigned long va;
	int ret = 0;

	if (!c)
		return -ENOMEM;
	c->write = write;
	pthread_mutex_lock(&d->mutex);
	for (va = base + (*cpages << PAGE_SHIFT); va < end; va += PAGE_SIZE) {
		unsigned long e = dpt_get(d, va), pfn = e >> DPT_SHIFT;
		char *local = bounce + (va - base);
		struct page *page;

		if (!(e & DPT_VALID) || (write && !(e & DPT_WRITE))) {
			ret = -ENOENT;
			break;
		}
		page = pfn_to_page(pfn);
		if (page && is_device_private_page(page)) {
			if (write)
				memcpy(dmirror_page_backing(page), local, PAGE_SIZE);
			else
				memcpy(local, dmirror_page_backing(page), PAGE_SIZE);
		} else {
			sys_copy_add(c, local, pfn << PAGE_SHIFT);
		}
		(*cpages)++;
	}
	pthread_mutex_unlock(&d->mutex);
	sys_copy_flush(c);
	if (c->err)
		ret = c->err;
	free(c);
	return ret;
}

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
	for (;;) {
		ret = dmirror_do_copy(d, start, end, bounce, &cmd->cpages, write);
		if (ret != -ENOENT)
			break;
		ret = dmirror_fault(d, start + (cmd->cpages << PAGE_SHIFT), end, write);
		if (ret)
			break;
		cmd->faults++;
	}
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
	ret = dmirror_do_copy(d, start, end, bounce, &cmd->cpages, false);
	if (!ret)
		memcpy((void *)(uintptr_t)cmd->ptr, bounce, cmd->npages << PAGE_SHIFT);
	free(bounce);
	return ret;
}

/* --- migration --------------------------------------------------------------------- */

static void alloc_and_copy_to_dev(struct dmirror *d, struct migrate_vma *args, struct page **pages)
{
	unsigned long want = 0, got, k = 0;

	for (unsigned long i = 0; i < args->npages; i++)
		want += !!(args->src[i] & MIGRATE_PFN_MIGRATE);
	got = dmirror_devmem_alloc(d->mdevice, want, pages);
	for (unsigned long i = 0; i < args->npages && k < got; i++) {
		unsigned long s = args->src[i];
		struct page *dpage;
		void *to;

		if (!(s & MIGRATE_PFN_MIGRATE))
			continue;
		dpage = pages[k++];
		to = dmirror_page_backing(dpage);
		/* An empty source: a never-populated or zero page. */
		if (s & MIGRATE_PFN_VALID)
			copy_user_page(to, (void *)(migrate_pfn_to_pfn(s) << PAGE_SHIFT));
		else
			memset(to, 0, PAGE_SIZE);
		args->dst[i] = migrate_pfn(page_to_pfn(dpage)) | (s & MIGRATE_PFN_WRITE);
	}
}

static void finalize_and_map(struct dmirror *d, struct migrate_vma *args)
{
	pthread_mutex_lock(&d->mutex);
	for (unsigned long i = 0; i < args->npages; i++) {
		struct page *dpage = migrate_pfn_to_page(args->dst[i]);

		if (!(args->src[i] & MIGRATE_PFN_MIGRATE) || !dpage)
			continue;
		dpt_set(d, args->start + (i << PAGE_SHIFT),
			page_to_pfn(dpage) << DPT_SHIFT | DPT_VALID |
				(args->dst[i] & MIGRATE_PFN_WRITE ? DPT_WRITE : 0));
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

int dmirror_migrate_to_dev(struct dmirror *d, struct hmm_dmirror_cmd *cmd)
{
	unsigned long start = cmd->addr, end = start + (cmd->npages << PAGE_SHIFT), next, moved = 0;
	unsigned long *src = NULL, *dst = NULL;
	struct page **pages = NULL;
	int ret = check_cmd(cmd);

	cmd->cpages = cmd->faults = 0;
	if (ret)
		return ret;
	src = malloc(MIGRATE_PAGES * sizeof(*src));
	dst = malloc(MIGRATE_PAGES * sizeof(*dst));
	pages = malloc(MIGRATE_PAGES * sizeof(*pages));
	if (!src || !dst || !pages) {
		ret = -ENOMEM;
		goto out;
	}
	for (unsigned long a = start; a < end; a = next) {
		struct migrate_vma args = {
			.src = src,
			.dst = dst,
			.start = a,
			.pgmap_owner = d->mdevice,
			.flags = MIGRATE_VMA_SELECT_SYSTEM,
			.mm = d->mm,
		};

		next = next_stop(d, a, end, MIGRATE_PAGES);
		if (!next) {
			ret = -EINVAL;
			goto out;
		}
		args.end = next;
		ret = migrate_vma_setup(&args);
		if (ret)
			goto out;
		if (args.cpages)
			alloc_and_copy_to_dev(d, &args, pages);
		migrate_vma_pages(&args);
		finalize_and_map(d, &args);
		for (unsigned long i = 0; i < args.npages; i++)
			moved += !!(src[i] & MIGRATE_PFN_MIGRATE);
		migrate_vma_finalize(&args);
	}
	/* The data as the device now has it; -ENOENT if a page did not come. */
	if (cmd->ptr)
		ret = dmirror_read_back(d, cmd);
	else
		cmd->cpages = moved;
out:
	free(src);
	free(dst);
	free(pages);
	return ret;
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
		perm = page->pgmap->owner == d->mdevice ? HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL :
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
	struct hmm_range range = { .hmm_pfns = pfns, .dev_private_owner = d->mdevice };
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
		if (got < 0)
			return (int)got;
		/* Map only when every page is exclusive, as the kernel driver. */
		if ((unsigned long)got == n) {
			pthread_mutex_lock(&d->mutex);
			for (unsigned long i = 0; i < n; i++) {
				if (!pfns[i])
					continue;
				dpt_set(d, a + (i << PAGE_SHIFT),
					pfns[i] << DPT_SHIFT | DPT_VALID | DPT_ATOMIC);
				mapped++;
			}
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
		if (dpt_get(d, va) & DPT_ATOMIC)
			ret = -EPERM;
	pthread_mutex_unlock(&d->mutex);
	return ret;
}

int dmirror_release(struct dmirror *d, struct hmm_dmirror_cmd *cmd)
{
	dmirror_evict_chunks(d->mdevice, true);
	return 0;
}
