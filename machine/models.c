// SPDX-License-Identifier: MIT
/*
 * Device models an endpoint section can name with "model = NAME". The
 * generic endpoint is the default: a function with the IDs, class and
 * memory BARs the section gives, no registers, no behaviour. Its BARs are
 * plain memory the fabric backs with a memfd, which is all a P2P provider
 * needs.
 *
 * "nvme" is the emulated NVMe controller: namespaces (nsN = SIZE,
 * nsN-file = PATH, nsN-lba = 512|4096), cmb = SIZE, queues, mqes, serial,
 * model-number. Its BARs come from the model, and it starts its thread once
 * the fabric is enumerated. Without CONFIG_NVME_EMU the section still
 * loads, as a plain endpoint with the same IDs, class and BARs.
 *
 * "gpu" is the emulated GPU: vram = SIZE, bar2 = SIZE (the window onto
 * VRAM). BAR0 is its 16M register BAR; it starts its channel threads once
 * the fabric is enumerated. Without CONFIG_GPU_EMU the section loads as a
 * plain endpoint with the same IDs, class and BARs.
 */
#define pr_fmt(fmt) "machine: " fmt

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hetmem/err.h>
#include <hetmem/gpu-emu.h>
#include <hetmem/gpu-regs.h>
#include <hetmem/log.h>
#include <hetmem/nvme-emu.h>
#include "internal.h"

static int endpoint_create(struct machine *m, struct mc_section *s, struct pci_dev *port)
{
	struct pci_dev *dev = pci_endpoint_add(port, &s->ep.info);

	if (IS_ERR(dev))
		return (int)PTR_ERR(dev);
	s->dev = dev;
	return 0;
}

static const struct machine_model endpoint_model = {
	.name = "endpoint",
	.create = endpoint_create,
};

/* --- nvme: the emulated NVMe controller (drivers/nvme/emu) ------------------------- */

#define NVME_CLASS 0x010802
#define NVME_DEVICE 0x0001
#define NVME_BAR0_SIZE (16 << 10)

/**
 * struct nvme_model - what an nvme section says, and the controller built from it
 * @p: the controller's parameters
 * @serial: the "serial" key's value
 * @mn: the "model-number" key's value
 * @path: the "nsN-file" keys' values
 * @ns_key: the "nsN" keys (sizes), NULL when absent
 * @emu: the controller, once created
 */
struct nvme_model {
	struct nvme_emu_params p;
	char *serial;
	char *mn;
	char *path[NVME_EMU_MAX_NS];
	const struct mc_key *ns_key[NVME_EMU_MAX_NS];
	struct nvme_emu *emu;
};

static struct nvme_model *nvme_data(struct mc_config *c, struct mc_section *s)
{
	if (!s->ep.model_data)
		s->ep.model_data = calloc(1, sizeof(struct nvme_model));
	if (!s->ep.model_data)
		mc_nomem(c);
	return s->ep.model_data;
}

/* "ns7" -> 7 with @rest "", "ns7-file" -> 7 with @rest "-file"; 0 when not an ns key. */
static unsigned int ns_index(const char *name, const char **rest)
{
	unsigned int n = 0;
	const char *p = name + 2;

	if (strncmp(name, "ns", 2) || *p < '1' || *p > '9')
		return 0;
	while (*p >= '0' && *p <= '9' && n <= NVME_EMU_MAX_NS)
		n = n * 10 + (unsigned int)(*p++ - '0');
	*rest = p;
	return n <= NVME_EMU_MAX_NS ? n : 0;
}

static int nvme_string(struct mc_config *c, const struct mc_key *k, size_t max, char **out)
{
	size_t len = strlen(k->value);

	if (!len || len > max)
		return mc_error(c, k->line, "%s = %s: 1 to %zu characters", k->name, k->value, max);
	for (size_t i = 0; i < len; i++)
		if (k->value[i] < 0x20 || k->value[i] > 0x7e)
			return mc_error(c, k->line, "%s: printable ASCII only", k->name);
	free(*out);
	*out = strdup(k->value);
	return *out ? 1 : mc_nomem(c);
}

static int nvme_uint(struct mc_config *c, const struct mc_key *k, uint64_t lo, uint64_t hi,
		     uint64_t *v)
{
	if (mc_parse_u64(k->value, v) || *v < lo || *v > hi)
		return mc_error(c, k->line, "%s = %s: expected a number from %llu to %llu",
				k->name, k->value, (unsigned long long)lo, (unsigned long long)hi);
	return 0;
}

