// SPDX-License-Identifier: MIT
/*
 * The DMA layer on P2P memory, end to end through the fabric: BUS_ADDR
 * segments are bus addresses that never cross the root complex,
 * THRU_HOST_BRIDGE segments are IOVAs that do, NOT_SUPPORTED fails the
 * whole mapping with -EREMOTEIO, mixed lists map each segment its own way,
 * and a device that DMAs where it was never pointed is stopped.
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
#include <hetmem/memremap.h>
#include <hetmem/pci-p2pdma.h>
#include "fabric-fixture.h"

#define LEN (128 << 10)

struct ctx {
	struct fixture x;
	uint8_t *pattern;
};

static int setup_opts(void **state, const struct fixture_opts *o)
{
	struct ctx *c = calloc(1, sizeof(*c));

	quiet_logs();
	if (!c || fixture_build(&c->x, o))
		return -1;
	/* b (same switch as a) and c (other root port) provide p2pmem. */
	if (pci_p2pdma_add_resource(c->x.b, 2, 0, 0) || pci_p2pdma_add_resource(c->x.c, 2, 0, 0))
		return -1;
	pci_p2pmem_publish(c->x.b, true);
	pci_p2pmem_publish(c->x.c, true);
	pci_set_master(c->x.a);
	c->pattern = malloc(LEN);
	for (size_t i = 0; i < LEN; i++)
		c->pattern[i] = (uint8_t)(i * 13 + 1);
	*state = c;
	return 0;
}

static int setup(void **state)
{
	struct fixture_opts o = { 0 };

	return setup_opts(state, &o);
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	pci_p2pdma_release(c->x.b);
	pci_p2pdma_release(c->x.c);
	fixture_destroy(&c->x);
	free(c->pattern);
	free(c);
	return 0;
}

/* Switch-local P2P: the DMA address is the bus address, and the data never reaches the root port. */
static void test_bus_addr(void **state)
{
	struct ctx *c = *state;
	struct fixture *x = &c->x;
	uint8_t *buf = pci_alloc_p2pmem(x->b, LEN);
	dma_addr_t d;

	d = dma_map_single(x->a, buf, LEN, DMA_FROM_DEVICE);
	assert_int_equal(dma_mapping_error(x->a, d), 0);
	assert_int_equal(d, pci_p2pmem_virt_to_bus(x->b, buf));
	assert_int_equal(d, pci_bus_address(x->b, 2) + (buf - (uint8_t *)pci_iomap(x->b, 2)));
	pci_fabric_reset_stats(x->f);
	assert_int_equal(pci_dma_write(x->a, d, c->pattern, LEN), 0);
	assert_memory_equal(buf, c->pattern, LEN);
	assert_int_equal(link_bytes(x->b, PCI_LINK_DOWN), LEN);
	assert_int_equal(link_total(x->rp0), 0);
	assert_int_equal(rc_stats(x->hb0).p2p_bytes, 0);
	dma_unmap_single(x->a, d, LEN, DMA_FROM_DEVICE);
	pci_free_p2pmem(x->b, buf, LEN);
}

/* Across root ports: an IOVA the IOMMU maps to the BAR's CPU address; the data crosses the root complex. */
static void test_thru_host_bridge(void **state)
{
	struct ctx *c = *state;
	struct fixture *x = &c->x;
	uint8_t *buf = pci_alloc_p2pmem(x->c, LEN);
	dma_addr_t d;

	assert_int_equal(pci_p2pdma_map_type_of(x->c, x->a, NULL, 0),
			 PCI_P2PDMA_MAP_THRU_HOST_BRIDGE);
	d = dma_map_single(x->a, buf, LEN, DMA_BIDIRECTIONAL);
	assert_int_equal(dma_mapping_error(x->a, d), 0);
	assert_int_not_equal(d, pci_p2pmem_virt_to_bus(x->c, buf));
	assert_int_equal(iommu_iova_to_phys(iommu_get_domain_for_dev(x->a), d),
			 page_to_pfn(virt_to_page(buf)) << PAGE_SHIFT);
	pci_fabric_reset_stats(x->f);
	assert_int_equal(pci_dma_write(x->a, d, c->pattern, LEN), 0);
	assert_memory_equal(buf, c->pattern, LEN);
	assert_int_equal(link_bytes(x->rp0, PCI_LINK_UP), LEN);
	assert_int_equal(link_bytes(x->rp1, PCI_LINK_DOWN), LEN);
	assert_int_equal(rc_stats(x->hb0).p2p_bytes, LEN);
	dma_unmap_single(x->a, d, LEN, DMA_BIDIRECTIONAL);
	/* Unmapped: the same DMA is now blocked. */
	assert_int_equal(pci_dma_write(x->a, d, c->pattern, 64), -EFAULT);
	pci_free_p2pmem(x->c, buf, LEN);
}

