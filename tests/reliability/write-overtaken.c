// SPDX-License-Identifier: MIT
/*
 * Description: a device write that an invalidation overtook is done again,
 * even when the range is back in the mirror by the time the write looks.
 *
 * The test device writes system pages by address after dropping its
 * mirror's lock. A migration that invalidated meanwhile may have copied a
 * page before the write landed and zapped it after; the write must then
 * be done again. Here, between the write's copy and its check (the test
 * hook), the other device takes the pages and gives them back, and a read
 * through the writing mirror maps them again: the mirror's entries are
 * the same as before, so only a record of the invalidation can tell the
 * write it was overtaken. Second, the writing device itself takes the
 * pages: its own migrations skip the notifier (as the kernel driver's), so
 * they must leave the same record.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../hmm/hmm-fixture.h"
#include "mm/dmirror.h"

#define NPAGES 8UL
#define LEN    (NPAGES * HMM_PAGE)

static struct {
	struct hmm_fixture *f;
	uint8_t *mem;
	pthread_t thread;
	int armed; /* atomic */
	bool own; /* the writing device takes the pages, not the other one */
	unsigned int written; /* hook calls on the range */
	int err;
} ctx;

/* The writing device takes the pages. */
static void take_own(void)
{
	uint8_t *buf = malloc(LEN);
	struct hmm_dmirror_cmd cmd = { .addr = (uintptr_t)ctx.mem, .ptr = (uintptr_t)buf,
				       .npages = NPAGES };

	ctx.err = buf ? dmirror_migrate_to_dev(ctx.f->mirror[0], &cmd) : -ENOMEM;
	if (!ctx.err && cmd.cpages != NPAGES)
		ctx.err = -EAGAIN;
	free(buf);
}

/* The pages to the other device and back, then mapped again by the writing mirror. */
static void take_and_give_back(void)
{
	uint8_t *buf = malloc(LEN);
	struct hmm_dmirror_cmd cmd = { .addr = (uintptr_t)ctx.mem, .ptr = (uintptr_t)buf,
				       .npages = NPAGES };

	ctx.err = buf ? 0 : -ENOMEM;
	if (!ctx.err)
		ctx.err = dmirror_migrate_to_dev(ctx.f->mirror[1], &cmd);
	if (!ctx.err && cmd.cpages != NPAGES)
		ctx.err = -EAGAIN;
	if (!ctx.err)
		ctx.err = dmirror_migrate_to_sys(ctx.f->mirror[1], &cmd);
	if (!ctx.err)
		ctx.err = dmirror_read(ctx.f->mirror[0], &cmd);
	free(buf);
}

static void hook(enum dmirror_hook_point where, unsigned long start, unsigned long end)
{
	if (where != DMIRROR_HOOK_WRITTEN || !pthread_equal(pthread_self(), ctx.thread) ||
	    end <= (uintptr_t)ctx.mem || start >= (uintptr_t)ctx.mem + LEN)
		return;
	ctx.written++;
	if (!__atomic_exchange_n(&ctx.armed, 0, __ATOMIC_ACQ_REL))
		return;
	if (ctx.own)
		take_own();
	else
		take_and_give_back();
}

static void overtaken_write_redone(void **state, bool own)
{
	uint8_t *data = malloc(LEN);
	struct hmm_dmirror_cmd cmd = { .addr = 0, .ptr = (uintptr_t)data, .npages = NPAGES };

	ctx.f = *state;
	ctx.mem = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(ctx.mem != MAP_FAILED);
	assert_non_null(data);
	memset(ctx.mem, 0x11, LEN);
	cmd.addr = (uintptr_t)ctx.mem;
	/* The writing mirror maps the system pages. */
	assert_int_equal(dmirror_read(ctx.f->mirror[0], &cmd), 0);
	assert_int_equal(cmd.faults, 1);
	memset(data, 0x5a, LEN);
	ctx.thread = pthread_self();
	ctx.own = own;
	ctx.written = 0;
	__atomic_store_n(&ctx.armed, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&dmirror_test_hook, hook, __ATOMIC_RELEASE);
	assert_int_equal(dmirror_write(ctx.f->mirror[0], &cmd), 0);
	__atomic_store_n(&dmirror_test_hook, NULL, __ATOMIC_RELEASE);
	assert_int_equal(ctx.err, 0);
	/* Written by address, overtaken, found mapped again, written again. */
	assert_int_equal(ctx.written, 2);
	for (unsigned long i = 0; i < LEN; i++)
		if (ctx.mem[i] != 0x5a)
			fail_msg("byte %lu is %#x", i, ctx.mem[i]);
	munmap(ctx.mem, LEN);
	free(data);
}

static void test_overtaken_write_redone(void **state)
{
	overtaken_write_redone(state, false);
}

static void test_write_overtaken_by_own_migration_redone(void **state)
{
	overtaken_write_redone(state, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_overtaken_write_redone, hmm_fixture_setup,
						hmm_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_write_overtaken_by_own_migration_redone,
						hmm_fixture_setup, hmm_fixture_teardown),
	};

	hmm_require_uffd();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
