// SPDX-License-Identifier: MIT
/*
 * Routing of peer and host transactions, proved by the link counters:
 * switch-local peer traffic never reaches the root complex, traffic between
 * root ports crosses it, host memory is reached through the IOMMU, a root
 * complex that refuses peer traffic blocks it, and requests never cross
 * 4 KiB.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "fabric-fixture.h"

#define LEN (256 << 10)

struct ctx {
	struct fixture x;
	struct iommu_domain *dom;
	uint8_t *pattern;
};

static int setup_opts(void **state, const struct fixture_opts *o)
{
	struct ctx *c = calloc(1, sizeof(*c));

	quiet_logs();
	if (!c || fixture_build(&c->x, o))
		return -1;
	c->dom = iommu_domain_alloc();
	if (!c->dom || iommu_attach_device(c->dom, c->x.a))
		return -1;
	c->pattern = malloc(LEN);
	for (size_t i = 0; i < LEN; i++)
		c->pattern[i] = (uint8_t)(i * 7 + 3);
	pci_set_master(c->x.a);
	pci_set_master(c->x.b);
	*state = c;
	return 0;
}

static int setup(void **state)
{
	struct fixture_opts o = { .with_hb1 = true };

	return setup_opts(state, &o);
}

static int setup_denied(void **state)
{
	struct fixture_opts o = { .with_hb1 = true, .hb0_denies_p2p = true };

	return setup_opts(state, &o);
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	iommu_detach_device(c->dom, c->x.a);
	iommu_domain_free(c->dom);
	fixture_destroy(&c->x);
	free(c->pattern);
	free(c);
	return 0;
}

/* A write to a peer under the same switch lands in its BAR and never touches the root port or root complex. */
static void test_switch_local_write(void **state)
{
	struct ctx *c = *state;
	struct fixture *x = &c->x;
	uint8_t *bmem = pci_iomap(x->b, 2);

	pci_fabric_reset_stats(x->f);
	assert_int_equal(pci_dma_write(x->a, pci_bus_address(x->b, 2) + 4096, c->pattern, LEN), 0);
	assert_memory_equal(bmem + 4096, c->pattern, LEN);
	assert_int_equal(link_bytes(x->a, PCI_LINK_UP), LEN);
	assert_int_equal(link_bytes(x->dsp0, PCI_LINK_UP), LEN);
	assert_int_equal(link_bytes(x->dsp1, PCI_LINK_DOWN), LEN);
	assert_int_equal(link_bytes(x->b, PCI_LINK_DOWN), LEN);
	assert_int_equal(link_total(x->sw0), 0);
	assert_int_equal(link_total(x->rp0), 0);
	assert_int_equal(link_total(x->c), 0);
	assert_int_equal(rc_stats(x->hb0).p2p_bytes, 0);
	assert_int_equal(rc_stats(x->hb0).mem_bytes[0] + rc_stats(x->hb0).mem_bytes[1], 0);
}

/* A read from a peer brings the data back down the initiator's link. */
static void test_switch_local_read(void **state)
{
	struct ctx *c = *state;
	struct fixture *x = &c->x;
	uint8_t *bmem = pci_iomap(x->b, 2);
	uint8_t *buf = calloc(1, LEN);

	memcpy(bmem, c->pattern, LEN);
	pci_fabric_reset_stats(x->f);
	assert_int_equal(pci_dma_read(x->a, pci_bus_address(x->b, 2), buf, LEN), 0);
	assert_memory_equal(buf, c->pattern, LEN);
	assert_int_equal(link_bytes(x->a, PCI_LINK_DOWN), LEN);
	assert_int_equal(link_bytes(x->a, PCI_LINK_UP), 0);
	assert_int_equal(link_bytes(x->b, PCI_LINK_UP), LEN);
	assert_int_equal(link_total(x->rp0), 0);
	free(buf);
}

/* Between root ports the request crosses the root complex; the IOMMU maps the peer's CPU address. */
static void test_across_root_ports(void **state)
{
	struct ctx *c = *state;
	struct fixture *x = &c->x;
	const uint64_t iova = 0x10000000;
	uint8_t *cmem = pci_iomap(x->c, 2);
	struct pci_rc_stats rc;

	assert_int_equal(iommu_map(c->dom, iova, pci_resource_start(x->c, 2), LEN,
				   IOMMU_READ | IOMMU_WRITE), 0);
	pci_fabric_reset_stats(x->f);
	assert_int_equal(pci_dma_write(x->a, iova, c->pattern, LEN), 0);
	assert_memory_equal(cmem, c->pattern, LEN);
	assert_int_equal(link_bytes(x->sw0, PCI_LINK_UP), LEN);
	assert_int_equal(link_bytes(x->rp0, PCI_LINK_UP), LEN);
	assert_int_equal(link_bytes(x->rp1, PCI_LINK_DOWN), LEN);
	assert_int_equal(link_bytes(x->c, PCI_LINK_DOWN), LEN);
	assert_int_equal(link_total(x->b), 0);
	rc = rc_stats(x->hb0);
	assert_int_equal(rc.p2p_bytes, LEN);
	assert_int_equal(rc.mem_bytes[0], 0);
	/* Using the peer's bus address directly is not what the IOMMU maps: blocked. */
	assert_int_equal(pci_dma_write(x->a, pci_bus_address(x->c, 2), c->pattern, 64), -EFAULT);
	assert_int_equal(iommu_unmap(c->dom, iova, LEN), LEN);
}

