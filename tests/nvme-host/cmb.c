// SPDX-License-Identifier: MIT
/*
 * Description: the controller memory buffer: enabled the NVMe 1.4 way
 * (CMBMSC.CRE, then CBA and CMSE), registered and published as P2PDMA
 * memory because it takes read and write data, I/O submission queues
 * placed in it (the controller's SQE fetches no longer cross the root
 * port), data read into and written from it, and a CMB-to-CMB copy between
 * two controllers that never touches host memory.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "nvme-fixture.h"

#define CMB_SIZE (8ULL << 20)
#define LEN	 (2 << 20)

static int setup_opts(void **state, bool sqs, bool two)
{
	struct nfix_opts o = { .cmb_size = CMB_SIZE,
			       .second_ctrl = two,
			       .ctrl_opts = { .sq_in_cmb = sqs } };
	struct nfix *x = calloc(1, sizeof(*x));

	if (!x || nfix_build(x, &o))
		return -1;
	*state = x;
	return 0;
}

static int setup(void **state)
{
	return setup_opts(state, false, false);
}

static int setup_sqs(void **state)
{
	return setup_opts(state, true, false);
}

static int setup_two(void **state)
{
	return setup_opts(state, false, true);
}

/* Found through CRE, programmed with BAR2's bus address, registered and published. */
static void test_enabled_and_published(void **state)
{
	struct nfix *x = *state;
	struct nvme_cmb_info cmb;
	uint64_t msc;

	nvme_ctrl_cmb(x->ctrl[0], &cmb);
	assert_int_equal(cmb.size, CMB_SIZE);
	assert_int_equal(cmb.bar, 2);
	assert_int_equal(cmb.offset, 0);
	assert_int_equal(cmb.bus_addr, pci_bus_address(x->nvme[0], 2));
	assert_true(cmb.cmbsz & NVME_CMBSZ_RDS);
	assert_true(cmb.cmbsz & NVME_CMBSZ_WDS);
	assert_true(cmb.p2p);
	assert_true(cmb.published);
	assert_false(cmb.sqs);
	msc = pci_mmio_read(x->nvme[0], 0, NVME_REG_CMBMSC, 4) |
	      pci_mmio_read(x->nvme[0], 0, NVME_REG_CMBMSC + 4, 4) << 32;
	assert_int_equal(msc, cmb.bus_addr | NVME_CMBMSC_CRE | NVME_CMBMSC_CMSE);
	assert_int_equal(pci_mmio_read(x->nvme[0], 0, NVME_REG_CMBSTS, 4) & NVME_CMBSTS_CBAI, 0);
	assert_true(pci_has_p2pmem(x->nvme[0]));
	/* The kernel's rule: a client looking for p2pmem finds the controller itself. */
	assert_ptr_equal(pci_p2pmem_find(x->nvme[0]), x->nvme[0]);
}

/* rp0's downstream bytes for @n 4 KiB reads: SQE fetches (unless in the CMB), doorbells. */
static uint64_t down_bytes_for_reads(struct nfix *x, int n)
{
	struct nvme_ns *ns = nvme_ctrl_ns(x->ctrl[0], 1);
	uint8_t *buf = nfix_alloc(4096);

	pci_fabric_reset_stats(x->f);
	for (int i = 0; i < n; i++)
		assert_int_equal(nvme_read(ns, x->qp[0], buf, (uint64_t)i * 8, 8), 0);
	free(buf);
	return nfix_link(x->rp0, PCI_LINK_DOWN);
}

/* SQs in the CMB: I/O works, and the controller fetches commands without crossing the root port. */
static void test_sq_in_cmb(void **state)
{
	struct nfix *x = *state;
	struct nvme_ns *ns = nvme_ctrl_ns(x->ctrl[0], 2);
	uint8_t *pat = nfix_alloc(65536), *buf = nfix_alloc(65536);
	struct nvme_cmb_info cmb;
	uint64_t down;

	nvme_ctrl_cmb(x->ctrl[0], &cmb);
	assert_true(cmb.sqs);
	nfix_fill(pat, 65536, 5);
	assert_int_equal(nvme_write(ns, x->qp[0], pat, 3, 16), 0);
	assert_int_equal(nvme_read(ns, x->qp[0], buf, 3, 16), 0);
	assert_memory_equal(buf, pat, 65536);
	/* 100 reads: doorbells only (8 bytes each) go down, no 64-byte SQE fetches. */
	down = down_bytes_for_reads(x, 100);
	assert_true(down < 100 * 64);
	free(pat);
	free(buf);
}

