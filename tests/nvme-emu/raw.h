/* SPDX-License-Identifier: MIT */
/*
 * A tiny raw NVMe driver for the emulated controller's tests: it does what
 * a driver does and nothing more, through the fabric only. Queues and
 * buffers are process memory mapped for the controller with
 * dma_map_single() (IOVAs through its IOMMU domain) or carved from the
 * controller's CMB; commands are SQEs written to memory plus a doorbell
 * write; completions are found by the CQ phase tag.
 *
 *   hb0 (domain 1000, IOMMU, p2p allowed)
 *    +- rp0 -- sw0 --+-- sw0.0 -- nvme  (the controller under test)
 *    |               +-- sw0.1 -- peer  (BAR2: 16 MiB of memory)
 *    +- rp1 -------------------- far   (BAR2: 16 MiB of memory)
 */
#ifndef HETMEM_TESTS_NVME_EMU_RAW_H
#define HETMEM_TESTS_NVME_EMU_RAW_H

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hetmem/dma-mapping.h>
#include <hetmem/err.h>
#include <hetmem/log.h>
#include <hetmem/nvme-emu.h>
#include <hetmem/nvme-spec.h>
#include <hetmem/pci.h>

#define RAW_PAGE       4096u
#define RAW_MAX_Q      16
#define RAW_MAX_BUFS   256
#define RAW_TIMEOUT_MS 20000
#define RAW_CC_DEFAULT \
	(NVME_CC_ENABLE | (6u << NVME_CC_IOSQES_SHIFT) | (4u << NVME_CC_IOCQES_SHIFT))
#define RAW_DNR(sc) ((uint16_t)((sc) | NVME_SC_DNR))

/**
 * struct raw_buf - memory the controller can reach
 * @cpu: the test's pointer
 * @dma: the controller's address for it
 * @len: bytes
 * @cmb: carved from the CMB
 */
struct raw_buf {
	uint8_t *cpu;
	uint64_t dma;
	size_t len;
	bool cmb;
};

/**
 * struct raw_q - a queue as the driver sees it
 * @mem: its memory
 * @qid: identifier
 * @size: entries
 * @idx: SQ: next slot to fill (tail); CQ: next slot to look at (head)
 * @phase: CQ: the phase tag of new entries
 * @vector: CQ: its interrupt vector, -1 without interrupts
 * @credit: CQ: completions signalled on @vector and not taken yet
 */
struct raw_q {
	struct raw_buf mem;
	uint16_t qid;
	uint32_t size;
	uint32_t idx;
	uint8_t phase;
	int vector;
	uint64_t credit;
};

/*
 * With @by_irq set, completions are taken only once the CQ's vector
 * (eventfd) has counted them, never by watching CQ memory the controller
 * is writing: the eventfd is the synchronisation, as an interrupt is on
 * hardware, and ThreadSanitizer sees it as such.
 */
struct raw {
	bool by_irq;
	struct pci_fabric *f;
	struct pci_host_bridge *hb;
	struct pci_dev *rp0, *rp1, *sw0, *dsp0, *dsp1;
	struct pci_dev *pdev, *peer, *far;
	struct nvme_emu *emu;
	struct raw_q asq, acq;
	struct raw_q sq[RAW_MAX_Q], cq[RAW_MAX_Q];
	uint16_t cid;
	struct raw_buf bufs[RAW_MAX_BUFS];
	unsigned int nr_bufs;
	uint64_t cmb_used;
};

static inline struct nvme_emu_params raw_params(void)
{
	struct nvme_emu_params p = {
		.name = "nvme",
		.serial = "RAW0001",
		.model = "raw test controller",
		.max_io_queues = 8,
		.cmb_size = 4 << 20,
		.nr_ns = 1,
		.ns = { { .size = 64 << 20, .lba_shift = 9 } },
	};
	return p;
}

static inline struct pci_endpoint_info raw_mem_ep(const char *name)
{
	struct pci_endpoint_info info = {
		.name = name,
		.vendor = 0x4854,
		.device = 0x00fe,
		.class = 0x058000,
		.bar = { [2] = { .size = 16 << 20, .flags = PCI_BAR_MEM64 | PCI_BAR_PREFETCH } },
	};
	return info;
}

