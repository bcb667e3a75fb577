/* SPDX-License-Identifier: MIT */
/*
 * Private to mm/: the address-space context behind struct hetmem_mm, its
 * shadow page table, the system page pool, and the userfaultfd helpers.
 */
#ifndef HETMEM_MM_HMM_INTERNAL_H
#define HETMEM_MM_HMM_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <hetmem/memremap.h>
#include <hetmem/mm_types.h>
#include <hetmem/mmu_notifier.h>
#include "lib/compiler.h"
#include "lib/list.h"

/* --- va_table.c: a radix table indexed by user virtual address -------------------
 *
 *   46          30 29        21 20        12
 *  +--------------+------------+------------+
 *  | top (17 bits)| mid (9)    | leaf (9)   |   one unsigned long per 4 KiB page
 *  +--------------+------------+------------+
 *
 * Levels are allocated on first store and freed with the table only, so a
 * reader holding a slot pointer never sees it go away; slots are read and
 * written with atomics.
 */
#define VT_LEAF_SHIFT	21
#define VT_LEAF_ENTRIES 512UL
#define VT_MID_SHIFT	30
#define VT_MID_ENTRIES	512UL
#define VT_TOP_ENTRIES	(1UL << 17)

struct va_table {
	unsigned long ***top;
};

__internal int va_table_init(struct va_table *t);
__internal void va_table_destroy(struct va_table *t);
/* The leaf (512 slots) covering the 2 MiB block of @va, or NULL. */
__internal unsigned long *va_table_leaf(struct va_table *t, unsigned long va, bool alloc);
/* Calls @fn for every non-zero slot, in address order, until it returns false. */
__internal void va_table_for_each(struct va_table *t, unsigned long start, unsigned long end,
				  bool (*fn)(unsigned long va, unsigned long *slot, void *arg),
				  void *arg);

static inline unsigned long *va_table_slot(struct va_table *t, unsigned long va, bool alloc)
{
	unsigned long *leaf = va_table_leaf(t, va, alloc);

	return leaf ? &leaf[(va >> PAGE_SHIFT) & (VT_LEAF_ENTRIES - 1)] : NULL;
}

/* --- shadow entries ----------------------------------------------------------------
 *
 * What the kernel keeps in a non-present PTE, hetmem keeps in the shadow
 * table of the address space, one word per page:
 *
 *   63                                4   3   2   1   0
 *  +-----------------------------------+---+---+---+---+
 *  | struct page * (device-private)    | A | X | W | M |
 *  +-----------------------------------+---+---+---+---+
 *
 *  page, W   device-private entry (the CPU page is zapped), writable if W
 *  X, W      device-exclusive: the system page is write-protected for a
 *            device; W says whether write access is to be restored
 *  M         migration entry: a migration, or the fault handler, holds the
 *            page. Nobody else changes the entry or serves a fault on the
 *            page; whoever set M clears it and then wakes the page's
 *            faulting threads.
 *  0         an ordinary system page, present or not
 *
 * A (away) comes only with M: the page the holder took here is no longer
 * mapped here, because the application unmapped or mremap()ed it while
 * it was held (the kernel zaps or moves a migration entry with the page
 * tables, and the migration finds out when it looks for it):
 *
 *  A, M, X, address   moved: the held entry is now at that address
 *                     (page aligned, in the upper bits)
 *  A, M, page         gone: unmapped; the holder drops the entry, and the
 *                     reference of the device page it names
 *
 * The holder reaches its entry through swp_held_*() (shadow.c), which
 * follow moves and report a page gone. Away entries stay until the holder
 * lets go: the slot is not reused meanwhile, and a new mapping at the
 * address is not registered with the userfaultfd before they are gone, so
 * nothing the holder still does lands in it.
 *
 * M is a try-lock: it is taken with a compare-and-swap from the value the
 * taker expects, and never waited for while holding another.
 */
