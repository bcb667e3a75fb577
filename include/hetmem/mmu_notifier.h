/* SPDX-License-Identifier: MIT */
/*
 * Interval notifiers: a device that mirrors part of the address space is
 * told before the CPU side of that part changes, and checks, with a
 * sequence count, that nothing changed while it built its mirror.
 *
 * The scheme is the kernel's (mm/mmu_notifier.c). The address space has a
 * sequence count that is odd while at least one invalidation is running.
 * Each notifier keeps the value it last saw; an invalidation hands the
 * odd value to ops->invalidate(), which stores it with
 * mmu_interval_set_seq() under the driver's lock. A driver mirrors like
 * this:
 *
 *	again:
 *	seq = mmu_interval_read_begin(sub);   // waits out a running invalidation
 *	ret = hmm_range_fault(&range);         // range.notifier_seq = seq
 *	if (ret == -EBUSY)
 *		goto again;
 *	lock(driver);
 *	if (mmu_interval_read_retry(sub, seq)) {
 *		unlock(driver);
 *		goto again;
 *	}
 *	... program the device's page table ...
 *	unlock(driver);
 *
 * Where the invalidations come from: userfaultfd UNMAP, REMOVE and REMAP
 * events on ranges hetmem registered (after the fact: the kernel has
 * already changed the mapping when the event is read), hetmem's own
 * migrations and device-exclusive grants and revocations (before the
 * change), and hmm_mprotect() (around it). A plain mprotect() raises none:
 * see hmm.h.
 *
 * ops->invalidate() runs on the fault handler thread for events and CPU
 * faults, and on the migrating thread otherwise. The rule that keeps this
 * free of deadlocks: never touch process memory by address (memcpy, a
 * syscall reading user memory) while holding a lock that invalidate()
 * takes, since such an access may fault and wait for the handler thread,
 * which may be waiting for that lock.
 */
#ifndef HETMEM_MMU_NOTIFIER_H
#define HETMEM_MMU_NOTIFIER_H

#include <stdbool.h>
#include <stdint.h>

#include <hetmem/mm_types.h>

/**
 * enum mmu_notifier_event - why a range is invalidated (kernel values)
 * @MMU_NOTIFY_UNMAP: the range was unmapped (munmap, or mremap away)
 * @MMU_NOTIFY_CLEAR: its pages were discarded (MADV_DONTNEED and friends)
 * @MMU_NOTIFY_PROTECTION_VMA: its protection changes (hmm_mprotect())
 * @MMU_NOTIFY_PROTECTION_PAGE: a page's write permission changes
 * @MMU_NOTIFY_SOFT_DIRTY: soft-dirty tracking (never raised by hetmem)
 * @MMU_NOTIFY_RELEASE: the address space goes away with the notifier still
 *			 inserted
 * @MMU_NOTIFY_MIGRATE: pages are migrated; @owner is the migrating
 *			device's pgmap owner, so that device can skip it
 * @MMU_NOTIFY_EXCLUSIVE: a device takes exclusive access (@owner set), or
 *			  a CPU access revokes it (@owner NULL)
 */
enum mmu_notifier_event {
	MMU_NOTIFY_UNMAP = 0,
	MMU_NOTIFY_CLEAR,
	MMU_NOTIFY_PROTECTION_VMA,
	MMU_NOTIFY_PROTECTION_PAGE,
	MMU_NOTIFY_SOFT_DIRTY,
	MMU_NOTIFY_RELEASE,
	MMU_NOTIFY_MIGRATE,
	MMU_NOTIFY_EXCLUSIVE,
};

#define MMU_NOTIFIER_RANGE_BLOCKABLE (1U << 0)

/**
 * struct mmu_notifier_range - what is invalidated
 * @mm: the address space
 * @start: first byte
 * @end: first byte past the range
 * @flags: MMU_NOTIFIER_RANGE_BLOCKABLE (always set by hetmem)
 * @event: why
 * @owner: see enum mmu_notifier_event
 */
struct mmu_notifier_range {
	struct hetmem_mm *mm;
	unsigned long start;
	unsigned long end;
	unsigned int flags;
	enum mmu_notifier_event event;
	void *owner;
};

/**
 * mmu_notifier_range_blockable - whether invalidate() may sleep
 * @range: the range
 *
 * Return: true; hetmem never invalidates from a context that cannot wait.
 */
