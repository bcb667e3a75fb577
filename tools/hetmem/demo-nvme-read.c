// SPDX-License-Identifier: MIT
/*
 * hetmem demo, the main event: an NVMe read straight into GPU memory.
 *
 * The namespace is first given a pattern by NVMe writes from system
 * memory, with a checksum taken of every chunk as it is sent. Then the
 * same range is read back with NVMe reads whose data pointer is p2pmem of
 * the GPU closest to the controller: the driver hands the controller a
 * DMA address the DMA layer chose by map type (below a shared switch, the
 * BAR's bus address), and the controller writes the data there itself.
 * The checksums of what landed in GPU memory must be those of what was
 * written. Then the way a system without P2P does it, for comparison:
 * reads into system memory, each copied by the CPU into the same GPU
 * memory as it completes.
 *
 * The fabric counts the bytes on every link and through every root
 * complex; snapshots around each transfer show where its data went: the
 * direct read below a shared switch never reaches the root complex (only
 * commands, completions and PRP lists do, a few bytes per command),
 * while the bounce path's data goes up through it into host memory.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hetmem/nvme.h>
#include <hetmem/pci-p2pdma.h>
#include <hetmem/pci.h>

#include "demo-nvme.h"
#include "hetmem.h"
#include "p2p.h"

#define PCI_BASE_CLASS_DISPLAY 0x03
#define PATTERN_SEED	       0x4e564d65 /* "NVMe" */
/* Root complex bytes a command may cost besides its data: SQE, CQE. */
#define CMD_OVERHEAD (64 + 16)

enum xfer {
	XFER_WRITE,
	XFER_P2P,
	XFER_BOUNCE,
	NR_XFER,
};

struct nvme_read {
	struct demo *d;
	struct demo_nvme *n;
	struct pci_dev *gpu;
	enum pci_p2pdma_map_type type; /* gpu -> the controller */
	char *buf; /* the GPU's p2pmem */
	size_t len;
	bool registered; /* @buf with the driver */
	uint64_t *sent; /* checksum per chunk, as written */
	uint64_t *got; /* per chunk, as found in GPU memory */
	size_t nr_chunks;
	struct demo_nvme_io io[NR_XFER];
	struct demo_counters delta[NR_XFER];
	uint64_t bounced[NR_XFER]; /* the driver's own bounces */
	long long bad_chunk[NR_XFER]; /* the first chunk that differs, or -1 */
	uint64_t sum[NR_XFER]; /* combined checksums */
};

/* --- setting up ---------------------------------------------------------------------- */

/*
 * The GPU whose memory the read goes to: the display-class provider
 * closest to the controller (on the default machine gpu0, below the same
 * switch). One it cannot reach at all is taken only when there is no
 * other: the driver then bounces, and the checks expect that.
 */
static struct pci_dev *choose_gpu(struct nvme_read *r)
{
	struct pci_dev *best = NULL;
	int best_dist = -1;

	for (size_t i = 0; i < r->d->nr_dev; i++) {
		struct pci_dev *dev = r->d->dev[i];
		int dist;

		if (pci_dev_class(dev) >> 16 != PCI_BASE_CLASS_DISPLAY || !pci_has_p2pmem(dev))
			continue;
		dist = pci_p2pdma_distance(dev, r->n->pdev, false);
		if (!best || (dist >= 0 && (best_dist < 0 || dist < best_dist))) {
			best = dev;
			best_dist = dist;
		}
	}
	return best;
}

