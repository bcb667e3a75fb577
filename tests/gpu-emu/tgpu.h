/* SPDX-License-Identifier: MIT */
/*
 * A tiny driver for the emulated GPU's tests: registers, command rings and
 * the fault buffer, through the fabric only. Rings, fences, fault buffers
 * and data are process memory mapped for the GPU with dma_map_single();
 * commands are ring entries plus a TAIL write; completion is the entry's
 * status word, read with acquire loads (the device stores it with release
 * after the data, as a posted write on PCIe lands after the ones before).
 *
 *   hb0 (domain 1000, p2p allowed)
 *    +- rp0 -- sw0 --+-- sw0.0 -- gpu   (the GPU under test)
 *    |               +-- sw0.1 -- peer  (BAR2: 16 MiB of memory)
 *    +- rp1 -------------------- far   (BAR2: 16 MiB of memory)
 */
#ifndef HETMEM_TESTS_TGPU_H
#define HETMEM_TESTS_TGPU_H

#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hetmem/dma-mapping.h>
#include <hetmem/err.h>
#include <hetmem/gpu-emu.h>
#include <hetmem/gpu-regs.h>
#include <hetmem/log.h>
#include <hetmem/pci.h>
#include "drivers/gpu/emu/step.h"

#define TG_PAGE	      4096u
#define TG_MAX_BUFS   64
#define TG_TIMEOUT_MS 20000
#define TG_RING	      64 /* entries per ring */
#define TG_FAULTS     64 /* fault buffer entries */
#define TG_TIMED_OUT  0xffffu

/* Which channel the tests use for what. */
enum {
	TG_CH_WORK = 0, /* the commands under test */
	TG_CH_MMU = 1, /* page-table commands, so they never wait behind a fault */
};

/**
 * struct tg_buf - memory the GPU can reach
 * @cpu: the test's pointer (also the GPU VA when mapped through the MMU)
 * @dma: the GPU's bus address for it
 * @len: bytes
 */
struct tg_buf {
	uint8_t *cpu;
	uint64_t dma;
	size_t len;
};

/**
 * struct tg_ch - a channel as the test drives it
 * @ring: the ring
 * @fence: where the device writes each completed entry's seq
 * @tail: next entry to fill
 * @seq: last seq given
 */
struct tg_ch {
	struct tg_buf ring;
	struct tg_buf fence;
	uint32_t tail;
	uint64_t seq;
};

struct tgpu {
	struct pci_fabric *f;
	struct pci_host_bridge *hb;
	struct pci_dev *rp0, *rp1, *sw0, *dsp0, *dsp1;
	struct pci_dev *pdev, *peer, *far;
	struct gpu_emu *emu;
	struct tg_buf bufs[TG_MAX_BUFS];
	unsigned int nr_bufs;
	struct tg_ch ch[GPU_NR_CHANNELS];
	struct tg_buf faults;
	uint32_t fault_get;
	bool stepped; /* step mode: each register write is followed by a step */
};

/**
 * struct tg_opts - how tg_setup_opts() builds the machine
 * @passthrough: DMA through hb0 is not translated (no IOMMU)
 * @stepped: the GPU runs in step mode (drivers/gpu/emu/step.h): no
 *	     channel threads, every register write steps it to idle, and a
 *	     wait that the step did not satisfy fails at once
 * @peer_bar: BAR2 bytes of peer and far (0: 16 MiB)
 */
struct tg_opts {
	bool passthrough;
	bool stepped;
	uint64_t peer_bar;
};

static inline struct gpu_emu_params tg_params(void)
{
	struct gpu_emu_params p = {
		.name = "gpu",
		.vram_size = 64 << 20,
		.bar2_size = 16 << 20,
	};
	return p;
}

static inline struct pci_endpoint_info tg_mem_ep(const char *name, uint64_t size)
{
	struct pci_endpoint_info info = {
		.name = name,
		.vendor = 0x4854,
		.device = 0x00fe,
		.class = 0x058000,
		.bar = { [2] = { .size = size, .flags = PCI_BAR_MEM64 | PCI_BAR_PREFETCH } },
	};
	return info;
}

