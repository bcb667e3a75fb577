// SPDX-License-Identifier: MIT
/*
 * Building the fabric and finding things in it.
 *
 *   host bridge (domain dddd, root bus 00)
 *     00:00.0  host bridge function
 *     00:NN.0  root port ------------------ link
 *                 bb:00.0  switch upstream port
 *                    bb+1:DD.0  switch downstream port ---- link
 *                                  cc:00.F  endpoint function(s)
 *                 or directly
 *                 bb:00.F  endpoint function(s)
 *
 * Root ports take device numbers 1.. on the root bus; downstream ports of a
 * switch take 0.. on the switch's internal bus; below a port there is one
 * device (number 0) with up to eight functions, as on a PCIe link.
 */
#define pr_fmt(fmt) "pci: " fmt

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <hetmem/err.h>
#include <hetmem/iommu.h>
#include <hetmem/log.h>
#include "internal.h"

struct pci_fabric *pci_fabric_create(void)
{
	struct pci_fabric *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	pthread_rwlock_init(&f->lock, NULL);
	INIT_LIST_HEAD(&f->host_bridges);
	INIT_LIST_HEAD(&f->devices);
	return f;
}

static void free_dev(struct pci_dev *dev)
{
	for (int i = 0; i < PCI_STD_NUM_BARS_HM; i++) {
		struct pci_bar *b = &dev->bar[i];

		if (b->ram_owned)
			munmap(b->ram, b->size);
		if (b->ram_owned && b->fd >= 0)
			close(b->fd);
	}
	pci_p2pdma_release_dev(dev);
	pci_dma_release_dev(dev);
	if (dev->iommu)
		iommu_detach_device(dev->iommu, dev);
	pthread_rwlock_destroy(&dev->p2p_lock);
	free(dev->subordinate);
	free(dev->dsp);
	free(dev);
}

void pci_fabric_destroy(struct pci_fabric *f)
{
	struct pci_dev *dev, *ndev;
	struct pci_host_bridge *hb, *nhb;

	if (!f)
		return;
	list_for_each_entry_safe(dev, ndev, &f->devices, fabric_node)
		free_dev(dev);
	list_for_each_entry_safe(hb, nhb, &f->host_bridges, node) {
		free(hb->bus);
		free(hb);
	}
	pthread_rwlock_destroy(&f->lock);
	free(f);
}

static bool name_taken(struct pci_fabric *f, const char *name)
{
	return pci_fabric_find(f, name) || pci_fabric_find_host_bridge(f, name);
}

static struct pci_bus *alloc_bus(struct pci_host_bridge *hb, struct pci_bus *parent,
				 struct pci_dev *self)
{
	struct pci_bus *bus = calloc(1, sizeof(*bus));

	if (!bus)
		return NULL;
	bus->host = hb;
	bus->parent = parent;
	bus->self = self;
	return bus;
}

static struct pci_dev *alloc_dev(struct pci_fabric *f, struct pci_bus *bus, unsigned int devfn,
				 enum pci_dev_kind kind, const char *name)
{
	struct pci_dev *dev = calloc(1, sizeof(*dev));

	if (!dev)
		return NULL;
	snprintf(dev->name, sizeof(dev->name), "%s", name);
	dev->kind = kind;
	dev->fabric = f;
	dev->host = bus->host;
	dev->bus = bus;
	dev->devfn = devfn;
	for (int i = 0; i < PCI_STD_NUM_BARS_HM; i++)
		dev->bar[i].fd = -1;
	pthread_rwlock_init(&dev->p2p_lock, NULL);
	return dev;
}

/* Publish a function on its bus once it is complete. */
static void attach_dev(struct pci_dev *dev)
{
	dev->bus->devfn[dev->devfn] = dev;
	dev->bus->present[dev->bus->nr_present++] = dev;
	pci_update_name(dev);
	list_add_tail(&dev->fabric_node, &dev->fabric->devices);
	pci_config_decode(dev);
}

static bool ranges_overlap(uint64_t a, uint64_t asz, uint64_t b, uint64_t bsz)
{
	return asz && bsz && a < b + bsz && b < a + asz;
}