/* Build the fabric, add the controller, enumerate, start it, enable bus mastering. */
static inline int raw_setup(struct raw *r, const struct nvme_emu_params *p)
{
	struct pci_host_bridge_info hb = {
		.name = "hb0",
		.domain = 0x1000,
		.vendor = 0x8086,
		.device = 0x09a2,
		.p2p_allowed = true,
		.bus_offset = 1ULL << 47,
		.mem_base = 0xc0000000,
		.mem_size = 0x10000000,
		.pref_base = 0x8000000000ULL,
		.pref_size = 0x100000000ULL,
	};
	struct pci_endpoint_info ep;

	memset(r, 0, sizeof(*r));
	r->f = pci_fabric_create();
	if (!r->f)
		return -1;
	r->hb = pci_host_bridge_add(r->f, &hb);
	if (IS_ERR(r->hb))
		return -1;
	r->rp0 = pci_root_port_add(r->hb, "rp0", 0);
	r->rp1 = pci_root_port_add(r->hb, "rp1", 0);
	if (IS_ERR(r->rp0) || IS_ERR(r->rp1))
		return -1;
	r->sw0 = pci_switch_add(r->rp0, "sw0", 2, 0);
	if (IS_ERR(r->sw0))
		return -1;
	r->dsp0 = pci_switch_port(r->sw0, 0);
	r->dsp1 = pci_switch_port(r->sw0, 1);
	r->emu = nvme_emu_create(r->dsp0, 0, p);
	if (IS_ERR(r->emu)) {
		fprintf(stderr, "nvme_emu_create: %s\n", strerror((int)-PTR_ERR(r->emu)));
		r->emu = NULL;
		return -1;
	}
	r->pdev = nvme_emu_pdev(r->emu);
	ep = raw_mem_ep("peer");
	r->peer = pci_endpoint_add(r->dsp1, &ep);
	ep = raw_mem_ep("far");
	r->far = pci_endpoint_add(r->rp1, &ep);
	if (IS_ERR(r->peer) || IS_ERR(r->far))
		return -1;
	if (pci_fabric_enumerate(r->f) || nvme_emu_start(r->emu))
		return -1;
	pci_set_master(r->pdev);
	return 0;
}

/* Unmap and free the buffers raw_alloc() handed out. */
static inline void raw_release_bufs(struct raw *r)
{
	for (unsigned int i = 0; i < r->nr_bufs; i++) {
		struct raw_buf *b = &r->bufs[i];

		if (b->cmb)
			continue;
		dma_unmap_single(r->pdev, b->dma, b->len, DMA_BIDIRECTIONAL);
		free(b->cpu);
	}
	r->nr_bufs = 0;
}

static inline void raw_teardown(struct raw *r)
{
	nvme_emu_destroy(r->emu);
	raw_release_bufs(r);
	pci_fabric_destroy(r->f);
	memset(r, 0, sizeof(*r));
}

/* Page-aligned, zeroed process memory mapped for the controller. */
static inline struct raw_buf raw_alloc(struct raw *r, size_t len)
{
	struct raw_buf b = { .len = (len + RAW_PAGE - 1) & ~(size_t)(RAW_PAGE - 1) };

	b.cpu = aligned_alloc(RAW_PAGE, b.len);
	if (!b.cpu || r->nr_bufs == RAW_MAX_BUFS)
		abort();
	memset(b.cpu, 0, b.len);
	b.dma = dma_map_single(r->pdev, b.cpu, b.len, DMA_BIDIRECTIONAL);
	if (b.dma == DMA_MAPPING_ERROR)
		abort();
	r->bufs[r->nr_bufs++] = b;
	return b;
}

/* --- registers ------------------------------------------------------------------ */

static inline uint32_t raw_rd32(struct raw *r, uint32_t off)
{
	return (uint32_t)pci_mmio_read(r->pdev, 0, off, 4);
}

static inline uint64_t raw_rd64(struct raw *r, uint32_t off)
{
	return pci_mmio_read(r->pdev, 0, off, 8);
}

static inline void raw_wr32(struct raw *r, uint32_t off, uint32_t v)
{
	pci_mmio_write(r->pdev, 0, off, 4, v);
}

static inline void raw_wr64(struct raw *r, uint32_t off, uint64_t v)
{
	pci_mmio_write(r->pdev, 0, off, 8, v);
}