/* With ACS redirect on the switch the same-switch peer goes through the host bridge, and the counters show it. */
static void test_acs_redirect_reroutes(void **state)
{
	struct ctx *c = *state;
	struct fixture *x = &c->x;
	uint8_t *buf = pci_alloc_p2pmem(x->b, 8192);
	dma_addr_t d;

	pci_write_config_word(x->dsp0, 0x100 + PCI_ACS_CTRL, PCI_ACS_RR);
	d = dma_map_single(x->a, buf, 8192, DMA_FROM_DEVICE);
	assert_int_equal(dma_mapping_error(x->a, d), 0);
	assert_int_not_equal(d, pci_p2pmem_virt_to_bus(x->b, buf));
	pci_fabric_reset_stats(x->f);
	assert_int_equal(pci_dma_write(x->a, d, c->pattern, 8192), 0);
	assert_memory_equal(buf, c->pattern, 8192);
	assert_int_equal(link_bytes(x->rp0, PCI_LINK_UP), 8192);
	assert_int_equal(link_bytes(x->rp0, PCI_LINK_DOWN), 8192);
	dma_unmap_single(x->a, d, 8192, DMA_FROM_DEVICE);
	pci_write_config_word(x->dsp0, 0x100 + PCI_ACS_CTRL, 0);
	pci_free_p2pmem(x->b, buf, 8192);
}

/* A mixed list: system memory through the IOMMU, a switch-local P2P segment marked as a bus address. */
static void test_mixed_sg(void **state)
{
	struct ctx *c = *state;
	struct fixture *x = &c->x;
	uint8_t *sys = aligned_alloc(4096, 3 * 4096);
	uint8_t *p2p = pci_alloc_p2pmem(x->b, 4096), *thru = pci_alloc_p2pmem(x->c, 4096);
	struct scatterlist sg[3];
	int n;

	memset(sys, 0, 3 * 4096);
	sg_init_table(sg, 3);
	sg_set_buf(&sg[0], sys + 100, 5000);
	sg_set_buf(&sg[1], p2p, 4096);
	sg_set_page(&sg[2], virt_to_page(thru), 2048, 512);
	n = dma_map_sg(x->a, sg, 3, DMA_FROM_DEVICE);
	assert_int_equal(n, 3);
	assert_false(sg_dma_is_bus_address(&sg[0]));
	assert_true(sg_dma_is_bus_address(&sg[1]));
	assert_false(sg_dma_is_bus_address(&sg[2]));
	assert_int_equal(sg_dma_address(&sg[1]), pci_p2pmem_virt_to_bus(x->b, p2p));
	assert_int_equal(sg_dma_len(&sg[0]), 5000);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pci_dma_write(x->a, sg_dma_address(&sg[i]), c->pattern,
					       sg_dma_len(&sg[i])), 0);
	assert_memory_equal(sys + 100, c->pattern, 5000);
	assert_memory_equal(p2p, c->pattern, 4096);
	assert_memory_equal(thru + 512, c->pattern, 2048);
	dma_unmap_sg(x->a, sg, 3, DMA_FROM_DEVICE);
	assert_false(sg_dma_is_bus_address(&sg[1]));
	assert_int_equal(pci_dma_write(x->a, sg_dma_address(&sg[0]), c->pattern, 16), -EFAULT);
	free(sys);
	pci_free_p2pmem(x->b, p2p, 4096);
	pci_free_p2pmem(x->c, thru, 4096);
}

/* A device-private page cannot be DMA-mapped; a segment running past its map neither. */
static void test_malformed_segments(void **state)
{
	struct ctx *c = *state;
	struct fixture *x = &c->x;
	uint8_t *p2p = pci_alloc_p2pmem(x->b, 4096);
	uint8_t *bar_end = (uint8_t *)pci_iomap(x->b, 2) + (16 << 20);
	struct scatterlist sg[2];
	int sys;

	sg_init_table(sg, 2);
	sg_set_buf(&sg[0], &sys, sizeof(sys));
	sg_set_buf(&sg[1], bar_end - 4096, 8192); /* runs off the map */
	assert_int_equal(dma_map_sg(x->a, sg, 2, DMA_TO_DEVICE), -EINVAL);
	assert_int_equal(sg_dma_len(&sg[0]), 0); /* undone */
	sg_init_table(sg, 1);
	assert_int_equal(dma_map_sg(x->a, sg, 1, DMA_TO_DEVICE), -EINVAL); /* no address */
	assert_int_equal(dma_map_sg(x->a, sg, 0, DMA_TO_DEVICE), -EINVAL);
	assert_int_equal(dma_mapping_error(x->a, dma_map_single(x->a, p2p, 4096, DMA_NONE)),
			 -EINVAL);
	assert_int_equal(dma_mapping_error(x->a, dma_map_single(x->a, p2p, 0, DMA_TO_DEVICE)),
			 -EINVAL);
	pci_free_p2pmem(x->b, p2p, 4096);
}

