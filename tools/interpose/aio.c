// SPDX-License-Identifier: MIT
/*
 * libaio: io_setup, io_queue_init, io_submit, io_getevents, io_cancel,
 * io_destroy, io_queue_release.
 *
 * A context is the kernel's (io_setup goes to libaio as usual) and, beside
 * it, the interposer's record of the requests on emulated descriptors: a
 * read or write of a namespace is submitted asynchronously on a queue pair
 * the context holds until it is destroyed, and its completion becomes an
 * io_event when io_getevents reaps the queue pair. Requests on other
 * descriptors go to the kernel's context, so one context may hold both;
 * io_getevents then gathers from both, polling while both have requests
 * in flight.
 *
 * The queue pair belongs to the context and is used under the context's
 * lock: one thread at a time, as the driver requires. What cannot go
 * asynchronously (vectored requests, a buffered descriptor's partial
 * blocks, flushes) runs at submission and completes at once.
 *
 * libaio returns negative errnos, not -1: so do these. The program's
 * iocb array, iocbs and event array are read and checked as the kernel's
 * copy_from_user()/copy_to_user() would (umem.c): a bad pointer is
 * -EFAULT, a request whose buffer the program cannot use completes with
 * -EFAULT.
 */
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hetmem/err.h>
#include <hetmem/nvme.h>

#include "interpose.h"

REAL_SLOT(io_setup);
REAL_SLOT(io_queue_init);
REAL_SLOT(io_submit);
REAL_SLOT(io_getevents);
REAL_SLOT(io_cancel);
REAL_SLOT(io_destroy);
REAL_SLOT(io_queue_release);

#define POLL_NS 100000 /* between looks when both the kernel and we have requests */

struct actx {
	struct actx *next;
	io_context_t ctx;
	pthread_mutex_t lock;
	struct hi_ctrl_inst *ci;
	struct nvme_qpair *qp;
	struct io_event *done;
	unsigned int nr_done;
	unsigned int cap;
	unsigned int pending; /* ours, in flight */
	long real_pending; /* the kernel's, not reaped */
};

struct areq {
	struct actx *a;
	struct iocb *iocb;
	long bytes;
};

static pthread_mutex_t list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct actx *contexts;

void hi_aio_atfork_child(void)
{
	/* A child has no aio contexts of its parent's (the kernel's do not follow either). */
	contexts = NULL;
	pthread_mutex_init(&list_lock, NULL);
}

static struct actx *find(io_context_t ctx)
{
	struct actx *a;

	pthread_mutex_lock(&list_lock);
	for (a = contexts; a && a->ctx != ctx; a = a->next)
		;
	pthread_mutex_unlock(&list_lock);
	return a;
}

static void track(io_context_t ctx, int maxevents)
{
	struct actx *a;

	if (!hi_active() || find(ctx))
		return;
	a = calloc(1, sizeof(*a));
	if (!a)
		return;
	a->ctx = ctx;
	a->cap = maxevents > 0 ? (unsigned int)maxevents : 1;
	a->done = calloc(a->cap, sizeof(*a->done));
	if (!a->done) {
		free(a);
		return;
	}
	pthread_mutex_init(&a->lock, NULL);
	pthread_mutex_lock(&list_lock);
	a->next = contexts;
	contexts = a;
	pthread_mutex_unlock(&list_lock);
}

static struct actx *untrack(io_context_t ctx)
{
	struct actx **pp, *a = NULL;

	pthread_mutex_lock(&list_lock);
	for (pp = &contexts; *pp; pp = &(*pp)->next) {
		if ((*pp)->ctx == ctx) {
			a = *pp;
			*pp = a->next;
			break;
		}
	}
	pthread_mutex_unlock(&list_lock);
	return a;
}

/* Under a->lock. */
static void push(struct actx *a, struct iocb *iocb, long res)
{
	struct io_event *e;

	if (a->nr_done == a->cap) {
		unsigned int cap = a->cap * 2;
		struct io_event *d = realloc(a->done, cap * sizeof(*d));

		if (!d)
			return; /* lost: the caller waits forever, as on a dropped completion */
		a->done = d;
		a->cap = cap;
	}
	e = &a->done[a->nr_done++];
	memset(e, 0, sizeof(*e));
	e->data = iocb->data;
	e->obj = iocb;
	e->res = (unsigned long)res;
}

static void completed(void *arg, int status)
{
	struct areq *r = arg;

	push(r->a, r->iocb, status ? hi_errno(status) : r->bytes);
	r->a->pending--;
	free(r);
}

