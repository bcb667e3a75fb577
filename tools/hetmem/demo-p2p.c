// SPDX-License-Identifier: MIT
/*
 * hetmem demo, the peer-to-peer DMA step and the bounce path beside it.
 *
 * The NVMe controller's function is the initiator. For every provider it
 * gets a buffer of p2pmem (pci_alloc_p2pmem()), mapped for it with
 * dma_map_single() as a driver maps a read's destination, and writes a
 * pattern to the DMA address it was given, as its DMA engine will once the
 * controller model exists. The DMA layer chose that address by map type: a
 * GPU below the same switch gets the BAR's bus address and the write turns
 * around in the switch; one below another root port gets an IOVA, and the
 * write crosses the root complex. Then the way a system without P2P does
 * it: the function writes into a malloc'd buffer in host memory, and the
 * CPU copies that into a GPU's p2pmem.
 *
 * The link counters, read around each DMA, show the way the data went;
 * the CPU pointers of the buffers show that it arrived, and arrived only
 * where it was sent.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hetmem/dma-mapping.h>
#include <hetmem/memremap.h>
#include <hetmem/pci-p2pdma.h>
#include <hetmem/pci.h>

#include "demo.h"
#include "hetmem.h"
#include "p2p.h"

#define P2P_MAX_XFER   9 /* up to 8 providers, and the bounce */
#define PCI_CLASS_NVME 0x010802

/*
 * One DMA write by the initiator: into a provider's p2pmem, or (@provider
 * NULL) into host memory on the bounce path.
 */
struct transfer {
	struct pci_dev *provider;
	enum pci_p2pdma_map_type type; /* provider -> initiator */
	void *buf; /* p2pmem, or the malloc'd buffer */
	size_t len;
	uint64_t seed;
	dma_addr_t addr; /* what dma_map_single() returned */
	int map_err; /* and dma_mapping_error() of it */
	bool mapped; /* to be unmapped */
	int route_err; /* what pci_route() predicted */
	struct pci_route route;
	int err; /* what pci_dma_write() returned */
	double seconds;
	struct demo_counters delta; /* what the DMA moved */
};

/*
 * The bounce path's second half: the CPU copies the host buffer into
 * p2pmem of @provider.
 */
struct bounce {
	struct transfer *dma; /* the DMA into host memory */
	struct pci_dev *provider;
	void *buf; /* its p2pmem */
	size_t len;
	double seconds;
	const struct transfer *direct; /* the P2P transfer to compare with */
};

/* The step: who writes, the transfers, the results. */
struct p2p {
	struct demo *d;
	struct pci_dev *initiator;
	struct transfer xfer[P2P_MAX_XFER];
	unsigned int nr_xfer;
	struct bounce bounce;
	uint64_t *pattern; /* scratch: the data the initiator sends */
	size_t len;
};

/* --- moving data ------------------------------------------------------------------ */

/* splitmix64: every word differs, and each transfer gets its own sequence. */
static void fill_pattern(uint64_t *buf, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len / sizeof(*buf); i++) {
		uint64_t z = seed + (i + 1) * 0x9e3779b97f4a7c15ULL;

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		buf[i] = z ^ (z >> 31);
	}
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Map @x's buffer for the initiator and have the initiator write its
 * pattern there, counting what moved. A buffer the initiator cannot reach
 * is not an error of the step: the checks compare the refusal with the
 * map type.
 */
static int p2p_transfer(struct p2p *p, struct transfer *x)
{
	struct demo_counters before;
	double start;
	int ret;

	ret = demo_counters_alloc(p->d, &before);
	if (!ret)
		ret = demo_counters_alloc(p->d, &x->delta);
	if (ret) {
		demo_counters_free(&before);
		return ret;
	}

	/* Start from zeroes, so whatever is there afterwards came by DMA. */
	memset(x->buf, 0, x->len);
	x->addr = dma_map_single(p->initiator, x->buf, x->len, DMA_FROM_DEVICE);
	x->map_err = dma_mapping_error(p->initiator, x->addr);
	if (x->map_err)
		goto out;
	x->mapped = true;
	x->route_err = pci_route(p->initiator, x->addr, x->len, true, &x->route);

	fill_pattern(p->pattern, x->len, x->seed);
	demo_counters_read(p->d, &before);
	start = now_seconds();
	x->err = pci_dma_write(p->initiator, x->addr, p->pattern, x->len);
	x->seconds = now_seconds() - start;
	demo_counters_read(p->d, &x->delta);
	demo_counters_sub(p->d, &x->delta, &before);
out:
	demo_counters_free(&before);
	return 0;
}

