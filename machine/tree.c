// SPDX-License-Identifier: MIT
/*
 * The machine as a tree, in the spirit of `lspci -tv` but with the config's
 * names and what p2pdma cares about (ACS bits, BAR bus addresses):
 *
 *   hb0 [1000:00] host bridge 8086:09a2, p2p allowed, ...
 *    +- 1000:00:00.0 hb0.host host bridge function 8086:09a2
 *    +- 1000:00:01.0 rp0 root port [ACS: -]
 *    |   \- 1000:01:00.0 sw0 switch upstream port
 *    |       +- 1000:02:00.0 sw0.0 switch downstream port [ACS: -]
 *    ...
 *
 * Everything printed is read back from the fabric (configuration space,
 * BARs as enumeration placed them), not from the config.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hetmem/machine.h>
#include "internal.h"

/* Bus numbers bound the depth: at most 256 buses in a domain. */
#define TREE_MAX_DEPTH 260

struct tree_node {
	struct pci_dev *dev;
	int parent; /* index of the node above, -1 for the host bridge */
	bool last; /* no sibling follows */
};

static const char *acs_of(struct pci_dev *dev, char *buf, size_t len)
{
	unsigned int pos = pci_find_ext_capability(dev, PCI_EXT_CAP_ID_ACS);
	uint16_t ctrl = 0;

	if (!pos || pci_read_config_word(dev, (int)(pos + PCI_ACS_CTRL), &ctrl))
		return "none";
	return mc_format_acs(ctrl, buf, len);
}

static void print_dev(struct pci_dev *dev, FILE *out)
{
	char buf[24];

	switch (pci_pcie_type(dev)) {
	case PCI_EXP_TYPE_ROOT_PORT:
		fprintf(out, "root port [ACS: %s]", acs_of(dev, buf, sizeof(buf)));
		break;
	case PCI_EXP_TYPE_UPSTREAM:
		fprintf(out, "switch upstream port");
		break;
	case PCI_EXP_TYPE_DOWNSTREAM:
		fprintf(out, "switch downstream port [ACS: %s]", acs_of(dev, buf, sizeof(buf)));
		break;
	case PCI_EXP_TYPE_ENDPOINT:
		fprintf(out, "endpoint %04x:%04x class %06x", pci_dev_vendor(dev),
			pci_dev_device(dev), pci_dev_class(dev));
		for (int i = 0; i < PCI_STD_NUM_BARS_HM; i++) {
			unsigned int flags = pci_resource_flags(dev, i);
			uint64_t len = pci_resource_len(dev, i);

			if (!len)
				continue;
			fprintf(out, ", bar%d 0x%llx %s%s%s", i,
				(unsigned long long)pci_bus_address(dev, i),
				mc_format_size(len, buf, sizeof(buf)),
				flags & PCI_BAR_MEM64 ? " 64-bit" : "",
				flags & PCI_BAR_PREFETCH ? " pref" : "");
		}
		break;
	case -1:
		fprintf(out, "host bridge function %04x:%04x", pci_dev_vendor(dev),
			pci_dev_device(dev));
		break;
	default:
		fprintf(out, "PCIe type %d", pci_pcie_type(dev));
		break;
	}
}

static void print_host_bridge(struct pci_host_bridge *hb, unsigned int root_bus, FILE *out)
{
	const struct pci_host_bridge_info *info = pci_host_bridge_info_get(hb);
	char mem[24], pref[24];

	fprintf(out, "%s [%04x:%02x] ", pci_host_bridge_name(hb), info->domain, root_bus);
	if (pci_host_bridge_dev(hb))
		fprintf(out, "host bridge %04x:%04x", info->vendor, info->device);
	else
		fprintf(out, "host bridge without a host bridge function");
	fprintf(out, ", p2p %s, iommu %s, bus offset 0x%llx, mem 0x%llx %s, pref 0x%llx %s\n",
		info->p2p_allowed ? "allowed" : "denied",
		info->iommu_passthrough ? "passthrough" : "translated",
		(unsigned long long)info->bus_offset, (unsigned long long)info->mem_base,
		mc_format_size(info->mem_size, mem, sizeof(mem)),
		(unsigned long long)info->pref_base,
		mc_format_size(info->pref_size, pref, sizeof(pref)));
}

/* Draw nodes [@first, @end) of one host bridge; their parents are among them. */
static void print_nodes(struct tree_node *nodes, int first, int end, FILE *out)
{
	char prefix[TREE_MAX_DEPTH * 4 + 1];

	for (int i = first; i < end; i++) {
		nodes[i].last = true;
		for (int j = i + 1; j < end; j++)
			if (nodes[j].parent == nodes[i].parent)
				nodes[i].last = false;
	}
	for (int i = first; i < end; i++) {
		int depth = 0, pos;

		for (int a = nodes[i].parent; a >= 0 && depth < TREE_MAX_DEPTH; a = nodes[a].parent)
			depth++;
		/* Each ancestor draws a rail while siblings of its own follow. */
		pos = depth * 4;
		prefix[pos] = '\0';
		for (int a = nodes[i].parent; a >= 0 && pos > 0; a = nodes[a].parent) {
			pos -= 4;
			memcpy(prefix + pos, nodes[a].last ? "    " : "|   ", 4);
		}
		fprintf(out, " %s%s %s %s ", prefix, nodes[i].last ? "\\-" : "+-",
			pci_name(nodes[i].dev), pci_dev_label(nodes[i].dev));
		print_dev(nodes[i].dev, out);
		fputc('\n', out);
	}
}

void machine_print_tree(struct machine *m, FILE *out)
{
	struct pci_fabric *f = m->fabric;
	struct pci_host_bridge *hb;
	struct tree_node *nodes;
	struct pci_dev *dev;
	int n = 0, cap = 0, i;

	for (dev = pci_fabric_next_dev(f, NULL); dev; dev = pci_fabric_next_dev(f, dev))
		cap++;
	nodes = calloc((size_t)cap + 1, sizeof(*nodes));
	if (!nodes) {
		fprintf(out, "(out of memory)\n");
		return;
	}
	/* Depth-first order puts every function after the bridge above it. */
	for (dev = pci_fabric_next_dev(f, NULL); dev && n < cap;
	     dev = pci_fabric_next_dev(f, dev)) {
		struct pci_dev *up = pci_upstream_bridge(dev);

		nodes[n].dev = dev;
		nodes[n].parent = -1;
		for (int j = n - 1; up && j >= 0; j--)
			if (nodes[j].dev == up) {
				nodes[n].parent = j;
				break;
			}
		n++;
	}

	i = 0;
	for (hb = pci_fabric_next_host_bridge(f, NULL); hb;
	     hb = pci_fabric_next_host_bridge(f, hb)) {
		int first = i;

		while (i < n && pci_host_bridge_of(nodes[i].dev) == hb)
			i++;
		print_host_bridge(hb, first < i ? pci_dev_busnr(nodes[first].dev) : 0, out);
		print_nodes(nodes, first, i, out);
	}
	free(nodes);
}
