// SPDX-License-Identifier: MIT
/*
 * ACS redirect on a switch downstream port forces peer requests up through
 * the root complex: a bus address then meets the IOMMU and is blocked,
 * while an IOVA the IOMMU maps to the peer's CPU address arrives, having
 * crossed the root port twice.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "fabric-fixture.h"

struct ctx {
	struct fixture x;
	struct iommu_domain *dom;
};

static int setup_opts(void **state, const struct fixture_opts *o)
{
	struct ctx *c = calloc(1, sizeof(*c));

	quiet_logs();
	if (!c || fixture_build(&c->x, o))
		return -1;
	c->dom = iommu_domain_alloc();
	if (iommu_attach_device(c->dom, c->x.a))
		return -1;
	pci_set_master(c->x.a);
	*state = c;
	return 0;
}

static int setup_rr(void **state)
{
	struct fixture_opts o = { .acs = PCI_ACS_RR };

	return setup_opts(state, &o);
}

static int setup_rr_denied(void **state)
{
	struct fixture_opts o = { .acs = PCI_ACS_RR, .hb0_denies_p2p = true };

	return setup_opts(state, &o);
}

static int setup_plain(void **state)
{
	struct fixture_opts o = { 0 };

	return setup_opts(state, &o);
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	iommu_detach_device(c->dom, c->x.a);
	iommu_domain_free(c->dom);
	fixture_destroy(&c->x);
	free(c);
	return 0;
}

static void set_acs(struct pci_dev *port, uint16_t bits)
{
	assert_int_equal(pci_write_config_word(port, 0x100 + PCI_ACS_CTRL, bits), 0);
}

/* With RR set, a peer's bus address goes to the root complex and the IOMMU blocks it. */
static void test_bus_address_blocked(void **state)
{
	struct ctx *c = *state;
	struct fixture *x = &c->x;
	uint8_t data[64] = { 1, 2, 3 };
	uint8_t *bmem = pci_iomap(x->b, 2);
	struct iommu_fault last;

	memset(bmem, 0, sizeof(data));
	pci_fabric_reset_stats(x->f);
	assert_int_equal(pci_dma_write(x->a, pci_bus_address(x->b, 2), data, sizeof(data)),
			 -EFAULT);
	assert_int_equal(bmem[0], 0);
	assert_int_equal(link_bytes(x->dsp1, PCI_LINK_DOWN), 0);
	assert_int_equal(rc_stats(x->hb0).iommu_faults, 1);
	assert_int_equal(iommu_domain_faults(c->dom, &last), 1);
	assert_int_equal(last.iova, pci_bus_address(x->b, 2));
	assert_int_equal(last.prot, IOMMU_WRITE);
	assert_string_equal(last.requester, pci_name(x->a));
}

/* With RR set and the peer mapped in the IOMMU, data goes up and back down the same root port. */
static void test_through_host_bridge(void **state)
{
	struct ctx *c = *state;
	struct fixture *x = &c->x;
	const uint64_t iova = 0x40000000;
	uint8_t data[8192];
	struct pci_route r;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i ^ 0x5a);
	assert_int_equal(iommu_map(c->dom, iova, pci_resource_start(x->b, 2), 8192, IOMMU_WRITE),
			 0);
	pci_fabric_reset_stats(x->f);
	assert_int_equal(pci_dma_write(x->a, iova, data, sizeof(data)), 0);
	assert_memory_equal(pci_iomap(x->b, 2), data, sizeof(data));
	assert_int_equal(link_bytes(x->rp0, PCI_LINK_UP), sizeof(data));
	assert_int_equal(link_bytes(x->rp0, PCI_LINK_DOWN), sizeof(data));
	assert_int_equal(link_bytes(x->sw0, PCI_LINK_UP), sizeof(data));
	assert_int_equal(link_bytes(x->sw0, PCI_LINK_DOWN), sizeof(data));
	assert_int_equal(rc_stats(x->hb0).p2p_bytes, sizeof(data));
	assert_int_equal(pci_route(x->a, iova, 16, true, &r), 0);
	assert_true(r.through_rc);
	assert_int_equal(r.cpu_addr, pci_resource_start(x->b, 2));
	iommu_unmap(c->dom, iova, 8192);
}

/* With RR set on a root complex that refuses peer traffic, the mapped path is refused too. */
static void test_redirect_refused(void **state)
{
	struct ctx *c = *state;
	struct fixture *x = &c->x;
	const uint64_t iova = 0x40000000;
	uint8_t data[16] = { 9 };

	assert_int_equal(iommu_map(c->dom, iova, pci_resource_start(x->b, 2), 4096, IOMMU_WRITE),
			 0);
	assert_int_equal(pci_dma_write(x->a, iova, data, sizeof(data)), -EREMOTEIO);
	assert_int_equal(rc_stats(x->hb0).unsupported, 1);
}

/* CR and EC redirect like RR; clearing the bits brings switch-local routing back. */
static void test_each_redirect_bit(void **state)
{
	struct ctx *c = *state;
	struct fixture *x = &c->x;
	const uint16_t bits[] = { PCI_ACS_RR, PCI_ACS_CR, PCI_ACS_EC };
	uint64_t t = pci_bus_address(x->b, 2);
	uint32_t v = 0x12345678;

	assert_int_equal(pci_dma_write(x->a, t, &v, 4), 0);
	for (size_t i = 0; i < 3; i++) {
		set_acs(x->dsp0, bits[i]);
		assert_int_equal(pci_dma_write(x->a, t, &v, 4), -EFAULT);
		set_acs(x->dsp0, 0);
		assert_int_equal(pci_dma_write(x->a, t, &v, 4), 0);
	}
	/* Other ACS bits (source validation, upstream forwarding) do not redirect. */
	set_acs(x->dsp0, PCI_ACS_SV | PCI_ACS_UF);
	assert_int_equal(pci_dma_write(x->a, t, &v, 4), 0);
	set_acs(x->dsp0, 0);
}

/* ACS acts at the ingress port: RR on the target's port does not redirect requests entering elsewhere. */
static void test_ingress_only(void **state)
{
	struct ctx *c = *state;
	struct fixture *x = &c->x;
	uint32_t v = 0xabcdef01;

	set_acs(x->dsp1, PCI_ACS_RR);
	pci_fabric_reset_stats(x->f);
	assert_int_equal(pci_dma_write(x->a, pci_bus_address(x->b, 2), &v, 4), 0);
	assert_int_equal(link_total(x->rp0), 0);
	/* b's own requests enter at dsp1 and are redirected. */
	pci_set_master(x->b);
	assert_int_equal(pci_dma_write(x->b, pci_bus_address(x->a, 2), &v, 4), -EFAULT);
	set_acs(x->dsp1, 0);
}

int main(void)
{
	const struct CMUnitTest rr[] = {
		cmocka_unit_test(test_bus_address_blocked),
		cmocka_unit_test(test_through_host_bridge),
	};
	const struct CMUnitTest denied[] = {
		cmocka_unit_test(test_redirect_refused),
	};
	const struct CMUnitTest plain[] = {
		cmocka_unit_test(test_each_redirect_bit),
		cmocka_unit_test(test_ingress_only),
	};

	return cmocka_run_group_tests(rr, setup_rr, teardown) |
	       cmocka_run_group_tests(denied, setup_rr_denied, teardown) |
	       cmocka_run_group_tests(plain, setup_plain, teardown);
}
