// SPDX-License-Identifier: MIT
/*
 * Reaching into the fabric from outside: configuration reads and writes by
 * address or by function, capability lookup, BAR and identity accessors,
 * and the traffic counters.
 *
 * Configuration accesses are validated the way a root complex would: an
 * access of 1, 2 or 4 bytes, naturally aligned, inside 4 KiB. Anything else
 * is a guest error, answered with all ones (reads) or dropped (writes).
 */
#define pr_fmt(fmt) "pci: " fmt

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <hetmem/log.h>
#include "internal.h"

static struct pci_host_bridge *find_domain(struct pci_fabric *f, uint16_t domain)
{
	struct pci_host_bridge *hb;

	list_for_each_entry(hb, &f->host_bridges, node)
		if (hb->info.domain == domain)
			return hb;
	return NULL;
}

static struct pci_dev *lookup_bdf(struct pci_fabric *f, uint16_t domain, unsigned int busnr,
				  unsigned int devfn)
{
	struct pci_host_bridge *hb = find_domain(f, domain);
	struct pci_bus *bus;

	if (!hb || busnr > 255 || devfn > 255)
		return NULL;
	bus = pci_find_bus(hb, busnr);
	return bus ? bus->devfn[devfn] : NULL;
}

struct pci_dev *pci_get_domain_bus_and_slot(struct pci_fabric *f, uint16_t domain, unsigned int bus,
					    unsigned int devfn)
{
	struct pci_dev *dev;

	pthread_rwlock_rdlock(&f->lock);
	dev = lookup_bdf(f, domain, bus, devfn);
	pthread_rwlock_unlock(&f->lock);
	return dev;
}

/* --- configuration access ----------------------------------------------------- */

static uint32_t all_ones(unsigned int size)
{
	return size >= 4 ? 0xffffffffU : (1U << (8 * size)) - 1;
}

static bool cfg_access_ok(const char *who, unsigned int where, unsigned int size)
{
	if (size != 1 && size != 2 && size != 4) {
		guest_err("%s: config access of %u bytes", who, size);
		return false;
	}
	if (where >= PCI_CFG_SPACE_SIZE_HM || where + size > PCI_CFG_SPACE_SIZE_HM) {
		guest_err("%s: config access at 0x%x beyond 4 KiB", who, where);
		return false;
	}
	if (where & (size - 1)) {
		guest_err("%s: misaligned %u-byte config access at 0x%x", who, size, where);
		return false;
	}
	return true;
}

uint32_t pci_cfg_read(struct pci_fabric *f, uint16_t domain, unsigned int bus, unsigned int devfn,
		      unsigned int where, unsigned int size)
{
	struct pci_dev *dev;
	uint32_t v;
	char who[32];

	snprintf(who, sizeof(who), "%04x:%02x:%02x.%u", domain, bus & 0xff, PCI_SLOT(devfn),
		 PCI_FUNC(devfn));
	if (!cfg_access_ok(who, where, size))
		return all_ones(size);
	pthread_rwlock_rdlock(&f->lock);
	dev = lookup_bdf(f, domain, bus, devfn);
	/* No function answers: the request ends in a master abort, reads all ones. */
	v = dev ? pci_config_read(dev, where, size) : all_ones(size);
	pthread_rwlock_unlock(&f->lock);
	return v;
}

void pci_cfg_write(struct pci_fabric *f, uint16_t domain, unsigned int bus, unsigned int devfn,
		   unsigned int where, unsigned int size, uint32_t val)
{
	struct pci_dev *dev;
	char who[32];

	snprintf(who, sizeof(who), "%04x:%02x:%02x.%u", domain, bus & 0xff, PCI_SLOT(devfn),
		 PCI_FUNC(devfn));
	if (!cfg_access_ok(who, where, size))
		return;
	pthread_rwlock_wrlock(&f->lock);
	dev = lookup_bdf(f, domain, bus, devfn);
	if (dev)
		pci_config_write(dev, where, size, val);
	pthread_rwlock_unlock(&f->lock);
}

static int dev_cfg_read(struct pci_dev *dev, int where, unsigned int size, uint32_t *val)
{
	if (where < 0 || !cfg_access_ok(dev->name, (unsigned int)where, size)) {
		*val = all_ones(size);
		return -EINVAL;
	}
	pthread_rwlock_rdlock(&dev->fabric->lock);
	*val = pci_config_read(dev, (unsigned int)where, size);
	pthread_rwlock_unlock(&dev->fabric->lock);
	return 0;
}

static int dev_cfg_write(struct pci_dev *dev, int where, unsigned int size, uint32_t val)
{
	if (where < 0 || !cfg_access_ok(dev->name, (unsigned int)where, size))
		return -EINVAL;
	pthread_rwlock_wrlock(&dev->fabric->lock);
	pci_config_write(dev, (unsigned int)where, size, val);
	pthread_rwlock_unlock(&dev->fabric->lock);
	return 0;
}

