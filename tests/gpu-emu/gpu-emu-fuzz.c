// SPDX-License-Identifier: MIT
/*
 * The emulated GPU in step mode (drivers/gpu/emu/step.h), as the fuzzer
 * drives it, and one regression test per change tests/fuzz/fuzz-gpu.c led
 * to, each replaying the commands deterministically:
 *
 *   step mode       no threads, work done by gpu_emu_run_steps(), refused
 *                   on a started GPU's neighbour calls
 *   atomic runs     ATOMIC_ADD over a page routed once per page (the fuzzer
 *                   found inputs spending seconds routing every element),
 *                   still exact on system memory, a peer's BAR, and a
 *                   register BAR (read and written back, the write dropped)
 *   table memory    PTE_SETs of a million pages each took the host's memory
 *                   without bound (a gigabyte for an input of 5 KiB); the
 *                   tables now have a fixed budget, beyond which PTE
 *                   commands fail with GPU_SC_INTERNAL until an ASID reset
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "fabric-fixture.h"
#include "tgpu.h"

#define ASID 5
#define VA   0x7f1000000000ULL

static int setup(void **state)
{
	struct tgpu *t = calloc(1, sizeof(*t));
	struct gpu_emu_params p = tg_params();
	struct tg_opts o = { .stepped = true, .peer_bar = 1 << 20 };

	if (!t || tg_setup_opts(t, &p, &o) || !tg_ch_enable(t, TG_CH_WORK) ||
	    !tg_ch_enable(t, TG_CH_MMU))
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

static void test_step_mode(void **state)
{
	struct tgpu *t = *state;
	struct gpu_cmd nop = { .opcode = GPU_OP_NOP };
	struct gpu_cmd fill = tg_launch(ASID, GPU_KERNEL_FILL, VA, 1024, 7, 0);
	struct tg_buf buf = tg_alloc(t, TG_PAGE);
	struct gpu_cmd map = tg_pte_set(
		ASID, VA, 1, buf.dma | GPU_PTE_VALID | GPU_PTE_WRITE | GPU_PTE_SYSTEM, 0);
	uint32_t idx;

	assert_true(tg_rd32(t, GPU_REG_STATUS) & GPU_STS_READY);
	assert_int_equal(gpu_emu_start(t->emu), -EBUSY);
	assert_int_equal(gpu_emu_step_mode(t->emu), 0); /* again: nothing changes */
	assert_int_equal(gpu_emu_run_steps(t->emu, 0), 0); /* nothing to do */

	/* Written, doorbell not rung: nothing runs, however long we wait. */
	t->stepped = false;
	*tg_slot(t, TG_CH_WORK, 0) = nop;
	pci_mmio_write(t->pdev, GPU_BAR_REGS, GPU_CH_REG(TG_CH_WORK, GPU_CH_TAIL), 4, 1);
	assert_int_equal(tg_status_word(t, TG_CH_WORK, 0), 0);
	assert_int_equal(tg_rd32(t, GPU_CH_REG(TG_CH_WORK, GPU_CH_HEAD)), 0);
	/* One pass runs it; the next finds nothing. */
	assert_int_equal(gpu_emu_run_steps(t->emu, 1), 1);
	assert_int_equal(tg_status_word(t, TG_CH_WORK, 0), GPU_CMD_DONE);
	assert_int_equal(gpu_emu_run_steps(t->emu, 0), 0);
	t->stepped = true;
	t->ch[TG_CH_WORK].tail = 1;

	/* A fault with no fault buffer: completed at once, on this thread. */
	assert_int_equal(tg_run(t, TG_CH_WORK, &fill), GPU_SC_MMU_FAULT);
	/* With one: the channel stalls, and stays stalled until replayed. */
	tg_fault_enable(t, TG_FAULTS);
	idx = tg_submit(t, TG_CH_WORK, &fill);
	assert_int_equal(tg_rd32(t, GPU_REG_FAULT_PENDING), 1u << TG_CH_WORK);
	assert_int_equal(gpu_emu_run_steps(t->emu, 0), 0);
	assert_int_equal(tg_status_word(t, TG_CH_WORK, idx), 0);
	assert_int_equal(tg_run(t, TG_CH_MMU, &map), GPU_SC_SUCCESS);
	tg_wr32(t, GPU_REG_FAULT_REPLAY, 1u << TG_CH_WORK);
	assert_int_equal(tg_wait(t, TG_CH_WORK, idx), GPU_SC_SUCCESS);
	assert_int_equal(((uint32_t *)buf.cpu)[1023], 7);
	/* A budget stops a long command part way (64 steps a pass); the next call finishes it. */
	map = tg_pte_set(ASID, VA + TG_PAGE, 255,
			 buf.dma | GPU_PTE_VALID | GPU_PTE_WRITE | GPU_PTE_SYSTEM, 0);
	assert_int_equal(tg_run(t, TG_CH_MMU, &map), GPU_SC_SUCCESS);
	fill = tg_launch(ASID, GPU_KERNEL_FILL, VA, 256 * 1024, 9, 0);
	t->stepped = false;
	idx = tg_submit(t, TG_CH_WORK, &fill);
	assert_int_equal(gpu_emu_run_steps(t->emu, 1), 1);
	assert_int_equal(tg_status_word(t, TG_CH_WORK, idx), 0);
	assert_true(gpu_emu_run_steps(t->emu, 0) > 0);
	assert_int_equal(tg_status_word(t, TG_CH_WORK, idx), GPU_CMD_DONE);
	t->stepped = true;
	assert_int_equal(tg_rd32(t, GPU_REG_ERROR_COUNT), 0);
}

