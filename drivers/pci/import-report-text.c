// SPDX-License-Identifier: MIT
/*
 * The readiness report for people:
 *
 *   P2P readiness of DUMP: 14 functions, 1 host bridge
 *   Machine       kernel, CPU rule, IOMMU (or what a dump cannot tell)
 *   Host bridges  the ID the kernel looks up, and its verdict
 *   Devices       [n] address, kind, IDs, driver, BARs, p2pmem
 *   Matrix        map type and distance per pair (a list past 8 devices)
 *   Why           per pair that is not plainly BUS_ADDR: causes, remedies
 *   Summary       counts, and one pci=disable_acs_redir= for every pair
 *
 * Map types are coloured when asked (a terminal): BUS_ADDR green,
 * THRU_HOST_BRIDGE yellow, NOT_SUPPORTED red.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hetmem/pci-import.h>

#define WRAP	   98
#define MATRIX_MAX 8

struct text {
	const struct pci_p2p_report *r;
	FILE *out;
	bool colour;
};

static const char *colour_of(enum pci_p2pdma_map_type t)
{
	return t == PCI_P2PDMA_MAP_BUS_ADDR	    ? "\033[32m" :
	       t == PCI_P2PDMA_MAP_THRU_HOST_BRIDGE ? "\033[33m" :
						      "\033[31m";
}

static const char *short_name(enum pci_p2pdma_map_type t)
{
	return t == PCI_P2PDMA_MAP_BUS_ADDR	    ? "BUS_ADDR" :
	       t == PCI_P2PDMA_MAP_THRU_HOST_BRIDGE ? "THRU_HB" :
						      "NOT_SUPP";
}

/* @s in @width columns (at least its length), coloured as @t when asked. */
static void put_type(struct text *x, enum pci_p2pdma_map_type t, const char *s, int width)
{
	int pad = width - (int)strlen(s);

	if (x->colour)
		fprintf(x->out, "%s%s\033[0m", colour_of(t), s);
	else
		fputs(s, x->out);
	if (pad > 0)
		fprintf(x->out, "%*s", pad, "");
}

/* @text from column @col, wrapped before WRAP onto lines indented by @indent. */
static void wrap(FILE *out, unsigned int col, unsigned int indent, const char *text)
{
	bool first = true;

	while (*text) {
		size_t word = strcspn(text, " ");

		if (!first && col + 1 + word > WRAP) {
			fprintf(out, "\n%*s", (int)indent, "");
			col = indent;
		} else if (!first) {
			fputc(' ', out);
			col++;
		}
		first = false;
		fprintf(out, "%.*s", (int)word, text);
		col += (unsigned int)word;
		text += word;
		text += strspn(text, " ");
	}
	fputc('\n', out);
}

static void para(struct text *x, const char *label, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "  label       text..." with the text wrapped under itself. */
static void para(struct text *x, const char *label, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	fprintf(x->out, "  %-12s", label);
	wrap(x->out, 14, 14, text);
}

static const char *size_text(char *s, size_t n, uint64_t bytes)
{
	static const char units[] = "KMGT";
	int u = -1;

	while (bytes >= 1024 && !(bytes & 1023) && u < 3) {
		bytes >>= 10;
		u++;
	}
	if (u < 0)
		snprintf(s, n, "%" PRIu64 " B", bytes);
	else
		snprintf(s, n, "%" PRIu64 " %ciB", bytes, units[u]);
	return s;
}

static void print_whatif(struct text *x)
{
	const struct pci_p2p_report *r = x->r;
	const struct pci_p2p_env *env = &r->opts.env;
	char line[512] = "";
	size_t used = 0;

	for (unsigned int i = 0; i < pci_import_nr_devs(r->imp); i++) {
		struct pci_dev *d = pci_import_dev(r->imp, i);

		if (d && pci_import_func_of(d)->acs_assumed_off && used < sizeof(line))
			used += (size_t)snprintf(line + used, sizeof(line) - used,
						 "%sACS redirect off on %s", used ? "; " : "",
						 pci_name(d));
	}
	for (unsigned int i = 0; i < env->nr_allowed_hb && used < sizeof(line); i++)
		used += (size_t)snprintf(line + used, sizeof(line) - used,
					 "%shost bridge %s trusted", used ? "; " : "",
					 pci_host_bridge_name(env->allowed_hb[i]));
	for (unsigned int i = 0; i < env->nr_allowed_id && used < sizeof(line); i++)
		used += (size_t)snprintf(line + used, sizeof(line) - used,
					 "%s%04x:%04x on the allow-list", used ? "; " : "",
					 env->allowed_id[i].vendor, env->allowed_id[i].device);
	if (used)
		para(x, "What if", "%s.", line);
}

/* Who publishes p2pmem: the providers a client driver can find (sysfs p2pmem/). */
static void print_p2pmem(struct text *x)
{
	struct pci_import *imp = x->r->imp;
	char list[512] = "", s[32];
	size_t used = 0;

	for (unsigned int i = 0; i < pci_import_nr_devs(imp) && used < sizeof(list); i++) {
		struct pci_dev *d = pci_import_dev(imp, i);
		const struct pci_import_func *f = d ? pci_import_func_of(d) : NULL;

		if (f && f->p2pmem.present)
			used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s (%s%s)",
						 used ? ", " : "", pci_name(d),
						 size_text(s, sizeof(s), f->p2pmem.size),
						 f->p2pmem.published ? ", published" : "");
	}
	if (used)
		para(x, "p2pmem", "%s.", list);
	else
		para(x, "p2pmem",
		     "no device has p2pmem (no /sys/bus/pci/devices/*/p2pmem/): a provider's driver registers it (nvme for a controller memory buffer, some GPU and accelerator drivers for their BARs).");
}

