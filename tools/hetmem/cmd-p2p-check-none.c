// SPDX-License-Identifier: MIT
/*
 * CONFIG_PCI_P2PDMA=n: the map-type rules p2p-check runs are compiled out.
 * The subcommand still answers --help and says why it cannot run.
 */
#include <stdio.h>
#include <string.h>

#include "hetmem.h"

int cmd_p2p_check(int argc, char **argv);

int cmd_p2p_check(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("Usage: hetmem p2p-check [--sysfs DIR | --dump FILE] [OPTIONS]\n\n"
			       "This hetmem was built without CONFIG_PCI_P2PDMA: the check is not available.\n");
			return HETMEM_EXIT_OK;
		}
	fprintf(stderr,
		"%s: this hetmem was built without CONFIG_PCI_P2PDMA: no map-type rules to check with\n",
		argv[0]);
	return HETMEM_EXIT_FAILURE;
}
