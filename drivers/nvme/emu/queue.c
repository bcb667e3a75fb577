// SPDX-License-Identifier: MIT
/*
 * Submission and completion queues of the emulated NVMe controller
 * (NVMe 1.4 sec. 4.1, 4.6, 5.3-5.6, 7.2).
 *
 * The controller reads SQEs and writes CQEs only by DMA: through the
 * fabric as its own bus master (the driver's IOVAs, checked by the IOMMU),
 * or straight into BAR2 when a queue lives in the enabled CMB. It never
 * dereferences a driver pointer.
 *
 * Queue state belongs to the controller thread. The BAR handler sees only
 * the doorbell values and the published sizes (sq_live/cq_live, zero when
 * a queue does not exist), which it needs to refuse bad doorbell writes.
 *
 * Fetching is in bursts: up to NVME_EMU_BURST contiguous SQEs in one DMA,
 * never more than the CQ has room for. Every command completes before the
 * next is fetched (AERs excepted), so a CQ never overflows and a full CQ
 * simply stops its SQs until the driver moves the CQ head.
 */
#define pr_fmt(fmt) "nvme-emu: " fmt

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <hetmem/log.h>
#include "emu.h"

#define SQE_SIZE sizeof(struct nvme_command)
#define CQE_SIZE sizeof(struct nvme_completion)

/* --- lifetime ------------------------------------------------------------------------- */

int nvme_emu_cq_create(struct nvme_emu *emu, uint16_t qid, uint32_t size, uint64_t base, bool irq,
		       uint16_t vector)
{
	struct nvme_emu_cq *cq = calloc(1, sizeof(*cq));

	if (!cq)
		return -ENOMEM;
	cq->qid = qid;
	cq->size = size;
	cq->base = base;
	cq->phase = 1; /* the first pass writes phase 1 over zeroed memory */
	cq->irq = irq;
	cq->vector = vector;
	emu->cq[qid] = cq;
	__atomic_store_n(&emu->cq_db[qid], 0, __ATOMIC_RELAXED);
	__atomic_store_n(&emu->cq_live[qid], size, __ATOMIC_RELEASE);
	return 0;
}

int nvme_emu_sq_create(struct nvme_emu *emu, uint16_t qid, uint32_t size, uint64_t base,
		       struct nvme_emu_cq *cq)
{
	struct nvme_emu_sq *sq = calloc(1, sizeof(*sq));

	if (!sq)
		return -ENOMEM;
	sq->qid = qid;
	sq->size = size;
	sq->base = base;
	sq->cq = cq;
	cq->nr_sqs++;
	emu->sq[qid] = sq;
	__atomic_store_n(&emu->sq_db[qid], 0, __ATOMIC_RELAXED);
	__atomic_store_n(&emu->sq_live[qid], size, __ATOMIC_RELEASE);
	return 0;
}

/*
 * Deleting an SQ (sec. 5.6): commands already fetched have completed (the
 * controller completes each before fetching the next), so nothing is left
 * to abort; commands the driver queued but the controller had not fetched
 * are dropped with the queue, as are Abort requests naming it.
 */
void nvme_emu_sq_delete(struct nvme_emu *emu, uint16_t qid)
{
	struct nvme_emu_sq *sq = emu->sq[qid];
	unsigned int i = 0;

	if (!sq)
		return;
	__atomic_store_n(&emu->sq_live[qid], 0, __ATOMIC_RELEASE);
	__atomic_store_n(&emu->sq_db[qid], 0, __ATOMIC_RELAXED);
	while (i < emu->nr_aborts) {
		if (emu->aborts[i].sqid == qid)
			emu->aborts[i] = emu->aborts[--emu->nr_aborts];
		else
			i++;
	}
	sq->cq->nr_sqs--;
	emu->sq[qid] = NULL;
	free(sq);
}

void nvme_emu_cq_delete(struct nvme_emu *emu, uint16_t qid)
{
	struct nvme_emu_cq *cq = emu->cq[qid];

	if (!cq)
		return;
	__atomic_store_n(&emu->cq_live[qid], 0, __ATOMIC_RELEASE);
	__atomic_store_n(&emu->cq_db[qid], 0, __ATOMIC_RELAXED);
	emu->cq[qid] = NULL;
	free(cq);
}