/* Host memory is reached through the IOMMU, counted at the root complex per direction. */
static void test_host_memory(void **state)
{
	struct ctx *c = *state;
	struct fixture *x = &c->x;
	const uint64_t iova = 0x20000000;
	uint8_t *host = aligned_alloc(4096, LEN), *back = malloc(LEN);
	struct pci_rc_stats rc;

	memset(host, 0, LEN);
	assert_int_equal(iommu_map(c->dom, iova, (uintptr_t)host, LEN, IOMMU_READ | IOMMU_WRITE),
			 0);
	pci_fabric_reset_stats(x->f);
	assert_int_equal(pci_dma_write(x->a, iova, c->pattern, LEN), 0);
	assert_memory_equal(host, c->pattern, LEN);
	assert_int_equal(pci_dma_read(x->a, iova + 100, back, 1000), 0);
	assert_memory_equal(back, c->pattern + 100, 1000);
	rc = rc_stats(x->hb0);
	assert_int_equal(rc.mem_bytes[0], LEN);
	assert_int_equal(rc.mem_bytes[1], 1000);
	assert_int_equal(rc.p2p_bytes, 0);
	assert_int_equal(link_bytes(x->rp0, PCI_LINK_UP), LEN);
	assert_int_equal(link_bytes(x->rp0, PCI_LINK_DOWN), 1000);
	iommu_unmap(c->dom, iova, LEN);
	free(host);
	free(back);
}

/* Peer traffic between two host bridges crosses both root complexes. */
static void test_across_host_bridges(void **state)
{
	struct ctx *c = *state;
	struct fixture *x = &c->x;
	const uint64_t iova = 0x30000000;

	assert_int_equal(iommu_map(c->dom, iova, pci_resource_start(x->d, 2), 65536,
				   IOMMU_WRITE), 0);
	pci_fabric_reset_stats(x->f);
	assert_int_equal(pci_dma_write(x->a, iova, c->pattern, 65536), 0);
	assert_memory_equal(pci_iomap(x->d, 2), c->pattern, 65536);
	assert_int_equal(rc_stats(x->hb0).p2p_bytes, 65536);
	assert_int_equal(rc_stats(x->hb1).p2p_bytes, 65536);
	assert_int_equal(link_bytes(x->rp2, PCI_LINK_DOWN), 65536);
	iommu_unmap(c->dom, iova, 65536);
}

/* A root complex that does not allow peer traffic refuses it: -EREMOTEIO, nothing written. */
static void test_p2p_denied(void **state)
{
	struct ctx *c = *state;
	struct fixture *x = &c->x;
	const uint64_t iova = 0x10000000;
	uint8_t *cmem = pci_iomap(x->c, 2);

	memset(cmem, 0, 4096);
	assert_int_equal(iommu_map(c->dom, iova, pci_resource_start(x->c, 2), 4096, IOMMU_WRITE),
			 0);
	pci_fabric_reset_stats(x->f);
	assert_int_equal(pci_dma_write(x->a, iova, c->pattern, 4096), -EREMOTEIO);
	assert_int_equal(cmem[0], 0);
	assert_int_equal(rc_stats(x->hb0).unsupported, 1);
	assert_int_equal(link_total(x->c), 0);
	/* Below the switch nothing involves the root complex: still allowed. */
	assert_int_equal(pci_dma_write(x->a, pci_bus_address(x->b, 2), c->pattern, 4096), 0);
	/* To another host bridge: refused as well. */
	assert_int_equal(iommu_map(c->dom, iova + 4096, pci_resource_start(x->d, 2), 4096,
				   IOMMU_WRITE), 0);
	assert_int_equal(pci_dma_write(x->a, iova + 4096, c->pattern, 16), -EREMOTEIO);
}

/* Without bus mastering, on the device or on a bridge it needs, DMA fails with -EPERM. */
static void test_bus_master_off(void **state)
{
	struct ctx *c = *state;
	struct fixture *x = &c->x;
	uint64_t target = pci_bus_address(x->b, 2);
	uint16_t cmd;

	pci_clear_master(x->a);
	assert_int_equal(pci_dma_write(x->a, target, c->pattern, 16), -EPERM);
	pci_set_master(x->a);
	pci_read_config_word(x->dsp0, PCI_COMMAND, &cmd);
	pci_write_config_word(x->dsp0, PCI_COMMAND, cmd & ~PCI_COMMAND_MASTER);
	assert_int_equal(pci_dma_write(x->a, target, c->pattern, 16), -EPERM);
	pci_write_config_word(x->dsp0, PCI_COMMAND, cmd);
	assert_int_equal(pci_dma_write(x->a, target, c->pattern, 16), 0);
	/* Memory decode off on the target: it no longer claims; the hole is unsupported. */
	pci_read_config_word(x->b, PCI_COMMAND, &cmd);
	pci_write_config_word(x->b, PCI_COMMAND, cmd & ~PCI_COMMAND_MEMORY);
	assert_int_equal(pci_dma_write(x->a, target, c->pattern, 16), -EREMOTEIO);
	pci_write_config_word(x->b, PCI_COMMAND, cmd);
}

