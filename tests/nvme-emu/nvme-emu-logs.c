// SPDX-License-Identifier: MIT
/*
 * Get Log Page: the Error Information ring records every failed command
 * (newest first), SMART / Health counts what the host did, the Firmware
 * Slot log names the running firmware, and NUMD/offset/LID/NSID mistakes
 * get their statuses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "fabric-fixture.h"
#include "raw.h"

struct ctx {
	struct raw r;
	struct raw_buf log;
	struct raw_buf data;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	struct nvme_emu_params p = raw_params();

	if (!c || raw_setup(&c->r, &p) || !raw_enable(&c->r) ||
	    raw_io_pair(&c->r, 1, 16, false, false))
		return -1;
	c->log = raw_alloc(&c->r, 8192);
	c->data = raw_alloc(&c->r, 1 << 20);
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

static uint16_t get_log(struct ctx *c, uint8_t lid, uint32_t nsid, uint32_t bytes, uint64_t off)
{
	struct nvme_command cmd = raw_log(lid, nsid, bytes, c->log.dma);

	cmd.prp2 = c->log.dma + 4096;
	cmd.cdw12 = (uint32_t)off;
	cmd.cdw13 = (uint32_t)(off >> 32);
	memset(c->log.cpu, 0xa5, 8192);
	return raw_admin(&c->r, &cmd, NULL);
}

static uint64_t u128(const uint8_t *field)
{
	uint64_t v, hi;

	memcpy(&v, field, 8);
	memcpy(&hi, field + 8, 8);
	assert_int_equal(hi, 0);
	return v;
}

/* Every failed command leaves an entry: count, SQ, CID, status, NSID, LBA. */
static void test_error_log(void **state)
{
	struct ctx *c = *state;
	struct nvme_error_log_entry *e = (struct nvme_error_log_entry *)c->log.cpu;
	struct nvme_completion cqe = { 0 };
	struct nvme_command cmd;
	uint64_t first;

	/* Nothing failed yet. */
	assert_int_equal(get_log(c, NVME_LOG_ERROR, 0, 4096, 0), 0);
	assert_int_equal(e[0].error_count, 0);

	cmd = raw_identify(0x55, 0, c->log.dma);
	assert_int_equal(raw_admin(&c->r, &cmd, &cqe), RAW_DNR(NVME_SC_INVALID_FIELD));
	cmd = raw_rw(nvme_cmd_read, 1, (64 << 20) / 512, 1, c->data.dma);
	assert_int_equal(raw_io(&c->r, 1, &cmd, &cqe), RAW_DNR(NVME_SC_LBA_RANGE));

	assert_int_equal(get_log(c, NVME_LOG_ERROR, 0, 4096, 0), 0);
	first = e[1].error_count;
	assert_true(first >= 1);
	/* Newest first. */
	assert_int_equal(e[0].error_count, first + 1);
	assert_int_equal(e[0].sqid, 1);
	assert_int_equal(e[0].cmdid, cqe.command_id);
	assert_int_equal(e[0].status_field >> 1, RAW_DNR(NVME_SC_LBA_RANGE));
	assert_int_equal(e[0].status_field & 1, cqe.status & 1);
	assert_int_equal(e[0].nsid, 1);
	assert_int_equal(e[0].lba, (64 << 20) / 512);
	assert_int_equal(e[1].sqid, 0);
	assert_int_equal(e[1].status_field >> 1, RAW_DNR(NVME_SC_INVALID_FIELD));
	assert_int_equal(e[2].error_count, 0);

	/* An offset of one entry starts at the second. */
	assert_int_equal(get_log(c, NVME_LOG_ERROR, 0, 64, 64), 0);
	assert_int_equal(e[0].error_count, first);
	/* The ring keeps the newest 64. */
	for (int i = 0; i < 70; i++) {
		cmd = raw_identify(0x55, 0, c->log.dma);
		assert_int_equal(raw_admin(&c->r, &cmd, NULL), RAW_DNR(NVME_SC_INVALID_FIELD));
	}
	assert_int_equal(get_log(c, NVME_LOG_ERROR, 0, 4096, 0), 0);
	assert_int_equal(e[0].error_count, first + 71);
	assert_int_equal(e[63].error_count, first + 8);
	/* Past the end of the log: zeroes. */
	assert_int_equal(get_log(c, NVME_LOG_ERROR, 0, 8192, 0), 0);
	for (int i = 4096; i < 8192; i++)
		assert_int_equal(c->log.cpu[i], 0);
}

