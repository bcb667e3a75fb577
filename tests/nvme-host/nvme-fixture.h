/* SPDX-License-Identifier: MIT */
/*
 * A machine for the NVMe host driver's tests, built through the fabric API.
 *
 *   hb0 (domain 1000, bus offset 2^47, IDs 8086:<hb_device>, IOMMU)
 *    +- rp0 -- sw0 --+-- sw0.0 -- nvme0  (BAR0 registers, BAR2 CMB)
 *    |               +-- sw0.1 -- gpu0   (BAR0 64 KiB, BAR2 32 MiB prefetchable)
 *    |               +-- sw0.2 -- nvme1  (only with @second_ctrl)
 *    |               +-- sw0.3 -- stall  (only with @stall_ops: a register BAR0 of
 *    |                                    4 KiB whose handlers the test provides)
 *    +- rp1 -------------------- gpu1   (same as gpu0)
 *
 * gpu0 is switch-local to nvme0 (map type BUS_ADDR); gpu1 is below another
 * root port: THRU_HOST_BRIDGE when the host bridge is on the kernel's
 * whitelist (8086:09a2, the default), NOT_SUPPORTED when it is not (e.g.
 * 8086:3e30). Both GPUs publish their BAR2 as p2pmem.
 */
#ifndef HETMEM_TESTS_NVME_FIXTURE_H
#define HETMEM_TESTS_NVME_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hetmem/err.h>
#include <hetmem/log.h>
#include <hetmem/nvme-emu.h>
#include <hetmem/nvme.h>
#include <hetmem/pci-p2pdma.h>
#include <hetmem/pci.h>

#define NFIX_HB_OFFSET (1ULL << 47)
#define NFIX_GPU_BAR   (32ULL << 20)
#define NFIX_NS_SIZE   (64ULL << 20)

struct nfix_opts {
	uint16_t hb_device; /* 0: 0x09a2 */
	bool second_ctrl;
	uint64_t cmb_size; /* 0: none */
	uint16_t mqes; /* 0: the controller's default */
	unsigned int max_io_queues; /* 0: the controller's default */
	bool no_start; /* build and enumerate only */
	bool no_probe; /* start the controllers, do not probe */
	struct nvme_ctrl_opts ctrl_opts;
	size_t dma_seg_max; /* set on the transports before probing */
	const struct pci_bar_ops *stall_ops;
};

struct nfix {
	struct pci_fabric *f;
	struct pci_host_bridge *hb;
	struct pci_dev *rp0, *rp1, *sw0, *dsp0, *dsp1, *dsp2, *dsp3, *stall;
	struct nvme_emu *emu[2];
	struct pci_dev *nvme[2], *gpu0, *gpu1;
	struct nvme_transport t[2];
	struct nvme_ctrl *ctrl[2];
	struct nvme_qpair *qp[2];
	int nr_ctrl;
};

static inline struct pci_endpoint_info nfix_gpu(const char *name)
{
	struct pci_endpoint_info info = {
		.name = name,
		.vendor = 0x4854,
		.device = 0x00ff,
		.class = 0x030200,
		.bar = { [0] = { .size = 64 << 10, .flags = PCI_BAR_MEM64 },
			 [2] = { .size = NFIX_GPU_BAR,
				 .flags = PCI_BAR_MEM64 | PCI_BAR_PREFETCH } },
	};
	return info;
}

/* Two namespaces: NSID 1 with 512-byte blocks, NSID 2 with 4 KiB blocks, RAM backed. */
static inline struct nvme_emu_params nfix_params(const char *name, const char *sn,
						 const struct nfix_opts *o)
{
	struct nvme_emu_params p = {
		.name = name,
		.serial = sn,
		.model = "hetmem test NVMe",
		.mqes = o->mqes,
		.max_io_queues = o->max_io_queues,
		.cmb_size = o->cmb_size,
		.nr_ns = 2,
		.ns = { { .size = NFIX_NS_SIZE, .lba_shift = 9 },
			{ .size = NFIX_NS_SIZE / 2, .lba_shift = 12 } },
	};
	return p;
}

