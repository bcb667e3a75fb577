// SPDX-License-Identifier: MIT
/*
 * Description: p2pmem users of a provider that goes away. gpu0's BAR2 is
 * p2pmem, switch-local to nvme0 (tests/nvme-host/nvme-fixture.h).
 *
 * An allocation holds the provider: pci_p2pdma_release() waits until it
 * is freed, and meanwhile the holder's NVMe reads into it keep working
 * while everyone asking the provider for more gets an error (no memory,
 * -ENODEV, not found). Once the provider is gone every call naming it
 * answers with an error, including a late free of the old address.
 *
 * A p2pmem/allocate mapping does not hold the provider: the release
 * revokes it, as the kernel does on device removal. Its pages leave the
 * special-page lookup, its address range stays reserved: a CPU access is a
 * SIGBUS (checked in child processes), a DMA mapping of any part of it is
 * -EFAULT (an NVMe read or write with it fails, logged, and the controller
 * goes on serving), and an IOVA mapped to it before the release is blocked
 * at the copy like any stale IOVA (counted and reported as an IOMMU fault,
 * the command fails with Data Transfer Error, the controller's thread
 * lives), also while copies race the release. Its user's munmap of it
 * works, in parts, and frees the address.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <hetmem/dma-mapping.h>
#include <hetmem/iommu.h>
#include <hetmem/memremap.h>
#include "drivers/nvme/emu/inject.h"
#include "../nvme-host/nvme-fixture.h"

#define LEN (64 << 10)
#define STALE_IOVA (1ULL << 44) /* clear of the DMA layer's aperture and of every window */

static unsigned int refused_msgs, blocked_msgs;

static void count_msgs(int level, int guest, const char *msg, void *arg)
{
	if (strstr(msg, "revoked when its provider went away"))
		__atomic_add_fetch(&refused_msgs, 1, __ATOMIC_RELAXED);
	else if (strstr(msg, "blocked by the IOMMU"))
		__atomic_add_fetch(&blocked_msgs, 1, __ATOMIC_RELAXED);
	else if (level == HETMEM_LOG_ERR)
		fprintf(stderr, "%s\n", msg);
}

static int setup(void **state)
{
	struct nfix *x = calloc(1, sizeof(*x));

	if (!x || nfix_build(x, &(struct nfix_opts){ 0 }))
		return -1;
	hetmem_log_set_level(HETMEM_LOG_ERR);
	*state = x;
	return 0;
}

/* Warnings counted: the refusals and blocks are logged at that level. */
static int setup_counted(void **state)
{
	if (setup(state))
		return -1;
	hetmem_log_set_level(HETMEM_LOG_WARN);
	hetmem_log_set_handler(count_msgs, NULL);
	__atomic_store_n(&refused_msgs, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&blocked_msgs, 0, __ATOMIC_RELAXED);
	return 0;
}

static int teardown_counted(void **state)
{
	hetmem_log_set_handler(NULL, NULL);
	return nfix_teardown(state);
}

struct releaser {
	struct pci_dev *provider;
	int started, done;
};

