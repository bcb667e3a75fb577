// SPDX-License-Identifier: MIT
/*
 * Command rings.
 *
 * A channel's ring is GPU_RING_ENTRIES 64-byte entries in system memory
 * the device reads by DMA, each with a page of driver data beside it
 * (payload: the PTE arrays a PTE_WRITE reads). A submitter reserves the
 * slot at the tail (the channel's lock is held from reserve to commit, so
 * entries are written and rung in ring order), fills the entry, commits
 * (TAIL doorbell), and later waits for the device to write the entry's
 * status word.
 *
 * A slot belongs to its submitter (struct gpu_submit) until the result is
 * taken: by the submitter when it sees the completion, or by whoever needs
 * the slot again first, which moves the result into the submitter's
 * struct gpu_submit. So a slot is reused as soon as the device is done
 * with it, never before, and a batch longer than the ring cannot wait for
 * itself.
 *
 * Waiting: spin on the status word for a while (a PTE update costs a few
 * microseconds; a wake-up through the interrupt costs more), then sleep
 * until the completion interrupt (vector GPU_IRQ_CMD, an eventfd that a
 * thread of the driver reads and turns into a broadcast). Every command
 * asks for the interrupt, but the vector is masked unless a waiter
 * sleeps: an interrupt nobody waits for would only wake the interrupt
 * thread, and on a small machine take a CPU from the device or from the
 * spinning waiter. Completions while masked are signalled when the first
 * sleeper unmasks it, so none is missed.
 *
 * The fault handler attributes a page fault to the command a stalled
 * channel is executing: the one at its HEAD.
 */
#define pr_fmt(fmt) "gpu-host: " fmt

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <hetmem/gpu-emu.h>
#include <hetmem/log.h>
#include <hetmem/pci.h>
#include "host.h"

#define WAIT_SLICE_MS	10 /* a sleeping waiter looks again this often */
#define WAIT_WARN_S	10 /* and says so when a command takes this long */
#define DEFAULT_SPIN_US 20
#define YIELD_EVERY	64 /* spinning, let a runnable thread have the CPU now and then */

static unsigned long spin_ns(void)
{
	static unsigned long ns = ~0UL;
	unsigned long v = __atomic_load_n(&ns, __ATOMIC_RELAXED);

	if (v == ~0UL) {
		const char *e = getenv("HETMEM_GPU_SPIN_US");

		v = (e && *e ? strtoul(e, NULL, 10) : DEFAULT_SPIN_US) * 1000UL;
		__atomic_store_n(&ns, v, __ATOMIC_RELAXED);
	}
	return v;
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

static uint32_t slot_status(struct gpu_channel *ch, unsigned int slot)
{
	return __atomic_load_n(&ch->ring[slot].status, __ATOMIC_ACQUIRE);
}

int gpu_status_errno(uint32_t sc)
{
	switch (sc) {
	case GPU_SC_SUCCESS:
		return 0;
	case GPU_SC_MMU_FAULT:
		return -EFAULT;
	case GPU_SC_BAD_OPCODE:
	case GPU_SC_BAD_FIELD:
	case GPU_SC_BAD_ASID:
	case GPU_SC_BAD_KERNEL:
	case GPU_SC_BAD_ADDRESS:
	case GPU_SC_BAD_PTE:
		return -EINVAL;
	case GPU_SC_INTERNAL:
		return -ENOMEM; /* the device has no room for another page table */
	default:
		return -EIO;
	}
}

/* Move a completed slot's result into its owner and free the slot; ch->lock held. */
static void retire(struct gpu_channel *ch, unsigned int slot, uint32_t status)
{
	struct gpu_submit *o = ch->slot[slot].owner;

	o->status = status;
	__atomic_store_n(&o->done, true, __ATOMIC_RELEASE);
	__atomic_store_n(&ch->slot[slot].owner, NULL, __ATOMIC_RELAXED);
}

/*
 * Wait until @done() says so: spin a while, then sleep on the completion
 * interrupt (or, without one, poll every millisecond).
 */
static void wait_until(struct gpu_host *gpu, bool (*done)(void *), void *arg)
{
	uint64_t t0 = now_ns(), limit = spin_ns();
	unsigned int spins = 0;
	int slices = 0;

	/*
	 * On a machine with fewer CPUs than busy threads, the one that would
	 * complete the command may be waiting for ours: yield now and then.
	 * No PAUSE in the loop: on a virtual machine a pause loop may exit to
	 * the hypervisor, which then runs someone else for a while.
	 */
	while (now_ns() - t0 < limit) {
		if (done(arg))
			return;
		if (++spins % YIELD_EVERY == 0)
			sched_yield();
	}
	pthread_mutex_lock(&gpu->irq_lock);
	if (!gpu->sleepers++ && gpu->irq_thread_started)
		gpu_irq_enable(gpu, GPU_IRQ_CMD, true);
	while (!done(arg)) {
		struct timespec t;
		long ms = gpu->irq_thread_started ? WAIT_SLICE_MS : 1;

		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_nsec += ms * 1000000L;
		if (t.tv_nsec >= 1000000000L) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&gpu->irq_cond, &gpu->irq_lock, &t);
		if (++slices == WAIT_WARN_S * 1000 / WAIT_SLICE_MS)
			pr_warn("a command has not completed for %d s", WAIT_WARN_S);
	}
	if (!--gpu->sleepers && gpu->irq_thread_started)
		gpu_irq_enable(gpu, GPU_IRQ_CMD, false);
	pthread_mutex_unlock(&gpu->irq_lock);
}

