// SPDX-License-Identifier: MIT
/*
 * The fault buffer: device page faults and access counter notifications.
 *
 * One driver thread reads the buffer. It waits on the fault interrupt
 * (vector GPU_IRQ_FAULT, unmasked only while it sleeps), or polls PUT for
 * opts.poll_us after its last work (always, with ~0U) so that a burst of
 * faults pays no wake-up. A batch is every entry in [GET, PUT): GET is
 * written back at once, so the device may post more while this one is
 * serviced.
 *
 * Page faults, by address space then address, each serviced by policy:
 *
 *  - mapped where they are (the default): hmm_range_fault() asks for the
 *    faulting pages (writable for a write or an atomic) and takes the
 *    rest of a window of opts.fault_window pages after each only if it is
 *    present already, so a kernel streaming through memory faults once a
 *    window and nothing is populated that it did not touch. The pages go
 *    into the GPU MMU (mmu.c): system pages by DMA address, VRAM pages by
 *    offset.
 *  - migrated (GPU_POLICY_MIGRATE_ON_FAULT): the faulting page moves to
 *    VRAM first, with the pages around it that the device uses (faulting
 *    in the same batch, or mapped already), within the block of
 *    opts.migrate_pages, its 2 MiB block and its mapping; what cannot move
 *    (shared or file memory) is then mapped where it is.
 *
 * Then the stalled channels are replayed, or, for a page that cannot be
 * had (unmapped, PROT_NONE, a write to read-only memory), their commands
 * cancelled, the reason left with the command (gpu_submit.err).
 *
 * Counter notifications come after the replay, so nobody waits for them:
 * a hot system page (GPU_POLICY_MIGRATE_ON_COUNTER) migrates to VRAM with
 * its block; a hot VRAM page refreshes its block in the LRU.
 *
 * The thread never holds a lock while it services: hmm_range_fault() may
 * fault, and the userfaultfd handler it then waits for may need to bring
 * this GPU's pages home, which needs the MMU and migration channels, never
 * this thread.
 */
#define pr_fmt(fmt) "gpu-host: " fmt

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hetmem/gpu-emu.h>
#include <hetmem/hmm.h>
#include <hetmem/log.h>
#include <hetmem/mm_types.h>
#include <hetmem/pci.h>
#include "host.h"

#define HPAGE (2UL << 20)

/* One faulting page, as the batch sees it. */
struct fault {
	unsigned int asid;
	unsigned long va;
	bool write;
	uint8_t channel;
};

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

static int fault_cmp(const void *a, const void *b)
{
	const struct fault *x = a, *y = b;

	if (x->asid != y->asid)
		return x->asid < y->asid ? -1 : 1;
	if (x->va != y->va)
		return x->va < y->va ? -1 : 1;
	return (int)y->write - (int)x->write; /* a write first: it covers the read */
}

/* The part of [start, end) inside the mapping of @va and its 2 MiB block. */
static bool clip_to_vma(struct dmirror *d, unsigned long va, unsigned long *start,
			unsigned long *end)
{
	struct vm_area_struct vma;
	unsigned long lo = va & ~(HPAGE - 1), hi = lo + HPAGE;

	if (hetmem_vma_lookup(d->mm, va, &vma) || !(vma.vm_flags & VM_READ))
		return false;
	lo = lo > vma.vm_start ? lo : vma.vm_start;
	hi = hi < vma.vm_end ? hi : vma.vm_end;
	*start = *start > lo ? *start : lo;
	*end = *end < hi ? *end : hi;
	return *start < *end;
}

/* Whether the mirror maps @va (writable, when @write) already. */
static bool mapped(struct dmirror *d, unsigned long va, bool write)
{
	unsigned long e = dmirror_pt_get(d, va);

	return (e & DPT_VALID) && (!write || ((e & DPT_WRITE) && !(e & DPT_ATOMIC)));
}

/* Whether the device has shown it uses @va: it maps it, or faults on it now. */
static bool device_uses(struct dmirror *d, unsigned long va, const struct fault *f,
			unsigned long n)
{
	if (dmirror_pt_get(d, va) & DPT_VALID)
		return true;
	for (unsigned long i = 0; i < n && f[i].va <= va; i++)
		if (f[i].va == va)
			return true;
	return false;
}