static int nvme_ns_key(struct mc_config *c, struct nvme_model *d, const struct mc_key *k,
		       unsigned int n, const char *rest)
{
	struct nvme_emu_ns_params *ns = &d->p.ns[n - 1];
	uint64_t v;

	if (!*rest) {
		if (mc_parse_size(k->value, &v) || !v)
			return mc_error(c, k->line, "%s = %s: expected a size, e.g. 1G", k->name,
					k->value);
		ns->size = v;
		d->ns_key[n - 1] = k;
		return 1;
	}
	if (!strcmp(rest, "-lba")) {
		if (mc_parse_u64(k->value, &v) || (v != 512 && v != 4096))
			return mc_error(c, k->line, "%s = %s: the LBA size is 512 or 4096", k->name,
					k->value);
		ns->lba_shift = v == 512 ? 9 : 12;
		return 1;
	}
	if (!strcmp(rest, "-file")) {
		if (!*k->value)
			return mc_error(c, k->line, "%s: expected a file name", k->name);
		free(d->path[n - 1]);
		d->path[n - 1] = strdup(k->value);
		return d->path[n - 1] ? 1 : mc_nomem(c);
	}
	return 0;
}

static int nvme_parse_key(struct mc_config *c, struct mc_section *s, const struct mc_key *k)
{
	struct nvme_model *d = nvme_data(c, s);
	const char *rest = "";
	unsigned int n;
	uint64_t v;
	int ret;

	if (!d)
		return -ENOMEM;
	n = ns_index(k->name, &rest);
	if (n)
		return nvme_ns_key(c, d, k, n, rest);
	if (!strcmp(k->name, "cmb")) {
		if (mc_parse_size(k->value, &v) ||
		    (v && (v < (1 << 20) || (v & (v - 1)) || v > (1ULL << 39))))
			return mc_error(c, k->line,
					"cmb = %s: a power of two from 1M to 512G, or 0 for none",
					k->value);
		d->p.cmb_size = v;
		return 1;
	}
	if (!strcmp(k->name, "queues")) {
		ret = nvme_uint(c, k, 1, NVME_EMU_MAX_VECTORS - 1, &v);
		d->p.max_io_queues = (unsigned int)v;
		return ret ? ret : 1;
	}
	if (!strcmp(k->name, "mqes")) {
		ret = nvme_uint(c, k, 1, 0xffff, &v);
		d->p.mqes = (uint16_t)v;
		return ret ? ret : 1;
	}
	if (!strcmp(k->name, "serial"))
		return nvme_string(c, k, 20, &d->serial);
	if (!strcmp(k->name, "model-number"))
		return nvme_string(c, k, 40, &d->mn);
	return 0;
}

/* Namespaces are NSIDs 1..N: ns1..nsN, each with a size, sizes whole LBAs. */
static int nvme_check_ns(struct mc_config *c, struct mc_section *s, struct nvme_model *d)
{
	for (unsigned int i = 0; i < NVME_EMU_MAX_NS; i++) {
		struct nvme_emu_ns_params *ns = &d->p.ns[i];
		char name[16], key[24];

		snprintf(name, sizeof(name), "ns%u", i + 1);
		if (!d->ns_key[i]) {
			if (!ns->lba_shift && !d->path[i])
				continue;
			snprintf(key, sizeof(key), "%s-%s", name, d->path[i] ? "file" : "lba");
			return mc_error(c, mc_key_line(s, key), "%s without %s = SIZE", key, name);
		}
		if (i && !d->ns_key[i - 1])
			return mc_error(c, d->ns_key[i]->line,
					"%s without ns%u: namespaces are numbered from 1, no gaps", name,
					i);
		if (!ns->lba_shift)
			ns->lba_shift = 9;
		if (ns->size & ((1ULL << ns->lba_shift) - 1))
			return mc_error(c, d->ns_key[i]->line,
					"%s = %s: not a whole number of %u-byte blocks", name,
					d->ns_key[i]->value, 1u << ns->lba_shift);
		ns->path = d->path[i];
		d->p.nr_ns = i + 1;
	}
	return 0;
}

static int nvme_finish(struct mc_config *c, struct mc_section *s)
{
	static const char *const not_here[] = { "bar0", "bar1", "bar2", "bar3", "bar4", "bar5",
						"subsystem-vendor", "subsystem-device",
						"revision" };
	struct pci_endpoint_info *info = &s->ep.info;
	struct nvme_model *d = nvme_data(c, s);
	const struct mc_key *k;
	int ret;

	if (!d)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(not_here) / sizeof(not_here[0]); i++) {
		k = mc_find_key(s, not_here[i]);
		if (k)
			return mc_error(c, k->line,
					"%s: set by the nvme model (BAR0 registers, BAR2 the CMB "
					"from cmb = SIZE; subsystem IDs follow vendor and device)",
					k->name);
	}
	k = mc_find_key(s, "class");
	if (k && info->class != NVME_CLASS)
		return mc_error(c, k->line, "class = %s: an NVMe controller is 0x010802", k->value);
	ret = nvme_check_ns(c, s, d);
	if (ret)
		return ret;

	info->class = NVME_CLASS;
	if (!mc_find_key(s, "device"))
		info->device = NVME_DEVICE;
	info->subsystem_vendor = info->vendor;
	info->subsystem_device = info->device;
	info->bar[0].size = NVME_BAR0_SIZE;
	info->bar[0].flags = PCI_BAR_MEM64;
	if (d->p.cmb_size) {
		info->bar[2].size = d->p.cmb_size;
		info->bar[2].flags = PCI_BAR_MEM64 | PCI_BAR_PREFETCH;
	}
	d->p.name = s->name;
	d->p.vendor = info->vendor;
	d->p.device = info->device;
	d->p.serial = d->serial;
	d->p.model = d->mn;
	return 0;
}

