// SPDX-License-Identifier: MIT
/*
 * The address-space context: one per process, created on first use. It
 * owns a userfaultfd and the thread that reads it.
 *
 * The handler thread reads messages in batches and handles the events of a
 * batch (UNMAP, REMOVE, REMAP) before its faults. A read returns pending
 * faults ahead of pending events, so within one batch the events are the
 * older news: a fault in a range that an mremap moved is only resolved
 * once the move is known. Faults run one at a time; a fault on a page
 * that a migration holds (its shadow entry has the migration bit) is left
 * alone: the migration wakes the range when it lets go, and the thread
 * faults again.
 *
 * Locking: the context list has one mutex (creation, references). The
 * handler thread takes no lock that a migrating thread holds while it
 * waits for the handler (migrations only wait for it inside
 * MADV_DONTNEED, and hold nothing but migration entries, which the
 * handler never waits for).
 */
#define pr_fmt(fmt) "uffd: " fmt

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <hetmem/err.h>
#include <hetmem/log.h>
#include "hmm_internal.h"
#include "uffd_compat.h"

#define MSG_BATCH 64
/* The handler thread's stack (the C library's default); a guard page below. */
#define HANDLER_STACK (8UL << 20)

static pthread_mutex_t mm_list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hetmem_mm *current_mm;
static __thread bool on_handler_thread;

bool uffd_on_handler_thread(void)
{
	return on_handler_thread;
}

struct hetmem_mm *hetmem_mm_current(void)
{
	return __atomic_load_n(&current_mm, __ATOMIC_ACQUIRE);
}

/*
 * A userfaultfd with @features, from the syscall or, when that is refused
 * (vm.unprivileged_userfaultfd = 0 without CAP_SYS_PTRACE), from
 * /dev/userfaultfd, whose permissions are the administrator's choice.
 */
static int uffd_open(unsigned long long features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0) {
		int err = errno, dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);

		if (dev < 0)
			return err == ENOSYS ? -ENOSYS : -EPERM;
		fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
		err = errno;
		close(dev);
		if (fd < 0)
			return err == EPERM || err == EACCES ? -EPERM : -ENOSYS;
	}
	if (ioctl(fd, UFFDIO_API, &api)) {
		close(fd);
		return -ENOSYS;
	}
	return fd;
}

static void mm_wake_waiters(struct hetmem_mm *mm)
{
	/*
	 * State store, then waiters load; a waiter does waiters store, then
	 * state load. Full-barrier read-modify-writes on both sides (no plain
	 * fences: ThreadSanitizer does not model them) make sure one of the
	 * two sees the other. The waits time out besides.
	 */
	if (!__atomic_fetch_add(&mm->waiters, 0, __ATOMIC_SEQ_CST))
		return;
	pthread_mutex_lock(&mm->wait_lock);
	mm->wait_gen++;
	pthread_cond_broadcast(&mm->wait_cond);
	pthread_mutex_unlock(&mm->wait_lock);
}

static void ev_gen_bump(struct hetmem_mm *mm)
{
	__atomic_add_fetch(&mm->ev_gen, 1, __ATOMIC_SEQ_CST);
	mm_wake_waiters(mm);
}

/*
 * Messages the handler read while it could not handle them: faults, and
 * the later halves of events, read from inside an ioctl that said EAGAIN.
 * Only the handler thread touches it.
 */
static __thread struct uffd_msg *pending;
static __thread unsigned int nr_pending, cap_pending;

static void defer(const struct uffd_msg *msg)
{
	if (nr_pending == cap_pending) {
		unsigned int cap = cap_pending ? cap_pending * 2 : 64;
		struct uffd_msg *n = realloc(pending, cap * sizeof(*n));

		if (!n) {
			/* The faulting thread will fault again: wake it instead. */
			pr_err("no memory to defer a userfaultfd message");
			return;
		}
		pending = n;
		cap_pending = cap;
	}
	pending[nr_pending++] = *msg;
}

void uffd_eagain(struct hetmem_mm *mm)
{
	struct uffd_msg msgs[MSG_BATCH];
	ssize_t n;

	if (on_handler_thread) {
		n = read(mm->uffd, msgs, sizeof(msgs));
		for (ssize_t i = 0; i < n / (ssize_t)sizeof(msgs[0]); i++) {
			if (msgs[i].event != UFFD_EVENT_PAGEFAULT && !uffd_event_now(mm, &msgs[i]))
				continue;
			defer(&msgs[i]);
		}
	}
	/* The event's producer must run to end the kernel's mmap_changing. */
	sched_yield();
}

