// SPDX-License-Identifier: MIT
/*
 * The block interface: read, write, flush, deallocate and write zeroes of a
 * namespace (NVM command set, sec. 6), synchronous and asynchronous.
 *
 * A read or write larger than the largest transfer is split into commands
 * of at most that size (and at most 65536 blocks, the 16-bit NLB). The
 * first command's slot is the I/O's head: it counts the commands still
 * outstanding and keeps the first error; the caller's callback runs when
 * the last one completes, after the head's slot is free again, so the
 * callback may submit the next I/O into it.
 *
 * The synchronous calls are built on the same commands and wait on the
 * queue pair; a large synchronous transfer keeps up to the queue depth of
 * its commands in flight.
 */
#define pr_fmt(fmt) "nvme: " fmt

#include <endian.h>
#include <errno.h>
#include <string.h>

#include <hetmem/log.h>
#include "host.h"

#define WZ_MAX_BLOCKS 65536U

static uint32_t max_blocks(const struct nvme_ns *ns)
{
	size_t blocks = ns->ctrl->max_transfer >> ns->lba_shift;

	if (blocks > WZ_MAX_BLOCKS)
		blocks = WZ_MAX_BLOCKS;
	return blocks ? (uint32_t)blocks : 1;
}

static void rw_cmd(struct nvme_command *cmd, const struct nvme_ns *ns, uint8_t opcode,
		   uint64_t slba, uint32_t nlb)
{
	cmd->opcode = opcode;
	cmd->nsid = htole32(ns->nsid);
	cmd->cdw10 = htole32((uint32_t)slba);
	cmd->cdw11 = htole32((uint32_t)(slba >> 32));
	/* NLB is 0-based (sec. 6.9). */
	cmd->cdw12 = htole32(nlb - 1);
}

/* Completion of one command of an I/O: account it to the head, finish the I/O with the last. */
static void io_end(struct nvme_request *rq, int status, uint32_t result)
{
	struct nvme_request *head = rq->head;
	nvme_io_cb cb;
	void *arg;

	if (status && !head->io_status)
		head->io_status = status;
	if (rq != head)
		nvme_rq_put(rq);
	if (--head->pending)
		return;
	cb = head->cb;
	arg = head->cb_arg;
	status = head->io_status;
	nvme_rq_put(head);
	if (cb)
		cb(arg, status);
}

static int check_rw(const struct nvme_ns *ns, const struct nvme_qpair *qp, const void *buf,
		    uint32_t nlb)
{
	if (!ns || !qp || !buf || !nlb || ns->ms || qp->ctrl != ns->ctrl)
		return -EINVAL;
	return 0;
}

/*
 * Submit the commands of one I/O; the owner is inside a busy section and
 * there are @n free slots. A mapping error on the first command fails the
 * call; on a later one the commands already submitted finish the I/O with
 * that error.
 */
static int rw_submit_locked(struct nvme_ns *ns, struct nvme_qpair *qp, uint8_t opcode, void *buf,
			    uint64_t slba, uint32_t nlb, unsigned int n, nvme_io_cb cb, void *arg)
{
	enum dma_data_direction dir = opcode == nvme_cmd_write ? DMA_TO_DEVICE : DMA_FROM_DEVICE;
	uint32_t chunk = max_blocks(ns);
	struct nvme_request *head = NULL;

	if (n > 1)
		nvme_stat_inc(qp->ctrl, split_ios);
	for (unsigned int i = 0; i < n; i++) {
		uint32_t blocks = nlb - i * chunk < chunk ? nlb - i * chunk : chunk;
		struct nvme_request *rq = nvme_rq_get(qp);
		int ret;

		rw_cmd(&rq->cmd, ns, opcode, slba + (uint64_t)i * chunk, blocks);
		ret = nvme_rq_map_data(rq, (char *)buf + ((size_t)i * chunk << ns->lba_shift),
				       (size_t)blocks << ns->lba_shift, dir);
		if (ret) {
			nvme_rq_put(rq);
			if (!head)
				return ret;
			/* The commands not submitted will never complete: settle the count now. */
			head->io_status = ret;
			head->pending -= n - i;
			return 0;
		}
		if (!head) {
			head = rq;
			head->pending = n;
			head->io_status = 0;
			head->cb = cb;
			head->cb_arg = arg;
		}
		rq->head = head;
		rq->end = io_end;
		nvme_rq_submit(rq);
	}
	return 0;
}

