// SPDX-License-Identifier: MIT
/*
 * Importing real topologies: the lspci dump reader (headers with and
 * without a domain, pasted text, CRLF, -vvv lines, 64/256/4096 bytes), the
 * sysfs reader (parents and host bridges from the link targets, BAR sizes,
 * drivers, IOMMU groups, p2pmem; plain copies placed by bus numbers), and
 * the tree: one host bridge per root bus, virtual functions below their
 * physical function's bridge, port types guessed when no capability can
 * be read, ACS read, unknown or absent.
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
#include <hetmem/pci-import.h>

/* A path into @buf, which must hold it. */
#define PATHF(buf, ...) assert_true(snprintf(buf, sizeof(buf), __VA_ARGS__) < (int)sizeof(buf))

/* --- configuration spaces made by hand -------------------------------------------- */

struct fn {
	const char *bdf;
	uint8_t cfg[4096];
	unsigned int len;
};

static void put16(uint8_t *c, unsigned int off, uint16_t v)
{
	c[off] = v & 0xff;
	c[off + 1] = v >> 8;
}

static void put32(uint8_t *c, unsigned int off, uint32_t v)
{
	put16(c, off, v & 0xffff);
	put16(c, off + 2, v >> 16);
}

/* IDs, class, and a PCI Express capability of @type at 0x40 (none when @type < 0). */
static void common(struct fn *f, const char *bdf, uint16_t vendor, uint16_t device, uint32_t class,
		   int type)
{
	memset(f, 0, sizeof(*f));
	f->bdf = bdf;
	f->len = 4096;
	put16(f->cfg, PCI_VENDOR_ID, vendor);
	put16(f->cfg, PCI_DEVICE_ID, device);
	put32(f->cfg, PCI_CLASS_REVISION, class << 8);
	if (type >= 0) {
		put16(f->cfg, PCI_STATUS, PCI_STATUS_CAP_LIST);
		f->cfg[PCI_CAPABILITY_LIST] = 0x40;
		f->cfg[0x40] = PCI_CAP_ID_EXP;
		put16(f->cfg, 0x42, 2 | type << 4);
	}
}

static void bridge(struct fn *f, const char *bdf, int type, unsigned int pri, unsigned int sec,
		   unsigned int sub)
{
	common(f, bdf, 0x10b5, 0x8747, 0x060400, type);
	f->cfg[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_BRIDGE;
	f->cfg[PCI_PRIMARY_BUS] = (uint8_t)pri;
	f->cfg[PCI_SECONDARY_BUS] = (uint8_t)sec;
	f->cfg[PCI_SUBORDINATE_BUS] = (uint8_t)sub;
}

static void endpoint(struct fn *f, const char *bdf, uint32_t class, bool mf)
{
	common(f, bdf, 0x144d, 0xa808, class, PCI_EXP_TYPE_ENDPOINT);
	f->cfg[PCI_HEADER_TYPE] = mf ? 0x80 : 0;
	/* BAR0: 64-bit memory; BAR2: 64-bit prefetchable. */
	put32(f->cfg, PCI_BASE_ADDRESS_0, 0xfb000004);
	put32(f->cfg, PCI_BASE_ADDRESS_2, 0x0000000c);
	put32(f->cfg, PCI_BASE_ADDRESS_3, 0x00000040);
}

/* An ACS capability at @pos, chained to @next. */
static void acs(struct fn *f, unsigned int pos, uint16_t ctrl, unsigned int next)
{
	put32(f->cfg, pos, PCI_EXT_CAP_ID_ACS | 1 << 16 | next << 20);
	put16(f->cfg, pos + PCI_ACS_CAP, 0x5f);
	put16(f->cfg, pos + PCI_ACS_CTRL, ctrl);
}

static void write_fn(FILE *out, const struct fn *f, const char *prefix, const char *eol)
{
	fprintf(out, "%s%s Some device: name%s", prefix, f->bdf, eol);
	for (unsigned int off = 0; off < f->len; off += 16) {
		fprintf(out, "%s%02x:", prefix, off);
		for (unsigned int i = 0; i < 16; i++)
			fprintf(out, " %02x", f->cfg[off + i]);
		fputs(eol, out);
	}
	fputs(eol, out);
}

static struct pci_import *import_text(const char *text, char *err, size_t len)
{
	FILE *in = fmemopen((void *)text, strlen(text), "r");
	struct pci_import *imp;

	assert_non_null(in);
	imp = pci_import_lspci(in, "test", err, len);
	fclose(in);
	return imp;
}

static char *dump_of(struct fn *fns, unsigned int n, const char *prefix, const char *eol)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	assert_non_null(out);
	for (unsigned int i = 0; i < n; i++)
		write_fn(out, &fns[i], prefix, eol);
	assert_int_equal(fclose(out), 0);
	return text;
}

