/* SPDX-License-Identifier: MIT */
/*
 * A real machine's PCI topology in the fabric model, and the kernel's
 * peer-to-peer answers for it.
 *
 * The functions come from a sysfs tree (the live /sys/bus/pci or a copy in
 * that layout) or from a text dump of `lspci -xxxx` (with or without -vvv)
 * taken anywhere. Each becomes a struct pci_dev carrying its configuration
 * space as read; bridges' secondary/subordinate bus numbers (or the sysfs
 * path) give the tree, and every root bus is a host bridge of its own, as
 * in the kernel. The imported fabric is never enumerated and routes
 * nothing: it feeds the map-type computation the emulator's P2PDMA uses,
 * with the inputs a real machine adds (the CPU rule, the running kernel's
 * allow-list) and what-if overrides.
 *
 *   sysfs tree / lspci dump --> struct pci_import_func per function
 *        --> pci_import_add() --> pci_import_finish(): buses, bridges,
 *            host bridges, ACS --> pci_p2p_check_pair()
 *
 * Configuration space comes in three sizes: 64 bytes (an unprivileged read
 * of sysfs, `lspci -xxx` as a user), 256 bytes (no extended space: a
 * conventional PCI function, or a dump taken with -xxx) and 4096. Without
 * the extended space ACS cannot be read: such a function's ACS is unknown
 * and counts as off, and callers say so.
 */
#ifndef HETMEM_PCI_IMPORT_H
#define HETMEM_PCI_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <hetmem/pci-p2pdma.h>
#include <hetmem/pci.h>

struct pci_import;

/* A kernel release as the allow-list records it: PCI_P2P_KERNEL(5, 14). */
#define PCI_P2P_KERNEL(major, minor) (((unsigned int)(major) << 16) | ((unsigned int)(minor) << 8))
#define PCI_P2P_KERNEL_MAJOR(v)	     ((v) >> 16)
#define PCI_P2P_KERNEL_MINOR(v)	     (((v) >> 8) & 0xff)

/**
 * enum pci_import_acs - what is known of a function's ACS control register
 * @PCI_IMPORT_ACS_NONE: no ACS capability (or no extended space at all:
 *			 a conventional PCI function)
 * @PCI_IMPORT_ACS_READ: read from the capability (or from lspci -vvv's
 *			 "ACSCtl:" line)
 * @PCI_IMPORT_ACS_UNKNOWN: a PCI Express function whose extended space was
 *			    not available (64 or 256 bytes read)
 */
enum pci_import_acs {
	PCI_IMPORT_ACS_NONE,
	PCI_IMPORT_ACS_READ,
	PCI_IMPORT_ACS_UNKNOWN,
};

/**
 * struct pci_import_bar - one BAR
 * @size: bytes; 0 when unknown (a dump without sizes) or unimplemented
 * @implemented: the register is in use (from configuration space or sizes)
 * @io: an I/O BAR
 * @mem64: a 64-bit memory BAR (the next slot is its upper half)
 * @prefetch: prefetchable
 */
struct pci_import_bar {
	uint64_t size;
	bool implemented;
	bool io;
	bool mem64;
	bool prefetch;
};

/**
 * struct pci_import_p2pmem - the function's sysfs p2pmem/ directory
 * @present: the directory exists (a driver registered p2pmem)
 * @published: its "published" attribute is 1
 * @allocate: it has the "allocate" file (Linux 6.2 and later)
 * @size: "size", bytes
 * @available: "available", bytes
 */
struct pci_import_p2pmem {
	bool present;
	bool published;
	bool allocate;
	uint64_t size;
	uint64_t available;
};

#define PCI_IMPORT_MAX_REBAR 6

