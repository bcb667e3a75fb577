// SPDX-License-Identifier: MIT
/*
 * Description: a migration whose range the application unmaps between
 * collecting the pages and copying them returns without a crash, installs
 * nothing at the unmapped address, and frees every device page it took:
 * to the device, home, and an eviction. The unmap is made from the test
 * device's test hook (mm/dmirror.h), right after the pages are collected,
 * with munmap() or by mapping a PROT_NONE placeholder over the range (the
 * address stays reserved, and a fresh mapping is then made there and
 * checked). "sync" variants also wait until the unmap's event is handled
 * before the migration goes on (the migration sees the pages gone); the
 * others let the migration run into the unmapped range and the event come
 * after.
 *
 * Pages left in place (write-protected because they cannot move) are
 * copied by the migration before the driver reads them: shown with pages
 * shared with a fork child, and in migrate-unmap-nopool.c, which runs the
 * same tests without the system page pool (every page stays in place).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "../hmm/hmm-fixture.h"
#include "mm/dmirror.h"

#define NPAGES 64UL
#define LEN    (NPAGES * HMM_PAGE)

/* How the hook takes the range away. */
enum unmap_how {
	UNMAP_SYNC = 1, /* and wait until the unmap's event is handled */
	UNMAP_RESERVE = 2, /* a PROT_NONE mapping over it, not munmap() */
};

/* What the hook does: unmap [addr, addr + LEN) once, at @where, on this thread. */
static struct {
	enum dmirror_hook_point where;
	void *addr;
	int how;
	pthread_t thread;
	int armed; /* atomic */
	struct hetmem_mm *mm;
} unmap_at;

