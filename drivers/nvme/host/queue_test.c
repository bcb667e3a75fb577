// SPDX-License-Identifier: MIT
/*
 * White-box test of the rings and the request slots with a fake transport
 * and no controller: the test plays the controller by reading SQ entries
 * and writing CQ entries itself. Checks SQ tail and CQ head doorbells, ring
 * wrap-around and the phase tag, command IDs with their generation (stale
 * and unknown completions dropped), slot exhaustion, failing outstanding
 * commands as a reset does, the reset handshake, data mapping split at the
 * transport's segment limit, the bounce fallback for unreachable P2P
 * memory, and registered buffers.
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <hetmem/log.h>
#include "host.h"

/* --- the fake transport: identity DMA, doorbells recorded ------------------------ */

struct fake {
	uint32_t db[64]; /* last value written per doorbell dword */
	unsigned int db_writes;
	unsigned int maps, unmaps;
	uintptr_t remote_lo, remote_hi; /* "P2P memory the controller cannot reach" */
};

static uint32_t fake_read32(void *t, uint32_t off)
{
	return 0;
}

static uint64_t fake_read64(void *t, uint32_t off)
{
	return 0;
}

static void fake_write32(void *t, uint32_t off, uint32_t val)
{
	struct fake *f = t;

	if (off >= NVME_REG_DBS && (off - NVME_REG_DBS) / 4 < 64) {
		f->db[(off - NVME_REG_DBS) / 4] = val;
		f->db_writes++;
	}
}

static void fake_write64(void *t, uint32_t off, uint64_t val)
{
}

static int fake_map(void *t, void *buf, size_t len, enum dma_data_direction dir, dma_addr_t *dma)
{
	struct fake *f = t;

	if ((uintptr_t)buf >= f->remote_lo && (uintptr_t)buf < f->remote_hi)
		return -EREMOTEIO;
	f->maps++;
	*dma = (uintptr_t)buf;
	return 0;
}

static void fake_unmap(void *t, dma_addr_t dma, size_t len, enum dma_data_direction dir)
{
	struct fake *f = t;

	f->unmaps++;
}

static void *fake_alloc(void *t, size_t len, dma_addr_t *dma)
{
	size_t size = (len + 4095) & ~(size_t)4095;
	void *p = aligned_alloc(4096, size);

	memset(p, 0, size);
	*dma = (uintptr_t)p;
	return p;
}

static void fake_free(void *t, void *cpu, size_t len, dma_addr_t dma)
{
	free(cpu);
}

static int fake_irq_wait(void *t, unsigned int vector, int timeout_ms)
{
	return 0;
}

static const struct nvme_transport_ops fake_ops = {
	.reg_read32 = fake_read32,
	.reg_read64 = fake_read64,
	.reg_write32 = fake_write32,
	.reg_write64 = fake_write64,
	.dma_map = fake_map,
	.dma_unmap = fake_unmap,
	.alloc_coherent = fake_alloc,
	.free_coherent = fake_free,
	.irq_wait = fake_irq_wait,
};

struct env {
	struct fake fake;
	struct nvme_transport t;
	struct nvme_ctrl ctrl;
	struct nvme_qpair qp;
	int ends, last_status;
	uint32_t last_result;
};

static void env_init(struct env *e, size_t seg_max, unsigned int entries)
{
	memset(e, 0, sizeof(*e));
	e->t.ops = &fake_ops;
	e->t.priv = &e->fake;
	e->t.dma_seg_max = seg_max;
	e->ctrl.t = &e->t;
	e->ctrl.opts.timeout_ms = 1000;
	e->ctrl.dstrd = 0;
	e->ctrl.max_transfer = 64 << 10;
	e->ctrl.max_segs = seg_max ? (64 << 10) / seg_max + 1 : 1;
	e->ctrl.list_pages = 1;
	INIT_LIST_HEAD(&e->ctrl.qpairs);
	pthread_mutex_init(&e->ctrl.admin_lock, NULL);
	assert_int_equal(nvme_qpair_init(&e->qp, &e->ctrl, 1, entries, false), 0);
}