static bool has_warning(struct pci_import *imp, const char *phrase)
{
	for (unsigned int i = 0; i < pci_import_nr_warnings(imp); i++)
		if (strstr(pci_import_warning(imp, i), phrase))
			return true;
	return false;
}

/*
 *  00:00.0 host    00:01.0 root port (ACS RR CR at 0x148, AER first) -- 01:00.0 NVMe
 *  80:00.0 host    80:02.0 root port -- 81:00.0 GPU (functions 0, 1)
 */
static unsigned int small_machine(struct fn *fns)
{
	common(&fns[0], "0000:00:00.0", 0x8086, 0x2020, 0x060000, -1);
	bridge(&fns[1], "0000:00:01.0", PCI_EXP_TYPE_ROOT_PORT, 0, 1, 1);
	put32(fns[1].cfg, 0x100, PCI_EXT_CAP_ID_ERR | 2 << 16 | 0x148 << 20);
	acs(&fns[1], 0x148, PCI_ACS_RR | PCI_ACS_CR, 0);
	endpoint(&fns[2], "0000:01:00.0", 0x010802, false);
	common(&fns[3], "0000:80:00.0", 0x8086, 0x2020, 0x060000, -1);
	bridge(&fns[4], "0000:80:02.0", PCI_EXP_TYPE_ROOT_PORT, 0x80, 0x81, 0x81);
	endpoint(&fns[5], "0000:81:00.0", 0x030200, true);
	endpoint(&fns[6], "0000:81:00.1", 0x040300, true);
	return 7;
}

/* --- the dump reader -------------------------------------------------------------------- */

/* One host bridge per root bus, in one domain; ACS found behind AER; IDs and classes decoded. */
static void test_dump_tree(void **state)
{
	struct fn fns[8];
	unsigned int n = small_machine(fns);
	char err[256], *text = dump_of(fns, n, "", "\n");
	struct pci_import *imp = import_text(text, err, sizeof(err));
	struct pci_dev *nvme, *rp, *gpu1;
	const struct pci_import_func *f;

	assert_false(IS_ERR(imp));
	assert_int_equal(pci_import_nr_devs(imp), 7);
	nvme = pci_import_find(imp, "0000:01:00.0");
	rp = pci_import_find(imp, "00:01.0");
	gpu1 = pci_import_find(imp, "0000:81:00.1");
	assert_non_null(nvme);
	assert_ptr_equal(pci_upstream_bridge(nvme), rp);
	assert_null(pci_upstream_bridge(rp));
	assert_string_equal(pci_host_bridge_name(pci_host_bridge_of(nvme)), "pci0000:00");
	assert_string_equal(pci_host_bridge_name(pci_host_bridge_of(gpu1)), "pci0000:80");
	assert_int_equal(pci_import_root_bus(imp, pci_host_bridge_of(gpu1)), 0x80);
	f = pci_import_func_of(rp);
	assert_int_equal(f->pcie_type, PCI_EXP_TYPE_ROOT_PORT);
	assert_int_equal(f->acs, PCI_IMPORT_ACS_READ);
	assert_int_equal(f->acs_ctrl, PCI_ACS_RR | PCI_ACS_CR);
	f = pci_import_func_of(nvme);
	assert_int_equal(f->class, 0x010802);
	assert_int_equal(f->acs, PCI_IMPORT_ACS_NONE);
	assert_true(f->bar[0].implemented && f->bar[0].mem64 && !f->bar[0].prefetch);
	assert_false(f->bar[1].implemented);
	assert_true(f->bar[2].prefetch && f->bar[2].mem64);
	assert_true(pci_import_func_of(gpu1)->multifunction);
	assert_int_equal(pci_import_nr_warnings(imp), 0);
	pci_import_destroy(imp);
	free(text);
}

