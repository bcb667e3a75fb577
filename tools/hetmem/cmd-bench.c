// SPDX-License-Identifier: MIT
/*
 * hetmem bench - every benchmark, one table.
 *
 * The benchmarks are modules of tools/bench/ (the harness and one file
 * each); this file picks the ones asked for, builds the machine the
 * device benchmarks run on (with every GPU's memory BAR made p2pmem, as
 * the demo does), runs them and writes the table, the JSON and the
 * charts. Modules compiled out with their subsystem are listed as such.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hetmem/log.h>
#include <hetmem/machine.h>

#include "harness.h"
#include "hetmem.h"
#include "p2p.h"

int cmd_bench(int argc, char **argv);

/*
 * Every module, in the order the table shows them; @mod is NULL when the
 * subsystem it measures was configured out, and @needs says which.
 */
struct bench_entry {
	const char *name;
	const struct bench_module *mod;
	const char *needs;
	bool machine; /* runs on the machine's devices */
};

static const struct bench_entry entries[] = {
#ifdef CONFIG_ZONE_DEVICE
	{ "lookup", &bench_lookup_module, NULL, false },
#else
	{ "lookup", NULL, "CONFIG_ZONE_DEVICE", false },
#endif
#ifdef CONFIG_PCI_P2PDMA
	{ "dma-map", &bench_dma_map_module, NULL, true },
	{ "fabric", &bench_fabric_module, NULL, true },
#else
	{ "dma-map", NULL, "CONFIG_PCI_P2PDMA", true },
	{ "fabric", NULL, "CONFIG_PCI_P2PDMA", true },
#endif
#if defined(CONFIG_NVME_HOST) && defined(CONFIG_NVME_EMU) && defined(CONFIG_PCI_P2PDMA)
	{ "nvme", &bench_nvme_module, NULL, true },
#else
	{ "nvme", NULL, "CONFIG_NVME_HOST, CONFIG_NVME_EMU and CONFIG_PCI_P2PDMA", true },
#endif
#if defined(CONFIG_HMM_MIRROR) && defined(CONFIG_DEVICE_PRIVATE) && defined(CONFIG_ZONE_DEVICE)
	{ "hmm", &bench_hmm_module, NULL, false },
#else
	{ "hmm", NULL, "CONFIG_HMM_MIRROR, CONFIG_DEVICE_PRIVATE and CONFIG_ZONE_DEVICE", false },
#endif
};

#define NR_ENTRIES (sizeof(entries) / sizeof(entries[0]))

static const char bench_usage[] =
	"Usage: hetmem bench [NAME...] [--quick] [--json FILE] [--plot DIR] [--machine FILE]\n"
	"       hetmem bench --list\n"
	"\n"
	"Run the benchmarks (all of them, or the NAMEs given) and print one table:\n"
	"each figure with the reference it is set against, measured in the same run\n"
	"(memcpy of the same size, a blocking thread wake-up, the bounce path, ...),\n"
	"the ratio, and the target of Documentation/performance.md. A figure is the\n"
	"median of repeated samples once they agree within 5%; ± is their spread.\n"
	"\n"
	"Options:\n"
	"  -q, --quick         tiny sizes and few samples: checks that everything runs\n"
	"                      and computes right answers; the figures mean nothing\n"
	"  -j, --json FILE     also write the rows, references and chart data as JSON\n"
	"                      (\"-\": to standard output, instead of the table)\n"
	"  -p, --plot DIR      draw the charts as PNG files in DIR (needs gnuplot)\n"
	"  -m, --machine FILE  machine config (default: the embedded default machine)\n"
	"  -l, --list          list the benchmarks and exit\n"
	"  -h, --help          show this help\n";

