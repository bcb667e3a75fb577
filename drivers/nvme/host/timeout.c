// SPDX-License-Identifier: MIT
/*
 * Timeouts, Abort and controller reset.
 *
 * The escalation, as the kernel's nvme_timeout() does it:
 *
 *   I/O command past its deadline
 *     -> Abort (sec. 5.1) naming its SQ and command ID, on the admin queue
 *     -> wait up to the timeout again for the command to complete (with
 *        Command Abort Requested, which the caller sees as -ETIMEDOUT, or
 *        with its real status if it raced the Abort)
 *     -> still outstanding: reset the controller
 *   admin command past its deadline (an Abort included)
 *     -> reset the controller
 *
 * A reset quiesces every queue pair (the handshake in host.h), disables
 * the controller, which stops all its DMA and forgets every queue, fails
 * every outstanding command with -EIO after unmapping its data (so no
 * buffer is written after its command failed, and no command ever
 * completes with data from before the reset), enables the controller
 * again and recreates each I/O queue pair at the same queue ID. Commands
 * are never silently dropped: each one's handler runs exactly once.
 */
#define pr_fmt(fmt) "nvme: " fmt

#include <endian.h>
#include <errno.h>
#include <sched.h>

#include <hetmem/log.h>
#include "host.h"

/* The admin lock is held. Nothing to abort with: reset. */
static void admin_timeouts(struct nvme_qpair *aq, uint64_t now)
{
	struct nvme_ctrl *ctrl = aq->ctrl;

	if (ctrl->in_reset || nvme_ctrl_state(ctrl) != NVME_CTRL_LIVE)
		return;
	for (unsigned int i = 0; i < aq->depth; i++) {
		struct nvme_request *rq = &aq->rqs[i];

		if (rq->state != NVME_RQ_INFLIGHT || rq->deadline_ns > now)
			continue;
		nvme_stat_inc(ctrl, timeouts);
		pr_warn("admin command (opcode 0x%x) timed out after %u ms: resetting the "
			"controller",
			rq->cmd.opcode, ctrl->opts.timeout_ms);
		nvme_ctrl_reset_locked(ctrl);
		return;
	}
}

/* Whether the command @rq was when it timed out (slot and generation) is still outstanding. */
static int still_outstanding(struct nvme_qpair *qp, struct nvme_request *rq, uint8_t gen)
{
	bool ret;

	if (!nvme_qpair_enter(qp))
		return -1;
	nvme_qpair_poll(qp, 0);
	ret = rq->state == NVME_RQ_INFLIGHT && rq->gen == gen;
	nvme_qpair_exit(qp);
	return ret;
}

static void reset_if_live(struct nvme_ctrl *ctrl)
{
	pthread_mutex_lock(&ctrl->admin_lock);
	if (nvme_ctrl_state(ctrl) == NVME_CTRL_LIVE)
		nvme_ctrl_reset_locked(ctrl);
	pthread_mutex_unlock(&ctrl->admin_lock);
}

static void io_timeout(struct nvme_qpair *qp, struct nvme_request *rq, uint8_t gen, uint8_t opcode)
{
	struct nvme_ctrl *ctrl = qp->ctrl;
	uint16_t cid = (uint16_t)(rq->slot | (gen << NVME_CID_SLOT_BITS));
	struct nvme_command abort = { .opcode = nvme_admin_abort_cmd };
	uint64_t deadline;
	uint32_t result = 1;
	unsigned int spins = 0;
	int ret, still;

	nvme_stat_inc(ctrl, timeouts);
	pr_warn("qid %u: command 0x%x (opcode 0x%x) timed out after %u ms: aborting it", qp->qid,
		cid, opcode, ctrl->opts.timeout_ms);
	/* Abort: SQID in bits 15:0 of CDW10, CID in bits 31:16 (sec. 5.1). */
	abort.cdw10 = htole32(qp->qid | ((uint32_t)cid << 16));
	pthread_mutex_lock(&ctrl->admin_lock);
	if (nvme_ctrl_state(ctrl) != NVME_CTRL_LIVE) {
		pthread_mutex_unlock(&ctrl->admin_lock);
		return;
	}
	nvme_stat_inc(ctrl, aborts);
	ret = nvme_sync_locked(ctrl->admin, &abort, NULL, 0, DMA_NONE, &result);
	pthread_mutex_unlock(&ctrl->admin_lock);
	if (ret == -EIO || ret == -ENODEV)
		return; /* the Abort itself timed out: the reset has failed the command already */
	if (ret)
		pr_warn("qid %u: Abort of command 0x%x failed (%d)", qp->qid, cid, ret);
	else if (result & 1)
		pr_warn("qid %u: the controller did not abort command 0x%x", qp->qid, cid);
	deadline = nvme_time_ns() + (uint64_t)ctrl->opts.timeout_ms * 1000000;
	while ((still = still_outstanding(qp, rq, gen)) > 0) {
		if (nvme_time_ns() > deadline) {
			pr_warn("qid %u: command 0x%x still outstanding after its Abort: resetting "
				"the controller",
				qp->qid, cid);
			reset_if_live(ctrl);
			return;
		}
		nvme_idle(qp, &spins, deadline);
	}
}

