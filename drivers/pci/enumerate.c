// SPDX-License-Identifier: MIT
/*
 * Enumeration: what firmware does before an OS looks at the fabric.
 *
 * Everything goes through configuration space, as it would on hardware: bus
 * numbers are written to the bridges, BARs are sized by writing all ones
 * and reading the mask back, and windows and BARs are programmed with
 * ordinary configuration writes. Routing later decodes those registers; it
 * never looks at what the builder asked for.
 *
 * Placement is the classic one: per bus and per window type, children (BARs
 * and bridge windows) sorted by alignment, largest first, packed upward from
 * the window's base. Bridge windows are 1 MiB granular. Non-prefetchable and
 * 32-bit BARs go in the non-prefetchable window (below 4 GiB), 64-bit
 * prefetchable BARs in the prefetchable one.
 */
#define pr_fmt(fmt) "pci-enum: " fmt

#include <errno.h>
#include <stdlib.h>

#include <hetmem/log.h>
#include "internal.h"

enum win_type { WIN_MEM, WIN_PREF };

struct item {
	struct pci_dev *dev;
	int bar;	/* -1: the bridge window of @dev */
	uint64_t size;
	uint64_t align;
};

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static void cfg_w(struct pci_dev *dev, unsigned int where, unsigned int size, uint32_t v)
{
	pci_config_write(dev, where, size, v);
}

static uint32_t cfg_r(struct pci_dev *dev, unsigned int where, unsigned int size)
{
	return pci_config_read(dev, where, size);
}

/* Depth-first bus numbering; returns the highest bus number used below. */
static int assign_buses(struct pci_bus *bus, unsigned int busnr, unsigned int *next)
{
	for (int i = 0; i < 256; i++) {
		struct pci_dev *dev = bus->devfn[i];
		unsigned int sec;
		int ret;

		if (!dev || !dev->subordinate)
			continue;
		if (*next >= 255) {
			pr_err("%s: out of bus numbers", dev->name);
			return -ENOSPC;
		}
		sec = ++*next;
		cfg_w(dev, PCI_PRIMARY_BUS, 1, busnr);
		cfg_w(dev, PCI_SECONDARY_BUS, 1, sec);
		cfg_w(dev, PCI_SUBORDINATE_BUS, 1, 0xff);
		ret = assign_buses(dev->subordinate, sec, next);
		if (ret)
			return ret;
		cfg_w(dev, PCI_SUBORDINATE_BUS, 1, *next);
	}
	return 0;
}

