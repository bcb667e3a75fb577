// SPDX-License-Identifier: MIT
/*
 * hetmem p2p-check - would peer-to-peer DMA work on this machine, or on the
 * one a dump came from, and if not, why not and what would change it.
 *
 * The topology is imported from sysfs or an lspci dump into the fabric
 * model (drivers/pci/import*.c); the answers are the emulator's own
 * map-type code run on it, with the machine's CPU rule and kernel
 * allow-list and the what-ifs given here; the report writers present them.
 * This file only reads the command line and picks the sources.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hetmem/err.h>
#include <hetmem/pci-import.h>

#include "hetmem.h"

#define LIVE_SYSFS "/sys/bus/pci"
#define MAX_WHATIF 64

static const char p2p_check_usage[] =
	"Usage: hetmem p2p-check [--sysfs DIR | --dump FILE] [--all] [--json | --dot]\n"
	"                        [--amd-zen | --no-amd-zen] [--assume-acs-off BDF]...\n"
	"                        [--assume-allowed BDF|VVVV:DDDD]... [--kernel X.Y] [--root DIR]\n"
	"\n"
	"Say whether the kernel would let PCI devices do peer-to-peer DMA, for every\n"
	"pair of NVMe, GPU, network and accelerator functions: its map type\n"
	"(BUS_ADDR, THRU_HOST_BRIDGE, NOT_SUPPORTED) and distance, and for every pair\n"
	"that is not BUS_ADDR why, and what would change it. Without --sysfs or --dump\n"
	"it looks at this machine, its kernel, CPU and IOMMU.\n"
	"\n"
	"Options:\n"
	"  -s, --sysfs DIR          a sysfs tree in the layout of /sys/bus/pci\n"
	"  -d, --dump FILE          the output of `sudo lspci -vvv -xxxx` (or -xxxx), from\n"
	"                           any machine; - reads standard input\n"
	"  -a, --all                every pair of endpoints, whatever their class\n"
	"  -j, --json               one JSON object instead of the text\n"
	"      --dot                a Graphviz graph: hetmem p2p-check --dot | dot -Tsvg\n"
	"      --amd-zen            the machine's CPU is AMD Zen or later (family 0x17+):\n"
	"                           the kernel then trusts every host bridge\n"
	"      --no-amd-zen         it is not (default for dumps; this machine's CPU is read\n"
	"                           from /proc/cpuinfo)\n"
	"      --assume-acs-off BDF what if ACS redirect were off on this bridge or function\n"
	"                           (what pci=disable_acs_redir=BDF does at boot)\n"
	"      --assume-allowed X   what if the kernel trusted this host bridge: the one\n"
	"                           above function BDF, or every one with ID VVVV:DDDD\n"
	"      --kernel X.Y         judge by the allow-list of Linux X.Y (default: the running\n"
	"                           kernel's for this machine, the newest for a dump)\n"
	"      --root DIR           read proc/, sys/ and boot/ under DIR instead of / (files\n"
	"                           copied from another machine)\n"
	"  -h, --help               show this help\n"
	"\n"
	"Exit status: 0 when the check ran (whatever the answers), 1 when the input could\n"
	"not be read, 2 on a usage error. See Documentation/p2p-check.md.\n";

enum {
	OPT_DOT = 0x100,
	OPT_AMD_ZEN,
	OPT_NO_AMD_ZEN,
	OPT_ACS_OFF,
	OPT_ALLOWED,
	OPT_KERNEL,
	OPT_ROOT,
};

static const struct option p2p_check_options[] = {
	{ "sysfs", required_argument, NULL, 's' },
	{ "dump", required_argument, NULL, 'd' },
	{ "all", no_argument, NULL, 'a' },
	{ "json", no_argument, NULL, 'j' },
	{ "dot", no_argument, NULL, OPT_DOT },
	{ "amd-zen", no_argument, NULL, OPT_AMD_ZEN },
	{ "no-amd-zen", no_argument, NULL, OPT_NO_AMD_ZEN },
	{ "assume-acs-off", required_argument, NULL, OPT_ACS_OFF },
	{ "assume-allowed", required_argument, NULL, OPT_ALLOWED },
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "root", required_argument, NULL, OPT_ROOT },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct p2p_check {
	const char *prog;
	const char *sysfs, *dump, *root;
	bool all, json, dot;
	int amd_zen; /* -1: not given */
	unsigned int kernel;
	unsigned int nr_acs_off, nr_allowed;
	const char *acs_off[MAX_WHATIF];
	const char *allowed[PCI_P2P_MAX_ASSUMED];
};

