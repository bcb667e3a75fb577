// SPDX-License-Identifier: MIT
/*
 * Description: the block interface against the emulated controller: write
 * and read round trips on 512-byte and 4 KiB namespaces with checksums,
 * PRP lists crossing pages from an unaligned buffer, transfers split above
 * MDTS and above the queue depth, buffers mapped page by page (PRP lists of
 * scattered pages), registered buffers, Flush, Dataset Management
 * deallocate, Write Zeroes split at 65536 blocks, LBA Out of Range, and the
 * asynchronous interface at queue depth 16 and 32.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "nvme-fixture.h"

static int setup_opts(void **state, const struct nfix_opts *o)
{
	struct nfix *x = calloc(1, sizeof(*x));

	if (!x || nfix_build(x, o))
		return -1;
	*state = x;
	return 0;
}

static int setup(void **state)
{
	struct nfix_opts o = { 0 };

	return setup_opts(state, &o);
}

/* A small largest transfer and queue depth, so that splitting is exercised at test sizes. */
static int setup_small(void **state)
{
	struct nfix_opts o = {
		.ctrl_opts = { .max_transfer = 128 << 10, .io_queue_depth = 8 },
	};

	return setup_opts(state, &o);
}

/* Ask for more than MDTS per command. */
static int setup_big(void **state)
{
	struct nfix_opts o = { .ctrl_opts = { .max_transfer = 8 << 20 } };

	return setup_opts(state, &o);
}

/* A transport that maps page by page, like one without an IOMMU. */
static int setup_pages(void **state)
{
	struct nfix_opts o = { .dma_seg_max = 4096 };

	return setup_opts(state, &o);
}

/* One block, a page, and odd sizes, on both block sizes. */
static void test_round_trips(void **state)
{
	struct nfix *x = *state;

	nfix_round_trip(x, 1, 0, 0, 1, 1);
	nfix_round_trip(x, 1, 0, 7, 8, 2);
	nfix_round_trip(x, 1, 0, 1000, 123, 3);
	nfix_round_trip(x, 2, 0, 0, 1, 4);
	nfix_round_trip(x, 2, 0, 5, 33, 5);
}

/* An unaligned buffer (PRP1 with an offset) spanning many pages: a PRP list. */
static void test_prp_list_unaligned(void **state)
{
	struct nfix *x = *state;

	nfix_round_trip(x, 1, 4, 4096, 256 + 3, 6); /* 129.5 KiB from offset 4 */
	nfix_round_trip(x, 1, 2048, 8192, 2048, 7); /* 1 MiB from the middle of a page */
	nfix_round_trip(x, 2, 12, 64, 300, 8);
}

/* Above MDTS a transfer is split into commands of MDTS, and counted. */
static void test_split_above_mdts(void **state)
{
	struct nfix *x = *state;
	struct nvme_ctrl_stats st;

	/* Asked for 8 MiB: MDTS is the limit. */
	assert_int_equal(nvme_ctrl_max_transfer(x->ctrl[0]),
			 4096ULL << nvme_ctrl_identify(x->ctrl[0])->mdts);
	nfix_round_trip(x, 1, 0, 0, (5 << 20) >> 9, 9);
	nfix_round_trip(x, 2, 100, 3, (3 << 20) >> 12, 10);
	nvme_ctrl_get_stats(x->ctrl[0], &st);
	assert_int_equal(st.split_ios, 4); /* two writes, two reads */
}

/* With 128 KiB commands and 8 slots, a 4 MiB read is 32 commands: slots are reused as they free. */
static void test_split_above_depth(void **state)
{
	struct nfix *x = *state;

	assert_int_equal(nvme_ctrl_max_transfer(x->ctrl[0]), 128 << 10);
	nfix_round_trip(x, 1, 0, 77, (4 << 20) >> 9, 11);
	nfix_round_trip(x, 1, 8, 77, 1, 12);
}

/* Page-by-page mappings: PRP lists of separately mapped pages carry the same data. */
static void test_page_by_page(void **state)
{
	struct nfix *x = *state;

	nfix_round_trip(x, 1, 0, 0, 8, 13);
	nfix_round_trip(x, 1, 4, 100, 2000, 14);
	nfix_round_trip(x, 2, 0, 9, (2 << 20) >> 12, 15);
}

