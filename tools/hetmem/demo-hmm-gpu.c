// SPDX-License-Identifier: MIT
/*
 * hetmem demo: the emulated GPU as the device of the HMM step.
 *
 * The GPU driver (include/hetmem/gpu.h) is bound to the machine's first
 * emulated GPU and mirrors the process: the buffer migrates into its
 * device-private VRAM by its copy engine, and the kernel y = 3x + 1 runs
 * on its compute engine through its MMU, as launches of its built-in
 * kernels on the process's own pointers:
 *
 *   CHECKSUM  buf                   the input as the GPU reads it
 *   SAXPY     y = buf, x = buf, 2   y = 2x + x = 3x, in place
 *   SAXPY     y = chunk, x = ones, 1  per 2 MiB: y = 1 + y
 *   CHECKSUM  buf                   the result as the GPU wrote it
 *
 * The ones come from a FILL launch into a malloc'd block the GPU reaches
 * in system memory (device faults map it in place). The jobs run in
 * launch order; all of them are launched before the first is waited for.
 *
 * The demo already made BAR2 peer-to-peer memory (cli_p2p_add_providers())
 * for its NVMe step, so the driver is bound with no_p2p.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hetmem/err.h>
#include <hetmem/gpu-emu.h>
#include <hetmem/gpu-regs.h>
#include <hetmem/gpu.h>
#include <hetmem/hmm-dmirror.h>
#include <hetmem/pci.h>

#include "demo.h"

#define PAGE	  4096UL
#define ONES_LEN  (2UL << 20) /* the x of the "+ 1" SAXPY, reused per chunk */
#define ONE_BITS  0x3f800000u /* 1.0f */
#define TWO_BITS  0x40000000u /* 2.0f: y = 2x + y with y = x is 3x */
#define SUM_IN	  0
#define SUM_OUT	  1
#define SUM_SLOTS 2

struct gpu_dev {
	struct gpu_host *gpu;
	struct dmirror *mirror;
	struct pci_dev *pdev;
	float *ones;
	uint64_t *sums; /* SUM_SLOTS results of the checksum kernel */
	uint64_t device_faults; /* as the jobs counted them */
	unsigned int jobs;
	struct gpu_host_stats open_st;
};

/* The machine's first function with an emulated GPU behind it, or NULL. */
static struct pci_dev *first_gpu(const struct demo *d)
{
	for (size_t i = 0; i < d->nr_dev; i++)
		if (gpu_emu_from_pdev(d->dev[i]))
			return d->dev[i];
	return NULL;
}

static void gd_close(void *priv)
{
	struct gpu_dev *g = priv;

	if (!g)
		return;
	if (g->mirror)
		dmirror_close(g->mirror);
	if (g->gpu)
		gpu_host_remove(g->gpu);
	free(g->ones);
	free(g->sums);
	free(g);
}

static void *gd_open(struct demo *d)
{
	const struct gpu_host_opts opts = { .size = sizeof(opts), .no_p2p = 1 };
	struct gpu_dev *g = calloc(1, sizeof(*g));
	void *ones = NULL, *sums = NULL;
	void *err;

	if (!g || posix_memalign(&ones, PAGE, ONES_LEN) || posix_memalign(&sums, PAGE, PAGE)) {
		free(ones);
		free(g);
		return ERR_PTR(-ENOMEM);
	}
	g->ones = ones;
	g->sums = sums;
	g->pdev = first_gpu(d);
	if (!g->pdev) {
		gd_close(g);
		return ERR_PTR(-ENODEV);
	}
	g->gpu = gpu_host_probe(g->pdev, &opts);
	if (IS_ERR(g->gpu)) {
		err = g->gpu;
		g->gpu = NULL;
		gd_close(g);
		return err;
	}
	g->mirror = dmirror_open(gpu_host_dmirror(g->gpu));
	if (IS_ERR(g->mirror)) {
		err = g->mirror;
		g->mirror = NULL;
		gd_close(g);
		return err;
	}
	gpu_host_stats(g->gpu, &g->open_st);
	printf("  bound the GPU driver to %s (device-private VRAM, BAR2 left to the demo's "
	       "p2pmem)\n",
	       pci_dev_label(g->pdev));
	return g;
}

static int gd_migrate(void *priv, void *buf, size_t len, uint64_t *pages)
{
	struct gpu_dev *g = priv;
	long n = gpu_migrate(g->mirror, buf, len, 1);

	if (n < 0)
		return (int)n;
	*pages = (uint64_t)n;
	return 0;
}

/*
 * Launch a kernel whose VA operands are pointers of this process; on
 * success the job goes to @job[*@n] and *@n grows.
 */
static int launch(struct gpu_dev *g, struct gpu_job **job, unsigned int *n, unsigned int kernel,
		  const uint64_t *args, unsigned int nargs)
{
	int ret = gpu_launch(g->gpu, g->mirror, kernel, args, nargs, &job[*n]);

	if (!ret) {
		++*n;
		g->jobs++;
	}
	return ret;
}

