// SPDX-License-Identifier: MIT
/*
 * ZONE_DEVICE page maps: struct pages for device memory, map lifetime, and
 * page references.
 *
 * Lifetime. A map's reference count starts at one (the map itself); every
 * page in use and every other holder (a p2pmem allocation, an alias) adds
 * one. memunmap_pages() marks the map dying — from then on pgmap_tryget()
 * fails — drops the initial reference and waits for the count to reach
 * zero. Only then are its pages removed from the lookup and freed, so
 * anyone holding a page reference may use the page, its map and the lookup
 * entries that led to it.
 *
 * The count and the dying mark share one atomic word: the mark is the top
 * bit, so a try-get that races with the kill either sees the mark or is
 * counted before the kill's wait begins. The put that takes the count to
 * zero records it under the map's lock; memunmap_pages() waits for that
 * record, not for the count, so it never frees the lock under that put.
 *
 * get_dev_pagemap() starts from a pfn, with no reference to anything: it
 * reads the lookup and the map inside an RCU read-side section (liburcu's
 * bulletproof flavour, which needs no thread registration), and
 * memunmap_pages() waits a grace period between taking the map out of the
 * lookup and freeing what a reader may still be looking at.
 */
#define pr_fmt(fmt) "memremap: " fmt

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include <hetmem/err.h>
#include <hetmem/log.h>
#include "internal.h"
#include "lib/rcu.h"
#include "lib/trace.h"

#define REF_DEAD (1UL << 62)

struct pgmap_private {
	unsigned long ref;
	pthread_mutex_t lock;
	pthread_cond_t zero;
	bool released; /* the count reached zero, under @lock */
	int nr_range;
	struct page **pages;	   /* per range */
	struct page_extent *exts;  /* per range: pfn space */
	struct page_extent vaddr;  /* the map's own CPU mapping, if any */
	struct list_head aliases;  /* further CPU mappings */
};

static pthread_mutex_t region_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t next_free_region = 1ULL << 50;

uint64_t request_free_mem_region(uint64_t size)
{
	const uint64_t align = 1ULL << 21, top = 1ULL << LOOKUP_ADDR_BITS;
	uint64_t start = 0;

	if (!size || size & (PAGE_SIZE - 1))
		return 0;
	pthread_mutex_lock(&region_lock);
	/* 2 MiB aligned so a region fills whole slots of the lookup. */
	if (size <= top - next_free_region) {
		start = next_free_region;
		next_free_region = (start + size + align - 1) & ~(align - 1);
	}
	pthread_mutex_unlock(&region_lock);
	return start;
}

static int nr_ranges(const struct dev_pagemap *pgmap)
{
	return pgmap->nr_range > 0 ? pgmap->nr_range : 1;
}

static bool cpu_addressable(enum memory_type t)
{
	return t == MEMORY_DEVICE_PCI_P2PDMA || t == MEMORY_DEVICE_GENERIC ||
	       t == MEMORY_DEVICE_COHERENT;
}

