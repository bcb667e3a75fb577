// SPDX-License-Identifier: MIT
/*
 * The benchmark harness: runs, measurements that repeat until they are
 * stable, the references every figure is set against, rows, charts' data
 * and the progress bar. bench-report.c prints and writes what is kept here.
 *
 * Stability. A sample is one timed batch of operations, long enough (about
 * 20 ms) that the clock's resolution and one preemption do not dominate
 * it. A figure is the median of the last BENCH_WINDOW samples once those
 * agree within 5%: a shared machine has bursts of noise, and the window
 * moves past a burst instead of averaging it in. A figure that never
 * settles is still reported after 40 samples or 3 seconds, with the spread
 * it had, so the table shows how much to trust it.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define STABLE_SPREAD	     0.05
#define MAX_SAMPLES	     40
#define BUDGET_SECONDS	     3.0
#define QUICK_SAMPLES	     3
#define SAMPLE_SECONDS	     0.020
#define QUICK_SAMPLE_SECONDS 0.001

double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Grow an array of @size-byte elements to hold one more; false when out of memory. */
static bool grow(void **arr, size_t *cap, size_t nr, size_t size)
{
	size_t ncap;
	void *p;

	if (nr < *cap)
		return true;
	ncap = *cap ? *cap * 2 : 16;
	p = realloc(*arr, ncap * size);
	if (!p)
		return false;
	*arr = p;
	*cap = ncap;
	return true;
}

const char *bench_format_size(char *s, size_t n, uint64_t bytes)
{
	if (bytes >= (1ULL << 30) && !(bytes & ((1ULL << 30) - 1)))
		snprintf(s, n, "%llu GiB", (unsigned long long)(bytes >> 30));
	else if (bytes >= (1ULL << 20) && !(bytes & ((1ULL << 20) - 1)))
		snprintf(s, n, "%llu MiB", (unsigned long long)(bytes >> 20));
	else if (bytes >= (1ULL << 10) && !(bytes & ((1ULL << 10) - 1)))
		snprintf(s, n, "%llu KiB", (unsigned long long)(bytes >> 10));
	else
		snprintf(s, n, "%llu B", (unsigned long long)bytes);
	return s;
}

/* --- the run ------------------------------------------------------------------------ */

struct bench *bench_create(const struct bench_opts *opts)
{
	struct bench *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->opts = *opts;
	if (!b->opts.prog)
		b->opts.prog = "hetmem bench";
	b->bar = opts->progress && isatty(STDERR_FILENO);
	b->started = bench_now();
	return b;
}

void bench_destroy(struct bench *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->nr_charts; i++) {
		for (size_t j = 0; j < b->charts[i].nr_series; j++) {
			free(b->charts[i].series[j].x);
			free(b->charts[i].series[j].y);
		}
		free(b->charts[i].series);
	}
	free(b->charts);
	free(b->mods);
	free(b->refs);
	free(b->rows);
	free(b);
}

bool bench_quick(const struct bench *b)
{
	return b->opts.quick;
}

struct machine *bench_machine(const struct bench *b)
{
	return b->opts.machine;
}

size_t bench_nr_rows(const struct bench *b)
{
	return b->nr_rows;
}

/* --- the progress bar ------------------------------------------------------------------ */

static unsigned int term_width(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
		return ws.ws_col;
	return 80;
}

/*
 * One line, redrawn in place: the bar, the percentage, the step. A
 * module's steps are an estimate; the bar never runs past its share.
 */
static void progress_draw(struct bench *b, const char *what)
{
	unsigned int width = term_width(), done, fill, cols = 24;
	char line[512];
	int len;

	if (!b->bar || !b->total_steps)
		return;
	done = b->base_steps + (b->cur_steps < b->cur->steps ? b->cur_steps : b->cur->steps);
	if (done > b->total_steps)
		done = b->total_steps;
	fill = cols * done / b->total_steps;
	len = snprintf(line, sizeof(line), "\r[%.*s%*s] %3u%%  %s: %s", (int)fill,
		       "########################", (int)(cols - fill), "",
		       100 * done / b->total_steps, b->cur->name, what ? what : "");
	if (len < 0)
		return;
	/* Cut at the terminal's edge: a wrapped line cannot be redrawn with \r. */
	if ((unsigned int)len > width)
		len = (int)width;
	fprintf(stderr, "%.*s\033[K", len, line);
	fflush(stderr);
}

