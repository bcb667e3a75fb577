// SPDX-License-Identifier: MIT
/*
 * Description: a device writes a hugetlbfs page: one fault, all of it
 * written. Skipped when no huge page can be had.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "hmm-fixture.h"

static void test_anon_write_hugetlbfs(void **state)
{
	struct hmm_fixture *f = *state;
	unsigned long size = 2UL << 20, i;
	struct hmm_buffer *buffer = hmm_buffer_new(size, size, PROT_READ | PROT_WRITE,
						   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1);
	int *ptr;

	if (!buffer)
		skip();
	for (i = 0, ptr = buffer->mirror; i < size / sizeof(*ptr); i++)
		ptr[i] = (int)i;
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_write, buffer, size / HMM_PAGE), 0);
	assert_int_equal(buffer->cpages, size / HMM_PAGE);
	assert_int_equal(buffer->faults, 1);
	for (i = 0, ptr = buffer->ptr; i < size / sizeof(*ptr); i++)
		assert_int_equal(ptr[i], (int)i);
	hmm_buffer_free(buffer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_anon_write_hugetlbfs, hmm_fixture_setup,
						hmm_fixture_teardown),
	};

	hmm_require_uffd();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
