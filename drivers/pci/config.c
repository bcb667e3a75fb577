// SPDX-License-Identifier: MIT
/*
 * Configuration space of one function: the registers a builder fills in,
 * the write masks that make BAR sizing and read-only bits behave as the
 * PCI spec says, and the decode that turns programmed registers into the
 * windows routing uses.
 *
 * Every function carries 4 KiB: the type 0 or type 1 header (PCI 3.0 ch. 6),
 * a PCI Express capability (PCIe 4.0 sec. 7.5.3) at 0x40 and, on root and
 * switch downstream ports, an ACS extended capability (sec. 7.7.7) at 0x100.
 */
#define pr_fmt(fmt) "pci-config: " fmt

#include <string.h>

#include <hetmem/log.h>
#include "internal.h"

static void cfg_set8(struct pci_config *c, unsigned int off, uint8_t v)
{
	c->data[off] = v;
}

static void cfg_set16(struct pci_config *c, unsigned int off, uint16_t v)
{
	c->data[off] = v & 0xff;
	c->data[off + 1] = v >> 8;
}

static void cfg_set32(struct pci_config *c, unsigned int off, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		c->data[off + i] = (v >> (8 * i)) & 0xff;
}

static void wmask16(struct pci_config *c, unsigned int off, uint16_t m)
{
	c->wmask[off] = m & 0xff;
	c->wmask[off + 1] = m >> 8;
}

static void wmask32(struct pci_config *c, unsigned int off, uint32_t m)
{
	for (int i = 0; i < 4; i++)
		c->wmask[off + i] = (m >> (8 * i)) & 0xff;
}

static void w1c16(struct pci_config *c, unsigned int off, uint16_t m)
{
	c->w1cmask[off] = m & 0xff;
	c->w1cmask[off + 1] = m >> 8;
}

static uint32_t cfg_get(const struct pci_config *c, unsigned int off, unsigned int size)
{
	uint32_t v = 0;

	for (unsigned int i = 0; i < size; i++)
		v |= (uint32_t)c->data[off + i] << (8 * i);
	return v;
}

/* Registers every header type shares: IDs, command/status, class. */
static void init_common(struct pci_config *c, uint16_t vendor, uint16_t device, uint32_t class,
			uint8_t revision, bool caps)
{
	cfg_set16(c, PCI_VENDOR_ID, vendor);
	cfg_set16(c, PCI_DEVICE_ID, device);
	wmask16(c, PCI_COMMAND,
		PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY |
			PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE);
	/* Error bits of the status register are write-one-to-clear. */
	w1c16(c, PCI_STATUS,
	      PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT | PCI_STATUS_REC_TARGET_ABORT |
		      PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_SIG_SYSTEM_ERROR |
		      PCI_STATUS_DETECTED_PARITY);
	if (caps) {
		cfg_set16(c, PCI_STATUS, PCI_STATUS_CAP_LIST);
		cfg_set8(c, PCI_CAPABILITY_LIST, PCI_EXP_CAP_OFF);
	}
	cfg_set32(c, PCI_CLASS_REVISION, (class << 8) | revision);
	c->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
}

/*
 * PCI Express capability, version 2. Link fields describe a Gen3 x4 link,
 * which is what lspci will show; the emulated links have no speed.
 */
static void init_pcie_cap(struct pci_config *c, int type, unsigned int port_nr)
{
	const unsigned int p = PCI_EXP_CAP_OFF;
	uint16_t flags = 2 | (type << 4);
	bool port = type == PCI_EXP_TYPE_ROOT_PORT || type == PCI_EXP_TYPE_DOWNSTREAM;

	if (port)
		flags |= PCI_EXP_FLAGS_SLOT;
	cfg_set8(c, p + PCI_CAP_LIST_ID, PCI_CAP_ID_EXP);
	cfg_set8(c, p + PCI_CAP_LIST_NEXT, 0);
	cfg_set16(c, p + PCI_EXP_FLAGS, flags);
	/* 256-byte max payload supported; role-based error reporting. */
	cfg_set32(c, p + PCI_EXP_DEVCAP, 0x1 | PCI_EXP_DEVCAP_RBER);
	cfg_set16(c, p + PCI_EXP_DEVCTL, PCI_EXP_DEVCTL_RELAX_EN | PCI_EXP_DEVCTL_NOSNOOP_EN |
						 (2 << 12) /* 512-byte max read request */);
	wmask16(c, p + PCI_EXP_DEVCTL, 0x7fff);
	w1c16(c, p + PCI_EXP_DEVSTA, 0x000f);
	cfg_set32(c, p + PCI_EXP_LNKCAP,
		  PCI_EXP_LNKCAP_SLS_8_0GB | (4 << 4) | ((uint32_t)port_nr << 24));
	wmask16(c, p + PCI_EXP_LNKCTL, 0x0fff);
	cfg_set16(c, p + PCI_EXP_LNKSTA, PCI_EXP_LNKSTA_CLS_8_0GB | (4 << PCI_EXP_LNKSTA_NLW_SHIFT));
	if (port) {
		cfg_set32(c, p + PCI_EXP_SLTCAP, (port_nr & 0x1fff) << 19);
		cfg_set16(c, p + PCI_EXP_SLTSTA, PCI_EXP_SLTSTA_PDS);
	}
	cfg_set32(c, p + PCI_EXP_LNKCAP2, PCI_EXP_LNKCAP2_SLS_2_5GB | PCI_EXP_LNKCAP2_SLS_5_0GB |
						  PCI_EXP_LNKCAP2_SLS_8_0GB);
	cfg_set16(c, p + PCI_EXP_LNKCTL2, PCI_EXP_LNKCTL2_TLS_8_0GT);
	wmask16(c, p + PCI_EXP_LNKCTL2, 0x000f);
}

