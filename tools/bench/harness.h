/* SPDX-License-Identifier: MIT */
/*
 * The benchmark harness: repeat a measurement until its figure is stable,
 * set it against a reference measured in the same run, and report the
 * rows as one table, as JSON and as charts.
 *
 * These machines are shared and noisy: an absolute figure says little, a
 * ratio to a limit or an alternative taken a few seconds apart on the same
 * machine says a lot. Every row therefore carries its reference and the
 * ratio, and the target of Documentation/performance.md it is judged by.
 *
 * A benchmark is a module (struct bench_module) with one run() that takes
 * its measurements through bench_measure() or bench_time() and adds rows
 * with bench_row_add(). Charts are optional: bench_point() and
 * bench_distribution() record what bench_write_plots() draws.
 */
#ifndef HETMEM_BENCH_HARNESS_H
#define HETMEM_BENCH_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <hetmem/pci-p2pdma.h>

struct machine;
struct pci_dev;
struct bench;

/* The last BENCH_WINDOW samples of a measurement decide its figure. */
#define BENCH_WINDOW 5

/**
 * struct bench_stat - a figure and how much it moved
 * @median: median of the last window of samples
 * @spread: (largest - smallest) / median over that window
 * @samples: samples taken in all
 * @stable: the window's spread reached the goal before the budget ran out
 * @window: the window's samples, oldest first (@nr_window of them)
 * @nr_window: samples in @window, at most BENCH_WINDOW
 */
struct bench_stat {
	double median;
	double spread;
	unsigned int samples;
	bool stable;
	double window[BENCH_WINDOW];
	unsigned int nr_window;
};

/* What a target bounds: the figure itself, or its ratio to the reference. */
enum bench_target_kind {
	BENCH_TARGET_NONE,
	BENCH_TARGET_VALUE_LT,
	BENCH_TARGET_VALUE_LE,
	BENCH_TARGET_VALUE_GE,
	BENCH_TARGET_RATIO_GE,
	BENCH_TARGET_RATIO_LE,
};

/**
 * struct bench_target - what Documentation/performance.md asks of a figure
 * @kind: what is bounded, and which way
 * @bound: the bound, in the figure's unit or as a ratio
 * @text: the target as the documentation states it ("< 5 ns",
 *	  ">= 1.8x bounce")
 */
struct bench_target {
	enum bench_target_kind kind;
	double bound;
	const char *text;
};

enum bench_met {
	BENCH_MET_NA,
	BENCH_MET_YES,
	BENCH_MET_NO,
};

/**
 * struct bench_row - one line of the table
 * @id: stable identifier for scripts ("module.figure"), the same with and
 *	without --quick
 * @bench: the module
 * @figure: what was measured, for people
 * @unit: the figure's unit
 * @value: the figure (a median)
 * @spread: its relative spread over the last window
 * @samples: samples taken
 * @ref: the reference figure, measured in the same run
 * @ref_unit: its unit
 * @ref_name: what the reference is
 * @ratio: @value / @ref
 * @target: the target's text, "-" without one
 * @met: whether the target was met
 */
struct bench_row {
	char id[48];
	char bench[16];
	char figure[64];
	char unit[12];
	double value;
	double spread;
	unsigned int samples;
	double ref;
	char ref_unit[12];
	char ref_name[48];
	double ratio;
	char target[40];
	enum bench_met met;
};

/**
 * struct bench_module - one benchmark
 * @name: what `hetmem bench NAME` selects it by
 * @summary: one line for --help
 * @steps: how many measurements it takes, roughly (for the progress bar)
 * @run: take the measurements and add the rows; returns 0, -ENODEV when
 *	 the machine lacks what it measures (it says why with bench_skip()),
 *	 or another negative errno when something that must work did not
 */
struct bench_module {
	const char *name;
	const char *summary;
	unsigned int steps;
	int (*run)(struct bench *b);
};

/**
 * struct bench_opts - how a run is made
 * @quick: tiny sizes and few samples, to check the shape of the output
 *	   and the correctness of what is computed, never speed
 * @machine: the machine the device benchmarks use, or NULL
 * @machine_name: what to call it in the output
 * @progress: draw a progress bar on stderr (when it is a terminal)
 * @prog: the program's name, for messages
 */
struct bench_opts {
	bool quick;
	struct machine *machine;
	const char *machine_name;
	bool progress;
	const char *prog;
};

