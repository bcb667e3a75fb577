// SPDX-License-Identifier: MIT
/*
 * stat and its relatives, by path and by descriptor.
 *
 * Device nodes stat as devices: /dev/nvmeN a character device, /dev/nvmeNnM
 * a block device (what fio's S_ISBLK test and libnvme's check want),
 * /dev/hmm_dmirrorN a character device, owned by whoever runs the program
 * (the interposer lets them open it). The machine's sysfs files stat as the
 * real files in RUN/sys. The 64-bit names are the same functions on
 * x86-64; the __xstat family is what binaries built against glibc before
 * 2.33 call.
 */
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "interpose.h"

REAL_SLOT(stat);
REAL_SLOT(lstat);
REAL_SLOT(fstat);
REAL_SLOT(fstatat);
REAL_SLOT(statx);
REAL_SLOT(__xstat);
REAL_SLOT(__lxstat);
REAL_SLOT(__fxstat);
REAL_SLOT(__fxstatat);

int __xstat(int ver, const char *path, struct stat *sb);
int __lxstat(int ver, const char *path, struct stat *sb);
int __fxstat(int ver, int fd, struct stat *sb);
int __fxstatat(int ver, int dirfd, const char *path, struct stat *sb, int flags);
int __xstat64(int ver, const char *path, struct stat64 *sb);
int __lxstat64(int ver, const char *path, struct stat64 *sb);
int __fxstat64(int ver, int fd, struct stat64 *sb);
int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *sb, int flags);

/* What a device node looks like. */
static void dev_stat(enum hi_kind kind, unsigned int ctrl, unsigned int ns, unsigned int minor,
		     struct stat *sb)
{
	static struct stat devnull;
	const struct hi_ctrl_desc *cd = &hi_ctx.st->ctrl[ctrl];

	if (!devnull.st_ino) {
		hi_busy++;
		REAL(stat)("/dev/null", &devnull);
		hi_busy--;
	}
	memset(sb, 0, sizeof(*sb));
	sb->st_dev = devnull.st_dev;
	sb->st_nlink = 1;
	sb->st_uid = getuid();
	sb->st_gid = getgid();
	sb->st_blksize = 4096;
	sb->st_atim = sb->st_mtim = sb->st_ctim = devnull.st_mtim;
	switch (kind) {
	case HI_NVME_CTRL:
		sb->st_mode = S_IFCHR | 0600;
		sb->st_rdev = makedev(HI_NVME_CHAR_MAJOR, cd->instance);
		break;
	case HI_NVME_NS:
		sb->st_mode = S_IFBLK | 0660;
		sb->st_rdev = makedev(HI_NVME_BLK_MAJOR, hi_ns_minor(cd->instance, cd->ns[ns].nsid));
		break;
	default:
		sb->st_mode = S_IFCHR | 0600;
		sb->st_rdev = makedev(HI_HMM_CHAR_MAJOR, minor);
		break;
	}
	sb->st_ino = 0x484d0000 + ((ino_t)kind << 16) + minor(sb->st_rdev);
}

static void to_statx(const struct stat *sb, struct statx *sx)
{
	memset(sx, 0, sizeof(*sx));
	sx->stx_mask = STATX_BASIC_STATS;
	sx->stx_blksize = (uint32_t)sb->st_blksize;
	sx->stx_nlink = (uint32_t)sb->st_nlink;
	sx->stx_uid = sb->st_uid;
	sx->stx_gid = sb->st_gid;
	sx->stx_mode = (uint16_t)sb->st_mode;
	sx->stx_ino = sb->st_ino;
	sx->stx_size = (uint64_t)sb->st_size;
	sx->stx_atime.tv_sec = sb->st_atim.tv_sec;
	sx->stx_mtime.tv_sec = sb->st_mtim.tv_sec;
	sx->stx_ctime.tv_sec = sb->st_ctim.tv_sec;
	sx->stx_rdev_major = major(sb->st_rdev);
	sx->stx_rdev_minor = minor(sb->st_rdev);
	sx->stx_dev_major = major(sb->st_dev);
	sx->stx_dev_minor = minor(sb->st_dev);
}

/* A descriptor of a device node: its stat. Return: true when @fd is one. */
/*
 * An empty (not NULL) path, for AT_EMPTY_PATH. A helper: the C library
 * declares the path arguments non-NULL, but the kernel takes NULL with
 * AT_EMPTY_PATH, and a check made where the declaration is seen would be
 * taken as always true.
 */
