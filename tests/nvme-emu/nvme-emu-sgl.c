// SPDX-License-Identifier: MIT
/*
 * SGL data pointers (NVMe 1.4 sec. 4.4): a Data Block in the SQE, Segment
 * -> Last Segment chains, long chains of Segments, zero-length blocks,
 * and each malformed SGL answered with its own status.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "fabric-fixture.h"
#include "raw.h"

#define DATA_D NVME_SGL_TYPE(NVME_SGL_FMT_DATA_DESC, 0)
#define SEG_D  NVME_SGL_TYPE(NVME_SGL_FMT_SEG_DESC, 0)
#define LAST_D NVME_SGL_TYPE(NVME_SGL_FMT_LAST_SEG_DESC, 0)

struct ctx {
	struct raw r;
	struct raw_buf data, check, segs;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	struct nvme_emu_params p = raw_params();

	if (!c || raw_setup(&c->r, &p) || !raw_enable(&c->r) ||
	    raw_io_pair(&c->r, 1, 16, false, false))
		return -1;
	c->data = raw_alloc(&c->r, 1 << 20);
	c->check = raw_alloc(&c->r, 1 << 20);
	c->segs = raw_alloc(&c->r, 16 * 4096);
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

static struct nvme_sgl_desc desc(uint64_t addr, uint32_t len, uint8_t type)
{
	struct nvme_sgl_desc d = { .addr = addr, .length = len, .type = type };

	return d;
}

/* Segment @i of the scratch area: its CPU array and its DMA address. */
static struct nvme_sgl_desc *seg(struct ctx *c, int i, uint64_t *dma)
{
	*dma = c->segs.dma + (uint64_t)i * 4096;
	return (struct nvme_sgl_desc *)(c->segs.cpu + i * 4096);
}

static uint16_t sgl_io(struct ctx *c, uint8_t op, uint64_t slba, size_t bytes,
		       struct nvme_sgl_desc sgl1)
{
	struct nvme_command cmd = { .opcode = op, .nsid = 1 };

	cmd.flags = NVME_CMD_PSDT_SGL;
	cmd.sgl = sgl1;
	cmd.cdw10 = (uint32_t)slba;
	cmd.cdw12 = (uint32_t)(bytes / 512) - 1;
	return raw_io(&c->r, 1, &cmd, NULL);
}

/* Read back @bytes at @slba with a PRP command, into check. */
static void readback(struct ctx *c, uint64_t slba, size_t bytes)
{
	struct raw_buf list = raw_alloc(&c->r, 4096);
	struct nvme_command cmd = raw_rw(nvme_cmd_read, 1, slba, (uint32_t)(bytes / 512), 0);

	memset(c->check.cpu, 0, bytes);
	raw_prps(&cmd, c->check.dma, bytes, &list);
	assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), 0);
}

/* One Data Block descriptor in the SQE. */
static void test_single_data_block(void **state)
{
	struct ctx *c = *state;

	raw_fill(c->data.cpu, 65536, 3);
	assert_int_equal(sgl_io(c, nvme_cmd_write, 0, 65536, desc(c->data.dma, 65536, DATA_D)), 0);
	readback(c, 0, 65536);
	assert_memory_equal(c->check.cpu, c->data.cpu, 65536);
	/* And a read through an SGL, starting mid-page. */
	memset(c->check.cpu, 0, 65536);
	assert_int_equal(sgl_io(c, nvme_cmd_read, 0, 4096, desc(c->check.dma + 100, 4096, DATA_D)),
			 0);
	assert_memory_equal(c->check.cpu + 100, c->data.cpu, 4096);
}

