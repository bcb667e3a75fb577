// SPDX-License-Identifier: MIT
/*
 * The shared state of a run (run.h): the file, its lock, and the p2pmem
 * pools' bookkeeping.
 *
 * A pool is the provider's whole BAR; allocations are page multiples kept
 * in an array sorted by offset, found first fit. The kernel frees a
 * p2pmem/allocate chunk when its last mapping goes away, which includes a
 * process dying: here each allocation lists the processes that map it,
 * and when the pool runs short, allocations whose processes are all gone
 * are reclaimed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hetmem/err.h>
#include "run.h"

#define PAGE 4096ULL

int hi_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int hi_run_path(char *buf, size_t len, const char *dir, const char *rel)
{
	return hi_fmt(buf, len, "%s/%s", dir, rel);
}

int hi_bar_file(char *buf, size_t len, const struct hi_prov_desc *p)
{
	int n = snprintf(buf, len, "%s/%s-bar%d", HI_BAR_DIR, p->label, p->bar);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int hi_state_init(struct hi_state *st)
{
	pthread_mutexattr_t a;
	int ret;

	memset(st, 0, sizeof(*st));
	st->magic = HI_STATE_MAGIC;
	st->version = HI_STATE_VERSION;
	st->size = sizeof(*st);
	ret = pthread_mutexattr_init(&a);
	if (ret)
		return -ret;
	ret = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (!ret)
		ret = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (!ret)
		ret = pthread_mutex_init(&st->lock, &a);
	pthread_mutexattr_destroy(&a);
	return -ret;
}

static struct hi_state *map_fd(int fd)
{
	void *p = mmap(NULL, sizeof(struct hi_state), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	return p == MAP_FAILED ? ERR_PTR(-errno) : p;
}

struct hi_state *hi_state_map(const char *dir)
{
	struct hi_state *st;
	char path[4096];
	struct stat sb;
	int fd, ret;

	ret = hi_run_path(path, sizeof(path), dir, HI_STATE_FILE);
	if (ret)
		return ERR_PTR(ret);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return ERR_PTR(-errno);
	if (fstat(fd, &sb) || (uint64_t)sb.st_size != sizeof(struct hi_state)) {
		close(fd);
		return ERR_PTR(-EINVAL);
	}
	st = map_fd(fd);
	close(fd);
	if (IS_ERR(st))
		return st;
	if (st->magic != HI_STATE_MAGIC || st->version != HI_STATE_VERSION ||
	    st->size != sizeof(*st)) {
		munmap(st, sizeof(*st));
		return ERR_PTR(-EINVAL);
	}
	return st;
}

struct hi_state *hi_state_create(const char *dir)
{
	struct hi_state *st;
	char path[4096];
	int fd, ret;

	ret = hi_run_path(path, sizeof(path), dir, HI_STATE_FILE);
	if (ret)
		return ERR_PTR(ret);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return ERR_PTR(-errno);
	if (ftruncate(fd, sizeof(struct hi_state))) {
		ret = -errno;
		close(fd);
		return ERR_PTR(ret);
	}
	st = map_fd(fd);
	close(fd);
	if (IS_ERR(st))
		return st;
	ret = hi_state_init(st);
	if (ret) {
		munmap(st, sizeof(*st));
		return ERR_PTR(ret);
	}
	return st;
}

void hi_state_unmap(struct hi_state *st)
{
	if (st)
		munmap(st, sizeof(*st));
}

void hi_state_lock(struct hi_state *st)
{
	if (pthread_mutex_lock(&st->lock) == EOWNERDEAD)
		pthread_mutex_consistent(&st->lock);
}

void hi_state_unlock(struct hi_state *st)
{
	pthread_mutex_unlock(&st->lock);
}

/* --- pools ------------------------------------------------------------------------ */

static bool chunk_has_pid(const struct hi_chunk *c)
{
	for (int i = 0; i < HI_CHUNK_PIDS; i++)
		if (c->pid[i])
			return true;
	return false;
}

static bool pid_alive(pid_t pid)
{
	return !kill(pid, 0) || errno != ESRCH;
}

static void chunk_remove(struct hi_prov_desc *p, uint32_t i)
{
	p->used -= p->chunk[i].len;
	memmove(&p->chunk[i], &p->chunk[i + 1], (p->nr_chunks - i - 1) * sizeof(p->chunk[0]));
	p->nr_chunks--;
	memset(&p->chunk[p->nr_chunks], 0, sizeof(p->chunk[0]));
}

