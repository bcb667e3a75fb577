/* SPDX-License-Identifier: MIT */
/*
 * Topologies the fabric tests build directly through the fabric API.
 *
 *   hb0 (domain 1000, bus offset 2^47)
 *    +- rp0 -- sw0 --+-- sw0.0 -- a   (BAR0 64 KiB memory, BAR2 16 MiB pref)
 *    |               +-- sw0.1 -- b   (same)
 *    +- rp1 -------------------- c    (same)
 *   hb1 (domain 1001, bus offset 2^47 + 2^44), only when asked
 *    +- rp2 -------------------- d    (same)
 */
#ifndef HETMEM_TESTS_FABRIC_FIXTURE_H
#define HETMEM_TESTS_FABRIC_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hetmem/err.h>
#include <hetmem/iommu.h>
#include <hetmem/log.h>
#include <hetmem/pci.h>

struct fixture {
	struct pci_fabric *f;
	struct pci_host_bridge *hb0, *hb1;
	struct pci_dev *rp0, *rp1, *rp2, *sw0, *dsp0, *dsp1;
	struct pci_dev *a, *b, *c, *d;
};

struct fixture_opts {
	bool hb0_denies_p2p;
	bool hb0_passthrough;
	bool with_hb1;
	bool hb1_denies_p2p;
	uint16_t acs; /* on every downstream port of sw0 */
};

#define FIX_HB0_OFFSET (1ULL << 47)
#define FIX_HB1_OFFSET ((1ULL << 47) + (1ULL << 44))

static inline struct pci_endpoint_info fixture_ep(const char *name)
{
	struct pci_endpoint_info info = {
		.name = name,
		.vendor = 0x4854,
		.device = 0x00ff,
		.class = 0x058000,
		.bar = { [0] = { .size = 64 << 10, .flags = PCI_BAR_MEM64 },
			 [2] = { .size = 16 << 20, .flags = PCI_BAR_MEM64 | PCI_BAR_PREFETCH } },
	};
	return info;
}

static inline int fixture_build(struct fixture *x, const struct fixture_opts *o)
{
	struct pci_host_bridge_info hb = {
		.name = "hb0", .domain = 0x1000, .vendor = 0x8086, .device = 0x09a2,
		.p2p_allowed = !o->hb0_denies_p2p, .iommu_passthrough = o->hb0_passthrough,
		.bus_offset = FIX_HB0_OFFSET,
		.mem_base = 0xc0000000, .mem_size = 0x10000000,
		.pref_base = 0x8000000000ULL, .pref_size = 0x100000000ULL,
	};
	struct pci_endpoint_info ep;

	memset(x, 0, sizeof(*x));
	x->f = pci_fabric_create();
	if (!x->f)
		return -1;
	x->hb0 = pci_host_bridge_add(x->f, &hb);
	if (IS_ERR(x->hb0))
		return -1;
	x->rp0 = pci_root_port_add(x->hb0, "rp0", 0);
	x->rp1 = pci_root_port_add(x->hb0, "rp1", 0);
	x->sw0 = pci_switch_add(x->rp0, "sw0", 2, o->acs);
	if (IS_ERR(x->rp0) || IS_ERR(x->rp1) || IS_ERR(x->sw0))
		return -1;
	x->dsp0 = pci_switch_port(x->sw0, 0);
	x->dsp1 = pci_switch_port(x->sw0, 1);
	ep = fixture_ep("a");
	x->a = pci_endpoint_add(x->dsp0, &ep);
	ep = fixture_ep("b");
	x->b = pci_endpoint_add(x->dsp1, &ep);
	ep = fixture_ep("c");
	x->c = pci_endpoint_add(x->rp1, &ep);
	if (IS_ERR(x->a) || IS_ERR(x->b) || IS_ERR(x->c))
		return -1;
	if (o->with_hb1) {
		hb.name = "hb1";
		hb.domain = 0x1001;
		hb.p2p_allowed = !o->hb1_denies_p2p;
		hb.iommu_passthrough = false;
		hb.bus_offset = FIX_HB1_OFFSET;
		x->hb1 = pci_host_bridge_add(x->f, &hb);
		if (IS_ERR(x->hb1))
			return -1;
		x->rp2 = pci_root_port_add(x->hb1, "rp2", 0);
		if (IS_ERR(x->rp2))
			return -1;
		ep = fixture_ep("d");
		x->d = pci_endpoint_add(x->rp2, &ep);
		if (IS_ERR(x->d))
			return -1;
	}
	return pci_fabric_enumerate(x->f);
}

static inline void fixture_destroy(struct fixture *x)
{
	pci_fabric_destroy(x->f);
}

static inline uint64_t link_bytes(struct pci_dev *dev, enum pci_link_dir dir)
{
	struct pci_link_stats s;

	pci_link_stats_get(dev, &s);
	return s.bytes[dir];
}

static inline uint64_t link_total(struct pci_dev *dev)
{
	return link_bytes(dev, PCI_LINK_UP) + link_bytes(dev, PCI_LINK_DOWN);
}

static inline struct pci_rc_stats rc_stats(struct pci_host_bridge *hb)
{
	struct pci_rc_stats s;

	pci_rc_stats_get(hb, &s);
	return s;
}

static inline void quiet_logs(void)
{
	if (!getenv("HETMEM_LOG"))
		hetmem_log_set_level(HETMEM_LOG_ERR);
}

#endif /* HETMEM_TESTS_FABRIC_FIXTURE_H */
