// SPDX-License-Identifier: MIT
/*
 * Submission and completion rings, request slots and command IDs.
 *
 * A queue pair has @entries ring entries and @entries - 1 request slots.
 * Every outstanding command holds one slot and occupies at most one SQ
 * entry (until the controller fetched it) and, once complete, one CQ entry
 * (until the driver consumed it), so neither ring can ever be full: the
 * driver never has to check for room, and a full ring (tail + 1 == head,
 * sec. 4.1.2) cannot happen.
 *
 * Completions are recognised by their phase tag (sec. 4.6): the controller
 * inverts the tag it writes each time it wraps around the CQ, starting with
 * 1 on a freshly created queue whose memory is zero. The tag is read with
 * an acquire load before anything else of the entry, so the rest of the
 * entry is never read from before the controller wrote it.
 */
#define pr_fmt(fmt) "nvme: " fmt

#include <endian.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include <hetmem/log.h>
#include "host.h"

static size_t sq_bytes(const struct nvme_qpair *qp)
{
	return (size_t)qp->entries * sizeof(struct nvme_command);
}

static size_t cq_bytes(const struct nvme_qpair *qp)
{
	return (size_t)qp->entries * sizeof(struct nvme_completion);
}

static void free_slots(struct nvme_qpair *qp)
{
	struct nvme_transport *t = qp->ctrl->t;

	if (!qp->rqs)
		return;
	for (unsigned int i = 0; i < qp->depth; i++) {
		struct nvme_request *rq = &qp->rqs[i];

		for (unsigned int j = 0; rq->lists && j < qp->nr_lists; j++)
			t->ops->free_coherent(t->priv, rq->lists[j].cpu, NVME_PAGE_SIZE,
					      rq->lists[j].dma);
		if (rq->bounce)
			t->ops->free_coherent(t->priv, rq->bounce, qp->bounce_len, rq->bounce_dma);
		free(rq->lists);
		free(rq->data.sg);
	}
	free(qp->rqs);
	qp->rqs = NULL;
}

/*
 * Every slot gets its list pages and scatterlist now, so that nothing is
 * allocated per command; bounce buffers only when a command needs one
 * (most callers never do).
 */
static int alloc_slots(struct nvme_qpair *qp)
{
	struct nvme_ctrl *ctrl = qp->ctrl;
	struct nvme_transport *t = ctrl->t;

	qp->nr_lists = ctrl->list_pages;
	qp->bounce_len = ctrl->max_transfer;
	qp->rqs = calloc(qp->depth, sizeof(*qp->rqs));
	qp->free = calloc(qp->depth, sizeof(*qp->free));
	if (!qp->rqs || !qp->free)
		return -ENOMEM;
	for (unsigned int i = 0; i < qp->depth; i++) {
		struct nvme_request *rq = &qp->rqs[i];

		rq->qp = qp;
		rq->slot = (uint16_t)i;
		rq->data.sg = calloc(ctrl->max_segs, sizeof(*rq->data.sg));
		rq->lists = calloc(qp->nr_lists, sizeof(*rq->lists));
		if (!rq->data.sg || !rq->lists)
			return -ENOMEM;
		for (unsigned int j = 0; j < qp->nr_lists; j++) {
			rq->lists[j].cpu =
				t->ops->alloc_coherent(t->priv, NVME_PAGE_SIZE, &rq->lists[j].dma);
			if (!rq->lists[j].cpu)
				return -ENOMEM;
		}
		/* Pop order: slot 0 first. */
		qp->free[i] = (uint16_t)(qp->depth - 1 - i);
	}
	qp->nr_free = qp->depth;
	return 0;
}

/**
 * nvme_qpair_init - allocate a queue pair's rings and slots
 * @qp: zeroed queue pair
 * @ctrl: the controller
 * @qid: queue ID
 * @entries: ring entries, 2 to 4096
 * @sq_in_cmb: place the SQ in the controller memory buffer (falls back to
 *	       host memory when the CMB has no room)
 *
 * Return: 0, -EINVAL for a bad size, -ENOMEM.
 */
