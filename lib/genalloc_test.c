// SPDX-License-Identifier: MIT
/*
 * Unit test of the gen_pool allocator: round trips, rounding, exhaustion,
 * owners, translation, refused frees, fragmentation, several chunks, a
 * large IOVA-sized pool and several threads at once.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <hetmem/log.h>
#include "lib/genalloc.h"

#define ORDER	6
#define GRANULE ((size_t)1 << ORDER)
#define BASE	((uintptr_t)0x100000)
#define PHYS	((uint64_t)0xf0000000)

struct captured {
	int n;
	char msg[256];
};

static void capture(int level, int guest, const char *msg, void *arg)
{
	struct captured *c = arg;

	c->n++;
	snprintf(c->msg, sizeof(c->msg), "%s", msg);
}

/* A pool of one chunk of @granules granules at BASE / PHYS. */
static struct gen_pool *one_chunk_pool(size_t granules)
{
	struct gen_pool *pool = gen_pool_create(ORDER);

	assert_non_null(pool);
	assert_int_equal(gen_pool_add(pool, BASE, PHYS, granules * GRANULE), 0);
	return pool;
}

/* Allocations come back from the chunk and freeing them restores every byte. */
static void test_alloc_free_round_trip(void **state)
{
	struct gen_pool *pool = one_chunk_pool(64);
	uintptr_t a, b;

	assert_int_equal(gen_pool_size(pool), 64 * GRANULE);
	assert_int_equal(gen_pool_avail(pool), 64 * GRANULE);
	a = gen_pool_alloc(pool, GRANULE);
	b = gen_pool_alloc(pool, 4 * GRANULE);
	assert_int_equal(a, BASE);
	assert_int_equal(b, BASE + GRANULE);
	assert_int_equal(gen_pool_avail(pool), 59 * GRANULE);
	assert_int_equal(gen_pool_free(pool, a, GRANULE), 0);
	assert_int_equal(gen_pool_free(pool, b, 4 * GRANULE), 0);
	assert_int_equal(gen_pool_avail(pool), 64 * GRANULE);
	assert_int_equal(gen_pool_alloc(pool, 0), 0);
	assert_int_equal(gen_pool_avail(pool), 64 * GRANULE);
	gen_pool_destroy(pool);
}

/* Sizes round up to the granule, and a free may give any size with the same rounding. */
static void test_rounding_to_granule(void **state)
{
	struct gen_pool *pool = one_chunk_pool(16);
	uintptr_t a, b;

	a = gen_pool_alloc(pool, 1);
	assert_int_equal(gen_pool_avail(pool), 15 * GRANULE);
	b = gen_pool_alloc(pool, GRANULE + 1);
	assert_int_equal(b, a + GRANULE);
	assert_int_equal(gen_pool_avail(pool), 13 * GRANULE);
	assert_int_equal(gen_pool_free(pool, b, 2 * GRANULE), 0);
	assert_int_equal(gen_pool_free(pool, a, GRANULE - 1), 0);
	assert_int_equal(gen_pool_avail(pool), 16 * GRANULE);
	gen_pool_destroy(pool);
}

/* A full pool answers 0 and changes nothing; a size larger than the pool does the same. */
static void test_exhaustion(void **state)
{
	struct gen_pool *pool = one_chunk_pool(8);
	uintptr_t a, b;

	a = gen_pool_alloc(pool, 6 * GRANULE);
	b = gen_pool_alloc(pool, 2 * GRANULE);
	assert_int_not_equal(a, 0);
	assert_int_not_equal(b, 0);
	assert_int_equal(gen_pool_avail(pool), 0);
	assert_int_equal(gen_pool_alloc(pool, 1), 0);
	assert_int_equal(gen_pool_avail(pool), 0);
	assert_int_equal(gen_pool_free(pool, b, 2 * GRANULE), 0);
	assert_int_equal(gen_pool_alloc(pool, 3 * GRANULE), 0);
	assert_int_equal(gen_pool_alloc(pool, SIZE_MAX), 0);
	assert_int_equal(gen_pool_avail(pool), 2 * GRANULE);
	assert_int_equal(gen_pool_alloc(pool, 2 * GRANULE), b);
	assert_int_equal(gen_pool_free(pool, a, 6 * GRANULE), 0);
	assert_int_equal(gen_pool_free(pool, b, 2 * GRANULE), 0);
	assert_int_equal(gen_pool_avail(pool), 8 * GRANULE);
	gen_pool_destroy(pool);
}

