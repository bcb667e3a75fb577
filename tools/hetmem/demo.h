/* SPDX-License-Identifier: MIT */
/*
 * hetmem demo: what the orchestration (cmd-demo.c) and its steps share.
 * Each step is a file of its own; it prints what it does and counts its
 * checks in struct demo.
 */
#ifndef HETMEM_TOOL_DEMO_H
#define HETMEM_TOOL_DEMO_H

#include <stdbool.h>
#include <stddef.h>

struct machine;
struct pci_fabric;

/**
 * struct demo - one run of the demo
 * @prog: "hetmem demo", for messages
 * @m: the machine
 * @f: its fabric
 * @passed: checks that held
 * @failed: checks that did not
 */
struct demo {
	const char *prog;
	struct machine *m;
	struct pci_fabric *f;
	unsigned int passed, failed;
};

/**
 * demo_check - print and count one check
 * @d: the demo
 * @ok: whether it held
 * @fmt: printf format of what was checked
 */
void demo_check(struct demo *d, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/**
 * demo_p2p_dma - the peer-to-peer DMA step
 * @d: the demo
 * @len: bytes per transfer (clamped to each target BAR)
 *
 * The NVMe controller's function writes into every GPU's memory BAR; the
 * step shows the path and the link counters and checks data and counters.
 *
 * Return: 0 when the step ran (its checks counted in @d), -ENODEV when the
 * machine has no NVMe controller or no GPU memory, -ENOMEM, or the error of
 * mapping a peer in the IOMMU; the step has printed the reason.
 */
int demo_p2p_dma(struct demo *d, size_t len);

#endif /* HETMEM_TOOL_DEMO_H */
