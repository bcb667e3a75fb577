// SPDX-License-Identifier: MIT
/*
 * Checks that need the whole config: who is below whom, what sits on each
 * port, the host bridges against each other, and whether the BARs fit the
 * windows. The fabric would refuse most of these too, but with an errno;
 * here each is a message naming the line to fix.
 *
 * The topology a config can describe is a forest:
 *
 *   host-bridge  <-  root-port  <-  switch or endpoints
 *   switch.N     <-  switch or endpoints
 *
 * Only switches can form a cycle (a switch below its own downstream port,
 * directly or through other switches): root ports hang from host bridges,
 * which have no parent, and endpoints are nobody's parent.
 */
#define pr_fmt(fmt) "machine: " fmt

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* --- parents ----------------------------------------------------------------- */

/* "sw0.1": switch sw0's downstream port 1. */
static int find_switch_port(struct mc_config *c, const struct mc_key *k, struct mc_section **sw,
			    int *port)
{
	const char *dot = strrchr(k->value, '.');
	char base[MC_NAME_MAX + 1];
	struct mc_section *p;
	uint64_t v;

	*sw = NULL;
	if (!dot || dot - k->value > MC_NAME_MAX)
		return 0;
	memcpy(base, k->value, (size_t)(dot - k->value));
	base[dot - k->value] = '\0';
	p = mc_find_section(c, base);
	if (!p)
		return 0;
	if (p->kind != MC_SWITCH)
		return mc_error(c, k->line,
				"parent = %s: %s is %s, only switch ports are named SWITCH.N",
				k->value, p->name, mc_kind_phrase(p->kind));
	if ((dot[1] == '0' && dot[2]) || mc_parse_u64(dot + 1, &v) || v >= p->sw.nr_ports)
		return mc_error(c, k->line,
				"parent = %s: switch %s has downstream ports %s.0 to %s.%u",
				k->value, p->name, p->name, p->name, p->sw.nr_ports - 1);
	*sw = p;
	*port = (int)v;
	return 0;
}

static int resolve_parent(struct mc_config *c, struct mc_section *s)
{
	const struct mc_key *k = s->parent_key;
	struct mc_section *p = mc_find_section(c, k->value);
	int port = -1, ret;

	if (!p) {
		ret = find_switch_port(c, k, &p, &port);
		if (ret)
			return ret;
		if (!p)
			return mc_error(c, k->line,
					"parent = %s: no section or switch port named %s", k->value,
					k->value);
	}
	s->parent = p;
	s->parent_port = port;

	if (s->kind == MC_ROOT_PORT) {
		if (p->kind != MC_HOST_BRIDGE)
			return mc_error(c, k->line,
					"parent = %s: a root port sits on a host bridge, %s is %s",
					k->value, k->value, mc_kind_phrase(p->kind));
		return 0;
	}
	if (p->kind == MC_ROOT_PORT || port >= 0)
		return 0;
	if (p->kind == MC_SWITCH)
		return mc_error(c, k->line,
				"parent = %s: %s goes below a downstream port of switch "
				"%s (%s.0 to %s.%u), not below its upstream port",
				k->value, mc_kind_phrase(s->kind), p->name, p->name, p->name,
				p->sw.nr_ports - 1);
	return mc_error(
		c, k->line,
		"parent = %s: %s goes below a root port or a switch downstream port, %s is %s",
		k->value, mc_kind_phrase(s->kind), k->value, mc_kind_phrase(p->kind));
}

/* Report the first switch (in file order) that ends up below itself. */
static int check_cycles(struct mc_config *c)
{
	struct mc_section *s, *p;

	list_for_each_entry(s, &c->sections, node) {
		unsigned int steps = 0;
		char chain[256];
		size_t n;

		if (s->kind != MC_SWITCH)
			continue;
		/* A cycle not through @s would loop forever: count steps. */
		for (p = s->parent; p->kind == MC_SWITCH && p != s && steps < c->nr_sections;
		     p = p->parent)
			steps++;
		if (p != s)
			continue;

		n = (size_t)snprintf(chain, sizeof(chain), "%s", s->name);
		p = s;
		do {
			if (n < sizeof(chain))
				n += (size_t)snprintf(chain + n, sizeof(chain) - n, " -> %s",
						      p->parent_key->value);
			p = p->parent;
		} while (p != s);
		return mc_error(c, s->parent_key->line,
				"parent = %s: switch %s ends up below itself (%s)",
				s->parent_key->value, s->name, chain);
	}
	return 0;
}

