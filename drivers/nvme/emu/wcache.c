// SPDX-License-Identifier: MIT
/*
 * The volatile write cache of a file-backed namespace (Identify VWC,
 * Volatile Write Cache feature, sec. 5.21.1.6).
 *
 * It holds dirty 4 KiB blocks of the namespace in process memory, keyed by
 * block index in a chained hash, in the order they were first dirtied.
 * Only dirty blocks are cached (the kernel's page cache already keeps
 * clean ones), so the cache is exactly "what the file does not have yet":
 *
 *   write     into the cache block (a block written only in part is first
 *             read from the file, so a block is always whole);
 *   read      from the file, then cached blocks laid over it;
 *   flush     dirty blocks written back in block order (runs of adjacent
 *             blocks in one pwritev), then dropped;
 *   pressure  when full, the oldest quarter is written back;
 *   zeroing   blocks wholly inside the range are dropped, partial ones
 *             zeroed in the cache (the file range is zeroed by the caller).
 *
 * Written back means handed to the kernel with pwrite: from then on it
 * survives the process being killed; fdatasync (the caller's, on Flush)
 * makes it survive the machine. What is still only here when the process
 * dies is lost, which is what a volatile write cache is.
 *
 * Only the controller thread uses a cache: no locking.
 */
#define pr_fmt(fmt) "nvme-emu: " fmt

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <hetmem/log.h>
#include "emu.h"

#define WC_SHIFT   12
#define WC_BLOCK   (1u << WC_SHIFT)
#define WC_IOV_MAX 1024

struct wc_block {
	uint64_t idx;
	struct wc_block *hnext;
	struct list_head order;
	uint8_t data[WC_BLOCK];
};

struct nvme_emu_wcache {
	struct wc_block **bucket;
	unsigned int mask;
	unsigned int nr;
	unsigned int max;
	struct list_head order; /* oldest first */
};

static unsigned int hash(const struct nvme_emu_wcache *wc, uint64_t idx)
{
	return (unsigned int)((idx * 0x9e3779b97f4a7c15ULL) >> 32) & wc->mask;
}

struct nvme_emu_wcache *nvme_emu_wc_alloc(unsigned int max_pages)
{
	struct nvme_emu_wcache *wc = calloc(1, sizeof(*wc));
	unsigned int n = 64;

	if (!wc)
		return NULL;
	while (n < max_pages)
		n <<= 1;
	wc->bucket = calloc(n, sizeof(*wc->bucket));
	if (!wc->bucket) {
		free(wc);
		return NULL;
	}
	wc->mask = n - 1;
	wc->max = max_pages;
	INIT_LIST_HEAD(&wc->order);
	return wc;
}

unsigned int nvme_emu_wc_pages(const struct nvme_emu_wcache *wc)
{
	return wc->nr;
}

static struct wc_block *find(const struct nvme_emu_wcache *wc, uint64_t idx)
{
	struct wc_block *b;

	for (b = wc->bucket[hash(wc, idx)]; b; b = b->hnext)
		if (b->idx == idx)
			return b;
	return NULL;
}

static void unlink_block(struct nvme_emu_wcache *wc, struct wc_block *b)
{
	struct wc_block **pp = &wc->bucket[hash(wc, b->idx)];

	while (*pp != b)
		pp = &(*pp)->hnext;
	*pp = b->hnext;
	list_del(&b->order);
	wc->nr--;
	free(b);
}

void nvme_emu_wc_drop(struct nvme_emu_wcache *wc)
{
	while (!list_empty(&wc->order))
		unlink_block(wc, list_first_entry(&wc->order, struct wc_block, order));
}

void nvme_emu_wc_free(struct nvme_emu_wcache *wc)
{
	if (!wc)
		return;
	nvme_emu_wc_drop(wc);
	free(wc->bucket);
	free(wc);
}

/* --- write-back ------------------------------------------------------------------ */

