// SPDX-License-Identifier: MIT
/*
 * interpose-bad-input: every device file the interposer serves, fed what a
 * broken program would feed it, answers with the errno Linux 6.1 gives
 * (drivers/nvme/host/ioctl.c, block/ioctl.c, block/fops.c, fs/ioctl.c,
 * lib/test_hmm.c, drivers/pci/p2pdma.c, fs/kernfs/file.c), and nothing
 * crashes. Where the interposer documents another answer
 * (Documentation/stock-tools.md), that one.
 *
 * Machine: bad-input.ini (nvme0 with two namespaces, nvme1 with none,
 * nvme2 with one; gpu0's BAR2 as p2pmem).
 */
#include <inttypes.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/nvme_ioctl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>

#ifdef HAVE_LIBAIO
#include <libaio.h>
#endif

#include "interpose-test.h"

/* lib/test_hmm_uapi.h */
struct hmm_cmd {
	uint64_t addr;
	uint64_t ptr;
	uint64_t npages;
	uint64_t cpages;
	uint64_t faults;
};

#define HMM_READ	   _IOWR('H', 0x00, struct hmm_cmd)
#define HMM_WRITE	   _IOWR('H', 0x01, struct hmm_cmd)
#define HMM_MIGRATE_TO_DEV _IOWR('H', 0x02, struct hmm_cmd)
#define HMM_SNAPSHOT	   _IOWR('H', 0x04, struct hmm_cmd)
#define HMM_UNKNOWN	   _IOWR('H', 0x3f, struct hmm_cmd)

#define PAGE	   4096
#define BAD_PTR	   ((void *)bad_addr) /* nothing is mapped there */
#define NS_SIZE	   (16 << 20) /* nvme0n1 */
#define NVME_SC(r) ((r) & 0x7ff)

#define EXPECT_ERR(call, err)                                                            \
	do {                                                                             \
		long r_;                                                                 \
		errno = 0;                                                               \
		r_ = (long)(call);                                                       \
		CHECK(r_ == -1 && errno == (err), "returned %ld, errno %s, want %s", r_, \
		      strerror(errno), strerror(err));                                   \
	} while (0)

#define EXPECT_RET(call, want)                                                                \
	do {                                                                                  \
		long r_;                                                                      \
		errno = 0;                                                                    \
		r_ = (long)(call);                                                            \
		CHECK(r_ == (long)(want), "returned %ld (%s), want %ld", r_, strerror(errno), \
		      (long)(want));                                                          \
	} while (0)

#define EXPECT_MAP_ERR(call, err)                                                             \
	do {                                                                                  \
		void *m_;                                                                     \
		errno = 0;                                                                    \
		m_ = (call);                                                                  \
		CHECK(m_ == MAP_FAILED && errno == (err), "mapped %p, errno %s, want %s", m_, \
		      strerror(errno), strerror(err));                                        \
	} while (0)

/* Opaque to the compiler, which would otherwise refuse the calls that use them. */
static volatile uintptr_t bad_addr = 8;
static volatile int minus_one = -1;

static int open_or_fail(const char *path, int flags)
{
	int fd = open(path, flags);

	CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
	return fd;
}

static struct nvme_admin_cmd identify(void *buf, uint32_t len)
{
	struct nvme_admin_cmd c = { .opcode = 0x06, .cdw10 = 1 };

	c.addr = (uintptr_t)buf;
	c.data_len = len;
	return c;
}

