// SPDX-License-Identifier: MIT
/*
 * The fixture machines: emulated fabrics dressed as real ones and written
 * as lspci dumps. See fixtures.h.
 *
 * An emulated host bridge i (domain 0x1000 + i, root bus 00) becomes
 * domain @domain, root bus @bus_base of the dump: every bus number below
 * it, in headers and in bridges' bus registers, moves by @bus_base.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hetmem/err.h>
#include <hetmem/pci.h>

#include "fixtures.h"

#define MAX_FNS	   64
#define ACS_KERNEL (PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF) /* pci_std_enable_acs() */

struct gen_fn {
	uint32_t domain;
	unsigned int bus, devfn;
	uint8_t cfg[PCI_CFG_SPACE_SIZE_HM];
	unsigned int len;
	uint64_t bar_size[PCI_STD_NUM_BARS_HM];
	char label[48];
	char verbose[512];
};

struct gen {
	struct pci_fabric *f;
	struct pci_host_bridge *hb[4];
	unsigned int nr_hb;
	struct {
		uint32_t domain;
		unsigned int bus_base, devfn_shift;
	} map[4];
	struct gen_fn fn[MAX_FNS];
	unsigned int n;
	bool failed;
};

/* --- building the emulated machine ------------------------------------------ */

static uint64_t no_read(struct pci_dev *dev, int bar, uint64_t off, unsigned int size)
{
	return 0;
}

static void no_write(struct pci_dev *dev, int bar, uint64_t off, uint64_t val, unsigned int size)
{
}

/* Register BARs: the fixtures never touch memory, so nothing needs backing. */
static const struct pci_bar_ops no_ops = { .read = no_read, .write = no_write };

static struct pci_host_bridge *host(struct gen *g, uint32_t domain, unsigned int bus_base,
				    uint16_t vendor, uint16_t device, bool no_host_function)
{
	unsigned int i = g->nr_hb;
	struct pci_host_bridge_info info = {
		.name = (const char *[]){ "hb0", "hb1", "hb2", "hb3" }[i],
		.domain = (uint16_t)(0x1000 + i),
		.vendor = vendor,
		.device = device,
		.no_host_function = no_host_function,
		.p2p_allowed = true,
		.bus_offset = (1ULL << 47) + ((uint64_t)i << 44),
		.mem_base = 0xc0000000,
		.mem_size = 0x20000000,
		.pref_base = 0x8000000000ULL,
		.pref_size = 0x1000000000ULL,
	};
	struct pci_host_bridge *hb;

	if (!g->f)
		g->f = pci_fabric_create();
	hb = g->f ? pci_host_bridge_add(g->f, &info) : NULL;
	if (IS_ERR_OR_NULL(hb)) {
		g->failed = true;
		return NULL;
	}
	g->map[i].domain = domain;
	g->map[i].bus_base = bus_base;
	g->hb[g->nr_hb++] = hb;
	return hb;
}

static struct pci_dev *check(struct gen *g, struct pci_dev *d)
{
	if (IS_ERR_OR_NULL(d)) {
		g->failed = true;
		return NULL;
	}
	return d;
}

static struct pci_dev *rp(struct gen *g, struct pci_host_bridge *hb, const char *name, uint16_t acs)
{
	return hb ? check(g, pci_root_port_add(hb, name, acs)) : NULL;
}

static struct pci_dev *sw(struct gen *g, struct pci_dev *port, const char *name, unsigned int n,
			  uint16_t acs)
{
	return port ? check(g, pci_switch_add(port, name, n, acs)) : NULL;
}

static struct pci_dev *dsp(struct gen *g, struct pci_dev *usp, unsigned int i)
{
	return usp ? check(g, pci_switch_port(usp, i)) : NULL;
}

enum kind { NVME, GPU, GPU_SMALL, NIC, AUDIO };

