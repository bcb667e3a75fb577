// SPDX-License-Identifier: MIT
/*
 * Access counters: one 32-bit saturating counter per VRAM page (an array)
 * and per system page the engines touched through the MMU (a hash table
 * keyed by bus page address, open addressing, at most
 * GPU_EMU_SYS_COUNTERS_MAX pages; pages beyond that are not counted).
 *
 * One engine step counts one access per distinct page it touches. When a
 * threshold is set and a counter reaches a multiple of it, the fault
 * buffer gets a GPU_FAULT_TYPE_COUNTER entry (posted after counters_lock
 * is dropped). Everything here is under counters_lock.
 */
#define pr_fmt(fmt) "gpu-emu: " fmt

#include <stdlib.h>
#include <string.h>

#include <hetmem/log.h>
#include "emu.h"

#define SYS_MIN_CAP    1024u
#define COUNTS_PER_DMA (GPU_EMU_CHUNK / sizeof(uint32_t))

static uint32_t hash_page(uint64_t key, uint32_t cap)
{
	return (uint32_t)((key * 0x9e3779b97f4a7c15ULL) >> 32) & (cap - 1);
}

/* The slot of @key, or where it would go; NULL when the table is empty. */
static struct gpu_emu_sys_counter *sys_find(struct gpu_emu *emu, uint64_t key)
{
	uint32_t i;

	if (!emu->sys_cap)
		return NULL;
	for (i = hash_page(key, emu->sys_cap);; i = (i + 1) & (emu->sys_cap - 1)) {
		struct gpu_emu_sys_counter *s = &emu->sys_counters[i];

		if (s->page == key || !s->page)
			return s;
	}
}

static bool sys_grow(struct gpu_emu *emu)
{
	uint32_t cap = emu->sys_cap ? emu->sys_cap * 2 : SYS_MIN_CAP;
	struct gpu_emu_sys_counter *old = emu->sys_counters, *s;
	uint32_t old_cap = emu->sys_cap;

	emu->sys_counters = calloc(cap, sizeof(*s));
	if (!emu->sys_counters) {
		emu->sys_counters = old;
		return false;
	}
	emu->sys_cap = cap;
	for (uint32_t i = 0; i < old_cap; i++) {
		if (!old[i].page)
			continue;
		s = sys_find(emu, old[i].page);
		*s = old[i];
	}
	free(old);
	return true;
}

static uint32_t *sys_counter(struct gpu_emu *emu, uint64_t bus, bool create)
{
	uint64_t key = (bus >> GPU_PAGE_SHIFT) + 1;
	struct gpu_emu_sys_counter *s = sys_find(emu, key);

	if (s && s->page)
		return &s->count;
	if (!create || emu->sys_used >= GPU_EMU_SYS_COUNTERS_MAX)
		return NULL;
	if ((emu->sys_used + 1) * 2 > emu->sys_cap) {
		if (!sys_grow(emu))
			return NULL;
		s = sys_find(emu, key);
	}
	s->page = key;
	s->count = 0;
	emu->sys_used++;
	return &s->count;
}

static uint32_t *counter_of(struct gpu_emu *emu, unsigned int ap, uint64_t addr, bool create)
{
	if (ap == GPU_APERTURE_VRAM)
		return &emu->vram_counters[addr >> GPU_PAGE_SHIFT];
	return sys_counter(emu, addr, create);
}

static bool same_page(const struct gpu_emu_xlate *a, const struct gpu_emu_xlate *b)
{
	return a->ap == b->ap && (a->addr >> GPU_PAGE_SHIFT) == (b->addr >> GPU_PAGE_SHIFT);
}

static void notify(struct gpu_emu *emu, const struct gpu_emu_channel *ch,
		   const struct gpu_emu_operand *op, uint32_t count)
{
	struct gpu_fault_entry e;

	memset(&e, 0, sizeof(e));
	e.va = op->va & ~(GPU_PAGE_SIZE - 1);
	e.addr = op->out.addr & ~(GPU_PAGE_SIZE - 1);
	e.asid = ch->cmd.asid;
	e.type = GPU_FAULT_TYPE_COUNTER;
	e.access = (uint8_t)op->access;
	e.channel = (uint8_t)ch->idx;
	e.engine = (uint8_t)ch->engine;
	e.flags = GPU_FAULT_F_VALID | (op->out.ap == GPU_APERTURE_SYSTEM ? GPU_FAULT_F_SYSTEM : 0);
	e.count = count;
	gpu_emu_fault_notify(emu, &e);
}