static int check_host_windows(struct pci_fabric *f, const struct pci_host_bridge_info *info)
{
	const uint64_t off = info->bus_offset;
	struct pci_host_bridge *hb;

	if ((info->mem_base | info->mem_size | info->pref_base | info->pref_size) &
	    (PCI_BRIDGE_WINDOW_ALIGN - 1)) {
		pr_err("%s: windows must be 1 MiB aligned", info->name);
		return -EINVAL;
	}
	if (info->mem_size && info->mem_base + info->mem_size > (1ULL << 32)) {
		pr_err("%s: the non-prefetchable window must lie below 4 GiB", info->name);
		return -EINVAL;
	}
	if (ranges_overlap(info->mem_base, info->mem_size, info->pref_base, info->pref_size)) {
		pr_err("%s: its two windows overlap", info->name);
		return -EINVAL;
	}
	/* CPU addresses below 2^47 are process memory: windows must sit above. */
	if ((info->mem_size && info->mem_base + off < PCI_CPU_WINDOW_FLOOR) ||
	    (info->pref_size && info->pref_base + off < PCI_CPU_WINDOW_FLOOR)) {
		pr_err("%s: CPU windows (bus address + bus offset 0x%llx) must lie above 0x%llx",
		       info->name, (unsigned long long)off,
		       (unsigned long long)PCI_CPU_WINDOW_FLOOR);
		return -EINVAL;
	}
	list_for_each_entry(hb, &f->host_bridges, node) {
		const struct pci_host_bridge_info *o = &hb->info;
		uint64_t a[2][2] = { { info->mem_base + off, info->mem_size },
				     { info->pref_base + off, info->pref_size } };
		uint64_t b[2][2] = { { o->mem_base + o->bus_offset, o->mem_size },
				     { o->pref_base + o->bus_offset, o->pref_size } };

		for (int i = 0; i < 2; i++)
			for (int j = 0; j < 2; j++)
				if (ranges_overlap(a[i][0], a[i][1], b[j][0], b[j][1])) {
					pr_err("%s: CPU window overlaps host bridge %s's",
					       info->name, hb->name);
					return -EINVAL;
				}
	}
	return 0;
}

struct pci_host_bridge *pci_host_bridge_add(struct pci_fabric *f,
					    const struct pci_host_bridge_info *info)
{
	struct pci_host_bridge *hb, *o;
	int ret;

	if (f->enumerated)
		return ERR_PTR(-EBUSY);
	if (!info->name || name_taken(f, info->name))
		return ERR_PTR(-EEXIST);
	list_for_each_entry(o, &f->host_bridges, node)
		if (o->info.domain == info->domain) {
			pr_err("%s: domain %04x is %s's", info->name, info->domain, o->name);
			return ERR_PTR(-EEXIST);
		}
	ret = check_host_windows(f, info);
	if (ret)
		return ERR_PTR(ret);

	hb = calloc(1, sizeof(*hb));
	if (!hb)
		return ERR_PTR(-ENOMEM);
	hb->info = *info;
	snprintf(hb->name, sizeof(hb->name), "%s", info->name);
	hb->info.name = hb->name;
	hb->fabric = f;
	hb->next_root_slot = 1;
	hb->bus = alloc_bus(hb, NULL, NULL);
	if (!hb->bus) {
		free(hb);
		return ERR_PTR(-ENOMEM);
	}
	list_add_tail(&hb->node, &f->host_bridges);

	if (!info->no_host_function) {
		char name[64];
		struct pci_dev *dev;

		snprintf(name, sizeof(name), "%s.host", hb->name);
		dev = alloc_dev(f, hb->bus, PCI_DEVFN(0, 0), PCI_KIND_HOST, name);
		if (!dev)
			return ERR_PTR(-ENOMEM); /* hb stays listed and is freed with f */
		pci_config_init_host(dev, info->vendor, info->device);
		attach_dev(dev);
	}
	return hb;
}

/* A port with its bus below, placed at @devfn of @bus. */
static struct pci_dev *add_port(struct pci_bus *bus, unsigned int devfn, enum pci_dev_kind kind,
				int pcie_type, const char *name, uint16_t acs)
{
	struct pci_fabric *f = bus->host->fabric;
	struct pci_dev *dev;

	dev = alloc_dev(f, bus, devfn, kind, name);
	if (!dev)
		return NULL;
	dev->subordinate = alloc_bus(bus->host, bus, dev);
	if (!dev->subordinate) {
		free(dev);
		return NULL;
	}
	pci_config_init_port(dev, pcie_type, acs);
	attach_dev(dev);
	return dev;
}

struct pci_dev *pci_root_port_add(struct pci_host_bridge *hb, const char *name, uint16_t acs_ctrl)
{
	struct pci_dev *dev;

	if (hb->fabric->enumerated)
		return ERR_PTR(-EBUSY);
	if (!name || name_taken(hb->fabric, name))
		return ERR_PTR(-EEXIST);
	if (hb->next_root_slot >= 32)
		return ERR_PTR(-ENOSPC);
	dev = add_port(hb->bus, PCI_DEVFN(hb->next_root_slot, 0), PCI_KIND_ROOT_PORT,
		       PCI_EXP_TYPE_ROOT_PORT, name, acs_ctrl);
	if (!dev)
		return ERR_PTR(-ENOMEM);
	hb->next_root_slot++;
	return dev;
}

