// SPDX-License-Identifier: MIT
/*
 * hmm_range_fault(): walk a range of the address space and report each
 * page as a pfn a device can map, faulting pages in as requested.
 *
 * The walk goes mapping by mapping (one PROCMAP_QUERY each) and, within a
 * mapping, 2 MiB block by block: one pagemap read and one shadow-table
 * leaf per block. For each page the shadow entry is looked at first (it
 * says what the kernel would find in a non-present PTE: device-private,
 * device-exclusive or migration entry), then pagemap.
 *
 * When a page needs a fault the walk stops there, faults the run of pages
 * that need one (MADV_POPULATE_*, or migrate_to_ram() for a device page,
 * or revoking device-exclusive access, or waiting for a migration), and
 * walks again from that page: the kernel's hmm_vma_fault() loop. Between
 * passes it checks the notifier's sequence count and gives up with -EBUSY
 * as soon as an invalidation reached the range, so the caller never
 * builds a mirror from a stale walk.
 */
#define pr_fmt(fmt) "hmm: " fmt

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include <hetmem/hmm.h>
#include <hetmem/log.h>
#include "hmm_internal.h"
#include "lib/trace.h"

#define HMM_NEED_FAULT	     1U
#define HMM_NEED_WRITE_FAULT 2U
#define BLOCK_PAGES	     (1UL << (VT_LEAF_SHIFT - PAGE_SHIFT))
/* Passes that make no progress before giving up with -EBUSY. */
#define HMM_STUCK_PASSES 64

