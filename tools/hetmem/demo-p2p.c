// SPDX-License-Identifier: MIT
/*
 * hetmem demo, the peer-to-peer DMA step.
 *
 * The NVMe controller's function writes a pattern into the memory BAR of
 * every GPU (every other endpoint with a prefetchable memory BAR). A GPU
 * below the same switch is reached switch-locally; one below another root
 * port only through the root complex. The link counters, read around each
 * transfer, show the way the data went, and the CPU's mapping of each BAR
 * shows that it arrived, and arrived only where it was sent.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hetmem/iommu.h>
#include <hetmem/pci.h>

#include "demo.h"

#define P2P_MAX_TARGETS 8
#define PCI_CLASS_NVME	0x010802

/* Every counter of the fabric at one moment, or the difference of two. */
struct counters {
	struct pci_link_stats *link; /* per function, in p2p.dev order */
	struct pci_rc_stats *rc; /* per host bridge, in p2p.hb order */
};

/*
 * What the initiator puts on the wire to reach a peer's BAR, as the
 * kernel's P2P DMA mapping decides it (enum pci_p2pdma_map_type).
 */
enum p2p_path {
	P2P_BUS_ADDR, /* below a common switch: the BAR's bus address */
	P2P_HOST_DIRECT, /* through the root complex, untranslated: its CPU address */
	P2P_HOST_IOVA, /* through the root complex and the IOMMU: an IOVA mapped to it */
};

/* One DMA from the initiator into a target's memory BAR. */
struct transfer {
	struct pci_dev *target;
	int bar;
	uint64_t bus; /* the BAR's bus address */
	uint64_t cpu; /* and its CPU address */
	enum p2p_path path;
	uint64_t addr; /* the DMA address used */
	bool mapped; /* this step mapped @addr in the IOMMU */
	size_t len;
	uint64_t seed;
	int route_err; /* what pci_route() predicted */
	struct pci_route route;
	int err; /* what pci_dma_write() returned */
	double seconds;
	struct counters delta; /* what the transfer moved */
};

/* The step: the fabric's functions and counters, who talks to whom, the results. */
struct p2p {
	struct demo *d;
	struct pci_dev **dev;
	size_t nr_dev;
	struct pci_host_bridge **hb;
	size_t nr_hb;
	struct pci_dev *initiator;
	struct iommu_domain *domain; /* the initiator's, if it has one */
	bool own_domain; /* allocated and attached by the step */
	struct transfer xfer[P2P_MAX_TARGETS];
	unsigned int nr_xfer;
};

static int p2p_collect(struct p2p *p)
{
	struct pci_host_bridge *hb;
	struct pci_dev *dev;
	size_t i;

	for (dev = pci_fabric_next_dev(p->d->f, NULL); dev; dev = pci_fabric_next_dev(p->d->f, dev))
		p->nr_dev++;
	for (hb = pci_fabric_next_host_bridge(p->d->f, NULL); hb;
	     hb = pci_fabric_next_host_bridge(p->d->f, hb))
		p->nr_hb++;

	p->dev = calloc(p->nr_dev, sizeof(*p->dev));
	p->hb = calloc(p->nr_hb, sizeof(*p->hb));
	if ((p->nr_dev && !p->dev) || (p->nr_hb && !p->hb))
		return -ENOMEM;

	i = 0;
	for (dev = pci_fabric_next_dev(p->d->f, NULL); dev; dev = pci_fabric_next_dev(p->d->f, dev))
		p->dev[i++] = dev;
	i = 0;
	for (hb = pci_fabric_next_host_bridge(p->d->f, NULL); hb;
	     hb = pci_fabric_next_host_bridge(p->d->f, hb))
		p->hb[i++] = hb;
	return 0;
}

static int counters_alloc(const struct p2p *p, struct counters *c)
{
	c->link = calloc(p->nr_dev ? p->nr_dev : 1, sizeof(*c->link));
	c->rc = calloc(p->nr_hb ? p->nr_hb : 1, sizeof(*c->rc));
	return c->link && c->rc ? 0 : -ENOMEM;
}

static void counters_free(struct counters *c)
{
	free(c->link);
	free(c->rc);
}

static void counters_read(const struct p2p *p, struct counters *c)
{
	for (size_t i = 0; i < p->nr_dev; i++)
		pci_link_stats_get(p->dev[i], &c->link[i]);
	for (size_t i = 0; i < p->nr_hb; i++)
		pci_rc_stats_get(p->hb[i], &c->rc[i]);
}

