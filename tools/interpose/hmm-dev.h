/* SPDX-License-Identifier: MIT */
/*
 * /dev/hmm_dmirror<N> for unmodified programs: the kernel's HMM test
 * device (lib/test_hmm.c, uapi lib/test_hmm_uapi.h of Linux 6.1) as the
 * calls the interposer makes when a program opens one of those paths, and
 * ioctls, mmaps and closes what it opened.
 *
 *	minor	device
 *	0, 1	device-private memory (each its own owner, as the kernel's)
 *	2, 3	device-coherent: absent, as on a kernel loaded without
 *		special-purpose memory, so open() fails with -ENOENT and
 *		hmm-tests skips the coherent variants
 *
 * Every open is a new mirror of the calling process's address space, as
 * the kernel's dmirror_fops_open(). The devices are made on the first open
 * of their minor and live as long as the process: nothing runs before
 * that. Every call may be made from any thread; each open file has a
 * thread of its own, which runs its commands one at a time.
 *
 * Fork. A child gets its own devices on its first open, as a process
 * opening the kernel's device gets its own mirror. A mirror the child
 * inherited mirrors the parent's address space, which a library inside the
 * child cannot reach: its ioctls fail with -EIO (the kernel's answer to a
 * KVM descriptor used from another process), and closing it releases
 * nothing of the parent's.
 */
#ifndef HETMEM_TOOLS_INTERPOSE_HMM_DEV_H
#define HETMEM_TOOLS_INTERPOSE_HMM_DEV_H

#include <linux/ioctl.h>
#include <sys/types.h>

#include <hetmem/hmm-dmirror.h>

/* The device nodes, as the kernel's test_hmm names them. */
#define HMM_DEV_PATH_PREFIX "/dev/hmm_dmirror"
/* Minors the kernel module reserves (DMIRROR_NDEVICES). */
#define HMM_DEV_NR_MINORS 4

/* The commands: Linux 6.1's lib/test_hmm_uapi.h, all of them. */
#ifndef HMM_DMIRROR_READ
#define HMM_DMIRROR_READ	    _IOWR('H', 0x00, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_WRITE	    _IOWR('H', 0x01, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_MIGRATE_TO_DEV  _IOWR('H', 0x02, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_MIGRATE_TO_SYS  _IOWR('H', 0x03, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_SNAPSHOT	    _IOWR('H', 0x04, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_EXCLUSIVE	    _IOWR('H', 0x05, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_CHECK_EXCLUSIVE _IOWR('H', 0x06, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_RELEASE	    _IOWR('H', 0x07, struct hmm_dmirror_cmd)
#endif

/**
 * hi_hmm_open - open /dev/hmm_dmirror<minor>: a new mirror of the caller
 * @minor: the device number
 * @flags: the open() flags; the kernel's device ignores them, and so does
 *	   this one
 * @priv: where the open file's state goes, for the two calls below
 *
 * Return: 0; -ENOENT when the device does not exist (minors 2 and 3, the
 * device-coherent ones, and anything from 4 on); -EINVAL when @priv is
 * NULL; -ENOMEM; -EPERM when the process may not use userfaultfd; -ENOSYS
 * when the kernel's userfaultfd lacks what HMM needs; the error of
 * creating the device.
 */
int hi_hmm_open(unsigned int minor, int flags, void **priv);

/**
 * hi_hmm_ioctl - an ioctl on an open device, as the kernel driver
 * @priv: from hi_hmm_open()
 * @request: HMM_DMIRROR_READ, _WRITE, _MIGRATE_TO_DEV, _MIGRATE_TO_SYS,
 *	     _SNAPSHOT, _EXCLUSIVE, _CHECK_EXCLUSIVE or _RELEASE
 * @arg: the caller's struct hmm_dmirror_cmd; read and, on success,
 *	 written back with cpages and faults
 *
 * @arg, and the buffer its ptr names, are reached the way the kernel's
 * copy_from_user() and copy_to_user() reach them: a bad address is an
 * error, never a crash.
 *
 * Return: 0, or a negative errno:
 *  -ENOTTY: @request is none of the eight commands (the 6.1 test driver
 *	answers its unknown numbers with -EINVAL once it has read @arg);
 *  -EINVAL: @priv is NULL; addr not page aligned, npages 0 or the range
 *	wrapping around; a range that is not mapped and readable throughout
 *	(migration); and the other -EINVAL cases of the command;
 *  -EFAULT: @arg or the buffer at ptr (npages pages; npages bytes for
 *	SNAPSHOT) cannot be read or written as the command needs; a page of
 *	the range cannot be reached by the device (READ, WRITE, EXCLUSIVE);
 *  -EPERM: WRITE to a read-only page; CHECK_EXCLUSIVE while a page is
 *	still mapped for atomic access;
 *  -ENOENT: MIGRATE_TO_DEV could not bring every page onto this device
 *	(shared memory, pages on another device);
 *  -EBUSY: the range kept being invalidated, or a page could not be made
 *	exclusive;
 *  -ENOMEM;
 *  -EIO: the mirror was inherited across fork() (see above).
 */
int hi_hmm_ioctl(void *priv, unsigned long request, void *arg);

/**
 * hi_hmm_mmap - mmap() of an open device, as the kernel driver
 * @priv: from hi_hmm_open()
 * @addr: @length: @prot: @flags: as mmap()'s
 * @offset: as mmap()'s; the kernel driver ignores it, once mmap() has
 *	    checked its alignment
 * @mapped: where the mapping's address goes
 *
 * Each page of the mapping is a new page of zeros, present at once: in a
 * private mapping read-only until a write copies it, in a shared
 * writable one writable (the kernel driver's vm_insert_page()). A device
 * snapshot of a private one reads HMM_DMIRROR_PROT_READ. The mapping is
 * an ordinary one: munmap() it as any.
 *
 * Return: 0; -EINVAL when @priv or @mapped is NULL, @length is 0, @offset
 * is not page aligned, or @flags has neither MAP_SHARED nor MAP_PRIVATE;
 * -ENOMEM; the other errors of mmap() and memfd_create().
 */
int hi_hmm_mmap(void *priv, void *addr, size_t length, int prot, int flags, off_t offset,
		void **mapped);

struct pci_dev;

/**
 * hi_hmm_gpu - the GPU function that serves a minor (provided by the caller)
 * @minor: 0 or 1
 *
 * The interposer defines it: the emulated machine's gpu<minor> when that
 * is a "model = gpu" function, built on demand. hmm-dev.c has a weak
 * default answering NULL, for programs without a machine; then the test
 * device with anonymous memory serves the minor.
 *
 * Return: the function, or NULL.
 */
struct pci_dev *hi_hmm_gpu(unsigned int minor);

/**
 * hi_hmm_close - the last close of an open device
 * @priv: from hi_hmm_open(), or NULL (nothing happens)
 *
 * As the kernel driver's release: the mirror stops, and every page of its
 * device comes home. No ioctl on @priv may be running or follow.
 */
void hi_hmm_close(void *priv);

#endif /* HETMEM_TOOLS_INTERPOSE_HMM_DEV_H */
