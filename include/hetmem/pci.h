/* SPDX-License-Identifier: MIT */
/*
 * The emulated PCIe fabric: host bridges, root ports, switches and
 * endpoints, their configuration space, and the routing of every DMA a
 * function issues.
 *
 * Addresses come in two kinds, as on real machines:
 *
 *  - bus addresses: what a function puts on the wire (BARs, bridge windows,
 *    the addresses a device model DMAs to);
 *  - CPU addresses: what the host sees. A host bridge translates between
 *    them with a fixed offset, cpu = bus + bus_offset. In hetmem a CPU
 *    address below 2^47 is process memory (a user virtual address); the
 *    host bridges' windows are placed above it.
 *
 * The fabric is built (host bridges, ports, switches, endpoints), then
 * enumerated once (pci_fabric_enumerate()) the way firmware does it: bus
 * numbers, BAR sizing through configuration space, bridge windows and BAR
 * addresses. From then on the only truth is configuration space: routing
 * decodes the BARs, windows, command and ACS registers as programmed.
 */
#ifndef HETMEM_PCI_H
#define HETMEM_PCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/pci.h>

#define PCI_STD_NUM_BARS_HM 6
#define PCI_CFG_SPACE_SIZE_HM 4096

struct pci_fabric;
struct pci_host_bridge;
struct pci_bus;
struct pci_dev;
struct iommu_domain;

/* BAR description flags. */
#define PCI_BAR_MEM64 (1u << 0)	   /* 64-bit memory BAR (takes two slots) */
#define PCI_BAR_PREFETCH (1u << 1) /* prefetchable */

/**
 * struct pci_bar_ops - a device model's register BAR
 * @read: a CPU or peer read of @size bytes (1, 2, 4 or 8) at @off
 * @write: a CPU or peer write of @size bytes at @off
 *
 * Accesses are naturally aligned. A device model answers every access,
 * malformed ones included (reads of undefined registers return zero, writes
 * to them are logged as guest errors and dropped).
 */
struct pci_bar_ops {
	uint64_t (*read)(struct pci_dev *dev, int bar, uint64_t off, unsigned int size);
	void (*write)(struct pci_dev *dev, int bar, uint64_t off, uint64_t val, unsigned int size);
};

/**
 * struct pci_bar_desc - one BAR of an endpoint being added
 * @size: power of two, at least 4096; zero for an unimplemented BAR
 * @flags: PCI_BAR_MEM64 and/or PCI_BAR_PREFETCH
 * @ops: register BAR handlers, or NULL for a memory BAR
 * @ram: backing memory of a memory BAR (@size bytes, page aligned), or NULL
 *	 to let the fabric allocate it from a memfd
 * @ram_fd: with @ram, the file @ram is a shared mapping of (from offset 0),
 *	    for pci_bar_fd(); the caller keeps it open while the function
 *	    exists. Read only when @ram_has_fd is set
 * @ram_has_fd: @ram_fd is given
 */
struct pci_bar_desc {
	uint64_t size;
	unsigned int flags;
	const struct pci_bar_ops *ops;
	void *ram;
	int ram_fd;
	bool ram_has_fd;
};

/**
 * struct pci_endpoint_info - an endpoint function to add
 * @name: unique name in the fabric (also the machine-config section name)
 * @vendor: vendor ID
 * @device: device ID
 * @subsystem_vendor: subsystem vendor ID
 * @subsystem_device: subsystem ID
 * @class: class code, prog-if in the low byte (0x010802 is NVMe)
 * @revision: revision ID
 * @function: function number 0-7 on the link below the parent port
 * @bar: BARs; a 64-bit BAR in slot i leaves slot i + 1 empty
 * @priv: the device model's data, returned by pci_get_drvdata()
 */
struct pci_endpoint_info {
	const char *name;
	uint16_t vendor;
	uint16_t device;
	uint16_t subsystem_vendor;
	uint16_t subsystem_device;
	uint32_t class;
	uint8_t revision;
	unsigned int function;
	struct pci_bar_desc bar[PCI_STD_NUM_BARS_HM];
	void *priv;
};

