// SPDX-License-Identifier: MIT
/*
 * PRP data pointers (NVMe 1.4 sec. 4.3): PRP1 with an offset, PRP2 as the
 * second page, PRP lists crossing pages and chained across list pages (a
 * list needing more entries than the rest of its page holds chains on
 * through the page's last slot), scattered data pages, MDTS, and every
 * offset rule broken once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "fabric-fixture.h"
#include "raw.h"

#define XFER_MAX (2 << 20)

struct ctx {
	struct raw r;
	struct raw_buf data, check, list[3];
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	struct nvme_emu_params p = raw_params();

	if (!c || raw_setup(&c->r, &p) || !raw_enable(&c->r) ||
	    raw_io_pair(&c->r, 1, 16, false, false))
		return -1;
	c->data = raw_alloc(&c->r, XFER_MAX + RAW_PAGE);
	c->check = raw_alloc(&c->r, XFER_MAX + RAW_PAGE);
	for (int i = 0; i < 3; i++)
		c->list[i] = raw_alloc(&c->r, RAW_PAGE);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	raw_teardown(&c->r);
	free(c);
	return 0;
}

static uint16_t io(struct ctx *c, uint8_t op, uint64_t slba, size_t bytes, uint64_t prp1,
		   uint64_t prp2)
{
	struct nvme_command cmd = raw_rw(op, 1, slba, (uint32_t)(bytes / 512), prp1);

	cmd.prp2 = prp2;
	return raw_io(&c->r, 1, &cmd, NULL);
}

/* Write @bytes from data+@off with raw_prps(), read them back contiguously, compare. */
static void roundtrip(struct ctx *c, size_t off, size_t bytes, uint32_t seed)
{
	struct nvme_command cmd = raw_rw(nvme_cmd_write, 1, 64, (uint32_t)(bytes / 512), 0);
	struct raw_buf list = c->list[0];

	/* One contiguous list region for raw_prps: two adjacent pages when needed. */
	if (bytes > 511 * RAW_PAGE)
		list = raw_alloc(&c->r, 2 * RAW_PAGE);
	raw_fill(c->data.cpu + off, bytes, seed);
	raw_prps(&cmd, c->data.dma + off, bytes, &list);
	assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), 0);

	memset(c->check.cpu, 0, bytes);
	cmd = raw_rw(nvme_cmd_read, 1, 64, (uint32_t)(bytes / 512), 0);
	raw_prps(&cmd, c->check.dma, bytes, &list);
	assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), 0);
	assert_memory_equal(c->check.cpu, c->data.cpu + off, bytes);
}

/* PRP1 alone, PRP1 + PRP2, and lists, with and without a PRP1 offset. */
static void test_prp_shapes(void **state)
{
	struct ctx *c = *state;
	const size_t offs[] = { 0, 512, 2048, 4092 & ~511UL };
	const size_t sizes[] = { 512, 1024, 4096, 8192, 12288, 65536, 511 * 4096 };

	for (size_t o = 0; o < sizeof(offs) / sizeof(offs[0]); o++)
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
			roundtrip(c, offs[o], sizes[s], (uint32_t)(o * 16 + s));
}

/*
 * A list page holds 512 entries. From a mid-page start, 2 MiB (MDTS) takes
 * PRP1 plus 512 entries: exactly one full list page, no chain. The same
 * transfer with the list starting half way into its page has room for 256
 * slots there: 255 entries, then a chain pointer to a second list page
 * holding the other 257.
 */
static void test_list_pages(void **state)
{
	struct ctx *c = *state;
	uint64_t *l0 = (uint64_t *)c->list[0].cpu, *l1 = (uint64_t *)c->list[1].cpu;
	uint64_t *half = (uint64_t *)(c->list[2].cpu + 2048);
	uint64_t page = (c->data.dma & ~(uint64_t)4095) + 4096;
	struct raw_buf list = raw_alloc(&c->r, 4096);
	struct nvme_command cmd;

	raw_fill(c->data.cpu + 512, XFER_MAX, 1233);
	for (int i = 0; i < 512; i++)
		l0[i] = page + (uint64_t)i * 4096;
	cmd = raw_rw(nvme_cmd_write, 1, 0, XFER_MAX / 512, c->data.dma + 512);
	cmd.prp2 = c->list[0].dma;
	assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), 0);
	memset(c->check.cpu, 0, XFER_MAX);
	cmd = raw_rw(nvme_cmd_read, 1, 0, XFER_MAX / 512, 0);
	raw_prps(&cmd, c->check.dma, XFER_MAX, &list);
	assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), 0);
	assert_memory_equal(c->check.cpu, c->data.cpu + 512, XFER_MAX);

	/* Separate list pages, so only the chain pointer can lead from one to the other. */
	raw_fill(c->data.cpu + 512, XFER_MAX, 1234);
	for (int i = 0; i < 255; i++)
		half[i] = page + (uint64_t)i * 4096;
	half[255] = c->list[1].dma;
	for (int i = 0; i < 257; i++)
		l1[i] = page + (uint64_t)(255 + i) * 4096;
	cmd = raw_rw(nvme_cmd_write, 1, 0, XFER_MAX / 512, c->data.dma + 512);
	cmd.prp2 = c->list[2].dma + 2048;
	assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), 0);
	memset(c->check.cpu, 0, XFER_MAX);
	cmd = raw_rw(nvme_cmd_read, 1, 0, XFER_MAX / 512, 0);
	raw_prps(&cmd, c->check.dma, XFER_MAX, &list);
	assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), 0);
	assert_memory_equal(c->check.cpu, c->data.cpu + 512, XFER_MAX);
}

