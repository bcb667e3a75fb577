// SPDX-License-Identifier: MIT
/*
 * Routing: where a memory request goes, as PCIe address routing decides it.
 *
 * Upstream, a request climbs from its initiator. On every bus it reaches,
 * the functions there decode it: an endpoint by its BARs, a bridge by its
 * windows (PCI-PCI bridge 1.2 sec. 4.1). A claim turns the request
 * downstream; the claiming bridge passes it to its secondary bus and so on
 * down to a BAR. When nothing on a bus claims it, the bridge above forwards
 * it upstream, unless the address lies inside that bridge's own windows
 * (then nothing can claim it: Unsupported Request).
 *
 * ACS (PCIe 4.0 sec. 6.12.1.1): a request that enters a switch through a
 * downstream port with P2P Request Redirect, Completion Redirect or Egress
 * Control set is not decoded against the sibling ports; it is sent up to
 * the root complex, which is where the IOMMU sees it. The kernel treats the
 * three bits alike when it decides whether peer traffic stays below a
 * switch, and so does this model.
 *
 * At the root complex the IOMMU translates the bus address (an IOVA) into
 * a CPU address. A CPU address inside a host bridge's windows is peer
 * traffic through the root complex: allowed only when every root complex
 * involved allows it; it continues down from that host bridge's root bus.
 * Any other CPU address below 2^47 is process memory.
 *
 * Data moves outside the fabric lock: the route is decided under it, then
 * the bytes are copied, then counted.
 */
#define pr_fmt(fmt) "pci-route: " fmt

#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <hetmem/iommu.h>
#include <hetmem/log.h>
#include "lib/fault_guard.h"
#include "internal.h"
#include "lib/trace.h"

#ifdef CONFIG_IOMMU
#define IOMMU_TRANSLATES 1
#else
#define IOMMU_TRANSLATES 0 /* no IOMMU: every host bridge passes addresses through */
#endif

#define ACS_REDIRECT_BITS (PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_EC)

static bool bridge_decodes(const struct pci_dev *dev, uint64_t addr)
{
	return pci_range_contains(&dev->win_mem, addr) || pci_range_contains(&dev->win_pref, addr);
}

struct pci_dev *pci_claim_on_bus(struct pci_bus *bus, uint64_t addr, const struct pci_dev *skip,
				 int *bar)
{
	for (unsigned int i = 0; i < bus->nr_present; i++) {
		struct pci_dev *dev = bus->present[i];

		if (dev == skip || !dev->mem_enable)
			continue;
		if (dev->subordinate) {
			if (bridge_decodes(dev, addr)) {
				*bar = -1;
				return dev;
			}
			continue;
		}
		for (int b = 0; b < PCI_STD_NUM_BARS_HM; b++) {
			const struct pci_bar *pb = &dev->bar[b];

			if (pb->size && addr >= pb->addr && addr - pb->addr < pb->size) {
				*bar = b;
				return dev;
			}
		}
	}
	return NULL;
}

static int add_hop(struct pci_route *r, struct pci_dev *dev, enum pci_link_dir dir)
{
	if (r->nr_hops >= PCI_ROUTE_MAX_HOPS)
		return -EREMOTEIO;
	r->hop[r->nr_hops].dev = dev;
	r->hop[r->nr_hops].dir = dir;
	r->nr_hops++;
	return 0;
}

static int fail(struct pci_route *r, enum pci_route_kind kind, int err)
{
	r->kind = kind;
	r->target = NULL;
	return err;
}

