// SPDX-License-Identifier: MIT
/*
 * Page presence from /proc/self/pagemap: one 64-bit entry per page
 * (Documentation/admin-guide/mm/pagemap.rst):
 *
 *   63 present   62 swapped   61 file page or shared anonymous
 *   57 write-protected by userfaultfd   56 mapped exactly once
 *   54-0 physical frame (zero unless the reader has CAP_SYS_ADMIN)
 *
 * Each pread() walks the page table under the mmap lock: it costs a few
 * microseconds plus tens of nanoseconds per entry, so callers read a whole
 * range at once. The zero page is recognised by its frame number, learned
 * once by reading a page that maps it (and the huge zero page the same way
 * when transparent huge pages are on); without CAP_SYS_ADMIN frames read
 * as 0 and the zero page looks like an ordinary read-only page.
 *
 * Migrations only need to know what is present, swapped or the zero page:
 * pagemap_categories() asks the PAGEMAP_SCAN ioctl (Linux 6.7) for that.
 *
 * The file is opened once. It names the process that opened it, so a fork
 * child must forget it (pagemap_forget() from the fork handler).
 */
#define pr_fmt(fmt) "pagemap: " fmt

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <hetmem/log.h>
#include "hmm_internal.h"

#define HPAGE_SIZE (2UL << 20)

static int pagemap_fd = -1;
static pthread_mutex_t pagemap_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t zero_frame, huge_zero_frame;
static pthread_once_t zero_once = PTHREAD_ONCE_INIT;