/* MDTS (2 MiB) is accepted; one block more is Invalid Field. */
static void test_mdts(void **state)
{
	struct ctx *c = *state;
	struct raw_buf list = raw_alloc(&c->r, 2 * 4096);
	struct nvme_command cmd = raw_rw(nvme_cmd_write, 1, 0, XFER_MAX / 512, 0);

	raw_prps(&cmd, c->data.dma, XFER_MAX, &list);
	assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), 0);
	cmd = raw_rw(nvme_cmd_read, 1, 0, XFER_MAX / 512 + 1, 0);
	raw_prps(&cmd, c->data.dma, XFER_MAX + 512, &list);
	assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), RAW_DNR(NVME_SC_INVALID_FIELD));
}

/* A list starting near the end of its page chains after two entries; data pages scattered. */
static void test_scattered_and_early_chain(void **state)
{
	struct ctx *c = *state;
	uint64_t *l0 = (uint64_t *)(c->list[0].cpu + 4096 - 16), *l1 = (uint64_t *)c->list[1].cpu;
	uint64_t base = c->data.dma;
	struct nvme_command cmd;

	raw_fill(c->data.cpu, 6 * 4096, 55);
	/* Pages in the order 5, 3, 1, 0, 2, 4 of the buffer. */
	cmd = raw_rw(nvme_cmd_write, 1, 8, 6 * 8, base + 5 * 4096);
	cmd.prp2 = c->list[0].dma + 4096 - 16;
	l0[0] = base + 3 * 4096;
	l0[1] = c->list[1].dma; /* the chain: only one slot was left */
	l1[0] = base + 1 * 4096;
	l1[1] = base + 0 * 4096;
	l1[2] = base + 2 * 4096;
	l1[3] = base + 4 * 4096;
	assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), 0);

	assert_int_equal(io(c, nvme_cmd_read, 8, 4096, c->check.dma, 0), 0);
	assert_memory_equal(c->check.cpu, c->data.cpu + 5 * 4096, 4096);
	cmd = raw_rw(nvme_cmd_read, 1, 8, 6 * 8, 0);
	raw_prps(&cmd, c->check.dma, 6 * 4096, &c->list[2]);
	assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), 0);
	assert_memory_equal(c->check.cpu + 0 * 4096, c->data.cpu + 5 * 4096, 4096);
	assert_memory_equal(c->check.cpu + 1 * 4096, c->data.cpu + 3 * 4096, 4096);
	assert_memory_equal(c->check.cpu + 2 * 4096, c->data.cpu + 1 * 4096, 4096);
	assert_memory_equal(c->check.cpu + 3 * 4096, c->data.cpu + 0 * 4096, 4096);
	assert_memory_equal(c->check.cpu + 4 * 4096, c->data.cpu + 2 * 4096, 4096);
	assert_memory_equal(c->check.cpu + 5 * 4096, c->data.cpu + 4 * 4096, 4096);
}

/* Every offset rule: PRP1 dword aligned, PRP2 page, list entries, chain pointer, list pointer. */
static void test_bad_offsets(void **state)
{
	struct ctx *c = *state;
	uint64_t *l0 = (uint64_t *)c->list[0].cpu;
	uint64_t page = c->data.dma;
	unsigned long errs = hetmem_guest_errors();

	assert_int_equal(io(c, nvme_cmd_read, 0, 512, page + 2, 0),
			 RAW_DNR(NVME_SC_PRP_INVALID_OFFSET));
	assert_int_equal(io(c, nvme_cmd_read, 0, 8192, page, page + 4096 + 512),
			 RAW_DNR(NVME_SC_PRP_INVALID_OFFSET));
	for (int i = 0; i < 4; i++)
		l0[i] = page + 4096 * (uint64_t)(i + 1);
	l0[2] += 8;
	assert_int_equal(io(c, nvme_cmd_read, 0, 5 * 4096, page, c->list[0].dma),
			 RAW_DNR(NVME_SC_PRP_INVALID_OFFSET));
	l0[2] -= 8;
	assert_int_equal(io(c, nvme_cmd_read, 0, 5 * 4096, page, c->list[0].dma), 0);
	assert_int_equal(io(c, nvme_cmd_read, 0, 5 * 4096, page, c->list[0].dma + 4),
			 RAW_DNR(NVME_SC_PRP_INVALID_OFFSET));
	/* A chain pointer with an offset: the list starts 8 slots before its page's end. */
	for (int i = 504; i < 511; i++)
		l0[i] = page;
	l0[511] = c->list[1].dma + 64;
	assert_int_equal(io(c, nvme_cmd_read, 0, 64 * 4096, page, c->list[0].dma + 504 * 8),
			 RAW_DNR(NVME_SC_PRP_INVALID_OFFSET));
	assert_int_equal(hetmem_guest_errors() - errs, 5);

	/* A list the controller cannot read; data it cannot reach. */
	assert_int_equal(io(c, nvme_cmd_read, 0, 5 * 4096, page, page + (512ULL << 20)),
			 NVME_SC_DATA_XFER_ERROR);
	l0[3] = page + (512ULL << 20);
	assert_int_equal(io(c, nvme_cmd_read, 0, 5 * 4096, page, c->list[0].dma),
			 NVME_SC_DATA_XFER_ERROR);
	/* PRP2 is ignored when the data fits in PRP1's page. */
	assert_int_equal(io(c, nvme_cmd_read, 0, 512, page + 1024, 0xdeadbeef), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_prp_shapes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mdts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scattered_and_early_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_offsets, setup, teardown),
	};

	quiet_logs();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
