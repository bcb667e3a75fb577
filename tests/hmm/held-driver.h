/* SPDX-License-Identifier: MIT */
/*
 * A minimal device-private driver for tests that must stop a migration
 * half way: between migrate_vma_setup() and migrate_vma_pages(), or
 * between the pages and migrate_vma_finalize(), while the pages are held
 * (the kernel's migration entries). The test does what the application
 * does in that gap (munmap, mremap, mmap at the same address), then lets
 * the migration finish and looks at what is left.
 *
 * The device memory is HELD_DEV_PAGES pages of anonymous memory ("VRAM"),
 * page i backing the map's i-th pfn. page_free() counts, so a test can
 * tell that every page it put on the device was freed; migrate_to_ram()
 * brings the faulting page home with the usual three steps.
 *
 * The tests fill their buffers with one pattern (held_pattern()). The
 * pattern helpers fail the test through cmocka: include <cmocka.h> first.
 */
#ifndef HETMEM_TESTS_HMM_HELD_DRIVER_H
#define HETMEM_TESTS_HMM_HELD_DRIVER_H

#include <hetmem/hmm.h>
#include <hetmem/memremap.h>
#include <hetmem/migrate.h>
#include <hetmem/mmu_notifier.h>
#include "hmm-fixture.h"

#define HELD_DEV_PAGES 256UL
#define HELD_MAX_PAGES 64UL /* pages per migration */

struct held_dev {
	struct dev_pagemap pgmap;
	uint64_t first_pfn;
	uint8_t *vram;
	unsigned long freed; /* page_free() calls (atomic) */
	unsigned long allocated;
	struct hetmem_mm *mm;
};

/* The byte the tests put at offset @i of a buffer. */
static inline uint8_t held_pattern(unsigned long i)
{
	return (uint8_t)(i * 11 + 5);
}

/* @len bytes of fresh anonymous memory holding the pattern. */
static inline uint8_t *held_map_pattern(unsigned long len)
{
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	for (unsigned long i = 0; i < len; i++)
		p[i] = held_pattern(i);
	return p;
}

/* Fails the test at the first byte of [p, p + len) that is not the pattern. */
static inline void held_assert_pattern(const uint8_t *p, unsigned long len)
{
	for (unsigned long i = 0; i < len; i++)
		if (p[i] != held_pattern(i))
			fail_msg("byte %lu is %#x, not %#x", i, p[i], held_pattern(i));
}

static struct held_dev *held_dev_of(const struct page *page)
{
	return (struct held_dev *)((char *)page->pgmap - offsetof(struct held_dev, pgmap));
}

static inline void *held_page_data(struct held_dev *d, const struct page *page)
{
	return d->vram + ((page_to_pfn(page) - d->first_pfn) << 12);
}

static void held_page_free(struct page *page)
{
	__atomic_add_fetch(&held_dev_of(page)->freed, 1, __ATOMIC_RELAXED);
}

/* A free device page, locked and with its first reference, or NULL. */
static inline struct page *held_alloc_page(struct held_dev *d)
{
	for (unsigned long i = 0; i < HELD_DEV_PAGES; i++) {
		struct page *page = pfn_to_page(d->first_pfn + i);

		if (page && !zone_device_page_init(page)) {
			d->allocated++;
			return page;
		}
	}
	return NULL;
}

/*
 * Device pages of @src copied into system pages (from the pool when it has
 * some, else @bounce): dst[] filled in, as a driver does between setup and
 * migrate_vma_pages().
 */
