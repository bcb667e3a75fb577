/* SPDX-License-Identifier: MIT */
/*
 * The interposer (libhetmem-preload.so), private to its files.
 *
 *   real.c        the next definition of each hooked symbol, the run's
 *                 context, the re-entry guard
 *   paths.c       which paths are the machine's, and where they really are
 *   fdtable.c     file descriptors of emulated devices
 *   instance.c    the machine of this process, built on first use
 *   hook-*.c      the libc and libaio entry points
 *   blk.c         /dev/nvmeXnY reads and writes as NVMe commands
 *   nvme-ioctl.c  NVMe passthrough and block ioctls
 *   p2pmem.c      mmap of p2pmem/allocate and of resourceN
 *   aio.c         libaio contexts that hold emulated requests
 *
 * Every hook works before the library's constructor has run (other
 * libraries' constructors open files early): nothing is set up except on
 * first use, and everything not the machine's goes straight to the next
 * definition, unchanged. While the library itself runs machine code
 * (building the machine, which opens files and maps memory), the thread's
 * re-entry guard sends its own calls straight through too.
 */
#ifndef HETMEM_INTERPOSE_H
#define HETMEM_INTERPOSE_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "run.h"

struct dev_pagemap;
struct machine;
struct nvme_ctrl;
struct nvme_ns;
struct nvme_qpair;
struct nvme_transport;
struct pci_dev;
struct pci_host_bridge;

/* --- real.c: next definitions, context, guard ------------------------------------------ */

/**
 * hi_next - the next definition of a symbol after the interposer's
 * @name: the symbol
 * @slot: where it is cached
 *
 * Return: the address, or NULL when no later object defines it (libaio's
 * functions in a program without libaio).
 */
void *hi_next(const char *name, void **slot);

/* REAL(open64)(...) calls the definition the interposer hides. */
#define REAL_SLOT(fn) static void *hi_slot_##fn
#define REAL(fn)      ((__typeof__(&fn))hi_next(#fn, &hi_slot_##fn))

/**
 * struct hi_ctx - the run this process belongs to
 * @dir: the run directory
 * @sys: RUN/sys, the sysfs tree
 * @syslen: strlen(@sys)
 * @st: the shared state
 */
struct hi_ctx {
	char dir[PATH_MAX];
	char sys[PATH_MAX];
	size_t syslen;
	struct hi_state *st;
};

extern struct hi_ctx hi_ctx;

/* Per thread: > 0 while the interposer's own code runs. */
extern __thread int hi_busy __attribute__((tls_model("initial-exec")));

/**
 * hi_active - whether hooks act on this call
 *
 * Sets the run up on the first call (reads HETMEM_RUN_DIR, maps the
 * state). False without a run, when the state cannot be mapped, and while
 * the interposer's own code runs on this thread.
 */
bool hi_active(void);

/**
 * hi_running - whether this process is part of a run (set up already)
 *
 * Unlike hi_active(), true also while the interposer's own code runs.
 */
bool hi_running(void);

/**
 * hi_msg - tell the user something, once per @once flag (NULL: always)
 * @once: a static flag, or NULL
 * @fmt: printf format; "hetmem: " is prepended, a newline appended
 */
