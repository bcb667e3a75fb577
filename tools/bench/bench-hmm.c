// SPDX-License-Identifier: MIT
/*
 * Benchmark module "hmm": the process's own anonymous memory, mirrored by
 * the HMM test device (dmirror), migrated to its device-private memory and
 * faulted back by the CPU.
 *
 *  - hmm_range_fault() over a populated range, ns per page, against
 *    reading the same range's /proc/self/pagemap entries (what it must
 *    read at least: presence comes from there);
 *  - device fault service: hmm_range_fault() of one populated page, the
 *    work a polling driver does to service a device fault, against the
 *    wake-up round trip;
 *  - the same on the GPU driver (built with CONFIG_GPU_HOST, on a GPU of
 *    its own): a kernel streaming through populated pages the GPU MMU
 *    lacks, one device fault per page, the fault thread polling the fault
 *    buffer: hmm_range_fault(), the PTE write, the replay, timed by the
 *    driver from reading the fault to the replay; the kernel's time per
 *    fault, end to end; migration of the large range to VRAM by the copy
 *    engine and its sequential CPU fault-back, against memcpy;
 *  - migrate to device and back (dmirror_migrate_to_dev() without read
 *    back, dmirror_migrate_to_sys()), GB/s, 4 KiB to 64 MiB, against
 *    memcpy of the same size;
 *  - CPU fault-back after a migration: one load per page, in order
 *    (sequential: the device's policy prefetches the rest of each 2 MiB
 *    block and the next one) or in random order, GB/s, against memcpy;
 *    the policy without its prefetch is the reference of the sequential
 *    figure: loads in descending order never look sequential to it, so
 *    each fault is served alone;
 *  - single-page fault-back latency, median and p99 over random pages,
 *    against the wake-up round trip (a fault costs at least one).
 *
 * The large range is 64 MiB (2 MiB with --quick). Faults served one page
 * at a time cost about a wake-up each, so the figures that need them
 * (random, no-prefetch, latency) use 4 MiB (256 KiB with --quick): their
 * GB/s are per-page costs and do not depend on the range.
 *
 * Every page holds a pattern before it leaves, and the data is checked
 * after it came back.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <hetmem/err.h>
#ifdef CONFIG_GPU_HOST
#include <hetmem/gpu-emu.h>
#include <hetmem/gpu-regs.h>
#include <hetmem/gpu.h>
#include <hetmem/pci.h>
#endif
#include <hetmem/hmm-dmirror.h>
#include <hetmem/hmm.h>
#include <hetmem/mm_types.h>
#include <hetmem/mmu_notifier.h>

#include "harness.h"

#define PG	    4096UL
#define LARGE_FULL  (64UL << 20)
#define LARGE_QUICK (2UL << 20)
#define SMALL_FULL  (4UL << 20)
#define SMALL_QUICK (256UL << 10)
#define LAT_BATCH   256
#define LAT_MAX	    (LAT_BATCH * 40)

static const size_t sweep[] = { 4UL << 10, 64UL << 10, 1UL << 20, 16UL << 20, 64UL << 20 };
#define NR_SWEEP (sizeof(sweep) / sizeof(sweep[0]))

struct hmm_bench {
	struct bench *b;
	struct dmirror_device *mdev;
	struct dmirror *mirror;
	struct hetmem_mm *mm;
	char *buf; /* the large range */
	size_t large, small;
	uint64_t rng;
	unsigned long *order; /* page indices, shuffled */
	double *lat; /* latencies of single faults, us */
	size_t nr_lat;
	/* The test device's figures on the large range, GB/s, for the GPU's rows. */
	double to_dev_large, to_sys_large, seq_large;
	int err;
};

static volatile uint64_t sink;

static uint64_t next_rand(struct hmm_bench *h)
{
	h->rng ^= h->rng << 13;
	h->rng ^= h->rng >> 7;
	h->rng ^= h->rng << 17;
	return h->rng;
}

/* The first word of each page says which page it is. */
static void fill(char *p, size_t len)
{
	for (size_t off = 0; off < len; off += PG)
		*(uint64_t *)(p + off) = (uintptr_t)(p + off) ^ 0x5a5a5a5a5a5a5a5aULL;
}

static bool check(const char *p, size_t len)
{
	for (size_t off = 0; off < len; off += PG)
		if (*(const uint64_t *)(p + off) != ((uintptr_t)(p + off) ^ 0x5a5a5a5a5a5a5a5aULL))
			return false;
	return true;
}

