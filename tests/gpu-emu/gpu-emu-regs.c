// SPDX-License-Identifier: MIT
/*
 * The GPU's registers and its answers to mistakes: identity registers,
 * malformed and forbidden register accesses (dropped, counted, recorded),
 * channel enable checks, bad ring entries (each completes with its status
 * and the channel goes on), an unreadable ring (the channel stops until
 * disabled), DMA the fabric refuses, and reset.
 */
#include <poll.h>
#include <sys/mman.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "fabric-fixture.h"
#include "tgpu.h"

static int setup(void **state)
{
	struct tgpu *t = calloc(1, sizeof(*t));
	struct gpu_emu_params p = tg_params();

	if (!t || tg_setup(t, &p))
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

static void test_identity(void **state)
{
	struct tgpu *t = *state;

	assert_ptr_equal(gpu_emu_from_pdev(t->pdev), t->emu);
	assert_null(gpu_emu_from_pdev(t->peer));
	assert_int_equal(pci_dev_class(t->pdev), GPU_CLASS);
	assert_int_equal(pci_dev_vendor(t->pdev), GPU_VENDOR_ID);
	assert_int_equal(pci_dev_device(t->pdev), GPU_DEVICE_ID);
	assert_int_equal(pci_resource_len(t->pdev, 0), GPU_BAR0_SIZE);
	assert_int_equal(pci_resource_len(t->pdev, 2), 16 << 20);
	assert_int_equal(pci_resource_flags(t->pdev, 2), PCI_BAR_MEM64 | PCI_BAR_PREFETCH);
	/* BAR2's file is VRAM's: a mapping of it sees what BAR2 holds. */
	{
		uint64_t off = 1;
		int fd = pci_bar_fd(t->pdev, 2, &off);
		uint8_t *bar2 = pci_iomap(t->pdev, 2), *map;

		assert_true(fd >= 0);
		assert_int_equal(off, 0);
		map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 8192);
		assert_true(map != MAP_FAILED);
		map[5] = 0x99;
		assert_int_equal(bar2[8192 + 5], 0x99);
		munmap(map, 4096);
		assert_int_equal(pci_bar_fd(t->pdev, 0, NULL), -ENOENT);
	}
	assert_int_equal(tg_rd32(t, GPU_REG_ID), GPU_ID_MAGIC);
	assert_int_equal(tg_rd32(t, GPU_REG_VERSION), GPU_VERSION);
	assert_int_equal(tg_rd32(t, GPU_REG_NR_CHANNELS), GPU_NR_CHANNELS);
	assert_int_equal(tg_rd32(t, GPU_REG_NR_ASIDS), GPU_NR_ASIDS);
	assert_int_equal(tg_rd64(t, GPU_REG_VRAM_SIZE), 64 << 20);
	assert_int_equal(tg_rd64(t, GPU_REG_VRAM_VISIBLE), 16 << 20);
	/* A 64-bit register read as two halves. */
	assert_int_equal(tg_rd32(t, GPU_REG_VRAM_SIZE), 64 << 20);
	assert_int_equal(tg_rd32(t, GPU_REG_VRAM_SIZE + 4), 0);
	assert_int_equal(tg_rd32(t, GPU_REG_FEATURES), GPU_FEAT_ATOMICS | GPU_FEAT_COUNTERS);
	assert_true(tg_rd32(t, GPU_REG_STATUS) & GPU_STS_READY);
	assert_int_equal(tg_rd32(t, GPU_REG_ERROR_COUNT), 0);
	assert_int_equal(gpu_emu_irq_fd(t->emu, GPU_NR_VECTORS), -EINVAL);
	assert_true(gpu_emu_irq_fd(t->emu, GPU_IRQ_FAULT) >= 0);
}

/* Each bad access is dropped, counted once, and says what it was. */
static void expect_reg_error(struct tgpu *t, uint32_t *count, uint32_t code, uint64_t info)
{
	assert_int_equal(tg_rd32(t, GPU_REG_ERROR_COUNT), ++*count);
	assert_int_equal(tg_rd32(t, GPU_REG_ERROR_CODE), code);
	assert_int_equal(tg_rd64(t, GPU_REG_ERROR_INFO), info);
}

