/* SPDX-License-Identifier: MIT */
/*
 * hetmem demo, the NVMe steps: the controller as the demo drives it
 * (demo-nvme.c) and the transfers the read step runs on it
 * (demo-nvme-read.c).
 */
#ifndef HETMEM_TOOL_DEMO_NVME_H
#define HETMEM_TOOL_DEMO_NVME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hetmem/nvme.h>

#include "demo.h"

/*
 * Commands in flight, and bytes per command (less when the controller's
 * MDTS is smaller): enough to keep the controller's thread busy while the
 * demo's thread reaps and, on the bounce path, copies.
 */
#define DEMO_NVME_QD	16
#define DEMO_NVME_CHUNK (256 << 10)

/* One command's place in the queue: its staging buffer and what it moves. */
struct demo_nvme_slot {
	struct demo_nvme *n;
	struct demo_nvme_io *io;
	unsigned int idx; /* its buffer: ring + idx * chunk */
	uint64_t nr; /* the chunk it moves: namespace offset nr * chunk */
};

/**
 * struct demo_nvme - the controller and its driver, as the demo uses them
 * @pdev: the controller's function
 * @t: the emulated transport
 * @t_init: @t is set up
 * @ctrl: the driver's controller
 * @qp: the demo's I/O queue pair
 * @ns: the namespace it reads and writes (the first)
 * @chunk: bytes per command
 * @ring: DEMO_NVME_QD staging buffers of @chunk bytes in system memory,
 *	  registered with the driver: where writes come from and where the
 *	  bounce path reads to
 * @ring_registered: nvme_ctrl_register_buffer() took @ring
 * @slot: per staging buffer
 * @free: indices of the free slots, @nr_free of them
 * @nr_free: how many
 */
struct demo_nvme {
	struct pci_dev *pdev;
	struct nvme_transport t;
	bool t_init;
	struct nvme_ctrl *ctrl;
	struct nvme_qpair *qp;
	struct nvme_ns *ns;
	size_t chunk;
	char *ring;
	bool ring_registered;
	struct demo_nvme_slot slot[DEMO_NVME_QD];
	unsigned int free[DEMO_NVME_QD];
	unsigned int nr_free;
};

enum demo_nvme_op {
	DEMO_NVME_WRITE, /* the pattern, from the staging buffers */
	DEMO_NVME_READ, /* straight into @buf */
	DEMO_NVME_READ_BOUNCE, /* into a staging buffer, then a CPU copy into @buf */
};

/**
 * struct demo_nvme_io - one transfer of [0, @len) of the namespace
 * @op: what it does
 * @label: what its progress bar says
 * @buf: the destination of a read
 * @len: bytes, a multiple of the chunk size
 * @seed: the pattern a write sends (demo_pattern_fill())
 * @sum: a write's checksum of every chunk as it was sent
 * @seconds: (out) from the first submission to the last completion
 * @copy_seconds: (out) of those, the CPU's copies on the bounce path
 * @commands: (out) commands completed
 * @done: (out) bytes moved
 * @err: (out) the first error: a negative errno, or a positive NVMe status
 */
struct demo_nvme_io {
	enum demo_nvme_op op;
	const char *label;
	char *buf;
	uint64_t len;
	uint64_t seed;
	uint64_t *sum;
	double seconds;
	double copy_seconds;
	uint64_t commands;
	uint64_t done;
	int err;
};

/**
 * demo_nvme_run - run a transfer, DEMO_NVME_QD commands in flight
 * @n: the controller
 * @io: the transfer; its results are filled in
 *
 * Shows a progress bar. After the first error nothing more is submitted;
 * what is in flight completes before this returns.
 *
 * Return: 0, or @io->err.
 */
int demo_nvme_run(struct demo_nvme *n, struct demo_nvme_io *io);

#endif /* HETMEM_TOOL_DEMO_NVME_H */
