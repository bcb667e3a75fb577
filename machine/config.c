// SPDX-License-Identifier: MIT
/*
 * Reading each section's keys: one table of keys per section type, a
 * setter per key that parses the value and reports what is wrong with it,
 * then the checks that need only the section itself. Defaults are in
 * place before the first key, so every key is optional unless a finish
 * function says otherwise.
 */
#define pr_fmt(fmt) "machine: " fmt

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/**
 * struct key_desc - a key a section type takes
 * @name: the key, or for an indexed key ("bar0", "acs.3") its stem
 * @nr_index: 0 for a plain key; otherwise the key is @name followed by a
 *	      decimal index below @nr_index
 * @set: read the value; 0, or -EINVAL after reporting
 * @field: for set_u16() and set_word(), the offset of what they set in
 *	   struct mc_section
 * @words: for set_word(), the values that mean false and true
 * @doc: how the key is listed in "unknown key" messages, if not @name
 */
struct key_desc {
	const char *name;
	unsigned int nr_index;
	int (*set)(struct mc_config *c, struct mc_section *s, const struct mc_key *k,
		   const struct key_desc *d, unsigned int index);
	size_t field;
	const char *words[2];
	const char *doc;
};

#define FIELD(member) offsetof(struct mc_section, member)

static int read_uint(struct mc_config *c, const struct mc_key *k, uint64_t min, uint64_t max,
		     uint64_t *val)
{
	if (!mc_parse_u64(k->value, val) && *val >= min && *val <= max)
		return 0;
	if (max < 256)
		return mc_error(c, k->line, "%s = %s: expected a number from %llu to %llu", k->name,
				k->value, (unsigned long long)min, (unsigned long long)max);
	return mc_error(c, k->line, "%s = %s: expected a number from 0x%llx to 0x%llx", k->name,
			k->value, (unsigned long long)min, (unsigned long long)max);
}

static int read_u16(struct mc_config *c, const struct mc_key *k, uint16_t *val)
{
	uint64_t v;
	int ret = read_uint(c, k, 0, 0xffff, &v);

	if (!ret)
		*val = (uint16_t)v;
	return ret;
}

static int set_u16(struct mc_config *c, struct mc_section *s, const struct mc_key *k,
		   const struct key_desc *d, unsigned int index)
{
	return read_u16(c, k, (uint16_t *)((char *)s + d->field));
}

static int set_word(struct mc_config *c, struct mc_section *s, const struct mc_key *k,
		    const struct key_desc *d, unsigned int index)
{
	bool *val = (bool *)((char *)s + d->field);

	for (int i = 0; i < 2; i++)
		if (!strcmp(k->value, d->words[i])) {
			*val = i;
			return 0;
		}
	return mc_error(c, k->line, "%s = %s: expected %s or %s", k->name, k->value, d->words[0],
			d->words[1]);
}

static int read_acs(struct mc_config *c, const struct mc_key *k, uint16_t *val)
{
	if (!mc_parse_acs(k->value, val))
		return 0;
	return mc_error(c, k->line,
			"%s = %s: expected none or a comma list of sv, tb, rr, cr, uf, ec, dt",
			k->name, k->value);
}

static int set_parent(struct mc_config *c, struct mc_section *s, const struct mc_key *k,
		      const struct key_desc *d, unsigned int index)
{
	if (!*k->value)
		return mc_error(c, k->line, "parent = : expected a section or switch port name");
	s->parent_key = k;
	return 0;
}

/* --- host bridges ----------------------------------------------------------- */

static int hb_bus_offset(struct mc_config *c, struct mc_section *s, const struct mc_key *k,
			 const struct key_desc *d, unsigned int index)
{
	if (!mc_parse_size(k->value, &s->hb.info.bus_offset))
		return 0;
	return mc_error(c, k->line, "%s = %s: expected an address", k->name, k->value);
}

static int read_window(struct mc_config *c, const struct mc_key *k, uint64_t *base, uint64_t *size)
{
	uint64_t b, sz;

	if (mc_parse_window(k->value, &b, &sz))
		return mc_error(c, k->line, "%s = %s: expected BASE SIZE, e.g. 0xc0000000 512M",
				k->name, k->value);
	if (sz && b > UINT64_MAX - sz)
		return mc_error(c, k->line, "%s = %s: the window does not fit below 2^64", k->name,
				k->value);
	if ((b | sz) & (MC_WINDOW_ALIGN - 1))
		return mc_error(c, k->line, "%s = %s: base and size must be multiples of 1M",
				k->name, k->value);
	*base = b;
	*size = sz;
	return 0;
}