static inline uint64_t raw_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Poll CSTS until (CSTS & @mask) == @want, within CAP.TO. */
static inline bool raw_wait_csts(struct raw *r, uint32_t mask, uint32_t want)
{
	uint64_t limit = NVME_CAP_TIMEOUT(raw_rd64(r, NVME_REG_CAP)) * 500ULL;
	uint64_t end = raw_now_ms() + limit;

	do {
		if ((raw_rd32(r, NVME_REG_CSTS) & mask) == want)
			return true;
		usleep(100);
	} while (raw_now_ms() < end);
	return false;
}

/* --- CMB ------------------------------------------------------------------------ */

/* v1.4 sequence: CRE to see CMBLOC/CMBSZ, then CBA and CMSE, high dword first. */
static inline uint64_t raw_cmb_enable(struct raw *r)
{
	uint64_t cba = pci_bus_address(r->pdev, 2);
	uint64_t v = cba | NVME_CMBMSC_CRE | NVME_CMBMSC_CMSE;

	raw_wr32(r, NVME_REG_CMBMSC + 4, (uint32_t)(v >> 32));
	raw_wr32(r, NVME_REG_CMBMSC, (uint32_t)v);
	return cba;
}

static inline struct raw_buf raw_cmb_alloc(struct raw *r, size_t len)
{
	struct raw_buf b = { .len = (len + RAW_PAGE - 1) & ~(size_t)(RAW_PAGE - 1), .cmb = true };

	b.cpu = (uint8_t *)pci_iomap(r->pdev, 2) + r->cmb_used;
	b.dma = pci_bus_address(r->pdev, 2) + r->cmb_used;
	r->cmb_used += b.len;
	memset(b.cpu, 0, b.len);
	return b;
}

/* --- queues ---------------------------------------------------------------------- */

static inline void raw_q_init(struct raw_q *q, struct raw_buf mem, uint16_t qid, uint32_t size)
{
	q->mem = mem;
	q->qid = qid;
	q->size = size;
	q->idx = 0;
	q->phase = 1;
	q->vector = qid == 0 ? 0 : -1;
	q->credit = 0;
}

/* Program the admin queues and write CC, without waiting. */
static inline void raw_program(struct raw *r, uint32_t entries, uint32_t cc)
{
	raw_q_init(&r->asq, raw_alloc(r, entries * 64), 0, entries);
	raw_q_init(&r->acq, raw_alloc(r, entries * 16), 0, entries);
	raw_wr32(r, NVME_REG_AQA, (entries - 1) << 16 | (entries - 1));
	raw_wr64(r, NVME_REG_ASQ, r->asq.mem.dma);
	raw_wr64(r, NVME_REG_ACQ, r->acq.mem.dma);
	raw_wr32(r, NVME_REG_CC, cc);
}

/* Program the admin queues and set CC.EN; returns whether RDY came. */
static inline bool raw_enable_cc(struct raw *r, uint32_t entries, uint32_t cc)
{
	raw_program(r, entries, cc);
	return raw_wait_csts(r, NVME_CSTS_RDY, NVME_CSTS_RDY);
}

static inline bool raw_enable(struct raw *r)
{
	return raw_enable_cc(r, 32, RAW_CC_DEFAULT);
}

static inline bool raw_disable(struct raw *r)
{
	raw_wr32(r, NVME_REG_CC, raw_rd32(r, NVME_REG_CC) & ~NVME_CC_ENABLE);
	return raw_wait_csts(r, NVME_CSTS_RDY, 0);
}

/* Write an SQE at the tail; ring the doorbell unless @ring is false. Returns the CID. */
static inline uint16_t raw_push(struct raw *r, struct raw_q *sq, struct nvme_command *cmd,
				bool ring)
{
	struct nvme_command *slot = (struct nvme_command *)sq->mem.cpu + sq->idx;

	cmd->command_id = __atomic_add_fetch(&r->cid, 1, __ATOMIC_RELAXED);
	memcpy(slot, cmd, sizeof(*cmd));
	sq->idx = (sq->idx + 1) % sq->size;
	if (ring)
		raw_wr32(r, NVME_SQ_DB(sq->qid, 0), sq->idx);
	return cmd->command_id;
}

