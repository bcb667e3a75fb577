// SPDX-License-Identifier: MIT
/*
 * Fuzz the emulated GPU the way a broken or hostile driver would drive it:
 * arbitrary BAR0 register writes and reads (any offset, size and value),
 * ring entries of every opcode with operands aimed at host memory, VRAM,
 * GPU VAs, the GPU's own BARs, peers' BARs or anywhere; PTE arrays, fault
 * buffer GET/REPLAY/CANCEL, doorbells with any value on every channel,
 * access-counter thresholds. The rule is the one real devices follow:
 * nothing the driver does crashes the device, wedges it or leaks; a
 * mistake is an error status or a guest error.
 *
 * The machine is tests/gpu-emu/tgpu.h's (a GPU with 1 MiB + 64 KiB of
 * VRAM, 1 MiB of it in BAR2, a peer behind the same switch and one behind
 * another root port, 64 KiB BARs each), built once. The GPU runs in step
 * mode (drivers/gpu/emu/step.h): no channel threads; after each doorbell
 * or register write the fuzzer runs the channels' work on this thread,
 * with a budget of passes per input so no input runs long. Nothing is
 * waited for and a run is deterministic: every input starts from a reset
 * device, zeroed memory and the same rings, and replays exactly as it was
 * fuzzed.
 *
 * After each input the device must still work: CTRL.RESET leaves every
 * channel off, no fault pending, the error registers clear; the rings are
 * set up again and a NOP on each channel completes with success, and a
 * copy clearing VRAM for the next input does too. Anything else aborts.
 * While it runs, whenever a step ends with the device idle, every enabled
 * channel that is not stopped or stalled must have run its ring dry.
 *
 * Input: a list of operations, each a leading byte and its fields. An
 * operand ("arg" below) is a selector byte and what it asks for: zero, a
 * raw 64-bit value, a small value, a host buffer bus address, a VRAM
 * offset, a GPU VA, a PTE, or a bus address of one of the targets.
 *   CMD:      header (channel, ring the doorbell, IRQ flag, raw opcode,
 *             raw flags, raw ASID), opcode, [flags], ASID, six args
 *   REG_WR:   offset, size, arg
 *   REG_RD:   offset, size
 *   BUF:      offset, count, count bytes into the host buffer
 *   PTES:     offset, count, count args as u64s into the host buffer
 *   STEP:     passes
 *   DOORBELL: channel, 32-bit TAIL value
 *   FAULT:    action: GET = PUT, then a channel mask to REPLAY or CANCEL
 *   SERVICE:  channel, target: map every faulting page the buffer holds
 *             (PTE_SET on that channel), acknowledge, replay
 *   RESET:    reset and set everything up again (within the same budget)
 */
#include <stdbool.h>
#include <stdlib.h>

#include "../gpu-emu/tgpu.h"
#include "fuzz-common.h"

#define FZ_VRAM	    ((1u << 20) + (64u << 10)) /* BAR2 and 64 KiB beyond it */
#define FZ_BAR2	    (1u << 20)
#define FZ_PEER_BAR (64u << 10)
#define FZ_HOST	    (64u << 10)
#define FZ_RING	    16 /* entries per ring */
#define FZ_FAULTS   16 /* fault buffer entries */
#define FZ_ASIDS    4 /* ASIDs most commands use */
#define FZ_VA_BASE  0x7f0000000000ULL
#define FZ_VA_SPAN  (16u << 20)
#define FZ_PASSES   64 /* step passes per input */
#define FZ_REG_SPAN 0x2000 /* where the registers are */

/* Control memory: rings, fences, the fault buffer. */
#define FZ_CTL_RING(c)	((c)*FZ_RING * GPU_CMD_SIZE)
#define FZ_CTL_FENCE(c) (GPU_NR_CHANNELS * FZ_RING * GPU_CMD_SIZE + (c)*8)
#define FZ_CTL_FAULTS	(GPU_NR_CHANNELS * FZ_RING * GPU_CMD_SIZE + 64)
#define FZ_CTL_SIZE	(FZ_CTL_FAULTS + FZ_FAULTS * GPU_FAULT_ENTRY_SIZE)

