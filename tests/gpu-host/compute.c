// SPDX-License-Identifier: MIT
/*
 * Description: the GPU's kernels on the process's own memory, wherever it
 * is: migrated to VRAM, in system memory, split between the two, or on
 * the other GPU. SAXPY, copy, checksum, fill and atomic add give exactly
 * what the CPU computes; several jobs in flight complete in order; a
 * kernel touching unmapped memory fails with -EFAULT and the next one
 * runs; bad launches are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "gpu-fixture.h"

#define N     (256UL * 1024) /* floats: 1 MiB */
#define BYTES (N * sizeof(float))

/* Guarded: a sanitizer's memory merged into it would be in reach of the GPU's faults. */
static void *anon(size_t len)
{
	void *p = hmm_map_guarded(len);

	assert_non_null(p);
	return p;
}

static uint64_t fnv1a(const void *p, size_t len)
{
	const unsigned char *b = p;
	uint64_t h = GPU_FNV_OFFSET;

	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= GPU_FNV_PRIME;
	}
	return h;
}

static uint64_t float_bits(float a)
{
	uint32_t u;

	memcpy(&u, &a, sizeof(u));
	return u;
}

/* y = a * x + y over migrated x and y, against the CPU's single precision. */
static void test_saxpy_in_vram(void **state)
{
	struct gpu_fixture *f = *state;
	float *x = anon(BYTES), *y = anon(BYTES), *expect = malloc(BYTES);
	volatile float a = 2.5f;

	assert_non_null(expect);
	for (unsigned long i = 0; i < N; i++) {
		x[i] = (float)i * 0.25f - 1000.0f;
		y[i] = (float)(i % 977) * 3.0f;
		expect[i] = a * x[i];
		expect[i] = expect[i] + y[i];
	}
	assert_int_equal(gpu_migrate(f->mirror[0], x, BYTES, 1), (long)(BYTES / HMM_PAGE));
	assert_int_equal(gpu_migrate(f->mirror[0], y, BYTES, 1), (long)(BYTES / HMM_PAGE));
	assert_int_equal(gpu_run(f->gpu[0], f->mirror[0], GPU_KERNEL_SAXPY,
				 (uint64_t[]){ (uintptr_t)y, (uintptr_t)x, N, float_bits(a) }, 4),
			 0);
	assert_memory_equal(y, expect, BYTES);
	free(expect);
	munmap(x, BYTES);
	munmap(y, BYTES);
}

/* Source in VRAM, destination in system memory, and the checksum of both. */
static void test_copy_and_checksum_mixed(void **state)
{
	struct gpu_fixture *f = *state;
	unsigned char *src = anon(BYTES), *dst = anon(BYTES);
	uint64_t *sum = anon(HMM_PAGE);

	for (unsigned long i = 0; i < BYTES; i++)
		src[i] = (unsigned char)(i ^ (i >> 9));
	/* Half of the source on the GPU, the other half left in system memory. */
	assert_int_equal(gpu_migrate(f->mirror[0], src, BYTES / 2, 1),
			 (long)(BYTES / 2 / HMM_PAGE));
	assert_int_equal(gpu_run(f->gpu[0], f->mirror[0], GPU_KERNEL_COPY,
				 (uint64_t[]){ (uintptr_t)dst, (uintptr_t)src, BYTES }, 3),
			 0);
	assert_int_equal(gpu_run(f->gpu[0], f->mirror[0], GPU_KERNEL_CHECKSUM,
				 (uint64_t[]){ (uintptr_t)dst, BYTES, (uintptr_t)sum }, 3),
			 0);
	assert_memory_equal(dst, src, BYTES);
	assert_true(*sum == fnv1a(src, BYTES));
	munmap(src, BYTES);
	munmap(dst, BYTES);
	munmap(sum, HMM_PAGE);
}

/*
 * Jobs in flight together, more of them than the ring has entries,
 * complete in order; atomics from all of them add up.
 */
