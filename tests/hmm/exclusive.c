// SPDX-License-Identifier: MIT
/*
 * Description: memory made device-exclusive reads back right; CPU writes
 * to it revoke the exclusive access page by page and land; afterwards the
 * device holds no atomic mapping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "hmm-fixture.h"

static void test_exclusive(void **state)
{
	struct hmm_fixture *f = *state;
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

	for (i = 0, ptr = buffer->ptr; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		assert_int_equal(ptr[i]++, (int)i);
	for (i = 0, ptr = buffer->ptr; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		assert_int_equal(ptr[i], (int)i + 1);

	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_check_exclusive, buffer, HMM_NPAGES),
			 0);
	hmm_buffer_free(buffer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exclusive, hmm_fixture_setup,
						hmm_fixture_teardown),
	};

	hmm_require_uffd();
	hmm_skip_under_valgrind();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
