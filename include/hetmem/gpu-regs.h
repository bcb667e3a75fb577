/* SPDX-License-Identifier: MIT */
/*
 * The emulated GPU's programming interface, as data: BAR0 registers,
 * command ring entries, fault buffer entries, page table entries, opcodes,
 * kernel ids and status codes. Shared by the device model
 * (drivers/gpu/emu) and its driver (drivers/gpu/host). All multi-byte
 * fields are little-endian. Documentation/gpu.md tells the same story in
 * prose.
 *
 * The function
 * ------------
 * Class 030200 (3D controller), vendor 4854, device 0002. BAR0 is 16 MiB
 * of 64-bit registers (only the first pages decode to anything). BAR2 is
 * a 64-bit prefetchable memory window onto VRAM [0, GPU_REG_VRAM_VISIBLE):
 * the CPU and peers read and write those bytes directly, so BAR2 is what a
 * P2PDMA provider exposes. VRAM [GPU_REG_VRAM_VISIBLE, GPU_REG_VRAM_SIZE)
 * is device-private: no BAR shows it, only the device's engines reach it.
 *
 * Device addresses
 * ----------------
 * Commands name memory in one of three apertures (enum gpu_aperture):
 *  - VRAM:   an offset into VRAM, 0 .. GPU_REG_VRAM_SIZE - 1;
 *  - SYSTEM: a bus address, sent out as a DMA through the fabric, so the
 *	      IOMMU translates it and every link on the way counts it. It may
 *	      name host memory or a peer's BAR;
 *  - VA:     a GPU virtual address of the command's address space (ASID),
 *	      translated by the device MMU. GPU VA == process VA: below
 *	      1 << GPU_VA_BITS.
 *
 * Device-private pages
 * --------------------
 * The device gives no CPU pointer into VRAM beyond BAR2. A driver that
 * makes struct pages for [VRAM_VISIBLE, VRAM_SIZE) with a
 * MEMORY_DEVICE_PRIVATE page map backs that map with pfn space from
 * request_free_mem_region(): an address range nothing decodes, which the
 * driver never dereferences. Page i of the map stands for VRAM offset
 * VRAM_VISIBLE + i * GPU_PAGE_SIZE; its data moves only with copy-engine
 * commands (GPU_OP_COPY with the VRAM aperture) and the MMU maps it with
 * VRAM PTEs.
 *
 * Channels and the command ring
 * -----------------------------
 * The device has GPU_NR_CHANNELS independent channels. Each has a ring of
 * 64-byte entries (struct gpu_cmd) in system memory at a bus address, a
 * HEAD register (next entry to run) and a TAIL doorbell (one past the last
 * entry the driver wrote). Each channel has an engine thread of its own
 * and runs its commands in ring order, one at a time; channels progress
 * independently of each other, so a channel stalled on a page fault, or
 * whose DMA is slow to complete, does not hold up the others. A driver
 * keeps its page-table and migration commands on channels of their own so
 * that servicing a fault never waits behind the faulting command.
 *
 * Completion: the device writes the entry's @status word
 * (GPU_CMD_DONE | status code) in place, then the entry's @seq to the
 * channel's fence address (when one is set), updates GPU_CH_FENCE, advances
 * HEAD past the entry, and, if the entry asked for it (GPU_CMD_F_IRQ),
 * raises interrupt vector GPU_IRQ_CMD. A driver may poll the status word,
 * the fence in memory or the FENCE register; all three are ordered.
 *
 * The MMU
 * -------
 * One page table per ASID (0 .. GPU_REG_NR_ASIDS - 1), 4 KiB pages, held in
 * device-internal memory (not in VRAM, not in system memory): the driver
 * changes them only with commands (GPU_OP_PTE_WRITE DMA-reads an array of
 * PTEs from system memory, GPU_OP_PTE_SET writes a run of computed PTEs)
 * and reads them back with GPU_OP_PTE_READ. A PTE command takes effect for
 * every engine access that starts after it completes. GPU_OP_TLB_INVALIDATE
 * completes only once no access of another channel that used an old
 * translation of the range is still in flight, so after it the driver may
 * free the old pages. A channel stalled on a page fault made no access:
 * it holds up no invalidation.
 *
 * Page faults
 * -----------
 * An engine access through the MMU to a page whose PTE is not valid, not
 * writable (for a write) or not atomic (for an atomic) faults. The access
 * has not happened. The channel stalls (GPU_REG_FAULT_PENDING has its bit),
 * and one entry per faulting page of the current step is written to the
 * fault buffer, a ring of 32-byte entries (struct gpu_fault_entry) in
 * system memory: the device writes the entry at PUT, advances PUT and
 * raises vector GPU_IRQ_FAULT. The driver reads entries [GET, PUT), writes
 * GET, fixes the page tables, then writes the channel's bit to
 * GPU_REG_FAULT_REPLAY (the command resumes where it stopped; nothing it
 * already did is done twice) or to GPU_REG_FAULT_CANCEL (the command
 * completes with GPU_SC_MMU_FAULT and the channel goes on with the next
 * one). A replay that still faults posts new entries. Faults are never
 * dropped: when the buffer is full the device waits for GET to move. With
 * no fault buffer enabled a fault is not recoverable: the command
 * completes with GPU_SC_MMU_FAULT at once.
 *
 * Access counters
 * ---------------
 * Every engine access through the MMU counts one access on the page it
 * lands on: a VRAM page (by offset) or a system page (by bus address).
 * One access is one engine step touching the page, at most one per page
 * per step (a step never crosses a page of any operand). Counters are
 * 32-bit, saturating. GPU_OP_COUNTERS_READ copies them out (and optionally
 * clears them). With GPU_REG_COUNTER_THRESHOLD nonzero, a counter reaching
 * a multiple of it posts a GPU_FAULT_TYPE_COUNTER entry to the fault
 * buffer (nothing stalls; when the buffer is full the notification is
 * dropped and GPU_REG_COUNTER_DROPPED counts it).
 *
 * Guest errors
 * ------------
 * Nothing the driver writes crashes the device. A bad register access is
 * dropped (reads return 0), and so is any write to BAR0 made by a GPU's
 * own DMA (a fence or fault buffer aimed at registers); a bad command
 * completes with an error status;
 * a DMA the fabric refuses fails the command with GPU_SC_DMA_ERROR. Each
 * is logged, counted in GPU_REG_ERROR_COUNT, and recorded in
 * GPU_REG_ERROR_CODE / GPU_REG_ERROR_INFO.
 */