static void test_bad_register_accesses(void **state)
{
	struct tgpu *t = *state;
	unsigned long guest = hetmem_guest_errors();
	uint32_t n = 0;

	pci_mmio_write(t->pdev, 0, GPU_REG_IRQ_MASK, 2, 1);
	expect_reg_error(t, &n, GPU_ERR_REG_ACCESS, GPU_REG_IRQ_MASK);
	assert_int_equal(tg_rd32(t, GPU_REG_IRQ_MASK), 0);
	assert_int_equal(pci_mmio_read(t->pdev, 0, GPU_REG_ID, 1), 0);
	expect_reg_error(t, &n, GPU_ERR_REG_ACCESS, GPU_REG_ID);
	/* 8 bytes at a 32-bit register. */
	tg_wr64(t, GPU_REG_IRQ_MASK, 1);
	expect_reg_error(t, &n, GPU_ERR_REG_ACCESS, GPU_REG_IRQ_MASK);
	/* Read-only and undefined registers. */
	tg_wr32(t, GPU_REG_ID, 0);
	expect_reg_error(t, &n, GPU_ERR_REG_UNDEFINED, GPU_REG_ID);
	tg_wr64(t, GPU_REG_VRAM_SIZE, 1 << 20);
	expect_reg_error(t, &n, GPU_ERR_REG_UNDEFINED, GPU_REG_VRAM_SIZE);
	assert_int_equal(tg_rd64(t, GPU_REG_VRAM_SIZE), 64 << 20);
	tg_wr32(t, 0x800000, 1);
	expect_reg_error(t, &n, GPU_ERR_REG_UNDEFINED, 0x800000);
	assert_int_equal(tg_rd32(t, 0x800000), 0);
	tg_wr32(t, GPU_CH_REG(0, GPU_CH_HEAD), 3);
	expect_reg_error(t, &n, GPU_ERR_REG_UNDEFINED, GPU_CH_REG(0, GPU_CH_HEAD));
	/* Values out of range. */
	tg_wr32(t, GPU_REG_CTRL, 2);
	expect_reg_error(t, &n, GPU_ERR_REG_VALUE, GPU_REG_CTRL);
	tg_wr32(t, GPU_REG_IRQ_MASK, 1u << GPU_NR_VECTORS);
	expect_reg_error(t, &n, GPU_ERR_REG_VALUE, GPU_REG_IRQ_MASK);
	tg_wr32(t, GPU_REG_FAULT_REPLAY, 1u << GPU_NR_CHANNELS);
	expect_reg_error(t, &n, GPU_ERR_REG_VALUE, GPU_REG_FAULT_REPLAY);
	tg_wr32(t, GPU_REG_FAULT_GET, 0);
	expect_reg_error(t, &n, GPU_ERR_REG_VALUE, GPU_REG_FAULT_GET); /* buffer off */
	tg_wr32(t, GPU_CH_REG(1, GPU_CH_TAIL), 0);
	expect_reg_error(t, &n, GPU_ERR_REG_VALUE, GPU_CH_REG(1, GPU_CH_TAIL)); /* channel off */
	assert_true(hetmem_guest_errors() - guest >= n);
}

