// SPDX-License-Identifier: MIT
/*
 * Data pointers (NVMe 1.4 sec. 4.3 PRPs, sec. 4.4 SGLs) into segment
 * lists, and the controller's DMA.
 *
 * PRPs, with page size P (CC.MPS):
 *
 *   PRP1  first page; may carry an offset (dword aligned)
 *   PRP2  unused when the data fits PRP1's page;
 *         the second page when it fits two (offset 0);
 *         else a PRP list pointer (may carry an offset): list entries are
 *         page addresses (offset 0); when more entries are needed than fit
 *         in the rest of the list page, its last entry points to the next
 *         list page:
 *
 *         PRP2 -> [ e0 e1 ... e510 | next ] -> [ e511 e512 ... ]
 *
 * SGLs (PSDT = 01b): SGL1 in the SQE is a Data Block, Segment or Last
 * Segment descriptor. A segment is an array of descriptors; only its last
 * may point to another segment, and the segment a Last Segment descriptor
 * points to holds Data Blocks only. Identify reports SGLS = 10b (Dword
 * granularity): Data Block addresses and lengths are multiples of 4.
 * Bit Bucket, Keyed and transport descriptors are not supported.
 *
 *   bad PRP offset                          PRP Offset Invalid, DNR
 *   unsupported descriptor type             SGL Descriptor Type Invalid, DNR
 *   subtype other than Address              SGL Descriptor Subtype Invalid, DNR
 *   segment length 0 or not a multiple      Invalid SGL Segment Descriptor, DNR
 *   of 16; a segment in a last segment;
 *   a segment that ends without a pointer
 *   segment pointer not last in a segment   Invalid Number of SGL Descriptors, DNR
 *   Data Block not dword aligned            SGL Data Block Granularity Invalid, DNR
 *   SGL shorter or longer than the data     Data SGL Length Invalid, DNR
 *   PRP list or segment unreadable          Data Transfer Error
 *
 * DMA goes through the fabric from the controller's own function (bus
 * mastering must be on; the IOMMU checks every page), except for addresses
 * in the controller memory space (CMBMSC.CMSE with a valid CBA), which are
 * BAR2's memory and are copied directly: a device does not send requests
 * to itself. PRP lists, SGL segments, SQs and data may all be in the CMB
 * (CMBSZ.LISTS, SQS, RDS, WDS).
 */
#define pr_fmt(fmt) "nvme-emu: " fmt

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <hetmem/log.h>
#include "emu.h"

#define PRPS_PER_PAGE (NVME_EMU_PAGE_SIZE / sizeof(uint64_t))
#define SGL_CHUNK     256 /* descriptors read per DMA */

/**
 * nvme_emu_dma - move data between the controller and a bus address
 * @emu: the controller
 * @addr: bus address, or an address in the enabled CMB
 * @buf: the controller's side
 * @len: bytes
 * @write: true to write @buf to @addr
 *
 * Return: 0, -EFAULT for a CMB range running past the CMB, or the
 * fabric's errors (-EPERM: bus mastering off, -EFAULT: IOMMU fault,
 * -EREMOTEIO: nothing claims the address).
 */
int nvme_emu_dma(struct nvme_emu *emu, uint64_t addr, void *buf, uint64_t len, bool write)
{
	uint64_t base = __atomic_load_n(&emu->cmb_base, __ATOMIC_ACQUIRE);

	if (base && addr >= base && addr - base < emu->cmb_size) {
		uint64_t off = addr - base;

		if (len > emu->cmb_size - off)
			return -EFAULT;
		if (write)
			memcpy(emu->cmb + off, buf, len);
		else
			memcpy(buf, emu->cmb + off, len);
		return 0;
	}
	return write ? pci_dma_write(emu->pdev, addr, buf, len) :
		       pci_dma_read(emu->pdev, addr, buf, len);
}

void nvme_emu_sg_free(struct nvme_emu_sg *sg)
{
	free(sg->seg);
	sg->seg = NULL;
	sg->nr = sg->cap = 0;
}