static void test_step_mode_refused(void **state)
{
	struct tgpu t;
	struct gpu_emu_params p = tg_params();

	assert_int_equal(tg_setup(&t, &p), 0);
	assert_int_equal(gpu_emu_run_steps(t.emu, 0), -EINVAL);
	/* A started GPU can be taken over: its threads stop, its state stays. */
	assert_true(tg_ch_enable(&t, TG_CH_WORK));
	assert_int_equal(gpu_emu_step_mode(t.emu), 0);
	t.stepped = true;
	assert_true(tg_rd32(&t, GPU_CH_REG(TG_CH_WORK, GPU_CH_STATUS)) & GPU_CH_STS_ENABLED);
	{
		struct gpu_cmd nop = { .opcode = GPU_OP_NOP };

		assert_int_equal(tg_run(&t, TG_CH_WORK, &nop), GPU_SC_SUCCESS);
	}
	tg_teardown(&t);
}

/* Page @i of the range at VA: @bus, read-write-atomic. */
static void map_page(struct tgpu *t, unsigned int i, uint64_t bus)
{
	struct gpu_cmd c = tg_pte_set(
		ASID, VA + (uint64_t)i * TG_PAGE, 1,
		bus | GPU_PTE_VALID | GPU_PTE_WRITE | GPU_PTE_ATOMIC | GPU_PTE_SYSTEM, 0);

	assert_int_equal(tg_run(t, TG_CH_MMU, &c), GPU_SC_SUCCESS);
}

static void test_atomic_runs(void **state)
{
	struct tgpu *t = *state;
	struct tg_buf sys = tg_alloc(t, 2 * TG_PAGE);
	uint64_t *peer = pci_iomap(t->peer, 2), *s = (uint64_t *)sys.cpu;
	uint64_t peer_bus = pci_bus_address(t->peer, 2);
	uint64_t bar0 = pci_bus_address(t->pdev, GPU_BAR_REGS);
	struct gpu_cmd add;

	assert_non_null(peer);
	for (unsigned int i = 0; i < 1024; i++)
		s[i] = i;
	for (unsigned int i = 0; i < 512; i++)
		peer[512 + i] = 1000 + i;
	map_page(t, 0, sys.dma);
	map_page(t, 1, sys.dma + TG_PAGE);
	map_page(t, 2, peer_bus + TG_PAGE);
	map_page(t, 3, bar0);

	/* Whole pages and parts of pages, system memory then a peer's BAR. */
	add = tg_launch(ASID, GPU_KERNEL_ATOMIC_ADD, VA + 8, 1023 + 511, 5, 0);
	assert_int_equal(tg_run(t, TG_CH_WORK, &add), GPU_SC_SUCCESS);
	assert_int_equal(s[0], 0);
	for (unsigned int i = 1; i < 1024; i++)
		assert_int_equal(s[i], i + 5);
	for (unsigned int i = 0; i < 511; i++)
		assert_int_equal(peer[512 + i], 1000 + i + 5);
	assert_int_equal(peer[1023], 1000 + 511);
	assert_int_equal(tg_rd32(t, GPU_REG_ERROR_COUNT), 0);

	/* Registers: read and written back; the write, the GPU's own, is dropped. */
	add = tg_launch(ASID, GPU_KERNEL_ATOMIC_ADD, VA + 3 * TG_PAGE, 4, 1, 0);
	assert_int_equal(tg_run(t, TG_CH_WORK, &add), GPU_SC_SUCCESS);
	assert_int_equal(tg_rd32(t, GPU_REG_ERROR_CODE), GPU_ERR_REG_ACCESS);
	assert_int_equal(tg_rd32(t, GPU_REG_ID), GPU_ID_MAGIC);

	/* A page the fabric refuses: nothing of the step is added. */
	map_page(t, 4, 0x10000000000ULL);
	add = tg_launch(ASID, GPU_KERNEL_ATOMIC_ADD, VA + 4 * TG_PAGE, 8, 1, 0);
	assert_int_equal(tg_run(t, TG_CH_WORK, &add), GPU_SC_DMA_ERROR);
}