#ifndef HETMEM_GPU_REGS_H
#define HETMEM_GPU_REGS_H

#include <stdint.h>

#define GPU_VENDOR_ID 0x4854
#define GPU_DEVICE_ID 0x0002
#define GPU_CLASS     0x030200 /* display controller, 3D controller */

#define GPU_BAR_REGS 0 /* BAR0: registers */
#define GPU_BAR_VRAM 2 /* BAR2: the VRAM window */
#define GPU_BAR0_SIZE (16ULL << 20)

#define GPU_ID_MAGIC 0x55504748u /* "HGPU" as little-endian bytes */
#define GPU_VERSION  0x00010000u /* 1.0: major in bits 31:16, minor in 15:0 */

#define GPU_PAGE_SHIFT 12
#define GPU_PAGE_SIZE  (1ULL << GPU_PAGE_SHIFT)
#define GPU_VA_BITS    47 /* GPU VAs are below 1 << 47, as process VAs */

#define GPU_NR_CHANNELS	      4
#define GPU_NR_ASIDS	      256
#define GPU_RING_MIN_ENTRIES  2
#define GPU_RING_MAX_ENTRIES  65536
#define GPU_FAULT_MIN_ENTRIES 2
#define GPU_FAULT_MAX_ENTRIES 65536

/* Interrupt vectors: eventfds from gpu_emu_irq_fd(). */
enum gpu_irq_vector {
	GPU_IRQ_CMD = 0,   /* a command with GPU_CMD_F_IRQ completed, or a channel failed */
	GPU_IRQ_FAULT = 1, /* the fault buffer got entries */
	GPU_NR_VECTORS = 2,
};

