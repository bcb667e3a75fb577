/* SPDX-License-Identifier: MIT */
/*
 * General-purpose special-memory allocator, the kernel's gen_pool.
 *
 * A pool hands out ranges of address space that malloc() knows nothing
 * about: a BAR's memory for P2PDMA, a device's private memory, an IOVA
 * window. The caller adds chunks of address space, each with the bus
 * ("physical") address it answers to and an owner cookie; the pool carves
 * allocations out of them in units of 1 << min_alloc_order bytes and never
 * touches the memory itself.
 *
 * Differences from the kernel: gen_pool_free*() returns -EINVAL instead of
 * BUGing on a bad free, and leaves the pool as it was; gen_pool_destroy()
 * logs and frees when allocations are still outstanding. Every free must
 * give the address and size (rounded to the granule) of one allocation:
 * partial frees are refused.
 *
 * Every function may be called from several threads at once, except
 * gen_pool_destroy(), which must be the last call on its pool.
 */
#ifndef HETMEM_LIB_GENALLOC_H
#define HETMEM_LIB_GENALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"

struct gen_pool;

/**
 * typedef gen_pool_chunk_fn - called by gen_pool_for_each_chunk() per chunk
 * @pool: the pool walked
 * @virt: the chunk's first address in the caller's address space
 * @phys: the bus address of @virt
 * @size: the chunk's size in bytes
 * @owner: the cookie given to gen_pool_add_owner()
 * @data: the argument given to gen_pool_for_each_chunk()
 */
typedef void (*gen_pool_chunk_fn)(struct gen_pool *pool, uintptr_t virt, uint64_t phys, size_t size,
				  void *owner, void *data);

/**
 * gen_pool_create - create an empty pool
 * @min_alloc_order: log2 of the allocation granule in bytes, from 0 up to
 *                   one less than the bits in a size_t
 *
 * Return: the pool, or NULL with errno set to EINVAL (@min_alloc_order out
 * of range) or ENOMEM.
 */
__internal struct gen_pool *gen_pool_create(int min_alloc_order);

/**
 * gen_pool_destroy - free a pool and its chunks
 * @pool: the pool, or NULL
 *
 * Outstanding allocations are reported with pr_err() (how many bytes) and
 * forgotten. No other thread may be using @pool.
 */
__internal void gen_pool_destroy(struct gen_pool *pool);

/**
 * gen_pool_add_owner - add a chunk of address space to a pool
 * @pool: the pool
 * @virt: first address of the chunk in the caller's address space; not 0,
 *        which gen_pool_alloc_owner() uses to say "nothing fits"
 * @phys: the bus address of @virt
 * @size: the chunk's size in bytes, a non-zero multiple of the granule
 * @owner: a cookie handed back with every allocation from this chunk
 *
 * Allocations are aligned to the granule relative to @virt, so @virt
 * should itself be aligned as the caller needs.
 *
 * Return: 0 on success;
 * -EINVAL if @size is zero or not a multiple of the granule, if @virt is 0,
 * if [@virt, @virt + @size) or [@phys, @phys + @size) wraps around the top
 * of the address space, or if the range overlaps a chunk already added;
 * -ENOMEM if the chunk's bitmaps cannot be allocated.
 */
__internal int gen_pool_add_owner(struct gen_pool *pool, uintptr_t virt, uint64_t phys, size_t size,
				  void *owner);

/**
 * gen_pool_add - add a chunk with no owner cookie
 * @pool: the pool
 * @virt: first address of the chunk in the caller's address space
 * @phys: the bus address of @virt
 * @size: the chunk's size in bytes
 *
 * Return: as gen_pool_add_owner().
 */
static inline int gen_pool_add(struct gen_pool *pool, uintptr_t virt, uint64_t phys, size_t size)
{
	return gen_pool_add_owner(pool, virt, phys, size, NULL);
}