/* SQE -> Segment [data, data, 0-length data, Last Segment] -> [data, data]: scattered pieces. */
static void test_segment_chain(void **state)
{
	struct ctx *c = *state;
	uint64_t s0, s1;
	struct nvme_sgl_desc *a = seg(c, 0, &s0), *b = seg(c, 1, &s1);
	uint64_t d = c->data.dma;

	raw_fill(c->data.cpu, 1 << 20, 9);
	/* 4 pieces from different places: 1024 @ 8K, 3072 @ 64K+4, 2048 @ 200K, 2048 @ 4K. */
	a[0] = desc(d + 8192, 1024, DATA_D);
	a[1] = desc(d + 65540, 3072, DATA_D);
	a[2] = desc(d, 0, DATA_D);
	a[3] = desc(s1, 2 * 16, LAST_D);
	b[0] = desc(d + 204800, 2048, DATA_D);
	b[1] = desc(d + 4096, 2048, DATA_D);
	assert_int_equal(sgl_io(c, nvme_cmd_write, 16, 8192, desc(s0, 4 * 16, SEG_D)), 0);
	readback(c, 16, 8192);
	assert_memory_equal(c->check.cpu, c->data.cpu + 8192, 1024);
	assert_memory_equal(c->check.cpu + 1024, c->data.cpu + 65540, 3072);
	assert_memory_equal(c->check.cpu + 4096, c->data.cpu + 204800, 2048);
	assert_memory_equal(c->check.cpu + 6144, c->data.cpu + 4096, 2048);

	/* The SQE may point at the last segment directly. */
	a[0] = desc(d + 4096, 512, DATA_D);
	a[1] = desc(d + 12288, 512, DATA_D);
	assert_int_equal(sgl_io(c, nvme_cmd_write, 32, 1024, desc(s0, 2 * 16, LAST_D)), 0);
	readback(c, 32, 1024);
	assert_memory_equal(c->check.cpu, c->data.cpu + 4096, 512);
	assert_memory_equal(c->check.cpu + 512, c->data.cpu + 12288, 512);
}

/* Ten Segments chained, each one data block, then a Last Segment of many blocks. */
static void test_long_chain(void **state)
{
	struct ctx *c = *state;
	uint64_t dma[12];
	struct nvme_sgl_desc *s[12];
	uint64_t d = c->data.dma;

	for (int i = 0; i < 12; i++)
		s[i] = seg(c, i, &dma[i]);
	raw_fill(c->data.cpu, 1 << 20, 11);
	for (int i = 0; i < 10; i++) {
		s[i][0] = desc(d + (uint64_t)i * 4096, 4096, DATA_D);
		s[i][1] = desc(dma[i + 1], i < 9 ? 32 : 256 * 16, i < 9 ? SEG_D : LAST_D);
	}
	/* 256 blocks of 256 bytes in the last segment. */
	for (int j = 0; j < 256; j++)
		s[10][j] = desc(d + 65536 + (uint64_t)j * 512, 256, DATA_D);
	assert_int_equal(sgl_io(c, nvme_cmd_write, 0, 10 * 4096 + 65536, desc(dma[0], 32, SEG_D)),
			 0);
	readback(c, 0, 10 * 4096 + 65536);
	assert_memory_equal(c->check.cpu, c->data.cpu, 10 * 4096);
	for (int j = 0; j < 256; j++)
		assert_memory_equal(c->check.cpu + 10 * 4096 + j * 256,
				    c->data.cpu + 65536 + j * 512, 256);
}

