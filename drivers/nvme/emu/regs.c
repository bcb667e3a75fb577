// SPDX-License-Identifier: MIT
/*
 * BAR0 of the emulated NVMe controller: the controller registers (NVMe 1.4
 * sec. 3.1), the enable/disable/shutdown state machine (sec. 7.6), the v1.4
 * controller memory buffer registers (sec. 3.1.11, 3.1.12, 3.1.16, 3.1.17;
 * the CMB itself is sec. 4.7) and the
 * doorbells (sec. 3.1.24, 3.1.25).
 *
 *   0x0000 CAP     RO  MQES, CQR=1, TO, DSTRD=0, CSS=NVM, MPSMIN=MPSMAX=0, CMBS
 *   0x0008 VS      RO  1.4.0
 *   0x000c INTMS   RW1S interrupt mask set (vectors 0-31)
 *   0x0010 INTMC   RW1C interrupt mask clear
 *   0x0014 CC      RW  EN, CSS, MPS, AMS, SHN, IOSQES, IOCQES
 *   0x001c CSTS    RO  RDY, CFS, SHST
 *   0x0024 AQA     RW  ASQS, ACQS
 *   0x0028 ASQ     RW  admin SQ base (64 bit)
 *   0x0030 ACQ     RW  admin CQ base (64 bit)
 *   0x0038 CMBLOC  RO  BIR=2, OFST=0; reads 0 until CMBMSC.CRE=1
 *   0x003c CMBSZ   RO  SQS, LISTS, RDS, WDS, SZU=1 MiB; likewise
 *   0x0050 CMBMSC  RW  CRE, CMSE, CBA (64 bit; the low dword write latches)
 *   0x0058 CMBSTS  RO  CBAI
 *   0x1000 doorbells, SQyTDBL at 0x1000 + 8y, CQyHDBL at 0x1004 + 8y
 *
 * Reads of anything else return zero; writes to read-only or undefined
 * registers are dropped and logged as guest errors. Reads of any width see
 * the register image; writes take 32 bits, 64-bit registers also 64 (split
 * high dword first, so CMBMSC latches once); other widths are dropped.
 *
 * CC transitions complete on the controller thread: the handler records
 * which edges happened (cc_events) and wakes the thread, which validates,
 * creates or tears down the queues and then sets CSTS. A driver polls
 * CSTS.RDY with CAP.TO as its limit, as it must on hardware.
 */
#define pr_fmt(fmt) "nvme-emu: " fmt

#include <errno.h>
#include <string.h>

#include <hetmem/log.h>
#include "emu.h"

#define AQA_MASK    0x0fff0fffu
#define CMBLOC_BAR2 2u

static uint32_t cmbsz(const struct nvme_emu *emu)
{
	/* CQS stays 0: completion queues live in host memory only. */
	return NVME_CMBSZ_SQS | NVME_CMBSZ_LISTS | NVME_CMBSZ_RDS | NVME_CMBSZ_WDS |
	       NVME_CMBSZ_SZU_1M | (uint32_t)((emu->cmb_size >> 20) << 12);
}

/* v1.4: CMBLOC and CMBSZ read zero until the host enables the registers. */
static bool cmb_regs_visible(const struct nvme_emu *emu)
{
	return emu->cmb_size && (emu->cmbmsc & NVME_CMBMSC_CRE);
}

