// SPDX-License-Identifier: MIT
/*
 * Benchmark module "nvme": the emulated controller driven by the host
 * driver, on the machine's NVMe functions (nvme0 on the default machine).
 *
 *  - 4 KiB random reads at queue depth 1, 8 and 32 per thread, from 1 and
 *    2 threads, each with its own queue pair, polling. The reference is
 *    the fabric's floor: 4 KiB DMA writes into host memory through the
 *    IOMMU, one after the other on one thread, per second. The target is
 *    1M IOPS on two cores.
 *  - Sequential reads at queue depth 16, 4 KiB to 1 MiB per command, into
 *    GPU memory: peer-to-peer (the controller DMAs into gpu0's p2pmem, a
 *    bus address below the shared switch) against the bounce path (into
 *    host memory, then a CPU copy into the same GPU memory, as a system
 *    without P2P does it) and against memcpy of the same size.
 *  - CMB copy, the SPDK cmb_copy case: read into a controller memory
 *    buffer and write from it, so the data never enters host memory,
 *    against the same copy through host memory. From the first
 *    controller's namespace into the second's CMB and namespace when the
 *    machine has two controllers; within one controller otherwise.
 *
 * Buffers are registered with the driver (nvme_ctrl_register_buffer()),
 * so no command maps or unmaps anything: what is measured is the queues,
 * the controller and the DMA. Reads cover a working set of 64 MiB (4 MiB
 * with --quick) filled with a pattern first: every byte's value follows
 * from its offset, so each measurement ends by checking the data that
 * arrived.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hetmem/dma-mapping.h>
#include <hetmem/err.h>
#include <hetmem/machine.h>
#include <hetmem/nvme-emu.h>
#include <hetmem/nvme.h>
#include <hetmem/pci-p2pdma.h>
#include <hetmem/pci.h>

#include "harness.h"

#define MAX_THREADS 2
#define MAX_QD	    32
#define SEQ_QD	    16
#define COPY_QD	    8
#define COPY_LEN    (128 << 10)
#define RAND_LEN    4096
#define MAX_SEQ_LEN (1 << 20)
#define WS_FULL	    (64ULL << 20)
#define WS_QUICK    (4ULL << 20)
#define HOST_BUF    ((size_t)SEQ_QD * MAX_SEQ_LEN)
#define QUEUE_DEPTH 128

static const unsigned int qds[] = { 1, 8, 32 };
static const size_t seq_sizes[] = { 4 << 10, 16 << 10, 64 << 10, 128 << 10, 256 << 10, 1 << 20 };
#define NR_SEQ (sizeof(seq_sizes) / sizeof(seq_sizes[0]))

enum job_kind {
	JOB_RANDOM, /* 4 KiB random reads into buf */
	JOB_SEQ, /* sequential reads into buf */
	JOB_BOUNCE, /* sequential reads into buf, each copied to gpu on completion */
	JOB_COPY, /* read into buf, then write buf to the copy's destination */
};

struct job {
	enum job_kind kind;
	unsigned int qd;
	size_t len;
	uint64_t n; /* I/Os (copies) per worker */
	char *buf; /* worker i uses buf + i * qd * len */
	char *gpu; /* JOB_BOUNCE: where the CPU copies to */
	struct nvme_ns *ns, *wns;
	uint64_t woff; /* JOB_COPY: destination offset minus source offset */
};

struct worker;

struct slot {
	struct worker *w;
	unsigned int i;
	uint64_t off; /* namespace byte offset of the data in the slot */
	bool writing;
	bool valid; /* holds the data of @off */
};

struct worker {
	struct nvme_bench *nb;
	unsigned int idx;
	pthread_t th;
	/*
	 * Queue pairs on the controller read from and on the one written to
	 * (a copy between two controllers); the same one otherwise.
	 */
	struct nvme_ctrl *ctrl, *wctrl;
	struct nvme_qpair *qp, *wqp;
	uint64_t rng, next_off;
	uint64_t submitted, done;
	int err;
	double t0, t1;
	struct slot slot[MAX_QD];
};

struct nvme_dev {
	struct pci_dev *pdev;
	struct nvme_transport t;
	bool t_init;
	struct nvme_ctrl *ctrl;
	struct nvme_ns *ns;
	struct nvme_qpair *qp; /* the main thread's */
	void *cmb; /* p2pmem from its CMB */
	size_t cmb_len;
};