void bench_progress_note(struct bench *b, const char *what)
{
	if (b->cur)
		progress_draw(b, what);
}

int bench_run_module(struct bench *b, const struct bench_module *m, unsigned int total_steps)
{
	struct bench_module_run *r;
	int ret;

	if (!grow((void **)&b->mods, &b->cap_mods, b->nr_mods, sizeof(*b->mods)))
		return -ENOMEM;
	r = &b->mods[b->nr_mods++];
	memset(r, 0, sizeof(*r));
	r->name = m->name;
	b->cur = m;
	b->cur_steps = 0;
	b->total_steps = total_steps;
	if (b->bar)
		progress_draw(b, "starting");
	else if (b->opts.progress)
		fprintf(stderr, "%s: %s\n", b->opts.prog, m->name);

	ret = m->run(b);

	r = &b->mods[b->nr_mods - 1];
	r->ret = ret;
	b->base_steps += m->steps;
	b->cur_steps = 0;
	if (b->bar) {
		if (b->base_steps >= b->total_steps)
			fputs("\r\033[K", stderr);
		else
			progress_draw(b, "done");
	}
	b->cur = NULL;
	return ret;
}

void bench_skip(struct bench *b, const char *fmt, ...)
{
	struct bench_module_run *r = b->nr_mods ? &b->mods[b->nr_mods - 1] : NULL;
	char msg[160];
	size_t len;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (b->bar)
		fputs("\r\033[K", stderr);
	fprintf(stderr, "%s: %s: %s\n", b->opts.prog, b->cur ? b->cur->name : "bench", msg);
	if (!r)
		return;
	len = strlen(r->note);
	snprintf(r->note + len, sizeof(r->note) - len, "%s%s", len ? "; " : "", msg);
}

/* --- figures ----------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_percentile(double *v, size_t n, double p)
{
	size_t rank;

	qsort(v, n, sizeof(*v), cmp_double);
	/* Nearest rank: the smallest value with at least p% of the values at or below it. */
	rank = (size_t)ceil(p / 100.0 * (double)n);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

/* Median and spread of the window; the window itself is kept oldest first. */
static void stat_finish(struct bench_stat *st)
{
	double w[BENCH_WINDOW];
	unsigned int n = st->nr_window;

	if (!n) {
		st->median = 0;
		st->spread = 0;
		return;
	}
	memcpy(w, st->window, n * sizeof(w[0]));
	qsort(w, n, sizeof(w[0]), cmp_double);
	st->median = n % 2 ? w[n / 2] : (w[n / 2 - 1] + w[n / 2]) / 2;
	st->spread = st->median > 0 ? (w[n - 1] - w[0]) / st->median : 0;
	st->stable = n == BENCH_WINDOW && st->spread < STABLE_SPREAD;
}

struct bench_stat bench_stat_of(const double *v, size_t n)
{
	struct bench_stat st = { .samples = (unsigned int)n };
	size_t first = n > BENCH_WINDOW ? n - BENCH_WINDOW : 0;

	for (size_t i = first; i < n; i++)
		st.window[st.nr_window++] = v[i];
	stat_finish(&st);
	return st;
}

struct bench_stat bench_stat_rate(const struct bench_stat *st, double per_op, double scale)
{
	struct bench_stat r = *st;

	for (unsigned int i = 0; i < r.nr_window; i++)
		r.window[i] = st->window[i] > 0 ? per_op / st->window[i] / scale : 0;
	stat_finish(&r);
	return r;
}

struct bench_stat bench_stat_scale(const struct bench_stat *st, double k)
{
	struct bench_stat r = *st;

	for (unsigned int i = 0; i < r.nr_window; i++)
		r.window[i] = st->window[i] * k;
	stat_finish(&r);
	return r;
}

