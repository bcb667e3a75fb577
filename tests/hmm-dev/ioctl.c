// SPDX-License-Identifier: MIT
/*
 * Description: /dev/hmm_dmirrorN as a program sees it through the
 * interposer, called directly: open of the devices that do not exist,
 * unknown requests, unreadable and read-only command structures, bad
 * ranges and bad buffers for each command, each answered with the kernel
 * driver's error and without touching the caller's memory; then each of
 * the eight commands doing its work.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sys/ioctl.h>
#include <termios.h>

#include "hmm-dev-fixture.h"

#define NPAGES 64UL
#define SIZE   (NPAGES * HMM_PAGE)
#define NINTS  (SIZE / sizeof(int))

/* A command structure whose out fields tell whether it was written back. */
static struct hmm_dmirror_cmd sentinel_cmd(void *addr, void *ptr, uint64_t npages)
{
	return (struct hmm_dmirror_cmd){
		.addr = (uintptr_t)addr,
		.ptr = (uintptr_t)ptr,
		.npages = npages,
		.cpages = 0xdead,
		.faults = 0xbeef,
	};
}

/* --- bad input ------------------------------------------------------------------------ */

static void test_open_errors(void **state)
{
	void *file = (void *)1;

	/* 2 and 3 are the device-coherent minors: no such memory, no device. */
	for (unsigned int minor = 2; minor < 8; minor++)
		assert_int_equal(hi_hmm_open(minor, O_RDWR, &file), -ENOENT);
	assert_int_equal(hi_hmm_open(~0U, O_RDWR, &file), -ENOENT);
	assert_ptr_equal(file, (void *)1);
	assert_int_equal(hi_hmm_open(0, O_RDWR, NULL), -EINVAL);
	/* Closing nothing does nothing. */
	hi_hmm_close(NULL);
}

static void test_unknown_requests(void **state)
{
	/* The next numbers, later kernels' additions, other sizes and types. */
	const unsigned long bad[] = {
		_IOWR('H', 0x08, struct hmm_dmirror_cmd),
		_IOWR('H', 0x09, struct hmm_dmirror_cmd),
		_IOWR('H', 0xff, struct hmm_dmirror_cmd),
		_IOR('H', 0x00, struct hmm_dmirror_cmd),
		_IOW('H', 0x01, struct hmm_dmirror_cmd),
		_IOWR('H', 0x00, uint64_t),
		_IOWR('h', 0x00, struct hmm_dmirror_cmd),
		_IO('H', 0x07),
		TCGETS,
		FIONREAD,
		0,
		~0UL,
	};
	struct hmm_dmirror_cmd cmd;
	void *buf = hmm_dev_pages(1, PROT_READ | PROT_WRITE);
	void *file = hmm_dev_open(0);

	assert_non_null(buf);
	assert_non_null(file);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cmd = sentinel_cmd(buf, buf, 1);
		assert_int_equal(hi_hmm_ioctl(file, bad[i], &cmd), -ENOTTY);
		assert_int_equal(hi_hmm_ioctl(file, bad[i], NULL), -ENOTTY);
		assert_int_equal(cmd.cpages, 0xdead);
	}
	/* No open file: the kernel driver's answer to a file without a mirror. */
	cmd = sentinel_cmd(buf, buf, 1);
	assert_int_equal(hi_hmm_ioctl(NULL, HMM_DMIRROR_READ, &cmd), -EINVAL);
	hi_hmm_close(file);
	munmap(buf, HMM_PAGE);
}