bool pci_dev_is_port(const struct pci_dev *dev)
{
	return dev->kind == PCI_KIND_ROOT_PORT || dev->kind == PCI_KIND_DSP;
}

static bool bus_empty(const struct pci_bus *bus)
{
	for (int i = 0; i < 256; i++)
		if (bus->devfn[i])
			return false;
	return true;
}

struct pci_dev *pci_switch_add(struct pci_dev *port, const char *name, unsigned int nr_ports,
			       uint16_t acs_ctrl)
{
	struct pci_fabric *f = port->fabric;
	struct pci_dev *usp;
	char pname[64];

	if (f->enumerated)
		return ERR_PTR(-EBUSY);
	if (!pci_dev_is_port(port) || nr_ports < 1 || nr_ports > 32)
		return ERR_PTR(-EINVAL);
	if (!bus_empty(port->subordinate))
		return ERR_PTR(-EBUSY);
	if (!name || name_taken(f, name))
		return ERR_PTR(-EEXIST);
	for (unsigned int i = 0; i < nr_ports; i++) {
		snprintf(pname, sizeof(pname), "%s.%u", name, i);
		if (name_taken(f, pname))
			return ERR_PTR(-EEXIST);
	}

	usp = add_port(port->subordinate, PCI_DEVFN(0, 0), PCI_KIND_USP, PCI_EXP_TYPE_UPSTREAM,
		       name, 0);
	if (!usp)
		return ERR_PTR(-ENOMEM);
	usp->dsp = calloc(nr_ports, sizeof(*usp->dsp));
	if (!usp->dsp)
		return ERR_PTR(-ENOMEM); /* usp is listed and freed with f */
	for (unsigned int i = 0; i < nr_ports; i++) {
		snprintf(pname, sizeof(pname), "%s.%u", name, i);
		usp->dsp[i] = add_port(usp->subordinate, PCI_DEVFN(i, 0), PCI_KIND_DSP,
				       PCI_EXP_TYPE_DOWNSTREAM, pname, acs_ctrl);
		if (!usp->dsp[i])
			return ERR_PTR(-ENOMEM);
		usp->nr_dsp++;
	}
	return usp;
}

struct pci_dev *pci_switch_port(struct pci_dev *usp, unsigned int i)
{
	if (usp->kind != PCI_KIND_USP || i >= usp->nr_dsp)
		return NULL;
	return usp->dsp[i];
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

static int check_bars(const struct pci_endpoint_info *info)
{
	for (int i = 0; i < PCI_STD_NUM_BARS_HM; i++) {
		const struct pci_bar_desc *b = &info->bar[i];

		if (!b->size)
			continue;
		if (!is_pow2(b->size) || b->size < 4096)
			return -EINVAL;
		if ((b->flags & PCI_BAR_PREFETCH) && !(b->flags & PCI_BAR_MEM64))
			return -EINVAL;
		if (!(b->flags & PCI_BAR_MEM64) && b->size > (1ULL << 31))
			return -EINVAL;
		if (b->flags & PCI_BAR_MEM64) {
			if (i == PCI_STD_NUM_BARS_HM - 1 || info->bar[i + 1].size)
				return -EINVAL;
			i++;
		}
	}
	return 0;
}

/* Memory BARs without caller-provided backing get a memfd of their own. */
static int back_bar(struct pci_dev *dev, int i)
{
	struct pci_bar *b = &dev->bar[i];
	char name[80];
	void *p;
	int fd;

	snprintf(name, sizeof(name), "hetmem-%s-bar%d", dev->name, i);
	fd = memfd_create(name, MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)b->size) < 0) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	p = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	b->ram = p;
	b->ram_owned = true;
	b->fd = fd;
	b->fd_offset = 0;
	return 0;
}

/* Functions of one device all say multi-function once there are several. */
static void mark_multifunction(struct pci_bus *bus)
{
	int n = 0;

	for (int fn = 0; fn < 8; fn++)
		n += !!bus->devfn[fn];
	if (n < 2)
		return;
	for (int fn = 0; fn < 8; fn++)
		if (bus->devfn[fn])
			bus->devfn[fn]->cfg.data[PCI_HEADER_TYPE] |= 0x80;
}

struct pci_dev *pci_endpoint_add(struct pci_dev *port, const struct pci_endpoint_info *info)
{
	struct pci_fabric *f = port->fabric;
	struct pci_bus *bus = port->subordinate;
	struct pci_dev *dev;
	int ret;

