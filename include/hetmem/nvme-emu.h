/* SPDX-License-Identifier: MIT */
/*
 * The emulated NVMe controller: an NVMe 1.4 PCI function (class 010802) on
 * the fabric. It is driven only the way hardware is: BAR0 register and
 * doorbell writes, and DMA by bus address through the fabric. Completions
 * raise an interrupt analogue: per-vector eventfds a driver polls or
 * blocks on.
 */
#ifndef HETMEM_NVME_EMU_H
#define HETMEM_NVME_EMU_H

#include <stdbool.h>
#include <stdint.h>

struct pci_dev;
struct nvme_emu;

#define NVME_EMU_MAX_NS 16
#define NVME_EMU_MAX_VECTORS 64

/**
 * struct nvme_emu_ns_params - one namespace
 * @path: backing file (created sparse when missing, sized to @size), or
 *	  NULL for RAM
 * @size: bytes, a multiple of the LBA size
 * @lba_shift: 9 (512) or 12 (4096)
 */
struct nvme_emu_ns_params {
	const char *path;
	uint64_t size;
	unsigned int lba_shift;
};

/**
 * struct nvme_emu_params - a controller
 * @name: the function's name in the fabric
 * @vendor: PCI vendor ID (0: hetmem's 0x4854)
 * @device: PCI device ID (0: 0x0001)
 * @serial: serial number (Identify SN)
 * @model: model number (Identify MN)
 * @mqes: maximum queue entries supported, 0-based as in CAP.MQES (0: 1023)
 * @max_io_queues: I/O queue pairs offered (0: 8)
 * @cmb_size: controller memory buffer size in bytes, 0 for none; a
 *	      power of two of at least 1 MiB, in its own 64-bit
 *	      prefetchable BAR (BAR2)
 * @nr_ns: namespaces
 * @ns: their parameters, NSIDs 1..@nr_ns
 */
struct nvme_emu_params {
	const char *name;
	uint16_t vendor;
	uint16_t device;
	const char *serial;
	const char *model;
	uint16_t mqes;
	unsigned int max_io_queues;
	uint64_t cmb_size;
	unsigned int nr_ns;
	struct nvme_emu_ns_params ns[NVME_EMU_MAX_NS];
};

/**
 * nvme_emu_create - add a controller below a port of an unenumerated fabric
 * @port: a root port or switch downstream port
 * @function: function number
 * @params: the controller
 *
 * Return: the controller, or ERR_PTR(-EINVAL) for bad parameters (sizes,
 * LBA shift, CMB size), ERR_PTR of pci_endpoint_add()'s errors, the
 * errno of opening or sizing a backing file, ERR_PTR(-ENOMEM).
 */
struct nvme_emu *nvme_emu_create(struct pci_dev *port, unsigned int function,
				 const struct nvme_emu_params *params);

/**
 * nvme_emu_start - start the controller's threads (after enumeration)
 * @emu: the controller
 *
 * Return: 0, or -errno from thread creation.
 */
int nvme_emu_start(struct nvme_emu *emu);

/**
 * nvme_emu_destroy - stop and free a controller
 * @emu: the controller, or NULL
 *
 * Data acknowledged by Flush, or written before a clean shutdown (CC.SHN),
 * is in the backing files; anything else in the volatile write cache is
 * lost, as on power loss.
 */
void nvme_emu_destroy(struct nvme_emu *emu);

/**
 * nvme_emu_pdev - the controller's PCI function
 * @emu: the controller
 *
 * Return: the function.
 */
struct pci_dev *nvme_emu_pdev(struct nvme_emu *emu);

/**
 * nvme_emu_from_pdev - the controller behind a function
 * @pdev: a function
 *
 * Return: the controller, or NULL when @pdev is not an emulated NVMe
 * controller.
 */
struct nvme_emu *nvme_emu_from_pdev(struct pci_dev *pdev);

/**
 * nvme_emu_irq_fd - the eventfd that interrupt vector @vector signals
 * @emu: the controller
 * @vector: MSI-X vector, as given in Create I/O CQ (0 for the admin CQ)
 *
 * The controller adds 1 each time it posts a completion to a CQ with
 * interrupts enabled on that vector (subject to INTMS/INTMC).
 *
 * Return: the file descriptor, or -EINVAL for a vector out of range.
 */
int nvme_emu_irq_fd(struct nvme_emu *emu, unsigned int vector);

#endif /* HETMEM_NVME_EMU_H */
