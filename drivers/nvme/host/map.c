// SPDX-License-Identifier: MIT
/*
 * A command's data: from the caller's buffer to a DMA-mapped scatterlist to
 * PRPs or an SGL.
 *
 *   buffer --(split at the transport's dma_seg_max)--> scatterlist
 *          --(transport dma_map per segment)--> bus address or IOVA each
 *          --> PRP1/PRP2/PRP list, or SGL data blocks
 *
 * The DMA layer decides what the controller must use: an IOVA for process
 * memory, the BAR's bus address for P2P memory below a common switch, an
 * IOVA through the root complex for P2P memory it may reach that way. When
 * it cannot reach P2P memory at all (map type NOT_SUPPORTED) the mapping
 * fails with -EREMOTEIO and the data goes through a bounce buffer in system
 * memory instead: copied in before a write, copied out after a successful
 * read. That is slower but correct, and counted.
 *
 * Buffers registered with nvme_ctrl_register_buffer() were mapped once; a
 * command inside one takes its addresses from the registration and maps
 * nothing (no IOMMU work, no lock, on the fast path).
 */
#define pr_fmt(fmt) "nvme: " fmt

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <hetmem/log.h>
#include <hetmem/pci.h>
#include "host.h"

/*
 * Split [buf, buf + len) into segments that do not cross a multiple of
 * @seg_max counted from @base (0: one segment). Returns the number of
 * segments, 0 when more than @max would be needed.
 */
static unsigned int split(struct scatterlist *sg, unsigned int max, void *buf, size_t len,
			  size_t seg_max, uintptr_t base)
{
	uintptr_t p = (uintptr_t)buf;
	unsigned int n = 0;

	while (len && n < max) {
		size_t here = len;

		if (seg_max) {
			size_t room = seg_max - (p - base) % seg_max;

			if (here > room)
				here = room;
		}
		sg_set_buf(&sg[n], (void *)p, (unsigned int)here);
		sg[n].flags = 0;
		sg[n].dma_flags = 0;
		n++;
		p += here;
		len -= here;
	}
	if (len || !n)
		return 0;
	sg_mark_end(&sg[n - 1]);
	return n;
}

static const struct nvme_reg_buf *reg_lookup(struct nvme_ctrl *ctrl, const void *buf, size_t len)
{
	uintptr_t p = (uintptr_t)buf;

	for (unsigned int i = 0; i < NVME_MAX_REG_BUFS; i++) {
		const struct nvme_reg_buf *r = &ctrl->reg[i];

		if (!__atomic_load_n(&r->valid, __ATOMIC_ACQUIRE))
			continue;
		if (p >= r->start && p - r->start < r->len && len <= r->len - (p - r->start))
			return r;
	}
	return NULL;
}

/* Segments of a registered buffer: split at its granule, addresses from the table. */
static int map_registered(struct nvme_request *rq, const struct nvme_reg_buf *r)
{
	struct nvme_data *d = &rq->data;
	unsigned int n = split(d->sg, rq->qp->ctrl->max_segs, d->buf, d->len, r->seg, r->start);

	if (!n)
		return -EINVAL;
	for (unsigned int i = 0; i < n; i++) {
		uintptr_t off = (uintptr_t)d->sg[i].buf - r->start;

		d->sg[i].dma_address = r->dma[off / r->seg] + off % r->seg;
		d->sg[i].dma_length = d->sg[i].length;
	}
	d->nents = n;
	return 0;
}

static void unmap_segments(struct nvme_request *rq)
{
	struct nvme_transport *t = rq->qp->ctrl->t;
	struct nvme_data *d = &rq->data;

	for (unsigned int i = 0; i < d->mapped; i++)
		t->ops->dma_unmap(t->priv, d->sg[i].dma_address, d->sg[i].dma_length, d->dir);
	d->mapped = 0;
}

static int map_segments(struct nvme_request *rq)
{
	struct nvme_ctrl *ctrl = rq->qp->ctrl;
	struct nvme_transport *t = ctrl->t;
	struct nvme_data *d = &rq->data;
	unsigned int n = split(d->sg, ctrl->max_segs, d->buf, d->len, t->dma_seg_max, 0);

	if (!n)
		return -EINVAL;
	d->nents = n;
	for (unsigned int i = 0; i < n; i++) {
		struct scatterlist *s = &d->sg[i];
		int ret = t->ops->dma_map(t->priv, s->buf, s->length, d->dir, &s->dma_address);

		if (ret) {
			unmap_segments(rq);
			return ret;
		}
		s->dma_length = s->length;
		d->mapped++;
	}
	return 0;
}

