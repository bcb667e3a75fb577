// SPDX-License-Identifier: MIT
/*
 * Shadow entries through munmap() and mremap().
 *
 * The kernel zaps device-private and migration entries when the
 * application unmaps or discards memory (zap_pte_range()), and moves them
 * with the page tables on mremap() (move_page_tables()); a migration that
 * held a page finds out when it looks for its migration entry again
 * (remove_migration_ptes() finds nothing, or finds it at the new address)
 * and frees or installs the page accordingly.
 *
 * hetmem hears of both after the fact, from userfaultfd events, which the
 * handler thread applies to the shadow table here:
 *
 *   UNMAP, REMOVE   entries nobody holds are dropped, and their device
 *                   page's reference once the event's invalidation has
 *                   run (the kernel frees zapped pages after the
 *                   notifiers too); held ones are marked gone (the
 *                   holder drops them and whatever page they name)
 *   REMAP           entries move to the new address; a held one leaves a
 *                   forwarding mark at the old address, which the holder
 *                   follows
 *
 * Holders (migrations, the fault handler, device-exclusive marking) reach
 * their entries through swp_held_*(), always naming the address they took
 * the entry at. Everything is a compare-and-swap on one word: the handler
 * and a holder may act on the same entry at the same time, and whichever
 * comes second sees what the first did.
 *
 * Away entries (gone, moved) keep their slot until the holder lets go. A
 * mapping created meanwhile at that address is not registered with the
 * userfaultfd until they are gone (swp_wait_away()): the holder's late
 * installs (UFFDIO_COPY and UFFDIO_MOVE want a registered destination)
 * cannot land in it. An mremap() onto such an address cannot wait: the
 * entries it brings are parked in a cell of their own (struct park) until
 * the slot is free, and a holder of one reaches it through a forwarding
 * mark to the cell.
 */
#define pr_fmt(fmt) "shadow: " fmt

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include <hetmem/log.h>
#include "hmm_internal.h"

/* Moves of one held page followed before giving up (each is an mremap()). */
#define MAX_HOPS 64
/* How long a registration waits for the holders of an old mapping's pages. */
#define AWAY_WAIT_MS 2000

/*
 * An entry that an mremap() brought to an address whose slot an earlier
 * holder still occupies. 16-byte aligned: a slot names it with the four
 * low bits set (SWP_PARKED).
 */
struct park {
	unsigned long value; /* the entry, as a slot would hold it */
	unsigned long va; /* where its page is mapped now */
	bool done; /* placed in its slot, or dropped (under park_lock) */
	struct list_head node;
} __attribute__((aligned(16)));

#define SWP_LOW_BITS 15UL
#define SWP_PARKED   (SWP_AWAY | SWP_EXCLUSIVE | SWP_WRITE | SWP_MIGRATION)

static bool swp_is_parked(unsigned long e)
{
	return (e & SWP_LOW_BITS) == SWP_PARKED;
}

static struct park *parked(unsigned long e)
{
	return (struct park *)(e & ~SWP_LOW_BITS);
}

static bool cas(unsigned long *slot, unsigned long expect, unsigned long value)
{
	return __atomic_compare_exchange_n(slot, &expect, value, false, __ATOMIC_ACQ_REL,
					   __ATOMIC_ACQUIRE);
}

/* The page a gone entry still names (its reference is owed), or NULL. */
static struct page *gone_page(unsigned long e)
{
	return (struct page *)(e & SWP_PAGE_MASK);
}

void swp_put_entry_page(struct hetmem_mm *mm, struct page *page)
{
	__atomic_store_n(&page->private, 0, __ATOMIC_RELEASE);
	__atomic_sub_fetch(&mm->nr_device, 1, __ATOMIC_RELAXED);
	put_page(page);
}

/*
 * The word holding the entry held at @va, following moves and parking:
 * where its page is mapped in *@at, its value in *@e. NULL when there is
 * no such word.
 */
