// SPDX-License-Identifier: MIT
/*
 * Description: a snapshot reports each page without faulting it: an error
 * for PROT_NONE and for a hole, the zero page read-only, a read-only page,
 * a read-write page, a page on this device (local, writable), and a page
 * on the other device (not present for this one).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "hmm-fixture.h"

static void test_snapshot(void **state)
{
	struct hmm_fixture *f = *state;
	struct hmm_buffer *buffer =
		hmm_buffer_new(7 * HMM_PAGE, 7, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	unsigned char *p, *m;
	int *ptr, val;

	assert_non_null(buffer);
	p = buffer->ptr;
	assert_int_equal(munmap(p + HMM_PAGE, HMM_PAGE), 0);
	assert_int_equal(mprotect(p + 2 * HMM_PAGE, HMM_PAGE, PROT_READ), 0);
	val = *(volatile int *)(p + 2 * HMM_PAGE) + 3;
	assert_int_equal(val, 3);
	assert_int_equal(mprotect(p + 3 * HMM_PAGE, HMM_PAGE, PROT_READ | PROT_WRITE), 0);
	*(int *)(p + 3 * HMM_PAGE) = val;
	assert_int_equal(mprotect(p + 3 * HMM_PAGE, HMM_PAGE, PROT_READ), 0);
	assert_int_equal(mprotect(p + 4 * HMM_PAGE, 3 * HMM_PAGE, PROT_READ | PROT_WRITE), 0);
	ptr = (int *)(p + 4 * HMM_PAGE);
	*ptr = val;

	/* Page 5 to device 0, page 6 to device 1. */
	buffer->ptr = p + 5 * HMM_PAGE;
	free(buffer->mirror);
	buffer->mirror = malloc(HMM_PAGE);
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_migrate_to_dev, buffer, 1), 0);
	assert_int_equal(buffer->cpages, 1);
	buffer->ptr = p + 6 * HMM_PAGE;
	assert_int_equal(hmm_dmirror_cmd(f->mirror[1], dmirror_migrate_to_dev, buffer, 1), 0);
	assert_int_equal(buffer->cpages, 1);

	buffer->ptr = p;
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_snapshot, buffer, 7), 0);
	assert_int_equal(buffer->cpages, 7);
	m = buffer->mirror;
	assert_int_equal(m[0], HMM_DMIRROR_PROT_ERROR);
	assert_int_equal(m[1], HMM_DMIRROR_PROT_ERROR);
	assert_int_equal(m[2], HMM_DMIRROR_PROT_ZERO | HMM_DMIRROR_PROT_READ);
	assert_int_equal(m[3], HMM_DMIRROR_PROT_READ);
	assert_int_equal(m[4], HMM_DMIRROR_PROT_WRITE);
	assert_int_equal(m[5], HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL | HMM_DMIRROR_PROT_WRITE);
	assert_int_equal(m[6], HMM_DMIRROR_PROT_NONE);
	hmm_buffer_free(buffer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_snapshot, hmm_fixture_setup,
						hmm_fixture_teardown),
	};

	hmm_require_uffd();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
