// SPDX-License-Identifier: MIT
/*
 * Description: device memory gives everything back. Unbinding a GPU that
 * holds migrated pages (gpu_host_remove()) brings every byte home first:
 * the CPU then reads it all without a fault, and the other GPU's pages
 * stay where they are. When VRAM is full, a migration evicts the least
 * recently used blocks home instead of failing: the newest data is in
 * VRAM, the oldest back in system memory, none of it lost. Memory the
 * application unmaps while its pages are on their way home (a CPU
 * fault's prefetch) gives its device pages back too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "gpu-fixture.h"

static void fill(uint64_t *p, size_t bytes, uint64_t salt)
{
	for (unsigned long i = 0; i < bytes / 8; i++)
		p[i] = i * 0x9e3779b97f4a7c15ULL ^ salt;
}

static bool intact(const uint64_t *p, size_t bytes, uint64_t salt)
{
	for (unsigned long i = 0; i < bytes / 8; i++)
		if (p[i] != (i * 0x9e3779b97f4a7c15ULL ^ salt))
			return false;
	return true;
}

/* How many of @npages pages from @addr are on @mirror's own device. */
static unsigned long count_local(struct dmirror *mirror, void *addr, unsigned long npages)
{
	unsigned char *snap = malloc(npages);
	struct hmm_dmirror_cmd cmd = {
		.addr = (uintptr_t)addr,
		.ptr = (uintptr_t)snap,
		.npages = npages,
	};
	unsigned long n = 0;

	assert_non_null(snap);
	assert_int_equal(dmirror_snapshot(mirror, &cmd), 0);
	for (unsigned long i = 0; i < npages; i++)
		n += (snap[i] & 0xf0) == HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL;
	free(snap);
	return n;
}