enum fz_op {
	FZ_CMD,
	FZ_REG_WR,
	FZ_REG_RD,
	FZ_BUF,
	FZ_PTES,
	FZ_STEP,
	FZ_DOORBELL,
	FZ_FAULT,
	FZ_SERVICE,
	FZ_RESET,
	FZ_NR_OPS,
};

static const uint8_t fz_opcodes[] = {
	GPU_OP_NOP,	      GPU_OP_COPY,	     GPU_OP_LAUNCH,	    GPU_OP_PTE_WRITE,
	GPU_OP_PTE_SET,	      GPU_OP_PTE_READ,	     GPU_OP_TLB_INVALIDATE, GPU_OP_ASID_RESET,
	GPU_OP_COUNTERS_READ, GPU_OP_COUNTERS_RESET,
};

struct fz_gpu {
	struct tgpu t;
	bool up;
	struct tg_buf host, ctl;
	uint64_t bar0, bar2, peer2, far2;
	uint8_t *peer_mem, *far_mem, *vram_win;
	uint32_t tail[GPU_NR_CHANNELS];
	uint64_t seq;
	unsigned int passes_left;
	unsigned long inputs;
	bool trace;
	uint64_t traced[GPU_NR_CHANNELS][FZ_RING]; /* seq of the entry last reported */
	uint32_t errors;
};

static struct fz_gpu fz;

static void fz_die(const char *what)
{
	fprintf(stderr, "fuzz-gpu: the device no longer works: %s\n", what);
	abort();
}

static uint32_t rd32(uint64_t off)
{
	return (uint32_t)pci_mmio_read(fz.t.pdev, GPU_BAR_REGS, off, 4);
}

static uint64_t rd64(uint64_t off)
{
	return pci_mmio_read(fz.t.pdev, GPU_BAR_REGS, off, 8);
}

static void wr32(uint64_t off, uint32_t v)
{
	pci_mmio_write(fz.t.pdev, GPU_BAR_REGS, off, 4, v);
}

static void wr64(uint64_t off, uint64_t v)
{
	pci_mmio_write(fz.t.pdev, GPU_BAR_REGS, off, 8, v);
}

/*
 * Every enabled channel that is not stopped or stalled has run its ring
 * dry: IDLE (HEAD == TAIL, nothing in progress).
 */
static void fz_check_idle(void)
{
	for (unsigned int c = 0; c < GPU_NR_CHANNELS; c++) {
		uint32_t sts = rd32(GPU_CH_REG(c, GPU_CH_STATUS));

		if ((sts & GPU_CH_STS_ENABLED) &&
		    !(sts & (GPU_CH_STS_ERROR | GPU_CH_STS_STALLED | GPU_CH_STS_IDLE)))
			fz_die("an idle device left a runnable channel with work");
	}
}

/* Run the device, within what is left of the input's budget. */
static void fz_step(unsigned int passes)
{
	int done;

	if (!passes || passes > fz.passes_left)
		passes = fz.passes_left;
	if (!passes)
		return;
	done = gpu_emu_run_steps(fz.t.emu, passes);
	if (done < 0)
		fz_die("not in step mode");
	fz.passes_left -= (unsigned int)done;
	if ((unsigned int)done < passes)
		fz_check_idle();
}

/* --- operands ------------------------------------------------------------------------ */

/* A bus address of target @kind, @off into it. */
static uint64_t fz_target(uint8_t kind, uint32_t off)
{
	switch (kind & 7) {
	case 0:
		return fz.host.dma + off % FZ_HOST;
	case 1:
		return fz.ctl.dma + off % FZ_CTL_SIZE;
	case 2:
		return off % FZ_VRAM; /* a VRAM offset, for VRAM PTEs and apertures */
	case 3:
		return fz.bar0 + off % FZ_REG_SPAN;
	case 4:
		return fz.bar2 + off % FZ_BAR2;
	case 5:
		return fz.peer2 + off % FZ_PEER_BAR;
	case 6:
		return fz.far2 + off % FZ_PEER_BAR;
	default:
		return (uint64_t)off << 8; /* anywhere, most likely nothing */
	}
}

