// SPDX-License-Identifier: MIT
/*
 * The userfaultfd operations hetmem's memory manager is made of:
 *
 *	register	UFFDIO_REGISTER, MISSING | WP (migrated ranges) or WP
 *			(the pool): faults and events of the range come to us
 *	write-protect	UFFDIO_WRITEPROTECT: writers fault and wait; clearing
 *			it wakes them
 *	install		UFFDIO_MOVE (a page of the pool, no copy) or
 *			UFFDIO_COPY (anything else); both wake the faulting
 *			threads of the range
 *	zero		UFFDIO_ZEROPAGE for never-populated pages
 *	zap		UFFDIO_MOVE into the pool, or MADV_DONTNEED
 *	wake		UFFDIO_WAKE: threads whose fault was left to a migration
 *
 * MADV_DONTNEED on a registered range raises a REMOVE event and waits until
 * the handler thread has read it; on the handler thread itself it would
 * wait forever, so mm_zap() refuses there. Own zaps are entered in a list
 * so the handler tells their REMOVE events from the application's.
 *
 * While an UNMAP, REMOVE or REMAP event waits to be read, every
 * page-changing ioctl fails with EAGAIN (the kernel's mmap_changing): the
 * caller retries after uffd_eagain(), which on the handler thread reads
 * the pending events first, since nobody else will.
 *
 * Installs and zaps act on pages their caller holds (migration entries),
 * named by address. Before each attempt, and after a failure, they check
 * that the pages are still mapped there (the event may have been an
 * mremap or munmap of them) and answer -ESTALE when not: the caller then
 * looks them up again (shadow.c) rather than act on a new mapping at the
 * old address.
 *
 * Debian 12's uapi headers are Linux 6.1's: UFFDIO_MOVE (6.8) is defined
 * here.
 */
#define pr_fmt(fmt) "uffd: " fmt

#include <errno.h>
#include <linux/userfaultfd.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>

#include <hetmem/log.h>
#include "hmm_internal.h"
#include "uffd_compat.h"

/* How long a failed ioctl waits for the event of an unmap it ran into: 1 s. */
#define EVENT_WAIT_TRIES 2000
#define EVENT_WAIT_NS	 500000L

int uffd_register(struct hetmem_mm *mm, unsigned long start, unsigned long len, bool missing)
{
	struct uffdio_register reg = {
		.range = { .start = start, .len = len },
		.mode = UFFDIO_REGISTER_MODE_WP | (missing ? UFFDIO_REGISTER_MODE_MISSING : 0),
	};

	return ioctl(mm->uffd, UFFDIO_REGISTER, &reg) ? -errno : 0;
}

