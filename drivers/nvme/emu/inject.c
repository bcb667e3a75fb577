// SPDX-License-Identifier: MIT
/*
 * Test hooks of the emulated NVMe controller (inject.h): injected faults
 * and step mode.
 *
 * The fault is kept in a small structure allocated the first time a test
 * arms one, under its own mutex: the test arms and clears it from its
 * thread while the controller thread consults it. The controller looks
 * only when @inject_armed says a fault is armed (a relaxed load, per
 * command fetched), so a controller nobody injects into takes no lock and
 * makes no call. The hooks sit where a real controller could fail:
 *
 *   nvme_emu_execute() (cmd.c)   before a fetched command runs: DROP,
 *                                FATAL and STATUS act here; STRAY_DMA
 *                                marks the command
 *   nvme_emu_sg_xfer() (dptr.c)  the marked command's data goes to the
 *                                stray address
 *
 * Every fault that hits is logged as a warning naming the controller, the
 * SQ, the command and what was done to it, so a test log shows cause and
 * effect side by side.
 */
#define pr_fmt(fmt) "nvme-emu: " fmt

#include <errno.h>
#include <stdlib.h>

#include <hetmem/log.h>
#include "emu.h"
#include "inject.h"

/* Passes of nvme_emu_step() before it gives up on a controller that never idles. */
#define STEP_MAX_PASSES 100000

struct nvme_emu_inject {
	pthread_mutex_t lock;
	struct nvme_emu_fault fault; /* type 0: none armed */
	unsigned int seen; /* matching commands since armed */
	unsigned long hits;
};

static const char *const fault_name[] = {
	[NVME_EMU_FAULT_DROP] = "dropped",
	[NVME_EMU_FAULT_FATAL] = "controller fatal status",
	[NVME_EMU_FAULT_STRAY_DMA] = "data sent to a stray address",
	[NVME_EMU_FAULT_STATUS] = "completed with an injected status",
};

/* The structure, allocated on first use; NULL when out of memory. */
static struct nvme_emu_inject *inject_get(struct nvme_emu *emu)
{
	struct nvme_emu_inject *inj = __atomic_load_n(&emu->inject, __ATOMIC_ACQUIRE), *old = NULL;