static uint64_t fz_arg(struct fz_in *in)
{
	uint8_t sel = fz_u8(in);

	switch (sel & 7) {
	case 0:
		return 0;
	case 1:
		return fz_u64(in);
	case 2:
		return fz_u16(in);
	case 3:
		return fz.host.dma + fz_u32(in) % FZ_HOST;
	case 4:
		return fz_u32(in) % (FZ_VRAM + GPU_PAGE_SIZE); /* just past the end too */
	case 5:
		return FZ_VA_BASE + fz_u32(in) % FZ_VA_SPAN;
	case 6: {
		/* A PTE: flags from the selector, the page from a target. */
		uint64_t flags = (sel >> 3) & GPU_PTE_FLAGS;
		uint8_t kind = fz_u8(in);
		uint64_t pte = (fz_target(kind, fz_u32(in)) & GPU_PTE_ADDR_MASK) | flags;

		if (sel & 0x80)
			pte |= (uint64_t)fz_u8(in) << 4; /* reserved bits */
		return pte;
	}
	default: {
		uint8_t kind = fz_u8(in);

		return fz_target(kind, fz_u32(in));
	}
	}
}

/* --- setting the device up ------------------------------------------------------------- */

static void fz_ring_setup(unsigned int c)
{
	wr64(GPU_CH_REG(c, GPU_CH_RING_BASE), fz.ctl.dma + FZ_CTL_RING(c));
	wr32(GPU_CH_REG(c, GPU_CH_RING_SIZE), FZ_RING);
	wr64(GPU_CH_REG(c, GPU_CH_FENCE_ADDR), fz.ctl.dma + FZ_CTL_FENCE(c));
	wr32(GPU_CH_REG(c, GPU_CH_CTRL), GPU_CH_CTRL_ENABLE);
	fz.tail[c] = 0;
}

static struct gpu_cmd *fz_slot(unsigned int c, uint32_t idx)
{
	return (struct gpu_cmd *)(fz.ctl.cpu + FZ_CTL_RING(c)) + idx % FZ_RING;
}

/* Put @cmd at channel @c's tail; ring the doorbell when @ring. Its slot. */
static struct gpu_cmd *fz_queue(unsigned int c, const struct gpu_cmd *cmd, bool ring)
{
	struct gpu_cmd *slot = fz_slot(c, fz.tail[c]);

	*slot = *cmd;
	slot->status = 0;
	slot->seq = ++fz.seq;
	fz.tail[c] = (fz.tail[c] + 1) % FZ_RING;
	if (ring)
		wr32(GPU_CH_REG(c, GPU_CH_TAIL), fz.tail[c]);
	return slot;
}

/* Run @cmd on channel @c of a device known to be sound: it must succeed. */
static void fz_must_run(unsigned int c, const struct gpu_cmd *cmd, const char *what)
{
	struct gpu_cmd *slot = fz_queue(c, cmd, true);
	uint64_t fence;

	if (gpu_emu_run_steps(fz.t.emu, 0) < 0)
		fz_die("not in step mode");
	if (__atomic_load_n(&slot->status, __ATOMIC_ACQUIRE) != GPU_CMD_DONE)
		fz_die(what);
	memcpy(&fence, fz.ctl.cpu + FZ_CTL_FENCE(c), sizeof(fence));
	if (fence != slot->seq || rd64(GPU_CH_REG(c, GPU_CH_FENCE)) != slot->seq)
		fz_die("a completed command's fence is not its seq");
}

/*
 * Reset and check the device is in its reset state; zero what the next
 * input may see (host memory, VRAM, the peers' BARs); set the rings and
 * fault buffer up again and check each channel runs a command.
 */
