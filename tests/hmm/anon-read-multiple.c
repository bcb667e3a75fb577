// SPDX-License-Identifier: MIT
/*
 * Description: ten times over, a device reads freshly written anonymous
 * memory with one fault and sees every value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "hmm-fixture.h"

static void test_anon_read_multiple(void **state)
{
	struct hmm_fixture *f = *state;

	for (unsigned long c = 0; c < NTIMES; c++) {
		struct hmm_buffer *buffer = hmm_anon_buffer();
		unsigned long i;
		int *ptr;

		assert_non_null(buffer);
		for (i = 0, ptr = buffer->ptr; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
			ptr[i] = (int)(i + c);
		assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_read, buffer, HMM_NPAGES),
				 0);
		assert_int_equal(buffer->cpages, HMM_NPAGES);
		assert_int_equal(buffer->faults, 1);
		for (i = 0, ptr = buffer->mirror; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
			assert_int_equal(ptr[i], (int)(i + c));
		hmm_buffer_free(buffer);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_anon_read_multiple, hmm_fixture_setup,
						hmm_fixture_teardown),
	};

	hmm_require_uffd();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
