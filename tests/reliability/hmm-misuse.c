// SPDX-License-Identifier: MIT
/*
 * Description: the HMM entry points refuse bad arguments with the errno
 * their kernel-doc lists, and nothing is changed by a refused call.
 * migrate_vma_setup(), hmm_range_fault(), mmu_interval_notifier_insert()
 * and the test device's commands get unaligned, empty, wrapping and
 * unmapped ranges and missing arrays; the memory they named keeps its
 * contents and stays usable. The tests/hmm programs cover the refusals
 * that need a particular mapping (read-only: -EPERM; shared or file
 * memory: -ENOENT).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <hetmem/hmm.h>
#include <hetmem/migrate.h>
#include <hetmem/mmu_notifier.h>
#include "../hmm/hmm-fixture.h"

#define NPAGES 8UL

struct ctx {
	struct hmm_fixture *f;
	uint8_t *mem; /* NPAGES mapped, then one unmapped page */
	uint8_t *hole;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	void *f;

	if (!c || hmm_fixture_setup(&f))
		return -1;
	c->f = f;
	c->mem = mmap(NULL, (NPAGES + 1) * HMM_PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c->mem == MAP_FAILED)
		return -1;
	c->hole = c->mem + NPAGES * HMM_PAGE;
	munmap(c->hole, HMM_PAGE);
	for (unsigned long i = 0; i < NPAGES * HMM_PAGE; i++)
		c->mem[i] = (uint8_t)(i * 7);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	void *f = c->f;

	munmap(c->mem, NPAGES * HMM_PAGE);
	hmm_fixture_teardown(&f);
	free(c);
	return 0;
}

static void assert_intact(struct ctx *c)
{
	for (unsigned long i = 0; i < NPAGES * HMM_PAGE; i++)
		if (c->mem[i] != (uint8_t)(i * 7))
			fail_msg("byte %lu changed", i);
}

/*
 * Every test device command, every bad range: -EINVAL; for unmapped memory
 * -EFAULT, and -EBUSY for exclusive access (as the kernel's test driver).
 */
static void test_dmirror_bad_ranges(void **state)
{
	struct ctx *c = *state;
	typedef int (*dmirror_op_fn)(struct dmirror *, struct hmm_dmirror_cmd *);
	static const dmirror_op_fn ops[] = {
		dmirror_read,
		dmirror_write,
		dmirror_migrate_to_dev,
		dmirror_migrate_to_sys,
		dmirror_snapshot,
		dmirror_exclusive,
	};
	uint8_t *buf = malloc((NPAGES + 1) * HMM_PAGE);
	struct dmirror *d = c->f->mirror[0];

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct hmm_dmirror_cmd cmd = { .ptr = (uintptr_t)buf };

		cmd.addr = (uintptr_t)c->mem + 1; /* unaligned */
		cmd.npages = 1;
		assert_int_equal(ops[i](d, &cmd), -EINVAL);
		cmd.addr = (uintptr_t)c->mem; /* empty */
		cmd.npages = 0;
		assert_int_equal(ops[i](d, &cmd), -EINVAL);
		cmd.addr = ~0UL & ~(HMM_PAGE - 1); /* wraps */
		cmd.npages = 2;
		assert_int_equal(ops[i](d, &cmd), -EINVAL);
	}
	/* Running into unmapped memory. */
	{
		struct hmm_dmirror_cmd cmd = { .addr = (uintptr_t)c->mem,
					       .ptr = (uintptr_t)buf,
					       .npages = NPAGES + 1 };

		assert_int_equal(dmirror_read(d, &cmd), -EFAULT);
		assert_int_equal(dmirror_write(d, &cmd), -EFAULT);
		assert_int_equal(dmirror_migrate_to_dev(d, &cmd), -EINVAL);
		assert_int_equal(dmirror_migrate_to_sys(d, &cmd), -EINVAL);
		/* As lib/test_hmm.c: exclusive access that cannot be had is busy. */
		assert_int_equal(dmirror_exclusive(d, &cmd), -EBUSY);
	}
	assert_intact(c);
	/* And the memory still works with the device. */
	{
		struct hmm_dmirror_cmd cmd = { .addr = (uintptr_t)c->mem,
					       .ptr = (uintptr_t)buf,
					       .npages = NPAGES };

		assert_int_equal(dmirror_migrate_to_dev(d, &cmd), 0);
		assert_int_equal(cmd.cpages, NPAGES);
		assert_memory_equal(buf, c->mem, NPAGES * HMM_PAGE);
	}
	assert_intact(c);
	free(buf);
}

