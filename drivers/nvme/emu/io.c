// SPDX-License-Identifier: MIT
/*
 * The NVM command set (NVM Command Set sec. 6 of NVMe 1.4): the I/O
 * opcode table and its handlers.
 *
 *   opcode  command             data          NSID
 *   00h     Flush               -             one or FFFFFFFFh (all)
 *   01h     Write               host -> ctrl  one
 *   02h     Read                ctrl -> host  one
 *   05h     Compare             host -> ctrl  one
 *   08h     Write Zeroes        -             one
 *   09h     Dataset Management  host -> ctrl  one (ranges)
 *
 * Read/Write/Compare: SLBA in cdw10-11, NLB (0-based) in cdw12 bits 15:0,
 * FUA in bit 30. More than MDTS bytes is Invalid Field (Identify
 * Controller's MDTS); LBAs past the namespace are LBA Out of Range; both with DNR and
 * checked in that order, before the data pointer is looked at. A failing
 * DMA is Data Transfer Error; a failing backing file Write Fault or
 * Unrecovered Read Error.
 *
 * Data moves straight between a RAM namespace and the data pointer's
 * segments; file namespaces go through a bounce buffer.
 */
#define pr_fmt(fmt) "nvme-emu: " fmt

#include <string.h>

#include <hetmem/log.h>
#include "emu.h"

#define RW_FUA	       (1u << 30)
#define MAX_DSM_RANGES 256

static uint16_t check_lbas(struct nvme_emu *emu, struct nvme_emu_req *req, bool data, uint64_t *off,
			   uint64_t *len)
{
	struct nvme_emu_ns *ns = req->ns;
	uint64_t slba = req->cmd.cdw10 | (uint64_t)req->cmd.cdw11 << 32;
	uint64_t nlb = (req->cmd.cdw12 & 0xffff) + 1;
	uint64_t bytes = nlb << ns->lba_shift;

	if (data && bytes > NVME_EMU_MAX_XFER)
		return nvme_emu_reject(req, NVME_DNR(NVME_SC_INVALID_FIELD),
				       "%llu bytes, above MDTS (%zu)", (unsigned long long)bytes,
				       NVME_EMU_MAX_XFER);
	if (slba >= ns->nlb || nlb > ns->nlb - slba) {
		req->err_lba = slba;
		req->has_lba = true;
		return nvme_emu_reject(req, NVME_DNR(NVME_SC_LBA_RANGE),
				       "LBAs %llu+%llu past namespace %u's %llu",
				       (unsigned long long)slba, (unsigned long long)nlb, ns->nsid,
				       (unsigned long long)ns->nlb);
	}
	*off = slba << ns->lba_shift;
	*len = bytes;
	return 0;
}

static uint16_t media_error(struct nvme_emu *emu, struct nvme_emu_req *req, uint16_t status,
			    int err)
{
	pr_err("%s: namespace %u: %s: %s", emu->name, req->ns->nsid, req->op->name, strerror(-err));
	req->err_lba = req->cmd.cdw10 | (uint64_t)req->cmd.cdw11 << 32;
	req->has_lba = true;
	return status;
}

static uint16_t io_read(struct nvme_emu *emu, struct nvme_emu_req *req)
{
	struct nvme_emu_ns *ns = req->ns;
	uint64_t off, len;
	uint16_t status;
	uint8_t *buf;
	int ret;

	status = check_lbas(emu, req, true, &off, &len);
	if (!status)
		status = nvme_emu_map_dptr(emu, req, len, &emu->sg);
	if (status)
		return status;
	if (ns->ram) {
		buf = ns->ram + off;
	} else {
		buf = emu->bounce;
		/* FUA on a read: the media's copy, so the cache goes there first. */
		ret = (req->cmd.cdw12 & RW_FUA) ? nvme_emu_ns_flush_range(ns, off, len) : 0;
		if (!ret)
			ret = nvme_emu_ns_read(ns, off, buf, len);
		if (ret)
			return media_error(emu, req, NVME_SC_READ_ERROR, ret);
	}
	status = nvme_emu_sg_xfer(emu, req, &emu->sg, buf, true);
	if (!status) {
		emu->smart.host_reads++;
		emu->smart.bytes_read += len;
	}
	return status;
}

static uint16_t io_write(struct nvme_emu *emu, struct nvme_emu_req *req)
{
	struct nvme_emu_ns *ns = req->ns;
	uint64_t off, len;
	uint16_t status;
	int ret;

	status = check_lbas(emu, req, true, &off, &len);
	if (!status)
		status = nvme_emu_map_dptr(emu, req, len, &emu->sg);
	if (status)
		return status;
	if (ns->ram) {
		status = nvme_emu_sg_xfer(emu, req, &emu->sg, ns->ram + off, false);
	} else {
		status = nvme_emu_sg_xfer(emu, req, &emu->sg, emu->bounce, false);
		if (status)
			return status;
		ret = nvme_emu_ns_write(ns, off, emu->bounce, len, emu->feat.vwc,
					req->cmd.cdw12 & RW_FUA);
		if (ret)
			return media_error(emu, req, NVME_SC_WRITE_FAULT, ret);
	}
	if (!status) {
		emu->smart.host_writes++;
		emu->smart.bytes_written += len;
	}
	return status;
}

