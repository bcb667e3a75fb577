// SPDX-License-Identifier: MIT
/*
 * Machine configs that load: the embedded default machine (every device
 * where the config puts it, with its IDs, BARs and ACS bits), a custom
 * machine with two host bridges and a multi-function device, a config read
 * from a file, and the tree drawing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <hetmem/err.h>
#include <hetmem/log.h>
#include <hetmem/machine.h>
#include <hetmem/pci.h>

static struct machine *load_ok(const char *text)
{
	char err[512] = "";
	struct machine *m = machine_load_string(text, "test.ini", err, sizeof(err));

	if (IS_ERR(m))
		fail_msg("config refused (%ld): %s", PTR_ERR(m), err);
	assert_string_equal(err, "");
	return m;
}

static void drop_log(int level, int guest, const char *msg, void *arg)
{
}

static struct pci_dev *find(struct machine *m, const char *name)
{
	struct pci_dev *dev = machine_find(m, name);

	if (!dev)
		fail_msg("%s not found", name);
	return dev;
}

static uint16_t acs_ctrl(struct pci_dev *dev)
{
	unsigned int pos = pci_find_ext_capability(dev, PCI_EXT_CAP_ID_ACS);
	uint16_t v;

	assert_int_not_equal(pos, 0);
	assert_int_equal(pci_read_config_word(dev, (int)(pos + PCI_ACS_CTRL), &v), 0);
	return v;
}

static uint16_t cfg16(struct pci_dev *dev, int where)
{
	uint16_t v;

	assert_int_equal(pci_read_config_word(dev, where, &v), 0);
	return v;
}

static uint8_t cfg8(struct pci_dev *dev, int where)
{
	uint8_t v;

	assert_int_equal(pci_read_config_byte(dev, where, &v), 0);
	return v;
}

/* @dev's BAR @bar lies, aligned to its size, inside one of its host bridge's windows. */
static void assert_bar_in_windows(struct pci_dev *dev, int bar)
{
	const struct pci_host_bridge_info *info = pci_host_bridge_info_get(pci_host_bridge_of(dev));
	uint64_t addr = pci_bus_address(dev, bar), len = pci_resource_len(dev, bar);
	bool pref = pci_resource_flags(dev, bar) & PCI_BAR_PREFETCH;
	uint64_t base = pref ? info->pref_base : info->mem_base;
	uint64_t size = pref ? info->pref_size : info->mem_size;

	assert_true(len != 0);
	assert_true(addr % len == 0);
	assert_true(addr >= base && addr - base <= size - len);
	assert_true(pci_resource_start(dev, bar) == addr + info->bus_offset);
}

/* The embedded default machine loads without a file and without complaint. */
static void test_default_loads(void **state)
{
	char err[512] = "x";
	struct machine *m = machine_load(NULL, err, sizeof(err));

	assert_false(IS_ERR_OR_NULL(m));
	assert_string_equal(err, "");
	assert_non_null(machine_fabric(m));
	assert_non_null(strstr(machine_default_config(), "[host-bridge hb0]"));
	assert_non_null(strstr(machine_default_config(), "[endpoint gpu1]"));
	machine_destroy(m);
	machine_destroy(NULL);
}

/* Every section of the default machine, and every switch port, is found by name. */
static void test_default_names(void **state)
{
	static const char *const names[] = { "rp0",   "sw0",  "sw0.0", "sw0.1",
					     "nvme0", "gpu0", "rp1",   "gpu1" };
	struct machine *m = machine_load(NULL, NULL, 0);

	assert_false(IS_ERR_OR_NULL(m));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_string_equal(pci_dev_label(find(m, names[i])), names[i]);
	/* A host bridge's name finds its function at 00.0. */
	assert_ptr_equal(find(m, "hb0"), pci_host_bridge_dev(pci_fabric_find_host_bridge(
						 machine_fabric(m), "hb0")));
	assert_null(machine_find(m, "sw0.2"));
	assert_null(machine_find(m, "nvme1"));
	machine_destroy(m);
}