/* From a claim on some bus, follow bridges down to the BAR. */
static int descend(struct pci_route *r, struct pci_dev *t, int bar, uint64_t addr)
{
	const struct pci_bar *pb;
	uint64_t left;

	while (t->subordinate) {
		if (add_hop(r, t, PCI_LINK_DOWN))
			return fail(r, PCI_ROUTE_UNCLAIMED, -EREMOTEIO);
		t = pci_claim_on_bus(t->subordinate, addr, NULL, &bar);
		if (!t)
			return fail(r, PCI_ROUTE_UNCLAIMED, -EREMOTEIO);
	}
	if (add_hop(r, t, PCI_LINK_DOWN))
		return fail(r, PCI_ROUTE_UNCLAIMED, -EREMOTEIO);
	pb = &t->bar[bar];
	r->kind = PCI_ROUTE_PEER;
	r->target = t;
	r->bar = bar;
	r->offset = addr - pb->addr;
	left = pb->size - r->offset;
	if (r->len > left)
		r->len = left;
	return 0;
}

static struct pci_host_bridge *cpu_addr_owner(struct pci_fabric *f, uint64_t cpu)
{
	struct pci_host_bridge *hb;

	list_for_each_entry(hb, &f->host_bridges, node) {
		const struct pci_host_bridge_info *in = &hb->info;
		struct pci_range mem = { in->mem_base + in->bus_offset, in->mem_size };
		struct pci_range pref = { in->pref_base + in->bus_offset, in->pref_size };

		if (pci_range_contains(&mem, cpu) || pci_range_contains(&pref, cpu))
			return hb;
	}
	return NULL;
}

/* The request reached @init's root complex carrying bus address @addr. */
static int route_root_complex(struct pci_dev *init, uint64_t addr, bool write,
			      struct pci_route *r)
{
	struct pci_host_bridge *hb = init->host, *target;
	uint64_t cpu = addr;
	int bar;

	r->through_rc = true;
	r->rc[0] = hb;
	if (IOMMU_TRANSLATES && !hb->info.iommu_passthrough) {
		size_t run = 0;

		if (init->iommu)
			run = iommu_translate(init->iommu, addr, r->len,
					      write ? IOMMU_WRITE : IOMMU_READ, &cpu);
		if (!run)
			return fail(r, PCI_ROUTE_IOMMU_FAULT, -EFAULT);
		r->len = run;
	} else {
		r->untranslated = true;
	}
	r->cpu_addr = cpu;

	target = cpu_addr_owner(init->fabric, cpu);
	if (!target) {
		if (cpu >= PCI_CPU_WINDOW_FLOOR || cpu + r->len > PCI_CPU_WINDOW_FLOOR)
			return fail(r, PCI_ROUTE_UNCLAIMED, -EREMOTEIO);
		r->kind = PCI_ROUTE_HOST_MEMORY;
		return 0;
	}
	if (!hb->info.p2p_allowed || !target->info.p2p_allowed)
		return fail(r, PCI_ROUTE_UNCLAIMED, -EREMOTEIO);
	if (target != hb)
		r->rc[1] = target;
	addr = cpu - target->info.bus_offset;
	init = pci_claim_on_bus(target->bus, addr, NULL, &bar);
	if (!init)
		return fail(r, PCI_ROUTE_UNCLAIMED, -EREMOTEIO);
	return descend(r, init, bar, addr);
}

static int route_locked(struct pci_dev *init, uint64_t addr, uint64_t len, bool write,
			struct pci_route *r)
{
	struct pci_dev *cur = init, *t;
	struct pci_bus *bus = init->bus;
	bool redirected = false;
	int bar;

	memset(r, 0, sizeof(*r));
	r->bar = -1;
	r->len = len;
	if (!init->master)
		return fail(r, PCI_ROUTE_NO_MASTER, -EPERM);

	/* A function reaching its own BAR never puts the request on a link. */
	for (int b = 0; b < PCI_STD_NUM_BARS_HM; b++) {
		const struct pci_bar *pb = &init->bar[b];

		if (init->mem_enable && pb->size && addr >= pb->addr && addr - pb->addr < pb->size) {
			r->kind = PCI_ROUTE_PEER;
			r->target = init;
			r->bar = b;
			r->offset = addr - pb->addr;
			if (r->len > pb->size - r->offset)
				r->len = pb->size - r->offset;
			return 0;
		}
	}