/**
 * gen_pool_alloc_owner - allocate from a pool
 * @pool: the pool
 * @size: bytes wanted, rounded up to the granule
 * @owner: if not NULL, receives the owner cookie of the chunk allocated
 *         from, or NULL on failure
 *
 * Chunks are tried in the order they were added; inside a chunk the search
 * starts where the chunk's previous allocation ended (next fit), so small
 * allocations from a mostly free chunk cost O(1) whatever its size.
 *
 * Return: the first address of the allocation, or 0 if @size is 0 or no
 * chunk has room for it. A failed call changes nothing.
 */
__internal uintptr_t gen_pool_alloc_owner(struct gen_pool *pool, size_t size, void **owner);

/**
 * gen_pool_alloc - allocate from a pool, ignoring owners
 * @pool: the pool
 * @size: bytes wanted, rounded up to the granule
 *
 * Return: as gen_pool_alloc_owner().
 */
static inline uintptr_t gen_pool_alloc(struct gen_pool *pool, size_t size)
{
	return gen_pool_alloc_owner(pool, size, NULL);
}

/**
 * gen_pool_free_owner - give an allocation back
 * @pool: the pool
 * @addr: the address gen_pool_alloc_owner() returned
 * @size: the size it was asked for (any size that rounds to the same
 *        number of granules will do)
 * @owner: if not NULL, receives the owner cookie of the chunk, or NULL on
 *         failure
 *
 * A refused free is logged with pr_err() and leaves the pool unchanged.
 *
 * Return: 0 on success;
 * -EINVAL if @size is 0, if @addr lies in no chunk or is not on a granule
 * boundary of its chunk, or if [@addr, @addr + @size) is not exactly one
 * live allocation (double free, wrong size, or an address inside an
 * allocation rather than at its start).
 */
__internal int gen_pool_free_owner(struct gen_pool *pool, uintptr_t addr, size_t size,
				   void **owner);

/**
 * gen_pool_free - give an allocation back, ignoring owners
 * @pool: the pool
 * @addr: the address gen_pool_alloc() returned
 * @size: the size it was asked for
 *
 * Return: as gen_pool_free_owner().
 */
static inline int gen_pool_free(struct gen_pool *pool, uintptr_t addr, size_t size)
{
	return gen_pool_free_owner(pool, addr, size, NULL);
}

/**
 * gen_pool_virt_to_phys - translate a pool address to its bus address
 * @pool: the pool
 * @addr: an address inside one of the pool's chunks, allocated or not
 *
 * Does not take the pool's lock.
 *
 * Return: the bus address, or (uint64_t)-1 if @addr lies in no chunk.
 */
__internal uint64_t gen_pool_virt_to_phys(struct gen_pool *pool, uintptr_t addr);

/**
 * gen_pool_has_addr - whether a range lies inside the pool
 * @pool: the pool
 * @start: first address of the range
 * @size: its size in bytes
 *
 * Return: true if [@start, @start + @size) lies inside a single chunk;
 * false otherwise, for a zero @size, and for a range that spans two
 * adjacent chunks.
 */
__internal bool gen_pool_has_addr(struct gen_pool *pool, uintptr_t start, size_t size);

/**
 * gen_pool_size - total bytes in a pool's chunks
 * @pool: the pool
 *
 * Return: the sum of the sizes of the chunks added.
 */
__internal size_t gen_pool_size(struct gen_pool *pool);

/**
 * gen_pool_avail - bytes not allocated
 * @pool: the pool
 *
 * A snapshot: other threads may allocate or free at the same time, and
 * free bytes may be too fragmented to satisfy a single allocation.
 *
 * Return: the free bytes over all chunks.
 */
__internal size_t gen_pool_avail(struct gen_pool *pool);

/**
 * gen_pool_for_each_chunk - call a function on every chunk
 * @pool: the pool
 * @fn: called once per chunk, in the order the chunks were added
 * @data: passed to @fn
 *
 * Runs without the pool's lock, so @fn may call any gen_pool function on
 * @pool except gen_pool_destroy(); a chunk added meanwhile may or may not
 * be visited.
 */
__internal void gen_pool_for_each_chunk(struct gen_pool *pool, gen_pool_chunk_fn fn, void *data);

#endif /* HETMEM_LIB_GENALLOC_H */
