// SPDX-License-Identifier: MIT
/*
 * Controller bring-up, shutdown and the queries on a controller.
 *
 * Bring-up (NVMe 1.4 sec. 7.6.1):
 *
 *   CAP, VS  ->  [CC.EN=1 left by firmware: wait RDY=1, clear EN, wait RDY=0]
 *   -> CMB (CRE, CMBLOC/CMBSZ, CMBMSC high then low)
 *   -> AQA, ASQ, ACQ -> CC (IOSQES 6, IOCQES 4, MPS 0, CSS NVM) -> EN=1
 *   -> wait RDY=1 (CAP.TO; CFS means the controller failed: -EIO)
 *   -> Identify Controller -> Set Features Number of Queues
 *   -> Identify active namespaces
 *
 * Every wait on CSTS is bounded by CAP.TO, the worst case the controller
 * promises for RDY to follow EN.
 */
#define pr_fmt(fmt) "nvme: " fmt

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hetmem/err.h>
#include <hetmem/log.h>
#include "host.h"

/**
 * nvme_time_ns - CLOCK_MONOTONIC in nanoseconds
 *
 * Return: the time.
 */
uint64_t nvme_time_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/**
 * nvme_time_coarse_ns - CLOCK_MONOTONIC_COARSE in nanoseconds
 *
 * Command deadlines are milliseconds apart and set on every submission:
 * the coarse clock (the last tick, read without touching the TSC) is
 * precise enough and costs a few nanoseconds. Deadlines are compared with
 * the fine clock, which is never behind it.
 *
 * Return: the time.
 */
uint64_t nvme_time_coarse_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Sleep a little longer each time: a fast controller is seen at once, a slow one costs no CPU. */
static void backoff(unsigned int *us)
{
	struct timespec ts = { 0, (long)*us * 1000 };

	nanosleep(&ts, NULL);
	if (*us < 1000)
		*us *= 2;
}

/*
 * Wait until (CSTS & @mask) == @val. A register reading all ones means the
 * function is gone (a master abort); CSTS.CFS, when @cfs_fails, that the
 * controller hit a fatal error and will not get there.
 */
static int wait_csts(struct nvme_ctrl *ctrl, uint32_t mask, uint32_t val, bool cfs_fails)
{
	uint64_t deadline = nvme_time_ns() + (uint64_t)ctrl->ready_timeout_ms * 1000000;
	unsigned int us = 1;

	for (;;) {
		uint32_t csts = nvme_readl(ctrl, NVME_REG_CSTS);

		if (csts == ~0U)
			return -ENODEV;
		if (cfs_fails && (csts & NVME_CSTS_CFS))
			return -EIO;
		if ((csts & mask) == val)
			return 0;
		if (nvme_time_ns() > deadline)
			return -ETIMEDOUT;
		backoff(&us);
	}
}

/**
 * nvme_ctrl_disable - clear CC.EN and wait for CSTS.RDY=0
 * @ctrl: the controller
 *
 * The controller then has deleted every I/O queue, forgotten the admin
 * queue and stopped all DMA (sec. 7.3.2, Controller Reset).
 *
 * Return: 0, -ETIMEDOUT (CAP.TO passed), -ENODEV (registers read all ones).
 */
int nvme_ctrl_disable(struct nvme_ctrl *ctrl)
{
	uint32_t cc = nvme_readl(ctrl, NVME_REG_CC);

	if (cc == ~0U)
		return -ENODEV;
	if (cc & NVME_CC_ENABLE)
		nvme_writel(ctrl, NVME_REG_CC, cc & ~NVME_CC_ENABLE);
	return wait_csts(ctrl, NVME_CSTS_RDY, 0, false);
}

/**
 * nvme_ctrl_enable - program the admin queue and enable the controller
 * @ctrl: the controller, disabled, its admin ring reset
 *
 * Return: 0, -ETIMEDOUT, -EIO (CSTS.CFS), -ENODEV.
 */
