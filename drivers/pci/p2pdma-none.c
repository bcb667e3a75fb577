// SPDX-License-Identifier: MIT
/*
 * CONFIG_PCI_P2PDMA=n: no device has p2pmem, so there is nothing to tear
 * down with a device.
 */
#include "internal.h"

void pci_p2pdma_release_dev(struct pci_dev *dev)
{
}