static unsigned long *held_slot(struct hetmem_mm *mm, unsigned long va, unsigned long *at,
				unsigned long *e)
{
	unsigned long *slot = va_table_slot(&mm->swp, va, false);

	for (int hops = 0; hops < MAX_HOPS; hops++) {
		unsigned long v = slot ? swp_load(slot) : 0;

		if (swp_is_parked(v)) {
			slot = &parked(v)->value;
			va = __atomic_load_n(&parked(v)->va, __ATOMIC_ACQUIRE);
			continue;
		}
		if (swp_is_moved(v)) {
			va = v & PAGE_MASK;
			slot = va_table_slot(&mm->swp, va, false);
			continue;
		}
		*at = va;
		*e = v;
		return slot;
	}
	pr_err("the page held at %#lx moved more than %d times", va, MAX_HOPS);
	return NULL;
}

unsigned long swp_held_va(struct hetmem_mm *mm, unsigned long va)
{
	unsigned long at, e;

	if (!held_slot(mm, va, &at, &e))
		return 0;
	return swp_is_gone(e) ? 0 : at;
}

/*
 * Replace the held value; @into_gone: a gone entry then names @value's page
 * instead (the reference it owes changes hands), else it is left alone.
 */
static bool held_set(struct hetmem_mm *mm, unsigned long va, unsigned long value, bool into_gone)
{
	unsigned long at, e, *slot;

	for (;;) {
		slot = held_slot(mm, va, &at, &e);
		if (!slot || !(e & SWP_MIGRATION)) {
			pr_err("no entry held at %#lx (%#lx)", va, e);
			return false;
		}
		if (swp_is_gone(e)) {
			if (into_gone && !cas(slot, e, (value & SWP_PAGE_MASK) | SWP_GONE))
				continue;
			return false;
		}
		if (swp_page(value))
			__atomic_store_n(&swp_page(value)->private, at, __ATOMIC_RELEASE);
		if (cas(slot, e, value | SWP_MIGRATION))
			return true;
	}
}

bool swp_held_set(struct hetmem_mm *mm, unsigned long va, unsigned long value)
{
	return held_set(mm, va, value, true);
}

bool swp_held_map_page(struct hetmem_mm *mm, unsigned long va, struct page *page, bool write)
{
	get_page(page); /* the entry's */
	__atomic_add_fetch(&mm->nr_device, 1, __ATOMIC_RELAXED);
	if (held_set(mm, va, (unsigned long)page | (write ? SWP_WRITE : 0), false))
		return true;
	swp_put_entry_page(mm, page);
	return false;
}

static void unpark(struct hetmem_mm *mm, unsigned long va);

/*
 * Clear the forwarding marks from @va on, up to the entry they led to.
 * Each slot freed may be what an entry parked for its address waits for.
 */
static void clear_moves(struct hetmem_mm *mm, unsigned long va)
{
	unsigned long *slot = va_table_slot(&mm->swp, va, false);
	bool table = true; /* slot is the table's, at va (else a parking cell) */

	for (int hops = 0; slot && hops < MAX_HOPS; hops++) {
		unsigned long e = swp_load(slot);

		if (!swp_is_parked(e) && !swp_is_moved(e))
			return;
		if (cas(slot, e, 0) && table)
			unpark(mm, va);
		if (swp_is_parked(e)) {
			slot = &parked(e)->value;
			table = false;
		} else {
			va = e & PAGE_MASK;
			slot = va_table_slot(&mm->swp, va, false);
			table = true;
		}
	}
}

/* --- parking --------------------------------------------------------------------------- */

/*
 * Put the entry of @p in its slot if the slot is free now. Called with
 * park_lock held, which is what else changes a cell whose entry nobody
 * holds.
 */