static void print_machine(struct text *x)
{
	const struct pci_p2p_report *r = x->r;
	const struct pci_p2p_host *h = r->opts.host;

	fprintf(x->out, "\nMachine\n");
	if (!h) {
		para(x, "kernel",
		     "not known: the topology comes from elsewhere (a dump), so the kernel's CONFIG_PCI_P2PDMA, its IOMMU and its command line are not checked.");
	} else if (h->p2pdma < 0) {
		para(x, "kernel",
		     "%s: whether it has CONFIG_PCI_P2PDMA is unknown (neither /boot/config-%s nor /proc/config.gz could be read).",
		     h->release[0] ? h->release : "unknown", h->release);
	} else if (!h->p2pdma) {
		para(x, "kernel",
		     "%s: CONFIG_PCI_P2PDMA is not set (%s). This kernel does no peer-to-peer DMA at all, whatever the answers below: boot one built with CONFIG_PCI_P2PDMA=y.",
		     h->release, h->config_source);
	} else {
		para(x, "kernel", "%s: CONFIG_PCI_P2PDMA=y (%s); %s", h->release, h->config_source,
		     h->kernel >= PCI_P2P_KERNEL(6, 2) ?
			     "p2pmem/allocate (user-space P2P buffers, Linux 6.2+) is available where a driver publishes p2pmem." :
			     "older than 6.2: no p2pmem/allocate, only in-kernel users (nvmet, RDMA) can use p2pmem.");
	}
	if (r->opts.cpu_flag)
		para(x, "CPU rule", "%s by the command line (--%samd-zen).",
		     r->opts.env.cpu_supports_p2pdma ? "on" : "off",
		     r->opts.env.cpu_supports_p2pdma ? "" : "no-");
	else if (h && h->cpu_known && h->cpu_supports_p2pdma)
		para(x, "CPU",
		     "%s family 0x%x: AMD Zen or later, so the kernel lets peer traffic through any host bridge.",
		     h->cpu_vendor, h->cpu_family);
	else if (h && h->cpu_known)
		para(x, "CPU",
		     "%s family 0x%x: no CPU rule; host bridges must be on the allow-list.",
		     h->cpu_vendor[0] ? h->cpu_vendor : "(no vendor_id)", h->cpu_family);
	else
		para(x, "CPU rule",
		     "off (pass --amd-zen if the machine has an AMD Zen or later CPU).");
	if (h)
		print_p2pmem(x);
	if (h) {
		static const char *const mode[] = { "unknown", "off", "translated", "passthrough" };

		para(x, "IOMMU", "%s: %s%s%s.", mode[h->iommu], h->iommu_why,
		     h->cmdline_iommu[0] ? "; command line: " : "", h->cmdline_iommu);
	}
}

