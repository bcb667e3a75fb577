// SPDX-License-Identifier: MIT
/*
 * Unit test of the I/O page tables: map, unmap, translate, permissions,
 * all-or-nothing mapping, the 48-bit aperture.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <hetmem/iommu.h>

#define PG IOMMU_PAGE_SIZE

/* A mapped page translates with its offset; neighbours do not. */
static void test_map_translate(void **state)
{
	struct iommu_domain *d = iommu_domain_alloc();

	assert_non_null(d);
	assert_int_equal(iommu_map(d, 0x100000, 0x7f0000001000, PG, IOMMU_READ | IOMMU_WRITE), 0);
	assert_int_equal(iommu_iova_to_phys(d, 0x100123), 0x7f0000001123);
	assert_int_equal(iommu_iova_to_phys(d, 0x101000), 0);
	assert_int_equal(iommu_iova_to_phys(d, 0xff000), 0);
	iommu_domain_free(d);
}

/* Bad arguments are refused with -EINVAL and change nothing. */
static void test_map_bad_args(void **state)
{
	struct iommu_domain *d = iommu_domain_alloc();

	assert_int_equal(iommu_map(d, 0x1001, 0x2000, PG, IOMMU_READ), -EINVAL);
	assert_int_equal(iommu_map(d, 0x1000, 0x2001, PG, IOMMU_READ), -EINVAL);
	assert_int_equal(iommu_map(d, 0x1000, 0x2000, 100, IOMMU_READ), -EINVAL);
	assert_int_equal(iommu_map(d, 0x1000, 0x2000, PG, 0), -EINVAL);
	assert_int_equal(iommu_map(d, 0x1000, 0x2000, PG, 0x10), -EINVAL);
	assert_int_equal(iommu_map(d, 1ULL << 48, 0x2000, PG, IOMMU_READ), -EINVAL);
	assert_int_equal(iommu_map(d, (1ULL << 48) - PG, 0x2000, 2 * PG, IOMMU_READ), -EINVAL);
	assert_int_equal(iommu_map(d, 0x1000, 0x2000, 0, IOMMU_READ), -EINVAL);
	assert_int_equal(iommu_iova_to_phys(d, 0x1000), 0);
	iommu_domain_free(d);
}

/* Mapping over an existing entry fails whole: no page of the range is mapped. */
static void test_map_overlap_all_or_nothing(void **state)
{
	struct iommu_domain *d = iommu_domain_alloc();

	assert_int_equal(iommu_map(d, 0x3000, 0x10000, PG, IOMMU_READ), 0);
	assert_int_equal(iommu_map(d, 0x1000, 0x20000, 4 * PG, IOMMU_READ), -EEXIST);
	assert_int_equal(iommu_iova_to_phys(d, 0x1000), 0);
	assert_int_equal(iommu_iova_to_phys(d, 0x2000), 0);
	assert_int_equal(iommu_iova_to_phys(d, 0x3000), 0x10000);
	iommu_domain_free(d);
}

/* Translation stops at the first page that is unmapped, lacks the permission, or is not contiguous. */
static void test_translate_runs(void **state)
{
	struct iommu_domain *d = iommu_domain_alloc();
	uint64_t pa = 0;

	assert_int_equal(iommu_map(d, 0x40000, 0x500000, 3 * PG, IOMMU_READ | IOMMU_WRITE), 0);
	assert_int_equal(iommu_map(d, 0x43000, 0x900000, PG, IOMMU_READ | IOMMU_WRITE), 0);
	assert_int_equal(iommu_map(d, 0x44000, 0x901000, PG, IOMMU_READ), 0);

	assert_int_equal(iommu_translate(d, 0x40800, 16 * PG, IOMMU_WRITE, &pa), 3 * PG - 0x800);
	assert_int_equal(pa, 0x500800);
	assert_int_equal(iommu_translate(d, 0x43000, 16 * PG, IOMMU_WRITE, &pa), PG);
	assert_int_equal(pa, 0x900000);
	assert_int_equal(iommu_translate(d, 0x43000, 16 * PG, IOMMU_READ, &pa), 2 * PG);
	assert_int_equal(iommu_translate(d, 0x44000, 8, IOMMU_WRITE, &pa), 0);
	assert_int_equal(iommu_translate(d, 0x45000, 8, IOMMU_READ, &pa), 0);
	assert_int_equal(iommu_translate(d, 0x40000, 100, IOMMU_READ, &pa), 100);
	iommu_domain_free(d);
}

/* Unmap reports what it removed, and removed pages stop translating. */
static void test_unmap(void **state)
{
	struct iommu_domain *d = iommu_domain_alloc();

	assert_int_equal(iommu_map(d, 0x10000, 0x80000, 4 * PG, IOMMU_READ), 0);
	assert_int_equal(iommu_unmap(d, 0xf000, 3 * PG), 2 * PG);
	assert_int_equal(iommu_iova_to_phys(d, 0x10000), 0);
	assert_int_equal(iommu_iova_to_phys(d, 0x12000), 0x82000);
	assert_int_equal(iommu_unmap(d, 0x10001, PG), 0);
	/* A freed range can be mapped again. */
	assert_int_equal(iommu_map(d, 0x10000, 0x90000, PG, IOMMU_WRITE), 0);
	iommu_domain_free(d);
}

/* Tables span every level: addresses far apart in the 48-bit space coexist. */
static void test_sparse_high(void **state)
{
	struct iommu_domain *d = iommu_domain_alloc();
	uint64_t hi = (1ULL << 48) - PG;

	assert_int_equal(iommu_map(d, hi, 0x1000, PG, IOMMU_READ), 0);
	assert_int_equal(iommu_map(d, 0, 0x2000, PG, IOMMU_READ), 0);
	assert_int_equal(iommu_iova_to_phys(d, hi + 5), 0x1005);
	assert_int_equal(iommu_iova_to_phys(d, 5), 0x2005);
	assert_int_equal(iommu_iova_to_phys(d, 1ULL << 48), 0);
	iommu_domain_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_translate),
		cmocka_unit_test(test_map_bad_args),
		cmocka_unit_test(test_map_overlap_all_or_nothing),
		cmocka_unit_test(test_translate_runs),
		cmocka_unit_test(test_unmap),
		cmocka_unit_test(test_sparse_high),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
