/* SPDX-License-Identifier: MIT */
/*
 * The machines hetmem p2p-check is tested on, as lspci dumps. Each is built
 * as an emulated fabric (the emulator's own enumeration gives consistent
 * bus numbers, windows and BARs), then dressed as a real machine - real
 * vendor and device IDs, root buses other than 00 in one domain, a first
 * root-bus function that is no host bridge, ACS on endpoint functions,
 * Resizable BAR, lspci -vvv lines, 256-byte dumps - and written in the
 * text format of `lspci -xxxx`.
 *
 * tests/p2p-check/fixtures/NAME.txt are this generator's output:
 * p2p-check-gen-fixtures DIR rewrites them, and the p2p-check-fixtures
 * test fails when they differ from what it would write.
 */
#ifndef HETMEM_TESTS_P2P_CHECK_FIXTURES_H
#define HETMEM_TESTS_P2P_CHECK_FIXTURES_H

#include <stdio.h>

/**
 * struct p2p_fixture - one machine
 * @name: file name without ".txt"
 * @what: one line on what it is
 * @write: write its dump; return 0, or -1 when building it failed
 */
struct p2p_fixture {
	const char *name;
	const char *what;
	int (*write)(FILE *out);
};

extern const struct p2p_fixture p2p_fixtures[];
extern const unsigned int nr_p2p_fixtures;

#endif /* HETMEM_TESTS_P2P_CHECK_FIXTURES_H */