static void test_channel_enable_checks(void **state)
{
	struct tgpu *t = *state;
	struct tg_buf ring = tg_alloc(t, TG_RING * GPU_CMD_SIZE);
	uint64_t ctrl = GPU_CH_REG(2, GPU_CH_CTRL);
	uint32_t n = 0;

	/* No ring: refused. */
	tg_wr32(t, ctrl, GPU_CH_CTRL_ENABLE);
	expect_reg_error(t, &n, GPU_ERR_REG_VALUE, ctrl);
	assert_int_equal(tg_rd32(t, ctrl), 0);
	/* Misaligned ring, size not a power of two, fence misaligned. */
	tg_wr64(t, GPU_CH_REG(2, GPU_CH_RING_BASE), ring.dma + 8);
	tg_wr32(t, GPU_CH_REG(2, GPU_CH_RING_SIZE), 16);
	tg_wr32(t, ctrl, GPU_CH_CTRL_ENABLE);
	expect_reg_error(t, &n, GPU_ERR_REG_VALUE, ctrl);
	tg_wr64(t, GPU_CH_REG(2, GPU_CH_RING_BASE), ring.dma);
	tg_wr32(t, GPU_CH_REG(2, GPU_CH_RING_SIZE), 12);
	tg_wr32(t, ctrl, GPU_CH_CTRL_ENABLE);
	expect_reg_error(t, &n, GPU_ERR_REG_VALUE, ctrl);
	tg_wr32(t, GPU_CH_REG(2, GPU_CH_RING_SIZE), 1u << 17);
	tg_wr32(t, ctrl, GPU_CH_CTRL_ENABLE);
	expect_reg_error(t, &n, GPU_ERR_REG_VALUE, ctrl);
	tg_wr32(t, GPU_CH_REG(2, GPU_CH_RING_SIZE), 16);
	tg_wr64(t, GPU_CH_REG(2, GPU_CH_FENCE_ADDR), ring.dma + 4);
	tg_wr32(t, ctrl, GPU_CH_CTRL_ENABLE);
	expect_reg_error(t, &n, GPU_ERR_REG_VALUE, ctrl);
	/* Right: enabled, idle. Halves of a 64-bit register written apart. */
	tg_wr32(t, GPU_CH_REG(2, GPU_CH_FENCE_ADDR), 0);
	tg_wr32(t, GPU_CH_REG(2, GPU_CH_FENCE_ADDR) + 4, 0);
	tg_wr32(t, ctrl, GPU_CH_CTRL_ENABLE);
	assert_int_equal(tg_rd32(t, GPU_CH_REG(2, GPU_CH_STATUS)),
			 GPU_CH_STS_ENABLED | GPU_CH_STS_IDLE);
	/* Configuration while enabled: dropped. */
	tg_wr32(t, GPU_CH_REG(2, GPU_CH_RING_SIZE), 32);
	expect_reg_error(t, &n, GPU_ERR_REG_BUSY, GPU_CH_REG(2, GPU_CH_RING_SIZE));
	assert_int_equal(tg_rd32(t, GPU_CH_REG(2, GPU_CH_RING_SIZE)), 16);
	/* A TAIL beyond the ring stops the channel; disabling recovers it. */
	tg_wr32(t, GPU_CH_REG(2, GPU_CH_TAIL), 16);
	expect_reg_error(t, &n, GPU_ERR_REG_VALUE, GPU_CH_REG(2, GPU_CH_TAIL));
	assert_true(tg_rd32(t, GPU_CH_REG(2, GPU_CH_STATUS)) & GPU_CH_STS_ERROR);
	tg_wr32(t, ctrl, 0);
	assert_int_equal(tg_rd32(t, GPU_CH_REG(2, GPU_CH_STATUS)), 0);
	tg_wr32(t, ctrl, GPU_CH_CTRL_ENABLE);
	assert_int_equal(tg_rd32(t, GPU_CH_REG(2, GPU_CH_STATUS)),
			 GPU_CH_STS_ENABLED | GPU_CH_STS_IDLE);
}

/* A bad entry completes with @sc, and the ring goes on. */
static void expect_cmd_status(struct tgpu *t, struct gpu_cmd cmd, uint16_t sc)
{
	uint32_t errors = tg_rd32(t, GPU_REG_ERROR_COUNT);
	struct gpu_cmd nop = { .opcode = GPU_OP_NOP };
	uint32_t idx = tg_submit(t, TG_CH_WORK, &cmd);

	assert_int_equal(tg_wait(t, TG_CH_WORK, idx), sc);
	assert_int_equal(tg_run(t, TG_CH_WORK, &nop), GPU_SC_SUCCESS);
	if (sc) {
		assert_int_equal(tg_rd32(t, GPU_REG_ERROR_COUNT), errors + 1);
		assert_int_equal(tg_rd32(t, GPU_REG_ERROR_CODE), GPU_ERR_COMMAND);
		assert_int_equal(tg_rd64(t, GPU_REG_ERROR_INFO), (uint64_t)TG_CH_WORK << 32 | sc);
		assert_int_equal(tg_rd32(t, GPU_CH_REG(TG_CH_WORK, GPU_CH_LAST_STATUS)), sc);
	}
}

