// SPDX-License-Identifier: MIT
/*
 * hetmem sysfs - write the machine's sysfs tree into a directory, for
 * tools that read a sysfs copy (lspci -A linux-sysfs -O sysfs.path=...,
 * hetmem p2p-check --sysfs).
 */
#include <getopt.h>
#include <stdio.h>

#include "../interpose/rundir.h"
#include "hetmem.h"

static const char sysfs_usage[] =
	"Usage: hetmem sysfs [--machine FILE] DIR\n"
	"\n"
	"Write the machine's sysfs tree into DIR, laid out as /sys: DIR/devices/,\n"
	"DIR/bus/pci/devices/, DIR/class/nvme/, DIR/class/nvme-subsystem/, DIR/block/.\n"
	"Each PCI function has config, resource, vendor, device, class and the other\n"
	"attributes lspci reads; GPUs have p2pmem/, NVMe controllers nvme/nvmeN/ with\n"
	"what libnvme reads. Then, for instance:\n"
	"\n"
	"  lspci -A linux-sysfs -O sysfs.path=DIR/bus/pci -tv\n"
	"  lspci -A linux-sysfs -O sysfs.path=DIR/bus/pci -vv -s 1000:\n"
	"\n"
	"`hetmem run` shows the same tree at /sys to the programs it runs.\n"
	"\n"
	"Options:\n"
	"  -m, --machine FILE  machine config (default: the embedded default machine)\n"
	"  -h, --help          show this help\n";

static const struct option sysfs_options[] = {
	{ "machine", required_argument, NULL, 'm' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int cmd_sysfs(int argc, char **argv)
{
	const char *prog = argv[0], *machine_path = NULL;
	char err[512];
	int opt;

	while ((opt = getopt_long(argc, argv, "+m:h", sysfs_options, NULL)) != -1) {
		switch (opt) {
		case 'm':
			machine_path = optarg;
			break;
		case 'h':
			fputs(sysfs_usage, stdout);
			return HETMEM_EXIT_OK;
		default:
			return cli_usage_error(prog, NULL);
		}
	}
	if (optind == argc)
		return cli_usage_error(prog, "a directory to write the tree into is needed");
	if (optind + 1 < argc)
		return cli_usage_error(prog, "unexpected argument '%s'", argv[optind + 1]);
	if (hi_sysfs_materialise(argv[optind], machine_path, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return HETMEM_EXIT_FAILURE;
	}
	return HETMEM_EXIT_OK;
}