/* A dump pasted with indentation, CRLF line ends and text around it reads the same. */
static void test_dump_pasted(void **state)
{
	struct fn fns[8];
	unsigned int n = small_machine(fns);
	char err[256], *body = dump_of(fns, n, "    ", "\r\n"), *text;
	struct pci_import *imp;

	assert_true(asprintf(&text, "$ sudo lspci -xxxx\r\nHere is my dump:\r\n%s-- \r\nthanks\r\n",
			     body) > 0);
	imp = import_text(text, err, sizeof(err));
	assert_false(IS_ERR(imp));
	assert_int_equal(pci_import_nr_devs(imp), 7);
	assert_int_equal(pci_import_func_of(pci_import_find(imp, "0000:00:01.0"))->acs_ctrl,
			 PCI_ACS_RR | PCI_ACS_CR);
	pci_import_destroy(imp);
	free(text);
	free(body);
}

/* Without -D lspci prints "bb:dd.f": domain 0000. */
static void test_dump_without_domain(void **state)
{
	struct fn fns[8];
	char err[256], *text;
	struct pci_import *imp;

	small_machine(fns);
	fns[0].bdf = "00:00.0";
	fns[1].bdf = "00:01.0";
	fns[2].bdf = "01:00.0";
	text = dump_of(fns, 3, "", "\n");
	imp = import_text(text, err, sizeof(err));
	assert_false(IS_ERR(imp));
	assert_non_null(pci_import_find(imp, "0000:01:00.0"));
	assert_string_equal(pci_name(pci_import_find(imp, "01:00.0")), "0000:01:00.0");
	pci_import_destroy(imp);
	free(text);
}

/* lspci -vvv lines: BAR sizes, the driver, ACSCtl when the bytes stop at 256. */
static void test_dump_verbose(void **state)
{
	struct fn fns[8];
	char err[256], *hex, *text;
	struct pci_import *imp;
	const struct pci_import_func *f;

	small_machine(fns);
	fns[1].len = fns[2].len = 256;
	hex = dump_of(fns, 3, "", "\n");
	/* Verbose lines go between a header and its bytes, as lspci -vvv -xxx prints them. */
	text = calloc(1, strlen(hex) + 1024);
	assert_non_null(text);
	{
		const char *rp = strstr(hex, "0000:00:01.0"), *ep = strstr(hex, "0000:01:00.0");
		const char *rp_eol = strchr(rp, '\n') + 1, *ep_eol = strchr(ep, '\n') + 1;

		strncat(text, hex, (size_t)(rp_eol - hex));
		strcat(text,
		       "\tCapabilities: [148 v1] Access Control Services\n"
		       "\t\tACSCap:\tSrcValid+ TransBlk+ ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl- DirectTrans-\n"
		       "\t\tACSCtl:\tSrcValid+ TransBlk- ReqRedir+ CmpltRedir- UpstreamFwd+ EgressCtrl- DirectTrans-\n"
		       "\tKernel driver in use: pcieport\n");
		strncat(text, rp_eol, (size_t)(ep_eol - rp_eol));
		strcat(text,
		       "\tRegion 0: Memory at fb000000 (64-bit, non-prefetchable) [size=16K]\n"
		       "\tRegion 2: Memory at 80000000 (64-bit, prefetchable) [size=32G]\n"
		       "\tCapabilities: [100 v2] Advanced Error Reporting\n"
		       "\tKernel driver in use: nvme\n");
		strcat(text, ep_eol);
	}
	imp = import_text(text, err, sizeof(err));
	assert_false(IS_ERR(imp));
	f = pci_import_func_of(pci_import_find(imp, "0000:00:01.0"));
	assert_int_equal(f->config_len, 256);
	assert_int_equal(f->acs, PCI_IMPORT_ACS_READ);
	assert_int_equal(f->acs_ctrl, PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_UF);
	assert_string_equal(f->driver, "pcieport");
	f = pci_import_func_of(pci_import_find(imp, "0000:01:00.0"));
	assert_string_equal(f->driver, "nvme");
	assert_int_equal(f->bar[0].size, 16 << 10);
	assert_int_equal(f->bar[2].size, 32ULL << 30);
	/* Its extended capabilities were listed without ACS: it has none. */
	assert_int_equal(f->acs, PCI_IMPORT_ACS_NONE);
	pci_import_destroy(imp);
	free(text);
	free(hex);
}

