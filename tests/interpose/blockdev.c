// SPDX-License-Identifier: MIT
/*
 * interpose-blockdev: /dev/nvme0n1 under `hetmem run` is a block device a
 * program can use the way fio does, and what it writes is in the namespace.
 *
 * stat and fstat say S_IFBLK, the size ioctls agree with sysfs, pread and
 * pwrite (and the vectored and v2 calls) move data through the controller
 * into the run's namespace image, O_DIRECT refuses what the block layer
 * refuses, a buffered descriptor takes any range, discard reads back as
 * zeroes, dup'ed descriptors share the device, io_uring is refused, and the
 * controller answers an Identify passthrough with what sysfs says.
 */
#include <inttypes.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <linux/fs.h>
#include <linux/io_uring.h>
#include <linux/nvme_ioctl.h>

#include "interpose-test.h"

#define NS   "/dev/nvme0n1"
#define CTRL_DEV "/dev/nvme0"
#define LEN  (64 << 10)

static void fill(uint8_t *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
}

static void test_stat(void)
{
	struct stat sb;

	CHECK(!stat(NS, &sb) && S_ISBLK(sb.st_mode), "%s is not a block device", NS);
	CHECK(major(sb.st_rdev) == 259, "%s: major %u", NS, major(sb.st_rdev));
	CHECK(!lstat(NS, &sb) && S_ISBLK(sb.st_mode), "lstat %s", NS);
	CHECK(!stat(CTRL_DEV, &sb) && S_ISCHR(sb.st_mode), "%s is not a character device", CTRL_DEV);
	CHECK(!stat("/dev/hmm_dmirror0", &sb) && S_ISCHR(sb.st_mode), "hmm_dmirror0");
	CHECK(!stat("/dev/hmm_dmirror1", &sb) && S_ISCHR(sb.st_mode), "hmm_dmirror1");
	CHECK(stat("/dev/nvme0n9", &sb) && errno == ENOENT, "a namespace that is not there");
	CHECK(stat("/dev/nvme9", &sb) && errno == ENOENT, "a controller that is not there");
	CHECK(!access(NS, R_OK | W_OK), "access %s", NS);
}

static void test_ioctls(int fd, uint64_t *size)
{
	char dir[512];
	int ssz = 0, pbsz = 0;
	uint64_t bytes = 0;
	long long sectors;

	CHECK(!ioctl(fd, BLKGETSIZE64, &bytes), "BLKGETSIZE64: %s", strerror(errno));
	CHECK(!ioctl(fd, BLKSSZGET, &ssz) && ssz == 512, "BLKSSZGET %d", ssz);
	CHECK(!ioctl(fd, BLKPBSZGET, &pbsz) && pbsz == 512, "BLKPBSZGET %d", pbsz);
	CHECK(!ioctl(fd, BLKFLSBUF, 0), "BLKFLSBUF: %s", strerror(errno));
	CHECK(ioctl(fd, NVME_IOCTL_ID) == 1, "NVME_IOCTL_ID");
	CHECK(ioctl(fd, 0x1234, 0) < 0 && errno == ENOTTY, "an unknown ioctl");
	sectors = it_attr("/sys/class/nvme/nvme0/nvme0n1", "size");
	CHECK(sectors > 0 && (uint64_t)sectors * 512 == bytes, "sysfs size %lld sectors, ioctl %" PRIu64,
	      sectors, bytes);
	CHECK(!it_find_class(0x010802, 0, dir, sizeof(dir)), "no NVMe function in sysfs");
	*size = bytes;
}