/* The controller's character device: /dev/nvme0. */
static void test_ctrl(void)
{
	uint8_t *id = aligned_alloc(PAGE, 2 * PAGE), *odd = aligned_alloc(PAGE, 2 * PAGE);
	int fd = open_or_fail("/dev/nvme0", O_RDWR);
	struct nvme_passthru_cmd64 c64 = { 0 };
	struct nvme_admin_cmd c;
	char b[16];

	/* ioctls the driver does not have */
	EXPECT_ERR(ioctl(fd, 0x1234, 0), ENOTTY);
	EXPECT_ERR(ioctl(fd, _IO('N', 0x99)), ENOTTY);
	EXPECT_ERR(ioctl(fd, NVME_IOCTL_ID), ENOTTY);
	EXPECT_ERR(ioctl(fd, NVME_IOCTL_SUBMIT_IO, id), ENOTTY);
	EXPECT_ERR(ioctl(fd, BLKGETSIZE64, id), ENOTTY);
	EXPECT_ERR(ioctl(fd, NVME_IOCTL_IO64_CMD, &c64), ENOTTY);
	EXPECT_ERR(ioctl(fd, NVME_IOCTL_SUBSYS_RESET), ENOTTY); /* documented: CAP.NSSRS clear */
	EXPECT_RET(ioctl(fd, NVME_IOCTL_RESCAN), 0);
	/* the descriptor's own ioctls are the VFS's, whatever the driver */
	EXPECT_RET(ioctl(fd, FIOCLEX), 0);
	CHECK(fcntl(fd, F_GETFD) == FD_CLOEXEC, "FIOCLEX set close-on-exec");
	EXPECT_RET(ioctl(fd, FIONCLEX), 0);
	CHECK(fcntl(fd, F_GETFD) == 0, "FIONCLEX cleared it");

	/* the command structure */
	EXPECT_ERR(ioctl(fd, NVME_IOCTL_ADMIN_CMD, NULL), EFAULT);
	EXPECT_ERR(ioctl(fd, NVME_IOCTL_ADMIN_CMD, BAD_PTR), EFAULT);
	EXPECT_ERR(ioctl(fd, NVME_IOCTL_ADMIN64_CMD, BAD_PTR), EFAULT);
	c = identify(id, PAGE);
	c.flags = 1;
	EXPECT_ERR(ioctl(fd, NVME_IOCTL_ADMIN_CMD, &c), EINVAL);
	/* separate metadata with data: the admin queue has no integrity support */
	c = identify(id, PAGE);
	c.metadata = (uintptr_t)odd;
	c.metadata_len = 64;
	EXPECT_ERR(ioctl(fd, NVME_IOCTL_ADMIN_CMD, &c), EINVAL);
	c.metadata = 0; /* a length without a buffer is no metadata */
	EXPECT_RET(ioctl(fd, NVME_IOCTL_ADMIN_CMD, &c), 0);

	/* what the controller answers: its status, positive */
	c = (struct nvme_admin_cmd){ .opcode = 0xc3 };
	EXPECT_RET(NVME_SC(ioctl(fd, NVME_IOCTL_ADMIN_CMD, &c)), 0x1); /* Invalid Opcode */
	c = identify(id, PAGE);
	c.cdw10 = 0x77; /* a CNS the controller does not have */
	EXPECT_RET(NVME_SC(ioctl(fd, NVME_IOCTL_ADMIN_CMD, &c)), 0x2); /* Invalid Field */

	/* the data buffer */
	c = identify(id, 64 << 20);
	EXPECT_ERR(ioctl(fd, NVME_IOCTL_ADMIN_CMD, &c), EINVAL); /* beyond the transfer limit */
	c = identify(BAD_PTR, PAGE);
	EXPECT_ERR(ioctl(fd, NVME_IOCTL_ADMIN_CMD, &c), EFAULT);
	c = identify(NULL, PAGE);
	/* the kernel maps nothing and sends the command without data */
	EXPECT_RET(NVME_SC(ioctl(fd, NVME_IOCTL_ADMIN_CMD, &c)), 0x4); /* Data Transfer Error */
	memset(id, 0, 2 * PAGE);
	c = identify(id, PAGE);
	EXPECT_RET(ioctl(fd, NVME_IOCTL_ADMIN_CMD, &c), 0);
	memset(odd, 0xee, 2 * PAGE);
	c = identify(odd + 1, PAGE); /* unaligned: the block layer bounces it */
	EXPECT_RET(ioctl(fd, NVME_IOCTL_ADMIN_CMD, &c), 0);
	CHECK(!memcmp(odd + 1, id, PAGE) && odd[0] == 0xee && odd[PAGE + 1] == 0xee,
	      "an unaligned buffer gets the same bytes, and only them");
	memset(odd, 0xee, 2 * PAGE);
	c = identify(odd, 100); /* shorter than the 4 KiB the controller sends */
	EXPECT_RET(ioctl(fd, NVME_IOCTL_ADMIN_CMD, &c), 0);
	CHECK(!memcmp(odd, id, 100), "the first 100 bytes");

	/* reads and writes: the character device has none */
	EXPECT_ERR(read(fd, b, sizeof(b)), EINVAL);
	EXPECT_ERR(write(fd, b, sizeof(b)), EINVAL);
	EXPECT_ERR(pread(fd, b, sizeof(b), 0), EINVAL);
	close(fd);
	free(id);
	free(odd);
}

