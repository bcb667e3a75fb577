/* SPDX-License-Identifier: MIT */
/*
 * The fork-then-write scenario both anon-write-child tests run: the parent
 * fills a buffer, forks, and the child's own mirror writes it. Through a
 * private mapping the child writes a copy and the parent keeps its data;
 * through a shared one the parent sees the device's writes.
 */
#ifndef HETMEM_TESTS_HMM_WRITE_CHILD_H
#define HETMEM_TESTS_HMM_WRITE_CHILD_H

#include <stdbool.h>
#include <sys/wait.h>

#include "hmm-fixture.h"

static void hmm_write_child(struct hmm_fixture *f, bool shared)
{
	struct hmm_buffer *buffer =
		hmm_buffer_new(HMM_BUFFER_SIZE, HMM_BUFFER_SIZE, PROT_READ | PROT_WRITE,
			       (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1);
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
		assert_int_equal(ptr[i], shared ? -(int)i : (int)i);
	hmm_buffer_free(buffer);
}

#endif /* HETMEM_TESTS_HMM_WRITE_CHILD_H */