/* --- BAR0 registers ---------------------------------------------------------- */

/*
 * Registers take 4-byte accesses, and 64-bit registers also 8-byte ones; a
 * 4-byte access to a 64-bit register reads or writes that half. Any other
 * access, a write to a read-only or undefined register, or a write the
 * register's state forbids is a guest error: dropped, logged, counted.
 * "RW while disabled" registers may only be written while their channel
 * or the fault buffer is disabled.
 */
enum gpu_reg {
	GPU_REG_ID = 0x000,		/* RO 32: GPU_ID_MAGIC */
	GPU_REG_VERSION = 0x004,	/* RO 32: GPU_VERSION */
	GPU_REG_NR_CHANNELS = 0x008,	/* RO 32: GPU_NR_CHANNELS */
	GPU_REG_NR_ASIDS = 0x00c,	/* RO 32: GPU_NR_ASIDS */
	GPU_REG_VRAM_SIZE = 0x010,	/* RO 64: bytes of VRAM */
	GPU_REG_VRAM_VISIBLE = 0x018,	/* RO 64: bytes of VRAM BAR2 shows, from offset 0 */
	GPU_REG_FEATURES = 0x020,	/* RO 32: GPU_FEAT_* */
	GPU_REG_CTRL = 0x040,		/* RW 32: GPU_CTRL_* */
	GPU_REG_STATUS = 0x044,		/* RO 32: GPU_STS_* */
	GPU_REG_ERROR_COUNT = 0x048,	/* RO 32: guest errors so far (wraps) */
	GPU_REG_ERROR_CODE = 0x04c,	/* RO 32: the last one, enum gpu_error */
	GPU_REG_ERROR_INFO = 0x050,	/* RO 64: its detail (register offset, bus address...) */
	GPU_REG_IRQ_MASK = 0x060,	/* RW 32: bit v set: vector v does not signal */
	GPU_REG_IRQ_STATUS = 0x064,	/* RW1C 32: bit v: vector v had an event */

	GPU_REG_FAULT_BASE = 0x100,	/* RW while disabled 64: fault buffer bus address, 32-byte aligned */
	GPU_REG_FAULT_SIZE = 0x108,	/* RW while disabled 32: entries, a power of two */
	GPU_REG_FAULT_CTRL = 0x10c,	/* RW 32: GPU_FAULT_CTRL_ENABLE */
	GPU_REG_FAULT_PUT = 0x110,	/* RO 32: next entry the device writes */
	GPU_REG_FAULT_GET = 0x114,	/* RW 32: next entry the driver reads */
	GPU_REG_FAULT_REPLAY = 0x118,	/* WO 32: channel mask: resume these stalled channels */
	GPU_REG_FAULT_CANCEL = 0x11c,	/* WO 32: channel mask: fail their stalled commands */
	GPU_REG_FAULT_PENDING = 0x120,	/* RO 32: channel mask: stalled on a fault */
	GPU_REG_COUNTER_THRESHOLD = 0x124, /* RW 32: access counter notification step, 0 off */
	GPU_REG_COUNTER_DROPPED = 0x128, /* RO 32: notifications lost to a full buffer */

	GPU_REG_CHANNELS = 0x1000,	/* channel c's block: GPU_CH_REG(c, reg) */
};

#define GPU_CH_STRIDE 0x100
#define GPU_CH_REG(ch, reg) (GPU_REG_CHANNELS + (ch) * GPU_CH_STRIDE + (reg))