static void log_bounce_once(struct nvme_ctrl *ctrl, const void *buf)
{
	struct pci_dev *pdev = ctrl->t->ops->pdev ? ctrl->t->ops->pdev(ctrl->t->priv) : NULL;

	if (__atomic_exchange_n(&ctrl->bounce_logged, 1, __ATOMIC_RELAXED))
		return;
	pr_info("%s: the controller cannot reach the P2P memory at %p (map type NOT_SUPPORTED): "
		"bouncing its data through system memory",
		pdev ? pci_name(pdev) : "ctrl", buf);
}

/*
 * Data through the slot's bounce buffer, allocated the first time a slot
 * needs one. @p2p: because the controller cannot reach the memory (said
 * once, at info level), else because its alignment cannot be described.
 */
static int map_bounce(struct nvme_request *rq, bool p2p)
{
	struct nvme_ctrl *ctrl = rq->qp->ctrl;
	struct nvme_transport *t = ctrl->t;
	struct nvme_data *d = &rq->data;

	if (d->len > rq->qp->bounce_len)
		return -EINVAL;
	if (!rq->bounce) {
		rq->bounce = t->ops->alloc_coherent(t->priv, rq->qp->bounce_len, &rq->bounce_dma);
		if (!rq->bounce)
			return -ENOMEM;
	}
	if (d->dir == DMA_TO_DEVICE || d->dir == DMA_BIDIRECTIONAL)
		memcpy(rq->bounce, d->buf, d->len);
	sg_init_table(d->sg, 1);
	sg_set_buf(&d->sg[0], rq->bounce, (unsigned int)d->len);
	d->sg[0].dma_address = rq->bounce_dma;
	d->sg[0].dma_length = (unsigned int)d->len;
	d->nents = 1;
	d->bounced = true;
	nvme_stat_inc(ctrl, bounced_ios);
	if (p2p)
		log_bounce_once(ctrl, d->buf);
	else
		pr_debug("buffer %p+%zu cannot be described for the controller: bounced", d->buf,
			 d->len);
	return 0;
}

/* SGLs for I/O when asked for and supported; admin commands always use PRPs (sec. 4.3). */
static int build_pointer(struct nvme_request *rq)
{
	struct nvme_ctrl *ctrl = rq->qp->ctrl;
	struct nvme_data *d = &rq->data;
	bool sgl = ctrl->sgl && rq->qp->qid;

	if (sgl)
		return nvme_build_sgl(&rq->cmd, d->sg, d->nents, rq->lists, ctrl->list_pages,
				      ctrl->sgl_dword);
	return nvme_build_prps(&rq->cmd, d->sg, d->nents, rq->lists, ctrl->list_pages);
}

/**
 * nvme_rq_map_data - map a command's data and fill in its data pointer
 * @rq: the request, its command built but for the data pointer
 * @buf: data (system or P2P memory)
 * @len: bytes, at most the controller's max_transfer
 * @dir: DMA_TO_DEVICE or DMA_FROM_DEVICE
 *
 * Return: 0, -EINVAL (@len too big or zero, a buffer neither PRPs nor an
 * SGL can describe and too big to bounce), the transport's mapping errors
 * other than -EREMOTEIO (-EINVAL, -EFAULT for a p2pmem mapping its
 * provider's release revoked, -ENOSPC, -ENOMEM), -ENOMEM when a bounce
 * buffer cannot be allocated. Nothing stays mapped on error.
 */
int nvme_rq_map_data(struct nvme_request *rq, void *buf, size_t len, enum dma_data_direction dir)
{
	struct nvme_ctrl *ctrl = rq->qp->ctrl;
	struct nvme_data *d = &rq->data;
	const struct nvme_reg_buf *r;
	int ret;

	if (!len || len > ctrl->max_transfer)
		return -EINVAL;
	d->buf = buf;
	d->len = len;
	d->dir = dir;
	d->mapped = 0;
	d->bounced = false;
	r = reg_lookup(ctrl, buf, len);
	ret = r ? map_registered(rq, r) : map_segments(rq);
	if (ret == -EREMOTEIO)
		ret = map_bounce(rq, true);
	if (ret)
		return ret;
	ret = build_pointer(rq);
	if (ret == -EINVAL && !d->bounced) {
		/* PRPs cannot describe it (unaligned): the bounce buffer is page aligned. */
		unmap_segments(rq);
		ret = map_bounce(rq, false);
		if (!ret)
			ret = build_pointer(rq);
	}
	if (ret)
		nvme_rq_unmap_data(rq, false);
	return ret;
}