/* A dword of the register image; reg_lock held. */
static uint32_t read32(struct nvme_emu *emu, uint64_t off)
{
	switch (off) {
	case NVME_REG_CAP:
		return (uint32_t)emu->cap;
	case NVME_REG_CAP + 4:
		return (uint32_t)(emu->cap >> 32);
	case NVME_REG_VS:
		return NVME_VS(1, 4, 0);
	case NVME_REG_INTMS:
	case NVME_REG_INTMC:
		return __atomic_load_n(&emu->intms, __ATOMIC_ACQUIRE);
	case NVME_REG_CC:
		return emu->cc;
	case NVME_REG_CSTS:
		return __atomic_load_n(&emu->csts, __ATOMIC_ACQUIRE);
	case NVME_REG_AQA:
		return emu->aqa;
	case NVME_REG_ASQ:
		return (uint32_t)emu->asq;
	case NVME_REG_ASQ + 4:
		return (uint32_t)(emu->asq >> 32);
	case NVME_REG_ACQ:
		return (uint32_t)emu->acq;
	case NVME_REG_ACQ + 4:
		return (uint32_t)(emu->acq >> 32);
	case NVME_REG_CMBLOC:
		return cmb_regs_visible(emu) ? CMBLOC_BAR2 : 0;
	case NVME_REG_CMBSZ:
		return cmb_regs_visible(emu) ? cmbsz(emu) : 0;
	case NVME_REG_CMBMSC:
		return (uint32_t)emu->cmbmsc;
	case NVME_REG_CMBMSC + 4:
		return (uint32_t)(emu->cmbmsc >> 32);
	case NVME_REG_CMBSTS:
		return emu->cmbsts;
	default:
		return 0;
	}
}

static uint64_t bar_read(struct pci_dev *dev, int bar, uint64_t off, unsigned int size)
{
	struct nvme_emu *emu = pci_get_drvdata(dev);
	uint64_t v;

	/* Doorbells are write-only; what a read returns is undefined: zero. */
	if (!emu || bar != 0 || off >= NVME_REG_DBS)
		return 0;
	pthread_mutex_lock(&emu->reg_lock);
	v = read32(emu, off & ~3ULL);
	if (size == 8)
		v |= (uint64_t)read32(emu, off + 4) << 32;
	pthread_mutex_unlock(&emu->reg_lock);
	if (size < 4)
		v = (v >> ((off & 3) * 8)) & ((1ULL << (size * 8)) - 1);
	return v;
}

/* --- writes ------------------------------------------------------------------------ */

static void cc_write(struct nvme_emu *emu, uint32_t val)
{
	uint32_t old = emu->cc, new = val &NVME_CC_WRITABLE, ev = 0;

	if (val & ~NVME_CC_WRITABLE)
		guest_err("%s: CC write 0x%08x sets reserved bits 0x%08x: ignored", emu->name, val,
			  val & ~NVME_CC_WRITABLE);
	__atomic_store_n(&emu->cc, new, __ATOMIC_RELEASE);
	if (!(old & NVME_CC_ENABLE) && (new &NVME_CC_ENABLE))
		ev |= NVME_EMU_EV_ENABLE;
	if ((old & NVME_CC_ENABLE) && !(new &NVME_CC_ENABLE))
		ev |= NVME_EMU_EV_DISABLE;
	if ((new &NVME_CC_SHN_MASK) && !(old & NVME_CC_SHN_MASK))
		ev |= NVME_EMU_EV_SHUTDOWN;
	if (!ev)
		return;
	__atomic_or_fetch(&emu->cc_events, ev, __ATOMIC_RELEASE);
	nvme_emu_kick(emu);
}

/*
 * CMBMSC (sec. 3.1.16): CRE makes CMBLOC/CMBSZ visible; CMSE turns on the
 * controller memory space at CBA. This controller decodes its CMB where
 * BAR2 sits, so a CBA elsewhere is invalid (CMBSTS.CBAI) and the space
 * stays off.
 */