struct nvme_bench {
	struct bench *b;
	struct machine *m; /* the machine the controllers are on */
	bool cmb_only; /* the CMB copy alone: no GPU memory needed */
	struct nvme_dev dev[2];
	unsigned int nr_dev;
	uint64_t ws; /* working set, bytes */
	char *host; /* HOST_BUF bytes, registered with dev[0] */
	char *gpu; /* HOST_BUF bytes of gpu0 p2pmem, registered with dev[0] */
	struct pci_dev *gpu_dev;
	struct job job;

	/* The workers: they wait on @start, run the job, and meet again on @end. */
	struct worker w[MAX_THREADS];
	unsigned int nr_workers;
	pthread_barrier_t start, end;
	bool stop;
};

/* --- data that checks itself -------------------------------------------------------- */

/* The value of the 8-byte word at namespace offset @off (a multiple of 8). */
static uint64_t pattern_word(uint64_t off)
{
	uint64_t z = off + 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 31)) * 0xbf58476d1ce4e5b9ULL;
	return z ^ (z >> 29);
}

static void pattern_fill(void *buf, uint64_t off, size_t len)
{
	uint64_t *p = buf;

	for (size_t i = 0; i < len / 8; i++)
		p[i] = pattern_word(off + i * 8);
}

static bool pattern_check(const void *buf, uint64_t off, size_t len)
{
	const uint64_t *p = buf;

	for (size_t i = 0; i < len / 8; i++)
		if (p[i] != pattern_word(off + i * 8))
			return false;
	return true;
}

/* --- the I/O engine ------------------------------------------------------------------ */

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void io_done(void *arg, int status);

static char *slot_buf(const struct worker *w, const struct slot *s)
{
	const struct job *j = &w->nb->job;

	return j->buf + ((size_t)w->idx * j->qd + s->i) * j->len;
}

static void submit_read(struct worker *w, struct slot *s)
{
	const struct job *j = &w->nb->job;
	struct nvme_ns *ns = j->ns;
	int ret;

	if (j->kind == JOB_RANDOM) {
		s->off = (xorshift(&w->rng) % (w->nb->ws / RAND_LEN)) * RAND_LEN;
	} else {
		if (w->next_off + j->len > w->nb->ws)
			w->next_off = 0;
		s->off = w->next_off;
		w->next_off += j->len;
	}
	s->writing = false;
	s->valid = false;
	w->submitted++;
	ret = nvme_submit_read(ns, w->qp, slot_buf(w, s), s->off >> ns->lba_shift,
			       (uint32_t)(j->len >> ns->lba_shift), io_done, s);
	if (ret) {
		w->submitted--;
		w->err = ret;
	}
}

static void io_done(void *arg, int status)
{
	struct slot *s = arg;
	struct worker *w = s->w;
	const struct job *j = &w->nb->job;
	int ret;

	if (status) {
		/* A positive NVMe status is as fatal to a benchmark as an errno. */
		w->err = status < 0 ? status : -EIO;
		return;
	}
	if (j->kind == JOB_COPY && !s->writing) {
		s->writing = true;
		ret = nvme_submit_write(j->wns, w->wqp, slot_buf(w, s),
					(s->off + j->woff) >> j->wns->lba_shift,
					(uint32_t)(j->len >> j->wns->lba_shift), io_done, s);
		if (ret)
			w->err = ret;
		return;
	}
	if (j->kind == JOB_BOUNCE)
		memcpy(j->gpu + (slot_buf(w, s) - j->buf), slot_buf(w, s), j->len);
	s->valid = true;
	w->done++;
	if (w->submitted < j->n && !w->err)
		submit_read(w, s);
}

