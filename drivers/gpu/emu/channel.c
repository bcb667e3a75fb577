// SPDX-License-Identifier: MIT
/*
 * Channels: fetching ring entries, running them step by step, completing
 * them.
 *
 * A channel runs one command at a time, on its own thread. A command runs
 * in steps (at most a page of each VA operand, or a chunk of a physical
 * copy); between two steps the thread may carry out a request (disable),
 * and a step that faults leaves the command stalled where it is, to go on
 * from the same step after a replay. After GPU_EMU_TURN_STEPS steps the
 * thread looks at requests and signals interrupts before going on.
 *
 * Completion order, which is what a driver may rely on: the status word
 * in the entry, then the fence in memory, then the FENCE and HEAD
 * registers, then the interrupt.
 */
#define pr_fmt(fmt) "gpu-emu: " fmt

#include <string.h>

#include <hetmem/log.h>
#include "emu.h"

bool gpu_emu_channel_ready(struct gpu_emu_channel *ch)
{
	if (!__atomic_load_n(&ch->enabled, __ATOMIC_ACQUIRE))
		return false;
	if (__atomic_load_n(&ch->sts, __ATOMIC_ACQUIRE) & (GPU_CH_STS_ERROR | GPU_CH_STS_STALLED))
		return false;
	return __atomic_load_n(&ch->busy, __ATOMIC_ACQUIRE) ||
	       __atomic_load_n(&ch->head, __ATOMIC_ACQUIRE) !=
		       __atomic_load_n(&ch->tail, __ATOMIC_ACQUIRE);
}

/* Disable: whatever was queued or stalled is abandoned, nothing is written. */
void gpu_emu_channel_off(struct gpu_emu *emu, struct gpu_emu_channel *ch)
{
	__atomic_store_n(&ch->enabled, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&ch->busy, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&ch->sts, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&ch->head, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&ch->tail, 0, __ATOMIC_RELAXED);
	__atomic_and_fetch(&emu->fault_pending, ~(1u << ch->idx), __ATOMIC_SEQ_CST);
	ch->stalled = false;
	ch->nr_faults = ch->nr_posted = 0;
}

/* Stop the channel for good (until disabled): its ring cannot be trusted. */
static void channel_error(struct gpu_emu *emu, struct gpu_emu_channel *ch)
{
	__atomic_or_fetch(&ch->sts, GPU_CH_STS_ERROR, __ATOMIC_SEQ_CST);
	gpu_emu_irq_raise(emu, GPU_IRQ_CMD);
}

/* Guest mistakes are errors; a cancelled fault is the driver's decision. */
static bool is_guest_error(uint16_t status)
{
	return status != GPU_SC_SUCCESS && status != GPU_SC_MMU_FAULT;
}

void gpu_emu_complete(struct gpu_emu *emu, struct gpu_emu_channel *ch, uint16_t status)
{
	uint32_t word = GPU_CMD_DONE | status;
	uint64_t seq = ch->cmd.seq, fence_addr;

	if (is_guest_error(status))
		gpu_emu_guest_error(emu, GPU_ERR_COMMAND, (uint64_t)ch->idx << 32 | status,
				    "channel %u: %s (opcode 0x%02x) at ring entry %u: status 0x%x",
				    ch->idx, gpu_emu_op_name(ch->cmd.opcode), ch->cmd.opcode,
				    __atomic_load_n(&ch->head, __ATOMIC_RELAXED), status);
	else if (status)
		pr_info("%s: channel %u: %s ended by a cancelled page fault", emu->name, ch->idx,
			gpu_emu_op_name(ch->cmd.opcode));

	if (gpu_emu_dma_write(emu, ch->cmd_addr + GPU_CMD_STATUS_OFFSET, &word, sizeof(word)))
		gpu_emu_guest_error(emu, GPU_ERR_COMPLETION, ch->cmd_addr,
				    "channel %u: cannot write the status word at 0x%llx", ch->idx,
				    (unsigned long long)ch->cmd_addr);
	/* Written only while disabled, and only this thread disables. */
	fence_addr = ch->fence_addr;
	if (fence_addr && gpu_emu_dma_write(emu, fence_addr, &seq, sizeof(seq)))
		gpu_emu_guest_error(emu, GPU_ERR_COMPLETION, fence_addr,
				    "channel %u: cannot write the fence at 0x%llx", ch->idx,
				    (unsigned long long)fence_addr);
	if (status)
		__atomic_store_n(&ch->last_status, status, __ATOMIC_RELEASE);
	__atomic_store_n(&ch->fence, seq, __ATOMIC_RELEASE);
	__atomic_store_n(&ch->head,
			 (__atomic_load_n(&ch->head, __ATOMIC_RELAXED) + 1) & (ch->ring_size - 1),
			 __ATOMIC_RELEASE);
	__atomic_store_n(&ch->busy, 0, __ATOMIC_RELEASE);
	if (ch->cmd.flags & GPU_CMD_F_IRQ)
		gpu_emu_irq_raise(emu, GPU_IRQ_CMD);
}

