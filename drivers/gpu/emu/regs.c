// SPDX-License-Identifier: MIT
/*
 * BAR0 of the emulated GPU: global registers, the fault buffer's, and one
 * block per channel (layout and meaning in <hetmem/gpu-regs.h>).
 *
 * Accesses are 4 bytes, or 8 bytes at a 64-bit register; a 4-byte access
 * to a 64-bit register is that half. Anything else, writes to read-only or
 * undefined registers, values out of range and configuration writes while
 * the unit is enabled are guest errors: dropped (reads return 0), logged
 * and recorded in ERROR_COUNT/CODE/INFO.
 *
 * Enabling a channel or the fault buffer happens here, under its lock,
 * after checking its configuration; so does disabling the fault buffer.
 * Disabling a channel, and resetting the device, are requests the channel
 * threads carry out between two steps; the write returns once they have
 * (gpu_emu_request()). Writes that come from a GPU's own DMA are dropped
 * (see emu.h).
 */
#define pr_fmt(fmt) "gpu-emu: " fmt

#include <errno.h>
#include <string.h>

#include <hetmem/log.h>
#include "emu.h"

#define REG_END_GLOBAL	 0x200
#define REG_END_CHANNELS (GPU_REG_CHANNELS + GPU_NR_CHANNELS * GPU_CH_STRIDE)

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* Whether a register starts at @off and is 64 bits wide. */
static bool is_reg64(uint64_t off)
{
	switch (off) {
	case GPU_REG_VRAM_SIZE:
	case GPU_REG_VRAM_VISIBLE:
	case GPU_REG_ERROR_INFO:
	case GPU_REG_FAULT_BASE:
		return true;
	}
	if (off >= GPU_REG_CHANNELS && off < REG_END_CHANNELS) {
		switch (off & (GPU_CH_STRIDE - 1)) {
		case GPU_CH_RING_BASE:
		case GPU_CH_FENCE_ADDR:
		case GPU_CH_FENCE:
			return true;
		}
	}
	return false;
}

static struct gpu_emu_channel *channel_of(struct gpu_emu *emu, uint64_t off, unsigned int *reg)
{
	if (off < GPU_REG_CHANNELS || off >= REG_END_CHANNELS)
		return NULL;
	*reg = (unsigned int)(off & (GPU_CH_STRIDE - 1));
	return &emu->ch[(off - GPU_REG_CHANNELS) / GPU_CH_STRIDE];
}

static uint32_t ch_status(struct gpu_emu_channel *ch)
{
	uint32_t sts = __atomic_load_n(&ch->sts, __ATOMIC_ACQUIRE);

	if (!__atomic_load_n(&ch->enabled, __ATOMIC_ACQUIRE))
		return sts & GPU_CH_STS_ERROR;
	sts |= GPU_CH_STS_ENABLED;
	if (!__atomic_load_n(&ch->busy, __ATOMIC_ACQUIRE) &&
	    __atomic_load_n(&ch->head, __ATOMIC_ACQUIRE) ==
		    __atomic_load_n(&ch->tail, __ATOMIC_ACQUIRE))
		sts |= GPU_CH_STS_IDLE;
	return sts;
}