struct slot_wait {
	struct gpu_channel *ch;
	unsigned int slot;
	struct gpu_submit *owner;
};

/* The slot is free, or its command (whoever's) is done. */
static bool slot_done(void *arg)
{
	struct slot_wait *w = arg;

	return !__atomic_load_n(&w->ch->slot[w->slot].owner, __ATOMIC_RELAXED) ||
	       (slot_status(w->ch, w->slot) & GPU_CMD_DONE);
}

void gpu_ch_reserve(struct gpu_channel *ch, struct gpu_submit *s)
{
	unsigned int slot;

	pthread_mutex_lock(&ch->lock);
	for (;;) {
		unsigned int next;
		struct slot_wait w;
		uint32_t st;

		slot = ch->tail % GPU_RING_ENTRIES;
		next = (slot + 1) % GPU_RING_ENTRIES;
		w = (struct slot_wait){ ch, slot, ch->slot[slot].owner };
		if (w.owner) {
			st = slot_status(ch, slot);
			if (st & GPU_CMD_DONE) {
				retire(ch, slot, st);
				w.owner = NULL;
			}
		}
		/*
		 * A ring holds one entry less than it has: TAIL == HEAD means
		 * empty. The command that used the slot after ours must be done.
		 */
		if (!w.owner && ch->slot[next].owner && !(slot_status(ch, next) & GPU_CMD_DONE))
			w = (struct slot_wait){ ch, next, ch->slot[next].owner };
		if (!w.owner)
			break;
		/* The ring is full: the device has yet to finish that one. */
		pthread_mutex_unlock(&ch->lock);
		wait_until(ch->gpu, slot_done, &w);
		pthread_mutex_lock(&ch->lock);
	}
	memset(s, 0, sizeof(*s));
	s->slot = slot;
	s->seq = ++ch->seq;
	s->cmd = &ch->ring[slot];
	s->payload = ch->payload + slot * GPU_PAYLOAD_SIZE;
	s->payload_dma = ch->payload_dma + slot * GPU_PAYLOAD_SIZE;
	__atomic_store_n(&ch->slot[slot].owner, s, __ATOMIC_RELAXED);
	memset(s->cmd, 0, sizeof(*s->cmd));
}

