// SPDX-License-Identifier: MIT
/*
 * hetmem-bench-lookup: the cost of the special-page lookup.
 *
 * The DMA layer asks, for every segment, whether an address is ordinary
 * process memory or a device page. This measures the nanoseconds per
 * answer over random addresses:
 *
 *  - ordinary memory: addresses inside a 1 GiB anonymous mapping
 *    (virt_to_page() must say NULL);
 *  - P2P pages: addresses inside MEMORY_DEVICE_PCI_P2PDMA maps, both as
 *    pointers into their CPU mappings (virt_to_page()) and as pfns
 *    (pfn_to_page()); 2 MiB maps on 2 MiB boundaries resolve in the L2
 *    table, 64 KiB maps through an L3 table;
 *
 * with 1, 64 and 1024 maps of each size present, next to a plain array
 * probe over the same random index sequence as a reference. Addresses are
 * drawn before the timed loops, each figure is the median of five runs,
 * and the results are summed into a volatile so no lookup can be elided.
 * The lookups of a loop are independent: the figures are throughput, as
 * when a scatterlist is mapped, not the latency of one dependent lookup.
 *
 * Every lookup is also checked against the page it must find; a wrong
 * answer is a failure (exit 1). --quick does only that, over 10k lookups,
 * and never judges speed.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <hetmem/err.h>
#include <hetmem/log.h>
#include <hetmem/memremap.h>

#define ORDINARY_SIZE (1UL << 30)
#define LOOKUPS_FULL  1000000UL
#define LOOKUPS_QUICK 10000UL
#define RUNS	      5
#define MAX_MAPS      1024

static const int stages[] = { 1, 64, 1024 };
#define NR_STAGES (int)(sizeof(stages) / sizeof(stages[0]))

static volatile uintptr_t sink;

/* A set of equal-sized P2P maps whose CPU mappings are slices of one reservation. */
struct map_set {
	const char *name;
	size_t map_size;
	size_t pages; /* per map */
	struct dev_pagemap *maps;
	int nr;
	char *va; /* reservation of MAX_MAPS * map_size */
};

/* The random addresses of one row and the page index each must find. */
struct samples {
	size_t n;
	uint64_t *addr;
	uint32_t *idx;
};

struct row {
	const char *what;
	int maps;
	double ns, ref_ns;
	double target; /* 0: none */
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

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

static int set_init(struct map_set *s, const char *name, size_t map_size)
{
	memset(s, 0, sizeof(*s));
	s->name = name;
	s->map_size = map_size;
	s->pages = map_size / PAGE_SIZE;
	s->maps = calloc(MAX_MAPS, sizeof(*s->maps));
	s->va = reserve((size_t)MAX_MAPS * map_size, 2UL << 20);
	return s->maps && s->va ? 0 : -1;
}

/* Grow @s to @nr maps. */
static int set_grow(struct map_set *s, int nr)
{
	while (s->nr < nr) {
		struct dev_pagemap *pg = &s->maps[s->nr];
		uint64_t start = request_free_mem_region(s->map_size);
		void *ret;

		if (!start) {
			fprintf(stderr, "request_free_mem_region(%zu) failed\n", s->map_size);
			return -1;
		}
		pg->type = MEMORY_DEVICE_PCI_P2PDMA;
		pg->nr_range = 1;
		pg->range.start = start;
		pg->range.end = start + s->map_size - 1;
		pg->vaddr = s->va + (size_t)s->nr * s->map_size;
		ret = memremap_pages(pg, 0);
		if (IS_ERR(ret)) {
			fprintf(stderr, "memremap_pages: error %ld\n", PTR_ERR(ret));
			return -1;
		}
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

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

enum probe { PROBE_VIRT, PROBE_PFN, PROBE_ARRAY };

/* One timed pass; returns ns per lookup. */
static double timed_pass(enum probe kind, const struct samples *sm, const uintptr_t *array)
{
	uintptr_t acc = 0;
	double t0, t1;
	size_t i;

	t0 = now_ns();
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
	t1 = now_ns();
	sink = acc;
	return (t1 - t0) / (double)sm->n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median_ns(enum probe kind, const struct samples *sm, const uintptr_t *array)
{
	double t[RUNS];

	timed_pass(kind, sm, array); /* warm the caches and the TLB */
	for (int r = 0; r < RUNS; r++)
		t[r] = timed_pass(kind, sm, array);
	qsort(t, RUNS, sizeof(t[0]), cmp_double);
	return t[RUNS / 2];
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
						"ordinary address %#llx resolved to a page\n",
						(unsigned long long)sm->addr[i]);
				bad++;
			}
			continue;
		}
		want = &s->maps[sm->idx[i] / s->pages];
		pfn = (want->range.start >> PAGE_SHIFT) + sm->idx[i] % s->pages;
		if (!pg || pg->pgmap != want || page_to_pfn(pg) != pfn) {
			if (!bad)
				fprintf(stderr, "%s %#llx: got pfn %#llx, want %#llx\n",
					kind == PROBE_PFN ? "pfn" : "address",
					(unsigned long long)sm->addr[i],
					pg ? (unsigned long long)page_to_pfn(pg) : 0ULL,
					(unsigned long long)pfn);
			bad++;
		}
	}
	return bad;
}

