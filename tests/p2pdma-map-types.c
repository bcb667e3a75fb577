// SPDX-License-Identifier: MIT
/*
 * Map types and distances between P2P providers and clients, on
 * purpose-built topologies, as the kernel computes them: same function,
 * functions of one device, one switch, ACS redirect, root ports of one
 * host bridge, two host bridges, allowed and unlisted host bridges; the
 * reasons given; the cache following ACS changes; the closest-provider
 * search.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <hetmem/pci-p2pdma.h>
#include "fabric-fixture.h"

/*
 *  hbA (ids from @a_dev)            hbB (ids from @b_dev), only if @b_dev
 *   +- rp0 -- sw0 -+- sw0.0 -- e0 (functions 0 and 1: e0, e0f1)
 *   |              +- sw0.1 -- e1
 *   +- rp1 -------------------- e2
 *                                   +- rp2 -- e3
 */
struct topo {
	struct pci_fabric *f;
	struct pci_host_bridge *hba, *hbb;
	struct pci_dev *rp0, *rp1, *rp2, *sw0, *dsp0, *dsp1, *e0, *e0f1, *e1, *e2, *e3;
};

static void build(struct topo *t, uint16_t a_dev, uint16_t b_dev, uint16_t acs)
{
	struct pci_host_bridge_info hb = {
		.name = "hbA", .domain = 0x1000, .vendor = 0x8086, .device = a_dev,
		.p2p_allowed = true, .bus_offset = FIX_HB0_OFFSET,
		.mem_base = 0xc0000000, .mem_size = 0x10000000,
		.pref_base = 0x8000000000ULL, .pref_size = 0x100000000ULL,
	};
	struct pci_endpoint_info ep;

	memset(t, 0, sizeof(*t));
	t->f = pci_fabric_create();
	t->hba = pci_host_bridge_add(t->f, &hb);
	t->rp0 = pci_root_port_add(t->hba, "rp0", 0);
	t->rp1 = pci_root_port_add(t->hba, "rp1", 0);
	t->sw0 = pci_switch_add(t->rp0, "sw0", 2, acs);
	t->dsp0 = pci_switch_port(t->sw0, 0);
	t->dsp1 = pci_switch_port(t->sw0, 1);
	ep = fixture_ep("e0");
	t->e0 = pci_endpoint_add(t->dsp0, &ep);
	ep = fixture_ep("e0f1");
	ep.function = 1;
	t->e0f1 = pci_endpoint_add(t->dsp0, &ep);
	ep = fixture_ep("e1");
	t->e1 = pci_endpoint_add(t->dsp1, &ep);
	ep = fixture_ep("e2");
	t->e2 = pci_endpoint_add(t->rp1, &ep);
	if (b_dev) {
		hb.name = "hbB";
		hb.domain = 0x1001;
		hb.device = b_dev;
		hb.bus_offset = FIX_HB1_OFFSET;
		t->hbb = pci_host_bridge_add(t->f, &hb);
		t->rp2 = pci_root_port_add(t->hbb, "rp2", 0);
		ep = fixture_ep("e3");
		t->e3 = pci_endpoint_add(t->rp2, &ep);
	}
	assert_int_equal(pci_fabric_enumerate(t->f), 0);
}

static enum pci_p2pdma_map_type type_of(struct pci_dev *p, struct pci_dev *c, char *why)
{
	return pci_p2pdma_map_type_of(p, c, why, why ? 512 : 0);
}

/* A function is its own peer: distance 0, bus address. */
static void test_same_function(void **state)
{
	struct topo t;

	build(&t, 0x09a2, 0, 0);
	assert_int_equal(pci_p2pdma_distance(t.e0, t.e0, false), 0);
	assert_int_equal(type_of(t.e0, t.e0, NULL), PCI_P2PDMA_MAP_BUS_ADDR);
	pci_fabric_destroy(t.f);
}

/* Two functions of one device: distance 2, bus address. */
static void test_functions_of_one_device(void **state)
{
	struct topo t;

	build(&t, 0x09a2, 0, 0);
	assert_int_equal(pci_p2pdma_distance(t.e0, t.e0f1, false), 2);
	assert_int_equal(type_of(t.e0, t.e0f1, NULL), PCI_P2PDMA_MAP_BUS_ADDR);
	pci_fabric_destroy(t.f);
}

/* Devices below one switch without ACS redirect: distance 4, bus address, no reason to give. */
static void test_same_switch(void **state)
{
	struct topo t;
	char why[512];

	build(&t, 0x09a2, 0, 0);
	assert_int_equal(pci_p2pdma_distance(t.e0, t.e1, false), 4);
	assert_int_equal(type_of(t.e0, t.e1, why), PCI_P2PDMA_MAP_BUS_ADDR);
	assert_string_equal(why, "");
	pci_fabric_destroy(t.f);
}