void hi_msg(int *once, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --- umem.c: the program's memory ----------------------------------------------------- */

/**
 * hi_copy_from_user - copy_from_user(): read the program's memory
 * @to: our buffer
 * @from: the program's address
 * @n: bytes
 *
 * Return: 0, or -EFAULT when any of it cannot be read.
 */
int hi_copy_from_user(void *to, const void *from, size_t n);

/**
 * hi_copy_to_user - copy_to_user(): write the program's memory
 * @to: the program's address
 * @from: our buffer
 * @n: bytes
 *
 * Return: 0, or -EFAULT when any of it cannot be written.
 */
int hi_copy_to_user(void *to, const void *from, size_t n);

/**
 * hi_user_buffer_ok - whether a device may use the program's buffer, as
 *		       get_user_pages() would pin it
 * @buf: the buffer
 * @len: bytes (0: nothing to check)
 * @write: the device writes it (the program reads into it)
 *
 * Return: 0, or -EFAULT when a page of it is not mapped, not readable, or
 * (@write) not writable.
 */
int hi_user_buffer_ok(const void *buf, size_t len, bool write);

/* --- paths.c ---------------------------------------------------------------------------- */

enum hi_kind {
	HI_NONE = 0,
	HI_NVME_CTRL, /* /dev/nvmeN */
	HI_NVME_NS, /* /dev/nvmeNnM */
	HI_HMM, /* /dev/hmm_dmirrorN */
	HI_P2PMEM, /* .../p2pmem/allocate */
	HI_RESOURCE, /* .../resourceN */
};

/**
 * struct hi_path - what a path names
 * @kind: HI_NONE for a path that is not the machine's (or is a sysfs file
 *	  needing nothing but @real), else the device it names
 * @rewritten: @real holds where the path really is (RUN/sys/...)
 * @real: the path to hand to libc
 * @ctrl: HI_NVME_*: index in the state's controllers
 * @ns: HI_NVME_NS: index in the controller's namespaces
 * @minor: HI_HMM: the device's minor
 */
struct hi_path {
	enum hi_kind kind;
	bool rewritten;
	char real[PATH_MAX];
	unsigned int ctrl;
	unsigned int ns;
	unsigned int minor;
};

/**
 * hi_path_resolve - classify a path and find where it really is
 * @path: as the program gave it
 * @out: the answer
 *
 * Return: true when the path is the machine's (a device node, or a sysfs
 * path rewritten into RUN/sys), false when it goes to libc unchanged.
 */
bool hi_path_resolve(const char *path, struct hi_path *out);

/**
 * hi_path_unresolve - turn a RUN/sys or RUN/view path back into /sys
 * @path: a path libc returned (realpath), rewritten in place
 * @len: the size of @path's buffer
 */
void hi_path_unresolve(char *path, size_t len);

/**
 * hi_path_special - whether a file just opened is p2pmem/allocate or resourceN
 * @path: the path it was opened by (for a quick test of its last component)
 * @fd: the descriptor
 * @kind: HI_P2PMEM or HI_RESOURCE
 * @index: the provider (HI_P2PMEM) or the function, as the state's links
 * @bar: HI_RESOURCE: the BAR
 *
 * Return: true when it is one of the machine's.
 */
bool hi_path_special(const char *path, int fd, enum hi_kind *kind, unsigned int *index,
		     int *bar);

/**
 * hi_is_image - whether a descriptor is a namespace image of the run
 * @fd: the descriptor
 *
 * Return: true when it is.
 */
bool hi_is_image(int fd);

/* --- fdtable.c -------------------------------------------------------------------------- */

/**
 * struct hi_file - an open emulated device (shared by dup'ed descriptors)
 * @refs: descriptors and users holding it (table lock)
 * @kind: what it is
 * @flags: open flags
 * @ctrl: HI_NVME_*: controller index in the state
 * @ns: HI_NVME_NS: namespace index
 * @index: HI_P2PMEM: provider index; HI_RESOURCE: function (link) index
 * @bar: HI_RESOURCE: the BAR
 * @pos_lock: protects @pos
 * @pos: file position of read(), write(), lseek()
 * @hmm: HI_HMM: the device layer's private data
 */
struct hi_file {
	int refs;
	enum hi_kind kind;
	int flags;
	unsigned int ctrl;
	unsigned int ns;
	unsigned int index;
	int bar;
	pthread_mutex_t pos_lock;
	int64_t pos;
	void *hmm;
};

/*
 * An NVMe device was opened in this process (or its parent before the
 * fork): only then does the exit fold read SMART logs. A program that
 * never used one may have trampled its own heap by then (hmm-tests'
 * snapshot writes a page into malloc(7)); its exit allocates nothing.
 */
extern bool hi_nvme_opened;

/**
 * hi_file_alloc - a new open device, one reference
 * @kind: what it is
 * @flags: its open flags
 *
 * Return: the file, or NULL.
 */
struct hi_file *hi_file_alloc(enum hi_kind kind, int flags);

/** hi_file_put - drop a reference; the last closes the device */
void hi_file_put(struct hi_file *f);

/**
 * hi_fd_get - the emulated device behind a descriptor
 * @fd: any descriptor
 *
 * One atomic load for a descriptor that is not the machine's.
 *
 * Return: the file with a reference held (hi_file_put() it), or NULL.
 */
struct hi_file *hi_fd_get(int fd);

/**
 * hi_fd_install - @fd now refers to @f (takes a reference)
 * @fd: a descriptor the kernel just returned
 * @f: the file
 *
 * Return: 0, or -ENOMEM (@f is not installed then).
 */
int hi_fd_install(int fd, struct hi_file *f);

/** hi_fd_forget - @fd was closed (or is about to be reused) */
void hi_fd_forget(int fd);

/** hi_fd_copy - @newfd is a duplicate of @oldfd */
void hi_fd_copy(int oldfd, int newfd);

/** hi_fd_forget_range - descriptors [@first, @last] were closed */
void hi_fd_forget_range(unsigned int first, unsigned int last);

/** hi_fd_atfork_child - reset the table's lock in a new child */
void hi_fd_atfork_child(void);

/* --- instance.c -------------------------------------------------------------------------- */

/**
 * struct hi_ctrl_inst - a controller of this process's machine
 * @pdev: its function
 * @t: its transport
 * @ctrl: the host driver's controller, NULL when it did not come up
 * @ns: its namespaces, as the state's
 * @qp_lock: protects the queue pairs
 * @qp_cond: signalled when one is put back
 * @qp_free: queue pairs not in use
 * @nr_free: how many
 * @nr_qp: allocated in all
 * @smart_folded: SMART counters already added to the state
 */
struct hi_ctrl_inst {
	struct pci_dev *pdev;
	struct nvme_transport *t;
	struct nvme_ctrl *ctrl;
	struct nvme_ns *ns[HI_MAX_NS];
	pthread_mutex_t qp_lock;
	pthread_cond_t qp_cond;
	struct nvme_qpair *qp_free[64];
	unsigned int nr_free;
	unsigned int nr_qp;
	struct hi_smart_rec smart_folded;
};

/**
 * struct hi_inst - this process's machine
 * @pid: the process that built it (a fork child builds its own)
 * @gen: generation, one per machine this process image built
 * @m: the machine
 * @ctrl: the controllers, as the state's
 * @prov: the p2pmem providers, as the state's
 * @prov_bar: their BARs' CPU mappings
 * @prov_file: the BAR is the run's shared file (false: the device model
 *	       backs it itself, and p2pmem/allocate cannot be mapped)
 * @link: functions and ports, as the state's links
 * @link_folded: their counters already added to the state
 * @rc: host bridges, as the state's
 * @rc_folded: their counters already added
 * @counted: this instance is counted in the state's processes
 * @older: machines of the processes this one was forked from (fork child)
 */
struct hi_inst {
	pid_t pid;
	unsigned int gen;
	struct machine *m;
	struct hi_ctrl_inst ctrl[HI_MAX_CTRL];
	struct pci_dev *prov[HI_MAX_PROV];
	uint8_t *prov_bar[HI_MAX_PROV];
	bool prov_file[HI_MAX_PROV];
	struct pci_dev *link[HI_MAX_LINKS];
	struct hi_link_rec link_folded[HI_MAX_LINKS];
	struct pci_host_bridge *rc[HI_MAX_RC];
	struct hi_rc_rec rc_folded[HI_MAX_RC];
	bool counted;
	struct hi_inst *older;
};

/**
 * hi_inst_get - this process's machine, built on first use
 *
 * Return: the machine, or NULL (errno set: EIO) when it cannot be built;
 * the first failure is reported on stderr.
 */
struct hi_inst *hi_inst_get(void);

/**
 * hi_inst_current - this process's machine if it has been built
 *
 * Return: it, or NULL.
 */
struct hi_inst *hi_inst_current(void);

/**
 * hi_ctrl_write_through - turn a controller's volatile write cache off
 * @ctrl: the controller
 *
 * Every process has its own instance of the controller on the run's
 * namespace images: a write must be in the image when it completes.
 *
 * Return: 0, or -EIO.
 */
int hi_ctrl_write_through(struct nvme_ctrl *ctrl);

/** hi_inst_atfork_child - in a fork child: the parent's machine is not ours */
void hi_inst_atfork_child(void);

/**
 * hi_qp_get - a queue pair of a controller, for this thread until put
 * @ci: the controller
 *
 * Waits when all the queues the controller granted are taken.
 *
 * Return: the queue pair, or NULL with errno set.
 */
struct nvme_qpair *hi_qp_get(struct hi_ctrl_inst *ci);

/** hi_qp_put - give a queue pair back */
void hi_qp_put(struct hi_ctrl_inst *ci, struct nvme_qpair *qp);

/**
 * hi_inst_fold - add this process's counters to the run's
 * @exiting: the process is going away: also return its p2pmem chunks
 *
 * Adds what the links, root complexes and controllers counted since the
 * last fold. Does nothing in a process whose machine another process built
 * (a vfork child).
 */
void hi_inst_fold(bool exiting);

/**
 * hi_smart_adjust - a SMART log read through the interposer: add the record
 * @ci: the controller
 * @cidx: its index in the state
 * @log: the 512-byte log the controller returned
 */
void hi_smart_adjust(struct hi_ctrl_inst *ci, unsigned int cidx, void *log);

/* --- blk.c --------------------------------------------------------------------------------- */

/**
 * hi_blk_rw - read or write a namespace through the NVMe driver
 * @f: an open /dev/nvmeXnY
 * @iov: the buffers
 * @iovcnt: how many
 * @off: byte offset on the namespace
 * @write: direction
 *
 * With O_DIRECT, offsets and lengths must be whole logical blocks and
 * buffers 4-byte aligned (the kernel's NVMe DMA alignment), as the block
 * layer requires; without it any range works (partial blocks are read,
 * modified and written back).
 *
 * Return: bytes transferred (short at the end of the namespace, or
 * without O_DIRECT short at a buffer the program cannot use), or a
 * negative errno: -EINVAL (alignment), -ENOSPC (write past the end),
 * -EFAULT (a buffer the program cannot use), -EIO.
 */
ssize_t hi_blk_rw(struct hi_file *f, const struct iovec *iov, int iovcnt, int64_t off,
		  bool write);

/** hi_blk_size - the namespace's size in bytes */
uint64_t hi_blk_size(const struct hi_file *f);

/**
 * hi_blk_flush - Flush
 * @f: an open namespace
 *
 * Return: 0 or -EIO.
 */
int hi_blk_flush(struct hi_file *f);

/**
 * hi_blk_discard - Dataset Management deallocate, or Write Zeroes
 * @f: an open namespace
 * @off: byte offset
 * @len: bytes
 * @zero: Write Zeroes instead
 *
 * Return: 0, -EINVAL (not whole blocks, past the end), -EOPNOTSUPP, -EIO.
 */
int hi_blk_discard(struct hi_file *f, uint64_t off, uint64_t len, bool zero);

/**
 * hi_blk_fallocate - fallocate() on an emulated device, as vfs_fallocate()
 *		      and blkdev_fallocate()
 * @f: an open emulated device
 * @mode: FALLOC_FL_* flags
 * @off: byte offset
 * @len: bytes
 *
 * On a namespace, zeroing a range is Write Zeroes and punching a hole
 * Dataset Management deallocate; a range past the end stops at the end
 * with FALLOC_FL_KEEP_SIZE.
 *
 * Return: 0, or -EINVAL (negative or empty range, not whole blocks, past
 * the end), -EOPNOTSUPP (a mode a block device does not take), -EBADF
 * (not open for writing), -EFBIG (the range wraps), -ENODEV (a character
 * device), -EOPNOTSUPP (p2pmem/allocate, resourceN), -EIO.
 */
int hi_blk_fallocate(struct hi_file *f, int mode, int64_t off, int64_t len);

/**
 * hi_errno - an errno for what an NVMe call returned
 * @ret: 0, a negative errno or a positive NVMe status
 *
 * Return: 0, or a negative errno (-EIO for NVMe statuses).
 */
int hi_errno(int ret);

/* --- nvme-ioctl.c ---------------------------------------------------------------------------- */

/**
 * hi_nvme_ioctl - an ioctl on /dev/nvmeN or /dev/nvmeNnM
 * @f: the file
 * @req: the request
 * @arg: its argument
 *
 * Return: what ioctl() returns (>= 0), or a negative errno.
 */
long hi_nvme_ioctl(struct hi_file *f, unsigned long req, void *arg);

/* --- p2pmem.c ---------------------------------------------------------------------------------- */

/**
 * hi_p2pmem_mmap - mmap of p2pmem/allocate or resourceN
 * @f: the file
 * @addr: hint or fixed address
 * @len: bytes
 * @prot: protection
 * @flags: mapping flags
 * @off: file offset
 *
 * Return: the mapping, or MAP_FAILED with errno set.
 */
void *hi_p2pmem_mmap(struct hi_file *f, void *addr, size_t len, int prot, int flags, int64_t off);

/**
 * hi_p2pmem_munmap - munmap of a range that may hold p2pmem mappings
 * @addr: start
 * @len: bytes
 * @unmap: also unmap the range (false: the caller maps over it with MAP_FIXED)
 *
 * Return: what munmap() returns.
 */
int hi_p2pmem_munmap(void *addr, size_t len, bool unmap);

/** hi_p2pmem_any - whether this process has p2pmem mappings (one atomic load) */
bool hi_p2pmem_any(void);

/** hi_p2pmem_unbind - take inherited mappings out of the parent's machine's lookup */
void hi_p2pmem_unbind(void);

/** hi_p2pmem_rebind - enter inherited mappings in a new machine's lookup */
void hi_p2pmem_rebind(struct hi_inst *inst);

/** hi_p2pmem_atfork_prepare - before fork: the child maps our chunks too */
void hi_p2pmem_atfork_prepare(void);

/** hi_p2pmem_atfork_parent - after fork, in the parent */
void hi_p2pmem_atfork_parent(void);

/** hi_p2pmem_atfork_child - in the child: take over the chunks' second references */
void hi_p2pmem_atfork_child(void);

/* --- aio.c ----------------------------------------------------------------------------------------- */

/** hi_aio_atfork_child - contexts are not inherited: forget them */
void hi_aio_atfork_child(void);

/* --- hmm: /dev/hmm_dmirrorN, the device layer in hmm-dev.c (weak defaults in real.c) --- */

int hi_hmm_open(unsigned int minor, int flags, void **priv);
int hi_hmm_ioctl(void *priv, unsigned long request, void *arg);
int hi_hmm_mmap(void *priv, void *addr, size_t length, int prot, int flags, off_t offset,
		void **mapped);
void hi_hmm_close(void *priv);

#endif /* HETMEM_INTERPOSE_H */
