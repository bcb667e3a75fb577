// SPDX-License-Identifier: MIT
/*
 * mmap of the machine's files, and the mmap and munmap hooks.
 *
 * p2pmem/allocate: every shared mapping is a fresh chunk of the provider's
 * pool, as the kernel's p2pmem_alloc_mmap() makes it: offset 0 only,
 * private mappings refused with EINVAL, the length rounded up to pages
 * (fio maps bs*iodepth + 2*4095 and unmaps one page less). The pool is the
 * run's (run.h), shared by every process; the chunk is mapped from the
 * BAR's shared file at its offset and entered in this process's
 * special-page lookup as an alias of the provider's pages, so a pointer
 * into it is P2P memory to the DMA layer. munmap may take any part of a
 * mapping: the rest stays entered, piece by piece, and the chunk goes back
 * to the pool with its last page (or with the process).
 *
 * resourceN: a provider's memory BAR maps its shared file (the same bytes
 * the devices DMA to); an NVMe controller's BAR0 maps a read-only snapshot
 * of its registers, read through the fabric when the mapping is made (a
 * register read has no memory behind it to share); any other BAR maps the
 * placeholder file, zeroes.
 */
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <hetmem/memremap.h>
#include <hetmem/nvme-emu.h>
#include <hetmem/pci.h>

#include "interpose.h"

#define NVME_REGS_LEN 0x1000 /* the register file; doorbells follow */

REAL_SLOT(mmap);
REAL_SLOT(munmap);

struct chunk {
	struct chunk *next;
	unsigned int prov;
	uint64_t off;
	uint64_t len;
	size_t live; /* pages this process still maps */
};

struct piece {
	struct piece *next;
	uintptr_t va;
	size_t len;
	uint64_t off; /* the BAR offset @va maps */
	struct chunk *c;
	struct dev_pagemap *pgmap;
	unsigned int gen;
};

static pthread_mutex_t p2p_lock = PTHREAD_MUTEX_INITIALIZER;
static struct piece *pieces;
static struct chunk *chunks;
static int nr_pieces;

bool hi_p2pmem_any(void)
{
	return __atomic_load_n(&nr_pieces, __ATOMIC_ACQUIRE) > 0;
}

static size_t page_up(size_t len)
{
	return (len + PAGE_SIZE - 1) & PAGE_MASK;
}

/* Enter [@va, @va + @len) as the provider's pages at BAR offset @off. */
static int alias(struct hi_inst *in, unsigned int prov, uintptr_t va, size_t len, uint64_t off,
		 struct dev_pagemap **pgmap)
{
	struct page *page = virt_to_page(in->prov_bar[prov] + off);
	int ret;

	if (!page)
		return -ENODEV;
	hi_busy++;
	ret = pgmap_add_alias(page->pgmap, (void *)va, len, page->pfn);
	hi_busy--;
	*pgmap = page->pgmap;
	return ret;
}

static void unalias(struct piece *p)
{
	hi_busy++;
	pgmap_remove_alias(p->pgmap, (void *)p->va, p->len);
	hi_busy--;
}

static void state_changed(unsigned int prov)
{
	hi_busy++;
	hi_write_available(hi_ctx.sys, &hi_ctx.st->prov[prov]);
	hi_busy--;
}