static void print_table(const struct row *rows, int nr, size_t n)
{
	printf("hetmem special-page lookup: %zu random addresses per run, median of %d runs\n", n,
	       RUNS);
	printf("(throughput of independent lookups; reference: a plain array probe of the same\n"
	       " random index sequence)\n\n");
	printf("%-34s %5s %10s %10s %7s %8s %4s\n", "lookup", "maps", "ns/lookup", "array ns",
	       "ratio", "target", "met");
	for (int i = 0; i < nr; i++) {
		const struct row *r = &rows[i];
		double ratio = r->ref_ns > 0 ? r->ns / r->ref_ns : 0.0;
		const char *met = "-";
		char target[16] = "-";

		if (r->target) {
			snprintf(target, sizeof(target), "< %.0f ns", r->target);
			met = r->ns < r->target ? "yes" : "NO";
		}
		printf("%-34s %5d %10.2f %10.2f %7.2f %8s %4s\n", r->what, r->maps, r->ns,
		       r->ref_ns, ratio, target, met);
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: hetmem-bench-lookup [--quick] [--lookups N]\n"
		   "  --quick      10k lookups, check the answers only (no timing verdicts)\n"
		   "  --lookups N  random addresses per run (default 1000000)\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "lookups", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct map_set sets[2];
	struct row rows[NR_STAGES * 5];
	struct samples sm = { 0 };
	uintptr_t *array = NULL;
	char *ordinary = NULL;
	bool quick = false;
	long bad = 0;
	int nrows = 0, c, ret = 1;
	size_t array_len;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			quick = true;
			break;
		case 'n':
			sm.n = strtoul(optarg, NULL, 0);
			if (!sm.n) {
				usage(stderr);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (!sm.n)
		sm.n = quick ? LOOKUPS_QUICK : LOOKUPS_FULL;
	if (!getenv("HETMEM_LOG"))
		hetmem_log_set_level(HETMEM_LOG_ERR);

	memset(sets, 0, sizeof(sets));
	/* The array probe's table: as many entries as the largest page population. */
	array_len = ORDINARY_SIZE / PAGE_SIZE;
	if ((size_t)MAX_MAPS * (2UL << 20) / PAGE_SIZE > array_len)
		array_len = (size_t)MAX_MAPS * (2UL << 20) / PAGE_SIZE;
	array = calloc(array_len, sizeof(*array));
	sm.addr = calloc(sm.n, sizeof(*sm.addr));
	sm.idx = calloc(sm.n, sizeof(*sm.idx));
	ordinary = reserve(ORDINARY_SIZE, PAGE_SIZE);
	if (!array || !sm.addr || !sm.idx || !ordinary || set_init(&sets[0], "2 MiB", 2UL << 20) ||
	    set_init(&sets[1], "64 KiB", 64UL << 10)) {
		fprintf(stderr, "hetmem-bench-lookup: out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < array_len; i++)
		array[i] = i * 2654435761U;

	for (int st = 0; st < NR_STAGES; st++) {
		int nr = stages[st];

		if (set_grow(&sets[0], nr) || set_grow(&sets[1], nr))
			goto out;

		draw_ordinary(&sm, ordinary);
		bad += verify(PROBE_VIRT, &sm, NULL);
		if (!quick)
			rows[nrows++] = (struct row){ "ordinary virt_to_page", nr,
						      median_ns(PROBE_VIRT, &sm, NULL),
						      median_ns(PROBE_ARRAY, &sm, array), 5 };
		for (int k = 0; k < 2; k++) {
			static const char *const what[2][2] = {
				{ "P2P virt_to_page, 2 MiB maps", "P2P pfn_to_page, 2 MiB maps" },
				{ "P2P virt_to_page, 64 KiB maps", "P2P pfn_to_page, 64 KiB maps" },
			};

			for (int p = 0; p < 2; p++) {
				enum probe kind = p ? PROBE_PFN : PROBE_VIRT;

				draw_p2p(&sm, &sets[k], p);
				bad += verify(kind, &sm, &sets[k]);
				if (!quick)
					rows[nrows++] = (struct row){
						what[k][p], nr, median_ns(kind, &sm, NULL),
						median_ns(PROBE_ARRAY, &sm, array), 20
					};
			}
		}
	}
	if (bad) {
		fprintf(stderr, "hetmem-bench-lookup: %ld wrong lookups\n", bad);
		goto out;
	}
	if (quick)
		printf("hetmem-bench-lookup: %zu lookups per case, %d cases, all answers right\n",
		       sm.n, NR_STAGES * 5);
	else
		print_table(rows, nrows, sm.n);
	ret = 0;
out:
	set_destroy(&sets[1]);
	set_destroy(&sets[0]);
	if (ordinary)
		munmap(ordinary, ORDINARY_SIZE);
	free(sm.idx);
	free(sm.addr);
	free(array);
	return ret;
}
