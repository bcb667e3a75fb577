// SPDX-License-Identifier: MIT
/*
 * Description: migrating a range that is not all readable memory fails
 * with -EINVAL (PROT_NONE; a hole); a range mixing a zero page, a
 * read-only page and read-write pages migrates whole to device 1; a page
 * on device 1 is not migrated to device 0 (-ENOENT).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "hmm-fixture.h"

static void test_migrate_mixed(void **state)
{
	struct hmm_fixture *f = *state;
	struct hmm_buffer *buffer = hmm_buffer_new(6 * HMM_PAGE, 6 * HMM_PAGE, PROT_NONE,
						   MAP_PRIVATE | MAP_ANONYMOUS, -1);
	unsigned char *p;
	int *ptr, val;

	assert_non_null(buffer);
	p = buffer->ptr;
	assert_int_equal(hmm_dmirror_cmd(f->mirror[1], dmirror_migrate_to_dev, buffer, 6), -EINVAL);

	/* A hole after the first page. */
	assert_int_equal(munmap(p + HMM_PAGE, HMM_PAGE), 0);
	assert_int_equal(hmm_dmirror_cmd(f->mirror[1], dmirror_migrate_to_dev, buffer, 3), -EINVAL);

	/* Page 2: the zero page, read-only. */
	assert_int_equal(mprotect(p + 2 * HMM_PAGE, HMM_PAGE, PROT_READ), 0);
	ptr = (int *)(p + 2 * HMM_PAGE);
	val = *(volatile int *)ptr + 3;
	assert_int_equal(val, 3);

	/* Page 3: written, then read-only. */
	assert_int_equal(mprotect(p + 3 * HMM_PAGE, HMM_PAGE, PROT_READ | PROT_WRITE), 0);
	ptr = (int *)(p + 3 * HMM_PAGE);
	*ptr = val;
	assert_int_equal(mprotect(p + 3 * HMM_PAGE, HMM_PAGE, PROT_READ), 0);

	/* Pages 4 and 5: read-write. */
	assert_int_equal(mprotect(p + 4 * HMM_PAGE, 2 * HMM_PAGE, PROT_READ | PROT_WRITE), 0);
	*(int *)(p + 4 * HMM_PAGE) = val;
	*(int *)(p + 5 * HMM_PAGE) = val;

	buffer->ptr = p + 2 * HMM_PAGE;
	assert_int_equal(hmm_dmirror_cmd(f->mirror[1], dmirror_migrate_to_dev, buffer, 4), 0);
	assert_int_equal(buffer->cpages, 4);

	/* Page 5 stays on device 1. */
	buffer->ptr = p + 5 * HMM_PAGE;
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_migrate_to_dev, buffer, 1), -ENOENT);

	/* Bring them home through the CPU: the data is intact. */
	assert_int_equal(*(volatile int *)(p + 2 * HMM_PAGE), 0);
	assert_int_equal(*(volatile int *)(p + 3 * HMM_PAGE), 3);
	assert_int_equal(*(volatile int *)(p + 4 * HMM_PAGE), 3);
	assert_int_equal(*(volatile int *)(p + 5 * HMM_PAGE), 3);
	munmap(p, HMM_PAGE);
	buffer->ptr = p + 2 * HMM_PAGE;
	buffer->size = 4 * HMM_PAGE;
	hmm_buffer_free(buffer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_migrate_mixed, hmm_fixture_setup,
						hmm_fixture_teardown),
	};

	hmm_require_uffd();
	hmm_skip_under_valgrind();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