static void test_unbind_returns_every_byte(void **state)
{
	struct gpu_fixture *f = *state;
	const size_t size = 12UL << 20;
	struct hmm_buffer *a =
		hmm_buffer_new(size, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	struct hmm_buffer *b = hmm_anon_buffer();
	struct hetmem_mm *mm = hetmem_mm_get();
	struct hetmem_mm_stats before, after;
	struct dmirror_counters c;

	assert_non_null(a);
	assert_non_null(b);
	fill(a->ptr, size, 1);
	fill(b->ptr, HMM_BUFFER_SIZE, 2);
	assert_int_equal(gpu_migrate(f->mirror[1], a->ptr, size, 1), (long)(size / HMM_PAGE));
	assert_int_equal(gpu_migrate(f->mirror[0], b->ptr, HMM_BUFFER_SIZE, 1), (long)HMM_NPAGES);

	/* Unbind gpu1, then bind the driver again for the fixture to take down. */
	dmirror_close(f->mirror[1]);
	dmirror_device_counters(f->dev[1], &c);
	gpu_host_remove(f->gpu[1]);
	f->gpu[1] = gpu_host_probe(gpu_emu_pdev(f->emu[1]), NULL);
	assert_false(IS_ERR(f->gpu[1]));
	f->dev[1] = gpu_host_dmirror(f->gpu[1]);
	f->mirror[1] = dmirror_open(f->dev[1]);
	assert_false(IS_ERR(f->mirror[1]));

	hetmem_mm_stats(mm, &before);
	assert_true(intact(a->ptr, size, 1));
	hetmem_mm_stats(mm, &after);
	assert_int_equal(after.faults, before.faults);

	/* gpu0's pages were not its business: still in gpu0's VRAM, and right. */
	assert_int_equal(count_local(f->mirror[0], b->ptr, HMM_NPAGES), HMM_NPAGES);
	assert_true(intact(b->ptr, HMM_BUFFER_SIZE, 2));
	hetmem_mm_put(mm);
	hmm_buffer_free(a);
	hmm_buffer_free(b);
}

/* 4 MiB of device-private VRAM: two 2 MiB blocks. */
static int small_vram_setup(void **state)
{
	gpu_fixture_params.vram_size = 8UL << 20;
	gpu_fixture_params.bar2_size = 4UL << 20;
	return gpu_fixture_setup(state);
}

static void test_full_vram_evicts_lru(void **state)
{
	struct gpu_fixture *f = *state;
	const size_t size = 2UL << 20; /* a block: two of these fill VRAM */
	const unsigned long npages = size / HMM_PAGE;
	struct hmm_buffer *buf[4];
	struct hetmem_mm *mm = hetmem_mm_get();
	struct hetmem_mm_stats before, after;
	struct dmirror_counters dc;

	for (int i = 0; i < 4; i++) {
		buf[i] = hmm_buffer_new(i == 3 ? 3 * size / 2 : size, i == 3 ? 3 * size / 2 : size,
					PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
		assert_non_null(buf[i]);
		fill(buf[i]->ptr, buf[i]->size, 10 + (uint64_t)i);
	}
	/* A, then B: VRAM is full. */
	assert_int_equal(gpu_migrate(f->mirror[0], buf[0]->ptr, size, 1), (long)npages);
	assert_int_equal(gpu_migrate(f->mirror[0], buf[1]->ptr, size, 1), (long)npages);
	/* The GPU uses A again: B is now the least recently used. */
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_read, buf[0], npages), 0);
	assert_true(intact(buf[0]->mirror, size, 10));
	/* C does not fit: B goes home, not A, and C gets all it asked for. */
	assert_int_equal(gpu_migrate(f->mirror[0], buf[2]->ptr, size, 1), (long)npages);
	assert_int_equal(count_local(f->mirror[0], buf[2]->ptr, npages), npages);
	assert_int_equal(count_local(f->mirror[0], buf[0]->ptr, npages), npages);
	assert_int_equal(count_local(f->mirror[0], buf[1]->ptr, npages), 0);
	dmirror_device_counters(f->dev[0], &dc);
	assert_true(dc.evicted >= npages);
	assert_true(gpu_fixture_stats(f, 0).evicted >= npages);

	/* Evicted pages came home with their data, and read without a fault. */
	hetmem_mm_stats(mm, &before);
	assert_true(intact(buf[1]->ptr, size, 11));
	hetmem_mm_stats(mm, &after);
	assert_int_equal(after.faults, before.faults);

	/* D needs more than a block: as many go as it takes, all of D fits. */
	assert_int_equal(gpu_migrate(f->mirror[0], buf[3]->ptr, buf[3]->size, 1),
			 (long)(buf[3]->size / HMM_PAGE));
	assert_int_equal(count_local(f->mirror[0], buf[3]->ptr, buf[3]->size / HMM_PAGE),
			 buf[3]->size / HMM_PAGE);
	for (int i = 0; i < 4; i++)
		assert_true(intact(buf[i]->ptr, buf[i]->size, 10 + (uint64_t)i));
	hetmem_mm_put(mm);
	for (int i = 0; i < 4; i++)
		hmm_buffer_free(buf[i]);
}

/* Unmapped while the fault handler prefetches it home: every device page is freed. */
static void test_unmap_during_prefetch(void **state)
{
	struct gpu_fixture *f = *state;
	const size_t size = 4UL << 20;

	for (int it = 0; it < 20; it++) {
		char *p = hmm_map_guarded(size);
		struct hetmem_mm *mm = hetmem_mm_get();
		struct dmirror_counters c;
		unsigned long sum = 0;
		int waited = 0;

		assert_non_null(p);
		memset(p, 3, size);
		assert_int_equal(gpu_migrate(f->mirror[0], p, size, 1), (long)(size / HMM_PAGE));
		/* In order: the second fault prefetches the rest, on the handler thread. */
		for (size_t off = 0; off < size / 4; off += HMM_PAGE)
			sum += (unsigned char)p[off];
		assert_int_equal(sum, 3 * size / 4 / HMM_PAGE);
		assert_int_equal(munmap(p, size), 0);
		hetmem_mm_sync(mm);
		hetmem_mm_put(mm);
		do {
			dmirror_device_counters(f->dev[0], &c);
			if (c.calloc == c.cfree)
				break;
			usleep(1000);
		} while (++waited < 2000);
		assert_int_equal(c.calloc - c.cfree, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unbind_returns_every_byte, gpu_fixture_setup,
						gpu_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_unmap_during_prefetch, gpu_fixture_setup,
						gpu_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_full_vram_evicts_lru, small_vram_setup,
						gpu_fixture_teardown),
	};

	hmm_require_uffd();
	hmm_skip_under_valgrind();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