static void worker_job(struct worker *w)
{
	const struct job *j = &w->nb->job;

	w->submitted = 0;
	w->done = 0;
	w->err = 0;
	/* Slots this sample does not reach must not be checked with another job's data. */
	for (unsigned int i = 0; i < MAX_QD; i++) {
		w->slot[i].w = w;
		w->slot[i].i = i;
		w->slot[i].valid = false;
	}
	w->t0 = bench_now();
	for (unsigned int i = 0; i < j->qd && w->submitted < j->n && !w->err; i++)
		submit_read(w, &w->slot[i]);
	while (w->done < j->n && !w->err) {
		int ret = nvme_qpair_process_completions(w->qp, 0);

		if (ret >= 0 && w->wqp != w->qp)
			ret += nvme_qpair_process_completions(w->wqp, 0);
		if (ret < 0)
			w->err = ret;
		/*
		 * Nothing completed: give the CPU away. On a machine with more
		 * busy threads than cores (two workers and the controller on two
		 * cores, or anyone else's load) a poller that never yields keeps
		 * the controller thread off its core for a whole scheduler tick.
		 */
		else if (!ret)
			sched_yield();
	}
	w->t1 = bench_now();
	/* After an error, let what is in flight finish before the buffers are reused. */
	while (nvme_qpair_outstanding(w->qp) || nvme_qpair_outstanding(w->wqp)) {
		if (nvme_qpair_process_completions(w->qp, 0) < 0 ||
		    nvme_qpair_process_completions(w->wqp, 0) < 0)
			break;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct nvme_bench *nb = w->nb;

	/* A queue pair belongs to the thread that uses it: allocate them here. */
	w->qp = nvme_qpair_alloc(w->ctrl);
	if (IS_ERR(w->qp))
		w->qp = NULL;
	w->wqp = w->qp;
	if (w->qp && w->wctrl != w->ctrl) {
		w->wqp = nvme_qpair_alloc(w->wctrl);
		if (IS_ERR(w->wqp))
			w->wqp = NULL;
	}
	for (;;) {
		pthread_barrier_wait(&nb->start);
		if (__atomic_load_n(&nb->stop, __ATOMIC_ACQUIRE))
			break;
		if (w->qp && w->wqp)
			worker_job(w);
		pthread_barrier_wait(&nb->end);
	}
	if (w->wqp != w->qp)
		nvme_qpair_free(w->wqp);
	nvme_qpair_free(w->qp);
	return NULL;
}

/* @n workers reading from dev[0] and writing to @wdev (dev[0] but for a copy). */
static int workers_start(struct nvme_bench *nb, unsigned int n, struct nvme_dev *wdev)
{
	int ret;

	nb->stop = false;
	if (pthread_barrier_init(&nb->start, NULL, n + 1) ||
	    pthread_barrier_init(&nb->end, NULL, n + 1))
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++) {
		struct worker *w = &nb->w[i];

		memset(w, 0, sizeof(*w));
		w->nb = nb;
		w->idx = i;
		w->ctrl = nb->dev[0].ctrl;
		w->wctrl = wdev->ctrl;
		w->rng = 0x2545f4914f6cdd1dULL * (i + 1);
		ret = -pthread_create(&w->th, NULL, worker_main, w);
		if (ret) {
			/* The barriers count on every worker: stop those already started. */
			nb->nr_workers = i;
			return ret;
		}
	}
	nb->nr_workers = n;
	return 0;
}

static void workers_stop(struct nvme_bench *nb)
{
	if (!nb->nr_workers)
		return;
	__atomic_store_n(&nb->stop, true, __ATOMIC_RELEASE);
	pthread_barrier_wait(&nb->start);
	for (unsigned int i = 0; i < nb->nr_workers; i++)
		pthread_join(nb->w[i].th, NULL);
	pthread_barrier_destroy(&nb->start);
	pthread_barrier_destroy(&nb->end);
	nb->nr_workers = 0;
}

/* One sample: every worker does @n I/Os; the time from the first start to the last end. */
static double job_run(void *arg, uint64_t n)
{
	struct nvme_bench *nb = arg;
	double t0 = 1e300, t1 = 0;

	nb->job.n = (n + nb->nr_workers - 1) / nb->nr_workers;
	pthread_barrier_wait(&nb->start);
	pthread_barrier_wait(&nb->end);
	for (unsigned int i = 0; i < nb->nr_workers; i++) {
		const struct worker *w = &nb->w[i];

		if (w->err)
			return w->err;
		if (!w->qp || !w->wqp)
			return -EBUSY;
		t0 = w->t0 < t0 ? w->t0 : t0;
		t1 = w->t1 > t1 ? w->t1 : t1;
	}
	/* Per sample, all workers' I/Os count: bench_time divides by @n, so scale. */
	return (t1 - t0) * (double)n / (double)(nb->job.n * nb->nr_workers);
}

