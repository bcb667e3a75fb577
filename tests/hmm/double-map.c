// SPDX-License-Identifier: MIT
/*
 * Description: two devices read the same read-only memory, one fault each;
 * after device 1 migrates it, device 0 reads it again with one fault
 * (the pages come home from device 1) and sees the same data.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "hmm-fixture.h"

static void test_double_map(void **state)
{
	struct hmm_fixture *f = *state;
	struct hmm_buffer *buffer =
		hmm_buffer_new(6 * HMM_PAGE, 6 * HMM_PAGE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1);
	unsigned long i, size = 6 * HMM_PAGE;
	int *ptr;

	assert_non_null(buffer);
	for (i = 0, ptr = buffer->ptr; i < size / sizeof(*ptr); i++)
		ptr[i] = (int)i;
	assert_int_equal(mprotect(buffer->ptr, size, PROT_READ), 0);

	for (int dev = 0; dev < 2; dev++) {
		assert_int_equal(hmm_dmirror_cmd(f->mirror[dev], dmirror_read, buffer, 6), 0);
		assert_int_equal(buffer->cpages, 6);
		assert_int_equal(buffer->faults, 1);
		for (i = 0, ptr = buffer->mirror; i < size / sizeof(*ptr); i++)
			assert_int_equal(ptr[i], (int)i);
	}
	assert_int_equal(hmm_dmirror_cmd(f->mirror[1], dmirror_migrate_to_dev, buffer, 6), 0);
	assert_int_equal(buffer->cpages, 6);

	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_read, buffer, 6), 0);
	assert_int_equal(buffer->cpages, 6);
	assert_int_equal(buffer->faults, 1);
	for (i = 0, ptr = buffer->mirror; i < size / sizeof(*ptr); i++)
		assert_int_equal(ptr[i], (int)i);
	hmm_buffer_free(buffer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_double_map, hmm_fixture_setup,
						hmm_fixture_teardown),
	};

	hmm_require_uffd();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
