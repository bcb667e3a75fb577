// SPDX-License-Identifier: MIT
/*
 * The machines users report, as lspci dumps (tests/p2p-check/fixtures/):
 * each fixture's expected matrix - map type, distance and the key phrases
 * of why and what would change it - with and without the what-ifs, and
 * the dumps being exactly what fixtures.c writes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <hetmem/err.h>
#include <hetmem/pci-import.h>

#include "fixtures.h"

#define BUS  PCI_P2PDMA_MAP_BUS_ADDR
#define THRU PCI_P2PDMA_MAP_THRU_HOST_BRIDGE
#define NOT  PCI_P2PDMA_MAP_NOT_SUPPORTED

struct pair_expect {
	const char *provider, *client;
	enum pci_p2pdma_map_type type;
	int distance;
	const char *phrases[4]; /* each in the reason or one of the explanation's sentences */
};

struct check {
	const char *fixture;
	const char *what;
	bool all, amd_zen;
	unsigned int kernel;
	const char *acs_off[3];
	const char *allowed[3];
	unsigned int nr_dev;
	const char *warning;
	struct pair_expect pairs[6];
};

/* clang-format off: one expected pair a line reads better than what it makes of them */
static const struct check checks[] = {
	{ "switch-acs-off",
	  "below one switch: BUS_ADDR; across root ports: through an allowed host bridge",
	  .nr_dev = 3,
	  .pairs = { { "0000:03:00.0", "0000:04:00.0", BUS, 4, { NULL } },
		     { "0000:03:00.0",
		       "0000:05:00.0",
		       THRU,
		       6,
		       { "share no upstream bridge", "0000:00:00.0 (8086:2020, Intel Skylake-E)",
			 "since Linux 5.5", "below one PCIe switch" } },
		     { "0000:04:00.0",
		       "0000:05:00.0",
		       THRU,
		       6,
		       { "share no upstream bridge" } } } },
	{ "switch-acs-redirect",
	  "ACS redirect on the switch (found behind AER): through the allowed host bridge",
	  .nr_dev = 3,
	  .pairs = { { "0000:03:00.0",
		       "0000:04:00.0",
		       THRU,
		       4,
		       { "ACS redirect is set on 0000:02:00.0 (RR CR), 0000:02:01.0 (RR CR)",
			 "pci=disable_acs_redir=0000:02:00.0;0000:02:01.0", "IOMMU group",
			 "on the kernel's P2PDMA allow-list" } },
		     { "0000:03:00.0",
		       "0000:05:00.0",
		       THRU,
		       6,
		       { "share no upstream bridge" } } } },
	{ "switch-acs-redirect", "what if ACS redirect were off on both downstream ports",
	  .acs_off = { "0000:02:00.0", "02:01.0" }, .nr_dev = 3,
	  .pairs = { { "0000:03:00.0", "0000:04:00.0", BUS, 4, { NULL } } } },
	{ "switch-acs-redirect", "what if only on one: the other still redirects",
	  .acs_off = { "0000:02:00.0" }, .nr_dev = 3,
	  .pairs = { { "0000:03:00.0",
		       "0000:04:00.0",
		       THRU,
		       4,
		       { "pci=disable_acs_redir=0000:02:01.0 for BUS_ADDR" } } } },
	{ "switch-acs-redirect-unlisted",
	  "ACS redirect below an unlisted host bridge: not supported", .nr_dev = 3,
	  .pairs = { { "0000:03:00.0",
		       "0000:04:00.0",
		       NOT,
		       4,
		       { "ACS redirect is set on 0000:02:00.0",
			 "0000:00:00.0 (8086:3e30), which is not on the list",
			 "--assume-allowed 8086:3e30", "is not in the P2PDMA whitelist" } },
		     { "0000:04:00.0",
		       "0000:05:00.0",
		       NOT,
		       6,
		       { "share no upstream bridge", "8086:3e30" } } } },
	{ "switch-acs-redirect-unlisted", "what if the host bridge's ID were on the allow-list",
	  .allowed = { "8086:3e30" }, .nr_dev = 3,
	  .pairs = { { "0000:03:00.0",
		       "0000:04:00.0",
		       THRU,
		       4,
		       { "only because --assume-allowed says so" } },
		     { "0000:04:00.0", "0000:05:00.0", THRU, 6, { NULL } } } },
	{ "switch-acs-redirect-unlisted", "what if the host bridge above a function were trusted",
	  .allowed = { "0000:05:00.0" }, .nr_dev = 3,
	  .pairs = { { "0000:03:00.0", "0000:05:00.0", THRU, 6, { NULL } } } },
	{ "switch-acs-redirect-unlisted",
	  "what if ACS were off: below the switch, the host bridge does not matter",
	  .acs_off = { "0000:02:00.0", "0000:02:01.0" }, .nr_dev = 3,
	  .pairs = { { "0000:03:00.0", "0000:04:00.0", BUS, 4, { NULL } },
		     { "0000:03:00.0", "0000:05:00.0", NOT, 6, { NULL } } } },
	{ "switch-256-bytes", "no extended space: ACS unknown, counted as off, and said so",
	  .nr_dev = 3, .warning = "ACS is unknown and counted as off",
	  .pairs = { { "0000:03:00.0",
		       "0000:04:00.0",
		       BUS,
		       4,
		       { "BUS_ADDR only if ACS redirect is off on 0000:02:00.0, 0000:01:00.0, 0000:02:01.0",
			 "sudo lspci -vvv -xxxx" } },
		     { "0000:03:00.0", "0000:05:00.0", THRU, 6, { NULL } } } },
	{ "switch-vvv-256-bytes", "lspci -vvv lines give ACS, BAR sizes and drivers back",
	  .nr_dev = 3,
	  .pairs = { { "0000:03:00.0",
		       "0000:04:00.0",
		       THRU,
		       4,
		       { "pci=disable_acs_redir=0000:02:00.0;0000:02:01.0" } } } },
	{ "root-ports-allowed", "two root ports and two root buses of an allowed Intel host bridge",
	  .nr_dev = 3,
	  .pairs = { { "0000:01:00.0",
		       "0000:02:00.0",
		       THRU,
		       4,
		       { "share no upstream bridge", "8086:09a2", "since Linux 5.14" } },
		     { "0000:01:00.0", "0000:18:00.0", THRU, 4, { NULL } },
		     { "0000:02:00.0", "0000:18:00.0", THRU, 4, { NULL } } } },
	{ "root-ports-allowed", "the same judged by Linux 5.10, before 09a2 was listed",
	  .kernel = PCI_P2P_KERNEL(5, 10), .nr_dev = 3,
	  .pairs = { { "0000:01:00.0",
		       "0000:02:00.0",
		       NOT,
		       4,
		       { "only from Linux 5.14; the kernel is Linux 5.10",
			 "Boot Linux 5.14 or newer" } } } },
	{ "root-ports-unlisted", "two root ports of an unlisted Intel host bridge", .nr_dev = 3,
	  .pairs = { { "0000:01:00.0", "0000:02:00.0", NOT, 4, { "8086:9b33", "not on the list" } },
		     { "0000:01:00.0", "0000:18:00.0", NOT, 4, { "pci0000:00" } } } },
	{ "root-ports-unlisted", "what if one root bus's host bridge were trusted: not the other",
	  .allowed = { "0000:00:00.0" }, .nr_dev = 3,
	  .pairs = { { "0000:01:00.0", "0000:02:00.0", THRU, 4, { NULL } },
		     { "0000:01:00.0", "0000:18:00.0", NOT, 4, { "host bridge pci0000:17" } } } },
	{ "amd-zen", "an AMD EPYC without the flag: unlisted host bridges, and the hint",
	  .nr_dev = 3,
	  .pairs = { { "0000:01:00.0", "0000:02:00.0", NOT, 4, { "1022:1480", "--amd-zen" } },
		     { "0000:01:00.0", "0000:41:00.0", NOT, 4, { NULL } } } },
	{ "amd-zen", "with --amd-zen every host bridge is trusted", .amd_zen = true, .nr_dev = 3,
	  .pairs = { { "0000:01:00.0", "0000:02:00.0", THRU, 4, { "AMD Zen or later CPU" } },
		     { "0000:01:00.0", "0000:41:00.0", THRU, 4, { "the CPU routes peer traffic" } },
		     { "0000:02:00.0", "0000:41:00.0", THRU, 4, { NULL } } } },
	{ "multifunction", "functions of one device; ACS on a multi-function NIC's functions",
	  .nr_dev = 5,
	  .pairs = { { "0000:01:00.0", "0000:01:00.1", BUS, 2, { NULL } },
		     { "0000:03:00.0",
		       "0000:03:00.1",
		       THRU,
		       2,
		       { "ACS redirect is set on 0000:03:00.0 (RR CR), 0000:03:00.1 (RR CR)",
			 "pci=disable_acs_redir=0000:03:00.0;0000:03:00.1" } },
		     { "0000:01:00.0", "0000:02:00.0", THRU, 4, { NULL } } } },
	{ "multifunction", "--all takes the GPU's audio function in", .all = true,
	  .acs_off = { "0000:03:00.0", "0000:03:00.1" }, .nr_dev = 6,
	  .pairs = { { "0000:02:00.0", "0000:02:00.1", BUS, 2, { NULL } },
		     { "0000:03:00.0", "0000:03:00.1", BUS, 2, { NULL } } } },
	{ "first-not-host-bridge",
	  "root buses without 00.0: a root port first identifies, anything else does not",
	  .nr_dev = 4,
	  .pairs = { { "0000:18:00.0", "0000:19:00.0", THRU, 4, { "0000:17:01.0 (8086:2030" } },
		     { "0000:3b:00.0",
		       "0000:3c:00.0",
		       NOT,
		       4,
		       { "the first is 0000:3a:01.0 (8086:2021), neither",
			 "0000:3a:02.0 (8086:2030) on that root bus is on the allow-list",
			 "has no function at 00.0 or root port first" } },
		     { "0000:18:00.0", "0000:3b:00.0", NOT, 4, { "pci0000:3a" } } } },
	{ "first-not-host-bridge", "what if the unidentified host bridge were trusted",
	  .allowed = { "0000:3a:01.0" }, .nr_dev = 4,
	  .pairs = { { "0000:3b:00.0", "0000:3c:00.0", THRU, 4, { NULL } },
		     { "0000:18:00.0", "0000:3b:00.0", THRU, 4, { NULL } } } },
};
/* clang-format on */

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0, n;

	assert_non_null(f);
	*len = 0;
	do {
		char *grown = realloc(buf, cap + 65536);

		assert_non_null(grown);
		buf = grown;
		cap += 65536;
		n = fread(buf + *len, 1, cap - *len, f);
		*len += n;
	} while (*len == cap);
	fclose(f);
	return buf;
}

