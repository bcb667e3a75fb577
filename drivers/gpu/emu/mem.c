// SPDX-License-Identifier: MIT
/*
 * Moving bytes in an aperture: VRAM is the device's own memory, read and
 * written in place; anything else is a bus address, reached by DMA through
 * the fabric (pci_dma_read()/pci_dma_write()), so the IOMMU checks it and
 * the links count it. Copies between VRAM and a bus address are one DMA
 * straight from or into VRAM, a memcpy when the other side is plain
 * memory; between two bus addresses they go through a bounce buffer.
 *
 * Atomics are fetch-and-adds at the memory, as PCIe AtomicOps: in VRAM,
 * in host memory the IOMMU maps for the device, and in a peer's memory
 * BAR, they are atomic against the CPU too. Where nothing vouches for the
 * address (a passthrough host bridge) or the target is a register BAR,
 * the device reads and writes back: atomic only against its own engines.
 * Atomics are checked by the fabric's routing but not counted on links.
 *
 * Callers have checked VRAM ranges: translations only produce VRAM
 * addresses a PTE check accepted, and physical operands are checked before
 * a command runs.
 */
#define pr_fmt(fmt) "gpu-emu: " fmt

#include <string.h>

#include <hetmem/log.h>
#include "emu.h"

bool gpu_emu_vram_range_ok(const struct gpu_emu *emu, uint64_t off, uint64_t len)
{
	return off <= emu->vram_size && len <= emu->vram_size - off;
}

uint8_t *gpu_emu_vram_ptr(struct gpu_emu *emu, const struct gpu_emu_xlate *x)
{
	return x->ap == GPU_APERTURE_VRAM ? emu->vram + x->addr : NULL;
}

int gpu_emu_dma_read(struct gpu_emu *emu, uint64_t addr, void *buf, uint64_t len)
{
	return pci_dma_read(emu->pdev, addr, buf, len);
}

int gpu_emu_dma_write(struct gpu_emu *emu, uint64_t addr, const void *buf, uint64_t len)
{
	return pci_dma_write(emu->pdev, addr, buf, len);
}

uint16_t gpu_emu_mem_read(struct gpu_emu *emu, const struct gpu_emu_xlate *x, void *buf,
			  uint64_t len)
{
	if (x->ap == GPU_APERTURE_VRAM) {
		memcpy(buf, emu->vram + x->addr, len);
		return GPU_SC_SUCCESS;
	}
	return gpu_emu_dma_read(emu, x->addr, buf, len) ? GPU_SC_DMA_ERROR : GPU_SC_SUCCESS;
}

uint16_t gpu_emu_mem_write(struct gpu_emu *emu, const struct gpu_emu_xlate *x, const void *buf,
			   uint64_t len)
{
	if (x->ap == GPU_APERTURE_VRAM) {
		memcpy(emu->vram + x->addr, buf, len);
		return GPU_SC_SUCCESS;
	}
	return gpu_emu_dma_write(emu, x->addr, buf, len) ? GPU_SC_DMA_ERROR : GPU_SC_SUCCESS;
}

uint16_t gpu_emu_mem_copy(struct gpu_emu *emu, struct gpu_emu_channel *ch,
			  const struct gpu_emu_xlate *dst, const struct gpu_emu_xlate *src,
			  uint64_t len)
{
	uint64_t done = 0;

	if (src->ap == GPU_APERTURE_VRAM && dst->ap == GPU_APERTURE_VRAM) {
		memmove(emu->vram + dst->addr, emu->vram + src->addr, len);
		return GPU_SC_SUCCESS;
	}
	if (src->ap == GPU_APERTURE_VRAM)
		return gpu_emu_mem_write(emu, dst, emu->vram + src->addr, len);
	if (dst->ap == GPU_APERTURE_VRAM)
		return gpu_emu_mem_read(emu, src, emu->vram + dst->addr, len);
	while (done < len) {
		uint64_t n = gpu_emu_min(len - done, GPU_EMU_CHUNK);

		if (gpu_emu_dma_read(emu, src->addr + done, ch->bounce, n) ||
		    gpu_emu_dma_write(emu, dst->addr + done, ch->bounce, n))
			return GPU_SC_DMA_ERROR;
		done += n;
	}
	return GPU_SC_SUCCESS;
}

/* Read, add, write back: atomic only against this device's own engines. */
static uint16_t add_by_dma(struct gpu_emu *emu, uint64_t addr, uint64_t addend)
{
	uint64_t v;

	if (gpu_emu_dma_read(emu, addr, &v, sizeof(v)))
		return GPU_SC_DMA_ERROR;
	v += addend;
	return gpu_emu_dma_write(emu, addr, &v, sizeof(v)) ? GPU_SC_DMA_ERROR : GPU_SC_SUCCESS;
}

/* Where the CPU can add atomically at the end of route @r, or NULL. */
static uint64_t *atomic_ptr(const struct pci_route *r)
{
	uint8_t *bar;

	if (r->kind == PCI_ROUTE_HOST_MEMORY && !r->untranslated)
		return (uint64_t *)(uintptr_t)r->cpu_addr;
	if (r->kind == PCI_ROUTE_PEER) {
		bar = pci_iomap(r->target, r->bar);
		if (bar)
			return (uint64_t *)(bar + r->offset);
	}
	return NULL;
}

/* One u64 at bus address @addr, routed on its own. */
static uint16_t add_one(struct gpu_emu *emu, uint64_t addr, uint64_t addend)
{
	struct pci_route r;
	uint64_t *p;

	if (pci_route(emu->pdev, addr, sizeof(uint64_t), true, &r)) {
		pr_warn("%s: atomic at 0x%llx: the fabric refuses it", emu->name,
			(unsigned long long)addr);
		return GPU_SC_DMA_ERROR;
	}
	p = atomic_ptr(&r);
	if (!p)
		return add_by_dma(emu, addr, addend);
	__atomic_fetch_add(p, addend, __ATOMIC_SEQ_CST);
	return GPU_SC_SUCCESS;
}

/*
 * The run of @n u64s is routed once when the fabric takes it whole to
 * memory the CPU can add at; otherwise each element goes on its own, and
 * the first the fabric refuses ends the run.
 */
uint16_t gpu_emu_mem_atomic_add(struct gpu_emu *emu, const struct gpu_emu_xlate *x, uint64_t n,
				uint64_t addend)
{
	uint64_t len = n * sizeof(uint64_t), *p;
	struct pci_route r;
	uint16_t status;

	if (x->ap == GPU_APERTURE_VRAM) {
		p = (uint64_t *)(emu->vram + x->addr);
		for (uint64_t i = 0; i < n; i++)
			__atomic_fetch_add(&p[i], addend, __ATOMIC_SEQ_CST);
		return GPU_SC_SUCCESS;
	}
	if (!pci_route(emu->pdev, x->addr, len, true, &r) && r.len >= len) {
		p = atomic_ptr(&r);
		if (p) {
			for (uint64_t i = 0; i < n; i++)
				__atomic_fetch_add(&p[i], addend, __ATOMIC_SEQ_CST);
			return GPU_SC_SUCCESS;
		}
	}
	for (uint64_t i = 0; i < n; i++) {
		status = add_one(emu, x->addr + i * sizeof(uint64_t), addend);
		if (status)
			return status;
	}
	return GPU_SC_SUCCESS;
}