static struct nvme_passthru_cmd io_read(uint32_t nsid, void *buf, uint32_t len)
{
	struct nvme_passthru_cmd c = { .opcode = 0x02, .nsid = nsid };

	c.addr = (uintptr_t)buf;
	c.data_len = len;
	c.cdw12 = len / 512 - 1;
	return c;
}

/* NVME_IOCTL_IO_CMD on a controller: its only namespace, else refused. */
static void test_ctrl_io(void)
{
	uint8_t *buf = aligned_alloc(PAGE, PAGE);
	struct nvme_passthru_cmd c;
	int fd;

	fd = open_or_fail("/dev/nvme1", O_RDWR); /* no namespace */
	c = io_read(1, buf, 512);
	EXPECT_ERR(ioctl(fd, NVME_IOCTL_IO_CMD, &c), ENOTTY);
	close(fd);
	fd = open_or_fail("/dev/nvme0", O_RDWR); /* two */
	EXPECT_ERR(ioctl(fd, NVME_IOCTL_IO_CMD, &c), EINVAL);
	close(fd);
	fd = open_or_fail("/dev/nvme2", O_RDWR); /* one: it is the namespace's */
	EXPECT_RET(ioctl(fd, NVME_IOCTL_IO_CMD, &c), 0);
	c.nsid = 2;
	EXPECT_ERR(ioctl(fd, NVME_IOCTL_IO_CMD, &c), EINVAL);
	close(fd);
	free(buf);
}

