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

/* Device entries keep a struct page * above the shadow entry's flag bits. */
_Static_assert(sizeof(struct page) % 16 == 0, "struct page keeps 16-byte alignment in arrays");

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

static bool swp_gone(unsigned long *slot)
{
	return slot && (swp_load(slot) & SWP_GONE);
}

/* The held entry of page @i was marked gone by an unmap or discard. */
static bool mig_gone(const struct mig *m, unsigned long i)
{
	unsigned long va = mig_va(m, i);

	return va && swp_gone(va_table_slot(&m->mm->swp, va, false));
}

bool migrate_vma_page_gone(const struct migrate_vma *args, unsigned long i)
{
	if (!args->mm || i >= args->npages || !(args->src[i] & MIGRATE_PFN_HELD_))
		return false;
	return swp_gone(va_table_slot(&args->mm->swp, args->start + (i << PAGE_SHIFT), false));
}

/* A device entry's page, and the entry's reference on it, go. */
static void drop_device_page(struct hetmem_mm *mm, struct page *page)
{
	__atomic_store_n(&page->private, 0, __ATOMIC_RELEASE);
	__atomic_sub_fetch(&mm->nr_device, 1, __ATOMIC_RELAXED);
	put_page(page);
}

bool swp_unhold(struct hetmem_mm *mm, unsigned long va, unsigned long *slot, unsigned long value)
{
	unsigned long e = swp_load(slot);
	struct page *page;

	do {
		if (e & SWP_GONE)
			goto gone;
	} while (!__atomic_compare_exchange_n(slot, &e, value, false, __ATOMIC_ACQ_REL,
					      __ATOMIC_ACQUIRE));
	return false;
gone:
	/*
	 * Nobody else changes a gone entry. A device page mapped by a mirror
	 * after the unmap's invalidation ran must leave the mirror before it
	 * can be freed and used again.
	 */
	page = swp_page(e);
	if (page)
		mmu_notifier_invalidate(mm, MMU_NOTIFY_UNMAP, va, va + PAGE_SIZE, NULL);
	__atomic_store_n(slot, 0, __ATOMIC_RELEASE);
	if (page)
		drop_device_page(mm, page);
	return true;
}

/* --- setup ------------------------------------------------------------------------- */

