/* SPDX-License-Identifier: MIT */
/*
 * Private to machine/: a config read into sections and keys, checked as a
 * whole, then turned into a fabric.
 *
 * Sections may come in any order, so loading runs in passes; each reports
 * the first problem it finds as "NAME:LINE: what is wrong" and the later
 * passes do not run:
 *
 *   parse.c   the text into sections and raw keys, each with its line
 *   config.c  every key read for its section type (values, defaults, the
 *             checks that need only the section itself)
 *   check.c   what needs the whole file: parents, cycles, ports and
 *             function numbers, domains, windows, whether the BARs fit
 *   build.c   the fabric in dependency order, then enumeration
 *
 * Device models (models.c) are a table keyed by an endpoint's "model" key.
 */
#ifndef HETMEM_MACHINE_INTERNAL_H
#define HETMEM_MACHINE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hetmem/pci.h>
#include "lib/list.h"

#define MC_NAME_MAX	    31 /* section names: the fabric appends ".N" for switch ports */
#define MC_LINE_MAX	    199 /* libinih hands the reader a 200-byte buffer */
#define MC_MAX_SECTIONS	    4096 /* more than any machine needs; keeps checks quick */
#define MC_FILE_MAX	    (1 << 20) /* a config larger than this is a mistake */
#define MC_MAX_SWITCH_PORTS 32
#define MC_MAX_ROOT_PORTS   31 /* root bus devices 1-31; 0 is the host bridge's */
#define MC_MAX_BUSES	    255 /* bus numbers below the root bus of one domain */

/* Built-in defaults; Documentation/machine-config.md lists them too. */
#define MC_DEFAULT_DOMAIN	     0x1000
#define MC_DEFAULT_HB_VENDOR	     0x8086 /* Intel */
#define MC_DEFAULT_HB_DEVICE	     0x09a2 /* Xeon root complex, on the kernel's P2P whitelist */
#define MC_DENIED_HB_DEVICE	     0x3e30 /* Core host bridge, not on it: for p2p = denied */
#define MC_DEFAULT_BUS_OFFSET	     0x800000000000ULL
#define MC_DEFAULT_BUS_OFFSET_STRIDE 0x10000000000ULL
#define MC_DEFAULT_MEM_BASE	     0xc0000000ULL
#define MC_DEFAULT_MEM_SIZE	     0x20000000ULL
#define MC_DEFAULT_PREF_BASE	     0x8000000000ULL
#define MC_DEFAULT_PREF_SIZE	     0x1000000000ULL
#define MC_DEFAULT_EP_VENDOR	     0x4854 /* hetmem's device models */
#define MC_DEFAULT_EP_DEVICE	     0x0000
#define MC_DEFAULT_EP_CLASS	     0x058000 /* memory controller, other */

#define MC_CPU_WINDOW_FLOOR (1ULL << 47) /* CPU addresses below are process memory */
#define MC_WINDOW_ALIGN	    (1ULL << 20) /* bridge windows are 1 MiB granular */

struct machine;
struct machine_model;

enum mc_kind {
	MC_HOST_BRIDGE,
	MC_ROOT_PORT,
	MC_SWITCH,
	MC_ENDPOINT,
	MC_NR_KINDS,
};

/**
 * struct mc_key - one "KEY = VALUE" line
 * @node: in the section's @keys, in file order
 * @line: where it was
 * @name: the key
 * @value: the value, surrounding blanks and any inline comment removed
 */
struct mc_key {
	struct list_head node;
	int line;
	char *name;
	char *value;
};

/**
 * struct mc_section - one "[TYPE NAME]" section and what it says
 * @node: in the config's @sections, in file order
 * @kind: the section type
 * @name: the section name
 * @line: the line of the section header
 * @keys: its keys, in file order
 * @parent_key: the "parent" key, or NULL (config.c)
 * @parent: the section @parent_key names (check.c)
 * @parent_port: the switch downstream port @parent_key names, or -1 when it
 *		 names @parent itself
 * @hb: host bridges: @index among host bridges, @info to add it with, the
 *	root ports and bus numbers below it (check.c), and the host bridge
 *	once built
 * @rp: root ports: initial ACS control bits and the key that set them
 * @sw: switches: number of downstream ports, ACS control bits of each port
 *	and the key that set them
 * @ep: endpoints: @model, @info to add it with, and the model's data
 * @dev: the root port, switch upstream port or endpoint once built
 */
struct mc_section {
	struct list_head node;
	enum mc_kind kind;
	char name[MC_NAME_MAX + 1];
	int line;
	struct list_head keys;

	const struct mc_key *parent_key;
	struct mc_section *parent;
	int parent_port;

