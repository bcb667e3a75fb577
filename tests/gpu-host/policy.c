// SPDX-License-Identifier: MIT
/*
 * Description: the driver's migration policies. By default a device
 * fault maps the system page where it is (hmm_range_fault(), by DMA
 * address) and nothing moves. With GPU_POLICY_MIGRATE_ON_FAULT the
 * faulting block moves to VRAM. With GPU_POLICY_MIGRATE_ON_COUNTER pages
 * stay in system memory until the GPU's access counters say they are
 * hot, then move. Each time the data is exactly what the CPU computes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "gpu-fixture.h"

#define SIZE   (256UL << 10)
#define NPAGES (SIZE / HMM_PAGE)

static unsigned long count_local(struct dmirror *mirror, void *addr, unsigned long npages)
{
	unsigned char *snap = malloc(npages);
	struct hmm_dmirror_cmd cmd = {
		.addr = (uintptr_t)addr,
		.ptr = (uintptr_t)snap,
		.npages = npages,
	};
	unsigned long n = 0;

	assert_non_null(snap);
	assert_int_equal(dmirror_snapshot(mirror, &cmd), 0);
	for (unsigned long i = 0; i < npages; i++)
		n += (snap[i] & 0xf0) == HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL;
	free(snap);
	return n;
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

/* Guarded: a sanitizer's memory merged into it would be in reach of the GPU's faults. */
static void *anon(size_t len)
{
	void *p = hmm_map_guarded(len);

	assert_non_null(p);
	return p;
}

/* The default: a device fault is serviced in place, by hmm_range_fault(). */
static void test_fault_maps_in_place(void **state)
{
	struct gpu_fixture *f = *state;
	uint32_t *p = anon(SIZE);
	struct gpu_host_stats before = gpu_fixture_stats(f, 0), after;
	unsigned long faults = 0;
	struct gpu_job *job;

	memset(p, 0xee, SIZE); /* populated: the faults find the pages present */
	assert_int_equal(gpu_launch(f->gpu[0], f->mirror[0], GPU_KERNEL_FILL,
				    (uint64_t[]){ (uintptr_t)p, SIZE / 4, 0x12345678 }, 3, &job),
			 0);
	assert_int_equal(gpu_job_wait(job, &faults), 0);
	assert_true(faults >= 1);
	for (unsigned long i = 0; i < SIZE / 4; i++)
		assert_int_equal(p[i], 0x12345678);
	after = gpu_fixture_stats(f, 0);
	assert_true(after.faults_serviced > before.faults_serviced);
	assert_int_equal(after.migrated_on_fault, before.migrated_on_fault);
	assert_int_equal(count_local(f->mirror[0], p, NPAGES), 0);
	munmap(p, SIZE);
}

/*
 * The window of pages mapped with a fault stays in the fault's mapping:
 * the next mapping up, present but never shown to the device, is neither
 * mapped nor watched (a thread stack there would have its thread's exit
 * wait on the userfaultfd handler).
 */
static void test_fault_window_stays_in_mapping(void **state)
{
	struct gpu_fixture *f = *state;
	const unsigned long n = 4 * HMM_PAGE;
	uint32_t *p = anon(2 * n), *next = p + n / 4;

	memset(p, 0x11, 2 * n);
	assert_int_equal(mprotect(next, n, PROT_READ), 0);
	/* The last page of the lower mapping: its window reaches the upper. */
	assert_int_equal(gpu_run(f->gpu[0], f->mirror[0], GPU_KERNEL_FILL,
				 (uint64_t[]){ (uintptr_t)(next - HMM_PAGE / 4), HMM_PAGE / 4, 7 }, 3),
			 0);
	assert_int_equal(p[n / 4 - 1], 7);
	assert_true(hmm_vma_has_flag(next - HMM_PAGE / 4, "uw")); /* watched: the device maps it */
	assert_false(hmm_vma_has_flag(next, "uw"));
	assert_false(hmm_vma_has_flag(next, "um"));
	munmap(p, 2 * n);
}

static void test_migrate_on_fault(void **state)
{
	struct gpu_fixture *f = *state;
	uint32_t *p = anon(SIZE);
	struct gpu_host_stats before, after;

	assert_int_equal(gpu_host_set_policy(f->gpu[0], GPU_POLICY_MIGRATE_ON_FAULT, 0), 0);
	before = gpu_fixture_stats(f, 0);
	assert_int_equal(gpu_run(f->gpu[0], f->mirror[0], GPU_KERNEL_FILL,
				 (uint64_t[]){ (uintptr_t)p, SIZE / 4, 0xcafef00d }, 3),
			 0);
	after = gpu_fixture_stats(f, 0);
	assert_true(after.migrated_on_fault - before.migrated_on_fault >= NPAGES);
	/* The data is in VRAM, where the kernel wrote it. */
	assert_int_equal(count_local(f->mirror[0], p, NPAGES), NPAGES);
	/* And the CPU reads it home. */
	for (unsigned long i = 0; i < SIZE / 4; i++)
		assert_int_equal(p[i], 0xcafef00d);
	assert_int_equal(count_local(f->mirror[0], p, NPAGES), 0);
	munmap(p, SIZE);
}

/*
 * Only what the device uses moves: the pages of the mapping after the
 * ones the kernel writes, in the same migration block, stay where they
 * are, untouched.
 */
