// SPDX-License-Identifier: MIT
/*
 * Built without what the interposer needs (CONFIG_NVME_EMU, NVME_HOST,
 * PCI_P2PDMA, IOMMU): `hetmem run` and `hetmem sysfs` answer --help and
 * say why they cannot run.
 */
#include <stdio.h>
#include <string.h>

#include "hetmem.h"

static int not_built(int argc, char **argv, const char *usage)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("%s\nThis hetmem was built without the NVMe controller model, the NVMe\n"
			       "host driver, P2PDMA or the IOMMU: the interposer is not available.\n",
			       usage);
			return HETMEM_EXIT_OK;
		}
	}
	fprintf(stderr,
		"%s: this hetmem was built without CONFIG_NVME_EMU, CONFIG_NVME_HOST, "
		"CONFIG_PCI_P2PDMA or CONFIG_IOMMU: no interposer\n",
		argv[0]);
	return HETMEM_EXIT_FAILURE;
}

int cmd_run(int argc, char **argv)
{
	return not_built(argc, argv, "Usage: hetmem run [OPTIONS] [--] COMMAND [ARGS...]");
}

int cmd_sysfs(int argc, char **argv)
{
	return not_built(argc, argv, "Usage: hetmem sysfs [--machine FILE] DIR");
}