	if (inj)
		return inj;
	inj = calloc(1, sizeof(*inj));
	if (!inj)
		return NULL;
	pthread_mutex_init(&inj->lock, NULL);
	/* Two tests arming at once: one structure wins, the other is freed. */
	if (!__atomic_compare_exchange_n(&emu->inject, &old, inj, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		pthread_mutex_destroy(&inj->lock);
		free(inj);
		return old;
	}
	return inj;
}

int nvme_emu_inject(struct nvme_emu *emu, const struct nvme_emu_fault *fault)
{
	struct nvme_emu_inject *inj;

	if (!fault || fault->type < NVME_EMU_FAULT_DROP || fault->type > NVME_EMU_FAULT_STATUS)
		return -EINVAL;
	if (fault->sqid != NVME_EMU_FAULT_ANY_IO_SQ &&
	    (fault->sqid < 0 || (unsigned int)fault->sqid >= emu->nr_queues))
		return -EINVAL;
	if (fault->opcode != NVME_EMU_FAULT_ANY_OPCODE &&
	    (fault->opcode < 0 || fault->opcode > 255))
		return -EINVAL;
	if ((fault->type == NVME_EMU_FAULT_STATUS && !fault->status) ||
	    (fault->type == NVME_EMU_FAULT_STRAY_DMA && !fault->stray_addr))
		return -EINVAL;
	inj = inject_get(emu);
	if (!inj)
		return -ENOMEM;
	pthread_mutex_lock(&inj->lock);
	inj->fault = *fault;
	inj->seen = 0;
	__atomic_store_n(&emu->inject_armed, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&inj->lock);
	pr_info("%s: fault armed: %s, SQ %d, opcode %d, after %u, for %u%s", emu->name,
		fault_name[fault->type], fault->sqid, fault->opcode, fault->skip, fault->count,
		fault->count ? "" : " (all)");
	return 0;
}

void nvme_emu_inject_clear(struct nvme_emu *emu)
{
	struct nvme_emu_inject *inj = __atomic_load_n(&emu->inject, __ATOMIC_ACQUIRE);

	if (!inj)
		return;
	pthread_mutex_lock(&inj->lock);
	inj->fault.type = 0;
	__atomic_store_n(&emu->inject_armed, 0, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&inj->lock);
}

unsigned long nvme_emu_inject_hits(struct nvme_emu *emu)
{
	struct nvme_emu_inject *inj = __atomic_load_n(&emu->inject, __ATOMIC_ACQUIRE);
	unsigned long hits;

	if (!inj)
		return 0;
	pthread_mutex_lock(&inj->lock);
	hits = inj->hits;
	pthread_mutex_unlock(&inj->lock);
	return hits;
}

/**
 * nvme_emu_inject_free - free the injection state (controller teardown)
 * @emu: the controller, its thread stopped
 */
void nvme_emu_inject_free(struct nvme_emu *emu)
{
	struct nvme_emu_inject *inj = emu->inject;

	if (!inj)
		return;
	pthread_mutex_destroy(&inj->lock);
	free(inj);
	emu->inject = NULL;
}

static bool matches(const struct nvme_emu_fault *f, const struct nvme_emu_req *req)
{
	if (!f->type)
		return false;
	if (f->sqid == NVME_EMU_FAULT_ANY_IO_SQ ? req->admin : f->sqid != req->sq->qid)
		return false;
	return f->opcode == NVME_EMU_FAULT_ANY_OPCODE || f->opcode == req->cmd.opcode;
}

/*
 * Decide under the lock whether the armed fault hits @req; a fault whose
 * count is used up disarms itself.
 */
static bool take_hit(struct nvme_emu *emu, struct nvme_emu_inject *inj,
		     const struct nvme_emu_req *req, struct nvme_emu_fault *out)
{
	bool hit = false;

	pthread_mutex_lock(&inj->lock);
	if (matches(&inj->fault, req) && inj->seen++ >= inj->fault.skip) {
		hit = true;
		inj->hits++;
		*out = inj->fault;
		if (inj->fault.count && inj->seen - inj->fault.skip >= inj->fault.count) {
			inj->fault.type = 0;
			__atomic_store_n(&emu->inject_armed, 0, __ATOMIC_RELAXED);
		}
	}
	pthread_mutex_unlock(&inj->lock);
	return hit;
}

/**
 * nvme_emu_inject_cmd - let an armed fault act on a fetched command
 * @emu: the controller (its thread)
 * @req: the command, about to run
 *
 * Return: true when the fault took the command (dropped, completed, or the
 * controller went fatal): the caller does nothing more with it; false when
 * it runs, possibly marked for a stray DMA.
 */
bool nvme_emu_inject_cmd(struct nvme_emu *emu, struct nvme_emu_req *req)
{
	struct nvme_emu_inject *inj = __atomic_load_n(&emu->inject, __ATOMIC_ACQUIRE);
	struct nvme_emu_fault f;

	if (!inj || !take_hit(emu, inj, req, &f))
		return false;
	pr_warn("%s: injected fault: SQ %u CID %u (opcode 0x%02x): %s", emu->name, req->sq->qid,
		nvme_emu_cid(req), req->cmd.opcode, fault_name[f.type]);
	switch (f.type) {
	case NVME_EMU_FAULT_DROP:
		return true;
	case NVME_EMU_FAULT_FATAL:
		nvme_emu_go_fatal(emu);
		return true;
	case NVME_EMU_FAULT_STATUS:
		nvme_emu_complete(emu, req->sq, nvme_emu_cid(req), f.status, 0, req);
		return true;
	case NVME_EMU_FAULT_STRAY_DMA:
		req->stray = true;
		req->stray_addr = f.stray_addr;
		return false;
	}
	return false;
}

/* --- step mode --------------------------------------------------------------------- */

int nvme_emu_step_mode(struct nvme_emu *emu)
{
	nvme_emu_stop_thread(emu);
	emu->stepped = true;
	return 0;
}

int nvme_emu_step(struct nvme_emu *emu)
{
	int passes = 0;

	if (!emu->stepped)
		return -EINVAL;
	while (passes < STEP_MAX_PASSES && nvme_emu_run_once(emu))
		passes++;
	if (passes == STEP_MAX_PASSES)
		pr_warn("%s: step: still busy after %d passes", emu->name, passes);
	return passes;
}