/* Whatever the last sample left in the slots must be the data of its offset. */
static bool job_check(struct nvme_bench *nb)
{
	const struct job *j = &nb->job;

	for (unsigned int i = 0; i < nb->nr_workers; i++) {
		const struct worker *w = &nb->w[i];

		for (unsigned int k = 0; k < j->qd; k++) {
			const struct slot *s = &w->slot[k];
			const char *p = slot_buf(w, s);

			if (!s->valid)
				continue;
			if (j->kind == JOB_BOUNCE)
				p = j->gpu + (p - j->buf);
			if (!pattern_check(p, s->off, j->len))
				return false;
		}
	}
	return true;
}

static int measure_job(struct nvme_bench *nb, const char *what, struct bench_stat *st)
{
	int ret = bench_time(nb->b, what, job_run, nb, 0, st);

	if (!ret && !job_check(nb)) {
		bench_skip(nb->b, "%s: the data read is not what the namespace holds", what);
		ret = -EIO;
	}
	return ret;
}

/* --- the figures ---------------------------------------------------------------------- */

struct dma_floor {
	struct pci_dev *dev;
	dma_addr_t addr;
	void *data;
};

static double dma_floor_run(void *arg, uint64_t n)
{
	struct dma_floor *d = arg;
	double t0 = bench_now();

	for (uint64_t i = 0; i < n; i++) {
		int ret = pci_dma_write(d->dev, d->addr, d->data, RAND_LEN);

		if (ret)
			return ret;
	}
	return bench_now() - t0;
}

/* The fabric's 4 KiB DMA rate into host memory through the IOMMU, in thousands per second. */
static int measure_dma_floor(struct nvme_bench *nb, struct bench_stat *st)
{
	struct dma_floor d = { nb->dev[0].pdev, 0, nb->host + RAND_LEN };
	void *dst = nb->host;
	int ret;

	d.addr = dma_map_single(d.dev, dst, RAND_LEN, DMA_BIDIRECTIONAL);
	if (d.addr == DMA_MAPPING_ERROR)
		return dma_mapping_error(d.dev, d.addr);
	ret = bench_time(nb->b, "fabric 4 KiB DMA floor", dma_floor_run, &d, 0, st);
	dma_unmap_single(d.dev, d.addr, RAND_LEN, DMA_BIDIRECTIONAL);
	if (!ret)
		*st = bench_stat_rate(st, 1, 1e3);
	return ret;
}

static int bench_iops(struct nvme_bench *nb)
{
	static const struct bench_target iops = { BENCH_TARGET_VALUE_GE, 1000,
						  ">= 1M IOPS, 2 cores" };
	struct bench_stat floor, st;
	int ret;

	ret = measure_dma_floor(nb, &floor);
	if (ret)
		return ret;
	bench_chart(nb->b, "nvme-iops", "NVMe 4 KiB random read: IOPS vs queue depth",
		    "queue depth per thread", "thousand IOPS", BENCH_CHART_LOGX);
	for (unsigned int t = 1; t <= MAX_THREADS && !ret; t++) {
		ret = workers_start(nb, t, &nb->dev[0]);
		for (size_t q = 0; q < sizeof(qds) / sizeof(qds[0]) && !ret; q++) {
			char what[64], id[48], series[16];

			nb->job = (struct job){ .kind = JOB_RANDOM,
						.qd = qds[q],
						.len = RAND_LEN,
						.buf = nb->host,
						.ns = nb->dev[0].ns };
			snprintf(what, sizeof(what), "4 KiB random read, QD %u, %u thread%s",
				 qds[q], t, t == 1 ? "" : "s");
			ret = measure_job(nb, what, &st);
			if (ret)
				break;
			st = bench_stat_rate(&st, 1, 1e3);
			snprintf(id, sizeof(id), "randread.qd%u.t%u", qds[q], t);
			bench_row_add(nb->b, id, what, "kIOPS", &st, floor.median, "kops",
				      "4 KiB DMA, 1 thread",
				      t == MAX_THREADS && qds[q] == 32 ? &iops : NULL);
			snprintf(series, sizeof(series), "%u thread%s", t, t == 1 ? "" : "s");
			bench_point(nb->b, "nvme-iops", series, qds[q], st.median);
		}
		workers_stop(nb);
	}
	return ret;
}

