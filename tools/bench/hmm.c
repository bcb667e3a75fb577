// SPDX-License-Identifier: MIT
/*
 * hetmem-bench-hmm: the HMM benchmark on its own.
 *
 * The measuring is the "hmm" module of hetmem bench (bench-hmm.c): for
 * 64 MiB of the process's anonymous memory, migration to the test
 * device's memory and back, sequential and random CPU fault-back,
 * single-page fault-back latency (median and p99), hmm_range_fault() and
 * the device fault service, each next to the references measured in the
 * same run (memcpy of the same size, the eventfd wake-up round trip) and
 * the targets of issue 7. This program runs that module alone, adds the
 * address space's fault counters, and prints the table.
 *
 * --quick runs it with tiny sizes and checks only that every page that
 * went to the device came back with its data: a wrong byte exits 1. That
 * is the smoke test. Without userfaultfd (not root, no access to
 * /dev/userfaultfd) it exits 77.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <hetmem/err.h>
#include <hetmem/log.h>
#include <hetmem/mm_types.h>

#include "harness.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: hetmem-bench-hmm [--quick]\n"
		   "  --quick  tiny sizes; check that the data comes back (no timing verdicts)\n");
}

/* What the fault handler did during the run, for reading the figures. */
static void print_counters(struct hetmem_mm *mm)
{
	struct hetmem_mm_stats st;

	hetmem_mm_stats(mm, &st);
	printf("\nfault handler: %lu faults (%lu on device pages, %lu zero-filled, %lu left to "
	       "migrations); %lu pages moved, %lu copied, %lu discarded; %lu pages to devices, "
	       "%lu home\n",
	       st.faults, st.device_faults, st.zero_fills, st.deferred, st.moved, st.copied,
	       st.zapped, st.to_device, st.to_ram);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct bench_opts bo = {
		.prog = "hetmem-bench-hmm",
		.machine_name = "this process (no machine needed)",
		.progress = true,
	};
	struct hetmem_mm *mm;
	struct bench *b;
	int c, ret;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			bo.quick = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (!getenv("HETMEM_LOG"))
		hetmem_log_set_level(HETMEM_LOG_ERR);

	/* Held across the run so the counters cover all of it. */
	mm = hetmem_mm_get();
	if (IS_ERR(mm)) {
		fprintf(stderr, "hetmem-bench-hmm: no userfaultfd (%ld): skipped\n", PTR_ERR(mm));
		return PTR_ERR(mm) == -EPERM || PTR_ERR(mm) == -ENOSYS ? 77 : 1;
	}
	b = bench_create(&bo);
	if (!b) {
		fprintf(stderr, "hetmem-bench-hmm: out of memory\n");
		hetmem_mm_put(mm);
		return 1;
	}
	ret = bench_run_module(b, &bench_hmm_module, bench_hmm_module.steps);
	if (ret)
		fprintf(stderr, "hetmem-bench-hmm: %s (%d)\n",
			ret == -EIO ? "data did not come back intact" : "failed", ret);
	else if (bo.quick)
		printf("hetmem-bench-hmm: every page came back with its data\n");
	else
		bench_print_table(b, stdout);
	if (!ret)
		print_counters(mm);
	bench_destroy(b);
	hetmem_mm_put(mm);
	return ret ? 1 : 0;
}