static void test_bad_arg(void **state)
{
	char *none = hmm_dev_pages(1, PROT_NONE);
	char *ro = hmm_dev_pages(1, PROT_READ | PROT_WRITE);
	char *edge = hmm_dev_pages(2, PROT_READ | PROT_WRITE);
	char *buf = hmm_dev_pages(1, PROT_READ | PROT_WRITE);
	void *file = hmm_dev_open(0);
	struct hmm_dmirror_cmd *cmd;

	assert_non_null(none);
	assert_non_null(ro);
	assert_non_null(edge);
	assert_non_null(buf);
	assert_non_null(file);
	/* The structure's last bytes run into a hole. */
	assert_int_equal(munmap(edge + HMM_PAGE, HMM_PAGE), 0);
	cmd = (struct hmm_dmirror_cmd *)(edge + HMM_PAGE - 16);

	for (size_t i = 0; i < HMM_DEV_NR_CMDS; i++) {
		unsigned long request = hmm_dev_all_cmds[i];

		assert_int_equal(hi_hmm_ioctl(file, request, NULL), -EFAULT);
		assert_int_equal(hi_hmm_ioctl(file, request, (void *)16), -EFAULT);
		assert_int_equal(hi_hmm_ioctl(file, request, none), -EFAULT);
		assert_int_equal(hi_hmm_ioctl(file, request, cmd), -EFAULT);
		assert_int_equal(hi_hmm_ioctl(file, request, (void *)~0UL), -EFAULT);
	}

	/* Readable but not writable: the command runs, the copy back fails. */
	*(struct hmm_dmirror_cmd *)ro = sentinel_cmd(buf, NULL, 1);
	assert_int_equal(mprotect(ro, HMM_PAGE, PROT_READ), 0);
	assert_int_equal(hi_hmm_ioctl(file, HMM_DMIRROR_CHECK_EXCLUSIVE, ro), -EFAULT);
	assert_int_equal(((struct hmm_dmirror_cmd *)ro)->cpages, 0xdead);

	hi_hmm_close(file);
	munmap(none, HMM_PAGE);
	munmap(ro, HMM_PAGE);
	munmap(edge, HMM_PAGE);
	munmap(buf, HMM_PAGE);
}

static void test_bad_range(void **state)
{
	char *buf = hmm_dev_pages(2, PROT_READ | PROT_WRITE);
	char *mirror = malloc(2 * HMM_PAGE);
	void *file = hmm_dev_open(0);
	const struct {
		uint64_t addr, npages;
	} bad[] = {
		{ (uintptr_t)buf + 1, 1 }, /* not page aligned */
		{ (uintptr_t)buf + HMM_PAGE - 8, 1 },
		{ (uintptr_t)buf, 0 }, /* no pages */
		{ (uintptr_t)buf, ~0ULL }, /* size overflows */
		{ (uintptr_t)buf, 1ULL << 52 }, /* wraps to 0 bytes */
		{ (uintptr_t)buf, (1ULL << 52) + 1 }, /* wraps to a page */
		{ ~0ULL & ~(HMM_PAGE - 1), 1 }, /* ends at 0 */
		{ ~0ULL & ~(HMM_PAGE - 1), 2 }, /* wraps past 0 */
		{ (~0ULL & ~(HMM_PAGE - 1)) - HMM_PAGE, 4 },
	};

	assert_non_null(buf);
	assert_non_null(mirror);
	assert_non_null(file);
	for (size_t i = 0; i < HMM_DEV_NR_CMDS; i++) {
		for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
			struct hmm_dmirror_cmd cmd = sentinel_cmd(NULL, mirror, bad[k].npages);

			cmd.addr = bad[k].addr;
			assert_int_equal(hi_hmm_ioctl(file, hmm_dev_all_cmds[i], &cmd), -EINVAL);
			assert_int_equal(cmd.cpages, 0xdead);
			assert_int_equal(cmd.faults, 0xbeef);
		}
	}
	hi_hmm_close(file);
	munmap(buf, 2 * HMM_PAGE);
	free(mirror);
}