/* Each allocation and free hands back the owner cookie of its chunk; a failure hands back NULL. */
static void test_owner_cookies(void **state)
{
	struct gen_pool *pool = gen_pool_create(ORDER);
	int first, second;
	void *owner = &owner;
	uintptr_t a, b;

	assert_int_equal(gen_pool_add_owner(pool, BASE, PHYS, 2 * GRANULE, &first), 0);
	assert_int_equal(gen_pool_add_owner(pool, 2 * BASE, PHYS + BASE, 2 * GRANULE, &second), 0);
	a = gen_pool_alloc_owner(pool, 2 * GRANULE, &owner);
	assert_int_equal(a, BASE);
	assert_ptr_equal(owner, &first);
	b = gen_pool_alloc_owner(pool, GRANULE, &owner);
	assert_int_equal(b, 2 * BASE);
	assert_ptr_equal(owner, &second);
	assert_int_equal(gen_pool_alloc_owner(pool, 2 * GRANULE, &owner), 0);
	assert_null(owner);
	assert_int_equal(gen_pool_free_owner(pool, b, GRANULE, &owner), 0);
	assert_ptr_equal(owner, &second);
	assert_int_equal(gen_pool_free_owner(pool, a, 2 * GRANULE, &owner), 0);
	assert_ptr_equal(owner, &first);
	gen_pool_destroy(pool);
}

/* Pool addresses translate to the chunk's bus address plus the offset; others to -1. */
static void test_virt_to_phys(void **state)
{
	struct gen_pool *pool = one_chunk_pool(16);
	uintptr_t a;

	gen_pool_alloc(pool, GRANULE);
	a = gen_pool_alloc(pool, GRANULE);
	assert_int_equal(gen_pool_virt_to_phys(pool, a), PHYS + GRANULE);
	assert_int_equal(gen_pool_virt_to_phys(pool, a + 5), PHYS + GRANULE + 5);
	assert_int_equal(gen_pool_virt_to_phys(pool, BASE + 16 * GRANULE - 1),
			 PHYS + 16 * GRANULE - 1);
	assert_int_equal(gen_pool_virt_to_phys(pool, BASE + 16 * GRANULE), (uint64_t)-1);
	assert_int_equal(gen_pool_virt_to_phys(pool, BASE - 1), (uint64_t)-1);
	gen_pool_free(pool, BASE, GRANULE);
	gen_pool_free(pool, a, GRANULE);
	gen_pool_destroy(pool);
}

/* has_addr wants the whole range in one chunk, even when two chunks are adjacent. */
static void test_has_addr_chunk_boundary(void **state)
{
	struct gen_pool *pool = gen_pool_create(ORDER);
	size_t sz = 64 * GRANULE;

	assert_int_equal(gen_pool_add(pool, BASE, PHYS, sz), 0);
	assert_int_equal(gen_pool_add(pool, BASE + sz, PHYS + sz, sz), 0);
	assert_true(gen_pool_has_addr(pool, BASE, sz));
	assert_true(gen_pool_has_addr(pool, BASE + sz, sz));
	assert_true(gen_pool_has_addr(pool, BASE + sz - 1, 1));
	assert_false(gen_pool_has_addr(pool, BASE + sz - GRANULE, 2 * GRANULE));
	assert_false(gen_pool_has_addr(pool, BASE, 2 * sz));
	assert_false(gen_pool_has_addr(pool, BASE + sz, sz + 1));
	assert_false(gen_pool_has_addr(pool, BASE - 1, 2));
	assert_false(gen_pool_has_addr(pool, BASE, 0));
	assert_false(gen_pool_has_addr(pool, BASE + 1, SIZE_MAX));
	gen_pool_destroy(pool);
}

