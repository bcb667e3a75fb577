// SPDX-License-Identifier: MIT
/*
 * P2P providers and their pool: registering BAR ranges, publishing,
 * allocating and freeing, bad frees, exhaustion, bus addresses, and a
 * provider that goes away while memory is allocated.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include <hetmem/memremap.h>
#include <hetmem/pci-p2pdma.h>
#include "fabric-fixture.h"

#define MB (1UL << 20)

static int setup(void **state)
{
	static struct fixture x;
	struct fixture_opts o = { 0 };

	quiet_logs();
	if (fixture_build(&x, &o))
		return -1;
	*state = &x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	pci_p2pdma_release(x->b);
	pci_p2pdma_release(x->c);
	fixture_destroy(x);
	return 0;
}

static size_t avail(struct pci_dev *dev)
{
	char buf[32];

	if (pci_p2pmem_attr_show(dev, "available", buf, sizeof(buf)) < 0)
		return 0;
	return strtoull(buf, NULL, 10);
}

/* add_resource refuses what is not CPU-mapped memory inside the BAR. */
static void test_add_resource_errors(void **state)
{
	struct fixture *x = *state;

	assert_int_equal(pci_p2pdma_add_resource(x->b, 1, 0, 0), -EINVAL); /* upper half */
	assert_int_equal(pci_p2pdma_add_resource(x->b, 4, 0, 0), -EINVAL); /* none */
	assert_int_equal(pci_p2pdma_add_resource(x->b, 2, 0, 16 * MB), -EINVAL);
	assert_int_equal(pci_p2pdma_add_resource(x->b, 2, 0, 100), -EINVAL);
	assert_int_equal(pci_p2pdma_add_resource(x->b, 2, 16 * MB, 4096), -EINVAL);
	assert_int_equal(pci_p2pdma_add_resource(x->b, 2, 1000, 0), -EINVAL);
	assert_int_equal(pci_p2pdma_add_resource(x->sw0, 0, 0, 0), -EINVAL);
	assert_false(pci_has_p2pmem(x->b));
	assert_null(pci_alloc_p2pmem(x->b, 4096));
}

/* Two ranges of one BAR make one pool; the same range twice is refused. */
static void test_add_resource(void **state)
{
	struct fixture *x = *state;
	char buf[32];

	assert_int_equal(pci_p2pdma_add_resource(x->b, 2, 8 * MB, 0), 0);
	assert_int_equal(pci_p2pdma_add_resource(x->b, 2, 4 * MB, 8 * MB), 0);
	assert_int_equal(pci_p2pdma_add_resource(x->b, 2, 4 * MB, 8 * MB), -EBUSY);
	assert_int_equal(pci_p2pmem_attr_show(x->b, "size", buf, sizeof(buf)), 9);
	assert_string_equal(buf, "12582912\n");
	assert_int_equal(avail(x->b), 12 * MB);
	assert_false(pci_has_p2pmem(x->b));
	pci_p2pmem_publish(x->b, true);
	assert_true(pci_has_p2pmem(x->b));
}

/* Allocations come from the BAR: CPU pointer into its mapping, bus address inside it, P2P pages. */
static void test_alloc_free(void **state)
{
	struct fixture *x = *state;
	uint8_t *bar = pci_iomap(x->b, 2);
	uint8_t *p = pci_alloc_p2pmem(x->b, 10000), *q;
	struct page *pg;

	assert_non_null(p);
	assert_true(p >= bar && p < bar + 12 * MB);
	assert_int_equal(avail(x->b), 12 * MB - 3 * 4096);
	assert_int_equal(pci_p2pmem_virt_to_bus(x->b, p + 5),
			 pci_bus_address(x->b, 2) + (p - bar) + 5);
	pg = virt_to_page(p);
	assert_non_null(pg);
	assert_true(is_pci_p2pdma_page(pg));
	assert_ptr_equal(pci_p2pdma_pgmap_provider(pg->pgmap), x->b);
	assert_int_equal(page_to_pfn(pg), (pci_resource_start(x->b, 2) + (p - bar)) >> PAGE_SHIFT);
	assert_int_equal(pci_p2pmem_virt_to_bus(x->b, bar - 4096), 0);
	memset(p, 0xab, 10000);
	assert_int_equal(bar[p - bar + 9999], 0xab);

	q = pci_alloc_p2pmem(x->b, 4096);
	assert_non_null(q);
	assert_true(q >= p + 12288 || q + 4096 <= p);
	pci_free_p2pmem(x->b, p, 10000);
	pci_free_p2pmem(x->b, q, 4096);
	assert_int_equal(avail(x->b), 12 * MB);
}