/* An address inside a switch's window that no BAR claims is an unsupported request. */
static void test_hole_unclaimed(void **state)
{
	struct ctx *c = *state;
	struct fixture *x = &c->x;
	struct pci_route r;
	uint16_t base;
	uint64_t hole;

	/* dsp1's non-prefetchable window is 1 MiB; b's BAR0 is 64 KiB of it. */
	pci_read_config_word(x->dsp1, PCI_MEMORY_BASE, &base);
	hole = ((uint64_t)(base & 0xfff0) << 16) + (512 << 10);
	assert_true(hole < pci_bus_address(x->b, 0) || hole >= pci_bus_address(x->b, 0) + 65536);
	assert_int_equal(pci_route(x->a, hole, 4, true, &r), -EREMOTEIO);
	assert_int_equal(r.kind, PCI_ROUTE_UNCLAIMED);
	assert_int_equal(pci_dma_write(x->a, hole, c->pattern, 4), -EREMOTEIO);
}

/* pci_route() names every link of a switch-local path without moving data. */
static void test_route_hops(void **state)
{
	struct ctx *c = *state;
	struct fixture *x = &c->x;
	struct pci_route r;

	pci_fabric_reset_stats(x->f);
	assert_int_equal(pci_route(x->a, pci_bus_address(x->b, 2) + 10, 1 << 30, false, &r), 0);
	assert_int_equal(r.kind, PCI_ROUTE_PEER);
	assert_ptr_equal(r.target, x->b);
	assert_int_equal(r.bar, 2);
	assert_int_equal(r.offset, 10);
	assert_int_equal(r.len, (16 << 20) - 10); /* clipped at the BAR's end */
	assert_false(r.through_rc);
	assert_int_equal(r.nr_hops, 4);
	assert_ptr_equal(r.hop[0].dev, x->a);
	assert_int_equal(r.hop[0].dir, PCI_LINK_UP);
	assert_ptr_equal(r.hop[1].dev, x->dsp0);
	assert_ptr_equal(r.hop[2].dev, x->dsp1);
	assert_int_equal(r.hop[2].dir, PCI_LINK_DOWN);
	assert_ptr_equal(r.hop[3].dev, x->b);
	assert_int_equal(link_total(x->a), 0);
}

/* Requests are split at 4 KiB boundaries: an unaligned 16 KiB write is five requests. */
static void test_request_count(void **state)
{
	struct ctx *c = *state;
	struct fixture *x = &c->x;
	struct pci_link_stats s;
	uint64_t t = pci_bus_address(x->b, 2);
	uint8_t *bmem = pci_iomap(x->b, 2);

	pci_fabric_reset_stats(x->f);
	assert_int_equal(pci_dma_write(x->a, t, c->pattern, 16384), 0);
	pci_link_stats_get(x->a, &s);
	assert_int_equal(s.tlps[PCI_LINK_UP], 4);
	assert_int_equal(pci_dma_write(x->a, t + 0x800, c->pattern, 16384), 0);
	pci_link_stats_get(x->a, &s);
	assert_int_equal(s.tlps[PCI_LINK_UP], 9);
	/*
	 * A DMA that runs past the end of the BAR: the first 8 bytes land, the
	 * rest leaves the switch's windows, goes up to the root complex and the
	 * IOMMU blocks it, since nobody mapped that address for a.
	 */
	memset(bmem + (16 << 20) - 8, 0, 8);
	assert_int_equal(pci_dma_write(x->a, t + (16 << 20) - 8, c->pattern, 16), -EFAULT);
	assert_memory_equal(bmem + (16 << 20) - 8, c->pattern, 8);
}

/* A device reaching its own BAR puts nothing on a link. */
static void test_self_access(void **state)
{
	struct ctx *c = *state;
	struct fixture *x = &c->x;

	pci_fabric_reset_stats(x->f);
	assert_int_equal(pci_dma_write(x->a, pci_bus_address(x->a, 2), c->pattern, 4096), 0);
	assert_memory_equal(pci_iomap(x->a, 2), c->pattern, 4096);
	assert_int_equal(link_total(x->a), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_switch_local_write),
		cmocka_unit_test(test_switch_local_read),
		cmocka_unit_test(test_across_root_ports),
		cmocka_unit_test(test_host_memory),
		cmocka_unit_test(test_across_host_bridges),
		cmocka_unit_test(test_bus_master_off),
		cmocka_unit_test(test_hole_unclaimed),
		cmocka_unit_test(test_route_hops),
		cmocka_unit_test(test_request_count),
		cmocka_unit_test(test_self_access),
	};
	const struct CMUnitTest denied[] = {
		cmocka_unit_test(test_p2p_denied),
	};

	return cmocka_run_group_tests(tests, setup, teardown) |
	       cmocka_run_group_tests(denied, setup_denied, teardown);
}
