/* SPDX-License-Identifier: MIT */
/*
 * Scatterlists: arrays of segments to DMA-map.
 *
 * A segment is either a pointer into process memory or into a CPU mapping
 * of device memory (sg_set_buf()), or a device page with an offset
 * (sg_set_page()), for device memory the CPU does not map. Lists are plain
 * arrays ending at the entry marked with sg_mark_end(); chaining is not
 * supported.
 */
#ifndef HETMEM_SCATTERLIST_H
#define HETMEM_SCATTERLIST_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef uint64_t dma_addr_t;

struct page;

#define SG_END 0x1
#define SG_DMA_BUS_ADDRESS 0x1

/**
 * struct scatterlist - one segment
 * @buf: CPU address of the segment, or NULL when @page is used
 * @page: a device page, or NULL when @buf is used
 * @offset: offset into @page
 * @length: bytes
 * @flags: SG_END on the last entry
 * @dma_address: after mapping: the address the device uses
 * @dma_length: after mapping: its length
 * @dma_flags: SG_DMA_BUS_ADDRESS when @dma_address is a PCI bus address
 *	       that bypasses the IOMMU (a peer BAR below a common switch)
 */
struct scatterlist {
	void *buf;
	struct page *page;
	unsigned int offset;
	unsigned int length;
	unsigned int flags;
	dma_addr_t dma_address;
	unsigned int dma_length;
	unsigned int dma_flags;
};

/** sg_init_table - clear @nents entries and mark the last as the end */
static inline void sg_init_table(struct scatterlist *sgl, unsigned int nents)
{
	memset(sgl, 0, sizeof(*sgl) * nents);
	if (nents)
		sgl[nents - 1].flags = SG_END;
}

/** sg_mark_end - make @sg the last entry */
static inline void sg_mark_end(struct scatterlist *sg)
{
	sg->flags |= SG_END;
}

/** sg_is_last - whether @sg is the last entry */
static inline bool sg_is_last(const struct scatterlist *sg)
{
	return sg->flags & SG_END;
}

/** sg_next - the entry after @sg, or NULL after the last */
static inline struct scatterlist *sg_next(struct scatterlist *sg)
{
	return sg_is_last(sg) ? NULL : sg + 1;
}

/** sg_set_buf - point @sg at @len bytes at @buf */
static inline void sg_set_buf(struct scatterlist *sg, void *buf, unsigned int len)
{
	sg->buf = buf;
	sg->page = NULL;
	sg->offset = 0;
	sg->length = len;
}

/** sg_set_page - point @sg at @len bytes at @offset into device page @page */
static inline void sg_set_page(struct scatterlist *sg, struct page *page, unsigned int len,
			       unsigned int offset)
{
	sg->buf = NULL;
	sg->page = page;
	sg->offset = offset;
	sg->length = len;
}

#define sg_dma_address(sg) ((sg)->dma_address)
#define sg_dma_len(sg) ((sg)->dma_length)

/** sg_dma_is_bus_address - whether the mapping of @sg bypasses the IOMMU */
static inline bool sg_dma_is_bus_address(const struct scatterlist *sg)
{
	return sg->dma_flags & SG_DMA_BUS_ADDRESS;
}

/** sg_dma_mark_bus_address - record that @sg maps to a PCI bus address */
static inline void sg_dma_mark_bus_address(struct scatterlist *sg)
{
	sg->dma_flags |= SG_DMA_BUS_ADDRESS;
}

/** sg_dma_unmark_bus_address - clear the mark */
static inline void sg_dma_unmark_bus_address(struct scatterlist *sg)
{
	sg->dma_flags &= ~SG_DMA_BUS_ADDRESS;
}

#define for_each_sg(sglist, sg, nr, i) \
	for ((i) = 0, (sg) = (sglist); (i) < (nr) && (sg); (i)++, (sg) = sg_next(sg))

#endif /* HETMEM_SCATTERLIST_H */