/* Bad frees are logged and change nothing: foreign address, wrong size, double free. */
static void test_bad_free(void **state)
{
	struct fixture *x = *state;
	uint8_t *p = pci_alloc_p2pmem(x->b, 8192);
	int local;

	pci_free_p2pmem(x->b, &local, 4096);
	pci_free_p2pmem(x->b, p, 4096);
	pci_free_p2pmem(x->b, p + 4096, 4096);
	pci_free_p2pmem(x->c, p, 8192); /* c has no pool */
	assert_int_equal(avail(x->b), 12 * MB - 8192);
	pci_free_p2pmem(x->b, p, 8192);
	assert_int_equal(avail(x->b), 12 * MB);
	pci_free_p2pmem(x->b, p, 8192);
	assert_int_equal(avail(x->b), 12 * MB);
}

/* Asking for more than is available returns NULL and leaks nothing. */
static void test_exhaustion(void **state)
{
	struct fixture *x = *state;
	void *big = pci_alloc_p2pmem(x->b, 8 * MB), *more;

	assert_non_null(big);
	assert_null(pci_alloc_p2pmem(x->b, 8 * MB));
	assert_null(pci_alloc_p2pmem(x->b, 64 * MB));
	assert_null(pci_alloc_p2pmem(x->b, 0));
	assert_int_equal(avail(x->b), 4 * MB);
	more = pci_alloc_p2pmem(x->b, 4 * MB);
	assert_non_null(more);
	assert_int_equal(avail(x->b), 0);
	pci_free_p2pmem(x->b, big, 8 * MB);
	pci_free_p2pmem(x->b, more, 4 * MB);
	assert_int_equal(avail(x->b), 12 * MB);
}

/* The scatterlist helpers allocate one segment and free it. */
static void test_sgl(void **state)
{
	struct fixture *x = *state;
	unsigned int nents = 0;
	struct scatterlist *sg = pci_p2pmem_alloc_sgl(x->b, &nents, 65536);

	assert_non_null(sg);
	assert_int_equal(nents, 1);
	assert_int_equal(sg->length, 65536);
	assert_true(sg_is_last(sg));
	assert_true(is_pci_p2pdma_page(virt_to_page(sg->buf)));
	assert_int_equal(avail(x->b), 12 * MB - 65536);
	pci_p2pmem_free_sgl(x->b, sg);
	assert_int_equal(avail(x->b), 12 * MB);
	assert_null(pci_p2pmem_alloc_sgl(x->b, &nents, 64 * MB));
}

struct late_free {
	struct pci_dev *dev;
	void *p;
	int freed;
};

static void *free_later(void *arg)
{
	struct late_free *lf = arg;

	usleep(50000);
	__atomic_store_n(&lf->freed, 1, __ATOMIC_RELEASE);
	pci_free_p2pmem(lf->dev, lf->p, 4096);
	return NULL;
}

/* A provider cannot go away under a live allocation: try_release says -EBUSY, release waits. */
static void test_release_waits(void **state)
{
	struct fixture *x = *state;
	struct late_free lf = { .dev = x->c };
	pthread_t t;
	uint64_t pfn;

	assert_int_equal(pci_p2pdma_add_resource(x->c, 2, 0, 0), 0);
	pci_p2pmem_publish(x->c, true);
	lf.p = pci_alloc_p2pmem(x->c, 4096);
	assert_non_null(lf.p);
	pfn = page_to_pfn(virt_to_page(lf.p));
	assert_int_equal(pci_p2pdma_try_release(x->c), -EBUSY);
	assert_true(pci_has_p2pmem(x->c));
	pthread_create(&t, NULL, free_later, &lf);
	pci_p2pdma_release(x->c);
	assert_int_equal(__atomic_load_n(&lf.freed, __ATOMIC_ACQUIRE), 1);
	pthread_join(t, NULL);
	assert_false(pci_has_p2pmem(x->c));
	assert_null(pci_alloc_p2pmem(x->c, 4096));
	assert_null(pfn_to_page(pfn));
	/* Nothing allocated: try_release succeeds. */
	assert_int_equal(pci_p2pdma_add_resource(x->c, 2, 0, 0), 0);
	assert_int_equal(pci_p2pdma_try_release(x->c), 0);
	assert_int_equal(pci_p2pmem_attr_show(x->c, "size", (char[8]){ 0 }, 8), -ENODEV);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_resource_errors),
		cmocka_unit_test(test_add_resource),
		cmocka_unit_test(test_alloc_free),
		cmocka_unit_test(test_bad_free),
		cmocka_unit_test(test_exhaustion),
		cmocka_unit_test(test_sgl),
		cmocka_unit_test(test_release_waits),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
