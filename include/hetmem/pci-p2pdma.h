/* SPDX-License-Identifier: MIT */
/*
 * PCI peer-to-peer DMA: BAR memory published as pages other devices DMA to.
 *
 * The kernel's interface under the kernel's names. Providers register a BAR
 * range (pci_p2pdma_add_resource()) and publish it; clients find the
 * closest provider (pci_p2pmem_find()) and allocate from its pool; the DMA
 * layer resolves P2P pages by the map type between provider and client.
 * Where the kernel passes struct device, hetmem passes struct pci_dev.
 */
#ifndef HETMEM_PCI_P2PDMA_H
#define HETMEM_PCI_P2PDMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hetmem/scatterlist.h>

struct pci_dev;
struct dev_pagemap;

typedef uint64_t pci_bus_addr_t;

/* Kernel values. */
enum pci_p2pdma_map_type {
	PCI_P2PDMA_MAP_UNKNOWN = 0,
	PCI_P2PDMA_MAP_NOT_SUPPORTED,
	PCI_P2PDMA_MAP_BUS_ADDR,
	PCI_P2PDMA_MAP_THRU_HOST_BRIDGE,
};

/**
 * pci_p2pdma_add_resource - make part of a BAR peer-to-peer memory
 * @pdev: the provider
 * @bar: a memory BAR the CPU maps (pci_iomap() is not NULL)
 * @size: bytes, or 0 for the rest of the BAR from @offset
 * @offset: where in the BAR the range starts, page aligned
 *
 * Creates a MEMORY_DEVICE_PCI_P2PDMA page map over the range and adds it to
 * the device's pool. Not published until pci_p2pmem_publish().
 *
 * Return: 0, or -EINVAL (not a CPU-mapped memory BAR, @offset or @size out
 * of the BAR or unaligned), -EBUSY (the range is already a page map),
 * -ENOMEM.
 */
int pci_p2pdma_add_resource(struct pci_dev *pdev, int bar, size_t size, uint64_t offset);

/**
 * pci_p2pmem_publish - let pci_p2pmem_find() hand this provider out
 * @pdev: the provider
 * @publish: whether to
 */
void pci_p2pmem_publish(struct pci_dev *pdev, bool publish);

/**
 * pci_has_p2pmem - whether @pdev has published p2pmem
 * @pdev: the device
 *
 * Return: true when it has a pool and published it.
 */
bool pci_has_p2pmem(struct pci_dev *pdev);

/**
 * pci_alloc_p2pmem - allocate peer-to-peer memory
 * @pdev: the provider
 * @size: bytes (rounded up to pages)
 *
 * The allocation holds a reference on its page map: the provider cannot
 * go away under it. Its memory reads zeros (it is cleared when handed out).
 *
 * Return: the CPU address, or NULL when @pdev has no pool, the pool cannot
 * satisfy @size, or the provider is going away.
 */
void *pci_alloc_p2pmem(struct pci_dev *pdev, size_t size);

/**
 * pci_free_p2pmem - free peer-to-peer memory
 * @pdev: the provider
 * @addr: what pci_alloc_p2pmem() returned
 * @size: the size allocated
 *
 * An address that is not a live allocation of @pdev is logged and ignored.
 */
void pci_free_p2pmem(struct pci_dev *pdev, void *addr, size_t size);

/**
 * pci_p2pmem_virt_to_bus - the bus address of p2pmem
 * @pdev: the provider
 * @addr: a CPU address in its pool
 *
 * Return: the bus address, or 0 when @addr is not in the pool.
 */
pci_bus_addr_t pci_p2pmem_virt_to_bus(struct pci_dev *pdev, void *addr);

/**
 * pci_p2pmem_alloc_sgl - allocate p2pmem as a one-entry scatterlist
 * @pdev: the provider
 * @nents: set to the number of entries
 * @length: bytes
 *
 * Return: the list, or NULL on failure.
 */
struct scatterlist *pci_p2pmem_alloc_sgl(struct pci_dev *pdev, unsigned int *nents,
					 uint32_t length);

/**
 * pci_p2pmem_free_sgl - free a list from pci_p2pmem_alloc_sgl()
 * @pdev: the provider
 * @sgl: the list
 */
void pci_p2pmem_free_sgl(struct pci_dev *pdev, struct scatterlist *sgl);

/**
 * pci_p2pdma_distance_many - how far a provider is from a set of clients
 * @provider: the provider
 * @clients: the clients
 * @num_clients: how many
 * @verbose: log why a client cannot use the provider
 *
 * The distance between two functions is the number of hops to their
 * closest common upstream bridge and back: 0 for the same function, 2 for
 * functions of one device, 4 for devices below one switch.
 *
 * Return: the sum of the distances, or -1 when any client cannot reach the
 * provider (map type NOT_SUPPORTED) or @num_clients is not positive.
 */
int pci_p2pdma_distance_many(struct pci_dev *provider, struct pci_dev **clients, int num_clients,
			     bool verbose);

/**
 * pci_p2pdma_distance - pci_p2pdma_distance_many() for one client
 * @provider: the provider
 * @client: the client
 * @verbose: log why, when it cannot
 *
 * Return: the distance, or -1.
 */
int pci_p2pdma_distance(struct pci_dev *provider, struct pci_dev *client, bool verbose);