static inline void held_copy_home(struct held_dev *d, struct migrate_vma *args, uint8_t *bounce)
{
	for (unsigned long i = 0; i < args->npages; i++) {
		struct page *page = migrate_pfn_to_page(args->src[i]);
		unsigned long pfn;
		void *to;

		args->dst[i] = 0;
		if (!page || !(args->src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		if (alloc_sys_pages(args->mm, 1, &pfn) == 1)
			to = (void *)(pfn << 12);
		else
			to = bounce + (i << 12);
		memcpy(to, held_page_data(d, page), HMM_PAGE);
		args->dst[i] = migrate_pfn((uintptr_t)to >> 12);
	}
}

/* System pages of @src copied into fresh device pages; dst[] filled in. */
static inline void held_copy_to_dev(struct held_dev *d, struct migrate_vma *args)
{
	for (unsigned long i = 0; i < args->npages; i++) {
		unsigned long s = args->src[i];
		struct page *dpage;

		args->dst[i] = 0;
		if (!(s & MIGRATE_PFN_MIGRATE))
			continue;
		dpage = held_alloc_page(d);
		if (!dpage)
			continue;
		if (s & MIGRATE_PFN_VALID)
			memcpy(held_page_data(d, dpage), (void *)(migrate_pfn_to_pfn(s) << 12),
			       HMM_PAGE);
		else
			memset(held_page_data(d, dpage), 0, HMM_PAGE);
		args->dst[i] = migrate_pfn(page_to_pfn(dpage)) | MIGRATE_PFN_WRITE;
	}
}

static unsigned int held_migrate_to_ram(struct vm_fault *vmf)
{
	struct held_dev *d = held_dev_of(vmf->page);
	unsigned long src[1], dst[1];
	uint8_t *bounce = malloc(HMM_PAGE);
	struct migrate_vma args = {
		.src = src,
		.dst = dst,
		.start = vmf->address,
		.end = vmf->address + HMM_PAGE,
		.pgmap_owner = d,
		.flags = MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
		.fault_page = vmf->page,
		.mm = vmf->mm,
	};

	if (!bounce || migrate_vma_setup(&args)) {
		free(bounce);
		return VM_FAULT_SIGBUS;
	}
	held_copy_home(d, &args, bounce);
	migrate_vma_pages(&args);
	migrate_vma_finalize(&args);
	free(bounce);
	return 0;
}

static const struct dev_pagemap_ops held_ops = {
	.page_free = held_page_free,
	.migrate_to_ram = held_migrate_to_ram,
};

static inline struct held_dev *held_dev_create(void)
{
	struct held_dev *d = calloc(1, sizeof(*d));
	uint64_t base = request_free_mem_region(HELD_DEV_PAGES << 12);
	void *ret;

	if (!d || !base)
		goto fail;
	d->vram = mmap(NULL, HELD_DEV_PAGES << 12, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (d->vram == MAP_FAILED)
		goto fail;
	d->pgmap.type = MEMORY_DEVICE_PRIVATE;
	d->pgmap.ops = &held_ops;
	d->pgmap.owner = d;
	d->pgmap.range.start = base;
	d->pgmap.range.end = base + (HELD_DEV_PAGES << 12) - 1;
	ret = memremap_pages(&d->pgmap, -1);
	if (IS_ERR(ret))
		goto fail;
	d->first_pfn = base >> 12;
	d->mm = hetmem_mm_get();
	if (IS_ERR(d->mm))
		goto fail;
	return d;
fail:
	free(d);
	return NULL;
}

/*
 * Pages still referenced (on the device, or held by someone), once the
 * handler thread has finished what it was doing: a CPU fault's thread
 * runs on as soon as its page is installed, before the handler has let
 * go of the device page.
 */
static inline unsigned long held_busy_pages(struct held_dev *d)
{
	unsigned long busy = 0;

	hetmem_mm_sync(d->mm);
	for (unsigned long i = 0; i < HELD_DEV_PAGES; i++)
		busy += page_ref_count(pfn_to_page(d->first_pfn + i)) != 0;
	return busy;
}

/*
 * Takes the map down, unless pages are still referenced: memunmap_pages()
 * would wait for them forever. Returns how many were.
 */
static inline unsigned long held_dev_destroy(struct held_dev *d)
{
	unsigned long busy = held_busy_pages(d);

	if (!busy) {
		memunmap_pages(&d->pgmap);
		munmap(d->vram, HELD_DEV_PAGES << 12);
		hetmem_mm_put(d->mm);
		free(d);
	}
	return busy;
}

/* migrate_vma_setup() of [start, start + n pages) for @d, selecting @flags. */
static inline int held_setup(struct held_dev *d, struct migrate_vma *args, void *start,
			     unsigned long n, unsigned long *src, unsigned long *dst,
			     unsigned long flags)
{
	*args = (struct migrate_vma){
		.src = src,
		.dst = dst,
		.start = (uintptr_t)start,
		.end = (uintptr_t)start + n * HMM_PAGE,
		.pgmap_owner = d,
		.flags = flags,
	};
	return migrate_vma_setup(args);
}

/* Toward @d: system pages. */
static inline int held_setup_to_dev(struct held_dev *d, struct migrate_vma *args, void *start,
				    unsigned long n, unsigned long *src, unsigned long *dst)
{
	return held_setup(d, args, start, n, src, dst, MIGRATE_VMA_SELECT_SYSTEM);
}

/* Home: @d's pages. */
static inline int held_setup_to_sys(struct held_dev *d, struct migrate_vma *args, void *start,
				    unsigned long n, unsigned long *src, unsigned long *dst)
{
	return held_setup(d, args, start, n, src, dst, MIGRATE_VMA_SELECT_DEVICE_PRIVATE);
}

/* The whole of [start, start + n pages) to the device; returns the pages moved. */
static inline unsigned long held_to_dev(struct held_dev *d, void *start, unsigned long n)
{
	unsigned long src[HELD_MAX_PAGES], dst[HELD_MAX_PAGES], moved = 0;
	struct migrate_vma args;

	if (n > HELD_MAX_PAGES || held_setup_to_dev(d, &args, start, n, src, dst))
		return 0;
	held_copy_to_dev(d, &args);
	migrate_vma_pages(&args);
	for (unsigned long i = 0; i < n; i++)
		moved += !!(src[i] & MIGRATE_PFN_MIGRATE);
	migrate_vma_finalize(&args);
	return moved;
}

static bool held_no_invalidate(struct mmu_interval_notifier *sub,
			       const struct mmu_notifier_range *range, unsigned long seq)
{
	(void)range;
	mmu_interval_set_seq(sub, seq);
	return true;
}

static const struct mmu_interval_notifier_ops held_notifier_ops = {
	.invalidate = held_no_invalidate,
};

/*
 * What the device would see at [start, start + n pages) without faulting
 * anything: how many pages are @d's device pages. A stale device-private
 * entry at an address shows here.
 */
static inline long held_device_pages_at(struct held_dev *d, void *start, unsigned long n)
{
	struct mmu_interval_notifier sub;
	unsigned long pfns[HELD_MAX_PAGES];
	struct hmm_range range = {
		.notifier = &sub,
		.start = (uintptr_t)start,
		.end = (uintptr_t)start + n * HMM_PAGE,
		.hmm_pfns = pfns,
		.dev_private_owner = d,
	};
	long found = 0;
	int ret;

	if (n > HELD_MAX_PAGES)
		return -EINVAL;
	ret = mmu_interval_notifier_insert(&sub, d->mm, range.start, range.end - range.start,
					   &held_notifier_ops);
	if (ret)
		return ret;
	do {
		range.notifier_seq = mmu_interval_read_begin(&sub);
		ret = hmm_range_fault(&range);
	} while (ret == -EBUSY);
	mmu_interval_notifier_remove(&sub);
	if (ret)
		return ret;
	for (unsigned long i = 0; i < n; i++) {
		struct page *page = (pfns[i] & HMM_PFN_VALID) ? hmm_pfn_to_page(pfns[i]) : NULL;

		found += page && page->pgmap == &d->pgmap;
	}
	return found;
}

#endif /* HETMEM_TESTS_HMM_HELD_DRIVER_H */