/* The namespace's block device: /dev/nvme0n1. */
static void test_ns_ioctls(void)
{
	int fd = open_or_fail("/dev/nvme0n1", O_RDWR), ro = open_or_fail("/dev/nvme0n1", O_RDONLY);
	static const unsigned long answers[] = {
		BLKGETSIZE64, BLKGETSIZE,  BLKSSZGET, BLKPBSZGET, BLKBSZGET,	 BLKIOMIN,
		BLKIOOPT,     BLKALIGNOFF, BLKROGET,  BLKRAGET,	  BLKROTATIONAL,
	};
	uint8_t *buf = aligned_alloc(PAGE, PAGE);
	struct nvme_user_io io = { .opcode = 0x02, .addr = (uintptr_t)buf };
	struct nvme_passthru_cmd c;
	uint64_t range[2];

	EXPECT_ERR(ioctl(fd, 0x1234, 0), ENOTTY);
	EXPECT_ERR(ioctl(fd, _IOR('N', 0x99, int), buf), ENOTTY);
	EXPECT_ERR(ioctl(fd, NVME_IOCTL_RESET), ENOTTY);
	EXPECT_ERR(ioctl(fd, NVME_IOCTL_RESCAN), ENOTTY);
	for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
		EXPECT_ERR(ioctl(fd, answers[i], NULL), EFAULT);
		EXPECT_ERR(ioctl(fd, answers[i], BAD_PTR), EFAULT);
	}

	/* discard and zero-out: write access, then the range */
	range[0] = 0;
	range[1] = PAGE;
	EXPECT_ERR(ioctl(ro, BLKDISCARD, range), EBADF);
	EXPECT_ERR(ioctl(ro, BLKDISCARD, NULL), EBADF);
	EXPECT_ERR(ioctl(ro, BLKZEROOUT, range), EBADF);
	EXPECT_ERR(ioctl(fd, BLKDISCARD, NULL), EFAULT);
	EXPECT_ERR(ioctl(fd, BLKZEROOUT, BAD_PTR), EFAULT);
	for (int zero = 0; zero < 2; zero++) {
		unsigned long req = zero ? BLKZEROOUT : BLKDISCARD;
		static const uint64_t bad[][2] = {
			{ 0, 0 }, /* nothing */
			{ 100, 512 }, /* unaligned start */
			{ 0, 100 }, /* unaligned length */
			{ NS_SIZE, 512 }, /* at the end */
			{ NS_SIZE - 512, 1024 }, /* across it */
			{ 512, UINT64_MAX - 511 }, /* wrapping */
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			memcpy(range, bad[i], sizeof(range));
			EXPECT_ERR(ioctl(fd, req, range), EINVAL);
		}
		range[0] = NS_SIZE - 512;
		range[1] = 512;
		EXPECT_RET(ioctl(fd, req, range), 0);
	}

	/* passthrough on a namespace: its own nsid only, no flags */
	EXPECT_ERR(ioctl(fd, NVME_IOCTL_IO_CMD, NULL), EFAULT);
	c = io_read(2, buf, 512);
	EXPECT_ERR(ioctl(fd, NVME_IOCTL_IO_CMD, &c), EINVAL);
	c = io_read(1, buf, 512);
	c.flags = 0x40;
	EXPECT_ERR(ioctl(fd, NVME_IOCTL_IO_CMD, &c), EINVAL);
	c = io_read(1, buf, 512);
	EXPECT_RET(ioctl(fd, NVME_IOCTL_IO_CMD, &c), 0);
	c = io_read(1, BAD_PTR, 512);
	EXPECT_ERR(ioctl(fd, NVME_IOCTL_IO_CMD, &c), EFAULT);
	c = (struct nvme_passthru_cmd){ .opcode = 0x7f, .nsid = 1 };
	EXPECT_RET(NVME_SC(ioctl(fd, NVME_IOCTL_IO_CMD, &c)), 0x1); /* Invalid Opcode */

	/* the old submit ioctl */
	EXPECT_ERR(ioctl(fd, NVME_IOCTL_SUBMIT_IO, NULL), EFAULT);
	io.flags = 1;
	EXPECT_ERR(ioctl(fd, NVME_IOCTL_SUBMIT_IO, &io), EINVAL);
	io.flags = 0;
	io.opcode = 0x09; /* Dataset Management is not one of its three */
	EXPECT_ERR(ioctl(fd, NVME_IOCTL_SUBMIT_IO, &io), EINVAL);
	io.opcode = 0x02;
	EXPECT_RET(ioctl(fd, NVME_IOCTL_SUBMIT_IO, &io), 0);
	close(fd);
	close(ro);
	free(buf);
}

