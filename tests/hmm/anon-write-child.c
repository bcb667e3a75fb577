// SPDX-License-Identifier: MIT
/*
 * Description: after a fork, a device mirroring the child through a
 * private mapping
 * writes a copy of its own: the parent's memory does not change.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "write-child.h"

static void test_anon_write_child(void **state)
{
	hmm_write_child(*state, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_anon_write_child, hmm_fixture_setup,
						hmm_fixture_teardown),
	};

	hmm_require_uffd();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
