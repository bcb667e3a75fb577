// SPDX-License-Identifier: MIT
/*
 * hetmem demo, the device-private memory step: an application's own
 * malloc'd memory goes to a device and comes back.
 *
 * The CPU fills a malloc'd buffer; the device migrates it into its
 * private memory (the CPU's pages are gone: a snapshot of the device's
 * view shows every page device-private); a device kernel runs over it
 * there; then the CPU simply loads from it, each load on a page that is
 * not home faulting, and the fault handler bringing the page back (and,
 * as the faults go in order, prefetching the ones that follow). Every
 * byte must then be what the kernel made of what the CPU wrote.
 *
 * The device is a struct demo_hmm_device: the machine's first emulated
 * GPU with its driver bound, the kernel launched on its compute engine
 * (demo-hmm-gpu.c), or, in builds without the GPU driver, the HMM test
 * device with the CPU computing between its reads and writes
 * (demo-hmm-dmirror.c). Either checksums what it read and what it wrote;
 * the CPU checks both against its own computation.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hetmem/err.h>
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif

#include "demo.h"
#include "hetmem.h"

#define PAGE	  4096UL
#define HMM_SEED  0x484d4d /* "HMM" */
#define VERIFY_AT (1UL << 20) /* bytes regenerated and compared at a time */

#ifdef CONFIG_GPU_HOST
#define HMM_DEVICE demo_hmm_gpu
#else
#define HMM_DEVICE demo_hmm_dmirror
#endif

struct hmm_step {
	struct demo *d;
	const struct demo_hmm_device *ops;
	void *dev;
	char *buf;
	size_t len;
	uint64_t npages;
	uint64_t fill_sum; /* of what the CPU wrote */
	uint64_t in_sum; /* of what the kernel read */
	uint64_t out_sum; /* of what the kernel wrote, as the device says */
	uint64_t ref_sum; /* of what it should have written, as the CPU says */
	uint64_t migrated;
	long resident[3]; /* after migrating, after the kernel, after the touch */
	struct demo_hmm_stats st[3]; /* the same moments */
	double t_fill, t_migrate, t_kernel, t_touch;
	size_t bad; /* first byte that differs, or len */
	bool ok_migrate, ok_kernel, ok_touch; /* the checks of each phase, and before */
};

/* One load per page, in order: what makes a page that is not home fault. */
static uint64_t touch_pages(const char *buf, size_t len)
{
	const volatile char *p = buf;
	uint64_t sum = 0;

	for (size_t off = 0; off < len; off += PAGE)
		sum += (unsigned char)p[off];
	return sum;
}

/*
 * The first byte that is not the kernel's result of the input, or len;
 * *@ref_sum becomes demo_fnv1a() of the expected result.
 */
static size_t first_difference(const char *buf, size_t len, char *scratch, uint64_t *ref_sum)
{
	uint64_t sum = DEMO_FNV1A_INIT;
	size_t bad = len;

	for (size_t off = 0; off < len; off += VERIFY_AT) {
		size_t n = len - off < VERIFY_AT ? len - off : VERIFY_AT;

		demo_kernel_fill(scratch, off, n, HMM_SEED);
		demo_kernel_ref(scratch, n);
		sum = demo_fnv1a(sum, scratch, n);
		if (bad == len && memcmp(buf + off, scratch, n))
			for (size_t i = 0; i < n && bad == len; i++)
				if (buf[off + i] != scratch[i])
					bad = off + i;
	}
	*ref_sum = sum;
	return bad;
}

/* Each phase after the other; the first error stops the rest. */
static int run(struct hmm_step *s)
{
	double t;
	int ret;

	t = demo_now();
	demo_kernel_fill(s->buf, 0, s->len, HMM_SEED);
	s->t_fill = demo_now() - t;
	s->fill_sum = demo_fnv1a(DEMO_FNV1A_INIT, s->buf, s->len);

	t = demo_now();
	ret = s->ops->migrate(s->dev, s->buf, s->len, &s->migrated);
	s->t_migrate = demo_now() - t;
	if (ret) {
		fprintf(stderr, "%s: migration to the device failed: %s\n", s->d->prog,
			strerror(-ret));
		return ret;
	}
	s->resident[0] = s->ops->resident(s->dev, s->buf, s->len);
	s->ops->stats(s->dev, &s->st[0]);

	t = demo_now();
	ret = s->ops->kernel(s->dev, s->buf, s->len, &s->in_sum, &s->out_sum);
	s->t_kernel = demo_now() - t;
	if (ret) {
		fprintf(stderr, "%s: the device kernel failed: %s\n", s->d->prog, strerror(-ret));
		return ret;
	}
	s->resident[1] = s->ops->resident(s->dev, s->buf, s->len);
	s->ops->stats(s->dev, &s->st[1]);

	t = demo_now();
	touch_pages(s->buf, s->len);
	s->t_touch = demo_now() - t;
	s->resident[2] = s->ops->resident(s->dev, s->buf, s->len);
	s->ops->stats(s->dev, &s->st[2]);
	return 0;
}

