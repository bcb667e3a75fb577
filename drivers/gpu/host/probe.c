// SPDX-License-Identifier: MIT
/*
 * Binding to the GPU function and unbinding.
 *
 * Probe: check the IDs and the register block, reset the device, enable
 * bus mastering, give each channel its ring and the device a fault
 * buffer, make device-private VRAM struct pages (vram.c) and the BAR2
 * window P2PDMA memory, and start the threads: the completion interrupt's
 * (channel.c) and the fault buffer's (fault.c).
 *
 * Remove undoes it in the order that loses nothing: every device-private
 * page comes home while the device still runs (it is the only way to its
 * data), then the threads stop, the page maps go (each waits for its last
 * user), and the device is reset with bus mastering off.
 */
#define pr_fmt(fmt) "gpu-host: " fmt

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <hetmem/err.h>
#include <hetmem/gpu-emu.h>
#include <hetmem/log.h>
#include <hetmem/pci-p2pdma.h>
#include <hetmem/pci.h>
#include "host.h"

#define RESET_TIMEOUT_MS 1000
#define ZERO_PAGES	 16 /* the source of zero-filled VRAM, copied from in runs */

/* Functions a driver instance is bound to: a function takes one driver. */
static pthread_mutex_t bound_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pci_dev *bound[64];

uint32_t gpu_readl(struct gpu_host *gpu, unsigned int reg)
{
	return (uint32_t)pci_mmio_read(gpu->pdev, GPU_BAR_REGS, reg, 4);
}

uint64_t gpu_readq(struct gpu_host *gpu, unsigned int reg)
{
	return pci_mmio_read(gpu->pdev, GPU_BAR_REGS, reg, 8);
}

void gpu_writel(struct gpu_host *gpu, unsigned int reg, uint32_t val)
{
	pci_mmio_write(gpu->pdev, GPU_BAR_REGS, reg, 4, val);
}

void gpu_writeq(struct gpu_host *gpu, unsigned int reg, uint64_t val)
{
	pci_mmio_write(gpu->pdev, GPU_BAR_REGS, reg, 8, val);
}

static int bind(struct pci_dev *pdev)
{
	int free_slot = -1;

	pthread_mutex_lock(&bound_lock);
	for (int i = 0; i < (int)(sizeof(bound) / sizeof(bound[0])); i++) {
		if (bound[i] == pdev) {
			pthread_mutex_unlock(&bound_lock);
			return -EBUSY;
		}
		if (!bound[i] && free_slot < 0)
			free_slot = i;
	}
	if (free_slot >= 0)
		bound[free_slot] = pdev;
	pthread_mutex_unlock(&bound_lock);
	return free_slot >= 0 ? 0 : -ENOMEM;
}

static void unbind(struct pci_dev *pdev)
{
	pthread_mutex_lock(&bound_lock);
	for (size_t i = 0; i < sizeof(bound) / sizeof(bound[0]); i++)
		if (bound[i] == pdev)
			bound[i] = NULL;
	pthread_mutex_unlock(&bound_lock);
}

static int check_opts(struct gpu_host *gpu, const struct gpu_host_opts *opts)
{
	struct gpu_host_opts *o = &gpu->opts;

	if (opts) {
		size_t n = opts->size && opts->size < sizeof(*o) ? opts->size : sizeof(*o);

		memcpy(o, opts, n);
	}
	o->size = sizeof(*o);
	if (o->policy & ~(GPU_POLICY_MIGRATE_ON_FAULT | GPU_POLICY_MIGRATE_ON_COUNTER))
		return -EINVAL;
	if (!o->counter_threshold)
		o->counter_threshold = 64;
	if (!o->migrate_pages)
		o->migrate_pages = 16;
	if (!o->fault_window)
		o->fault_window = 16;
	if (o->migrate_pages > GPU_BLOCK_PAGES || o->fault_window > 64)
		return -EINVAL;
	return 0;
}

