// SPDX-License-Identifier: MIT
/*
 * Create/Delete I/O SQ and CQ with every status the spec gives for bad
 * queue identifiers, sizes, CQs and vectors; Number of Queues limiting
 * which identifiers are valid; a full CQ holding back its SQs; SQ
 * wrap-around and phase flips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "fabric-fixture.h"
#include "raw.h"

static int setup(void **state)
{
	struct raw *r = calloc(1, sizeof(*r));
	struct nvme_emu_params p = raw_params();

	p.mqes = 63;
	if (!r || raw_setup(r, &p) || !raw_enable(r))
		return -1;
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	raw_teardown(*state);
	free(*state);
	return 0;
}

static uint16_t delete_q(struct raw *r, uint8_t opcode, uint16_t qid)
{
	struct nvme_command c = { .opcode = opcode };

	c.cdw10 = qid;
	return raw_admin(r, &c, NULL);
}

#define PC  NVME_QUEUE_PHYS_CONTIG
#define IEN NVME_CQ_IRQ_ENABLED

/* Create I/O CQ: QID, size, PC, vector, alignment and CMB checks. */
static void test_create_cq_errors(void **state)
{
	struct raw *r = *state;
	uint64_t m = raw_alloc(r, 64 * 16).dma;
	uint64_t cmb;

	assert_int_equal(raw_create_cq(r, 0, 16, m, PC, 0), RAW_DNR(NVME_SC_QID_INVALID));
	assert_int_equal(raw_create_cq(r, 9, 16, m, PC, 0), RAW_DNR(NVME_SC_QID_INVALID));
	assert_int_equal(raw_create_cq(r, 0xffff, 16, m, PC, 0), RAW_DNR(NVME_SC_QID_INVALID));
	assert_int_equal(raw_create_cq(r, 1, 1, m, PC, 0), RAW_DNR(NVME_SC_QUEUE_SIZE));
	assert_int_equal(raw_create_cq(r, 1, 65, m, PC, 0), RAW_DNR(NVME_SC_QUEUE_SIZE));
	assert_int_equal(raw_create_cq(r, 1, 16, m, 0, 0), RAW_DNR(NVME_SC_INVALID_FIELD));
	assert_int_equal(raw_create_cq(r, 1, 16, m, PC | IEN, 9), RAW_DNR(NVME_SC_INVALID_VECTOR));
	assert_int_equal(raw_create_cq(r, 1, 16, m + 512, PC, 0), RAW_DNR(NVME_SC_INVALID_FIELD));
	cmb = raw_cmb_enable(r);
	assert_int_equal(raw_create_cq(r, 1, 16, cmb, PC, 0), RAW_DNR(NVME_SC_CMB_INVALID_USE));

	assert_int_equal(raw_create_cq(r, 1, 64, m, PC | IEN, 8), 0);
	assert_int_equal(raw_create_cq(r, 1, 16, m, PC, 0), RAW_DNR(NVME_SC_QID_INVALID));
	/* Without interrupts the vector is not looked at. */
	assert_int_equal(raw_create_cq(r, 2, 2, raw_alloc(r, 4096).dma, PC, 0x1234), 0);
}

/* Create I/O SQ: QID, CQ, size, PC and alignment checks; two SQs may share a CQ. */
static void test_create_sq_errors(void **state)
{
	struct raw *r = *state;
	uint64_t m = raw_alloc(r, 64 * 64).dma;

	assert_int_equal(raw_create_cq(r, 1, 16, raw_alloc(r, 4096).dma, PC, 0), 0);
	assert_int_equal(raw_create_sq(r, 0, 16, m, PC, 1), RAW_DNR(NVME_SC_QID_INVALID));
	assert_int_equal(raw_create_sq(r, 9, 16, m, PC, 1), RAW_DNR(NVME_SC_QID_INVALID));
	assert_int_equal(raw_create_sq(r, 1, 16, m, PC, 0), RAW_DNR(NVME_SC_CQ_INVALID));
	assert_int_equal(raw_create_sq(r, 1, 16, m, PC, 5), RAW_DNR(NVME_SC_CQ_INVALID));
	assert_int_equal(raw_create_sq(r, 1, 16, m, PC, 100), RAW_DNR(NVME_SC_CQ_INVALID));
	assert_int_equal(raw_create_sq(r, 1, 1, m, PC, 1), RAW_DNR(NVME_SC_QUEUE_SIZE));
	assert_int_equal(raw_create_sq(r, 1, 65, m, PC, 1), RAW_DNR(NVME_SC_QUEUE_SIZE));
	assert_int_equal(raw_create_sq(r, 1, 16, m, 0, 1), RAW_DNR(NVME_SC_INVALID_FIELD));
	assert_int_equal(raw_create_sq(r, 1, 16, m + 64, PC, 1), RAW_DNR(NVME_SC_INVALID_FIELD));
	assert_int_equal(raw_create_sq(r, 1, 16, m, PC, 1), 0);
	assert_int_equal(raw_create_sq(r, 1, 16, m, PC, 1), RAW_DNR(NVME_SC_QID_INVALID));
	assert_int_equal(raw_create_sq(r, 2, 16, raw_alloc(r, 1024).dma, PC | (2 << 1), 1), 0);
}