static int check_pgmap(const struct dev_pagemap *pgmap)
{
	const struct dev_pagemap_ops *ops = pgmap->ops;

	switch (pgmap->type) {
	case MEMORY_DEVICE_PRIVATE:
		if (!ops || !ops->migrate_to_ram) {
			pr_err("device-private map without a migrate_to_ram method");
			return -EINVAL;
		}
		/* fall through */
	case MEMORY_DEVICE_COHERENT:
		if (!ops || !ops->page_free) {
			pr_err("device-private or coherent map without a page_free method");
			return -EINVAL;
		}
		if (!pgmap->owner) {
			pr_err("device-private or coherent map without an owner");
			return -EINVAL;
		}
		break;
	case MEMORY_DEVICE_GENERIC:
	case MEMORY_DEVICE_PCI_P2PDMA:
		break;
	case MEMORY_DEVICE_FS_DAX:
	default:
		pr_err("memory type %d is not supported", pgmap->type);
		return -EINVAL;
	}
	for (int i = 0; i < nr_ranges(pgmap); i++) {
		const struct range *r = &pgmap->ranges[i];

		if (r->end < r->start || r->start & (PAGE_SIZE - 1) || (r->end + 1) & (PAGE_SIZE - 1) ||
		    r->start < DEVICE_PFN_FLOOR || r->end >= (1ULL << LOOKUP_ADDR_BITS)) {
			pr_err("range %d [0x%llx-0x%llx] is empty, unaligned or outside device pfn space",
			       i, (unsigned long long)r->start, (unsigned long long)r->end);
			return -EINVAL;
		}
	}
	if (pgmap->vaddr && (!cpu_addressable(pgmap->type) || nr_ranges(pgmap) != 1 ||
			     (uintptr_t)pgmap->vaddr & (PAGE_SIZE - 1) ||
			     (uintptr_t)pgmap->vaddr >= DEVICE_PFN_FLOOR)) {
		pr_err("a CPU mapping needs one range of CPU-addressable memory, page aligned");
		return -EINVAL;
	}
	return 0;
}

static void free_private(struct pgmap_private *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->nr_range; i++)
		free(p->pages ? p->pages[i] : NULL);
	free(p->pages);
	free(p->exts);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->zero);
	free(p);
}

static struct pgmap_private *alloc_private(struct dev_pagemap *pgmap)
{
	int n = nr_ranges(pgmap);
	struct pgmap_private *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->nr_range = n;
	p->ref = 1;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->zero, NULL);
	INIT_LIST_HEAD(&p->aliases);
	p->pages = calloc(n, sizeof(*p->pages));
	p->exts = calloc(n, sizeof(*p->exts));
	if (!p->pages || !p->exts)
		goto fail;
	for (int i = 0; i < n; i++) {
		const struct range *r = &pgmap->ranges[i];
		uint64_t npages = range_len(r) >> PAGE_SHIFT;

		p->pages[i] = calloc(npages, sizeof(struct page));
		if (!p->pages[i])
			goto fail;
		for (uint64_t j = 0; j < npages; j++) {
			p->pages[i][j].pfn = (r->start >> PAGE_SHIFT) + j;
			p->pages[i][j].pgmap = pgmap;
		}
		p->exts[i] = (struct page_extent){ .start = r->start, .end = r->end + 1,
						   .first = p->pages[i], .pgmap = pgmap };
	}
	return p;
fail:
	free_private(p);
	return NULL;
}

void *memremap_pages(struct dev_pagemap *pgmap, int nid)
{
	struct pgmap_private *p;
	int ret, i;

	ret = check_pgmap(pgmap);
	if (ret)
		return ERR_PTR(ret);
	p = alloc_private(pgmap);
	if (!p)
		return ERR_PTR(-ENOMEM);
	for (i = 0; i < p->nr_range; i++) {
		ret = page_lookup_insert(&p->exts[i]);
		if (ret)
			goto undo;
	}
	if (pgmap->vaddr) {
		p->vaddr = (struct page_extent){ .start = (uintptr_t)pgmap->vaddr,
						 .end = (uintptr_t)pgmap->vaddr +
							range_len(&pgmap->range),
						 .first = p->pages[0], .pgmap = pgmap };
		ret = page_lookup_insert(&p->vaddr);
		if (ret)
			goto undo;
	}
	__atomic_store_n(&pgmap->priv, p, __ATOMIC_RELEASE);
	trace_probe(memremap_pages, pgmap->type, pgmap->range.start, range_len(&pgmap->range));
	return pgmap->vaddr ? pgmap->vaddr : (void *)(uintptr_t)pgmap->ranges[0].start;
undo:
	if (ret == -EBUSY && i < p->nr_range)
		pr_err("range %d [0x%llx-0x%llx] overlaps a map already present", i,
		       (unsigned long long)pgmap->ranges[i].start,
		       (unsigned long long)pgmap->ranges[i].end);
	else if (ret == -EBUSY)
		pr_err("CPU mapping at %p overlaps one already present", pgmap->vaddr);
	while (--i >= 0)
		page_lookup_remove(&p->exts[i]);
	/* Nobody holds a reference yet, but a lookup may have seen the entries. */
	hm_synchronize_rcu();
	free_private(p);
	return ERR_PTR(ret);
}