static struct pci_dev *ep(struct gen *g, struct pci_dev *port, enum kind k, const char *name,
			  uint16_t vendor, uint16_t device, unsigned int function)
{
	struct pci_endpoint_info info = {
		.name = name,
		.vendor = vendor,
		.device = device,
		.function = function,
	};

	switch (k) {
	case NVME:
		info.class = 0x010802;
		info.bar[0] = (struct pci_bar_desc){ 16 << 10, PCI_BAR_MEM64, &no_ops, NULL };
		break;
	case GPU:
	case GPU_SMALL:
		info.class = 0x030200;
		info.bar[0] = (struct pci_bar_desc){ 16 << 20, 0, &no_ops, NULL };
		info.bar[1] =
			(struct pci_bar_desc){ k == GPU ? 1ULL << 30 : 256ULL << 20,
					       PCI_BAR_MEM64 | PCI_BAR_PREFETCH, &no_ops, NULL };
		info.bar[3] = (struct pci_bar_desc){ 32 << 20, PCI_BAR_MEM64 | PCI_BAR_PREFETCH,
						     &no_ops, NULL };
		break;
	case NIC:
		info.class = 0x020000;
		info.bar[0] = (struct pci_bar_desc){ 32 << 20, PCI_BAR_MEM64 | PCI_BAR_PREFETCH,
						     &no_ops, NULL };
		break;
	case AUDIO:
		info.class = 0x040300;
		info.bar[0] = (struct pci_bar_desc){ 16 << 10, 0, &no_ops, NULL };
		break;
	}
	return port ? check(g, pci_endpoint_add(port, &info)) : NULL;
}

/* --- dressing it ------------------------------------------------------------------ */

static unsigned int host_index(struct gen *g, struct pci_dev *dev)
{
	for (unsigned int i = 0; i < g->nr_hb; i++)
		if (g->hb[i] == pci_host_bridge_of(dev))
			return i;
	return 0;
}

/* Snapshot every function of the enumerated fabric, renumbered for the dump. */
static void take(struct gen *g)
{
	struct pci_dev *dev = NULL;

	if (g->failed || pci_fabric_enumerate(g->f)) {
		g->failed = true;
		return;
	}
	while ((dev = pci_fabric_next_dev(g->f, dev)) && g->n < MAX_FNS) {
		struct gen_fn *fn = &g->fn[g->n++];
		unsigned int h = host_index(g, dev), base = g->map[h].bus_base;

		fn->domain = g->map[h].domain;
		fn->bus = pci_dev_busnr(dev) + base;
		fn->devfn = pci_dev_devfn(dev);
		if (!pci_upstream_bridge(dev))
			fn->devfn += g->map[h].devfn_shift << 3;
		pci_config_snapshot(dev, fn->cfg);
		fn->len = PCI_CFG_SPACE_SIZE_HM;
		for (int b = 0; b < PCI_STD_NUM_BARS_HM; b++)
			fn->bar_size[b] = pci_resource_len(dev, b);
		snprintf(fn->label, sizeof(fn->label), "%s", pci_dev_label(dev));
		if (pci_is_bridge(dev))
			for (unsigned int r = PCI_PRIMARY_BUS; r <= PCI_SUBORDINATE_BUS; r++)
				if (fn->cfg[r] || r == PCI_PRIMARY_BUS)
					fn->cfg[r] = (uint8_t)(fn->cfg[r] + base);
	}
}

static struct gen_fn *fn_of(struct gen *g, const char *label)
{
	for (unsigned int i = 0; i < g->n; i++)
		if (!strcmp(g->fn[i].label, label))
			return &g->fn[i];
	g->failed = true;
	return NULL;
}

static void set16(uint8_t *cfg, unsigned int off, uint16_t v)
{
	cfg[off] = v & 0xff;
	cfg[off + 1] = v >> 8;
}

static void set32(uint8_t *cfg, unsigned int off, uint32_t v)
{
	set16(cfg, off, v & 0xffff);
	set16(cfg, off + 2, v >> 16);
}

static void set_id(struct gen *g, const char *label, uint16_t vendor, uint16_t device)
{
	struct gen_fn *fn = fn_of(g, label);

	if (fn) {
		set16(fn->cfg, PCI_VENDOR_ID, vendor);
		set16(fn->cfg, PCI_DEVICE_ID, device);
	}
}

