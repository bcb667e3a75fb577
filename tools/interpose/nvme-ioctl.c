// SPDX-License-Identifier: MIT
/*
 * ioctl() on the machine's devices.
 *
 * /dev/nvmeN and /dev/nvmeNnM: the kernel's NVMe passthrough. Every command
 * is submitted to the controller as it is (nvme_admin_cmd() or
 * nvme_io_cmd() with the caller's buffer); the ioctl returns what the
 * kernel's does: 0, the NVMe status (positive), or -1 with errno. The one
 * change made to an answer: a SMART / Health log read adds the counters of
 * earlier instances of the controller (instance.c), as a controller's
 * non-volatile SMART data would hold them.
 *
 * /dev/nvmeNnM also answers the block-device ioctls fio and the util-linux
 * tools ask: sizes, flush, discard, zero-out.
 *
 * Bad input gets the kernel's errno, in the kernel's order: an unreadable
 * command structure or answer pointer is EFAULT (copied with umem.c, never
 * dereferenced), flags or a namespace ID the device file does not take
 * are EINVAL, a data buffer the program cannot use is EFAULT, one the
 * driver cannot take as it is (not dword aligned) is bounced, as the block
 * layer does. The ioctls the VFS answers for every file (close-on-exec,
 * non-blocking, async) act on the real descriptor.
 *
 * The structures are the kernel's (include/uapi/linux/nvme_ioctl.h); they
 * are spelt out here because that header names a macro after one of the
 * driver's functions.
 */
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/fs.h>

#include <hetmem/nvme.h>

#include "interpose.h"

/* struct nvme_passthru_cmd: NVME_IOCTL_ADMIN_CMD, NVME_IOCTL_IO_CMD */
struct hi_passthru {
	uint8_t opcode;
	uint8_t flags;
	uint16_t rsvd1;
	uint32_t nsid;
	uint32_t cdw2;
	uint32_t cdw3;
	uint64_t metadata;
	uint64_t addr;
	uint32_t metadata_len;
	uint32_t data_len;
	uint32_t cdw10;
	uint32_t cdw11;
	uint32_t cdw12;
	uint32_t cdw13;
	uint32_t cdw14;
	uint32_t cdw15;
	uint32_t timeout_ms;
	uint32_t result;
};

/* struct nvme_passthru_cmd64: the 64-bit result */
struct hi_passthru64 {
	uint8_t opcode;
	uint8_t flags;
	uint16_t rsvd1;
	uint32_t nsid;
	uint32_t cdw2;
	uint32_t cdw3;
	uint64_t metadata;
	uint64_t addr;
	uint32_t metadata_len;
	uint32_t data_len;
	uint32_t cdw10;
	uint32_t cdw11;
	uint32_t cdw12;
	uint32_t cdw13;
	uint32_t cdw14;
	uint32_t cdw15;
	uint32_t timeout_ms;
	uint32_t rsvd2;
	uint64_t result;
};

/* struct nvme_user_io: NVME_IOCTL_SUBMIT_IO */
struct hi_user_io {
	uint8_t opcode;
	uint8_t flags;
	uint16_t control;
	uint16_t nblocks;
	uint16_t rsvd;
	uint64_t metadata;
	uint64_t addr;
	uint64_t slba;
	uint32_t dsmgmt;
	uint32_t reftag;
	uint16_t apptag;
	uint16_t appmask;
};

_Static_assert(sizeof(struct hi_passthru) == 72, "struct nvme_passthru_cmd is 72 bytes");
_Static_assert(sizeof(struct hi_passthru64) == 80, "struct nvme_passthru_cmd64 is 80 bytes");
_Static_assert(offsetof(struct hi_passthru, timeout_ms) == offsetof(struct hi_passthru64, timeout_ms),
	       "the two passthrough structures agree up to timeout_ms");
_Static_assert(sizeof(struct hi_user_io) == 48, "struct nvme_user_io is 48 bytes");

#define HI_NVME_IOCTL_ID	   _IO('N', 0x40)
#define HI_NVME_IOCTL_ADMIN_CMD	   _IOWR('N', 0x41, struct hi_passthru)
#define HI_NVME_IOCTL_SUBMIT_IO	   _IOW('N', 0x42, struct hi_user_io)
#define HI_NVME_IOCTL_IO_CMD	   _IOWR('N', 0x43, struct hi_passthru)
#define HI_NVME_IOCTL_RESET	   _IO('N', 0x44)
#define HI_NVME_IOCTL_SUBSYS_RESET _IO('N', 0x45)
#define HI_NVME_IOCTL_RESCAN	   _IO('N', 0x46)
#define HI_NVME_IOCTL_ADMIN64_CMD  _IOWR('N', 0x47, struct hi_passthru64)
#define HI_NVME_IOCTL_IO64_CMD	   _IOWR('N', 0x48, struct hi_passthru64)

