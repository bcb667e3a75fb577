// SPDX-License-Identifier: MIT
/*
 * Fuzz configuration space, MMIO decode and DMA routing. The input is a
 * list of operations on a small fabric:
 *
 *   hb0 (domain 0x1000, IOMMU, p2p allowed)
 *    +- rp0 -- sw0 --+-- sw0.0 -- ep0  (BAR0 4K, BAR2 1M 64-bit pref)
 *    |               +-- sw0.1 -- ep1  (BAR0 4K, BAR2 1M 64-bit pref)
 *    +- rp1 -------------------- ep2  (BAR0 4K, BAR2 1M 64-bit pref)
 *
 * Config reads and writes take any domain, bus, devfn, offset and size,
 * so they reach absent functions, misaligned and oversized accesses and
 * the bridges' routing registers; MMIO takes any BAR, offset and size;
 * DMA goes from an endpoint to a host buffer mapped through the IOMMU, to
 * a peer's BAR or to any address. Nothing may crash or trip a sanitizer.
 *
 * Config writes reprogram BARs and bus numbers, so the fabric is rebuilt
 * every FZ_REBUILD inputs: runs stay independent enough to reproduce,
 * without paying for a fabric per input.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <hetmem/dma-mapping.h>
#include <hetmem/err.h>
#include <hetmem/pci.h>

#include "fuzz-common.h"

#define FZ_REBUILD  128
#define FZ_HOST_BUF (64u << 10)
#define FZ_DMA_MAX  (64u << 10)
#define FZ_NR_EP    3

enum fz_op {
	FZ_CFG_READ,
	FZ_CFG_WRITE,
	FZ_DEV_CFG_READ,
	FZ_DEV_CFG_WRITE,
	FZ_MMIO_READ,
	FZ_MMIO_WRITE,
	FZ_DMA_READ,
	FZ_DMA_WRITE,
	FZ_MASTER,
	FZ_NR_OPS,
};

struct fz_fabric {
	struct pci_fabric *f;
	struct pci_dev *ep[FZ_NR_EP];
	struct pci_dev *all[16];
	unsigned int nr_all;
	uint8_t *host;
	uint64_t host_dma;
	unsigned int runs;
};

static struct fz_fabric fz;
static uint8_t fz_buf[FZ_DMA_MAX];

static struct pci_endpoint_info fz_ep_info(const char *name)
{
	struct pci_endpoint_info info = {
		.name = name,
		.vendor = 0x4854,
		.device = 0x00fd,
		.class = 0x058000,
		.bar = {
			[0] = { .size = 4096 },
			[2] = { .size = 1 << 20, .flags = PCI_BAR_MEM64 | PCI_BAR_PREFETCH },
		},
	};
	return info;
}

static void fz_teardown(void)
{
	if (fz.host) {
		dma_unmap_single(fz.ep[0], fz.host_dma, FZ_HOST_BUF, DMA_BIDIRECTIONAL);
		free(fz.host);
	}
	pci_fabric_destroy(fz.f);
	memset(&fz, 0, sizeof(fz));
}

static void fz_build(void)
{
	struct pci_host_bridge_info hbi = {
		.name = "hb0",
		.domain = 0x1000,
		.vendor = 0x8086,
		.device = 0x09a2,
		.p2p_allowed = true,
		.bus_offset = 1ULL << 47,
		.mem_base = 0xc0000000,
		.mem_size = 0x10000000,
		.pref_base = 0x8000000000ULL,
		.pref_size = 0x100000000ULL,
	};
	static const char *const names[FZ_NR_EP] = { "ep0", "ep1", "ep2" };
	struct pci_endpoint_info info;
	struct pci_host_bridge *hb;
	struct pci_dev *rp0, *rp1, *sw0, *port[FZ_NR_EP], *d = NULL;

	fz.f = pci_fabric_create();
	if (!fz.f)
		abort();
	hb = pci_host_bridge_add(fz.f, &hbi);
	if (IS_ERR(hb))
		abort();
	rp0 = pci_root_port_add(hb, "rp0", 0);
	rp1 = pci_root_port_add(hb, "rp1", 0);
	if (IS_ERR(rp0) || IS_ERR(rp1))
		abort();
	sw0 = pci_switch_add(rp0, "sw0", 2, 0);
	if (IS_ERR(sw0))
		abort();
	port[0] = pci_switch_port(sw0, 0);
	port[1] = pci_switch_port(sw0, 1);
	port[2] = rp1;
	for (int i = 0; i < FZ_NR_EP; i++) {
		info = fz_ep_info(names[i]);
		fz.ep[i] = pci_endpoint_add(port[i], &info);
		if (IS_ERR(fz.ep[i]))
			abort();
	}
	if (pci_fabric_enumerate(fz.f))
		abort();
	while ((d = pci_fabric_next_dev(fz.f, d)) && fz.nr_all < 16)
		fz.all[fz.nr_all++] = d;
	for (int i = 0; i < FZ_NR_EP; i++)
		pci_set_master(fz.ep[i]);
	fz.host = aligned_alloc(4096, FZ_HOST_BUF);
	if (!fz.host)
		abort();
	memset(fz.host, 0, FZ_HOST_BUF);
	fz.host_dma = dma_map_single(fz.ep[0], fz.host, FZ_HOST_BUF, DMA_BIDIRECTIONAL);
	if (fz.host_dma == DMA_MAPPING_ERROR)
		abort();
}

/* A DMA target: the host buffer, a peer's BAR, or the input's own address. */
static uint64_t fz_dma_addr(struct fz_in *in)
{
	uint8_t mode = fz_u8(in);
	uint64_t off = fz_u32(in);
	struct pci_dev *peer = fz.ep[(mode >> 2) % FZ_NR_EP];

	switch (mode & 3) {
	case 0:
		return fz.host_dma + off % (FZ_HOST_BUF + 256);
	case 1:
		return pci_bus_address(peer, 2) + off % ((1u << 20) + 256);
	case 2:
		return pci_bus_address(peer, 0) + off % 8192;
	default:
		return (uint64_t)off << 32 | fz_u32(in);
	}
}

