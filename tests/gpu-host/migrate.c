// SPDX-License-Identifier: MIT
/*
 * Description: migration to the GPU's device-private VRAM and back. The
 * data crosses the GPU's PCIe link by DMA (the copy engine; the driver
 * never touches VRAM), the GPU reads it back from VRAM, snapshots call
 * the pages local on this GPU and remote on the other, a CPU touch brings
 * them home with the fault batching policy (the rest of the 2 MiB block
 * comes along), and an explicit migration home brings the rest.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "gpu-fixture.h"

#define SIZE (4UL << 20)
#define NPAGES (SIZE / HMM_PAGE)

static uint64_t link_bytes(struct gpu_fixture *f, int i, enum pci_link_dir dir)
{
	struct pci_link_stats s;

	pci_link_stats_get(gpu_emu_pdev(f->emu[i]), &s);
	return s.bytes[dir];
}

static void fill(uint64_t *p, unsigned long n, uint64_t salt)
{
	for (unsigned long i = 0; i < n; i++)
		p[i] = i * 0x9e3779b97f4a7c15ULL ^ salt;
}

static void check(const uint64_t *p, unsigned long n, uint64_t salt)
{
	for (unsigned long i = 0; i < n; i++)
		if (p[i] != (i * 0x9e3779b97f4a7c15ULL ^ salt))
			fail_msg("word %lu: %#llx", i, (unsigned long long)p[i]);
}

static void test_migrate_and_read_back(void **state)
{
	struct gpu_fixture *f = *state;
	struct hmm_buffer *b = hmm_buffer_new(SIZE, SIZE, PROT_READ | PROT_WRITE,
					      MAP_PRIVATE | MAP_ANONYMOUS, -1);
	uint64_t down = link_bytes(f, 0, PCI_LINK_DOWN);
	struct dmirror_counters c;
	unsigned char *snap;

	assert_non_null(b);
	fill(b->ptr, SIZE / 8, 1);
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_migrate_to_dev, b, NPAGES), 0);
	assert_int_equal(b->cpages, NPAGES);
	/* Read back by the GPU, from VRAM. */
	check(b->mirror, SIZE / 8, 1);
	/* The data went down gpu0's link by DMA: the copy engine moved it. */
	assert_true(link_bytes(f, 0, PCI_LINK_DOWN) - down >= SIZE);
	dmirror_device_counters(f->dev[0], &c);
	assert_true(c.calloc >= NPAGES);

	/* gpu0 sees its own pages, gpu1 someone else's. */
	snap = malloc(NPAGES);
	assert_non_null(snap);
	free(b->mirror);
	b->mirror = snap;
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_snapshot, b, NPAGES), 0);
	for (unsigned long i = 0; i < NPAGES; i++)
		assert_int_equal(snap[i],
				 HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL | HMM_DMIRROR_PROT_WRITE);
	assert_int_equal(hmm_dmirror_cmd(f->mirror[1], dmirror_snapshot, b, NPAGES), 0);
	for (unsigned long i = 0; i < NPAGES; i++)
		assert_int_equal(snap[i], HMM_DMIRROR_PROT_NONE);

	/* An explicit migration home brings every byte. */
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_migrate_to_sys, b, NPAGES), 0);
	assert_int_equal(b->cpages, NPAGES);
	check(b->ptr, SIZE / 8, 1);
	hmm_buffer_free(b);
}

/* The CPU touches the migrated range in order: few faults, the rest prefetched. */
static void test_cpu_fault_back(void **state)
{
	struct gpu_fixture *f = *state;
	struct hmm_buffer *b = hmm_buffer_new(SIZE, SIZE, PROT_READ | PROT_WRITE,
					      MAP_PRIVATE | MAP_ANONYMOUS, -1);
	struct dmirror_counters before, after;
	uint64_t up = link_bytes(f, 0, PCI_LINK_UP);

	assert_non_null(b);
	fill(b->ptr, SIZE / 8, 2);
	assert_int_equal(gpu_migrate(f->mirror[0], b->ptr, SIZE, 1), (long)NPAGES);
	dmirror_device_counters(f->dev[0], &before);
	check(b->ptr, SIZE / 8, 2);
	dmirror_device_counters(f->dev[0], &after);
	assert_true(after.cpu_faults > before.cpu_faults);
	/* Sequential faults prefetch: far fewer faults than pages. */
	assert_true(after.cpu_faults - before.cpu_faults < NPAGES / 8);
	assert_true(after.prefetched > before.prefetched);
	/* Home by DMA up the GPU's link. */
	assert_true(link_bytes(f, 0, PCI_LINK_UP) - up >= SIZE);

	/* Written by the CPU once home, migrated again, read by the GPU from VRAM. */
	fill(b->ptr, SIZE / 8, 3);
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_migrate_to_dev, b, NPAGES), 0);
	check(b->mirror, SIZE / 8, 3);
	/* The GPU writes VRAM in place; the CPU sees it after faulting it home. */
	fill(b->mirror, SIZE / 8, 4);
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_write, b, NPAGES), 0);
	assert_int_equal(b->faults, 0);
	check(b->ptr, SIZE / 8, 4);
	hmm_buffer_free(b);
}

/* Pages on gpu1 that gpu0 reads come home first (another owner's device memory). */
static void test_remote_pages(void **state)
{
	struct gpu_fixture *f = *state;
	struct hmm_buffer *b = hmm_anon_buffer();

	assert_non_null(b);
	fill(b->ptr, HMM_BUFFER_SIZE / 8, 5);
	assert_int_equal(hmm_dmirror_cmd(f->mirror[1], dmirror_migrate_to_dev, b, HMM_NPAGES), 0);
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_read, b, HMM_NPAGES), 0);
	check(b->mirror, HMM_BUFFER_SIZE / 8, 5);
	/* And now gpu0 takes them. */
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_migrate_to_dev, b, HMM_NPAGES), 0);
	assert_int_equal(b->cpages, HMM_NPAGES);
	check(b->mirror, HMM_BUFFER_SIZE / 8, 5);
	check(b->ptr, HMM_BUFFER_SIZE / 8, 5);
	hmm_buffer_free(b);
}

/* Shared memory cannot migrate: -ENOENT, as the kernel's test device says. */
static void test_migrate_shared(void **state)
{
	struct gpu_fixture *f = *state;
	struct hmm_buffer *b = hmm_buffer_new(HMM_BUFFER_SIZE, HMM_BUFFER_SIZE,
					      PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
					      -1);

	assert_non_null(b);
	assert_int_equal(hmm_dmirror_cmd(f->mirror[0], dmirror_migrate_to_dev, b, HMM_NPAGES),
			 -ENOENT);
	hmm_buffer_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_migrate_and_read_back, gpu_fixture_setup,
						gpu_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_cpu_fault_back, gpu_fixture_setup,
						gpu_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_remote_pages, gpu_fixture_setup,
						gpu_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_migrate_shared, gpu_fixture_setup,
						gpu_fixture_teardown),
	};

	hmm_require_uffd();
	hmm_skip_under_valgrind();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
