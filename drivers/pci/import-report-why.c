// SPDX-License-Identifier: MIT
/*
 * Why a pair of devices gets the map type it gets, and what would change
 * it, in sentences a user can act on. The causes are the kernel's, in its
 * order (calc_map_type_and_dist() in drivers/pci/p2pdma.c):
 *
 *   a common upstream bridge, no ACS redirect on the path    BUS_ADDR
 *   else, through the root complex, allowed by
 *     the CPU (AMD Zen and later)                             THRU_HOST_BRIDGE
 *     the host bridge's ID on the allow-list                  THRU_HOST_BRIDGE
 *   else                                                      NOT_SUPPORTED
 *
 * Each cause gets its remedy: the pci=disable_acs_redir= argument naming
 * the bridges, a kernel whose allow-list has the host bridge (and the
 * what-if that shows the result first), or a different slot.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <hetmem/pci-import.h>

#define NOTE_LEN 768

struct explain {
	const struct pci_p2p_report *r;
	const struct pci_p2p_pair *p;
	enum pci_p2p_note only; /* the kind this pass passes on */
	void (*fn)(enum pci_p2p_note kind, const char *text, void *arg);
	void *arg;
};

static void note(struct explain *e, enum pci_p2p_note kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void note(struct explain *e, enum pci_p2p_note kind, const char *fmt, ...)
{
	char text[NOTE_LEN];
	va_list ap;

	if (kind != e->only)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	e->fn(kind, text, e->arg);
}

/* "a (RR CR), b (RR)" */
static void acs_list(char *buf, size_t len, const struct pci_p2p_result *res, bool with_bits)
{
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < res->nr_acs && i < PCI_P2P_MAX_PATH && used < len; i++) {
		char bits[16];
		int n;

		pci_p2p_acs_bits(pci_import_func_of(res->acs[i])->acs_ctrl, bits, sizeof(bits));
		if (with_bits)
			n = snprintf(buf + used, len - used, "%s%s (%s)", i ? ", " : "",
				     pci_name(res->acs[i]), bits);
		else
			n = snprintf(buf + used, len - used, "%s%s", i ? ";" : "",
				     pci_name(res->acs[i]));
		if (n > 0)
			used += (size_t)n;
	}
}

static void unknown_list(char *buf, size_t len, const struct pci_p2p_pair *p)
{
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < p->nr_acs_unknown && used < len; i++) {
		int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
				 pci_name(p->acs_unknown[i]));

		if (n > 0)
			used += (size_t)n;
	}
}

static const char *since_text(char *buf, size_t len, const struct pci_p2p_hb_check *c)
{
	if (!c->since)
		buf[0] = '\0';
	else
		snprintf(buf, len, "Linux %u.%u%s", PCI_P2P_KERNEL_MAJOR(c->since),
			 PCI_P2P_KERNEL_MINOR(c->since), c->since_exact ? "" : " or later");
	return buf;
}

static void explain_acs(struct explain *e)
{
	const struct pci_p2p_result *res = &e->p->res;
	const struct pci_p2p_host *h = e->r->opts.host;
	char list[512], arg[512];

	acs_list(list, sizeof(list), res, true);
	acs_list(arg, sizeof(arg), res, false);
	note(e, PCI_P2P_NOTE_WHY,
	     "ACS redirect is set on %s%s: requests between the two go up to the root complex instead of turning around below %s.",
	     list, res->acs_truncated ? " and more" : "", pci_name(res->common));
	if (h && h->nr_iommu)
		note(e, PCI_P2P_NOTE_WHY,
		     "The kernel turns ACS on wherever it can because an IOMMU is present (%s): ACS is what lets the IOMMU tell these devices apart.",
		     h->iommu_names);
	if (h && h->disable_acs_redir[0])
		note(e, PCI_P2P_NOTE_CAVEAT,
		     "The command line has pci=disable_acs_redir=%s, yet these functions still redirect: check that it names them (the addresses must match exactly).",
		     h->disable_acs_redir);
	note(e, PCI_P2P_NOTE_FIX,
	     "Boot with pci=disable_acs_redir=%s for BUS_ADDR (quoted: GRUB and shells take ';' for a command separator); the devices then lose ACS isolation from each other and may share an IOMMU group. Preview it with --assume-acs-off for each of them.",
	     arg);
}