/* The zero page that read-faulted, never-written anonymous pages map. */
static const char zero_page[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

unsigned long my_zero_pfn(unsigned long addr)
{
	return (uintptr_t)zero_page >> PAGE_SHIFT;
}

struct hmm_walk {
	struct hmm_range *range;
	struct hetmem_mm *mm;
	unsigned long last; /* where the next pass starts */
};

/* The kernel's hmm_pte_need_fault(). */
static unsigned int need_fault(const struct hmm_range *range, unsigned long req,
			       unsigned long cpu_flags)
{
	req = (req & range->pfn_flags_mask) | range->default_flags;
	if (!(req & HMM_PFN_REQ_FAULT))
		return 0;
	if ((req & HMM_PFN_REQ_WRITE) && !(cpu_flags & HMM_PFN_WRITE))
		return HMM_NEED_FAULT | HMM_NEED_WRITE_FAULT;
	if (!(cpu_flags & HMM_PFN_VALID))
		return HMM_NEED_FAULT;
	return 0;
}

/* Unmapped or inaccessible: an error entry, unless a fault was requested. */
static int hmm_hole(struct hmm_walk *w, unsigned long start, unsigned long end)
{
	struct hmm_range *range = w->range;
	unsigned long *pfns = range->hmm_pfns + ((start - range->start) >> PAGE_SHIFT);

	for (unsigned long i = 0; i < (end - start) >> PAGE_SHIFT; i++) {
		if (need_fault(range, pfns[i], 0))
			return -EFAULT;
		pfns[i] = HMM_PFN_ERROR;
	}
	return 0;
}

static int hmm_populate(unsigned long start, unsigned long len, bool write)
{
	struct vm_area_struct vma;

	if (uffd_on_handler_thread())
		return -EDEADLK;
	for (;;) {
		if (!madvise((void *)start, len, write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ))
			return 0;
		switch (errno) {
		case EINTR:
		case EAGAIN:
			continue;
		case EINVAL:
			/* The mapping changed under us: say what it is now. */
			if (write && !vma_find(start, &vma) && vma.vm_start <= start &&
			    (vma.vm_flags & VM_READ) && !(vma.vm_flags & VM_WRITE))
				return -EPERM;
			return -EFAULT;
		default: /* ENOMEM: unmapped since; EFAULT: SIGBUS on access */
			return -EFAULT;
		}
	}
}

/*
 * Whether a present, ordinary page is mapped writable. Pagemap does not
 * say; what it says decides it: a shared mapping's page is writable with
 * the mapping, a private mapping's only once it is its own (anonymous and
 * mapped once, not waiting for copy-on-write), and a userfaultfd
 * write-protected page is not.
 */
static bool pte_write(const struct vm_area_struct *vma, uint64_t pm)
{
	if (!(vma->vm_flags & VM_WRITE) || (pm & PM_UFFD_WP))
		return false;
	if (vma->vm_flags & VM_SHARED)
		return true;
	return (pm & PM_MMAP_EXCLUSIVE) && !(pm & PM_FILE);
}

/* Fill [start, end), within one mapping and one 2 MiB block; -EAGAIN after a fault. */
static int hmm_walk_block(struct hmm_walk *w, const struct vm_area_struct *vma, unsigned long start,
			  unsigned long end)
{
	struct hmm_range *range = w->range;
	unsigned long n = (end - start) >> PAGE_SHIFT, run, k;
	unsigned long *pfns = range->hmm_pfns + ((start - range->start) >> PAGE_SHIFT);
	unsigned long *leaf = va_table_leaf(&w->mm->swp, start, false);
	unsigned int need;
	uint64_t pm[BLOCK_PAGES];
	int ret;

	ret = pagemap_read(start, n, pm);
	if (ret)
		return ret;
	for (k = 0; k < n; k++) {
		unsigned long va = start + (k << PAGE_SHIFT);
		unsigned long *slot =
			leaf ? &leaf[(va >> PAGE_SHIFT) & (VT_LEAF_ENTRIES - 1)] : NULL;
		unsigned long e = slot ? swp_load(slot) : 0, cpu;
		struct page *page = swp_page(e);

		if (e & SWP_MIGRATION) {
			/* A migration entry: not present; wait only if it must be faulted. */
			if (!need_fault(range, pfns[k], 0)) {
				pfns[k] = 0;
				continue;
			}
			w->last = va;
			return mm_swp_wait(w->mm, slot, HMM_RANGE_DEFAULT_TIMEOUT) ? -EBUSY :
										     -EAGAIN;
		}
		if (page) {
			if (page->pgmap->owner == range->dev_private_owner &&
			    is_device_private_page(page)) {
				cpu = HMM_PFN_VALID | (e & SWP_WRITE ? HMM_PFN_WRITE : 0);
				if (!need_fault(range, pfns[k], cpu)) {
					pfns[k] = page_to_pfn(page) | cpu;
					continue;
				}
			} else if (!need_fault(range, pfns[k], 0)) {
				pfns[k] = 0;
				continue;
			}
			/* Another device's page, or not writable enough: bring it home. */
			w->last = va;
			need = need_fault(range, pfns[k], 0);
			if ((need & HMM_NEED_WRITE_FAULT) && !(vma->vm_flags & VM_WRITE))
				return -EPERM;
			if (uffd_on_handler_thread())
				return -EDEADLK;
			ret = do_device_private_fault(
				w->mm, va, need & HMM_NEED_WRITE_FAULT ? FAULT_FLAG_WRITE : 0);
			return ret == -EFAULT ? ret : -EAGAIN;
		}
		if (e & SWP_EXCLUSIVE) {
			if (!need_fault(range, pfns[k], 0)) {
				pfns[k] = 0;
				continue;
			}
			w->last = va;
			revoke_device_exclusive(w->mm, va);
			return -EAGAIN;
		}

		if (pm[k] & PM_PRESENT) {
			bool zero = pagemap_is_zero(pm[k]);

			cpu = HMM_PFN_VALID | (!zero && pte_write(vma, pm[k]) ? HMM_PFN_WRITE : 0);
			if (!need_fault(range, pfns[k], cpu)) {
				pfns[k] = (zero ? my_zero_pfn(va) : va >> PAGE_SHIFT) | cpu;
				continue;
			}
		} else if (!need_fault(range, pfns[k], 0)) {
			pfns[k] = 0;
			continue;
		}

		/*
		 * Fault the run of ordinary pages that need it, as one populate
		 * call, then walk again from here.
		 */
		need = need_fault(range, pfns[k], pm[k] & PM_PRESENT ? HMM_PFN_VALID : 0);
		if ((need & HMM_NEED_WRITE_FAULT) && !(vma->vm_flags & VM_WRITE))
			return -EPERM;
		for (run = 1; k + run < n; run++) {
			unsigned long *s = slot ? slot + run : NULL;
			uint64_t p = pm[k + run];

			if ((s && swp_load(s)) ||
			    need_fault(range, pfns[k + run],
				       p & PM_PRESENT ?
					       HMM_PFN_VALID |
						       (pte_write(vma, p) && !pagemap_is_zero(p) ?
								HMM_PFN_WRITE :
								0) :
					       0) != need)
				break;
		}
		w->last = va;
		ret = hmm_populate(va, run << PAGE_SHIFT, need & HMM_NEED_WRITE_FAULT);
		return ret ? ret : -EAGAIN;
	}
	return 0;
}

static int hmm_walk(struct hmm_walk *w)
{
	struct hmm_range *range = w->range;
	unsigned long addr = w->last;
	int ret;

	while (addr < range->end) {
		struct vm_area_struct vma;
		unsigned long next;

		ret = vma_find(addr, &vma);
		if (ret == -ENOENT)
			vma.vm_start = vma.vm_end = range->end;
		else if (ret)
			return -EFAULT;
		if (vma.vm_start > addr) {
			next = vma.vm_start < range->end ? vma.vm_start : range->end;
			ret = hmm_hole(w, addr, next);
			if (ret)
				return ret;
			addr = next;
			continue;
		}
		next = vma.vm_end < range->end ? vma.vm_end : range->end;
		/* Not process memory a device can have: hetmem's own fault handler's stack. */
		if (mm_handler_stack(w->mm, addr, next))
			return -EFAULT;
		/*
		 * The device will map these pages: have their unmap and discard
		 * events come, so its notifier hears of them (anonymous private
		 * memory only; userfaultfd cannot watch files). Registered as a
		 * migration registers (uffd_ranges.c says why).
		 */
		if (vma_is_anonymous(&vma) && !(vma.vm_flags & VM_SHARED) &&
		    (vma.vm_flags & VM_READ))
			uffd_ranges_ensure(w->mm, addr, next, false);
		if (!(vma.vm_flags & VM_READ)) {
			ret = hmm_hole(w, addr, next);
			if (ret)
				return ret;
			addr = next;
			continue;
		}
		while (addr < next) {
			unsigned long block_end = (addr | ((1UL << VT_LEAF_SHIFT) - 1)) + 1;

			if (block_end > next)
				block_end = next;
			ret = hmm_walk_block(w, &vma, addr, block_end);
			if (ret)
				return ret;
			addr = block_end;
		}
	}
	return 0;
}

int hmm_range_fault(struct hmm_range *range)
{
	struct hmm_walk w = { .range = range, .last = range->start };
	unsigned long stuck_at = ~0UL;
	int stuck = 0, ret;

	if (!range->notifier || !range->hmm_pfns || range->start >= range->end ||
	    (range->start | range->end) & (PAGE_SIZE - 1))
		return -EINVAL;
	w.mm = range->notifier->mm;
	/* Unmaps already returned to the application are known to the notifiers. */
	mm_sync_events(w.mm);
	for (;;) {
		if (mmu_interval_check_retry(range->notifier, range->notifier_seq))
			return -EBUSY;
		ret = hmm_walk(&w);
		if (ret != -EAGAIN)
			break;
		if (w.last != stuck_at) {
			stuck_at = w.last;
			stuck = 0;
		} else if (++stuck == HMM_STUCK_PASSES) {
			pr_debug("page at %#lx keeps needing a fault", w.last);
			return -EBUSY;
		}
	}
	trace_probe(hmm_range_fault, range->start, range->end, ret);
	return ret;
}

/* Shadow entries of a range whose mapping lost write permission lose it too. */
static bool drop_write(unsigned long va, unsigned long *slot, void *arg)
{
	unsigned long e = swp_load(slot);

	while ((e & SWP_WRITE) && !(e & SWP_MIGRATION) &&
	       !__atomic_compare_exchange_n(slot, &e, e & ~SWP_WRITE, false, __ATOMIC_ACQ_REL,
					    __ATOMIC_ACQUIRE))
		;
	return true;
}

int hmm_mprotect(void *addr, size_t len, int prot)
{
	struct hetmem_mm *mm = hetmem_mm_tryget();
	unsigned long start = (unsigned long)addr;
	struct mmu_notifier_range range;
	int ret;

	if (!mm)
		return mprotect(addr, len, prot) ? -errno : 0;
	mmu_notifier_range_init_owner(&range, MMU_NOTIFY_PROTECTION_VMA, mm, start, start + len,
				      NULL);
	mmu_notifier_invalidate_range_start(&range);
	ret = mprotect(addr, len, prot) ? -errno : 0;
	if (!ret && !(prot & PROT_WRITE))
		va_table_for_each(&mm->swp, start, start + len, drop_write, NULL);
	mmu_notifier_invalidate_range_end(&range);
	hetmem_mm_put(mm);
	return ret;
}
