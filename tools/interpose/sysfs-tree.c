// SPDX-License-Identifier: MIT
/*
 * The machine's sysfs tree as real files, laid out as Linux 6.1 lays out
 * /sys for PCI functions and NVMe controllers (the non-multipath layout:
 * namespaces are block devices below their controller):
 *
 *   devices/pci1000:00/1000:00:01.0/1000:01:00.0/.../1000:03:00.0/
 *       config                 configuration space (4096 bytes, 256 without PCIe)
 *       resource               "start end flags" per resource, CPU addresses
 *       resource0 ...          one per BAR, the BAR's size (mmap through the interposer)
 *       vendor device class subsystem_vendor subsystem_device revision irq ...
 *       driver -> ../../../../bus/pci/drivers/nvme
 *       p2pmem/{size,available,published,allocate}        providers
 *       nvme/nvme0/{model,serial,firmware_rev,...}        NVMe controllers
 *       nvme/nvme0/nvme0n1/{dev,size,nsid,wwid,queue/...}
 *   bus/pci/devices/1000:03:00.0 -> ../../../devices/pci1000:00/.../1000:03:00.0
 *   class/nvme/nvme0 -> ../../devices/.../nvme/nvme0
 *   class/nvme-subsystem/nvme-subsys0 -> ../../devices/virtual/nvme-subsystem/nvme-subsys0
 *   devices/virtual/nvme-subsystem/nvme-subsys0/{model,serial,...,nvme0 -> ...}
 *   block/nvme0n1 -> ../devices/.../nvme/nvme0/nvme0n1
 *
 * Links are relative, as the kernel's are, so the tree works wherever it
 * is. The files are a snapshot taken when the run starts, except
 * p2pmem/available, which the interposer rewrites as the pool changes.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/pci_regs.h>

#include <hetmem/machine.h>
#include <hetmem/pci.h>

#include "prepare.h"

#define PATHLEN 1024

/* struct resource flags (include/linux/ioport.h) */
#define IORESOURCE_MEM	     0x00000200
#define IORESOURCE_PREFETCH  0x00002000
#define IORESOURCE_SIZEALIGN 0x00040000
#define IORESOURCE_MEM_64    0x00100000

#define NR_RESOURCES	    13 /* 6 BARs, the ROM, 6 SR-IOV BARs */
#define NR_BRIDGE_RESOURCES 17 /* and 4 bridge windows */
#define ALLOCATE_SIZE	    (1ULL << 40) /* what the kernel's p2pmem/allocate stats as */

struct writer {
	const char *root;
	int err;
};

static void fail(struct writer *w, int err)
{
	if (!w->err)
		w->err = err;
}

__attribute__((format(printf, 3, 4))) static void pathf(struct writer *w, char *out,
							const char *fmt, ...);

static void join(struct writer *w, char *out, const char *rel)
{
	pathf(w, out, "%s/%s", w->root, rel);
}

/* mkdir -p ROOT/@rel */
static void mkdirs(struct writer *w, const char *rel)
{
	char path[PATHLEN];

	join(w, path, rel);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) && errno != EEXIST)
			fail(w, -errno);
		*p = '/';
	}
	if (mkdir(path, 0755) && errno != EEXIST)
		fail(w, -errno);
}

static void put_bytes(struct writer *w, const char *dir, const char *name, const void *buf,
		      size_t len, mode_t mode)
{
	char rel[PATHLEN], path[PATHLEN];
	int fd;

	pathf(w, rel, "%s/%s", dir, name);
	join(w, path, rel);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		fail(w, -errno);
		return;
	}
	/* The kernel's modes, whatever the umask. */
	if (write(fd, buf, len) != (ssize_t)len || fchmod(fd, mode))
		fail(w, -EIO);
	close(fd);
}

__attribute__((format(printf, 4, 5))) static void put(struct writer *w, const char *dir,
						      const char *name, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		fail(w, -E2BIG);
		return;
	}
	put_bytes(w, dir, name, buf, (size_t)n, 0444);
}

/* A sparse file of @size bytes: what stat shows for resourceN and allocate. */
static void put_sized(struct writer *w, const char *dir, const char *name, uint64_t size,
		      mode_t mode)
{
	char rel[PATHLEN], path[PATHLEN];
	int fd;

	pathf(w, rel, "%s/%s", dir, name);
	join(w, path, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		fail(w, -errno);
		return;
	}
	if (ftruncate(fd, (off_t)size) || fchmod(fd, mode))
		fail(w, -errno);
	close(fd);
}

