// SPDX-License-Identifier: MIT
/*
 * Machine configs that must be refused: each bad config returns the right
 * error, and its message starts with "FILE:LINE:" naming the line to fix.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <hetmem/err.h>
#include <hetmem/log.h>
#include <hetmem/machine.h>

static char last_log[1024];

/* Keeps the expected errors off stderr, and lets a test check them. */
static void capture_log(int level, int guest, const char *msg, void *arg)
{
	if (level == HETMEM_LOG_ERR)
		snprintf(last_log, sizeof(last_log), "%s", msg);
}

/* @text is refused with @error, a message starting with @where and holding @what. */
static void expect_error(const char *text, long error, const char *where, const char *what)
{
	char err[512] = "";
	struct machine *m;

	last_log[0] = '\0';
	m = machine_load_string(text, "bad.ini", err, sizeof(err));
	if (!IS_ERR(m)) {
		machine_destroy(m);
		fail_msg("accepted; expected \"%s ... %s\" for:\n%s", where, what, text);
	}
	if (PTR_ERR(m) != error || strncmp(err, where, strlen(where)) || !strstr(err, what))
		fail_msg("got %ld \"%s\"; expected %ld \"%s ... %s\" for:\n%s", PTR_ERR(m), err,
			 error, where, what, text);
	/* The same message is logged, after the "machine: " prefix. */
	if (!strstr(last_log, err))
		fail_msg("logged \"%s\", returned \"%s\"", last_log, err);
}

#define HB    "[host-bridge hb0]\n"
#define HB_RP HB "[root-port rp0]\nparent = hb0\n" /* lines 1-3 */

/* A section type nobody knows is refused at its header. */
static void test_unknown_section_type(void **state)
{
	expect_error(HB "\n[gizmo g0]\nparent = hb0\n", -EINVAL,
		     "bad.ini:3:", "unknown section type 'gizmo'");
	expect_error(HB "[switch]\n", -EINVAL, "bad.ini:2:", "a switch section needs a name");
	expect_error(HB "[endpoint ]\n", -EINVAL,
		     "bad.ini:2:", "an endpoint section needs a name: [endpoint NAME]");
	expect_error(HB "[endpoint e0 e1]\n", -EINVAL, "bad.ini:2:", "expected a section header");
	expect_error(HB "[endpoint e.0]\n", -EINVAL, "bad.ini:2:", "bad name 'e.0'");
}

/* A key the section type does not take is refused at its line. */
static void test_unknown_key(void **state)
{
	expect_error(HB "vendor = 0x8086\ncolour = blue\n", -EINVAL,
		     "bad.ini:3:", "unknown key 'colour' for a host bridge");
	expect_error(HB_RP "bar0 = 4K\n", -EINVAL,
		     "bad.ini:4:", "unknown key 'bar0' for a root port (known: parent, acs)");
	expect_error(HB_RP "[endpoint e0]\nparent = rp0\nbar6 = 4K\n", -EINVAL,
		     "bad.ini:6:", "unknown key 'bar6'");
	expect_error(HB_RP "[endpoint e0]\nparent = rp0\nbar01 = 4K\n", -EINVAL,
		     "bad.ini:6:", "unknown key 'bar01'");
}

/* Numbers, sizes and words that do not parse or are out of range. */
static void test_bad_number(void **state)
{
	expect_error(HB "vendor = 0x1g\n", -EINVAL,
		     "bad.ini:2:", "vendor = 0x1g: expected a number from 0x0 to 0xffff");
	expect_error(HB "domain = 0x10000\n", -EINVAL, "bad.ini:2:", "domain = 0x10000");
	expect_error(HB "p2p = maybe\n", -EINVAL,
		     "bad.ini:2:", "p2p = maybe: expected denied or allowed");
	expect_error(HB "mem-window = 0xc0000000\n", -EINVAL, "bad.ini:2:", "expected BASE SIZE");
	expect_error(HB "pref-window = 0x8000000000 1000K\n", -EINVAL,
		     "bad.ini:2:", "multiples of 1M");
	expect_error(HB "mem-window = 0xf0000000 512M\n", -EINVAL,
		     "bad.ini:2:", "must end below 4G");
	expect_error(HB_RP "[switch sw0]\nparent = rp0\nports = 33\n", -EINVAL,
		     "bad.ini:6:", "ports = 33: expected a number from 1 to 32");
	expect_error(HB_RP "[endpoint e0]\nparent = rp0\nfunction = 8\n", -EINVAL,
		     "bad.ini:6:", "function = 8: expected a number from 0 to 7");
	expect_error(HB_RP "[endpoint e0]\nparent = rp0\nclass = 0x1000000\n", -EINVAL,
		     "bad.ini:6:", "class = 0x1000000");
	expect_error(HB_RP "[endpoint e0]\nparent = rp0\nbar0 = 16Q\n", -EINVAL,
		     "bad.ini:6:", "bar0 = 16Q: expected SIZE [64] [pref]");
	expect_error(HB_RP "[endpoint e0]\nparent = rp0\nbar0 = 12K\n", -EINVAL,
		     "bad.ini:6:", "a power of two, at least 4K");
	expect_error(HB_RP "[root-port rp1]\nparent = hb0\nacs = rr,xx\n", -EINVAL,
		     "bad.ini:6:", "acs = rr,xx: expected none or a comma list");
}

