// SPDX-License-Identifier: MIT
/*
 * Which ranges hetmem registered with its userfaultfd.
 *
 * A range is registered MISSING | WP when hetmem migrates or marks pages
 * of it, or a device mirrors it (hmm_range_fault()): CPU faults on zapped
 * pages come to the handler, and the UNMAP / REMOVE / REMAP events of the
 * range, so mirrors hear of munmap. Always that one mode: registering is
 * not atomic with looking the mapping up, and the mapping at an address may
 * change in between (an mremap() brings another one there); registering
 * again replaces the mode, so a write-protect-only registration could take
 * MISSING away from a mapping whose pages are on a device, and their
 * zapped pages would then read as zeros. MISSING | WP never takes anything
 * away. The price is that the first touches of a mirrored range's
 * never-populated pages come to the handler thread (zero_fill()).
 *
 * Only the range asked for is registered, not the rest of its mapping: the
 * kernel merges neighbouring anonymous mappings into one VMA, and the rest
 * may be anybody's memory (an allocator's, a sanitizer's), whose munmap()
 * or MADV_DONTNEED would then wait for the handler thread, from any thread,
 * the handler included. So a mapping hetmem registered in parts is several
 * VMAs, and mremap() of the whole fails with EFAULT (Documentation/hmm.md).
 * Never the handler thread's own stack: a REMOVE event there would wait for
 * the thread that must read it.
 *
 * The kernel does not say what is registered (short of parsing
 * /proc/self/smaps), so the registrations are kept here, a sorted array of
 * disjoint intervals, to spare the ioctl when a range is known to be
 * registered. UNMAP events remove intervals, REMAP events move them.
 */
#define pr_fmt(fmt) "uffd: " fmt

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <hetmem/log.h>
#include "hmm_internal.h"

void uffd_ranges_init(struct uffd_ranges *rs)
{
	memset(rs, 0, sizeof(*rs));
	pthread_mutex_init(&rs->lock, NULL);
}

void uffd_ranges_fini(struct uffd_ranges *rs)
{
	free(rs->r);
	pthread_mutex_destroy(&rs->lock);
}

/* Make room for one more at index @i. */
static int insert_at(struct uffd_ranges *rs, unsigned int i, struct uffd_range v)
{
	if (rs->nr == rs->cap) {
		unsigned int cap = rs->cap ? rs->cap * 2 : 16;
		void *n = realloc(rs->r, cap * sizeof(*rs->r));

		if (!n)
			return -ENOMEM;
		rs->r = n;
		rs->cap = cap;
	}
	memmove(&rs->r[i + 1], &rs->r[i], (rs->nr - i) * sizeof(*rs->r));
	rs->r[i] = v;
	rs->nr++;
	return 0;
}

static void remove_at(struct uffd_ranges *rs, unsigned int i)
{
	memmove(&rs->r[i], &rs->r[i + 1], (rs->nr - i - 1) * sizeof(*rs->r));
	rs->nr--;
}

/* Cut [start, end) out of every interval; called with the lock held. */
static int cut(struct uffd_ranges *rs, unsigned long start, unsigned long end)
{
	for (unsigned int i = 0; i < rs->nr;) {
		struct uffd_range *r = &rs->r[i];

		if (r->end <= start || r->start >= end) {
			i++;
			continue;
		}
		if (r->start < start && r->end > end) {
			/* Split in two. */
			struct uffd_range tail = { end, r->end };

			r->end = start;
			return insert_at(rs, i + 1, tail);
		}
		if (r->start < start) {
			r->end = start;
			i++;
		} else if (r->end > end) {
			r->start = end;
			i++;
		} else {
			remove_at(rs, i);
		}
	}
	return 0;
}