static inline bool mmu_notifier_range_blockable(const struct mmu_notifier_range *range)
{
	return range->flags & MMU_NOTIFIER_RANGE_BLOCKABLE;
}

struct mmu_interval_notifier;

/**
 * struct mmu_interval_notifier_ops - a subscriber's callback
 * @invalidate: the CPU side of [range->start, range->end) is changing (or,
 *		for events, has changed). Stop using it, and record @cur_seq
 *		with mmu_interval_set_seq() under the lock that the mirror's
 *		readers take around mmu_interval_read_retry(). Return true;
 *		false is only allowed when the range is not blockable.
 */
struct mmu_interval_notifier_ops {
	bool (*invalidate)(struct mmu_interval_notifier *interval_sub,
			   const struct mmu_notifier_range *range, unsigned long cur_seq);
};

/**
 * struct mmu_interval_notifier - a subscription to one interval
 * @start: first byte
 * @last: last byte (inclusive, as the kernel's interval tree node)
 * @ops: the callback
 * @mm: the address space
 * @invalidate_seq: the sequence count last recorded
 * @state: private to mmu_notifier.c
 */
struct mmu_interval_notifier {
	unsigned long start;
	unsigned long last;
	const struct mmu_interval_notifier_ops *ops;
	struct hetmem_mm *mm;
	unsigned long invalidate_seq;
	unsigned int state;
};

/**
 * mmu_interval_notifier_insert - subscribe to an interval
 * @interval_sub: the subscription, zeroed or unused; it must stay valid
 *		  until mmu_interval_notifier_remove() returns
 * @mm: the address space, from hetmem_mm_get(); the subscription holds a
 *	reference on it
 * @start: first byte
 * @length: bytes
 * @ops: the callback
 *
 * An insertion during a running invalidation takes effect when the last
 * running invalidation ends, as in the kernel; until then
 * mmu_interval_read_begin() on it waits.
 *
 * Return: 0, or -EINVAL when @length is zero or the interval wraps.
 */
int mmu_interval_notifier_insert(struct mmu_interval_notifier *interval_sub, struct hetmem_mm *mm,
				 unsigned long start, unsigned long length,
				 const struct mmu_interval_notifier_ops *ops);

/**
 * mmu_interval_notifier_remove - unsubscribe
 * @interval_sub: an inserted subscription
 *
 * Waits for a running invalidation that may still call @interval_sub's
 * invalidate(); afterwards the subscription may be freed. Must not be
 * called from invalidate().
 */
void mmu_interval_notifier_remove(struct mmu_interval_notifier *interval_sub);

/**
 * mmu_interval_read_begin - start building a mirror of the interval
 * @interval_sub: the subscription
 *
 * Waits while an invalidation that already reached @interval_sub is still
 * running.
 *
 * Return: the sequence count to give mmu_interval_read_retry() and
 * hmm_range.notifier_seq.
 */
unsigned long mmu_interval_read_begin(struct mmu_interval_notifier *interval_sub);

/**
 * mmu_interval_read_retry - whether the mirror built since @seq is stale
 * @interval_sub: the subscription
 * @seq: from mmu_interval_read_begin()
 *
 * Call under the lock that invalidate() takes around
 * mmu_interval_set_seq(); a false answer stays valid until that lock is
 * released.
 *
 * Return: true when an invalidation reached the subscription since @seq.
 */
static inline bool mmu_interval_read_retry(struct mmu_interval_notifier *interval_sub,
					   unsigned long seq)
{
	return interval_sub->invalidate_seq != seq;
}

/**
 * mmu_interval_check_retry - early, lockless check for mmu_interval_read_retry()
 * @interval_sub: the subscription
 * @seq: from mmu_interval_read_begin()
 *
 * Return: true when the mirror is already known to be stale; false proves
 * nothing.
 */
static inline bool mmu_interval_check_retry(struct mmu_interval_notifier *interval_sub,
					    unsigned long seq)
{
	return __atomic_load_n(&interval_sub->invalidate_seq, __ATOMIC_RELAXED) != seq;
}

/**
 * mmu_interval_set_seq - record an invalidation, from invalidate()
 * @interval_sub: the subscription
 * @cur_seq: the value invalidate() received
 */
static inline void mmu_interval_set_seq(struct mmu_interval_notifier *interval_sub,
					unsigned long cur_seq)
{
	__atomic_store_n(&interval_sub->invalidate_seq, cur_seq, __ATOMIC_RELEASE);
}

#endif /* HETMEM_MMU_NOTIFIER_H */
