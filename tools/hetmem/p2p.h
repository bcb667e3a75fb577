/* SPDX-License-Identifier: MIT */
/*
 * The hetmem tool and peer-to-peer memory: which BARs it makes p2pmem, and
 * what the subcommands report about providers and clients.
 *
 * p2p.c does this over the P2PDMA API; with CONFIG_PCI_P2PDMA off, p2p-none.c
 * answers -EOPNOTSUPP instead, so the subcommands build either way.
 */
#ifndef HETMEM_TOOL_P2P_H
#define HETMEM_TOOL_P2P_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hetmem/pci-p2pdma.h>

struct machine;
struct pci_dev;

#define CLI_P2P_REASON_LEN 512

/**
 * struct cli_p2p_provider - a function with p2pmem
 * @dev: the function
 * @bar: the BAR its pool covers, or -1 when no BAR's first or last byte is in it
 * @size: bytes in the pool (p2pmem/size)
 * @available: bytes not allocated (p2pmem/available)
 * @published: whether pci_p2pmem_find() hands it out (p2pmem/published)
 */
struct cli_p2p_provider {
	struct pci_dev *dev;
	int bar;
	uint64_t size;
	uint64_t available;
	bool published;
};

/**
 * struct cli_p2p_client - the provider a client would be given
 * @dev: the client
 * @provider: the closest published provider (pci_p2pmem_find()), or NULL
 * @distance: pci_p2pdma_distance() between them, -1 without a provider
 * @map_type: the map type's kernel name without its prefix ("BUS_ADDR",
 *	      "THRU_HOST_BRIDGE", "NOT_SUPPORTED"), or NULL without a provider
 * @reason: why the map type is not BUS_ADDR, or ""
 */
struct cli_p2p_client {
	struct pci_dev *dev;
	struct pci_dev *provider;
	int distance;
	const char *map_type;
	char reason[CLI_P2P_REASON_LEN];
};

/**
 * struct cli_p2p_report - providers and clients of a machine
 * @prov: every function with p2pmem, in enumeration order
 * @nr_prov: entries in @prov
 * @client: every endpoint, in enumeration order
 * @nr_client: entries in @client
 */
struct cli_p2p_report {
	struct cli_p2p_provider *prov;
	size_t nr_prov;
	struct cli_p2p_client *client;
	size_t nr_client;
};

/**
 * cli_p2p_add_providers - make every GPU's memory BAR peer-to-peer memory
 * @prog: "hetmem <name>", for messages
 * @m: the machine, just loaded
 *
 * For every display-class endpoint (class 03xxxx), the largest prefetchable
 * memory BAR the CPU maps (BAR2, the VRAM BAR, on the default machine) goes
 * whole to pci_p2pdma_add_resource() and is published, as a GPU driver
 * offering its memory to peers would do at probe time.
 *
 * Return: the number of providers added (0 when the machine has no GPU
 * memory), or a negative errno after printing why: -EOPNOTSUPP when hetmem
 * was built without CONFIG_PCI_P2PDMA, else the error of
 * pci_p2pdma_add_resource().
 */
int cli_p2p_add_providers(const char *prog, struct machine *m);

/**
 * cli_is_endpoint - whether a function is an endpoint, i.e. a P2P client
 * @dev: the function
 *
 * Return: false for bridges and the host bridge function, true otherwise.
 */
bool cli_is_endpoint(const struct pci_dev *dev);

/**
 * cli_p2p_map_type_name - the kernel's name of a map type, without its prefix
 * @type: the map type
 *
 * Return: "BUS_ADDR", "THRU_HOST_BRIDGE", "NOT_SUPPORTED" or "UNKNOWN".
 */
const char *cli_p2p_map_type_name(enum pci_p2pdma_map_type type);

/**
 * cli_p2p_provider_get - read a function's p2pmem attributes
 * @dev: the function
 * @out: filled in when it has p2pmem
 *
 * Return: 0, -ENODEV when @dev has no p2pmem, -EOPNOTSUPP without
 * CONFIG_PCI_P2PDMA, -EIO when an attribute does not parse.
 */
int cli_p2p_provider_get(struct pci_dev *dev, struct cli_p2p_provider *out);

/**
 * cli_p2p_report_get - every provider, and every endpoint's closest one
 * @m: the machine
 * @r: the report; cli_p2p_report_free() it, also after a failure
 *
 * Return: 0, -ENOMEM, -EIO (an attribute that does not parse), or
 * -EOPNOTSUPP without CONFIG_PCI_P2PDMA.
 */
int cli_p2p_report_get(struct machine *m, struct cli_p2p_report *r);

/**
 * cli_p2p_report_free - free what cli_p2p_report_get() allocated
 * @r: the report
 */
void cli_p2p_report_free(struct cli_p2p_report *r);

#endif /* HETMEM_TOOL_P2P_H */
