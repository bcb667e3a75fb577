// SPDX-License-Identifier: MIT
/*
 * p2pmem/allocate mappings revoked by their provider's release.
 *
 * The kernel takes a provider's pages out of every user's page tables when
 * it goes away and leaves the VMAs: the range stays the user's (nothing
 * else is mapped there until the user unmaps it), a touch is SIGBUS (the
 * VMA has nothing left to fault in), munmap() works. Here:
 *
 *   - The range is mapped over, MAP_FIXED so that the address is never free
 *     in between, by a shared mapping of an empty memfd: every byte lies
 *     past the end of the file, so every access is a SIGBUS, as in the
 *     kernel (an anonymous PROT_NONE mapping, a SIGSEGV, when no memfd can
 *     be made).
 *   - The range is entered in a registry of revoked ranges, which the DMA
 *     layer consults for process memory: a mapping that touches any byte
 *     of one is -EFAULT. Without it the pointer would read as ordinary
 *     process memory and the IOMMU would map it.
 *   - A device copy to or from process memory (an IOVA mapped earlier may
 *     still name the range) holds the registry's lock for reading and is
 *     refused when the range is revoked; revocation replaces the mapping
 *     with the lock held for writing. So no copy runs into the SIGBUS
 *     mapping: it is blocked and reported, and the device's thread lives.
 *   - pci_p2pmem_munmap() of the range unmaps it and takes it out of the
 *     registry, piece by piece as for live mappings.
 *
 * The registry is a list: it holds what users have not unmapped yet, a few
 * entries at most. The DMA layer's mappings look at it only when it is not
 * empty (one load otherwise); device copies always take the guard, which
 * costs about 8 ns a copy.
 *
 * Locking: @revoke_mutex orders revocations and unmaps of revoked ranges
 * against each other; it may be held across a grace period (removing an
 * alias waits for one). The guard protects the list and what the ranges
 * map, for readers; it is held for writing only briefly. It is a
 * read-write lock per stripe, each on its own cache line: a reader takes
 * its thread's, so device threads copying at the same time do not pass a
 * line between them on every copy; a writer takes them all, in order.
 */
#define pr_fmt(fmt) "p2pmem: " fmt

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <hetmem/log.h>
#include "p2pdma.h"

struct revoked {
	struct list_head node;
	uintptr_t va;
	size_t len;
	const void *key; /* the provider, compared only: it may be gone */
};

static struct list_head revoked_list = LIST_HEAD_INIT(revoked_list);
static unsigned long nr_revoked;
static pthread_mutex_t revoke_mutex = PTHREAD_MUTEX_INITIALIZER;

#define GUARD_STRIPES 8

struct guard_stripe {
	pthread_rwlock_t lock;
} __attribute__((aligned(64)));

static struct guard_stripe guard[GUARD_STRIPES] = {
	[0 ... GUARD_STRIPES - 1] = { PTHREAD_RWLOCK_INITIALIZER },
};
static unsigned int next_stripe;
static __thread unsigned int my_stripe; /* 1 + its index; 0 until the thread first reads */

static void guard_read_lock(void)
{
	if (!my_stripe)
		my_stripe = __atomic_fetch_add(&next_stripe, 1, __ATOMIC_RELAXED) % GUARD_STRIPES + 1;
	pthread_rwlock_rdlock(&guard[my_stripe - 1].lock);
}

static void guard_read_unlock(void)
{
	pthread_rwlock_unlock(&guard[my_stripe - 1].lock);
}

static void guard_write_lock(void)
{
	for (int i = 0; i < GUARD_STRIPES; i++)
		pthread_rwlock_wrlock(&guard[i].lock);
}

static void guard_write_unlock(void)
{
	for (int i = GUARD_STRIPES - 1; i >= 0; i--)
		pthread_rwlock_unlock(&guard[i].lock);
}

static bool overlaps(const struct revoked *r, uint64_t start, uint64_t len)
{
	return start < r->va + r->len && r->va < start + len;
}

static bool revoked_locked(uint64_t start, uint64_t len)
{
	struct revoked *r;

	if (!__atomic_load_n(&nr_revoked, __ATOMIC_RELAXED))
		return false;
	list_for_each_entry(r, &revoked_list, node)
		if (overlaps(r, start, len))
			return true;
	return false;
}