int pci_read_config_byte(struct pci_dev *dev, int where, uint8_t *val)
{
	uint32_t v;
	int ret = dev_cfg_read(dev, where, 1, &v);

	*val = (uint8_t)v;
	return ret;
}

int pci_read_config_word(struct pci_dev *dev, int where, uint16_t *val)
{
	uint32_t v;
	int ret = dev_cfg_read(dev, where, 2, &v);

	*val = (uint16_t)v;
	return ret;
}

int pci_read_config_dword(struct pci_dev *dev, int where, uint32_t *val)
{
	return dev_cfg_read(dev, where, 4, val);
}

int pci_write_config_byte(struct pci_dev *dev, int where, uint8_t val)
{
	return dev_cfg_write(dev, where, 1, val);
}

int pci_write_config_word(struct pci_dev *dev, int where, uint16_t val)
{
	return dev_cfg_write(dev, where, 2, val);
}

int pci_write_config_dword(struct pci_dev *dev, int where, uint32_t val)
{
	return dev_cfg_write(dev, where, 4, val);
}

void pci_config_snapshot(struct pci_dev *dev, uint8_t *buf)
{
	pthread_rwlock_rdlock(&dev->fabric->lock);
	memcpy(buf, dev->cfg.data, PCI_CFG_SPACE_SIZE_HM);
	pthread_rwlock_unlock(&dev->fabric->lock);
}

static void update_command(struct pci_dev *dev, uint16_t set, uint16_t clear)
{
	uint16_t cmd;

	pthread_rwlock_wrlock(&dev->fabric->lock);
	cmd = pci_config_read(dev, PCI_COMMAND, 2);
	pci_config_write(dev, PCI_COMMAND, 2, (cmd | set) & ~clear);
	pthread_rwlock_unlock(&dev->fabric->lock);
}

void pci_set_master(struct pci_dev *dev)
{
	update_command(dev, PCI_COMMAND_MASTER, 0);
}

void pci_clear_master(struct pci_dev *dev)
{
	update_command(dev, 0, PCI_COMMAND_MASTER);
}

/* --- capabilities and accessors ----------------------------------------------- */