/**
 * nvme_check_timeouts - handle commands of @qp past their deadline
 * @qp: the queue pair (its owner outside a busy section, or the admin lock
 *	holder for the admin queue)
 *
 * Handles one timed-out command per call (Abort, then reset), which may
 * take up to twice the timeout.
 */
void nvme_check_timeouts(struct nvme_qpair *qp)
{
	uint64_t now = nvme_time_ns();
	struct nvme_request *late = NULL;
	uint8_t gen = 0, opcode = 0;

	if (!qp->qid) {
		admin_timeouts(qp, now);
		return;
	}
	if (!nvme_qpair_enter(qp))
		return;
	for (unsigned int i = 0; i < qp->depth; i++) {
		struct nvme_request *rq = &qp->rqs[i];

		if (rq->state != NVME_RQ_INFLIGHT || rq->aborting || rq->deadline_ns > now)
			continue;
		rq->aborting = true;
		late = rq;
		gen = rq->gen;
		opcode = rq->cmd.opcode;
		break;
	}
	nvme_qpair_exit(qp);
	if (late)
		io_timeout(qp, late, gen, opcode);
}

/* The controller is off: fail what was outstanding and make the rings fresh. */
static void quiesce_all(struct nvme_ctrl *ctrl)
{
	struct nvme_qpair *qp;

	unsigned int n = nvme_qpair_fail_all(ctrl->admin, -EIO);

	nvme_qpair_reset_ring(ctrl->admin);
	ctrl->admin->created = false;
	list_for_each_entry(qp, &ctrl->qpairs, node) {
		n += nvme_qpair_fail_all(qp, -EIO);
		nvme_qpair_reset_ring(qp);
		qp->created = false;
	}
	__atomic_fetch_add(&ctrl->stats.reset_failed, n, __ATOMIC_RELAXED);
}

/**
 * nvme_ctrl_reset_locked - reset the controller and recreate its queues
 * @ctrl: the controller; the admin lock is held, the caller is in no
 *	  queue pair's busy section
 *
 * Return: 0, or the error that left the controller dead: -ETIMEDOUT and
 * -ENODEV from disable/enable, -EIO (CSTS.CFS, a queue that could not be
 * recreated, fewer queues granted).
 */
int nvme_ctrl_reset_locked(struct nvme_ctrl *ctrl)
{
	struct nvme_qpair *qp;
	int ret;

	ctrl->in_reset = true;
	__atomic_store_n(&ctrl->state, NVME_CTRL_RESETTING, __ATOMIC_SEQ_CST);
	/* Owners that saw LIVE before the store above finish their ring access first. */
	list_for_each_entry(qp, &ctrl->qpairs, node)
		while (__atomic_load_n(&qp->busy, __ATOMIC_SEQ_CST))
			sched_yield();
	nvme_stat_inc(ctrl, resets);
	pr_warn("resetting the controller");
	ret = nvme_ctrl_disable(ctrl);
	quiesce_all(ctrl);
	if (ret)
		goto dead;
	nvme_cmb_restore(ctrl);
	ret = nvme_ctrl_enable(ctrl);
	if (ret)
		goto dead;
	ctrl->admin->created = true;
	ret = nvme_set_queue_count(ctrl);
	if (ret)
		goto dead;
	list_for_each_entry(qp, &ctrl->qpairs, node) {
		ret = nvme_qpair_create_queues(qp);
		if (ret)
			goto dead;
	}
	ctrl->in_reset = false;
	__atomic_store_n(&ctrl->state, NVME_CTRL_LIVE, __ATOMIC_SEQ_CST);
	pr_info("controller reset done");
	return 0;
dead:
	pr_err("controller reset failed (%d): the controller is dead", ret);
	/* Whatever the reset itself had outstanding must not be written into later. */
	nvme_ctrl_disable(ctrl);
	quiesce_all(ctrl);
	ctrl->in_reset = false;
	__atomic_store_n(&ctrl->state, NVME_CTRL_DEAD, __ATOMIC_SEQ_CST);
	return ret > 0 ? -EIO : ret;
}
