// SPDX-License-Identifier: MIT
/*
 * migrate_vma_setup / _pages / _finalize and the device-range eviction
 * (migrate_device_range / _pages / _finalize) on the process's own memory.
 * include/hetmem/migrate.h describes the contract; this is the mechanism.
 *
 * Each collected page is held through its shadow entry's migration bit
 * from setup to finalize. For system pages the order in setup is what
 * keeps writes from being lost:
 *
 *   1. take the migration entries   the handler now leaves faults on these
 *                                   pages alone (rule 2), and no other
 *                                   migration collects them
 *   2. invalidate (MIGRATE)         mirrors stop using the pages; done
 *                                   before anything blocks writers, so a
 *                                   device thread that is writing through
 *                                   a mirror under its driver's lock
 *                                   finishes first
 *   3. read pagemap                 collect what is present (rule 1), and
 *                                   empty pages, which nobody can populate
 *                                   any more (MISSING faults on them wait
 *                                   for us)
 *   4. take them off the CPU        move into the pool (readers and writers
 *                                   wait), or write-protect in place what
 *                                   cannot move (writers wait)
 *
 * In migrate_vma_pages() the device-private entries are recorded before
 * the pages still in place are zapped, so there is no moment when a page
 * is neither here nor there. finalize moves back and write-enables what
 * stayed before it drops the migration entries (dropping first would let
 * another migration protect the page and then lose that protection to
 * us), then wakes the range: threads whose faults were left alone fault
 * again and find either their page or a device-private entry.
 */
#define pr_fmt(fmt) "migrate: " fmt

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <hetmem/err.h>
#include <hetmem/log.h>
#include <hetmem/migrate.h>
#include "hmm_internal.h"
#include "lib/trace.h"

/*
 * hetmem's bits in src entries (free in the kernel's layout). A system
 * page's src pfn is never its own address: it is where setup put the page
 * (a pool slot), or, for a page left in place, a copy of it (a pool page
 * or a staging page), so the driver never reads the application's
 * addresses, which munmap() may take away at any moment.
 */
#define MIGRATE_PFN_PRESENT_ (1UL << 2) /* the CPU page is still in place: zap it */
#define MIGRATE_PFN_HELD_    (1UL << 4) /* this migration holds the entry */
#define MIGRATE_PFN_FAULT_   (1UL << 5) /* held by the fault path (fault_page) */
/* ... and in dst entries, after migrate_vma_pages(). */
#define MIGRATE_PFN_CONSUMED_ (1UL << 2) /* the pool page was moved into place */

/* migrate_vma.state: flags, and the handler's deferral count at setup */
#define MS_FORK_LOCK	   1UL
#define MS_PAGES	   2UL /* migrate_vma_pages() ran */
#define MS_DEFERRALS_SHIFT 8

#define BATCH	       512UL
#define MOVE_MIN_PAGES 8UL
#define SNAP_PAGES     64UL /* pages per read of pages left in place */

/*
 * One migration as the helpers see it: pages of a range (vma path) or
 * scattered device pages found through their reverse mapping (eviction).
 */
struct mig {
	struct hetmem_mm *mm;
	unsigned long start; /* ~0UL: page i is at src page's ->private */
	unsigned long *src, *dst;
	unsigned long npages;
};

static unsigned long mig_va(const struct mig *m, unsigned long i)
{
	struct page *page;

	if (m->start != ~0UL)
		return m->start + (i << PAGE_SHIFT);
	page = migrate_pfn_to_page(m->src[i]);
	return page ? __atomic_load_n(&page->private, __ATOMIC_ACQUIRE) : 0;
}

/*
 * Where held page i is mapped now: the application may have moved it
 * (mremap) or unmapped it (0) since it was collected (shadow.c).
 */
static unsigned long mig_va_now(const struct mig *m, unsigned long i)
{
	unsigned long va = mig_va(m, i);

	return va ? swp_held_va(m->mm, va) : 0;
}

static bool in_pool(struct hetmem_mm *mm, unsigned long pfn)
{
	return sys_pool_contains(&mm->pool, pfn << PAGE_SHIFT);
}

/* A system page setup moved into the pool (its src pfn is the slot's). */
static bool moved_early(struct hetmem_mm *mm, unsigned long s)
{
	return (s & MIGRATE_PFN_VALID) && !(s & MIGRATE_PFN_PRESENT_) &&
	       in_pool(mm, migrate_pfn_to_pfn(s)) && !migrate_pfn_to_page(s);
}

