// SPDX-License-Identifier: MIT
/*
 * hetmem demo - the main job, on the embedded default machine or another.
 *
 * Shows the topology, then runs the steps, each in a file of its own (so
 * far: peer-to-peer DMA through the fabric, demo-p2p.c), and sums up their
 * checks. Exits 1 when a step could not run or a check failed.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <hetmem/machine.h>

#include "demo.h"
#include "hetmem.h"

#define DEMO_DEFAULT_MIB 4
#define DEMO_MAX_MIB	 1024

static const char demo_usage[] =
	"Usage: hetmem demo [--machine FILE] [--size MIB]\n"
	"\n"
	"Show the topology, then let the NVMe controller write a pattern straight\n"
	"into every GPU's memory BAR through the emulated PCIe fabric: switch-local\n"
	"to a GPU below the same switch, through the root complex to one below\n"
	"another root port. Verify the data through the CPU's mapping of each BAR\n"
	"and show every link's byte counters, proving which transfers crossed the\n"
	"root complex. Exits 1 if any check fails.\n"
	"\n"
	"Options:\n"
	"  -m, --machine FILE  machine config (default: the embedded default machine)\n"
	"  -s, --size MIB      bytes per transfer, in MiB (default 4, at most the BAR)\n"
	"  -h, --help          show this help\n";

static const struct option demo_options[] = {
	{ "machine", required_argument, NULL, 'm' },
	{ "size", required_argument, NULL, 's' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

void demo_check(struct demo *d, bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("  %-5s", ok ? "ok" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (ok)
		d->passed++;
	else
		d->failed++;
}

int cmd_demo(int argc, char **argv)
{
	struct demo d = { .prog = argv[0] };
	const char *machine_path = NULL;
	unsigned long mib = DEMO_DEFAULT_MIB;
	char *end;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, "m:s:h", demo_options, NULL)) != -1) {
		switch (opt) {
		case 'm':
			machine_path = optarg;
			break;
		case 's':
			mib = strtoul(optarg, &end, 10);
			if (*end || !mib || mib > DEMO_MAX_MIB)
				return cli_usage_error(d.prog,
						       "--size wants 1 to %d (MiB), not '%s'",
						       DEMO_MAX_MIB, optarg);
			break;
		case 'h':
			fputs(demo_usage, stdout);
			return HETMEM_EXIT_OK;
		default:
			return cli_usage_error(d.prog, NULL);
		}
	}
	if (optind < argc)
		return cli_usage_error(d.prog, "unexpected argument '%s'", argv[optind]);

	d.m = cli_load_machine(d.prog, machine_path);
	if (!d.m)
		return HETMEM_EXIT_FAILURE;
	d.f = machine_fabric(d.m);

	printf("== Topology ==\n\n");
	machine_print_tree(d.m, stdout);

	/* A step that cannot run has said why; the others still run. */
	ret = demo_p2p_dma(&d, (size_t)mib << 20);

	printf("\n%s: %u checks passed, %u failed\n", d.prog, d.passed, d.failed);
	machine_destroy(d.m);
	return ret || d.failed ? HETMEM_EXIT_FAILURE : HETMEM_EXIT_OK;
}
