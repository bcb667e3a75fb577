// SPDX-License-Identifier: MIT
/*
 * The emulated GPU: creation, the registry behind gpu_emu_from_pdev(), the
 * channel threads, interrupts, the requests register writes leave to a
 * channel thread, and reset.
 *
 * Each channel thread wakes on its doorbell (or a replay, cancel or
 * request), runs its channel's commands step by step, and when it runs out
 * of work keeps polling for a while before it sleeps, as the NVMe model
 * does: a sleeping thread takes tens of microseconds to wake, more than a
 * fault round trip may cost. The polling budget adapts between 25 and
 * 100 us (doubled after a short sleep, halved after a long one), the poll
 * yields now and then, and it stops at once when two polls are far apart
 * (the CPU was taken away: whoever would give the device work may be
 * waiting for this CPU). Only channels that were busy poll: an unused
 * channel's thread sleeps.
 *
 * Sleeping and waking follow store-then-check on both sides: the BAR
 * handler publishes its write, then looks at @sleeping; the thread sets
 * @sleeping, then looks for work, under @wake_lock so a signal cannot slip
 * between its check and its wait.
 */
#define pr_fmt(fmt) "gpu-emu: " fmt

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <hetmem/err.h>
#include <hetmem/log.h>
#include "emu.h"

#define GPU_EMU_MAGIC  0x4750556d456d754cULL /* "GPUmEmuL" */
#define SPIN_MIN_NS    25000ULL
#define SPIN_MAX_NS    100000ULL
#define SPIN_START_NS  50000ULL
#define SHORT_SLEEP_NS 1000000ULL
#define YIELD_EVERY    32
#define PREEMPT_GAP_NS 50000ULL

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct list_head registry = LIST_HEAD_INIT(registry);

/* The GPU whose channel thread this is, if any. */
static __thread const struct gpu_emu *this_thread_emu;

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void gpu_emu_guest_error(struct gpu_emu *emu, uint32_t code, uint64_t info, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* No lock: this may run under any of the device's locks. */
	__atomic_store_n(&emu->error_code, code, __ATOMIC_SEQ_CST);
	__atomic_store_n(&emu->error_info, info, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&emu->error_count, 1, __ATOMIC_SEQ_CST);
	guest_err("%s: %s", emu->name, msg);
}

bool gpu_emu_on_device_thread(void)
{
	return this_thread_emu != NULL;
}

/* From now on this thread does @emu's work (NULL: it stops); see bar_write(). */
void gpu_emu_set_device_thread(const struct gpu_emu *emu)
{
	this_thread_emu = emu;
}

/* --- interrupts ------------------------------------------------------------------ */

/*
 * Events are added up and signalled at the end of a thread's pass, once
 * per vector: an eventfd counts, so the driver reads the same total either
 * way, with one system call per pass instead of one per event.
 */
void gpu_emu_irq_raise(struct gpu_emu *emu, unsigned int vector)
{
	__atomic_or_fetch(&emu->irq_status, 1u << vector, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&emu->irq_count[vector], 1, __ATOMIC_SEQ_CST);
}

static void irq_signal(struct gpu_emu *emu, unsigned int v, uint64_t n)
{
	if (eventfd_write(emu->irq_fd[v], n))
		pr_err("%s: interrupt vector %u: %s", emu->name, v, strerror(errno));
}

static bool irq_is_masked(struct gpu_emu *emu, unsigned int v)
{
	return __atomic_load_n(&emu->irq_mask, __ATOMIC_SEQ_CST) & (1u << v);
}

void gpu_emu_irq_flush(struct gpu_emu *emu)
{
	for (unsigned int v = 0; v < GPU_NR_VECTORS; v++) {
		uint32_t n;

		if (!__atomic_load_n(&emu->irq_count[v], __ATOMIC_RELAXED))
			continue;
		n = __atomic_exchange_n(&emu->irq_count[v], 0, __ATOMIC_SEQ_CST);
		if (!n)
			continue;
		if (!irq_is_masked(emu, v)) {
			irq_signal(emu, v, n);
			continue;
		}
		/* Held until the mask bit clears; look again in case it just did. */
		__atomic_add_fetch(&emu->irq_held[v], n, __ATOMIC_SEQ_CST);
		if (!irq_is_masked(emu, v)) {
			n = __atomic_exchange_n(&emu->irq_held[v], 0, __ATOMIC_SEQ_CST);
			if (n)
				irq_signal(emu, v, n);
		}
	}
}