/* A system page left in place: its src pfn is setup's copy of it. */
static bool snapshot(unsigned long s)
{
	return (s & MIGRATE_PFN_VALID) && (s & MIGRATE_PFN_PRESENT_) && !migrate_pfn_to_page(s);
}

bool migrate_vma_page_away(const struct migrate_vma *args, unsigned long i)
{
	unsigned long va;

	if (!args->mm || i >= args->npages || !(args->src[i] & MIGRATE_PFN_HELD_))
		return false;
	va = args->start + (i << PAGE_SHIFT);
	return swp_held_va(args->mm, va) != va;
}

/* --- setup ------------------------------------------------------------------------- */

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

/* Give back a page setup took to copy a page into (pool or staging). */
static void put_snapshot(struct hetmem_mm *mm, unsigned long va, unsigned long n)
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

/* --- pages ------------------------------------------------------------------------- */

/* A device-private entry that could not be completed: back to a held system page. */
static void undo_device_entry(struct hetmem_mm *mm, unsigned long va, unsigned long *src,
			      unsigned long dst)
{
	struct page *dpage = migrate_pfn_to_page(dst);

	swp_held_set(mm, va, 0);
	swp_put_entry_page(mm, dpage);
	*src &= ~MIGRATE_PFN_MIGRATE;
}

/*
 * Zap n consecutive system pages whose data is now on the device: move
 * them into the pool, or discard what cannot be moved.
 */
static void zap_run(struct hetmem_mm *mm, unsigned long va, unsigned long *src,
		    const unsigned long *dst, unsigned long n)
{
	while (n) {
		unsigned long slot, got = 0, done = 0, k;
		int ret = -ENOSPC;

		if (mm->have_move)
			got = sys_pool_take(&mm->pool, false, n, &slot);
		if (got) {
			ret = uffd_move(mm, slot, va, got << PAGE_SHIFT, false, &done);
			done >>= PAGE_SHIFT;
			/* Slots of present pages now hold them; holes stayed empty. */
			for (k = 0; k < got;) {
				bool filled = k < done && (src[k] & MIGRATE_PFN_PRESENT_);
				unsigned long j = k + 1;

				while (j < got &&
				       (j < done && (src[j] & MIGRATE_PFN_PRESENT_)) == filled)
					j++;
				sys_pool_give(&mm->pool, filled, slot + (k << PAGE_SHIFT), j - k);
				k = j;
			}
		}
		if (done) {
			va += done << PAGE_SHIFT;
			src += done;
			dst += done;
			n -= done;
			continue;
		}
		if (ret == -ESTALE) {
			/* Moved or unmapped meanwhile: their data stays where it went. */
			for (k = 0; k < n; k++)
				undo_device_entry(mm, va + (k << PAGE_SHIFT), &src[k], dst[k]);
			return;
		}
		/*
		 * Not movable (shared with a fork child, read-only or executable
		 * mapping, no UFFDIO_MOVE, pool full): discard the page, or on
		 * the handler thread, where that would wait for itself, keep it.
		 */
		if (ret != -ENOSPC && ret != -EBUSY && ret != -EINVAL)
			pr_debug("UFFDIO_MOVE at %#lx: %d", va, ret);
		/* EBUSY is about one page; the others about the whole mapping. */
		k = ret == -EBUSY ? 1 : n;
		ret = mm_zap(mm, va, k << PAGE_SHIFT);
		for (unsigned long j = 0; ret && j < k; j++)
			undo_device_entry(mm, va + (j << PAGE_SHIFT), &src[j], dst[j]);
		va += k << PAGE_SHIFT;
		src += k;
		dst += k;
		n -= k;
	}
}

/*
 * Install n consecutive pages from consecutive system pages (dst): moved
 * from the pool, copied otherwise. Both wake the threads faulting there.
 * Pages that cannot be installed lose MIGRATE_PFN_MIGRATE.
 */
