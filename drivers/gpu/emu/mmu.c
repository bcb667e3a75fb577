// SPDX-License-Identifier: MIT
/*
 * The MMU: one page table per ASID, in the device's own memory, changed
 * only by commands, and the translation of engine accesses.
 *
 * A table is a four-level radix tree of 512-entry nodes (9 bits a level
 * over 4 KiB pages: 48 bits, enough for GPU_VA_BITS), leaves holding the
 * PTEs as the driver wrote them. Nodes appear when a PTE is first written
 * under them and go when the ASID is reset. The device's table memory is
 * GPU_EMU_PT_MAX_NODES nodes for all ASIDs together: a PTE that needs a
 * node beyond them fails its command with GPU_SC_INTERNAL, whatever the
 * host has, so no command sequence can make the device take the host's
 * memory.
 *
 * Translations take mmu_lock for reading, PTE commands for writing, so a
 * PTE command is in force for every translation after it. The access a
 * translation is for happens after the lock is dropped (a DMA may block:
 * no channel may wait for it with the table locked). A step publishes the
 * pages it translates before it translates them (struct
 * gpu_emu_channel's @step_seq), and TLB_INVALIDATE waits for every step
 * of another channel that may still be using a translation in its range;
 * a channel stalled on a page fault made no access and holds up nothing.
 */
#define pr_fmt(fmt) "gpu-emu: " fmt

#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include <hetmem/log.h>
#include "emu.h"

#define PTES_PER_DMA 512 /* PTEs PTE_READ writes back per DMA */

static unsigned int pt_index(uint64_t va, unsigned int level)
{
	unsigned int shift = GPU_PAGE_SHIFT + GPU_EMU_PT_BITS * (GPU_EMU_PT_LEVELS - 1 - level);

	return (unsigned int)(va >> shift) & (GPU_EMU_PT_ENTRIES - 1);
}

/* A new node for @pt, if the device's table memory has room. mmu_lock held for writing. */
static void **node_alloc(struct gpu_emu *emu, struct gpu_emu_pt *pt)
{
	void **node;

	if (emu->pt_nodes >= GPU_EMU_PT_MAX_NODES)
		return NULL;
	/* Inner nodes hold pointers, leaves PTEs: both 8 bytes. */
	node = calloc(GPU_EMU_PT_ENTRIES, sizeof(void *));
	if (!node)
		return NULL;
	pt->nr_nodes++;
	emu->pt_nodes++;
	return node;
}

/*
 * The PTE slot of @va in @asid's table, or NULL: absent (and not
 * @create), or no memory for a node.
 */
static uint64_t *pte_slot(struct gpu_emu *emu, unsigned int asid, uint64_t va, bool create)
{
	struct gpu_emu_pt *pt = &emu->pt[asid];
	void **node;

	if (!pt->root) {
		if (!create)
			return NULL;
		pt->root = node_alloc(emu, pt);
		if (!pt->root)
			return NULL;
	}
	node = pt->root;
	for (unsigned int level = 0; level < GPU_EMU_PT_LEVELS - 1; level++) {
		void **next = &node[pt_index(va, level)];

		if (!*next) {
			if (!create)
				return NULL;
			*next = node_alloc(emu, pt);
			if (!*next)
				return NULL;
		}
		node = *next;
	}
	return &((uint64_t *)node)[pt_index(va, GPU_EMU_PT_LEVELS - 1)];
}

static void free_node(void **node, unsigned int level)
{
	if (level < GPU_EMU_PT_LEVELS - 1)
		for (unsigned int i = 0; i < GPU_EMU_PT_ENTRIES; i++)
			if (node[i])
				free_node(node[i], level + 1);
	free(node);
}

static void pt_free(struct gpu_emu *emu, struct gpu_emu_pt *pt)
{
	if (pt->root)
		free_node(pt->root, 0);
	emu->pt_nodes -= pt->nr_nodes;
	pt->root = NULL;
	pt->nr_nodes = 0;
}

void gpu_emu_mmu_free(struct gpu_emu *emu)
{
	for (unsigned int a = 0; a < GPU_NR_ASIDS; a++)
		pt_free(emu, &emu->pt[a]);
}

void gpu_emu_mmu_reset(struct gpu_emu *emu)
{
	pthread_rwlock_wrlock(&emu->mmu_lock);
	gpu_emu_mmu_free(emu);
	pthread_rwlock_unlock(&emu->mmu_lock);
}

/* mmu_lock held. */
static uint64_t pte_get(struct gpu_emu *emu, unsigned int asid, uint64_t va)
{
	uint64_t *slot = pte_slot(emu, asid, va, false);

	return slot ? *slot : 0;
}

static bool pte_ok(const struct gpu_emu *emu, uint64_t pte)
{
	if (!(pte & GPU_PTE_VALID))
		return pte == 0;
	if (pte & ~(GPU_PTE_FLAGS | GPU_PTE_ADDR_MASK))
		return false;
	if ((pte & GPU_PTE_ATOMIC) && !(pte & GPU_PTE_WRITE))
		return false;
	return (pte & GPU_PTE_SYSTEM) || GPU_PTE_ADDR(pte) < emu->vram_size;
}