static int setup(struct nvme_read *r, size_t want)
{
	struct demo *d = r->d;
	struct cli_p2p_provider prov;
	char a[32], b[32];
	size_t len;
	int ret;

	r->gpu = choose_gpu(r);
	if (!r->gpu) {
		fprintf(stderr, "%s: the machine has no GPU with published p2pmem\n", d->prog);
		return -ENODEV;
	}
	r->type = pci_p2pdma_map_type_of(r->gpu, r->n->pdev, NULL, 0);
	ret = cli_p2p_provider_get(r->gpu, &prov);
	if (ret)
		return ret;
	len = want;
	if (len > r->n->ns->size)
		len = r->n->ns->size;
	if (len > prov.available)
		len = prov.available;
	len -= len % r->n->chunk;
	if (!len) {
		fprintf(stderr, "%s: %s has no free p2pmem\n", d->prog, pci_dev_label(r->gpu));
		return -ENOSPC;
	}
	if (len < want)
		printf("  (%s asked for; %s fits the namespace and %s's free p2pmem)\n",
		       cli_format_size(a, sizeof(a), want), cli_format_size(b, sizeof(b), len),
		       pci_dev_label(r->gpu));

	r->len = len;
	r->nr_chunks = len / r->n->chunk;
	r->sent = calloc(r->nr_chunks, sizeof(*r->sent));
	r->got = calloc(r->nr_chunks, sizeof(*r->got));
	r->buf = pci_alloc_p2pmem(r->gpu, len);
	if (!r->sent || !r->got || !r->buf) {
		fprintf(stderr, "%s: cannot allocate %s (of %s's p2pmem, or of checksums)\n",
			d->prog, cli_format_size(a, sizeof(a), len), pci_dev_label(r->gpu));
		return -ENOMEM;
	}
	for (int x = 0; x < NR_XFER; x++) {
		ret = demo_counters_alloc(d, &r->delta[x]);
		if (ret)
			return ret;
	}

	/*
	 * Mapped once for every command, like the staging buffers. The DMA
	 * layer refuses memory the controller cannot reach (NOT_SUPPORTED);
	 * the driver then bounces each command through system memory itself.
	 */
	ret = nvme_ctrl_register_buffer(r->n->ctrl, r->buf, len);
	if (ret && ret != -EREMOTEIO) {
		fprintf(stderr, "%s: cannot map %s's p2pmem for %s: %s\n", d->prog,
			pci_dev_label(r->gpu), pci_dev_label(r->n->pdev), strerror(-ret));
		return ret;
	}
	r->registered = !ret;
	return 0;
}

static void release(struct nvme_read *r)
{
	if (r->registered)
		nvme_ctrl_unregister_buffer(r->n->ctrl, r->buf);
	if (r->buf)
		pci_free_p2pmem(r->gpu, r->buf, r->len);
	for (int x = 0; x < NR_XFER; x++)
		demo_counters_free(&r->delta[x]);
	free(r->sent);
	free(r->got);
}

/* --- moving the data ------------------------------------------------------------------ */

static uint64_t bounced_ios(struct nvme_read *r)
{
	struct nvme_ctrl_stats st;

	nvme_ctrl_get_stats(r->n->ctrl, &st);
	return st.bounced_ios;
}

static int transfer(struct nvme_read *r, enum xfer x, enum demo_nvme_op op, const char *label)
{
	struct demo_nvme_io *io = &r->io[x];
	struct demo_counters before;
	uint64_t bounced = bounced_ios(r);
	int ret;

	ret = demo_counters_alloc(r->d, &before);
	if (ret)
		return ret;
	*io = (struct demo_nvme_io){
		.op = op,
		.label = label,
		.buf = r->buf,
		.len = r->len,
		.seed = PATTERN_SEED,
		.sum = r->sent,
	};
	demo_counters_read(r->d, &before);
	ret = demo_nvme_run(r->n, io);
	demo_counters_read(r->d, &r->delta[x]);
	demo_counters_sub(r->d, &r->delta[x], &before);
	demo_counters_free(&before);
	r->bounced[x] = bounced_ios(r) - bounced;
	if (ret)
		fprintf(stderr, "%s: %s failed after %" PRIu64 " commands: %s\n", r->d->prog, label,
			io->commands,
			ret < 0 ? strerror(-ret) : "the controller returned an error status");
	return ret;
}

/* Checksum GPU memory chunk by chunk, as the pattern was sent. */
static void sum_gpu(struct nvme_read *r, enum xfer x)
{
	size_t chunk = r->n->chunk;

	r->bad_chunk[x] = -1;
	for (size_t i = 0; i < r->nr_chunks; i++) {
		r->got[i] = demo_checksum(r->buf + i * chunk, chunk);
		if (r->got[i] != r->sent[i] && r->bad_chunk[x] < 0)
			r->bad_chunk[x] = (long long)i;
	}
	r->sum[x] = demo_checksum_combine(r->got, r->nr_chunks);
}