static void *release_thread(void *arg)
{
	struct releaser *r = arg;

	__atomic_store_n(&r->started, 1, __ATOMIC_RELEASE);
	pci_p2pdma_release(r->provider);
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Every question to a provider that is going away, or gone, is answered with an error. */
static void check_refuses(struct nfix *x)
{
	void *m;

	assert_false(pci_has_p2pmem(x->gpu0));
	assert_null(pci_alloc_p2pmem(x->gpu0, 4096));
	m = pci_p2pmem_mmap(x->gpu0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	assert_true(IS_ERR(m));
	assert_int_equal(PTR_ERR(m), -ENODEV);
	/* The client is offered another provider, never this one. */
	assert_ptr_not_equal(pci_p2pmem_find(x->nvme[0]), x->gpu0);
}

/* An allocation keeps its provider alive, usable for DMA, while the release waits for it. */
static void test_allocation_holds_provider(void **state)
{
	struct nfix *x = *state;
	struct nvme_ns *ns = nvme_ctrl_ns(x->ctrl[0], 1);
	struct releaser r = { .provider = x->gpu0 };
	uint8_t *want = nfix_alloc(LEN), *p = pci_alloc_p2pmem(x->gpu0, LEN);
	pci_bus_addr_t bus = pci_p2pmem_virt_to_bus(x->gpu0, p);
	char attr[32];
	pthread_t t;

	assert_non_null(p);
	assert_true(bus != 0);
	nfix_fill(want, LEN, 41);
	assert_int_equal(nvme_write(ns, x->qp[0], want, 0, LEN / 512), 0);

	assert_int_equal(pthread_create(&t, NULL, release_thread, &r), 0);
	while (!__atomic_load_n(&r.started, __ATOMIC_ACQUIRE))
		usleep(100);
	/* The release unpublishes first, then waits for the allocation. */
	for (int i = 0; i < 5000 && pci_has_p2pmem(x->gpu0); i++)
		usleep(1000);
	check_refuses(x);
	/* The holder's memory still works, by bus address (switch-local). */
	memset(p, 0, LEN);
	assert_int_equal(nvme_read(ns, x->qp[0], p, 0, LEN / 512), 0);
	assert_memory_equal(p, want, LEN);
	assert_int_equal(pci_p2pmem_virt_to_bus(x->gpu0, p), bus);
	assert_int_equal(__atomic_load_n(&r.done, __ATOMIC_ACQUIRE), 0);

	pci_free_p2pmem(x->gpu0, p, LEN);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(__atomic_load_n(&r.done, __ATOMIC_ACQUIRE), 1);

	/* Gone: errors, never a crash, a late free of the old address included. */
	check_refuses(x);
	assert_int_equal(pci_p2pmem_virt_to_bus(x->gpu0, p), 0);
	assert_null(virt_to_page(p));
	assert_int_equal(pci_p2pmem_attr_show(x->gpu0, "available", attr, sizeof(attr)), -ENODEV);
	assert_int_equal(pci_p2pmem_munmap(x->gpu0, p, 4096), -EINVAL);
	pci_free_p2pmem(x->gpu0, p, LEN);
	assert_int_equal(pci_p2pdma_try_release(x->gpu0), 0);
	/* The client still works with the other provider and with system memory. */
	nfix_round_trip(x, 1, 0, 0, 8, 42);
	free(want);
}

/* A child touching @p (writing when @write) dies of SIGBUS, as on a revoked VMA. */
static void check_touch_faults(volatile char *p, bool write)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		if (write)
			p[0] = 1;
		else
			(void)p[0];
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGBUS);
}

/* A mapping revoked by the release, and its contents before. */
static char *map_and_revoke(struct nfix *x, uint8_t *want)
{
	struct nvme_ns *ns = nvme_ctrl_ns(x->ctrl[0], 1);
	char *va = pci_p2pmem_mmap(x->gpu0, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, 0);

	assert_false(IS_ERR_OR_NULL(va));
	nfix_fill(want, LEN, 44);
	assert_int_equal(nvme_write(ns, x->qp[0], want, 0, LEN / 512), 0);
	assert_int_equal(nvme_read(ns, x->qp[0], va, 0, LEN / 512), 0);
	assert_memory_equal(va, want, LEN);
	assert_true(is_pci_p2pdma_page(virt_to_page(va)));

	/* A release does not wait for mappings: it revokes them. */
	pci_p2pdma_release(x->gpu0);
	assert_null(virt_to_page(va));
	assert_null(virt_to_page(va + LEN - 1));
	check_refuses(x);
	return va;
}

/* munmap of a revoked mapping: every bad request is refused and changes nothing. */
static void test_revoked_munmap_refusals(void **state)
{
	struct nfix *x = *state;
	uint8_t *want = nfix_alloc(LEN);
	char *va = map_and_revoke(x, want);

	assert_int_equal(pci_p2pmem_munmap(x->gpu0, va + 1, 4096), -EINVAL);
	assert_int_equal(pci_p2pmem_munmap(x->gpu0, va, 0), -EINVAL);
	assert_int_equal(pci_p2pmem_munmap(x->gpu0, va + LEN, 4096), -EINVAL);
	assert_int_equal(pci_p2pmem_munmap(x->gpu0, (void *)-4096L, 8192), -EINVAL);
	/* Another provider's call reaches nothing of gpu0's. */
	assert_int_equal(pci_p2pmem_munmap(x->gpu1, va, LEN), -EINVAL);
	/* Still reserved, still faulting, still refused for DMA. */
	check_touch_faults(va, true);
	check_touch_faults(va + LEN - 1, false);
	assert_true(dma_mapping_error(x->nvme[0], dma_map_single(x->nvme[0], va, LEN,
								   DMA_FROM_DEVICE)) == -EFAULT);
	assert_int_equal(pci_p2pmem_munmap(x->gpu0, va, LEN), 0);
	free(want);
}

