// SPDX-License-Identifier: MIT
/*
 * The MMU and its faults: page tables written, set and read back per ASID;
 * a page fault stalls the channel and lands in the fault buffer with what
 * the driver needs; servicing it and replaying finishes the command where
 * it stopped; cancelling fails it and the channel goes on; write and
 * atomic protection; a full fault buffer delays faults without losing
 * them; invalidation and ASID reset; a stalled channel holds up no
 * invalidation.
 */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "fabric-fixture.h"
#include "tgpu.h"

#define ASID 5

static int setup(void **state)
{
	struct tgpu *t = calloc(1, sizeof(*t));
	struct gpu_emu_params p = tg_params();

	if (!t || tg_setup(t, &p) || !tg_ch_enable(t, TG_CH_WORK) || !tg_ch_enable(t, TG_CH_MMU))
		return -1;
	tg_fault_enable(t, TG_FAULTS);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	tg_teardown(*state);
	free(*state);
	return 0;
}

static uint64_t va_of(const struct tg_buf *b, unsigned int page)
{
	return (uintptr_t)b->cpu + (uint64_t)page * TG_PAGE;
}

/* Map page @page of @b alone. */
static uint16_t map_page(struct tgpu *t, const struct tg_buf *b, unsigned int page, uint64_t flags)
{
	struct gpu_cmd c =
		tg_pte_set(ASID, va_of(b, page), 1,
			   (b->dma + page * TG_PAGE) | GPU_PTE_VALID | GPU_PTE_SYSTEM | flags, 0);

	return tg_run(t, TG_CH_MMU, &c);
}

static void expect_fault(struct tgpu *t, uint64_t va, unsigned int access, unsigned int engine,
			 unsigned int reason)
{
	struct gpu_fault_entry e = { 0 };

	assert_true(tg_fault_next(t, &e, TG_FAULTS));
	assert_int_equal(e.type, GPU_FAULT_TYPE_PAGE);
	assert_int_equal(e.flags & GPU_FAULT_F_VALID, GPU_FAULT_F_VALID);
	assert_int_equal(e.va, va & ~(uint64_t)(TG_PAGE - 1));
	assert_int_equal(e.asid, ASID);
	assert_int_equal(e.access, access);
	assert_int_equal(e.engine, engine);
	assert_int_equal(e.reason, reason);
	assert_int_equal(e.channel, TG_CH_WORK);
}

static void test_pte_round_trip(void **state)
{
	struct tgpu *t = *state;
	struct tg_buf arr = tg_alloc(t, 3 * TG_PAGE);
	uint64_t *in = (uint64_t *)arr.cpu, *out = (uint64_t *)(arr.cpu + TG_PAGE);
	uint64_t va = 0x123456000ULL;
	struct gpu_cmd c;

	in[0] = 0x5000 | GPU_PTE_VALID;
	in[1] = 0;
	in[2] = 0x7000 | GPU_PTE_VALID | GPU_PTE_WRITE | GPU_PTE_ATOMIC;
	in[3] = 0xabcdef000ULL | GPU_PTE_VALID | GPU_PTE_SYSTEM | GPU_PTE_WRITE;
	c = (struct gpu_cmd){ .opcode = GPU_OP_PTE_WRITE, .asid = ASID, .arg = { va, 4, arr.dma } };
	assert_int_equal(tg_run(t, TG_CH_MMU, &c), GPU_SC_SUCCESS);
	c = (struct gpu_cmd){ .opcode = GPU_OP_PTE_READ,
			      .asid = ASID,
			      .arg = { va - TG_PAGE, 6, arr.dma + TG_PAGE } };
	assert_int_equal(tg_run(t, TG_CH_MMU, &c), GPU_SC_SUCCESS);
	assert_int_equal(out[0], 0);
	assert_memory_equal(out + 1, in, 4 * sizeof(uint64_t));
	assert_int_equal(out[5], 0);

	/* Another ASID sees nothing of it. */
	c.asid = ASID + 1;
	assert_int_equal(tg_run(t, TG_CH_MMU, &c), GPU_SC_SUCCESS);
	for (int i = 0; i < 6; i++)
		assert_int_equal(out[i], 0);

	/* A run with a stride, then unmapped with one PTE_SET of 0. */
	c = tg_pte_set(ASID, va, 300, (1 << 20) | GPU_PTE_VALID | GPU_PTE_WRITE, TG_PAGE);
	assert_int_equal(tg_run(t, TG_CH_MMU, &c), GPU_SC_SUCCESS);
	c = (struct gpu_cmd){ .opcode = GPU_OP_PTE_READ,
			      .asid = ASID,
			      .arg = { va, 300, arr.dma + TG_PAGE } };
	assert_int_equal(tg_run(t, TG_CH_MMU, &c), GPU_SC_SUCCESS);
	for (uint64_t i = 0; i < 300; i++)
		assert_int_equal(out[i], ((1 << 20) + i * TG_PAGE) | GPU_PTE_VALID | GPU_PTE_WRITE);
	c = tg_pte_set(ASID, va, 300, 0, 0);
	assert_int_equal(tg_run(t, TG_CH_MMU, &c), GPU_SC_SUCCESS);
	c = (struct gpu_cmd){ .opcode = GPU_OP_PTE_READ,
			      .asid = ASID,
			      .arg = { va, 300, arr.dma + TG_PAGE } };
	assert_int_equal(tg_run(t, TG_CH_MMU, &c), GPU_SC_SUCCESS);
	for (uint64_t i = 0; i < 300; i++)
		assert_int_equal(out[i], 0);
}

