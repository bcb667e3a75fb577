/* SPDX-License-Identifier: MIT */
/*
 * The emulated IOMMU: I/O page tables between the fabric and host memory.
 *
 * A translated domain maps 4 KiB I/O virtual pages (IOVA, 48 bits) to CPU
 * addresses with read/write permissions. A device attached to a domain
 * reaches exactly what the domain maps; anything else it sends through the
 * root complex is blocked, counted as a fault and reported, never
 * performed. A device below a translating host bridge that is attached to
 * no domain reaches nothing. Host bridges in passthrough mode let the bus
 * address through unchanged.
 */
#ifndef HETMEM_IOMMU_H
#define HETMEM_IOMMU_H

#include <stddef.h>
#include <stdint.h>

struct iommu_domain;
struct pci_dev;

#define IOMMU_READ (1 << 0)
#define IOMMU_WRITE (1 << 1)

#define IOMMU_PAGE_SHIFT 12
#define IOMMU_PAGE_SIZE (1ULL << IOMMU_PAGE_SHIFT)
#define IOMMU_IOVA_BITS 48

/**
 * struct iommu_fault - the last blocked access of a domain
 * @iova: the address the device used
 * @prot: the access it wanted (IOMMU_READ or IOMMU_WRITE)
 * @requester: "dddd:bb:dd.f" of the device
 */
struct iommu_fault {
	uint64_t iova;
	int prot;
	char requester[16];
};

/**
 * iommu_domain_alloc - a new translated domain with an empty page table
 *
 * Return: the domain, or NULL when out of memory.
 */
struct iommu_domain *iommu_domain_alloc(void);

/**
 * iommu_domain_free - free a domain
 * @domain: the domain, or NULL
 *
 * Devices still attached are detached first (their DMA then faults).
 */
void iommu_domain_free(struct iommu_domain *domain);

/**
 * iommu_attach_device - translate @dev's DMA through @domain
 * @domain: the domain
 * @dev: the function
 *
 * Return: 0, or -EBUSY when @dev is attached to another domain.
 */
int iommu_attach_device(struct iommu_domain *domain, struct pci_dev *dev);

/**
 * iommu_detach_device - stop translating @dev's DMA through @domain
 * @domain: the domain
 * @dev: the function
 */
void iommu_detach_device(struct iommu_domain *domain, struct pci_dev *dev);

/**
 * iommu_get_domain_for_dev - the domain @dev is attached to
 * @dev: the function
 *
 * Return: the domain, or NULL.
 */
struct iommu_domain *iommu_get_domain_for_dev(struct pci_dev *dev);

/**
 * iommu_map - map [@iova, @iova + @size) to [@paddr, @paddr + @size)
 * @domain: the domain
 * @iova: I/O virtual address, page aligned
 * @paddr: CPU address, page aligned
 * @size: length, a multiple of the page size
 * @prot: IOMMU_READ and/or IOMMU_WRITE
 *
 * Return: 0, or -EINVAL for unaligned arguments, @prot zero or a range
 * beyond 48 bits, -EEXIST when part of the range is mapped (nothing is
 * changed), -ENOMEM.
 */
int iommu_map(struct iommu_domain *domain, uint64_t iova, uint64_t paddr, size_t size, int prot);

/**
 * iommu_unmap - remove the mappings in [@iova, @iova + @size)
 * @domain: the domain
 * @iova: page aligned
 * @size: a multiple of the page size
 *
 * Return: the number of bytes that were mapped and now are not.
 */
size_t iommu_unmap(struct iommu_domain *domain, uint64_t iova, size_t size);

/**
 * iommu_iova_to_phys - look up one address
 * @domain: the domain
 * @iova: any address
 *
 * Return: the CPU address, or 0 when unmapped.
 */
uint64_t iommu_iova_to_phys(struct iommu_domain *domain, uint64_t iova);

/**
 * iommu_translate - translate an access for the fabric
 * @domain: the domain
 * @iova: start
 * @len: length wanted
 * @prot: IOMMU_READ or IOMMU_WRITE
 * @paddr: the CPU address of @iova
 *
 * Return: how many bytes from @iova are mapped contiguously with @prot (at
 * most @len), or 0 when the first byte is not: a fault.
 */
size_t iommu_translate(struct iommu_domain *domain, uint64_t iova, size_t len, int prot,
		       uint64_t *paddr);

/**
 * iommu_report_fault - record a blocked access
 * @domain: the domain, or NULL for a device attached to none
 * @dev: the requester
 * @iova: the address
 * @prot: the access
 */
void iommu_report_fault(struct iommu_domain *domain, struct pci_dev *dev, uint64_t iova, int prot);

/**
 * iommu_domain_faults - how many accesses @domain blocked
 * @domain: the domain
 * @last: if not NULL and there was a fault, the last one
 *
 * Return: the count.
 */
uint64_t iommu_domain_faults(struct iommu_domain *domain, struct iommu_fault *last);

#endif /* HETMEM_IOMMU_H */
