// SPDX-License-Identifier: MIT
/*
 * Backing a machine config's namespaces with files.
 *
 * A config's namespaces are RAM unless it says "nsN-file = PATH". Every
 * process of a run builds the machine anew, so RAM would give each its own
 * empty disk: the run's copy of the config names a file in the run
 * directory for every namespace that has none. The edit works on lines,
 * the way the config format defines them (Documentation/machine-config.md):
 * "[TYPE NAME]" headers, "KEY = VALUE" or "KEY: VALUE" keys, comments
 * starting with '#' or ';', inline comments after " ;".
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "prepare.h"

#define MAX_SECTIONS 4096

struct sect {
	size_t header_line;
	bool nvme;
	char name[HI_LABEL_LEN];
	bool has_ns[HI_MAX_NS + 1];
	char *file[HI_MAX_NS + 1];
};

static const char *skip_blanks(const char *s, const char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	return s;
}

static const char *trim_end(const char *s, const char *end)
{
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	return end;
}

/* "ns7" -> 7, "ns7-file" -> 7 with *file set; 0 for anything else. */
static unsigned int ns_key(const char *k, size_t len, bool *file)
{
	unsigned int n = 0;
	size_t i = 2;

	*file = false;
	if (len < 3 || strncmp(k, "ns", 2) || k[2] < '1' || k[2] > '9')
		return 0;
	while (i < len && k[i] >= '0' && k[i] <= '9' && n <= HI_MAX_NS)
		n = n * 10 + (unsigned int)(k[i++] - '0');
	if (n > HI_MAX_NS)
		return 0;
	if (i == len)
		return n;
	if (len - i == 5 && !strncmp(k + i, "-file", 5)) {
		*file = true;
		return n;
	}
	return 0;
}

/* One key line of the current section. */
static int read_key(struct sect *s, const char *p, const char *end)
{
	const char *d = p, *v, *ve, *c;
	unsigned int n;
	bool file;

	while (d < end && *d != '=' && *d != ':')
		d++;
	if (d == end)
		return 0;
	ve = trim_end(p, d);
	v = skip_blanks(d + 1, end);
	/* An inline comment starts at a ';' after a blank. */
	for (c = v; c < end; c++)
		if (*c == ';' && c > v && (c[-1] == ' ' || c[-1] == '\t'))
			break;
	end = trim_end(v, c);
	if ((size_t)(ve - p) == 5 && !strncmp(p, "model", 5))
		s->nvme = (size_t)(end - v) == 4 && !strncmp(v, "nvme", 4);
	n = ns_key(p, (size_t)(ve - p), &file);
	if (!n)
		return 0;
	if (!file) {
		s->has_ns[n] = true;
		return 0;
	}
	free(s->file[n]);
	s->file[n] = strndup(v, (size_t)(end - v));
	return s->file[n] ? 0 : -ENOMEM;
}

static int absolute(char *out, size_t len, const char *path)
{
	char cwd[PATH_MAX];
	int n;

	if (path[0] == '/')
		n = snprintf(out, len, "%s", path);
	else if (getcwd(cwd, sizeof(cwd)))
		n = snprintf(out, len, "%s/%s", cwd, path);
	else
		return -errno;
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static void free_sections(struct sect *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k <= HI_MAX_NS; k++)
			free(s[i].file[k]);
	free(s);
}

/* Pass 1: sections, whether they are nvme endpoints, their ns keys. */
static int scan(const char *text, struct sect **out, size_t *nr)
{
	struct sect *s = calloc(MAX_SECTIONS, sizeof(*s)), *cur = NULL;
	const char *p = text;
	size_t line = 0, n = 0;
	int ret = 0;

	if (!s)
		return -ENOMEM;
	if (!strncmp(p, "\xef\xbb\xbf", 3))
		p += 3;
	for (; *p && !ret; line++) {
		const char *end = strchr(p, '\n'), *q;

		if (!end)
			end = p + strlen(p);
		q = skip_blanks(p, end);
		if (q < end && *q == '[') {
			const char *close = memchr(q, ']', (size_t)(end - q));
			const char *t = skip_blanks(q + 1, close ? close : end), *nm;

			cur = NULL;
			if (close && n < MAX_SECTIONS && !strncmp(t, "endpoint", 8)) {
				nm = skip_blanks(t + 8, close);
				cur = &s[n++];
				cur->header_line = line;
				snprintf(cur->name, sizeof(cur->name), "%.*s",
					 (int)(trim_end(nm, close) - nm), nm);
			}
		} else if (cur && q < end && *q != '#' && *q != ';') {
			ret = read_key(cur, q, end);
		}
		p = *end ? end + 1 : end;
	}
	if (ret) {
		free_sections(s, n);
		return ret;
	}
	*out = s;
	*nr = n;
	return 0;
}