/* Each function of the default machine sits below the port the config names. */
static void test_default_parents(void **state)
{
	struct machine *m = machine_load(NULL, NULL, 0);
	struct pci_host_bridge *hb;

	assert_false(IS_ERR_OR_NULL(m));
	hb = pci_fabric_find_host_bridge(machine_fabric(m), "hb0");
	assert_non_null(hb);

	assert_null(pci_upstream_bridge(find(m, "rp0")));
	assert_null(pci_upstream_bridge(find(m, "rp1")));
	assert_ptr_equal(pci_upstream_bridge(find(m, "sw0")), find(m, "rp0"));
	assert_ptr_equal(pci_upstream_bridge(find(m, "sw0.0")), find(m, "sw0"));
	assert_ptr_equal(pci_upstream_bridge(find(m, "sw0.1")), find(m, "sw0"));
	assert_ptr_equal(pci_upstream_bridge(find(m, "nvme0")), find(m, "sw0.0"));
	assert_ptr_equal(pci_upstream_bridge(find(m, "gpu0")), find(m, "sw0.1"));
	assert_ptr_equal(pci_upstream_bridge(find(m, "gpu1")), find(m, "rp1"));
	assert_ptr_equal(pci_host_bridge_of(find(m, "gpu1")), hb);
	assert_ptr_equal(pci_host_bridge_of(find(m, "nvme0")), hb);

	assert_int_equal(pci_pcie_type(find(m, "hb0")), -1);
	assert_int_equal(pci_pcie_type(find(m, "rp0")), PCI_EXP_TYPE_ROOT_PORT);
	assert_int_equal(pci_pcie_type(find(m, "sw0")), PCI_EXP_TYPE_UPSTREAM);
	assert_int_equal(pci_pcie_type(find(m, "sw0.1")), PCI_EXP_TYPE_DOWNSTREAM);
	assert_int_equal(pci_pcie_type(find(m, "gpu1")), PCI_EXP_TYPE_ENDPOINT);
	assert_ptr_equal(pci_switch_port(find(m, "sw0"), 1), find(m, "sw0.1"));
	assert_int_equal(pci_dev_domain(find(m, "gpu0")), 0x1000);
	machine_destroy(m);
}

/* IDs and classes are the configured ones; subsystem IDs default to the function's. */
static void test_default_ids(void **state)
{
	struct machine *m = machine_load(NULL, NULL, 0);
	struct pci_dev *nvme0, *gpu0, *gpu1, *host;
	const struct pci_host_bridge_info *info;

	assert_false(IS_ERR_OR_NULL(m));
	nvme0 = find(m, "nvme0");
	gpu0 = find(m, "gpu0");
	gpu1 = find(m, "gpu1");
	host = find(m, "hb0");

	assert_int_equal(pci_dev_vendor(nvme0), 0x4854);
	assert_int_equal(pci_dev_device(nvme0), 0x0001);
	assert_int_equal(pci_dev_class(nvme0), 0x010802);
	assert_int_equal(cfg16(nvme0, PCI_SUBSYSTEM_VENDOR_ID), 0x4854);
	assert_int_equal(cfg16(nvme0, PCI_SUBSYSTEM_ID), 0x0001);
	assert_int_equal(pci_dev_vendor(gpu0), 0x4854);
	assert_int_equal(pci_dev_device(gpu0), 0x0002);
	assert_int_equal(pci_dev_class(gpu0), 0x030200);
	assert_int_equal(pci_dev_device(gpu1), 0x0002);
	assert_int_equal(pci_dev_class(gpu1), 0x030200);
	assert_int_equal(pci_dev_vendor(host), 0x8086);
	assert_int_equal(pci_dev_device(host), 0x09a2);

	info = pci_host_bridge_info_get(pci_host_bridge_of(nvme0));
	assert_int_equal(info->domain, 0x1000);
	assert_true(info->p2p_allowed);
	assert_false(info->iommu_passthrough);
	assert_true(info->bus_offset == 0x800000000000ULL);
	machine_destroy(m);
}