static inline int nfix_probe(struct nfix *x, int i, const struct nfix_opts *o)
{
	x->ctrl[i] = nvme_ctrl_probe(&x->t[i], &o->ctrl_opts);
	if (IS_ERR(x->ctrl[i])) {
		fprintf(stderr, "probe of nvme%d failed: %ld\n", i, PTR_ERR(x->ctrl[i]));
		x->ctrl[i] = NULL;
		return -1;
	}
	x->qp[i] = nvme_qpair_alloc(x->ctrl[i]);
	if (IS_ERR(x->qp[i])) {
		fprintf(stderr, "queue pair of nvme%d: %ld\n", i, PTR_ERR(x->qp[i]));
		x->qp[i] = NULL;
		return -1;
	}
	return 0;
}

static inline int nfix_build(struct nfix *x, const struct nfix_opts *o)
{
	struct pci_host_bridge_info hb = {
		.name = "hb0",
		.domain = 0x1000,
		.vendor = 0x8086,
		.device = o->hb_device ? o->hb_device : 0x09a2,
		.p2p_allowed = !o->hb_device || o->hb_device == 0x09a2,
		.bus_offset = NFIX_HB_OFFSET,
		.mem_base = 0xc0000000,
		.mem_size = 0x10000000,
		.pref_base = 0x8000000000ULL,
		.pref_size = 0x100000000ULL,
	};
	struct nvme_emu_params p;
	struct pci_endpoint_info ep;

	memset(x, 0, sizeof(*x));
	x->f = pci_fabric_create();
	if (!x->f)
		return -1;
	x->hb = pci_host_bridge_add(x->f, &hb);
	if (IS_ERR(x->hb))
		return -1;
	x->rp0 = pci_root_port_add(x->hb, "rp0", 0);
	x->rp1 = pci_root_port_add(x->hb, "rp1", 0);
	if (IS_ERR(x->rp0) || IS_ERR(x->rp1))
		return -1;
	x->sw0 = pci_switch_add(x->rp0, "sw0", 4, 0);
	if (IS_ERR(x->sw0))
		return -1;
	x->dsp0 = pci_switch_port(x->sw0, 0);
	x->dsp1 = pci_switch_port(x->sw0, 1);
	x->dsp2 = pci_switch_port(x->sw0, 2);
	x->dsp3 = pci_switch_port(x->sw0, 3);
	x->nr_ctrl = o->second_ctrl ? 2 : 1;
	p = nfix_params("nvme0", "HM0000", o);
	x->emu[0] = nvme_emu_create(x->dsp0, 0, &p);
	if (IS_ERR(x->emu[0])) {
		x->emu[0] = NULL;
		return -1;
	}
	if (o->second_ctrl) {
		p = nfix_params("nvme1", "HM0001", o);
		x->emu[1] = nvme_emu_create(x->dsp2, 0, &p);
		if (IS_ERR(x->emu[1])) {
			x->emu[1] = NULL;
			return -1;
		}
	}
	ep = nfix_gpu("gpu0");
	x->gpu0 = pci_endpoint_add(x->dsp1, &ep);
	ep = nfix_gpu("gpu1");
	x->gpu1 = pci_endpoint_add(x->rp1, &ep);
	if (IS_ERR(x->gpu0) || IS_ERR(x->gpu1))
		return -1;
	if (o->stall_ops) {
		ep = nfix_gpu("stall");
		ep.bar[2].size = 0;
		ep.bar[0].size = 4096;
		ep.bar[0].ops = o->stall_ops;
		x->stall = pci_endpoint_add(x->dsp3, &ep);
		if (IS_ERR(x->stall))
			return -1;
	}
	if (pci_fabric_enumerate(x->f))
		return -1;
#ifdef CONFIG_PCI_P2PDMA
	if (pci_p2pdma_add_resource(x->gpu0, 2, 0, 0) || pci_p2pdma_add_resource(x->gpu1, 2, 0, 0))
		return -1;
	pci_p2pmem_publish(x->gpu0, true);
	pci_p2pmem_publish(x->gpu1, true);
#endif
	for (int i = 0; i < x->nr_ctrl; i++) {
		x->nvme[i] = nvme_emu_pdev(x->emu[i]);
		if (o->no_start)
			continue;
		if (nvme_emu_start(x->emu[i]))
			return -1;
		if (nvme_transport_emu_init(&x->t[i], x->nvme[i]))
			return -1;
		x->t[i].dma_seg_max = o->dma_seg_max;
		if (!o->no_probe && nfix_probe(x, i, o))
			return -1;
	}
	return 0;
}

