// SPDX-License-Identifier: MIT
/*
 * The readiness report as one JSON object, for scripts:
 *
 *   { "source", "what_if", "warnings", "machine" (null for a dump),
 *     "cpu_rule", "host_bridges": [...], "devices": [...],
 *     "pairs": [ { "provider", "client", "map_type", "distance",
 *                  "acs_redirect", "acs_unknown", "disable_acs_redir",
 *                  "denied_host_bridge", "cpu_rule", "reason",
 *                  "why", "fix", "caveats" } ],
 *     "summary" }
 *
 * IDs are 4-digit hex strings as lspci prints them, sizes are bytes. The
 * library has no JSON dependency: strings are escaped here.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <hetmem/pci-import.h>

static void str(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", out);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void key(FILE *out, bool *first, const char *k)
{
	fprintf(out, "%s", *first ? "" : ", ");
	*first = false;
	str(out, k);
	fputs(": ", out);
}

static void hex4(FILE *out, uint16_t v)
{
	fprintf(out, "\"%04x\"", v);
}

static void print_whatif(const struct pci_p2p_report *r, FILE *out)
{
	const struct pci_p2p_env *env = &r->opts.env;
	bool first = true;

	fputs("{\"acs_off\": [", out);
	for (unsigned int i = 0; i < pci_import_nr_devs(r->imp); i++) {
		struct pci_dev *d = pci_import_dev(r->imp, i);

		if (d && pci_import_func_of(d)->acs_assumed_off) {
			fputs(first ? "" : ", ", out);
			str(out, pci_name(d));
			first = false;
		}
	}
	fputs("], \"allowed_host_bridges\": [", out);
	for (unsigned int i = 0; i < env->nr_allowed_hb; i++) {
		fputs(i ? ", " : "", out);
		str(out, pci_host_bridge_name(env->allowed_hb[i]));
	}
	fputs("], \"allowed_ids\": [", out);
	for (unsigned int i = 0; i < env->nr_allowed_id; i++)
		fprintf(out, "%s\"%04x:%04x\"", i ? ", " : "", env->allowed_id[i].vendor,
			env->allowed_id[i].device);
	fputs("]}", out);
}

static void print_machine(const struct pci_p2p_host *h, FILE *out)
{
	static const char *const mode[] = { "unknown", "off", "translated", "passthrough" };
	bool first = true;

	if (!h) {
		fputs("null", out);
		return;
	}
	fputc('{', out);
	key(out, &first, "kernel");
	str(out, h->release);
	key(out, &first, "config_pci_p2pdma");
	fputs(h->p2pdma < 0 ? "null" : h->p2pdma ? "true" : "false", out);
	key(out, &first, "config_source");
	str(out, h->config_source);
	key(out, &first, "p2pmem_allocate");
	fputs(h->p2pdma > 0 && h->kernel >= PCI_P2P_KERNEL(6, 2) ? "true" : "false", out);
	key(out, &first, "cpu_vendor");
	str(out, h->cpu_vendor);
	key(out, &first, "cpu_family");
	fprintf(out, "%u", h->cpu_family);
	key(out, &first, "iommu");
	fprintf(out, "{\"mode\": \"%s\", \"why\": ", mode[h->iommu]);
	str(out, h->iommu_why);
	fputs(", \"units\": ", out);
	str(out, h->iommu_names);
	fputs(", \"cmdline\": ", out);
	str(out, h->cmdline_iommu);
	fputc('}', out);
	key(out, &first, "disable_acs_redir");
	str(out, h->disable_acs_redir);
	fputc('}', out);
}

/* Every function with p2pmem, candidate or not: the providers there are. */
static void print_providers(const struct pci_p2p_report *r, FILE *out)
{
	bool first = true;

	fputc('[', out);
	for (unsigned int i = 0; i < pci_import_nr_devs(r->imp); i++) {
		struct pci_dev *d = pci_import_dev(r->imp, i);

		if (!d || !pci_import_func_of(d)->p2pmem.present)
			continue;
		fputs(first ? "" : ", ", out);
		first = false;
		str(out, pci_name(d));
	}
	fputc(']', out);
}

static const char *verdict_name(enum pci_p2p_hb_verdict v)
{
	static const char *const names[] = { "allowed",	     "same_host_bridge_only", "unlisted",
					     "unidentified", "newer_kernel",	      "assumed" };

	return v < sizeof(names) / sizeof(names[0]) ? names[v] : "unknown";
}

static void print_hb_check(const struct pci_p2p_hb_check *c, FILE *out)
{
	fprintf(out, "\"verdict\": \"%s\", \"id_function\": ", verdict_name(c->verdict));
	if (c->id_dev)
		str(out, pci_name(c->id_dev));
	else
		fputs("null", out);
	fputs(", \"vendor\": ", out);
	hex4(out, c->vendor);
	fputs(", \"device\": ", out);
	hex4(out, c->device);
	fputs(", \"allow_list_entry\": ", out);
	if (c->what)
		str(out, c->what);
	else
		fputs("null", out);
	if (c->since)
		fprintf(out, ", \"since\": \"%u.%u%s\"", PCI_P2P_KERNEL_MAJOR(c->since),
			PCI_P2P_KERNEL_MINOR(c->since), c->since_exact ? "" : "+");
	else
		fputs(", \"since\": null", out);
}

