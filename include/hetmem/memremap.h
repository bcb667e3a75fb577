/* SPDX-License-Identifier: MIT */
/*
 * ZONE_DEVICE: device memory as pages.
 *
 * A struct dev_pagemap describes a range of device memory; memremap_pages()
 * gives every page of it a struct page and enters the range in the
 * special-page lookup, so that any address of it — its pfn, or a pointer
 * into a CPU mapping of it — leads back to the page, the map and its owner.
 *
 * Where userspace forces a difference from the kernel:
 *  - A pfn names a page, not a physical address. System memory is the
 *    process's own: its pfns are user virtual addresses >> PAGE_SHIFT and it
 *    has no struct page (pfn_to_page() and virt_to_page() return NULL for
 *    it). Device pages' pfns lie above the user address space: a P2P page's
 *    pfn is its BAR's CPU address >> PAGE_SHIFT, a device-private page's
 *    comes from request_free_mem_region().
 *  - The CPU reaches CPU-addressable device memory (P2PDMA, GENERIC,
 *    COHERENT) through mappings in the process, not a direct map: the map's
 *    @vaddr gives the first one, and further mappings (a p2pmem mmap) are
 *    entered with pgmap_add_alias().
 *  - Page references: a page is free at refcount 0. Each page in use holds
 *    one reference on its map; memunmap_pages() waits for the last.
 */
#ifndef HETMEM_MEMREMAP_H
#define HETMEM_MEMREMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAGE_SHIFT 12
#define PAGE_SIZE (1UL << PAGE_SHIFT)
#define PAGE_MASK (~(PAGE_SIZE - 1))

struct dev_pagemap;
struct vm_fault;

/* Kernel values (include/linux/memremap.h). */
enum memory_type {
	MEMORY_DEVICE_PRIVATE = 1,
	MEMORY_DEVICE_COHERENT,
	MEMORY_DEVICE_FS_DAX,
	MEMORY_DEVICE_GENERIC,
	MEMORY_DEVICE_PCI_P2PDMA,
};

/* Page flags. */
#define PG_locked 0

/**
 * struct page - one page of device memory
 * @flags: PG_* bits
 * @_refcount: references; 0 means free
 * @pfn: its page frame number
 * @pgmap: the map it belongs to
 * @zone_device_data: the driver's
 * @private: the memory manager's (migration keeps the CPU address here)
 */
struct page {
	unsigned long flags;
	int _refcount;
	uint64_t pfn;
	struct dev_pagemap *pgmap;
	void *zone_device_data;
	uintptr_t private;
};

/**
 * struct dev_pagemap_ops - a map owner's callbacks
 * @page_free: a page's last reference went away
 * @migrate_to_ram: the CPU touched a device-private page; move it home.
 *		    Returns 0 or a VM_FAULT_* code.
 */
struct dev_pagemap_ops {
	void (*page_free)(struct page *page);
	unsigned int (*migrate_to_ram)(struct vm_fault *vmf);
};

/**
 * struct range - an inclusive range, as the kernel's
 * @start: first byte
 * @end: last byte
 */
struct range {
	uint64_t start;
	uint64_t end;
};

static inline uint64_t range_len(const struct range *r)
{
	return r->end - r->start + 1;
}

struct pgmap_private;

/**
 * struct dev_pagemap - a range of device memory as pages
 * @type: what kind of memory
 * @flags: unused, zero
 * @ops: callbacks; DEVICE_PRIVATE maps need both
 * @owner: the driver's cookie; device-private pages are recognised by it
 * @vaddr: the CPU's mapping of range 0, for the types the CPU can address
 *	   (one range only), or NULL
 * @priv: private to memremap.c
 * @nr_range: entries in @ranges (0 is taken as 1, using @range)
 * @range: the single range
 * @ranges: several ranges, in CPU/pfn address space, page aligned
 */
struct dev_pagemap {
	enum memory_type type;
	unsigned int flags;
	const struct dev_pagemap_ops *ops;
	void *owner;
	void *vaddr;
	struct pgmap_private *priv;
	int nr_range;
	union {
		struct range range;
		struct range ranges[1];
	};
};

/**
 * memremap_pages - give a range of device memory struct pages
 * @pgmap: the map, filled in by the caller; it must stay valid until
 *	   memunmap_pages() returns
 * @nid: NUMA node (unused)
 *
 * Return: @pgmap->vaddr when set, else the address of the first page in pfn
 * space; ERR_PTR(-EINVAL) for a DEVICE_PRIVATE map without migrate_to_ram
 * or page_free, an unknown type, an empty or unaligned range, or a
 * CPU-addressable map with @vaddr and several ranges; ERR_PTR(-EBUSY) when
 * a range overlaps a map already present; ERR_PTR(-ENOMEM).
 */
void *memremap_pages(struct dev_pagemap *pgmap, int nid);

/**
 * memunmap_pages - take a map down
 * @pgmap: a map memremap_pages() accepted
 *
 * New references fail from the moment this is called; it then waits until
 * every page reference is gone, removes the map from the lookup and frees
 * its pages.
 */
void memunmap_pages(struct dev_pagemap *pgmap);