static int hb_mem_window(struct mc_config *c, struct mc_section *s, const struct mc_key *k,
			 const struct key_desc *d, unsigned int index)
{
	struct pci_host_bridge_info *info = &s->hb.info;
	int ret = read_window(c, k, &info->mem_base, &info->mem_size);

	/* Bridges' non-prefetchable windows have 32-bit registers. */
	if (!ret && info->mem_size && info->mem_base + info->mem_size > (1ULL << 32))
		return mc_error(c, k->line,
				"%s = %s: the non-prefetchable window must end below 4G", k->name,
				k->value);
	return ret;
}

static int hb_pref_window(struct mc_config *c, struct mc_section *s, const struct mc_key *k,
			  const struct key_desc *d, unsigned int index)
{
	return read_window(c, k, &s->hb.info.pref_base, &s->hb.info.pref_size);
}

static const struct key_desc host_bridge_keys[] = {
	{ .name = "domain", .set = set_u16, .field = FIELD(hb.info.domain) },
	{ .name = "vendor", .set = set_u16, .field = FIELD(hb.info.vendor) },
	{ .name = "device", .set = set_u16, .field = FIELD(hb.info.device) },
	{ .name = "p2p",
	  .set = set_word,
	  .field = FIELD(hb.info.p2p_allowed),
	  .words = { "denied", "allowed" } },
	{ .name = "iommu",
	  .set = set_word,
	  .field = FIELD(hb.info.iommu_passthrough),
	  .words = { "translated", "passthrough" } },
	{ .name = "bus-offset", .set = hb_bus_offset },
	{ .name = "mem-window", .set = hb_mem_window },
	{ .name = "pref-window", .set = hb_pref_window },
	{ .name = "host-function",
	  .set = set_word,
	  .field = FIELD(hb.info.no_host_function),
	  .words = { "yes", "no" } },
	{ .name = NULL },
};

static void hb_defaults(struct mc_section *s, unsigned int index)
{
	struct pci_host_bridge_info *info = &s->hb.info;

	s->hb.index = index;
	info->name = s->name;
	info->domain = (uint16_t)(MC_DEFAULT_DOMAIN + index);
	info->vendor = MC_DEFAULT_HB_VENDOR;
	info->device = MC_DEFAULT_HB_DEVICE;
	info->p2p_allowed = true;
	info->iommu_passthrough = false;
	info->no_host_function = false;
	info->bus_offset = MC_DEFAULT_BUS_OFFSET + index * MC_DEFAULT_BUS_OFFSET_STRIDE;
	info->mem_base = MC_DEFAULT_MEM_BASE;
	info->mem_size = MC_DEFAULT_MEM_SIZE;
	info->pref_base = MC_DEFAULT_PREF_BASE;
	info->pref_size = MC_DEFAULT_PREF_SIZE;
}

/* Whether [@base, @base + @size) + @off is a valid CPU window. */
static bool cpu_window_ok(uint64_t base, uint64_t size, uint64_t off)
{
	uint64_t cpu;

	if (!size)
		return true;
	if (base > UINT64_MAX - off)
		return false;
	cpu = base + off;
	/* CPU addresses below 2^47 are process memory: windows go above. */
	return cpu >= MC_CPU_WINDOW_FLOOR && cpu - 1 <= UINT64_MAX - size;
}

/**
 * mc_window_line - the line that placed a host bridge's window in CPU space
 * @s: the host bridge
 * @key: "mem-window" or "pref-window"
 *
 * Return: the bus-offset key's line, else the window key's, else the
 * section's.
 */
int mc_window_line(const struct mc_section *s, const char *key)
{
	const struct mc_key *k = mc_find_key(s, "bus-offset");

	return k ? k->line : mc_key_line(s, key);
}