static void test_ns_rw(void)
{
	int fd = open_or_fail("/dev/nvme0n1", O_RDWR | O_DIRECT);
	int buffered = open_or_fail("/dev/nvme0n1", O_RDWR);
	int ro = open_or_fail("/dev/nvme0n1", O_RDONLY),
	    wo = open_or_fail("/dev/nvme0n1", O_WRONLY);
	uint8_t *buf = aligned_alloc(PAGE, 2 * PAGE), *ronly;
	struct iovec iov[2] = { { buf, 512 }, { BAD_PTR, 512 } };

	memset(buf, 0x5a, 2 * PAGE);
	/* the end of the device */
	EXPECT_RET(pread(fd, buf, PAGE, NS_SIZE), 0);
	EXPECT_ERR(pwrite(fd, buf, PAGE, NS_SIZE), ENOSPC);
	EXPECT_RET(pread(fd, buf, 2 * PAGE, NS_SIZE - PAGE), PAGE);
	EXPECT_RET(pwrite(fd, buf, 2 * PAGE, NS_SIZE - PAGE), PAGE);
	EXPECT_RET(pread(buffered, buf, 100, NS_SIZE - 10), 10);
	EXPECT_ERR(pread(fd, buf, PAGE, -512), EINVAL);
	EXPECT_ERR(pwrite(fd, buf, PAGE, -512), EINVAL);
	EXPECT_ERR(preadv2(fd, iov, 1, -2, 0), EINVAL);
	EXPECT_ERR(preadv(fd, iov, minus_one, 0), EINVAL);

	/* O_DIRECT: whole logical blocks and 4-byte aligned buffers */
	EXPECT_ERR(pread(fd, buf, PAGE, 100), EINVAL);
	EXPECT_ERR(pread(fd, buf, 100, 0), EINVAL);
	EXPECT_ERR(pread(fd, buf + 1, 512, 0), EINVAL);
	EXPECT_ERR(pwrite(fd, buf, 513, 0), EINVAL);
	/* buffered (documented): any offset, length and buffer */
	EXPECT_RET(pwrite(buffered, buf + 1, 100, 7), 100);
	EXPECT_RET(pread(buffered, buf + 3, 100, 7), 100);

	/* buffers the process cannot use */
	EXPECT_ERR(pread(fd, BAD_PTR, 512, 0), EFAULT);
	EXPECT_ERR(pwrite(fd, BAD_PTR, 512, 0), EFAULT);
	EXPECT_ERR(pread(buffered, BAD_PTR, 100, 7), EFAULT);
	EXPECT_ERR(pwrite(buffered, BAD_PTR, 100, 7), EFAULT);
	ronly = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	EXPECT_ERR(pread(fd, ronly, 512, 0), EFAULT); /* the device cannot write it */
	EXPECT_RET(pwrite(fd, ronly, 512, 0), 512);
	munmap(ronly, PAGE);
	/* a bad vector: direct I/O fails whole, a copy stops at it */
	EXPECT_ERR(preadv(fd, iov, 2, 0), EFAULT);
	EXPECT_RET(preadv(buffered, iov, 2, 0), 512);
	EXPECT_RET(pwritev(buffered, iov, 2, 0), 512);

	/* the descriptor's access mode */
	EXPECT_ERR(pwrite(ro, buf, 512, 0), EBADF);
	EXPECT_ERR(pread(wo, buf, 512, 0), EBADF);
	EXPECT_ERR(fallocate(ro, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 512), EBADF);

	/* lseek: within the device */
	EXPECT_ERR(lseek(fd, NS_SIZE + 512, SEEK_SET), EINVAL);
	EXPECT_ERR(lseek(fd, -512, SEEK_SET), EINVAL);
	EXPECT_ERR(lseek(fd, 1, SEEK_END), EINVAL);
	EXPECT_ERR(lseek(fd, 0, SEEK_DATA), EINVAL);
	EXPECT_RET(lseek(fd, 0, SEEK_END), NS_SIZE);

	/* fallocate: what blkdev_fallocate() takes */
	EXPECT_ERR(fallocate(fd, 0, 0, 512), EOPNOTSUPP);
	EXPECT_ERR(fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 0, 512), EOPNOTSUPP);
	EXPECT_ERR(fallocate(fd, FALLOC_FL_ZERO_RANGE, 100, 512), EINVAL);
	EXPECT_ERR(fallocate(fd, FALLOC_FL_ZERO_RANGE, NS_SIZE, 512), EINVAL);
	EXPECT_ERR(fallocate(fd, FALLOC_FL_ZERO_RANGE, NS_SIZE - 512, 1024), EINVAL);
	/* with KEEP_SIZE a range past the end stops at the end */
	EXPECT_RET(fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, NS_SIZE - 512, 1024),
		   0);
	EXPECT_RET(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, NS_SIZE - 512, 1024),
		   0);
	close(fd);
	close(buffered);
	close(ro);
	close(wo);
	free(buf);
}