/* Build the fabric, add the GPU, enumerate, start it, enable bus mastering. */
static inline int tg_setup_opts(struct tgpu *t, const struct gpu_emu_params *p,
				const struct tg_opts *o)
{
	struct pci_host_bridge_info hb = {
		.name = "hb0",
		.domain = 0x1000,
		.vendor = 0x8086,
		.device = 0x09a2,
		.p2p_allowed = true,
		.iommu_passthrough = o->passthrough,
		.bus_offset = 1ULL << 47,
		.mem_base = 0xc0000000,
		.mem_size = 0x10000000,
		.pref_base = 0x8000000000ULL,
		.pref_size = 0x100000000ULL,
	};
	struct pci_endpoint_info ep;

	memset(t, 0, sizeof(*t));
	t->f = pci_fabric_create();
	if (!t->f)
		return -1;
	t->hb = pci_host_bridge_add(t->f, &hb);
	if (IS_ERR(t->hb))
		return -1;
	t->rp0 = pci_root_port_add(t->hb, "rp0", 0);
	t->rp1 = pci_root_port_add(t->hb, "rp1", 0);
	if (IS_ERR(t->rp0) || IS_ERR(t->rp1))
		return -1;
	t->sw0 = pci_switch_add(t->rp0, "sw0", 2, 0);
	if (IS_ERR(t->sw0))
		return -1;
	t->dsp0 = pci_switch_port(t->sw0, 0);
	t->dsp1 = pci_switch_port(t->sw0, 1);
	t->emu = gpu_emu_create(t->dsp0, 0, p);
	if (IS_ERR(t->emu)) {
		fprintf(stderr, "gpu_emu_create: %s\n", strerror((int)-PTR_ERR(t->emu)));
		t->emu = NULL;
		return -1;
	}
	t->pdev = gpu_emu_pdev(t->emu);
	ep = tg_mem_ep("peer", o->peer_bar ? o->peer_bar : 16 << 20);
	t->peer = pci_endpoint_add(t->dsp1, &ep);
	ep = tg_mem_ep("far", o->peer_bar ? o->peer_bar : 16 << 20);
	t->far = pci_endpoint_add(t->rp1, &ep);
	if (IS_ERR(t->peer) || IS_ERR(t->far))
		return -1;
	if (pci_fabric_enumerate(t->f))
		return -1;
	t->stepped = o->stepped;
	if (o->stepped ? gpu_emu_step_mode(t->emu) : gpu_emu_start(t->emu))
		return -1;
	pci_set_master(t->pdev);
	return 0;
}

/* With @passthrough, DMA through hb0 is not translated (no IOMMU). */
static inline int tg_setup_ext(struct tgpu *t, const struct gpu_emu_params *p, bool passthrough)
{
	struct tg_opts o = { .passthrough = passthrough };

	return tg_setup_opts(t, p, &o);
}

static inline int tg_setup(struct tgpu *t, const struct gpu_emu_params *p)
{
	return tg_setup_ext(t, p, false);
}

static inline void tg_teardown(struct tgpu *t)
{
	gpu_emu_destroy(t->emu);
	for (unsigned int i = 0; i < t->nr_bufs; i++) {
		dma_unmap_single(t->pdev, t->bufs[i].dma, t->bufs[i].len, DMA_BIDIRECTIONAL);
		free(t->bufs[i].cpu);
	}
	pci_fabric_destroy(t->f);
	memset(t, 0, sizeof(*t));
}

/* Page-aligned, zeroed process memory mapped for the GPU. */
static inline struct tg_buf tg_alloc(struct tgpu *t, size_t len)
{
	struct tg_buf b = { .len = (len + TG_PAGE - 1) & ~(size_t)(TG_PAGE - 1) };

	b.cpu = aligned_alloc(TG_PAGE, b.len);
	if (!b.cpu || t->nr_bufs == TG_MAX_BUFS)
		abort();
	memset(b.cpu, 0, b.len);
	b.dma = dma_map_single(t->pdev, b.cpu, b.len, DMA_BIDIRECTIONAL);
	if (b.dma == DMA_MAPPING_ERROR)
		abort();
	t->bufs[t->nr_bufs++] = b;
	return b;
}

/* --- registers ------------------------------------------------------------------ */

static inline uint32_t tg_rd32(struct tgpu *t, uint64_t off)
{
	return (uint32_t)pci_mmio_read(t->pdev, GPU_BAR_REGS, off, 4);
}