/**
 * struct pci_import_func - one function: what a reader found, then what
 * pci_import_finish() decoded
 * @bdf: "dddd:bb:dd.f" (a reader may give "bb:dd.f": domain 0)
 * @config: configuration space bytes as read
 * @config_len: how many: at least 64, at most 4096
 * @parent: the bridge above, from the sysfs path ("" when unknown or on a
 *	    root bus); without it the bus numbers decide
 * @host: the host bridge's sysfs name ("pci0000:17"), "" when unknown
 * @bar_size: BAR sizes when the source knows them (sysfs resource file,
 *	      lspci -vvv "[size=...]"), 0 otherwise
 * @driver: the bound driver's name, "" when none or unknown
 * @acs_hint_valid: @acs_hint holds the ACS control register from another
 *		    source than the configuration bytes (lspci -vvv)
 * @acs_hint: that register
 * @ext_caps_listed: lspci -vvv listed the function's extended capabilities:
 *		     without an ACS line among them it has no ACS capability
 * @p2pmem: the p2pmem/ attributes (live sysfs only)
 * @iommu_group_type: the iommu_group's "type" ("DMA", "DMA-FQ",
 *		      "identity", ...), "" when none or unknown
 * @vendor: vendor ID (decoded)
 * @device: device ID (decoded)
 * @class: class code with prog-if (decoded)
 * @pcie_type: PCI_EXP_TYPE_*, or -1 without a readable PCI Express
 *	       capability (decoded)
 * @pcie_type_guessed: no capability list was readable and @pcie_type is a
 *		       guess from the header type and the position (decoded)
 * @bridge: type 1 header (decoded)
 * @multifunction: the header type's multi-function bit (decoded)
 * @acs: what is known of ACS (decoded)
 * @acs_cap: ACS capability register, when @acs is PCI_IMPORT_ACS_READ and
 *	     the configuration bytes held it
 * @acs_ctrl: ACS control register as read (decoded)
 * @acs_assumed_off: a what-if cleared the redirect bits the map-type
 *		     computation sees (@acs_ctrl still says what was read)
 * @bar: BARs (decoded from configuration space and @bar_size)
 * @nr_rebar: entries in @rebar (decoded)
 * @rebar: Resizable BAR capability: the BAR, its current size and the
 *	   largest size the function supports (decoded)
 */
struct pci_import_func {
	char bdf[16];
	const uint8_t *config;
	unsigned int config_len;
	char parent[16];
	char host[24];
	uint64_t bar_size[PCI_STD_NUM_BARS_HM];
	char driver[32];
	bool acs_hint_valid;
	uint16_t acs_hint;
	bool ext_caps_listed;
	struct pci_import_p2pmem p2pmem;
	char iommu_group_type[16];

	uint16_t vendor;
	uint16_t device;
	uint32_t class;
	int pcie_type;
	bool pcie_type_guessed;
	bool bridge;
	bool multifunction;
	enum pci_import_acs acs;
	uint16_t acs_cap;
	uint16_t acs_ctrl;
	bool acs_assumed_off;
	struct pci_import_bar bar[PCI_STD_NUM_BARS_HM];
	unsigned int nr_rebar;
	struct {
		int bar;
		uint64_t current;
		uint64_t max;
	} rebar[PCI_IMPORT_MAX_REBAR];
};

/* --- building an import ------------------------------------------------- */

/**
 * pci_import_create - an empty import
 * @source: what it is read from, for messages ("/sys/bus/pci", a file name)
 *
 * Return: the import, or NULL when out of memory.
 */
struct pci_import *pci_import_create(const char *source);

/**
 * pci_import_add - add one function
 * @imp: the import, not yet finished
 * @fn: the reader's fields of the function (the decoded ones are ignored);
 *	its configuration bytes are copied
 *
 * A function whose address is already present is dropped with a warning.
 *
 * Return: 0, -EINVAL for a malformed address or fewer than 64 bytes of
 * configuration space (a warning says which), -EBUSY after
 * pci_import_finish(), -ENOMEM.
 */
int pci_import_add(struct pci_import *imp, const struct pci_import_func *fn);

