// SPDX-License-Identifier: MIT
/*
 * hetmem - the command-line tool: finds the subcommand and hands it the
 * rest of the command line.
 */
#include <stdio.h>
#include <string.h>

#include "hetmem.h"

#ifndef HETMEM_VERSION
#define HETMEM_VERSION "0.1.0"
#endif

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

int cmd_p2p_check(int argc, char **argv); /* cmd-p2p-check.c */
int cmd_bench(int argc, char **argv); /* cmd-bench.c */

static const struct subcommand subcommands[] = {
	{ "bench", cmd_bench, "run the benchmarks: each figure against a reference of the same run" },
	{ "demo", cmd_demo, "DMA from the NVMe controller into GPU p2pmem and show where it went" },
	{ "lspci", cmd_lspci, "write configuration space in the format `lspci -F FILE` reads" },
	{ "p2pmem", cmd_p2pmem, "list p2pmem providers and the closest one for each device" },
	{ "p2p-check", cmd_p2p_check, "would P2P DMA work on this machine (or a dump), and why not" },
	{ "run", cmd_run, "run a program (fio, nvme-cli, lspci) with the machine at /sys and /dev" },
	{ "sysfs", cmd_sysfs, "write the machine's sysfs tree into a directory (for lspci)" },
	{ "topo", cmd_topo, "show the topology as a tree or a Graphviz graph" },
};

#define NR_SUBCOMMANDS (sizeof(subcommands) / sizeof(subcommands[0]))

static void usage(FILE *out)
{
	fputs("Usage: hetmem COMMAND [OPTIONS]\n"
	      "       hetmem COMMAND --help\n"
	      "\n"
	      "PCI peer-to-peer DMA, ZONE_DEVICE and HMM over an emulated PCIe machine.\n"
	      "\n"
	      "Commands:\n",
	      out);
	for (size_t i = 0; i < NR_SUBCOMMANDS; i++)
		fprintf(out, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
	fputs("\n"
	      "Exit status: 0 success, 1 failure (or a verification that did not hold),\n"
	      "2 usage error. See hetmem(1).\n",
	      out);
}

static const struct subcommand *find_subcommand(const char *name)
{
	for (size_t i = 0; i < NR_SUBCOMMANDS; i++)
		if (!strcmp(subcommands[i].name, name))
			return &subcommands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const struct subcommand *cmd;
	char prog[64];

	if (argc < 2) {
		usage(stderr);
		return HETMEM_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return HETMEM_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("hetmem %s\n", HETMEM_VERSION);
		return HETMEM_EXIT_OK;
	}

	/* "hetmem help CMD" is "hetmem CMD --help". */
	if (!strcmp(argv[1], "help")) {
		static char help_opt[] = "--help";
		char *help_argv[] = { prog, help_opt, NULL };

		if (argc < 3) {
			usage(stdout);
			return HETMEM_EXIT_OK;
		}
		cmd = find_subcommand(argv[2]);
		if (!cmd) {
			fprintf(stderr, "hetmem: unknown command '%s'\n", argv[2]);
			return HETMEM_EXIT_USAGE;
		}
		snprintf(prog, sizeof(prog), "hetmem %s", cmd->name);
		return cmd->run(2, help_argv);
	}

	cmd = find_subcommand(argv[1]);
	if (!cmd) {
		fprintf(stderr, "hetmem: unknown command '%s'\n", argv[1]);
		fprintf(stderr, "Try 'hetmem --help'.\n");
		return HETMEM_EXIT_USAGE;
	}

	/* getopt names argv[0] in its messages: make that the subcommand. */
	snprintf(prog, sizeof(prog), "hetmem %s", cmd->name);
	argv[1] = prog;
	return cmd->run(argc - 1, argv + 1);
}
