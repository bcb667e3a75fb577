// SPDX-License-Identifier: MIT
/*
 * PCI peer-to-peer DMA providers: BAR ranges as page maps, the p2pmem pool,
 * allocation, and taking a provider down.
 *
 * The pool is keyed by CPU address (the pointer the process uses, inside
 * the fabric's mapping of the BAR) and remembers the bus address of every
 * chunk, so pci_p2pmem_virt_to_bus() is a pool lookup. Each allocation
 * holds a reference on its page map: memunmap_pages(), and so
 * pci_p2pdma_release(), waits for the last free.
 *
 * Memory is cleared when it is handed out, not when it is freed: an
 * allocation is its caller's alone from the moment the pool returns it, so
 * the clearing races with nobody, and a bogus free (logged and ignored)
 * can never wipe memory someone else holds. It also covers bytes that
 * reached free BAR memory some other way (the resource mapping, a peer's
 * DMA to the bus address, what the BAR held before it was added). Freed
 * bytes stay in the BAR until then, where only those paths reach them.
 */
#define pr_fmt(fmt) "p2pdma: " fmt

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <hetmem/err.h>
#include <hetmem/log.h>
#include "lib/genalloc.h"
#include "lib/trace.h"
#include "p2pdma.h"

static struct pci_p2pdma *p2pdma_setup(struct pci_dev *pdev)
{
	struct pci_p2pdma *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->pool = gen_pool_create(PAGE_SHIFT);
	if (!p->pool) {
		free(p);
		return NULL;
	}
	INIT_LIST_HEAD(&p->pgmaps);
	INIT_LIST_HEAD(&p->mmaps);
	pthread_mutex_init(&p->cache_lock, NULL);
	pthread_mutex_init(&p->mmap_lock, NULL);
	return p;
}

int pci_p2pdma_add_resource(struct pci_dev *pdev, int bar, size_t size, uint64_t offset)
{
	struct pci_p2pdma_pagemap *p2p_pgmap;
	struct pci_p2pdma *p;
	uint64_t len = pci_resource_len(pdev, bar);
	char *map = pci_iomap(pdev, bar);
	void *addr;
	int ret;

	if (!len || !map || pdev->kind != PCI_KIND_ENDPOINT) {
		pr_err("%s: BAR%d is not a memory BAR the CPU maps", pdev->name, bar);
		return -EINVAL;
	}
	if (offset >= len || offset & (PAGE_SIZE - 1))
		return -EINVAL;
	if (!size)
		size = len - offset;
	if (size > len - offset || size & (PAGE_SIZE - 1))
		return -EINVAL;

	p2p_pgmap = calloc(1, sizeof(*p2p_pgmap));
	if (!p2p_pgmap)
		return -ENOMEM;
	p2p_pgmap->provider = pdev;
	p2p_pgmap->bar = bar;
	p2p_pgmap->bar_offset = offset;
	p2p_pgmap->bus_offset = pci_bus_address(pdev, bar) - pci_resource_start(pdev, bar);
	p2p_pgmap->pgmap.type = MEMORY_DEVICE_PCI_P2PDMA;
	p2p_pgmap->pgmap.nr_range = 1;
	p2p_pgmap->pgmap.range.start = pci_resource_start(pdev, bar) + offset;
	p2p_pgmap->pgmap.range.end = p2p_pgmap->pgmap.range.start + size - 1;
	p2p_pgmap->pgmap.vaddr = map + offset;

	addr = memremap_pages(&p2p_pgmap->pgmap, 0);
	if (IS_ERR(addr)) {
		ret = PTR_ERR(addr);
		goto free_pgmap;
	}

	pthread_rwlock_wrlock(&pdev->p2p_lock);
	p = pdev->p2pdma;
	if (!p) {
		p = p2pdma_setup(pdev);
		pdev->p2pdma = p;
	}
	if (!p || p->releasing) {
		ret = p ? -ENODEV : -ENOMEM;
		goto unlock;
	}
	ret = gen_pool_add_owner(p->pool, (uintptr_t)addr, pci_bus_address(pdev, bar) + offset,
				 size, &p2p_pgmap->pgmap);
	if (ret)
		goto unlock;
	list_add_tail(&p2p_pgmap->node, &p->pgmaps);
	pthread_rwlock_unlock(&pdev->p2p_lock);

	pr_info("%s: added peer-to-peer DMA memory 0x%llx-0x%llx", pdev->name,
		(unsigned long long)p2p_pgmap->pgmap.range.start,
		(unsigned long long)p2p_pgmap->pgmap.range.end);
	return 0;

unlock:
	pthread_rwlock_unlock(&pdev->p2p_lock);
	memunmap_pages(&p2p_pgmap->pgmap);
free_pgmap:
	free(p2p_pgmap);
	return ret;
}

