/* SPDX-License-Identifier: MIT */
/*
 * Migrating the process's own anonymous memory to device-private memory
 * and back: migrate_vma_setup(), migrate_vma_pages(),
 * migrate_vma_finalize(), with the kernel's three-step contract:
 *
 *	setup	  collect and lock the pages; src[] says which may move
 *	driver	  allocate destination pages, copy, fill dst[]
 *	pages	  switch the CPU page table over to the destinations
 *	driver	  (optional) map the destinations in its own page table
 *	finalize  unlock everything; release what did not move
 *
 * How it is done on real process memory (Documentation/hmm.md has the
 * whole story):
 *
 * System -> device (MIGRATE_VMA_SELECT_SYSTEM). setup registers the
 * range's anonymous private mappings with the userfaultfd, takes each
 * page's migration entry (hetmem's shadow page table), invalidates the
 * notifiers (MMU_NOTIFY_MIGRATE, owner = pgmap_owner), reads
 * /proc/self/pagemap and collects what is present (rule 1: never touch a
 * page that is elsewhere), never-populated and zero pages as empty
 * entries. It then takes the present pages off the CPU: moved into
 * hetmem's system page pool with UFFDIO_MOVE (their src pfn is then the
 * pool slot's: read them there), or, when they cannot move, write-protected
 * in place and copied (their src pfn is the copy's). Readers and writers
 * of moved pages, writers of protected ones, now fault and wait.
 * migrate_vma_pages() records a device-private entry for each page the
 * driver gave a destination, and zaps what is still in place
 * (UFFDIO_MOVE into the pool, or MADV_DONTNEED). Until finalize the
 * migration entries stay: the fault handler serves no fault on these pages
 * (rule 2). finalize moves back or write-enables what did not migrate,
 * drops the entries and wakes the faulting threads, whose next access
 * finds their page, or faults it back from the device.
 *
 * Device -> system (MIGRATE_VMA_SELECT_DEVICE_PRIVATE). setup takes the
 * migration entries of the device-private pages of pgmap_owner in the
 * range. The driver copies each into a system page, normally one from
 * alloc_sys_pages() (any system memory works: it is then copied, not
 * moved), and migrate_vma_pages() installs them: UFFDIO_MOVE from the
 * pool, UFFDIO_COPY otherwise, one ioctl per run of consecutive pages.
 * That wakes whoever faulted on them.
 *
 * Where userspace forces a difference from the kernel:
 *  - There is no struct page for system memory: src and dst name system
 *    pages by pfn (virtual address >> PAGE_SHIFT); migrate_pfn_to_page()
 *    returns NULL for them. The driver reads a system source page at
 *    pfn << PAGE_SHIFT (in the pool, or a copy of a page left in place;
 *    never the application's address, which may be unmapped at any
 *    moment): it holds still until finalize.
 *  - No mmap lock: the application may unmap or discard the range during
 *    a migration. Its pages then do not migrate (migrate_vma_pages()
 *    clears MIGRATE_PFN_MIGRATE when it sees them gone), nothing is
 *    installed or put back there, and finalize frees what the migration
 *    held for them, device pages included.
 *  - No args->vma: setup finds the mappings itself. The range must be
 *    mapped throughout (-EINVAL otherwise) but may cross mappings; pages of
 *    shared, file-backed or otherwise unregistrable mappings are simply
 *    not collected (src entry 0), which is how "shared memory cannot be
 *    migrated" shows, as in the kernel.
 *  - An empty source entry of a writable mapping carries
 *    MIGRATE_PFN_WRITE (the kernel's drivers look at vma->vm_flags).
 *  - System pages zapped to the device are kept in a pool, not freed
 *    (allocating a page costs more than copying it; see the pool's
 *    limits in Documentation/hmm.md).
 *  - Bits 2, 4 and 5 of src entries are hetmem's: leave src alone between
 *    setup and finalize, as the kernel also requires.
 *  - migrate_vma_pages() of system memory must not run on the fault
 *    handler thread when a page must be discarded with MADV_DONTNEED
 *    (the madvise waits for that thread); such pages stay in place.
 */
