// SPDX-License-Identifier: MIT
/*
 * Device-exclusive access (make_device_exclusive_range()), for devices
 * whose atomics cannot go over the bus: the device works on the page
 * itself while the CPU is kept off it.
 *
 * The kernel replaces the PTE with a device-exclusive entry. Here the
 * page stays mapped, write-protected through the userfaultfd, with
 * SWP_EXCLUSIVE in its shadow entry: a CPU write faults, and the handler
 * revokes (uffd_fault.c): EXCLUSIVE invalidation with a NULL owner, so the
 * device drops its atomic mapping, then write-enable. CPU reads go on
 * unhindered, which the kernel does not allow; the data is the same page
 * either way.
 */
#define pr_fmt(fmt) "exclusive: " fmt

#include <errno.h>
#include <sys/mman.h>
#include <time.h>

#include <hetmem/log.h>
#include <hetmem/migrate.h>
#include "hmm_internal.h"

#define BATCH	    512UL
#define CLAIM_TRIES 1000

/*
 * Hold the page at @va for marking: 1 when held, 0 when it stays busy.
 * The populate saw it present and writable, yet it can still be held for
 * a moment: a revoke write-enables a page before it lets go of it, and a
 * migration bringing pages home (a fault's prefetch) maps them before it
 * drops its entries. The kernel's GUP waits on the migration entry; so do
 * we, and fault the page in again when it left meanwhile (to a device) or
 * still carries an earlier exclusive mark (the write fault revokes it).
 */
static unsigned long claim_page(unsigned long va, unsigned long *slot)
{
	for (int tries = 0; tries < CLAIM_TRIES; tries++) {
		unsigned long e = swp_load(slot);

		if (!e && swp_claim(slot, 0))
			return 1;
		if (e & SWP_MIGRATION)
			nanosleep(&(struct timespec){ .tv_nsec = 20000 }, NULL);
		else if (e)
			madvise((void *)va, PAGE_SIZE, MADV_POPULATE_WRITE);
	}
	return 0;
}

/* Mark the pages of [a, a + n pages) that this call holds (pfns[i] == 1). */
static int mark_batch(struct hetmem_mm *mm, unsigned long a, unsigned long n, unsigned long *pfns,
		      bool writable)
{
	uint64_t pm[BATCH];
	unsigned long i, run;
	int ret = pagemap_read(a, n, pm);

	for (i = 0; i < n; i++) {
		/* A page that went away since the populate cannot be marked. */
		if (pfns[i] && (ret || !(pm[i] & PM_PRESENT) || pagemap_is_zero(pm[i]))) {
			__atomic_store_n(va_table_slot(&mm->swp, a + (i << PAGE_SHIFT), false), 0,
					 __ATOMIC_RELEASE);
			pfns[i] = 0;
		}
	}
	for (i = 0; i < n; i += run ? run : 1) {
		for (run = 0; i + run < n && pfns[i + run]; run++)
			;
		if (run && uffd_writeprotect(mm, a + (i << PAGE_SHIFT), run << PAGE_SHIFT, true))
			for (unsigned long j = i; j < i + run; j++) {
				__atomic_store_n(
					va_table_slot(&mm->swp, a + (j << PAGE_SHIFT), false), 0,
					__ATOMIC_RELEASE);
				pfns[j] = 0;
			}
	}
	for (i = 0; i < n; i++) {
		unsigned long va = a + (i << PAGE_SHIFT);

		if (!pfns[i])
			continue;
		__atomic_store_n(va_table_slot(&mm->swp, va, false),
				 SWP_EXCLUSIVE | (writable ? SWP_WRITE : 0), __ATOMIC_RELEASE);
		pfns[i] = va >> PAGE_SHIFT;
	}
	return 0;
}

long make_device_exclusive_range(struct hetmem_mm *mm, unsigned long start, unsigned long end,
				 unsigned long *pfns, void *owner)
{
	unsigned long npages = (end - start) >> PAGE_SHIFT, a;
	bool writable = true;

	if (start >= end || (start | end) & (PAGE_SIZE - 1) || !pfns)
		return -EINVAL;
	mm_sync_events(mm);
	for (a = start; a < end;) {
		struct vm_area_struct vma;
		unsigned long b;

		if (vma_find(a, &vma) || vma.vm_start > a)
			return -EFAULT;
		if (!vma_is_anonymous(&vma) || (vma.vm_flags & VM_SHARED))
			return -EINVAL;
		b = vma.vm_end < end ? vma.vm_end : end;
		if (uffd_ranges_ensure(mm, a, b, true))
			return -EINVAL;
		writable &= !!(vma.vm_flags & VM_WRITE);
		a = b;
	}
	if (uffd_on_handler_thread())
		return -EDEADLK;
	/* As the kernel's GUP with FOLL_WRITE: every page present and writable. */
	if (madvise((void *)start, end - start, MADV_POPULATE_WRITE))
		return errno == ENOMEM ? -ENOMEM : -EFAULT;

	for (unsigned long i = 0; i < npages; i++) {
		unsigned long *slot = va_table_slot(&mm->swp, start + (i << PAGE_SHIFT), true);

		if (!slot)
			return -ENOMEM;
		pfns[i] = claim_page(start + (i << PAGE_SHIFT), slot); /* 1: held by us */
	}
	mmu_notifier_invalidate(mm, MMU_NOTIFY_EXCLUSIVE, start, end, owner);
	for (a = start; a < end; a += BATCH << PAGE_SHIFT) {
		unsigned long n = (end - a) >> PAGE_SHIFT;

		mark_batch(mm, a, n < BATCH ? n : BATCH, pfns + ((a - start) >> PAGE_SHIFT),
			   writable);
	}
	mm_swp_released(mm);
	/* Faults left alone while we held the pages. */
	uffd_wake(mm, start, end - start);
	return (long)npages;
}