int cmd_p2p_check(int argc, char **argv);

static int parse_options(struct p2p_check *c, int argc, char **argv)
{
	unsigned int major, minor;
	int opt, n;

	while ((opt = getopt_long(argc, argv, "s:d:ajh", p2p_check_options, NULL)) != -1) {
		switch (opt) {
		case 's':
			c->sysfs = optarg;
			break;
		case 'd':
			c->dump = optarg;
			break;
		case 'a':
			c->all = true;
			break;
		case 'j':
			c->json = true;
			break;
		case OPT_DOT:
			c->dot = true;
			break;
		case OPT_AMD_ZEN:
		case OPT_NO_AMD_ZEN:
			c->amd_zen = opt == OPT_AMD_ZEN;
			break;
		case OPT_ACS_OFF:
			if (c->nr_acs_off >= MAX_WHATIF)
				return cli_usage_error(c->prog, "at most %d --assume-acs-off",
						       MAX_WHATIF);
			c->acs_off[c->nr_acs_off++] = optarg;
			break;
		case OPT_ALLOWED:
			/* Each lands in the environment's fixed table. */
			if (c->nr_allowed >= PCI_P2P_MAX_ASSUMED)
				return cli_usage_error(c->prog, "at most %d --assume-allowed",
						       PCI_P2P_MAX_ASSUMED);
			c->allowed[c->nr_allowed++] = optarg;
			break;
		case OPT_KERNEL:
			n = 0;
			if (sscanf(optarg, "%u.%u%n", &major, &minor, &n) != 2 || optarg[n] ||
			    major > 255 || minor > 255)
				return cli_usage_error(
					c->prog, "--kernel takes a release like 6.1, not '%s'",
					optarg);
			c->kernel = PCI_P2P_KERNEL(major, minor);
			break;
		case OPT_ROOT:
			c->root = optarg;
			break;
		case 'h':
			fputs(p2p_check_usage, stdout);
			return HETMEM_EXIT_OK;
		default:
			return cli_usage_error(c->prog, NULL);
		}
	}
	if (optind < argc)
		return cli_usage_error(c->prog, "unexpected argument '%s'", argv[optind]);
	if (c->sysfs && c->dump)
		return cli_usage_error(c->prog, "--sysfs and --dump exclude each other");
	if (c->json && c->dot)
		return cli_usage_error(c->prog, "--json and --dot exclude each other");
	return -1;
}

/* The live system: the default sysfs, or a --sysfs that is it. */
static bool is_live(const struct p2p_check *c)
{
	char real[PATH_MAX];

	if (c->dump)
		return false;
	if (!c->sysfs)
		return true;
	return realpath(c->sysfs, real) &&
	       (!strcmp(real, LIVE_SYSFS) || !strcmp(real, LIVE_SYSFS "/devices"));
}

/* "VVVV:DDDD": two groups of four hex digits. */
static bool parse_id(const char *s, uint16_t *vendor, uint16_t *device)
{
	unsigned int v, d;
	int n = 0;

	if (strlen(s) != 9 || s[4] != ':' || sscanf(s, "%4x:%4x%n", &v, &d, &n) != 2 || s[n])
		return false;
	*vendor = (uint16_t)v;
	*device = (uint16_t)d;
	return true;
}

static int apply_whatifs(struct p2p_check *c, struct pci_import *imp, struct pci_p2p_env *env)
{
	for (unsigned int i = 0; i < c->nr_acs_off; i++) {
		struct pci_dev *d = pci_import_find(imp, c->acs_off[i]);

		if (!d)
			return cli_usage_error(c->prog,
					       "--assume-acs-off %s: no such function in %s",
					       c->acs_off[i], pci_import_source(imp));
		pci_import_assume_acs_off(imp, d);
	}
	for (unsigned int i = 0; i < c->nr_allowed; i++) {
		const char *a = c->allowed[i];
		uint16_t v, d;

		if (parse_id(a, &v, &d)) {
			env->allowed_id[env->nr_allowed_id].vendor = v;
			env->allowed_id[env->nr_allowed_id++].device = d;
		} else {
			struct pci_dev *dev = pci_import_find(imp, a);

			if (!dev)
				return cli_usage_error(
					c->prog,
					"--assume-allowed %s: neither VVVV:DDDD nor a function in %s",
					a, pci_import_source(imp));
			env->allowed_hb[env->nr_allowed_hb++] = pci_host_bridge_of(dev);
		}
	}
	return -1;
}

