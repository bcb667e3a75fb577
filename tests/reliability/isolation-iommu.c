// SPDX-License-Identifier: MIT
/*
 * Description: a device reaches host memory only where the IOMMU maps it
 * for that device. Devices a (below sw0) and c (below rp1) each map a
 * buffer of their own with dma_map_single(); every device's IOVAs come
 * from the same aperture, so the two mappings get the same IOVA number,
 * yet each device's DMA lands in its own buffer and never in the other's.
 * An IOVA mapped for one device faults for another, and is counted in the
 * requester's domain only. b, which mapped nothing, reaches nothing. A
 * mapping unmapped is gone for its device. tests/iommu-blocking.c checks
 * one domain's rules; this is about devices against each other.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <hetmem/dma-mapping.h>
#include "fabric-fixture.h"

#define PG 4096

struct ctx {
	struct fixture x;
	uint8_t *abuf, *cbuf;
	dma_addr_t adma, cdma;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	quiet_logs();
	if (!c || fixture_build(&c->x, &(struct fixture_opts){ 0 }))
		return -1;
	c->abuf = aligned_alloc(PG, 4 * PG);
	c->cbuf = aligned_alloc(PG, 4 * PG);
	memset(c->abuf, 0xaa, 4 * PG);
	memset(c->cbuf, 0xcc, 4 * PG);
	c->adma = dma_map_single(c->x.a, c->abuf, 4 * PG, DMA_BIDIRECTIONAL);
	c->cdma = dma_map_single(c->x.c, c->cbuf, 4 * PG, DMA_BIDIRECTIONAL);
	if (dma_mapping_error(c->x.a, c->adma) || dma_mapping_error(c->x.c, c->cdma))
		return -1;
	pci_set_master(c->x.a);
	pci_set_master(c->x.b);
	pci_set_master(c->x.c);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	dma_unmap_single(c->x.a, c->adma, 4 * PG, DMA_BIDIRECTIONAL);
	dma_unmap_single(c->x.c, c->cdma, 4 * PG, DMA_BIDIRECTIONAL);
	fixture_destroy(&c->x);
	free(c->abuf);
	free(c->cbuf);
	free(c);
	return 0;
}

static void assert_filled(const uint8_t *p, size_t len, uint8_t v)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			fail_msg("byte %zu is 0x%02x, expected 0x%02x", i, p[i], v);
}

/* The same IOVA number names each device's own memory. */
static void test_same_iova_own_memory(void **state)
{
	struct ctx *c = *state;
	uint8_t one[PG], two[PG];

	/* Both first mappings of fresh devices: the same IOVA in different domains. */
	assert_int_equal(c->adma, c->cdma);
	assert_ptr_not_equal(iommu_get_domain_for_dev(c->x.a), iommu_get_domain_for_dev(c->x.c));
	memset(one, 0x11, sizeof(one));
	memset(two, 0x22, sizeof(two));
	assert_int_equal(pci_dma_write(c->x.a, c->adma, one, PG), 0);
	assert_int_equal(pci_dma_write(c->x.c, c->cdma + PG, two, PG), 0);
	assert_filled(c->abuf, PG, 0x11);
	assert_filled(c->abuf + PG, 3 * PG, 0xaa);
	assert_filled(c->cbuf, PG, 0xcc);
	assert_filled(c->cbuf + PG, PG, 0x22);
	assert_filled(c->cbuf + 2 * PG, 2 * PG, 0xcc);
	/* Reads too: each sees its own buffer. */
	assert_int_equal(pci_dma_read(c->x.c, c->cdma, one, PG), 0);
	assert_filled(one, PG, 0xcc);
}

/* An IOVA only a maps faults for c, counted in c's domain, and a's memory is untouched. */
static void test_other_devices_iova_faults(void **state)
{
	struct ctx *c = *state;
	struct iommu_domain *da = iommu_get_domain_for_dev(c->x.a);
	struct iommu_domain *dc = iommu_get_domain_for_dev(c->x.c);
	uint8_t *big = aligned_alloc(PG, 64 * PG), data[PG];
	dma_addr_t only_a;
	struct iommu_fault f;
	uint64_t fa = iommu_domain_faults(da, NULL), fc = iommu_domain_faults(dc, NULL);

	memset(big, 0x5a, 64 * PG);
	memset(data, 0x77, sizeof(data));
	/* a maps more than c ever did: its last page has no counterpart in c's domain. */
	only_a = dma_map_single(c->x.a, big, 64 * PG, DMA_BIDIRECTIONAL);
	assert_int_equal(dma_mapping_error(c->x.a, only_a), 0);
	only_a += 63 * PG;
	assert_int_equal(iommu_iova_to_phys(dc, only_a), 0);
	assert_int_equal(iommu_iova_to_phys(da, only_a), (uintptr_t)big + 63 * PG);

	assert_int_equal(pci_dma_write(c->x.c, only_a, data, PG), -EFAULT);
	assert_int_equal(pci_dma_read(c->x.c, only_a, data, PG), -EFAULT);
	assert_int_equal(iommu_domain_faults(dc, &f), fc + 2);
	assert_int_equal(f.iova, only_a);
	assert_string_equal(f.requester, pci_name(c->x.c));
	assert_int_equal(iommu_domain_faults(da, NULL), fa);
	assert_filled(big, 64 * PG, 0x5a);
	/* b has mapped nothing at all: it reaches neither. */
	assert_int_equal(pci_dma_write(c->x.b, only_a, data, PG), -EFAULT);
	assert_int_equal(pci_dma_write(c->x.b, c->adma, data, PG), -EFAULT);
	assert_filled(c->abuf, 4 * PG, 0xaa);
	/* The owner itself gets through. */
	assert_int_equal(pci_dma_write(c->x.a, only_a, data, PG), 0);
	assert_filled(big + 63 * PG, PG, 0x77);
	dma_unmap_single(c->x.a, only_a - 63 * PG, 64 * PG, DMA_BIDIRECTIONAL);
	free(big);
}

/* After dma_unmap_single() the device is shut out again, the other device unaffected. */
static void test_unmap_shuts_out_only_owner(void **state)
{
	struct ctx *c = *state;
	uint8_t data[PG];

	memset(data, 0x33, sizeof(data));
	dma_unmap_single(c->x.a, c->adma, 4 * PG, DMA_BIDIRECTIONAL);
	assert_int_equal(pci_dma_write(c->x.a, c->adma, data, PG), -EFAULT);
	assert_filled(c->abuf, 4 * PG, 0xaa);
	assert_int_equal(pci_dma_write(c->x.c, c->cdma, data, PG), 0);
	assert_filled(c->cbuf, PG, 0x33);
	/* Mapped again, a's DMA lands again. */
	c->adma = dma_map_single(c->x.a, c->abuf, 4 * PG, DMA_BIDIRECTIONAL);
	assert_int_equal(dma_mapping_error(c->x.a, c->adma), 0);
	assert_int_equal(pci_dma_write(c->x.a, c->adma, data, PG), 0);
	assert_filled(c->abuf, PG, 0x33);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_same_iova_own_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_devices_iova_faults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmap_shuts_out_only_owner, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
