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
 *
 * Built with HMM_STRESS_GPU (stress-gpu.c), the two devices are emulated
 * GPUs: migrations and the device's reads go through their copy engines
 * and MMUs, and a GPU kernel adds to a slot of its own in random pages
 * with atomics while everything else goes on; none of its adds is lost
 * either.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>
#include <cmocka.h>

#ifdef HMM_STRESS_GPU
#include "../gpu-host/gpu-fixture.h"
#define stress_fixture	 gpu_fixture
#define stress_setup	 gpu_fixture_setup
#define stress_teardown	 gpu_fixture_teardown
#define NGPU		 1
#else
#include "hmm-fixture.h"
#define stress_fixture	 hmm_fixture
#define stress_setup	 hmm_fixture_setup
#define stress_teardown	 hmm_fixture_teardown
#define NGPU		 0
#endif

#define NPAGES	   512UL
#define NWRITERS   3
#define NMIGRATORS 2
#define MAX_RANGE  64UL
#define GPU_SLOT   8 /* the GPU's words of each page: after the writers' */
#define GPU_WORDS  8

struct stress {
	struct stress_fixture *f;
	uint64_t *mem; /* NPAGES pages; writer w owns word w of each */
	int stop;
	unsigned long errors, writes, to_dev, to_sys, dev_reads;
	uint64_t seq[NWRITERS];
	uint64_t *expect[NWRITERS];
	uint64_t *gpu_adds; /* per page: the GPU kernel's adds that completed */
	unsigned long gpu_runs;
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

#ifdef HMM_STRESS_GPU
/* A GPU kernel adds 1 to the GPU's words of a random page, atomically. */
static void *gpu_writer(void *arg)
{
	struct worker *w = arg;
	struct stress *s = w->s;
	unsigned long n = 0;

	while (!stopped(s)) {
		unsigned long page = rand_r(&w->rnd) % NPAGES;
		uint64_t *words = &s->mem[page * words_per_page() + GPU_SLOT];
		int ret = gpu_run(s->f->gpu[0], s->f->mirror[0], GPU_KERNEL_ATOMIC_ADD,
				  (uint64_t[]){ (uintptr_t)words, GPU_WORDS, 1 }, 3);

		if (ret) {
			fprintf(stderr, "GPU kernel: %d\n", ret);
			__atomic_add_fetch(&s->errors, 1, __ATOMIC_RELAXED);
			continue;
		}
		s->gpu_adds[page]++;
		n++;
	}
	__atomic_add_fetch(&s->gpu_runs, n, __ATOMIC_RELAXED);
	return NULL;
}

/*
 * The GPU's copy engine reads pages that the writers store to while it
 * copies them, as a device's DMA does: ThreadSanitizer cannot see a
 * device's accesses ordered against the CPU's, and this test races them
 * on purpose (what it checks is that no write is lost, not that DMA is
 * ordered). Its reports about the fabric's copies are left out; races
 * between CPU threads are still reported.
 */
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
	return "race:copy_mem\n";
}
#endif

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
	struct worker workers[NWRITERS + NMIGRATORS + 1 + NGPU];
	pthread_t threads[NWRITERS + NMIGRATORS + 1 + NGPU];
	struct timespec t = { .tv_sec = duration_ms() / 1000,
			      .tv_nsec = (duration_ms() % 1000) * 1000000L };
	struct hetmem_mm_stats st;
	struct hetmem_mm *mm;
	int n = 0;

	s.mem = hmm_map_guarded(NPAGES * HMM_PAGE);
	assert_non_null(s.mem);
	for (int k = 0; k < NWRITERS; k++) {
		s.expect[k] = calloc(NPAGES, sizeof(uint64_t));
		assert_non_null(s.expect[k]);
	}
	s.gpu_adds = calloc(NPAGES, sizeof(uint64_t));
	assert_non_null(s.gpu_adds);
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
#ifdef HMM_STRESS_GPU
	workers[n] = (struct worker){ &s, 0, 4000u };
	assert_int_equal(pthread_create(&threads[n], NULL, gpu_writer, &workers[n]), 0);
	n++;
#endif

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
	/* And every page's GPU words hold as many adds as completed. */
	for (unsigned long p = 0; NGPU && p < NPAGES; p++)
		for (unsigned long k = 0; k < GPU_WORDS; k++)
			if (s.mem[p * words_per_page() + GPU_SLOT + k] != s.gpu_adds[p]) {
				fprintf(stderr, "page %lu GPU word %lu: %llu, expected %llu\n", p, k,
					(unsigned long long)s.mem[p * words_per_page() + GPU_SLOT + k],
					(unsigned long long)s.gpu_adds[p]);
				s.errors++;
			}

	mm = hetmem_mm_get();
	hetmem_mm_stats(mm, &st);
	hetmem_mm_put(mm);
	fprintf(stderr,
		"%lu writes, %lu pages to devices, %lu home by migration, %lu device reads, "
		"%lu GPU kernels; %lu CPU faults (%lu on device pages, %lu write-protect, %lu "
		"left to migrations)\n",
		s.writes, s.to_dev, s.to_sys, s.dev_reads, s.gpu_runs, st.faults, st.device_faults,
		st.wp_faults, st.deferred);
	assert_int_equal(s.errors, 0);
	assert_true(s.writes > 0);
	assert_true(s.to_dev > 0);
	assert_true(!NGPU || s.gpu_runs > 0);
	for (int k = 0; k < NWRITERS; k++)
		free(s.expect[k]);
	free(s.gpu_adds);
	munmap(s.mem, NPAGES * HMM_PAGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_lost_writes, stress_setup,
						stress_teardown),
	};

#ifdef HMM_STRESS_NO_POOL
	setenv("HETMEM_SYS_POOL_MB", "0", 1);
#endif
	hmm_require_uffd();
	hmm_skip_under_valgrind();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