/* Called by the IRQ_MASK handler once the bits are clear. */
void gpu_emu_irq_unmask(struct gpu_emu *emu, uint32_t vectors)
{
	for (unsigned int v = 0; v < GPU_NR_VECTORS; v++) {
		uint32_t n;

		if (!(vectors & (1u << v)))
			continue;
		n = __atomic_exchange_n(&emu->irq_held[v], 0, __ATOMIC_SEQ_CST);
		if (n)
			irq_signal(emu, v, n);
	}
}

/* --- requests ------------------------------------------------------------------------ */

static void apply_requests(struct gpu_emu *emu, struct gpu_emu_channel *ch, uint32_t req)
{
	if (req & GPU_EMU_REQ_OFF)
		gpu_emu_channel_off(emu, ch);
}

/*
 * A request from a register write, carried out by @ch's thread between
 * two steps; the write returns once it is. Before the threads run there is
 * nobody to race with: it is done here.
 */
void gpu_emu_request(struct gpu_emu_channel *ch, uint32_t req)
{
	struct gpu_emu *emu = ch->emu;
	uint64_t ticket;

	if (!ch->started) {
		apply_requests(emu, ch, req);
		return;
	}
	pthread_mutex_lock(&ch->wake_lock);
	__atomic_or_fetch(&ch->req, req, __ATOMIC_SEQ_CST);
	/* The pass that takes the bits now is the one after the last taken. */
	ticket = ch->req_taken + 1;
	pthread_cond_signal(&ch->wake);
	while (ch->req_done < ticket && !__atomic_load_n(&emu->stop, __ATOMIC_ACQUIRE))
		pthread_cond_wait(&ch->req_cond, &ch->wake_lock);
	pthread_mutex_unlock(&ch->wake_lock);
}

static bool take_requests(struct gpu_emu *emu, struct gpu_emu_channel *ch)
{
	uint64_t ticket;
	uint32_t req;

	if (!__atomic_load_n(&ch->req, __ATOMIC_ACQUIRE))
		return false;
	pthread_mutex_lock(&ch->wake_lock);
	req = __atomic_exchange_n(&ch->req, 0, __ATOMIC_SEQ_CST);
	ticket = ++ch->req_taken;
	pthread_mutex_unlock(&ch->wake_lock);
	apply_requests(emu, ch, req);
	pthread_mutex_lock(&ch->wake_lock);
	ch->req_done = ticket;
	pthread_cond_broadcast(&ch->req_cond);
	pthread_mutex_unlock(&ch->wake_lock);
	return true;
}

/*
 * CTRL.RESET: every channel off (each by its thread, between steps), then
 * what they share, which no channel uses any more.
 */
void gpu_emu_reset(struct gpu_emu *emu)
{
	__atomic_or_fetch(&emu->status, GPU_STS_RESETTING, __ATOMIC_SEQ_CST);
	for (unsigned int c = 0; c < GPU_NR_CHANNELS; c++)
		gpu_emu_request(&emu->ch[c], GPU_EMU_REQ_OFF);
	gpu_emu_fault_off(emu);
	gpu_emu_mmu_reset(emu);
	gpu_emu_counters_reset(emu);
	__atomic_store_n(&emu->counter_threshold, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&emu->counter_dropped, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&emu->replay_req, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&emu->cancel_req, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&emu->irq_status, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&emu->error_code, GPU_ERR_NONE, __ATOMIC_SEQ_CST);
	__atomic_store_n(&emu->error_info, 0, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&emu->reg_lock);
	for (unsigned int c = 0; c < GPU_NR_CHANNELS; c++) {
		emu->ch[c].ring_base = 0;
		emu->ch[c].ring_size = 0;
		emu->ch[c].fence_addr = 0;
		__atomic_store_n(&emu->ch[c].fence, 0, __ATOMIC_SEQ_CST);
		__atomic_store_n(&emu->ch[c].last_status, 0, __ATOMIC_SEQ_CST);
	}
	pthread_mutex_unlock(&emu->reg_lock);
	pthread_mutex_lock(&emu->fault_lock);
	emu->fault_base = 0;
	emu->fault_size = 0;
	pthread_mutex_unlock(&emu->fault_lock);
	__atomic_store_n(&emu->error_count, 0, __ATOMIC_SEQ_CST);
	__atomic_and_fetch(&emu->status, ~GPU_STS_RESETTING, __ATOMIC_SEQ_CST);
	pr_info("%s: reset", emu->name);
}