/* The register starting at @off; false when there is none. */
static bool read_reg(struct gpu_emu *emu, uint64_t off, uint64_t *v)
{
	struct gpu_emu_channel *ch;
	unsigned int reg;

	switch (off) {
	case GPU_REG_ID:
		*v = GPU_ID_MAGIC;
		return true;
	case GPU_REG_VERSION:
		*v = GPU_VERSION;
		return true;
	case GPU_REG_NR_CHANNELS:
		*v = GPU_NR_CHANNELS;
		return true;
	case GPU_REG_NR_ASIDS:
		*v = GPU_NR_ASIDS;
		return true;
	case GPU_REG_VRAM_SIZE:
		*v = emu->vram_size;
		return true;
	case GPU_REG_VRAM_VISIBLE:
		*v = emu->bar2_size;
		return true;
	case GPU_REG_FEATURES:
		*v = GPU_FEAT_ATOMICS | GPU_FEAT_COUNTERS;
		return true;
	case GPU_REG_CTRL:
		*v = 0;
		return true;
	case GPU_REG_STATUS:
		*v = __atomic_load_n(&emu->status, __ATOMIC_ACQUIRE);
		return true;
	case GPU_REG_ERROR_COUNT:
		*v = __atomic_load_n(&emu->error_count, __ATOMIC_ACQUIRE);
		return true;
	case GPU_REG_ERROR_CODE:
		*v = __atomic_load_n(&emu->error_code, __ATOMIC_SEQ_CST);
		return true;
	case GPU_REG_ERROR_INFO:
		*v = __atomic_load_n(&emu->error_info, __ATOMIC_SEQ_CST);
		return true;
	case GPU_REG_IRQ_MASK:
		*v = __atomic_load_n(&emu->irq_mask, __ATOMIC_ACQUIRE);
		return true;
	case GPU_REG_IRQ_STATUS:
		*v = __atomic_load_n(&emu->irq_status, __ATOMIC_ACQUIRE);
		return true;
	case GPU_REG_FAULT_BASE:
		pthread_mutex_lock(&emu->fault_lock);
		*v = emu->fault_base;
		pthread_mutex_unlock(&emu->fault_lock);
		return true;
	case GPU_REG_FAULT_SIZE:
		pthread_mutex_lock(&emu->fault_lock);
		*v = emu->fault_size;
		pthread_mutex_unlock(&emu->fault_lock);
		return true;
	case GPU_REG_FAULT_CTRL:
		*v = __atomic_load_n(&emu->fault_enabled, __ATOMIC_ACQUIRE) ?
			     GPU_FAULT_CTRL_ENABLE :
			     0;
		return true;
	case GPU_REG_FAULT_PUT:
		*v = __atomic_load_n(&emu->fault_put, __ATOMIC_ACQUIRE);
		return true;
	case GPU_REG_FAULT_GET:
		*v = __atomic_load_n(&emu->fault_get, __ATOMIC_ACQUIRE);
		return true;
	case GPU_REG_FAULT_REPLAY:
	case GPU_REG_FAULT_CANCEL:
		*v = 0;
		return true;
	case GPU_REG_FAULT_PENDING:
		*v = __atomic_load_n(&emu->fault_pending, __ATOMIC_ACQUIRE);
		return true;
	case GPU_REG_COUNTER_THRESHOLD:
		*v = __atomic_load_n(&emu->counter_threshold, __ATOMIC_ACQUIRE);
		return true;
	case GPU_REG_COUNTER_DROPPED:
		*v = __atomic_load_n(&emu->counter_dropped, __ATOMIC_ACQUIRE);
		return true;
	}
	ch = channel_of(emu, off, &reg);
	if (!ch)
		return false;
	switch (reg) {
	case GPU_CH_RING_BASE:
	case GPU_CH_RING_SIZE:
	case GPU_CH_FENCE_ADDR:
		pthread_mutex_lock(&emu->reg_lock);
		*v = reg == GPU_CH_RING_BASE ? ch->ring_base :
		     reg == GPU_CH_RING_SIZE ? ch->ring_size :
					       ch->fence_addr;
		pthread_mutex_unlock(&emu->reg_lock);
		return true;
	case GPU_CH_CTRL:
		*v = __atomic_load_n(&ch->enabled, __ATOMIC_ACQUIRE) ? GPU_CH_CTRL_ENABLE : 0;
		return true;
	case GPU_CH_FENCE:
		*v = __atomic_load_n(&ch->fence, __ATOMIC_ACQUIRE);
		return true;
	case GPU_CH_HEAD:
		*v = __atomic_load_n(&ch->head, __ATOMIC_ACQUIRE);
		return true;
	case GPU_CH_TAIL:
		*v = __atomic_load_n(&ch->tail, __ATOMIC_ACQUIRE);
		return true;
	case GPU_CH_STATUS:
		*v = ch_status(ch);
		return true;
	case GPU_CH_LAST_STATUS:
		*v = __atomic_load_n(&ch->last_status, __ATOMIC_ACQUIRE);
		return true;
	}
	return false;
}

/*
 * Where an access lands: the register's start and which bits of it. False
 * for an access that is not 4 bytes, or 8 at the start of a 64-bit register.
 */
static bool locate(uint64_t off, unsigned int size, uint64_t *start, unsigned int *shift)
{
	*shift = 0;
	*start = off;
	if (size == 8)
		return is_reg64(off);
	if (size != 4)
		return false;
	if (off >= 4 && is_reg64(off - 4)) {
		*start = off - 4;
		*shift = 32;
	}
	return true;
}