/* @after becomes @after - @before. */
static void counters_sub(const struct p2p *p, struct counters *after, const struct counters *before)
{
	for (size_t i = 0; i < p->nr_dev; i++) {
		for (int dir = 0; dir < 2; dir++) {
			after->link[i].bytes[dir] -= before->link[i].bytes[dir];
			after->link[i].tlps[dir] -= before->link[i].tlps[dir];
		}
	}
	for (size_t i = 0; i < p->nr_hb; i++) {
		struct pci_rc_stats *a = &after->rc[i];
		const struct pci_rc_stats *b = &before->rc[i];

		a->mem_bytes[0] -= b->mem_bytes[0];
		a->mem_bytes[1] -= b->mem_bytes[1];
		a->p2p_bytes -= b->p2p_bytes;
		a->iommu_faults -= b->iommu_faults;
		a->unsupported -= b->unsupported;
	}
}

static const struct pci_link_stats *link_delta(const struct p2p *p, const struct transfer *x,
					       const struct pci_dev *dev)
{
	static const struct pci_link_stats none;

	for (size_t i = 0; i < p->nr_dev; i++)
		if (p->dev[i] == dev)
			return &x->delta.link[i];
	return &none;
}

static const struct pci_rc_stats *rc_delta(const struct p2p *p, const struct transfer *x,
					   const struct pci_host_bridge *hb)
{
	static const struct pci_rc_stats none;

	for (size_t i = 0; i < p->nr_hb; i++)
		if (p->hb[i] == hb)
			return &x->delta.rc[i];
	return &none;
}

/* The port on the root bus that @dev is below, or NULL on the root bus itself. */
static struct pci_dev *root_port_of(struct pci_dev *dev)
{
	struct pci_dev *rp = NULL;

	for (struct pci_dev *up = pci_upstream_bridge(dev); up; up = pci_upstream_bridge(up))
		rp = up;
	return rp;
}

static unsigned int depth_of(const struct pci_dev *dev)
{
	unsigned int depth = 0;

	for (struct pci_dev *up = pci_upstream_bridge(dev); up; up = pci_upstream_bridge(up))
		depth++;
	return depth;
}

/*
 * Whether PCIe routing keeps a request from @a to @b below a switch: they
 * share a switch (their lowest common bridge is its upstream port) and the
 * downstream port the request enters by does not redirect requests up (ACS
 * P2P Request Redirect). Worked out from the topology and configuration
 * space alone, to hold the fabric's routing to.
 */
static bool switch_local(struct pci_dev *a, struct pci_dev *b)
{
	struct pci_dev *entry = NULL, *common = NULL;
	unsigned int acs;
	uint16_t ctrl = 0;

	for (struct pci_dev *up = pci_upstream_bridge(a); up && !common;
	     up = pci_upstream_bridge(up)) {
		for (struct pci_dev *o = pci_upstream_bridge(b); o; o = pci_upstream_bridge(o)) {
			if (o == up) {
				common = up;
				break;
			}
		}
		if (!common)
			entry = up;
	}
	if (!common || !entry || pci_pcie_type(common) != PCI_EXP_TYPE_UPSTREAM)
		return false;

	acs = pci_find_ext_capability(entry, PCI_EXT_CAP_ID_ACS);
	if (acs)
		pci_read_config_word(entry, (int)acs + PCI_ACS_CTRL, &ctrl);
	return !(ctrl & PCI_ACS_RR);
}

/* --- choosing who talks to whom -------------------------------------------- */

/*
 * The BAR a peer would publish as P2P memory: memory the CPU maps directly,
 * prefetchable, the largest such. Register BARs are not memory.
 */
static int p2p_bar_of(struct pci_dev *dev)
{
	uint64_t best_len = 0;
	int best = -1;

	for (int bar = 0; bar < PCI_STD_NUM_BARS_HM; bar++) {
		uint64_t len = pci_resource_len(dev, bar);

		if (!(pci_resource_flags(dev, bar) & PCI_BAR_PREFETCH) || !pci_iomap(dev, bar))
			continue;
		if (len > best_len) {
			best_len = len;
			best = bar;
		}
	}
	return best;
}