static int to_dev(struct hmm_bench *h, char *p, size_t len)
{
	struct hmm_dmirror_cmd cmd = { .addr = (uintptr_t)p, .npages = len / PG };

	return dmirror_migrate_to_dev(h->mirror, &cmd);
}

static int to_sys(struct hmm_bench *h, char *p, size_t len)
{
	struct hmm_dmirror_cmd cmd = { .addr = (uintptr_t)p, .npages = len / PG };

	return dmirror_migrate_to_sys(h->mirror, &cmd);
}

/* --- migration ---------------------------------------------------------------------------- */

struct range_arg {
	struct hmm_bench *h;
	size_t len;
};

/* Each migration to the device is timed alone; bringing the range home again is not. */
static double migrate_to_dev_run(void *arg, uint64_t n)
{
	struct range_arg *a = arg;
	double t = 0;

	for (uint64_t i = 0; i < n; i++) {
		double t0 = bench_now();
		int ret = to_dev(a->h, a->h->buf, a->len);

		t += bench_now() - t0;
		if (ret)
			return ret;
		ret = to_sys(a->h, a->h->buf, a->len);
		if (ret)
			return ret;
	}
	return t;
}

static double migrate_to_sys_run(void *arg, uint64_t n)
{
	struct range_arg *a = arg;
	double t = 0;

	for (uint64_t i = 0; i < n; i++) {
		double t0;
		int ret = to_dev(a->h, a->h->buf, a->len);

		if (ret)
			return ret;
		t0 = bench_now();
		ret = to_sys(a->h, a->h->buf, a->len);
		t += bench_now() - t0;
		if (ret)
			return ret;
	}
	return t;
}

/* --- CPU fault-back ---------------------------------------------------------------------- */

enum touch_order { TOUCH_ASCENDING, TOUCH_DESCENDING, TOUCH_RANDOM };

struct fault_arg {
	struct hmm_bench *h;
	size_t len;
	enum touch_order order;
};

static void shuffle(struct hmm_bench *h, size_t npages)
{
	for (size_t i = 0; i < npages; i++)
		h->order[i] = i;
	for (size_t i = npages - 1; i > 0; i--) {
		size_t j = next_rand(h) % (i + 1);
		unsigned long t = h->order[i];

		h->order[i] = h->order[j];
		h->order[j] = t;
	}
}

/* Migrate the range away (not timed), then load one word of every page in @order (timed). */
static double fault_back_run(void *arg, uint64_t n)
{
	struct fault_arg *a = arg;
	struct hmm_bench *h = a->h;
	size_t npages = a->len / PG;
	uint64_t acc = 0;
	double t = 0;

	for (uint64_t i = 0; i < n; i++) {
		double t0;
		int ret = to_dev(h, h->buf, a->len);

		if (ret)
			return ret;
		if (a->order == TOUCH_RANDOM)
			shuffle(h, npages);
		t0 = bench_now();
		for (size_t k = 0; k < npages; k++) {
			size_t pg = a->order == TOUCH_ASCENDING	 ? k :
				    a->order == TOUCH_DESCENDING ? npages - 1 - k :
								   h->order[k];

			acc += *(volatile uint64_t *)(h->buf + pg * PG);
		}
		t += bench_now() - t0;
	}
	sink = acc;
	return t;
}

/* One sample: the median latency of LAT_BATCH single faults on random pages, in us. */
static double latency_sample(void *arg)
{
	struct hmm_bench *h = arg;
	size_t npages = h->small / PG, n = LAT_BATCH < npages ? LAT_BATCH : npages;
	double v[LAT_BATCH];
	uint64_t acc = 0;
	size_t got = 0;
	int ret;

	ret = to_dev(h, h->buf, h->small);
	if (ret)
		return ret;
	shuffle(h, npages);
	for (size_t k = 0, i = 0; k < npages && i < n; k++) {
		struct dmirror_counters before, after;
		double t0, dt;

		dmirror_device_counters(h->mdev, &before);
		t0 = bench_now();
		acc += *(volatile uint64_t *)(h->buf + h->order[k] * PG);
		dt = (bench_now() - t0) * 1e6;
		dmirror_device_counters(h->mdev, &after);
		/*
		 * A load that found its page home already (brought back with a
		 * neighbour when two loads happened to be in sequence) is no
		 * fault: it is not a latency of one.
		 */
		if (after.cpu_faults == before.cpu_faults)
			continue;
		v[i++] = dt;
		if (h->nr_lat < LAT_MAX)
			h->lat[h->nr_lat++] = dt;
		got = i;
	}
	sink = acc;
	if (!got)
		return -EIO;
	/* The rest of the range comes home outside the sample. */
	ret = to_sys(h, h->buf, h->small);
	if (ret)
		return ret;
	return bench_percentile(v, got, 50);
}

