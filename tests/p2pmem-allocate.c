// SPDX-License-Identifier: MIT
/*
 * The p2pmem attributes of a provider: size, available and published read
 * as sysfs prints them, and allocate, whose every shared mmap maps a fresh
 * chunk of BAR memory that the CPU, the special-page lookup and a peer's
 * DMA all agree on, and whose munmap may take any page-aligned part.
 *
 * Provider: b's BAR2 (16 MiB) in the fixture topology; a sits beside b
 * below sw0, so a reaches b's BAR by bus address.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <cmocka.h>

#include <hetmem/dma-mapping.h>
#include <hetmem/memremap.h>
#include <hetmem/pci-p2pdma.h>
#include "fabric-fixture.h"

#define BAR_SIZE (16UL << 20)
#define PROT_RW	 (PROT_READ | PROT_WRITE)

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));
	struct fixture_opts o = { 0 };

	quiet_logs();
	if (!x || fixture_build(x, &o))
		return -1;
	if (pci_p2pdma_add_resource(x->b, 2, 0, 0))
		return -1;
	pci_p2pmem_publish(x->b, true);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	fixture_destroy(x);
	free(x);
	return 0;
}

static unsigned long long attr_value(struct pci_dev *dev, const char *attr)
{
	char buf[64], *end;
	long n = pci_p2pmem_attr_show(dev, attr, buf, sizeof(buf));
	unsigned long long v;

	assert_true(n > 0);
	assert_int_equal(buf[n - 1], '\n');
	v = strtoull(buf, &end, 10);
	assert_ptr_equal(end, buf + n - 1);
	return v;
}

static size_t available(struct fixture *x)
{
	return attr_value(x->b, "available");
}

static char *map(struct fixture *x, size_t len)
{
	char *p = pci_p2pmem_mmap(x->b, len, PROT_RW, MAP_SHARED, 0);

	assert_false(IS_ERR_OR_NULL(p));
	return p;
}

/* Offset into b's BAR2 of the page behind @ptr, found through the lookup. */
static uint64_t bar_offset(struct fixture *x, const void *ptr)
{
	struct page *pg = virt_to_page(ptr);

	assert_non_null(pg);
	assert_true(is_pci_p2pdma_page(pg));
	return (page_to_pfn(pg) << PAGE_SHIFT) - pci_resource_start(x->b, 2) +
	       ((uintptr_t)ptr & ~PAGE_MASK);
}

/* size, available and published read as sysfs prints them. */
static void test_attributes(void **state)
{
	struct fixture *x = *state;
	char buf[32];

	assert_int_equal(pci_p2pmem_attr_show(x->b, "size", buf, sizeof(buf)), 9);
	assert_string_equal(buf, "16777216\n");
	assert_int_equal(pci_p2pmem_attr_show(x->b, "available", buf, sizeof(buf)), 9);
	assert_string_equal(buf, "16777216\n");
	assert_int_equal(pci_p2pmem_attr_show(x->b, "published", buf, sizeof(buf)), 2);
	assert_string_equal(buf, "1\n");
	pci_p2pmem_publish(x->b, false);
	assert_int_equal(pci_p2pmem_attr_show(x->b, "published", buf, sizeof(buf)), 2);
	assert_string_equal(buf, "0\n");
	pci_p2pmem_publish(x->b, true);
	assert_int_equal(attr_value(x->b, "published"), 1);
}