/* Size every BAR slot of @dev the way firmware does. */
static void size_bars(struct pci_dev *dev)
{
	for (int i = 0; i < PCI_STD_NUM_BARS_HM; i++) {
		unsigned int off = PCI_BASE_ADDRESS_0 + 4 * i;
		uint32_t lo = cfg_r(dev, off, 4), hi = 0, mlo, mhi = 0;
		bool is64 = (lo & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64;
		uint64_t mask;

		cfg_w(dev, off, 4, 0xffffffff);
		mlo = cfg_r(dev, off, 4);
		cfg_w(dev, off, 4, lo);
		if (is64 && i < PCI_STD_NUM_BARS_HM - 1) {
			hi = cfg_r(dev, off + 4, 4);
			cfg_w(dev, off + 4, 4, 0xffffffff);
			mhi = cfg_r(dev, off + 4, 4);
			cfg_w(dev, off + 4, 4, hi);
		}
		mask = ((uint64_t)mhi << 32) | (mlo & PCI_BASE_ADDRESS_MEM_MASK);
		if (!is64)
			mask |= 0xffffffff00000000ULL;
		if (mask && (mlo & PCI_BASE_ADDRESS_MEM_MASK || mhi)) {
			uint64_t size = ~mask + 1;

			if (size != dev->bar[i].size)
				pr_warn("%s: BAR%d sizes to 0x%llx, expected 0x%llx", dev->name, i,
					(unsigned long long)size,
					(unsigned long long)dev->bar[i].size);
			dev->bar[i].size = size;
		}
		if (is64)
			i++;
	}
}

static bool bar_in_window(const struct pci_bar *b, enum win_type t)
{
	bool pref = (b->flags & PCI_BAR_PREFETCH) && (b->flags & PCI_BAR_MEM64);

	return t == WIN_PREF ? pref : !pref;
}

static int cmp_align_desc(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	if (x->align != y->align)
		return x->align < y->align ? 1 : -1;
	return x->size < y->size ? 1 : (x->size > y->size ? -1 : 0);
}

static uint64_t size_bus(struct pci_bus *bus, enum win_type t, uint64_t *align);

/* Collect what must be placed on @bus in windows of type @t. */
static int collect(struct pci_bus *bus, enum win_type t, struct item **out)
{
	struct item *items = NULL;
	int n = 0;

	for (int i = 0; i < 256; i++) {
		struct pci_dev *dev = bus->devfn[i];

		if (!dev)
			continue;
		if (dev->subordinate) {
			uint64_t align;
			uint64_t size = size_bus(dev->subordinate, t, &align);

			if (!size)
				continue;
			items = realloc(items, (n + 1) * sizeof(*items));
			if (!items)
				return -ENOMEM;
			items[n++] = (struct item){ dev, -1, align_up(size, PCI_BRIDGE_WINDOW_ALIGN),
						    align };
			continue;
		}
		for (int b = 0; b < PCI_STD_NUM_BARS_HM; b++) {
			struct pci_bar *bar = &dev->bar[b];

			if (!bar->size || !bar_in_window(bar, t))
				continue;
			items = realloc(items, (n + 1) * sizeof(*items));
			if (!items)
				return -ENOMEM;
			items[n++] = (struct item){ dev, b, bar->size, bar->size };
		}
	}
	if (n)
		qsort(items, n, sizeof(*items), cmp_align_desc);
	*out = items;
	return n;
}

/* Bytes a window of type @t below @bus needs, and its alignment. */
static uint64_t size_bus(struct pci_bus *bus, enum win_type t, uint64_t *align)
{
	struct item *items;
	uint64_t end = 0;
	int n = collect(bus, t, &items);

	*align = PCI_BRIDGE_WINDOW_ALIGN;
	if (n <= 0)
		return 0;
	for (int i = 0; i < n; i++) {
		end = align_up(end, items[i].align) + items[i].size;
		if (items[i].align > *align)
			*align = items[i].align;
	}
	free(items);
	return end;
}

static void program_bar(struct pci_dev *dev, int bar, uint64_t addr)
{
	unsigned int off = PCI_BASE_ADDRESS_0 + 4 * bar;
	uint32_t lo = cfg_r(dev, off, 4) & ~PCI_BASE_ADDRESS_MEM_MASK;

	cfg_w(dev, off, 4, lo | (uint32_t)addr);
	if (dev->bar[bar].flags & PCI_BAR_MEM64)
		cfg_w(dev, off + 4, 4, (uint32_t)(addr >> 32));
}

/* An empty window is programmed with base above limit: it decodes nothing. */
static void program_window(struct pci_dev *dev, enum win_type t, uint64_t base, uint64_t size)
{
	uint64_t limit = size ? base + size - 1 : 0;

	if (!size)
		base = 0xfff00000;
	if (t == WIN_MEM) {
		cfg_w(dev, PCI_MEMORY_BASE, 2, (base >> 16) & 0xfff0);
		cfg_w(dev, PCI_MEMORY_LIMIT, 2, (limit >> 16) & 0xfff0);
	} else {
		cfg_w(dev, PCI_PREF_MEMORY_BASE, 2, (base >> 16) & 0xfff0);
		cfg_w(dev, PCI_PREF_MEMORY_LIMIT, 2, (limit >> 16) & 0xfff0);
		cfg_w(dev, PCI_PREF_BASE_UPPER32, 4, size ? (uint32_t)(base >> 32) : 0);
		cfg_w(dev, PCI_PREF_LIMIT_UPPER32, 4, (uint32_t)(limit >> 32));
	}
}

static int place_bus(struct pci_bus *bus, enum win_type t, uint64_t base)
{
	struct item *items;
	uint64_t cur = base;
	int n = collect(bus, t, &items);

	/* Bridges with nothing of this type below still need an empty window. */
	for (int i = 0; i < 256; i++) {
		struct pci_dev *dev = bus->devfn[i];

		if (dev && dev->subordinate)
			program_window(dev, t, 0, 0);
	}
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		struct item *it = &items[i];
		uint64_t at = align_up(cur, it->align);

		if (it->bar >= 0) {
			program_bar(it->dev, it->bar, at);
		} else {
			int ret;

			program_window(it->dev, t, at, it->size);
			ret = place_bus(it->dev->subordinate, t, at);
			if (ret) {
				free(items);
				return ret;
			}
		}
		cur = at + it->size;
	}
	free(items);
	return 0;
}

