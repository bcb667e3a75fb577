// SPDX-License-Identifier: MIT
/*
 * The special-page lookup: from any address to the device page behind it.
 *
 * The DMA layer asks, for every segment it maps, whether the memory is
 * ordinary process memory or a device's. Ordinary memory must pay one
 * probe; device memory a few dependent loads. A fixed-depth table indexed
 * by address bits does that:
 *
 *   63      53 52           39 38                 21 20         12 11      0
 *  +----------+---------------+---------------------+-------------+---------+
 *  |   zero   |  L1 (14 bits) |    L2 (18 bits)     | L3 (9 bits) | offset  |
 *  +----------+---------------+---------------------+-------------+---------+
 *
 *  - L1 is a static array of 16384 pointers, one per 512 GiB. Process
 *    memory that holds no device mapping finds NULL here: one probe.
 *  - An L2 table (2 MiB, allocated lazily, zero-filled on demand) has one
 *    slot per 2 MiB. A slot that one extent covers completely points at the
 *    extent; a slot shared or partly covered points at an L3 table, tagged
 *    with bit 0.
 *  - An L3 table has one extent pointer per 4 KiB page.
 *
 * Maps of 2 MiB-aligned memory (BARs of 2 MiB and more, device-private
 * regions) resolve in two probes; small BARs and unaligned mappings in
 * three. The depth does not depend on how many maps exist.
 *
 * Readers take no lock. Tables are only ever added, never freed; entries
 * are published with release stores and read with acquire loads. An
 * extent is freed only after it was removed and every user of its pages
 * let go (memunmap_pages() waits for that), so a reader holding a page
 * reference can always dereference what it found.
 */
#define pr_fmt(fmt) "page-lookup: " fmt

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include <hetmem/log.h>
#include "internal.h"

#define L1_SHIFT 39
#define L2_SHIFT 21
#define L3_SHIFT PAGE_SHIFT
#define L1_ENTRIES (1U << (LOOKUP_ADDR_BITS - L1_SHIFT))
#define L2_ENTRIES (1U << (L1_SHIFT - L2_SHIFT))
#define L3_ENTRIES (1U << (L2_SHIFT - L3_SHIFT))
#define SLOT_SIZE (1ULL << L2_SHIFT)
#define L3_TAG 1UL

struct l2_table {
	uintptr_t e[L2_ENTRIES];
};

struct l3_table {
	uintptr_t e[L3_ENTRIES];
	struct l3_table *next; /* every L3 table, for leak checkers: L2 holds them tagged */
};

static struct l2_table *l1[L1_ENTRIES];
static struct l3_table *l3_tables;
static pthread_mutex_t lookup_lock = PTHREAD_MUTEX_INITIALIZER;

const struct page_extent *page_lookup(uint64_t addr)
{
	struct l2_table *l2;
	uintptr_t e;

	if (addr >> LOOKUP_ADDR_BITS)
		return NULL;
	l2 = __atomic_load_n(&l1[addr >> L1_SHIFT], __ATOMIC_ACQUIRE);
	if (!l2)
		return NULL;
	e = __atomic_load_n(&l2->e[(addr >> L2_SHIFT) & (L2_ENTRIES - 1)], __ATOMIC_ACQUIRE);
	if (e & L3_TAG) {
		struct l3_table *l3 = (struct l3_table *)(e & ~L3_TAG);

		e = __atomic_load_n(&l3->e[(addr >> L3_SHIFT) & (L3_ENTRIES - 1)], __ATOMIC_ACQUIRE);
	}
	return (const struct page_extent *)e;
}

static uintptr_t *l2_slot(uint64_t addr, bool alloc)
{
	struct l2_table **top = &l1[addr >> L1_SHIFT];

	if (!*top) {
		struct l2_table *p;

		if (!alloc)
			return NULL;
		/*
		 * 2 MiB: calloc hands out fresh zero pages that the kernel backs
		 * only when touched, and keeps the tables visible to leak checkers
		 * (reachable from l1) as a raw mmap would not.
		 */
		p = calloc(1, sizeof(*p));
		if (!p)
			return NULL;
		__atomic_store_n(top, p, __ATOMIC_RELEASE);
	}
	return &(*top)->e[(addr >> L2_SHIFT) & (L2_ENTRIES - 1)];
}

/* Is any page of [start, end) inside one 2 MiB slot already claimed? */
static bool slot_busy(uint64_t start, uint64_t end)
{
	uintptr_t *slot = l2_slot(start, false);
	struct l3_table *l3;

	if (!slot || !*slot)
		return false;
	if (!(*slot & L3_TAG))
		return true;
	l3 = (struct l3_table *)(*slot & ~L3_TAG);
	for (uint64_t a = start; a < end; a += PAGE_SIZE)
		if (l3->e[(a >> L3_SHIFT) & (L3_ENTRIES - 1)])
			return true;
	return false;
}

static uint64_t slot_end(uint64_t a, uint64_t end)
{
	uint64_t next = (a & ~(SLOT_SIZE - 1)) + SLOT_SIZE;

	return next < end ? next : end;
}

/* Fill [start, end), inside one slot, with @val. */
static int fill_slot(uint64_t start, uint64_t end, uintptr_t val)
{
	uintptr_t *slot = l2_slot(start, true);
	struct l3_table *l3;

	if (!slot)
		return -ENOMEM;
	if (start % SLOT_SIZE == 0 && end - start == SLOT_SIZE && !(*slot & L3_TAG)) {
		__atomic_store_n(slot, val, __ATOMIC_RELEASE);
		return 0;
	}
	if (!(*slot & L3_TAG)) {
		l3 = calloc(1, sizeof(*l3));
		if (!l3)
			return -ENOMEM;
		l3->next = l3_tables;
		l3_tables = l3;
		__atomic_store_n(slot, (uintptr_t)l3 | L3_TAG, __ATOMIC_RELEASE);
	}
	l3 = (struct l3_table *)(*slot & ~L3_TAG);
	for (uint64_t a = start; a < end; a += PAGE_SIZE)
		__atomic_store_n(&l3->e[(a >> L3_SHIFT) & (L3_ENTRIES - 1)], val, __ATOMIC_RELEASE);
	return 0;
}

int page_lookup_insert(struct page_extent *ext)
{
	int ret = 0;

	if ((ext->start | ext->end) & (PAGE_SIZE - 1) || ext->end <= ext->start ||
	    ext->end > (1ULL << LOOKUP_ADDR_BITS))
		return -EINVAL;
	pthread_mutex_lock(&lookup_lock);
	for (uint64_t a = ext->start; a < ext->end; a = slot_end(a, ext->end))
		if (slot_busy(a, slot_end(a, ext->end))) {
			ret = -EBUSY;
			goto out;
		}
	for (uint64_t a = ext->start; a < ext->end; a = slot_end(a, ext->end)) {
		ret = fill_slot(a, slot_end(a, ext->end), (uintptr_t)ext);
		if (ret) {
			/* Take back what was entered so far. */
			for (uint64_t b = ext->start; b < a; b = slot_end(b, ext->end))
				fill_slot(b, slot_end(b, ext->end), 0);
			goto out;
		}
	}
out:
	pthread_mutex_unlock(&lookup_lock);
	return ret;
}

void page_lookup_remove(const struct page_extent *ext)
{
	pthread_mutex_lock(&lookup_lock);
	/* Clearing never allocates: every table on the way exists. */
	for (uint64_t a = ext->start; a < ext->end; a = slot_end(a, ext->end))
		fill_slot(a, slot_end(a, ext->end), 0);
	pthread_mutex_unlock(&lookup_lock);
}