static int submit_rw(struct nvme_ns *ns, struct nvme_qpair *qp, uint8_t opcode, void *buf,
		     uint64_t slba, uint32_t nlb, nvme_io_cb cb, void *arg)
{
	unsigned int n;
	int ret = check_rw(ns, qp, buf, nlb);

	if (ret)
		return ret;
	n = DIV_ROUND_UP(nlb, max_blocks(ns));
	if (n > qp->depth)
		return -EINVAL;
	ret = nvme_qpair_wait_live(qp);
	if (ret)
		return ret;
	if (qp->nr_free < n)
		ret = -EAGAIN;
	else
		ret = rw_submit_locked(ns, qp, opcode, buf, slba, nlb, n, cb, arg);
	nvme_qpair_exit(qp);
	return ret;
}

int nvme_submit_read(struct nvme_ns *ns, struct nvme_qpair *qp, void *buf, uint64_t slba,
		     uint32_t nlb, nvme_io_cb cb, void *arg)
{
	return submit_rw(ns, qp, nvme_cmd_read, buf, slba, nlb, cb, arg);
}

int nvme_submit_write(struct nvme_ns *ns, struct nvme_qpair *qp, const void *buf, uint64_t slba,
		      uint32_t nlb, nvme_io_cb cb, void *arg)
{
	return submit_rw(ns, qp, nvme_cmd_write, (void *)buf, slba, nlb, cb, arg);
}

int nvme_qpair_process_completions(struct nvme_qpair *qp, unsigned int max)
{
	int n;

	if (!nvme_qpair_enter(qp)) {
		if (nvme_ctrl_state(qp->ctrl) != NVME_CTRL_DEAD)
			return 0;
		n = nvme_qpair_deliver_failed(qp);
		return n || nvme_qpair_outstanding(qp) ? n : -ENODEV;
	}
	n = nvme_qpair_poll(qp, max);
	nvme_qpair_exit(qp);
	/* Clock reads cost: look for timeouts only every so many empty polls. */
	if (!n && nvme_qpair_outstanding(qp) && !(++qp->idle_polls & 63))
		nvme_check_timeouts(qp);
	return n;
}

int nvme_qpair_wait(struct nvme_qpair *qp, int timeout_ms)
{
	uint64_t limit = timeout_ms < 0 ? 0 : nvme_time_ns() + (uint64_t)timeout_ms * 1000000;
	unsigned int spins = 0;

	for (;;) {
		int n = nvme_qpair_process_completions(qp, 0);

		if (n)
			return n;
		if (!nvme_qpair_outstanding(qp))
			return 0;
		if (limit && nvme_time_ns() > limit)
			return 0;
		nvme_check_timeouts(qp);
		nvme_idle(qp, &spins, limit);
	}
}

/* --- synchronous reads and writes ----------------------------------------------- */

struct sync_io {
	unsigned int pending;
	int status;
	bool done;
};

static void sync_io_cb(void *arg, int status)
{
	struct sync_io *s = arg;

	if (status && !s->status)
		s->status = status;
	if (--s->pending == 0)
		s->done = true;
}

/*
 * Each command of the transfer is its own I/O here, submitted as slots
 * free up, so that a transfer larger than the queue depth still keeps the
 * queue full.
 */
static int rw_sync(struct nvme_ns *ns, struct nvme_qpair *qp, uint8_t opcode, void *buf,
		   uint64_t slba, uint32_t nlb)
{
	struct sync_io s = { 0 };
	uint32_t chunk, done = 0;
	int ret = check_rw(ns, qp, buf, nlb);

	if (ret)
		return ret;
	chunk = max_blocks(ns);
	if (nlb > chunk)
		nvme_stat_inc(qp->ctrl, split_ios);
	while (done < nlb && !s.status) {
		uint32_t blocks = nlb - done < chunk ? nlb - done : chunk;

		ret = nvme_qpair_wait_live(qp);
		if (ret)
			break;
		if (!qp->nr_free) {
			nvme_qpair_poll(qp, 0);
			nvme_qpair_exit(qp);
			if (qp->nr_free)
				continue;
			nvme_qpair_wait(qp, -1);
			continue;
		}
		s.pending++;
		ret = rw_submit_locked(ns, qp, opcode,
				       (char *)buf + ((size_t)done << ns->lba_shift), slba + done,
				       blocks, 1, sync_io_cb, &s);
		nvme_qpair_exit(qp);
		if (ret) {
			s.pending--;
			break;
		}
		done += blocks;
	}
	if (s.pending) {
		s.done = false;
		nvme_wait_done(qp, &s.done, -1);
	}
	if (s.status)
		return s.status;
	return ret;
}

