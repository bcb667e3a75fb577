/* SPDX-License-Identifier: MIT */
/*
 * The emulated GPU: a PCI function (class 030200) on the fabric with VRAM,
 * a BAR window onto part of it, an MMU per address space, a copy engine, a
 * compute engine running built-in kernels, a fault buffer and access
 * counters. It is driven only the way hardware is: BAR0 register writes,
 * command rings and DMA by bus address through the fabric. Interrupts are
 * eventfds a driver polls or blocks on. The programming interface is
 * <hetmem/gpu-regs.h>.
 */
#ifndef HETMEM_GPU_EMU_H
#define HETMEM_GPU_EMU_H

#include <stdint.h>

struct pci_dev;
struct gpu_emu;

#define GPU_EMU_DEF_VRAM (1ULL << 30) /* 1 GiB */
#define GPU_EMU_DEF_BAR2 (256ULL << 20) /* 256 MiB */

/**
 * struct gpu_emu_params - a GPU
 * @name: the function's name in the fabric
 * @vendor: PCI vendor ID (0: GPU_VENDOR_ID)
 * @device: PCI device ID (0: GPU_DEVICE_ID)
 * @class: class code (0: GPU_CLASS)
 * @vram_size: bytes of VRAM, a multiple of GPU_PAGE_SIZE (0: GPU_EMU_DEF_VRAM)
 * @bar2_size: bytes of VRAM BAR2 shows, a power of two of at least 1 MiB,
 *	       at most @vram_size (0: GPU_EMU_DEF_BAR2, or the largest power
 *	       of two within @vram_size when that is smaller)
 */
struct gpu_emu_params {
	const char *name;
	uint16_t vendor;
	uint16_t device;
	uint32_t class;
	uint64_t vram_size;
	uint64_t bar2_size;
};

/**
 * gpu_emu_create - add a GPU below a port of an unenumerated fabric
 * @port: a root port or switch downstream port
 * @function: function number
 * @params: the GPU
 *
 * VRAM is a memfd of @params->vram_size bytes (sparse until written).
 *
 * Return: the GPU, or ERR_PTR(-EINVAL) for bad sizes, ERR_PTR of
 * pci_endpoint_add()'s errors, ERR_PTR(-errno) from creating or mapping
 * the memfd, ERR_PTR(-ENOMEM).
 */
struct gpu_emu *gpu_emu_create(struct pci_dev *port, unsigned int function,
			       const struct gpu_emu_params *params);

/**
 * gpu_emu_start - start the device thread (after enumeration)
 * @emu: the GPU
 *
 * Return: 0, -EBUSY when already started or driven in step mode
 * (the fuzzer's, where the caller runs each step), or -errno from
 * thread creation.
 */
int gpu_emu_start(struct gpu_emu *emu);

/**
 * gpu_emu_destroy - stop and free a GPU
 * @emu: the GPU, or NULL
 *
 * Commands in progress are abandoned; nothing more is written to memory.
 */
void gpu_emu_destroy(struct gpu_emu *emu);

/**
 * gpu_emu_pdev - the GPU's PCI function
 * @emu: the GPU
 *
 * Return: the function.
 */
struct pci_dev *gpu_emu_pdev(struct gpu_emu *emu);

/**
 * gpu_emu_from_pdev - the GPU behind a function
 * @pdev: a function
 *
 * Return: the GPU, or NULL when @pdev is not an emulated GPU.
 */
struct gpu_emu *gpu_emu_from_pdev(struct pci_dev *pdev);

/**
 * gpu_emu_irq_fd - the eventfd interrupt vector @vector signals
 * @emu: the GPU
 * @vector: GPU_IRQ_CMD or GPU_IRQ_FAULT
 *
 * The device adds 1 for each event on the vector while its bit in
 * GPU_REG_IRQ_MASK is clear; events while masked are signalled once when
 * the bit is cleared.
 *
 * Return: the file descriptor, or -EINVAL for a vector out of range.
 */
int gpu_emu_irq_fd(struct gpu_emu *emu, unsigned int vector);

#endif /* HETMEM_GPU_EMU_H */
