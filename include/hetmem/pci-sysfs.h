/* SPDX-License-Identifier: MIT */
/*
 * Real PCI functions through Linux sysfs: the platform hetmem's drivers use
 * on real hardware and inside a QEMU guest.
 *
 * A function is reached through /sys/bus/pci/devices/<dddd:bb:dd.f>/: its
 * config file (command register: memory space, bus mastering, INTx
 * disable), its resource file (BAR addresses and sizes) and resourceN
 * files (BAR mmap). DMA memory is process memory locked in place whose
 * physical addresses come from /proc/self/pagemap (root only); without an
 * IOMMU the bus address is the physical address.
 */
#ifndef HETMEM_PCI_SYSFS_H
#define HETMEM_PCI_SYSFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCI_SYSFS_ROOT "/sys/bus/pci/devices"

/**
 * struct pci_sysfs_dev - an opened real function
 * @bdf: "dddd:bb:dd.f"
 * @vendor: vendor ID
 * @device: device ID
 * @class: class code with prog-if
 * @bar_start: BAR bus addresses (the resource file's start; CPU addresses
 *	       equal bus addresses on x86)
 * @bar_len: BAR sizes, 0 for unimplemented BARs
 * @bar_map: mappings made by pci_sysfs_map_bar()
 * @config_fd: the config file, open read-write
 * @dir: the function's sysfs directory
 */
struct pci_sysfs_dev {
	char bdf[16];
	uint16_t vendor;
	uint16_t device;
	uint32_t class;
	uint64_t bar_start[6];
	uint64_t bar_len[6];
	void *bar_map[6];
	int config_fd;
	char dir[256];
};

/**
 * pci_sysfs_open - open a function
 * @root: the devices directory (PCI_SYSFS_ROOT, or a copy of one)
 * @bdf: its address, "dddd:bb:dd.f"
 * @dev: filled in
 *
 * Return: 0, -ENOENT when there is no such function, -EACCES without the
 * rights to open its config file read-write, -EIO for an unreadable
 * resource file.
 */
int pci_sysfs_open(const char *root, const char *bdf, struct pci_sysfs_dev *dev);

/**
 * pci_sysfs_close - unmap BARs and close a function
 * @dev: the function
 */
void pci_sysfs_close(struct pci_sysfs_dev *dev);

/**
 * pci_sysfs_find_class - the first function of a class, in address order
 * @root: the devices directory
 * @class: class code with prog-if (e.g. 0x010802)
 * @mask: which bits of @class must match (e.g. 0xffffff)
 * @nth: 0 for the first match, 1 for the second, ...
 * @bdf: where the address goes (16 bytes)
 *
 * Return: 0, or -ENOENT when there is no such function.
 */
int pci_sysfs_find_class(const char *root, uint32_t class, uint32_t mask, int nth, char *bdf);

/**
 * pci_sysfs_find_id - the first function with a vendor and device ID
 * @root: the devices directory
 * @vendor: vendor ID
 * @device: device ID
 * @bdf: where the address goes (16 bytes)
 *
 * Return: 0, or -ENOENT.
 */
int pci_sysfs_find_id(const char *root, uint16_t vendor, uint16_t device, char *bdf);

/**
 * pci_sysfs_enable - turn on memory decode and bus mastering, INTx off
 * @dev: the function
 *
 * Firmware may leave bus mastering off (QEMU's ivshmem) and
 * uio_pci_generic does not turn it on.
 *
 * Return: 0, or -errno from the config file.
 */
int pci_sysfs_enable(struct pci_sysfs_dev *dev);

/**
 * pci_sysfs_map_bar - mmap a memory BAR through its resourceN file
 * @dev: the function
 * @bar: BAR index
 *
 * Return: the mapping, or NULL with errno set (ENOENT: no such BAR; the
 * kernel refuses when a driver owns the region: EBUSY/EPERM).
 */
void *pci_sysfs_map_bar(struct pci_sysfs_dev *dev, int bar);

/**
 * pci_sysfs_parent - the bridge above a function, from the sysfs path
 * @root: the devices directory
 * @bdf: the function
 * @parent: where the bridge's address goes (16 bytes), "" on a root bus
 *
 * Return: 0, or -ENOENT.
 */
int pci_sysfs_parent(const char *root, const char *bdf, char *parent);

/**
 * struct phys_dma_buf - locked process memory with known physical addresses
 * @va: the CPU mapping
 * @len: bytes
 * @hugepage: backed by 2 MiB pages (physically contiguous per 2 MiB)
 */
struct phys_dma_buf {
	void *va;
	size_t len;
	bool hugepage;
};

/**
 * phys_dma_alloc - allocate memory a device can DMA to by physical address
 * @buf: filled in
 * @len: bytes (rounded up to pages; to 2 MiB for hugepages)
 * @hugepage: ask for hugepages (physically contiguous up to 2 MiB); falls
 *	      back to 4 KiB pages when none are available
 *
 * Return: 0, -EPERM when not root (pagemap hides physical addresses),
 * -ENOMEM.
 */
int phys_dma_alloc(struct phys_dma_buf *buf, size_t len, bool hugepage);

/**
 * phys_dma_free - free it
 * @buf: the buffer
 */
void phys_dma_free(struct phys_dma_buf *buf);

/**
 * virt_to_phys_self - the physical address behind a locked process address
 * @addr: the address
 *
 * Return: the physical address, or 0 when unknown (not present, not root).
 */
uint64_t virt_to_phys_self(const void *addr);

#endif /* HETMEM_PCI_SYSFS_H */
