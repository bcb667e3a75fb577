// SPDX-License-Identifier: MIT
/*
 * Reading a machine config: INI text into sections and keys, each with the
 * line it came from.
 *
 * libinih does the tokenising, but its handler sees neither line numbers
 * nor sections without keys. Both come from our reader function, which
 * libinih calls once per line: it counts lines, checks each line's shape,
 * and reads "[TYPE NAME]" headers itself, so the handler only files keys
 * under the section the reader last opened.
 *
 * The reader also strips leading blanks before handing a line over. libinih
 * would otherwise take an indented line after a key as a continuation of
 * that key's value; configs have no continuation lines, and indenting keys
 * under their section is allowed.
 */
#define pr_fmt(fmt) "machine: " fmt

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hetmem/log.h>
#include "internal.h"

static const char *const kind_names[MC_NR_KINDS] = {
	[MC_HOST_BRIDGE] = "host-bridge",
	[MC_ROOT_PORT] = "root-port",
	[MC_SWITCH] = "switch",
	[MC_ENDPOINT] = "endpoint",
};

static const char *const kind_phrases[MC_NR_KINDS] = {
	[MC_HOST_BRIDGE] = "a host bridge",
	[MC_ROOT_PORT] = "a root port",
	[MC_SWITCH] = "a switch",
	[MC_ENDPOINT] = "an endpoint",
};

/* The section type as written in configs: "root-port". */
const char *mc_kind_name(enum mc_kind kind)
{
	return kind_names[kind];
}

/* The section type in a sentence: "a root port". */
const char *mc_kind_phrase(enum mc_kind kind)
{
	return kind_phrases[kind];
}

struct mc_config *mc_config_alloc(const char *name, char *err, size_t errlen)
{
	struct mc_config *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->name = strdup(name);
	if (!c->name) {
		free(c);
		return NULL;
	}
	INIT_LIST_HEAD(&c->sections);
	c->err = err;
	c->errlen = errlen;
	if (err && errlen)
		err[0] = '\0';
	return c;
}

void mc_config_free(struct mc_config *c)
{
	struct mc_section *s, *sn;
	struct mc_key *k, *kn;

	if (!c)
		return;
	list_for_each_entry_safe(s, sn, &c->sections, node) {
		if (s->kind == MC_ENDPOINT && s->ep.model && s->ep.model->release)
			s->ep.model->release(s);
		list_for_each_entry_safe(k, kn, &s->keys, node) {
			free(k->name);
			free(k->value);
			free(k);
		}
		free(s);
	}
	free(c->name);
	free(c);
}

static void report(struct mc_config *c, int ret, int line, const char *what)
{
	if (line > 0)
		snprintf(c->msg, sizeof(c->msg), "%s:%d: %s", c->name, line, what);
	else
		snprintf(c->msg, sizeof(c->msg), "%s: %s", c->name, what);
	c->failed = true;
	c->ret = ret;
	if (c->err && c->errlen)
		snprintf(c->err, c->errlen, "%s", c->msg);
	pr_err("%s", c->msg);
}

/**
 * mc_error - report a problem with the config
 * @c: the config
 * @line: the line it is on, or 0 for the config as a whole
 * @fmt: what is wrong, printf style
 *
 * Only the first problem is kept: later passes would mostly report its
 * consequences.
 *
 * Return: -EINVAL, for the caller to pass on.
 */
int mc_error(struct mc_config *c, int line, const char *fmt, ...)
{
	char what[400];
	va_list ap;

	if (c->failed)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	report(c, -EINVAL, line, what);
	return -EINVAL;
}

/**
 * mc_nomem - report running out of memory while loading
 * @c: the config
 *
 * Return: -ENOMEM.
 */
int mc_nomem(struct mc_config *c)
{
	if (!c->failed)
		report(c, -ENOMEM, 0, "out of memory");
	return -ENOMEM;
}

struct mc_section *mc_find_section(struct mc_config *c, const char *name)
{
	struct mc_section *s;

	list_for_each_entry(s, &c->sections, node)
		if (!strcmp(s->name, name))
			return s;
	return NULL;
}

const struct mc_key *mc_find_key(const struct mc_section *s, const char *name)
{
	const struct mc_key *k;

	list_for_each_entry(k, &s->keys, node)
		if (!strcmp(k->name, name))
			return k;
	return NULL;
}

/* The line of key @name in @s, or of the section header when it is absent. */
int mc_key_line(const struct mc_section *s, const char *name)
{
	const struct mc_key *k = mc_find_key(s, name);

	return k ? k->line : s->line;
}

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

