// SPDX-License-Identifier: MIT
/*
 * The anonymous-memory backend of the test device: what
 * dmirror_device_create() makes, the kernel's lib/test_hmm.c device.
 *
 * Its memory is chunks of device-private pages: each a
 * MEMORY_DEVICE_PRIVATE page map over pfn space from
 * request_free_mem_region(), backed by "VRAM", an anonymous mapping of the
 * process, populated up front (so copies into it do not fault) and wiped
 * in fork children, which never own its pages. Pages are allocated
 * next-fit from per-chunk bitmaps, so a migration's pages are mostly
 * consecutive and their way home is one UFFDIO_MOVE per run. The device
 * copies with memcpy, reaches its own pages in VRAM and system pages with
 * process_vm_readv/writev (so an address unmapped under it is an error,
 * not a crash), and its page table is the mirror's record itself.
 */
#define pr_fmt(fmt) "dmirror: " fmt

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <hetmem/err.h>
#include <hetmem/log.h>
#include <hetmem/migrate.h>
#include "dmirror.h"

#define BITS_PER_LONG 64
#define EVICT_STEP    512UL /* pfns per dmirror_evict_pfns() */
#define IOV_BATCH     512

struct anon_device;

/* A chunk of device memory: a page map over "VRAM" only the device touches. */
struct dmirror_chunk {
	struct dev_pagemap pagemap;
	struct anon_device *adev;
	char *vram;
	unsigned long first_pfn, npages;
	unsigned long *used; /* allocation bitmap, under adev->lock */
	bool remove; /* being taken down: no more allocations */
};

struct anon_device {
	struct dmirror_device mdevice;

	pthread_mutex_t devmem_lock; /* adding and removing chunks */
	struct dmirror_chunk **chunks;
	unsigned int nchunks, max_chunks;
	unsigned long chunk_pages;

	pthread_mutex_t lock; /* allocation: bitmaps, cursor */
	unsigned int cur_chunk;
	unsigned long cur_page;
};

static const struct dmirror_backend_ops anon_ops;

static struct anon_device *to_anon(struct dmirror_device *mdevice)
{
	return container_of(mdevice, struct anon_device, mdevice);
}

static struct dmirror_chunk *page_chunk(struct page *page)
{
	return container_of(page->pgmap, struct dmirror_chunk, pagemap);
}

static void *anon_page_backing(struct page *page)
{
	struct dmirror_chunk *chunk = page_chunk(page);

	return chunk->vram + ((page_to_pfn(page) - chunk->first_pfn) << PAGE_SHIFT);
}

static void anon_page_free(struct page *page)
{
	struct dmirror_chunk *chunk = page_chunk(page);
	struct anon_device *adev = chunk->adev;
	unsigned long i = page_to_pfn(page) - chunk->first_pfn;

	page->zone_device_data = NULL;
	pthread_mutex_lock(&adev->lock);
	chunk->used[i / BITS_PER_LONG] &= ~(1UL << (i % BITS_PER_LONG));
	pthread_mutex_unlock(&adev->lock);
	dmirror_count_free(&adev->mdevice, 1);
}

static unsigned int anon_migrate_to_ram(struct vm_fault *vmf)
{
	return dmirror_migrate_to_ram(&page_chunk(vmf->page)->adev->mdevice, vmf);
}

static const struct dev_pagemap_ops anon_pagemap_ops = {
	.page_free = anon_page_free,
	.migrate_to_ram = anon_migrate_to_ram,
};