/**
 * struct pci_host_bridge_info - a host bridge to add
 * @name: unique name
 * @domain: PCI domain (segment); hetmem's start at 0x1000 by convention so
 *	    they never collide with the host's real devices
 * @vendor: vendor ID of the host bridge function at 00.0
 * @device: device ID of the host bridge function at 00.0
 * @no_host_function: do not put a host bridge function at 00.0 (some
 *		      machines put another device there)
 * @p2p_allowed: the root complex routes peer traffic between its root
 *		 ports and to other host bridges (the kernel's whitelist case)
 * @iommu_passthrough: DMA from below this host bridge is not translated:
 *		       the bus address is the CPU address
 * @bus_offset: cpu address = bus address + @bus_offset
 * @mem_base: non-prefetchable window, bus address, below 4 GiB
 * @mem_size: its size (0: none)
 * @pref_base: prefetchable 64-bit window, bus address
 * @pref_size: its size (0: none)
 */
struct pci_host_bridge_info {
	const char *name;
	uint16_t domain;
	uint16_t vendor;
	uint16_t device;
	bool no_host_function;
	bool p2p_allowed;
	bool iommu_passthrough;
	uint64_t bus_offset;
	uint64_t mem_base, mem_size;
	uint64_t pref_base, pref_size;
};

/* Directions on a link: toward the host bridge, or away from it. */
enum pci_link_dir {
	PCI_LINK_UP = 0,
	PCI_LINK_DOWN = 1,
};

/**
 * struct pci_link_stats - traffic on one link
 * @bytes: data bytes per direction (data flow, so a read's completion data
 *	   counts in the direction it travels)
 * @tlps: requests per direction; a request never crosses a 4 KiB boundary
 */
struct pci_link_stats {
	uint64_t bytes[2];
	uint64_t tlps[2];
};

/**
 * struct pci_rc_stats - traffic through a root complex
 * @mem_bytes: bytes between devices and host memory, [0] written to
 *	       memory, [1] read from it
 * @p2p_bytes: peer-to-peer bytes that went through this root complex
 * @iommu_faults: DMAs the IOMMU blocked
 * @unsupported: requests nobody claimed or that peer rules refused
 */
struct pci_rc_stats {
	uint64_t mem_bytes[2];
	uint64_t p2p_bytes;
	uint64_t iommu_faults;
	uint64_t unsupported;
};

/* --- building ----------------------------------------------------------- */

/**
 * pci_fabric_create - an empty fabric
 *
 * Return: the fabric, or NULL when out of memory.
 */
struct pci_fabric *pci_fabric_create(void);

/**
 * pci_fabric_destroy - free a fabric and everything on it
 * @f: the fabric, or NULL
 *
 * Device models must have stopped issuing DMA.
 */
void pci_fabric_destroy(struct pci_fabric *f);

/**
 * pci_host_bridge_add - add a host bridge and its root bus
 * @f: the fabric (not yet enumerated)
 * @info: its description
 *
 * Return: the host bridge, or ERR_PTR(-EEXIST) for a name or domain in use,
 * ERR_PTR(-EINVAL) for a window that is not 1 MiB aligned, a non-prefetchable
 * window above 4 GiB, or CPU windows that overlap another host bridge's or
 * process memory, ERR_PTR(-EBUSY) after enumeration, ERR_PTR(-ENOMEM).
 */
struct pci_host_bridge *pci_host_bridge_add(struct pci_fabric *f,
					    const struct pci_host_bridge_info *info);

/**
 * pci_root_port_add - add a root port on a host bridge's root bus
 * @hb: the host bridge
 * @name: unique name
 * @acs_ctrl: initial ACS control bits (PCI_ACS_RR, PCI_ACS_CR, ...)
 *
 * Return: the root port, or ERR_PTR(-EEXIST) for a name in use,
 * ERR_PTR(-ENOSPC) when the root bus is full, ERR_PTR(-EBUSY) after
 * enumeration, ERR_PTR(-ENOMEM).
 */
struct pci_dev *pci_root_port_add(struct pci_host_bridge *hb, const char *name, uint16_t acs_ctrl);

/**
 * pci_switch_add - add a switch below a port
 * @port: a root port or a switch downstream port with nothing below it
 * @name: unique name; downstream port i is named "@name.i"
 * @nr_ports: number of downstream ports, 1-32
 * @acs_ctrl: initial ACS control bits of every downstream port
 *
 * Return: the switch's upstream port, or ERR_PTR(-EINVAL) when @port is not
 * a downstream-facing port or @nr_ports is out of range, ERR_PTR(-EBUSY)
 * when something is already below @port or after enumeration,
 * ERR_PTR(-EEXIST), ERR_PTR(-ENOMEM).
 */
