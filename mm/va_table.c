// SPDX-License-Identifier: MIT
/*
 * A table indexed by user virtual address, one word per 4 KiB page: the
 * shadow page table of an address space, and the page table of the test
 * device's mirror.
 *
 * The top level is one array of 2^17 pointers (1 GiB each, the 47-bit
 * user address space), allocated zeroed so the kernel backs only the parts
 * touched. Middle and leaf levels are published with a compare-and-swap:
 * two threads allocating the same level race, one wins, the other frees
 * its copy. Nothing is freed before va_table_destroy(), so a slot pointer
 * stays valid for the table's lifetime and lookups take no lock.
 */
#include <errno.h>
#include <stdlib.h>

#include "hmm_internal.h"

int va_table_init(struct va_table *t)
{
	t->top = calloc(VT_TOP_ENTRIES, sizeof(*t->top));
	return t->top ? 0 : -ENOMEM;
}

void va_table_destroy(struct va_table *t)
{
	if (!t->top)
		return;
	for (unsigned long i = 0; i < VT_TOP_ENTRIES; i++) {
		unsigned long **mid = t->top[i];

		if (!mid)
			continue;
		for (unsigned long j = 0; j < VT_MID_ENTRIES; j++)
			free(mid[j]);
		free(mid);
	}
	free(t->top);
	t->top = NULL;
}

/* Load *@pp, allocating @size zeroed bytes behind it first when asked. */
static void *level(void **pp, size_t size, bool alloc)
{
	void *p = __atomic_load_n(pp, __ATOMIC_ACQUIRE), *expect = NULL;

	if (p || !alloc)
		return p;
	p = calloc(1, size);
	if (!p)
		return NULL;
	if (!__atomic_compare_exchange_n(pp, &expect, p, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		free(p);
		p = expect;
	}
	return p;
}

unsigned long *va_table_leaf(struct va_table *t, unsigned long va, bool alloc)
{
	unsigned long i = va >> VT_MID_SHIFT;
	unsigned long **mid;

	if (i >= VT_TOP_ENTRIES)
		return NULL;
	mid = level((void **)&t->top[i], VT_MID_ENTRIES * sizeof(*mid), alloc);
	if (!mid)
		return NULL;
	return level((void **)&mid[(va >> VT_LEAF_SHIFT) & (VT_MID_ENTRIES - 1)],
		     VT_LEAF_ENTRIES * sizeof(unsigned long), alloc);
}

void va_table_for_each(struct va_table *t, unsigned long start, unsigned long end,
		       bool (*fn)(unsigned long va, unsigned long *slot, void *arg), void *arg)
{
	unsigned long va = start & PAGE_MASK;

	while (va < end) {
		unsigned long i = va >> VT_MID_SHIFT, block_end, *leaf;

		if (i >= VT_TOP_ENTRIES)
			return;
		/* Skip a whole missing middle level at once. */
		if (!__atomic_load_n(&t->top[i], __ATOMIC_ACQUIRE)) {
			va = (i + 1) << VT_MID_SHIFT;
			continue;
		}
		leaf = va_table_leaf(t, va, false);
		block_end = (va | ((1UL << VT_LEAF_SHIFT) - 1)) + 1;
		if (!leaf) {
			va = block_end;
			continue;
		}
		for (; va < block_end && va < end; va += PAGE_SIZE) {
			unsigned long *slot = &leaf[(va >> PAGE_SHIFT) & (VT_LEAF_ENTRIES - 1)];

			if (__atomic_load_n(slot, __ATOMIC_ACQUIRE) && !fn(va, slot, arg))
				return;
		}
	}
}
