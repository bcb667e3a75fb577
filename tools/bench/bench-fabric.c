// SPDX-License-Identifier: MIT
/*
 * Benchmark module "fabric": the floor under every emulated device's
 * throughput. A device model moves data with pci_dma_write() and
 * pci_dma_read(); each call routes the request through the fabric (and
 * the IOMMU on the way to host memory), counts it on every link, and
 * copies. Nothing a controller does per I/O can be faster than this, and
 * this cannot be faster than memcpy.
 *
 * From the machine's NVMe function (nvme0 on the default machine):
 *
 *  - into and out of p2pmem of a BUS_ADDR provider (gpu0, switch-local),
 *    addressed by the bus address dma_map_single() returns;
 *  - into and out of host memory, addressed by the IOVA dma_map_single()
 *    returns, so every request is translated by the emulated IOMMU;
 *
 * against single-thread memcpy of the same size (the reference), for
 * transfers of 4 KiB to 1 MiB. The same buffers are reused, as the NVMe
 * benchmarks reuse theirs, so caches favour both sides alike.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hetmem/dma-mapping.h>
#include <hetmem/pci-p2pdma.h>
#include <hetmem/pci.h>

#include "harness.h"

static const size_t sizes[] = { 4 << 10, 16 << 10, 64 << 10, 128 << 10, 256 << 10, 1 << 20 };
#define NR_SIZES (sizeof(sizes) / sizeof(sizes[0]))
#define MAX_SIZE (1 << 20)

struct dma_arg {
	struct pci_dev *dev;
	dma_addr_t addr;
	void *data; /* the device's side of the transfer */
	size_t len;
	bool write;
};

static double dma_run(void *arg, uint64_t n)
{
	struct dma_arg *a = arg;
	double t0 = bench_now();

	for (uint64_t i = 0; i < n; i++) {
		int ret = a->write ? pci_dma_write(a->dev, a->addr, a->data, a->len) :
				     pci_dma_read(a->dev, a->addr, a->data, a->len);

		if (ret)
			return ret;
	}
	return bench_now() - t0;
}

/* A destination of the DMA: where it is, and how the chart and table name it. */
struct target {
	const char *id;
	const char *name;
	void *buf;
	dma_addr_t addr;
};

/* Rows at the sizes the NVMe targets talk about; the chart has every size. */
static bool row_size(size_t len, bool write)
{
	return len == (128 << 10) || (write && (len == (4 << 10) || len == (1 << 20)));
}

static int measure(struct bench *b, struct pci_dev *init, const struct target *t, void *data,
		   size_t len, bool write)
{
	struct dma_arg a = { init, t->addr, data, len, write };
	struct bench_stat st, ref;
	char sz[16], label[96], id[48];
	double mc;
	int ret;

	bench_format_size(sz, sizeof(sz), len);
	mc = bench_ref_memcpy(b, len, &ref);
	if (mc < 0)
		return (int)mc;
	snprintf(label, sizeof(label), "DMA %s %s %s %s", write ? "write" : "read", sz,
		 write ? "into" : "from", t->name);
	ret = bench_time(b, label, dma_run, &a, 0, &st);
	if (ret)
		return ret;
	st = bench_stat_rate(&st, (double)len, 1e9);
	snprintf(label, sizeof(label), "%s %s", write ? "write into" : "read from", t->name);
	bench_point(b, "fabric-dma", label, (double)len / 1024, st.median);
	if (!row_size(len, write))
		return 0;
	snprintf(label, sizeof(label), "DMA %s %s %s %s", write ? "write" : "read", sz,
		 write ? "into" : "from", t->name);
	snprintf(id, sizeof(id), "%s.%s.%zuk", write ? "write" : "read", t->id, len >> 10);
	bench_row_add(b, id, label, "GB/s", &st, ref.median, "GB/s", "memcpy, same size", NULL);
	return 0;
}

static int fabric_bench(struct bench *b)
{
	struct pci_dev *init = bench_nvme_function(b), *prov;
	struct target t[2] = {
		{ "p2p", "p2pmem (BUS_ADDR)", NULL, 0 },
		{ "host", "host memory (IOMMU)", NULL, 0 },
	};
	void *data = NULL;
	int ret = 0;

	if (!init) {
		bench_skip(b, "the machine has no NVMe function to DMA from");
		return -ENODEV;
	}
	prov = bench_p2p_provider(b, init, PCI_P2PDMA_MAP_BUS_ADDR);
	if (!prov) {
		bench_skip(b, "no published p2pmem at map type BUS_ADDR from %s",
			   pci_dev_label(init));
		return -ENODEV;
	}
	pci_set_master(init);
	t[0].buf = pci_alloc_p2pmem(prov, MAX_SIZE);
	t[1].buf = aligned_alloc(4096, MAX_SIZE);
	data = aligned_alloc(4096, MAX_SIZE);
	if (!t[0].buf || !t[1].buf || !data) {
		ret = -ENOMEM;
		goto out;
	}
	memset(t[1].buf, 0, MAX_SIZE);
	for (size_t i = 0; i < MAX_SIZE; i++)
		((unsigned char *)data)[i] = (unsigned char)(i * 7);
	for (int i = 0; i < 2; i++) {
		t[i].addr = dma_map_single(init, t[i].buf, MAX_SIZE, DMA_BIDIRECTIONAL);
		if (t[i].addr == DMA_MAPPING_ERROR) {
			ret = dma_mapping_error(init, t[i].addr);
			goto out;
		}
	}

	bench_chart(b, "fabric-dma", "Emulated DMA from nvme0: throughput vs transfer size",
		    "transfer size (KiB)", "GB/s", BENCH_CHART_LOGX);
	for (size_t s = 0; s < NR_SIZES && !ret; s++) {
		double mc = bench_ref_memcpy(b, sizes[s], NULL);

		if (mc < 0) {
			ret = (int)mc;
			break;
		}
		bench_point(b, "fabric-dma", "memcpy", (double)sizes[s] / 1024, mc);
		for (int i = 0; i < 2 && !ret; i++)
			ret = measure(b, init, &t[i], data, sizes[s], true);
		for (int i = 0; i < 2 && !ret; i++)
			ret = measure(b, init, &t[i], data, sizes[s], false);
	}
	/* The data must have arrived: the last writes of 1 MiB left it in both buffers. */
	for (int i = 0; i < 2 && !ret; i++) {
		if (memcmp(t[i].buf, data, MAX_SIZE)) {
			bench_skip(b, "the data in %s is not what was written", t[i].name);
			ret = -EIO;
		}
	}
out:
	for (int i = 0; i < 2; i++)
		if (t[i].addr && t[i].addr != DMA_MAPPING_ERROR)
			dma_unmap_single(init, t[i].addr, MAX_SIZE, DMA_BIDIRECTIONAL);
	if (t[0].buf)
		pci_free_p2pmem(prov, t[0].buf, MAX_SIZE);
	free(t[1].buf);
	free(data);
	return ret;
}

const struct bench_module bench_fabric_module = {
	.name = "fabric",
	.summary =
		"GB/s of pci_dma_write/read from nvme0 into gpu0 p2pmem and host memory vs memcpy",
	.steps = 30,
	.run = fabric_bench,
};