static int bench_seq(struct nvme_bench *nb)
{
	static const struct bench_target vs_bounce = { BENCH_TARGET_RATIO_GE, 1.8,
						       ">= 1.8x bounce" };
	static const struct bench_target vs_memcpy = { BENCH_TARGET_RATIO_GE, 0.8,
						       ">= 0.8x memcpy" };
	int ret;

	bench_chart(nb->b, "nvme-p2p", "NVMe sequential read into GPU memory, QD 16",
		    "I/O size (KiB)", "GB/s", BENCH_CHART_LOGX);
	ret = workers_start(nb, 1, &nb->dev[0]);
	for (size_t s = 0; s < NR_SEQ && !ret; s++) {
		size_t len = seq_sizes[s];
		struct bench_stat p2p, bounce, mc;
		char sz[16], what[64], id[48];
		double x = (double)len / 1024;

		bench_format_size(sz, sizeof(sz), len);
		if (bench_ref_memcpy(nb->b, len, &mc) < 0) {
			ret = -ENOMEM;
			break;
		}
		nb->job = (struct job){ .kind = JOB_SEQ,
					.qd = SEQ_QD,
					.len = len,
					.buf = nb->gpu,
					.ns = nb->dev[0].ns };
		snprintf(what, sizeof(what), "P2P read %s into %s", sz, pci_dev_label(nb->gpu_dev));
		ret = measure_job(nb, what, &p2p);
		if (ret)
			break;
		nb->job = (struct job){ .kind = JOB_BOUNCE,
					.qd = SEQ_QD,
					.len = len,
					.buf = nb->host,
					.gpu = nb->gpu,
					.ns = nb->dev[0].ns };
		snprintf(what, sizeof(what), "bounce read %s into %s", sz,
			 pci_dev_label(nb->gpu_dev));
		ret = measure_job(nb, what, &bounce);
		if (ret)
			break;
		p2p = bench_stat_rate(&p2p, (double)len, 1e9);
		bounce = bench_stat_rate(&bounce, (double)len, 1e9);
		bench_point(nb->b, "nvme-p2p", "P2P (controller -> GPU BAR)", x, p2p.median);
		bench_point(nb->b, "nvme-p2p", "bounce (host memory, then CPU copy)", x,
			    bounce.median);
		bench_point(nb->b, "nvme-p2p", "memcpy", x, mc.median);
		if (len != (128 << 10) && len != (4 << 10) && len != (1 << 20))
			continue;
		snprintf(what, sizeof(what), "P2P read %s QD16 into %s", sz,
			 pci_dev_label(nb->gpu_dev));
		snprintf(id, sizeof(id), "seq.p2p.%zuk.vs_bounce", len >> 10);
		bench_row_add(nb->b, id, what, "GB/s", &p2p, bounce.median, "GB/s", "bounce path",
			      len == (128 << 10) ? &vs_bounce : NULL);
		snprintf(id, sizeof(id), "seq.p2p.%zuk.vs_memcpy", len >> 10);
		bench_row_add(nb->b, id, what, "GB/s", &p2p, mc.median, "GB/s", "memcpy, same size",
			      len == (128 << 10) ? &vs_memcpy : NULL);
		if (len != (128 << 10))
			continue;
		snprintf(what, sizeof(what), "bounce read %s QD16 into %s", sz,
			 pci_dev_label(nb->gpu_dev));
		bench_row_add(nb->b, "seq.bounce.128k", what, "GB/s", &bounce, mc.median, "GB/s",
			      "memcpy, same size", NULL);
	}
	workers_stop(nb);
	return ret;
}

/*
 * A copy of the working set: read from dev[0]'s namespace into @buf, write
 * from @buf to @dst's namespace, COPY_QD copies of COPY_LEN in flight.
 */
static int measure_copy(struct nvme_bench *nb, struct nvme_dev *dst, char *buf, const char *what,
			struct bench_stat *st)
{
	nb->job = (struct job){ .kind = JOB_COPY,
				.qd = COPY_QD,
				.len = COPY_LEN,
				.buf = buf,
				.ns = nb->dev[0].ns,
				.wns = dst->ns };
	/* Within one namespace the copy goes to the space after the working set. */
	nb->job.woff = dst == &nb->dev[0] ? nb->ws : 0;
	return bench_time(nb->b, what, job_run, nb, 0, st);
}