/* A fill over three pages, two of them unmapped: fault, service, replay, twice. */
static void test_fault_service_replay(void **state)
{
	struct tgpu *t = *state;
	struct tg_buf b = tg_alloc(t, 3 * TG_PAGE);
	int fd = gpu_emu_irq_fd(t->emu, GPU_IRQ_FAULT);
	struct gpu_cmd c;
	uint32_t idx, *w = (uint32_t *)b.cpu;
	uint64_t v;

	assert_int_equal(map_page(t, &b, 0, GPU_PTE_WRITE), GPU_SC_SUCCESS);
	c = tg_launch(ASID, GPU_KERNEL_FILL, va_of(&b, 0) + 8, (3 * TG_PAGE - 16) / 4, 0x11223344,
		      0);
	idx = tg_submit(t, TG_CH_WORK, &c);
	expect_fault(t, va_of(&b, 1), GPU_ACCESS_WRITE, GPU_ENGINE_COMPUTE, GPU_FAULT_NOT_PRESENT);
	assert_true(read(fd, &v, sizeof(v)) == sizeof(v) && v >= 1);
	assert_int_equal(tg_rd32(t, GPU_REG_FAULT_PENDING), 1u << TG_CH_WORK);
	assert_true(tg_rd32(t, GPU_CH_REG(TG_CH_WORK, GPU_CH_STATUS)) & GPU_CH_STS_STALLED);
	assert_int_equal(tg_status_word(t, TG_CH_WORK, idx), 0);
	/* Page 0 is done, page 1 untouched. */
	assert_int_equal(w[2], 0x11223344);
	assert_int_equal(w[1023], 0x11223344);
	assert_int_equal(w[1024], 0);

	assert_int_equal(map_page(t, &b, 1, GPU_PTE_WRITE), GPU_SC_SUCCESS);
	tg_wr32(t, GPU_REG_FAULT_REPLAY, 1u << TG_CH_WORK);
	expect_fault(t, va_of(&b, 2), GPU_ACCESS_WRITE, GPU_ENGINE_COMPUTE, GPU_FAULT_NOT_PRESENT);
	assert_int_equal(map_page(t, &b, 2, GPU_PTE_WRITE), GPU_SC_SUCCESS);
	tg_wr32(t, GPU_REG_FAULT_REPLAY, 1u << TG_CH_WORK);
	assert_int_equal(tg_wait(t, TG_CH_WORK, idx), GPU_SC_SUCCESS);
	assert_int_equal(tg_rd32(t, GPU_REG_FAULT_PENDING), 0);
	for (int i = 2; i < 3 * 1024 - 2; i++)
		assert_int_equal(w[i], 0x11223344);
	assert_int_equal(w[1], 0);
	assert_int_equal(w[3 * 1024 - 2], 0);
	/* A replay with nothing stalled does nothing. */
	tg_wr32(t, GPU_REG_FAULT_REPLAY, 0xf);
	assert_int_equal(tg_rd32(t, GPU_REG_FAULT_PENDING), 0);
}