bool pgmap_tryget(struct dev_pagemap *pgmap)
{
	/* Atomic: memunmap_pages() clears it after a grace period. */
	struct pgmap_private *p = __atomic_load_n(&pgmap->priv, __ATOMIC_ACQUIRE);
	unsigned long v;

	if (!p)
		return false; /* never mapped, or gone */
	v = __atomic_load_n(&p->ref, __ATOMIC_RELAXED);
	do {
		if (v & REF_DEAD)
			return false;
	} while (!__atomic_compare_exchange_n(&p->ref, &v, v + 1, true, __ATOMIC_ACQUIRE,
					      __ATOMIC_RELAXED));
	return true;
}

void put_dev_pagemap(struct dev_pagemap *pgmap)
{
	struct pgmap_private *p;
	unsigned long v;

	if (!pgmap)
		return;
	p = pgmap->priv;
	v = __atomic_sub_fetch(&p->ref, 1, __ATOMIC_ACQ_REL);
	/* Zero is reachable only after the kill: the map's own reference is gone. */
	if ((v & ~REF_DEAD) == 0) {
		pthread_mutex_lock(&p->lock);
		p->released = true;
		pthread_cond_broadcast(&p->zero);
		pthread_mutex_unlock(&p->lock);
	}
}

struct dev_pagemap *get_dev_pagemap(uint64_t pfn)
{
	const struct page_extent *ext;
	struct dev_pagemap *pgmap = NULL;

	hm_rcu_read_lock();
	ext = page_lookup(pfn << PAGE_SHIFT);
	if (ext && pgmap_tryget(ext->pgmap))
		pgmap = ext->pgmap;
	hm_rcu_read_unlock();
	return pgmap;
}

void memunmap_pages(struct dev_pagemap *pgmap)
{
	struct pgmap_private *p = pgmap->priv;

	__atomic_fetch_or(&p->ref, REF_DEAD, __ATOMIC_ACQ_REL);
	put_dev_pagemap(pgmap);
	/* Aliases hold references: this also waits for every pgmap_remove_alias(). */
	pthread_mutex_lock(&p->lock);
	while (!p->released)
		pthread_cond_wait(&p->zero, &p->lock);
	pthread_mutex_unlock(&p->lock);

	if (pgmap->vaddr)
		page_lookup_remove(&p->vaddr);
	for (int i = 0; i < p->nr_range; i++)
		page_lookup_remove(&p->exts[i]);
	/* A get_dev_pagemap() may still be looking at the extents and @p. */
	hm_synchronize_rcu();
	trace_probe(memunmap_pages, pgmap->type, pgmap->range.start);
	__atomic_store_n(&pgmap->priv, NULL, __ATOMIC_RELEASE);
	free_private(p);
}

static struct page *extent_page(const struct page_extent *ext, uint64_t addr)
{
	return ext ? ext->first + ((addr - ext->start) >> PAGE_SHIFT) : NULL;
}

struct page *pfn_to_page(uint64_t pfn)
{
	uint64_t addr = pfn << PAGE_SHIFT;

	return extent_page(page_lookup(addr), addr);
}

struct page *virt_to_page(const void *addr)
{
	uint64_t a = (uintptr_t)addr;

	return extent_page(page_lookup(a), a);
}

void *page_address(const struct page *page)
{
	const struct dev_pagemap *pgmap = page->pgmap;

	if (!pgmap->vaddr)
		return NULL;
	return (char *)pgmap->vaddr + ((page->pfn << PAGE_SHIFT) - pgmap->range.start);
}

