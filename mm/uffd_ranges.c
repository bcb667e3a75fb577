// SPDX-License-Identifier: MIT
/*
 * Which ranges hetmem registered with its userfaultfd, and how.
 *
 *	MISSING | WP	ranges it migrated or made device-exclusive: CPU
 *			faults on zapped pages come to the handler
 *	WP only		ranges a device mirrored (hmm_range_fault()): only
 *			their UNMAP / REMOVE / REMAP events come, so mirrors
 *			hear of munmap; first touches stay the kernel's
 *
 * The kernel does not say what is registered (short of parsing
 * /proc/self/smaps), and registering again replaces the mode: a WP-only
 * registration over a MISSING one would leave zapped pages to read as
 * zeros. So the registrations are kept here, a sorted array of disjoint
 * intervals, and only what is missing, or weaker than wanted, is
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
			struct uffd_range tail = { end, r->end, r->missing };

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

/* Record [start, end) with @missing, merging neighbours; lock held. */
static int add(struct uffd_ranges *rs, unsigned long start, unsigned long end, bool missing)
{
	unsigned int i;
	int ret = cut(rs, start, end);

	if (ret)
		return ret;
	for (i = 0; i < rs->nr && rs->r[i].start < start; i++)
		;
	ret = insert_at(rs, i, (struct uffd_range){ start, end, missing });
	if (ret)
		return ret;
	if (i + 1 < rs->nr && rs->r[i + 1].start == end && rs->r[i + 1].missing == missing) {
		rs->r[i].end = rs->r[i + 1].end;
		remove_at(rs, i + 1);
	}
	if (i > 0 && rs->r[i - 1].end == start && rs->r[i - 1].missing == missing) {
		rs->r[i - 1].end = rs->r[i].end;
		remove_at(rs, i);
	}
	return 0;
}

int uffd_ranges_ensure(struct hetmem_mm *mm, unsigned long start, unsigned long end, bool missing)
{
	struct uffd_ranges *rs = &mm->ranges;
	unsigned long a = start;
	int ret = 0;

	pthread_mutex_lock(&rs->lock);
	while (a < end && !ret) {
		unsigned long b = end;
		bool covered = false;

		/* The interval holding a, or the gap up to the next one. */
		for (unsigned int i = 0; i < rs->nr; i++) {
			struct uffd_range *r = &rs->r[i];

			if (r->end <= a)
				continue;
			if (r->start <= a) {
				covered = r->missing || !missing;
				b = r->end < end ? r->end : end;
			} else if (r->start < b) {
				b = r->start;
			}
			break;
		}
		if (!covered) {
			/* Not registered, or WP only where MISSING is wanted. */
			ret = uffd_register(mm, a, b - a, missing);
			if (!ret)
				ret = add(rs, a, b, missing);
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
		moved[n++].missing = r->missing;
	}
	cut(rs, from, from + len);
	for (unsigned int i = 0; i < n; i++)
		add(rs, moved[i].start, moved[i].end, moved[i].missing);
	pthread_mutex_unlock(&rs->lock);
}
