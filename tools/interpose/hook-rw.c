// SPDX-License-Identifier: MIT
/*
 * Reads and writes on descriptors: on a namespace they are NVMe commands
 * (blk.c); on the controller or the HMM device they fail as the kernel's
 * character devices do; on p2pmem/allocate and resourceN as sysfs binary
 * attributes without read or write methods do; anything else is libc's.
 * fsync and fdatasync are Flush, fadvise and sync_file_range are accepted
 * and do nothing, and fallocate's hole punching and zeroing are Dataset
 * Management and Write Zeroes, as on a block device.
 */
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "interpose.h"

REAL_SLOT(read);
REAL_SLOT(write);
REAL_SLOT(pread);
REAL_SLOT(pwrite);
REAL_SLOT(readv);
REAL_SLOT(writev);
REAL_SLOT(preadv);
REAL_SLOT(pwritev);
REAL_SLOT(preadv2);
REAL_SLOT(pwritev2);
REAL_SLOT(fsync);
REAL_SLOT(fdatasync);
REAL_SLOT(sync_file_range);
REAL_SLOT(posix_fadvise);
REAL_SLOT(fallocate);
REAL_SLOT(lseek);

ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen);
ssize_t __pread_chk(int fd, void *buf, size_t len, off_t off, size_t buflen);
ssize_t __pread64_chk(int fd, void *buf, size_t len, off64_t off, size_t buflen);

/*
 * p2pmem/allocate and resourceN are sysfs binary attributes with an mmap
 * method only: a read or write of them is EIO (sysfs_kf_bin_read() and
 * _write()), except at or past the attribute's size, and for nothing.
 */
static ssize_t bin_attr_rw(int fd, const struct iovec *iov, int iovcnt, int64_t off, bool write)
{
	size_t count = 0;
	struct stat sb;

	for (int i = 0; i < iovcnt; i++)
		count += iov[i].iov_len;
	if (off < 0)
		off = REAL(lseek)(fd, 0, SEEK_CUR);
	if (off < 0 || fstat(fd, &sb))
		return -errno;
	if (!write)
		return !count || (sb.st_size && off >= sb.st_size) ? 0 : -EIO;
	if (sb.st_size && off >= sb.st_size)
		return -EFBIG;
	if (!count)
		return 0;
	/* kernfs copies (at most a page of) the data in before the attribute sees it */
	for (int i = 0; i < iovcnt; i++) {
		size_t n = iov[i].iov_len < 4096 ? iov[i].iov_len : 4096;

		if (!n)
			continue;
		if (hi_user_buffer_ok(iov[i].iov_base, n, false))
			return -EFAULT;
		break;
	}
	return -EIO;
}

/*
 * One transfer on an emulated descriptor. @off < 0: at and past the file
 * position. Return: as read()/write(); -1 with errno.
 */
static ssize_t file_rw(int fd, struct hi_file *f, const struct iovec *iov, int iovcnt,
		       int64_t off, bool write)
{
	ssize_t n;

	if ((write && (f->flags & O_ACCMODE) == O_RDONLY) ||
	    (!write && (f->flags & O_ACCMODE) == O_WRONLY)) {
		hi_file_put(f);
		errno = EBADF;
		return -1;
	}
	if (f->kind == HI_P2PMEM || f->kind == HI_RESOURCE) {
		hi_file_put(f);
		n = iovcnt < 0 || iovcnt > IOV_MAX ? -EINVAL :
						     bin_attr_rw(fd, iov, iovcnt, off, write);
		if (n < 0) {
			errno = (int)-n;
			return -1;
		}
		return n;
	}
	if (f->kind != HI_NVME_NS) {
		hi_file_put(f);
		errno = EINVAL; /* a character device without read or write */
		return -1;
	}
	if (off < 0) {
		pthread_mutex_lock(&f->pos_lock);
		n = hi_blk_rw(f, iov, iovcnt, f->pos, write);
		if (n > 0)
			f->pos += n;
		pthread_mutex_unlock(&f->pos_lock);
	} else {
		n = hi_blk_rw(f, iov, iovcnt, off, write);
	}
	hi_file_put(f);
	if (n < 0) {
		errno = (int)-n;
		return -1;
	}
	return n;
}

/* The real files behind p2pmem/allocate and resourceN: flushes and hints are the files'. */
static bool is_file(struct hi_file *f)
{
	if (f->kind != HI_P2PMEM && f->kind != HI_RESOURCE)
		return false;
	hi_file_put(f);
	return true;
}

#define EMULATED(fd, f) (((f) = hi_fd_get(fd)) && !is_file(f))

/* Reads and writes: every emulated descriptor, p2pmem/allocate and resourceN included. */
#define DEVICE(fd, f) (((f) = hi_fd_get(fd)) != NULL)

ssize_t read(int fd, void *buf, size_t len)
{
	struct iovec iov = { buf, len };
	struct hi_file *f;

	if (!DEVICE(fd, f))
		return REAL(read)(fd, buf, len);
	return file_rw(fd, f, &iov, 1, -1, false);
}

ssize_t write(int fd, const void *buf, size_t len)
{
	struct iovec iov = { (void *)buf, len };
	struct hi_file *f;

	if (!DEVICE(fd, f))
		return REAL(write)(fd, buf, len);
	return file_rw(fd, f, &iov, 1, -1, true);
}

ssize_t pread(int fd, void *buf, size_t len, off_t off)
{
	struct iovec iov = { buf, len };
	struct hi_file *f;

	if (!DEVICE(fd, f))
		return REAL(pread)(fd, buf, len, off);
	if (off < 0) {
		hi_file_put(f);
		errno = EINVAL;
		return -1;
	}
	return file_rw(fd, f, &iov, 1, off, false);
}

