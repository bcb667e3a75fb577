// SPDX-License-Identifier: MIT
/*
 * The p2pmem attributes of a provider: size, available, published, and
 * allocate, whose every shared mmap maps a fresh chunk of the pool.
 *
 * A chunk is one pool allocation. The mapping of it is a second mapping of
 * the BAR's memfd at the chunk's offset, entered in the special-page lookup
 * as an alias of the chunk's pages, so a pointer into it is P2P memory to
 * the DMA layer. munmap may take any page-aligned part: the mapping is kept
 * as pieces, each its own alias, so an unmapped page never lingers in the
 * lookup (a later mmap reusing the address must read as ordinary memory).
 * The chunk goes back to the pool with its last page.
 *
 * A release of the provider revokes the mappings still there
 * (p2pmem-revoke.c): their chunks go back to the pool, their address ranges
 * stay reserved and fault on every access until their user unmaps them.
 */
#define pr_fmt(fmt) "p2pmem: " fmt

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <hetmem/err.h>
#include <hetmem/log.h>
#include "lib/genalloc.h"
#include "p2pdma.h"

struct p2pmem_chunk {
	uintptr_t virt; /* in the pool: the fabric's mapping of the BAR */
	size_t len;
	size_t live;	/* pages still mapped */
	int prot;	/* as mapped */
	struct dev_pagemap *pgmap;
};

struct p2pmem_piece {
	struct list_head node;
	uintptr_t va; /* in the caller's mapping */
	size_t len;
	uintptr_t virt; /* what it aliases, in the pool's terms */
	struct p2pmem_chunk *chunk;
};

long pci_p2pmem_attr_show(struct pci_dev *pdev, const char *attr, char *buf, size_t len)
{
	struct pci_p2pdma *p;
	int n;

	pthread_rwlock_rdlock(&pdev->p2p_lock);
	p = pdev->p2pdma;
	if (!p)
		n = -ENODEV;
	else if (!strcmp(attr, "size"))
		n = snprintf(buf, len, "%zu\n", gen_pool_size(p->pool));
	else if (!strcmp(attr, "available"))
		n = snprintf(buf, len, "%zu\n", gen_pool_avail(p->pool));
	else if (!strcmp(attr, "published"))
		n = snprintf(buf, len, "%d\n", p->published);
	else
		n = -ENOENT;
	pthread_rwlock_unlock(&pdev->p2p_lock);
	if (n >= 0 && (size_t)n >= len)
		return -ENOSPC;
	return n;
}

/* The BAR file offset of pool address @virt. */
static int chunk_file(struct dev_pagemap *pgmap, uintptr_t virt, int *fd, uint64_t *off)
{
	struct pci_p2pdma_pagemap *pm = to_p2p_pgmap(pgmap);
	uint64_t base;

	*fd = pci_bar_fd(pm->provider, pm->bar, &base);
	if (*fd < 0)
		return -ENODEV;
	*off = base + pm->bar_offset + (virt - (uintptr_t)pgmap->vaddr);
	return 0;
}

static uint64_t virt_pfn(struct dev_pagemap *pgmap, uintptr_t virt)
{
	return (pgmap->range.start + (virt - (uintptr_t)pgmap->vaddr)) >> PAGE_SHIFT;
}

static struct p2pmem_piece *new_piece(struct p2pmem_chunk *c, uintptr_t va, size_t len,
				      uintptr_t virt)
{
	struct p2pmem_piece *pc = calloc(1, sizeof(*pc));

	if (!pc)
		return NULL;
	if (pgmap_add_alias(c->pgmap, (void *)va, len, virt_pfn(c->pgmap, virt))) {
		free(pc);
		return NULL;
	}
	pc->va = va;
	pc->len = len;
	pc->virt = virt;
	pc->chunk = c;
	return pc;
}

