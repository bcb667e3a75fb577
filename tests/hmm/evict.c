// SPDX-License-Identifier: MIT
/*
 * Description: unbinding a device that holds migrated pages brings every
 * byte home first: after the device is gone the CPU reads all the data
 * without a single fault, and the other device's pages are untouched.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "hmm-fixture.h"

#define SIZE (12UL << 20) /* more than one 8 MiB chunk of device memory */

static void test_unbind_returns_every_byte(void **state)
{
	struct hmm_fixture *f = *state;
	struct hmm_buffer *a =
		hmm_buffer_new(SIZE, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	struct hmm_buffer *b = hmm_anon_buffer();
	struct hetmem_mm_stats before, after;
	struct hetmem_mm *mm = hetmem_mm_get();
	unsigned long i;
	uint64_t *p;

	assert_non_null(a);
	assert_non_null(b);
	for (i = 0, p = a->ptr; i < SIZE / sizeof(*p); i++)
		p[i] = i * 0x9e3779b97f4a7c15ULL;
	for (i = 0, p = b->ptr; i < HMM_BUFFER_SIZE / sizeof(*p); i++)
		p[i] = ~i;
	assert_int_equal(hmm_dmirror_cmd(f->mirror[1], dmirror_migrate_to_dev, a, SIZE / HMM_PAGE),
			 0);
	assert_int_equal(a->cpages, SIZE / HMM_PAGE);
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_migrate_to_dev, b, HMM_NPAGES), 0);

	/* Unbind device 1. */
	dmirror_close(f->mirror[1]);
	dmirror_device_destroy(f->dev[1]);
	/* A fresh device in its place, for the fixture to take down. */
	f->dev[1] = dmirror_device_create(1, 1);
	assert_false(IS_ERR(f->dev[1]));
	f->mirror[1] = dmirror_open(f->dev[1]);
	assert_false(IS_ERR(f->mirror[1]));

	hetmem_mm_stats(mm, &before);
	for (i = 0, p = a->ptr; i < SIZE / sizeof(*p); i++)
		assert_true(p[i] == i * 0x9e3779b97f4a7c15ULL);
	hetmem_mm_stats(mm, &after);
	assert_int_equal(after.faults, before.faults);

	/* Device 0's pages were not its business: still there, and right. */
	for (i = 0, p = b->ptr; i < HMM_BUFFER_SIZE / sizeof(*p); i++)
		assert_true(p[i] == ~i);
	hetmem_mm_put(mm);
	hmm_buffer_free(a);
	hmm_buffer_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unbind_returns_every_byte, hmm_fixture_setup,
						hmm_fixture_teardown),
	};

	hmm_require_uffd();
	hmm_skip_under_valgrind();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
