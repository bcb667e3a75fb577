/* SPDX-License-Identifier: MIT */
/*
 * Private to the GPU driver.
 *
 * The driver of the emulated GPU (include/hetmem/gpu-regs.h has the
 * device's programming interface). One struct gpu_host per bound function:
 *
 *	probe.c		bind and unbind: registers, rings, fault buffer,
 *			the device-private page map, BAR2 as P2PDMA memory
 *	channel.c	command rings: submission, completion, the
 *			completion interrupt
 *	vram.c		device-private VRAM: page allocation, LRU eviction,
 *			the page map's callbacks, copies through the copy engine
 *	mmu.c		address spaces (ASIDs) and their page tables
 *	fault.c		the fault buffer: device page faults and access
 *			counter notifications, serviced by policy
 *	backend.c	the test device interface (dmirror) served by the GPU
 *	launch.c	kernel launches for applications
 *
 * Channel use. Servicing a fault must never wait behind the faulting
 * command, and the copies that bring device pages home (a CPU fault on the
 * userfaultfd handler thread) must never wait behind a stalled command, so
 * the four channels are split by what may stall:
 *
 *	GPU_CH_MMU	PTE writes and TLB invalidations (never fault)
 *	GPU_CH_MIGRATE	copies between VRAM and system memory (never fault)
 *	GPU_CH_ACCESS	the test device's reads and writes through the MMU
 *	GPU_CH_COMPUTE	kernel launches
 *
 * Locking, outermost first:
 *	vram->evict_lock	one eviction at a time (its invalidations take
 *				mirrors' mutexes; never taken under one)
 *	dmirror->mutex		a mirror's record and its GPU page table
 *	  vram->lock		allocation bitmap and LRU
 *	  ch->lock		a ring's slots (held from reserve to commit,
 *				never across a wait)
 *	gpu->asid_lock		ASID -> mirror table (alone)
 *	gpu->irq_lock		sleeping waiters
 *	  gpu->mask_lock	IRQ_MASK
 * A slot's submitter owns it until its result is taken. Nothing here
 * holds a lock while touching process memory by address, as the notifier
 * rules require (Documentation/hmm.md).
 */
#ifndef HETMEM_DRIVERS_GPU_HOST_H
#define HETMEM_DRIVERS_GPU_HOST_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <hetmem/dma-mapping.h>
#include <hetmem/gpu-regs.h>
#include <hetmem/gpu.h>
#include <hetmem/memremap.h>
#include "lib/compiler.h"
#include "lib/list.h"
#include "mm/dmirror.h"

struct gpu_emu;

enum gpu_host_channel {
	GPU_CH_MMU = 0,
	GPU_CH_MIGRATE = 1,
	GPU_CH_ACCESS = 2,
	GPU_CH_COMPUTE = 3,
};

#define GPU_RING_ENTRIES  64
#define GPU_FAULT_ENTRIES 1024
/* Each ring slot has a page of driver data the command may DMA-read (PTE arrays). */
#define GPU_PAYLOAD_SIZE 4096UL
#define GPU_PAYLOAD_PTES (GPU_PAYLOAD_SIZE / sizeof(uint64_t))

/**
 * struct gpu_submit - one command, from its submission to its result
 * @cmd: the ring entry to fill in between gpu_ch_reserve() and gpu_ch_commit()
 *	 (opcode, asid, args; flags, status and seq are the channel's)
 * @payload: the slot's page of driver data, seen by the device at
 *	     @payload_dma, valid until the command completes
 * @payload_dma: its bus address
 * @slot: the ring slot
 * @seq: the command's sequence number
 * @opcode: the opcode, for messages
 * @done: the result below is in
 * @status: the status word the device wrote
 * @faults: device page faults the fault handler serviced for it
 * @err: 0, or why the fault handler cancelled it (-EFAULT, -EPERM, ...)
 *
 * Lives with the submitter (its stack, or a job) until gpu_ch_wait() returns.
 */