int nvme_ctrl_enable(struct nvme_ctrl *ctrl)
{
	struct nvme_qpair *aq = ctrl->admin;
	uint32_t aqa = (uint32_t)(aq->entries - 1) | ((uint32_t)(aq->entries - 1) << 16);
	uint32_t cc;

	nvme_writel(ctrl, NVME_REG_AQA, aqa);
	ctrl->t->ops->reg_write64(ctrl->t->priv, NVME_REG_ASQ, aq->sq_dma);
	ctrl->t->ops->reg_write64(ctrl->t->priv, NVME_REG_ACQ, aq->cq_dma);
	/* 64-byte SQEs (2^6), 16-byte CQEs (2^4), 4 KiB pages (2^(12+0)), round robin. */
	cc = NVME_CC_CSS_NVM | (0 << NVME_CC_MPS_SHIFT) | NVME_CC_SHN_NONE |
	     (6 << NVME_CC_IOSQES_SHIFT) | (4 << NVME_CC_IOCQES_SHIFT);
	nvme_writel(ctrl, NVME_REG_CC, cc);
	nvme_writel(ctrl, NVME_REG_CC, cc | NVME_CC_ENABLE);
	return wait_csts(ctrl, NVME_CSTS_RDY, NVME_CSTS_RDY, true);
}

/*
 * Firmware (SeaBIOS, a previous driver) may leave the controller enabled
 * with an admin queue in memory we know nothing of. Take it down first. A
 * controller still coming up (EN=1, RDY=0) is let finish: turning EN off
 * in the middle of enabling is asking for trouble on real hardware.
 */
static int take_over(struct nvme_ctrl *ctrl)
{
	uint32_t cc = nvme_readl(ctrl, NVME_REG_CC);
	uint32_t csts = nvme_readl(ctrl, NVME_REG_CSTS);

	if (cc == ~0U || csts == ~0U)
		return -ENODEV;
	if (!(cc & NVME_CC_ENABLE) && !(csts & NVME_CSTS_RDY))
		return 0;
	if ((cc & NVME_CC_ENABLE) && !(csts & NVME_CSTS_RDY))
		wait_csts(ctrl, NVME_CSTS_RDY, NVME_CSTS_RDY, true);
	pr_info("controller left enabled (CC 0x%x, CSTS 0x%x): disabling it first", cc, csts);
	return nvme_ctrl_disable(ctrl);
}

/* An admin command on the admin queue under the lock, as probe and reset issue them. */
static int admin_sync(struct nvme_ctrl *ctrl, const struct nvme_command *cmd, void *buf, size_t len,
		      enum dma_data_direction dir, uint32_t *result)
{
	int ret;

	pthread_mutex_lock(&ctrl->admin_lock);
	ret = nvme_sync_locked(ctrl->admin, cmd, buf, len, dir, result);
	pthread_mutex_unlock(&ctrl->admin_lock);
	return ret;
}

/* Positive NVMe statuses become -EIO where a caller wants an errno. */
static int to_errno(int ret)
{
	return ret > 0 ? -EIO : ret;
}

static int identify_ctrl(struct nvme_ctrl *ctrl)
{
	struct nvme_command cmd = { .opcode = nvme_admin_identify };
	int ret;

	ctrl->id = aligned_alloc(NVME_PAGE_SIZE, sizeof(*ctrl->id));
	if (!ctrl->id)
		return -ENOMEM;
	cmd.cdw10 = htole32(NVME_ID_CNS_CTRL);
	ret = admin_sync(ctrl, &cmd, ctrl->id, sizeof(*ctrl->id), DMA_FROM_DEVICE, NULL);
	if (ret)
		pr_err("Identify Controller failed: %d", ret);
	return to_errno(ret);
}

/**
 * nvme_set_queue_count - Set Features Number of Queues (sec. 5.21.1.7)
 * @ctrl: the controller; the admin lock is held
 *
 * Asks for max_io_queues submission and completion queues (0-based in the
 * command and the answer). At probe the answer sets how many queue pairs
 * exist; after a reset the controller must grant at least as many again.
 *
 * Return: 0, -EIO when the command failed or grants fewer queues than are
 * in use, -ETIMEDOUT, -ENODEV.
 */
int nvme_set_queue_count(struct nvme_ctrl *ctrl)
{
	unsigned int want = ctrl->opts.max_io_queues, got;
	struct nvme_command cmd = { .opcode = nvme_admin_set_features };
	uint32_t result = 0;
	int ret;

	cmd.cdw10 = htole32(NVME_FEAT_NUM_QUEUES);
	cmd.cdw11 = htole32((want - 1) | ((want - 1) << 16));
	ret = nvme_sync_locked(ctrl->admin, &cmd, NULL, 0, DMA_NONE, &result);
	if (ret) {
		pr_err("Set Features Number of Queues failed: %d", ret);
		return to_errno(ret);
	}
	got = (result & 0xffff) + 1;
	if (((result >> 16) & 0xffff) + 1 < got)
		got = ((result >> 16) & 0xffff) + 1;
	if (got > want)
		got = want;
	if (ctrl->nr_io_queues && got < ctrl->nr_io_queues) {
		pr_err("controller grants %u I/O queues, %u were in use", got, ctrl->nr_io_queues);
		return -EIO;
	}
	ctrl->nr_io_queues = got;
	return 0;
}