static void print_host_bridges(const struct pci_p2p_report *r, FILE *out)
{
	struct pci_host_bridge *hb = NULL;
	bool first = true;

	fputc('[', out);
	while ((hb = pci_fabric_next_host_bridge(pci_import_fabric(r->imp), hb))) {
		struct pci_p2p_hb_check c, across;

		pci_p2p_check_host_bridge(hb, true, &r->opts.env, &c);
		pci_p2p_check_host_bridge(hb, false, &r->opts.env, &across);
		fprintf(out, "%s{\"name\": ", first ? "" : ", ");
		first = false;
		str(out, pci_host_bridge_name(hb));
		fprintf(out, ", \"root_bus\": \"%02x\", ", pci_import_root_bus(r->imp, hb));
		print_hb_check(&c, out);
		fprintf(out, ", \"across_host_bridges\": \"%s\"}", verdict_name(across.verdict));
	}
	fputc(']', out);
}

static void print_device(const struct pci_p2p_report *r, unsigned int i, FILE *out)
{
	struct pci_dev *d = r->dev[i];
	const struct pci_import_func *f = pci_import_func_of(d);
	static const char *const acs[] = { "none", "read", "unknown" };
	const char *cat = pci_p2p_category(f->class);
	bool first = true;

	fprintf(out, "{\"index\": %u, \"address\": ", i + 1);
	str(out, pci_name(d));
	fputs(", \"vendor\": ", out);
	hex4(out, f->vendor);
	fputs(", \"device\": ", out);
	hex4(out, f->device);
	fprintf(out, ", \"class\": \"%06x\", \"category\": ", f->class);
	str(out, cat ? cat : "endpoint");
	fputs(", \"driver\": ", out);
	str(out, f->driver);
	fprintf(out, ", \"config_bytes\": %u, \"acs\": \"%s\", \"bars\": [", f->config_len,
		acs[f->acs]);
	for (int b = 0; b < PCI_STD_NUM_BARS_HM; b++) {
		if (!f->bar[b].implemented)
			continue;
		fprintf(out,
			"%s{\"bar\": %d, \"size\": %" PRIu64
			", \"io\": %s, \"mem64\": %s, \"prefetchable\": %s}",
			first ? "" : ", ", b, f->bar[b].size, f->bar[b].io ? "true" : "false",
			f->bar[b].mem64 ? "true" : "false", f->bar[b].prefetch ? "true" : "false");
		first = false;
	}
	fprintf(out, "], \"small_bar\": %s, \"rebar\": [", pci_p2p_small_bar(f) ? "true" : "false");
	for (unsigned int k = 0; k < f->nr_rebar; k++)
		fprintf(out, "%s{\"bar\": %d, \"current\": %" PRIu64 ", \"max\": %" PRIu64 "}",
			k ? ", " : "", f->rebar[k].bar, f->rebar[k].current, f->rebar[k].max);
	fputs("], \"p2pmem\": ", out);
	if (f->p2pmem.present)
		fprintf(out,
			"{\"size\": %" PRIu64 ", \"available\": %" PRIu64
			", \"published\": %s, \"allocate\": %s}",
			f->p2pmem.size, f->p2pmem.available, f->p2pmem.published ? "true" : "false",
			f->p2pmem.allocate ? "true" : "false");
	else
		fputs("null", out);
	fputs(", \"iommu_group_type\": ", out);
	str(out, f->iommu_group_type);
	fputc('}', out);
}

struct notes {
	FILE *out;
	enum pci_p2p_note want;
	bool first;
};

static void note_cb(enum pci_p2p_note kind, const char *text, void *arg)
{
	struct notes *n = arg;

	if (kind != n->want)
		return;
	fputs(n->first ? "" : ", ", n->out);
	n->first = false;
	str(n->out, text);
}

static void print_notes(const struct pci_p2p_report *r, const struct pci_p2p_pair *p,
			const char *name, enum pci_p2p_note kind, FILE *out)
{
	struct notes n = { .out = out, .want = kind, .first = true };

	fprintf(out, ", \"%s\": [", name);
	pci_p2p_explain(r, p, note_cb, &n);
	fputc(']', out);
}

