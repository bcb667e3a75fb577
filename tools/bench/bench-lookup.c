// SPDX-License-Identifier: MIT
/*
 * Benchmark module "lookup": the cost of the special-page lookup.
 *
 * The DMA layer asks, for every segment, whether an address is ordinary
 * process memory or a device page. This measures the nanoseconds per
 * answer over random addresses:
 *
 *  - ordinary memory: addresses inside a 1 GiB anonymous reservation
 *    (virt_to_page() must say NULL);
 *  - P2P pages: addresses inside MEMORY_DEVICE_PCI_P2PDMA maps, both as
 *    pointers into their CPU mappings (virt_to_page()) and as pfns
 *    (pfn_to_page()); 2 MiB maps on 2 MiB boundaries resolve in the L2
 *    table, 64 KiB maps through an L3 table;
 *
 * with 1, 64 and 1024 maps of each size present (the suite shows 1 and
 * 1024: the point is that the cost does not move), next to a plain array
 * probe over the same random index sequence, the reference: what one
 * table probe costs when it hits the cache. Addresses are drawn before the
 * timed loops and the results are summed into a volatile, so no lookup
 * can be elided. The lookups of a loop are independent: the figures are
 * throughput, as when a scatterlist is mapped, not the latency of one
 * dependent lookup.
 *
 * Every lookup is first checked against the page it must find; a wrong
 * answer fails the module.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <hetmem/err.h>
#include <hetmem/memremap.h>

#include "harness.h"

#define ORDINARY_SIZE (1UL << 30)
#define LOOKUPS_FULL  1000000UL
#define LOOKUPS_QUICK 10000UL
#define MAX_MAPS      1024

static const int stages[] = { 1, 64, 1024 };
#define NR_STAGES (int)(sizeof(stages) / sizeof(stages[0]))

/* Set by bench_lookup_set_params() (the standalone program's options). */
static size_t param_lookups;
static bool param_all_stages;

static volatile uintptr_t sink;

/* A set of equal-sized P2P maps whose CPU mappings are slices of one reservation. */
struct map_set {
	size_t map_size;
	size_t pages; /* per map */
	struct dev_pagemap *maps;
	int nr;
	char *va; /* reservation of MAX_MAPS * map_size */
};

/* The random addresses of one case and the page index each must find. */
struct samples {
	size_t n;
	uint64_t *addr;
	uint32_t *idx;
};

struct lookup_ctx {
	struct map_set sets[2]; /* 2 MiB maps, 64 KiB maps */
	struct samples sm;
	uintptr_t *array; /* the reference's table */
	size_t array_len;
	char *ordinary;
};

/* The kinds of lookup of each stage. */
enum probe { PROBE_VIRT, PROBE_PFN, PROBE_ARRAY };

struct lookup_case {
	const char *id;
	const char *what;
	int set; /* -1: ordinary memory */
	enum probe kind;
	bool suite; /* shown by hetmem bench (the others only by hetmem-bench-lookup) */
};

