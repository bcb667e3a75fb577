// SPDX-License-Identifier: MIT
/*
 * Description: the fault handler thread's own stack is not memory a device
 * may mirror. A device read of it is refused with -EFAULT and leaves it
 * unregistered; had it been registered, the thread's exit (the C library
 * discards an exiting thread's stack with MADV_DONTNEED) would wait for a
 * REMOVE event only that thread can read, and the context's teardown would
 * hang.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <time.h>

#include "hmm-fixture.h"

/* The stack pointer of the thread named @comm, read while it sleeps in a system call. */
static unsigned long thread_sp(const char *comm)
{
	for (int tries = 0; tries < 1000; tries++) {
		struct timespec t = { .tv_nsec = 1000000 };
		DIR *dir = opendir("/proc/self/task");
		struct dirent *de;
		unsigned long sp = 0;

		assert_non_null(dir);
		while (!sp && (de = readdir(dir))) {
			char path[300], name[32] = "", line[256];
			unsigned long v[8];
			FILE *f;

			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/proc/self/task/%s/comm", de->d_name);
			f = fopen(path, "r");
			if (!f)
				continue;
			if (!fgets(name, sizeof(name), f))
				name[0] = '\0';
			fclose(f);
			name[strcspn(name, "\n")] = '\0';
			if (strcmp(name, comm))
				continue;
			/* "nr arg1 ... arg6 sp pc" while blocked, "running" otherwise. */
			snprintf(path, sizeof(path), "/proc/self/task/%s/syscall", de->d_name);
			f = fopen(path, "r");
			assert_non_null(f);
			if (fgets(line, sizeof(line), f) &&
			    sscanf(line, "%lu %lx %lx %lx %lx %lx %lx %lx", &v[0], &v[1], &v[2], &v[3],
				   &v[4], &v[5], &v[6], &v[7]) == 8)
				sp = v[7];
			fclose(f);
		}
		closedir(dir);
		if (sp)
			return sp;
		nanosleep(&t, NULL);
	}
	fail_msg("no thread named %s found asleep", comm);
	return 0;
}

/* Whether the mapping holding @addr is registered with a userfaultfd. */
static bool registered(unsigned long addr)
{
	return hmm_vma_has_flag((const void *)addr, "um") ||
	       hmm_vma_has_flag((const void *)addr, "uw");
}

static void test_handler_stack_refused(void **state)
{
	struct hmm_fixture *f = *state;
	unsigned long sp = thread_sp("hetmem-uffd");
	struct hmm_buffer b = { .ptr = (void *)(sp & ~(HMM_PAGE - 1)), .fd = -1 };

	b.mirror = malloc(2 * HMM_PAGE);
	assert_non_null(b.mirror);
	assert_false(registered(sp));
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_read, &b, 1), -EFAULT);
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_write, &b, 1), -EFAULT);
	assert_false(registered(sp));
	free(b.mirror);
	/* The teardown stops the handler thread: it would hang on its own stack. */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_handler_stack_refused, hmm_fixture_setup,
						hmm_fixture_teardown),
	};

	hmm_require_uffd();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