/* The providers the initiator writes into, with their buffers. */
static int p2p_choose(struct p2p *p)
{
	struct cli_p2p_provider prov;
	size_t len;

	for (size_t i = 0; i < p->d->nr_dev && !p->initiator; i++)
		if (pci_dev_class(p->d->dev[i]) == PCI_CLASS_NVME)
			p->initiator = p->d->dev[i];
	if (!p->initiator) {
		fprintf(stderr, "%s: the machine has no NVMe controller to DMA from\n", p->d->prog);
		return -ENODEV;
	}

	for (size_t i = 0; i < p->d->nr_dev && p->nr_xfer < P2P_MAX_XFER - 1; i++) {
		struct transfer *x = &p->xfer[p->nr_xfer];

		if (!pci_has_p2pmem(p->d->dev[i]) || cli_p2p_provider_get(p->d->dev[i], &prov))
			continue;
		/* Half the pool at most: the bounce path needs a second buffer. */
		len = p->len < prov.available / 2 ? p->len : prov.available / 2;
		len &= PAGE_MASK;
		if (!len)
			continue;
		x->buf = pci_alloc_p2pmem(p->d->dev[i], len);
		if (!x->buf) {
			fprintf(stderr, "%s: cannot allocate %zu bytes of %s's p2pmem\n",
				p->d->prog, len, pci_dev_label(p->d->dev[i]));
			return -ENOMEM;
		}
		x->provider = p->d->dev[i];
		x->len = len;
		x->type = pci_p2pdma_map_type_of(x->provider, p->initiator, NULL, 0);
		/* Far apart, so no buffer's pattern is another's shifted. */
		x->seed = (uint64_t)(p->nr_xfer + 1) << 48;
		p->nr_xfer++;
	}
	if (!p->nr_xfer) {
		fprintf(stderr, "%s: the machine has no published p2pmem\n", p->d->prog);
		return -ENODEV;
	}
	return 0;
}

/*
 * The bounce path: a DMA into a malloc'd buffer, then a CPU copy into the
 * p2pmem of the provider closest to the initiator, the one a P2P transfer
 * would have used.
 */
static int p2p_bounce(struct p2p *p)
{
	struct bounce *b = &p->bounce;
	struct transfer *x = &p->xfer[p->nr_xfer];
	double start;
	int ret;

	b->provider = pci_p2pmem_find(p->initiator);
	if (!b->provider)
		b->provider = p->xfer[0].provider;
	for (unsigned int i = 0; i < p->nr_xfer; i++)
		if (p->xfer[i].provider == b->provider)
			b->direct = &p->xfer[i];
	x->len = b->direct ? b->direct->len : p->xfer[0].len;
	x->seed = (uint64_t)(p->nr_xfer + 1) << 48;
	x->buf = malloc(x->len);
	b->len = x->len;
	b->buf = pci_alloc_p2pmem(b->provider, b->len);
	if (!x->buf || !b->buf) {
		fprintf(stderr, "%s: cannot allocate the bounce path's %zu-byte buffers\n",
			p->d->prog, x->len);
		free(x->buf);
		x->buf = NULL;
		return -ENOMEM;
	}
	b->dma = x;
	p->nr_xfer++;

	ret = p2p_transfer(p, x);
	if (ret || x->map_err || x->err)
		return ret;

	memset(b->buf, 0, x->len);
	start = now_seconds();
	memcpy(b->buf, x->buf, x->len);
	b->seconds = now_seconds() - start;
	return 0;
}

