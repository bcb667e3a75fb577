// SPDX-License-Identifier: MIT
/*
 * Which paths are the machine's.
 *
 *   /dev/nvmeN, /dev/nvmeNnM        NVMe controllers and namespaces (N as
 *                                   the run numbered them, after the host's)
 *   /dev/hmm_dmirror0, 1            the HMM test device
 *   /sys/...                        into RUN/sys when the entry below one
 *                                   of the directories the machine adds to
 *                                   is the machine's:
 *      bus/pci/devices/BDF          the machine's functions (domain 1000+)
 *      devices/pciDDDD:BB           its host bridges
 *      class/nvme/nvmeN, class/nvme-subsystem/..., class/block/nvmeNnM,
 *      block/nvmeNnM, devices/virtual/nvme-subsystem/...
 *
 * The directories themselves list the host's entries and the machine's:
 * RUN/view/ holds such merged listings for the ones the host has; the ones
 * it lacks (no NVMe on the host: no /sys/class/nvme) are the machine's
 * alone. Everything else is the host's, untouched.
 *
 * The machine's entries are read from RUN/sys once, on first use.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "interpose.h"
#include "rundir.h"

#define MAX_NAMES 256

/* A directory the machine adds entries to. */
struct merge_dir {
	const char *rel; /* below /sys */
	const char *prefix; /* only entries starting with this are the machine's */
	bool merged; /* RUN/view/ has its merged listing */
	bool host; /* the host has the directory */
	unsigned int nr;
	char (*names)[40];
};

static struct merge_dir dirs[] = {
	{ .rel = "bus/pci/devices" },
	{ .rel = "class/nvme" },
	{ .rel = "class/nvme-subsystem" },
	{ .rel = "class/block" },
	{ .rel = "block" },
	{ .rel = "devices", .prefix = "pci" },
	{ .rel = "devices/virtual/nvme-subsystem" },
};

#define NR_DIRS (sizeof(dirs) / sizeof(dirs[0]))

struct special {
	dev_t dev;
	ino_t ino;
	enum hi_kind kind;
	unsigned int index;
	int bar;
};

static pthread_once_t names_once = PTHREAD_ONCE_INIT;
static struct special *specials;
static unsigned int nr_specials;
static struct stat *images;
static unsigned int nr_images;

static void read_names(struct merge_dir *d)
{
	char path[PATH_MAX], view[64];
	struct dirent *e;
	struct stat sb;
	DIR *dp;

	hi_fmt(path, sizeof(path), "/sys/%s", d->rel);
	d->host = !stat(path, &sb) && S_ISDIR(sb.st_mode);
	if (!hi_view_name(d->rel, view, sizeof(view))) {
		hi_fmt(path, sizeof(path), "%s/%s/%s", hi_ctx.dir, HI_VIEW_DIR, view);
		d->merged = !access(path, F_OK);
	}
	hi_fmt(path, sizeof(path), "%s/%s", hi_ctx.sys, d->rel);
	dp = opendir(path);
	if (!dp)
		return;
	d->names = calloc(MAX_NAMES, sizeof(*d->names));
	while (d->names && (e = readdir(dp)) && d->nr < MAX_NAMES) {
		if (e->d_name[0] == '.' || strlen(e->d_name) >= sizeof(d->names[0]))
			continue;
		if (d->prefix && strncmp(e->d_name, d->prefix, strlen(d->prefix)))
			continue;
		strcpy(d->names[d->nr++], e->d_name);
	}
	closedir(dp);
}

static void add_special(const char *path, enum hi_kind kind, unsigned int index, int bar)
{
	struct stat sb;

	if (stat(path, &sb))
		return;
	specials[nr_specials++] = (struct special){ sb.st_dev, sb.st_ino, kind, index, bar };
}

