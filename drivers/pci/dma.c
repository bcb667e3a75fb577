// SPDX-License-Identifier: MIT
/*
 * The DMA mapping layer.
 *
 * Every segment costs one probe of the special-page lookup. Ordinary
 * process memory (the probe finds nothing) is mapped through the device's
 * IOMMU domain: an IOVA range is taken from the device's aperture and
 * mapped to the process pages, whose CPU addresses are their virtual
 * addresses. Behind a passthrough host bridge (or without an IOMMU) the
 * CPU address is used as is.
 *
 * Peer-to-peer pages follow the map type between their provider and the
 * device (pci_p2pdma_map_type_of(), cached):
 *
 *   BUS_ADDR          dma = cpu + (bus - cpu offset of the provider's host
 *                     bridge); no IOMMU entry, the segment is marked so
 *                     unmapping skips the IOMMU;
 *   THRU_HOST_BRIDGE  an IOVA mapped to the page's CPU address, so the
 *                     request crosses the root complex and the IOMMU sends
 *                     it down to the BAR;
 *   NOT_SUPPORTED     -EREMOTEIO.
 *
 * Process memory that was a p2pmem/allocate mapping of a provider since
 * released (p2pmem-revoke.c) is neither: its pages are gone and the range
 * faults. Mapping any byte of it is -EFAULT, as the kernel's
 * pin_user_pages() fails on such a VMA, and logged; without that check the
 * IOMMU would map the range and the device's copy would fault.
 *
 * The IOVA aperture of a device is 64 GiB chosen clear of every host
 * bridge window of the fabric (the kernel reserves PCI windows in its IOVA
 * allocator for the same reason): an IOVA must never be claimed by a peer
 * BAR below a switch on its way up.
 */
#define pr_fmt(fmt) "dma: " fmt

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include <hetmem/dma-mapping.h>
#include <hetmem/iommu.h>
#include <hetmem/log.h>
#include <hetmem/memremap.h>
#include <hetmem/pci-p2pdma.h>
#include "internal.h"
#include "lib/genalloc.h"
#include "lib/trace.h"

#define IOVA_APERTURE_SIZE (64ULL << 30)

struct dma_state {
	struct iommu_domain *domain;
	bool owns_domain;
	struct gen_pool *iova;
	uint64_t iova_base;
};

#ifdef CONFIG_ZONE_DEVICE
#define lookup_virt(p) virt_to_page(p)
#define lookup_pfn(pfn) pfn_to_page(pfn)
#else
/* Without ZONE_DEVICE every address is ordinary memory. */
#define lookup_virt(p) ((void)(p), (struct page *)NULL)
#define lookup_pfn(pfn) ((void)(pfn), (struct page *)NULL)
#endif

static pthread_mutex_t dma_setup_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread int last_error;

static bool dma_translated(const struct pci_dev *dev)
{
#ifdef CONFIG_IOMMU
	return !dev->host->info.iommu_passthrough;
#else
	return false;
#endif
}

static bool overlaps_windows(struct pci_fabric *f, uint64_t base, uint64_t size)
{
	struct pci_host_bridge *hb;

	list_for_each_entry(hb, &f->host_bridges, node) {
		const struct pci_host_bridge_info *in = &hb->info;

		if ((in->mem_size && base < in->mem_base + in->mem_size &&
		     in->mem_base < base + size) ||
		    (in->pref_size && base < in->pref_base + in->pref_size &&
		     in->pref_base < base + size))
			return true;
	}
	return false;
}

static uint64_t pick_aperture(struct pci_fabric *f)
{
	static const uint64_t candidates[] = { 1ULL << 32, 1ULL << 40, 1ULL << 44, 1ULL << 46 };

	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
		if (!overlaps_windows(f, candidates[i], IOVA_APERTURE_SIZE))
			return candidates[i];
	return 0;
}

static struct dma_state *dma_state_get(struct pci_dev *dev)
{
	struct dma_state *st = __atomic_load_n(&dev->dma, __ATOMIC_ACQUIRE);

	if (st)
		return st;
	pthread_mutex_lock(&dma_setup_lock);
	st = dev->dma;
	if (st)
		goto out;
	st = calloc(1, sizeof(*st));
	if (!st)
		goto out;
	st->iova_base = pick_aperture(dev->fabric);
	st->iova = st->iova_base ? gen_pool_create(PAGE_SHIFT) : NULL;
	if (!st->iova || gen_pool_add(st->iova, st->iova_base, st->iova_base, IOVA_APERTURE_SIZE))
		goto fail;
	/* A device nobody attached gets a domain of its own, as a default domain. */
	st->domain = iommu_get_domain_for_dev(dev);
	if (!st->domain) {
		st->domain = iommu_domain_alloc();
		if (!st->domain || iommu_attach_device(st->domain, dev))
			goto fail;
		st->owns_domain = true;
	}
	__atomic_store_n(&dev->dma, st, __ATOMIC_RELEASE);
	goto out;
fail:
	pr_err("%s: cannot set up DMA translation", dev->name);
	if (st->owns_domain)
		iommu_domain_free(st->domain);
	gen_pool_destroy(st->iova);
	free(st);
	st = NULL;
out:
	pthread_mutex_unlock(&dma_setup_lock);
	return st;
}