static int reset_device(struct gpu_host *gpu)
{
	struct timespec t = { .tv_nsec = 100000 };

	gpu_writel(gpu, GPU_REG_CTRL, GPU_CTRL_RESET);
	for (int i = 0; i < RESET_TIMEOUT_MS * 10; i++) {
		uint32_t sts = gpu_readl(gpu, GPU_REG_STATUS);

		if ((sts & GPU_STS_READY) && !(sts & GPU_STS_RESETTING))
			return 0;
		nanosleep(&t, NULL);
	}
	pr_err("%s: does not come out of reset", pci_name(gpu->pdev));
	return -EIO;
}

static int setup_faults(struct gpu_host *gpu)
{
	size_t len = GPU_FAULT_ENTRIES * sizeof(struct gpu_fault_entry);

	gpu->faults = aligned_alloc(PAGE_SIZE, len);
	if (!gpu->faults)
		return -ENOMEM;
	memset(gpu->faults, 0, len);
	gpu->faults_dma = dma_map_single(gpu->pdev, gpu->faults, len, DMA_BIDIRECTIONAL);
	if (dma_mapping_error(gpu->pdev, gpu->faults_dma)) {
		int ret = dma_mapping_error(gpu->pdev, gpu->faults_dma);

		gpu->faults_dma = 0;
		return ret;
	}
	gpu_writeq(gpu, GPU_REG_FAULT_BASE, gpu->faults_dma);
	gpu_writel(gpu, GPU_REG_FAULT_SIZE, GPU_FAULT_ENTRIES);
	gpu_writel(gpu, GPU_REG_FAULT_CTRL, GPU_FAULT_CTRL_ENABLE);
	gpu->fault_get = 0;
	return 0;
}

static int setup_zero(struct gpu_host *gpu)
{
	size_t len = ZERO_PAGES * PAGE_SIZE;

	gpu->zero_page = aligned_alloc(PAGE_SIZE, len);
	if (!gpu->zero_page)
		return -ENOMEM;
	memset(gpu->zero_page, 0, len);
	gpu->zero_dma = dma_map_single(gpu->pdev, gpu->zero_page, len, DMA_TO_DEVICE);
	if (dma_mapping_error(gpu->pdev, gpu->zero_dma)) {
		int ret = dma_mapping_error(gpu->pdev, gpu->zero_dma);

		gpu->zero_dma = 0;
		return ret;
	}
	return 0;
}

static void setup_p2p(struct gpu_host *gpu)
{
#ifdef CONFIG_PCI_P2PDMA
	int ret;

	if (gpu->opts.no_p2p)
		return;
	/* The BAR2 window, as the kernel's drivers register a CMB or a GPU BAR. */
	ret = pci_p2pdma_add_resource(gpu->pdev, GPU_BAR_VRAM, gpu->vram_visible, 0);
	if (ret) {
		pr_warn("%s: BAR2 is not P2PDMA memory: %d", pci_name(gpu->pdev), ret);
		return;
	}
	pci_p2pmem_publish(gpu->pdev, true);
	gpu->p2p = true;
#endif
}

/* Undo what probe did, whatever it got to. */
static void teardown(struct gpu_host *gpu)
{
	uint64_t one = 1;

	if (gpu->stop_fd >= 0 && write(gpu->stop_fd, &one, sizeof(one)) != sizeof(one))
		pr_err("cannot stop the driver's threads");
	gpu_fault_stop(gpu);
	gpu_irq_stop(gpu);
	gpu_vram_fini(gpu);
#ifdef CONFIG_PCI_P2PDMA
	if (gpu->p2p)
		pci_p2pdma_release(gpu->pdev);
#endif
	if (gpu->faults_dma) {
		gpu_writel(gpu, GPU_REG_FAULT_CTRL, 0);
		dma_unmap_single(gpu->pdev, gpu->faults_dma,
				 GPU_FAULT_ENTRIES * sizeof(struct gpu_fault_entry),
				 DMA_BIDIRECTIONAL);
	}
	for (unsigned int i = 0; i < GPU_NR_CHANNELS; i++)
		gpu_channel_fini(gpu, i);
	if (gpu->zero_dma)
		dma_unmap_single(gpu->pdev, gpu->zero_dma, ZERO_PAGES * PAGE_SIZE, DMA_TO_DEVICE);
	gpu_writel(gpu, GPU_REG_IRQ_MASK, (1u << GPU_NR_VECTORS) - 1);
	gpu_writel(gpu, GPU_REG_CTRL, GPU_CTRL_RESET);
	pci_clear_master(gpu->pdev);
	free(gpu->faults);
	free(gpu->zero_page);
	if (gpu->stop_fd >= 0)
		close(gpu->stop_fd);
	dmirror_device_fini(&gpu->mdevice);
	pthread_mutex_destroy(&gpu->irq_lock);
	pthread_cond_destroy(&gpu->irq_cond);
	pthread_mutex_destroy(&gpu->mask_lock);
	pthread_mutex_destroy(&gpu->asid_lock);
	pthread_cond_destroy(&gpu->asid_cond);
	unbind(gpu->pdev);
	free(gpu);
}

