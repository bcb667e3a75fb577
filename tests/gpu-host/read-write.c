// SPDX-License-Identifier: MIT
/*
 * Description: the GPU reads and writes process memory through its MMU
 * (the test device's read and write commands are copy-engine transfers):
 * pages it lacks are device faults serviced from the fault buffer with
 * hmm_range_fault(), never-touched pages read as zeros, a write lands in
 * the process's memory, a write to read-only memory is refused with
 * -EPERM and a read of unmapped memory with -EFAULT.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "gpu-fixture.h"

/* Reading: one fault per window of present pages, zeros where nothing was written. */
static void test_read(void **state)
{
	struct gpu_fixture *f = *state;
	struct hmm_buffer *buffer = hmm_anon_buffer();
	struct gpu_host_stats before = gpu_fixture_stats(f, 0), after;
	unsigned long i;
	int *ptr;

	assert_non_null(buffer);
	for (i = 2 * HMM_PAGE / sizeof(*ptr), ptr = buffer->ptr; i < HMM_BUFFER_SIZE / sizeof(*ptr);
	     i++)
		ptr[i] = (int)i;
	assert_int_equal(mprotect(buffer->ptr, buffer->size, PROT_READ), 0);
	assert_int_equal(*(volatile int *)((char *)buffer->ptr + HMM_PAGE), 0);

	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_read, buffer, HMM_NPAGES), 0);
	assert_int_equal(buffer->cpages, HMM_NPAGES);
	/* A window of 16 present pages maps at once: at most one fault per window. */
	assert_true(buffer->faults >= 1 && buffer->faults <= HMM_NPAGES / 16 + 2);
	ptr = buffer->mirror;
	for (i = 0; i < 2 * HMM_PAGE / sizeof(*ptr); i++)
		assert_int_equal(ptr[i], 0);
	for (; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		assert_int_equal(ptr[i], (int)i);
	after = gpu_fixture_stats(f, 0);
	assert_true(after.faults > before.faults);
	assert_true(after.pages_mapped - before.pages_mapped >= HMM_NPAGES);

	/* Everything is mapped now: a second read faults no more. */
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_read, buffer, HMM_NPAGES), 0);
	assert_int_equal(buffer->faults, 0);
	hmm_buffer_free(buffer);
}

/* Writing: the data is in the process's memory, read back by the CPU. */
static void test_write(void **state)
{
	struct gpu_fixture *f = *state;
	struct hmm_buffer *buffer = hmm_anon_buffer();
	unsigned long i;
	int *ptr;

	assert_non_null(buffer);
	for (i = 0, ptr = buffer->mirror; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		ptr[i] = (int)(i * 3);
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_write, buffer, HMM_NPAGES), 0);
	assert_int_equal(buffer->cpages, HMM_NPAGES);
	assert_true(buffer->faults >= 1);
	for (i = 0, ptr = buffer->ptr; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		assert_int_equal(ptr[i], (int)(i * 3));
	hmm_buffer_free(buffer);
}

/* A write to read-only memory: the fault is cancelled, -EPERM, nothing written. */
static void test_write_prot(void **state)
{
	struct gpu_fixture *f = *state;
	struct hmm_buffer *buffer = hmm_buffer_new(HMM_PAGE * 4, HMM_PAGE * 4, PROT_READ,
						   MAP_PRIVATE | MAP_ANONYMOUS, -1);
	struct gpu_host_stats before = gpu_fixture_stats(f, 0);
	int *ptr;

	assert_non_null(buffer);
	memset(buffer->mirror, 0x5a, HMM_PAGE * 4);
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_write, buffer, 4), -EPERM);
	assert_true(gpu_fixture_stats(f, 0).faults_cancelled > before.faults_cancelled);
	for (ptr = buffer->ptr; ptr < (int *)((char *)buffer->ptr + 4 * HMM_PAGE); ptr++)
		assert_int_equal(*ptr, 0);

	/* Made writable, through hmm_mprotect() so the GPU hears of it: it works. */
	assert_int_equal(hmm_mprotect(buffer->ptr, buffer->size, PROT_READ | PROT_WRITE), 0);
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_write, buffer, 4), 0);
	for (ptr = buffer->ptr; ptr < (int *)((char *)buffer->ptr + 4 * HMM_PAGE); ptr++)
		assert_int_equal(*ptr, 0x5a5a5a5a);
	hmm_buffer_free(buffer);
}

/* Unmapped memory: -EFAULT, and the GPU goes on with the next command. */
static void test_read_unmapped(void **state)
{
	struct gpu_fixture *f = *state;
	struct hmm_buffer *buffer = hmm_anon_buffer();

	assert_non_null(buffer);
	memset(buffer->ptr, 1, HMM_BUFFER_SIZE);
	assert_int_equal(munmap((char *)buffer->ptr + HMM_BUFFER_SIZE / 2, HMM_BUFFER_SIZE / 2), 0);
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_read, buffer, HMM_NPAGES), -EFAULT);
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_read, buffer, HMM_NPAGES / 2), 0);
	assert_int_equal(((char *)buffer->mirror)[HMM_BUFFER_SIZE / 2 - 1], 1);
	buffer->size = HMM_BUFFER_SIZE / 2;
	hmm_buffer_free(buffer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read, gpu_fixture_setup, gpu_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_write, gpu_fixture_setup, gpu_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_write_prot, gpu_fixture_setup,
						gpu_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_read_unmapped, gpu_fixture_setup,
						gpu_fixture_teardown),
	};

	hmm_require_uffd();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