/* BARs have the configured sizes and flags and lie inside the host bridge's windows. */
static void test_default_bars(void **state)
{
	struct machine *m = machine_load(NULL, NULL, 0);
	struct pci_dev *nvme0, *gpu0, *gpu1;

	assert_false(IS_ERR_OR_NULL(m));
	nvme0 = find(m, "nvme0");
	gpu0 = find(m, "gpu0");
	gpu1 = find(m, "gpu1");

	/* The NVMe model: registers in BAR0, the controller memory buffer in BAR2. */
	assert_int_equal(pci_resource_len(nvme0, 0), 16 << 10);
	assert_int_equal(pci_resource_flags(nvme0, 0), PCI_BAR_MEM64);
	assert_int_equal(pci_resource_len(nvme0, 2), 64 << 20);
	assert_int_equal(pci_resource_flags(nvme0, 2), PCI_BAR_MEM64 | PCI_BAR_PREFETCH);
	for (int i = 1; i < PCI_STD_NUM_BARS_HM; i++)
		if (i != 2)
			assert_int_equal(pci_resource_len(nvme0, i), 0);
	assert_bar_in_windows(nvme0, 0);
	assert_bar_in_windows(nvme0, 2);

	for (int g = 0; g < 2; g++) {
		struct pci_dev *gpu = g ? gpu1 : gpu0;

		assert_int_equal(pci_resource_len(gpu, 0), 16 << 20);
		assert_int_equal(pci_resource_flags(gpu, 0), PCI_BAR_MEM64);
		assert_int_equal(pci_resource_len(gpu, 2), 256 << 20);
		assert_int_equal(pci_resource_flags(gpu, 2), PCI_BAR_MEM64 | PCI_BAR_PREFETCH);
		assert_int_equal(pci_resource_len(gpu, 4), 0);
		assert_bar_in_windows(gpu, 0);
		assert_bar_in_windows(gpu, 2);
	}
	/* The two GPUs' VRAM BARs do not overlap. */
	assert_true(pci_bus_address(gpu0, 2) != pci_bus_address(gpu1, 2));
	machine_destroy(m);
}

/* The default machine's ports have ACS off, as its config says. */
static void test_default_acs(void **state)
{
	struct machine *m = machine_load(NULL, NULL, 0);

	assert_false(IS_ERR_OR_NULL(m));
	assert_int_equal(acs_ctrl(find(m, "rp0")), 0);
	assert_int_equal(acs_ctrl(find(m, "rp1")), 0);
	assert_int_equal(acs_ctrl(find(m, "sw0.0")), 0);
	assert_int_equal(acs_ctrl(find(m, "sw0.1")), 0);
	machine_destroy(m);
}

/*
 * Sections in any order (the switch comes before the root port it sits
 * on), indented keys and comments.
 */
static const char custom_config[] = "; two host bridges\n"
				    "[host-bridge a]\n"
				    "  p2p = denied\n"
				    "  iommu = passthrough   ; DMA is not translated\n"
				    "\n"
				    "[host-bridge b]\n"
				    "domain = 0x2345\n"
				    "vendor = 0x1022\n"
				    "device = 0x1480\n"
				    "bus-offset = 0x900000000000\n"
				    "mem-window = 0x80000000 256M\n"
				    "pref-window = 4G 4G\n"
				    "host-function = no\n"
				    "\n"
				    "[root-port a-rp]\n"
				    "parent = a\n"
				    "acs = sv,rr,cr,uf\n"
				    "\n"
				    "[switch sw]\n"
				    "parent = b-rp\n"
				    "ports = 3\n"
				    "acs.2 = none\n"
				    "acs = rr,cr\n"
				    "\n"
				    "[root-port b-rp]\n"
				    "parent = b\n"
				    "\n"
				    "# a two-function device\n"
				    "[endpoint mf1]\n"
				    "parent = sw.1\n"
				    "function = 1\n"
				    "vendor = 0x1234\n"
				    "device = 0x5679\n"
				    "bar0 = 4K\n"
				    "\n"
				    "[endpoint mf0]\n"
				    "parent = sw.1\n"
				    "model = endpoint\n"
				    "function = 0\n"
				    "vendor = 0x1234\n"
				    "device = 0x5678\n"
				    "class = 0x020000\n"
				    "revision = 3\n"
				    "subsystem-vendor = 0xabcd\n"
				    "subsystem-device = 0xef01\n"
				    "bar0 = 64K\n"
				    "bar2 = 1M 64 pref\n"
				    "\n"
				    "[endpoint lone]\n"
				    "parent = a-rp\n"
				    "bar4 = 2M 64\n";

