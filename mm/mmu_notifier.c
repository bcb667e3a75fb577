// SPDX-License-Identifier: MIT
/*
 * Interval notifiers and their sequence count, the kernel's scheme:
 *
 *  - The address space's invalidate_seq is odd while at least one
 *    invalidation runs (active > 0) and even otherwise. The first
 *    invalidation to start makes it odd, the last to end makes it even
 *    again and wakes mmu_interval_read_begin() waiters.
 *  - A subscription's invalidate_seq is the value its driver last stored
 *    with mmu_interval_set_seq(). read_begin() returns it, after waiting
 *    while it equals the running (odd) count, i.e. while an invalidation
 *    that reached this subscription has not ended.
 *  - While invalidations run, the subscription array is not changed:
 *    invalidations walk it without the lock. Inserts and removes made
 *    meanwhile are queued and applied by the last invalidation to end;
 *    remove() then waits for that, so the caller may free the
 *    subscription when it returns.
 *
 * Subscriptions are few (one per mirror, and short-lived ones for
 * snapshots), so they live in an array and an invalidation checks each.
 */
#define pr_fmt(fmt) "mmu_notifier: " fmt

#include <errno.h>
#include <stdlib.h>

#include <hetmem/log.h>
#include "hmm_internal.h"
#include "lib/trace.h"

/* mmu_interval_notifier.state */
#define SUB_INSERTED	    1U /* in the array */
#define SUB_DEFERRED_INSERT 2U /* queued for insertion */
#define SUB_DEFERRED_REMOVE 4U /* queued for removal */

void mmu_notifier_subscriptions_init(struct mmu_notifier_subscriptions *s)
{
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wq, NULL);
	s->invalidate_seq = 2;
}

static int push(struct mmu_interval_notifier ***arr, unsigned int *nr, unsigned int *cap,
		struct mmu_interval_notifier *sub)
{
	if (*nr == *cap) {
		unsigned int ncap = *cap ? *cap * 2 : 8;
		void *n = realloc(*arr, ncap * sizeof(**arr));

		if (!n)
			return -ENOMEM;
		*arr = n;
		*cap = ncap;
	}
	(*arr)[(*nr)++] = sub;
	return 0;
}

static void unlink_sub(struct mmu_notifier_subscriptions *s, struct mmu_interval_notifier *sub)
{
	for (unsigned int i = 0; i < s->nr; i++) {
		if (s->subs[i] == sub) {
			s->subs[i] = s->subs[--s->nr];
			return;
		}
	}
}

/* Called with the lock held, by the last invalidation to end. */
static void apply_deferred(struct mmu_notifier_subscriptions *s)
{
	for (unsigned int i = 0; i < s->nr_deferred; i++) {
		struct mmu_interval_notifier *sub = s->deferred[i];

		if (sub->state & SUB_DEFERRED_REMOVE) {
			unlink_sub(s, sub);
			sub->state = 0;
		} else if (push(&s->subs, &s->nr, &s->cap, sub)) {
			pr_err("no memory to insert a notifier: it misses invalidations");
			sub->state = 0;
		} else {
			sub->state = SUB_INSERTED;
		}
	}
	s->nr_deferred = 0;
}

void mmu_notifier_subscriptions_fini(struct hetmem_mm *mm)
{
	struct mmu_notifier_subscriptions *s = &mm->notifiers;

	if (s->nr) {
		pr_warn("%u interval notifiers still inserted at teardown", s->nr);
		mmu_notifier_invalidate(mm, MMU_NOTIFY_RELEASE, 0, ~0UL & PAGE_MASK, NULL);
	}
	free(s->subs);
	free(s->deferred);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->wq);
}

int mmu_interval_notifier_insert(struct mmu_interval_notifier *interval_sub, struct hetmem_mm *mm,
				 unsigned long start, unsigned long length,
				 const struct mmu_interval_notifier_ops *ops)
{
	struct mmu_notifier_subscriptions *s = &mm->notifiers;
	int ret;

	if (!length || start + length - 1 < start)
		return -EINVAL;
	interval_sub->start = start;
	interval_sub->last = start + length - 1;
	interval_sub->ops = ops;
	interval_sub->mm = mm;
	hetmem_mm_grab(mm);

	pthread_mutex_lock(&s->lock);
	if (s->active) {
		/*
		 * Invalidations are walking the array: queue the insert for the
		 * last of them to apply. They may concern this interval, so the
		 * subscription starts at the running (odd) count, which makes
		 * read_begin() wait for them, as if one had reached it.
		 */
		ret = push(&s->deferred, &s->nr_deferred, &s->cap_deferred, interval_sub);
		interval_sub->invalidate_seq = s->invalidate_seq;
		interval_sub->state = SUB_DEFERRED_INSERT;
	} else {
		/* Odd, and different from any count an invalidation will pass. */
		ret = push(&s->subs, &s->nr, &s->cap, interval_sub);
		interval_sub->invalidate_seq = s->invalidate_seq - 1;
		interval_sub->state = SUB_INSERTED;
	}
	pthread_mutex_unlock(&s->lock);
	if (ret) {
		interval_sub->state = 0;
		hetmem_mm_put(mm);
	}
	return ret;
}

