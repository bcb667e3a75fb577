/* SPDX-License-Identifier: MIT */
/*
 * Private to the emulated GPU (drivers/gpu/emu/).
 *
 * The device is split by concept:
 *
 *   ctrl.c      lifetime, the registry behind gpu_emu_from_pdev(), the
 *               channel threads (poll, then sleep), interrupts, requests
 *               register writes leave to a channel thread, reset
 *   regs.c      BAR0: global, fault buffer and channel registers
 *   channel.c   command rings: fetching, stepping, completing commands
 *   cmd.c       command checks and the opcodes that are one step long
 *   mem.c       moving bytes in an aperture: VRAM, or DMA through the fabric
 *   mmu.c       page tables: PTE commands and translation
 *   fault.c     the fault buffer: page faults, replay and cancel, counter
 *               notifications
 *   counters.c  per-page access counters
 *   copy.c      the copy engine
 *   compute.c   the compute engine's built-in kernels
 *   step.c      step mode: the channels' work run on the caller's thread
 *               (step.h, for tests and fuzzers)
 *
 * Threads. Each channel has a thread of its own, which fetches and runs
 * its commands, so a channel whose DMA blocks (host memory the kernel must
 * fault in) or that is stalled on a page fault holds up nobody else.
 * Register writes arrive on whatever thread the driver uses (the fabric
 * calls the BAR handlers without its lock held). What the threads share
 * has a lock each: the page tables (mmu_lock, a rwlock: translations read,
 * PTE commands write), the access counters (counters_lock), the fault
 * buffer (fault_lock) and the channels' configuration registers
 * (reg_lock). No lock is held across a DMA except fault_lock while an
 * entry goes out. Only one nesting exists: a channel thread deciding
 * whether to sleep (under its wake_lock) asks whether the fault buffer
 * has room (fault_lock).
 *
 * A channel's configuration (ring and fence addresses) may only be written
 * while it is disabled, and only its thread disables it: a disable or a
 * reset written to a register is a request the channel thread carries out
 * between two steps, and the write returns once it has. So a channel
 * thread reads its configuration without a lock whenever it sees the
 * channel enabled.
 *
 * Writes to BAR0 by a GPU's DMA (a fence or fault buffer address aimed at
 * its own registers or another GPU's) are guest errors, dropped: a channel
 * thread never waits for itself, nor two GPUs for each other.
 */
#ifndef HETMEM_GPU_EMU_PRIV_H
#define HETMEM_GPU_EMU_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hetmem/gpu-emu.h>
#include <hetmem/gpu-regs.h>
#include <hetmem/pci.h>
#include "lib/compiler.h"
#include "lib/list.h"

#define GPU_EMU_CHUNK	     (1u << 20) /* bytes of one physical copy step */
#define GPU_EMU_TURN_STEPS   64 /* steps between two looks at requests and interrupts */
#define GPU_EMU_MAX_OPERANDS 3 /* VA operands of one step */
#define GPU_EMU_PT_BITS	     9 /* page-table index bits per level */
#define GPU_EMU_PT_LEVELS    4 /* 4 * 9 + 12 = 48 bits >= GPU_VA_BITS */
#define GPU_EMU_PT_ENTRIES   (1u << GPU_EMU_PT_BITS)
#define GPU_EMU_PT_MAX_NODES (1u << 14) /* table memory: 64 MiB of 4 KiB nodes, all ASIDs */
#define GPU_EMU_SYS_COUNTERS_MAX (1u << 22) /* system pages counted at most */
#define GPU_EMU_MAX_VRAM     (1ULL << 40)

/* Requests a register write leaves to a channel thread (req). */
enum {
	GPU_EMU_REQ_OFF = 1u << 0, /* disable the channel */
};

/* Outcome of one step of a command. */
enum gpu_emu_step {
	GPU_EMU_DONE,  /* finished; status in the command */
	GPU_EMU_MORE,  /* progress made, more to do */
	GPU_EMU_FAULT, /* stalled on page faults (channel's @faults) */
};

/**
 * struct gpu_emu_xlate - where one operand of a step lands
 * @ap: GPU_APERTURE_VRAM or GPU_APERTURE_SYSTEM
 * @addr: VRAM offset or bus address of the operand's first byte
 */
struct gpu_emu_xlate {
	unsigned int ap;
	uint64_t addr;
};

/**
 * struct gpu_emu_operand - a VA operand of a step, to translate
 * @va: first byte
 * @access: enum gpu_fault_access
 * @out: the translation, once gpu_emu_translate_step() succeeds
 */
