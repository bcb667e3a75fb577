// SPDX-License-Identifier: MIT
/*
 * Description: commands the controller loses are never lost to the caller.
 * With 96 reads and writes outstanding on two queue pairs, the controller
 * (an injected fault) stops completing anything on its I/O queues after
 * the first 16 commands it fetches, while the admin queue keeps working.
 * The driver times the first lost command out, sends an Abort (which
 * cannot find it: it left the SQ), times the Abort's wait out, resets the
 * controller and fails everything outstanding with -EIO. Every I/O is then
 * accounted for by io-model.h's rules, and everything that failed works
 * when retried. tests/nvme-host/timeout.c covers one stuck command; this is
 * the many-command case with the controller otherwise alive.
 *
 * A second case injects a media error on a read: it is reported as the
 * controller's status, with no timeout and no reset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "drivers/nvme/emu/inject.h"
#include "io-model.h"

#define TIMEOUT_MS  500
#define LET_THROUGH 16

static int setup(void **state)
{
	struct nfix_opts o = { .ctrl_opts = { .timeout_ms = TIMEOUT_MS } };
	struct nfix *x = calloc(1, sizeof(*x));

	if (!x || nfix_build(x, &o))
		return -1;
	*state = x;
	return 0;
}

/* Lost commands: every I/O answered once, failures only -EIO/-ETIMEDOUT, data exact. */
static void test_lost_commands_all_accounted(void **state)
{
	struct nfix *x = *state;
	struct nvme_emu_fault f = {
		.type = NVME_EMU_FAULT_DROP,
		.sqid = NVME_EMU_FAULT_ANY_IO_SQ,
		.opcode = NVME_EMU_FAULT_ANY_OPCODE,
		.skip = LET_THROUGH,
	};
	struct nvme_ctrl_stats st;
	struct rio_model m;

	rio_init(&m, x);
	assert_int_equal(nvme_emu_inject(x->emu[0], &f), 0);
	rio_submit_all(&m);
	rio_wait_all(&m);
	nvme_emu_inject_clear(x->emu[0]);

	nvme_ctrl_get_stats(x->ctrl[0], &st);
	print_message("%u I/Os: %u completed, %u failed; %lu commands lost by the controller; "
		      "%llu timeouts, %llu aborts, %llu resets, %llu commands failed by resets\n",
		      RIO_N, m.ok, m.failed, nvme_emu_inject_hits(x->emu[0]),
		      (unsigned long long)st.timeouts, (unsigned long long)st.aborts,
		      (unsigned long long)st.resets, (unsigned long long)st.reset_failed);
	/*
	 * Every command fetched after the first 16 was lost (all of them, unless
	 * the reset came first), and every one of those failed.
	 */
	assert_true(nvme_emu_inject_hits(x->emu[0]) >= 1);
	assert_true(nvme_emu_inject_hits(x->emu[0]) <= RIO_N - LET_THROUGH);
	assert_true(m.ok <= LET_THROUGH);
	assert_true(m.failed >= RIO_N - LET_THROUGH);
	assert_true(st.timeouts >= 1);
	assert_true(st.aborts >= 1);
	assert_true(st.resets >= 1);
	assert_true(st.reset_failed >= RIO_N - LET_THROUGH);
	/* The controller is back: ready, no fatal status. */
	assert_int_equal(pci_mmio_read(x->nvme[0], 0, NVME_REG_CSTS, 4) &
				 (NVME_CSTS_RDY | NVME_CSTS_CFS),
			 NVME_CSTS_RDY);
	rio_verify_and_retry(&m);
	rio_fini(&m);
}

/* An injected media error is the command's status: no timeout, no reset, the rest unaffected. */
static void test_media_error_is_reported(void **state)
{
	struct nfix *x = *state;
	struct nvme_ns *ns = nvme_ctrl_ns(x->ctrl[0], 1);
	struct nvme_emu_fault f = {
		.type = NVME_EMU_FAULT_STATUS,
		.sqid = NVME_EMU_FAULT_ANY_IO_SQ,
		.opcode = nvme_cmd_read,
		.count = 1,
		.status = NVME_SC_READ_ERROR | NVME_SC_DNR,
	};
	uint8_t *buf = nfix_alloc(4096);
	struct nvme_ctrl_stats st;

	memset(buf, RIO_CANARY, 4096);
	assert_int_equal(nvme_emu_inject(x->emu[0], &f), 0);
	assert_int_equal(nvme_read(ns, x->qp[0], buf, 0, 8), NVME_SC_READ_ERROR | NVME_SC_DNR);
	assert_int_equal(nvme_emu_inject_hits(x->emu[0]), 1);
	for (int i = 0; i < 4096; i++)
		assert_int_equal(buf[i], RIO_CANARY);
	/* The fault disarmed itself after one command: the next read works. */
	nfix_round_trip(x, 1, 0, 64, 8, 7);
	nvme_ctrl_get_stats(x->ctrl[0], &st);
	assert_int_equal(st.timeouts, 0);
	assert_int_equal(st.resets, 0);
	free(buf);
}

/* Bad fault descriptions are refused. */
static void test_inject_arguments(void **state)
{
	struct nfix *x = *state;
	struct nvme_emu_fault f = { .type = NVME_EMU_FAULT_STATUS, .sqid = 1, .opcode = -1 };

	assert_int_equal(nvme_emu_inject(x->emu[0], NULL), -EINVAL);
	assert_int_equal(nvme_emu_inject(x->emu[0], &f), -EINVAL); /* status 0 */
	f.type = NVME_EMU_FAULT_STRAY_DMA;
	assert_int_equal(nvme_emu_inject(x->emu[0], &f), -EINVAL); /* no address */
	f.type = 0;
	assert_int_equal(nvme_emu_inject(x->emu[0], &f), -EINVAL);
	f.type = NVME_EMU_FAULT_DROP;
	f.sqid = 1000;
	assert_int_equal(nvme_emu_inject(x->emu[0], &f), -EINVAL);
	f.sqid = 1;
	f.opcode = 256;
	assert_int_equal(nvme_emu_inject(x->emu[0], &f), -EINVAL);
	f.opcode = -1;
	f.count = 1;
	/* Armed on SQ 1 only, then cleared before anything ran: nothing is hit. */
	assert_int_equal(nvme_emu_inject(x->emu[0], &f), 0);
	nvme_emu_inject_clear(x->emu[0]);
	nfix_round_trip(x, 1, 0, 0, 8, 3);
	assert_int_equal(nvme_emu_inject_hits(x->emu[0]), 0);
	/* Step mode needs the thread stopped first. */
	assert_int_equal(nvme_emu_step(x->emu[0]), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lost_commands_all_accounted, setup,
						nfix_teardown),
		cmocka_unit_test_setup_teardown(test_media_error_is_reported, setup, nfix_teardown),
		cmocka_unit_test_setup_teardown(test_inject_arguments, setup, nfix_teardown),
	};

	nfix_quiet();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
