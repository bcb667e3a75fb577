/* SPDX-License-Identifier: MIT */
/*
 * Private to mm/: the special-page lookup.
 */
#ifndef HETMEM_MM_INTERNAL_H
#define HETMEM_MM_INTERNAL_H

#include <stdint.h>

#include <hetmem/memremap.h>
#include "lib/compiler.h"
#include "lib/list.h"

/*
 * An extent: a page-aligned address range — pfn space or a CPU mapping —
 * whose pages are consecutive struct pages of one map. The page of an
 * address is first + ((addr - start) >> PAGE_SHIFT).
 */
struct page_extent {
	uint64_t start;
	uint64_t end; /* exclusive */
	struct page *first;
	struct dev_pagemap *pgmap;
	struct list_head node; /* the map's aliases */
};

/* Top of the space the lookup covers (pfn space reaches 2^53). */
#define LOOKUP_ADDR_BITS 53
#define DEVICE_PFN_FLOOR (1ULL << 47) /* device pages' addresses start here */

__internal int page_lookup_insert(struct page_extent *ext);
__internal void page_lookup_remove(const struct page_extent *ext);
__internal const struct page_extent *page_lookup(uint64_t addr);

#endif /* HETMEM_MM_INTERNAL_H */
