// SPDX-License-Identifier: MIT
/*
 * The emulated IOMMU's I/O page tables.
 *
 * Four levels of 512 entries, indexed by IOVA bits 47:39, 38:30, 29:21 and
 * 20:12, as x86 second-level tables are. A leaf entry holds the CPU address
 * of a 4 KiB page with the permission bits in its low bits:
 *
 *   63                                   12 11        2  1  0
 *   +--------------------------------------+----------+--+--+
 *   |            CPU page address          |    0     | W| R|
 *   +--------------------------------------+----------+--+--+
 *
 * Lookups run on every DMA, from device threads, without a lock: entries
 * and table pointers are published with release stores and read with
 * acquire loads, and tables are freed only with the domain. Map and unmap
 * serialise on the domain's mutex.
 */
#define pr_fmt(fmt) "iommu: " fmt

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hetmem/iommu.h>
#include <hetmem/log.h>
#include "internal.h"
#include "lib/trace.h"

#define LEVELS 4
#define LEVEL_BITS 9
#define ENTRIES (1 << LEVEL_BITS)
#define PTE_PROT_MASK (IOMMU_READ | IOMMU_WRITE)
#define PTE_ADDR_MASK (~(IOMMU_PAGE_SIZE - 1))

struct io_table {
	uintptr_t e[ENTRIES]; /* next-level table pointer, or leaf PTE */
};

struct iommu_domain {
	pthread_mutex_t lock;
	struct io_table *root;
	uint64_t faults;
	struct iommu_fault last;
	pthread_mutex_t fault_lock;
};

static unsigned int level_index(uint64_t iova, int level)
{
	/* level 0 is the root: bits 47:39 */
	return (iova >> (IOMMU_PAGE_SHIFT + LEVEL_BITS * (LEVELS - 1 - level))) & (ENTRIES - 1);
}

struct iommu_domain *iommu_domain_alloc(void)
{
	struct iommu_domain *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->root = calloc(1, sizeof(*d->root));
	if (!d->root) {
		free(d);
		return NULL;
	}
	pthread_mutex_init(&d->lock, NULL);
	pthread_mutex_init(&d->fault_lock, NULL);
	return d;
}

static void free_table(struct io_table *t, int level)
{
	if (level < LEVELS - 1)
		for (int i = 0; i < ENTRIES; i++)
			if (t->e[i])
				free_table((struct io_table *)t->e[i], level + 1);
	free(t);
}

/*
 * Devices point at their domain; the fabric owns the devices. A domain
 * freed while devices are attached leaves them attached to nothing, which
 * the fabric treats as "reaches nothing". The fabric keeps no list of a
 * domain's devices, so the caller detaches them first; the pointer check in
 * iommu_detach_device() makes a late detach harmless.
 */
void iommu_domain_free(struct iommu_domain *domain)
{
	if (!domain)
		return;
	free_table(domain->root, 0);
	pthread_mutex_destroy(&domain->lock);
	pthread_mutex_destroy(&domain->fault_lock);
	free(domain);
}

int iommu_attach_device(struct iommu_domain *domain, struct pci_dev *dev)
{
	struct iommu_domain *old = NULL;

	pthread_rwlock_wrlock(&dev->fabric->lock);
	if (dev->iommu && dev->iommu != domain)
		old = dev->iommu;
	else
		dev->iommu = domain;
	pthread_rwlock_unlock(&dev->fabric->lock);
	return old ? -EBUSY : 0;
}

void iommu_detach_device(struct iommu_domain *domain, struct pci_dev *dev)
{
	pthread_rwlock_wrlock(&dev->fabric->lock);
	if (dev->iommu == domain)
		dev->iommu = NULL;
	pthread_rwlock_unlock(&dev->fabric->lock);
}

struct iommu_domain *iommu_get_domain_for_dev(struct pci_dev *dev)
{
	struct iommu_domain *d;

	pthread_rwlock_rdlock(&dev->fabric->lock);
	d = dev->iommu;
	pthread_rwlock_unlock(&dev->fabric->lock);
	return d;
}

/* The leaf slot of @iova, allocating tables on the way if @alloc. */
static uintptr_t *pte_slot(struct iommu_domain *d, uint64_t iova, bool alloc)
{
	struct io_table *t = d->root;

	for (int level = 0; level < LEVELS - 1; level++) {
		uintptr_t *slot = &t->e[level_index(iova, level)];
		struct io_table *next = (struct io_table *)__atomic_load_n(slot, __ATOMIC_ACQUIRE);

		if (!next) {
			if (!alloc)
				return NULL;
			next = calloc(1, sizeof(*next));
			if (!next)
				return NULL;
			__atomic_store_n(slot, (uintptr_t)next, __ATOMIC_RELEASE);
		}
		t = next;
	}
	return &t->e[level_index(iova, LEVELS - 1)];
}