int uffd_writeprotect(struct hetmem_mm *mm, unsigned long start, unsigned long len, bool protect)
{
	struct uffdio_writeprotect wp = {
		.range = { .start = start, .len = len },
		.mode = protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	while (ioctl(mm->uffd, UFFDIO_WRITEPROTECT, &wp)) {
		if (errno != EAGAIN)
			return -errno;
		uffd_eagain(mm);
	}
	return 0;
}

int uffd_wake(struct hetmem_mm *mm, unsigned long start, unsigned long len)
{
	struct uffdio_range r = { .start = start, .len = len };

	return ioctl(mm->uffd, UFFDIO_WAKE, &r) ? -errno : 0;
}

/*
 * Whether the held pages [va, va + len) are still mapped at va. The
 * application may have moved (mremap) or unmapped them since the caller
 * looked, and an ioctl at the address would then act on whatever is
 * mapped there now: events read so far are applied first.
 */
static bool held_in_place(struct hetmem_mm *mm, unsigned long va, unsigned long len)
{
	mm_sync_events(mm);
	for (unsigned long a = va; a < va + len; a += PAGE_SIZE)
		if (swp_held_va(mm, a) != a)
			return false;
	return true;
}

/* Whether [va, va + len) is mapped throughout. */
static bool mapped(unsigned long va, unsigned long len)
{
	struct vm_area_struct vma;

	for (unsigned long a = va; a < va + len; a = vma.vm_end)
		if (vma_find(a, &vma) || vma.vm_start > a)
			return false;
	return true;
}

/*
 * After a failed ioctl on held pages: whether they are still where the
 * caller thinks. An ioctl on a range that was just unmapped or moved fails
 * (ENOENT: the kernel looks the mapping up before it looks for pending
 * events) before the event saying where the pages went is even queued: an
 * unmapped range whose pages the shadow table still places there waits for
 * that event, bounded. On the handler thread, which is who tells events,
 * the pending ones are read meanwhile.
 */
static bool still_in_place(struct hetmem_mm *mm, unsigned long va, unsigned long len)
{
	for (int i = 0; i < EVENT_WAIT_TRIES; i++) {
		if (!held_in_place(mm, va, len))
			return false;
		if (mapped(va, len))
			return true;
		if (uffd_on_handler_thread())
			uffd_eagain(mm);
		else
			nanosleep(&(struct timespec){ .tv_nsec = EVENT_WAIT_NS }, NULL);
	}
	pr_warn("[%#lx-%#lx) is unmapped and no event says so", va, va + len);
	return true;
}

int uffd_copy(struct hetmem_mm *mm, unsigned long dst, unsigned long src, unsigned long len,
	      unsigned long *done)
{
	int ret = 0;

	*done = 0;
	while (*done < len) {
		struct uffdio_copy c = {
			.dst = dst + *done,
			.src = src + *done,
			.len = len - *done,
			.mode = 0,
		};

		if (!held_in_place(mm, c.dst, c.len)) {
			ret = -ESTALE;
			break;
		}
		if (!ioctl(mm->uffd, UFFDIO_COPY, &c)) {
			*done = len;
			break;
		}
		if (c.copy > 0)
			*done += (unsigned long)c.copy;
		if (errno != EAGAIN) {
			ret = -errno;
			if (!still_in_place(mm, dst + *done, len - *done))
				ret = -ESTALE;
			break;
		}
		uffd_eagain(mm);
	}
	mm_stat_add(mm, copied, *done >> PAGE_SHIFT);
	return ret;
}

int uffd_move(struct hetmem_mm *mm, unsigned long dst, unsigned long src, unsigned long len,
	      bool wake, unsigned long *done)
{
	/* One side is the pool; the other holds the caller's pages. */
	unsigned long held = sys_pool_contains(&mm->pool, dst) ? src : dst;
	int ret = 0;

	*done = 0;
	while (*done < len) {
		struct uffdio_move m = {
			.dst = dst + *done,
			.src = src + *done,
			.len = len - *done,
			.mode = UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES |
				(wake ? 0 : UFFDIO_MOVE_MODE_DONTWAKE),
		};

		if (!held_in_place(mm, held + *done, m.len)) {
			ret = -ESTALE;
			break;
		}
		if (!ioctl(mm->uffd, UFFDIO_MOVE, &m)) {
			*done = len;
			break;
		}
		if (m.move > 0)
			*done += (unsigned long)m.move;
		/* EAGAIN: an event is pending, or a page was busy: go on from there. */
		if (errno != EAGAIN) {
			ret = -errno;
			if (!still_in_place(mm, held + *done, len - *done))
				ret = -ESTALE;
			break;
		}
		uffd_eagain(mm);
	}
	mm_stat_add(mm, moved, *done >> PAGE_SHIFT);
	return ret;
}

int uffd_zeropage(struct hetmem_mm *mm, unsigned long dst, unsigned long len)
{
	struct uffdio_zeropage z = { .range = { .start = dst, .len = len } };

	for (;;) {
		if (!held_in_place(mm, dst, len))
			return -ESTALE;
		if (!ioctl(mm->uffd, UFFDIO_ZEROPAGE, &z))
			return 0;
		if (errno != EAGAIN) {
			int ret = -errno;

			return still_in_place(mm, dst, len) ? ret : -ESTALE;
		}
		uffd_eagain(mm);
	}
}

int mm_zap(struct hetmem_mm *mm, unsigned long start, unsigned long len)
{
	struct zap_marker z = { .start = start, .end = start + len };
	int ret = 0;

	if (uffd_on_handler_thread())
		return -EDEADLK;
	pthread_mutex_lock(&mm->zap_lock);
	list_add(&z.node, &mm->zaps);
	pthread_mutex_unlock(&mm->zap_lock);
	if (madvise((void *)start, len, MADV_DONTNEED))
		ret = -errno;
	/* The event was read; let it be handled before the marker goes. */
	mm_sync_events(mm);
	pthread_mutex_lock(&mm->zap_lock);
	list_del(&z.node);
	pthread_mutex_unlock(&mm->zap_lock);
	if (!ret)
		mm_stat_add(mm, zapped, len >> PAGE_SHIFT);
	return ret;
}

bool mm_zap_is_own(struct hetmem_mm *mm, unsigned long start, unsigned long end)
{
	struct zap_marker *z;
	bool own = false;

	pthread_mutex_lock(&mm->zap_lock);
	list_for_each_entry(z, &mm->zaps, node) {
		if (start >= z->start && end <= z->end) {
			own = true;
			break;
		}
	}
	pthread_mutex_unlock(&mm->zap_lock);
	return own;
}

/*
 * The pages a migration reads were written by application threads with no
 * synchronisation the ThreadSanitizer can see: the write-protection that
 * orders them is the kernel's. Copy them with plain loads it does not
 * instrument; everywhere else a memcpy.
 */
#if defined(__SANITIZE_THREAD__)
__attribute__((no_sanitize("thread"))) void copy_user_page(void *dst, const void *src)
{
	const volatile unsigned long *s = src;
	volatile unsigned long *d = dst;

	for (unsigned long i = 0; i < PAGE_SIZE / sizeof(*s); i++)
		d[i] = s[i];
}
#else
void copy_user_page(void *dst, const void *src)
{
	memcpy(dst, src, PAGE_SIZE);
}
#endif