static int run(struct nvme_read *r)
{
	struct demo *d = r->d;
	char a[32];
	int ret;

	printf("\n== NVMe read into GPU memory: %s -> %s ==\n\n", pci_dev_label(r->n->pdev),
	       pci_dev_label(r->gpu));
	printf("  %s of %s's p2pmem at %p, bus address 0x%" PRIx64 ", map type %s from %s%s\n",
	       cli_format_size(a, sizeof(a), r->len), pci_dev_label(r->gpu), r->buf,
	       pci_p2pmem_virt_to_bus(r->gpu, r->buf), cli_p2p_map_type_name(r->type),
	       pci_dev_label(r->n->pdev),
	       r->registered ? "" : " (the driver cannot map it: it bounces)");
	printf("  1. write a pattern to namespace %" PRIu32 " from system memory\n"
	       "  2. read it straight into %s's memory (peer-to-peer)\n"
	       "  3. read it again into system memory, the CPU copying each command's data into\n"
	       "     %s's memory (the bounce path)\n\n",
	       r->n->ns->nsid, pci_dev_label(r->gpu), pci_dev_label(r->gpu));

	ret = transfer(r, XFER_WRITE, DEMO_NVME_WRITE, "write pattern");
	if (ret)
		return ret;
	r->sum[XFER_WRITE] = demo_checksum_combine(r->sent, r->nr_chunks);

	/* Zeroes first, so whatever the checksum finds came by DMA. */
	memset(r->buf, 0, r->len);
	ret = transfer(r, XFER_P2P, DEMO_NVME_READ, "P2P read");
	if (ret)
		return ret;
	if (d->corrupt) {
		r->buf[r->len / 2] ^= 0x10;
		printf("  (--corrupt: flipped bit 4 of the byte at offset 0x%zx in %s's memory)\n",
		       r->len / 2, pci_dev_label(r->gpu));
	}
	sum_gpu(r, XFER_P2P);

	memset(r->buf, 0, r->len);
	ret = transfer(r, XFER_BOUNCE, DEMO_NVME_READ_BOUNCE, "bounce read");
	if (ret)
		return ret;
	sum_gpu(r, XFER_BOUNCE);
	return 0;
}

/* --- what it shows ---------------------------------------------------------------------- */

static void print_results(const struct nvme_read *r)
{
	const struct demo_nvme_io *p2p = &r->io[XFER_P2P], *bounce = &r->io[XFER_BOUNCE];
	double p = demo_gbps(p2p->done, p2p->seconds), b = demo_gbps(bounce->done, bounce->seconds);

	printf("\n  checksum of what was written             0x%016" PRIx64 "\n",
	       r->sum[XFER_WRITE]);
	printf("  checksum of %-6s after the P2P read     0x%016" PRIx64 "\n",
	       pci_dev_label(r->gpu), r->sum[XFER_P2P]);
	printf("  checksum of %-6s after the bounce read  0x%016" PRIx64 "\n",
	       pci_dev_label(r->gpu), r->sum[XFER_BOUNCE]);
	printf("\n  peer-to-peer %.2f GB/s, bounce path %.2f GB/s: peer-to-peer is %.2fx the bounce "
	       "path\n",
	       p, b, b > 0 ? p / b : 0.0);
	printf("  the bounce path kept the CPU copying for %.1f ms (%.0f%% of its time) and moved\n"
	       "  the data through host memory twice; ",
	       bounce->copy_seconds * 1e3,
	       bounce->seconds > 0 ? 100 * bounce->copy_seconds / bounce->seconds : 0.0);
	if (r->bounced[XFER_P2P])
		printf("so did the \"peer-to-peer\" read: the driver\n"
		       "  bounced it, as %s cannot reach %s's memory\n",
		       pci_dev_label(r->n->pdev), pci_dev_label(r->gpu));
	else
		printf("the peer-to-peer read did neither\n");
}

static void print_counter_table(const struct nvme_read *r)
{
	static const char *const title[NR_XFER] = { "write", "P2P read", "bounce read" };
	struct demo_column col[NR_XFER];

	printf("\n== Link counters: bytes each transfer moved (up = toward the root complex) ==\n\n");
	for (int x = 0; x < NR_XFER; x++) {
		col[x].title = title[x];
		col[x].delta = &r->delta[x];
	}
	demo_print_counters(r->d, col, NR_XFER);
	printf("\n  The CPU's copies on the bounce path are not fabric traffic here: the\n"
	       "  emulation maps BAR memory into the process, so the CPU writes it directly.\n");
}