ssize_t pread64(int fd, void *buf, size_t len, off64_t off)
{
	return pread(fd, buf, len, off);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	struct iovec iov = { (void *)buf, len };
	struct hi_file *f;

	if (!DEVICE(fd, f))
		return REAL(pwrite)(fd, buf, len, off);
	if (off < 0) {
		hi_file_put(f);
		errno = EINVAL;
		return -1;
	}
	return file_rw(fd, f, &iov, 1, off, true);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off64_t off)
{
	return pwrite(fd, buf, len, off);
}

ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
	if (len > buflen)
		abort();
	return read(fd, buf, len);
}

ssize_t __pread_chk(int fd, void *buf, size_t len, off_t off, size_t buflen)
{
	if (len > buflen)
		abort();
	return pread(fd, buf, len, off);
}

ssize_t __pread64_chk(int fd, void *buf, size_t len, off64_t off, size_t buflen)
{
	if (len > buflen)
		abort();
	return pread(fd, buf, len, off);
}

ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
	struct hi_file *f;

	if (!DEVICE(fd, f))
		return REAL(readv)(fd, iov, iovcnt);
	return file_rw(fd, f, iov, iovcnt, -1, false);
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	struct hi_file *f;

	if (!DEVICE(fd, f))
		return REAL(writev)(fd, iov, iovcnt);
	return file_rw(fd, f, iov, iovcnt, -1, true);
}

ssize_t preadv(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	struct hi_file *f;

	if (!DEVICE(fd, f))
		return REAL(preadv)(fd, iov, iovcnt, off);
	if (off < 0) {
		hi_file_put(f);
		errno = EINVAL;
		return -1;
	}
	return file_rw(fd, f, iov, iovcnt, off, false);
}

ssize_t preadv64(int fd, const struct iovec *iov, int iovcnt, off64_t off)
{
	return preadv(fd, iov, iovcnt, off);
}

ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	struct hi_file *f;

	if (!DEVICE(fd, f))
		return REAL(pwritev)(fd, iov, iovcnt, off);
	if (off < 0) {
		hi_file_put(f);
		errno = EINVAL;
		return -1;
	}
	return file_rw(fd, f, iov, iovcnt, off, true);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int iovcnt, off64_t off)
{
	return pwritev(fd, iov, iovcnt, off);
}

/* The v2 calls: offset -1 means the file position; the RWF_* hints change nothing here. */
ssize_t preadv2(int fd, const struct iovec *iov, int iovcnt, off_t off, int flags)
{
	struct hi_file *f;

	if (!DEVICE(fd, f))
		return REAL(preadv2)(fd, iov, iovcnt, off, flags);
	if (off < -1) {
		hi_file_put(f);
		errno = EINVAL;
		return -1;
	}
	return file_rw(fd, f, iov, iovcnt, off, false);
}

ssize_t preadv64v2(int fd, const struct iovec *iov, int iovcnt, off64_t off, int flags)
{
	return preadv2(fd, iov, iovcnt, off, flags);
}

ssize_t pwritev2(int fd, const struct iovec *iov, int iovcnt, off_t off, int flags)
{
	struct hi_file *f;

	if (!DEVICE(fd, f))
		return REAL(pwritev2)(fd, iov, iovcnt, off, flags);
	if (off < -1) {
		hi_file_put(f);
		errno = EINVAL;
		return -1;
	}
	return file_rw(fd, f, iov, iovcnt, off, true);
}

ssize_t pwritev64v2(int fd, const struct iovec *iov, int iovcnt, off64_t off, int flags)
{
	return pwritev2(fd, iov, iovcnt, off, flags);
}

/* --- flushing and hints ------------------------------------------------------------------------- */

static int flush(struct hi_file *f)
{
	int ret = f->kind == HI_NVME_NS ? hi_blk_flush(f) : 0;

	hi_file_put(f);
	if (ret) {
		errno = -ret;
		return -1;
	}
	return 0;
}

int fsync(int fd)
{
	struct hi_file *f;

	if (!EMULATED(fd, f))
		return REAL(fsync)(fd);
	return flush(f);
}

int fdatasync(int fd)
{
	struct hi_file *f;

	if (!EMULATED(fd, f))
		return REAL(fdatasync)(fd);
	return flush(f);
}

int sync_file_range(int fd, off64_t off, off64_t len, unsigned int flags)
{
	struct hi_file *f;

	if (!EMULATED(fd, f))
		return REAL(sync_file_range)(fd, off, len, flags);
	hi_file_put(f);
	return 0;
}

int posix_fadvise(int fd, off_t off, off_t len, int advice)
{
	struct hi_file *f;

	if (!EMULATED(fd, f))
		return REAL(posix_fadvise)(fd, off, len, advice);
	hi_file_put(f);
	return 0;
}

int posix_fadvise64(int fd, off64_t off, off64_t len, int advice)
{
	return posix_fadvise(fd, off, len, advice);
}

/* blkdev_fallocate(): punching a hole deallocates, zeroing a range writes zeroes. */
int fallocate(int fd, int mode, off_t off, off_t len)
{
	struct hi_file *f;
	int ret;

	if (!DEVICE(fd, f))
		return REAL(fallocate)(fd, mode, off, len);
	ret = hi_blk_fallocate(f, mode, off, len);
	hi_file_put(f);
	if (ret) {
		errno = -ret;
		return -1;
	}
	return 0;
}

int fallocate64(int fd, int mode, off64_t off, off64_t len)
{
	return fallocate(fd, mode, off, len);
}