/* A BAR description that is no valid BAR. */
static void test_bad_bar(void **state)
{
	expect_error(HB_RP "[endpoint e0]\nparent = rp0\nbar2 = 1M pref\n", -EINVAL,
		     "bad.ini:6:", "a prefetchable BAR must be 64-bit");
	expect_error(HB_RP "[endpoint e0]\nparent = rp0\nbar0 = 4G\n", -EINVAL,
		     "bad.ini:6:", "a 32-bit BAR is at most 2G");
	expect_error(HB_RP "[endpoint e0]\nparent = rp0\nbar5 = 4K 64\n", -EINVAL,
		     "bad.ini:6:", "a 64-bit BAR takes two slots");
	expect_error(HB_RP "[endpoint e0]\nparent = rp0\nbar1 = 4K\nbar0 = 4K 64\n", -EINVAL,
		     "bad.ini:6:", "bar1: this slot is the upper half of 64-bit bar0");
}

/* A parent nobody defined is refused at the parent key. */
static void test_unknown_parent(void **state)
{
	expect_error(HB_RP "[endpoint e0]\n\nparent = rp9\n", -EINVAL,
		     "bad.ini:6:", "parent = rp9: no section or switch port named rp9");
	expect_error(HB_RP "[switch sw0]\nparent = rp0\nports = 2\n[endpoint e0]\nparent = sw0.2\n",
		     -EINVAL, "bad.ini:8:", "switch sw0 has downstream ports sw0.0 to sw0.1");
	expect_error(HB_RP "[endpoint e0]\nparent = rp0\n[endpoint e1]\nparent = e0.0\n", -EINVAL,
		     "bad.ini:7:", "e0 is an endpoint, only switch ports are named");
}

/* Switches below their own downstream ports are refused at the first one's parent key. */
static void test_cycle(void **state)
{
	expect_error(HB "[switch sw0]\nparent = sw1.0\nports = 1\n"
			"[switch sw1]\nparent = sw0.0\nports = 1\n",
		     -EINVAL,
		     "bad.ini:3:", "switch sw0 ends up below itself (sw0 -> sw1.0 -> sw0.0)");
	expect_error(HB_RP "[switch sw0]\nports = 2\nparent = sw0.1\n", -EINVAL,
		     "bad.ini:6:", "switch sw0 ends up below itself (sw0 -> sw0.1)");
}

/* Two sections with one name are refused at the second header. */
static void test_duplicate_name(void **state)
{
	expect_error(HB_RP "\n[endpoint rp0]\nparent = rp0\n", -EINVAL,
		     "bad.ini:5:", "duplicate name rp0: already a root port at line 2");
	expect_error(HB "vendor = 0x8086\nvendor = 0x8087\n", -EINVAL,
		     "bad.ini:3:", "vendor given twice in hb0 (first at line 2)");
}

/* A port, switch or endpoint without a parent key is refused at its header. */
static void test_missing_parent(void **state)
{
	expect_error(HB "[root-port rp0]\nacs = none\n", -EINVAL,
		     "bad.ini:2:", "root-port rp0 has no parent");
	expect_error(HB_RP "[endpoint e0]\nbar0 = 4K\n", -EINVAL,
		     "bad.ini:4:", "endpoint e0 has no parent");
}

/* A parent that cannot take the child is refused at the parent key. */
static void test_parent_wrong_kind(void **state)
{
	expect_error(HB_RP "[endpoint e0]\nparent = rp0\n[endpoint e1]\nparent = e0\n", -EINVAL,
		     "bad.ini:7:",
		     "parent = e0: an endpoint goes below a root port or a switch "
		     "downstream port, e0 is an endpoint");
	expect_error(HB_RP "[root-port rp1]\nparent = rp0\n", -EINVAL,
		     "bad.ini:5:", "a root port sits on a host bridge, rp0 is a root port");
	expect_error(HB_RP "[switch sw0]\nparent = rp0\nports = 2\n[endpoint e0]\nparent = sw0\n",
		     -EINVAL, "bad.ini:8:", "not below its upstream port");
	expect_error(HB "[endpoint e0]\nparent = hb0\n", -EINVAL,
		     "bad.ini:3:", "hb0 is a host bridge");
}