/*
 * Migrate the pages around @va that the device uses, within the block of
 * opts.migrate_pages, the 2 MiB block and the mapping of @va: @f[@n] are
 * the faults of the batch (sorted). Returns the end of what it took.
 *
 * Only what the device has shown it uses: hetmem runs in the process it
 * mirrors, and one mapping may hold, merged by the kernel, memory the
 * migration itself needs (an allocator's or a sanitizer's runtime data
 * next to the application's buffer). Taken, it would wait on itself.
 */
static unsigned long migrate_around(struct gpu_host *gpu, struct dmirror *d, unsigned long va,
				    const struct fault *f, unsigned long n, unsigned long *counter)
{
	unsigned long w = gpu->opts.migrate_pages, moved = 0, lo = va, hi = va + PAGE_SIZE;
	unsigned long start = va & ~((w << PAGE_SHIFT) - 1), end = start + (w << PAGE_SHIFT);

	if (!clip_to_vma(d, va, &start, &end))
		return hi;
	while (lo > start && device_uses(d, lo - PAGE_SIZE, f, n))
		lo -= PAGE_SIZE;
	while (hi < end && device_uses(d, hi, f, n))
		hi += PAGE_SIZE;
	if (!dmirror_migrate_range(d, lo, hi, &moved) && moved)
		__atomic_add_fetch(counter, moved, __ATOMIC_RELAXED);
	return hi;
}

/*
 * Service the window starting at fault f[0] of one address space (sorted
 * by address): *@used says how many of f[] it took. Returns 0, or the
 * error of the last one taken, which cannot be had.
 */
static int service_window(struct gpu_host *gpu, struct dmirror *d, struct fault *f,
			  unsigned long n, unsigned long *used)
{
	unsigned long req[64] = { 0 }, start = f[0].va, end, window = gpu->opts.fault_window;
	struct vm_area_struct vma;
	unsigned long k = 0;
	int ret;

	/*
	 * The window stays inside the 2 MiB block and the mapping of the
	 * fault (all of it when that is not mapped: the fault fails alone).
	 * Past the mapping is memory nobody showed the device, and what it
	 * maps, hetmem watches with its userfaultfd: a thread stack there
	 * would make the exit of its thread wait for the handler, and the
	 * handler's own for itself.
	 */
	end = start + (window << PAGE_SHIFT);
	if (end > (start & ~(HPAGE - 1)) + HPAGE)
		end = (start & ~(HPAGE - 1)) + HPAGE;
	if (hetmem_vma_lookup(d->mm, start, &vma))
		end = start + PAGE_SIZE;
	else if (end > vma.vm_end)
		end = vma.vm_end;
	/* Every fault of the batch inside the window is asked for. */
	for (; k < n && f[k].va < end; k++)
		req[(f[k].va - start) >> PAGE_SHIFT] |=
			HMM_PFN_REQ_FAULT | (f[k].write ? HMM_PFN_REQ_WRITE : 0);
	*used = k;
	ret = dmirror_fault_pages(d, start, (end - start) >> PAGE_SHIFT, req);
	if (ret != -EFAULT && ret != -EPERM)
		return ret;
	/* Some page of the window cannot be had: find which, one at a time. */
	for (unsigned long i = 0; i < k; i++) {
		unsigned long one = HMM_PFN_REQ_FAULT | (f[i].write ? HMM_PFN_REQ_WRITE : 0);
		int r = dmirror_fault_pages(d, f[i].va, 1, &one);

		if (r) {
			*used = i + 1;
			return r;
		}
	}
	return 0;
}

struct channel_verdict {
	bool faulted;
	int err;
};

static void service_asid(struct gpu_host *gpu, struct fault *f, unsigned long n,
			 struct channel_verdict *ch)
{
	struct gpu_mirror *m = gpu_mirror_get(gpu, f[0].asid);
	unsigned int policy = __atomic_load_n(&gpu->policy, __ATOMIC_RELAXED);
	struct dmirror *d;

