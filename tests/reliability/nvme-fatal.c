// SPDX-License-Identifier: MIT
/*
 * Description: controller fatal status in the middle of I/O. With 96 reads
 * and writes outstanding on two queue pairs, the controller sets CSTS.CFS
 * as it fetches its 17th I/O command and stops: nothing more is executed
 * or completed, the admin queue included. The driver's timeout fires, its
 * Abort times out too, and the reset (CC.EN 1 -> 0, which clears CFS)
 * fails everything outstanding with -EIO. Every I/O is accounted for by
 * io-model.h's rules: a write the controller executed but whose
 * completion the reset overtook may be on the media though it failed;
 * nothing is half written and nothing lands in a buffer after its failure.
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

static uint32_t csts(struct nfix *x)
{
	return (uint32_t)pci_mmio_read(x->nvme[0], 0, NVME_REG_CSTS, 4);
}

static void test_fatal_status_mid_io(void **state)
{
	struct nfix *x = *state;
	struct nvme_emu_fault f = {
		.type = NVME_EMU_FAULT_FATAL,
		.sqid = NVME_EMU_FAULT_ANY_IO_SQ,
		.opcode = NVME_EMU_FAULT_ANY_OPCODE,
		.skip = LET_THROUGH,
		.count = 1,
	};
	struct nvme_ctrl_stats st;
	struct rio_model m;
	uint64_t end;

	rio_init(&m, x);
	assert_int_equal(nvme_emu_inject(x->emu[0], &f), 0);
	rio_submit_all(&m);
	/* The fatal status is visible in CSTS until the driver resets the controller. */
	end = rio_ms() + TIMEOUT_MS / 2;
	while (!(csts(x) & NVME_CSTS_CFS) && rio_ms() < end)
		usleep(100);
	assert_true(csts(x) & NVME_CSTS_CFS);
	rio_wait_all(&m);

	nvme_ctrl_get_stats(x->ctrl[0], &st);
	print_message("%u I/Os: %u completed, %u failed; %llu timeouts, %llu resets, "
		      "%llu commands failed by resets\n",
		      RIO_N, m.ok, m.failed, (unsigned long long)st.timeouts,
		      (unsigned long long)st.resets, (unsigned long long)st.reset_failed);
	assert_int_equal(nvme_emu_inject_hits(x->emu[0]), 1);
	assert_true(m.ok <= LET_THROUGH);
	assert_true(m.failed >= RIO_N - LET_THROUGH);
	assert_true(st.timeouts >= 1);
	assert_true(st.resets >= 1);
	assert_int_equal(csts(x) & (NVME_CSTS_RDY | NVME_CSTS_CFS), NVME_CSTS_RDY);
	rio_verify_and_retry(&m);
	rio_fini(&m);
}

/* Fatal while the controller sits idle between commands of a synchronous caller: one -EIO. */
static void test_fatal_status_sync_caller(void **state)
{
	struct nfix *x = *state;
	struct nvme_ns *ns = nvme_ctrl_ns(x->ctrl[0], 1);
	struct nvme_emu_fault f = {
		.type = NVME_EMU_FAULT_FATAL,
		.sqid = (int)nvme_qpair_id(x->qp[0]),
		.opcode = nvme_cmd_write,
		.count = 1,
	};
	uint8_t *buf = nfix_alloc(4096);

	nfix_fill(buf, 4096, 11);
	assert_int_equal(nvme_emu_inject(x->emu[0], &f), 0);
	assert_int_equal(nvme_write(ns, x->qp[0], buf, 128, 8), -EIO);
	/* After the reset the same write goes through and reads back. */
	nfix_round_trip(x, 1, 0, 128, 8, 11);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fatal_status_mid_io, setup, nfix_teardown),
		cmocka_unit_test_setup_teardown(test_fatal_status_sync_caller, setup,
						nfix_teardown),
	};

	nfix_quiet();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