static void test_bad_commands(void **state)
{
	struct tgpu *t = *state;
	struct tg_buf buf = tg_alloc(t, 2 * TG_PAGE);
	uint64_t vram = 64 << 20;
	struct gpu_cmd c;

	assert_true(tg_ch_enable(t, TG_CH_WORK));
	assert_true(tg_ch_enable(t, TG_CH_MMU));

	c = (struct gpu_cmd){ .opcode = 0x7f };
	expect_cmd_status(t, c, GPU_SC_BAD_OPCODE);
	c = (struct gpu_cmd){ .opcode = GPU_OP_NOP, .flags = 0x80 };
	expect_cmd_status(t, c, GPU_SC_BAD_FIELD);
	c = (struct gpu_cmd){ .opcode = GPU_OP_NOP, .arg = { [5] = 1 } };
	expect_cmd_status(t, c, GPU_SC_BAD_FIELD);

	/* Copies: apertures, ranges, the fabric. */
	expect_cmd_status(t, tg_copy(0, 3, buf.dma, GPU_APERTURE_SYSTEM, 16), GPU_SC_BAD_FIELD);
	expect_cmd_status(t, tg_copy(vram - 8, GPU_APERTURE_VRAM, buf.dma, GPU_APERTURE_SYSTEM, 16),
			  GPU_SC_BAD_ADDRESS);
	expect_cmd_status(t, tg_copy(~0ULL - 8, GPU_APERTURE_SYSTEM, 0, GPU_APERTURE_VRAM, 16),
			  GPU_SC_BAD_ADDRESS);
	expect_cmd_status(t, tg_copy(1ULL << GPU_VA_BITS, GPU_APERTURE_VA, 0, GPU_APERTURE_VRAM, 8),
			  GPU_SC_BAD_ADDRESS);
	c = tg_copy(0x10000, GPU_APERTURE_VA, 0, GPU_APERTURE_VRAM, 8);
	c.asid = GPU_NR_ASIDS;
	expect_cmd_status(t, c, GPU_SC_BAD_ASID);
	/* A bus address nothing claims: the fabric refuses, the command says so. */
	expect_cmd_status(t, tg_copy(0x10, GPU_APERTURE_SYSTEM, 0, GPU_APERTURE_VRAM, 64),
			  GPU_SC_DMA_ERROR);

	/* Kernels. */
	expect_cmd_status(t, tg_launch(1, 99, 0, 0, 0, 0), GPU_SC_BAD_KERNEL);
	expect_cmd_status(t, tg_launch(1, GPU_KERNEL_FILL, 0x10002, 4, 0, 0), GPU_SC_BAD_FIELD);
	expect_cmd_status(t, tg_launch(1, GPU_KERNEL_FILL, 0x10000, 4, 1ULL << 32, 0),
			  GPU_SC_BAD_FIELD);
	expect_cmd_status(t, tg_launch(1, GPU_KERNEL_ATOMIC_ADD, 0x10004, 1, 1, 0),
			  GPU_SC_BAD_FIELD);
	expect_cmd_status(t, tg_launch(1, GPU_KERNEL_SAXPY, 0x10000, 0x20000, 1ULL << 46, 0),
			  GPU_SC_BAD_ADDRESS);
	expect_cmd_status(t, tg_launch(GPU_NR_ASIDS, GPU_KERNEL_FILL, 0x10000, 1, 0, 0),
			  GPU_SC_BAD_ASID);

	/* Page-table commands. */
	expect_cmd_status(t, tg_pte_set(1, 0x10001000, 1, vram | GPU_PTE_VALID, 0),
			  GPU_SC_BAD_PTE); /* beyond VRAM */
	expect_cmd_status(t, tg_pte_set(1, 0x10001000, 1, GPU_PTE_WRITE, 0),
			  GPU_SC_BAD_PTE); /* flags without VALID */
	expect_cmd_status(t, tg_pte_set(1, 0x10001000, 1, GPU_PTE_VALID | GPU_PTE_ATOMIC, 0),
			  GPU_SC_BAD_PTE); /* atomic without write */
	expect_cmd_status(t, tg_pte_set(1, 0x10001000, 1, GPU_PTE_VALID | 0x100, 0),
			  GPU_SC_BAD_PTE); /* reserved bits */
	expect_cmd_status(t,
			  tg_pte_set(1, 0x10001000, 2, (vram - TG_PAGE) | GPU_PTE_VALID, TG_PAGE),
			  GPU_SC_BAD_PTE); /* the second page lands beyond VRAM */
	expect_cmd_status(t, tg_pte_set(1, 0x10001004, 1, GPU_PTE_VALID, 0), GPU_SC_BAD_FIELD);
	expect_cmd_status(t, tg_pte_set(1, 0x10001000, 0, GPU_PTE_VALID, 0), GPU_SC_BAD_FIELD);
	expect_cmd_status(t, tg_pte_set(1, 0x10001000, 1, GPU_PTE_VALID, 100), GPU_SC_BAD_FIELD);
	expect_cmd_status(t, tg_pte_set(1, (1ULL << GPU_VA_BITS) - TG_PAGE, 2, 0, 0),
			  GPU_SC_BAD_ADDRESS);
	c = (struct gpu_cmd){ .opcode = GPU_OP_PTE_WRITE,
			      .asid = 1,
			      .arg = { 0x10000000, 1, buf.dma + 4 } };
	expect_cmd_status(t, c, GPU_SC_BAD_FIELD);
	/* One bad PTE in an array: nothing is written. */
	((uint64_t *)buf.cpu)[0] = GPU_PTE_VALID | GPU_PTE_WRITE;
	((uint64_t *)buf.cpu)[1] = vram | GPU_PTE_VALID;
	c = (struct gpu_cmd){ .opcode = GPU_OP_PTE_WRITE,
			      .asid = 1,
			      .arg = { 0x10000000, 2, buf.dma } };
	expect_cmd_status(t, c, GPU_SC_BAD_PTE);
	c = (struct gpu_cmd){ .opcode = GPU_OP_PTE_READ,
			      .asid = 1,
			      .arg = { 0x10000000, 2, buf.dma + TG_PAGE } };
	expect_cmd_status(t, c, GPU_SC_SUCCESS);
	assert_int_equal(((uint64_t *)(buf.cpu + TG_PAGE))[0], 0);
	assert_int_equal(((uint64_t *)(buf.cpu + TG_PAGE))[1], 0);

	/* Counters. */
	c = (struct gpu_cmd){ .opcode = GPU_OP_COUNTERS_READ, .arg = { 5, 0, 1, buf.dma } };
	expect_cmd_status(t, c, GPU_SC_BAD_FIELD);
	c = (struct gpu_cmd){ .opcode = GPU_OP_COUNTERS_READ,
			      .arg = { GPU_APERTURE_VRAM, vram, 1, buf.dma } };
	expect_cmd_status(t, c, GPU_SC_BAD_ADDRESS);
	c = (struct gpu_cmd){ .opcode = GPU_OP_COUNTERS_READ,
			      .arg = { GPU_APERTURE_VRAM, 0, 1, buf.dma, 2 } };
	expect_cmd_status(t, c, GPU_SC_BAD_FIELD);
}