static void test_migrate_on_fault_untouched_stay(void **state)
{
	struct gpu_fixture *f = *state;
	const unsigned long block = 16 * HMM_PAGE, tail = 2 * HMM_PAGE;
	unsigned char *map = anon(SIZE + block), *p;
	struct gpu_host_stats before, after;

	/* A block-aligned buffer, so the last block holds the untouched tail. */
	p = (unsigned char *)(((uintptr_t)map + block - 1) & ~(block - 1));
	memset(p, 0x5a, SIZE);
	assert_int_equal(gpu_host_set_policy(f->gpu[0], GPU_POLICY_MIGRATE_ON_FAULT, 0), 0);
	before = gpu_fixture_stats(f, 0);
	assert_int_equal(gpu_run(f->gpu[0], f->mirror[0], GPU_KERNEL_FILL,
				 (uint64_t[]){ (uintptr_t)p, (SIZE - tail) / 4, 0x01020304 }, 3),
			 0);
	after = gpu_fixture_stats(f, 0);
	assert_true(after.migrated_on_fault - before.migrated_on_fault >= NPAGES - 2);
	assert_int_equal(count_local(f->mirror[0], p, NPAGES - 2), NPAGES - 2);
	assert_int_equal(count_local(f->mirror[0], p + SIZE - tail, 2), 0);
	for (unsigned long i = SIZE - tail; i < SIZE; i++)
		assert_int_equal(p[i], 0x5a);
	for (unsigned long i = 0; i < SIZE - tail; i += 4)
		assert_int_equal(*(uint32_t *)(p + i), 0x01020304);
	munmap(map, SIZE + block);
}

static void test_migrate_on_counter(void **state)
{
	struct gpu_fixture *f = *state;
	unsigned char *p = anon(SIZE);
	uint64_t *sum = anon(HMM_PAGE);
	struct gpu_host_stats before, after;
	uint64_t expect;
	int runs;

	for (unsigned long i = 0; i < SIZE; i++)
		p[i] = (unsigned char)(i * 7 + (i >> 12));
	expect = fnv1a(p, SIZE);
	/* The checksum lives in VRAM from the start: only the input is counted in. */
	assert_int_equal(gpu_migrate(f->mirror[0], sum, HMM_PAGE, 1), 1);
	assert_int_equal(gpu_host_set_policy(f->gpu[0], GPU_POLICY_MIGRATE_ON_COUNTER, 4), 0);
	before = gpu_fixture_stats(f, 0);
	/* Each run reads every page once; the fourth makes them hot. */
	for (runs = 0; runs < 3; runs++)
		assert_int_equal(gpu_run(f->gpu[0], f->mirror[0], GPU_KERNEL_CHECKSUM,
					 (uint64_t[]){ (uintptr_t)p, SIZE, (uintptr_t)sum }, 3),
				 0);
	assert_int_equal(count_local(f->mirror[0], p, NPAGES), 0);
	/*
	 * The migrations follow the notifications on the fault thread, after
	 * the run that crossed the threshold has finished; one that found a
	 * page busy leaves it for the next crossing, four runs on. On a loaded
	 * machine that can take a few rounds.
	 */
	for (; runs < 32 && count_local(f->mirror[0], p, NPAGES) < NPAGES; runs++) {
		assert_int_equal(gpu_run(f->gpu[0], f->mirror[0], GPU_KERNEL_CHECKSUM,
					 (uint64_t[]){ (uintptr_t)p, SIZE, (uintptr_t)sum }, 3),
				 0);
		for (int wait = 0; wait < 100 && count_local(f->mirror[0], p, NPAGES) < NPAGES;
		     wait++)
			usleep(1000);
	}
	after = gpu_fixture_stats(f, 0);
	assert_true(after.counter_notifications > before.counter_notifications);
	assert_true(after.migrated_on_counter - before.migrated_on_counter >= NPAGES);
	assert_int_equal(count_local(f->mirror[0], p, NPAGES), NPAGES);
	/* Once more, on VRAM now, and the result is still the CPU's. */
	assert_int_equal(gpu_run(f->gpu[0], f->mirror[0], GPU_KERNEL_CHECKSUM,
				 (uint64_t[]){ (uintptr_t)p, SIZE, (uintptr_t)sum }, 3),
			 0);
	assert_true(*sum == expect);
	assert_true(fnv1a(p, SIZE) == expect);
	munmap(p, SIZE);
	munmap(sum, HMM_PAGE);
}

/* Bad policies are refused. */
static void test_bad_policy(void **state)
{
	struct gpu_fixture *f = *state;

	assert_int_equal(gpu_host_set_policy(f->gpu[0], 1u << 7, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fault_maps_in_place, gpu_fixture_setup,
						gpu_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_fault_window_stays_in_mapping,
						gpu_fixture_setup, gpu_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_migrate_on_fault, gpu_fixture_setup,
						gpu_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_migrate_on_fault_untouched_stay,
						gpu_fixture_setup, gpu_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_migrate_on_counter, gpu_fixture_setup,
						gpu_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_bad_policy, gpu_fixture_setup,
						gpu_fixture_teardown),
	};

	hmm_require_uffd();
	hmm_skip_under_valgrind();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