static inline void raw_ring(struct raw *r, struct raw_q *sq)
{
	raw_wr32(r, NVME_SQ_DB(sq->qid, 0), sq->idx);
}

/* Wait for the CQ's vector to count a completion not taken yet. */
static inline bool raw_irq_wait(struct raw *r, struct raw_q *cq, uint64_t timeout_ms)
{
	int fd = nvme_emu_irq_fd(r->emu, (unsigned int)cq->vector);
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint64_t v;

	while (!cq->credit) {
		if (poll(&pfd, 1, (int)timeout_ms) != 1)
			return false;
		if (read(fd, &v, sizeof(v)) != sizeof(v))
			return false;
		cq->credit += v;
	}
	cq->credit--;
	return true;
}

/* The next CQE, if one came within @timeout_ms; rings the CQ head doorbell. */
static inline bool raw_reap_timeout(struct raw *r, struct raw_q *cq, struct nvme_completion *out,
				    uint64_t timeout_ms)
{
	struct nvme_completion *e = (struct nvme_completion *)cq->mem.cpu + cq->idx;
	uint64_t end = raw_now_ms() + timeout_ms;

	if (r->by_irq && cq->vector >= 0) {
		if (!raw_irq_wait(r, cq, timeout_ms) || (e->status & 1) != cq->phase)
			return false;
	} else {
		while ((__atomic_load_n(&e->status, __ATOMIC_ACQUIRE) & 1) != cq->phase) {
			if (raw_now_ms() >= end)
				return false;
			usleep(20);
		}
	}
	memcpy(out, e, sizeof(*out));
	if (++cq->idx == cq->size) {
		cq->idx = 0;
		cq->phase ^= 1;
	}
	raw_wr32(r, NVME_CQ_DB(cq->qid, 0), cq->idx);
	return true;
}

static inline bool raw_reap(struct raw *r, struct raw_q *cq, struct nvme_completion *out)
{
	return raw_reap_timeout(r, cq, out, RAW_TIMEOUT_MS);
}

/* Whether a CQE is waiting, without taking it. */
static inline bool raw_cq_pending(struct raw_q *cq)
{
	struct nvme_completion *e = (struct nvme_completion *)cq->mem.cpu + cq->idx;

	return (__atomic_load_n(&e->status, __ATOMIC_ACQUIRE) & 1) == cq->phase;
}

static inline uint16_t raw_status(const struct nvme_completion *cqe)
{
	return cqe->status >> 1;
}

/* Submit on @sq, wait on @cq; returns the status, 0xffff on timeout. */
static inline uint16_t raw_exec(struct raw *r, struct raw_q *sq, struct raw_q *cq,
				struct nvme_command *cmd, struct nvme_completion *out)
{
	struct nvme_completion cqe = { 0 };
	uint16_t cid = raw_push(r, sq, cmd, true);

	if (!raw_reap(r, cq, &cqe))
		return 0xffff;
	if (cqe.command_id != cid || cqe.sq_id != sq->qid)
		return 0xfffe;
	if (out)
		*out = cqe;
	return raw_status(&cqe);
}

static inline uint16_t raw_admin(struct raw *r, struct nvme_command *cmd,
				 struct nvme_completion *out)
{
	return raw_exec(r, &r->asq, &r->acq, cmd, out);
}

static inline uint16_t raw_io(struct raw *r, uint16_t qid, struct nvme_command *cmd,
			      struct nvme_completion *out)
{
	return raw_exec(r, &r->sq[qid], &r->cq[qid], cmd, out);
}

static inline uint16_t raw_create_cq(struct raw *r, uint16_t qid, uint32_t size, uint64_t base,
				     uint32_t flags, uint16_t vector)
{
	struct nvme_command c = { .opcode = nvme_admin_create_cq };

	c.prp1 = base;
	c.cdw10 = (size - 1) << 16 | qid;
	c.cdw11 = (uint32_t)vector << 16 | flags;
	return raw_admin(r, &c, NULL);
}

static inline uint16_t raw_create_sq(struct raw *r, uint16_t qid, uint32_t size, uint64_t base,
				     uint32_t flags, uint16_t cqid)
{
	struct nvme_command c = { .opcode = nvme_admin_create_sq };

	c.prp1 = base;
	c.cdw10 = (size - 1) << 16 | qid;
	c.cdw11 = (uint32_t)cqid << 16 | flags;
	return raw_admin(r, &c, NULL);
}