int bench_measure(struct bench *b, const char *what, bench_sample_fn fn, void *arg,
		  struct bench_stat *st)
{
	double v[MAX_SAMPLES], start = bench_now();
	size_t n = 0;

	if (b->cur)
		progress_draw(b, what);
	for (;;) {
		double s = fn(arg);

		if (s < 0)
			return (int)s;
		v[n++] = s;
		if (b->opts.quick) {
			if (n >= QUICK_SAMPLES)
				break;
			continue;
		}
		if (n >= BENCH_WINDOW) {
			*st = bench_stat_of(v, n);
			if (st->stable || bench_now() - start > BUDGET_SECONDS)
				break;
		}
		if (n == MAX_SAMPLES)
			break;
	}
	*st = bench_stat_of(v, n);
	b->cur_steps++;
	return 0;
}

struct timed {
	bench_run_fn fn;
	void *arg;
	uint64_t n;
};

static double timed_sample(void *arg)
{
	struct timed *t = arg;
	double s = t->fn(t->arg, t->n);

	return s < 0 ? s : s / (double)t->n;
}

int bench_time(struct bench *b, const char *what, bench_run_fn fn, void *arg, uint64_t n,
	       struct bench_stat *st)
{
	double target = b->opts.quick ? QUICK_SAMPLE_SECONDS : SAMPLE_SECONDS;
	struct timed t = { fn, arg, n ? n : 1 };

	/*
	 * Find a batch that lasts about @target: grow it eightfold while it
	 * is much shorter, then scale it. Each size is tried three times and
	 * judged by its fastest try: one preemption, or a device thread that
	 * went to sleep, must not make a single operation look like a whole
	 * sample. The first batches also warm the caches and fault the
	 * buffers in.
	 */
	while (!n) {
		double s = -1;

		for (int i = 0; i < 3; i++) {
			double one = fn(arg, t.n);

			if (one < 0)
				return (int)one;
			if (s < 0 || one < s)
				s = one;
			/* A quarter of a second is no stall: do not repeat it. */
			if (s >= 0.25)
				break;
		}
		if (s >= target / 8 || t.n >= (1ULL << 40)) {
			double scaled = (double)t.n * target / (s > 0 ? s : 1e-9);

			t.n = scaled < 1 ? 1 : (uint64_t)scaled;
			break;
		}
		t.n *= 8;
	}
	return bench_measure(b, what, timed_sample, &t, st);
}

/* --- references --------------------------------------------------------------------------- */

static struct bench_ref *ref_add(struct bench *b, const char *name, const char *unit, size_t size,
				 const struct bench_stat *st)
{
	struct bench_ref *r;

	if (!grow((void **)&b->refs, &b->cap_refs, b->nr_refs, sizeof(*b->refs)))
		return NULL;
	r = &b->refs[b->nr_refs++];
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	snprintf(r->unit, sizeof(r->unit), "%s", unit);
	r->size = size;
	r->st = *st;
	return r;
}

struct copy {
	void *dst, *src;
	size_t size;
};

static double copy_run(void *arg, uint64_t n)
{
	struct copy *c = arg;
	double t0 = bench_now();

	for (uint64_t i = 0; i < n; i++) {
		memcpy(c->dst, c->src, c->size);
		/* The copy is the work: tell the compiler its result is used. */
		__asm__ volatile("" : : "r"(c->dst) : "memory");
	}
	return bench_now() - t0;
}

double bench_ref_memcpy(struct bench *b, size_t size, struct bench_stat *st)
{
	struct bench_stat sec, bw;
	struct copy c = { .size = size };
	char name[48], sz[16];
	int ret;

	for (size_t i = 0; i < b->nr_refs; i++) {
		if (b->refs[i].size == size) {
			if (st)
				*st = b->refs[i].st;
			return b->refs[i].st.median;
		}
	}
	c.dst = aligned_alloc(4096, (size + 4095) & ~(size_t)4095);
	c.src = aligned_alloc(4096, (size + 4095) & ~(size_t)4095);
	if (!c.dst || !c.src) {
		free(c.dst);
		free(c.src);
		return -ENOMEM;
	}
	/* Fault both in and give the source data that is not all zeroes. */
	memset(c.dst, 0, size);
	for (size_t i = 0; i < size; i++)
		((unsigned char *)c.src)[i] = (unsigned char)(i * 131);

	snprintf(name, sizeof(name), "memcpy %s", bench_format_size(sz, sizeof(sz), size));
	ret = bench_time(b, name, copy_run, &c, 0, &sec);
	free(c.dst);
	free(c.src);
	if (ret)
		return ret;
	bw = bench_stat_rate(&sec, (double)size, 1e9);
	if (!ref_add(b, name, "GB/s", size, &bw))
		return -ENOMEM;
	if (st)
		*st = bw;
	return bw.median;
}

