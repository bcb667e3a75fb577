// SPDX-License-Identifier: MIT
/*
 * Description: a private mapping of a file is not migrated. The kernel
 * migrates its copied-on-write pages; userfaultfd cannot register a
 * file-backed mapping for missing pages, so hetmem collects none of it:
 * the device holds nothing (-ENOENT) and the memory is intact.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "hmm-fixture.h"

static void test_migrate_file_private(void **state)
{
	struct hmm_fixture *f = *state;
	int fd = hmm_create_file(HMM_BUFFER_SIZE);
	struct hmm_buffer *buffer;
	unsigned long i;
	int *ptr;

	assert_true(fd >= 0);
	buffer = hmm_buffer_new(HMM_BUFFER_SIZE, HMM_BUFFER_SIZE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE, fd);
	assert_non_null(buffer);
	for (i = 0, ptr = buffer->ptr; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		ptr[i] = (int)i;

	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_migrate_to_dev, buffer, HMM_NPAGES),
			 -ENOENT);
	for (i = 0, ptr = buffer->ptr; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		assert_int_equal(ptr[i], (int)i);
	hmm_buffer_free(buffer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_migrate_file_private, hmm_fixture_setup,
						hmm_fixture_teardown),
	};

	hmm_require_uffd();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
