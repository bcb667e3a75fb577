// SPDX-License-Identifier: MIT
/*
 * Loading a machine: read and check the config, then build the fabric in
 * dependency order (host bridges, then each tree depth first in file order)
 * and enumerate it the way firmware does.
 *
 * By the time building starts every problem the fabric would refuse has
 * been reported with its line by check.c; an error from the fabric here
 * is still mapped to the section it came from, in case the two disagree.
 */
#define pr_fmt(fmt) "machine: " fmt

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hetmem/err.h>
#include <hetmem/log.h>
#include <hetmem/machine.h>
#include "internal.h"

static int build_error(struct mc_config *c, struct mc_section *s, int ret)
{
	if (ret == -ENOMEM)
		return mc_nomem(c);
	return mc_error(c, s->line, "the fabric refused %s %s: %s", mc_kind_name(s->kind), s->name,
			strerror(-ret));
}

static int build_below(struct machine *m, struct mc_section *bridge, int port, struct pci_dev *dev);

/* The ACS bits the plain "acs" key gave a switch's ports, or 0. */
static uint16_t switch_common_acs(const struct mc_section *s)
{
	for (unsigned int i = 0; i < s->sw.nr_ports; i++)
		if (s->sw.acs_key[i] && !strcmp(s->sw.acs_key[i]->name, "acs"))
			return s->sw.acs[i];
	return 0;
}

static int build_switch(struct machine *m, struct mc_section *s, struct pci_dev *port)
{
	struct pci_dev *usp = pci_switch_add(port, s->name, s->sw.nr_ports, switch_common_acs(s));
	int ret;

	if (IS_ERR(usp))
		return build_error(m->config, s, (int)PTR_ERR(usp));
	s->dev = usp;
	for (unsigned int i = 0; i < s->sw.nr_ports; i++) {
		struct pci_dev *dsp = pci_switch_port(usp, i);

		if (!dsp)
			return build_error(m->config, s, -ENODEV);
		ret = build_below(m, s, (int)i, dsp);
		if (ret)
			return ret;
	}
	return 0;
}

static int build_section(struct machine *m, struct mc_section *s, struct pci_dev *port)
{
	struct pci_dev *dev;
	int ret;

	switch (s->kind) {
	case MC_ROOT_PORT:
		dev = pci_root_port_add(s->parent->hb.obj, s->name, s->rp.acs);
		if (IS_ERR(dev))
			return build_error(m->config, s, (int)PTR_ERR(dev));
		s->dev = dev;
		return build_below(m, s, -1, dev);
	case MC_SWITCH:
		return build_switch(m, s, port);
	case MC_ENDPOINT:
		ret = s->ep.model->create(m, s, port);
		return ret ? build_error(m->config, s, ret) : 0;
	default:
		return 0;
	}
}