/* --- checks ------------------------------------------------------------------------------ */

static void check_data(struct nvme_read *r, enum xfer x, const char *what)
{
	struct demo *d = r->d;
	long long bad = r->bad_chunk[x];

	if (bad < 0)
		demo_check(d, true,
			   "%s: checksum of %s's memory matches what was written (0x%016" PRIx64
			   ")",
			   what, pci_dev_label(r->gpu), r->sum[x]);
	else
		demo_check(d, false,
			   "%s: %s's memory differs from what was written in the chunk at offset "
			   "0x%llx (checksum 0x%016" PRIx64 ", written 0x%016" PRIx64 ")",
			   what, pci_dev_label(r->gpu), bad * (long long)r->n->chunk, r->sum[x],
			   r->sum[XFER_WRITE]);
}

/*
 * Besides data, a command costs the root complex its 64-byte submission
 * entry and 16-byte completion entry in host memory, and its PRP list
 * (8 bytes a page) when it spans more than two pages.
 */
static uint64_t control_bound(const struct nvme_read *r, uint64_t commands)
{
	return commands * (CMD_OVERHEAD + 8 * (r->n->chunk / 4096));
}

static void check_p2p_path(struct nvme_read *r)
{
	struct demo *d = r->d;
	const struct demo_counters *c = &r->delta[XFER_P2P];
	const struct demo_nvme_io *io = &r->io[XFER_P2P];
	const char *ini = pci_dev_label(r->n->pdev), *gpu = pci_dev_label(r->gpu);
	struct pci_dev *rp = demo_root_port_of(r->n->pdev);
	uint64_t down = demo_link(d, c, r->gpu)->bytes[PCI_LINK_DOWN];
	uint64_t rc = demo_rc_bytes(d, c), p2p = 0, mem_w = 0;
	uint64_t bound = control_bound(r, io->commands), rp_bytes = 0;

	for (size_t h = 0; h < d->nr_hb; h++) {
		p2p += c->rc[h].p2p_bytes;
		mem_w += c->rc[h].mem_bytes[0];
	}
	if (rp)
		rp_bytes = demo_link(d, c, rp)->bytes[PCI_LINK_UP] +
			   demo_link(d, c, rp)->bytes[PCI_LINK_DOWN];

	switch (r->type) {
	case PCI_P2PDMA_MAP_BUS_ADDR:
		demo_check(d, !r->bounced[XFER_P2P],
			   "P2P read: the driver gave %s the p2pmem's bus address for all %" PRIu64
			   " commands (%" PRIu64 " bounced)",
			   ini, io->commands, r->bounced[XFER_P2P]);
		demo_check(d, down == r->len,
			   "P2P read: %" PRIu64 " bytes came down %s's link (read %zu)", down, gpu,
			   r->len);
		demo_check(d, !p2p && rc <= bound,
			   "P2P read: switch-local: no data through the root complex (%" PRIu64
			   " bytes: commands, completions, PRP lists; at most %" PRIu64 ")",
			   rc, bound);
		if (rp)
			demo_check(d, rp_bytes <= bound,
				   "P2P read: %s carried %" PRIu64
				   " bytes (control only, at most %" PRIu64 ") of the %zu read",
				   pci_dev_label(rp), rp_bytes, bound, r->len);
		break;
	case PCI_P2PDMA_MAP_THRU_HOST_BRIDGE:
		demo_check(d, !r->bounced[XFER_P2P],
			   "P2P read: the driver mapped the p2pmem for %s for all %" PRIu64
			   " commands (%" PRIu64 " bounced)",
			   ini, io->commands, r->bounced[XFER_P2P]);
		demo_check(d, down == r->len,
			   "P2P read: %" PRIu64 " bytes came down %s's link (read %zu)", down, gpu,
			   r->len);
		demo_check(d, p2p == r->len && mem_w <= bound,
			   "P2P read: through the root complex as peer traffic (%" PRIu64
			   " peer bytes, %" PRIu64 " written to host memory)",
			   p2p, mem_w);
		break;
	default:
		demo_check(
			d, r->bounced[XFER_P2P] == io->commands,
			"P2P read: %s cannot reach %s's memory (%s): the driver bounced all %" PRIu64
			" commands (%" PRIu64 ")",
			ini, gpu, cli_p2p_map_type_name(r->type), io->commands,
			r->bounced[XFER_P2P]);
		demo_check(d, mem_w >= r->len,
			   "P2P read: its data went through host memory (%" PRIu64
			   " bytes written)",
			   mem_w);
		break;
	}
}