struct pci_dev *pci_switch_add(struct pci_dev *port, const char *name, unsigned int nr_ports,
			       uint16_t acs_ctrl);

/**
 * pci_switch_port - a downstream port of a switch
 * @usp: the switch's upstream port
 * @i: port index
 *
 * Return: the downstream port, or NULL when @i is out of range.
 */
struct pci_dev *pci_switch_port(struct pci_dev *usp, unsigned int i);

/**
 * pci_endpoint_add - add an endpoint function below a port
 * @port: a root port or switch downstream port
 * @info: the function
 *
 * Return: the function, or ERR_PTR(-EINVAL) for a bad BAR (size not a
 * power of two or below 4 KiB, a 64-bit BAR in slot 5 or followed by
 * another BAR, prefetchable without 64-bit) or a bad port,
 * ERR_PTR(-EBUSY) when the function number is taken or a switch is below
 * @port or after enumeration, ERR_PTR(-EEXIST), ERR_PTR(-ENOMEM).
 */
struct pci_dev *pci_endpoint_add(struct pci_dev *port, const struct pci_endpoint_info *info);

/**
 * pci_fabric_enumerate - do what firmware does at boot
 * @f: the fabric
 *
 * Assigns bus numbers depth first, sizes every BAR through configuration
 * space (all-ones write, mask read back), sizes and places bridge windows,
 * programs BARs and windows, and enables memory decode on every function
 * and bus mastering on bridges. Endpoints' bus mastering is left to their
 * drivers (pci_set_master()).
 *
 * Return: 0, or -ENOSPC when the BARs below a host bridge do not fit its
 * windows (the message names the device), -EBUSY when already enumerated.
 */
int pci_fabric_enumerate(struct pci_fabric *f);

/* --- looking things up ----------------------------------------------------- */

/**
 * pci_fabric_find - a function, port or switch by name
 * @f: the fabric
 * @name: its name
 *
 * Return: the function, or NULL.
 */
struct pci_dev *pci_fabric_find(struct pci_fabric *f, const char *name);

/**
 * pci_fabric_find_host_bridge - a host bridge by name
 * @f: the fabric
 * @name: its name
 *
 * Return: the host bridge, or NULL.
 */
struct pci_host_bridge *pci_fabric_find_host_bridge(struct pci_fabric *f, const char *name);

/**
 * pci_fabric_next_dev - iterate over every function in enumeration order
 * @f: the fabric
 * @prev: the previous function, or NULL to start
 *
 * Order: host bridges in the order added, then depth first, functions in
 * devfn order on each bus.
 *
 * Return: the next function, or NULL at the end.
 */
struct pci_dev *pci_fabric_next_dev(struct pci_fabric *f, struct pci_dev *prev);

/**
 * pci_fabric_next_host_bridge - iterate over host bridges
 * @f: the fabric
 * @prev: the previous one, or NULL to start
 *
 * Return: the next host bridge, or NULL at the end.
 */
struct pci_host_bridge *pci_fabric_next_host_bridge(struct pci_fabric *f,
						    struct pci_host_bridge *prev);

/**
 * pci_get_domain_bus_and_slot - a function by its address
 * @f: the fabric
 * @domain: PCI domain
 * @bus: bus number as programmed
 * @devfn: device and function
 *
 * Return: the function, or NULL when nothing answers there.
 */
struct pci_dev *pci_get_domain_bus_and_slot(struct pci_fabric *f, uint16_t domain, unsigned int bus,
					    unsigned int devfn);

/** pci_name - "dddd:bb:dd.f" of @dev (valid until the next call on this thread) */
const char *pci_name(const struct pci_dev *dev);
/** pci_dev_label - the name @dev was added under */
const char *pci_dev_label(const struct pci_dev *dev);
/** pci_dev_vendor - vendor ID */
uint16_t pci_dev_vendor(const struct pci_dev *dev);
/** pci_dev_device - device ID */
uint16_t pci_dev_device(const struct pci_dev *dev);
/** pci_dev_class - class code with prog-if in the low byte */
uint32_t pci_dev_class(const struct pci_dev *dev);
/** pci_dev_domain - the PCI domain @dev is in */
uint16_t pci_dev_domain(const struct pci_dev *dev);
/** pci_dev_busnr - @dev's bus number as programmed */
unsigned int pci_dev_busnr(const struct pci_dev *dev);
/** pci_dev_devfn - @dev's device and function */
unsigned int pci_dev_devfn(const struct pci_dev *dev);
/** pci_get_drvdata - the device model's @priv */
void *pci_get_drvdata(const struct pci_dev *dev);
/** pci_set_drvdata - set the device model's data */
void pci_set_drvdata(struct pci_dev *dev, void *priv);

