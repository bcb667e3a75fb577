/* SPDX-License-Identifier: MIT */
/*
 * The DMA mapping layer: what address a device must use to reach memory.
 *
 * Ordinary process memory is mapped through the device's IOMMU domain (an
 * IOVA), or used as is behind a passthrough host bridge. Memory that the
 * special-page lookup recognises as PCI peer-to-peer memory is resolved by
 * the map type between its provider and the device:
 *
 *   BUS_ADDR          the BAR's bus address (CPU address minus the
 *                     provider's host bridge offset); the segment is marked
 *                     and unmapping skips the IOMMU
 *   THRU_HOST_BRIDGE  an IOVA the IOMMU maps to the BAR's CPU address
 *   NOT_SUPPORTED     the mapping fails, -EREMOTEIO
 *
 * The device is a struct pci_dev (the kernel passes its struct device).
 * Each device gets an IOMMU domain on its first mapping if its host bridge
 * translates and it has none; IOVAs come from an aperture chosen clear of
 * every host bridge window, so an IOVA can never be mistaken for a peer's
 * BAR below a switch.
 */
#ifndef HETMEM_DMA_MAPPING_H
#define HETMEM_DMA_MAPPING_H

#include <stddef.h>
#include <stdint.h>

#include <hetmem/scatterlist.h>

struct pci_dev;
struct page;

#define DMA_MAPPING_ERROR (~(dma_addr_t)0)

/* Kernel values. */
enum dma_data_direction {
	DMA_BIDIRECTIONAL = 0,
	DMA_TO_DEVICE = 1,
	DMA_FROM_DEVICE = 2,
	DMA_NONE = 3,
};

/**
 * dma_map_single - map @size bytes at @ptr for @dev
 * @dev: the device that will DMA
 * @ptr: process memory or a CPU mapping of P2P memory
 * @size: bytes
 * @dir: which way data will move
 *
 * Return: the DMA address, or DMA_MAPPING_ERROR (a zero size, an invalid
 * direction, P2P memory the device cannot reach, device-private memory,
 * a p2pmem/allocate mapping revoked by its provider's release, IOVA space
 * or memory exhausted). dma_mapping_error() says which.
 */
dma_addr_t dma_map_single(struct pci_dev *dev, void *ptr, size_t size,
			  enum dma_data_direction dir);

/**
 * dma_unmap_single - undo dma_map_single()
 * @dev: the device
 * @addr: the DMA address returned
 * @size: the size mapped
 * @dir: the direction mapped
 */
void dma_unmap_single(struct pci_dev *dev, dma_addr_t addr, size_t size,
		      enum dma_data_direction dir);

/**
 * dma_map_page - map part of a device page for @dev
 * @dev: the device
 * @page: the page (P2P, generic or coherent device memory)
 * @offset: offset into the page
 * @size: bytes, within the map the page belongs to
 * @dir: direction
 *
 * Return: the DMA address, or DMA_MAPPING_ERROR.
 */
dma_addr_t dma_map_page(struct pci_dev *dev, struct page *page, size_t offset, size_t size,
			enum dma_data_direction dir);

/**
 * dma_unmap_page - undo dma_map_page()
 * @dev: the device
 * @addr: the DMA address returned
 * @size: the size mapped
 * @dir: the direction mapped
 */
void dma_unmap_page(struct pci_dev *dev, dma_addr_t addr, size_t size,
		    enum dma_data_direction dir);

/**
 * dma_mapping_error - why the last mapping on this thread failed
 * @dev: the device
 * @addr: what the mapping call returned
 *
 * Return: 0 when @addr is a valid mapping, else the negative errno of the
 * failure: -EINVAL, -EREMOTEIO (P2P memory @dev cannot reach), -EFAULT
 * (a p2pmem/allocate mapping revoked by its provider's release), -ENOSPC
 * (IOVA space exhausted), -ENOMEM.
 */
int dma_mapping_error(struct pci_dev *dev, dma_addr_t addr);

/**
 * dma_map_sg - map every segment of a scatterlist for @dev
 * @dev: the device
 * @sgl: the list
 * @nents: number of entries
 * @dir: direction
 *
 * All or nothing: when one segment fails, the ones already mapped are
 * unmapped. Unlike the kernel's dma_map_sg(), which returns 0 on any
 * failure, this returns the errno (as the kernel's dma_map_sgtable() does).
 *
 * Return: the number of mapped entries (@nents), or -EREMOTEIO when a
 * segment is P2P memory whose map type to @dev is NOT_SUPPORTED, -EINVAL
 * for a malformed segment (no address, zero length, device-private memory,
 * a segment running past its map), -EFAULT (a segment touching a
 * p2pmem/allocate mapping revoked by its provider's release), -ENOSPC,
 * -ENOMEM.
 */
int dma_map_sg(struct pci_dev *dev, struct scatterlist *sgl, int nents,
	       enum dma_data_direction dir);

/**
 * dma_unmap_sg - undo dma_map_sg()
 * @dev: the device
 * @sgl: the list
 * @nents: the number given to dma_map_sg()
 * @dir: direction
 *
 * Segments marked as bus addresses skip the IOMMU.
 */
void dma_unmap_sg(struct pci_dev *dev, struct scatterlist *sgl, int nents,
		  enum dma_data_direction dir);

#endif /* HETMEM_DMA_MAPPING_H */