/* Registers of one channel, offsets in its block. */
enum gpu_ch_reg {
	GPU_CH_RING_BASE = 0x00,	/* RW while disabled 64: ring bus address, 64-byte aligned */
	GPU_CH_RING_SIZE = 0x08,	/* RW while disabled 32: entries, a power of two */
	GPU_CH_CTRL = 0x0c,		/* RW 32: GPU_CH_CTRL_ENABLE */
	GPU_CH_FENCE_ADDR = 0x10,	/* RW while disabled 64: bus address the device writes
					 * each completed entry's @seq to (8-byte aligned), 0 none */
	GPU_CH_FENCE = 0x18,		/* RO 64: @seq of the last completed entry */
	GPU_CH_HEAD = 0x20,		/* RO 32: next entry to run (it may be running);
					 * every entry before it has completed */
	GPU_CH_TAIL = 0x24,		/* RW 32: doorbell: one past the last entry written */
	GPU_CH_STATUS = 0x28,		/* RO 32: GPU_CH_STS_* */
	GPU_CH_LAST_STATUS = 0x2c,	/* RO 32: status code of the last failed command */
};

#define GPU_FEAT_ATOMICS  (1u << 0) /* 64-bit atomics on VRAM and system pages */
#define GPU_FEAT_COUNTERS (1u << 1) /* access counters and their notifications */

/*
 * CTRL.RESET: disable every channel and the fault buffer, drop every page
 * table and access counter, zero IRQ_STATUS and the error registers. VRAM
 * keeps its contents. STATUS.RESETTING is set until it is done.
 */
#define GPU_CTRL_RESET (1u << 0)

#define GPU_STS_READY	  (1u << 0) /* the device thread runs */
#define GPU_STS_RESETTING (1u << 1) /* a reset is in progress */

#define GPU_FAULT_CTRL_ENABLE (1u << 0) /* enabling sets PUT = GET = 0 */

#define GPU_CH_CTRL_ENABLE (1u << 0) /* enabling sets HEAD = TAIL = 0; disabling
				      * abandons a stalled or queued command */

#define GPU_CH_STS_ENABLED (1u << 0) /* the channel runs */
#define GPU_CH_STS_IDLE	   (1u << 1) /* HEAD == TAIL and nothing in progress */
#define GPU_CH_STS_STALLED (1u << 2) /* waiting for a fault replay or cancel */
#define GPU_CH_STS_ERROR   (1u << 3) /* stopped: a ring fetch failed or TAIL was bad;
				      * disable and enable again to recover */

/* What GPU_REG_ERROR_CODE says about the last guest error. */
enum gpu_error {
	GPU_ERR_NONE = 0,
	GPU_ERR_REG_ACCESS = 1,	 /* bad size or alignment; INFO: offset */
	GPU_ERR_REG_UNDEFINED = 2, /* nothing at that offset, or read-only; INFO: offset */
	GPU_ERR_REG_VALUE = 3,	 /* value out of range; INFO: offset */
	GPU_ERR_REG_BUSY = 4,	 /* written while enabled; INFO: offset */
	GPU_ERR_RING_FETCH = 5,	 /* a ring entry could not be read; INFO: its bus address */
	GPU_ERR_COMPLETION = 6,	 /* a status word or fence could not be written; INFO: address */
	GPU_ERR_FAULT_WRITE = 7, /* a fault entry could not be written; INFO: address */
	GPU_ERR_COMMAND = 8,	 /* a command failed; INFO: channel << 32 | status code */
};

/* --- command ring entries ------------------------------------------------------ */

/**
 * struct gpu_cmd - one command ring entry, 64 bytes
 * @opcode: enum gpu_opcode
 * @flags: GPU_CMD_F_*
 * @asid: address space of VA operands and of the MMU opcodes
 * @status: zero when submitted; the device writes GPU_CMD_DONE | status code
 * @seq: the driver's value, written to the fence address and GPU_CH_FENCE
 *	 when the command completes
 * @arg: operands, per opcode below; unused ones must be zero
 */
