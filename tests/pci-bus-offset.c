// SPDX-License-Identifier: MIT
/*
 * Bus offsets: a host bridge translates CPU addresses to bus addresses with
 * its own offset. Peers below one host bridge use bus addresses; traffic
 * through a root complex arrives as a CPU address and leaves as the target
 * host bridge's bus address. The byte lands on the right BAR page.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <cmocka.h>

#include "fabric-fixture.h"

#define PG 4096

/* The CPU and bus addresses of a BAR differ by exactly the host bridge's offset. */
static void test_offsets_per_host_bridge(void **state)
{
	struct fixture x;
	struct fixture_opts o = { .with_hb1 = true };

	assert_int_equal(fixture_build(&x, &o), 0);
	assert_int_equal(pci_resource_start(x.b, 2) - pci_bus_address(x.b, 2), FIX_HB0_OFFSET);
	assert_int_equal(pci_resource_start(x.d, 0) - pci_bus_address(x.d, 0), FIX_HB1_OFFSET);
	/* Both host bridges use the same bus windows; only their CPU windows differ. */
	assert_int_equal(pci_bus_address(x.c, 2) & 0xffffffff00000000ULL,
			 pci_bus_address(x.d, 2) & 0xffffffff00000000ULL);
	fixture_destroy(&x);
}

/* Each page of a peer's BAR is reached at its own bus address, switch-locally. */
static void test_bus_address_pages(void **state)
{
	struct fixture x;
	struct fixture_opts o = { 0 };
	uint8_t *mem;

	assert_int_equal(fixture_build(&x, &o), 0);
	mem = pci_iomap(x.b, 2);
	pci_set_master(x.a);
	for (int pg = 0; pg < 16; pg++) {
		uint64_t v = 0xb0b0000000000000ULL | pg;

		assert_int_equal(pci_dma_write(x.a, pci_bus_address(x.b, 2) + pg * PG + 8, &v, 8), 0);
	}
	for (int pg = 0; pg < 16; pg++) {
		uint64_t v;

		memcpy(&v, mem + pg * PG + 8, 8);
		assert_int_equal(v, 0xb0b0000000000000ULL | pg);
	}
	fixture_destroy(&x);
}

/*
 * Across host bridges with different offsets, the IOMMU output is the CPU
 * address; the target host bridge subtracts its own offset. A CPU address
 * of hb1 reaches d at the same page; the same bus address read as a CPU
 * address of hb0 would be another device.
 */
static void test_cross_offset_translation(void **state)
{
	struct fixture x;
	struct fixture_opts o = { .with_hb1 = true };
	struct iommu_domain *dom = iommu_domain_alloc();
	const uint64_t iova = 0x50000000;
	uint8_t page[PG];
	struct pci_route r;

	assert_int_equal(fixture_build(&x, &o), 0);
	assert_int_equal(iommu_attach_device(dom, x.a), 0);
	pci_set_master(x.a);
	memset(page, 0xd1, sizeof(page));
	assert_int_equal(iommu_map(dom, iova, pci_resource_start(x.d, 2) + 5 * PG, PG,
				   IOMMU_WRITE), 0);
	assert_int_equal(pci_route(x.a, iova, PG, true, &r), 0);
	assert_ptr_equal(r.target, x.d);
	assert_int_equal(r.offset, 5 * PG);
	assert_ptr_equal(r.rc[1], x.hb1);
	assert_int_equal(pci_dma_write(x.a, iova, page, PG), 0);
	assert_memory_equal((uint8_t *)pci_iomap(x.d, 2) + 5 * PG, page, PG);

	/*
	 * d's bus address plus hb0's offset is a CPU address in hb0's window
	 * (the two host bridges share bus windows): it names a function below
	 * hb0, never d.
	 */
	assert_int_equal(iommu_map(dom, iova + PG, pci_bus_address(x.d, 2) + FIX_HB0_OFFSET, PG,
				   IOMMU_WRITE), 0);
	assert_int_equal(pci_route(x.a, iova + PG, 8, true, &r), 0);
	assert_ptr_not_equal(r.target, x.d);
	assert_ptr_equal(pci_host_bridge_of(r.target), x.hb0);
	assert_null(r.rc[1]);
	iommu_detach_device(dom, x.a);
	iommu_domain_free(dom);
	fixture_destroy(&x);
}

/* Behind a passthrough host bridge the device uses CPU addresses directly; unmapped memory fails cleanly. */
static void test_passthrough(void **state)
{
	struct fixture x;
	struct fixture_opts o = { .hb0_passthrough = true };
	uint8_t *host = aligned_alloc(PG, PG);
	uint8_t data[PG];
	void *hole;

	assert_int_equal(fixture_build(&x, &o), 0);
	pci_set_master(x.a);
	/* Valgrind does not see process_vm_writev() define memory: start defined. */
	memset(host, 0, PG);
	memset(data, 0x3c, sizeof(data));
	assert_int_equal(pci_dma_write(x.a, (uintptr_t)host, data, PG), 0);
	assert_memory_equal(host, data, PG);
	assert_int_equal(pci_dma_write(x.a, pci_resource_start(x.c, 2), data, PG), 0);
	assert_memory_equal(pci_iomap(x.c, 2), data, PG);

	/* Memory the process does not have: the device gets an error, the process lives. */
	hole = mmap(NULL, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(hole, PG);
	assert_int_equal(pci_dma_write(x.a, (uintptr_t)hole, data, PG), -EFAULT);
	assert_int_equal(pci_dma_read(x.a, (uintptr_t)hole, data, PG), -EFAULT);
	free(host);
	fixture_destroy(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offsets_per_host_bridge),
		cmocka_unit_test(test_bus_address_pages),
		cmocka_unit_test(test_cross_offset_translation),
		cmocka_unit_test(test_passthrough),
	};

	quiet_logs();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
