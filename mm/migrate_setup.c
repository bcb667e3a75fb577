// SPDX-License-Identifier: MIT
/*
 * migrate_vma_setup(): collecting a range's pages and taking them off the
 * CPU, in the order migrate_device.c describes; migrate_vma_pages() and
 * migrate_vma_finalize() are there.
 */
#define pr_fmt(fmt) "migrate: " fmt

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <hetmem/err.h>
#include <hetmem/log.h>
#include "migrate_internal.h"
#include "lib/trace.h"

/*
 * Let go of the entries claimed in [a, b) that an unmap or mremap handled
 * since took away from their address: not ours to migrate any more.
 */
static void release_away(struct migrate_vma *args, unsigned long a, unsigned long b)
{
	for (unsigned long va = a; va < b; va += PAGE_SIZE) {
		unsigned long *src = &args->src[(va - args->start) >> PAGE_SHIFT];

		if (!(*src & MIGRATE_PFN_HELD_) || (*src & MIGRATE_PFN_FAULT_) ||
		    swp_held_va(args->mm, va) == va)
			continue;
		swp_held_unlock(args->mm, va);
		if (*src & MIGRATE_PFN_MIGRATE)
			args->cpages--;
		*src = 0;
	}
}

/* Step 1 for one mapping's part of the range; also collects device pages. */
static void collect_vma(struct migrate_vma *args, const struct vm_area_struct *vma, unsigned long a,
			unsigned long b, bool *any_system)
{
	struct hetmem_mm *mm = args->mm;
	bool sys = (args->flags & MIGRATE_VMA_SELECT_SYSTEM) && vma_is_anonymous(vma) &&
		   !(vma->vm_flags & VM_SHARED);
	bool claimed = false;

	for (unsigned long va = a; va < b; va += PAGE_SIZE) {
		unsigned long i = (va - args->start) >> PAGE_SHIFT;
		unsigned long *slot = va_table_slot(&mm->swp, va, sys);
		unsigned long e = slot ? swp_load(slot) : 0;
		struct page *page = swp_page(e);

		if (!e) {
			if (sys && slot && swp_claim(slot, 0)) {
				args->src[i] = MIGRATE_PFN_HELD_ |
					       (vma->vm_flags & VM_WRITE ? MIGRATE_PFN_WRITE : 0);
				claimed = true;
			}
			continue;
		}
		if (!page || !(args->flags & MIGRATE_VMA_SELECT_DEVICE_PRIVATE) ||
		    !is_device_private_page(page) || page->pgmap->owner != args->pgmap_owner)
			continue;
		if (e & SWP_MIGRATION) {
			/* Only the fault path's own page may be held already. */
			if (page != args->fault_page)
				continue;
			args->src[i] = MIGRATE_PFN_FAULT_;
		} else if (!swp_claim(slot, e)) {
			continue;
		}
		args->src[i] |= migrate_pfn(page_to_pfn(page)) | MIGRATE_PFN_MIGRATE |
				MIGRATE_PFN_HELD_ | (e & SWP_WRITE ? MIGRATE_PFN_WRITE : 0);
		args->cpages++;
	}
	if (!claimed)
		return;
	/*
	 * Faults and events of the range come to us from now on. Registered
	 * after the claims: an unmap handled before them has told the
	 * registrations (a new mapping here is registered now), one handled
	 * after them marks them gone. Claims an event has marked already are
	 * let go of first: registering waits for the range's away entries to
	 * go, and would wait for ours.
	 */
	mm_sync_events(mm);
	release_away(args, a, b);
	if (uffd_ranges_ensure(mm, a, b, true)) {
		pr_debug("cannot register [%#lx-%#lx): not migrating it", a, b);
		for (unsigned long va = a; va < b; va += PAGE_SIZE) {
			unsigned long *src = &args->src[(va - args->start) >> PAGE_SHIFT];

			if ((*src & MIGRATE_PFN_HELD_) && !(*src & MIGRATE_PFN_VALID)) {
				swp_held_release(mm, va, 0);
				*src = 0;
			}
		}
		return;
	}
	*any_system = true;
}

/*
 * Pages [0, n) of @src were not taken off the CPU: they do not migrate.
 * Those write-protected in place (@protected) are write-enabled again by
 * finalize.
 */
static void uncollect(struct migrate_vma *args, unsigned long *src, unsigned long n, bool protected)
{
	for (unsigned long k = 0; k < n; k++) {
		if (src[k] & MIGRATE_PFN_MIGRATE)
			args->cpages--;
		src[k] &= MIGRATE_PFN_HELD_ | MIGRATE_PFN_WRITE |
			  (protected ? MIGRATE_PFN_PRESENT_ : 0);
	}
}