/* Unknown names, short buffers and devices without p2pmem are refused. */
static void test_attribute_errors(void **state)
{
	struct fixture *x = *state;
	char buf[32];

	assert_int_equal(pci_p2pmem_attr_show(x->b, "allocate", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(pci_p2pmem_attr_show(x->b, "sizes", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(pci_p2pmem_attr_show(x->b, "", buf, sizeof(buf)), -ENOENT);
	/* "16777216\n" needs ten bytes with its terminator. */
	assert_int_equal(pci_p2pmem_attr_show(x->b, "size", buf, 4), -ENOSPC);
	assert_int_equal(pci_p2pmem_attr_show(x->b, "size", buf, 9), -ENOSPC);
	assert_int_equal(pci_p2pmem_attr_show(x->b, "size", buf, 10), 9);
	assert_int_equal(pci_p2pmem_attr_show(x->b, "published", buf, 2), -ENOSPC);
	assert_int_equal(pci_p2pmem_attr_show(x->a, "size", buf, sizeof(buf)), -ENODEV);
	assert_int_equal(pci_p2pmem_attr_show(x->c, "available", buf, sizeof(buf)), -ENODEV);
	assert_int_equal(pci_p2pmem_attr_show(x->a, "published", buf, sizeof(buf)), -ENODEV);
}

/* available drops by what an mmap took and comes back with its munmap. */
static void test_available_follows_mmap(void **state)
{
	struct fixture *x = *state;
	char *p = map(x, 64 << 10);

	assert_int_equal(available(x), BAR_SIZE - (64 << 10));
	assert_int_equal(attr_value(x->b, "size"), BAR_SIZE);
	assert_int_equal(pci_p2pmem_munmap(x->b, p, 64 << 10), 0);
	assert_int_equal(available(x), BAR_SIZE);
}

/* Private mappings, offsets, empty and oversized lengths are refused; nothing leaks. */
static void test_mmap_errors(void **state)
{
	struct fixture *x = *state;
	char *whole;

	assert_int_equal(PTR_ERR(pci_p2pmem_mmap(x->b, 4096, PROT_RW, MAP_PRIVATE, 0)), -EINVAL);
	assert_int_equal(PTR_ERR(pci_p2pmem_mmap(x->b, 4096, PROT_RW, 0, 0)), -EINVAL);
	assert_int_equal(PTR_ERR(pci_p2pmem_mmap(x->b, 4096, PROT_RW, MAP_SHARED, 4096)), -EINVAL);
	assert_int_equal(PTR_ERR(pci_p2pmem_mmap(x->b, 4096, PROT_RW, MAP_SHARED, 1)), -EINVAL);
	assert_int_equal(PTR_ERR(pci_p2pmem_mmap(x->b, 0, PROT_RW, MAP_SHARED, 0)), -EINVAL);
	assert_int_equal(PTR_ERR(pci_p2pmem_mmap(x->b, BAR_SIZE + 1, PROT_RW, MAP_SHARED, 0)),
			 -ENOMEM);
	assert_int_equal(PTR_ERR(pci_p2pmem_mmap(x->a, 4096, PROT_RW, MAP_SHARED, 0)), -ENODEV);
	assert_int_equal(available(x), BAR_SIZE);

	/* The whole BAR fits once; then not a page more. */
	whole = map(x, BAR_SIZE);
	assert_int_equal(available(x), 0);
	assert_int_equal(PTR_ERR(pci_p2pmem_mmap(x->b, 4096, PROT_RW, MAP_SHARED, 0)), -ENOMEM);
	assert_int_equal(pci_p2pmem_munmap(x->b, whole, BAR_SIZE), 0);
	assert_int_equal(available(x), BAR_SIZE);
}

/* Writes through the mapping land in the BAR at the chunk's place, and back. */
static void test_mapping_is_bar_memory(void **state)
{
	struct fixture *x = *state;
	const size_t len = 5 * PAGE_SIZE;
	uint8_t *bar = pci_iomap(x->b, 2);
	char *p = map(x, len);
	uint64_t off = bar_offset(x, p);

	assert_int_equal(off % PAGE_SIZE, 0);
	assert_true(off + len <= BAR_SIZE);
	assert_ptr_equal(pci_p2pdma_pgmap_provider(page_pgmap(virt_to_page(p))), x->b);
	for (size_t i = 0; i < len; i++)
		p[i] = (char)(i * 7 + 3);
	for (size_t i = 0; i < len; i += 997)
		assert_int_equal(bar[off + i], (uint8_t)(i * 7 + 3));
	assert_int_equal(bar[off + len - 1], (uint8_t)((len - 1) * 7 + 3));
	/* Every page of the mapping is the next page of the BAR. */
	for (size_t pg = 0; pg < len / PAGE_SIZE; pg++)
		assert_int_equal(bar_offset(x, p + pg * PAGE_SIZE + 5), off + pg * PAGE_SIZE + 5);
	bar[off + 3 * PAGE_SIZE + 1] = 0xee;
	assert_int_equal((uint8_t)p[3 * PAGE_SIZE + 1], 0xee);
	assert_int_equal(pci_p2pmem_munmap(x->b, p, len), 0);
}

/* fio's length, 16 pages plus two 4095-byte tails, maps and is usable to its last byte. */
static void test_fio_unaligned_length(void **state)
{
	struct fixture *x = *state;
	const size_t len = 4096 * 16 + 2 * 4095;
	uint8_t *bar = pci_iomap(x->b, 2);
	char *p = map(x, len);
	uint64_t off = bar_offset(x, p);

	/* Rounded up to 18 pages. */
	assert_int_equal(available(x), BAR_SIZE - 18 * PAGE_SIZE);
	memset(p, 0x6b, len);
	assert_int_equal(bar[off], 0x6b);
	assert_int_equal(bar[off + len - 1], 0x6b);
	assert_non_null(virt_to_page(p + 18 * PAGE_SIZE - 1));
	assert_null(virt_to_page(p + 18 * PAGE_SIZE));
	assert_int_equal(pci_p2pmem_munmap(x->b, p, len), 0);
	assert_int_equal(available(x), BAR_SIZE);
}

/* fio unmaps only bs*iodepth + 4095 bytes; the chunk stays until the rest goes. */
static void test_fio_partial_unmap(void **state)
{
	struct fixture *x = *state;
	const size_t bs = 4096, iodepth = 16;
	const size_t len = bs * iodepth + 2 * 4095;
	char *p = map(x, len);
	uint64_t off = bar_offset(x, p);

	/* 4096*16 + 4095 rounds up to 17 pages: one of the 18 is left. */
	assert_int_equal(pci_p2pmem_munmap(x->b, p, bs * iodepth + 4095), 0);
	assert_null(virt_to_page(p));
	assert_null(virt_to_page(p + 17 * PAGE_SIZE - 1));
	assert_int_equal(bar_offset(x, p + 17 * PAGE_SIZE), off + 17 * PAGE_SIZE);
	assert_int_equal(available(x), BAR_SIZE - 18 * PAGE_SIZE);
	/* The page left is still mapped and still the BAR. */
	p[17 * PAGE_SIZE + 10] = 0x42;
	assert_int_equal(((uint8_t *)pci_iomap(x->b, 2))[off + 17 * PAGE_SIZE + 10], 0x42);

	assert_int_equal(pci_p2pmem_munmap(x->b, p + 17 * PAGE_SIZE, 4095), 0);
	assert_null(virt_to_page(p + 17 * PAGE_SIZE));
	assert_int_equal(available(x), BAR_SIZE);
}

/* Unmapping a prefix drops those pages from the lookup and keeps the rest. */
static void test_unmap_prefix(void **state)
{
	struct fixture *x = *state;
	char *p = map(x, 8 * PAGE_SIZE);
	uint64_t off = bar_offset(x, p);

	assert_int_equal(pci_p2pmem_munmap(x->b, p, 3 * PAGE_SIZE), 0);
	assert_null(virt_to_page(p));
	assert_null(virt_to_page(p + 3 * PAGE_SIZE - 1));
	for (int pg = 3; pg < 8; pg++)
		assert_int_equal(bar_offset(x, p + pg * PAGE_SIZE), off + pg * PAGE_SIZE);
	assert_int_equal(available(x), BAR_SIZE - 8 * PAGE_SIZE);
	assert_int_equal(pci_p2pmem_munmap(x->b, p + 3 * PAGE_SIZE, 5 * PAGE_SIZE), 0);
	assert_null(virt_to_page(p + 7 * PAGE_SIZE));
	assert_int_equal(available(x), BAR_SIZE);
}

/* Unmapping a suffix drops those pages and keeps the front. */
static void test_unmap_suffix(void **state)
{
	struct fixture *x = *state;
	char *p = map(x, 8 * PAGE_SIZE);
	uint64_t off = bar_offset(x, p);

	assert_int_equal(pci_p2pmem_munmap(x->b, p + 6 * PAGE_SIZE, 2 * PAGE_SIZE), 0);
	assert_null(virt_to_page(p + 6 * PAGE_SIZE));
	assert_null(virt_to_page(p + 8 * PAGE_SIZE - 1));
	for (int pg = 0; pg < 6; pg++)
		assert_int_equal(bar_offset(x, p + pg * PAGE_SIZE + 1), off + pg * PAGE_SIZE + 1);
	assert_int_equal(available(x), BAR_SIZE - 8 * PAGE_SIZE);
	/* The front is still writable BAR memory. */
	p[6 * PAGE_SIZE - 1] = 0x17;
	assert_int_equal(((uint8_t *)pci_iomap(x->b, 2))[off + 6 * PAGE_SIZE - 1], 0x17);
	assert_int_equal(pci_p2pmem_munmap(x->b, p, 6 * PAGE_SIZE), 0);
	assert_null(virt_to_page(p));
	assert_int_equal(available(x), BAR_SIZE);
}

/* Unmapping the middle leaves two working pieces; the chunk returns with the last. */
static void test_unmap_middle(void **state)
{
	struct fixture *x = *state;
	char *p = map(x, 8 * PAGE_SIZE);
	uint64_t off = bar_offset(x, p);

	assert_int_equal(pci_p2pmem_munmap(x->b, p + 3 * PAGE_SIZE, 2 * PAGE_SIZE), 0);
	assert_null(virt_to_page(p + 3 * PAGE_SIZE));
	assert_null(virt_to_page(p + 5 * PAGE_SIZE - 1));
	for (int pg = 0; pg < 8; pg++) {
		if (pg == 3 || pg == 4)
			continue;
		assert_int_equal(bar_offset(x, p + pg * PAGE_SIZE), off + pg * PAGE_SIZE);
	}
	/* A page inside the hole is no mapping's any more. */
	assert_int_equal(pci_p2pmem_munmap(x->b, p + 4 * PAGE_SIZE, PAGE_SIZE), -EINVAL);

	assert_int_equal(pci_p2pmem_munmap(x->b, p + 5 * PAGE_SIZE, 3 * PAGE_SIZE), 0);
	assert_null(virt_to_page(p + 5 * PAGE_SIZE));
	assert_int_equal(bar_offset(x, p + 2 * PAGE_SIZE), off + 2 * PAGE_SIZE);
	assert_int_equal(available(x), BAR_SIZE - 8 * PAGE_SIZE);
	assert_int_equal(pci_p2pmem_munmap(x->b, p, 3 * PAGE_SIZE), 0);
	assert_null(virt_to_page(p));
	assert_int_equal(available(x), BAR_SIZE);
}

/* munmap of an address that is not a live mapping, or unaligned, is -EINVAL. */
static void test_munmap_errors(void **state)
{
	struct fixture *x = *state;
	char *heap = aligned_alloc(PAGE_SIZE, 2 * PAGE_SIZE);
	char *p = map(x, 2 * PAGE_SIZE);

	assert_int_equal(pci_p2pmem_munmap(x->b, heap, PAGE_SIZE), -EINVAL);
	assert_int_equal(pci_p2pmem_munmap(x->b, p + 1, PAGE_SIZE), -EINVAL);
	assert_int_equal(pci_p2pmem_munmap(x->b, p, 0), -EINVAL);
	/* Not a mapping of that provider. */
	assert_int_equal(pci_p2pmem_munmap(x->a, p, PAGE_SIZE), -EINVAL);
	assert_non_null(virt_to_page(p));
	assert_int_equal(available(x), BAR_SIZE - 2 * PAGE_SIZE);

	assert_int_equal(pci_p2pmem_munmap(x->b, p, 2 * PAGE_SIZE), 0);
	assert_int_equal(pci_p2pmem_munmap(x->b, p, 2 * PAGE_SIZE), -EINVAL);
	assert_int_equal(available(x), BAR_SIZE);
	free(heap);
}

/* Two mmaps get disjoint chunks of the BAR. */
static void test_two_mmaps_disjoint(void **state)
{
	struct fixture *x = *state;
	const size_t len = 16 * PAGE_SIZE;
	uint8_t *bar = pci_iomap(x->b, 2);
	char *p = map(x, len), *q = map(x, len);
	uint64_t po = bar_offset(x, p), qo = bar_offset(x, q);

	assert_ptr_not_equal(p, q);
	assert_true(po + len <= qo || qo + len <= po);
	assert_int_equal(available(x), BAR_SIZE - 2 * len);
	memset(p, 0x11, len);
	memset(q, 0x22, len);
	for (size_t i = 0; i < len; i += 511) {
		assert_int_equal(bar[po + i], 0x11);
		assert_int_equal(bar[qo + i], 0x22);
	}
	assert_int_equal(pci_p2pmem_munmap(x->b, p, len), 0);
	/* q is untouched by p going away. */
	assert_int_equal(bar_offset(x, q + len - 1), qo + len - 1);
	assert_int_equal(q[len - 1], 0x22);
	assert_int_equal(pci_p2pmem_munmap(x->b, q, len), 0);
	assert_int_equal(available(x), BAR_SIZE);
}

/* A pointer into the mapping DMA-maps to b's bus address, and a's DMA lands in it. */
static void test_dma_into_mapping(void **state)
{
	struct fixture *x = *state;
	const size_t len = 8 * PAGE_SIZE, at = 2 * PAGE_SIZE + 100, n = 3000;
	char *p = map(x, len);
	uint64_t off = bar_offset(x, p);
	uint8_t data[3000];
	dma_addr_t dma;

	memset(p, 0, len);
	for (size_t i = 0; i < n; i++)
		data[i] = (uint8_t)(i ^ 0xa5);
	dma = dma_map_single(x->a, p + at, n, DMA_FROM_DEVICE);
	assert_int_equal(dma_mapping_error(x->a, dma), 0);
	assert_int_equal(dma, pci_bus_address(x->b, 2) + off + at);

	pci_set_master(x->a);
	pci_fabric_reset_stats(x->f);
	assert_int_equal(pci_dma_write(x->a, dma, data, n), 0);
	assert_memory_equal(p + at, data, n);
	/* Bytes around the target are untouched. */
	assert_int_equal(p[at - 1], 0);
	assert_int_equal(p[at + n], 0);
	/* Switch-local: nothing went up through rp0 to the root complex. */
	assert_int_equal(link_total(x->rp0), 0);
	assert_true(link_total(x->b) >= n);
	dma_unmap_single(x->a, dma, n, DMA_FROM_DEVICE);
	assert_int_equal(pci_p2pmem_munmap(x->b, p, len), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_attributes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attribute_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_available_follows_mmap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mmap_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mapping_is_bar_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fio_unaligned_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fio_partial_unmap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmap_prefix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmap_suffix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmap_middle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_munmap_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_mmaps_disjoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dma_into_mapping, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