/* Called with devmem_lock held. */
static int anon_add_chunk(struct anon_device *adev)
{
	unsigned long bytes = adev->chunk_pages << PAGE_SHIFT;
	struct dmirror_chunk *chunk;
	uint64_t start;
	void *ret;

	if (adev->nchunks == adev->max_chunks)
		return -ENOMEM;
	start = request_free_mem_region(bytes);
	chunk = calloc(1, sizeof(*chunk));
	if (!start || !chunk)
		goto fail;
	chunk->used = calloc(adev->chunk_pages / BITS_PER_LONG + 1, sizeof(unsigned long));
	chunk->vram = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (!chunk->used || chunk->vram == MAP_FAILED)
		goto fail;
	madvise(chunk->vram, bytes, MADV_WIPEONFORK);
	chunk->adev = adev;
	chunk->first_pfn = start >> PAGE_SHIFT;
	chunk->npages = adev->chunk_pages;
	chunk->pagemap.type = MEMORY_DEVICE_PRIVATE;
	chunk->pagemap.range.start = start;
	chunk->pagemap.range.end = start + bytes - 1;
	chunk->pagemap.nr_range = 1;
	chunk->pagemap.ops = &anon_pagemap_ops;
	chunk->pagemap.owner = adev->mdevice.owner;
	ret = memremap_pages(&chunk->pagemap, 0);
	if (IS_ERR(ret)) {
		munmap(chunk->vram, bytes);
		free(chunk->used);
		free(chunk);
		return (int)PTR_ERR(ret);
	}
	pthread_mutex_lock(&adev->lock);
	adev->chunks[adev->nchunks++] = chunk;
	pthread_mutex_unlock(&adev->lock);
	pr_info("device %p: chunk %u, %lu MiB, pfns [%#lx-%#lx)", (void *)adev, adev->nchunks,
		bytes >> 20, chunk->first_pfn, chunk->first_pfn + chunk->npages);
	return 0;
fail:
	if (chunk && chunk->vram && chunk->vram != MAP_FAILED)
		munmap(chunk->vram, bytes);
	if (chunk)
		free(chunk->used);
	free(chunk);
	return -ENOMEM;
}

/* Next-fit over the chunks' bitmaps; called with adev->lock held. */
static unsigned long alloc_locked(struct anon_device *adev, unsigned long n,
				  struct page **pages)
{
	unsigned long got = 0;

	for (unsigned int tried = 0; got < n && tried <= adev->nchunks; tried++) {
		struct dmirror_chunk *chunk;
		unsigned long i;

		if (adev->cur_chunk >= adev->nchunks) {
			adev->cur_chunk = 0;
			adev->cur_page = 0;
		}
		if (!adev->nchunks)
			break;
		chunk = adev->chunks[adev->cur_chunk];
		for (i = adev->cur_page; !chunk->remove && got < n && i < chunk->npages; i++) {
			unsigned long *w = &chunk->used[i / BITS_PER_LONG],
				      bit = 1UL << (i % BITS_PER_LONG);

			if (*w == ~0UL && !(i % BITS_PER_LONG)) {
				i += BITS_PER_LONG - 1;
				continue;
			}
			if (*w & bit)
				continue;
			*w |= bit;
			pages[got++] = pfn_to_page(chunk->first_pfn + i);
		}
		if (got < n) {
			adev->cur_chunk++;
			adev->cur_page = 0;
		} else {
			adev->cur_page = i;
		}
	}
	return got;
}

static unsigned long anon_alloc_pages(struct dmirror_device *dev, unsigned long n,
				      struct page **pages)
{
	struct anon_device *adev = to_anon(dev);
	unsigned long got;

	pthread_mutex_lock(&adev->lock);
	got = alloc_locked(adev, n, pages);
	pthread_mutex_unlock(&adev->lock);
	while (got < n) {
		unsigned long more;

		pthread_mutex_lock(&adev->devmem_lock);
		if (anon_add_chunk(adev)) {
			pthread_mutex_unlock(&adev->devmem_lock);
			break;
		}
		pthread_mutex_unlock(&adev->devmem_lock);
		pthread_mutex_lock(&adev->lock);
		more = alloc_locked(adev, n - got, pages + got);
		pthread_mutex_unlock(&adev->lock);
		if (!more)
			break;
		got += more;
	}
	for (unsigned long i = 0; i < got; i++) {
		if (zone_device_page_init(pages[i]))
			pr_err("device page %#llx was not free", (unsigned long long)pages[i]->pfn);
	}
	dmirror_count_alloc(dev, got);
	return got;
}

static int anon_copy_to_dev(struct dmirror_device *mdevice, struct page **dst,
			    const unsigned long *src, unsigned long n)
{
	for (unsigned long i = 0; i < n; i++) {
		void *to = anon_page_backing(dst[i]);

		if (src[i])
			copy_user_page(to, (void *)src[i]);
		else
			memset(to, 0, PAGE_SIZE);
	}
	return 0;
}

static int anon_copy_to_sys(struct dmirror_device *mdevice, const unsigned long *dst,
			    struct page **src, unsigned long n)
{
	for (unsigned long i = 0; i < n; i++)
		memcpy((void *)dst[i], anon_page_backing(src[i]), PAGE_SIZE);
	return 0;
}

/* --- the device's accesses through a mirror --------------------------------------- */

/* System pages to copy once the mutex is dropped. */
struct sys_copy {
	struct iovec local[IOV_BATCH], remote[IOV_BATCH];
	int n;
	bool write;
	int err;
};

