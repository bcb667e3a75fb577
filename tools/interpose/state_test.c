// SPDX-License-Identifier: MIT
/*
 * White-box test of state.c: a p2pmem pool shared by processes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "state.c"

#define MIB (1ULL << 20)

static struct hi_prov_desc *pool(uint64_t size)
{
	struct hi_prov_desc *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	p->size = size;
	return p;
}

/* First fit, page granular; the gap a free leaves is reused. */
static void test_first_fit(void **state)
{
	struct hi_prov_desc *p = pool(16 * MIB);
	uint64_t a, b, c, d;

	assert_int_equal(hi_pool_alloc(p, MIB, 10, &a), 0);
	assert_int_equal(hi_pool_alloc(p, 2 * MIB, 10, &b), 0);
	assert_int_equal(hi_pool_alloc(p, MIB, 10, &c), 0);
	assert_int_equal(a, 0);
	assert_int_equal(b, MIB);
	assert_int_equal(c, 3 * MIB);
	assert_int_equal(p->used, 4 * MIB);
	assert_int_equal(hi_pool_put(p, b, 10), 1);
	assert_int_equal(hi_pool_alloc(p, MIB, 10, &d), 0);
	assert_int_equal(d, MIB);
	assert_int_equal(hi_pool_alloc(p, 13 * MIB, 10, &d), -ENOMEM);
	assert_int_equal(hi_pool_alloc(p, 12 * MIB, 10, &d), 0);
	assert_int_equal(d, 4 * MIB);
	assert_int_equal(p->used, 15 * MIB);
	assert_int_equal(hi_pool_alloc(p, MIB, 10, &d), 0);
	assert_int_equal(d, 2 * MIB);
	assert_int_equal(p->used, 16 * MIB);
	assert_int_equal(hi_pool_alloc(p, 4096, 10, &d), -ENOMEM);
	assert_int_equal(hi_pool_alloc(p, 100, 10, &d), -EINVAL);
	assert_int_equal(hi_pool_alloc(p, 0, 10, &d), -EINVAL);
	free(p);
}

/* A chunk two processes map goes back with the last of them. */
static void test_shared(void **state)
{
	struct hi_prov_desc *p = pool(MIB);
	uint64_t a;

	assert_int_equal(hi_pool_alloc(p, 8192, 10, &a), 0);
	assert_int_equal(hi_pool_share(p, a, 11), 0);
	assert_int_equal(hi_pool_put(p, a, 10), 0);
	assert_int_equal(p->used, 8192);
	assert_int_equal(hi_pool_put(p, a, 10), -ENOENT);
	assert_int_equal(hi_pool_put(p, a, 11), 1);
	assert_int_equal(p->used, 0);
	assert_int_equal(hi_pool_share(p, a, 12), -ENOENT);
	free(p);
}

/* What a process that is gone maps is reclaimed when the pool runs short. */
static void test_reclaim(void **state)
{
	struct hi_prov_desc *p = pool(MIB);
	uint64_t a, b;
	pid_t dead = fork();

	if (!dead)
		_exit(0);
	waitpid(dead, NULL, 0);
	assert_int_equal(hi_pool_alloc(p, MIB / 2, dead, &a), 0);
	assert_int_equal(hi_pool_alloc(p, MIB / 2, getpid(), &b), 0);
	assert_int_equal(hi_pool_alloc(p, MIB / 2, getpid(), &a), 0);
	assert_int_equal(a, 0);
	assert_int_equal(hi_pool_drop_pid(p, getpid()), MIB);
	assert_int_equal(p->used, 0);
	free(p);
}

/* The state file: created, mapped again, refused when it is not one. */
static void test_state_file(void **state)
{
	char dir[] = "/tmp/hi-state-test.XXXXXX", path[PATH_MAX];
	struct hi_state *st, *again;
	int fd;

	assert_non_null(mkdtemp(dir));
	assert_true(IS_ERR(hi_state_map(dir)));
	st = hi_state_create(dir);
	assert_false(IS_ERR(st));
	st->nr_prov = 3;
	again = hi_state_map(dir);
	assert_false(IS_ERR(again));
	hi_state_lock(again);
	assert_int_equal(again->nr_prov, 3);
	hi_state_unlock(again);
	hi_state_unmap(again);
	hi_state_unmap(st);
	snprintf(path, sizeof(path), "%s/%s", dir, HI_STATE_FILE);
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "not a state", 11), 11);
	close(fd);
	assert_int_equal(PTR_ERR(hi_state_map(dir)), -EINVAL);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_fit),
		cmocka_unit_test(test_shared),
		cmocka_unit_test(test_reclaim),
		cmocka_unit_test(test_state_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
