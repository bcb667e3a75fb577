/* SPDX-License-Identifier: MIT */
/*
 * Private to the test device and its backends.
 *
 * The test device is split in two, as a driver of real hardware would be:
 *
 *	dmirror.c	   the mirrors and their commands: interval notifier,
 *			   hmm_range_fault() loops, the driver's record of what
 *			   the device maps, migrate_vma to the device, snapshot,
 *			   device-exclusive access
 *	dmirror_migrate.c  device memory policy: CPU faults (batching and
 *			   prefetch), migration home, eviction
 *
 * and a backend (struct dmirror_backend_ops) that owns the hardware side:
 * where device pages live and how they are allocated, how data moves
 * between them and system memory, how the device reaches memory through a
 * mirror, and how its page table is programmed. Two backends exist:
 * anonymous memory standing in for VRAM (dmirror_devmem.c, what
 * dmirror_device_create() makes) and the emulated GPU (drivers/gpu/host/).
 *
 * A backend embeds a struct dmirror_device, sets its ops and owner with
 * dmirror_device_init(), and gives its device-private page maps
 * dev_pagemap_ops whose migrate_to_ram() calls dmirror_migrate_to_ram().
 */
#ifndef HETMEM_MM_DMIRROR_H
#define HETMEM_MM_DMIRROR_H

#include <pthread.h>

#include <hetmem/hmm-dmirror.h>
#include <hetmem/hmm.h>
#include <hetmem/memremap.h>
#include <hetmem/mmu_notifier.h>
#include "hmm_internal.h"

struct dmirror_device;
struct dmirror;

/**
 * struct dmirror_backend_ops - the hardware side of a test device
 * @alloc_pages: allocate up to @n free device pages into @pages, each
 *		 initialised with zone_device_page_init() (locked, one
 *		 reference); return how many. May evict to make room.
 * @copy_to_dev: copy @n pages into device pages @dst from system memory:
 *		 @src[i] is the address of a system page, or 0 for a page of
 *		 zeros. The sources stay put for the duration of the call.
 *		 Return 0 or -errno.
 * @copy_to_sys: copy device pages @src into system memory at the
 *		 addresses @dst[i] (page aligned). Return 0 or -errno.
 * @page_cpu_addr: (optional) a CPU address holding the data of a device
 *		   page, usable as the source of a copy home without
 *		   staging; NULL when the device's memory is not CPU
 *		   addressable.
 * @access: the device reads (@write false) or writes [@start, @end)
 *	    through @d's page table, to or from @buf; from *@done pages on,
 *	    counting in *@done the pages done and in *@faults the device
 *	    faults serviced. With @fault false it must not fault anything
 *	    in: -ENOENT at the first page the mirror does not map.
 *	    Called without @d->mutex. Return 0 or -errno.
 * @mirror_open: (optional) a mirror is being opened: set up @d->priv.
 * @mirror_close: (optional) undo @mirror_open, after the notifier is gone.
 * @map: (optional) the driver's record of @d maps @n pages from @va with
 *	 @entries (DPT_* encoded); program the device. Under @d->mutex.
 *	 Return 0 or -errno (the pages are then left unmapped).
 * @unmap: (optional) stop the device using [@start, @end) of @d: when it
 *	   returns the device no longer reaches those pages. Under @d->mutex.
 * @release: bring every device page home (dmirror_close(), and the
 *	     release command with @drop true: also give up the memory the
 *	     device can give up).
 * @destroy: dmirror_device_destroy() on this device.
 */
