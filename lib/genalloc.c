// SPDX-License-Identifier: MIT
/*
 * General-purpose special-memory allocator (gen_pool).
 *
 * A pool is a list of chunks; each chunk covers [start, end) of the caller's
 * address space in granules of 1 << order bytes and keeps two bitmaps of one
 * bit per granule:
 *
 *   map:     1 = granule allocated
 *   starts:  1 = first granule of an allocation
 *
 *   granule   0 1 2 3 4 5 6 7
 *   map       1 1 1 0 1 1 0 0      two allocations: [0,3) and [4,6)
 *   starts    1 0 0 0 1 0 0 0
 *
 * The kernel keeps only the first; the second lets a free check that it
 * names exactly one allocation, so a wrong size or an address inside a
 * block is refused instead of silently freeing a neighbour's granules.
 *
 * Locking: pool->lock serialises add, alloc and free, and guards the
 * bitmaps and each chunk's hint and free count. The chunk list only grows
 * until gen_pool_destroy(), and a chunk's address fields never change after
 * it is linked in: it is published with a release store of the link that
 * points to it, so lookups (virt_to_phys, has_addr, for_each_chunk) walk
 * the list with acquire loads and no lock, as the kernel walks it under
 * RCU. The pool's byte totals are atomics for the same readers.
 */
#define pr_fmt(fmt) "genalloc: " fmt

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>

#include <hetmem/log.h>
#include "lib/genalloc.h"

#define BITS_PER_WORD 64
#define NO_BIT	      SIZE_MAX

struct gen_pool_chunk {
	struct gen_pool_chunk *next; /* written once, with a release store */
	uintptr_t start;
	uintptr_t end; /* exclusive; add refuses chunks that would wrap */
	uint64_t phys;
	void *owner;
	size_t nbits;
	/* under pool->lock */
	size_t free_bits;
	size_t hint; /* where the next search begins: just past the last allocation */
	uint64_t *starts; /* points into map[], after the allocation bitmap */
	uint64_t map[];
};

struct gen_pool {
	pthread_mutex_t lock;
	struct gen_pool_chunk *first; /* written with a release store */
	struct gen_pool_chunk *last; /* under lock: where the next chunk is linked */
	unsigned int order;
	size_t size; /* atomic */
	size_t avail; /* atomic */
};

static struct gen_pool_chunk *chunk_next(struct gen_pool_chunk *const *link)
{
	return __atomic_load_n(link, __ATOMIC_ACQUIRE);
}

static bool test_bit(const uint64_t *map, size_t bit)
{
	return (map[bit / BITS_PER_WORD] >> (bit % BITS_PER_WORD)) & 1;
}

/*
 * The first bit in [pos, end) that is set (@set) or clear (!@set), or @end
 * if there is none. Whole words at a time: a word with no candidate costs
 * one comparison.
 */
static size_t find_next(const uint64_t *map, size_t pos, size_t end, bool set)
{
	while (pos < end) {
		size_t w = pos / BITS_PER_WORD;
		uint64_t word = set ? map[w] : ~map[w];

		word &= ~0ULL << (pos % BITS_PER_WORD);
		if (word) {
			pos = w * BITS_PER_WORD + __builtin_ctzll(word);
			return pos < end ? pos : end;
		}
		pos = (w + 1) * BITS_PER_WORD;
	}
	return end;
}

static void assign_bits(uint64_t *map, size_t pos, size_t nr, bool set)
{
	while (nr) {
		size_t off = pos % BITS_PER_WORD;
		size_t n = BITS_PER_WORD - off < nr ? BITS_PER_WORD - off : nr;
		uint64_t mask = (n == BITS_PER_WORD ? ~0ULL : (1ULL << n) - 1) << off;

		if (set)
			map[pos / BITS_PER_WORD] |= mask;
		else
			map[pos / BITS_PER_WORD] &= ~mask;
		pos += n;
		nr -= n;
	}
}

/* The first run of @nr clear bits that starts at or after @pos and ends by @end, or NO_BIT. */
static size_t find_clear_run(const uint64_t *map, size_t pos, size_t end, size_t nr)
{
	for (;;) {
		size_t run = find_next(map, pos, end, false);
		size_t busy;

		if (run >= end || end - run < nr)
			return NO_BIT;
		busy = find_next(map, run, run + nr, true);
		if (busy == run + nr)
			return run;
		/* nothing starting before @busy can hold @nr bits */
		pos = busy + 1;
	}
}

