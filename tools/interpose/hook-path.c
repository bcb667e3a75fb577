// SPDX-License-Identifier: MIT
/*
 * Hooks that take a path: open and its fortified and 64-bit spellings,
 * fopen, access, opendir, scandir, readlink, realpath; and flock.
 *
 * A path that is not the machine's goes to the next definition unchanged.
 * A sysfs path of the machine goes there rewritten into RUN/sys (the files
 * are real). A device node gets a real descriptor of /dev/null, so its
 * number is the kernel's and close() and dup() work, and an entry in the
 * fd table saying what it is. Opening p2pmem/allocate or resourceN of the
 * machine (by whatever path) also enters the descriptor in the table: their
 * mmap is the interposer's.
 */
#undef _FILE_OFFSET_BITS
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "interpose.h"

REAL_SLOT(openat);
REAL_SLOT(fopen);
REAL_SLOT(fopen64);
REAL_SLOT(freopen);
REAL_SLOT(freopen64);
REAL_SLOT(access);
REAL_SLOT(faccessat);
REAL_SLOT(euidaccess);
REAL_SLOT(opendir);
REAL_SLOT(scandir);
REAL_SLOT(scandir64);
REAL_SLOT(readlink);
REAL_SLOT(readlinkat);
REAL_SLOT(realpath);
REAL_SLOT(flock);

/* --- open ------------------------------------------------------------------------------------ */

static int open_dev(const struct hi_path *hp, int flags)
{
	struct hi_file *f;
	void *priv = NULL;
	int fd, ret;

	if ((flags & O_CREAT) && (flags & O_EXCL)) {
		errno = EEXIST;
		return -1;
	}
	if (flags & O_DIRECTORY) {
		errno = ENOTDIR;
		return -1;
	}
	if (hp->kind == HI_HMM) {
		ret = hi_hmm_open(hp->minor, flags, &priv);
		if (ret < 0) {
			errno = -ret;
			return -1;
		}
	}
	f = hi_file_alloc(hp->kind, flags);
	if (f) {
		f->ctrl = hp->ctrl;
		f->ns = hp->ns;
		f->index = hp->minor;
		f->hmm = priv;
	}
	fd = f ? REAL(openat)(AT_FDCWD, "/dev/null", O_RDWR | (flags & O_CLOEXEC)) : -1;
	if (fd < 0 || hi_fd_install(fd, f)) {
		ret = fd < 0 && f ? errno : ENOMEM;
		if (fd >= 0)
			close(fd);
		if (f)
			hi_file_put(f);
		else if (hp->kind == HI_HMM)
			hi_hmm_close(priv);
		errno = ret;
		return -1;
	}
	hi_file_put(f);
	return fd;
}

/* p2pmem/allocate and resourceN: real files whose mmap is ours. */
static void check_special(const char *path, int fd, int flags)
{
	enum hi_kind kind;
	unsigned int index;
	struct hi_file *f;
	int bar;

	if (!hi_path_special(path, fd, &kind, &index, &bar))
		return;
	f = hi_file_alloc(kind, flags);
	if (!f)
		return;
	f->index = index;
	f->bar = bar;
	hi_fd_install(fd, f);
	hi_file_put(f);
}

/*
 * kernfs_fop_open(): a sysfs attribute without write permission bits is
 * EACCES to open for writing, whoever asks. Its copy in RUN/sys is a real
 * file root could write; a path the interposer rewrote is checked here.
 */
static bool sysfs_write_refused(const struct hi_path *hp, int flags)
{
	struct stat sb;

	if (flags < 0 || (flags & O_ACCMODE) == O_RDONLY || !hp->rewritten)
		return false;
	return !stat(hp->real, &sb) && S_ISREG(sb.st_mode) && !(sb.st_mode & 0222);
}

static int do_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	struct hi_path hp;
	int fd;

	if (!hi_path_resolve(path, &hp)) {
		fd = REAL(openat)(dirfd, path, flags, mode);
		if (fd >= 0)
			check_special(path, fd, flags);
		return fd;
	}
	if (hp.kind != HI_NONE)
		return open_dev(&hp, flags);
	if (sysfs_write_refused(&hp, flags)) {
		errno = EACCES;
		return -1;
	}
	fd = REAL(openat)(AT_FDCWD, hp.real, flags, mode);
	if (fd >= 0)
		check_special(hp.real, fd, flags);
	return fd;
}

static bool wants_mode(int flags)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

#define MODE_ARG(flags, last)                         \
	({                                            \
		mode_t m_ = 0;                        \
		if (wants_mode(flags)) {              \
			va_list ap_;                  \
			va_start(ap_, last);          \
			m_ = (mode_t)va_arg(ap_, int); \
			va_end(ap_);                  \
		}                                     \
		m_;                                   \
	})