/* p2pmem/allocate of the providers, resourceN of every function, the namespace images. */
static void read_specials(void)
{
	const struct hi_state *st = hi_ctx.st;
	char path[PATH_MAX];

	specials = calloc(HI_MAX_PROV + HI_MAX_LINKS * 6, sizeof(*specials));
	images = calloc(HI_MAX_CTRL * HI_MAX_NS, sizeof(*images));
	if (!specials || !images)
		return;
	for (unsigned int i = 0; i < st->nr_prov; i++) {
		hi_fmt(path, sizeof(path), "%s/bus/pci/devices/%s/p2pmem/allocate", hi_ctx.sys,
			 st->prov[i].bdf);
		add_special(path, HI_P2PMEM, i, -1);
	}
	for (unsigned int i = 0; i < st->nr_links; i++) {
		for (int bar = 0; bar < 6; bar++) {
			hi_fmt(path, sizeof(path), "%s/bus/pci/devices/%s/resource%d", hi_ctx.sys,
				 st->link[i].bdf, bar);
			add_special(path, HI_RESOURCE, i, bar);
		}
	}
	for (unsigned int c = 0; c < st->nr_ctrl; c++)
		for (unsigned int n = 0; n < st->ctrl[c].nr_ns; n++)
			if (st->ctrl[c].ns[n].image[0] &&
			    !stat(st->ctrl[c].ns[n].image, &images[nr_images]))
				nr_images++;
}

static void read_all(void)
{
	hi_busy++;
	for (size_t i = 0; i < NR_DIRS; i++)
		read_names(&dirs[i]);
	read_specials();
	hi_busy--;
}

static bool is_name(const struct merge_dir *d, const char *name, size_t len)
{
	for (unsigned int i = 0; i < d->nr; i++)
		if (strlen(d->names[i]) == len && !memcmp(d->names[i], name, len))
			return true;
	return false;
}

/* "/a//b/./c/" -> "/a/b/c"; false for ".." (left to the kernel) or too long. */
static bool normalise(const char *in, char *out, size_t len)
{
	size_t n = 0;

	while (*in) {
		const char *c;
		size_t l;

		while (*in == '/')
			in++;
		if (!*in)
			break;
		c = in;
		while (*in && *in != '/')
			in++;
		l = (size_t)(in - c);
		if (l == 1 && c[0] == '.')
			continue;
		if (l == 2 && c[0] == '.' && c[1] == '.')
			return false;
		if (n + l + 2 > len)
			return false;
		out[n++] = '/';
		memcpy(out + n, c, l);
		n += l;
	}
	if (!n)
		out[n++] = '/';
	out[n] = '\0';
	return true;
}

static bool set_real(struct hi_path *out, const char *a, const char *b, const char *c)
{
	int n = snprintf(out->real, sizeof(out->real), "%s%s%s", a, b, c);

	if (n < 0 || (size_t)n >= sizeof(out->real))
		return false;
	out->rewritten = true;
	return true;
}

static bool resolve_sys(const char *rel, struct hi_path *out)
{
	pthread_once(&names_once, read_all);
	for (size_t i = 0; i < NR_DIRS; i++) {
		const struct merge_dir *d = &dirs[i];
		size_t dl = strlen(d->rel);
		const char *name, *end;
		char view[64];

		if (strncmp(rel, d->rel, dl) || (rel[dl] && rel[dl] != '/'))
			continue;
		if (!rel[dl]) {
			/* The directory itself: merged, ours alone, or the host's. */
			if (d->merged && !hi_view_name(d->rel, view, sizeof(view)))
				return set_real(out, hi_ctx.dir, "/" HI_VIEW_DIR "/", view);
			if (!d->host && d->nr)
				return set_real(out, hi_ctx.sys, "/", rel);
			continue;
		}
		name = rel + dl + 1;
		end = strchr(name, '/');
		if (!end)
			end = name + strlen(name);
		if (is_name(d, name, (size_t)(end - name)) || (!d->host && d->nr))
			return set_real(out, hi_ctx.sys, "/", rel);
	}
	return false;
}

