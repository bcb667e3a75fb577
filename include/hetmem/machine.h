/* SPDX-License-Identifier: MIT */
/*
 * A machine: a PCIe fabric with its device models, assembled from a config
 * file (INI, see Documentation/machine-config.md) or from the embedded
 * default machine, enumerated and ready for drivers.
 */
#ifndef HETMEM_MACHINE_H
#define HETMEM_MACHINE_H

#include <stddef.h>
#include <stdio.h>

struct machine;
struct pci_fabric;
struct pci_dev;

/**
 * machine_load - build a machine from a config file
 * @path: the file, or NULL for the embedded default machine
 * @err: where a message naming the file and line of the first problem is
 *	 written, or NULL
 * @errlen: size of @err
 *
 * Return: the machine, or ERR_PTR(-ENOENT) when @path does not exist,
 * another ERR_PTR(-errno) when it cannot be read (-EACCES, -EISDIR, -EFBIG
 * for a file over 1 MiB), ERR_PTR(-EINVAL) for a malformed config (unknown
 * section type or key, bad value, unknown parent, duplicate name, a parent
 * that cannot take the child, overlapping windows, a BAR too large for its
 * windows), ERR_PTR(-ENOMEM).
 */
struct machine *machine_load(const char *path, char *err, size_t errlen);

/**
 * machine_load_string - build a machine from config text
 * @text: the config
 * @name: the name messages give the text (like a file name)
 * @err: where a message naming the line of the first problem is written,
 *	 or NULL
 * @errlen: size of @err
 *
 * Return: as machine_load(), without the errors of reading a file.
 */
struct machine *machine_load_string(const char *text, const char *name, char *err, size_t errlen);

/**
 * machine_default_config - the embedded default machine's config text
 *
 * Return: the text (static storage).
 */
const char *machine_default_config(void);

/**
 * machine_destroy - stop the device models and free the machine
 * @m: the machine, or NULL
 */
void machine_destroy(struct machine *m);

/**
 * machine_fabric - the machine's fabric
 * @m: the machine
 *
 * Return: the fabric.
 */
struct pci_fabric *machine_fabric(struct machine *m);

/**
 * machine_find - a device, port, switch upstream port by config name
 * @m: the machine
 * @name: the section name (switch downstream ports are "switch.N")
 *
 * Return: the function, or NULL.
 */
struct pci_dev *machine_find(struct machine *m, const char *name);

/**
 * machine_print_tree - draw the topology
 * @m: the machine
 * @out: where to
 *
 * One line per host bridge, port and function, indented by depth, with
 * address, name, IDs, class and BARs.
 */
void machine_print_tree(struct machine *m, FILE *out);

#endif /* HETMEM_MACHINE_H */
