// SPDX-License-Identifier: MIT
/*
 * Data pointers from DMA-mapped scatterlists: PRPs and SGLs.
 *
 * PRPs (NVMe 1.4 sec. 4.3), with 4 KiB memory pages:
 *
 *   PRP1  the first byte; may have an offset into its page (dword aligned)
 *   PRP2  nothing, when the data ends in PRP1's page;
 *         the second page, when it ends there;
 *         else a PRP list: the address of a page of 8-byte entries, one per
 *         further page, each page aligned. When the entries do not fit one
 *         list page, its last entry points to the next list page:
 *
 *     PRP2 -> [ p1 | p2 | ... | p511 | next ] -> [ p512 | ... | p1022 | next ] -> ...
 *
 *   So every segment after the first must start on a page boundary and
 *   every segment before the last must end on one; a scatterlist that is
 *   not like that cannot be described with PRPs (the caller then uses an
 *   SGL or a bounce buffer).
 *
 * SGLs (sec. 4.4): one Data Block descriptor per segment, byte aligned
 * unless the controller asks for dword alignment and granularity.
 * A single segment fits in the command itself. Otherwise the command holds
 * a (Last) Segment descriptor pointing to a list page of descriptors; when
 * they do not fit one page, the last descriptor of a page is a Segment
 * descriptor to the next page (a Last Segment descriptor when the next page
 * is the final one):
 *
 *   SGL1 = Segment(list0, 4096) -> [ D0 ... D254 | LastSegment(list1, n*16) ] -> [ D255 ... ]
 *
 * Both builders only write the command and the list pages given; they
 * allocate nothing.
 */
#include <endian.h>
#include <errno.h>

#include "host.h"

#define PAGE_OFF(a) ((a) & (NVME_PAGE_SIZE - 1))

/**
 * nvme_prp_list_pages - list pages a transfer of @max_transfer bytes may need
 * @max_transfer: bytes
 *
 * An unaligned transfer of n pages' worth spans n + 1 pages: PRP1 and n
 * list entries. k list pages hold 511 * k + 1 entries.
 *
 * Return: the number of pages, 0 when PRP1 and PRP2 always suffice.
 */
unsigned int nvme_prp_list_pages(size_t max_transfer)
{
	size_t entries = DIV_ROUND_UP(max_transfer, NVME_PAGE_SIZE);

	if (entries < 2)
		return 0;
	return (unsigned int)DIV_ROUND_UP(entries - 1, NVME_PRPS_PER_PAGE - 1);
}

/**
 * nvme_sgl_list_pages - segment pages an SGL of @max_segs data blocks may need
 * @max_segs: data blocks
 *
 * k pages hold 255 * k + 1 descriptors.
 *
 * Return: the number of pages, 0 when the command's own descriptor suffices.
 */
unsigned int nvme_sgl_list_pages(unsigned int max_segs)
{
	if (max_segs < 2)
		return 0;
	return DIV_ROUND_UP(max_segs - 1, NVME_SGLS_PER_PAGE - 1);
}

/* Walks the page addresses after PRP1 across the segments. */
struct prp_iter {
	struct scatterlist *sg;
	unsigned int left; /* segments after @sg */
	dma_addr_t addr; /* next address in @sg */
	size_t rem; /* bytes of @sg from @addr */
};

static dma_addr_t prp_next(struct prp_iter *it)
{
	dma_addr_t page;
	size_t take;

	if (!it->rem) {
		it->sg = sg_next(it->sg);
		it->left--;
		it->addr = sg_dma_address(it->sg);
		it->rem = sg_dma_len(it->sg);
	}
	page = it->addr;
	take = it->rem < NVME_PAGE_SIZE ? it->rem : NVME_PAGE_SIZE;
	it->addr += take;
	it->rem -= take;
	return page;
}

/* Whether the segments meet the PRP rules (see the top of this file). */
static bool prp_describable(struct scatterlist *sg, unsigned int nents)
{
	if (sg_dma_address(sg) & 3)
		return false;
	for (unsigned int i = 0; i < nents; i++, sg = sg_next(sg)) {
		dma_addr_t start = sg_dma_address(sg), end = start + sg_dma_len(sg);

		if (!sg_dma_len(sg))
			return false;
		if (i > 0 && PAGE_OFF(start))
			return false;
		if (i < nents - 1 && PAGE_OFF(end))
			return false;
	}
	return true;
}

/**
 * nvme_build_prps - describe mapped segments with PRP1/PRP2 and list pages
 * @cmd: the command; prp1, prp2 and PSDT are set
 * @sg: the mapped segments (sg_dma_address/sg_dma_len)
 * @nents: how many, at least one
 * @lists: list pages
 * @nr_lists: how many
 *
 * Return: 0, -EINVAL when the segments break the PRP rules (misaligned
 * start, a gap inside a page, an empty segment), -E2BIG when the list
 * pages are too few.
 */
