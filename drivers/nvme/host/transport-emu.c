// SPDX-License-Identifier: MIT
/*
 * The emulated transport: the NVMe driver's view of a controller model on
 * the fabric, reached only the way a CPU reaches PCI hardware.
 *
 *  - Registers: pci_mmio_read()/pci_mmio_write() on BAR0, counted on every
 *    link on the way. A 64-bit register is two 32-bit accesses, low dword
 *    first: PCIe does not promise that an 8-byte CPU access stays one TLP,
 *    and controllers accept a 64-bit register as two dword accesses.
 *  - DMA: the DMA layer, so process memory becomes an IOVA and P2P memory a
 *    bus address or IOVA by its map type; -EREMOTEIO when unreachable.
 *  - Coherent memory: page-aligned process memory, zeroed, mapped once for
 *    both directions (there is no cache to manage in-process).
 *  - Interrupts: the controller's per-vector eventfds.
 */
#define pr_fmt(fmt) "nvme-emu-transport: " fmt

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hetmem/dma-mapping.h>
#include <hetmem/log.h>
#include <hetmem/nvme-emu.h>
#include <hetmem/nvme.h>
#include <hetmem/pci.h>

struct emu_transport {
	struct pci_dev *pdev;
	struct nvme_emu *emu;
};

static uint32_t emu_read32(void *priv, uint32_t off)
{
	struct emu_transport *et = priv;

	return (uint32_t)pci_mmio_read(et->pdev, 0, off, 4);
}

static uint64_t emu_read64(void *priv, uint32_t off)
{
	uint64_t lo = emu_read32(priv, off);

	return lo | ((uint64_t)emu_read32(priv, off + 4) << 32);
}

/*
 * The writel() ordering the driver relies on: the MMIO is a call into the
 * fabric, which takes its lock, and the controller model publishes a
 * doorbell with a release store that its thread reads with an acquire
 * load; every memory write the driver made before the call is visible to
 * the controller once it sees the doorbell.
 */
static void emu_write32(void *priv, uint32_t off, uint32_t val)
{
	struct emu_transport *et = priv;

	pci_mmio_write(et->pdev, 0, off, 4, val);
}

static void emu_write64(void *priv, uint32_t off, uint64_t val)
{
	emu_write32(priv, off, (uint32_t)val);
	emu_write32(priv, off + 4, (uint32_t)(val >> 32));
}

static int emu_dma_map(void *priv, void *buf, size_t len, enum dma_data_direction dir,
		       dma_addr_t *dma)
{
	struct emu_transport *et = priv;
	dma_addr_t addr = dma_map_single(et->pdev, buf, len, dir);
	int ret = dma_mapping_error(et->pdev, addr);

	if (ret)
		return ret;
	*dma = addr;
	return 0;
}

static void emu_dma_unmap(void *priv, dma_addr_t dma, size_t len, enum dma_data_direction dir)
{
	struct emu_transport *et = priv;

	dma_unmap_single(et->pdev, dma, len, dir);
}

static size_t page_round(size_t len)
{
	return (len + 4095) & ~(size_t)4095;
}

static void *emu_alloc_coherent(void *priv, size_t len, dma_addr_t *dma)
{
	size_t size = page_round(len);
	void *cpu = aligned_alloc(4096, size);

	if (!cpu)
		return NULL;
	memset(cpu, 0, size);
	if (emu_dma_map(priv, cpu, size, DMA_BIDIRECTIONAL, dma)) {
		free(cpu);
		return NULL;
	}
	return cpu;
}

static void emu_free_coherent(void *priv, void *cpu, size_t len, dma_addr_t dma)
{
	if (!cpu)
		return;
	emu_dma_unmap(priv, dma, page_round(len), DMA_BIDIRECTIONAL);
	free(cpu);
}

/*
 * An eventfd counts interrupts: poll() says one or more arrived, read()
 * takes them all. Taking them all is right: the driver looks at the whole
 * CQ after every wake-up, so one wake-up covers every completion that
 * signalled before it.
 */
static int emu_irq_wait(void *priv, unsigned int vector, int timeout_ms)
{
	struct emu_transport *et = priv;
	int fd = nvme_emu_irq_fd(et->emu, vector);
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint64_t count;
	int ret;

	if (fd < 0)
		return fd;
	ret = poll(&pfd, 1, timeout_ms);
	if (ret < 0)
		return errno == EINTR ? 0 : -errno;
	if (ret == 0)
		return 0;
	if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return -errno;
	return 1;
}

static struct pci_dev *emu_pdev(void *priv)
{
	struct emu_transport *et = priv;

	return et->pdev;
}

static void *emu_bar_map(void *priv, int bar, uint64_t *len)
{
	struct emu_transport *et = priv;
	void *cpu = pci_iomap(et->pdev, bar);

	*len = cpu ? pci_resource_len(et->pdev, bar) : 0;
	return cpu;
}

static uint64_t emu_bar_bus_address(void *priv, int bar)
{
	struct emu_transport *et = priv;

	return pci_bus_address(et->pdev, bar);
}

static const struct nvme_transport_ops emu_ops = {
	.reg_read32 = emu_read32,
	.reg_read64 = emu_read64,
	.reg_write32 = emu_write32,
	.reg_write64 = emu_write64,
	.dma_map = emu_dma_map,
	.dma_unmap = emu_dma_unmap,
	.alloc_coherent = emu_alloc_coherent,
	.free_coherent = emu_free_coherent,
	.irq_wait = emu_irq_wait,
	.pdev = emu_pdev,
	.bar_map = emu_bar_map,
	.bar_bus_address = emu_bar_bus_address,
};

int nvme_transport_emu_init(struct nvme_transport *t, struct pci_dev *pdev)
{
	struct nvme_emu *emu = pdev ? nvme_emu_from_pdev(pdev) : NULL;
	struct emu_transport *et;

	if (!emu) {
		pr_err("%s is not an emulated NVMe controller", pdev ? pci_name(pdev) : "(null)");
		return -EINVAL;
	}
	et = calloc(1, sizeof(*et));
	if (!et)
		return -ENOMEM;
	et->pdev = pdev;
	et->emu = emu;
	/* The controller is a bus master from here on; firmware may have left it off. */
	pci_set_master(pdev);
	t->ops = &emu_ops;
	t->priv = et;
	/* Behind the emulated IOMMU any buffer maps to one contiguous IOVA range. */
	t->dma_seg_max = 0;
	return 0;
}

void nvme_transport_emu_fini(struct nvme_transport *t)
{
	if (!t || !t->priv)
		return;
	free(t->priv);
	t->priv = NULL;
	t->ops = NULL;
}