/*
 * ACS (PCIe 4.0 sec. 7.7.7): every control bit the capability register
 * advertises is writable. Egress control has an 8-bit vector.
 */
#define ACS_SUPPORTED                                                                     \
	(PCI_ACS_SV | PCI_ACS_TB | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF | PCI_ACS_EC | \
	 PCI_ACS_DT)

static void init_acs_cap(struct pci_config *c, uint16_t acs_ctrl)
{
	const unsigned int a = PCI_ACS_CAP_OFF;

	cfg_set32(c, a, PCI_EXT_CAP_ID_ACS | (1 << 16));
	cfg_set16(c, a + PCI_ACS_CAP, ACS_SUPPORTED | (8 << 8));
	cfg_set16(c, a + PCI_ACS_CTRL, acs_ctrl & ACS_SUPPORTED);
	wmask16(c, a + PCI_ACS_CTRL, ACS_SUPPORTED);
	wmask32(c, a + PCI_ACS_EGRESS_CTL_V, 0xff);
}

/*
 * A BAR's write mask is what makes sizing work: software writes all ones
 * and reads back the mask, whose zero low bits give the size (PCI 3.0
 * sec. 6.2.5.1). The type bits are read-only.
 */
static void init_bar(struct pci_config *c, int i, const struct pci_bar_desc *b)
{
	unsigned int off = PCI_BASE_ADDRESS_0 + 4 * i;
	uint64_t mask = ~(b->size - 1);
	uint32_t type = PCI_BASE_ADDRESS_SPACE_MEMORY;

	if (b->flags & PCI_BAR_MEM64)
		type |= PCI_BASE_ADDRESS_MEM_TYPE_64;
	if (b->flags & PCI_BAR_PREFETCH)
		type |= PCI_BASE_ADDRESS_MEM_PREFETCH;
	cfg_set32(c, off, type);
	wmask32(c, off, (uint32_t)mask & ~0xfU);
	if (b->flags & PCI_BAR_MEM64)
		wmask32(c, off + 4, (uint32_t)(mask >> 32));
}

void pci_config_init_endpoint(struct pci_dev *dev, const struct pci_endpoint_info *info)
{
	struct pci_config *c = &dev->cfg;

	init_common(c, info->vendor, info->device, info->class, info->revision, true);
	cfg_set8(c, PCI_HEADER_TYPE, PCI_HEADER_TYPE_NORMAL);
	for (int i = 0; i < PCI_STD_NUM_BARS_HM; i++)
		if (info->bar[i].size)
			init_bar(c, i, &info->bar[i]);
	cfg_set16(c, PCI_SUBSYSTEM_VENDOR_ID, info->subsystem_vendor);
	cfg_set16(c, PCI_SUBSYSTEM_ID, info->subsystem_device);
	cfg_set8(c, PCI_INTERRUPT_PIN, 1);
	c->wmask[PCI_INTERRUPT_LINE] = 0xff;
	init_pcie_cap(c, PCI_EXP_TYPE_ENDPOINT, 0);
}

void pci_config_init_host(struct pci_dev *dev, uint16_t vendor, uint16_t device)
{
	init_common(&dev->cfg, vendor, device, 0x060000, 0, false);
	cfg_set8(&dev->cfg, PCI_HEADER_TYPE, PCI_HEADER_TYPE_NORMAL);
}

void pci_config_init_port(struct pci_dev *dev, int pcie_type, uint16_t acs_ctrl)
{
	struct pci_config *c = &dev->cfg;

	init_common(c, 0x4854, 0x8000 | pcie_type, 0x060400, 0, true);
	cfg_set8(c, PCI_HEADER_TYPE, PCI_HEADER_TYPE_BRIDGE);
	c->wmask[PCI_PRIMARY_BUS] = 0xff;
	c->wmask[PCI_SECONDARY_BUS] = 0xff;
	c->wmask[PCI_SUBORDINATE_BUS] = 0xff;
	/*
	 * The fabric has no I/O space. The I/O window registers are writable
	 * (16-bit decode) so firmware can close the window with base above
	 * limit, which is how lspci and OSes recognise an unused one.
	 */
	c->wmask[PCI_IO_BASE] = 0xf0;
	c->wmask[PCI_IO_LIMIT] = 0xf0;
	wmask16(c, PCI_MEMORY_BASE, 0xfff0);
	wmask16(c, PCI_MEMORY_LIMIT, 0xfff0);
	cfg_set16(c, PCI_PREF_MEMORY_BASE, PCI_PREF_RANGE_TYPE_64);
	cfg_set16(c, PCI_PREF_MEMORY_LIMIT, PCI_PREF_RANGE_TYPE_64);
	wmask16(c, PCI_PREF_MEMORY_BASE, 0xfff0);
	wmask16(c, PCI_PREF_MEMORY_LIMIT, 0xfff0);
	wmask32(c, PCI_PREF_BASE_UPPER32, 0xffffffff);
	wmask32(c, PCI_PREF_LIMIT_UPPER32, 0xffffffff);
	wmask16(c, PCI_BRIDGE_CONTROL, 0x0fff);
	w1c16(c, PCI_SEC_STATUS, 0xf900);
	init_pcie_cap(c, pcie_type, PCI_SLOT(dev->devfn) + 1);
	if (pcie_type != PCI_EXP_TYPE_UPSTREAM)
		init_acs_cap(c, acs_ctrl);
}

