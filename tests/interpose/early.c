// SPDX-License-Identifier: MIT
/*
 * interpose-early-hooks, the preloaded half: a library whose constructor
 * uses the machine before the interposer's constructor has run, as other
 * libraries' constructors open files early in stock programs. `hetmem run`
 * puts the interposer before it in LD_PRELOAD, so this constructor runs
 * first; it checks that it did, then stats, opens, sizes, writes, reads
 * and maps the machine's devices. early-main.c asks for the verdict.
 */
#include <dlfcn.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <linux/fs.h>

#include "interpose-test.h"

int early_result(void);

static int verdict = -1;

int early_result(void)
{
	return verdict;
}

__attribute__((constructor)) static void early(void)
{
	int (*constructed)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "hetmem_preload_constructed");
	uint8_t *w, *r;
	char gpu[512], alloc[600];
	uint64_t size = 0;
	struct stat sb;
	void *p;
	int fd;

	if (!getenv("HETMEM_RUN_DIR"))
		return; /* the hetmem command itself, before it runs the test */
	CHECK(constructed, "the interposer is not loaded");
	CHECK(!constructed || !constructed(), "the interposer's constructor ran first");
	CHECK(!stat("/dev/nvme0n1", &sb) && S_ISBLK(sb.st_mode), "stat");
	fd = open("/dev/nvme0n1", O_RDWR | O_DIRECT);
	CHECK(fd >= 0, "open: %s", strerror(errno));
	CHECK(!ioctl(fd, BLKGETSIZE64, &size) && size, "BLKGETSIZE64");
	w = aligned_alloc(4096, 4096);
	r = aligned_alloc(4096, 4096);
	memset(w, 0x3c, 4096);
	CHECK(pwrite(fd, w, 4096, 0) == 4096 && pread(fd, r, 4096, 0) == 4096 &&
		      !memcmp(w, r, 4096),
	      "a write and a read");
	close(fd);
	CHECK(it_attr("/sys/class/nvme/nvme0", "cntlid") >= 0, "a sysfs attribute");
	CHECK(!it_find_class(0x030200, 0, gpu, sizeof(gpu)), "a GPU in sysfs");
	snprintf(alloc, sizeof(alloc), "%s/p2pmem/allocate", gpu);
	fd = open(alloc, O_RDWR);
	p = mmap(NULL, 4096 + 2 * 4095, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED, "p2pmem: %s", strerror(errno));
	if (p != MAP_FAILED)
		munmap(p, 3 * 4096);
	close(fd);
	free(w);
	free(r);
	verdict = it_failures ? 1 : 0;
}