static void cmbmsc_write(struct nvme_emu *emu, uint64_t v)
{
	uint64_t base = 0;

	if (v & ~NVME_CMBMSC_LATCHED)
		guest_err("%s: CMBMSC 0x%llx sets reserved bits: ignored", emu->name,
			  (unsigned long long)v);
	v &= NVME_CMBMSC_LATCHED;
	if ((v & NVME_CMBMSC_CMSE) && !(v & NVME_CMBMSC_CRE)) {
		guest_err("%s: CMBMSC.CMSE without CRE: memory space stays disabled", emu->name);
		v &= ~NVME_CMBMSC_CMSE;
	}
	emu->cmbmsc = v;
	emu->cmbsts = 0;
	if (v & NVME_CMBMSC_CMSE) {
		uint64_t cba = v & NVME_CMBMSC_CBA_MASK, bar = pci_bus_address(emu->pdev, 2);

		if (cba != bar) {
			emu->cmbsts = NVME_CMBSTS_CBAI;
			guest_err("%s: CMBMSC.CBA 0x%llx is not BAR2's bus address 0x%llx: "
				  "CMBSTS.CBAI, memory space stays disabled",
				  emu->name, (unsigned long long)cba, (unsigned long long)bar);
		} else {
			base = cba;
		}
	}
	__atomic_store_n(&emu->cmb_base, base, __ATOMIC_RELEASE);
}

static void set_low(uint64_t *reg, uint32_t val)
{
	*reg = (*reg & ~0xffffffffULL) | val;
}

static void set_high(uint64_t *reg, uint32_t val)
{
	*reg = (*reg & 0xffffffffULL) | (uint64_t)val << 32;
}

static void queue_base_write(struct nvme_emu *emu, uint64_t *reg, const char *name, uint32_t val)
{
	/* Bits 11:0 are reserved: the queues are page aligned. */
	if (val & 0xfff)
		guest_err("%s: %s low bits 0x%03x are reserved: ignored", emu->name, name,
			  val & 0xfff);
	set_low(reg, val & ~0xfffu);
}

static const char *ro_name(uint64_t off)
{
	switch (off) {
	case NVME_REG_CAP:
	case NVME_REG_CAP + 4:
		return "CAP";
	case NVME_REG_VS:
		return "VS";
	case NVME_REG_CSTS:
		return "CSTS";
	case NVME_REG_CMBLOC:
		return "CMBLOC";
	case NVME_REG_CMBSZ:
		return "CMBSZ";
	case NVME_REG_CMBSTS:
		return "CMBSTS";
	case NVME_REG_BPINFO:
		return "BPINFO";
	default:
		return NULL;
	}
}

/* A dword write; reg_lock held. */
static void write32(struct nvme_emu *emu, uint64_t off, uint32_t val)
{
	const char *ro = ro_name(off);

	switch (off) {
	case NVME_REG_INTMS:
		__atomic_or_fetch(&emu->intms, val, __ATOMIC_SEQ_CST);
		return;
	case NVME_REG_INTMC:
		__atomic_and_fetch(&emu->intms, ~val, __ATOMIC_SEQ_CST);
		nvme_emu_irq_unmask(emu, val);
		return;
	case NVME_REG_CC:
		cc_write(emu, val);
		return;
	case NVME_REG_AQA:
		if (val & ~AQA_MASK)
			guest_err("%s: AQA 0x%08x sets reserved bits: ignored", emu->name, val);
		emu->aqa = val & AQA_MASK;
		return;
	case NVME_REG_ASQ:
		queue_base_write(emu, &emu->asq, "ASQ", val);
		return;
	case NVME_REG_ASQ + 4:
		set_high(&emu->asq, val);
		return;
	case NVME_REG_ACQ:
		queue_base_write(emu, &emu->acq, "ACQ", val);
		return;
	case NVME_REG_ACQ + 4:
		set_high(&emu->acq, val);
		return;
	case NVME_REG_CMBMSC:
		if (!emu->cmb_size)
			break;
		cmbmsc_write(emu, (uint64_t)emu->cmbmsc_hi << 32 | val);
		return;
	case NVME_REG_CMBMSC + 4:
		if (!emu->cmb_size)
			break;
		/* Held until the low dword comes (sec. 3.1.16). */
		emu->cmbmsc_hi = val;
		return;
	case NVME_REG_NSSR:
		guest_err("%s: NSSR write 0x%08x: subsystem reset not supported (CAP.NSSRS=0)",
			  emu->name, val);
		return;
	default:
		if (ro) {
			guest_err("%s: write 0x%08x to read-only %s dropped", emu->name, val, ro);
			return;
		}
		break;
	}
	guest_err("%s: write 0x%08x to undefined register 0x%03llx dropped", emu->name, val,
		  (unsigned long long)off);
}