static int sg_add(struct nvme_emu *emu, struct nvme_emu_sg *sg, uint64_t addr, uint64_t len)
{
	struct nvme_emu_seg *last = sg->nr ? &sg->seg[sg->nr - 1] : NULL;

	if (!len)
		return 0;
	sg->len += len;
	/* Adjacent pieces merge, but never across the CMB's edge. */
	if (last && last->addr + last->len == addr &&
	    nvme_emu_in_cmb(emu, last->addr, 1) == nvme_emu_in_cmb(emu, addr, 1)) {
		last->len += len;
		return 0;
	}
	if (sg->nr == sg->cap) {
		unsigned int cap = sg->cap ? sg->cap * 2 : 64;
		struct nvme_emu_seg *seg = realloc(sg->seg, cap * sizeof(*seg));

		if (!seg)
			return -ENOMEM;
		sg->seg = seg;
		sg->cap = cap;
	}
	sg->seg[sg->nr].addr = addr;
	sg->seg[sg->nr].len = len;
	sg->nr++;
	return 0;
}

#define SG_ADD(emu, req, sg, addr, len)          \
	do {                                     \
		if (sg_add(emu, sg, addr, len))  \
			return NVME_SC_INTERNAL; \
	} while (0)

/* --- PRP -------------------------------------------------------------------------- */

static uint16_t prp_list(struct nvme_emu *emu, struct nvme_emu_req *req, uint64_t list,
			 uint64_t len, struct nvme_emu_sg *sg)
{
	uint64_t ps = emu->page_size, entries[PRPS_PER_PAGE];

	if (list & 7)
		return nvme_emu_reject(req, NVME_DNR(NVME_SC_PRP_INVALID_OFFSET),
				       "PRP list pointer 0x%llx is not 8-byte aligned",
				       (unsigned long long)list);
	while (len) {
		uint64_t room = (ps - (list & (ps - 1))) / sizeof(uint64_t);
		uint64_t need = (len + ps - 1) / ps;
		bool chained = need > room;
		uint64_t nr = chained ? room : need;

		if (nvme_emu_dma(emu, list, entries, nr * sizeof(uint64_t), false))
			return nvme_emu_reject(req, NVME_SC_DATA_XFER_ERROR,
					       "reading the PRP list at 0x%llx failed",
					       (unsigned long long)list);
		for (uint64_t i = 0; i < nr - chained; i++) {
			uint64_t n = nvme_emu_min(len, ps);

			if (entries[i] & (ps - 1))
				return nvme_emu_reject(req, NVME_DNR(NVME_SC_PRP_INVALID_OFFSET),
						       "PRP list entry 0x%llx has an offset",
						       (unsigned long long)entries[i]);
			SG_ADD(emu, req, sg, entries[i], n);
			len -= n;
		}
		if (!chained)
			break;
		list = entries[nr - 1];
		if (list & (ps - 1))
			return nvme_emu_reject(req, NVME_DNR(NVME_SC_PRP_INVALID_OFFSET),
					       "PRP list chain pointer 0x%llx has an offset",
					       (unsigned long long)list);
	}
	return 0;
}

static uint16_t map_prp(struct nvme_emu *emu, struct nvme_emu_req *req, uint64_t len,
			struct nvme_emu_sg *sg)
{
	uint64_t ps = emu->page_size, prp1 = req->cmd.prp1, prp2 = req->cmd.prp2, n;

	if (prp1 & 3)
		return nvme_emu_reject(req, NVME_DNR(NVME_SC_PRP_INVALID_OFFSET),
				       "PRP1 0x%llx is not dword aligned",
				       (unsigned long long)prp1);
	n = nvme_emu_min(len, ps - (prp1 & (ps - 1)));
	SG_ADD(emu, req, sg, prp1, n);
	len -= n;
	if (!len)
		return 0;
	if (len > ps)
		return prp_list(emu, req, prp2, len, sg);
	if (prp2 & (ps - 1))
		return nvme_emu_reject(req, NVME_DNR(NVME_SC_PRP_INVALID_OFFSET),
				       "PRP2 0x%llx (second page) has an offset",
				       (unsigned long long)prp2);
	SG_ADD(emu, req, sg, prp2, len);
	return 0;
}

/* --- SGL -------------------------------------------------------------------------- */

