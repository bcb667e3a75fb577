// SPDX-License-Identifier: MIT
/*
 * Description: mremap() moves device-private pages with the mapping, also
 * while a migration holds them. The kernel moves device-private and
 * migration entries with the page tables (move_page_tables()), and a
 * migration that held them finishes at the new address. Every device page
 * is freed once the data is home. A mapping hetmem registered in parts is
 * refused whole (EFAULT) and keeps every byte; mirrored whole first
 * (registered whole), it moves.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "held-driver.h"

#define NPAGES 16UL
#define LEN    (NPAGES * HMM_PAGE)

/* Moves @len bytes at @p to a fresh place; returns it. */
static uint8_t *move(uint8_t *p, unsigned long len)
{
	void *to = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *got;

	assert_true(to != MAP_FAILED);
	got = mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
	if (got == MAP_FAILED)
		fail_msg("mremap: errno %d", errno);
	assert_ptr_equal(got, to);
	return got;
}

/* Device -> system: moved between setup and migrate_vma_pages(). */
static void test_moved_during_migration_home(void **state)
{
	unsigned long src[NPAGES], dst[NPAGES];
	struct held_dev *d = held_dev_create();
	uint8_t *p = held_map_pattern(LEN), *bounce = malloc(LEN), *q;
	struct migrate_vma args;

	(void)state;
	assert_non_null(d);
	assert_non_null(bounce);
	assert_int_equal(held_to_dev(d, p, NPAGES), NPAGES);
	assert_int_equal(held_setup_to_sys(d, &args, p, NPAGES, src, dst), 0);
	assert_int_equal(args.cpages, NPAGES);
	held_copy_home(d, &args, bounce);
	q = move(p, LEN);
	migrate_vma_pages(&args);
	migrate_vma_finalize(&args);
	/* Home at the new address: nothing is left on the device. */
	assert_int_equal(held_device_pages_at(d, q, NPAGES), 0);
	assert_int_equal(held_busy_pages(d), 0);
	held_assert_pattern(q, LEN);
	assert_int_equal(munmap(q, LEN), 0);
	assert_int_equal(held_dev_destroy(d), 0);
	free(bounce);
}

/* Device -> system given up after the move: the pages stay on the device, at the new address. */
static void test_moved_during_migration_home_given_up(void **state)
{
	unsigned long src[NPAGES], dst[NPAGES];
	struct held_dev *d = held_dev_create();
	uint8_t *p = held_map_pattern(LEN), *q;
	struct migrate_vma args;

	(void)state;
	assert_non_null(d);
	assert_int_equal(held_to_dev(d, p, NPAGES), NPAGES);
	assert_int_equal(held_setup_to_sys(d, &args, p, NPAGES, src, dst), 0);
	q = move(p, LEN);
	migrate_vma_finalize(&args);
	assert_int_equal(held_device_pages_at(d, q, NPAGES), NPAGES);
	held_assert_pattern(q, LEN); /* CPU faults bring them home */
	assert_int_equal(held_busy_pages(d), 0);
	assert_int_equal(munmap(q, LEN), 0);
	assert_int_equal(held_dev_destroy(d), 0);
}

/* System -> device: moved between setup and migrate_vma_pages(). */
static void test_moved_during_migration_to_dev(void **state)
{
	unsigned long src[NPAGES], dst[NPAGES];
	struct held_dev *d = held_dev_create();
	uint8_t *p = held_map_pattern(LEN), *q;
	struct migrate_vma args;

	(void)state;
	assert_non_null(d);
	assert_int_equal(held_setup_to_dev(d, &args, p, NPAGES, src, dst), 0);
	assert_int_equal(args.cpages, NPAGES);
	held_copy_to_dev(d, &args);
	q = move(p, LEN);
	migrate_vma_pages(&args);
	migrate_vma_finalize(&args);
	/* On the device at the new address; reading brings every byte home. */
	assert_int_equal(held_device_pages_at(d, q, NPAGES), NPAGES);
	held_assert_pattern(q, LEN);
	assert_int_equal(held_busy_pages(d), 0);
	assert_int_equal(munmap(q, LEN), 0);
	assert_int_equal(held_dev_destroy(d), 0);
}

/* System -> device: moved after migrate_vma_pages(), before finalize. */
static void test_moved_before_finalize(void **state)
{
	unsigned long src[NPAGES], dst[NPAGES];
	struct held_dev *d = held_dev_create();
	uint8_t *p = held_map_pattern(LEN), *q;
	struct migrate_vma args;

	(void)state;
	assert_non_null(d);
	assert_int_equal(held_setup_to_dev(d, &args, p, NPAGES, src, dst), 0);
	held_copy_to_dev(d, &args);
	migrate_vma_pages(&args);
	q = move(p, LEN);
	migrate_vma_finalize(&args);
	assert_int_equal(held_device_pages_at(d, q, NPAGES), NPAGES);
	held_assert_pattern(q, LEN);
	assert_int_equal(held_busy_pages(d), 0);
	assert_int_equal(munmap(q, LEN), 0);
	assert_int_equal(held_dev_destroy(d), 0);
}

/*
 * A mapping moved onto an address whose previous mapping was unmapped while
 * a migration held its pages, before that migration let go: the moved pages
 * wait for the slot (parked) and are all there once it is free.
 */