/* Bad orders and bad chunks are refused, and a refused chunk adds nothing. */
static void test_create_add_errors(void **state)
{
	struct gen_pool *pool;
	size_t sz = 16 * GRANULE;

	errno = 0;
	assert_null(gen_pool_create(-1));
	assert_int_equal(errno, EINVAL);
	assert_null(gen_pool_create(sizeof(size_t) * 8));
	pool = gen_pool_create(0);
	assert_non_null(pool);
	gen_pool_destroy(pool);

	pool = one_chunk_pool(16);
	assert_int_equal(gen_pool_add(pool, 2 * BASE, PHYS, 0), -EINVAL);
	assert_int_equal(gen_pool_add(pool, 2 * BASE, PHYS, GRANULE + 1), -EINVAL);
	assert_int_equal(gen_pool_add(pool, 0, PHYS, sz), -EINVAL);
	assert_int_equal(gen_pool_add(pool, UINTPTR_MAX - GRANULE + 1, PHYS, 2 * GRANULE), -EINVAL);
	assert_int_equal(gen_pool_add(pool, 2 * BASE, UINT64_MAX - GRANULE + 1, GRANULE), -EINVAL);
	/* overlapping the existing chunk: its tail, its head, inside it, around it */
	assert_int_equal(gen_pool_add(pool, BASE + sz - GRANULE, PHYS, sz), -EINVAL);
	assert_int_equal(gen_pool_add(pool, BASE - GRANULE, PHYS, 2 * GRANULE), -EINVAL);
	assert_int_equal(gen_pool_add(pool, BASE + GRANULE, PHYS, GRANULE), -EINVAL);
	assert_int_equal(gen_pool_add(pool, BASE - GRANULE, PHYS, 2 * sz), -EINVAL);
	assert_int_equal(gen_pool_size(pool), sz);
	assert_int_equal(gen_pool_avail(pool), sz);
	/* touching is not overlapping */
	assert_int_equal(gen_pool_add(pool, BASE + sz, PHYS, GRANULE), 0);
	assert_int_equal(gen_pool_add(pool, BASE - GRANULE, PHYS, GRANULE), 0);
	assert_int_equal(gen_pool_size(pool), sz + 2 * GRANULE);
	gen_pool_destroy(pool);
}

/* Foreign, misaligned, double, wrong-size and mid-block frees are refused, logged, and harmless. */
static void test_bad_frees(void **state)
{
	struct gen_pool *pool = one_chunk_pool(16);
	struct captured log = { 0 };
	uintptr_t a, b, c, got[16];
	size_t avail;
	int i, n;

	hetmem_log_set_handler(capture, &log);
	a = gen_pool_alloc(pool, 2 * GRANULE);
	b = gen_pool_alloc(pool, 3 * GRANULE);
	c = gen_pool_alloc(pool, GRANULE);
	assert_int_equal(gen_pool_free(pool, c, GRANULE), 0);
	avail = gen_pool_avail(pool);

	assert_int_equal(gen_pool_free(pool, 0x1234, GRANULE), -EINVAL);
	assert_int_equal(gen_pool_free(pool, BASE + 16 * GRANULE, GRANULE), -EINVAL);
	assert_int_equal(gen_pool_free(pool, a + 1, GRANULE), -EINVAL);
	assert_int_equal(gen_pool_free(pool, c, GRANULE), -EINVAL);
	assert_int_equal(gen_pool_free(pool, a, 3 * GRANULE), -EINVAL);
	assert_int_equal(gen_pool_free(pool, b, 2 * GRANULE), -EINVAL);
	assert_int_equal(gen_pool_free(pool, b, 4 * GRANULE), -EINVAL);
	assert_int_equal(gen_pool_free(pool, b + GRANULE, 2 * GRANULE), -EINVAL);
	assert_int_equal(gen_pool_free(pool, a, 0), -EINVAL);
	assert_int_equal(gen_pool_free(pool, b, 16 * GRANULE), -EINVAL);
	assert_int_equal(log.n, 10);
	assert_non_null(strstr(log.msg, "genalloc: free of"));
	assert_int_equal(gen_pool_avail(pool), avail);

	/* the pool still holds exactly a and b: the rest fills granule by granule */
	for (n = 0; n < 16; n++) {
		got[n] = gen_pool_alloc(pool, GRANULE);
		if (!got[n])
			break;
		assert_true(got[n] >= b + 3 * GRANULE || got[n] < a);
	}
	assert_int_equal(n, 11);
	for (i = 0; i < n; i++)
		assert_int_equal(gen_pool_free(pool, got[i], GRANULE), 0);
	assert_int_equal(gen_pool_free(pool, b, 3 * GRANULE), 0);
	assert_int_equal(gen_pool_free(pool, a, 2 * GRANULE), 0);
	assert_int_equal(gen_pool_avail(pool), 16 * GRANULE);
	assert_int_equal(log.n, 10);
	hetmem_log_set_handler(NULL, NULL);
	gen_pool_destroy(pool);
}

