// SPDX-License-Identifier: MIT
/*
 * Description: a device's DMA into process memory that was unmapped
 * while the IOMMU still maps it fails cleanly. The kernel keeps such a
 * page alive until the device lets go; here the page goes with the
 * munmap(), and the userfaultfd event that would stop the device comes
 * after. The access is refused as an IOMMU fault (-EFAULT, counted in the
 * device's domain), the process lives, and the same device's DMA to
 * memory still mapped works straight after, reads and writes, whole
 * transfers and the 1..8-byte accesses completion entries use, and a
 * transfer that crosses from live memory into the hole.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/mman.h>
#include <cmocka.h>

#include <hetmem/dma-mapping.h>
#include <hetmem/iommu.h>
#include "lib/fault_guard.h"
#include "fabric-fixture.h"

#define PG 4096

struct ctx {
	struct fixture x;
	uint8_t *buf; /* 4 pages: [0, 2) stay, [2, 4) are unmapped */
	dma_addr_t dma;
	struct iommu_domain *dom;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	quiet_logs();
	if (!c || fixture_build(&c->x, &(struct fixture_opts){ 0 }))
		return -1;
	c->buf = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c->buf == MAP_FAILED)
		return -1;
	memset(c->buf, 0x5a, 4 * PG);
	c->dma = dma_map_single(c->x.a, c->buf, 4 * PG, DMA_BIDIRECTIONAL);
	if (dma_mapping_error(c->x.a, c->dma))
		return -1;
	c->dom = iommu_get_domain_for_dev(c->x.a);
	pci_set_master(c->x.a);
	if (munmap(c->buf + 2 * PG, 2 * PG))
		return -1;
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	dma_unmap_single(c->x.a, c->dma, 4 * PG, DMA_BIDIRECTIONAL);
	fixture_destroy(&c->x);
	munmap(c->buf, 2 * PG);
	free(c);
	return 0;
}

static void test_unmapped_refused(void **state)
{
	struct ctx *c = *state;
	uint64_t faults = c->dom ? iommu_domain_faults(c->dom, NULL) : 0;
	uint8_t data[PG];
	uint64_t word = 0;

	/* cmocka put its own handler in for this test: take the faults back. */
	fault_guard_install();
	memset(data, 0x11, sizeof(data));
	assert_int_equal(pci_dma_read(c->x.a, c->dma + 2 * PG, data, PG), -EFAULT);
	assert_int_equal(pci_dma_write(c->x.a, c->dma + 3 * PG, data, PG), -EFAULT);
	assert_int_equal(pci_dma_write(c->x.a, c->dma + 3 * PG + 8, &word, 8), -EFAULT);
	assert_int_equal(pci_dma_read(c->x.a, c->dma + 2 * PG + 4, &word, 4), -EFAULT);
	assert_int_equal(pci_dma_read(c->x.a, c->dma + 2 * PG + 1, &word, 1), -EFAULT);
	/* Starting in live memory and running into the hole. */
	assert_int_equal(pci_dma_write(c->x.a, c->dma + 2 * PG - 64, data, 128), -EFAULT);
	if (c->dom)
		assert_int_equal(iommu_domain_faults(c->dom, NULL), faults + 6);
}

static void test_live_memory_still_works(void **state)
{
	struct ctx *c = *state;
	uint8_t data[PG];
	uint32_t word = 0x01020304;

	fault_guard_install();
	assert_int_equal(pci_dma_read(c->x.a, c->dma + 2 * PG, data, PG), -EFAULT);
	memset(data, 0x77, sizeof(data));
	assert_int_equal(pci_dma_write(c->x.a, c->dma, data, PG), 0);
	assert_int_equal(c->buf[0], 0x77);
	assert_int_equal(c->buf[PG - 1], 0x77);
	assert_int_equal(pci_dma_write(c->x.a, c->dma + PG + 16, &word, 4), 0);
	assert_memory_equal(c->buf + PG + 16, &word, 4);
	memset(data, 0, sizeof(data));
	assert_int_equal(pci_dma_read(c->x.a, c->dma + PG, data, PG), 0);
	assert_int_equal(data[0], 0x5a);
	assert_memory_equal(data + 16, &word, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unmapped_refused),
		cmocka_unit_test(test_live_memory_still_works),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