static void env_fini(struct env *e)
{
	nvme_qpair_destroy(&e->qp);
	nvme_reg_bufs_release(&e->ctrl);
	pthread_mutex_destroy(&e->ctrl.admin_lock);
}

static struct env *env_of(struct nvme_request *rq)
{
	return container_of(rq->qp, struct env, qp);
}

static void count_end(struct nvme_request *rq, int status, uint32_t result)
{
	struct env *e = env_of(rq);

	e->ends++;
	e->last_status = status;
	e->last_result = result;
	nvme_rq_put(rq);
}

/* Submit a data-less command; returns its command ID. */
static uint16_t submit(struct env *e, uint8_t opcode)
{
	struct nvme_request *rq = nvme_rq_get(&e->qp);

	assert_non_null(rq);
	rq->cmd.opcode = opcode;
	rq->end = count_end;
	nvme_rq_submit(rq);
	return rq->cmd.command_id;
}

/* The test as controller: post a completion at the CQ tail it keeps. */
struct fake_cq {
	unsigned int tail;
	uint8_t phase;
};

static void post(struct env *e, struct fake_cq *c, uint16_t cid, uint16_t sf, uint32_t result,
		 uint16_t sq_head)
{
	struct nvme_completion *cqe = &e->qp.cq[c->tail];

	cqe->result = htole32(result);
	cqe->sq_head = htole16(sq_head);
	cqe->sq_id = htole16(e->qp.qid);
	cqe->command_id = htole16(cid);
	__atomic_store_n(&cqe->status, htole16((uint16_t)(sf << 1 | c->phase)), __ATOMIC_RELEASE);
	if (++c->tail == e->qp.entries) {
		c->tail = 0;
		c->phase ^= 1;
	}
}

#define SQ_DB(e) ((e)->fake.db[2 * (e)->qp.qid])
#define CQ_DB(e) ((e)->fake.db[2 * (e)->qp.qid + 1])

/* Entries - 1 slots; submitting fills SQ entries and rings the tail doorbell each time. */
static void test_slots_and_sq_doorbell(void **state)
{
	struct env e;
	uint16_t cids[3];

	env_init(&e, 0, 4);
	assert_int_equal(e.qp.depth, 3);
	for (int i = 0; i < 3; i++) {
		cids[i] = submit(&e, (uint8_t)(0x10 + i));
		assert_int_equal(SQ_DB(&e), i + 1);
		assert_int_equal(e.qp.sq[i].opcode, 0x10 + i);
		assert_int_equal(e.qp.sq[i].command_id, cids[i]);
	}
	assert_null(nvme_rq_get(&e.qp));
	assert_int_equal(e.qp.nr_free, 0);
	/* Distinct slots: distinct command IDs. */
	assert_int_not_equal(cids[0] & NVME_CID_SLOT_MASK, cids[1] & NVME_CID_SLOT_MASK);
	assert_int_not_equal(cids[1] & NVME_CID_SLOT_MASK, cids[2] & NVME_CID_SLOT_MASK);
	env_fini(&e);
}

/* Completions are taken by phase tag; one CQ head doorbell per batch; rings wrap with the phase. */
static void test_completion_phase_and_wrap(void **state)
{
	struct fake_cq c = { 0, 1 };
	struct env e;

	env_init(&e, 0, 4);
	for (int round = 0; round < 5; round++) {
		uint16_t a = submit(&e, 1), b = submit(&e, 2);
		unsigned int before = e.fake.db_writes;

		assert_int_equal(nvme_qpair_poll(&e.qp, 0), 0); /* nothing posted yet */
		assert_int_equal(e.fake.db_writes, before); /* and no doorbell for nothing */
		post(&e, &c, b, 0, 0xb0 + round, e.qp.sq_tail);
		post(&e, &c, a, NVME_SC_LBA_RANGE, 0, e.qp.sq_tail);
		e.ends = 0;
		assert_int_equal(nvme_qpair_poll(&e.qp, 0), 2);
		assert_int_equal(e.ends, 2);
		assert_int_equal(e.last_status, NVME_SC_LBA_RANGE);
		assert_int_equal(e.fake.db_writes, before + 1);
		assert_int_equal(CQ_DB(&e), c.tail);
		assert_int_equal(e.qp.cq_head, c.tail);
		assert_int_equal(e.qp.phase, c.phase);
		assert_int_equal(e.qp.sq_head, e.qp.sq_tail);
		assert_int_equal(e.qp.nr_free, 3);
	}
	/* Ten commands through a ring of four: the tail doorbell wrapped too. */
	assert_int_equal(SQ_DB(&e), 10 % 4);
	env_fini(&e);
}

