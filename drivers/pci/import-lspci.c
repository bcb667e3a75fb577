// SPDX-License-Identifier: MIT
/*
 * Importing a text dump of `lspci -xxxx`, with or without -vvv, taken on
 * any machine (pasted into a bug report, often):
 *
 *   0000:03:00.0 Non-Volatile memory controller: Samsung ...   <- header
 *           Region 0: Memory at fb000000 (64-bit, non-prefetchable) [size=16K]
 *                   ACSCtl: SrcValid+ TransBlk- ReqRedir+ CmpltRedir+ ...
 *           Kernel driver in use: nvme
 *   00: 4d 14 08 a8 06 04 10 00 00 02 08 01 00 00 00 00         <- bytes
 *   ...
 *   ff0: 00 00 00 00 ...
 *                                                               <- blank: end
 *
 * The header is an address ("bb:dd.f" without -D when every domain is 0)
 * and a space; byte lines are a hex offset (lspci prints "%02x:", so 0x100
 * is "100:"), a colon and up to 16 bytes. Of the decoded lines only three
 * carry what the bytes cannot: BAR sizes, the driver, and the ACS control
 * register when the extended space was not dumped (and, from the list of
 * extended capabilities, that there is none). Everything else, and
 * any text around the dump, is skipped; leading blanks are tolerated
 * (pasting often indents).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hetmem/err.h>
#include <hetmem/pci-import.h>

struct dump_fn {
	struct pci_import_func f;
	uint8_t cfg[PCI_CFG_SPACE_SIZE_HM];
	bool open;
	unsigned int lineno;
};

struct dump_state {
	struct pci_import *imp;
	const char *name;
	struct dump_fn cur;
	unsigned int headers, added, stray_lines;
	int ret;
};

static char *skip_blanks(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* "[dddd:]bb:dd.f" followed by a blank or the end. Return: its length, 0 if not one. */
static size_t header_len(const char *s)
{
	unsigned int d, b, dev, fn;
	int n = 0;

	if (sscanf(s, "%x:%x:%x.%1u%n", &d, &b, &dev, &fn, &n) != 4 &&
	    (n = 0, sscanf(s, "%x:%x.%1u%n", &b, &dev, &fn, &n) != 3))
		return 0;
	if (n <= 0 || (s[n] && s[n] != ' ' && s[n] != '\t'))
		return 0;
	for (int i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) && s[i] != ':' && s[i] != '.')
			return 0;
	return (size_t)n;
}

static void close_fn(struct dump_state *st)
{
	struct dump_fn *c = &st->cur;
	int ret;

	if (!c->open)
		return;
	c->open = false;
	if (!c->f.config_len) {
		pci_import_warn(st->imp, "%s:%u: %s has no configuration bytes: skipped", st->name,
				c->lineno, c->f.bdf);
		return;
	}
	ret = pci_import_add(st->imp, &c->f);
	if (ret == -ENOMEM)
		st->ret = ret;
	st->added += !ret;
}

static void open_fn(struct dump_state *st, const char *line, size_t len, unsigned int lineno)
{
	struct dump_fn *c = &st->cur;

	close_fn(st);
	memset(c, 0, sizeof(*c));
	memcpy(c->f.bdf, line, len < sizeof(c->f.bdf) ? len : sizeof(c->f.bdf) - 1);
	c->f.config = c->cfg;
	c->open = true;
	c->lineno = lineno;
	st->headers++;
}

/* "off: xx xx ...". Return: true when @s is such a line (stored if a function is open). */
static bool bytes_line(struct dump_state *st, char *s)
{
	struct dump_fn *c = &st->cur;
	unsigned long off;
	char *p;

	off = strtoul(s, &p, 16);
	if (p == s || p - s > 8 || *p != ':' || (p[1] != ' ' && p[1]))
		return false;
	p++;
	if (!c->open) {
		st->stray_lines++;
		return true;
	}
	while (*p == ' ' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2]) &&
	       (!p[3] || isspace((unsigned char)p[3]))) {
		if (off < PCI_CFG_SPACE_SIZE_HM) {
			c->cfg[off] = (uint8_t)strtoul((char[]){ p[1], p[2], 0 }, NULL, 16);
			if (off + 1 > c->f.config_len)
				c->f.config_len = (unsigned int)off + 1;
		}
		off++;
		p += 3;
	}
	return true;
}