static bool is_reg64(uint64_t off)
{
	return off == NVME_REG_CAP || off == NVME_REG_ASQ || off == NVME_REG_ACQ ||
	       off == NVME_REG_BPMBL || off == NVME_REG_CMBMSC;
}

/*
 * A bad doorbell write (sec. 4.1): the write is ignored, and an
 * asynchronous event of type Error reports it, now if an AER is
 * outstanding or later when one comes. The thread does the reporting;
 * this only records it.
 */
static void db_error(struct nvme_emu *emu, uint16_t qid, bool cq, uint8_t info, uint32_t val)
{
	guest_err("%s: %s doorbell of queue %u written with %u: %s: ignored, asynchronous event",
		  emu->name, cq ? "CQ head" : "SQ tail", qid, val,
		  info == NVME_AER_ERROR_INVALID_DB_REG ? "no such queue" :
							  "beyond the queue's size");
	pthread_mutex_lock(&emu->ev_lock);
	if (emu->nr_db_err < NVME_EMU_MAX_DB_ERRS) {
		emu->db_err[emu->nr_db_err].qid = qid;
		emu->db_err[emu->nr_db_err].info = info;
		emu->nr_db_err++;
	}
	__atomic_store_n(&emu->db_err_any, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&emu->ev_lock);
	nvme_emu_kick(emu);
}

static void doorbell_write(struct nvme_emu *emu, uint64_t off, uint64_t val, unsigned int size)
{
	uint64_t idx = (off - NVME_REG_DBS) >> 2; /* CAP.DSTRD = 0: 4-byte stride */
	uint64_t qid = idx >> 1;
	bool cq = idx & 1;
	uint32_t qsize = 0;

	if (size != 4) {
		guest_err("%s: %u-byte doorbell write at 0x%llx dropped", emu->name, size,
			  (unsigned long long)off);
		return;
	}
	if (!(__atomic_load_n(&emu->csts, __ATOMIC_ACQUIRE) & NVME_CSTS_RDY)) {
		guest_err("%s: doorbell write at 0x%llx while the controller is not ready: dropped",
			  emu->name, (unsigned long long)off);
		return;
	}
	if (qid < emu->nr_queues)
		qsize = __atomic_load_n(cq ? &emu->cq_live[qid] : &emu->sq_live[qid],
					__ATOMIC_ACQUIRE);
	if (!qsize) {
		db_error(emu, (uint16_t)qid, cq, NVME_AER_ERROR_INVALID_DB_REG, (uint32_t)val);
		return;
	}
	if (val >= qsize) {
		db_error(emu, (uint16_t)qid, cq, NVME_AER_ERROR_INVALID_DB_VALUE, (uint32_t)val);
		return;
	}
	/* Release: the SQEs the driver wrote before ringing are visible to the thread. */
	__atomic_store_n(cq ? &emu->cq_db[qid] : &emu->sq_db[qid], (uint32_t)val, __ATOMIC_RELEASE);
	nvme_emu_kick(emu);
}

static void bar_write(struct pci_dev *dev, int bar, uint64_t off, uint64_t val, unsigned int size)
{
	struct nvme_emu *emu = pci_get_drvdata(dev);

	if (!emu || bar != 0)
		return;
	if (off >= NVME_REG_DBS) {
		doorbell_write(emu, off, val, size);
		return;
	}
	if (size == 8 && !is_reg64(off)) {
		guest_err("%s: 8-byte write at 0x%03llx: not a 64-bit register, dropped", emu->name,
			  (unsigned long long)off);
		return;
	}
	if (size < 4) {
		guest_err("%s: %u-byte write at 0x%03llx dropped: registers take 32-bit writes",
			  emu->name, size, (unsigned long long)off);
		return;
	}
	pthread_mutex_lock(&emu->reg_lock);
	if (size == 8)
		write32(emu, off + 4, (uint32_t)(val >> 32));
	write32(emu, off, (uint32_t)val);
	pthread_mutex_unlock(&emu->reg_lock);
}

