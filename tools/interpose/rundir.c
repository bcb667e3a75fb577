// SPDX-License-Identifier: MIT
/*
 * Preparing a run directory (run.h), and a bare sysfs tree for `hetmem
 * sysfs`.
 *
 * A run directory may be reused (`hetmem run --dir DIR`): the namespace
 * images stay, and so do the controllers' SMART records, which are as
 * non-volatile as the data. Everything else is made anew.
 */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hetmem/err.h>
#include <hetmem/machine.h>

#include "prepare.h"
#include "rundir.h"

#define CONFIG_MAX (1 << 20)

static int read_text(const char *path, char **out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	size_t n;
	char *buf;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	buf = malloc(CONFIG_MAX + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(buf, 1, CONFIG_MAX + 1, f);
	fclose(f);
	if (n > CONFIG_MAX) {
		snprintf(err, errlen, "%s: larger than 1 MiB", path);
		free(buf);
		return -EFBIG;
	}
	buf[n] = '\0';
	*out = buf;
	return 0;
}

static int write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t len = strlen(text);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		ret = -EIO;
	close(fd);
	return ret;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

int hi_remove_tree(const char *dir)
{
	if (access(dir, F_OK))
		return 0;
	return nftw(dir, rm_entry, 32, FTW_DEPTH | FTW_PHYS) ? -errno : 0;
}

/* NVMe instance numbers the host uses: the machine's must not collide. */
static unsigned int host_nvme_instances(unsigned int *taken, unsigned int max)
{
	DIR *d = opendir("/sys/class/nvme");
	struct dirent *e;
	unsigned int n = 0, v;
	char tail;

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < max)
		if (sscanf(e->d_name, "nvme%u%c", &v, &tail) == 1)
			taken[n++] = v;
	closedir(d);
	for (v = 0; v < 256 && n < max; v++) {
		char path[32];

		snprintf(path, sizeof(path), "/dev/nvme%u", v);
		if (!access(path, F_OK))
			taken[n++] = v;
	}
	return n;
}

/* Keep the SMART records of a state being replaced, by controller name. */
static void save_smart(const char *dir, struct hi_ctrl_desc *saved, unsigned int *nr)
{
	struct hi_state *old = hi_state_map(dir);

	*nr = 0;
	if (IS_ERR(old))
		return;
	for (unsigned int i = 0; i < old->nr_ctrl && i < HI_MAX_CTRL; i++)
		saved[(*nr)++] = old->ctrl[i];
	hi_state_unmap(old);
}

static void restore_smart(struct hi_state *st, const struct hi_ctrl_desc *saved, unsigned int nr)
{
	for (unsigned int i = 0; i < st->nr_ctrl; i++)
		for (unsigned int k = 0; k < nr; k++)
			if (!strcmp(st->ctrl[i].label, saved[k].label))
				st->ctrl[i].smart = saved[k].smart;
}

static int make_bar_files(const char *dir, const struct hi_state *st)
{
	char path[PATH_MAX], rel[256];

	if (hi_run_path(path, sizeof(path), dir, HI_BAR_DIR))
		return -ENAMETOOLONG;
	if (mkdir(path, 0700) && errno != EEXIST)
		return -errno;
	for (unsigned int i = 0; i < st->nr_prov; i++) {
		int fd, ret = 0;

		if (hi_bar_file(rel, sizeof(rel), &st->prov[i]) ||
		    hi_run_path(path, sizeof(path), dir, rel))
			return -ENAMETOOLONG;
		/* Fresh device memory each run: zeroes, and no blocks until written. */
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
		if (ftruncate(fd, (off_t)st->prov[i].size))
			ret = -errno;
		close(fd);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * RUN/view/NAME: one link per entry of the host's directory, to where that
 * entry leads, and one per entry of the machine's, into RUN/sys.
 */
static int make_view(const char *dir, const char *host, const char *rel, const char *name)
{
	char view[PATH_MAX], ours[PATH_MAX], path[PATH_MAX * 2], target[PATH_MAX];
	struct dirent *e;
	DIR *d;
	int ret = 0;

	d = opendir(host);
	if (!d)
		return 0; /* the host has none: the interposer shows ours alone */
	snprintf(view, sizeof(view), "%s/%s", dir, HI_VIEW_DIR);
	if (mkdir(view, 0755) && errno != EEXIST) {
		closedir(d);
		return -errno;
	}
	snprintf(view, sizeof(view), "%s/%s/%s", dir, HI_VIEW_DIR, name);
	if (mkdir(view, 0755) && errno != EEXIST) {
		closedir(d);
		return -errno;
	}
	while ((e = readdir(d)) && !ret) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", host, e->d_name);
		if (!realpath(path, target))
			continue;
		snprintf(path, sizeof(path), "%s/%s", view, e->d_name);
		if (symlink(target, path) && errno != EEXIST)
			ret = -errno;
	}
	closedir(d);
	snprintf(ours, sizeof(ours), "%s/%s/%s", dir, HI_SYS_DIR, rel);
	d = opendir(ours);
	if (!d)
		return ret;
	while ((e = readdir(d)) && !ret) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", ours, e->d_name);
		if (!realpath(path, target))
			continue;
		snprintf(path, sizeof(path), "%s/%s", view, e->d_name);
		unlink(path);
		if (symlink(target, path))
			ret = -errno;
	}
	closedir(d);
	return ret;
}

