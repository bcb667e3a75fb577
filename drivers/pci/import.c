// SPDX-License-Identifier: MIT
/*
 * A real machine's topology as a fabric: the functions a reader found
 * (import-sysfs.c, import-lspci.c) become struct pci_dev objects with
 * their configuration space as read, hung on buses below bridges and host
 * bridges the way the kernel sees them, so that the map-type computation
 * of p2pdma-map.c runs on them unchanged.
 *
 *   pci0000:00 (root bus 00)              pci0000:17 (root bus 17)
 *     00:00.0 host bridge                   17:00.0 root port, sec 18..1a
 *     00:01.0 root port, sec 01..03           18:00.0 switch upstream, 19..1a
 *       01:00.0 ...                             19:00.0 downstream, 1a..1a
 *                                                 1a:00.0 NVMe
 *
 * The kernel has one host bridge per root bus, not per domain: a two-socket
 * Xeon has root buses 00 and 80 in domain 0000, and whether peer traffic
 * may pass between them depends on exactly that. A bus no bridge leads to
 * is therefore a root bus of its own.
 *
 * Functions are placed by their sysfs parent when the reader knows it, else
 * below the deepest bridge whose secondary..subordinate range holds their
 * bus number. That also puts a virtual function on a bus of its own (one
 * no bridge's secondary names) below its physical function's bridge: the
 * bridge the kernel's pci_upstream_bridge() returns for it.
 */
#define pr_fmt(fmt) "pci-import: " fmt

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hetmem/pci-import.h>
#include "internal.h"

#define CLASS_HOST_BRIDGE 0x0600

/* One function: what the reader gave, then where it went. */
struct import_fn {
	struct pci_import_func f;
	uint8_t cfg[PCI_CFG_SPACE_SIZE_HM];
	uint32_t domain;
	unsigned int busnr, devfn;
	struct import_fn *parent; /* the bridge above, NULL on a root bus */
	struct import_host *host;
	struct pci_dev *dev;
	bool placed;
};

struct import_host {
	struct pci_host_bridge *hb;
	uint32_t domain;
	unsigned int busnr; /* the root bus */
};

struct pci_import {
	char source[256];
	struct pci_fabric *f;
	struct import_fn **fns; /* in address order once finished */
	unsigned int nr_fns;
	struct import_host **hosts;
	unsigned int nr_hosts;
	struct pci_bus **buses; /* below bridges; root buses belong to hosts */
	unsigned int *bus_nr;
	unsigned int nr_buses;
	char **warnings;
	unsigned int nr_warnings;
	bool finished;
};

static struct import_fn *fn_of(const struct pci_dev *dev)
{
	return container_of(dev->priv, struct import_fn, f);
}

struct pci_import *pci_import_create(const char *source)
{
	struct pci_import *imp = calloc(1, sizeof(*imp));

	if (!imp)
		return NULL;
	imp->f = pci_fabric_create();
	if (!imp->f) {
		free(imp);
		return NULL;
	}
	snprintf(imp->source, sizeof(imp->source), "%s", source ? source : "");
	return imp;
}

void pci_import_warn(struct pci_import *imp, const char *fmt, ...)
{
	char **grown, *msg;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	grown = realloc(imp->warnings, (imp->nr_warnings + 1) * sizeof(*grown));
	if (!grown) {
		free(msg);
		return;
	}
	imp->warnings = grown;
	imp->warnings[imp->nr_warnings++] = msg;
}

static int parse_bdf(const char *s, uint32_t *domain, unsigned int *bus, unsigned int *devfn)
{
	unsigned int d = 0, b, dev, fn;
	int n = 0;

	/* "dddd:bb:dd.f" (the domain may have more digits: VMD's) or "bb:dd.f". */
	if (sscanf(s, "%x:%x:%x.%1u%n", &d, &b, &dev, &fn, &n) != 4 || s[n]) {
		d = 0;
		n = 0;
		if (sscanf(s, "%x:%x.%1u%n", &b, &dev, &fn, &n) != 3 || s[n])
			return -EINVAL;
	}
	if (b > 0xff || dev > 0x1f || fn > 7 || strchr(s, ' ') || strchr(s, '-') || strchr(s, '+'))
		return -EINVAL;
	*domain = d;
	*bus = b;
	*devfn = PCI_DEVFN(dev, fn);
	return 0;
}

