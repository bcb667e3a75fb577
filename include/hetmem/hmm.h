/* SPDX-License-Identifier: MIT */
/*
 * hmm_range_fault(): snapshot (and optionally fault in) a range of the
 * process address space as an array of pfns a device can map.
 *
 * Output entries are the kernel's: a pfn with HMM_PFN_VALID, HMM_PFN_WRITE
 * or HMM_PFN_ERROR in the top bits. A system page's pfn is its virtual
 * address >> PAGE_SHIFT (hetmem's page identity, see memremap.h); a
 * device-private page of the caller's own device comes back as that
 * device page's pfn. A never-written page that the CPU read maps the zero
 * page: its pfn is my_zero_pfn(), a page of zeros inside the library, and
 * it never carries HMM_PFN_WRITE.
 *
 * Where userspace forces a difference from the kernel:
 *  - Presence comes from /proc/self/pagemap (read in batches), the
 *    mapping's protection from the kernel's mapping list at the time of the
 *    call, and write permission of a present page is inferred: writable
 *    mapping, page mapped once, not write-protected by userfaultfd.
 *  - Faulting uses MADV_POPULATE_READ / MADV_POPULATE_WRITE; a
 *    device-private page of another owner is brought home by calling its
 *    map's migrate_to_ram() on the calling thread.
 *  - Huge mappings are reported page by page (map order 0).
 *  - It must not be called on the fault handler thread when it has to
 *    fault (it would wait for itself): -EDEADLK.
 *  - A plain mprotect() changes no notifier sequence: call hmm_mprotect().
 */
#ifndef HETMEM_HMM_H
#define HETMEM_HMM_H

#include <stddef.h>
#include <stdint.h>

#include <hetmem/memremap.h>
#include <hetmem/mmu_notifier.h>

/*
 * Kernel bit positions (include/linux/hmm.h, 64-bit longs). Output flags
 * double as input requests: HMM_PFN_REQ_FAULT asks for a valid entry,
 * HMM_PFN_REQ_WRITE for a writable one.
 */
#define HMM_PFN_VALID	    (1UL << 63)
#define HMM_PFN_WRITE	    (1UL << 62)
#define HMM_PFN_ERROR	    (1UL << 61)
#define HMM_PFN_ORDER_SHIFT 56
#define HMM_PFN_REQ_FAULT   HMM_PFN_VALID
#define HMM_PFN_REQ_WRITE   HMM_PFN_WRITE
#define HMM_PFN_FLAGS	    (0xFFUL << HMM_PFN_ORDER_SHIFT)

/* The kernel's default give-up time for drivers' retry loops, in ms. */
#define HMM_RANGE_DEFAULT_TIMEOUT 1000

/**
 * hmm_pfn_to_page - the device page behind an output entry
 * @hmm_pfn: a valid entry
 *
 * Return: the struct page, or NULL for system memory (which has none).
 */
static inline struct page *hmm_pfn_to_page(unsigned long hmm_pfn)
{
	return pfn_to_page(hmm_pfn & ~HMM_PFN_FLAGS);
}

/** hmm_pfn_to_pfn - the pfn of an output entry */
static inline unsigned long hmm_pfn_to_pfn(unsigned long hmm_pfn)
{
	return hmm_pfn & ~HMM_PFN_FLAGS;
}

/** hmm_pfn_to_map_order - the order of the CPU mapping (always 0 here) */
static inline unsigned int hmm_pfn_to_map_order(unsigned long hmm_pfn)
{
	return (hmm_pfn >> HMM_PFN_ORDER_SHIFT) & 0x1F;
}

/**
 * struct hmm_range - one hmm_range_fault() request
 * @notifier: the interval notifier covering the range (required)
 * @notifier_seq: from mmu_interval_read_begin()
 * @start: first byte, page aligned
 * @end: first byte past the range, page aligned
 * @hmm_pfns: one entry per page: input requests, output pfns and flags
 * @default_flags: requests applied to every page
 * @pfn_flags_mask: which bits of each input entry are requests
 * @dev_private_owner: device-private pages whose map has this owner are
 *		       returned as they are instead of being brought home
 */
struct hmm_range {
	struct mmu_interval_notifier *notifier;
	unsigned long notifier_seq;
	unsigned long start;
	unsigned long end;
	unsigned long *hmm_pfns;
	unsigned long default_flags;
	unsigned long pfn_flags_mask;
	void *dev_private_owner;
};

/**
 * hmm_range_fault - snapshot, and fault as requested, a range of the CPU page table
 * @range: the request; range->notifier_seq must come from
 *	   mmu_interval_read_begin() on range->notifier
 *
 * For each page the request is (hmm_pfns[i] & pfn_flags_mask) |
 * default_flags. Without a request a page is only reported: 0 when not
 * present, HMM_PFN_ERROR when unmapped or PROT_NONE. With one it is made
 * present (and writable for HMM_PFN_REQ_WRITE), bringing device-private
 * pages of other owners home and revoking device-exclusive access. Pages
 * that a migration holds are waited for when they must be faulted, and
 * reported as 0 otherwise.
 *
 * Return: 0 with every entry filled in; -EFAULT when a requested page is
 * unmapped or PROT_NONE, or cannot be faulted in, and for any part of the
 * range on hetmem's fault handler thread's stack; -EPERM when a write is
 * requested on a read-only mapping; -EBUSY when the range was invalidated
 * since notifier_seq (call mmu_interval_read_begin() and retry), or a page
 * stayed busy too long; -EINVAL for an unaligned or empty range, or a
 * missing notifier or array; -EDEADLK when a fault is needed and the
 * caller is the fault handler thread; -ENOMEM.
 */
int hmm_range_fault(struct hmm_range *range);

/**
 * my_zero_pfn - the pfn hmm_range_fault() reports for the zero page
 * @addr: unused, as in the kernel
 *
 * Return: the pfn of a page of zeros (read-only) inside the library.
 */
unsigned long my_zero_pfn(unsigned long addr);

/**
 * is_zero_pfn - whether a pfn is my_zero_pfn()
 * @pfn: any pfn
 *
 * Return: true for the zero page.
 */
static inline bool is_zero_pfn(unsigned long pfn)
{
	return pfn == my_zero_pfn(0);
}

/**
 * hmm_mprotect - mprotect() that tells the mirrors
 * @addr: page-aligned start
 * @len: bytes
 * @prot: PROT_* as for mprotect()
 *
 * Userfaultfd has no event for a protection change, so a mirror never
 * hears of a plain mprotect(). This wraps it in a PROTECTION_VMA
 * invalidation of every notifier overlapping the range (started before the
 * change, ended after it, as in the kernel), so a device that mapped pages
 * writable drops them and re-faults with the new protection. Without a
 * hetmem context it is plain mprotect().
 *
 * Return: 0, or the negative errno of mprotect() (-EINVAL, -ENOMEM,
 * -EACCES).
 */
int hmm_mprotect(void *addr, size_t len, int prot);

#endif /* HETMEM_HMM_H */
