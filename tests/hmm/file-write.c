// SPDX-License-Identifier: MIT
/*
 * Description: a device writes a shared mapping of a file: one fault, the
 * CPU sees the data, and so does the file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "hmm-fixture.h"

static void test_file_write(void **state)
{
	struct hmm_fixture *f = *state;
	int fd = hmm_create_file(HMM_BUFFER_SIZE);
	struct hmm_buffer *buffer;
	unsigned long i;
	int *ptr;

	assert_true(fd >= 0);
	buffer = hmm_buffer_new(HMM_BUFFER_SIZE, HMM_BUFFER_SIZE, PROT_READ | PROT_WRITE,
				MAP_SHARED, fd);
	assert_non_null(buffer);
	for (i = 0, ptr = buffer->mirror; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		ptr[i] = (int)i;

	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_write, buffer, HMM_NPAGES), 0);
	assert_int_equal(buffer->cpages, HMM_NPAGES);
	assert_int_equal(buffer->faults, 1);
	for (i = 0, ptr = buffer->ptr; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		assert_int_equal(ptr[i], (int)i);
	assert_int_equal(pread(fd, buffer->mirror, HMM_BUFFER_SIZE, 0), HMM_BUFFER_SIZE);
	for (i = 0, ptr = buffer->mirror; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		assert_int_equal(ptr[i], (int)i);
	hmm_buffer_free(buffer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_file_write, hmm_fixture_setup,
						hmm_fixture_teardown),
	};

	hmm_require_uffd();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