/**
 * nvme_rq_unmap_data - undo nvme_rq_map_data()
 * @rq: the request
 * @copy_back: the command succeeded: copy a bounced read into the caller's
 *	       buffer (a failed read leaves the caller's buffer untouched)
 */
void nvme_rq_unmap_data(struct nvme_request *rq, bool copy_back)
{
	struct nvme_data *d = &rq->data;

	if (d->bounced) {
		if (copy_back && (d->dir == DMA_FROM_DEVICE || d->dir == DMA_BIDIRECTIONAL))
			memcpy(d->buf, rq->bounce, d->len);
		d->bounced = false;
	}
	unmap_segments(rq);
	d->nents = 0;
}

/* --- registered buffers -------------------------------------------------------- */

static void reg_unmap(struct nvme_ctrl *ctrl, struct nvme_reg_buf *r, size_t n)
{
	struct nvme_transport *t = ctrl->t;

	for (size_t i = 0; i < n; i++)
		t->ops->dma_unmap(t->priv, r->dma[i], r->seg, DMA_BIDIRECTIONAL);
	free(r->dma);
	r->dma = NULL;
}

int nvme_ctrl_register_buffer(struct nvme_ctrl *ctrl, void *buf, size_t len)
{
	struct nvme_transport *t = ctrl->t;
	struct nvme_reg_buf *r = NULL;
	size_t n;
	int ret = 0;

	if (!buf || !len || ((uintptr_t)buf | len) & (NVME_PAGE_SIZE - 1))
		return -EINVAL;
	pthread_mutex_lock(&ctrl->admin_lock);
	for (unsigned int i = 0; i < NVME_MAX_REG_BUFS; i++) {
		struct nvme_reg_buf *c = &ctrl->reg[i];

		if (!c->valid) {
			if (!r)
				r = c;
			continue;
		}
		if ((uintptr_t)buf < c->start + c->len && c->start < (uintptr_t)buf + len) {
			ret = -EINVAL;
			goto out;
		}
	}
	if (!r) {
		ret = -ENOSPC;
		goto out;
	}
	r->start = (uintptr_t)buf;
	r->len = len;
	r->seg = t->dma_seg_max && t->dma_seg_max < len ? t->dma_seg_max : len;
	n = DIV_ROUND_UP(len, r->seg);
	r->dma = calloc(n, sizeof(*r->dma));
	if (!r->dma) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		ret = t->ops->dma_map(t->priv, (char *)buf + i * r->seg, r->seg, DMA_BIDIRECTIONAL,
				      &r->dma[i]);
		if (ret) {
			reg_unmap(ctrl, r, i);
			goto out;
		}
	}
	/* Published last: a lookup that sees it valid sees it whole. */
	__atomic_store_n(&r->valid, 1, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&ctrl->admin_lock);
	return ret;
}

int nvme_ctrl_unregister_buffer(struct nvme_ctrl *ctrl, void *buf)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&ctrl->admin_lock);
	for (unsigned int i = 0; i < NVME_MAX_REG_BUFS; i++) {
		struct nvme_reg_buf *r = &ctrl->reg[i];

		if (!r->valid || r->start != (uintptr_t)buf)
			continue;
		__atomic_store_n(&r->valid, 0, __ATOMIC_RELEASE);
		reg_unmap(ctrl, r, DIV_ROUND_UP(r->len, r->seg));
		ret = 0;
		break;
	}
	pthread_mutex_unlock(&ctrl->admin_lock);
	return ret;
}

/**
 * nvme_reg_bufs_release - unregister every buffer (controller removal)
 * @ctrl: the controller
 */
void nvme_reg_bufs_release(struct nvme_ctrl *ctrl)
{
	for (unsigned int i = 0; i < NVME_MAX_REG_BUFS; i++) {
		struct nvme_reg_buf *r = &ctrl->reg[i];

		if (!r->valid)
			continue;
		r->valid = 0;
		reg_unmap(ctrl, r, DIV_ROUND_UP(r->len, r->seg));
	}
}