struct dmirror_backend_ops {
	unsigned long (*alloc_pages)(struct dmirror_device *mdevice, unsigned long n,
				     struct page **pages);
	int (*copy_to_dev)(struct dmirror_device *mdevice, struct page **dst,
			   const unsigned long *src, unsigned long n);
	int (*copy_to_sys)(struct dmirror_device *mdevice, const unsigned long *dst,
			   struct page **src, unsigned long n);
	void *(*page_cpu_addr)(struct page *page);
	int (*access)(struct dmirror *d, unsigned long start, unsigned long end, char *buf,
		      bool write, bool fault, uint64_t *done, uint64_t *faults);
	int (*mirror_open)(struct dmirror *d);
	void (*mirror_close)(struct dmirror *d);
	int (*map)(struct dmirror *d, unsigned long va, unsigned long n,
		   const unsigned long *entries);
	void (*unmap)(struct dmirror *d, unsigned long start, unsigned long end);
	void (*release)(struct dmirror_device *mdevice, bool drop);
	void (*destroy)(struct dmirror_device *mdevice);
};

struct dmirror_device {
	const struct dmirror_backend_ops *ops;
	void *owner; /* the pgmap owner of its device-private pages */

	pthread_mutex_t lock; /* calloc, cfree */
	unsigned long calloc, cfree;

	pthread_mutex_t mirrors_lock; /* the list below */
	struct list_head mirrors;

	/* CPU fault policy (see dmirror_migrate_to_ram()). */
	unsigned long next_fault;
	unsigned long cpu_faults, prefetched, evicted;
};

/* Mirror page-table entries: pfn << DPT_SHIFT | flags. */
#define DPT_VALID  1UL
#define DPT_WRITE  2UL
#define DPT_ATOMIC 4UL
#define DPT_SHIFT  4

/*
 * The last DMIRROR_LOG ranges of one kind of invalidation, and how many
 * there were (under the mirror's mutex): a transfer that ran without the
 * mutex asks whether one of those since it looked its entries up touched
 * its range. An entry's value cannot tell: a page that left and came back
 * has the same entry.
 */
#define DMIRROR_LOG 32

struct dmirror_range_log {
	struct {
		unsigned long start, end;
	} r[DMIRROR_LOG];
	uint64_t n;
};

struct dmirror {
	struct dmirror_device *mdevice;
	struct hetmem_mm *mm;
	struct mmu_interval_notifier notifier;
	/*
	 * Protects the table. Never held while touching process memory by
	 * address: invalidations take it, and may run on the fault handler
	 * thread that such an access would wait for.
	 */
	pthread_mutex_t mutex;
	struct va_table pt;
	struct list_head node; /* in mdevice->mirrors */
	void *priv; /* the backend's */
	struct dmirror_range_log unmapped; /* UNMAP invalidations */
	/* every invalidation, our own migrations' included (they clear nothing) */
	struct dmirror_range_log changed;
};

/*
 * TEST ONLY: when set, called on the migrating thread right after a
 * migration has collected its pages and before anything is copied: the
 * range of a migration to the device (@where DMIRROR_HOOK_TO_DEV) or home
 * (DMIRROR_HOOK_TO_SYS; also on the fault handler thread, where the hook
 * must not touch process memory), or 0, 0 for an eviction
 * (DMIRROR_HOOK_EVICT). The regression tests of migrations racing
 * munmap() unmap the range there. Also called by the test device's write
 * once it has written system pages by address, before it asks whether an
 * invalidation overtook the write (DMIRROR_HOOK_WRITTEN, the range
 * written). NULL otherwise: a load and a branch per migration or write.
 */
enum dmirror_hook_point {
	DMIRROR_HOOK_TO_DEV,
	DMIRROR_HOOK_TO_SYS,
	DMIRROR_HOOK_EVICT,
	DMIRROR_HOOK_WRITTEN,
};
__internal extern void (*dmirror_test_hook)(enum dmirror_hook_point where, unsigned long start,
					    unsigned long end);

static inline void dmirror_hook(enum dmirror_hook_point where, unsigned long start,
				unsigned long end)
{
	void (*hook)(enum dmirror_hook_point, unsigned long, unsigned long) =
		__atomic_load_n(&dmirror_test_hook, __ATOMIC_ACQUIRE);

	if (__builtin_expect(hook != NULL, 0))
		hook(where, start, end);
}

/* --- for backends ------------------------------------------------------------------- */