/* A chunk's last page in this process went: the process no longer maps it. */
static void chunk_gone(struct chunk *c)
{
	struct chunk **pp;

	hi_state_lock(hi_ctx.st);
	if (hi_pool_put(&hi_ctx.st->prov[c->prov], c->off, getpid()) == 1)
		state_changed(c->prov);
	hi_state_unlock(hi_ctx.st);
	for (pp = &chunks; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	free(c);
}

static void *allocate_mmap(struct hi_file *f, void *addr, size_t len, int prot, int flags,
			   int64_t off)
{
	unsigned int prov = f->index;
	const struct hi_prov_desc *pd = &hi_ctx.st->prov[prov];
	struct hi_inst *in;
	struct piece *p;
	struct chunk *c;
	uint64_t coff;
	size_t plen;
	void *va;
	int ret, bfd;

	/* p2pmem_alloc_mmap(): shared only, whole file from offset 0. */
	if ((flags & MAP_TYPE) == MAP_PRIVATE || off || !len) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	in = hi_inst_get();
	if (!in) {
		errno = ENODEV;
		return MAP_FAILED;
	}
	if (!in->prov_file[prov]) {
		static int once;

		hi_msg(&once, "%s BAR%d is not backed by a file the run can share: its "
			      "p2pmem/allocate cannot be mapped", pd->label, pd->bar);
		errno = ENODEV;
		return MAP_FAILED;
	}
	plen = page_up(len);
	p = calloc(1, sizeof(*p));
	c = calloc(1, sizeof(*c));
	if (!p || !c) {
		free(p);
		free(c);
		errno = ENOMEM;
		return MAP_FAILED;
	}
	hi_state_lock(hi_ctx.st);
	ret = hi_pool_alloc(&hi_ctx.st->prov[prov], plen, getpid(), &coff);
	if (!ret)
		state_changed(prov);
	hi_state_unlock(hi_ctx.st);
	if (ret) {
		free(p);
		free(c);
		errno = -ret;
		return MAP_FAILED;
	}
	bfd = pci_bar_fd(in->prov[prov], pd->bar, NULL);
	va = REAL(mmap)(addr, plen, prot, (flags & ~MAP_TYPE) | MAP_SHARED, bfd, (off_t)coff);
	ret = va == MAP_FAILED ? -errno : alias(in, prov, (uintptr_t)va, plen, coff, &p->pgmap);
	if (ret) {
		if (va != MAP_FAILED)
			REAL(munmap)(va, plen);
		hi_state_lock(hi_ctx.st);
		if (hi_pool_put(&hi_ctx.st->prov[prov], coff, getpid()) == 1)
			state_changed(prov);
		hi_state_unlock(hi_ctx.st);
		free(p);
		free(c);
		errno = -ret;
		return MAP_FAILED;
	}
	c->prov = prov;
	c->off = coff;
	c->len = plen;
	c->live = plen >> PAGE_SHIFT;
	p->va = (uintptr_t)va;
	p->len = plen;
	p->off = coff;
	p->c = c;
	p->gen = in->gen;
	pthread_mutex_lock(&p2p_lock);
	c->next = chunks;
	chunks = c;
	p->next = pieces;
	pieces = p;
	__atomic_add_fetch(&nr_pieces, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&p2p_lock);
	return va;
}

/* An NVMe controller's registers as they read now, in memory of their own. */
static void *regs_mmap(struct pci_dev *pdev, void *addr, size_t len, int prot, int flags,
		       int64_t off)
{
	uint64_t bar = pci_resource_len(pdev, 0);
	uint32_t *w;
	void *va;

	if (prot & PROT_WRITE) {
		static int once;

		hi_msg(&once, "%s resource0: the registers map read-only (a snapshot)",
		       pci_name(pdev));
		errno = EACCES;
		return MAP_FAILED;
	}
	if (off < 0 || (uint64_t)off >= bar || len > bar - (uint64_t)off) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	va = REAL(mmap)(addr, len, PROT_READ | PROT_WRITE,
			(flags & MAP_FIXED) | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (va == MAP_FAILED)
		return va;
	w = va;
	hi_busy++;
	for (uint64_t i = 0; i < len / 4 && (uint64_t)off + i * 4 < NVME_REGS_LEN; i++)
		w[i] = (uint32_t)pci_mmio_read(pdev, 0, (uint64_t)off + i * 4, 4);
	hi_busy--;
	mprotect(va, len, prot);
	return va;
}

static void *resource_mmap(struct hi_file *f, int fd, void *addr, size_t len, int prot,
			   int flags, int64_t off)
{
	struct hi_state *st = hi_ctx.st;
	struct hi_inst *in;
	struct pci_dev *dev;

	in = hi_inst_get();
	if (!in) {
		errno = ENODEV;
		return MAP_FAILED;
	}
	dev = in->link[f->index];
	for (unsigned int i = 0; i < st->nr_prov; i++) {
		if (in->prov[i] != dev || st->prov[i].bar != f->bar || !in->prov_file[i])
			continue;
		if (off < 0 || (uint64_t)off + len > st->prov[i].size) {
			errno = EINVAL;
			return MAP_FAILED;
		}
		return REAL(mmap)(addr, len, prot, flags, pci_bar_fd(dev, f->bar, NULL),
				  (off_t)off);
	}
	if (f->bar == 0 && nvme_emu_from_pdev(dev))
		return regs_mmap(dev, addr, len, prot, flags, off);
	return REAL(mmap)(addr, len, prot, flags, fd, (off_t)off);
}

void *hi_p2pmem_mmap(struct hi_file *f, void *addr, size_t len, int prot, int flags, int64_t off)
{
	switch (f->kind) {
	case HI_P2PMEM:
		return allocate_mmap(f, addr, len, prot, flags, off);
	default:
		errno = ENODEV;
		return MAP_FAILED;
	}
}

int hi_p2pmem_munmap(void *addr, size_t len, bool unmap)
{
	uintptr_t start = (uintptr_t)addr, end = start + page_up(len);
	struct piece **pp, *p, *tail;
	struct hi_inst *in;

	if ((start & (PAGE_SIZE - 1)) || !len)
		return unmap ? REAL(munmap)(addr, len) : 0;
	/* Before the lock: building the machine rebinds the pieces under it. */
	in = hi_inst_get();
	pthread_mutex_lock(&p2p_lock);
	for (pp = &pieces; (p = *pp);) {
		uintptr_t a = p->va > start ? p->va : start;
		uintptr_t b = p->va + p->len < end ? p->va + p->len : end;
		struct chunk *c = p->c;

		if (a >= b) {
			pp = &p->next;
			continue;
		}
		unalias(p);
		/* What is left of the piece after the hole: a piece of its own. */
		tail = NULL;
		if (b < p->va + p->len && in && (tail = calloc(1, sizeof(*tail)))) {
			tail->va = b;
			tail->len = p->va + p->len - b;
			tail->off = p->off + (b - p->va);
			tail->c = c;
			tail->gen = in->gen;
			if (alias(in, c->prov, tail->va, tail->len, tail->off, &tail->pgmap)) {
				free(tail);
				tail = NULL;
			}
		}
		if (!tail && b < p->va + p->len) {
			/* Cannot be entered again: unmapped rather than mapped but unknown. */
			c->live -= (p->va + p->len - b) >> PAGE_SHIFT;
			REAL(munmap)((void *)b, p->va + p->len - b);
		}
		c->live -= (b - a) >> PAGE_SHIFT;
		if (a > p->va && in &&
		    !alias(in, c->prov, p->va, a - p->va, p->off, &p->pgmap)) {
			p->len = a - p->va;
			p->gen = in->gen;
			pp = &p->next;
		} else {
			if (a > p->va) {
				c->live -= (a - p->va) >> PAGE_SHIFT;
				REAL(munmap)((void *)p->va, a - p->va);
			}
			*pp = p->next;
			free(p);
			__atomic_sub_fetch(&nr_pieces, 1, __ATOMIC_RELEASE);
		}
		if (tail) {
			tail->next = *pp;
			*pp = tail;
			pp = &tail->next;
			__atomic_add_fetch(&nr_pieces, 1, __ATOMIC_RELEASE);
		}
		if (!c->live)
			chunk_gone(c);
	}
	pthread_mutex_unlock(&p2p_lock);
	return unmap ? REAL(munmap)(addr, len) : 0;
}

void hi_p2pmem_unbind(void)
{
	pthread_mutex_lock(&p2p_lock);
	for (struct piece *p = pieces; p; p = p->next) {
		if (!p->pgmap)
			continue;
		/* Inherited across fork: the parent's machine's lookup entry goes. */
		unalias(p);
		p->pgmap = NULL;
	}
	pthread_mutex_unlock(&p2p_lock);
}

void hi_p2pmem_rebind(struct hi_inst *in)
{
	pthread_mutex_lock(&p2p_lock);
	for (struct piece *p = pieces; p; p = p->next) {
		if (p->pgmap && p->gen == in->gen)
			continue;
		if (p->pgmap)
			unalias(p);
		alias(in, p->c->prov, p->va, p->len, p->off, &p->pgmap);
		p->gen = in->gen;
	}
	pthread_mutex_unlock(&p2p_lock);
}

void hi_p2pmem_atfork_prepare(void)
{
	pthread_mutex_lock(&p2p_lock);
	if (!chunks)
		return;
	/* The child maps every chunk too: a second reference, the child's from its start. */
	hi_state_lock(hi_ctx.st);
	for (struct chunk *c = chunks; c; c = c->next)
		hi_pool_share(&hi_ctx.st->prov[c->prov], c->off, getpid());
	hi_state_unlock(hi_ctx.st);
}

void hi_p2pmem_atfork_parent(void)
{
	pthread_mutex_unlock(&p2p_lock);
}

void hi_p2pmem_atfork_child(void)
{
	pid_t me = getpid(), parent = getppid();

	pthread_mutex_init(&p2p_lock, NULL);
	if (!chunks)
		return;
	/* Ours first, then the parent's extra one: the chunk never looks unmapped. */
	hi_state_lock(hi_ctx.st);
	for (struct chunk *c = chunks; c; c = c->next) {
		hi_pool_share(&hi_ctx.st->prov[c->prov], c->off, me);
		hi_pool_put(&hi_ctx.st->prov[c->prov], c->off, parent);
	}
	hi_state_unlock(hi_ctx.st);
}

/* --- the hooks ----------------------------------------------------------------------------- */

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	struct hi_file *f;
	void *va;

	if ((flags & MAP_FIXED) && !hi_busy && hi_p2pmem_any())
		hi_p2pmem_munmap(addr, len, false);
	if (fd < 0 || !(f = hi_fd_get(fd)))
		return REAL(mmap)(addr, len, prot, flags, fd, off);
	switch (f->kind) {
	case HI_P2PMEM:
		va = hi_p2pmem_mmap(f, addr, len, prot, flags, off);
		break;
	case HI_RESOURCE:
		va = resource_mmap(f, fd, addr, len, prot, flags, off);
		break;
	case HI_HMM: {
		int ret = hi_hmm_mmap(f->hmm, addr, len, prot, flags, off, &va);

		if (ret) {
			errno = -ret;
			va = MAP_FAILED;
		}
		break;
	}
	default:
		errno = ENODEV; /* the NVMe character and block devices have no mmap */
		va = MAP_FAILED;
		break;
	}
	hi_file_put(f);
	return va;
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
	return mmap(addr, len, prot, flags, fd, off);
}

int munmap(void *addr, size_t len)
{
	if (!hi_busy && hi_p2pmem_any())
		return hi_p2pmem_munmap(addr, len, true);
	return REAL(munmap)(addr, len);
}
