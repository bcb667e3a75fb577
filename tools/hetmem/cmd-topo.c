// SPDX-License-Identifier: MIT
/*
 * hetmem topo - the machine's topology, as an indented tree or as a
 * Graphviz digraph.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include <hetmem/machine.h>
#include <hetmem/pci-dump.h>

#include "hetmem.h"

static const char topo_usage[] =
	"Usage: hetmem topo [--machine FILE] [--dot]\n"
	"\n"
	"Show the machine's host bridges, ports, switches and devices with their\n"
	"addresses, IDs, classes and BARs.\n"
	"\n"
	"Options:\n"
	"  -m, --machine FILE  machine config (default: the embedded default machine)\n"
	"  -d, --dot           write a Graphviz digraph instead of the tree:\n"
	"                        hetmem topo --dot | dot -Tsvg -o topo.svg\n"
	"  -h, --help          show this help\n";

static const struct option topo_options[] = {
	{ "machine", required_argument, NULL, 'm' },
	{ "dot", no_argument, NULL, 'd' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int cmd_topo(int argc, char **argv)
{
	const char *prog = argv[0], *machine_path = NULL;
	struct machine *m;
	bool dot = false;
	int opt, ret = 0;

	while ((opt = getopt_long(argc, argv, "m:dh", topo_options, NULL)) != -1) {
		switch (opt) {
		case 'm':
			machine_path = optarg;
			break;
		case 'd':
			dot = true;
			break;
		case 'h':
			fputs(topo_usage, stdout);
			return HETMEM_EXIT_OK;
		default:
			return cli_usage_error(prog, NULL);
		}
	}
	if (optind < argc)
		return cli_usage_error(prog, "unexpected argument '%s'", argv[optind]);

	m = cli_load_machine(prog, machine_path);
	if (!m)
		return HETMEM_EXIT_FAILURE;

	if (dot) {
		ret = pci_fabric_write_dot(machine_fabric(m), stdout);
	} else {
		machine_print_tree(m, stdout);
		if (fflush(stdout) || ferror(stdout))
			ret = -1;
	}
	if (ret)
		fprintf(stderr, "%s: writing to standard output failed\n", prog);

	machine_destroy(m);
	return ret ? HETMEM_EXIT_FAILURE : HETMEM_EXIT_OK;
}