void *pci_p2pmem_mmap(struct pci_dev *pdev, size_t len, int prot, int flags, long offset)
{
	struct p2pmem_chunk *c;
	struct p2pmem_piece *pc;
	struct pci_p2pdma *p;
	uint64_t off;
	void *va;
	int fd;

	if (!(flags & MAP_SHARED) || (flags & MAP_PRIVATE)) {
		pr_info("%s: private mappings of p2pmem/allocate are not supported", pdev->name);
		return ERR_PTR(-EINVAL);
	}
	if (offset || !len)
		return ERR_PTR(-EINVAL);
	len = (len + PAGE_SIZE - 1) & PAGE_MASK;
	c = calloc(1, sizeof(*c));
	if (!c)
		return ERR_PTR(-ENOMEM);
	c->len = len;
	c->live = len >> PAGE_SHIFT;
	c->prot = prot;
	c->virt = (uintptr_t)pci_alloc_p2pmem(pdev, len);
	if (!c->virt) {
		bool pool;

		free(c);
		pthread_rwlock_rdlock(&pdev->p2p_lock);
		pool = pdev->p2pdma && !pdev->p2pdma->releasing;
		pthread_rwlock_unlock(&pdev->p2p_lock);
		return ERR_PTR(pool ? -ENOMEM : -ENODEV);
	}
	c->pgmap = virt_to_page((void *)c->virt)->pgmap;
	if (chunk_file(c->pgmap, c->virt, &fd, &off))
		goto fail;
	va = mmap(NULL, len, prot, MAP_SHARED, fd, (off_t)off);
	if (va == MAP_FAILED)
		goto fail;
	pc = new_piece(c, (uintptr_t)va, len, c->virt);
	if (!pc) {
		munmap(va, len);
		goto fail;
	}
	pthread_rwlock_rdlock(&pdev->p2p_lock);
	p = pdev->p2pdma;
	if (p && !p->releasing) {
		pthread_mutex_lock(&p->mmap_lock);
		list_add_tail(&pc->node, &p->mmaps);
		pthread_mutex_unlock(&p->mmap_lock);
	}
	pthread_rwlock_unlock(&pdev->p2p_lock);
	if (p && !p->releasing)
		return va;
	/* The provider started going away meanwhile. */
	pgmap_remove_alias(c->pgmap, va, len);
	free(pc);
	munmap(va, len);
fail:
	pci_free_p2pmem(pdev, (void *)c->virt, len);
	free(c);
	return ERR_PTR(-ENOMEM);
}

/* Drop @pages pages of @c; the last one returns the chunk to the pool. */
static void chunk_put(struct pci_dev *pdev, struct p2pmem_chunk *c, size_t pages)
{
	c->live -= pages;
	if (c->live)
		return;
	pci_free_p2pmem(pdev, (void *)c->virt, c->len);
	free(c);
}

