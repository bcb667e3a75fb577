// SPDX-License-Identifier: MIT
/*
 * Description: a new mapping at the address of an unmapped one starts
 * empty, for the CPU and for a device, also when the old mapping's pages
 * were held by a migration when it went away. Nothing of the old mapping
 * (a device-private entry, a page a migration was bringing home) may turn
 * up in the new one: not in a CPU fault, not in what hmm_range_fault()
 * reports, not in what the test device reads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "held-driver.h"

#define NPAGES 16UL
#define LEN    (NPAGES * HMM_PAGE)

/*
 * The mapping at @addr goes, for a reservation that keeps the address (no
 * other thread's mmap() can take it meanwhile): the same UNMAP event as a
 * munmap().
 */
static void unmap_keeping(uint8_t *addr, unsigned long len)
{
	assert_ptr_equal(mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
			 addr);
}

/* A fresh mapping at exactly @addr, where unmap_keeping() left a reservation. */
static uint8_t *map_again(uint8_t *addr)
{
	uint8_t *p = mmap(addr, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
			  -1, 0);

	assert_ptr_equal(p, addr);
	return p;
}

/*
 * The new mapping at @p is empty: registered for missing pages (a migration
 * to the device that moves nothing does that), a CPU fault on each page
 * finds zeros, and the device sees none of its own pages there.
 */
static void assert_fresh(struct held_dev *d, uint8_t *p)
{
	unsigned long src[NPAGES], dst[NPAGES];
	struct migrate_vma args;

	assert_int_equal(held_device_pages_at(d, p, NPAGES), 0);
	assert_int_equal(held_setup_to_dev(d, &args, p, NPAGES, src, dst), 0);
	migrate_vma_finalize(&args);
	for (unsigned long i = 0; i < LEN; i++)
		if (p[i])
			fail_msg("byte %lu of the new mapping is %#x, not 0", i, p[i]);
	assert_int_equal(held_device_pages_at(d, p, NPAGES), 0);
}

/* Unmapped and mapped again while a migration to the device holds the pages. */
static void test_reuse_during_migration_to_dev(void **state)
{
	unsigned long src[NPAGES], dst[NPAGES];
	struct held_dev *d = held_dev_create();
	struct migrate_vma args;
	uint8_t *p = held_map_pattern(LEN);

	(void)state;
	assert_non_null(d);
	assert_int_equal(held_setup_to_dev(d, &args, p, NPAGES, src, dst), 0);
	held_copy_to_dev(d, &args);
	unmap_keeping(p, LEN);
	map_again(p);
	migrate_vma_pages(&args);
	migrate_vma_finalize(&args);
	assert_fresh(d, p);
	assert_int_equal(munmap(p, LEN), 0);
	assert_int_equal(held_busy_pages(d), 0);
	assert_int_equal(held_dev_destroy(d), 0);
}

/* The same with the data on the device and a migration bringing it home. */
static void test_reuse_during_migration_home(void **state)
{
	unsigned long src[NPAGES], dst[NPAGES];
	struct held_dev *d = held_dev_create();
	uint8_t *p = held_map_pattern(LEN), *bounce = malloc(LEN);
	struct migrate_vma args;

	(void)state;
	assert_non_null(d);
	assert_non_null(bounce);
	assert_int_equal(held_to_dev(d, p, NPAGES), NPAGES);
	assert_int_equal(held_setup_to_sys(d, &args, p, NPAGES, src, dst), 0);
	assert_int_equal(args.cpages, NPAGES);
	held_copy_home(d, &args, bounce);
	unmap_keeping(p, LEN);
	map_again(p);
	migrate_vma_pages(&args);
	migrate_vma_finalize(&args);
	assert_fresh(d, p);
	assert_int_equal(munmap(p, LEN), 0);
	assert_int_equal(held_busy_pages(d), 0);
	assert_int_equal(held_dev_destroy(d), 0);
	free(bounce);
}