/* migrate_vma_setup(): -EINVAL for each malformed request, nothing collected. */
static void test_migrate_vma_setup_refusals(void **state)
{
	struct ctx *c = *state;
	unsigned long src[NPAGES + 1], dst[NPAGES + 1];
	struct migrate_vma good = {
		.src = src,
		.dst = dst,
		.start = (uintptr_t)c->mem,
		.end = (uintptr_t)c->mem + NPAGES * HMM_PAGE,
		.flags = MIGRATE_VMA_SELECT_SYSTEM,
	};
	struct migrate_vma a;

	a = good;
	a.start += 1;
	assert_int_equal(migrate_vma_setup(&a), -EINVAL);
	a = good;
	a.end -= 1;
	assert_int_equal(migrate_vma_setup(&a), -EINVAL);
	a = good;
	a.end = a.start;
	assert_int_equal(migrate_vma_setup(&a), -EINVAL);
	a = good;
	a.end = a.start - HMM_PAGE;
	assert_int_equal(migrate_vma_setup(&a), -EINVAL);
	a = good;
	a.src = NULL;
	assert_int_equal(migrate_vma_setup(&a), -EINVAL);
	a = good;
	a.dst = NULL;
	assert_int_equal(migrate_vma_setup(&a), -EINVAL);
	a = good;
	a.end += HMM_PAGE; /* runs into the hole */
	assert_int_equal(migrate_vma_setup(&a), -EINVAL);
	assert_intact(c);
	/* The well-formed request still goes through (and collects every page). */
	a = good;
	assert_int_equal(migrate_vma_setup(&a), 0);
	assert_int_equal(a.cpages, NPAGES);
	/* No destinations given: nothing moves, every page is restored. */
	migrate_vma_pages(&a);
	migrate_vma_finalize(&a);
	assert_intact(c);
	/* Finalize straight after setup, without migrate_vma_pages(): the same. */
	a = good;
	assert_int_equal(migrate_vma_setup(&a), 0);
	assert_int_equal(a.cpages, NPAGES);
	migrate_vma_finalize(&a);
	assert_intact(c);
}

static bool no_invalidate(struct mmu_interval_notifier *sub, const struct mmu_notifier_range *r,
			  unsigned long seq)
{
	mmu_interval_set_seq(sub, seq);
	return true;
}

static const struct mmu_interval_notifier_ops ops = { .invalidate = no_invalidate };

/* hmm_range_fault() the way a driver calls it: a fresh sequence, again while -EBUSY. */
static int range_fault(struct hmm_range *r)
{
	int ret, tries = 0;

	do {
		r->notifier_seq = mmu_interval_read_begin(r->notifier);
		ret = hmm_range_fault(r);
	} while (ret == -EBUSY && ++tries < 100);
	return ret;
}

/* hmm_range_fault() and mmu_interval_notifier_insert(): the documented refusals. */
static void test_range_fault_refusals(void **state)
{
	struct ctx *c = *state;
	struct hetmem_mm *mm = hetmem_mm_get();
	struct mmu_interval_notifier sub = { 0 }, bad = { 0 };
	unsigned long pfns[NPAGES + 1];
	struct hmm_range good, r;

	assert_false(IS_ERR(mm));
	assert_int_equal(mmu_interval_notifier_insert(&bad, mm, (uintptr_t)c->mem, 0, &ops),
			 -EINVAL);
	assert_int_equal(
		mmu_interval_notifier_insert(&bad, mm, ~0UL - HMM_PAGE, 2 * HMM_PAGE, &ops),
		-EINVAL);
	assert_int_equal(mmu_interval_notifier_insert(&sub, mm, (uintptr_t)c->mem,
						      (NPAGES + 1) * HMM_PAGE, &ops),
			 0);
	good = (struct hmm_range){
		.notifier = &sub,
		.start = (uintptr_t)c->mem,
		.end = (uintptr_t)c->mem + NPAGES * HMM_PAGE,
		.hmm_pfns = pfns,
		.default_flags = HMM_PFN_REQ_FAULT,
	};
	r = good;
	r.notifier = NULL;
	assert_int_equal(hmm_range_fault(&r), -EINVAL);
	r = good;
	r.hmm_pfns = NULL;
	assert_int_equal(range_fault(&r), -EINVAL);
	r = good;
	r.start += 8;
	assert_int_equal(range_fault(&r), -EINVAL);
	r = good;
	r.end = r.start;
	assert_int_equal(range_fault(&r), -EINVAL);
	r = good;
	r.end += HMM_PAGE; /* a fault asked for in the hole */
	assert_int_equal(range_fault(&r), -EFAULT);
	/* Without a request the hole is only reported. */
	r.default_flags = 0;
	assert_int_equal(range_fault(&r), 0);
	assert_int_equal(pfns[NPAGES], HMM_PFN_ERROR);
	/* The well-formed request faults everything in. */
	r = good;
	assert_int_equal(range_fault(&r), 0);
	for (unsigned long i = 0; i < NPAGES; i++)
		assert_true(pfns[i] & HMM_PFN_VALID);
	mmu_interval_notifier_remove(&sub);
	hetmem_mm_put(mm);
	assert_intact(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dmirror_bad_ranges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_vma_setup_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_range_fault_refusals, setup, teardown),
	};

	hmm_require_uffd();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