/* Cancel: the command fails, the next one runs. */
static void test_fault_cancel(void **state)
{
	struct tgpu *t = *state;
	struct tg_buf b = tg_alloc(t, TG_PAGE);
	struct gpu_cmd c = tg_launch(ASID, GPU_KERNEL_FILL, va_of(&b, 0), 4, 7, 0);
	struct gpu_cmd nop = { .opcode = GPU_OP_NOP };
	uint32_t idx = tg_submit(t, TG_CH_WORK, &c), next;

	next = tg_submit(t, TG_CH_WORK, &nop);
	expect_fault(t, va_of(&b, 0), GPU_ACCESS_WRITE, GPU_ENGINE_COMPUTE, GPU_FAULT_NOT_PRESENT);
	tg_wr32(t, GPU_REG_FAULT_CANCEL, 1u << TG_CH_WORK);
	assert_int_equal(tg_wait(t, TG_CH_WORK, idx), GPU_SC_MMU_FAULT);
	assert_int_equal(tg_wait(t, TG_CH_WORK, next), GPU_SC_SUCCESS);
	assert_int_equal(tg_rd32(t, GPU_CH_REG(TG_CH_WORK, GPU_CH_LAST_STATUS)), GPU_SC_MMU_FAULT);
	assert_int_equal(tg_rd32(t, GPU_REG_FAULT_PENDING), 0);
	assert_int_equal(((uint32_t *)b.cpu)[0], 0);
}

/* A write to a read-only page, an atomic to a page without the atomic bit. */
static void test_protection_faults(void **state)
{
	struct tgpu *t = *state;
	struct tg_buf b = tg_alloc(t, TG_PAGE);
	struct gpu_cmd c;
	uint32_t idx;

	assert_int_equal(map_page(t, &b, 0, 0), GPU_SC_SUCCESS);
	c = tg_launch(ASID, GPU_KERNEL_FILL, va_of(&b, 0), 4, 7, 0);
	idx = tg_submit(t, TG_CH_WORK, &c);
	expect_fault(t, va_of(&b, 0), GPU_ACCESS_WRITE, GPU_ENGINE_COMPUTE,
		     GPU_FAULT_WRITE_PROTECT);
	assert_int_equal(map_page(t, &b, 0, GPU_PTE_WRITE), GPU_SC_SUCCESS);
	tg_wr32(t, GPU_REG_FAULT_REPLAY, 1u << TG_CH_WORK);
	assert_int_equal(tg_wait(t, TG_CH_WORK, idx), GPU_SC_SUCCESS);
	assert_int_equal(((uint32_t *)b.cpu)[3], 7);

	c = tg_launch(ASID, GPU_KERNEL_ATOMIC_ADD, va_of(&b, 0) + 64, 2, 5, 0);
	idx = tg_submit(t, TG_CH_WORK, &c);
	expect_fault(t, va_of(&b, 0) + 64, GPU_ACCESS_ATOMIC, GPU_ENGINE_COMPUTE,
		     GPU_FAULT_ATOMIC_PROTECT);
	assert_int_equal(map_page(t, &b, 0, GPU_PTE_WRITE | GPU_PTE_ATOMIC), GPU_SC_SUCCESS);
	tg_wr32(t, GPU_REG_FAULT_REPLAY, 1u << TG_CH_WORK);
	assert_int_equal(tg_wait(t, TG_CH_WORK, idx), GPU_SC_SUCCESS);
	assert_int_equal(((uint64_t *)b.cpu)[8], 5);
	assert_int_equal(((uint64_t *)b.cpu)[9], 5);
}