struct gpu_emu_operand {
	uint64_t va;
	unsigned int access;
	struct gpu_emu_xlate out;
};

/**
 * struct gpu_emu_exec - progress of the command a channel runs
 * @done: bytes or elements done
 * @hash: CHECKSUM: the hash so far
 * @started: the first step ran
 */
struct gpu_emu_exec {
	uint64_t done;
	uint64_t hash;
	bool started;
};

/**
 * struct gpu_emu_channel - one channel and its thread
 *
 * (R) under reg_lock, written only while disabled; (A) atomics; (T) the
 * channel thread's.
 */
struct gpu_emu_channel {
	struct gpu_emu *emu;
	unsigned int idx;
	uint64_t ring_base; /* (R) */
	uint32_t ring_size; /* (R) */
	uint64_t fence_addr; /* (R) */
	uint32_t enabled; /* (A) */
	uint32_t tail; /* (A) doorbell */
	uint32_t head; /* (A) next entry to run; entries before it are done */
	uint64_t fence; /* (A) */
	uint32_t sts; /* (A) GPU_CH_STS_STALLED | GPU_CH_STS_ERROR */
	uint32_t last_status; /* (A) */
	uint32_t busy; /* (A) a command is fetched and not complete */

	/* The command in progress (T). */
	struct gpu_cmd cmd;
	uint64_t cmd_addr;
	struct gpu_emu_exec exec;
	unsigned int engine;
	bool stalled;
	struct gpu_fault_entry faults[GPU_EMU_MAX_OPERANDS];
	unsigned int nr_faults; /* recorded for the stall */
	unsigned int nr_posted; /* of them, written to the fault buffer */

	/*
	 * The step in flight, for TLB_INVALIDATE: @step_seq is odd from before
	 * a step translates until it has made its last access; @step_asid and
	 * @step_va (@step_nr of them) are the pages it translated (A).
	 */
	uint64_t step_seq;
	uint32_t step_asid;
	uint32_t step_nr;
	uint64_t step_va[GPU_EMU_MAX_OPERANDS];

	/* The thread. */
	pthread_t thread;
	bool started;
	uint32_t req; /* (A) GPU_EMU_REQ_* */
	uint64_t req_taken; /* under wake_lock: passes that took requests */
	uint64_t req_done; /* under wake_lock: of them, carried out */
	pthread_cond_t req_cond;
	int sleeping; /* (A) */
	int nudged; /* (A) another channel faulted: poll for a while */
	unsigned int kick_sync; /* (A) */
	pthread_mutex_t wake_lock;
	pthread_cond_t wake;
	uint64_t spin_ns; /* (T) */

	/* Scratch (T). */
	uint8_t *bounce; /* GPU_EMU_CHUNK bytes */
	uint8_t *bounce2; /* another, for two-operand kernels */
	uint32_t *pattern; /* FILL: a page of the pattern */
	uint64_t *ptes; /* PTE_WRITE's array */
	size_t ptes_cap;
};

/**
 * struct gpu_emu_pt - the page table of one ASID: a radix tree
 * @root: level-0 node: GPU_EMU_PT_ENTRIES pointers, NULL when empty
 * @nr_nodes: nodes allocated, the root included
 */
struct gpu_emu_pt {
	void **root;
	unsigned long nr_nodes;
};

/**
 * struct gpu_emu_sys_counter - access counter of one system page
 * @page: bus address >> GPU_PAGE_SHIFT, plus one (0 marks a free slot)
 * @count: accesses
 */
struct gpu_emu_sys_counter {
	uint64_t page;
	uint32_t count;
};

/**
 * struct gpu_emu - an emulated GPU
 *
 * (R) under reg_lock; (F) under fault_lock; (A) atomics.
 */
struct gpu_emu {
	uint64_t magic;
	struct pci_dev *pdev;
	struct list_head node; /* in the registry */
	char name[48];
	uint16_t vendor;
	uint16_t device;
	uint32_t class;

	/* VRAM: a memfd, mapped whole; BAR2 is its first @bar2_size bytes. */
	int vram_fd;
	uint8_t *vram;
	uint64_t vram_size;
	uint64_t bar2_size;

	/* Registers. */
	pthread_mutex_t reg_lock;
	uint32_t error_count; /* (A) */
	uint32_t error_code; /* (A) */
	uint64_t error_info; /* (A) */
	uint32_t irq_mask; /* (A) */
	uint32_t irq_status; /* (A) */
	uint32_t status; /* (A) GPU_STS_* */