struct gpu_submit {
	struct gpu_cmd *cmd;
	void *payload;
	dma_addr_t payload_dma;
	unsigned int slot;
	uint64_t seq;
	uint8_t opcode;
	bool done;
	uint32_t status;
	unsigned long faults;
	int err;
};

/* A ring slot: the submission whose result is still to be taken, or NULL. */
struct gpu_slot_state {
	struct gpu_submit *owner;
};

struct gpu_channel {
	struct gpu_host *gpu;
	unsigned int id;
	pthread_mutex_t lock; /* tail, seq, slot ownership, results */
	struct gpu_cmd *ring; /* GPU_RING_ENTRIES entries */
	dma_addr_t ring_dma;
	char *payload; /* GPU_RING_ENTRIES pages */
	dma_addr_t payload_dma;
	uint32_t tail;
	uint64_t seq;
	struct gpu_slot_state slot[GPU_RING_ENTRIES];
};

/* A 2 MiB block of device-private VRAM: the unit of LRU eviction. */
#define GPU_BLOCK_PAGES 512UL

struct gpu_vram_block {
	struct list_head lru; /* in vram.lru while it holds pages */
	unsigned long used;
	bool on_lru;
};

struct gpu_vram {
	struct dev_pagemap pagemap;
	uint64_t offset; /* VRAM offset of the first device-private page */
	unsigned long first_pfn, npages;
	pthread_mutex_t lock; /* bitmap, cursor, blocks, LRU */
	unsigned long *used;
	unsigned long cursor;
	struct gpu_vram_block *blocks;
	unsigned long nblocks;
	struct list_head lru; /* least recently used first */
	pthread_mutex_t evict_lock; /* one eviction at a time */
	uint32_t *counters; /* access counters of its pages, read under evict_lock */
	dma_addr_t counters_dma;
	bool registered;
};

/* A mirror on this GPU: an ASID and the shadow of its page table. */
struct gpu_mirror {
	struct gpu_host *gpu;
	struct dmirror *dmirror;
	unsigned int asid;
	int refs; /* under gpu->asid_lock: the table's, and the fault handler's */
	/* PTEs as written, by VA; under dmirror->mutex. */
	struct va_table pte;
};

struct gpu_host {
	struct pci_dev *pdev;
	struct gpu_emu *emu;
	struct gpu_host_opts opts;
	uint64_t vram_size, vram_visible;
	uint32_t features;
	bool p2p;

	struct dmirror_device mdevice;
	struct gpu_vram vram;

	struct gpu_channel ch[GPU_NR_CHANNELS];
	void *zero_page; /* source of zero-filled device pages */
	dma_addr_t zero_dma;

	/* Completion interrupt: waiters sleep here once they stop spinning. */
	pthread_mutex_t irq_lock;
	pthread_cond_t irq_cond;
	unsigned long irq_gen;
	unsigned int sleepers; /* waiters asleep: the completion vector is unmasked */
	pthread_mutex_t mask_lock; /* IRQ_MASK, and its value */
	uint32_t irq_mask;
	pthread_t irq_thread;
	bool irq_thread_started;
	int stop_fd; /* eventfd: the driver's threads exit */

	/* The fault buffer and its handler thread. */
	struct gpu_fault_entry *faults;
	dma_addr_t faults_dma;
	uint32_t fault_get;
	pthread_t fault_thread;
	bool fault_thread_started;
	unsigned int policy;
	unsigned int counter_threshold;

	pthread_mutex_t asid_lock;
	pthread_cond_t asid_cond; /* a mirror's last reference went */
	struct gpu_mirror *asid[GPU_NR_ASIDS];

	struct gpu_host_stats stats; /* updated with atomics */
	bool dead; /* removal started */
};

#define gpu_stat_add(gpu, field, n) __atomic_add_fetch(&(gpu)->stats.field, (n), __ATOMIC_RELAXED)

static inline struct gpu_host *mdevice_to_gpu(struct dmirror_device *mdevice)
{
	return container_of(mdevice, struct gpu_host, mdevice);
}