static void sys_copy_flush(struct sys_copy *c)
{
	ssize_t want = 0, got;

	for (int i = 0; i < c->n; i++)
		want += (ssize_t)c->local[i].iov_len;
	if (!c->n)
		return;
	if (c->write)
		got = process_vm_writev(getpid(), c->local, (unsigned long)c->n, c->remote,
					(unsigned long)c->n, 0);
	else
		got = process_vm_readv(getpid(), c->local, (unsigned long)c->n, c->remote,
				       (unsigned long)c->n, 0);
	if (got != want && !c->err)
		c->err = -EFAULT;
	c->n = 0;
}

static void sys_copy_add(struct sys_copy *c, void *local, unsigned long remote)
{
	if (c->n && (char *)c->local[c->n - 1].iov_base + c->local[c->n - 1].iov_len == local &&
	    (unsigned long)c->remote[c->n - 1].iov_base + c->remote[c->n - 1].iov_len == remote) {
		c->local[c->n - 1].iov_len += PAGE_SIZE;
		c->remote[c->n - 1].iov_len += PAGE_SIZE;
		return;
	}
	if (c->n == IOV_BATCH)
		sys_copy_flush(c);
	c->local[c->n] = (struct iovec){ local, PAGE_SIZE };
	c->remote[c->n] = (struct iovec){ (void *)remote, PAGE_SIZE };
	c->n++;
}

/*
 * Copy between the buffer and [start, end) through the table, from *done
 * on. -ENOENT at the first page without a (writable) entry.
 */
static int anon_do_copy(struct dmirror *d, unsigned long base, unsigned long end, char *buf,
			uint64_t *done, bool write)
{
	struct sys_copy *c = calloc(1, sizeof(*c));
	uint64_t first = *done, changed;
	unsigned long va;
	int ret = 0;

	if (!c)
		return -ENOMEM;
	c->write = write;
	pthread_mutex_lock(&d->mutex);
	changed = d->changed.n; /* for writes (see below) */
	for (va = base + (*done << PAGE_SHIFT); va < end; va += PAGE_SIZE) {
		unsigned long e = dmirror_pt_get(d, va), pfn = e >> DPT_SHIFT;
		char *local = buf + (va - base);
		struct page *page;

		if (!(e & DPT_VALID) || (write && !(e & DPT_WRITE))) {
			ret = -ENOENT;
			break;
		}
		page = pfn_to_page(pfn);
		if (page && is_device_private_page(page)) {
			if (write)
				memcpy(anon_page_backing(page), local, PAGE_SIZE);
			else
				memcpy(local, anon_page_backing(page), PAGE_SIZE);
		} else {
			sys_copy_add(c, local, pfn << PAGE_SHIFT);
		}
		(*done)++;
	}
	pthread_mutex_unlock(&d->mutex);
	sys_copy_flush(c);
	if (c->err)
		ret = c->err;
	free(c);
	/*
	 * System pages are written by address after the lock is dropped
	 * (the write may fault, and the fault handler may need the lock).
	 * A migration that invalidated meanwhile may have copied a page to a
	 * device before the write landed and zapped it after: the write would
	 * be lost. Such a write is done again; the page is then found where
	 * it went. The notifier spans the whole address space, so only an
	 * invalidation of these addresses counts; the entries cannot tell, as
	 * another access may have faulted the page back in meanwhile.
	 */
	if (write && ret != -EFAULT && *done > first) {
		bool again;

		dmirror_hook(DMIRROR_HOOK_WRITTEN, base + (first << PAGE_SHIFT),
			     base + (*done << PAGE_SHIFT));
		pthread_mutex_lock(&d->mutex);
		again = dmirror_log_hit(&d->changed, changed, base + (first << PAGE_SHIFT),
					base + (*done << PAGE_SHIFT));
		pthread_mutex_unlock(&d->mutex);
		if (again) {
			*done = first;
			return -EAGAIN;
		}
	}
	return ret;
}

/* Writes done again because an invalidation overtook them, before -EBUSY. */
#define RW_RETRIES 64