static void print_host_bridges(struct text *x)
{
	const struct pci_p2p_report *r = x->r;
	struct pci_host_bridge *hb = NULL;
	struct pci_fabric *f = pci_import_fabric(r->imp);

	fprintf(x->out, "\nHost bridges\n");
	while ((hb = pci_fabric_next_host_bridge(f, hb))) {
		struct pci_p2p_hb_check c, across;
		char since[32] = "", verdict[160];

		pci_p2p_check_host_bridge(hb, true, &r->opts.env, &c);
		pci_p2p_check_host_bridge(hb, false, &r->opts.env, &across);
		if (c.since)
			snprintf(since, sizeof(since), ", since Linux %u.%u%s",
				 PCI_P2P_KERNEL_MAJOR(c.since), PCI_P2P_KERNEL_MINOR(c.since),
				 c.since_exact ? "" : "+");
		switch (c.verdict) {
		case PCI_P2P_HB_UNIDENTIFIED:
			para(x, pci_host_bridge_name(hb), "%s",
			     c.first ?
				     "unidentified: the first function on its root bus is neither at 00.0 nor a root port, so the kernel has no ID to look up" :
				     "no function of its root bus is in the input");
			continue;
		case PCI_P2P_HB_ALLOWED:
			snprintf(verdict, sizeof(verdict), "on the allow-list (%s%s)%s", c.what,
				 since,
				 across.verdict == PCI_P2P_HB_SAME_ONLY ?
					 ", only between its own root ports" :
					 "");
			break;
		case PCI_P2P_HB_NEWER_KERNEL:
			snprintf(verdict, sizeof(verdict),
				 "on the allow-list of newer kernels (%s%s)", c.what, since);
			break;
		case PCI_P2P_HB_ASSUMED:
			snprintf(verdict, sizeof(verdict), "trusted by --assume-allowed");
			break;
		default:
			snprintf(verdict, sizeof(verdict), "not on the allow-list");
			break;
		}
		para(x, pci_host_bridge_name(hb), "identified by %s (%04x:%04x): %s%s",
		     pci_name(c.id_dev), c.vendor, c.device, verdict,
		     r->opts.env.cpu_supports_p2pdma && !strncmp(verdict, "not", 3) ?
			     "; the CPU rule lets traffic through it anyway" :
			     "");
	}
}

static void print_device(struct text *x, unsigned int i)
{
	struct pci_dev *d = x->r->dev[i];
	const struct pci_import_func *f = pci_import_func_of(d);
	const char *cat = pci_p2p_category(f->class);
	char s[32];
	bool sizes = false;

	fprintf(x->out, "  [%u] %s  %-11s %04x:%04x  %-10s", i + 1, pci_name(d),
		cat ? cat : "endpoint", f->vendor, f->device, f->driver[0] ? f->driver : "-");
	for (int b = 0; b < PCI_STD_NUM_BARS_HM; b++) {
		if (!f->bar[b].implemented || f->bar[b].io || !f->bar[b].size)
			continue;
		fprintf(x->out, " BAR%d %s%s", b, size_text(s, sizeof(s), f->bar[b].size),
			f->bar[b].prefetch ? " pref" : "");
		sizes = true;
	}
	if (!sizes)
		fprintf(x->out, " (BAR sizes not in the input)");
	fputc('\n', x->out);
	if (f->p2pmem.present)
		para(x, "", "p2pmem: %s, %s available, %spublished%s",
		     size_text(s, sizeof(s), f->p2pmem.size),
		     size_text((char[32]){ 0 }, 32, f->p2pmem.available),
		     f->p2pmem.published ? "" : "not ",
		     f->p2pmem.allocate ? ", user space can mmap p2pmem/allocate" : "");
	if (pci_p2p_small_bar(f)) {
		int bar;
		uint64_t big = pci_p2p_largest_bar(f, &bar);
		uint64_t max = 0;

		for (unsigned int k = 0; k < f->nr_rebar; k++)
			if (f->rebar[k].bar == bar && f->rebar[k].max > big)
				max = f->rebar[k].max;
		if (max)
			para(x, "",
			     "small BAR: peers reach at most %s of its memory (BAR%d). Its Resizable BAR capability allows %s: enable Resizable BAR and Above 4G Decoding in the firmware.",
			     size_text(s, sizeof(s), big), bar,
			     size_text((char[32]){ 0 }, 32, max));
		else
			para(x, "",
			     "small BAR: peers reach at most %s of its memory at a time (BAR%d); a large-BAR mode (firmware, vendor tool) lifts the limit.",
			     size_text(s, sizeof(s), big), bar);
	}
}

static void print_devices(struct text *x)
{
	const struct pci_p2p_report *r = x->r;

	fprintf(x->out, "\nDevices that can take part (%s)\n",
		r->opts.all ? "every endpoint, --all" : "NVMe, GPU, network, accelerator");
	if (!r->nr_dev)
		fprintf(x->out, "  none\n");
	for (unsigned int i = 0; i < r->nr_dev; i++)
		print_device(x, i);
}