/* @max limits how many completions one poll takes. */
static void test_poll_budget(void **state)
{
	struct fake_cq c = { 0, 1 };
	struct env e;
	uint16_t cid[3];

	env_init(&e, 0, 8);
	for (int i = 0; i < 3; i++)
		cid[i] = submit(&e, 1);
	for (int i = 0; i < 3; i++)
		post(&e, &c, cid[i], 0, 0, 0);
	assert_int_equal(nvme_qpair_poll(&e.qp, 2), 2);
	assert_int_equal(CQ_DB(&e), 2);
	assert_int_equal(nvme_qpair_poll(&e.qp, 2), 1);
	assert_int_equal(CQ_DB(&e), 3);
	env_fini(&e);
}

/* A completion for a slot's previous command, or for no slot at all, completes nothing. */
static void test_stale_and_unknown_cids(void **state)
{
	struct fake_cq c = { 0, 1 };
	struct env e;
	uint16_t old, cur;

	env_init(&e, 0, 4);
	old = submit(&e, 1);
	post(&e, &c, old, 0, 0, 1);
	assert_int_equal(nvme_qpair_poll(&e.qp, 0), 1);
	cur = submit(&e, 1); /* the same slot again: LIFO */
	assert_int_equal(cur & NVME_CID_SLOT_MASK, old & NVME_CID_SLOT_MASK);
	assert_int_not_equal(cur, old);
	e.ends = 0;
	post(&e, &c, old, 0, 0, 2); /* a late duplicate of the old command */
	post(&e, &c, 0x0fff, 0, 0, 2); /* a slot that does not exist */
	assert_int_equal(nvme_qpair_poll(&e.qp, 0), 0);
	assert_int_equal(e.ends, 0);
	assert_int_equal(CQ_DB(&e), 3); /* consumed all the same */
	post(&e, &c, cur, 0, 7, 2);
	assert_int_equal(nvme_qpair_poll(&e.qp, 0), 1);
	assert_int_equal(e.last_result, 7);
	env_fini(&e);
}

/* A command we aborted after a timeout completes with -ETIMEDOUT, others keep their status. */
static void test_aborted_status(void **state)
{
	struct fake_cq c = { 0, 1 };
	struct env e;
	uint16_t cid;

	env_init(&e, 0, 4);
	cid = submit(&e, 2);
	e.qp.rqs[cid & NVME_CID_SLOT_MASK].aborting = true;
	post(&e, &c, cid, NVME_SC_ABORT_REQ, 0, 1);
	assert_int_equal(nvme_qpair_poll(&e.qp, 0), 1);
	assert_int_equal(e.last_status, -ETIMEDOUT);
	cid = submit(&e, 2);
	post(&e, &c, cid, NVME_SC_ABORT_REQ | NVME_SC_DNR, 0, 2);
	assert_int_equal(nvme_qpair_poll(&e.qp, 0), 1);
	assert_int_equal(e.last_status, NVME_SC_ABORT_REQ | NVME_SC_DNR);
	env_fini(&e);
}