int pgmap_add_alias(struct dev_pagemap *pgmap, void *vaddr, size_t len, uint64_t pfn)
{
	struct pgmap_private *p = pgmap->priv;
	const struct range *r = &pgmap->ranges[0];
	struct page_extent *ext;
	uint64_t start = (uintptr_t)vaddr, addr = pfn << PAGE_SHIFT;
	int i, ret;

	if (!len || (start | len) & (PAGE_SIZE - 1) || start >= DEVICE_PFN_FLOOR)
		return -EINVAL;
	/* The aliased pages must be consecutive pages of one range. */
	for (i = 0; i < p->nr_range; i++) {
		r = &pgmap->ranges[i];
		if (addr >= r->start && addr <= r->end && len <= r->end + 1 - addr)
			break;
	}
	if (i == p->nr_range)
		return -EINVAL;
	if (!pgmap_tryget(pgmap))
		return -ENODEV;
	ext = calloc(1, sizeof(*ext));
	if (!ext) {
		put_dev_pagemap(pgmap);
		return -ENOMEM;
	}
	*ext = (struct page_extent){ .start = start, .end = start + len,
				     .first = p->pages[i] + ((addr - r->start) >> PAGE_SHIFT),
				     .pgmap = pgmap };
	ret = page_lookup_insert(ext);
	if (ret) {
		free(ext);
		put_dev_pagemap(pgmap);
		return ret;
	}
	pthread_mutex_lock(&p->lock);
	list_add_tail(&ext->node, &p->aliases);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

int pgmap_remove_alias(struct dev_pagemap *pgmap, void *vaddr, size_t len)
{
	struct pgmap_private *p = pgmap->priv;
	struct page_extent *ext, *found = NULL;

	pthread_mutex_lock(&p->lock);
	list_for_each_entry(ext, &p->aliases, node)
		if (ext->start == (uintptr_t)vaddr && ext->end - ext->start == len) {
			found = ext;
			list_del(&ext->node);
			break;
		}
	pthread_mutex_unlock(&p->lock);
	if (!found)
		return -ENOENT;
	page_lookup_remove(found);
	hm_synchronize_rcu();
	free(found);
	put_dev_pagemap(pgmap);
	return 0;
}

/* --- page references ------------------------------------------------------------ */

int page_ref_count(const struct page *page)
{
	return __atomic_load_n(&page->_refcount, __ATOMIC_ACQUIRE);
}

int zone_device_page_init(struct page *page)
{
	int zero = 0;

	if (!pgmap_tryget(page->pgmap))
		return -ENODEV;
	if (!__atomic_compare_exchange_n(&page->_refcount, &zero, 1, false, __ATOMIC_ACQUIRE,
					 __ATOMIC_RELAXED)) {
		put_dev_pagemap(page->pgmap);
		return -EBUSY;
	}
	lock_page(page);
	return 0;
}

void get_page(struct page *page)
{
	__atomic_add_fetch(&page->_refcount, 1, __ATOMIC_RELAXED);
}

void put_page(struct page *page)
{
	struct dev_pagemap *pgmap = page->pgmap;
	int v = __atomic_sub_fetch(&page->_refcount, 1, __ATOMIC_ACQ_REL);

	if (v > 0)
		return;
	if (v < 0) {
		pr_err("page %#llx: reference count below zero", (unsigned long long)page->pfn);
		__atomic_store_n(&page->_refcount, 0, __ATOMIC_RELEASE);
		return;
	}
	page->flags = 0;
	if (pgmap->ops && pgmap->ops->page_free)
		pgmap->ops->page_free(page);
	put_dev_pagemap(pgmap);
}

void lock_page(struct page *page)
{
	/* Page locks are held for the length of a copy: spinning is cheaper than a wake-up. */
	while (!trylock_page(page))
		sched_yield();
}

void unlock_page(struct page *page)
{
	__atomic_fetch_and(&page->flags, ~(1UL << PG_locked), __ATOMIC_RELEASE);
}

bool trylock_page(struct page *page)
{
	return !(__atomic_fetch_or(&page->flags, 1UL << PG_locked, __ATOMIC_ACQUIRE) &
		 (1UL << PG_locked));
}
