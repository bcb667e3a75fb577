// SPDX-License-Identifier: MIT
/*
 * Set Features and Get Features (NVMe 1.4 sec. 5.21; the features in 5.21.1).
 *
 *   FID  feature                     behaviour
 *   01h  Arbitration                 stored (round robin only)
 *   02h  Power Management            PS 0 only (NPSS = 0), stored
 *   04h  Temperature Threshold       sensor 0, over/under, stored
 *   05h  Error Recovery              TLER stored; DULBE refused
 *   06h  Volatile Write Cache        on: writes complete in the cache;
 *                                    off: the cache is written back now
 *                                    and writes go to the file O_DSYNC
 *   07h  Number of Queues            allocates I/O SQs/CQs (0-based),
 *                                    only before any I/O queue exists
 *   08h  Interrupt Coalescing        stored
 *   09h  Interrupt Vector Config     per vector, stored
 *   0Ah  Write Atomicity Normal      stored
 *   0Bh  Async Event Configuration   stored (the controller raises only
 *                                    error events, which it cannot mask)
 *
 * Other FIDs are Invalid Field in Command. Nothing is saveable (ONCS bit 4
 * clear): SV set is Feature Identifier Not Saveable, SEL other than
 * "current" is Invalid Field. Values return to their defaults on a
 * controller reset.
 */
#define pr_fmt(fmt) "nvme-emu: " fmt

#include <string.h>

#include <hetmem/log.h>
#include "emu.h"

#define SV		   (1u << 31)
#define DEFAULT_WCTEMP	   343
#define ERR_RECOVERY_DULBE (1u << 16)

void nvme_emu_features_reset(struct nvme_emu *emu)
{
	struct nvme_emu_features *f = &emu->feat;

	memset(f, 0, sizeof(*f));
	f->vwc = true;
	f->nsqa = (uint16_t)emu->max_io_queues;
	f->ncqa = (uint16_t)emu->max_io_queues;
	f->temp_thresh[0] = DEFAULT_WCTEMP;
	for (unsigned int v = 0; v < NVME_EMU_MAX_VECTORS; v++)
		f->irq_config[v] = v;
}

static uint16_t unsupported(struct nvme_emu_req *req, uint8_t fid)
{
	return nvme_emu_reject(req, NVME_DNR(NVME_SC_INVALID_FIELD), "feature %02xh not supported",
			       fid);
}

/* Turning the cache off: what it holds goes to the files first. */
static uint16_t set_vwc(struct nvme_emu *emu, struct nvme_emu_req *req, bool on)
{
	if (!on && emu->feat.vwc) {
		for (unsigned int i = 0; i < emu->nr_ns; i++) {
			int ret = nvme_emu_ns_flush(&emu->ns[i]);

			if (ret) {
				pr_err("%s: namespace %u: disabling the write cache: %s", emu->name,
				       emu->ns[i].nsid, strerror(-ret));
				return NVME_SC_WRITE_FAULT;
			}
		}
	}
	emu->feat.vwc = on;
	return 0;
}

static bool any_io_queue(const struct nvme_emu *emu)
{
	for (unsigned int qid = 1; qid < emu->nr_queues; qid++)
		if (emu->sq[qid] || emu->cq[qid])
			return true;
	return false;
}

static uint32_t nr_queues_result(const struct nvme_emu *emu)
{
	return (uint32_t)(emu->feat.ncqa - 1) << 16 | (uint32_t)(emu->feat.nsqa - 1);
}

static uint16_t set_nr_queues(struct nvme_emu *emu, struct nvme_emu_req *req, uint32_t v)
{
	uint32_t nsqr = v & 0xffff, ncqr = v >> 16;

	if (any_io_queue(emu))
		return nvme_emu_reject(req, NVME_DNR(NVME_SC_CMD_SEQ_ERROR),
				       "Number of Queues after I/O queues were created");
	if (nsqr == 0xffff || ncqr == 0xffff)
		return nvme_emu_reject(req, NVME_DNR(NVME_SC_INVALID_FIELD),
				       "Number of Queues: 65536 requested");
	emu->feat.nsqa = (uint16_t)nvme_emu_min(nsqr + 1, emu->max_io_queues);
	emu->feat.ncqa = (uint16_t)nvme_emu_min(ncqr + 1, emu->max_io_queues);
	req->result = nr_queues_result(emu);
	return 0;
}

static uint16_t check_temp(struct nvme_emu_req *req, uint32_t v)
{
	unsigned int tmpsel = (v >> 16) & 0xf, thsel = (v >> 20) & 0x3;

	if (tmpsel != 0 || thsel > 1)
		return nvme_emu_reject(req, NVME_DNR(NVME_SC_INVALID_FIELD),
				       "temperature threshold: sensor %u, threshold type %u",
				       tmpsel, thsel);
	return 0;
}