/* printf into a PATHLEN buffer; a path that does not fit fails the tree. */
__attribute__((format(printf, 3, 4))) static void pathf(struct writer *w, char *out,
							const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, PATHLEN, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= PATHLEN)
		fail(w, -ENAMETOOLONG);
}

static unsigned int depth(const char *rel)
{
	unsigned int n = 1;

	for (; *rel; rel++)
		n += *rel == '/';
	return n;
}

/* ROOT/@dir/@name -> a relative link to ROOT/@target */
static void link_to(struct writer *w, const char *dir, const char *name, const char *target)
{
	char rel[PATHLEN], path[PATHLEN], to[PATHLEN];
	size_t n = 0;

	for (unsigned int i = depth(dir); i; i--)
		n += (size_t)snprintf(to + n, sizeof(to) - n, "../");
	if (snprintf(to + n, sizeof(to) - n, "%s", target) >= (int)(sizeof(to) - n))
		fail(w, -ENAMETOOLONG);
	pathf(w, rel, "%s/%s", dir, name);
	join(w, path, rel);
	unlink(path);
	if (symlink(to, path))
		fail(w, -errno);
}

/* devices/pciDDDD:BB/<bdf of the root-bus function>/.../<bdf of @dev> */
static void dev_path(struct pci_dev *dev, char *out)
{
	struct pci_dev *chain[64];
	size_t n = 0, len;

	for (struct pci_dev *d = dev; d && n < 64; d = pci_upstream_bridge(d))
		chain[n++] = d;
	len = (size_t)snprintf(out, PATHLEN, "devices/pci%04x:%02x", pci_dev_domain(dev),
			       pci_dev_busnr(chain[n - 1]));
	while (n--)
		len += (size_t)snprintf(out + len, PATHLEN - len, "/%s", pci_name(chain[n]));
}

/* --- PCI functions ----------------------------------------------------------------- */

static uint64_t bar_flags(struct pci_dev *dev, int bar)
{
	unsigned int f = pci_resource_flags(dev, bar);
	uint64_t flags = IORESOURCE_MEM | IORESOURCE_SIZEALIGN;

	/* The low bits are the BAR's own type bits, as the kernel keeps them. */
	if (f & PCI_BAR_MEM64)
		flags |= IORESOURCE_MEM_64 | PCI_BASE_ADDRESS_MEM_TYPE_64;
	if (f & PCI_BAR_PREFETCH)
		flags |= IORESOURCE_PREFETCH | PCI_BASE_ADDRESS_MEM_PREFETCH;
	return flags;
}

static uint32_t cfg32(const uint8_t *cfg, unsigned int off)
{
	return (uint32_t)cfg[off] | (uint32_t)cfg[off + 1] << 8 | (uint32_t)cfg[off + 2] << 16 |
	       (uint32_t)cfg[off + 3] << 24;
}

static uint16_t cfg16(const uint8_t *cfg, unsigned int off)
{
	return (uint16_t)(cfg[off] | cfg[off + 1] << 8);
}

/* A bridge's memory windows as the kernel shows them: CPU addresses. */
static void bridge_windows(struct pci_dev *dev, const uint8_t *cfg, uint64_t offset, char *buf,
			   size_t len, size_t *n)
{
	uint64_t base = (uint64_t)(cfg16(cfg, PCI_MEMORY_BASE) & 0xfff0) << 16;
	uint64_t limit = ((uint64_t)(cfg16(cfg, PCI_MEMORY_LIMIT) & 0xfff0) << 16) | 0xfffff;
	uint64_t pbase = ((uint64_t)(cfg16(cfg, PCI_PREF_MEMORY_BASE) & 0xfff0) << 16) |
			 (uint64_t)cfg32(cfg, PCI_PREF_BASE_UPPER32) << 32;
	uint64_t plimit = ((uint64_t)(cfg16(cfg, PCI_PREF_MEMORY_LIMIT) & 0xfff0) << 16) |
			  (uint64_t)cfg32(cfg, PCI_PREF_LIMIT_UPPER32) << 32 | 0xfffff;
	uint64_t r[4][3] = { { 0 } };

	if (limit > base) {
		r[1][0] = base + offset;
		r[1][1] = limit + offset;
		r[1][2] = IORESOURCE_MEM;
	}
	if (plimit > pbase) {
		r[2][0] = pbase + offset;
		r[2][1] = plimit + offset;
		r[2][2] = IORESOURCE_MEM | IORESOURCE_PREFETCH | IORESOURCE_MEM_64;
	}
	for (int i = 0; i < 4; i++)
		*n += (size_t)snprintf(buf + *n, len - *n, "0x%016" PRIx64 " 0x%016" PRIx64
				       " 0x%016" PRIx64 "\n", r[i][0], r[i][1], r[i][2]);
}