/* A ring the device cannot read stops the channel; the others go on. */
static void test_unreadable_ring(void **state)
{
	struct tgpu *t = *state;
	struct gpu_cmd nop = { .opcode = GPU_OP_NOP };
	uint32_t errors;

	assert_true(tg_ch_enable(t, TG_CH_WORK));
	errors = tg_rd32(t, GPU_REG_ERROR_COUNT);
	tg_wr64(t, GPU_CH_REG(3, GPU_CH_RING_BASE), 0x1000);
	tg_wr32(t, GPU_CH_REG(3, GPU_CH_RING_SIZE), 4);
	tg_wr32(t, GPU_CH_REG(3, GPU_CH_CTRL), GPU_CH_CTRL_ENABLE);
	tg_wr32(t, GPU_CH_REG(3, GPU_CH_TAIL), 1);
	assert_true(
		tg_wait_reg(t, GPU_CH_REG(3, GPU_CH_STATUS), GPU_CH_STS_ERROR, GPU_CH_STS_ERROR));
	assert_int_equal(tg_rd32(t, GPU_REG_ERROR_COUNT), errors + 1);
	assert_int_equal(tg_rd32(t, GPU_REG_ERROR_CODE), GPU_ERR_RING_FETCH);
	assert_int_equal(tg_rd64(t, GPU_REG_ERROR_INFO), 0x1000);
	assert_int_equal(tg_rd32(t, GPU_CH_REG(3, GPU_CH_HEAD)), 0);
	assert_int_equal(tg_run(t, TG_CH_WORK, &nop), GPU_SC_SUCCESS);
}

