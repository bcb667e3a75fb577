// SPDX-License-Identifier: MIT
/*
 * The admin command set (NVMe 1.4 sec. 5): the opcode table, and the
 * commands that are about other commands: Abort, Asynchronous Event
 * Request; plus Format NVM. Identify, features, log pages and queue
 * management have files of their own.
 *
 *   opcode  command                     data          NSID
 *   00h     Delete I/O SQ               -             -
 *   01h     Create I/O SQ               -             -
 *   02h     Get Log Page                ctrl -> host  SMART: 0 or FFFFFFFFh
 *   04h     Delete I/O CQ               -             -
 *   05h     Create I/O CQ               -             -
 *   06h     Identify                    ctrl -> host  per CNS
 *   08h     Abort                       -             -
 *   09h     Set Features                -             -
 *   0Ah     Get Features                -             -
 *   0Ch     Asynchronous Event Request  -             -
 *   80h     Format NVM                  -             one or FFFFFFFFh
 *
 * Anything else (firmware download/commit, namespace management, ...) is
 * Invalid Command Opcode.
 */
#define pr_fmt(fmt) "nvme-emu: " fmt

#include <string.h>

#include <hetmem/log.h>
#include "emu.h"

/* --- Abort (sec. 5.1) --------------------------------------------------------------- */

/**
 * nvme_emu_abort_pending - consume an Abort request for a command being fetched
 * @emu: the controller
 * @sqid: the command's SQ
 * @cid: its identifier
 *
 * Return: true when an Abort named it: it completes as Command Abort
 * Requested instead of running.
 */
bool nvme_emu_abort_pending(struct nvme_emu *emu, uint16_t sqid, uint16_t cid)
{
	for (unsigned int i = 0; i < emu->nr_aborts; i++) {
		if (emu->aborts[i].sqid == sqid && emu->aborts[i].cid == cid) {
			emu->aborts[i] = emu->aborts[--emu->nr_aborts];
			return true;
		}
	}
	return false;
}

/* An outstanding AER is the one command that can be aborted while it runs. */
static bool abort_aer(struct nvme_emu *emu, uint16_t cid)
{
	for (unsigned int i = 0; i < emu->nr_aer; i++) {
		if (emu->aer_cid[i] != cid)
			continue;
		/* Its completion and the Abort's own both need a slot. */
		if (nvme_emu_cq_room(emu, emu->cq[0]) < 2)
			return false;
		memmove(&emu->aer_cid[i], &emu->aer_cid[i + 1],
			(emu->nr_aer - i - 1) * sizeof(emu->aer_cid[0]));
		emu->nr_aer--;
		nvme_emu_complete(emu, emu->sq[0], cid, NVME_SC_ABORT_REQ, 0, NULL);
		return true;
	}
	return false;
}

/*
 * Commands run to completion once fetched, so the ones an Abort can catch
 * are an outstanding AER and those still waiting in their SQ (between the
 * controller's head and the last tail rung); the latter complete as Command
 * Abort Requested when the controller reaches them. Anything else, a
 * nonexistent SQ included, is "not aborted" (dword 0 bit 0 set), which the
 * spec allows for any command.
 */
static uint16_t admin_abort(struct nvme_emu *emu, struct nvme_emu_req *req)
{
	uint16_t sqid = (uint16_t)req->cmd.cdw10, cid = (uint16_t)(req->cmd.cdw10 >> 16);

	req->result = 1;
	if (sqid == 0 && abort_aer(emu, cid)) {
		req->result = 0;
		return 0;
	}
	if (!nvme_emu_sq_pending(emu, sqid, cid))
		return 0;
	if (emu->nr_aborts > NVME_EMU_ACL)
		return nvme_emu_reject(req, NVME_SC_ABORT_LIMIT,
				       "more than ACL+1 = %u aborts outstanding", NVME_EMU_ACL + 1);
	emu->aborts[emu->nr_aborts].sqid = sqid;
	emu->aborts[emu->nr_aborts].cid = cid;
	emu->nr_aborts++;
	req->result = 0;
	return 0;
}

/* --- Asynchronous Event Request (sec. 5.2) --------------------------------------------- */

/* Held without a completion until an event comes (nvme_emu_aer_post()). */
static uint16_t admin_aer(struct nvme_emu *emu, struct nvme_emu_req *req)
{
	if (emu->nr_aer > NVME_EMU_AERL)
		return nvme_emu_reject(req, NVME_SC_ASYNC_LIMIT,
				       "more than AERL+1 = %u outstanding", NVME_EMU_AERL + 1);
	emu->aer_cid[emu->nr_aer++] = nvme_emu_cid(req);
	req->held = true;
	return 0;
}

/* The first event whose type is not masked, or -1. */
static int next_event(const struct nvme_emu *emu)
{
	for (unsigned int i = 0; i < emu->nr_events; i++)
		if (!(emu->ev_masked & (1u << emu->events[i].type)))
			return (int)i;
	return -1;
}

/**
 * nvme_emu_aer_ready - whether an event can be reported now
 * @emu: the controller
 *
 * Return: true when an AER is outstanding, an unmasked event waits, and
 * the admin CQ has room.
 */
bool nvme_emu_aer_ready(struct nvme_emu *emu)
{
	return emu->nr_aer && next_event(emu) >= 0 && emu->cq[0] &&
	       nvme_emu_cq_room(emu, emu->cq[0]);
}

/**
 * nvme_emu_aer_post - complete outstanding AERs with waiting events
 * @emu: the controller
 *
 * Dword 0 carries the event type (bits 2:0), information (15:8) and log
 * page (23:16). Once reported, an event type is masked until the host
 * reads that log page (sec. 5.2: no further events of the type until
 * then).
 *
 * Return: true when something was posted.
 */