/*
 * Next fit: search from the hint to the end of the chunk, then wrap. The
 * second pass only needs runs that start before the hint, so it stops
 * nr - 1 bits past it instead of rescanning the chunk's tail.
 */
static size_t chunk_find(const struct gen_pool_chunk *c, size_t nr)
{
	size_t bit = find_clear_run(c->map, c->hint, c->nbits, nr);
	size_t end;

	if (bit != NO_BIT || !c->hint)
		return bit;
	end = c->hint + nr - 1;
	return find_clear_run(c->map, 0, end < c->nbits ? end : c->nbits, nr);
}

/* Granules needed for @size bytes, rounded up without overflowing. */
static size_t size_to_bits(const struct gen_pool *pool, size_t size)
{
	size_t mask = ((size_t)1 << pool->order) - 1;

	return (size >> pool->order) + !!(size & mask);
}

static struct gen_pool_chunk *find_chunk(struct gen_pool *pool, uintptr_t addr)
{
	struct gen_pool_chunk *c;

	for (c = chunk_next(&pool->first); c; c = chunk_next(&c->next))
		if (addr >= c->start && addr < c->end)
			return c;
	return NULL;
}

struct gen_pool *gen_pool_create(int min_alloc_order)
{
	struct gen_pool *pool;

	if (min_alloc_order < 0 || min_alloc_order >= (int)(sizeof(size_t) * CHAR_BIT)) {
		errno = EINVAL;
		return NULL;
	}
	pool = calloc(1, sizeof(*pool));
	if (!pool)
		return NULL;
	pthread_mutex_init(&pool->lock, NULL);
	pool->order = min_alloc_order;
	return pool;
}

void gen_pool_destroy(struct gen_pool *pool)
{
	struct gen_pool_chunk *c, *next;
	size_t busy;

	if (!pool)
		return;
	busy = __atomic_load_n(&pool->size, __ATOMIC_RELAXED) -
	       __atomic_load_n(&pool->avail, __ATOMIC_RELAXED);
	if (busy)
		pr_err("pool destroyed with %zu bytes still allocated\n", busy);
	for (c = pool->first; c; c = next) {
		next = c->next;
		free(c);
	}
	pthread_mutex_destroy(&pool->lock);
	free(pool);
}

int gen_pool_add_owner(struct gen_pool *pool, uintptr_t virt, uint64_t phys, size_t size,
		       void *owner)
{
	size_t mask = ((size_t)1 << pool->order) - 1;
	struct gen_pool_chunk *c, *other;
	size_t nbits, nwords;

	/*
	 * 0 is the "nothing fits" answer of gen_pool_alloc(), and (uint64_t)-1
	 * that of gen_pool_virt_to_phys(): neither may be a valid address.
	 */
	if (!size || (size & mask) || !virt || size > UINTPTR_MAX - virt ||
	    (uint64_t)size > UINT64_MAX - phys)
		return -EINVAL;

	nbits = size >> pool->order;
	nwords = nbits / BITS_PER_WORD + !!(nbits % BITS_PER_WORD);
	/* allocated outside the lock: a big chunk's bitmaps take a while to zero */
	c = calloc(1, sizeof(*c) + 2 * nwords * sizeof(uint64_t));
	if (!c)
		return -ENOMEM;
	c->start = virt;
	c->end = virt + size;
	c->phys = phys;
	c->owner = owner;
	c->nbits = nbits;
	c->free_bits = nbits;
	c->starts = c->map + nwords;

	pthread_mutex_lock(&pool->lock);
	for (other = chunk_next(&pool->first); other; other = chunk_next(&other->next)) {
		if (virt < other->end && other->start < c->end) {
			pthread_mutex_unlock(&pool->lock);
			free(c);
			return -EINVAL;
		}
	}
	/* publish only once every field is set: lockless readers may follow the link at once */
	__atomic_store_n(pool->last ? &pool->last->next : &pool->first, c, __ATOMIC_RELEASE);
	pool->last = c;
	__atomic_fetch_add(&pool->size, size, __ATOMIC_RELAXED);
	__atomic_fetch_add(&pool->avail, size, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&pool->lock);
	return 0;
}