/* Step 1 for one mapping's part of the range; also collects device pages. */
static void collect_vma(struct migrate_vma *args, const struct vm_area_struct *vma, unsigned long a,
			unsigned long b, bool *any_system)
{
	struct hetmem_mm *mm = args->mm;
	bool sys = (args->flags & MIGRATE_VMA_SELECT_SYSTEM) && vma_is_anonymous(vma) &&
		   !(vma->vm_flags & VM_SHARED);

	/* Faults and events of the range come to us from now on. */
	if (sys && uffd_ranges_ensure(mm, a, b, true)) {
		pr_debug("cannot register [%#lx-%#lx): not migrating it", a, b);
		sys = false;
	}
	for (unsigned long va = a; va < b; va += PAGE_SIZE) {
		unsigned long i = (va - args->start) >> PAGE_SHIFT;
		unsigned long *slot = va_table_slot(&mm->swp, va, sys);
		unsigned long e = slot ? swp_load(slot) : 0;
		struct page *page = swp_page(e);

		if (!e) {
			if (sys && slot && swp_claim(slot, 0)) {
				args->src[i] = MIGRATE_PFN_HELD_ |
					       (vma->vm_flags & VM_WRITE ? MIGRATE_PFN_WRITE : 0);
				*any_system = true;
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
	for (i = 0; i < n; i++) {
		unsigned long va = a + (i << PAGE_SHIFT);

		if (!(src[i] & MIGRATE_PFN_HELD_) || (src[i] & MIGRATE_PFN_VALID))
			continue;
		if (cat[i] & PM_CAT_PRESENT) {
			src[i] |= MIGRATE_PFN_MIGRATE | MIGRATE_PFN_PRESENT_;
			/* The zero page migrates as an empty entry. */
			if (!(cat[i] & PM_CAT_ZERO))
				src[i] |= migrate_pfn(va >> PAGE_SHIFT);
		} else if (cat[i] & PM_CAT_SWAP) {
			/* Swapped out: not collected, as in the kernel. */
			__atomic_store_n(va_table_slot(&args->mm->swp, va, false), 0,
					 __ATOMIC_RELEASE);
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
		if (valid)
			unmap_present(args, memfd, a + (i << PAGE_SHIFT), src + i, run);
		else if (uffd_writeprotect(args->mm, a + (i << PAGE_SHIFT), run << PAGE_SHIFT,
					   true))
			uncollect(args, src + i, run, false);
	}
	return 0;
}

/* Let go of the system entries setup claimed in pages [i, i + n): not collected. */
static void unclaim(struct migrate_vma *args, unsigned long i, unsigned long n)
{
	for (; n; i++, n--) {
		unsigned long va = args->start + (i << PAGE_SHIFT);

		if (!(args->src[i] & MIGRATE_PFN_HELD_) || migrate_pfn_to_page(args->src[i]))
			continue;
		__atomic_store_n(va_table_slot(&args->mm->swp, va, false), 0, __ATOMIC_RELEASE);
		args->src[i] = 0;
	}
}

/*
 * Events were handled while setup claimed system entries. An unmap handled
 * before an entry was claimed found nothing to mark, and one handled after
 * marked it gone, perhaps on a mapping that replaced the one it unmapped:
 * either way the page is not ours to migrate. What is left is mapped, and
 * registered; a later unmap marks it gone.
 */
static void recheck_claims(struct migrate_vma *args)
{
	struct hetmem_mm *mm = args->mm;
	unsigned long a = args->start;

	mm_sync_events(mm);
	for (unsigned long i = 0; i < args->npages; i++)
		if ((args->src[i] & MIGRATE_PFN_HELD_) && !migrate_pfn_to_page(args->src[i]) &&
		    swp_gone(va_table_slot(&mm->swp, args->start + (i << PAGE_SHIFT), false)))
			unclaim(args, i, 1);
	while (a < args->end) {
		struct vm_area_struct vma;
		unsigned long b = args->end;
		bool keep = false;
		int ret = vma_find(a, &vma);

		if (!ret && vma.vm_start <= a) {
			b = vma.vm_end < args->end ? vma.vm_end : args->end;
			keep = vma_is_anonymous(&vma) && !(vma.vm_flags & VM_SHARED) &&
			       !uffd_ranges_ensure(mm, a, b, true);
		} else if (!ret && vma.vm_start < args->end) {
			b = vma.vm_start; /* a hole up to the next mapping */
		}
		if (!keep)
			unclaim(args, (a - args->start) >> PAGE_SHIFT, (b - a) >> PAGE_SHIFT);
		a = b;
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
	/* Read with a locked instruction: see recheck_claims() below. */
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
	 * The handler bumps the count (a locked instruction too) before it
	 * reads events, and looks at entries after: either it saw our claims
	 * (and marks them gone), or we see the count moved.
	 */
	if (any_system &&
	    ((gen & 1) || __atomic_fetch_add(&mm->ev_gen, 0, __ATOMIC_SEQ_CST) != gen))
		recheck_claims(args);
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
	/* Still held; a gone mark stays. */
	__atomic_and_fetch(va_table_slot(&mm->swp, va, false), SWP_MIGRATION | SWP_GONE,
			   __ATOMIC_ACQ_REL);
	drop_device_page(mm, migrate_pfn_to_page(dst));
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
	while (done < len) {
		unsigned long copied;

		/* Not movable (read-only mapping, ...): copy the rest. */
		ret = uffd_copy(mm, va + done, from + done, len - done, &copied);
		done += copied;
		if (!ret)
			break;
		/*
		 * ENOENT: the application unmapped the range while we held it
		 * (its UNMAP event left held entries to us). The kernel would
		 * find no page table and free the page: so do we, by letting
		 * finalize take it as gone home, entry and reference with it;
		 * the destination goes back unused; the install would have woken
		 * a thread faulting there, so the wake-up is ours. EEXIST: the
		 * CPU has a page there already; the device page stays.
		 */
		if (ret != -ENOENT) {
			pr_warn("installing the page at %#lx failed: %d", va + done, ret);
			src[done >> PAGE_SHIFT] &= ~MIGRATE_PFN_MIGRATE;
		} else {
			uffd_wake(mm, va + done, PAGE_SIZE);
		}
		done += PAGE_SIZE;
	}
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
		unsigned long *src = &m->src[i], dst = m->dst[i], va = mig_va(m, i), *slot, e;
		struct page *spage = migrate_pfn_to_page(*src), *dpage = migrate_pfn_to_page(dst);

		if (!(*src & MIGRATE_PFN_MIGRATE))
			continue;
		slot = va ? va_table_slot(&mm->swp, va, false) : NULL;
		if (!(dst & MIGRATE_PFN_VALID) || !slot || swp_gone(slot)) {
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
		get_page(dpage); /* the entry's reference */
		__atomic_store_n(&dpage->private, va, __ATOMIC_RELEASE);
		__atomic_add_fetch(&mm->nr_device, 1, __ATOMIC_RELAXED);
		/* From the held entry: an unmap may mark it gone meanwhile. */
		e = SWP_MIGRATION;
		if (!__atomic_compare_exchange_n(slot, &e,
						 (unsigned long)dpage |
							 (dst & MIGRATE_PFN_WRITE ? SWP_WRITE : 0) |
							 SWP_MIGRATION,
						 false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			__atomic_store_n(&dpage->private, 0, __ATOMIC_RELEASE);
			__atomic_sub_fetch(&mm->nr_device, 1, __ATOMIC_RELAXED);
			put_page(dpage);
			*src &= ~MIGRATE_PFN_MIGRATE;
		}
	}

	/*
	 * Switch the CPU side over, a run of consecutive pages at a time: zap
	 * system pages still in place (setup moved the others out already),
	 * install system pages in place of device pages.
	 */
	for (i = 0; i < m->npages; i += run ? run : 1) {
		unsigned long s = m->src[i], va = mig_va(m, i);
		bool to_dev = !migrate_pfn_to_page(s);

		run = 0;
		if (!(s & MIGRATE_PFN_MIGRATE) || (to_dev && !(s & MIGRATE_PFN_PRESENT_)))
			continue;
		/* Looked at again right before the CPU side changes. */
		if (mig_gone(m, i)) {
			if (to_dev)
				undo_device_entry(mm, va, &m->src[i], m->dst[i]);
			else
				m->src[i] &= ~MIGRATE_PFN_MIGRATE;
			continue;
		}
		for (run = 1; i + run < m->npages; run++) {
			unsigned long t = m->src[i + run], d0 = migrate_pfn_to_pfn(m->dst[i]);

			if (!(t & MIGRATE_PFN_MIGRATE) || !migrate_pfn_to_page(t) != to_dev ||
			    mig_va(m, i + run) != va + (run << PAGE_SHIFT) || mig_gone(m, i + run))
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

/* Move n pages setup moved out back into place (they did not migrate). */
static void restore_run(struct hetmem_mm *mm, unsigned long va, unsigned long from, unsigned long n)
{
	unsigned long done = 0, copied = 0;
	int ret = uffd_move(mm, va, from, n << PAGE_SHIFT, true, &done);

	/*
	 * Not movable there (made read-only meanwhile): copy. Unmapped, and
	 * not yet marked gone (its event is still on its way): neither works
	 * (ENOENT), and the pages stay in the pool.
	 */
	if (ret && done < n << PAGE_SHIFT) {
		ret = uffd_copy(mm, va + done, from + done, (n << PAGE_SHIFT) - done, &copied);
		if (ret && ret != -ENOENT)
			pr_warn("putting %#lx back failed: %d", va + done + copied, ret);
	}
	sys_pool_give(&mm->pool, false, from, done >> PAGE_SHIFT);
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
		unsigned long s = m->src[i];
		bool back = moved_early(mm, s);

		run = 0;
		if (!stays(m, i))
			continue;
		if (mig_gone(m, i)) {
			/* Its range went away: a page setup moved out stays in the pool. */
			if (back)
				sys_pool_give(&mm->pool, true, migrate_pfn_to_pfn(s) << PAGE_SHIFT,
					      1);
			continue;
		}
		for (run = 1; i + run < m->npages; run++) {
			unsigned long t = m->src[i + run];

			if (!stays(m, i + run) || moved_early(mm, t) != back ||
			    (back ? migrate_pfn_to_pfn(t) != migrate_pfn_to_pfn(s) + run :
				    !(t & MIGRATE_PFN_PRESENT_)) ||
			    mig_gone(m, i + run))
				break;
		}
		if (back)
			restore_run(mm, mig_va(m, i), migrate_pfn_to_pfn(s) << PAGE_SHIFT, run);
		else
			uffd_writeprotect(mm, mig_va(m, i), run << PAGE_SHIFT, false);
	}

	for (i = 0; i < m->npages; i++) {
		unsigned long s = m->src[i], d = m->dst[i], va = mig_va(m, i), *slot;
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
		if (!(s & MIGRATE_PFN_HELD_) || !va)
			continue;
		slot = va_table_slot(&mm->swp, va, false);
		if (!spage) {
			if (s & MIGRATE_PFN_MIGRATE) {
				/* Now a device-private entry (or gone); the driver's reference goes. */
				swp_unhold(mm, va, slot,
					   swp_load(slot) & ~(SWP_MIGRATION | SWP_GONE));
				unlock_page(dpage);
				put_page(dpage);
			} else {
				__atomic_store_n(slot, 0, __ATOMIC_RELEASE);
			}
			continue;
		}
		if (s & MIGRATE_PFN_MIGRATE) {
			/* Home: the entry and its reference on the device page go. */
			__atomic_store_n(slot, s & MIGRATE_PFN_FAULT_ ? SWP_MIGRATION : 0,
					 __ATOMIC_RELEASE);
			__atomic_store_n(&spage->private, 0, __ATOMIC_RELEASE);
			__atomic_sub_fetch(&mm->nr_device, 1, __ATOMIC_RELAXED);
			put_page(spage);
		} else if (!(s & MIGRATE_PFN_FAULT_)) {
			/* Still on the device; dropped if its range went away. */
			swp_unhold(mm, va, slot, swp_load(slot) & ~(SWP_MIGRATION | SWP_GONE));
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
