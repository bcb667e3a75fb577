// SPDX-License-Identifier: MIT
/*
 * White-box test of the special-page lookup: whole-slot and partial-slot
 * extents, neighbours sharing a 2 MiB slot, overlaps refused, removal,
 * ordinary addresses missing.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "internal.h"

#define MB (1ULL << 20)
#define BASE (1ULL << 48)

static struct page pages[4096];

static struct page_extent ext(uint64_t start, uint64_t len, int first)
{
	return (struct page_extent){ .start = start, .end = start + len, .first = &pages[first] };
}

/* An extent covering whole 2 MiB slots resolves every page inside and nothing outside. */
static void test_whole_slots(void **state)
{
	struct page_extent e = ext(BASE, 4 * MB, 0);

	assert_int_equal(page_lookup_insert(&e), 0);
	assert_ptr_equal(page_lookup(BASE), &e);
	assert_ptr_equal(page_lookup(BASE + 4 * MB - 1), &e);
	assert_null(page_lookup(BASE + 4 * MB));
	assert_null(page_lookup(BASE - 1));
	page_lookup_remove(&e);
	assert_null(page_lookup(BASE));
}

/* Two small extents share one slot through an L3 table and stay apart. */
static void test_shared_slot(void **state)
{
	struct page_extent a = ext(BASE + 64 * 1024, 64 * 1024, 0);
	struct page_extent b = ext(BASE + 128 * 1024, 4096, 100);

	assert_int_equal(page_lookup_insert(&a), 0);
	assert_int_equal(page_lookup_insert(&b), 0);
	assert_ptr_equal(page_lookup(BASE + 64 * 1024 + 5), &a);
	assert_ptr_equal(page_lookup(BASE + 128 * 1024 - 1), &a);
	assert_ptr_equal(page_lookup(BASE + 128 * 1024), &b);
	assert_null(page_lookup(BASE + 132 * 1024));
	assert_null(page_lookup(BASE));
	page_lookup_remove(&a);
	assert_null(page_lookup(BASE + 64 * 1024));
	assert_ptr_equal(page_lookup(BASE + 128 * 1024), &b);
	page_lookup_remove(&b);
}

/* An unaligned extent spanning slots uses L3 at both ends and whole slots between. */
static void test_unaligned_span(void **state)
{
	struct page_extent e = ext(BASE + 3 * MB / 2, 5 * MB, 0);

	assert_int_equal(page_lookup_insert(&e), 0);
	for (uint64_t a = e.start; a < e.end; a += 256 * 1024)
		assert_ptr_equal(page_lookup(a), &e);
	assert_null(page_lookup(e.start - 4096));
	assert_null(page_lookup(e.end));
	page_lookup_remove(&e);
	for (uint64_t a = e.start; a < e.end; a += 256 * 1024)
		assert_null(page_lookup(a));
}

/* Any overlap is refused with -EBUSY and leaves the table as it was. */
static void test_overlap_refused(void **state)
{
	struct page_extent a = ext(BASE, 2 * MB, 0);
	struct page_extent b = ext(BASE + 2 * MB - 4096, 8192, 0);
	struct page_extent c = ext(BASE + 4096, 4096, 0);

	assert_int_equal(page_lookup_insert(&a), 0);
	assert_int_equal(page_lookup_insert(&b), -EBUSY);
	assert_int_equal(page_lookup_insert(&c), -EBUSY);
	assert_null(page_lookup(BASE + 2 * MB));
	page_lookup_remove(&a);
	assert_int_equal(page_lookup_insert(&c), 0);
	page_lookup_remove(&c);
}

/* Malformed extents are refused with -EINVAL. */
static void test_bad_extents(void **state)
{
	struct page_extent e = ext(BASE + 1, 4096, 0);

	assert_int_equal(page_lookup_insert(&e), -EINVAL);
	e = ext(BASE, 0, 0);
	assert_int_equal(page_lookup_insert(&e), -EINVAL);
	e = ext(1ULL << 53, 4096, 0);
	assert_int_equal(page_lookup_insert(&e), -EINVAL);
}

/* Ordinary process addresses, and addresses beyond the covered space, find nothing. */
static void test_ordinary_misses(void **state)
{
	int local;

	assert_null(page_lookup((uintptr_t)&local));
	assert_null(page_lookup((uintptr_t)pages));
	assert_null(page_lookup(~0ULL));
	assert_null(page_lookup(1ULL << 53));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_slots),
		cmocka_unit_test(test_shared_slot),
		cmocka_unit_test(test_unaligned_span),
		cmocka_unit_test(test_overlap_refused),
		cmocka_unit_test(test_bad_extents),
		cmocka_unit_test(test_ordinary_misses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