static int pagemap_open(void)
{
	int fd = __atomic_load_n(&pagemap_fd, __ATOMIC_ACQUIRE);

	if (fd >= 0)
		return fd;
	pthread_mutex_lock(&pagemap_lock);
	fd = pagemap_fd;
	if (fd < 0) {
		fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			pr_err("cannot open /proc/self/pagemap: errno %d", errno);
		else
			__atomic_store_n(&pagemap_fd, fd, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&pagemap_lock);
	return fd < 0 ? -errno : fd;
}

int pagemap_read(unsigned long va, unsigned long n, uint64_t *out)
{
	size_t want = n * sizeof(*out), got = 0;
	off_t off = (off_t)(va >> PAGE_SHIFT) * (off_t)sizeof(*out);
	int fd = pagemap_open();

	if (fd < 0)
		return fd;
	while (got < want) {
		ssize_t r = pread(fd, (char *)out + got, want - got, off + (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		got += (size_t)r;
	}
	return 0;
}

/* The frame of the page mapped at @p, or 0. */
static uint64_t frame_of(const volatile char *p)
{
	uint64_t pm = 0;

	(void)*p; /* a read fault maps the (huge) zero page */
	if (pagemap_read((uintptr_t)p, 1, &pm) || !(pm & PM_PRESENT))
		return 0;
	return pm & PM_PFN_MASK;
}

static void learn_zero_frames(void)
{
	char *p = mmap(NULL, 2 * HPAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *huge;

	if (p == MAP_FAILED)
		return;
	zero_frame = frame_of(p);
	huge = (char *)(((uintptr_t)p + HPAGE_SIZE - 1) & ~(HPAGE_SIZE - 1));
	if (madvise(huge, HPAGE_SIZE, MADV_HUGEPAGE) == 0) {
		uint64_t f = frame_of(huge + PAGE_SIZE);

		/* The huge zero page spans 512 frames; keep its first. */
		if (f && f != zero_frame)
			huge_zero_frame = f - 1;
	}
	munmap(p, 2 * HPAGE_SIZE);
	pr_debug("zero page frame %#llx, huge zero page frame %#llx",
		 (unsigned long long)zero_frame, (unsigned long long)huge_zero_frame);
}

bool pagemap_is_zero(uint64_t pm)
{
	uint64_t f = pm & PM_PFN_MASK;

	if (!(pm & PM_PRESENT) || (pm & (PM_MMAP_EXCLUSIVE | PM_FILE)) || !f)
		return false;
	pthread_once(&zero_once, learn_zero_frames);
	return f == zero_frame || (huge_zero_frame && f - huge_zero_frame < HPAGE_SIZE / PAGE_SIZE);
}

/* PAGEMAP_SCAN, Linux 6.7 (include/uapi/linux/fs.h); Debian 12's headers predate it. */
#ifndef PAGEMAP_SCAN
struct page_region {
	uint64_t start;
	uint64_t end;
	uint64_t categories;
};

struct pm_scan_arg {
	uint64_t size;
	uint64_t flags;
	uint64_t start;
	uint64_t end;
	uint64_t walk_end;
	uint64_t vec;
	uint64_t vec_len;
	uint64_t max_pages;
	uint64_t category_inverted;
	uint64_t category_mask;
	uint64_t category_anyof_mask;
	uint64_t return_mask;
};
_Static_assert(sizeof(struct pm_scan_arg) == 96, "pm_scan_arg layout");
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#define PAGE_IS_PFNZERO (1 << 5)
#endif

static bool no_scan; /* the kernel answered ENOTTY once */

/*
 * The scan reports only pages that are present or swapped, as runs with
 * the same categories, and never looks at the page behind a PTE (which
 * reading pagemap does, for the "mapped once" bit): several times cheaper
 * per page. What it cannot say is whether a page is mapped once.
 */
static int pagemap_scan(int fd, unsigned long va, unsigned long n, uint8_t *out)
{
	unsigned long end = va + (n << PAGE_SHIFT), at = va;
	struct page_region regs[64];

	memset(out, 0, n);
	while (at < end) {
		struct pm_scan_arg arg = {
			.size = sizeof(arg),
			.start = at,
			.end = end,
			.vec = (uintptr_t)regs,
			.vec_len = sizeof(regs) / sizeof(regs[0]),
			.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
			.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_PFNZERO,
		};
		long nr = ioctl(fd, PAGEMAP_SCAN, &arg);

		if (nr < 0)
			return -errno;
		for (long r = 0; r < nr; r++) {
			uint8_t cat = (regs[r].categories & PAGE_IS_PRESENT ? PM_CAT_PRESENT : 0) |
				      (regs[r].categories & PAGE_IS_SWAPPED ? PM_CAT_SWAP : 0) |
				      (regs[r].categories & PAGE_IS_PFNZERO ? PM_CAT_ZERO : 0);

			memset(out + ((regs[r].start - va) >> PAGE_SHIFT), cat,
			       (regs[r].end - regs[r].start) >> PAGE_SHIFT);
		}
		if (arg.walk_end <= at)
			break;
		at = arg.walk_end;
	}
	return 0;
}

int pagemap_categories(unsigned long va, unsigned long n, uint8_t *out)
{
	uint64_t pm[512];
	int fd = pagemap_open(), ret;

	if (fd < 0)
		return fd;
	if (!__atomic_load_n(&no_scan, __ATOMIC_RELAXED)) {
		ret = pagemap_scan(fd, va, n, out);
		if (ret != -ENOTTY && ret != -EINVAL)
			return ret;
		__atomic_store_n(&no_scan, true, __ATOMIC_RELAXED);
	}
	for (unsigned long done = 0; done < n;) {
		unsigned long k = n - done < 512 ? n - done : 512;

		ret = pagemap_read(va + (done << PAGE_SHIFT), k, pm);
		if (ret)
			return ret;
		for (unsigned long i = 0; i < k; i++)
			out[done + i] = (pm[i] & PM_PRESENT ? PM_CAT_PRESENT : 0) |
					(pm[i] & PM_SWAP ? PM_CAT_SWAP : 0) |
					(pagemap_is_zero(pm[i]) ? PM_CAT_ZERO : 0);
		done += k;
	}
	return 0;
}

void pagemap_forget(void)
{
	if (pagemap_fd >= 0)
		close(pagemap_fd);
	pagemap_fd = -1;
}