static int p2p_choose(struct p2p *p, size_t len)
{
	for (size_t i = 0; i < p->nr_dev && !p->initiator; i++)
		if (pci_dev_class(p->dev[i]) == PCI_CLASS_NVME)
			p->initiator = p->dev[i];
	if (!p->initiator) {
		fprintf(stderr, "%s: the machine has no NVMe controller to DMA from\n", p->d->prog);
		return -ENODEV;
	}

	for (size_t i = 0; i < p->nr_dev && p->nr_xfer < P2P_MAX_TARGETS; i++) {
		struct pci_dev *dev = p->dev[i];
		struct transfer *x = &p->xfer[p->nr_xfer];
		int bar;

		if (dev == p->initiator || pci_is_bridge(dev))
			continue;
		bar = p2p_bar_of(dev);
		if (bar < 0)
			continue;

		x->target = dev;
		x->bar = bar;
		x->bus = pci_bus_address(dev, bar);
		x->cpu = pci_resource_start(dev, bar);
		x->len = len < pci_resource_len(dev, bar) ? len : pci_resource_len(dev, bar);
		/* Far apart, so no target's pattern is another's shifted. */
		x->seed = (uint64_t)(p->nr_xfer + 1) << 48;
		p->nr_xfer++;
	}
	if (!p->nr_xfer) {
		fprintf(stderr, "%s: the machine has no device with a prefetchable memory BAR\n",
			p->d->prog);
		return -ENODEV;
	}
	return 0;
}

/* --- addressing a peer -------------------------------------------------------- */

static bool route_reaches(const struct pci_route *r, const struct transfer *x)
{
	return r->kind == PCI_ROUTE_PEER && r->target == x->target && r->bar == x->bar &&
	       r->offset == 0;
}

/*
 * The initiator's I/O page table, for a peer reached through the root
 * complex. A device attached to no domain gets one, as a DMA API user
 * would. NULL without error when this build has no IOMMU at all: then
 * every address passes untranslated.
 */
static int p2p_get_domain(struct p2p *p)
{
	int ret;

	if (p->domain)
		return 0;
	p->domain = iommu_get_domain_for_dev(p->initiator);
	if (p->domain)
		return 0;
	p->domain = iommu_domain_alloc();
	if (!p->domain)
		return 0;
	ret = iommu_attach_device(p->domain, p->initiator);
	if (ret) {
		iommu_domain_free(p->domain);
		p->domain = NULL;
		return ret;
	}
	p->own_domain = true;
	return 0;
}

/*
 * Choose the DMA address the way the kernel maps P2P memory: if a request
 * at the BAR's bus address turns around below a switch, that bus address
 * it is. Otherwise the request must cross the root complex, which only
 * knows CPU addresses: it carries the BAR's CPU address, as an IOVA
 * mapped to it when the initiator's host bridge translates (identity
 * mapped here, as a direct-mapping DMA layer would), or as-is.
 */
static int p2p_address_peer(struct p2p *p, struct transfer *x)
{
	const struct pci_host_bridge_info *hbi;
	struct pci_route r;
	int ret;

	if (!pci_route(p->initiator, x->bus, x->len, true, &r) && route_reaches(&r, x) &&
	    !r.through_rc) {
		x->path = P2P_BUS_ADDR;
		x->addr = x->bus;
		return 0;
	}

	x->path = P2P_HOST_DIRECT;
	x->addr = x->cpu;
	hbi = pci_host_bridge_info_get(pci_host_bridge_of(p->initiator));
	if (hbi->iommu_passthrough)
		return 0;
	ret = p2p_get_domain(p);
	if (ret || !p->domain)
		return ret;

	x->path = P2P_HOST_IOVA;
	ret = iommu_map(p->domain, x->addr, x->cpu, x->len, IOMMU_READ | IOMMU_WRITE);
	if (!ret)
		x->mapped = true;
	else if (ret == -EEXIST && iommu_iova_to_phys(p->domain, x->addr) == x->cpu)
		ret = 0; /* someone mapped it already, the same way */
	return ret;
}

/* --- moving and checking data ----------------------------------------------- */

/* splitmix64: every word differs, and each target gets its own sequence. */
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

