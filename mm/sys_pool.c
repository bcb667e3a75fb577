// SPDX-License-Identifier: MIT
/*
 * The system page pool: where system pages wait while their data lives in
 * device memory.
 *
 * Freeing a page and allocating another costs more than copying it on a
 * virtual machine (a fresh page is zeroed, and may have to be faulted in
 * from the host: about 0.4-4 GB/s here, against 10 GB/s for memcpy). So a
 * migration to the device moves its CPU pages here with UFFDIO_MOVE (a
 * page-table operation, no copy), and a migration back takes pages from
 * here, lets the driver copy into them, and moves them into place. The
 * pool is one reserved anonymous range registered with the userfaultfd
 * (UFFDIO_MOVE wants both ends registered; write-protect mode, so faults
 * on it stay the kernel's business), MADV_WIPEONFORK so a fork child
 * neither inherits nor shares its pages.
 *
 * Slots are tracked in two bitmaps, free-and-filled and free-and-empty; a
 * slot in neither is taken by a migration. Takers want runs (one ioctl per
 * run), so each kind is searched from a rotating cursor for the first set
 * bit and the run of set bits after it.
 *
 * Size: HETMEM_SYS_POOL_MB in the environment, 4096 by default. Its pages
 * count in the process's resident memory while their data is on the
 * device; a migration that finds no empty slot discards its pages instead.
 */
#define pr_fmt(fmt) "sys_pool: " fmt

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <hetmem/log.h>
#include <hetmem/migrate.h>
#include "hmm_internal.h"

#define BITS_PER_LONG	64
#define DEFAULT_POOL_MB 4096UL

static unsigned long pool_bytes(void)
{
	const char *s = getenv("HETMEM_SYS_POOL_MB");
	unsigned long mb = DEFAULT_POOL_MB;

	if (s && *s) {
		char *end;
		unsigned long v = strtoul(s, &end, 0);

		if (!*end)
			mb = v;
	}
	return mb << 20;
}

int sys_pool_init(struct sys_pool *p, struct hetmem_mm *mm)
{
	unsigned long bytes = pool_bytes(), words;
	void *base;
	int ret;

	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	if (!bytes)
		return 0;
	base = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return -ENOMEM;
	p->base = (unsigned long)base;
	p->nslots = bytes >> PAGE_SHIFT;
	madvise(base, bytes, MADV_WIPEONFORK);
	words = (p->nslots + BITS_PER_LONG - 1) / BITS_PER_LONG;
	p->filled = calloc(words, sizeof(unsigned long));
	p->empty = calloc(words, sizeof(unsigned long));
	if (!p->filled || !p->empty) {
		ret = -ENOMEM;
		goto fail;
	}
	memset(p->empty, 0xff, (p->nslots / BITS_PER_LONG) * sizeof(unsigned long));
	for (unsigned long i = p->nslots & ~(BITS_PER_LONG - 1); i < p->nslots; i++)
		p->empty[i / BITS_PER_LONG] |= 1UL << (i % BITS_PER_LONG);
	p->nr_empty = p->nslots;
	ret = uffd_register(mm, p->base, bytes, false);
	if (ret) {
		/* The pool is for UFFDIO_MOVE; without it migrations copy and discard. */
		pr_info("pool not registered (%d): pages will be copied", ret);
		goto fail;
	}
	return 0;
fail:
	free(p->filled);
	free(p->empty);
	munmap(base, bytes);
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	return ret == -ENOMEM ? ret : 0;
}

void sys_pool_fini(struct sys_pool *p)
{
	if (p->base)
		munmap((void *)p->base, p->nslots << PAGE_SHIFT);
	free(p->filled);
	free(p->empty);
	pthread_mutex_destroy(&p->lock);
	memset(p, 0, sizeof(*p));
}

static bool test_bit(const unsigned long *map, unsigned long i)
{
	return map[i / BITS_PER_LONG] & (1UL << (i % BITS_PER_LONG));
}

/* First set bit at or after @from, or @n. */
static unsigned long find_next(const unsigned long *map, unsigned long n, unsigned long from)
{
	unsigned long w = from / BITS_PER_LONG, bits;

	if (from >= n)
		return n;
	bits = map[w] & (~0UL << (from % BITS_PER_LONG));
	for (;;) {
		if (bits) {
			unsigned long i = w * BITS_PER_LONG + (unsigned long)__builtin_ctzl(bits);

			return i < n ? i : n;
		}
		if (++w * BITS_PER_LONG >= n)
			return n;
		bits = map[w];
	}
}

static void set_range(unsigned long *map, unsigned long i, unsigned long n, bool set)
{
	for (; n; i++, n--) {
		if (set)
			map[i / BITS_PER_LONG] |= 1UL << (i % BITS_PER_LONG);
		else
			map[i / BITS_PER_LONG] &= ~(1UL << (i % BITS_PER_LONG));
	}
}

unsigned long sys_pool_take(struct sys_pool *p, bool filled, unsigned long n, unsigned long *va)
{
	unsigned long *map = filled ? p->filled : p->empty;
	unsigned long *cur = filled ? &p->cur_filled : &p->cur_empty;
	unsigned long *nr = filled ? &p->nr_filled : &p->nr_empty;
	unsigned long i, len = 0;

	if (!p->nslots || !n)
		return 0;
	pthread_mutex_lock(&p->lock);
	if (!*nr)
		goto out;
	i = find_next(map, p->nslots, *cur);
	if (i == p->nslots)
		i = find_next(map, p->nslots, 0);
	while (len < n && i + len < p->nslots && test_bit(map, i + len))
		len++;
	set_range(map, i, len, false);
	*nr -= len;
	*cur = i + len;
	*va = p->base + (i << PAGE_SHIFT);
out:
	pthread_mutex_unlock(&p->lock);
	return len;
}

void sys_pool_give(struct sys_pool *p, bool filled, unsigned long va, unsigned long n)
{
	unsigned long i = (va - p->base) >> PAGE_SHIFT;

	if (!n)
		return;
	pthread_mutex_lock(&p->lock);
	set_range(filled ? p->filled : p->empty, i, n, true);
	if (filled)
		p->nr_filled += n;
	else
		p->nr_empty += n;
	pthread_mutex_unlock(&p->lock);
}

unsigned long alloc_sys_pages(struct hetmem_mm *mm, unsigned long nr, unsigned long *pfn)
{
	unsigned long va, got = sys_pool_take(&mm->pool, true, nr, &va);

	if (!got) {
		/* No page waiting: populate empty slots (the kernel allocates them). */
		got = sys_pool_take(&mm->pool, false, nr, &va);
		if (got && madvise((void *)va, got << PAGE_SHIFT, MADV_POPULATE_WRITE)) {
			sys_pool_give(&mm->pool, false, va, got);
			got = 0;
		}
	}
	if (got)
		*pfn = va >> PAGE_SHIFT;
	return got;
}

void free_sys_pages(struct hetmem_mm *mm, unsigned long pfn, unsigned long nr)
{
	unsigned long va = pfn << PAGE_SHIFT;

	if (sys_pool_contains(&mm->pool, va))
		sys_pool_give(&mm->pool, true, va, nr);
}