/* DMA to a revoked mapping fails with -EFAULT, logged; the controller goes on. */
static void test_revoked_dma_refused(void **state)
{
	struct nfix *x = *state;
	struct nvme_ns *ns = nvme_ctrl_ns(x->ctrl[0], 1);
	uint8_t *want = nfix_alloc(LEN), *media = nfix_alloc(LEN);
	struct scatterlist sg[2];
	struct nvme_ctrl_stats st;
	char *va = map_and_revoke(x, want);

	/* Any part of it, through every mapping call. */
	assert_int_equal(nvme_read(ns, x->qp[0], va, 0, LEN / 512), -EFAULT);
	assert_int_equal(nvme_read(ns, x->qp[0], va + LEN - 4096, 0, 8), -EFAULT);
	assert_int_equal(nvme_write(ns, x->qp[0], va, 0, LEN / 512), -EFAULT);
	assert_true(dma_mapping_error(x->nvme[0], dma_map_single(x->nvme[0], va + 512, 512,
								   DMA_TO_DEVICE)) == -EFAULT);
	sg_init_table(sg, 2);
	sg_set_buf(&sg[0], media, 4096);
	sg_set_buf(&sg[1], va + 4096, 4096);
	assert_int_equal(dma_map_sg(x->nvme[0], sg, 2, DMA_FROM_DEVICE), -EFAULT);
	assert_int_equal(sg[0].dma_length, 0); /* all or nothing */
	assert_true(__atomic_load_n(&refused_msgs, __ATOMIC_RELAXED) >= 5);

	/* Nothing reached the media, and the controller serves the next I/O. */
	assert_int_equal(nvme_read(ns, x->qp[0], media, 0, LEN / 512), 0);
	assert_memory_equal(media, want, LEN);
	nfix_round_trip(x, 1, 0, 256, 8, 45);
	nvme_ctrl_get_stats(x->ctrl[0], &st);
	assert_int_equal(st.resets, 0);
	assert_int_equal(st.timeouts, 0);

	/* A CPU access faults. */
	check_touch_faults(va, true);
	check_touch_faults(va + 4096, false);

	/* Its user unmaps it, in two parts; the address is free and ordinary again. */
	assert_int_equal(pci_p2pmem_munmap(x->gpu0, va + 4096, LEN - 4096), 0);
	assert_true(dma_mapping_error(x->nvme[0], dma_map_single(x->nvme[0], va, 4096,
								   DMA_FROM_DEVICE)) == -EFAULT);
	assert_int_equal(pci_p2pmem_munmap(x->gpu0, va, 4096), 0);
	assert_int_equal(pci_p2pmem_munmap(x->gpu0, va, LEN), -EINVAL);
	assert_ptr_equal(mmap(va, LEN, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0), va);
	assert_int_equal(nvme_read(ns, x->qp[0], va, 0, LEN / 512), 0);
	assert_memory_equal(va, want, LEN);
	assert_int_equal(munmap(va, LEN), 0);
	free(want);
	free(media);
}