	if (!m) {
		/* No mirror behind it (closed under a running command). */
		for (unsigned long i = 0; i < n; i++)
			ch[f[i].channel].err = -EFAULT;
		return;
	}
	d = m->dmirror;
	if (policy & GPU_POLICY_MIGRATE_ON_FAULT) {
		unsigned long done_to = 0;

		for (unsigned long i = 0; i < n; i++) {
			if (f[i].va < done_to || mapped(d, f[i].va, f[i].write))
				continue;
			done_to = migrate_around(gpu, d, f[i].va, f, n,
						 &gpu->stats.migrated_on_fault);
		}
	}
	for (unsigned long i = 0; i < n;) {
		unsigned long used = 1;
		int ret = 0;

		if (!mapped(d, f[i].va, f[i].write))
			ret = service_window(gpu, d, f + i, n - i, &used);
		if (ret) {
			/* The last one taken is the one that cannot be had. */
			ch[f[i + used - 1].channel].err = ret;
			gpu_stat_add(gpu, faults_cancelled, 1);
		} else {
			gpu_stat_add(gpu, faults_serviced, used);
		}
		i += used;
	}
	gpu_mirror_put(m);
}

static void note_faults(struct gpu_host *gpu, unsigned int c, int err)
{
	struct gpu_channel *ch = &gpu->ch[c];
	struct gpu_submit *s;

	pthread_mutex_lock(&ch->lock);
	s = gpu_current_submit(ch);
	if (s) {
		s->faults++;
		if (err && !s->err)
			s->err = err;
	}
	pthread_mutex_unlock(&ch->lock);
}

static void handle_counter(struct gpu_host *gpu, const struct gpu_fault_entry *e)
{
	struct gpu_mirror *m;

	gpu_stat_add(gpu, counter_notifications, 1);
	if (!(e->flags & GPU_FAULT_F_SYSTEM)) {
		gpu_vram_touch(gpu, e->addr);
		return;
	}
	if (!(__atomic_load_n(&gpu->policy, __ATOMIC_RELAXED) & GPU_POLICY_MIGRATE_ON_COUNTER))
		return;
	m = gpu_mirror_get(gpu, e->asid);
	if (!m)
		return;
	if (!(dmirror_pt_get(m->dmirror, e->va) & DPT_VALID) ||
	    !gpu_is_vram_page(gpu, pfn_to_page(dmirror_pt_get(m->dmirror, e->va) >> DPT_SHIFT)))
		migrate_around(gpu, m->dmirror, e->va & PAGE_MASK, NULL, 0,
			       &gpu->stats.migrated_on_counter);
	gpu_mirror_put(m);
}

/* One batch; returns how many entries it had. */
static unsigned int fault_batch(struct gpu_host *gpu, struct fault *faults,
				struct gpu_fault_entry *counters)
{
	uint32_t put = gpu_readl(gpu, GPU_REG_FAULT_PUT) % GPU_FAULT_ENTRIES;
	struct channel_verdict ch[GPU_NR_CHANNELS] = { 0 };
	unsigned int nf = 0, nc = 0, n = 0;
	uint32_t replay = 0, cancel = 0;
	uint64_t t0;

	if (put == gpu->fault_get)
		return 0;
	t0 = now_ns();
	for (uint32_t i = gpu->fault_get; i != put; i = (i + 1) % GPU_FAULT_ENTRIES, n++) {
		struct gpu_fault_entry e = gpu->faults[i];

		if (e.type == GPU_FAULT_TYPE_COUNTER) {
			counters[nc++] = e;
			continue;
		}
		if (e.type != GPU_FAULT_TYPE_PAGE || e.channel >= GPU_NR_CHANNELS) {
			pr_warn("%s: fault entry %u of unknown type %u", pci_name(gpu->pdev), i,
				e.type);
			continue;
		}
		faults[nf++] = (struct fault){
			.asid = e.asid,
			.va = e.va & PAGE_MASK,
			.write = e.access != GPU_ACCESS_READ,
			.channel = e.channel,
		};
		ch[e.channel].faulted = true;
	}
	gpu->fault_get = put;
	gpu_writel(gpu, GPU_REG_FAULT_GET, put);
	gpu_stat_add(gpu, fault_batches, 1);
	gpu_stat_add(gpu, faults, nf);