int pci_p2pmem_munmap(struct pci_dev *pdev, void *addr, size_t len)
{
	uintptr_t start = (uintptr_t)addr, end;
	struct p2pmem_piece *pc, *next, *tail;
	struct pci_p2pdma *p;
	size_t revoked;
	int ret = -EINVAL, err;

	if (start & (PAGE_SIZE - 1) || !len || len > UINTPTR_MAX - start - (PAGE_SIZE - 1))
		return -EINVAL;
	end = start + ((len + PAGE_SIZE - 1) & PAGE_MASK);
	/*
	 * Revoked ranges first, without touching @pdev: their provider may be
	 * gone with its fabric. Only a range they do not cover whole can also
	 * hold live pieces.
	 */
	revoked = p2pmem_revoked_munmap(pdev, start, end, &err);
	if (err)
		return err;
	if (revoked == end - start)
		return 0;
	if (revoked)
		ret = 0;
	pthread_rwlock_rdlock(&pdev->p2p_lock);
	p = pdev->p2pdma;
	if (!p)
		goto out;
	pthread_mutex_lock(&p->mmap_lock);
	list_for_each_entry_safe(pc, next, &p->mmaps, node) {
		uintptr_t a = pc->va > start ? pc->va : start;
		uintptr_t b = pc->va + pc->len < end ? pc->va + pc->len : end;
		struct p2pmem_chunk *c = pc->chunk;

		if (a >= b)
			continue;
		/*
		 * Cut [a, b) out of the piece: what is left becomes up to two
		 * pieces. A remainder that cannot be entered in the lookup again
		 * is unmapped too rather than left mapped but unknown.
		 */
		pgmap_remove_alias(c->pgmap, (void *)pc->va, pc->len);
		if (b < pc->va + pc->len) {
			tail = new_piece(c, b, pc->va + pc->len - b, pc->virt + (b - pc->va));
			if (tail)
				list_add(&tail->node, &pc->node);
			else
				b = pc->va + pc->len;
		}
		if (a > pc->va && !pgmap_add_alias(c->pgmap, (void *)pc->va, a - pc->va,
						   virt_pfn(c->pgmap, pc->virt))) {
			pc->len = a - pc->va;
		} else {
			a = pc->va;
			list_del(&pc->node);
			free(pc);
		}
		munmap((void *)a, b - a);
		chunk_put(pdev, c, (b - a) >> PAGE_SHIFT);
		ret = 0;
	}
	pthread_mutex_unlock(&p->mmap_lock);
out:
	pthread_rwlock_unlock(&pdev->p2p_lock);
	return ret;
}

/*
 * Revoke one piece, already off the provider's list and entered as revoked:
 * its alias leaves the lookup, its range is mapped over, its pages go back
 * to the chunk.
 */
static void revoke_piece(struct pci_dev *pdev, struct p2pmem_piece *pc, struct revoked *r)
{
	struct pci_p2pdma *p = pdev->p2pdma;
	struct p2pmem_chunk *c = pc->chunk;

	pgmap_remove_alias(c->pgmap, (void *)pc->va, pc->len);
	if (r) {
		p2pmem_revoke_finish(r, c->prot);
	} else {
		/* Cannot be kept: unmapped, as much as can still be done. */
		pr_err("%s: p2pmem mapping at %p cannot be kept reserved; unmapping it", pdev->name,
		       (void *)pc->va);
		munmap((void *)pc->va, pc->len);
	}
	/* Other pieces of the chunk may be unmapped meanwhile: the same locks as munmap. */
	pthread_rwlock_rdlock(&pdev->p2p_lock);
	pthread_mutex_lock(&p->mmap_lock);
	chunk_put(pdev, c, pc->len >> PAGE_SHIFT);
	pthread_mutex_unlock(&p->mmap_lock);
	pthread_rwlock_unlock(&pdev->p2p_lock);
	free(pc);
}

void p2pmem_release_mmaps(struct pci_dev *pdev)
{
	struct pci_p2pdma *p = pdev->p2pdma;
	struct p2pmem_piece *pc;
	struct revoked *r;

	/*
	 * The kernel takes the provider's pages out of its users' page tables
	 * and leaves their VMAs: so are these mappings kept, every access to
	 * them faulting. The range is entered as revoked while its alias is
	 * still in the lookup, so the DMA layer always sees one or the other.
	 */
	for (;;) {
		p2pmem_revoke_lock();
		pthread_mutex_lock(&p->mmap_lock);
		pc = list_empty(&p->mmaps) ? NULL : list_first_entry(&p->mmaps, struct p2pmem_piece, node);
		if (pc) {
			list_del(&pc->node);
			r = p2pmem_revoke_enter(pdev, pc->va, pc->len);
		}
		pthread_mutex_unlock(&p->mmap_lock);
		if (pc) {
			pr_warn("%s: p2pmem mapping at %p (%zu bytes) still in use at removal; revoking it",
				pdev->name, (void *)pc->va, pc->len);
			revoke_piece(pdev, pc, r);
		}
		p2pmem_revoke_unlock();
		if (!pc)
			break;
	}
}