void gpu_ch_commit(struct gpu_channel *ch, struct gpu_submit *s)
{
	struct gpu_host *gpu = ch->gpu;

	s->cmd->flags |= GPU_CMD_F_IRQ;
	s->cmd->seq = s->seq;
	__atomic_store_n(&s->cmd->status, 0, __ATOMIC_RELEASE);
	s->cmd = NULL;
	ch->tail++;
	gpu_writel(gpu, GPU_CH_REG(ch->id, GPU_CH_TAIL), ch->tail % GPU_RING_ENTRIES);
	pthread_mutex_unlock(&ch->lock);
	gpu_stat_add(gpu, commands, 1);
}

static bool submit_done(void *arg)
{
	struct slot_wait *w = arg;

	return __atomic_load_n(&w->owner->done, __ATOMIC_ACQUIRE) ||
	       (__atomic_load_n(&w->ch->slot[w->slot].owner, __ATOMIC_RELAXED) == w->owner &&
		(slot_status(w->ch, w->slot) & GPU_CMD_DONE));
}

int gpu_ch_wait(struct gpu_channel *ch, struct gpu_submit *s, unsigned long *faults)
{
	struct slot_wait w = { ch, s->slot, s };
	int ret;

	wait_until(ch->gpu, submit_done, &w);
	pthread_mutex_lock(&ch->lock);
	if (!s->done)
		retire(ch, s->slot, slot_status(ch, s->slot));
	pthread_mutex_unlock(&ch->lock);
	ret = gpu_status_errno(GPU_CMD_SC(s->status));
	/* A cancelled fault says why; the device only says it was one. */
	if (GPU_CMD_SC(s->status) == GPU_SC_MMU_FAULT && s->err)
		ret = s->err;
	if (ret && GPU_CMD_SC(s->status) != GPU_SC_MMU_FAULT)
		pr_warn("channel %u: command %#x failed with status %#x", ch->id, s->opcode,
			GPU_CMD_SC(s->status));
	if (faults)
		*faults = s->faults;
	return ret;
}

int gpu_ch_run(struct gpu_channel *ch, const struct gpu_cmd *cmds, unsigned int n)
{
	struct gpu_submit one, *s = n > 1 ? calloc(n, sizeof(*s)) : &one;
	int ret = 0;

	if (!s)
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++) {
		gpu_ch_reserve(ch, &s[i]);
		memcpy(s[i].cmd, &cmds[i], sizeof(cmds[i]));
		s[i].opcode = cmds[i].opcode;
		gpu_ch_commit(ch, &s[i]);
	}
	for (unsigned int i = 0; i < n; i++) {
		int r = gpu_ch_wait(ch, &s[i], NULL);

		if (r && !ret)
			ret = r;
	}
	if (s != &one)
		free(s);
	return ret;
}

struct gpu_submit *gpu_current_submit(struct gpu_channel *ch)
{
	uint32_t head = gpu_readl(ch->gpu, GPU_CH_REG(ch->id, GPU_CH_HEAD));

	return ch->slot[head % GPU_RING_ENTRIES].owner;
}

int gpu_channel_init(struct gpu_host *gpu, unsigned int id)
{
	struct gpu_channel *ch = &gpu->ch[id];
	size_t ring_len = GPU_RING_ENTRIES * sizeof(struct gpu_cmd);
	size_t payload_len = GPU_RING_ENTRIES * GPU_PAYLOAD_SIZE;
	uint32_t sts;

	ch->gpu = gpu;
	ch->id = id;
	pthread_mutex_init(&ch->lock, NULL);
	ch->ring = aligned_alloc(PAGE_SIZE, ring_len);
	ch->payload = aligned_alloc(PAGE_SIZE, payload_len);
	if (!ch->ring || !ch->payload)
		return -ENOMEM;
	memset(ch->ring, 0, ring_len);
	memset(ch->payload, 0, payload_len);
	ch->ring_dma = dma_map_single(gpu->pdev, ch->ring, ring_len, DMA_BIDIRECTIONAL);
	if (dma_mapping_error(gpu->pdev, ch->ring_dma))
		return dma_mapping_error(gpu->pdev, ch->ring_dma);
	ch->payload_dma = dma_map_single(gpu->pdev, ch->payload, payload_len, DMA_BIDIRECTIONAL);
	if (dma_mapping_error(gpu->pdev, ch->payload_dma)) {
		int ret = dma_mapping_error(gpu->pdev, ch->payload_dma);

		ch->payload_dma = 0;
		return ret;
	}
	gpu_writeq(gpu, GPU_CH_REG(id, GPU_CH_RING_BASE), ch->ring_dma);
	gpu_writel(gpu, GPU_CH_REG(id, GPU_CH_RING_SIZE), GPU_RING_ENTRIES);
	gpu_writel(gpu, GPU_CH_REG(id, GPU_CH_CTRL), GPU_CH_CTRL_ENABLE);
	sts = gpu_readl(gpu, GPU_CH_REG(id, GPU_CH_STATUS));
	if (!(sts & GPU_CH_STS_ENABLED) || (sts & GPU_CH_STS_ERROR)) {
		pr_err("%s: channel %u does not start (status %#x)", pci_name(gpu->pdev), id, sts);
		return -EIO;
	}
	ch->tail = 0;
	return 0;
}