uintptr_t gen_pool_alloc_owner(struct gen_pool *pool, size_t size, void **owner)
{
	struct gen_pool_chunk *c;
	uintptr_t addr = 0;
	size_t nr, bit;

	if (owner)
		*owner = NULL;
	if (!size)
		return 0;
	nr = size_to_bits(pool, size);

	pthread_mutex_lock(&pool->lock);
	for (c = chunk_next(&pool->first); c; c = chunk_next(&c->next)) {
		/* the free count alone turns full chunks away without a scan */
		if (c->free_bits < nr)
			continue;
		bit = chunk_find(c, nr);
		if (bit == NO_BIT)
			continue;
		assign_bits(c->map, bit, nr, true);
		assign_bits(c->starts, bit, 1, true);
		c->free_bits -= nr;
		c->hint = bit + nr < c->nbits ? bit + nr : 0;
		__atomic_fetch_sub(&pool->avail, nr << pool->order, __ATOMIC_RELAXED);
		addr = c->start + (bit << pool->order);
		if (owner)
			*owner = c->owner;
		break;
	}
	pthread_mutex_unlock(&pool->lock);
	return addr;
}

/*
 * Whether [bit, bit + nr) is exactly one allocation; if not, why. An
 * allocation runs from its start bit to the next start bit or clear bit,
 * so both scans stop one bit past the claimed end: freeing the last block
 * of a huge chunk does not walk the rest of it.
 */
static const char *check_block(const struct gen_pool_chunk *c, size_t bit, size_t nr)
{
	size_t limit = c->nbits - bit > nr ? bit + nr + 1 : c->nbits;
	size_t end, clear;

	if (!test_bit(c->map, bit))
		return "not allocated (double free?)";
	if (!test_bit(c->starts, bit))
		return "inside an allocation, not at its start";
	end = find_next(c->starts, bit + 1, limit, true);
	clear = find_next(c->map, bit + 1, limit, false);
	if (clear < end)
		end = clear;
	if (end < bit + nr)
		return "size larger than the allocation";
	if (end > bit + nr)
		return "size smaller than the allocation";
	return NULL;
}

int gen_pool_free_owner(struct gen_pool *pool, uintptr_t addr, size_t size, void **owner)
{
	const char *why = NULL;
	struct gen_pool_chunk *c;
	size_t nr, bit = 0;

	if (owner)
		*owner = NULL;
	if (!size) {
		why = "zero size";
		goto refuse;
	}
	nr = size_to_bits(pool, size);

	pthread_mutex_lock(&pool->lock);
	c = find_chunk(pool, addr);
	if (!c) {
		why = "address in no chunk";
	} else if ((addr - c->start) & (((size_t)1 << pool->order) - 1)) {
		why = "address not on a granule boundary";
	} else {
		bit = (addr - c->start) >> pool->order;
		if (nr > c->nbits - bit)
			why = "range runs past the end of its chunk";
		else
			why = check_block(c, bit, nr);
	}
	if (!why) {
		assign_bits(c->map, bit, nr, false);
		assign_bits(c->starts, bit, 1, false);
		c->free_bits += nr;
		__atomic_fetch_add(&pool->avail, nr << pool->order, __ATOMIC_RELAXED);
		if (owner)
			*owner = c->owner;
	}
	pthread_mutex_unlock(&pool->lock);
	if (!why)
		return 0;

refuse:
	/* logged after unlocking: the log handler must not run under our lock */
	pr_err("free of %#" PRIxPTR " size %zu refused: %s\n", addr, size, why);
	return -EINVAL;
}

uint64_t gen_pool_virt_to_phys(struct gen_pool *pool, uintptr_t addr)
{
	struct gen_pool_chunk *c = find_chunk(pool, addr);

	return c ? c->phys + (addr - c->start) : (uint64_t)-1;
}

bool gen_pool_has_addr(struct gen_pool *pool, uintptr_t start, size_t size)
{
	struct gen_pool_chunk *c;

	if (!size)
		return false;
	c = find_chunk(pool, start);
	return c && size <= c->end - start;
}

size_t gen_pool_size(struct gen_pool *pool)
{
	return __atomic_load_n(&pool->size, __ATOMIC_RELAXED);
}

size_t gen_pool_avail(struct gen_pool *pool)
{
	return __atomic_load_n(&pool->avail, __ATOMIC_RELAXED);
}

void gen_pool_for_each_chunk(struct gen_pool *pool, gen_pool_chunk_fn fn, void *data)
{
	struct gen_pool_chunk *c;

	for (c = chunk_next(&pool->first); c; c = chunk_next(&c->next))
		fn(pool, c->start, c->phys, c->end - c->start, c->owner, data);
}