/* An I/O queue pair @qid of @size entries (the SQ in the CMB if @sq_cmb); returns a status. */
static inline uint16_t raw_io_pair(struct raw *r, uint16_t qid, uint32_t size, bool irq,
				   bool sq_cmb)
{
	struct raw_buf cqm = raw_alloc(r, size * 16);
	struct raw_buf sqm = sq_cmb ? raw_cmb_alloc(r, size * 64) : raw_alloc(r, size * 64);
	uint16_t st;

	st = raw_create_cq(r, qid, size, cqm.dma,
			   NVME_QUEUE_PHYS_CONTIG | (irq ? NVME_CQ_IRQ_ENABLED : 0), qid);
	if (st)
		return st;
	st = raw_create_sq(r, qid, size, sqm.dma, NVME_QUEUE_PHYS_CONTIG, qid);
	if (st)
		return st;
	raw_q_init(&r->cq[qid], cqm, qid, size);
	raw_q_init(&r->sq[qid], sqm, qid, size);
	r->cq[qid].vector = irq ? qid : -1;
	return 0;
}

/* --- commands ---------------------------------------------------------------------- */

static inline struct nvme_command raw_identify(uint8_t cns, uint32_t nsid, uint64_t prp1)
{
	struct nvme_command c = { .opcode = nvme_admin_identify, .nsid = nsid };

	c.prp1 = prp1;
	c.cdw10 = cns;
	return c;
}

static inline struct nvme_command raw_log(uint8_t lid, uint32_t nsid, uint32_t bytes, uint64_t prp1)
{
	struct nvme_command c = { .opcode = nvme_admin_get_log_page, .nsid = nsid };

	c.prp1 = prp1;
	c.cdw10 = (bytes / 4 - 1) << 16 | lid;
	return c;
}

static inline struct nvme_command raw_feat(uint8_t opcode, uint8_t fid, uint32_t cdw11)
{
	struct nvme_command c = { .opcode = opcode };

	c.cdw10 = fid;
	c.cdw11 = cdw11;
	return c;
}

/* Read/Write/Compare of @nlb blocks at @slba from one contiguous DMA buffer (PRP1/PRP2 only). */
static inline struct nvme_command raw_rw(uint8_t opcode, uint32_t nsid, uint64_t slba, uint32_t nlb,
					 uint64_t dma)
{
	struct nvme_command c = { .opcode = opcode, .nsid = nsid };

	c.prp1 = dma;
	c.prp2 = (dma & ~(uint64_t)(RAW_PAGE - 1)) + RAW_PAGE;
	c.cdw10 = (uint32_t)slba;
	c.cdw11 = (uint32_t)(slba >> 32);
	c.cdw12 = nlb - 1;
	return c;
}

/*
 * PRP1/PRP2 for @len bytes at @dma (contiguous in IOVA space), building
 * a PRP list in @list when more than two pages are needed.
 */
static inline void raw_prps(struct nvme_command *c, uint64_t dma, size_t len, struct raw_buf *list)
{
	uint64_t first = RAW_PAGE - (dma & (RAW_PAGE - 1));
	uint64_t next = (dma & ~(uint64_t)(RAW_PAGE - 1)) + RAW_PAGE;
	uint64_t *e = (uint64_t *)list->cpu;
	size_t n = 0;

	c->prp1 = dma;
	c->prp2 = 0;
	if (len <= first)
		return;
	if (len <= first + RAW_PAGE) {
		c->prp2 = next;
		return;
	}
	/* A list of page pointers; the last slot of a full list page chains on. */
	c->prp2 = list->dma;
	for (uint64_t done = first; done < len; done += RAW_PAGE) {
		if (n % 512 == 511 && done + RAW_PAGE < len) {
			e[n] = list->dma + (n + 1) * 8;
			n++;
		}
		e[n++] = next;
		next += RAW_PAGE;
	}
}

static inline void raw_fill(void *buf, size_t len, uint32_t seed)
{
	uint32_t *p = buf;

	for (size_t i = 0; i < len / 4; i++)
		p[i] = seed * 2654435761u + (uint32_t)i;
}

#endif /* HETMEM_TESTS_NVME_EMU_RAW_H */