/* --- the channel threads ----------------------------------------------------------- */

void gpu_emu_kick(struct gpu_emu_channel *ch)
{
	/*
	 * Pairs with sleep_until_kicked(): publish, then look. Both sides do a
	 * read-modify-write on one word instead of a fence (ThreadSanitizer
	 * does not model fences): whichever comes second in that word's order
	 * sees what the other published.
	 */
	__atomic_fetch_add(&ch->kick_sync, 0, __ATOMIC_SEQ_CST);
	if (!__atomic_load_n(&ch->sleeping, __ATOMIC_SEQ_CST))
		return;
	pthread_mutex_lock(&ch->wake_lock);
	pthread_cond_signal(&ch->wake);
	pthread_mutex_unlock(&ch->wake_lock);
}

void gpu_emu_kick_all(struct gpu_emu *emu)
{
	for (unsigned int c = 0; c < GPU_NR_CHANNELS; c++)
		gpu_emu_kick(&emu->ch[c]);
}

/*
 * A page fault wakes the other enabled channels: the driver answers it
 * with page-table and copy commands on them, and finds their threads
 * polling instead of asleep.
 */
void gpu_emu_nudge_others(struct gpu_emu *emu, struct gpu_emu_channel *ch)
{
	for (unsigned int c = 0; c < GPU_NR_CHANNELS; c++) {
		struct gpu_emu_channel *other = &emu->ch[c];

		if (other == ch || !__atomic_load_n(&other->enabled, __ATOMIC_ACQUIRE))
			continue;
		__atomic_store_n(&other->nudged, 1, __ATOMIC_SEQ_CST);
		gpu_emu_kick(other);
	}
}

static bool has_work(struct gpu_emu *emu, struct gpu_emu_channel *ch)
{
	return __atomic_load_n(&emu->stop, __ATOMIC_ACQUIRE) ||
	       __atomic_load_n(&ch->req, __ATOMIC_ACQUIRE) ||
	       __atomic_load_n(&ch->nudged, __ATOMIC_ACQUIRE) || gpu_emu_fault_has_work(emu, ch) ||
	       gpu_emu_channel_ready(ch);
}

/*
 * One pass of @ch's work: requests, replays and cancels, posting its
 * faults, then up to GPU_EMU_TURN_STEPS steps of its ring, then the
 * interrupts. Whether there was anything to do.
 */
bool gpu_emu_run_once(struct gpu_emu *emu, struct gpu_emu_channel *ch)
{
	bool work = take_requests(emu, ch);

	/* A nudge counts as work: the thread polls for a while after it. */
	if (__atomic_load_n(&ch->nudged, __ATOMIC_RELAXED))
		work |= __atomic_exchange_n(&ch->nudged, 0, __ATOMIC_SEQ_CST) != 0;

	work |= gpu_emu_fault_work(emu, ch);
	if (gpu_emu_channel_ready(ch))
		work |= gpu_emu_channel_run(emu, ch);
	gpu_emu_irq_flush(emu);
	return work;
}

static void sleep_until_kicked(struct gpu_emu *emu, struct gpu_emu_channel *ch, bool contended)
{
	uint64_t t0 = now_ns(), slept;

	pthread_mutex_lock(&ch->wake_lock);
	__atomic_store_n(&ch->sleeping, 1, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&ch->kick_sync, 0, __ATOMIC_SEQ_CST);
	while (!has_work(emu, ch))
		pthread_cond_wait(&ch->wake, &ch->wake_lock);
	__atomic_store_n(&ch->sleeping, 0, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&ch->wake_lock);

	slept = now_ns() - t0;
	if (contended)
		ch->spin_ns = SPIN_MIN_NS;
	else if (slept < SHORT_SLEEP_NS)
		ch->spin_ns = gpu_emu_min(ch->spin_ns * 2, SPIN_MAX_NS);
	else if (ch->spin_ns > SPIN_MIN_NS)
		ch->spin_ns /= 2;
}