static void put_resources(struct writer *w, struct pci_dev *dev, const char *dir,
			  const uint8_t *cfg)
{
	const struct pci_host_bridge_info *hb = pci_host_bridge_info_get(pci_host_bridge_of(dev));
	char buf[NR_BRIDGE_RESOURCES * 64];
	size_t n = 0;

	for (int i = 0; i < NR_RESOURCES; i++) {
		uint64_t len = i < PCI_STD_NUM_BARS_HM ? pci_resource_len(dev, i) : 0;
		uint64_t start = len ? pci_resource_start(dev, i) : 0;

		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
				      "0x%016" PRIx64 " 0x%016" PRIx64 " 0x%016" PRIx64 "\n",
				      start, len ? start + len - 1 : 0,
				      len ? bar_flags(dev, i) : 0);
		if (len) {
			char name[16];

			snprintf(name, sizeof(name), "resource%d", i);
			put_sized(w, dir, name, len, 0600);
		}
	}
	if (pci_is_bridge(dev))
		bridge_windows(dev, cfg, hb->bus_offset, buf, sizeof(buf), &n);
	put_bytes(w, dir, "resource", buf, n, 0444);
}

static const char *driver_of(struct pci_dev *dev)
{
	if (pci_is_bridge(dev))
		return "pcieport";
	if (pci_dev_class(dev) == 0x010802)
		return "nvme";
	return NULL;
}

static void put_function(struct writer *w, const struct hi_tree *t, struct pci_dev *dev)
{
	uint8_t cfg[PCI_CFG_SPACE_SIZE_HM];
	char dir[PATHLEN], name[32], target[PATHLEN];
	const char *drv = driver_of(dev);
	uint32_t class = pci_dev_class(dev);
	uint16_t svid = 0, sdid = 0;

	dev_path(dev, dir);
	mkdirs(w, dir);
	pci_config_snapshot(dev, cfg);
	put_bytes(w, dir, "config", cfg, pci_pcie_type(dev) >= 0 ? PCI_CFG_SPACE_SIZE_HM : 256,
		  0644);
	if (!pci_is_bridge(dev)) {
		svid = cfg16(cfg, PCI_SUBSYSTEM_VENDOR_ID);
		sdid = cfg16(cfg, PCI_SUBSYSTEM_ID);
	}
	put(w, dir, "vendor", "0x%04x\n", pci_dev_vendor(dev));
	put(w, dir, "device", "0x%04x\n", pci_dev_device(dev));
	put(w, dir, "subsystem_vendor", "0x%04x\n", svid);
	put(w, dir, "subsystem_device", "0x%04x\n", sdid);
	put(w, dir, "class", "0x%06x\n", class);
	put(w, dir, "revision", "0x%02x\n", cfg[PCI_REVISION_ID]);
	put(w, dir, "irq", "0\n");
	put(w, dir, "numa_node", "-1\n");
	put(w, dir, "enable", "1\n");
	put(w, dir, "dma_mask_bits", "64\n");
	put(w, dir, "consistent_dma_mask_bits", "64\n");
	put(w, dir, "modalias", "pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X\n",
	    pci_dev_vendor(dev), pci_dev_device(dev), svid, sdid, class >> 16,
	    (class >> 8) & 0xff, class & 0xff);
	put(w, dir, "uevent", "%s%s%sPCI_CLASS=%X\nPCI_ID=%04X:%04X\nPCI_SUBSYS_ID=%04X:%04X\n"
	    "PCI_SLOT_NAME=%s\nMODALIAS=pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X\n",
	    drv ? "DRIVER=" : "", drv ? drv : "", drv ? "\n" : "", class, pci_dev_vendor(dev),
	    pci_dev_device(dev), svid, sdid, pci_name(dev), pci_dev_vendor(dev),
	    pci_dev_device(dev), svid, sdid, class >> 16, (class >> 8) & 0xff, class & 0xff);
	put_resources(w, dev, dir, cfg);
	link_to(w, dir, "subsystem", "bus/pci");
	snprintf(name, sizeof(name), "%s", pci_name(dev));
	link_to(w, "bus/pci/devices", name, dir);
	if (drv) {
		pathf(w, target, "bus/pci/drivers/%s", drv);
		mkdirs(w, target);
		link_to(w, dir, "driver", target);
		link_to(w, target, name, dir);
	}
	for (unsigned int i = 0; i < t->st->nr_prov; i++) {
		const struct hi_prov_desc *p = &t->st->prov[i];
		char pdir[PATHLEN];

		if (t->prov[i] != dev)
			continue;
		pathf(w, pdir, "%s/p2pmem", dir);
		mkdirs(w, pdir);
		put(w, pdir, "size", "%" PRIu64 "\n", p->size);
		put(w, pdir, "available", "%" PRIu64 "\n", p->size - p->used);
		put(w, pdir, "published", "1\n");
		put_sized(w, pdir, "allocate", ALLOCATE_SIZE, 0660);
	}
}