int nvme_qpair_init(struct nvme_qpair *qp, struct nvme_ctrl *ctrl, uint16_t qid,
		    unsigned int entries, bool sq_in_cmb)
{
	struct nvme_transport *t = ctrl->t;
	int ret = -ENOMEM;

	if (entries < 2 || entries > NVME_MAX_SLOTS + 1)
		return -EINVAL;
	qp->ctrl = ctrl;
	qp->qid = qid;
	qp->entries = (uint16_t)entries;
	qp->depth = (uint16_t)(entries - 1);
	qp->vector = -1;
	qp->phase = 1;
	INIT_LIST_HEAD(&qp->node);
	/* SQ y tail doorbell at 1000h + 2y strides, CQ y head one stride on (sec. 3.1.24). */
	qp->sq_db = NVME_SQ_DB(qid, ctrl->dstrd);
	qp->cq_db = NVME_CQ_DB(qid, ctrl->dstrd);
	if (sq_in_cmb) {
		qp->sq = nvme_cmb_alloc_sq(ctrl, sq_bytes(qp), &qp->sq_dma);
		qp->sq_cmb = qp->sq != NULL;
	}
	if (!qp->sq)
		qp->sq = t->ops->alloc_coherent(t->priv, sq_bytes(qp), &qp->sq_dma);
	qp->cq = t->ops->alloc_coherent(t->priv, cq_bytes(qp), &qp->cq_dma);
	if (!qp->sq || !qp->cq)
		goto fail;
	ret = alloc_slots(qp);
	if (ret)
		goto fail;
	return 0;
fail:
	nvme_qpair_destroy(qp);
	return ret;
}

/**
 * nvme_qpair_destroy - free what nvme_qpair_init() allocated
 * @qp: the queue pair; the controller no longer uses its queues
 */
void nvme_qpair_destroy(struct nvme_qpair *qp)
{
	struct nvme_transport *t = qp->ctrl->t;

	free_slots(qp);
	free(qp->free);
	qp->free = NULL;
	if (qp->sq && qp->sq_cmb)
		nvme_cmb_free_sq(qp->ctrl, qp->sq, sq_bytes(qp));
	else if (qp->sq)
		t->ops->free_coherent(t->priv, qp->sq, sq_bytes(qp), qp->sq_dma);
	if (qp->cq)
		t->ops->free_coherent(t->priv, qp->cq, cq_bytes(qp), qp->cq_dma);
	qp->sq = NULL;
	qp->cq = NULL;
}

/**
 * nvme_qpair_reset_ring - make the rings look freshly created
 * @qp: the queue pair; the controller does not use its queues
 *
 * After a controller reset (or before re-creating a queue) the controller
 * starts at entry 0 with phase 1 again. Old completions still in the CQ
 * carry phase 1 too and would be taken for new ones: the CQ is zeroed.
 */
void nvme_qpair_reset_ring(struct nvme_qpair *qp)
{
	memset(qp->cq, 0, cq_bytes(qp));
	qp->sq_tail = 0;
	qp->sq_head = 0;
	qp->cq_head = 0;
	qp->phase = 1;
}

/**
 * nvme_rq_get - take a free request slot
 * @qp: the queue pair (owner or admin lock)
 *
 * Return: the slot, with a fresh generation and an empty command, or NULL
 * when every slot is in use.
 */
struct nvme_request *nvme_rq_get(struct nvme_qpair *qp)
{
	struct nvme_request *rq;

	if (!qp->nr_free)
		return NULL;
	rq = &qp->rqs[qp->free[--qp->nr_free]];
	rq->gen = (rq->gen + 1) & NVME_CID_GEN_MASK;
	rq->state = NVME_RQ_INFLIGHT;
	rq->aborting = false;
	rq->fail_status = 0;
	rq->head = rq;
	rq->cb = NULL;
	rq->data.nents = 0;
	rq->data.mapped = 0;
	rq->data.bounced = false;
	rq->data.len = 0;
	rq->data.buf = NULL;
	memset(&rq->cmd, 0, sizeof(rq->cmd));
	return rq;
}

/**
 * nvme_rq_put - give a slot back
 * @rq: the request; its data is unmapped
 */