/* The copies must have arrived: read some back through the main thread's queue pair. */
static int copy_check(struct nvme_bench *nb, struct nvme_dev *dst)
{
	uint64_t woff = dst == &nb->dev[0] ? nb->ws : 0;

	for (uint64_t off = 0; off < nb->ws; off += nb->ws / 4) {
		int ret = nvme_read(dst->ns, dst->qp, nb->host, (off + woff) >> dst->ns->lba_shift,
				    COPY_LEN >> dst->ns->lba_shift);

		if (ret)
			return ret < 0 ? ret : -EIO;
		if (!pattern_check(nb->host, off, COPY_LEN))
			return -EIO;
	}
	return 0;
}

static int bench_cmb(struct nvme_bench *nb, const char *id, const char *where)
{
	struct nvme_dev *dst = &nb->dev[nb->nr_dev - 1];
	struct bench_stat cmb, host;
	char what[96];
	int ret;

	if (!dst->cmb) {
		bench_skip(nb->b, "%s has no published CMB: no CMB copy row",
			   pci_dev_label(dst->pdev));
		return 0;
	}
	ret = workers_start(nb, 1, dst);
	if (!ret) {
		/* Read from the first controller into the CMB, written to its owner's namespace. */
		snprintf(what, sizeof(what), "CMB copy 128 KiB QD8, %s -> %s CMB%s",
			 pci_dev_label(nb->dev[0].pdev), pci_dev_label(dst->pdev), where);
		ret = measure_copy(nb, dst, dst->cmb, what, &cmb);
	}
	if (!ret)
		ret = measure_copy(nb, dst, nb->host, "copy through host memory", &host);
	/* One whole pass of the CMB copy over the working set, so that the check sees it all. */
	if (!ret) {
		double t;

		nb->job.buf = dst->cmb;
		nb->w[0].next_off = 0;
		t = job_run(nb, nb->ws / COPY_LEN);
		ret = t < 0 ? (int)t : 0;
	}
	workers_stop(nb);
	if (!ret)
		ret = copy_check(nb, dst);
	if (ret == -EIO)
		bench_skip(nb->b, "the copied data is not what the source holds");
	if (ret)
		return ret;
	cmb = bench_stat_rate(&cmb, COPY_LEN, 1e9);
	host = bench_stat_rate(&host, COPY_LEN, 1e9);
	bench_row_add(nb->b, id, what, "GB/s", &cmb, host.median, "GB/s",
		      "copy via host memory", NULL);
	return 0;
}

/* --- set-up ---------------------------------------------------------------------------- */

static int dev_probe(struct nvme_bench *nb, struct nvme_dev *d)
{
	struct nvme_ctrl_opts opts = { .io_queue_depth = QUEUE_DEPTH };
	struct nvme_cmb_info cmb;
	int ret;

	ret = nvme_transport_emu_init(&d->t, d->pdev);
	if (ret)
		return ret;
	d->t_init = true;
	d->ctrl = nvme_ctrl_probe(&d->t, &opts);
	if (IS_ERR(d->ctrl)) {
		ret = (int)PTR_ERR(d->ctrl);
		d->ctrl = NULL;
		return ret;
	}
	d->ns = nvme_ctrl_ns_at(d->ctrl, 0);
	if (!d->ns || d->ns->ms) {
		bench_skip(nb->b, "%s has no namespace without metadata", pci_dev_label(d->pdev));
		return -ENODEV;
	}
	d->qp = nvme_qpair_alloc(d->ctrl);
	if (IS_ERR(d->qp)) {
		ret = (int)PTR_ERR(d->qp);
		d->qp = NULL;
		return ret;
	}
	nvme_ctrl_cmb(d->ctrl, &cmb);
	if (cmb.published) {
		d->cmb_len = (size_t)COPY_QD * COPY_LEN;
		d->cmb = pci_alloc_p2pmem(d->pdev, d->cmb_len);
	}
	return 0;
}

static void dev_remove(struct nvme_dev *d)
{
	nvme_qpair_free(d->qp);
	/* Removal waits for every allocation from the CMB: free ours first. */
	if (d->cmb)
		pci_free_p2pmem(d->pdev, d->cmb, d->cmb_len);
	nvme_ctrl_remove(d->ctrl);
	if (d->t_init)
		nvme_transport_emu_fini(&d->t);
}

/* Write the pattern over the working set: 1 MiB commands from the main thread. */
static int fill(struct nvme_bench *nb, struct nvme_dev *d)
{
	const size_t chunk = 1 << 20;

	for (uint64_t off = 0; off < nb->ws; off += chunk) {
		size_t len = nb->ws - off < chunk ? nb->ws - off : chunk;
		int ret;

		pattern_fill(nb->host, off, len);
		ret = nvme_write(d->ns, d->qp, nb->host, off >> d->ns->lba_shift,
				 (uint32_t)(len >> d->ns->lba_shift));
		if (ret)
			return ret < 0 ? ret : -EIO;
	}
	return 0;
}

