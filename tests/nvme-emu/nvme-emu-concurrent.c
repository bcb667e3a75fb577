// SPDX-License-Identifier: MIT
/*
 * Concurrent I/O: several threads, each with its own I/O queue pair and
 * interrupt vector, write and read back their own regions of a RAM and a
 * file namespace at queue depth 4, while another thread keeps the admin
 * queue busy. Every block reads back as written and every completion
 * arrives on its own queue and vector. Runs under TSan too.
 *
 * Completions are taken only after the vector's eventfd says how many
 * were posted (raw.h's by_irq), never by watching the CQ memory the
 * controller is writing.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "fabric-fixture.h"
#include "raw.h"

#define WORKERS 4
#define ROUNDS	40
#define QD	4
#define IO_SIZE 8192
#define REGION	(4 << 20)

struct worker {
	struct raw *r;
	int id;
	uint16_t qid;
	uint32_t nsid;
	struct raw_buf wbuf[QD], rbuf[QD];
	int errors;
	unsigned long done;
};

struct admin_worker {
	struct raw *r;
	struct raw_buf buf;
	int stop;
	int errors;
	unsigned long done;
};

static uint64_t slba_of(struct worker *w, int round, int k)
{
	unsigned int shift = w->nsid == 2 ? 12 : 9;
	uint64_t off = (uint64_t)w->id * REGION + ((uint64_t)(round * QD + k) * IO_SIZE) % REGION;

	return off >> shift;
}

static int batch(struct worker *w, uint8_t opcode, int round)
{
	unsigned int shift = w->nsid == 2 ? 12 : 9;
	struct nvme_completion cqe[QD];
	struct raw_q *sq = &w->r->sq[w->qid], *cq = &w->r->cq[w->qid];

	for (int k = 0; k < QD; k++) {
		struct raw_buf *b = opcode == nvme_cmd_write ? &w->wbuf[k] : &w->rbuf[k];
		struct nvme_command c =
			raw_rw(opcode, w->nsid, slba_of(w, round, k), IO_SIZE >> shift, b->dma);

		if (opcode == nvme_cmd_write)
			raw_fill(b->cpu, IO_SIZE, (uint32_t)(w->id << 20 | round << 4 | k));
		raw_push(w->r, sq, &c, k == QD - 1);
	}
	for (int k = 0; k < QD; k++)
		if (!raw_reap(w->r, cq, &cqe[k]) || raw_status(&cqe[k]) || cqe[k].sq_id != w->qid)
			return -1;
	return 0;
}

static void *io_worker(void *arg)
{
	struct worker *w = arg;

	for (int round = 0; round < ROUNDS; round++) {
		if (batch(w, nvme_cmd_write, round) || batch(w, nvme_cmd_read, round)) {
			w->errors++;
			break;
		}
		for (int k = 0; k < QD; k++)
			if (memcmp(w->wbuf[k].cpu, w->rbuf[k].cpu, IO_SIZE))
				w->errors++;
		w->done += 2 * QD;
	}
	return NULL;
}

static void *admin_worker(void *arg)
{
	struct admin_worker *a = arg;

	while (!__atomic_load_n(&a->stop, __ATOMIC_ACQUIRE)) {
		struct nvme_command c =
			(a->done & 1) ? raw_identify(NVME_ID_CNS_CTRL, 0, a->buf.dma) :
					raw_log(NVME_LOG_SMART, 0xffffffff, 512, a->buf.dma);
		struct nvme_completion cqe = { 0 };

		if (raw_admin(a->r, &c, &cqe)) {
			a->errors++;
			break;
		}
		a->done++;
	}
	return NULL;
}

/* Four queue pairs, four threads, one admin thread: all data intact, nothing lost. */
static void test_concurrent_queues(void **state)
{
	struct nvme_emu_params p = raw_params();
	struct worker w[WORKERS];
	struct admin_worker a = { 0 };
	pthread_t t[WORKERS], at;
	char dir[] = "/tmp/nvme-emu-conc-XXXXXX", path[64];
	struct raw *r = calloc(1, sizeof(*r));
	unsigned long total = 0;

	assert_non_null(r);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ns2", dir);
	p.nr_ns = 2;
	p.ns[0].size = WORKERS * REGION;
	p.ns[1] = (struct nvme_emu_ns_params){ path, WORKERS * REGION, 12 };
	assert_int_equal(raw_setup(r, &p), 0);
	r->by_irq = true;
	assert_true(raw_enable(r));

	/* Everything is allocated and mapped before the threads start. */
	for (int i = 0; i < WORKERS; i++) {
		w[i] = (struct worker){
			.r = r, .id = i, .qid = (uint16_t)(i + 1), .nsid = (uint32_t)(i % 2 + 1)
		};
		assert_int_equal(raw_io_pair(r, w[i].qid, 16, true, false), 0);
		for (int k = 0; k < QD; k++) {
			w[i].wbuf[k] = raw_alloc(r, IO_SIZE);
			w[i].rbuf[k] = raw_alloc(r, IO_SIZE);
		}
	}
	a.r = r;
	a.buf = raw_alloc(r, 4096);

	pthread_create(&at, NULL, admin_worker, &a);
	for (int i = 0; i < WORKERS; i++)
		pthread_create(&t[i], NULL, io_worker, &w[i]);
	for (int i = 0; i < WORKERS; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].errors, 0);
		total += w[i].done;
	}
	__atomic_store_n(&a.stop, 1, __ATOMIC_RELEASE);
	pthread_join(at, NULL);
	assert_int_equal(a.errors, 0);
	assert_int_equal(total, WORKERS * ROUNDS * 2 * QD);
	print_message("%lu I/O commands on %d queues, %lu admin commands alongside\n", total,
		      WORKERS, a.done);

	raw_teardown(r);
	free(r);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent_queues),
	};

	quiet_logs();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