int nvme_build_prps(struct nvme_command *cmd, struct scatterlist *sg, unsigned int nents,
		    const struct nvme_list_page *lists, unsigned int nr_lists)
{
	struct prp_iter it = { .sg = sg, .left = nents - 1 };
	size_t total = 0, first;
	unsigned int entries, pages, idx = 0, page = 0;
	uint64_t *list;
	struct scatterlist *s;
	unsigned int i;

	if (!nents || !prp_describable(sg, nents))
		return -EINVAL;
	for (s = sg, i = 0; i < nents; i++, s = sg_next(s))
		total += sg_dma_len(s);
	it.addr = sg_dma_address(sg);
	it.rem = sg_dma_len(sg);
	first = NVME_PAGE_SIZE - PAGE_OFF(it.addr);
	if (first > it.rem)
		first = it.rem;
	cmd->flags = (uint8_t)((cmd->flags & ~NVME_CMD_PSDT_MASK) | NVME_CMD_PSDT_PRP);
	cmd->prp1 = htole64(it.addr);
	cmd->prp2 = 0;
	it.addr += first;
	it.rem -= first;
	total -= first;
	if (!total)
		return 0;
	/* Every entry after PRP1 is a whole page but maybe the last. */
	entries = (unsigned int)DIV_ROUND_UP(total, NVME_PAGE_SIZE);
	if (entries == 1) {
		cmd->prp2 = htole64(prp_next(&it));
		return 0;
	}
	pages = DIV_ROUND_UP(entries - 1, NVME_PRPS_PER_PAGE - 1);
	if (pages > nr_lists)
		return -E2BIG;
	cmd->prp2 = htole64(lists[0].dma);
	list = lists[0].cpu;
	for (unsigned int e = 0; e < entries; e++) {
		/* The last slot of a list page chains when more than one entry is left. */
		if (idx == NVME_PRPS_PER_PAGE - 1 && entries - e > 1) {
			list[idx] = htole64(lists[page + 1].dma);
			list = lists[++page].cpu;
			idx = 0;
		}
		list[idx++] = htole64(prp_next(&it));
	}
	return 0;
}

static void sgl_desc(struct nvme_sgl_desc *d, uint64_t addr, uint32_t len, uint8_t type)
{
	d->addr = htole64(addr);
	d->length = htole32(len);
	d->rsvd[0] = d->rsvd[1] = d->rsvd[2] = 0;
	d->type = type;
}

/**
 * nvme_build_sgl - describe mapped segments with an SGL
 * @cmd: the command; SGL1 and PSDT are set
 * @sg: the mapped segments
 * @nents: how many, at least one
 * @lists: segment pages
 * @nr_lists: how many
 * @dword: the controller needs dword alignment and granularity of every
 *	   data block (Identify SGLS bits 1:0 = 10b)
 *
 * Return: 0, -EINVAL for no or an empty segment, or one breaking @dword,
 * -E2BIG when the segment pages are too few.
 */
int nvme_build_sgl(struct nvme_command *cmd, struct scatterlist *sg, unsigned int nents,
		   const struct nvme_list_page *lists, unsigned int nr_lists, bool dword)
{
	const uint8_t data = NVME_SGL_TYPE(NVME_SGL_FMT_DATA_DESC, NVME_SGL_FMT_ADDRESS);
	const uint8_t seg = NVME_SGL_TYPE(NVME_SGL_FMT_SEG_DESC, NVME_SGL_FMT_ADDRESS);
	const uint8_t last = NVME_SGL_TYPE(NVME_SGL_FMT_LAST_SEG_DESC, NVME_SGL_FMT_ADDRESS);
	unsigned int pages, left = nents;
	struct scatterlist *s = sg;

	if (!nents)
		return -EINVAL;
	for (unsigned int i = 0; i < nents; i++, s = sg_next(s))
		if (!sg_dma_len(s) || (dword && ((sg_dma_address(s) | sg_dma_len(s)) & 3)))
			return -EINVAL;
	/* PSDT 01b: SGL for data, a contiguous metadata buffer if any (sec. 4.2). */
	cmd->flags = (uint8_t)((cmd->flags & ~NVME_CMD_PSDT_MASK) | NVME_CMD_PSDT_SGL);
	if (nents == 1) {
		sgl_desc(&cmd->sgl, sg_dma_address(sg), sg_dma_len(sg), data);
		return 0;
	}
	pages = DIV_ROUND_UP(nents - 1, NVME_SGLS_PER_PAGE - 1);
	if (pages > nr_lists)
		return -E2BIG;
	/* Descriptors in page p: all remaining on the last page, else 255 and a link. */
	sgl_desc(&cmd->sgl, lists[0].dma,
		 (pages == 1 ? nents : NVME_SGLS_PER_PAGE) * sizeof(struct nvme_sgl_desc),
		 pages == 1 ? last : seg);
	s = sg;
	for (unsigned int p = 0; p < pages; p++) {
		struct nvme_sgl_desc *d = lists[p].cpu;
		unsigned int here = p == pages - 1 ? left : NVME_SGLS_PER_PAGE - 1;

		for (unsigned int i = 0; i < here; i++, s = sg_next(s))
			sgl_desc(&d[i], sg_dma_address(s), sg_dma_len(s), data);
		left -= here;
		if (p < pages - 1) {
			bool next_last = p + 1 == pages - 1;
			unsigned int next = next_last ? left : NVME_SGLS_PER_PAGE;

			sgl_desc(&d[here], lists[p + 1].dma, next * sizeof(struct nvme_sgl_desc),
				 next_last ? last : seg);
		}
	}
	return 0;
}
