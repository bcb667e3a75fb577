// SPDX-License-Identifier: MIT
/*
 * hetmem demo: the NVMe controller, driven the way an application drives
 * it. The host driver is probed on the machine's first emulated
 * controller through the emulated transport, so every register access is
 * an MMIO write on the fabric and every byte of data a DMA the controller
 * issues by bus address: nothing is copied behind the fabric's back.
 *
 * Transfers keep DEMO_NVME_QD commands in flight on one queue pair,
 * submitted asynchronously and reaped by polling; each completion frees a
 * slot for the next command. Writes and the bounce path's reads go
 * through staging buffers in system memory, registered with the driver
 * once like the buffers of a real I/O engine, so that no command maps or
 * unmaps anything.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hetmem/err.h>
#include <hetmem/nvme-emu.h>
#include <hetmem/nvme.h>
#include <hetmem/pci.h>

#include "demo-nvme.h"
#include "hetmem.h"

/* Queue entries the driver asks for: room for the demo's depth and more. */
#define QUEUE_ENTRIES 64
/* How long one wait for completions may take before it looks again. */
#define WAIT_MS 1000

/* --- bring-up ---------------------------------------------------------------------- */

/* Identify strings are space padded, not terminated. */
static int id_len(const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	while (n && s[n - 1] == ' ')
		n--;
	return (int)n;
}

static void print_ctrl(const struct demo_nvme *n)
{
	const struct nvme_id_ctrl *id = nvme_ctrl_identify(n->ctrl);
	struct nvme_cmb_info cmb;
	char a[32], b[32];

	printf("\n== NVMe driver on %s ==\n\n", pci_dev_label(n->pdev));
	printf("  %s %s: %.*s, serial %.*s, NVMe %u.%u\n", pci_dev_label(n->pdev),
	       pci_name(n->pdev), id_len(id->mn, sizeof(id->mn)), id->mn,
	       id_len(id->sn, sizeof(id->sn)), id->sn, id->ver >> 16, (id->ver >> 8) & 0xff);
	printf("  %u I/O queue pair(s) granted; the demo polls one, %u commands of %s in flight\n",
	       nvme_ctrl_nr_io_queues(n->ctrl), DEMO_NVME_QD,
	       cli_format_size(a, sizeof(a), n->chunk));
	printf("  namespace %" PRIu32 ": %s, %u-byte blocks\n", n->ns->nsid,
	       cli_format_size(a, sizeof(a), n->ns->size), 1u << n->ns->lba_shift);
	nvme_ctrl_cmb(n->ctrl, &cmb);
	if (cmb.size)
		printf("  controller memory buffer: %s in BAR%d at bus address 0x%" PRIx64 ", %s\n",
		       cli_format_size(b, sizeof(b), cmb.size), cmb.bar, cmb.bus_addr,
		       cmb.published ? "published as p2pmem" :
		       cmb.p2p	     ? "P2PDMA memory, not published" :
				       "not P2PDMA memory");
}

static void *ring_alloc(size_t len)
{
	void *p = NULL;

	return posix_memalign(&p, 4096, len) ? NULL : p;
}

int demo_nvme_probe(struct demo *d)
{
	struct nvme_ctrl_opts opts = { .io_queue_depth = QUEUE_ENTRIES };
	struct demo_nvme *n;
	struct nvme_ctrl *ctrl;
	struct nvme_qpair *qp;
	int ret;

	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	d->nvme = n;
	for (size_t i = 0; i < d->nr_dev && !n->pdev; i++)
		if (nvme_emu_from_pdev(d->dev[i]))
			n->pdev = d->dev[i];
	if (!n->pdev) {
		fprintf(stderr, "%s: the machine has no emulated NVMe controller\n", d->prog);
		return -ENODEV;
	}

	ret = nvme_transport_emu_init(&n->t, n->pdev);
	if (ret) {
		fprintf(stderr, "%s: %s: no transport: %s\n", d->prog, pci_dev_label(n->pdev),
			strerror(-ret));
		return ret;
	}
	n->t_init = true;
	ctrl = nvme_ctrl_probe(&n->t, &opts);
	if (IS_ERR(ctrl)) {
		fprintf(stderr, "%s: %s: probe failed: %s\n", d->prog, pci_dev_label(n->pdev),
			strerror((int)-PTR_ERR(ctrl)));
		return (int)PTR_ERR(ctrl);
	}
	n->ctrl = ctrl;
	n->ns = nvme_ctrl_ns_at(ctrl, 0);
	if (!n->ns) {
		fprintf(stderr, "%s: %s has no active namespace\n", d->prog,
			pci_dev_label(n->pdev));
		return -ENODEV;
	}
	qp = nvme_qpair_alloc(ctrl);
	if (IS_ERR(qp)) {
		fprintf(stderr, "%s: %s: no I/O queue pair: %s\n", d->prog, pci_dev_label(n->pdev),
			strerror((int)-PTR_ERR(qp)));
		return (int)PTR_ERR(qp);
	}
	n->qp = qp;

	n->chunk = DEMO_NVME_CHUNK;
	if (n->chunk > nvme_ctrl_max_transfer(ctrl))
		n->chunk = nvme_ctrl_max_transfer(ctrl);
	n->ring = ring_alloc(DEMO_NVME_QD * n->chunk);
	if (!n->ring)
		return -ENOMEM;
	ret = nvme_ctrl_register_buffer(ctrl, n->ring, DEMO_NVME_QD * n->chunk);
	if (ret) {
		fprintf(stderr, "%s: %s: cannot register the staging buffers: %s\n", d->prog,
			pci_dev_label(n->pdev), strerror(-ret));
		return ret;
	}
	n->ring_registered = true;
	print_ctrl(n);
	return 0;
}