static struct import_fn *find_fn(const struct pci_import *imp, uint32_t domain, unsigned int bus,
				 unsigned int devfn)
{
	for (unsigned int i = 0; i < imp->nr_fns; i++) {
		struct import_fn *fn = imp->fns[i];

		if (fn->domain == domain && fn->busnr == bus && fn->devfn == devfn)
			return fn;
	}
	return NULL;
}

int pci_import_add(struct pci_import *imp, const struct pci_import_func *in)
{
	struct import_fn *fn, **grown;
	unsigned int bus, devfn, len;
	uint32_t domain;

	if (imp->finished)
		return -EBUSY;
	if (parse_bdf(in->bdf, &domain, &bus, &devfn)) {
		pci_import_warn(imp, "'%.16s' is not a PCI address: ignored", in->bdf);
		return -EINVAL;
	}
	len = in->config_len < PCI_CFG_SPACE_SIZE_HM ? in->config_len : PCI_CFG_SPACE_SIZE_HM;
	if (len < 64 || !in->config) {
		pci_import_warn(imp, "%s: only %u bytes of configuration space: ignored", in->bdf,
				len);
		return -EINVAL;
	}
	if (find_fn(imp, domain, bus, devfn)) {
		pci_import_warn(imp, "%s: listed twice: the first one counts", in->bdf);
		return -EINVAL;
	}

	fn = calloc(1, sizeof(*fn));
	grown = realloc(imp->fns, (imp->nr_fns + 1) * sizeof(*grown));
	if (grown)
		imp->fns = grown;
	if (!fn || !grown) {
		free(fn);
		return -ENOMEM;
	}
	fn->f = *in;
	fn->domain = domain;
	fn->busnr = bus;
	fn->devfn = devfn;
	/* The canonical spelling: what pci_name() gives and what matching uses. */
	snprintf(fn->f.bdf, sizeof(fn->f.bdf), "%04x:%02x:%02x.%u", domain, bus, PCI_SLOT(devfn),
		 PCI_FUNC(devfn));
	memcpy(fn->cfg, in->config, len);
	fn->f.config = fn->cfg;
	fn->f.config_len = len;
	imp->fns[imp->nr_fns++] = fn;
	return 0;
}

/* --- the tree ----------------------------------------------------------------- */

static bool is_bridge_fn(const struct import_fn *fn)
{
	return (fn->cfg[PCI_HEADER_TYPE] & 0x7f) == PCI_HEADER_TYPE_BRIDGE;
}

/* The bridge's own bus lies below its range: anything else would make a loop. */
static bool bridge_range_ok(const struct import_fn *br)
{
	unsigned int sec = br->cfg[PCI_SECONDARY_BUS], sub = br->cfg[PCI_SUBORDINATE_BUS];

	return sec && sec <= sub && br->busnr < sec;
}

static struct import_fn *bridge_above(struct pci_import *imp, const struct import_fn *fn)
{
	struct import_fn *best = NULL;
	unsigned int best_span = 256;

	if (fn->f.parent[0]) {
		uint32_t d;
		unsigned int b, df;

		if (!parse_bdf(fn->f.parent, &d, &b, &df)) {
			struct import_fn *p = find_fn(imp, d, b, df);

			if (p && p != fn && is_bridge_fn(p) && p->busnr < fn->busnr)
				return p;
		}
		pci_import_warn(
			imp,
			"%s: parent %s from the sysfs path is not a bridge above it: placed by bus number",
			fn->f.bdf, fn->f.parent);
	}
	for (unsigned int i = 0; i < imp->nr_fns; i++) {
		struct import_fn *br = imp->fns[i];
		unsigned int sec = br->cfg[PCI_SECONDARY_BUS], sub = br->cfg[PCI_SUBORDINATE_BUS];

		if (br == fn || br->domain != fn->domain || !is_bridge_fn(br) ||
		    !bridge_range_ok(br) || fn->busnr < sec || fn->busnr > sub)
			continue;
		/* Nested ranges: the narrowest is the deepest. */
		if (sub - sec < best_span ||
		    (sub - sec == best_span && sec > best->cfg[PCI_SECONDARY_BUS])) {
			best = br;
			best_span = sub - sec;
		}
	}
	return best;
}

