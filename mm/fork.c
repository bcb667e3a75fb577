// SPDX-License-Identifier: MIT
/*
 * Bringing every device-private page home: before a fork, and when the
 * address space's context goes away.
 *
 * Fork. The child does not inherit the userfaultfd's registrations (hetmem
 * does not ask for fork events), so a page whose data is on a device would
 * read as zeros in the child, and the child could never fault it back. The
 * prepare handler of pthread_atfork() therefore takes the context's fork
 * lock for writing, which waits for migrations of system memory in flight
 * and keeps new ones out, and brings every device-private page home
 * through its map's migrate_to_ram(), on the forking thread. The parent
 * handler lets go. The child handler forgets the context: it belongs to
 * the parent (the child gets a fresh one if it uses hetmem), and the
 * descriptors naming the parent's /proc files are closed.
 *
 * Device-exclusive pages keep their mark in the parent; in the child they
 * are ordinary pages (the kernel drops the write-protect bits of
 * unregistered mappings on fork).
 */
#define pr_fmt(fmt) "fork: " fmt

#include <pthread.h>

#include <hetmem/log.h>
#include "hmm_internal.h"

/* Passes over the shadow table before giving up on pages that stay busy. */
#define EVICT_PASSES 100

struct evict {
	struct hetmem_mm *mm;
	unsigned long busy;
};

static bool evict_page(unsigned long va, unsigned long *slot, void *arg)
{
	struct evict *ev = arg;
	unsigned long e = swp_load(slot);

	if (e & SWP_MIGRATION)
		ev->busy++; /* a migration in flight: look again */
	else if (swp_page(e) && do_device_private_fault(ev->mm, va, 0))
		ev->busy++;
	return true;
}

void mm_evict_all(struct hetmem_mm *mm)
{
	for (int pass = 0; pass < EVICT_PASSES; pass++) {
		struct evict ev = { mm, 0 };

		if (!__atomic_load_n(&mm->nr_device, __ATOMIC_RELAXED))
			return;
		va_table_for_each(&mm->swp, 0, ~0UL, evict_page, &ev);
		if (!ev.busy && !__atomic_load_n(&mm->nr_device, __ATOMIC_RELAXED))
			return;
	}
	pr_warn("%lu device-private pages could not be brought home",
		__atomic_load_n(&mm->nr_device, __ATOMIC_RELAXED));
}

static struct hetmem_mm *forking_mm;

static void hmm_fork_prepare(void)
{
	struct hetmem_mm *mm = hetmem_mm_tryget();

	forking_mm = mm;
	if (!mm)
		return;
	pthread_rwlock_wrlock(&mm->fork_lock);
	mm_evict_all(mm);
}

static void hmm_fork_parent(void)
{
	struct hetmem_mm *mm = forking_mm;

	forking_mm = NULL;
	if (!mm)
		return;
	pthread_rwlock_unlock(&mm->fork_lock);
	hetmem_mm_put(mm);
}

static void hmm_fork_child(void)
{
	forking_mm = NULL;
	hetmem_mm_orphan();
	pagemap_forget();
	vma_forget();
}

static void fork_handlers_install(void)
{
	pthread_atfork(hmm_fork_prepare, hmm_fork_parent, hmm_fork_child);
}

void hmm_fork_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, fork_handlers_install);
}
