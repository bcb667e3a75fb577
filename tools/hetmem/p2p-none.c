// SPDX-License-Identifier: MIT
/*
 * CONFIG_PCI_P2PDMA=n: there is no peer-to-peer memory to make or describe.
 * The subcommands still parse their options and answer --help; the jobs
 * that need p2pmem say why they cannot run (the demo's steps have their
 * stubs in demo.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "p2p.h"

int cli_p2p_add_providers(const char *prog, struct machine *m)
{
	fprintf(stderr,
		"%s: this hetmem was built without CONFIG_PCI_P2PDMA: no peer-to-peer memory\n",
		prog);
	return -EOPNOTSUPP;
}

int cli_p2p_provider_get(struct pci_dev *dev, struct cli_p2p_provider *out)
{
	return -EOPNOTSUPP;
}

int cli_p2p_report_get(struct machine *m, struct cli_p2p_report *r)
{
	memset(r, 0, sizeof(*r));
	return -EOPNOTSUPP;
}

void cli_p2p_report_free(struct cli_p2p_report *r)
{
}