/* "/dev/nvme3", "/dev/nvme3n1", "/dev/hmm_dmirror0" */
static bool resolve_dev(const char *name, struct hi_path *out)
{
	const struct hi_state *st = hi_ctx.st;
	unsigned int a, b;
	char tail;

	if (sscanf(name, "nvme%u%c", &a, &tail) == 1 && name[4] >= '0' && name[4] <= '9') {
		for (unsigned int c = 0; c < st->nr_ctrl; c++) {
			if (st->ctrl[c].instance != a)
				continue;
			out->kind = HI_NVME_CTRL;
			out->ctrl = c;
			return true;
		}
		return false;
	}
	if (sscanf(name, "nvme%un%u%c", &a, &b, &tail) == 2 && name[4] >= '0' && name[4] <= '9') {
		for (unsigned int c = 0; c < st->nr_ctrl; c++) {
			if (st->ctrl[c].instance != a)
				continue;
			for (unsigned int n = 0; n < st->ctrl[c].nr_ns; n++) {
				if (st->ctrl[c].ns[n].nsid != b)
					continue;
				out->kind = HI_NVME_NS;
				out->ctrl = c;
				out->ns = n;
				return true;
			}
		}
		return false;
	}
	if (sscanf(name, "hmm_dmirror%u%c", &a, &tail) == 1 && name[11] >= '0' &&
	    name[11] <= '9' && a < HI_HMM_MINORS) {
		out->kind = HI_HMM;
		out->minor = a;
		return true;
	}
	return false;
}

bool hi_path_resolve(const char *path, struct hi_path *out)
{
	char norm[PATH_MAX];

	out->kind = HI_NONE;
	out->rewritten = false;
	if (!path || path[0] != '/' || (strncmp(path, "/sys", 4) && strncmp(path, "/dev", 4)) ||
	    (path[4] != '/' && path[4]) || !hi_active())
		return false;
	if (!normalise(path, norm, sizeof(norm)))
		return false;
	if (!strncmp(norm, "/dev/", 5)) {
		if (!resolve_dev(norm + 5, out))
			return false;
		snprintf(out->real, sizeof(out->real), "%s", norm);
		return true;
	}
	if (strncmp(norm, "/sys/", 5))
		return false;
	return resolve_sys(norm + 5, out);
}

void hi_path_unresolve(char *path, size_t len)
{
	char tmp[PATH_MAX];
	size_t dl = strlen(hi_ctx.dir);
	const char *rest;

	if (strncmp(path, hi_ctx.dir, dl) || path[dl] != '/')
		return;
	rest = path + dl + 1;
	if (!strncmp(rest, HI_SYS_DIR, strlen(HI_SYS_DIR)) &&
	    (rest[strlen(HI_SYS_DIR)] == '/' || !rest[strlen(HI_SYS_DIR)])) {
		snprintf(tmp, sizeof(tmp), "/sys%s", rest + strlen(HI_SYS_DIR));
	} else if (!strncmp(rest, HI_VIEW_DIR "/", strlen(HI_VIEW_DIR) + 1)) {
		const char *view = rest + strlen(HI_VIEW_DIR) + 1, *host, *name;
		const char *slash = strchr(view, '/');
		size_t vl = slash ? (size_t)(slash - view) : strlen(view);
		unsigned int i;

		for (i = 0; !hi_view_host_dir(i, &host, &name); i++)
			if (strlen(name) == vl && !strncmp(view, name, vl))
				break;
		if (hi_view_host_dir(i, &host, &name))
			return;
		snprintf(tmp, sizeof(tmp), "%s%s", host, slash ? slash : "");
	} else {
		return;
	}
	snprintf(path, len, "%s", tmp);
}

bool hi_path_special(const char *path, int fd, enum hi_kind *kind, unsigned int *index,
		     int *bar)
{
	const char *base;
	struct stat sb;

	if (!path)
		return false;
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (strcmp(base, "allocate") && strncmp(base, "resource", 8))
		return false;
	if (!hi_active())
		return false;
	pthread_once(&names_once, read_all);
	hi_busy++;
	if (fstat(fd, &sb)) {
		hi_busy--;
		return false;
	}
	hi_busy--;
	for (unsigned int i = 0; i < nr_specials; i++) {
		if (specials[i].dev != sb.st_dev || specials[i].ino != sb.st_ino)
			continue;
		*kind = specials[i].kind;
		*index = specials[i].index;
		*bar = specials[i].bar;
		return true;
	}
	return false;
}

bool hi_is_image(int fd)
{
	struct stat sb;

	/* Called while the machine is built, with the re-entry guard up. */
	if (!hi_running())
		return false;
	pthread_once(&names_once, read_all);
	hi_busy++;
	if (fstat(fd, &sb)) {
		hi_busy--;
		return false;
	}
	hi_busy--;
	for (unsigned int i = 0; i < nr_images; i++)
		if (images[i].st_dev == sb.st_dev && images[i].st_ino == sb.st_ino)
			return true;
	return false;
}
