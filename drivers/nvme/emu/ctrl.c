// SPDX-License-Identifier: MIT
/*
 * The emulated NVMe controller: creation, the registry behind
 * nvme_emu_from_pdev(), the controller thread, and interrupts.
 *
 * The controller thread does all the work. It wakes on a doorbell or
 * register write, serves the SQs round-robin (NVME_EMU_BURST commands from
 * each in turn: the spec's round-robin arbitration), and when it
 * runs out of work it keeps polling the doorbells for a while before it
 * sleeps: on these virtual machines a sleeping thread takes ~70 us to wake,
 * an order of magnitude more than a 4 KiB command costs, so a driver that
 * keeps the queues busy must find the thread awake. The polling budget
 * adapts between 25 and 100 us: it doubles when a sleep turns out to have
 * been short (work came soon after), and halves when the controller sleeps
 * for long, so an idle controller costs almost nothing. On an oversubscribed
 * machine polling hurts: the driver that would ring the next doorbell may
 * be waiting for this CPU. The poll loop yields now and then, and when two
 * polls are far apart (the CPU was taken away) it stops polling at once.
 *
 * Sleeping and waking follow the usual store-then-check on both sides: the
 * BAR handler publishes the doorbell, then looks at @sleeping; the thread
 * sets @sleeping, then looks for work, under @wake_lock so a signal cannot
 * slip between its check and its wait.
 */
#define pr_fmt(fmt) "nvme-emu: " fmt

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <hetmem/err.h>
#include <hetmem/log.h>
#include "emu.h"

#define NVME_EMU_MAGIC 0x4e564d65456d754cULL /* "NVMeEmuL" */
#define SPIN_MIN_NS    25000ULL
#define SPIN_MAX_NS    100000ULL
#define SPIN_START_NS  50000ULL
#define SHORT_SLEEP_NS 1000000ULL
#define YIELD_EVERY    32 /* idle polls between sched_yield() calls */
#define PREEMPT_GAP_NS 50000ULL /* polls this far apart: the CPU went elsewhere */

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct list_head registry = LIST_HEAD_INIT(registry);

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

uint64_t nvme_emu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* --- interrupts ------------------------------------------------------------------ */

/*
 * A completion raises its vector once; the thread adds them up during a
 * burst and signals each vector once at the end of it. An eventfd counts,
 * so the driver reads the same total either way, with one system call per
 * burst instead of one per command.
 */
void nvme_emu_irq_raise(struct nvme_emu *emu, unsigned int vector)
{
	emu->irq_count[vector]++;
	emu->irq_dirty |= 1ULL << vector;
}

static void irq_signal(struct nvme_emu *emu, unsigned int v, uint64_t n)
{
	if (eventfd_write(emu->irq_fd[v], n))
		pr_err("%s: interrupt vector %u: %s", emu->name, v, strerror(errno));
}

/* INTMS masks vectors 0-31 (sec. 3.1.3); higher vectors cannot be masked. */
static bool irq_is_masked(struct nvme_emu *emu, unsigned int v)
{
	return v < 32 && (__atomic_load_n(&emu->intms, __ATOMIC_ACQUIRE) & (1u << v));
}

void nvme_emu_irq_flush(struct nvme_emu *emu)
{
	while (emu->irq_dirty) {
		unsigned int v = (unsigned int)__builtin_ctzll(emu->irq_dirty);
		uint32_t n = emu->irq_count[v];

		emu->irq_dirty &= emu->irq_dirty - 1;
		emu->irq_count[v] = 0;
		if (!irq_is_masked(emu, v)) {
			irq_signal(emu, v, n);
			continue;
		}
		/*
		 * Held back until INTMC unmasks it. If the unmask raced with
		 * us, the handler may already have looked: look again.
		 */
		__atomic_add_fetch(&emu->irq_masked[v], n, __ATOMIC_SEQ_CST);
		if (!irq_is_masked(emu, v)) {
			n = __atomic_exchange_n(&emu->irq_masked[v], 0, __ATOMIC_SEQ_CST);
			if (n)
				irq_signal(emu, v, n);
		}
	}
}