static void print_run(const struct hmm_step *s)
{
	const struct demo_hmm_stats *k = &s->st[1], *m = &s->st[0], *f = &s->st[2];
	char a[32];

	printf("  device: %s\n", s->ops->name);
	if (s->ops->note)
		printf("    (%s)\n", s->ops->note);
	printf("\n  CPU fill        %s malloc'd at %p, %" PRIu64
	       " pages of floats: %.1f ms, checksum 0x%016" PRIx64 "\n",
	       cli_format_size(a, sizeof(a), s->len), s->buf, s->npages, s->t_fill * 1e3,
	       s->fill_sum);
	printf("  migrate         %" PRIu64 " pages to device-private memory: %.1f ms, %.2f GB/s;"
	       " %ld device-private\n",
	       s->migrated, s->t_migrate * 1e3, demo_gbps(s->len, s->t_migrate), s->resident[0]);
	printf("  device kernel   y = %ux + %u over floats: %.1f ms; checksum read 0x%016" PRIx64
	       ", written 0x%016" PRIx64 ";\n"
	       "                  %" PRIu64 " device faults, %" PRIu64 " CPU faults, %ld pages"
	       " still device-private\n",
	       DEMO_KERNEL_A, DEMO_KERNEL_B, s->t_kernel * 1e3, s->in_sum, s->out_sum,
	       k->device_faults - m->device_faults, k->cpu_faults - m->cpu_faults, s->resident[1]);
	printf("  CPU touch       one load per page: %.1f ms, %.2f GB/s; %" PRIu64 " CPU faults,"
	       " %" PRIu64 " pages prefetched,\n"
	       "                  %ld left device-private\n",
	       s->t_touch * 1e3, demo_gbps(s->len, s->t_touch), f->cpu_faults - k->cpu_faults,
	       f->prefetched - k->prefetched, s->resident[2]);
}

static void check(struct hmm_step *s)
{
	struct demo *d = s->d;
	const struct demo_hmm_stats *k = &s->st[1], *m = &s->st[0], *f = &s->st[2];
	unsigned int mark;

	printf("\n== Checks: device-private memory ==\n\n");
	mark = d->failed;
	demo_check(d, s->migrated == s->npages && s->resident[0] == (long)s->npages,
		   "migrate: all %" PRIu64 " pages moved (%" PRIu64 "), all device-private (%ld)",
		   s->npages, s->migrated, s->resident[0]);
	s->ok_migrate = d->failed == mark;
	demo_check(d, s->in_sum == s->fill_sum,
		   "device kernel: read what the CPU wrote (checksum 0x%016" PRIx64 ")", s->in_sum);
	demo_check(d, s->out_sum == s->ref_sum,
		   "device kernel: wrote what the CPU computes (checksum 0x%016" PRIx64
		   ", the CPU's 0x%016" PRIx64 ")",
		   s->out_sum, s->ref_sum);
	demo_check(d, s->resident[1] == (long)s->npages && k->cpu_faults == m->cpu_faults,
		   "device kernel: ran in device memory, nothing came home (%ld device-private, "
		   "%" PRIu64 " CPU faults)",
		   s->resident[1], k->cpu_faults - m->cpu_faults);
	s->ok_kernel = d->failed == mark;
	demo_check(d, s->resident[2] == 0 && f->cpu_faults > k->cpu_faults,
		   "CPU touch: faulted everything home (%" PRIu64 " faults, %ld pages left on the "
		   "device)",
		   f->cpu_faults - k->cpu_faults, s->resident[2]);
	s->ok_touch = d->failed == mark;
	if (s->bad == s->len)
		demo_check(d, true, "verify: every byte is y = %ux + %u of what the CPU wrote",
			   DEMO_KERNEL_A, DEMO_KERNEL_B);
	else
		demo_check(d, false, "verify: the byte at offset 0x%zx is not the kernel's result",
			   s->bad);
}