/* Store @pte for @va; an invalid PTE where no table exists needs none. mmu_lock held. */
static uint16_t pte_store(struct gpu_emu *emu, unsigned int asid, uint64_t va, uint64_t pte)
{
	uint64_t *slot = pte_slot(emu, asid, va, pte != 0);

	if (slot) {
		*slot = pte;
		return GPU_SC_SUCCESS;
	}
	if (!pte)
		return GPU_SC_SUCCESS;
	pr_warn("%s: page tables full (%lu nodes of %u)", emu->name, emu->pt_nodes,
		GPU_EMU_PT_MAX_NODES);
	return GPU_SC_INTERNAL;
}

uint16_t gpu_emu_pte_write(struct gpu_emu *emu, struct gpu_emu_channel *ch)
{
	const struct gpu_cmd *cmd = &ch->cmd;
	uint64_t va = cmd->arg[0], n = cmd->arg[1];
	uint16_t status;

	if (ch->ptes_cap < n) {
		uint64_t *p = realloc(ch->ptes, n * sizeof(uint64_t));

		if (!p)
			return GPU_SC_INTERNAL;
		ch->ptes = p;
		ch->ptes_cap = n;
	}
	if (gpu_emu_dma_read(emu, cmd->arg[2], ch->ptes, n * sizeof(uint64_t)))
		return GPU_SC_DMA_ERROR;
	for (uint64_t i = 0; i < n; i++)
		if (!pte_ok(emu, ch->ptes[i]))
			return GPU_SC_BAD_PTE;
	status = GPU_SC_SUCCESS;
	pthread_rwlock_wrlock(&emu->mmu_lock);
	for (uint64_t i = 0; i < n && !status; i++)
		status = pte_store(emu, cmd->asid, va + (i << GPU_PAGE_SHIFT), ch->ptes[i]);
	pthread_rwlock_unlock(&emu->mmu_lock);
	return status;
}

uint16_t gpu_emu_pte_set(struct gpu_emu *emu, struct gpu_emu_channel *ch)
{
	const struct gpu_cmd *cmd = &ch->cmd;
	uint64_t va = cmd->arg[0], n = cmd->arg[1], pte = cmd->arg[2], step = cmd->arg[3];
	uint64_t span, last;
	uint16_t status;

	/* The address field of page i is the first one plus i * @step: no wrap, in range. */
	if (step && (n - 1) > (~0ULL - GPU_PTE_ADDR(pte)) / step)
		return GPU_SC_BAD_PTE;
	span = (n - 1) * step;
	last = pte + span;
	if (!pte_ok(emu, pte) || (step && !(pte & GPU_PTE_VALID)) || !pte_ok(emu, last))
		return GPU_SC_BAD_PTE;
	status = GPU_SC_SUCCESS;
	pthread_rwlock_wrlock(&emu->mmu_lock);
	for (uint64_t i = 0; i < n && !status; i++)
		status = pte_store(emu, cmd->asid, va + (i << GPU_PAGE_SHIFT), pte + i * step);
	pthread_rwlock_unlock(&emu->mmu_lock);
	return status;
}

uint16_t gpu_emu_pte_read(struct gpu_emu *emu, struct gpu_emu_channel *ch)
{
	const struct gpu_cmd *cmd = &ch->cmd;
	uint64_t va = cmd->arg[0], n = cmd->arg[1], dst = cmd->arg[2];
	uint64_t *buf = (uint64_t *)ch->bounce;

	for (uint64_t i = 0; i < n; i += PTES_PER_DMA) {
		uint64_t k = gpu_emu_min(n - i, PTES_PER_DMA);

		pthread_rwlock_rdlock(&emu->mmu_lock);
		for (uint64_t j = 0; j < k; j++)
			buf[j] = pte_get(emu, cmd->asid, va + ((i + j) << GPU_PAGE_SHIFT));
		pthread_rwlock_unlock(&emu->mmu_lock);
		if (gpu_emu_dma_write(emu, dst + i * sizeof(uint64_t), buf, k * sizeof(uint64_t)))
			return GPU_SC_DMA_ERROR;
	}
	return GPU_SC_SUCCESS;
}

/* Whether @other's step in flight used a translation of [@va, @va + @pages pages). */
static bool step_overlaps(struct gpu_emu_channel *other, unsigned int asid, uint64_t va,
			  uint64_t pages)
{
	uint32_t nr = __atomic_load_n(&other->step_nr, __ATOMIC_RELAXED);

	if (__atomic_load_n(&other->step_asid, __ATOMIC_RELAXED) != asid)
		return false;
	for (uint32_t i = 0; i < nr && i < GPU_EMU_MAX_OPERANDS; i++) {
		uint64_t p = __atomic_load_n(&other->step_va[i], __ATOMIC_RELAXED);

		if (!pages || (p >= va && (p - va) >> GPU_PAGE_SHIFT < pages))
			return true;
	}
	return false;
}