struct gpu_host *gpu_host_probe(struct pci_dev *pdev, const struct gpu_host_opts *opts)
{
	struct gpu_host *gpu;
	uint32_t id, version;
	int ret;

	if (!pdev || pci_dev_vendor(pdev) != GPU_VENDOR_ID ||
	    pci_dev_device(pdev) != GPU_DEVICE_ID || pci_dev_class(pdev) != GPU_CLASS)
		return ERR_PTR(-ENODEV);
	ret = bind(pdev);
	if (ret)
		return ERR_PTR(ret);
	gpu = calloc(1, sizeof(*gpu));
	if (!gpu) {
		unbind(pdev);
		return ERR_PTR(-ENOMEM);
	}
	gpu->pdev = pdev;
	gpu->stop_fd = -1;
	pthread_mutex_init(&gpu->irq_lock, NULL);
	pthread_cond_init(&gpu->irq_cond, NULL);
	pthread_mutex_init(&gpu->mask_lock, NULL);
	pthread_mutex_init(&gpu->asid_lock, NULL);
	pthread_cond_init(&gpu->asid_cond, NULL);
	dmirror_device_init(&gpu->mdevice, &gpu_dmirror_ops, gpu);
	ret = check_opts(gpu, opts);
	if (ret)
		goto fail;

	id = gpu_readl(gpu, GPU_REG_ID);
	version = gpu_readl(gpu, GPU_REG_VERSION);
	if (id != GPU_ID_MAGIC || version >> 16 != GPU_VERSION >> 16) {
		pr_err("%s: not the GPU this driver knows (id %#x, version %#x)", pci_name(pdev),
		       id, version);
		ret = -ENODEV;
		goto fail;
	}
	/* The platform's interrupt wiring (MSI as eventfds); without it, polling. */
	gpu->emu = gpu_emu_from_pdev(pdev);
	ret = reset_device(gpu);
	if (ret)
		goto fail;
	gpu->vram_size = gpu_readq(gpu, GPU_REG_VRAM_SIZE);
	gpu->vram_visible = gpu_readq(gpu, GPU_REG_VRAM_VISIBLE);
	gpu->features = gpu_readl(gpu, GPU_REG_FEATURES);
	if (gpu->vram_size <= gpu->vram_visible ||
	    gpu_readl(gpu, GPU_REG_NR_CHANNELS) < GPU_NR_CHANNELS) {
		pr_err("%s: no device-private VRAM (%llu bytes, %llu visible) or too few "
		       "channels", pci_name(pdev), (unsigned long long)gpu->vram_size,
		       (unsigned long long)gpu->vram_visible);
		ret = -ENODEV;
		goto fail;
	}
	if ((gpu->opts.policy & GPU_POLICY_MIGRATE_ON_COUNTER) &&
	    !(gpu->features & GPU_FEAT_COUNTERS)) {
		ret = -EINVAL;
		goto fail;
	}
	pci_set_master(pdev);
	gpu->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (gpu->stop_fd < 0) {
		ret = -errno;
		goto fail;
	}
	ret = setup_zero(gpu);
	for (unsigned int i = 0; !ret && i < GPU_NR_CHANNELS; i++)
		ret = gpu_channel_init(gpu, i);
	if (!ret)
		ret = setup_faults(gpu);
	if (ret)
		goto fail;
	gpu->policy = gpu->opts.policy;
	gpu->counter_threshold = gpu->opts.counter_threshold;
	if (gpu->features & GPU_FEAT_COUNTERS)
		gpu_writel(gpu, GPU_REG_COUNTER_THRESHOLD,
			   gpu->policy & GPU_POLICY_MIGRATE_ON_COUNTER ? gpu->counter_threshold : 0);
	/* Both vectors masked until somebody sleeps on them. */
	gpu->irq_mask = (1u << GPU_NR_VECTORS) - 1;
	gpu_writel(gpu, GPU_REG_IRQ_MASK, gpu->irq_mask);
	gpu_writel(gpu, GPU_REG_IRQ_STATUS, (1u << GPU_NR_VECTORS) - 1);
	ret = gpu_irq_start(gpu);
	if (!ret)
		ret = gpu_vram_init(gpu);
	if (ret)
		goto fail;
	setup_p2p(gpu);
	ret = gpu_fault_start(gpu);
	if (ret)
		goto fail;
	pr_info("%s: %llu MiB VRAM, %llu MiB device-private, BAR2 %s", pci_name(pdev),
		(unsigned long long)(gpu->vram_size >> 20),
		(unsigned long long)((gpu->vram_size - gpu->vram_visible) >> 20),
		gpu->p2p ? "published as P2PDMA memory" : "not P2PDMA memory");
	return gpu;
fail:
	teardown(gpu);
	return ERR_PTR(ret);
}

