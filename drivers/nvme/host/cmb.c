// SPDX-License-Identifier: MIT
/*
 * The controller memory buffer (NVMe 1.4: CMBLOC sec. 3.1.11, CMBSZ sec. 3.1.12,
 * CMBMSC and CMBSTS, added by 1.4).
 *
 * Two generations of the interface:
 *
 *  - NVMe 1.4 (CAP.CMBS=1): CMBLOC and CMBSZ read zero until the host sets
 *    CMBMSC.CRE. The host then tells the controller where the CMB lives on
 *    the bus (CMBMSC.CBA) and enables its memory space (CMSE). CMBMSC is 64
 *    bits written as two dwords: the high one first, because writing the
 *    low dword is what latches CBA (the controller then checks it and sets
 *    CMBSTS.CBAI when the address is unusable).
 *  - Before 1.4 (CAP.CMBS=0): CMBLOC/CMBSZ are readable at once and the
 *    controller decodes its BAR itself; there is nothing to program.
 *
 * CMBLOC.BIR names the BAR, CMBLOC.OFST the offset in it, and CMBSZ the
 * size, both in units of CMBSZ.SZU (4 KiB << 4 * SZU).
 *
 * As the kernel's nvme driver does, the CMB becomes P2PDMA memory of the
 * function (pci_p2pdma_add_resource()), and is published for other drivers
 * (pci_p2pmem_publish()) only when the controller accepts both read and
 * write data in it (RDS and WDS): a peer's buffer may be the source of a
 * write or the target of a read. Submission queues placed in the CMB are
 * allocated from the same pool.
 */
#define pr_fmt(fmt) "nvme: " fmt

#include <errno.h>
#include <string.h>

#include <hetmem/log.h>
#include <hetmem/pci-p2pdma.h>
#include <hetmem/pci.h>
#include "host.h"

/* Program CMBMSC: high dword, then the low one that latches CBA. */
static void write_cmbmsc(struct nvme_ctrl *ctrl, uint64_t val)
{
	nvme_writel(ctrl, NVME_REG_CMBMSC + 4, (uint32_t)(val >> 32));
	nvme_writel(ctrl, NVME_REG_CMBMSC, (uint32_t)val);
}

static inline struct pci_dev *ctrl_pdev(struct nvme_ctrl *ctrl)
{
	return ctrl->t->ops->pdev ? ctrl->t->ops->pdev(ctrl->t->priv) : NULL;
}

static void register_p2p(struct nvme_ctrl *ctrl)
{
#ifdef CONFIG_PCI_P2PDMA
	struct nvme_cmb_info *cmb = &ctrl->cmb;
	struct pci_dev *pdev = ctrl_pdev(ctrl);
	int ret;

	if (!pdev) {
		/*
		 * A real function (the sysfs transport) has no page map to
		 * allocate from: SQs come from the front of the CMB instead
		 * (nvme_cmb_alloc_sq()).
		 */
		cmb->sqs = ctrl->opts.sq_in_cmb && (cmb->cmbsz & NVME_CMBSZ_SQS);
		return;
	}
	ret = pci_p2pdma_add_resource(pdev, cmb->bar, cmb->size, cmb->offset);
	if (ret) {
		pr_warn("%s: cannot register the CMB as P2P memory: %d", pci_name(pdev), ret);
		return;
	}
	cmb->p2p = true;
	if ((cmb->cmbsz & (NVME_CMBSZ_RDS | NVME_CMBSZ_WDS)) == (NVME_CMBSZ_RDS | NVME_CMBSZ_WDS)) {
		pci_p2pmem_publish(pdev, true);
		cmb->published = true;
	}
	cmb->sqs = ctrl->opts.sq_in_cmb && (cmb->cmbsz & NVME_CMBSZ_SQS);
#endif
}

/**
 * nvme_cmb_setup - find, enable and register the controller memory buffer
 * @ctrl: the controller, disabled (before the admin queue is programmed)
 *
 * A CMB the driver cannot use is left alone and logged; it is never fatal.
 */