static inline uint64_t tg_rd64(struct tgpu *t, uint64_t off)
{
	return pci_mmio_read(t->pdev, GPU_BAR_REGS, off, 8);
}

/* Step mode: run the GPU until it has nothing left to do. */
static inline void tg_step(struct tgpu *t)
{
	if (t->stepped)
		gpu_emu_run_steps(t->emu, 0);
}

static inline void tg_wr32(struct tgpu *t, uint64_t off, uint32_t v)
{
	pci_mmio_write(t->pdev, GPU_BAR_REGS, off, 4, v);
	tg_step(t);
}

static inline void tg_wr64(struct tgpu *t, uint64_t off, uint64_t v)
{
	pci_mmio_write(t->pdev, GPU_BAR_REGS, off, 8, v);
	tg_step(t);
}

static inline uint64_t tg_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Wait until (register & @mask) == @want; false after the timeout. */
static inline bool tg_wait_reg(struct tgpu *t, uint64_t off, uint32_t mask, uint32_t want)
{
	uint64_t end = tg_now_ms() + TG_TIMEOUT_MS;

	do {
		tg_step(t);
		if ((tg_rd32(t, off) & mask) == want)
			return true;
		if (t->stepped)
			return false;
		usleep(50);
	} while (tg_now_ms() < end);
	return false;
}

/* --- channels -------------------------------------------------------------------- */

/* Program channel @c with a ring of TG_RING entries and a fence, and enable it. */
static inline bool tg_ch_enable(struct tgpu *t, unsigned int c)
{
	struct tg_ch *ch = &t->ch[c];

	if (!ch->ring.cpu) {
		ch->ring = tg_alloc(t, TG_RING * GPU_CMD_SIZE);
		ch->fence = tg_alloc(t, 8);
	}
	ch->tail = 0;
	tg_wr64(t, GPU_CH_REG(c, GPU_CH_RING_BASE), ch->ring.dma);
	tg_wr32(t, GPU_CH_REG(c, GPU_CH_RING_SIZE), TG_RING);
	tg_wr64(t, GPU_CH_REG(c, GPU_CH_FENCE_ADDR), ch->fence.dma);
	tg_wr32(t, GPU_CH_REG(c, GPU_CH_CTRL), GPU_CH_CTRL_ENABLE);
	return tg_rd32(t, GPU_CH_REG(c, GPU_CH_STATUS)) & GPU_CH_STS_ENABLED;
}

static inline struct gpu_cmd *tg_slot(struct tgpu *t, unsigned int c, uint32_t idx)
{
	return (struct gpu_cmd *)t->ch[c].ring.cpu + idx;
}

/* Write @cmd at the tail of channel @c and ring the doorbell. Returns its slot. */
static inline uint32_t tg_submit(struct tgpu *t, unsigned int c, const struct gpu_cmd *cmd)
{
	struct tg_ch *ch = &t->ch[c];
	uint32_t idx = ch->tail;
	struct gpu_cmd *slot = tg_slot(t, c, idx);

	*slot = *cmd;
	slot->status = 0;
	slot->seq = ++ch->seq;
	ch->tail = (ch->tail + 1) % TG_RING;
	tg_wr32(t, GPU_CH_REG(c, GPU_CH_TAIL), ch->tail);
	return idx;
}

/* The status word of slot @idx, once the device wrote it. */
static inline uint32_t tg_status_word(struct tgpu *t, unsigned int c, uint32_t idx)
{
	return __atomic_load_n(&tg_slot(t, c, idx)->status, __ATOMIC_ACQUIRE);
}

/* Wait for slot @idx of channel @c: its status code, or TG_TIMED_OUT. */
static inline uint16_t tg_wait(struct tgpu *t, unsigned int c, uint32_t idx)
{
	uint64_t end = tg_now_ms() + TG_TIMEOUT_MS;
	unsigned int spins = 0;

	/* Poll hard at first (a driver waiting for a page-table update does), then gently. */
	for (;;) {
		uint32_t st = tg_status_word(t, c, idx);

		/*
		 * The status word comes first, then the fence and the FENCE
		 * register: done when the register has the entry's seq, so
		 * nothing of it is still on its way to memory.
		 */
		if ((st & GPU_CMD_DONE) &&
		    (int64_t)(tg_rd64(t, GPU_CH_REG(c, GPU_CH_FENCE)) - tg_slot(t, c, idx)->seq) >= 0)
			return GPU_CMD_SC(st);
		if (t->stepped)
			return TG_TIMED_OUT; /* the step that could complete it is over */
		if (++spins < 20000) {
			if (spins % 64 == 0)
				sched_yield();
			continue;
		}
		if (tg_now_ms() > end)
			return TG_TIMED_OUT;
		usleep(20);
	}
}