/* One request on an emulated descriptor. Return: 0, or a negative errno (nothing queued). */
static int submit_one(struct actx *a, struct hi_file *f, struct iocb *iocb)
{
	short op = iocb->aio_lio_opcode;
	bool write = op == IO_CMD_PWRITE || op == IO_CMD_PWRITEV;
	struct iovec iov = { iocb->u.c.buf, iocb->u.c.nbytes };
	const struct hi_ns_desc *nd;
	struct hi_inst *in;
	struct nvme_ns *ns;
	struct areq *r;
	uint64_t off = (uint64_t)iocb->u.c.offset, len = iocb->u.c.nbytes, mask;
	int ret;

	if (f->kind != HI_NVME_NS)
		return -EINVAL;
	switch (op) {
	case IO_CMD_NOOP:
		push(a, iocb, 0);
		return 0;
	case IO_CMD_FSYNC:
	case IO_CMD_FDSYNC:
		push(a, iocb, hi_blk_flush(f));
		return 0;
	case IO_CMD_PREADV:
	case IO_CMD_PWRITEV: {
		ssize_t n = hi_blk_rw(f, iocb->u.v.vec, iocb->u.v.nr, iocb->u.v.offset, write);

		if (n == -EINVAL && (f->flags & O_DIRECT))
			return -EINVAL;
		push(a, iocb, n);
		return 0;
	}
	case IO_CMD_PREAD:
	case IO_CMD_PWRITE:
		break;
	default:
		return -EINVAL;
	}
	in = hi_inst_get();
	if (!in)
		return -EIO;
	nd = &hi_ctx.st->ctrl[f->ctrl].ns[f->ns];
	mask = (1ULL << nd->lba_shift) - 1;
	if ((f->flags & O_DIRECT) &&
	    ((off & mask) || (len & mask) || ((uintptr_t)iov.iov_base & 3)))
		return -EINVAL;
	/* The queue pair goes to the first controller the context is used with. */
	if (!a->qp) {
		a->ci = &in->ctrl[f->ctrl];
		a->qp = hi_qp_get(a->ci);
		if (!a->qp)
			return -EAGAIN;
	}
	ns = in->ctrl[f->ctrl].ns[f->ns];
	if (a->ci != &in->ctrl[f->ctrl] || !ns || (off & mask) || (len & mask) ||
	    ((uintptr_t)iov.iov_base & 3) || !len || off >= nd->size ||
	    len > nvme_ctrl_max_transfer(a->ci->ctrl)) {
		/* Not one command on our queue pair: done now, synchronously. */
		push(a, iocb, hi_blk_rw(f, &iov, 1, (int64_t)off, write));
		return 0;
	}
	if (len > nd->size - off)
		len = nd->size - off;
	if (hi_user_buffer_ok(iov.iov_base, len, !write)) {
		/* Submitted, and failed: the event says so, as the kernel's would. */
		push(a, iocb, -EFAULT);
		return 0;
	}
	r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->a = a;
	r->iocb = iocb;
	r->bytes = (long)len;
	hi_busy++;
	for (;;) {
		ret = write ? nvme_submit_write(ns, a->qp, iov.iov_base, off >> nd->lba_shift,
						(uint32_t)(len >> nd->lba_shift), completed, r)
			    : nvme_submit_read(ns, a->qp, iov.iov_base, off >> nd->lba_shift,
					       (uint32_t)(len >> nd->lba_shift), completed, r);
		if (ret != -EAGAIN || nvme_qpair_process_completions(a->qp, 0) <= 0)
			break;
	}
	hi_busy--;
	if (ret) {
		free(r);
		return hi_errno(ret) == -EIO ? -EAGAIN : hi_errno(ret);
	}
	a->pending++;
	return 0;
}

int io_setup(int maxevents, io_context_t *ctxp)
{
	int ret;

	if (!REAL(io_setup))
		return -ENOSYS;
	ret = REAL(io_setup)(maxevents, ctxp);
	if (!ret)
		track(*ctxp, maxevents);
	return ret;
}

int io_queue_init(int maxevents, io_context_t *ctxp)
{
	int ret;

	if (!REAL(io_queue_init))
		return -ENOSYS;
	ret = REAL(io_queue_init)(maxevents, ctxp);
	if (!ret)
		track(*ctxp, maxevents);
	return ret;
}

int io_submit(io_context_t ctx, long nr, struct iocb *ios[])
{
	struct actx *a = find(ctx);
	long i;
	int ret = 0;

	if (!a)
		return REAL(io_submit) ? REAL(io_submit)(ctx, nr, ios) : -ENOSYS;
	if (nr < 0)
		return -EINVAL;
	pthread_mutex_lock(&a->lock);
	for (i = 0; i < nr; i++) {
		struct iocb *io, copy;
		struct hi_file *f;

		/* get_user() of the pointer, copy_from_user() of the iocb */
		if (hi_copy_from_user(&io, &ios[i], sizeof(io)) ||
		    hi_copy_from_user(&copy, io, sizeof(copy))) {
			ret = -EFAULT;
			break;
		}
		f = hi_fd_get(copy.aio_fildes);

		if (!f || f->kind == HI_P2PMEM || f->kind == HI_RESOURCE) {
			hi_file_put(f);
			ret = REAL(io_submit)(ctx, 1, &ios[i]);
			if (ret != 1)
				break;
			a->real_pending++;
			ret = 0;
			continue;
		}
		ret = submit_one(a, f, ios[i]);
		hi_file_put(f);
		if (ret)
			break;
	}
	pthread_mutex_unlock(&a->lock);
	return i ? (int)i : ret;
}