static void install_run(struct hetmem_mm *mm, unsigned long va, unsigned long *src,
			unsigned long *dst, unsigned long n)
{
	unsigned long from = migrate_pfn_to_pfn(dst[0]) << PAGE_SHIFT, done = 0, k;
	unsigned long len = n << PAGE_SHIFT;
	int ret = -EINVAL;

	/*
	 * Moving a page flushes its old address from every CPU's TLB: an
	 * inter-processor interrupt per ioctl when another thread of the
	 * process runs (about 12 us here), against about 2 us to allocate and
	 * copy a page. Runs too short to spread that are copied.
	 */
	if (n >= MOVE_MIN_PAGES && in_pool(mm, dst[0] >> MIGRATE_PFN_SHIFT)) {
		ret = uffd_move(mm, va, from, len, true, &done);
		for (k = 0; k < done >> PAGE_SHIFT; k++)
			dst[k] |= MIGRATE_PFN_CONSUMED_;
		sys_pool_give(&mm->pool, false, from, done >> PAGE_SHIFT);
	}
	while (done < len && ret != -ESTALE) {
		unsigned long copied;

		/* Not movable (read-only mapping, ...): copy the rest. */
		ret = uffd_copy(mm, va + done, from + done, len - done, &copied);
		done += copied;
		if (!ret || ret == -ESTALE)
			break;
		/*
		 * ENOENT: the application unmapped the range while we held it
		 * (its UNMAP event left held entries to us). The kernel would
		 * find no page table and free the page: so do we, by letting
		 * finalize take it as gone home, entry and reference with it;
		 * the destination goes back unused; the install would have woken
		 * a thread faulting there, so the wake-up is ours. EEXIST: the
		 * CPU has a page there already, which the kernel never has next
		 * to a device-private entry (Documentation/hmm.md names the
		 * window that lets a write in): the page the application sees
		 * wins, and the device's copy goes as for ENOENT. Kept, every
		 * access there would try to bring it home again, forever.
		 */
		if (ret == -EEXIST) {
			pr_warn("the page at %#lx is on the CPU and on a device: the CPU's stays",
				va + done);
		} else if (ret != -ENOENT) {
			pr_warn("installing the page at %#lx failed: %d", va + done, ret);
			src[done >> PAGE_SHIFT] &= ~MIGRATE_PFN_MIGRATE;
		} else {
			uffd_wake(mm, va + done, PAGE_SIZE);
		}
		done += PAGE_SIZE;
	}
	/*
	 * ESTALE: moved or unmapped meanwhile. These stay on the device; their
	 * entries went with the mapping, or finalize drops them.
	 */
	for (k = done >> PAGE_SHIFT; ret == -ESTALE && k < n; k++)
		src[k] &= ~MIGRATE_PFN_MIGRATE;
}

