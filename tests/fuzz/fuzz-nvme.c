// SPDX-License-Identifier: MIT
/*
 * Fuzz the emulated NVMe controller the way a broken or hostile driver
 * would drive it: arbitrary submission-queue entries on the admin queue or
 * I/O queue 1, data pointers aimed into a 1 MiB host buffer mapped through
 * the IOMMU, into the 1 MiB CMB or anywhere; PRP lists and SGL descriptors
 * written into the host buffer; register and doorbell writes. The
 * controller (RAM namespace of 1 MiB, tests/nvme-emu/raw.h's fabric) is
 * brought up once and reset whenever it stops answering or reports
 * CSTS.CFS, so later inputs keep exercising it.
 *
 * The controller runs in step mode (drivers/nvme/emu/inject.h): no thread
 * of its own; after each register or doorbell write the fuzzer runs its
 * work to the end on this thread. A command it answers has its CQE in
 * memory when the step returns, one it does not answer never will, so
 * nothing is ever waited for, and a run is deterministic: an input
 * replays exactly as it was fuzzed.
 *
 * Input: a list of operations, each a leading byte and its fields:
 *   SQE:   flags, 64 bytes of command (flags: queue, where PRP1/PRP2 point)
 *   REG:   offset (16 bits), size selector, value (64 bits)
 *   BUF:   offset (20 bits), count, count bytes copied into the host buffer
 *   PTRS:  offset, count, count pointers (base selector + 32-bit offset)
 */
#include <stdbool.h>

#include "../nvme-emu/raw.h"
#include "drivers/nvme/emu/inject.h"
#include "fuzz-common.h"

#define FZ_HOST_BUF  (1u << 20)
#define FZ_Q_ENTRIES 64

enum fz_op {
	FZ_SQE,
	FZ_REG,
	FZ_BUF,
	FZ_PTRS,
	FZ_NR_OPS,
};

struct fz_nvme {
	struct raw r;
	bool up;
	struct raw_buf host, asq, acq, iosq, iocq;
	uint64_t cmb;
	unsigned int misses;
	unsigned long resets, rebuilds;
};

static struct fz_nvme fz;

/* Let the controller do everything it has to, on this thread. */
static void fz_step(void)
{
	nvme_emu_step(fz.r.emu);
}

/* CC changes are served by the step: CSTS has its answer right after it. */
static bool fz_wait_csts(uint32_t mask, uint32_t want)
{
	fz_step();
	return (raw_rd32(&fz.r, NVME_REG_CSTS) & mask) == want;
}

/* One command on @sq, answered on @cq: true with its CQE in @cqe, false when none came. */
static bool fz_exec(struct raw_q *sq, struct raw_q *cq, struct nvme_command *cmd,
		    struct nvme_completion *cqe)
{
	raw_push(&fz.r, sq, cmd, true);
	fz_step();
	return raw_reap_timeout(&fz.r, cq, cqe, 0);
}

static bool fz_admin_ok(struct nvme_command *cmd)
{
	struct nvme_completion cqe;

	return fz_exec(&fz.r.asq, &fz.r.acq, cmd, &cqe) && !raw_status(&cqe);
}

/*
 * Disable, then enable with fresh (zeroed) admin queues and recreate I/O
 * queue pair 1, reusing the memory mapped at bring-up.
 */
static bool fz_reset(void)
{
	struct raw *r = &fz.r;

	raw_wr32(r, NVME_REG_CC, 0);
	if (!fz_wait_csts(NVME_CSTS_RDY, 0))
		return false;
	memset(fz.asq.cpu, 0, fz.asq.len);
	memset(fz.acq.cpu, 0, fz.acq.len);
	memset(fz.iosq.cpu, 0, fz.iosq.len);
	memset(fz.iocq.cpu, 0, fz.iocq.len);
	raw_q_init(&r->asq, fz.asq, 0, FZ_Q_ENTRIES);
	raw_q_init(&r->acq, fz.acq, 0, FZ_Q_ENTRIES);
	raw_wr32(r, NVME_REG_INTMS, 0xffffffff);
	raw_wr32(r, NVME_REG_AQA, (FZ_Q_ENTRIES - 1) << 16 | (FZ_Q_ENTRIES - 1));
	raw_wr64(r, NVME_REG_ASQ, r->asq.mem.dma);
	raw_wr64(r, NVME_REG_ACQ, r->acq.mem.dma);
	raw_wr32(r, NVME_REG_CC, RAW_CC_DEFAULT);
	if (!fz_wait_csts(NVME_CSTS_RDY | NVME_CSTS_CFS, NVME_CSTS_RDY))
		return false;
	fz.cmb = raw_cmb_enable(r);
	{
		struct nvme_command cq = { .opcode = nvme_admin_create_cq };
		struct nvme_command sq = { .opcode = nvme_admin_create_sq };

		cq.prp1 = fz.iocq.dma;
		cq.cdw10 = (FZ_Q_ENTRIES - 1) << 16 | 1;
		cq.cdw11 = NVME_QUEUE_PHYS_CONTIG;
		sq.prp1 = fz.iosq.dma;
		sq.cdw10 = (FZ_Q_ENTRIES - 1) << 16 | 1;
		sq.cdw11 = 1u << 16 | NVME_QUEUE_PHYS_CONTIG;
		if (!fz_admin_ok(&cq) || !fz_admin_ok(&sq))
			return false;
	}
	raw_q_init(&r->cq[1], fz.iocq, 1, FZ_Q_ENTRIES);
	raw_q_init(&r->sq[1], fz.iosq, 1, FZ_Q_ENTRIES);
	fz.misses = 0;
	fz.resets++;
	return true;
}

