/* SPDX-License-Identifier: MIT */
/*
 * What the /dev/hmm_dmirrorN tests share: the ioctl as a program makes it
 * (errno-style result kept as the negative errno), a buffer and its
 * mirror, and pages that cannot be read or written.
 */
#ifndef HETMEM_TESTS_HMM_DEV_FIXTURE_H
#define HETMEM_TESTS_HMM_DEV_FIXTURE_H

#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>

#include "../../tools/interpose/hmm-dev.h"
#include "hmm/hmm-fixture.h"

/* Every command the 6.1 driver has. */
static const unsigned long hmm_dev_all_cmds[] = {
	HMM_DMIRROR_READ,
	HMM_DMIRROR_WRITE,
	HMM_DMIRROR_MIGRATE_TO_DEV,
	HMM_DMIRROR_MIGRATE_TO_SYS,
	HMM_DMIRROR_SNAPSHOT,
	HMM_DMIRROR_EXCLUSIVE,
	HMM_DMIRROR_CHECK_EXCLUSIVE,
	HMM_DMIRROR_RELEASE,
};
#define HMM_DEV_NR_CMDS (sizeof(hmm_dev_all_cmds) / sizeof(hmm_dev_all_cmds[0]))

/* The kernel test's hmm_dmirror_cmd(), on an open file. */
static inline int hmm_dev_cmd(void *file, unsigned long request, struct hmm_buffer *buffer,
			      unsigned long npages)
{
	struct hmm_dmirror_cmd cmd = {
		.addr = (uintptr_t)buffer->ptr,
		.ptr = (uintptr_t)buffer->mirror,
		.npages = npages,
	};
	int ret = hi_hmm_ioctl(file, request, &cmd);

	if (ret)
		return ret;
	buffer->cpages = cmd.cpages;
	buffer->faults = cmd.faults;
	return 0;
}

static inline void *hmm_dev_open(unsigned int minor)
{
	void *file = NULL;
	int ret = hi_hmm_open(minor, O_RDWR, &file);

	if (ret) {
		fprintf(stderr, "hi_hmm_open(%u): %d\n", minor, ret);
		return NULL;
	}
	return file;
}

/* @n pages mapped with @prot (PROT_NONE: nothing can be read or written). */
static inline void *hmm_dev_pages(unsigned long n, int prot)
{
	void *p = mmap(NULL, n * HMM_PAGE, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Fills @n ints at @p with base + i. */
static inline void hmm_dev_fill(void *p, unsigned long n, int base)
{
	int *ptr = p;

	for (unsigned long i = 0; i < n; i++)
		ptr[i] = base + (int)i;
}

/* Whether @n ints at @p hold base + i. */
static inline bool hmm_dev_holds(const void *p, unsigned long n, int base)
{
	const int *ptr = p;

	for (unsigned long i = 0; i < n; i++)
		if (ptr[i] != base + (int)i)
			return false;
	return true;
}

#endif /* HETMEM_TESTS_HMM_DEV_FIXTURE_H */