void nvme_rq_put(struct nvme_request *rq)
{
	struct nvme_qpair *qp = rq->qp;

	rq->state = NVME_RQ_FREE;
	qp->free[qp->nr_free++] = rq->slot;
}

static uint16_t rq_cid(const struct nvme_request *rq)
{
	return (uint16_t)(rq->slot | (rq->gen << NVME_CID_SLOT_BITS));
}

/**
 * nvme_rq_submit - put a built command on the SQ and ring the doorbell
 * @rq: the request, its command complete but for the command ID
 *
 * The caller is the owner inside a busy section, or holds the admin lock.
 */
void nvme_rq_submit(struct nvme_request *rq)
{
	struct nvme_qpair *qp = rq->qp;
	struct nvme_ctrl *ctrl = qp->ctrl;

	rq->cmd.command_id = htole16(rq_cid(rq));
	rq->deadline_ns = nvme_time_coarse_ns() + (uint64_t)ctrl->opts.timeout_ms * 1000000;
	memcpy(&qp->sq[qp->sq_tail], &rq->cmd, sizeof(rq->cmd));
	if (++qp->sq_tail == qp->entries)
		qp->sq_tail = 0;
	/*
	 * The entry must be in memory before the controller learns of it. The
	 * transport's register write orders earlier memory writes before
	 * itself, as the kernel's writel() does (its contract in nvme.h).
	 *
	 * Inside a poll (a callback submitting the next command), one doorbell
	 * at the end of the poll covers every command submitted meanwhile: on
	 * the MMIO path a doorbell costs more than the rest of a submission.
	 */
	if (qp->polling) {
		qp->sq_db_pending = true;
		return;
	}
	nvme_writel(ctrl, qp->sq_db, qp->sq_tail);
}

/* Unmap, then hand the request to its completion handler. */
static void rq_complete(struct nvme_request *rq, int status, uint32_t result)
{
	nvme_rq_unmap_data(rq, status == 0);
	rq->end(rq, status, result);
}

/**
 * nvme_qpair_deliver_failed - run the handlers of requests a reset failed
 * @qp: the queue pair (its owner, or the admin lock)
 *
 * Their data is already unmapped (the controller was disabled first): only
 * the handlers are left, and they run on the owner. This touches no ring,
 * so it also serves a dead controller.
 *
 * Return: how many were delivered.
 */
int nvme_qpair_deliver_failed(struct nvme_qpair *qp)
{
	int n = 0;

	for (unsigned int i = 0; i < qp->depth && qp->nr_failed; i++) {
		struct nvme_request *rq = &qp->rqs[i];

		if (rq->state != NVME_RQ_FAILED)
			continue;
		qp->nr_failed--;
		rq->state = NVME_RQ_INFLIGHT;
		rq->end(rq, rq->fail_status, 0);
		n++;
	}
	return n;
}

/* Status field (sec. 4.6.1) to the driver's value: the phase tag shifted out. */
static int cqe_status(const struct nvme_request *rq, uint16_t status)
{
	int sf = status >> 1;

	/* A command we aborted because it timed out: tell the caller it timed out. */
	if (rq->aborting && (sf & 0x7ff) == NVME_SC_ABORT_REQ)
		return -ETIMEDOUT;
	return sf;
}

/**
 * nvme_qpair_poll - consume the completions that are there
 * @qp: the queue pair (owner inside a busy section, or admin lock)
 * @max: the most to consume, 0 for no limit
 *
 * Return: how many requests completed (failed ones a reset left included).
 */