	union {
		struct {
			unsigned int index;
			struct pci_host_bridge_info info;
			unsigned int nr_root_ports;
			unsigned int nr_buses;
			struct pci_host_bridge *obj;
		} hb;
		struct {
			uint16_t acs;
			const struct mc_key *acs_key;
		} rp;
		struct {
			unsigned int nr_ports;
			uint16_t acs[MC_MAX_SWITCH_PORTS];
			const struct mc_key *acs_key[MC_MAX_SWITCH_PORTS];
		} sw;
		struct {
			const struct machine_model *model;
			struct pci_endpoint_info info;
			void *model_data;
		} ep;
	};

	struct pci_dev *dev;
};

/**
 * struct mc_config - a config being loaded
 * @name: what messages call the text (a file name)
 * @sections: every section, in file order
 * @nr_sections: how many
 * @cur: the section keys go to while parsing
 * @line: the line the parser is at
 * @failed: a problem was reported
 * @ret: the negative errno that goes with it
 * @msg: the first problem, "NAME:LINE: what"
 * @err: the caller's buffer for @msg, or NULL
 * @errlen: its size
 */
struct mc_config {
	char *name;
	struct list_head sections;
	unsigned int nr_sections;
	struct mc_section *cur;
	int line;
	bool failed;
	int ret;
	char msg[512];
	char *err;
	size_t errlen;
};

/**
 * struct machine - an assembled machine
 * @config: the config it was built from; the names the fabric was given
 *	    point into it
 * @fabric: the fabric
 */
struct machine {
	struct mc_config *config;
	struct pci_fabric *fabric;
};

/**
 * struct machine_model - a device model an endpoint section can ask for
 * @name: the value of the "model" key
 * @parse_key: read a key of the model's own, or NULL when it has none;
 *	       returns 1 when the key was the model's, 0 when it is not, or
 *	       -EINVAL after reporting a bad value with mc_error()
 * @finish: check the section once all its keys are read, or NULL; returns
 *	    0 or -EINVAL after reporting with mc_error()
 * @create: add the function below @port (@s->ep.info says what it is) and
 *	    start the model; sets @s->dev; returns 0 or a negative errno
 * @start: start what needs an enumerated fabric (BARs placed), or NULL;
 *	   runs once every section is built and the fabric enumerated;
 *	   returns 0 or a negative errno
 * @destroy: stop the model and free what @create made, or NULL; runs
 *	     before the fabric is freed, only after @create succeeded
 * @release: free @s->ep.model_data (what @parse_key and @finish made), or
 *	     NULL; runs when the config is freed
 *
 * Adding a model: write these hooks in its own file and list it in
 * models.c's table. Generic endpoint keys (IDs, class, BARs, function) are
 * read into @s->ep.info before @finish runs; a model may override them.
 */
struct machine_model {
	const char *name;
	int (*parse_key)(struct mc_config *c, struct mc_section *s, const struct mc_key *k);
	int (*finish)(struct mc_config *c, struct mc_section *s);
	int (*create)(struct machine *m, struct mc_section *s, struct pci_dev *port);
	int (*start)(struct machine *m, struct mc_section *s);
	void (*destroy)(struct machine *m, struct mc_section *s);
	void (*release)(struct mc_section *s);
};

/* parse.c */
struct mc_config *mc_config_alloc(const char *name, char *err, size_t errlen);
void mc_config_free(struct mc_config *c);
int mc_error(struct mc_config *c, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int mc_nomem(struct mc_config *c);
int mc_parse(struct mc_config *c, const char *text, size_t len);
const char *mc_kind_name(enum mc_kind kind);
const char *mc_kind_phrase(enum mc_kind kind);
struct mc_section *mc_find_section(struct mc_config *c, const char *name);
const struct mc_key *mc_find_key(const struct mc_section *s, const char *name);
int mc_key_line(const struct mc_section *s, const char *name);

/* config.c */
int mc_read_sections(struct mc_config *c);
int mc_window_line(const struct mc_section *s, const char *key);

/* check.c */
int mc_check(struct mc_config *c);

/* models.c */
const struct machine_model *mc_model_find(const char *name);
void mc_model_names(char *buf, size_t len);

/* value.c */
int mc_parse_u64(const char *s, uint64_t *val);
int mc_parse_size(const char *s, uint64_t *val);
int mc_parse_acs(const char *s, uint16_t *val);
int mc_parse_window(const char *s, uint64_t *base, uint64_t *size);
int mc_parse_bar(const char *s, uint64_t *size, unsigned int *flags);
const char *mc_format_size(uint64_t size, char *buf, size_t len);
const char *mc_format_acs(uint16_t acs, char *buf, size_t len);
uint64_t mc_align_up(uint64_t v, uint64_t align);

/* default-config.c, generated from default.ini */
extern const char mc_default_ini[];

#endif /* HETMEM_MACHINE_INTERNAL_H */
