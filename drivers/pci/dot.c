// SPDX-License-Identifier: MIT
/*
 * The fabric's topology as a Graphviz digraph (`dot -Tsvg`):
 *
 *   host bridge (box3d) -> root ports and the host function on its root bus
 *   root port -> the switch (a cluster: upstream port, downstream ports) or
 *                an endpoint
 *   downstream port -> endpoint
 *
 * Edges are PCIe links, drawn from the upstream side. Ports show their bus
 * range and ACS redirect state, endpoints their IDs, class and BARs: what a
 * reader needs to see why two devices can or cannot talk peer to peer.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

#include <hetmem/pci.h>
#include <hetmem/pci-dump.h>

struct class_name {
	uint32_t class; /* base class and subclass, no prog-if */
	const char *name;
};

/* Only what the machines build; anything else is shown by number. */
static const struct class_name class_names[] = {
	{ 0x0106, "SATA controller" },
	{ 0x0108, "Non-Volatile memory controller" },
	{ 0x0200, "Ethernet controller" },
	{ 0x0207, "InfiniBand controller" },
	{ 0x0300, "VGA compatible controller" },
	{ 0x0302, "3D controller" },
	{ 0x0380, "Display controller" },
	{ 0x0500, "RAM memory" },
	{ 0x0580, "Memory controller" },
	{ 0x0600, "Host bridge" },
	{ 0x0604, "PCI bridge" },
	{ 0x1200, "Processing accelerator" },
};

static const char *class_name(uint32_t class)
{
	for (size_t i = 0; i < sizeof(class_names) / sizeof(class_names[0]); i++)
		if (class_names[i].class == class >> 8)
			return class_names[i].name;
	return NULL;
}

static const char *port_type_name(int type)
{
	switch (type) {
	case PCI_EXP_TYPE_ROOT_PORT:
		return "Root Port";
	case PCI_EXP_TYPE_UPSTREAM:
		return "Switch Upstream Port";
	case PCI_EXP_TYPE_DOWNSTREAM:
		return "Switch Downstream Port";
	default:
		return NULL;
	}
}

/*
 * Names come from machine configs: escape what would end a DOT string or
 * start an escape sequence, and drop control characters.
 */
static void write_escaped(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		if ((unsigned char)*s >= 0x20)
			fputc(*s, out);
	}
}

/* Node IDs: functions by address (unique per fabric), host bridges by name. */
static void write_dev_id(FILE *out, const struct pci_dev *dev)
{
	fprintf(out, "\"%s\"", pci_name(dev));
}

static void write_hb_id(FILE *out, const struct pci_host_bridge *hb)
{
	fputs("\"hb:", out);
	write_escaped(out, pci_host_bridge_name(hb));
	fputc('"', out);
}

static void write_size(FILE *out, uint64_t size)
{
	static const char units[] = "KMGT";
	unsigned int u = 0;

	size >>= 10;
	while (u + 1 < sizeof(units) - 1 && size >= 1024 && !(size & 1023)) {
		size >>= 10;
		u++;
	}
	fprintf(out, "%" PRIu64 "%c", size, units[u]);
}

static void write_bars(FILE *out, struct pci_dev *dev)
{
	for (int bar = 0; bar < PCI_STD_NUM_BARS_HM; bar++) {
		uint64_t len = pci_resource_len(dev, bar);
		unsigned int flags = pci_resource_flags(dev, bar);

		if (!len)
			continue;
		fprintf(out, "\\nBAR%d ", bar);
		write_size(out, len);
		fprintf(out, " %s%s @ 0x%" PRIx64, flags & PCI_BAR_MEM64 ? "64-bit" : "32-bit",
			flags & PCI_BAR_PREFETCH ? " pref" : "", pci_bus_address(dev, bar));
	}
}

static void write_port_details(FILE *out, struct pci_dev *dev)
{
	uint8_t secondary = 0, subordinate = 0;
	unsigned int acs = pci_find_ext_capability(dev, PCI_EXT_CAP_ID_ACS);

	pci_read_config_byte(dev, PCI_SECONDARY_BUS, &secondary);
	pci_read_config_byte(dev, PCI_SUBORDINATE_BUS, &subordinate);
	if (secondary == subordinate)
		fprintf(out, "\\nbus %02x", secondary);
	else
		fprintf(out, "\\nbuses %02x-%02x", secondary, subordinate);

	/* Request/completion redirect decide whether peer traffic stays local. */
	if (acs) {
		uint16_t ctrl = 0;

		pci_read_config_word(dev, (int)acs + PCI_ACS_CTRL, &ctrl);
		fprintf(out, "\\nACS ReqRedir%c CmpltRedir%c", ctrl & PCI_ACS_RR ? '+' : '-',
			ctrl & PCI_ACS_CR ? '+' : '-');
	}
}

