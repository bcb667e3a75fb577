// SPDX-License-Identifier: MIT
/*
 * Namespaces of the emulated NVMe controller: the storage behind the NVM
 * commands.
 *
 *   RAM   an anonymous mapping (MAP_NORESERVE: a 1 GiB namespace costs
 *         only what has been written). Volatile as a whole, so the write
 *         cache means nothing and Flush does nothing.
 *   file  a regular file, created sparse and sized to the namespace when
 *         missing, accessed with pread/pwrite at LBA offsets. Writes go to
 *         the volatile write cache (wcache.c) while the cache is enabled;
 *         Flush writes it back and fdatasync()s. With the cache disabled
 *         writes go through a second descriptor opened O_DSYNC, so a
 *         completed write is on stable storage (what "no volatile cache"
 *         promises). Deallocated and zeroed ranges become holes
 *         (FALLOC_FL_PUNCH_HOLE), which read back as zeroes. The file is
 *         locked (flock): one controller at a time.
 *
 * Identifiers (EUI64, NGUID, UUID) are derived from the controller's
 * serial number and the NSID, so they are stable across runs.
 */
#define pr_fmt(fmt) "nvme-emu: " fmt

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hetmem/log.h>
#include "emu.h"

#define NS_WC_PAGES 8192 /* at most 32 MiB of dirty data per namespace */
#define ZERO_CHUNK  (64 << 10)

static const uint8_t zeroes[ZERO_CHUNK];