static int p2p_transfer(struct p2p *p, struct transfer *x, uint64_t *buf)
{
	struct counters before;
	double start;
	int ret;

	ret = counters_alloc(p, &before);
	if (!ret)
		ret = counters_alloc(p, &x->delta);
	if (ret) {
		fprintf(stderr, "%s: out of memory\n", p->d->prog);
		counters_free(&before);
		return ret;
	}

	ret = p2p_address_peer(p, x);
	if (ret) {
		fprintf(stderr, "%s: cannot map %s BAR%d for %s: %s\n", p->d->prog,
			pci_dev_label(x->target), x->bar, pci_dev_label(p->initiator),
			strerror(-ret));
		goto out;
	}
	x->route_err = pci_route(p->initiator, x->addr, x->len, true, &x->route);

	/* Start from zeroes, so whatever is there afterwards came by DMA. */
	memset(pci_iomap(x->target, x->bar), 0, x->len);
	fill_pattern(buf, x->len, x->seed);

	counters_read(p, &before);
	start = now_seconds();
	x->err = pci_dma_write(p->initiator, x->addr, buf, x->len);
	x->seconds = now_seconds() - start;
	counters_read(p, &x->delta);
	counters_sub(p, &x->delta, &before);
out:
	counters_free(&before);
	return ret;
}

static void format_size(char *s, size_t n, uint64_t bytes)
{
	if (bytes >= (1 << 20) && !(bytes & ((1 << 20) - 1)))
		snprintf(s, n, "%" PRIu64 " MiB", bytes >> 20);
	else if (bytes >= (1 << 10) && !(bytes & ((1 << 10) - 1)))
		snprintf(s, n, "%" PRIu64 " KiB", bytes >> 10);
	else
		snprintf(s, n, "%" PRIu64 " bytes", bytes);
}

static void print_path(const struct transfer *x)
{
	if (x->route_err) {
		printf("refused: %s", strerror(-x->route_err));
	} else if (x->route.through_rc) {
		printf("through root complex %s", pci_host_bridge_name(x->route.rc[0]));
		if (x->route.rc[1])
			printf(" and %s", pci_host_bridge_name(x->route.rc[1]));
	} else {
		printf("switch-local");
	}
}

static void print_transfers(const struct p2p *p)
{
	char size[32];

	printf("\n== Peer-to-peer DMA: %s (%s) writes into GPU memory ==\n\n",
	       pci_dev_label(p->initiator), pci_name(p->initiator));
	for (unsigned int i = 0; i < p->nr_xfer; i++) {
		const struct transfer *x = &p->xfer[i];

		format_size(size, sizeof(size), x->len);
		printf("  %s -> %s BAR%d, %s: ", pci_dev_label(p->initiator),
		       pci_dev_label(x->target), x->bar, size);
		print_path(x);
		if (!x->err && x->seconds > 0)
			printf(", %.2f ms (%.2f GB/s)\n", x->seconds * 1e3,
			       (double)x->len / x->seconds / 1e9);
		else if (x->err && x->err != x->route_err)
			printf(", failed: %s\n", strerror(-x->err));
		else
			printf("\n");

		printf("      DMA address 0x%" PRIx64 ": ", x->addr);
		switch (x->path) {
		case P2P_BUS_ADDR:
			printf("the BAR's bus address\n");
			break;
		case P2P_HOST_DIRECT:
			printf("the BAR's CPU address, untranslated\n");
			break;
		case P2P_HOST_IOVA:
			printf("an IOVA the IOMMU maps to the BAR's CPU address 0x%" PRIx64 "\n",
			       x->cpu);
			break;
		}
	}
}

#define NAME_COLUMN   18
#define ADDR_COLUMN   14
#define NUMBER_COLUMN 11

