// SPDX-License-Identifier: MIT
/*
 * Description: after a fork, a device mirroring the child through a
 * shared mapping
 * writes the memory both share: the parent sees the device's data.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "write-child.h"

static void test_anon_write_child_shared(void **state)
{
	hmm_write_child(*state, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_anon_write_child_shared, hmm_fixture_setup,
						hmm_fixture_teardown),
	};

	hmm_require_uffd();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
