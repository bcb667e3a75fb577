/* SPDX-License-Identifier: MIT */
/*
 * The process address space as hetmem's memory manager sees it.
 *
 * The kernel has one mm_struct per process and handles every fault of it.
 * hetmem is a library inside the process: struct hetmem_mm is the process's
 * context, created on first use, with
 *  - a userfaultfd on which hetmem registers the anonymous ranges it
 *    migrates (MISSING and WP modes) and a thread that serves its faults
 *    and reads its UNMAP / REMOVE / REMAP events,
 *  - a shadow of the non-present page-table entries the kernel would keep
 *    (device-private, device-exclusive and migration entries), indexed by
 *    virtual address,
 *  - the interval notifiers of the devices mirroring the process.
 * See Documentation/hmm.md for how each kernel mechanism maps onto it.
 */
#ifndef HETMEM_MM_TYPES_H
#define HETMEM_MM_TYPES_H

#include <stdbool.h>
#include <stdint.h>

struct page;
struct hetmem_mm;

/* Mapping flags, kernel values (include/linux/mm.h). */
#define VM_READ	  0x00000001UL
#define VM_WRITE  0x00000002UL
#define VM_EXEC	  0x00000004UL
#define VM_SHARED 0x00000008UL

/**
 * struct vm_area_struct - what hetmem knows of one mapping
 * @vm_start: first address
 * @vm_end: first address past it
 * @vm_flags: VM_READ, VM_WRITE, VM_EXEC, VM_SHARED
 * @anonymous: no file behind it (vma_is_anonymous() in the kernel)
 *
 * A snapshot taken from the kernel (the PROCMAP_QUERY ioctl on
 * /proc/self/maps, or the text of that file on kernels before 6.11), not
 * the kernel's object: it may be stale as soon as it is returned.
 */
struct vm_area_struct {
	unsigned long vm_start;
	unsigned long vm_end;
	unsigned long vm_flags;
	bool anonymous;
};

/* Fault flags, kernel values (enum fault_flag). */
#define FAULT_FLAG_WRITE 0x01U

/* Fault results, kernel values (enum vm_fault_reason). */
#define VM_FAULT_OOM	 0x000001U
#define VM_FAULT_SIGBUS	 0x000002U
#define VM_FAULT_MAJOR	 0x000004U
#define VM_FAULT_SIGSEGV 0x000040U
#define VM_FAULT_NOPAGE	 0x000100U
#define VM_FAULT_RETRY	 0x000400U
#define VM_FAULT_ERROR	 (VM_FAULT_OOM | VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV)

/**
 * struct vm_fault - a CPU fault on a device-private page
 * @mm: the address space
 * @vma: the mapping holding @address
 * @flags: FAULT_FLAG_WRITE for a write
 * @address: the faulting address, page aligned
 * @real_address: the faulting address as reported
 * @page: the device-private page mapped there; the fault path holds its
 *	  migration entry, so the page stays put until migrate_to_ram()
 *	  returns; pass it as migrate_vma.fault_page
 *
 * Given to dev_pagemap_ops.migrate_to_ram(), which runs on the fault
 * handler thread for CPU faults, and on the caller's thread when
 * hmm_range_fault() or the fork preparation brings pages home.
 */
struct vm_fault {
	struct hetmem_mm *mm;
	const struct vm_area_struct *vma;
	unsigned int flags;
	unsigned long address;
	unsigned long real_address;
	struct page *page;
};

/**
 * hetmem_mm_get - the calling process's address space, with a reference
 *
 * Creates the context on first use: a userfaultfd (the syscall, or
 * /dev/userfaultfd when the syscall is refused), its fault handler thread
 * and the system page pool. Fork preparation handlers are installed the
 * first time (see Documentation/hmm.md, "Fork").
 *
 * Return: the context, or ERR_PTR(-EPERM) when neither way of opening a
 * userfaultfd is allowed (unprivileged, vm.unprivileged_userfaultfd = 0),
 * ERR_PTR(-ENOSYS) when the kernel has no userfaultfd or lacks a feature
 * hetmem needs (write-protect, UNMAP/REMOVE/REMAP events),
 * ERR_PTR(-ENOMEM), or ERR_PTR(-EAGAIN) when the handler thread cannot be
 * started.
 */
struct hetmem_mm *hetmem_mm_get(void);

/**
 * hetmem_mm_put - drop a reference taken by hetmem_mm_get()
 * @mm: the context, or NULL
 *
 * The last reference tears the context down: device-private pages still
 * mapped are brought home through their maps' migrate_to_ram(), the
 * handler thread stops and the userfaultfd is closed, which unregisters
 * every range.
 */
void hetmem_mm_put(struct hetmem_mm *mm);

/**
 * hetmem_mm_sync - wait until CPU-side changes already made have been told
 * @mm: the address space
 *
 * A munmap() or madvise(MADV_DONTNEED) of a range hetmem registered
 * returns as soon as the fault handler thread has read its event; the
 * invalidation of the notifiers follows on that thread. A driver about to
 * trust its mirror of addresses the application may just have unmapped
 * calls this first (the kernel's munmap() returns after the invalidation).
 * Cheap when the handler thread is idle; a no-op on that thread.
 */
void hetmem_mm_sync(struct hetmem_mm *mm);

/**
 * hetmem_vma_lookup - the mapping holding an address
 * @mm: the address space
 * @addr: any address
 * @vma: filled in
 *
 * Return: 0; -ENOENT when nothing is mapped at @addr; -EIO when the
 * kernel's mapping list cannot be read.
 */
int hetmem_vma_lookup(struct hetmem_mm *mm, unsigned long addr, struct vm_area_struct *vma);

/**
 * vma_is_anonymous - whether a mapping has no file behind it
 * @vma: the mapping
 *
 * Return: true for anonymous memory (shared anonymous memory is shmem,
 * which has a file: false).
 */
static inline bool vma_is_anonymous(const struct vm_area_struct *vma)
{
	return vma->anonymous;
}

/**
 * struct hetmem_mm_stats - what the fault handler and migrations did
 * @faults: userfaultfd page faults read
 * @device_faults: faults served by a map's migrate_to_ram()
 * @zero_fills: faults on never-populated pages, served with the zero page
 * @wp_faults: write-protect faults (writers blocked by a migration, or
 *	       revoking device-exclusive access)
 * @deferred: faults left for the migration holding the page to wake
 * @events: UNMAP, REMOVE and REMAP events
 * @moved: pages moved with UFFDIO_MOVE (zap to the pool, install from it)
 * @copied: pages installed with UFFDIO_COPY
 * @zapped: pages discarded with MADV_DONTNEED
 * @to_device: pages migrated to device memory
 * @to_ram: pages migrated back to system memory
 */
struct hetmem_mm_stats {
	unsigned long faults;
	unsigned long device_faults;
	unsigned long zero_fills;
	unsigned long wp_faults;
	unsigned long deferred;
	unsigned long events;
	unsigned long moved;
	unsigned long copied;
	unsigned long zapped;
	unsigned long to_device;
	unsigned long to_ram;
};

/**
 * hetmem_mm_stats - read the counters
 * @mm: the context
 * @stats: filled in
 */
void hetmem_mm_stats(struct hetmem_mm *mm, struct hetmem_mm_stats *stats);

#endif /* HETMEM_MM_TYPES_H */