static void hook(enum dmirror_hook_point where, unsigned long start, unsigned long end)
{
	void *p;

	/* Migrations home also run on the fault handler thread: not there. */
	if (where != unmap_at.where || !pthread_equal(pthread_self(), unmap_at.thread))
		return;
	if (where != DMIRROR_HOOK_EVICT &&
	    (end <= (uintptr_t)unmap_at.addr || start >= (uintptr_t)unmap_at.addr + LEN))
		return;
	if (!__atomic_exchange_n(&unmap_at.armed, 0, __ATOMIC_ACQ_REL))
		return;
	if (unmap_at.how & UNMAP_RESERVE) {
		p = mmap(unmap_at.addr, LEN, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
		if (p != unmap_at.addr)
			fail_msg("mmap over the range: %d", errno);
	} else if (munmap(unmap_at.addr, LEN)) {
		fail_msg("munmap: %d", errno);
	}
	if (unmap_at.how & UNMAP_SYNC)
		hetmem_mm_sync(unmap_at.mm);
}

static void arm(enum dmirror_hook_point where, void *addr, int how)
{
	unmap_at.where = where;
	unmap_at.addr = addr;
	unmap_at.how = how;
	unmap_at.thread = pthread_self();
	unmap_at.mm = hetmem_mm_get();
	assert_false(IS_ERR(unmap_at.mm));
	__atomic_store_n(&unmap_at.armed, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&dmirror_test_hook, hook, __ATOMIC_RELEASE);
}

static void disarm(void)
{
	__atomic_store_n(&dmirror_test_hook, NULL, __ATOMIC_RELEASE);
	assert_int_equal(__atomic_load_n(&unmap_at.armed, __ATOMIC_ACQUIRE), 0); /* it ran */
	hetmem_mm_put(unmap_at.mm);
}

static uint64_t *new_buffer(uint64_t seed)
{
	uint64_t *p = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	for (unsigned long i = 0; i < LEN / sizeof(*p); i++)
		p[i] = seed ^ (i * 0x9e3779b97f4a7c15ULL);
	return p;
}

static unsigned long on_device(struct dmirror_device *dev)
{
	struct dmirror_counters c;

	dmirror_device_counters(dev, &c);
	return c.calloc - c.cfree;
}

/*
 * After the race: every device page is free again and the address space
 * has no entry left at the unmapped address. With the address reserved
 * (@how has UNMAP_RESERVE), a fresh mapping there holds its own data
 * only, also through a migration to the device and back.
 */
static void check_nothing_left(struct hmm_fixture *f, void *addr, int how)
{
	struct hetmem_mm *mm = hetmem_mm_get();
	struct hmm_dmirror_cmd cmd = { 0 };
	unsigned char perm[NPAGES];
	uint64_t *p, *back;

	assert_false(IS_ERR(mm));
	/* The unmap's event, if it came after the migration, is handled. */
	hetmem_mm_sync(mm);
	assert_int_equal(on_device(f->dev[0]), 0);
	assert_int_equal(on_device(f->dev[1]), 0);
	for (unsigned long i = 0; i < NPAGES; i++) {
		unsigned long *slot =
			va_table_slot(&mm->swp, (uintptr_t)addr + i * HMM_PAGE, false);

		assert_true(!slot || !__atomic_load_n(slot, __ATOMIC_ACQUIRE));
	}
	assert_int_equal(__atomic_load_n(&mm->nr_device, __ATOMIC_RELAXED), 0);
	if (!(how & UNMAP_RESERVE)) {
		hetmem_mm_put(mm);
		return;
	}

	p = mmap(addr, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	assert_ptr_equal(p, addr);
	for (unsigned long i = 0; i < LEN / sizeof(*p); i++)
		assert_true(p[i] == 0);
	cmd.addr = (uintptr_t)p;
	cmd.npages = NPAGES;
	cmd.ptr = (uintptr_t)perm;
	assert_int_equal(dmirror_snapshot(f->mirror[0], &cmd), 0);
	/* Ordinary memory: no device-private entry of any device. */
	for (unsigned long i = 0; i < NPAGES; i++) {
		assert_int_not_equal(perm[i], HMM_DMIRROR_PROT_ERROR);
		assert_false(perm[i] & HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL);
	}
	for (unsigned long i = 0; i < LEN / sizeof(*p); i++)
		p[i] = ~i;
	back = malloc(LEN);
	assert_non_null(back);
	cmd = (struct hmm_dmirror_cmd){ .addr = (uintptr_t)p,
					.npages = NPAGES,
					.ptr = (uintptr_t)back };
	assert_int_equal(dmirror_migrate_to_dev(f->mirror[0], &cmd), 0);
	for (unsigned long i = 0; i < LEN / sizeof(*p); i++)
		assert_true(back[i] == ~i);
	for (unsigned long i = 0; i < LEN / sizeof(*p); i++)
		assert_true(p[i] == ~i); /* home again through CPU faults */
	assert_int_equal(munmap(p, LEN), 0);
	hetmem_mm_sync(mm);
	assert_int_equal(on_device(f->dev[0]), 0);
	free(back);
	hetmem_mm_put(mm);
}

static void to_dev(void **state, int how)
{
	struct hmm_fixture *f = *state;
	uint64_t *p = new_buffer(1);
	struct hmm_dmirror_cmd cmd = { .addr = (uintptr_t)p, .npages = NPAGES };

	arm(DMIRROR_HOOK_TO_DEV, p, how);
	assert_int_equal(dmirror_migrate_to_dev(f->mirror[0], &cmd), 0);
	disarm();
	/* Seen gone before the switch: nothing migrated. */
	if (how & UNMAP_SYNC)
		assert_int_equal(cmd.cpages, 0);
	check_nothing_left(f, p, how);
}

static void to_sys(void **state, int how)
{
	struct hmm_fixture *f = *state;
	uint64_t *p = new_buffer(2);
	struct hmm_dmirror_cmd cmd = { .addr = (uintptr_t)p, .npages = NPAGES };

	assert_int_equal(dmirror_migrate_to_dev(f->mirror[0], &cmd), 0);
	assert_int_equal(cmd.cpages, NPAGES);
	assert_int_equal(on_device(f->dev[0]), NPAGES);
	cmd = (struct hmm_dmirror_cmd){ .addr = (uintptr_t)p, .npages = NPAGES };
	arm(DMIRROR_HOOK_TO_SYS, p, how);
	assert_int_equal(dmirror_migrate_to_sys(f->mirror[0], &cmd), 0);
	disarm();
	if (how & UNMAP_SYNC)
		assert_int_equal(cmd.cpages, 0);
	check_nothing_left(f, p, how);
}

static void evict(void **state, int how)
{
	struct hmm_fixture *f = *state;
	uint64_t *p = new_buffer(3);
	struct hmm_dmirror_cmd cmd = { .addr = (uintptr_t)p, .npages = NPAGES };
	struct dmirror_counters before, after;

	assert_int_equal(dmirror_migrate_to_dev(f->mirror[0], &cmd), 0);
	assert_int_equal(cmd.cpages, NPAGES);
	dmirror_device_counters(f->dev[0], &before);
	arm(DMIRROR_HOOK_EVICT, p, how);
	/* Evicts everything and gives the memory up: returns once every page is free. */
	assert_int_equal(dmirror_release(f->mirror[0], &cmd), 0);
	disarm();
	dmirror_device_counters(f->dev[0], &after);
	/* The unmapped pages were freed, not brought anywhere. */
	if (how & UNMAP_SYNC)
		assert_int_equal(after.evicted, before.evicted);
	check_nothing_left(f, p, how);
}

#define VARIANTS(fn)                                       \
	static void test_##fn##_munmap_sync(void **state)  \
	{                                                  \
		fn(state, UNMAP_SYNC);                     \
	}                                                  \
	static void test_##fn##_munmap(void **state)       \
	{                                                  \
		fn(state, 0);                              \
	}                                                  \
	static void test_##fn##_reserve_sync(void **state) \
	{                                                  \
		fn(state, UNMAP_SYNC | UNMAP_RESERVE);     \
	}                                                  \
	static void test_##fn##_reserve(void **state)      \
	{                                                  \
		fn(state, UNMAP_RESERVE);                  \
	}

VARIANTS(to_dev)
VARIANTS(to_sys)
VARIANTS(evict)

/*
 * Pages shared with a fork child cannot move into the pool: they are
 * write-protected in place, and the device must get a copy made while
 * they were protected. Without an unmap the data arrives whole; with one,
 * as above.
 */
static void shared_with_child(void **state, bool unmap)
{
	struct hmm_fixture *f = *state;
	uint64_t *p = new_buffer(4), *back = malloc(LEN);
	struct hmm_dmirror_cmd cmd = { .addr = (uintptr_t)p, .npages = NPAGES };
	int status;
	pid_t child;

	assert_non_null(back);
	child = fork();
	assert_true(child >= 0);
	if (!child) {
		pause();
		_exit(0);
	}
	if (unmap) {
		arm(DMIRROR_HOOK_TO_DEV, p, UNMAP_SYNC | UNMAP_RESERVE);
		assert_int_equal(dmirror_migrate_to_dev(f->mirror[0], &cmd), 0);
		disarm();
		assert_int_equal(cmd.cpages, 0);
	} else {
		cmd.ptr = (uintptr_t)back;
		assert_int_equal(dmirror_migrate_to_dev(f->mirror[0], &cmd), 0);
		assert_int_equal(cmd.cpages, NPAGES);
		for (unsigned long i = 0; i < LEN / sizeof(*p); i++)
			assert_true(back[i] == (4 ^ (i * 0x9e3779b97f4a7c15ULL)));
		assert_ptr_equal(mmap(p, LEN, PROT_NONE,
				      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1,
				      0),
				 p);
	}
	kill(child, SIGKILL);
	assert_int_equal(waitpid(child, &status, 0), child);
	free(back);
	check_nothing_left(f, p, UNMAP_RESERVE);
}

static void test_shared_with_child(void **state)
{
	shared_with_child(state, false);
}

static void test_shared_with_child_unmapped(void **state)
{
	shared_with_child(state, true);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, hmm_fixture_setup, hmm_fixture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_to_dev_munmap_sync),  T(test_to_dev_munmap),
		T(test_to_dev_reserve_sync), T(test_to_dev_reserve),
		T(test_to_sys_munmap_sync),  T(test_to_sys_munmap),
		T(test_to_sys_reserve_sync), T(test_to_sys_reserve),
		T(test_evict_munmap_sync),   T(test_evict_munmap),
		T(test_evict_reserve_sync),  T(test_evict_reserve),
		T(test_shared_with_child),   T(test_shared_with_child_unmapped),
	};

#ifdef MIGRATE_UNMAP_NO_POOL
	setenv("HETMEM_SYS_POOL_MB", "0", 1);
#endif
	hmm_require_uffd();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
