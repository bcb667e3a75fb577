// SPDX-License-Identifier: MIT
/*
 * Access counters: engine accesses through the MMU count per page (VRAM
 * pages by offset, system pages by bus address), one per page per step;
 * physical copies do not count; reading with CLEAR zeroes them; a
 * threshold posts counter notifications to the fault buffer, dropped and
 * counted when it is full; reset zeroes everything.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "fabric-fixture.h"
#include "tgpu.h"

#define ASID 4
#define VA   0x500000000000ULL

static int setup(void **state)
{
	struct tgpu *t = calloc(1, sizeof(*t));
	struct gpu_emu_params p = tg_params();

	if (!t || tg_setup(t, &p) || !tg_ch_enable(t, TG_CH_WORK) || !tg_ch_enable(t, TG_CH_MMU))
		return -1;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	tg_teardown(*state);
	free(*state);
	return 0;
}

/* Counters of @pages pages from @addr in aperture @ap, into @out. */
static void read_counters(struct tgpu *t, struct tg_buf *out, unsigned int ap, uint64_t addr,
			  uint64_t pages, bool clear)
{
	struct gpu_cmd c = { .opcode = GPU_OP_COUNTERS_READ,
			     .arg = { ap, addr, pages, out->dma, clear ? GPU_COUNTERS_CLEAR : 0 } };

	assert_int_equal(tg_run(t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
}

static void test_counters_move(void **state)
{
	struct tgpu *t = *state;
	struct tg_buf sys = tg_alloc(t, 2 * TG_PAGE), out = tg_alloc(t, TG_PAGE);
	uint32_t *cnt = (uint32_t *)out.cpu;
	struct gpu_cmd c;

	/* VA page 0 -> VRAM page 10, VA page 1 -> system page 1 of @sys. */
	assert_int_equal(tg_map_vram(t, ASID, VA, 1, 10 * TG_PAGE, GPU_PTE_WRITE), GPU_SC_SUCCESS);
	c = tg_pte_set(ASID, VA + TG_PAGE, 1,
		       (sys.dma + TG_PAGE) | GPU_PTE_VALID | GPU_PTE_WRITE | GPU_PTE_SYSTEM, 0);
	assert_int_equal(tg_run(t, TG_CH_MMU, &c), GPU_SC_SUCCESS);

	/* A fill over both pages: one access each. Three times. */
	c = tg_launch(ASID, GPU_KERNEL_FILL, VA, 2 * 1024, 1, 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(tg_run(t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
	/* A copy within VRAM page 10 by VA: read and write the same page, one access. */
	c = tg_copy(VA + 100, GPU_APERTURE_VA, VA, GPU_APERTURE_VA, 8);
	c.asid = ASID;
	assert_int_equal(tg_run(t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
	/* Physical copies are not through the MMU: not counted. */
	c = tg_copy(10 * TG_PAGE, GPU_APERTURE_VRAM, sys.dma, GPU_APERTURE_SYSTEM, 64);
	assert_int_equal(tg_run(t, TG_CH_WORK, &c), GPU_SC_SUCCESS);

	read_counters(t, &out, GPU_APERTURE_VRAM, 9 * TG_PAGE, 3, false);
	assert_int_equal(cnt[0], 0);
	assert_int_equal(cnt[1], 4);
	assert_int_equal(cnt[2], 0);
	read_counters(t, &out, GPU_APERTURE_SYSTEM, sys.dma, 2, true);
	assert_int_equal(cnt[0], 0);
	assert_int_equal(cnt[1], 3);
	/* Cleared by the read. */
	read_counters(t, &out, GPU_APERTURE_SYSTEM, sys.dma, 2, false);
	assert_int_equal(cnt[1], 0);
	/* COUNTERS_RESET zeroes the VRAM ones too. */
	c = (struct gpu_cmd){ .opcode = GPU_OP_COUNTERS_RESET };
	assert_int_equal(tg_run(t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
	read_counters(t, &out, GPU_APERTURE_VRAM, 10 * TG_PAGE, 1, false);
	assert_int_equal(cnt[0], 0);
}

/* Threshold 4: the fourth and eighth access of a page post notifications. */
static void test_threshold_notifications(void **state)
{
	struct tgpu *t = *state;
	struct tg_buf sys = tg_alloc(t, TG_PAGE);
	struct gpu_fault_entry e = { 0 };
	struct gpu_cmd c;

	tg_fault_enable(t, TG_FAULTS);
	tg_wr32(t, GPU_REG_COUNTER_THRESHOLD, 4);
	assert_int_equal(tg_rd32(t, GPU_REG_COUNTER_THRESHOLD), 4);
	assert_int_equal(tg_map_sys(t, ASID, &sys, GPU_PTE_WRITE), GPU_SC_SUCCESS);
	c = tg_launch(ASID, GPU_KERNEL_FILL, (uintptr_t)sys.cpu + 8, 1, 5, 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(tg_run(t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
	assert_int_equal(tg_rd32(t, GPU_REG_FAULT_PUT), 0);
	assert_int_equal(tg_run(t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
	assert_true(tg_fault_next(t, &e, TG_FAULTS));
	assert_int_equal(e.type, GPU_FAULT_TYPE_COUNTER);
	assert_int_equal(e.flags, GPU_FAULT_F_VALID | GPU_FAULT_F_SYSTEM);
	assert_int_equal(e.va, (uintptr_t)sys.cpu);
	assert_int_equal(e.addr, sys.dma);
	assert_int_equal(e.asid, ASID);
	assert_int_equal(e.count, 4);
	assert_int_equal(e.access, GPU_ACCESS_WRITE);
	assert_int_equal(e.engine, GPU_ENGINE_COMPUTE);
	/* Nothing stalls for a notification. */
	assert_int_equal(tg_rd32(t, GPU_REG_FAULT_PENDING), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(tg_run(t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
	assert_true(tg_fault_next(t, &e, TG_FAULTS));
	assert_int_equal(e.count, 8);

	/* A VRAM page: notified with its VRAM offset. */
	assert_int_equal(tg_map_vram(t, ASID, VA, 1, 3 * TG_PAGE, 0), GPU_SC_SUCCESS);
	c = tg_launch(ASID, GPU_KERNEL_CHECKSUM, VA, 16, (uintptr_t)sys.cpu + 64, 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(tg_run(t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
	/* The result writes touched @sys too: 8 + 4 = 12, a multiple of 4 again. */
	assert_true(tg_fault_next(t, &e, TG_FAULTS));
	assert_int_equal(e.flags, GPU_FAULT_F_VALID);
	assert_int_equal(e.va, VA);
	assert_int_equal(e.addr, 3 * TG_PAGE);
	assert_int_equal(e.access, GPU_ACCESS_READ);
	assert_true(tg_fault_next(t, &e, TG_FAULTS));
	assert_int_equal(e.addr, sys.dma);
	assert_int_equal(e.count, 12);
}

/* A full buffer drops notifications, and says how many. */
static void test_notifications_dropped(void **state)
{
	struct tgpu *t = *state;
	struct tg_buf sys = tg_alloc(t, TG_PAGE);
	struct gpu_cmd c;

	tg_fault_enable(t, 2); /* room for one */
	tg_wr32(t, GPU_REG_COUNTER_THRESHOLD, 1);
	assert_int_equal(tg_map_sys(t, ASID, &sys, GPU_PTE_WRITE), GPU_SC_SUCCESS);
	c = tg_launch(ASID, GPU_KERNEL_FILL, (uintptr_t)sys.cpu, 1, 5, 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(tg_run(t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
	assert_int_equal(tg_rd32(t, GPU_REG_FAULT_PUT), 1);
	assert_int_equal(tg_rd32(t, GPU_REG_COUNTER_DROPPED), 2);
	tg_wr32(t, GPU_REG_CTRL, GPU_CTRL_RESET);
	assert_int_equal(tg_rd32(t, GPU_REG_COUNTER_DROPPED), 0);
	assert_int_equal(tg_rd32(t, GPU_REG_COUNTER_THRESHOLD), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_counters_move, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threshold_notifications, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notifications_dropped, setup, teardown),
	};

	quiet_logs();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