/* --- hmm_range_fault --------------------------------------------------------------------- */

static bool bench_invalidate(struct mmu_interval_notifier *sub,
			     const struct mmu_notifier_range *range, unsigned long cur_seq)
{
	mmu_interval_set_seq(sub, cur_seq);
	return true;
}

static const struct mmu_interval_notifier_ops bench_notifier_ops = {
	.invalidate = bench_invalidate,
};

struct rf_arg {
	struct mmu_interval_notifier sub;
	unsigned long *pfns;
	size_t len;
	int pagemap;
	double *lat; /* single-page calls' latencies, us, when not NULL */
	size_t nr_lat, max_lat;
};

static int range_fault_once(struct rf_arg *a)
{
	struct hmm_range range = {
		.notifier = &a->sub,
		.start = a->sub.start,
		.end = a->sub.start + a->len,
		.hmm_pfns = a->pfns,
		.default_flags = HMM_PFN_REQ_FAULT,
	};
	int ret;

	/* The kernel's driver loop: retry while the range keeps being invalidated. */
	do {
		range.notifier_seq = mmu_interval_read_begin(&a->sub);
		ret = hmm_range_fault(&range);
	} while (ret == -EBUSY);
	if (!ret && !(a->pfns[0] & HMM_PFN_VALID))
		ret = -EFAULT;
	return ret;
}

static double range_fault_run(void *arg, uint64_t n)
{
	struct rf_arg *a = arg;
	double t = 0;

	for (uint64_t i = 0; i < n; i++) {
		double t0 = bench_now(), dt;
		int ret = range_fault_once(a);

		dt = bench_now() - t0;
		if (ret)
			return ret;
		if (a->lat && a->nr_lat < a->max_lat)
			a->lat[a->nr_lat++] = dt * 1e6;
		t += dt;
	}
	return t;
}

/* What hmm_range_fault() reads at least: the range's pagemap entries. */
static double pagemap_run(void *arg, uint64_t n)
{
	struct rf_arg *a = arg;
	size_t npages = a->len / PG;
	off_t off = (off_t)(a->sub.start / PG * sizeof(uint64_t));
	double t0 = bench_now();

	for (uint64_t i = 0; i < n; i++) {
		ssize_t want = (ssize_t)(npages * sizeof(uint64_t));

		if (pread(a->pagemap, a->pfns, (size_t)want, off) != want)
			return -EIO;
	}
	return bench_now() - t0;
}

static int bench_range_fault(struct hmm_bench *h)
{
	static const struct bench_target service = { BENCH_TARGET_VALUE_LE, 5, "<= 5 us, polling" };
	struct rf_arg a = { .len = h->large, .pagemap = -1 };
	struct bench_stat st, ref, wake;
	double lat[4096];
	char what[64];
	int ret;

	a.pfns = calloc(h->large / PG, sizeof(*a.pfns));
	if (!a.pfns)
		return -ENOMEM;
	a.pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	ret = a.pagemap < 0 ? -errno : 0;
	if (!ret)
		ret = mmu_interval_notifier_insert(&a.sub, h->mm, (uintptr_t)h->buf, h->large,
						   &bench_notifier_ops);
	if (ret)
		goto out;

	bench_chart(h->b, "hmm-latency",
		    "Latency distributions: device fault service, CPU fault-back", "microseconds",
		    "", BENCH_CHART_CDF | BENCH_CHART_LOGX);
	snprintf(what, sizeof(what), "hmm_range_fault, %zu MiB populated", h->large >> 20);
	ret = bench_time(h->b, what, range_fault_run, &a, 0, &st);
	if (!ret)
		ret = bench_time(h->b, "pagemap read", pagemap_run, &a, 0, &ref);
	if (ret)
		goto out_remove;
	st = bench_stat_scale(&st, 1e9 / (double)(h->large / PG));
	ref = bench_stat_scale(&ref, 1e9 / (double)(h->large / PG));
	bench_row_add(h->b, "range_fault.large", what, "ns/page", &st, ref.median, "ns/page",
		      "pagemap read, same range", NULL);

	/* One page: the device fault a polling driver services. */
	a.len = PG;
	a.lat = lat;
	a.max_lat = sizeof(lat) / sizeof(lat[0]);
	ret = bench_time(h->b, "device fault service", range_fault_run, &a, 0, &st);
	if (!ret && bench_ref_wakeup(h->b, &wake) < 0)
		ret = -ENOMEM;
	if (ret)
		goto out_remove;
	st = bench_stat_scale(&st, 1e6);
	bench_row_add(h->b, "device_fault_service",
		      "device fault service (hmm_range_fault, 1 page)", "us", &st, wake.median,
		      "us", "wake-up round trip", &service);
	bench_distribution(h->b, "hmm-latency", "device fault service (hmm_range_fault, 1 page)",
			   lat, a.nr_lat);
out_remove:
	mmu_interval_notifier_remove(&a.sub);
out:
	if (a.pagemap >= 0)
		close(a.pagemap);
	free(a.pfns);
	return ret;
}