void pci_dma_release_dev(struct pci_dev *dev)
{
	struct dma_state *st = dev->dma;

	if (!st)
		return;
	dev->dma = NULL;
	if (st->owns_domain) {
		iommu_detach_device(st->domain, dev);
		iommu_domain_free(st->domain);
	}
	gen_pool_destroy(st->iova);
	free(st);
}

static int dir_prot(enum dma_data_direction dir)
{
	switch (dir) {
	case DMA_TO_DEVICE:
		return IOMMU_READ;
	case DMA_FROM_DEVICE:
		return IOMMU_WRITE;
	case DMA_BIDIRECTIONAL:
		return IOMMU_READ | IOMMU_WRITE;
	default:
		return 0;
	}
}

/* Map [cpu, cpu + size) for @dev through its IOMMU, or pass it through. */
static int map_cpu_range(struct pci_dev *dev, uint64_t cpu, size_t size, int prot,
			 dma_addr_t *out)
{
	uint64_t start = cpu & PAGE_MASK, len = ((cpu + size + PAGE_SIZE - 1) & PAGE_MASK) - start;
	struct dma_state *st;
	uintptr_t iova;
	int ret;

	if (!dma_translated(dev)) {
		*out = cpu;
		return 0;
	}
	st = dma_state_get(dev);
	if (!st)
		return -ENOMEM;
	iova = gen_pool_alloc(st->iova, len);
	if (!iova)
		return -ENOSPC;
	ret = iommu_map(st->domain, iova, start, len, prot);
	if (ret) {
		gen_pool_free(st->iova, iova, len);
		return ret;
	}
	*out = iova + (cpu - start);
	return 0;
}

static bool in_aperture(const struct dma_state *st, dma_addr_t addr)
{
	return st && addr >= st->iova_base && addr - st->iova_base < IOVA_APERTURE_SIZE;
}

static void unmap_iova(struct pci_dev *dev, dma_addr_t addr, size_t size)
{
	struct dma_state *st = __atomic_load_n(&dev->dma, __ATOMIC_ACQUIRE);
	uint64_t start = addr & PAGE_MASK, len = ((addr + size + PAGE_SIZE - 1) & PAGE_MASK) - start;

	if (!dma_translated(dev))
		return;
	if (!in_aperture(st, addr)) {
		/* A peer's bus address was never an IOVA: nothing to undo. */
		if (!overlaps_windows(dev->fabric, addr, 1))
			pr_err("%s: unmapping 0x%llx, which was never mapped", dev->name,
			       (unsigned long long)addr);
		return;
	}
	iommu_unmap(st->domain, start, len);
	if (gen_pool_free(st->iova, start, len))
		pr_err("%s: unmapping 0x%llx+0x%zx, which was not mapped that way", dev->name,
		       (unsigned long long)addr, size);
}

/*
 * Resolve one segment: @page is its first device page (NULL for process
 * memory at @cpu). @last is the device page of its last byte, which must be
 * in the same run of pages.
 */
static int map_segment(struct pci_dev *dev, struct page *page, struct page *last, uint64_t cpu,
		       size_t size, enum dma_data_direction dir, dma_addr_t *out, bool *bus)
{
	int prot = dir_prot(dir);
	struct dev_pagemap *pgmap;
	enum pci_p2pdma_map_type type;

	*bus = false;
	if (!size || !prot)
		return -EINVAL;
	if (!page) {
		if (last)
			return -EINVAL; /* process memory running into device memory */
		if (p2pmem_revoked(cpu, size)) {
			pr_warn("%s: DMA mapping of 0x%llx+0x%zx refused: a p2pmem mapping revoked when its provider went away",
				dev->name, (unsigned long long)cpu, size);
			return -EFAULT;
		}
		return map_cpu_range(dev, cpu, size, prot, out);
	}
	pgmap = page->pgmap;
	if (!last || last->pgmap != pgmap ||
	    last - page != (ptrdiff_t)(((cpu & ~PAGE_MASK) + size - 1) >> PAGE_SHIFT))
		return -EINVAL;
	/* From here on @cpu is the device memory's CPU address, not a mapping of it. */
	cpu = (page->pfn << PAGE_SHIFT) + (cpu & ~PAGE_MASK);
	if (pgmap->type != MEMORY_DEVICE_PCI_P2PDMA)
		return -EINVAL; /* device-private or unreachable device memory */
#ifdef CONFIG_PCI_P2PDMA
	type = pci_p2pdma_map_type_of(pci_p2pdma_pgmap_provider(pgmap), dev, NULL, 0);
	trace_probe(dma_map_p2p, dev->name, cpu, size, (int)type);
	switch (type) {
	case PCI_P2PDMA_MAP_BUS_ADDR:
		*out = cpu + pci_p2pdma_pgmap_bus_offset(pgmap);
		*bus = true;
		return 0;
	case PCI_P2PDMA_MAP_THRU_HOST_BRIDGE:
		return map_cpu_range(dev, cpu, size, prot, out);
	default:
		return -EREMOTEIO;
	}
#else
	(void)type;
	return -EREMOTEIO; /* P2P pages without the P2PDMA layer: nobody can resolve them */
#endif
}

