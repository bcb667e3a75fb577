// SPDX-License-Identifier: MIT
/*
 * CONFIG_IOMMU=n: there is no IOMMU. Every host bridge lets bus addresses
 * through unchanged (route.c), and the domain API refuses to create
 * domains, as the kernel's does on a machine without an IOMMU.
 */
#include <errno.h>

#include <hetmem/iommu.h>

struct iommu_domain *iommu_domain_alloc(void)
{
	return NULL;
}

void iommu_domain_free(struct iommu_domain *domain)
{
}

int iommu_attach_device(struct iommu_domain *domain, struct pci_dev *dev)
{
	return -ENODEV;
}

void iommu_detach_device(struct iommu_domain *domain, struct pci_dev *dev)
{
}

struct iommu_domain *iommu_get_domain_for_dev(struct pci_dev *dev)
{
	return NULL;
}

int iommu_map(struct iommu_domain *domain, uint64_t iova, uint64_t paddr, size_t size, int prot)
{
	return -ENODEV;
}

size_t iommu_unmap(struct iommu_domain *domain, uint64_t iova, size_t size)
{
	return 0;
}

uint64_t iommu_iova_to_phys(struct iommu_domain *domain, uint64_t iova)
{
	return 0;
}

size_t iommu_translate(struct iommu_domain *domain, uint64_t iova, size_t len, int prot,
		       uint64_t *paddr)
{
	return 0;
}

void iommu_report_fault(struct iommu_domain *domain, struct pci_dev *dev, uint64_t iova, int prot)
{
}

uint64_t iommu_domain_faults(struct iommu_domain *domain, struct iommu_fault *last)
{
	return 0;
}
