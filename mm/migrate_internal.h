/* SPDX-License-Identifier: MIT */
/*
 * Private to the migration code (migrate_setup.c, migrate_device.c):
 * hetmem's bits in migrate_vma entries and the helpers both halves use.
 */
#ifndef HETMEM_MM_MIGRATE_INTERNAL_H
#define HETMEM_MM_MIGRATE_INTERNAL_H

#include <hetmem/migrate.h>
#include "hmm_internal.h"

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

static inline unsigned long mig_va(const struct mig *m, unsigned long i)
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
static inline unsigned long mig_va_now(const struct mig *m, unsigned long i)
{
	unsigned long va = mig_va(m, i);

	return va ? swp_held_va(m->mm, va) : 0;
}

static inline bool in_pool(struct hetmem_mm *mm, unsigned long pfn)
{
	return sys_pool_contains(&mm->pool, pfn << PAGE_SHIFT);
}

/* A system page setup moved into the pool (its src pfn is the slot's). */
static inline bool moved_early(struct hetmem_mm *mm, unsigned long s)
{
	return (s & MIGRATE_PFN_VALID) && !(s & MIGRATE_PFN_PRESENT_) &&
	       in_pool(mm, migrate_pfn_to_pfn(s)) && !migrate_pfn_to_page(s);
}

/* A system page left in place: its src pfn is setup's copy of it. */
static inline bool snapshot(unsigned long s)
{
	return (s & MIGRATE_PFN_VALID) && (s & MIGRATE_PFN_PRESENT_) && !migrate_pfn_to_page(s);
}

/* Give back a page setup took to copy a page into (pool or staging). */
__internal void put_snapshot(struct hetmem_mm *mm, unsigned long va, unsigned long n);

#endif /* HETMEM_MM_MIGRATE_INTERNAL_H */
