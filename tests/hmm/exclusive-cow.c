// SPDX-License-Identifier: MIT
/*
 * Description: memory made device-exclusive, then shared with a fork
 * child: the child's writes go to its own copy, the parent's writes
 * revoke exclusive access and go to its own; each sees its values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <sys/wait.h>

#include "hmm-fixture.h"

static void test_exclusive_cow(void **state)
{
	struct hmm_fixture *f = *state;
	struct hmm_buffer *buffer = hmm_anon_buffer();
	unsigned long i;
	int *ptr, status;
	pid_t pid;

	assert_non_null(buffer);
	for (i = 0, ptr = buffer->ptr; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		ptr[i] = (int)i;
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_exclusive, buffer, HMM_NPAGES), 0);
	assert_int_equal(buffer->cpages, HMM_NPAGES);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int bad = 0;

		for (i = 0, ptr = buffer->ptr; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
			bad |= ptr[i]++ != (int)i;
		for (i = 0, ptr = buffer->ptr; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
			bad |= ptr[i] != (int)i + 1;
		_exit(bad);
	}
	for (i = 0, ptr = buffer->ptr; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		assert_int_equal(ptr[i]++, (int)i);
	for (i = 0, ptr = buffer->ptr; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		assert_int_equal(ptr[i], (int)i + 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	hmm_buffer_free(buffer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exclusive_cow, hmm_fixture_setup,
						hmm_fixture_teardown),
	};

	hmm_require_uffd();
	hmm_skip_under_valgrind();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
