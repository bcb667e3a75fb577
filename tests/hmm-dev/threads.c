// SPDX-License-Identifier: MIT
/*
 * Description: /dev/hmm_dmirrorN from several threads at once: the first
 * opens of both minors race to make the devices, then each thread works on
 * a buffer of its own through a mirror of its own and through one mirror
 * every thread shares (the kernel lets ioctls on one file run together),
 * and the data is right throughout.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "hmm-dev-fixture.h"

#define NTHREADS 4
#define NPAGES	 16UL
#define SIZE	 (NPAGES * HMM_PAGE)
#define NINTS	 (SIZE / sizeof(int))
#define ROUNDS	 8

static pthread_barrier_t start;
static void *shared_file;

struct worker {
	int id;
	int err; /* the first failure's line */
};

#define WORKER_CHECK(w, cond)                \
	do {                                 \
		if (!(cond) && !(w)->err)    \
			(w)->err = __LINE__; \
	} while (0)

static void round_trip(struct worker *w, void *file, struct hmm_buffer *b, int base)
{
	int ret;

	hmm_dev_fill(b->mirror, NINTS, base);
	WORKER_CHECK(w, hmm_dev_cmd(file, HMM_DMIRROR_WRITE, b, NPAGES) == 0);
	/*
	 * Another thread's CPU faults on its own half-migrated buffer walk
	 * sequentially, and the fault-back prefetch brings the blocks after
	 * them home, which may reach this buffer between its migration and
	 * the read-back: -ENOENT (about one run in ten on two CPUs, none
	 * with the prefetch off; Documentation/hmm.md). The data must still
	 * be intact, and asking again must finish the job.
	 */
	for (int tries = 0; tries < 8; tries++) {
		ret = hmm_dev_cmd(file, HMM_DMIRROR_MIGRATE_TO_DEV, b, NPAGES);
		if (ret != -ENOENT)
			break;
		WORKER_CHECK(w, hmm_dev_holds(b->ptr, NINTS, base));
	}
	WORKER_CHECK(w, ret == 0);
	WORKER_CHECK(w, b->cpages == NPAGES);
	WORKER_CHECK(w, hmm_dev_holds(b->mirror, NINTS, base));
	/* Half home by command, half by CPU fault. */
	b->ptr = (char *)b->ptr + SIZE / 2;
	WORKER_CHECK(w, hmm_dev_cmd(file, HMM_DMIRROR_MIGRATE_TO_SYS, b, NPAGES / 2) == 0);
	b->ptr = (char *)b->ptr - SIZE / 2;
	WORKER_CHECK(w, hmm_dev_holds(b->ptr, NINTS, base));
	memset(b->mirror, 0, SIZE);
	WORKER_CHECK(w, hmm_dev_cmd(file, HMM_DMIRROR_READ, b, NPAGES) == 0);
	WORKER_CHECK(w, hmm_dev_holds(b->mirror, NINTS, base));
}

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	struct hmm_buffer *b =
		hmm_buffer_new(SIZE, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	void *file = NULL;

	WORKER_CHECK(w, b);
	pthread_barrier_wait(&start);
	/* The first opens: the devices are made by whichever comes first. */
	WORKER_CHECK(w, hi_hmm_open((unsigned int)w->id % 2, O_RDWR, &file) == 0);
	pthread_barrier_wait(&start);
	for (int r = 0; b && file && r < ROUNDS; r++) {
		round_trip(w, file, b, w->id * 100000 + r * 1000);
		round_trip(w, shared_file, b, -(w->id * 100000 + r * 1000));
	}
	/*
	 * A close brings every page of its device home, from under the
	 * others' migrations: the kernel driver does the same, and a test
	 * that wants its numbers waits.
	 */
	pthread_barrier_wait(&start);
	hi_hmm_close(file);
	hmm_buffer_free(b);
	return NULL;
}

static void test_threads(void **state)
{
	struct worker w[NTHREADS];
	pthread_t t[NTHREADS];

	pthread_barrier_init(&start, NULL, NTHREADS + 1);
	for (int i = 0; i < NTHREADS; i++) {
		w[i] = (struct worker){ .id = i };
		assert_int_equal(pthread_create(&t[i], NULL, worker_fn, &w[i]), 0);
	}
	pthread_barrier_wait(&start);
	/* The shared mirror, opened while the workers open theirs. */
	assert_int_equal(hi_hmm_open(1, O_RDWR, &shared_file), 0);
	pthread_barrier_wait(&start);
	pthread_barrier_wait(&start);
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(t[i], NULL);
		if (w[i].err)
			fail_msg("thread %d failed at line %d", i, w[i].err);
	}
	hi_hmm_close(shared_file);
	pthread_barrier_destroy(&start);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threads),
	};

	hmm_require_uffd();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