/* Everything below port @port of @bridge (-1: @bridge itself), in file order. */
static int build_below(struct machine *m, struct mc_section *bridge, int port, struct pci_dev *dev)
{
	struct mc_section *s;
	int ret;

	list_for_each_entry(s, &m->config->sections, node) {
		if (s->parent != bridge || s->parent_port != port)
			continue;
		ret = build_section(m, s, dev);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Set a port's ACS control bits and read them back. pci_switch_add() gives
 * every downstream port the same bits, so per-port values are written
 * here, through configuration space as an OS would; reading back catches
 * bits the port does not implement.
 */
static int set_port_acs(struct mc_config *c, struct pci_dev *dev, uint16_t acs, int line)
{
	unsigned int pos = pci_find_ext_capability(dev, PCI_EXT_CAP_ID_ACS);
	char want[24], got[24];
	uint16_t now = 0;

	if (!pos)
		return acs ? mc_error(c, line, "%s has no ACS capability", pci_dev_label(dev)) : 0;
	pci_read_config_word(dev, (int)(pos + PCI_ACS_CTRL), &now);
	if (now != acs) {
		pci_write_config_word(dev, (int)(pos + PCI_ACS_CTRL), acs);
		pci_read_config_word(dev, (int)(pos + PCI_ACS_CTRL), &now);
	}
	if (now != acs)
		return mc_error(c, line,
				"%s: ACS control reads %s, not %s: the port lacks some bits",
				pci_dev_label(dev), mc_format_acs(now, got, sizeof(got)),
				mc_format_acs(acs, want, sizeof(want)));
	return 0;
}

static int set_acs(struct mc_config *c)
{
	struct mc_section *s;
	int ret;

	list_for_each_entry(s, &c->sections, node) {
		if (s->kind == MC_ROOT_PORT) {
			ret = set_port_acs(c, s->dev, s->rp.acs,
					   s->rp.acs_key ? s->rp.acs_key->line : s->line);
			if (ret)
				return ret;
		} else if (s->kind == MC_SWITCH) {
			for (unsigned int i = 0; i < s->sw.nr_ports; i++) {
				const struct mc_key *k = s->sw.acs_key[i];

				ret = set_port_acs(c, pci_switch_port(s->dev, i), s->sw.acs[i],
						   k ? k->line : s->line);
				if (ret)
					return ret;
			}
		}
	}
	return 0;
}

static int build(struct machine *m)
{
	struct mc_config *c = m->config;
	struct mc_section *s;
	int ret;

	m->fabric = pci_fabric_create();
	if (!m->fabric)
		return mc_nomem(c);

	list_for_each_entry(s, &c->sections, node) {
		if (s->kind != MC_HOST_BRIDGE)
			continue;
		s->hb.obj = pci_host_bridge_add(m->fabric, &s->hb.info);
		if (IS_ERR(s->hb.obj)) {
			ret = (int)PTR_ERR(s->hb.obj);
			s->hb.obj = NULL;
			return build_error(c, s, ret);
		}
	}
	list_for_each_entry(s, &c->sections, node) {
		if (s->kind != MC_HOST_BRIDGE)
			continue;
		ret = build_below(m, s, -1, NULL);
		if (ret)
			return ret;
	}

	ret = pci_fabric_enumerate(m->fabric);
	if (ret == -ENOMEM)
		return mc_nomem(c);
	if (ret)
		return mc_error(c, 0, "enumerating the fabric failed: %s (the log says where)",
				strerror(-ret));
	ret = set_acs(c);
	if (ret)
		return ret;
	/* Models that need their BARs placed (a device thread, say) start now. */
	list_for_each_entry(s, &c->sections, node) {
		if (s->kind != MC_ENDPOINT || !s->dev || !s->ep.model->start)
			continue;
		ret = s->ep.model->start(m, s);
		if (ret)
			return ret == -ENOMEM ? mc_nomem(c) : build_error(c, s, ret);
	}
	return 0;
}

static struct machine *load(const char *text, size_t len, const char *name, char *err,
			    size_t errlen)
{
	struct mc_config *c = mc_config_alloc(name, err, errlen);
	struct machine *m;
	int ret;

	if (!c) {
		if (err && errlen)
			snprintf(err, errlen, "%s: out of memory", name);
		return ERR_PTR(-ENOMEM);
	}
	ret = mc_parse(c, text, len);
	if (!ret)
		ret = mc_read_sections(c);
	if (!ret)
		ret = mc_check(c);
	if (ret) {
		mc_config_free(c);
		return ERR_PTR(ret);
	}

	m = calloc(1, sizeof(*m));
	if (!m) {
		ret = mc_nomem(c);
		mc_config_free(c);
		return ERR_PTR(ret);
	}
	m->config = c;
	ret = build(m);
	if (ret) {
		machine_destroy(m);
		return ERR_PTR(ret);
	}
	pr_info("%s: %u sections built", name, c->nr_sections);
	return m;
}

/* The whole of @path, which must be no larger than a config can be. */
static int read_file(const char *path, char **text, size_t *len)
{
	size_t cap = 4096, n = 0;
	struct stat st;
	char *buf;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		return -EISDIR;
	}
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t r;

		if (n == cap) {
			char *bigger;

			if (cap > MC_FILE_MAX) {
				ret = -EFBIG;
				goto fail;
			}
			bigger = realloc(buf, cap * 2);
			if (!bigger) {
				ret = -ENOMEM;
				goto fail;
			}
			buf = bigger;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (n > MC_FILE_MAX) {
		free(buf);
		return -EFBIG;
	}
	*text = buf;
	*len = n;
	return 0;

fail:
	free(buf);
	close(fd);
	return ret;
}

struct machine *machine_load(const char *path, char *err, size_t errlen)
{
	struct machine *m;
	char *text = NULL;
	size_t len = 0;
	int ret;

	if (!path)
		return load(mc_default_ini, strlen(mc_default_ini), "default.ini", err, errlen);

	ret = read_file(path, &text, &len);
	if (ret) {
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path,
				 ret == -EFBIG ? "larger than 1 MiB: not a machine config" :
						 strerror(-ret));
		pr_err("%s: cannot read: %s", path, strerror(-ret));
		return ERR_PTR(ret);
	}
	m = load(text, len, path, err, errlen);
	free(text);
	return m;
}

struct machine *machine_load_string(const char *text, const char *name, char *err, size_t errlen)
{
	if (!name)
		name = "<string>";
	if (!text) {
		if (err && errlen)
			snprintf(err, errlen, "%s: no config text", name);
		return ERR_PTR(-EINVAL);
	}
	return load(text, strlen(text), name, err, errlen);
}

const char *machine_default_config(void)
{
	return mc_default_ini;
}

void machine_destroy(struct machine *m)
{
	struct mc_section *s;

	if (!m)
		return;
	/* Models stop before the fabric their DMA goes through is freed. */
	list_for_each_entry(s, &m->config->sections, node)
		if (s->kind == MC_ENDPOINT && s->dev && s->ep.model->destroy)
			s->ep.model->destroy(m, s);
	pci_fabric_destroy(m->fabric);
	mc_config_free(m->config);
	free(m);
}

struct pci_fabric *machine_fabric(struct machine *m)
{
	return m->fabric;
}

struct pci_dev *machine_find(struct machine *m, const char *name)
{
	struct pci_host_bridge *hb;
	struct pci_dev *dev;

	dev = pci_fabric_find(m->fabric, name);
	if (dev)
		return dev;
	/* A host bridge is found as the function at 00.0 of its root bus. */
	hb = pci_fabric_find_host_bridge(m->fabric, name);
	return hb ? pci_host_bridge_dev(hb) : NULL;
}