/* ACS redirect on the switch ports: through the host bridge if it is allowed; the reason names the ports. */
static void test_acs_redirect_allowed(void **state)
{
	struct topo t;
	char why[512], want[64];

	build(&t, 0x09a2, 0, PCI_ACS_RR);
	assert_int_equal(type_of(t.e0, t.e1, why), PCI_P2PDMA_MAP_THRU_HOST_BRIDGE);
	assert_int_equal(pci_p2pdma_distance(t.e0, t.e1, false), 4);
	snprintf(want, sizeof(want), "pci=disable_acs_redir=%s;", pci_name(t.dsp0));
	assert_non_null(strstr(why, want));
	assert_non_null(strstr(why, pci_name(t.dsp1)));
	assert_non_null(strstr(why, "ACS redirect"));
	pci_fabric_destroy(t.f);
}

/* ACS redirect below a host bridge not on the whitelist: not supported, distance -1, both causes named. */
static void test_acs_redirect_unlisted(void **state)
{
	struct topo t;
	char why[512];

	build(&t, 0x3e30, 0, PCI_ACS_CR);
	assert_int_equal(type_of(t.e0, t.e1, why), PCI_P2PDMA_MAP_NOT_SUPPORTED);
	assert_int_equal(pci_p2pdma_distance(t.e0, t.e1, false), -1);
	assert_non_null(strstr(why, "ACS redirect"));
	assert_non_null(strstr(why, "8086:3e30"));
	assert_non_null(strstr(why, "not in the P2PDMA whitelist"));
	pci_fabric_destroy(t.f);
}

/* Across root ports of one host bridge: through it when allowed, with the full hop count. */
static void test_across_root_ports(void **state)
{
	struct topo t;
	char why[512];

	build(&t, 0x09a2, 0, 0);
	assert_int_equal(type_of(t.e0, t.e2, why), PCI_P2PDMA_MAP_THRU_HOST_BRIDGE);
	/* e0, sw0.0, sw0, rp0 up; e2, rp1 */
	assert_int_equal(pci_p2pdma_distance(t.e0, t.e2, false), 6);
	assert_non_null(strstr(why, "share no upstream bridge"));
	pci_fabric_destroy(t.f);

	/* Entries that allow traffic only within one host bridge allow this. */
	build(&t, 0x3c00, 0, 0);
	assert_int_equal(type_of(t.e0, t.e2, NULL), PCI_P2PDMA_MAP_THRU_HOST_BRIDGE);
	pci_fabric_destroy(t.f);

	build(&t, 0x3e30, 0, 0);
	assert_int_equal(type_of(t.e0, t.e2, why), PCI_P2PDMA_MAP_NOT_SUPPORTED);
	assert_non_null(strstr(why, "hbA"));
	pci_fabric_destroy(t.f);
}

/* Across two host bridges: both must be listed, and not as same-host-bridge-only entries. */
static void test_across_host_bridges(void **state)
{
	struct topo t;
	char why[512];

	build(&t, 0x09a2, 0x2030, 0);
	assert_int_equal(type_of(t.e0, t.e3, NULL), PCI_P2PDMA_MAP_THRU_HOST_BRIDGE);
	assert_int_equal(pci_p2pdma_distance(t.e3, t.e0, false), 6);
	pci_fabric_destroy(t.f);

	build(&t, 0x09a2, 0x3c01, 0);
	assert_int_equal(type_of(t.e0, t.e3, why), PCI_P2PDMA_MAP_NOT_SUPPORTED);
	assert_non_null(strstr(why, "only between its own root ports"));
	pci_fabric_destroy(t.f);

	build(&t, 0x09a2, 0x1234, 0);
	assert_int_equal(type_of(t.e3, t.e0, why), PCI_P2PDMA_MAP_NOT_SUPPORTED);
	assert_non_null(strstr(why, "hbB"));
	pci_fabric_destroy(t.f);
}

/* A cached answer follows ACS changes made after it was computed. */
static void test_cache_follows_acs(void **state)
{
	struct topo t;

	build(&t, 0x3e30, 0, 0);
	assert_int_equal(pci_p2pdma_add_resource(t.e1, 2, 0, 0), 0);
	assert_int_equal(type_of(t.e1, t.e0, NULL), PCI_P2PDMA_MAP_BUS_ADDR);
	assert_int_equal(type_of(t.e1, t.e0, NULL), PCI_P2PDMA_MAP_BUS_ADDR);
	pci_write_config_word(t.dsp1, 0x100 + PCI_ACS_CTRL, PCI_ACS_EC);
	assert_int_equal(type_of(t.e1, t.e0, NULL), PCI_P2PDMA_MAP_NOT_SUPPORTED);
	pci_write_config_word(t.dsp1, 0x100 + PCI_ACS_CTRL, 0);
	assert_int_equal(type_of(t.e1, t.e0, NULL), PCI_P2PDMA_MAP_BUS_ADDR);
	pci_p2pdma_release(t.e1);
	pci_fabric_destroy(t.f);
}