static void describe_overflow(struct pci_host_bridge *hb, enum win_type t, uint64_t need,
			      uint64_t have)
{
	pr_err("%s: the BARs below need 0x%llx bytes of %s window, it has 0x%llx", hb->name,
	       (unsigned long long)need, t == WIN_PREF ? "prefetchable" : "non-prefetchable",
	       (unsigned long long)have);
}

static int place_host(struct pci_host_bridge *hb)
{
	const struct pci_host_bridge_info *in = &hb->info;
	const struct {
		enum win_type t;
		uint64_t base, size;
	} win[2] = { { WIN_MEM, in->mem_base, in->mem_size },
		     { WIN_PREF, in->pref_base, in->pref_size } };

	for (int i = 0; i < 2; i++) {
		uint64_t align, need = size_bus(hb->bus, win[i].t, &align);
		int ret;

		if (need > win[i].size || (need && win[i].base % align &&
					   align_up(win[i].base, align) + need >
						   win[i].base + win[i].size)) {
			describe_overflow(hb, win[i].t, need, win[i].size);
			return -ENOSPC;
		}
		ret = place_bus(hb->bus, win[i].t, align_up(win[i].base, need ? align : 1));
		if (ret)
			return ret;
	}
	return 0;
}

static void enable_decode(struct pci_fabric *f)
{
	struct pci_dev *dev;

	list_for_each_entry(dev, &f->devices, fabric_node) {
		/* No I/O space anywhere: close every bridge's I/O window. */
		if (dev->subordinate) {
			cfg_w(dev, PCI_IO_BASE, 1, 0xf0);
			cfg_w(dev, PCI_IO_LIMIT, 1, 0x00);
		}
		uint16_t cmd = cfg_r(dev, PCI_COMMAND, 2) | PCI_COMMAND_MEMORY;

		/* Bridges forward upstream requests only with bus mastering on. */
		if (dev->subordinate)
			cmd |= PCI_COMMAND_MASTER;
		cfg_w(dev, PCI_COMMAND, 2, cmd);
	}
}

int pci_fabric_enumerate(struct pci_fabric *f)
{
	struct pci_host_bridge *hb;
	struct pci_dev *dev;
	int ret = 0;

	pthread_rwlock_wrlock(&f->lock);
	if (f->enumerated) {
		ret = -EBUSY;
		goto out;
	}
	list_for_each_entry(hb, &f->host_bridges, node) {
		unsigned int next = 0;

		ret = assign_buses(hb->bus, 0, &next);
		if (ret)
			goto out;
	}
	list_for_each_entry(dev, &f->devices, fabric_node)
		if (dev->kind == PCI_KIND_ENDPOINT)
			size_bars(dev);
	list_for_each_entry(hb, &f->host_bridges, node) {
		ret = place_host(hb);
		if (ret)
			goto out;
	}
	enable_decode(f);
	f->enumerated = true;
out:
	pthread_rwlock_unlock(&f->lock);
	return ret;
}
