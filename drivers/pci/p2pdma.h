/* SPDX-License-Identifier: MIT */
/*
 * Private to the P2PDMA files: a provider's state.
 */
#ifndef HETMEM_DRIVERS_PCI_P2PDMA_H
#define HETMEM_DRIVERS_PCI_P2PDMA_H

#include <hetmem/memremap.h>
#include <hetmem/pci-p2pdma.h>
#include "internal.h"

#define P2P_MAP_CACHE 64

/* One BAR range made into pages. */
struct pci_p2pdma_pagemap {
	struct pci_dev *provider;
	uint64_t bus_offset; /* bus - cpu */
	int bar;
	uint64_t bar_offset;
	struct list_head node;
	struct dev_pagemap pgmap;
};

/* Cached map type of one client; @gen is the fabric's configuration generation. */
struct p2p_map_entry {
	const struct pci_dev *client;
	unsigned long gen;
	int type;
	int dist;
};

/*
 * A provider. The pointer in struct pci_dev and @releasing are changed under
 * the device's p2p_lock held for writing; allocation and freeing hold it
 * for reading.
 */
struct pci_p2pdma {
	struct gen_pool *pool;
	bool published;
	bool releasing;
	struct list_head pgmaps;
	pthread_mutex_t cache_lock;
	struct p2p_map_entry cache[P2P_MAP_CACHE];
	unsigned int cache_next;
	struct list_head mmaps; /* p2pmem.c: live allocate mappings */
	pthread_mutex_t mmap_lock;
};

static inline struct pci_p2pdma_pagemap *to_p2p_pgmap(struct dev_pagemap *pgmap)
{
	return container_of(pgmap, struct pci_p2pdma_pagemap, pgmap);
}

/* p2pdma-map.c */
__internal enum pci_p2pdma_map_type p2pdma_calc_map_type(struct pci_dev *provider,
							 struct pci_dev *client, int *dist,
							 char *reason, size_t len);

/* p2pmem.c */
__internal void p2pmem_release_mmaps(struct pci_dev *pdev);

#endif /* HETMEM_DRIVERS_PCI_P2PDMA_H */