/* A copy with both operands unmapped: one entry each, from the copy engine. */
static void test_copy_faults_both_operands(void **state)
{
	struct tgpu *t = *state;
	struct tg_buf src = tg_alloc(t, TG_PAGE), dst = tg_alloc(t, TG_PAGE);
	struct gpu_cmd c = tg_copy(va_of(&dst, 0), GPU_APERTURE_VA, va_of(&src, 0) + 100,
				   GPU_APERTURE_VA, 200);
	struct gpu_fault_entry e[2] = { { 0 } };
	uint32_t idx;

	memset(src.cpu, 0x42, TG_PAGE);
	c.asid = ASID;
	idx = tg_submit(t, TG_CH_WORK, &c);
	assert_true(tg_fault_next(t, &e[0], TG_FAULTS));
	assert_true(tg_fault_next(t, &e[1], TG_FAULTS));
	assert_int_equal(e[0].va, va_of(&dst, 0));
	assert_int_equal(e[0].access, GPU_ACCESS_WRITE);
	assert_int_equal(e[1].va, va_of(&src, 0));
	assert_int_equal(e[1].addr, va_of(&src, 0) + 100);
	assert_int_equal(e[1].access, GPU_ACCESS_READ);
	assert_int_equal(e[0].engine, GPU_ENGINE_COPY);
	assert_int_equal(e[1].engine, GPU_ENGINE_COPY);
	assert_int_equal(map_page(t, &src, 0, 0), GPU_SC_SUCCESS);
	assert_int_equal(map_page(t, &dst, 0, GPU_PTE_WRITE), GPU_SC_SUCCESS);
	tg_wr32(t, GPU_REG_FAULT_REPLAY, 1u << TG_CH_WORK);
	assert_int_equal(tg_wait(t, TG_CH_WORK, idx), GPU_SC_SUCCESS);
	assert_int_equal(dst.cpu[0], 0x42);
	assert_int_equal(dst.cpu[199], 0x42);
	assert_int_equal(dst.cpu[200], 0);
}

/* A buffer with room for one entry: the second channel's fault waits for GET. */
static void test_fault_buffer_full(void **state)
{
	struct tgpu *t = *state;
	struct tg_buf a = tg_alloc(t, TG_PAGE), b = tg_alloc(t, TG_PAGE);
	struct gpu_cmd c;
	struct gpu_fault_entry e = { 0 };
	uint32_t ia, ib;

	tg_wr32(t, GPU_REG_FAULT_CTRL, 0);
	tg_fault_enable(t, 2);
	assert_true(tg_ch_enable(t, 2));
	c = tg_launch(ASID, GPU_KERNEL_FILL, va_of(&a, 0), 1, 1, 0);
	ia = tg_submit(t, TG_CH_WORK, &c);
	assert_true(tg_wait_reg(t, GPU_REG_FAULT_PENDING, 1u << TG_CH_WORK, 1u << TG_CH_WORK));
	c = tg_launch(ASID, GPU_KERNEL_FILL, va_of(&b, 0), 1, 2, 0);
	ib = tg_submit(t, 2, &c);
	assert_true(tg_wait_reg(t, GPU_REG_FAULT_PENDING, 1u << 2, 1u << 2));
	/* One entry in: PUT = 1, the buffer is full. */
	assert_int_equal(tg_rd32(t, GPU_REG_FAULT_PUT), 1);
	assert_true(tg_fault_next(t, &e, 2));
	assert_int_equal(e.va, va_of(&a, 0));
	/* GET moved: the waiting entry goes in. */
	assert_true(tg_fault_next(t, &e, 2));
	assert_int_equal(e.va, va_of(&b, 0));
	assert_int_equal(e.channel, 2);
	assert_int_equal(map_page(t, &a, 0, GPU_PTE_WRITE), GPU_SC_SUCCESS);
	assert_int_equal(map_page(t, &b, 0, GPU_PTE_WRITE), GPU_SC_SUCCESS);
	tg_wr32(t, GPU_REG_FAULT_REPLAY, (1u << TG_CH_WORK) | (1u << 2));
	assert_int_equal(tg_wait(t, TG_CH_WORK, ia), GPU_SC_SUCCESS);
	assert_int_equal(tg_wait(t, 2, ib), GPU_SC_SUCCESS);
	assert_int_equal(((uint32_t *)a.cpu)[0], 1);
	assert_int_equal(((uint32_t *)b.cpu)[0], 2);
}