/* Two host bridges with their own domains, offsets, windows and flags. */
static void test_custom_host_bridges(void **state)
{
	struct machine *m = load_ok(custom_config);
	struct pci_fabric *f = machine_fabric(m);
	struct pci_host_bridge *a = pci_fabric_find_host_bridge(f, "a");
	struct pci_host_bridge *b = pci_fabric_find_host_bridge(f, "b");
	const struct pci_host_bridge_info *ai, *bi;

	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_equal(pci_fabric_next_host_bridge(f, NULL), a);
	assert_ptr_equal(pci_fabric_next_host_bridge(f, a), b);
	ai = pci_host_bridge_info_get(a);
	bi = pci_host_bridge_info_get(b);

	assert_int_equal(ai->domain, 0x1000);
	assert_false(ai->p2p_allowed);
	assert_true(ai->iommu_passthrough);
	assert_true(ai->bus_offset == 0x800000000000ULL);
	assert_true(ai->mem_base == 0xc0000000ULL && ai->mem_size == 0x20000000ULL);
	assert_true(ai->pref_base == 0x8000000000ULL && ai->pref_size == 0x1000000000ULL);
	/* p2p = denied without IDs: an ID the kernel's whitelist does not trust. */
	assert_int_equal(pci_dev_device(find(m, "a")), 0x3e30);

	assert_int_equal(bi->domain, 0x2345);
	assert_int_equal(bi->vendor, 0x1022);
	assert_int_equal(bi->device, 0x1480);
	assert_true(bi->p2p_allowed);
	assert_false(bi->iommu_passthrough);
	assert_true(bi->bus_offset == 0x900000000000ULL);
	assert_true(bi->mem_base == 0x80000000ULL && bi->mem_size == 256ULL << 20);
	assert_true(bi->pref_base == 4ULL << 30 && bi->pref_size == 4ULL << 30);
	assert_true(bi->no_host_function);
	assert_null(pci_host_bridge_dev(b));
	assert_null(machine_find(m, "b"));

	assert_ptr_equal(pci_host_bridge_of(find(m, "lone")), a);
	assert_ptr_equal(pci_host_bridge_of(find(m, "mf0")), b);
	assert_int_equal(pci_dev_domain(find(m, "mf1")), 0x2345);
	assert_bar_in_windows(find(m, "lone"), 4);
	assert_bar_in_windows(find(m, "mf0"), 0);
	assert_bar_in_windows(find(m, "mf0"), 2);
	assert_bar_in_windows(find(m, "mf1"), 0);
	machine_destroy(m);
}

/* Two functions of one device share bus and slot and say multi-function. */
static void test_custom_multifunction(void **state)
{
	struct machine *m = load_ok(custom_config);
	struct pci_dev *mf0 = find(m, "mf0"), *mf1 = find(m, "mf1");

	assert_ptr_equal(pci_upstream_bridge(mf0), find(m, "sw.1"));
	assert_ptr_equal(pci_upstream_bridge(mf1), find(m, "sw.1"));
	assert_int_equal(pci_dev_busnr(mf0), pci_dev_busnr(mf1));
	assert_int_equal(PCI_SLOT(pci_dev_devfn(mf0)), PCI_SLOT(pci_dev_devfn(mf1)));
	assert_int_equal(PCI_FUNC(pci_dev_devfn(mf0)), 0);
	assert_int_equal(PCI_FUNC(pci_dev_devfn(mf1)), 1);
	assert_true(cfg8(mf0, PCI_HEADER_TYPE) & 0x80);
	assert_true(cfg8(mf1, PCI_HEADER_TYPE) & 0x80);

	assert_int_equal(pci_dev_vendor(mf0), 0x1234);
	assert_int_equal(pci_dev_device(mf0), 0x5678);
	assert_int_equal(pci_dev_class(mf0), 0x020000);
	assert_int_equal(cfg8(mf0, PCI_REVISION_ID), 3);
	assert_int_equal(cfg16(mf0, PCI_SUBSYSTEM_VENDOR_ID), 0xabcd);
	assert_int_equal(cfg16(mf0, PCI_SUBSYSTEM_ID), 0xef01);
	assert_int_equal(pci_dev_device(mf1), 0x5679);
	assert_int_equal(pci_resource_len(mf0, 0), 64 << 10);
	assert_int_equal(pci_resource_flags(mf0, 0), 0);
	assert_int_equal(pci_resource_len(mf0, 2), 1 << 20);
	assert_int_equal(pci_resource_len(mf1, 0), 4 << 10);
	machine_destroy(m);
}

/* ACS bits from "acs" and "acs.N" are what configuration space holds. */
static void test_custom_acs(void **state)
{
	struct machine *m = load_ok(custom_config);

	assert_int_equal(acs_ctrl(find(m, "a-rp")),
			 PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF);
	assert_int_equal(acs_ctrl(find(m, "b-rp")), 0);
	assert_int_equal(acs_ctrl(find(m, "sw.0")), PCI_ACS_RR | PCI_ACS_CR);
	assert_int_equal(acs_ctrl(find(m, "sw.1")), PCI_ACS_RR | PCI_ACS_CR);
	assert_int_equal(acs_ctrl(find(m, "sw.2")), 0);
	machine_destroy(m);
}

