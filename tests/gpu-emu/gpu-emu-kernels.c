// SPDX-License-Identifier: MIT
/*
 * The compute engine's kernels, each against the same computation on the
 * CPU, over a VA range whose pages alternate between VRAM (private, so
 * only the engines reach it) and system memory: fill, copy, checksum
 * (FNV-1a), saxpy (bit-exact), 64-bit atomic add; a saxpy that faults
 * half way and is replayed applies every element exactly once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "fabric-fixture.h"
#include "tgpu.h"

#define ASID	  9
#define PAGES	  8
#define VA	  0x600000000000ULL /* the mixed range */
#define VRAM_BASE (32u << 20) /* private VRAM, beyond BAR2 */

struct kt {
	struct tgpu t;
	struct tg_buf sys; /* the odd pages of the range */
	struct tg_buf io; /* staging for reading and writing the range */
};

/* Map page i of the range: VRAM when even, system memory when odd. */
static uint16_t map_range_page(struct kt *k, unsigned int i, uint64_t flags)
{
	struct gpu_cmd c;

	if (i % 2 == 0)
		return tg_map_vram(&k->t, ASID, VA + (uint64_t)i * TG_PAGE, 1,
				   VRAM_BASE + (uint64_t)i * TG_PAGE, flags);
	c = tg_pte_set(
		ASID, VA + (uint64_t)i * TG_PAGE, 1,
		(k->sys.dma + (uint64_t)i * TG_PAGE) | GPU_PTE_VALID | GPU_PTE_SYSTEM | flags, 0);
	return tg_run(&k->t, TG_CH_MMU, &c);
}

static int setup(void **state)
{
	struct kt *k = calloc(1, sizeof(*k));
	struct gpu_emu_params p = tg_params();

	if (!k || tg_setup(&k->t, &p) || !tg_ch_enable(&k->t, TG_CH_WORK) ||
	    !tg_ch_enable(&k->t, TG_CH_MMU))
		return -1;
	k->sys = tg_alloc(&k->t, PAGES * TG_PAGE);
	k->io = tg_alloc(&k->t, PAGES * TG_PAGE);
	for (unsigned int i = 0; i < PAGES; i++)
		if (map_range_page(k, i, GPU_PTE_WRITE | GPU_PTE_ATOMIC))
			return -1;
	*state = k;
	return 0;
}

static int teardown(void **state)
{
	struct kt *k = *state;

	tg_teardown(&k->t);
	free(k);
	return 0;
}