static void set_ids(struct gen *g, const char *const *labels, uint16_t vendor, uint16_t device)
{
	for (; *labels; labels++)
		set_id(g, *labels, vendor, device);
}

/* An ACS capability at 0x100 of a function that has none (an endpoint). */
static void add_acs(struct gen *g, const char *label, uint16_t ctrl)
{
	struct gen_fn *fn = fn_of(g, label);

	if (!fn)
		return;
	set32(fn->cfg, 0x100, PCI_EXT_CAP_ID_ACS | (1 << 16));
	set16(fn->cfg, 0x100 + PCI_ACS_CAP, PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF);
	set16(fn->cfg, 0x100 + PCI_ACS_CTRL, ctrl);
}

/*
 * Real ports rarely have ACS first: put Advanced Error Reporting at 0x100
 * and move the ACS capability (header, capability, control, egress
 * vector) behind it, as many chipsets lay them out.
 */
static void acs_behind_aer(struct gen *g, const char *label)
{
	struct gen_fn *fn = fn_of(g, label);

	if (!fn)
		return;
	memcpy(fn->cfg + 0x148, fn->cfg + 0x100, 12);
	memset(fn->cfg + 0x100, 0, 0x48);
	set32(fn->cfg, 0x100, PCI_EXT_CAP_ID_ERR | (2 << 16) | (0x148 << 20));
}

/* An Advanced Error Reporting capability, all a switch's upstream port has in its extended space. */
static void add_aer(struct gen *g, const char *label)
{
	struct gen_fn *fn = fn_of(g, label);

	if (fn)
		set32(fn->cfg, 0x100, PCI_EXT_CAP_ID_ERR | (2 << 16));
}

/* Resizable BAR 1: 256 MiB now, 256 MiB to @max_log2 MiB supported. */
static void add_rebar(struct gen *g, const char *label, unsigned int max_log2)
{
	struct gen_fn *fn = fn_of(g, label);
	uint32_t sizes = 0;

	if (!fn)
		return;
	for (unsigned int s = 8; s <= max_log2; s++)
		sizes |= 1U << (s + 4);
	set32(fn->cfg, 0x100, 0x15 | (1 << 16));
	set32(fn->cfg, 0x104, sizes);
	set32(fn->cfg, 0x108, 1 | (1 << 5) | (8 << 8));
}

/* A function of its own making on a root bus: an integrated device. */
static void add_rciep(struct gen *g, uint32_t domain, unsigned int bus, unsigned int devfn,
		      uint16_t vendor, uint16_t device, uint32_t class, const char *label)
{
	struct gen_fn *fn = &g->fn[g->n++];

	memset(fn, 0, sizeof(*fn));
	fn->domain = domain;
	fn->bus = bus;
	fn->devfn = devfn;
	fn->len = PCI_CFG_SPACE_SIZE_HM;
	set16(fn->cfg, PCI_VENDOR_ID, vendor);
	set16(fn->cfg, PCI_DEVICE_ID, device);
	set32(fn->cfg, PCI_CLASS_REVISION, class << 8);
	set16(fn->cfg, PCI_STATUS, PCI_STATUS_CAP_LIST);
	fn->cfg[PCI_CAPABILITY_LIST] = 0x40;
	fn->cfg[0x40] = PCI_CAP_ID_EXP;
	set16(fn->cfg, 0x42, 2 | (PCI_EXP_TYPE_RC_END << 4));
	snprintf(fn->label, sizeof(fn->label), "%s", label);
}

static void truncate_all(struct gen *g, unsigned int len)
{
	for (unsigned int i = 0; i < g->n; i++)
		g->fn[i].len = len;
}