/* An IOVA mapped to the range before the release is blocked at the copy, never a crash. */
static void test_stale_iova_blocked(void **state)
{
	struct nfix *x = *state;
	struct nvme_ns *ns = nvme_ctrl_ns(x->ctrl[0], 1);
	struct iommu_domain *dom = iommu_get_domain_for_dev(x->nvme[0]);
	struct nvme_emu_fault f = {
		.type = NVME_EMU_FAULT_STRAY_DMA,
		.sqid = NVME_EMU_FAULT_ANY_IO_SQ,
		.opcode = nvme_cmd_read,
		.count = 1,
		.stray_addr = STALE_IOVA,
	};
	uint8_t *want = nfix_alloc(LEN), *buf = nfix_alloc(4096);
	struct pci_rc_stats rc;
	struct nvme_ctrl_stats st;
	struct iommu_fault last;
	uint64_t faults;
	char *va = pci_p2pmem_mmap(x->gpu0, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, 0);

	assert_false(IS_ERR_OR_NULL(va));
	assert_non_null(dom);
	assert_int_equal(iommu_map(dom, STALE_IOVA, (uintptr_t)va, LEN, IOMMU_READ | IOMMU_WRITE), 0);
	/* Live, the IOVA reaches the mapping's memory. */
	nfix_fill(buf, 4096, 46);
	assert_int_equal(pci_dma_write(x->nvme[0], STALE_IOVA, buf, 4096), 0);
	assert_memory_equal(va, buf, 4096);

	pci_p2pdma_release(x->gpu0);
	faults = iommu_domain_faults(dom, NULL);
	rc = nfix_rc(x->hb);
	assert_int_equal(pci_dma_write(x->nvme[0], STALE_IOVA, buf, 4096), -EFAULT);
	assert_int_equal(pci_dma_read(x->nvme[0], STALE_IOVA + 4096, buf, 4096), -EFAULT);
	assert_int_equal(iommu_domain_faults(dom, &last), faults + 2);
	assert_int_equal(last.iova, STALE_IOVA + 4096);
	assert_int_equal(last.prot, IOMMU_READ);
	assert_int_equal(nfix_rc(x->hb).iommu_faults, rc.iommu_faults + 2);
	assert_true(__atomic_load_n(&blocked_msgs, __ATOMIC_RELAXED) >= 2);

	/* The controller's own thread, sending a Read's data there: the command fails. */
	nfix_fill(want, 4096, 47);
	assert_int_equal(nvme_write(ns, x->qp[0], want, 0, 8), 0);
	assert_int_equal(nvme_emu_inject(x->emu[0], &f), 0);
	assert_int_equal(nvme_read(ns, x->qp[0], buf, 0, 8), NVME_SC_DATA_XFER_ERROR);
	assert_int_equal(nvme_emu_inject_hits(x->emu[0]), 1);
	assert_int_equal(iommu_domain_faults(dom, &last), faults + 3);
	assert_int_equal(last.iova, STALE_IOVA);
	assert_int_equal(last.prot, IOMMU_WRITE);
	/* And serves the next I/O, without a reset. */
	assert_int_equal(nvme_read(ns, x->qp[0], buf, 0, 8), 0);
	assert_memory_equal(buf, want, 4096);
	nfix_round_trip(x, 1, 0, 256, 8, 48);
	nvme_ctrl_get_stats(x->ctrl[0], &st);
	assert_int_equal(st.resets, 0);

	assert_int_equal(iommu_unmap(dom, STALE_IOVA, LEN), LEN);
	assert_int_equal(pci_p2pmem_munmap(x->gpu0, va, LEN), 0);
	free(want);
	free(buf);
}

struct copier {
	struct pci_dev *dev;
	int stop;
	unsigned long ok, refused, other;
	bool ok_after_refused;
};

static void *copy_thread(void *arg)
{
	struct copier *c = arg;
	uint8_t buf[4096];

	memset(buf, 0x5e, sizeof(buf));
	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		int ret = pci_dma_write(c->dev, STALE_IOVA, buf, sizeof(buf));

		if (ret == 0 && c->refused)
			c->ok_after_refused = true;
		if (ret == 0)
			c->ok++;
		else if (ret == -EFAULT)
			c->refused++;
		else
			c->other++;
	}
	return NULL;
}

/* Copies through the stale IOVA racing the release: each lands or is refused, never a crash. */
static void test_release_races_copies(void **state)
{
	struct nfix *x = *state;
	struct iommu_domain *dom = iommu_get_domain_for_dev(x->nvme[0]);
	struct copier c = { .dev = x->nvme[0] };
	char *va = pci_p2pmem_mmap(x->gpu0, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	uint8_t buf[4096];
	pthread_t t;

	assert_false(IS_ERR_OR_NULL(va));
	assert_int_equal(iommu_map(dom, STALE_IOVA, (uintptr_t)va, LEN, IOMMU_READ | IOMMU_WRITE), 0);
	assert_int_equal(pthread_create(&t, NULL, copy_thread, &c), 0);
	pci_p2pdma_release(x->gpu0);
	/* Once the release returns, no copy can land. */
	assert_int_equal(pci_dma_read(x->nvme[0], STALE_IOVA, buf, sizeof(buf)), -EFAULT);
	__atomic_store_n(&c.stop, 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(c.other, 0);
	assert_false(c.ok_after_refused);
	assert_int_equal(pci_dma_write(x->nvme[0], STALE_IOVA, buf, sizeof(buf)), -EFAULT);
	nfix_round_trip(x, 1, 0, 256, 8, 49);
	assert_int_equal(iommu_unmap(dom, STALE_IOVA, LEN), LEN);
	assert_int_equal(pci_p2pmem_munmap(x->gpu0, va, LEN), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_allocation_holds_provider, setup,
						nfix_teardown),
		cmocka_unit_test_setup_teardown(test_revoked_munmap_refusals, setup, nfix_teardown),
		cmocka_unit_test_setup_teardown(test_revoked_dma_refused, setup_counted,
						teardown_counted),
		cmocka_unit_test_setup_teardown(test_stale_iova_blocked, setup_counted,
						teardown_counted),
		cmocka_unit_test_setup_teardown(test_release_races_copies, setup, nfix_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
