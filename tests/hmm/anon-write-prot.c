// SPDX-License-Identifier: MIT
/*
 * Description: a device write to read-only memory fails with -EPERM and
 * changes nothing (a device read of it still works, through the zero
 * page); once the memory is made writable the same write goes through.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "hmm-fixture.h"

static void test_anon_write_prot(void **state)
{
	struct hmm_fixture *f = *state;
	struct hmm_buffer *buffer = hmm_buffer_new(HMM_BUFFER_SIZE, HMM_BUFFER_SIZE, PROT_READ,
						   MAP_PRIVATE | MAP_ANONYMOUS, -1);
	unsigned long i;
	int *ptr;

	assert_non_null(buffer);
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_read, buffer, 1), 0);
	assert_int_equal(buffer->cpages, 1);
	assert_int_equal(buffer->faults, 1);

	for (i = 0, ptr = buffer->mirror; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		ptr[i] = (int)i;
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_write, buffer, HMM_NPAGES), -EPERM);
	for (i = 0, ptr = buffer->ptr; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		assert_int_equal(ptr[i], 0);

	/* Writable now: the zero page gives way to a page of its own. */
	assert_int_equal(mprotect(buffer->ptr, buffer->size, PROT_READ | PROT_WRITE), 0);
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_write, buffer, HMM_NPAGES), 0);
	assert_int_equal(buffer->cpages, HMM_NPAGES);
	assert_int_equal(buffer->faults, 1);
	for (i = 0, ptr = buffer->ptr; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		assert_int_equal(ptr[i], (int)i);
	hmm_buffer_free(buffer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_anon_write_prot, hmm_fixture_setup,
						hmm_fixture_teardown),
	};

	hmm_require_uffd();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
