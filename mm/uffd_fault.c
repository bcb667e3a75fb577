// SPDX-License-Identifier: MIT
/*
 * What the handler thread does with each userfaultfd message.
 *
 * Faults. The page's shadow entry decides:
 *
 *   migration entry    someone holds the page (a migration between its
 *                      write-protect and its zap, rule 2): leave the fault;
 *                      the holder wakes the range when it lets go
 *   device-private     take the migration entry, call the map's
 *                      migrate_to_ram(); the install wakes the thread
 *   device-exclusive   (write-protect fault) revoke: invalidate, write-enable
 *   nothing, WP fault  a stale write-protection: write-enable under the
 *                      page's migration entry
 *   nothing, MISSING   never populated (or discarded): map the zero page on
 *                      the pages around it that are also empty
 *
 * Whatever the handler installs or write-enables, it does under the
 * pages' migration entries, so it never races a migration that has
 * write-protected them and is about to zap them.
 *
 * Events. REMOVE and UNMAP are after the fact (the madvise or munmap has
 * done its work, or is doing it, by the time the event is handled): the
 * notifiers are invalidated (CLEAR / UNMAP) and the shadow entries of the
 * range dropped, held ones marked gone for their holders (shadow.c), so a
 * discarded device page's data does not come back. REMOVE events of
 * hetmem's own MADV_DONTNEED are recognised and skipped. REMAP moves the
 * entries along with the mapping, held ones included.
 */
#define pr_fmt(fmt) "uffd: " fmt

#include <errno.h>
#include <linux/userfaultfd.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <hetmem/log.h>
#include "hmm_internal.h"
#include "lib/trace.h"

/* Pages around a never-populated page that get the zero page with it. */
#define ZERO_WINDOW_PAGES 16UL

static void send_sigbus(pid_t tid)
{
	if (tid)
		syscall(SYS_tgkill, getpid(), tid, SIGBUS);
}

/*
 * Let go of the entry the fault path held at @va. A page that came home
 * was installed there, which woke the faulting thread; when it stayed on
 * the device, or its range was unmapped or moved, nothing did, and the
 * thread is woken here to fault again or to find the address gone.
 * Without it the thread would sleep in the kernel for good.
 */
static void fault_unhold(struct hetmem_mm *mm, unsigned long va)
{
	unsigned long at = swp_held_unlock(mm, va), *slot = va_table_slot(&mm->swp, va, false);

	if (at != va || (slot && swp_load(slot)))
		uffd_wake(mm, va, PAGE_SIZE);
}

/* Called with the page's migration entry held (@e was the entry, without M). */
static int call_migrate_to_ram(struct hetmem_mm *mm, unsigned long va, unsigned long addr,
			       unsigned long e, unsigned int flags, pid_t tid)
{
	struct page *page = swp_page(e);
	struct vm_area_struct vma = { 0 };
	struct vm_fault vmf = {
		.mm = mm,
		.vma = &vma,
		.flags = flags,
		.address = va,
		.real_address = addr,
		.page = page,
	};
	unsigned int fret;

	if (vma_find(va, &vma) || vma.vm_start > va) {
		/* Unmapped since: the UNMAP event drops the entry, or did and left it to us. */
		fault_unhold(mm, va);
		return 0;
	}
	mm_stat_add(mm, device_faults, 1);
	trace_probe(device_private_fault, va, page_to_pfn(page), flags);
	/*
	 * A reference for the length of the call, as the kernel's
	 * do_swap_page() takes: the page, its map and its driver stay until
	 * migrate_to_ram() has returned (memunmap_pages() waits for it).
	 */
	get_page(page);
	fret = page->pgmap->ops->migrate_to_ram(&vmf);
	put_page(page);
	/*
	 * migrate_vma_finalize() left the fault page's migration entry to us:
	 * still the device page if it did not move, nothing if it did; away
	 * if the range was unmapped or moved meanwhile.
	 */
	fault_unhold(mm, va);
	if (fret & VM_FAULT_ERROR) {
		pr_warn("migrate_to_ram() of the page at %#lx failed (%#x)", va, fret);
		send_sigbus(tid);
		return -EFAULT;
	}
	return 0;
}

int do_device_private_fault(struct hetmem_mm *mm, unsigned long va, unsigned int flags)
{
	unsigned long *slot = va_table_slot(&mm->swp, va, false);
	unsigned long e = slot ? swp_load(slot) : 0;

	if (!swp_page(e) || (e & SWP_MIGRATION))
		return 0;
	if (!swp_claim(slot, e))
		return -EAGAIN;
	return call_migrate_to_ram(mm, va, va, e, flags, 0);
}