/* Registers (BAR0). */
__internal uint32_t gpu_readl(struct gpu_host *gpu, unsigned int reg);
__internal uint64_t gpu_readq(struct gpu_host *gpu, unsigned int reg);
__internal void gpu_writel(struct gpu_host *gpu, unsigned int reg, uint32_t val);
__internal void gpu_writeq(struct gpu_host *gpu, unsigned int reg, uint64_t val);

/* channel.c */
__internal int gpu_channel_init(struct gpu_host *gpu, unsigned int id);
__internal void gpu_channel_fini(struct gpu_host *gpu, unsigned int id);
/* Take the next slot (waits while the ring is full); fill s->cmd, then commit. */
__internal void gpu_ch_reserve(struct gpu_channel *ch, struct gpu_submit *s);
__internal void gpu_ch_commit(struct gpu_channel *ch, struct gpu_submit *s);
/*
 * Wait for the command of @s to complete, release its slot. Returns 0, or
 * the errno its status (or the fault handler) stands for; *@faults (when
 * not NULL) gets the device faults serviced for it.
 */
__internal int gpu_ch_wait(struct gpu_channel *ch, struct gpu_submit *s, unsigned long *faults);
/* Submit @n commands and wait for all; the first error. */
__internal int gpu_ch_run(struct gpu_channel *ch, const struct gpu_cmd *cmds, unsigned int n);
__internal int gpu_irq_start(struct gpu_host *gpu);
/* Let a vector signal (or not): only while somebody sleeps on it. */
__internal void gpu_irq_enable(struct gpu_host *gpu, unsigned int vector, bool on);
__internal void gpu_irq_stop(struct gpu_host *gpu);
/* The command a stalled channel is working on (fault attribution); ch->lock held. */
__internal struct gpu_submit *gpu_current_submit(struct gpu_channel *ch);
__internal int gpu_status_errno(uint32_t sc);

/* vram.c */
__internal int gpu_vram_init(struct gpu_host *gpu);
__internal void gpu_vram_fini(struct gpu_host *gpu);
__internal unsigned long gpu_vram_alloc(struct dmirror_device *mdevice, unsigned long n,
					struct page **pages);
__internal int gpu_copy_to_vram(struct dmirror_device *mdevice, struct page **dst,
				const unsigned long *src, unsigned long n);
__internal int gpu_copy_from_vram(struct dmirror_device *mdevice, const unsigned long *dst,
				  struct page **src, unsigned long n);
/* Every device-private page home; returns how many stayed busy. */
__internal unsigned long gpu_vram_evict_all(struct gpu_host *gpu);
/* A VRAM page was used: its block moves to the LRU's tail. */
__internal void gpu_vram_touch(struct gpu_host *gpu, uint64_t vram_offset);
__internal bool gpu_is_vram_page(struct gpu_host *gpu, struct page *page);
__internal uint64_t gpu_page_vram_offset(struct gpu_host *gpu, struct page *page);

/* mmu.c */
__internal int gpu_mirror_open(struct dmirror *d);
__internal void gpu_mirror_close(struct dmirror *d);
__internal int gpu_mmu_map(struct dmirror *d, unsigned long va, unsigned long n,
			   const unsigned long *entries);
__internal void gpu_mmu_unmap(struct dmirror *d, unsigned long start, unsigned long end);
/* The mirror behind an ASID, with a reference; put it with gpu_mirror_put(). */
__internal struct gpu_mirror *gpu_mirror_get(struct gpu_host *gpu, unsigned int asid);
__internal void gpu_mirror_put(struct gpu_mirror *m);

/* fault.c */
__internal int gpu_fault_start(struct gpu_host *gpu);
__internal void gpu_fault_stop(struct gpu_host *gpu);

/* backend.c */
extern const struct dmirror_backend_ops gpu_dmirror_ops;

#endif /* HETMEM_DRIVERS_GPU_HOST_H */
