// SPDX-License-Identifier: MIT
/*
 * hetmem demo, the peer-to-peer memory step: who provides p2pmem, and how
 * every endpoint would reach every provider.
 *
 * The matrix is what the kernel's pci_p2pdma_distance() and map type say
 * for each provider (row) and client (column): BUS_ADDR when a request
 * turns around below a common bridge, THRU_HOST_BRIDGE when it must cross
 * a root complex that routes peer traffic, NOT_SUPPORTED otherwise. Every
 * entry that is not BUS_ADDR gets a footnote with the kernel's reason,
 * the sentence that tells a user what to change. Probed before the
 * matrix, the NVMe driver has added its controller memory buffer as a
 * provider of its own.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hetmem/pci-p2pdma.h>
#include <hetmem/pci.h>

#include "demo.h"
#include "hetmem.h"
#include "p2p.h"

#define CELL_LEN     48
#define WRAP_COLUMNS 98
#define NOTE_INDENT  6

/*
 * @text from column @col (where the cursor is), words wrapped before
 * WRAP_COLUMNS onto lines indented by @indent.
 */
static void print_wrapped(unsigned int col, unsigned int indent, const char *text)
{
	bool first = true;

	while (*text) {
		size_t word = strcspn(text, " ");

		if (!first && col + 1 + word > WRAP_COLUMNS) {
			printf("\n%*s", (int)indent, "");
			col = indent;
		} else if (!first) {
			putchar(' ');
			col++;
		}
		first = false;
		printf("%.*s", (int)word, text);
		col += (unsigned int)word;
		text += word;
		text += strspn(text, " ");
	}
	putchar('\n');
}

static void print_providers(const struct cli_p2p_report *r)
{
	char size[32], avail[32];

	printf("\n== Peer-to-peer memory: providers ==\n\n");
	for (size_t i = 0; i < r->nr_prov; i++) {
		const struct cli_p2p_provider *p = &r->prov[i];

		printf("  %-8s %-14s", pci_dev_label(p->dev), pci_name(p->dev));
		if (p->bar >= 0)
			printf("BAR%d  ", p->bar);
		printf("%s of p2pmem, %s available, %s\n",
		       cli_format_size(size, sizeof(size), p->size),
		       cli_format_size(avail, sizeof(avail), p->available),
		       p->published ? "published" : "not published");
	}
}

int demo_p2p_matrix(struct demo *d)
{
	char *cells = NULL, reason[CLI_P2P_REASON_LEN];
	struct cli_p2p_report r;
	unsigned int note = 0;
	int name_w = (int)strlen("provider \\ client"), cell_w = 0;
	int ret;

	ret = cli_p2p_report_get(d->m, &r);
	if (!ret && r.nr_prov && r.nr_client) {
		cells = calloc(r.nr_prov * r.nr_client, CELL_LEN);
		if (!cells)
			ret = -ENOMEM;
	}
	if (ret) {
		fprintf(stderr, "%s: cannot describe the machine's p2pmem: %s\n", d->prog,
			strerror(-ret));
		goto out;
	}

	print_providers(&r);
	if (!r.nr_prov) {
		printf("  none: no GPU with a prefetchable memory BAR\n");
		demo_row(d, "P2P matrix", DEMO_OK, "no providers");
		goto out;
	}

	/* The cells first, to size the columns; footnotes numbered row by row. */
	for (size_t p = 0; p < r.nr_prov; p++) {
		struct pci_dev *prov = r.prov[p].dev;

		if ((int)strlen(pci_dev_label(prov)) > name_w)
			name_w = (int)strlen(pci_dev_label(prov));
		for (size_t c = 0; c < r.nr_client; c++) {
			struct pci_dev *client = r.client[c].dev;
			enum pci_p2pdma_map_type type =
				pci_p2pdma_map_type_of(prov, client, NULL, 0);
			int dist = pci_p2pdma_distance(prov, client, false);
			char *s = cells + (p * r.nr_client + c) * CELL_LEN;
			char marker[16] = "";

			if (type != PCI_P2PDMA_MAP_BUS_ADDR)
				snprintf(marker, sizeof(marker), " [%u]", ++note);
			if (dist >= 0)
				snprintf(s, CELL_LEN, "%d  %s%s", dist, cli_p2p_map_type_name(type),
					 marker);
			else
				snprintf(s, CELL_LEN, "-  %s%s", cli_p2p_map_type_name(type),
					 marker);
			if ((int)strlen(s) > cell_w)
				cell_w = (int)strlen(s);
		}
	}
	for (size_t c = 0; c < r.nr_client; c++)
		if ((int)strlen(pci_dev_label(r.client[c].dev)) > cell_w)
			cell_w = (int)strlen(pci_dev_label(r.client[c].dev));

	printf("\n== Peer-to-peer distance and map type, provider (row) to client (column) ==\n\n");
	/* Padded to the column's width, but for the last column. */
	printf("  %-*s", name_w, "provider \\ client");
	for (size_t c = 0; c < r.nr_client; c++)
		printf("   %-*s", c + 1 < r.nr_client ? cell_w : 0, pci_dev_label(r.client[c].dev));
	printf("\n");
	for (size_t p = 0; p < r.nr_prov; p++) {
		printf("  %-*s", name_w, pci_dev_label(r.prov[p].dev));
		for (size_t c = 0; c < r.nr_client; c++)
			printf("   %-*s", c + 1 < r.nr_client ? cell_w : 0,
			       cells + (p * r.nr_client + c) * CELL_LEN);
		printf("\n");
	}
	printf("\n  distance: pci_p2pdma_distance(), hops up to the closest common bridge and down\n"
	       "  again; \"-\" where the client cannot reach the provider's memory at all\n");

	/* The reasons, in the order of the markers. */
	note = 0;
	for (size_t p = 0; p < r.nr_prov; p++) {
		for (size_t c = 0; c < r.nr_client; c++) {
			struct pci_dev *prov = r.prov[p].dev, *client = r.client[c].dev;
			char head[64];
			int n;

			if (pci_p2pdma_map_type_of(prov, client, reason, sizeof(reason)) ==
			    PCI_P2PDMA_MAP_BUS_ADDR)
				continue;
			n = snprintf(head, sizeof(head), "  [%u] %s using %s's p2pmem:", ++note,
				     pci_dev_label(client), pci_dev_label(prov));
			if (note == 1)
				printf("\n");
			printf("%s ", head);
			if (n < 0 || n >= (int)sizeof(head))
				n = WRAP_COLUMNS;
			print_wrapped((unsigned int)n + 1, NOTE_INDENT, reason);
		}
	}
	demo_row(d, "P2P matrix", DEMO_OK, "%zu providers x %zu clients, %u not BUS_ADDR",
		 r.nr_prov, r.nr_client, note);
out:
	free(cells);
	cli_p2p_report_free(&r);
	return ret;
}
