/* SPDX-License-Identifier: MIT */
/*
 * Step mode of the emulated GPU. Internal to hetmem (tests and fuzzers
 * link the static library); not part of libhetmem.so.
 *
 * A GPU in step mode has no channel threads: the caller runs the
 * channels' work itself with gpu_emu_run_steps() after its register and
 * doorbell writes. Everything then happens on one thread, in an order the
 * caller decides, and nothing ever has to be waited for: a command the
 * device completes has its status word in memory when gpu_emu_run_steps()
 * returns, and one it does not (stalled on a fault, behind a stopped
 * ring) will not complete until something changes. Register writes that
 * the threads carry out (disable, reset) are done at once. The fuzzer and
 * the regression tests of its findings run this way.
 *
 * A GPU not in step mode pays nothing for it: step mode adds no check to
 * any path the channel threads or the BAR handlers take.
 */
#ifndef HETMEM_GPU_EMU_STEP_H
#define HETMEM_GPU_EMU_STEP_H

struct gpu_emu;

/**
 * gpu_emu_step_mode - stop the channel threads; the caller steps the GPU
 * @emu: the GPU, started or not
 *
 * Waits for each channel thread to finish its pass and stops it; STATUS
 * reads READY. From then on the GPU works only inside
 * gpu_emu_run_steps(), and gpu_emu_start() refuses it. gpu_emu_destroy()
 * works as before.
 *
 * Return: 0.
 */
int gpu_emu_step_mode(struct gpu_emu *emu);

/**
 * gpu_emu_run_steps - run the GPU's work on this thread
 * @emu: a GPU in step mode
 * @max_passes: passes at most (0: no limit of the caller's; a GPU that is
 *		still busy after GPU_EMU_STEP_MAX_PASSES stops there)
 *
 * A pass gives every channel its turn: its requests, replay or cancel,
 * faults waiting for room in the fault buffer, then up to 64 steps of its
 * commands, then the interrupts. Passes go on until one finds nothing to
 * do or @max_passes have run. Its DMA is the device's own, as on a channel
 * thread: BAR0 writes it makes are dropped as guest errors. Registers must
 * not be written concurrently with it.
 *
 * Return: the passes that did work (0 when there was none; @max_passes
 * when the GPU may still have work), or -EINVAL when @emu is not in step
 * mode.
 */
int gpu_emu_run_steps(struct gpu_emu *emu, unsigned int max_passes);

#define GPU_EMU_STEP_MAX_PASSES 100000u

#endif /* HETMEM_GPU_EMU_STEP_H */
