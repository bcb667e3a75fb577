// SPDX-License-Identifier: MIT
/*
 * /dev/hmm_dmirror<N> behind the interposer: the kernel test driver's file
 * operations (dmirror_fops_open, _unlocked_ioctl, _mmap, _release) on
 * hetmem's test device.
 *
 * The caller's memory. The kernel driver reaches it with copy_from_user()
 * and copy_to_user(), which turn a bad address into -EFAULT. Here it is
 * our own memory, and process_vm_readv/writev on ourselves do the same:
 * the kernel copies, so an unmapped or protected address is an error, not
 * a crash. The command structure and the buffer at ptr pass through
 * bounces; the device model sees only memory we allocated.
 *
 * The driver's own memory. The kernel driver allocates from the kernel,
 * never from the program's heap, so a program that hands it a buffer
 * smaller than the command says (hmm-tests' snapshot test reads a page
 * back into malloc(7)) tramples only its own heap, and nothing of the
 * driver's. To keep it so, each open file has a thread that opens,
 * commands and closes the mirror: its allocations come from that
 * thread's malloc arena, not from the one of the thread calling. The
 * caller hands a command over and waits; one command runs at a time per
 * open file (as many files, as many at once).
 *
 * Devices are made on the first open of their minor, by hmm_dev_create():
 * the one place that decides what serves a minor. After fork() the child
 * forgets its parent's devices (pthread_atfork): they are copies whose
 * pages the parent owns, and a file it inherited names the parent's
 * address space and a thread the child does not have. The address space
 * itself is mm/fork.c's business: every device-private page is home
 * before the fork, and the child's context is made on its first use.
 */
#define pr_fmt(fmt) "hmm-dev: " fmt

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <hetmem/err.h>
#ifdef CONFIG_GPU_HOST
#include <hetmem/gpu.h>
#endif
#include <hetmem/hmm-dmirror.h>
#include <hetmem/log.h>
#include <hetmem/memremap.h>
#include "hmm-dev.h"

_Static_assert(sizeof(struct hmm_dmirror_cmd) == 40, "the uapi's command is five __u64");
_Static_assert(HMM_DMIRROR_READ == 0xc0284800UL, "Linux 6.1 numbers");
_Static_assert(HMM_DMIRROR_RELEASE == 0xc0284807UL, "Linux 6.1 numbers");

/* The device-private minors; 2 and 3 (device-coherent) do not exist. */
#define HMM_DEV_PRIVATE_MINORS 2

enum hmm_dev_op {
	OP_NONE,
	OP_OPEN,
	OP_IOCTL,
	OP_CLOSE,
};

/*
 * An open file. Mapped, not allocated: it comes from no malloc arena
 * either. The fields below @lock are under it.
 */
struct hmm_dev_file {
	struct dmirror *mirror;
	unsigned int minor;
	unsigned long generation; /* the fork generation it was opened in */
	pthread_t thread;

	pthread_mutex_t lock;
	pthread_cond_t wake; /* the thread: a command is there */
	pthread_cond_t done; /* callers: the command is done, or the slot is free */
	enum hmm_dev_op op; /* the command in the slot, OP_NONE when free */
	bool finished;
	unsigned long request;
	void *arg;
	int ret;
};

static pthread_mutex_t hmm_dev_lock = PTHREAD_MUTEX_INITIALIZER;
/* Under hmm_dev_lock; the generation changes only in a fork child. */
static struct dmirror_device *hmm_devices[HMM_DEV_PRIVATE_MINORS];
static unsigned long hmm_dev_generation;

/**
 * hi_hmm_gpu - the GPU function that serves a minor, if the process has one
 * @minor: 0 or 1
 *
 * The interposer answers with the emulated machine's gpu<minor> (a
 * "model = gpu" function). This default, for programs that link the
 * device layer without a machine, has none.
 *
 * Return: the function, or NULL.
 */
__attribute__((weak)) struct pci_dev *hi_hmm_gpu(unsigned int minor)
{
	return NULL;
}

/*
 * What serves a minor: the GPU driver on the machine's gpu<minor> when
 * there is one (its device-private VRAM, its MMU and copy engine do the
 * work, and a command missing pages faults its range in at once, as the
 * kernel's test driver), otherwise the test device with its default
 * memory (chunks of 32 MiB added on demand, 512 MiB at most). The GPU
 * stays bound for the life of the process; BAR2 is not registered as P2P
 * memory again (the interposer's p2pmem owns it).
 */