static void handle_batch(struct hetmem_mm *mm, struct uffd_msg *msgs, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (msgs[i].event != UFFD_EVENT_PAGEFAULT && uffd_event_now(mm, &msgs[i]))
			uffd_event_later(mm, &msgs[i]);
	for (unsigned int i = 0; i < n; i++)
		if (msgs[i].event == UFFD_EVENT_PAGEFAULT)
			uffd_handle_fault(mm, &msgs[i]);
	/* What was read meanwhile: events' invalidations, then faults. */
	while (nr_pending) {
		struct uffd_msg *batch = pending;
		unsigned int nr = nr_pending;

		pending = NULL;
		nr_pending = cap_pending = 0;
		for (unsigned int i = 0; i < nr; i++)
			if (batch[i].event != UFFD_EVENT_PAGEFAULT)
				uffd_event_later(mm, &batch[i]);
		for (unsigned int i = 0; i < nr; i++)
			if (batch[i].event == UFFD_EVENT_PAGEFAULT)
				uffd_handle_fault(mm, &batch[i]);
		free(batch);
	}
	/* Every event read has been through the mirrors: their dropped pages can go. */
	swp_put_owed(mm);
}

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* HETMEM_UFFD_SPIN_US: how long the handler polls after work (default 0: never). */
static unsigned int spin_us_from_env(void)
{
	const char *s = getenv("HETMEM_UFFD_SPIN_US");

	return s && *s ? (unsigned int)strtoul(s, NULL, 0) : 0;
}

static void *uffd_handler(void *arg)
{
	struct hetmem_mm *mm = arg;
	struct uffd_msg msgs[MSG_BATCH];
	struct pollfd pfd[2] = {
		{ .fd = mm->uffd, .events = POLLIN },
		{ .fd = mm->stop_fd, .events = POLLIN },
	};

	double spin_until = 0;

	on_handler_thread = true;
	pthread_setname_np(pthread_self(), "hetmem-uffd");
	for (;;) {
		ssize_t n;

		/*
		 * Odd before the read: a thread released by it (its munmap's
		 * event was just read) sees the batch in progress and can wait
		 * for it (mm_sync_events()).
		 */
		ev_gen_bump(mm);
		n = read(mm->uffd, msgs, sizeof(msgs));
		if (n < 0) {
			ev_gen_bump(mm);
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				pr_err("reading the userfaultfd failed: errno %d", errno);
				break;
			}
			/*
			 * Busy for a moment after work: a thread that just got its
			 * page often faults again right away, and a sleeping handler
			 * costs it a wake-up (see Documentation/hmm.md).
			 */
			if (now_us() < spin_until &&
			    !__atomic_load_n(&mm->stopping, __ATOMIC_RELAXED))
				continue;
			if (poll(pfd, 2, -1) < 0 && errno != EINTR) {
				pr_err("poll failed: errno %d", errno);
				break;
			}
			if (pfd[1].revents)
				break;
			continue;
		}
		handle_batch(mm, msgs, (unsigned int)(n / (ssize_t)sizeof(msgs[0])));
		ev_gen_bump(mm);
		if (mm->spin_us)
			spin_until = now_us() + mm->spin_us;
	}
	free(pending);
	pending = NULL;
	nr_pending = cap_pending = 0;
	return NULL;
}

static void mm_free(struct hetmem_mm *mm)
{
	swp_park_fini(mm);
	pthread_mutex_destroy(&mm->park_lock);
	pthread_mutex_destroy(&mm->owed_lock);
	free(mm->owed);
	va_table_destroy(&mm->swp);
	uffd_ranges_fini(&mm->ranges);
	pthread_rwlock_destroy(&mm->fork_lock);
	pthread_mutex_destroy(&mm->wait_lock);
	pthread_cond_destroy(&mm->wait_cond);
	pthread_mutex_destroy(&mm->zap_lock);
	free(mm);
}

/*
 * The handler runs on a stack hetmem maps (see struct hetmem_mm): reserved
 * lazily, as the C library's, and unmapped once the thread is joined.
 */