/* 64 bytes (an unprivileged read): no capabilities, bridges' port types guessed, ACS unknown. */
static void test_dump_64_bytes(void **state)
{
	struct fn fns[8];
	unsigned int n = small_machine(fns);
	char err[256], *text;
	struct pci_import *imp;
	const struct pci_import_func *f;

	for (unsigned int i = 0; i < n; i++)
		fns[i].len = 64;
	text = dump_of(fns, n, "", "\n");
	imp = import_text(text, err, sizeof(err));
	assert_false(IS_ERR(imp));
	f = pci_import_func_of(pci_import_find(imp, "0000:00:01.0"));
	assert_int_equal(f->pcie_type, PCI_EXP_TYPE_ROOT_PORT);
	assert_true(f->pcie_type_guessed);
	assert_int_equal(f->acs, PCI_IMPORT_ACS_UNKNOWN);
	assert_int_equal(f->acs_ctrl, 0);
	assert_true(has_warning(imp, "ACS is unknown"));
	assert_true(has_warning(imp, "64 bytes"));
	pci_import_destroy(imp);
	free(text);
}

/* 256 bytes of a conventional PCI function: no extended space exists, so no ACS either. */
static void test_dump_conventional(void **state)
{
	struct fn f;
	char err[256], *text;
	struct pci_import *imp;

	common(&f, "0000:00:03.0", 0x1af4, 0x1041, 0x020000, -1);
	f.len = 256;
	text = dump_of(&f, 1, "", "\n");
	imp = import_text(text, err, sizeof(err));
	assert_false(IS_ERR(imp));
	assert_int_equal(pci_import_func_of(pci_import_find(imp, "00:03.0"))->acs,
			 PCI_IMPORT_ACS_NONE);
	assert_int_equal(pci_import_nr_warnings(imp), 0);
	pci_import_destroy(imp);
	free(text);
}

/* Nothing usable: the error says what to run; duplicates and stray bytes are warnings. */
static void test_dump_errors(void **state)
{
	struct fn fns[8];
	char err[256], *text;
	struct pci_import *imp;

	imp = import_text("hello\nworld\n", err, sizeof(err));
	assert_int_equal(PTR_ERR(imp), -ENODATA);
	assert_non_null(strstr(err, "lspci -vvv -xxxx"));
	imp = import_text("00:00.0 Host bridge: Intel\n00:01.0 PCI bridge: Intel\n", err,
			  sizeof(err));
	assert_int_equal(PTR_ERR(imp), -ENODATA);
	assert_non_null(strstr(err, "2 function headers but no configuration bytes"));

	small_machine(fns);
	fns[1] = fns[0];
	text = dump_of(fns, 2, "", "\n");
	{
		char *more;

		assert_true(asprintf(&more, "00: 01 02 03\n%s", text) > 0);
		free(text);
		text = more;
	}
	imp = import_text(text, err, sizeof(err));
	assert_false(IS_ERR(imp));
	assert_int_equal(pci_import_nr_devs(imp), 1);
	assert_true(has_warning(imp, "listed twice"));
	assert_true(has_warning(imp, "outside any function"));
	pci_import_destroy(imp);
	free(text);
}

/*
 * A virtual function on bus 82, which no bridge's secondary names but the
 * root port's range holds: it hangs below that root port. A function on a
 * bus no bridge leads to becomes a root bus, with a warning.
 */
static void test_tree_virtual_bus_and_orphan(void **state)
{
	struct fn fns[4];
	char err[256], *text;
	struct pci_import *imp;
	struct pci_dev *vf, *orphan;

	bridge(&fns[0], "0000:80:02.0", PCI_EXP_TYPE_ROOT_PORT, 0x80, 0x81, 0x82);
	endpoint(&fns[1], "0000:81:00.0", 0x020000, false);
	endpoint(&fns[2], "0000:82:00.1", 0x020000, false);
	endpoint(&fns[3], "0000:05:00.0", 0x010802, false);
	text = dump_of(fns, 4, "", "\n");
	imp = import_text(text, err, sizeof(err));
	assert_false(IS_ERR(imp));
	vf = pci_import_find(imp, "0000:82:00.1");
	orphan = pci_import_find(imp, "0000:05:00.0");
	assert_ptr_equal(pci_upstream_bridge(vf), pci_import_find(imp, "0000:80:02.0"));
	assert_null(pci_upstream_bridge(orphan));
	assert_string_equal(pci_host_bridge_name(pci_host_bridge_of(orphan)), "pci0000:05");
	assert_true(has_warning(imp, "sits on bus 0000:05, which no bridge"));
	pci_import_destroy(imp);
	free(text);
}