const struct pci_bar_ops nvme_emu_bar_ops = {
	.read = bar_read,
	.write = bar_write,
};

/* --- the state machine, on the controller thread ------------------------------------- */

/**
 * nvme_emu_in_cmb - whether an address falls in the enabled controller memory space
 * @emu: the controller
 * @addr: bus address
 * @len: bytes from @addr (the first byte decides)
 *
 * Return: true when @addr is inside [CBA, CBA + CMB size) and CMSE is on.
 */
bool nvme_emu_in_cmb(struct nvme_emu *emu, uint64_t addr, uint64_t len)
{
	uint64_t base = __atomic_load_n(&emu->cmb_base, __ATOMIC_ACQUIRE);

	return base && addr >= base && addr - base < emu->cmb_size;
}

static void csts_update(struct nvme_emu *emu, uint32_t clear, uint32_t set)
{
	uint32_t old = __atomic_load_n(&emu->csts, __ATOMIC_RELAXED);

	while (!__atomic_compare_exchange_n(&emu->csts, &old, (old & ~clear) | set, false,
					    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		;
}

/*
 * CC.EN 1 -> 0 (sec. 7.3.2, controller level reset): queues deleted,
 * outstanding AERs dropped, features back to defaults, CSTS cleared. The
 * namespaces and their write caches are untouched: a reset loses no data.
 */
static void ctrl_reset(struct nvme_emu *emu, uint32_t cc)
{
	if (emu->enabled && !emu->clean)
		emu->smart.unsafe_shutdowns++;
	nvme_emu_queues_reset(emu);
	nvme_emu_aer_reset(emu);
	pthread_mutex_lock(&emu->ev_lock);
	emu->nr_db_err = 0;
	__atomic_store_n(&emu->db_err_any, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&emu->ev_lock);
	nvme_emu_features_reset(emu);
	emu->enabled = false;
	emu->fatal = false;
	emu->shut_down = false;
	for (unsigned int v = 0; v < emu->nr_vectors; v++)
		__atomic_store_n(&emu->irq_masked[v], 0, __ATOMIC_RELAXED);
	__atomic_store_n(&emu->intms, 0, __ATOMIC_RELEASE);
	/* A shutdown that came with the disable stays reported. */
	csts_update(emu,
		    NVME_CSTS_RDY | NVME_CSTS_CFS |
			    ((cc & NVME_CC_SHN_MASK) ? 0 : NVME_CSTS_SHST_MASK),
		    0);
}

static const char *cc_invalid(struct nvme_emu *emu, uint32_t cc, uint32_t aqa, uint64_t acq)
{
	if ((cc & NVME_CC_CSS_MASK) != NVME_CC_CSS_NVM)
		return "CC.CSS is not the NVM command set";
	if (cc & NVME_CC_MPS_MASK)
		return "CC.MPS outside CAP.MPSMIN-MPSMAX (4 KiB pages only)";
	if (cc & NVME_CC_AMS_MASK)
		return "CC.AMS: only round-robin arbitration (CAP.AMS=0)";
	if (((cc & NVME_CC_IOSQES_MASK) >> NVME_CC_IOSQES_SHIFT) != NVME_EMU_SQES)
		return "CC.IOSQES is not 6 (64-byte SQEs)";
	if (((cc & NVME_CC_IOCQES_MASK) >> NVME_CC_IOCQES_SHIFT) != NVME_EMU_CQES)
		return "CC.IOCQES is not 4 (16-byte CQEs)";
	if (NVME_AQA_ASQS(aqa) == 0)
		return "AQA.ASQS: the admin SQ needs at least 2 entries";
	if (NVME_AQA_ACQS(aqa) == 0)
		return "AQA.ACQS: the admin CQ needs at least 2 entries";
	if (nvme_emu_in_cmb(emu, acq, 16))
		return "ACQ in the CMB, which holds no CQs (CMBSZ.CQS=0)";
	return NULL;
}

/*
 * CC.EN 0 -> 1 (sec. 7.6.1): an invalid configuration is a controller
 * fatal status, CSTS.CFS, with RDY left clear; the driver resets.
 */
static void ctrl_enable(struct nvme_emu *emu, uint32_t cc, uint32_t aqa, uint64_t asq, uint64_t acq)
{
	const char *why = cc_invalid(emu, cc, aqa, acq);

	if (!why && (nvme_emu_cq_create(emu, 0, NVME_AQA_ACQS(aqa) + 1, acq, true, 0) ||
		     nvme_emu_sq_create(emu, 0, NVME_AQA_ASQS(aqa) + 1, asq, emu->cq[0])))
		why = "out of memory for the admin queues";
	if (why) {
		guest_err("%s: CC.EN=1 with %s: controller fatal status", emu->name, why);
		nvme_emu_queues_reset(emu);
		csts_update(emu, 0, NVME_CSTS_CFS);
		return;
	}
	emu->page_size = NVME_EMU_PAGE_SIZE << ((cc & NVME_CC_MPS_MASK) >> NVME_CC_MPS_SHIFT);
	emu->enabled = true;
	emu->clean = false;
	csts_update(emu, NVME_CSTS_SHST_MASK, NVME_CSTS_RDY);
	pr_debug("%s: ready: admin SQ %u entries at 0x%llx, CQ %u at 0x%llx", emu->name,
		 NVME_AQA_ASQS(aqa) + 1, (unsigned long long)asq, NVME_AQA_ACQS(aqa) + 1,
		 (unsigned long long)acq);
}

/*
 * CC.SHN (sec. 7.6.2): SHST reads "occurring" while the write caches go
 * to the backing files, then "complete". Normal and abrupt notifications
 * are served alike: flushing is what makes either safe. The controller
 * then fetches nothing until it is reset.
 */
static void ctrl_shutdown(struct nvme_emu *emu)
{
	csts_update(emu, NVME_CSTS_SHST_MASK, NVME_CSTS_SHST_OCCUR);
	for (unsigned int i = 0; i < emu->nr_ns; i++) {
		int ret = nvme_emu_ns_flush(&emu->ns[i]);

		if (ret)
			pr_err("%s: shutdown: namespace %u: flush failed: %s", emu->name,
			       emu->ns[i].nsid, strerror(-ret));
	}
	if (emu->enabled)
		emu->shut_down = true;
	emu->clean = true;
	csts_update(emu, NVME_CSTS_SHST_MASK, NVME_CSTS_SHST_CMPLT);
}

/**
 * nvme_emu_handle_cc - act on the CC edges the BAR handler recorded
 * @emu: the controller
 *
 * A disable and an enable that both happened are served in that order
 * when EN now reads 1 (a reset); with EN reading 0 only the disable is.
 *
 * Return: true when there was something to do.
 */
bool nvme_emu_handle_cc(struct nvme_emu *emu)
{
	uint32_t ev = __atomic_exchange_n(&emu->cc_events, 0, __ATOMIC_ACQ_REL);
	uint32_t cc, aqa;
	uint64_t asq, acq;

	if (!ev)
		return false;
	pthread_mutex_lock(&emu->reg_lock);
	cc = emu->cc;
	aqa = emu->aqa;
	asq = emu->asq;
	acq = emu->acq;
	pthread_mutex_unlock(&emu->reg_lock);

	if (ev & NVME_EMU_EV_DISABLE)
		ctrl_reset(emu, cc);
	if ((ev & NVME_EMU_EV_ENABLE) && (cc & NVME_CC_ENABLE) && !emu->enabled)
		ctrl_enable(emu, cc, aqa, asq, acq);
	if ((ev & NVME_EMU_EV_SHUTDOWN) && (cc & NVME_CC_SHN_MASK))
		ctrl_shutdown(emu);
	return true;
}