static void print_pair(const struct pci_p2p_report *r, const struct pci_p2p_pair *p, FILE *out)
{
	const struct pci_p2p_result *res = &p->res;
	bool acs = res->common && res->nr_acs;
	char bits[16];

	fputs("{\"provider\": ", out);
	str(out, pci_name(p->provider));
	fputs(", \"client\": ", out);
	str(out, pci_name(p->client));
	fprintf(out, ", \"map_type\": \"%s\", \"distance\": %d, \"common_bridge\": ",
		pci_p2p_map_type_name(res->type), res->distance);
	if (res->common)
		str(out, pci_name(res->common));
	else
		fputs("null", out);
	fputs(", \"acs_redirect\": [", out);
	for (unsigned int i = 0; acs && i < res->nr_acs && i < PCI_P2P_MAX_PATH; i++) {
		fprintf(out, "%s{\"address\": ", i ? ", " : "");
		str(out, pci_name(res->acs[i]));
		fputs(", \"bits\": ", out);
		str(out, pci_p2p_acs_bits(pci_import_func_of(res->acs[i])->acs_ctrl, bits,
					  sizeof(bits)));
		fputc('}', out);
	}
	fputs("], \"acs_unknown\": [", out);
	for (unsigned int i = 0; i < p->nr_acs_unknown; i++) {
		fputs(i ? ", " : "", out);
		str(out, pci_name(p->acs_unknown[i]));
	}
	fputs("], \"disable_acs_redir\": ", out);
	if (acs && res->type != PCI_P2PDMA_MAP_BUS_ADDR) {
		fputs("\"pci=disable_acs_redir=", out);
		for (unsigned int i = 0; i < res->nr_acs && i < PCI_P2P_MAX_PATH; i++)
			fprintf(out, "%s%s", i ? ";" : "", pci_name(res->acs[i]));
		fputc('"', out);
	} else {
		fputs("null", out);
	}
	fputs(", \"denied_host_bridge\": ", out);
	if (res->denied) {
		fputs("{\"name\": ", out);
		str(out, pci_host_bridge_name(res->denied));
		fputs(", ", out);
		print_hb_check(&res->hb, out);
		fputc('}', out);
	} else {
		fputs("null", out);
	}
	fprintf(out, ", \"cpu_rule\": %s, \"reason\": ", res->cpu_rule ? "true" : "false");
	str(out, res->reason);
	print_notes(r, p, "why", PCI_P2P_NOTE_WHY, out);
	print_notes(r, p, "fix", PCI_P2P_NOTE_FIX, out);
	print_notes(r, p, "caveats", PCI_P2P_NOTE_CAVEAT, out);
	fputc('}', out);
}

int pci_p2p_report_write_json(const struct pci_p2p_report *r, FILE *out)
{
	fputs("{\"source\": ", out);
	str(out, pci_import_source(r->imp));
	fputs(",\n \"what_if\": ", out);
	print_whatif(r, out);
	fputs(",\n \"warnings\": [", out);
	for (unsigned int i = 0; i < pci_import_nr_warnings(r->imp); i++) {
		fputs(i ? ", " : "", out);
		str(out, pci_import_warning(r->imp, i));
	}
	fputs("],\n \"machine\": ", out);
	print_machine(r->opts.host, out);
	fputs(",\n \"p2pmem_providers\": ", out);
	print_providers(r, out);
	fprintf(out, ",\n \"cpu_rule\": {\"on\": %s, \"from\": \"%s\"}",
		r->opts.env.cpu_supports_p2pdma ? "true" : "false",
		r->opts.cpu_flag			? "flag" :
		r->opts.host && r->opts.host->cpu_known ? "cpuinfo" :
							  "default");
	fprintf(out, ",\n \"all\": %s,\n \"host_bridges\": ", r->opts.all ? "true" : "false");
	print_host_bridges(r, out);
	fputs(",\n \"devices\": [", out);
	for (unsigned int i = 0; i < r->nr_dev; i++) {
		fputs(i ? ",\n  " : "\n  ", out);
		print_device(r, i, out);
	}
	fputs("],\n \"pairs\": [", out);
	for (unsigned int k = 0; k < r->nr_pairs; k++) {
		fputs(k ? ",\n  " : "\n  ", out);
		print_pair(r, &r->pairs[k], out);
	}
	fprintf(out,
		"],\n \"summary\": {\"devices\": %u, \"pairs\": %u, \"BUS_ADDR\": %u, \"THRU_HOST_BRIDGE\": %u, \"NOT_SUPPORTED\": %u, \"disable_acs_redir\": ",
		r->nr_dev, r->nr_pairs, r->count[PCI_P2PDMA_MAP_BUS_ADDR],
		r->count[PCI_P2PDMA_MAP_THRU_HOST_BRIDGE], r->count[PCI_P2PDMA_MAP_NOT_SUPPORTED]);
	if (r->acs_all[0]) {
		fputs("\"pci=disable_acs_redir=", out);
		fputs(r->acs_all, out);
		fputc('"', out);
	} else {
		fputs("null", out);
	}
	fputs("}}\n", out);
	if (fflush(out) || ferror(out))
		return -EIO;
	return 0;
}
