// SPDX-License-Identifier: MIT
/*
 * Description: memory migrated to the device, half of it faulted back by
 * CPU reads, migrates to the device again as a whole: the mix of system
 * and device-private pages ends up on the device with the right data.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "hmm-fixture.h"

static void test_migrate_fault(void **state)
{
	struct hmm_fixture *f = *state;
	struct hmm_buffer *buffer = hmm_anon_buffer();
	unsigned long i;
	int *ptr;

	assert_non_null(buffer);
	for (i = 0, ptr = buffer->ptr; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		ptr[i] = (int)i;
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_migrate_to_dev, buffer, HMM_NPAGES),
			 0);
	assert_int_equal(buffer->cpages, HMM_NPAGES);
	for (i = 0, ptr = buffer->mirror; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		assert_int_equal(ptr[i], (int)i);

	/* Half comes home. */
	for (i = 0, ptr = buffer->ptr; i < HMM_BUFFER_SIZE / (2 * sizeof(*ptr)); i++)
		assert_int_equal(ptr[i], (int)i);

	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_migrate_to_dev, buffer, HMM_NPAGES),
			 0);
	assert_int_equal(buffer->cpages, HMM_NPAGES);
	for (i = 0, ptr = buffer->mirror; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		assert_int_equal(ptr[i], (int)i);
	for (i = 0, ptr = buffer->ptr; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		assert_int_equal(ptr[i], (int)i);
	hmm_buffer_free(buffer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_migrate_fault, hmm_fixture_setup,
						hmm_fixture_teardown),
	};

	hmm_require_uffd();
	hmm_skip_under_valgrind();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