static void place(struct hetmem_mm *mm, struct park *p)
{
	unsigned long va = p->va, *slot = va_table_slot(&mm->swp, va, true);

	while (slot && !p->done) {
		unsigned long v = swp_load(&p->value), n = swp_load(slot);

		if (n & SWP_MIGRATION)
			return; /* still taken: the holder's release tries again */
		if (n) {
			/* A stale entry where nothing was mapped: it goes. */
			if (cas(slot, n, 0) && swp_page(n))
				swp_put_entry_page(mm, swp_page(n));
			continue;
		}
		if (swp_is_gone(v))
			return; /* its holder lets go of it here */
		if (!v) {
			p->done = true;
			break;
		}
		if (!cas(slot, 0, v))
			continue;
		/* The holder of a held entry follows the cell to the slot. */
		if (!cas(&p->value, v, (v & SWP_MIGRATION) ? va | SWP_MOVED : 0)) {
			cas(slot, v, 0);
			continue;
		}
		if (swp_page(v))
			__atomic_store_n(&swp_page(v)->private, va, __ATOMIC_RELEASE);
		p->done = true;
		uffd_wake(mm, va, PAGE_SIZE); /* faults there waited for the old holder */
	}
	if (p->done)
		__atomic_sub_fetch(&mm->nr_parked, 1, __ATOMIC_RELAXED);
}