static struct import_host *find_host(struct pci_import *imp, uint32_t domain, unsigned int bus)
{
	for (unsigned int i = 0; i < imp->nr_hosts; i++)
		if (imp->hosts[i]->domain == domain && imp->hosts[i]->busnr == bus)
			return imp->hosts[i];
	return NULL;
}

static struct import_host *add_host(struct pci_import *imp, uint32_t domain, unsigned int bus)
{
	struct import_host *h = find_host(imp, domain, bus), **grown;

	if (h)
		return h;
	h = calloc(1, sizeof(*h));
	grown = realloc(imp->hosts, (imp->nr_hosts + 1) * sizeof(*grown));
	if (grown)
		imp->hosts = grown;
	if (h)
		h->hb = calloc(1, sizeof(*h->hb));
	if (h && h->hb)
		h->hb->bus = calloc(1, sizeof(*h->hb->bus));
	if (!grown || !h || !h->hb || !h->hb->bus) {
		if (h && h->hb)
			free(h->hb->bus);
		if (h)
			free(h->hb);
		free(h);
		return NULL;
	}
	h->domain = domain;
	h->busnr = bus;
	snprintf(h->hb->name, sizeof(h->hb->name), "pci%04x:%02x", domain, bus);
	h->hb->info.name = h->hb->name;
	h->hb->info.domain = (uint16_t)domain;
	h->hb->fabric = imp->f;
	h->hb->bus->host = h->hb;
	list_add_tail(&h->hb->node, &imp->f->host_bridges);
	imp->hosts[imp->nr_hosts++] = h;
	return h;
}

/*
 * The host bridge of a function on a root bus: the one of its bus. Its
 * sysfs name says the same on a consistent tree; when it does not, the bus
 * number wins (a root bus keyed by it cannot hold two functions at one
 * address) and the disagreement is noted.
 */
static struct import_host *host_of_root(struct pci_import *imp, struct import_fn *fn)
{
	unsigned int d, b;
	int n = 0;

	if (fn->f.host[0] && (sscanf(fn->f.host, "pci%x:%x%n", &d, &b, &n) != 2 || fn->f.host[n] ||
			      d != fn->domain || b != fn->busnr))
		pci_import_warn(imp, "%s: sysfs puts it below %s, its bus number on root bus %02x",
				fn->f.bdf, fn->f.host, fn->busnr);
	return add_host(imp, fn->domain, fn->busnr);
}

/*
 * The bus @fn sits on, below @self (NULL: the host bridge's root bus). The
 * bus a bridge's secondary number names is its subordinate; a bus number
 * reached without a bridge of its own (virtual functions) gets a bus of its
 * own with the same bridge above.
 */
static struct pci_bus *bus_for(struct pci_import *imp, struct import_host *h,
			       struct import_fn *self, unsigned int busnr)
{
	struct pci_bus *bus, **grown;

	if (!self)
		return h->hb->bus;
	if (self->cfg[PCI_SECONDARY_BUS] == busnr && self->dev->subordinate)
		return self->dev->subordinate;
	for (unsigned int i = 0; i < imp->nr_buses; i++) {
		bus = imp->buses[i];
		if (bus->self == self->dev && imp->bus_nr[i] == busnr)
			return bus;
	}
	bus = calloc(1, sizeof(*bus));
	grown = realloc(imp->buses, (imp->nr_buses + 1) * sizeof(*grown));
	if (grown)
		imp->buses = grown;
	if (grown) {
		unsigned int *nrs = realloc(imp->bus_nr, (imp->nr_buses + 1) * sizeof(*nrs));

		if (nrs)
			imp->bus_nr = nrs;
		else
			grown = NULL;
	}
	if (!bus || !grown) {
		free(bus);
		return NULL;
	}
	bus->host = h->hb;
	bus->self = self->dev;
	bus->parent = self->dev->bus;
	imp->bus_nr[imp->nr_buses] = busnr;
	imp->buses[imp->nr_buses++] = bus;
	if (self->cfg[PCI_SECONDARY_BUS] == busnr)
		self->dev->subordinate = bus;
	return bus;
}

