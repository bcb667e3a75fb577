// SPDX-License-Identifier: MIT
/*
 * Description: one user's p2pmem cannot be reached through another's.
 * Four users take p2pmem from provider b (fabric-fixture.h): two through
 * p2pmem/allocate mappings, two with pci_alloc_p2pmem(). Every page of each
 * resolves to BAR memory no other user's page resolves to, a write through
 * one changes no other, a peer's DMA through one user's mapping lands in
 * that user's memory only, a DMA mapping that would run past the end of a
 * user's mapping is refused, and freeing or unmapping with an address
 * inside someone else's memory changes nothing of theirs.
 *
 * What the last user of the same BAR memory left there is cleared when the
 * memory is handed out again: reliability-p2pmem-cleared.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/mman.h>
#include <cmocka.h>

#include <hetmem/dma-mapping.h>
#include <hetmem/memremap.h>
#include <hetmem/pci-p2pdma.h>
#include "fabric-fixture.h"

#define LEN    (16 * PAGE_SIZE)
#define NUSERS 4

struct ctx {
	struct fixture x;
	uint8_t *u[NUSERS]; /* 0, 1: mappings; 2, 3: allocations */
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	quiet_logs();
	if (!c || fixture_build(&c->x, &(struct fixture_opts){ 0 }))
		return -1;
	if (pci_p2pdma_add_resource(c->x.b, 2, 0, 0))
		return -1;
	pci_p2pmem_publish(c->x.b, true);
	for (int i = 0; i < 2; i++) {
		c->u[i] = pci_p2pmem_mmap(c->x.b, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
		if (IS_ERR_OR_NULL(c->u[i]))
			return -1;
	}
	for (int i = 2; i < NUSERS; i++)
		if (!(c->u[i] = pci_alloc_p2pmem(c->x.b, LEN)))
			return -1;
	for (int i = 0; i < NUSERS; i++)
		memset(c->u[i], 0x10 + i, LEN);
	pci_set_master(c->x.a);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	for (int i = 0; i < 2; i++)
		pci_p2pmem_munmap(c->x.b, c->u[i], LEN);
	for (int i = 2; i < NUSERS; i++)
		pci_free_p2pmem(c->x.b, c->u[i], LEN);
	pci_p2pdma_release(c->x.b);
	fixture_destroy(&c->x);
	free(c);
	return 0;
}

/* Where in b's BAR the byte at @p lives, as the special-page lookup says. */
static uint64_t bar_offset(struct ctx *c, const uint8_t *p)
{
	struct page *pg = virt_to_page(p);

	assert_non_null(pg);
	assert_true(is_pci_p2pdma_page(pg));
	return (page_to_pfn(pg) << PAGE_SHIFT) - pci_resource_start(c->x.b, 2) +
	       ((uintptr_t)p & ~PAGE_MASK);
}

static void assert_user(struct ctx *c, int i, uint8_t v)
{
	for (size_t j = 0; j < LEN; j++)
		if (c->u[i][j] != v)
			fail_msg("user %d byte %zu is 0x%02x, expected 0x%02x", i, j, c->u[i][j],
				 v);
}

/* No page of one user is a page of another, and writes stay where they were made. */
static void test_disjoint_memory(void **state)
{
	struct ctx *c = *state;
	uint64_t off[NUSERS][LEN / PAGE_SIZE];

	for (int i = 0; i < NUSERS; i++)
		for (size_t p = 0; p < LEN / PAGE_SIZE; p++)
			off[i][p] = bar_offset(c, c->u[i] + p * PAGE_SIZE);
	for (int i = 0; i < NUSERS; i++)
		for (int j = 0; j < NUSERS; j++)
			for (size_t p = 0; i != j && p < LEN / PAGE_SIZE; p++)
				for (size_t q = 0; q < LEN / PAGE_SIZE; q++)
					assert_true(off[i][p] != off[j][q]);
	for (int i = 0; i < NUSERS; i++) {
		memset(c->u[i], 0xe0 + i, LEN);
		for (int j = 0; j < NUSERS; j++)
			assert_user(c, j, j <= i ? 0xe0 + j : 0x10 + j);
	}
}

/* A peer's DMA through user 0's mapping lands in user 0's memory only. */
static void test_dma_through_mapping(void **state)
{
	struct ctx *c = *state;
	uint8_t data[LEN];
	dma_addr_t dma;

	memset(data, 0x99, sizeof(data));
	dma = dma_map_single(c->x.a, c->u[0], LEN, DMA_FROM_DEVICE);
	assert_int_equal(dma_mapping_error(c->x.a, dma), 0);
	assert_int_equal(pci_dma_write(c->x.a, dma, data, LEN), 0);
	dma_unmap_single(c->x.a, dma, LEN, DMA_FROM_DEVICE);
	assert_user(c, 0, 0x99);
	for (int i = 1; i < NUSERS; i++)
		assert_user(c, i, 0x10 + i);
}

/* A mapping request that runs past the end of a user's mapping is refused. */
static void test_no_mapping_past_the_end(void **state)
{
	struct ctx *c = *state;
	dma_addr_t dma;

	/* Cut user 1's last page off: the page after the rest is now no one's. */
	assert_int_equal(pci_p2pmem_munmap(c->x.b, c->u[1] + LEN - PAGE_SIZE, PAGE_SIZE), 0);
	assert_null(virt_to_page(c->u[1] + LEN - PAGE_SIZE));
	dma = dma_map_single(c->x.a, c->u[1], LEN, DMA_FROM_DEVICE);
	assert_int_equal(dma, DMA_MAPPING_ERROR);
	assert_int_equal(dma_mapping_error(c->x.a, dma), -EINVAL);
	/* Up to the new end it maps. */
	dma = dma_map_single(c->x.a, c->u[1], LEN - PAGE_SIZE, DMA_FROM_DEVICE);
	assert_int_equal(dma_mapping_error(c->x.a, dma), 0);
	dma_unmap_single(c->x.a, dma, LEN - PAGE_SIZE, DMA_FROM_DEVICE);
	/* Give the rest back so teardown's munmap of the whole range still matches. */
	assert_int_equal(pci_p2pmem_munmap(c->x.b, c->u[1], LEN - PAGE_SIZE), 0);
	c->u[1] = pci_p2pmem_mmap(c->x.b, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	assert_false(IS_ERR_OR_NULL(c->u[1]));
}

/* Frees and unmaps aimed inside another user's memory change nothing of it. */
static void test_foreign_frees_ignored(void **state)
{
	struct ctx *c = *state;
	char avail[32], after[32];

	assert_true(pci_p2pmem_attr_show(c->x.b, "available", avail, sizeof(avail)) > 0);
	/* Inside allocation 2, not its start; the start of mapping 0's pool memory is not known. */
	pci_free_p2pmem(c->x.b, c->u[2] + PAGE_SIZE, PAGE_SIZE);
	/* An allocation is not a mapping: p2pmem/allocate's munmap does not take it. */
	assert_int_equal(pci_p2pmem_munmap(c->x.b, c->u[3], LEN), -EINVAL);
	assert_true(pci_p2pmem_attr_show(c->x.b, "available", after, sizeof(after)) > 0);
	assert_string_equal(avail, after);
	for (int i = 0; i < NUSERS; i++)
		assert_user(c, i, 0x10 + i);
	assert_true(is_pci_p2pdma_page(virt_to_page(c->u[0])));
	assert_true(is_pci_p2pdma_page(virt_to_page(c->u[3] + LEN - 1)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_disjoint_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dma_through_mapping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_mapping_past_the_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_frees_ignored, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