/* --- printing ---------------------------------------------------------------------- */

static const char *xfer_target(const struct transfer *x)
{
	return x->provider ? pci_dev_label(x->provider) : "host memory";
}

static void print_rate(size_t len, double seconds)
{
	if (seconds > 0)
		printf("%.2f ms (%.2f GB/s)", seconds * 1e3, (double)len / seconds / 1e9);
}

static void print_dma(const struct p2p *p, const struct transfer *x)
{
	const char *ini = pci_dev_label(p->initiator);
	char size[32];

	if (x->map_err) {
		printf("    dma_map_single() refused: %s\n", strerror(-x->map_err));
		return;
	}
	printf("    dma_map_single(%s) = 0x%" PRIx64 ": ", ini, x->addr);
	if (x->route_err)
		printf("the fabric refuses it (%s)\n", strerror(-x->route_err));
	else if (!x->route.through_rc)
		printf("the BAR's bus address\n");
	else if (x->route.cpu_addr == x->addr)
		printf("the CPU address, untranslated\n");
	else
		printf("an IOVA the IOMMU maps to 0x%" PRIx64 "\n", x->route.cpu_addr);

	printf("    %s's function writes %s: ", ini, cli_format_size(size, sizeof(size), x->len));
	if (x->route_err) {
		printf("refused (%s)", strerror(-x->route_err));
	} else if (x->route.through_rc) {
		printf("through root complex %s", pci_host_bridge_name(x->route.rc[0]));
		if (x->route.rc[1])
			printf(" and %s", pci_host_bridge_name(x->route.rc[1]));
	} else {
		printf("switch-local");
	}
	if (x->err && x->err != x->route_err) {
		printf(", failed: %s\n", strerror(-x->err));
		return;
	}
	if (!x->err) {
		printf(", ");
		print_rate(x->len, x->seconds);
	}
	printf("\n");
}

static void print_transfers(const struct p2p *p)
{
	const struct bounce *b = &p->bounce;
	char size[32];

	printf("\n== Peer-to-peer DMA: %s (%s) writes into GPU p2pmem ==\n\n",
	       pci_dev_label(p->initiator), pci_name(p->initiator));
	printf("  (No NVMe controller model yet: %s's function issues the DMA writes a read\n"
	       "  command would, to the address the DMA layer mapped for it.)\n",
	       pci_dev_label(p->initiator));
	for (unsigned int i = 0; i < p->nr_xfer; i++) {
		const struct transfer *x = &p->xfer[i];

		if (!x->provider)
			continue;
		printf("\n  %s: %s of p2pmem at %p, bus address 0x%" PRIx64 ", map type %s\n",
		       pci_dev_label(x->provider), cli_format_size(size, sizeof(size), x->len),
		       x->buf, pci_p2pmem_virt_to_bus(x->provider, x->buf),
		       cli_p2p_map_type_name(x->type));
		print_dma(p, x);
	}

	if (!b->dma)
		return;
	printf("\n== Bounce path: through host memory into %s's p2pmem ==\n\n",
	       pci_dev_label(b->provider));
	printf("  host memory: %s malloc'd at %p\n",
	       cli_format_size(size, sizeof(size), b->dma->len), b->dma->buf);
	print_dma(p, b->dma);
	if (b->dma->map_err || b->dma->err)
		return;
	printf("    the CPU copies it into %s's p2pmem at %p: ", pci_dev_label(b->provider),
	       b->buf);
	print_rate(b->dma->len, b->seconds);
	printf("\n");
	if (b->direct && !b->direct->err && !b->direct->map_err)
		printf("  DMA plus copy: %.2f ms; the direct peer-to-peer DMA into %s: %.2f ms\n",
		       (b->dma->seconds + b->seconds) * 1e3, pci_dev_label(b->provider),
		       b->direct->seconds * 1e3);
	printf("  (the CPU's copy is not fabric traffic here: the emulation maps BAR memory\n"
	       "  directly, so the counters below show only the DMA.)\n");
}

