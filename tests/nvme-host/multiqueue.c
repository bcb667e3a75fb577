// SPDX-License-Identifier: MIT
/*
 * Description: four threads, each with its own I/O queue pair, write and
 * read back disjoint regions of one namespace at the same time, some
 * synchronously and some at queue depth 8, polling or sleeping on their
 * queue's interrupt vector; every block checks out and no queue pair
 * needs a lock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "nvme-fixture.h"

#define THREADS		  4
#define BLOCKS_PER_THREAD 2048 /* 512-byte blocks: 1 MiB each */
#define ROUNDS		  40
#define QD		  8

struct worker {
	struct nfix *x;
	struct nvme_ns *ns;
	unsigned int id;
	int errors;
	unsigned int qid;
};

/* Every worker holds its queue pair here, so their ids must differ. */
static pthread_barrier_t all_hold;

struct slot {
	struct worker *w;
	int status;
	bool done;
};

static void slot_cb(void *arg, int status)
{
	struct slot *s = arg;

	s->status = status;
	s->done = true;
}

/* Each round: sync writes of random runs, then QD-deep async reads of the same, checked. */
static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	struct nvme_qpair *qp = nvme_qpair_alloc(w->x->ctrl[0]);
	uint64_t base = (uint64_t)w->id * BLOCKS_PER_THREAD;
	uint8_t *pat = nfix_alloc(QD * 16 * 512), *buf = nfix_alloc(QD * 16 * 512);
	struct slot slots[QD];
	uint32_t seed = w->id * 1000;

	if (IS_ERR(qp)) {
		w->errors = 1000;
		pthread_barrier_wait(&all_hold);
		goto out;
	}
	w->qid = nvme_qpair_id(qp);
	for (int r = 0; r < ROUNDS; r++) {
		uint64_t lba[QD];

		/* 128 runs of 16 blocks per thread, in a scrambled order: distinct per round. */
		for (int i = 0; i < QD; i++) {
			lba[i] = base + (((uint64_t)(r * QD + i) * 37 + w->id) % 128) * 16;
			nfix_fill(pat + i * 16 * 512, 16 * 512, seed + (uint32_t)(r * QD + i));
			if (nvme_write(w->ns, qp, pat + i * 16 * 512, lba[i], 16))
				w->errors++;
		}
		memset(buf, 0, QD * 16 * 512);
		for (int i = 0; i < QD; i++) {
			slots[i] = (struct slot){ .w = w };
			if (nvme_submit_read(w->ns, qp, buf + i * 16 * 512, lba[i], 16, slot_cb,
					     &slots[i]))
				w->errors++;
		}
		for (int i = 0; i < QD; i++) {
			while (!slots[i].done)
				if (nvme_qpair_wait(qp, 10000) <= 0)
					break;
			if (!slots[i].done || slots[i].status)
				w->errors++;
		}
		for (int i = 0; i < QD; i++)
			if (memcmp(buf + i * 16 * 512, pat + i * 16 * 512, 16 * 512))
				w->errors++;
	}
	pthread_barrier_wait(&all_hold);
	nvme_qpair_free(qp);
out:
	free(pat);
	free(buf);
	return NULL;
}

static void run(bool irq)
{
	struct nfix_opts o = { .ctrl_opts = { .use_irq = irq, .io_queue_depth = 16 } };
	struct worker w[THREADS];
	pthread_t th[THREADS];
	struct nfix x;

	assert_int_equal(nfix_build(&x, &o), 0);
	assert_int_equal(pthread_barrier_init(&all_hold, NULL, THREADS), 0);
	for (unsigned int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .x = &x, .ns = nvme_ctrl_ns(x.ctrl[0], 1), .id = i };
		assert_int_equal(pthread_create(&th[i], NULL, worker_fn, &w[i]), 0);
	}
	for (unsigned int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].errors, 0);
		for (unsigned int j = 0; j < i; j++)
			assert_int_not_equal(w[i].qid, w[j].qid);
	}
	pthread_barrier_destroy(&all_hold);
	nfix_destroy(&x);
}

/* Polled completions. */
static void test_four_threads_polled(void **state)
{
	run(false);
}

/* Each queue pair sleeping on its own vector. */
static void test_four_threads_irq(void **state)
{
	run(true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_four_threads_polled),
		cmocka_unit_test(test_four_threads_irq),
	};

	nfix_quiet();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