	for (;;) {
		struct pci_dev *up;

		if (add_hop(r, cur, PCI_LINK_UP))
			return fail(r, PCI_ROUTE_UNCLAIMED, -EREMOTEIO);
		if (!bus->self)
			break; /* root bus: the root complex decides */
		if (cur->kind == PCI_KIND_DSP && (cur->acs_ctrl & ACS_REDIRECT_BITS))
			redirected = true;
		if (!redirected) {
			t = pci_claim_on_bus(bus, addr, cur, &bar);
			if (t)
				return descend(r, t, bar, addr);
		}
		up = bus->self;
		if (!up->master)
			return fail(r, PCI_ROUTE_NO_MASTER, -EPERM);
		if (!redirected && bridge_decodes(up, addr))
			return fail(r, PCI_ROUTE_UNCLAIMED, -EREMOTEIO);
		cur = up;
		bus = up->bus;
	}
	return route_root_complex(init, addr, write, r);
}

int pci_route(struct pci_dev *dev, uint64_t addr, size_t len, bool write, struct pci_route *route)
{
	int ret;

	pthread_rwlock_rdlock(&dev->fabric->lock);
	ret = route_locked(dev, addr, len, write, route);
	pthread_rwlock_unlock(&dev->fabric->lock);
	return ret;
}

/* Requests never cross a 4 KiB boundary (PCIe 4.0 sec. 2.2.7). */
static uint64_t nr_requests(uint64_t addr, uint64_t len)
{
	return ((addr + len - 1) >> 12) - (addr >> 12) + 1;
}

static void account(const struct pci_route *r, uint64_t addr, uint64_t n, bool write)
{
	uint64_t tlps = nr_requests(addr, n);

	for (unsigned int i = 0; i < r->nr_hops; i++) {
		struct pci_dev *d = r->hop[i].dev;
		/* A read's data comes back the opposite way its request went. */
		enum pci_link_dir data = write ? r->hop[i].dir : !r->hop[i].dir;

		stat_add(&d->stats.bytes[data], n);
		stat_add(&d->stats.tlps[r->hop[i].dir], tlps);
	}
	if (!r->through_rc)
		return;
	if (r->kind == PCI_ROUTE_HOST_MEMORY) {
		stat_add(&r->rc[0]->stats.mem_bytes[write ? 0 : 1], n);
	} else {
		stat_add(&r->rc[0]->stats.p2p_bytes, n);
		if (r->rc[1])
			stat_add(&r->rc[1]->stats.p2p_bytes, n);
	}
}

static void report_failure(struct pci_dev *dev, const struct pci_route *r, uint64_t addr,
			   bool write, int err)
{
	struct pci_host_bridge *hb = dev->host;

	switch (r->kind) {
	case PCI_ROUTE_IOMMU_FAULT:
		stat_add(&hb->stats.iommu_faults, 1);
		iommu_report_fault(dev->iommu, dev, addr, write ? IOMMU_WRITE : IOMMU_READ);
		pr_warn("%s (%s): DMA %s at 0x%llx blocked by the IOMMU", pci_name(dev), dev->name,
			write ? "write" : "read", (unsigned long long)addr);
		break;
	case PCI_ROUTE_NO_MASTER:
		pr_warn("%s (%s): DMA %s at 0x%llx with bus mastering off on the way",
			pci_name(dev), dev->name, write ? "write" : "read",
			(unsigned long long)addr);
		break;
	default:
		stat_add(&hb->stats.unsupported, 1);
		pr_warn("%s (%s): DMA %s at 0x%llx: unsupported request (nothing claims it%s)",
			pci_name(dev), dev->name, write ? "write" : "read",
			(unsigned long long)addr,
			r->through_rc ? ", or a root complex refuses peer traffic" : "");
		break;
	}
	trace_probe(dma_fail, dev->name, addr, write, err);
}