/**
 * pci_pcie_type - the PCI Express device/port type
 * @dev: the function
 *
 * Return: PCI_EXP_TYPE_*, or -1 for a function without a PCIe capability
 * (the host bridge function).
 */
int pci_pcie_type(const struct pci_dev *dev);

/** pci_is_bridge - whether @dev has a type 1 header */
bool pci_is_bridge(const struct pci_dev *dev);

/**
 * pci_upstream_bridge - the bridge above @dev's bus
 * @dev: the function
 *
 * Return: the root port or switch port above, or NULL on a root bus.
 */
struct pci_dev *pci_upstream_bridge(const struct pci_dev *dev);

/** pci_host_bridge_of - the host bridge @dev is below */
struct pci_host_bridge *pci_host_bridge_of(const struct pci_dev *dev);

/** pci_host_bridge_name - the name a host bridge was added under */
const char *pci_host_bridge_name(const struct pci_host_bridge *hb);

/** pci_host_bridge_info_get - the description a host bridge was added with */
const struct pci_host_bridge_info *pci_host_bridge_info_get(const struct pci_host_bridge *hb);

/**
 * pci_host_bridge_dev - the function at 00.0 of the root bus
 * @hb: the host bridge
 *
 * The kernel reads the peer-traffic whitelist from this function's IDs; on
 * some machines it is not a host bridge at all.
 *
 * Return: the function, or NULL when the slot is empty.
 */
struct pci_dev *pci_host_bridge_dev(const struct pci_host_bridge *hb);

/**
 * pci_find_capability - a standard capability
 * @dev: the function
 * @cap: PCI_CAP_ID_*
 *
 * Return: its config-space offset, or 0.
 */
unsigned int pci_find_capability(struct pci_dev *dev, int cap);

/**
 * pci_find_ext_capability - an extended capability
 * @dev: the function
 * @cap: PCI_EXT_CAP_ID_*
 *
 * Return: its config-space offset, or 0.
 */
unsigned int pci_find_ext_capability(struct pci_dev *dev, int cap);

/**
 * pci_resource_len - size of a BAR as sized at enumeration
 * @dev: the function
 * @bar: BAR index
 *
 * Return: the size, or 0 for an unimplemented BAR.
 */
uint64_t pci_resource_len(const struct pci_dev *dev, int bar);

/**
 * pci_resource_flags - PCI_BAR_* flags of a BAR
 * @dev: the function
 * @bar: BAR index
 *
 * Return: the flags, 0 for an unimplemented BAR.
 */
unsigned int pci_resource_flags(const struct pci_dev *dev, int bar);

/**
 * pci_bus_address - bus address a BAR is programmed at
 * @dev: the function
 * @bar: BAR index
 *
 * Return: the address, or 0 when the BAR is unimplemented.
 */
uint64_t pci_bus_address(struct pci_dev *dev, int bar);

/**
 * pci_resource_start - CPU address of a BAR
 * @dev: the function
 * @bar: BAR index
 *
 * Return: bus address plus the host bridge's bus offset, or 0.
 */
uint64_t pci_resource_start(struct pci_dev *dev, int bar);

/**
 * pci_iomap - the CPU's direct mapping of a memory BAR
 * @dev: the function
 * @bar: BAR index
 *
 * Return: the mapping, or NULL for a register BAR or an unimplemented one
 * (use pci_mmio_read()/pci_mmio_write()).
 */
void *pci_iomap(struct pci_dev *dev, int bar);

/**
 * pci_bar_fd - the memfd backing a memory BAR (the fabric's, or the one a
 *	       device model gave with pci_bar_desc.ram_fd)
 * @dev: the function
 * @bar: BAR index
 * @offset: where the BAR starts in the file
 *
 * Return: the file descriptor, or -ENOENT.
 */
int pci_bar_fd(struct pci_dev *dev, int bar, uint64_t *offset);