/* A what-if clears the redirect bits the computation sees and keeps what was read. */
static void test_assume_acs_off(void **state)
{
	struct fn fns[8];
	unsigned int n = small_machine(fns);
	char err[256], *text = dump_of(fns, n, "", "\n");
	struct pci_import *imp = import_text(text, err, sizeof(err));
	struct pci_dev *rp = pci_import_find(imp, "0000:00:01.0");

	assert_int_equal(pci_import_assume_acs_off(imp, rp), 0);
	assert_true(pci_import_func_of(rp)->acs_assumed_off);
	assert_int_equal(pci_import_func_of(rp)->acs_ctrl, PCI_ACS_RR | PCI_ACS_CR);
	assert_int_equal(pci_import_assume_acs_off(imp, NULL), -EINVAL);
	assert_null(pci_import_find(imp, "0000:01:00.7"));
	assert_null(pci_import_find(imp, "garbage"));
	pci_import_destroy(imp);
	free(text);
}

/* --- the sysfs reader --------------------------------------------------------------------- */

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[4096];
	FILE *f;

	PATHF(path, "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
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

/*
 * ROOT/devices/pci0000:00/0000:00:01.0/0000:01:00.0 ..., linked from
 * ROOT/bus/pci/devices/BDF as the kernel does, or (@plain) copied there as
 * directories.
 */
static void write_sysfs(const char *root, struct fn *fns, const char *const *paths, unsigned int n,
			bool plain, unsigned int len)
{
	char dir[4096], link[4096], bus[4096];

	PATHF(bus, "%s/bus/pci/devices", root);
	mkdirs(bus);
	for (unsigned int i = 0; i < n; i++) {
		static const char resource[] =
			"0x00000000fb000000 0x00000000fb003fff 0x0000000000140204\n"
			"0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
			"0x0000038000000000 0x00000387ffffffff 0x000000000014220c\n";

		if (plain)
			PATHF(dir, "%s/%s", bus, fns[i].bdf);
		else
			PATHF(dir, "%s/devices/%s", root, paths[i]);
		mkdirs(dir);
		write_file(dir, "config", fns[i].cfg, len);
		write_file(dir, "resource", resource, sizeof(resource) - 1);
		if (!plain) {
			PATHF(link, "%s/%s", bus, fns[i].bdf);
			assert_int_equal(symlink(dir, link), 0);
		}
	}
}

static void rm_rf(const char *path)
{
	char cmd[4200];

	PATHF(cmd, "rm -rf '%s'", path);
	assert_int_equal(system(cmd), 0);
}

/* Parents and host bridges from the link targets; sizes, driver, IOMMU group, p2pmem. */
static void test_sysfs_tree(void **state)
{
	static const char *const paths[] = {
		"pci0000:00/0000:00:00.0",
		"pci0000:00/0000:00:01.0",
		"pci0000:00/0000:00:01.0/0000:01:00.0",
		"pci0000:80/0000:80:00.0",
		"pci0000:80/0000:80:02.0",
		"pci0000:80/0000:80:02.0/0000:81:00.0",
		"pci0000:80/0000:80:02.0/0000:81:00.1",
	};
	char root[] = "/tmp/p2p-check-sysfs-XXXXXX", dir[4096], target[4096], err[256];
	struct fn fns[8];
	unsigned int n = small_machine(fns);
	struct pci_import *imp;
	const struct pci_import_func *f;
	struct pci_dev *gpu;

	assert_non_null(mkdtemp(root));
	write_sysfs(root, fns, paths, n, false, 4096);
	/* The GPU: bound to a driver, translated by the IOMMU, publishing p2pmem. */
	PATHF(dir, "%s/devices/%s", root, paths[5]);
	PATHF(target, "%s/bus/pci/drivers/nvidia", root);
	mkdirs(target);
	PATHF(target, "%s/driver", dir);
	assert_int_equal(symlink("../../../../bus/pci/drivers/nvidia", target), 0);
	PATHF(target, "%s/iommu_group", dir);
	mkdirs(target);
	write_file(target, "type", "DMA-FQ\n", 7);
	PATHF(target, "%s/p2pmem", dir);
	mkdirs(target);
	write_file(target, "size", "268435456\n", 10);
	write_file(target, "available", "134217728\n", 10);
	write_file(target, "published", "1\n", 2);
	write_file(target, "allocate", "", 0);

	PATHF(dir, "%s/bus/pci", root);
	imp = pci_import_sysfs(dir, err, sizeof(err));
	assert_false(IS_ERR(imp));
	gpu = pci_import_find(imp, "0000:81:00.0");
	f = pci_import_func_of(gpu);
	assert_string_equal(f->host, "pci0000:80");
	assert_string_equal(f->parent, "0000:80:02.0");
	assert_string_equal(f->driver, "nvidia");
	assert_string_equal(f->iommu_group_type, "DMA-FQ");
	assert_true(f->p2pmem.present && f->p2pmem.published && f->p2pmem.allocate);
	assert_int_equal(f->p2pmem.size, 256 << 20);
	assert_int_equal(f->p2pmem.available, 128 << 20);
	assert_int_equal(f->bar[0].size, 16 << 10);
	assert_int_equal(f->bar[2].size, 32ULL << 30);
	assert_ptr_equal(pci_upstream_bridge(gpu), pci_import_find(imp, "0000:80:02.0"));
	assert_string_equal(pci_host_bridge_name(pci_host_bridge_of(gpu)), "pci0000:80");
	pci_import_destroy(imp);

	/* The devices directory itself does as well. */
	PATHF(dir, "%s/bus/pci/devices", root);
	imp = pci_import_sysfs(dir, err, sizeof(err));
	assert_false(IS_ERR(imp));
	assert_int_equal(pci_import_nr_devs(imp), n);
	pci_import_destroy(imp);
	rm_rf(root);
}

/* A plain copy has no link targets: bus numbers place the functions, 64 bytes as for a user. */
static void test_sysfs_plain_copy(void **state)
{
	char root[] = "/tmp/p2p-check-sysfs-XXXXXX", dir[4096], err[256];
	struct fn fns[8];
	unsigned int n = small_machine(fns);
	struct pci_import *imp;
	struct pci_dev *nvme;

	assert_non_null(mkdtemp(root));
	write_sysfs(root, fns, NULL, n, true, 64);
	PATHF(dir, "%s/bus/pci", root);
	imp = pci_import_sysfs(dir, err, sizeof(err));
	assert_false(IS_ERR(imp));
	nvme = pci_import_find(imp, "0000:01:00.0");
	assert_string_equal(pci_import_func_of(nvme)->parent, "");
	assert_ptr_equal(pci_upstream_bridge(nvme), pci_import_find(imp, "0000:00:01.0"));
	assert_int_equal(pci_import_func_of(nvme)->config_len, 64);
	assert_int_equal(pci_import_func_of(pci_upstream_bridge(nvme))->acs,
			 PCI_IMPORT_ACS_UNKNOWN);
	pci_import_destroy(imp);
	rm_rf(root);
}

/* No tree, or an empty one: different errors, so that an empty machine is an answer. */
static void test_sysfs_missing_and_empty(void **state)
{
	char root[] = "/tmp/p2p-check-sysfs-XXXXXX", dir[4096], err[256];
	struct pci_import *imp;

	assert_non_null(mkdtemp(root));
	PATHF(dir, "%s/nonexistent", root);
	imp = pci_import_sysfs(dir, err, sizeof(err));
	assert_int_equal(PTR_ERR(imp), -ENOENT);
	PATHF(dir, "%s/bus/pci/devices", root);
	mkdirs(dir);
	PATHF(dir, "%s/bus/pci", root);
	imp = pci_import_sysfs(dir, err, sizeof(err));
	assert_int_equal(PTR_ERR(imp), -ENODATA);
	assert_non_null(strstr(err, "no PCI function"));
	rm_rf(root);
}

/* This machine's own sysfs imports, whatever it holds. */
static void test_sysfs_live(void **state)
{
	char err[256];
	struct pci_import *imp = pci_import_sysfs("/sys/bus/pci", err, sizeof(err));

	if (IS_ERR(imp)) {
		assert_true(PTR_ERR(imp) == -ENOENT || PTR_ERR(imp) == -ENODATA);
		return;
	}
	for (unsigned int i = 0; i < pci_import_nr_devs(imp); i++)
		assert_true(pci_import_func_of(pci_import_dev(imp, i))->config_len >= 64);
	pci_import_destroy(imp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dump_tree),
		cmocka_unit_test(test_dump_pasted),
		cmocka_unit_test(test_dump_without_domain),
		cmocka_unit_test(test_dump_verbose),
		cmocka_unit_test(test_dump_64_bytes),
		cmocka_unit_test(test_dump_conventional),
		cmocka_unit_test(test_dump_errors),
		cmocka_unit_test(test_tree_virtual_bus_and_orphan),
		cmocka_unit_test(test_assume_acs_off),
		cmocka_unit_test(test_sysfs_tree),
		cmocka_unit_test(test_sysfs_plain_copy),
		cmocka_unit_test(test_sysfs_missing_and_empty),
		cmocka_unit_test(test_sysfs_live),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
