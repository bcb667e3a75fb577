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
#include <stdint.h>

struct machine;
struct pci_fabric;
struct pci_dev;
struct pci_host_bridge;
struct pci_link_stats;
struct pci_rc_stats;

/**
 * struct demo - one run of the demo
 * @prog: "hetmem demo", for messages
 * @m: the machine
 * @f: its fabric
 * @dev: every function of the fabric, in enumeration order (demo_collect())
 * @nr_dev: entries in @dev
 * @hb: every host bridge, in the order added
 * @nr_hb: entries in @hb
 * @passed: checks that held
 * @failed: checks that did not
 */
struct demo {
	const char *prog;
	struct machine *m;
	struct pci_fabric *f;
	struct pci_dev **dev;
	size_t nr_dev;
	struct pci_host_bridge **hb;
	size_t nr_hb;
	unsigned int passed, failed;
};

/**
 * struct demo_counters - every counter of the fabric at one moment, or the
 *			  difference of two such moments
 * @link: per function, in demo.dev order
 * @rc: per host bridge, in demo.hb order
 */
struct demo_counters {
	struct pci_link_stats *link;
	struct pci_rc_stats *rc;
};

/**
 * struct demo_column - one transfer in the counter table
 * @title: its heading, such as "nvme0 -> gpu0"
 * @delta: what it moved
 */
struct demo_column {
	const char *title;
	const struct demo_counters *delta;
};

/**
 * demo_check - print and count one check
 * @d: the demo
 * @ok: whether it held
 * @fmt: printf format of what was checked
 */
void demo_check(struct demo *d, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* --- demo-counters.c: where data went ------------------------------------- */

/**
 * demo_collect - list the fabric's functions and host bridges in @d
 * @d: the demo, its machine loaded
 *
 * Return: 0, or -ENOMEM (demo_release() still frees what was taken).
 */
int demo_collect(struct demo *d);

/**
 * demo_release - free what demo_collect() allocated
 * @d: the demo
 */
void demo_release(struct demo *d);

/**
 * demo_counters_alloc - room for a snapshot of every counter
 * @d: the demo, collected
 * @c: the snapshot, zeroed
 *
 * Return: 0, or -ENOMEM with nothing allocated.
 */
int demo_counters_alloc(const struct demo *d, struct demo_counters *c);

/**
 * demo_counters_free - free a snapshot (of NULLs, too)
 * @c: the snapshot
 */
void demo_counters_free(struct demo_counters *c);

/**
 * demo_counters_read - take a snapshot
 * @d: the demo
 * @c: where it goes
 */
void demo_counters_read(const struct demo *d, struct demo_counters *c);

/**
 * demo_counters_sub - what moved between two snapshots
 * @d: the demo
 * @after: the later snapshot; becomes @after - @before
 * @before: the earlier one
 */
void demo_counters_sub(const struct demo *d, struct demo_counters *after,
		       const struct demo_counters *before);

/**
 * demo_link - a function's link counters in a snapshot
 * @d: the demo
 * @c: the snapshot
 * @dev: the function
 *
 * Return: the counters, or zeroes for a function not in the fabric.
 */
const struct pci_link_stats *demo_link(const struct demo *d, const struct demo_counters *c,
				       const struct pci_dev *dev);

/**
 * demo_rc - a root complex's counters in a snapshot
 * @d: the demo
 * @c: the snapshot
 * @hb: its host bridge, or NULL
 *
 * Return: the counters, or zeroes for NULL or a host bridge not in the fabric.
 */
const struct pci_rc_stats *demo_rc(const struct demo *d, const struct demo_counters *c,
				   const struct pci_host_bridge *hb);

/**
 * demo_rc_bytes - every byte through every root complex in a snapshot
 * @d: the demo
 * @c: the snapshot
 *
 * Return: peer-to-peer bytes plus bytes to and from host memory, summed.
 */
uint64_t demo_rc_bytes(const struct demo *d, const struct demo_counters *c);

/**
 * demo_root_port_of - the port on the root bus a function is below
 * @dev: the function
 *
 * Return: the root port, or NULL for a function on the root bus.
 */
struct pci_dev *demo_root_port_of(struct pci_dev *dev);

/**
 * demo_print_counters - the bytes each transfer moved, link by link
 * @d: the demo
 * @col: one column pair (up, down) per transfer
 * @nr_col: how many
 *
 * One row per link, indented by depth; then per root complex its
 * peer-to-peer and host memory bytes.
 */
void demo_print_counters(const struct demo *d, const struct demo_column *col, unsigned int nr_col);

/* --- the steps ------------------------------------------------------------- */

/**
 * demo_p2p_matrix - the peer-to-peer providers and map-type step
 * @d: the demo, its GPUs already made providers (cli_p2p_add_providers())
 *
 * Lists every provider with its pool, then the distance and map type from
 * every provider to every endpoint, with the kernel's reason under every
 * entry that is not BUS_ADDR. Nothing is checked.
 *
 * Return: 0, or -ENOMEM, -EIO (a p2pmem attribute that does not parse),
 * -EOPNOTSUPP without CONFIG_PCI_P2PDMA; the step has printed the reason.
 */
int demo_p2p_matrix(struct demo *d);

/**
 * demo_p2p_dma - the peer-to-peer DMA step, and the bounce path beside it
 * @d: the demo, its GPUs already made providers
 * @len: bytes per transfer (clamped to what each pool has available)
 *
 * Allocates p2pmem from every provider, maps it for the NVMe controller's
 * function with dma_map_single() and has the function write a pattern to
 * the DMA address it got; then maps a malloc'd buffer, has the function
 * write into host memory and copies that into the closest provider's
 * p2pmem with the CPU. Checks the data through the CPU pointers and the
 * paths through the fabric's link counters; frees everything.
 *
 * Return: 0 when the step ran (its checks counted in @d), -ENODEV when the
 * machine has no NVMe controller or no published p2pmem, -ENOMEM,
 * -EOPNOTSUPP without CONFIG_PCI_P2PDMA; the step has printed the reason.
 */
int demo_p2p_dma(struct demo *d, size_t len);

#endif /* HETMEM_TOOL_DEMO_H */