	/* The fault buffer. */
	pthread_mutex_t fault_lock;
	uint64_t fault_base; /* (F) */
	uint32_t fault_size; /* (F) */
	uint32_t fault_enabled; /* (A), changed under fault_lock */
	uint32_t fault_put; /* (A), changed under fault_lock */
	uint32_t fault_get; /* (A) */
	uint32_t fault_pending; /* (A) channel mask */
	uint32_t counter_threshold; /* (A) */
	uint32_t counter_dropped; /* (A) */
	uint32_t replay_req; /* (A) channel mask */
	uint32_t cancel_req; /* (A) channel mask */

	struct gpu_emu_channel ch[GPU_NR_CHANNELS];
	bool started;
	bool stepped; /* no threads: gpu_emu_step() does the work */
	int stop; /* (A) */

	/* Interrupts: one eventfd per vector. */
	int irq_fd[GPU_NR_VECTORS];
	uint32_t irq_count[GPU_NR_VECTORS]; /* (A) events not yet signalled */
	uint32_t irq_held[GPU_NR_VECTORS]; /* (A) held back by IRQ_MASK */

	/* The MMU. */
	pthread_rwlock_t mmu_lock;
	struct gpu_emu_pt pt[GPU_NR_ASIDS];
	unsigned long pt_nodes; /* of all ASIDs, under mmu_lock */

	/* Access counters, under counters_lock. */
	pthread_mutex_t counters_lock;
	uint32_t *vram_counters; /* one per VRAM page */
	struct gpu_emu_sys_counter *sys_counters; /* open addressing */
	uint32_t sys_cap; /* slots, a power of two, 0 before the first */
	uint32_t sys_used;
};