static void test_bad_ptr(void **state)
{
	const unsigned long out[] = { HMM_DMIRROR_READ, HMM_DMIRROR_MIGRATE_TO_DEV,
				      HMM_DMIRROR_SNAPSHOT, HMM_DMIRROR_EXCLUSIVE };
	char *buf = hmm_dev_pages(NPAGES, PROT_READ | PROT_WRITE);
	char *ro = hmm_dev_pages(NPAGES, PROT_READ);
	char *none = hmm_dev_pages(NPAGES, PROT_NONE);
	char *half = hmm_dev_pages(NPAGES, PROT_READ | PROT_WRITE);
	void *file = hmm_dev_open(0);
	struct hmm_dmirror_cmd cmd;

	assert_non_null(buf);
	assert_non_null(ro);
	assert_non_null(none);
	assert_non_null(half);
	assert_non_null(file);
	/* A buffer whose second half is a hole. */
	assert_int_equal(munmap(half + SIZE / 2, SIZE / 2), 0);
	hmm_dev_fill(buf, NINTS, 1);

	/* The device's data cannot reach the caller. */
	for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
		char *bad[] = { NULL, ro, none, half };

		for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
			if (out[i] == HMM_DMIRROR_SNAPSHOT && bad[k] == half)
				continue; /* NPAGES bytes fit */
			cmd = sentinel_cmd(buf, bad[k], NPAGES);
			assert_int_equal(hi_hmm_ioctl(file, out[i], &cmd), -EFAULT);
			assert_int_equal(cmd.cpages, 0xdead);
		}
		/* Whatever the command did, the data is intact. */
		assert_true(hmm_dev_holds(buf, NINTS, 1));
	}

	/* Nothing to write from: the range keeps its data. */
	for (int k = 0; k < 3; k++) {
		char *bad[] = { NULL, none, half };

		cmd = sentinel_cmd(buf, bad[k], NPAGES);
		assert_int_equal(hi_hmm_ioctl(file, HMM_DMIRROR_WRITE, &cmd), -EFAULT);
		assert_int_equal(cmd.cpages, 0xdead);
		assert_true(hmm_dev_holds(buf, NINTS, 1));
	}

	/* The range itself: a device cannot read PROT_NONE, nor write PROT_READ. */
	cmd = sentinel_cmd(none, half, 1);
	assert_int_equal(hi_hmm_ioctl(file, HMM_DMIRROR_READ, &cmd), -EFAULT);
	cmd = sentinel_cmd(ro, buf, 1);
	assert_int_equal(hi_hmm_ioctl(file, HMM_DMIRROR_WRITE, &cmd), -EPERM);
	/* Nor migrate what is not readable, or a hole. */
	cmd = sentinel_cmd(none, half, 1);
	assert_int_equal(hi_hmm_ioctl(file, HMM_DMIRROR_MIGRATE_TO_DEV, &cmd), -EINVAL);
	cmd = sentinel_cmd(half + SIZE / 2, buf, 1);
	assert_int_equal(hi_hmm_ioctl(file, HMM_DMIRROR_MIGRATE_TO_DEV, &cmd), -EINVAL);

	hi_hmm_close(file);
	munmap(buf, SIZE);
	munmap(ro, SIZE);
	munmap(none, SIZE);
	munmap(half, SIZE / 2);
}

/* --- the commands --------------------------------------------------------------------- */

struct cmd_fixture {
	void *file[2]; /* minors 0 and 1 */
	struct hmm_buffer *buffer;
};

