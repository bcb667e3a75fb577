// SPDX-License-Identifier: MIT
/*
 * This process's machine: built from RUN/machine.ini the first time the
 * process uses one of its devices, never earlier (most processes of a run,
 * a shell or `cat`, never need it).
 *
 * Every process builds the same machine: the config is the same, and so is
 * enumeration. What must be shared is shared through files: the namespace
 * images (each process's controller writes through to them: the interposer
 * turns the controllers' volatile write cache off, so a write completed in
 * one process is in the file for the next), and the providers' BAR memory
 * (RUN/bar/, mapped over the memory the fabric gave the BAR, so every
 * process sees the same bytes at the same offsets).
 *
 * The emulated controller refuses a namespace file another controller has
 * open (its lock protects two write caches from each other); with the
 * caches off there is nothing to protect, and the flock() hook lets the
 * run's own controllers share the run's images.
 *
 * Counters: each process adds what its links, root complexes and
 * controllers counted to the state when it exits (hi_inst_fold()).
 */
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <hetmem/err.h>
#include <hetmem/log.h>
#include <hetmem/machine.h>
#ifdef CONFIG_GPU_EMU
#include <hetmem/gpu-emu.h>
#endif
#include <hetmem/nvme.h>
#include <hetmem/pci-p2pdma.h>
#include <hetmem/pci.h>

#include "interpose.h"
#include "prepare.h"
#include "hmm-dev.h"

static pthread_mutex_t inst_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hi_inst *inst;
static struct hi_inst *abandoned; /* the parents' machines, in a fork child */
static bool build_failed;
static unsigned int generation;

struct hi_inst *hi_inst_current(void)
{
	return __atomic_load_n(&inst, __ATOMIC_ACQUIRE);
}

void hi_inst_atfork_child(void)
{
	/* The parent's machine stays behind, unused: its threads are not here. */
	if (inst) {
		inst->older = abandoned;
		abandoned = inst;
	}
	inst = NULL;
	build_failed = false;
	pthread_mutex_init(&inst_lock, NULL);
}

/* The providers' BARs: the run's shared files instead of the fabric's private memory. */
static int share_bars(struct hi_inst *in, char *err, size_t errlen)
{
	struct hi_state *st = hi_ctx.st;
	int n;

	for (unsigned int i = 0; i < st->nr_prov; i++) {
		const struct hi_prov_desc *p = &st->prov[i];
		struct pci_dev *dev = machine_find(in->m, p->label);
		char rel[256], path[PATH_MAX];
		uint64_t off = 0;
		void *ram, *va;
		int fd, bfd;

		if (!dev || pci_resource_len(dev, p->bar) != p->size) {
			snprintf(err, errlen, "%s is not the function the run describes", p->label);
			return -EINVAL;
		}
		ram = pci_iomap(dev, p->bar);
		bfd = pci_bar_fd(dev, p->bar, &off);
		in->prov_bar[i] = ram;
		if (!ram || bfd < 0 || off) {
			/*
			 * A device model that backs the BAR with memory of its own:
			 * nothing to share it through. The machine works; only this
			 * provider's p2pmem/allocate cannot be mapped.
			 */
			in->prov_file[i] = false;
			continue;
		}
		hi_bar_file(rel, sizeof(rel), p);
		hi_run_path(path, sizeof(path), hi_ctx.dir, rel);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			hi_fmt(err, errlen, "%s: %s", path, strerror(errno));
			return -errno;
		}
		va = mmap(ram, p->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
		/* p2pmem mappings map the BAR's file: make that the shared one too. */
		if (va == MAP_FAILED || dup3(fd, bfd, O_CLOEXEC) < 0) {
			hi_fmt(err, errlen, "%s: %s", path, strerror(errno));
			close(fd);
			return -errno;
		}
		close(fd);
		in->prov_file[i] = true;
	}
	n = hi_make_providers(in->m, in->prov, HI_MAX_PROV);
	if (n != (int)st->nr_prov) {
		snprintf(err, errlen, "the GPUs' memory cannot be made p2pmem (%d)", n);
		return n < 0 ? n : -EINVAL;
	}
	for (unsigned int i = 0; i < st->nr_prov; i++) {
		if (strcmp(pci_dev_label(in->prov[i]), st->prov[i].label)) {
			snprintf(err, errlen, "provider %u is %s, not %s", i,
				 pci_dev_label(in->prov[i]), st->prov[i].label);
			return -EINVAL;
		}
	}
	return 0;
}

int hi_ctrl_write_through(struct nvme_ctrl *ctrl)
{
	struct nvme_command vwc = { .opcode = nvme_admin_set_features,
				    .cdw10 = NVME_FEAT_VOLATILE_WC, .cdw11 = 0 };
	int ret;

	hi_busy++;
	ret = nvme_admin_cmd(ctrl, &vwc, NULL, 0, DMA_NONE, NULL);
	hi_busy--;
	return ret ? -EIO : 0;
}