/* --- NVMe controllers, subsystems and namespaces ---------------------------------- */

static void hex(char *out, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static bool nonzero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return true;
	return false;
}

static void uuid_str(char *out, const uint8_t *u)
{
	sprintf(out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
		u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
		u[14], u[15]);
}

static void put_namespace(struct writer *w, const struct hi_tree_ctrl *tc, const char *cdir,
			  unsigned int i)
{
	const struct hi_ns_desc *nd = &tc->desc->ns[i];
	const struct hi_tree_ns *tn = &tc->ns[i];
	char name[32], dir[PATHLEN], qdir[PATHLEN], s[64];
	unsigned int minor = hi_ns_minor(tc->desc->instance, nd->nsid);
	unsigned int lba = 1u << nd->lba_shift;

	snprintf(name, sizeof(name), "nvme%un%u", tc->desc->instance, nd->nsid);
	pathf(w, dir, "%s/%s", cdir, name);
	mkdirs(w, dir);
	put(w, dir, "dev", "%u:%u\n", HI_NVME_BLK_MAJOR, minor);
	put(w, dir, "uevent", "MAJOR=%u\nMINOR=%u\nDEVNAME=%s\nDEVTYPE=disk\n", HI_NVME_BLK_MAJOR,
	    minor, name);
	put(w, dir, "size", "%" PRIu64 "\n", nd->size >> 9);
	put(w, dir, "nsid", "%u\n", nd->nsid);
	put(w, dir, "ro", "0\n");
	put(w, dir, "removable", "0\n");
	put(w, dir, "ext_range", "256\n");
	put(w, dir, "stat", "%s\n",
	    "       0        0        0        0        0        0        0        0        0"
	    "        0        0        0        0        0        0        0        0");
	if (nonzero(tn->uuid, 16)) {
		uuid_str(s, tn->uuid);
		put(w, dir, "uuid", "%s\n", s);
		put(w, dir, "wwid", "uuid.%s\n", s);
	} else if (nonzero(tn->nguid, 16)) {
		hex(s, tn->nguid, 16);
		put(w, dir, "wwid", "eui.%s\n", s);
	} else {
		hex(s, tn->eui64, 8);
		put(w, dir, "wwid", "eui.%s\n", s);
	}
	if (nonzero(tn->nguid, 16)) {
		uuid_str(s, tn->nguid);
		put(w, dir, "nguid", "%s\n", s);
	}
	if (nonzero(tn->eui64, 8)) {
		hex(s, tn->eui64, 8);
		put(w, dir, "eui", "%s\n", s);
	}
	pathf(w, qdir, "%s/queue", dir);
	mkdirs(w, qdir);
	put(w, qdir, "logical_block_size", "%u\n", lba);
	put(w, qdir, "physical_block_size", "%u\n", lba);
	put(w, qdir, "hw_sector_size", "%u\n", lba);
	put(w, qdir, "minimum_io_size", "%u\n", lba);
	put(w, qdir, "optimal_io_size", "0\n");
	put(w, qdir, "max_hw_sectors_kb", "1024\n");
	put(w, qdir, "max_sectors_kb", "1024\n");
	put(w, qdir, "rotational", "0\n");
	put(w, qdir, "nr_requests", "%u\n", HI_QUEUE_DEPTH - 1);
	link_to(w, dir, "device", cdir);
	link_to(w, dir, "subsystem", "class/block");
	link_to(w, "block", name, dir);
	mkdirs(w, "class/block");
	link_to(w, "class/block", name, dir);
}