static dma_addr_t finish(int ret, dma_addr_t addr)
{
	last_error = ret;
	return ret ? DMA_MAPPING_ERROR : addr;
}

dma_addr_t dma_map_single(struct pci_dev *dev, void *ptr, size_t size,
			  enum dma_data_direction dir)
{
	dma_addr_t addr = 0;
	bool bus;
	int ret;

	ret = map_segment(dev, lookup_virt(ptr), size ? lookup_virt((char *)ptr + size - 1) : NULL,
			  (uintptr_t)ptr, size, dir, &addr, &bus);
	trace_probe(dma_map, dev->name, (uintptr_t)ptr, size, addr, ret);
	return finish(ret, addr);
}

dma_addr_t dma_map_page(struct pci_dev *dev, struct page *page, size_t offset, size_t size,
			enum dma_data_direction dir)
{
	dma_addr_t addr = 0;
	uint64_t cpu;
	bool bus;
	int ret;

	if (!page || !size)
		return finish(-EINVAL, 0);
	cpu = (page->pfn << PAGE_SHIFT) + offset;
	ret = map_segment(dev, lookup_pfn(cpu >> PAGE_SHIFT),
			  lookup_pfn((cpu + size - 1) >> PAGE_SHIFT), cpu, size, dir, &addr, &bus);
	trace_probe(dma_map, dev->name, cpu, size, addr, ret);
	return finish(ret, addr);
}

void dma_unmap_single(struct pci_dev *dev, dma_addr_t addr, size_t size,
		      enum dma_data_direction dir)
{
	unmap_iova(dev, addr, size);
}

void dma_unmap_page(struct pci_dev *dev, dma_addr_t addr, size_t size,
		    enum dma_data_direction dir)
{
	dma_unmap_single(dev, addr, size, dir);
}

int dma_mapping_error(struct pci_dev *dev, dma_addr_t addr)
{
	if (addr != DMA_MAPPING_ERROR)
		return 0;
	return last_error ? last_error : -ENOMEM;
}

void dma_unmap_sg(struct pci_dev *dev, struct scatterlist *sgl, int nents,
		  enum dma_data_direction dir)
{
	struct scatterlist *sg;
	int i;

	for_each_sg(sgl, sg, nents, i) {
		if (sg_dma_is_bus_address(sg))
			sg_dma_unmark_bus_address(sg);
		else if (sg->dma_length)
			unmap_iova(dev, sg->dma_address, sg->dma_length);
		sg->dma_length = 0;
	}
}

int dma_map_sg(struct pci_dev *dev, struct scatterlist *sgl, int nents,
	       enum dma_data_direction dir)
{
	struct scatterlist *sg;
	int i, ret = 0;

	if (nents <= 0)
		return -EINVAL;
	for_each_sg(sgl, sg, nents, i) {
		struct page *first, *last;
		uint64_t cpu;
		bool bus;

		sg->dma_length = 0;
		sg->dma_flags = 0;
		if (sg->buf) {
			cpu = (uintptr_t)sg->buf;
			first = lookup_virt(sg->buf);
			last = sg->length ? lookup_virt((char *)sg->buf + sg->length - 1) : NULL;
		} else if (sg->page) {
			cpu = (sg->page->pfn << PAGE_SHIFT) + sg->offset;
			first = lookup_pfn(cpu >> PAGE_SHIFT);
			last = lookup_pfn((cpu + sg->length - 1) >> PAGE_SHIFT);
		} else {
			ret = -EINVAL;
			break;
		}
		ret = map_segment(dev, first, last, cpu, sg->length, dir, &sg->dma_address, &bus);
		trace_probe(dma_map, dev->name, cpu, sg->length, sg->dma_address, ret);
		if (ret)
			break;
		sg->dma_length = sg->length;
		if (bus)
			sg_dma_mark_bus_address(sg);
	}
	if (ret) {
		/* All or nothing: undo the segments mapped before the failure. */
		dma_unmap_sg(dev, sgl, i, dir);
		last_error = ret;
		return ret;
	}
	return nents;
}
