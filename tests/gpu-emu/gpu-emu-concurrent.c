// SPDX-License-Identifier: MIT
/*
 * The GPU under concurrency: channels run at once on their own threads
 * (atomics from four channels and the CPU add up exactly), a driver thread
 * services faults while the faulting command waits (and the round trip is
 * printed), and TLB_INVALIDATE waits for accesses in flight: once it
 * completes, the page that was unmapped is never written again.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "fabric-fixture.h"
#include "tgpu.h"

#define ASID 2

static int setup(void **state)
{
	struct tgpu *t = calloc(1, sizeof(*t));
	struct gpu_emu_params p = tg_params();

	if (!t || tg_setup(t, &p))
		return -1;
	for (unsigned int c = 0; c < GPU_NR_CHANNELS; c++)
		if (!tg_ch_enable(t, c))
			return -1;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	tg_teardown(*state);
	free(*state);
	return 0;
}

struct cpu_adder {
	uint64_t *word;
	unsigned int n;
};

static void *cpu_add(void *arg)
{
	struct cpu_adder *a = arg;

	for (unsigned int i = 0; i < a->n; i++)
		__atomic_fetch_add(a->word, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* Four channels and a CPU thread add to the same words at once. */
static void test_atomics_from_everyone(void **state)
{
	struct tgpu *t = *state;
	struct tg_buf b = tg_alloc(t, TG_PAGE);
	uint64_t *words = (uint64_t *)b.cpu;
	struct cpu_adder adder = { &words[0], 20000 };
	uint32_t idx[GPU_NR_CHANNELS][8];
	pthread_t cpu;

	assert_int_equal(tg_map_sys(t, ASID, &b, GPU_PTE_WRITE | GPU_PTE_ATOMIC), GPU_SC_SUCCESS);
	assert_int_equal(pthread_create(&cpu, NULL, cpu_add, &adder), 0);
	for (int r = 0; r < 8; r++) {
		for (unsigned int c = 0; c < GPU_NR_CHANNELS; c++) {
			struct gpu_cmd k = tg_launch(ASID, GPU_KERNEL_ATOMIC_ADD, (uintptr_t)b.cpu,
						     4, c + 1, 0);

			idx[c][r] = tg_submit(t, c, &k);
		}
	}
	for (int r = 0; r < 8; r++)
		for (unsigned int c = 0; c < GPU_NR_CHANNELS; c++)
			assert_int_equal(tg_wait(t, c, idx[c][r]), GPU_SC_SUCCESS);
	pthread_join(cpu, NULL);
	/* Each round adds 1 + 2 + 3 + 4 to each word. */
	assert_int_equal(__atomic_load_n(&words[0], __ATOMIC_SEQ_CST), 8 * 10 + 20000);
	for (int i = 1; i < 4; i++)
		assert_int_equal(__atomic_load_n(&words[i], __ATOMIC_SEQ_CST), 8 * 10);
	assert_int_equal(words[4], 0);
}

struct servicer {
	struct tgpu *t;
	struct tg_buf *b;
	unsigned int faults;
	int stop;
	uint64_t total_ns;
	uint64_t ns[256];
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The driver's fault handler: map the page, replay. Polls; no interrupts. */
static void *service(void *arg)
{
	struct servicer *s = arg;
	struct tgpu *t = s->t;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		struct gpu_fault_entry e;
		uint64_t t0 = now_ns(), page;
		struct gpu_cmd c;

		if (tg_rd32(t, GPU_REG_FAULT_PUT) == t->fault_get) {
			sched_yield();
			continue;
		}
		e = ((struct gpu_fault_entry *)t->faults.cpu)[t->fault_get];
		t->fault_get = (t->fault_get + 1) % TG_FAULTS;
		tg_wr32(t, GPU_REG_FAULT_GET, t->fault_get);
		page = (e.va - (uintptr_t)s->b->cpu) / TG_PAGE;
		c = tg_pte_set(ASID, e.va, 1,
			       (s->b->dma + page * TG_PAGE) | GPU_PTE_VALID | GPU_PTE_SYSTEM |
				       GPU_PTE_WRITE,
			       0);
		if (tg_run(t, TG_CH_MMU, &c) != GPU_SC_SUCCESS)
			abort();
		tg_wr32(t, GPU_REG_FAULT_REPLAY, 1u << e.channel);
		t0 = now_ns() - t0;
		s->total_ns += t0;
		if (s->faults < 256)
			s->ns[s->faults] = t0;
		s->faults++;
	}
	return NULL;
}