struct gpu_cmd {
	uint8_t opcode;
	uint8_t flags;
	uint16_t asid;
	uint32_t status;
	uint64_t seq;
	uint64_t arg[6];
};

#define GPU_CMD_SIZE 64
_Static_assert(sizeof(struct gpu_cmd) == GPU_CMD_SIZE, "a ring entry is 64 bytes");
#define GPU_CMD_STATUS_OFFSET 4 /* where @status is in the entry */

#define GPU_CMD_F_IRQ	(1u << 0) /* raise GPU_IRQ_CMD when done */
#define GPU_CMD_F_KNOWN (GPU_CMD_F_IRQ) /* any other flag: GPU_SC_BAD_FIELD */

#define GPU_CMD_DONE	    (1u << 31)
#define GPU_CMD_SC(status)  ((status) & 0xffffu)

/*
 * Opcodes, with their operands. "VA" operands go through the MMU of @asid,
 * "addr" operands are in the aperture the opcode says.
 */
enum gpu_opcode {
	/* Nothing; completes (fence, interrupt) in ring order. */
	GPU_OP_NOP = 0x00,
	/*
	 * Copy engine. arg[0] destination, arg[1] source, arg[2] bytes (0 is a
	 * no-op), arg[3] apertures: GPU_COPY_DST(ap) | GPU_COPY_SRC(ap). Any
	 * alignment. Overlapping ranges give undefined contents.
	 */
	GPU_OP_COPY = 0x01,
	/*
	 * Compute engine: run built-in kernel arg[0] (enum gpu_kernel) with
	 * operands arg[1..5], all of them GPU VAs of @asid or plain values.
	 */
	GPU_OP_LAUNCH = 0x02,
	/*
	 * arg[0] first VA (page aligned), arg[1] pages (1..GPU_PTE_MAX_COUNT),
	 * arg[2] bus address of arg[1] 8-byte PTEs (8-byte aligned): PTE i maps
	 * arg[0] + i pages. Every PTE is checked before any is written; one
	 * bad PTE fails the command with GPU_SC_BAD_PTE and changes nothing.
	 */
	GPU_OP_PTE_WRITE = 0x10,
	/*
	 * arg[0] first VA (page aligned), arg[1] pages (1..GPU_PTE_MAX_COUNT),
	 * arg[2] the first PTE, arg[3] a page multiple added to the address
	 * field for each next page (0: the same PTE everywhere, e.g. 0 to
	 * unmap). Checked as GPU_OP_PTE_WRITE.
	 */
	GPU_OP_PTE_SET = 0x11,
	/*
	 * arg[0] first VA (page aligned), arg[1] pages (1..GPU_PTE_MAX_COUNT),
	 * arg[2] bus address (8-byte aligned) the device writes the PTEs to.
	 */
	GPU_OP_PTE_READ = 0x12,
	/*
	 * arg[0] first VA (page aligned), arg[1] pages, 0 for all of @asid.
	 * Completes once no engine access using a translation of the range
	 * made before this command is in flight.
	 */
	GPU_OP_TLB_INVALIDATE = 0x13,
	/* Drop every PTE of @asid (as PTE_SET to 0 over all of it, then invalidate). */
	GPU_OP_ASID_RESET = 0x14,
	/*
	 * arg[0] aperture (GPU_APERTURE_VRAM or GPU_APERTURE_SYSTEM), arg[1]
	 * first page address (VRAM offset or bus address, page aligned),
	 * arg[2] pages (1..GPU_PTE_MAX_COUNT), arg[3] bus address (4-byte
	 * aligned) the device writes arg[2] 32-bit counters to, arg[4]
	 * GPU_COUNTERS_* flags.
	 */
	GPU_OP_COUNTERS_READ = 0x20,
	/* Zero every access counter. */
	GPU_OP_COUNTERS_RESET = 0x21,
};

