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
 * A p2pmem/allocate mapping does not hold the provider: the release takes
 * it away, as the kernel does on device removal. Its pages leave the
 * special-page lookup at once, unmapping it afterwards is -EINVAL, and a
 * CPU access faults (the kernel raises SIGBUS; here the range is unmapped
 * and the access is a SIGSEGV), checked in a child process. Handing such a
 * stale pointer to a DMA is not covered: see Documentation/reliability.md.
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

#include <hetmem/memremap.h>
#include "../nvme-host/nvme-fixture.h"

#define LEN (64 << 10)

static int setup(void **state)
{
	struct nfix *x = calloc(1, sizeof(*x));

	if (!x || nfix_build(x, &(struct nfix_opts){ 0 }))
		return -1;
	hetmem_log_set_level(HETMEM_LOG_ERR);
	*state = x;
	return 0;
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

/* A p2pmem/allocate mapping is revoked by the release: lookup, munmap and CPU access all say so. */
static void test_mapping_revoked(void **state)
{
	struct nfix *x = *state;
	struct nvme_ns *ns = nvme_ctrl_ns(x->ctrl[0], 1);
	char *va = pci_p2pmem_mmap(x->gpu0, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	int status;
	pid_t pid;

	assert_false(IS_ERR_OR_NULL(va));
	assert_int_equal(nvme_read(ns, x->qp[0], va, 0, LEN / 512), 0);
	assert_true(is_pci_p2pdma_page(virt_to_page(va)));

	/* A release does not wait for mappings: it takes them away. */
	pci_p2pdma_release(x->gpu0);
	assert_null(virt_to_page(va));
	assert_null(virt_to_page(va + LEN - 1));
	assert_int_equal(pci_p2pmem_munmap(x->gpu0, va, LEN), -EINVAL);
	check_refuses(x);

	/* A CPU access to the revoked range faults; the parent survives to see it. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		((volatile char *)va)[0] = 1;
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_true(WTERMSIG(status) == SIGSEGV || WTERMSIG(status) == SIGBUS);
	nfix_round_trip(x, 1, 0, 0, 8, 43);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_allocation_holds_provider, setup,
						nfix_teardown),
		cmocka_unit_test_setup_teardown(test_mapping_revoked, setup, nfix_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
