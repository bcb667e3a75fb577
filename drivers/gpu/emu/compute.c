// SPDX-License-Identifier: MIT
/*
 * The compute engine: GPU_OP_LAUNCH runs one of the built-in kernels over
 * GPU virtual addresses of the command's ASID.
 *
 * Every kernel walks its operands in address order, one step per page:
 * a step translates the page of each operand it touches (which may fault),
 * then does the elements within those pages. The progress (elements or
 * bytes done, the hash so far) lives in the channel, so a replayed step
 * carries on where the fault stopped it and never applies an element
 * twice: saxpy and atomics are not idempotent.
 *
 * Operands in VRAM are worked on in place; operands in system memory are
 * read into a bounce buffer and written back by DMA.
 */
#define pr_fmt(fmt) "gpu-emu: " fmt

#include <string.h>

#include "emu.h"

#define MAX_ELEMS(size) ((1ULL << GPU_VA_BITS) / (size))

static bool aligned(uint64_t va, uint64_t size)
{
	return !(va & (size - 1));
}

/* @count elements of @size bytes at @va: aligned, inside the VA space. */
static uint16_t check_array(uint64_t va, uint64_t count, uint64_t size)
{
	if (!aligned(va, size))
		return GPU_SC_BAD_FIELD;
	if (count > MAX_ELEMS(size) || !gpu_emu_va_ok(va, count * size))
		return GPU_SC_BAD_ADDRESS;
	return GPU_SC_SUCCESS;
}

uint16_t gpu_emu_launch_check(struct gpu_emu *emu, const struct gpu_cmd *cmd)
{
	const uint64_t *a = cmd->arg;
	uint16_t status;

	if (cmd->asid >= GPU_NR_ASIDS)
		return GPU_SC_BAD_ASID;
	switch (a[0]) {
	case GPU_KERNEL_FILL:
		if (a[3] > UINT32_MAX || a[4] || a[5])
			return GPU_SC_BAD_FIELD;
		return check_array(a[1], a[2], 4);
	case GPU_KERNEL_COPY:
		if (a[4] || a[5])
			return GPU_SC_BAD_FIELD;
		status = check_array(a[1], a[3], 1);
		return status ? status : check_array(a[2], a[3], 1);
	case GPU_KERNEL_CHECKSUM:
		if (a[4] || a[5])
			return GPU_SC_BAD_FIELD;
		status = check_array(a[1], a[2], 1);
		return status ? status : check_array(a[3], 1, 8);
	case GPU_KERNEL_SAXPY:
		if (a[4] > UINT32_MAX || a[5])
			return GPU_SC_BAD_FIELD;
		status = check_array(a[1], a[3], 4);
		return status ? status : check_array(a[2], a[3], 4);
	case GPU_KERNEL_ATOMIC_ADD:
		if (a[4] || a[5])
			return GPU_SC_BAD_FIELD;
		return check_array(a[1], a[2], 8);
	}
	return GPU_SC_BAD_KERNEL;
}

/* Elements of @size from @va to the end of its page, at most @left. */
static uint64_t elems_in_page(uint64_t va, uint64_t size, uint64_t left)
{
	return gpu_emu_min(left, gpu_emu_page_left(va) / size);
}

static enum gpu_emu_step step_result(struct gpu_emu_channel *ch, uint64_t n, uint64_t total,
				     uint16_t *status)
{
	if (*status)
		return GPU_EMU_DONE;
	ch->exec.done += n;
	return ch->exec.done < total ? GPU_EMU_MORE : GPU_EMU_DONE;
}

static enum gpu_emu_step fill_step(struct gpu_emu *emu, struct gpu_emu_channel *ch,
				   uint16_t *status)
{
	const uint64_t *a = ch->cmd.arg;
	uint32_t pattern = (uint32_t)a[3], *p;
	struct gpu_emu_operand op = { .va = a[1] + ch->exec.done * 4, .access = GPU_ACCESS_WRITE };
	uint64_t n;

	*status = GPU_SC_SUCCESS;
	if (ch->exec.done == a[2])
		return GPU_EMU_DONE;
	n = elems_in_page(op.va, 4, a[2] - ch->exec.done);
	if (!gpu_emu_translate_step(emu, ch, &op, 1))
		return GPU_EMU_FAULT;
	p = (uint32_t *)gpu_emu_vram_ptr(emu, &op.out);
	if (p) {
		for (uint64_t i = 0; i < n; i++)
			p[i] = pattern;
	} else {
		for (uint64_t i = 0; i < n; i++)
			ch->pattern[i] = pattern;
		*status = gpu_emu_mem_write(emu, &op.out, ch->pattern, n * 4);
	}
	return step_result(ch, n, a[2], status);
}

static uint64_t fnv1a(uint64_t h, const uint8_t *p, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= GPU_FNV_PRIME;
	}
	return h;
}

