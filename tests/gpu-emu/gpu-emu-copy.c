// SPDX-License-Identifier: MIT
/*
 * The copy engine: VRAM <-> system memory <-> peer BARs, byte for byte,
 * with the traffic where the fabric says it goes (switch-local to a peer
 * below the same switch, through the root complex to one that is not);
 * BAR2 as a window onto VRAM; the private part of VRAM reachable only by
 * the engine; copies by GPU VA through the MMU.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "fabric-fixture.h"
#include "tgpu.h"

#define VRAM_PRIVATE (16u << 20) /* first byte BAR2 does not show */

static int setup(void **state)
{
	struct tgpu *t = calloc(1, sizeof(*t));
	struct gpu_emu_params p = tg_params();

	if (!t || tg_setup(t, &p) || !tg_ch_enable(t, TG_CH_WORK) || !tg_ch_enable(t, TG_CH_MMU))
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

static void fill_pattern(uint8_t *p, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)((i * 131 + seed * 7 + (i >> 12)) & 0xff);
}

static uint64_t bus2(struct pci_dev *dev)
{
	return pci_bus_address(dev, 2);
}

/* System -> private VRAM -> system: the bytes make the round trip, odd length and offsets. */
static void test_vram_system_round_trip(void **state)
{
	struct tgpu *t = *state;
	size_t len = (3u << 20) + 123;
	struct tg_buf src = tg_alloc(t, len + TG_PAGE), dst = tg_alloc(t, len + TG_PAGE);
	uint64_t down, up;
	struct gpu_cmd c;

	fill_pattern(src.cpu, src.len, 1);
	pci_fabric_reset_stats(t->f);
	c = tg_copy(VRAM_PRIVATE + 77, GPU_APERTURE_VRAM, src.dma + 5, GPU_APERTURE_SYSTEM, len);
	assert_int_equal(tg_run(t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
	/* The data came down the GPU's link; the ring entry too, and a little more. */
	down = link_bytes(t->pdev, PCI_LINK_DOWN);
	assert_true(down >= len && down < len + 4096);
	assert_true(rc_stats(t->hb).mem_bytes[1] >= len);

	pci_fabric_reset_stats(t->f);
	c = tg_copy(dst.dma + 9, GPU_APERTURE_SYSTEM, VRAM_PRIVATE + 77, GPU_APERTURE_VRAM, len);
	assert_int_equal(tg_run(t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
	up = link_bytes(t->pdev, PCI_LINK_UP);
	assert_true(up >= len && up < len + 4096);
	assert_true(rc_stats(t->hb).mem_bytes[0] >= len);
	assert_memory_equal(dst.cpu + 9, src.cpu + 5, len);
	assert_int_equal(dst.cpu[8], 0);
	assert_int_equal(dst.cpu[9 + len], 0);

	/* VRAM -> VRAM, then back out. */
	c = tg_copy(VRAM_PRIVATE + (8u << 20), GPU_APERTURE_VRAM, VRAM_PRIVATE + 77,
		    GPU_APERTURE_VRAM, len);
	pci_fabric_reset_stats(t->f);
	assert_int_equal(tg_run(t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
	assert_true(link_bytes(t->pdev, PCI_LINK_DOWN) < 4096); /* the ring entry only */
	memset(dst.cpu, 0, dst.len);
	c = tg_copy(dst.dma, GPU_APERTURE_SYSTEM, VRAM_PRIVATE + (8u << 20), GPU_APERTURE_VRAM,
		    len);
	assert_int_equal(tg_run(t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
	assert_memory_equal(dst.cpu, src.cpu + 5, len);
}

/* BAR2 shows VRAM [0, 16M): what the engine writes the CPU reads, and back. */
static void test_bar2_is_vram(void **state)
{
	struct tgpu *t = *state;
	uint8_t *bar2 = pci_iomap(t->pdev, GPU_BAR_VRAM);
	struct tg_buf src = tg_alloc(t, 64 << 10), dst = tg_alloc(t, 64 << 10);
	struct gpu_cmd c;

	assert_non_null(bar2);
	fill_pattern(src.cpu, src.len, 2);
	c = tg_copy(4096, GPU_APERTURE_VRAM, src.dma, GPU_APERTURE_SYSTEM, src.len);
	assert_int_equal(tg_run(t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
	assert_memory_equal(bar2 + 4096, src.cpu, src.len);

	memset(bar2 + (16u << 20) - 4096, 0xa5, 4096);
	c = tg_copy(dst.dma, GPU_APERTURE_SYSTEM, (16u << 20) - 4096, GPU_APERTURE_VRAM, 4096);
	assert_int_equal(tg_run(t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
	for (int i = 0; i < 4096; i++)
		assert_int_equal(dst.cpu[i], 0xa5);
}

/* To and from a peer below the same switch: the data turns around in the switch. */
static void test_peer_below_switch(void **state)
{
	struct tgpu *t = *state;
	uint8_t *peer = pci_iomap(t->peer, 2);
	struct tg_buf src = tg_alloc(t, 1 << 20);
	size_t len = 1 << 20;
	struct pci_rc_stats rc;
	struct gpu_cmd c;

	fill_pattern(src.cpu, len, 3);
	c = tg_copy(VRAM_PRIVATE, GPU_APERTURE_VRAM, src.dma, GPU_APERTURE_SYSTEM, len);
	assert_int_equal(tg_run(t, TG_CH_WORK, &c), GPU_SC_SUCCESS);

	pci_fabric_reset_stats(t->f);
	c = tg_copy(bus2(t->peer) + 4096, GPU_APERTURE_SYSTEM, VRAM_PRIVATE, GPU_APERTURE_VRAM,
		    len);
	assert_int_equal(tg_run(t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
	assert_memory_equal(peer + 4096, src.cpu, len);
	assert_int_equal(link_bytes(t->peer, PCI_LINK_DOWN), len);
	assert_true(link_bytes(t->pdev, PCI_LINK_UP) >= len);
	rc = rc_stats(t->hb);
	assert_int_equal(rc.p2p_bytes, 0);
	assert_int_equal(rc.mem_bytes[0], 4 + 8); /* the status word and the fence */
	/* rp0's link saw only the ring traffic, not the data. */
	assert_true(link_total(t->rp0) < 4096);

	/* And back: peer -> VRAM. */
	memset(peer, 0x3c, 8192);
	c = tg_copy(VRAM_PRIVATE + 100, GPU_APERTURE_VRAM, bus2(t->peer), GPU_APERTURE_SYSTEM,
		    8192);
	assert_int_equal(tg_run(t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
	memset(src.cpu, 0, 8192);
	c = tg_copy(src.dma, GPU_APERTURE_SYSTEM, VRAM_PRIVATE + 100, GPU_APERTURE_VRAM, 8192);
	assert_int_equal(tg_run(t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
	for (int i = 0; i < 8192; i++)
		assert_int_equal(src.cpu[i], 0x3c);
}

/* To a peer on another root port: through the root complex, where the IOMMU decides. */
static void test_peer_across_root_complex(void **state)
{
	struct tgpu *t = *state;
	uint8_t *far = pci_iomap(t->far, 2);
	struct tg_buf src = tg_alloc(t, 256 << 10);
	struct gpu_cmd c;

	fill_pattern(src.cpu, src.len, 4);
	/* The IOMMU has no mapping for the far BAR's bus address: refused. */
	pci_fabric_reset_stats(t->f);
	c = tg_copy(bus2(t->far), GPU_APERTURE_SYSTEM, src.dma, GPU_APERTURE_SYSTEM, src.len);
	assert_int_equal(tg_run(t, TG_CH_WORK, &c), GPU_SC_DMA_ERROR);
	assert_int_equal(rc_stats(t->hb).iommu_faults, 1);
	assert_int_equal(link_bytes(t->far, PCI_LINK_DOWN), 0);
	assert_int_equal(far[0], 0);

	/*
	 * Without translation the root complex takes the address as a CPU
	 * address, and routes it to the BAR that has it (p2p allowed).
	 */
	tg_teardown(t);
	{
		struct gpu_emu_params p = tg_params();

		assert_int_equal(tg_setup_ext(t, &p, true), 0);
	}
	assert_true(tg_ch_enable(t, TG_CH_WORK));
	far = pci_iomap(t->far, 2);
	src = tg_alloc(t, 256 << 10);
	fill_pattern(src.cpu, src.len, 4);
	pci_fabric_reset_stats(t->f);
	/* System memory to the far BAR: two DMAs through a bounce buffer. */
	c = tg_copy(pci_resource_start(t->far, 2), GPU_APERTURE_SYSTEM, src.dma,
		    GPU_APERTURE_SYSTEM, src.len);
	assert_int_equal(tg_run(t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
	assert_memory_equal(far, src.cpu, src.len);
	assert_int_equal(rc_stats(t->hb).p2p_bytes, src.len);
	assert_int_equal(link_bytes(t->far, PCI_LINK_DOWN), src.len);
	assert_true(link_bytes(t->pdev, PCI_LINK_DOWN) >= src.len);
	assert_true(link_bytes(t->pdev, PCI_LINK_UP) >= src.len);
}

/* Copies by GPU VA: system pages and VRAM pages mapped at process addresses. */
static void test_copy_by_va(void **state)
{
	struct tgpu *t = *state;
	struct tg_buf a = tg_alloc(t, 5 * TG_PAGE), b = tg_alloc(t, 5 * TG_PAGE);
	uint64_t vram_va = 0x7e0000000000ULL;
	struct gpu_cmd c;

	fill_pattern(a.cpu, a.len, 5);
	assert_int_equal(tg_map_sys(t, 7, &a, 0), GPU_SC_SUCCESS);
	assert_int_equal(tg_map_sys(t, 7, &b, GPU_PTE_WRITE), GPU_SC_SUCCESS);
	/* Five VRAM pages, scattered: VA pages 0-4 -> VRAM pages 9, 3, 20, 4, 100 (private). */
	{
		uint64_t pages[5] = { 9, 3, 20, 4, VRAM_PRIVATE / TG_PAGE + 100 };

		for (int i = 0; i < 5; i++)
			assert_int_equal(tg_map_vram(t, 7, vram_va + i * TG_PAGE, 1,
						     pages[i] * TG_PAGE, GPU_PTE_WRITE),
					 GPU_SC_SUCCESS);
	}
	/* a -> VRAM (by VA, odd offsets across pages), then VRAM -> b. */
	c = tg_copy(vram_va + 10, GPU_APERTURE_VA, (uintptr_t)a.cpu + 3, GPU_APERTURE_VA,
		    4 * TG_PAGE + 100);
	c.asid = 7;
	assert_int_equal(tg_run(t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
	c = tg_copy((uintptr_t)b.cpu + 1, GPU_APERTURE_VA, vram_va + 10, GPU_APERTURE_VA,
		    4 * TG_PAGE + 100);
	c.asid = 7;
	assert_int_equal(tg_run(t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
	assert_memory_equal(b.cpu + 1, a.cpu + 3, 4 * TG_PAGE + 100);
	/* VRAM page 3 (VA page 1) is visible in BAR2. */
	assert_memory_equal((uint8_t *)pci_iomap(t->pdev, 2) + 3 * TG_PAGE,
			    a.cpu + 3 + TG_PAGE - 10, TG_PAGE);
	/* A read-only system page as destination faults; without a fault buffer, at once. */
	c = tg_copy((uintptr_t)a.cpu, GPU_APERTURE_VA, (uintptr_t)b.cpu, GPU_APERTURE_VA, 16);
	c.asid = 7;
	assert_int_equal(tg_run(t, TG_CH_WORK, &c), GPU_SC_MMU_FAULT);
	/* Physical -> VA: mixing apertures. */
	c = tg_copy((uintptr_t)b.cpu, GPU_APERTURE_VA, VRAM_PRIVATE + 100 * TG_PAGE,
		    GPU_APERTURE_VRAM, 64);
	c.asid = 7;
	assert_int_equal(tg_run(t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
}

/* A large copy at memory speed: the figure is printed, not asserted. */
static void test_large_copy_speed(void **state)
{
	struct tgpu *t = *state;
	size_t len = 8u << 20;
	struct tg_buf src = tg_alloc(t, len), dst = tg_alloc(t, len);
	struct timespec t0, t1, t2;
	double engine, cpu;
	struct gpu_cmd c;

	fill_pattern(src.cpu, len, 6);
	memset(dst.cpu, 1, len);
	/* Warm VRAM up so the memfd's pages exist. */
	c = tg_copy(VRAM_PRIVATE, GPU_APERTURE_VRAM, src.dma, GPU_APERTURE_SYSTEM, len);
	assert_int_equal(tg_run(t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	c = tg_copy(dst.dma, GPU_APERTURE_SYSTEM, VRAM_PRIVATE, GPU_APERTURE_VRAM, len);
	assert_int_equal(tg_run(t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	memcpy(dst.cpu, src.cpu, len);
	clock_gettime(CLOCK_MONOTONIC, &t2);
	assert_memory_equal(dst.cpu, src.cpu, len);
	engine = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	cpu = (double)(t2.tv_sec - t1.tv_sec) + (double)(t2.tv_nsec - t1.tv_nsec) / 1e9;
	printf("# VRAM -> system, 8 MiB: %.2f GB/s, memcpy %.2f GB/s (ratio %.2f)\n",
	       (double)len / engine / 1e9, (double)len / cpu / 1e9, cpu / engine);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_vram_system_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bar2_is_vram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_below_switch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_across_root_complex, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_by_va, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_copy_speed, setup, teardown),
	};

	quiet_logs();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