static inline void nfix_destroy(struct nfix *x)
{
	for (int i = 0; i < 2; i++) {
		nvme_qpair_free(x->qp[i]);
		nvme_ctrl_remove(x->ctrl[i]);
		if (x->t[i].ops)
			nvme_transport_emu_fini(&x->t[i]);
	}
#ifdef CONFIG_PCI_P2PDMA
	if (x->gpu0)
		pci_p2pdma_release(x->gpu0);
	if (x->gpu1)
		pci_p2pdma_release(x->gpu1);
#endif
	for (int i = 0; i < 2; i++)
		nvme_emu_destroy(x->emu[i]);
	pci_fabric_destroy(x->f);
}

static inline uint64_t nfix_link(struct pci_dev *dev, enum pci_link_dir dir)
{
	struct pci_link_stats s;

	pci_link_stats_get(dev, &s);
	return s.bytes[dir];
}

static inline struct pci_rc_stats nfix_rc(struct pci_host_bridge *hb)
{
	struct pci_rc_stats s;

	pci_rc_stats_get(hb, &s);
	return s;
}

/* A pattern that differs per byte, per LBA and per @seed; @buf may be unaligned. */
static inline void nfix_fill(void *buf, size_t len, uint32_t seed)
{
	uint8_t *p = buf;
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i + 4 <= len; i += 4) {
		uint32_t v;

		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		v = x + (uint32_t)i;
		memcpy(p + i, &v, sizeof(v));
	}
}

/* FNV-1a, to compare buffers that live in different places. */
static inline uint64_t nfix_sum(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

/* Page-aligned memory of at least @len bytes (aligned_alloc wants a multiple of the alignment). */
static inline void *nfix_alloc(size_t len)
{
	return aligned_alloc(4096, (len + 4095) & ~(size_t)4095);
}

/* Teardown for groups whose state is one heap-allocated fixture. */
static inline int nfix_teardown(void **state)
{
	struct nfix *x = *state;

	nfix_destroy(x);
	free(x);
	return 0;
}

/*
 * Write @nlb blocks at @slba of namespace @nsid from a buffer @off bytes
 * into a fresh allocation, read them back into another, compare checksums.
 */
static inline void nfix_round_trip(struct nfix *x, uint32_t nsid, size_t off, uint64_t slba, uint32_t nlb,
		       uint32_t seed)
{
	struct nvme_ns *ns = nvme_ctrl_ns(x->ctrl[0], nsid);
	size_t len = (size_t)nlb << ns->lba_shift;
	uint8_t *w = nfix_alloc(len + off + 4096), *r = nfix_alloc(len + off + 4096);

	nfix_fill(w + off, len, seed);
	memset(r, 0, len + off);
	assert_int_equal(nvme_write(ns, x->qp[0], w + off, slba, nlb), 0);
	assert_int_equal(nvme_read(ns, x->qp[0], r + off, slba, nlb), 0);
	assert_int_equal(nfix_sum(r + off, len), nfix_sum(w + off, len));
	free(w);
	free(r);
}

static inline void nfix_quiet(void)
{
	if (!getenv("HETMEM_LOG"))
		hetmem_log_set_level(HETMEM_LOG_ERR);
}

#endif /* HETMEM_TESTS_NVME_FIXTURE_H */