static uint64_t va(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

/* Every job launched, waited for in order; the first error is the result. */
static int wait_all(struct gpu_dev *g, struct gpu_job **job, unsigned int n)
{
	int ret = 0;

	for (unsigned int i = 0; i < n; i++) {
		unsigned long faults = 0;
		int r = gpu_job_wait(job[i], &faults);

		g->device_faults += faults;
		if (r && !ret)
			ret = r;
	}
	return ret;
}

static int gd_kernel(void *priv, void *buf, size_t len, uint64_t *in_sum, uint64_t *out_sum)
{
	struct gpu_dev *g = priv;
	size_t chunks = (len + ONES_LEN - 1) / ONES_LEN;
	struct gpu_job **job = calloc(chunks + 4, sizeof(*job));
	unsigned int n = 0;
	int ret, wret;

	if (!job)
		return -ENOMEM;
	g->sums[SUM_IN] = g->sums[SUM_OUT] = 0;
	ret = launch(g, job, &n, GPU_KERNEL_FILL,
		     (uint64_t[]){ va(g->ones), ONES_LEN / 4, ONE_BITS }, 3);
	if (!ret)
		ret = launch(g, job, &n, GPU_KERNEL_CHECKSUM,
			     (uint64_t[]){ va(buf), len, va(&g->sums[SUM_IN]) }, 3);
	if (!ret)
		ret = launch(g, job, &n, GPU_KERNEL_SAXPY,
			     (uint64_t[]){ va(buf), va(buf), len / 4, TWO_BITS }, 4);
	for (size_t off = 0; off < len && !ret; off += ONES_LEN) {
		size_t part = len - off < ONES_LEN ? len - off : ONES_LEN;

		ret = launch(g, job, &n, GPU_KERNEL_SAXPY,
			     (uint64_t[]){ va((char *)buf + off), va(g->ones), part / 4, ONE_BITS },
			     4);
	}
	if (!ret)
		ret = launch(g, job, &n, GPU_KERNEL_CHECKSUM,
			     (uint64_t[]){ va(buf), len, va(&g->sums[SUM_OUT]) }, 3);
	wret = wait_all(g, job, n);
	free(job);
	if (!ret)
		ret = wret;
	if (ret)
		return ret;
	*in_sum = g->sums[SUM_IN];
	*out_sum = g->sums[SUM_OUT];
	return 0;
}

static long gd_resident(void *priv, void *buf, size_t len)
{
	struct gpu_dev *g = priv;
	unsigned char *prot = malloc(len / PAGE);
	struct hmm_dmirror_cmd cmd = {
		.addr = va(buf),
		.ptr = va(prot),
		.npages = len / PAGE,
	};
	long n = 0;
	int ret;

	if (!prot)
		return -ENOMEM;
	ret = dmirror_snapshot(g->mirror, &cmd);
	for (size_t i = 0; !ret && i < len / PAGE; i++)
		n += (prot[i] & 0xf0) == HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL;
	free(prot);
	return ret ? ret : n;
}

static void gd_stats(void *priv, struct demo_hmm_stats *s)
{
	struct gpu_dev *g = priv;
	struct dmirror_counters c;
	struct gpu_host_stats st;

	gpu_host_stats(g->gpu, &st);
	dmirror_device_counters(gpu_host_dmirror(g->gpu), &c);
	s->device_faults = st.faults - g->open_st.faults;
	s->cpu_faults = c.cpu_faults;
	s->prefetched = c.prefetched;
}

static void gd_report(void *priv)
{
	struct gpu_dev *g = priv;
	const struct gpu_host_stats *o = &g->open_st;
	struct gpu_host_stats st;

	gpu_host_stats(g->gpu, &st);
	printf("  GPU driver      %u kernel launches, %lu commands; %lu device faults in %lu "
	       "batches,\n"
	       "                  %lu serviced, %lu cancelled, %.1f ms servicing; %lu PTEs written;"
	       " %lu pages evicted\n",
	       g->jobs, st.commands - o->commands, st.faults - o->faults,
	       st.fault_batches - o->fault_batches, st.faults_serviced - o->faults_serviced,
	       st.faults_cancelled - o->faults_cancelled,
	       (double)(st.service_ns - o->service_ns) / 1e6, st.pages_mapped - o->pages_mapped,
	       st.evicted - o->evicted);
}

const struct demo_hmm_device demo_hmm_gpu = {
	.name = "the emulated GPU, its driver bound",
	.note = "compute engine through the GPU MMU: CHECKSUM, SAXPY y = 2x + y in place, "
		"SAXPY y = 1 + y per 2 MiB, CHECKSUM",
	.open = gd_open,
	.close = gd_close,
	.migrate = gd_migrate,
	.kernel = gd_kernel,
	.resident = gd_resident,
	.stats = gd_stats,
	.report = gd_report,
};