/* This machine has no PCI devices to show: that is an answer, not an error. */
static int report_empty(const struct p2p_check *c, const char *dir, const char *why)
{
	if (c->json) {
		fputs("{\"source\": \"", stdout);
		for (const char *p = dir; *p; p++)
			printf(*p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
		fputs("\", \"devices\": [], \"pairs\": [], \"summary\": {\"devices\": 0, \"pairs\": 0}, \"message\": \"no PCI devices\"}\n",
		      stdout);
	} else if (c->dot) {
		fputs("graph p2p_check {\n}\n", stdout);
	} else {
		printf("P2P readiness of %s: no PCI devices.\n\n"
		       "This machine shows no PCI function (%s), so there is nothing that could do\n"
		       "peer-to-peer DMA. To check another machine, run `sudo lspci -vvv -xxxx > dump`\n"
		       "there and `hetmem p2p-check --dump dump` here.\n",
		       dir, why);
	}
	return fflush(stdout) || ferror(stdout) ? HETMEM_EXIT_FAILURE : HETMEM_EXIT_OK;
}

/* Colours for a terminal, unless NO_COLOR is set to anything (no-color.org). */
static bool colour(void)
{
	const char *no = getenv("NO_COLOR");

	return isatty(STDOUT_FILENO) && !(no && *no);
}

static struct pci_import *load(const struct p2p_check *c, bool live, int *status)
{
	char err[512] = "", dir[PATH_MAX];
	struct pci_import *imp;
	FILE *in;

	*status = HETMEM_EXIT_FAILURE;
	if (c->dump) {
		in = strcmp(c->dump, "-") ? fopen(c->dump, "re") : stdin;
		if (!in) {
			fprintf(stderr, "%s: %s: %m\n", c->prog, c->dump);
			return NULL;
		}
		imp = pci_import_lspci(in, strcmp(c->dump, "-") ? c->dump : "standard input", err,
				       sizeof(err));
		if (in != stdin)
			fclose(in);
	} else {
		if (c->sysfs)
			snprintf(dir, sizeof(dir), "%s", c->sysfs);
		else
			snprintf(dir, sizeof(dir), "%s%s", c->root ? c->root : "", LIVE_SYSFS);
		imp = pci_import_sysfs(dir, err, sizeof(err));
		if (IS_ERR(imp) && live && (PTR_ERR(imp) == -ENODATA || PTR_ERR(imp) == -ENOENT)) {
			*status = report_empty(c, dir, err);
			return NULL;
		}
	}
	if (IS_ERR(imp)) {
		fprintf(stderr, "%s: %s\n", c->prog, err);
		return NULL;
	}
	return imp;
}

int cmd_p2p_check(int argc, char **argv)
{
	struct p2p_check c = { .prog = argv[0], .amd_zen = -1 };
	struct pci_p2p_report_opts opts = { 0 };
	struct pci_p2p_report *r = NULL;
	struct pci_p2p_host host;
	struct pci_import *imp;
	int ret, status;
	bool live;

	ret = parse_options(&c, argc, argv);
	if (ret >= 0)
		return ret;
	live = is_live(&c);
	imp = load(&c, live, &status);
	if (!imp)
		return status;

	/* What the machine adds: only when the topology is this machine's (or --root's). */
	if ((live || c.root) && !pci_p2p_host_read(c.root ? c.root : "/", &host))
		opts.host = &host;
	opts.all = c.all;
	opts.env.kernel = c.kernel ? c.kernel : opts.host ? opts.host->kernel : 0;
	opts.cpu_flag = c.amd_zen >= 0;
	opts.env.cpu_supports_p2pdma =
		opts.cpu_flag ? c.amd_zen : opts.host && opts.host->cpu_supports_p2pdma;
	ret = apply_whatifs(&c, imp, &opts.env);
	if (ret >= 0)
		goto out;

	r = pci_p2p_report_create(imp, &opts);
	if (IS_ERR(r)) {
		fprintf(stderr, "%s: %s\n", c.prog, strerror((int)-PTR_ERR(r)));
		r = NULL;
		ret = HETMEM_EXIT_FAILURE;
		goto out;
	}
	if (c.json)
		ret = pci_p2p_report_write_json(r, stdout);
	else if (c.dot)
		ret = pci_p2p_report_write_dot(r, stdout);
	else
		ret = pci_p2p_report_write_text(r, stdout, colour());
	if (ret)
		fprintf(stderr, "%s: writing the report failed\n", c.prog);
	ret = ret ? HETMEM_EXIT_FAILURE : HETMEM_EXIT_OK;
out:
	pci_p2p_report_destroy(r);
	pci_import_destroy(imp);
	return ret;
}