/* --- the figures ------------------------------------------------------------------------- */

static int bench_migrate(struct hmm_bench *h)
{
	static const struct bench_target to_dev_t = { BENCH_TARGET_RATIO_GE, 0.7,
						      ">= 0.7x memcpy" };
	static const struct bench_target seq_t = { BENCH_TARGET_RATIO_GE, 0.5, ">= 0.5x memcpy" };
	int ret = 0;

	bench_chart(h->b, "hmm-migrate", "Migration and CPU fault-back vs range size",
		    "range (KiB)", "GB/s", BENCH_CHART_LOGX);
	for (size_t s = 0; s < NR_SWEEP && !ret; s++) {
		size_t len = sweep[s] > h->large ? h->large : sweep[s];
		bool last = len == h->large;
		struct range_arg ra = { h, len };
		struct fault_arg fa = { h, len, TOUCH_ASCENDING };
		struct bench_stat dev, sys, seq, mc;
		char sz[16], what[64];
		double x = (double)len / 1024;

		/* --quick clips the sweep at its large range: measure that once. */
		if (s && len == (sweep[s - 1] > h->large ? h->large : sweep[s - 1]))
			break;
		bench_format_size(sz, sizeof(sz), len);
		if (bench_ref_memcpy(h->b, len, &mc) < 0)
			return -ENOMEM;
		snprintf(what, sizeof(what), "migrate to device, %s", sz);
		ret = bench_time(h->b, what, migrate_to_dev_run, &ra, 0, &dev);
		if (!ret) {
			snprintf(what, sizeof(what), "migrate to system, %s", sz);
			ret = bench_time(h->b, what, migrate_to_sys_run, &ra, 0, &sys);
		}
		if (!ret) {
			snprintf(what, sizeof(what), "sequential fault-back, %s", sz);
			ret = bench_time(h->b, what, fault_back_run, &fa, 0, &seq);
		}
		if (ret)
			break;
		if (!check(h->buf, len)) {
			bench_skip(h->b, "%s: the data that came back is not what left", sz);
			return -EIO;
		}
		dev = bench_stat_rate(&dev, (double)len, 1e9);
		sys = bench_stat_rate(&sys, (double)len, 1e9);
		seq = bench_stat_rate(&seq, (double)len, 1e9);
		bench_point(h->b, "hmm-migrate", "migrate to device", x, dev.median);
		bench_point(h->b, "hmm-migrate", "migrate to system", x, sys.median);
		bench_point(h->b, "hmm-migrate", "sequential CPU fault-back", x, seq.median);
		bench_point(h->b, "hmm-migrate", "memcpy", x, mc.median);
		if (!last)
			continue;
		h->to_dev_large = dev.median;
		h->to_sys_large = sys.median;
		h->seq_large = seq.median;
		snprintf(what, sizeof(what), "migrate to device, %s", sz);
		bench_row_add(h->b, "migrate_to_dev.large", what, "GB/s", &dev, mc.median, "GB/s",
			      "memcpy, same size", &to_dev_t);
		snprintf(what, sizeof(what), "migrate to system, %s", sz);
		bench_row_add(h->b, "migrate_to_sys.large", what, "GB/s", &sys, mc.median, "GB/s",
			      "memcpy, same size", NULL);
		snprintf(what, sizeof(what), "sequential fault-back, %s", sz);
		bench_row_add(h->b, "fault_back.seq.large", what, "GB/s", &seq, mc.median, "GB/s",
			      "memcpy, same size", &seq_t);
	}
	return ret;
}