/* SMART counters follow the I/O: data units are thousands of 512-byte units, rounded up. */
static void test_smart_log(void **state)
{
	struct ctx *c = *state;
	struct nvme_smart_log *s = (struct nvme_smart_log *)c->log.cpu;
	struct nvme_command cmd;
	struct raw_buf list = raw_alloc(&c->r, 4096);
	uint16_t temp;

	assert_int_equal(get_log(c, NVME_LOG_SMART, 0xffffffff, 512, 0), 0);
	assert_int_equal(s->critical_warning, 0);
	memcpy(&temp, s->temperature, 2);
	assert_true(temp > 273 && temp < 373);
	assert_int_equal(s->avail_spare, 100);
	assert_int_equal(u128(s->data_units_read), 0);
	assert_int_equal(u128(s->host_writes), 0);
	assert_int_equal(u128(s->power_cycles), 1);
	assert_int_equal(u128(s->unsafe_shutdowns), 0);

	/* 1 MiB written = 2048 units of 512 bytes = 3 data units; 4 KiB read = 1. */
	cmd = raw_rw(nvme_cmd_write, 1, 0, 2048, 0);
	raw_prps(&cmd, c->data.dma, 1 << 20, &list);
	assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), 0);
	cmd = raw_rw(nvme_cmd_read, 1, 0, 8, c->data.dma);
	assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), 0);
	cmd = raw_rw(nvme_cmd_compare, 1, 0, 8, c->data.dma);
	assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), 0);
	cmd = raw_rw(nvme_cmd_read, 1, 1ULL << 40, 8, c->data.dma); /* fails: not counted */
	assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), RAW_DNR(NVME_SC_LBA_RANGE));

	assert_int_equal(get_log(c, NVME_LOG_SMART, 0, 512, 0), 0);
	assert_int_equal(u128(s->data_units_written), 3);
	assert_int_equal(u128(s->data_units_read), 1);
	assert_int_equal(u128(s->host_writes), 1);
	assert_int_equal(u128(s->host_reads), 2);
	assert_int_equal(u128(s->num_err_log_entries), 1);
	assert_int_equal(u128(s->power_on_hours), 0);

	/* A reset without a shutdown notification counts as unsafe; one after a shutdown not. */
	assert_true(raw_disable(&c->r));
	assert_true(raw_enable(&c->r));
	assert_int_equal(get_log(c, NVME_LOG_SMART, 0, 512, 0), 0);
	assert_int_equal(u128(s->unsafe_shutdowns), 1);
	raw_wr32(&c->r, NVME_REG_CC, raw_rd32(&c->r, NVME_REG_CC) | NVME_CC_SHN_NORMAL);
	assert_true(raw_wait_csts(&c->r, NVME_CSTS_SHST_MASK, NVME_CSTS_SHST_CMPLT));
	raw_wr32(&c->r, NVME_REG_CC, 0);
	assert_true(raw_wait_csts(&c->r, NVME_CSTS_RDY, 0));
	assert_true(raw_enable(&c->r));
	assert_int_equal(get_log(c, NVME_LOG_SMART, 0, 512, 0), 0);
	assert_int_equal(u128(s->unsafe_shutdowns), 1);
	/* Counters outlive resets. */
	assert_int_equal(u128(s->host_writes), 1);

	/* Per namespace SMART is not supported (LPA bit 0 clear). */
	assert_int_equal(get_log(c, NVME_LOG_SMART, 1, 512, 0), RAW_DNR(NVME_SC_INVALID_FIELD));
}

/* The firmware slot log: slot 1 active, revision "1.0". */
static void test_fw_slot_log(void **state)
{
	struct ctx *c = *state;
	struct nvme_fw_slot_log *f = (struct nvme_fw_slot_log *)c->log.cpu;

	assert_int_equal(get_log(c, NVME_LOG_FW_SLOT, 0, 512, 0), 0);
	assert_int_equal(f->afi & 7, 1);
	assert_memory_equal(f->frs[0], "1.0     ", 8);
	assert_int_equal(f->frs[1][0], 0);
}

/* Unknown LIDs, offsets that are misaligned or past the log, sizes above MDTS. */
static void test_bad_requests(void **state)
{
	struct ctx *c = *state;
	struct nvme_command cmd;

	assert_int_equal(get_log(c, 0x7f, 0, 512, 0), RAW_DNR(NVME_SC_INVALID_LOG_PAGE));
	assert_int_equal(get_log(c, 0x04, 0, 512, 0), RAW_DNR(NVME_SC_INVALID_LOG_PAGE));
	assert_int_equal(get_log(c, 0x00, 0, 512, 0), RAW_DNR(NVME_SC_INVALID_LOG_PAGE));
	assert_int_equal(get_log(c, NVME_LOG_SMART, 0, 512, 2), RAW_DNR(NVME_SC_INVALID_FIELD));
	assert_int_equal(get_log(c, NVME_LOG_SMART, 0, 4, 516), RAW_DNR(NVME_SC_INVALID_FIELD));
	assert_int_equal(get_log(c, NVME_LOG_SMART, 0, 4, 1ULL << 32),
			 RAW_DNR(NVME_SC_INVALID_FIELD));
	assert_int_equal(get_log(c, NVME_LOG_SMART, 0, 4, 508), 0);
	assert_int_equal(get_log(c, NVME_LOG_SMART, 0, 4, 512), 0);
	assert_int_equal(*(uint32_t *)c->log.cpu, 0);
	/* NUMDU: 4 MiB + 4 bytes is above MDTS (2 MiB). */
	cmd = raw_log(NVME_LOG_SMART, 0, 4, c->log.dma);
	cmd.cdw11 = 0x10;
	assert_int_equal(raw_admin(&c->r, &cmd, NULL), RAW_DNR(NVME_SC_INVALID_FIELD));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_error_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_smart_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fw_slot_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
	};

	quiet_logs();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
