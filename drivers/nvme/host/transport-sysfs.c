// SPDX-License-Identifier: MIT
/*
 * The sysfs transport: the NVMe driver on a real PCI function (QEMU's NVMe
 * in a guest, or hardware whose kernel driver was unbound).
 *
 *  - Registers: the BAR0 mapping of resource0; 64-bit registers as two
 *    32-bit accesses, low dword first.
 *  - DMA: no IOMMU (or passthrough): the bus address of RAM is its physical
 *    address, from /proc/self/pagemap. Only a page is known to be
 *    physically contiguous, so the driver maps buffers page by page
 *    (dma_seg_max 4096). Memory in a registered peer BAR mapping (another
 *    function's BAR: the P2P target) maps to the BAR's bus address.
 *  - Coherent memory: a pool of locked memory (a 2 MiB hugepage when the
 *    system has one, contiguous for queues of any size; else 4 KiB pages,
 *    and nothing larger than a page is handed out).
 *  - Interrupts: none; the driver polls (irq_wait says -EOPNOTSUPP).
 */
#define pr_fmt(fmt) "nvme-sysfs-transport: " fmt

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <hetmem/log.h>
#include <hetmem/nvme.h>
#include <hetmem/pci-sysfs.h>

#define POOL_SIZE (2UL << 20)
#define MAX_PEERS 4

struct sysfs_transport {
	struct pci_sysfs_dev dev;
	volatile uint8_t *bar0;
	struct phys_dma_buf pool;
	size_t pool_used;
	struct {
		uintptr_t va;
		uint64_t bus;
		size_t len;
	} peer[MAX_PEERS];
	unsigned int nr_peer;
};

static uint32_t sf_read32(void *priv, uint32_t off)
{
	struct sysfs_transport *st = priv;

	return *(volatile uint32_t *)(st->bar0 + off);
}

static uint64_t sf_read64(void *priv, uint32_t off)
{
	uint64_t lo = sf_read32(priv, off);

	return lo | ((uint64_t)sf_read32(priv, off + 4) << 32);
}

static void sf_write32(void *priv, uint32_t off, uint32_t val)
{
	struct sysfs_transport *st = priv;

	/*
	 * Stores to the queues must reach memory before the doorbell. x86
	 * keeps stores in order, the MMIO write included: only the compiler
	 * must not move them (the kernel's writel() is the same there).
	 */
	__asm__ __volatile__("" ::: "memory");
	*(volatile uint32_t *)(st->bar0 + off) = val;
}

static void sf_write64(void *priv, uint32_t off, uint64_t val)
{
	sf_write32(priv, off, (uint32_t)val);
	sf_write32(priv, off + 4, (uint32_t)(val >> 32));
}

static int sf_dma_map(void *priv, void *buf, size_t len, enum dma_data_direction dir,
		      dma_addr_t *dma)
{
	struct sysfs_transport *st = priv;
	uintptr_t p = (uintptr_t)buf;
	uint64_t phys;

	for (unsigned int i = 0; i < st->nr_peer; i++)
		if (p >= st->peer[i].va && p - st->peer[i].va + len <= st->peer[i].len) {
			*dma = st->peer[i].bus + (p - st->peer[i].va);
			return 0;
		}
	/*
	 * The page must be present and stay put while the controller uses
	 * it: lock it, which also faults it in writable (breaking a shared
	 * zero page), before asking pagemap where it is. One page at most, or
	 * one huge page of the pool.
	 */
	if (mlock((void *)(p & ~4095UL), ((p & 4095) + len + 4095) & ~4095UL))
		return -errno;
	phys = virt_to_phys_self(buf);
	if (!phys)
		return -EFAULT;
	if ((p & 4095) + len > 4096 && !(st->pool.hugepage && p >= (uintptr_t)st->pool.va &&
					 p + len <= (uintptr_t)st->pool.va + st->pool.len))
		return -EINVAL;
	*dma = phys;
	return 0;
}