/* Copy what the table maps; fault in the rest when asked and go on, as the kernel driver. */
static int anon_access(struct dmirror *d, unsigned long start, unsigned long end, char *buf,
		       bool write, bool fault, uint64_t *done, uint64_t *faults)
{
	for (unsigned int again = 0;;) {
		int ret = anon_do_copy(d, start, end, buf, done, write);

		if (ret == -EAGAIN) {
			/* As hmm_range_fault() giving up on a range that keeps changing. */
			if (++again == RW_RETRIES)
				return -EBUSY;
			continue;
		}
		if (ret != -ENOENT || !fault)
			return ret;
		ret = dmirror_fault(d, start + (*done << PAGE_SHIFT), end, write);
		if (ret)
			return ret;
		(*faults)++;
	}
}

/* Brings every mapped page of a chunk home; true when none is left. */
static bool evict_chunk_once(struct anon_device *adev, struct dmirror_chunk *chunk)
{
	bool left = false;

	for (unsigned long i = 0; i < chunk->npages; i += EVICT_STEP) {
		unsigned long n = chunk->npages - i < EVICT_STEP ? chunk->npages - i : EVICT_STEP;
		bool busy;

		if (dmirror_evict_pfns(&adev->mdevice, chunk->first_pfn + i, n, &busy) < 0 || busy)
			left = true;
	}
	return !left;
}

static void anon_release(struct dmirror_device *dev, bool remove)
{
	struct anon_device *adev = to_anon(dev);

	pthread_mutex_lock(&adev->devmem_lock);
	for (unsigned int c = 0; c < adev->nchunks; c++) {
		struct dmirror_chunk *chunk = adev->chunks[c];

		if (remove) {
			pthread_mutex_lock(&adev->lock);
			chunk->remove = true;
			pthread_mutex_unlock(&adev->lock);
		}
		for (int pass = 0; !evict_chunk_once(adev, chunk); pass++) {
			if (pass == 1000) {
				pr_err("pages of chunk %u stay busy", c);
				break;
			}
			nanosleep(&(struct timespec){ .tv_nsec = 100000 }, NULL);
		}
		if (!remove)
			continue;
		/* Waits for the last page reference (migrations in flight). */
		memunmap_pages(&chunk->pagemap);
		munmap(chunk->vram, chunk->npages << PAGE_SHIFT);
		free(chunk->used);
		free(chunk);
	}
	if (remove) {
		pthread_mutex_lock(&adev->lock);
		adev->nchunks = 0;
		adev->cur_chunk = 0;
		adev->cur_page = 0;
		pthread_mutex_unlock(&adev->lock);
	}
	pthread_mutex_unlock(&adev->devmem_lock);
}

static void anon_destroy(struct dmirror_device *dev)
{
	struct anon_device *adev = to_anon(dev);

	anon_release(dev, true);
	dmirror_device_fini(dev);
	pthread_mutex_destroy(&adev->devmem_lock);
	pthread_mutex_destroy(&adev->lock);
	free(adev->chunks);
	free(adev);
}

static const struct dmirror_backend_ops anon_ops = {
	.alloc_pages = anon_alloc_pages,
	.copy_to_dev = anon_copy_to_dev,
	.copy_to_sys = anon_copy_to_sys,
	.page_cpu_addr = anon_page_backing,
	.access = anon_access,
	.release = anon_release,
	.destroy = anon_destroy,
};

struct dmirror_device *dmirror_device_create(unsigned int max_chunks, unsigned int chunk_mb)
{
	struct anon_device *adev = calloc(1, sizeof(*adev));
	int ret;

	if (!adev)
		return ERR_PTR(-ENOMEM);
	/* The device is its own owner cookie, as the kernel test driver's. */
	dmirror_device_init(&adev->mdevice, &anon_ops, &adev->mdevice);
	adev->max_chunks = max_chunks ? max_chunks : 16;
	adev->chunk_pages = ((unsigned long)(chunk_mb ? chunk_mb : 32) << 20) >> PAGE_SHIFT;
	adev->chunks = calloc(adev->max_chunks, sizeof(*adev->chunks));
	pthread_mutex_init(&adev->devmem_lock, NULL);
	pthread_mutex_init(&adev->lock, NULL);
	if (!adev->chunks) {
		ret = -ENOMEM;
		goto fail;
	}
	pthread_mutex_lock(&adev->devmem_lock);
	ret = anon_add_chunk(adev);
	pthread_mutex_unlock(&adev->devmem_lock);
	if (ret)
		goto fail;
	return &adev->mdevice;
fail:
	dmirror_device_fini(&adev->mdevice);
	pthread_mutex_destroy(&adev->devmem_lock);
	pthread_mutex_destroy(&adev->lock);
	free(adev->chunks);
	free(adev);
	return ERR_PTR(ret);
}
