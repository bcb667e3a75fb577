/* SPDX-License-Identifier: MIT */
/*
 * Test hooks of the emulated NVMe controller: fault injection and a
 * synchronous step mode. Internal to hetmem (tests and fuzzers link the
 * static library); not part of libhetmem.so.
 *
 * Fault injection makes the controller misbehave the way failing hardware
 * does, at a command the test chooses: it loses the command, goes fatal
 * (CSTS.CFS) as it fetches it, sends the command's data to a wrong bus
 * address, or completes it with a status of the test's choosing. A fault
 * is armed per controller; an unarmed controller pays one relaxed load per
 * command fetched.
 *
 * Step mode takes the controller thread away: the caller runs the
 * controller's work itself with nvme_emu_step() after its register and
 * doorbell writes. Everything then happens on one thread, in an order the
 * caller decides, and nothing ever has to be waited for: a command the
 * controller completes has its CQE in memory when nvme_emu_step() returns,
 * and one it does not (an Asynchronous Event Request) never will until
 * something changes. The fuzzer runs this way.
 */
#ifndef HETMEM_NVME_EMU_INJECT_H
#define HETMEM_NVME_EMU_INJECT_H

#include <stdint.h>

struct nvme_emu;

/**
 * enum nvme_emu_fault_type - what an injected fault does to a command
 * @NVME_EMU_FAULT_DROP: the command is fetched and never completed, as if
 *	the controller lost it; the driver sees it time out. An Abort
 *	cannot find it either (it is no longer in its SQ).
 * @NVME_EMU_FAULT_FATAL: the controller sets CSTS.CFS as it fetches the
 *	command and stops: no command after it is executed or completed,
 *	and nothing completes until a reset (CC.EN 1 -> 0). Commands fetched
 *	before it in the same burst have completed.
 * @NVME_EMU_FAULT_STRAY_DMA: the command runs, but its data moves to or
 *	from @stray_addr (plus the offset within the data) instead of the
 *	addresses its data pointer gives, as a controller with a corrupted
 *	address would. The fabric routes it like any DMA: the IOMMU blocks
 *	an address not mapped for the controller, and the command then
 *	completes with Data Transfer Error.
 * @NVME_EMU_FAULT_STATUS: the command is not executed and completes with
 *	@status (a media error, say).
 */
enum nvme_emu_fault_type {
	NVME_EMU_FAULT_DROP = 1,
	NVME_EMU_FAULT_FATAL,
	NVME_EMU_FAULT_STRAY_DMA,
	NVME_EMU_FAULT_STATUS,
};

/* nvme_emu_fault.sqid: any I/O submission queue (QID 1 and up). */
#define NVME_EMU_FAULT_ANY_IO_SQ -1
/* nvme_emu_fault.opcode: any opcode. */
#define NVME_EMU_FAULT_ANY_OPCODE -1

/**
 * struct nvme_emu_fault - a fault to inject
 * @type: what happens to a command it hits
 * @sqid: the submission queue whose commands it hits (0: the admin queue),
 *	  or NVME_EMU_FAULT_ANY_IO_SQ
 * @opcode: the opcode it hits, or NVME_EMU_FAULT_ANY_OPCODE
 * @skip: matching commands let through unharmed first
 * @count: matching commands hit after those, 0 for every one until the
 *	   fault is cleared
 * @status: NVME_EMU_FAULT_STATUS: the status field (without the phase
 *	    tag; NVME_SC_DNR may be set), not 0
 * @stray_addr: NVME_EMU_FAULT_STRAY_DMA: where the data goes instead
 */
struct nvme_emu_fault {
	enum nvme_emu_fault_type type;
	int sqid;
	int opcode;
	unsigned int skip;
	unsigned int count;
	uint16_t status;
	uint64_t stray_addr;
};

/**
 * nvme_emu_inject - arm a fault on a controller
 * @emu: the controller
 * @fault: the fault; replaces one armed before
 *
 * Takes effect with the next command the controller fetches. May be called
 * from any thread while the controller runs.
 *
 * Return: 0; -EINVAL for an unknown type, an SQ ID outside the
 * controller's queues, an opcode above 255, a STATUS fault with status 0
 * or a STRAY_DMA fault without an address; -ENOMEM.
 */
int nvme_emu_inject(struct nvme_emu *emu, const struct nvme_emu_fault *fault);

/**
 * nvme_emu_inject_clear - disarm the fault of a controller
 * @emu: the controller
 *
 * Commands fetched from now on run normally; a dropped command stays
 * dropped and a fatal status stays until the driver resets the
 * controller.
 */
void nvme_emu_inject_clear(struct nvme_emu *emu);

/**
 * nvme_emu_inject_hits - how many commands the faults armed so far hit
 * @emu: the controller
 *
 * Return: the count since the controller was created (commands the
 * fault let through with @skip are not counted).
 */
unsigned long nvme_emu_inject_hits(struct nvme_emu *emu);

/**
 * nvme_emu_step_mode - stop the controller thread; the caller steps it
 * @emu: the controller, started or not
 *
 * Waits for the thread to finish what it is doing and stops it. From then
 * on the controller works only inside nvme_emu_step(). nvme_emu_destroy()
 * works as before.
 *
 * Return: 0.
 */
int nvme_emu_step_mode(struct nvme_emu *emu);

/**
 * nvme_emu_step - do all the controller work there is, on this thread
 * @emu: a controller in step mode
 *
 * Serves CC changes, fetches and executes every command the SQ tail
 * doorbells announce (while the CQs have room), posts asynchronous events
 * and signals interrupts, until a pass finds nothing to do. Registers and
 * doorbells must not be written concurrently.
 *
 * Return: the number of passes that did work (0 when there was none), or
 * -EINVAL when @emu is not in step mode.
 */
int nvme_emu_step(struct nvme_emu *emu);

#endif /* HETMEM_NVME_EMU_INJECT_H */