static int start_ctrl(struct hi_inst *in, unsigned int c, char *err, size_t errlen)
{
	const struct hi_ctrl_desc *cd = &hi_ctx.st->ctrl[c];
	struct nvme_ctrl_opts opts = { .io_queue_depth = HI_QUEUE_DEPTH, .use_irq = true };
	struct hi_ctrl_inst *ci = &in->ctrl[c];
	struct nvme_ctrl *ctrl;
	int ret;

	pthread_mutex_init(&ci->qp_lock, NULL);
	pthread_cond_init(&ci->qp_cond, NULL);
	ci->pdev = machine_find(in->m, cd->label);
	ci->t = calloc(1, sizeof(*ci->t));
	if (!ci->pdev || !ci->t) {
		snprintf(err, errlen, "%s: not in the machine", cd->label);
		return -ENODEV;
	}
	ret = nvme_transport_emu_init(ci->t, ci->pdev);
	if (ret) {
		snprintf(err, errlen, "%s: %s", cd->label, strerror(-ret));
		return ret;
	}
	ctrl = nvme_ctrl_probe(ci->t, &opts);
	if (IS_ERR(ctrl)) {
		snprintf(err, errlen, "%s does not come up: %s", cd->label,
			 strerror((int)-PTR_ERR(ctrl)));
		return (int)PTR_ERR(ctrl);
	}
	/* Write-through: the next process reads what this one wrote. */
	ret = hi_ctrl_write_through(ctrl);
	if (ret) {
		snprintf(err, errlen, "%s: turning the write cache off: %d", cd->label, ret);
		nvme_ctrl_remove(ctrl);
		return -EIO;
	}
	for (unsigned int n = 0; n < cd->nr_ns; n++) {
		ci->ns[n] = nvme_ctrl_ns(ctrl, cd->ns[n].nsid);
		if (!ci->ns[n]) {
			snprintf(err, errlen, "%s: namespace %u is gone", cd->label,
				 cd->ns[n].nsid);
			nvme_ctrl_remove(ctrl);
			return -ENODEV;
		}
	}
	ci->ctrl = ctrl;
	return 0;
}

static int find_links(struct hi_inst *in, char *err, size_t errlen)
{
	struct pci_fabric *f = machine_fabric(in->m);
	struct pci_host_bridge *hb = NULL;
	struct pci_dev *dev = NULL;
	unsigned int i = 0;

	while ((dev = pci_fabric_next_dev(f, dev)) && i < hi_ctx.st->nr_links) {
		if (strcmp(pci_dev_label(dev), hi_ctx.st->link[i].label)) {
			snprintf(err, errlen, "function %u is %s, not %s", i, pci_dev_label(dev),
				 hi_ctx.st->link[i].label);
			return -EINVAL;
		}
		in->link[i++] = dev;
	}
	i = 0;
	while ((hb = pci_fabric_next_host_bridge(f, hb)) && i < hi_ctx.st->nr_rc)
		in->rc[i++] = hb;
	return 0;
}

/*
 * The parents' machines registered their P2P memory (GPU BARs, the NVMe
 * CMB) as page maps at the CPU addresses this process's machine is about
 * to take: the special-page lookup is per process and came along with the
 * fork. Nothing of theirs is in use here (their mappings were unbound),
 * so the maps go at once.
 */
static void release_abandoned(void)
{
	for (struct hi_inst *old = abandoned; old; old = old->older) {
		struct pci_dev *dev = NULL;
		char buf[32];

		while ((dev = pci_fabric_next_dev(machine_fabric(old->m), dev)))
			if (pci_p2pmem_attr_show(dev, "size", buf, sizeof(buf)) >= 0 &&
			    pci_p2pdma_try_release(dev))
				hi_msg(NULL, "%s: the parent's p2pmem is still in use here",
				       pci_name(dev));
	}
	abandoned = NULL;
}

static struct hi_inst *build(void)
{
	struct hi_inst *in = calloc(1, sizeof(*in));
	char path[PATH_MAX], err[512] = "";
	int ret = -ENOMEM;