/* Deleting: QID 0 and missing queues are invalid; a CQ with SQs cannot go. */
static void test_delete(void **state)
{
	struct raw *r = *state;

	assert_int_equal(raw_io_pair(r, 1, 16, false, false), 0);
	assert_int_equal(raw_create_sq(r, 2, 16, raw_alloc(r, 1024).dma, PC, 1), 0);

	assert_int_equal(delete_q(r, nvme_admin_delete_cq, 1),
			 RAW_DNR(NVME_SC_INVALID_QUEUE_DELETION));
	assert_int_equal(delete_q(r, nvme_admin_delete_sq, 0), RAW_DNR(NVME_SC_QID_INVALID));
	assert_int_equal(delete_q(r, nvme_admin_delete_cq, 0), RAW_DNR(NVME_SC_QID_INVALID));
	assert_int_equal(delete_q(r, nvme_admin_delete_sq, 7), RAW_DNR(NVME_SC_QID_INVALID));
	assert_int_equal(delete_q(r, nvme_admin_delete_sq, 300), RAW_DNR(NVME_SC_QID_INVALID));
	assert_int_equal(delete_q(r, nvme_admin_delete_cq, 7), RAW_DNR(NVME_SC_QID_INVALID));

	assert_int_equal(delete_q(r, nvme_admin_delete_sq, 1), 0);
	assert_int_equal(delete_q(r, nvme_admin_delete_cq, 1),
			 RAW_DNR(NVME_SC_INVALID_QUEUE_DELETION));
	assert_int_equal(delete_q(r, nvme_admin_delete_sq, 2), 0);
	assert_int_equal(delete_q(r, nvme_admin_delete_sq, 2), RAW_DNR(NVME_SC_QID_INVALID));
	assert_int_equal(delete_q(r, nvme_admin_delete_cq, 1), 0);
	assert_int_equal(delete_q(r, nvme_admin_delete_cq, 1), RAW_DNR(NVME_SC_QID_INVALID));
	/* The identifiers are free again. */
	assert_int_equal(raw_io_pair(r, 1, 16, false, false), 0);
}

