// SPDX-License-Identifier: MIT
/*
 * Synchronous commands: admin commands under the admin lock, I/O commands
 * on the caller's queue pair, and the wait loop both use.
 *
 * Waiting. With interrupts the waiter sleeps on the CQ's vector between
 * polls; without, it spins briefly and then yields the CPU between polls.
 * On this kind of machine the controller model runs on threads of its own
 * that need the CPU a spinning waiter would take (two cores), and a wake-up
 * costs tens of microseconds, so a short spin catches fast completions
 * cheaply and the yield keeps slow ones from starving the controller.
 *
 * Timeouts are noticed by the waiter (or by whoever reaps an asynchronous
 * queue pair), never by a timer thread: a queue pair has one owner and only
 * it touches the rings.
 */
#define pr_fmt(fmt) "nvme: " fmt

#include <endian.h>
#include <errno.h>
#include <sched.h>

#include <hetmem/log.h>
#include "host.h"

#define SPINS_BEFORE_YIELD 32
/* Sleep on an interrupt at most this long, to look at timeouts in between. */
#define IRQ_SLICE_MS 100

struct sync_wait {
	bool done;
	int status;
	uint32_t result;
};

static void sync_end(struct nvme_request *rq, int status, uint32_t result)
{
	struct sync_wait *w = rq->end_data;

	w->status = status;
	w->result = result;
	w->done = true;
	nvme_rq_put(rq);
}

/* A waiter gave up on the request: nobody wants its completion any more. */
static void orphan_end(struct nvme_request *rq, int status, uint32_t result)
{
	nvme_rq_put(rq);
}

/**
 * nvme_irq_wait - sleep until the CQ's vector fires
 * @qp: the queue pair, with a vector
 * @timeout_ms: the most to sleep
 *
 * Return: 1 (interrupt), 0 (timeout), or a negative errno.
 */
int nvme_irq_wait(struct nvme_qpair *qp, int timeout_ms)
{
	struct nvme_transport *t = qp->ctrl->t;

	return t->ops->irq_wait(t->priv, (unsigned int)qp->vector, timeout_ms);
}

/* One poll of @qp by whoever may: the admin lock holder, or the owner. */
static int poll_once(struct nvme_qpair *qp)
{
	int n;

	if (!qp->qid)
		return nvme_qpair_poll(qp, 0);
	if (!nvme_qpair_enter(qp)) {
		/* Dead: requests failed by the last reset are still to be delivered. */
		if (nvme_ctrl_state(qp->ctrl) == NVME_CTRL_DEAD)
			return nvme_qpair_deliver_failed(qp);
		return 0;
	}
	n = nvme_qpair_poll(qp, 0);
	nvme_qpair_exit(qp);
	return n;
}

/**
 * nvme_idle - wait a little for @qp's next completion
 * @qp: the queue pair
 * @spins: the caller's count of idle rounds, 0 after progress
 * @limit_ns: do not sleep past this time (0: no limit)
 *
 * Sleeps on the CQ's vector when it has one (and the transport can wait on
 * it), else spins briefly and then yields.
 */
void nvme_idle(struct nvme_qpair *qp, unsigned int *spins, uint64_t limit_ns)
{
	if (qp->vector >= 0 && nvme_ctrl_state(qp->ctrl) == NVME_CTRL_LIVE) {
		uint64_t now = nvme_time_ns();
		int ms = IRQ_SLICE_MS;

		if (limit_ns && limit_ns > now && (limit_ns - now) / 1000000 < IRQ_SLICE_MS)
			ms = (int)((limit_ns - now) / 1000000) + 1;
		if (nvme_irq_wait(qp, ms) >= 0)
			return;
	}
	if (++*spins < SPINS_BEFORE_YIELD)
		nvme_cpu_relax();
	else
		sched_yield();
}

/**
 * nvme_wait_done - poll @qp until *@done
 * @qp: the queue pair (its owner, outside a busy section; or the admin lock)
 * @done: set by a completion handler run on this thread
 * @timeout_ns: give up after this long (-1: never; timeouts of the
 *		requests themselves are handled by abort and reset, which
 *		always finish them)
 *
 * Return: 0 when *@done, -ETIMEDOUT when given up.
 */
int nvme_wait_done(struct nvme_qpair *qp, const bool *done, int64_t timeout_ns)
{
	uint64_t limit = timeout_ns < 0 ? 0 : nvme_time_ns() + (uint64_t)timeout_ns;
	unsigned int spins = 0;

	while (!*done) {
		if (poll_once(qp) > 0) {
			spins = 0;
			continue;
		}
		if (*done)
			break;
		if (limit && nvme_time_ns() > limit)
			return -ETIMEDOUT;
		nvme_check_timeouts(qp);
		if (!*done)
			nvme_idle(qp, &spins, limit);
	}
	return 0;
}