void gpu_emu_count(struct gpu_emu *emu, const struct gpu_emu_channel *ch,
		   const struct gpu_emu_operand *ops, unsigned int n)
{
	uint32_t threshold = __atomic_load_n(&emu->counter_threshold, __ATOMIC_ACQUIRE);
	uint32_t reached[GPU_EMU_MAX_OPERANDS] = { 0 };

	pthread_mutex_lock(&emu->counters_lock);
	for (unsigned int i = 0; i < n; i++) {
		uint32_t *c;
		bool seen = false;

		for (unsigned int j = 0; j < i && !seen; j++)
			seen = same_page(&ops[i].out, &ops[j].out);
		if (seen)
			continue;
		c = counter_of(emu, ops[i].out.ap, ops[i].out.addr, true);
		if (!c || *c == UINT32_MAX)
			continue;
		++*c;
		if (threshold && *c % threshold == 0)
			reached[i] = *c;
	}
	pthread_mutex_unlock(&emu->counters_lock);
	for (unsigned int i = 0; i < n; i++)
		if (reached[i])
			notify(emu, ch, &ops[i], reached[i]);
}

uint16_t gpu_emu_counters_read(struct gpu_emu *emu, struct gpu_emu_channel *ch)
{
	const struct gpu_cmd *cmd = &ch->cmd;
	unsigned int ap = (unsigned int)cmd->arg[0];
	uint64_t addr = cmd->arg[1], n = cmd->arg[2], dst = cmd->arg[3];
	bool clear = cmd->arg[4] & GPU_COUNTERS_CLEAR;
	uint32_t *buf = (uint32_t *)ch->bounce;

	for (uint64_t i = 0; i < n; i += COUNTS_PER_DMA) {
		uint64_t k = gpu_emu_min(n - i, COUNTS_PER_DMA);

		pthread_mutex_lock(&emu->counters_lock);
		for (uint64_t j = 0; j < k; j++) {
			uint32_t *c =
				counter_of(emu, ap, addr + ((i + j) << GPU_PAGE_SHIFT), false);

			buf[j] = c ? *c : 0;
		}
		pthread_mutex_unlock(&emu->counters_lock);
		if (gpu_emu_dma_write(emu, dst + i * sizeof(uint32_t), buf, k * sizeof(uint32_t)))
			return GPU_SC_DMA_ERROR;
		if (!clear)
			continue;
		/*
		 * Cleared once copied out, by what was copied: accesses counted
		 * meanwhile stay, and a failed copy clears nothing.
		 */
		pthread_mutex_lock(&emu->counters_lock);
		for (uint64_t j = 0; j < k; j++) {
			uint32_t *c =
				counter_of(emu, ap, addr + ((i + j) << GPU_PAGE_SHIFT), false);

			if (c)
				*c -= *c < buf[j] ? *c : buf[j];
		}
		pthread_mutex_unlock(&emu->counters_lock);
	}
	return GPU_SC_SUCCESS;
}

void gpu_emu_counters_reset(struct gpu_emu *emu)
{
	pthread_mutex_lock(&emu->counters_lock);
	memset(emu->vram_counters, 0, (emu->vram_size >> GPU_PAGE_SHIFT) * sizeof(uint32_t));
	free(emu->sys_counters);
	emu->sys_counters = NULL;
	emu->sys_cap = emu->sys_used = 0;
	pthread_mutex_unlock(&emu->counters_lock);
}

void gpu_emu_counters_free(struct gpu_emu *emu)
{
	free(emu->vram_counters);
	free(emu->sys_counters);
	emu->vram_counters = NULL;
	emu->sys_counters = NULL;
}