#define SWP_MIGRATION (1UL << 0)
#define SWP_WRITE     (1UL << 1)
#define SWP_EXCLUSIVE (1UL << 2)
#define SWP_AWAY      (1UL << 3)
#define SWP_PAGE_MASK (~15UL)
#define SWP_MOVED     (SWP_AWAY | SWP_EXCLUSIVE | SWP_MIGRATION)
#define SWP_GONE      (SWP_AWAY | SWP_MIGRATION)

/* struct pages live in arrays from calloc() (16-byte aligned): bit 3 is free. */
_Static_assert(sizeof(struct page) % 16 == 0, "struct page pointers must leave bit 3 free");

/* The device-private page of an entry, or NULL (away entries included). */
static inline struct page *swp_page(unsigned long e)
{
	return (e & SWP_AWAY) ? NULL : (struct page *)(e & SWP_PAGE_MASK);
}

static inline bool swp_is_moved(unsigned long e)
{
	return (e & 15UL) == SWP_MOVED;
}

static inline bool swp_is_gone(unsigned long e)
{
	return (e & (SWP_AWAY | SWP_EXCLUSIVE)) == SWP_AWAY;
}

static inline unsigned long swp_load(const unsigned long *slot)
{
	return __atomic_load_n(slot, __ATOMIC_ACQUIRE);
}