/* Up to @want events into the program's @ev; -EFAULT (none taken off) when it cannot take them. */
static long drain(struct actx *a, struct io_event *ev, long want)
{
	unsigned int n = a->nr_done < want ? a->nr_done : (unsigned int)want;

	if (n && hi_copy_to_user(ev, a->done, n * sizeof(*ev)))
		return -EFAULT;
	memmove(a->done, a->done + n, (a->nr_done - n) * sizeof(*ev));
	a->nr_done -= n;
	return n;
}

static int64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

int io_getevents(io_context_t ctx, long min_nr, long nr, struct io_event *events,
		 struct timespec *timeout)
{
	struct actx *a = find(ctx);
	int64_t deadline = -1;
	bool fault = false;
	long got = 0;
	int r;

	if (!a)
		return REAL(io_getevents) ? REAL(io_getevents)(ctx, min_nr, nr, events, timeout)
					  : -ENOSYS;
	if (min_nr < 0 || nr < min_nr)
		return -EINVAL;
	if (timeout) {
		struct timespec t;

		if (hi_copy_from_user(&t, timeout, sizeof(t)))
			return -EFAULT;
		if (t.tv_sec < 0 || t.tv_nsec < 0 || t.tv_nsec >= 1000000000)
			return -EINVAL;
		deadline = now_ns() + t.tv_sec * 1000000000LL + t.tv_nsec;
	}
	pthread_mutex_lock(&a->lock);
	for (;;) {
		int64_t left = deadline < 0 ? -1 : deadline - now_ns();
		long n = drain(a, events + got, nr - got);

		if (n >= 0 && a->qp && a->pending && got + n < nr) {
			hi_busy++;
			nvme_qpair_process_completions(a->qp, 0);
			hi_busy--;
			got += n;
			n = drain(a, events + got, nr - got);
		}
		if (n < 0) {
			/* the events so far, else the fault */
			fault = !got;
			break;
		}
		got += n;
		if (a->real_pending && got < nr) {
			struct timespec zero = { 0, 0 };

			r = REAL(io_getevents)(ctx, 0, nr - got, events + got, &zero);
			if (r > 0) {
				got += r;
				a->real_pending -= r;
			}
		}
		if (got >= min_nr || (deadline >= 0 && left <= 0))
			break;
		if (a->pending && !a->real_pending) {
			hi_busy++;
			nvme_qpair_wait(a->qp, left < 0 ? -1 : (int)(left / 1000000) + 1);
			hi_busy--;
		} else if (!a->pending) {
			/* Only the kernel's requests (or none): let the kernel wait. */
			struct timespec ts = { left / 1000000000, left % 1000000000 };

			r = REAL(io_getevents)(ctx, min_nr - got, nr - got, events + got,
					       left < 0 ? NULL : &ts);
			if (r > 0) {
				got += r;
				a->real_pending -= r;
			}
			break;
		} else {
			struct timespec ts = { 0, POLL_NS };

			pthread_mutex_unlock(&a->lock);
			nanosleep(&ts, NULL);
			pthread_mutex_lock(&a->lock);
		}
	}
	pthread_mutex_unlock(&a->lock);
	return fault ? -EFAULT : (int)got;
}

int io_cancel(io_context_t ctx, struct iocb *iocb, struct io_event *evt)
{
	struct hi_file *f;
	struct iocb copy;

	if (!find(ctx))
		return REAL(io_cancel) ? REAL(io_cancel)(ctx, iocb, evt) : -ENOSYS;
	if (hi_copy_from_user(&copy, iocb, sizeof(copy)))
		return -EFAULT;
	f = hi_fd_get(copy.aio_fildes);
	if (f && f->kind != HI_P2PMEM && f->kind != HI_RESOURCE) {
		hi_file_put(f);
		return -EAGAIN; /* a command the controller has cannot be called back */
	}
	hi_file_put(f);
	return REAL(io_cancel)(ctx, iocb, evt);
}

/* Wait for our requests, give the queue pair back, forget the context. */
static void retire(io_context_t ctx)
{
	struct actx *a = untrack(ctx);

	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	hi_busy++;
	while (a->qp && a->pending)
		if (nvme_qpair_wait(a->qp, 1000) < 0)
			break;
	hi_busy--;
	if (a->qp)
		hi_qp_put(a->ci, a->qp);
	pthread_mutex_unlock(&a->lock);
	pthread_mutex_destroy(&a->lock);
	free(a->done);
	free(a);
}

int io_destroy(io_context_t ctx)
{
	retire(ctx);
	return REAL(io_destroy) ? REAL(io_destroy)(ctx) : -ENOSYS;
}

int io_queue_release(io_context_t ctx)
{
	retire(ctx);
	return REAL(io_queue_release) ? REAL(io_queue_release)(ctx) : -ENOSYS;
}
