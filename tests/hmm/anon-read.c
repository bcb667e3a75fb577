// SPDX-License-Identifier: MIT
/*
 * Description: a device reads private anonymous memory made read-only,
 * whose first page was never touched (nothing mapped) and second only
 * read (the zero page): one fault, every page read, zeros where nothing
 * was written.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "hmm-fixture.h"

static void test_anon_read(void **state)
{
	struct hmm_fixture *f = *state;
	struct hmm_buffer *buffer = hmm_anon_buffer();
	unsigned long i;
	int *ptr;

	assert_non_null(buffer);
	/* Leave the first two pages zero: pte_none and the zero page. */
	for (i = 2 * HMM_PAGE / sizeof(*ptr), ptr = buffer->ptr; i < HMM_BUFFER_SIZE / sizeof(*ptr);
	     i++)
		ptr[i] = (int)i;
	assert_int_equal(mprotect(buffer->ptr, buffer->size, PROT_READ), 0);
	assert_int_equal(*(volatile int *)((char *)buffer->ptr + HMM_PAGE), 0);

	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_read, buffer, HMM_NPAGES), 0);
	assert_int_equal(buffer->cpages, HMM_NPAGES);
	assert_int_equal(buffer->faults, 1);
	ptr = buffer->mirror;
	for (i = 0; i < 2 * HMM_PAGE / sizeof(*ptr); i++)
		assert_int_equal(ptr[i], 0);
	for (; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		assert_int_equal(ptr[i], (int)i);
	hmm_buffer_free(buffer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_anon_read, hmm_fixture_setup,
						hmm_fixture_teardown),
	};

	hmm_require_uffd();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