static int cmd_setup(void **state)
{
	struct cmd_fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->file[0] = hmm_dev_open(0);
	f->file[1] = hmm_dev_open(1);
	f->buffer =
		hmm_buffer_new(SIZE, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	*state = f;
	return f->file[0] && f->file[1] && f->buffer ? 0 : -1;
}

static int cmd_teardown(void **state)
{
	struct cmd_fixture *f = *state;

	hi_hmm_close(f->file[0]);
	hi_hmm_close(f->file[1]);
	hmm_buffer_free(f->buffer);
	free(f);
	return 0;
}

static void test_read(void **state)
{
	struct cmd_fixture *f = *state;
	struct hmm_buffer *b = f->buffer;

	hmm_dev_fill(b->ptr, NINTS, 0);
	assert_int_equal(hmm_dev_cmd(f->file[0], HMM_DMIRROR_READ, b, NPAGES), 0);
	assert_int_equal(b->cpages, NPAGES);
	assert_int_equal(b->faults, 1);
	assert_true(hmm_dev_holds(b->mirror, NINTS, 0));
	/* Mapped now: no fault the second time. */
	assert_int_equal(hmm_dev_cmd(f->file[0], HMM_DMIRROR_READ, b, NPAGES), 0);
	assert_int_equal(b->faults, 0);
}

static void test_write(void **state)
{
	struct cmd_fixture *f = *state;
	struct hmm_buffer *b = f->buffer;

	hmm_dev_fill(b->mirror, NINTS, -7);
	assert_int_equal(hmm_dev_cmd(f->file[0], HMM_DMIRROR_WRITE, b, NPAGES), 0);
	assert_int_equal(b->cpages, NPAGES);
	assert_int_equal(b->faults, 1);
	assert_true(hmm_dev_holds(b->ptr, NINTS, -7));
}

static void test_migrate(void **state)
{
	struct cmd_fixture *f = *state;
	struct hmm_buffer *b = f->buffer;
	unsigned char *m = (unsigned char *)b->mirror;

	hmm_dev_fill(b->ptr, NINTS, 100);
	assert_int_equal(hmm_dev_cmd(f->file[0], HMM_DMIRROR_MIGRATE_TO_DEV, b, NPAGES), 0);
	assert_int_equal(b->cpages, NPAGES);
	assert_true(hmm_dev_holds(b->mirror, NINTS, 100));

	/* Local to device 0; device 1 sees no page there (another owner's). */
	assert_int_equal(hmm_dev_cmd(f->file[0], HMM_DMIRROR_SNAPSHOT, b, NPAGES), 0);
	assert_int_equal(b->cpages, NPAGES);
	for (unsigned long i = 0; i < NPAGES; i++)
		assert_int_equal(m[i], HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL | HMM_DMIRROR_PROT_WRITE);
	assert_int_equal(hmm_dev_cmd(f->file[1], HMM_DMIRROR_SNAPSHOT, b, NPAGES), 0);
	for (unsigned long i = 0; i < NPAGES; i++)
		assert_int_equal(m[i], HMM_DMIRROR_PROT_NONE);

	/* Home again by command, then an ordinary writable page. */
	assert_int_equal(hmm_dev_cmd(f->file[0], HMM_DMIRROR_MIGRATE_TO_SYS, b, NPAGES), 0);
	assert_int_equal(b->cpages, NPAGES);
	assert_int_equal(hmm_dev_cmd(f->file[0], HMM_DMIRROR_SNAPSHOT, b, NPAGES), 0);
	for (unsigned long i = 0; i < NPAGES; i++)
		assert_int_equal(m[i], HMM_DMIRROR_PROT_WRITE);
	assert_true(hmm_dev_holds(b->ptr, NINTS, 100));

	/* And by CPU fault. */
	assert_int_equal(hmm_dev_cmd(f->file[1], HMM_DMIRROR_MIGRATE_TO_DEV, b, NPAGES), 0);
	assert_int_equal(b->cpages, NPAGES);
	assert_true(hmm_dev_holds(b->ptr, NINTS, 100));
}

static void test_exclusive(void **state)
{
	struct cmd_fixture *f = *state;
	struct hmm_buffer *b = f->buffer;
	int *ptr = b->ptr;

	hmm_dev_fill(b->ptr, NINTS, 5);
	assert_int_equal(hmm_dev_cmd(f->file[0], HMM_DMIRROR_EXCLUSIVE, b, NPAGES), 0);
	assert_int_equal(b->cpages, NPAGES);
	assert_true(hmm_dev_holds(b->mirror, NINTS, 5));
	assert_int_equal(hmm_dev_cmd(f->file[0], HMM_DMIRROR_CHECK_EXCLUSIVE, b, NPAGES), -EPERM);
	/* CPU writes revoke it page by page. */
	for (unsigned long i = 0; i < NINTS; i++)
		ptr[i]++;
	assert_int_equal(hmm_dev_cmd(f->file[0], HMM_DMIRROR_CHECK_EXCLUSIVE, b, NPAGES), 0);
	assert_true(hmm_dev_holds(b->ptr, NINTS, 6));
}

/*
 * As on the kernel, without another thread in the way EXCLUSIVE succeeds
 * again on pages it already holds, and on pages a CPU fault just brought
 * home (while the fault's prefetch may still hold their neighbours).
 */
static void test_exclusive_again(void **state)
{
	struct cmd_fixture *f = *state;
	struct hmm_buffer *b = f->buffer;

	for (int round = 0; round < 8; round++) {
		/* CPU writes: no exclusive mark left from the round before. */
		hmm_dev_fill(b->ptr, NINTS, round);
		assert_int_equal(hmm_dev_cmd(f->file[0], HMM_DMIRROR_EXCLUSIVE, b, NPAGES), 0);
		assert_int_equal(hmm_dev_cmd(f->file[1], HMM_DMIRROR_EXCLUSIVE, b, NPAGES), 0);
		assert_int_equal(b->cpages, NPAGES);
		hmm_dev_fill(b->ptr, NINTS, round + 100);
		assert_int_equal(hmm_dev_cmd(f->file[0], HMM_DMIRROR_MIGRATE_TO_DEV, b, NPAGES), 0);
		assert_true(hmm_dev_holds(b->ptr, NINTS, round + 100));
		assert_int_equal(hmm_dev_cmd(f->file[round % 2], HMM_DMIRROR_EXCLUSIVE, b, NPAGES),
				 0);
		assert_true(hmm_dev_holds(b->mirror, NINTS, round + 100));
	}
}

static void test_release(void **state)
{
	struct cmd_fixture *f = *state;
	struct hmm_buffer *b = f->buffer;

	hmm_dev_fill(b->ptr, NINTS, 9);
	assert_int_equal(hmm_dev_cmd(f->file[0], HMM_DMIRROR_MIGRATE_TO_DEV, b, NPAGES), 0);
	assert_int_equal(hmm_dev_cmd(f->file[0], HMM_DMIRROR_RELEASE, b, NPAGES), 0);
	assert_true(hmm_dev_holds(b->ptr, NINTS, 9));
	/* The device takes memory again after a release. */
	assert_int_equal(hmm_dev_cmd(f->file[0], HMM_DMIRROR_MIGRATE_TO_DEV, b, NPAGES), 0);
	assert_int_equal(b->cpages, NPAGES);
	assert_true(hmm_dev_holds(b->ptr, NINTS, 9));
}

/* Each open is its own mirror: closing one leaves the other working. */
static void test_two_mirrors(void **state)
{
	struct cmd_fixture *f = *state;
	struct hmm_buffer *b = f->buffer;
	void *again = hmm_dev_open(0);

	assert_non_null(again);
	hmm_dev_fill(b->ptr, NINTS, 3);
	assert_int_equal(hmm_dev_cmd(again, HMM_DMIRROR_READ, b, NPAGES), 0);
	assert_int_equal(b->faults, 1);
	/* The first mirror has its own table: it faults too. */
	assert_int_equal(hmm_dev_cmd(f->file[0], HMM_DMIRROR_READ, b, NPAGES), 0);
	assert_int_equal(b->faults, 1);
	hi_hmm_close(again);
	memset(b->mirror, 0, SIZE);
	assert_int_equal(hmm_dev_cmd(f->file[0], HMM_DMIRROR_READ, b, NPAGES), 0);
	assert_int_equal(b->faults, 0);
	assert_true(hmm_dev_holds(b->mirror, NINTS, 3));
}

/* Exits 77 without userfaultfd; under Valgrind, nothing touches registered memory. */
static void require_uffd(void)
{
	struct hetmem_mm *mm;

	hetmem_log_set_level(HETMEM_LOG_ERR);
	mm = hetmem_mm_get();
	if (IS_ERR(mm))
		hmm_skip("userfaultfd is not available to this process");
	hetmem_mm_put(mm);
}

int main(void)
{
	/* Bad input first: what is refused before the device touches memory... */
	const struct CMUnitTest refused[] = {
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_unknown_requests),
		cmocka_unit_test(test_bad_arg),
		cmocka_unit_test(test_bad_range),
	};
	/* ...then buffers the results cannot reach, then the commands at work. */
	const struct CMUnitTest commands[] = {
		cmocka_unit_test(test_bad_ptr),
		cmocka_unit_test_setup_teardown(test_read, cmd_setup, cmd_teardown),
		cmocka_unit_test_setup_teardown(test_write, cmd_setup, cmd_teardown),
		cmocka_unit_test_setup_teardown(test_migrate, cmd_setup, cmd_teardown),
		cmocka_unit_test_setup_teardown(test_exclusive, cmd_setup, cmd_teardown),
		cmocka_unit_test_setup_teardown(test_exclusive_again, cmd_setup, cmd_teardown),
		cmocka_unit_test_setup_teardown(test_release, cmd_setup, cmd_teardown),
		cmocka_unit_test_setup_teardown(test_two_mirrors, cmd_setup, cmd_teardown),
	};
	int failed;

	require_uffd();
	/*
	 * Under Valgrind only the requests refused before the device touches
	 * memory run (see hmm-fixture.h for why the rest cannot).
	 */
	failed = cmocka_run_group_tests_name("refused", refused, NULL, NULL);
	if (hmm_under_valgrind())
		return failed;
	return failed | cmocka_run_group_tests_name("commands", commands, NULL, NULL);
}