/* machine_load() reads a file; its messages name the file. */
static void test_load_file(void **state)
{
	char path[] = "/tmp/hetmem-machine-XXXXXX";
	char err[512] = "";
	struct machine *m;
	FILE *fp;
	int fd;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	assert_non_null(fp);
	fputs(custom_config, fp);
	assert_int_equal(fclose(fp), 0);

	m = machine_load(path, err, sizeof(err));
	assert_false(IS_ERR_OR_NULL(m));
	assert_string_equal(err, "");
	assert_non_null(machine_find(m, "mf1"));
	machine_destroy(m);

	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("[host-bridge hb0]\r\n\r\nvendor = 0x80860\r\n", fp);
	assert_int_equal(fclose(fp), 0);
	hetmem_log_set_handler(drop_log, NULL);
	m = machine_load(path, err, sizeof(err));
	hetmem_log_set_handler(NULL, NULL);
	assert_true(IS_ERR(m));
	assert_int_equal(PTR_ERR(m), -EINVAL);
	assert_true(!strncmp(err, path, strlen(path)));
	assert_non_null(strstr(err, ":3: vendor = 0x80860"));
	unlink(path);
}

static char *tree_of(struct machine *m)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(out);
	machine_print_tree(m, out);
	assert_int_equal(fclose(out), 0);
	return buf;
}

static void assert_has(const char *text, const char *line)
{
	if (!strstr(text, line))
		fail_msg("missing \"%s\" in:\n%s", line, text);
}

/* The tree shows every host bridge, port and function with names, addresses and BARs. */
static void test_print_tree(void **state)
{
	struct machine *m = machine_load(NULL, NULL, 0);
	char *tree;

	assert_false(IS_ERR_OR_NULL(m));
	tree = tree_of(m);
	assert_has(tree, "hb0 [1000:00] host bridge 8086:09a2, p2p allowed, iommu translated, "
			 "bus offset 0x800000000000, mem 0xc0000000 512M, pref 0x8000000000 64G\n");
	assert_has(tree, "\n +- 1000:00:00.0 hb0.host host bridge function 8086:09a2\n");
	assert_has(tree, "\n +- 1000:00:01.0 rp0 root port [ACS: -]\n");
	assert_has(tree, "\n |   \\- 1000:01:00.0 sw0 switch upstream port\n");
	assert_has(tree, "\n |       +- 1000:02:00.0 sw0.0 switch downstream port [ACS: -]\n");
	assert_has(tree, "\n |       |   \\- 1000:03:00.0 nvme0 endpoint 4854:0001 class 010802, "
			 "bar0 0x");
	assert_has(tree, " 16K 64-bit, bar2 0x");
	assert_has(tree, " 64M 64-bit pref\n");
	assert_has(tree, "\n |       \\- 1000:02:01.0 sw0.1 switch downstream port [ACS: -]\n");
	assert_has(tree, "\n |           \\- 1000:04:00.0 gpu0 endpoint 4854:0002 class 030200, "
			 "bar0 0x");
	assert_has(tree, " 16M 64-bit, bar2 0x");
	assert_has(tree, " 256M 64-bit pref\n");
	assert_has(tree, "\n \\- 1000:00:02.0 rp1 root port [ACS: -]\n");
	assert_has(tree, "\n     \\- 1000:05:00.0 gpu1 endpoint 4854:0002 class 030200, bar0 0x");
	free(tree);
	machine_destroy(m);

	m = load_ok(custom_config);
	tree = tree_of(m);
	assert_has(tree, "a [1000:00] host bridge 8086:3e30, p2p denied, iommu passthrough, ");
	assert_has(tree, "\nb [2345:00] host bridge without a host bridge function, p2p allowed");
	assert_has(tree, " a-rp root port [ACS: SV RR CR UF]\n");
	assert_has(tree, " sw.2 switch downstream port [ACS: -]\n");
	assert_has(tree, " 2345:04:00.1 mf1 endpoint 1234:5679 class 058000, bar0 0x");
	free(tree);
	machine_destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_loads),
		cmocka_unit_test(test_default_names),
		cmocka_unit_test(test_default_parents),
		cmocka_unit_test(test_default_ids),
		cmocka_unit_test(test_default_bars),
		cmocka_unit_test(test_default_acs),
		cmocka_unit_test(test_custom_host_bridges),
		cmocka_unit_test(test_custom_multifunction),
		cmocka_unit_test(test_custom_acs),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_print_tree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