/* Register BARs take naturally aligned accesses of at most 8 bytes. */
static void bar_ops_rw(struct pci_dev *t, int bar, uint64_t off, uint8_t *buf, uint64_t n,
		       bool write)
{
	const struct pci_bar_ops *ops = t->bar[bar].ops;

	while (n) {
		unsigned int size = 8;
		uint64_t v = 0;

		while (size > n || (off & (size - 1)))
			size >>= 1;
		if (write) {
			memcpy(&v, buf, size);
			if (ops->write)
				ops->write(t, bar, off, v, size);
		} else {
			v = ops->read ? ops->read(t, bar, off, size) : 0;
			memcpy(buf, &v, size);
		}
		off += size;
		buf += size;
		n -= size;
	}
}

/*
 * Without an IOMMU nothing stops a device from naming an address the
 * process never mapped. Real memory would be corrupted silently; here the
 * copy goes through process_vm_{read,write}v on ourselves, which fails with
 * EFAULT instead of taking the process down.
 */
static int copy_unchecked(uint64_t cpu, uint8_t *buf, uint64_t n, bool write)
{
	struct iovec local = { buf, n }, remote = { (void *)(uintptr_t)cpu, n };
	ssize_t done;

	if (write)
		done = process_vm_writev(getpid(), &local, 1, &remote, 1, 0);
	else
		done = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	return done == (ssize_t)n ? 0 : -EFAULT;
}

/*
 * A naturally aligned access of 1, 2, 4 or 8 bytes lands whole, with
 * release/acquire ordering: a device that writes a payload and then a
 * completion word, and a driver polling that word, see each other the way
 * they would on PCIe (memory writes are posted in order). Longer transfers
 * are plain copies.
 */
static void copy_mem(void *mem, uint8_t *buf, uint64_t n, bool write)
{
	if ((n == 1 || n == 2 || n == 4 || n == 8) && !((uintptr_t)mem & (n - 1))) {
		uint64_t v = 0;

		if (write) {
			memcpy(&v, buf, n);
			switch (n) {
			case 1: __atomic_store_n((uint8_t *)mem, (uint8_t)v, __ATOMIC_RELEASE); break;
			case 2: __atomic_store_n((uint16_t *)mem, (uint16_t)v, __ATOMIC_RELEASE); break;
			case 4: __atomic_store_n((uint32_t *)mem, (uint32_t)v, __ATOMIC_RELEASE); break;
			default: __atomic_store_n((uint64_t *)mem, v, __ATOMIC_RELEASE); break;
			}
		} else {
			switch (n) {
			case 1: v = __atomic_load_n((uint8_t *)mem, __ATOMIC_ACQUIRE); break;
			case 2: v = __atomic_load_n((uint16_t *)mem, __ATOMIC_ACQUIRE); break;
			case 4: v = __atomic_load_n((uint32_t *)mem, __ATOMIC_ACQUIRE); break;
			default: v = __atomic_load_n((uint64_t *)mem, __ATOMIC_ACQUIRE); break;
			}
			memcpy(buf, &v, n);
		}
		return;
	}
	if (write)
		memcpy(mem, buf, n);
	else
		memcpy(buf, mem, n);
}

/*
 * Process memory through the IOMMU. An IOVA mapped before a p2pmem mapping
 * was revoked may still name its range, which now faults on every access:
 * the copy is refused instead (-EFAULT, reported as an IOMMU fault), and
 * no revocation can start while it runs. Any other process memory the
 * IOMMU maps may be unmapped by its owner while the mapping stands (the
 * kernel would keep the pinned pages; here they go with the munmap(), and
 * the userfaultfd event that stops the device comes after): the copy runs
 * under a fault guard, and a fault is the same -EFAULT.
 */
/*
 * A device reading process memory while the CPU writes it sees the old
 * bytes or the new, as on PCIe; what orders a device against the CPU is
 * the kernel (userfaultfd, write protection), which ThreadSanitizer does
 * not see, so it would report such reads as races. Under it, device reads
 * of process memory are an uninstrumented copy (naturally aligned words
 * still read whole); device writes stay checked.
 */