/* Called by the INTMC handler once the mask bits are clear. */
void nvme_emu_irq_unmask(struct nvme_emu *emu, uint32_t vectors)
{
	while (vectors) {
		unsigned int v = (unsigned int)__builtin_ctz(vectors);
		uint32_t n;

		vectors &= vectors - 1;
		if (v >= emu->nr_vectors)
			continue;
		n = __atomic_exchange_n(&emu->irq_masked[v], 0, __ATOMIC_SEQ_CST);
		if (n)
			irq_signal(emu, v, n);
	}
}

/* --- the controller thread --------------------------------------------------------- */

void nvme_emu_kick(struct nvme_emu *emu)
{
	/*
	 * Pairs with sleep_until_kicked(): publish, then look. Both sides do a
	 * read-modify-write on one word instead of a fence (ThreadSanitizer
	 * does not model fences): whichever comes second in that word's order
	 * sees what the other published, so either the sleeper sees the work
	 * or the kicker sees the sleeper.
	 */
	__atomic_fetch_add(&emu->kick_sync, 0, __ATOMIC_SEQ_CST);
	if (!__atomic_load_n(&emu->sleeping, __ATOMIC_SEQ_CST))
		return;
	pthread_mutex_lock(&emu->wake_lock);
	pthread_cond_signal(&emu->wake);
	pthread_mutex_unlock(&emu->wake_lock);
}

static bool running(const struct nvme_emu *emu)
{
	return emu->enabled && !emu->fatal && !emu->shut_down;
}

static bool has_work(struct nvme_emu *emu)
{
	if (__atomic_load_n(&emu->stop, __ATOMIC_ACQUIRE) ||
	    __atomic_load_n(&emu->cc_events, __ATOMIC_ACQUIRE))
		return true;
	if (!running(emu))
		return false;
	if (__atomic_load_n(&emu->db_err_any, __ATOMIC_ACQUIRE))
		return true;
	for (unsigned int qid = 0; qid < emu->nr_queues; qid++)
		if (emu->sq[qid] && nvme_emu_sq_ready(emu, emu->sq[qid]))
			return true;
	return nvme_emu_aer_ready(emu);
}

/**
 * nvme_emu_run_once - one pass over everything the controller has to do
 * @emu: the controller (its thread, or the caller of nvme_emu_step())
 *
 * Return: true when something was done.
 */
bool nvme_emu_run_once(struct nvme_emu *emu)
{
	bool work = false;
	uint64_t t0 = 0;

	if (__atomic_load_n(&emu->cc_events, __ATOMIC_ACQUIRE))
		work |= nvme_emu_handle_cc(emu);
	if (!running(emu))
		return work;
	if (__atomic_load_n(&emu->db_err_any, __ATOMIC_ACQUIRE))
		work |= nvme_emu_db_errors(emu);

	for (unsigned int i = 0; i < emu->nr_queues && running(emu); i++) {
		struct nvme_emu_sq *sq = emu->sq[(emu->rr + i) % emu->nr_queues];

		if (!sq || !nvme_emu_sq_ready(emu, sq))
			continue;
		/* The clock is read only when there is work: idle polls stay cheap. */
		if (!t0)
			t0 = nvme_emu_now_ns();
		if (nvme_emu_sq_process(emu, sq))
			work = true;
	}
	emu->rr++;
	if (t0)
		emu->smart.busy_ns += nvme_emu_now_ns() - t0;
	if (running(emu))
		work |= nvme_emu_aer_post(emu);
	nvme_emu_irq_flush(emu);
	return work;
}

static void sleep_until_kicked(struct nvme_emu *emu, bool contended)
{
	uint64_t t0 = nvme_emu_now_ns(), slept;

	pthread_mutex_lock(&emu->wake_lock);
	__atomic_store_n(&emu->sleeping, 1, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&emu->kick_sync, 0, __ATOMIC_SEQ_CST);
	while (!has_work(emu))
		pthread_cond_wait(&emu->wake, &emu->wake_lock);
	__atomic_store_n(&emu->sleeping, 0, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&emu->wake_lock);

	slept = nvme_emu_now_ns() - t0;
	if (contended)
		emu->spin_ns = SPIN_MIN_NS;
	else if (slept < SHORT_SLEEP_NS)
		emu->spin_ns = nvme_emu_min(emu->spin_ns * 2, SPIN_MAX_NS);
	else if (emu->spin_ns > SPIN_MIN_NS)
		emu->spin_ns /= 2;
}