/* MDTS counts minimum memory pages, CAP.MPSMIN (Identify, sec. 5.15); 0: no limit. */
static void size_transfers(struct nvme_ctrl *ctrl, size_t want)
{
	size_t max = want;
	size_t seg = ctrl->t->dma_seg_max;

	if (ctrl->id && ctrl->id->mdts) {
		unsigned int shift = NVME_PAGE_SHIFT + NVME_CAP_MPSMIN(ctrl->cap) + ctrl->id->mdts;
		size_t mdts = shift < 8 * sizeof(size_t) - 1 ? (size_t)1 << shift : max;

		if (mdts < max)
			max = mdts;
	}
	max &= ~(size_t)(NVME_PAGE_SIZE - 1);
	if (max < NVME_PAGE_SIZE)
		max = NVME_PAGE_SIZE;
	ctrl->max_transfer = max;
	/* An unaligned buffer touches one granule more than its length needs. */
	ctrl->max_segs = seg ? (unsigned int)DIV_ROUND_UP(max, seg) + 1 : 1;
	ctrl->list_pages = nvme_prp_list_pages(max);
	if (ctrl->sgl && nvme_sgl_list_pages(ctrl->max_segs) > ctrl->list_pages)
		ctrl->list_pages = nvme_sgl_list_pages(ctrl->max_segs);
	/* At least one: Dataset Management ranges are built in it. */
	if (!ctrl->list_pages)
		ctrl->list_pages = 1;
}

static int check_opts(struct nvme_ctrl *ctrl, const struct nvme_ctrl_opts *opts)
{
	if (opts)
		ctrl->opts = *opts;
	if (!ctrl->opts.io_queue_depth)
		ctrl->opts.io_queue_depth = NVME_DEFAULT_DEPTH;
	if (!ctrl->opts.timeout_ms)
		ctrl->opts.timeout_ms = NVME_DEFAULT_TIMEOUT_MS;
	if (!ctrl->opts.max_transfer)
		ctrl->opts.max_transfer = NVME_DEFAULT_MAX_TRANSFER;
	if (!ctrl->opts.max_io_queues)
		ctrl->opts.max_io_queues = NVME_DEFAULT_IO_QUEUES;
	if (ctrl->opts.io_queue_depth > NVME_MAX_SLOTS || ctrl->opts.max_io_queues > 0xffff ||
	    ctrl->opts.max_transfer < NVME_PAGE_SIZE)
		return -EINVAL;
	if (ctrl->t->dma_seg_max && (ctrl->t->dma_seg_max < NVME_PAGE_SIZE ||
				     (ctrl->t->dma_seg_max & (ctrl->t->dma_seg_max - 1))))
		return -EINVAL;
	return 0;
}

static int read_cap(struct nvme_ctrl *ctrl)
{
	ctrl->cap = ctrl->t->ops->reg_read64(ctrl->t->priv, NVME_REG_CAP);
	if (ctrl->cap == ~0ULL)
		return -ENODEV;
	ctrl->vs = nvme_readl(ctrl, NVME_REG_VS);
	ctrl->dstrd = (unsigned int)NVME_CAP_DSTRD(ctrl->cap);
	/* CAP.TO is in 500 ms units; 0 is not a valid promise, assume one unit. */
	ctrl->ready_timeout_ms =
		500 * (NVME_CAP_TIMEOUT(ctrl->cap) ? NVME_CAP_TIMEOUT(ctrl->cap) : 1);
	if (!(NVME_CAP_CSS(ctrl->cap) & NVME_CAP_CSS_NVM)) {
		pr_err("controller lacks the NVM command set (CAP 0x%llx)",
		       (unsigned long long)ctrl->cap);
		return -ENODEV;
	}
	if (NVME_CAP_MPSMIN(ctrl->cap) > 0) {
		pr_err("controller does not take 4 KiB pages (CAP.MPSMIN %u)",
		       (unsigned int)NVME_CAP_MPSMIN(ctrl->cap));
		return -ENODEV;
	}
	return 0;
}