/* A reset fails outstanding commands: data unmapped at once, handlers run at the next poll. */
static void test_fail_all_and_deliver(void **state)
{
	static uint8_t buf[8192] __attribute__((aligned(4096)));
	struct env e;
	struct nvme_request *rq;

	env_init(&e, 0, 8);
	submit(&e, 1);
	rq = nvme_rq_get(&e.qp);
	rq->end = count_end;
	assert_int_equal(nvme_rq_map_data(rq, buf, sizeof(buf), DMA_FROM_DEVICE), 0);
	assert_int_equal(e.fake.maps, 1);
	nvme_rq_submit(rq);
	nvme_qpair_fail_all(&e.qp, -EIO);
	assert_int_equal(e.fake.unmaps, 1);
	assert_int_equal(e.qp.nr_failed, 2);
	assert_int_equal(e.ends, 0);
	nvme_qpair_reset_ring(&e.qp);
	assert_int_equal(e.qp.sq_tail, 0);
	assert_int_equal(e.qp.phase, 1);
	assert_int_equal(nvme_qpair_poll(&e.qp, 0), 2);
	assert_int_equal(e.ends, 2);
	assert_int_equal(e.last_status, -EIO);
	assert_int_equal(e.qp.nr_free, e.qp.depth);
	assert_int_equal(e.fake.unmaps, 1); /* not twice */
	env_fini(&e);
}

/* The owner's side of the reset handshake: refused while resetting, nested entries allowed. */
static void test_reset_handshake(void **state)
{
	struct env e;

	env_init(&e, 0, 4);
	assert_true(nvme_qpair_enter(&e.qp));
	assert_int_equal(e.qp.busy, 1);
	assert_true(nvme_qpair_enter(&e.qp)); /* a callback submitting */
	nvme_qpair_exit(&e.qp);
	assert_int_equal(e.qp.busy, 1);
	nvme_qpair_exit(&e.qp);
	assert_int_equal(e.qp.busy, 0);
	e.ctrl.state = NVME_CTRL_RESETTING;
	assert_false(nvme_qpair_enter(&e.qp));
	assert_int_equal(e.qp.busy, 0);
	e.ctrl.state = NVME_CTRL_DEAD;
	assert_int_equal(nvme_qpair_wait_live(&e.qp), -ENODEV);
	env_fini(&e);
}

/* With a 4 KiB segment limit a buffer is mapped page by page and described with a PRP list. */
static void test_map_page_by_page(void **state)
{
	uint8_t *buf = aligned_alloc(4096, 5 * 4096);
	struct nvme_request *rq;
	struct env e;
	uint64_t *list;

	env_init(&e, 4096, 4);
	rq = nvme_rq_get(&e.qp);
	assert_int_equal(nvme_rq_map_data(rq, buf + 100, 3 * 4096, DMA_TO_DEVICE), 0);
	assert_int_equal(rq->data.nents, 4);
	assert_int_equal(e.fake.maps, 4);
	assert_int_equal(rq->data.sg[0].dma_length, 4096 - 100);
	assert_int_equal(rq->data.sg[3].dma_length, 100);
	assert_int_equal(le64toh(rq->cmd.prp1), (uintptr_t)buf + 100);
	assert_int_equal(le64toh(rq->cmd.prp2), rq->lists[0].dma);
	list = rq->lists[0].cpu;
	assert_int_equal(le64toh(list[2]), (uintptr_t)buf + 3 * 4096);
	nvme_rq_unmap_data(rq, true);
	assert_int_equal(e.fake.unmaps, 4);
	nvme_rq_put(rq);
	/* More segments than a slot holds: refused, nothing left mapped. */
	e.ctrl.max_segs = 4;
	rq = nvme_rq_get(&e.qp);
	assert_int_equal(nvme_rq_map_data(rq, buf, 5 * 4096, DMA_TO_DEVICE), -EINVAL);
	assert_int_equal(e.fake.maps, e.fake.unmaps);
	nvme_rq_put(rq);
	env_fini(&e);
	free(buf);
}