int open(const char *path, int flags, ...)
{
	return do_openat(AT_FDCWD, path, flags, MODE_ARG(flags, flags));
}

int open64(const char *path, int flags, ...)
{
	return do_openat(AT_FDCWD, path, flags, MODE_ARG(flags, flags));
}

int openat(int dirfd, const char *path, int flags, ...)
{
	return do_openat(dirfd, path, flags, MODE_ARG(flags, flags));
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	return do_openat(dirfd, path, flags, MODE_ARG(flags, flags));
}

/* The _FORTIFY_SOURCE entry points: open without a mode argument. */
int __open_2(const char *path, int flags);
int __open_2(const char *path, int flags)
{
	return do_openat(AT_FDCWD, path, flags, 0);
}

int __open64_2(const char *path, int flags);
int __open64_2(const char *path, int flags)
{
	return do_openat(AT_FDCWD, path, flags, 0);
}

int __openat_2(int dirfd, const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags)
{
	return do_openat(dirfd, path, flags, 0);
}

int __openat64_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags)
{
	return do_openat(dirfd, path, flags, 0);
}

int creat(const char *path, mode_t mode)
{
	return do_openat(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

int creat64(const char *path, mode_t mode)
{
	return do_openat(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

/* --- fopen -------------------------------------------------------------------------------------- */

static int fopen_flags(const char *mode)
{
	int flags;

	switch (mode[0]) {
	case 'r':
		flags = O_RDONLY;
		break;
	case 'w':
		flags = O_WRONLY | O_CREAT | O_TRUNC;
		break;
	case 'a':
		flags = O_WRONLY | O_CREAT | O_APPEND;
		break;
	default:
		return -1;
	}
	for (const char *p = mode + 1; *p; p++) {
		if (*p == '+')
			flags = (flags & ~O_ACCMODE) | O_RDWR;
		else if (*p == 'e')
			flags |= O_CLOEXEC;
		else if (*p == 'x')
			flags |= O_EXCL;
	}
	return flags;
}

/* A device node as a stream: its descriptor, wrapped. */
static FILE *fopen_dev(const struct hi_path *hp, const char *mode)
{
	int flags = fopen_flags(mode), fd;
	FILE *f;

	if (flags < 0) {
		errno = EINVAL;
		return NULL;
	}
	fd = open_dev(hp, flags);
	if (fd < 0)
		return NULL;
	f = fdopen(fd, mode);
	if (!f)
		close(fd);
	return f;
}

FILE *fopen(const char *path, const char *mode)
{
	struct hi_path hp;

	if (!hi_path_resolve(path, &hp))
		return REAL(fopen)(path, mode);
	if (hp.kind != HI_NONE)
		return fopen_dev(&hp, mode);
	if (sysfs_write_refused(&hp, fopen_flags(mode))) {
		errno = EACCES;
		return NULL;
	}
	return REAL(fopen)(hp.real, mode);
}

FILE *fopen64(const char *path, const char *mode)
{
	struct hi_path hp;

	if (!hi_path_resolve(path, &hp))
		return REAL(fopen64)(path, mode);
	if (hp.kind != HI_NONE)
		return fopen_dev(&hp, mode);
	if (sysfs_write_refused(&hp, fopen_flags(mode))) {
		errno = EACCES;
		return NULL;
	}
	return REAL(fopen64)(hp.real, mode);
}

FILE *freopen(const char *path, const char *mode, FILE *stream)
{
	struct hi_path hp;

	if (hi_path_resolve(path, &hp) && hp.kind == HI_NONE) {
		if (sysfs_write_refused(&hp, fopen_flags(mode))) {
			fclose(stream); /* freopen() closes the stream whatever happens */
			errno = EACCES;
			return NULL;
		}
		path = hp.real;
	}
	return REAL(freopen)(path, mode, stream);
}

FILE *freopen64(const char *path, const char *mode, FILE *stream)
{
	struct hi_path hp;

	if (hi_path_resolve(path, &hp) && hp.kind == HI_NONE) {
		if (sysfs_write_refused(&hp, fopen_flags(mode))) {
			fclose(stream); /* freopen() closes the stream whatever happens */
			errno = EACCES;
			return NULL;
		}
		path = hp.real;
	}
	return REAL(freopen64)(path, mode, stream);
}

/* --- access --------------------------------------------------------------------------------------- */

/* A device node exists and is read-write for its owner, who is whoever runs. */
static int access_dev(int mode)
{
	if (mode & X_OK) {
		errno = EACCES;
		return -1;
	}
	return 0;
}

int access(const char *path, int mode)
{
	struct hi_path hp;

	if (!hi_path_resolve(path, &hp))
		return REAL(access)(path, mode);
	if (hp.kind != HI_NONE)
		return access_dev(mode);
	return REAL(access)(hp.real, mode);
}

int faccessat(int dirfd, const char *path, int mode, int flags)
{
	struct hi_path hp;

	if (!hi_path_resolve(path, &hp))
		return REAL(faccessat)(dirfd, path, mode, flags);
	if (hp.kind != HI_NONE)
		return access_dev(mode);
	return REAL(faccessat)(AT_FDCWD, hp.real, mode, flags);
}

int euidaccess(const char *path, int mode)
{
	struct hi_path hp;

	if (!hi_path_resolve(path, &hp))
		return REAL(euidaccess)(path, mode);
	if (hp.kind != HI_NONE)
		return access_dev(mode);
	return REAL(euidaccess)(hp.real, mode);
}

int eaccess(const char *path, int mode)
{
	return euidaccess(path, mode);
}

/* --- directories ----------------------------------------------------------------------------------- */

DIR *opendir(const char *path)
{
	struct hi_path hp;

	if (!hi_path_resolve(path, &hp))
		return REAL(opendir)(path);
	if (hp.kind != HI_NONE) {
		errno = ENOTDIR;
		return NULL;
	}
	return REAL(opendir)(hp.real);
}

int scandir(const char *path, struct dirent ***list, int (*filter)(const struct dirent *),
	    int (*compar)(const struct dirent **, const struct dirent **))
{
	struct hi_path hp;

	if (!hi_path_resolve(path, &hp))
		return REAL(scandir)(path, list, filter, compar);
	if (hp.kind != HI_NONE) {
		errno = ENOTDIR;
		return -1;
	}
	return REAL(scandir)(hp.real, list, filter, compar);
}

int scandir64(const char *path, struct dirent64 ***list, int (*filter)(const struct dirent64 *),
	      int (*compar)(const struct dirent64 **, const struct dirent64 **))
{
	struct hi_path hp;

	if (!hi_path_resolve(path, &hp))
		return REAL(scandir64)(path, list, filter, compar);
	if (hp.kind != HI_NONE) {
		errno = ENOTDIR;
		return -1;
	}
	return REAL(scandir64)(hp.real, list, filter, compar);
}

/* --- links ------------------------------------------------------------------------------------------ */

ssize_t readlink(const char *path, char *buf, size_t len)
{
	struct hi_path hp;

	if (!hi_path_resolve(path, &hp))
		return REAL(readlink)(path, buf, len);
	if (hp.kind != HI_NONE) {
		errno = EINVAL;
		return -1;
	}
	return REAL(readlink)(hp.real, buf, len);
}

ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t len)
{
	struct hi_path hp;

	if (!hi_path_resolve(path, &hp))
		return REAL(readlinkat)(dirfd, path, buf, len);
	if (hp.kind != HI_NONE) {
		errno = EINVAL;
		return -1;
	}
	return REAL(readlinkat)(AT_FDCWD, hp.real, buf, len);
}

ssize_t __readlink_chk(const char *path, char *buf, size_t len, size_t buflen);
ssize_t __readlink_chk(const char *path, char *buf, size_t len, size_t buflen)
{
	if (len > buflen)
		abort(); /* what the fortified libc does: a buffer overflow */
	return readlink(path, buf, len);
}

/*
 * The machine's paths resolve into the run directory; the answer is given
 * back in /sys terms, so a program that keeps it and opens files below it
 * stays on paths the interposer knows. Device nodes are their own answer.
 */
char *realpath(const char *path, char *resolved)
{
	char buf[PATH_MAX];
	struct hi_path hp;

	if (!hi_path_resolve(path, &hp)) {
		if (!REAL(realpath)(path, buf))
			return NULL;
	} else if (hp.kind != HI_NONE) {
		snprintf(buf, sizeof(buf), "%s", hp.real);
	} else if (!REAL(realpath)(hp.real, buf)) {
		return NULL;
	}
	if (hi_running())
		hi_path_unresolve(buf, sizeof(buf));
	if (!resolved)
		return strdup(buf);
	memcpy(resolved, buf, strlen(buf) + 1);
	return resolved;
}

char *__realpath_chk(const char *path, char *resolved, size_t len);
char *__realpath_chk(const char *path, char *resolved, size_t len)
{
	if (len < PATH_MAX)
		abort();
	return realpath(path, resolved);
}

char *canonicalize_file_name(const char *path)
{
	return realpath(path, NULL);
}

/* --- flock -------------------------------------------------------------------------------------------- */

/*
 * The emulated controller locks its namespace files so that two write
 * caches never hold one file. The run's controllers, one per process,
 * share the run's images with their caches off: their locks are granted.
 */
int flock(int fd, int op)
{
	if (hi_is_image(fd))
		return 0;
	return REAL(flock)(fd, op);
}