/* Without bus mastering nothing moves: the ring is not even fetched. */
static void test_bus_master_off(void **state)
{
	struct tgpu *t = *state;
	struct gpu_cmd nop = { .opcode = GPU_OP_NOP };

	assert_true(tg_ch_enable(t, TG_CH_WORK));
	pci_clear_master(t->pdev);
	tg_submit(t, TG_CH_WORK, &nop);
	assert_true(tg_wait_reg(t, GPU_CH_REG(TG_CH_WORK, GPU_CH_STATUS), GPU_CH_STS_ERROR,
				GPU_CH_STS_ERROR));
	assert_int_equal(tg_status_word(t, TG_CH_WORK, 0), 0);
	pci_set_master(t->pdev);
	tg_wr32(t, GPU_CH_REG(TG_CH_WORK, GPU_CH_CTRL), 0);
	assert_true(tg_ch_enable(t, TG_CH_WORK));
	assert_int_equal(tg_run(t, TG_CH_WORK, &nop), GPU_SC_SUCCESS);
}

/* Completion: status word, fence in memory, FENCE and HEAD, interrupt. */
static void test_completion_and_interrupt(void **state)
{
	struct tgpu *t = *state;
	struct gpu_cmd nop = { .opcode = GPU_OP_NOP, .flags = GPU_CMD_F_IRQ };
	int fd = gpu_emu_irq_fd(t->emu, GPU_IRQ_CMD);
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint64_t v;

	assert_true(tg_ch_enable(t, TG_CH_WORK));
	assert_int_equal(tg_run(t, TG_CH_WORK, &nop), GPU_SC_SUCCESS);
	assert_int_equal(tg_status_word(t, TG_CH_WORK, 0), GPU_CMD_DONE);
	/* The status word comes first; the fence and the registers follow. */
	assert_true(tg_wait_reg(t, GPU_CH_REG(TG_CH_WORK, GPU_CH_HEAD), ~0u, 1));
	assert_int_equal(tg_rd64(t, GPU_CH_REG(TG_CH_WORK, GPU_CH_FENCE)), 1);
	assert_int_equal(*(uint64_t *)t->ch[TG_CH_WORK].fence.cpu, 1);
	assert_int_equal(tg_rd32(t, GPU_CH_REG(TG_CH_WORK, GPU_CH_HEAD)), 1);
	assert_int_equal(read(fd, &v, sizeof(v)), sizeof(v));
	assert_int_equal(v, 1);
	assert_true(tg_rd32(t, GPU_REG_IRQ_STATUS) & (1u << GPU_IRQ_CMD));
	tg_wr32(t, GPU_REG_IRQ_STATUS, 1u << GPU_IRQ_CMD);
	assert_int_equal(tg_rd32(t, GPU_REG_IRQ_STATUS), 0);

	/* Masked: held back, signalled once unmasked. */
	tg_wr32(t, GPU_REG_IRQ_MASK, 1u << GPU_IRQ_CMD);
	for (int i = 0; i < 3; i++)
		assert_int_equal(tg_run(t, TG_CH_WORK, &nop), GPU_SC_SUCCESS);
	assert_int_equal(poll(&pfd, 1, 20), 0);
	tg_wr32(t, GPU_REG_IRQ_MASK, 0);
	assert_int_equal(read(fd, &v, sizeof(v)), sizeof(v));
	assert_int_equal(v, 3);
	/* Without the flag, no interrupt. */
	nop.flags = 0;
	assert_int_equal(tg_run(t, TG_CH_WORK, &nop), GPU_SC_SUCCESS);
	assert_int_equal(poll(&pfd, 1, 20), 0);
	assert_true(tg_wait_reg(t, GPU_CH_REG(TG_CH_WORK, GPU_CH_HEAD), ~0u, 5));
	assert_int_equal(tg_rd64(t, GPU_CH_REG(TG_CH_WORK, GPU_CH_FENCE)), 5);
	assert_int_equal(*(uint64_t *)t->ch[TG_CH_WORK].fence.cpu, 5);
}

