/* SPDX-License-Identifier: MIT */
/*
 * Private to the fabric: the objects behind include/hetmem/pci.h.
 *
 * Locking: one read-write lock per fabric. Configuration writes (which can
 * move BARs and windows, change bus numbers, flip ACS and command bits) take
 * it for writing; routing decisions take it for reading and drop it before
 * data moves, so a device model's BAR handler may itself issue DMA. Link and
 * root-complex counters are updated with relaxed atomics.
 */
#ifndef HETMEM_DRIVERS_PCI_INTERNAL_H
#define HETMEM_DRIVERS_PCI_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <hetmem/pci.h>
#include "lib/compiler.h"
#include "lib/list.h"

#define PCI_EXP_CAP_OFF 0x40 /* where every PCIe capability lives */
#define PCI_ACS_CAP_OFF 0x100 /* where the ACS extended capability lives */
#define PCI_BRIDGE_WINDOW_ALIGN (1ULL << 20)
#define PCI_CPU_WINDOW_FLOOR (1ULL << 47) /* below: process memory */

enum pci_dev_kind {
	PCI_KIND_HOST,	   /* the host bridge function at 00.0 */
	PCI_KIND_ROOT_PORT,
	PCI_KIND_USP,	   /* switch upstream port */
	PCI_KIND_DSP,	   /* switch downstream port */
	PCI_KIND_ENDPOINT,
};

/* A decoded address range; valid when size != 0. */
struct pci_range {
	uint64_t base;
	uint64_t size;
};

struct pci_bar {
	uint64_t size;	/* from the builder, confirmed by sizing */
	unsigned int flags;
	const struct pci_bar_ops *ops;
	void *ram;
	bool ram_owned; /* the fabric mapped @ram from @fd */
	int fd;
	uint64_t fd_offset;
	uint64_t addr; /* decoded from config space */
};

struct pci_config {
	uint8_t data[PCI_CFG_SPACE_SIZE_HM];
	uint8_t wmask[PCI_CFG_SPACE_SIZE_HM];  /* bits software may write */
	uint8_t w1cmask[PCI_CFG_SPACE_SIZE_HM]; /* bits cleared by writing one */
};

struct pci_dev {
	char name[48];
	char bdf[16]; /* "dddd:bb:dd.f", kept current with the bus numbers */
	enum pci_dev_kind kind;
	struct pci_fabric *fabric;
	struct pci_host_bridge *host;
	struct pci_bus *bus;	     /* the bus this function sits on */
	struct pci_bus *subordinate; /* bridges: the bus below */
	uint8_t devfn;
	void *priv;
	struct list_head fabric_node; /* every function of the fabric */

	struct pci_config cfg;
	struct pci_bar bar[PCI_STD_NUM_BARS_HM];

	/* Decoded from config space on every write. */
	bool mem_enable;
	bool master;
	struct pci_range win_mem;  /* bridges: non-prefetchable window */
	struct pci_range win_pref; /* bridges: prefetchable window */
	uint8_t secondary, subordinate_nr;
	uint16_t acs_ctrl;

	struct iommu_domain *iommu;
	struct pci_link_stats stats; /* the link above this function */

	struct dma_state *dma;	   /* dma.c: default domain and IOVA space */
	struct pci_p2pdma *p2pdma; /* p2pdma.c: provider state, under p2p_lock */
	pthread_rwlock_t p2p_lock;

	/* Switches: the downstream ports, in order (upstream port only). */
	struct pci_dev **dsp;
	unsigned int nr_dsp;
};

struct pci_bus {
	struct pci_host_bridge *host;
	struct pci_bus *parent;
	struct pci_dev *self; /* bridge above, NULL on a root bus */
	struct pci_dev *devfn[256];
	struct pci_dev *present[256]; /* the functions above, compactly, for decode */
	unsigned int nr_present;
};

struct pci_host_bridge {
	struct pci_host_bridge_info info;
	char name[48];
	struct pci_fabric *fabric;
	struct pci_bus *bus; /* root bus, number 0 */
	struct list_head node;
	struct pci_rc_stats stats;
	unsigned int next_root_slot;
};

struct pci_fabric {
	pthread_rwlock_t lock;
	unsigned long cfg_gen; /* bumped by every bridge configuration write */
	struct list_head host_bridges;
	struct list_head devices; /* in creation order */
	bool enumerated;
};

/* config.c */
__internal void pci_config_init_endpoint(struct pci_dev *dev, const struct pci_endpoint_info *info);
__internal void pci_config_init_host(struct pci_dev *dev, uint16_t vendor, uint16_t device);
__internal void pci_config_init_port(struct pci_dev *dev, int pcie_type, uint16_t acs_ctrl);
__internal uint32_t pci_config_read(struct pci_dev *dev, unsigned int where, unsigned int size);
__internal void pci_config_write(struct pci_dev *dev, unsigned int where, unsigned int size, uint32_t val);
__internal void pci_config_decode(struct pci_dev *dev);

/* access.c */
__internal void pci_update_name(struct pci_dev *dev);

/* fabric.c */
__internal struct pci_bus *pci_find_bus(struct pci_host_bridge *hb, unsigned int busnr);
__internal bool pci_dev_is_port(const struct pci_dev *dev);

/* dma.c, p2pdma.c: per-device state torn down with the device */
__internal void pci_dma_release_dev(struct pci_dev *dev);
__internal void pci_p2pdma_release_dev(struct pci_dev *dev);

/* import-config.c: an imported function's configuration bytes, decoded */
struct pci_import_func;
__internal void pci_import_decode(struct pci_import_func *fn);

/*
 * p2pmem-revoke.c: process memory that was a p2pmem/allocate mapping of a
 * provider since gone. p2pmem_revoked(): does [start, start + len) touch
 * such a range (the DMA layer refuses to map it). A device copying process
 * memory brackets the copy with p2pmem_host_access_begin() (0, or -EFAULT:
 * revoked, do not copy) and p2pmem_host_access_end(), whatever begin said.
 */
#ifdef CONFIG_PCI_P2PDMA
__internal bool p2pmem_revoked(uint64_t start, uint64_t len);
__internal int p2pmem_host_access_begin(uint64_t start, uint64_t len);
__internal void p2pmem_host_access_end(void);
#else
static inline bool p2pmem_revoked(uint64_t start, uint64_t len)
{
	return false;
}

static inline int p2pmem_host_access_begin(uint64_t start, uint64_t len)
{
	return 0;
}

static inline void p2pmem_host_access_end(void)
{
}
#endif

/* route.c */
__internal struct pci_dev *pci_claim_on_bus(struct pci_bus *bus, uint64_t addr, const struct pci_dev *skip,
				 int *bar);

static inline bool pci_range_contains(const struct pci_range *r, uint64_t addr)
{
	return r->size && addr >= r->base && addr - r->base < r->size;
}

static inline void stat_add(uint64_t *ctr, uint64_t v)
{
	__atomic_add_fetch(ctr, v, __ATOMIC_RELAXED);
}

#endif /* HETMEM_DRIVERS_PCI_INTERNAL_H */
