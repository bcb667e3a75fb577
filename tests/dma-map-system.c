// SPDX-License-Identifier: MIT
/*
 * The DMA layer on ordinary process memory: IOVAs from an aperture clear of
 * every bus window, permissions by direction, unaligned buffers, unmap
 * revoking access, passthrough host bridges using CPU addresses.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include <hetmem/dma-mapping.h>
#include <hetmem/iommu.h>
#include "fabric-fixture.h"

static int setup(void **state)
{
	static struct fixture x;
	struct fixture_opts o = { 0 };

	quiet_logs();
	if (fixture_build(&x, &o))
		return -1;
	pci_set_master(x.a);
	*state = &x;
	return 0;
}

static int teardown(void **state)
{
	fixture_destroy(*state);
	return 0;
}

/* Process memory is reached through an IOVA the device's new domain maps; the IOVA is no bus window address. */
static void test_iova_round_trip(void **state)
{
	struct fixture *x = *state;
	uint8_t *buf = malloc(10000), data[10000];
	dma_addr_t d;
	struct pci_route r;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 3);
	memset(buf, 0, 10000);
	assert_null(iommu_get_domain_for_dev(x->a));
	d = dma_map_single(x->a, buf, 10000, DMA_BIDIRECTIONAL);
	assert_int_equal(dma_mapping_error(x->a, d), 0);
	assert_non_null(iommu_get_domain_for_dev(x->a));
	assert_int_not_equal(d, (uintptr_t)buf);
	assert_int_equal(d & 4095, (uintptr_t)buf & 4095);
	assert_int_equal(pci_route(x->a, d, 10000, true, &r), 0);
	assert_int_equal(r.kind, PCI_ROUTE_HOST_MEMORY);
	assert_int_equal(r.cpu_addr, (uintptr_t)buf);
	assert_int_equal(pci_dma_write(x->a, d, data, 10000), 0);
	assert_memory_equal(buf, data, 10000);
	memset(data, 0, sizeof(data));
	assert_int_equal(pci_dma_read(x->a, d + 1, data, 9999), 0);
	assert_memory_equal(data, buf + 1, 9999);
	dma_unmap_single(x->a, d, 10000, DMA_BIDIRECTIONAL);
	assert_int_equal(pci_dma_read(x->a, d, data, 16), -EFAULT);
	free(buf);
}

/* The direction decides what the device may do: TO_DEVICE reads only, FROM_DEVICE writes only. */
static void test_direction_permissions(void **state)
{
	struct fixture *x = *state;
	uint8_t *buf = aligned_alloc(4096, 4096), tmp[64] = { 0 };
	dma_addr_t to, from;

	memset(buf, 0x77, 4096);
	to = dma_map_single(x->a, buf, 4096, DMA_TO_DEVICE);
	assert_int_equal(pci_dma_read(x->a, to, tmp, 64), 0);
	assert_int_equal(tmp[0], 0x77);
	assert_int_equal(pci_dma_write(x->a, to, tmp, 64), -EFAULT);
	dma_unmap_single(x->a, to, 4096, DMA_TO_DEVICE);
	from = dma_map_single(x->a, buf, 4096, DMA_FROM_DEVICE);
	assert_int_equal(pci_dma_write(x->a, from, tmp, 64), 0);
	assert_int_equal(pci_dma_read(x->a, from, tmp, 64), -EFAULT);
	dma_unmap_single(x->a, from, 4096, DMA_FROM_DEVICE);
	free(buf);
}

/* Bad arguments fail with DMA_MAPPING_ERROR and the errno says why. */
static void test_bad_arguments(void **state)
{
	struct fixture *x = *state;
	int v;
	dma_addr_t d;

	d = dma_map_single(x->a, &v, 0, DMA_TO_DEVICE);
	assert_int_equal(d, DMA_MAPPING_ERROR);
	assert_int_equal(dma_mapping_error(x->a, d), -EINVAL);
	d = dma_map_single(x->a, &v, 4, (enum dma_data_direction)7);
	assert_int_equal(dma_mapping_error(x->a, d), -EINVAL);
	assert_int_equal(dma_mapping_error(x->a, dma_map_page(x->a, NULL, 0, 8, DMA_TO_DEVICE)),
			 -EINVAL);
}

/* Many mappings get distinct IOVAs, and freed ones are reused. */
static void test_many_mappings(void **state)
{
	struct fixture *x = *state;
	static uint8_t bufs[64][4096] __attribute__((aligned(4096)));
	dma_addr_t d[64];

	for (int i = 0; i < 64; i++) {
		d[i] = dma_map_single(x->a, bufs[i], 4096, DMA_FROM_DEVICE);
		assert_int_equal(dma_mapping_error(x->a, d[i]), 0);
		for (int j = 0; j < i; j++)
			assert_int_not_equal(d[i], d[j]);
	}
	for (int i = 0; i < 64; i++) {
		uint32_t v = 0xc0de0000 | i;

		assert_int_equal(pci_dma_write(x->a, d[i], &v, 4), 0);
		assert_memory_equal(bufs[i], &v, 4);
		dma_unmap_single(x->a, d[i], 4096, DMA_FROM_DEVICE);
	}
}

/* Behind a passthrough host bridge the DMA address is the CPU address itself. */
static void test_passthrough(void **state)
{
	struct fixture x;
	struct fixture_opts o = { .hb0_passthrough = true };
	uint8_t *buf = calloc(1, 4096);
	uint32_t v = 0x5eed;
	dma_addr_t d;

	assert_int_equal(fixture_build(&x, &o), 0);
	pci_set_master(x.a);
	d = dma_map_single(x.a, buf, 4096, DMA_FROM_DEVICE);
	assert_int_equal(d, (uintptr_t)buf);
	assert_null(iommu_get_domain_for_dev(x.a));
	assert_int_equal(pci_dma_write(x.a, d, &v, 4), 0);
	assert_memory_equal(buf, &v, 4);
	dma_unmap_single(x.a, d, 4096, DMA_FROM_DEVICE);
	fixture_destroy(&x);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iova_round_trip),
		cmocka_unit_test(test_direction_permissions),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_many_mappings),
	};
	const struct CMUnitTest standalone[] = {
		cmocka_unit_test(test_passthrough),
	};

	return cmocka_run_group_tests(tests, setup, teardown) |
	       cmocka_run_group_tests(standalone, NULL, NULL);
}