static void fz_reset(void)
{
	struct gpu_cmd nop = { .opcode = GPU_OP_NOP };
	struct gpu_cmd clear =
		tg_copy(FZ_BAR2, GPU_APERTURE_VRAM, 0, GPU_APERTURE_VRAM, FZ_VRAM - FZ_BAR2);

	wr32(GPU_REG_CTRL, GPU_CTRL_RESET);
	if (rd32(GPU_REG_STATUS) != GPU_STS_READY || rd32(GPU_REG_ERROR_COUNT) ||
	    rd32(GPU_REG_ERROR_CODE) || rd32(GPU_REG_FAULT_PENDING) || rd32(GPU_REG_FAULT_CTRL) ||
	    rd32(GPU_REG_FAULT_PUT) || rd32(GPU_REG_IRQ_STATUS) || rd32(GPU_REG_COUNTER_THRESHOLD))
		fz_die("CTRL.RESET left state behind");
	for (unsigned int c = 0; c < GPU_NR_CHANNELS; c++)
		if (rd32(GPU_CH_REG(c, GPU_CH_STATUS)) || rd32(GPU_CH_REG(c, GPU_CH_HEAD)) ||
		    rd64(GPU_CH_REG(c, GPU_CH_RING_BASE)))
			fz_die("CTRL.RESET left a channel configured");
	wr32(GPU_REG_IRQ_MASK, 0);

	memset(fz.host.cpu, 0, fz.host.len);
	memset(fz.ctl.cpu, 0, fz.ctl.len);
	memset(fz.vram_win, 0, FZ_BAR2);
	memset(fz.peer_mem, 0, FZ_PEER_BAR);
	memset(fz.far_mem, 0, FZ_PEER_BAR);

	for (unsigned int c = 0; c < GPU_NR_CHANNELS; c++)
		fz_ring_setup(c);
	wr64(GPU_REG_FAULT_BASE, fz.ctl.dma + FZ_CTL_FAULTS);
	wr32(GPU_REG_FAULT_SIZE, FZ_FAULTS);
	wr32(GPU_REG_FAULT_CTRL, GPU_FAULT_CTRL_ENABLE);
	for (unsigned int c = 0; c < GPU_NR_CHANNELS; c++)
		fz_must_run(c, &nop, "a NOP after reset did not complete with success");
	/* VRAM beyond BAR2 is zeroed by the device: BAR2 (just zeroed) copied over it. */
	fz_must_run(0, &clear, "clearing VRAM after reset did not complete with success");
	if (rd32(GPU_REG_ERROR_COUNT))
		fz_die("commands on a sound device were counted as guest errors");
}

static void fz_bring_up(void)
{
	struct gpu_emu_params p = { .name = "gpu", .vram_size = FZ_VRAM, .bar2_size = FZ_BAR2 };
	struct tg_opts o = { .stepped = true, .peer_bar = FZ_PEER_BAR };

	if (tg_setup_opts(&fz.t, &p, &o))
		abort();
	fz.host = tg_alloc(&fz.t, FZ_HOST);
	fz.ctl = tg_alloc(&fz.t, FZ_CTL_SIZE);
	fz.bar0 = pci_bus_address(fz.t.pdev, GPU_BAR_REGS);
	fz.bar2 = pci_bus_address(fz.t.pdev, GPU_BAR_VRAM);
	fz.peer2 = pci_bus_address(fz.t.peer, 2);
	fz.far2 = pci_bus_address(fz.t.far, 2);
	fz.vram_win = pci_iomap(fz.t.pdev, GPU_BAR_VRAM);
	fz.peer_mem = pci_iomap(fz.t.peer, 2);
	fz.far_mem = pci_iomap(fz.t.far, 2);
	if (!fz.bar0 || !fz.bar2 || !fz.peer2 || !fz.far2 || !fz.vram_win || !fz.peer_mem ||
	    !fz.far_mem)
		abort();
	fz.passes_left = ~0u;
	fz_reset();
	fz.up = true;
}

/* --- operations ---------------------------------------------------------------------- */

static void fz_cmd(struct fz_in *in)
{
	uint8_t hdr = fz_u8(in);
	unsigned int c = hdr & 3;
	struct gpu_cmd cmd = { 0 };
	uint8_t op = fz_u8(in);

	cmd.opcode = hdr & 0x20 ? op : fz_opcodes[op % sizeof(fz_opcodes)];
	cmd.flags = hdr & 0x08 ? GPU_CMD_F_IRQ : 0;
	if (hdr & 0x40)
		cmd.flags = fz_u8(in);
	cmd.asid = hdr & 0x10 ? fz_u16(in) : fz_u8(in) % FZ_ASIDS;
	for (unsigned int i = 0; i < 6; i++)
		cmd.arg[i] = fz_arg(in);
	if (fz.trace)
		fprintf(stderr,
			"ch%u <- op 0x%02x flags 0x%x asid %u args %#llx %#llx %#llx %#llx %#llx "
			"%#llx%s\n",
			c, cmd.opcode, cmd.flags, cmd.asid, (unsigned long long)cmd.arg[0],
			(unsigned long long)cmd.arg[1], (unsigned long long)cmd.arg[2],
			(unsigned long long)cmd.arg[3], (unsigned long long)cmd.arg[4],
			(unsigned long long)cmd.arg[5], hdr & 0x04 ? " (no doorbell)" : "");
	fz_queue(c, &cmd, !(hdr & 0x04));
	if (!(hdr & 0x04))
		fz_step(hdr & 0x80 ? 1 : 0);
}