	if (!in)
		goto fail;
	if (!getenv("HETMEM_LOG"))
		hetmem_log_set_level(HETMEM_LOG_ERR);
	hi_p2pmem_unbind();
	release_abandoned();
	hi_run_path(path, sizeof(path), hi_ctx.dir, HI_MACHINE_FILE);
	in->m = machine_load(path, err, sizeof(err));
	if (IS_ERR(in->m)) {
		ret = (int)PTR_ERR(in->m);
		in->m = NULL;
		goto fail;
	}
	ret = share_bars(in, err, sizeof(err));
	for (unsigned int c = 0; !ret && c < hi_ctx.st->nr_ctrl; c++)
		ret = start_ctrl(in, c, err, sizeof(err));
	if (!ret)
		ret = find_links(in, err, sizeof(err));
	if (ret)
		goto fail;
	in->pid = getpid();
	in->gen = ++generation;
	return in;
fail:
	hi_msg(NULL, "cannot build the machine of %s: %s", hi_ctx.dir,
	       err[0] ? err : strerror(-ret));
	/* Half built: leave it, a process that cannot have its machine is failing anyway. */
	return NULL;
}

struct hi_inst *hi_inst_get(void)
{
	struct hi_inst *in = hi_inst_current();

	if (in)
		return in;
	pthread_mutex_lock(&inst_lock);
	if (!inst && !build_failed) {
		hi_busy++;
		in = build();
		if (in) {
			__atomic_store_n(&inst, in, __ATOMIC_RELEASE);
			hi_p2pmem_rebind(in);
		} else {
			build_failed = true;
		}
		hi_busy--;
	}
	in = inst;
	pthread_mutex_unlock(&inst_lock);
	if (!in)
		errno = EIO;
	return in;
}

/* --- queue pairs ------------------------------------------------------------------------------- */

struct nvme_qpair *hi_qp_get(struct hi_ctrl_inst *ci)
{
	struct nvme_qpair *qp = NULL;

	if (!ci->ctrl) {
		errno = EIO;
		return NULL;
	}
	pthread_mutex_lock(&ci->qp_lock);
	for (;;) {
		if (ci->nr_free) {
			qp = ci->qp_free[--ci->nr_free];
			break;
		}
		if (ci->nr_qp < 64) {
			hi_busy++;
			qp = nvme_qpair_alloc(ci->ctrl);
			hi_busy--;
			if (!IS_ERR(qp)) {
				ci->nr_qp++;
				break;
			}
			if (PTR_ERR(qp) != -EBUSY || !ci->nr_qp) {
				errno = (int)-PTR_ERR(qp);
				qp = NULL;
				break;
			}
		}
		/* Every queue the controller granted is in use: wait for one. */
		pthread_cond_wait(&ci->qp_cond, &ci->qp_lock);
	}
	pthread_mutex_unlock(&ci->qp_lock);
	return qp;
}

void hi_qp_put(struct hi_ctrl_inst *ci, struct nvme_qpair *qp)
{
	pthread_mutex_lock(&ci->qp_lock);
	ci->qp_free[ci->nr_free++] = qp;
	pthread_cond_signal(&ci->qp_cond);
	pthread_mutex_unlock(&ci->qp_lock);
}

/* --- counters ------------------------------------------------------------------------------------- */

static uint64_t le64_at(const uint8_t *log, size_t off)
{
	uint64_t v;

	memcpy(&v, log + off, sizeof(v));
	return v;
}

static void le64_put(uint8_t *log, size_t off, uint64_t v)
{
	memcpy(log + off, &v, sizeof(v));
}

/* Offsets of the SMART / Health log's counters (NVMe 1.4 fig. 194). */
#define SMART_DUR	 32
#define SMART_DUW	 48
#define SMART_HR	 64
#define SMART_HW	 80
#define SMART_BUSY	 96
#define SMART_PC	 112
#define SMART_US	 144
#define SMART_ME	 160
#define SMART_ERRS	 176
#define SMART_LOG_LEN	 512

static void smart_read(const uint8_t *log, struct hi_smart_rec *r)
{
	r->data_units_read = le64_at(log, SMART_DUR);
	r->data_units_written = le64_at(log, SMART_DUW);
	r->host_reads = le64_at(log, SMART_HR);
	r->host_writes = le64_at(log, SMART_HW);
	r->busy_minutes = le64_at(log, SMART_BUSY);
	r->power_cycles = le64_at(log, SMART_PC);
	r->unsafe_shutdowns = le64_at(log, SMART_US);
	r->media_errors = le64_at(log, SMART_ME);
	r->err_entries = le64_at(log, SMART_ERRS);
}

#define SMART_FIELDS(X)                                                                 \
	X(data_units_read, SMART_DUR)                                                   \
	X(data_units_written, SMART_DUW) X(host_reads, SMART_HR) X(host_writes, SMART_HW) \
	X(busy_minutes, SMART_BUSY) X(power_cycles, SMART_PC)                           \
	X(unsafe_shutdowns, SMART_US) X(media_errors, SMART_ME) X(err_entries, SMART_ERRS)