	qsort(faults, nf, sizeof(*faults), fault_cmp);
	for (unsigned int i = 0, j; i < nf; i = j) {
		for (j = i + 1; j < nf && faults[j].asid == faults[i].asid; j++)
			;
		service_asid(gpu, faults + i, j - i, ch);
	}
	for (unsigned int c = 0; c < GPU_NR_CHANNELS; c++) {
		if (!ch[c].faulted)
			continue;
		note_faults(gpu, c, ch[c].err);
		if (ch[c].err)
			cancel |= 1u << c;
		else
			replay |= 1u << c;
	}
	if (replay)
		gpu_writel(gpu, GPU_REG_FAULT_REPLAY, replay);
	if (cancel)
		gpu_writel(gpu, GPU_REG_FAULT_CANCEL, cancel);
	if (nf)
		gpu_stat_add(gpu, service_ns, now_ns() - t0);
	for (unsigned int i = 0; i < nc; i++)
		handle_counter(gpu, &counters[i]);
	return n;
}

static bool stopping(struct gpu_host *gpu)
{
	struct pollfd p = { .fd = gpu->stop_fd, .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

static void *fault_thread(void *arg)
{
	struct gpu_host *gpu = arg;
	struct fault *faults = calloc(GPU_FAULT_ENTRIES, sizeof(*faults));
	struct gpu_fault_entry *counters = calloc(GPU_FAULT_ENTRIES, sizeof(*counters));
	int irq = gpu->emu ? gpu_emu_irq_fd(gpu->emu, GPU_IRQ_FAULT) : -1;
	uint64_t poll_ns = gpu->opts.poll_us == ~0U ? ~0ULL : gpu->opts.poll_us * 1000ULL;
	uint64_t last = now_ns();
	unsigned int spins = 0;

	if (!faults || !counters) {
		pr_err("%s: no memory for the fault handler", pci_name(gpu->pdev));
		goto out;
	}
	for (;;) {
		struct pollfd p[2] = { { .fd = gpu->stop_fd, .events = POLLIN },
				       { .fd = irq, .events = POLLIN } };
		uint64_t v;
		int ret;

		if (fault_batch(gpu, faults, counters)) {
			last = now_ns();
			continue;
		}
		if (poll_ns && now_ns() - last < poll_ns) {
			/* Polling: still give a runnable thread the CPU now and then. */
			if (++spins % 64 == 0) {
				if (stopping(gpu))
					break;
				sched_yield();
			}
			continue;
		}
		/*
		 * Sleep until the interrupt (or, without one, a millisecond),
		 * unmasked for the time being: entries posted before are
		 * signalled at the unmask, and PUT is read again before sleeping.
		 */
		if (irq >= 0) {
			gpu_irq_enable(gpu, GPU_IRQ_FAULT, true);
			if (fault_batch(gpu, faults, counters)) {
				gpu_irq_enable(gpu, GPU_IRQ_FAULT, false);
				last = now_ns();
				continue;
			}
		}
		ret = poll(p, irq >= 0 ? 2 : 1, irq >= 0 ? -1 : 1);
		if (irq >= 0)
			gpu_irq_enable(gpu, GPU_IRQ_FAULT, false);
		if (ret < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			break;
		if (irq >= 0 && (p[1].revents & POLLIN) && read(irq, &v, sizeof(v)) < 0)
			continue;
	}
out:
	free(faults);
	free(counters);
	return NULL;
}

int gpu_fault_start(struct gpu_host *gpu)
{
	if (pthread_create(&gpu->fault_thread, NULL, fault_thread, gpu))
		return -EAGAIN;
	gpu->fault_thread_started = true;
	return 0;
}

void gpu_fault_stop(struct gpu_host *gpu)
{
	if (!gpu->fault_thread_started)
		return;
	pthread_join(gpu->fault_thread, NULL);
	gpu->fault_thread_started = false;
}