/* "Region 2: Memory at ... [size=256M]" */
static void region_line(struct dump_fn *c, const char *s)
{
	const char *sz = strstr(s, "[size=");
	unsigned long long v;
	int bar;
	char *end;

	if (sscanf(s, "Region %d:", &bar) != 1 || bar < 0 || bar >= PCI_STD_NUM_BARS_HM || !sz)
		return;
	v = strtoull(sz + 6, &end, 10);
	switch (*end) {
	case 'T':
		v <<= 10;
		/* fall through */
	case 'G':
		v <<= 10;
		/* fall through */
	case 'M':
		v <<= 10;
		/* fall through */
	case 'K':
		v <<= 10;
		break;
	default:
		break;
	}
	c->f.bar_size[bar] = v;
}

/* "ACSCtl: SrcValid+ TransBlk- ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl- DirectTrans-" */
static void acs_line(struct dump_fn *c, const char *s)
{
	static const struct {
		const char *name;
		uint16_t bit;
	} bits[] = {
		{ "SrcValid", PCI_ACS_SV },    { "TransBlk", PCI_ACS_TB },
		{ "ReqRedir", PCI_ACS_RR },    { "CmpltRedir", PCI_ACS_CR },
		{ "UpstreamFwd", PCI_ACS_UF }, { "EgressCtrl", PCI_ACS_EC },
		{ "DirectTrans", PCI_ACS_DT },
	};

	c->f.acs_hint = 0;
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		const char *p = strstr(s, bits[i].name);

		if (p && p[strlen(bits[i].name)] == '+')
			c->f.acs_hint |= bits[i].bit;
	}
	c->f.acs_hint_valid = true;
}

static void decoded_line(struct dump_fn *c, const char *s)
{
	static const char driver[] = "Kernel driver in use:";
	unsigned int pos;

	if (!c->open)
		return;
	/* "Capabilities: [148 v1] ...": lspci read the extended space (as root). */
	if (sscanf(s, "Capabilities: [%x", &pos) == 1 && pos >= 0x100)
		c->f.ext_caps_listed = true;
	if (!strncmp(s, "Region ", 7))
		region_line(c, s);
	else if (!strncmp(s, "ACSCtl:", 7))
		acs_line(c, s);
	else if (!strncmp(s, driver, sizeof(driver) - 1))
		sscanf(s + sizeof(driver) - 1, " %31s", c->f.driver);
}

static void parse_line(struct dump_state *st, char *line, unsigned int lineno)
{
	char *s;
	size_t n;

	line[strcspn(line, "\r\n")] = '\0';
	s = skip_blanks(line);
	if (!*s) {
		close_fn(st); /* a blank line ends a function */
		return;
	}
	n = header_len(s);
	if (n) {
		open_fn(st, s, n, lineno);
		return;
	}
	if (!bytes_line(st, s))
		decoded_line(&st->cur, s);
}

struct pci_import *pci_import_lspci(FILE *in, const char *name, char *err, size_t len)
{
	struct dump_state *st = calloc(1, sizeof(*st));
	struct pci_import *imp;
	char *line = NULL;
	size_t cap = 0;
	unsigned int lineno = 0;
	int ret;

	imp = st ? pci_import_create(name) : NULL;
	if (!imp) {
		free(st);
		snprintf(err, len, "%s: %s", name, strerror(ENOMEM));
		return ERR_PTR(-ENOMEM);
	}
	st->imp = imp;
	st->name = name;
	while (!st->ret && getline(&line, &cap, in) >= 0)
		parse_line(st, line, ++lineno);
	close_fn(st);
	free(line);

	ret = st->ret;
	if (!ret && ferror(in)) {
		snprintf(err, len, "%s: read error", name);
		ret = -EIO;
	} else if (!ret && !st->added) {
		if (st->headers)
			snprintf(
				err, len,
				"%s: %u function headers but no configuration bytes: take the dump with `sudo lspci -vvv -xxxx`",
				name, st->headers);
		else
			snprintf(
				err, len,
				"%s: no lspci function found: take the dump with `sudo lspci -vvv -xxxx`",
				name);
		ret = -ENODATA;
	}
	if (!ret && st->stray_lines)
		pci_import_warn(imp, "%s: %u byte lines outside any function were skipped", name,
				st->stray_lines);
	if (!ret) {
		ret = pci_import_finish(imp);
		if (ret)
			snprintf(err, len, "%s: %s", name, strerror(-ret));
	} else if (ret == -ENOMEM) {
		snprintf(err, len, "%s: %s", name, strerror(ENOMEM));
	}
	free(st);
	if (ret) {
		pci_import_destroy(imp);
		return ERR_PTR(ret);
	}
	return imp;
}