/* With every other granule free a two-granule block fails, and fits once a neighbour is freed. */
static void test_fragmentation(void **state)
{
	struct gen_pool *pool = one_chunk_pool(64);
	uintptr_t blk[64], big;
	int i;

	for (i = 0; i < 64; i++) {
		blk[i] = gen_pool_alloc(pool, GRANULE);
		assert_int_equal(blk[i], BASE + i * GRANULE);
	}
	for (i = 0; i < 64; i += 2)
		assert_int_equal(gen_pool_free(pool, blk[i], GRANULE), 0);
	assert_int_equal(gen_pool_avail(pool), 32 * GRANULE);
	assert_int_equal(gen_pool_alloc(pool, 2 * GRANULE), 0);
	assert_int_equal(gen_pool_avail(pool), 32 * GRANULE);
	assert_int_equal(gen_pool_free(pool, blk[41], GRANULE), 0);
	big = gen_pool_alloc(pool, 2 * GRANULE);
	assert_true(big == blk[40] || big == blk[41]);
	assert_int_equal(gen_pool_free(pool, big, 2 * GRANULE), 0);
	for (i = 1; i < 64; i += 2)
		if (i != 41)
			assert_int_equal(gen_pool_free(pool, blk[i], GRANULE), 0);
	assert_int_equal(gen_pool_alloc(pool, 64 * GRANULE), BASE);
	assert_int_equal(gen_pool_free(pool, BASE, 64 * GRANULE), 0);
	gen_pool_destroy(pool);
}

struct walk {
	int n;
	uintptr_t virt[4];
	uint64_t phys[4];
	size_t size[4];
	void *owner[4];
};

static void record_chunk(struct gen_pool *pool, uintptr_t virt, uint64_t phys, size_t size,
			 void *owner, void *data)
{
	struct walk *w = data;

	/* lookups must work from inside the walk: it holds no lock */
	assert_int_equal(gen_pool_virt_to_phys(pool, virt), phys);
	w->virt[w->n] = virt;
	w->phys[w->n] = phys;
	w->size[w->n] = size;
	w->owner[w->n] = owner;
	w->n++;
}

/* Chunks add up, are walked in order, and no allocation spans two adjacent chunks. */
static void test_multiple_chunks(void **state)
{
	struct gen_pool *pool = gen_pool_create(ORDER);
	struct walk w = { 0 };
	int tag[3];
	uintptr_t a, b;

	assert_int_equal(gen_pool_add_owner(pool, BASE, PHYS, 4 * GRANULE, &tag[0]), 0);
	assert_int_equal(gen_pool_add_owner(pool, BASE + 4 * GRANULE, 0x5000, 4 * GRANULE, &tag[1]),
			 0);
	assert_int_equal(gen_pool_add_owner(pool, 4 * BASE, 0x9000, 8 * GRANULE, &tag[2]), 0);
	assert_int_equal(gen_pool_size(pool), 16 * GRANULE);

	gen_pool_for_each_chunk(pool, record_chunk, &w);
	assert_int_equal(w.n, 3);
	assert_int_equal(w.virt[0], BASE);
	assert_int_equal(w.phys[1], 0x5000);
	assert_int_equal(w.size[1], 4 * GRANULE);
	assert_int_equal(w.virt[2], 4 * BASE);
	assert_int_equal(w.size[2], 8 * GRANULE);
	assert_ptr_equal(w.owner[2], &tag[2]);

	/* 6 granules fit neither 4-granule chunk, though together they are 8 */
	a = gen_pool_alloc(pool, 6 * GRANULE);
	assert_int_equal(a, 4 * BASE);
	assert_int_equal(gen_pool_alloc(pool, 6 * GRANULE), 0);
	b = gen_pool_alloc(pool, 3 * GRANULE);
	assert_int_equal(b, BASE);
	assert_int_equal(gen_pool_alloc(pool, 2 * GRANULE), BASE + 4 * GRANULE);
	assert_int_equal(gen_pool_virt_to_phys(pool, BASE + 4 * GRANULE), 0x5000);
	assert_int_equal(gen_pool_free(pool, BASE + 4 * GRANULE, 2 * GRANULE), 0);
	assert_int_equal(gen_pool_free(pool, b, 3 * GRANULE), 0);
	assert_int_equal(gen_pool_free(pool, a, 6 * GRANULE), 0);
	assert_int_equal(gen_pool_avail(pool), 16 * GRANULE);
	gen_pool_destroy(pool);
}