#define NVME_LOG_SMART_HI 0x02
#define SMART_LEN	  512

static struct hi_ctrl_inst *ctrl_of(struct hi_file *f)
{
	struct hi_inst *in = hi_inst_get();

	if (!in || !in->ctrl[f->ctrl].ctrl)
		return NULL;
	return &in->ctrl[f->ctrl];
}

/* The fields both passthrough structures share, in a command. */
#define FILL_CMD(c, p)                                   \
	do {                                             \
		(c)->opcode = (p)->opcode;               \
		(c)->flags = (p)->flags;                 \
		(c)->nsid = (p)->nsid;                   \
		(c)->cdw2 = (p)->cdw2;                   \
		(c)->cdw3 = (p)->cdw3;                   \
		(c)->cdw10 = (p)->cdw10;                 \
		(c)->cdw11 = (p)->cdw11;                 \
		(c)->cdw12 = (p)->cdw12;                 \
		(c)->cdw13 = (p)->cdw13;                 \
		(c)->cdw14 = (p)->cdw14;                 \
		(c)->cdw15 = (p)->cdw15;                 \
	} while (0)

/* The dword alignment NVMe PRPs need (the kernel's queue DMA alignment). */
#define DMA_ALIGN 4u

static long run(struct hi_ctrl_inst *ci, bool admin, const struct nvme_command *c, void *buf,
		uint32_t len, enum dma_data_direction dir, uint32_t *result)
{
	struct nvme_qpair *qp;
	int ret;

	hi_busy++;
	if (admin) {
		ret = nvme_admin_cmd(ci->ctrl, c, buf, len, dir, result);
	} else {
		qp = hi_qp_get(ci);
		if (!qp) {
			hi_busy--;
			return -EIO;
		}
		ret = nvme_io_cmd(qp, c, buf, len, dir, result);
		hi_qp_put(ci, qp);
	}
	hi_busy--;
	return ret;
}

/*
 * Run @c with @len bytes at @addr, as nvme_submit_user_cmd(): data only
 * when both are given (a command with a length and no buffer goes without
 * data, as the kernel sends it); the direction from opcode bit 0;
 * separate metadata refused (no namespace here has any), but only when
 * there is data and both its pointer and length are given. A buffer that
 * is not dword aligned goes through an aligned copy.
 */
static long submit(struct hi_file *f, bool admin, const struct nvme_command *c, uint64_t addr,
		   uint32_t len, uint64_t md, uint32_t md_len, uint32_t *result)
{
	struct hi_ctrl_inst *ci = ctrl_of(f);
	enum dma_data_direction dir = DMA_NONE;
	void *buf = (void *)(uintptr_t)addr, *bounce = NULL;
	long ret;

	if (!ci)
		return -EIO;
	if (!addr || !len) {
		buf = NULL;
		len = 0;
	}
	if (len) {
		if (md && md_len)
			return -EINVAL;
		if (len > nvme_ctrl_max_transfer(ci->ctrl))
			return -EINVAL;
		dir = (c->opcode & 1) ? DMA_TO_DEVICE : DMA_FROM_DEVICE;
		ret = hi_user_buffer_ok(buf, len, dir == DMA_FROM_DEVICE);
		if (ret)
			return ret;
		if ((addr | len) & (DMA_ALIGN - 1)) {
			bounce = aligned_alloc(4096, (len + 4095) & ~4095u);
			if (!bounce)
				return -ENOMEM;
			if (dir == DMA_TO_DEVICE)
				memcpy(bounce, buf, len);
		}
	}
	ret = run(ci, admin, c, bounce ? bounce : buf, len, dir, result);
	if (bounce) {
		if (ret >= 0 && dir == DMA_FROM_DEVICE)
			memcpy(buf, bounce, len);
		free(bounce);
	}
	if (ret < 0)
		return ret == -ENOMEM || ret == -EINVAL ? ret : -EIO;
	/* Get Log Page, SMART / Health, from its start: add what earlier instances counted. */
	if (!ret && admin && c->opcode == nvme_admin_get_log_page &&
	    (c->cdw10 & 0xff) == NVME_LOG_SMART_HI && !c->cdw12 && !c->cdw13 && len >= SMART_LEN)
		hi_smart_adjust(ci, f->ctrl, buf);
	return ret;
}

