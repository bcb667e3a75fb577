// SPDX-License-Identifier: MIT
/*
 * Abort and Asynchronous Event Request: commands still waiting in their
 * SQ are aborted, completed ones are reported "not aborted", an
 * outstanding AER can be aborted; AERs are held until an event, limited
 * to AERL + 1, and bad doorbell writes (beyond a queue's size, or to a
 * queue that does not exist) become Error events, masked until the host
 * reads the Error Information log.
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

static uint16_t abort_cmd(struct raw *r, uint16_t sqid, uint16_t cid, uint32_t *result)
{
	struct nvme_command c = { .opcode = nvme_admin_abort_cmd };
	struct nvme_completion cqe = { 0 };
	uint16_t st;

	c.cdw10 = (uint32_t)cid << 16 | sqid;
	st = raw_admin(r, &c, &cqe);
	*result = cqe.result;
	return st;
}

static uint16_t submit_aer(struct raw *r)
{
	struct nvme_command c = { .opcode = nvme_admin_async_event };

	return raw_push(r, &r->asq, &c, true);
}

/* The CQE of the next completion, which must come. */
static struct nvme_completion next_cqe(struct raw *r, struct raw_q *cq)
{
	struct nvme_completion cqe = { 0 };

	assert_true(raw_reap(r, cq, &cqe));
	return cqe;
}

static struct nvme_command flush_cmd(void)
{
	struct nvme_command c = { .opcode = nvme_cmd_flush, .nsid = 1 };

	return c;
}

/* Completed commands are not aborted (dword 0 bit 0 = 1); unknown SQs neither. */
static void test_abort_completed(void **state)
{
	struct raw *r = *state;
	struct nvme_command c = raw_identify(NVME_ID_CNS_CTRL, 0, raw_alloc(r, 4096).dma);
	struct nvme_completion cqe = { 0 };
	uint32_t res;

	assert_int_equal(raw_admin(r, &c, &cqe), 0);
	assert_int_equal(abort_cmd(r, 0, cqe.command_id, &res), 0);
	assert_int_equal(res & 1, 1);
	assert_int_equal(abort_cmd(r, 7, 1, &res), 0);
	assert_int_equal(res & 1, 1);
	assert_int_equal(abort_cmd(r, 0xffff, 1, &res), 0);
	assert_int_equal(res & 1, 1);
}

/*
 * Commands held back behind a full CQ are still in the SQ: Abort catches
 * them and they complete as Command Abort Requested; a fifth Abort while
 * four wait exceeds ACL.
 */
static void test_abort_waiting_commands(void **state)
{
	struct raw *r = *state;
	struct raw_buf cqm = raw_alloc(r, 2 * 16), sqm = raw_alloc(r, 16 * 64);
	struct nvme_completion cqe = { 0 };
	struct nvme_command c;
	uint16_t cid[7];
	uint32_t res;

	/* A CQ of two entries holds one completion. */
	assert_int_equal(raw_create_cq(r, 1, 2, cqm.dma, NVME_QUEUE_PHYS_CONTIG, 0), 0);
	assert_int_equal(raw_create_sq(r, 1, 16, sqm.dma, NVME_QUEUE_PHYS_CONTIG, 1), 0);
	raw_q_init(&r->cq[1], cqm, 1, 2);
	raw_q_init(&r->sq[1], sqm, 1, 16);
	for (int i = 0; i < 7; i++) {
		c = flush_cmd();
		cid[i] = raw_push(r, &r->sq[1], &c, true);
	}
	/* The first completes; the others wait for CQ room. */
	{
		uint64_t end = raw_now_ms() + RAW_TIMEOUT_MS;

		while (!raw_cq_pending(&r->cq[1]) && raw_now_ms() < end)
			usleep(100);
	}
	for (int i = 1; i <= 4; i++) {
		assert_int_equal(abort_cmd(r, 1, cid[i], &res), 0);
		assert_int_equal(res & 1, 0);
	}
	assert_int_equal(abort_cmd(r, 1, cid[5], &res), NVME_SC_ABORT_LIMIT);
	/* Not in the SQ: not aborted. */
	assert_int_equal(abort_cmd(r, 1, 0x7777, &res), 0);
	assert_int_equal(res & 1, 1);

	cqe = next_cqe(r, &r->cq[1]);
	assert_int_equal(cqe.command_id, cid[0]);
	assert_int_equal(raw_status(&cqe), 0);
	for (int i = 1; i <= 4; i++) {
		cqe = next_cqe(r, &r->cq[1]);
		assert_int_equal(cqe.command_id, cid[i]);
		assert_int_equal(raw_status(&cqe), NVME_SC_ABORT_REQ);
	}
	for (int i = 5; i <= 6; i++) {
		cqe = next_cqe(r, &r->cq[1]);
		assert_int_equal(cqe.command_id, cid[i]);
		assert_int_equal(raw_status(&cqe), 0);
	}
}

