// SPDX-License-Identifier: MIT
/*
 * Description: after memory made device-exclusive is made read-only (with
 * hmm_mprotect(), which tells the mirrors), a device write fails with
 * -EPERM.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <hetmem/hmm.h>

#include "hmm-fixture.h"

static void test_exclusive_mprotect(void **state)
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

	assert_int_equal(hmm_mprotect(buffer->ptr, buffer->size, PROT_READ), 0);
	/* The mirror dropped its atomic mappings with the protection change. */
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_check_exclusive, buffer, HMM_NPAGES),
			 0);
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_write, buffer, HMM_NPAGES), -EPERM);
	hmm_buffer_free(buffer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exclusive_mprotect, hmm_fixture_setup,
						hmm_fixture_teardown),
	};

	hmm_require_uffd();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
