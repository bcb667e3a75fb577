// SPDX-License-Identifier: MIT
/*
 * The independent path: an emulated fabric, written out as an lspci dump
 * and as a sysfs tree and imported back, gets the same map type, distance,
 * ACS path and host-bridge verdict for every pair of functions as the
 * emulator's own P2PDMA gives on the original - and what the emulator gives
 * through its cache (pci_p2pdma_map_type_of()) is what the uncached
 * computation gives.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <hetmem/err.h>
#include <hetmem/machine.h>
#include <hetmem/pci-dump.h>
#include <hetmem/pci-import.h>
#include <hetmem/pci-p2pdma.h>
#include "fabric-fixture.h"

#define PATHF(buf, ...) assert_true(snprintf(buf, sizeof(buf), __VA_ARGS__) < (int)sizeof(buf))

static const struct pci_p2p_env env_61 = { .kernel = PCI_P2P_KERNEL(6, 1) };

static struct pci_import *via_dump(struct pci_fabric *f)
{
	char *text = NULL, err[256];
	size_t len = 0;
	FILE *out = open_memstream(&text, &len), *in;
	struct pci_import *imp;

	assert_non_null(out);
	assert_int_equal(pci_fabric_write_lspci_dump(f, out), 0);
	assert_int_equal(fclose(out), 0);
	in = fmemopen(text, len, "r");
	imp = pci_import_lspci(in, "emulated", err, sizeof(err));
	fclose(in);
	free(text);
	assert_false(IS_ERR(imp));
	return imp;
}

static void mkdirs(const char *path)
{
	char tmp[4096];

	PATHF(tmp, "%s", path);
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(tmp, 0755);
			*p = '/';
		}
	mkdir(tmp, 0755);
}

/* ROOT/devices/pciDDDD:00/<bridges>/<function>, linked from ROOT/bus/pci/devices. */
static void sysfs_path(char *out, size_t len, struct pci_dev *dev)
{
	char rest[2048] = "";
	int n;

	for (struct pci_dev *d = dev; d; d = pci_upstream_bridge(d)) {
		char tmp[2048];

		PATHF(tmp, "/%s%s", pci_name(d), rest);
		memcpy(rest, tmp, sizeof(rest));
	}
	n = snprintf(out, len, "pci%04x:00%s", pci_dev_domain(dev), rest);
	assert_true(n > 0 && (size_t)n < len);
}

static struct pci_import *via_sysfs(struct pci_fabric *f, char *root)
{
	char bus[4096], dir[4096], link[4096], rel[3000], err[256];
	struct pci_dev *dev = NULL;
	struct pci_import *imp;

	assert_non_null(mkdtemp(root));
	PATHF(bus, "%s/bus/pci/devices", root);
	mkdirs(bus);
	while ((dev = pci_fabric_next_dev(f, dev))) {
		uint8_t cfg[PCI_CFG_SPACE_SIZE_HM];
		FILE *out;

		sysfs_path(rel, sizeof(rel), dev);
		PATHF(dir, "%s/devices/%s", root, rel);
		mkdirs(dir);
		pci_config_snapshot(dev, cfg);
		PATHF(link, "%s/config", dir);
		out = fopen(link, "w");
		assert_non_null(out);
		assert_int_equal(fwrite(cfg, 1, sizeof(cfg), out), sizeof(cfg));
		fclose(out);
		PATHF(link, "%s/%s", bus, pci_name(dev));
		assert_int_equal(symlink(dir, link), 0);
	}
	PATHF(dir, "%s/bus/pci", root);
	imp = pci_import_sysfs(dir, err, sizeof(err));
	assert_false(IS_ERR(imp));
	return imp;
}

static void rm_rf(const char *path)
{
	char cmd[4200];

	PATHF(cmd, "rm -rf '%s'", path);
	assert_int_equal(system(cmd), 0);
}