static struct dmirror_device *hmm_dev_create(unsigned int minor)
{
#ifdef CONFIG_GPU_HOST
	const struct gpu_host_opts opts = {
		.size = sizeof(opts),
		.no_p2p = 1,
		.range_fault = 1,
	};
	struct pci_dev *pdev = hi_hmm_gpu(minor);

	if (pdev) {
		struct gpu_host *gpu = gpu_host_probe(pdev, &opts);

		if (!IS_ERR(gpu))
			return gpu_host_dmirror(gpu);
		pr_warn("gpu%u: the driver does not bind (%ld); the test device serves it\n",
			minor, PTR_ERR(gpu));
	}
#endif
	return dmirror_device_create(0, 0);
}

/* --- fork ---------------------------------------------------------------------------- */

static void hmm_dev_fork_prepare(void)
{
	pthread_mutex_lock(&hmm_dev_lock);
}

static void hmm_dev_fork_parent(void)
{
	pthread_mutex_unlock(&hmm_dev_lock);
}

/*
 * The parent's devices stay behind untouched (threads the child does not
 * have may have held their locks); the child makes its own.
 */
static void hmm_dev_fork_child(void)
{
	for (unsigned int i = 0; i < HMM_DEV_PRIVATE_MINORS; i++)
		hmm_devices[i] = NULL;
	__atomic_add_fetch(&hmm_dev_generation, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&hmm_dev_lock);
}

static void hmm_dev_atfork(void)
{
	pthread_atfork(hmm_dev_fork_prepare, hmm_dev_fork_parent, hmm_dev_fork_child);
}

static bool hmm_dev_inherited(const struct hmm_dev_file *file)
{
	return file->generation != __atomic_load_n(&hmm_dev_generation, __ATOMIC_RELAXED);
}

/* --- the caller's memory ------------------------------------------------------------- */

/* copy_from_user(): 0 or -EFAULT. */
static int copy_from_caller(void *to, uint64_t from, size_t n)
{
	struct iovec local = { to, n }, remote = { (void *)(uintptr_t)from, n };

	if (!n)
		return 0;
	return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)n ? 0 : -EFAULT;
}

/* copy_to_user(): 0 or -EFAULT. */
static int copy_to_caller(uint64_t to, const void *from, size_t n)
{
	struct iovec local = { (void *)from, n }, remote = { (void *)(uintptr_t)to, n };

	if (!n)
		return 0;
	return process_vm_writev(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)n ? 0 : -EFAULT;
}

/* --- the commands -------------------------------------------------------------------- */

typedef int (*dmirror_cmd_fn)(struct dmirror *dmirror, struct hmm_dmirror_cmd *cmd);

/* How a command uses the buffer at ptr. */
enum hmm_dev_buf {
	BUF_NONE,
	BUF_IN, /* read from the caller before the command */
	BUF_OUT, /* written to the caller after it */
};

struct hmm_dev_cmd {
	unsigned long request;
	dmirror_cmd_fn fn;
	enum hmm_dev_buf buf;
	bool bytes; /* one byte per page instead of a page */
};

static const struct hmm_dev_cmd hmm_dev_cmds[] = {
	{ HMM_DMIRROR_READ, dmirror_read, BUF_OUT, false },
	{ HMM_DMIRROR_WRITE, dmirror_write, BUF_IN, false },
	{ HMM_DMIRROR_MIGRATE_TO_DEV, dmirror_migrate_to_dev, BUF_OUT, false },
	{ HMM_DMIRROR_MIGRATE_TO_SYS, dmirror_migrate_to_sys, BUF_NONE, false },
	{ HMM_DMIRROR_SNAPSHOT, dmirror_snapshot, BUF_OUT, true },
	{ HMM_DMIRROR_EXCLUSIVE, dmirror_exclusive, BUF_OUT, false },
	{ HMM_DMIRROR_CHECK_EXCLUSIVE, dmirror_check_exclusive, BUF_NONE, false },
	{ HMM_DMIRROR_RELEASE, dmirror_release, BUF_NONE, false },
};

static const struct hmm_dev_cmd *hmm_dev_cmd_find(unsigned long request)
{
	for (size_t i = 0; i < sizeof(hmm_dev_cmds) / sizeof(hmm_dev_cmds[0]); i++)
		if (hmm_dev_cmds[i].request == request)
			return &hmm_dev_cmds[i];
	return NULL;
}

/*
 * The kernel driver's checks before any command, RELEASE included; a range
 * whose size does not fit an address is refused as the device model would.
 */
