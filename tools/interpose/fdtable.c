// SPDX-License-Identifier: MIT
/*
 * File descriptors of emulated devices.
 *
 * An emulated device's descriptor is a real one (the kernel hands out the
 * number, so close() and dup() keep their meaning) whose entry here says
 * what it stands for. The table is two levels of 1024 entries, allocated
 * on demand and never freed, so that the question every read(), write()
 * and close() asks first -- is this descriptor the machine's? -- is one or
 * two atomic loads and no lock for the program's own descriptors.
 * Changes and reference counts are under one lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "interpose.h"

#define L2_BITS 10
#define L2_SIZE (1u << L2_BITS)
#define L1_SIZE 1024 /* descriptors below 2^20 */

static struct hi_file **table[L1_SIZE];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
bool hi_nvme_opened;

struct hi_file *hi_file_alloc(enum hi_kind kind, int flags)
{
	struct hi_file *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->refs = 1;
	f->kind = kind;
	if (kind == HI_NVME_CTRL || kind == HI_NVME_NS)
		__atomic_store_n(&hi_nvme_opened, true, __ATOMIC_RELAXED);
	f->flags = flags;
	f->bar = -1;
	pthread_mutex_init(&f->pos_lock, NULL);
	return f;
}

static void release(struct hi_file *f)
{
	if (f->kind == HI_HMM)
		hi_hmm_close(f->hmm);
	pthread_mutex_destroy(&f->pos_lock);
	free(f);
}

void hi_file_put(struct hi_file *f)
{
	bool last;

	if (!f)
		return;
	pthread_mutex_lock(&lock);
	last = !--f->refs;
	pthread_mutex_unlock(&lock);
	if (last)
		release(f);
}

static struct hi_file **slot(int fd, bool create)
{
	unsigned int hi = (unsigned int)fd >> L2_BITS;
	struct hi_file **l2;

	if (fd < 0 || hi >= L1_SIZE)
		return NULL;
	l2 = __atomic_load_n(&table[hi], __ATOMIC_ACQUIRE);
	if (!l2 && create) {
		/* mmap, not calloc: this may run inside another library's malloc-free path. */
		l2 = mmap(NULL, L2_SIZE * sizeof(*l2), PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (l2 == MAP_FAILED)
			return NULL;
		__atomic_store_n(&table[hi], l2, __ATOMIC_RELEASE);
	}
	return l2 ? &l2[fd & (L2_SIZE - 1)] : NULL;
}

struct hi_file *hi_fd_get(int fd)
{
	struct hi_file **s = slot(fd, false), *f;

	if (!s || !__atomic_load_n(s, __ATOMIC_ACQUIRE))
		return NULL;
	pthread_mutex_lock(&lock);
	f = *s;
	if (f)
		f->refs++;
	pthread_mutex_unlock(&lock);
	return f;
}

/* Under the lock: drop @fd's entry; returns the file when it was the last reference. */
static struct hi_file *forget_locked(int fd)
{
	struct hi_file **s = slot(fd, false), *f;

	if (!s || !*s)
		return NULL;
	f = *s;
	__atomic_store_n(s, NULL, __ATOMIC_RELEASE);
	return --f->refs ? NULL : f;
}

int hi_fd_install(int fd, struct hi_file *f)
{
	struct hi_file **s, *old;

	pthread_mutex_lock(&lock);
	s = slot(fd, true);
	if (!s) {
		pthread_mutex_unlock(&lock);
		return -ENOMEM;
	}
	old = forget_locked(fd);
	f->refs++;
	__atomic_store_n(s, f, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&lock);
	if (old)
		release(old);
	return 0;
}

void hi_fd_forget(int fd)
{
	struct hi_file *f;

	if (!slot(fd, false))
		return;
	pthread_mutex_lock(&lock);
	f = forget_locked(fd);
	pthread_mutex_unlock(&lock);
	if (f)
		release(f);
}

void hi_fd_copy(int oldfd, int newfd)
{
	struct hi_file **from = slot(oldfd, false), **to, *old = NULL;

	pthread_mutex_lock(&lock);
	if (oldfd != newfd) {
		old = forget_locked(newfd);
		if (from && *from && (to = slot(newfd, true))) {
			(*from)->refs++;
			__atomic_store_n(to, *from, __ATOMIC_RELEASE);
		}
	}
	pthread_mutex_unlock(&lock);
	if (old)
		release(old);
}

void hi_fd_forget_range(unsigned int first, unsigned int last)
{
	for (unsigned int fd = first; fd <= last && fd < L1_SIZE * L2_SIZE; fd++) {
		if (!__atomic_load_n(&table[fd >> L2_BITS], __ATOMIC_ACQUIRE)) {
			fd |= L2_SIZE - 1; /* nothing in this block */
			continue;
		}
		hi_fd_forget((int)fd);
	}
}

void hi_fd_atfork_child(void)
{
	pthread_mutex_init(&lock, NULL);
}
