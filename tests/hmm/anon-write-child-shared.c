// SPDX-License-Identifier: MIT
/*
 * Description: after a fork, a device mirroring the child through a
 * shared mapping
 * writes the memory both share: the parent sees the device's data.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <sys/wait.h>

#include "hmm-fixture.h"

static void test_anon_write_child_shared(void **state)
{
	struct hmm_fixture *f = *state;
	struct hmm_buffer *buffer =
		hmm_buffer_new(HMM_BUFFER_SIZE, HMM_BUFFER_SIZE, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1);
	unsigned long i;
	int *ptr, status;
	pid_t pid;

	assert_non_null(buffer);
	for (i = 0, ptr = buffer->ptr; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		ptr[i] = (int)i;
	for (i = 0, ptr = buffer->mirror; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		ptr[i] = -(int)i;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct dmirror *child;
		int bad = 0;

		/* The child mirrors its own address space, as with a new open(). */
		for (i = 0, ptr = buffer->ptr; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
			bad |= ptr[i] != (int)i;
		child = dmirror_open(f->dev[0]);
		if (IS_ERR(child))
			_exit(2);
		if (hmm_dmirror_cmd(child, dmirror_write, buffer, HMM_NPAGES) ||
		    buffer->cpages != HMM_NPAGES || buffer->faults != 1)
			_exit(3);
		for (i = 0, ptr = buffer->ptr; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
			bad |= ptr[i] != -(int)i;
		_exit(bad ? 4 : 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	for (i = 0, ptr = buffer->ptr; i < HMM_BUFFER_SIZE / sizeof(*ptr); i++)
		assert_int_equal(ptr[i], -(int)i);
	hmm_buffer_free(buffer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_anon_write_child_shared, hmm_fixture_setup,
						hmm_fixture_teardown),
	};

	hmm_require_uffd();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