/* The distance to many clients is their sum, or -1 as soon as one cannot reach the provider. */
static void test_distance_many(void **state)
{
	struct topo t;
	struct pci_dev *clients[3];

	build(&t, 0x3e30, 0, 0);
	clients[0] = t.e0;
	clients[1] = t.e0f1;
	assert_int_equal(pci_p2pdma_distance_many(t.e1, clients, 2, false), 8);
	clients[2] = t.e2;
	assert_int_equal(pci_p2pdma_distance_many(t.e1, clients, 3, true), -1);
	assert_int_equal(pci_p2pdma_distance_many(t.e1, clients, 0, false), -1);
	clients[0] = NULL;
	assert_int_equal(pci_p2pdma_distance_many(t.e1, clients, 1, false), -1);
	pci_fabric_destroy(t.f);
}

/* The closest published provider wins; unpublished ones and those without p2pmem are skipped. */
static void test_find_closest(void **state)
{
	struct topo t;
	struct pci_dev *clients[2];

	build(&t, 0x09a2, 0, 0);
	assert_null(pci_p2pmem_find(t.e0));
	assert_int_equal(pci_p2pdma_add_resource(t.e1, 2, 0, 0), 0);
	assert_int_equal(pci_p2pdma_add_resource(t.e2, 2, 0, 0), 0);
	assert_null(pci_p2pmem_find(t.e0)); /* nothing published */
	pci_p2pmem_publish(t.e2, true);
	assert_ptr_equal(pci_p2pmem_find(t.e0), t.e2);
	pci_p2pmem_publish(t.e1, true);
	assert_ptr_equal(pci_p2pmem_find(t.e0), t.e1);
	clients[0] = t.e0;
	clients[1] = t.e2;
	/* e1: 4 + 6 = 10; e2: 6 + 0 = 6 */
	assert_ptr_equal(pci_p2pmem_find_many(clients, 2), t.e2);
	pci_p2pdma_release(t.e1);
	pci_p2pdma_release(t.e2);
	assert_null(pci_p2pmem_find(t.e0));
	pci_fabric_destroy(t.f);
}

/* Equally close providers are picked at random: over many tries both come up. */
static void test_find_ties_random(void **state)
{
	struct topo t;
	int got_e0 = 0, got_e0f1 = 0;

	build(&t, 0x09a2, 0, 0);
	assert_int_equal(pci_p2pdma_add_resource(t.e0, 2, 0, 0), 0);
	assert_int_equal(pci_p2pdma_add_resource(t.e0f1, 2, 0, 0), 0);
	pci_p2pmem_publish(t.e0, true);
	pci_p2pmem_publish(t.e0f1, true);
	for (int i = 0; i < 200; i++) {
		struct pci_dev *p = pci_p2pmem_find(t.e1);

		got_e0 += p == t.e0;
		got_e0f1 += p == t.e0f1;
	}
	assert_int_equal(got_e0 + got_e0f1, 200);
	assert_true(got_e0 > 0 && got_e0f1 > 0);
	pci_p2pdma_release(t.e0);
	pci_p2pdma_release(t.e0f1);
	pci_fabric_destroy(t.f);
}

/* A machine whose root bus starts with a root port, no host bridge function: the port's IDs decide. */
static void test_no_host_function(void **state)
{
	struct pci_host_bridge_info hb = {
		.name = "hb", .domain = 0x1000, .vendor = 0x8086, .device = 0x09a2,
		.no_host_function = true, .p2p_allowed = true, .bus_offset = FIX_HB0_OFFSET,
		.mem_base = 0xc0000000, .mem_size = 0x1000000,
		.pref_base = 0x8000000000ULL, .pref_size = 0x10000000,
	};
	struct pci_fabric *f = pci_fabric_create();
	struct pci_host_bridge *h = pci_host_bridge_add(f, &hb);
	struct pci_dev *rp0 = pci_root_port_add(h, "rp0", 0), *rp1 = pci_root_port_add(h, "rp1", 0);
	struct pci_endpoint_info ep = fixture_ep("x");
	struct pci_dev *x = pci_endpoint_add(rp0, &ep), *y;
	char why[512];

	ep.name = "y";
	y = pci_endpoint_add(rp1, &ep);
	assert_int_equal(pci_fabric_enumerate(f), 0);
	assert_null(pci_host_bridge_dev(h));
	/* rp0 is hetmem's own port (4854:8004), not on the list. */
	assert_int_equal(type_of(x, y, why), PCI_P2PDMA_MAP_NOT_SUPPORTED);
	assert_non_null(strstr(why, "4854:8004"));
	pci_fabric_destroy(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_function),
		cmocka_unit_test(test_functions_of_one_device),
		cmocka_unit_test(test_same_switch),
		cmocka_unit_test(test_acs_redirect_allowed),
		cmocka_unit_test(test_acs_redirect_unlisted),
		cmocka_unit_test(test_across_root_ports),
		cmocka_unit_test(test_across_host_bridges),
		cmocka_unit_test(test_cache_follows_acs),
		cmocka_unit_test(test_distance_many),
		cmocka_unit_test(test_find_closest),
		cmocka_unit_test(test_find_ties_random),
		cmocka_unit_test(test_no_host_function),
	};

	quiet_logs();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