/* --- a run ------------------------------------------------------------------------ */

/**
 * bench_create - start a run
 * @opts: how; copied
 *
 * Return: the run, or NULL when out of memory.
 */
struct bench *bench_create(const struct bench_opts *opts);

/**
 * bench_destroy - free a run
 * @b: the run, or NULL
 */
void bench_destroy(struct bench *b);

/**
 * bench_run_module - run one module and record how it went
 * @b: the run
 * @m: the module
 * @total_steps: steps of every module of the run, for the progress bar
 *
 * Return: what @m->run returned.
 */
int bench_run_module(struct bench *b, const struct bench_module *m, unsigned int total_steps);

/**
 * bench_quick - whether this is a --quick run
 * @b: the run
 *
 * Return: true for --quick.
 */
bool bench_quick(const struct bench *b);

/**
 * bench_machine - the machine the device benchmarks run on
 * @b: the run
 *
 * Return: the machine, or NULL when the run has none.
 */
struct machine *bench_machine(const struct bench *b);

/**
 * bench_skip - say why the current module measures nothing (or less)
 * @b: the run
 * @fmt: printf format of the reason
 *
 * The reason goes to stderr, into the table's footer and into the JSON.
 */
void bench_skip(struct bench *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --- measuring --------------------------------------------------------------------- */

/**
 * typedef bench_sample_fn - take one sample
 * @arg: the caller's
 *
 * Return: the sample in the figure's unit (positive), or a negative errno
 * that ends the measurement.
 */
typedef double (*bench_sample_fn)(void *arg);

/**
 * bench_measure - sample until the figure is stable
 * @b: the run
 * @what: what is measured, for the progress bar
 * @fn: takes one sample
 * @arg: its argument
 * @st: the figure
 *
 * Samples until the last BENCH_WINDOW agree within 5% of their median, or
 * 40 samples were taken, or 3 seconds passed (whichever comes first, and
 * never fewer than BENCH_WINDOW samples). A --quick run takes 3 samples.
 *
 * Return: 0, or the negative errno a sample returned.
 */
int bench_measure(struct bench *b, const char *what, bench_sample_fn fn, void *arg,
		  struct bench_stat *st);

/**
 * typedef bench_run_fn - do some operations and time them
 * @arg: the caller's
 * @n: how many operations
 *
 * The callee times itself, so it may leave out work it must do between
 * operations and that is not the figure (undoing a migration, say).
 *
 * Return: the seconds the @n operations took (positive), or a negative
 * errno.
 */
typedef double (*bench_run_fn)(void *arg, uint64_t n);

/**
 * bench_time - seconds per operation, sampled until stable
 * @b: the run
 * @what: what is measured, for the progress bar
 * @fn: does and times @n operations
 * @arg: its argument
 * @n: operations per sample, or 0 to have the harness find how many make a
 *     sample last about 20 ms (1 ms with --quick)
 * @st: seconds per operation
 *
 * Return: 0, or the negative errno @fn returned.
 */
int bench_time(struct bench *b, const char *what, bench_run_fn fn, void *arg, uint64_t n,
	       struct bench_stat *st);

/**
 * bench_stat_rate - turn seconds per operation into a rate
 * @st: seconds per operation
 * @per_op: units per operation (bytes, I/Os, ...)
 * @scale: what the rate is divided by (1e9 for GB/s)
 *
 * Each sample of the window is converted, so median and spread are those
 * of the rate.
 *
 * Return: the rate.
 */
struct bench_stat bench_stat_rate(const struct bench_stat *st, double per_op, double scale);

/**
 * bench_stat_scale - multiply a figure by a constant (seconds to ns, ...)
 * @st: the figure
 * @k: the factor
 *
 * Return: the scaled figure.
 */
struct bench_stat bench_stat_scale(const struct bench_stat *st, double k);

/**
 * bench_stat_of - a figure from values already taken
 * @v: the values, oldest first
 * @n: how many; the last BENCH_WINDOW are the window
 *
 * Return: the figure (stable when the window agrees within 5%).
 */
struct bench_stat bench_stat_of(const double *v, size_t n);

/**
 * bench_percentile - a percentile of values
 * @v: the values; sorted in place
 * @n: how many (more than 0)
 * @p: the percentile, 0 to 100
 *
 * Return: the value (nearest rank).
 */
double bench_percentile(double *v, size_t n, double p);

/**
 * bench_now - a monotonic clock
 *
 * Return: seconds.
 */
double bench_now(void);

/**
 * bench_format_size - a byte count as the table prints it
 * @s: where the text goes
 * @n: size of @s
 * @bytes: the count
 *
 * Return: @s, holding "4 KiB", "1 MiB", "512 B" and the like.
 */
const char *bench_format_size(char *s, size_t n, uint64_t bytes);

/**
 * bench_progress_note - name the step in progress on the bar
 * @b: the run
 * @what: the step
 *
 * For long steps that are not measurements (filling a namespace).
 */
void bench_progress_note(struct bench *b, const char *what);

/* --- references measured in the same run ---------------------------------------------- */

/**
 * bench_ref_memcpy - single-thread memcpy bandwidth at one size
 * @b: the run
 * @size: bytes per copy
 * @st: GB/s (10^9 bytes per second), or NULL
 *
 * The physical limit of emulated DMA: every DMA of the fabric is a memcpy
 * on some thread. Copies between two buffers of @size bytes, the same two
 * each time, as the benchmarks reuse theirs. Measured once per size and
 * run, and listed among the run's references.
 *
 * Return: the bandwidth (median), or a negative errno.
 */
double bench_ref_memcpy(struct bench *b, size_t size, struct bench_stat *st);

/**
 * bench_ref_wakeup - round trip of a blocking wake-up between two threads
 * @b: the run
 * @st: microseconds, or NULL
 *
 * Two threads ping-pong a token through two eventfds, each blocking in
 * read() until the other writes: the floor of any work handed to a
 * sleeping thread, such as a page fault a handler thread serves. Measured
 * once per run.
 *
 * Return: the round trip in microseconds (median), or a negative errno.
 */
double bench_ref_wakeup(struct bench *b, struct bench_stat *st);

/* --- rows and charts ------------------------------------------------------------------ */

/**
 * bench_row_add - add a row to the table
 * @b: the run
 * @id: the row's identifier within the module ("read.p2p.128k")
 * @figure: what was measured
 * @unit: its unit
 * @st: the figure
 * @ref: the reference figure (positive)
 * @ref_unit: its unit
 * @ref_name: what the reference is
 * @t: the target, or NULL for none
 *
 * The ratio is @st->median / @ref; the target is judged on the figure or
 * the ratio as @t says.
 */
void bench_row_add(struct bench *b, const char *id, const char *figure, const char *unit,
		   const struct bench_stat *st, double ref, const char *ref_unit,
		   const char *ref_name, const struct bench_target *t);

/* Chart flags. */
#define BENCH_CHART_LOGX (1U << 0)
#define BENCH_CHART_LOGY (1U << 1)
#define BENCH_CHART_CDF	 (1U << 2) /* distributions, drawn as cumulative fractions */

/**
 * bench_chart - declare a chart
 * @b: the run
 * @id: its name, also the file name (DIR/@id.png)
 * @title: its title
 * @xlabel: the x axis
 * @ylabel: the y axis (ignored for distributions)
 * @flags: BENCH_CHART_*
 */
void bench_chart(struct bench *b, const char *id, const char *title, const char *xlabel,
		 const char *ylabel, unsigned int flags);

/**
 * bench_point - add a point to a series of a chart
 * @b: the run
 * @chart: the chart's id
 * @series: the series' name (a line of the chart)
 * @x: where
 * @y: what
 */
void bench_point(struct bench *b, const char *chart, const char *series, double x, double y);

/**
 * bench_distribution - add a distribution to a BENCH_CHART_CDF chart
 * @b: the run
 * @chart: the chart's id
 * @series: the distribution's name
 * @v: the values (copied)
 * @n: how many
 */
void bench_distribution(struct bench *b, const char *chart, const char *series, const double *v,
			size_t n);

/* --- output ---------------------------------------------------------------------------- */

/**
 * bench_print_table - the rows, their references and targets, for people
 * @b: the run
 * @out: where
 */
void bench_print_table(struct bench *b, FILE *out);

/**
 * bench_write_json - the rows, the references and the charts' data
 * @b: the run
 * @path: the file, or "-" for standard output
 *
 * A partial file is removed on error.
 *
 * Return: 0, or a negative errno (after saying why).
 */
int bench_write_json(struct bench *b, const char *path);

/**
 * bench_write_plots - the charts as PNG files, through gnuplot
 * @b: the run
 * @dir: the directory (created when missing)
 *
 * Writes DIR/ID.dat and DIR/ID.gp for each chart and runs gnuplot on them.
 * Without gnuplot it says so and writes nothing.
 *
 * Return: the number of PNG files written, -ENOENT when gnuplot is
 * missing, or another negative errno.
 */
int bench_write_plots(struct bench *b, const char *dir);

/**
 * bench_nr_rows - how many rows the run has
 * @b: the run
 *
 * Return: the count.
 */
size_t bench_nr_rows(const struct bench *b);

/* --- what the harness keeps (harness.c and bench-report.c; modules use the API) --- */

/* A reference of the run, listed above the table. */
struct bench_ref {
	char name[48];
	char unit[12];
	size_t size; /* memcpy: bytes per copy; 0 otherwise */
	struct bench_stat st;
};

/* How a module's run went. */
struct bench_module_run {
	const char *name;
	int ret; /* what run() returned */
	char note[160]; /* bench_skip()'s reasons, "; " between them */
};

struct bench_series {
	char name[48];
	double *x, *y;
	size_t n, cap;
};

struct bench_chart {
	char id[32];
	char title[96];
	char xlabel[48];
	char ylabel[48];
	unsigned int flags;
	struct bench_series *series;
	size_t nr_series;
};

struct bench {
	struct bench_opts opts;
	struct bench_row *rows;
	size_t nr_rows, cap_rows;
	struct bench_ref *refs;
	size_t nr_refs, cap_refs;
	struct bench_module_run *mods;
	size_t nr_mods, cap_mods;
	struct bench_chart *charts;
	size_t nr_charts, cap_charts;
	const struct bench_module *cur; /* the module running */
	/* The progress bar: steps done before this module, and in it. */
	bool bar;
	unsigned int total_steps, base_steps, cur_steps;
	double started;
};

/* --- the modules ---------------------------------------------------------------------- */

extern const struct bench_module bench_lookup_module; /* bench-lookup.c */
extern const struct bench_module bench_dma_map_module; /* bench-dma-map.c */
extern const struct bench_module bench_fabric_module; /* bench-fabric.c */
extern const struct bench_module bench_nvme_module; /* bench-nvme.c */
extern const struct bench_module bench_hmm_module; /* bench-hmm.c */

/**
 * bench_nvme_function - the machine's first NVMe controller function
 * @b: the run
 *
 * The initiator of the device benchmarks: on the default machine nvme0,
 * below the same switch as gpu0.
 *
 * Return: the function (class 010802), or NULL when the run has no
 * machine or the machine no NVMe controller (bench-devices.c).
 */
struct pci_dev *bench_nvme_function(struct bench *b);

/**
 * bench_p2p_provider - a published p2pmem provider at a given map type
 * @b: the run
 * @client: the function that will DMA
 * @type: the map type wanted between them
 *
 * NVMe controllers, whose CMBs are published once their driver probes
 * them, are passed over: the benchmarks want GPU memory.
 *
 * Return: the first provider, in enumeration order, whose map type to
 * @client is @type, or NULL (bench-devices.c).
 */
struct pci_dev *bench_p2p_provider(struct bench *b, struct pci_dev *client,
				   enum pci_p2pdma_map_type type);

/**
 * bench_lookup_verify - check the special-page lookup's answers
 * @lookups: random addresses per case
 *
 * Every lookup of every case the lookup benchmark times (ordinary memory,
 * P2P pages by pointer and by pfn, 2 MiB and 64 KiB maps, 1, 64 and 1024
 * maps) is compared with the page it must find.
 *
 * Return: the number of wrong answers (0), or a negative errno.
 */
long bench_lookup_verify(size_t lookups);

/**
 * bench_lookup_set_params - how the lookup module measures
 * @lookups: random addresses per timed pass (0: the default, 1M; 10k
 *	     with --quick)
 * @all_stages: rows for 1, 64 and 1024 maps and every kind of lookup,
 *		instead of the suite's selection (1 and 1024 maps)
 */
void bench_lookup_set_params(size_t lookups, bool all_stages);

#endif /* HETMEM_BENCH_HARNESS_H */
