// SPDX-License-Identifier: MIT
/*
 * Description: unmapping memory frees its device pages, also when a
 * migration holds them. The kernel's munmap() zaps device-private entries
 * and migration entries alike (zap_pte_range()); a migration that finds
 * its entries gone frees the pages it was moving. Here the application
 * unmaps the range between the steps of a migration, in each direction,
 * and every device page must be freed afterwards: the device's map can be
 * taken down (memunmap_pages() waits for the last reference). The test
 * device (dmirror) must likewise be destroyable after an unmap of pages it
 * holds. And pages nobody holds are freed only once the notifiers have
 * heard of the unmap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "held-driver.h"

#define NPAGES 16UL

/* Every device page the driver handed out was freed, and the map comes down. */
static void assert_all_freed(struct held_dev *d)
{
	unsigned long allocated = d->allocated;

	assert_int_equal(held_busy_pages(d), 0);
	assert_int_equal(__atomic_load_n(&d->freed, __ATOMIC_RELAXED), allocated);
	assert_int_equal(held_dev_destroy(d), 0);
}

/* System -> device: unmapped between setup and migrate_vma_pages(). */
static void test_to_dev_unmapped_before_pages(void **state)
{
	unsigned long src[NPAGES], dst[NPAGES];
	struct held_dev *d = held_dev_create();
	struct migrate_vma args;
	uint8_t *p = held_map_pattern(NPAGES * HMM_PAGE);

	(void)state;
	assert_non_null(d);
	assert_int_equal(held_setup_to_dev(d, &args, p, NPAGES, src, dst), 0);
	assert_int_equal(args.cpages, NPAGES);
	held_copy_to_dev(d, &args);
	assert_int_equal(munmap(p, NPAGES * HMM_PAGE), 0);
	migrate_vma_pages(&args);
	migrate_vma_finalize(&args);
	assert_all_freed(d);
}

/* System -> device: unmapped after migrate_vma_pages(), before finalize. */
static void test_to_dev_unmapped_before_finalize(void **state)
{
	unsigned long src[NPAGES], dst[NPAGES];
	struct held_dev *d = held_dev_create();
	struct migrate_vma args;
	uint8_t *p = held_map_pattern(NPAGES * HMM_PAGE);

	(void)state;
	assert_non_null(d);
	assert_int_equal(held_setup_to_dev(d, &args, p, NPAGES, src, dst), 0);
	held_copy_to_dev(d, &args);
	migrate_vma_pages(&args);
	for (unsigned long i = 0; i < NPAGES; i++)
		assert_true(src[i] & MIGRATE_PFN_MIGRATE);
	assert_int_equal(munmap(p, NPAGES * HMM_PAGE), 0);
	migrate_vma_finalize(&args);
	assert_all_freed(d);
}

/* Device -> system: unmapped between setup and migrate_vma_pages(). */
static void test_to_sys_unmapped_before_pages(void **state)
{
	unsigned long src[NPAGES], dst[NPAGES];
	struct held_dev *d = held_dev_create();
	uint8_t *p = held_map_pattern(NPAGES * HMM_PAGE), *bounce = malloc(NPAGES * HMM_PAGE);
	struct migrate_vma args;

	(void)state;
	assert_non_null(d);
	assert_non_null(bounce);
	assert_int_equal(held_to_dev(d, p, NPAGES), NPAGES);
	assert_int_equal(held_setup_to_sys(d, &args, p, NPAGES, src, dst), 0);
	assert_int_equal(args.cpages, NPAGES);
	held_copy_home(d, &args, bounce);
	assert_int_equal(munmap(p, NPAGES * HMM_PAGE), 0);
	migrate_vma_pages(&args);
	migrate_vma_finalize(&args);
	assert_all_freed(d);
	free(bounce);
}

/* Device -> system given up (finalize without pages) after the unmap. */
static void test_to_sys_unmapped_given_up(void **state)
{
	unsigned long src[NPAGES], dst[NPAGES];
	struct held_dev *d = held_dev_create();
	uint8_t *p = held_map_pattern(NPAGES * HMM_PAGE);
	struct migrate_vma args;

	(void)state;
	assert_non_null(d);
	assert_int_equal(held_to_dev(d, p, NPAGES), NPAGES);
	assert_int_equal(held_setup_to_sys(d, &args, p, NPAGES, src, dst), 0);
	assert_int_equal(args.cpages, NPAGES);
	assert_int_equal(munmap(p, NPAGES * HMM_PAGE), 0);
	migrate_vma_finalize(&args);
	assert_all_freed(d);
}