/* --- configuration space ---------------------------------------------------- */

/**
 * pci_cfg_read - a configuration read as the CPU issues it
 * @f: the fabric
 * @domain: PCI domain
 * @bus: bus number
 * @devfn: device and function
 * @where: offset, 0-4095, aligned to @size
 * @size: 1, 2 or 4
 *
 * Bus numbers are routed through the bridges' secondary/subordinate
 * registers as programmed, as type 1 configuration requests are.
 *
 * Return: the value; all ones when no function answers, and all ones plus
 * a guest error for a misaligned, oversized or out-of-range access.
 */
uint32_t pci_cfg_read(struct pci_fabric *f, uint16_t domain, unsigned int bus, unsigned int devfn,
		      unsigned int where, unsigned int size);

/**
 * pci_cfg_write - a configuration write as the CPU issues it
 * @f: the fabric
 * @domain: PCI domain
 * @bus: bus number
 * @devfn: device and function
 * @where: offset, 0-4095, aligned to @size
 * @size: 1, 2 or 4
 * @val: the value
 *
 * Read-only bits keep their value, write-one-to-clear bits clear. Writes
 * to absent functions are dropped; malformed ones are dropped and logged
 * as guest errors.
 */
void pci_cfg_write(struct pci_fabric *f, uint16_t domain, unsigned int bus, unsigned int devfn,
		   unsigned int where, unsigned int size, uint32_t val);

/**
 * pci_read_config_byte - configuration read through @dev's address
 * @dev: the function
 * @where: offset
 * @val: the value read
 *
 * Return: 0, or -EINVAL for a malformed access (@val is then all ones).
 */
int pci_read_config_byte(struct pci_dev *dev, int where, uint8_t *val);
/** pci_read_config_word - as pci_read_config_byte(), 16 bits */
int pci_read_config_word(struct pci_dev *dev, int where, uint16_t *val);
/** pci_read_config_dword - as pci_read_config_byte(), 32 bits */
int pci_read_config_dword(struct pci_dev *dev, int where, uint32_t *val);
/**
 * pci_write_config_byte - configuration write through @dev's address
 * @dev: the function
 * @where: offset
 * @val: the value
 *
 * Return: 0, or -EINVAL for a malformed access (dropped).
 */
int pci_write_config_byte(struct pci_dev *dev, int where, uint8_t val);
/** pci_write_config_word - as pci_write_config_byte(), 16 bits */
int pci_write_config_word(struct pci_dev *dev, int where, uint16_t val);
/** pci_write_config_dword - as pci_write_config_byte(), 32 bits */
int pci_write_config_dword(struct pci_dev *dev, int where, uint32_t val);

/**
 * pci_config_snapshot - copy @dev's whole configuration space
 * @dev: the function
 * @buf: 4096 bytes
 */
void pci_config_snapshot(struct pci_dev *dev, uint8_t *buf);

/** pci_set_master - enable bus mastering (Command.BME) */
void pci_set_master(struct pci_dev *dev);
/** pci_clear_master - disable bus mastering */
void pci_clear_master(struct pci_dev *dev);

/* --- transactions -------------------------------------------------------- */

/**
 * pci_dma_read - @dev reads @len bytes at bus address @addr
 * @dev: the initiating function
 * @addr: bus address
 * @buf: where the data lands
 * @len: length
 *
 * The request is routed as PCIe routes it: to a peer's BAR below a common
 * switch unless ACS redirects it, else up through the root complex, where
 * the IOMMU translates it and it reaches host memory or, if the root
 * complex allows peer traffic, a BAR below another root port or host
 * bridge. Every link on the way counts the bytes.
 *
 * Return: 0, -EPERM when bus mastering is off on @dev or a bridge on the
 * way, -EFAULT when the IOMMU blocked it (or, behind a passthrough host
 * bridge, the process has nothing mapped there), -EREMOTEIO when nothing
 * claims the address or the root complex refuses the peer traffic. On
 * error part of @buf may have been filled.
 */
int pci_dma_read(struct pci_dev *dev, uint64_t addr, void *buf, size_t len);

/**
 * pci_dma_write - @dev writes @len bytes at bus address @addr
 * @dev: the initiating function
 * @addr: bus address
 * @buf: the data
 * @len: length
 *
 * Routed as for pci_dma_read().
 *
 * Return: 0, -EPERM, -EFAULT, -EREMOTEIO as for pci_dma_read(); on error a
 * prefix of the data may have been written.
 */