static uint16_t sgl_data(struct nvme_emu *emu, struct nvme_emu_req *req,
			 const struct nvme_sgl_desc *d, uint64_t len, struct nvme_emu_sg *sg)
{
	if (d->type & 0xf)
		return nvme_emu_reject(req, NVME_DNR(NVME_SC_SGL_INVALID_SUBTYPE),
				       "Data Block subtype %u, only Address (0)", d->type & 0xf);
	if ((d->addr | d->length) & 3)
		return nvme_emu_reject(req, NVME_DNR(NVME_SC_SGL_INVALID_GRANULARITY),
				       "Data Block 0x%llx+%u not dword aligned (SGLS=10b)",
				       (unsigned long long)d->addr, d->length);
	if (sg->len + d->length > len)
		return nvme_emu_reject(req, NVME_DNR(NVME_SC_SGL_INVALID_DATA),
				       "SGL describes more than the %llu bytes to move",
				       (unsigned long long)len);
	SG_ADD(emu, req, sg, d->addr, d->length);
	return 0;
}

static bool is_segment(uint8_t type)
{
	return (type >> 4) == NVME_SGL_FMT_SEG_DESC || (type >> 4) == NVME_SGL_FMT_LAST_SEG_DESC;
}

static uint16_t bad_type(struct nvme_emu_req *req, uint8_t type)
{
	return nvme_emu_reject(req, NVME_DNR(NVME_SC_SGL_INVALID_TYPE),
			       "SGL descriptor type %u not supported", type >> 4);
}

/*
 * One segment: its descriptors, read SGL_CHUNK at a time. @next receives
 * the segment descriptor that ends it, if any.
 */
static uint16_t sgl_segment(struct nvme_emu *emu, struct nvme_emu_req *req,
			    const struct nvme_sgl_desc *seg, uint64_t len, struct nvme_emu_sg *sg,
			    unsigned int *descs, struct nvme_sgl_desc *next, bool *has_next)
{
	bool last = (seg->type >> 4) == NVME_SGL_FMT_LAST_SEG_DESC;
	uint32_t count = seg->length / sizeof(struct nvme_sgl_desc);
	struct nvme_sgl_desc d[SGL_CHUNK];
	uint16_t status;

	*has_next = false;
	for (uint32_t i = 0; i < count; i += SGL_CHUNK) {
		uint32_t chunk = (uint32_t)nvme_emu_min(count - i, SGL_CHUNK);
		uint64_t addr = seg->addr + (uint64_t)i * sizeof(*d);

		if (nvme_emu_dma(emu, addr, d, chunk * sizeof(*d), false))
			return nvme_emu_reject(req, NVME_SC_DATA_XFER_ERROR,
					       "reading the SGL segment at 0x%llx failed",
					       (unsigned long long)addr);
		for (uint32_t j = 0; j < chunk; j++) {
			if (++*descs > NVME_EMU_MAX_SGL_DESCS)
				return nvme_emu_reject(req, NVME_DNR(NVME_SC_SGL_INVALID_COUNT),
						       "more than %u SGL descriptors",
						       NVME_EMU_MAX_SGL_DESCS);
			if (is_segment(d[j].type)) {
				if (last)
					return nvme_emu_reject(
						req, NVME_DNR(NVME_SC_SGL_INVALID_LAST),
						"the last segment holds a segment descriptor");
				if (i + j != count - 1)
					return nvme_emu_reject(
						req, NVME_DNR(NVME_SC_SGL_INVALID_COUNT),
						"segment descriptor %u of %u is not the last",
						i + j, count);
				*next = d[j];
				*has_next = true;
			} else if ((d[j].type >> 4) == NVME_SGL_FMT_DATA_DESC) {
				status = sgl_data(emu, req, &d[j], len, sg);
				if (status)
					return status;
			} else {
				return bad_type(req, d[j].type);
			}
		}
	}
	if (!last && !*has_next)
		return nvme_emu_reject(req, NVME_DNR(NVME_SC_SGL_INVALID_LAST),
				       "a segment that is not the last ends without a segment "
				       "descriptor");
	return 0;
}