/* Reset: channels off, page tables and errors gone, VRAM kept. */
static void test_reset(void **state)
{
	struct tgpu *t = *state;
	struct tg_buf buf = tg_alloc(t, TG_PAGE);
	uint8_t *bar2 = pci_iomap(t->pdev, GPU_BAR_VRAM);
	struct gpu_cmd c;

	assert_true(tg_ch_enable(t, TG_CH_WORK));
	assert_true(tg_ch_enable(t, TG_CH_MMU));
	assert_int_equal(tg_map_vram(t, 3, 0x40000000, 1, 0, GPU_PTE_WRITE), GPU_SC_SUCCESS);
	bar2[100] = 0x5a;
	tg_wr32(t, 0x900000, 1); /* an error to clear */
	assert_int_not_equal(tg_rd32(t, GPU_REG_ERROR_COUNT), 0);

	tg_wr32(t, GPU_REG_CTRL, GPU_CTRL_RESET);
	assert_int_equal(tg_rd32(t, GPU_REG_STATUS), GPU_STS_READY);
	assert_int_equal(tg_rd32(t, GPU_REG_ERROR_COUNT), 0);
	assert_int_equal(tg_rd32(t, GPU_CH_REG(TG_CH_WORK, GPU_CH_STATUS)), 0);
	assert_int_equal(tg_rd64(t, GPU_CH_REG(TG_CH_WORK, GPU_CH_RING_BASE)), 0);
	assert_int_equal(bar2[100], 0x5a);

	assert_true(tg_ch_enable(t, TG_CH_WORK));
	c = (struct gpu_cmd){ .opcode = GPU_OP_PTE_READ,
			      .asid = 3,
			      .arg = { 0x40000000, 1, buf.dma } };
	((uint64_t *)buf.cpu)[0] = 0xdead;
	assert_int_equal(tg_run(t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
	assert_int_equal(((uint64_t *)buf.cpu)[0], 0);
}

/* The GPU's own DMA cannot write its registers: a fence aimed at CTRL (seq 1 = RESET). */
static void test_dma_into_own_registers(void **state)
{
	struct tgpu *t = *state;
	struct gpu_cmd nop = { .opcode = GPU_OP_NOP };
	uint64_t ctrl = pci_bus_address(t->pdev, GPU_BAR_REGS) + GPU_REG_CTRL;
	struct tg_ch *ch = &t->ch[TG_CH_WORK];

	ch->ring = tg_alloc(t, TG_RING * GPU_CMD_SIZE);
	tg_wr64(t, GPU_CH_REG(TG_CH_WORK, GPU_CH_RING_BASE), ch->ring.dma);
	tg_wr32(t, GPU_CH_REG(TG_CH_WORK, GPU_CH_RING_SIZE), TG_RING);
	tg_wr64(t, GPU_CH_REG(TG_CH_WORK, GPU_CH_FENCE_ADDR), ctrl);
	tg_wr32(t, GPU_CH_REG(TG_CH_WORK, GPU_CH_CTRL), GPU_CH_CTRL_ENABLE);
	assert_int_equal(tg_run(t, TG_CH_WORK, &nop), GPU_SC_SUCCESS);
	/* The fence goes out after the status word: wait for the FENCE register. */
	assert_true(tg_wait_reg(t, GPU_CH_REG(TG_CH_WORK, GPU_CH_FENCE), ~0u, 1));
	assert_int_equal(tg_rd32(t, GPU_REG_ERROR_CODE), GPU_ERR_REG_ACCESS);
	assert_true(tg_rd32(t, GPU_CH_REG(TG_CH_WORK, GPU_CH_STATUS)) & GPU_CH_STS_ENABLED);
	assert_int_equal(tg_rd64(t, GPU_CH_REG(TG_CH_WORK, GPU_CH_RING_BASE)), ch->ring.dma);
	assert_int_equal(tg_run(t, TG_CH_WORK, &nop), GPU_SC_SUCCESS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_register_accesses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_channel_enable_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_commands, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreadable_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bus_master_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_completion_and_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dma_into_own_registers, setup, teardown),
	};

	quiet_logs();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