static void test_moved_onto_held_address(void **state)
{
	unsigned long src[NPAGES], dst[NPAGES];
	struct held_dev *d = held_dev_create();
	uint8_t *old = held_map_pattern(LEN), *p = held_map_pattern(LEN), *q;
	struct migrate_vma args;

	(void)state;
	assert_non_null(d);
	/* @old's pages on the device, a migration home holding them, then unmapped. */
	assert_int_equal(held_to_dev(d, old, NPAGES), NPAGES);
	assert_int_equal(held_setup_to_sys(d, &args, old, NPAGES, src, dst), 0);
	assert_int_equal(args.cpages, NPAGES);
	/* Unmapped, the address kept by a reservation (nobody else's mmap() takes it). */
	assert_ptr_equal(mmap(old, LEN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
			 old);
	/* @p's pages on the device too, and @p moved to where @old was. */
	assert_int_equal(held_to_dev(d, p, NPAGES), NPAGES);
	q = mremap(p, LEN, LEN, MREMAP_MAYMOVE | MREMAP_FIXED, old);
	assert_ptr_equal(q, old);
	/* Until then they wait: the device sees nothing of its own there yet. */
	assert_int_equal(held_device_pages_at(d, q, NPAGES), 0);
	/* The old migration lets go: the moved pages take their place. */
	migrate_vma_finalize(&args);
	assert_int_equal(held_device_pages_at(d, q, NPAGES), NPAGES);
	held_assert_pattern(q, LEN);
	assert_int_equal(held_busy_pages(d), 0);
	assert_int_equal(munmap(q, LEN), 0);
	assert_int_equal(held_dev_destroy(d), 0);
}

/*
 * A mapping hetmem registered in parts (pages migrated, pages a device
 * read) is several VMAs, and mremap() of the whole fails with EFAULT where
 * the kernel's HMM would move it (Documentation/hmm.md says why). Its
 * first part registered, nothing moves: every byte stays where it was,
 * for the CPU and the device.
 */
static void test_move_partly_registered_mapping_refused(void **state)
{
	struct hmm_fixture *f = NULL;
	struct hmm_buffer *buffer = hmm_anon_buffer();
	struct hmm_dmirror_cmd cmd = { 0 };
	void *to;

	(void)state;
	assert_non_null(buffer);
	assert_int_equal(hmm_fixture_setup((void **)&f), 0);
	for (unsigned long i = 0; i < HMM_BUFFER_SIZE; i++)
		((uint8_t *)buffer->ptr)[i] = held_pattern(i);
	/* Pages 0-15 on device 0, 64-71 mirrored by device 1. */
	cmd.addr = (uintptr_t)buffer->ptr;
	cmd.ptr = (uintptr_t)buffer->mirror;
	cmd.npages = 16;
	assert_int_equal(dmirror_migrate_to_dev(f->mirror[0], &cmd), 0);
	assert_int_equal(cmd.cpages, 16);
	cmd.addr = (uintptr_t)buffer->ptr + 64 * HMM_PAGE;
	cmd.npages = 8;
	assert_int_equal(dmirror_read(f->mirror[1], &cmd), 0);

	to = mmap(NULL, HMM_BUFFER_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(to != MAP_FAILED);
	assert_true(mremap(buffer->ptr, HMM_BUFFER_SIZE, HMM_BUFFER_SIZE,
			   MREMAP_MAYMOVE | MREMAP_FIXED, to) == MAP_FAILED);
	assert_int_equal(errno, EFAULT);
	munmap(to, HMM_BUFFER_SIZE);
	/* Device 1 reads its pages where they were... */
	assert_int_equal(dmirror_read(f->mirror[1], &cmd), 0);
	for (unsigned long i = 0; i < 8 * HMM_PAGE; i++)
		assert_int_equal(((uint8_t *)buffer->mirror)[i],
				 held_pattern(64 * HMM_PAGE + i));
	/* ... and the CPU every byte, those on device 0 included. */
	held_assert_pattern(buffer->ptr, HMM_BUFFER_SIZE);
	hmm_fixture_teardown((void **)&f);
	hmm_buffer_free(buffer);
}

/*
 * The same mapping mirrored whole by a device first is registered whole:
 * one VMA again, and mremap() moves it, device pages and all.
 */
static void test_move_mirrored_mapping(void **state)
{
	struct hmm_fixture *f = NULL;
	struct hmm_buffer *buffer = hmm_anon_buffer();
	struct hmm_dmirror_cmd cmd = { 0 };
	uint8_t *q;

	(void)state;
	assert_non_null(buffer);
	assert_int_equal(hmm_fixture_setup((void **)&f), 0);
	for (unsigned long i = 0; i < HMM_BUFFER_SIZE; i++)
		((uint8_t *)buffer->ptr)[i] = held_pattern(i);
	cmd.addr = (uintptr_t)buffer->ptr + 16 * HMM_PAGE;
	cmd.ptr = (uintptr_t)buffer->mirror;
	cmd.npages = 16;
	assert_int_equal(dmirror_migrate_to_dev(f->mirror[0], &cmd), 0);
	assert_int_equal(cmd.cpages, 16);
	assert_int_equal(hmm_dmirror_cmd(f->mirror[1], dmirror_read, buffer, HMM_NPAGES), 0);

	q = move(buffer->ptr, HMM_BUFFER_SIZE);
	buffer->ptr = q;
	assert_int_equal(hmm_dmirror_cmd(f->mirror[1], dmirror_read, buffer, HMM_NPAGES), 0);
	held_assert_pattern(buffer->mirror, HMM_BUFFER_SIZE);
	held_assert_pattern(q, HMM_BUFFER_SIZE);
	hmm_fixture_teardown((void **)&f);
	hmm_buffer_free(buffer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_moved_during_migration_home),
		cmocka_unit_test(test_moved_during_migration_home_given_up),
		cmocka_unit_test(test_moved_during_migration_to_dev),
		cmocka_unit_test(test_moved_before_finalize),
		cmocka_unit_test(test_moved_onto_held_address),
		cmocka_unit_test(test_move_partly_registered_mapping_refused),
		cmocka_unit_test(test_move_mirrored_mapping),
	};

	hmm_require_uffd();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