static struct mc_section *host_bridge_of(struct mc_section *s)
{
	while (s->kind != MC_HOST_BRIDGE)
		s = s->parent;
	return s;
}

/* --- what sits on each port -------------------------------------------------------- */

static bool same_port(const struct mc_section *a, const struct mc_section *b)
{
	return a->parent == b->parent && a->parent_port == b->parent_port;
}

static int check_ports(struct mc_config *c)
{
	struct mc_section *s, *o;

	list_for_each_entry(s, &c->sections, node) {
		if (s->kind != MC_SWITCH && s->kind != MC_ENDPOINT)
			continue;
		list_for_each_entry(o, &c->sections, node) {
			if (o == s)
				break;
			if ((o->kind != MC_SWITCH && o->kind != MC_ENDPOINT) || !same_port(o, s))
				continue;
			/* A switch's upstream port takes the whole link. */
			if (o->kind == MC_SWITCH || s->kind == MC_SWITCH)
				return mc_error(
					c, s->parent_key->line,
					"parent = %s: %s %s is already there (line %d), and a "
					"port with a switch below it takes nothing else",
					s->parent_key->value,
					o->kind == MC_SWITCH ? "switch" : "endpoint", o->name,
					o->line);
			if (o->ep.info.function == s->ep.info.function)
				return mc_error(c, mc_key_line(s, "function"),
						"function %u below %s is taken by %s (line %d)",
						s->ep.info.function, s->parent_key->value, o->name,
						o->line);
		}
	}

	/* Software probes functions 1-7 only once it found function 0. */
	list_for_each_entry(s, &c->sections, node) {
		bool found = false;

		if (s->kind != MC_ENDPOINT || !s->ep.info.function)
			continue;
		list_for_each_entry(o, &c->sections, node)
			if (o->kind == MC_ENDPOINT && same_port(o, s) && !o->ep.info.function)
				found = true;
		if (!found)
			return mc_error(c, mc_key_line(s, "function"),
					"function %u below %s needs a function 0 on the same port: "
					"without one the device is invisible",
					s->ep.info.function, s->parent_key->value);
	}
	return 0;
}

/* --- host bridges ------------------------------------------------------------------ */

struct cpu_window {
	const char *key;
	uint64_t start;
	uint64_t size;
};

static void cpu_windows(const struct mc_section *hb, struct cpu_window w[2])
{
	const struct pci_host_bridge_info *info = &hb->hb.info;

	w[0] = (struct cpu_window){ "mem-window", info->mem_base + info->bus_offset,
				    info->mem_size };
	w[1] = (struct cpu_window){ "pref-window", info->pref_base + info->bus_offset,
				    info->pref_size };
}

/* Windows and bus offsets were checked per host bridge: these are pairs. */
static int check_host_bridge_pair(struct mc_config *c, struct mc_section *s, struct mc_section *o)
{
	struct cpu_window ws[2], wo[2];

	if (o->hb.info.domain == s->hb.info.domain)
		return mc_error(c, mc_key_line(s, "domain"),
				"domain 0x%04x is already %s's (line %d)", s->hb.info.domain,
				o->name, o->line);
	cpu_windows(s, ws);
	cpu_windows(o, wo);
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 2; j++) {
			if (!ws[i].size || !wo[j].size ||
			    ws[i].start > wo[j].start + (wo[j].size - 1) ||
			    wo[j].start > ws[i].start + (ws[i].size - 1))
				continue;
			return mc_error(c, mc_window_line(s, ws[i].key),
					"%s's %s (CPU 0x%llx-0x%llx) overlaps %s's %s (CPU "
					"0x%llx-0x%llx, line %d)",
					s->name, ws[i].key, (unsigned long long)ws[i].start,
					(unsigned long long)(ws[i].start + ws[i].size - 1), o->name,
					wo[j].key, (unsigned long long)wo[j].start,
					(unsigned long long)(wo[j].start + wo[j].size - 1),
					mc_window_line(o, wo[j].key));
		}
	return 0;
}

