// SPDX-License-Identifier: MIT
/*
 * hetmem-bench-lookup: the special-page lookup benchmark on its own.
 *
 * The measuring is the "lookup" module of hetmem bench (bench-lookup.c);
 * this program runs it alone with every stage (1, 64 and 1024 maps) and
 * every kind of lookup, and prints the harness's table.
 *
 * --quick only checks that every lookup finds the page it must, over 10k
 * random addresses per case, and never judges speed: a wrong answer exits
 * 1. That is the smoke test.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <hetmem/log.h>

#include "harness.h"

#define LOOKUPS_QUICK 10000UL

static void usage(FILE *f)
{
	fprintf(f, "usage: hetmem-bench-lookup [--quick] [--lookups N]\n"
		   "  --quick      10k lookups, check the answers only (no timing verdicts)\n"
		   "  --lookups N  random addresses per run (default 1000000)\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "lookups", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct bench_opts bo = {
		.prog = "hetmem-bench-lookup",
		.machine_name = "this process (no machine needed)",
		.progress = true,
	};
	struct bench *b;
	bool quick = false;
	size_t n = 0;
	long bad;
	int c, ret;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			quick = true;
			break;
		case 'n':
			n = strtoul(optarg, NULL, 0);
			if (!n) {
				usage(stderr);
				return 2;
			}
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

	if (quick) {
		if (!n)
			n = LOOKUPS_QUICK;
		bad = bench_lookup_verify(n);
		if (bad) {
			fprintf(stderr, "hetmem-bench-lookup: %s\n",
				bad < 0 ? "cannot set up the page maps" : "wrong lookups");
			return 1;
		}
		printf("hetmem-bench-lookup: %zu lookups per case, 15 cases, all answers right\n",
		       n);
		return 0;
	}

	bench_lookup_set_params(n, true);
	b = bench_create(&bo);
	if (!b) {
		fprintf(stderr, "hetmem-bench-lookup: out of memory\n");
		return 1;
	}
	ret = bench_run_module(b, &bench_lookup_module, bench_lookup_module.steps);
	if (!ret)
		bench_print_table(b, stdout);
	else
		fprintf(stderr, "hetmem-bench-lookup: failed (%d)\n", ret);
	bench_destroy(b);
	return ret ? 1 : 0;
}