int nvme_qpair_poll(struct nvme_qpair *qp, unsigned int max)
{
	unsigned int n = 0;
	int done = 0;

	if (qp->nr_failed)
		done = nvme_qpair_deliver_failed(qp);
	qp->polling = true;
	while (!max || n < max) {
		struct nvme_completion *cqe = &qp->cq[qp->cq_head];
		/*
		 * The second half of the entry (SQ head, SQ id, command id,
		 * status) as one acquire load: it is the half a controller
		 * writes last and whole, so a new phase means the rest of the
		 * entry and the command's data are there (and a race checker
		 * sees the same word released and acquired).
		 */
		uint64_t *half = __builtin_assume_aligned(&cqe->sq_head, 8); /* 16-byte entries */
		uint64_t hi = le64toh(__atomic_load_n(half, __ATOMIC_ACQUIRE));
		uint16_t status = (uint16_t)(hi >> 48);
		struct nvme_request *rq;
		uint16_t cid, slot;

		if ((status & 1) != qp->phase)
			break;
		cid = le16toh(cqe->command_id);
		slot = cid & NVME_CID_SLOT_MASK;
		qp->sq_head = le16toh(cqe->sq_head);
		if (++qp->cq_head == qp->entries) {
			qp->cq_head = 0;
			qp->phase ^= 1;
		}
		n++;
		rq = slot < qp->depth ? &qp->rqs[slot] : NULL;
		if (!rq || rq->state != NVME_RQ_INFLIGHT ||
		    rq->gen != (cid >> NVME_CID_SLOT_BITS)) {
			pr_err("qid %u: completion for command ID 0x%x, which is not outstanding: "
			       "dropped",
			       qp->qid, cid);
			continue;
		}
		rq_complete(rq, cqe_status(rq, status), le32toh(cqe->result));
		done++;
	}
	qp->polling = false;
	/* One head doorbell for the whole batch frees the CQ entries consumed. */
	if (n)
		nvme_writel(qp->ctrl, qp->cq_db, qp->cq_head);
	if (qp->sq_db_pending) {
		qp->sq_db_pending = false;
		nvme_writel(qp->ctrl, qp->sq_db, qp->sq_tail);
	}
	return done;
}

/**
 * nvme_qpair_fail_all - fail every outstanding request (the controller is off)
 * @qp: the queue pair, quiesced: its owner is out of the rings
 * @status: the status to deliver
 *
 * The controller no longer accesses memory, so the data mappings are
 * undone now (nothing lands in a buffer after this); the handlers run on
 * the owner at its next poll.
 *
 * Return: how many requests were failed.
 */
unsigned int nvme_qpair_fail_all(struct nvme_qpair *qp, int status)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < qp->depth; i++) {
		struct nvme_request *rq = &qp->rqs[i];

		if (rq->state != NVME_RQ_INFLIGHT)
			continue;
		nvme_rq_unmap_data(rq, false);
		rq->state = NVME_RQ_FAILED;
		rq->fail_status = status;
		qp->nr_failed++;
		n++;
	}
	return n;
}

/**
 * nvme_qpair_enter - the owner starts touching the rings
 * @qp: the queue pair
 *
 * Return: true when the controller is live and the owner may go on (call
 * nvme_qpair_exit() after), false when a reset runs or the controller is
 * dead (nothing to undo).
 */
bool nvme_qpair_enter(struct nvme_qpair *qp)
{
	if (qp->nest) {
		qp->nest++;
		return true;
	}
	/* Sequentially consistent store then load: see the reset handshake in host.h. */
	__atomic_store_n(&qp->busy, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&qp->ctrl->state, __ATOMIC_SEQ_CST) == NVME_CTRL_LIVE) {
		qp->nest = 1;
		return true;
	}
	__atomic_store_n(&qp->busy, 0, __ATOMIC_RELEASE);
	return false;
}

/**
 * nvme_qpair_exit - the owner is done with the rings
 * @qp: the queue pair
 */
void nvme_qpair_exit(struct nvme_qpair *qp)
{
	if (--qp->nest == 0)
		__atomic_store_n(&qp->busy, 0, __ATOMIC_RELEASE);
}

/**
 * nvme_qpair_wait_live - enter, waiting out a reset
 * @qp: the queue pair
 *
 * Return: 0 when entered (call nvme_qpair_exit()), -ENODEV when the
 * controller is dead.
 */
int nvme_qpair_wait_live(struct nvme_qpair *qp)
{
	while (!nvme_qpair_enter(qp)) {
		if (nvme_ctrl_state(qp->ctrl) == NVME_CTRL_DEAD)
			return -ENODEV;
		/* A reset takes up to CAP.TO: give the CPU away meanwhile. */
		sched_yield();
	}
	return 0;
}
