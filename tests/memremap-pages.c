// SPDX-License-Identifier: MIT
/*
 * ZONE_DEVICE page maps: what memremap_pages() accepts and refuses, how
 * pfns, pages and CPU pointers lead to one another, page references and
 * the page_free callback, and CPU mappings entered as aliases.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <cmocka.h>

#include <hetmem/err.h>
#include <hetmem/log.h>
#include <hetmem/memremap.h>

#define MB	  (1ULL << 20)
#define PFN(addr) ((uint64_t)(addr) >> PAGE_SHIFT)

static int owner_cookie;
static int nr_freed;
static struct page *last_freed;
static int ref_at_free = -1;

static void count_free(struct page *page)
{
	nr_freed++;
	last_freed = page;
	ref_at_free = page_ref_count(page);
}

static unsigned int no_migrate(struct vm_fault *vmf)
{
	return 0;
}

static const struct dev_pagemap_ops both_ops = {
	.page_free = count_free,
	.migrate_to_ram = no_migrate,
};
static const struct dev_pagemap_ops free_only_ops = { .page_free = count_free };
static const struct dev_pagemap_ops migrate_only_ops = { .migrate_to_ram = no_migrate };

static int setup(void **state)
{
	if (!getenv("HETMEM_LOG"))
		hetmem_log_set_level(HETMEM_LOG_ERR);
	nr_freed = 0;
	last_freed = NULL;
	ref_at_free = -1;
	return 0;
}

/* A map of @type over a fresh pfn region of @size bytes. */
static void init_map(struct dev_pagemap *pgmap, enum memory_type type, uint64_t size)
{
	uint64_t start = request_free_mem_region(size);

	assert_int_not_equal(start, 0);
	memset(pgmap, 0, sizeof(*pgmap));
	pgmap->type = type;
	pgmap->nr_range = 1;
	pgmap->range.start = start;
	pgmap->range.end = start + size - 1;
	if (type == MEMORY_DEVICE_PRIVATE || type == MEMORY_DEVICE_COHERENT) {
		pgmap->ops = &both_ops;
		pgmap->owner = &owner_cookie;
	}
}

static long map_err(struct dev_pagemap *pgmap)
{
	void *ret = memremap_pages(pgmap, 0);

	if (IS_ERR(ret))
		return PTR_ERR(ret);
	memunmap_pages(pgmap);
	return 0;
}

/* A device-private map needs both migrate_to_ram and page_free, and an owner. */
static void test_private_needs_ops_and_owner(void **state)
{
	struct dev_pagemap pgmap;

	init_map(&pgmap, MEMORY_DEVICE_PRIVATE, 2 * MB);
	pgmap.ops = &free_only_ops;
	assert_int_equal(map_err(&pgmap), -EINVAL);
	pgmap.ops = &migrate_only_ops;
	assert_int_equal(map_err(&pgmap), -EINVAL);
	pgmap.ops = NULL;
	assert_int_equal(map_err(&pgmap), -EINVAL);
	pgmap.ops = &both_ops;
	pgmap.owner = NULL;
	assert_int_equal(map_err(&pgmap), -EINVAL);
	/* The same map, complete, is accepted: the refusals were about what was missing. */
	pgmap.owner = &owner_cookie;
	assert_int_equal(map_err(&pgmap), 0);
	assert_null(pfn_to_page(PFN(pgmap.range.start)));
}

/* A device-coherent map needs page_free; FS_DAX and unknown types are refused. */
static void test_coherent_and_unsupported_types(void **state)
{
	struct dev_pagemap pgmap;

	init_map(&pgmap, MEMORY_DEVICE_COHERENT, 2 * MB);
	pgmap.ops = &migrate_only_ops;
	assert_int_equal(map_err(&pgmap), -EINVAL);
	pgmap.ops = NULL;
	assert_int_equal(map_err(&pgmap), -EINVAL);
	pgmap.ops = &free_only_ops;
	assert_int_equal(map_err(&pgmap), 0);

	pgmap.ops = &both_ops;
	pgmap.type = MEMORY_DEVICE_FS_DAX;
	assert_int_equal(map_err(&pgmap), -EINVAL);
	pgmap.type = 0;
	assert_int_equal(map_err(&pgmap), -EINVAL);
	pgmap.type = MEMORY_DEVICE_PCI_P2PDMA + 1;
	assert_int_equal(map_err(&pgmap), -EINVAL);
	assert_null(pfn_to_page(PFN(pgmap.range.start)));
}