static void *channel_thread(void *arg)
{
	struct gpu_emu_channel *ch = arg;
	struct gpu_emu *emu = ch->emu;
	uint64_t idle_since = 0, last = 0;
	unsigned int spins = 0;
	bool worked = false;

	gpu_emu_set_device_thread(emu);
	while (!__atomic_load_n(&emu->stop, __ATOMIC_ACQUIRE)) {
		bool preempted;
		uint64_t now;

		if (gpu_emu_run_once(emu, ch)) {
			idle_since = last = 0;
			worked = true;
			continue;
		}
		now = now_ns();
		if (!idle_since)
			idle_since = now;
		/*
		 * A gap between two polls means the CPU went elsewhere: whoever
		 * gives the next command may be waiting for this very CPU.
		 */
		preempted = last && now - last > PREEMPT_GAP_NS;
		last = now;
		if (worked && !preempted && now - idle_since < ch->spin_ns) {
			if (++spins % YIELD_EVERY == 0)
				sched_yield();
			else
				for (int i = 0; i < 16; i++)
					cpu_relax();
			continue;
		}
		sleep_until_kicked(emu, ch, preempted);
		idle_since = last = 0;
		worked = true;
	}
	/* Nobody waits for a request that will never be carried out. */
	pthread_mutex_lock(&ch->wake_lock);
	pthread_cond_broadcast(&ch->req_cond);
	pthread_mutex_unlock(&ch->wake_lock);
	return NULL;
}

/* --- lifetime ------------------------------------------------------------------------ */

static int check_params(const struct gpu_emu_params *p, uint64_t *vram, uint64_t *bar2)
{
	if (!p || !p->name)
		return -EINVAL;
	*vram = p->vram_size ? p->vram_size : GPU_EMU_DEF_VRAM;
	*bar2 = p->bar2_size;
	if (!*bar2) {
		/* The default window, or the largest power of two that fits in VRAM. */
		*bar2 = GPU_EMU_DEF_BAR2;
		while (*bar2 > *vram)
			*bar2 >>= 1;
	}
	if (*vram & (GPU_PAGE_SIZE - 1) || *vram > GPU_EMU_MAX_VRAM)
		return -EINVAL;
	if (*bar2 < (1ULL << 20) || (*bar2 & (*bar2 - 1)) || *bar2 > *vram)
		return -EINVAL;
	return 0;
}

static void channel_init(struct gpu_emu *emu, struct gpu_emu_channel *ch, unsigned int idx)
{
	ch->emu = emu;
	ch->idx = idx;
	ch->spin_ns = SPIN_START_NS;
	pthread_mutex_init(&ch->wake_lock, NULL);
	pthread_cond_init(&ch->wake, NULL);
	pthread_cond_init(&ch->req_cond, NULL);
}

static void channel_free(struct gpu_emu_channel *ch)
{
	free(ch->bounce);
	free(ch->bounce2);
	free(ch->pattern);
	free(ch->ptes);
	pthread_mutex_destroy(&ch->wake_lock);
	pthread_cond_destroy(&ch->wake);
	pthread_cond_destroy(&ch->req_cond);
}

static int channel_alloc(struct gpu_emu_channel *ch)
{
	ch->bounce = aligned_alloc(GPU_PAGE_SIZE, GPU_EMU_CHUNK);
	ch->bounce2 = aligned_alloc(GPU_PAGE_SIZE, GPU_EMU_CHUNK);
	ch->pattern = aligned_alloc(GPU_PAGE_SIZE, GPU_PAGE_SIZE);
	return ch->bounce && ch->bounce2 && ch->pattern ? 0 : -ENOMEM;
}