static uint64_t fnv1a(const char *serial, uint32_t nsid, uint32_t salt)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	uint32_t words[2] = { nsid, salt };

	for (; *serial; serial++) {
		h ^= (uint8_t)*serial;
		h *= 0x100000001b3ULL;
	}
	for (size_t i = 0; i < sizeof(words); i++) {
		h ^= ((const uint8_t *)words)[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void make_ids(struct nvme_emu_ns *ns, const char *serial)
{
	uint64_t h[5];

	for (uint32_t i = 0; i < 5; i++)
		h[i] = fnv1a(serial, ns->nsid, i);
	memcpy(ns->eui64, &h[0], 8);
	memcpy(ns->nguid, &h[1], 8);
	memcpy(ns->nguid + 8, &h[2], 8);
	memcpy(ns->uuid, &h[3], 8);
	memcpy(ns->uuid + 8, &h[4], 8);
	ns->uuid[6] = (uint8_t)((ns->uuid[6] & 0x0f) | 0x40); /* version 4 */
	ns->uuid[8] = (uint8_t)((ns->uuid[8] & 0x3f) | 0x80); /* RFC 4122 variant */
}

static int open_file(struct nvme_emu_ns *ns)
{
	struct stat st;

	ns->fd = open(ns->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (ns->fd < 0)
		return -errno;
	if (fstat(ns->fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	/*
	 * Two controllers on one file would each cache writes the other
	 * never sees: the second is refused. The lock dies with the process.
	 */
	if (flock(ns->fd, LOCK_EX | LOCK_NB))
		return errno == EWOULDBLOCK ? -EBUSY : -errno;
	if ((uint64_t)st.st_size < ns->size && ftruncate(ns->fd, (off_t)ns->size))
		return -errno;
	ns->dsync_fd = open(ns->path, O_RDWR | O_DSYNC | O_CLOEXEC);
	if (ns->dsync_fd < 0)
		return -errno;
	ns->wc = nvme_emu_wc_alloc(NS_WC_PAGES);
	return ns->wc ? 0 : -ENOMEM;
}

/**
 * nvme_emu_ns_init - set up a namespace's backing
 * @ns: the namespace (zeroed)
 * @nsid: its identifier
 * @p: size, LBA size and backing file (NULL for RAM)
 * @serial: the controller's serial number, for the identifiers
 *
 * Return: 0, -ENOMEM, -EINVAL for a backing path that is not a regular
 * file, -EBUSY when another controller has it open, or the errno of
 * opening or sizing it.
 */
int nvme_emu_ns_init(struct nvme_emu_ns *ns, uint32_t nsid, const struct nvme_emu_ns_params *p,
		     const char *serial)
{
	int ret;

	ns->nsid = nsid;
	ns->size = p->size;
	ns->lba_shift = p->lba_shift;
	ns->nlb = p->size >> p->lba_shift;
	ns->fd = -1;
	ns->dsync_fd = -1;
	make_ids(ns, serial);
	if (!p->path) {
		void *m = mmap(NULL, ns->size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

		if (m == MAP_FAILED)
			return -ENOMEM;
		ns->ram = m;
		return 0;
	}
	ns->path = strdup(p->path);
	if (!ns->path)
		return -ENOMEM;
	ret = open_file(ns);
	if (ret)
		pr_err("namespace %u: %s: %s", nsid, p->path, strerror(-ret));
	return ret;
}

/* Frees the namespace without writing the cache back: power loss. */
void nvme_emu_ns_exit(struct nvme_emu_ns *ns)
{
	if (ns->ram)
		munmap(ns->ram, ns->size);
	if (ns->fd >= 0)
		close(ns->fd);
	if (ns->dsync_fd >= 0)
		close(ns->dsync_fd);
	nvme_emu_wc_free(ns->wc);
	free(ns->path);
	memset(ns, 0, sizeof(*ns));
	ns->fd = ns->dsync_fd = -1;
}

static int pread_full(int fd, void *buf, uint64_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) {
			memset(p, 0, len);
			return 0;
		}
		p += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

static int pwrite_full(int fd, const void *buf, uint64_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

static int datasync(int fd)
{
	return fdatasync(fd) ? -errno : 0;
}

/**
 * nvme_emu_ns_read - read a byte range, the write cache included
 * @ns: the namespace
 * @off: byte offset
 * @buf: where to
 * @len: bytes, within the namespace
 *
 * Return: 0 or the negative errno of the read.
 */
int nvme_emu_ns_read(struct nvme_emu_ns *ns, uint64_t off, void *buf, uint64_t len)
{
	int ret;

	if (ns->ram) {
		memcpy(buf, ns->ram + off, len);
		return 0;
	}
	ret = pread_full(ns->fd, buf, len, off);
	if (!ret)
		nvme_emu_wc_overlay(ns->wc, off, buf, len);
	return ret;
}

/**
 * nvme_emu_ns_write - write a byte range
 * @ns: the namespace
 * @off: byte offset
 * @buf: the data
 * @len: bytes, within the namespace
 * @cache: the volatile write cache is enabled
 * @fua: force unit access: on stable storage before completion
 *
 * Return: 0 or the negative errno of the write.
 */
int nvme_emu_ns_write(struct nvme_emu_ns *ns, uint64_t off, const void *buf, uint64_t len,
		      bool cache, bool fua)
{
	int ret;

	if (ns->ram) {
		memcpy(ns->ram + off, buf, len);
		return 0;
	}
	if (cache) {
		ret = nvme_emu_wc_write(ns->wc, ns->fd, ns->size, off, buf, len);
		return ret || !fua ? ret : nvme_emu_ns_flush_range(ns, off, len);
	}
	/* Normally empty here: the cache was flushed when it was disabled. */
	ret = nvme_emu_wc_writeback(ns->wc, ns->fd, ns->size, 0, UINT64_MAX);
	return ret ? ret : pwrite_full(ns->dsync_fd, buf, len, off);
}

static int zero_file(struct nvme_emu_ns *ns, uint64_t off, uint64_t len)
{
	int ret = 0;

	if (!ns->no_punch) {
		if (!fallocate(ns->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
			       (off_t)len))
			return 0;
		if (errno != EOPNOTSUPP)
			return -errno;
		ns->no_punch = true;
		pr_info("namespace %u: %s cannot punch holes: zeroing with writes", ns->nsid,
			ns->path);
	}
	while (len && !ret) {
		uint64_t n = nvme_emu_min(len, ZERO_CHUNK);

		ret = pwrite_full(ns->fd, zeroes, n, off);
		off += n;
		len -= n;
	}
	return ret;
}

static void zero_ram(struct nvme_emu_ns *ns, uint64_t off, uint64_t len)
{
	uint64_t ps = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t first = (off + ps - 1) & ~(ps - 1), last = (off + len) & ~(ps - 1);

	/* Whole pages go back to the kernel and read as zeroes again. */
	if (first < last && !madvise(ns->ram + first, last - first, MADV_DONTNEED)) {
		memset(ns->ram + off, 0, first - off);
		memset(ns->ram + last, 0, off + len - last);
		return;
	}
	memset(ns->ram + off, 0, len);
}

/**
 * nvme_emu_ns_zero - zero (deallocate) a byte range
 * @ns: the namespace
 * @off: byte offset
 * @len: bytes, within the namespace
 * @cache: the volatile write cache is enabled (else the zeroes are made
 *	   stable before returning)
 *
 * Return: 0 or the negative errno of the file operation.
 */
int nvme_emu_ns_zero(struct nvme_emu_ns *ns, uint64_t off, uint64_t len, bool cache)
{
	int ret;

	if (!len)
		return 0;
	if (ns->ram) {
		zero_ram(ns, off, len);
		return 0;
	}
	nvme_emu_wc_zero(ns->wc, off, len);
	ret = zero_file(ns, off, len);
	return ret || cache ? ret : datasync(ns->fd);
}

/**
 * nvme_emu_ns_flush - write the cache back and make the file stable
 * @ns: the namespace
 *
 * Return: 0 or the negative errno of the write or fdatasync.
 */
int nvme_emu_ns_flush(struct nvme_emu_ns *ns)
{
	int ret;

	if (ns->ram)
		return 0;
	ret = nvme_emu_wc_writeback(ns->wc, ns->fd, ns->size, 0, UINT64_MAX);
	return ret ? ret : datasync(ns->fd);
}

/**
 * nvme_emu_ns_flush_range - make a byte range stable (FUA)
 * @ns: the namespace
 * @off: byte offset
 * @len: bytes
 *
 * Return: 0 or the negative errno of the write or fdatasync.
 */
int nvme_emu_ns_flush_range(struct nvme_emu_ns *ns, uint64_t off, uint64_t len)
{
	int ret;

	if (ns->ram)
		return 0;
	ret = nvme_emu_wc_writeback(ns->wc, ns->fd, ns->size, off, len);
	return ret ? ret : datasync(ns->fd);
}

/**
 * nvme_emu_ns_format - erase a namespace and give it a new LBA size
 * @ns: the namespace
 * @lba_shift: 9 or 12; the size must be a multiple of it
 *
 * Return: 0 or the negative errno of the file operations.
 */
int nvme_emu_ns_format(struct nvme_emu_ns *ns, unsigned int lba_shift)
{
	if (ns->ram) {
		zero_ram(ns, 0, ns->size);
	} else {
		nvme_emu_wc_drop(ns->wc);
		if (ftruncate(ns->fd, 0) || ftruncate(ns->fd, (off_t)ns->size))
			return -errno;
		if (fdatasync(ns->fd))
			return -errno;
	}
	ns->lba_shift = lba_shift;
	ns->nlb = ns->size >> lba_shift;
	return 0;
}