int pci_dma_write(struct pci_dev *dev, uint64_t addr, const void *buf, size_t len);

/**
 * pci_mmio_read - a CPU read of a BAR
 * @dev: the function
 * @bar: BAR index
 * @off: offset in the BAR, aligned to @size
 * @size: 1, 2, 4 or 8
 *
 * Routed down from the host bridge, counted on every link.
 *
 * Return: the value; all ones for an unimplemented BAR, an offset outside
 * it, a misaligned access, or memory decode disabled on the way.
 */
uint64_t pci_mmio_read(struct pci_dev *dev, int bar, uint64_t off, unsigned int size);

/**
 * pci_mmio_write - a CPU write to a BAR
 * @dev: the function
 * @bar: BAR index
 * @off: offset in the BAR, aligned to @size
 * @size: 1, 2, 4 or 8
 * @val: the value
 *
 * Dropped (and logged) when a read of the same access would return all
 * ones.
 */
void pci_mmio_write(struct pci_dev *dev, int bar, uint64_t off, unsigned int size, uint64_t val);

/* --- where data went --------------------------------------------------------- */

/**
 * pci_link_stats_get - traffic on the link above @dev
 * @dev: the function or port
 * @out: the counters
 *
 * For an endpoint or upstream port this is its PCIe link; for a switch's
 * downstream port the path between it and the switch's internal bus; for
 * a root port the path between it and the root complex.
 */
void pci_link_stats_get(const struct pci_dev *dev, struct pci_link_stats *out);

/**
 * pci_rc_stats_get - traffic through a host bridge's root complex
 * @hb: the host bridge
 * @out: the counters
 */
void pci_rc_stats_get(const struct pci_host_bridge *hb, struct pci_rc_stats *out);

/**
 * pci_fabric_reset_stats - zero every counter of the fabric
 * @f: the fabric
 */
void pci_fabric_reset_stats(struct pci_fabric *f);

/* Where a request ends up; see pci_route(). */
enum pci_route_kind {
	PCI_ROUTE_HOST_MEMORY, /* process memory, through the root complex */
	PCI_ROUTE_PEER,	       /* a function's BAR */
	PCI_ROUTE_IOMMU_FAULT, /* blocked by the IOMMU */
	PCI_ROUTE_UNCLAIMED,   /* nobody decodes it, or a root complex refused it */
	PCI_ROUTE_NO_MASTER,   /* bus mastering off on the initiator or a bridge */
};

#define PCI_ROUTE_MAX_HOPS 32

/**
 * struct pci_route - the path of one request
 * @kind: where it ends
 * @target: the function whose BAR claimed it (PCI_ROUTE_PEER)
 * @bar: that BAR
 * @offset: offset in that BAR
 * @cpu_addr: the address after the root complex (IOMMU output)
 * @len: how many bytes from the request's start share this path
 * @through_rc: whether it crossed a root complex
 * @untranslated: it reached host memory through a passthrough host bridge,
 *		  so nothing vouches for the address: the copy is checked
 * @rc: the root complexes crossed ([1] only when it crossed two)
 * @nr_hops: entries in @hop
 * @hop: the links crossed, in order, with the request's direction
 */
struct pci_route {
	enum pci_route_kind kind;
	struct pci_dev *target;
	int bar;
	uint64_t offset;
	uint64_t cpu_addr;
	uint64_t len;
	bool through_rc;
	bool untranslated;
	struct pci_host_bridge *rc[2];
	unsigned int nr_hops;
	struct {
		struct pci_dev *dev;
		enum pci_link_dir dir;
	} hop[PCI_ROUTE_MAX_HOPS];
};

/**
 * pci_route - work out where a request from @dev to @addr would go
 * @dev: the initiating function
 * @addr: bus address
 * @len: request length
 * @write: true for a write (the IOMMU checks the permission)
 * @route: the answer
 *
 * Nothing is transferred or counted.
 *
 * Return: 0 when the request would be delivered, else the error
 * pci_dma_read()/pci_dma_write() would return; @route says why.
 */
int pci_route(struct pci_dev *dev, uint64_t addr, size_t len, bool write, struct pci_route *route);

#endif /* HETMEM_PCI_H */
