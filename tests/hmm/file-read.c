// SPDX-License-Identifier: MIT
/*
 * Description: a device reads a read-only shared mapping of a file: one
 * fault, the file's contents.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "hmm-fixture.h"

static void test_file_read(void **state)
{
	struct hmm_fixture *f = *state;
	int fd = hmm_create_file(HMM_BUFFER_SIZE);
	struct hmm_buffer *buffer;
	unsigned long i;
	int *ptr, *data = malloc(HMM_BUFFER_SIZE);

	assert_true(fd >= 0);
	assert_non_null(data);
	for (i = 0; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		data[i] = (int)i;
	assert_int_equal(pwrite(fd, data, HMM_BUFFER_SIZE, 0), HMM_BUFFER_SIZE);
	free(data);
	buffer = hmm_buffer_new(HMM_BUFFER_SIZE, HMM_BUFFER_SIZE, PROT_READ, MAP_SHARED, fd);
	assert_non_null(buffer);
	memset(buffer->mirror, 0, HMM_BUFFER_SIZE);

	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_read, buffer, HMM_NPAGES), 0);
	assert_int_equal(buffer->cpages, HMM_NPAGES);
	assert_int_equal(buffer->faults, 1);
	for (i = 0, ptr = buffer->mirror; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		assert_int_equal(ptr[i], (int)i);
	hmm_buffer_free(buffer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_file_read, hmm_fixture_setup,
						hmm_fixture_teardown),
	};

	hmm_require_uffd();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