void gpu_host_remove(struct gpu_host *gpu)
{
	unsigned long left;

	if (!gpu)
		return;
	__atomic_store_n(&gpu->dead, true, __ATOMIC_RELEASE);
	pthread_mutex_lock(&gpu->mdevice.mirrors_lock);
	if (!list_empty(&gpu->mdevice.mirrors))
		pr_err("%s: removed with mirrors open", pci_name(gpu->pdev));
	pthread_mutex_unlock(&gpu->mdevice.mirrors_lock);
	/* Every byte home while the copy engine can still fetch it. */
	left = gpu_vram_evict_all(gpu);
	if (left)
		pr_err("%s: %lu device pages stayed busy and could not come home",
		       pci_name(gpu->pdev), left);
	teardown(gpu);
}

struct dmirror_device *gpu_host_dmirror(struct gpu_host *gpu)
{
	return &gpu->mdevice;
}

struct pci_dev *gpu_host_pdev(struct gpu_host *gpu)
{
	return gpu->pdev;
}

int gpu_host_set_policy(struct gpu_host *gpu, unsigned int policy, unsigned int counter_threshold)
{
	if (policy & ~(GPU_POLICY_MIGRATE_ON_FAULT | GPU_POLICY_MIGRATE_ON_COUNTER))
		return -EINVAL;
	if ((policy & GPU_POLICY_MIGRATE_ON_COUNTER) && !(gpu->features & GPU_FEAT_COUNTERS))
		return -EOPNOTSUPP;
	if (counter_threshold)
		__atomic_store_n(&gpu->counter_threshold, counter_threshold, __ATOMIC_RELAXED);
	__atomic_store_n(&gpu->policy, policy, __ATOMIC_RELAXED);
	if (gpu->features & GPU_FEAT_COUNTERS)
		gpu_writel(gpu, GPU_REG_COUNTER_THRESHOLD,
			   policy & GPU_POLICY_MIGRATE_ON_COUNTER ?
				   __atomic_load_n(&gpu->counter_threshold, __ATOMIC_RELAXED) :
				   0);
	return 0;
}

void gpu_host_stats(struct gpu_host *gpu, struct gpu_host_stats *st)
{
	unsigned long *to = (unsigned long *)st, *from = (unsigned long *)&gpu->stats;

	for (size_t i = 0; i < sizeof(*st) / sizeof(unsigned long); i++)
		to[i] = __atomic_load_n(&from[i], __ATOMIC_RELAXED);
}