static bool empty_path(const char *path)
{
	return path && !*path;
}

static bool fd_stat(int fd, struct stat *sb)
{
	struct hi_file *f = hi_fd_get(fd);
	bool dev;

	if (!f)
		return false;
	dev = f->kind == HI_NVME_CTRL || f->kind == HI_NVME_NS || f->kind == HI_HMM;
	if (dev)
		dev_stat(f->kind, f->ctrl, f->ns, f->index, sb);
	hi_file_put(f);
	return dev;
}

/*
 * By path: 1 when answered in @sb, 0 to call libc with @p (the path or its
 * rewriting).
 */
static int path_stat(const char **p, struct hi_path *hp, struct stat *sb)
{
	if (!hi_path_resolve(*p, hp))
		return 0;
	if (hp->kind != HI_NONE) {
		dev_stat(hp->kind, hp->ctrl, hp->ns, hp->minor, sb);
		return 1;
	}
	*p = hp->real;
	return 0;
}

int stat(const char *path, struct stat *sb)
{
	struct hi_path hp;

	if (path_stat(&path, &hp, sb))
		return 0;
	return REAL(stat)(path, sb);
}

int stat64(const char *path, struct stat64 *sb)
{
	return stat(path, (struct stat *)sb);
}

int lstat(const char *path, struct stat *sb)
{
	struct hi_path hp;

	if (path_stat(&path, &hp, sb))
		return 0;
	return REAL(lstat)(path, sb);
}

int lstat64(const char *path, struct stat64 *sb)
{
	return lstat(path, (struct stat *)sb);
}

int fstat(int fd, struct stat *sb)
{
	if (fd_stat(fd, sb))
		return 0;
	return REAL(fstat)(fd, sb);
}

int fstat64(int fd, struct stat64 *sb)
{
	return fstat(fd, (struct stat *)sb);
}

int fstatat(int dirfd, const char *path, struct stat *sb, int flags)
{
	struct hi_path hp;

	if ((flags & AT_EMPTY_PATH) && empty_path(path) && fd_stat(dirfd, sb))
		return 0;
	if (path_stat(&path, &hp, sb))
		return 0;
	if (hp.rewritten)
		dirfd = AT_FDCWD;
	return REAL(fstatat)(dirfd, path, sb, flags);
}

int fstatat64(int dirfd, const char *path, struct stat64 *sb, int flags)
{
	return fstatat(dirfd, path, (struct stat *)sb, flags);
}

int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *sx)
{
	struct hi_path hp;
	struct stat sb;

	if ((flags & AT_EMPTY_PATH) && empty_path(path) && fd_stat(dirfd, &sb)) {
		to_statx(&sb, sx);
		return 0;
	}
	if (path_stat(&path, &hp, &sb)) {
		to_statx(&sb, sx);
		return 0;
	}
	if (hp.rewritten)
		dirfd = AT_FDCWD;
	return REAL(statx)(dirfd, path, flags, mask, sx);
}

/* --- glibc before 2.33 -------------------------------------------------------------------------- */

int __xstat(int ver, const char *path, struct stat *sb)
{
	struct hi_path hp;

	if (path_stat(&path, &hp, sb))
		return 0;
	return REAL(__xstat)(ver, path, sb);
}

int __xstat64(int ver, const char *path, struct stat64 *sb)
{
	return __xstat(ver, path, (struct stat *)sb);
}

int __lxstat(int ver, const char *path, struct stat *sb)
{
	struct hi_path hp;

	if (path_stat(&path, &hp, sb))
		return 0;
	return REAL(__lxstat)(ver, path, sb);
}

int __lxstat64(int ver, const char *path, struct stat64 *sb)
{
	return __lxstat(ver, path, (struct stat *)sb);
}

int __fxstat(int ver, int fd, struct stat *sb)
{
	if (fd_stat(fd, sb))
		return 0;
	return REAL(__fxstat)(ver, fd, sb);
}

int __fxstat64(int ver, int fd, struct stat64 *sb)
{
	return __fxstat(ver, fd, (struct stat *)sb);
}

int __fxstatat(int ver, int dirfd, const char *path, struct stat *sb, int flags)
{
	struct hi_path hp;

	if (path_stat(&path, &hp, sb))
		return 0;
	if (hp.rewritten)
		dirfd = AT_FDCWD;
	return REAL(__fxstatat)(ver, dirfd, path, sb, flags);
}

int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *sb, int flags)
{
	return __fxstatat(ver, dirfd, path, (struct stat *)sb, flags);
}