/*
 * The namespace an I/O passthrough runs on: the device file's own; on the
 * controller's, its only namespace (nvme_dev_user_cmd()). -1 for an admin
 * command, which names any namespace it likes.
 */
static long target_ns(struct hi_file *f, bool admin)
{
	const struct hi_ctrl_desc *cd = &hi_ctx.st->ctrl[f->ctrl];

	if (admin)
		return -1;
	if (f->kind == HI_NVME_NS)
		return f->ns;
	if (!cd->nr_ns)
		return -ENOTTY;
	return cd->nr_ns > 1 ? -EINVAL : 0;
}

/* A namespace's passthrough names that namespace only. */
static bool nsid_ok(struct hi_file *f, long ns, uint32_t nsid)
{
	return ns < 0 || nsid == hi_ctx.st->ctrl[f->ctrl].ns[ns].nsid;
}

/*
 * NVME_IOCTL_{ADMIN,IO}_CMD and their 64-bit forms: the two structures are
 * the same up to timeout_ms, and differ in the width of the result after
 * it (@wide: struct nvme_passthru_cmd64). Read whole, as the kernel does.
 */
static long passthru(struct hi_file *f, bool admin, void *up, bool wide)
{
	struct nvme_command c = { 0 };
	struct hi_passthru64 p;
	long ns = target_ns(f, admin), ret;
	uint32_t result = 0;
	uint64_t result64;

	if (ns < -1)
		return ns;
	if (hi_copy_from_user(&p, up, wide ? sizeof(p) : sizeof(struct hi_passthru)))
		return -EFAULT;
	if (p.flags || !nsid_ok(f, ns, p.nsid))
		return -EINVAL;
	FILL_CMD(&c, &p);
	ret = submit(f, admin, &c, p.addr, p.data_len, p.metadata, p.metadata_len, &result);
	if (ret < 0)
		return ret;
	result64 = result;
	if (wide ? hi_copy_to_user(&((struct hi_passthru64 *)up)->result, &result64, sizeof(result64)) :
		   hi_copy_to_user(&((struct hi_passthru *)up)->result, &result, sizeof(result)))
		return -EFAULT;
	return ret;
}

/* The old read/write/compare ioctl, on a namespace. */
static long submit_io(struct hi_file *f, struct hi_user_io *uio)
{
	const struct hi_ns_desc *nd = &hi_ctx.st->ctrl[f->ctrl].ns[f->ns];
	struct nvme_command c = { 0 };
	struct hi_user_io io;

	if (hi_copy_from_user(&io, uio, sizeof(io)))
		return -EFAULT;
	if (io.flags)
		return -EINVAL;
	if (io.opcode != nvme_cmd_write && io.opcode != nvme_cmd_read &&
	    io.opcode != nvme_cmd_compare)
		return -EINVAL;
	c.opcode = io.opcode;
	c.nsid = nd->nsid;
	c.cdw10 = (uint32_t)io.slba;
	c.cdw11 = (uint32_t)(io.slba >> 32);
	c.cdw12 = io.nblocks | (uint32_t)io.control << 16;
	c.cdw13 = io.dsmgmt;
	c.cdw14 = io.reftag;
	c.cdw15 = io.apptag | (uint32_t)io.appmask << 16;
	return submit(f, false, &c, io.addr, ((uint32_t)io.nblocks + 1) << nd->lba_shift, 0, 0,
		      NULL);
}

static long reset(struct hi_file *f)
{
	struct hi_ctrl_inst *ci = ctrl_of(f);
	int ret;

	if (!ci)
		return -EIO;
	hi_busy++;
	ret = nvme_ctrl_reset(ci->ctrl);
	hi_busy--;
	/* A reset brings the features back to their defaults: the cache is on again. */
	if (!ret)
		ret = hi_ctrl_write_through(ci->ctrl);
	return ret ? -EIO : 0;
}

/* Store the answer of a block ioctl through its pointer argument (put_user()). */
#define ANSWER(type, value)                                       \
	do {                                                      \
		type v_ = (type)(value);                          \
		return hi_copy_to_user(arg, &v_, sizeof(v_));     \
	} while (0)