/*
 * A "nsN-file = RELATIVE" line of an nvme section, rewritten with the path
 * made absolute: every process of the run loads the config from its own
 * working directory. Return: 1 when @w got the line, 0 to copy it as is.
 */
static int absolute_file_line(const char *p, const char *end, char *w, size_t room, int *len)
{
	const char *q = skip_blanks(p, end), *d = q, *v, *c;
	char path[256], rel[256];
	unsigned int n;
	bool file;

	while (d < end && *d != '=' && *d != ':')
		d++;
	if (d == end || *q == '#' || *q == ';')
		return 0;
	n = ns_key(q, (size_t)(trim_end(q, d) - q), &file);
	if (!n || !file)
		return 0;
	v = skip_blanks(d + 1, end);
	for (c = v; c < end; c++)
		if (*c == ';' && c > v && (c[-1] == ' ' || c[-1] == '\t'))
			break;
	c = trim_end(v, c);
	if (c == v || *v == '/' || (size_t)(c - v) >= sizeof(rel))
		return 0;
	snprintf(rel, sizeof(rel), "%.*s", (int)(c - v), v);
	if (absolute(path, sizeof(path), rel))
		return 0;
	*len = snprintf(w, room, "ns%u-file = %s\n", n, path);
	return *len > 0 && (size_t)*len < room;
}

/* Pass 2: copy the text, adding the file keys below each nvme header. */
static int emit(const char *text, const char *dir, const struct sect *s, size_t nr, char **out)
{
	size_t cap = strlen(text) + 1 + nr * HI_MAX_NS * (strlen(dir ? dir : "") + 320);
	char *buf = malloc(cap), *w = buf;
	const struct sect *cur = NULL;
	const char *p = text;
	size_t line = 0, si = 0;
	int len;

	if (!buf)
		return -ENOMEM;
	for (; *p; line++) {
		const char *end = strchr(p, '\n'), *q;

		end = end ? end + 1 : p + strlen(p);
		q = skip_blanks(p, end);
		if (q < end && *q == '[')
			cur = NULL;
		while (si < nr && s[si].header_line < line)
			si++;
		if (si < nr && s[si].header_line == line)
			cur = &s[si];
		if (cur && cur->nvme && cur->header_line != line &&
		    absolute_file_line(p, end, w, cap - (size_t)(w - buf), &len)) {
			w += len;
			p = end;
			continue;
		}
		memcpy(w, p, (size_t)(end - p));
		w += end - p;
		if (end[-1] != '\n')
			*w++ = '\n';
		if (cur && cur->header_line == line && cur->nvme && dir) {
			for (int k = 1; k <= HI_MAX_NS; k++) {
				size_t room = cap - (size_t)(w - buf);

				if (!cur->has_ns[k] || cur->file[k])
					continue;
				len = snprintf(w, room, "ns%d-file = %s/%sn%d.img\n", k, dir,
					       cur->name, k);
				if (len < 0 || (size_t)len >= room) {
					free(buf);
					return -ENAMETOOLONG;
				}
				w += len;
			}
		}
		p = end;
	}
	*w = '\0';
	*out = buf;
	return 0;
}

int hi_config_back_namespaces(const char *text, const char *dir, char **out, struct hi_image *img,
			      unsigned int *nr_img)
{
	struct sect *s;
	size_t nr;
	unsigned int n = 0;
	int ret;

	ret = scan(text, &s, &nr);
	if (ret)
		return ret;
	for (size_t i = 0; i < nr && !ret; i++) {
		if (!s[i].nvme)
			continue;
		for (int k = 1; k <= HI_MAX_NS && !ret; k++) {
			char path[256];

			if (!s[i].has_ns[k])
				continue;
			if (n == HI_MAX_IMAGES) {
				ret = -E2BIG;
				break;
			}
			if (s[i].file[k])
				ret = absolute(path, sizeof(path), s[i].file[k]);
			else if (dir)
				ret = snprintf(path, sizeof(path), "%s/%sn%d.img", dir, s[i].name,
					       k) >= (int)sizeof(path) ? -ENAMETOOLONG : 0;
			else
				continue;
			if (ret)
				break;
			snprintf(img[n].label, sizeof(img[n].label), "%s", s[i].name);
			img[n].nsid = (uint32_t)k;
			memcpy(img[n].path, path, sizeof(path));
			n++;
		}
	}
	if (!ret)
		ret = emit(text, dir, s, nr, out);
	free_sections(s, nr);
	if (!ret)
		*nr_img = n;
	return ret;
}