void gpu_channel_fini(struct gpu_host *gpu, unsigned int id)
{
	struct gpu_channel *ch = &gpu->ch[id];

	if (!ch->gpu)
		return;
	if (ch->ring_dma && !dma_mapping_error(gpu->pdev, ch->ring_dma)) {
		gpu_writel(gpu, GPU_CH_REG(id, GPU_CH_CTRL), 0);
		dma_unmap_single(gpu->pdev, ch->ring_dma, GPU_RING_ENTRIES * sizeof(struct gpu_cmd),
				 DMA_BIDIRECTIONAL);
	}
	if (ch->payload_dma)
		dma_unmap_single(gpu->pdev, ch->payload_dma, GPU_RING_ENTRIES * GPU_PAYLOAD_SIZE,
				 DMA_BIDIRECTIONAL);
	free(ch->ring);
	free(ch->payload);
	pthread_mutex_destroy(&ch->lock);
	memset(ch, 0, sizeof(*ch));
}

/* --- the completion interrupt ---------------------------------------------------- */

void gpu_irq_enable(struct gpu_host *gpu, unsigned int vector, bool on)
{
	pthread_mutex_lock(&gpu->mask_lock);
	if (on)
		gpu->irq_mask &= ~(1u << vector);
	else
		gpu->irq_mask |= 1u << vector;
	gpu_writel(gpu, GPU_REG_IRQ_MASK, gpu->irq_mask);
	pthread_mutex_unlock(&gpu->mask_lock);
}

static void *irq_thread(void *arg)
{
	struct gpu_host *gpu = arg;
	struct pollfd p[2] = {
		{ .fd = gpu_emu_irq_fd(gpu->emu, GPU_IRQ_CMD), .events = POLLIN },
		{ .fd = gpu->stop_fd, .events = POLLIN },
	};

	for (;;) {
		uint64_t v;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN) || read(p[0].fd, &v, sizeof(v)) != sizeof(v))
			continue;
		pthread_mutex_lock(&gpu->irq_lock);
		gpu->irq_gen++;
		pthread_cond_broadcast(&gpu->irq_cond);
		pthread_mutex_unlock(&gpu->irq_lock);
	}
	return NULL;
}

int gpu_irq_start(struct gpu_host *gpu)
{
	if (!gpu->emu || gpu_emu_irq_fd(gpu->emu, GPU_IRQ_CMD) < 0)
		return 0; /* no interrupt: waiters poll */
	if (pthread_create(&gpu->irq_thread, NULL, irq_thread, gpu))
		return -EAGAIN;
	pthread_mutex_lock(&gpu->irq_lock);
	gpu->irq_thread_started = true;
	pthread_mutex_unlock(&gpu->irq_lock);
	return 0;
}

void gpu_irq_stop(struct gpu_host *gpu)
{
	if (!gpu->irq_thread_started)
		return;
	pthread_join(gpu->irq_thread, NULL);
	pthread_mutex_lock(&gpu->irq_lock);
	gpu->irq_thread_started = false;
	pthread_mutex_unlock(&gpu->irq_lock);
}