#define GPU_PTE_MAX_COUNT (1u << 20) /* pages one MMU or counter command covers */

/* Apertures of copy-engine operands. */
enum gpu_aperture {
	GPU_APERTURE_VRAM = 0,	 /* VRAM offset */
	GPU_APERTURE_SYSTEM = 1, /* bus address, through the fabric */
	GPU_APERTURE_VA = 2,	 /* GPU VA of the command's ASID, through the MMU */
};

#define GPU_COPY_DST(ap) ((uint64_t)(ap) << 0)
#define GPU_COPY_SRC(ap) ((uint64_t)(ap) << 4)
#define GPU_COPY_DST_AP(a3) ((unsigned int)((a3) & 0xf))
#define GPU_COPY_SRC_AP(a3) ((unsigned int)(((a3) >> 4) & 0xf))

#define GPU_COUNTERS_CLEAR (1u << 0) /* once copied out, take what was copied off the counters
				      * (accesses counted meanwhile stay) */

/*
 * Built-in kernels of GPU_OP_LAUNCH. Element operands must be aligned to
 * their element size; counts of 0 are no-ops (CHECKSUM still writes its
 * result). Each kernel works through its operands in address order, one
 * step per page, and resumes after a fault replay at the step that faulted.
 */
enum gpu_kernel {
	/* arg[1] dst VA, arg[2] count of u32, arg[3] the u32 pattern. */
	GPU_KERNEL_FILL = 1,
	/* arg[1] dst VA, arg[2] src VA, arg[3] bytes. */
	GPU_KERNEL_COPY = 2,
	/*
	 * arg[1] src VA, arg[2] bytes, arg[3] result VA (8-byte aligned): the
	 * 64-bit FNV-1a hash of the bytes (GPU_FNV_OFFSET, then for each byte
	 * h ^= byte, h *= GPU_FNV_PRIME) is written there as a u64.
	 */
	GPU_KERNEL_CHECKSUM = 3,
	/*
	 * arg[1] y VA, arg[2] x VA, arg[3] count of floats, arg[4] bits 31:0
	 * a (IEEE 754 single): y[i] = a * x[i] + y[i], in single precision,
	 * one multiply then one add (no fused multiply-add).
	 */
	GPU_KERNEL_SAXPY = 4,
	/*
	 * arg[1] VA of u64s, arg[2] count, arg[3] addend: each u64 gets
	 * addend added atomically (a fetch-and-add at the memory, as PCIe
	 * FetchAdd). Needs PTEs with GPU_PTE_ATOMIC (and GPU_PTE_WRITE).
	 */
	GPU_KERNEL_ATOMIC_ADD = 5,
};

#define GPU_FNV_OFFSET 0xcbf29ce484222325ULL
#define GPU_FNV_PRIME  0x00000100000001b3ULL

/* Command status codes (GPU_CMD_SC(status)). */
enum gpu_status_code {
	GPU_SC_SUCCESS = 0x0,
	GPU_SC_BAD_OPCODE = 0x1,  /* unknown opcode */
	GPU_SC_BAD_FIELD = 0x2,	  /* flags, reserved operand, alignment, count out of range */
	GPU_SC_BAD_ASID = 0x3,	  /* @asid >= GPU_REG_NR_ASIDS */
	GPU_SC_BAD_KERNEL = 0x4,  /* unknown kernel id */
	GPU_SC_BAD_ADDRESS = 0x5, /* VRAM range beyond VRAM, VA beyond GPU_VA_BITS, wraps */
	GPU_SC_BAD_PTE = 0x6,	  /* reserved bits, VRAM page beyond VRAM, unaligned address */
	GPU_SC_DMA_ERROR = 0x7,	  /* the fabric refused a DMA (IOMMU, nothing there, no BME) */
	GPU_SC_MMU_FAULT = 0x8,	  /* a page fault was cancelled, or no fault buffer is enabled */
	GPU_SC_INTERNAL = 0x9,	  /* the device ran out of its own memory (page tables) */
};