/* Take the migration entry of a page whose entry is @expect (which has no M). */
static inline bool swp_claim(unsigned long *slot, unsigned long expect)
{
	return __atomic_compare_exchange_n(slot, &expect, expect | SWP_MIGRATION, false,
					   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

/*
 * migrate_device.c: whether page @i of a migration set up on a range is no
 * longer mapped at its address (unmapped, or moved by mremap(), since it
 * was collected). For drivers mapping migrated pages in their mirrors:
 * checked under the lock their invalidation takes, a page not away then
 * leaves the mirror by the invalidation of the unmap or move still to come.
 */
struct migrate_vma;
__internal bool migrate_vma_page_away(const struct migrate_vma *args, unsigned long i);

/* --- sys_pool.c: system pages kept for the way back --------------------------------
 *
 * A reserved range of anonymous memory, registered with the userfaultfd so
 * UFFDIO_MOVE may move pages in and out. Each 4 KiB slot is free and
 * filled (holds a page), free and empty (a hole), or taken by a migration.
 */
struct sys_pool {
	unsigned long base;
	unsigned long nslots;
	unsigned long *filled; /* free slots holding a page */
	unsigned long *empty; /* free slots without one */
	unsigned long cur_filled, cur_empty;
	unsigned long nr_filled, nr_empty;
	pthread_mutex_t lock;
};

__internal int sys_pool_init(struct sys_pool *p, struct hetmem_mm *mm);
__internal void sys_pool_fini(struct sys_pool *p);
/* Take up to @n consecutive free slots of a kind; returns how many, first in *va. */
__internal unsigned long sys_pool_take(struct sys_pool *p, bool filled, unsigned long n,
				       unsigned long *va);
__internal void sys_pool_give(struct sys_pool *p, bool filled, unsigned long va, unsigned long n);

static inline bool sys_pool_contains(const struct sys_pool *p, unsigned long va)
{
	return va - p->base < (p->nslots << PAGE_SHIFT);
}

/* --- mmu_notifier.c --------------------------------------------------------------- */
struct mmu_notifier_subscriptions {
	pthread_mutex_t lock;
	pthread_cond_t wq;
	unsigned long invalidate_seq; /* odd while invalidations run */
	unsigned long active; /* running invalidations */
	struct mmu_interval_notifier **subs;
	unsigned int nr, cap;
	struct mmu_interval_notifier **deferred; /* inserts and removes, applied at the end */
	unsigned int nr_deferred, cap_deferred;
};

__internal void mmu_notifier_subscriptions_init(struct mmu_notifier_subscriptions *s);
__internal void mmu_notifier_subscriptions_fini(struct hetmem_mm *mm);
__internal void mmu_notifier_range_init_owner(struct mmu_notifier_range *range,
					      enum mmu_notifier_event event, struct hetmem_mm *mm,
					      unsigned long start, unsigned long end, void *owner);
__internal void mmu_notifier_invalidate_range_start(struct mmu_notifier_range *range);
__internal void mmu_notifier_invalidate_range_end(struct mmu_notifier_range *range);
/* Both, for changes already made (userfaultfd events) or about to be made. */
__internal void mmu_notifier_invalidate(struct hetmem_mm *mm, enum mmu_notifier_event event,
					unsigned long start, unsigned long end, void *owner);

/* --- uffd_ranges.c: what is registered, and how ---------------------------------- */
struct uffd_range {
	unsigned long start, end; /* registered MISSING | WP */
};

struct uffd_ranges {
	pthread_mutex_t lock;
	struct uffd_range *r; /* sorted, disjoint */
	unsigned int nr, cap;
};

__internal void uffd_ranges_init(struct uffd_ranges *rs);
__internal void uffd_ranges_fini(struct uffd_ranges *rs);
/* Whether [start, end) touches the handler thread's stack (never mirrored). */
__internal bool mm_handler_stack(struct hetmem_mm *mm, unsigned long start, unsigned long end);
/*
 * Register [start, end) (within one mapping), unless known to be:
 * MISSING | WP whether or not the caller needs missing-page faults
 * (@missing), for the reasons uffd_ranges.c gives. 0, -EFAULT for a range
 * touching the handler thread's stack, or the ioctl's error.
 */
__internal int uffd_ranges_ensure(struct hetmem_mm *mm, unsigned long start, unsigned long end,
				  bool missing);
__internal void uffd_ranges_forget(struct hetmem_mm *mm, unsigned long start, unsigned long end);
__internal void uffd_ranges_move(struct hetmem_mm *mm, unsigned long from, unsigned long to,
				 unsigned long len);

/* --- the address space ------------------------------------------------------------ */

/* An own MADV_DONTNEED in flight: its REMOVE events are not the application's. */
struct zap_marker {
	unsigned long start, end;
	struct list_head node;
};

struct hetmem_mm {
	int refs; /* under the global context lock */
	bool dead; /* inherited by a fork child: never used again */
	int uffd;
	int stop_fd; /* eventfd telling the handler thread to exit */
	pthread_t thread;
	/*
	 * The handler thread's stack, guard page included: hetmem's, so that
	 * the C library never discards it (MADV_DONTNEED at thread exit, a
	 * REMOVE event the handler would wait for itself), and never registered.
	 */
	void *stack;
	size_t stack_len;
	bool have_move; /* UFFDIO_MOVE is available */
	bool stopping;
	unsigned int spin_us; /* the handler polls this long after work */

	struct va_table swp;
	struct sys_pool pool;
	struct uffd_ranges ranges;
	/*
	 * Odd while the handler thread is between reading a batch of messages
	 * and finishing it; mm_sync_events() waits for it to turn.
	 */
	unsigned long ev_gen;
	struct mmu_notifier_subscriptions notifiers;

	/*
	 * Migrations of system memory hold it for reading from setup to
	 * finalize; fork preparation takes it for writing, then brings every
	 * device-private page home.
	 */
	pthread_rwlock_t fork_lock;

	/* Threads waiting for a migration entry to go, or for ev_gen to turn. */
	pthread_mutex_t wait_lock;
	pthread_cond_t wait_cond;
	unsigned int waiters;
	unsigned long wait_gen;

	pthread_mutex_t zap_lock;
	struct list_head zaps;

	/* Entries an mremap() brought where an earlier holder still is (shadow.c). */
	pthread_mutex_t park_lock;
	struct list_head parked;
	unsigned long nr_parked;
	/*
	 * Device pages of entries an UNMAP or REMOVE dropped, whose references
	 * wait until the event's invalidation has reached the mirrors
	 * (swp_put_owed()); under owed_lock.
	 */
	pthread_mutex_t owed_lock;
	struct page **owed;
	unsigned int nr_owed, cap_owed;

	unsigned long nr_device; /* device-private entries, for fork's fast path */
	unsigned long deferrals; /* faults the handler looked at (migrate_vma_finalize()) */
	struct hetmem_mm_stats stats;
};

#define mm_stat_add(mm, field, n) __atomic_add_fetch(&(mm)->stats.field, (n), __ATOMIC_RELAXED)

/* uffd.c */
__internal bool uffd_on_handler_thread(void);
__internal struct hetmem_mm *hetmem_mm_current(void); /* no reference; NULL if none */
__internal struct hetmem_mm *hetmem_mm_tryget(void); /* a reference, if there is one */
__internal void hetmem_mm_grab(struct hetmem_mm *mm); /* another reference */
__internal void hetmem_mm_orphan(void); /* fork child: forget the context */
/* A migration entry was dropped: wake threads waiting for one. */
__internal void mm_swp_released(struct hetmem_mm *mm);
/* Wait (bounded) until *@slot no longer has a migration entry; -ETIMEDOUT. */
__internal int mm_swp_wait(struct hetmem_mm *mm, unsigned long *slot, int timeout_ms);
/*
 * Wait until the messages the handler thread has read so far are handled:
 * after munmap() or madvise() returns (its event was read), the event's
 * invalidation and shadow-entry drop are done. No-op on the handler thread.
 */
__internal void mm_sync_events(struct hetmem_mm *mm);

/* An ioctl said EAGAIN: an event is pending. Read it if we are the handler; yield. */
__internal void uffd_eagain(struct hetmem_mm *mm);

/*
 * uffd_ops.c: thin ioctl wrappers; partial progress in *done (bytes).
 * uffd_copy(), uffd_move() and uffd_zeropage() act on pages the caller
 * holds (the destination, or for a move out to the pool the source):
 * -ESTALE when some of them are no longer mapped at that address.
 */
__internal int uffd_register(struct hetmem_mm *mm, unsigned long start, unsigned long len,
			     bool missing);
__internal int uffd_writeprotect(struct hetmem_mm *mm, unsigned long start, unsigned long len,
				 bool protect);
__internal int uffd_wake(struct hetmem_mm *mm, unsigned long start, unsigned long len);
__internal int uffd_copy(struct hetmem_mm *mm, unsigned long dst, unsigned long src,
			 unsigned long len, unsigned long *done);
__internal int uffd_move(struct hetmem_mm *mm, unsigned long dst, unsigned long src,
			 unsigned long len, bool wake, unsigned long *done);
__internal int uffd_zeropage(struct hetmem_mm *mm, unsigned long dst, unsigned long len);
/* MADV_DONTNEED on a registered range; -EDEADLK on the handler thread. */
__internal int mm_zap(struct hetmem_mm *mm, unsigned long start, unsigned long len);
__internal bool mm_zap_is_own(struct hetmem_mm *mm, unsigned long start, unsigned long end);
/* Copies a page of process memory without the ThreadSanitizer seeing it. */
__internal void copy_user_page(void *dst, const void *src);

/* pagemap.c: /proc/self/pagemap in batches. */
#define PM_PRESENT	  (1ULL << 63)
#define PM_SWAP		  (1ULL << 62)
#define PM_FILE		  (1ULL << 61)
#define PM_UFFD_WP	  (1ULL << 57)
#define PM_MMAP_EXCLUSIVE (1ULL << 56)
#define PM_PFN_MASK	  ((1ULL << 55) - 1)

__internal int pagemap_read(unsigned long va, unsigned long n, uint64_t *out);
/* One byte per page: PM_CAT_*, from PAGEMAP_SCAN (or pagemap on older kernels). */
#define PM_CAT_PRESENT 1
#define PM_CAT_SWAP 2
#define PM_CAT_ZERO 4
__internal int pagemap_categories(unsigned long va, unsigned long n, uint8_t *out);
__internal bool pagemap_is_zero(uint64_t pm);
__internal void pagemap_forget(void);

/* vma.c */
__internal int vma_find(unsigned long addr, struct vm_area_struct *vma); /* covering or next */
__internal void vma_forget(void);

/* uffd_fault.c */
struct uffd_msg;
__internal void uffd_handle_fault(struct hetmem_mm *mm, const struct uffd_msg *msg);
/*
 * An event in two halves: at once (shadow entries and registrations; takes
 * no lock a caller may hold) and later (the notifiers' invalidation, which
 * may take drivers' locks). Returns whether there is a later half.
 */
__internal bool uffd_event_now(struct hetmem_mm *mm, const struct uffd_msg *msg);
__internal void uffd_event_later(struct hetmem_mm *mm, const struct uffd_msg *msg);
/*
 * Bring a device-private page home through its map's migrate_to_ram(), as
 * a CPU fault would: 0 when the page was handled (or someone else holds
 * it: retry later), -EAGAIN when the entry changed under us, -EFAULT when
 * migrate_to_ram() failed.
 */
__internal int do_device_private_fault(struct hetmem_mm *mm, unsigned long va, unsigned int flags);
/* Revoke device-exclusive access to one page; 0 or -EAGAIN (entry changed). */
__internal int revoke_device_exclusive(struct hetmem_mm *mm, unsigned long va);

/*
 * shadow.c: held entries through unmap and mremap. @va is always the
 * address the holder took the entry at; the functions follow it to where
 * it is now.
 */
/* Where the page held at @va is mapped now, or 0 when it was unmapped. */
__internal unsigned long swp_held_va(struct hetmem_mm *mm, unsigned long va);
/* Give the entry held at @va the value @value (still held); false when it is gone. */
__internal bool swp_held_set(struct hetmem_mm *mm, unsigned long va, unsigned long value);
/*
 * Record device-private @page (writable if @write) as the entry held at
 * @va, with the entry's reference; false (nothing recorded) when it is gone.
 */
__internal bool swp_held_map_page(struct hetmem_mm *mm, unsigned long va, struct page *page,
				  bool write);
/*
 * Let go of the entry held at @va, leaving @value there (0, a device-exclusive
 * mark, or the device-private entry of a page whose reference @value
 * carries). When the page is gone, nothing is left and @value's page
 * reference is dropped. Returns the address the entry was left at, or 0.
 */
__internal unsigned long swp_held_release(struct hetmem_mm *mm, unsigned long va,
					  unsigned long value);
/* The same, leaving the value the entry holds now (without M). */
__internal unsigned long swp_held_unlock(struct hetmem_mm *mm, unsigned long va);
/* Drop a device-private entry's reference on @page (the entry is gone). */
__internal void swp_put_entry_page(struct hetmem_mm *mm, struct page *page);
/*
 * Put the device pages that events dropped (swp_unmap_range()). Called
 * once the invalidations of every event read so far have run: until then
 * a mirror may still map a page, and a page freed and given to a new
 * migration would take the mirror's stale writes.
 */
__internal void swp_put_owed(struct hetmem_mm *mm);
/* Events: mark the held entries of [start, end) gone; drop the others. */
__internal void swp_unmap_range(struct hetmem_mm *mm, unsigned long start, unsigned long end);
/* Events: move the entries of [from, from + len) to @to, held ones included. */
__internal void swp_move_range(struct hetmem_mm *mm, unsigned long from, unsigned long to,
			       unsigned long len);
/* Wait (bounded) until [start, end) has no away entries; not on the handler thread. */
__internal void swp_wait_away(struct hetmem_mm *mm, unsigned long start, unsigned long end);
/* Teardown: free the parking cells (and drop what is still parked). */
__internal void swp_park_fini(struct hetmem_mm *mm);

/* fork.c: every device-private page home (fork preparation, teardown) */
__internal void mm_evict_all(struct hetmem_mm *mm);
__internal void hmm_fork_init(void);

#endif /* HETMEM_MM_HMM_INTERNAL_H */
