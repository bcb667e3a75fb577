// SPDX-License-Identifier: MIT
/*
 * Description: interval notifiers keep the kernel's contract. A mirrored
 * range hears of munmap (UNMAP), MADV_DONTNEED (CLEAR), hmm_mprotect()
 * (PROTECTION_VMA) and migrations (MIGRATE, with the migrating device as
 * owner); intervals that do not overlap hear nothing; read_retry() turns
 * true after an invalidation; hmm_range_fault() answers -EBUSY for a stale
 * sequence count; mmu_interval_read_begin() waits while an invalidation
 * that reached the notifier runs, and removing a notifier waits for the
 * invalidation still calling it.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>
#include <cmocka.h>

#include <hetmem/hmm.h>
#include <hetmem/mmu_notifier.h>

#include "hmm-fixture.h"

#define NPAGES 16

struct watcher {
	struct mmu_interval_notifier sub;
	pthread_mutex_t lock;
	int calls;
	enum mmu_notifier_event last_event;
	void *last_owner;
	int sleep_ms; /* hold the invalidation this long, once a waiter is on its way */
	int in_callback;
	int waiter_seen; /* the waiter saw in_callback and goes on to wait */
};

static bool watcher_invalidate(struct mmu_interval_notifier *sub,
			       const struct mmu_notifier_range *range, unsigned long cur_seq)
{
	struct watcher *w = (struct watcher *)sub; /* sub is the first member */

	pthread_mutex_lock(&w->lock);
	mmu_interval_set_seq(sub, cur_seq);
	w->calls++;
	w->last_event = range->event;
	w->last_owner = range->owner;
	pthread_mutex_unlock(&w->lock);
	if (w->sleep_ms) {
		struct timespec t = { .tv_nsec = w->sleep_ms * 1000000L };
		struct timespec ms = { .tv_nsec = 1000000L };

		__atomic_store_n(&w->in_callback, 1, __ATOMIC_RELEASE);
		/* However loaded the machine, the waiter gets to see the callback run. */
		for (int i = 0; i < 10000 && !__atomic_load_n(&w->waiter_seen, __ATOMIC_ACQUIRE);
		     i++)
			nanosleep(&ms, NULL);
		nanosleep(&t, NULL);
		__atomic_store_n(&w->in_callback, 0, __ATOMIC_RELEASE);
	}
	return true;
}

static const struct mmu_interval_notifier_ops watcher_ops = {
	.invalidate = watcher_invalidate,
};

static void watch(struct hetmem_mm *mm, struct watcher *w, void *start, unsigned long len)
{
	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->lock, NULL);
	assert_int_equal(
		mmu_interval_notifier_insert(&w->sub, mm, (uintptr_t)start, len, &watcher_ops), 0);
}

static int calls(struct watcher *w)
{
	int n;

	pthread_mutex_lock(&w->lock);
	n = w->calls;
	pthread_mutex_unlock(&w->lock);
	return n;
}

static enum mmu_notifier_event last_event(struct watcher *w, void **owner)
{
	enum mmu_notifier_event e;

	pthread_mutex_lock(&w->lock);
	e = w->last_event;
	if (owner)
		*owner = w->last_owner;
	pthread_mutex_unlock(&w->lock);
	return e;
}

/* Mirror @buf through @w so its unmap events reach us. */
static void mirror(struct watcher *w, void *buf, unsigned long npages)
{
	unsigned long pfns[NPAGES];
	struct hmm_range range = {
		.notifier = &w->sub,
		.start = (uintptr_t)buf,
		.end = (uintptr_t)buf + npages * HMM_PAGE,
		.hmm_pfns = pfns,
		.default_flags = HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE,
	};
	int ret;

	do {
		range.notifier_seq = mmu_interval_read_begin(&w->sub);
		ret = hmm_range_fault(&range);
	} while (ret == -EBUSY);
	assert_int_equal(ret, 0);
	for (unsigned long i = 0; i < npages; i++) {
		assert_true(pfns[i] & HMM_PFN_VALID);
		assert_true(pfns[i] & HMM_PFN_WRITE);
		assert_int_equal(hmm_pfn_to_pfn(pfns[i]), ((uintptr_t)buf >> 12) + i);
	}
}

