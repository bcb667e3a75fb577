// SPDX-License-Identifier: MIT
/*
 * Description: no write is lost. Writer threads stamp random pages with
 * increasing sequence numbers (each writer its own slot of every page) and
 * read each stamp straight back, while migrator threads move random
 * sub-ranges of the same memory to two devices and back, and a device
 * reads it. When they stop, every slot holds the last stamp its writer
 * wrote.
 *
 * Runs for HETMEM_STRESS_MS milliseconds (2000 by default, 500 under
 * ThreadSanitizer); skipped under Valgrind, where a thread blocked in a
 * page fault would keep the handler thread from running.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>
#include <cmocka.h>

#include "hmm-fixture.h"

#define NPAGES	   512UL
#define NWRITERS   3
#define NMIGRATORS 2
#define MAX_RANGE  64UL

struct stress {
	struct hmm_fixture *f;
	uint64_t *mem; /* NPAGES pages; writer w owns word w of each */
	int stop;
	unsigned long errors, writes, to_dev, to_sys, dev_reads;
	uint64_t seq[NWRITERS];
	uint64_t *expect[NWRITERS];
};

struct worker {
	struct stress *s;
	int id;
	unsigned int rnd;
};

static unsigned long words_per_page(void)
{
	return HMM_PAGE / sizeof(uint64_t);
}

static bool stopped(struct stress *s)
{
	return __atomic_load_n(&s->stop, __ATOMIC_ACQUIRE);
}

static void *writer(void *arg)
{
	struct worker *w = arg;
	struct stress *s = w->s;
	unsigned long n = 0;

	while (!stopped(s)) {
		unsigned long page = rand_r(&w->rnd) % NPAGES;
		volatile uint64_t *slot = &s->mem[page * words_per_page() + (unsigned long)w->id];
		uint64_t seq = __atomic_add_fetch(&s->seq[w->id], 1, __ATOMIC_RELAXED);

		*slot = seq;
		s->expect[w->id][page] = seq;
		if (*slot != seq)
			__atomic_add_fetch(&s->errors, 1, __ATOMIC_RELAXED);
		n++;
	}
	__atomic_add_fetch(&s->writes, n, __ATOMIC_RELAXED);
	return NULL;
}

static void random_range(struct worker *w, struct hmm_dmirror_cmd *cmd)
{
	unsigned long first = rand_r(&w->rnd) % NPAGES;
	unsigned long n = 1 + rand_r(&w->rnd) % MAX_RANGE;

	if (first + n > NPAGES)
		n = NPAGES - first;
	cmd->addr = (uintptr_t)w->s->mem + first * HMM_PAGE;
	cmd->npages = n;
	cmd->ptr = 0;
}

/* Even migrators move memory to a device (alternating devices), odd ones home. */
static void *migrator(void *arg)
{
	struct worker *w = arg;
	struct stress *s = w->s;

	for (unsigned long round = 0; !stopped(s); round++) {
		struct dmirror *d = s->f->mirror[round & 1];
		struct hmm_dmirror_cmd cmd;
		int ret;

		random_range(w, &cmd);
		if (w->id % 2 == 0) {
			ret = dmirror_migrate_to_dev(d, &cmd);
			__atomic_add_fetch(&s->to_dev, cmd.cpages, __ATOMIC_RELAXED);
		} else {
			ret = dmirror_migrate_to_sys(d, &cmd);
			__atomic_add_fetch(&s->to_sys, cmd.cpages, __ATOMIC_RELAXED);
		}
		if (ret && ret != -EBUSY) {
			fprintf(stderr, "migrator %d: %d\n", w->id, ret);
			__atomic_add_fetch(&s->errors, 1, __ATOMIC_RELAXED);
		}
	}
	return NULL;
}