static void explain_allowed(struct explain *e)
{
	const struct pci_p2p_result *res = &e->p->res;
	const struct pci_p2p_hb_check *c = &res->hb;
	const char *hb = pci_host_bridge_name(pci_host_bridge_of(e->p->provider));
	char since[32];

	if (res->cpu_rule) {
		note(e, PCI_P2P_NOTE_WHY,
		     "The root complex may carry it: the kernel trusts every host bridge on an AMD Zen or later CPU (family 0x17+; %s).",
		     e->r->opts.cpu_flag ? "--amd-zen" : "from /proc/cpuinfo");
		return;
	}
	if (c->verdict == PCI_P2P_HB_ASSUMED) {
		note(e, PCI_P2P_NOTE_WHY,
		     "The root complex may carry it only because --assume-allowed says so: host bridge %s (%04x:%04x) is not trusted by the kernel.",
		     hb, c->vendor, c->device);
		return;
	}
	note(e, PCI_P2P_NOTE_WHY,
	     "The root complex may carry it: host bridge %s is identified by %s (%04x:%04x, %s), on the kernel's P2PDMA allow-list since %s.",
	     hb, pci_name(c->id_dev), c->vendor, c->device, c->what ? c->what : "listed",
	     since_text(since, sizeof(since), c));
}

/* A root-bus function the allow-list knows, other than the one the kernel looks at. */
static struct pci_dev *listed_elsewhere(const struct pci_p2p_report *r,
					const struct pci_host_bridge *hb)
{
	for (unsigned int i = 0; i < pci_import_nr_devs(r->imp); i++) {
		struct pci_dev *d = pci_import_dev(r->imp, i);

		if (d && pci_host_bridge_of(d) == hb && !pci_upstream_bridge(d) &&
		    pci_p2p_allow_list_since(pci_dev_vendor(d), pci_dev_device(d), NULL))
			return d;
	}
	return NULL;
}

static void explain_denied(struct explain *e)
{
	const struct pci_p2p_result *res = &e->p->res;
	const struct pci_p2p_hb_check *c = &res->hb;
	const char *hb = pci_host_bridge_name(res->denied);
	const struct pci_p2p_host *h = e->r->opts.host;
	unsigned int k = e->r->opts.env.kernel;
	struct pci_dev *other;
	char since[32], kernel[80];

	switch (c->verdict) {
	case PCI_P2P_HB_SAME_ONLY:
		note(e, PCI_P2P_NOTE_WHY,
		     "Host bridge %s (%04x:%04x, %s) is on the allow-list only for traffic between its own root ports, and the two devices are below different host bridges (%s and %s).",
		     hb, c->vendor, c->device, c->what,
		     pci_host_bridge_name(pci_host_bridge_of(e->p->provider)),
		     pci_host_bridge_name(pci_host_bridge_of(e->p->client)));
		note(e, PCI_P2P_NOTE_FIX,
		     "Put both devices below one host bridge (the same CPU socket), or better below one switch.");
		return;
	case PCI_P2P_HB_UNIDENTIFIED:
		if (c->first)
			note(e, PCI_P2P_NOTE_WHY,
			     "The kernel identifies a host bridge by the first function on its root bus when that is at 00.0 or a root port; on %s the first is %s (%04x:%04x), neither, so it has no ID to look up and refuses the traffic.",
			     hb, pci_name(c->first), pci_dev_vendor(c->first),
			     pci_dev_device(c->first));
		else
			note(e, PCI_P2P_NOTE_WHY,
			     "No function on the root bus of %s is in the input, so there is no ID to look up: the kernel refuses the traffic.",
			     hb);
		other = listed_elsewhere(e->r, res->denied);
		if (other)
			note(e, PCI_P2P_NOTE_WHY,
			     "%s (%04x:%04x) on that root bus is on the allow-list, but the kernel does not look at it.",
			     pci_name(other), pci_dev_vendor(other), pci_dev_device(other));
		note(e, PCI_P2P_NOTE_FIX,
		     "Only a kernel change helps (or an AMD Zen CPU); preview the result with --assume-allowed %s.",
		     c->first ? pci_name(c->first) : hb);
		return;
	case PCI_P2P_HB_NEWER_KERNEL:
		if (h && h->release[0] && h->kernel == k)
			snprintf(kernel, sizeof(kernel), "%s", h->release);
		else
			snprintf(kernel, sizeof(kernel), "Linux %u.%u", PCI_P2P_KERNEL_MAJOR(k),
				 PCI_P2P_KERNEL_MINOR(k));
		note(e, PCI_P2P_NOTE_WHY,
		     "Host bridge %s is identified by %s (%04x:%04x, %s), which is on the P2PDMA allow-list only from %s; the kernel is %s.",
		     hb, pci_name(c->id_dev), c->vendor, c->device, c->what,
		     since_text(since, sizeof(since), c), kernel);
		note(e, PCI_P2P_NOTE_FIX, "Boot %s or newer.", since);
		return;
	default:
		break;
	}
	note(e, PCI_P2P_NOTE_WHY,
	     "The traffic must cross host bridge %s, which the kernel trusts only if its ID is on the P2PDMA allow-list or the CPU is AMD Zen or later: it is identified by %s (%04x:%04x), which is not on the list.",
	     hb, pci_name(c->id_dev), c->vendor, c->device);
	if (!h && !e->r->opts.cpu_flag && c->vendor == 0x1022)
		note(e, PCI_P2P_NOTE_FIX,
		     "This is an AMD host bridge: if the machine's CPU is AMD Zen or later (family 0x17+), the kernel allows it; say so with --amd-zen.");
	if (res->common && res->nr_acs)
		note(e, PCI_P2P_NOTE_FIX,
		     "Or, keeping ACS redirect, THRU_HOST_BRIDGE needs a kernel whose allow-list (pci_p2pdma_whitelist in drivers/pci/p2pdma.c) has %04x:%04x, and a root complex that really forwards peer traffic. Preview with --assume-allowed %04x:%04x.",
		     c->vendor, c->device, c->vendor, c->device);
	else
		note(e, PCI_P2P_NOTE_FIX,
		     "Nothing at boot changes this: it takes a kernel whose allow-list (pci_p2pdma_whitelist in drivers/pci/p2pdma.c) has %04x:%04x, and only if that root complex really forwards peer traffic. Preview with --assume-allowed %04x:%04x.",
		     c->vendor, c->device, c->vendor, c->device);
}