/* A 64 GiB IOVA pool at 4 KiB granule hands out and takes back many pages quickly. */
static void test_large_iova_pool(void **state)
{
	const size_t pages = 20000;
	const uintptr_t base = (uintptr_t)1 << 40;
	struct gen_pool *pool;
	uintptr_t *got;
	size_t i;

	if (sizeof(size_t) < 8)
		skip();
	pool = gen_pool_create(12);
	assert_non_null(pool);
	assert_int_equal(gen_pool_add(pool, base, base, (size_t)64 << 30), 0);
	got = calloc(pages, sizeof(*got));
	assert_non_null(got);
	for (i = 0; i < pages; i++) {
		got[i] = gen_pool_alloc(pool, 4096);
		assert_int_equal(got[i], base + i * 4096);
	}
	/* free the first half, then allocate past them: next fit does not go back */
	for (i = 0; i < pages / 2; i++)
		assert_int_equal(gen_pool_free(pool, got[i], 4096), 0);
	assert_int_equal(gen_pool_alloc(pool, 8192), base + pages * 4096);
	assert_int_equal(gen_pool_free(pool, base + pages * 4096, 8192), 0);
	for (i = pages / 2; i < pages; i++)
		assert_int_equal(gen_pool_free(pool, got[i], 4096), 0);
	assert_int_equal(gen_pool_avail(pool), (size_t)64 << 30);
	free(got);
	gen_pool_destroy(pool);
}

/* Destroying a pool with allocations outstanding says how many bytes, and still frees it. */
static void test_destroy_outstanding(void **state)
{
	struct gen_pool *pool = one_chunk_pool(16);
	struct captured log = { 0 };

	hetmem_log_set_handler(capture, &log);
	assert_int_not_equal(gen_pool_alloc(pool, 3 * GRANULE), 0);
	gen_pool_destroy(pool);
	assert_int_equal(log.n, 1);
	assert_non_null(strstr(log.msg, "192 bytes"));
	gen_pool_destroy(NULL);
	hetmem_log_set_handler(NULL, NULL);
}

#define THREADS	       4
#define ITERATIONS     5000 /* per thread: modest, so the test stays quick under valgrind */
#define LIVE	       16
#define MAX_GRANULES   8
#define CHUNK_GRANULES 512

struct stress {
	struct gen_pool *pool;
	uint8_t owner_of[3 * CHUNK_GRANULES]; /* thread id + 1 per granule, 0 = free */
	unsigned long overlaps;
	unsigned long errors;
};

struct stress_thread {
	struct stress *s;
	unsigned int id;
};

/* Claim or release the granules of [addr, addr + size) in the shared map; count conflicts. */
static void mark(struct stress *s, uintptr_t addr, size_t size, uint8_t from, uint8_t to)
{
	size_t first = (addr - BASE) / GRANULE;
	size_t n = (size + GRANULE - 1) / GRANULE;

	/* an allocation must not straddle two chunks, adjacent as they are */
	if (first / CHUNK_GRANULES != (first + n - 1) / CHUNK_GRANULES)
		__atomic_fetch_add(&s->overlaps, 1, __ATOMIC_RELAXED);
	for (size_t i = first; i < first + n; i++)
		if (__atomic_exchange_n(&s->owner_of[i], to, __ATOMIC_RELAXED) != from)
			__atomic_fetch_add(&s->overlaps, 1, __ATOMIC_RELAXED);
}

