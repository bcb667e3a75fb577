// SPDX-License-Identifier: MIT
/*
 * hetmem demo: where data went. Snapshots of every link and root complex
 * counter of the fabric, their differences around a transfer, and the
 * table that shows them, one column pair per transfer.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <hetmem/pci.h>

#include "demo.h"

int demo_collect(struct demo *d)
{
	struct pci_host_bridge *hb = NULL;
	struct pci_dev *dev = NULL;
	size_t i;

	while ((dev = pci_fabric_next_dev(d->f, dev)))
		d->nr_dev++;
	while ((hb = pci_fabric_next_host_bridge(d->f, hb)))
		d->nr_hb++;

	d->dev = calloc(d->nr_dev ? d->nr_dev : 1, sizeof(*d->dev));
	d->hb = calloc(d->nr_hb ? d->nr_hb : 1, sizeof(*d->hb));
	if (!d->dev || !d->hb)
		return -ENOMEM;

	i = 0;
	while ((dev = pci_fabric_next_dev(d->f, dev)))
		d->dev[i++] = dev;
	i = 0;
	while ((hb = pci_fabric_next_host_bridge(d->f, hb)))
		d->hb[i++] = hb;
	return 0;
}

void demo_release(struct demo *d)
{
	free(d->dev);
	free(d->hb);
	d->dev = NULL;
	d->hb = NULL;
	d->nr_dev = d->nr_hb = 0;
}

int demo_counters_alloc(const struct demo *d, struct demo_counters *c)
{
	c->link = calloc(d->nr_dev ? d->nr_dev : 1, sizeof(*c->link));
	c->rc = calloc(d->nr_hb ? d->nr_hb : 1, sizeof(*c->rc));
	if (c->link && c->rc)
		return 0;
	demo_counters_free(c);
	return -ENOMEM;
}

void demo_counters_free(struct demo_counters *c)
{
	free(c->link);
	free(c->rc);
	c->link = NULL;
	c->rc = NULL;
}

void demo_counters_read(const struct demo *d, struct demo_counters *c)
{
	for (size_t i = 0; i < d->nr_dev; i++)
		pci_link_stats_get(d->dev[i], &c->link[i]);
	for (size_t i = 0; i < d->nr_hb; i++)
		pci_rc_stats_get(d->hb[i], &c->rc[i]);
}

void demo_counters_sub(const struct demo *d, struct demo_counters *after,
		       const struct demo_counters *before)
{
	for (size_t i = 0; i < d->nr_dev; i++) {
		for (int dir = 0; dir < 2; dir++) {
			after->link[i].bytes[dir] -= before->link[i].bytes[dir];
			after->link[i].tlps[dir] -= before->link[i].tlps[dir];
		}
	}
	for (size_t i = 0; i < d->nr_hb; i++) {
		struct pci_rc_stats *a = &after->rc[i];
		const struct pci_rc_stats *b = &before->rc[i];

		a->mem_bytes[0] -= b->mem_bytes[0];
		a->mem_bytes[1] -= b->mem_bytes[1];
		a->p2p_bytes -= b->p2p_bytes;
		a->iommu_faults -= b->iommu_faults;
		a->unsupported -= b->unsupported;
	}
}

const struct pci_link_stats *demo_link(const struct demo *d, const struct demo_counters *c,
				       const struct pci_dev *dev)
{
	static const struct pci_link_stats none;

	for (size_t i = 0; c->link && i < d->nr_dev; i++)
		if (d->dev[i] == dev)
			return &c->link[i];
	return &none;
}

const struct pci_rc_stats *demo_rc(const struct demo *d, const struct demo_counters *c,
				   const struct pci_host_bridge *hb)
{
	static const struct pci_rc_stats none;

	for (size_t i = 0; c->rc && i < d->nr_hb; i++)
		if (d->hb[i] == hb)
			return &c->rc[i];
	return &none;
}

uint64_t demo_rc_bytes(const struct demo *d, const struct demo_counters *c)
{
	uint64_t sum = 0;

	for (size_t h = 0; c->rc && h < d->nr_hb; h++)
		sum += c->rc[h].p2p_bytes + c->rc[h].mem_bytes[0] + c->rc[h].mem_bytes[1];
	return sum;
}

struct pci_dev *demo_root_port_of(struct pci_dev *dev)
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

#define NAME_COLUMN   18
#define ADDR_COLUMN   14
#define NUMBER_COLUMN 11

void demo_print_counters(const struct demo *d, const struct demo_column *col, unsigned int nr_col)
{
	printf("  %-*s%-*s", NAME_COLUMN, "", ADDR_COLUMN, "");
	for (unsigned int i = 0; i < nr_col; i++)
		printf("  %*s", 2 * NUMBER_COLUMN, col[i].title);
	printf("\n  %-*s%-*s", NAME_COLUMN, "link", ADDR_COLUMN, "address");
	for (unsigned int i = 0; i < nr_col; i++)
		printf("  %*s%*s", NUMBER_COLUMN, "up", NUMBER_COLUMN, "down");
	printf("\n");

	for (size_t n = 0; n < d->nr_dev; n++) {
		struct pci_dev *dev = d->dev[n];
		unsigned int indent = 2 * depth_of(dev);

		/* The host bridge function has no link of its own. */
		if (pci_pcie_type(dev) < 0)
			continue;
		printf("  %*s%-*s", (int)indent, "", (int)(NAME_COLUMN - indent),
		       pci_dev_label(dev));
		printf("%-*s", ADDR_COLUMN, pci_name(dev));
		for (unsigned int i = 0; i < nr_col; i++) {
			const struct pci_link_stats *s = demo_link(d, col[i].delta, dev);

			printf("  %*" PRIu64 "%*" PRIu64, NUMBER_COLUMN, s->bytes[PCI_LINK_UP],
			       NUMBER_COLUMN, s->bytes[PCI_LINK_DOWN]);
		}
		printf("\n");
	}

	for (size_t h = 0; h < d->nr_hb; h++) {
		printf("  root complex %s\n", pci_host_bridge_name(d->hb[h]));
		printf("    %-*s", NAME_COLUMN + ADDR_COLUMN - 2, "peer-to-peer bytes");
		for (unsigned int i = 0; i < nr_col; i++)
			printf("  %*" PRIu64, 2 * NUMBER_COLUMN,
			       demo_rc(d, col[i].delta, d->hb[h])->p2p_bytes);
		printf("\n    %-*s", NAME_COLUMN + ADDR_COLUMN - 2, "host memory bytes");
		for (unsigned int i = 0; i < nr_col; i++) {
			const struct pci_rc_stats *rc = demo_rc(d, col[i].delta, d->hb[h]);

			printf("  %*" PRIu64, 2 * NUMBER_COLUMN,
			       rc->mem_bytes[0] + rc->mem_bytes[1]);
		}
		printf("\n");
	}
}