/* Unmap, invalidate: the next access faults. ASID reset drops everything. */
static void test_invalidate_and_asid_reset(void **state)
{
	struct tgpu *t = *state;
	struct tg_buf b = tg_alloc(t, 2 * TG_PAGE);
	struct gpu_cmd c, inval = { .opcode = GPU_OP_TLB_INVALIDATE, .asid = ASID };
	uint32_t idx;

	assert_int_equal(tg_map_sys(t, ASID, &b, GPU_PTE_WRITE), GPU_SC_SUCCESS);
	c = tg_launch(ASID, GPU_KERNEL_FILL, va_of(&b, 0), 2 * 1024, 9, 0);
	assert_int_equal(tg_run(t, TG_CH_WORK, &c), GPU_SC_SUCCESS);

	c = tg_pte_set(ASID, va_of(&b, 1), 1, 0, 0);
	assert_int_equal(tg_run(t, TG_CH_MMU, &c), GPU_SC_SUCCESS);
	inval.arg[0] = va_of(&b, 1);
	inval.arg[1] = 1;
	assert_int_equal(tg_run(t, TG_CH_MMU, &inval), GPU_SC_SUCCESS);
	c = tg_launch(ASID, GPU_KERNEL_FILL, va_of(&b, 0), 2 * 1024, 10, 0);
	idx = tg_submit(t, TG_CH_WORK, &c);
	expect_fault(t, va_of(&b, 1), GPU_ACCESS_WRITE, GPU_ENGINE_COMPUTE, GPU_FAULT_NOT_PRESENT);
	/* Stalled: an invalidation of the whole ASID does not wait for it. */
	inval.arg[0] = 0;
	inval.arg[1] = 0;
	assert_int_equal(tg_run(t, TG_CH_MMU, &inval), GPU_SC_SUCCESS);
	tg_wr32(t, GPU_REG_FAULT_CANCEL, 1u << TG_CH_WORK);
	assert_int_equal(tg_wait(t, TG_CH_WORK, idx), GPU_SC_MMU_FAULT);
	assert_int_equal(((uint32_t *)b.cpu)[0], 10);
	assert_int_equal(((uint32_t *)b.cpu)[1024], 9);

	c = (struct gpu_cmd){ .opcode = GPU_OP_ASID_RESET, .asid = ASID };
	assert_int_equal(tg_run(t, TG_CH_MMU, &c), GPU_SC_SUCCESS);
	c = tg_launch(ASID, GPU_KERNEL_FILL, va_of(&b, 0), 1, 11, 0);
	idx = tg_submit(t, TG_CH_WORK, &c);
	expect_fault(t, va_of(&b, 0), GPU_ACCESS_WRITE, GPU_ENGINE_COMPUTE, GPU_FAULT_NOT_PRESENT);
	tg_wr32(t, GPU_REG_FAULT_CANCEL, 1u << TG_CH_WORK);
	assert_int_equal(tg_wait(t, TG_CH_WORK, idx), GPU_SC_MMU_FAULT);
}

/* Disabling a stalled channel abandons its command; the fault buffer can go off too. */
static void test_disable_stalled_channel(void **state)
{
	struct tgpu *t = *state;
	struct tg_buf b = tg_alloc(t, TG_PAGE);
	struct gpu_cmd c = tg_launch(ASID, GPU_KERNEL_FILL, va_of(&b, 0), 1, 1, 0);
	uint32_t idx = tg_submit(t, TG_CH_WORK, &c);

	expect_fault(t, va_of(&b, 0), GPU_ACCESS_WRITE, GPU_ENGINE_COMPUTE, GPU_FAULT_NOT_PRESENT);
	tg_wr32(t, GPU_CH_REG(TG_CH_WORK, GPU_CH_CTRL), 0);
	assert_int_equal(tg_rd32(t, GPU_REG_FAULT_PENDING), 0);
	assert_int_equal(tg_rd32(t, GPU_CH_REG(TG_CH_WORK, GPU_CH_STATUS)), 0);
	assert_int_equal(tg_status_word(t, TG_CH_WORK, idx), 0);
	tg_wr32(t, GPU_REG_FAULT_CTRL, 0);
	assert_int_equal(tg_rd32(t, GPU_REG_FAULT_CTRL), 0);
	assert_int_equal(tg_rd32(t, GPU_REG_FAULT_PUT), 0);
	/* Back on, with no fault buffer: a fault fails the command at once. */
	assert_true(tg_ch_enable(t, TG_CH_WORK));
	assert_int_equal(tg_run(t, TG_CH_WORK, &c), GPU_SC_MMU_FAULT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pte_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_service_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_protection_faults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_faults_both_operands, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_buffer_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalidate_and_asid_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disable_stalled_channel, setup, teardown),
	};

	quiet_logs();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