/**
 * pci_p2pdma_map_type_of - the map type between a provider and a client
 * @provider: the provider
 * @client: the client
 * @reason: if not NULL, a sentence explaining a type other than BUS_ADDR
 *	    (which bridge has which ACS bit set, which host bridge is not
 *	    allowed), or "" for BUS_ADDR
 * @len: size of @reason
 *
 * Computed as the kernel does it and cached per provider and client (the
 * cache follows configuration changes such as ACS writes).
 *
 * Return: PCI_P2PDMA_MAP_BUS_ADDR, _THRU_HOST_BRIDGE or _NOT_SUPPORTED.
 */
enum pci_p2pdma_map_type pci_p2pdma_map_type_of(struct pci_dev *provider, struct pci_dev *client,
						char *reason, size_t len);

/**
 * pci_p2pmem_find_many - the closest published provider for a set of clients
 * @clients: the clients
 * @num_clients: how many
 *
 * Ties are broken at random, as the kernel does.
 *
 * Return: the provider, or NULL when none serves every client.
 */
struct pci_dev *pci_p2pmem_find_many(struct pci_dev **clients, int num_clients);

/**
 * pci_p2pmem_find - pci_p2pmem_find_many() for one client
 * @client: the client
 *
 * Return: the provider, or NULL.
 */
struct pci_dev *pci_p2pmem_find(struct pci_dev *client);

/**
 * pci_p2pdma_release - take a provider's p2pmem down
 * @pdev: the provider
 *
 * Unpublishes, revokes every p2pmem/allocate mapping still there, then
 * waits until every allocation is freed and every page reference dropped,
 * then removes the page maps and the pool. As on device removal in the
 * kernel: a revoked mapping stays reserved for its user, faults on every
 * access (SIGBUS), cannot be mapped for DMA (-EFAULT), and is unmapped with
 * pci_p2pmem_munmap().
 */
void pci_p2pdma_release(struct pci_dev *pdev);

/**
 * pci_p2pdma_try_release - pci_p2pdma_release() unless memory is in use
 * @pdev: the provider
 *
 * Return: 0 when released (or nothing to release), -EBUSY when
 * allocations are live (nothing is changed).
 */
int pci_p2pdma_try_release(struct pci_dev *pdev);

/**
 * pci_p2pdma_pgmap_provider - the provider of a P2PDMA page map
 * @pgmap: a MEMORY_DEVICE_PCI_P2PDMA map created by
 *	   pci_p2pdma_add_resource()
 *
 * Return: the provider.
 */
struct pci_dev *pci_p2pdma_pgmap_provider(struct dev_pagemap *pgmap);

/**
 * pci_p2pdma_pgmap_bus_offset - bus address minus CPU address of the map
 * @pgmap: a P2PDMA map
 *
 * Return: the offset (two's complement: bus = cpu + offset).
 */
uint64_t pci_p2pdma_pgmap_bus_offset(struct dev_pagemap *pgmap);

/* --- the p2pmem attributes of a provider (sysfs p2pmem/ in the kernel) ---- */

/**
 * pci_p2pmem_attr_show - read p2pmem/size, p2pmem/available or p2pmem/published
 * @pdev: the provider
 * @attr: "size", "available" or "published"
 * @buf: where the text goes ("%zu\n" or "0\n"/"1\n", as sysfs prints it)
 * @len: size of @buf
 *
 * Return: the length written, -ENOENT for another name, -ENODEV when @pdev
 * has no p2pmem, -ENOSPC when @buf is too small.
 */
long pci_p2pmem_attr_show(struct pci_dev *pdev, const char *attr, char *buf, size_t len);

/**
 * pci_p2pmem_mmap - mmap() of p2pmem/allocate: map a fresh chunk of the pool
 * @pdev: the provider
 * @len: bytes; rounded up to pages (callers map lengths like 2*4095 + N)
 * @prot: PROT_READ and/or PROT_WRITE
 * @flags: must include MAP_SHARED
 * @offset: must be 0
 *
 * The mapping aliases the BAR memory the chunk covers; pointers into it
 * are P2P memory to the DMA layer.
 *
 * Return: the mapping, or ERR_PTR(-EINVAL) for a private mapping, a
 * non-zero offset or a zero length, ERR_PTR(-ENOMEM) when the pool cannot
 * satisfy @len, ERR_PTR(-ENODEV) when @pdev has no p2pmem or it is going
 * away.
 */
void *pci_p2pmem_mmap(struct pci_dev *pdev, size_t len, int prot, int flags, long offset);

/**
 * pci_p2pmem_munmap - munmap() of all or part of a p2pmem/allocate mapping
 * @pdev: the provider
 * @addr: page aligned, inside a mapping from pci_p2pmem_mmap()
 * @len: bytes (rounded up to pages); may cover part of a mapping
 *
 * The pages unmapped leave the lookup at once; a chunk returns to the pool
 * when its last page is unmapped. A mapping revoked by pci_p2pdma_release()
 * is unmapped the same way, even once @pdev is gone with its fabric (the
 * pointer then only names the provider), as long as the range is all
 * revoked.
 *
 * Return: 0, -EINVAL when @addr is unaligned or the range is not part of
 * a live or revoked mapping of @pdev, -ENOMEM when the revoked mapping a
 * hole is cut in cannot be split (nothing is unmapped).
 */
int pci_p2pmem_munmap(struct pci_dev *pdev, void *addr, size_t len);

#endif /* HETMEM_PCI_P2PDMA_H */