#ifdef CONFIG_NVME_EMU
static int nvme_create(struct machine *m, struct mc_section *s, struct pci_dev *port)
{
	struct nvme_model *d = s->ep.model_data;
	struct nvme_emu *emu = nvme_emu_create(port, s->ep.info.function, &d->p);

	if (IS_ERR(emu)) {
		int ret = (int)PTR_ERR(emu);

		if (ret == -ENOMEM)
			return ret;
		/* Most likely a backing file: say which section, and why. */
		return mc_error(m->config, s->line, "nvme %s: cannot create the controller: %s%s",
				s->name, strerror(-ret),
				d->p.nr_ns ? " (check the nsN-file paths)" : "");
	}
	d->emu = emu;
	s->dev = nvme_emu_pdev(emu);
	return 0;
}

static int nvme_start(struct machine *m, struct mc_section *s)
{
	struct nvme_model *d = s->ep.model_data;

	return nvme_emu_start(d->emu);
}

static void nvme_destroy(struct machine *m, struct mc_section *s)
{
	struct nvme_model *d = s->ep.model_data;

	nvme_emu_destroy(d->emu);
	d->emu = NULL;
}
#else
/* Built without the controller model: a function with its IDs and BARs, no registers. */
static int nvme_create(struct machine *m, struct mc_section *s, struct pci_dev *port)
{
	pr_info("%s: built without CONFIG_NVME_EMU: a plain endpoint", s->name);
	return endpoint_create(m, s, port);
}

#define nvme_start NULL
#define nvme_destroy NULL
#endif

static void nvme_release(struct mc_section *s)
{
	struct nvme_model *d = s->ep.model_data;

	if (!d)
		return;
	for (unsigned int i = 0; i < NVME_EMU_MAX_NS; i++)
		free(d->path[i]);
	free(d->serial);
	free(d->mn);
	free(d);
	s->ep.model_data = NULL;
}

static const struct machine_model nvme_model = {
	.name = "nvme",
	.parse_key = nvme_parse_key,
	.finish = nvme_finish,
	.create = nvme_create,
	.start = nvme_start,
	.destroy = nvme_destroy,
	.release = nvme_release,
};

/* --- gpu: the emulated GPU (drivers/gpu/emu) ---------------------------------------- */

/**
 * struct gpu_model - what a gpu section says, and the GPU built from it
 * @p: the GPU's parameters
 * @emu: the GPU, once created
 */
struct gpu_model {
	struct gpu_emu_params p;
	struct gpu_emu *emu;
};

static struct gpu_model *gpu_data(struct mc_config *c, struct mc_section *s)
{
	if (!s->ep.model_data)
		s->ep.model_data = calloc(1, sizeof(struct gpu_model));
	if (!s->ep.model_data)
		mc_nomem(c);
	return s->ep.model_data;
}

static int gpu_parse_key(struct mc_config *c, struct mc_section *s, const struct mc_key *k)
{
	struct gpu_model *d = gpu_data(c, s);
	uint64_t v;

	if (!d)
		return -ENOMEM;
	if (!strcmp(k->name, "vram")) {
		if (mc_parse_size(k->value, &v) || !v || (v & (GPU_PAGE_SIZE - 1)) ||
		    v > (1ULL << 40))
			return mc_error(c, k->line,
					"vram = %s: a size from 4K to 1T, a multiple of 4K",
					k->value);
		d->p.vram_size = v;
		return 1;
	}
	return 0;
}