uint16_t nvme_emu_set_features(struct nvme_emu *emu, struct nvme_emu_req *req)
{
	struct nvme_emu_features *f = &emu->feat;
	uint8_t fid = (uint8_t)req->cmd.cdw10;
	uint32_t v = req->cmd.cdw11;
	uint16_t status;

	if (req->cmd.cdw10 & SV)
		return nvme_emu_reject(req, NVME_DNR(NVME_SC_FEATURE_NOT_SAVEABLE),
				       "feature %02xh: nothing is saveable", fid);
	switch (fid) {
	case NVME_FEAT_ARBITRATION:
		f->arbitration = v & 0xffffff07;
		return 0;
	case NVME_FEAT_POWER_MGMT:
		if (v & 0x1f)
			return nvme_emu_reject(req, NVME_DNR(NVME_SC_INVALID_FIELD),
					       "power state %u, only 0 (NPSS=0)", v & 0x1f);
		f->power_mgmt = v & 0xff;
		return 0;
	case NVME_FEAT_TEMP_THRESH:
		status = check_temp(req, v);
		if (!status)
			f->temp_thresh[(v >> 20) & 1] = (uint16_t)v;
		return status;
	case NVME_FEAT_ERR_RECOVERY:
		if (v & ERR_RECOVERY_DULBE)
			return nvme_emu_reject(
				req, NVME_DNR(NVME_SC_INVALID_FIELD),
				"DULBE: deallocated blocks read as zeroes, not errors");
		f->err_recovery = v & 0xffff;
		return 0;
	case NVME_FEAT_VOLATILE_WC:
		return set_vwc(emu, req, v & 1);
	case NVME_FEAT_NUM_QUEUES:
		return set_nr_queues(emu, req, v);
	case NVME_FEAT_IRQ_COALESCE:
		f->irq_coalesce = v & 0xffff;
		return 0;
	case NVME_FEAT_IRQ_CONFIG:
		if ((v & 0xffff) >= emu->nr_vectors)
			return nvme_emu_reject(req, NVME_DNR(NVME_SC_INVALID_FIELD),
					       "interrupt vector %u, the controller has %u",
					       v & 0xffff, emu->nr_vectors);
		f->irq_config[v & 0xffff] = v & 0x1ffff;
		return 0;
	case NVME_FEAT_WRITE_ATOMIC:
		f->write_atomic = v & 1;
		return 0;
	case NVME_FEAT_ASYNC_EVENT:
		f->async_event = v;
		return 0;
	default:
		return unsupported(req, fid);
	}
}

uint16_t nvme_emu_get_features(struct nvme_emu *emu, struct nvme_emu_req *req)
{
	struct nvme_emu_features *f = &emu->feat;
	uint8_t fid = (uint8_t)req->cmd.cdw10;
	unsigned int sel = (req->cmd.cdw10 >> 8) & 0x7;
	uint32_t v = req->cmd.cdw11;
	uint16_t status;

	if (sel)
		return nvme_emu_reject(req, NVME_DNR(NVME_SC_INVALID_FIELD),
				       "SEL %u: only current values (ONCS bit 4 clear)", sel);
	switch (fid) {
	case NVME_FEAT_ARBITRATION:
		req->result = f->arbitration;
		return 0;
	case NVME_FEAT_POWER_MGMT:
		req->result = f->power_mgmt;
		return 0;
	case NVME_FEAT_TEMP_THRESH:
		status = check_temp(req, v);
		if (!status)
			req->result = (v & 0x3f0000) | f->temp_thresh[(v >> 20) & 1];
		return status;
	case NVME_FEAT_ERR_RECOVERY:
		req->result = f->err_recovery;
		return 0;
	case NVME_FEAT_VOLATILE_WC:
		req->result = f->vwc;
		return 0;
	case NVME_FEAT_NUM_QUEUES:
		req->result = nr_queues_result(emu);
		return 0;
	case NVME_FEAT_IRQ_COALESCE:
		req->result = f->irq_coalesce;
		return 0;
	case NVME_FEAT_IRQ_CONFIG:
		if ((v & 0xffff) >= emu->nr_vectors)
			return nvme_emu_reject(req, NVME_DNR(NVME_SC_INVALID_FIELD),
					       "interrupt vector %u, the controller has %u",
					       v & 0xffff, emu->nr_vectors);
		req->result = f->irq_config[v & 0xffff];
		return 0;
	case NVME_FEAT_WRITE_ATOMIC:
		req->result = f->write_atomic;
		return 0;
	case NVME_FEAT_ASYNC_EVENT:
		req->result = f->async_event;
		return 0;
	default:
		return unsupported(req, fid);
	}
}