static const struct {
	const char *host;
	const char *rel;
	const char *name;
} views[] = {
	{ "/sys/bus/pci/devices", "bus/pci/devices", "bus-pci-devices" },
	{ "/sys/class/nvme", "class/nvme", "class-nvme" },
	{ "/sys/class/nvme-subsystem", "class/nvme-subsystem", "class-nvme-subsystem" },
};

int hi_view_name(const char *rel, char *out, size_t len)
{
	for (size_t i = 0; i < sizeof(views) / sizeof(views[0]); i++)
		if (!strcmp(views[i].rel, rel))
			return snprintf(out, len, "%s", views[i].name) >= (int)len ? -ENAMETOOLONG
										    : 0;
	return -ENOENT;
}

int hi_view_host_dir(unsigned int i, const char **host, const char **name)
{
	if (i >= sizeof(views) / sizeof(views[0]))
		return -ENOENT;
	*host = views[i].host;
	*name = views[i].name;
	return 0;
}

int hi_run_prepare(const char *dir, const char *machine_path, char *err, size_t errlen)
{
	static struct hi_image img[HI_MAX_IMAGES];
	struct hi_ctrl_desc *saved;
	unsigned int nr_img = 0, nr_saved = 0, taken[64], nr_taken;
	char path[PATH_MAX], *text = NULL, *backed = NULL;
	struct hi_tree *t = NULL;
	struct hi_state *st = NULL;
	struct machine *m = NULL;
	int ret;

	err[0] = '\0';
	saved = calloc(HI_MAX_CTRL, sizeof(*saved));
	t = calloc(1, sizeof(*t));
	if (!saved || !t) {
		ret = -ENOMEM;
		goto out;
	}
	if (machine_path) {
		ret = read_text(machine_path, &text, err, errlen);
		if (ret)
			goto out;
	} else {
		text = strdup(machine_default_config());
		if (!text) {
			ret = -ENOMEM;
			goto out;
		}
	}
	ret = hi_config_back_namespaces(text, dir, &backed, img, &nr_img);
	if (ret) {
		snprintf(err, errlen, "cannot back the namespaces with files: %s", strerror(-ret));
		goto out;
	}
	ret = hi_run_path(path, sizeof(path), dir, HI_MACHINE_FILE);
	if (!ret)
		ret = write_text(path, backed);
	if (ret) {
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		goto out;
	}
	m = machine_load(path, err, errlen);
	if (IS_ERR(m)) {
		ret = (int)PTR_ERR(m);
		m = NULL;
		goto out;
	}
	save_smart(dir, saved, &nr_saved);
	st = hi_state_create(dir);
	if (IS_ERR(st)) {
		ret = (int)PTR_ERR(st);
		st = NULL;
		snprintf(err, errlen, "%s/%s: %s", dir, HI_STATE_FILE, strerror(-ret));
		goto out;
	}
	nr_taken = host_nvme_instances(taken, 64);
	t->m = m;
	t->st = st;
	ret = hi_describe(t, img, nr_img, taken, nr_taken, err, errlen);
	if (ret)
		goto out;
	restore_smart(st, saved, nr_saved);
	ret = make_bar_files(dir, st);
	if (ret) {
		snprintf(err, errlen, "%s/%s: %s", dir, HI_BAR_DIR, strerror(-ret));
		goto out;
	}
	/* A reused directory: the old tree and views go. */
	if (!hi_run_path(path, sizeof(path), dir, HI_VIEW_DIR))
		hi_remove_tree(path);
	hi_run_path(path, sizeof(path), dir, HI_SYS_DIR);
	hi_remove_tree(path);
	ret = hi_sysfs_write(t, path);
	for (size_t i = 0; !ret && i < sizeof(views) / sizeof(views[0]); i++)
		ret = make_view(dir, views[i].host, views[i].rel, views[i].name);
	if (ret)
		snprintf(err, errlen, "%s: writing the sysfs tree: %s", dir, strerror(-ret));
out:
	if (ret && !err[0])
		snprintf(err, errlen, "%s", strerror(-ret));
	hi_state_unmap(st);
	machine_destroy(m);
	free(backed);
	free(text);
	free(t);
	free(saved);
	return ret;
}

int hi_sysfs_materialise(const char *root, const char *machine_path, char *err, size_t errlen)
{
	struct hi_state *st = calloc(1, sizeof(*st));
	struct hi_tree *t = calloc(1, sizeof(*t));
	struct machine *m = NULL;
	int ret;

	err[0] = '\0';
	if (!st || !t) {
		ret = -ENOMEM;
		goto out;
	}
	ret = hi_state_init(st);
	if (ret)
		goto out;
	m = machine_load(machine_path, err, errlen);
	if (IS_ERR(m)) {
		ret = (int)PTR_ERR(m);
		m = NULL;
		goto out;
	}
	t->m = m;
	t->st = st;
	ret = hi_describe(t, NULL, 0, NULL, 0, err, errlen);
	if (ret)
		goto out;
	if (mkdir(root, 0755) && errno != EEXIST) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", root, strerror(errno));
		goto out;
	}
	ret = hi_sysfs_write(t, root);
	if (ret)
		snprintf(err, errlen, "%s: %s", root, strerror(-ret));
out:
	if (ret && !err[0])
		snprintf(err, errlen, "%s", strerror(-ret));
	machine_destroy(m);
	if (st)
		pthread_mutex_destroy(&st->lock);
	free(st);
	free(t);
	return ret;
}
