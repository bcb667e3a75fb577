// SPDX-License-Identifier: MIT
/*
 * Kernel launches: an application runs one of the GPU's built-in kernels
 * on its own memory, through a mirror's address space.
 *
 * A job is one GPU_OP_LAUNCH on the compute channel. Its operands are the
 * process's own pointers (GPU VA == process VA); whatever the kernel
 * touches that the GPU MMU lacks faults and is serviced by policy while
 * the kernel waits (fault.c), so a kernel may run on memory in VRAM, in
 * system memory or partly in both.
 */
#define pr_fmt(fmt) "gpu-host: " fmt

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <hetmem/gpu.h>
#include "host.h"

struct gpu_job {
	struct gpu_host *gpu;
	struct gpu_submit s;
};

static bool known_kernel(unsigned int kernel)
{
	switch (kernel) {
	case GPU_KERNEL_FILL:
	case GPU_KERNEL_COPY:
	case GPU_KERNEL_CHECKSUM:
	case GPU_KERNEL_SAXPY:
	case GPU_KERNEL_ATOMIC_ADD:
		return true;
	default:
		return false;
	}
}

int gpu_launch(struct gpu_host *gpu, struct dmirror *mirror, unsigned int kernel,
	       const uint64_t *args, unsigned int nargs, struct gpu_job **job)
{
	struct gpu_channel *ch;
	struct gpu_mirror *m;
	struct gpu_job *j;

	if (!gpu || !mirror || !job || mirror->mdevice != &gpu->mdevice || !known_kernel(kernel) ||
	    nargs > 5 || (nargs && !args))
		return -EINVAL;
	if (__atomic_load_n(&gpu->dead, __ATOMIC_ACQUIRE))
		return -ENODEV;
	m = mirror->priv;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->gpu = gpu;
	ch = &gpu->ch[GPU_CH_COMPUTE];
	/* The slot points at j->s until the result is taken: j stays put. */
	gpu_ch_reserve(ch, &j->s);
	j->s.cmd->opcode = GPU_OP_LAUNCH;
	j->s.cmd->asid = (uint16_t)m->asid;
	j->s.cmd->arg[0] = kernel;
	for (unsigned int i = 0; i < nargs; i++)
		j->s.cmd->arg[1 + i] = args[i];
	j->s.opcode = GPU_OP_LAUNCH;
	gpu_ch_commit(ch, &j->s);
	*job = j;
	return 0;
}

int gpu_job_wait(struct gpu_job *job, unsigned long *faults)
{
	int ret;

	if (!job)
		return -EINVAL;
	ret = gpu_ch_wait(&job->gpu->ch[GPU_CH_COMPUTE], &job->s, faults);
	free(job);
	return ret;
}

int gpu_run(struct gpu_host *gpu, struct dmirror *mirror, unsigned int kernel,
	    const uint64_t *args, unsigned int nargs)
{
	struct gpu_job *job;
	int ret = gpu_launch(gpu, mirror, kernel, args, nargs, &job);

	return ret ? ret : gpu_job_wait(job, NULL);
}
