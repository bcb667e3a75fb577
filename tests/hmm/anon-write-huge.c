// SPDX-License-Identifier: MIT
/*
 * Description: a device writes a 2 MiB region advised for transparent huge
 * pages: one fault, all of it written.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "hmm-fixture.h"

#define TWOMEG (2UL << 20)

static void test_anon_write_huge(void **state)
{
	struct hmm_fixture *f = *state;
	struct hmm_buffer *buffer = hmm_buffer_new(2 * TWOMEG, TWOMEG, PROT_READ | PROT_WRITE,
						   MAP_PRIVATE | MAP_ANONYMOUS, -1);
	void *old_ptr, *map;
	unsigned long i;
	int *ptr;

	assert_non_null(buffer);
	map = (void *)(((uintptr_t)buffer->ptr + TWOMEG - 1) & ~(TWOMEG - 1));
	assert_int_equal(madvise(map, TWOMEG, MADV_HUGEPAGE), 0);
	old_ptr = buffer->ptr;
	buffer->ptr = map;
	for (i = 0, ptr = buffer->mirror; i < TWOMEG / sizeof(*ptr); i++)
		ptr[i] = (int)i;

	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_write, buffer, TWOMEG / HMM_PAGE),
			 0);
	assert_int_equal(buffer->cpages, TWOMEG / HMM_PAGE);
	assert_int_equal(buffer->faults, 1);
	for (i = 0, ptr = buffer->ptr; i < TWOMEG / sizeof(*ptr); i++)
		assert_int_equal(ptr[i], (int)i);
	buffer->ptr = old_ptr;
	hmm_buffer_free(buffer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_anon_write_huge, hmm_fixture_setup,
						hmm_fixture_teardown),
	};

	hmm_require_uffd();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