static int check_host_bridges(struct mc_config *c)
{
	struct mc_section *s, *o;
	int ret;

	list_for_each_entry(s, &c->sections, node) {
		if (s->kind != MC_HOST_BRIDGE)
			continue;
		list_for_each_entry(o, &c->sections, node) {
			if (o == s)
				break;
			if (o->kind != MC_HOST_BRIDGE)
				continue;
			ret = check_host_bridge_pair(c, s, o);
			if (ret)
				return ret;
		}
	}

	/* Root bus slots and bus numbers, counted per host bridge in file order. */
	list_for_each_entry(s, &c->sections, node) {
		struct mc_section *hb;

		if (s->kind != MC_ROOT_PORT && s->kind != MC_SWITCH)
			continue;
		hb = host_bridge_of(s);
		if (s->kind == MC_ROOT_PORT) {
			hb->hb.nr_root_ports++;
			hb->hb.nr_buses++;
		} else {
			hb->hb.nr_buses += 1 + s->sw.nr_ports;
		}
		if (hb->hb.nr_root_ports > MC_MAX_ROOT_PORTS)
			return mc_error(c, s->parent_key->line,
					"parent = %s: host bridge %s has room for %d root ports",
					s->parent_key->value, hb->name, MC_MAX_ROOT_PORTS);
		if (hb->hb.nr_buses > MC_MAX_BUSES)
			return mc_error(c, s->parent_key->line,
					"parent = %s: host bridge %s runs out of bus numbers (%d "
					"below its root bus)",
					s->parent_key->value, hb->name, MC_MAX_BUSES);
	}
	return 0;
}

/* --- do the BARs fit ------------------------------------------------------------------ */

/*
 * The sizing below is the one enumeration does (drivers/pci/enumerate.c):
 * on each bus, BARs and bridge windows are packed largest alignment first;
 * a BAR is aligned to its size, a bridge window to the largest alignment
 * below it and at least 1 MiB, and its size is rounded up to 1 MiB.
 * Computing it here lets the message name a BAR instead of a host bridge.
 */
enum mc_window {
	WIN_MEM,
	WIN_PREF,
};

/* A bus holds at most 48 BARs (8 functions), 32 switch ports or 31 root ports. */
#define MC_MAX_BUS_ITEMS 64

struct fit {
	uint64_t size;
	uint64_t align;
};

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static int cmp_fit(const void *a, const void *b)
{
	const struct fit *x = a, *y = b;

	if (x->align != y->align)
		return x->align < y->align ? 1 : -1;
	return x->size < y->size ? 1 : (x->size > y->size ? -1 : 0);
}

static struct fit pack(struct fit *items, unsigned int n)
{
	struct fit bus = { 0, MC_WINDOW_ALIGN };

	qsort(items, n, sizeof(*items), cmp_fit);
	for (unsigned int i = 0; i < n; i++) {
		bus.size = add_sat(mc_align_up(bus.size, items[i].align), items[i].size);
		if (items[i].align > bus.align)
			bus.align = items[i].align;
	}
	return bus;
}

static enum mc_window bar_window(const struct pci_bar_desc *bar)
{
	return (bar->flags & PCI_BAR_PREFETCH) && (bar->flags & PCI_BAR_MEM64) ? WIN_PREF : WIN_MEM;
}

static void add_item(struct fit *items, unsigned int *n, struct fit bus)
{
	if (!bus.size)
		return;
	items[(*n)++] = (struct fit){ mc_align_up(bus.size, MC_WINDOW_ALIGN), bus.align };
}

/* What window @t of the bus below @bridge (port @port of a switch) needs. */
static struct fit bus_need(struct mc_config *c, struct mc_section *bridge, int port,
			   enum mc_window t)
{
	struct fit items[MC_MAX_BUS_ITEMS];
	unsigned int n = 0;
	struct mc_section *s;

