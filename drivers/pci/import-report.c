// SPDX-License-Identifier: MIT
/*
 * The P2P readiness report of an imported machine: which functions could
 * take part in peer-to-peer DMA, and for every pair of them the kernel's
 * map type, distance and reasons, computed by pci_p2p_check_pair() - the
 * emulator's own map-type code - with the machine's CPU rule, its kernel's
 * allow-list and the caller's what-ifs.
 *
 * The writers (import-report-text.c, -json.c, -dot.c) only present it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hetmem/err.h>
#include <hetmem/pci-import.h>

#define ACS_REDIR_BITS (PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_EC)

static const struct {
	uint16_t class; /* base class and subclass */
	const char *name;
} categories[] = {
	{ 0x0108, "NVMe" },	   { 0x0300, "GPU" },	  { 0x0302, "GPU" },
	{ 0x0380, "GPU" },	   { 0x0200, "network" }, { 0x0207, "InfiniBand" },
	{ 0x1200, "accelerator" },
};

const char *pci_p2p_category(uint32_t class)
{
	for (size_t i = 0; i < sizeof(categories) / sizeof(categories[0]); i++)
		if (categories[i].class == class >> 8)
			return categories[i].name;
	return NULL;
}

const char *pci_p2p_map_type_name(enum pci_p2pdma_map_type type)
{
	switch (type) {
	case PCI_P2PDMA_MAP_BUS_ADDR:
		return "BUS_ADDR";
	case PCI_P2PDMA_MAP_THRU_HOST_BRIDGE:
		return "THRU_HOST_BRIDGE";
	case PCI_P2PDMA_MAP_NOT_SUPPORTED:
		return "NOT_SUPPORTED";
	default:
		return "UNKNOWN";
	}
}

const char *pci_p2p_acs_bits(uint16_t ctrl, char *buf, size_t len)
{
	static const struct {
		uint16_t bit;
		const char *name;
	} bits[] = { { PCI_ACS_RR, "RR" }, { PCI_ACS_CR, "CR" }, { PCI_ACS_EC, "EC" } };
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		int n;

		if (!(ctrl & bits[i].bit) || used >= len)
			continue;
		n = snprintf(buf + used, len - used, "%s%s", used ? " " : "", bits[i].name);
		if (n > 0)
			used += (size_t)n;
	}
	return buf;
}

/* An endpoint in --all's sense: a type 0 function that is not a bridge of any kind. */
static bool is_endpoint(const struct pci_import_func *f)
{
	return !f->bridge && (f->class >> 16) != 0x06;
}

/*
 * Functions on the path whose ACS could not be read: only bridges and
 * functions of multi-function devices count (where the kernel and PCIe
 * put ACS to use), and only below a common bridge: without one the
 * traffic crosses the root complex whatever ACS says.
 */
static void collect_unknown(struct pci_p2p_pair *p)
{
	struct pci_dev *ends[2] = { p->provider, p->client };

	if (!p->res.common)
		return;
	for (int side = 0; side < 2; side++) {
		for (struct pci_dev *d = ends[side]; d; d = pci_upstream_bridge(d)) {
			const struct pci_import_func *f = pci_import_func_of(d);

			if (side == 1 && d == p->res.common)
				break;
			if (f->acs == PCI_IMPORT_ACS_UNKNOWN && (f->bridge || f->multifunction) &&
			    p->nr_acs_unknown < PCI_P2P_MAX_PATH)
				p->acs_unknown[p->nr_acs_unknown++] = d;
			if (d == p->res.common)
				break;
		}
	}
}

/* Add @dev to @r->acs_all unless it is there. Return: whether it was added. */
static bool add_acs_one(struct pci_p2p_report *r, const struct pci_dev *dev)
{
	const char *name = pci_name(dev), *p = r->acs_all;
	size_t used = strlen(r->acs_all);

	while (*p) {
		size_t n = strcspn(p, ";");

		if (n == strlen(name) && !strncmp(p, name, n))
			return false;
		p += n + (p[n] == ';');
	}
	if (used + strlen(name) + 2 > sizeof(r->acs_all)) {
		r->acs_all_truncated = true;
		return false;
	}
	snprintf(r->acs_all + used, sizeof(r->acs_all) - used, "%s%s", used ? ";" : "", name);
	return true;
}

