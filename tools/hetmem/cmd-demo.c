// SPDX-License-Identifier: MIT
/*
 * hetmem demo - the main job, on the embedded default machine or another.
 *
 * Shows the topology, makes the GPUs' memory BARs p2pmem (p2p.c), then runs
 * the steps, each in a file of its own (so far: the providers and the map
 * type matrix, demo-p2p-matrix.c; peer-to-peer DMA and the bounce path,
 * demo-p2p.c), and sums up their checks. Exits 1 when a step could not run
 * or a check failed. Steps compiled out of this build are skipped, not
 * failed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <hetmem/machine.h>

#include "demo.h"
#include "hetmem.h"
#include "p2p.h"

#define DEMO_DEFAULT_MIB 4
#define DEMO_MAX_MIB	 1024

static const char demo_usage[] =
	"Usage: hetmem demo [--machine FILE] [--size MIB]\n"
	"\n"
	"Show the topology, make every GPU's memory BAR peer-to-peer memory\n"
	"(p2pmem) and print the distance and map type between every provider and\n"
	"every device, with the reason for each entry that is not BUS_ADDR. Then\n"
	"allocate p2pmem from every GPU, map it for the NVMe controller with\n"
	"dma_map_single() and let the controller's function write a pattern to the\n"
	"address it got: switch-local to a GPU below the same switch, through the\n"
	"root complex to one below another root port. Repeat through host memory\n"
	"(the bounce path) for comparison. Verify the data through the CPU pointers\n"
	"and show every link's byte counters, proving which transfers crossed the\n"
	"root complex. Exits 1 if any check fails.\n"
	"\n"
	"Options:\n"
	"  -m, --machine FILE  machine config (default: the embedded default machine)\n"
	"  -s, --size MIB      bytes per transfer, in MiB (default 4, at most half a pool)\n"
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
	if (demo_collect(&d)) {
		fprintf(stderr, "%s: out of memory\n", d.prog);
		demo_release(&d);
		machine_destroy(d.m);
		return HETMEM_EXIT_FAILURE;
	}

	printf("== Topology ==\n\n");
	machine_print_tree(d.m, stdout);

	/*
	 * A step that cannot run has said why. The peer-to-peer steps need the
	 * providers, and the DMA step is only worth reading after the matrix.
	 */
	ret = cli_p2p_add_providers(d.prog, d.m);
	if (ret >= 0)
		ret = demo_p2p_matrix(&d);
	if (!ret)
		ret = demo_p2p_dma(&d, (size_t)mib << 20);
	if (ret == -EOPNOTSUPP) {
		printf("\n== Peer-to-peer memory: skipped, built without CONFIG_PCI_P2PDMA ==\n");
		ret = 0;
	}

	printf("\n%s: %u checks passed, %u failed\n", d.prog, d.passed, d.failed);
	/* Every allocation is freed: taking the providers down does not wait. */
	demo_release(&d);
	machine_destroy(d.m);
	return ret || d.failed ? HETMEM_EXIT_FAILURE : HETMEM_EXIT_OK;
}