static void test_fault_service_thread(void **state)
{
	struct tgpu *t = *state;
	unsigned int pages = 64;
	struct tg_buf b = tg_alloc(t, pages * TG_PAGE);
	struct servicer s = { .t = t, .b = &b };
	struct gpu_cmd c =
		tg_launch(ASID, GPU_KERNEL_FILL, (uintptr_t)b.cpu, pages * 1024, 0x77, 0);
	pthread_t th;
	uint32_t idx;
	uint64_t v;

	tg_fault_enable(t, TG_FAULTS);
	assert_int_equal(pthread_create(&th, NULL, service, &s), 0);
	/* Wait for the interrupt, off the CPU: the servicer and the channels need it. */
	c.flags = GPU_CMD_F_IRQ;
	idx = tg_submit(t, TG_CH_WORK, &c);
	assert_int_equal(read(gpu_emu_irq_fd(t->emu, GPU_IRQ_CMD), &v, sizeof(v)), sizeof(v));
	assert_int_equal(tg_wait(t, TG_CH_WORK, idx), GPU_SC_SUCCESS);
	__atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	assert_int_equal(s.faults, pages);
	for (unsigned int i = 0; i < pages * 1024; i++)
		assert_int_equal(((uint32_t *)b.cpu)[i], 0x77);
	qsort(s.ns, pages, sizeof(s.ns[0]), cmp_u64);
	printf("# fault service (read entry, PTE_SET round trip, replay): "
	       "%.1f us min, %.1f us median, %.1f us mean\n",
	       (double)s.ns[0] / 1000.0, (double)s.ns[pages / 2] / 1000.0,
	       (double)s.total_ns / s.faults / 1000.0);
}

/* Channel 0 fills through a mapping channel 1 moves from A to B and invalidates. */
static void test_invalidate_waits_for_accesses(void **state)
{
	struct tgpu *t = *state;
	struct tg_buf a = tg_alloc(t, 16 * TG_PAGE), b = tg_alloc(t, 16 * TG_PAGE);
	uint64_t va = 0x4400000000ULL;
	struct gpu_cmd c,
		inval = { .opcode = GPU_OP_TLB_INVALIDATE, .asid = ASID, .arg = { va, 16 } };
	uint32_t fills[TG_RING / 2];
	uint8_t *snap = malloc(a.len);

	c = tg_pte_set(ASID, va, 16, a.dma | GPU_PTE_VALID | GPU_PTE_SYSTEM | GPU_PTE_WRITE,
		       TG_PAGE);
	assert_int_equal(tg_run(t, TG_CH_MMU, &c), GPU_SC_SUCCESS);
	for (unsigned int i = 0; i < TG_RING / 2; i++) {
		c = tg_launch(ASID, GPU_KERNEL_FILL, va, 16 * 1024, i + 1, 0);
		fills[i] = tg_submit(t, TG_CH_WORK, &c);
	}
	/* Remap to B while the fills run, then invalidate. */
	c = tg_pte_set(ASID, va, 16, b.dma | GPU_PTE_VALID | GPU_PTE_SYSTEM | GPU_PTE_WRITE,
		       TG_PAGE);
	assert_int_equal(tg_run(t, TG_CH_MMU, &c), GPU_SC_SUCCESS);
	assert_int_equal(tg_run(t, TG_CH_MMU, &inval), GPU_SC_SUCCESS);
	memcpy(snap, a.cpu, a.len);
	for (unsigned int i = 0; i < TG_RING / 2; i++)
		assert_int_equal(tg_wait(t, TG_CH_WORK, fills[i]), GPU_SC_SUCCESS);
	c = tg_launch(ASID, GPU_KERNEL_FILL, va, 16 * 1024, 0x1234, 0);
	assert_int_equal(tg_run(t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
	/* A never changed after the invalidation; B has the last fill. */
	assert_memory_equal(snap, a.cpu, a.len);
	for (unsigned int i = 0; i < 16 * 1024; i++)
		assert_int_equal(((uint32_t *)b.cpu)[i], 0x1234);
	free(snap);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_atomics_from_everyone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_service_thread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalidate_waits_for_accesses, setup,
						teardown),
	};

	quiet_logs();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