static const struct option bench_options[] = {
	{ "quick", no_argument, NULL, 'q' },
	{ "json", required_argument, NULL, 'j' },
	{ "plot", required_argument, NULL, 'p' },
	{ "machine", required_argument, NULL, 'm' },
	{ "list", no_argument, NULL, 'l' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const struct bench_entry *find_entry(const char *name)
{
	for (size_t i = 0; i < NR_ENTRIES; i++)
		if (!strcmp(entries[i].name, name))
			return &entries[i];
	return NULL;
}

static void list_entries(void)
{
	for (size_t i = 0; i < NR_ENTRIES; i++) {
		const struct bench_entry *e = &entries[i];

		if (e->mod)
			printf("%-8s %s\n", e->name, e->mod->summary);
		else
			printf("%-8s (not built: needs %s)\n", e->name, e->needs);
	}
}

int cmd_bench(int argc, char **argv)
{
	const char *prog = argv[0], *json = NULL, *plot = NULL, *machine_path = NULL;
	bool selected[NR_ENTRIES] = { false }, any = false, need_machine = false, quick = false;
	struct machine *m = NULL;
	struct bench_opts bo;
	unsigned int steps = 0, failed = 0;
	struct bench *b = NULL;
	int opt, ret = HETMEM_EXIT_FAILURE;

	while ((opt = getopt_long(argc, argv, "qj:p:m:lh", bench_options, NULL)) != -1) {
		switch (opt) {
		case 'q':
			quick = true;
			break;
		case 'j':
			json = optarg;
			break;
		case 'p':
			plot = optarg;
			break;
		case 'm':
			machine_path = optarg;
			break;
		case 'l':
			list_entries();
			return HETMEM_EXIT_OK;
		case 'h':
			fputs(bench_usage, stdout);
			return HETMEM_EXIT_OK;
		default:
			return cli_usage_error(prog, NULL);
		}
	}
	for (int i = optind; i < argc; i++) {
		const struct bench_entry *e = find_entry(argv[i]);

		if (!e)
			return cli_usage_error(prog, "no benchmark '%s' (see --list)", argv[i]);
		if (!e->mod) {
			fprintf(stderr, "%s: %s: not built (needs %s)\n", prog, e->name, e->needs);
			return HETMEM_EXIT_FAILURE;
		}
		selected[e - entries] = true;
		any = true;
	}
	for (size_t i = 0; i < NR_ENTRIES; i++) {
		if (!any && entries[i].mod)
			selected[i] = true;
		if (selected[i]) {
			steps += entries[i].mod->steps;
			need_machine |= entries[i].machine;
		}
	}
	/* The models' warnings would cut through the progress bar and the table. */
	if (!getenv("HETMEM_LOG"))
		hetmem_log_set_level(HETMEM_LOG_ERR);

	if (need_machine) {
		m = cli_load_machine(prog, machine_path);
		if (!m)
			return HETMEM_EXIT_FAILURE;
		if (cli_p2p_add_providers(prog, m) < 0)
			goto out;
	}
	bo = (struct bench_opts){
		.quick = quick,
		.machine = m,
		.machine_name = machine_path ? machine_path : "the default machine",
		.progress = true,
		.prog = prog,
	};
	b = bench_create(&bo);
	if (!b) {
		fprintf(stderr, "%s: out of memory\n", prog);
		goto out;
	}
	for (size_t i = 0; i < NR_ENTRIES; i++) {
		int r;

		if (!selected[i])
			continue;
		r = bench_run_module(b, entries[i].mod, steps);
		if (r && r != -ENODEV) {
			fprintf(stderr, "%s: %s failed: %s\n", prog, entries[i].name, strerror(-r));
			failed++;
		}
	}

	ret = HETMEM_EXIT_OK;
	if (!json || strcmp(json, "-"))
		bench_print_table(b, stdout);
	if (json && bench_write_json(b, json))
		ret = HETMEM_EXIT_FAILURE;
	if (plot) {
		int n = bench_write_plots(b, plot);

		/* No gnuplot is not a failure of the benchmarks: the message says what to install. */
		if (n >= 0)
			fprintf(stderr, "%s: %d chart%s in %s\n", prog, n, n == 1 ? "" : "s", plot);
		else if (n != -ENOENT)
			ret = HETMEM_EXIT_FAILURE;
	}
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "%s: writing to standard output failed\n", prog);
		ret = HETMEM_EXIT_FAILURE;
	}
	if (failed)
		ret = HETMEM_EXIT_FAILURE;
out:
	bench_destroy(b);
	machine_destroy(m);
	return ret;
}
