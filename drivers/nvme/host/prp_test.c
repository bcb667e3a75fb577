// SPDX-License-Identifier: MIT
/*
 * White-box test of PRP and SGL building from mapped scatterlists, with
 * made-up DMA addresses and no controller: PRP1 only, PRP2 as a page, PRP
 * lists of one page and chained across pages, page-sized segments that are
 * not contiguous, the inputs PRPs cannot describe, SGLs with the data block
 * in the command, one segment page and chained segment pages, and how many
 * list pages a transfer needs.
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "host.h"

#define NR_LISTS    4
#define LIST_DMA(i) (0x7000000000ULL + (uint64_t)(i)*0x10000)
#define BUF_DMA	    0x100000000ULL

struct lists {
	struct nvme_list_page page[NR_LISTS];
};

static struct lists *lists_alloc(void)
{
	struct lists *l = calloc(1, sizeof(*l));

	for (int i = 0; i < NR_LISTS; i++) {
		l->page[i].cpu = aligned_alloc(4096, 4096);
		memset(l->page[i].cpu, 0xee, 4096);
		l->page[i].dma = LIST_DMA(i);
	}
	return l;
}

static void lists_free(struct lists *l)
{
	for (int i = 0; i < NR_LISTS; i++)
		free(l->page[i].cpu);
	free(l);
}

static int setup(void **state)
{
	*state = lists_alloc();
	return 0;
}

static int teardown(void **state)
{
	lists_free(*state);
	return 0;
}

static uint64_t entry(struct lists *l, int page, int i)
{
	return le64toh(((uint64_t *)l->page[page].cpu)[i]);
}

/* One mapped segment at @addr of @len bytes. */
static void one_seg(struct scatterlist *sg, dma_addr_t addr, unsigned int len)
{
	sg_init_table(sg, 1);
	sg->dma_address = addr;
	sg->dma_length = len;
	sg->length = len;
}

/* @n page-sized segments at the given addresses, the first at @off into its page. */
static void page_segs(struct scatterlist *sg, int n, const dma_addr_t *pages, unsigned int off,
		      unsigned int last_len)
{
	sg_init_table(sg, (unsigned int)n);
	for (int i = 0; i < n; i++) {
		sg[i].dma_address = pages[i] + (i == 0 ? off : 0);
		sg[i].dma_length = i == n - 1 ? last_len : 4096 - (i == 0 ? off : 0);
		sg[i].length = sg[i].dma_length;
	}
}

/* Data inside one page: PRP1 with its offset, no PRP2. */
static void test_prp1_only(void **state)
{
	struct lists *l = *state;
	struct nvme_command cmd = { .flags = NVME_CMD_PSDT_SGL };
	struct scatterlist sg;

	one_seg(&sg, BUF_DMA + 0x200, 0xe00);
	assert_int_equal(nvme_build_prps(&cmd, &sg, 1, l->page, NR_LISTS), 0);
	assert_int_equal(le64toh(cmd.prp1), BUF_DMA + 0x200);
	assert_int_equal(cmd.prp2, 0);
	assert_int_equal(cmd.flags & NVME_CMD_PSDT_MASK, NVME_CMD_PSDT_PRP);
}

/* Data ending in the second page: PRP2 is that page, not a list. */
static void test_prp2_page(void **state)
{
	struct lists *l = *state;
	struct nvme_command cmd = { 0 };
	struct scatterlist sg;

	one_seg(&sg, BUF_DMA + 0x800, 4096);
	assert_int_equal(nvme_build_prps(&cmd, &sg, 1, l->page, NR_LISTS), 0);
	assert_int_equal(le64toh(cmd.prp1), BUF_DMA + 0x800);
	assert_int_equal(le64toh(cmd.prp2), BUF_DMA + 4096);
	one_seg(&sg, BUF_DMA, 8192);
	assert_int_equal(nvme_build_prps(&cmd, &sg, 1, l->page, NR_LISTS), 0);
	assert_int_equal(le64toh(cmd.prp2), BUF_DMA + 4096);
}

