// SPDX-License-Identifier: MIT
/*
 * Unit test of the machine config value parsers (value.c): what is
 * accepted, what is refused, and how sizes and ACS bits are written back.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "internal.h"

/* Decimal and 0x numbers; no octal, signs, blanks or trailing junk. */
static void test_numbers(void **state)
{
	uint64_t v;

	assert_int_equal(mc_parse_u64("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(mc_parse_u64("42", &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(mc_parse_u64("010", &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(mc_parse_u64("0x1f", &v), 0);
	assert_int_equal(v, 0x1f);
	assert_int_equal(mc_parse_u64("0XFFFF", &v), 0);
	assert_int_equal(v, 0xffff);
	assert_int_equal(mc_parse_u64("18446744073709551615", &v), 0);
	assert_true(v == UINT64_MAX);

	assert_int_equal(mc_parse_u64("18446744073709551616", &v), -ERANGE);
	assert_int_equal(mc_parse_u64("0x10000000000000000", &v), -ERANGE);
	assert_int_equal(mc_parse_u64("", &v), -EINVAL);
	assert_int_equal(mc_parse_u64("0x", &v), -EINVAL);
	assert_int_equal(mc_parse_u64("-1", &v), -EINVAL);
	assert_int_equal(mc_parse_u64(" 1", &v), -EINVAL);
	assert_int_equal(mc_parse_u64("12abc", &v), -EINVAL);
	assert_int_equal(mc_parse_u64("0x12g", &v), -EINVAL);
}

/* Sizes take one binary suffix, in either case. */
static void test_sizes(void **state)
{
	uint64_t v;

	assert_int_equal(mc_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(mc_parse_size("16K", &v), 0);
	assert_int_equal(v, 16384);
	assert_int_equal(mc_parse_size("256m", &v), 0);
	assert_int_equal(v, 256ULL << 20);
	assert_int_equal(mc_parse_size("64G", &v), 0);
	assert_true(v == 64ULL << 30);
	assert_int_equal(mc_parse_size("2T", &v), 0);
	assert_true(v == 2ULL << 40);
	assert_int_equal(mc_parse_size("0x10M", &v), 0);
	assert_int_equal(v, 16ULL << 20);

	assert_int_equal(mc_parse_size("K", &v), -EINVAL);
	assert_int_equal(mc_parse_size("16Q", &v), -EINVAL);
	assert_int_equal(mc_parse_size("16KK", &v), -EINVAL);
	assert_int_equal(mc_parse_size("16 K", &v), -EINVAL);
	assert_int_equal(mc_parse_size("17179869184G", &v), -ERANGE);
}

/* ACS lists: "none", or names separated by commas, blanks allowed. */
static void test_acs(void **state)
{
	uint16_t acs;

	assert_int_equal(mc_parse_acs("none", &acs), 0);
	assert_int_equal(acs, 0);
	assert_int_equal(mc_parse_acs("rr,cr", &acs), 0);
	assert_int_equal(acs, PCI_ACS_RR | PCI_ACS_CR);
	assert_int_equal(mc_parse_acs(" sv , uf,dt ", &acs), 0);
	assert_int_equal(acs, PCI_ACS_SV | PCI_ACS_UF | PCI_ACS_DT);
	assert_int_equal(mc_parse_acs("sv,tb,rr,cr,uf,ec,dt", &acs), 0);
	assert_int_equal(acs, 0x7f);

	assert_int_equal(mc_parse_acs("", &acs), -EINVAL);
	assert_int_equal(mc_parse_acs("rr,,cr", &acs), -EINVAL);
	assert_int_equal(mc_parse_acs("rr,", &acs), -EINVAL);
	assert_int_equal(mc_parse_acs("rr cr", &acs), -EINVAL);
	assert_int_equal(mc_parse_acs("none,rr", &acs), -EINVAL);
	assert_int_equal(mc_parse_acs("RR", &acs), -EINVAL);
}

/* Windows are exactly two sizes. */
static void test_windows(void **state)
{
	uint64_t base, size;

	assert_int_equal(mc_parse_window("0xc0000000 512M", &base, &size), 0);
	assert_true(base == 0xc0000000ULL && size == 512ULL << 20);
	assert_int_equal(mc_parse_window("  3G\t256M ", &base, &size), 0);
	assert_true(base == 3ULL << 30 && size == 256ULL << 20);

	assert_int_equal(mc_parse_window("0xc0000000", &base, &size), -EINVAL);
	assert_int_equal(mc_parse_window("1M 2M 3M", &base, &size), -EINVAL);
	assert_int_equal(mc_parse_window("1M two", &base, &size), -EINVAL);
	assert_int_equal(mc_parse_window("", &base, &size), -EINVAL);
}

/* BARs: a size, then "64" and "pref" in any order. */
static void test_bars(void **state)
{
	unsigned int flags;
	uint64_t size;

	assert_int_equal(mc_parse_bar("16K", &size, &flags), 0);
	assert_true(size == 16384 && flags == 0);
	assert_int_equal(mc_parse_bar("16M 64", &size, &flags), 0);
	assert_true(size == 16ULL << 20 && flags == PCI_BAR_MEM64);
	assert_int_equal(mc_parse_bar("256M pref 64", &size, &flags), 0);
	assert_true(flags == (PCI_BAR_MEM64 | PCI_BAR_PREFETCH));

	assert_int_equal(mc_parse_bar("", &size, &flags), -EINVAL);
	assert_int_equal(mc_parse_bar("16K 32", &size, &flags), -EINVAL);
	assert_int_equal(mc_parse_bar("64 16K", &size, &flags), -EINVAL);
}

/* Sizes and ACS bits are written the way configs spell them. */
static void test_format(void **state)
{
	char buf[24];

	assert_string_equal(mc_format_size(0, buf, sizeof(buf)), "0");
	assert_string_equal(mc_format_size(1000, buf, sizeof(buf)), "1000");
	assert_string_equal(mc_format_size(1536, buf, sizeof(buf)), "1536");
	assert_string_equal(mc_format_size(16384, buf, sizeof(buf)), "16K");
	assert_string_equal(mc_format_size(17ULL << 20, buf, sizeof(buf)), "17M");
	assert_string_equal(mc_format_size(3ULL << 30, buf, sizeof(buf)), "3G");
	assert_string_equal(mc_format_size(64ULL << 40, buf, sizeof(buf)), "64T");
	assert_string_equal(mc_format_size(1ULL << 63, buf, sizeof(buf)), "8E");

	assert_string_equal(mc_format_acs(0, buf, sizeof(buf)), "-");
	assert_string_equal(mc_format_acs(PCI_ACS_RR | PCI_ACS_CR, buf, sizeof(buf)), "RR CR");
	assert_string_equal(mc_format_acs(0x7f, buf, sizeof(buf)), "SV TB RR CR UF EC DT");
}

/* Rounding up saturates instead of wrapping to a small number. */
static void test_align_up(void **state)
{
	assert_int_equal(mc_align_up(0, 4096), 0);
	assert_int_equal(mc_align_up(1, 4096), 4096);
	assert_int_equal(mc_align_up(4096, 4096), 4096);
	assert_true(mc_align_up(UINT64_MAX - 10, 1 << 20) == (UINT64_MAX & ~((1ULL << 20) - 1)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_acs),
		cmocka_unit_test(test_windows),
		cmocka_unit_test(test_bars),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_align_up),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