static uint64_t bar_read(struct pci_dev *dev, int bar, uint64_t off, unsigned int size)
{
	struct gpu_emu *emu = pci_get_drvdata(dev);
	unsigned int shift;
	uint64_t start, v = 0;
	bool ok;

	if (!emu || bar != GPU_BAR_REGS)
		return 0;
	if (!locate(off, size, &start, &shift)) {
		gpu_emu_guest_error(emu, GPU_ERR_REG_ACCESS, off,
				    "BAR0 read of %u bytes at 0x%llx: registers take 4 bytes, or 8 "
				    "at a 64-bit register",
				    size, (unsigned long long)off);
		return 0;
	}
	ok = read_reg(emu, start, &v);
	if (!ok)
		return 0; /* undefined: reads as zero */
	v >>= shift;
	return size == 8 ? v : (uint32_t)v;
}

/* --- writes ------------------------------------------------------------------------ */

static void reg_error(struct gpu_emu *emu, uint32_t code, uint64_t off, uint64_t v, const char *why)
{
	gpu_emu_guest_error(emu, code, off, "BAR0 write of 0x%llx at 0x%llx: %s",
			    (unsigned long long)v, (unsigned long long)off, why);
}

/* Merge a write of @v at bit @shift into the 64-bit register @reg (one half or whole). */
static uint64_t merge(uint64_t reg, uint64_t v, unsigned int shift, unsigned int size)
{
	uint64_t mask = size == 8 ? ~0ULL : 0xffffffffULL << shift;

	return (reg & ~mask) | ((v << shift) & mask);
}

static void write_ctrl(struct gpu_emu *emu, uint64_t off, uint64_t v)
{
	if (v & ~(uint64_t)GPU_CTRL_RESET) {
		reg_error(emu, GPU_ERR_REG_VALUE, off, v, "CTRL has only RESET");
		return;
	}
	if (v)
		gpu_emu_reset(emu);
}

static void write_irq_mask(struct gpu_emu *emu, uint64_t off, uint64_t v)
{
	uint32_t old;

	if (v >> GPU_NR_VECTORS) {
		reg_error(emu, GPU_ERR_REG_VALUE, off, v, "IRQ_MASK has one bit per vector");
		return;
	}
	old = __atomic_exchange_n(&emu->irq_mask, (uint32_t)v, __ATOMIC_SEQ_CST);
	if (old & ~(uint32_t)v)
		gpu_emu_irq_unmask(emu, old & ~(uint32_t)v);
}