static void same_answer(struct pci_dev *p, struct pci_dev *c, struct pci_import *imp)
{
	struct pci_dev *ip = pci_import_find(imp, pci_name(p)),
		       *ic = pci_import_find(imp, pci_name(c));
	struct pci_p2p_result emu, got;
	char why[512];
	int dist;

	assert_non_null(ip);
	assert_non_null(ic);
	pci_p2p_check_pair(p, c, NULL, &emu);
	pci_p2p_check_pair(ip, ic, &env_61, &got);

	/* The emulator's cached path says what the uncached computation says. */
	assert_int_equal(pci_p2pdma_map_type_of(p, c, why, sizeof(why)), emu.type);
	assert_string_equal(why, emu.reason);
	dist = pci_p2pdma_distance(p, c, false);
	assert_int_equal(dist, emu.type == PCI_P2PDMA_MAP_NOT_SUPPORTED ? -1 : emu.distance);

	assert_int_equal(got.type, emu.type);
	assert_int_equal(got.distance, emu.distance);
	assert_int_equal(got.nr_acs, emu.nr_acs);
	for (unsigned int i = 0; i < emu.nr_acs && i < PCI_P2P_MAX_PATH; i++)
		assert_string_equal(pci_name(got.acs[i]), pci_name(emu.acs[i]));
	assert_int_equal(!got.common, !emu.common);
	if (emu.common)
		assert_string_equal(pci_name(got.common), pci_name(emu.common));
	assert_int_equal(!got.denied, !emu.denied);
	assert_int_equal(got.hb.verdict, emu.hb.verdict);
	assert_int_equal(got.hb.vendor, emu.hb.vendor);
	assert_int_equal(got.hb.device, emu.hb.device);
}

/* Every pair of functions of @f, through a dump and through sysfs. */
static void check_fabric(struct pci_fabric *f)
{
	char root[] = "/tmp/p2p-check-roundtrip-XXXXXX";
	struct pci_import *dump = via_dump(f), *sys = via_sysfs(f, root);
	struct pci_dev *p = NULL, *c;

	while ((p = pci_fabric_next_dev(f, p)))
		for (c = pci_fabric_next_dev(f, NULL); c; c = pci_fabric_next_dev(f, c)) {
			same_answer(p, c, dump);
			same_answer(p, c, sys);
		}
	pci_import_destroy(dump);
	pci_import_destroy(sys);
	rm_rf(root);
}

/* The embedded default machine. */
static void test_default_machine(void **state)
{
	char err[256];
	struct machine *m = machine_load(NULL, err, sizeof(err));

	assert_false(IS_ERR_OR_NULL(m));
	check_fabric(machine_fabric(m));
	machine_destroy(m);
}

/*
 *  hbA (@a)  +- rp0 (@rp_acs) -- sw0 (@acs) -+- sw0.0 -- e0 (functions 0, 1)
 *            |                               +- sw0.1 -- e1
 *            +- rp1 (@rp_acs) ------------------------ e2
 *  hbB (@b)  +- rp2 -- e3                   (when @b)
 */
static void build_and_check(uint16_t a, uint16_t b, uint16_t acs, uint16_t rp_acs, bool no_host)
{
	struct pci_host_bridge_info hb = {
		.name = "hbA",
		.domain = 0x1000,
		.vendor = 0x8086,
		.device = a,
		.no_host_function = no_host,
		.p2p_allowed = true,
		.bus_offset = FIX_HB0_OFFSET,
		.mem_base = 0xc0000000,
		.mem_size = 0x10000000,
		.pref_base = 0x8000000000ULL,
		.pref_size = 0x100000000ULL,
	};
	struct pci_fabric *f = pci_fabric_create();
	struct pci_host_bridge *ha = pci_host_bridge_add(f, &hb);
	struct pci_dev *rp0 = pci_root_port_add(ha, "rp0", rp_acs);
	struct pci_dev *rp1 = pci_root_port_add(ha, "rp1", rp_acs);
	struct pci_dev *sw = pci_switch_add(rp0, "sw0", 2, acs);
	struct pci_endpoint_info ep;

	ep = fixture_ep("e0");
	assert_false(IS_ERR(pci_endpoint_add(pci_switch_port(sw, 0), &ep)));
	ep = fixture_ep("e0f1");
	ep.function = 1;
	assert_false(IS_ERR(pci_endpoint_add(pci_switch_port(sw, 0), &ep)));
	ep = fixture_ep("e1");
	assert_false(IS_ERR(pci_endpoint_add(pci_switch_port(sw, 1), &ep)));
	ep = fixture_ep("e2");
	assert_false(IS_ERR(pci_endpoint_add(rp1, &ep)));
	if (b) {
		hb.name = "hbB";
		hb.domain = 0x1001;
		hb.device = b;
		hb.no_host_function = false;
		hb.bus_offset = FIX_HB1_OFFSET;
		ep = fixture_ep("e3");
		assert_false(IS_ERR(pci_endpoint_add(
			pci_root_port_add(pci_host_bridge_add(f, &hb), "rp2", 0), &ep)));
	}
	assert_int_equal(pci_fabric_enumerate(f), 0);
	check_fabric(f);
	pci_fabric_destroy(f);
}

