// SPDX-License-Identifier: MIT
/*
 * Decoding an imported function's configuration bytes, as far as the bytes
 * read reach:
 *
 *   0x000  header: IDs, class, header type, BARs, bus numbers
 *          (64 bytes: all an unprivileged read of sysfs config gives)
 *   0x040  capability list: PCI Express port type (256 bytes)
 *   0x100  extended capabilities: ACS, Resizable BAR (4096 bytes: root,
 *          and a PCI Express function)
 *
 * A walk never leaves the bytes read and gives up on loops; a register
 * past them reads all ones, as an absent one does on the bus.
 */
#include <string.h>

#include <hetmem/pci-import.h>
#include "internal.h"

#define EXT_CAP_ID_REBAR 0x15
#define REBAR_ONE_MIB	 (1ULL << 20)

static uint32_t rd(const struct pci_import_func *f, unsigned int off, unsigned int size)
{
	uint32_t v = 0;

	if (off + size > f->config_len)
		return size == 4 ? 0xffffffffU : (1U << (8 * size)) - 1;
	for (unsigned int i = 0; i < size; i++)
		v |= (uint32_t)f->config[off + i] << (8 * i);
	return v;
}

static unsigned int find_cap(const struct pci_import_func *f, unsigned int id)
{
	unsigned int pos, ttl = 48;

	if (!(rd(f, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST) || f->config_len <= PCI_STD_HEADER_SIZEOF)
		return 0;
	pos = rd(f, PCI_CAPABILITY_LIST, 1) & ~3U;
	while (pos >= PCI_STD_HEADER_SIZEOF && pos + 2 <= f->config_len && ttl--) {
		if (rd(f, pos + PCI_CAP_LIST_ID, 1) == id)
			return pos;
		pos = rd(f, pos + PCI_CAP_LIST_NEXT, 1) & ~3U;
	}
	return 0;
}

static unsigned int find_ext_cap(const struct pci_import_func *f, unsigned int id)
{
	unsigned int pos = PCI_CFG_SPACE_SIZE,
		     ttl = (PCI_CFG_SPACE_EXP_SIZE - PCI_CFG_SPACE_SIZE) / 8;
	uint32_t hdr;

	if (f->config_len < PCI_CFG_SPACE_EXP_SIZE)
		return 0;
	hdr = rd(f, pos, 4);
	/* All ones: no extended space behind this function; zero: an empty list. */
	while (hdr && hdr != 0xffffffffU && ttl--) {
		if (PCI_EXT_CAP_ID(hdr) == id)
			return pos;
		pos = PCI_EXT_CAP_NEXT(hdr);
		if (pos < PCI_CFG_SPACE_SIZE)
			break;
		hdr = rd(f, pos, 4);
	}
	return 0;
}

static void decode_bars(struct pci_import_func *f)
{
	unsigned int hdr = rd(f, PCI_HEADER_TYPE, 1) & 0x7f;
	int n = hdr == PCI_HEADER_TYPE_NORMAL ? 6 : hdr == PCI_HEADER_TYPE_BRIDGE ? 2 : 0;

	memset(f->bar, 0, sizeof(f->bar));
	for (int i = 0; i < n; i++) {
		struct pci_import_bar *b = &f->bar[i];
		uint32_t v = rd(f, PCI_BASE_ADDRESS_0 + 4 * i, 4);

		b->size = f->bar_size[i];
		b->implemented = v || b->size;
		if (!b->implemented)
			continue;
		b->io = v & PCI_BASE_ADDRESS_SPACE_IO;
		if (b->io)
			continue;
		b->prefetch = v & PCI_BASE_ADDRESS_MEM_PREFETCH;
		if ((v & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64 &&
		    i + 1 < n) {
			b->mem64 = true;
			i++; /* the upper half */
		}
	}
}

/*
 * Resizable BAR (PCIe 4.0 sec. 7.8.6): per BAR a capability register whose
 * bits 4..31 say which sizes (1 MiB << (bit - 4)) the function supports,
 * and a control register with the BAR index (2:0), the number of entries
 * (7:5, first entry only) and the current size (13:8, 1 MiB << n).
 */
static void decode_rebar(struct pci_import_func *f)
{
	unsigned int pos = find_ext_cap(f, EXT_CAP_ID_REBAR), n;

	f->nr_rebar = 0;
	if (!pos)
		return;
	n = (rd(f, pos + 8, 4) >> 5) & 7;
	for (unsigned int i = 0; i < n && i < PCI_IMPORT_MAX_REBAR; i++) {
		uint32_t cap = rd(f, pos + 4 + 8 * i, 4), ctrl = rd(f, pos + 8 + 8 * i, 4);
		int top = 31;

		while (top >= 4 && !(cap & (1U << top)))
			top--;
		f->rebar[f->nr_rebar].bar = (int)(ctrl & 7);
		f->rebar[f->nr_rebar].current = REBAR_ONE_MIB << ((ctrl >> 8) & 0x3f);
		f->rebar[f->nr_rebar].max = top >= 4 ? REBAR_ONE_MIB << (top - 4) : 0;
		/* The current size is the BAR's size: a dump without sizes learns it here. */
		if ((ctrl & 7) < PCI_STD_NUM_BARS_HM && !f->bar[ctrl & 7].size &&
		    f->bar[ctrl & 7].implemented)
			f->bar[ctrl & 7].size = f->rebar[f->nr_rebar].current;
		f->nr_rebar++;
	}
}

/*
 * ACS: the capability when the extended space was read; else lspci -vvv's
 * line, or its list of extended capabilities without one; else unknown for
 * what may be a PCI Express function, and absent for a conventional one
 * (it has no extended space to hold it).
 */
static void decode_acs(struct pci_import_func *f)
{
	unsigned int pos = find_ext_cap(f, PCI_EXT_CAP_ID_ACS);

	f->acs_cap = 0;
	f->acs_ctrl = 0;
	if (pos) {
		f->acs = PCI_IMPORT_ACS_READ;
		f->acs_cap = (uint16_t)rd(f, pos + PCI_ACS_CAP, 2);
		f->acs_ctrl = (uint16_t)rd(f, pos + PCI_ACS_CTRL, 2);
	} else if (f->acs_hint_valid) {
		f->acs = PCI_IMPORT_ACS_READ;
		f->acs_ctrl = f->acs_hint;
	} else if (f->config_len >= PCI_CFG_SPACE_EXP_SIZE || f->ext_caps_listed) {
		f->acs = PCI_IMPORT_ACS_NONE;
	} else if (f->pcie_type >= 0 || f->config_len <= PCI_STD_HEADER_SIZEOF) {
		f->acs = PCI_IMPORT_ACS_UNKNOWN;
	} else {
		f->acs = PCI_IMPORT_ACS_NONE;
	}
}

void pci_import_decode(struct pci_import_func *f)
{
	unsigned int exp;

	f->vendor = (uint16_t)rd(f, PCI_VENDOR_ID, 2);
	f->device = (uint16_t)rd(f, PCI_DEVICE_ID, 2);
	f->class = rd(f, PCI_CLASS_REVISION, 4) >> 8;
	f->bridge = (rd(f, PCI_HEADER_TYPE, 1) & 0x7f) == PCI_HEADER_TYPE_BRIDGE;
	f->multifunction = rd(f, PCI_HEADER_TYPE, 1) & 0x80;
	exp = find_cap(f, PCI_CAP_ID_EXP);
	f->pcie_type = exp ? (int)((rd(f, exp + PCI_EXP_FLAGS, 2) & PCI_EXP_FLAGS_TYPE) >> 4) : -1;
	f->pcie_type_guessed = false;
	f->acs_assumed_off = false;
	decode_bars(f);
	decode_rebar(f);
	decode_acs(f);
}