static void sf_dma_unmap(void *priv, dma_addr_t dma, size_t len, enum dma_data_direction dir)
{
}

static void *sf_alloc_coherent(void *priv, size_t len, dma_addr_t *dma)
{
	struct sysfs_transport *st = priv;
	size_t at = (st->pool_used + 4095) & ~4095UL;
	void *p;

	len = (len + 4095) & ~4095UL;
	if (at + len > st->pool.len || (!st->pool.hugepage && len > 4096)) {
		pr_err("coherent pool exhausted (%zu of %zu bytes used%s)", st->pool_used,
		       st->pool.len, st->pool.hugepage ? "" : ", 4 KiB pages only");
		return NULL;
	}
	p = (uint8_t *)st->pool.va + at;
	memset(p, 0, len);
	*dma = virt_to_phys_self(p);
	st->pool_used = at + len;
	return p;
}

static void sf_free_coherent(void *priv, void *cpu, size_t len, dma_addr_t dma)
{
	/* A bump pool: freed with the transport. */
}

static int sf_irq_wait(void *priv, unsigned int vector, int timeout_ms)
{
	return -EOPNOTSUPP;
}

static void *sf_bar_map(void *priv, int bar, uint64_t *len)
{
	struct sysfs_transport *st = priv;
	void *p = pci_sysfs_map_bar(&st->dev, bar);

	if (p && len)
		*len = st->dev.bar_len[bar];
	return p;
}

static uint64_t sf_bar_bus_address(void *priv, int bar)
{
	struct sysfs_transport *st = priv;

	return bar >= 0 && bar < 6 ? st->dev.bar_start[bar] : 0;
}

static const struct nvme_transport_ops sysfs_ops = {
	.reg_read32 = sf_read32,
	.reg_read64 = sf_read64,
	.reg_write32 = sf_write32,
	.reg_write64 = sf_write64,
	.dma_map = sf_dma_map,
	.dma_unmap = sf_dma_unmap,
	.alloc_coherent = sf_alloc_coherent,
	.free_coherent = sf_free_coherent,
	.irq_wait = sf_irq_wait,
	.bar_map = sf_bar_map,
	.bar_bus_address = sf_bar_bus_address,
};

int nvme_transport_sysfs_init(struct nvme_transport *t, const char *root, const char *bdf)
{
	struct sysfs_transport *st = calloc(1, sizeof(*st));
	int ret;

	if (!st)
		return -ENOMEM;
	ret = pci_sysfs_open(root, bdf, &st->dev);
	if (ret)
		goto fail;
	ret = pci_sysfs_enable(&st->dev);
	if (ret)
		goto fail_close;
	st->bar0 = pci_sysfs_map_bar(&st->dev, 0);
	if (!st->bar0) {
		ret = -errno;
		goto fail_close;
	}
	ret = phys_dma_alloc(&st->pool, POOL_SIZE, true);
	if (ret)
		goto fail_close;
	t->ops = &sysfs_ops;
	t->priv = st;
	t->dma_seg_max = 4096;
	return 0;
fail_close:
	pci_sysfs_close(&st->dev);
fail:
	free(st);
	return ret;
}

int nvme_transport_sysfs_add_peer(struct nvme_transport *t, void *va, uint64_t bus, size_t len)
{
	struct sysfs_transport *st = t->priv;

	if (st->nr_peer == MAX_PEERS)
		return -ENOSPC;
	st->peer[st->nr_peer].va = (uintptr_t)va;
	st->peer[st->nr_peer].bus = bus;
	st->peer[st->nr_peer].len = len;
	st->nr_peer++;
	return 0;
}

void nvme_transport_sysfs_fini(struct nvme_transport *t)
{
	struct sysfs_transport *st = t->priv;

	if (!st)
		return;
	phys_dma_free(&st->pool);
	pci_sysfs_close(&st->dev);
	free(st);
	t->priv = NULL;
}