/* Each malformed SGL, with the status the spec gives it. */
static void test_bad_sgls(void **state)
{
	struct ctx *c = *state;
	uint64_t s0, s1;
	struct nvme_sgl_desc *a = seg(c, 0, &s0), *b = seg(c, 1, &s1);
	uint64_t d = c->data.dma;

	/* Descriptor types and subtypes. */
	assert_int_equal(sgl_io(c, nvme_cmd_read, 0, 512, desc(d, 512, 0x10)), /* bit bucket */
			 RAW_DNR(NVME_SC_SGL_INVALID_TYPE));
	assert_int_equal(sgl_io(c, nvme_cmd_read, 0, 512, desc(d, 512, 0x40)), /* keyed */
			 RAW_DNR(NVME_SC_SGL_INVALID_TYPE));
	assert_int_equal(sgl_io(c, nvme_cmd_read, 0, 512, desc(d, 512, 0xf0)),
			 RAW_DNR(NVME_SC_SGL_INVALID_TYPE));
	assert_int_equal(sgl_io(c, nvme_cmd_read, 0, 512, desc(d, 512, 0x01)), /* offset */
			 RAW_DNR(NVME_SC_SGL_INVALID_SUBTYPE));
	assert_int_equal(sgl_io(c, nvme_cmd_read, 0, 512, desc(s0, 32, SEG_D | 1)),
			 RAW_DNR(NVME_SC_SGL_INVALID_SUBTYPE));
	a[0] = desc(d, 512, 0x50);
	assert_int_equal(sgl_io(c, nvme_cmd_read, 0, 512, desc(s0, 16, LAST_D)),
			 RAW_DNR(NVME_SC_SGL_INVALID_TYPE));

	/* Segment lengths: zero, or not a multiple of 16. */
	assert_int_equal(sgl_io(c, nvme_cmd_read, 0, 512, desc(s0, 0, SEG_D)),
			 RAW_DNR(NVME_SC_SGL_INVALID_LAST));
	assert_int_equal(sgl_io(c, nvme_cmd_read, 0, 512, desc(s0, 20, LAST_D)),
			 RAW_DNR(NVME_SC_SGL_INVALID_LAST));
	/* A segment descriptor that is not the last of its segment. */
	a[0] = desc(s1, 16, LAST_D);
	a[1] = desc(d, 512, DATA_D);
	b[0] = desc(d, 512, DATA_D);
	assert_int_equal(sgl_io(c, nvme_cmd_read, 0, 512, desc(s0, 32, SEG_D)),
			 RAW_DNR(NVME_SC_SGL_INVALID_COUNT));
	/* A last segment that points further. */
	a[0] = desc(d, 256, DATA_D);
	a[1] = desc(s1, 16, SEG_D);
	assert_int_equal(sgl_io(c, nvme_cmd_read, 0, 512, desc(s0, 32, LAST_D)),
			 RAW_DNR(NVME_SC_SGL_INVALID_LAST));
	/* A segment that is not the last but ends with data. */
	a[0] = desc(d, 256, DATA_D);
	a[1] = desc(d + 256, 256, DATA_D);
	assert_int_equal(sgl_io(c, nvme_cmd_read, 0, 512, desc(s0, 32, SEG_D)),
			 RAW_DNR(NVME_SC_SGL_INVALID_LAST));
	/* Dword granularity (SGLS = 10b). */
	assert_int_equal(sgl_io(c, nvme_cmd_read, 0, 512, desc(d + 2, 512, DATA_D)),
			 RAW_DNR(NVME_SC_SGL_INVALID_GRANULARITY));
	a[0] = desc(d, 510, DATA_D);
	a[1] = desc(d + 512, 2, DATA_D);
	assert_int_equal(sgl_io(c, nvme_cmd_read, 0, 512, desc(s0, 32, LAST_D)),
			 RAW_DNR(NVME_SC_SGL_INVALID_GRANULARITY));
	/* Lengths that do not add up to the transfer. */
	assert_int_equal(sgl_io(c, nvme_cmd_read, 0, 1024, desc(d, 512, DATA_D)),
			 RAW_DNR(NVME_SC_SGL_INVALID_DATA));
	assert_int_equal(sgl_io(c, nvme_cmd_read, 0, 512, desc(d, 1024, DATA_D)),
			 RAW_DNR(NVME_SC_SGL_INVALID_DATA));
	a[0] = desc(d, 256, DATA_D);
	a[1] = desc(d + 256, 128, DATA_D);
	assert_int_equal(sgl_io(c, nvme_cmd_read, 0, 512, desc(s0, 32, LAST_D)),
			 RAW_DNR(NVME_SC_SGL_INVALID_DATA));
	/* Segments and data the controller cannot reach. */
	assert_int_equal(sgl_io(c, nvme_cmd_read, 0, 512, desc(s0 + (512ULL << 20), 32, LAST_D)),
			 NVME_SC_DATA_XFER_ERROR);
	assert_int_equal(sgl_io(c, nvme_cmd_read, 0, 512, desc(d + (512ULL << 20), 512, DATA_D)),
			 NVME_SC_DATA_XFER_ERROR);
}

/* Dataset Management's ranges can come through an SGL too. */
static void test_dsm_ranges_by_sgl(void **state)
{
	struct ctx *c = *state;
	struct nvme_dsm_range *r = (struct nvme_dsm_range *)c->data.cpu;
	struct nvme_command cmd = { .opcode = nvme_cmd_dsm, .nsid = 1 };

	raw_fill(c->check.cpu, 4096, 4);
	assert_int_equal(sgl_io(c, nvme_cmd_write, 0, 4096, desc(c->check.dma, 4096, DATA_D)), 0);
	r[0] = (struct nvme_dsm_range){ .slba = 2, .nlb = 2 };
	cmd.flags = NVME_CMD_PSDT_SGL;
	cmd.sgl = desc(c->data.dma, 16, DATA_D);
	cmd.cdw11 = NVME_DSMGMT_AD;
	assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), 0);
	readback(c, 0, 4096);
	for (int i = 1024; i < 2048; i++)
		assert_int_equal(c->check.cpu[i], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_single_data_block, setup, teardown),
		cmocka_unit_test_setup_teardown(test_segment_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_sgls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dsm_ranges_by_sgl, setup, teardown),
	};

	quiet_logs();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
