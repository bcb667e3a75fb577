// SPDX-License-Identifier: MIT
/*
 * hetmem demo - the main job, on the embedded default machine or another.
 *
 * Shows the topology, makes the GPUs' memory BARs p2pmem (p2p.c), probes
 * the NVMe driver, then runs the steps, each in a file of its own: the
 * providers and the map type matrix (demo-p2p-matrix.c), an NVMe read
 * into GPU memory and the bounce path beside it (demo-nvme-read.c), and
 * a malloc'd buffer through the GPU's device-private memory and back
 * (demo-hmm.c). Ends with a summary, one line per step. Exits 1 when a
 * step could not run or a check failed; a step compiled out of this
 * build, or one the system cannot run (no userfaultfd), is skipped, not
 * failed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hetmem/machine.h>

#include "demo.h"
#include "hetmem.h"
#include "p2p.h"

#define DEMO_DEFAULT_MIB     256
#define DEMO_MAX_MIB	     1024
#define DEMO_HMM_DEFAULT_MIB 64
#define DEMO_HMM_MAX_MIB     256

#define NVME_NEEDS "CONFIG_PCI_P2PDMA, CONFIG_NVME_EMU and CONFIG_NVME_HOST"
#define HMM_NEEDS  "CONFIG_HMM_MIRROR and CONFIG_DEVICE_PRIVATE"

static const char demo_usage[] =
	"Usage: hetmem demo [--machine FILE] [--size MIB] [--hmm-size MIB] [--corrupt]\n"
	"\n"
	"Show the topology as a tree; make every GPU's memory BAR peer-to-peer memory\n"
	"(p2pmem) and probe the NVMe driver on the NVMe controller; print the distance\n"
	"and map type between every provider and every device, with the reason for\n"
	"each entry that is not BUS_ADDR.\n"
	"\n"
	"Write a pattern to the NVMe namespace, read it back with NVMe reads straight\n"
	"into the closest GPU's memory (16 commands in flight, a progress bar on a\n"
	"terminal) and verify its checksum there; repeat through system memory and a\n"
	"CPU copy (the bounce path) and compare the rates. Show the bytes every link\n"
	"and root complex moved, proving the direct read stayed below the switch.\n"
	"\n"
	"Bind the GPU driver to gpu0; fill a malloc'd buffer, migrate it into the GPU's\n"
	"device-private memory, run a GPU kernel over it there (y = 3x + 1, checked by\n"
	"the GPU's checksums), touch it from the CPU so it faults back, verify every\n"
	"byte. Print a summary; exit 1 if any check fails.\n"
	"\n"
	"Options:\n"
	"  -m, --machine FILE  machine config (default: the embedded default machine)\n"
	"  -s, --size MIB      bytes the NVMe read moves, in MiB (default 256; at most\n"
	"                      the namespace and the GPU's p2pmem)\n"
	"      --hmm-size MIB  bytes of the buffer that goes to device memory, in MiB\n"
	"                      (default 64, at most 256)\n"
	"      --corrupt       flip one bit in GPU memory after the peer-to-peer read,\n"
	"                      before it is verified: the check fails, the exit is 1\n"
	"  -h, --help          show this help\n";

enum { OPT_HMM_SIZE = 256, OPT_CORRUPT };

static const struct option demo_options[] = {
	{ "machine", required_argument, NULL, 'm' },
	{ "size", required_argument, NULL, 's' },
	{ "hmm-size", required_argument, NULL, OPT_HMM_SIZE },
	{ "corrupt", no_argument, NULL, OPT_CORRUPT },
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

void demo_row(struct demo *d, const char *step, enum demo_result result, const char *fmt, ...)
{
	struct demo_row *r;
	va_list ap;

	if (d->nr_row == DEMO_MAX_ROWS) {
		/* No line for it, but a failure must still fail the run. */
		if (result == DEMO_FAILED)
			d->failed++;
		return;
	}
	r = &d->row[d->nr_row++];
	snprintf(r->step, sizeof(r->step), "%s", step);
	r->result = result;
	va_start(ap, fmt);
	vsnprintf(r->figure, sizeof(r->figure), fmt, ap);
	va_end(ap);
}

double demo_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double demo_gbps(uint64_t bytes, double seconds)
{
	return seconds > 0 ? (double)bytes / seconds / 1e9 : 0.0;
}

/*
 * How a step that returned @ret ended, when it did not add its own lines:
 * compiled out is a skip, anything else a failure of the demo.
 */