/* Half of the range unmapped while held, the other half migrates normally. */
static void test_to_dev_half_unmapped(void **state)
{
	unsigned long src[NPAGES], dst[NPAGES];
	struct held_dev *d = held_dev_create();
	struct migrate_vma args;
	uint8_t *p = held_map_pattern(NPAGES * HMM_PAGE);

	(void)state;
	assert_non_null(d);
	assert_int_equal(held_setup_to_dev(d, &args, p, NPAGES, src, dst), 0);
	held_copy_to_dev(d, &args);
	assert_int_equal(munmap(p + NPAGES / 2 * HMM_PAGE, NPAGES / 2 * HMM_PAGE), 0);
	migrate_vma_pages(&args);
	migrate_vma_finalize(&args);
	/* The half still mapped is on the device; reading it brings it home intact. */
	assert_int_equal(held_device_pages_at(d, p, NPAGES / 2), NPAGES / 2);
	for (unsigned long i = 0; i < NPAGES / 2 * HMM_PAGE; i++)
		assert_int_equal(p[i], held_pattern(i));
	assert_int_equal(munmap(p, NPAGES / 2 * HMM_PAGE), 0);
	assert_all_freed(d);
}

/* dmirror: pages on the device, the range unmapped, the device destroyed. */
static void test_dmirror_unmap_then_destroy(void **state)
{
	struct hmm_fixture *f = NULL;
	struct hmm_buffer *buffer = hmm_anon_buffer();
	struct dmirror_counters c;
	struct hetmem_mm *mm;

	(void)state;
	assert_non_null(buffer);
	assert_int_equal(hmm_fixture_setup((void **)&f), 0);
	memset(buffer->ptr, 0x5a, HMM_BUFFER_SIZE);
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_migrate_to_dev, buffer, HMM_NPAGES),
			 0);
	assert_int_equal(buffer->cpages, HMM_NPAGES);
	assert_int_equal(munmap(buffer->ptr, HMM_BUFFER_SIZE), 0);
	buffer->ptr = NULL;
	mm = hetmem_mm_get();
	assert_false(IS_ERR(mm));
	hetmem_mm_sync(mm); /* the unmap's event is handled */
	hetmem_mm_put(mm);
	/* Nothing is left to evict: the unmap freed every page. */
	dmirror_device_counters(f->dev[0], &c);
	assert_int_equal(c.calloc, c.cfree);
	hmm_fixture_teardown((void **)&f);
	hmm_buffer_free(buffer);
}

static struct held_dev *told_dev;
static unsigned long freed_when_told = ~0UL;

static bool note_freed(struct mmu_interval_notifier *sub, const struct mmu_notifier_range *range,
		       unsigned long cur_seq)
{
	mmu_interval_set_seq(sub, cur_seq);
	if (range->event == MMU_NOTIFY_UNMAP)
		__atomic_store_n(&freed_when_told, __atomic_load_n(&told_dev->freed, __ATOMIC_RELAXED),
				 __ATOMIC_RELAXED);
	return true;
}

/*
 * Not held: pages on the device, the range unmapped. Its device pages are
 * freed only after the notifiers have heard of the unmap, as the kernel
 * frees zapped pages after invalidate_range_start(): a mirror still
 * mapping a freed page would write into whatever range the page is
 * given to next.
 */
static void test_pages_freed_after_notifiers(void **state)
{
	static const struct mmu_interval_notifier_ops ops = { .invalidate = note_freed };
	struct mmu_interval_notifier sub = { 0 };
	struct held_dev *d = held_dev_create();
	uint8_t *p = held_map_pattern(NPAGES * HMM_PAGE);
	unsigned long before;

	(void)state;
	assert_non_null(d);
	assert_int_equal(held_to_dev(d, p, NPAGES), NPAGES);
	told_dev = d;
	assert_int_equal(mmu_interval_notifier_insert(&sub, d->mm, (uintptr_t)p, NPAGES * HMM_PAGE,
						      &ops), 0);
	before = __atomic_load_n(&d->freed, __ATOMIC_RELAXED);
	assert_int_equal(munmap(p, NPAGES * HMM_PAGE), 0);
	hetmem_mm_sync(d->mm);
	assert_int_equal(__atomic_load_n(&freed_when_told, __ATOMIC_RELAXED), before);
	assert_int_equal(__atomic_load_n(&d->freed, __ATOMIC_RELAXED), before + NPAGES);
	mmu_interval_notifier_remove(&sub);
	assert_all_freed(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_to_dev_unmapped_before_pages),
		cmocka_unit_test(test_to_dev_unmapped_before_finalize),
		cmocka_unit_test(test_to_sys_unmapped_before_pages),
		cmocka_unit_test(test_to_sys_unmapped_given_up),
		cmocka_unit_test(test_to_dev_half_unmapped),
		cmocka_unit_test(test_dmirror_unmap_then_destroy),
		cmocka_unit_test(test_pages_freed_after_notifiers),
	};

	hmm_require_uffd();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