/* A device DMAing to an address it was never given is blocked by the IOMMU and counted. */
static void test_stray_dma_blocked(void **state)
{
	struct ctx *c = *state;
	struct fixture *x = &c->x;
	uint8_t *sys = aligned_alloc(4096, 4096);
	dma_addr_t d = dma_map_single(x->a, sys, 4096, DMA_FROM_DEVICE);
	struct iommu_fault f;
	uint64_t faults = rc_stats(x->hb0).iommu_faults;

	memset(sys, 0, 4096);
	assert_int_equal(pci_dma_write(x->a, d + 4096, c->pattern, 16), -EFAULT);
	assert_int_equal(pci_dma_write(x->a, (uintptr_t)sys, c->pattern, 16), -EFAULT);
	assert_int_equal(rc_stats(x->hb0).iommu_faults, faults + 2);
	assert_true(iommu_domain_faults(iommu_get_domain_for_dev(x->a), &f) >= 2);
	assert_int_equal(f.iova, (uintptr_t)sys);
	assert_int_equal(sys[0], 0);
	dma_unmap_single(x->a, d, 4096, DMA_FROM_DEVICE);
	free(sys);
}

/* Below a host bridge the kernel does not trust, cross-port P2P fails whole with -EREMOTEIO. */
static void test_not_supported(void **state)
{
	struct pci_host_bridge_info hb = {
		.name = "hb", .domain = 0x1000, .vendor = 0x8086, .device = 0x3e30,
		.bus_offset = FIX_HB0_OFFSET, .mem_base = 0xc0000000, .mem_size = 0x1000000,
		.pref_base = 0x8000000000ULL, .pref_size = 0x10000000,
	};
	struct pci_fabric *f = pci_fabric_create();
	struct pci_host_bridge *h = pci_host_bridge_add(f, &hb);
	struct pci_dev *rp0 = pci_root_port_add(h, "rp0", 0);
	struct pci_dev *rp1 = pci_root_port_add(h, "rp1", 0);
	struct pci_endpoint_info ep = fixture_ep("client");
	struct pci_dev *client = pci_endpoint_add(rp0, &ep), *prov;
	uint8_t *sys = aligned_alloc(4096, 4096), *far;
	struct iommu_domain *dom;
	struct scatterlist sg[2];

	ep.name = "provider";
	prov = pci_endpoint_add(rp1, &ep);
	assert_int_equal(pci_fabric_enumerate(f), 0);
	assert_int_equal(pci_p2pdma_add_resource(prov, 2, 0, 0), 0);
	far = pci_alloc_p2pmem(prov, 4096);
	sg_init_table(sg, 2);
	sg_set_buf(&sg[0], sys, 4096);
	sg_set_buf(&sg[1], far, 4096);
	assert_int_equal(dma_map_sg(client, sg, 2, DMA_TO_DEVICE), -EREMOTEIO);
	assert_int_equal(sg_dma_len(&sg[0]), 0);
	dom = iommu_get_domain_for_dev(client);
	assert_non_null(dom);
	/* The system segment mapped first was undone: its IOVA no longer translates. */
	assert_int_equal(iommu_iova_to_phys(dom, sg_dma_address(&sg[0])), 0);
	assert_int_equal(dma_mapping_error(client, dma_map_single(client, far, 64, DMA_TO_DEVICE)),
			 -EREMOTEIO);
	pci_free_p2pmem(prov, far, 4096);
	pci_p2pdma_release(prov);
	pci_fabric_destroy(f);
	free(sys);
}

/* A host bridge with a non-zero bus offset: the address given to the peer is the bus address, and lands on the right page. */
static void test_bus_offset_page(void **state)
{
	struct fixture x;
	struct fixture_opts o = { .with_hb1 = true };
	uint8_t *buf;
	dma_addr_t d;
	uint64_t v = 0x0ff5e7c0ffee0000ULL;
	struct pci_dev *d2;

	assert_int_equal(fixture_build(&x, &o), 0);
	d2 = x.d;
	/* d's host bridge has offset 2^47 + 2^44; d is its own client here (distance 0). */
	assert_int_equal(pci_p2pdma_add_resource(d2, 2, 4 << 20, 8 << 20), 0);
	buf = pci_alloc_p2pmem(d2, 3 * 4096);
	pci_set_master(d2);
	d = dma_map_single(d2, buf + 2 * 4096 + 8, 8, DMA_FROM_DEVICE);
	assert_int_equal(d, pci_resource_start(d2, 2) - FIX_HB1_OFFSET +
				    (buf - (uint8_t *)pci_iomap(d2, 2)) + 2 * 4096 + 8);
	assert_int_equal(pci_dma_write(d2, d, &v, 8), 0);
	assert_memory_equal(buf + 2 * 4096 + 8, &v, 8);
	pci_free_p2pmem(d2, buf, 3 * 4096);
	pci_p2pdma_release(d2);
	fixture_destroy(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bus_addr),
		cmocka_unit_test(test_thru_host_bridge),
		cmocka_unit_test(test_acs_redirect_reroutes),
		cmocka_unit_test(test_mixed_sg),
		cmocka_unit_test(test_malformed_segments),
		cmocka_unit_test(test_stray_dma_blocked),
	};
	const struct CMUnitTest standalone[] = {
		cmocka_unit_test(test_not_supported),
		cmocka_unit_test(test_bus_offset_page),
	};

	return cmocka_run_group_tests(tests, setup, teardown) |
	       cmocka_run_group_tests(standalone, NULL, NULL);
}
