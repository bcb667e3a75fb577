// SPDX-License-Identifier: MIT
/*
 * Description: device-exclusive access and snapshots on the GPU. Pages
 * made exclusive are read back by the GPU and stay exclusive until
 * something writes them: a CPU write revokes the exclusivity, and so does
 * a GPU atomic (the driver maps exclusive pages read-only; the atomic's
 * fault revokes and maps them writable), whose results are exact. A
 * snapshot reports the same per-page protection codes as the kernel's
 * test device.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "gpu-fixture.h"

static void test_exclusive_cpu_write(void **state)
{
	struct gpu_fixture *f = *state;
	struct hmm_buffer *buffer = hmm_anon_buffer();
	unsigned long i;
	int *ptr;

	assert_non_null(buffer);
	for (i = 0, ptr = buffer->ptr; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		ptr[i] = (int)i;
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_exclusive, buffer, HMM_NPAGES), 0);
	assert_int_equal(buffer->cpages, HMM_NPAGES);
	for (i = 0, ptr = buffer->mirror; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		assert_int_equal(ptr[i], (int)i);
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_check_exclusive, buffer, HMM_NPAGES),
			 -EPERM);

	for (i = 0, ptr = buffer->ptr; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		ptr[i]++;
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_check_exclusive, buffer, HMM_NPAGES),
			 0);
	/* The GPU reads what the CPU wrote. */
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_read, buffer, HMM_NPAGES), 0);
	for (i = 0, ptr = buffer->mirror; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		assert_int_equal(ptr[i], (int)i + 1);
	hmm_buffer_free(buffer);
}

static void test_exclusive_gpu_atomic(void **state)
{
	struct gpu_fixture *f = *state;
	struct hmm_buffer *buffer = hmm_anon_buffer();
	unsigned long n = HMM_BUFFER_SIZE / sizeof(uint64_t), faults = 0;
	struct gpu_job *job;
	uint64_t *p;

	assert_non_null(buffer);
	p = buffer->ptr;
	for (unsigned long i = 0; i < n; i++)
		p[i] = i;
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_exclusive, buffer, HMM_NPAGES), 0);
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_check_exclusive, buffer, HMM_NPAGES),
			 -EPERM);
	assert_int_equal(gpu_launch(f->gpu[0], f->mirror[0], GPU_KERNEL_ATOMIC_ADD,
				    (uint64_t[]){ (uintptr_t)p, n, 7 }, 3, &job),
			 0);
	assert_int_equal(gpu_job_wait(job, &faults), 0);
	/* The atomics faulted on the read-only exclusive mapping, which revoked it. */
	assert_true(faults >= 1);
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_check_exclusive, buffer, HMM_NPAGES),
			 0);
	for (unsigned long i = 0; i < n; i++)
		assert_int_equal(p[i], i + 7);
	hmm_buffer_free(buffer);
}

/* The kernel test's snapshot, on the GPU: one protection code per page. */
static void test_snapshot(void **state)
{
	struct gpu_fixture *f = *state;
	struct hmm_buffer *buffer =
		hmm_buffer_new(7 * HMM_PAGE, 7, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	unsigned char *p, *m;
	int *ptr, val;

	assert_non_null(buffer);
	p = buffer->ptr;
	assert_int_equal(munmap(p + HMM_PAGE, HMM_PAGE), 0);
	assert_int_equal(mprotect(p + 2 * HMM_PAGE, HMM_PAGE, PROT_READ), 0);
	val = *(volatile int *)(p + 2 * HMM_PAGE) + 3;
	assert_int_equal(mprotect(p + 3 * HMM_PAGE, HMM_PAGE, PROT_READ | PROT_WRITE), 0);
	*(int *)(p + 3 * HMM_PAGE) = val;
	assert_int_equal(mprotect(p + 3 * HMM_PAGE, HMM_PAGE, PROT_READ), 0);
	assert_int_equal(mprotect(p + 4 * HMM_PAGE, 3 * HMM_PAGE, PROT_READ | PROT_WRITE), 0);
	ptr = (int *)(p + 4 * HMM_PAGE);
	*ptr = val;

	/* Page 5 to gpu0, page 6 to gpu1. */
	buffer->ptr = p + 5 * HMM_PAGE;
	free(buffer->mirror);
	buffer->mirror = malloc(HMM_PAGE);
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_migrate_to_dev, buffer, 1), 0);
	assert_int_equal(buffer->cpages, 1);
	buffer->ptr = p + 6 * HMM_PAGE;
	assert_int_equal(hmm_dmirror_cmd(f->mirror[1], dmirror_migrate_to_dev, buffer, 1), 0);
	assert_int_equal(buffer->cpages, 1);

	buffer->ptr = p;
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_snapshot, buffer, 7), 0);
	assert_int_equal(buffer->cpages, 7);
	m = buffer->mirror;
	assert_int_equal(m[0], HMM_DMIRROR_PROT_ERROR);
	assert_int_equal(m[1], HMM_DMIRROR_PROT_ERROR);
	assert_int_equal(m[2], HMM_DMIRROR_PROT_ZERO | HMM_DMIRROR_PROT_READ);
	assert_int_equal(m[3], HMM_DMIRROR_PROT_READ);
	assert_int_equal(m[4], HMM_DMIRROR_PROT_WRITE);
	assert_int_equal(m[5], HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL | HMM_DMIRROR_PROT_WRITE);
	assert_int_equal(m[6], HMM_DMIRROR_PROT_NONE);
	/* From gpu1's side the two trade places: another owner's device page reads as absent. */
	assert_int_equal(hmm_dmirror_cmd(f->mirror[1], dmirror_snapshot, buffer, 7), 0);
	assert_int_equal(m[5], HMM_DMIRROR_PROT_NONE);
	assert_int_equal(m[6], HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL | HMM_DMIRROR_PROT_WRITE);
	hmm_buffer_free(buffer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exclusive_cpu_write, gpu_fixture_setup,
						gpu_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_exclusive_gpu_atomic, gpu_fixture_setup,
						gpu_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_snapshot, gpu_fixture_setup,
						gpu_fixture_teardown),
	};

	hmm_require_uffd();
	hmm_skip_under_valgrind();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