/* Empty, unaligned and out-of-device-space ranges are refused. */
static void test_bad_ranges(void **state)
{
	struct dev_pagemap pgmap;
	uint64_t start;

	init_map(&pgmap, MEMORY_DEVICE_GENERIC, 2 * MB);
	start = pgmap.range.start;

	pgmap.range.end = start - 1;
	assert_int_equal(map_err(&pgmap), -EINVAL);
	pgmap.range.end = start + 100;
	assert_int_equal(map_err(&pgmap), -EINVAL);
	pgmap.range.start = start + 512;
	pgmap.range.end = start + 2 * PAGE_SIZE - 1;
	assert_int_equal(map_err(&pgmap), -EINVAL);
	pgmap.range.start = start;
	pgmap.range.end = start + PAGE_SIZE + 7;
	assert_int_equal(map_err(&pgmap), -EINVAL);
	/* Below 2^47 is process address space, never device pfns. */
	pgmap.range.start = (1ULL << 47) - 2 * MB;
	pgmap.range.end = (1ULL << 47) - 1;
	assert_int_equal(map_err(&pgmap), -EINVAL);
	pgmap.range.start = 1ULL << 32;
	pgmap.range.end = (1ULL << 32) + 2 * MB - 1;
	assert_int_equal(map_err(&pgmap), -EINVAL);
	/* Past the top of the space the lookup covers. */
	pgmap.range.start = (1ULL << 53) - PAGE_SIZE;
	pgmap.range.end = (1ULL << 53) + PAGE_SIZE - 1;
	assert_int_equal(map_err(&pgmap), -EINVAL);

	/* The region itself is fine. */
	pgmap.range.start = start;
	pgmap.range.end = start + 2 * MB - 1;
	assert_int_equal(map_err(&pgmap), 0);
}