bool nvme_emu_aer_post(struct nvme_emu *emu)
{
	bool posted = false;

	while (nvme_emu_aer_ready(emu)) {
		int i = next_event(emu);
		struct nvme_emu_event ev = emu->events[i];
		uint16_t cid = emu->aer_cid[0];

		memmove(&emu->events[i], &emu->events[i + 1],
			(emu->nr_events - (unsigned int)i - 1) * sizeof(ev));
		emu->nr_events--;
		memmove(&emu->aer_cid[0], &emu->aer_cid[1], (emu->nr_aer - 1) * sizeof(cid));
		emu->nr_aer--;
		emu->ev_masked |= (uint8_t)(1u << ev.type);
		if (nvme_emu_complete(emu, emu->sq[0], cid, 0,
				      ev.type | (uint32_t)ev.info << 8 | (uint32_t)ev.lid << 16,
				      NULL))
			break;
		posted = true;
	}
	return posted;
}

void nvme_emu_aer_reset(struct nvme_emu *emu)
{
	emu->nr_aer = 0;
	emu->nr_events = 0;
	emu->ev_masked = 0;
	emu->nr_aborts = 0;
}

/* --- Format NVM (sec. 5.23) ------------------------------------------------------------ */

/*
 * LBA formats: 0 is 512 bytes, 1 is 4 KiB, neither with metadata or
 * protection information. Formatting erases the namespace (user data
 * erase, whatever SES asks short of a cryptographic erase). NSID
 * FFFFFFFFh formats every namespace.
 */
static uint16_t admin_format(struct nvme_emu *emu, struct nvme_emu_req *req)
{
	uint32_t cdw10 = req->cmd.cdw10;
	unsigned int lbaf = cdw10 & 0xf, ses = (cdw10 >> 9) & 0x7;
	unsigned int shift = lbaf ? 12 : 9;

	if (lbaf > 1)
		return nvme_emu_reject(req, NVME_DNR(NVME_SC_INVALID_FORMAT),
				       "LBA format %u (0: 512 bytes, 1: 4 KiB)", lbaf);
	if (cdw10 & 0x1f0)
		return nvme_emu_reject(req, NVME_DNR(NVME_SC_INVALID_FORMAT),
				       "metadata or protection information requested (0x%x)",
				       cdw10 & 0x1f0);
	if (ses > 1)
		return nvme_emu_reject(req, NVME_DNR(NVME_SC_INVALID_FIELD),
				       "secure erase setting %u: cryptographic erase not supported",
				       ses);
	for (unsigned int i = 0; i < emu->nr_ns; i++) {
		struct nvme_emu_ns *ns = &emu->ns[i];

		if ((!req->ns || req->ns == ns) && (ns->size & ((1ULL << shift) - 1)))
			return nvme_emu_reject(req, NVME_DNR(NVME_SC_INVALID_FORMAT),
					       "namespace %u (%llu bytes) is not a whole number of "
					       "%u-byte blocks",
					       ns->nsid, (unsigned long long)ns->size, 1u << shift);
	}
	for (unsigned int i = 0; i < emu->nr_ns; i++) {
		struct nvme_emu_ns *ns = &emu->ns[i];
		int ret;

		if (req->ns && req->ns != ns)
			continue;
		ret = nvme_emu_ns_format(ns, shift);
		if (ret) {
			pr_err("%s: namespace %u: Format NVM: %s", emu->name, ns->nsid,
			       strerror(-ret));
			return NVME_SC_INTERNAL;
		}
	}
	return 0;
}

const struct nvme_emu_op nvme_emu_admin_ops[256] = {
	[nvme_admin_delete_sq] = { "Delete I/O SQ", nvme_emu_delete_sq, NVME_EMU_DIR_NONE,
				   NVME_EMU_NS_NONE },
	[nvme_admin_create_sq] = { "Create I/O SQ", nvme_emu_create_sq, NVME_EMU_DIR_NONE,
				   NVME_EMU_NS_NONE },
	[nvme_admin_get_log_page] = { "Get Log Page", nvme_emu_get_log_page, NVME_EMU_DIR_TO_HOST,
				      NVME_EMU_NS_NONE },
	[nvme_admin_delete_cq] = { "Delete I/O CQ", nvme_emu_delete_cq, NVME_EMU_DIR_NONE,
				   NVME_EMU_NS_NONE },
	[nvme_admin_create_cq] = { "Create I/O CQ", nvme_emu_create_cq, NVME_EMU_DIR_NONE,
				   NVME_EMU_NS_NONE },
	[nvme_admin_identify] = { "Identify", nvme_emu_identify, NVME_EMU_DIR_TO_HOST,
				  NVME_EMU_NS_NONE },
	[nvme_admin_abort_cmd] = { "Abort", admin_abort, NVME_EMU_DIR_NONE, NVME_EMU_NS_NONE },
	[nvme_admin_set_features] = { "Set Features", nvme_emu_set_features, NVME_EMU_DIR_NONE,
				      NVME_EMU_NS_NONE },
	[nvme_admin_get_features] = { "Get Features", nvme_emu_get_features, NVME_EMU_DIR_NONE,
				      NVME_EMU_NS_NONE },
	[nvme_admin_async_event] = { "Asynchronous Event Request", admin_aer, NVME_EMU_DIR_NONE,
				     NVME_EMU_NS_NONE },
	[nvme_admin_format_nvm] = { "Format NVM", admin_format, NVME_EMU_DIR_NONE,
				    NVME_EMU_NS_ALL },
};