void put_snapshot(struct hetmem_mm *mm, unsigned long va, unsigned long n)
{
	if (in_pool(mm, va >> PAGE_SHIFT))
		free_sys_pages(mm, va >> PAGE_SHIFT, n);
	else
		munmap((void *)va, n << PAGE_SHIFT);
}

/*
 * Copy n pages left in place (write-protected) at @va into pages this
 * migration holds, and name those in src: the driver must never read the
 * application's address, which munmap() may take away under it. The copy
 * reads /proc/self/mem, which fails on a page that went away instead of
 * faulting or waiting for the fault handler (a missing page is ours to
 * serve); such a page does not migrate. The copies are pool pages, else a
 * staging mapping finalize unmaps.
 */
static void snapshot_run(struct migrate_vma *args, int *memfd, unsigned long va, unsigned long *src,
			 unsigned long n)
{
	struct hetmem_mm *mm = args->mm;

	if (*memfd < 0)
		*memfd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	while (n) {
		unsigned long pfn, to, k = 0, want = n < SNAP_PAGES ? n : SNAP_PAGES;
		unsigned long got = alloc_sys_pages(mm, want, &pfn);

		if (got) {
			to = pfn << PAGE_SHIFT;
		} else {
			got = want;
			to = (unsigned long)mmap(NULL, got << PAGE_SHIFT, PROT_READ | PROT_WRITE,
						 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (to == (unsigned long)MAP_FAILED) {
				uncollect(args, src, n, true);
				return;
			}
		}
		while (k < got) {
			ssize_t r = *memfd < 0 ? -1 :
						 pread(*memfd, (void *)(to + (k << PAGE_SHIFT)),
						       (got - k) << PAGE_SHIFT,
						       (off_t)(va + (k << PAGE_SHIFT)));
			unsigned long done = r > 0 ? (unsigned long)r >> PAGE_SHIFT : 0;

			for (unsigned long j = k; j < k + done; j++)
				src[j] = (src[j] & ((1UL << MIGRATE_PFN_SHIFT) - 1)) |
					 migrate_pfn((to >> PAGE_SHIFT) + j);
			k += done;
			if (k == got)
				break;
			/* Page k went away (or /proc/self/mem is not there): it stays. */
			uncollect(args, &src[k], 1, true);
			put_snapshot(mm, to + (k << PAGE_SHIFT), 1);
			k++;
		}
		va += got << PAGE_SHIFT;
		src += got;
		n -= got;
	}
}

/*
 * Take present pages [va, va + n pages) off the CPU at once: move them
 * into the pool, where the driver reads them (their src pfn becomes the
 * pool slot's) and from where they come back if the driver declines.
 * Pages that cannot be moved are write-protected in place and copied
 * (snapshot_run()). Pages that can be neither (the range went away) do not
 * migrate.
 */
static void unmap_present(struct migrate_vma *args, int *memfd, unsigned long va,
			  unsigned long *src, unsigned long n)
{
	struct hetmem_mm *mm = args->mm;

	while (n) {
		unsigned long slot, got = 0, done = 0, k;
		int ret = -ENOSPC;

		if (mm->have_move)
			got = sys_pool_take(&mm->pool, false, n, &slot);
		if (got) {
			ret = uffd_move(mm, slot, va, got << PAGE_SHIFT, false, &done);
			done >>= PAGE_SHIFT;
			sys_pool_give(&mm->pool, false, slot + (done << PAGE_SHIFT), got - done);
			for (k = 0; k < done; k++)
				src[k] = (src[k] & ((1UL << MIGRATE_PFN_SHIFT) - 1) &
					  ~MIGRATE_PFN_PRESENT_) |
					 migrate_pfn((slot >> PAGE_SHIFT) + k);
		}
		if (done) {
			va += done << PAGE_SHIFT;
			src += done;
			n -= done;
			continue;
		}
		if (ret == -ESTALE) {
			/* Moved or unmapped meanwhile: these stay out of the migration. */
			uncollect(args, src, n, false);
			return;
		}
		/*
		 * EBUSY: this page (shared with a fork child, pinned); else the
		 * mapping. A page shared with a child is mapped read-only until
		 * copy-on-write: not writable, as the kernel reports it.
		 */
		k = ret == -EBUSY ? 1 : n;
		if (ret == -EBUSY)
			src[0] &= ~MIGRATE_PFN_WRITE;
		ret = uffd_writeprotect(mm, va, k << PAGE_SHIFT, true);
		if (ret) {
			/* Unmapped since pagemap was read: nothing of it migrates. */
			pr_debug("cannot protect [%#lx-%#lx): %d", va, va + (k << PAGE_SHIFT), ret);
			uncollect(args, src, n, false);
			return;
		}
		snapshot_run(args, memfd, va, src, k);
		va += k << PAGE_SHIFT;
		src += k;
		n -= k;
	}
}

/* Steps 3 and 4 for the system pages held in [a, a + n pages). */
static int collect_present(struct migrate_vma *args, int *memfd, unsigned long a, unsigned long n)
{
	unsigned long *src = args->src + ((a - args->start) >> PAGE_SHIFT), i, run;
	uint8_t cat[BATCH];
	bool zero = false;
	int ret;

	/*
	 * Presence may be read before the pages are taken off the CPU: held
	 * pages that are not present cannot become present (their MISSING
	 * faults wait for us), and present ones only go away by reclaim,
	 * which leaves a swap entry that moves and reads like the page, or by
	 * the application unmapping or discarding them, which marks them
	 * gone.
	 */
	ret = pagemap_categories(a, n, cat);
	if (ret)
		return ret;
	/* Unmaps and mremaps already told (the pages left) are known from here on. */
	mm_sync_events(args->mm);
	for (i = 0; i < n; i++) {
		unsigned long va = a + (i << PAGE_SHIFT);

		if (!(src[i] & MIGRATE_PFN_HELD_) || (src[i] & MIGRATE_PFN_VALID))
			continue;
		/* Moved or unmapped since it was claimed: pagemap no longer speaks of it. */
		if (swp_held_va(args->mm, va) != va)
			continue;
		if (cat[i] & PM_CAT_PRESENT) {
			src[i] |= MIGRATE_PFN_MIGRATE | MIGRATE_PFN_PRESENT_;
			/* The zero page migrates as an empty entry. */
			if (!(cat[i] & PM_CAT_ZERO))
				src[i] |= migrate_pfn(va >> PAGE_SHIFT);
		} else if (cat[i] & PM_CAT_SWAP) {
			/* Swapped out: not collected, as in the kernel. */
			swp_held_release(args->mm, va, 0);
			src[i] = 0;
			continue;
		} else {
			src[i] |= MIGRATE_PFN_MIGRATE; /* never populated */
		}
		args->cpages++;
	}
	/*
	 * Runs of present ordinary pages leave for the pool; zero pages (no
	 * data to read) are write-protected in place and zapped if they go.
	 */
	for (i = 0; i < n; i += run ? run : 1) {
		bool valid = src[i] & MIGRATE_PFN_VALID;

		for (run = 0; i + run < n && (src[i + run] & MIGRATE_PFN_PRESENT_) &&
			      !!(src[i + run] & MIGRATE_PFN_VALID) == valid;
		     run++)
			;
		if (!run)
			continue;
		zero |= !valid;
		if (valid)
			unmap_present(args, memfd, a + (i << PAGE_SHIFT), src + i, run);
		else if (uffd_writeprotect(args->mm, a + (i << PAGE_SHIFT), run << PAGE_SHIFT,
					   true))
			uncollect(args, src + i, run, false);
	}
	/*
	 * A write to the zero page is the kernel's copy on write, which waits
	 * for nobody: until the write-protection above, a zero page could have
	 * become a page with data. Those are copied like the other pages left
	 * in place (they are write-protected now).
	 */
	if (!zero || pagemap_categories(a, n, cat))
		return 0;
	for (i = 0; i < n; i += run ? run : 1) {
		for (run = 0; i + run < n && (src[i + run] & MIGRATE_PFN_PRESENT_) &&
			      !(src[i + run] & MIGRATE_PFN_VALID) &&
			      (cat[i + run] & PM_CAT_PRESENT) && !(cat[i + run] & PM_CAT_ZERO);
		     run++)
			;
		if (run)
			snapshot_run(args, memfd, a + (i << PAGE_SHIFT), src + i, run);
	}
	return 0;
}

/*
 * Empty pages claimed in a range that an unmap took away before the
 * claims (its event saw nothing to mark): let them go. Pages unmapped
 * after their claim are marked gone, and finalize drops them.
 */
static void release_unmapped(struct migrate_vma *args)
{
	unsigned long a = args->start;

	while (a < args->end) {
		struct vm_area_struct vma;
		unsigned long hole_end = args->end;

		if (!vma_find(a, &vma)) {
			if (vma.vm_start <= a) {
				a = vma.vm_end;
				continue;
			}
			if (vma.vm_start < hole_end)
				hole_end = vma.vm_start;
		}
		for (; a < hole_end; a += PAGE_SIZE) {
			unsigned long *src = &args->src[(a - args->start) >> PAGE_SHIFT];

			if ((*src & MIGRATE_PFN_HELD_) && !(*src & MIGRATE_PFN_VALID)) {
				swp_held_release(args->mm, a, 0);
				*src = 0;
			}
		}
	}
}

int migrate_vma_setup(struct migrate_vma *args)
{
	struct hetmem_mm *mm = args->mm;
	bool any_system = false;
	unsigned long a, gen;
	int ret, memfd = -1;

	if (!args->src || !args->dst || args->start >= args->end ||
	    (args->start | args->end) & (PAGE_SIZE - 1))
		return -EINVAL;
	args->npages = (args->end - args->start) >> PAGE_SHIFT;
	args->cpages = 0;
	args->state = 0;
	for (unsigned long i = 0; i < args->npages; i++)
		args->src[i] = args->dst[i] = 0;
	/*
	 * Mapped throughout, as the kernel's single-vma rule demands. Only
	 * system memory needs the mappings looked at: device-private entries
	 * exist only in mapped memory (unmapping drops them), and the fault
	 * path, which moves those, is the one that must be quick.
	 */
	for (a = args->start; (args->flags & MIGRATE_VMA_SELECT_SYSTEM) && a < args->end;) {
		struct vm_area_struct vma;

		if (vma_find(a, &vma) || vma.vm_start > a)
			return -EINVAL;
		a = vma.vm_end;
	}

	if (mm)
		hetmem_mm_grab(mm);
	else
		mm = hetmem_mm_get();
	if (IS_ERR(mm))
		return (int)PTR_ERR(mm);
	args->mm = mm;
	if (args->flags & MIGRATE_VMA_SELECT_SYSTEM) {
		/* An unmap of this range that is still being handled would drop our entries. */
		mm_sync_events(mm);
		pthread_rwlock_rdlock(&mm->fork_lock);
		args->state |= MS_FORK_LOCK;
	}

	args->state |= __atomic_load_n(&mm->deferrals, __ATOMIC_SEQ_CST) << MS_DEFERRALS_SHIFT;
	/* Read with a locked instruction: see release_unmapped() below. */
	gen = __atomic_fetch_add(&mm->ev_gen, 0, __ATOMIC_SEQ_CST);
	if (!(args->flags & MIGRATE_VMA_SELECT_SYSTEM)) {
		/* Device pages only: a mapping that is anonymous, private, writable. */
		struct vm_area_struct any = { args->start, args->end, VM_READ | VM_WRITE, true };

		collect_vma(args, &any, args->start, args->end, &any_system);
	}
	for (a = args->start; (args->flags & MIGRATE_VMA_SELECT_SYSTEM) && a < args->end;) {
		struct vm_area_struct vma;
		unsigned long b;

		if (vma_find(a, &vma) || vma.vm_start > a)
			break; /* unmapped since: what is not held stays put */
		b = vma.vm_end < args->end ? vma.vm_end : args->end;
		collect_vma(args, &vma, a, b, &any_system);
		a = b;
	}
	/*
	 * An unmap handled while the claims were made may have found nothing
	 * to mark. The handler bumps the count (a locked instruction too)
	 * before it reads events, and looks at entries after: either it saw
	 * our claims (and marks them gone), or we see the count moved.
	 */
	if (any_system &&
	    ((gen & 1) || __atomic_fetch_add(&mm->ev_gen, 0, __ATOMIC_SEQ_CST) != gen))
		release_unmapped(args);
	if (!any_system && !args->cpages)
		return 0;

	mmu_notifier_invalidate(mm, MMU_NOTIFY_MIGRATE, args->start, args->end, args->pgmap_owner);
	for (a = args->start; any_system && a < args->end; a += BATCH << PAGE_SHIFT) {
		unsigned long n = (args->end - a) >> PAGE_SHIFT;

		ret = collect_present(args, &memfd, a, n < BATCH ? n : BATCH);
		if (ret) {
			pr_err("collecting [%#lx-%#lx) failed: %d", args->start, args->end, ret);
			/* What was not examined stays held, not migrating. */
			break;
		}
	}
	if (memfd >= 0)
		close(memfd);
	trace_probe(migrate_vma_setup, args->start, args->end, args->flags, args->cpages);
	return 0;
}