/* A CPU mapping is refused for device-private memory and for several ranges. */
static void test_vaddr_rules(void **state)
{
	struct dev_pagemap *pgmap = calloc(1, sizeof(*pgmap) + sizeof(struct range));
	struct range *r = pgmap->ranges;
	uint64_t second = request_free_mem_region(2 * MB);
	void *va = mmap(NULL, 2 * MB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_ptr_not_equal(va, MAP_FAILED);
	init_map(pgmap, MEMORY_DEVICE_PRIVATE, 2 * MB);
	pgmap->vaddr = va;
	assert_int_equal(map_err(pgmap), -EINVAL);

	pgmap->type = MEMORY_DEVICE_GENERIC;
	pgmap->vaddr = (char *)va + 16;
	assert_int_equal(map_err(pgmap), -EINVAL);
	pgmap->nr_range = 2;
	r[1].start = second;
	r[1].end = second + 2 * MB - 1;
	pgmap->vaddr = va;
	assert_int_equal(map_err(pgmap), -EINVAL);
	assert_null(virt_to_page(va));

	/* One range of generic memory with the same mapping is accepted. */
	pgmap->nr_range = 1;
	assert_int_equal(map_err(pgmap), 0);
	munmap(va, 2 * MB);
	free(pgmap);
}

/* An overlapping map is refused with nothing of it left in the lookup. */
static void test_overlap_busy(void **state)
{
	struct dev_pagemap first, *second;
	struct range *r;
	uint64_t base, other;
	void *ret;

	init_map(&first, MEMORY_DEVICE_GENERIC, 4 * MB);
	base = first.range.start;
	assert_ptr_equal(memremap_pages(&first, 0), (void *)(uintptr_t)base);

	second = calloc(1, sizeof(*second) + sizeof(struct range));
	r = second->ranges;
	init_map(second, MEMORY_DEVICE_GENERIC, 2 * MB);
	other = r[0].start;
	/* [base + 2 MiB, base + 6 MiB): half inside the first map. */
	r[0].start = base + 2 * MB;
	r[0].end = base + 6 * MB - 1;
	ret = memremap_pages(second, 0);
	assert_true(IS_ERR(ret));
	assert_int_equal(PTR_ERR(ret), -EBUSY);
	assert_ptr_equal(pfn_to_page(PFN(base + 2 * MB))->pgmap, &first);
	assert_null(pfn_to_page(PFN(base + 4 * MB)));
	assert_null(pfn_to_page(PFN(base + 6 * MB - PAGE_SIZE)));

	/* A free first range and a busy second: the first must be taken back. */
	second->nr_range = 2;
	r[0].start = other;
	r[0].end = other + 2 * MB - 1;
	r[1].start = base + 3 * MB;
	r[1].end = base + 3 * MB + PAGE_SIZE - 1;
	ret = memremap_pages(second, 0);
	assert_true(IS_ERR(ret));
	assert_int_equal(PTR_ERR(ret), -EBUSY);
	assert_null(pfn_to_page(PFN(other)));
	assert_null(pfn_to_page(PFN(other + 2 * MB - PAGE_SIZE)));
	assert_ptr_equal(pfn_to_page(PFN(base + 3 * MB))->pgmap, &first);

	/* Two ranges of one map overlapping each other are refused too. */
	r[1].start = other + MB;
	r[1].end = other + 3 * MB - 1;
	ret = memremap_pages(second, 0);
	assert_int_equal(PTR_ERR(ret), -EBUSY);
	assert_null(pfn_to_page(PFN(other)));

	/* The range that was refused for overlapping maps fine on its own. */
	second->nr_range = 1;
	assert_ptr_equal(memremap_pages(second, 0), (void *)(uintptr_t)other);
	assert_ptr_equal(pfn_to_page(PFN(other))->pgmap, second);
	memunmap_pages(second);
	memunmap_pages(&first);
	assert_null(pfn_to_page(PFN(base)));
	free(second);
}

/* Two maps whose CPU mappings overlap: the second is refused. */
static void test_overlapping_vaddr_busy(void **state)
{
	struct dev_pagemap one, two;
	char *va = mmap(NULL, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			-1, 0);
	void *ret;

	assert_ptr_not_equal(va, MAP_FAILED);
	init_map(&one, MEMORY_DEVICE_GENERIC, 2 * PAGE_SIZE);
	one.vaddr = va;
	init_map(&two, MEMORY_DEVICE_GENERIC, 2 * PAGE_SIZE);
	two.vaddr = va + PAGE_SIZE;
	assert_ptr_equal(memremap_pages(&one, 0), va);
	ret = memremap_pages(&two, 0);
	assert_int_equal(PTR_ERR(ret), -EBUSY);
	/* Neither its pfns nor the part of its mapping outside the first map were left behind. */
	assert_null(pfn_to_page(PFN(two.range.start)));
	assert_null(virt_to_page(va + 2 * PAGE_SIZE));
	assert_ptr_equal(virt_to_page(va + PAGE_SIZE), pfn_to_page(PFN(one.range.start) + 1));
	memunmap_pages(&one);
	munmap(va, 4 * PAGE_SIZE);
}

/* pfn -> page -> pfn holds at the first and last page, and stops at the edges. */
static void test_pfn_round_trip(void **state)
{
	struct dev_pagemap pgmap;
	uint64_t first, last;
	struct page *p;

	init_map(&pgmap, MEMORY_DEVICE_PRIVATE, 3 * MB + 5 * PAGE_SIZE);
	first = PFN(pgmap.range.start);
	last = PFN(pgmap.range.end);
	assert_ptr_equal(memremap_pages(&pgmap, 0), (void *)(uintptr_t)pgmap.range.start);

	p = pfn_to_page(first);
	assert_non_null(p);
	assert_int_equal(page_to_pfn(p), first);
	assert_ptr_equal(page_pgmap(p), &pgmap);
	assert_int_equal(page_ref_count(p), 0);
	p = pfn_to_page(last);
	assert_non_null(p);
	assert_int_equal(page_to_pfn(p), last);
	assert_ptr_equal(page_pgmap(p), &pgmap);
	/* Pages of one range are one array: distinct and in pfn order. */
	assert_int_equal(p - pfn_to_page(first), last - first);
	assert_int_equal(page_to_pfn(pfn_to_page(first + 600)), first + 600);
	assert_null(pfn_to_page(first - 1));
	assert_null(pfn_to_page(last + 1));
	assert_null(get_dev_pagemap(last + 1));

	memunmap_pages(&pgmap);
	assert_null(pfn_to_page(first));
	assert_null(pfn_to_page(last));
}

/* Each memory type is recognised by its own predicate and no other. */
static void test_page_type_predicates(void **state)
{
	struct dev_pagemap priv, gen, p2p;
	struct page *pp, *gp, *xp;

	init_map(&priv, MEMORY_DEVICE_PRIVATE, 2 * MB);
	init_map(&gen, MEMORY_DEVICE_GENERIC, 2 * MB);
	init_map(&p2p, MEMORY_DEVICE_PCI_P2PDMA, 2 * MB);
	assert_false(IS_ERR(memremap_pages(&priv, 0)));
	assert_false(IS_ERR(memremap_pages(&gen, 0)));
	assert_false(IS_ERR(memremap_pages(&p2p, 0)));
	pp = pfn_to_page(PFN(priv.range.start) + 3);
	gp = pfn_to_page(PFN(gen.range.start) + 3);
	xp = pfn_to_page(PFN(p2p.range.start) + 3);

	assert_true(is_zone_device_page(pp));
	assert_true(is_device_private_page(pp));
	assert_false(is_pci_p2pdma_page(pp));
	assert_false(is_device_coherent_page(pp));

	assert_true(is_zone_device_page(gp));
	assert_false(is_device_private_page(gp));
	assert_false(is_pci_p2pdma_page(gp));

	assert_true(is_zone_device_page(xp));
	assert_true(is_pci_p2pdma_page(xp));
	assert_false(is_device_private_page(xp));

	assert_false(is_zone_device_page(NULL));
	assert_false(is_device_private_page(NULL));
	assert_false(is_pci_p2pdma_page(NULL));

	memunmap_pages(&p2p);
	memunmap_pages(&gen);
	memunmap_pages(&priv);
}

/* page_address() gives the map's CPU mapping, or NULL when it has none. */
static void test_page_address(void **state)
{
	const size_t len = 8 * PAGE_SIZE;
	struct dev_pagemap mapped, unmapped;
	char *va = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct page *p;

	assert_ptr_not_equal(va, MAP_FAILED);
	init_map(&mapped, MEMORY_DEVICE_GENERIC, len);
	mapped.vaddr = va;
	init_map(&unmapped, MEMORY_DEVICE_GENERIC, len);
	assert_ptr_equal(memremap_pages(&mapped, 0), va);
	assert_ptr_equal(memremap_pages(&unmapped, 0), (void *)(uintptr_t)unmapped.range.start);

	for (int i = 0; i < 8; i += 7) {
		p = pfn_to_page(PFN(mapped.range.start) + i);
		assert_ptr_equal(page_address(p), va + i * PAGE_SIZE);
		/* Any byte of the mapping leads back to its page. */
		assert_ptr_equal(virt_to_page(va + i * PAGE_SIZE), p);
		assert_ptr_equal(virt_to_page(va + i * PAGE_SIZE + PAGE_SIZE - 1), p);
	}
	assert_null(virt_to_page(va + len));
	assert_null(virt_to_page(va - 1));
	/* The mapping is still ordinary memory to the CPU. */
	memset(va, 0x5a, len);
	assert_int_equal(va[len - 1], 0x5a);

	p = pfn_to_page(PFN(unmapped.range.start) + 2);
	assert_non_null(p);
	assert_null(page_address(p));

	memunmap_pages(&unmapped);
	memunmap_pages(&mapped);
	assert_null(virt_to_page(va));
	munmap(va, len);
}

static int global_word;

/* Ordinary memory has no struct page, whether heap, stack, data or an mmap. */
static void test_ordinary_memory(void **state)
{
	char *heap = malloc(3 * PAGE_SIZE);
	int local = 1;
	char *anon = mmap(NULL, 4 * MB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_ptr_not_equal(anon, MAP_FAILED);
	assert_null(virt_to_page(heap));
	assert_null(virt_to_page(heap + 3 * PAGE_SIZE - 1));
	assert_null(virt_to_page(&local));
	assert_null(virt_to_page(&global_word));
	assert_null(virt_to_page(anon));
	assert_null(virt_to_page(anon + 4 * MB - 1));
	assert_null(virt_to_page(NULL));
	assert_null(pfn_to_page(PFN(heap)));
	assert_null(get_dev_pagemap(PFN(heap)));
	munmap(anon, 4 * MB);
	free(heap);
}

/* Free regions are 2 MiB aligned, disjoint, in device pfn space; bad sizes get 0. */
static void test_request_free_mem_region(void **state)
{
	uint64_t a = request_free_mem_region(PAGE_SIZE);
	uint64_t b = request_free_mem_region(3 * MB);
	uint64_t c = request_free_mem_region(PAGE_SIZE);

	assert_int_not_equal(a, 0);
	assert_int_not_equal(b, 0);
	assert_int_not_equal(c, 0);
	assert_int_equal(a % (2 * MB), 0);
	assert_int_equal(b % (2 * MB), 0);
	assert_int_equal(c % (2 * MB), 0);
	assert_true(a >= 1ULL << 47);
	/* Disjoint, whatever order they were placed in. */
	assert_true(a + PAGE_SIZE <= b || b + 3 * MB <= a);
	assert_true(b + 3 * MB <= c || c + PAGE_SIZE <= b);
	assert_true(a + PAGE_SIZE <= c || c + PAGE_SIZE <= a);

	assert_int_equal(request_free_mem_region(0), 0);
	assert_int_equal(request_free_mem_region(100), 0);
	assert_int_equal(request_free_mem_region(PAGE_SIZE + 1), 0);
	assert_int_equal(request_free_mem_region(1ULL << 60), 0);
}

/* zone_device_page_init() takes a free page to refcount 1, locked; twice is -EBUSY. */
static void test_zone_device_page_init(void **state)
{
	struct dev_pagemap pgmap;
	struct page *p;

	init_map(&pgmap, MEMORY_DEVICE_PRIVATE, 2 * MB);
	assert_false(IS_ERR(memremap_pages(&pgmap, 0)));
	p = pfn_to_page(PFN(pgmap.range.start) + 10);

	assert_int_equal(zone_device_page_init(p), 0);
	assert_int_equal(page_ref_count(p), 1);
	assert_true(p->flags & (1UL << PG_locked));
	assert_false(trylock_page(p));
	assert_int_equal(zone_device_page_init(p), -EBUSY);
	assert_int_equal(page_ref_count(p), 1);
	assert_true(p->flags & (1UL << PG_locked));
	unlock_page(p);
	assert_false(p->flags & (1UL << PG_locked));
	assert_true(trylock_page(p));
	unlock_page(p);
	/* A neighbour is untouched. */
	assert_int_equal(page_ref_count(p + 1), 0);

	put_page(p);
	assert_int_equal(nr_freed, 1);
	assert_int_equal(page_ref_count(p), 0);
	/* Freed, it can be handed out again. */
	assert_int_equal(zone_device_page_init(p), 0);
	unlock_page(p);
	put_page(p);
	assert_int_equal(nr_freed, 2);
	memunmap_pages(&pgmap);
}

/* page_free() runs exactly once, at the last put_page(), with the count at zero. */
static void test_page_free_at_last_put(void **state)
{
	struct dev_pagemap pgmap;
	struct page *p;

	init_map(&pgmap, MEMORY_DEVICE_COHERENT, 2 * MB);
	pgmap.ops = &free_only_ops;
	assert_false(IS_ERR(memremap_pages(&pgmap, 0)));
	p = pfn_to_page(PFN(pgmap.range.end));

	assert_int_equal(zone_device_page_init(p), 0);
	unlock_page(p);
	get_page(p);
	get_page(p);
	assert_int_equal(page_ref_count(p), 3);
	put_page(p);
	put_page(p);
	assert_int_equal(page_ref_count(p), 1);
	assert_int_equal(nr_freed, 0);
	put_page(p);
	assert_int_equal(nr_freed, 1);
	assert_ptr_equal(last_freed, p);
	assert_int_equal(ref_at_free, 0);
	assert_int_equal(page_ref_count(p), 0);
	memunmap_pages(&pgmap);
	assert_int_equal(nr_freed, 1);
}

/* get_dev_pagemap() finds the map of any of its pfns and counts a reference. */
static void test_get_dev_pagemap(void **state)
{
	struct dev_pagemap pgmap, *got;
	uint64_t first;

	init_map(&pgmap, MEMORY_DEVICE_GENERIC, 2 * MB + 3 * PAGE_SIZE);
	first = PFN(pgmap.range.start);
	assert_false(IS_ERR(memremap_pages(&pgmap, 0)));

	got = get_dev_pagemap(first);
	assert_ptr_equal(got, &pgmap);
	assert_ptr_equal(get_dev_pagemap(PFN(pgmap.range.end)), &pgmap);
	put_dev_pagemap(&pgmap);
	assert_null(get_dev_pagemap(PFN(pgmap.range.end) + 1));
	assert_true(pgmap_tryget(&pgmap));
	put_dev_pagemap(&pgmap);
	put_dev_pagemap(NULL);
	put_dev_pagemap(got);
	/* Every reference is back: memunmap_pages() returns. */
	memunmap_pages(&pgmap);
	assert_null(get_dev_pagemap(first));
}

/* An alias makes a further CPU mapping resolve to the map's pages, and only there. */
static void test_alias(void **state)
{
	const size_t len = 6 * PAGE_SIZE;
	struct dev_pagemap pgmap;
	char *va = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *alias = va + PAGE_SIZE;
	uint64_t first;

	assert_ptr_not_equal(va, MAP_FAILED);
	init_map(&pgmap, MEMORY_DEVICE_GENERIC, 8 * PAGE_SIZE);
	first = PFN(pgmap.range.start);
	assert_false(IS_ERR(memremap_pages(&pgmap, 0)));

	/* Pages 2..5 of the map at alias[0..4). */
	assert_int_equal(pgmap_add_alias(&pgmap, alias, 4 * PAGE_SIZE, first + 2), 0);
	assert_ptr_equal(virt_to_page(alias), pfn_to_page(first + 2));
	assert_ptr_equal(virt_to_page(alias + 2 * PAGE_SIZE + 99), pfn_to_page(first + 4));
	assert_ptr_equal(virt_to_page(alias + 4 * PAGE_SIZE - 1), pfn_to_page(first + 5));
	assert_null(virt_to_page(alias - 1));
	assert_null(virt_to_page(alias + 4 * PAGE_SIZE));

	/* A second alias over part of the first: busy, the first intact. */
	assert_int_equal(pgmap_add_alias(&pgmap, alias + 3 * PAGE_SIZE, 2 * PAGE_SIZE, first),
			 -EBUSY);
	assert_null(virt_to_page(alias + 4 * PAGE_SIZE));
	assert_ptr_equal(virt_to_page(alias + 3 * PAGE_SIZE), pfn_to_page(first + 5));

	/* Misaligned, empty, out-of-map and device-space arguments. */
	assert_int_equal(pgmap_add_alias(&pgmap, va + 8, PAGE_SIZE, first), -EINVAL);
	assert_int_equal(pgmap_add_alias(&pgmap, va, 0, first), -EINVAL);
	assert_int_equal(pgmap_add_alias(&pgmap, va, 100, first), -EINVAL);
	assert_int_equal(pgmap_add_alias(&pgmap, va, PAGE_SIZE, first + 8), -EINVAL);
	assert_int_equal(pgmap_add_alias(&pgmap, va, PAGE_SIZE, first - 1), -EINVAL);
	assert_int_equal(pgmap_add_alias(&pgmap, va, 2 * PAGE_SIZE, first + 7), -EINVAL);
	assert_int_equal(pgmap_add_alias(&pgmap, (void *)(uintptr_t)(1ULL << 47), PAGE_SIZE, first),
			 -EINVAL);
	assert_null(virt_to_page(va));

	/* Removal wants exactly what was entered. */
	assert_int_equal(pgmap_remove_alias(&pgmap, alias, 2 * PAGE_SIZE), -ENOENT);
	assert_int_equal(pgmap_remove_alias(&pgmap, va, 4 * PAGE_SIZE), -ENOENT);
	assert_ptr_equal(virt_to_page(alias), pfn_to_page(first + 2));
	assert_int_equal(pgmap_remove_alias(&pgmap, alias, 4 * PAGE_SIZE), 0);
	assert_null(virt_to_page(alias));
	assert_null(virt_to_page(alias + 4 * PAGE_SIZE - 1));
	assert_int_equal(pgmap_remove_alias(&pgmap, alias, 4 * PAGE_SIZE), -ENOENT);
	/* The pfns themselves never depended on the alias. */
	assert_non_null(pfn_to_page(first + 2));

	/* The address is free again for another alias. */
	assert_int_equal(pgmap_add_alias(&pgmap, va, len, first + 1), 0);
	assert_ptr_equal(virt_to_page(va + len - 1), pfn_to_page(first + 6));
	assert_int_equal(pgmap_remove_alias(&pgmap, va, len), 0);

	memunmap_pages(&pgmap);
	munmap(va, len);
}

/* A map of two ranges: each resolves to pages of its own, all of the one map. */
static void test_two_ranges(void **state)
{
	struct dev_pagemap *pgmap = calloc(1, sizeof(*pgmap) + sizeof(struct range));
	struct range *r = pgmap->ranges;
	uint64_t a, b;
	struct page *pa, *pb;

	init_map(pgmap, MEMORY_DEVICE_PRIVATE, 2 * MB);
	pgmap->nr_range = 2;
	b = request_free_mem_region(16 * PAGE_SIZE);
	assert_int_not_equal(b, 0);
	r[1].start = b;
	r[1].end = b + 16 * PAGE_SIZE - 1;
	a = r[0].start;
	assert_ptr_equal(memremap_pages(pgmap, 0), (void *)(uintptr_t)a);

	pa = pfn_to_page(PFN(a));
	pb = pfn_to_page(PFN(b));
	assert_non_null(pa);
	assert_non_null(pb);
	assert_ptr_not_equal(pa, pb);
	assert_int_equal(page_to_pfn(pa), PFN(a));
	assert_int_equal(page_to_pfn(pb), PFN(b));
	assert_int_equal(page_to_pfn(pfn_to_page(PFN(r[0].end))), PFN(r[0].end));
	assert_int_equal(page_to_pfn(pfn_to_page(PFN(r[1].end))), PFN(r[1].end));
	assert_ptr_equal(page_pgmap(pa), pgmap);
	assert_ptr_equal(page_pgmap(pb), pgmap);
	assert_true(is_device_private_page(pb));
	assert_null(pfn_to_page(PFN(r[1].end) + 1));
	assert_ptr_equal(get_dev_pagemap(PFN(b) + 5), pgmap);
	put_dev_pagemap(pgmap);

	/* A page of either range can be used and freed on its own. */
	assert_int_equal(zone_device_page_init(pb + 15), 0);
	assert_int_equal(page_ref_count(pfn_to_page(PFN(a) + 15)), 0);
	unlock_page(pb + 15);
	put_page(pb + 15);
	assert_ptr_equal(last_freed, pfn_to_page(PFN(b) + 15));

	memunmap_pages(pgmap);
	assert_null(pfn_to_page(PFN(a)));
	assert_null(pfn_to_page(PFN(b)));
	free(pgmap);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_private_needs_ops_and_owner, setup),
		cmocka_unit_test_setup(test_coherent_and_unsupported_types, setup),
		cmocka_unit_test_setup(test_bad_ranges, setup),
		cmocka_unit_test_setup(test_vaddr_rules, setup),
		cmocka_unit_test_setup(test_overlap_busy, setup),
		cmocka_unit_test_setup(test_overlapping_vaddr_busy, setup),
		cmocka_unit_test_setup(test_pfn_round_trip, setup),
		cmocka_unit_test_setup(test_page_type_predicates, setup),
		cmocka_unit_test_setup(test_page_address, setup),
		cmocka_unit_test_setup(test_ordinary_memory, setup),
		cmocka_unit_test_setup(test_request_free_mem_region, setup),
		cmocka_unit_test_setup(test_zone_device_page_init, setup),
		cmocka_unit_test_setup(test_page_free_at_last_put, setup),
		cmocka_unit_test_setup(test_get_dev_pagemap, setup),
		cmocka_unit_test_setup(test_alias, setup),
		cmocka_unit_test_setup(test_two_ranges, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
