// SPDX-License-Identifier: MIT
/*
 * Real PCI functions through Linux sysfs, and DMA memory by physical
 * address: the platform hetmem's drivers use outside the emulated fabric.
 *
 * Config space goes through the function's config file (pread/pwrite at
 * the register's offset: the kernel turns them into config cycles), BARs
 * through resourceN mmaps. Physical addresses come from /proc/self/pagemap
 * (bits 54:0 the page frame number, bit 63 present), which shows them only
 * to root; without an IOMMU, as on QEMU's q35 by default, a device's bus
 * address for RAM is its physical address.
 */
#define pr_fmt(fmt) "pci-sysfs: " fmt

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/pci_regs.h>

#include <hetmem/log.h>
#include <hetmem/pci-sysfs.h>

/* Addresses are "dddd:bb:dd.f": 12 characters; longer names are cut at 15. */
static void copy_bdf(char *dst, const char *src)
{
	size_t n = strnlen(src, 15);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static int read_hex_attr(const char *dir, const char *attr, unsigned long *val)
{
	char path[320], buf[32];
	FILE *f;
	int ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, attr);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	if (!fgets(buf, sizeof(buf), f))
		ret = -EIO;
	else
		*val = strtoul(buf, NULL, 16);
	fclose(f);
	return ret;
}

static int read_resources(struct pci_sysfs_dev *dev)
{
	char path[320];
	FILE *f;

	snprintf(path, sizeof(path), "%s/resource", dev->dir);
	f = fopen(path, "r");
	if (!f)
		return -EIO;
	/* One line per resource: start end flags; the first six are the BARs. */
	for (int i = 0; i < 6; i++) {
		unsigned long long start, end, flags;

		if (fscanf(f, "%llx %llx %llx", &start, &end, &flags) != 3) {
			fclose(f);
			return -EIO;
		}
		dev->bar_start[i] = start;
		dev->bar_len[i] = end > start ? end - start + 1 : 0;
	}
	fclose(f);
	return 0;
}

int pci_sysfs_open(const char *root, const char *bdf, struct pci_sysfs_dev *dev)
{
	unsigned long v;
	char path[320];
	int ret;

	memset(dev, 0, sizeof(*dev));
	dev->config_fd = -1;
	copy_bdf(dev->bdf, bdf);
	snprintf(dev->dir, sizeof(dev->dir), "%s/%s", root, bdf);
	if (access(dev->dir, F_OK))
		return -ENOENT;
	ret = read_hex_attr(dev->dir, "vendor", &v);
	if (ret)
		return ret;
	dev->vendor = (uint16_t)v;
	ret = read_hex_attr(dev->dir, "device", &v);
	if (ret)
		return ret;
	dev->device = (uint16_t)v;
	ret = read_hex_attr(dev->dir, "class", &v);
	if (ret)
		return ret;
	dev->class = (uint32_t)v;
	ret = read_resources(dev);
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "%s/config", dev->dir);
	dev->config_fd = open(path, O_RDWR | O_CLOEXEC);
	if (dev->config_fd < 0)
		return -errno;
	return 0;
}

void pci_sysfs_close(struct pci_sysfs_dev *dev)
{
	for (int i = 0; i < 6; i++)
		if (dev->bar_map[i])
			munmap(dev->bar_map[i], dev->bar_len[i]);
	if (dev->config_fd >= 0)
		close(dev->config_fd);
	memset(dev, 0, sizeof(*dev));
	dev->config_fd = -1;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every function's address under @root, sorted; the caller frees. */
static int list_functions(const char *root, char ***names)
{
	struct dirent *de;
	char **v = NULL;
	int n = 0;
	DIR *d = opendir(root);

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char **grown;

		if (de->d_name[0] == '.')
			continue;
		grown = realloc(v, (n + 1) * sizeof(*v));
		if (!grown)
			break;
		v = grown;
		v[n++] = strdup(de->d_name);
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_names);
	*names = v;
	return n;
}