/**
 * pci_import_warn - note something a reader could not take as given
 * @imp: the import
 * @fmt: printf format of the message
 *
 * The message is kept for pci_import_warning(); nothing is printed.
 */
void pci_import_warn(struct pci_import *imp, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/**
 * pci_import_finish - build the tree from the functions added
 * @imp: the import
 *
 * Each function's parent is the bridge its sysfs path names or, without
 * one, the deepest bridge of its domain whose secondary..subordinate range
 * holds its bus number (so a virtual function on a bus of its own sits
 * below its physical function's bridge, as the kernel walks it). A bus no
 * bridge leads to is a root bus: a host bridge. Then capabilities are
 * decoded: PCI Express type, ACS, BAR types, Resizable BAR.
 *
 * Return: 0, -ENOENT when no function was added, -EBUSY when already
 * finished, -ENOMEM.
 */
int pci_import_finish(struct pci_import *imp);

/**
 * pci_import_sysfs - import a sysfs tree
 * @dir: a directory with a devices/ subdirectory of "dddd:bb:dd.f" entries
 *	 (/sys/bus/pci, or a copy in that layout)
 * @err: where a message goes on failure
 * @len: size of @err
 *
 * Per function: config (as much as the kernel lets us read), resource (BAR
 * sizes), the driver link, iommu_group/type, p2pmem/ and, when the entry is
 * a symbolic link into /sys/devices, the parent bridge and host bridge from
 * its path. The import is finished.
 *
 * Return: the import, ERR_PTR(-ENOENT) when @dir has no devices/
 * directory, ERR_PTR(-ENODATA) when it lists no function (@err says so;
 * callers may treat an empty live system as an answer), ERR_PTR(-EIO) when
 * no function's config could be read, ERR_PTR(-ENOMEM).
 */
struct pci_import *pci_import_sysfs(const char *dir, char *err, size_t len);

/**
 * pci_import_lspci - import a text dump of `lspci -xxxx` (or -xxx, -vvv)
 * @in: the dump
 * @name: its name, for messages
 * @err: where a message goes on failure
 * @len: size of @err
 *
 * A function starts at a line "[dddd:]bb:dd.f <anything>" and its bytes
 * follow as "off: xx xx ..." lines; anything else (lspci -vvv's decoded
 * lines, blank lines, text around a pasted dump) is skipped, except BAR
 * sizes ("Region N: ... [size=256M]"), the driver ("Kernel driver in
 * use:") and the ACS control line ("ACSCtl:"). The import is finished.
 *
 * Return: the import, ERR_PTR(-ENODATA) when the text holds no function
 * with configuration bytes (@err says what to run), ERR_PTR(-EIO) on a
 * read error, ERR_PTR(-ENOMEM).
 */
struct pci_import *pci_import_lspci(FILE *in, const char *name, char *err, size_t len);

/**
 * pci_import_destroy - free an import and its fabric
 * @imp: the import, or NULL
 */
void pci_import_destroy(struct pci_import *imp);

/* --- what was imported ------------------------------------------------------- */

/** pci_import_source - the source name given at creation */
const char *pci_import_source(const struct pci_import *imp);

/**
 * pci_import_fabric - the imported fabric
 * @imp: a finished import
 *
 * Walk it with pci_fabric_next_host_bridge() and pci_fabric_next_dev();
 * pci_name(), pci_upstream_bridge(), pci_host_bridge_of(),
 * pci_host_bridge_name(), pci_dev_vendor() and friends work on it. It is
 * not enumerated: nothing routes, and configuration writes are not
 * supported.
 *
 * Return: the fabric.
 */
struct pci_fabric *pci_import_fabric(struct pci_import *imp);

/**
 * pci_import_func_of - everything known of an imported function
 * @dev: a function of an imported fabric
 *
 * Return: its description, valid until the import is destroyed.
 */
const struct pci_import_func *pci_import_func_of(const struct pci_dev *dev);

/**
 * pci_import_nr_devs - how many functions were imported
 * @imp: a finished import
 *
 * Return: the count; pci_import_dev() takes indexes below it.
 */
unsigned int pci_import_nr_devs(const struct pci_import *imp);

/**
 * pci_import_dev - the functions in address order (domain, bus, devfn)
 * @imp: a finished import
 * @i: index
 *
 * Unlike pci_fabric_next_dev(), this also reaches virtual functions on
 * buses of their own.
 *
 * Return: the function, or NULL past the end or for one that found no
 * place in the tree (a warning said so).
 */
struct pci_dev *pci_import_dev(const struct pci_import *imp, unsigned int i);

/**
 * pci_import_find - a function by address
 * @imp: a finished import
 * @bdf: "dddd:bb:dd.f" or "bb:dd.f" (domain 0), hex digits in either case
 *
 * Return: the function, or NULL.
 */
struct pci_dev *pci_import_find(struct pci_import *imp, const char *bdf);

/**
 * pci_import_root_bus - the root bus number of a host bridge
 * @imp: the import
 * @hb: one of its host bridges
 *
 * Return: the bus number.
 */
unsigned int pci_import_root_bus(const struct pci_import *imp, const struct pci_host_bridge *hb);

/**
 * pci_import_nr_warnings - how many things the import could not take as given
 * @imp: the import
 *
 * Return: the count (malformed lines, duplicate or orphan functions, ...).
 */
unsigned int pci_import_nr_warnings(const struct pci_import *imp);

/**
 * pci_import_warning - one of them
 * @imp: the import
 * @i: its index
 *
 * Return: the message, or NULL past the end.
 */
const char *pci_import_warning(const struct pci_import *imp, unsigned int i);

/**
 * pci_import_assume_acs_off - what-if: ACS redirect off on a function
 * @imp: a finished import
 * @dev: one of its functions
 *
 * Clears P2P Request Redirect, Completion Redirect and Egress Control in
 * the function's ACS control register (what pci=disable_acs_redir= does at
 * boot) and makes an unknown register known.
 *
 * Return: 0, or -EINVAL when @dev is not part of @imp.
 */
int pci_import_assume_acs_off(struct pci_import *imp, struct pci_dev *dev);

/* --- the kernel's answers --------------------------------------------------- */

#define PCI_P2P_MAX_ASSUMED 16
#define PCI_P2P_MAX_PATH    32

/**
 * struct pci_p2p_env - what the map type depends on besides the topology
 * @cpu_supports_p2pdma: the kernel's CPU rule holds (x86, vendor
 *			 AuthenticAMD, family 0x17 or later: Zen): every host
 *			 bridge routes peer traffic
 * @kernel: the allow-list as of this release (PCI_P2P_KERNEL()); 0 for
 *	    the newest one hetmem knows
 * @nr_allowed_hb: entries in @allowed_hb
 * @allowed_hb: what-if: trust these host bridges
 * @nr_allowed_id: entries in @allowed_id
 * @allowed_id: what-if: trust host bridges identified by these IDs, as if
 *		the allow-list had them (without the one-host-bridge limit)
 */
struct pci_p2p_env {
	bool cpu_supports_p2pdma;
	unsigned int kernel;
	unsigned int nr_allowed_hb;
	const struct pci_host_bridge *allowed_hb[PCI_P2P_MAX_ASSUMED];
	unsigned int nr_allowed_id;
	struct {
		uint16_t vendor;
		uint16_t device;
	} allowed_id[PCI_P2P_MAX_ASSUMED];
};

/**
 * enum pci_p2p_hb_verdict - whether the kernel trusts a host bridge with
 * peer traffic
 * @PCI_P2P_HB_ALLOWED: its ID is on the allow-list
 * @PCI_P2P_HB_SAME_ONLY: on the list, but only for traffic between its own
 *			  root ports, and this traffic leaves it
 * @PCI_P2P_HB_UNLISTED: its ID is not on the list
 * @PCI_P2P_HB_UNIDENTIFIED: the first function on its root bus is neither
 *			     at 00.0 nor a root port (or there is none): the
 *			     kernel has no ID to look up
 * @PCI_P2P_HB_NEWER_KERNEL: on the list only from a later kernel than the
 *			     one asked about
 * @PCI_P2P_HB_ASSUMED: trusted by a what-if
 */
enum pci_p2p_hb_verdict {
	PCI_P2P_HB_ALLOWED,
	PCI_P2P_HB_SAME_ONLY,
	PCI_P2P_HB_UNLISTED,
	PCI_P2P_HB_UNIDENTIFIED,
	PCI_P2P_HB_NEWER_KERNEL,
	PCI_P2P_HB_ASSUMED,
};

/**
 * struct pci_p2p_hb_check - a host bridge's verdict and what it rests on
 * @verdict: the answer
 * @id_dev: the function the kernel reads the IDs from, or NULL
 * @first: the first function on the root bus, or NULL when it is empty
 * @vendor: @id_dev's vendor ID (0 without @id_dev)
 * @device: @id_dev's device ID
 * @since: the release whose allow-list first had the matching entry (0 for
 *	   an unlisted or unidentified host bridge)
 * @since_exact: @since is that release; false when only a lower bound is
 *		 recorded
 * @what: the entry's platform ("Intel Skylake-E"), or NULL
 */
struct pci_p2p_hb_check {
	enum pci_p2p_hb_verdict verdict;
	struct pci_dev *id_dev;
	struct pci_dev *first;
	uint16_t vendor;
	uint16_t device;
	unsigned int since;
	bool since_exact;
	const char *what;
};

/**
 * struct pci_p2p_result - the map type between two functions and why
 * @type: PCI_P2PDMA_MAP_BUS_ADDR, _THRU_HOST_BRIDGE or _NOT_SUPPORTED
 * @distance: hops up to the closest common bridge and down again (the
 *	      sum of both walks to the top without one); what
 *	      pci_p2pdma_distance() adds up when the type is not NOT_SUPPORTED
 * @common: the closest common upstream bridge (or the function itself, or
 *	    one of the two when one is above the other), NULL when the paths
 *	    only meet in a root complex
 * @cpu_rule: the CPU rule let the traffic through the host bridge
 * @nr_acs: functions on the path with ACS redirect (RR, CR or EC) set
 * @acs: those functions, in the kernel's order (the provider's side up to
 *	 and including @common, then the client's side below it); without a
 *	 common bridge, those above the provider, which the kernel then
 *	 ignores: the traffic crosses the root complex whatever ACS says
 * @acs_truncated: the path held more than PCI_P2P_MAX_PATH of them
 * @denied: the host bridge that refused, NULL when none did
 * @hb: @denied's verdict; for a THRU_HOST_BRIDGE answer through the
 *	allow-list, the provider's host bridge's
 * @reason: the sentence the emulator's P2PDMA gives (empty for BUS_ADDR)
 */
struct pci_p2p_result {
	enum pci_p2pdma_map_type type;
	int distance;
	struct pci_dev *common;
	bool cpu_rule;
	unsigned int nr_acs;
	struct pci_dev *acs[PCI_P2P_MAX_PATH];
	bool acs_truncated;
	struct pci_host_bridge *denied;
	struct pci_p2p_hb_check hb;
	char reason[512];
};

/**
 * pci_p2p_check_pair - the kernel's map type and distance between two functions
 * @provider: the function whose memory is used
 * @client: the function that does the DMA
 * @env: the inputs beyond the topology, or NULL for the emulator's (no CPU
 *	 rule, the 6.1 allow-list)
 * @res: the answer
 *
 * Computed by the same code as the emulator's pci_p2pdma_map_type_of(),
 * on any fabric (an imported one included), without taking locks or
 * caching: the caller keeps the fabric still.
 *
 * Return: @res->type.
 */
enum pci_p2pdma_map_type pci_p2p_check_pair(struct pci_dev *provider, struct pci_dev *client,
					    const struct pci_p2p_env *env,
					    struct pci_p2p_result *res);

/**
 * pci_p2p_check_host_bridge - whether the kernel trusts a host bridge
 * @hb: the host bridge
 * @same_host_bridge: the traffic stays between this host bridge's own
 *		      root ports
 * @env: as for pci_p2p_check_pair()
 * @out: the verdict
 *
 * The CPU rule is not part of this answer: it trusts every host bridge.
 *
 * Return: @out->verdict.
 */
enum pci_p2p_hb_verdict pci_p2p_check_host_bridge(struct pci_host_bridge *hb, bool same_host_bridge,
						  const struct pci_p2p_env *env,
						  struct pci_p2p_hb_check *out);

/**
 * pci_p2p_allow_list_since - the release an ID arrived on the allow-list in
 * @vendor: vendor ID
 * @device: device ID
 * @exact: set to whether the release is exact or a lower bound
 *
 * Return: PCI_P2P_KERNEL() of that release, 0 when the ID is not listed.
 */
unsigned int pci_p2p_allow_list_since(uint16_t vendor, uint16_t device, bool *exact);

/* --- the machine around the topology ---------------------------------------- */

/**
 * enum pci_p2p_iommu - whether device DMA is translated
 * @PCI_P2P_IOMMU_UNKNOWN: an IOMMU is registered, its default mode unknown
 * @PCI_P2P_IOMMU_OFF: no IOMMU registered
 * @PCI_P2P_IOMMU_TRANSLATED: DMA goes through IOMMU page tables
 * @PCI_P2P_IOMMU_PASSTHROUGH: an IOMMU is there, in identity mode
 */
enum pci_p2p_iommu {
	PCI_P2P_IOMMU_UNKNOWN,
	PCI_P2P_IOMMU_OFF,
	PCI_P2P_IOMMU_TRANSLATED,
	PCI_P2P_IOMMU_PASSTHROUGH,
};

/**
 * struct pci_p2p_host - what a running machine adds to its topology
 * @valid: anything at all could be read
 * @release: the kernel release ("6.1.0-13-amd64"), "" when unknown
 * @kernel: PCI_P2P_KERNEL() of @release, 0 when unknown
 * @p2pdma: CONFIG_PCI_P2PDMA: 1 built in, 0 not set, -1 unknown (no
 *	    configuration found)
 * @config_source: where the configuration came from
 * @config_iommu_passthrough: CONFIG_IOMMU_DEFAULT_PASSTHROUGH, -1 unknown
 * @cpu_known: /proc/cpuinfo was read
 * @cpu_vendor: its first vendor_id ("" on machines without one)
 * @cpu_family: its first cpu family
 * @cpu_supports_p2pdma: the kernel's CPU rule holds (AuthenticAMD, family
 *			 0x17 or later)
 * @cmdline_known: /proc/cmdline was read
 * @cmdline_iommu: the IOMMU and ACS arguments on it, space separated
 * @cmdline_passthrough: iommu=pt or iommu.passthrough=1 (1), their
 *			 opposites (0), neither (-1)
 * @cmdline_off: an IOMMU is switched off there (intel_iommu=off, ...)
 * @disable_acs_redir: the pci=disable_acs_redir= value given at boot
 * @nr_iommu: IOMMU units registered (/sys/class/iommu)
 * @iommu_names: their names
 * @iommu: the mode device DMA is in, unless a device's IOMMU group says
 *	   otherwise
 * @iommu_why: what @iommu rests on
 */
struct pci_p2p_host {
	bool valid;
	char release[65];
	unsigned int kernel;
	int p2pdma;
	char config_source[96];
	int config_iommu_passthrough;
	bool cpu_known;
	char cpu_vendor[16];
	unsigned int cpu_family;
	bool cpu_supports_p2pdma;
	bool cmdline_known;
	char cmdline_iommu[256];
	int cmdline_passthrough;
	bool cmdline_off;
	char disable_acs_redir[256];
	unsigned int nr_iommu;
	char iommu_names[128];
	enum pci_p2p_iommu iommu;
	char iommu_why[128];
};

/**
 * pci_p2p_host_read - read what the running kernel and CPU add
 * @root: "/" for this machine, or a directory holding copies of another
 *	  one's proc/, sys/class/iommu and boot/ files
 * @h: filled in
 *
 * Return: 0, or -ENOENT when nothing could be read, -ENAMETOOLONG.
 */
int pci_p2p_host_read(const char *root, struct pci_p2p_host *h);

/* --- the readiness report ------------------------------------------------------ */

/* A GPU or accelerator whose largest BAR is at most this lends little memory to peers. */
#define PCI_P2P_SMALL_BAR (256ULL << 20)

/**
 * struct pci_p2p_report_opts - what a report covers and assumes
 * @all: every endpoint, not only NVMe, GPU, network and accelerator
 *	 functions
 * @env: the inputs beyond the topology (CPU rule, kernel, what-ifs)
 * @host: the machine's kernel, CPU and IOMMU, or NULL when the topology
 *	  is not this machine's (a dump)
 * @cpu_flag: @env.cpu_supports_p2pdma was given by the caller (a flag),
 *	      not read from @host
 */
struct pci_p2p_report_opts {
	bool all;
	struct pci_p2p_env env;
	const struct pci_p2p_host *host;
	bool cpu_flag;
};

/**
 * struct pci_p2p_pair - one pair of devices in a report
 * @a: the provider's index in the report's devices
 * @b: the client's index (@a < @b; the answer is the same both ways)
 * @provider: the provider
 * @client: the client
 * @res: the kernel's answer
 * @nr_acs_unknown: entries in @acs_unknown
 * @acs_unknown: bridges (and functions of multi-function devices) below
 *		 the common bridge whose ACS could not be read: a BUS_ADDR
 *		 answer assumes their redirect bits are off
 */
struct pci_p2p_pair {
	unsigned int a, b;
	struct pci_dev *provider;
	struct pci_dev *client;
	struct pci_p2p_result res;
	unsigned int nr_acs_unknown;
	struct pci_dev *acs_unknown[PCI_P2P_MAX_PATH];
};

/**
 * struct pci_p2p_report - a machine's P2P readiness
 * @imp: the import it describes
 * @opts: what it was made with
 * @nr_dev: devices that can take part
 * @dev: those devices, in address order
 * @nr_pairs: entries in @pairs, nr_dev * (nr_dev - 1) / 2
 * @pairs: every pair, row by row: (0,1), (0,2), ..., (1,2), ...
 * @count: pairs per enum pci_p2pdma_map_type
 * @acs_all: the functions whose ACS redirect a what-if took off, then every
 *	     one whose redirect keeps a pair from BUS_ADDR, ';' separated: the
 *	     pci=disable_acs_redir= value for all of them
 * @acs_all_truncated: @acs_all could not hold them all
 * @nr_acs_assumed: how many of @acs_all come from what-ifs
 */
struct pci_p2p_report {
	struct pci_import *imp;
	struct pci_p2p_report_opts opts;
	unsigned int nr_dev;
	struct pci_dev **dev;
	unsigned int nr_pairs;
	struct pci_p2p_pair *pairs;
	unsigned int count[4];
	char acs_all[1024];
	bool acs_all_truncated;
	unsigned int nr_acs_assumed;
};

/**
 * pci_p2p_report_create - check every pair of devices of an import
 * @imp: a finished import (what-ifs on ACS already applied)
 * @opts: the options
 *
 * Return: the report, or ERR_PTR(-ENOMEM).
 */
struct pci_p2p_report *pci_p2p_report_create(struct pci_import *imp,
					     const struct pci_p2p_report_opts *opts);

/**
 * pci_p2p_report_destroy - free a report (not its import)
 * @r: the report, or NULL
 */
void pci_p2p_report_destroy(struct pci_p2p_report *r);

/**
 * pci_p2p_report_pair - the pair of two devices of a report
 * @r: the report
 * @a: a device index
 * @b: another one
 *
 * Return: the pair, or NULL when @a equals @b or an index is out of range.
 */
const struct pci_p2p_pair *pci_p2p_report_pair(const struct pci_p2p_report *r, unsigned int a,
					       unsigned int b);

/**
 * enum pci_p2p_note - what a sentence of an explanation is
 * @PCI_P2P_NOTE_WHY: a cause of the answer
 * @PCI_P2P_NOTE_FIX: what would change it
 * @PCI_P2P_NOTE_CAVEAT: what the answer assumes or cannot know
 */
enum pci_p2p_note {
	PCI_P2P_NOTE_WHY,
	PCI_P2P_NOTE_FIX,
	PCI_P2P_NOTE_CAVEAT,
};

/**
 * pci_p2p_explain - the sentences that explain a pair's answer
 * @r: the report
 * @p: one of its pairs
 * @fn: called with each sentence, in order
 * @arg: passed to @fn
 *
 * A BUS_ADDR pair gets a caveat at most (ACS that could not be read).
 */
void pci_p2p_explain(const struct pci_p2p_report *r, const struct pci_p2p_pair *p,
		     void (*fn)(enum pci_p2p_note kind, const char *text, void *arg), void *arg);

/**
 * pci_p2p_report_write_text - the report for people
 * @r: the report
 * @out: where to
 * @colour: colour the map types (ANSI escapes; for a terminal)
 *
 * Return: 0, or -EIO when writing failed.
 */
int pci_p2p_report_write_text(const struct pci_p2p_report *r, FILE *out, bool colour);

/**
 * pci_p2p_report_write_json - the report as one JSON object
 * @r: the report
 * @out: where to
 *
 * Return: 0, or -EIO when writing failed.
 */
int pci_p2p_report_write_json(const struct pci_p2p_report *r, FILE *out);

/**
 * pci_p2p_report_write_dot - the devices, the bridges above them and every
 * pair's map type as a Graphviz graph
 * @r: the report
 * @out: where to
 *
 * Return: 0, or -EIO when writing failed.
 */
int pci_p2p_report_write_dot(const struct pci_p2p_report *r, FILE *out);

/** pci_p2p_category - "NVMe", "GPU", "network", ... for a class code, NULL for others */
const char *pci_p2p_category(uint32_t class);

/** pci_p2p_map_type_name - "BUS_ADDR", "THRU_HOST_BRIDGE", "NOT_SUPPORTED" */
const char *pci_p2p_map_type_name(enum pci_p2pdma_map_type type);

/**
 * pci_p2p_acs_bits - the redirect bits of an ACS control register, "RR CR EC"
 * @ctrl: the register
 * @buf: where the text goes
 * @len: size of @buf
 *
 * Return: @buf ("" when none is set).
 */
const char *pci_p2p_acs_bits(uint16_t ctrl, char *buf, size_t len);

/**
 * pci_p2p_largest_bar - a function's largest memory BAR
 * @f: the function
 * @bar: set to its index, -1 when no size is known
 *
 * Return: its size, 0 when none is known.
 */
uint64_t pci_p2p_largest_bar(const struct pci_import_func *f, int *bar);

/**
 * pci_p2p_small_bar - a GPU or accelerator whose memory BARs are all small
 * @f: the function
 *
 * Return: true when its largest memory BAR is known and at most
 * PCI_P2P_SMALL_BAR.
 */
bool pci_p2p_small_bar(const struct pci_import_func *f);

#endif /* HETMEM_PCI_IMPORT_H */