static struct pci_import *load(const char *fixture)
{
	char path[512], err[256];
	struct pci_import *imp;
	FILE *in;

	snprintf(path, sizeof(path), "%s/tests/p2p-check/fixtures/%s.txt", HETMEM_SRCDIR, fixture);
	in = fopen(path, "r");
	assert_non_null(in);
	imp = pci_import_lspci(in, path, err, sizeof(err));
	fclose(in);
	if (IS_ERR(imp))
		fail_msg("%s: %s", fixture, err);
	return imp;
}

static unsigned int index_of(const struct pci_p2p_report *r, const char *bdf)
{
	for (unsigned int i = 0; i < r->nr_dev; i++)
		if (!strcmp(pci_name(r->dev[i]), bdf))
			return i;
	fail_msg("%s is not among the report's devices", bdf);
	return 0;
}

struct text {
	char buf[8192];
};

static void collect(enum pci_p2p_note kind, const char *text, void *arg)
{
	struct text *t = arg;
	size_t used = strlen(t->buf);

	snprintf(t->buf + used, sizeof(t->buf) - used, "%s\n", text);
}

static void check_one(const struct check *c)
{
	struct pci_p2p_report_opts opts = { .all = c->all, .cpu_flag = c->amd_zen };
	struct pci_import *imp = load(c->fixture);
	struct pci_p2p_report *r;

	opts.env.cpu_supports_p2pdma = c->amd_zen;
	opts.env.kernel = c->kernel;
	for (int i = 0; i < 3 && c->acs_off[i]; i++)
		assert_int_equal(
			pci_import_assume_acs_off(imp, pci_import_find(imp, c->acs_off[i])), 0);
	for (int i = 0; i < 3 && c->allowed[i]; i++) {
		unsigned int v, d;
		int n = 0;

		if (sscanf(c->allowed[i], "%4x:%4x%n", &v, &d, &n) == 2 && !c->allowed[i][n]) {
			opts.env.allowed_id[opts.env.nr_allowed_id].vendor = (uint16_t)v;
			opts.env.allowed_id[opts.env.nr_allowed_id++].device = (uint16_t)d;
		} else {
			struct pci_dev *dev = pci_import_find(imp, c->allowed[i]);

			assert_non_null(dev);
			opts.env.allowed_hb[opts.env.nr_allowed_hb++] = pci_host_bridge_of(dev);
		}
	}
	r = pci_p2p_report_create(imp, &opts);
	assert_false(IS_ERR(r));
	if (r->nr_dev != c->nr_dev)
		fail_msg("%s (%s): %u devices, expected %u", c->fixture, c->what, r->nr_dev,
			 c->nr_dev);
	if (c->warning) {
		bool found = false;

		for (unsigned int i = 0; i < pci_import_nr_warnings(imp); i++)
			found |= strstr(pci_import_warning(imp, i), c->warning) != NULL;
		if (!found)
			fail_msg("%s: no warning '%s'", c->fixture, c->warning);
	}
	for (int k = 0; k < 6 && c->pairs[k].provider; k++) {
		const struct pair_expect *e = &c->pairs[k];
		const struct pci_p2p_pair *p =
			pci_p2p_report_pair(r, index_of(r, e->provider), index_of(r, e->client));
		struct text t = { "" };

		assert_non_null(p);
		pci_p2p_explain(r, p, collect, &t);
		collect(PCI_P2P_NOTE_WHY, p->res.reason, &t);
		if (p->res.type != e->type || p->res.distance != e->distance)
			fail_msg("%s (%s): %s-%s is %s %d, expected %s %d\n%s", c->fixture, c->what,
				 e->provider, e->client, pci_p2p_map_type_name(p->res.type),
				 p->res.distance, pci_p2p_map_type_name(e->type), e->distance,
				 t.buf);
		for (int i = 0; i < 4 && e->phrases[i]; i++)
			if (!strstr(t.buf, e->phrases[i]))
				fail_msg("%s (%s): %s-%s: no '%s' in:\n%s", c->fixture, c->what,
					 e->provider, e->client, e->phrases[i], t.buf);
	}
	pci_p2p_report_destroy(r);
	pci_import_destroy(imp);
}

