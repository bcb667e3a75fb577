// SPDX-License-Identifier: MIT
/*
 * The program's memory, as the kernel reaches it: copy_from_user(),
 * copy_to_user() and the checks get_user_pages() makes before a device
 * may use a buffer. A pointer the program got wrong is EFAULT, never a
 * crash of the process inside the interposer.
 *
 * The memory is our own, so process_vm_readv() and process_vm_writev() on
 * ourselves do what the kernel's copies do: an unmapped or protected
 * address fails the call instead of raising SIGSEGV. A buffer a device
 * will use is probed one byte per page (a single call for up to
 * PROBE_BATCH pages); for a buffer the device writes, the bytes read are
 * written back, which needs write access and changes nothing.
 */
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <sys/uio.h>
#include <unistd.h>

#include "interpose.h"

#define PROBE_PAGE  4096u
#define PROBE_BATCH 256u

int hi_copy_from_user(void *to, const void *from, size_t n)
{
	struct iovec local = { to, n }, remote = { (void *)from, n };

	if (!n)
		return 0;
	return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)n ? 0 : -EFAULT;
}

int hi_copy_to_user(void *to, const void *from, size_t n)
{
	struct iovec local = { (void *)from, n }, remote = { to, n };

	if (!n)
		return 0;
	return process_vm_writev(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)n ? 0 : -EFAULT;
}

/* Probe @nr pages' bytes at @remote: read them into @bytes, and write them back when @write. */
static int probe_batch(struct iovec *remote, unsigned int nr, uint8_t *bytes, bool write)
{
	struct iovec local = { bytes, nr };
	pid_t self = getpid();

	if (process_vm_readv(self, &local, 1, remote, nr, 0) != (ssize_t)nr)
		return -EFAULT;
	if (write && process_vm_writev(self, &local, 1, remote, nr, 0) != (ssize_t)nr)
		return -EFAULT;
	return 0;
}

int hi_user_buffer_ok(const void *buf, size_t len, bool write)
{
	uintptr_t p = (uintptr_t)buf, end;
	struct iovec remote[PROBE_BATCH];
	uint8_t bytes[PROBE_BATCH];
	unsigned int nr = 0;
	int ret;

	if (!len)
		return 0;
	if (p + len < p)
		return -EFAULT;
	end = p + len;
	/* The first byte, then the first byte of every page after it, then the last. */
	while (p < end) {
		remote[nr].iov_base = (void *)p;
		remote[nr].iov_len = 1;
		if (++nr == PROBE_BATCH) {
			ret = probe_batch(remote, nr, bytes, write);
			if (ret)
				return ret;
			nr = 0;
		}
		if ((p | (PROBE_PAGE - 1)) == UINTPTR_MAX)
			break; /* the last page there is */
		p = (p | (PROBE_PAGE - 1)) + 1;
	}
	remote[nr].iov_base = (void *)(end - 1);
	remote[nr++].iov_len = 1;
	return probe_batch(remote, nr, bytes, write);
}
