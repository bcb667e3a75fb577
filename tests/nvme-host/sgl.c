// SPDX-License-Identifier: MIT
/*
 * Description: I/O data described with SGLs when the controller supports
 * them and the driver is asked to: one Data Block descriptor in the command
 * for a contiguous mapping, a segment page of descriptors and chained
 * segment pages when the buffer is mapped page by page, a buffer the
 * controller's dword granularity cannot take bounced, and admin commands
 * still on PRPs.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "nvme-fixture.h"

static int setup_opts(void **state, size_t seg_max)
{
	struct nfix_opts o = { .dma_seg_max = seg_max, .ctrl_opts = { .use_sgl = true } };
	struct nfix *x = calloc(1, sizeof(*x));

	if (!x || nfix_build(x, &o))
		return -1;
	*state = x;
	return 0;
}

static int setup(void **state)
{
	return setup_opts(state, 0);
}

static int setup_pages(void **state)
{
	return setup_opts(state, 4096);
}

/* The controller advertises SGLs and the driver uses them for I/O. */
static void test_sgl_in_use(void **state)
{
	struct nfix *x = *state;

	assert_int_not_equal(le32toh(nvme_ctrl_identify(x->ctrl[0])->sgls) & 3, 0);
	assert_true(nvme_ctrl_uses_sgl(x->ctrl[0]));
}

/* A contiguous mapping: one Data Block descriptor, any size up to the largest transfer. */
static void test_data_block_in_command(void **state)
{
	struct nfix *x = *state;

	nfix_round_trip(x, 1, 0, 0, 1, 1);
	nfix_round_trip(x, 1, 4, 10, 300, 2);
	nfix_round_trip(x, 2, 0, 0, 256, 3);
	nfix_round_trip(x, 1, 0, 0, (3 << 20) >> 9, 4); /* split, each command one descriptor */
}

/* Page by page: 2..256 descriptors in one segment page, 257 in two chained pages. */
static void test_segment_pages(void **state)
{
	struct nfix *x = *state;

	nfix_round_trip(x, 1, 0, 0, 16, 5); /* 2 descriptors */
	nfix_round_trip(x, 1, 100, 33, 2000, 6); /* 251 descriptors from an unaligned start */
	nfix_round_trip(x, 2, 0, 7, 256, 7); /* 256: one full page */
	nfix_round_trip(x, 1, 2048, 4096, 2048, 8); /* 1 MiB from mid-page: 257, chained */
}

/* Dword granularity: an odd buffer goes through the bounce buffer and still arrives. */
static void test_unaligned_bounced(void **state)
{
	struct nfix *x = *state;
	struct nvme_ctrl_stats st;

	nfix_round_trip(x, 1, 1, 50, 3, 9);
	nvme_ctrl_get_stats(x->ctrl[0], &st);
	assert_int_equal(st.bounced_ios, 2);
}

/* Admin commands keep using PRPs (sec. 4.3): Identify works as before. */
static void test_admin_on_prps(void **state)
{
	struct nfix *x = *state;
	struct nvme_command cmd = { .opcode = nvme_admin_identify };
	struct nvme_id_ctrl *id = nfix_alloc(4096);

	cmd.cdw10 = NVME_ID_CNS_CTRL;
	assert_int_equal(nvme_admin_cmd(x->ctrl[0], &cmd, id, 4096, DMA_FROM_DEVICE, NULL), 0);
	assert_memory_equal(id->sn, "HM0000", 6);
	free(id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sgl_in_use, setup, nfix_teardown),
		cmocka_unit_test_setup_teardown(test_data_block_in_command, setup, nfix_teardown),
		cmocka_unit_test_setup_teardown(test_segment_pages, setup_pages, nfix_teardown),
		cmocka_unit_test_setup_teardown(test_unaligned_bounced, setup, nfix_teardown),
		cmocka_unit_test_setup_teardown(test_admin_on_prps, setup_pages, nfix_teardown),
	};

	nfix_quiet();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