static int bench_fault_back(struct hmm_bench *h)
{
	static const struct bench_target median_t = { BENCH_TARGET_RATIO_LE, 1.5,
						      "<= 1.5x wake-up" };
	struct fault_arg seq = { h, h->small, TOUCH_ASCENDING };
	struct fault_arg noprefetch = { h, h->small, TOUCH_DESCENDING };
	struct fault_arg rnd = { h, h->small, TOUCH_RANDOM };
	struct bench_stat s, np, r, mc, med, p99, wake;
	double batch_p99[BENCH_WINDOW * 8];
	char sz[16], what[64];
	size_t nr_batches, batch;
	int ret;

	bench_format_size(sz, sizeof(sz), h->small);
	if (bench_ref_memcpy(h->b, h->small, &mc) < 0 || bench_ref_wakeup(h->b, &wake) < 0)
		return -ENOMEM;
	snprintf(what, sizeof(what), "sequential fault-back, %s", sz);
	ret = bench_time(h->b, what, fault_back_run, &seq, 0, &s);
	if (!ret) {
		snprintf(what, sizeof(what), "fault-back without prefetch, %s", sz);
		ret = bench_time(h->b, what, fault_back_run, &noprefetch, 0, &np);
	}
	if (!ret) {
		snprintf(what, sizeof(what), "random fault-back, %s", sz);
		ret = bench_time(h->b, what, fault_back_run, &rnd, 0, &r);
	}
	if (!ret) {
		h->nr_lat = 0;
		ret = bench_measure(h->b, "single-page fault-back latency", latency_sample, h,
				    &med);
	}
	if (ret)
		return ret;
	if (!check(h->buf, h->small)) {
		bench_skip(h->b, "the data that came back is not what left");
		return -EIO;
	}
	s = bench_stat_rate(&s, (double)h->small, 1e9);
	np = bench_stat_rate(&np, (double)h->small, 1e9);
	r = bench_stat_rate(&r, (double)h->small, 1e9);
	snprintf(what, sizeof(what), "sequential fault-back, %s", sz);
	bench_row_add(h->b, "fault_back.seq.small", what, "GB/s", &s, np.median, "GB/s",
		      "no-prefetch policy", NULL);
	snprintf(what, sizeof(what), "random fault-back, %s", sz);
	bench_row_add(h->b, "fault_back.random", what, "GB/s", &r, mc.median, "GB/s",
		      "memcpy, same size", NULL);
	bench_row_add(h->b, "fault_latency.median", "single-page fault-back, median", "us", &med,
		      wake.median, "us", "wake-up round trip", &median_t);

	/* The p99 of each batch, for its spread; the figure is the p99 of all faults. */
	batch = LAT_BATCH < h->small / PG ? LAT_BATCH : h->small / PG;
	nr_batches = h->nr_lat / batch;
	if (nr_batches > sizeof(batch_p99) / sizeof(batch_p99[0]))
		nr_batches = sizeof(batch_p99) / sizeof(batch_p99[0]);
	for (size_t i = 0; i < nr_batches; i++) {
		double v[LAT_BATCH];

		memcpy(v, h->lat + i * batch, batch * sizeof(v[0]));
		batch_p99[i] = bench_percentile(v, batch, 99);
	}
	p99 = bench_stat_of(batch_p99, nr_batches ? nr_batches : 1);
	bench_distribution(h->b, "hmm-latency", "single-page CPU fault-back", h->lat, h->nr_lat);
	p99.median = bench_percentile(h->lat, h->nr_lat, 99);
	p99.samples = med.samples;
	bench_row_add(h->b, "fault_latency.p99", "single-page fault-back, p99", "us", &p99,
		      wake.median, "us", "wake-up round trip", NULL);
	return 0;
}

/* --- the GPU driver ------------------------------------------------------------------ */

#ifdef CONFIG_GPU_HOST
struct gpu_bench {
	struct hmm_bench *h;
	struct pci_fabric *fabric;
	struct gpu_emu *emu;
	struct gpu_host *gpu;
	struct dmirror *mirror;
	char *page_buf; /* populated pages the GPU faults on, one per kernel */
	size_t pages, next;
	double *lat; /* service times, us */
	size_t nr_lat;
};

#define GPU_FAULT_PAGES 256