#ifdef __SANITIZE_THREAD__
__attribute__((no_sanitize_thread, noinline)) static void device_read(uint8_t *buf,
								   const void *mem, uint64_t n)
{
	const volatile uint8_t *s = mem;
	uint64_t i = 0;

	if ((n == 1 || n == 2 || n == 4 || n == 8) && !((uintptr_t)mem & (n - 1))) {
		uint64_t v = n == 1 ? *(const volatile uint8_t *)mem :
			     n == 2 ? *(const volatile uint16_t *)mem :
			     n == 4 ? *(const volatile uint32_t *)mem :
				      *(const volatile uint64_t *)mem;

		for (; i < n; i++)
			buf[i] = (uint8_t)(v >> (8 * i));
		return;
	}
	for (; i < n; i++)
		buf[i] = s[i];
}

void __tsan_release(void *addr);

/*
 * A guarded write that faults must not fault inside the sanitizer's atomic
 * store: the guard jumps out of it with the sanitizer's lock still taken
 * (the next synchronisation on the thread then waits for ever). The
 * release a 1..8-byte store makes is told to the sanitizer first, and the
 * store itself is not instrumented.
 */
__attribute__((no_sanitize_thread, noinline)) static void device_write(void *mem,
								    const uint8_t *buf, uint64_t n)
{
	uint64_t v = 0;

	if (!((n == 1 || n == 2 || n == 4 || n == 8) && !((uintptr_t)mem & (n - 1)))) {
		copy_mem(mem, (uint8_t *)buf, n, true);
		return;
	}
	for (uint64_t i = 0; i < n; i++)
		v |= (uint64_t)buf[i] << (8 * i);
	__tsan_release(mem);
	if (n == 1)
		*(volatile uint8_t *)mem = (uint8_t)v;
	else if (n == 2)
		*(volatile uint16_t *)mem = (uint16_t)v;
	else if (n == 4)
		*(volatile uint32_t *)mem = (uint32_t)v;
	else
		*(volatile uint64_t *)mem = v;
}
#else
static void device_read(uint8_t *buf, const void *mem, uint64_t n)
{
	copy_mem((void *)mem, buf, n, false);
}

static void device_write(void *mem, const uint8_t *buf, uint64_t n)
{
	copy_mem(mem, (uint8_t *)buf, n, true);
}
#endif

static int copy_guarded(uint64_t cpu, uint8_t *buf, uint64_t n, bool write)
{
	struct fault_guard g;

	if (fault_guard_enter(&g, (uintptr_t)cpu, n))
		return -EFAULT;
	if (write)
		device_write((void *)(uintptr_t)cpu, buf, n);
	else
		device_read(buf, (const void *)(uintptr_t)cpu, n);
	fault_guard_leave(&g);
	return 0;
}

static int copy_host(uint64_t cpu, uint8_t *buf, uint64_t n, bool write)
{
	int ret = p2pmem_host_access_begin(cpu, n);

	if (!ret)
		ret = copy_guarded(cpu, buf, n, write);
	p2pmem_host_access_end();
	return ret;
}

static int move_data(const struct pci_route *r, uint8_t *buf, uint64_t n, bool write)
{
	void *mem;

	if (r->kind == PCI_ROUTE_HOST_MEMORY) {
		if (r->untranslated)
			return copy_unchecked(r->cpu_addr, buf, n, write);
		return copy_host(r->cpu_addr, buf, n, write);
	} else if (r->target->bar[r->bar].ops) {
		bar_ops_rw(r->target, r->bar, r->offset, buf, n, write);
		return 0;
	} else {
		mem = (uint8_t *)r->target->bar[r->bar].ram + r->offset;
	}
	copy_mem(mem, buf, n, write);
	return 0;
}