/* Set up the common part; @owner is the owner cookie of the device's page maps. */
__internal void dmirror_device_init(struct dmirror_device *mdevice,
				    const struct dmirror_backend_ops *ops, void *owner);
__internal void dmirror_device_fini(struct dmirror_device *mdevice);
/* Account device pages allocated and freed. */
__internal void dmirror_count_alloc(struct dmirror_device *mdevice, unsigned long n);
__internal void dmirror_count_free(struct dmirror_device *mdevice, unsigned long n);

/* The body of a backend's migrate_to_ram(): the fault batching policy. */
__internal unsigned int dmirror_migrate_to_ram(struct dmirror_device *mdevice,
					       struct vm_fault *vmf);
/* Brings this device's pages of [start, end) home; returns pages moved or -errno. */
__internal long dmirror_range_to_sys(struct dmirror_device *mdevice, struct hetmem_mm *mm,
				     unsigned long start, unsigned long end,
				     struct page *fault_page);
/*
 * Evicts the pages of [@first_pfn, @first_pfn + @npages) that are mapped
 * somewhere back to system memory (migrate_device_range()). Returns the
 * pages moved; *@busy (when not NULL) is set when some page stayed: held
 * by a migration, or its copy or install failed. At most 512 pfns at a
 * time.
 */
__internal long dmirror_evict_pfns(struct dmirror_device *mdevice, unsigned long first_pfn,
				   unsigned long npages, bool *busy);
/* Drops every mirror's entry for each address of @vas (mirrors_lock, then each mutex). */
__internal void dmirror_forget(struct dmirror_device *mdevice, const unsigned long *vas,
			       unsigned long n);

/*
 * A device that reaches process memory by address while the mirror's
 * lock is not held (a copy engine) asks, before it starts, for the count
 * of unmaps, and after it is done whether one of those since took part of
 * [start, end): the addresses may then have been mapped again by anyone,
 * and what the transfer met there was not the range's. Also true when
 * too many unmaps came to tell.
 */
__internal uint64_t dmirror_unmaps(struct dmirror *d);
__internal bool dmirror_unmapped_since(struct dmirror *d, uint64_t unmaps, unsigned long start,
				       unsigned long end);
/*
 * Whether one of the ranges @log recorded since its count was @since
 * overlaps [start, end), or too many came to tell. Under the mirror's mutex.
 */
__internal bool dmirror_log_hit(const struct dmirror_range_log *log, uint64_t since,
				unsigned long start, unsigned long end);
/* Record [start, end) in @log (under the mirror's mutex). */
__internal void dmirror_log_add(struct dmirror_range_log *log, unsigned long start,
				unsigned long end);

/* The driver's record: read an entry (under @d->mutex or racy by design). */
__internal unsigned long dmirror_pt_get(struct dmirror *d, unsigned long va);
/*
 * Fault [start, end) into @d's table with hmm_range_fault() (writable
 * when @write), FAULT_PAGES at a time; each page is then mapped.
 */
__internal int dmirror_fault(struct dmirror *d, unsigned long start, unsigned long end,
			     bool write);
/*
 * A device's own fault: @npages (at most 64) from @start, each with its
 * request in @req (HMM_PFN_REQ_FAULT, HMM_PFN_REQ_WRITE, or 0 to take the
 * page only if it is there). What is valid gets mapped. -EFAULT or -EPERM
 * when a requested page cannot be had (hmm_range_fault()'s errors).
 */
__internal int dmirror_fault_pages(struct dmirror *d, unsigned long start, unsigned long npages,
				   const unsigned long *req);
/*
 * Migrate [start, end) to the device's memory and map it in @d (the
 * migrate-to-device command without its read back); *@moved counts the
 * pages this call migrated. -EINVAL when the range is not mapped readable
 * throughout.
 */
__internal int dmirror_migrate_range(struct dmirror *d, unsigned long start, unsigned long end,
				     unsigned long *moved);

#endif /* HETMEM_MM_DMIRROR_H */