/* A register offset: mostly where the registers are, now and then anywhere in BAR0. */
static uint64_t fz_reg_off(struct fz_in *in, unsigned int *size)
{
	static const unsigned int sizes[] = { 4, 8, 4, 4, 1, 2, 4, 8 };
	uint16_t v = fz_u16(in);
	uint8_t s = fz_u8(in);
	uint64_t off = v & 0x8000 ? fz_u32(in) % GPU_BAR0_SIZE : v % FZ_REG_SPAN;

	*size = sizes[s & 7];
	if (!(s & 8))
		off &= ~(uint64_t)(*size - 1);
	return off;
}

/* Which channels' TAIL the driver thinks it knows: the device's after a write. */
static void fz_sync_tails(void)
{
	for (unsigned int c = 0; c < GPU_NR_CHANNELS; c++)
		fz.tail[c] = rd32(GPU_CH_REG(c, GPU_CH_TAIL)) % FZ_RING;
}

static void fz_reg_wr(struct fz_in *in)
{
	unsigned int size;
	uint64_t off = fz_reg_off(in, &size);
	uint64_t v = fz_arg(in);

	pci_mmio_write(fz.t.pdev, GPU_BAR_REGS, off, size, v);
	fz_step(0);
	fz_sync_tails();
}

static void fz_reg_rd(struct fz_in *in)
{
	unsigned int size;
	uint64_t off = fz_reg_off(in, &size);

	(void)pci_mmio_read(fz.t.pdev, GPU_BAR_REGS, off, size);
}

static void fz_buf(struct fz_in *in)
{
	uint32_t off = fz_u32(in) % FZ_HOST;
	unsigned int n = fz_u8(in);

	for (unsigned int i = 0; i < n && in->left; i++)
		fz.host.cpu[(off + i) % FZ_HOST] = fz_u8(in);
}

/* PTE arrays (or any u64s) for PTE_WRITE to read. */
static void fz_ptes(struct fz_in *in)
{
	uint32_t off = (fz_u32(in) % FZ_HOST) & ~7u;
	unsigned int n = fz_u8(in) % 64;

	for (unsigned int i = 0; i < n && in->left; i++) {
		uint64_t v = fz_arg(in);

		memcpy(fz.host.cpu + (off + i * 8) % FZ_HOST, &v, 8);
	}
}

static void fz_doorbell(struct fz_in *in)
{
	unsigned int c = fz_u8(in) & 3;
	uint32_t v = fz_u32(in);

	/* Mostly within the ring, now and then beyond it. */
	if (!(v & 0x80000000u))
		v %= FZ_RING;
	wr32(GPU_CH_REG(c, GPU_CH_TAIL), v);
	fz_step(0);
	fz_sync_tails();
}

static void fz_fault(struct fz_in *in)
{
	uint8_t a = fz_u8(in);

	if (a & 0x20)
		wr32(GPU_REG_FAULT_GET, rd32(GPU_REG_FAULT_PUT));
	wr32(a & 0x10 ? GPU_REG_FAULT_CANCEL : GPU_REG_FAULT_REPLAY, a & 0xf);
	fz_step(0);
}

/*
 * What a driver does with its fault buffer: map each faulting page (on
 * channel @c, to the target the input picks, with every permission),
 * acknowledge the entries, replay the stalled channels.
 */
static void fz_service(struct fz_in *in)
{
	unsigned int c = fz_u8(in) & 3;
	uint8_t kind = fz_u8(in);
	uint32_t get = rd32(GPU_REG_FAULT_GET), put = rd32(GPU_REG_FAULT_PUT);
	const struct gpu_fault_entry *buf = (const void *)(fz.ctl.cpu + FZ_CTL_FAULTS);
	uint64_t flags = GPU_PTE_VALID | GPU_PTE_WRITE | GPU_PTE_ATOMIC;

	if (kind != 2)
		flags |= GPU_PTE_SYSTEM;
	for (unsigned int n = 0; get != put && n < FZ_FAULTS; n++, get = (get + 1) % FZ_FAULTS) {
		struct gpu_fault_entry e = buf[get % FZ_FAULTS];
		struct gpu_cmd map;

		if (e.type != GPU_FAULT_TYPE_PAGE)
			continue;
		map = tg_pte_set(e.asid, e.va, 1,
				 (fz_target(kind, (uint32_t)e.va) & GPU_PTE_ADDR_MASK) | flags, 0);
		fz_queue(c, &map, true);
		fz_step(0);
	}
	wr32(GPU_REG_FAULT_GET, put);
	wr32(GPU_REG_FAULT_REPLAY, rd32(GPU_REG_FAULT_PENDING));
	fz_step(0);
}

