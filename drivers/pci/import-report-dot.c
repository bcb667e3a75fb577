// SPDX-License-Identifier: MIT
/*
 * The readiness report as a Graphviz graph (`dot -Tsvg`): the devices of
 * the report, the bridges above them and their host bridges as the tree
 * (solid edges: links), and one dashed edge per pair of devices coloured
 * by its map type and labelled with the distance. Bridges show their port
 * type and ACS redirect bits, so the picture says where traffic turns.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <hetmem/pci-import.h>

static const char *port_name(int type)
{
	switch (type) {
	case PCI_EXP_TYPE_ROOT_PORT:
		return "Root Port";
	case PCI_EXP_TYPE_UPSTREAM:
		return "Switch Upstream Port";
	case PCI_EXP_TYPE_DOWNSTREAM:
		return "Switch Downstream Port";
	case PCI_EXP_TYPE_PCI_BRIDGE:
		return "PCIe to PCI bridge";
	default:
		return "bridge";
	}
}

static const char *edge_colour(enum pci_p2pdma_map_type t)
{
	return t == PCI_P2PDMA_MAP_BUS_ADDR	    ? "green4" :
	       t == PCI_P2PDMA_MAP_THRU_HOST_BRIDGE ? "darkorange" :
						      "red3";
}

/* Every function to draw: the devices and the bridges above them. */
static bool *functions_to_draw(const struct pci_p2p_report *r)
{
	unsigned int n = pci_import_nr_devs(r->imp);
	bool *draw = calloc(n ? n : 1, sizeof(*draw));

	if (!draw)
		return NULL;
	for (unsigned int i = 0; i < n; i++) {
		struct pci_dev *d = pci_import_dev(r->imp, i);
		bool wanted = false;

		for (unsigned int k = 0; d && k < r->nr_dev && !wanted; k++)
			for (struct pci_dev *up = r->dev[k]; up && !wanted;
			     up = pci_upstream_bridge(up))
				wanted = up == d;
		draw[i] = wanted;
	}
	return draw;
}

static void print_function(const struct pci_p2p_report *r, struct pci_dev *d, FILE *out)
{
	const struct pci_import_func *f = pci_import_func_of(d);
	char bits[16];

	if (f->bridge) {
		fprintf(out, "\t\"%s\" [label=\"%s\\n%s%s\\n%04x:%04x", pci_name(d), pci_name(d),
			port_name(f->pcie_type), f->pcie_type_guessed ? "?" : "", f->vendor,
			f->device);
		if (f->acs_assumed_off)
			fputs("\\nACS redirect off (what-if)", out);
		else if (f->acs == PCI_IMPORT_ACS_UNKNOWN)
			fputs("\\nACS unknown", out);
		else if (f->acs == PCI_IMPORT_ACS_READ &&
			 (f->acs_ctrl & (PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_EC)))
			fprintf(out, "\\nACS redirect: %s",
				pci_p2p_acs_bits(f->acs_ctrl, bits, sizeof(bits)));
		fputs("\"];\n", out);
		return;
	}
	for (unsigned int k = 0; k < r->nr_dev; k++) {
		if (r->dev[k] != d)
			continue;
		fprintf(out, "\t\"%s\" [shape=component, label=\"[%u] %s\\n%s %04x:%04x%s%s\"];\n",
			pci_name(d), k + 1, pci_name(d),
			pci_p2p_category(f->class) ? pci_p2p_category(f->class) : "endpoint",
			f->vendor, f->device, f->driver[0] ? "\\n" : "", f->driver);
		return;
	}
}

int pci_p2p_report_write_dot(const struct pci_p2p_report *r, FILE *out)
{
	struct pci_host_bridge *hb = NULL;
	bool *draw = functions_to_draw(r);

	if (!draw)
		return -ENOMEM;
	fputs("graph p2p_check {\n"
	      "\tgraph [fontname=\"monospace\"];\n"
	      "\tnode [shape=box, fontname=\"monospace\", fontsize=10];\n"
	      "\tedge [fontname=\"monospace\", fontsize=9];\n",
	      out);
	while ((hb = pci_fabric_next_host_bridge(pci_import_fabric(r->imp), hb))) {
		struct pci_p2p_hb_check c;
		bool used = false;

		for (unsigned int k = 0; k < r->nr_dev && !used; k++)
			used = pci_host_bridge_of(r->dev[k]) == hb;
		if (!used)
			continue;
		pci_p2p_check_host_bridge(hb, true, &r->opts.env, &c);
		fprintf(out, "\t\"%s\" [shape=box3d, label=\"%s", pci_host_bridge_name(hb),
			pci_host_bridge_name(hb));
		if (c.id_dev)
			fprintf(out, "\\n%s %04x:%04x", pci_name(c.id_dev), c.vendor, c.device);
		fprintf(out, "\\n%s\"];\n",
			c.verdict == PCI_P2P_HB_ALLOWED	     ? "on the P2PDMA allow-list" :
			c.verdict == PCI_P2P_HB_ASSUMED	     ? "trusted (what-if)" :
			c.verdict == PCI_P2P_HB_UNIDENTIFIED ? "unidentified" :
							       "not on the allow-list");
	}
	for (unsigned int i = 0; i < pci_import_nr_devs(r->imp); i++)
		if (draw[i])
			print_function(r, pci_import_dev(r->imp, i), out);
	for (unsigned int i = 0; i < pci_import_nr_devs(r->imp); i++) {
		struct pci_dev *d = pci_import_dev(r->imp, i), *up;

		if (!draw[i])
			continue;
		up = pci_upstream_bridge(d);
		fprintf(out, "\t\"%s\" -- \"%s\";\n",
			up ? pci_name(up) : pci_host_bridge_name(pci_host_bridge_of(d)),
			pci_name(d));
	}
	for (unsigned int k = 0; k < r->nr_pairs; k++) {
		const struct pci_p2p_pair *p = &r->pairs[k];

		fprintf(out,
			"\t\"%s\" -- \"%s\" [style=dashed, constraint=false, color=%s, fontcolor=%s, label=\"%s %d\"];\n",
			pci_name(p->provider), pci_name(p->client), edge_colour(p->res.type),
			edge_colour(p->res.type), pci_p2p_map_type_name(p->res.type),
			p->res.distance);
	}
	fputs("}\n", out);
	free(draw);
	if (fflush(out) || ferror(out))
		return -EIO;
	return 0;
}
