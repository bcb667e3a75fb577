// SPDX-License-Identifier: MIT
/*
 * migrate_vma_setup / _pages / _finalize and the device-range eviction
 * (migrate_device_range / _pages / _finalize) on the process's own memory;
 * setup is in migrate_setup.c.
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
#include "migrate_internal.h"
#include "lib/trace.h"

bool migrate_vma_page_away(const struct migrate_vma *args, unsigned long i)
{
	unsigned long va;

	if (!args->mm || i >= args->npages || !(args->src[i] & MIGRATE_PFN_HELD_))
		return false;
	va = args->start + (i << PAGE_SHIFT);
	return swp_held_va(args->mm, va) != va;
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