/* Identify strings are padded with spaces, not terminated. */
static int trimmed(const char *s, size_t len)
{
	while (len && (s[len - 1] == ' ' || !s[len - 1]))
		len--;
	return (int)len;
}

static void ctrl_free(struct nvme_ctrl *ctrl)
{
	nvme_ns_free(ctrl);
	nvme_reg_bufs_release(ctrl);
	if (ctrl->admin) {
		nvme_qpair_destroy(ctrl->admin);
		free(ctrl->admin);
	}
	nvme_cmb_release(ctrl);
	free(ctrl->id);
	free(ctrl->qid_used);
	pthread_mutex_destroy(&ctrl->admin_lock);
	free(ctrl);
}

struct nvme_ctrl *nvme_ctrl_probe(struct nvme_transport *t, const struct nvme_ctrl_opts *opts)
{
	struct nvme_ctrl *ctrl;
	unsigned int entries;
	int ret;

	if (!t || !t->ops)
		return ERR_PTR(-EINVAL);
	ctrl = calloc(1, sizeof(*ctrl));
	if (!ctrl)
		return ERR_PTR(-ENOMEM);
	ctrl->t = t;
	pthread_mutex_init(&ctrl->admin_lock, NULL);
	INIT_LIST_HEAD(&ctrl->qpairs);
	ret = check_opts(ctrl, opts);
	if (ret)
		goto fail;
	ret = read_cap(ctrl);
	if (ret)
		goto fail;
	/* Until Identify tells MDTS, size slots for the most the options allow. */
	ctrl->sgl = ctrl->opts.use_sgl;
	size_transfers(ctrl, ctrl->opts.max_transfer);
	entries = NVME_ADMIN_ENTRIES;
	if (entries > NVME_CAP_MQES(ctrl->cap) + 1)
		entries = NVME_CAP_MQES(ctrl->cap) + 1;
	ctrl->admin = calloc(1, sizeof(*ctrl->admin));
	if (!ctrl->admin) {
		ret = -ENOMEM;
		goto fail;
	}
	ret = nvme_qpair_init(ctrl->admin, ctrl, 0, entries, false);
	if (ret) {
		free(ctrl->admin);
		ctrl->admin = NULL;
		goto fail;
	}
	/* The admin CQ is always on interrupt vector 0. */
	if (ctrl->opts.use_irq)
		ctrl->admin->vector = 0;
	ret = take_over(ctrl);
	if (ret)
		goto fail;
	nvme_cmb_setup(ctrl);
	ret = nvme_ctrl_enable(ctrl);
	if (ret) {
		pr_err("controller did not become ready: %d (CSTS 0x%x)", ret,
		       nvme_readl(ctrl, NVME_REG_CSTS));
		goto fail;
	}
	ctrl->admin->created = true;
	ret = identify_ctrl(ctrl);
	if (ret)
		goto fail_disable;
	/* SGLS bits 1:0: 01b any alignment, 10b dword alignment and granularity (sec. 5.15). */
	ctrl->sgl = ctrl->opts.use_sgl && (le32toh(ctrl->id->sgls) & 3);
	ctrl->sgl_dword = (le32toh(ctrl->id->sgls) & 3) == 2;
	size_transfers(ctrl, ctrl->opts.max_transfer);
	pthread_mutex_lock(&ctrl->admin_lock);
	ret = nvme_set_queue_count(ctrl);
	pthread_mutex_unlock(&ctrl->admin_lock);
	if (ret)
		goto fail_disable;
	ctrl->qid_used = calloc(ctrl->nr_io_queues + 1, 1);
	if (!ctrl->qid_used) {
		ret = -ENOMEM;
		goto fail_disable;
	}
	ret = nvme_ns_scan(ctrl);
	if (ret)
		goto fail_disable;
	pr_info("%.*s (SN %.*s): NVMe %u.%u, %u I/O queues, %u namespaces, max transfer %zu, %s",
		trimmed(ctrl->id->mn, sizeof(ctrl->id->mn)), ctrl->id->mn,
		trimmed(ctrl->id->sn, sizeof(ctrl->id->sn)), ctrl->id->sn, ctrl->vs >> 16,
		(ctrl->vs >> 8) & 0xff, ctrl->nr_io_queues, ctrl->nr_ns, ctrl->max_transfer,
		ctrl->sgl ? "SGL" : "PRP");
	return ctrl;
fail_disable:
	nvme_ctrl_disable(ctrl);
fail:
	ctrl_free(ctrl);
	return ERR_PTR(ret);
}

