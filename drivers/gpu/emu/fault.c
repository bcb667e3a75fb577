// SPDX-License-Identifier: MIT
/*
 * The fault buffer: page faults of stalled channels and access-counter
 * notifications written to the driver's ring, and the replays and cancels
 * that end a stall.
 *
 * A stalled channel keeps the faults of its step until they are all in
 * the buffer: when the buffer is full, the rest go in as GET moves, so a
 * fault is never lost. A counter notification that finds the buffer full
 * is a hint the driver can do without: it is dropped and counted.
 *
 * PUT is the device's, GET the driver's. Channels post under fault_lock;
 * an entry is written before PUT moves past it (a release the PUT
 * register's read acquires), so entries [GET, PUT) are complete when the
 * driver has read PUT. Replays and cancels are carried out by the thread
 * of the channel they name.
 */
#define pr_fmt(fmt) "gpu-emu: " fmt

#include <string.h>

#include <hetmem/log.h>
#include "emu.h"

void gpu_emu_fault_record(struct gpu_emu_channel *ch, unsigned int asid, uint64_t va,
			  unsigned int access, unsigned int reason)
{
	struct gpu_fault_entry *e;

	if (ch->nr_faults >= GPU_EMU_MAX_OPERANDS)
		return;
	e = &ch->faults[ch->nr_faults++];
	memset(e, 0, sizeof(*e));
	e->va = va & ~(GPU_PAGE_SIZE - 1);
	e->addr = va;
	e->asid = (uint16_t)asid;
	e->type = GPU_FAULT_TYPE_PAGE;
	e->access = (uint8_t)access;
	e->channel = (uint8_t)ch->idx;
	e->engine = (uint8_t)ch->engine;
	e->reason = (uint8_t)reason;
	e->flags = GPU_FAULT_F_VALID;
}

/* fault_lock held, or the caller's answer is only a hint. */
static bool buffer_full(struct gpu_emu *emu, uint32_t size)
{
	uint32_t put = __atomic_load_n(&emu->fault_put, __ATOMIC_RELAXED);
	uint32_t get = __atomic_load_n(&emu->fault_get, __ATOMIC_ACQUIRE);

	return ((put + 1) & (size - 1)) == get;
}

bool gpu_emu_fault_room(struct gpu_emu *emu)
{
	bool room;

	if (!__atomic_load_n(&emu->fault_enabled, __ATOMIC_ACQUIRE))
		return false;
	pthread_mutex_lock(&emu->fault_lock);
	room = __atomic_load_n(&emu->fault_enabled, __ATOMIC_RELAXED) &&
	       !buffer_full(emu, emu->fault_size);
	pthread_mutex_unlock(&emu->fault_lock);
	return room;
}

/*
 * Write @e at PUT. False when the buffer is off or full. An entry the
 * fabric refuses is lost (the buffer's address is the driver's mistake);
 * it counts as written so the device does not retry it for ever.
 */
static bool post(struct gpu_emu *emu, const struct gpu_fault_entry *e)
{
	uint64_t addr = 0;
	uint32_t put;
	bool lost;

	pthread_mutex_lock(&emu->fault_lock);
	if (!__atomic_load_n(&emu->fault_enabled, __ATOMIC_RELAXED) ||
	    buffer_full(emu, emu->fault_size)) {
		pthread_mutex_unlock(&emu->fault_lock);
		return false;
	}
	put = __atomic_load_n(&emu->fault_put, __ATOMIC_RELAXED);
	addr = emu->fault_base + (uint64_t)put * GPU_FAULT_ENTRY_SIZE;
	lost = gpu_emu_dma_write(emu, addr, e, sizeof(*e)) != 0;
	__atomic_store_n(&emu->fault_put, (put + 1) & (emu->fault_size - 1), __ATOMIC_RELEASE);
	pthread_mutex_unlock(&emu->fault_lock);
	if (lost)
		gpu_emu_guest_error(emu, GPU_ERR_FAULT_WRITE, addr,
				    "cannot write fault entry %u at 0x%llx", put,
				    (unsigned long long)addr);
	gpu_emu_irq_raise(emu, GPU_IRQ_FAULT);
	return true;
}

bool gpu_emu_fault_post(struct gpu_emu *emu, struct gpu_emu_channel *ch)
{
	bool any = false;

	while (ch->nr_posted < ch->nr_faults && post(emu, &ch->faults[ch->nr_posted])) {
		ch->nr_posted++;
		any = true;
	}
	return any;
}

void gpu_emu_fault_notify(struct gpu_emu *emu, const struct gpu_fault_entry *e)
{
	if (!post(emu, e))
		__atomic_add_fetch(&emu->counter_dropped, 1, __ATOMIC_RELAXED);
}

static void unstall(struct gpu_emu *emu, struct gpu_emu_channel *ch)
{
	ch->stalled = false;
	ch->nr_faults = ch->nr_posted = 0;
	__atomic_and_fetch(&emu->fault_pending, ~(1u << ch->idx), __ATOMIC_SEQ_CST);
	__atomic_and_fetch(&ch->sts, ~GPU_CH_STS_STALLED, __ATOMIC_SEQ_CST);
}

bool gpu_emu_fault_has_work(struct gpu_emu *emu, struct gpu_emu_channel *ch)
{
	uint32_t bit = 1u << ch->idx;

	if ((__atomic_load_n(&emu->replay_req, __ATOMIC_ACQUIRE) |
	     __atomic_load_n(&emu->cancel_req, __ATOMIC_ACQUIRE)) &
	    bit)
		return true;
	return ch->stalled && ch->nr_posted < ch->nr_faults && gpu_emu_fault_room(emu);
}

/* @ch's replay or cancel, and its faults waiting for room in the buffer. */
bool gpu_emu_fault_work(struct gpu_emu *emu, struct gpu_emu_channel *ch)
{
	uint32_t bit = 1u << ch->idx, cancel = 0, replay = 0;

	if ((__atomic_load_n(&emu->replay_req, __ATOMIC_ACQUIRE) |
	     __atomic_load_n(&emu->cancel_req, __ATOMIC_ACQUIRE)) &
	    bit) {
		cancel = __atomic_fetch_and(&emu->cancel_req, ~bit, __ATOMIC_SEQ_CST) & bit;
		replay = __atomic_fetch_and(&emu->replay_req, ~bit, __ATOMIC_SEQ_CST) & bit;
	}
	if (!ch->stalled)
		return cancel || replay;
	if (cancel) {
		unstall(emu, ch);
		gpu_emu_complete(emu, ch, GPU_SC_MMU_FAULT);
		return true;
	}
	if (replay) {
		/* The step runs again right away. */
		unstall(emu, ch);
		return true;
	}
	return gpu_emu_fault_post(emu, ch);
}

void gpu_emu_fault_off(struct gpu_emu *emu)
{
	pthread_mutex_lock(&emu->fault_lock);
	__atomic_store_n(&emu->fault_enabled, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&emu->fault_put, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&emu->fault_get, 0, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&emu->fault_lock);
}