static uint16_t io_compare(struct nvme_emu *emu, struct nvme_emu_req *req)
{
	struct nvme_emu_ns *ns = req->ns;
	uint64_t off, len;
	uint16_t status;
	uint8_t *media;
	int ret;

	status = check_lbas(emu, req, true, &off, &len);
	if (!status)
		status = nvme_emu_map_dptr(emu, req, len, &emu->sg);
	if (!status)
		status = nvme_emu_sg_xfer(emu, req, &emu->sg, emu->bounce2, false);
	if (status)
		return status;
	if (ns->ram) {
		media = ns->ram + off;
	} else {
		media = emu->bounce;
		ret = nvme_emu_ns_read(ns, off, media, len);
		if (ret)
			return media_error(emu, req, NVME_SC_READ_ERROR, ret);
	}
	emu->smart.host_reads++;
	emu->smart.bytes_read += len;
	if (memcmp(media, emu->bounce2, len)) {
		/* A mismatch is an answer, not a mistake of the driver's. */
		pr_info("%s: SQ %u CID %u: Compare of namespace %u at byte %llu: mismatch",
			emu->name, req->sq->qid, nvme_emu_cid(req), ns->nsid,
			(unsigned long long)off);
		req->err_lba = off >> ns->lba_shift;
		req->has_lba = true;
		return NVME_DNR(NVME_SC_COMPARE_FAILED);
	}
	return 0;
}

static uint16_t io_flush(struct nvme_emu *emu, struct nvme_emu_req *req)
{
	for (unsigned int i = 0; i < emu->nr_ns; i++) {
		struct nvme_emu_ns *ns = &emu->ns[i];
		int ret;

		if (req->ns && req->ns != ns)
			continue;
		ret = nvme_emu_ns_flush(ns);
		if (ret) {
			pr_err("%s: namespace %u: Flush: %s", emu->name, ns->nsid, strerror(-ret));
			return NVME_SC_WRITE_FAULT;
		}
	}
	return 0;
}

static uint16_t io_write_zeroes(struct nvme_emu *emu, struct nvme_emu_req *req)
{
	bool stable = !emu->feat.vwc || (req->cmd.cdw12 & RW_FUA);
	uint64_t off, len;
	uint16_t status;
	int ret;

	/* No data moves, so MDTS does not apply. DEAC (bit 25) zeroes alike. */
	status = check_lbas(emu, req, false, &off, &len);
	if (status)
		return status;
	ret = nvme_emu_ns_zero(req->ns, off, len, !stable);
	return ret ? media_error(emu, req, NVME_SC_WRITE_FAULT, ret) : 0;
}

/*
 * Dataset Management: up to 256 ranges. With AD (deallocate)
 * every range is checked before any is deallocated; deallocated blocks
 * read as zeroes (DLFEAT = 001b). Without AD the hints are ignored.
 */
static uint16_t io_dsm(struct nvme_emu *emu, struct nvme_emu_req *req)
{
	struct nvme_dsm_range *r = (struct nvme_dsm_range *)emu->bounce2;
	unsigned int nr = (req->cmd.cdw10 & 0xff) + 1;
	struct nvme_emu_ns *ns = req->ns;
	uint16_t status;

	status = nvme_emu_xfer(emu, req, r, nr * sizeof(*r), false);
	if (status || !(req->cmd.cdw11 & NVME_DSMGMT_AD))
		return status;
	for (unsigned int i = 0; i < nr; i++) {
		if (r[i].slba > ns->nlb || r[i].nlb > ns->nlb - r[i].slba) {
			req->err_lba = r[i].slba;
			req->has_lba = true;
			return nvme_emu_reject(req, NVME_DNR(NVME_SC_LBA_RANGE),
					       "range %u: LBAs %llu+%u past namespace %u's %llu", i,
					       (unsigned long long)r[i].slba, r[i].nlb, ns->nsid,
					       (unsigned long long)ns->nlb);
		}
	}
	for (unsigned int i = 0; i < nr; i++) {
		int ret = nvme_emu_ns_zero(ns, r[i].slba << ns->lba_shift,
					   (uint64_t)r[i].nlb << ns->lba_shift, emu->feat.vwc);

		if (ret)
			return media_error(emu, req, NVME_SC_WRITE_FAULT, ret);
	}
	return 0;
}

const struct nvme_emu_op nvme_emu_io_ops[256] = {
	[nvme_cmd_flush] = { "Flush", io_flush, NVME_EMU_DIR_NONE, NVME_EMU_NS_ALL },
	[nvme_cmd_write] = { "Write", io_write, NVME_EMU_DIR_FROM_HOST, NVME_EMU_NS_ONE },
	[nvme_cmd_read] = { "Read", io_read, NVME_EMU_DIR_TO_HOST, NVME_EMU_NS_ONE },
	[nvme_cmd_compare] = { "Compare", io_compare, NVME_EMU_DIR_FROM_HOST, NVME_EMU_NS_ONE },
	[nvme_cmd_write_zeroes] = { "Write Zeroes", io_write_zeroes, NVME_EMU_DIR_NONE,
				    NVME_EMU_NS_ONE },
	[nvme_cmd_dsm] = { "Dataset Management", io_dsm, NVME_EMU_DIR_FROM_HOST, NVME_EMU_NS_ONE },
};