/* Read the entry at HEAD and check it; false when the ring cannot be read. */
static bool fetch(struct gpu_emu *emu, struct gpu_emu_channel *ch)
{
	uint32_t head = __atomic_load_n(&ch->head, __ATOMIC_RELAXED);
	uint16_t status;

	ch->cmd_addr = ch->ring_base + (uint64_t)head * GPU_CMD_SIZE;
	if (gpu_emu_dma_read(emu, ch->cmd_addr, &ch->cmd, sizeof(ch->cmd))) {
		gpu_emu_guest_error(emu, GPU_ERR_RING_FETCH, ch->cmd_addr,
				    "channel %u: cannot read ring entry %u at 0x%llx; channel "
				    "stopped",
				    ch->idx, head, (unsigned long long)ch->cmd_addr);
		channel_error(emu, ch);
		return false;
	}
	memset(&ch->exec, 0, sizeof(ch->exec));
	__atomic_store_n(&ch->busy, 1, __ATOMIC_RELEASE);
	status = gpu_emu_check(emu, ch);
	if (status)
		gpu_emu_complete(emu, ch, status);
	return true;
}

static void stall(struct gpu_emu *emu, struct gpu_emu_channel *ch)
{
	if (!__atomic_load_n(&emu->fault_enabled, __ATOMIC_ACQUIRE)) {
		/* Nobody to tell: the fault cannot be serviced. */
		pr_info("%s: channel %u: page fault at 0x%llx with no fault buffer", emu->name,
			ch->idx, (unsigned long long)ch->faults[0].addr);
		ch->nr_faults = 0;
		gpu_emu_complete(emu, ch, GPU_SC_MMU_FAULT);
		return;
	}
	ch->stalled = true;
	__atomic_or_fetch(&ch->sts, GPU_CH_STS_STALLED, __ATOMIC_SEQ_CST);
	__atomic_or_fetch(&emu->fault_pending, 1u << ch->idx, __ATOMIC_SEQ_CST);
	gpu_emu_fault_post(emu, ch);
	gpu_emu_nudge_others(emu, ch);
}

bool gpu_emu_channel_run(struct gpu_emu *emu, struct gpu_emu_channel *ch)
{
	unsigned int steps = 0;

	while (steps < GPU_EMU_TURN_STEPS) {
		enum gpu_emu_step r;
		uint16_t status = 0;

		if (!__atomic_load_n(&ch->busy, __ATOMIC_RELAXED)) {
			if (__atomic_load_n(&ch->head, __ATOMIC_RELAXED) ==
			    __atomic_load_n(&ch->tail, __ATOMIC_ACQUIRE))
				break;
			if (!fetch(emu, ch))
				break;
			steps++;
			continue;
		}
		r = gpu_emu_step(emu, ch, &status);
		gpu_emu_step_end(ch);
		steps++;
		if (r == GPU_EMU_DONE) {
			gpu_emu_complete(emu, ch, status);
		} else if (r == GPU_EMU_FAULT) {
			stall(emu, ch);
			break;
		}
		/* A request (disable) goes before the next step. */
		if (__atomic_load_n(&ch->req, __ATOMIC_ACQUIRE))
			break;
	}
	return steps != 0;
}