/* A migration home that gives up after the unmap leaves nothing behind either. */
static void test_reuse_after_migration_home_given_up(void **state)
{
	unsigned long src[NPAGES], dst[NPAGES];
	struct held_dev *d = held_dev_create();
	uint8_t *p = held_map_pattern(LEN);
	struct migrate_vma args;

	(void)state;
	assert_non_null(d);
	assert_int_equal(held_to_dev(d, p, NPAGES), NPAGES);
	assert_int_equal(held_setup_to_sys(d, &args, p, NPAGES, src, dst), 0);
	unmap_keeping(p, LEN);
	migrate_vma_finalize(&args);
	map_again(p);
	assert_fresh(d, p);
	assert_int_equal(munmap(p, LEN), 0);
	assert_int_equal(held_busy_pages(d), 0);
	assert_int_equal(held_dev_destroy(d), 0);
}

/* The new mapping written before the old migration ends keeps what it was given. */
static void test_reuse_written_during_migration_home(void **state)
{
	unsigned long src[NPAGES], dst[NPAGES];
	struct held_dev *d = held_dev_create();
	uint8_t *p = held_map_pattern(LEN), *bounce = malloc(LEN);
	struct migrate_vma args;

	(void)state;
	assert_non_null(d);
	assert_non_null(bounce);
	assert_int_equal(held_to_dev(d, p, NPAGES), NPAGES);
	assert_int_equal(held_setup_to_sys(d, &args, p, NPAGES, src, dst), 0);
	held_copy_home(d, &args, bounce);
	unmap_keeping(p, LEN);
	map_again(p);
	memset(p, 0xee, LEN);
	migrate_vma_pages(&args);
	migrate_vma_finalize(&args);
	assert_int_equal(held_device_pages_at(d, p, NPAGES), 0);
	for (unsigned long i = 0; i < LEN; i++)
		assert_int_equal(p[i], 0xee);
	assert_int_equal(munmap(p, LEN), 0);
	assert_int_equal(held_busy_pages(d), 0);
	assert_int_equal(held_dev_destroy(d), 0);
	free(bounce);
}

/* dmirror: pages on the device, unmapped, the address mapped again. */
static void test_dmirror_reuse(void **state)
{
	struct hmm_fixture *f = NULL;
	struct hmm_buffer *buffer = hmm_anon_buffer();
	uint8_t *p;

	(void)state;
	assert_non_null(buffer);
	assert_int_equal(hmm_fixture_setup((void **)&f), 0);
	memset(buffer->ptr, 0x5a, HMM_BUFFER_SIZE);
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_migrate_to_dev, buffer, HMM_NPAGES),
			 0);
	assert_int_equal(buffer->cpages, HMM_NPAGES);
	/* The device has it mapped as well. */
	assert_int_equal(hmm_dmirror_cmd(f->mirror[1], dmirror_read, buffer, HMM_NPAGES), 0);
	/* Unmapped and mapped again at once (MAP_FIXED), so nobody else takes it. */
	p = mmap(buffer->ptr, HMM_BUFFER_SIZE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	assert_ptr_equal(p, buffer->ptr);
	/* Both devices read zeros, and so does the CPU. */
	for (int m = 0; m < 2; m++) {
		memset(buffer->mirror, 0x77, HMM_BUFFER_SIZE);
		assert_int_equal(hmm_dmirror_cmd(f->mirror[m], dmirror_read, buffer, HMM_NPAGES),
				 0);
		for (unsigned long i = 0; i < HMM_BUFFER_SIZE; i++)
			if (((uint8_t *)buffer->mirror)[i])
				fail_msg("device %d read %#x at byte %lu", m,
					 ((uint8_t *)buffer->mirror)[i], i);
	}
	for (unsigned long i = 0; i < HMM_BUFFER_SIZE; i++)
		assert_int_equal(p[i], 0);
	hmm_fixture_teardown((void **)&f);
	hmm_buffer_free(buffer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reuse_during_migration_to_dev),
		cmocka_unit_test(test_reuse_during_migration_home),
		cmocka_unit_test(test_reuse_after_migration_home_given_up),
		cmocka_unit_test(test_reuse_written_during_migration_home),
		cmocka_unit_test(test_dmirror_reuse),
	};

	hmm_require_uffd();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
