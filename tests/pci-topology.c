// SPDX-License-Identifier: MIT
/*
 * Building a fabric: bus numbering, device numbers, port types, the tree
 * as configuration space describes it, and the errors the builder returns.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <cmocka.h>

#include "fabric-fixture.h"

static int setup(void **state)
{
	static struct fixture x;
	struct fixture_opts o = { .with_hb1 = true };

	quiet_logs();
	if (fixture_build(&x, &o))
		return -1;
	*state = &x;
	return 0;
}

static int teardown(void **state)
{
	fixture_destroy(*state);
	return 0;
}

/* Bus numbers are assigned depth first and every function gets the address PCIe gives it. */
static void test_addresses(void **state)
{
	struct fixture *x = *state;
	const struct {
		struct pci_dev *dev;
		const char *bdf;
	} want[] = {
		{ x->rp0, "1000:00:01.0" }, { x->rp1, "1000:00:02.0" }, { x->sw0, "1000:01:00.0" },
		{ x->dsp0, "1000:02:00.0" }, { x->dsp1, "1000:02:01.0" }, { x->a, "1000:03:00.0" },
		{ x->b, "1000:04:00.0" },   { x->c, "1000:05:00.0" },   { x->rp2, "1001:00:01.0" },
		{ x->d, "1001:01:00.0" },
	};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_string_equal(pci_name(want[i].dev), want[i].bdf);
}

/* Bridges carry primary, secondary and subordinate bus numbers covering what is below. */
static void test_bus_numbers(void **state)
{
	struct fixture *x = *state;
	uint8_t pri, sec, sub;

	pci_read_config_byte(x->rp0, PCI_PRIMARY_BUS, &pri);
	pci_read_config_byte(x->rp0, PCI_SECONDARY_BUS, &sec);
	pci_read_config_byte(x->rp0, PCI_SUBORDINATE_BUS, &sub);
	assert_int_equal(pri, 0);
	assert_int_equal(sec, 1);
	assert_int_equal(sub, 4);
	pci_read_config_byte(x->dsp1, PCI_PRIMARY_BUS, &pri);
	pci_read_config_byte(x->dsp1, PCI_SECONDARY_BUS, &sec);
	pci_read_config_byte(x->dsp1, PCI_SUBORDINATE_BUS, &sub);
	assert_int_equal(pri, 2);
	assert_int_equal(sec, 4);
	assert_int_equal(sub, 4);
}

/* Port types come from the PCIe capability; the host bridge function has none. */
static void test_types_and_parents(void **state)
{
	struct fixture *x = *state;
	struct pci_dev *host = pci_host_bridge_dev(x->hb0);

	assert_non_null(host);
	assert_int_equal(pci_pcie_type(host), -1);
	assert_int_equal(pci_dev_class(host), 0x060000);
	assert_int_equal(pci_dev_vendor(host), 0x8086);
	assert_int_equal(pci_pcie_type(x->rp0), PCI_EXP_TYPE_ROOT_PORT);
	assert_int_equal(pci_pcie_type(x->sw0), PCI_EXP_TYPE_UPSTREAM);
	assert_int_equal(pci_pcie_type(x->dsp0), PCI_EXP_TYPE_DOWNSTREAM);
	assert_int_equal(pci_pcie_type(x->a), PCI_EXP_TYPE_ENDPOINT);
	assert_true(pci_is_bridge(x->sw0));
	assert_false(pci_is_bridge(x->a));

	assert_ptr_equal(pci_upstream_bridge(x->a), x->dsp0);
	assert_ptr_equal(pci_upstream_bridge(x->dsp0), x->sw0);
	assert_ptr_equal(pci_upstream_bridge(x->sw0), x->rp0);
	assert_null(pci_upstream_bridge(x->rp0));
	assert_ptr_equal(pci_host_bridge_of(x->a), x->hb0);
	assert_ptr_equal(pci_host_bridge_of(x->d), x->hb1);

	assert_int_not_equal(pci_find_capability(x->a, PCI_CAP_ID_EXP), 0);
	assert_int_equal(pci_find_ext_capability(x->a, PCI_EXT_CAP_ID_ACS), 0);
	assert_int_equal(pci_find_ext_capability(x->sw0, PCI_EXT_CAP_ID_ACS), 0);
	assert_int_equal(pci_find_ext_capability(x->dsp0, PCI_EXT_CAP_ID_ACS), 0x100);
	assert_int_equal(pci_find_ext_capability(x->rp0, PCI_EXT_CAP_ID_ACS), 0x100);
}

