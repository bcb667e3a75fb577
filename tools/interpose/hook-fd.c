// SPDX-License-Identifier: MIT
/*
 * Hooks that change what a descriptor number means: close, the dup family,
 * fcntl(F_DUPFD*), close_range; and lseek, whose position the interposer
 * keeps for a namespace (its real descriptor is /dev/null).
 *
 * The kernel call is made first and the table follows its result, so a
 * number is never in the table while the kernel could hand it to someone
 * else -- except between close() and the table update, when a concurrent
 * open() may get the same number: hi_fd_install() replaces the stale entry.
 */
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <unistd.h>
#include <linux/close_range.h>

#include "interpose.h"

REAL_SLOT(close);
REAL_SLOT(dup);
REAL_SLOT(dup2);
REAL_SLOT(dup3);
REAL_SLOT(fcntl);
REAL_SLOT(fcntl64);
REAL_SLOT(close_range);
REAL_SLOT(closefrom);
REAL_SLOT(lseek);

int fcntl64(int fd, int cmd, ...);
int close_range(unsigned int first, unsigned int last, int flags);
void closefrom(int lowfd);

int close(int fd)
{
	hi_fd_forget(fd);
	return REAL(close)(fd);
}

int dup(int fd)
{
	int n = REAL(dup)(fd);

	if (n >= 0)
		hi_fd_copy(fd, n);
	return n;
}

int dup2(int fd, int fd2)
{
	int n = REAL(dup2)(fd, fd2);

	if (n >= 0)
		hi_fd_copy(fd, n);
	return n;
}

int dup3(int fd, int fd2, int flags)
{
	int n = REAL(dup3)(fd, fd2, flags);

	if (n >= 0)
		hi_fd_copy(fd, n);
	return n;
}

/*
 * fcntl's third argument is an int or a pointer by command: passed on as a
 * pointer-sized value, which the x86-64 calling convention makes the same.
 */
static int do_fcntl(int (*next)(int, int, ...), int fd, int cmd, void *arg)
{
	int n = next(fd, cmd, arg);

	if (n >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))
		hi_fd_copy(fd, n);
	return n;
}

int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return do_fcntl(REAL(fcntl), fd, cmd, arg);
}

int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return do_fcntl(REAL(fcntl64), fd, cmd, arg);
}

int close_range(unsigned int first, unsigned int last, int flags)
{
	int ret = REAL(close_range)(first, last, flags);

	if (!ret && !(flags & CLOSE_RANGE_CLOEXEC))
		hi_fd_forget_range(first, last);
	return ret;
}

void closefrom(int lowfd)
{
	REAL(closefrom)(lowfd);
	if (lowfd >= 0)
		hi_fd_forget_range((unsigned int)lowfd, ~0u);
}

/* --- lseek ----------------------------------------------------------------------------------- */

static off_t do_lseek(struct hi_file *f, off_t off, int whence)
{
	int64_t base, pos;

	pthread_mutex_lock(&f->pos_lock);
	switch (whence) {
	case SEEK_SET:
		base = 0;
		break;
	case SEEK_CUR:
		base = f->pos;
		break;
	case SEEK_END:
		base = (int64_t)hi_blk_size(f);
		break;
	default:
		pthread_mutex_unlock(&f->pos_lock);
		errno = EINVAL;
		return -1;
	}
	/* fixed_size_llseek(): within the device, its end included */
	if (__builtin_add_overflow(base, (int64_t)off, &pos) || pos < 0 ||
	    (uint64_t)pos > hi_blk_size(f)) {
		pthread_mutex_unlock(&f->pos_lock);
		errno = EINVAL;
		return -1;
	}
	f->pos = pos;
	pthread_mutex_unlock(&f->pos_lock);
	return pos;
}

off_t lseek(int fd, off_t off, int whence)
{
	struct hi_file *f = hi_fd_get(fd);
	off_t ret;

	if (!f)
		return REAL(lseek)(fd, off, whence);
	if (f->kind == HI_NVME_NS) {
		ret = do_lseek(f, off, whence);
	} else if (f->kind == HI_P2PMEM || f->kind == HI_RESOURCE) {
		ret = REAL(lseek)(fd, off, whence);
	} else {
		errno = ESPIPE;
		ret = -1;
	}
	hi_file_put(f);
	return ret;
}

off64_t lseek64(int fd, off64_t off, int whence)
{
	return lseek(fd, off, whence);
}