static void write_dev_node(FILE *out, struct pci_dev *dev, const char *indent)
{
	uint32_t class = pci_dev_class(dev);
	const char *cname = class_name(class);
	const char *ptype = port_type_name(pci_pcie_type(dev));

	fputs(indent, out);
	write_dev_id(out, dev);
	fputs(" [label=\"", out);
	write_escaped(out, pci_dev_label(dev));
	fprintf(out, "\\n%s\\n[%04x:%04x] ", pci_name(dev), pci_dev_vendor(dev),
		pci_dev_device(dev));
	if (ptype)
		fputs(ptype, out);
	else if (cname)
		fprintf(out, "%s (%06x)", cname, class);
	else
		fprintf(out, "class %06x", class);

	if (pci_is_bridge(dev))
		write_port_details(out, dev);
	else
		write_bars(out, dev);

	if (pci_is_bridge(dev))
		fputs("\", shape=box, style=rounded];\n", out);
	else if (pci_pcie_type(dev) < 0)
		fputs("\", shape=box, style=dashed];\n", out);
	else
		fputs("\", shape=box, style=\"filled\", fillcolor=\"#e8f0ff\"];\n", out);
}

static void write_host_bridge_node(FILE *out, const struct pci_host_bridge *hb)
{
	const struct pci_host_bridge_info *info = pci_host_bridge_info_get(hb);

	fputs("\t", out);
	write_hb_id(out, hb);
	fputs(" [label=\"", out);
	write_escaped(out, pci_host_bridge_name(hb));
	fprintf(out, "\\nhost bridge, domain %04x\\nbus offset 0x%" PRIx64 "\\npeer traffic %s",
		info->domain, info->bus_offset, info->p2p_allowed ? "allowed" : "refused");
	fputs("\", shape=box3d];\n", out);
}

/*
 * A switch is its upstream port and the downstream ports on its internal
 * bus: drawn as one cluster so the switch reads as a single box.
 */
static void write_switch(FILE *out, struct pci_fabric *f, struct pci_dev *usp)
{
	struct pci_dev *dev;

	fputs("\tsubgraph ", out);
	fprintf(out, "\"cluster_%s\" {\n\t\tlabel=\"switch ", pci_name(usp));
	write_escaped(out, pci_dev_label(usp));
	fputs("\";\n\t\tstyle=rounded;\n", out);
	write_dev_node(out, usp, "\t\t");
	for (dev = pci_fabric_next_dev(f, NULL); dev; dev = pci_fabric_next_dev(f, dev))
		if (pci_upstream_bridge(dev) == usp)
			write_dev_node(out, dev, "\t\t");
	fputs("\t}\n", out);
}

int pci_fabric_write_dot(struct pci_fabric *f, FILE *out)
{
	struct pci_host_bridge *hb;
	struct pci_dev *dev, *up;

	fputs("digraph hetmem {\n\tnode [fontname=\"monospace\", fontsize=10];\n"
	      "\tedge [arrowhead=none];\n",
	      out);

	for (hb = pci_fabric_next_host_bridge(f, NULL); hb; hb = pci_fabric_next_host_bridge(f, hb))
		write_host_bridge_node(out, hb);

	/* Nodes: switches as clusters, their downstream ports inside them. */
	for (dev = pci_fabric_next_dev(f, NULL); dev; dev = pci_fabric_next_dev(f, dev)) {
		up = pci_upstream_bridge(dev);
		if (pci_pcie_type(dev) == PCI_EXP_TYPE_UPSTREAM)
			write_switch(out, f, dev);
		else if (!up || pci_pcie_type(up) != PCI_EXP_TYPE_UPSTREAM)
			write_dev_node(out, dev, "\t");
	}

	/* Edges: every function hangs off the bridge above it, or its host bridge. */
	for (dev = pci_fabric_next_dev(f, NULL); dev; dev = pci_fabric_next_dev(f, dev)) {
		up = pci_upstream_bridge(dev);
		fputs("\t", out);
		if (up)
			write_dev_id(out, up);
		else
			write_hb_id(out, pci_host_bridge_of(dev));
		fputs(" -> ", out);
		write_dev_id(out, dev);
		fputs(";\n", out);
	}
	fputs("}\n", out);

	if (fflush(out) || ferror(out))
		return -EIO;
	return 0;
}