	list_for_each_entry(s, &c->sections, node) {
		if (s->parent != bridge || s->parent_port != port)
			continue;
		if (n >= MC_MAX_BUS_ITEMS - PCI_STD_NUM_BARS_HM)
			break; /* check_ports() and check_host_bridges() keep buses smaller */
		if (s->kind == MC_ROOT_PORT) {
			add_item(items, &n, bus_need(c, s, -1, t));
		} else if (s->kind == MC_SWITCH) {
			/* The upstream port's bus holds the downstream ports. */
			struct fit ports[MC_MAX_SWITCH_PORTS];
			unsigned int np = 0;

			for (unsigned int i = 0; i < s->sw.nr_ports; i++)
				add_item(ports, &np, bus_need(c, s, (int)i, t));
			add_item(items, &n, pack(ports, np));
		} else if (s->kind == MC_ENDPOINT) {
			for (int b = 0; b < PCI_STD_NUM_BARS_HM; b++) {
				const struct pci_bar_desc *bar = &s->ep.info.bar[b];

				if (bar->size && bar_window(bar) == t && n < MC_MAX_BUS_ITEMS)
					items[n++] = (struct fit){ bar->size, bar->size };
			}
		}
	}
	return pack(items, n);
}

static int report_no_fit(struct mc_config *c, struct mc_section *hb, enum mc_window t,
			 struct fit need, uint64_t size)
{
	const char *key = t == WIN_PREF ? "pref-window" : "mem-window";
	const char *what = t == WIN_PREF ? "prefetchable" : "non-prefetchable";
	char bar_key[16], bar_size[24], need_size[24], need_align[24], win_size[24];
	struct mc_section *s, *big = NULL;
	int big_bar = 0;

	/* Blame the largest BAR of that kind: it is the one hardest to place. */
	list_for_each_entry(s, &c->sections, node) {
		if (s->kind != MC_ENDPOINT || host_bridge_of(s) != hb)
			continue;
		for (int i = 0; i < PCI_STD_NUM_BARS_HM; i++) {
			const struct pci_bar_desc *bar = &s->ep.info.bar[i];

			if (bar->size && bar_window(bar) == t &&
			    (!big || bar->size > big->ep.info.bar[big_bar].size)) {
				big = s;
				big_bar = i;
			}
		}
	}
	if (!big)
		return mc_error(c, hb->line, "the %s BARs below host bridge %s do not fit its %s",
				what, hb->name, key);

	snprintf(bar_key, sizeof(bar_key), "bar%d", big_bar);
	mc_format_size(big->ep.info.bar[big_bar].size, bar_size, sizeof(bar_size));
	if (!size)
		return mc_error(c, mc_key_line(big, bar_key),
				"%s of %s (%s %s) does not fit: host bridge %s has no %s", bar_key,
				big->name, bar_size, what, hb->name, key);
	return mc_error(c, mc_key_line(big, bar_key),
			"%s of %s (%s %s) does not fit: the %s BARs below host bridge %s need %s "
			"aligned to %s, its %s (line %d) has %s",
			bar_key, big->name, bar_size, what, what, hb->name,
			mc_format_size(need.size, need_size, sizeof(need_size)),
			mc_format_size(need.align, need_align, sizeof(need_align)), key,
			mc_key_line(hb, key), mc_format_size(size, win_size, sizeof(win_size)));
}

static int check_bars_fit(struct mc_config *c)
{
	struct mc_section *hb;

	list_for_each_entry(hb, &c->sections, node) {
		const struct pci_host_bridge_info *info = &hb->hb.info;
		const uint64_t base[2] = { info->mem_base, info->pref_base };
		const uint64_t size[2] = { info->mem_size, info->pref_size };

		if (hb->kind != MC_HOST_BRIDGE)
			continue;
		for (int t = WIN_MEM; t <= WIN_PREF; t++) {
			struct fit need = bus_need(c, hb, -1, t);
			uint64_t start = mc_align_up(base[t], need.align);

			if (!need.size)
				continue;
			if (need.size > size[t] || start - base[t] > size[t] - need.size)
				return report_no_fit(c, hb, t, need, size[t]);
		}
	}
	return 0;
}

/**
 * mc_check - the checks that need the whole config
 * @c: the config, every section read
 *
 * Resolves every section's parent as well.
 *
 * Return: 0, or -EINVAL after reporting the first problem.
 */
int mc_check(struct mc_config *c)
{
	struct mc_section *s;
	int ret;

	list_for_each_entry(s, &c->sections, node) {
		if (s->kind == MC_HOST_BRIDGE)
			continue;
		ret = resolve_parent(c, s);
		if (ret)
			return ret;
	}
	ret = check_cycles(c);
	if (!ret)
		ret = check_ports(c);
	if (!ret)
		ret = check_host_bridges(c);
	if (!ret)
		ret = check_bars_fit(c);
	return ret;
}