static inline uint16_t tg_run(struct tgpu *t, unsigned int c, const struct gpu_cmd *cmd)
{
	return tg_wait(t, c, tg_submit(t, c, cmd));
}

/* --- commands ---------------------------------------------------------------------- */

static inline struct gpu_cmd tg_copy(uint64_t dst, unsigned int dst_ap, uint64_t src,
				     unsigned int src_ap, uint64_t len)
{
	struct gpu_cmd c = { .opcode = GPU_OP_COPY };

	c.arg[0] = dst;
	c.arg[1] = src;
	c.arg[2] = len;
	c.arg[3] = GPU_COPY_DST(dst_ap) | GPU_COPY_SRC(src_ap);
	return c;
}

static inline struct gpu_cmd tg_pte_set(uint16_t asid, uint64_t va, uint64_t pages, uint64_t pte,
					uint64_t step)
{
	struct gpu_cmd c = { .opcode = GPU_OP_PTE_SET, .asid = asid };

	c.arg[0] = va;
	c.arg[1] = pages;
	c.arg[2] = pte;
	c.arg[3] = step;
	return c;
}

static inline struct gpu_cmd tg_launch(uint16_t asid, uint64_t kernel, uint64_t a1, uint64_t a2,
				       uint64_t a3, uint64_t a4)
{
	struct gpu_cmd c = { .opcode = GPU_OP_LAUNCH, .asid = asid };

	c.arg[0] = kernel;
	c.arg[1] = a1;
	c.arg[2] = a2;
	c.arg[3] = a3;
	c.arg[4] = a4;
	return c;
}

/* Map @b at its own address (GPU VA == process VA) in @asid, system pages. */
static inline uint16_t tg_map_sys(struct tgpu *t, uint16_t asid, const struct tg_buf *b,
				  uint64_t flags)
{
	struct gpu_cmd c = tg_pte_set(asid, (uintptr_t)b->cpu, b->len / TG_PAGE,
				      b->dma | GPU_PTE_VALID | GPU_PTE_SYSTEM | flags, TG_PAGE);

	return tg_run(t, TG_CH_MMU, &c);
}

/* Map @pages pages at @va onto VRAM from @vram_off. */
static inline uint16_t tg_map_vram(struct tgpu *t, uint16_t asid, uint64_t va, uint64_t pages,
				   uint64_t vram_off, uint64_t flags)
{
	struct gpu_cmd c = tg_pte_set(asid, va, pages, vram_off | GPU_PTE_VALID | flags, TG_PAGE);

	return tg_run(t, TG_CH_MMU, &c);
}

/* --- the fault buffer --------------------------------------------------------------- */

static inline void tg_fault_enable(struct tgpu *t, uint32_t entries)
{
	if (!t->faults.cpu)
		t->faults = tg_alloc(t, TG_FAULTS * GPU_FAULT_ENTRY_SIZE);
	tg_wr64(t, GPU_REG_FAULT_BASE, t->faults.dma);
	tg_wr32(t, GPU_REG_FAULT_SIZE, entries);
	tg_wr32(t, GPU_REG_FAULT_CTRL, GPU_FAULT_CTRL_ENABLE);
	t->fault_get = 0;
}

/* The next fault buffer entry: false when none came before the timeout. */
static inline bool tg_fault_next(struct tgpu *t, struct gpu_fault_entry *e, uint32_t entries)
{
	uint64_t end = tg_now_ms() + TG_TIMEOUT_MS;

	while (tg_rd32(t, GPU_REG_FAULT_PUT) == t->fault_get) {
		if (t->stepped || tg_now_ms() > end)
			return false;
		usleep(20);
	}
	*e = ((struct gpu_fault_entry *)t->faults.cpu)[t->fault_get];
	t->fault_get = (t->fault_get + 1) % entries;
	tg_wr32(t, GPU_REG_FAULT_GET, t->fault_get);
	return true;
}

#endif /* HETMEM_TESTS_TGPU_H */