/* The same with SQs in host memory, for contrast: every command is fetched through rp0. */
static void test_sq_in_host_memory(void **state)
{
	struct nfix *x = *state;

	assert_true(down_bytes_for_reads(x, 100) >= 100 * 64);
}

/* The controller's own CMB as the data buffer of reads and writes. */
static void test_data_in_own_cmb(void **state)
{
	struct nfix *x = *state;
	struct nvme_ns *ns = nvme_ctrl_ns(x->ctrl[0], 1);
	uint8_t *cmb = pci_alloc_p2pmem(x->nvme[0], LEN), *pat = malloc(LEN),
		*host = nfix_alloc(LEN);

	assert_non_null(cmb);
	nfix_fill(pat, LEN, 6);
	memcpy(cmb, pat, LEN);
	pci_fabric_reset_stats(x->f);
	assert_int_equal(nvme_write(ns, x->qp[0], cmb, 0, LEN >> 9), 0);
	/* The data never left the function. */
	assert_true(nfix_link(x->nvme[0], PCI_LINK_UP) < 4096);
	assert_int_equal(nvme_read(ns, x->qp[0], host, 0, LEN >> 9), 0);
	assert_memory_equal(host, pat, LEN);
	memset(cmb, 0, LEN);
	assert_int_equal(nvme_read(ns, x->qp[0], cmb, 0, LEN >> 9), 0);
	assert_memory_equal(cmb, pat, LEN);
	pci_free_p2pmem(x->nvme[0], cmb, LEN);
	free(pat);
	free(host);
}

/*
 * SPDK's cmb_copy: read from controller A's namespace into controller B's
 * CMB, write from there to B's namespace. Switch-local both ways: no data
 * through the root port.
 */
static void test_cmb_to_cmb_copy(void **state)
{
	struct nfix *x = *state;
	struct nvme_ns *a = nvme_ctrl_ns(x->ctrl[0], 1), *b = nvme_ctrl_ns(x->ctrl[1], 1);
	uint8_t *pat = nfix_alloc(LEN), *host = nfix_alloc(LEN);
	uint8_t *bcmb = pci_alloc_p2pmem(x->nvme[1], LEN);

	assert_non_null(bcmb);
	assert_int_equal(pci_p2pdma_map_type_of(x->nvme[1], x->nvme[0], NULL, 0),
			 PCI_P2PDMA_MAP_BUS_ADDR);
	nfix_fill(pat, LEN, 7);
	assert_int_equal(nvme_write(a, x->qp[0], pat, 1000, LEN >> 9), 0);
	pci_fabric_reset_stats(x->f);
	assert_int_equal(nvme_read(a, x->qp[0], bcmb, 1000, LEN >> 9), 0);
	assert_int_equal(nvme_write(b, x->qp[1], bcmb, 2000, LEN >> 9), 0);
	assert_int_equal(nfix_link(x->nvme[1], PCI_LINK_DOWN) >= LEN, 1);
	assert_true(nfix_link(x->rp0, PCI_LINK_UP) < 4096);
	assert_int_equal(nfix_rc(x->hb).p2p_bytes, 0);
	assert_int_equal(nvme_read(b, x->qp[1], host, 2000, LEN >> 9), 0);
	assert_memory_equal(host, pat, LEN);
	pci_free_p2pmem(x->nvme[1], bcmb, LEN);
	free(pat);
	free(host);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_enabled_and_published, setup, nfix_teardown),
		cmocka_unit_test_setup_teardown(test_sq_in_cmb, setup_sqs, nfix_teardown),
		cmocka_unit_test_setup_teardown(test_sq_in_host_memory, setup, nfix_teardown),
		cmocka_unit_test_setup_teardown(test_data_in_own_cmb, setup, nfix_teardown),
		cmocka_unit_test_setup_teardown(test_cmb_to_cmb_copy, setup_two, nfix_teardown),
	};

	nfix_quiet();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