static void cell_text(char *s, size_t n, const struct pci_p2p_pair *p)
{
	snprintf(s, n, "%s %d%s", short_name(p->res.type), p->res.distance,
		 p->nr_acs_unknown ? "?" : "");
}

static void print_matrix(struct text *x)
{
	const struct pci_p2p_report *r = x->r;
	char s[32], head[16];

	fprintf(x->out, "\nMap type and distance, provider (row) to client (column)\n\n      ");
	for (unsigned int c = 0; c < r->nr_dev; c++) {
		snprintf(head, sizeof(head), "[%u]", c + 1);
		fprintf(x->out, "%-*s", c + 1 < r->nr_dev ? 13 : 0, head);
	}
	fputc('\n', x->out);
	for (unsigned int a = 0; a < r->nr_dev; a++) {
		snprintf(head, sizeof(head), "[%u]", a + 1);
		fprintf(x->out, "  %-4s", head);
		for (unsigned int b = 0; b < r->nr_dev; b++) {
			const struct pci_p2p_pair *p = pci_p2p_report_pair(r, a, b);

			if (!p) {
				fprintf(x->out, "%-*s", b + 1 < r->nr_dev ? 13 : 0, "-");
				continue;
			}
			cell_text(s, sizeof(s), p);
			put_type(x, p->res.type, s, b + 1 < r->nr_dev ? 13 : 0);
		}
		fputc('\n', x->out);
	}
	fprintf(x->out,
		"\n  THRU_HB = THRU_HOST_BRIDGE, NOT_SUPP = NOT_SUPPORTED; the number is the distance;\n"
		"  ? = assumes ACS redirect is off where it could not be read\n");
}

static void print_pair_list(struct text *x)
{
	const struct pci_p2p_report *r = x->r;

	fprintf(x->out, "\nMap type and distance of every pair\n\n");
	for (unsigned int k = 0; k < r->nr_pairs; k++) {
		const struct pci_p2p_pair *p = &r->pairs[k];
		char s[32];

		fprintf(x->out, "  [%u]-[%u]  %s  %s  ", p->a + 1, p->b + 1, pci_name(p->provider),
			pci_name(p->client));
		snprintf(s, sizeof(s), "%s %d%s", pci_p2p_map_type_name(p->res.type),
			 p->res.distance, p->nr_acs_unknown ? "?" : "");
		put_type(x, p->res.type, s, 0);
		fputc('\n', x->out);
	}
}

static void collect_cb(enum pci_p2p_note kind, const char *text, void *arg)
{
	static const char *const label[] = { "", "Fix: ", "Note: " };

	fprintf(arg, "%s%s\n", label[kind], text);
}