static void print_counter_table(const struct p2p *p)
{
	char title[64];

	printf("\n== Link counters: bytes each transfer moved (up = toward the root complex) ==\n\n");

	printf("  %-*s%-*s", NAME_COLUMN, "", ADDR_COLUMN, "");
	for (unsigned int i = 0; i < p->nr_xfer; i++) {
		snprintf(title, sizeof(title), "%s -> %s", pci_dev_label(p->initiator),
			 pci_dev_label(p->xfer[i].target));
		printf("  %*s", 2 * NUMBER_COLUMN, title);
	}
	printf("\n  %-*s%-*s", NAME_COLUMN, "link", ADDR_COLUMN, "address");
	for (unsigned int i = 0; i < p->nr_xfer; i++)
		printf("  %*s%*s", NUMBER_COLUMN, "up", NUMBER_COLUMN, "down");
	printf("\n");

	for (size_t n = 0; n < p->nr_dev; n++) {
		struct pci_dev *dev = p->dev[n];
		unsigned int indent = 2 * depth_of(dev);

		/* The host bridge function has no link of its own. */
		if (pci_pcie_type(dev) < 0)
			continue;
		printf("  %*s%-*s", (int)indent, "", (int)(NAME_COLUMN - indent),
		       pci_dev_label(dev));
		printf("%-*s", ADDR_COLUMN, pci_name(dev));
		for (unsigned int i = 0; i < p->nr_xfer; i++) {
			const struct pci_link_stats *s = &p->xfer[i].delta.link[n];

			printf("  %*" PRIu64 "%*" PRIu64, NUMBER_COLUMN, s->bytes[PCI_LINK_UP],
			       NUMBER_COLUMN, s->bytes[PCI_LINK_DOWN]);
		}
		printf("\n");
	}

	for (size_t h = 0; h < p->nr_hb; h++) {
		printf("  root complex %s\n", pci_host_bridge_name(p->hb[h]));
		printf("    %-*s", NAME_COLUMN + ADDR_COLUMN - 2, "peer-to-peer bytes");
		for (unsigned int i = 0; i < p->nr_xfer; i++)
			printf("  %*" PRIu64, 2 * NUMBER_COLUMN, p->xfer[i].delta.rc[h].p2p_bytes);
		printf("\n    %-*s", NAME_COLUMN + ADDR_COLUMN - 2, "host memory bytes");
		for (unsigned int i = 0; i < p->nr_xfer; i++) {
			const struct pci_rc_stats *rc = &p->xfer[i].delta.rc[h];

			printf("  %*" PRIu64, 2 * NUMBER_COLUMN,
			       rc->mem_bytes[0] + rc->mem_bytes[1]);
		}
		printf("\n");
	}
}