static long blk_ioctl(struct hi_file *f, unsigned long req, void *arg)
{
	const struct hi_ns_desc *nd = &hi_ctx.st->ctrl[f->ctrl].ns[f->ns];
	uint64_t range[2];

	switch (req) {
	case BLKGETSIZE64:
		ANSWER(uint64_t, nd->size);
	case BLKGETSIZE:
		ANSWER(unsigned long, nd->size >> 9);
	case BLKSSZGET:
	case BLKPBSZGET:
	case BLKBSZGET:
		ANSWER(int, 1 << nd->lba_shift);
	case BLKIOMIN:
		ANSWER(unsigned int, 1u << nd->lba_shift);
	case BLKIOOPT:
		ANSWER(unsigned int, 0);
	case BLKALIGNOFF:
	case BLKROGET:
		ANSWER(int, 0);
	case BLKRAGET:
	case BLKFRAGET:
		ANSWER(long, 0);
	case BLKROTATIONAL:
		ANSWER(unsigned short, 0);
	case BLKDISCARDZEROES:
		ANSWER(unsigned int, 0);
	case BLKFLSBUF: /* no page cache to drop */
	case BLKRRPART:
		return 0;
	case BLKDISCARD:
	case BLKZEROOUT:
		/* blk_ioctl_discard(), blk_ioctl_zeroout(): access, then the range */
		if ((f->flags & O_ACCMODE) == O_RDONLY)
			return -EBADF;
		if (hi_copy_from_user(range, arg, sizeof(range)))
			return -EFAULT;
		if (!range[1])
			return -EINVAL; /* no sectors: refused, as the block layer does */
		return hi_blk_discard(f, range[0], range[1], req == BLKZEROOUT);
	case BLKSECDISCARD:
		return (f->flags & O_ACCMODE) == O_RDONLY ? -EBADF : -EOPNOTSUPP;
	default:
		return -ENOTTY;
	}
}

long hi_nvme_ioctl(struct hi_file *f, unsigned long req, void *arg)
{
	bool ns = f->kind == HI_NVME_NS;

	switch (req) {
	case HI_NVME_IOCTL_ID:
		return ns ? (long)hi_ctx.st->ctrl[f->ctrl].ns[f->ns].nsid : -ENOTTY;
	case HI_NVME_IOCTL_ADMIN_CMD:
		return passthru(f, true, arg, false);
	case HI_NVME_IOCTL_ADMIN64_CMD:
		return passthru(f, true, arg, true);
	case HI_NVME_IOCTL_IO_CMD:
		return passthru(f, false, arg, false);
	case HI_NVME_IOCTL_IO64_CMD:
		return ns ? passthru(f, false, arg, true) : -ENOTTY; /* not the controller's */
	case HI_NVME_IOCTL_SUBMIT_IO:
		return ns ? submit_io(f, arg) : -ENOTTY;
	case HI_NVME_IOCTL_RESET:
		return ns ? -ENOTTY : reset(f);
	case HI_NVME_IOCTL_SUBSYS_RESET:
		return -ENOTTY; /* CAP.NSSRS is clear */
	case HI_NVME_IOCTL_RESCAN:
		return ns ? -ENOTTY : 0;
	default:
		return ns ? blk_ioctl(f, req, arg) : -ENOTTY;
	}
}

/* --- the hook ------------------------------------------------------------------------------- */

REAL_SLOT(ioctl);

/*
 * What do_vfs_ioctl() answers before any driver sees the request: flags
 * of the descriptor, and what it says of the device node's inode. The
 * real descriptor (/dev/null, a device node as ours) gives those answers.
 */
static bool vfs_ioctl(unsigned long req)
{
	switch (req) {
	case FIOCLEX:
	case FIONCLEX:
	case FIONBIO:
	case FIOASYNC:
	case FIOQSIZE:
	case FIGETBSZ:
		return true;
	}
	return false;
}

/*
 * A request the mirror does not have: the kernel driver copies the
 * command in first (EFAULT), checks its range, and refuses the request
 * (EINVAL either way).
 */
static long hmm_unknown(void *arg)
{
	uint64_t cmd[5];

	return hi_copy_from_user(cmd, arg, sizeof(cmd)) ? -EFAULT : -EINVAL;
}

int ioctl(int fd, unsigned long req, ...)
{
	struct hi_file *f;
	va_list ap;
	void *arg;
	long ret;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	f = hi_fd_get(fd);
	if (!f)
		return REAL(ioctl)(fd, req, arg);
	if (vfs_ioctl(req)) {
		hi_file_put(f);
		return REAL(ioctl)(fd, req, arg);
	}
	switch (f->kind) {
	case HI_NVME_CTRL:
	case HI_NVME_NS:
		ret = hi_nvme_ioctl(f, req, arg);
		break;
	case HI_HMM:
		ret = hi_hmm_ioctl(f->hmm, req, arg);
		if (ret == -ENOTTY)
			ret = hmm_unknown(arg);
		break;
	default:
		hi_file_put(f);
		return REAL(ioctl)(fd, req, arg);
	}
	hi_file_put(f);
	if (ret < 0) {
		errno = (int)-ret;
		return -1;
	}
	return (int)ret;
}