/* A registered buffer is used without mapping per command and holds the same data. */
static void test_registered_buffer(void **state)
{
	struct nfix *x = *state;
	struct nvme_ns *ns = nvme_ctrl_ns(x->ctrl[0], 1);
	size_t len = 1 << 20;
	uint8_t *buf = nfix_alloc(len), *pat = malloc(len);

	nfix_fill(pat, len, 16);
	memcpy(buf, pat, len);
	assert_int_equal(nvme_ctrl_register_buffer(x->ctrl[0], buf, len), 0);
	assert_int_equal(nvme_write(ns, x->qp[0], buf, 4096, len >> 9), 0);
	memset(buf, 0, len);
	assert_int_equal(nvme_read(ns, x->qp[0], buf + 512, 4096, (len >> 9) - 1), 0);
	assert_memory_equal(buf + 512, pat, len - 512);
	assert_int_equal(nvme_ctrl_unregister_buffer(x->ctrl[0], buf), 0);
	free(buf);
	free(pat);
}

/* Flush, deallocate, write zeroes: each does what it says on the blocks it names. */
static void test_flush_trim_write_zeroes(void **state)
{
	struct nfix *x = *state;
	struct nvme_ns *ns = nvme_ctrl_ns(x->ctrl[0], 1);
	const struct nvme_id_ns *id = ns->id;
	size_t len = 64 << 10;
	uint8_t *pat = nfix_alloc(len), *buf = nfix_alloc(len);
	uint8_t *zero = calloc(1, len);

	nfix_fill(pat, len, 17);
	assert_int_equal(nvme_write(ns, x->qp[0], pat, 2048, len >> 9), 0);
	assert_int_equal(nvme_flush(ns, x->qp[0]), 0);
	/* Zero blocks 8..15 of the 128 written. */
	assert_int_equal(nvme_write_zeroes(ns, x->qp[0], 2048 + 8, 8), 0);
	assert_int_equal(nvme_read(ns, x->qp[0], buf, 2048, len >> 9), 0);
	assert_memory_equal(buf, pat, 8 * 512);
	assert_memory_equal(buf + 8 * 512, zero, 8 * 512);
	assert_memory_equal(buf + 16 * 512, pat + 16 * 512, len - 16 * 512);
	/* Deallocate blocks 32..63: they read back zero when DLFEAT says so. */
	assert_int_equal(nvme_trim(ns, x->qp[0], 2048 + 32, 32), 0);
	assert_int_equal(nvme_read(ns, x->qp[0], buf, 2048, len >> 9), 0);
	if ((id->dlfeat & 7) == NVME_NS_DLFEAT_READS_ZERO)
		assert_memory_equal(buf + 32 * 512, zero, 32 * 512);
	assert_memory_equal(buf + 64 * 512, pat + 64 * 512, len - 64 * 512);
	/* Write Zeroes of more than 65536 blocks: several commands. */
	assert_int_equal(nvme_write(ns, x->qp[0], pat, 70000, 8), 0);
	assert_int_equal(nvme_write_zeroes(ns, x->qp[0], 0, 70004), 0);
	assert_int_equal(nvme_read(ns, x->qp[0], buf, 70000, 8), 0);
	assert_memory_equal(buf, zero, 4 * 512);
	assert_memory_equal(buf + 4 * 512, pat + 4 * 512, 4 * 512);
	free(pat);
	free(buf);
	free(zero);
}

/* Past the end: the controller's status, not an errno; bad arguments: -EINVAL. */
static void test_out_of_range_and_bad_args(void **state)
{
	struct nfix *x = *state;
	struct nvme_ns *ns = nvme_ctrl_ns(x->ctrl[0], 1);
	uint8_t *buf = nfix_alloc(8192);

	assert_int_equal(nvme_read(ns, x->qp[0], buf, ns->nr_blocks - 1, 2) & 0x7ff,
			 NVME_SC_LBA_RANGE);
	assert_int_equal(nvme_write(ns, x->qp[0], buf, ns->nr_blocks, 1) & 0x7ff,
			 NVME_SC_LBA_RANGE);
	assert_int_equal(nvme_read(ns, x->qp[0], buf, ns->nr_blocks - 1, 1), 0);
	assert_int_equal(nvme_read(ns, x->qp[0], buf, 0, 0), -EINVAL);
	assert_int_equal(nvme_read(ns, x->qp[0], NULL, 0, 1), -EINVAL);
	assert_int_equal(nvme_trim(ns, x->qp[0], 0, 0), -EINVAL);
	free(buf);
}

struct async;

struct async_slot {
	struct async *a;
	unsigned int i;
	uint64_t lba;
};

struct async {
	struct nfix *x;
	struct nvme_ns *ns;
	uint8_t *bufs;
	struct async_slot *slot;
	unsigned int inflight, submitted, completed, total;
	int errors;
};

static void async_submit(struct async_slot *s);

static void async_cb(void *arg, int status)
{
	struct async_slot *s = arg;
	struct async *a = s->a;
	uint64_t first;

	memcpy(&first, a->bufs + (size_t)s->i * 4096, sizeof(first));
	if (status || first != s->lba)
		a->errors++;
	a->completed++;
	a->inflight--;
	/* Keep the queue full from the callback. */
	if (a->submitted < a->total)
		async_submit(s);
}