/* --- page table entries -------------------------------------------------------- */

/*
 * A PTE is 64 bits: flags in 11:0, the page's address in 63:12 (a VRAM
 * offset, or a bus address with GPU_PTE_SYSTEM). A PTE without
 * GPU_PTE_VALID must be 0 entirely; bits 11:4 are zero; a VRAM address is
 * below GPU_REG_VRAM_SIZE. Anything else is GPU_SC_BAD_PTE.
 */
#define GPU_PTE_VALID	  (1ULL << 0) /* the page is mapped: reads allowed */
#define GPU_PTE_WRITE	  (1ULL << 1) /* writes allowed */
#define GPU_PTE_ATOMIC	  (1ULL << 2) /* atomics allowed; only with GPU_PTE_WRITE */
#define GPU_PTE_SYSTEM	  (1ULL << 3) /* address is a bus address, else a VRAM offset */
#define GPU_PTE_FLAGS	  (GPU_PTE_VALID | GPU_PTE_WRITE | GPU_PTE_ATOMIC | GPU_PTE_SYSTEM)
#define GPU_PTE_ADDR_MASK (~(GPU_PAGE_SIZE - 1))

#define GPU_PTE_ADDR(pte) ((pte) & GPU_PTE_ADDR_MASK)

/* --- the fault buffer --------------------------------------------------------- */

/**
 * struct gpu_fault_entry - one fault buffer entry, 32 bytes
 * @va: the page (page aligned VA) the access was to
 * @addr: GPU_FAULT_TYPE_COUNTER: the page's VRAM offset or bus address
 *	  (GPU_FAULT_F_SYSTEM); a page fault: the faulting byte's VA
 * @asid: the address space
 * @type: enum gpu_fault_type
 * @access: enum gpu_fault_access, what the access wanted
 * @channel: the channel whose command made the access
 * @engine: enum gpu_engine
 * @reason: enum gpu_fault_reason (page faults)
 * @flags: GPU_FAULT_F_*
 * @count: GPU_FAULT_TYPE_COUNTER: the counter's value
 * @rsvd: zero
 */
struct gpu_fault_entry {
	uint64_t va;
	uint64_t addr;
	uint16_t asid;
	uint8_t type;
	uint8_t access;
	uint8_t channel;
	uint8_t engine;
	uint8_t reason;
	uint8_t flags;
	uint32_t count;
	uint32_t rsvd;
};

#define GPU_FAULT_ENTRY_SIZE 32
_Static_assert(sizeof(struct gpu_fault_entry) == GPU_FAULT_ENTRY_SIZE, "a fault entry is 32 bytes");

enum gpu_fault_type {
	GPU_FAULT_TYPE_PAGE = 1,    /* a page fault: the channel is stalled */
	GPU_FAULT_TYPE_COUNTER = 2, /* an access counter reached its threshold */
};

enum gpu_fault_access {
	GPU_ACCESS_READ = 0,
	GPU_ACCESS_WRITE = 1,
	GPU_ACCESS_ATOMIC = 2,
};

enum gpu_engine {
	GPU_ENGINE_COPY = 1,
	GPU_ENGINE_COMPUTE = 2,
};

enum gpu_fault_reason {
	GPU_FAULT_NOT_PRESENT = 1,   /* no valid PTE */
	GPU_FAULT_WRITE_PROTECT = 2, /* a write, no GPU_PTE_WRITE */
	GPU_FAULT_ATOMIC_PROTECT = 3, /* an atomic, no GPU_PTE_ATOMIC */
};

#define GPU_FAULT_F_VALID  (1u << 0) /* set in every entry the device writes */
#define GPU_FAULT_F_SYSTEM (1u << 1) /* counter entry: @addr is a bus address */

#endif /* HETMEM_GPU_REGS_H */
