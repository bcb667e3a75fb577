// SPDX-License-Identifier: MIT
/*
 * Importing a sysfs tree: /sys/bus/pci of the running machine, or a copy
 * in the same layout.
 *
 *   DIR/devices/0000:03:00.0 -> ../../../devices/pci0000:00/0000:00:01.0/0000:03:00.0
 *                  config       as much as the kernel lets us read: 64 bytes
 *                               unprivileged, 256 or 4096 as root
 *                  resource     "start end flags" per BAR, in hex
 *                  driver       -> .../drivers/nvme
 *                  iommu_group/type   DMA, DMA-FQ, identity, ...
 *                  p2pmem/{size,available,published,allocate}
 *
 * The link's target names the host bridge (pci0000:00) and the parent
 * bridge (the component before the function's own); a plain directory
 * copy has neither, and bus numbers place its functions instead.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hetmem/err.h>
#include <hetmem/pci-import.h>

/* struct resource flags the resource file prints (include/linux/ioport.h). */
#define IORESOURCE_IO  0x00000100
#define IORESOURCE_MEM 0x00000200

/* @a/@b in @out. Return: 0, or -ENAMETOOLONG (then @out is not to be used). */
static int path_join(char *out, size_t len, const char *a, const char *b)
{
	int n = snprintf(out, len, "%s/%s", a, b);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* At most @len - 1 bytes of @s: sysfs values that do not fit are cut. */
static void copy_str(char *out, size_t len, const char *s, size_t n)
{
	n = strnlen(s, n < len - 1 ? n : len - 1);
	memcpy(out, s, n);
	out[n] = '\0';
}

static bool looks_like_bdf(const char *s)
{
	unsigned int d, b, dev, fn;
	int n = 0;

	return sscanf(s, "%x:%x:%x.%1u%n", &d, &b, &dev, &fn, &n) == 4 && !s[n];
}

static ssize_t read_file(const char *dir, const char *name, void *buf, size_t len)
{
	char path[PATH_MAX];
	ssize_t n, total = 0;
	int fd;

	if (path_join(path, sizeof(path), dir, name))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* sysfs hands config out in pieces; a short read is not the end. */
	while ((size_t)total < len) {
		n = read(fd, (char *)buf + total, len - (size_t)total);
		if (n < 0) {
			int ret = -errno;

			close(fd);
			return total ? total : ret;
		}
		if (!n)
			break;
		total += n;
	}
	close(fd);
	return total;
}

static bool read_u64(const char *dir, const char *name, uint64_t *val)
{
	char buf[64];
	ssize_t n = read_file(dir, name, buf, sizeof(buf) - 1);

	if (n <= 0)
		return false;
	buf[n] = '\0';
	*val = strtoull(buf, NULL, 0);
	return true;
}

static void read_word(const char *dir, const char *name, char *out, size_t len)
{
	char buf[64];
	ssize_t n = read_file(dir, name, buf, sizeof(buf) - 1);

	out[0] = '\0';
	if (n <= 0)
		return;
	buf[n] = '\0';
	copy_str(out, len, buf, strcspn(buf, " \t\n"));
}

static void read_resources(const char *dir, struct pci_import_func *fn)
{
	char path[PATH_MAX], line[128];
	FILE *f;

	if (path_join(path, sizeof(path), dir, "resource"))
		return;
	f = fopen(path, "re");
	if (!f)
		return;
	for (int i = 0; i < PCI_STD_NUM_BARS_HM && fgets(line, sizeof(line), f); i++) {
		uint64_t start, end, flags;

		if (sscanf(line, "%" SCNx64 " %" SCNx64 " %" SCNx64, &start, &end, &flags) != 3)
			continue;
		/* An unassigned BAR still shows its size: start 0, end size - 1. */
		if ((flags & (IORESOURCE_IO | IORESOURCE_MEM)) && end > start)
			fn->bar_size[i] = end - start + 1;
	}
	fclose(f);
}

static void read_link_name(const char *dir, const char *name, char *out, size_t len)
{
	char path[PATH_MAX], target[PATH_MAX];
	ssize_t n;
	const char *base;

	out[0] = '\0';
	if (path_join(path, sizeof(path), dir, name))
		return;
	n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0)
		return;
	target[n] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	copy_str(out, len, base, strlen(base));
}

/*
 * .../devices/pci0000:00/0000:00:01.0/0000:03:00.0: the host bridge is the
 * pciDDDD:BB component, the parent the component before the function's.
 */
static bool looks_like_host(const char *s, size_t len)
{
	char name[32];
	unsigned int d, b;
	int n = 0;

	if (len >= sizeof(name))
		return false;
	memcpy(name, s, len);
	name[len] = '\0';
	return sscanf(name, "pci%x:%x%n", &d, &b, &n) == 2 && !name[n];
}