/* What the IOMMU does to a pair that goes through the root complex. */
static void explain_iommu(struct explain *e)
{
	const struct pci_p2p_host *h = e->r->opts.host;
	const char *g = pci_import_func_of(e->p->client)->iommu_group_type;
	bool translated;

	if (!h)
		return;
	if (h->iommu == PCI_P2P_IOMMU_OFF) {
		note(e, PCI_P2P_NOTE_WHY,
		     "No IOMMU: the client is given the provider's bus address, and the root complex routes it.");
		return;
	}
	translated = g[0] ? strncmp(g, "DMA", 3) == 0 : h->iommu == PCI_P2P_IOMMU_TRANSLATED;
	if (g[0] ? !strcmp(g, "identity") : h->iommu == PCI_P2P_IOMMU_PASSTHROUGH)
		note(e, PCI_P2P_NOTE_WHY,
		     "The IOMMU passes the client's DMA through untranslated (%s): it is given the provider's bus address.",
		     g[0] ? "its IOMMU group's type is identity" : h->iommu_why);
	else if (translated)
		note(e, PCI_P2P_NOTE_WHY,
		     "The IOMMU translates the client's DMA (%s%s): the kernel maps the provider's BAR into the client's IOMMU domain, and every request is translated on the way.",
		     g[0] ? "IOMMU group type " : "", g[0] ? g : h->iommu_why);
}

static void explain_all(struct explain *e)
{
	const struct pci_p2p_pair *p = e->p;
	const struct pci_p2p_result *res = &p->res;
	char list[512];

	if (p->nr_acs_unknown) {
		unknown_list(list, sizeof(list), p);
		if (res->type == PCI_P2PDMA_MAP_BUS_ADDR)
			note(e, PCI_P2P_NOTE_CAVEAT,
			     "BUS_ADDR only if ACS redirect is off on %s: their ACS could not be read (no extended configuration space in the input). Read the topology as root, or dump it with sudo lspci -vvv -xxxx.",
			     list);
		else
			note(e, PCI_P2P_NOTE_CAVEAT,
			     "The ACS of %s could not be read (no extended configuration space in the input): if they redirect too, pci=disable_acs_redir= must name them as well.",
			     list);
	}
	if (res->type == PCI_P2PDMA_MAP_BUS_ADDR)
		return;
	/* Without a common bridge ACS changes nothing: the kernel ignores it there too. */
	if (res->common && res->nr_acs)
		explain_acs(e);
	else
		note(e, PCI_P2P_NOTE_WHY,
		     "The two share no upstream bridge: their traffic must go through the root complex.");
	if (res->type == PCI_P2PDMA_MAP_NOT_SUPPORTED) {
		explain_denied(e);
	} else {
		explain_allowed(e);
		explain_iommu(e);
	}
	if (!res->common)
		note(e, PCI_P2P_NOTE_FIX,
		     "BUS_ADDR needs the two below one PCIe switch (or to be functions of one device).");
}

/* Causes first, then what they assume, then remedies: the order a reader needs them. */
void pci_p2p_explain(const struct pci_p2p_report *r, const struct pci_p2p_pair *p,
		     void (*fn)(enum pci_p2p_note kind, const char *text, void *arg), void *arg)
{
	static const enum pci_p2p_note order[] = { PCI_P2P_NOTE_WHY, PCI_P2P_NOTE_CAVEAT,
						   PCI_P2P_NOTE_FIX };
	struct explain e = { .r = r, .p = p, .fn = fn, .arg = arg };

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		e.only = order[i];
		explain_all(&e);
	}
}