static void write_fault_ctrl(struct gpu_emu *emu, uint64_t off, uint64_t v)
{
	const char *why = NULL;

	if (v & ~(uint64_t)GPU_FAULT_CTRL_ENABLE) {
		reg_error(emu, GPU_ERR_REG_VALUE, off, v, "FAULT_CTRL has only ENABLE");
		return;
	}
	if (!v) {
		gpu_emu_fault_off(emu);
		return;
	}
	pthread_mutex_lock(&emu->fault_lock);
	if (__atomic_load_n(&emu->fault_enabled, __ATOMIC_ACQUIRE))
		; /* already on */
	else if (!emu->fault_base || emu->fault_base & (GPU_FAULT_ENTRY_SIZE - 1))
		why = "FAULT_BASE is zero or not 32-byte aligned";
	else if (!is_pow2(emu->fault_size) || emu->fault_size < GPU_FAULT_MIN_ENTRIES ||
		 emu->fault_size > GPU_FAULT_MAX_ENTRIES)
		why = "FAULT_SIZE is not a power of two from 2 to 65536";
	else {
		__atomic_store_n(&emu->fault_put, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&emu->fault_get, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&emu->fault_enabled, 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&emu->fault_lock);
	if (why)
		reg_error(emu, GPU_ERR_REG_VALUE, off, v, why);
	else
		gpu_emu_kick_all(emu); /* stalled channels may post now */
}

static void write_fault_get(struct gpu_emu *emu, uint64_t off, uint64_t v)
{
	uint32_t size;

	pthread_mutex_lock(&emu->fault_lock);
	size = __atomic_load_n(&emu->fault_enabled, __ATOMIC_ACQUIRE) ? emu->fault_size : 0;
	if (v < size)
		__atomic_store_n(&emu->fault_get, (uint32_t)v, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&emu->fault_lock);
	if (v >= size) {
		reg_error(emu, GPU_ERR_REG_VALUE, off, v,
			  size ? "FAULT_GET beyond FAULT_SIZE" : "the fault buffer is disabled");
		return;
	}
	gpu_emu_kick_all(emu); /* room for faults waiting to be posted */
}

static void write_channel_mask(struct gpu_emu *emu, uint64_t off, uint64_t v, uint32_t *req)
{
	if (v >> GPU_NR_CHANNELS) {
		reg_error(emu, GPU_ERR_REG_VALUE, off, v, "one bit per channel");
		return;
	}
	__atomic_or_fetch(req, (uint32_t)v, __ATOMIC_SEQ_CST);
	for (unsigned int c = 0; c < GPU_NR_CHANNELS; c++)
		if (v & (1u << c))
			gpu_emu_kick(&emu->ch[c]);
}

/* A configuration register written while its unit is enabled. */
static bool busy(struct gpu_emu *emu, uint64_t off, uint64_t v, const uint32_t *enabled)
{
	if (!__atomic_load_n(enabled, __ATOMIC_ACQUIRE))
		return false;
	reg_error(emu, GPU_ERR_REG_BUSY, off, v, "configuration written while enabled");
	return true;
}

static void write_ch_ctrl(struct gpu_emu *emu, struct gpu_emu_channel *ch, uint64_t off, uint64_t v)
{
	const char *why = NULL;

	if (v & ~(uint64_t)GPU_CH_CTRL_ENABLE) {
		reg_error(emu, GPU_ERR_REG_VALUE, off, v, "CH_CTRL has only ENABLE");
		return;
	}
	if (!v) {
		if (__atomic_load_n(&ch->enabled, __ATOMIC_ACQUIRE) ||
		    __atomic_load_n(&ch->sts, __ATOMIC_ACQUIRE))
			gpu_emu_request(ch, GPU_EMU_REQ_OFF);
		return;
	}
	pthread_mutex_lock(&emu->reg_lock);
	if (__atomic_load_n(&ch->enabled, __ATOMIC_ACQUIRE))
		; /* already on */
	else if (!ch->ring_base || ch->ring_base & (GPU_CMD_SIZE - 1))
		why = "RING_BASE is zero or not 64-byte aligned";
	else if (!is_pow2(ch->ring_size) || ch->ring_size < GPU_RING_MIN_ENTRIES ||
		 ch->ring_size > GPU_RING_MAX_ENTRIES)
		why = "RING_SIZE is not a power of two from 2 to 65536";
	else if (ch->fence_addr & 7)
		why = "FENCE_ADDR is not 8-byte aligned";
	else {
		__atomic_store_n(&ch->head, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&ch->tail, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&ch->sts, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&ch->enabled, 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&emu->reg_lock);
	if (why)
		reg_error(emu, GPU_ERR_REG_VALUE, off, v, why);
}

static void write_ch_tail(struct gpu_emu *emu, struct gpu_emu_channel *ch, uint64_t off, uint64_t v)
{
	uint32_t size;

	pthread_mutex_lock(&emu->reg_lock);
	size = __atomic_load_n(&ch->enabled, __ATOMIC_ACQUIRE) ? ch->ring_size : 0;
	pthread_mutex_unlock(&emu->reg_lock);
	if (!size) {
		reg_error(emu, GPU_ERR_REG_VALUE, off, v, "TAIL of a disabled channel");
		return;
	}
	if (v >= size) {
		/* The ring state is unknown from here: stop the channel. */
		__atomic_or_fetch(&ch->sts, GPU_CH_STS_ERROR, __ATOMIC_SEQ_CST);
		reg_error(emu, GPU_ERR_REG_VALUE, off, v, "TAIL beyond RING_SIZE; channel stopped");
		return;
	}
	__atomic_store_n(&ch->tail, (uint32_t)v, __ATOMIC_SEQ_CST);
	gpu_emu_kick(ch);
}

/* RW-while-disabled registers of a channel; reg_lock held. */
static bool write_ch_config(struct gpu_emu *emu, struct gpu_emu_channel *ch, unsigned int reg,
			    uint64_t v, unsigned int shift, unsigned int size)
{
	switch (reg) {
	case GPU_CH_RING_BASE:
		ch->ring_base = merge(ch->ring_base, v, shift, size);
		return true;
	case GPU_CH_FENCE_ADDR:
		ch->fence_addr = merge(ch->fence_addr, v, shift, size);
		return true;
	case GPU_CH_RING_SIZE:
		ch->ring_size = (uint32_t)v;
		return true;
	}
	return false;
}

static void write_channel(struct gpu_emu *emu, uint64_t start, uint64_t off, uint64_t v,
			  unsigned int shift, unsigned int size)
{
	struct gpu_emu_channel *ch;
	unsigned int reg;

	ch = channel_of(emu, start, &reg);
	switch (reg) {
	case GPU_CH_CTRL:
		write_ch_ctrl(emu, ch, off, v);
		return;
	case GPU_CH_TAIL:
		write_ch_tail(emu, ch, off, v);
		return;
	case GPU_CH_RING_BASE:
	case GPU_CH_FENCE_ADDR:
	case GPU_CH_RING_SIZE:
		pthread_mutex_lock(&emu->reg_lock);
		if (!busy(emu, off, v, &ch->enabled))
			write_ch_config(emu, ch, reg, v, shift, size);
		pthread_mutex_unlock(&emu->reg_lock);
		return;
	}
	reg_error(emu, GPU_ERR_REG_UNDEFINED, off, v, "read-only or undefined register");
}

static void bar_write(struct pci_dev *dev, int bar, uint64_t off, uint64_t v, unsigned int size)
{
	struct gpu_emu *emu = pci_get_drvdata(dev);
	unsigned int shift;
	uint64_t start;

	if (!emu || bar != GPU_BAR_REGS)
		return;
	if (gpu_emu_on_device_thread()) {
		reg_error(emu, GPU_ERR_REG_ACCESS, off, v, "a GPU's own DMA cannot write BAR0");
		return;
	}
	if (!locate(off, size, &start, &shift)) {
		reg_error(emu, GPU_ERR_REG_ACCESS, off, v,
			  "registers take 4 bytes, or 8 at a 64-bit register");
		return;
	}
	/* 32-bit registers see the value itself, 64-bit ones merge a half. */
	switch (start) {
	case GPU_REG_CTRL:
		write_ctrl(emu, off, v);
		return;
	case GPU_REG_IRQ_MASK:
		write_irq_mask(emu, off, v);
		return;
	case GPU_REG_IRQ_STATUS:
		__atomic_and_fetch(&emu->irq_status, ~(uint32_t)v, __ATOMIC_SEQ_CST);
		return;
	case GPU_REG_FAULT_BASE:
		pthread_mutex_lock(&emu->fault_lock);
		if (!busy(emu, off, v, &emu->fault_enabled))
			emu->fault_base = merge(emu->fault_base, v, shift, size);
		pthread_mutex_unlock(&emu->fault_lock);
		return;
	case GPU_REG_FAULT_SIZE:
		pthread_mutex_lock(&emu->fault_lock);
		if (!busy(emu, off, v, &emu->fault_enabled))
			emu->fault_size = (uint32_t)v;
		pthread_mutex_unlock(&emu->fault_lock);
		return;
	case GPU_REG_FAULT_CTRL:
		write_fault_ctrl(emu, off, v);
		return;
	case GPU_REG_FAULT_GET:
		write_fault_get(emu, off, v);
		return;
	case GPU_REG_FAULT_REPLAY:
		write_channel_mask(emu, off, v, &emu->replay_req);
		return;
	case GPU_REG_FAULT_CANCEL:
		write_channel_mask(emu, off, v, &emu->cancel_req);
		return;
	case GPU_REG_COUNTER_THRESHOLD:
		__atomic_store_n(&emu->counter_threshold, (uint32_t)v, __ATOMIC_RELEASE);
		return;
	}
	if (start >= GPU_REG_CHANNELS && start < REG_END_CHANNELS) {
		write_channel(emu, start, off, v, shift, size);
		return;
	}
	reg_error(emu, GPU_ERR_REG_UNDEFINED, off, v, "read-only or undefined register");
}

const struct pci_bar_ops gpu_emu_bar_ops = {
	.read = bar_read,
	.write = bar_write,
};
