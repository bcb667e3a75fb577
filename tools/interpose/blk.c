// SPDX-License-Identifier: MIT
/*
 * /dev/nvmeXnY as a block device: reads and writes become NVMe Read and
 * Write commands of this process's controller, through the host driver.
 *
 * The caller's buffer goes to the driver as it is: a buffer in a
 * p2pmem/allocate mapping is P2P memory to the DMA layer, so the
 * controller is given PRPs at the GPU BAR's bus address and the data moves
 * between the two devices without touching host memory.
 *
 * O_DIRECT follows the block layer: whole logical blocks, and buffers
 * aligned to the NVMe driver's DMA alignment (4 bytes). Without O_DIRECT
 * any range works: partial blocks go through a bounce buffer (read,
 * modified, written back). There is no page cache: every call reaches
 * the controller.
 *
 * A buffer the program cannot use (not mapped, or read-only for a read)
 * is EFAULT, found before the controller is given it: with O_DIRECT any
 * bad vector fails the whole call, as the kernel's direct I/O does;
 * without, the call stops at it and returns what was done before, as a
 * copy through the page cache does.
 */
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <linux/falloc.h>

#include <hetmem/nvme.h>

#include "interpose.h"

#define DMA_ALIGN  4u
#define BOUNCE_MAX (1u << 20)
#define CALL_MAX   (1u << 30) /* bytes per driver call: nlb fits 32 bits */

int hi_errno(int ret)
{
	if (ret > 0)
		return -EIO; /* the controller failed the command */
	switch (ret) {
	case 0:
	case -EINVAL:
	case -ENOMEM:
	case -EOPNOTSUPP:
		return ret;
	default:
		return -EIO;
	}
}

uint64_t hi_blk_size(const struct hi_file *f)
{
	return hi_ctx.st->ctrl[f->ctrl].ns[f->ns].size;
}

struct io {
	struct hi_ctrl_inst *ci;
	struct nvme_ns *ns;
	struct nvme_qpair *qp;
	unsigned int shift;
};

static int io_begin(struct hi_file *f, struct io *io)
{
	struct hi_inst *in = hi_inst_get();

	if (!in)
		return -EIO;
	io->ci = &in->ctrl[f->ctrl];
	io->ns = io->ci->ns[f->ns];
	if (!io->ns)
		return -EIO;
	io->shift = io->ns->lba_shift;
	io->qp = hi_qp_get(io->ci);
	return io->qp ? 0 : -EIO;
}

static void io_end(struct io *io)
{
	hi_qp_put(io->ci, io->qp);
}

/* Whole blocks, straight from or into @buf. */
static int direct(struct io *io, void *buf, uint64_t off, uint64_t len, bool write)
{
	while (len) {
		uint64_t n = len < CALL_MAX ? len : CALL_MAX;
		uint32_t nlb = (uint32_t)(n >> io->shift);
		int ret;

		hi_busy++;
		ret = write ? nvme_write(io->ns, io->qp, buf, off >> io->shift, nlb)
			    : nvme_read(io->ns, io->qp, buf, off >> io->shift, nlb);
		hi_busy--;
		if (ret)
			return hi_errno(ret);
		buf = (uint8_t *)buf + n;
		off += n;
		len -= n;
	}
	return 0;
}

/* Any range, through whole blocks of a bounce buffer. */
static int bounced(struct io *io, uint8_t *buf, uint64_t off, uint64_t len, bool write)
{
	uint64_t bs = 1ULL << io->shift;
	uint8_t *b = aligned_alloc(4096, BOUNCE_MAX);
	int ret = 0;

	if (!b)
		return -ENOMEM;
	while (len && !ret) {
		uint64_t start = off & ~(bs - 1), head = off - start;
		uint64_t span = (head + len + bs - 1) & ~(bs - 1), n;

		if (span > BOUNCE_MAX)
			span = BOUNCE_MAX;
		n = span - head < len ? span - head : len;
		/* A write of part of a block reads the block first. */
		if (!write || head || ((head + n) & (bs - 1)))
			ret = direct(io, b, start, span, false);
		if (ret)
			break;
		if (write) {
			memcpy(b + head, buf, n);
			ret = direct(io, b, start, span, true);
		} else {
			memcpy(buf, b + head, n);
		}
		buf += n;
		off += n;
		len -= n;
	}
	free(b);
	return ret;
}

ssize_t hi_blk_rw(struct hi_file *f, const struct iovec *iov, int iovcnt, int64_t off,
		  bool write)
{
	uint64_t size = hi_blk_size(f), done = 0, total = 0;
	bool odirect = f->flags & O_DIRECT;
	struct io io;
	int ret;

	if (iovcnt < 0 || iovcnt > IOV_MAX || off < 0)
		return -EINVAL;
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (!total)
		return 0;
	if ((uint64_t)off >= size)
		return write ? -ENOSPC : 0;
	ret = io_begin(f, &io);
	if (ret)
		return ret;
	if (odirect) {
		uint64_t mask = (1ULL << io.shift) - 1;

		for (int i = 0; i < iovcnt; i++) {
			if ((iov[i].iov_len & mask) || ((uintptr_t)iov[i].iov_base & (DMA_ALIGN - 1))) {
				io_end(&io);
				return -EINVAL;
			}
		}
		if ((uint64_t)off & mask) {
			io_end(&io);
			return -EINVAL;
		}
		for (int i = 0; i < iovcnt && (uint64_t)off + done < size; i++) {
			uint64_t len = iov[i].iov_len;

			if (len > size - (uint64_t)off - done)
				len = size - (uint64_t)off - done;
			if (hi_user_buffer_ok(iov[i].iov_base, len, !write)) {
				io_end(&io);
				return -EFAULT;
			}
			done += len;
		}
		done = 0;
	}
	for (int i = 0; i < iovcnt && (uint64_t)off + done < size; i++) {
		uint64_t at = (uint64_t)off + done, len = iov[i].iov_len;

		if (len > size - at)
			len = size - at; /* short at the end, as a block device is */
		if (!len)
			continue;
		if (!odirect && hi_user_buffer_ok(iov[i].iov_base, len, !write)) {
			ret = -EFAULT;
			break;
		}
		if (odirect || (!(at & ((1ULL << io.shift) - 1)) &&
				!(len & ((1ULL << io.shift) - 1)) &&
				!((uintptr_t)iov[i].iov_base & (DMA_ALIGN - 1))))
			ret = direct(&io, iov[i].iov_base, at, len, write);
		else
			ret = bounced(&io, iov[i].iov_base, at, len, write);
		if (ret)
			break;
		done += len;
	}
	io_end(&io);
	return done ? (ssize_t)done : ret;
}