/* Lookups by name and by address agree, and iteration visits the tree depth first. */
static void test_lookup_and_iteration(void **state)
{
	struct fixture *x = *state;
	struct pci_dev *order[] = { pci_host_bridge_dev(x->hb0), x->rp0, x->sw0, x->dsp0, x->a,
				    x->dsp1, x->b, x->rp1, x->c, pci_host_bridge_dev(x->hb1),
				    x->rp2, x->d };
	struct pci_dev *dev = NULL;
	size_t i = 0;

	assert_ptr_equal(pci_fabric_find(x->f, "sw0.1"), x->dsp1);
	assert_null(pci_fabric_find(x->f, "nope"));
	assert_ptr_equal(pci_fabric_find_host_bridge(x->f, "hb1"), x->hb1);
	assert_ptr_equal(pci_get_domain_bus_and_slot(x->f, 0x1000, 4, PCI_DEVFN(0, 0)), x->b);
	assert_ptr_equal(pci_get_domain_bus_and_slot(x->f, 0x1000, 2, PCI_DEVFN(1, 0)), x->dsp1);
	assert_null(pci_get_domain_bus_and_slot(x->f, 0x1000, 4, PCI_DEVFN(1, 0)));
	assert_null(pci_get_domain_bus_and_slot(x->f, 0x1000, 9, 0));
	assert_null(pci_get_domain_bus_and_slot(x->f, 0x2000, 0, 0));

	while ((dev = pci_fabric_next_dev(x->f, dev))) {
		assert_true(i < sizeof(order) / sizeof(order[0]));
		assert_ptr_equal(dev, order[i]);
		i++;
	}
	assert_int_equal(i, sizeof(order) / sizeof(order[0]));
}

/* Configuration reads by address reach the right function through the bridges' bus numbers. */
static void test_config_by_address(void **state)
{
	struct fixture *x = *state;

	assert_int_equal(pci_cfg_read(x->f, 0x1000, 4, 0, PCI_VENDOR_ID, 2), 0x4854);
	assert_int_equal(pci_cfg_read(x->f, 0x1000, 2, PCI_DEVFN(1, 0), PCI_CLASS_DEVICE, 2),
			 0x0604);
	assert_int_equal(pci_cfg_read(x->f, 0x1001, 1, 0, PCI_DEVICE_ID, 2), 0x00ff);
}