static uint16_t map_sgl(struct nvme_emu *emu, struct nvme_emu_req *req, uint64_t len,
			struct nvme_emu_sg *sg)
{
	struct nvme_sgl_desc d = req->cmd.sgl, next;
	unsigned int descs = 1;
	uint16_t status;
	bool more;

	for (;;) {
		uint8_t type = d.type >> 4;

		if (type == NVME_SGL_FMT_DATA_DESC) {
			status = sgl_data(emu, req, &d, len, sg);
			if (status)
				return status;
			break;
		}
		if (!is_segment(d.type))
			return bad_type(req, d.type);
		if (d.type & 0xf)
			return nvme_emu_reject(req, NVME_DNR(NVME_SC_SGL_INVALID_SUBTYPE),
					       "segment descriptor subtype %u, only Address (0)",
					       d.type & 0xf);
		if (!d.length || d.length % sizeof(struct nvme_sgl_desc))
			return nvme_emu_reject(req, NVME_DNR(NVME_SC_SGL_INVALID_LAST),
					       "segment of %u bytes: not a multiple of 16",
					       d.length);
		status = sgl_segment(emu, req, &d, len, sg, &descs, &next, &more);
		if (status)
			return status;
		if (!more)
			break;
		d = next;
	}
	if (sg->len != len)
		return nvme_emu_reject(req, NVME_DNR(NVME_SC_SGL_INVALID_DATA),
				       "SGL describes %llu bytes, the command moves %llu",
				       (unsigned long long)sg->len, (unsigned long long)len);
	return 0;
}

/* --- the interface ------------------------------------------------------------------- */

/**
 * nvme_emu_map_dptr - turn a command's data pointer into segments
 * @emu: the controller
 * @req: the command (PSDT says PRP or SGL)
 * @len: bytes the command moves, at least 1
 * @sg: the result, reset first
 *
 * Return: 0, or the NVMe status of a malformed pointer (logged).
 */
uint16_t nvme_emu_map_dptr(struct nvme_emu *emu, struct nvme_emu_req *req, uint64_t len,
			   struct nvme_emu_sg *sg)
{
	sg->nr = 0;
	sg->len = 0;
	if ((req->cmd.flags & NVME_CMD_PSDT_MASK) == NVME_CMD_PSDT_SGL)
		return map_sgl(emu, req, len, sg);
	return map_prp(emu, req, len, sg);
}

/**
 * nvme_emu_sg_xfer - move a command's data
 * @emu: the controller
 * @req: the command
 * @sg: its segments
 * @buf: @sg->len bytes on the controller's side
 * @to_host: true to write the host's buffer, false to read it
 *
 * Return: 0, or Data Transfer Error (logged) when a DMA fails; a prefix
 * may have moved.
 */
uint16_t nvme_emu_sg_xfer(struct nvme_emu *emu, struct nvme_emu_req *req,
			  const struct nvme_emu_sg *sg, void *buf, bool to_host)
{
	uint8_t *p = buf;

	for (unsigned int i = 0; i < sg->nr; i++) {
		const struct nvme_emu_seg *s = &sg->seg[i];
		uint64_t addr = req->stray ? req->stray_addr + (uint64_t)(p - (uint8_t *)buf) : s->addr;
		int ret = nvme_emu_dma(emu, addr, p, s->len, to_host);

		if (ret)
			return nvme_emu_reject(req, NVME_SC_DATA_XFER_ERROR,
					       "DMA %s 0x%llx+%llu failed: %s",
					       to_host ? "to" : "from", (unsigned long long)addr,
					       (unsigned long long)s->len, strerror(-ret));
		p += s->len;
	}
	return 0;
}

/**
 * nvme_emu_xfer - map a command's data pointer and move @len bytes
 * @emu: the controller
 * @req: the command
 * @buf: the controller's side
 * @len: bytes
 * @to_host: direction
 *
 * Return: 0 or the NVMe status of the failure (logged).
 */
uint16_t nvme_emu_xfer(struct nvme_emu *emu, struct nvme_emu_req *req, void *buf, uint64_t len,
		       bool to_host)
{
	uint16_t status = nvme_emu_map_dptr(emu, req, len, &emu->sg);

	return status ? status : nvme_emu_sg_xfer(emu, req, &emu->sg, buf, to_host);
}