unsigned int pci_find_capability(struct pci_dev *dev, int cap)
{
	unsigned int pos, ttl = 48;

	if (!(pci_config_read(dev, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST))
		return 0;
	pos = pci_config_read(dev, PCI_CAPABILITY_LIST, 1) & ~3U;
	while (pos >= 0x40 && ttl--) {
		if ((int)pci_config_read(dev, pos + PCI_CAP_LIST_ID, 1) == cap)
			return pos;
		pos = pci_config_read(dev, pos + PCI_CAP_LIST_NEXT, 1) & ~3U;
	}
	return 0;
}

unsigned int pci_find_ext_capability(struct pci_dev *dev, int cap)
{
	unsigned int pos = PCI_CFG_SPACE_SIZE, ttl = (4096 - 256) / 8;
	uint32_t hdr;

	if (pci_pcie_type(dev) < 0)
		return 0;
	hdr = pci_config_read(dev, pos, 4);
	while (hdr && ttl--) {
		if ((int)PCI_EXT_CAP_ID(hdr) == cap)
			return pos;
		pos = PCI_EXT_CAP_NEXT(hdr);
		if (pos < PCI_CFG_SPACE_SIZE)
			break;
		hdr = pci_config_read(dev, pos, 4);
	}
	return 0;
}

const char *pci_name(const struct pci_dev *dev)
{
	return dev->bdf;
}

void pci_update_name(struct pci_dev *dev)
{
	unsigned int busnr = dev->bus->self ? dev->bus->self->secondary : 0;

	snprintf(dev->bdf, sizeof(dev->bdf), "%04x:%02x:%02x.%u", dev->host->info.domain, busnr,
		 PCI_SLOT(dev->devfn), PCI_FUNC(dev->devfn));
}

const char *pci_dev_label(const struct pci_dev *dev)
{
	return dev->name;
}

uint16_t pci_dev_vendor(const struct pci_dev *dev)
{
	return dev->cfg.data[0] | dev->cfg.data[1] << 8;
}

uint16_t pci_dev_device(const struct pci_dev *dev)
{
	return dev->cfg.data[2] | dev->cfg.data[3] << 8;
}

uint32_t pci_dev_class(const struct pci_dev *dev)
{
	return dev->cfg.data[PCI_CLASS_PROG] | dev->cfg.data[PCI_CLASS_DEVICE] << 8 |
	       (uint32_t)dev->cfg.data[PCI_CLASS_DEVICE + 1] << 16;
}

uint16_t pci_dev_domain(const struct pci_dev *dev)
{
	return dev->host->info.domain;
}

unsigned int pci_dev_busnr(const struct pci_dev *dev)
{
	return dev->bus->self ? dev->bus->self->secondary : 0;
}

unsigned int pci_dev_devfn(const struct pci_dev *dev)
{
	return dev->devfn;
}

void *pci_get_drvdata(const struct pci_dev *dev)
{
	return dev->priv;
}

void pci_set_drvdata(struct pci_dev *dev, void *priv)
{
	dev->priv = priv;
}

int pci_pcie_type(const struct pci_dev *dev)
{
	switch (dev->kind) {
	case PCI_KIND_ROOT_PORT:
		return PCI_EXP_TYPE_ROOT_PORT;
	case PCI_KIND_USP:
		return PCI_EXP_TYPE_UPSTREAM;
	case PCI_KIND_DSP:
		return PCI_EXP_TYPE_DOWNSTREAM;
	case PCI_KIND_ENDPOINT:
		return PCI_EXP_TYPE_ENDPOINT;
	default:
		return -1;
	}
}

bool pci_is_bridge(const struct pci_dev *dev)
{
	return dev->subordinate != NULL;
}

struct pci_dev *pci_upstream_bridge(const struct pci_dev *dev)
{
	return dev->bus->self;
}

struct pci_host_bridge *pci_host_bridge_of(const struct pci_dev *dev)
{
	return dev->host;
}

const char *pci_host_bridge_name(const struct pci_host_bridge *hb)
{
	return hb->name;
}

const struct pci_host_bridge_info *pci_host_bridge_info_get(const struct pci_host_bridge *hb)
{
	return &hb->info;
}

struct pci_dev *pci_host_bridge_dev(const struct pci_host_bridge *hb)
{
	return hb->bus->devfn[PCI_DEVFN(0, 0)];
}

static bool bar_ok(const struct pci_dev *dev, int bar)
{
	return bar >= 0 && bar < PCI_STD_NUM_BARS_HM && dev->bar[bar].size;
}

uint64_t pci_resource_len(const struct pci_dev *dev, int bar)
{
	return bar_ok(dev, bar) ? dev->bar[bar].size : 0;
}

unsigned int pci_resource_flags(const struct pci_dev *dev, int bar)
{
	return bar_ok(dev, bar) ? dev->bar[bar].flags : 0;
}

uint64_t pci_bus_address(struct pci_dev *dev, int bar)
{
	uint64_t a;

	if (!bar_ok(dev, bar))
		return 0;
	pthread_rwlock_rdlock(&dev->fabric->lock);
	a = dev->bar[bar].addr;
	pthread_rwlock_unlock(&dev->fabric->lock);
	return a;
}

uint64_t pci_resource_start(struct pci_dev *dev, int bar)
{
	return bar_ok(dev, bar) ? pci_bus_address(dev, bar) + dev->host->info.bus_offset : 0;
}

void *pci_iomap(struct pci_dev *dev, int bar)
{
	return bar_ok(dev, bar) && !dev->bar[bar].ops ? dev->bar[bar].ram : NULL;
}

int pci_bar_fd(struct pci_dev *dev, int bar, uint64_t *offset)
{
	if (!bar_ok(dev, bar) || dev->bar[bar].fd < 0)
		return -ENOENT;
	if (offset)
		*offset = dev->bar[bar].fd_offset;
	return dev->bar[bar].fd;
}

/* --- counters --------------------------------------------------------------------- */

void pci_link_stats_get(const struct pci_dev *dev, struct pci_link_stats *out)
{
	for (int d = 0; d < 2; d++) {
		out->bytes[d] = __atomic_load_n(&dev->stats.bytes[d], __ATOMIC_RELAXED);
		out->tlps[d] = __atomic_load_n(&dev->stats.tlps[d], __ATOMIC_RELAXED);
	}
}

void pci_rc_stats_get(const struct pci_host_bridge *hb, struct pci_rc_stats *out)
{
	const struct pci_rc_stats *s = &hb->stats;

	out->mem_bytes[0] = __atomic_load_n(&s->mem_bytes[0], __ATOMIC_RELAXED);
	out->mem_bytes[1] = __atomic_load_n(&s->mem_bytes[1], __ATOMIC_RELAXED);
	out->p2p_bytes = __atomic_load_n(&s->p2p_bytes, __ATOMIC_RELAXED);
	out->iommu_faults = __atomic_load_n(&s->iommu_faults, __ATOMIC_RELAXED);
	out->unsupported = __atomic_load_n(&s->unsupported, __ATOMIC_RELAXED);
}

/* Counters of @len bytes at @p, zeroed with the atomics that count them. */
static void zero_counters(void *p, size_t len)
{
	uint64_t *c = p;

	for (size_t i = 0; i < len / sizeof(*c); i++)
		__atomic_store_n(&c[i], 0, __ATOMIC_RELAXED);
}

void pci_fabric_reset_stats(struct pci_fabric *f)
{
	struct pci_dev *dev;
	struct pci_host_bridge *hb;

	/* Devices may be moving data: a DMA in flight counts before or after. */
	list_for_each_entry(dev, &f->devices, fabric_node)
		zero_counters(&dev->stats, sizeof(dev->stats));
	list_for_each_entry(hb, &f->host_bridges, node)
		zero_counters(&hb->stats, sizeof(hb->stats));
}