static int handler_start(struct hetmem_mm *mm)
{
	size_t len = HANDLER_STACK + PAGE_SIZE;
	pthread_attr_t attr;
	char *stack;
	int ret;

	stack = mmap(NULL, len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
	if (stack == MAP_FAILED)
		return -ENOMEM;
	if (mprotect(stack, PAGE_SIZE, PROT_NONE)) {
		munmap(stack, len);
		return -ENOMEM;
	}
	ret = -pthread_attr_init(&attr);
	if (!ret) {
		ret = -pthread_attr_setstack(&attr, stack + PAGE_SIZE, HANDLER_STACK);
		if (!ret)
			ret = -pthread_create(&mm->thread, &attr, uffd_handler, mm);
		pthread_attr_destroy(&attr);
	}
	if (ret) {
		munmap(stack, len);
		return ret;
	}
	mm->stack = stack;
	mm->stack_len = len;
	return 0;
}

bool mm_handler_stack(struct hetmem_mm *mm, unsigned long start, unsigned long end)
{
	return start < (unsigned long)mm->stack + mm->stack_len && end > (unsigned long)mm->stack;
}

static struct hetmem_mm *mm_create(void)
{
	const unsigned long long need = UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP |
					UFFD_FEATURE_EVENT_REMAP | UFFD_FEATURE_THREAD_ID;
	struct hetmem_mm *mm = calloc(1, sizeof(*mm));
	int ret;

	if (!mm)
		return ERR_PTR(-ENOMEM);
	mm->uffd = mm->stop_fd = -1;
	pthread_rwlock_init(&mm->fork_lock, NULL);
	pthread_mutex_init(&mm->wait_lock, NULL);
	pthread_cond_init(&mm->wait_cond, NULL);
	pthread_mutex_init(&mm->zap_lock, NULL);
	INIT_LIST_HEAD(&mm->zaps);
	pthread_mutex_init(&mm->park_lock, NULL);
	INIT_LIST_HEAD(&mm->parked);
	pthread_mutex_init(&mm->owed_lock, NULL);
	mmu_notifier_subscriptions_init(&mm->notifiers);
	uffd_ranges_init(&mm->ranges);
	ret = va_table_init(&mm->swp);
	if (ret)
		goto fail;

	/* UFFDIO_MOVE if the kernel has it (6.8), else copy and discard. */
	mm->uffd = uffd_open(need | UFFD_FEATURE_MOVE);
	mm->have_move = mm->uffd >= 0;
	if (mm->uffd == -ENOSYS)
		mm->uffd = uffd_open(need);
	if (mm->uffd < 0) {
		ret = mm->uffd;
		pr_err("no userfaultfd (%d): %s", ret,
		       ret == -EPERM ? "needs root or access to /dev/userfaultfd" :
				       "kernel lacks write-protect or events");
		goto fail;
	}
	if (mm->have_move) {
		ret = sys_pool_init(&mm->pool, mm);
		if (ret)
			goto fail;
	}
	mm->spin_us = spin_us_from_env();
	mm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (mm->stop_fd < 0) {
		ret = -errno;
		goto fail_pool;
	}
	ret = handler_start(mm);
	if (ret)
		goto fail_pool;
	hmm_fork_init();
	pr_info("address space context ready (UFFDIO_MOVE %s, pool %lu MiB)",
		mm->have_move ? "yes" : "no", (mm->pool.nslots << PAGE_SHIFT) >> 20);
	return mm;
fail_pool:
	sys_pool_fini(&mm->pool);
fail:
	if (mm->stop_fd >= 0)
		close(mm->stop_fd);
	if (mm->uffd >= 0)
		close(mm->uffd);
	mm_free(mm);
	return ERR_PTR(ret == -EAGAIN || ret == -EPERM || ret == -ENOSYS ? ret : -ENOMEM);
}

/* Device-private entries left at teardown lose their pages' references. */
static bool drop_leftover(unsigned long va, unsigned long *slot, void *arg)
{
	struct page *page = swp_page(*slot);

	if (page) {
		pr_warn("page at %#lx still on a device at teardown: its data is lost", va);
		page->private = 0;
		put_page(page);
	}
	*slot = 0;
	return true;
}

static void mm_destroy(struct hetmem_mm *mm)
{
	uint64_t one = 1;

	/* Whatever is still on a device comes home while the handler runs. */
	mm_evict_all(mm);
	__atomic_store_n(&mm->stopping, true, __ATOMIC_RELAXED);

	if (write(mm->stop_fd, &one, sizeof(one)) != sizeof(one))
		pr_err("cannot stop the handler thread: errno %d", errno);
	pthread_join(mm->thread, NULL);
	munmap(mm->stack, mm->stack_len);
	swp_put_owed(mm);
	/* Only now: the handler sends invalidations until it stops. */
	mmu_notifier_subscriptions_fini(mm);
	/*
	 * Closing the userfaultfd unregisters every range and wakes any thread
	 * still waiting in a fault; write-protect marks lose their meaning.
	 */
	close(mm->uffd);
	close(mm->stop_fd);
	va_table_for_each(&mm->swp, 0, ~0UL, drop_leftover, NULL);
	sys_pool_fini(&mm->pool);
	mm_free(mm);
}

struct hetmem_mm *hetmem_mm_get(void)
{
	struct hetmem_mm *mm;

	pthread_mutex_lock(&mm_list_lock);
	mm = current_mm;
	if (!mm) {
		mm = mm_create();
		if (IS_ERR(mm))
			goto out;
		__atomic_store_n(&current_mm, mm, __ATOMIC_RELEASE);
	}
	mm->refs++;
out:
	pthread_mutex_unlock(&mm_list_lock);
	return mm;
}

void hetmem_mm_put(struct hetmem_mm *mm)
{
	bool last;

	if (!mm || mm->dead)
		return;
	pthread_mutex_lock(&mm_list_lock);
	last = --mm->refs == 0;
	if (last) {
		/*
		 * Teardown migrates pages home, which takes and drops references
		 * of its own: hold one so they never reach zero again.
		 */
		mm->refs = 1;
		if (current_mm == mm)
			__atomic_store_n(&current_mm, NULL, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&mm_list_lock);
	if (last)
		mm_destroy(mm);
}

/* The process's context with a reference, without creating one; NULL if none. */
struct hetmem_mm *hetmem_mm_tryget(void)
{
	struct hetmem_mm *mm;

	pthread_mutex_lock(&mm_list_lock);
	mm = current_mm;
	if (mm)
		mm->refs++;
	pthread_mutex_unlock(&mm_list_lock);
	return mm;
}

/* A reference on a context the caller already reaches (migrations, notifiers). */
void hetmem_mm_grab(struct hetmem_mm *mm)
{
	pthread_mutex_lock(&mm_list_lock);
	mm->refs++;
	pthread_mutex_unlock(&mm_list_lock);
}

/* Fork child: the context belongs to the parent; forget it without freeing. */
void hetmem_mm_orphan(void)
{
	struct hetmem_mm *mm = current_mm;

	pthread_mutex_init(&mm_list_lock, NULL);
	current_mm = NULL;
	if (!mm)
		return;
	mm->dead = true;
	/*
	 * The parent's ranges are not registered in the child (no fork
	 * events), and keeping the descriptor open would keep the parent's
	 * context alive after the parent closes it.
	 */
	close(mm->uffd);
	close(mm->stop_fd);
}

void hetmem_mm_stats(struct hetmem_mm *mm, struct hetmem_mm_stats *stats)
{
	const unsigned long *src = (const unsigned long *)&mm->stats;
	unsigned long *dst = (unsigned long *)stats;

	for (size_t i = 0; i < sizeof(*stats) / sizeof(unsigned long); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

void mm_swp_released(struct hetmem_mm *mm)
{
	mm_wake_waiters(mm);
}

static void deadline_in(struct timespec *t, int ms)
{
	clock_gettime(CLOCK_REALTIME, t);
	t->tv_sec += ms / 1000;
	t->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

void mm_sync_events(struct hetmem_mm *mm)
{
	unsigned long gen = __atomic_load_n(&mm->ev_gen, __ATOMIC_SEQ_CST);
	struct timespec deadline;

	if (!(gen & 1) || on_handler_thread)
		return;
	deadline_in(&deadline, 10000);
	pthread_mutex_lock(&mm->wait_lock);
	__atomic_add_fetch(&mm->waiters, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&mm->ev_gen, __ATOMIC_SEQ_CST) == gen) {
		if (pthread_cond_timedwait(&mm->wait_cond, &mm->wait_lock, &deadline) ==
		    ETIMEDOUT) {
			pr_err("the fault handler thread is stuck");
			break;
		}
	}
	__atomic_sub_fetch(&mm->waiters, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&mm->wait_lock);
}

void hetmem_mm_sync(struct hetmem_mm *mm)
{
	mm_sync_events(mm);
}

int mm_swp_wait(struct hetmem_mm *mm, unsigned long *slot, int timeout_ms)
{
	struct timespec deadline;
	int ret = 0;

	deadline_in(&deadline, timeout_ms);
	pthread_mutex_lock(&mm->wait_lock);
	__atomic_add_fetch(&mm->waiters, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(slot, __ATOMIC_SEQ_CST) & SWP_MIGRATION) {
		if (pthread_cond_timedwait(&mm->wait_cond, &mm->wait_lock, &deadline) ==
		    ETIMEDOUT) {
			ret = -ETIMEDOUT;
			break;
		}
	}
	__atomic_sub_fetch(&mm->waiters, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&mm->wait_lock);
	return ret;
}