static void read_position(const char *dir, struct pci_import_func *fn)
{
	char target[PATH_MAX], *p, *prev = NULL, *last = NULL;
	struct stat st;
	bool below_host = false;

	if (lstat(dir, &st) || !S_ISLNK(st.st_mode) || !realpath(dir, target))
		return;
	for (p = target; *p;) {
		size_t len;

		p += strspn(p, "/");
		len = strcspn(p, "/");
		if (!len)
			break;
		if (!below_host && looks_like_host(p, len)) {
			copy_str(fn->host, sizeof(fn->host), p, len);
			below_host = true;
		}
		prev = last;
		last = p;
		p += len;
		if (*p)
			*p++ = '\0';
	}
	if (below_host && prev && looks_like_bdf(prev))
		copy_str(fn->parent, sizeof(fn->parent), prev, strlen(prev));
}

static void read_p2pmem(const char *dir, struct pci_import_p2pmem *p)
{
	char sub[PATH_MAX], path[PATH_MAX];
	uint64_t v;

	if (path_join(sub, sizeof(sub), dir, "p2pmem") || access(sub, F_OK))
		return;
	p->present = true;
	if (read_u64(sub, "size", &v))
		p->size = v;
	if (read_u64(sub, "available", &v))
		p->available = v;
	if (read_u64(sub, "published", &v))
		p->published = v;
	p->allocate = !path_join(path, sizeof(path), sub, "allocate") && !access(path, F_OK);
}

/* One function. Return: 1 imported, 0 skipped (noted), -ENOMEM. */
static int import_one(struct pci_import *imp, const char *devices, const char *name, uint8_t *cfg)
{
	struct pci_import_func fn = { 0 };
	char dir[PATH_MAX];
	ssize_t n;
	int ret;

	if (path_join(dir, sizeof(dir), devices, name)) {
		pci_import_warn(imp, "%s: path too long", name);
		return 0;
	}
	n = read_file(dir, "config", cfg, PCI_CFG_SPACE_SIZE_HM);
	if (n < 0) {
		pci_import_warn(imp, "%s: config: %s", name, strerror((int)-n));
		return 0;
	}
	copy_str(fn.bdf, sizeof(fn.bdf), name, strlen(name));
	fn.config = cfg;
	fn.config_len = (unsigned int)n;
	read_resources(dir, &fn);
	read_position(dir, &fn);
	read_link_name(dir, "driver", fn.driver, sizeof(fn.driver));
	read_word(dir, "iommu_group/type", fn.iommu_group_type, sizeof(fn.iommu_group_type));
	read_p2pmem(dir, &fn.p2pmem);
	ret = pci_import_add(imp, &fn);
	return ret == -ENOMEM ? ret : !ret;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The function entries of @devices, sorted. Return: count, or -errno. */
static int list_functions(const char *devices, char ***out)
{
	struct dirent *de;
	char **names = NULL;
	int n = 0;
	DIR *d = opendir(devices);

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char **grown;

		if (!looks_like_bdf(de->d_name))
			continue;
		grown = realloc(names, (size_t)(n + 1) * sizeof(*names));
		if (!grown || !(grown[n] = strdup(de->d_name))) {
			names = grown ? grown : names;
			while (n--)
				free(names[n]);
			free(names);
			closedir(d);
			return -ENOMEM;
		}
		names = grown;
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, (size_t)n, sizeof(*names), cmp_names);
	*out = names;
	return n;
}

struct pci_import *pci_import_sysfs(const char *dir, char *err, size_t len)
{
	char devices[PATH_MAX];
	struct pci_import *imp;
	uint8_t *cfg = NULL;
	char **names = NULL;
	int n, got = 0, ret = 0;
	struct stat st;

	/* DIR is /sys/bus/pci (it has devices/), or the devices directory itself. */
	if (path_join(devices, sizeof(devices), dir, "devices") || stat(devices, &st) ||
	    !S_ISDIR(st.st_mode))
		copy_str(devices, sizeof(devices), dir, strlen(dir));
	n = list_functions(devices, &names);
	if (n < 0) {
		snprintf(err, len, "%s: %s", dir, strerror(-n));
		return ERR_PTR(n == -ENOMEM ? -ENOMEM : -ENOENT);
	}
	if (!n) {
		snprintf(err, len, "%s lists no PCI function", devices);
		return ERR_PTR(-ENODATA);
	}

	imp = pci_import_create(dir);
	cfg = malloc(PCI_CFG_SPACE_SIZE_HM);
	for (int i = 0; imp && cfg && i < n && ret >= 0; i++) {
		ret = import_one(imp, devices, names[i], cfg);
		got += ret > 0;
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(cfg);
	if (!imp || !cfg || ret < 0) {
		pci_import_destroy(imp);
		snprintf(err, len, "%s: %s", dir, strerror(ENOMEM));
		return ERR_PTR(-ENOMEM);
	}
	if (!got) {
		snprintf(err, len, "%s: no function's config could be read (%s)", dir,
			 pci_import_nr_warnings(imp) ? pci_import_warning(imp, 0) : "");
		pci_import_destroy(imp);
		return ERR_PTR(-EIO);
	}
	ret = pci_import_finish(imp);
	if (ret) {
		snprintf(err, len, "%s: %s", dir, strerror(-ret));
		pci_import_destroy(imp);
		return ERR_PTR(ret);
	}
	return imp;
}