/* Called with nothing held; @e is the entry seen, with SWP_EXCLUSIVE. */
static int revoke_exclusive(struct hetmem_mm *mm, unsigned long va, unsigned long *slot,
			    unsigned long e)
{
	if (!swp_claim(slot, e))
		return -EAGAIN;
	/* Owner NULL: the CPU takes the page back from whichever device held it. */
	mmu_notifier_invalidate(mm, MMU_NOTIFY_EXCLUSIVE, va, va + PAGE_SIZE, NULL);
	uffd_writeprotect(mm, va, PAGE_SIZE, false);
	swp_held_release(mm, va, 0);
	return 0;
}

int revoke_device_exclusive(struct hetmem_mm *mm, unsigned long va)
{
	unsigned long *slot = va_table_slot(&mm->swp, va, false);
	unsigned long e = slot ? swp_load(slot) : 0;

	if (!(e & SWP_EXCLUSIVE) || (e & SWP_MIGRATION))
		return -EAGAIN;
	return revoke_exclusive(mm, va, slot, e);
}

/*
 * A write-protect fault on a page nobody holds: the protection outlived
 * its migration (the fault was read after the migration let go). Clear it
 * under the page's migration entry, which proves no migration is between
 * its own write-protect and zap of this page.
 */
static int unprotect_stale(struct hetmem_mm *mm, unsigned long va, unsigned long *slot,
			   unsigned long e)
{
	if (swp_page(e)) {
		/* Zapped meanwhile: the writer will fault MISSING next. */
		uffd_wake(mm, va, PAGE_SIZE);
		return 0;
	}
	if (!swp_claim(slot, e))
		return -EAGAIN;
	uffd_writeprotect(mm, va, PAGE_SIZE, false);
	swp_held_release(mm, va, e);
	return 0;
}

/*
 * A MISSING fault on a page with no shadow entry: it was never populated,
 * or was discarded. Map the zero page there, and on the empty pages
 * around it (within its mapping and 2 MiB block), so a thread reading
 * through fresh memory does not come back page by page. A write gets a
 * page of its own straight away.
 */