static bool iova_range_ok(uint64_t iova, uint64_t size)
{
	const uint64_t top = 1ULL << IOMMU_IOVA_BITS;

	return size && !(iova & (IOMMU_PAGE_SIZE - 1)) && !(size & (IOMMU_PAGE_SIZE - 1)) &&
	       iova < top && size <= top - iova;
}

int iommu_map(struct iommu_domain *domain, uint64_t iova, uint64_t paddr, size_t size, int prot)
{
	int ret = 0;

	if (!iova_range_ok(iova, size) || (paddr & (IOMMU_PAGE_SIZE - 1)) ||
	    !(prot & PTE_PROT_MASK) || (prot & ~PTE_PROT_MASK))
		return -EINVAL;

	pthread_mutex_lock(&domain->lock);
	/* All or nothing: check the whole range first. */
	for (uint64_t o = 0; o < size; o += IOMMU_PAGE_SIZE) {
		uintptr_t *slot = pte_slot(domain, iova + o, false);

		if (slot && *slot) {
			ret = -EEXIST;
			goto out;
		}
	}
	for (uint64_t o = 0; o < size; o += IOMMU_PAGE_SIZE) {
		uintptr_t *slot = pte_slot(domain, iova + o, true);

		if (!slot) {
			/* Undo what this call mapped; tables stay for reuse. */
			for (uint64_t u = 0; u < o; u += IOMMU_PAGE_SIZE)
				__atomic_store_n(pte_slot(domain, iova + u, false), 0,
						 __ATOMIC_RELEASE);
			ret = -ENOMEM;
			goto out;
		}
		__atomic_store_n(slot, (uintptr_t)(paddr + o) | (uintptr_t)prot, __ATOMIC_RELEASE);
	}
	trace_probe(iommu_map, iova, paddr, size, prot);
out:
	pthread_mutex_unlock(&domain->lock);
	return ret;
}

size_t iommu_unmap(struct iommu_domain *domain, uint64_t iova, size_t size)
{
	size_t unmapped = 0;

	if (!iova_range_ok(iova, size))
		return 0;
	pthread_mutex_lock(&domain->lock);
	for (uint64_t o = 0; o < size; o += IOMMU_PAGE_SIZE) {
		uintptr_t *slot = pte_slot(domain, iova + o, false);

		if (slot && *slot) {
			__atomic_store_n(slot, 0, __ATOMIC_RELEASE);
			unmapped += IOMMU_PAGE_SIZE;
		}
	}
	pthread_mutex_unlock(&domain->lock);
	trace_probe(iommu_unmap, iova, size);
	return unmapped;
}

static uintptr_t lookup(struct iommu_domain *d, uint64_t iova)
{
	uintptr_t *slot;

	if (iova >> IOMMU_IOVA_BITS)
		return 0;
	slot = pte_slot(d, iova, false);
	return slot ? __atomic_load_n(slot, __ATOMIC_ACQUIRE) : 0;
}

uint64_t iommu_iova_to_phys(struct iommu_domain *domain, uint64_t iova)
{
	uintptr_t pte = lookup(domain, iova);

	return pte ? (pte & PTE_ADDR_MASK) + (iova & (IOMMU_PAGE_SIZE - 1)) : 0;
}

size_t iommu_translate(struct iommu_domain *domain, uint64_t iova, size_t len, int prot,
		       uint64_t *paddr)
{
	uint64_t first = 0, expect = 0;
	size_t done = 0;

	while (done < len) {
		uint64_t cur = iova + done;
		uintptr_t pte = lookup(domain, cur);
		uint64_t pa = (pte & PTE_ADDR_MASK) + (cur & (IOMMU_PAGE_SIZE - 1));
		size_t chunk = IOMMU_PAGE_SIZE - (cur & (IOMMU_PAGE_SIZE - 1));

		if (!pte || (pte & prot) != (uintptr_t)prot)
			break;
		if (done == 0)
			first = pa;
		else if (pa != expect)
			break; /* contiguous in IOVA, not in CPU addresses */
		if (chunk > len - done)
			chunk = len - done;
		done += chunk;
		expect = pa + chunk;
	}
	if (done)
		*paddr = first;
	return done;
}

void iommu_report_fault(struct iommu_domain *domain, struct pci_dev *dev, uint64_t iova, int prot)
{
	trace_probe(iommu_fault, dev->name, iova, prot);
	if (!domain)
		return;
	pthread_mutex_lock(&domain->fault_lock);
	domain->faults++;
	domain->last.iova = iova;
	domain->last.prot = prot;
	snprintf(domain->last.requester, sizeof(domain->last.requester), "%s", pci_name(dev));
	pthread_mutex_unlock(&domain->fault_lock);
}

uint64_t iommu_domain_faults(struct iommu_domain *domain, struct iommu_fault *last)
{
	uint64_t n;

	pthread_mutex_lock(&domain->fault_lock);
	n = domain->faults;
	if (last && n)
		*last = domain->last;
	pthread_mutex_unlock(&domain->fault_lock);
	return n;
}
