/* SPDX-License-Identifier: MIT */
/*
 * What the GPU driver's tests share: a machine with two emulated GPUs,
 * the driver bound to each, and a mirror of the process on each (the HMM
 * test device interface the GPU serves), plus the hmm tests' buffers and
 * skip rules (../hmm/hmm-fixture.h).
 *
 *   hb0 (domain 1000, IOMMU, bus offset 2^47)
 *    +- rp0 -- gpu0   VRAM 64 MiB: BAR2 16 MiB, 48 MiB device-private
 *    +- rp1 -- gpu1   the same
 *
 * A test may ask for other VRAM sizes or driver options before setting
 * up (gpu_fixture_params). Each GPU is its own device-private owner: pages
 * on gpu1 are "remote" to gpu0, as a second test device is in the hmm
 * tests.
 */
#ifndef HETMEM_TESTS_GPU_FIXTURE_H
#define HETMEM_TESTS_GPU_FIXTURE_H

#include <hetmem/gpu-emu.h>
#include <hetmem/gpu-regs.h>
#include <hetmem/gpu.h>
#include <hetmem/hmm.h>
#include <hetmem/pci.h>

#include "../hmm/hmm-fixture.h"

#define GPU_FIX_OFFSET (1ULL << 47)

struct gpu_fixture {
	struct pci_fabric *fabric;
	struct gpu_emu *emu[2];
	struct gpu_host *gpu[2];
	struct dmirror_device *dev[2];
	struct dmirror *mirror[2];
};

/* What the next gpu_fixture_setup() builds; tests change it before. */
static struct {
	uint64_t vram_size, bar2_size;
	struct gpu_host_opts opts;
} gpu_fixture_params = {
	.vram_size = 64ULL << 20,
	.bar2_size = 16ULL << 20,
};

static inline int gpu_fixture_build(struct gpu_fixture *x)
{
	struct pci_host_bridge_info hb = {
		.name = "hb0", .domain = 0x1000, .vendor = 0x8086, .device = 0x09a2,
		.p2p_allowed = true, .bus_offset = GPU_FIX_OFFSET,
		.mem_base = 0xc0000000, .mem_size = 0x10000000,
		.pref_base = 0x8000000000ULL, .pref_size = 0x100000000ULL,
	};
	struct pci_host_bridge *h;
	struct pci_dev *rp[2];

	x->fabric = pci_fabric_create();
	if (!x->fabric)
		return -1;
	h = pci_host_bridge_add(x->fabric, &hb);
	if (IS_ERR(h))
		return -1;
	rp[0] = pci_root_port_add(h, "rp0", 0);
	rp[1] = pci_root_port_add(h, "rp1", 0);
	if (IS_ERR(rp[0]) || IS_ERR(rp[1]))
		return -1;
	for (int i = 0; i < 2; i++) {
		struct gpu_emu_params p = {
			.name = i ? "gpu1" : "gpu0",
			.vram_size = gpu_fixture_params.vram_size,
			.bar2_size = gpu_fixture_params.bar2_size,
		};

		x->emu[i] = gpu_emu_create(rp[i], 0, &p);
		if (IS_ERR(x->emu[i])) {
			fprintf(stderr, "gpu_emu_create: %ld\n", PTR_ERR(x->emu[i]));
			x->emu[i] = NULL;
			return -1;
		}
	}
	if (pci_fabric_enumerate(x->fabric))
		return -1;
	for (int i = 0; i < 2; i++)
		if (gpu_emu_start(x->emu[i]))
			return -1;
	return 0;
}

static inline void gpu_fixture_destroy(struct gpu_fixture *x)
{
	for (int i = 0; i < 2; i++) {
		if (x->mirror[i] && !IS_ERR(x->mirror[i]))
			dmirror_close(x->mirror[i]);
		if (x->gpu[i] && !IS_ERR(x->gpu[i]))
			gpu_host_remove(x->gpu[i]);
	}
	for (int i = 0; i < 2; i++)
		gpu_emu_destroy(x->emu[i]);
	pci_fabric_destroy(x->fabric);
	free(x);
}

/* Two GPUs, the driver on each, a mirror on each. */
static inline int gpu_fixture_setup(void **state)
{
	struct gpu_fixture *x = calloc(1, sizeof(*x));

	if (!x)
		return -1;
	if (gpu_fixture_build(x))
		goto fail;
	for (int i = 0; i < 2; i++) {
		x->gpu[i] = gpu_host_probe(gpu_emu_pdev(x->emu[i]), &gpu_fixture_params.opts);
		if (IS_ERR(x->gpu[i])) {
			fprintf(stderr, "gpu_host_probe: %ld\n", PTR_ERR(x->gpu[i]));
			goto fail;
		}
		x->dev[i] = gpu_host_dmirror(x->gpu[i]);
		x->mirror[i] = dmirror_open(x->dev[i]);
		if (IS_ERR(x->mirror[i])) {
			fprintf(stderr, "dmirror_open: %ld\n", PTR_ERR(x->mirror[i]));
			goto fail;
		}
	}
	*state = x;
	return 0;
fail:
	gpu_fixture_destroy(x);
	return -1;
}

static inline int gpu_fixture_teardown(void **state)
{
	gpu_fixture_destroy(*state);
	return 0;
}

/* The driver's counters of GPU @i. */
static inline struct gpu_host_stats gpu_fixture_stats(struct gpu_fixture *x, int i)
{
	struct gpu_host_stats st;

	gpu_host_stats(x->gpu[i], &st);
	return st;
}

#endif /* HETMEM_TESTS_GPU_FIXTURE_H */