static int setup(struct nvme_bench *nb)
{
	struct machine *m = nb->m;
	struct pci_dev *dev = NULL;
	struct nvme_dev *last;
	int ret;

	while ((dev = pci_fabric_next_dev(machine_fabric(m), dev)) && nb->nr_dev < 2)
		if (nvme_emu_from_pdev(dev))
			nb->dev[nb->nr_dev++].pdev = dev;
	if (!nb->nr_dev) {
		bench_skip(nb->b, "the machine has no emulated NVMe controller");
		return -ENODEV;
	}
	if (!nb->cmb_only)
		nb->gpu_dev = bench_p2p_provider(nb->b, nb->dev[0].pdev, PCI_P2PDMA_MAP_BUS_ADDR);
	if (!nb->cmb_only && !nb->gpu_dev) {
		bench_skip(nb->b, "no GPU memory at map type BUS_ADDR from %s",
			   pci_dev_label(nb->dev[0].pdev));
		return -ENODEV;
	}
	for (unsigned int i = 0; i < nb->nr_dev; i++) {
		ret = dev_probe(nb, &nb->dev[i]);
		if (ret)
			return ret;
	}
	last = &nb->dev[nb->nr_dev - 1];
	nb->ws = bench_quick(nb->b) ? WS_QUICK : WS_FULL;
	for (unsigned int i = 0; i < nb->nr_dev; i++) {
		uint64_t need = nb->ws * (i == 0 && nb->nr_dev == 1 ? 2 : 1);

		if (nb->dev[i].ns->size < need) {
			bench_skip(nb->b, "%s: namespace 1 is smaller than the %llu MiB needed",
				   pci_dev_label(nb->dev[i].pdev),
				   (unsigned long long)(need >> 20));
			return -ENODEV;
		}
	}
	nb->host = aligned_alloc(4096, HOST_BUF);
	if (!nb->cmb_only)
		nb->gpu = pci_alloc_p2pmem(nb->gpu_dev, HOST_BUF);
	if (!nb->host || (!nb->cmb_only && !nb->gpu))
		return -ENOMEM;
	memset(nb->host, 0, HOST_BUF);
	bench_progress_note(nb->b, "writing the working set");
	ret = fill(nb, &nb->dev[0]);
	if (ret)
		return ret;
	/*
	 * Mapped once: the commands of the benchmarks map nothing. The copy
	 * reads into the last controller's CMB on dev[0] and writes from it
	 * on the last one; the host buffer serves both ways on both.
	 */
	if (nb->gpu)
		ret = nvme_ctrl_register_buffer(nb->dev[0].ctrl, nb->gpu, HOST_BUF);
	for (unsigned int i = 0; i < nb->nr_dev && !ret; i++) {
		ret = nvme_ctrl_register_buffer(nb->dev[i].ctrl, nb->host, HOST_BUF);
		if (!ret && last->cmb && (i == 0 || &nb->dev[i] == last))
			ret = nvme_ctrl_register_buffer(nb->dev[i].ctrl, last->cmb, last->cmb_len);
	}
	return ret;
}

static void teardown(struct nvme_bench *nb)
{
	struct nvme_dev *last = &nb->dev[nb->nr_dev ? nb->nr_dev - 1 : 0];

	workers_stop(nb);
	/* Unregistering what was never registered is a harmless -ENOENT. */
	for (unsigned int i = 0; i < nb->nr_dev; i++) {
		if (!nb->dev[i].ctrl)
			continue;
		nvme_ctrl_unregister_buffer(nb->dev[i].ctrl, nb->host);
		if (nb->gpu)
			nvme_ctrl_unregister_buffer(nb->dev[i].ctrl, nb->gpu);
		if (last->cmb)
			nvme_ctrl_unregister_buffer(nb->dev[i].ctrl, last->cmb);
	}
	if (nb->gpu)
		pci_free_p2pmem(nb->gpu_dev, nb->gpu, HOST_BUF);
	free(nb->host);
	for (unsigned int i = nb->nr_dev; i-- > 0;)
		dev_remove(&nb->dev[i]);
}