/*
 * Normal shutdown (sec. 7.6.2): the controller finishes what it has, writes
 * its volatile cache back, and says so with CSTS.SHST = 10b. RTD3E, when
 * given, is its promise of how long that takes.
 */
static void shutdown_ctrl(struct nvme_ctrl *ctrl)
{
	uint32_t cc = nvme_readl(ctrl, NVME_REG_CC);
	unsigned int ms = le32toh(ctrl->id->rtd3e) / 1000;
	uint64_t deadline;
	unsigned int us = 1;

	if (cc == ~0U || !(cc & NVME_CC_ENABLE))
		return;
	if (ms < ctrl->ready_timeout_ms)
		ms = ctrl->ready_timeout_ms;
	deadline = nvme_time_ns() + (uint64_t)ms * 1000000;
	nvme_writel(ctrl, NVME_REG_CC, (cc & ~NVME_CC_SHN_MASK) | NVME_CC_SHN_NORMAL);
	for (;;) {
		uint32_t csts = nvme_readl(ctrl, NVME_REG_CSTS);

		if (csts == ~0U)
			return;
		if ((csts & NVME_CSTS_SHST_MASK) == NVME_CSTS_SHST_CMPLT)
			return;
		if (nvme_time_ns() > deadline) {
			pr_warn("shutdown did not complete in %u ms (CSTS 0x%x)", ms, csts);
			return;
		}
		backoff(&us);
	}
}

void nvme_ctrl_remove(struct nvme_ctrl *ctrl)
{
	if (!ctrl)
		return;
	for (;;) {
		struct nvme_qpair *qp = NULL;

		pthread_mutex_lock(&ctrl->admin_lock);
		if (!list_empty(&ctrl->qpairs))
			qp = container_of(ctrl->qpairs.next, struct nvme_qpair, node);
		pthread_mutex_unlock(&ctrl->admin_lock);
		if (!qp)
			break;
		pr_warn("qid %u still allocated at removal: freeing it", qp->qid);
		nvme_qpair_free(qp);
	}
	pthread_mutex_lock(&ctrl->admin_lock);
	if (nvme_ctrl_state(ctrl) == NVME_CTRL_LIVE)
		shutdown_ctrl(ctrl);
	pthread_mutex_unlock(&ctrl->admin_lock);
	ctrl_free(ctrl);
}

int nvme_ctrl_reset(struct nvme_ctrl *ctrl)
{
	int ret;

	pthread_mutex_lock(&ctrl->admin_lock);
	ret = nvme_ctrl_state(ctrl) == NVME_CTRL_DEAD ? -ENODEV : nvme_ctrl_reset_locked(ctrl);
	pthread_mutex_unlock(&ctrl->admin_lock);
	return ret;
}

const struct nvme_id_ctrl *nvme_ctrl_identify(const struct nvme_ctrl *ctrl)
{
	return ctrl->id;
}

uint64_t nvme_ctrl_cap(const struct nvme_ctrl *ctrl)
{
	return ctrl->cap;
}

size_t nvme_ctrl_max_transfer(const struct nvme_ctrl *ctrl)
{
	return ctrl->max_transfer;
}

bool nvme_ctrl_uses_sgl(const struct nvme_ctrl *ctrl)
{
	return ctrl->sgl;
}

unsigned int nvme_ctrl_nr_io_queues(const struct nvme_ctrl *ctrl)
{
	return ctrl->nr_io_queues;
}

void nvme_ctrl_cmb(const struct nvme_ctrl *ctrl, struct nvme_cmb_info *info)
{
	*info = ctrl->cmb;
}

void nvme_ctrl_get_stats(const struct nvme_ctrl *ctrl, struct nvme_ctrl_stats *stats)
{
	const struct nvme_ctrl_stats *s = &ctrl->stats;

	stats->bounced_ios = __atomic_load_n(&s->bounced_ios, __ATOMIC_RELAXED);
	stats->split_ios = __atomic_load_n(&s->split_ios, __ATOMIC_RELAXED);
	stats->timeouts = __atomic_load_n(&s->timeouts, __ATOMIC_RELAXED);
	stats->aborts = __atomic_load_n(&s->aborts, __ATOMIC_RELAXED);
	stats->resets = __atomic_load_n(&s->resets, __ATOMIC_RELAXED);
	stats->reset_failed = __atomic_load_n(&s->reset_failed, __ATOMIC_RELAXED);
}