static void *controller_thread(void *arg)
{
	struct nvme_emu *emu = arg;
	uint64_t idle_since = 0, last = 0;
	unsigned int spins = 0;

	while (!__atomic_load_n(&emu->stop, __ATOMIC_ACQUIRE)) {
		bool preempted;
		uint64_t now;

		if (nvme_emu_run_once(emu)) {
			idle_since = last = 0;
			continue;
		}
		now = nvme_emu_now_ns();
		if (!idle_since)
			idle_since = now;
		/*
		 * A gap between two polls means the CPU went elsewhere: the
		 * machine is oversubscribed, and whoever will ring the next
		 * doorbell may be waiting for this very CPU. Spinning would
		 * only delay them; sleeping lets them run, and the wake-up
		 * brings the controller back at once.
		 */
		preempted = last && now - last > PREEMPT_GAP_NS;
		last = now;
		if (!preempted && now - idle_since < emu->spin_ns) {
			/* Let a thread waiting for this CPU in now and then. */
			if (++spins % YIELD_EVERY == 0)
				sched_yield();
			else
				for (int i = 0; i < 16; i++)
					cpu_relax();
			continue;
		}
		sleep_until_kicked(emu, preempted);
		idle_since = last = 0;
	}
	return NULL;
}

/* --- lifetime ------------------------------------------------------------------------ */

static int check_params(const struct nvme_emu_params *p)
{
	if (!p || !p->name || p->nr_ns > NVME_EMU_MAX_NS ||
	    p->max_io_queues > NVME_EMU_MAX_IO_QUEUES)
		return -EINVAL;
	if (p->cmb_size && (p->cmb_size < (1ULL << 20) || (p->cmb_size & (p->cmb_size - 1)) ||
			    p->cmb_size >> 20 > 0xfffff))
		return -EINVAL;
	for (unsigned int i = 0; i < p->nr_ns; i++) {
		const struct nvme_emu_ns_params *n = &p->ns[i];

		if ((n->lba_shift != 9 && n->lba_shift != 12) || !n->size ||
		    (n->size & ((1ULL << n->lba_shift) - 1)))
			return -EINVAL;
	}
	return 0;
}