/* The builder refuses what PCIe cannot have, with the documented errors. */
static void test_builder_errors(void **state)
{
	struct pci_fabric *f = pci_fabric_create();
	struct pci_host_bridge_info hbi = {
		.name = "hb", .domain = 0x1000, .bus_offset = FIX_HB0_OFFSET,
		.mem_base = 0xc0000000, .mem_size = 0x1000000,
		.pref_base = 0x8000000000ULL, .pref_size = 0x10000000,
	};
	struct pci_host_bridge *hb = pci_host_bridge_add(f, &hbi);
	struct pci_endpoint_info ep = fixture_ep("e0");
	struct pci_dev *rp, *rp2, *e0, *e1, *usp;
	uint8_t ht;

	assert_false(IS_ERR(hb));
	assert_int_equal(PTR_ERR(pci_host_bridge_add(f, &hbi)), -EEXIST);
	hbi.name = "other";
	assert_int_equal(PTR_ERR(pci_host_bridge_add(f, &hbi)), -EEXIST); /* same domain */
	hbi.domain = 0x1001;
	assert_int_equal(PTR_ERR(pci_host_bridge_add(f, &hbi)), -EINVAL); /* overlapping windows */
	hbi.bus_offset = 0;
	assert_int_equal(PTR_ERR(pci_host_bridge_add(f, &hbi)), -EINVAL); /* below 2^47 */
	hbi.bus_offset = FIX_HB1_OFFSET;
	hbi.mem_base = 0xc0001000;
	assert_int_equal(PTR_ERR(pci_host_bridge_add(f, &hbi)), -EINVAL); /* unaligned */

	rp = pci_root_port_add(hb, "rp", 0);
	rp2 = pci_root_port_add(hb, "rp2", 0);
	assert_false(IS_ERR(rp));
	assert_int_equal(PTR_ERR(pci_root_port_add(hb, "rp", 0)), -EEXIST);
	e0 = pci_endpoint_add(rp, &ep);
	assert_false(IS_ERR(e0));
	assert_int_equal(PTR_ERR(pci_endpoint_add(rp, &ep)), -EEXIST);
	ep.name = "e1";
	assert_int_equal(PTR_ERR(pci_endpoint_add(rp, &ep)), -EBUSY); /* function 0 taken */
	assert_int_equal(PTR_ERR(pci_endpoint_add(e0, &ep)), -EINVAL); /* not a port */
	assert_int_equal(PTR_ERR(pci_switch_add(rp, "sw", 2, 0)), -EBUSY);
	assert_int_equal(PTR_ERR(pci_switch_add(rp2, "sw", 0, 0)), -EINVAL);
	assert_int_equal(PTR_ERR(pci_switch_add(rp2, "sw", 33, 0)), -EINVAL);
	usp = pci_switch_add(rp2, "sw", 2, 0);
	assert_false(IS_ERR(usp));
	assert_int_equal(PTR_ERR(pci_endpoint_add(rp2, &ep)), -EBUSY); /* switch below */
	assert_null(pci_switch_port(usp, 2));
	assert_null(pci_switch_port(rp, 0));

	ep.function = 8;
	assert_int_equal(PTR_ERR(pci_endpoint_add(rp, &ep)), -EINVAL);
	ep.function = 1;
	ep.bar[0].size = 12288; /* not a power of two */
	assert_int_equal(PTR_ERR(pci_endpoint_add(rp, &ep)), -EINVAL);
	ep.bar[0].size = 4096;
	ep.bar[1].size = 4096; /* slot 1 belongs to the 64-bit BAR0 */
	assert_int_equal(PTR_ERR(pci_endpoint_add(rp, &ep)), -EINVAL);
	ep.bar[1].size = 0;
	ep.bar[0].flags = PCI_BAR_PREFETCH; /* prefetchable 32-bit */
	assert_int_equal(PTR_ERR(pci_endpoint_add(rp, &ep)), -EINVAL);
	ep.bar[0].flags = PCI_BAR_MEM64;
	ep.bar[2].size = 0;
	ep.bar[5] = (struct pci_bar_desc){ .size = 4096, .flags = PCI_BAR_MEM64 };
	assert_int_equal(PTR_ERR(pci_endpoint_add(rp, &ep)), -EINVAL);
	ep.bar[5].size = 0;
	assert_int_equal(pci_read_config_byte(e0, PCI_HEADER_TYPE, &ht), 0);
	assert_int_equal(ht, PCI_HEADER_TYPE_NORMAL);
	e1 = pci_endpoint_add(rp, &ep);
	assert_false(IS_ERR(e1));

	/* Two functions: both now say multi-function in their header type. */
	pci_read_config_byte(e0, PCI_HEADER_TYPE, &ht);
	assert_int_equal(ht, 0x80 | PCI_HEADER_TYPE_NORMAL);
	pci_read_config_byte(e1, PCI_HEADER_TYPE, &ht);
	assert_int_equal(ht, 0x80 | PCI_HEADER_TYPE_NORMAL);
	assert_int_equal(pci_fabric_enumerate(f), 0);
	assert_string_equal(pci_name(e1), "1000:01:00.1");
	pci_fabric_destroy(f);
}

/* After enumeration the fabric is fixed: adding anything returns -EBUSY, as does enumerating again. */
static void test_frozen_after_enumeration(void **state)
{
	struct fixture *x = *state;
	struct pci_endpoint_info ep = fixture_ep("late");

	assert_int_equal(pci_fabric_enumerate(x->f), -EBUSY);
	assert_int_equal(PTR_ERR(pci_root_port_add(x->hb0, "late", 0)), -EBUSY);
	assert_int_equal(PTR_ERR(pci_endpoint_add(x->rp1, &ep)), -EBUSY);
}

/* A root bus has room for 31 root ports and no more. */
static void test_root_ports_exhausted(void **state)
{
	struct pci_fabric *f = pci_fabric_create();
	struct pci_host_bridge_info hbi = {
		.name = "hb", .domain = 0x1000, .bus_offset = FIX_HB0_OFFSET,
	};
	struct pci_host_bridge *hb = pci_host_bridge_add(f, &hbi);
	char name[16];

	for (int i = 1; i < 32; i++) {
		snprintf(name, sizeof(name), "rp%d", i);
		assert_false(IS_ERR(pci_root_port_add(hb, name, 0)));
	}
	assert_int_equal(PTR_ERR(pci_root_port_add(hb, "one-more", 0)), -ENOSPC);
	assert_int_equal(pci_fabric_enumerate(f), 0);
	pci_fabric_destroy(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_bus_numbers),
		cmocka_unit_test(test_types_and_parents),
		cmocka_unit_test(test_lookup_and_iteration),
		cmocka_unit_test(test_config_by_address),
		cmocka_unit_test(test_frozen_after_enumeration),
	};
	const struct CMUnitTest standalone[] = {
		cmocka_unit_test(test_builder_errors),
		cmocka_unit_test(test_root_ports_exhausted),
	};

	return cmocka_run_group_tests(tests, setup, teardown) |
	       cmocka_run_group_tests(standalone, NULL, NULL);
}
