// SPDX-License-Identifier: MIT
/*
 * interpose-p2pmem: p2pmem/allocate under `hetmem run` behaves as the
 * kernel's, and its pool is the run's.
 *
 * Every shared mmap is a fresh chunk (available drops by the length
 * rounded to pages, fio's odd lengths included), private mappings and
 * offsets are EINVAL, more than the pool is ENOMEM, munmap of part of a
 * mapping keeps the chunk until its last page goes. A forked child sees
 * and changes the same pool; a chunk it still maps when it exits goes back;
 * a mapping it inherits is still the parent's memory and still P2P memory
 * to the NVMe controller of its own machine. The bytes are the BAR's:
 * resource2 of the GPU shows them.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "interpose-test.h"

#define PAGE 4096UL

static char gpu[512], allocate[600];

static long long available(void)
{
	char dir[600];

	snprintf(dir, sizeof(dir), "%s/p2pmem", gpu);
	return it_attr(dir, "available");
}

static size_t pages(size_t len)
{
	return (len + PAGE - 1) & ~(PAGE - 1);
}

static void test_attributes(long long size)
{
	struct stat sb;

	CHECK(!stat(allocate, &sb) && S_ISREG(sb.st_mode), "allocate is a regular file");
	CHECK((sb.st_mode & 0777) == 0660, "mode %o", sb.st_mode & 0777);
	CHECK(sb.st_size == 1LL << 40, "allocate stats as 1 TiB, not %lld", (long long)sb.st_size);
	CHECK(!access(allocate, F_OK), "access");
	CHECK(size > 0 && available() == size, "available %lld of %lld at the start", available(),
	      size);
}

static void test_refusals(int fd, long long size)
{
	CHECK(mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0) == MAP_FAILED &&
		      errno == EINVAL,
	      "a private mapping");
	CHECK(mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, PAGE) == MAP_FAILED &&
		      errno == EINVAL,
	      "a mapping at an offset");
	CHECK(mmap(NULL, (size_t)size + PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) ==
			      MAP_FAILED &&
		      errno == ENOMEM,
	      "more than the pool");
	CHECK(available() == size, "refusals allocate nothing");
}

/* fio's lengths: bs*iodepth + 2*4095 mapped, bs*iodepth + 4095 unmapped. */
static void test_fio_lengths(int fd, long long size)
{
	size_t map = 65536 * 4 + 2 * 4095, unmap = 65536 * 4 + 4095;
	uint8_t *p, *q;

	p = mmap(NULL, map, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED, "mmap: %s", strerror(errno));
	if (p == MAP_FAILED)
		return;
	CHECK(available() == size - (long long)pages(map), "available %lld after one map",
	      available());
	q = mmap(NULL, map, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(q != MAP_FAILED && q != p, "a second mapping");
	CHECK(available() == size - 2 * (long long)pages(map), "two chunks");
	memset(p, 0xa5, map);
	memset(q, 0x5a, map);
	CHECK(p[0] == 0xa5 && p[map - 1] == 0xa5, "each chunk its own memory");
	munmap(q, map);
	CHECK(available() == size - (long long)pages(map), "the second chunk back");
	CHECK(!munmap(p, unmap), "fio's munmap");
	CHECK(available() == size - (long long)pages(map), "one page still mapped: still allocated");
	CHECK(!munmap(p + pages(unmap), PAGE), "the last page");
	CHECK(available() == size, "all back: %lld", available());
}

/* The bytes of a chunk are the BAR's: resource2 maps the same memory. */
static void test_bar_shared(int fd)
{
	char res[600];
	uint8_t *p, *bar;
	long long len = 0;
	int rfd;
	static const char mark[] = "hetmem p2pmem test: the same bytes in the BAR";

	snprintf(res, sizeof(res), "%s/resource2", gpu);
	rfd = open(res, O_RDWR);
	CHECK(rfd >= 0, "open %s: %s", res, strerror(errno));
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (rfd < 0 || p == MAP_FAILED)
		return;
	{
		struct stat sb;

		fstat(rfd, &sb);
		len = sb.st_size;
	}
	bar = mmap(NULL, (size_t)len, PROT_READ, MAP_SHARED, rfd, 0);
	CHECK(bar != MAP_FAILED, "mmap resource2: %s", strerror(errno));
	if (bar != MAP_FAILED) {
		memcpy(p, mark, sizeof(mark));
		CHECK(memmem(bar, (size_t)len, mark, sizeof(mark)), "the chunk's bytes are in the BAR");
		munmap(bar, (size_t)len);
	}
	munmap(p, PAGE);
	close(rfd);
}

static void test_fork(int fd, long long size)
{
	int to_child[2], to_parent[2], status;
	uint8_t *inherited;
	char c;
	pid_t pid;

	inherited = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(inherited != MAP_FAILED, "mmap before fork");
	if (inherited == MAP_FAILED || pipe(to_child) || pipe(to_parent))
		return;
	for (size_t i = 0; i < 8 * PAGE; i++)
		inherited[i] = (uint8_t)(i * 13 + 7);
	pid = fork();
	if (!pid) {
		uint8_t *mine, *back = aligned_alloc(PAGE, 8 * PAGE);
		int ns = open("/dev/nvme0n1", O_RDWR | O_DIRECT), bad = 0;

		/* The pool is the parent's: what it allocated is gone from it here too. */
		if (available() != size - (long long)(8 * PAGE))
			bad |= 1;
		mine = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (mine == MAP_FAILED)
			bad |= 2;
		/* The inherited mapping is P2P memory to this process's controller. */
		if (ns < 0 || pwrite(ns, inherited, 8 * PAGE, 16 << 20) != (ssize_t)(8 * PAGE) ||
		    pread(ns, back, 8 * PAGE, 16 << 20) != (ssize_t)(8 * PAGE) ||
		    memcmp(back, inherited, 8 * PAGE))
			bad |= 4;
		if (write(to_parent[1], "m", 1) != 1 || read(to_child[0], &c, 1) != 1)
			bad |= 8;
		_exit(bad); /* with "mine" still mapped: the process's end frees it */
	}
	CHECK(read(to_parent[0], &c, 1) == 1, "the child got going");
	CHECK(available() == size - (long long)(24 * PAGE), "the child's chunk, seen by the parent: %lld",
	      available());
	CHECK(write(to_child[1], "x", 1) == 1, "let the child go");
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && !WEXITSTATUS(status), "the child's checks: %#x",
	      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	CHECK(available() == size - (long long)(8 * PAGE), "the child's chunk back, ours kept: %lld",
	      available());
	CHECK(inherited[5] == (uint8_t)(5 * 13 + 7), "still ours after the child");
	munmap(inherited, 8 * PAGE);
	CHECK(available() == size, "all back after fork: %lld", available());
	close(to_child[0]);
	close(to_child[1]);
	close(to_parent[0]);
	close(to_parent[1]);
}

int main(void)
{
	long long size;
	char dir[600];
	int fd;

	if (it_find_class(0x030200, 0, gpu, sizeof(gpu))) {
		fprintf(stderr, "no GPU in /sys/bus/pci/devices\n");
		return 1;
	}
	snprintf(allocate, sizeof(allocate), "%s/p2pmem/allocate", gpu);
	snprintf(dir, sizeof(dir), "%s/p2pmem", gpu);
	size = it_attr(dir, "size");
	CHECK(it_attr(dir, "published") == 1, "published");
	test_attributes(size);
	fd = open(allocate, O_RDWR | O_CREAT, 0644);
	CHECK(fd >= 0, "open %s: %s", allocate, strerror(errno));
	if (fd >= 0) {
		test_refusals(fd, size);
		test_fio_lengths(fd, size);
		test_bar_shared(fd);
		test_fork(fd, size);
		close(fd);
	}
	return it_result("interpose-p2pmem");
}