static int zero_fill(struct hetmem_mm *mm, unsigned long va, unsigned long *slot, bool write)
{
	static const char zeros[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
	/* The window is aligned and smaller than a leaf: its slots are consecutive. */
	unsigned long base = va & ~(ZERO_WINDOW_PAGES * PAGE_SIZE - 1);
	unsigned long *wslot = slot - ((va - base) >> PAGE_SHIFT);
	unsigned long start = va, end = va + PAGE_SIZE, held, a, run, done;
	struct vm_area_struct vma;
	uint64_t pm[ZERO_WINDOW_PAGES];

	if (!swp_claim(slot, 0))
		return -EAGAIN;
	held = 1UL << ((va - base) >> PAGE_SHIFT);
	if (!write && !vma_find(va, &vma) && vma.vm_start <= va) {
		start = base > vma.vm_start ? base : vma.vm_start;
		end = base + ZERO_WINDOW_PAGES * PAGE_SIZE;
		if (end > vma.vm_end)
			end = vma.vm_end;
		for (a = start; a < end; a += PAGE_SIZE)
			if (a != va && swp_claim(&wslot[(a - base) >> PAGE_SHIFT], 0))
				held |= 1UL << ((a - base) >> PAGE_SHIFT);
	}
	if (pagemap_read(start, (end - start) >> PAGE_SHIFT, pm))
		goto out;
	if (pm[(va - start) >> PAGE_SHIFT]) {
		uffd_wake(mm, va, PAGE_SIZE); /* populated meanwhile */
	} else if (write) {
		mm_stat_add(mm, zero_fills, 1);
		uffd_copy(mm, va, (unsigned long)zeros, PAGE_SIZE, &done);
	}
	/* Runs of held, empty pages; the zero-page ioctl wakes their faults. */
	for (a = start; !write && a < end; a += (run ? run : 1) << PAGE_SHIFT) {
		for (run = 0; a + (run << PAGE_SHIFT) < end; run++) {
			unsigned long b = a + (run << PAGE_SHIFT);

			if (!(held & (1UL << ((b - base) >> PAGE_SHIFT))) ||
			    pm[(b - start) >> PAGE_SHIFT])
				break;
		}
		if (run) {
			mm_stat_add(mm, zero_fills, run);
			if (uffd_zeropage(mm, a, run << PAGE_SHIFT))
				uffd_wake(mm, a, run << PAGE_SHIFT);
		}
	}
out:
	for (a = 0; a < ZERO_WINDOW_PAGES; a++)
		if (held & (1UL << a))
			swp_held_release(mm, base + (a << PAGE_SHIFT), 0);
	return 0;
}

void uffd_handle_fault(struct hetmem_mm *mm, const struct uffd_msg *msg)
{
	unsigned long addr = msg->arg.pagefault.address, va = addr & PAGE_MASK;
	unsigned long flags = msg->arg.pagefault.flags;
	pid_t tid = (pid_t)msg->arg.pagefault.feat.ptid;
	int tries = 0, ret;

	mm_stat_add(mm, faults, 1);
	do {
		unsigned long *slot = va_table_slot(&mm->swp, va, true), e;

		/* Counted before the entry is read: see migrate_vma_finalize(). */
		__atomic_add_fetch(&mm->deferrals, 1, __ATOMIC_SEQ_CST);
		if (!slot) {
			pr_err("no memory for the shadow entry of %#lx", va);
			send_sigbus(tid);
			uffd_wake(mm, va, PAGE_SIZE);
			return;
		}
		e = swp_load(slot);
		if (e & SWP_MIGRATION) {
			mm_stat_add(mm, deferred, 1);
			return;
		}
		if (flags & UFFD_PAGEFAULT_FLAG_WP) {
			mm_stat_add(mm, wp_faults, 1);
			if (e & SWP_EXCLUSIVE)
				ret = revoke_exclusive(mm, va, slot, e);
			else
				ret = unprotect_stale(mm, va, slot, e);
		} else if (swp_page(e)) {
			ret = swp_claim(slot, e) ?
				      call_migrate_to_ram(mm, va, addr, e,
							  flags & UFFD_PAGEFAULT_FLAG_WRITE ?
								  FAULT_FLAG_WRITE :
								  0,
							  tid) :
				      -EAGAIN;
		} else {
			/* An exclusive mark on a discarded page is meaningless now. */
			if (e & SWP_EXCLUSIVE)
				__atomic_compare_exchange_n(slot, &e, 0, false, __ATOMIC_ACQ_REL,
							    __ATOMIC_ACQUIRE);
			ret = zero_fill(mm, va, slot, flags & UFFD_PAGEFAULT_FLAG_WRITE);
		}
	} while (ret == -EAGAIN && ++tries < 1000);
	if (ret == -EAGAIN)
		uffd_wake(mm, va, PAGE_SIZE); /* let it fault again */
}

bool uffd_event_now(struct hetmem_mm *mm, const struct uffd_msg *msg)
{
	unsigned long start, end;

	mm_stat_add(mm, events, 1);
	switch (msg->event) {
	case UFFD_EVENT_REMOVE:
	case UFFD_EVENT_UNMAP:
		start = msg->arg.remove.start;
		end = msg->arg.remove.end;
		if (sys_pool_contains(&mm->pool, start) ||
		    (msg->event == UFFD_EVENT_REMOVE && mm_zap_is_own(mm, start, end)))
			return false;
		swp_unmap_range(mm, start, end);
		if (msg->event == UFFD_EVENT_UNMAP)
			uffd_ranges_forget(mm, start, end);
		return true;
	case UFFD_EVENT_REMAP:
		swp_move_range(mm, msg->arg.remap.from, msg->arg.remap.to, msg->arg.remap.len);
		uffd_ranges_move(mm, msg->arg.remap.from, msg->arg.remap.to, msg->arg.remap.len);
		return true;
	default:
		pr_warn("unexpected userfaultfd event %u", msg->event);
		return false;
	}
}

void uffd_event_later(struct hetmem_mm *mm, const struct uffd_msg *msg)
{
	switch (msg->event) {
	case UFFD_EVENT_REMOVE:
		mmu_notifier_invalidate(mm, MMU_NOTIFY_CLEAR, msg->arg.remove.start,
					msg->arg.remove.end, NULL);
		break;
	case UFFD_EVENT_UNMAP:
		mmu_notifier_invalidate(mm, MMU_NOTIFY_UNMAP, msg->arg.remove.start,
					msg->arg.remove.end, NULL);
		break;
	case UFFD_EVENT_REMAP:
		mmu_notifier_invalidate(mm, MMU_NOTIFY_UNMAP, msg->arg.remap.from,
					msg->arg.remap.from + msg->arg.remap.len, NULL);
		break;
	}
}