/* Memory the controller cannot reach goes through the slot's bounce buffer, counted. */
static void test_bounce_fallback(void **state)
{
	uint8_t *p2p = aligned_alloc(4096, 8192), *bounce;
	struct nvme_request *rq;
	struct env e;

	env_init(&e, 0, 4);
	e.fake.remote_lo = (uintptr_t)p2p;
	e.fake.remote_hi = (uintptr_t)p2p + 8192;
	memset(p2p, 0x5a, 8192);
	rq = nvme_rq_get(&e.qp);
	assert_int_equal(nvme_rq_map_data(rq, p2p, 8192, DMA_TO_DEVICE), 0);
	assert_true(rq->data.bounced);
	assert_int_equal(le64toh(rq->cmd.prp1), rq->bounce_dma);
	assert_memory_equal(rq->bounce, p2p, 8192); /* a write's data is copied in */
	assert_int_equal(e.ctrl.stats.bounced_ios, 1);
	nvme_rq_unmap_data(rq, true);
	nvme_rq_put(rq);
	/* A read copies out only on success. */
	rq = nvme_rq_get(&e.qp);
	assert_int_equal(nvme_rq_map_data(rq, p2p, 4096, DMA_FROM_DEVICE), 0);
	bounce = rq->bounce;
	memset(bounce, 0xa5, 4096);
	nvme_rq_unmap_data(rq, false);
	assert_int_equal(p2p[0], 0x5a);
	assert_int_equal(nvme_rq_map_data(rq, p2p, 4096, DMA_FROM_DEVICE), 0);
	assert_ptr_equal(rq->bounce, bounce); /* allocated once per slot */
	memset(bounce, 0xa5, 4096);
	nvme_rq_unmap_data(rq, true);
	assert_int_equal(p2p[4095], 0xa5);
	assert_int_equal(e.ctrl.stats.bounced_ios, 3);
	nvme_rq_put(rq);
	env_fini(&e);
	free(p2p);
}

/* PRPs cannot carry an odd address: the data is bounced instead of refused. */
static void test_unaligned_buffer_bounces(void **state)
{
	uint8_t *buf = aligned_alloc(4096, 8192);
	struct nvme_request *rq;
	struct env e;

	env_init(&e, 0, 4);
	rq = nvme_rq_get(&e.qp);
	assert_int_equal(nvme_rq_map_data(rq, buf + 1, 512, DMA_TO_DEVICE), 0);
	assert_true(rq->data.bounced);
	assert_int_equal(e.fake.maps, e.fake.unmaps);
	nvme_rq_unmap_data(rq, true);
	nvme_rq_put(rq);
	env_fini(&e);
	free(buf);
}

/* Data in a registered buffer takes its addresses from the registration: no mapping per command. */
static void test_registered_buffer(void **state)
{
	uint8_t *buf = aligned_alloc(4096, 16 * 4096);
	struct nvme_request *rq;
	struct env e;
	unsigned int maps;

	env_init(&e, 4096, 4);
	assert_int_equal(nvme_ctrl_register_buffer(&e.ctrl, buf + 1, 4096), -EINVAL);
	assert_int_equal(nvme_ctrl_register_buffer(&e.ctrl, buf, 16 * 4096), 0);
	assert_int_equal(nvme_ctrl_register_buffer(&e.ctrl, buf + 4096, 4096), -EINVAL);
	maps = e.fake.maps;
	assert_int_equal(maps, 16);
	rq = nvme_rq_get(&e.qp);
	assert_int_equal(nvme_rq_map_data(rq, buf + 4096 + 8, 8192, DMA_FROM_DEVICE), 0);
	assert_int_equal(e.fake.maps, maps);
	assert_int_equal(rq->data.nents, 3);
	assert_int_equal(le64toh(rq->cmd.prp1), (uintptr_t)buf + 4096 + 8);
	nvme_rq_unmap_data(rq, true);
	assert_int_equal(e.fake.unmaps, 0);
	nvme_rq_put(rq);
	assert_int_equal(nvme_ctrl_unregister_buffer(&e.ctrl, buf), 0);
	assert_int_equal(e.fake.unmaps, 16);
	assert_int_equal(nvme_ctrl_unregister_buffer(&e.ctrl, buf), -ENOENT);
	env_fini(&e);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slots_and_sq_doorbell),
		cmocka_unit_test(test_completion_phase_and_wrap),
		cmocka_unit_test(test_poll_budget),
		cmocka_unit_test(test_stale_and_unknown_cids),
		cmocka_unit_test(test_aborted_status),
		cmocka_unit_test(test_fail_all_and_deliver),
		cmocka_unit_test(test_reset_handshake),
		cmocka_unit_test(test_map_page_by_page),
		cmocka_unit_test(test_bounce_fallback),
		cmocka_unit_test(test_unaligned_buffer_bounces),
		cmocka_unit_test(test_registered_buffer),
	};

	hetmem_log_set_level(HETMEM_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