/* lspci -vvv lines: BAR sizes, the driver, the ACS control register of ports. */
static void add_verbose(struct gen *g, const char *label, const char *driver)
{
	struct gen_fn *fn = fn_of(g, label);
	size_t used = 0;
	int nbar;

	if (!fn)
		return;
	nbar = (fn->cfg[PCI_HEADER_TYPE] & 0x7f) ? 2 : 6;
	for (int b = 0; b < nbar; b++) {
		static const char unit[] = "KMG";
		uint32_t v = fn->cfg[0x10 + 4 * b] | fn->cfg[0x11 + 4 * b] << 8 |
			     fn->cfg[0x12 + 4 * b] << 16 | (uint32_t)fn->cfg[0x13 + 4 * b] << 24;
		uint64_t size = fn->bar_size[b];
		int u = 0;

		if (!v || !size)
			continue;
		for (size >>= 10; size >= 1024 && u < 2; size >>= 10)
			u++;
		used += (size_t)snprintf(
			fn->verbose + used, sizeof(fn->verbose) - used,
			"\tRegion %d: Memory at %08x (%s, %sprefetchable) [size=%u%c]\n", b,
			v & ~0xfU, (v & 6) == 4 ? "64-bit" : "32-bit", (v & 8) ? "" : "non-",
			(unsigned int)size, unit[u]);
		if ((v & 6) == 4)
			b++;
	}
	/* The extended capabilities, as lspci -vvv lists them when run as root. */
	for (unsigned int pos = 0x100, ttl = 16; pos >= 0x100 && ttl--;) {
		uint32_t hdr = fn->cfg[pos] | fn->cfg[pos + 1] << 8 | fn->cfg[pos + 2] << 16 |
			       (uint32_t)fn->cfg[pos + 3] << 24;
		uint16_t c = fn->cfg[pos + 6] | fn->cfg[pos + 7] << 8;

		if (!hdr)
			break;
		if (PCI_EXT_CAP_ID(hdr) == PCI_EXT_CAP_ID_ACS)
			used += (size_t)snprintf(
				fn->verbose + used, sizeof(fn->verbose) - used,
				"\tCapabilities: [%03x v1] Access Control Services\n"
				"\t\tACSCtl:\tSrcValid%c TransBlk%c ReqRedir%c CmpltRedir%c UpstreamFwd%c EgressCtrl%c DirectTrans%c\n",
				pos, c & PCI_ACS_SV ? '+' : '-', c & PCI_ACS_TB ? '+' : '-',
				c & PCI_ACS_RR ? '+' : '-', c & PCI_ACS_CR ? '+' : '-',
				c & PCI_ACS_UF ? '+' : '-', c & PCI_ACS_EC ? '+' : '-',
				c & PCI_ACS_DT ? '+' : '-');
		else
			used += (size_t)snprintf(fn->verbose + used, sizeof(fn->verbose) - used,
						 "\tCapabilities: [%03x v%u] %s\n", pos,
						 (hdr >> 16) & 0xf,
						 PCI_EXT_CAP_ID(hdr) == PCI_EXT_CAP_ID_ERR ?
							 "Advanced Error Reporting" :
							 "Physical Resizable BAR");
		pos = PCI_EXT_CAP_NEXT(hdr);
	}
	if (driver)
		snprintf(fn->verbose + used, sizeof(fn->verbose) - used,
			 "\tKernel driver in use: %s\n", driver);
}

static const char *class_name(const uint8_t *cfg)
{
	switch (cfg[PCI_CLASS_DEVICE + 1] << 8 | cfg[PCI_CLASS_DEVICE]) {
	case 0x0108:
		return "Non-Volatile memory controller";
	case 0x0200:
		return "Ethernet controller";
	case 0x0300:
		return "VGA compatible controller";
	case 0x0302:
		return "3D controller";
	case 0x0403:
		return "Audio device";
	case 0x0600:
		return "Host bridge";
	case 0x0604:
		return "PCI bridge";
	default:
		return "System peripheral";
	}
}

static int cmp_fn(const void *pa, const void *pb)
{
	const struct gen_fn *a = pa, *b = pb;

	if (a->domain != b->domain)
		return a->domain < b->domain ? -1 : 1;
	if (a->bus != b->bus)
		return (int)a->bus - (int)b->bus;
	return (int)a->devfn - (int)b->devfn;
}