/* The whole range into k->io, through the copy engine. */
static void read_range(struct kt *k)
{
	struct gpu_cmd c =
		tg_copy(k->io.dma, GPU_APERTURE_SYSTEM, VA, GPU_APERTURE_VA, PAGES * TG_PAGE);

	c.asid = ASID;
	assert_int_equal(tg_run(&k->t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
}

/* k->io into the whole range. */
static void write_range(struct kt *k)
{
	struct gpu_cmd c =
		tg_copy(VA, GPU_APERTURE_VA, k->io.dma, GPU_APERTURE_SYSTEM, PAGES * TG_PAGE);

	c.asid = ASID;
	assert_int_equal(tg_run(&k->t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
}

static void random_bytes(uint8_t *p, size_t n, unsigned int seed)
{
	srand(seed);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rand();
}

static void test_fill(void **state)
{
	struct kt *k = *state;
	uint8_t *expect = calloc(1, PAGES * TG_PAGE);
	uint64_t first = 12, count = (PAGES * TG_PAGE - 40) / 4;
	struct gpu_cmd c = tg_launch(ASID, GPU_KERNEL_FILL, VA + first, count, 0xdeadbeef, 0);

	memset(k->io.cpu, 0, k->io.len);
	write_range(k);
	assert_int_equal(tg_run(&k->t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
	for (uint64_t i = 0; i < count; i++)
		memcpy(expect + first + i * 4, &(uint32_t){ 0xdeadbeef }, 4);
	read_range(k);
	assert_memory_equal(k->io.cpu, expect, PAGES * TG_PAGE);
	/* Zero elements: nothing happens, successfully. */
	c.arg[2] = 0;
	assert_int_equal(tg_run(&k->t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
	free(expect);
}

static void test_copy_kernel(void **state)
{
	struct kt *k = *state;
	uint8_t *expect = malloc(PAGES * TG_PAGE);
	uint64_t len = 3 * TG_PAGE + 77;
	struct gpu_cmd c = tg_launch(ASID, GPU_KERNEL_COPY, VA + 4 * TG_PAGE + 5, VA + 3, len, 0);

	random_bytes(k->io.cpu, k->io.len, 1);
	memcpy(expect, k->io.cpu, k->io.len);
	write_range(k);
	assert_int_equal(tg_run(&k->t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
	memmove(expect + 4 * TG_PAGE + 5, expect + 3, len);
	read_range(k);
	assert_memory_equal(k->io.cpu, expect, PAGES * TG_PAGE);
	free(expect);
}

static uint64_t cpu_fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = GPU_FNV_OFFSET;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= GPU_FNV_PRIME;
	}
	return h;
}

static void test_checksum(void **state)
{
	struct kt *k = *state;
	uint8_t *data = malloc(PAGES * TG_PAGE);
	uint64_t len = 5 * TG_PAGE + 333, result_va = VA + 7 * TG_PAGE + 8;
	struct gpu_cmd c = tg_launch(ASID, GPU_KERNEL_CHECKSUM, VA + 1, len, result_va, 0);
	uint64_t got;

	random_bytes(k->io.cpu, k->io.len, 2);
	memcpy(data, k->io.cpu, k->io.len);
	write_range(k);
	assert_int_equal(tg_run(&k->t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
	/* Page 7 is system memory: the result is in k->sys. */
	memcpy(&got, k->sys.cpu + 7 * TG_PAGE + 8, 8);
	assert_int_equal(got, cpu_fnv1a(data + 1, len));
	assert_int_not_equal(got, 0);

	/* Into a VRAM page; and of nothing: the offset basis. */
	c.arg[3] = VA + 6 * TG_PAGE;
	c.arg[2] = 0;
	assert_int_equal(tg_run(&k->t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
	read_range(k);
	memcpy(&got, k->io.cpu + 6 * TG_PAGE, 8);
	assert_int_equal(got, GPU_FNV_OFFSET);
	free(data);
}

static uint32_t float_bits(float f)
{
	uint32_t v;

	memcpy(&v, &f, 4);
	return v;
}

/* The CPU's saxpy: one multiply, then one add, in single precision. */
static void cpu_saxpy(float a, const float *x, float *y, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		volatile float ax = a * x[i];

		y[i] = ax + y[i];
	}
}

static void test_saxpy(void **state)
{
	struct kt *k = *state;
	size_t n = 3000; /* y at page 0 (2.9 pages), x from page 4 plus 20 bytes */
	float *y = malloc(n * 4), *x = malloc(n * 4), a = 1.7f;
	float *io = (float *)k->io.cpu;
	uint64_t xoff = 4 * TG_PAGE + 20;
	struct gpu_cmd c = tg_launch(ASID, GPU_KERNEL_SAXPY, VA, VA + xoff, n, float_bits(a));

	srand(3);
	memset(k->io.cpu, 0, k->io.len);
	for (size_t i = 0; i < n; i++) {
		y[i] = (float)rand() / (float)RAND_MAX * 100.0f - 50.0f;
		x[i] = (float)rand() / (float)RAND_MAX * 10.0f;
	}
	memcpy(io, y, n * 4);
	memcpy(k->io.cpu + xoff, x, n * 4);
	write_range(k);
	assert_int_equal(tg_run(&k->t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
	cpu_saxpy(a, x, y, n);
	read_range(k);
	assert_memory_equal(io, y, n * 4); /* bit for bit */
	assert_memory_equal(k->io.cpu + xoff, x, n * 4);
	free(x);
	free(y);
}

/* Page 1 of y unmapped: fault half way, replay, every element applied once. */
static void test_saxpy_replay_applies_once(void **state)
{
	struct kt *k = *state;
	size_t n = 2048; /* y pages 0-1, x pages 4-5 */
	float *y = malloc(n * 4), *x = malloc(n * 4), a = -0.5f;
	struct gpu_cmd c =
		tg_launch(ASID, GPU_KERNEL_SAXPY, VA, VA + 4 * TG_PAGE, n, float_bits(a));
	struct gpu_fault_entry e = { 0 };
	uint32_t idx;

	tg_fault_enable(&k->t, TG_FAULTS);
	for (size_t i = 0; i < n; i++) {
		y[i] = (float)i;
		x[i] = (float)(3 * i + 1);
	}
	memset(k->io.cpu, 0, k->io.len);
	memcpy(k->io.cpu, y, n * 4);
	memcpy(k->io.cpu + 4 * TG_PAGE, x, n * 4);
	write_range(k);
	c = tg_pte_set(ASID, VA + TG_PAGE, 1, 0, 0);
	assert_int_equal(tg_run(&k->t, TG_CH_MMU, &c), GPU_SC_SUCCESS);
	c = tg_launch(ASID, GPU_KERNEL_SAXPY, VA, VA + 4 * TG_PAGE, n, float_bits(a));
	idx = tg_submit(&k->t, TG_CH_WORK, &c);
	assert_true(tg_fault_next(&k->t, &e, TG_FAULTS));
	assert_int_equal(e.va, VA + TG_PAGE);
	assert_int_equal(e.access, GPU_ACCESS_WRITE);
	assert_int_equal(map_range_page(k, 1, GPU_PTE_WRITE), GPU_SC_SUCCESS);
	tg_wr32(&k->t, GPU_REG_FAULT_REPLAY, 1u << TG_CH_WORK);
	assert_int_equal(tg_wait(&k->t, TG_CH_WORK, idx), GPU_SC_SUCCESS);
	cpu_saxpy(a, x, y, n);
	read_range(k);
	assert_memory_equal(k->io.cpu, y, n * 4);
	free(x);
	free(y);
}

static void test_atomic_add(void **state)
{
	struct kt *k = *state;
	size_t n = 1500; /* 8-byte elements from page 0 + 16 across three pages */
	uint64_t *io = (uint64_t *)(k->io.cpu + 16);
	struct gpu_cmd c = tg_launch(ASID, GPU_KERNEL_ATOMIC_ADD, VA + 16, n, 3, 0);

	memset(k->io.cpu, 0, k->io.len);
	for (size_t i = 0; i < n; i++)
		io[i] = i * 1000;
	write_range(k);
	assert_int_equal(tg_run(&k->t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
	c.arg[3] = (uint64_t)-1; /* adding -1: wraps as unsigned */
	assert_int_equal(tg_run(&k->t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
	read_range(k);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(io[i], i * 1000 + 2);
	assert_int_equal(((uint64_t *)k->io.cpu)[1], 0);
	assert_int_equal(io[n], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_kernel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checksum, setup, teardown),
		cmocka_unit_test_setup_teardown(test_saxpy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_saxpy_replay_applies_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic_add, setup, teardown),
	};

	quiet_logs();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
