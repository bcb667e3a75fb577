// SPDX-License-Identifier: MIT
/*
 * The IOMMU blocks every DMA to an address nobody mapped for the device:
 * the access is not performed, it is counted at the root complex and in
 * the domain, and reported with the requester and address.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "fabric-fixture.h"

#define PG 4096

struct ctx {
	struct fixture x;
	struct iommu_domain *dom;
	uint8_t *host;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	struct fixture_opts o = { 0 };

	quiet_logs();
	if (!c || fixture_build(&c->x, &o))
		return -1;
	c->dom = iommu_domain_alloc();
	c->host = aligned_alloc(PG, 4 * PG);
	memset(c->host, 0xee, 4 * PG);
	pci_set_master(c->x.a);
	pci_set_master(c->x.c);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	iommu_detach_device(c->dom, c->x.a);
	iommu_domain_free(c->dom);
	fixture_destroy(&c->x);
	free(c->host);
	free(c);
	return 0;
}

/* A device attached to no domain reaches no host memory at all. */
static void test_no_domain_reaches_nothing(void **state)
{
	struct ctx *c = *state;
	uint8_t data[16] = { 0 };

	assert_int_equal(pci_dma_write(c->x.c, (uintptr_t)c->host, data, sizeof(data)), -EFAULT);
	assert_int_equal(pci_dma_read(c->x.c, (uintptr_t)c->host, data, sizeof(data)), -EFAULT);
	assert_int_equal(c->host[0], 0xee);
	assert_int_equal(rc_stats(c->x.hb0).iommu_faults, 2);
	assert_int_equal(rc_stats(c->x.hb0).mem_bytes[0], 0);
}

/* An unmapped IOVA faults; the domain records the requester, address and access. */
static void test_unmapped_iova_faults(void **state)
{
	struct ctx *c = *state;
	struct iommu_fault f;
	uint8_t data[8] = { 1 };

	assert_int_equal(iommu_attach_device(c->dom, c->x.a), 0);
	assert_int_equal(iommu_domain_faults(c->dom, NULL), 0);
	assert_int_equal(pci_dma_write(c->x.a, 0x7000, data, sizeof(data)), -EFAULT);
	assert_int_equal(iommu_domain_faults(c->dom, &f), 1);
	assert_int_equal(f.iova, 0x7000);
	assert_int_equal(f.prot, IOMMU_WRITE);
	assert_string_equal(f.requester, pci_name(c->x.a));
	/* Attaching the device to a second domain is refused. */
	struct iommu_domain *other = iommu_domain_alloc();

	assert_int_equal(iommu_attach_device(other, c->x.a), -EBUSY);
	assert_ptr_equal(iommu_get_domain_for_dev(c->x.a), c->dom);
	iommu_domain_free(other);
}

/* A read-only mapping lets the device read and blocks its writes. */
static void test_permissions(void **state)
{
	struct ctx *c = *state;
	uint8_t data[PG];

	assert_int_equal(iommu_map(c->dom, 0x100000, (uintptr_t)c->host, PG, IOMMU_READ), 0);
	assert_int_equal(pci_dma_read(c->x.a, 0x100000, data, PG), 0);
	assert_int_equal(data[100], 0xee);
	memset(data, 0x11, sizeof(data));
	assert_int_equal(pci_dma_write(c->x.a, 0x100000, data, PG), -EFAULT);
	assert_int_equal(c->host[0], 0xee);
	assert_int_equal(iommu_unmap(c->dom, 0x100000, PG), PG);
}

/* A DMA across a mapped and an unmapped page writes the first and stops at the second. */
static void test_partial(void **state)
{
	struct ctx *c = *state;
	uint8_t data[2 * PG];

	memset(data, 0x22, sizeof(data));
	assert_int_equal(iommu_map(c->dom, 0x200000, (uintptr_t)c->host, PG,
				   IOMMU_READ | IOMMU_WRITE), 0);
	assert_int_equal(pci_dma_write(c->x.a, 0x200000, data, 2 * PG), -EFAULT);
	assert_int_equal(c->host[PG - 1], 0x22);
	assert_int_equal(c->host[PG], 0xee);
	iommu_unmap(c->dom, 0x200000, PG);
}

/* After unmap the same DMA is blocked: the device keeps no access. */
static void test_unmap_revokes(void **state)
{
	struct ctx *c = *state;
	uint8_t data[64];

	memset(data, 0x33, sizeof(data));
	assert_int_equal(iommu_map(c->dom, 0x300000, (uintptr_t)c->host + PG, PG, IOMMU_WRITE), 0);
	assert_int_equal(pci_dma_write(c->x.a, 0x300000, data, sizeof(data)), 0);
	assert_int_equal(c->host[PG], 0x33);
	iommu_unmap(c->dom, 0x300000, PG);
	memset(data, 0x44, sizeof(data));
	assert_int_equal(pci_dma_write(c->x.a, 0x300000, data, sizeof(data)), -EFAULT);
	assert_int_equal(c->host[PG], 0x33);
}

/* Scattered pages mapped contiguously in IOVA space take one DMA. */
static void test_scatter_contiguous_iova(void **state)
{
	struct ctx *c = *state;
	uint8_t data[2 * PG];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	/* IOVA page 0 -> host page 3, IOVA page 1 -> host page 1 */
	assert_int_equal(iommu_map(c->dom, 0x400000, (uintptr_t)c->host + 3 * PG, PG, IOMMU_WRITE),
			 0);
	assert_int_equal(iommu_map(c->dom, 0x401000, (uintptr_t)c->host + PG, PG, IOMMU_WRITE), 0);
	assert_int_equal(pci_dma_write(c->x.a, 0x400000, data, sizeof(data)), 0);
	assert_memory_equal(c->host + 3 * PG, data, PG);
	assert_memory_equal(c->host + PG, data + PG, PG);
	iommu_unmap(c->dom, 0x400000, 2 * PG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_domain_reaches_nothing),
		cmocka_unit_test(test_unmapped_iova_faults),
		cmocka_unit_test(test_permissions),
		cmocka_unit_test(test_partial),
		cmocka_unit_test(test_unmap_revokes),
		cmocka_unit_test(test_scatter_contiguous_iova),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
