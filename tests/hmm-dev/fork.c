// SPDX-License-Identifier: MIT
/*
 * Description: /dev/hmm_dmirrorN across fork(): memory on a device comes
 * home before the fork; a mirror the child inherited answers -EIO and
 * closing it leaves the parent's alone; the child opens devices of its
 * own and migrates with them; the parent's mirror keeps working. A child
 * of a process that never opened a device (the kernel harness forks each
 * test so) works the same, and so does one forked while another thread
 * runs commands.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <sys/wait.h>

#include "hmm-dev-fixture.h"

#define NPAGES 32UL
#define SIZE   (NPAGES * HMM_PAGE)
#define NINTS  (SIZE / sizeof(int))

/* In a child: exit with the failing line, which the parent reports. */
#define CHILD_CHECK(cond)                                      \
	do {                                                   \
		if (!(cond)) {                                 \
			fprintf(stderr, "child: %s\n", #cond); \
			_exit(__LINE__ % 250 + 1);             \
		}                                              \
	} while (0)

static int wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

/* What a child does with devices of its own on @b: write, migrate, fault back. */
static void child_own_device(struct hmm_buffer *b, int base)
{
	void *own = hmm_dev_open(0);

	CHILD_CHECK(own);
	hmm_dev_fill(b->mirror, NINTS, base);
	CHILD_CHECK(hmm_dev_cmd(own, HMM_DMIRROR_WRITE, b, NPAGES) == 0);
	CHILD_CHECK(b->cpages == NPAGES);
	CHILD_CHECK(hmm_dev_holds(b->ptr, NINTS, base));
	CHILD_CHECK(hmm_dev_cmd(own, HMM_DMIRROR_MIGRATE_TO_DEV, b, NPAGES) == 0);
	CHILD_CHECK(b->cpages == NPAGES);
	CHILD_CHECK(hmm_dev_holds(b->ptr, NINTS, base));
	hi_hmm_close(own);
}

static void test_inherited_mirror(void **state)
{
	struct hmm_buffer *b =
		hmm_buffer_new(SIZE, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	void *file = hmm_dev_open(0);
	pid_t pid;

	assert_non_null(b);
	assert_non_null(file);
	hmm_dev_fill(b->ptr, NINTS, 10);
	assert_int_equal(hmm_dev_cmd(file, HMM_DMIRROR_MIGRATE_TO_DEV, b, NPAGES), 0);
	assert_int_equal(b->cpages, NPAGES);

	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		/* The pages came home before the fork: the child has the data. */
		CHILD_CHECK(hmm_dev_holds(b->ptr, NINTS, 10));
		CHILD_CHECK(hmm_dev_cmd(file, HMM_DMIRROR_READ, b, NPAGES) == -EIO);
		CHILD_CHECK(hmm_dev_cmd(file, HMM_DMIRROR_RELEASE, b, NPAGES) == -EIO);
		/* Unknown requests are unknown whoever asks. */
		CHILD_CHECK(hi_hmm_ioctl(file, 0, NULL) == -ENOTTY);
		child_own_device(b, 20);
		hi_hmm_close(file);
		_exit(0);
	}
	assert_int_equal(wait_child(pid), 0);

	/* The parent's memory is its own (private mapping), its mirror works. */
	assert_true(hmm_dev_holds(b->ptr, NINTS, 10));
	memset(b->mirror, 0, SIZE);
	assert_int_equal(hmm_dev_cmd(file, HMM_DMIRROR_READ, b, NPAGES), 0);
	assert_int_equal(b->cpages, NPAGES);
	assert_true(hmm_dev_holds(b->mirror, NINTS, 10));
	assert_int_equal(hmm_dev_cmd(file, HMM_DMIRROR_MIGRATE_TO_DEV, b, NPAGES), 0);
	assert_int_equal(b->cpages, NPAGES);
	assert_true(hmm_dev_holds(b->ptr, NINTS, 10));
	hi_hmm_close(file);
	hmm_buffer_free(b);
}

/* A grandchild: each generation gets devices of its own. */
static void test_fork_twice(void **state)
{
	struct hmm_buffer *b =
		hmm_buffer_new(SIZE, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	pid_t pid;

	assert_non_null(b);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		void *file = hmm_dev_open(1);
		pid_t grandchild;

		CHILD_CHECK(file);
		child_own_device(b, 30);
		hmm_dev_fill(b->ptr, NINTS, 40);
		CHILD_CHECK(hmm_dev_cmd(file, HMM_DMIRROR_MIGRATE_TO_DEV, b, NPAGES) == 0);
		grandchild = fork();
		CHILD_CHECK(grandchild >= 0);
		if (!grandchild) {
			CHILD_CHECK(hmm_dev_holds(b->ptr, NINTS, 40));
			CHILD_CHECK(hmm_dev_cmd(file, HMM_DMIRROR_READ, b, NPAGES) == -EIO);
			child_own_device(b, 50);
			_exit(0);
		}
		CHILD_CHECK(wait_child(grandchild) == 0);
		CHILD_CHECK(hmm_dev_holds(b->ptr, NINTS, 40));
		CHILD_CHECK(hmm_dev_cmd(file, HMM_DMIRROR_READ, b, NPAGES) == 0);
		CHILD_CHECK(hmm_dev_holds(b->mirror, NINTS, 40));
		hi_hmm_close(file);
		_exit(0);
	}
	assert_int_equal(wait_child(pid), 0);
	hmm_buffer_free(b);
}

/* Commands on minor 0, over and over, until told to stop. */
struct busy {
	void *file;
	struct hmm_buffer *b;
	int stop;
	int err;
};

static void *busy_fn(void *arg)
{
	struct busy *busy = arg;

	while (!__atomic_load_n(&busy->stop, __ATOMIC_RELAXED) && !busy->err) {
		int ret = hmm_dev_cmd(busy->file, HMM_DMIRROR_READ, busy->b, NPAGES);

		if (!ret)
			ret = hmm_dev_cmd(busy->file, HMM_DMIRROR_MIGRATE_TO_DEV, busy->b, NPAGES);
		/*
		 * Each fork invalidates the whole address space; a command
		 * that keeps losing its range to them gives -EBUSY, as
		 * hmm_range_fault() does in the kernel after its timeout.
		 * A fork between a migration and its read-back clears the
		 * device's entries and brings the pages home, so the
		 * read-back finds one missing: -ENOENT, as in the kernel,
		 * whose fork write-protects the range with an invalidation.
		 * Either way the data must be intact.
		 */
		if (ret == -EBUSY || ret == -ENOENT)
			ret = 0;
		if (ret || !hmm_dev_holds(busy->b->ptr, NINTS, 70)) {
			fprintf(stderr, "busy thread: %d\n", ret);
			busy->err = 1;
		}
	}
	return NULL;
}

/*
 * Forks while another thread's commands hold the device's locks: the
 * child must not inherit them, nor the parent's pages.
 */
static void test_fork_busy(void **state)
{
	struct busy busy = { 0 };
	struct hmm_buffer *mine;
	pthread_t t;

#ifdef __SANITIZE_ADDRESS__
	/* This AddressSanitizer's allocator keeps its locks across fork(). */
	skip();
#endif
	mine = hmm_buffer_new(SIZE, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	busy.file = hmm_dev_open(0);
	busy.b =
		hmm_buffer_new(SIZE, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	assert_non_null(mine);
	assert_non_null(busy.file);
	assert_non_null(busy.b);
	hmm_dev_fill(busy.b->ptr, NINTS, 70);
	assert_int_equal(pthread_create(&t, NULL, busy_fn, &busy), 0);
	for (int i = 0; i < 20; i++) {
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (!pid) {
			alarm(20); /* a lock the child inherited held: fail, not hang */
			CHILD_CHECK(hmm_dev_holds(busy.b->ptr, NINTS, 70));
			child_own_device(mine, i);
			_exit(0);
		}
		assert_int_equal(wait_child(pid), 0);
	}
	__atomic_store_n(&busy.stop, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	assert_int_equal(busy.err, 0);
	hi_hmm_close(busy.file);
	hmm_buffer_free(busy.b);
	hmm_buffer_free(mine);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		/* First, as the kernel harness does: fork before any open. */
		cmocka_unit_test(test_fork_twice),
		cmocka_unit_test(test_inherited_mirror),
		cmocka_unit_test(test_fork_busy),
	};

	hmm_require_uffd();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