/* Every fixture's matrix, with and without what-ifs. */
static void test_expected_matrices(void **state)
{
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
		check_one(&checks[i]);
}

/* The dumps in the tree are what the generator writes (run p2p-check-gen-fixtures to update). */
static void test_fixtures_current(void **state)
{
	for (unsigned int i = 0; i < nr_p2p_fixtures; i++) {
		char path[512], *want = NULL, *have;
		size_t want_len = 0, have_len;
		FILE *out = open_memstream(&want, &want_len);

		assert_non_null(out);
		assert_int_equal(p2p_fixtures[i].write(out), 0);
		assert_int_equal(fclose(out), 0);
		snprintf(path, sizeof(path), "%s/tests/p2p-check/fixtures/%s.txt", HETMEM_SRCDIR,
			 p2p_fixtures[i].name);
		have = read_all(path, &have_len);
		if (have_len != want_len || memcmp(have, want, want_len))
			fail_msg(
				"%s differs from what fixtures.c writes: run p2p-check-gen-fixtures",
				path);
		free(have);
		free(want);
	}
}

/* Every fixture is checked somewhere above. */
static void test_every_fixture_checked(void **state)
{
	for (unsigned int i = 0; i < nr_p2p_fixtures; i++) {
		bool found = false;

		for (size_t k = 0; k < sizeof(checks) / sizeof(checks[0]); k++)
			found |= !strcmp(checks[k].fixture, p2p_fixtures[i].name);
		if (!found)
			fail_msg("fixture %s has no expected matrix", p2p_fixtures[i].name);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expected_matrices),
		cmocka_unit_test(test_fixtures_current),
		cmocka_unit_test(test_every_fixture_checked),
	};

	if (!getenv("HETMEM_LOG"))
		setenv("HETMEM_LOG", "err", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