static void mig_pages(struct mig *m)
{
	struct hetmem_mm *mm = m->mm;
	unsigned long i, run;

	/*
	 * Record device entries (system sources) and check destinations. A
	 * page whose range was unmapped or discarded since setup (gone) does
	 * not migrate: nothing is installed for an address that is not there.
	 */
	for (i = 0; i < m->npages; i++) {
		unsigned long *src = &m->src[i], dst = m->dst[i], va = mig_va(m, i);
		struct page *spage = migrate_pfn_to_page(*src), *dpage = migrate_pfn_to_page(dst);

		if (!(*src & MIGRATE_PFN_MIGRATE))
			continue;
		if (!(dst & MIGRATE_PFN_VALID) || !va || !swp_held_va(mm, va)) {
			*src &= ~MIGRATE_PFN_MIGRATE;
			continue;
		}
		if (spage) {
			/* Device -> system: the destination must be system memory. */
			if (dpage)
				*src &= ~MIGRATE_PFN_MIGRATE;
			continue;
		}
		if (!dpage || !is_device_private_page(dpage) ||
		    ((unsigned long)dpage & ~SWP_PAGE_MASK)) {
			*src &= ~MIGRATE_PFN_MIGRATE;
			continue;
		}
		/* With the entry's reference; refused when the range was unmapped. */
		if (!swp_held_map_page(mm, va, dpage, dst & MIGRATE_PFN_WRITE))
			*src &= ~MIGRATE_PFN_MIGRATE;
	}

	/*
	 * Switch the CPU side over, a run of consecutive pages at a time: zap
	 * system pages still in place (setup moved the others out already),
	 * install system pages in place of device pages.
	 */
	for (i = 0; i < m->npages; i += run ? run : 1) {
		unsigned long s = m->src[i], va = mig_va_now(m, i);
		bool to_dev = !migrate_pfn_to_page(s);

		run = 0;
		if (!(s & MIGRATE_PFN_MIGRATE) || (to_dev && !(s & MIGRATE_PFN_PRESENT_)))
			continue;
		/*
		 * Looked at again right before the CPU side changes: unmapped
		 * meanwhile, the page does not migrate, and finalize drops its
		 * entry (with the device page, either way).
		 */
		if (!va) {
			if (to_dev)
				undo_device_entry(mm, mig_va(m, i), &m->src[i], m->dst[i]);
			else
				m->src[i] &= ~MIGRATE_PFN_MIGRATE;
			continue;
		}
		for (run = 1; i + run < m->npages; run++) {
			unsigned long t = m->src[i + run], d0 = migrate_pfn_to_pfn(m->dst[i]);

			if (!(t & MIGRATE_PFN_MIGRATE) || !migrate_pfn_to_page(t) != to_dev ||
			    mig_va_now(m, i + run) != va + (run << PAGE_SHIFT))
				break;
			if (to_dev && !(t & MIGRATE_PFN_PRESENT_))
				break;
			if (!to_dev && (migrate_pfn_to_pfn(m->dst[i + run]) != d0 + run ||
					in_pool(mm, d0 + run) != in_pool(mm, d0)))
				break;
		}
		if (to_dev)
			zap_run(mm, va, &m->src[i], &m->dst[i], run);
		else
			install_run(mm, va, &m->src[i], &m->dst[i], run);
	}
	for (i = 0; i < m->npages; i++) {
		if (!(m->src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		if (migrate_pfn_to_page(m->src[i]))
			mm_stat_add(mm, to_ram, 1);
		else
			mm_stat_add(mm, to_device, 1);
	}
}

void migrate_vma_pages(struct migrate_vma *args)
{
	struct mig m = { args->mm, args->start, args->src, args->dst, args->npages };

	if (args->mm) {
		mig_pages(&m);
		args->state |= MS_PAGES;
	}
}

/* --- finalize ---------------------------------------------------------------------- */

/*
 * One page back where its held entry is now (an mremap moved it). Returns
 * whether the pool slot gave up its page (moved) or still has it (copied,
 * or the page was unmapped and its data goes with it).
 */
static bool restore_page(struct hetmem_mm *mm, unsigned long va, unsigned long from)
{
	for (int tries = 0; tries < 8; tries++) {
		unsigned long at = swp_held_va(mm, va), done = 0;
		int ret;

		if (!at)
			return false;
		ret = uffd_move(mm, at, from, PAGE_SIZE, true, &done);
		if (!ret)
			return true;
		if (ret != -ESTALE) {
			uffd_copy(mm, at, from, PAGE_SIZE, &done);
			return false;
		}
		va = at;
	}
	return false;
}

/* Pool pages [k, n) of a run back one by one, each to where its page is now. */
static void restore_each(struct hetmem_mm *mm, unsigned long va, unsigned long from,
			 unsigned long k, unsigned long n)
{
	for (; k < n; k++) {
		unsigned long f = from + (k << PAGE_SHIFT);

		sys_pool_give(&mm->pool, !restore_page(mm, va + (k << PAGE_SHIFT), f), f, 1);
	}
}

/*
 * Move n pages setup moved out back into place (they did not migrate).
 * Moved or unmapped meanwhile (ESTALE): page by page, to where each is now.
 * Not movable there (made read-only meanwhile): copied. Unmapped with no
 * event saying so in time (ENOENT): the pages stay in the pool.
 */
static void restore_run(struct hetmem_mm *mm, unsigned long va, unsigned long from, unsigned long n)
{
	unsigned long done = 0, copied = 0, len = n << PAGE_SHIFT;
	int ret = uffd_move(mm, va, from, len, true, &done);

	if (ret && ret != -ESTALE && done < len) {
		ret = uffd_copy(mm, va + done, from + done, len - done, &copied);
		if (ret && ret != -ESTALE && ret != -ENOENT)
			pr_warn("putting %#lx back failed: %d", va + done + copied, ret);
	}
	sys_pool_give(&mm->pool, false, from, done >> PAGE_SHIFT);
	if (ret == -ESTALE) {
		sys_pool_give(&mm->pool, true, from + done, copied >> PAGE_SHIFT);
		restore_each(mm, va, from, (done + copied) >> PAGE_SHIFT, n);
		return;
	}
	sys_pool_give(&mm->pool, true, from + done, n - (done >> PAGE_SHIFT));
}

/* Runs of consecutive pages to give back (one lock or syscall per run). */
struct page_run {
	unsigned long first, n;
};

static void run_flush(struct hetmem_mm *mm, struct page_run *r)
{
	if (r->n)
		put_snapshot(mm, r->first << PAGE_SHIFT, r->n);
	r->n = 0;
}

static void run_add(struct hetmem_mm *mm, struct page_run *r, unsigned long pfn)
{
	if (r->n && pfn == r->first + r->n) {
		r->n++;
		return;
	}
	run_flush(mm, r);
	r->first = pfn;
	r->n = 1;
}

/* A system page that did not migrate: moved out by setup, or protected in place. */
static bool stays(struct mig *m, unsigned long i)
{
	unsigned long s = m->src[i];

	return (s & MIGRATE_PFN_HELD_) && !(s & MIGRATE_PFN_MIGRATE) && !migrate_pfn_to_page(s) &&
	       (moved_early(m->mm, s) || (s & MIGRATE_PFN_PRESENT_));
}

static void mig_finalize(struct mig *m)
{
	struct hetmem_mm *mm = m->mm;
	struct page_run pool = { 0 }, stage = { 0 };
	unsigned long i, run;

	/*
	 * System pages that stay: write-enable those still in place, move back
	 * those setup moved out, while still holding them; not where the
	 * range went away meanwhile.
	 */
	for (i = 0; i < m->npages; i += run ? run : 1) {
		unsigned long s = m->src[i], va;
		bool back = moved_early(mm, s);

		run = 0;
		if (!stays(m, i))
			continue;
		va = mig_va_now(m, i);
		if (!va) {
			/* Unmapped meanwhile: its page stays in the pool. */
			run = 1;
			if (back)
				sys_pool_give(&mm->pool, true, migrate_pfn_to_pfn(s) << PAGE_SHIFT,
					      1);
			continue;
		}
		for (run = 1; i + run < m->npages; run++) {
			unsigned long t = m->src[i + run];

			if (!stays(m, i + run) || moved_early(mm, t) != back ||
			    mig_va_now(m, i + run) != va + (run << PAGE_SHIFT) ||
			    (back ? migrate_pfn_to_pfn(t) != migrate_pfn_to_pfn(s) + run :
				    !(t & MIGRATE_PFN_PRESENT_)))
				break;
		}
		if (back)
			restore_run(mm, va, migrate_pfn_to_pfn(s) << PAGE_SHIFT, run);
		else
			uffd_writeprotect(mm, va, run << PAGE_SHIFT, false);
	}

	for (i = 0; i < m->npages; i++) {
		unsigned long s = m->src[i], d = m->dst[i], va = mig_va(m, i);
		struct page *spage = migrate_pfn_to_page(s), *dpage = migrate_pfn_to_page(d);

		/*
		 * Pool pages of migrated pages wait there for the way back; the
		 * copies of pages left in place go back to the pool or are
		 * unmapped.
		 */
		if (!spage && (s & MIGRATE_PFN_MIGRATE) && moved_early(mm, s))
			run_add(mm, &pool, migrate_pfn_to_pfn(s));
		else if (snapshot(s))
			run_add(mm, in_pool(mm, migrate_pfn_to_pfn(s)) ? &pool : &stage,
				migrate_pfn_to_pfn(s));

		/* Destinations the driver allocated that were not used. */
		if (!(s & MIGRATE_PFN_MIGRATE) || spage) {
			if (dpage) {
				unlock_page(dpage);
				put_page(dpage);
			} else if ((d & MIGRATE_PFN_VALID) && !(d & MIGRATE_PFN_CONSUMED_) &&
				   in_pool(mm, migrate_pfn_to_pfn(d))) {
				sys_pool_give(&mm->pool, true, migrate_pfn_to_pfn(d) << PAGE_SHIFT,
					      1);
			}
		}
		/*
		 * Let go of the entries (shadow.c follows them where an mremap
		 * took them, and drops those whose range was unmapped).
		 */
		if (!(s & MIGRATE_PFN_HELD_) || !va)
			continue;
		if (!spage) {
			if (s & MIGRATE_PFN_MIGRATE) {
				/* Now a device-private entry; the driver's reference goes. */
				swp_held_unlock(mm, va);
				unlock_page(dpage);
				put_page(dpage);
			} else {
				swp_held_release(mm, va, 0);
			}
			continue;
		}
		if (s & MIGRATE_PFN_MIGRATE) {
			/* Home: the entry and its reference on the device page go. */
			if (s & MIGRATE_PFN_FAULT_)
				swp_held_set(mm, va, 0);
			else
				swp_held_release(mm, va, 0);
			swp_put_entry_page(mm, spage);
		} else if (!(s & MIGRATE_PFN_FAULT_)) {
			swp_held_unlock(mm, va);
		}
	}
	run_flush(mm, &pool);
	run_flush(mm, &stage);
	mm_swp_released(mm);
}

void migrate_vma_finalize(struct migrate_vma *args)
{
	struct hetmem_mm *mm = args->mm;
	struct mig m = { mm, args->start, args->src, args->dst, args->npages };

	if (!mm)
		return;
	/* Finalize straight after setup, as the kernel allows: nothing migrated. */
	if (!(args->state & MS_PAGES))
		for (unsigned long i = 0; i < args->npages; i++)
			args->src[i] &= ~MIGRATE_PFN_MIGRATE;
	mig_finalize(&m);
	/*
	 * Threads whose faults were left to us fault again. The handler counts
	 * a deferral before it looks at the entry, and we look at the count
	 * after releasing the entries: either it saw them released and served
	 * the fault, or we see the count moved and wake. (Read with a locked
	 * instruction: a plain load could pass the stores that released them.)
	 */
	if ((__atomic_fetch_add(&mm->deferrals, 0, __ATOMIC_SEQ_CST) << MS_DEFERRALS_SHIFT) !=
	    (args->state & ~((1UL << MS_DEFERRALS_SHIFT) - 1)))
		uffd_wake(mm, args->start, args->end - args->start);
	if (args->state & MS_FORK_LOCK)
		pthread_rwlock_unlock(&mm->fork_lock);
	args->state = 0;
	args->mm = NULL;
	hetmem_mm_put(mm);
}

/* --- eviction ---------------------------------------------------------------------- */

int migrate_device_range(unsigned long *src_pfns, unsigned long start, unsigned long npages)
{
	struct hetmem_mm *mm = hetmem_mm_tryget();

	for (unsigned long i = 0; i < npages; i++) {
		struct page *page = pfn_to_page(start + i);
		unsigned long va, *slot, e;

		src_pfns[i] = 0;
		if (!mm || !page || !page_ref_count(page))
			continue;
		va = __atomic_load_n(&page->private, __ATOMIC_ACQUIRE);
		slot = va ? va_table_slot(&mm->swp, va, false) : NULL;
		e = slot ? swp_load(slot) : 0;
		if (swp_page(e) != page || (e & SWP_MIGRATION) || !swp_claim(slot, e))
			continue;
		src_pfns[i] = migrate_pfn(start + i) | MIGRATE_PFN_MIGRATE | MIGRATE_PFN_HELD_ |
			      (e & SWP_WRITE ? MIGRATE_PFN_WRITE : 0);
		/* Mirrors of this page drop it; nobody's to skip (owner NULL). */
		mmu_notifier_invalidate(mm, MMU_NOTIFY_MIGRATE, va, va + PAGE_SIZE, NULL);
	}
	/* The reference is kept until migrate_device_finalize(). */
	if (mm) {
		bool any = false;

		for (unsigned long i = 0; i < npages && !any; i++)
			any = src_pfns[i];
		if (!any)
			hetmem_mm_put(mm);
	}
	return 0;
}

static bool any_held(const unsigned long *src_pfns, unsigned long npages)
{
	for (unsigned long i = 0; i < npages; i++)
		if (src_pfns[i] & MIGRATE_PFN_HELD_)
			return true;
	return false;
}

void migrate_device_pages(unsigned long *src_pfns, unsigned long *dst_pfns, unsigned long npages)
{
	struct mig m = { hetmem_mm_current(), ~0UL, src_pfns, dst_pfns, npages };

	if (m.mm && any_held(src_pfns, npages))
		mig_pages(&m);
}

void migrate_device_finalize(unsigned long *src_pfns, unsigned long *dst_pfns, unsigned long npages)
{
	struct mig m = { hetmem_mm_current(), ~0UL, src_pfns, dst_pfns, npages };
	unsigned long *vas;

	if (!m.mm || !any_held(src_pfns, npages))
		return;
	/* The pages' addresses, before finalize clears them, for the wake-up. */
	vas = calloc(npages, sizeof(*vas));
	for (unsigned long i = 0; vas && i < npages; i++)
		vas[i] = (src_pfns[i] & MIGRATE_PFN_HELD_) ? mig_va(&m, i) : 0;
	mig_finalize(&m);
	for (unsigned long i = 0; vas && i < npages; i++)
		if (vas[i])
			uffd_wake(m.mm, vas[i], PAGE_SIZE);
	free(vas);
	hetmem_mm_put(m.mm);
}