/*
 * The machine of the CMB copy when the run's has one controller: the
 * default machine with nvme1 on a third port of sw0, beside nvme0. Its
 * domain and bus offset differ from the default machine's, so that both
 * exist at once without their BARs' CPU addresses meeting.
 */
static const struct {
	const char *from, *to;
} two_ctrl_edits[] = {
	{ "domain = 0x1000", "domain = 0x2000" },
	{ "bus-offset = 0x800000000000", "bus-offset = 0x900000000000" },
	{ "ports = 2", "ports = 3" },
};

static const char two_ctrl_nvme1[] = "\n[endpoint nvme1]\n"
				     "parent = sw0.2\n"
				     "model = nvme\n"
				     "function = 0\n"
				     "vendor = 0x4854\n"
				     "device = 0x0001\n"
				     "class = 0x010802\n"
				     "ns1 = 256M\n"
				     "ns1-lba = 512\n"
				     "cmb = 64M\n";

/* Return: 0 with the text in *@out (free() it), -ENOMEM, or -ENODEV when the default changed. */
static int two_ctrl_config(char **out)
{
	const char *def = machine_default_config();
	size_t len = strlen(def) + sizeof(two_ctrl_nvme1);
	char *text = malloc(len), *at;

	if (!text)
		return -ENOMEM;
	snprintf(text, len, "%s", def);
	for (size_t i = 0; i < sizeof(two_ctrl_edits) / sizeof(two_ctrl_edits[0]); i++) {
		size_t from = strlen(two_ctrl_edits[i].from), to = strlen(two_ctrl_edits[i].to);

		at = strstr(text, two_ctrl_edits[i].from);
		if (!at || from != to) {
			free(text);
			return -ENODEV;
		}
		memcpy(at, two_ctrl_edits[i].to, to);
	}
	strcat(text, two_ctrl_nvme1);
	*out = text;
	return 0;
}

/* The CMB copy between two controllers, on a machine built for it. */
static int cmb_two_ctrl(struct bench *b)
{
	struct nvme_bench *nb;
	struct machine *m;
	char err[256] = "";
	char *text = NULL;
	int ret = two_ctrl_config(&text);

	if (ret == -ENODEV)
		bench_skip(b, "cannot derive a two-controller machine from the default one");
	if (ret)
		return ret;
	m = machine_load_string(text, "default machine + nvme1", err, sizeof(err));
	free(text);
	if (IS_ERR_OR_NULL(m)) {
		bench_skip(b, "two-controller machine: %s", err[0] ? err : "cannot build it");
		return m ? (int)PTR_ERR(m) : -ENOMEM;
	}
	nb = calloc(1, sizeof(*nb));
	if (!nb) {
		machine_destroy(m);
		return -ENOMEM;
	}
	nb->b = b;
	nb->m = m;
	nb->cmb_only = true;
	bench_progress_note(b, "CMB copy on the default machine + nvme1");
	ret = setup(nb);
	if (!ret && nb->nr_dev < 2) {
		bench_skip(b, "the two-controller machine has %u controller", nb->nr_dev);
		ret = -ENODEV;
	}
	if (!ret)
		ret = bench_cmb(nb, "cmb_copy.128k", " (default+nvme1)");
	teardown(nb);
	free(nb);
	machine_destroy(m);
	return ret;
}

static int nvme_bench(struct bench *b)
{
	struct nvme_bench *nb = calloc(1, sizeof(*nb));
	unsigned int nr_dev;
	int ret;

	if (!nb)
		return -ENOMEM;
	nb->b = b;
	nb->m = bench_machine(b);
	ret = setup(nb);
	if (!ret)
		ret = bench_iops(nb);
	if (!ret)
		ret = bench_seq(nb);
	/* With one controller, the copy within it, and between two on a machine of its own. */
	if (!ret)
		ret = bench_cmb(nb, nb->nr_dev > 1 ? "cmb_copy.128k" : "cmb_copy.within.128k", "");
	nr_dev = nb->nr_dev;
	teardown(nb);
	free(nb);
	if (!ret && nr_dev == 1)
		ret = cmb_two_ctrl(b);
	return ret;
}

const struct bench_module bench_nvme_module = {
	.name = "nvme",
	.summary = "NVMe 4 KiB random read IOPS, sequential read into GPU memory P2P vs bounce, "
		   "CMB copy",
	.steps = 30,
	.run = nvme_bench,
};