void pci_p2pmem_publish(struct pci_dev *pdev, bool publish)
{
	pthread_rwlock_wrlock(&pdev->p2p_lock);
	if (pdev->p2pdma && !pdev->p2pdma->releasing)
		pdev->p2pdma->published = publish;
	pthread_rwlock_unlock(&pdev->p2p_lock);
}

bool pci_has_p2pmem(struct pci_dev *pdev)
{
	bool ret;

	pthread_rwlock_rdlock(&pdev->p2p_lock);
	ret = pdev->p2pdma && pdev->p2pdma->published;
	pthread_rwlock_unlock(&pdev->p2p_lock);
	return ret;
}

void *pci_alloc_p2pmem(struct pci_dev *pdev, size_t size)
{
	struct dev_pagemap *pgmap = NULL;
	uintptr_t addr = 0;
	struct pci_p2pdma *p;

	if (!size)
		return NULL;
	pthread_rwlock_rdlock(&pdev->p2p_lock);
	p = pdev->p2pdma;
	if (!p || p->releasing)
		goto out;
	addr = gen_pool_alloc_owner(p->pool, size, (void **)&pgmap);
	if (!addr)
		goto out;
	/* The allocation pins its map; a map already going away hands out nothing. */
	if (!pgmap_tryget(pgmap)) {
		gen_pool_free(p->pool, addr, size);
		addr = 0;
	}
out:
	pthread_rwlock_unlock(&pdev->p2p_lock);
	/* The pool's granule is a page: the whole allocation. */
	if (addr)
		memset((void *)addr, 0, (size + PAGE_SIZE - 1) & PAGE_MASK);
	trace_probe(p2pmem_alloc, pdev->name, size, addr);
	return (void *)addr;
}

void pci_free_p2pmem(struct pci_dev *pdev, void *addr, size_t size)
{
	struct dev_pagemap *pgmap = NULL;
	struct pci_p2pdma *p;
	int ret = -ENODEV;

	pthread_rwlock_rdlock(&pdev->p2p_lock);
	p = pdev->p2pdma;
	if (p)
		ret = gen_pool_free_owner(p->pool, (uintptr_t)addr, size, (void **)&pgmap);
	pthread_rwlock_unlock(&pdev->p2p_lock);
	if (ret) {
		pr_err("%s: freeing %p (%zu bytes), which is not a live allocation of its pool",
		       pdev->name, addr, size);
		return;
	}
	trace_probe(p2pmem_free, pdev->name, size, (uintptr_t)addr);
	put_dev_pagemap(pgmap);
}

pci_bus_addr_t pci_p2pmem_virt_to_bus(struct pci_dev *pdev, void *addr)
{
	pci_bus_addr_t bus = 0;
	struct pci_p2pdma *p;

	if (!addr)
		return 0;
	pthread_rwlock_rdlock(&pdev->p2p_lock);
	p = pdev->p2pdma;
	if (p && gen_pool_has_addr(p->pool, (uintptr_t)addr, 1))
		bus = gen_pool_virt_to_phys(p->pool, (uintptr_t)addr);
	pthread_rwlock_unlock(&pdev->p2p_lock);
	return bus;
}