/* Wait until the step of @other that is in flight as @seq is over. */
static void wait_step(struct gpu_emu *emu, struct gpu_emu_channel *other, uint64_t seq)
{
	for (unsigned int i = 0; __atomic_load_n(&other->step_seq, __ATOMIC_ACQUIRE) == seq; i++) {
		if (__atomic_load_n(&emu->stop, __ATOMIC_ACQUIRE))
			return;
		if (i < 64) {
			sched_yield();
		} else {
			/* A long step: its DMA is blocked. Do not burn a CPU on it. */
			struct timespec ts = { 0, 20000 };

			nanosleep(&ts, NULL);
		}
	}
}

/* Wait for the other channels' steps that may use old translations of the range. */
static void wait_inflight(struct gpu_emu *emu, struct gpu_emu_channel *ch, unsigned int asid,
			  uint64_t va, uint64_t pages)
{
	for (unsigned int c = 0; c < GPU_NR_CHANNELS; c++) {
		struct gpu_emu_channel *other = &emu->ch[c];
		uint64_t seq;

		if (other == ch)
			continue;
		seq = __atomic_load_n(&other->step_seq, __ATOMIC_ACQUIRE);
		if ((seq & 1) && step_overlaps(other, asid, va, pages))
			wait_step(emu, other, seq);
	}
}

uint16_t gpu_emu_tlb_invalidate(struct gpu_emu *emu, struct gpu_emu_channel *ch)
{
	wait_inflight(emu, ch, ch->cmd.asid, ch->cmd.arg[0], ch->cmd.arg[1]);
	return GPU_SC_SUCCESS;
}

uint16_t gpu_emu_asid_reset(struct gpu_emu *emu, struct gpu_emu_channel *ch)
{
	pthread_rwlock_wrlock(&emu->mmu_lock);
	pt_free(emu, &emu->pt[ch->cmd.asid]);
	pthread_rwlock_unlock(&emu->mmu_lock);
	wait_inflight(emu, ch, ch->cmd.asid, 0, 0);
	return GPU_SC_SUCCESS;
}

/* What the access needs of a PTE; 0 when @pte allows it. */
static unsigned int fault_reason(uint64_t pte, unsigned int access)
{
	if (!(pte & GPU_PTE_VALID))
		return GPU_FAULT_NOT_PRESENT;
	if (access == GPU_ACCESS_ATOMIC && !(pte & GPU_PTE_ATOMIC))
		return GPU_FAULT_ATOMIC_PROTECT;
	if (access == GPU_ACCESS_WRITE && !(pte & GPU_PTE_WRITE))
		return GPU_FAULT_WRITE_PROTECT;
	return 0;
}

/* The step is over: its accesses are done, its translations dead. */
void gpu_emu_step_end(struct gpu_emu_channel *ch)
{
	uint64_t seq = __atomic_load_n(&ch->step_seq, __ATOMIC_RELAXED);

	if (seq & 1)
		__atomic_store_n(&ch->step_seq, seq + 1, __ATOMIC_SEQ_CST);
}

/*
 * Translate the VA operands of one step (each within one page). Every
 * operand that faults is recorded; the step goes on only when none does,
 * and then counts its accesses.
 */
bool gpu_emu_translate_step(struct gpu_emu *emu, struct gpu_emu_channel *ch,
			    struct gpu_emu_operand *ops, unsigned int n)
{
	unsigned int asid = ch->cmd.asid;
	uint64_t seq = __atomic_load_n(&ch->step_seq, __ATOMIC_RELAXED);

	/* Published before the table is read: see TLB_INVALIDATE. */
	__atomic_store_n(&ch->step_asid, asid, __ATOMIC_RELAXED);
	for (unsigned int i = 0; i < n; i++)
		__atomic_store_n(&ch->step_va[i], ops[i].va & ~(GPU_PAGE_SIZE - 1),
				 __ATOMIC_RELAXED);
	__atomic_store_n(&ch->step_nr, n, __ATOMIC_RELAXED);
	if (!(seq & 1))
		__atomic_store_n(&ch->step_seq, seq + 1, __ATOMIC_SEQ_CST);

	ch->nr_faults = ch->nr_posted = 0;
	pthread_rwlock_rdlock(&emu->mmu_lock);
	for (unsigned int i = 0; i < n; i++) {
		uint64_t pte = pte_get(emu, asid, ops[i].va);
		unsigned int reason = fault_reason(pte, ops[i].access);

		if (reason) {
			gpu_emu_fault_record(ch, asid, ops[i].va, ops[i].access, reason);
			continue;
		}
		ops[i].out.ap = (pte & GPU_PTE_SYSTEM) ? GPU_APERTURE_SYSTEM : GPU_APERTURE_VRAM;
		ops[i].out.addr = GPU_PTE_ADDR(pte) | (ops[i].va & (GPU_PAGE_SIZE - 1));
	}
	pthread_rwlock_unlock(&emu->mmu_lock);
	if (ch->nr_faults) {
		gpu_emu_step_end(ch); /* no access happened */
		return false;
	}
	gpu_emu_count(emu, ch, ops, n);
	return true;
}