static int cmp_fn(const void *pa, const void *pb)
{
	const struct import_fn *a = *(struct import_fn *const *)pa;
	const struct import_fn *b = *(struct import_fn *const *)pb;

	if (a->domain != b->domain)
		return a->domain < b->domain ? -1 : 1;
	if (a->busnr != b->busnr)
		return (int)a->busnr - (int)b->busnr;
	return (int)a->devfn - (int)b->devfn;
}

static struct pci_dev *new_dev(struct pci_import *imp, struct import_fn *fn)
{
	struct pci_dev *dev = calloc(1, sizeof(*dev));

	if (!dev)
		return NULL;
	snprintf(dev->name, sizeof(dev->name), "%s", fn->f.bdf);
	snprintf(dev->bdf, sizeof(dev->bdf), "%s", fn->f.bdf);
	dev->fabric = imp->f;
	dev->devfn = (uint8_t)fn->devfn;
	dev->priv = &fn->f;
	memcpy(dev->cfg.data, fn->cfg, fn->f.config_len);
	for (int i = 0; i < PCI_STD_NUM_BARS_HM; i++)
		dev->bar[i].fd = -1;
	pthread_rwlock_init(&dev->p2p_lock, NULL);
	fn->dev = dev;
	return dev;
}

/* Depth of @fn below its root bus; a loop (inconsistent sysfs parents) gives -1. */
static int depth_of(const struct import_fn *fn)
{
	int d = 0;

	for (; fn->parent; fn = fn->parent)
		if (++d > 256)
			return -1;
	return d;
}

/* Place @fn: its host bridge, bus and kind. Parents are placed first. */
static int place(struct pci_import *imp, struct import_fn *fn)
{
	struct import_fn *root = fn;
	struct pci_bus *bus;

	/* A bridge that found no place takes nobody below it. */
	if (fn->parent && !fn->parent->placed) {
		pci_import_warn(imp, "%s: its bridge %s found no place: taken as on a root bus",
				fn->f.bdf, fn->parent->f.bdf);
		fn->parent = NULL;
	}
	while (root->parent)
		root = root->parent;
	fn->host = root == fn ? host_of_root(imp, fn) : root->host;
	if (!fn->host)
		return -ENOMEM;
	bus = bus_for(imp, fn->host, fn->parent, fn->busnr);
	if (!bus)
		return -ENOMEM;
	if (bus->devfn[fn->devfn]) {
		pci_import_warn(imp, "%s: its place is taken: ignored", fn->f.bdf);
		return 0;
	}
	fn->dev->host = fn->host->hb;
	fn->dev->bus = bus;
	bus->devfn[fn->devfn] = fn->dev;
	if (bus->nr_present < 256)
		bus->present[bus->nr_present++] = fn->dev;
	list_add_tail(&fn->dev->fabric_node, &imp->f->devices);
	fn->placed = true;
	return 0;
}

static int cmp_depth(const void *pa, const void *pb)
{
	const struct import_fn *a = *(struct import_fn *const *)pa;
	const struct import_fn *b = *(struct import_fn *const *)pb;
	int da = depth_of(a), db = depth_of(b);

	return da != db ? da - db : cmp_fn(pa, pb);
}

/*
 * The fabric's kinds, from what the function says of itself. The map-type
 * code asks one thing of them: whether the first function on a root bus
 * is a root port. With 64 bytes of configuration space no capability is
 * readable; a bridge's port type is then guessed from where it sits.
 */