static int gpu_finish(struct mc_config *c, struct mc_section *s)
{
	static const char *const not_here[] = { "bar0", "bar1", "bar3", "bar4", "bar5" };
	struct pci_endpoint_info *info = &s->ep.info;
	struct gpu_model *d = gpu_data(c, s);
	const struct mc_key *k;

	if (!d)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(not_here) / sizeof(not_here[0]); i++) {
		k = mc_find_key(s, not_here[i]);
		if (k)
			return mc_error(c, k->line,
					"%s: set by the gpu model (BAR0 its registers, BAR2 the "
					"VRAM window from bar2 = SIZE)",
					k->name);
	}
	/*
	 * bar2 = SIZE is read as a generic BAR key: "SIZE", or "SIZE 64 pref"
	 * as a plain endpoint's BAR2 would say. The window is always 64-bit
	 * prefetchable.
	 */
	k = mc_find_key(s, "bar2");
	if (k) {
		unsigned int flags = info->bar[2].flags;

		if ((flags && flags != (PCI_BAR_MEM64 | PCI_BAR_PREFETCH)) ||
		    info->bar[2].size < (1 << 20))
			return mc_error(c, k->line,
					"bar2 = %s: the VRAM window is a power of two of at least "
					"1M, always 64-bit prefetchable (SIZE, or SIZE 64 pref)",
					k->value);
		d->p.bar2_size = info->bar[2].size;
	}
	if (!d->p.vram_size)
		d->p.vram_size = GPU_EMU_DEF_VRAM;
	if (!d->p.bar2_size) {
		/* The default window, or the largest power of two that fits in VRAM. */
		d->p.bar2_size = GPU_EMU_DEF_BAR2;
		while (d->p.bar2_size > d->p.vram_size)
			d->p.bar2_size >>= 1;
	}
	if (d->p.bar2_size < (1 << 20) || d->p.bar2_size > d->p.vram_size)
		return mc_error(c, k ? k->line : s->line,
				"%s: the VRAM window (bar2) must be a power of two of at least 1M "
				"and no larger than vram",
				s->name);

	if (!mc_find_key(s, "class"))
		info->class = GPU_CLASS;
	if (!mc_find_key(s, "device"))
		info->device = GPU_DEVICE_ID;
	if (!mc_find_key(s, "subsystem-vendor"))
		info->subsystem_vendor = info->vendor;
	if (!mc_find_key(s, "subsystem-device"))
		info->subsystem_device = info->device;
	info->bar[0].size = GPU_BAR0_SIZE;
	info->bar[0].flags = PCI_BAR_MEM64;
	info->bar[2].size = d->p.bar2_size;
	info->bar[2].flags = PCI_BAR_MEM64 | PCI_BAR_PREFETCH;
	d->p.name = s->name;
	d->p.vendor = info->vendor;
	d->p.device = info->device;
	d->p.class = info->class;
	return 0;
}

#ifdef CONFIG_GPU_EMU
static int gpu_create(struct machine *m, struct mc_section *s, struct pci_dev *port)
{
	struct gpu_model *d = s->ep.model_data;
	struct gpu_emu *emu = gpu_emu_create(port, s->ep.info.function, &d->p);

	if (IS_ERR(emu)) {
		int ret = (int)PTR_ERR(emu);

		if (ret == -ENOMEM)
			return ret;
		return mc_error(m->config, s->line, "gpu %s: cannot create the GPU: %s", s->name,
				strerror(-ret));
	}
	d->emu = emu;
	s->dev = gpu_emu_pdev(emu);
	return 0;
}

static int gpu_start(struct machine *m, struct mc_section *s)
{
	struct gpu_model *d = s->ep.model_data;

	return gpu_emu_start(d->emu);
}

static void gpu_destroy(struct machine *m, struct mc_section *s)
{
	struct gpu_model *d = s->ep.model_data;

	gpu_emu_destroy(d->emu);
	d->emu = NULL;
}
#else
/* Built without the GPU model: a function with its IDs and BARs, no registers. */
static int gpu_create(struct machine *m, struct mc_section *s, struct pci_dev *port)
{
	pr_info("%s: built without CONFIG_GPU_EMU: a plain endpoint", s->name);
	return endpoint_create(m, s, port);
}

#define gpu_start NULL
#define gpu_destroy NULL
#endif

static void gpu_release(struct mc_section *s)
{
	free(s->ep.model_data);
	s->ep.model_data = NULL;
}

static const struct machine_model gpu_model = {
	.name = "gpu",
	.parse_key = gpu_parse_key,
	.finish = gpu_finish,
	.create = gpu_create,
	.start = gpu_start,
	.destroy = gpu_destroy,
	.release = gpu_release,
};

static const struct machine_model *const models[] = {
	&endpoint_model,
	&nvme_model,
	&gpu_model,
};

#define NR_MODELS (sizeof(models) / sizeof(models[0]))

/**
 * mc_model_find - a device model by name
 * @name: the value of a "model" key
 *
 * Return: the model, or NULL when there is none by that name.
 */
const struct machine_model *mc_model_find(const char *name)
{
	for (size_t i = 0; i < NR_MODELS; i++)
		if (!strcmp(models[i]->name, name))
			return models[i];
	return NULL;
}

/**
 * mc_model_names - the known models' names, for messages
 * @buf: where to, comma separated
 * @len: size of @buf
 */
void mc_model_names(char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < NR_MODELS && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ", " : "", models[i]->name);
}
