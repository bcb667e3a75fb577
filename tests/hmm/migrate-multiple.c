// SPDX-License-Identifier: MIT
/*
 * Description: ten round trips: fresh memory migrates to the device and
 * comes back through CPU faults, every time with the right data.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "hmm-fixture.h"

static void test_migrate_multiple(void **state)
{
	struct hmm_fixture *f = *state;

	for (unsigned long c = 0; c < NTIMES; c++) {
		struct hmm_buffer *buffer = hmm_anon_buffer();
		unsigned long i;
		int *ptr;

		assert_non_null(buffer);
		for (i = 0, ptr = buffer->ptr; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
			ptr[i] = (int)i;
		assert_int_equal(
			hmm_dmirror_cmd(f->mirror[0], dmirror_migrate_to_dev, buffer, HMM_NPAGES),
			0);
		assert_int_equal(buffer->cpages, HMM_NPAGES);
		for (i = 0, ptr = buffer->mirror; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
			assert_int_equal(ptr[i], (int)i);
		for (i = 0, ptr = buffer->ptr; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
			assert_int_equal(ptr[i], (int)i);
		hmm_buffer_free(buffer);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_migrate_multiple, hmm_fixture_setup,
						hmm_fixture_teardown),
	};

	hmm_require_uffd();
	hmm_skip_under_valgrind();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
