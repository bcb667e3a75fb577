// SPDX-License-Identifier: MIT
/*
 * memunmap_pages() and the references that keep a map alive: it waits for
 * a page reference or a map reference another thread holds, refuses new
 * references from the moment it starts, and leaves nothing behind.
 *
 * Ordering without timing assertions: the helper thread learns that
 * memunmap_pages() has started when pgmap_tryget() begins to fail, gives it
 * a moment to block, then sets a flag and drops its reference. The main
 * thread checks the flag after memunmap_pages() returns: had it not
 * waited, the flag could still be clear.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <hetmem/err.h>
#include <hetmem/log.h>
#include <hetmem/memremap.h>

#define MB	  (1ULL << 20)
#define PFN(addr) ((uint64_t)(addr) >> PAGE_SHIFT)
#define ROUNDS	  8

enum hold {
	HOLD_PAGE, /* zone_device_page_init() on a page */
	HOLD_PGMAP, /* get_dev_pagemap() */
	HOLD_TRYGET, /* pgmap_tryget() */
};

struct waiter {
	struct dev_pagemap pgmap;
	enum hold hold;
	uint64_t pfn; /* the page the helper holds */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool holding; /* the helper has its reference */
	/* What the helper saw while memunmap_pages() was under way. */
	bool tryget_failed;
	struct dev_pagemap *got_while_dying;
	int init_while_dying;
	bool page_still_resolved;
	int released; /* set just before the helper's put */
};

static int nr_freed;

static void count_free(struct page *page)
{
	__atomic_add_fetch(&nr_freed, 1, __ATOMIC_RELAXED);
}

static unsigned int no_migrate(struct vm_fault *vmf)
{
	return 0;
}

static const struct dev_pagemap_ops ops = {
	.page_free = count_free,
	.migrate_to_ram = no_migrate,
};

static int owner_cookie;

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Wait until memunmap_pages() has marked the map dying. */
static void wait_for_dying(struct waiter *w)
{
	while (pgmap_tryget(&w->pgmap)) {
		put_dev_pagemap(&w->pgmap);
		sleep_ms(1);
	}
	w->tryget_failed = true;
}

static void *helper(void *arg)
{
	struct waiter *w = arg;
	struct page *page = pfn_to_page(w->pfn);
	struct dev_pagemap *held = NULL;
	int ret = 0;

	switch (w->hold) {
	case HOLD_PAGE:
		ret = zone_device_page_init(page);
		if (!ret)
			unlock_page(page);
		break;
	case HOLD_PGMAP:
		held = get_dev_pagemap(w->pfn);
		ret = held == &w->pgmap ? 0 : -EINVAL;
		break;
	case HOLD_TRYGET:
		ret = pgmap_tryget(&w->pgmap) ? 0 : -EINVAL;
		break;
	}
	pthread_mutex_lock(&w->lock);
	w->holding = !ret;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	if (ret)
		return NULL;

	wait_for_dying(w);
	w->got_while_dying = get_dev_pagemap(w->pfn + 1);
	w->init_while_dying = zone_device_page_init(pfn_to_page(w->pfn + 1));
	w->page_still_resolved = pfn_to_page(w->pfn) == page;
	/* Let memunmap_pages() settle into its wait. */
	sleep_ms(20);

	__atomic_store_n(&w->released, 1, __ATOMIC_RELEASE);
	if (w->hold == HOLD_PAGE)
		put_page(page);
	else
		put_dev_pagemap(&w->pgmap);
	return NULL;
}