static void step_ended(struct demo *d, const char *step, int ret, const char *needs)
{
	if (!ret)
		return;
	if (ret == -EOPNOTSUPP) {
		printf("\n== %s: skipped, not built (needs %s) ==\n", step, needs);
		demo_row(d, step, DEMO_SKIPPED, "not built (needs %s)", needs);
		return;
	}
	demo_row(d, step, DEMO_FAILED, "could not run: %s", strerror(-ret));
}

static const char *result_name(enum demo_result r)
{
	return r == DEMO_OK ? "ok" : r == DEMO_SKIPPED ? "skipped" : "FAIL";
}

/* Return: whether the demo failed (a step could not run or a check failed). */
static bool print_summary(const struct demo *d, double seconds)
{
	bool failed = d->failed;

	printf("\n== Summary ==\n\n");
	printf("  %-*s %-8s %s\n", DEMO_STEP_LEN - 8, "step", "result", "figure");
	for (unsigned int i = 0; i < d->nr_row; i++) {
		const struct demo_row *r = &d->row[i];

		printf("  %-*s %-8s %s\n", DEMO_STEP_LEN - 8, r->step, result_name(r->result),
		       r->figure);
		failed |= r->result == DEMO_FAILED;
	}
	printf("  %-*s %-8s %.1f s, %u checks passed, %u failed\n", DEMO_STEP_LEN - 8, "total",
	       failed ? "FAIL" : "ok", seconds, d->passed, d->failed);
	return failed;
}

static int parse_mib(const char *prog, const char *opt, const char *arg, unsigned long max,
		     unsigned long *mib)
{
	char *end;

	errno = 0;
	*mib = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || !*mib || *mib > max || arg[0] == '-')
		return cli_usage_error(prog, "%s wants 1 to %lu (MiB), not '%s'", opt, max, arg);
	return 0;
}

static void run_steps(struct demo *d, unsigned long mib, unsigned long hmm_mib)
{
	int ret;

	/*
	 * The GPUs offer their memory first and the NVMe driver probes next,
	 * publishing its controller memory buffer, so that the matrix shows
	 * every provider there will be.
	 */
	ret = cli_p2p_add_providers(d->prog, d->m);
	if (ret == -EOPNOTSUPP) {
		step_ended(d, "P2P matrix", ret, "CONFIG_PCI_P2PDMA");
		step_ended(d, "NVMe read into GPU memory", ret, NVME_NEEDS);
	} else if (ret < 0) {
		step_ended(d, "GPU memory as p2pmem", ret, NULL);
	} else {
		ret = demo_nvme_probe(d);
		if (ret != -EOPNOTSUPP)
			step_ended(d, "NVMe driver probe", ret, NULL);
		step_ended(d, "P2P matrix", demo_p2p_matrix(d), "CONFIG_PCI_P2PDMA");
		if (ret == -EOPNOTSUPP)
			step_ended(d, "NVMe read into GPU memory", ret, NVME_NEEDS);
		else if (!ret)
			step_ended(d, "NVMe read into GPU memory",
				   demo_nvme_read(d, (size_t)mib << 20), NULL);
		demo_nvme_remove(d);
	}

	step_ended(d, "device-private memory", demo_hmm(d, (size_t)hmm_mib << 20), HMM_NEEDS);
}

int cmd_demo(int argc, char **argv)
{
	struct demo d = { .prog = argv[0] };
	unsigned long mib = DEMO_DEFAULT_MIB, hmm_mib = DEMO_HMM_DEFAULT_MIB;
	const char *machine_path = NULL;
	double start = demo_now();
	bool failed;
	int opt;

	while ((opt = getopt_long(argc, argv, "m:s:h", demo_options, NULL)) != -1) {
		switch (opt) {
		case 'm':
			machine_path = optarg;
			break;
		case 's':
			if (parse_mib(d.prog, "--size", optarg, DEMO_MAX_MIB, &mib))
				return HETMEM_EXIT_USAGE;
			break;
		case OPT_HMM_SIZE:
			if (parse_mib(d.prog, "--hmm-size", optarg, DEMO_HMM_MAX_MIB, &hmm_mib))
				return HETMEM_EXIT_USAGE;
			break;
		case OPT_CORRUPT:
			d.corrupt = true;
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
	demo_row(&d, "topology", DEMO_OK, "%zu functions below %zu host bridge(s)", d.nr_dev,
		 d.nr_hb);

	run_steps(&d, mib, hmm_mib);
	failed = print_summary(&d, demo_now() - start);
	printf("\n%s: %u checks passed, %u failed\n", d.prog, d.passed, d.failed);
	/* Every allocation is freed: taking the providers down does not wait. */
	demo_release(&d);
	machine_destroy(d.m);
	return failed ? HETMEM_EXIT_FAILURE : HETMEM_EXIT_OK;
}