#ifdef HAVE_LIBAIO
/* libaio on a namespace: the pointers are the kernel's to check (its errnos come back negative). */
static void test_aio(void)
{
	int fd = open_or_fail("/dev/nvme0n1", O_RDWR | O_DIRECT);
	uint8_t *buf = aligned_alloc(PAGE, PAGE);
	struct timespec ts = { 5, 0 }, bad_ts = { 0, 2000000000 };
	struct iocb cb, *cbs[1] = { &cb };
	struct io_event ev[2];
	io_context_t ctx = 0;

	CHECK(!io_setup(4, &ctx), "io_setup");
	EXPECT_RET(io_submit(ctx, 1, BAD_PTR), -EFAULT);
	cbs[0] = BAD_PTR;
	EXPECT_RET(io_submit(ctx, 1, cbs), -EFAULT);
	cbs[0] = &cb;
	EXPECT_RET(io_submit(ctx, -1, cbs), -EINVAL);
	/* a buffer the program cannot use: submitted, completed with -EFAULT */
	io_prep_pread(&cb, fd, BAD_PTR, 512, 0);
	EXPECT_RET(io_submit(ctx, 1, cbs), 1);
	EXPECT_RET(io_getevents(ctx, 2, 1, ev, &ts), -EINVAL);
	EXPECT_RET(io_getevents(ctx, 1, 1, ev, &bad_ts), -EINVAL);
	EXPECT_RET(io_getevents(ctx, 1, 1, BAD_PTR, &ts), -EFAULT); /* the event stays */
	EXPECT_RET(io_getevents(ctx, 1, 2, ev, &ts), 1);
	CHECK(ev[0].obj == &cb && (long)ev[0].res == -EFAULT, "event res %ld", (long)ev[0].res);
	io_prep_pread(&cb, fd, buf, 512, 0);
	EXPECT_RET(io_submit(ctx, 1, cbs), 1);
	EXPECT_RET(io_getevents(ctx, 1, 2, ev, &ts), 1);
	CHECK(ev[0].obj == &cb && ev[0].res == 512, "a good read after: res %ld", (long)ev[0].res);
	EXPECT_RET(io_destroy(ctx), 0);
	close(fd);
	free(buf);
}
#endif

static void test_hmm(void)
{
	int fd = open_or_fail("/dev/hmm_dmirror0", O_RDWR);
	uint8_t *mem = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			    0),
		*hole;
	uint8_t *out = aligned_alloc(PAGE, 4 * PAGE);
	struct hmm_cmd c;
	char b[8];

	memset(mem, 1, 4 * PAGE);
	hole = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(hole, PAGE); /* an address with nothing mapped */

	/* the command structure comes first, then its range, then the command */
	EXPECT_ERR(ioctl(fd, HMM_READ, NULL), EFAULT);
	EXPECT_ERR(ioctl(fd, HMM_READ, BAD_PTR), EFAULT);
	EXPECT_ERR(ioctl(fd, HMM_UNKNOWN, NULL), EFAULT);
	EXPECT_ERR(ioctl(fd, 0x1234, NULL), EFAULT);
	c = (struct hmm_cmd){ .addr = (uintptr_t)mem, .ptr = (uintptr_t)out, .npages = 1 };
	EXPECT_ERR(ioctl(fd, HMM_UNKNOWN, &c), EINVAL);
	EXPECT_ERR(ioctl(fd, 0x1234, &c), EINVAL);
	c.addr = (uintptr_t)mem + 8;
	EXPECT_ERR(ioctl(fd, HMM_READ, &c), EINVAL);
	c.addr = (uintptr_t)mem;
	c.npages = 0;
	EXPECT_ERR(ioctl(fd, HMM_READ, &c), EINVAL);
	c.npages = 1ULL << 52; /* the size wraps */
	EXPECT_ERR(ioctl(fd, HMM_WRITE, &c), EINVAL);
	c.addr = UINT64_MAX & ~(uint64_t)(PAGE - 1);
	c.npages = 2;
	EXPECT_ERR(ioctl(fd, HMM_READ, &c), EINVAL);

	/* the addresses the device works on */
	c = (struct hmm_cmd){ .addr = (uintptr_t)hole, .ptr = (uintptr_t)out, .npages = 1 };
	EXPECT_ERR(ioctl(fd, HMM_READ, &c), EFAULT);
	EXPECT_ERR(ioctl(fd, HMM_WRITE, &c), EFAULT);
	EXPECT_ERR(ioctl(fd, HMM_MIGRATE_TO_DEV, &c), EINVAL);
	/* the buffer at ptr */
	c = (struct hmm_cmd){ .addr = (uintptr_t)mem, .ptr = (uintptr_t)BAD_PTR, .npages = 2 };
	EXPECT_ERR(ioctl(fd, HMM_READ, &c), EFAULT);
	EXPECT_ERR(ioctl(fd, HMM_WRITE, &c), EFAULT);
	EXPECT_ERR(ioctl(fd, HMM_SNAPSHOT, &c), EFAULT);
	c.ptr = (uintptr_t)out;
	EXPECT_RET(ioctl(fd, HMM_READ, &c), 0);
	CHECK(c.cpages == 2 && out[0] == 1 && out[2 * PAGE - 1] == 1, "a good read after the bad");

	/* the descriptor: no read or write; its own ioctls are the VFS's */
	EXPECT_ERR(read(fd, b, sizeof(b)), EINVAL);
	EXPECT_ERR(write(fd, b, sizeof(b)), EINVAL);
	EXPECT_RET(ioctl(fd, FIOCLEX), 0);
	CHECK(fcntl(fd, F_GETFD) == FD_CLOEXEC, "FIOCLEX on the mirror");
	EXPECT_MAP_ERR(mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 100), EINVAL);
	close(fd);
	EXPECT_ERR(open("/dev/hmm_dmirror2", O_RDWR), ENOENT);
	munmap(mem, 4 * PAGE);
	free(out);
}

