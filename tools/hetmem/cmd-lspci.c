// SPDX-License-Identifier: MIT
/*
 * hetmem lspci - the machine's configuration space as a text dump, for the
 * stock `lspci -F FILE` to decode.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <hetmem/machine.h>
#include <hetmem/pci-dump.h>

#include "hetmem.h"

static const char lspci_usage[] =
	"Usage: hetmem lspci [--machine FILE] [-o FILE]\n"
	"\n"
	"Write every function's 4096-byte configuration space in the text format\n"
	"of `lspci -xxxx`, which pciutils reads back with -F:\n"
	"\n"
	"  hetmem lspci -o dump && lspci -F dump -vv && lspci -F dump -tv\n"
	"\n"
	"Options:\n"
	"  -m, --machine FILE  machine config (default: the embedded default machine)\n"
	"  -o, --output FILE   write to FILE instead of standard output\n"
	"  -h, --help          show this help\n";

static const struct option lspci_options[] = {
	{ "machine", required_argument, NULL, 'm' },
	{ "output", required_argument, NULL, 'o' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int cmd_lspci(int argc, char **argv)
{
	const char *prog = argv[0], *machine_path = NULL, *output = NULL;
	struct machine *m;
	FILE *out = stdout;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, "m:o:h", lspci_options, NULL)) != -1) {
		switch (opt) {
		case 'm':
			machine_path = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case 'h':
			fputs(lspci_usage, stdout);
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

	if (output) {
		out = fopen(output, "w");
		if (!out) {
			fprintf(stderr, "%s: %s: %m\n", prog, output);
			machine_destroy(m);
			return HETMEM_EXIT_FAILURE;
		}
	}

	ret = pci_fabric_write_lspci_dump(machine_fabric(m), out);
	if (output && fclose(out) && !ret)
		ret = -EIO;
	if (ret) {
		fprintf(stderr, "%s: writing %s failed\n", prog, output ? output : "the dump");
		/* A truncated dump would decode as a machine with functions missing. */
		if (output)
			unlink(output);
	}
	machine_destroy(m);
	return ret ? HETMEM_EXIT_FAILURE : HETMEM_EXIT_OK;
}