/**
 * get_dev_pagemap - a counted reference on the map holding @pfn
 * @pfn: any pfn
 *
 * Return: the map, or NULL when @pfn is ordinary memory or its map is
 * going away. Drop the reference with put_dev_pagemap().
 */
struct dev_pagemap *get_dev_pagemap(uint64_t pfn);

/**
 * put_dev_pagemap - drop a reference taken by get_dev_pagemap()
 * @pgmap: the map, or NULL
 */
void put_dev_pagemap(struct dev_pagemap *pgmap);

/**
 * pgmap_tryget - take a reference on a live map
 * @pgmap: the map
 *
 * Return: false when the map is going away.
 */
bool pgmap_tryget(struct dev_pagemap *pgmap);

/**
 * pgmap_add_alias - enter another CPU mapping of a map's pages
 * @pgmap: the map
 * @vaddr: the mapping, page aligned, below 2^47
 * @len: its length, a page multiple
 * @pfn: the pfn of the page @vaddr maps
 *
 * Afterwards virt_to_page() resolves pointers into [@vaddr, @vaddr + @len).
 * The alias holds a reference on the map: memunmap_pages() waits for its
 * removal.
 *
 * Return: 0, -EINVAL for a misaligned or out-of-map range, -EBUSY when the
 * mapping overlaps one already entered, -ENOMEM.
 */
int pgmap_add_alias(struct dev_pagemap *pgmap, void *vaddr, size_t len, uint64_t pfn);

/**
 * pgmap_remove_alias - forget a mapping entered with pgmap_add_alias()
 * @pgmap: the map
 * @vaddr: as given
 * @len: as given
 *
 * Return: 0, or -ENOENT when no such alias was entered.
 */
int pgmap_remove_alias(struct dev_pagemap *pgmap, void *vaddr, size_t len);

/**
 * pfn_to_page - the struct page of a device pfn
 * @pfn: any pfn
 *
 * Return: the page, or NULL for ordinary memory.
 */
struct page *pfn_to_page(uint64_t pfn);

/**
 * virt_to_page - the struct page behind a pointer
 * @addr: a pointer into process memory or into a CPU mapping of device
 *	  memory
 *
 * One table probe for ordinary memory (the answer is then NULL).
 *
 * Return: the device page, or NULL.
 */
struct page *virt_to_page(const void *addr);

/** page_to_pfn - a page's pfn */
static inline uint64_t page_to_pfn(const struct page *page)
{
	return page->pfn;
}

/**
 * page_address - the first CPU mapping of a device page
 * @page: the page
 *
 * Return: the address, or NULL when the CPU cannot address the page.
 */
void *page_address(const struct page *page);

/** page_pgmap - the map a device page belongs to */
static inline struct dev_pagemap *page_pgmap(const struct page *page)
{
	return page->pgmap;
}

/** is_zone_device_page - every struct page in hetmem is one */
static inline bool is_zone_device_page(const struct page *page)
{
	return page && page->pgmap;
}

/** is_device_private_page - whether @page is device-private memory */
static inline bool is_device_private_page(const struct page *page)
{
	return is_zone_device_page(page) && page->pgmap->type == MEMORY_DEVICE_PRIVATE;
}

/** is_device_coherent_page - whether @page is device-coherent memory */
static inline bool is_device_coherent_page(const struct page *page)
{
	return is_zone_device_page(page) && page->pgmap->type == MEMORY_DEVICE_COHERENT;
}

/** is_pci_p2pdma_page - whether @page is PCI peer-to-peer memory */
static inline bool is_pci_p2pdma_page(const struct page *page)
{
	return is_zone_device_page(page) && page->pgmap->type == MEMORY_DEVICE_PCI_P2PDMA;
}

/**
 * page_ref_count - a page's references
 * @page: the page
 *
 * Return: the count.
 */
int page_ref_count(const struct page *page);

/**
 * zone_device_page_init - hand out a free device page
 * @page: a page at refcount 0
 *
 * Sets the refcount to 1, takes a reference on the map and locks the page,
 * as the kernel does for a page a driver allocates.
 *
 * Return: 0, or -EBUSY when the page is in use, -ENODEV when its map is
 * going away.
 */
int zone_device_page_init(struct page *page);

/** get_page - take a reference on a page in use */
void get_page(struct page *page);

/**
 * put_page - drop a reference
 * @page: the page
 *
 * The last one calls the map's page_free() and releases the page's
 * reference on the map.
 */
void put_page(struct page *page);

/** lock_page - take PG_locked, waiting while another holder has it */
void lock_page(struct page *page);
/** unlock_page - clear PG_locked */
void unlock_page(struct page *page);
/** trylock_page - set PG_locked if clear; returns whether it did */
bool trylock_page(struct page *page);

/**
 * request_free_mem_region - reserve pfn space for device-private pages
 * @size: bytes, a page multiple
 *
 * The range lies above every host bridge window and never overlaps another
 * reservation.
 *
 * Return: the first address of the range, or 0 when @size is zero or not a
 * page multiple, or the space is exhausted.
 */
uint64_t request_free_mem_region(uint64_t size);

#endif /* HETMEM_MEMREMAP_H */