static void test_p2pmem(void)
{
	char dir[512], path[600], b[64];
	long long size;
	int fd;

	if (it_find_class(0x030200, 0, dir, sizeof(dir))) {
		CHECK(0, "no GPU function in sysfs");
		return;
	}
	size = it_attr(dir, "p2pmem/size");
	snprintf(path, sizeof(path), "%s/p2pmem/allocate", dir);
	fd = open_or_fail(path, O_RDWR);
	EXPECT_MAP_ERR(mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0), EINVAL);
	EXPECT_MAP_ERR(mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, PAGE), EINVAL);
	EXPECT_MAP_ERR(mmap(NULL, 0, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), EINVAL);
	EXPECT_MAP_ERR(mmap(NULL, (size_t)size + PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0),
		       ENOMEM);
	/* a bin attribute with mmap only: reads and writes are EIO */
	EXPECT_ERR(read(fd, b, sizeof(b)), EIO);
	EXPECT_ERR(write(fd, b, sizeof(b)), EIO);
	EXPECT_ERR(pread(fd, b, sizeof(b), 4096), EIO);
	EXPECT_RET(read(fd, b, 0), 0);
	CHECK(it_attr(dir, "p2pmem/available") == size, "the refusals allocated nothing");
	close(fd);

	/* read-only attributes: opening them for writing is EACCES, root or not */
	{
		static const char *const ro[] = { "p2pmem/size", "p2pmem/available",
						  "p2pmem/published", "vendor", "class" };

		for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
			snprintf(path, sizeof(path), "%s/%s", dir, ro[i]);
			EXPECT_ERR(open(path, O_WRONLY), EACCES);
			EXPECT_ERR(open(path, O_RDWR), EACCES);
			EXPECT_ERR(open(path, O_WRONLY | O_TRUNC), EACCES);
		}
		CHECK(it_attr(dir, "p2pmem/size") == size, "the size is as it was");
	}
	EXPECT_ERR(open("/sys/class/nvme/nvme0/serial", O_WRONLY), EACCES);
}

int main(void)
{
	test_ctrl();
	test_ctrl_io();
	test_ns_ioctls();
	test_ns_rw();
#ifdef HAVE_LIBAIO
	test_aio();
#endif
	test_hmm();
	test_p2pmem();
	return it_result("interpose-bad-input");
}