static int hb_finish(struct mc_config *c, struct mc_section *s)
{
	struct pci_host_bridge_info *info = &s->hb.info;
	const uint64_t off = info->bus_offset;
	int line;

	/*
	 * A root complex that refuses peer traffic should not carry the ID of
	 * one the kernel's P2PDMA whitelist trusts: unless the file names the
	 * ID, give it an Intel client host bridge's, which is not listed.
	 */
	if (!info->p2p_allowed && !mc_find_key(s, "vendor") && !mc_find_key(s, "device")) {
		info->vendor = MC_DEFAULT_HB_VENDOR;
		info->device = MC_DENIED_HB_DEVICE;
	}

	if (!cpu_window_ok(info->mem_base, info->mem_size, off))
		return mc_error(c, mc_window_line(s, "mem-window"),
				"%s: mem-window at bus 0x%llx + bus-offset 0x%llx must lie between "
				"2^47 and 2^64 as a CPU address",
				s->name, (unsigned long long)info->mem_base,
				(unsigned long long)off);
	if (!cpu_window_ok(info->pref_base, info->pref_size, off))
		return mc_error(
			c, mc_window_line(s, "pref-window"),
			"%s: pref-window at bus 0x%llx + bus-offset 0x%llx must lie between "
			"2^47 and 2^64 as a CPU address",
			s->name, (unsigned long long)info->pref_base, (unsigned long long)off);
	if (info->mem_size && info->pref_size &&
	    info->mem_base < info->pref_base + info->pref_size &&
	    info->pref_base < info->mem_base + info->mem_size) {
		const struct mc_key *mem = mc_find_key(s, "mem-window");
		const struct mc_key *pref = mc_find_key(s, "pref-window");

		/* Blame the later of the two lines: the earlier one was fine alone. */
		line = s->line;
		if (mem && (!pref || mem->line > pref->line))
			line = mem->line;
		else if (pref)
			line = pref->line;
		return mc_error(c, line, "%s: mem-window and pref-window overlap", s->name);
	}
	return 0;
}

/* --- ports ------------------------------------------------------------------ */

static int rp_acs(struct mc_config *c, struct mc_section *s, const struct mc_key *k,
		  const struct key_desc *d, unsigned int index)
{
	s->rp.acs_key = k;
	return read_acs(c, k, &s->rp.acs);
}

static const struct key_desc root_port_keys[] = {
	{ .name = "parent", .set = set_parent },
	{ .name = "acs", .set = rp_acs },
	{ .name = NULL },
};

static int sw_ports(struct mc_config *c, struct mc_section *s, const struct mc_key *k,
		    const struct key_desc *d, unsigned int index)
{
	uint64_t v;
	int ret = read_uint(c, k, 1, MC_MAX_SWITCH_PORTS, &v);

	if (!ret)
		s->sw.nr_ports = (unsigned int)v;
	return ret;
}

/* "acs" sets every port "acs.N" has not set, in whatever order they come. */
static int sw_acs(struct mc_config *c, struct mc_section *s, const struct mc_key *k,
		  const struct key_desc *d, unsigned int index)
{
	uint16_t acs;
	int ret = read_acs(c, k, &acs);

	if (ret)
		return ret;
	for (unsigned int i = 0; i < MC_MAX_SWITCH_PORTS; i++)
		if (!s->sw.acs_key[i]) {
			s->sw.acs[i] = acs;
			s->sw.acs_key[i] = k;
		}
	return 0;
}

static int sw_acs_port(struct mc_config *c, struct mc_section *s, const struct mc_key *k,
		       const struct key_desc *d, unsigned int index)
{
	s->sw.acs_key[index] = k;
	return read_acs(c, k, &s->sw.acs[index]);
}

static const struct key_desc switch_keys[] = {
	{ .name = "parent", .set = set_parent },
	{ .name = "ports", .set = sw_ports },
	{ .name = "acs", .set = sw_acs },
	{ .name = "acs.", .nr_index = MC_MAX_SWITCH_PORTS, .set = sw_acs_port, .doc = "acs.N" },
	{ .name = NULL },
};

static int sw_finish(struct mc_config *c, struct mc_section *s)
{
	if (!s->sw.nr_ports)
		return mc_error(c, s->line, "switch %s needs ports = N (1-%d)", s->name,
				MC_MAX_SWITCH_PORTS);
	for (unsigned int i = s->sw.nr_ports; i < MC_MAX_SWITCH_PORTS; i++) {
		const struct mc_key *k = s->sw.acs_key[i];

		if (k && strcmp(k->name, "acs"))
			return mc_error(c, k->line, "%s: %s has %u downstream ports (0-%u)",
					k->name, s->name, s->sw.nr_ports, s->sw.nr_ports - 1);
	}
	return 0;
}

/* --- endpoints --------------------------------------------------------------- */