int nvme_read(struct nvme_ns *ns, struct nvme_qpair *qp, void *buf, uint64_t slba, uint32_t nlb)
{
	return rw_sync(ns, qp, nvme_cmd_read, buf, slba, nlb);
}

int nvme_write(struct nvme_ns *ns, struct nvme_qpair *qp, const void *buf, uint64_t slba,
	       uint32_t nlb)
{
	return rw_sync(ns, qp, nvme_cmd_write, (void *)buf, slba, nlb);
}

/* --- commands without data from the caller ----------------------------------- */

int nvme_flush(struct nvme_ns *ns, struct nvme_qpair *qp)
{
	struct nvme_command cmd = { .opcode = nvme_cmd_flush };

	if (!ns || !qp)
		return -EINVAL;
	cmd.nsid = htole32(ns->nsid);
	return nvme_io_cmd(qp, &cmd, NULL, 0, DMA_NONE, NULL);
}

int nvme_write_zeroes(struct nvme_ns *ns, struct nvme_qpair *qp, uint64_t slba, uint32_t nlb)
{
	uint32_t done = 0;

	if (!ns || !qp || !nlb)
		return -EINVAL;
	if (!(le16toh(ns->ctrl->id->oncs) & NVME_CTRL_ONCS_WRITE_ZEROES))
		return -EOPNOTSUPP;
	while (done < nlb) {
		uint32_t blocks = nlb - done < WZ_MAX_BLOCKS ? nlb - done : WZ_MAX_BLOCKS;
		struct nvme_command cmd = { 0 };
		int ret;

		rw_cmd(&cmd, ns, nvme_cmd_write_zeroes, slba + done, blocks);
		ret = nvme_io_cmd(qp, &cmd, NULL, 0, DMA_NONE, NULL);
		if (ret)
			return ret;
		done += blocks;
	}
	return 0;
}

/*
 * Dataset Management's ranges (sec. 6.7) are data the controller reads:
 * the range is built in the request slot's first list page, which is
 * already DMA-mapped memory, so nothing is allocated or mapped for it.
 */
int nvme_trim(struct nvme_ns *ns, struct nvme_qpair *qp, uint64_t slba, uint32_t nlb)
{
	struct nvme_command cmd = { .opcode = nvme_cmd_dsm };
	struct nvme_dsm_range *range;
	struct nvme_request *rq;
	struct sync_io s = { .pending = 1 };
	int ret;

	if (!ns || !qp || !nlb)
		return -EINVAL;
	if (!(le16toh(ns->ctrl->id->oncs) & NVME_CTRL_ONCS_DSM))
		return -EOPNOTSUPP;
	cmd.nsid = htole32(ns->nsid);
	cmd.cdw10 = 0; /* one range, 0-based */
	cmd.cdw11 = htole32(NVME_DSMGMT_AD);
	for (;;) {
		ret = nvme_qpair_wait_live(qp);
		if (ret)
			return ret;
		rq = nvme_rq_get(qp);
		if (rq)
			break;
		nvme_qpair_exit(qp);
		nvme_qpair_wait(qp, -1);
	}
	rq->cmd = cmd;
	range = rq->lists[0].cpu;
	memset(range, 0, sizeof(*range));
	range->nlb = htole32(nlb);
	range->slba = htole64(slba);
	rq->cmd.prp1 = htole64(rq->lists[0].dma);
	rq->head = rq;
	rq->pending = 1;
	rq->io_status = 0;
	rq->cb = sync_io_cb;
	rq->cb_arg = &s;
	rq->end = io_end;
	nvme_rq_submit(rq);
	nvme_qpair_exit(qp);
	nvme_wait_done(qp, &s.done, -1);
	return s.status;
}