/* As lspci prints it: "%02x:" offsets, 16 bytes a line, a blank line after each function. */
static int emit(struct gen *g, FILE *out)
{
	if (g->failed) {
		pci_fabric_destroy(g->f);
		return -1;
	}
	qsort(g->fn, g->n, sizeof(g->fn[0]), cmp_fn);
	for (unsigned int i = 0; i < g->n; i++) {
		struct gen_fn *fn = &g->fn[i];

		fprintf(out, "%04x:%02x:%02x.%u %s: %04x:%04x (fixture %s)\n", fn->domain, fn->bus,
			PCI_SLOT(fn->devfn), PCI_FUNC(fn->devfn), class_name(fn->cfg),
			fn->cfg[0] | fn->cfg[1] << 8, fn->cfg[2] | fn->cfg[3] << 8, fn->label);
		fputs(fn->verbose, out);
		for (unsigned int off = 0; off < fn->len; off += 16) {
			fprintf(out, "%02x:", off);
			for (unsigned int b = 0; b < 16; b++)
				fprintf(out, " %02x", fn->cfg[off + b]);
			fputc('\n', out);
		}
		fputc('\n', out);
	}
	pci_fabric_destroy(g->f);
	return ferror(out) ? -1 : 0;
}

/* --- the machines ---------------------------------------------------------------- */

/*
 *  pci0000:00 (8086:2020, Skylake-E: on the allow-list)
 *   +- 00:01.0 rp0 -- 01:00.0 PLX 8747 -+- 02:00.0 -- 03:00.0 NVMe
 *   |                                   +- 02:01.0 -- 04:00.0 GPU
 *   +- 00:02.0 rp1 ------------------------------------ 05:00.0 NIC
 */
static int switch_machine(FILE *out, uint16_t host_id, uint16_t acs, bool aer_first,
			  unsigned int bytes, bool verbose)
{
	static const char *const plx[] = { "sw0", "sw0.0", "sw0.1", NULL };
	static const char *const ports[] = { "rp0", "rp1", NULL };
	struct gen g = { 0 };
	struct pci_host_bridge *hb = host(&g, 0x0000, 0x00, 0x8086, host_id, false);
	struct pci_dev *r0 = rp(&g, hb, "rp0", acs), *r1 = rp(&g, hb, "rp1", acs);
	struct pci_dev *s = sw(&g, r0, "sw0", 2, acs);

	ep(&g, dsp(&g, s, 0), NVME, "nvme0", 0x144d, 0xa808, 0);
	ep(&g, dsp(&g, s, 1), GPU, "gpu0", 0x10de, 0x1db6, 0);
	ep(&g, r1, NIC, "nic0", 0x15b3, 0x1017, 0);
	take(&g);
	set_ids(&g, plx, 0x10b5, 0x8747);
	set_ids(&g, ports, 0x8086, 0x2030);
	add_aer(&g, "sw0");
	if (aer_first) {
		acs_behind_aer(&g, "sw0.0");
		acs_behind_aer(&g, "sw0.1");
	}
	if (verbose) {
		static const char *const all[] = { "rp0", "rp1", "sw0", "sw0.0", "sw0.1", NULL };

		for (const char *const *l = all; *l; l++)
			add_verbose(&g, *l, "pcieport");
		add_verbose(&g, "nvme0", "nvme");
		add_verbose(&g, "gpu0", "nvidia");
		add_verbose(&g, "nic0", "mlx5_core");
	}
	if (bytes)
		truncate_all(&g, bytes);
	return emit(&g, out);
}

static int switch_acs_off(FILE *out)
{
	return switch_machine(out, 0x2020, 0, false, 0, false);
}

static int switch_acs_redirect(FILE *out)
{
	return switch_machine(out, 0x2020, ACS_KERNEL, true, 0, false);
}

static int switch_acs_redirect_unlisted(FILE *out)
{
	return switch_machine(out, 0x3e30, ACS_KERNEL, false, 0, false);
}

static int switch_256_bytes(FILE *out)
{
	return switch_machine(out, 0x2020, ACS_KERNEL, false, 256, false);
}

