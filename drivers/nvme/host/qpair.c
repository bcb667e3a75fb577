// SPDX-License-Identifier: MIT
/*
 * I/O queue pairs: one per submitting thread.
 *
 * Each queue pair is an I/O completion queue and an I/O submission queue
 * with the same queue ID, created with Create I/O Completion Queue then
 * Create I/O Submission Queue (sec. 5.3, 5.4) and deleted in the opposite
 * order (sec. 5.5, 5.6: a CQ cannot be deleted while an SQ uses it). The
 * queues are physically contiguous (PC=1): the driver never needs more
 * than 4096 entries, 256 KiB of SQ at most.
 *
 * With interrupts, the CQ of queue ID q signals MSI-X vector q (the admin
 * CQ has vector 0), so each queue pair's owner sleeps on a vector of its
 * own and never takes another thread's wake-up.
 */
#define pr_fmt(fmt) "nvme: " fmt

#include <endian.h>
#include <errno.h>
#include <stdlib.h>

#include <hetmem/err.h>
#include <hetmem/log.h>
#include "host.h"

static int create_cq(struct nvme_qpair *qp)
{
	struct nvme_command cmd = { .opcode = nvme_admin_create_cq };
	uint32_t flags = NVME_QUEUE_PHYS_CONTIG;

	if (qp->vector >= 0)
		flags |= NVME_CQ_IRQ_ENABLED | ((uint32_t)qp->vector << 16);
	cmd.prp1 = htole64(qp->cq_dma);
	cmd.cdw10 = htole32(qp->qid | ((uint32_t)(qp->entries - 1) << 16));
	cmd.cdw11 = htole32(flags);
	return nvme_sync_locked(qp->ctrl->admin, &cmd, NULL, 0, DMA_NONE, NULL);
}

static int create_sq(struct nvme_qpair *qp)
{
	struct nvme_command cmd = { .opcode = nvme_admin_create_sq };

	cmd.prp1 = htole64(qp->sq_dma);
	cmd.cdw10 = htole32(qp->qid | ((uint32_t)(qp->entries - 1) << 16));
	/* CQID in bits 31:16, medium priority (ignored under round robin), contiguous. */
	cmd.cdw11 = htole32(NVME_QUEUE_PHYS_CONTIG | ((uint32_t)qp->qid << 16));
	return nvme_sync_locked(qp->ctrl->admin, &cmd, NULL, 0, DMA_NONE, NULL);
}

static int delete_queue(struct nvme_qpair *qp, uint8_t opcode)
{
	struct nvme_command cmd = { .opcode = opcode };

	cmd.cdw10 = htole32(qp->qid);
	return nvme_sync_locked(qp->ctrl->admin, &cmd, NULL, 0, DMA_NONE, NULL);
}

/**
 * nvme_qpair_create_queues - create the CQ and SQ of @qp on the controller
 * @qp: the queue pair, its rings fresh; the admin lock is held
 *
 * A CQ refused for its interrupt vector (Invalid Interrupt Vector: fewer
 * MSI-X vectors than queues) is created again without interrupts; its
 * owner polls.
 *
 * Return: 0, -EIO when the controller refused a queue, -ETIMEDOUT, -ENODEV.
 */
int nvme_qpair_create_queues(struct nvme_qpair *qp)
{
	int ret = create_cq(qp);

	if (ret > 0 && (ret & 0x7ff) == NVME_SC_INVALID_VECTOR && qp->vector >= 0) {
		pr_warn("qid %u: no interrupt vector %d, polling it instead", qp->qid, qp->vector);
		qp->vector = -1;
		ret = create_cq(qp);
	}
	if (ret) {
		pr_err("qid %u: Create I/O Completion Queue failed: %d", qp->qid, ret);
		return ret > 0 ? -EIO : ret;
	}
	ret = create_sq(qp);
	if (ret) {
		pr_err("qid %u: Create I/O Submission Queue failed: %d", qp->qid, ret);
		delete_queue(qp, nvme_admin_delete_cq);
		return ret > 0 ? -EIO : ret;
	}
	qp->created = true;
	return 0;
}

static int alloc_qid(struct nvme_ctrl *ctrl)
{
	for (unsigned int q = 1; q <= ctrl->nr_io_queues; q++) {
		if (!ctrl->qid_used[q]) {
			ctrl->qid_used[q] = 1;
			return (int)q;
		}
	}
	return -EBUSY;
}

struct nvme_qpair *nvme_qpair_alloc(struct nvme_ctrl *ctrl)
{
	struct nvme_qpair *qp;
	unsigned int entries = ctrl->opts.io_queue_depth + 1;
	int qid, ret;

	if (entries > NVME_CAP_MQES(ctrl->cap) + 1)
		entries = NVME_CAP_MQES(ctrl->cap) + 1;
	qp = calloc(1, sizeof(*qp));
	if (!qp)
		return ERR_PTR(-ENOMEM);
	pthread_mutex_lock(&ctrl->admin_lock);
	ret = -ENODEV;
	if (nvme_ctrl_state(ctrl) != NVME_CTRL_LIVE)
		goto unlock;
	qid = alloc_qid(ctrl);
	ret = qid;
	if (qid < 0)
		goto unlock;
	ret = nvme_qpair_init(qp, ctrl, (uint16_t)qid, entries, ctrl->cmb.sqs);
	if (ret)
		goto put_qid;
	qp->vector = ctrl->opts.use_irq ? qid : -1;
	ret = nvme_qpair_create_queues(qp);
	if (ret)
		goto destroy;
	list_add_tail(&qp->node, &ctrl->qpairs);
	pthread_mutex_unlock(&ctrl->admin_lock);
	return qp;
destroy:
	nvme_qpair_destroy(qp);
put_qid:
	ctrl->qid_used[qid] = 0;
unlock:
	pthread_mutex_unlock(&ctrl->admin_lock);
	free(qp);
	return ERR_PTR(ret);
}

/*
 * Outstanding commands get until their timeout to finish (and the abort
 * and reset machinery if they do not), reaped by the caller, who owns @qp.
 */
static void drain(struct nvme_qpair *qp)
{
	while (nvme_qpair_outstanding(qp)) {
		int n = nvme_qpair_wait(qp, 100);

		if (n < 0)
			break;
	}
}

void nvme_qpair_free(struct nvme_qpair *qp)
{
	struct nvme_ctrl *ctrl;

	if (!qp)
		return;
	ctrl = qp->ctrl;
	drain(qp);
	pthread_mutex_lock(&ctrl->admin_lock);
	if (qp->created && nvme_ctrl_state(ctrl) == NVME_CTRL_LIVE) {
		/* Deleting the SQ aborts whatever is left in it; the CQ goes after it. */
		if (delete_queue(qp, nvme_admin_delete_sq) == 0)
			nvme_qpair_poll(qp, 0);
		delete_queue(qp, nvme_admin_delete_cq);
	}
	qp->created = false;
	list_del(&qp->node);
	ctrl->qid_used[qp->qid] = 0;
	pthread_mutex_unlock(&ctrl->admin_lock);
	/* Neither queue exists any more: whatever did not complete has failed. */
	nvme_qpair_fail_all(qp, -EIO);
	nvme_qpair_deliver_failed(qp);
	nvme_qpair_destroy(qp);
	free(qp);
}

unsigned int nvme_qpair_id(const struct nvme_qpair *qp)
{
	return qp->qid;
}

unsigned int nvme_qpair_outstanding(const struct nvme_qpair *qp)
{
	return qp->depth - qp->nr_free;
}
