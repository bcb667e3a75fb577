// SPDX-License-Identifier: MIT
/*
 * Unit test of the logger: level filtering, the handler, the guest-error
 * count.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#define pr_fmt(fmt) "logtest: " fmt
#include <hetmem/log.h>

struct captured {
	int n;
	int level;
	int guest;
	char msg[256];
};

static void capture(int level, int guest, const char *msg, void *arg)
{
	struct captured *c = arg;

	c->n++;
	c->level = level;
	c->guest = guest;
	snprintf(c->msg, sizeof(c->msg), "%s", msg);
}

/* Messages above the level are dropped; at or below it they reach the handler with their prefix. */
static void test_level_filter(void **state)
{
	struct captured c = { 0 };

	hetmem_log_set_handler(capture, &c);
	hetmem_log_set_level(HETMEM_LOG_WARN);
	pr_info("not shown %d", 1);
	assert_int_equal(c.n, 0);
	pr_warn("shown %d\n", 2);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.level, HETMEM_LOG_WARN);
	assert_string_equal(c.msg, "logtest: shown 2");
	hetmem_log_set_level(HETMEM_LOG_DEBUG);
	pr_debug("debug");
	assert_int_equal(c.n, 2);
	hetmem_log_set_handler(NULL, NULL);
}

/* Guest errors are counted even when the level hides them. */
static void test_guest_errors_counted(void **state)
{
	struct captured c = { 0 };
	unsigned long before = hetmem_guest_errors();

	hetmem_log_set_handler(capture, &c);
	hetmem_log_set_level(HETMEM_LOG_ERR);
	guest_err("bad doorbell %u", 7);
	assert_int_equal(hetmem_guest_errors(), before + 1);
	assert_int_equal(c.n, 0);
	hetmem_log_set_level(HETMEM_LOG_WARN);
	guest_err("bad doorbell %u", 8);
	assert_int_equal(c.n, 1);
	assert_true(c.guest);
	assert_string_equal(c.msg, "guest error: logtest: bad doorbell 8");
	hetmem_log_set_handler(NULL, NULL);
}

/* Out-of-range levels are clamped and the previous level is returned. */
static void test_level_clamped(void **state)
{
	hetmem_log_set_level(HETMEM_LOG_INFO);
	assert_int_equal(hetmem_log_set_level(99), HETMEM_LOG_INFO);
	assert_int_equal(hetmem_log_get_level(), HETMEM_LOG_DEBUG);
	hetmem_log_set_level(-5);
	assert_int_equal(hetmem_log_get_level(), HETMEM_LOG_ERR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_level_filter),
		cmocka_unit_test(test_guest_errors_counted),
		cmocka_unit_test(test_level_clamped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