static void fz_bring_up(void)
{
	struct nvme_emu_params p = raw_params();

	p.cmb_size = 1 << 20;
	p.max_io_queues = 4;
	p.ns[0].size = 1 << 20;
	if (raw_setup(&fz.r, &p) || nvme_emu_step_mode(fz.r.emu))
		abort();
	fz.host = raw_alloc(&fz.r, FZ_HOST_BUF);
	fz.asq = raw_alloc(&fz.r, FZ_Q_ENTRIES * 64);
	fz.acq = raw_alloc(&fz.r, FZ_Q_ENTRIES * 16);
	fz.iosq = raw_alloc(&fz.r, FZ_Q_ENTRIES * 64);
	fz.iocq = raw_alloc(&fz.r, FZ_Q_ENTRIES * 16);
	fz.up = fz_reset();
	if (!fz.up)
		abort();
}

/* The reset did not take: start over with a new fabric and controller. */
static void fz_rebuild(void)
{
	raw_teardown(&fz.r);
	memset(&fz, 0, sizeof(fz));
	fz_bring_up();
	fz.rebuilds++;
}

/* Base @sel (0: as given, 1: host buffer, 2: CMB, 3: as given) plus @v's low bits. */
static uint64_t fz_ptr(unsigned int sel, uint64_t v)
{
	switch (sel & 3) {
	case 1:
		return fz.host.dma + v % FZ_HOST_BUF;
	case 2:
		return fz.cmb + v % (1u << 20);
	default:
		return v;
	}
}

static void fz_sqe(struct fz_in *in)
{
	uint8_t flags = fz_u8(in);
	struct nvme_command cmd;
	struct nvme_completion cqe;
	struct raw_q *sq, *cq;
	uint8_t raw[64];

	for (unsigned int i = 0; i < sizeof(raw); i++)
		raw[i] = fz_u8(in);
	memcpy(&cmd, raw, sizeof(cmd));
	cmd.prp1 = fz_ptr(flags, cmd.prp1);
	cmd.prp2 = fz_ptr(flags >> 2, cmd.prp2);
	if (flags & 0x20)
		cmd.nsid = 1;
	if (flags & 0x10) {
		sq = &fz.r.sq[1];
		cq = &fz.r.cq[1];
	} else {
		sq = &fz.r.asq;
		cq = &fz.r.acq;
	}
	/* Take whatever completions came, this command's and earlier ones held (AERs). */
	if (!fz_exec(sq, cq, &cmd, &cqe)) {
		fz.misses++;
		return;
	}
	while (raw_cq_pending(cq))
		raw_reap_timeout(&fz.r, cq, &cqe, 0);
}

static void fz_reg(struct fz_in *in)
{
	uint32_t off = fz_u16(in) & 0x1fff;
	uint8_t sz = fz_u8(in);
	uint64_t v = fz_u64(in);

	if (sz & 1)
		raw_wr64(&fz.r, off & ~7u, v);
	else
		raw_wr32(&fz.r, off & ~3u, (uint32_t)v);
	fz_step();
	/* The driver's view of the queues may no longer be the controller's. */
	fz.misses++;
}

static void fz_buf(struct fz_in *in)
{
	uint32_t off = fz_u32(in) % FZ_HOST_BUF;
	unsigned int n = fz_u8(in);

	for (unsigned int i = 0; i < n && in->left; i++)
		fz.host.cpu[(off + i) % FZ_HOST_BUF] = fz_u8(in);
}

/* PRP list entries or SGL addresses: pointers that land somewhere useful. */
static void fz_ptrs(struct fz_in *in)
{
	uint32_t off = (fz_u32(in) % FZ_HOST_BUF) & ~7u;
	unsigned int n = fz_u8(in) % 64;

	for (unsigned int i = 0; i < n && in->left; i++) {
		uint8_t sel = fz_u8(in);
		uint64_t p = fz_ptr(sel, fz_u32(in));

		if (sel & 4)
			p &= ~(uint64_t)(RAW_PAGE - 1);
		memcpy(fz.host.cpu + (off + i * 8) % FZ_HOST_BUF, &p, 8);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { .p = data, .left = size };

	if (!fz.up) {
		fz_quiet();
		fz_bring_up();
	}
	while (in.left) {
		switch (fz_u8(&in) % FZ_NR_OPS) {
		case FZ_SQE:
			fz_sqe(&in);
			break;
		case FZ_REG:
			fz_reg(&in);
			break;
		case FZ_BUF:
			fz_buf(&in);
			break;
		case FZ_PTRS:
			fz_ptrs(&in);
			break;
		}
	}
	if (fz.misses || (raw_rd32(&fz.r, NVME_REG_CSTS) & (NVME_CSTS_CFS | NVME_CSTS_RDY)) !=
				 NVME_CSTS_RDY) {
		if (!fz_reset())
			fz_rebuild();
	}
	return 0;
}