static void test_data(int fd, uint64_t size)
{
	uint8_t *w = aligned_alloc(4096, LEN), *r = aligned_alloc(4096, LEN);
	struct iovec iov[2] = { { r, LEN / 2 }, { r + LEN / 2, LEN / 2 } };
	char image[4200];
	int img;

	fill(w, LEN, 1);
	CHECK(pwrite(fd, w, LEN, 1 << 20) == LEN, "pwrite: %s", strerror(errno));
	memset(r, 0, LEN);
	CHECK(pread(fd, r, LEN, 1 << 20) == LEN && !memcmp(w, r, LEN), "pread back");
	memset(r, 0, LEN);
	CHECK(preadv(fd, iov, 2, 1 << 20) == LEN && !memcmp(w, r, LEN), "preadv back");
	fill(w, LEN, 2);
	iov[0].iov_base = w;
	iov[1].iov_base = w + LEN / 2;
	CHECK(pwritev2(fd, iov, 2, 2 << 20, 0) == LEN, "pwritev2: %s", strerror(errno));
	iov[0].iov_base = r;
	iov[1].iov_base = r + LEN / 2;
	CHECK(lseek(fd, 2 << 20, SEEK_SET) == 2 << 20, "lseek");
	memset(r, 0, LEN);
	CHECK(preadv2(fd, iov, 2, -1, 0) == LEN && !memcmp(w, r, LEN), "preadv2 at the position");
	CHECK(lseek(fd, 0, SEEK_CUR) == (2 << 20) + LEN, "the position moved");
	CHECK(lseek(fd, 0, SEEK_END) == (off_t)size, "SEEK_END is the size");

	/* The block layer's O_DIRECT rules. */
	CHECK(pread(fd, r, LEN, 100) < 0 && errno == EINVAL, "unaligned offset");
	CHECK(pread(fd, r, 100, 0) < 0 && errno == EINVAL, "unaligned length");
	CHECK(pread(fd, r + 1, 512, 0) < 0 && errno == EINVAL, "unaligned buffer");
	CHECK(pread(fd, r, LEN, (off_t)size) == 0, "a read at the end");
	CHECK(pwrite(fd, w, LEN, (off_t)size) < 0 && errno == ENOSPC, "a write at the end");
	CHECK(pread(fd, r, LEN, (off_t)size - 4096) == 4096, "short at the end");
	CHECK(!fsync(fd) && !fdatasync(fd), "fsync, fdatasync");
	CHECK(!posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM), "fadvise");

	/* What was written is in the run's namespace image. */
	snprintf(image, sizeof(image), "%s/nvme0n1.img", getenv("HETMEM_RUN_DIR"));
	img = open(image, O_RDONLY);
	CHECK(img >= 0, "%s: %s", image, strerror(errno));
	memset(r, 0, LEN);
	CHECK(pread(img, r, LEN, 2 << 20) == LEN && !memcmp(w, r, LEN), "the data in the image");
	close(img);
	free(w);
	free(r);
}

static void test_buffered(uint64_t size)
{
	int fd = open(NS, O_RDWR);
	char msg[] = "hetmem: any range without O_DIRECT", back[sizeof(msg)];
	uint8_t *blk = malloc(4096);

	CHECK(fd >= 0, "open without O_DIRECT: %s", strerror(errno));
	fill(blk, 4096, 3);
	CHECK(pwrite(fd, blk, 4096, 8192) == 4096, "buffered aligned write");
	CHECK(pwrite(fd, msg, sizeof(msg), 8192 + 1000) == (ssize_t)sizeof(msg), "unaligned write");
	CHECK(pread(fd, back, sizeof(back), 8192 + 1000) == (ssize_t)sizeof(back) &&
		      !memcmp(back, msg, sizeof(msg)),
	      "unaligned read back");
	memcpy(blk + 1000, msg, sizeof(msg));
	{
		uint8_t whole[4096];

		CHECK(pread(fd, whole, 4096, 8192) == 4096 && !memcmp(whole, blk, 4096),
		      "the rest of the block kept");
	}
	CHECK(lseek(fd, 8192 + 1000, SEEK_SET) == 8192 + 1000, "lseek");
	memset(back, 0, sizeof(back));
	CHECK(read(fd, back, sizeof(back)) == (ssize_t)sizeof(back) && !memcmp(back, msg, sizeof(msg)),
	      "read() at the position");
	CHECK(pread(fd, back, 10, (off_t)size - 4) == 4, "short at the end");
	close(fd);
	free(blk);
}