uint32_t pci_config_read(struct pci_dev *dev, unsigned int where, unsigned int size)
{
	return cfg_get(&dev->cfg, where, size);
}

void pci_config_write(struct pci_dev *dev, unsigned int where, unsigned int size, uint32_t val)
{
	struct pci_config *c = &dev->cfg;

	for (unsigned int i = 0; i < size; i++) {
		uint8_t b = (val >> (8 * i)) & 0xff;
		unsigned int off = where + i;
		uint8_t w = c->wmask[off], w1c = c->w1cmask[off];

		c->data[off] = (c->data[off] & ~w) | (b & w);
		c->data[off] &= ~(b & w1c);
	}
	pci_config_decode(dev);
	/* Bridge registers decide routing: whoever cached a route decision must redo it. */
	if (dev->subordinate && dev->fabric)
		__atomic_add_fetch(&dev->fabric->cfg_gen, 1, __ATOMIC_RELEASE);
	/* A new secondary bus number renames everything on that bus. */
	if (dev->subordinate && where <= PCI_SECONDARY_BUS && where + size > PCI_SECONDARY_BUS)
		for (unsigned int i = 0; i < dev->subordinate->nr_present; i++)
			pci_update_name(dev->subordinate->present[i]);
}

static void decode_bars(struct pci_dev *dev)
{
	for (int i = 0; i < PCI_STD_NUM_BARS_HM; i++) {
		struct pci_bar *b = &dev->bar[i];
		uint64_t addr;

		if (!b->size)
			continue;
		addr = cfg_get(&dev->cfg, PCI_BASE_ADDRESS_0 + 4 * i, 4) & PCI_BASE_ADDRESS_MEM_MASK;
		if (b->flags & PCI_BAR_MEM64)
			addr |= (uint64_t)cfg_get(&dev->cfg, PCI_BASE_ADDRESS_0 + 4 * i + 4, 4) << 32;
		b->addr = addr;
	}
}

/* Bridge windows (PCI-PCI bridge 1.2 sec. 3.2.5.8, 3.2.5.9): 1 MiB granules. */
static void decode_windows(struct pci_dev *dev)
{
	const struct pci_config *c = &dev->cfg;
	uint64_t base, limit;

	base = (uint64_t)(cfg_get(c, PCI_MEMORY_BASE, 2) & 0xfff0) << 16;
	limit = ((uint64_t)(cfg_get(c, PCI_MEMORY_LIMIT, 2) & 0xfff0) << 16) | 0xfffff;
	dev->win_mem.base = base;
	dev->win_mem.size = base <= limit ? limit - base + 1 : 0;

	base = (uint64_t)(cfg_get(c, PCI_PREF_MEMORY_BASE, 2) & 0xfff0) << 16;
	base |= (uint64_t)cfg_get(c, PCI_PREF_BASE_UPPER32, 4) << 32;
	limit = ((uint64_t)(cfg_get(c, PCI_PREF_MEMORY_LIMIT, 2) & 0xfff0) << 16) | 0xfffff;
	limit |= (uint64_t)cfg_get(c, PCI_PREF_LIMIT_UPPER32, 4) << 32;
	dev->win_pref.base = base;
	dev->win_pref.size = base <= limit ? limit - base + 1 : 0;

	dev->secondary = c->data[PCI_SECONDARY_BUS];
	dev->subordinate_nr = c->data[PCI_SUBORDINATE_BUS];
}

void pci_config_decode(struct pci_dev *dev)
{
	uint16_t cmd = cfg_get(&dev->cfg, PCI_COMMAND, 2);

	dev->mem_enable = cmd & PCI_COMMAND_MEMORY;
	dev->master = cmd & PCI_COMMAND_MASTER;
	if (dev->kind == PCI_KIND_ENDPOINT)
		decode_bars(dev);
	else if (dev->kind != PCI_KIND_HOST)
		decode_windows(dev);
	if (dev->kind == PCI_KIND_ROOT_PORT || dev->kind == PCI_KIND_DSP)
		dev->acs_ctrl = cfg_get(&dev->cfg, PCI_ACS_CAP_OFF + PCI_ACS_CTRL, 2);
}