static void *stress_thread(void *arg)
{
	struct stress_thread *t = arg;
	struct stress *s = t->s;
	uintptr_t addr[LIVE] = { 0 };
	size_t size[LIVE] = { 0 };
	unsigned int seed = t->id * 7919 + 1;
	uint8_t me = t->id + 1;

	for (int it = 0; it < ITERATIONS; it++) {
		int slot = rand_r(&seed) % LIVE;

		/* thread 0 grows the pool halfway through, under the others' feet */
		if (t->id == 0 && it == ITERATIONS / 2 &&
		    gen_pool_add(s->pool, BASE + 2 * CHUNK_GRANULES * GRANULE,
				 PHYS + 2 * CHUNK_GRANULES * GRANULE, CHUNK_GRANULES * GRANULE))
			__atomic_fetch_add(&s->errors, 1, __ATOMIC_RELAXED);

		if (addr[slot]) {
			mark(s, addr[slot], size[slot], me, 0);
			if (gen_pool_free(s->pool, addr[slot], size[slot]))
				__atomic_fetch_add(&s->errors, 1, __ATOMIC_RELAXED);
			addr[slot] = 0;
			continue;
		}
		size[slot] = (rand_r(&seed) % MAX_GRANULES + 1) * GRANULE - rand_r(&seed) % GRANULE;
		addr[slot] = gen_pool_alloc(s->pool, size[slot]);
		if (!addr[slot])
			continue;
		if (gen_pool_virt_to_phys(s->pool, addr[slot]) != PHYS + (addr[slot] - BASE) ||
		    !gen_pool_has_addr(s->pool, addr[slot], size[slot]))
			__atomic_fetch_add(&s->errors, 1, __ATOMIC_RELAXED);
		mark(s, addr[slot], size[slot], 0, me);
	}
	for (int i = 0; i < LIVE; i++) {
		if (!addr[i])
			continue;
		mark(s, addr[i], size[i], me, 0);
		if (gen_pool_free(s->pool, addr[i], size[i]))
			__atomic_fetch_add(&s->errors, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Four threads allocating and freeing random sizes never get overlapping blocks. */
static void test_concurrent_alloc_free(void **state)
{
	struct stress *s = calloc(1, sizeof(*s));
	struct stress_thread t[THREADS];
	pthread_t tid[THREADS];
	size_t chunk = CHUNK_GRANULES * GRANULE;

	assert_non_null(s);
	s->pool = gen_pool_create(ORDER);
	assert_non_null(s->pool);
	assert_int_equal(gen_pool_add(s->pool, BASE, PHYS, chunk), 0);
	assert_int_equal(gen_pool_add(s->pool, BASE + chunk, PHYS + chunk, chunk), 0);
	for (int i = 0; i < THREADS; i++) {
		t[i].s = s;
		t[i].id = i;
		assert_int_equal(pthread_create(&tid[i], NULL, stress_thread, &t[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(tid[i], NULL);
	assert_int_equal(s->overlaps, 0);
	assert_int_equal(s->errors, 0);
	assert_int_equal(gen_pool_size(s->pool), 3 * chunk);
	assert_int_equal(gen_pool_avail(s->pool), 3 * chunk);
	gen_pool_destroy(s->pool);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc_free_round_trip),
		cmocka_unit_test(test_rounding_to_granule),
		cmocka_unit_test(test_exhaustion),
		cmocka_unit_test(test_owner_cookies),
		cmocka_unit_test(test_virt_to_phys),
		cmocka_unit_test(test_has_addr_chunk_boundary),
		cmocka_unit_test(test_create_add_errors),
		cmocka_unit_test(test_bad_frees),
		cmocka_unit_test(test_fragmentation),
		cmocka_unit_test(test_multiple_chunks),
		cmocka_unit_test(test_large_iova_pool),
		cmocka_unit_test(test_destroy_outstanding),
		cmocka_unit_test(test_concurrent_alloc_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