struct pingpong {
	int ping, pong;
	volatile bool stop;
};

/* The other side: wait for a ping, answer with a pong, until told to stop. */
static void *pong_thread(void *arg)
{
	struct pingpong *p = arg;
	uint64_t v;

	for (;;) {
		if (read(p->ping, &v, sizeof(v)) != sizeof(v))
			break;
		if (__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE))
			break;
		v = 1;
		if (write(p->pong, &v, sizeof(v)) != sizeof(v))
			break;
	}
	return NULL;
}

static double pingpong_run(void *arg, uint64_t n)
{
	struct pingpong *p = arg;
	double t0 = bench_now();
	uint64_t v;

	for (uint64_t i = 0; i < n; i++) {
		v = 1;
		if (write(p->ping, &v, sizeof(v)) != sizeof(v) ||
		    read(p->pong, &v, sizeof(v)) != sizeof(v))
			return -EIO;
	}
	return bench_now() - t0;
}

double bench_ref_wakeup(struct bench *b, struct bench_stat *st)
{
	static const char name[] = "wake-up round trip";
	struct pingpong p = { .stop = false };
	struct bench_stat sec, us;
	pthread_t th;
	uint64_t v = 1;
	int ret;

	for (size_t i = 0; i < b->nr_refs; i++) {
		if (!strcmp(b->refs[i].name, name)) {
			if (st)
				*st = b->refs[i].st;
			return b->refs[i].st.median;
		}
	}
	/* Blocking descriptors: each read() sleeps until the other thread writes. */
	p.ping = eventfd(0, EFD_CLOEXEC);
	p.pong = eventfd(0, EFD_CLOEXEC);
	if (p.ping < 0 || p.pong < 0) {
		ret = -errno;
		goto out;
	}
	ret = -pthread_create(&th, NULL, pong_thread, &p);
	if (ret)
		goto out;
	ret = bench_time(b, name, pingpong_run, &p, 0, &sec);
	__atomic_store_n(&p.stop, true, __ATOMIC_RELEASE);
	if (write(p.ping, &v, sizeof(v)) != sizeof(v) && !ret)
		ret = -EIO;
	pthread_join(th, NULL);
out:
	if (p.ping >= 0)
		close(p.ping);
	if (p.pong >= 0)
		close(p.pong);
	if (ret)
		return ret;
	us = bench_stat_scale(&sec, 1e6);
	if (!ref_add(b, name, "us", 0, &us))
		return -ENOMEM;
	if (st)
		*st = us;
	return us.median;
}

/* --- rows ------------------------------------------------------------------------------ */

static enum bench_met judge(const struct bench_target *t, double value, double ratio)
{
	bool ok;

	switch (t ? t->kind : BENCH_TARGET_NONE) {
	case BENCH_TARGET_VALUE_LT:
		ok = value < t->bound;
		break;
	case BENCH_TARGET_VALUE_LE:
		ok = value <= t->bound;
		break;
	case BENCH_TARGET_VALUE_GE:
		ok = value >= t->bound;
		break;
	case BENCH_TARGET_RATIO_GE:
		ok = ratio >= t->bound;
		break;
	case BENCH_TARGET_RATIO_LE:
		ok = ratio <= t->bound;
		break;
	default:
		return BENCH_MET_NA;
	}
	return ok ? BENCH_MET_YES : BENCH_MET_NO;
}