void demo_nvme_remove(struct demo *d)
{
	struct demo_nvme *n = d->nvme;

	if (!n)
		return;
	if (n->ring_registered)
		nvme_ctrl_unregister_buffer(n->ctrl, n->ring);
	nvme_qpair_free(n->qp);
	/* A clean shutdown: CC.SHN, and the CMB taken out of P2PDMA. */
	nvme_ctrl_remove(n->ctrl);
	if (n->t_init)
		nvme_transport_emu_fini(&n->t);
	free(n->ring);
	free(n);
	d->nvme = NULL;
}

/* --- transfers --------------------------------------------------------------------- */

static char *slot_buf(const struct demo_nvme_slot *s)
{
	return s->n->ring + (size_t)s->idx * s->n->chunk;
}

/*
 * Runs on the demo's thread, inside nvme_qpair_wait(). The bounce path's
 * copy happens here, as soon as the data is in host memory: the cost of
 * that path is the copy, and it is paid within the transfer's time.
 */
static void io_done(void *arg, int status)
{
	struct demo_nvme_slot *s = arg;
	struct demo_nvme_io *io = s->io;
	struct demo_nvme *n = s->n;

	if (status && !io->err)
		io->err = status;
	if (!status) {
		if (io->op == DEMO_NVME_READ_BOUNCE) {
			double t = demo_now();

			memcpy(io->buf + s->nr * n->chunk, slot_buf(s), n->chunk);
			io->copy_seconds += demo_now() - t;
		}
		io->commands++;
		io->done += n->chunk;
	}
	n->free[n->nr_free++] = s->idx;
}

static int io_submit(struct demo_nvme *n, struct demo_nvme_io *io, uint64_t nr)
{
	struct demo_nvme_slot *s = &n->slot[n->free[--n->nr_free]];
	uint64_t off = nr * n->chunk, slba = off >> n->ns->lba_shift;
	uint32_t nlb = (uint32_t)(n->chunk >> n->ns->lba_shift);
	int ret;

	s->io = io;
	s->nr = nr;
	switch (io->op) {
	case DEMO_NVME_WRITE:
		demo_pattern_fill(slot_buf(s), off, n->chunk, io->seed);
		io->sum[nr] = demo_checksum(slot_buf(s), n->chunk);
		ret = nvme_submit_write(n->ns, n->qp, slot_buf(s), slba, nlb, io_done, s);
		break;
	case DEMO_NVME_READ:
		ret = nvme_submit_read(n->ns, n->qp, io->buf + off, slba, nlb, io_done, s);
		break;
	default:
		ret = nvme_submit_read(n->ns, n->qp, slot_buf(s), slba, nlb, io_done, s);
		break;
	}
	if (ret)
		n->free[n->nr_free++] = s->idx;
	return ret;
}

int demo_nvme_run(struct demo_nvme *n, struct demo_nvme_io *io)
{
	uint64_t nr_chunks = io->len / n->chunk, next = 0;
	struct demo_progress progress;
	double start;

	io->commands = io->done = 0;
	io->seconds = io->copy_seconds = 0;
	io->err = 0;
	n->nr_free = 0;
	for (unsigned int i = 0; i < DEMO_NVME_QD; i++) {
		n->slot[i] = (struct demo_nvme_slot){ .n = n, .idx = i };
		n->free[n->nr_free++] = i;
	}

	demo_progress_start(&progress, io->label, io->len);
	start = demo_now();
	while (next < nr_chunks || nvme_qpair_outstanding(n->qp)) {
		int ret;

		/* Keep the queue full until the first error; then only drain it. */
		while (!io->err && n->nr_free && next < nr_chunks) {
			ret = io_submit(n, io, next);
			if (ret == -EAGAIN)
				break;
			if (ret)
				io->err = ret;
			else
				next++;
		}
		if (io->err)
			next = nr_chunks;
		ret = nvme_qpair_wait(n->qp, WAIT_MS);
		if (ret < 0) {
			if (!io->err)
				io->err = ret;
			break;
		}
		demo_progress_update(&progress, io->done);
	}
	io->seconds = demo_now() - start;
	demo_progress_end(&progress, io->done, io->seconds);
	return io->err;
}