/* A device reading the memory sees stamps no newer than their writers wrote. */
static void *device_reader(void *arg)
{
	struct worker *w = arg;
	struct stress *s = w->s;
	uint64_t *buf = malloc(MAX_RANGE * HMM_PAGE);

	while (buf && !stopped(s)) {
		struct hmm_dmirror_cmd cmd;
		uint64_t latest[NWRITERS];
		int ret;

		random_range(w, &cmd);
		cmd.ptr = (uintptr_t)buf;
		ret = dmirror_read(s->f->mirror[0], &cmd);
		for (int k = 0; k < NWRITERS; k++)
			latest[k] = __atomic_load_n(&s->seq[k], __ATOMIC_RELAXED);
		if (ret && ret != -EBUSY) {
			__atomic_add_fetch(&s->errors, 1, __ATOMIC_RELAXED);
			continue;
		}
		for (unsigned long p = 0; !ret && p < cmd.npages; p++)
			for (int k = 0; k < NWRITERS; k++)
				if (buf[p * words_per_page() + (unsigned long)k] > latest[k])
					__atomic_add_fetch(&s->errors, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&s->dev_reads, 1, __ATOMIC_RELAXED);
	}
	free(buf);
	return NULL;
}

static long duration_ms(void)
{
	const char *e = getenv("HETMEM_STRESS_MS");

	if (e && *e)
		return atol(e);
#if defined(__SANITIZE_THREAD__)
	return 500;
#else
	return 2000;
#endif
}

static void test_no_lost_writes(void **state)
{
	struct stress s = { .f = *state };
	struct worker workers[NWRITERS + NMIGRATORS + 1];
	pthread_t threads[NWRITERS + NMIGRATORS + 1];
	struct timespec t = { .tv_sec = duration_ms() / 1000,
			      .tv_nsec = (duration_ms() % 1000) * 1000000L };
	struct hetmem_mm_stats st;
	struct hetmem_mm *mm;
	int n = 0;

	s.mem = mmap(NULL, NPAGES * HMM_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		     -1, 0);
	assert_true(s.mem != MAP_FAILED);
	for (int k = 0; k < NWRITERS; k++) {
		s.expect[k] = calloc(NPAGES, sizeof(uint64_t));
		assert_non_null(s.expect[k]);
	}
	for (int k = 0; k < NWRITERS; k++, n++) {
		workers[n] = (struct worker){ &s, k, 1000u + (unsigned int)k };
		assert_int_equal(pthread_create(&threads[n], NULL, writer, &workers[n]), 0);
	}
	for (int k = 0; k < NMIGRATORS; k++, n++) {
		workers[n] = (struct worker){ &s, k, 2000u + (unsigned int)k };
		assert_int_equal(pthread_create(&threads[n], NULL, migrator, &workers[n]), 0);
	}
	workers[n] = (struct worker){ &s, 0, 3000u };
	assert_int_equal(pthread_create(&threads[n], NULL, device_reader, &workers[n]), 0);
	n++;

	nanosleep(&t, NULL);
	__atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
	for (int k = 0; k < n; k++)
		pthread_join(threads[k], NULL);

	/* Every slot holds its writer's last stamp (reading brings pages home). */
	for (unsigned long p = 0; p < NPAGES; p++)
		for (int k = 0; k < NWRITERS; k++)
			if (s.mem[p * words_per_page() + (unsigned long)k] != s.expect[k][p]) {
				fprintf(stderr, "page %lu writer %d: %llu, expected %llu\n", p, k,
					(unsigned long long)
						s.mem[p * words_per_page() + (unsigned long)k],
					(unsigned long long)s.expect[k][p]);
				s.errors++;
			}

	mm = hetmem_mm_get();
	hetmem_mm_stats(mm, &st);
	hetmem_mm_put(mm);
	fprintf(stderr,
		"%lu writes, %lu pages to devices, %lu home by migration, %lu device reads; "
		"%lu CPU faults (%lu on device pages, %lu write-protect, %lu left to migrations)\n",
		s.writes, s.to_dev, s.to_sys, s.dev_reads, st.faults, st.device_faults,
		st.wp_faults, st.deferred);
	assert_int_equal(s.errors, 0);
	assert_true(s.writes > 0);
	assert_true(s.to_dev > 0);
	for (int k = 0; k < NWRITERS; k++)
		free(s.expect[k]);
	munmap(s.mem, NPAGES * HMM_PAGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_lost_writes, hmm_fixture_setup,
						hmm_fixture_teardown),
	};

#ifdef HMM_STRESS_NO_POOL
	setenv("HETMEM_SYS_POOL_MB", "0", 1);
#endif
	hmm_require_uffd();
	hmm_skip_under_valgrind();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