static void test_table_memory(void **state)
{
	struct tgpu *t = *state;
	const uint64_t base = 0x100000000000ULL, span = 4ULL << 30; /* a million pages */
	struct gpu_cmd c, small = tg_pte_set(ASID + 1, base, 1, GPU_PTE_VALID, 0);
	unsigned int i;
	uint16_t sc = GPU_SC_SUCCESS;

	/* Each command needs 2052 nodes (2048 leaves, 4 for its GiBs): the eighth overflows. */
	for (i = 0; i < 8 && sc == GPU_SC_SUCCESS; i++) {
		c = tg_pte_set(ASID, base + i * span, 1u << 20, GPU_PTE_VALID, 0);
		sc = tg_run(t, TG_CH_MMU, &c);
	}
	assert_int_equal(sc, GPU_SC_INTERNAL);
	assert_int_equal(i, 8);
	assert_int_equal(tg_rd32(t, GPU_CH_REG(TG_CH_MMU, GPU_CH_LAST_STATUS)), GPU_SC_INTERNAL);
	/* The budget is the device's: another ASID is refused too; unmapping needs nothing. */
	assert_int_equal(tg_run(t, TG_CH_MMU, &small), GPU_SC_INTERNAL);
	c = tg_pte_set(ASID, base, 16, 0, 0);
	assert_int_equal(tg_run(t, TG_CH_MMU, &c), GPU_SC_SUCCESS);
	/* What was mapped still translates. */
	{
		struct tg_buf out = tg_alloc(t, TG_PAGE);
		struct gpu_cmd rd = { .opcode = GPU_OP_PTE_READ, .asid = ASID };

		rd.arg[0] = base + span;
		rd.arg[1] = 2;
		rd.arg[2] = out.dma;
		assert_int_equal(tg_run(t, TG_CH_MMU, &rd), GPU_SC_SUCCESS);
		assert_int_equal(((uint64_t *)out.cpu)[0], GPU_PTE_VALID);
		assert_int_equal(((uint64_t *)out.cpu)[1], GPU_PTE_VALID);
	}
	/* An ASID reset gives its memory back. */
	c = (struct gpu_cmd){ .opcode = GPU_OP_ASID_RESET, .asid = ASID };
	assert_int_equal(tg_run(t, TG_CH_MMU, &c), GPU_SC_SUCCESS);
	assert_int_equal(tg_run(t, TG_CH_MMU, &small), GPU_SC_SUCCESS);
	c = tg_pte_set(ASID, base, 1u << 20, GPU_PTE_VALID, 0);
	assert_int_equal(tg_run(t, TG_CH_MMU, &c), GPU_SC_SUCCESS);
	/* And CTRL.RESET all of it. */
	tg_wr32(t, GPU_REG_CTRL, GPU_CTRL_RESET);
	assert_true(tg_ch_enable(t, TG_CH_MMU));
	for (i = 0; i < 7; i++) {
		c = tg_pte_set(ASID, base + i * span, 1u << 20, GPU_PTE_VALID, 0);
		assert_int_equal(tg_run(t, TG_CH_MMU, &c), GPU_SC_SUCCESS);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_step_mode, setup, teardown),
		cmocka_unit_test(test_step_mode_refused),
		cmocka_unit_test_setup_teardown(test_atomic_runs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_table_memory, setup, teardown),
	};

	quiet_logs();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