static const char *const fz_op_names[] = {
	[FZ_CMD] = "CMD",	    [FZ_REG_WR] = "REG_WR", [FZ_REG_RD] = "REG_RD",
	[FZ_BUF] = "BUF",	    [FZ_PTES] = "PTES",	    [FZ_STEP] = "STEP",
	[FZ_DOORBELL] = "DOORBELL", [FZ_FAULT] = "FAULT",   [FZ_SERVICE] = "SERVICE",
	[FZ_RESET] = "RESET",
};

/*
 * FUZZ_GPU_TRACE=1: after each operation, the entries that completed
 * since and what the device says (to read a reproducer or a seed).
 */
static void fz_trace(unsigned int op)
{
	uint32_t errors = rd32(GPU_REG_ERROR_COUNT);

	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	fprintf(stderr, "%ld.%03ld %-8s", (long)ts.tv_sec % 1000, ts.tv_nsec / 1000000, fz_op_names[op]);
	for (unsigned int c = 0; c < GPU_NR_CHANNELS; c++) {
		for (unsigned int i = 0; i < FZ_RING; i++) {
			const struct gpu_cmd *e = fz_slot(c, i);
			uint32_t st = __atomic_load_n(&e->status, __ATOMIC_ACQUIRE);

			if (!(st & GPU_CMD_DONE) || fz.traced[c][i] == e->seq)
				continue;
			fz.traced[c][i] = e->seq;
			fprintf(stderr, " [ch%u #%u op 0x%02x: sc 0x%x]", c, i, e->opcode,
				GPU_CMD_SC(st));
		}
	}
	fprintf(stderr, " pending 0x%x put %u", rd32(GPU_REG_FAULT_PENDING),
		rd32(GPU_REG_FAULT_PUT));
	if (errors != fz.errors)
		fprintf(stderr, " errors +%u (last code %u info 0x%llx)", errors - fz.errors,
			rd32(GPU_REG_ERROR_CODE), (unsigned long long)rd64(GPU_REG_ERROR_INFO));
	fz.errors = errors;
	fputc('\n', stderr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { .p = data, .left = size };

	if (!fz.up) {
		fz_quiet();
		fz.trace = getenv("FUZZ_GPU_TRACE") != NULL;
		fz_bring_up();
	}
	fz.passes_left = FZ_PASSES;
	if (fz.trace) {
		/* What the reset before this input ran is not the input's. */
		for (unsigned int c = 0; c < GPU_NR_CHANNELS; c++)
			for (unsigned int i = 0; i < FZ_RING; i++)
				fz.traced[c][i] = fz_slot(c, i)->seq;
		fz.errors = rd32(GPU_REG_ERROR_COUNT);
	}
	while (in.left) {
		unsigned int op = fz_u8(&in) % FZ_NR_OPS;

		switch (op) {
		case FZ_CMD:
			fz_cmd(&in);
			break;
		case FZ_REG_WR:
			fz_reg_wr(&in);
			break;
		case FZ_REG_RD:
			fz_reg_rd(&in);
			break;
		case FZ_BUF:
			fz_buf(&in);
			break;
		case FZ_PTES:
			fz_ptes(&in);
			break;
		case FZ_STEP:
			fz_step(fz_u8(&in));
			break;
		case FZ_DOORBELL:
			fz_doorbell(&in);
			break;
		case FZ_FAULT:
			fz_fault(&in);
			break;
		case FZ_SERVICE:
			fz_service(&in);
			break;
		case FZ_RESET:
			fz_reset();
			break;
		}
		if (fz.trace)
			fz_trace(op);
	}
	fz.passes_left = ~0u;
	fz_reset();
	fz.inputs++;
	return 0;
}
