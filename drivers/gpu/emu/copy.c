// SPDX-License-Identifier: MIT
/*
 * The copy engine: GPU_OP_COPY between any two apertures (VRAM offsets,
 * bus addresses, GPU VAs).
 *
 * A step moves up to GPU_EMU_CHUNK bytes, and never crosses a page of a VA
 * operand: each VA page is translated (and may fault) on its own. Between
 * VRAM and a bus address a step is one DMA straight from or into VRAM, so
 * a large physical copy runs at memcpy speed.
 */
#define pr_fmt(fmt) "gpu-emu: " fmt

#include "emu.h"

static uint16_t check_operand(struct gpu_emu *emu, const struct gpu_cmd *cmd, unsigned int ap,
			      uint64_t addr, uint64_t len)
{
	switch (ap) {
	case GPU_APERTURE_VRAM:
		return gpu_emu_vram_range_ok(emu, addr, len) ? GPU_SC_SUCCESS : GPU_SC_BAD_ADDRESS;
	case GPU_APERTURE_SYSTEM:
		return !len || addr + len - 1 >= addr ? GPU_SC_SUCCESS : GPU_SC_BAD_ADDRESS;
	case GPU_APERTURE_VA:
		if (cmd->asid >= GPU_NR_ASIDS)
			return GPU_SC_BAD_ASID;
		return gpu_emu_va_ok(addr, len) ? GPU_SC_SUCCESS : GPU_SC_BAD_ADDRESS;
	}
	return GPU_SC_BAD_FIELD;
}

uint16_t gpu_emu_copy_check(struct gpu_emu *emu, const struct gpu_cmd *cmd)
{
	uint64_t aps = cmd->arg[3], len = cmd->arg[2];
	uint16_t status;

	if (cmd->arg[4] || cmd->arg[5] || (aps & ~0xffULL))
		return GPU_SC_BAD_FIELD;
	status = check_operand(emu, cmd, GPU_COPY_DST_AP(aps), cmd->arg[0], len);
	if (!status)
		status = check_operand(emu, cmd, GPU_COPY_SRC_AP(aps), cmd->arg[1], len);
	return status;
}

/*
 * One step of a copy of @len bytes from @src to @dst, @ch->exec.done of
 * them done. Shared with the compute engine's COPY kernel.
 */
static enum gpu_emu_step copy_step(struct gpu_emu *emu, struct gpu_emu_channel *ch,
				   unsigned int dst_ap, uint64_t dst, unsigned int src_ap,
				   uint64_t src, uint64_t len, uint16_t *status)
{
	struct gpu_emu_operand ops[2];
	struct gpu_emu_xlate d = { dst_ap, dst + ch->exec.done };
	struct gpu_emu_xlate s = { src_ap, src + ch->exec.done };
	uint64_t n = gpu_emu_min(len - ch->exec.done, GPU_EMU_CHUNK);
	unsigned int nr = 0, di = 0, si = 0;

	if (ch->exec.done == len) {
		*status = GPU_SC_SUCCESS;
		return GPU_EMU_DONE;
	}
	if (dst_ap == GPU_APERTURE_VA) {
		n = gpu_emu_min(n, gpu_emu_page_left(d.addr));
		di = nr;
		ops[nr++] = (struct gpu_emu_operand){ .va = d.addr, .access = GPU_ACCESS_WRITE };
	}
	if (src_ap == GPU_APERTURE_VA) {
		n = gpu_emu_min(n, gpu_emu_page_left(s.addr));
		si = nr;
		ops[nr++] = (struct gpu_emu_operand){ .va = s.addr, .access = GPU_ACCESS_READ };
	}
	if (nr && !gpu_emu_translate_step(emu, ch, ops, nr))
		return GPU_EMU_FAULT;
	if (dst_ap == GPU_APERTURE_VA)
		d = ops[di].out;
	if (src_ap == GPU_APERTURE_VA)
		s = ops[si].out;
	*status = gpu_emu_mem_copy(emu, ch, &d, &s, n);
	if (*status)
		return GPU_EMU_DONE;
	ch->exec.done += n;
	if (ch->exec.done < len)
		return GPU_EMU_MORE;
	return GPU_EMU_DONE;
}

enum gpu_emu_step gpu_emu_copy_step(struct gpu_emu *emu, struct gpu_emu_channel *ch,
				    uint16_t *status)
{
	const struct gpu_cmd *cmd = &ch->cmd;

	return copy_step(emu, ch, GPU_COPY_DST_AP(cmd->arg[3]), cmd->arg[0],
			 GPU_COPY_SRC_AP(cmd->arg[3]), cmd->arg[1], cmd->arg[2], status);
}

enum gpu_emu_step gpu_emu_copy_va_step(struct gpu_emu *emu, struct gpu_emu_channel *ch,
				       uint64_t dst, uint64_t src, uint64_t len, uint16_t *status)
{
	return copy_step(emu, ch, GPU_APERTURE_VA, dst, GPU_APERTURE_VA, src, len, status);
}