static void print_counter_table(const struct p2p *p)
{
	struct demo_column col[P2P_MAX_XFER];
	char title[P2P_MAX_XFER][64];

	printf("\n== Link counters: bytes each DMA moved (up = toward the root complex) ==\n\n");
	for (unsigned int i = 0; i < p->nr_xfer; i++) {
		snprintf(title[i], sizeof(title[i]), "%s -> %s", pci_dev_label(p->initiator),
			 xfer_target(&p->xfer[i]));
		col[i].title = title[i];
		col[i].delta = &p->xfer[i].delta;
	}
	demo_print_counters(p->d, col, p->nr_xfer);
}

/* --- checking ---------------------------------------------------------------------- */

/* Where @buf differs from @x's pattern, or -1 when it does not. */
static long long first_mismatch(struct p2p *p, const struct transfer *x, const void *buf)
{
	const uint64_t *got = buf;

	fill_pattern(p->pattern, x->len, x->seed);
	if (!memcmp(got, p->pattern, x->len))
		return -1;
	for (size_t i = 0; i < x->len / sizeof(*got); i++)
		if (got[i] != p->pattern[i])
			return (long long)(i * sizeof(*got));
	return -1;
}

static bool all_zero(const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

/* @who: the path, as the check's line names it; @where: @buf, as it names it. */
static void check_data(struct p2p *p, const struct transfer *x, const char *who, const void *buf,
		       const char *where)
{
	long long off;

	if (x->map_err || x->err) {
		demo_check(p->d, all_zero(buf, x->len), "%s: nothing landed in %s", who, where);
		return;
	}
	off = first_mismatch(p, x, buf);
	if (off < 0)
		demo_check(p->d, true, "%s: data verified through %s", who, where);
	else
		demo_check(p->d, false, "%s: %s differs from what was sent at offset 0x%llx", who,
			   where, off);
}

/* The mapping: refused exactly when the map type says the client cannot reach the memory. */
static bool check_mapping(struct p2p *p, const struct transfer *x)
{
	const char *ini = pci_dev_label(p->initiator), *tgt = xfer_target(x);

	if (x->provider && x->type == PCI_P2PDMA_MAP_NOT_SUPPORTED) {
		demo_check(p->d, x->map_err == -EREMOTEIO,
			   "%s -> %s: dma_map_single() refused NOT_SUPPORTED p2pmem (%s)", ini, tgt,
			   x->map_err ? strerror(-x->map_err) : "it did not");
		return false;
	}
	demo_check(p->d, !x->map_err, "%s -> %s: dma_map_single() mapped it%s%s", ini, tgt,
		   x->map_err ? ": " : "", x->map_err ? strerror(-x->map_err) : "");
	if (x->map_err)
		return false;
	if (x->provider && x->type == PCI_P2PDMA_MAP_BUS_ADDR)
		demo_check(p->d, x->addr == pci_p2pmem_virt_to_bus(x->provider, x->buf),
			   "%s -> %s: BUS_ADDR, so the DMA address is the bus address "
			   "(pci_p2pmem_virt_to_bus())",
			   ini, tgt);
	return true;
}

/* The fabric sends the DMA address where the CPU pointer is, the way the map type says. */
static void check_route(struct p2p *p, const struct transfer *x)
{
	const char *ini = pci_dev_label(p->initiator), *tgt = xfer_target(x);
	const struct pci_route *r = &x->route;
	bool there;

	if (x->provider) {
		char *bar = r->kind == PCI_ROUTE_PEER ? pci_iomap(r->target, r->bar) : NULL;
		bool thru = x->type == PCI_P2PDMA_MAP_THRU_HOST_BRIDGE;

		there = !x->route_err && r->target == x->provider && bar &&
			bar + r->offset == (char *)x->buf;
		demo_check(p->d, there,
			   "%s -> %s: the fabric routes 0x%" PRIx64 " to the buffer in %s BAR%d",
			   ini, tgt, x->addr, tgt, r->bar);
		demo_check(p->d, !x->route_err && r->through_rc == thru,
			   "%s -> %s: %s, as map type %s says", ini, tgt,
			   r->through_rc ? "through the root complex" : "switch-local",
			   cli_p2p_map_type_name(x->type));
	} else {
		there = !x->route_err && r->kind == PCI_ROUTE_HOST_MEMORY &&
			r->cpu_addr == (uintptr_t)x->buf;
		demo_check(p->d, there,
			   "%s -> %s: the fabric routes 0x%" PRIx64 " to the malloc'd buffer", ini,
			   tgt, x->addr);
	}
}

/*
 * What the counters must show, from the PCIe rules alone: the posted write
 * leaves the initiator in full; a switch-local one reaches the provider's
 * link and leaves the root port and every root complex untouched; one
 * through the root complex goes up the initiator's root port, and there
 * counts as peer traffic that comes down the provider's root port, or as
 * a write to host memory.
 */
static void check_counters(struct p2p *p, const struct transfer *x)
{
	const char *ini = pci_dev_label(p->initiator), *tgt = xfer_target(x);
	const struct pci_link_stats *src = demo_link(p->d, &x->delta, p->initiator);
	struct pci_dev *src_rp = demo_root_port_of(p->initiator);
	uint64_t up = src_rp ? demo_link(p->d, &x->delta, src_rp)->bytes[PCI_LINK_UP] : x->len;

	demo_check(p->d, !x->err && !x->route_err, "%s -> %s: DMA completed%s%s", ini, tgt,
		   x->err ? ": " : "", x->err ? strerror(-x->err) : "");
	if (x->err || x->route_err)
		return;

	if (!x->provider) {
		const struct pci_rc_stats *rc = demo_rc(p->d, &x->delta, x->route.rc[0]);

		demo_check(p->d,
			   src->bytes[PCI_LINK_UP] == x->len && up == x->len &&
				   rc->mem_bytes[0] == x->len && !rc->p2p_bytes,
			   "%s -> %s: crossed root complex %s into memory (%" PRIu64 " bytes up "
			   "%s, %" PRIu64 " written to memory, %" PRIu64 " peer bytes)",
			   ini, tgt, pci_host_bridge_name(x->route.rc[0]), up,
			   src_rp ? pci_dev_label(src_rp) : "-", rc->mem_bytes[0], rc->p2p_bytes);
		return;
	}

	demo_check(p->d,
		   src->bytes[PCI_LINK_UP] == x->len &&
			   demo_link(p->d, &x->delta, x->provider)->bytes[PCI_LINK_DOWN] == x->len,
		   "%s -> %s: %" PRIu64 " bytes left %s, %" PRIu64 " reached %s (sent %zu)", ini,
		   tgt, src->bytes[PCI_LINK_UP], ini,
		   demo_link(p->d, &x->delta, x->provider)->bytes[PCI_LINK_DOWN], tgt, x->len);

	if (!x->route.through_rc) {
		uint64_t rp_bytes = 0;

		if (src_rp)
			rp_bytes = demo_link(p->d, &x->delta, src_rp)->bytes[PCI_LINK_UP] +
				   demo_link(p->d, &x->delta, src_rp)->bytes[PCI_LINK_DOWN];
		demo_check(p->d, !demo_rc_bytes(p->d, &x->delta) && !rp_bytes,
			   "%s -> %s: switch-local, never reached the root complex "
			   "(%" PRIu64 " bytes on %s, %" PRIu64 " through root complexes)",
			   ini, tgt, rp_bytes, src_rp ? pci_dev_label(src_rp) : "the root port",
			   demo_rc_bytes(p->d, &x->delta));
	} else {
		const struct pci_rc_stats *rc = demo_rc(p->d, &x->delta, x->route.rc[0]);
		struct pci_dev *dst_rp = demo_root_port_of(x->provider);
		uint64_t down =
			dst_rp ? demo_link(p->d, &x->delta, dst_rp)->bytes[PCI_LINK_DOWN] : x->len;

		demo_check(p->d, rc->p2p_bytes == x->len && up == x->len && down == x->len,
			   "%s -> %s: crossed root complex %s (%" PRIu64 " peer bytes, "
			   "%" PRIu64 " up %s, %" PRIu64 " down %s)",
			   ini, tgt, pci_host_bridge_name(x->route.rc[0]), rc->p2p_bytes, up,
			   src_rp ? pci_dev_label(src_rp) : "-", down,
			   dst_rp ? pci_dev_label(dst_rp) : "-");
	}
}

/*
 * Every check, after every DMA ran: a write that went to the wrong buffer
 * would have overwritten another's pattern.
 */
static void p2p_check(struct p2p *p)
{
	const struct bounce *b = &p->bounce;

	char who[64];

	printf("\n== Checks: peer-to-peer DMA and the bounce path ==\n\n");
	for (unsigned int i = 0; i < p->nr_xfer; i++) {
		const struct transfer *x = &p->xfer[i];

		if (check_mapping(p, x)) {
			check_route(p, x);
			check_counters(p, x);
		}
		snprintf(who, sizeof(who), "%s -> %s", pci_dev_label(p->initiator), xfer_target(x));
		check_data(p, x, who, x->buf,
			   x->provider ? "the p2pmem CPU pointer" : "the malloc'd buffer");
	}
	if (b->dma && !b->dma->map_err && !b->dma->err) {
		snprintf(who, sizeof(who), "%s -> host memory -> %s", pci_dev_label(p->initiator),
			 pci_dev_label(b->provider));
		check_data(p, b->dma, who, b->buf, "the p2pmem CPU pointer after the CPU copy");
	}
}

/* --- the step ------------------------------------------------------------------------ */

/* Unmap and free every buffer; the step's other state stays for check_pools(). */
static void p2p_release(struct p2p *p)
{
	struct bounce *b = &p->bounce;

	for (unsigned int i = 0; i < P2P_MAX_XFER; i++) {
		struct transfer *x = &p->xfer[i];

		if (x->mapped)
			dma_unmap_single(p->initiator, x->addr, x->len, DMA_FROM_DEVICE);
		x->mapped = false;
		if (x->provider && x->buf)
			pci_free_p2pmem(x->provider, x->buf, x->len);
		else
			free(x->buf);
		x->buf = NULL;
		demo_counters_free(&x->delta);
	}
	if (b->buf)
		pci_free_p2pmem(b->provider, b->buf, b->len);
	b->buf = NULL;
}

/* After the frees, every pool is whole again: nothing leaked, nothing freed twice. */
static void check_pools(struct p2p *p)
{
	struct cli_p2p_provider prov;
	bool whole = true;
	unsigned int n = 0;

	for (size_t i = 0; i < p->d->nr_dev; i++) {
		if (cli_p2p_provider_get(p->d->dev[i], &prov))
			continue;
		n++;
		whole &= prov.available == prov.size;
	}
	demo_check(p->d, whole, "unmapped and freed: all %u p2pmem pools whole again", n);
}

static int p2p_run(struct p2p *p)
{
	int ret;

	ret = p2p_choose(p);
	if (ret)
		return ret;
	p->pattern = malloc(p->len);
	if (!p->pattern)
		goto oom;

	/* A function may only issue DMA once its driver enabled bus mastering. */
	pci_set_master(p->initiator);
	for (unsigned int i = 0; i < p->nr_xfer && !ret; i++)
		ret = p2p_transfer(p, &p->xfer[i]);
	if (ret)
		goto oom;
	ret = p2p_bounce(p);
	if (ret)
		return ret;

	print_transfers(p);
	print_counter_table(p);
	p2p_check(p);
	return 0;

oom:
	fprintf(stderr, "%s: out of memory\n", p->d->prog);
	return -ENOMEM;
}

int demo_p2p_dma(struct demo *d, size_t len)
{
	struct p2p p = { .d = d, .len = len };
	int ret;

	ret = p2p_run(&p);
	p2p_release(&p);
	if (!ret)
		check_pools(&p);
	free(p.pattern);
	return ret;
}