/* ctrl.c */
__internal void gpu_emu_kick(struct gpu_emu_channel *ch);
__internal void gpu_emu_kick_all(struct gpu_emu *emu);
__internal void gpu_emu_nudge_others(struct gpu_emu *emu, struct gpu_emu_channel *ch);
__internal void gpu_emu_irq_raise(struct gpu_emu *emu, unsigned int vector);
__internal void gpu_emu_irq_flush(struct gpu_emu *emu);
__internal void gpu_emu_irq_unmask(struct gpu_emu *emu, uint32_t vectors);
__internal void gpu_emu_request(struct gpu_emu_channel *ch, uint32_t req);
__internal void gpu_emu_reset(struct gpu_emu *emu);
__internal void gpu_emu_stop_threads(struct gpu_emu *emu);
__internal void gpu_emu_guest_error(struct gpu_emu *emu, uint32_t code, uint64_t info,
				    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
__internal bool gpu_emu_on_device_thread(void);
__internal void gpu_emu_set_device_thread(const struct gpu_emu *emu);
__internal bool gpu_emu_run_once(struct gpu_emu *emu, struct gpu_emu_channel *ch);

/* regs.c */
__internal extern const struct pci_bar_ops gpu_emu_bar_ops;

/* channel.c */
__internal bool gpu_emu_channel_ready(struct gpu_emu_channel *ch);
__internal bool gpu_emu_channel_run(struct gpu_emu *emu, struct gpu_emu_channel *ch);
__internal void gpu_emu_channel_off(struct gpu_emu *emu, struct gpu_emu_channel *ch);
__internal void gpu_emu_complete(struct gpu_emu *emu, struct gpu_emu_channel *ch,
				 uint16_t status);

/* cmd.c */
__internal uint16_t gpu_emu_check(struct gpu_emu *emu, struct gpu_emu_channel *ch);
__internal enum gpu_emu_step gpu_emu_step(struct gpu_emu *emu, struct gpu_emu_channel *ch,
					  uint16_t *status);
__internal const char *gpu_emu_op_name(uint8_t opcode);

/* mem.c */
__internal uint16_t gpu_emu_mem_read(struct gpu_emu *emu, const struct gpu_emu_xlate *x,
				     void *buf, uint64_t len);
__internal uint16_t gpu_emu_mem_write(struct gpu_emu *emu, const struct gpu_emu_xlate *x,
				      const void *buf, uint64_t len);
__internal uint16_t gpu_emu_mem_copy(struct gpu_emu *emu, struct gpu_emu_channel *ch,
				     const struct gpu_emu_xlate *dst,
				     const struct gpu_emu_xlate *src, uint64_t len);
__internal uint16_t gpu_emu_mem_atomic_add(struct gpu_emu *emu, const struct gpu_emu_xlate *x,
					   uint64_t n, uint64_t addend);
__internal uint8_t *gpu_emu_vram_ptr(struct gpu_emu *emu, const struct gpu_emu_xlate *x);
__internal bool gpu_emu_vram_range_ok(const struct gpu_emu *emu, uint64_t off, uint64_t len);
__internal int gpu_emu_dma_read(struct gpu_emu *emu, uint64_t addr, void *buf, uint64_t len);
__internal int gpu_emu_dma_write(struct gpu_emu *emu, uint64_t addr, const void *buf,
				 uint64_t len);

/* mmu.c */
__internal uint16_t gpu_emu_pte_write(struct gpu_emu *emu, struct gpu_emu_channel *ch);
__internal uint16_t gpu_emu_pte_set(struct gpu_emu *emu, struct gpu_emu_channel *ch);
__internal uint16_t gpu_emu_pte_read(struct gpu_emu *emu, struct gpu_emu_channel *ch);
__internal uint16_t gpu_emu_tlb_invalidate(struct gpu_emu *emu, struct gpu_emu_channel *ch);
__internal uint16_t gpu_emu_asid_reset(struct gpu_emu *emu, struct gpu_emu_channel *ch);
__internal void gpu_emu_mmu_reset(struct gpu_emu *emu);
__internal void gpu_emu_mmu_free(struct gpu_emu *emu);
__internal bool gpu_emu_translate_step(struct gpu_emu *emu, struct gpu_emu_channel *ch,
				       struct gpu_emu_operand *ops, unsigned int n);
__internal void gpu_emu_step_end(struct gpu_emu_channel *ch);

/* fault.c */
__internal void gpu_emu_fault_record(struct gpu_emu_channel *ch, unsigned int asid,
				     uint64_t va, unsigned int access, unsigned int reason);
__internal bool gpu_emu_fault_post(struct gpu_emu *emu, struct gpu_emu_channel *ch);
__internal bool gpu_emu_fault_work(struct gpu_emu *emu, struct gpu_emu_channel *ch);
__internal bool gpu_emu_fault_has_work(struct gpu_emu *emu, struct gpu_emu_channel *ch);
__internal void gpu_emu_fault_notify(struct gpu_emu *emu, const struct gpu_fault_entry *e);
__internal void gpu_emu_fault_off(struct gpu_emu *emu);
__internal bool gpu_emu_fault_room(struct gpu_emu *emu);

/* counters.c */
__internal void gpu_emu_count(struct gpu_emu *emu, const struct gpu_emu_channel *ch,
			      const struct gpu_emu_operand *ops, unsigned int n);
__internal uint16_t gpu_emu_counters_read(struct gpu_emu *emu, struct gpu_emu_channel *ch);
__internal void gpu_emu_counters_reset(struct gpu_emu *emu);
__internal void gpu_emu_counters_free(struct gpu_emu *emu);

/* copy.c */
__internal uint16_t gpu_emu_copy_check(struct gpu_emu *emu, const struct gpu_cmd *cmd);
__internal enum gpu_emu_step gpu_emu_copy_step(struct gpu_emu *emu, struct gpu_emu_channel *ch,
					       uint16_t *status);
__internal enum gpu_emu_step gpu_emu_copy_va_step(struct gpu_emu *emu,
						  struct gpu_emu_channel *ch, uint64_t dst,
						  uint64_t src, uint64_t len, uint16_t *status);

/* compute.c */
__internal uint16_t gpu_emu_launch_check(struct gpu_emu *emu, const struct gpu_cmd *cmd);
__internal enum gpu_emu_step gpu_emu_launch_step(struct gpu_emu *emu, struct gpu_emu_channel *ch,
						 uint16_t *status);

static inline uint64_t gpu_emu_min(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Bytes from @addr to the end of its page. */
static inline uint64_t gpu_emu_page_left(uint64_t addr)
{
	return GPU_PAGE_SIZE - (addr & (GPU_PAGE_SIZE - 1));
}

/* Whether [@va, @va + @len) lies within the GPU VA space. */
static inline bool gpu_emu_va_ok(uint64_t va, uint64_t len)
{
	return va < (1ULL << GPU_VA_BITS) && len <= (1ULL << GPU_VA_BITS) - va;
}

#endif /* HETMEM_GPU_EMU_PRIV_H */