/* Two functions with one number on one port; functions 1-7 without 0; a shared switch port. */
static void test_function_taken(void **state)
{
	expect_error(HB_RP
		     "[endpoint e0]\nparent = rp0\n[endpoint e1]\nparent = rp0\nfunction = 0\n",
		     -EINVAL, "bad.ini:8:", "function 0 below rp0 is taken by e0 (line 4)");
	expect_error(HB_RP "[endpoint e0]\nparent = rp0\nfunction = 2\n"
			   "[endpoint e1]\nparent = rp0\nfunction = 2\n",
		     -EINVAL, "bad.ini:9:", "function 2 below rp0 is taken by e0");
	expect_error(HB_RP "[endpoint e0]\nparent = rp0\nfunction = 1\n", -EINVAL,
		     "bad.ini:6:", "function 1 below rp0 needs a function 0");
	expect_error(HB_RP "[endpoint e0]\nparent = rp0\n[switch sw0]\nports = 1\nparent = rp0\n",
		     -EINVAL, "bad.ini:8:", "endpoint e0 is already there (line 4)");
}

/* Host bridges whose CPU windows or domains collide, or whose windows are misplaced. */
static void test_overlapping_windows(void **state)
{
	expect_error(HB "[host-bridge hb1]\ndomain = 0x1001\nbus-offset = 0x800000000000\n",
		     -EINVAL, "bad.ini:4:",
		     "hb1's mem-window (CPU 0x8000c0000000-0x8000dfffffff) overlaps hb0's "
		     "mem-window (CPU 0x8000c0000000-0x8000dfffffff, line 1)");
	expect_error("[host-bridge hb0]\npref-window = 0x10000000000 64G\n[host-bridge hb1]\n",
		     -EINVAL, "bad.ini:3:", "overlaps hb0's pref-window");
	expect_error(HB "[host-bridge hb1]\ndomain = 0x1000\n", -EINVAL,
		     "bad.ini:3:", "domain 0x1000 is already hb0's (line 1)");
	expect_error(HB "mem-window = 0xc0000000 512M\npref-window = 0xc0000000 1G\n", -EINVAL,
		     "bad.ini:3:", "mem-window and pref-window overlap");
	expect_error(HB "mem-window = 0xc0000000 512M\nbus-offset = 0x1000\n", -EINVAL,
		     "bad.ini:3:", "must lie between 2^47 and 2^64");
}

/* BARs that do not fit their host bridge's windows are refused at the largest one. */
static void test_bar_too_large(void **state)
{
	expect_error(HB_RP "[endpoint e0]\nparent = rp0\nbar0 = 16M 64\nbar2 = 128G 64 pref\n",
		     -EINVAL, "bad.ini:7:",
		     "bar2 of e0 (128G prefetchable) does not fit: the prefetchable BARs below "
		     "host bridge hb0 need 128G aligned to 128G, its pref-window (line 1) has 64G");
	expect_error(HB_RP "[endpoint e0]\nparent = rp0\nbar0 = 1G 64\n", -EINVAL,
		     "bad.ini:6:", "bar0 of e0 (1G non-prefetchable) does not fit");
	/* Neither fits alone in what the other leaves: the first is named. */
	expect_error("[host-bridge hb0]\npref-window = 0x8000000000 256M\n"
		     "[root-port rp0]\nparent = hb0\n[root-port rp1]\nparent = hb0\n"
		     "[endpoint e0]\nparent = rp0\nbar2 = 256M 64 pref\n"
		     "[endpoint e1]\nparent = rp1\nbar2 = 256M 64 pref\n",
		     -EINVAL, "bad.ini:9:",
		     "need 512M aligned to 256M, its pref-window (line 2) "
		     "has 256M");
	expect_error("[host-bridge hb0]\npref-window = 0x8000000000 0\n"
		     "[root-port rp0]\nparent = hb0\n[endpoint e0]\nparent = rp0\n"
		     "bar2 = 1M 64 pref\n",
		     -EINVAL, "bad.ini:7:", "host bridge hb0 has no pref-window");
}

/* A file that does not exist is -ENOENT, and the message names it. */
static void test_nonexistent_file(void **state)
{
	char err[512] = "";
	struct machine *m = machine_load("/nonexistent/hetmem-machine.ini", err, sizeof(err));

	assert_true(IS_ERR(m));
	assert_int_equal(PTR_ERR(m), -ENOENT);
	assert_string_equal(err, "/nonexistent/hetmem-machine.ini: No such file or directory");
}