static void test_discard(int fd)
{
	uint8_t *w = aligned_alloc(4096, LEN), *r = aligned_alloc(4096, LEN), *z = calloc(1, LEN);
	uint64_t range[2] = { 4 << 20, LEN };

	fill(w, LEN, 4);
	CHECK(pwrite(fd, w, LEN, 4 << 20) == LEN, "write before discard");
	CHECK(!ioctl(fd, BLKDISCARD, range), "BLKDISCARD: %s", strerror(errno));
	CHECK(pread(fd, r, LEN, 4 << 20) == LEN && !memcmp(r, z, LEN), "discarded reads zeroes");
	range[1] = 100;
	CHECK(ioctl(fd, BLKDISCARD, range) < 0 && errno == EINVAL, "a discard of part of a block");
	free(w);
	free(r);
	free(z);
}

static void test_dup(int fd)
{
	uint8_t *r = aligned_alloc(4096, 4096);
	int d = dup(fd), e;

	CHECK(d >= 0, "dup");
	e = fcntl(d, F_DUPFD_CLOEXEC, 100);
	CHECK(e >= 100, "F_DUPFD_CLOEXEC");
	close(d);
	CHECK(pread(e, r, 4096, 0) == 4096, "read through a duplicate: %s", strerror(errno));
	CHECK(ioctl(e, NVME_IOCTL_ID) == 1, "ioctl through a duplicate");
	close(e);
	CHECK(pread(e, r, 4096, 0) < 0 && errno == EBADF, "closed");
	free(r);
}

static void test_passthrough(void)
{
	struct nvme_admin_cmd cmd = { 0 };
	char *id = aligned_alloc(4096, 4096), serial[64] = "", sn[21];
	int fd = open(CTRL_DEV, O_RDONLY), s;

	CHECK(fd >= 0, "open %s: %s", CTRL_DEV, strerror(errno));
	cmd.opcode = 0x06; /* Identify */
	cmd.addr = (uintptr_t)id;
	cmd.data_len = 4096;
	cmd.cdw10 = 1; /* the controller */
	CHECK(ioctl(fd, NVME_IOCTL_ADMIN_CMD, &cmd) == 0, "Identify: %s", strerror(errno));
	memcpy(sn, id + 4, 20);
	sn[20] = '\0';
	for (int i = 19; i >= 0 && sn[i] == ' '; i--)
		sn[i] = '\0';
	s = open("/sys/class/nvme/nvme0/serial", O_RDONLY);
	if (s >= 0) {
		ssize_t n = read(s, serial, sizeof(serial) - 1);

		serial[n > 0 ? n - 1 : 0] = '\0';
		close(s);
	}
	CHECK(!strcmp(sn, serial), "Identify says '%s', sysfs '%s'", sn, serial);
	/* An opcode the controller does not have: its status, positive, as the kernel returns it. */
	memset(&cmd, 0, sizeof(cmd));
	cmd.opcode = 0xc3;
	CHECK(ioctl(fd, NVME_IOCTL_ADMIN_CMD, &cmd) > 0, "an invalid opcode's status");
	CHECK(ioctl(fd, NVME_IOCTL_ID) < 0 && errno == ENOTTY, "NVME_IOCTL_ID on the controller");
	CHECK(mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED, "mmap of the controller");
	close(fd);
	free(id);
}

static void test_io_uring(void)
{
	struct io_uring_params p = { 0 };

	CHECK(syscall(__NR_io_uring_setup, 4, &p) < 0 && errno == ENOSYS, "io_uring refused");
}

int main(void)
{
	uint64_t size = 0;
	int fd;

	test_stat();
	fd = open(NS, O_RDWR | O_DIRECT);
	CHECK(fd >= 0, "open %s: %s", NS, strerror(errno));
	if (fd >= 0) {
		struct stat sb;

		CHECK(!fstat(fd, &sb) && S_ISBLK(sb.st_mode), "fstat");
		test_ioctls(fd, &size);
		test_data(fd, size);
		test_discard(fd);
		test_dup(fd);
		close(fd);
		test_buffered(size);
	}
	test_passthrough();
	test_io_uring();
	return it_result("interpose-blockdev");
}
