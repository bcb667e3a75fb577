// SPDX-License-Identifier: MIT
/*
 * The fabric's configuration space as `lspci -xxxx` prints it, so that
 * `lspci -F FILE` (pciutils' dump access method) decodes our functions with
 * its own, independent understanding of PCI.
 *
 * What the dump reader accepts (pciutils 3.9, lib/dump.c):
 *
 *   1000:03:00.0 nvme0          <- header: address, a space, anything
 *   000: 86 80 d3 10 06 04 ...  <- 16 bytes: hex offset, then " xx" each
 *   ...
 *   ff0: 00 00 00 00 ...
 *                               <- a blank line ends the function
 *
 * The space after the address is what makes a line a header: a bare
 * address is ignored. Lines are read into a 256-byte buffer, so a header
 * must stay well short of that; a function holds at most 4096 bytes, and
 * extended capabilities are only decoded when all 4096 are present.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>

#include <hetmem/pci.h>
#include <hetmem/pci-dump.h>

#define DUMP_BYTES_PER_LINE 16

/*
 * The longest name a header carries. Far below the reader's line buffer
 * even with the 12-character address in front.
 */
#define DUMP_LABEL_MAX 64

/*
 * Names come from machine configs, which are user input: a newline or a
 * control character in one would end the header line early and make the
 * reader take the rest for data.
 */
static void write_label(FILE *out, const char *label)
{
	unsigned int n = 0;

	for (const char *p = label; *p && n < DUMP_LABEL_MAX; p++, n++)
		fputc(isprint((unsigned char)*p) ? *p : '?', out);
}

static void write_function(FILE *out, struct pci_dev *dev)
{
	uint8_t cfg[PCI_CFG_SPACE_SIZE_HM];

	pci_config_snapshot(dev, cfg);

	fprintf(out, "%s ", pci_name(dev));
	write_label(out, pci_dev_label(dev));
	fputc('\n', out);

	for (unsigned int off = 0; off < PCI_CFG_SPACE_SIZE_HM; off += DUMP_BYTES_PER_LINE) {
		fprintf(out, "%03x:", off);
		for (unsigned int i = 0; i < DUMP_BYTES_PER_LINE; i++)
			fprintf(out, " %02x", cfg[off + i]);
		fputc('\n', out);
	}
	fputc('\n', out);
}

int pci_fabric_write_lspci_dump(struct pci_fabric *f, FILE *out)
{
	struct pci_dev *dev;

	for (dev = pci_fabric_next_dev(f, NULL); dev; dev = pci_fabric_next_dev(f, dev))
		write_function(out, dev);

	/*
	 * stdio reports a full disk or a closed pipe only when it flushes:
	 * flush here so the caller learns of it from our return value.
	 */
	if (fflush(out) || ferror(out))
		return -EIO;
	return 0;
}