static void test_events(void **state)
{
	struct hmm_fixture *f = *state;
	struct hetmem_mm *mm = hetmem_mm_get();
	char *buf = mmap(NULL, 2 * NPAGES * HMM_PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct watcher w, other;
	unsigned long seq, pfns[NPAGES];
	struct hmm_range range = {
		.start = (uintptr_t)buf,
		.end = (uintptr_t)buf + NPAGES * HMM_PAGE,
		.hmm_pfns = pfns,
		.default_flags = HMM_PFN_REQ_FAULT,
	};
	struct hmm_dmirror_cmd cmd = { .addr = (uintptr_t)buf, .npages = 1 };
	void *owner;

	assert_false(IS_ERR(mm));
	assert_true(buf != MAP_FAILED);
	watch(mm, &w, buf, NPAGES * HMM_PAGE);
	watch(mm, &other, buf + NPAGES * HMM_PAGE, NPAGES * HMM_PAGE);
	mirror(&w, buf, NPAGES);

	/* No change, no retry. */
	seq = mmu_interval_read_begin(&w.sub);
	assert_false(mmu_interval_read_retry(&w.sub, seq));

	/* mprotect through hmm_mprotect(). */
	assert_int_equal(hmm_mprotect(buf, NPAGES * HMM_PAGE, PROT_READ), 0);
	assert_int_equal(calls(&w), 1);
	assert_int_equal(last_event(&w, NULL), MMU_NOTIFY_PROTECTION_VMA);
	assert_true(mmu_interval_read_retry(&w.sub, seq));
	range.notifier = &w.sub;
	range.notifier_seq = seq;
	assert_int_equal(hmm_range_fault(&range), -EBUSY);
	range.notifier_seq = mmu_interval_read_begin(&w.sub);
	assert_int_equal(hmm_range_fault(&range), 0);
	assert_false(pfns[0] & HMM_PFN_WRITE);
	assert_int_equal(hmm_mprotect(buf, NPAGES * HMM_PAGE, PROT_READ | PROT_WRITE), 0);

	/* Migration: MIGRATE, owned by the migrating device. */
	buf[0] = 1;
	assert_int_equal(dmirror_migrate_to_dev(f->mirror[0], &cmd), 0);
	assert_int_equal(last_event(&w, &owner), MMU_NOTIFY_MIGRATE);
	assert_ptr_equal(owner, f->dev[0]);

	/* Discard: CLEAR, known once hetmem_mm_sync() returns. */
	assert_int_equal(madvise(buf, HMM_PAGE, MADV_DONTNEED), 0);
	hetmem_mm_sync(mm);
	assert_int_equal(last_event(&w, NULL), MMU_NOTIFY_CLEAR);
	assert_int_equal(buf[0], 0);

	/* Unmap: UNMAP. The neighbouring interval heard none of it. */
	mirror(&w, buf, NPAGES);
	assert_int_equal(munmap(buf + HMM_PAGE, HMM_PAGE), 0);
	hetmem_mm_sync(mm);
	assert_int_equal(last_event(&w, NULL), MMU_NOTIFY_UNMAP);
	assert_int_equal(calls(&other), 0);

	mmu_interval_notifier_remove(&w.sub);
	mmu_interval_notifier_remove(&other.sub);
	munmap(buf, 2 * NPAGES * HMM_PAGE);
	hetmem_mm_put(mm);
}

struct waiter_arg {
	struct watcher *w;
	int saw_callback_running;
};

static void *begin_during_invalidation(void *p)
{
	struct waiter_arg *a = p;

	/* Starts once the invalidation is inside the callback. */
	while (!__atomic_load_n(&a->w->in_callback, __ATOMIC_ACQUIRE))
		sched_yield();
	__atomic_store_n(&a->w->waiter_seen, 1, __ATOMIC_RELEASE);
	mmu_interval_read_begin(&a->w->sub);
	a->saw_callback_running = __atomic_load_n(&a->w->in_callback, __ATOMIC_ACQUIRE);
	return NULL;
}

static void test_read_begin_waits(void **state)
{
	struct hetmem_mm *mm = hetmem_mm_get();
	char *buf = mmap(NULL, NPAGES * HMM_PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct waiter_arg a;
	struct watcher w;
	pthread_t t;

	assert_false(IS_ERR(mm));
	watch(mm, &w, buf, NPAGES * HMM_PAGE);
	w.sleep_ms = 50;
	a = (struct waiter_arg){ .w = &w, .saw_callback_running = -1 };
	assert_int_equal(pthread_create(&t, NULL, begin_during_invalidation, &a), 0);
	assert_int_equal(hmm_mprotect(buf, NPAGES * HMM_PAGE, PROT_READ), 0);
	pthread_join(t, NULL);
	/* read_begin() returned only after the invalidation's callback had ended. */
	assert_int_equal(a.saw_callback_running, 0);
	mmu_interval_notifier_remove(&w.sub);
	munmap(buf, NPAGES * HMM_PAGE);
	hetmem_mm_put(mm);
}

static void *remove_during_invalidation(void *p)
{
	struct waiter_arg *a = p;

	while (!__atomic_load_n(&a->w->in_callback, __ATOMIC_ACQUIRE))
		sched_yield();
	__atomic_store_n(&a->w->waiter_seen, 1, __ATOMIC_RELEASE);
	mmu_interval_notifier_remove(&a->w->sub);
	a->saw_callback_running = __atomic_load_n(&a->w->in_callback, __ATOMIC_ACQUIRE);
	return NULL;
}

static void test_remove_waits(void **state)
{
	struct hetmem_mm *mm = hetmem_mm_get();
	char *buf = mmap(NULL, NPAGES * HMM_PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct waiter_arg a;
	struct watcher w;
	pthread_t t;

	assert_false(IS_ERR(mm));
	watch(mm, &w, buf, NPAGES * HMM_PAGE);
	w.sleep_ms = 50;
	a = (struct waiter_arg){ .w = &w, .saw_callback_running = -1 };
	assert_int_equal(pthread_create(&t, NULL, remove_during_invalidation, &a), 0);
	assert_int_equal(hmm_mprotect(buf, NPAGES * HMM_PAGE, PROT_READ), 0);
	pthread_join(t, NULL);
	assert_int_equal(a.saw_callback_running, 0);
	/* Removed: later invalidations do not reach it. */
	assert_int_equal(hmm_mprotect(buf, NPAGES * HMM_PAGE, PROT_READ | PROT_WRITE), 0);
	assert_int_equal(calls(&w), 1);
	munmap(buf, NPAGES * HMM_PAGE);
	hetmem_mm_put(mm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_events, hmm_fixture_setup,
						hmm_fixture_teardown),
		cmocka_unit_test(test_read_begin_waits),
		cmocka_unit_test(test_remove_waits),
	};

	hmm_require_uffd();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
