// SPDX-License-Identifier: MIT
/*
 * The devices the device benchmarks use, found on whatever machine the
 * run has (the default one or --machine FILE) instead of by name, so a
 * machine of the user's own is measured the same way.
 */
#include <hetmem/machine.h>
#include <hetmem/pci-p2pdma.h>
#include <hetmem/pci.h>

#include "harness.h"

#define PCI_CLASS_NVME 0x010802

struct pci_dev *bench_nvme_function(struct bench *b)
{
	struct machine *m = bench_machine(b);
	struct pci_dev *dev = NULL;

	if (!m)
		return NULL;
	while ((dev = pci_fabric_next_dev(machine_fabric(m), dev)))
		if (pci_dev_class(dev) == PCI_CLASS_NVME)
			return dev;
	return NULL;
}

struct pci_dev *bench_p2p_provider(struct bench *b, struct pci_dev *client,
				   enum pci_p2pdma_map_type type)
{
	struct machine *m = bench_machine(b);
	struct pci_dev *dev = NULL;

	if (!m)
		return NULL;
	while ((dev = pci_fabric_next_dev(machine_fabric(m), dev))) {
		/* GPU memory, not another controller's CMB (published once it is probed). */
		if (dev == client || !pci_has_p2pmem(dev) || pci_dev_class(dev) == PCI_CLASS_NVME)
			continue;
		if (pci_p2pdma_map_type_of(dev, client, NULL, 0) == type)
			return dev;
	}
	return NULL;
}