void bench_row_add(struct bench *b, const char *id, const char *figure, const char *unit,
		   const struct bench_stat *st, double ref, const char *ref_unit,
		   const char *ref_name, const struct bench_target *t)
{
	const char *mod = b->cur ? b->cur->name : "bench";
	struct bench_row *r;

	if (!grow((void **)&b->rows, &b->cap_rows, b->nr_rows, sizeof(*b->rows))) {
		bench_skip(b, "out of memory: row %s lost", id);
		return;
	}
	r = &b->rows[b->nr_rows++];
	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%s.%s", mod, id);
	snprintf(r->bench, sizeof(r->bench), "%s", mod);
	snprintf(r->figure, sizeof(r->figure), "%s", figure);
	snprintf(r->unit, sizeof(r->unit), "%s", unit);
	snprintf(r->ref_unit, sizeof(r->ref_unit), "%s", ref_unit);
	snprintf(r->ref_name, sizeof(r->ref_name), "%s", ref_name);
	snprintf(r->target, sizeof(r->target), "%s", t && t->text ? t->text : "-");
	r->value = st->median;
	r->spread = st->spread;
	r->samples = st->samples;
	r->ref = ref;
	r->ratio = ref > 0 ? st->median / ref : 0;
	r->met = judge(t, r->value, r->ratio);
}

/* --- charts ------------------------------------------------------------------------------ */

static struct bench_chart *chart_find(struct bench *b, const char *id)
{
	for (size_t i = 0; i < b->nr_charts; i++)
		if (!strcmp(b->charts[i].id, id))
			return &b->charts[i];
	return NULL;
}

void bench_chart(struct bench *b, const char *id, const char *title, const char *xlabel,
		 const char *ylabel, unsigned int flags)
{
	struct bench_chart *c = chart_find(b, id);

	if (!c) {
		if (!grow((void **)&b->charts, &b->cap_charts, b->nr_charts, sizeof(*b->charts)))
			return;
		c = &b->charts[b->nr_charts++];
		memset(c, 0, sizeof(*c));
	}
	snprintf(c->id, sizeof(c->id), "%s", id);
	snprintf(c->title, sizeof(c->title), "%s", title);
	snprintf(c->xlabel, sizeof(c->xlabel), "%s", xlabel);
	snprintf(c->ylabel, sizeof(c->ylabel), "%s", ylabel);
	c->flags = flags;
}

static struct bench_series *series_get(struct bench *b, const char *chart, const char *name)
{
	struct bench_chart *c = chart_find(b, chart);
	struct bench_series *s;

	if (!c)
		return NULL;
	for (size_t i = 0; i < c->nr_series; i++)
		if (!strcmp(c->series[i].name, name))
			return &c->series[i];
	s = realloc(c->series, (c->nr_series + 1) * sizeof(*s));
	if (!s)
		return NULL;
	c->series = s;
	s = &c->series[c->nr_series++];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	return s;
}

static bool series_push(struct bench_series *s, double x, double y)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		double *nx = realloc(s->x, cap * sizeof(*nx)), *ny;

		if (!nx)
			return false;
		s->x = nx;
		ny = realloc(s->y, cap * sizeof(*ny));
		if (!ny)
			return false;
		s->y = ny;
		s->cap = cap;
	}
	s->x[s->n] = x;
	s->y[s->n] = y;
	s->n++;
	return true;
}

void bench_point(struct bench *b, const char *chart, const char *series, double x, double y)
{
	struct bench_series *s = series_get(b, chart, series);

	if (s)
		series_push(s, x, y);
}

void bench_distribution(struct bench *b, const char *chart, const char *series, const double *v,
			size_t n)
{
	struct bench_series *s = series_get(b, chart, series);
	double *sorted;

	if (!s || !n)
		return;
	sorted = malloc(n * sizeof(*sorted));
	if (!sorted)
		return;
	memcpy(sorted, v, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_double);
	/* Stored as the cumulative fraction at each value: the chart is drawn from it as is. */
	for (size_t i = 0; i < n; i++)
		if (!series_push(s, sorted[i], (double)(i + 1) / (double)n))
			break;
	free(sorted);
}