/* Where the pattern differs from the BAR, or -1 when it does not. */
static long long first_mismatch(const uint64_t *bar, const uint64_t *want, size_t len)
{
	if (!memcmp(bar, want, len))
		return -1;
	for (size_t i = 0; i < len / sizeof(*bar); i++)
		if (bar[i] != want[i])
			return (long long)(i * sizeof(*bar));
	return -1;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/*
 * The data, checked after every transfer has run: a transfer misrouted to
 * another GPU would have overwritten that GPU's pattern.
 */
static void check_data(struct p2p *p, const struct transfer *x, uint64_t *buf)
{
	const char *ini = pci_dev_label(p->initiator), *tgt = pci_dev_label(x->target);
	void *bar = pci_iomap(x->target, x->bar);
	long long off;

	if (x->err) {
		demo_check(p->d, all_zero(bar, x->len), "%s -> %s: nothing landed in BAR%d", ini,
			   tgt, x->bar);
		return;
	}
	fill_pattern(buf, x->len, x->seed);
	off = first_mismatch(bar, buf, x->len);
	if (off < 0)
		demo_check(p->d, true, "%s -> %s: data verified through the CPU mapping of BAR%d",
			   ini, tgt, x->bar);
	else
		demo_check(p->d, false,
			   "%s -> %s: BAR%d differs from what was sent at offset 0x%llx", ini, tgt,
			   x->bar, off);
}

/*
 * What the counters must show, from the PCIe rules alone: the posted write
 * leaves the initiator and reaches the target in full; a switch-local one
 * leaves the root port and the root complex untouched; one through the root
 * complex goes up the initiator's root port, counts as peer traffic there
 * and comes down the target's root port.
 */
static void check_counters(struct p2p *p, const struct transfer *x)
{
	const char *ini = pci_dev_label(p->initiator), *tgt = pci_dev_label(x->target);
	const struct pci_link_stats *src = link_delta(p, x, p->initiator);
	const struct pci_link_stats *dst = link_delta(p, x, x->target);
	struct pci_dev *src_rp = root_port_of(p->initiator), *dst_rp = root_port_of(x->target);

	if (x->route_err) {
		demo_check(p->d, x->err == x->route_err, "%s -> %s: refused as predicted (%s)", ini,
			   tgt, strerror(-x->err));
		demo_check(p->d, !dst->bytes[PCI_LINK_DOWN], "%s -> %s: no byte reached %s's link",
			   ini, tgt, tgt);
		return;
	}

	demo_check(p->d, !x->err, "%s -> %s: DMA completed", ini, tgt);
	demo_check(p->d, switch_local(p->initiator, x->target) == !x->route.through_rc,
		   "%s -> %s: %s, as the topology and ACS settings dictate", ini, tgt,
		   x->route.through_rc ? "routed through the root complex" :
					 "routed switch-locally");
	demo_check(p->d, src->bytes[PCI_LINK_UP] == x->len && dst->bytes[PCI_LINK_DOWN] == x->len,
		   "%s -> %s: %" PRIu64 " bytes left %s, %" PRIu64 " reached %s (sent %zu)", ini,
		   tgt, src->bytes[PCI_LINK_UP], ini, dst->bytes[PCI_LINK_DOWN], tgt, x->len);

	if (!x->route.through_rc) {
		uint64_t rc_bytes = 0, rp_bytes = 0;

		for (size_t h = 0; h < p->nr_hb; h++) {
			const struct pci_rc_stats *rc = &x->delta.rc[h];

			rc_bytes += rc->p2p_bytes + rc->mem_bytes[0] + rc->mem_bytes[1];
		}
		if (src_rp) {
			const struct pci_link_stats *rp = link_delta(p, x, src_rp);

			rp_bytes = rp->bytes[PCI_LINK_UP] + rp->bytes[PCI_LINK_DOWN];
		}
		demo_check(p->d, !rc_bytes && !rp_bytes,
			   "%s -> %s: switch-local, never reached the root complex "
			   "(%" PRIu64 " bytes on %s, %" PRIu64 " through root complexes)",
			   ini, tgt, rp_bytes, src_rp ? pci_dev_label(src_rp) : "the root port",
			   rc_bytes);
	} else {
		const struct pci_rc_stats *rc = rc_delta(p, x, x->route.rc[0]);
		uint64_t up = src_rp ? link_delta(p, x, src_rp)->bytes[PCI_LINK_UP] : x->len;
		uint64_t down = dst_rp ? link_delta(p, x, dst_rp)->bytes[PCI_LINK_DOWN] : x->len;

		demo_check(p->d, rc->p2p_bytes == x->len && up == x->len && down == x->len,
			   "%s -> %s: crossed root complex %s (%" PRIu64 " peer bytes, "
			   "%" PRIu64 " up %s, %" PRIu64 " down %s)",
			   ini, tgt, pci_host_bridge_name(x->route.rc[0]), rc->p2p_bytes, up,
			   src_rp ? pci_dev_label(src_rp) : "-", down,
			   dst_rp ? pci_dev_label(dst_rp) : "-");
	}
}

static void p2p_free(struct p2p *p)
{
	for (unsigned int i = 0; i < p->nr_xfer; i++) {
		struct transfer *x = &p->xfer[i];

		if (x->mapped)
			iommu_unmap(p->domain, x->addr, x->len);
		counters_free(&x->delta);
	}
	/* Freeing a domain detaches the devices still attached to it. */
	if (p->own_domain)
		iommu_domain_free(p->domain);
	free(p->dev);
	free(p->hb);
}

static int p2p_run(struct p2p *p, size_t len)
{
	uint64_t *buf;
	int ret;

	ret = p2p_collect(p);
	if (ret) {
		fprintf(stderr, "%s: out of memory\n", p->d->prog);
		return ret;
	}
	ret = p2p_choose(p, len);
	if (ret)
		return ret;
	buf = malloc(len);
	if (!buf) {
		fprintf(stderr, "%s: out of memory\n", p->d->prog);
		return -ENOMEM;
	}

	/* A function may only issue DMA once its driver enabled bus mastering. */
	pci_set_master(p->initiator);
	for (unsigned int i = 0; i < p->nr_xfer && !ret; i++)
		ret = p2p_transfer(p, &p->xfer[i], buf);
	if (ret) {
		free(buf);
		return ret;
	}

	print_transfers(p);
	print_counter_table(p);

	printf("\n== Checks: peer-to-peer DMA ==\n\n");
	for (unsigned int i = 0; i < p->nr_xfer; i++) {
		check_data(p, &p->xfer[i], buf);
		check_counters(p, &p->xfer[i]);
	}
	free(buf);
	return 0;
}

int demo_p2p_dma(struct demo *d, size_t len)
{
	struct p2p p = { .d = d };
	int ret;

	ret = p2p_run(&p, len);
	p2p_free(&p);
	return ret;
}