/* Three pages and more: PRP2 points at a list of the pages after the first. */
static void test_prp_list(void **state)
{
	struct lists *l = *state;
	struct nvme_command cmd = { 0 };
	struct scatterlist sg;

	one_seg(&sg, BUF_DMA + 0x10, 3 * 4096);
	assert_int_equal(nvme_build_prps(&cmd, &sg, 1, l->page, NR_LISTS), 0);
	assert_int_equal(le64toh(cmd.prp1), BUF_DMA + 0x10);
	assert_int_equal(le64toh(cmd.prp2), LIST_DMA(0));
	/* 0x10 + 12 KiB spans four pages: PRP1 and three entries. */
	assert_int_equal(entry(l, 0, 0), BUF_DMA + 4096);
	assert_int_equal(entry(l, 0, 1), BUF_DMA + 8192);
	assert_int_equal(entry(l, 0, 2), BUF_DMA + 12288);
	assert_int_equal(entry(l, 0, 3), 0xeeeeeeeeeeeeeeeeULL); /* untouched */
}

/* 512 entries fill one list page exactly; 513 chain through its last slot. */
static void test_prp_list_chains(void **state)
{
	struct lists *l = *state;
	struct nvme_command cmd = { 0 };
	struct scatterlist sg;

	/* PRP1 plus 512 entries: one full list page, no chain. */
	one_seg(&sg, BUF_DMA, 513 * 4096);
	assert_int_equal(nvme_build_prps(&cmd, &sg, 1, l->page, NR_LISTS), 0);
	assert_int_equal(entry(l, 0, 511), BUF_DMA + 512 * 4096ULL);
	assert_int_equal(entry(l, 1, 0), 0xeeeeeeeeeeeeeeeeULL);
	/* PRP1 plus 513 entries: 511 in page 0, the chain, 2 in page 1. */
	one_seg(&sg, BUF_DMA, 514 * 4096);
	assert_int_equal(nvme_build_prps(&cmd, &sg, 1, l->page, NR_LISTS), 0);
	assert_int_equal(entry(l, 0, 510), BUF_DMA + 511 * 4096ULL);
	assert_int_equal(entry(l, 0, 511), LIST_DMA(1));
	assert_int_equal(entry(l, 1, 0), BUF_DMA + 512 * 4096ULL);
	assert_int_equal(entry(l, 1, 1), BUF_DMA + 513 * 4096ULL);
	/* Three list pages: chains at slot 511 of pages 0 and 1. */
	one_seg(&sg, BUF_DMA + 4, 1100 * 4096);
	assert_int_equal(nvme_build_prps(&cmd, &sg, 1, l->page, NR_LISTS), 0);
	assert_int_equal(entry(l, 0, 511), LIST_DMA(1));
	assert_int_equal(entry(l, 1, 511), LIST_DMA(2));
	assert_int_equal(entry(l, 2, 0), BUF_DMA + 1023 * 4096ULL);
	assert_int_equal(entry(l, 2, 77), BUF_DMA + 1100 * 4096ULL);
	/* Too few list pages. */
	assert_int_equal(nvme_build_prps(&cmd, &sg, 1, l->page, 2), -E2BIG);
}

/* Page-sized segments anywhere (a buffer mapped page by page) become list entries as they are. */
static void test_prp_scattered_pages(void **state)
{
	static const dma_addr_t pages[] = { 0x5000, 0x91000, 0x3000, 0x1234000 };
	struct lists *l = *state;
	struct nvme_command cmd = { 0 };
	struct scatterlist sg[4];

	page_segs(sg, 4, pages, 0x100, 0x80);
	assert_int_equal(nvme_build_prps(&cmd, sg, 4, l->page, NR_LISTS), 0);
	assert_int_equal(le64toh(cmd.prp1), 0x5100);
	assert_int_equal(le64toh(cmd.prp2), LIST_DMA(0));
	assert_int_equal(entry(l, 0, 0), 0x91000);
	assert_int_equal(entry(l, 0, 1), 0x3000);
	assert_int_equal(entry(l, 0, 2), 0x1234000);
	/* Two segments: the second page goes straight into PRP2. */
	page_segs(sg, 2, pages, 0, 4096);
	assert_int_equal(nvme_build_prps(&cmd, sg, 2, l->page, NR_LISTS), 0);
	assert_int_equal(le64toh(cmd.prp1), 0x5000);
	assert_int_equal(le64toh(cmd.prp2), 0x91000);
}