static int dma_rw(struct pci_dev *dev, uint64_t addr, uint8_t *buf, size_t len, bool write)
{
	struct pci_route r;

	trace_probe(dma, dev->name, addr, len, write);
	while (len) {
		int ret;

		pthread_rwlock_rdlock(&dev->fabric->lock);
		ret = route_locked(dev, addr, len, write, &r);
		pthread_rwlock_unlock(&dev->fabric->lock);
		if (ret) {
			report_failure(dev, &r, addr, write, ret);
			return ret;
		}
		ret = move_data(&r, buf, r.len, write);
		if (ret) {
			/* Translated process memory that is gone: the IOMMU's entry is stale. */
			r.kind = r.kind == PCI_ROUTE_HOST_MEMORY && !r.untranslated ?
					 PCI_ROUTE_IOMMU_FAULT : PCI_ROUTE_UNCLAIMED;
			report_failure(dev, &r, addr, write, ret);
			return ret;
		}
		account(&r, addr, r.len, write);
		addr += r.len;
		buf += r.len;
		len -= r.len;
	}
	return 0;
}

int pci_dma_read(struct pci_dev *dev, uint64_t addr, void *buf, size_t len)
{
	return dma_rw(dev, addr, buf, len, false);
}

int pci_dma_write(struct pci_dev *dev, uint64_t addr, const void *buf, size_t len)
{
	return dma_rw(dev, addr, (uint8_t *)buf, len, true);
}

/*
 * CPU accesses enter at the host bridge and are decoded downward like any
 * other request; a BAR the path does not reach (decode off on the way, BAR
 * not programmed inside its bridges' windows) reads all ones.
 */
static int mmio_route(struct pci_dev *dev, int bar, uint64_t off, unsigned int size,
		      struct pci_route *r)
{
	const struct pci_bar *pb;
	struct pci_dev *t;
	uint64_t addr;
	int b;

	memset(r, 0, sizeof(*r));
	if (bar < 0 || bar >= PCI_STD_NUM_BARS_HM || !dev->bar[bar].size) {
		guest_err("%s: MMIO to unimplemented BAR%d", dev->name, bar);
		return -EINVAL;
	}
	pb = &dev->bar[bar];
	if ((size != 1 && size != 2 && size != 4 && size != 8) || (off & (size - 1)) ||
	    off >= pb->size || pb->size - off < size) {
		guest_err("%s: bad %u-byte MMIO at BAR%d+0x%llx", dev->name, size, bar,
			  (unsigned long long)off);
		return -EINVAL;
	}
	addr = pb->addr + off;
	r->len = size;
	t = pci_claim_on_bus(dev->host->bus, addr, NULL, &b);
	if (!t || descend(r, t, b, addr) || r->target != dev || r->bar != bar) {
		guest_err("%s: MMIO to BAR%d+0x%llx does not reach the device", dev->name, bar,
			  (unsigned long long)off);
		return -EREMOTEIO;
	}
	return 0;
}

uint64_t pci_mmio_read(struct pci_dev *dev, int bar, uint64_t off, unsigned int size)
{
	struct pci_route r;
	uint64_t v = 0;
	int ret;

	pthread_rwlock_rdlock(&dev->fabric->lock);
	ret = mmio_route(dev, bar, off, size, &r);
	pthread_rwlock_unlock(&dev->fabric->lock);
	if (ret)
		return size >= 8 ? ~0ULL : (1ULL << (8 * size)) - 1;
	move_data(&r, (uint8_t *)&v, size, false);
	/* CPU reads: the request goes down, the data comes up. */
	account(&r, r.offset, size, false);
	return v;
}

void pci_mmio_write(struct pci_dev *dev, int bar, uint64_t off, unsigned int size, uint64_t val)
{
	struct pci_route r;
	int ret;

	pthread_rwlock_rdlock(&dev->fabric->lock);
	ret = mmio_route(dev, bar, off, size, &r);
	pthread_rwlock_unlock(&dev->fabric->lock);
	if (ret)
		return;
	move_data(&r, (uint8_t *)&val, size, true);
	account(&r, r.offset, size, true);
}