/* A pair's explanation, one sentence a line, with its map type in front: the grouping key. */
static char *explanation(const struct pci_p2p_report *r, const struct pci_p2p_pair *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	fprintf(f, "%d\n", p->res.type);
	pci_p2p_explain(r, p, collect_cb, f);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void print_group(struct text *x, const struct pci_p2p_pair *p, const char *why,
			char *const *texts, unsigned int k)
{
	const struct pci_p2p_report *r = x->r;
	unsigned int same = 0;
	char s[64], *also = NULL;
	size_t len = 0;
	FILE *list;

	fprintf(x->out, "\n  [%u]-[%u] %s <-> %s: ", p->a + 1, p->b + 1, pci_name(p->provider),
		pci_name(p->client));
	snprintf(s, sizeof(s), "%s, distance %d", pci_p2p_map_type_name(p->res.type),
		 p->res.distance);
	put_type(x, p->res.type, s, 0);
	fputc('\n', x->out);
	/* Pairs whose answer and reasons are these same ones are only listed. */
	list = open_memstream(&also, &len);
	for (unsigned int j = k + 1; list && j < r->nr_pairs; j++)
		if (texts[j] && !strcmp(texts[j], why))
			fprintf(list, "%s[%u]-[%u]", same++ ? ", " : "and likewise ",
				r->pairs[j].a + 1, r->pairs[j].b + 1);
	if (list && !fclose(list) && same) {
		fprintf(x->out, "      ");
		wrap(x->out, 6, 6, also);
	}
	free(also);
	for (const char *line = strchr(why, '\n') + 1; *line;) {
		size_t n = strcspn(line, "\n");
		char buf[1024];

		snprintf(buf, sizeof(buf), "%.*s", (int)n, line);
		fprintf(x->out, "      ");
		wrap(x->out, 6, 6, buf);
		line += n + (line[n] == '\n');
	}
}

static void print_why(struct text *x)
{
	const struct pci_p2p_report *r = x->r;
	char **texts = calloc(r->nr_pairs ? r->nr_pairs : 1, sizeof(*texts));
	bool any = false;

	if (!texts)
		return;
	for (unsigned int k = 0; k < r->nr_pairs; k++) {
		const struct pci_p2p_pair *p = &r->pairs[k];

		if (p->res.type != PCI_P2PDMA_MAP_BUS_ADDR || p->nr_acs_unknown)
			texts[k] = explanation(r, p);
	}
	for (unsigned int k = 0; k < r->nr_pairs; k++) {
		bool seen = false;

		if (!texts[k])
			continue;
		for (unsigned int j = 0; j < k && !seen; j++)
			seen = texts[j] && !strcmp(texts[j], texts[k]);
		if (seen)
			continue;
		if (!any)
			fprintf(x->out, "\nWhy, and what would change it\n");
		any = true;
		print_group(x, &r->pairs[k], texts[k], texts, k);
	}
	for (unsigned int k = 0; k < r->nr_pairs; k++)
		free(texts[k]);
	free(texts);
}

static void print_summary(struct text *x)
{
	const struct pci_p2p_report *r = x->r;

	fprintf(x->out, "\nSummary\n");
	if (r->nr_dev < 2) {
		fputs("  ", x->out);
		wrap(x->out, 2, 2,
		     r->nr_dev ?
			     "Only one device here can take part in peer-to-peer DMA: there is no pair to check (--all checks every pair of endpoints)." :
			     "No device here can take part in peer-to-peer DMA (no NVMe, GPU, network or accelerator function): there is no pair to check (--all checks every pair of endpoints).");
		return;
	}
	fprintf(x->out, "  %u pair%s: %u BUS_ADDR, %u THRU_HOST_BRIDGE, %u NOT_SUPPORTED.\n",
		r->nr_pairs, r->nr_pairs == 1 ? "" : "s", r->count[PCI_P2PDMA_MAP_BUS_ADDR],
		r->count[PCI_P2PDMA_MAP_THRU_HOST_BRIDGE], r->count[PCI_P2PDMA_MAP_NOT_SUPPORTED]);
	if (r->acs_all[0]) {
		fprintf(x->out, "  ");
		wrap(x->out, 2, 4,
		     r->nr_acs_assumed ?
			     "For the what-ifs above, and to take ACS redirect off every path still redirected, boot with:" :
			     "To take ACS redirect off every path above at once, boot with:");
		fprintf(x->out, "    pci=disable_acs_redir=%s%s\n", r->acs_all,
			r->acs_all_truncated ? " (and more: the list was cut)" : "");
	}
	if (r->opts.host && r->opts.host->p2pdma == 0)
		fprintf(x->out,
			"  But the running kernel lacks CONFIG_PCI_P2PDMA: nothing of this works until it has it.\n");
}

int pci_p2p_report_write_text(const struct pci_p2p_report *r, FILE *out, bool colour)
{
	struct text x = { .r = r, .out = out, .colour = colour };
	unsigned int nr_hb = 0;
	struct pci_host_bridge *hb = NULL;

	while ((hb = pci_fabric_next_host_bridge(pci_import_fabric(r->imp), hb)))
		nr_hb++;
	fprintf(out, "P2P readiness of %s: %u PCI function%s below %u host bridge%s\n",
		pci_import_source(r->imp), pci_import_nr_devs(r->imp),
		pci_import_nr_devs(r->imp) == 1 ? "" : "s", nr_hb, nr_hb == 1 ? "" : "s");
	for (unsigned int i = 0; i < pci_import_nr_warnings(r->imp); i++) {
		fprintf(out, "  warning: ");
		wrap(out, 11, 4, pci_import_warning(r->imp, i));
	}
	print_whatif(&x);
	print_machine(&x);
	print_host_bridges(&x);
	print_devices(&x);
	if (r->nr_dev > 1) {
		if (r->nr_dev <= MATRIX_MAX)
			print_matrix(&x);
		else
			print_pair_list(&x);
		print_why(&x);
	}
	print_summary(&x);
	if (fflush(out) || ferror(out))
		return -EIO;
	return 0;
}