void mmu_interval_notifier_remove(struct mmu_interval_notifier *interval_sub)
{
	struct hetmem_mm *mm = interval_sub->mm;
	struct mmu_notifier_subscriptions *s = &mm->notifiers;

	pthread_mutex_lock(&s->lock);
	if (interval_sub->state & SUB_DEFERRED_INSERT) {
		/* Still queued: turn the insert into a removal and wait for it. */
		interval_sub->state = SUB_DEFERRED_REMOVE;
	} else if (s->active &&
		   !push(&s->deferred, &s->nr_deferred, &s->cap_deferred, interval_sub)) {
		interval_sub->state = SUB_DEFERRED_REMOVE;
	} else {
		/* No invalidation running (or no memory to queue: wait for none). */
		while (s->active)
			pthread_cond_wait(&s->wq, &s->lock);
		unlink_sub(s, interval_sub);
		interval_sub->state = 0;
	}
	/*
	 * Running invalidations may still call it: the last to end applies
	 * the removal, and only then may the caller free the subscription.
	 */
	while (interval_sub->state)
		pthread_cond_wait(&s->wq, &s->lock);
	pthread_mutex_unlock(&s->lock);
	hetmem_mm_put(mm);
}

unsigned long mmu_interval_read_begin(struct mmu_interval_notifier *interval_sub)
{
	struct mmu_notifier_subscriptions *s = &interval_sub->mm->notifiers;
	unsigned long seq;

	pthread_mutex_lock(&s->lock);
	seq = __atomic_load_n(&interval_sub->invalidate_seq, __ATOMIC_ACQUIRE);
	/*
	 * Equal to the running (odd) count: an invalidation reached this
	 * subscription and has not ended, its pages are still changing. Once
	 * it ends, @seq is a fine starting point: read_retry() reports any
	 * later invalidation.
	 */
	while (seq == s->invalidate_seq)
		pthread_cond_wait(&s->wq, &s->lock);
	pthread_mutex_unlock(&s->lock);
	return seq;
}

void mmu_notifier_range_init_owner(struct mmu_notifier_range *range, enum mmu_notifier_event event,
				   struct hetmem_mm *mm, unsigned long start, unsigned long end,
				   void *owner)
{
	*range = (struct mmu_notifier_range){
		.mm = mm,
		.start = start,
		.end = end,
		.flags = MMU_NOTIFIER_RANGE_BLOCKABLE,
		.event = event,
		.owner = owner,
	};
}

void mmu_notifier_invalidate_range_start(struct mmu_notifier_range *range)
{
	struct mmu_notifier_subscriptions *s = &range->mm->notifiers;
	unsigned long cur_seq;
	unsigned int nr;

	pthread_mutex_lock(&s->lock);
	if (!s->active++)
		s->invalidate_seq |= 1;
	cur_seq = s->invalidate_seq;
	nr = s->nr;
	pthread_mutex_unlock(&s->lock);

	trace_probe(mmu_invalidate, range->event, range->start, range->end);
	/* The array holds still until the last invalidation ends (see above). */
	for (unsigned int i = 0; i < nr; i++) {
		struct mmu_interval_notifier *sub = s->subs[i];

		if (sub->start >= range->end || sub->last < range->start)
			continue;
		if (!sub->ops->invalidate(sub, range, cur_seq))
			pr_err("invalidate() of a blockable range returned false");
	}
}

void mmu_notifier_invalidate_range_end(struct mmu_notifier_range *range)
{
	struct mmu_notifier_subscriptions *s = &range->mm->notifiers;

	pthread_mutex_lock(&s->lock);
	if (!--s->active) {
		s->invalidate_seq++;
		apply_deferred(s);
		pthread_cond_broadcast(&s->wq);
	}
	pthread_mutex_unlock(&s->lock);
}

void mmu_notifier_invalidate(struct hetmem_mm *mm, enum mmu_notifier_event event,
			     unsigned long start, unsigned long end, void *owner)
{
	struct mmu_notifier_range range;

	mmu_notifier_range_init_owner(&range, event, mm, start, end, owner);
	mmu_notifier_invalidate_range_start(&range);
	mmu_notifier_invalidate_range_end(&range);
}