static void async_submit(struct async_slot *s)
{
	struct async *a = s->a;

	s->lba = (a->submitted * 7919ULL) % 1024;
	assert_int_equal(nvme_submit_read(a->ns, a->x->qp[0], a->bufs + (size_t)s->i * 4096, s->lba,
					  1, async_cb, s),
			 0);
	a->submitted++;
	a->inflight++;
}

/* Asynchronous 4 KiB reads at queue depth @qd, resubmitted from the callbacks, each checked. */
static void run_async(struct nfix *x, unsigned int qd)
{
	struct nvme_ns *ns = nvme_ctrl_ns(x->ctrl[0], 2);
	uint8_t *blk = nfix_alloc(4096);
	struct async a = { .x = x, .ns = ns, .total = 2000 };

	a.bufs = nfix_alloc((size_t)qd * 4096);
	a.slot = calloc(qd, sizeof(*a.slot));
	/* Each block starts with its own LBA. */
	for (uint64_t lba = 0; lba < 1024; lba++) {
		memset(blk, 0, 4096);
		memcpy(blk, &lba, sizeof(lba));
		assert_int_equal(nvme_write(ns, x->qp[0], blk, lba, 1), 0);
	}
	for (unsigned int i = 0; i < qd; i++) {
		a.slot[i].a = &a;
		a.slot[i].i = i;
		async_submit(&a.slot[i]);
	}
	assert_int_equal(nvme_qpair_outstanding(x->qp[0]), qd);
	while (a.completed < a.total)
		assert_true(nvme_qpair_wait(x->qp[0], 10000) > 0);
	assert_int_equal(a.errors, 0);
	assert_int_equal(a.inflight, 0);
	assert_int_equal(nvme_qpair_outstanding(x->qp[0]), 0);
	free(a.bufs);
	free(a.slot);
	free(blk);
}

static void test_async_qd16(void **state)
{
	run_async(*state, 16);
}

static void test_async_qd32(void **state)
{
	run_async(*state, 32);
}

static void count_cb(void *arg, int status)
{
	int *n = arg;

	(*n)++;
	if (status)
		*n += 1000;
}

/* A full queue pair says -EAGAIN; an I/O of more commands than slots is refused outright. */
static void test_async_limits(void **state)
{
	struct nfix *x = *state;
	struct nvme_ns *ns = nvme_ctrl_ns(x->ctrl[0], 1);
	uint8_t *buf = nfix_alloc(2 << 20);
	int done = 0, i;

	for (i = 0; i < 8; i++)
		assert_int_equal(
			nvme_submit_read(ns, x->qp[0], buf + i * 4096, i * 8, 8, count_cb, &done),
			0);
	assert_int_equal(nvme_submit_read(ns, x->qp[0], buf, 0, 8, count_cb, &done), -EAGAIN);
	while (done < 8)
		assert_true(nvme_qpair_wait(x->qp[0], 10000) > 0);
	assert_int_equal(done, 8);
	/* 2 MiB at 128 KiB per command is 16 commands, more than 8 slots. */
	assert_int_equal(nvme_submit_read(ns, x->qp[0], buf, 0, (2 << 20) >> 9, count_cb, &done),
			 -EINVAL);
	/* 1 MiB is 8: one callback for the whole I/O. */
	done = 0;
	assert_int_equal(nvme_submit_read(ns, x->qp[0], buf, 0, (1 << 20) >> 9, count_cb, &done),
			 0);
	while (nvme_qpair_outstanding(x->qp[0]))
		nvme_qpair_wait(x->qp[0], 10000);
	assert_int_equal(done, 1);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trips, setup, nfix_teardown),
		cmocka_unit_test_setup_teardown(test_prp_list_unaligned, setup, nfix_teardown),
		cmocka_unit_test_setup_teardown(test_split_above_mdts, setup_big, nfix_teardown),
		cmocka_unit_test_setup_teardown(test_split_above_depth, setup_small, nfix_teardown),
		cmocka_unit_test_setup_teardown(test_page_by_page, setup_pages, nfix_teardown),
		cmocka_unit_test_setup_teardown(test_registered_buffer, setup_pages, nfix_teardown),
		cmocka_unit_test_setup_teardown(test_flush_trim_write_zeroes, setup, nfix_teardown),
		cmocka_unit_test_setup_teardown(test_out_of_range_and_bad_args, setup, nfix_teardown),
		cmocka_unit_test_setup_teardown(test_async_qd16, setup, nfix_teardown),
		cmocka_unit_test_setup_teardown(test_async_qd32, setup, nfix_teardown),
		cmocka_unit_test_setup_teardown(test_async_limits, setup_small, nfix_teardown),
	};

	nfix_quiet();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