/* An endpoint model nobody knows is refused at the model key. */
static void test_unknown_model(void **state)
{
	expect_error(HB_RP "[endpoint e0]\nparent = rp0\nbar0 = 4K\nmodel = nvme2\n", -EINVAL,
		     "bad.ini:7:", "model = nvme2: unknown model (known: endpoint, nvme, gpu)");
}

/* Lines libinih cannot read, keys outside sections, overlong lines, empty configs. */
static void test_malformed_lines(void **state)
{
	char text[400];

	expect_error(HB "vendor 0x8086\n", -EINVAL, "bad.ini:2:", "expected KEY = VALUE");
	expect_error(HB "vendor ; = 0x8086\n", -EINVAL, "bad.ini:2:", "expected KEY = VALUE");
	expect_error(HB "[root-port rp0\n", -EINVAL, "bad.ini:2:", "without ']'");
	expect_error(HB "[root-port rp0] x\n", -EINVAL, "bad.ini:2:", "text after the section");
	expect_error("\nvendor = 1\n" HB, -EINVAL,
		     "bad.ini:2:", "vendor = 1: a key before the first section header");
	expect_error(HB "= 1\n", -EINVAL, "bad.ini:2:", "a value without a key");

	snprintf(text, sizeof(text), HB "; %0200d\n", 0);
	expect_error(text, -EINVAL, "bad.ini:2:", "line longer than 199 characters");

	expect_error("", -EINVAL, "bad.ini: ", "no host bridge");
	expect_error("; nothing\n", -EINVAL, "bad.ini: ", "no host bridge");
}

/* Switches need a port count, and acs.N must name one of their ports. */
static void test_switch_ports(void **state)
{
	expect_error(HB_RP "[switch sw0]\nparent = rp0\n", -EINVAL,
		     "bad.ini:4:", "switch sw0 needs ports = N");
	expect_error(HB_RP "[switch sw0]\nparent = rp0\nacs.3 = rr\nports = 2\n", -EINVAL,
		     "bad.ini:6:", "acs.3: sw0 has 2 downstream ports (0-1)");
	expect_error(HB_RP "[switch sw0]\nparent = rp0\nports = 2\nacs.32 = rr\n", -EINVAL,
		     "bad.ini:7:", "unknown key 'acs.32'");
}

/* A host bridge runs out of root bus slots, or of bus numbers below it. */
static void test_too_many_ports(void **state)
{
	char text[8192];
	int n;

	/* 31 root ports fit (devices 1-31); the 32nd, whose parent is on line 65, does not. */
	n = snprintf(text, sizeof(text), HB);
	for (int i = 0; i < 32; i++)
		n += snprintf(text + n, sizeof(text) - (size_t)n,
			      "[root-port rp%d]\nparent = hb0\n", i);
	expect_error(text, -EINVAL, "bad.ini:65:", "host bridge hb0 has room for 31 root ports");

	/*
	 * A root port with a 32-port switch takes 34 buses: the 8th switch,
	 * parent on line 40, takes buses 240 to 272.
	 */
	n = snprintf(text, sizeof(text), HB);
	for (int i = 0; i < 8; i++)
		n += snprintf(text + n, sizeof(text) - (size_t)n,
			      "[root-port rp%d]\nparent = hb0\n[switch sw%d]\nparent = rp%d\n"
			      "ports = 32\n",
			      i, i, i);
	expect_error(text, -EINVAL, "bad.ini:40:", "host bridge hb0 runs out of bus numbers");
}

static int quiet(void **state)
{
	hetmem_log_set_handler(capture_log, NULL);
	return 0;
}

static int loud(void **state)
{
	hetmem_log_set_handler(NULL, NULL);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_section_type),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_bad_number),
		cmocka_unit_test(test_bad_bar),
		cmocka_unit_test(test_unknown_parent),
		cmocka_unit_test(test_cycle),
		cmocka_unit_test(test_duplicate_name),
		cmocka_unit_test(test_missing_parent),
		cmocka_unit_test(test_parent_wrong_kind),
		cmocka_unit_test(test_function_taken),
		cmocka_unit_test(test_overlapping_windows),
		cmocka_unit_test(test_bar_too_large),
		cmocka_unit_test(test_nonexistent_file),
		cmocka_unit_test(test_unknown_model),
		cmocka_unit_test(test_malformed_lines),
		cmocka_unit_test(test_switch_ports),
		cmocka_unit_test(test_too_many_ports),
	};

	return cmocka_run_group_tests(tests, quiet, loud);
}