static void test_jobs_in_flight(void **state)
{
	struct gpu_fixture *f = *state;
	const unsigned long n = 4096, jobs = 150;
	uint64_t *p = anon(n * sizeof(uint64_t));
	uint32_t *fillme = anon(BYTES);
	struct gpu_job *job[150];

	for (unsigned long i = 0; i < n; i++)
		p[i] = i << 20;
	assert_int_equal(gpu_migrate(f->mirror[0], p, n * sizeof(uint64_t), 1),
			 (long)(n * sizeof(uint64_t) / HMM_PAGE));
	for (unsigned long j = 0; j < jobs; j++) {
		if (j == jobs / 2)
			assert_int_equal(gpu_launch(f->gpu[0], f->mirror[0], GPU_KERNEL_FILL,
						    (uint64_t[]){ (uintptr_t)fillme, N, 0x0badcafe },
						    3, &job[j]),
					 0);
		else
			assert_int_equal(gpu_launch(f->gpu[0], f->mirror[0], GPU_KERNEL_ATOMIC_ADD,
						    (uint64_t[]){ (uintptr_t)p, n, j + 1 }, 3,
						    &job[j]),
					 0);
	}
	for (unsigned long j = 0; j < jobs; j++)
		assert_int_equal(gpu_job_wait(job[j], NULL), 0);
	for (unsigned long i = 0; i < n; i++)
		assert_int_equal(p[i], (i << 20) + jobs * (jobs + 1) / 2 - (jobs / 2 + 1));
	for (unsigned long i = 0; i < N; i++)
		assert_int_equal(fillme[i], 0x0badcafe);
	munmap(p, n * sizeof(uint64_t));
	munmap(fillme, BYTES);
}

/* gpu0's kernel on memory that gpu1 holds: it comes home, and the result is right. */
static void test_kernel_on_other_gpu_memory(void **state)
{
	struct gpu_fixture *f = *state;
	unsigned char *src = anon(BYTES);
	uint64_t *sum = anon(HMM_PAGE);

	for (unsigned long i = 0; i < BYTES; i++)
		src[i] = (unsigned char)(i * 13);
	assert_int_equal(gpu_migrate(f->mirror[1], src, BYTES, 1), (long)(BYTES / HMM_PAGE));
	assert_int_equal(gpu_run(f->gpu[0], f->mirror[0], GPU_KERNEL_CHECKSUM,
				 (uint64_t[]){ (uintptr_t)src, BYTES, (uintptr_t)sum }, 3),
			 0);
	assert_true(*sum == fnv1a(src, BYTES));
	munmap(src, BYTES);
	munmap(sum, HMM_PAGE);
}

static void test_errors(void **state)
{
	struct gpu_fixture *f = *state;
	uint32_t *p = anon(4 * HMM_PAGE);
	struct gpu_job *job;

	/* Half of the range unmapped: the fault is cancelled, -EFAULT. */
	assert_int_equal(munmap(p + 2 * HMM_PAGE / 4, 2 * HMM_PAGE), 0);
	assert_int_equal(gpu_run(f->gpu[0], f->mirror[0], GPU_KERNEL_FILL,
				 (uint64_t[]){ (uintptr_t)p, HMM_PAGE, 7 }, 3),
			 -EFAULT);
	/* What came before the hole was written; the next job runs. */
	assert_int_equal(p[0], 7);
	assert_int_equal(gpu_run(f->gpu[0], f->mirror[0], GPU_KERNEL_FILL,
				 (uint64_t[]){ (uintptr_t)p, 2 * HMM_PAGE / 4, 9 }, 3),
			 0);
	assert_int_equal(p[2 * HMM_PAGE / 4 - 1], 9);
	/* The device refuses a misaligned operand. */
	assert_int_equal(gpu_run(f->gpu[0], f->mirror[0], GPU_KERNEL_ATOMIC_ADD,
				 (uint64_t[]){ (uintptr_t)p + 4, 1, 1 }, 3),
			 -EINVAL);
	/* The driver refuses what it can tell is wrong. */
	assert_int_equal(gpu_launch(f->gpu[0], f->mirror[0], 99, NULL, 0, &job), -EINVAL);
	assert_int_equal(gpu_launch(f->gpu[0], f->mirror[0], GPU_KERNEL_FILL,
				    (uint64_t[]){ 0, 0, 0, 0, 0, 0 }, 6, &job),
			 -EINVAL);
	assert_int_equal(gpu_launch(f->gpu[0], f->mirror[1], GPU_KERNEL_FILL, NULL, 0, &job),
			 -EINVAL);
	assert_int_equal(gpu_launch(f->gpu[0], f->mirror[0], GPU_KERNEL_FILL, NULL, 0, NULL),
			 -EINVAL);
	munmap(p, 2 * HMM_PAGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_saxpy_in_vram, gpu_fixture_setup,
						gpu_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_copy_and_checksum_mixed, gpu_fixture_setup,
						gpu_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_jobs_in_flight, gpu_fixture_setup,
						gpu_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_kernel_on_other_gpu_memory, gpu_fixture_setup,
						gpu_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_errors, gpu_fixture_setup,
						gpu_fixture_teardown),
	};

	hmm_require_uffd();
	hmm_skip_under_valgrind();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