static void set_kind(struct import_fn *fn)
{
	struct pci_import_func *f = &fn->f;
	struct pci_dev *dev = fn->dev;

	if (f->bridge && f->pcie_type < 0 && f->config_len <= PCI_STD_HEADER_SIZEOF) {
		enum pci_dev_kind up = fn->parent ? fn->parent->dev->kind : PCI_KIND_HOST;

		f->pcie_type = up == PCI_KIND_HOST ? PCI_EXP_TYPE_ROOT_PORT :
			       up == PCI_KIND_USP  ? PCI_EXP_TYPE_DOWNSTREAM :
						     PCI_EXP_TYPE_UPSTREAM;
		f->pcie_type_guessed = true;
	}
	if (f->bridge)
		dev->kind = f->pcie_type == PCI_EXP_TYPE_ROOT_PORT  ? PCI_KIND_ROOT_PORT :
			    f->pcie_type == PCI_EXP_TYPE_DOWNSTREAM ? PCI_KIND_DSP :
								      PCI_KIND_USP;
	else if (!fn->parent && (f->class >> 8) == CLASS_HOST_BRIDGE)
		dev->kind = PCI_KIND_HOST;
	else
		dev->kind = PCI_KIND_ENDPOINT;

	for (int i = 0; i < PCI_STD_NUM_BARS_HM; i++) {
		dev->bar[i].size = f->bar[i].size;
		dev->bar[i].flags = (f->bar[i].mem64 ? PCI_BAR_MEM64 : 0) |
				    (f->bar[i].prefetch ? PCI_BAR_PREFETCH : 0);
	}
}

/* Say once how much the answers rest on ACS registers nobody could read. */
static void check_acs_unknown(struct pci_import *imp)
{
	unsigned int n = 0, len = PCI_CFG_SPACE_SIZE_HM;

	for (unsigned int i = 0; i < imp->nr_fns; i++) {
		const struct pci_import_func *f = &imp->fns[i]->f;

		if (f->acs == PCI_IMPORT_ACS_UNKNOWN && (f->bridge || f->multifunction)) {
			n++;
			len = f->config_len < len ? f->config_len : len;
		}
	}
	if (n)
		pci_import_warn(
			imp,
			"%u bridge%s or multi-function device%s came with %u bytes of configuration space, without the extended capabilities: %s ACS is unknown and counted as off. Read sysfs as root, or take the dump with sudo lspci -vvv -xxxx.",
			n, n == 1 ? "" : "s", n == 1 ? "" : "s", len, n == 1 ? "its" : "their");
}

/*
 * PCI Express endpoints and switch ports live below a port, never on a root
 * bus: finding one there means its bridge is missing from the input (an
 * `lspci -s` cut-out, a dump cut short), and the answers for it are
 * guesses.
 */
static void check_roots(struct pci_import *imp)
{
	for (unsigned int i = 0; i < imp->nr_fns; i++) {
		const struct import_fn *fn = imp->fns[i];
		int t = fn->f.pcie_type;

		if (!fn->placed || fn->parent ||
		    (t != PCI_EXP_TYPE_ENDPOINT && t != PCI_EXP_TYPE_LEG_END &&
		     t != PCI_EXP_TYPE_UPSTREAM && t != PCI_EXP_TYPE_DOWNSTREAM))
			continue;
		pci_import_warn(
			imp,
			"%s sits on bus %04x:%02x, which no bridge in %s leads to: taken as a root bus of its own (is the input cut short, e.g. lspci -s?)",
			fn->f.bdf, fn->domain, fn->busnr, imp->source);
	}
}

int pci_import_finish(struct pci_import *imp)
{
	struct import_fn **order;
	int ret = 0;

	if (imp->finished)
		return -EBUSY;
	if (!imp->nr_fns)
		return -ENOENT;
	qsort(imp->fns, imp->nr_fns, sizeof(*imp->fns), cmp_fn);
	for (unsigned int i = 0; i < imp->nr_fns; i++) {
		if (!new_dev(imp, imp->fns[i]))
			return -ENOMEM;
		pci_import_decode(&imp->fns[i]->f);
		imp->fns[i]->dev->acs_ctrl =
			imp->fns[i]->f.acs == PCI_IMPORT_ACS_READ ? imp->fns[i]->f.acs_ctrl : 0;
	}
	for (unsigned int i = 0; i < imp->nr_fns; i++)
		imp->fns[i]->parent = bridge_above(imp, imp->fns[i]);
	for (unsigned int i = 0; i < imp->nr_fns; i++)
		if (depth_of(imp->fns[i]) < 0) {
			pci_import_warn(imp,
					"%s: its sysfs parents form a loop: placed on a root bus",
					imp->fns[i]->f.bdf);
			imp->fns[i]->parent = NULL;
		}

	/* Parents before children, so that every bridge's bus exists. */
	order = malloc(imp->nr_fns * sizeof(*order));
	if (!order)
		return -ENOMEM;
	memcpy(order, imp->fns, imp->nr_fns * sizeof(*order));
	qsort(order, imp->nr_fns, sizeof(*order), cmp_depth);
	for (unsigned int i = 0; i < imp->nr_fns && !ret; i++)
		ret = place(imp, order[i]);
	free(order);
	if (ret)
		return ret;
	for (unsigned int i = 0; i < imp->nr_fns; i++)
		if (imp->fns[i]->placed)
			set_kind(imp->fns[i]);
	check_roots(imp);
	check_acs_unknown(imp);
	/* Closed for building: the fabric API refuses additions to it. */
	imp->f->enumerated = true;
	imp->finished = true;
	return 0;
}