static int hmm_dev_check_range(const struct hmm_dmirror_cmd *cmd)
{
	if (cmd->addr & (PAGE_SIZE - 1))
		return -EINVAL;
	if (!cmd->npages || cmd->npages > (UINT64_MAX >> PAGE_SHIFT) ||
	    cmd->addr + (cmd->npages << PAGE_SHIFT) <= cmd->addr)
		return -EINVAL;
	return 0;
}

/* Run @c on a bounce of the caller's buffer. */
static int hmm_dev_run(struct dmirror *mirror, const struct hmm_dev_cmd *c,
		       struct hmm_dmirror_cmd *cmd)
{
	uint64_t uptr = cmd->ptr;
	size_t size = c->bytes ? cmd->npages : cmd->npages << PAGE_SHIFT;
	void *bounce;
	int ret;

	if (c->buf == BUF_NONE)
		return c->fn(mirror, cmd);
	bounce = malloc(size);
	if (!bounce)
		return -ENOMEM;
	if (c->buf == BUF_IN) {
		ret = copy_from_caller(bounce, uptr, size);
		if (ret)
			goto out;
	}
	cmd->ptr = (uintptr_t)bounce;
	ret = c->fn(mirror, cmd);
	cmd->ptr = uptr;
	if (!ret && c->buf == BUF_OUT)
		ret = copy_to_caller(uptr, bounce, size);
out:
	free(bounce);
	return ret;
}

/* dmirror_fops_unlocked_ioctl(), on the file's thread. */
static int hmm_dev_do_ioctl(struct hmm_dev_file *file, unsigned long request, void *arg)
{
	const struct hmm_dev_cmd *c = hmm_dev_cmd_find(request);
	struct hmm_dmirror_cmd cmd;
	int ret;

	if (copy_from_caller(&cmd, (uintptr_t)arg, sizeof(cmd)))
		return -EFAULT;
	ret = hmm_dev_check_range(&cmd);
	if (ret)
		return ret;
	cmd.cpages = 0;
	cmd.faults = 0;
	ret = hmm_dev_run(file->mirror, c, &cmd);
	if (ret)
		return ret;
	return copy_to_caller((uintptr_t)arg, &cmd, sizeof(cmd));
}

/* dmirror_fops_open(), on the file's thread. */
static int hmm_dev_do_open(struct hmm_dev_file *file)
{
	struct dmirror_device *mdevice;
	struct dmirror *mirror;

	pthread_mutex_lock(&hmm_dev_lock);
	mdevice = hmm_devices[file->minor];
	if (!mdevice) {
		mdevice = hmm_dev_create(file->minor);
		if (IS_ERR(mdevice)) {
			pthread_mutex_unlock(&hmm_dev_lock);
			pr_warn("device %u: %ld", file->minor, PTR_ERR(mdevice));
			return (int)PTR_ERR(mdevice);
		}
		hmm_devices[file->minor] = mdevice;
	}
	file->generation = hmm_dev_generation;
	pthread_mutex_unlock(&hmm_dev_lock);

	mirror = dmirror_open(mdevice);
	if (IS_ERR(mirror))
		return (int)PTR_ERR(mirror);
	file->mirror = mirror;
	return 0;
}

/* --- the file's thread --------------------------------------------------------------- */

/* Runs one command at a time until the file is closed (or fails to open). */
static void *hmm_dev_thread(void *arg)
{
	struct hmm_dev_file *file = arg;
	bool last = false;

	pthread_mutex_lock(&file->lock);
	while (!last) {
		enum hmm_dev_op op;
		int ret = 0;

		while (file->op == OP_NONE || file->finished)
			pthread_cond_wait(&file->wake, &file->lock);
		op = file->op;
		pthread_mutex_unlock(&file->lock);
		switch (op) {
		case OP_OPEN:
			ret = hmm_dev_do_open(file);
			last = ret != 0;
			break;
		case OP_IOCTL:
			ret = hmm_dev_do_ioctl(file, file->request, file->arg);
			break;
		case OP_CLOSE:
			dmirror_close(file->mirror);
			last = true;
			break;
		case OP_NONE:
			break;
		}
		pthread_mutex_lock(&file->lock);
		file->ret = ret;
		file->finished = true;
		pthread_cond_broadcast(&file->done);
	}
	pthread_mutex_unlock(&file->lock);
	return NULL;
}