static int cmp_idx(const void *a, const void *b)
{
	uint64_t x = (*(struct wc_block *const *)a)->idx, y = (*(struct wc_block *const *)b)->idx;

	return x < y ? -1 : x > y;
}

static int pwritev_full(int fd, struct iovec *iov, int cnt, uint64_t off)
{
	while (cnt) {
		ssize_t n = pwritev(fd, iov, cnt, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		off += (uint64_t)n;
		while (cnt && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt) {
			iov->iov_base = (uint8_t *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

/*
 * Write @n blocks to the file, sorted, in runs of adjacent blocks, and
 * drop them. The namespace may end inside its last block: that block is
 * written only up to @size. On error the blocks stay cached.
 */
static int write_blocks(struct nvme_emu_wcache *wc, int fd, uint64_t size, struct wc_block **blk,
			unsigned int n)
{
	struct iovec iov[WC_IOV_MAX];
	unsigned int i = 0;
	int ret;

	qsort(blk, n, sizeof(*blk), cmp_idx);
	while (i < n) {
		uint64_t start = blk[i]->idx << WC_SHIFT;
		int cnt = 0;

		do {
			uint64_t off = blk[i]->idx << WC_SHIFT;

			iov[cnt].iov_base = blk[i]->data;
			iov[cnt].iov_len = (size_t)nvme_emu_min(WC_BLOCK, size - off);
			cnt++;
			i++;
		} while (i < n && cnt < WC_IOV_MAX && blk[i]->idx == blk[i - 1]->idx + 1);
		ret = pwritev_full(fd, iov, cnt, start);
		if (ret)
			return ret;
	}
	for (i = 0; i < n; i++)
		unlink_block(wc, blk[i]);
	return 0;
}

static int writeback_oldest(struct nvme_emu_wcache *wc, int fd, uint64_t size, unsigned int n)
{
	struct wc_block **blk = malloc(n * sizeof(*blk)), *b;
	unsigned int i = 0;
	int ret;

	if (!blk)
		return -ENOMEM;
	list_for_each_entry(b, &wc->order, order) {
		if (i == n)
			break;
		blk[i++] = b;
	}
	ret = write_blocks(wc, fd, size, blk, i);
	free(blk);
	return ret;
}

/**
 * nvme_emu_wc_writeback - write back and drop the cached blocks of a range
 * @wc: the cache
 * @fd: the backing file
 * @size: the namespace's size in bytes
 * @off: start of the range in bytes
 * @len: its length; UINT64_MAX for everything
 *
 * Return: 0, or the negative errno of a failed write (blocks not written
 * stay cached).
 */
int nvme_emu_wc_writeback(struct nvme_emu_wcache *wc, int fd, uint64_t size, uint64_t off,
			  uint64_t len)
{
	uint64_t first = off >> WC_SHIFT;
	uint64_t last = len == UINT64_MAX ? UINT64_MAX : (off + len - 1) >> WC_SHIFT;
	struct wc_block **blk, *b;
	unsigned int n = 0;
	int ret;

	if (!wc->nr || !len)
		return 0;
	blk = malloc(wc->nr * sizeof(*blk));
	if (!blk)
		return -ENOMEM;
	if (last - first >= wc->nr) {
		list_for_each_entry(b, &wc->order, order)
			if (b->idx >= first && b->idx <= last)
				blk[n++] = b;
	} else {
		for (uint64_t idx = first; idx <= last; idx++) {
			b = find(wc, idx);
			if (b)
				blk[n++] = b;
		}
	}
	ret = n ? write_blocks(wc, fd, size, blk, n) : 0;
	free(blk);
	return ret;
}

/* --- data ----------------------------------------------------------------------------- */

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
			memset(p, 0, len); /* past the end of the file: zeroes */
			return 0;
		}
		p += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

static struct wc_block *get_block(struct nvme_emu_wcache *wc, int fd, uint64_t size, uint64_t idx,
				  bool whole, int *err)
{
	struct wc_block *b = find(wc, idx);
	uint64_t off = idx << WC_SHIFT;
	unsigned int h;

	if (b)
		return b;
	if (wc->nr >= wc->max) {
		*err = writeback_oldest(wc, fd, size, wc->max / 4 ? wc->max / 4 : 1);
		if (*err)
			return NULL;
	}
	b = malloc(sizeof(*b));
	if (!b) {
		*err = -ENOMEM;
		return NULL;
	}
	if (!whole) {
		*err = pread_full(fd, b->data, nvme_emu_min(WC_BLOCK, size - off), off);
		if (*err) {
			free(b);
			return NULL;
		}
		if (size - off < WC_BLOCK)
			memset(b->data + (size - off), 0, WC_BLOCK - (size - off));
	}
	b->idx = idx;
	h = hash(wc, idx);
	b->hnext = wc->bucket[h];
	wc->bucket[h] = b;
	list_add_tail(&b->order, &wc->order);
	wc->nr++;
	return b;
}

/**
 * nvme_emu_wc_write - write a range into the cache
 * @wc: the cache
 * @fd: the backing file (to fill partial blocks and to make room)
 * @size: the namespace's size
 * @off: byte offset
 * @buf: the data
 * @len: bytes, within @size
 *
 * Return: 0, or a negative errno (file I/O, -ENOMEM); blocks before the
 * failing one have been written.
 */
int nvme_emu_wc_write(struct nvme_emu_wcache *wc, int fd, uint64_t size, uint64_t off,
		      const void *buf, uint64_t len)
{
	const uint8_t *p = buf;

	while (len) {
		uint64_t boff = off & (WC_BLOCK - 1);
		uint64_t n = nvme_emu_min(len, WC_BLOCK - boff);
		bool whole = n == WC_BLOCK || (boff == 0 && off + n == size);
		int err = 0;
		struct wc_block *b = get_block(wc, fd, size, off >> WC_SHIFT, whole, &err);

		if (!b)
			return err;
		memcpy(b->data + boff, p, n);
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

/**
 * nvme_emu_wc_overlay - lay cached blocks over data read from the file
 * @wc: the cache
 * @off: byte offset of @buf in the namespace
 * @buf: the data read
 * @len: bytes
 */
void nvme_emu_wc_overlay(struct nvme_emu_wcache *wc, uint64_t off, void *buf, uint64_t len)
{
	uint8_t *p = buf;

	if (!wc->nr)
		return;
	while (len) {
		uint64_t boff = off & (WC_BLOCK - 1);
		uint64_t n = nvme_emu_min(len, WC_BLOCK - boff);
		struct wc_block *b = find(wc, off >> WC_SHIFT);

		if (b)
			memcpy(p, b->data + boff, n);
		p += n;
		off += n;
		len -= n;
	}
}

/**
 * nvme_emu_wc_zero - zero a range in the cache
 * @wc: the cache
 * @off: byte offset
 * @len: bytes
 *
 * Blocks wholly inside the range are dropped; the caller zeroes the file.
 */
void nvme_emu_wc_zero(struct nvme_emu_wcache *wc, uint64_t off, uint64_t len)
{
	uint64_t end = off + len;
	struct wc_block *b, *tmp;

	if (!wc->nr || !len)
		return;
	list_for_each_entry_safe(b, tmp, &wc->order, order) {
		uint64_t bstart = b->idx << WC_SHIFT, bend = bstart + WC_BLOCK;

		if (bend <= off || bstart >= end)
			continue;
		if (off <= bstart && end >= bend) {
			unlink_block(wc, b);
			continue;
		}
		memset(b->data + (off > bstart ? off - bstart : 0), 0,
		       (end < bend ? end - bstart : WC_BLOCK) - (off > bstart ? off - bstart : 0));
	}
}
