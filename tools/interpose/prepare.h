/* SPDX-License-Identifier: MIT */
/*
 * What `hetmem run` and `hetmem sysfs` do before anything is interposed:
 * read the machine config, back its namespaces with files in the run
 * directory, build the machine once to ask its controllers who they are,
 * and write the sysfs tree stock tools read.
 */
#ifndef HETMEM_INTERPOSE_PREPARE_H
#define HETMEM_INTERPOSE_PREPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "run.h"

struct machine;
struct pci_dev;

/**
 * struct hi_tree_ns - what sysfs says of a namespace beyond its description
 * @eui64: EUI-64 (Identify Namespace)
 * @nguid: NGUID
 * @uuid: UUID (Namespace Identification Descriptors), zero when none
 */
struct hi_tree_ns {
	uint8_t eui64[8];
	uint8_t nguid[16];
	uint8_t uuid[16];
};

/**
 * struct hi_tree_ctrl - an NVMe controller as its sysfs directory shows it
 * @pdev: its function
 * @desc: its description in the state
 * @vid: PCI vendor ID (Identify VID)
 * @serial: SN, trailing blanks removed
 * @model: MN, likewise
 * @fw: FR, likewise
 * @subnqn: SUBNQN
 * @cntlid: CNTLID
 * @queue_count: queues the driver uses, admin included
 * @sqsize: I/O submission queue size the driver uses, 0-based
 * @ns: per namespace, as @desc->ns
 */
struct hi_tree_ctrl {
	struct pci_dev *pdev;
	const struct hi_ctrl_desc *desc;
	uint16_t vid;
	char serial[21];
	char model[41];
	char fw[9];
	char subnqn[257];
	unsigned int cntlid;
	unsigned int queue_count;
	unsigned int sqsize;
	struct hi_tree_ns ns[HI_MAX_NS];
};

/**
 * struct hi_tree - what the sysfs tree is written from
 * @m: the machine
 * @st: its description (controllers, providers)
 * @nr_ctrl: controllers, as @st->ctrl
 * @ctrl: them
 * @prov: the providers' functions, as @st->prov
 */
struct hi_tree {
	struct machine *m;
	struct hi_state *st;
	unsigned int nr_ctrl;
	struct hi_tree_ctrl ctrl[HI_MAX_CTRL];
	struct pci_dev *prov[HI_MAX_PROV];
};

/**
 * struct hi_image - a namespace's backing file, as the config names it
 * @label: the controller's section name
 * @nsid: the namespace
 * @path: the file (absolute)
 */
struct hi_image {
	char label[HI_LABEL_LEN];
	uint32_t nsid;
	char path[256];
};

#define HI_MAX_IMAGES (HI_MAX_CTRL * HI_MAX_NS)

/**
 * hi_config_back_namespaces - back every namespace of a config with a file
 * @text: the machine config
 * @dir: where new images go ("NAME" "n" NSID ".img"), or NULL to add none
 * @out: the config with "nsN-file = PATH" added where it had none (malloc'd)
 * @img: every namespace's backing file, new or already named
 * @nr_img: entries in @img
 *
 * A line-level edit: the new keys go right below the section header of
 * each "model = nvme" endpoint, for each "nsN" key without an "nsN-file".
 * Relative paths the config gives are made absolute (they are relative to
 * the working directory, as machine_load() opens them).
 *
 * Return: 0, -ENOMEM, -ENAMETOOLONG, -E2BIG for more than HI_MAX_IMAGES
 * namespaces.
 */
int hi_config_back_namespaces(const char *text, const char *dir, char **out, struct hi_image *img,
			      unsigned int *nr_img);

/**
 * hi_vram_bar - the BAR a GPU offers as p2pmem
 * @dev: a function
 *
 * The interposer's policy, the one `hetmem demo` and `hetmem p2pmem` use:
 * a display-class endpoint's largest prefetchable memory BAR the CPU maps.
 *
 * Return: the BAR, or -1 when @dev is not such a function.
 */
int hi_vram_bar(struct pci_dev *dev);

/**
 * hi_make_providers - make every GPU's VRAM BAR published p2pmem
 * @m: the machine
 * @prov: the functions, in enumeration order
 * @max: room in @prov
 *
 * A function that already has p2pmem (its own driver made it) is taken as
 * it is.
 *
 * Return: how many, or a negative errno from pci_p2pdma_add_resource().
 */
int hi_make_providers(struct machine *m, struct pci_dev **prov, unsigned int max);

/**
 * hi_describe - fill a state and a tree from a machine
 * @t: the tree; @t->m and @t->st set by the caller, @t->st zeroed but for
 *     its header and lock
 * @img: the namespaces' backing files (hi_config_back_namespaces())
 * @nr_img: entries in @img
 * @taken: NVMe instance numbers not to use (the host's own), or NULL
 * @nr_taken: entries in @taken
 * @err: a message when it fails
 * @errlen: its size
 *
 * Probes each emulated NVMe controller with the host driver (Identify
 * Controller, each namespace and its descriptors), removes it again, makes
 * the GPUs' memory BARs p2pmem, and records the functions, ports and host
 * bridges whose counters processes will add up.
 *
 * Return: 0, -E2BIG for more controllers, providers or functions than a
 * state holds, or the errno of probing.
 */
int hi_describe(struct hi_tree *t, const struct hi_image *img, unsigned int nr_img,
		const unsigned int *taken, unsigned int nr_taken, char *err, size_t errlen);

/**
 * hi_sysfs_write - write the machine's sysfs tree
 * @t: the machine, described
 * @root: the directory that plays /sys (created when missing)
 *
 * Writes ROOT/devices/pciDDDD:BB/... with one directory per function
 * (config, resource, resourceN, vendor, device, class, ... and p2pmem/ of
 * the providers, nvme/nvmeN/ of the controllers), ROOT/bus/pci/devices/
 * links to them, ROOT/class/nvme/, ROOT/class/nvme-subsystem/,
 * ROOT/devices/virtual/nvme-subsystem/ and ROOT/block/. `lspci -A
 * linux-sysfs -O sysfs.path=ROOT/bus/pci` reads it.
 *
 * Return: 0, or a negative errno (the tree is then incomplete).
 */
int hi_sysfs_write(const struct hi_tree *t, const char *root);

#endif /* HETMEM_INTERPOSE_PREPARE_H */