/* Take a slot, reaping completions while the queue pair is full. */
static struct nvme_request *get_slot(struct nvme_qpair *qp)
{
	for (;;) {
		struct nvme_request *rq = nvme_rq_get(qp);

		if (rq || !qp->qid)
			return rq;
		nvme_qpair_poll(qp, 0);
		rq = nvme_rq_get(qp);
		if (rq)
			return rq;
		nvme_qpair_exit(qp);
		nvme_check_timeouts(qp);
		sched_yield();
		if (nvme_qpair_wait_live(qp))
			return NULL;
	}
}

/*
 * Build, map and submit @cmd in @rq; the caller holds the admin lock (admin
 * queue) or is inside a busy section (I/O queue pair).
 */
static int start(struct nvme_request *rq, const struct nvme_command *cmd, void *buf, size_t len,
		 enum dma_data_direction dir, struct sync_wait *w)
{
	int ret;

	rq->cmd = *cmd;
	if (buf && len) {
		/* The driver chooses the data pointer: PRPs or SGL, PSDT to match. */
		rq->cmd.flags &= (uint8_t)~NVME_CMD_PSDT_MASK;
		ret = nvme_rq_map_data(rq, buf, len, dir);
		if (ret) {
			nvme_rq_put(rq);
			return ret;
		}
	}
	rq->end = sync_end;
	rq->end_data = w;
	nvme_rq_submit(rq);
	return 0;
}

static int check_data(struct nvme_ctrl *ctrl, void *buf, size_t len, enum dma_data_direction dir)
{
	if (!buf || !len)
		return 0;
	if (len > ctrl->max_transfer ||
	    (dir != DMA_TO_DEVICE && dir != DMA_FROM_DEVICE && dir != DMA_BIDIRECTIONAL))
		return -EINVAL;
	return 0;
}

/**
 * nvme_sync_locked - run a command on the admin queue and wait for it
 * @qp: the admin queue pair; the admin lock is held
 * @cmd: the command
 * @buf: data or NULL (data pointers already in @cmd are kept then)
 * @len: its length
 * @dir: its direction
 * @result: completion dword 0, or NULL
 *
 * During a reset nothing can reset the controller again: a command that
 * times out then is given up (-ETIMEDOUT) and the reset fails.
 *
 * Return: 0, positive NVMe status, -ETIMEDOUT, -EIO, -ENODEV, -EBUSY (no
 * free slot), mapping errors.
 */
int nvme_sync_locked(struct nvme_qpair *qp, const struct nvme_command *cmd, void *buf, size_t len,
		     enum dma_data_direction dir, uint32_t *result)
{
	struct nvme_ctrl *ctrl = qp->ctrl;
	struct sync_wait w = { 0 };
	struct nvme_request *rq;
	int ret;

	if (nvme_ctrl_state(ctrl) == NVME_CTRL_DEAD)
		return -ENODEV;
	ret = check_data(ctrl, buf, len, dir);
	if (ret)
		return ret;
	rq = nvme_rq_get(qp);
	if (!rq)
		return -EBUSY;
	ret = start(rq, cmd, buf, len, dir, &w);
	if (ret)
		return ret;
	ret = nvme_wait_done(qp, &w.done,
			     ctrl->in_reset ? (int64_t)ctrl->opts.timeout_ms * 1000000 : -1);
	if (ret) {
		/* Only during a reset: it will fail, disable the controller and unmap the data. */
		rq->end = orphan_end;
		return ret;
	}
	if (result)
		*result = w.result;
	return w.status;
}

int nvme_admin_cmd(struct nvme_ctrl *ctrl, const struct nvme_command *cmd, void *buf, size_t len,
		   enum dma_data_direction dir, uint32_t *result)
{
	int ret;

	if (!ctrl || !cmd)
		return -EINVAL;
	pthread_mutex_lock(&ctrl->admin_lock);
	ret = nvme_sync_locked(ctrl->admin, cmd, buf, len, dir, result);
	pthread_mutex_unlock(&ctrl->admin_lock);
	return ret;
}

int nvme_io_cmd(struct nvme_qpair *qp, const struct nvme_command *cmd, void *buf, size_t len,
		enum dma_data_direction dir, uint32_t *result)
{
	struct sync_wait w = { 0 };
	struct nvme_request *rq;
	int ret;

	if (!qp || !cmd)
		return -EINVAL;
	ret = check_data(qp->ctrl, buf, len, dir);
	if (ret)
		return ret;
	ret = nvme_qpair_wait_live(qp);
	if (ret)
		return ret;
	rq = get_slot(qp);
	if (!rq)
		return -ENODEV;
	ret = start(rq, cmd, buf, len, dir, &w);
	nvme_qpair_exit(qp);
	if (ret)
		return ret;
	nvme_wait_done(qp, &w.done, -1);
	if (result)
		*result = w.result;
	return w.status;
}