static enum gpu_emu_step checksum_step(struct gpu_emu *emu, struct gpu_emu_channel *ch,
				       uint16_t *status)
{
	const uint64_t *a = ch->cmd.arg;
	struct gpu_emu_operand op;
	const uint8_t *p;
	uint64_t n;

	*status = GPU_SC_SUCCESS;
	if (ch->exec.done == a[2]) {
		/* All read: the result goes out, through the MMU like any write. */
		op = (struct gpu_emu_operand){ .va = a[3], .access = GPU_ACCESS_WRITE };
		if (!gpu_emu_translate_step(emu, ch, &op, 1))
			return GPU_EMU_FAULT;
		*status = gpu_emu_mem_write(emu, &op.out, &ch->exec.hash, sizeof(uint64_t));
		return GPU_EMU_DONE;
	}
	op = (struct gpu_emu_operand){ .va = a[1] + ch->exec.done, .access = GPU_ACCESS_READ };
	n = elems_in_page(op.va, 1, a[2] - ch->exec.done);
	if (!gpu_emu_translate_step(emu, ch, &op, 1))
		return GPU_EMU_FAULT;
	p = gpu_emu_vram_ptr(emu, &op.out);
	if (!p) {
		*status = gpu_emu_mem_read(emu, &op.out, ch->bounce, n);
		p = ch->bounce;
	}
	if (!*status)
		ch->exec.hash = fnv1a(ch->exec.hash, p, n);
	ch->exec.done += *status ? 0 : n;
	return *status ? GPU_EMU_DONE : GPU_EMU_MORE;
}

static enum gpu_emu_step saxpy_step(struct gpu_emu *emu, struct gpu_emu_channel *ch,
				    uint16_t *status)
{
	const uint64_t *a = ch->cmd.arg;
	uint32_t abits = (uint32_t)a[4];
	struct gpu_emu_operand ops[2] = {
		{ .va = a[1] + ch->exec.done * 4, .access = GPU_ACCESS_WRITE },
		{ .va = a[2] + ch->exec.done * 4, .access = GPU_ACCESS_READ },
	};
	float alpha, *y, *x;
	uint64_t n;

	*status = GPU_SC_SUCCESS;
	if (ch->exec.done == a[3])
		return GPU_EMU_DONE;
	memcpy(&alpha, &abits, sizeof(alpha));
	n = elems_in_page(ops[0].va, 4, a[3] - ch->exec.done);
	n = elems_in_page(ops[1].va, 4, n);
	if (!gpu_emu_translate_step(emu, ch, ops, 2))
		return GPU_EMU_FAULT;
	x = (float *)gpu_emu_vram_ptr(emu, &ops[1].out);
	if (!x) {
		x = (float *)ch->bounce;
		*status = gpu_emu_mem_read(emu, &ops[1].out, x, n * 4);
	}
	y = (float *)gpu_emu_vram_ptr(emu, &ops[0].out);
	if (!y && !*status) {
		y = (float *)ch->bounce2;
		*status = gpu_emu_mem_read(emu, &ops[0].out, y, n * 4);
	}
	if (*status)
		return GPU_EMU_DONE;
	for (uint64_t i = 0; i < n; i++) {
		float ax = alpha * x[i];

		y[i] = ax + y[i];
	}
	if (y == (float *)ch->bounce2)
		*status = gpu_emu_mem_write(emu, &ops[0].out, y, n * 4);
	return step_result(ch, n, a[3], status);
}

static enum gpu_emu_step atomic_add_step(struct gpu_emu *emu, struct gpu_emu_channel *ch,
					 uint16_t *status)
{
	const uint64_t *a = ch->cmd.arg;
	struct gpu_emu_operand op = { .va = a[1] + ch->exec.done * 8, .access = GPU_ACCESS_ATOMIC };
	uint64_t n;

	*status = GPU_SC_SUCCESS;
	if (ch->exec.done == a[2])
		return GPU_EMU_DONE;
	n = elems_in_page(op.va, 8, a[2] - ch->exec.done);
	if (!gpu_emu_translate_step(emu, ch, &op, 1))
		return GPU_EMU_FAULT;
	*status = gpu_emu_mem_atomic_add(emu, &op.out, n, a[3]);
	return step_result(ch, n, a[2], status);
}

enum gpu_emu_step gpu_emu_launch_step(struct gpu_emu *emu, struct gpu_emu_channel *ch,
				      uint16_t *status)
{
	const uint64_t *a = ch->cmd.arg;

	if (!ch->exec.started) {
		ch->exec.started = true;
		ch->exec.hash = GPU_FNV_OFFSET;
	}
	switch (a[0]) {
	case GPU_KERNEL_FILL:
		return fill_step(emu, ch, status);
	case GPU_KERNEL_COPY:
		return gpu_emu_copy_va_step(emu, ch, a[1], a[2], a[3], status);
	case GPU_KERNEL_CHECKSUM:
		return checksum_step(emu, ch, status);
	case GPU_KERNEL_SAXPY:
		return saxpy_step(emu, ch, status);
	default:
		return atomic_add_step(emu, ch, status);
	}
}