int hi_blk_flush(struct hi_file *f)
{
	struct io io;
	int ret = io_begin(f, &io);

	if (ret)
		return ret;
	hi_busy++;
	ret = hi_errno(nvme_flush(io.ns, io.qp));
	hi_busy--;
	io_end(&io);
	return ret;
}

int hi_blk_discard(struct hi_file *f, uint64_t off, uint64_t len, bool zero)
{
	uint64_t size = hi_blk_size(f);
	struct io io;
	int ret = io_begin(f, &io);

	if (ret)
		return ret;
	if (((off | len) & ((1ULL << io.shift) - 1)) || off > size || len > size - off) {
		io_end(&io);
		return -EINVAL;
	}
	hi_busy++;
	while (len && !ret) {
		uint64_t n = len < CALL_MAX ? len : CALL_MAX;
		uint32_t nlb = (uint32_t)(n >> io.shift);

		ret = zero ? nvme_write_zeroes(io.ns, io.qp, off >> io.shift, nlb)
			   : nvme_trim(io.ns, io.qp, off >> io.shift, nlb);
		ret = hi_errno(ret);
		off += n;
		len -= n;
	}
	hi_busy--;
	io_end(&io);
	return ret;
}

/* What vfs_fallocate() takes before the file's own method sees the call. */
#define VFS_FALLOC_MODES                                                                  \
	(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_NO_HIDE_STALE |             \
	 FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_ZERO_RANGE | FALLOC_FL_INSERT_RANGE |         \
	 FALLOC_FL_UNSHARE_RANGE)
#define BLK_FALLOC_MODES \
	(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE | FALLOC_FL_NO_HIDE_STALE)

static int vfs_fallocate_check(const struct hi_file *f, int mode, int64_t off, int64_t len)
{
	if (off < 0 || len <= 0)
		return -EINVAL;
	if (mode & ~VFS_FALLOC_MODES)
		return -EOPNOTSUPP;
	if ((mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) ==
	    (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))
		return -EOPNOTSUPP;
	if ((mode & FALLOC_FL_PUNCH_HOLE) && !(mode & FALLOC_FL_KEEP_SIZE))
		return -EOPNOTSUPP;
	if (((mode & FALLOC_FL_COLLAPSE_RANGE) && (mode & ~FALLOC_FL_COLLAPSE_RANGE)) ||
	    ((mode & FALLOC_FL_INSERT_RANGE) && (mode & ~FALLOC_FL_INSERT_RANGE)) ||
	    ((mode & FALLOC_FL_UNSHARE_RANGE) &&
	     (mode & ~(FALLOC_FL_UNSHARE_RANGE | FALLOC_FL_KEEP_SIZE))))
		return -EINVAL;
	if ((f->flags & O_ACCMODE) == O_RDONLY)
		return -EBADF;
	if (f->kind == HI_P2PMEM || f->kind == HI_RESOURCE)
		return -EOPNOTSUPP; /* a sysfs file: no fallocate method */
	if (f->kind != HI_NVME_NS)
		return -ENODEV; /* a character device */
	if (off + len < 0 || (uint64_t)off + (uint64_t)len > INT64_MAX)
		return -EFBIG;
	return 0;
}

int hi_blk_fallocate(struct hi_file *f, int mode, int64_t off, int64_t len)
{
	uint64_t size, start = (uint64_t)off, n = (uint64_t)len;
	int ret = vfs_fallocate_check(f, mode, off, len);

	if (ret)
		return ret;
	if (mode & ~BLK_FALLOC_MODES)
		return -EOPNOTSUPP;
	size = hi_blk_size(f);
	if (start >= size)
		return -EINVAL;
	if (n > size - start) {
		if (!(mode & FALLOC_FL_KEEP_SIZE))
			return -EINVAL;
		n = size - start;
	}
	switch (mode) {
	case FALLOC_FL_ZERO_RANGE:
	case FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE:
		return hi_blk_discard(f, start, n, true);
	case FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE:
	case FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE | FALLOC_FL_NO_HIDE_STALE:
		return hi_blk_discard(f, start, n, false);
	}
	/* Not whole blocks is refused before the mode is looked at. */
	return (start | n) & ((1ULL << hi_ctx.st->ctrl[f->ctrl].ns[f->ns].lba_shift) - 1) ?
		       -EINVAL :
		       -EOPNOTSUPP;
}