static void put_controller(struct writer *w, const struct hi_tree_ctrl *tc)
{
	const struct hi_ctrl_desc *cd = tc->desc;
	char pdir[PATHLEN], cdir[PATHLEN], sdir[PATHLEN], name[32], sname[32], bdf[HI_BDF_LEN];

	dev_path(tc->pdev, pdir);
	snprintf(bdf, sizeof(bdf), "%s", cd->bdf);
	snprintf(name, sizeof(name), "nvme%u", cd->instance);
	snprintf(sname, sizeof(sname), "nvme-subsys%u", cd->subsys);
	pathf(w, cdir, "%s/nvme/%s", pdir, name);
	mkdirs(w, cdir);
	put(w, cdir, "dev", "%u:%u\n", HI_NVME_CHAR_MAJOR, cd->instance);
	put(w, cdir, "uevent", "MAJOR=%u\nMINOR=%u\nDEVNAME=%s\nNVME_TRTYPE=pcie\n",
	    HI_NVME_CHAR_MAJOR, cd->instance, name);
	put(w, cdir, "model", "%s\n", tc->model);
	put(w, cdir, "serial", "%s\n", tc->serial);
	put(w, cdir, "firmware_rev", "%s\n", tc->fw);
	put(w, cdir, "cntlid", "%u\n", tc->cntlid);
	put(w, cdir, "state", "live\n");
	put(w, cdir, "transport", "pcie\n");
	put(w, cdir, "address", "%s\n", bdf);
	put(w, cdir, "subsysnqn", "%s\n", tc->subnqn);
	put(w, cdir, "numa_node", "-1\n");
	put(w, cdir, "queue_count", "%u\n", tc->queue_count);
	put(w, cdir, "sqsize", "%u\n", tc->sqsize);
	put(w, cdir, "kato", "0\n");
	put(w, cdir, "cntrltype", "io\n");
	put(w, cdir, "dctype", "none\n");
	link_to(w, cdir, "device", pdir);
	link_to(w, cdir, "subsystem", "class/nvme");
	mkdirs(w, "class/nvme");
	link_to(w, "class/nvme", name, cdir);
	for (unsigned int i = 0; i < cd->nr_ns; i++)
		put_namespace(w, tc, cdir, i);

	pathf(w, sdir, "devices/virtual/nvme-subsystem/%s", sname);
	mkdirs(w, sdir);
	put(w, sdir, "subsysnqn", "%s\n", tc->subnqn);
	put(w, sdir, "model", "%s\n", tc->model);
	put(w, sdir, "serial", "%s\n", tc->serial);
	put(w, sdir, "firmware_rev", "%s\n", tc->fw);
	put(w, sdir, "subsystype", "nvm\n");
	put(w, sdir, "iopolicy", "numa\n");
	link_to(w, sdir, name, cdir);
	link_to(w, sdir, "subsystem", "class/nvme-subsystem");
	mkdirs(w, "class/nvme-subsystem");
	link_to(w, "class/nvme-subsystem", sname, sdir);
}

int hi_sysfs_write(const struct hi_tree *t, const char *root)
{
	struct writer w = { .root = root };
	struct pci_fabric *f = machine_fabric(t->m);
	struct pci_dev *dev = NULL;

	mkdirs(&w, "bus/pci/devices");
	mkdirs(&w, "bus/pci/drivers");
	mkdirs(&w, "block");
	while ((dev = pci_fabric_next_dev(f, dev)) && !w.err)
		put_function(&w, t, dev);
	for (unsigned int i = 0; i < t->nr_ctrl && !w.err; i++)
		put_controller(&w, &t->ctrl[i]);
	return w.err;
}