/* A GPU on a root port of a fabric of its own, the driver polling its fault buffer. */
static int gpu_bench_setup(struct gpu_bench *g)
{
	struct pci_host_bridge_info hbi = {
		.name = "hb0", .domain = 0x1000, .vendor = 0x8086, .device = 0x09a2,
		.p2p_allowed = true, .bus_offset = 1ULL << 47,
		.mem_base = 0xc0000000, .mem_size = 0x10000000,
		.pref_base = 0x8000000000ULL, .pref_size = 0x100000000ULL,
	};
	struct gpu_emu_params p = {
		.name = "gpu0",
		.vram_size = g->h->large + (32UL << 20),
		.bar2_size = 16UL << 20,
	};
	/*
	 * No P2P: the BAR2 window of this GPU would sit where the run's own
	 * machine has gpu0's, and nothing here DMAs into it.
	 */
	struct gpu_host_opts o = {
		.size = sizeof(o), .fault_window = 1, .poll_us = ~0U, .no_p2p = 1,
	};
	struct pci_host_bridge *hb;
	struct pci_dev *rp;

	g->fabric = pci_fabric_create();
	if (!g->fabric)
		return -ENOMEM;
	hb = pci_host_bridge_add(g->fabric, &hbi);
	rp = IS_ERR(hb) ? (struct pci_dev *)hb : pci_root_port_add(hb, "rp0", 0);
	if (IS_ERR(rp))
		return (int)PTR_ERR(rp);
	g->emu = gpu_emu_create(rp, 0, &p);
	if (IS_ERR(g->emu)) {
		int ret = (int)PTR_ERR(g->emu);

		g->emu = NULL;
		return ret;
	}
	if (pci_fabric_enumerate(g->fabric) || gpu_emu_start(g->emu))
		return -EIO;
	g->gpu = gpu_host_probe(gpu_emu_pdev(g->emu), &o);
	if (IS_ERR(g->gpu)) {
		int ret = (int)PTR_ERR(g->gpu);

		g->gpu = NULL;
		return ret;
	}
	g->mirror = dmirror_open(gpu_host_dmirror(g->gpu));
	if (IS_ERR(g->mirror)) {
		int ret = (int)PTR_ERR(g->mirror);

		g->mirror = NULL;
		return ret;
	}
	g->pages = GPU_FAULT_PAGES;
	g->page_buf = mmap(NULL, g->pages * PG, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	g->lat = calloc(LAT_MAX, sizeof(*g->lat));
	if (g->page_buf == MAP_FAILED || !g->lat) {
		if (g->page_buf == MAP_FAILED)
			g->page_buf = NULL;
		return -ENOMEM;
	}
	memset(g->page_buf, 1, g->pages * PG);
	return 0;
}

static void gpu_bench_teardown(struct gpu_bench *g)
{
	if (g->mirror)
		dmirror_close(g->mirror);
	gpu_host_remove(g->gpu);
	gpu_emu_destroy(g->emu);
	pci_fabric_destroy(g->fabric);
	if (g->page_buf)
		munmap(g->page_buf, g->pages * PG);
	free(g->lat);
}

/*
 * One kernel filling GPU_FAULT_RUN populated pages the GPU MMU lacks, each
 * its own device fault (fault window 1), as a kernel streaming through
 * fresh memory makes them. Returns the driver's service time per fault
 * (us), and the kernel's time per fault, end to end, in *e2e.
 */
#define GPU_FAULT_RUN 16

static double gpu_faults(struct gpu_bench *g, double *e2e)
{
	struct gpu_host_stats before, after;
	unsigned long n;
	char *first;
	double t0;
	int ret;

	if (g->next + GPU_FAULT_RUN > g->pages) {
		/* Unmapped from the GPU, kept populated: hmm_mprotect() invalidates. */
		ret = hmm_mprotect(g->page_buf, g->pages * PG, PROT_READ | PROT_WRITE);
		if (ret)
			return ret;
		g->next = 0;
	}
	first = g->page_buf + g->next * PG;
	g->next += GPU_FAULT_RUN;
	gpu_host_stats(g->gpu, &before);
	t0 = bench_now();
	ret = gpu_run(g->gpu, g->mirror, GPU_KERNEL_FILL,
		      (uint64_t[]){ (uintptr_t)first, GPU_FAULT_RUN * PG / 4, 7 }, 3);
	*e2e = (bench_now() - t0) * 1e6 / GPU_FAULT_RUN;
	gpu_host_stats(g->gpu, &after);
	n = after.faults_serviced - before.faults_serviced;
	if (ret)
		return ret;
	if (!n || *(volatile uint32_t *)(first + (GPU_FAULT_RUN - 1) * PG) != 7)
		return -EIO;
	return (double)(after.service_ns - before.service_ns) / 1e3 / (double)n;
}

static double gpu_service_sample(void *arg)
{
	struct gpu_bench *g = arg;
	double v[8], e2e;

	for (size_t i = 0; i < 8; i++) {
		v[i] = gpu_faults(g, &e2e);
		if (v[i] < 0)
			return v[i];
		if (g->nr_lat < LAT_MAX)
			g->lat[g->nr_lat++] = v[i];
	}
	return bench_percentile(v, 8, 50);
}

static double gpu_e2e_sample(void *arg)
{
	struct gpu_bench *g = arg;
	double v[8];

	for (size_t i = 0; i < 8; i++) {
		double r = gpu_faults(g, &v[i]);

		if (r < 0)
			return r;
	}
	return bench_percentile(v, 8, 50);
}

static double gpu_migrate_run(void *arg, uint64_t n)
{
	struct gpu_bench *g = arg;
	double t = 0;

	for (uint64_t i = 0; i < n; i++) {
		double t0 = bench_now();
		long moved = gpu_migrate(g->mirror, g->h->buf, g->h->large, 1);

		t += bench_now() - t0;
		if (moved < 0)
			return (double)moved;
		moved = gpu_migrate(g->mirror, g->h->buf, g->h->large, 0);
		if (moved < 0)
			return (double)moved;
	}
	return t;
}

static double gpu_migrate_back_run(void *arg, uint64_t n)
{
	struct gpu_bench *g = arg;
	double t = 0;

	for (uint64_t i = 0; i < n; i++) {
		long moved = gpu_migrate(g->mirror, g->h->buf, g->h->large, 1);
		double t0;

		if (moved < 0)
			return (double)moved;
		t0 = bench_now();
		moved = gpu_migrate(g->mirror, g->h->buf, g->h->large, 0);
		t += bench_now() - t0;
		if (moved < 0)
			return (double)moved;
	}
	return t;
}

static double gpu_fault_back_run(void *arg, uint64_t n)
{
	struct gpu_bench *g = arg;
	uint64_t acc = 0;
	double t = 0;

	for (uint64_t i = 0; i < n; i++) {
		long moved = gpu_migrate(g->mirror, g->h->buf, g->h->large, 1);
		double t0;

		if (moved < 0)
			return (double)moved;
		t0 = bench_now();
		for (size_t off = 0; off < g->h->large; off += PG)
			acc += *(volatile uint64_t *)(g->h->buf + off);
		t += bench_now() - t0;
	}
	sink = acc;
	return t;
}

static int bench_gpu(struct hmm_bench *h)
{
	static const struct bench_target service = { BENCH_TARGET_VALUE_LE, 5, "<= 5 us, polling" };
	struct gpu_bench g = { .h = h };
	struct bench_stat svc, e2e, wake, mig, back, seq, mc;
	char sz[16], what[64];
	int ret = gpu_bench_setup(&g);

	if (!ret && (bench_ref_wakeup(h->b, &wake) < 0 || bench_ref_memcpy(h->b, h->large, &mc) < 0))
		ret = -ENOMEM;
	if (!ret)
		ret = bench_measure(h->b, "GPU device fault service", gpu_service_sample, &g, &svc);
	if (!ret)
		ret = bench_measure(h->b, "GPU kernel streaming into faults", gpu_e2e_sample, &g,
				    &e2e);
	if (!ret)
		ret = bench_time(h->b, "migrate to VRAM", gpu_migrate_run, &g, 0, &mig);
	if (!ret)
		ret = bench_time(h->b, "migrate from VRAM", gpu_migrate_back_run, &g, 0, &back);
	if (!ret)
		ret = bench_time(h->b, "fault-back from VRAM", gpu_fault_back_run, &g, 0, &seq);
	if (!ret && !check(h->buf, h->large)) {
		bench_skip(h->b, "GPU: the data that came back from VRAM is not what left");
		ret = -EIO;
	}
	if (ret) {
		if (!g.gpu || !g.mirror)
			bench_skip(h->b, "GPU: the driver did not come up (%d)", ret);
		gpu_bench_teardown(&g);
		return ret;
	}
	bench_row_add(h->b, "device_fault_service.gpu",
		      "device fault service, GPU (polled, hmm_range_fault + PTE)", "us", &svc,
		      wake.median, "us", "wake-up round trip", &service);
	bench_distribution(h->b, "hmm-latency", "device fault service, GPU", g.lat, g.nr_lat);
	bench_row_add(h->b, "gpu_fault_kernel", "GPU kernel streaming into faults, per fault",
		      "us", &e2e, wake.median, "us", "wake-up round trip", NULL);
	bench_format_size(sz, sizeof(sz), h->large);
	mig = bench_stat_rate(&mig, (double)h->large, 1e9);
	back = bench_stat_rate(&back, (double)h->large, 1e9);
	seq = bench_stat_rate(&seq, (double)h->large, 1e9);
	snprintf(what, sizeof(what), "migrate to VRAM (copy engine), %s", sz);
	bench_row_add(h->b, "migrate_to_vram.large", what, "GB/s", &mig, mc.median, "GB/s",
		      "memcpy, same size", NULL);
	/* The same migration on the anonymous test device, measured above. */
	bench_row_add(h->b, "migrate_to_vram.vs_dmirror", what, "GB/s", &mig, h->to_dev_large,
		      "GB/s", "test device (CPU copy)", NULL);
	snprintf(what, sizeof(what), "migrate from VRAM (copy engine), %s", sz);
	bench_row_add(h->b, "migrate_from_vram.large", what, "GB/s", &back, mc.median, "GB/s",
		      "memcpy, same size", NULL);
	bench_row_add(h->b, "migrate_from_vram.vs_dmirror", what, "GB/s", &back,
		      h->to_sys_large, "GB/s", "test device (CPU copy)", NULL);
	snprintf(what, sizeof(what), "sequential fault-back from VRAM, %s", sz);
	bench_row_add(h->b, "fault_back.vram.seq.large", what, "GB/s", &seq, mc.median, "GB/s",
		      "memcpy, same size", NULL);
	bench_row_add(h->b, "fault_back.vram.seq.vs_dmirror", what, "GB/s", &seq,
		      h->seq_large, "GB/s", "test device", NULL);
	bench_point(h->b, "hmm-migrate", "GPU: migrate to VRAM", (double)h->large / 1024,
		    mig.median);
	bench_point(h->b, "hmm-migrate", "GPU: migrate from VRAM", (double)h->large / 1024,
		    back.median);
	gpu_bench_teardown(&g);
	return 0;
}
#endif

static int hmm_bench_run(struct bench *b)
{
	struct hmm_bench *h = calloc(1, sizeof(*h));
	int ret = 0;

	if (!h)
		return -ENOMEM;
	h->b = b;
	h->rng = 0x9e3779b97f4a7c15ULL;
	h->large = bench_quick(b) ? LARGE_QUICK : LARGE_FULL;
	h->small = bench_quick(b) ? SMALL_QUICK : SMALL_FULL;
	h->mm = hetmem_mm_get();
	if (IS_ERR(h->mm)) {
		ret = (int)PTR_ERR(h->mm);
		h->mm = NULL;
		if (ret == -EPERM || ret == -ENOSYS) {
			bench_skip(b, "userfaultfd is not available to this process (%s)",
				   ret == -EPERM ? "not allowed" : "kernel lacks features");
			ret = -ENODEV;
		}
		goto out;
	}
	/* Device memory for the large range and then some, in 32 MiB chunks. */
	h->mdev = dmirror_device_create((unsigned int)(h->large >> 25) + 4, 32);
	if (IS_ERR(h->mdev)) {
		ret = (int)PTR_ERR(h->mdev);
		h->mdev = NULL;
		goto out;
	}
	h->mirror = dmirror_open(h->mdev);
	if (IS_ERR(h->mirror)) {
		ret = (int)PTR_ERR(h->mirror);
		h->mirror = NULL;
		goto out;
	}
	h->buf = mmap(NULL, h->large, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	h->order = calloc(h->small / PG, sizeof(*h->order));
	h->lat = calloc(LAT_MAX, sizeof(*h->lat));
	if (h->buf == MAP_FAILED || !h->order || !h->lat) {
		if (h->buf == MAP_FAILED)
			h->buf = NULL;
		ret = -ENOMEM;
		goto out;
	}
	/* No transparent huge pages: migration and faults work on 4 KiB pages. */
	madvise(h->buf, h->large, MADV_NOHUGEPAGE);
	fill(h->buf, h->large);

	ret = bench_range_fault(h);
	if (!ret)
		ret = bench_migrate(h);
	if (!ret)
		ret = bench_fault_back(h);
#ifdef CONFIG_GPU_HOST
	if (!ret)
		ret = bench_gpu(h);
#endif
out:
	if (h->mirror)
		dmirror_close(h->mirror);
	if (h->mdev)
		dmirror_device_destroy(h->mdev);
	if (h->buf)
		munmap(h->buf, h->large);
	hetmem_mm_put(h->mm);
	free(h->order);
	free(h->lat);
	free(h);
	return ret;
}

const struct bench_module bench_hmm_module = {
	.name = "hmm",
	.summary = "hmm_range_fault, migrate to device and back, CPU fault-back throughput and "
		   "latency",
#ifdef CONFIG_GPU_HOST
	.steps = 28,
#else
	.steps = 23,
#endif
	.run = hmm_bench_run,
};
