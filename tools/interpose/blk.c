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
 */
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

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
	}
	for (int i = 0; i < iovcnt && (uint64_t)off + done < size; i++) {
		uint64_t at = (uint64_t)off + done, len = iov[i].iov_len;

		if (len > size - at)
			len = size - at; /* short at the end, as a block device is */
		if (!len)
			continue;
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