static void fz_one(struct fz_in *in)
{
	uint8_t op = fz_u8(in) % FZ_NR_OPS;
	struct pci_dev *ep = fz.ep[fz_u8(in) % FZ_NR_EP];
	uint16_t domain;
	unsigned int bus, devfn, where, size, len;
	uint64_t addr;
	uint32_t v32;
	uint16_t v16;
	uint8_t v8;
	int bar, w;

	switch (op) {
	case FZ_CFG_READ:
	case FZ_CFG_WRITE:
		/* Mostly our own domain, so the accesses reach functions. */
		domain = fz_u8(in) & 1 ? fz_u16(in) : 0x1000;
		bus = fz_u8(in);
		devfn = fz_u8(in);
		where = fz_u16(in);
		size = fz_u8(in) % 9;
		if (op == FZ_CFG_READ)
			(void)pci_cfg_read(fz.f, domain, bus, devfn, where, size);
		else
			pci_cfg_write(fz.f, domain, bus, devfn, where, size, fz_u32(in));
		break;
	case FZ_DEV_CFG_READ:
	case FZ_DEV_CFG_WRITE:
		/* Through a function, bridges included, with a signed offset. */
		ep = fz.all[fz_u8(in) % fz.nr_all];
		w = (int)(int16_t)fz_u16(in);
		size = fz_u8(in) % 3;
		v32 = fz_u32(in);
		if (op == FZ_DEV_CFG_READ && size == 0)
			(void)pci_read_config_byte(ep, w, &v8);
		else if (op == FZ_DEV_CFG_READ && size == 1)
			(void)pci_read_config_word(ep, w, &v16);
		else if (op == FZ_DEV_CFG_READ)
			(void)pci_read_config_dword(ep, w, &v32);
		else if (size == 0)
			(void)pci_write_config_byte(ep, w, (uint8_t)v32);
		else if (size == 1)
			(void)pci_write_config_word(ep, w, (uint16_t)v32);
		else
			(void)pci_write_config_dword(ep, w, v32);
		break;
	case FZ_MMIO_READ:
	case FZ_MMIO_WRITE:
		bar = fz_u8(in) % (PCI_STD_NUM_BARS_HM + 2);
		addr = fz_u8(in) & 1 ? fz_u64(in) : fz_u32(in) % ((1u << 20) + 64);
		size = fz_u8(in) % 10;
		if (op == FZ_MMIO_READ)
			(void)pci_mmio_read(ep, bar, addr, size);
		else
			pci_mmio_write(ep, bar, addr, size, fz_u64(in));
		break;
	case FZ_DMA_READ:
	case FZ_DMA_WRITE:
		addr = fz_dma_addr(in);
		len = fz_u16(in) % (FZ_DMA_MAX + 1);
		if (op == FZ_DMA_READ)
			(void)pci_dma_read(ep, addr, fz_buf, len);
		else
			(void)pci_dma_write(ep, addr, fz_buf, len);
		break;
	case FZ_MASTER:
		if (fz_u8(in) & 1)
			pci_set_master(ep);
		else
			pci_clear_master(ep);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { .p = data, .left = size };

	if (!fz.f) {
		fz_quiet();
		fz_build();
	}
	while (in.left)
		fz_one(&in);
	if (++fz.runs == FZ_REBUILD)
		fz_teardown();
	return 0;
}