static int smart_get(struct hi_ctrl_inst *ci, struct hi_smart_rec *r)
{
	struct nvme_command cmd = { .opcode = nvme_admin_get_log_page, .nsid = 0xffffffff,
				    .cdw10 = 0x02 | ((SMART_LOG_LEN / 4 - 1) << 16) };
	uint8_t *log;
	int ret;

	if (!ci->ctrl)
		return -ENODEV;
	log = aligned_alloc(4096, 4096);
	if (!log)
		return -ENOMEM;
	ret = nvme_admin_cmd(ci->ctrl, &cmd, log, SMART_LOG_LEN, DMA_FROM_DEVICE, NULL);
	if (!ret)
		smart_read(log, r);
	free(log);
	return ret ? -EIO : 0;
}

void hi_smart_adjust(struct hi_ctrl_inst *ci, unsigned int cidx, void *buf)
{
	struct hi_smart_rec rec, *f = &ci->smart_folded;
	uint8_t *log = buf;

	hi_state_lock(hi_ctx.st);
	rec = hi_ctx.st->ctrl[cidx].smart;
	hi_state_unlock(hi_ctx.st);
#define ADJUST(field, off) le64_put(log, off, le64_at(log, off) + rec.field - f->field);
	SMART_FIELDS(ADJUST)
#undef ADJUST
}

void hi_inst_fold(bool exiting)
{
	struct hi_inst *in = hi_inst_current();
	struct hi_state *st = hi_ctx.st;
	struct hi_smart_rec now[HI_MAX_CTRL];
	bool smart_ok[HI_MAX_CTRL] = { false };
	pid_t pid = getpid();

	if (!st)
		return;
	hi_busy++;
	if (in && in->pid == pid) {
		for (unsigned int c = 0; c < st->nr_ctrl && hi_nvme_opened; c++)
			smart_ok[c] = !smart_get(&in->ctrl[c], &now[c]);
		hi_state_lock(st);
		for (unsigned int i = 0; i < st->nr_links && in->link[i]; i++) {
			struct pci_link_stats s;

			pci_link_stats_get(in->link[i], &s);
			for (int d = 0; d < 2; d++) {
				st->link[i].bytes[d] += s.bytes[d] - in->link_folded[i].bytes[d];
				st->link[i].tlps[d] += s.tlps[d] - in->link_folded[i].tlps[d];
				in->link_folded[i].bytes[d] = s.bytes[d];
				in->link_folded[i].tlps[d] = s.tlps[d];
			}
		}
		for (unsigned int i = 0; i < st->nr_rc && in->rc[i]; i++) {
			struct pci_rc_stats s;
			struct hi_rc_rec *r = &st->rc[i], *o = &in->rc_folded[i];

			pci_rc_stats_get(in->rc[i], &s);
			for (int d = 0; d < 2; d++) {
				r->mem_bytes[d] += s.mem_bytes[d] - o->mem_bytes[d];
				o->mem_bytes[d] = s.mem_bytes[d];
			}
			r->p2p_bytes += s.p2p_bytes - o->p2p_bytes;
			r->iommu_faults += s.iommu_faults - o->iommu_faults;
			r->unsupported += s.unsupported - o->unsupported;
			o->p2p_bytes = s.p2p_bytes;
			o->iommu_faults = s.iommu_faults;
			o->unsupported = s.unsupported;
		}
		for (unsigned int c = 0; c < st->nr_ctrl; c++) {
			struct hi_smart_rec *rec = &st->ctrl[c].smart, *f = &in->ctrl[c].smart_folded;

			if (!smart_ok[c])
				continue;
#define FOLD(field, off)                                   \
	rec->field += now[c].field - f->field;             \
	f->field = now[c].field;
			SMART_FIELDS(FOLD)
#undef FOLD
		}
		if (!in->counted)
			st->processes++;
		in->counted = true;
		hi_state_unlock(st);
	}
	if (exiting) {
		/* As the kernel does when the process's mappings go: its chunks are free. */
		hi_state_lock(st);
		for (unsigned int i = 0; i < st->nr_prov; i++)
			if (hi_pool_drop_pid(&st->prov[i], pid))
				hi_write_available(hi_ctx.sys, &st->prov[i]);
		hi_state_unlock(st);
	}
	hi_busy--;
}

struct pci_dev *hi_hmm_gpu(unsigned int minor)
{
#ifdef CONFIG_GPU_EMU
	struct hi_inst *in = hi_inst_get();
	struct pci_dev *pdev;
	char name[16];

	if (!in)
		return NULL;
	snprintf(name, sizeof(name), "gpu%u", minor);
	pdev = machine_find(in->m, name);
	return pdev && gpu_emu_from_pdev(pdev) ? pdev : NULL;
#else
	return NULL;
#endif
}
