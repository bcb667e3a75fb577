// SPDX-License-Identifier: MIT
/*
 * Description: p2pmem handed out reads zeros, whatever the BAR memory held.
 * Provider b (fabric-fixture.h) publishes a pool of POOL bytes, so every
 * allocation of the whole pool is the same BAR memory. What one user left
 * there, through an allocation, a p2pmem/allocate mapping, a mapping its
 * provider's release revoked, the BAR's own mapping or a peer's DMA, is
 * gone when the next user gets the memory. A free that is refused (an
 * address inside a live allocation) clears nothing of it.
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

#define POOL (64 << 10)

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));

	quiet_logs();
	if (!x || fixture_build(x, &(struct fixture_opts){ 0 }))
		return -1;
	if (pci_p2pdma_add_resource(x->b, 2, POOL, 0))
		return -1;
	pci_p2pmem_publish(x->b, true);
	pci_set_master(x->a);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	/* Not the waiting release: a failed test may have left an allocation. */
	pci_p2pdma_try_release(x->b);
	fixture_destroy(x);
	free(x);
	return 0;
}

static void assert_bytes(const uint8_t *p, size_t len, uint8_t v)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			fail_msg("byte %zu is 0x%02x, expected 0x%02x", i, p[i], v);
}

/* The BAR memory behind the pool, as the CPU maps the BAR. */
static uint8_t *bar_mem(struct fixture *x)
{
	return pci_iomap(x->b, 2);
}

/* A refused free clears nothing; a real one, and the next user reads zeros. */
static void test_allocation_reuse(void **state)
{
	struct fixture *x = *state;
	uint8_t *p = pci_alloc_p2pmem(x->b, POOL), *q;

	assert_non_null(p);
	assert_bytes(p, POOL, 0);
	memset(p, 0xa5, POOL);
	/* Not the start of the allocation, not its size: logged and ignored. */
	pci_free_p2pmem(x->b, p + PAGE_SIZE, PAGE_SIZE);
	pci_free_p2pmem(x->b, p, PAGE_SIZE);
	assert_null(pci_alloc_p2pmem(x->b, PAGE_SIZE));
	assert_bytes(p, POOL, 0xa5);

	pci_free_p2pmem(x->b, p, POOL);
	/* Freed bytes stay until the memory is handed out again. */
	assert_bytes(bar_mem(x), POOL, 0xa5);
	q = pci_alloc_p2pmem(x->b, POOL);
	assert_ptr_equal(q, p);
	assert_bytes(q, POOL, 0);
	/* A length that is not a page multiple is cleared to its last page. */
	memset(q, 0x5a, POOL);
	pci_free_p2pmem(x->b, q, POOL);
	q = pci_alloc_p2pmem(x->b, POOL - 100);
	assert_ptr_equal(q, p);
	assert_bytes(q, POOL, 0);
	pci_free_p2pmem(x->b, q, POOL - 100);
}

/* Mappings: what one left is not what the next sees, nor the next allocation. */
static void test_mapping_reuse(void **state)
{
	struct fixture *x = *state;
	uint8_t *m = pci_p2pmem_mmap(x->b, POOL, PROT_READ | PROT_WRITE, MAP_SHARED, 0), *p;

	assert_false(IS_ERR_OR_NULL(m));
	memset(m, 0x3c, POOL);
	assert_int_equal(pci_p2pmem_munmap(x->b, m, POOL), 0);
	m = pci_p2pmem_mmap(x->b, POOL, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	assert_false(IS_ERR_OR_NULL(m));
	assert_bytes(m, POOL, 0);
	memset(m, 0xc3, POOL);
	/* Taken back in two parts: the chunk goes back with the last. */
	assert_int_equal(pci_p2pmem_munmap(x->b, m + PAGE_SIZE, POOL - PAGE_SIZE), 0);
	assert_int_equal(pci_p2pmem_munmap(x->b, m, PAGE_SIZE), 0);
	p = pci_alloc_p2pmem(x->b, POOL);
	assert_non_null(p);
	assert_bytes(p, POOL, 0);
	pci_free_p2pmem(x->b, p, POOL);
}

/* Bytes that reached free BAR memory by other paths are not handed out either. */
static void test_other_writers(void **state)
{
	struct fixture *x = *state;
	uint8_t data[PAGE_SIZE], *p;

	/* The CPU through the BAR's mapping, a peer's DMA to the BAR's bus address. */
	memset(bar_mem(x), 0x77, POOL);
	memset(data, 0x88, sizeof(data));
	assert_int_equal(pci_dma_write(x->a, pci_bus_address(x->b, 2) + POOL - PAGE_SIZE, data,
				       sizeof(data)),
			 0);
	assert_bytes(bar_mem(x) + POOL - PAGE_SIZE, PAGE_SIZE, 0x88);
	p = pci_alloc_p2pmem(x->b, POOL);
	assert_non_null(p);
	assert_bytes(p, POOL, 0);
	pci_free_p2pmem(x->b, p, POOL);
}

/* A mapping revoked by a release: the provider added again hands out zeros. */
static void test_revoked_then_readded(void **state)
{
	struct fixture *x = *state;
	uint8_t *m = pci_p2pmem_mmap(x->b, POOL, PROT_READ | PROT_WRITE, MAP_SHARED, 0), *p;

	assert_false(IS_ERR_OR_NULL(m));
	memset(m, 0xe1, POOL);
	pci_p2pdma_release(x->b);
	assert_bytes(bar_mem(x), POOL, 0xe1);
	assert_int_equal(pci_p2pdma_add_resource(x->b, 2, POOL, 0), 0);
	pci_p2pmem_publish(x->b, true);
	p = pci_alloc_p2pmem(x->b, POOL);
	assert_non_null(p);
	assert_bytes(p, POOL, 0);
	pci_free_p2pmem(x->b, p, POOL);
	/* The revoked range is still its user's to unmap. */
	assert_int_equal(pci_p2pmem_munmap(x->b, m, POOL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_allocation_reuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mapping_reuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_writers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoked_then_readded, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