bool p2pmem_revoked(uint64_t start, uint64_t len)
{
	bool ret;

	/*
	 * Unlocked first: an empty registry costs nothing. A range entered
	 * after this load was still a live alias when the caller looked it up,
	 * so the caller saw a P2P page, not process memory.
	 */
	if (!len || !__atomic_load_n(&nr_revoked, __ATOMIC_ACQUIRE))
		return false;
	guard_read_lock();
	ret = revoked_locked(start, len);
	guard_read_unlock();
	return ret;
}

int p2pmem_host_access_begin(uint64_t start, uint64_t len)
{
	guard_read_lock();
	return revoked_locked(start, len) ? -EFAULT : 0;
}

void p2pmem_host_access_end(void)
{
	guard_read_unlock();
}

void p2pmem_revoke_lock(void)
{
	pthread_mutex_lock(&revoke_mutex);
}

void p2pmem_revoke_unlock(void)
{
	pthread_mutex_unlock(&revoke_mutex);
}

struct revoked *p2pmem_revoke_enter(const void *key, uintptr_t va, size_t len)
{
	struct revoked *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->va = va;
	r->len = len;
	r->key = key;
	guard_write_lock();
	list_add_tail(&r->node, &revoked_list);
	__atomic_add_fetch(&nr_revoked, 1, __ATOMIC_RELEASE);
	guard_write_unlock();
	return r;
}

/* Map [va, va + len) over with memory every access to which faults. */
static int map_dead(uintptr_t va, size_t len, int prot)
{
	int fd = memfd_create("p2pmem-revoked", MFD_CLOEXEC);
	void *p = MAP_FAILED;

	if (fd >= 0) {
		/* Empty, and shared: every page lies past its end. */
		p = mmap((void *)va, len, prot, MAP_SHARED | MAP_FIXED, fd, 0);
		close(fd);
	}
	if (p == MAP_FAILED)
		p = mmap((void *)va, len, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? -errno : 0;
}

void p2pmem_revoke_finish(struct revoked *r, int prot)
{
	int ret;

	guard_write_lock();
	ret = map_dead(r->va, r->len, prot & (PROT_READ | PROT_WRITE));
	/* Still the BAR's memory: inaccessible is the best left to do. */
	if (ret && mprotect((void *)r->va, r->len, PROT_NONE))
		pr_err("cannot revoke the p2pmem mapping at %p (%d): it still maps the BAR",
		       (void *)r->va, ret);
	guard_write_unlock();
}

size_t p2pmem_revoked_munmap(const void *key, uintptr_t start, uintptr_t end, int *err)
{
	struct revoked *r, *next, *spare = calloc(1, sizeof(*spare));
	size_t done = 0;

	*err = 0;
	pthread_mutex_lock(&revoke_mutex);
	guard_write_lock();
	list_for_each_entry_safe(r, next, &revoked_list, node) {
		uintptr_t a = r->va > start ? r->va : start;
		uintptr_t b = r->va + r->len < end ? r->va + r->len : end;

		if (r->key != key || a >= b)
			continue;
		if (a > r->va && b < r->va + r->len) {
			/*
			 * A hole inside one entry, which no other entry then
			 * overlaps: failing here leaves everything as it was.
			 */
			if (!spare) {
				*err = -ENOMEM;
				break;
			}
			*spare = (struct revoked){ .va = b, .len = r->va + r->len - b, .key = key };
			list_add(&spare->node, &r->node);
			__atomic_add_fetch(&nr_revoked, 1, __ATOMIC_RELAXED);
			spare = NULL;
			r->len = a - r->va;
		} else if (a > r->va) {
			r->len = a - r->va;
		} else if (b < r->va + r->len) {
			r->len -= b - r->va;
			r->va = b;
		} else {
			list_del(&r->node);
			__atomic_sub_fetch(&nr_revoked, 1, __ATOMIC_RELAXED);
			free(r);
		}
		munmap((void *)a, b - a);
		done += b - a;
	}
	guard_write_unlock();
	pthread_mutex_unlock(&revoke_mutex);
	free(spare);
	return done;
}
