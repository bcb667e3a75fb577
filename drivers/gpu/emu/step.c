// SPDX-License-Identifier: MIT
/*
 * Step mode (step.h): the channels' work, run on the caller's thread in
 * passes, with no channel thread. Requests (disable, reset) find no
 * thread started and are carried out by the register write itself
 * (gpu_emu_request()), so a step never waits for anything.
 */
#define pr_fmt(fmt) "gpu-emu: " fmt

#include <errno.h>

#include <hetmem/log.h>
#include "emu.h"
#include "step.h"

int gpu_emu_step_mode(struct gpu_emu *emu)
{
	if (emu->started) {
		gpu_emu_stop_threads(emu);
		__atomic_store_n(&emu->stop, 0, __ATOMIC_SEQ_CST);
		emu->started = false;
	}
	emu->stepped = true;
	__atomic_or_fetch(&emu->status, GPU_STS_READY, __ATOMIC_SEQ_CST);
	return 0;
}

int gpu_emu_run_steps(struct gpu_emu *emu, unsigned int max_passes)
{
	unsigned int passes = 0, limit = max_passes ? max_passes : GPU_EMU_STEP_MAX_PASSES;
	bool work = true;

	if (!emu->stepped)
		return -EINVAL;
	gpu_emu_set_device_thread(emu);
	while (work && passes < limit) {
		work = false;
		for (unsigned int c = 0; c < GPU_NR_CHANNELS; c++)
			work |= gpu_emu_run_once(emu, &emu->ch[c]);
		passes += work;
	}
	gpu_emu_set_device_thread(NULL);
	if (work && !max_passes)
		pr_warn("%s: step: still busy after %u passes", emu->name, passes);
	return (int)passes;
}
