/* SPDX-License-Identifier: MIT */
/*
 * What the HMM scenario tests share: two test devices (dmirror) with a
 * mirror each, the buffer the kernel's hmm-tests pass to the device, and
 * the skip rules.
 *
 * A test needs a userfaultfd: without one (not root, no access to
 * /dev/userfaultfd) it exits 77 and says why. Under Valgrind every test
 * exits 77 too: Valgrind runs one thread at a time and keeps its lock
 * while a thread is inside munmap() or madvise() or a page fault, and on
 * registered memory those wait for the fault handler thread, which then
 * never runs.
 */
#ifndef HETMEM_TESTS_HMM_FIXTURE_H
#define HETMEM_TESTS_HMM_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <hetmem/err.h>
#include <hetmem/hmm-dmirror.h>
#include <hetmem/log.h>
#include <hetmem/mm_types.h>

#define HMM_PAGE	4096UL
#define HMM_BUFFER_SIZE (1024 * HMM_PAGE)
#define HMM_NPAGES	(HMM_BUFFER_SIZE / HMM_PAGE)
#define NTIMES		10

/* As the kernel's hmm-tests: the region and the device's copy of it. */
struct hmm_buffer {
	void *ptr;
	void *mirror;
	unsigned long size;
	int fd;
	uint64_t cpages;
	uint64_t faults;
};

struct hmm_fixture {
	struct dmirror_device *dev[2];
	struct dmirror *mirror[2];
};

static inline bool hmm_under_valgrind(void)
{
	const char *p = getenv("LD_PRELOAD");

	return p && strstr(p, "vgpreload");
}

static inline void hmm_skip(const char *why)
{
	fprintf(stderr, "skipped: %s\n", why);
	exit(77);
}

static inline void hmm_skip_under_valgrind(void)
{
	if (hmm_under_valgrind())
		hmm_skip("under Valgrind a thread in munmap(), madvise() or a page fault on "
			 "registered memory keeps the lock the fault handler thread needs");
}

/* Exits 77 when userfaultfd is not available to this process, or under Valgrind. */
static inline void hmm_require_uffd(void)
{
	struct hetmem_mm *mm;

	hmm_skip_under_valgrind();
	hetmem_log_set_level(HETMEM_LOG_ERR);
	mm = hetmem_mm_get();
	if (IS_ERR(mm)) {
		if (PTR_ERR(mm) == -EPERM)
			hmm_skip("userfaultfd is not allowed here: run as root, or give access to "
				 "/dev/userfaultfd");
		if (PTR_ERR(mm) == -ENOSYS)
			hmm_skip("this kernel's userfaultfd lacks write-protect or events");
		fprintf(stderr, "hetmem_mm_get: %ld\n", PTR_ERR(mm));
		exit(1);
	}
	hetmem_mm_put(mm);
}

/* Two devices with a mirror each (small chunks: tests use a few MiB). */
static inline int hmm_fixture_setup(void **state)
{
	struct hmm_fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	for (int i = 0; i < 2; i++) {
		f->dev[i] = dmirror_device_create(16, 8);
		if (IS_ERR(f->dev[i]))
			return -1;
		f->mirror[i] = dmirror_open(f->dev[i]);
		if (IS_ERR(f->mirror[i]))
			return -1;
	}
	*state = f;
	return 0;
}

static inline int hmm_fixture_teardown(void **state)
{
	struct hmm_fixture *f = *state;

	for (int i = 0; i < 2; i++) {
		dmirror_close(f->mirror[i]);
		dmirror_device_destroy(f->dev[i]);
	}
	free(f);
	return 0;
}

typedef int (*dmirror_op)(struct dmirror *d, struct hmm_dmirror_cmd *cmd);

/* The kernel test's hmm_dmirror_cmd(): run @op on @buffer, keep the counts. */
static inline int hmm_dmirror_cmd(struct dmirror *d, dmirror_op op, struct hmm_buffer *buffer,
				  unsigned long npages)
{
	struct hmm_dmirror_cmd cmd = {
		.addr = (uintptr_t)buffer->ptr,
		.ptr = (uintptr_t)buffer->mirror,
		.npages = npages,
	};
	int ret = op(d, &cmd);

	if (ret)
		return ret;
	buffer->cpages = cmd.cpages;
	buffer->faults = cmd.faults;
	return 0;
}

static inline struct hmm_buffer *hmm_buffer_new(unsigned long size, unsigned long mirror_size,
						int prot, int flags, int fd)
{
	struct hmm_buffer *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->fd = fd;
	b->size = size;
	b->mirror = malloc(mirror_size);
	b->ptr = mmap(NULL, size, prot, flags, fd, 0);
	if (!b->mirror || b->ptr == MAP_FAILED) {
		free(b->mirror);
		free(b);
		return NULL;
	}
	return b;
}

static inline void hmm_buffer_free(struct hmm_buffer *b)
{
	if (!b)
		return;
	if (b->ptr)
		munmap(b->ptr, b->size);
	if (b->fd >= 0)
		close(b->fd);
	free(b->mirror);
	free(b);
}

/*
 * An anonymous private read-write mapping of @len bytes between two
 * PROT_NONE guard pages, so that the kernel cannot merge it with a
 * neighbour. For buffers a GPU faults on: a fault's window and the
 * migrations around it reach as far as the fault's mapping, and a merged
 * neighbour may be a sanitizer's memory, which the thread servicing the
 * fault then waits for (Documentation/reliability.md). munmap() of the
 * buffer alone leaves the guards as reservations. NULL when it fails.
 */
static inline void *hmm_map_guarded(size_t len)
{
	char *p = mmap(NULL, len + 2 * HMM_PAGE, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if (mprotect(p + HMM_PAGE, len, PROT_READ | PROT_WRITE)) {
		munmap(p, len + 2 * HMM_PAGE);
		return NULL;
	}
	return p + HMM_PAGE;
}

/*
 * Whether the kernel's record of the mapping holding @addr has VmFlags
 * @flag ("um", "uw": registered with a userfaultfd for missing pages,
 * write protection). Exits 1 when /proc/self/smaps cannot be read.
 */
static inline bool hmm_vma_has_flag(const void *addr, const char *flag)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	unsigned long a = (uintptr_t)addr, lo, hi;
	bool in = false, found = false;
	char line[512], want[8];

	if (!f) {
		fprintf(stderr, "/proc/self/smaps: %s\n", strerror(errno));
		exit(1);
	}
	snprintf(want, sizeof(want), " %s", flag);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = a >= lo && a < hi;
			continue;
		}
		if (in && !strncmp(line, "VmFlags:", 8)) {
			found = strstr(line, want) != NULL;
			break;
		}
	}
	fclose(f);
	return found;
}

/* A private anonymous read-write buffer of HMM_BUFFER_SIZE, with a mirror of the same size. */
static inline struct hmm_buffer *hmm_anon_buffer(void)
{
	return hmm_buffer_new(HMM_BUFFER_SIZE, HMM_BUFFER_SIZE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1);
}

/* A temporary file of @size, deleted on close. */
static inline int hmm_create_file(unsigned long size)
{
	int fd = open("/tmp", O_TMPFILE | O_EXCL | O_RDWR, 0600);

	if (fd >= 0 && ftruncate(fd, (off_t)size)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

#endif /* HETMEM_TESTS_HMM_FIXTURE_H */