/* Number of Queues: allocated counts come back 0-based and bound the QIDs. */
static void test_number_of_queues(void **state)
{
	struct raw *r = *state;
	struct nvme_completion cqe = { 0 };
	struct nvme_command c = raw_feat(nvme_admin_get_features, NVME_FEAT_NUM_QUEUES, 0);

	assert_int_equal(raw_admin(r, &c, &cqe), 0);
	assert_int_equal(cqe.result, 7u << 16 | 7u);

	c = raw_feat(nvme_admin_set_features, NVME_FEAT_NUM_QUEUES, 3u << 16 | 1u);
	assert_int_equal(raw_admin(r, &c, &cqe), 0);
	assert_int_equal(cqe.result, 3u << 16 | 1u);
	c = raw_feat(nvme_admin_set_features, NVME_FEAT_NUM_QUEUES, 100u << 16 | 100u);
	assert_int_equal(raw_admin(r, &c, &cqe), 0);
	assert_int_equal(cqe.result, 7u << 16 | 7u);
	c = raw_feat(nvme_admin_set_features, NVME_FEAT_NUM_QUEUES, 0xffffu << 16);
	assert_int_equal(raw_admin(r, &c, NULL), RAW_DNR(NVME_SC_INVALID_FIELD));
	c = raw_feat(nvme_admin_set_features, NVME_FEAT_NUM_QUEUES, 3u << 16 | 1u);
	assert_int_equal(raw_admin(r, &c, NULL), 0);

	/* Two SQs and four CQs. */
	assert_int_equal(raw_create_cq(r, 5, 16, raw_alloc(r, 4096).dma, PC, 0),
			 RAW_DNR(NVME_SC_QID_INVALID));
	assert_int_equal(raw_io_pair(r, 2, 16, false, false), 0);
	assert_int_equal(raw_create_cq(r, 4, 16, raw_alloc(r, 4096).dma, PC, 0), 0);
	assert_int_equal(raw_create_sq(r, 3, 16, raw_alloc(r, 4096).dma, PC, 4),
			 RAW_DNR(NVME_SC_QID_INVALID));

	/* Not after I/O queues exist. */
	c = raw_feat(nvme_admin_set_features, NVME_FEAT_NUM_QUEUES, 0);
	assert_int_equal(raw_admin(r, &c, NULL), RAW_DNR(NVME_SC_CMD_SEQ_ERROR));
	c = raw_feat(nvme_admin_get_features, NVME_FEAT_NUM_QUEUES, 0);
	assert_int_equal(raw_admin(r, &c, &cqe), 0);
	assert_int_equal(cqe.result, 3u << 16 | 1u);

	/* A reset deletes the queues and restores the default. */
	assert_true(raw_disable(r));
	assert_true(raw_enable(r));
	assert_int_equal(raw_admin(r, &c, &cqe), 0);
	assert_int_equal(cqe.result, 7u << 16 | 7u);
	assert_int_equal(raw_io_pair(r, 2, 16, false, false), 0);
}

static struct nvme_command flush_cmd(void)
{
	struct nvme_command c = { .opcode = nvme_cmd_flush, .nsid = 1 };

	return c;
}

/* A full CQ stops its SQs until the driver moves the head; entries wrap with phase flips. */
static void test_full_cq_and_wrap(void **state)
{
	struct raw *r = *state;
	struct nvme_completion cqe = { 0 };
	struct nvme_command c;
	uint16_t cids[3];

	/* CQ of 4 entries holds 3 completions; SQ of 8. */
	struct raw_buf cqm = raw_alloc(r, 4 * 16), sqm = raw_alloc(r, 8 * 64);

	assert_int_equal(raw_create_cq(r, 1, 4, cqm.dma, PC, 0), 0);
	assert_int_equal(raw_create_sq(r, 1, 8, sqm.dma, PC, 1), 0);
	raw_q_init(&r->cq[1], cqm, 1, 4);
	raw_q_init(&r->sq[1], sqm, 1, 8);

	for (int i = 0; i < 5; i++) {
		c = flush_cmd();
		raw_push(r, &r->sq[1], &c, true);
	}
	/* Three complete; the CQ is then full and the others wait. */
	for (int i = 0; i < 3; i++) {
		struct nvme_completion *e = (struct nvme_completion *)cqm.cpu + i;
		uint64_t end = raw_now_ms() + RAW_TIMEOUT_MS;

		while (!(__atomic_load_n(&e->status, __ATOMIC_ACQUIRE) & 1) && raw_now_ms() < end)
			usleep(50);
		cids[i] = e->command_id;
	}
	usleep(20000);
	assert_int_equal(((struct nvme_completion *)cqm.cpu)[3].status, 0);
	assert_int_equal(cids[0] + 1, cids[1]);
	assert_int_equal(cids[1] + 1, cids[2]);

	/* Taking them lets the rest through, wrapping the CQ with the phase flipped. */
	for (int i = 0; i < 5; i++) {
		assert_true(raw_reap(r, &r->cq[1], &cqe));
		assert_int_equal(raw_status(&cqe), 0);
		assert_int_equal(cqe.sq_id, 1);
		assert_int_equal(cqe.sq_head, i + 1);
	}
	assert_int_equal(r->cq[1].phase, 0);
	/* Many more rounds: SQ and CQ wrap many times. */
	for (int i = 0; i < 100; i++) {
		c = flush_cmd();
		assert_int_equal(raw_io(r, 1, &c, &cqe), 0);
		assert_int_equal(cqe.sq_head, r->sq[1].idx);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_cq_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_sq_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_number_of_queues, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_cq_and_wrap, setup, teardown),
	};

	quiet_logs();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
