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

/*
 * p2pmem-revoke.c: mappings whose provider went away. A revocation is
 * p2pmem_revoke_lock(), p2pmem_revoke_enter() (while the alias is still in
 * the lookup), removing the alias, p2pmem_revoke_finish(),
 * p2pmem_revoke_unlock(). @key names the provider and is never dereferenced.
 */
struct revoked;
__internal void p2pmem_revoke_lock(void);
__internal void p2pmem_revoke_unlock(void);
__internal struct revoked *p2pmem_revoke_enter(const void *key, uintptr_t va, size_t len);
__internal void p2pmem_revoke_finish(struct revoked *r, int prot);
/* Unmap what of [start, end) is revoked under @key: the bytes unmapped; *err -ENOMEM. */
__internal size_t p2pmem_revoked_munmap(const void *key, uintptr_t start, uintptr_t end, int *err);

#endif /* HETMEM_DRIVERS_PCI_P2PDMA_H */