static void check_bounce_path(struct nvme_read *r)
{
	struct demo *d = r->d;
	const struct demo_counters *c = &r->delta[XFER_BOUNCE];
	struct pci_dev *rp = demo_root_port_of(r->n->pdev);
	uint64_t mem_w = 0;

	for (size_t h = 0; h < d->nr_hb; h++)
		mem_w += c->rc[h].mem_bytes[0];
	demo_check(d, mem_w >= r->len,
		   "bounce read: its data went up through the root complex into host memory "
		   "(%" PRIu64 " bytes written there, read %zu)",
		   mem_w, r->len);
	if (rp)
		demo_check(d, demo_link(d, c, rp)->bytes[PCI_LINK_UP] >= r->len,
			   "bounce read: %" PRIu64 " bytes went up %s",
			   demo_link(d, c, rp)->bytes[PCI_LINK_UP], pci_dev_label(rp));
}

/* Return: the failures among the path checks (the counters' verdict). */
static unsigned int check(struct nvme_read *r)
{
	struct demo *d = r->d;
	uint64_t fetched = 0;
	unsigned int mark;

	printf("\n== Checks: NVMe read into GPU memory, and the bounce path ==\n\n");
	for (size_t h = 0; h < d->nr_hb; h++)
		fetched += r->delta[XFER_WRITE].rc[h].mem_bytes[1];
	demo_check(d, fetched >= r->len,
		   "write: %s fetched the pattern from host memory (%" PRIu64 " bytes read there)",
		   pci_dev_label(r->n->pdev), fetched);
	check_data(r, XFER_P2P, "P2P read");
	check_data(r, XFER_BOUNCE, "bounce read");
	mark = d->failed;
	check_p2p_path(r);
	check_bounce_path(r);
	return d->failed - mark;
}

static double mib(uint64_t bytes)
{
	return (double)bytes / (1 << 20);
}

static void summarize(struct nvme_read *r, unsigned int path_failed)
{
	struct demo *d = r->d;
	const struct demo_nvme_io *w = &r->io[XFER_WRITE], *p = &r->io[XFER_P2P],
				  *b = &r->io[XFER_BOUNCE];
	double pr = demo_gbps(p->done, p->seconds), br = demo_gbps(b->done, b->seconds);
	char step[DEMO_STEP_LEN], a[32];

	demo_row(d, "NVMe write (pattern)", DEMO_OK, "%s from system memory, %.2f GB/s",
		 cli_format_size(a, sizeof(a), w->done), demo_gbps(w->done, w->seconds));
	snprintf(step, sizeof(step), "NVMe -> %s P2P read", pci_dev_label(r->gpu));
	demo_row(d, step, r->bad_chunk[XFER_P2P] < 0 ? DEMO_OK : DEMO_FAILED,
		 "%s, %.2f GB/s, checksum %s", cli_format_size(a, sizeof(a), p->done), pr,
		 r->bad_chunk[XFER_P2P] < 0 ? "verified" : "MISMATCH");
	demo_row(d, "bounce path read", r->bad_chunk[XFER_BOUNCE] < 0 ? DEMO_OK : DEMO_FAILED,
		 "%.2f GB/s, checksum %s; P2P is %.2fx", br,
		 r->bad_chunk[XFER_BOUNCE] < 0 ? "verified" : "MISMATCH", br > 0 ? pr / br : 0.0);
	demo_row(d, "link counters", path_failed ? DEMO_FAILED : DEMO_OK,
		 "through root complexes: P2P %.2f MiB, bounce %.2f MiB",
		 mib(demo_rc_bytes(d, &r->delta[XFER_P2P])),
		 mib(demo_rc_bytes(d, &r->delta[XFER_BOUNCE])));
}

int demo_nvme_read(struct demo *d, size_t len)
{
	struct nvme_read r = { .d = d, .n = d->nvme };
	int ret;

	if (!r.n)
		return -ENODEV;
	ret = setup(&r, len);
	if (!ret)
		ret = run(&r);
	if (!ret) {
		print_results(&r);
		print_counter_table(&r);
		summarize(&r, check(&r));
	}
	release(&r);
	return ret;
}