void nvme_emu_queues_reset(struct nvme_emu *emu)
{
	for (unsigned int qid = 0; qid < emu->nr_queues; qid++)
		nvme_emu_sq_delete(emu, (uint16_t)qid);
	for (unsigned int qid = 0; qid < emu->nr_queues; qid++)
		nvme_emu_cq_delete(emu, (uint16_t)qid);
}

/* --- moving entries ----------------------------------------------------------------- */

/* Free CQ slots: one always stays empty, so full and empty differ (sec. 4.1). */
uint32_t nvme_emu_cq_room(struct nvme_emu *emu, const struct nvme_emu_cq *cq)
{
	uint32_t head = __atomic_load_n(&emu->cq_db[cq->qid], __ATOMIC_ACQUIRE);
	uint32_t used = (cq->tail + cq->size - head) % cq->size;

	return cq->size - 1 - used;
}

/**
 * nvme_emu_go_fatal - controller fatal status (CSTS.CFS): stop until a reset
 * @emu: the controller (its thread)
 */
void nvme_emu_go_fatal(struct nvme_emu *emu)
{
	uint32_t old = __atomic_load_n(&emu->csts, __ATOMIC_RELAXED);

	emu->fatal = true;
	while (!__atomic_compare_exchange_n(&emu->csts, &old, old | NVME_CSTS_CFS, false,
					    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		;
}

/**
 * nvme_emu_cq_post - write one CQE and raise the CQ's interrupt
 * @emu: the controller
 * @cq: the CQ, with room
 * @cqe: the entry; its phase bit is set here
 *
 * A CQE the controller cannot deliver cannot report its own failure: the
 * controller goes fatal (CSTS.CFS, sec. 9.5) and stops.
 *
 * Return: 0, or the DMA's negative errno.
 */
int nvme_emu_cq_post(struct nvme_emu *emu, struct nvme_emu_cq *cq,
		     const struct nvme_completion *cqe)
{
	struct nvme_completion e = *cqe;
	uint64_t addr = cq->base + (uint64_t)cq->tail * CQE_SIZE;
	int ret;

	e.status = (uint16_t)(e.status << 1) | cq->phase;
	/*
	 * Two writes, the dword pair holding the phase tag last and whole: a
	 * driver polling the phase then sees the entry, and everything the
	 * command moved before it, complete (the fabric makes aligned 8-byte
	 * writes atomic with release ordering).
	 */
	ret = nvme_emu_dma(emu, addr, &e, 8, true);
	if (!ret)
		ret = nvme_emu_dma(emu, addr + 8, (uint8_t *)&e + 8, 8, true);
	if (ret) {
		guest_err("%s: posting to CQ %u at 0x%llx failed (%s): controller fatal status",
			  emu->name, cq->qid, (unsigned long long)addr, strerror(-ret));
		nvme_emu_go_fatal(emu);
		return ret;
	}
	if (++cq->tail == cq->size) {
		cq->tail = 0;
		cq->phase ^= 1;
	}
	if (cq->irq)
		nvme_emu_irq_raise(emu, cq->vector);
	return 0;
}

bool nvme_emu_sq_ready(struct nvme_emu *emu, const struct nvme_emu_sq *sq)
{
	return __atomic_load_n(&emu->sq_db[sq->qid], __ATOMIC_ACQUIRE) != sq->head &&
	       nvme_emu_cq_room(emu, sq->cq);
}

/**
 * nvme_emu_sq_process - fetch and execute a burst of commands from one SQ
 * @emu: the controller
 * @sq: the SQ
 *
 * Return: the number of commands fetched (0 when there was nothing to do
 * or no room in the CQ).
 */
unsigned int nvme_emu_sq_process(struct nvme_emu *emu, struct nvme_emu_sq *sq)
{
	uint32_t tail = __atomic_load_n(&emu->sq_db[sq->qid], __ATOMIC_ACQUIRE);
	uint64_t addr = sq->base + (uint64_t)sq->head * SQE_SIZE;
	uint32_t n, room;
	int ret;

	if (tail == sq->head)
		return 0;
	room = nvme_emu_cq_room(emu, sq->cq);
	n = (tail + sq->size - sq->head) % sq->size;
	n = (uint32_t)nvme_emu_min(n, sq->size - sq->head); /* up to the wrap */
	n = (uint32_t)nvme_emu_min(n, room);
	n = (uint32_t)nvme_emu_min(n, NVME_EMU_BURST);
	if (!n)
		return 0;
	ret = nvme_emu_dma(emu, addr, emu->sqe, n * SQE_SIZE, false);
	if (ret) {
		guest_err("%s: fetching %u SQEs from SQ %u at 0x%llx failed (%s): "
			  "controller fatal status",
			  emu->name, n, sq->qid, (unsigned long long)addr, strerror(-ret));
		nvme_emu_go_fatal(emu);
		return n;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct nvme_emu_req req;

		/*
		 * An Abort that completes an AER takes a CQ slot the burst did
		 * not count: what no longer fits waits in the SQ, unfetched.
		 */
		if (sq->qid == 0 && i && !nvme_emu_cq_room(emu, sq->cq))
			return i;
		memset(&req, 0, sizeof(req));
		req.emu = emu;
		req.cmd = emu->sqe[i];
		req.sq = sq;
		req.admin = sq->qid == 0;
		req.err_loc = 0xffff;
		sq->head = (sq->head + 1) % sq->size;
		nvme_emu_execute(emu, &req);
		if (emu->fatal || !emu->enabled)
			break;
	}
	return n;
}

/**
 * nvme_emu_sq_pending - whether a command is in an SQ but not yet fetched
 * @emu: the controller
 * @sqid: the SQ
 * @cid: the command identifier
 *
 * Reads the CIDs of the entries between the controller's head and the
 * last tail the driver rang, for Abort.
 *
 * Return: true when one of them is @cid.
 */
bool nvme_emu_sq_pending(struct nvme_emu *emu, uint16_t sqid, uint16_t cid)
{
	struct nvme_emu_sq *sq = sqid < emu->nr_queues ? emu->sq[sqid] : NULL;
	uint32_t tail, i;

	if (!sq)
		return false;
	tail = __atomic_load_n(&emu->sq_db[sqid], __ATOMIC_ACQUIRE);
	for (i = sq->head; i != tail; i = (i + 1) % sq->size) {
		uint32_t dw0;

		if (nvme_emu_dma(emu, sq->base + (uint64_t)i * SQE_SIZE, &dw0, sizeof(dw0), false))
			return false;
		if ((uint16_t)(dw0 >> 16) == cid)
			return true;
	}
	return false;
}

/* --- Create/Delete I/O SQ/CQ (sec. 5.3-5.6) ----------------------------------------- */

static uint16_t check_new_queue(struct nvme_emu *emu, struct nvme_emu_req *req, bool cq,
				uint16_t qid, uint16_t allocated)
{
	const char *what = cq ? "CQ" : "SQ";
	bool exists = qid && qid <= allocated && (cq ? emu->cq[qid] != NULL : emu->sq[qid] != NULL);

	if (!qid || qid > allocated || exists)
		return nvme_emu_reject(req, NVME_DNR(NVME_SC_QID_INVALID), "%s %u: %s", what, qid,
				       !qid   ? "0 is the admin queue" :
				       exists ? "already exists" :
						"beyond the queues allocated (Number of Queues)");
	return 0;
}

static uint16_t check_queue_memory(struct nvme_emu *emu, struct nvme_emu_req *req, bool cq,
				   uint16_t qid, uint32_t qsize, uint32_t cdw11)
{
	uint64_t base = req->cmd.prp1;

	if (qsize < 2 || qsize > emu->mqes + 1u)
		return nvme_emu_reject(req, NVME_DNR(NVME_SC_QUEUE_SIZE),
				       "%s %u: %u entries, outside 2-%u (CAP.MQES)",
				       cq ? "CQ" : "SQ", qid, qsize, emu->mqes + 1u);
	/* CAP.CQR = 1: queues must be physically contiguous. */
	if (!(cdw11 & NVME_QUEUE_PHYS_CONTIG))
		return nvme_emu_reject(req, NVME_DNR(NVME_SC_INVALID_FIELD),
				       "%s %u: PC=0, but CAP.CQR requires contiguous queues",
				       cq ? "CQ" : "SQ", qid);
	if (base & (emu->page_size - 1))
		return nvme_emu_reject(req, NVME_DNR(NVME_SC_INVALID_FIELD),
				       "%s %u: base 0x%llx is not page aligned", cq ? "CQ" : "SQ",
				       qid, (unsigned long long)base);
	if (cq && nvme_emu_in_cmb(emu, base, (uint64_t)qsize * CQE_SIZE))
		return nvme_emu_reject(req, NVME_DNR(NVME_SC_CMB_INVALID_USE),
				       "CQ %u in the CMB, which holds no CQs (CMBSZ.CQS=0)", qid);
	return 0;
}

uint16_t nvme_emu_create_cq(struct nvme_emu *emu, struct nvme_emu_req *req)
{
	uint16_t qid = (uint16_t)req->cmd.cdw10;
	uint32_t qsize = (req->cmd.cdw10 >> 16) + 1;
	uint32_t cdw11 = req->cmd.cdw11;
	uint16_t vector = (uint16_t)(cdw11 >> 16);
	bool irq = cdw11 & NVME_CQ_IRQ_ENABLED;
	uint16_t status;

	status = check_new_queue(emu, req, true, qid, emu->feat.ncqa);
	if (!status)
		status = check_queue_memory(emu, req, true, qid, qsize, cdw11);
	if (status)
		return status;
	if (irq && vector >= emu->nr_vectors)
		return nvme_emu_reject(req, NVME_DNR(NVME_SC_INVALID_VECTOR),
				       "CQ %u: interrupt vector %u, the controller has %u", qid,
				       vector, emu->nr_vectors);
	if (nvme_emu_cq_create(emu, qid, qsize, req->cmd.prp1, irq, vector))
		return NVME_SC_INTERNAL;
	return 0;
}

uint16_t nvme_emu_create_sq(struct nvme_emu *emu, struct nvme_emu_req *req)
{
	uint16_t qid = (uint16_t)req->cmd.cdw10;
	uint32_t qsize = (req->cmd.cdw10 >> 16) + 1;
	uint32_t cdw11 = req->cmd.cdw11;
	uint16_t cqid = (uint16_t)(cdw11 >> 16);
	uint16_t status;

	status = check_new_queue(emu, req, false, qid, emu->feat.nsqa);
	if (status)
		return status;
	if (!cqid || cqid >= emu->nr_queues || !emu->cq[cqid])
		return nvme_emu_reject(req, NVME_DNR(NVME_SC_CQ_INVALID), "SQ %u: CQ %u %s", qid,
				       cqid, cqid ? "does not exist" : "is the admin CQ");
	status = check_queue_memory(emu, req, false, qid, qsize, cdw11);
	if (status)
		return status;
	/* QPRIO (cdw11 bits 2:1) only matters with weighted round robin: ignored. */
	if (nvme_emu_sq_create(emu, qid, qsize, req->cmd.prp1, emu->cq[cqid]))
		return NVME_SC_INTERNAL;
	return 0;
}

uint16_t nvme_emu_delete_sq(struct nvme_emu *emu, struct nvme_emu_req *req)
{
	uint16_t qid = (uint16_t)req->cmd.cdw10;

	if (!qid || qid >= emu->nr_queues || !emu->sq[qid])
		return nvme_emu_reject(req, NVME_DNR(NVME_SC_QID_INVALID), "SQ %u %s", qid,
				       qid ? "does not exist" : "is the admin SQ");
	nvme_emu_sq_delete(emu, qid);
	return 0;
}

uint16_t nvme_emu_delete_cq(struct nvme_emu *emu, struct nvme_emu_req *req)
{
	uint16_t qid = (uint16_t)req->cmd.cdw10;

	if (!qid || qid >= emu->nr_queues || !emu->cq[qid])
		return nvme_emu_reject(req, NVME_DNR(NVME_SC_QID_INVALID), "CQ %u %s", qid,
				       qid ? "does not exist" : "is the admin CQ");
	if (emu->cq[qid]->nr_sqs)
		return nvme_emu_reject(req, NVME_DNR(NVME_SC_INVALID_QUEUE_DELETION),
				       "CQ %u still has %u SQs", qid, emu->cq[qid]->nr_sqs);
	nvme_emu_cq_delete(emu, qid);
	return 0;
}