static int switch_vvv_256_bytes(FILE *out)
{
	return switch_machine(out, 0x2020, ACS_KERNEL, false, 256, true);
}

/*
 *  pci0000:00 (@host_id)           pci0000:17 (@host_id)
 *   +- 00:01.0 -- 01:00.0 NVMe      +- 17:01.0 -- 18:00.0 NIC
 *   +- 00:02.0 -- 02:00.0 GPU (256 MiB BAR1, Resizable BAR up to 16 GiB)
 */
static int root_ports(FILE *out, uint16_t vendor, uint16_t host_id, uint16_t port_id)
{
	static const char *const ports[] = { "rp0", "rp1", "rp2", NULL };
	struct gen g = { 0 };
	struct pci_host_bridge *a = host(&g, 0x0000, 0x00, vendor, host_id, false);
	struct pci_host_bridge *b = host(&g, 0x0000, 0x17, vendor, host_id, false);

	ep(&g, rp(&g, a, "rp0", 0), NVME, "nvme0", 0x8086, 0x0a54, 0);
	ep(&g, rp(&g, a, "rp1", 0), GPU_SMALL, "gpu0", 0x10de, 0x20b5, 0);
	ep(&g, rp(&g, b, "rp2", 0), NIC, "nic0", 0x15b3, 0x1017, 0);
	take(&g);
	set_ids(&g, ports, vendor, port_id);
	add_rebar(&g, "gpu0", 14);
	return emit(&g, out);
}

static int root_ports_allowed(FILE *out)
{
	return root_ports(out, 0x8086, 0x09a2, 0x347a);
}

static int root_ports_unlisted(FILE *out)
{
	return root_ports(out, 0x8086, 0x9b33, 0x1901);
}

/*
 * An AMD EPYC: root complexes 1022:1480 on root buses 00 and 40 of domain
 * 0000, GPP bridges 1022:1483; not on the allow-list, but the CPU rule
 * (--amd-zen) trusts them.
 *
 *  pci0000:00  +- 00:01.0 -- 01:00.0 NVMe     pci0000:40  +- 40:01.0 -- 41:00.0 GPU
 *              +- 00:02.0 -- 02:00.0 NIC
 */
static int amd_zen(FILE *out)
{
	static const char *const ports[] = { "rp0", "rp1", "rp2", NULL };
	struct gen g = { 0 };
	struct pci_host_bridge *a = host(&g, 0x0000, 0x00, 0x1022, 0x1480, false);
	struct pci_host_bridge *b = host(&g, 0x0000, 0x40, 0x1022, 0x1480, false);

	ep(&g, rp(&g, a, "rp0", 0), NVME, "nvme0", 0x144d, 0xa808, 0);
	ep(&g, rp(&g, a, "rp1", 0), NIC, "nic0", 0x15b3, 0x1017, 0);
	ep(&g, rp(&g, b, "rp2", 0), GPU, "gpu0", 0x10de, 0x20b5, 0);
	take(&g);
	set_ids(&g, ports, 0x1022, 0x1483);
	return emit(&g, out);
}

/*
 *  pci0000:00 (8086:09a2)
 *   +- 00:01.0 -- 01:00.0 NIC port 0, 01:00.1 NIC port 1 (ConnectX-5)
 *   +- 00:02.0 -- 02:00.0 GPU, 02:00.1 its HDMI audio
 *   +- 00:03.0 -- 03:00.0 NIC port 0, 03:00.1 NIC port 1 (E810: ACS RR CR
 *                 on each function, as the kernel sets it with an IOMMU)
 */