static bool valid_name(const char *name)
{
	const char *p;

	for (p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			return false;
	return p > name && p - name <= MC_NAME_MAX;
}

/* Cut the next blank-separated word out of *@p (in place). */
static char *cut_word(char **p)
{
	char *s = *p, *word;

	while (is_blank(*s))
		s++;
	if (!*s)
		return NULL;
	word = s;
	while (*s && !is_blank(*s))
		s++;
	if (*s)
		*s++ = '\0';
	*p = s;
	return word;
}

/* A "[TYPE NAME]" line: open a new section. @line is our copy of it. */
static int open_section(struct mc_config *c, char *line)
{
	char *end = strchr(line, ']'), *rest, *type, *name;
	struct mc_section *s, *other;
	int kind;

	if (!end)
		return mc_error(c, c->line, "section header without ']'");
	for (rest = end + 1; is_blank(*rest); rest++)
		;
	if (*rest && *rest != ';' && *rest != '#')
		return mc_error(c, c->line, "text after the section header");
	*end = '\0';
	rest = line + 1;
	type = cut_word(&rest);
	name = cut_word(&rest);
	if (!type || cut_word(&rest))
		return mc_error(c, c->line, "expected a section header [TYPE NAME]");
	for (kind = 0; kind < MC_NR_KINDS; kind++)
		if (!strcmp(type, kind_names[kind]))
			break;
	if (kind == MC_NR_KINDS)
		return mc_error(c, c->line,
				"unknown section type '%s' (known: host-bridge, root-port, "
				"switch, endpoint)",
				type);
	if (!name)
		return mc_error(c, c->line, "%s section needs a name: [%s NAME]",
				kind_phrases[kind], type);
	if (!valid_name(name))
		return mc_error(c, c->line,
				"bad name '%s': names are 1-%d letters, digits, '-' or '_' (a '.' "
				"would read as a switch port)",
				name, MC_NAME_MAX);
	if (c->nr_sections == MC_MAX_SECTIONS)
		return mc_error(c, c->line, "more than %d sections", MC_MAX_SECTIONS);
	other = mc_find_section(c, name);
	if (other)
		return mc_error(c, c->line, "duplicate name %s: already %s at line %d", name,
				kind_phrases[other->kind], other->line);

	s = calloc(1, sizeof(*s));
	if (!s)
		return mc_nomem(c);
	s->kind = kind;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->line = c->line;
	s->parent_port = -1;
	INIT_LIST_HEAD(&s->keys);
	list_add_tail(&s->node, &c->sections);
	c->nr_sections++;
	c->cur = s;
	return 0;
}

/*
 * What libinih will make of a line without leading blanks, checked here so
 * that the reader reports malformed lines itself: a comment, a section
 * header, or a key with '=' or ':' before any inline comment (';' after a
 * blank, as libinih's find_chars_or_comment() has it).
 */
static int check_line(struct mc_config *c, char *line)
{
	bool after_blank = false;

	if (!*line || *line == ';' || *line == '#')
		return 0;
	if (*line == '[')
		return open_section(c, line);
	for (const char *p = line; *p; p++) {
		if (*p == '=' || *p == ':')
			return 0;
		if (after_blank && *p == ';')
			break;
		after_blank = isspace((unsigned char)*p);
	}
	return mc_error(c, c->line,
			"expected KEY = VALUE, a section header [TYPE NAME] or a comment");
}

struct mc_reader {
	struct mc_config *c;
	const char *pos;
	const char *end;
};

/* libinih's fgets()-like line source: one line per call, NULL at the end. */
static char *read_line(char *str, int num, void *stream)
{
	struct mc_reader *r = stream;
	struct mc_config *c = r->c;
	const char *line = r->pos, *eol;
	char copy[MC_LINE_MAX + 1];
	size_t len;

	/* Stopping at the first problem keeps later lines from being blamed. */
	if (c->failed || r->pos >= r->end)
		return NULL;
	eol = memchr(line, '\n', (size_t)(r->end - line));
	if (!eol)
		eol = r->end;
	r->pos = eol < r->end ? eol + 1 : eol;
	c->line++;

	len = (size_t)(eol - line);
	if (len && line[len - 1] == '\r')
		len--;
	if (memchr(line, '\0', len)) {
		mc_error(c, c->line, "NUL character in the line");
		return NULL;
	}
	if (len > MC_LINE_MAX || len >= (size_t)num) {
		mc_error(c, c->line, "line longer than %d characters", MC_LINE_MAX);
		return NULL;
	}
	if (c->line == 1 && len >= 3 && !memcmp(line, "\xef\xbb\xbf", 3)) {
		line += 3;
		len -= 3;
	}
	/* libinih skips what isspace() says is space: so do we. */
	while (len && isspace((unsigned char)*line)) {
		line++;
		len--;
	}
	memcpy(str, line, len);
	str[len] = '\0';

	/* open_section() cuts words in place: libinih gets the line intact. */
	memcpy(copy, str, len + 1);
	if (check_line(c, copy))
		return NULL;
	return str;
}

static int add_key(void *user, const char *section, const char *name, const char *value)
{
	struct mc_config *c = user;
	struct mc_section *s = c->cur;
	const struct mc_key *other;
	struct mc_key *k;

	if (c->failed)
		return 1;
	if (!s) {
		mc_error(c, c->line, "%s = %s: a key before the first section header", name, value);
		return 1;
	}
	if (!*name) {
		mc_error(c, c->line, "a value without a key");
		return 1;
	}
	other = mc_find_key(s, name);
	if (other) {
		mc_error(c, c->line, "%s given twice in %s (first at line %d)", name, s->name,
			 other->line);
		return 1;
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		mc_nomem(c);
		return 1;
	}
	k->line = c->line;
	k->name = strdup(name);
	k->value = strdup(value);
	if (!k->name || !k->value) {
		free(k->name);
		free(k->value);
		free(k);
		mc_nomem(c);
		return 1;
	}
	list_add_tail(&k->node, &s->keys);
	return 1;
}

/**
 * mc_parse - read config text into @c's sections and keys
 * @c: the config
 * @text: the text (need not be NUL-terminated)
 * @len: its length
 *
 * Return: 0, -EINVAL for a malformed line (reported), -ENOMEM.
 */
int mc_parse(struct mc_config *c, const char *text, size_t len)
{
	struct mc_reader r = { .c = c, .pos = text, .end = text + len };
	int ret;

	ret = ini_parse_stream(read_line, &r, add_key, c);
	if (c->failed)
		return c->ret;
	if (ret < 0)
		return mc_nomem(c);
	/* check_line() lets through only what libinih accepts; in case not: */
	if (ret > 0)
		return mc_error(c, ret, "malformed line");
	return 0;
}