/* Identify strings are ASCII; anything else would confuse nvme-cli. */
static void copy_ascii(char *dst, size_t len, const char *src)
{
	size_t i;

	for (i = 0; i + 1 < len && src[i]; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '_';
	dst[i] = '\0';
}

static void free_emu(struct nvme_emu *emu)
{
	for (unsigned int i = 0; i < emu->nr_ns; i++)
		nvme_emu_ns_exit(&emu->ns[i]);
	for (unsigned int v = 0; v < emu->nr_vectors; v++)
		if (emu->irq_fd[v] >= 0)
			close(emu->irq_fd[v]);
	nvme_emu_sg_free(&emu->sg);
	nvme_emu_inject_free(emu);
	free(emu->bounce);
	free(emu->bounce2);
	free(emu->sq_db);
	free(emu->cq_db);
	free(emu->sq_live);
	free(emu->cq_live);
	free(emu->sq);
	free(emu->cq);
	pthread_mutex_destroy(&emu->reg_lock);
	pthread_mutex_destroy(&emu->ev_lock);
	pthread_mutex_destroy(&emu->wake_lock);
	pthread_cond_destroy(&emu->wake);
	free(emu);
}

static int alloc_state(struct nvme_emu *emu)
{
	unsigned int n = emu->nr_queues;

	emu->sq_db = calloc(n, sizeof(*emu->sq_db));
	emu->cq_db = calloc(n, sizeof(*emu->cq_db));
	emu->sq_live = calloc(n, sizeof(*emu->sq_live));
	emu->cq_live = calloc(n, sizeof(*emu->cq_live));
	emu->sq = calloc(n, sizeof(*emu->sq));
	emu->cq = calloc(n, sizeof(*emu->cq));
	emu->bounce = aligned_alloc(NVME_EMU_PAGE_SIZE, NVME_EMU_MAX_XFER);
	emu->bounce2 = aligned_alloc(NVME_EMU_PAGE_SIZE, NVME_EMU_MAX_XFER);
	if (!emu->sq_db || !emu->cq_db || !emu->sq_live || !emu->cq_live || !emu->sq || !emu->cq ||
	    !emu->bounce || !emu->bounce2)
		return -ENOMEM;
	for (unsigned int v = 0; v < emu->nr_vectors; v++) {
		emu->irq_fd[v] = eventfd(0, EFD_CLOEXEC);
		if (emu->irq_fd[v] < 0)
			return -errno;
	}
	return 0;
}

static uint64_t make_cap(const struct nvme_emu *emu)
{
	uint64_t cap = (uint64_t)emu->mqes << NVME_CAP_MQES_SHIFT;

	cap |= NVME_CAP_CQR_BIT;
	cap |= (uint64_t)NVME_EMU_TIMEOUT << NVME_CAP_TO_SHIFT;
	cap |= (uint64_t)NVME_CAP_CSS_NVM << NVME_CAP_CSS_SHIFT;
	/* DSTRD = 0 (4-byte doorbell stride), MPSMIN = MPSMAX = 0 (4 KiB). */
	if (emu->cmb_size)
		cap |= NVME_CAP_CMBS_BIT;
	return cap;
}

struct nvme_emu *nvme_emu_create(struct pci_dev *port, unsigned int function,
				 const struct nvme_emu_params *params)
{
	struct pci_endpoint_info info;
	struct nvme_emu *emu;
	struct pci_dev *pdev;
	int ret;

	ret = check_params(params);
	if (ret)
		return ERR_PTR(ret);
	emu = calloc(1, sizeof(*emu));
	if (!emu)
		return ERR_PTR(-ENOMEM);
	emu->magic = NVME_EMU_MAGIC;
	INIT_LIST_HEAD(&emu->node);
	pthread_mutex_init(&emu->reg_lock, NULL);
	pthread_mutex_init(&emu->ev_lock, NULL);
	pthread_mutex_init(&emu->wake_lock, NULL);
	pthread_cond_init(&emu->wake, NULL);
	for (unsigned int v = 0; v < NVME_EMU_MAX_VECTORS; v++)
		emu->irq_fd[v] = -1;

	snprintf(emu->name, sizeof(emu->name), "%s", params->name);
	if (params->serial)
		copy_ascii(emu->serial, sizeof(emu->serial), params->serial);
	else
		snprintf(emu->serial, sizeof(emu->serial), "HM%.18s", params->name);
	copy_ascii(emu->model, sizeof(emu->model),
		   params->model ? params->model : "hetmem emulated NVMe");
	emu->vendor = params->vendor ? params->vendor : NVME_EMU_VENDOR;
	emu->device = params->device ? params->device : NVME_EMU_DEVICE;
	emu->mqes = params->mqes ? params->mqes : NVME_EMU_DEF_MQES;
	emu->max_io_queues = params->max_io_queues ? params->max_io_queues : NVME_EMU_DEF_IO_QUEUES;
	emu->nr_queues = emu->max_io_queues + 1;
	emu->nr_vectors = emu->nr_queues;
	emu->cmb_size = params->cmb_size;
	emu->cap = make_cap(emu);
	emu->page_size = NVME_EMU_PAGE_SIZE;
	emu->spin_ns = SPIN_START_NS;
	clock_gettime(CLOCK_MONOTONIC, &emu->created);

	ret = alloc_state(emu);
	if (ret)
		goto fail;
	for (unsigned int i = 0; i < params->nr_ns; i++) {
		/* Counted first: a namespace that fails half way is freed too. */
		emu->nr_ns = i + 1;
		ret = nvme_emu_ns_init(&emu->ns[i], i + 1, &params->ns[i], emu->serial);
		if (ret)
			goto fail;
	}
	nvme_emu_features_reset(emu);

	memset(&info, 0, sizeof(info));
	info.name = params->name;
	info.vendor = emu->vendor;
	info.device = emu->device;
	info.subsystem_vendor = emu->vendor;
	info.subsystem_device = emu->device;
	info.class = NVME_EMU_CLASS;
	info.function = function;
	info.bar[0].size = NVME_EMU_BAR0_SIZE;
	info.bar[0].flags = PCI_BAR_MEM64;
	info.bar[0].ops = &nvme_emu_bar_ops;
	if (emu->cmb_size) {
		info.bar[2].size = emu->cmb_size;
		info.bar[2].flags = PCI_BAR_MEM64 | PCI_BAR_PREFETCH;
	}
	info.priv = emu;
	pdev = pci_endpoint_add(port, &info);
	if (IS_ERR(pdev)) {
		ret = (int)PTR_ERR(pdev);
		goto fail;
	}
	emu->pdev = pdev;
	emu->cmb = emu->cmb_size ? pci_iomap(pdev, 2) : NULL;
	pci_set_drvdata(pdev, emu);

	pthread_mutex_lock(&registry_lock);
	list_add_tail(&emu->node, &registry);
	pthread_mutex_unlock(&registry_lock);
	pr_info("%s: %u namespaces, %u I/O queues of up to %u entries, CMB %llu MiB", emu->name,
		emu->nr_ns, emu->max_io_queues, emu->mqes + 1u,
		(unsigned long long)(emu->cmb_size >> 20));
	return emu;

fail:
	free_emu(emu);
	return ERR_PTR(ret);
}

int nvme_emu_start(struct nvme_emu *emu)
{
	int ret;

	if (emu->started || emu->stepped)
		return 0;
	ret = pthread_create(&emu->thread, NULL, controller_thread, emu);
	if (ret)
		return -ret;
	emu->started = true;
	return 0;
}

/**
 * nvme_emu_stop_thread - stop the controller thread and wait for it
 * @emu: the controller; nothing happens when its thread is not running
 */
void nvme_emu_stop_thread(struct nvme_emu *emu)
{
	if (!emu->started)
		return;
	__atomic_store_n(&emu->stop, 1, __ATOMIC_RELEASE);
	pthread_mutex_lock(&emu->wake_lock);
	pthread_cond_signal(&emu->wake);
	pthread_mutex_unlock(&emu->wake_lock);
	pthread_join(emu->thread, NULL);
	emu->started = false;
	__atomic_store_n(&emu->stop, 0, __ATOMIC_RELAXED);
}

void nvme_emu_destroy(struct nvme_emu *emu)
{
	if (!emu)
		return;
	pthread_mutex_lock(&registry_lock);
	list_del(&emu->node);
	pthread_mutex_unlock(&registry_lock);

	nvme_emu_stop_thread(emu);
	/* The BAR handler finds no controller from now on. */
	pci_set_drvdata(emu->pdev, NULL);
	nvme_emu_queues_reset(emu);
	/*
	 * No write-back here: what the cache holds is lost, as on power
	 * loss. Flush and shutdown (CC.SHN) are how data gets out.
	 */
	free_emu(emu);
}

struct pci_dev *nvme_emu_pdev(struct nvme_emu *emu)
{
	return emu->pdev;
}

struct nvme_emu *nvme_emu_from_pdev(struct pci_dev *pdev)
{
	struct nvme_emu *emu, *found = NULL;
	void *priv;

	if (!pdev)
		return NULL;
	priv = pci_get_drvdata(pdev);
	if (!priv)
		return NULL;
	/*
	 * Another model's data may be anything: it is compared against the
	 * registry, never dereferenced, until it is known to be ours.
	 */
	pthread_mutex_lock(&registry_lock);
	list_for_each_entry(emu, &registry, node) {
		if ((void *)emu == priv && emu->pdev == pdev && emu->magic == NVME_EMU_MAGIC) {
			found = emu;
			break;
		}
	}
	pthread_mutex_unlock(&registry_lock);
	return found;
}

int nvme_emu_irq_fd(struct nvme_emu *emu, unsigned int vector)
{
	if (vector >= emu->nr_vectors)
		return -EINVAL;
	return emu->irq_fd[vector];
}