static const struct lookup_case cases[] = {
	{ "ordinary", "ordinary virt_to_page", -1, PROBE_VIRT, true },
	{ "p2p.virt.2m", "P2P virt_to_page, 2 MiB maps", 0, PROBE_VIRT, true },
	{ "p2p.pfn.2m", "P2P pfn_to_page, 2 MiB maps", 0, PROBE_PFN, true },
	{ "p2p.virt.64k", "P2P virt_to_page, 64 KiB maps", 1, PROBE_VIRT, true },
	{ "p2p.pfn.64k", "P2P pfn_to_page, 64 KiB maps", 1, PROBE_PFN, false },
};
#define NR_CASES (int)(sizeof(cases) / sizeof(cases[0]))

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64*: fast, and the same sequence on every run. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static void *reserve(size_t len, size_t align)
{
	char *p = mmap(NULL, len + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	uintptr_t start, end;

	if (p == MAP_FAILED)
		return NULL;
	/* Trim to an @align boundary: 2 MiB maps then fill whole lookup slots. */
	start = ((uintptr_t)p + align - 1) & ~(align - 1);
	end = (uintptr_t)p + len + align;
	if (start > (uintptr_t)p)
		munmap(p, start - (uintptr_t)p);
	if (end > start + len)
		munmap((void *)(start + len), end - (start + len));
	return (void *)start;
}

static int set_init(struct map_set *s, size_t map_size)
{
	memset(s, 0, sizeof(*s));
	s->map_size = map_size;
	s->pages = map_size / PAGE_SIZE;
	s->maps = calloc(MAX_MAPS, sizeof(*s->maps));
	s->va = reserve((size_t)MAX_MAPS * map_size, 2UL << 20);
	return s->maps && s->va ? 0 : -ENOMEM;
}

/* Grow @s to @nr maps. */
static int set_grow(struct map_set *s, int nr)
{
	while (s->nr < nr) {
		struct dev_pagemap *pg = &s->maps[s->nr];
		uint64_t start = request_free_mem_region(s->map_size);
		void *ret;

		if (!start)
			return -ENOSPC;
		pg->type = MEMORY_DEVICE_PCI_P2PDMA;
		pg->nr_range = 1;
		pg->range.start = start;
		pg->range.end = start + s->map_size - 1;
		pg->vaddr = s->va + (size_t)s->nr * s->map_size;
		ret = memremap_pages(pg, 0);
		if (IS_ERR(ret))
			return (int)PTR_ERR(ret);
		s->nr++;
	}
	return 0;
}

static void set_destroy(struct map_set *s)
{
	for (int i = 0; i < s->nr; i++)
		memunmap_pages(&s->maps[i]);
	if (s->va)
		munmap(s->va, (size_t)MAX_MAPS * s->map_size);
	free(s->maps);
}

static void ctx_fini(struct lookup_ctx *c)
{
	set_destroy(&c->sets[1]);
	set_destroy(&c->sets[0]);
	if (c->ordinary)
		munmap(c->ordinary, ORDINARY_SIZE);
	free(c->sm.idx);
	free(c->sm.addr);
	free(c->array);
}

static int ctx_init(struct lookup_ctx *c, size_t n)
{
	int ret;

	memset(c, 0, sizeof(*c));
	rng_state = 0x9e3779b97f4a7c15ULL;
	/* The array probe's table: as many entries as the largest page population. */
	c->array_len = ORDINARY_SIZE / PAGE_SIZE;
	if ((size_t)MAX_MAPS * (2UL << 20) / PAGE_SIZE > c->array_len)
		c->array_len = (size_t)MAX_MAPS * (2UL << 20) / PAGE_SIZE;
	c->array = calloc(c->array_len, sizeof(*c->array));
	c->sm.n = n;
	c->sm.addr = calloc(n, sizeof(*c->sm.addr));
	c->sm.idx = calloc(n, sizeof(*c->sm.idx));
	c->ordinary = reserve(ORDINARY_SIZE, PAGE_SIZE);
	ret = set_init(&c->sets[0], 2UL << 20);
	if (!ret)
		ret = set_init(&c->sets[1], 64UL << 10);
	if (!ret && (!c->array || !c->sm.addr || !c->sm.idx || !c->ordinary))
		ret = -ENOMEM;
	if (ret) {
		ctx_fini(c);
		return ret;
	}
	for (size_t i = 0; i < c->array_len; i++)
		c->array[i] = i * 2654435761U;
	return 0;
}

/* Random pointers into the CPU mappings (@pfn false) or pfns (@pfn true) of @s. */
static void draw_p2p(struct samples *sm, const struct map_set *s, bool pfn)
{
	for (size_t i = 0; i < sm->n; i++) {
		uint64_t r = rng();
		int m = (int)(r % (uint64_t)s->nr);
		uint64_t off = (r >> 20) % s->map_size;
		const struct dev_pagemap *pg = &s->maps[m];

		sm->idx[i] = (uint32_t)(m * s->pages + off / PAGE_SIZE);
		if (pfn)
			sm->addr[i] = (pg->range.start + off) >> PAGE_SHIFT;
		else
			sm->addr[i] = (uintptr_t)pg->vaddr + off;
	}
}

static void draw_ordinary(struct samples *sm, const char *base)
{
	for (size_t i = 0; i < sm->n; i++) {
		uint64_t off = rng() % ORDINARY_SIZE;

		sm->idx[i] = (uint32_t)(off / PAGE_SIZE);
		sm->addr[i] = (uintptr_t)base + off;
	}
}

static void draw(struct lookup_ctx *c, const struct lookup_case *lc)
{
	if (lc->set < 0)
		draw_ordinary(&c->sm, c->ordinary);
	else
		draw_p2p(&c->sm, &c->sets[lc->set], lc->kind == PROBE_PFN);
}

/* One pass over every sample; returns a sum so that no lookup can be elided. */
static uintptr_t pass(enum probe kind, const struct samples *sm, const uintptr_t *array)
{
	uintptr_t acc = 0;
	size_t i;

	switch (kind) {
	case PROBE_VIRT:
		for (i = 0; i < sm->n; i++)
			acc += (uintptr_t)virt_to_page((const void *)(uintptr_t)sm->addr[i]);
		break;
	case PROBE_PFN:
		for (i = 0; i < sm->n; i++)
			acc += (uintptr_t)pfn_to_page(sm->addr[i]);
		break;
	case PROBE_ARRAY:
		for (i = 0; i < sm->n; i++)
			acc += array[sm->idx[i]];
		break;
	}
	return acc;
}

struct timed_pass {
	enum probe kind;
	const struct lookup_ctx *c;
};

static double timed_passes(void *arg, uint64_t n)
{
	const struct timed_pass *tp = arg;
	uintptr_t acc = 0;
	double t0 = bench_now();

	for (uint64_t i = 0; i < n; i++)
		acc += pass(tp->kind, &tp->c->sm, tp->c->array);
	sink = acc;
	return bench_now() - t0;
}

/*
 * Check every answer against the page it must be: NULL for ordinary
 * memory (@s NULL), else the map and pfn the sample was drawn from.
 */
static long verify(enum probe kind, const struct samples *sm, const struct map_set *s)
{
	long bad = 0;

	for (size_t i = 0; i < sm->n; i++) {
		const struct dev_pagemap *want;
		struct page *pg;
		uint64_t pfn;

		if (kind == PROBE_PFN)
			pg = pfn_to_page(sm->addr[i]);
		else
			pg = virt_to_page((const void *)(uintptr_t)sm->addr[i]);

		if (!s) {
			if (pg) {
				if (!bad)
					fprintf(stderr,
						"lookup: ordinary address %#llx resolved to a page\n",
						(unsigned long long)sm->addr[i]);
				bad++;
			}
			continue;
		}
		want = &s->maps[sm->idx[i] / s->pages];
		pfn = (want->range.start >> PAGE_SHIFT) + sm->idx[i] % s->pages;
		if (!pg || pg->pgmap != want || page_to_pfn(pg) != pfn) {
			if (!bad)
				fprintf(stderr, "lookup: %s %#llx: got pfn %#llx, want %#llx\n",
					kind == PROBE_PFN ? "pfn" : "address",
					(unsigned long long)sm->addr[i],
					pg ? (unsigned long long)page_to_pfn(pg) : 0ULL,
					(unsigned long long)pfn);
			bad++;
		}
	}
	return bad;
}

static long verify_case(struct lookup_ctx *c, const struct lookup_case *lc)
{
	return verify(lc->kind, &c->sm, lc->set < 0 ? NULL : &c->sets[lc->set]);
}

long bench_lookup_verify(size_t lookups)
{
	struct lookup_ctx c;
	long bad = 0;
	int ret;

	ret = ctx_init(&c, lookups);
	if (ret)
		return ret;
	for (int st = 0; st < NR_STAGES; st++) {
		ret = set_grow(&c.sets[0], stages[st]);
		if (!ret)
			ret = set_grow(&c.sets[1], stages[st]);
		if (ret)
			break;
		for (int k = 0; k < NR_CASES; k++) {
			draw(&c, &cases[k]);
			bad += verify_case(&c, &cases[k]);
		}
	}
	ctx_fini(&c);
	return ret ? ret : bad;
}

void bench_lookup_set_params(size_t lookups, bool all_stages)
{
	param_lookups = lookups;
	param_all_stages = all_stages;
}

static bool stage_shown(int st)
{
	/* 1 and 1024 maps make the point (O(1) in the number of maps); 64 adds nothing. */
	return param_all_stages || stages[st] != 64;
}

static int measure_case(struct bench *b, struct lookup_ctx *c, const struct lookup_case *lc,
			int maps)
{
	static const struct bench_target ordinary = { BENCH_TARGET_VALUE_LT, 5, "< 5 ns" };
	static const struct bench_target p2p = { BENCH_TARGET_VALUE_LT, 20, "< 20 ns" };
	struct timed_pass tp = { lc->kind, c }, ref = { PROBE_ARRAY, c };
	struct bench_stat st, rst;
	char id[48], what[64], label[96];
	int ret;

	snprintf(what, sizeof(what), "%s, %d map%s", lc->what, maps, maps == 1 ? "" : "s");
	snprintf(label, sizeof(label), "%s", what);
	ret = bench_time(b, label, timed_passes, &tp, 0, &st);
	if (!ret) {
		snprintf(label, sizeof(label), "array probe for %s", what);
		ret = bench_time(b, label, timed_passes, &ref, 0, &rst);
	}
	if (ret)
		return ret;
	st = bench_stat_scale(&st, 1e9 / (double)c->sm.n);
	rst = bench_stat_scale(&rst, 1e9 / (double)c->sm.n);
	snprintf(id, sizeof(id), "%s.%d", lc->id, maps);
	bench_row_add(b, id, what, "ns", &st, rst.median, "ns", "array probe",
		      lc->set < 0 ? &ordinary : &p2p);
	bench_point(b, "lookup", lc->what, maps, st.median);
	return 0;
}

static int lookup_run(struct bench *b)
{
	size_t n = param_lookups ? param_lookups : bench_quick(b) ? LOOKUPS_QUICK : LOOKUPS_FULL;
	struct lookup_ctx c;
	int ret;

	ret = ctx_init(&c, n);
	if (ret)
		return ret;
	bench_chart(b, "lookup", "Special-page lookup: cost vs number of page maps",
		    "page maps of each size", "ns per lookup", BENCH_CHART_LOGX);
	for (int st = 0; st < NR_STAGES && !ret; st++) {
		ret = set_grow(&c.sets[0], stages[st]);
		if (!ret)
			ret = set_grow(&c.sets[1], stages[st]);
		for (int k = 0; k < NR_CASES && !ret; k++) {
			const struct lookup_case *lc = &cases[k];

			draw(&c, lc);
			if (verify_case(&c, lc)) {
				bench_skip(b, "%s: wrong answers", lc->what);
				ret = -EIO;
				break;
			}
			if (!stage_shown(st) || (!lc->suite && !param_all_stages))
				continue;
			ret = measure_case(b, &c, lc, stages[st]);
		}
	}
	ctx_fini(&c);
	return ret;
}

const struct bench_module bench_lookup_module = {
	.name = "lookup",
	.summary = "the DMA layer's special-page lookup, ns per lookup (ordinary and P2P pages)",
	.steps = 16,
	.run = lookup_run,
};
