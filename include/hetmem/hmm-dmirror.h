/* SPDX-License-Identifier: MIT */
/*
 * dmirror: the HMM test device, as the kernel's lib/test_hmm.c.
 *
 * A device (struct dmirror_device) has device-private memory: chunks of
 * "VRAM" (anonymous memory of the process that only the device model
 * touches) given struct pages with memremap_pages(MEMORY_DEVICE_PRIVATE),
 * its owner cookie being the device. A mirror (struct dmirror, what
 * opening the kernel's /dev/hmm_dmirrorN gives) is a page table of the
 * process's address space kept coherent through an interval notifier over
 * all of it; its operations are the kernel driver's ioctls, with the same
 * command structure and the same errors:
 *
 *	dmirror_read()		  device reads npages at addr into ptr,
 *				  faulting in what its table lacks
 *	dmirror_write()		  device writes ptr to addr
 *	dmirror_migrate_to_dev()  migrate to device memory, then read back
 *	dmirror_migrate_to_sys()  migrate device pages of this device home
 *	dmirror_snapshot()	  one HMM_DMIRROR_PROT_* byte per page into ptr
 *	dmirror_exclusive()	  make pages device-exclusive, then read back
 *	dmirror_check_exclusive() -EPERM while a page is still exclusive
 *	dmirror_release()	  evict and drop the device's memory
 *
 * The device reaches system memory at the pfns hmm_range_fault() reports
 * (virtual addresses), with process_vm_readv/writev, so an address
 * unmapped under it gives -EFAULT instead of a crash, and faults on
 * migrated pages bring them home like any access.
 *
 * The same interface is served by other devices with device-private
 * memory: gpu_host_dmirror() (hetmem/gpu.h) gives the emulated GPU's, on
 * which every operation below is done by the GPU (its MMU, copy engine
 * and fault buffer). The functions work on either unchanged.
 *
 * CPU faults on its pages bring back the faulting page first, then, when
 * the faults follow each other through memory, prefetch the rest of the
 * 2 MiB block and the next three (the policy a GPU driver's fault batching
 * follows).
 */
#ifndef HETMEM_HMM_DMIRROR_H
#define HETMEM_HMM_DMIRROR_H

#include <stdint.h>

/**
 * struct hmm_dmirror_cmd - a command, as the kernel's uapi
 * @addr: (in) user address the device reads or writes
 * @ptr: (in) user address data is copied to or from
 * @npages: (in) pages
 * @cpages: (out) pages copied
 * @faults: (out) device page faults seen
 */
struct hmm_dmirror_cmd {
	uint64_t addr;
	uint64_t ptr;
	uint64_t npages;
	uint64_t cpages;
	uint64_t faults;
};

/* Per-page codes of dmirror_snapshot(), kernel values (lib/test_hmm_uapi.h). */
enum {
	HMM_DMIRROR_PROT_ERROR = 0xFF,
	HMM_DMIRROR_PROT_NONE = 0x00,
	HMM_DMIRROR_PROT_READ = 0x01,
	HMM_DMIRROR_PROT_WRITE = 0x02,
	HMM_DMIRROR_PROT_PMD = 0x04,
	HMM_DMIRROR_PROT_PUD = 0x08,
	HMM_DMIRROR_PROT_ZERO = 0x10,
	HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL = 0x20,
	HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE = 0x30,
	HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL = 0x40,
	HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE = 0x50,
};

struct dmirror_device;
struct dmirror;

/**
 * dmirror_device_create - a test device with device-private memory
 * @max_chunks: chunks of device memory it may allocate (0: 16)
 * @chunk_mb: size of a chunk in MiB (0: 32)
 *
 * Chunks are added on demand, the first at creation.
 *
 * Return: the device, or ERR_PTR(-ENOMEM), or the error of
 * memremap_pages().
 */
struct dmirror_device *dmirror_device_create(unsigned int max_chunks, unsigned int chunk_mb);

/**
 * dmirror_device_destroy - evict every page home and take the device down
 * @mdevice: the device; its mirrors must be closed
 */
void dmirror_device_destroy(struct dmirror_device *mdevice);

/**
 * dmirror_open - mirror the calling process on a device
 * @mdevice: the device
 *
 * Return: the mirror; ERR_PTR(-ENOMEM); or the error of hetmem_mm_get()
 * (-EPERM without userfaultfd access, -ENOSYS).
 */
struct dmirror *dmirror_open(struct dmirror_device *mdevice);

