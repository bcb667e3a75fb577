/* SPDX-License-Identifier: MIT */
/*
 * Private to the test device: dmirror_devmem.c (device memory, CPU faults,
 * eviction) and dmirror.c (mirrors and their commands).
 */
#ifndef HETMEM_MM_DMIRROR_H
#define HETMEM_MM_DMIRROR_H

#include <pthread.h>

#include <hetmem/hmm-dmirror.h>
#include <hetmem/memremap.h>
#include <hetmem/mmu_notifier.h>
#include "hmm_internal.h"

/* A chunk of device memory: a page map over "VRAM" only the device touches. */
struct dmirror_chunk {
	struct dev_pagemap pagemap;
	struct dmirror_device *mdevice;
	char *vram;
	unsigned long first_pfn, npages;
	unsigned long *used; /* allocation bitmap, under mdevice->lock */
	bool remove; /* being taken down: no more allocations */
};

struct dmirror_device {
	pthread_mutex_t devmem_lock; /* adding and removing chunks */
	struct dmirror_chunk **chunks;
	unsigned int nchunks, max_chunks;
	unsigned long chunk_pages;

	pthread_mutex_t lock; /* allocation: bitmaps, cursor, counters */
	unsigned int cur_chunk;
	unsigned long cur_page;
	unsigned long calloc, cfree;

	pthread_mutex_t mirrors_lock; /* the list below */
	struct list_head mirrors;

	/* CPU fault policy (see dmirror_devmem_fault()). */
	unsigned long next_fault;
	unsigned long cpu_faults, prefetched;
};

/* Mirror page-table entries: pfn << DPT_SHIFT | flags. */
#define DPT_VALID  1UL
#define DPT_WRITE  2UL
#define DPT_ATOMIC 4UL
#define DPT_SHIFT  4

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
};

__internal void *dmirror_page_backing(struct page *page);
/* Allocates up to n device pages (initialised, locked); returns how many. */
__internal unsigned long dmirror_devmem_alloc(struct dmirror_device *mdevice, unsigned long n,
					      struct page **pages);
/* Brings this device's pages of [start, end) home; returns pages moved or -errno. */
__internal long dmirror_range_to_sys(struct dmirror_device *mdevice, struct hetmem_mm *mm,
				     unsigned long start, unsigned long end,
				     struct page *fault_page);
__internal void dmirror_evict_chunks(struct dmirror_device *mdevice, bool remove);
/* Drops every mirror's entry for each address of @vas (mirrors_lock, then each mutex). */
__internal void dmirror_forget(struct dmirror_device *mdevice, const unsigned long *vas,
			       unsigned long n);

#endif /* HETMEM_MM_DMIRROR_H */
