// SPDX-License-Identifier: MIT
/*
 * hetmem demo: the HMM test device as the device of the HMM step, in
 * builds without the GPU driver (demo-hmm-gpu.c).
 *
 * dmirror (include/hetmem/hmm-dmirror.h) has device-private memory and
 * mirrors the process the way the kernel's test_hmm driver does, but no
 * compute engine: its "kernel" is a device read of the range into a
 * staging buffer, the computation on that buffer, and a device write of
 * the result back, 2 MiB at a time. The reads and writes go through the
 * device's own page table, so on pages it holds they touch its private
 * memory and nothing moves; a page it does not hold would be
 * device-faulted in (counted).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <hetmem/err.h>
#include <hetmem/hmm-dmirror.h>

#include "demo.h"

#define PAGE	     4096UL
#define KERNEL_BLOCK (2UL << 20)

struct dm {
	struct dmirror_device *dev;
	struct dmirror *mirror;
	uint64_t device_faults;
};

static void *dm_open(struct demo *d)
{
	struct dm *dm = calloc(1, sizeof(*dm));
	void *err;

	(void)d;
	if (!dm)
		return ERR_PTR(-ENOMEM);
	/* 16 chunks of 32 MiB on demand: room for the step's largest buffer. */
	dm->dev = dmirror_device_create(0, 0);
	if (IS_ERR(dm->dev)) {
		err = dm->dev;
		free(dm);
		return err;
	}
	dm->mirror = dmirror_open(dm->dev);
	if (IS_ERR(dm->mirror)) {
		err = dm->mirror;
		dmirror_device_destroy(dm->dev);
		free(dm);
		return err;
	}
	return dm;
}

static void dm_close(void *priv)
{
	struct dm *dm = priv;

	dmirror_close(dm->mirror);
	dmirror_device_destroy(dm->dev);
	free(dm);
}

static int dm_cmd(struct dm *dm, int (*op)(struct dmirror *, struct hmm_dmirror_cmd *), void *buf,
		  size_t len, void *ptr, uint64_t *cpages)
{
	struct hmm_dmirror_cmd cmd = {
		.addr = (uintptr_t)buf,
		.ptr = (uintptr_t)ptr,
		.npages = len / PAGE,
	};
	int ret = op(dm->mirror, &cmd);

	dm->device_faults += cmd.faults;
	if (cpages)
		*cpages = cmd.cpages;
	return ret;
}

static int dm_migrate(void *priv, void *buf, size_t len, uint64_t *pages)
{
	/* No read back (ptr 0): cpages counts the pages this call moved. */
	return dm_cmd(priv, dmirror_migrate_to_dev, buf, len, NULL, pages);
}

/*
 * Block by block, as a GPU kernel's thread blocks would go: one staging
 * block, reused, instead of a second copy of the whole range.
 */
static int dm_kernel(void *priv, void *buf, size_t len, uint64_t *in_sum, uint64_t *out_sum)
{
	uint64_t sum = DEMO_FNV1A_INIT, out = DEMO_FNV1A_INIT;
	void *staging = NULL;
	int ret = 0;

	if (posix_memalign(&staging, PAGE, KERNEL_BLOCK))
		return -ENOMEM;
	for (size_t off = 0; off < len && !ret; off += KERNEL_BLOCK) {
		size_t n = len - off < KERNEL_BLOCK ? len - off : KERNEL_BLOCK;
		char *at = (char *)buf + off;

		ret = dm_cmd(priv, dmirror_read, at, n, staging, NULL);
		if (ret)
			break;
		sum = demo_fnv1a(sum, staging, n);
		demo_kernel_ref(staging, n);
		out = demo_fnv1a(out, staging, n);
		ret = dm_cmd(priv, dmirror_write, at, n, staging, NULL);
	}
	free(staging);
	*in_sum = sum;
	*out_sum = out;
	return ret;
}

static long dm_resident(void *priv, void *buf, size_t len)
{
	unsigned char *prot = malloc(len / PAGE);
	long n = 0;
	int ret;

	if (!prot)
		return -ENOMEM;
	ret = dm_cmd(priv, dmirror_snapshot, buf, len, prot, NULL);
	for (size_t i = 0; !ret && i < len / PAGE; i++)
		n += (prot[i] & 0xf0) == HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL;
	free(prot);
	return ret ? ret : n;
}

static void dm_stats(void *priv, struct demo_hmm_stats *s)
{
	struct dm *dm = priv;
	struct dmirror_counters c;

	dmirror_device_counters(dm->dev, &c);
	s->device_faults = dm->device_faults;
	s->cpu_faults = c.cpu_faults;
	s->prefetched = c.prefetched;
}

const struct demo_hmm_device demo_hmm_dmirror = {
	.name = "dmirror, the HMM test device",
	.note = "no compute engine: the device reads the range, the kernel runs on what it read, "
		"the device writes the result back",
	.open = dm_open,
	.close = dm_close,
	.migrate = dm_migrate,
	.kernel = dm_kernel,
	.resident = dm_resident,
	.stats = dm_stats,
};