static int find_chunk(const struct hi_prov_desc *p, uint64_t off)
{
	for (uint32_t i = 0; i < p->nr_chunks; i++)
		if (p->chunk[i].off == off)
			return (int)i;
	return -ENOENT;
}

static int first_fit(struct hi_prov_desc *p, uint64_t len, uint64_t *off, uint32_t *at)
{
	uint64_t start = 0;

	if (p->nr_chunks == HI_MAX_CHUNKS)
		return -ENOMEM;
	for (uint32_t i = 0; i <= p->nr_chunks; i++) {
		uint64_t end = i < p->nr_chunks ? p->chunk[i].off : p->size;

		if (end >= start && end - start >= len) {
			*off = start;
			*at = i;
			return 0;
		}
		if (i < p->nr_chunks)
			start = p->chunk[i].off + p->chunk[i].len;
	}
	return -ENOMEM;
}

int hi_pool_alloc(struct hi_prov_desc *p, uint64_t len, pid_t pid, uint64_t *off)
{
	struct hi_chunk *c;
	uint32_t at;
	int ret;

	if (!len || (len & (PAGE - 1)))
		return -EINVAL;
	ret = first_fit(p, len, off, &at);
	if (ret && hi_pool_reclaim(p))
		ret = first_fit(p, len, off, &at);
	if (ret)
		return ret;
	memmove(&p->chunk[at + 1], &p->chunk[at], (p->nr_chunks - at) * sizeof(p->chunk[0]));
	p->nr_chunks++;
	c = &p->chunk[at];
	memset(c, 0, sizeof(*c));
	c->off = *off;
	c->len = len;
	c->pid[0] = pid;
	p->used += len;
	return 0;
}

int hi_pool_put(struct hi_prov_desc *p, uint64_t off, pid_t pid)
{
	int i = find_chunk(p, off);
	struct hi_chunk *c;

	if (i < 0)
		return i;
	c = &p->chunk[i];
	for (int k = 0; k < HI_CHUNK_PIDS; k++) {
		if (c->pid[k] != pid)
			continue;
		c->pid[k] = 0;
		if (chunk_has_pid(c))
			return 0;
		chunk_remove(p, (uint32_t)i);
		return 1;
	}
	return -ENOENT;
}

int hi_pool_share(struct hi_prov_desc *p, uint64_t off, pid_t pid)
{
	int i = find_chunk(p, off);

	if (i < 0)
		return i;
	for (int k = 0; k < HI_CHUNK_PIDS; k++) {
		if (!p->chunk[i].pid[k]) {
			p->chunk[i].pid[k] = pid;
			return 0;
		}
	}
	return -ENOSPC;
}

/* Drop the pids @keep says to; free chunks left without any. */
static uint64_t sweep(struct hi_prov_desc *p, bool (*keep)(pid_t pid, pid_t arg), pid_t arg)
{
	uint64_t freed = 0;

	for (uint32_t i = 0; i < p->nr_chunks;) {
		struct hi_chunk *c = &p->chunk[i];

		for (int k = 0; k < HI_CHUNK_PIDS; k++)
			if (c->pid[k] && !keep(c->pid[k], arg))
				c->pid[k] = 0;
		if (chunk_has_pid(c)) {
			i++;
			continue;
		}
		freed += c->len;
		chunk_remove(p, i);
	}
	return freed;
}

static bool keep_alive(pid_t pid, pid_t arg)
{
	return pid_alive(pid);
}

static bool keep_other(pid_t pid, pid_t arg)
{
	return pid != arg;
}

uint64_t hi_pool_reclaim(struct hi_prov_desc *p)
{
	return sweep(p, keep_alive, 0);
}

uint64_t hi_pool_drop_pid(struct hi_prov_desc *p, pid_t pid)
{
	return sweep(p, keep_other, pid);
}

int hi_write_available(const char *sysroot, const struct hi_prov_desc *p)
{
	char path[4096], tmp[4200], buf[32];
	int fd, n, ret = 0;

	n = snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/p2pmem/available", sysroot,
		     p->bdf);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
	n = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", p->size - p->used);
	/* A new file renamed over the old one: a reader sees one value or the other. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0444);
	if (fd < 0)
		return -errno;
	if (write(fd, buf, (size_t)n) != n)
		ret = -EIO;
	close(fd);
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}