/* Below one switch, with and without ACS redirect, allowed and unlisted host bridges. */
static void test_one_switch(void **state)
{
	build_and_check(0x09a2, 0, 0, 0, false);
	build_and_check(0x09a2, 0, PCI_ACS_RR, 0, false);
	build_and_check(0x3e30, 0, PCI_ACS_CR, 0, false);
	build_and_check(0x3e30, 0, PCI_ACS_EC, PCI_ACS_RR | PCI_ACS_CR, false);
}

/* Across host bridges: listed, listed within one host bridge only, unlisted. */
static void test_host_bridges(void **state)
{
	build_and_check(0x09a2, 0x2030, 0, 0, false);
	build_and_check(0x3c00, 0x3c01, 0, 0, false);
	build_and_check(0x09a2, 0x1234, PCI_ACS_RR, 0, false);
}

/* No host bridge function: the first root port's IDs decide (hetmem's own, unlisted). */
static void test_no_host_function(void **state)
{
	build_and_check(0x09a2, 0x2020, 0, 0, true);
}

/* The CPU rule lets every pair through the root complex that the allow-list would refuse. */
static void test_cpu_rule(void **state)
{
	struct pci_p2p_env zen = { .cpu_supports_p2pdma = true };
	struct fixture_opts o = { .with_hb1 = true, .acs = PCI_ACS_RR };
	struct pci_p2p_result res;
	struct fixture x;

	assert_int_equal(fixture_build(&x, &o), 0);
	/* a, b below sw0 with ACS redirect; c on another root port; d below hb1. */
	assert_int_equal(pci_p2p_check_pair(x.a, x.d, &zen, &res), PCI_P2PDMA_MAP_THRU_HOST_BRIDGE);
	assert_true(res.cpu_rule);
	assert_non_null(strstr(res.reason, "the CPU routes peer traffic"));
	assert_int_equal(pci_p2p_check_pair(x.a, x.b, &zen, &res), PCI_P2PDMA_MAP_THRU_HOST_BRIDGE);
	assert_int_equal(res.nr_acs, 2);
	fixture_destroy(&x);
}

/* The allow-list as of a kernel: 09a2 arrived in 5.14. */
static void test_allow_list_by_kernel(void **state)
{
	struct pci_p2p_env old = { .kernel = PCI_P2P_KERNEL(5, 10) };
	struct fixture x;
	struct fixture_opts o = { 0 };
	struct pci_p2p_result res;
	bool exact;

	assert_int_equal(fixture_build(&x, &o), 0);
	assert_int_equal(pci_p2p_check_pair(x.a, x.c, &old, &res), PCI_P2PDMA_MAP_NOT_SUPPORTED);
	assert_int_equal(res.hb.verdict, PCI_P2P_HB_NEWER_KERNEL);
	assert_non_null(strstr(res.reason, "only from Linux 5.14"));
	assert_int_equal(pci_p2p_check_pair(x.a, x.c, NULL, &res), PCI_P2PDMA_MAP_THRU_HOST_BRIDGE);
	assert_int_equal(pci_p2p_allow_list_since(0x8086, 0x09a2, &exact), PCI_P2P_KERNEL(5, 14));
	assert_true(exact);
	assert_int_equal(pci_p2p_allow_list_since(0x8086, 0x3e30, NULL), 0);
	/* The Google entry covers every device ID and came after the emulator's 6.1. */
	assert_int_not_equal(pci_p2p_allow_list_since(0x1ae0, 0x1234, &exact), 0);
	assert_false(exact);
	pci_fabric_destroy(x.f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_machine), cmocka_unit_test(test_one_switch),
		cmocka_unit_test(test_host_bridges),	cmocka_unit_test(test_no_host_function),
		cmocka_unit_test(test_cpu_rule),	cmocka_unit_test(test_allow_list_by_kernel),
	};

	quiet_logs();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