#ifndef HETMEM_MIGRATE_H
#define HETMEM_MIGRATE_H

#include <stdint.h>

#include <hetmem/memremap.h>
#include <hetmem/mm_types.h>

/* Kernel values (include/linux/migrate.h). */
#define MIGRATE_PFN_VALID   (1UL << 0)
#define MIGRATE_PFN_MIGRATE (1UL << 1)
#define MIGRATE_PFN_WRITE   (1UL << 3)
#define MIGRATE_PFN_SHIFT   6

/**
 * migrate_pfn_to_page - the device page of a src or dst entry
 * @mpfn: the entry
 *
 * Return: the struct page; NULL for an invalid entry and for system memory.
 */
static inline struct page *migrate_pfn_to_page(unsigned long mpfn)
{
	if (!(mpfn & MIGRATE_PFN_VALID))
		return NULL;
	return pfn_to_page(mpfn >> MIGRATE_PFN_SHIFT);
}

/** migrate_pfn_to_pfn - the pfn of a valid src or dst entry */
static inline unsigned long migrate_pfn_to_pfn(unsigned long mpfn)
{
	return mpfn >> MIGRATE_PFN_SHIFT;
}

/**
 * migrate_pfn - a valid entry for @pfn
 * @pfn: a device page's pfn, or a system page's (address >> PAGE_SHIFT)
 *
 * Return: the entry, without MIGRATE_PFN_WRITE.
 */
static inline unsigned long migrate_pfn(unsigned long pfn)
{
	return (pfn << MIGRATE_PFN_SHIFT) | MIGRATE_PFN_VALID;
}

/* Kernel values. Device-coherent memory is not supported. */
enum migrate_vma_direction {
	MIGRATE_VMA_SELECT_SYSTEM = 1 << 0,
	MIGRATE_VMA_SELECT_DEVICE_PRIVATE = 1 << 1,
	MIGRATE_VMA_SELECT_DEVICE_COHERENT = 1 << 2,
};

/**
 * struct migrate_vma - one migration
 * @dst: destinations, filled in by the driver (npages entries)
 * @src: sources, filled in by migrate_vma_setup() (npages entries)
 * @cpages: how many pages setup collected
 * @npages: pages in the range
 * @start: first byte, page aligned
 * @end: first byte past the range, page aligned
 * @pgmap_owner: the device's owner cookie: selects its device-private
 *		 pages, and is the owner of the MIGRATE invalidation
 * @flags: MIGRATE_VMA_SELECT_*
 * @fault_page: vmf->page when called from migrate_to_ram()
 * @mm: hetmem's: the address space (set by setup)
 * @state: hetmem's
 */
struct migrate_vma {
	unsigned long *dst;
	unsigned long *src;
	unsigned long cpages;
	unsigned long npages;
	unsigned long start;
	unsigned long end;
	void *pgmap_owner;
	unsigned long flags;
	struct page *fault_page;
	struct hetmem_mm *mm;
	unsigned long state;
};

/**
 * migrate_vma_setup - collect and lock the pages of a range
 * @args: start, end, src, dst, flags, pgmap_owner (and fault_page) set
 *
 * Clears src[] and dst[], then fills src[] (see the comment at the top of
 * this file). Every successful setup must be followed by
 * migrate_vma_finalize(), also when nothing was collected.
 *
 * Return: 0; -EINVAL for an unaligned or empty range, missing arrays, or a
 * range that is not mapped throughout; -EPERM / -ENOSYS / -ENOMEM when the
 * address space's context cannot be created (see hetmem_mm_get()).
 */
int migrate_vma_setup(struct migrate_vma *args);

/**
 * migrate_vma_pages - switch the CPU side to the destinations
 * @args: after setup, with dst[] filled in by the driver
 *
 * Entries without a destination, or whose page cannot be switched, lose
 * MIGRATE_PFN_MIGRATE: afterwards src[] tells exactly what moved.
 */
void migrate_vma_pages(struct migrate_vma *args);

