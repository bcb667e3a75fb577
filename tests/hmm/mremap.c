// SPDX-License-Identifier: MIT
/*
 * Description: memory whose pages are on a device moves with mremap():
 * the device-private entries follow it (REMAP event), the CPU reads every
 * value at the new address, and the old address holds nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "hmm-fixture.h"

static void test_mremap(void **state)
{
	struct hmm_fixture *f = *state;
	struct hmm_buffer *buffer = hmm_anon_buffer();
	unsigned long i;
	void *hole;
	int *ptr;

	assert_non_null(buffer);
	for (i = 0, ptr = buffer->ptr; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		ptr[i] = (int)i;
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_migrate_to_dev, buffer, HMM_NPAGES),
			 0);
	assert_int_equal(buffer->cpages, HMM_NPAGES);

	/* Somewhere free to move to. */
	hole = mmap(NULL, HMM_BUFFER_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(hole != MAP_FAILED);
	ptr = mremap(buffer->ptr, HMM_BUFFER_SIZE, HMM_BUFFER_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED,
		     hole);
	assert_ptr_equal(ptr, hole);
	buffer->ptr = ptr;
	for (i = 0; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		assert_int_equal(ptr[i], (int)i);

	/* The device reads them at their new address too. */
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_read, buffer, HMM_NPAGES), 0);
	for (i = 0, ptr = buffer->mirror; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		assert_int_equal(ptr[i], (int)i);
	hmm_buffer_free(buffer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mremap, hmm_fixture_setup,
						hmm_fixture_teardown),
	};

	hmm_require_uffd();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