static int multifunction(FILE *out)
{
	static const char *const ports[] = { "rp0", "rp1", "rp2", NULL };
	struct gen g = { 0 };
	struct pci_host_bridge *hb = host(&g, 0x0000, 0x00, 0x8086, 0x09a2, false);
	struct pci_dev *r0 = rp(&g, hb, "rp0", 0), *r1 = rp(&g, hb, "rp1", 0);
	struct pci_dev *r2 = rp(&g, hb, "rp2", 0);

	ep(&g, r0, NIC, "cx5.0", 0x15b3, 0x1017, 0);
	ep(&g, r0, NIC, "cx5.1", 0x15b3, 0x1017, 1);
	ep(&g, r1, GPU, "gpu0", 0x10de, 0x2204, 0);
	ep(&g, r1, AUDIO, "gpu0.audio", 0x10de, 0x1aef, 1);
	ep(&g, r2, NIC, "e810.0", 0x8086, 0x1592, 0);
	ep(&g, r2, NIC, "e810.1", 0x8086, 0x1592, 1);
	take(&g);
	set_ids(&g, ports, 0x8086, 0x347a);
	add_acs(&g, "e810.0", ACS_KERNEL);
	add_acs(&g, "e810.1", ACS_KERNEL);
	return emit(&g, out);
}

/*
 * A Skylake-SP with root buses whose first function is no host bridge:
 *
 *  pci0000:00  00:00.0 8086:2020 (on the list)
 *  pci0000:17  no 00.0; first 17:01.0, a root port 8086:2030: the kernel
 *              reads its ID (on the list)     17:01.0 -- 18:00.0 NVMe
 *                                             17:02.0 -- 19:00.0 GPU
 *  pci0000:3a  no 00.0; first 3a:01.0, an integrated device 8086:2021: no
 *              root port, so no ID at all, though root port 3a:02.0
 *              (8086:2030) is on the list     3a:02.0 -- 3b:00.0 NVMe
 *                                             3a:03.0 -- 3c:00.0 GPU
 */
static int first_not_host_bridge(FILE *out)
{
	static const char *const ports[] = { "rp0", "rp1", "rp2", "rp3", NULL };
	struct gen g = { 0 };
	struct pci_host_bridge *a, *b, *c;

	a = host(&g, 0x0000, 0x00, 0x8086, 0x2020, false);
	b = host(&g, 0x0000, 0x17, 0x8086, 0x2020, true);
	c = host(&g, 0x0000, 0x3a, 0x8086, 0x2020, true);
	(void)a;
	g.map[2].devfn_shift = 1;
	ep(&g, rp(&g, b, "rp0", 0), NVME, "nvme0", 0x144d, 0xa808, 0);
	ep(&g, rp(&g, b, "rp1", 0), GPU, "gpu0", 0x10de, 0x1db6, 0);
	ep(&g, rp(&g, c, "rp2", 0), NVME, "nvme1", 0x144d, 0xa808, 0);
	ep(&g, rp(&g, c, "rp3", 0), GPU, "gpu1", 0x10de, 0x1db6, 0);
	take(&g);
	set_ids(&g, ports, 0x8086, 0x2030);
	add_rciep(&g, 0x0000, 0x3a, PCI_DEVFN(1, 0), 0x8086, 0x2021, 0x088000, "cbdma");
	return emit(&g, out);
}

const struct p2p_fixture p2p_fixtures[] = {
	{ "switch-acs-off", "one switch, ACS off, allowed host bridge", switch_acs_off },
	{ "switch-acs-redirect", "the same, ACS redirect on (AER first)", switch_acs_redirect },
	{ "switch-acs-redirect-unlisted", "the same below an unlisted host bridge",
	  switch_acs_redirect_unlisted },
	{ "switch-256-bytes", "ACS redirect on, dumped with 256 bytes", switch_256_bytes },
	{ "switch-vvv-256-bytes", "the same with lspci -vvv lines", switch_vvv_256_bytes },
	{ "root-ports-allowed", "root ports and root buses of an Ice Lake-SP", root_ports_allowed },
	{ "root-ports-unlisted", "the same below an unlisted host bridge", root_ports_unlisted },
	{ "amd-zen", "an AMD EPYC with two root complexes", amd_zen },
	{ "multifunction", "multi-function NICs and a GPU with audio", multifunction },
	{ "first-not-host-bridge", "root buses that start with no host bridge",
	  first_not_host_bridge },
};

const unsigned int nr_p2p_fixtures = sizeof(p2p_fixtures) / sizeof(p2p_fixtures[0]);
