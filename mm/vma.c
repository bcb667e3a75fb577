// SPDX-License-Identifier: MIT
/*
 * Mapping lookups. The kernel keeps the mappings; hetmem asks for the one
 * at an address each time it needs it, since the application may mmap,
 * munmap or mprotect at any moment without telling anyone:
 *
 *  - the PROCMAP_QUERY ioctl on /proc/self/maps (Linux 6.11): one mapping
 *    per call, about a microsecond;
 *  - otherwise the text of /proc/self/maps, read whole and searched.
 *
 * A mapping with an inode (or a device) has a file behind it; shared
 * anonymous memory is shmem and has one too.
 */
#define pr_fmt(fmt) "vma: " fmt

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <hetmem/log.h>
#include "hmm_internal.h"

/* include/uapi/linux/fs.h of Linux 6.11; Debian 12's headers predate it. */
#ifndef PROCMAP_QUERY
struct procmap_query {
	uint64_t size;
	uint64_t query_flags;
	uint64_t query_addr;
	uint64_t vma_start;
	uint64_t vma_end;
	uint64_t vma_flags;
	uint64_t vma_page_size;
	uint64_t vma_offset;
	uint64_t inode;
	uint32_t dev_major;
	uint32_t dev_minor;
	uint32_t vma_name_size;
	uint32_t build_id_size;
	uint64_t vma_name_addr;
	uint64_t build_id_addr;
};
_Static_assert(sizeof(struct procmap_query) == 104, "procmap_query layout");
#define PROCMAP_QUERY			   _IOWR('f', 17, struct procmap_query)
#define PROCMAP_QUERY_VMA_READABLE	   0x01
#define PROCMAP_QUERY_VMA_WRITABLE	   0x02
#define PROCMAP_QUERY_VMA_EXECUTABLE	   0x04
#define PROCMAP_QUERY_VMA_SHARED	   0x08
#define PROCMAP_QUERY_COVERING_OR_NEXT_VMA 0x10
#endif

static int maps_fd = -1;
static bool no_query; /* the kernel answered ENOTTY once */
static pthread_mutex_t maps_lock = PTHREAD_MUTEX_INITIALIZER;

static int maps_open(void)
{
	int fd = __atomic_load_n(&maps_fd, __ATOMIC_ACQUIRE);

	if (fd >= 0)
		return fd;
	pthread_mutex_lock(&maps_lock);
	fd = maps_fd;
	if (fd < 0) {
		fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			__atomic_store_n(&maps_fd, fd, __ATOMIC_RELEASE);
		else
			pr_err("cannot open /proc/self/maps: errno %d", errno);
	}
	pthread_mutex_unlock(&maps_lock);
	return fd < 0 ? -EIO : fd;
}

static int vma_query(int fd, unsigned long addr, struct vm_area_struct *vma)
{
	struct procmap_query q = {
		.size = sizeof(q),
		.query_flags = PROCMAP_QUERY_COVERING_OR_NEXT_VMA,
		.query_addr = addr,
	};

	if (ioctl(fd, PROCMAP_QUERY, &q))
		return -errno;
	vma->vm_start = q.vma_start;
	vma->vm_end = q.vma_end;
	/* The query's permission bits are the kernel's VM_* values. */
	vma->vm_flags = q.vma_flags & (VM_READ | VM_WRITE | VM_EXEC | VM_SHARED);
	vma->anonymous = !q.inode && !q.dev_major && !q.dev_minor;
	return 0;
}

/* Parses "start-end perms offset major:minor inode [path]". */
static int vma_parse(const char *line, struct vm_area_struct *vma)
{
	unsigned long start, end, inode;
	unsigned int major, minor;
	char perms[5];

	if (sscanf(line, "%lx-%lx %4s %*x %x:%x %lu", &start, &end, perms, &major, &minor,
		   &inode) != 6)
		return -EIO;
	vma->vm_start = start;
	vma->vm_end = end;
	vma->vm_flags = (perms[0] == 'r' ? VM_READ : 0) | (perms[1] == 'w' ? VM_WRITE : 0) |
			(perms[2] == 'x' ? VM_EXEC : 0) | (perms[3] == 's' ? VM_SHARED : 0);
	vma->anonymous = !inode && !major && !minor;
	return 0;
}

static int vma_scan(unsigned long addr, struct vm_area_struct *vma)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	int ret = -ENOENT;

	if (!f)
		return -EIO;
	while (fgets(line, sizeof(line), f)) {
		struct vm_area_struct v;

		if (vma_parse(line, &v))
			continue;
		if (v.vm_end > addr) {
			*vma = v;
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

int vma_find(unsigned long addr, struct vm_area_struct *vma)
{
	int fd, ret;

	if (!__atomic_load_n(&no_query, __ATOMIC_RELAXED)) {
		fd = maps_open();
		if (fd < 0)
			return fd;
		ret = vma_query(fd, addr, vma);
		if (ret != -ENOTTY && ret != -EINVAL)
			return ret == -ENOENT || !ret ? ret : -EIO;
		__atomic_store_n(&no_query, true, __ATOMIC_RELAXED);
		pr_info("no PROCMAP_QUERY: reading /proc/self/maps instead");
	}
	return vma_scan(addr, vma);
}

int hetmem_vma_lookup(struct hetmem_mm *mm, unsigned long addr, struct vm_area_struct *vma)
{
	int ret = vma_find(addr, vma);

	if (!ret && vma->vm_start > addr)
		ret = -ENOENT;
	return ret;
}

void vma_forget(void)
{
	if (maps_fd >= 0)
		close(maps_fd);
	maps_fd = -1;
}
