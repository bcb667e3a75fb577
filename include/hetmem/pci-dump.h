/* SPDX-License-Identifier: MIT */
/*
 * Exporting the fabric for outside tools: the text dump `lspci -F FILE`
 * decodes, and a Graphviz graph of the topology.
 */
#ifndef HETMEM_PCI_DUMP_H
#define HETMEM_PCI_DUMP_H

#include <stdio.h>

struct pci_fabric;

/**
 * pci_fabric_write_lspci_dump - write every function's config space in the
 * `lspci -xxxx` text format
 * @f: the fabric (enumerated)
 * @out: where to
 *
 * One block per function: a "dddd:bb:dd.f name" header line, 256 lines of
 * 16 bytes ("000: xx xx ..."), a blank line. `lspci -F FILE -vv` and
 * `lspci -F FILE -tv` read it.
 *
 * Return: 0, or -EIO when writing failed.
 */
int pci_fabric_write_lspci_dump(struct pci_fabric *f, FILE *out);

/**
 * pci_fabric_write_dot - write the topology as a Graphviz digraph
 * @f: the fabric
 * @out: where to
 *
 * Return: 0, or -EIO when writing failed.
 */
int pci_fabric_write_dot(struct pci_fabric *f, FILE *out);

#endif /* HETMEM_PCI_DUMP_H */
