// SPDX-License-Identifier: MIT
/*
 * Peer-to-peer memory for the hetmem tool: the GPUs' memory BARs become
 * p2pmem, as their driver would offer them, and the providers and clients
 * of a machine are described the way the kernel's sysfs and
 * pci_p2pmem_find() would describe them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hetmem/machine.h>
#include <hetmem/pci-p2pdma.h>
#include <hetmem/pci.h>

#include "p2p.h"

#define PCI_BASE_CLASS_DISPLAY_HM 0x03

const char *cli_p2p_map_type_name(enum pci_p2pdma_map_type type)
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

bool cli_is_endpoint(const struct pci_dev *dev)
{
	/* The host bridge function has no PCIe capability. */
	return !pci_is_bridge(dev) && pci_pcie_type(dev) >= 0;
}

/* The BAR a GPU keeps its memory behind: prefetchable, CPU-mapped, the largest. */
static int vram_bar_of(struct pci_dev *dev)
{
	uint64_t best_len = 0;
	int best = -1;

	for (int bar = 0; bar < PCI_STD_NUM_BARS_HM; bar++) {
		uint64_t len = pci_resource_len(dev, bar);

		if (!(pci_resource_flags(dev, bar) & PCI_BAR_PREFETCH) || !pci_iomap(dev, bar))
			continue;
		if (len > best_len) {
			best_len = len;
			best = bar;
		}
	}
	return best;
}

int cli_p2p_add_providers(const char *prog, struct machine *m)
{
	struct pci_fabric *f = machine_fabric(m);
	struct pci_dev *dev = NULL;
	int added = 0;

	while ((dev = pci_fabric_next_dev(f, dev))) {
		int bar, ret;

		if (!cli_is_endpoint(dev) || pci_dev_class(dev) >> 16 != PCI_BASE_CLASS_DISPLAY_HM)
			continue;
		bar = vram_bar_of(dev);
		if (bar < 0)
			continue;
		ret = pci_p2pdma_add_resource(dev, bar, 0, 0);
		if (ret) {
			fprintf(stderr, "%s: cannot make %s BAR%d peer-to-peer memory: %s\n", prog,
				pci_dev_label(dev), bar, strerror(-ret));
			return ret;
		}
		pci_p2pmem_publish(dev, true);
		added++;
	}
	return added;
}

/* One p2pmem attribute, as a number. */
static int attr_u64(struct pci_dev *dev, const char *attr, uint64_t *val)
{
	char buf[32], *end;
	long n;

	n = pci_p2pmem_attr_show(dev, attr, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	errno = 0;
	*val = strtoull(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n'))
		return -EIO;
	return 0;
}

/*
 * The pool does not say which BAR it covers; a BAR whose first or last
 * byte has a bus address in the pool is one it was made from.
 */
static int pool_bar_of(struct pci_dev *dev)
{
	for (int bar = 0; bar < PCI_STD_NUM_BARS_HM; bar++) {
		char *map = pci_iomap(dev, bar);
		uint64_t len = pci_resource_len(dev, bar);

		if (!map || !len)
			continue;
		if (pci_p2pmem_virt_to_bus(dev, map) || pci_p2pmem_virt_to_bus(dev, map + len - 1))
			return bar;
	}
	return -1;
}

int cli_p2p_provider_get(struct pci_dev *dev, struct cli_p2p_provider *out)
{
	uint64_t published;
	int ret;

	ret = attr_u64(dev, "size", &out->size);
	if (!ret)
		ret = attr_u64(dev, "available", &out->available);
	if (!ret)
		ret = attr_u64(dev, "published", &published);
	if (ret)
		return ret == -ENOSPC ? -EIO : ret;
	out->dev = dev;
	out->published = published;
	out->bar = pool_bar_of(dev);
	return 0;
}

static void client_get(struct cli_p2p_client *c, struct pci_dev *dev)
{
	enum pci_p2pdma_map_type type;

	c->dev = dev;
	c->provider = pci_p2pmem_find(dev);
	c->distance = -1;
	c->map_type = NULL;
	c->reason[0] = '\0';
	if (!c->provider)
		return;
	c->distance = pci_p2pdma_distance(c->provider, dev, false);
	type = pci_p2pdma_map_type_of(c->provider, dev, c->reason, sizeof(c->reason));
	c->map_type = cli_p2p_map_type_name(type);
}

int cli_p2p_report_get(struct machine *m, struct cli_p2p_report *r)
{
	struct pci_fabric *f = machine_fabric(m);
	struct pci_dev *dev = NULL;
	size_t nr_dev = 0;

	memset(r, 0, sizeof(*r));
	while ((dev = pci_fabric_next_dev(f, dev)))
		nr_dev++;
	/* Both lists are bounded by the number of functions. */
	r->prov = calloc(nr_dev ? nr_dev : 1, sizeof(*r->prov));
	r->client = calloc(nr_dev ? nr_dev : 1, sizeof(*r->client));
	if (!r->prov || !r->client)
		return -ENOMEM;

	while ((dev = pci_fabric_next_dev(f, dev))) {
		int ret = cli_p2p_provider_get(dev, &r->prov[r->nr_prov]);

		if (!ret)
			r->nr_prov++;
		else if (ret != -ENODEV)
			return ret;
		if (cli_is_endpoint(dev))
			client_get(&r->client[r->nr_client++], dev);
	}
	return 0;
}

void cli_p2p_report_free(struct cli_p2p_report *r)
{
	free(r->prov);
	free(r->client);
	memset(r, 0, sizeof(*r));
}
