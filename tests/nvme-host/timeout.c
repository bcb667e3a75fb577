// SPDX-License-Identifier: MIT
/*
 * Description: command timeouts. The controller is made to hang the way a
 * real one does, inside a command: the command's data pointer names a
 * register BAR of a peer whose write handler sleeps, so the controller's
 * thread is stuck in that DMA for as long as the test says. A command that
 * finishes after its Abort was sent completes normally (no reset); one
 * that outlives its Abort gets the controller reset and fails with -EIO,
 * and the queue pairs work again afterwards; an admin command that hangs
 * resets the controller at once.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <time.h>
#include <cmocka.h>

#include "nvme-fixture.h"

/* How long the next DMA into the stall BAR hangs, in ms; consumed by that DMA. */
static int stall_ms;
static int stall_hits;

static void stall_write(struct pci_dev *dev, int bar, uint64_t off, uint64_t val, unsigned int size)
{
	int ms = __atomic_exchange_n(&stall_ms, 0, __ATOMIC_ACQ_REL);

	if (ms) {
		struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

		__atomic_fetch_add(&stall_hits, 1, __ATOMIC_RELAXED);
		nanosleep(&ts, NULL);
	}
}

static uint64_t stall_read(struct pci_dev *dev, int bar, uint64_t off, unsigned int size)
{
	return 0;
}

static const struct pci_bar_ops stall_ops = {
	.read = stall_read,
	.write = stall_write,
};

static int setup_timeout(void **state, unsigned int timeout_ms)
{
	struct nfix_opts o = { .stall_ops = &stall_ops, .ctrl_opts = { .timeout_ms = timeout_ms } };
	struct nfix *x = calloc(1, sizeof(*x));

	stall_ms = 0;
	stall_hits = 0;
	if (!x || nfix_build(x, &o))
		return -1;
	*state = x;
	return 0;
}

static int setup(void **state)
{
	return setup_timeout(state, 400);
}

/* A Read of 8 blocks whose data goes to the stall BAR (switch-local, so by bus address). */
static int stalled_read(struct nfix *x, int ms)
{
	struct nvme_command cmd = { .opcode = nvme_cmd_read };

	__atomic_store_n(&stall_ms, ms, __ATOMIC_RELEASE);
	cmd.nsid = 1;
	cmd.cdw12 = 7;
	cmd.prp1 = pci_bus_address(x->stall, 0);
	return nvme_io_cmd(x->qp[0], &cmd, NULL, 0, DMA_NONE, NULL);
}

static void check_io_works(struct nfix *x, struct nvme_qpair *qp)
{
	struct nvme_ns *ns = nvme_ctrl_ns(x->ctrl[0], 1);
	uint8_t *pat = nfix_alloc(8192), *buf = nfix_alloc(8192);

	nfix_fill(pat, 8192, 1);
	assert_int_equal(nvme_write(ns, qp, pat, 64, 16), 0);
	assert_int_equal(nvme_read(ns, qp, buf, 64, 16), 0);
	assert_memory_equal(buf, pat, 8192);
	free(pat);
	free(buf);
}

/* Timed out, Abort sent, then the command finishes after all: its real status, no reset. */
static void test_completes_after_abort(void **state)
{
	struct nfix *x = *state;
	struct nvme_ctrl_stats st;

	/* Timeout at 400 ms; the Abort would time out at 800; the controller is back at 600. */
	assert_int_equal(stalled_read(x, 600), 0);
	assert_int_equal(stall_hits, 1);
	nvme_ctrl_get_stats(x->ctrl[0], &st);
	assert_int_equal(st.timeouts, 1);
	assert_int_equal(st.aborts, 1);
	assert_int_equal(st.resets, 0);
	check_io_works(x, x->qp[0]);
}

/*
 * Hung past its Abort: the Abort times out too, the controller is reset
 * (disable waits until it lets go), the command fails with -EIO, and both
 * queue pairs are recreated and work.
 */
static void test_reset_fails_outstanding(void **state)
{
	struct nfix *x = *state;
	struct nvme_qpair *other = nvme_qpair_alloc(x->ctrl[0]);
	struct nvme_ctrl_stats st;

	assert_false(IS_ERR(other));
	assert_int_equal(stalled_read(x, 2000), -EIO);
	nvme_ctrl_get_stats(x->ctrl[0], &st);
	assert_true(st.timeouts >= 2); /* the command and its Abort */
	assert_int_equal(st.aborts, 1);
	assert_int_equal(st.resets, 1);
	assert_true(st.reset_failed >= 2);
	assert_true(pci_mmio_read(x->nvme[0], 0, NVME_REG_CSTS, 4) & NVME_CSTS_RDY);
	check_io_works(x, x->qp[0]);
	check_io_works(x, other);
	nvme_qpair_free(other);
}

/* An admin command that hangs: no Abort for those, the controller is reset. */
static void test_admin_timeout_resets(void **state)
{
	struct nfix *x = *state;
	struct nvme_command cmd = { .opcode = nvme_admin_identify };
	struct nvme_ctrl_stats st;

	cmd.cdw10 = NVME_ID_CNS_CTRL;
	cmd.prp1 = pci_bus_address(x->stall, 0);
	__atomic_store_n(&stall_ms, 1500, __ATOMIC_RELEASE);
	assert_int_equal(nvme_admin_cmd(x->ctrl[0], &cmd, NULL, 0, DMA_NONE, NULL), -EIO);
	nvme_ctrl_get_stats(x->ctrl[0], &st);
	assert_int_equal(st.timeouts, 1);
	assert_int_equal(st.aborts, 0);
	assert_int_equal(st.resets, 1);
	check_io_works(x, x->qp[0]);
	/* The admin queue works again too. */
	cmd.prp1 = 0;
	{
		struct nvme_id_ctrl *id = nfix_alloc(4096);

		assert_int_equal(nvme_admin_cmd(x->ctrl[0], &cmd, id, 4096, DMA_FROM_DEVICE, NULL),
				 0);
		assert_memory_equal(id->sn, "HM0000", 6);
		free(id);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_completes_after_abort, setup, nfix_teardown),
		cmocka_unit_test_setup_teardown(test_reset_fails_outstanding, setup, nfix_teardown),
		cmocka_unit_test_setup_teardown(test_admin_timeout_resets, setup, nfix_teardown),
	};

	nfix_quiet();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
