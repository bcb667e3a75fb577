// SPDX-License-Identifier: MIT
/*
 * TEST ONLY: a minimal LD_PRELOAD stand-in for `hetmem run`, so that
 * tests/interpose/hmm-tests.sh can run the kernel's hmm-tests on a tree
 * without the interposer. It routes open() of /dev/hmm_dmirror<N> to
 * hi_hmm_open(), and ioctl(), mmap() and close() of the descriptors it
 * returned to hi_hmm_ioctl(), hi_hmm_mmap() and hi_hmm_close();
 * everything else goes straight to the kernel. No dup(), no fcntl(): the
 * real interposer does those.
 *
 * An opened device gets a real descriptor (on /dev/null) so that the
 * number is the process's own; the table below maps it to the device.
 * A fork child inherits the table, as it inherits the descriptors.
 */
/* open and open64 are both defined here: no redirection of one to the other. */
#undef _FILE_OFFSET_BITS

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../tools/interpose/hmm-dev.h"

#define SHIM_MAX_FD 1024

#define SHIM_EXPORT __attribute__((visibility("default")))

static pthread_mutex_t shim_lock = PTHREAD_MUTEX_INITIALIZER;
static void *shim_files[SHIM_MAX_FD]; /* under shim_lock */

/* The minor of /dev/hmm_dmirror<N>, or -1 for any other path. */
static int shim_minor(const char *path)
{
	size_t n = strlen(HMM_DEV_PATH_PREFIX);
	unsigned long minor;
	char *end;

	if (!path || strncmp(path, HMM_DEV_PATH_PREFIX, n) || path[n] < '0' || path[n] > '9')
		return -1;
	minor = strtoul(path + n, &end, 10);
	return *end || minor > 255 ? -1 : (int)minor;
}

static int shim_open_dev(int minor, int flags)
{
	void *priv;
	int fd, ret;

	ret = hi_hmm_open((unsigned int)minor, flags, &priv);
	if (ret) {
		errno = -ret;
		return -1;
	}
	fd = (int)syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDWR | (flags & O_CLOEXEC));
	if (fd < 0 || fd >= SHIM_MAX_FD) {
		if (fd >= 0)
			syscall(SYS_close, fd);
		hi_hmm_close(priv);
		errno = fd < 0 ? errno : EMFILE;
		return -1;
	}
	pthread_mutex_lock(&shim_lock);
	shim_files[fd] = priv;
	pthread_mutex_unlock(&shim_lock);
	return fd;
}

static void *shim_file(int fd)
{
	void *priv;

	if (fd < 0 || fd >= SHIM_MAX_FD)
		return NULL;
	pthread_mutex_lock(&shim_lock);
	priv = shim_files[fd];
	pthread_mutex_unlock(&shim_lock);
	return priv;
}

static int shim_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	int minor = shim_minor(path);

	if (minor >= 0)
		return shim_open_dev(minor, flags);
	return (int)syscall(SYS_openat, dirfd, path, flags, mode);
}

/* O_CREAT and O_TMPFILE are the flags that take a mode. */
#define SHIM_MODE(flags, mode)                           \
	do {                                             \
		va_list ap;                              \
		if ((flags) & (O_CREAT | __O_TMPFILE)) { \
			va_start(ap, flags);             \
			mode = va_arg(ap, mode_t);       \
			va_end(ap);                      \
		}                                        \
	} while (0)

SHIM_EXPORT int open(const char *path, int flags, ...)
{
	mode_t mode = 0;

	SHIM_MODE(flags, mode);
	return shim_openat(AT_FDCWD, path, flags, mode);
}

SHIM_EXPORT int open64(const char *path, int flags, ...)
{
	mode_t mode = 0;

	SHIM_MODE(flags, mode);
	return shim_openat(AT_FDCWD, path, flags, mode);
}

SHIM_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	SHIM_MODE(flags, mode);
	return shim_openat(dirfd, path, flags, mode);
}

SHIM_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	SHIM_MODE(flags, mode);
	return shim_openat(dirfd, path, flags, mode);
}

SHIM_EXPORT int ioctl(int fd, unsigned long request, ...)
{
	void *priv = shim_file(fd), *arg;
	va_list ap;
	int ret;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (!priv)
		return (int)syscall(SYS_ioctl, fd, request, arg);
	ret = hi_hmm_ioctl(priv, request, arg);
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return ret;
}

static void *shim_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *priv = shim_file(fd), *p;
	int ret;

	if (!priv || (flags & MAP_ANONYMOUS))
		return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
	ret = hi_hmm_mmap(priv, addr, len, prot, flags, off, &p);
	if (ret) {
		errno = -ret;
		return MAP_FAILED;
	}
	return p;
}

SHIM_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return shim_mmap(addr, len, prot, flags, fd, off);
}

SHIM_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
	return shim_mmap(addr, len, prot, flags, fd, off);
}

SHIM_EXPORT int close(int fd)
{
	void *priv = NULL;

	if (fd >= 0 && fd < SHIM_MAX_FD) {
		pthread_mutex_lock(&shim_lock);
		priv = shim_files[fd];
		shim_files[fd] = NULL;
		pthread_mutex_unlock(&shim_lock);
	}
	hi_hmm_close(priv);
	return (int)syscall(SYS_close, fd);
}