/**
 * dmirror_close - stop mirroring
 * @dmirror: the mirror
 *
 * As the kernel driver's release: every page of the device is evicted
 * home first.
 */
void dmirror_close(struct dmirror *dmirror);

/**
 * dmirror_read - the device reads process memory
 * @dmirror: the mirror
 * @cmd: addr (page aligned), ptr, npages in; cpages, faults out
 *
 * Return: 0; -EINVAL for a bad range; -EFAULT when a page is unmapped or
 * unreadable; -ENOMEM; -EBUSY when the range keeps being invalidated.
 */
int dmirror_read(struct dmirror *dmirror, struct hmm_dmirror_cmd *cmd);

/**
 * dmirror_write - the device writes process memory
 * @dmirror: the mirror
 * @cmd: as dmirror_read()
 *
 * Return: 0; -EINVAL; -EFAULT; -EPERM when a page is read-only; -ENOMEM;
 * -EBUSY.
 */
int dmirror_write(struct dmirror *dmirror, struct hmm_dmirror_cmd *cmd);

/**
 * dmirror_migrate_to_dev - migrate to the device's memory, read back
 * @dmirror: the mirror
 * @cmd: addr, ptr, npages in; cpages (pages then in device memory and
 *	 read back) out. With ptr 0 (a hetmem extension, for measuring the
 *	 migration alone) nothing is read back and cpages counts the pages
 *	 this call migrated.
 *
 * Return: 0; -EINVAL for a bad range or a range not readable throughout;
 * -ENOENT when some page did not end up on this device (shared memory,
 * or a page on another device), as the kernel test driver; -ENOMEM.
 */
int dmirror_migrate_to_dev(struct dmirror *dmirror, struct hmm_dmirror_cmd *cmd);

/**
 * dmirror_migrate_to_sys - bring this device's pages of a range home
 * @dmirror: the mirror
 * @cmd: addr, npages in; cpages (pages migrated) out
 *
 * Return: 0; -EINVAL for a bad range or a range not readable throughout;
 * -ENOMEM.
 */
int dmirror_migrate_to_sys(struct dmirror *dmirror, struct hmm_dmirror_cmd *cmd);

/**
 * dmirror_snapshot - what the device would see, without faulting
 * @dmirror: the mirror
 * @cmd: addr, ptr (npages bytes), npages in; cpages out
 *
 * Return: 0; -EINVAL; -ENOMEM; -EBUSY.
 */
int dmirror_snapshot(struct dmirror *dmirror, struct hmm_dmirror_cmd *cmd);

/**
 * dmirror_exclusive - take device-exclusive access, read back
 * @dmirror: the mirror
 * @cmd: addr, ptr, npages in; cpages out
 *
 * Return: 0; -EINVAL for a bad range; -EBUSY when some page could not be
 * made exclusive, unmapped memory included (as the kernel's test driver);
 * -EFAULT when @cmd->ptr cannot take the read back; -ENOMEM.
 */
int dmirror_exclusive(struct dmirror *dmirror, struct hmm_dmirror_cmd *cmd);

/**
 * dmirror_check_exclusive - whether exclusive access was revoked
 * @dmirror: the mirror
 * @cmd: addr, npages in
 *
 * Return: 0 when no page of the range is still mapped for atomic access,
 * -EPERM otherwise, -EINVAL for a bad range.
 */
int dmirror_check_exclusive(struct dmirror *dmirror, struct hmm_dmirror_cmd *cmd);

/**
 * dmirror_release - evict every page of the device and drop its memory
 * @dmirror: the mirror
 * @cmd: unused
 *
 * Return: 0.
 */
int dmirror_release(struct dmirror *dmirror, struct hmm_dmirror_cmd *cmd);

/**
 * struct dmirror_counters - what a device did
 * @calloc: device pages allocated
 * @cfree: device pages freed
 * @cpu_faults: CPU faults served (migrate_to_ram() calls)
 * @prefetched: pages brought home ahead of a fault
 * @evicted: pages the device evicted home on its own (to make room, or
 *	     when it went away), without a CPU fault
 */
struct dmirror_counters {
	unsigned long calloc;
	unsigned long cfree;
	unsigned long cpu_faults;
	unsigned long prefetched;
	unsigned long evicted;
};

/**
 * dmirror_device_counters - read a device's counters
 * @mdevice: the device
 * @c: filled in
 */
void dmirror_device_counters(struct dmirror_device *mdevice, struct dmirror_counters *c);

#endif /* HETMEM_HMM_DMIRROR_H */