	if (f->enumerated)
		return ERR_PTR(-EBUSY);
	if (!pci_dev_is_port(port) || info->function > 7)
		return ERR_PTR(-EINVAL);
	ret = check_bars(info);
	if (ret)
		return ERR_PTR(ret);
	if (!info->name || name_taken(f, info->name))
		return ERR_PTR(-EEXIST);
	if (bus->devfn[PCI_DEVFN(0, 0)] && bus->devfn[PCI_DEVFN(0, 0)]->kind == PCI_KIND_USP)
		return ERR_PTR(-EBUSY);
	if (bus->devfn[PCI_DEVFN(0, info->function)])
		return ERR_PTR(-EBUSY);

	dev = alloc_dev(f, bus, PCI_DEVFN(0, info->function), PCI_KIND_ENDPOINT, info->name);
	if (!dev)
		return ERR_PTR(-ENOMEM);
	dev->priv = info->priv;
	for (int i = 0; i < PCI_STD_NUM_BARS_HM; i++) {
		const struct pci_bar_desc *d = &info->bar[i];
		struct pci_bar *b = &dev->bar[i];

		if (!d->size)
			continue;
		b->size = d->size;
		b->flags = d->flags;
		b->ops = d->ops;
		b->ram = d->ram;
		if (d->ram && d->ram_has_fd)
			b->fd = d->ram_fd; /* the caller's: not closed here */
		if (!d->ops && !d->ram) {
			ret = back_bar(dev, i);
			if (ret) {
				free_dev(dev);
				return ERR_PTR(ret);
			}
		}
	}
	pci_config_init_endpoint(dev, info);
	attach_dev(dev);
	mark_multifunction(bus);
	return dev;
}

/* --- lookups ---------------------------------------------------------------- */

struct pci_dev *pci_fabric_find(struct pci_fabric *f, const char *name)
{
	struct pci_dev *dev;

	list_for_each_entry(dev, &f->devices, fabric_node)
		if (!strcmp(dev->name, name))
			return dev;
	return NULL;
}

struct pci_host_bridge *pci_fabric_find_host_bridge(struct pci_fabric *f, const char *name)
{
	struct pci_host_bridge *hb;

	list_for_each_entry(hb, &f->host_bridges, node)
		if (!strcmp(hb->name, name))
			return hb;
	return NULL;
}

struct pci_host_bridge *pci_fabric_next_host_bridge(struct pci_fabric *f,
						    struct pci_host_bridge *prev)
{
	struct list_head *next = prev ? prev->node.next : f->host_bridges.next;

	return next == &f->host_bridges ? NULL : list_entry(next, struct pci_host_bridge, node);
}

/* Depth-first successor of @dev in its host bridge's tree, or NULL. */
static struct pci_dev *bus_first_from(struct pci_bus *bus, int devfn)
{
	for (int i = devfn; i < 256; i++)
		if (bus->devfn[i])
			return bus->devfn[i];
	return NULL;
}

static struct pci_dev *tree_next(struct pci_dev *dev)
{
	struct pci_dev *next;

	if (dev->subordinate) {
		next = bus_first_from(dev->subordinate, 0);
		if (next)
			return next;
	}
	for (;;) {
		next = bus_first_from(dev->bus, dev->devfn + 1);
		if (next)
			return next;
		if (!dev->bus->self)
			return NULL;
		dev = dev->bus->self;
	}
}

struct pci_dev *pci_fabric_next_dev(struct pci_fabric *f, struct pci_dev *prev)
{
	struct pci_host_bridge *hb;
	struct pci_dev *next;

	if (prev) {
		next = tree_next(prev);
		if (next)
			return next;
		hb = pci_fabric_next_host_bridge(f, prev->host);
	} else {
		hb = pci_fabric_next_host_bridge(f, NULL);
	}
	for (; hb; hb = pci_fabric_next_host_bridge(f, hb)) {
		next = bus_first_from(hb->bus, 0);
		if (next)
			return next;
	}
	return NULL;
}

/*
 * Type 1 configuration routing: a bus number is reached through the bridge
 * whose secondary..subordinate range holds it (PCI-PCI bridge 1.2 sec. 3.2.5.3).
 */
struct pci_bus *pci_find_bus(struct pci_host_bridge *hb, unsigned int busnr)
{
	struct pci_bus *bus = hb->bus;

	if (busnr == 0)
		return bus;
	for (;;) {
		struct pci_dev *next = NULL;

		for (int i = 0; i < 256 && !next; i++) {
			struct pci_dev *d = bus->devfn[i];

			if (d && d->subordinate && d->secondary && busnr >= d->secondary &&
			    busnr <= d->subordinate_nr)
				next = d;
		}
		if (!next)
			return NULL;
		if (next->secondary == busnr)
			return next->subordinate;
		bus = next->subordinate;
	}
}
