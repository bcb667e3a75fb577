// SPDX-License-Identifier: MIT
/*
 * Benchmark module "dma-map": what a driver pays to map one 4 KiB buffer
 * for DMA and unmap it again, by the kind of memory behind it.
 *
 * The initiator is the machine's NVMe function (nvme0 on the default
 * machine), mapping with dma_map_single() and dma_unmap_single():
 *
 *  - system memory: the lookup says "ordinary", then an IOVA is allocated
 *    and mapped in the function's IOMMU domain, and unmapped and freed;
 *  - P2P memory of a provider whose map type is BUS_ADDR (gpu0, below the
 *    same switch): the lookup finds the page, the map type comes from the
 *    per-pair cache, the answer is the bus address; unmap does nothing;
 *  - P2P memory of a THRU_HOST_BRIDGE provider (gpu1, another root
 *    port): the lookup, then an IOVA mapped to the BAR's CPU address.
 *
 * The reference is the lookup itself on the same buffer (virt_to_page()):
 * the ratio says how many lookups' worth the rest of the mapping costs.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <hetmem/dma-mapping.h>
#include <hetmem/memremap.h>
#include <hetmem/pci-p2pdma.h>
#include <hetmem/pci.h>

#include "harness.h"

#define MAP_LEN 4096

static volatile uintptr_t sink;

struct map_arg {
	struct pci_dev *dev;
	void *buf;
};

static double map_unmap_run(void *arg, uint64_t n)
{
	struct map_arg *a = arg;
	double t0 = bench_now();

	for (uint64_t i = 0; i < n; i++) {
		dma_addr_t addr = dma_map_single(a->dev, a->buf, MAP_LEN, DMA_FROM_DEVICE);

		if (addr == DMA_MAPPING_ERROR) {
			int err = dma_mapping_error(a->dev, addr);

			return err ? err : -EIO;
		}
		dma_unmap_single(a->dev, addr, MAP_LEN, DMA_FROM_DEVICE);
	}
	return bench_now() - t0;
}

static double lookup_run(void *arg, uint64_t n)
{
	struct map_arg *a = arg;
	uintptr_t acc = 0;
	double t0 = bench_now();

	for (uint64_t i = 0; i < n; i++)
		acc += (uintptr_t)virt_to_page(a->buf);
	sink = acc;
	return bench_now() - t0;
}

static int measure(struct bench *b, const char *id, const char *what, struct pci_dev *dev,
		   void *buf)
{
	struct map_arg a = { dev, buf };
	struct bench_stat st, ref;
	char label[96];
	int ret;

	snprintf(label, sizeof(label), "map+unmap, %s", what);
	ret = bench_time(b, label, map_unmap_run, &a, 0, &st);
	if (!ret) {
		snprintf(label, sizeof(label), "lookup, %s", what);
		ret = bench_time(b, label, lookup_run, &a, 0, &ref);
	}
	if (ret)
		return ret;
	st = bench_stat_scale(&st, 1e9);
	ref = bench_stat_scale(&ref, 1e9);
	snprintf(label, sizeof(label), "map+unmap 4 KiB, %s", what);
	bench_row_add(b, id, label, "ns", &st, ref.median, "ns", "lookup of the buffer", NULL);
	return 0;
}

/* Map p2pmem of the provider at map type @type; a machine without one skips the row. */
static int measure_p2p(struct bench *b, struct pci_dev *init, enum pci_p2pdma_map_type type,
		       const char *id, const char *kind)
{
	struct pci_dev *prov = bench_p2p_provider(b, init, type);
	char what[64];
	void *buf;
	int ret;

	if (!prov) {
		bench_skip(b, "no published p2pmem at map type %s from %s: row %s left out", kind,
			   pci_dev_label(init), id);
		return 0;
	}
	buf = pci_alloc_p2pmem(prov, MAP_LEN);
	if (!buf)
		return -ENOMEM;
	snprintf(what, sizeof(what), "P2P %s (%s)", kind, pci_dev_label(prov));
	ret = measure(b, id, what, init, buf);
	pci_free_p2pmem(prov, buf, MAP_LEN);
	return ret;
}

static int dma_map_bench(struct bench *b)
{
	struct pci_dev *init = bench_nvme_function(b);
	void *sys;
	int ret;

	if (!init) {
		bench_skip(b, "the machine has no NVMe function to map for");
		return -ENODEV;
	}
	sys = aligned_alloc(MAP_LEN, MAP_LEN);
	if (!sys)
		return -ENOMEM;
	((volatile char *)sys)[0] = 1; /* present, as a driver's buffer is */
	ret = measure(b, "system", "system memory (IOMMU)", init, sys);
	free(sys);
	if (!ret)
		ret = measure_p2p(b, init, PCI_P2PDMA_MAP_BUS_ADDR, "p2p.bus_addr", "BUS_ADDR");
	if (!ret)
		ret = measure_p2p(b, init, PCI_P2PDMA_MAP_THRU_HOST_BRIDGE, "p2p.thru_host_bridge",
				  "THRU_HOST_BRIDGE");
	return ret;
}

const struct bench_module bench_dma_map_module = {
	.name = "dma-map",
	.summary = "dma_map_single+unmap of 4 KiB: system memory, P2P BUS_ADDR, THRU_HOST_BRIDGE",
	.steps = 6,
	.run = dma_map_bench,
};