static int ep_noop(struct mc_config *c, struct mc_section *s, const struct mc_key *k,
		   const struct key_desc *d, unsigned int index)
{
	return 0; /* read before the other keys, in read_keys() */
}

static int ep_function(struct mc_config *c, struct mc_section *s, const struct mc_key *k,
		       const struct key_desc *d, unsigned int index)
{
	uint64_t v;
	int ret = read_uint(c, k, 0, 7, &v);

	if (!ret)
		s->ep.info.function = (unsigned int)v;
	return ret;
}

static int ep_class(struct mc_config *c, struct mc_section *s, const struct mc_key *k,
		    const struct key_desc *d, unsigned int index)
{
	uint64_t v;
	int ret = read_uint(c, k, 0, 0xffffff, &v);

	if (!ret)
		s->ep.info.class = (uint32_t)v;
	return ret;
}

static int ep_revision(struct mc_config *c, struct mc_section *s, const struct mc_key *k,
		       const struct key_desc *d, unsigned int index)
{
	uint64_t v;
	int ret = read_uint(c, k, 0, 0xff, &v);

	if (!ret)
		s->ep.info.revision = (uint8_t)v;
	return ret;
}

static int ep_bar(struct mc_config *c, struct mc_section *s, const struct mc_key *k,
		  const struct key_desc *d, unsigned int index)
{
	struct pci_bar_desc *bar = &s->ep.info.bar[index];
	uint64_t size;
	unsigned int flags;

	if (mc_parse_bar(k->value, &size, &flags))
		return mc_error(c, k->line, "%s = %s: expected SIZE [64] [pref], e.g. 16M 64",
				k->name, k->value);
	if (size < 4096 || (size & (size - 1)))
		return mc_error(c, k->line, "%s = %s: a BAR's size is a power of two, at least 4K",
				k->name, k->value);
	if ((flags & PCI_BAR_PREFETCH) && !(flags & PCI_BAR_MEM64))
		return mc_error(c, k->line, "%s = %s: a prefetchable BAR must be 64-bit (add 64)",
				k->name, k->value);
	if (!(flags & PCI_BAR_MEM64) && size > (1ULL << 31))
		return mc_error(c, k->line, "%s = %s: a 32-bit BAR is at most 2G (add 64)", k->name,
				k->value);
	if ((flags & PCI_BAR_MEM64) && index == PCI_STD_NUM_BARS_HM - 1)
		return mc_error(c, k->line, "%s = %s: a 64-bit BAR takes two slots; bar5 has one",
				k->name, k->value);
	bar->size = size;
	bar->flags = flags;
	return 0;
}

static const struct key_desc endpoint_keys[] = {
	{ .name = "parent", .set = set_parent },
	{ .name = "model", .set = ep_noop },
	{ .name = "function", .set = ep_function },
	{ .name = "vendor", .set = set_u16, .field = FIELD(ep.info.vendor) },
	{ .name = "device", .set = set_u16, .field = FIELD(ep.info.device) },
	{ .name = "subsystem-vendor", .set = set_u16, .field = FIELD(ep.info.subsystem_vendor) },
	{ .name = "subsystem-device", .set = set_u16, .field = FIELD(ep.info.subsystem_device) },
	{ .name = "class", .set = ep_class },
	{ .name = "revision", .set = ep_revision },
	{ .name = "bar", .nr_index = PCI_STD_NUM_BARS_HM, .set = ep_bar, .doc = "bar0-bar5" },
	{ .name = NULL },
};

static void ep_defaults(struct mc_section *s)
{
	struct pci_endpoint_info *info = &s->ep.info;

	info->name = s->name;
	info->vendor = MC_DEFAULT_EP_VENDOR;
	info->device = MC_DEFAULT_EP_DEVICE;
	info->class = MC_DEFAULT_EP_CLASS;
}

static int ep_finish(struct mc_config *c, struct mc_section *s)
{
	struct pci_endpoint_info *info = &s->ep.info;

	/* A subsystem ID nobody gave is the function's own, as most devices do. */
	if (!mc_find_key(s, "subsystem-vendor"))
		info->subsystem_vendor = info->vendor;
	if (!mc_find_key(s, "subsystem-device"))
		info->subsystem_device = info->device;

	for (int i = 0; i < PCI_STD_NUM_BARS_HM - 1; i++) {
		char name[16];

		if (!info->bar[i].size || !(info->bar[i].flags & PCI_BAR_MEM64))
			continue;
		if (info->bar[i + 1].size) {
			snprintf(name, sizeof(name), "bar%d", i + 1);
			return mc_error(c, mc_key_line(s, name),
					"%s: this slot is the upper half of 64-bit bar%d", name, i);
		}
		i++;
	}
	if (s->ep.model->finish)
		return s->ep.model->finish(c, s);
	return 0;
}