/**
 * migrate_vma_finalize - unlock and release
 * @args: after migrate_vma_pages() (or directly after setup, to give up)
 *
 * Drops the migration entries, write-enables system pages that stayed,
 * wakes the threads that faulted on the range, releases device pages that
 * were allocated but not used (unlock_page() and put_page(), as the
 * kernel does with the driver's reference) and pool pages that were not
 * installed.
 */
void migrate_vma_finalize(struct migrate_vma *args);

/**
 * migrate_device_range - collect a device's mapped pages for eviction
 * @src_pfns: npages entries, filled in
 * @start: first device pfn
 * @npages: pfns
 *
 * For unbinding a device or tearing down its memory: every page of
 * [start, start + npages) that is mapped in the address space as a
 * device-private entry, and not being migrated by someone else, is locked
 * with its migration entry and reported with MIGRATE_PFN_MIGRATE (and
 * MIGRATE_PFN_WRITE when the mapping was writable). Then, as for
 * migrate_vma: copy each into a system page, migrate_device_pages(),
 * migrate_device_finalize().
 *
 * Return: 0 (pages busy elsewhere are reported as 0: call again until
 * none is left).
 */
int migrate_device_range(unsigned long *src_pfns, unsigned long start, unsigned long npages);

/**
 * migrate_device_pages - install the system pages of an eviction
 * @src_pfns: from migrate_device_range()
 * @dst_pfns: system pages holding the data
 * @npages: entries
 */
void migrate_device_pages(unsigned long *src_pfns, unsigned long *dst_pfns, unsigned long npages);

/**
 * migrate_device_finalize - end an eviction
 * @src_pfns: from migrate_device_range()
 * @dst_pfns: as given to migrate_device_pages()
 * @npages: entries
 */
void migrate_device_finalize(unsigned long *src_pfns, unsigned long *dst_pfns,
			     unsigned long npages);

/**
 * alloc_sys_pages - system pages to migrate into
 * @mm: the address space
 * @nr: how many are wanted
 * @pfn: set to the pfn of the first
 *
 * The pages come from the pool that zapped pages went to, so they are
 * already allocated: the driver copies into them at pfn << PAGE_SHIFT and
 * puts the pfns in dst[]; migrate_vma_pages() moves them into place
 * without a copy. Pages given to dst[] are released by finalize; others
 * go back with free_sys_pages().
 *
 * Return: how many consecutive pages were allocated, from 1 to @nr, or 0
 * when the pool is exhausted (any system memory may then serve as dst).
 */
unsigned long alloc_sys_pages(struct hetmem_mm *mm, unsigned long nr, unsigned long *pfn);

/**
 * free_sys_pages - return pages from alloc_sys_pages() unused
 * @mm: the address space
 * @pfn: the first
 * @nr: how many (consecutive)
 */
void free_sys_pages(struct hetmem_mm *mm, unsigned long pfn, unsigned long nr);

/**
 * make_device_exclusive_range - give a device exclusive access to pages
 * @mm: the address space
 * @start: first byte, page aligned
 * @end: first byte past the range, page aligned
 * @pfns: (end - start) >> PAGE_SHIFT entries: each page's pfn, or 0 when
 *	  that page could not be made exclusive (the kernel returns struct
 *	  pages here; system memory has none)
 * @owner: the device's owner cookie, given to the EXCLUSIVE invalidation
 *
 * The pages are faulted in writable, the mirrors are invalidated
 * (MMU_NOTIFY_EXCLUSIVE with @owner), and each page is write-protected
 * and marked device-exclusive. A CPU write revokes the mark: the fault
 * handler invalidates again (EXCLUSIVE, owner NULL), write-enables the
 * page and lets the writer go on. Unlike the kernel, CPU reads do not
 * revoke it: userfaultfd cannot make a present page unreadable.
 *
 * Return: the number of pages processed ((end - start) >> PAGE_SHIFT; the
 * ones that failed have pfns[i] == 0); -EINVAL for an unaligned or empty
 * range or a mapping that is not anonymous and private; -EFAULT when the
 * range cannot be faulted in writable; -ENOMEM.
 */
long make_device_exclusive_range(struct hetmem_mm *mm, unsigned long start, unsigned long end,
				 unsigned long *pfns, void *owner);

#endif /* HETMEM_MIGRATE_H */