static void free_names(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int pci_sysfs_find_class(const char *root, uint32_t class, uint32_t mask, int nth, char *bdf)
{
	char **names, dir[320];
	int n = list_functions(root, &names), ret = -ENOENT;

	for (int i = 0; i < n && ret; i++) {
		unsigned long c;

		snprintf(dir, sizeof(dir), "%s/%s", root, names[i]);
		if (read_hex_attr(dir, "class", &c) || ((uint32_t)c & mask) != (class & mask))
			continue;
		if (nth-- == 0) {
			copy_bdf(bdf, names[i]);
			ret = 0;
		}
	}
	if (n > 0)
		free_names(names, n);
	return ret;
}

int pci_sysfs_find_id(const char *root, uint16_t vendor, uint16_t device, char *bdf)
{
	char **names, dir[320];
	int n = list_functions(root, &names), ret = -ENOENT;

	for (int i = 0; i < n && ret; i++) {
		unsigned long v, d;

		snprintf(dir, sizeof(dir), "%s/%s", root, names[i]);
		if (read_hex_attr(dir, "vendor", &v) || read_hex_attr(dir, "device", &d))
			continue;
		if (v == vendor && d == device) {
			copy_bdf(bdf, names[i]);
			ret = 0;
		}
	}
	if (n > 0)
		free_names(names, n);
	return ret;
}

int pci_sysfs_enable(struct pci_sysfs_dev *dev)
{
	uint16_t cmd;

	if (pread(dev->config_fd, &cmd, 2, PCI_COMMAND) != 2)
		return -errno ? -errno : -EIO;
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE;
	if (pwrite(dev->config_fd, &cmd, 2, PCI_COMMAND) != 2)
		return -errno ? -errno : -EIO;
	return 0;
}

void *pci_sysfs_map_bar(struct pci_sysfs_dev *dev, int bar)
{
	char path[320];
	void *p;
	int fd;

	if (bar < 0 || bar > 5 || !dev->bar_len[bar]) {
		errno = ENOENT;
		return NULL;
	}
	if (dev->bar_map[bar])
		return dev->bar_map[bar];
	snprintf(path, sizeof(path), "%s/resource%d", dev->dir, bar);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	p = mmap(NULL, dev->bar_len[bar], PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return NULL;
	dev->bar_map[bar] = p;
	return p;
}

int pci_sysfs_parent(const char *root, const char *bdf, char *parent)
{
	char link[320], target[PATH_MAX], *slash, *prev;

	snprintf(link, sizeof(link), "%s/%s", root, bdf);
	if (!realpath(link, target))
		return -ENOENT;
	/* .../pci0000:00/0000:00:1c.0/0000:01:00.0: the component before ours. */
	slash = strrchr(target, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	prev = strrchr(target, '/');
	prev = prev ? prev + 1 : target;
	if (strncmp(prev, "pci", 3) == 0 || strlen(prev) != 12)
		parent[0] = '\0';
	else
		copy_bdf(parent, prev);
	return 0;
}

uint64_t virt_to_phys_self(const void *addr)
{
	uint64_t entry, page = (uintptr_t)addr / (uint64_t)sysconf(_SC_PAGESIZE);
	long psize = sysconf(_SC_PAGESIZE);
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = pread(fd, &entry, sizeof(entry), (off_t)(page * sizeof(entry)));
	close(fd);
	/* Present, and a frame number (zero when the kernel hides it from non-root). */
	if (n != sizeof(entry) || !(entry >> 63) || !(entry & ((1ULL << 55) - 1)))
		return 0;
	return (entry & ((1ULL << 55) - 1)) * (uint64_t)psize + ((uintptr_t)addr % psize);
}

int phys_dma_alloc(struct phys_dma_buf *buf, size_t len, bool hugepage)
{
	const size_t huge = 2UL << 20;
	void *p = MAP_FAILED;

	memset(buf, 0, sizeof(*buf));
	if (hugepage) {
		size_t hlen = (len + huge - 1) & ~(huge - 1);

		p = mmap(NULL, hlen, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE | MAP_LOCKED, -1, 0);
		if (p != MAP_FAILED) {
			buf->hugepage = true;
			len = hlen;
		}
	}
	if (p == MAP_FAILED) {
		len = (len + 4095) & ~4095UL;
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE | MAP_LOCKED, -1, 0);
		if (p == MAP_FAILED)
			return -ENOMEM;
	}
	memset(p, 0, len);
	buf->va = p;
	buf->len = len;
	if (!virt_to_phys_self(p)) {
		pr_err("physical addresses are hidden: /proc/self/pagemap needs root");
		phys_dma_free(buf);
		return -EPERM;
	}
	return 0;
}

void phys_dma_free(struct phys_dma_buf *buf)
{
	if (buf->va)
		munmap(buf->va, buf->len);
	memset(buf, 0, sizeof(*buf));
}