/* --- sections ---------------------------------------------------------------- */

static const struct key_desc *const kind_keys[MC_NR_KINDS] = {
	[MC_HOST_BRIDGE] = host_bridge_keys,
	[MC_ROOT_PORT] = root_port_keys,
	[MC_SWITCH] = switch_keys,
	[MC_ENDPOINT] = endpoint_keys,
};

/* The table entry for key @name, and its index for an indexed key. */
static const struct key_desc *find_desc(enum mc_kind kind, const char *name, unsigned int *index)
{
	for (const struct key_desc *d = kind_keys[kind]; d->name; d++) {
		size_t stem = strlen(d->name);
		const char *digits = name + stem;
		uint64_t v;

		if (!d->nr_index) {
			if (!strcmp(name, d->name))
				return d;
			continue;
		}
		/* One index, one spelling: "bar01" is not bar1. */
		if (strncmp(name, d->name, stem) || (digits[0] == '0' && digits[1]) ||
		    mc_parse_u64(digits, &v) || v >= d->nr_index)
			continue;
		*index = (unsigned int)v;
		return d;
	}
	return NULL;
}

static void known_keys(enum mc_kind kind, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (const struct key_desc *d = kind_keys[kind]; d->name && n < len; d++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? ", " : "",
				      d->doc ? d->doc : d->name);
}

static int read_keys(struct mc_config *c, struct mc_section *s)
{
	const struct mc_key *k;
	int ret;

	if (s->kind == MC_ENDPOINT) {
		const struct mc_key *mk = mc_find_key(s, "model");

		s->ep.model = mc_model_find(mk ? mk->value : "endpoint");
		if (!s->ep.model) {
			char names[128];

			mc_model_names(names, sizeof(names));
			return mc_error(c, mk ? mk->line : s->line,
					"model = %s: unknown model (known: %s)",
					mk ? mk->value : "endpoint", names);
		}
	}

	list_for_each_entry(k, &s->keys, node) {
		unsigned int index = 0;
		const struct key_desc *d = find_desc(s->kind, k->name, &index);
		char known[200];

		if (d) {
			ret = d->set(c, s, k, d, index);
			if (ret)
				return ret;
			continue;
		}
		if (s->kind == MC_ENDPOINT && s->ep.model->parse_key) {
			ret = s->ep.model->parse_key(c, s, k);
			if (ret < 0)
				return ret;
			if (ret)
				continue;
		}
		known_keys(s->kind, known, sizeof(known));
		return mc_error(c, k->line, "unknown key '%s' for %s (known: %s)", k->name,
				mc_kind_phrase(s->kind), known);
	}
	return 0;
}

/**
 * mc_read_sections - read every section's keys
 * @c: the config, parsed
 *
 * Return: 0, or -EINVAL after reporting the first bad section.
 */
int mc_read_sections(struct mc_config *c)
{
	unsigned int nr_hb = 0;
	struct mc_section *s;
	int ret;

	list_for_each_entry(s, &c->sections, node) {
		if (s->kind == MC_HOST_BRIDGE)
			hb_defaults(s, nr_hb++);
		else if (s->kind == MC_ENDPOINT)
			ep_defaults(s);

		ret = read_keys(c, s);
		if (ret)
			return ret;

		if (s->kind != MC_HOST_BRIDGE && !s->parent_key)
			return mc_error(c, s->line, "%s %s has no parent (add parent = NAME)",
					mc_kind_name(s->kind), s->name);
		switch (s->kind) {
		case MC_HOST_BRIDGE:
			ret = hb_finish(c, s);
			break;
		case MC_SWITCH:
			ret = sw_finish(c, s);
			break;
		case MC_ENDPOINT:
			ret = ep_finish(c, s);
			break;
		default:
			break;
		}
		if (ret)
			return ret;
	}
	if (!nr_hb)
		return mc_error(c, 0,
				"no host bridge: a machine needs a [host-bridge NAME] section");
	return 0;
}