static void free_emu(struct gpu_emu *emu)
{
	for (unsigned int v = 0; v < GPU_NR_VECTORS; v++)
		if (emu->irq_fd[v] >= 0)
			close(emu->irq_fd[v]);
	for (unsigned int c = 0; c < GPU_NR_CHANNELS; c++)
		channel_free(&emu->ch[c]);
	gpu_emu_mmu_free(emu);
	gpu_emu_counters_free(emu);
	if (emu->vram)
		munmap(emu->vram, emu->vram_size);
	if (emu->vram_fd >= 0)
		close(emu->vram_fd);
	pthread_mutex_destroy(&emu->reg_lock);
	pthread_mutex_destroy(&emu->fault_lock);
	pthread_mutex_destroy(&emu->counters_lock);
	pthread_rwlock_destroy(&emu->mmu_lock);
	free(emu);
}

static int alloc_vram(struct gpu_emu *emu)
{
	void *p;

	emu->vram_fd = memfd_create(emu->name, MFD_CLOEXEC);
	if (emu->vram_fd < 0)
		return -errno;
	if (ftruncate(emu->vram_fd, (off_t)emu->vram_size))
		return -errno;
	p = mmap(NULL, emu->vram_size, PROT_READ | PROT_WRITE, MAP_SHARED, emu->vram_fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	emu->vram = p;
	return 0;
}

static int alloc_state(struct gpu_emu *emu)
{
	int ret = alloc_vram(emu);

	if (ret)
		return ret;
	emu->vram_counters = calloc(emu->vram_size >> GPU_PAGE_SHIFT, sizeof(uint32_t));
	if (!emu->vram_counters)
		return -ENOMEM;
	for (unsigned int c = 0; c < GPU_NR_CHANNELS; c++) {
		ret = channel_alloc(&emu->ch[c]);
		if (ret)
			return ret;
	}
	for (unsigned int v = 0; v < GPU_NR_VECTORS; v++) {
		emu->irq_fd[v] = eventfd(0, EFD_CLOEXEC);
		if (emu->irq_fd[v] < 0)
			return -errno;
	}
	return 0;
}

static struct gpu_emu *alloc_emu(const struct gpu_emu_params *params, uint64_t vram, uint64_t bar2)
{
	struct gpu_emu *emu = calloc(1, sizeof(*emu));

	if (!emu)
		return NULL;
	emu->magic = GPU_EMU_MAGIC;
	INIT_LIST_HEAD(&emu->node);
	pthread_mutex_init(&emu->reg_lock, NULL);
	pthread_mutex_init(&emu->fault_lock, NULL);
	pthread_mutex_init(&emu->counters_lock, NULL);
	pthread_rwlock_init(&emu->mmu_lock, NULL);
	emu->vram_fd = -1;
	for (unsigned int v = 0; v < GPU_NR_VECTORS; v++)
		emu->irq_fd[v] = -1;
	for (unsigned int c = 0; c < GPU_NR_CHANNELS; c++)
		channel_init(emu, &emu->ch[c], c);
	snprintf(emu->name, sizeof(emu->name), "%s", params->name);
	emu->vendor = params->vendor ? params->vendor : GPU_VENDOR_ID;
	emu->device = params->device ? params->device : GPU_DEVICE_ID;
	emu->class = params->class ? params->class : GPU_CLASS;
	emu->vram_size = vram;
	emu->bar2_size = bar2;
	return emu;
}

struct gpu_emu *gpu_emu_create(struct pci_dev *port, unsigned int function,
			       const struct gpu_emu_params *params)
{
	struct pci_endpoint_info info;
	uint64_t vram, bar2;
	struct gpu_emu *emu;
	struct pci_dev *pdev;
	int ret;

	ret = check_params(params, &vram, &bar2);
	if (ret)
		return ERR_PTR(ret);
	emu = alloc_emu(params, vram, bar2);
	if (!emu)
		return ERR_PTR(-ENOMEM);
	ret = alloc_state(emu);
	if (ret)
		goto fail;

	memset(&info, 0, sizeof(info));
	info.name = params->name;
	info.vendor = emu->vendor;
	info.device = emu->device;
	info.subsystem_vendor = emu->vendor;
	info.subsystem_device = emu->device;
	info.class = emu->class;
	info.function = function;
	info.bar[GPU_BAR_REGS].size = GPU_BAR0_SIZE;
	info.bar[GPU_BAR_REGS].flags = PCI_BAR_MEM64;
	info.bar[GPU_BAR_REGS].ops = &gpu_emu_bar_ops;
	info.bar[GPU_BAR_VRAM].size = emu->bar2_size;
	info.bar[GPU_BAR_VRAM].flags = PCI_BAR_MEM64 | PCI_BAR_PREFETCH;
	/* BAR2 is VRAM's first bytes: the memory, and the file for mappings of it. */
	info.bar[GPU_BAR_VRAM].ram = emu->vram;
	info.bar[GPU_BAR_VRAM].ram_fd = emu->vram_fd;
	info.bar[GPU_BAR_VRAM].ram_has_fd = true;
	info.priv = emu;
	pdev = pci_endpoint_add(port, &info);
	if (IS_ERR(pdev)) {
		ret = (int)PTR_ERR(pdev);
		goto fail;
	}
	emu->pdev = pdev;
	pci_set_drvdata(pdev, emu);

	pthread_mutex_lock(&registry_lock);
	list_add_tail(&emu->node, &registry);
	pthread_mutex_unlock(&registry_lock);
	pr_info("%s: %llu MiB VRAM, %llu MiB of it in BAR2, %u channels", emu->name,
		(unsigned long long)(emu->vram_size >> 20),
		(unsigned long long)(emu->bar2_size >> 20), GPU_NR_CHANNELS);
	return emu;

fail:
	free_emu(emu);
	return ERR_PTR(ret);
}

/* Stop and join the channel threads; @stop stays set. */
void gpu_emu_stop_threads(struct gpu_emu *emu)
{
	__atomic_store_n(&emu->stop, 1, __ATOMIC_SEQ_CST);
	for (unsigned int c = 0; c < GPU_NR_CHANNELS; c++) {
		struct gpu_emu_channel *ch = &emu->ch[c];

		if (!ch->started)
			continue;
		pthread_mutex_lock(&ch->wake_lock);
		pthread_cond_signal(&ch->wake);
		pthread_cond_broadcast(&ch->req_cond);
		pthread_mutex_unlock(&ch->wake_lock);
		pthread_join(ch->thread, NULL);
		ch->started = false;
	}
}

int gpu_emu_start(struct gpu_emu *emu)
{
	int ret;

	if (emu->started || emu->stepped)
		return -EBUSY;
	for (unsigned int c = 0; c < GPU_NR_CHANNELS; c++) {
		struct gpu_emu_channel *ch = &emu->ch[c];

		/* Requests from now on are the thread's to carry out. */
		ch->started = true;
		ret = pthread_create(&ch->thread, NULL, channel_thread, ch);
		if (ret) {
			ch->started = false;
			gpu_emu_stop_threads(emu);
			__atomic_store_n(&emu->stop, 0, __ATOMIC_SEQ_CST);
			return -ret;
		}
	}
	emu->started = true;
	__atomic_or_fetch(&emu->status, GPU_STS_READY, __ATOMIC_SEQ_CST);
	return 0;
}

void gpu_emu_destroy(struct gpu_emu *emu)
{
	if (!emu)
		return;
	pthread_mutex_lock(&registry_lock);
	list_del(&emu->node);
	pthread_mutex_unlock(&registry_lock);

	gpu_emu_stop_threads(emu);
	/* The BAR handler finds no device from now on. */
	pci_set_drvdata(emu->pdev, NULL);
	free_emu(emu);
}

struct pci_dev *gpu_emu_pdev(struct gpu_emu *emu)
{
	return emu->pdev;
}

struct gpu_emu *gpu_emu_from_pdev(struct pci_dev *pdev)
{
	struct gpu_emu *emu, *found = NULL;
	void *priv;

	if (!pdev)
		return NULL;
	priv = pci_get_drvdata(pdev);
	if (!priv)
		return NULL;
	/* Another model's data is compared against the registry, never dereferenced. */
	pthread_mutex_lock(&registry_lock);
	list_for_each_entry(emu, &registry, node) {
		if ((void *)emu == priv && emu->pdev == pdev && emu->magic == GPU_EMU_MAGIC) {
			found = emu;
			break;
		}
	}
	pthread_mutex_unlock(&registry_lock);
	return found;
}

int gpu_emu_irq_fd(struct gpu_emu *emu, unsigned int vector)
{
	if (vector >= GPU_NR_VECTORS)
		return -EINVAL;
	return emu->irq_fd[vector];
}