static enum demo_result result(bool ok)
{
	return ok ? DEMO_OK : DEMO_FAILED;
}

static void summarize(struct hmm_step *s)
{
	struct demo *d = s->d;
	const struct demo_hmm_stats *k = &s->st[1], *f = &s->st[2];
	char a[32];

	demo_row(d, "migrate to device memory", result(s->ok_migrate),
		 "%s, %" PRIu64 " pages, %.2f GB/s", cli_format_size(a, sizeof(a), s->len),
		 s->migrated, demo_gbps(s->len, s->t_migrate));
	demo_row(d, "device kernel", result(s->ok_kernel),
		 "y = %ux + %u, %.1f ms, %" PRIu64 " device faults", DEMO_KERNEL_A, DEMO_KERNEL_B,
		 s->t_kernel * 1e3, s->st[1].device_faults - s->st[0].device_faults);
	demo_row(d, "CPU fault-back", result(s->ok_touch),
		 "%" PRIu64 " faults + %" PRIu64 " prefetched, %.2f GB/s",
		 f->cpu_faults - k->cpu_faults, f->prefetched - k->prefetched,
		 demo_gbps(s->len, s->t_touch));
	demo_row(d, "verify every byte", result(s->bad == s->len), "%s",
		 s->bad == s->len ? "identical" : "MISMATCH");
}

/*
 * Valgrind runs one thread at a time and holds its lock while a thread
 * sits in a page fault; on memory registered with userfaultfd that fault
 * waits for the fault handler thread, which then never runs.
 */
static bool under_valgrind(void)
{
#if __has_include(<valgrind/valgrind.h>)
	return RUNNING_ON_VALGRIND;
#else
	return false;
#endif
}

static void skip(struct hmm_step *s, const char *why, const char *figure)
{
	printf("  skipped: %s\n", why);
	demo_row(s->d, "device-private memory", DEMO_SKIPPED, "%s", figure);
}

/* Return: 0, 1 when the step cannot run here (skipped), or a negative errno. */
static int open_device(struct hmm_step *s)
{
	int err;

	if (under_valgrind()) {
		skip(s, "under Valgrind a CPU fault on userfaultfd memory never gets served",
		     "under Valgrind");
		return 1;
	}
	s->dev = s->ops->open(s->d);
	if (!IS_ERR(s->dev))
		return 0;
	err = (int)PTR_ERR(s->dev);
	s->dev = NULL;
	if (err == -EPERM) {
		skip(s,
		     "userfaultfd is not allowed here (run as root, or give access to "
		     "/dev/userfaultfd)",
		     "no userfaultfd");
		return 1;
	}
	if (err == -ENOSYS) {
		skip(s, "this kernel's userfaultfd lacks write-protect or events",
		     "userfaultfd lacks write-protect");
		return 1;
	}
	if (err == -ENODEV) {
		skip(s, "the machine has no emulated GPU (a \"model = gpu\" endpoint)", "no GPU");
		return 1;
	}
	fprintf(stderr, "%s: %s: %s\n", s->d->prog, s->ops->name, strerror(-err));
	return err;
}

int demo_hmm(struct demo *d, size_t len)
{
	struct hmm_step s = { .d = d, .ops = &HMM_DEVICE, .len = len, .npages = len / PAGE };
	char *scratch = NULL;
	void *buf = NULL;
	int ret;

	printf("\n== Device-private memory: a malloc'd buffer on the device and back ==\n\n");
	ret = open_device(&s);
	if (ret)
		return ret > 0 ? 0 : ret;
	if (posix_memalign(&buf, PAGE, len) || !(scratch = malloc(VERIFY_AT))) {
		fprintf(stderr, "%s: out of memory\n", d->prog);
		ret = -ENOMEM;
		goto out;
	}
	s.buf = buf;
	ret = run(&s);
	if (ret)
		goto out;
	s.bad = first_difference(s.buf, s.len, scratch, &s.ref_sum);
	print_run(&s);
	if (s.ops->report)
		s.ops->report(s.dev);
	check(&s);
	summarize(&s);
out:
	s.ops->close(s.dev);
	free(buf);
	free(scratch);
	return ret;
}