static void run_waiter(enum hold hold, enum memory_type type)
{
	struct waiter *w = calloc(1, sizeof(*w));
	uint64_t start = request_free_mem_region(2 * MB);
	pthread_t t;
	int freed_before;

	assert_non_null(w);
	assert_int_not_equal(start, 0);
	w->pgmap.type = type;
	w->pgmap.nr_range = 1;
	w->pgmap.range.start = start;
	w->pgmap.range.end = start + 2 * MB - 1;
	w->pgmap.ops = &ops;
	w->pgmap.owner = &owner_cookie;
	w->hold = hold;
	w->pfn = PFN(start) + 7;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	assert_false(IS_ERR(memremap_pages(&w->pgmap, 0)));
	freed_before = __atomic_load_n(&nr_freed, __ATOMIC_RELAXED);

	assert_int_equal(pthread_create(&t, NULL, helper, w), 0);
	pthread_mutex_lock(&w->lock);
	while (!w->holding)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);

	memunmap_pages(&w->pgmap);
	/* Returned: the helper's reference must be gone, so its flag is set. */
	assert_int_equal(__atomic_load_n(&w->released, __ATOMIC_ACQUIRE), 1);
	assert_int_equal(pthread_join(t, NULL), 0);

	assert_true(w->tryget_failed);
	assert_null(w->got_while_dying);
	assert_int_equal(w->init_while_dying, -ENODEV);
	/* The pages stay in the lookup while a reference is held. */
	assert_true(w->page_still_resolved);
	assert_int_equal(__atomic_load_n(&nr_freed, __ATOMIC_RELAXED) - freed_before,
			 hold == HOLD_PAGE ? 1 : 0);

	/* Gone: no pfn of the map resolves any more. */
	assert_null(pfn_to_page(PFN(start)));
	assert_null(pfn_to_page(w->pfn));
	assert_null(pfn_to_page(PFN(start + 2 * MB) - 1));
	assert_null(get_dev_pagemap(w->pfn));
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w);
}

/* memunmap_pages() waits for a page another thread holds, then frees it once. */
static void test_waits_for_page_reference(void **state)
{
	for (int i = 0; i < ROUNDS; i++)
		run_waiter(HOLD_PAGE, i & 1 ? MEMORY_DEVICE_PRIVATE : MEMORY_DEVICE_GENERIC);
}

/* memunmap_pages() waits for a get_dev_pagemap() reference another thread holds. */
static void test_waits_for_pgmap_reference(void **state)
{
	for (int i = 0; i < ROUNDS; i++)
		run_waiter(HOLD_PGMAP, i & 1 ? MEMORY_DEVICE_PRIVATE : MEMORY_DEVICE_GENERIC);
}

/* memunmap_pages() waits for a pgmap_tryget() reference another thread holds. */
static void test_waits_for_tryget_reference(void **state)
{
	for (int i = 0; i < ROUNDS; i++)
		run_waiter(HOLD_TRYGET, MEMORY_DEVICE_PRIVATE);
}

struct churn {
	struct dev_pagemap *pgmap;
	uint64_t pfn;
	int stop;
	unsigned long got;
};

static void *churner(void *arg)
{
	struct churn *c = arg;

	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		struct dev_pagemap *pg = get_dev_pagemap(c->pfn);

		if (!pg)
			break;
		__atomic_add_fetch(&c->got, 1, __ATOMIC_RELAXED);
		put_dev_pagemap(pg);
	}
	return NULL;
}

/* Concurrent get/put pairs while memunmap_pages() starts: it still returns and nothing leaks. */
static void test_unmap_during_get_put(void **state)
{
	for (int round = 0; round < ROUNDS; round++) {
		struct dev_pagemap pgmap = { 0 };
		uint64_t start = request_free_mem_region(2 * MB);
		struct churn c[2];
		pthread_t t[2];

		assert_int_not_equal(start, 0);
		pgmap.type = MEMORY_DEVICE_GENERIC;
		pgmap.range.start = start;
		pgmap.range.end = start + 2 * MB - 1;
		assert_false(IS_ERR(memremap_pages(&pgmap, 0)));
		for (int i = 0; i < 2; i++) {
			c[i] = (struct churn){ .pgmap = &pgmap, .pfn = PFN(start) + i * 100 };
			assert_int_equal(pthread_create(&t[i], NULL, churner, &c[i]), 0);
		}
		/* Let both get going. */
		while (!__atomic_load_n(&c[0].got, __ATOMIC_RELAXED) ||
		       !__atomic_load_n(&c[1].got, __ATOMIC_RELAXED))
			sleep_ms(1);
		/*
		 * The churners stop on their own once the map is dying; the
		 * stop flag is only for a churner that never saw it so.
		 */
		memunmap_pages(&pgmap);
		for (int i = 0; i < 2; i++) {
			__atomic_store_n(&c[i].stop, 1, __ATOMIC_RELEASE);
			assert_int_equal(pthread_join(t[i], NULL), 0);
		}
		assert_null(pfn_to_page(PFN(start)));
		assert_null(get_dev_pagemap(PFN(start)));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_waits_for_page_reference),
		cmocka_unit_test(test_waits_for_pgmap_reference),
		cmocka_unit_test(test_waits_for_tryget_reference),
		cmocka_unit_test(test_unmap_during_get_put),
	};

	if (!getenv("HETMEM_LOG"))
		hetmem_log_set_level(HETMEM_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
