// SPDX-License-Identifier: MIT
/*
 * Commands: the checks every entry passes before it runs, and dispatch of
 * each step to its engine. Checks look at the entry alone (opcode, flags,
 * ASID, operand ranges and alignment, unused operands zero); what only
 * running can tell (a bad PTE in an array, a DMA the fabric refuses, a
 * page fault) is found while running.
 */
#define pr_fmt(fmt) "gpu-emu: " fmt

#include "emu.h"

static const char *const op_names[256] = {
	[GPU_OP_NOP] = "NOP",
	[GPU_OP_COPY] = "COPY",
	[GPU_OP_LAUNCH] = "LAUNCH",
	[GPU_OP_PTE_WRITE] = "PTE_WRITE",
	[GPU_OP_PTE_SET] = "PTE_SET",
	[GPU_OP_PTE_READ] = "PTE_READ",
	[GPU_OP_TLB_INVALIDATE] = "TLB_INVALIDATE",
	[GPU_OP_ASID_RESET] = "ASID_RESET",
	[GPU_OP_COUNTERS_READ] = "COUNTERS_READ",
	[GPU_OP_COUNTERS_RESET] = "COUNTERS_RESET",
};

const char *gpu_emu_op_name(uint8_t opcode)
{
	return op_names[opcode] ? op_names[opcode] : "unknown opcode";
}

/* Operands @from.. of @cmd are unused: they must be zero. */
static bool unused_zero(const struct gpu_cmd *cmd, unsigned int from)
{
	for (unsigned int i = from; i < 6; i++)
		if (cmd->arg[i])
			return false;
	return true;
}

/* A page-aligned VA range of @pages pages within the VA space. */
static bool va_pages_ok(uint64_t va, uint64_t pages)
{
	return !(va & (GPU_PAGE_SIZE - 1)) && pages <= (1ULL << (GPU_VA_BITS - GPU_PAGE_SHIFT)) &&
	       gpu_emu_va_ok(va, pages << GPU_PAGE_SHIFT);
}

static uint16_t check_mmu(const struct gpu_cmd *cmd)
{
	uint64_t va = cmd->arg[0], pages = cmd->arg[1];

	if (cmd->asid >= GPU_NR_ASIDS)
		return GPU_SC_BAD_ASID;
	switch (cmd->opcode) {
	case GPU_OP_ASID_RESET:
		return unused_zero(cmd, 0) ? GPU_SC_SUCCESS : GPU_SC_BAD_FIELD;
	case GPU_OP_TLB_INVALIDATE:
		if (!unused_zero(cmd, 2) || (va & (GPU_PAGE_SIZE - 1)))
			return GPU_SC_BAD_FIELD;
		return va_pages_ok(va, pages) ? GPU_SC_SUCCESS : GPU_SC_BAD_ADDRESS;
	case GPU_OP_PTE_SET:
		if (!unused_zero(cmd, 4) || (cmd->arg[3] & (GPU_PAGE_SIZE - 1)))
			return GPU_SC_BAD_FIELD;
		break;
	default: /* PTE_WRITE, PTE_READ: arg[2] is an array's bus address */
		if (!unused_zero(cmd, 3) || (cmd->arg[2] & 7))
			return GPU_SC_BAD_FIELD;
		break;
	}
	if (!pages || pages > GPU_PTE_MAX_COUNT || (va & (GPU_PAGE_SIZE - 1)))
		return GPU_SC_BAD_FIELD;
	return va_pages_ok(va, pages) ? GPU_SC_SUCCESS : GPU_SC_BAD_ADDRESS;
}

static uint16_t check_counters(struct gpu_emu *emu, const struct gpu_cmd *cmd)
{
	uint64_t addr = cmd->arg[1], pages = cmd->arg[2];

	if (!unused_zero(cmd, 5) || (cmd->arg[4] & ~(uint64_t)GPU_COUNTERS_CLEAR) ||
	    (cmd->arg[3] & 3) || !pages || pages > GPU_PTE_MAX_COUNT ||
	    (addr & (GPU_PAGE_SIZE - 1)))
		return GPU_SC_BAD_FIELD;
	switch (cmd->arg[0]) {
	case GPU_APERTURE_VRAM:
		return gpu_emu_vram_range_ok(emu, addr, pages << GPU_PAGE_SHIFT) ?
			       GPU_SC_SUCCESS :
			       GPU_SC_BAD_ADDRESS;
	case GPU_APERTURE_SYSTEM:
		return addr + (pages << GPU_PAGE_SHIFT) - 1 >= addr ? GPU_SC_SUCCESS :
								      GPU_SC_BAD_ADDRESS;
	}
	return GPU_SC_BAD_FIELD;
}

uint16_t gpu_emu_check(struct gpu_emu *emu, struct gpu_emu_channel *ch)
{
	const struct gpu_cmd *cmd = &ch->cmd;

	if (cmd->flags & ~GPU_CMD_F_KNOWN)
		return GPU_SC_BAD_FIELD;
	switch (cmd->opcode) {
	case GPU_OP_NOP:
	case GPU_OP_COUNTERS_RESET:
		return unused_zero(cmd, 0) ? GPU_SC_SUCCESS : GPU_SC_BAD_FIELD;
	case GPU_OP_COPY:
		ch->engine = GPU_ENGINE_COPY;
		return gpu_emu_copy_check(emu, cmd);
	case GPU_OP_LAUNCH:
		ch->engine = GPU_ENGINE_COMPUTE;
		return gpu_emu_launch_check(emu, cmd);
	case GPU_OP_PTE_WRITE:
	case GPU_OP_PTE_SET:
	case GPU_OP_PTE_READ:
	case GPU_OP_TLB_INVALIDATE:
	case GPU_OP_ASID_RESET:
		return check_mmu(cmd);
	case GPU_OP_COUNTERS_READ:
		return check_counters(emu, cmd);
	}
	return GPU_SC_BAD_OPCODE;
}

enum gpu_emu_step gpu_emu_step(struct gpu_emu *emu, struct gpu_emu_channel *ch, uint16_t *status)
{
	switch (ch->cmd.opcode) {
	case GPU_OP_COPY:
		return gpu_emu_copy_step(emu, ch, status);
	case GPU_OP_LAUNCH:
		return gpu_emu_launch_step(emu, ch, status);
	case GPU_OP_PTE_WRITE:
		*status = gpu_emu_pte_write(emu, ch);
		break;
	case GPU_OP_PTE_SET:
		*status = gpu_emu_pte_set(emu, ch);
		break;
	case GPU_OP_PTE_READ:
		*status = gpu_emu_pte_read(emu, ch);
		break;
	case GPU_OP_TLB_INVALIDATE:
		*status = gpu_emu_tlb_invalidate(emu, ch);
		break;
	case GPU_OP_ASID_RESET:
		*status = gpu_emu_asid_reset(emu, ch);
		break;
	case GPU_OP_COUNTERS_READ:
		*status = gpu_emu_counters_read(emu, ch);
		break;
	case GPU_OP_COUNTERS_RESET:
		gpu_emu_counters_reset(emu);
		*status = GPU_SC_SUCCESS;
		break;
	default:
		*status = GPU_SC_SUCCESS; /* NOP */
		break;
	}
	return GPU_EMU_DONE;
}