/* The slot of @va was let go of: entries parked for it may take it now. */
static void unpark(struct hetmem_mm *mm, unsigned long va)
{
	struct park *p;

	if (!__atomic_load_n(&mm->nr_parked, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&mm->park_lock);
	list_for_each_entry(p, &mm->parked, node)
		if (!p->done && p->va == va)
			place(mm, p);
	pthread_mutex_unlock(&mm->park_lock);
}

/* Park @e, moving from @slot to @nva, whose slot is taken. */
static bool park(struct hetmem_mm *mm, unsigned long *slot, unsigned long e, unsigned long nva)
{
	struct park *p = aligned_alloc(16, sizeof(*p));

	if (!p)
		return false;
	p->value = e;
	p->va = nva;
	p->done = false;
	if (!cas(slot, e, (e & SWP_MIGRATION) ? (unsigned long)p | SWP_PARKED : 0)) {
		free(p);
		return false;
	}
	if (swp_page(e))
		__atomic_store_n(&swp_page(e)->private, nva, __ATOMIC_RELEASE);
	pthread_mutex_lock(&mm->park_lock);
	list_add(&p->node, &mm->parked);
	__atomic_add_fetch(&mm->nr_parked, 1, __ATOMIC_RELAXED);
	place(mm, p); /* the holder may have let go meanwhile */
	pthread_mutex_unlock(&mm->park_lock);
	return true;
}

void swp_park_fini(struct hetmem_mm *mm)
{
	struct park *p, *n;

	list_for_each_entry_safe(p, n, &mm->parked, node) {
		unsigned long v = p->value;

		if (!p->done && swp_page(v))
			swp_put_entry_page(mm, swp_page(v));
		list_del(&p->node);
		free(p);
	}
}

/* --- letting go ------------------------------------------------------------------------ */

/*
 * A gone entry's device page is about to be dropped. A mirror may have
 * mapped it after the unmap's invalidation ran (the holder recorded it
 * first): it leaves the mirrors, at the address it was held at and the
 * one it was unmapped at, before it can be freed and used again.
 */
static void leave_mirrors(struct hetmem_mm *mm, unsigned long va, unsigned long at)
{
	mmu_notifier_invalidate(mm, MMU_NOTIFY_UNMAP, va, va + PAGE_SIZE, NULL);
	if (at != va)
		mmu_notifier_invalidate(mm, MMU_NOTIFY_UNMAP, at, at + PAGE_SIZE, NULL);
}

static unsigned long held_release(struct hetmem_mm *mm, unsigned long va, unsigned long value,
				  bool keep)
{
	unsigned long at, e, *slot;
	bool gone;

	for (;;) {
		slot = held_slot(mm, va, &at, &e);
		if (!slot || !(e & SWP_MIGRATION)) {
			pr_err("no entry held at %#lx (%#lx)", va, e);
			return 0;
		}
		if (keep)
			value = e & ~SWP_MIGRATION;
		gone = swp_is_gone(e);
		if (gone) {
			struct page *page = keep ? gone_page(e) : swp_page(value);

			if (!cas(slot, e, 0))
				continue;
			if (gone_page(e) || page)
				leave_mirrors(mm, va, at);
			if (page)
				swp_put_entry_page(mm, page);
			break;
		}
		if (swp_page(value))
			__atomic_store_n(&swp_page(value)->private, at, __ATOMIC_RELEASE);
		if (cas(slot, e, value))
			break;
	}
	clear_moves(mm, va);
	/* The slot is free, or its entry parked elsewhere can take it now. */
	unpark(mm, at);
	mm_swp_released(mm);
	/* Threads that faulted at the new address wait for this entry. */
	if (!gone && at != va)
		uffd_wake(mm, at, PAGE_SIZE);
	return gone ? 0 : at;
}

unsigned long swp_held_release(struct hetmem_mm *mm, unsigned long va, unsigned long value)
{
	return held_release(mm, va, value, false);
}

unsigned long swp_held_unlock(struct hetmem_mm *mm, unsigned long va)
{
	return held_release(mm, va, 0, true);
}

/* --- events -------------------------------------------------------------------------- */

/*
 * The reference of a device page whose entry an event dropped: kept until
 * the event's invalidation has run (swp_put_owed()). Without memory for
 * the record the page goes at once, as it did before there was one.
 */
static void owe_put(struct hetmem_mm *mm, struct page *page)
{
	pthread_mutex_lock(&mm->owed_lock);
	if (mm->nr_owed == mm->cap_owed) {
		unsigned int cap = mm->cap_owed ? mm->cap_owed * 2 : 64;
		struct page **n = realloc(mm->owed, cap * sizeof(*n));

		if (!n) {
			pthread_mutex_unlock(&mm->owed_lock);
			pr_err("no memory to keep a device page until its mirrors let go");
			swp_put_entry_page(mm, page);
			return;
		}
		mm->owed = n;
		mm->cap_owed = cap;
	}
	mm->owed[mm->nr_owed++] = page;
	pthread_mutex_unlock(&mm->owed_lock);
}

void swp_put_owed(struct hetmem_mm *mm)
{
	struct page **pages;
	unsigned int n;

	pthread_mutex_lock(&mm->owed_lock);
	pages = mm->owed;
	n = mm->nr_owed;
	mm->owed = NULL;
	mm->nr_owed = mm->cap_owed = 0;
	pthread_mutex_unlock(&mm->owed_lock);
	for (unsigned int i = 0; i < n; i++)
		swp_put_entry_page(mm, pages[i]);
	free(pages);
}

/* Mark a held entry gone, or drop one nobody holds; false when @word changed. */
static bool unmap_word(struct hetmem_mm *mm, unsigned long *word, unsigned long e)
{
	if (e & SWP_MIGRATION) {
		/* Exclusive marks mean nothing once unmapped; a device page is still owed. */
		return cas(word, e, (e & SWP_PAGE_MASK) | SWP_GONE);
	}
	if (!cas(word, e, 0))
		return false;
	if (swp_page(e))
		owe_put(mm, swp_page(e));
	return true;
}

static bool unmap_one(unsigned long va, unsigned long *slot, void *arg)
{
	struct hetmem_mm *mm = arg;

	for (;;) {
		unsigned long e = swp_load(slot);

		/* Nothing, or what a holder of an earlier mapping here still owns. */
		if (!e || (e & SWP_AWAY))
			return true;
		if (unmap_word(mm, slot, e))
			return true;
	}
}

void swp_unmap_range(struct hetmem_mm *mm, unsigned long start, unsigned long end)
{
	struct park *p;

	va_table_for_each(&mm->swp, start, end, unmap_one, mm);
	mm_swp_released(mm); /* holders waiting to hear it (uffd_ops.c) */
	if (!__atomic_load_n(&mm->nr_parked, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&mm->park_lock);
	list_for_each_entry(p, &mm->parked, node) {
		for (;;) {
			unsigned long e = swp_load(&p->value);

			if (p->done || p->va < start || p->va >= end || !e || (e & SWP_AWAY))
				break;
			if (unmap_word(mm, &p->value, e))
				break;
		}
		if (!p->done && !swp_load(&p->value)) {
			p->done = true;
			__atomic_sub_fetch(&mm->nr_parked, 1, __ATOMIC_RELAXED);
		}
	}
	pthread_mutex_unlock(&mm->park_lock);
}

struct move {
	struct hetmem_mm *mm;
	unsigned long from, to;
};

static bool move_one(unsigned long va, unsigned long *slot, void *arg)
{
	struct move *m = arg;
	unsigned long nva = va - m->from + m->to;
	unsigned long *nslot = va_table_slot(&m->mm->swp, nva, true);

	if (!nslot) {
		pr_err("no memory for the shadow entry of %#lx", nva);
		swp_unmap_range(m->mm, va, va + PAGE_SIZE);
		return true;
	}
	for (;;) {
		unsigned long e = swp_load(slot), n;

		if (!e || (e & SWP_AWAY))
			return true;
		n = swp_load(nslot);
		if (n & SWP_MIGRATION) {
			/* An earlier holder still has the slot: wait in a cell. */
			if (park(m->mm, slot, e, nva))
				return true;
			if (swp_load(slot) != e)
				continue;
			pr_err("no memory to park the page moving to %#lx: dropped", nva);
			swp_unmap_range(m->mm, va, va + PAGE_SIZE);
			return true;
		}
		if (n) {
			/* A stale entry where nothing was mapped: it goes. */
			if (cas(nslot, n, 0) && swp_page(n))
				swp_put_entry_page(m->mm, swp_page(n));
			continue;
		}
		if (!cas(nslot, 0, e))
			continue; /* claimed meanwhile: look again */
		/* Nobody else knows of nslot yet: only this thread changes it back. */
		if (!cas(slot, e, (e & SWP_MIGRATION) ? nva | SWP_MOVED : 0)) {
			__atomic_store_n(nslot, 0, __ATOMIC_RELEASE);
			continue;
		}
		if (swp_page(e))
			__atomic_store_n(&swp_page(e)->private, nva, __ATOMIC_RELEASE);
		return true;
	}
}

void swp_move_range(struct hetmem_mm *mm, unsigned long from, unsigned long to, unsigned long len)
{
	struct move m = { mm, from, to };
	struct park *p;

	/* mremap never lets the old and new ranges overlap. */
	va_table_for_each(&mm->swp, from, from + len, move_one, &m);
	mm_swp_released(mm);
	if (!__atomic_load_n(&mm->nr_parked, __ATOMIC_ACQUIRE))
		return;
	/* Parked entries go along, and may find their new slot free. */
	pthread_mutex_lock(&mm->park_lock);
	list_for_each_entry(p, &mm->parked, node) {
		if (p->done || p->va < from || p->va >= from + len)
			continue;
		__atomic_store_n(&p->va, p->va - from + to, __ATOMIC_RELEASE);
		if (swp_page(swp_load(&p->value)))
			__atomic_store_n(&swp_page(swp_load(&p->value))->private, p->va,
					 __ATOMIC_RELEASE);
		place(mm, p);
	}
	pthread_mutex_unlock(&mm->park_lock);
}

/* --- registration ---------------------------------------------------------------------- */

static bool find_away(unsigned long va, unsigned long *slot, void *arg)
{
	(void)va;
	if (swp_load(slot) & SWP_AWAY) {
		*(bool *)arg = true;
		return false;
	}
	return true;
}

static bool any_away(struct hetmem_mm *mm, unsigned long start, unsigned long end)
{
	bool found = false;

	va_table_for_each(&mm->swp, start, end, find_away, &found);
	return found;
}

void swp_wait_away(struct hetmem_mm *mm, unsigned long start, unsigned long end)
{
	struct timespec deadline;

	if (uffd_on_handler_thread() || !any_away(mm, start, end))
		return;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += AWAY_WAIT_MS / 1000;
	pthread_mutex_lock(&mm->wait_lock);
	__atomic_add_fetch(&mm->waiters, 1, __ATOMIC_SEQ_CST);
	while (any_away(mm, start, end)) {
		if (pthread_cond_timedwait(&mm->wait_cond, &mm->wait_lock, &deadline) ==
		    ETIMEDOUT) {
			pr_warn("pages of an old mapping at [%#lx-%#lx) are still held", start,
				end);
			break;
		}
	}
	__atomic_sub_fetch(&mm->waiters, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&mm->wait_lock);
}