/* What PRPs cannot say: a misaligned start, a gap inside a page, a middle segment off a page. */
static void test_prp_refused(void **state)
{
	struct lists *l = *state;
	struct nvme_command cmd = { 0 };
	struct scatterlist sg[3];

	one_seg(sg, BUF_DMA + 2, 100); /* PRP entries are dword aligned */
	assert_int_equal(nvme_build_prps(&cmd, sg, 1, l->page, NR_LISTS), -EINVAL);
	sg_init_table(sg, 2);
	sg[0].dma_address = BUF_DMA;
	sg[0].dma_length = 2048; /* ends inside its page but is not last */
	sg[1].dma_address = BUF_DMA + 8192;
	sg[1].dma_length = 4096;
	assert_int_equal(nvme_build_prps(&cmd, sg, 2, l->page, NR_LISTS), -EINVAL);
	sg[0].dma_length = 4096;
	sg[1].dma_address = BUF_DMA + 8192 + 512; /* starts off a page boundary */
	assert_int_equal(nvme_build_prps(&cmd, sg, 2, l->page, NR_LISTS), -EINVAL);
	sg[1].dma_address = BUF_DMA + 8192;
	sg[1].dma_length = 0;
	assert_int_equal(nvme_build_prps(&cmd, sg, 2, l->page, NR_LISTS), -EINVAL);
	assert_int_equal(nvme_build_prps(&cmd, sg, 0, l->page, NR_LISTS), -EINVAL);
}

static void check_desc(const struct nvme_sgl_desc *d, uint64_t addr, uint32_t len, uint8_t type)
{
	assert_int_equal(le64toh(d->addr), addr);
	assert_int_equal(le32toh(d->length), len);
	assert_int_equal(d->type, type);
}

#define T_DATA NVME_SGL_TYPE(NVME_SGL_FMT_DATA_DESC, NVME_SGL_FMT_ADDRESS)
#define T_SEG  NVME_SGL_TYPE(NVME_SGL_FMT_SEG_DESC, NVME_SGL_FMT_ADDRESS)
#define T_LAST NVME_SGL_TYPE(NVME_SGL_FMT_LAST_SEG_DESC, NVME_SGL_FMT_ADDRESS)

/* One segment: a Data Block descriptor in the command itself, byte aligned. */
static void test_sgl_inline(void **state)
{
	struct lists *l = *state;
	struct nvme_command cmd = { 0 };
	struct scatterlist sg;

	one_seg(&sg, BUF_DMA + 3, 12345);
	assert_int_equal(nvme_build_sgl(&cmd, &sg, 1, l->page, NR_LISTS, false), 0);
	assert_int_equal(cmd.flags & NVME_CMD_PSDT_MASK, NVME_CMD_PSDT_SGL);
	check_desc(&cmd.sgl, BUF_DMA + 3, 12345, T_DATA);
	/* Dword granularity: that one is refused, an aligned one is fine. */
	assert_int_equal(nvme_build_sgl(&cmd, &sg, 1, l->page, NR_LISTS, true), -EINVAL);
	one_seg(&sg, BUF_DMA + 4, 12344);
	assert_int_equal(nvme_build_sgl(&cmd, &sg, 1, l->page, NR_LISTS, true), 0);
}

static struct scatterlist *many_segs(unsigned int n)
{
	struct scatterlist *sg = calloc(n, sizeof(*sg));

	sg_init_table(sg, n);
	for (unsigned int i = 0; i < n; i++) {
		sg[i].dma_address = BUF_DMA + i * 0x3000ULL + (i & 7);
		sg[i].dma_length = 100 + i;
		sg[i].length = sg[i].dma_length;
	}
	return sg;
}