/* AERs are held; the fifth is over AERL; aborting one completes it as Abort Requested. */
static void test_aer_limit_and_abort(void **state)
{
	struct raw *r = *state;
	struct nvme_completion cqe = { 0 };
	uint16_t cid[5];
	uint32_t res;

	for (int i = 0; i < 5; i++)
		cid[i] = submit_aer(r);
	cqe = next_cqe(r, &r->acq);
	assert_int_equal(cqe.command_id, cid[4]);
	assert_int_equal(raw_status(&cqe), NVME_SC_ASYNC_LIMIT);
	assert_false(raw_reap_timeout(r, &r->acq, &cqe, 20));

	{
		struct nvme_command c = { .opcode = nvme_admin_abort_cmd };
		uint16_t acid;

		c.cdw10 = (uint32_t)cid[1] << 16;
		acid = raw_push(r, &r->asq, &c, true);
		cqe = next_cqe(r, &r->acq);
		assert_int_equal(cqe.command_id, cid[1]);
		assert_int_equal(raw_status(&cqe), NVME_SC_ABORT_REQ);
		cqe = next_cqe(r, &r->acq);
		assert_int_equal(cqe.command_id, acid);
		assert_int_equal(raw_status(&cqe), 0);
		assert_int_equal(cqe.result & 1, 0);
	}
	/* A reset drops outstanding AERs without completions. */
	assert_true(raw_disable(r));
	assert_true(raw_enable(r));
	assert_int_equal(abort_cmd(r, 0, cid[0], &res), 0);
	assert_int_equal(res & 1, 1);
}

static uint32_t aer_info(uint32_t result)
{
	return (result >> 8) & 0xff;
}

/* A doorbell beyond the queue's size: AER type Error, "invalid doorbell write value", log 01h. */
static void test_doorbell_beyond_size(void **state)
{
	struct raw *r = *state;
	struct raw_buf log = raw_alloc(r, 4096);
	struct nvme_error_log_entry *e = (struct nvme_error_log_entry *)log.cpu;
	struct nvme_completion cqe = { 0 };
	struct nvme_command c;
	unsigned long errs;
	uint16_t aer;

	assert_int_equal(raw_io_pair(r, 1, 16, false, false), 0);
	aer = submit_aer(r);
	errs = hetmem_guest_errors();
	raw_wr32(r, NVME_SQ_DB(1, 0), 16);
	cqe = next_cqe(r, &r->acq);
	assert_int_equal(cqe.command_id, aer);
	assert_int_equal(raw_status(&cqe), 0);
	assert_int_equal(cqe.result & 7, NVME_AER_TYPE_ERROR);
	assert_int_equal(aer_info(cqe.result), NVME_AER_ERROR_INVALID_DB_VALUE);
	assert_int_equal((cqe.result >> 16) & 0xff, NVME_LOG_ERROR);
	assert_int_equal(hetmem_guest_errors(), errs + 1);

	/* The write was ignored: the queue still works. */
	c = flush_cmd();
	assert_int_equal(raw_io(r, 1, &c, NULL), 0);

	/* Until the log is read, further error events wait. */
	aer = submit_aer(r);
	raw_wr32(r, NVME_CQ_DB(1, 0), 100);
	assert_false(raw_reap_timeout(r, &r->acq, &cqe, 50));
	c = raw_log(NVME_LOG_ERROR, 0, 4096, log.dma);
	c.cdw10 |= 1u << 15; /* RAE: keep it masked */
	assert_int_equal(raw_admin(r, &c, NULL), 0);
	assert_false(raw_reap_timeout(r, &r->acq, &cqe, 50));
	c = raw_log(NVME_LOG_ERROR, 0, 4096, log.dma);
	assert_int_equal(raw_admin(r, &c, &cqe), 0);
	/* The log names no command. */
	assert_int_equal(e[0].sqid, 0xffff);
	assert_int_equal(e[0].cmdid, 0xffff);
	/* Now the waiting event is reported; it may come before or after the log's CQE. */
	if (cqe.command_id != aer)
		cqe = next_cqe(r, &r->acq);
	assert_int_equal(cqe.command_id, aer);
	assert_int_equal(aer_info(cqe.result), NVME_AER_ERROR_INVALID_DB_VALUE);
}

/* A doorbell of a queue that does not exist: "invalid doorbell register", even before an AER. */
static void test_doorbell_no_queue(void **state)
{
	struct raw *r = *state;
	struct nvme_completion cqe = { 0 };
	uint16_t aer;

	raw_wr32(r, NVME_SQ_DB(3, 0), 1);
	raw_wr32(r, NVME_SQ_DB(500, 0), 1); /* past every queue: the same event, reported once */
	usleep(20000);
	aer = submit_aer(r);
	cqe = next_cqe(r, &r->acq);
	assert_int_equal(cqe.command_id, aer);
	assert_int_equal(cqe.result & 7, NVME_AER_TYPE_ERROR);
	assert_int_equal(aer_info(cqe.result), NVME_AER_ERROR_INVALID_DB_REG);
	assert_false(raw_reap_timeout(r, &r->acq, &cqe, 20));
	/* The controller carries on. */
	{
		struct nvme_command c = raw_identify(NVME_ID_CNS_CTRL, 0, raw_alloc(r, 4096).dma);

		assert_int_equal(raw_admin(r, &c, NULL), 0);
	}
	assert_int_equal(raw_rd32(r, NVME_REG_CSTS), NVME_CSTS_RDY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_abort_completed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort_waiting_commands, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aer_limit_and_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_doorbell_beyond_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_doorbell_no_queue, setup, teardown),
	};

	quiet_logs();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