/* Hand @op to the file's thread and wait for its result. */
static int hmm_dev_call(struct hmm_dev_file *file, enum hmm_dev_op op, unsigned long request,
			void *arg)
{
	int ret, cancel;

	/* The thread works on our command: we stay until it is done. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	pthread_mutex_lock(&file->lock);
	while (file->op != OP_NONE)
		pthread_cond_wait(&file->done, &file->lock);
	file->op = op;
	file->request = request;
	file->arg = arg;
	file->finished = false;
	pthread_cond_signal(&file->wake);
	while (!file->finished)
		pthread_cond_wait(&file->done, &file->lock);
	ret = file->ret;
	file->op = OP_NONE;
	pthread_cond_broadcast(&file->done);
	pthread_mutex_unlock(&file->lock);
	pthread_setcancelstate(cancel, NULL);
	return ret;
}

static void hmm_dev_file_free(struct hmm_dev_file *file)
{
	pthread_cond_destroy(&file->done);
	pthread_cond_destroy(&file->wake);
	pthread_mutex_destroy(&file->lock);
	munmap(file, sizeof(*file));
}

/* --- the file operations ------------------------------------------------------------- */

int hi_hmm_open(unsigned int minor, int flags, void **priv)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct hmm_dev_file *file;
	sigset_t all, old;
	int ret;

	if (!priv)
		return -EINVAL;
	if (minor >= HMM_DEV_PRIVATE_MINORS)
		return -ENOENT;
	pthread_once(&once, hmm_dev_atfork);
	file = mmap(NULL, sizeof(*file), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		    0);
	if (file == MAP_FAILED)
		return -ENOMEM;
	file->minor = minor;
	pthread_mutex_init(&file->lock, NULL);
	pthread_cond_init(&file->wake, NULL);
	pthread_cond_init(&file->done, NULL);

	/*
	 * The program's signals are for its own threads. Not the faults:
	 * the kernel kills a process whose thread faults with the signal
	 * blocked, and device copies catch theirs (lib/fault_guard.h).
	 */
	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&file->thread, NULL, hmm_dev_thread, file);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		hmm_dev_file_free(file);
		return -ENOMEM;
	}
	ret = hmm_dev_call(file, OP_OPEN, 0, NULL);
	if (ret) {
		pthread_join(file->thread, NULL);
		hmm_dev_file_free(file);
		return ret;
	}
	*priv = file;
	return 0;
}

int hi_hmm_ioctl(void *priv, unsigned long request, void *arg)
{
	struct hmm_dev_file *file = priv;

	if (!file)
		return -EINVAL;
	if (!hmm_dev_cmd_find(request)) {
		pr_debug("unknown ioctl %#lx", request);
		return -ENOTTY;
	}
	if (hmm_dev_inherited(file))
		return -EIO;
	return hmm_dev_call(file, OP_IOCTL, request, arg);
}

void hi_hmm_close(void *priv)
{
	struct hmm_dev_file *file = priv;

	if (!file)
		return;
	/*
	 * A copy of the parent's: its mirror and its thread are the parent's,
	 * and its lock may have been held there when the child was made.
	 */
	if (hmm_dev_inherited(file)) {
		munmap(file, sizeof(*file));
		return;
	}
	hmm_dev_call(file, OP_CLOSE, 0, NULL);
	pthread_join(file->thread, NULL);
	hmm_dev_file_free(file);
}

/*
 * The kernel driver gives each page of the mapping a new zeroed page
 * (vm_insert_page): read-only in a private mapping until a write copies
 * it, writable in a shared writable one. Pages of a memory file mapped
 * and populated the same way are seen the same by the CPU and by
 * hmm_range_fault().
 */
int hi_hmm_mmap(void *priv, void *addr, size_t length, int prot, int flags, off_t offset,
		void **mapped)
{
	int fd, advice;
	void *p;

	if (!priv || !mapped)
		return -EINVAL;
	if (!length || offset & (off_t)(PAGE_SIZE - 1) || !(flags & (MAP_SHARED | MAP_PRIVATE)))
		return -EINVAL;
	fd = memfd_create("hmm_dmirror", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)length)) {
		int ret = -errno;

		close(fd);
		return ret == -EINVAL || ret == -EFBIG ? -ENOMEM : ret;
	}
	p = mmap(addr, length, prot, flags, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -errno;
	advice = (flags & MAP_SHARED) && (prot & PROT_WRITE) ? MADV_POPULATE_WRITE :
							       MADV_POPULATE_READ;
	if (prot != PROT_NONE && !(flags & MAP_ANONYMOUS))
		madvise(p, length, advice);
	*mapped = p;
	return 0;
}
