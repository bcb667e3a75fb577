// SPDX-License-Identifier: MIT
/*
 * Description: a fork while pages are on the device: the fork brings them
 * home first (pthread_atfork), the child sees the data, and the parent's
 * writes afterwards go to pages of its own, mapped writable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <sys/wait.h>

#include "hmm-fixture.h"

#define NPAGES 4

static void test_cow_in_device(void **state)
{
	struct hmm_fixture *f = *state;
	unsigned long i, size = NPAGES * HMM_PAGE;
	struct hmm_buffer *buffer =
		hmm_buffer_new(size, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	int *ptr, status, pipefd[2];
	unsigned char *m;
	pid_t pid;
	char c;

	assert_non_null(buffer);
	for (i = 0, ptr = buffer->ptr; i < size / sizeof(*ptr); i++)
		ptr[i] = (int)i;
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_migrate_to_dev, buffer, NPAGES), 0);
	assert_int_equal(buffer->cpages, NPAGES);
	assert_int_equal(pipe(pipefd), 0);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int bad = 0;

		for (i = 0, ptr = buffer->ptr; i < size / sizeof(*ptr); i++)
			bad |= ptr[i] != (int)i;
		c = bad ? 'x' : 'k';
		if (write(pipefd[1], &c, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	/* The parent writes its copy-on-write pages: new pages of its own. */
	for (i = 0, ptr = buffer->ptr; i < size / sizeof(*ptr); i++)
		ptr[i] = (int)i;
	assert_int_equal(read(pipefd[0], &c, 1), 1);
	assert_int_equal(c, 'k');
	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGTERM);

	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_snapshot, buffer, NPAGES), 0);
	assert_int_equal(buffer->cpages, NPAGES);
	m = buffer->mirror;
	for (i = 0; i < NPAGES; i++)
		assert_int_equal(m[i], HMM_DMIRROR_PROT_WRITE);
	close(pipefd[0]);
	close(pipefd[1]);
	hmm_buffer_free(buffer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cow_in_device, hmm_fixture_setup,
						hmm_fixture_teardown),
	};

	hmm_require_uffd();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
