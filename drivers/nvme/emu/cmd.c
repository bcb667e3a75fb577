// SPDX-License-Identifier: MIT
/*
 * Command dispatch: an SQE is looked up in the admin or I/O opcode table
 * (admin.c, io.c), the checks every command shares are made here, and the
 * handler returns an NVMe status that becomes the CQE.
 *
 * Shared checks, in order (sec. 4.2, the SQE fields):
 *
 *   opcode not in the table      Invalid Command Opcode, DNR
 *   FUSE set (FUSES = 0)         Invalid Field in Command, DNR
 *   PSDT: admin commands take    Invalid Field in Command, DNR
 *   PRPs only; I/O commands
 *   PRPs or SGLs (not 10b/11b)
 *   NSID, when the opcode needs  Invalid Namespace or Format, DNR
 *   a namespace
 *
 * A rejected command is a guest error: one log line naming the
 * controller, SQ, CID, opcode and the reason, and an entry in the Error
 * Information log (logpage.c). Nothing a driver sends can stop the
 * controller, except losing its own queues (controller fatal status).
 */
#define pr_fmt(fmt) "nvme-emu: " fmt

#include <stdio.h>

#include <hetmem/log.h>
#include "emu.h"

#define NSID_ALL 0xffffffffu

const char *nvme_emu_op_name(const struct nvme_emu_req *req)
{
	return req->op && req->op->name ? req->op->name : "unsupported opcode";
}

/**
 * nvme_emu_reject - log why a command fails and return its status
 * @req: the command
 * @status: the NVMe status, DNR included
 * @fmt: the reason, printf style
 *
 * Return: @status, so handlers can "return nvme_emu_reject(...)".
 */
uint16_t nvme_emu_reject(struct nvme_emu_req *req, uint16_t status, const char *fmt, ...)
{
	static const char *const dir[] = {
		[NVME_EMU_DIR_NONE] = "no data",
		[NVME_EMU_DIR_TO_HOST] = "data to host",
		[NVME_EMU_DIR_FROM_HOST] = "data from host",
	};
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	guest_err("%s: SQ %u CID %u %s (opcode 0x%02x, %s): %s: status 0x%03x%s", req->emu->name,
		  req->sq->qid, nvme_emu_cid(req), nvme_emu_op_name(req), req->cmd.opcode,
		  dir[req->op ? req->op->dir : NVME_EMU_DIR_NONE], why, status & 0x7ff,
		  (status & NVME_SC_DNR) ? " DNR" : "");
	return status;
}

/**
 * nvme_emu_ns_get - the active namespace an NSID names
 * @emu: the controller
 * @nsid: the identifier
 *
 * Return: the namespace, or NULL for 0, FFFFFFFFh and inactive NSIDs.
 */
struct nvme_emu_ns *nvme_emu_ns_get(struct nvme_emu *emu, uint32_t nsid)
{
	if (!nsid || nsid > emu->nr_ns)
		return NULL;
	return &emu->ns[nsid - 1];
}

static uint16_t check_ns(struct nvme_emu *emu, struct nvme_emu_req *req)
{
	uint32_t nsid = req->cmd.nsid;

	if (req->op->ns == NVME_EMU_NS_NONE)
		return 0;
	if (req->op->ns == NVME_EMU_NS_ALL && nsid == NSID_ALL)
		return 0;
	req->ns = nvme_emu_ns_get(emu, nsid);
	if (!req->ns)
		return nvme_emu_reject(req, NVME_DNR(NVME_SC_INVALID_NS),
				       "NSID 0x%x is not an active namespace (1-%u)", nsid,
				       emu->nr_ns);
	return 0;
}

static uint16_t check_common(struct nvme_emu *emu, struct nvme_emu_req *req)
{
	uint8_t flags = req->cmd.flags;
	uint8_t psdt = flags & NVME_CMD_PSDT_MASK;

	if (!req->op->fn)
		return nvme_emu_reject(req, NVME_DNR(NVME_SC_INVALID_OPCODE),
				       "not supported on %s queues", req->admin ? "admin" : "I/O");
	if (flags & NVME_CMD_FUSE_MASK)
		return nvme_emu_reject(req, NVME_DNR(NVME_SC_INVALID_FIELD),
				       "fused operation %u, not supported (FUSES=0)",
				       flags & NVME_CMD_FUSE_MASK);
	if (req->admin ? psdt != NVME_CMD_PSDT_PRP : psdt > NVME_CMD_PSDT_SGL)
		return nvme_emu_reject(req, NVME_DNR(NVME_SC_INVALID_FIELD), "PSDT %u: %s",
				       psdt >> NVME_CMD_PSDT_SHIFT,
				       req->admin ? "admin commands take PRPs" :
						    "only PRPs (0) and SGLs (1) are supported");
	return check_ns(emu, req);
}

/**
 * nvme_emu_complete - post the CQE of a command
 * @emu: the controller
 * @sq: the SQ the command came from
 * @cid: its identifier
 * @status: NVMe status (without the phase bit)
 * @result: completion dword 0
 * @req: the command, for the error log; NULL for held commands (AERs)
 *
 * Return: 0, or a negative errno when the CQE could not be written (the
 * controller is then fatal).
 */
int nvme_emu_complete(struct nvme_emu *emu, struct nvme_emu_sq *sq, uint16_t cid, uint16_t status,
		      uint32_t result, const struct nvme_emu_req *req)
{
	struct nvme_completion cqe = {
		.result = result,
		.sq_head = (uint16_t)sq->head,
		.sq_id = sq->qid,
		.command_id = cid,
		.status = status,
	};

	if (status)
		nvme_emu_log_error(emu, sq->qid, cid, (uint16_t)(status << 1 | sq->cq->phase), req);
	return nvme_emu_cq_post(emu, sq->cq, &cqe);
}

/**
 * nvme_emu_execute - run one fetched command and complete it
 * @emu: the controller
 * @req: the command
 *
 * Commands an Abort named while they waited in the SQ complete with
 * Command Abort Requested instead of running.
 */
void nvme_emu_execute(struct nvme_emu *emu, struct nvme_emu_req *req)
{
	static const struct nvme_emu_op unsupported = { .name = "unsupported opcode" };
	const struct nvme_emu_op *table = req->admin ? nvme_emu_admin_ops : nvme_emu_io_ops;
	uint16_t status;

	req->op = table[req->cmd.opcode].fn ? &table[req->cmd.opcode] : &unsupported;
	if (nvme_emu_inject_armed(emu) && nvme_emu_inject_cmd(emu, req))
		return;
	if (emu->nr_aborts && nvme_emu_abort_pending(emu, req->sq->qid, nvme_emu_cid(req))) {
		pr_info("%s: SQ %u CID %u aborted by request", emu->name, req->sq->qid,
			nvme_emu_cid(req));
		status = NVME_SC_ABORT_REQ;
	} else {
		status = check_common(emu, req);
		if (!status)
			status = req->op->fn(emu, req);
	}
	if (req->held)
		return;
	nvme_emu_complete(emu, req->sq, nvme_emu_cid(req), status, req->result, req);
}