/* Record [start, end), merging neighbours; lock held. */
static int add(struct uffd_ranges *rs, unsigned long start, unsigned long end)
{
	unsigned int i;
	int ret = cut(rs, start, end);

	if (ret)
		return ret;
	for (i = 0; i < rs->nr && rs->r[i].start < start; i++)
		;
	ret = insert_at(rs, i, (struct uffd_range){ start, end });
	if (ret)
		return ret;
	if (i + 1 < rs->nr && rs->r[i + 1].start == end) {
		rs->r[i].end = rs->r[i + 1].end;
		remove_at(rs, i + 1);
	}
	if (i > 0 && rs->r[i - 1].end == start) {
		rs->r[i - 1].end = rs->r[i].end;
		remove_at(rs, i);
	}
	return 0;
}

/* Whether [start, end) is registered; lock held. */
static bool covered(const struct uffd_ranges *rs, unsigned long start, unsigned long end)
{
	unsigned long a = start;

	for (unsigned int i = 0; i < rs->nr && a < end; i++) {
		const struct uffd_range *r = &rs->r[i];

		if (r->end <= a)
			continue;
		if (r->start > a)
			return false;
		a = r->end;
	}
	return a >= end;
}

int uffd_ranges_ensure(struct hetmem_mm *mm, unsigned long start, unsigned long end, bool missing)
{
	struct uffd_ranges *rs = &mm->ranges;
	unsigned long a;
	int ret = 0;

	/*
	 * The registrations are the handler's account of events: an unmap the
	 * caller saw the effect of (a new mapping here) must have been told.
	 */
	mm_sync_events(mm);
	if (mm_handler_stack(mm, start, end)) {
		pr_warn("[%#lx, %#lx) is the fault handler's stack: not registered", start, end);
		return -EFAULT;
	}
	pthread_mutex_lock(&rs->lock);
	if (covered(rs, start, end)) {
		pthread_mutex_unlock(&rs->lock);
		return 0;
	}
	pthread_mutex_unlock(&rs->lock);
	/* A new mapping where an old one's pages are still held waits for them to go. */
	swp_wait_away(mm, start, end);

	pthread_mutex_lock(&rs->lock);
	for (a = start; a < end && !ret;) {
		unsigned long b = end;
		bool known = false;

		/* The interval holding a, or the gap up to the next one. */
		for (unsigned int i = 0; i < rs->nr; i++) {
			struct uffd_range *r = &rs->r[i];

			if (r->end <= a)
				continue;
			if (r->start <= a) {
				known = true;
				b = r->end < end ? r->end : end;
			} else if (r->start < b) {
				b = r->start;
			}
			break;
		}
		if (!known) {
			ret = uffd_register(mm, a, b - a, true);
			if (!ret)
				ret = add(rs, a, b);
		}
		a = b;
	}
	pthread_mutex_unlock(&rs->lock);
	return ret;
}

void uffd_ranges_forget(struct hetmem_mm *mm, unsigned long start, unsigned long end)
{
	pthread_mutex_lock(&mm->ranges.lock);
	if (cut(&mm->ranges, start, end))
		pr_err("no memory to record an unmap: registrations may be stale");
	pthread_mutex_unlock(&mm->ranges.lock);
}

void uffd_ranges_move(struct hetmem_mm *mm, unsigned long from, unsigned long to, unsigned long len)
{
	struct uffd_ranges *rs = &mm->ranges;
	struct uffd_range moved[16];
	unsigned int n = 0;

	pthread_mutex_lock(&rs->lock);
	for (unsigned int i = 0; i < rs->nr && n < 16; i++) {
		struct uffd_range *r = &rs->r[i];

		if (r->end <= from || r->start >= from + len)
			continue;
		moved[n].start = (r->start > from ? r->start : from) - from + to;
		moved[n].end = (r->end < from + len ? r->end : from + len) - from + to;
		n++;
	}
	cut(rs, from, from + len);
	for (unsigned int i = 0; i < n; i++)
		add(rs, moved[i].start, moved[i].end);
	pthread_mutex_unlock(&rs->lock);
}