void nvme_cmb_setup(struct nvme_ctrl *ctrl)
{
	const struct nvme_transport_ops *ops = ctrl->t->ops;
	struct nvme_cmb_info *cmb = &ctrl->cmb;
	uint32_t cmbsz, cmbloc;
	uint64_t unit, bar_len = 0, bus;
	void *cpu;

	memset(cmb, 0, sizeof(*cmb));
	ctrl->cmb_sq_used = 0;
	if (!ops->bar_map || !ops->bar_bus_address)
		return;
	/* 1.4: the registers read zero until CRE is set. */
	if (NVME_CAP_CMBS(ctrl->cap))
		write_cmbmsc(ctrl, NVME_CMBMSC_CRE);
	cmbsz = nvme_readl(ctrl, NVME_REG_CMBSZ);
	cmbloc = nvme_readl(ctrl, NVME_REG_CMBLOC);
	if (!cmbsz || cmbsz == ~0U || NVME_CMBSZ_SZU(cmbsz) > 6)
		goto none;
	unit = 4096ULL << (4 * NVME_CMBSZ_SZU(cmbsz));
	cmb->cmbsz = cmbsz;
	cmb->bar = (int)NVME_CMBLOC_BIR(cmbloc);
	cmb->offset = NVME_CMBLOC_OFST(cmbloc) * unit;
	cmb->size = NVME_CMBSZ_SZ(cmbsz) * unit;
	cpu = ops->bar_map(ctrl->t->priv, cmb->bar, &bar_len);
	if (!cpu || cmb->offset >= bar_len) {
		pr_warn("CMB in BAR%d at 0x%llx is not CPU-mappable: not using it", cmb->bar,
			(unsigned long long)cmb->offset);
		goto none;
	}
	if (cmb->size > bar_len - cmb->offset)
		cmb->size = bar_len - cmb->offset;
	bus = ops->bar_bus_address(ctrl->t->priv, cmb->bar);
	if (!bus)
		goto none;
	cmb->bus_addr = bus + cmb->offset;
	if (NVME_CAP_CMBS(ctrl->cap)) {
		ctrl->cmbmsc =
			(cmb->bus_addr & NVME_CMBMSC_CBA_MASK) | NVME_CMBMSC_CRE | NVME_CMBMSC_CMSE;
		write_cmbmsc(ctrl, ctrl->cmbmsc);
		if (nvme_readl(ctrl, NVME_REG_CMBSTS) & NVME_CMBSTS_CBAI) {
			pr_warn("controller refuses CMB address 0x%llx (CMBSTS.CBAI): not using it",
				(unsigned long long)cmb->bus_addr);
			goto none;
		}
	}
	ctrl->cmb_cpu = (char *)cpu + cmb->offset;
	register_p2p(ctrl);
	pr_info("CMB: %llu KiB in BAR%d at bus 0x%llx%s%s%s", (unsigned long long)(cmb->size >> 10),
		cmb->bar, (unsigned long long)cmb->bus_addr, cmb->p2p ? ", P2P" : "",
		cmb->published ? ", published" : "", cmb->sqs ? ", SQs" : "");
	return;
none:
	if (NVME_CAP_CMBS(ctrl->cap))
		write_cmbmsc(ctrl, 0);
	ctrl->cmbmsc = 0;
	memset(cmb, 0, sizeof(*cmb));
}

/**
 * nvme_cmb_restore - program CMBMSC again after a controller reset
 * @ctrl: the controller, disabled
 *
 * Writing the same value again is harmless where the register survived the
 * reset, and needed where it did not.
 */
void nvme_cmb_restore(struct nvme_ctrl *ctrl)
{
	if (ctrl->cmbmsc)
		write_cmbmsc(ctrl, ctrl->cmbmsc);
}

/**
 * nvme_cmb_release - take the CMB out of P2PDMA and disable it
 * @ctrl: the controller, shut down or never enabled
 *
 * Waits for p2pmem allocated from the CMB to be freed, as device removal
 * does.
 */
void nvme_cmb_release(struct nvme_ctrl *ctrl)
{
#ifdef CONFIG_PCI_P2PDMA
	struct pci_dev *pdev = ctrl_pdev(ctrl);

	if (ctrl->cmb.p2p && pdev)
		pci_p2pdma_release(pdev);
#endif
	if (ctrl->cmbmsc)
		write_cmbmsc(ctrl, 0);
	ctrl->cmbmsc = 0;
	memset(&ctrl->cmb, 0, sizeof(ctrl->cmb));
}

/**
 * nvme_cmb_alloc_sq - CMB memory for a submission queue
 * @ctrl: the controller
 * @len: bytes
 * @dma: its bus address (the controller's own CMB, as it must see it)
 *
 * Return: the CPU address, or NULL when the CMB cannot hold it.
 */
void *nvme_cmb_alloc_sq(struct nvme_ctrl *ctrl, size_t len, dma_addr_t *dma)
{
	struct pci_dev *pdev = ctrl_pdev(ctrl);

	if (!ctrl->cmb.sqs)
		return NULL;
	if (!pdev) {
		/*
		 * Without a pool, a bump allocator over the CMB: queues are
		 * made at probe and live until remove, so nothing is reused.
		 */
		uint64_t at = (ctrl->cmb_sq_used + 4095) & ~4095ULL;
		char *sq;

		len = (len + 4095) & ~4095UL;
		if (at + len > ctrl->cmb.size)
			return NULL;
		sq = (char *)ctrl->cmb_cpu + at;
		*dma = ctrl->cmb.bus_addr + at;
		ctrl->cmb_sq_used = at + len;
		memset(sq, 0, len);
		return sq;
	}
#ifdef CONFIG_PCI_P2PDMA
	void *sq;

	sq = pci_alloc_p2pmem(pdev, len);
	if (!sq)
		return NULL;
	*dma = pci_p2pmem_virt_to_bus(pdev, sq);
	memset(sq, 0, len);
	return sq;
#else
	return NULL;
#endif
}

/**
 * nvme_cmb_free_sq - free what nvme_cmb_alloc_sq() gave
 * @ctrl: the controller
 * @sq: the CPU address
 * @len: bytes
 */
void nvme_cmb_free_sq(struct nvme_ctrl *ctrl, void *sq, size_t len)
{
#ifdef CONFIG_PCI_P2PDMA
	struct pci_dev *pdev = ctrl_pdev(ctrl);

	if (pdev)
		pci_free_p2pmem(pdev, sq, len);
#endif
	/* Bump-allocated SQs (no pdev) go back with the controller. */
}