/* Up to 256 segments: a Last Segment descriptor pointing at one page of data blocks. */
static void test_sgl_one_segment_page(void **state)
{
	struct lists *l = *state;
	struct nvme_command cmd = { 0 };
	struct scatterlist *sg = many_segs(256);
	struct nvme_sgl_desc *d = l->page[0].cpu;

	assert_int_equal(nvme_build_sgl(&cmd, sg, 3, l->page, NR_LISTS, false), 0);
	check_desc(&cmd.sgl, LIST_DMA(0), 3 * 16, T_LAST);
	for (int i = 0; i < 3; i++)
		check_desc(&d[i], sg[i].dma_address, sg[i].dma_length, T_DATA);
	assert_int_equal(nvme_build_sgl(&cmd, sg, 256, l->page, NR_LISTS, false), 0);
	check_desc(&cmd.sgl, LIST_DMA(0), 4096, T_LAST);
	check_desc(&d[255], sg[255].dma_address, sg[255].dma_length, T_DATA);
	free(sg);
}

/* More: 255 data blocks and a link per page, the link to the final page a Last Segment. */
static void test_sgl_chained(void **state)
{
	struct lists *l = *state;
	struct nvme_command cmd = { 0 };
	struct scatterlist *sg = many_segs(600);
	struct nvme_sgl_desc *d0 = l->page[0].cpu, *d1 = l->page[1].cpu, *d2 = l->page[2].cpu;

	assert_int_equal(nvme_build_sgl(&cmd, sg, 257, l->page, NR_LISTS, false), 0);
	check_desc(&cmd.sgl, LIST_DMA(0), 4096, T_SEG);
	check_desc(&d0[254], sg[254].dma_address, sg[254].dma_length, T_DATA);
	check_desc(&d0[255], LIST_DMA(1), 2 * 16, T_LAST);
	check_desc(&d1[0], sg[255].dma_address, sg[255].dma_length, T_DATA);
	check_desc(&d1[1], sg[256].dma_address, sg[256].dma_length, T_DATA);
	/* 600 = 255 + 255 + 90 */
	assert_int_equal(nvme_build_sgl(&cmd, sg, 600, l->page, NR_LISTS, false), 0);
	check_desc(&cmd.sgl, LIST_DMA(0), 4096, T_SEG);
	check_desc(&d0[255], LIST_DMA(1), 4096, T_SEG);
	check_desc(&d1[255], LIST_DMA(2), 90 * 16, T_LAST);
	check_desc(&d2[89], sg[599].dma_address, sg[599].dma_length, T_DATA);
	assert_int_equal(nvme_build_sgl(&cmd, sg, 600, l->page, 2, false), -E2BIG);
	sg[5].dma_length = 0;
	assert_int_equal(nvme_build_sgl(&cmd, sg, 6, l->page, NR_LISTS, false), -EINVAL);
	free(sg);
}

/* List pages per slot: what the driver preallocates for its largest transfer. */
static void test_list_page_counts(void **state)
{
	assert_int_equal(nvme_prp_list_pages(4096), 0);
	assert_int_equal(nvme_prp_list_pages(8192), 1); /* unaligned: PRP1 + 2 entries */
	assert_int_equal(nvme_prp_list_pages(1 << 20), 1); /* 257 pages touched */
	assert_int_equal(nvme_prp_list_pages(2 << 20), 1); /* PRP1 + 512 entries fill one page */
	assert_int_equal(nvme_prp_list_pages((2 << 20) + 4096), 2); /* 513 entries chain */
	assert_int_equal(nvme_sgl_list_pages(1), 0);
	assert_int_equal(nvme_sgl_list_pages(2), 1);
	assert_int_equal(nvme_sgl_list_pages(256), 1);
	assert_int_equal(nvme_sgl_list_pages(257), 2);
	assert_int_equal(nvme_sgl_list_pages(511), 2);
	assert_int_equal(nvme_sgl_list_pages(512), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_prp1_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prp2_page, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prp_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prp_list_chains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prp_scattered_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prp_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sgl_inline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sgl_one_segment_page, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sgl_chained, setup, teardown),
		cmocka_unit_test(test_list_page_counts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