struct scatterlist *pci_p2pmem_alloc_sgl(struct pci_dev *pdev, unsigned int *nents,
					 uint32_t length)
{
	struct scatterlist *sg = malloc(sizeof(*sg));
	void *addr;

	if (!sg)
		return NULL;
	sg_init_table(sg, 1);
	addr = pci_alloc_p2pmem(pdev, length);
	if (!addr) {
		free(sg);
		return NULL;
	}
	sg_set_buf(sg, addr, length);
	*nents = 1;
	return sg;
}

void pci_p2pmem_free_sgl(struct pci_dev *pdev, struct scatterlist *sgl)
{
	struct scatterlist *sg;
	int i;

	if (!sgl)
		return;
	for_each_sg(sgl, sg, 1 << 30, i)
		if (sg->buf)
			pci_free_p2pmem(pdev, sg->buf, sg->length);
	free(sgl);
}

struct pci_dev *pci_p2pdma_pgmap_provider(struct dev_pagemap *pgmap)
{
	return to_p2p_pgmap(pgmap)->provider;
}

uint64_t pci_p2pdma_pgmap_bus_offset(struct dev_pagemap *pgmap)
{
	return to_p2p_pgmap(pgmap)->bus_offset;
}

/* Stop new allocations; return the state, or NULL when there is none. */
static struct pci_p2pdma *begin_release(struct pci_dev *pdev)
{
	struct pci_p2pdma *p;

	pthread_rwlock_wrlock(&pdev->p2p_lock);
	p = pdev->p2pdma;
	if (p) {
		p->published = false;
		p->releasing = true;
	}
	pthread_rwlock_unlock(&pdev->p2p_lock);
	return p;
}

void pci_p2pdma_release(struct pci_dev *pdev)
{
	struct pci_p2pdma_pagemap *pm, *next;
	struct pci_p2pdma *p = begin_release(pdev);

	if (!p)
		return;
	p2pmem_release_mmaps(pdev);
	/* Each memunmap_pages() waits until the map's allocations are freed. */
	list_for_each_entry_safe(pm, next, &p->pgmaps, node) {
		memunmap_pages(&pm->pgmap);
		list_del(&pm->node);
		free(pm);
	}
	pthread_rwlock_wrlock(&pdev->p2p_lock);
	pdev->p2pdma = NULL;
	pthread_rwlock_unlock(&pdev->p2p_lock);
	gen_pool_destroy(p->pool);
	pthread_mutex_destroy(&p->cache_lock);
	pthread_mutex_destroy(&p->mmap_lock);
	free(p);
	pr_info("%s: peer-to-peer DMA memory released", pdev->name);
}

int pci_p2pdma_try_release(struct pci_dev *pdev)
{
	struct pci_p2pdma *p;
	bool busy;

	pthread_rwlock_wrlock(&pdev->p2p_lock);
	p = pdev->p2pdma;
	busy = p && gen_pool_avail(p->pool) != gen_pool_size(p->pool);
	if (p && !busy) {
		/* Marked while still holding the lock: no allocation can slip in. */
		p->published = false;
		p->releasing = true;
	}
	pthread_rwlock_unlock(&pdev->p2p_lock);
	if (busy)
		return -EBUSY;
	pci_p2pdma_release(pdev);
	return 0;
}

void pci_p2pdma_release_dev(struct pci_dev *pdev)
{
	struct pci_p2pdma *p = pdev->p2pdma;

	if (p && gen_pool_avail(p->pool) != gen_pool_size(p->pool)) {
		/* Waiting would hang: leak rather than free memory still in use. */
		pr_err("%s: fabric destroyed with p2pmem still allocated", pdev->name);
		return;
	}
	pci_p2pdma_release(pdev);
}