void pci_import_destroy(struct pci_import *imp)
{
	if (!imp)
		return;
	for (unsigned int i = 0; i < imp->nr_fns; i++) {
		struct import_fn *fn = imp->fns[i];

		if (fn->dev) {
			pthread_rwlock_destroy(&fn->dev->p2p_lock);
			free(fn->dev);
		}
		free(fn);
	}
	for (unsigned int i = 0; i < imp->nr_buses; i++)
		free(imp->buses[i]);
	for (unsigned int i = 0; i < imp->nr_hosts; i++) {
		free(imp->hosts[i]->hb->bus);
		free(imp->hosts[i]->hb);
		free(imp->hosts[i]);
	}
	for (unsigned int i = 0; i < imp->nr_warnings; i++)
		free(imp->warnings[i]);
	/* Everything on the fabric's lists was ours and is gone. */
	INIT_LIST_HEAD(&imp->f->devices);
	INIT_LIST_HEAD(&imp->f->host_bridges);
	pci_fabric_destroy(imp->f);
	free(imp->fns);
	free(imp->buses);
	free(imp->bus_nr);
	free(imp->hosts);
	free(imp->warnings);
	free(imp);
}

/* --- what was imported ------------------------------------------------------------ */

const char *pci_import_source(const struct pci_import *imp)
{
	return imp->source;
}

struct pci_fabric *pci_import_fabric(struct pci_import *imp)
{
	return imp->f;
}

const struct pci_import_func *pci_import_func_of(const struct pci_dev *dev)
{
	return dev->priv;
}

unsigned int pci_import_nr_devs(const struct pci_import *imp)
{
	return imp->nr_fns;
}

struct pci_dev *pci_import_dev(const struct pci_import *imp, unsigned int i)
{
	return i < imp->nr_fns && imp->fns[i]->placed ? imp->fns[i]->dev : NULL;
}

struct pci_dev *pci_import_find(struct pci_import *imp, const char *bdf)
{
	struct import_fn *fn;
	unsigned int bus, devfn;
	uint32_t domain;

	if (parse_bdf(bdf, &domain, &bus, &devfn))
		return NULL;
	fn = find_fn(imp, domain, bus, devfn);
	return fn && fn->placed ? fn->dev : NULL;
}

unsigned int pci_import_root_bus(const struct pci_import *imp, const struct pci_host_bridge *hb)
{
	for (unsigned int i = 0; i < imp->nr_hosts; i++)
		if (imp->hosts[i]->hb == hb)
			return imp->hosts[i]->busnr;
	return 0;
}

unsigned int pci_import_nr_warnings(const struct pci_import *imp)
{
	return imp->nr_warnings;
}

const char *pci_import_warning(const struct pci_import *imp, unsigned int i)
{
	return i < imp->nr_warnings ? imp->warnings[i] : NULL;
}

int pci_import_assume_acs_off(struct pci_import *imp, struct pci_dev *dev)
{
	struct import_fn *fn;

	if (!dev || dev->fabric != imp->f)
		return -EINVAL;
	fn = fn_of(dev);
	/* The map-type code reads the device's register; the description keeps what was read. */
	dev->acs_ctrl &= ~(PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_EC);
	if (fn->f.acs == PCI_IMPORT_ACS_UNKNOWN)
		fn->f.acs = PCI_IMPORT_ACS_READ;
	fn->f.acs_assumed_off = true;
	return 0;
}