/* What-ifs first (they are part of the boot argument that gives these answers). */
static void add_acs_assumed(struct pci_p2p_report *r)
{
	for (unsigned int i = 0; i < pci_import_nr_devs(r->imp); i++) {
		struct pci_dev *d = pci_import_dev(r->imp, i);
		const struct pci_import_func *f = d ? pci_import_func_of(d) : NULL;

		if (f && f->acs_assumed_off && (f->acs_ctrl & ACS_REDIR_BITS))
			r->nr_acs_assumed += add_acs_one(r, d);
	}
}

/* The union of the pairs' ACS lists, in first-seen order: one boot argument for them all. */
static void add_acs_all(struct pci_p2p_report *r, const struct pci_p2p_result *res)
{
	for (unsigned int i = 0; i < res->nr_acs && i < PCI_P2P_MAX_PATH; i++)
		add_acs_one(r, res->acs[i]);
}

struct pci_p2p_report *pci_p2p_report_create(struct pci_import *imp,
					     const struct pci_p2p_report_opts *opts)
{
	struct pci_p2p_report *r = calloc(1, sizeof(*r));
	unsigned int n = pci_import_nr_devs(imp), k = 0;

	if (!r)
		return ERR_PTR(-ENOMEM);
	r->imp = imp;
	r->opts = *opts;
	r->dev = calloc(n ? n : 1, sizeof(*r->dev));
	if (!r->dev)
		goto nomem;
	for (unsigned int i = 0; i < n; i++) {
		struct pci_dev *d = pci_import_dev(imp, i);
		const struct pci_import_func *f = d ? pci_import_func_of(d) : NULL;

		if (f && (opts->all ? is_endpoint(f) : pci_p2p_category(f->class) != NULL))
			r->dev[r->nr_dev++] = d;
	}
	add_acs_assumed(r);
	if (r->nr_dev > 1) {
		r->pairs = calloc((size_t)r->nr_dev * (r->nr_dev - 1) / 2, sizeof(*r->pairs));
		if (!r->pairs)
			goto nomem;
	}
	for (unsigned int i = 0; i < r->nr_dev; i++) {
		for (unsigned int j = i + 1; j < r->nr_dev; j++, k++) {
			struct pci_p2p_pair *p = &r->pairs[k];

			p->a = i;
			p->b = j;
			p->provider = r->dev[i];
			p->client = r->dev[j];
			pci_p2p_check_pair(p->provider, p->client, &r->opts.env, &p->res);
			collect_unknown(p);
			r->count[p->res.type]++;
			if (p->res.type != PCI_P2PDMA_MAP_BUS_ADDR && p->res.common)
				add_acs_all(r, &p->res);
		}
	}
	r->nr_pairs = k;
	return r;
nomem:
	pci_p2p_report_destroy(r);
	return ERR_PTR(-ENOMEM);
}

void pci_p2p_report_destroy(struct pci_p2p_report *r)
{
	if (!r)
		return;
	free(r->pairs);
	free(r->dev);
	free(r);
}

const struct pci_p2p_pair *pci_p2p_report_pair(const struct pci_p2p_report *r, unsigned int a,
					       unsigned int b)
{
	unsigned int lo = a < b ? a : b, hi = a < b ? b : a;

	if (lo == hi || hi >= r->nr_dev)
		return NULL;
	/* Row lo holds pairs (lo, lo+1..n-1); rows above it hold n-1, n-2, ... */
	return &r->pairs[lo * (2 * r->nr_dev - lo - 1) / 2 + (hi - lo - 1)];
}

uint64_t pci_p2p_largest_bar(const struct pci_import_func *f, int *bar)
{
	uint64_t best = 0;

	*bar = -1;
	for (int i = 0; i < PCI_STD_NUM_BARS_HM; i++) {
		const struct pci_import_bar *b = &f->bar[i];

		if (b->implemented && !b->io && b->size > best) {
			best = b->size;
			*bar = i;
		}
	}
	return best;
}

bool pci_p2p_small_bar(const struct pci_import_func *f)
{
	int bar;
	uint64_t size = pci_p2p_largest_bar(f, &bar);
	uint32_t base = f->class >> 16;

	/* GPUs and accelerators lend their memory through a BAR: 256 MiB is a window, not VRAM. */
	return (base == 0x03 || base == 0x12) && size && size <= PCI_P2P_SMALL_BAR;
}
