// SPDX-License-Identifier: MIT
/*
 * Description: the host driver brings an emulated controller up and down:
 * CAP/CC/CSTS after probe, Identify Controller values kept, namespaces with
 * their block sizes, I/O queue pairs up to what Set Features granted, admin
 * passthrough with its status convention, a controller firmware left
 * enabled with an admin queue of its own, a controller reset, and a clean
 * shutdown (CSTS.SHST complete).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <unistd.h>

#include <hetmem/dma-mapping.h>
#include "nvme-fixture.h"

static uint32_t reg(struct nfix *x, int i, uint32_t off)
{
	return (uint32_t)pci_mmio_read(x->nvme[i], 0, off, 4);
}

static int setup(void **state)
{
	struct nfix_opts o = { .cmb_size = 4 << 20 };
	struct nfix *x = calloc(1, sizeof(*x));

	nfix_quiet();
	if (!x || nfix_build(x, &o))
		return -1;
	*state = x;
	return 0;
}

/* After probe the controller is enabled with the configuration the driver chose. */
static void test_enabled_as_configured(void **state)
{
	struct nfix *x = *state;
	uint32_t cc = reg(x, 0, NVME_REG_CC), csts = reg(x, 0, NVME_REG_CSTS);
	uint64_t cap = nvme_ctrl_cap(x->ctrl[0]);

	assert_true(cc & NVME_CC_ENABLE);
	assert_int_equal((cc & NVME_CC_IOSQES_MASK) >> NVME_CC_IOSQES_SHIFT, 6);
	assert_int_equal((cc & NVME_CC_IOCQES_MASK) >> NVME_CC_IOCQES_SHIFT, 4);
	assert_int_equal(cc & NVME_CC_MPS_MASK, 0);
	assert_int_equal(cc & NVME_CC_CSS_MASK, NVME_CC_CSS_NVM);
	assert_true(csts & NVME_CSTS_RDY);
	assert_false(csts & NVME_CSTS_CFS);
	assert_true(NVME_CAP_CSS(cap) & NVME_CAP_CSS_NVM);
	/* Bus mastering was turned on by the transport. */
	{
		uint16_t cmd;

		pci_read_config_word(x->nvme[0], PCI_COMMAND, &cmd);
		assert_true(cmd & PCI_COMMAND_MASTER);
	}
}

/* Identify Controller: serial, model, MDTS and the optional features kept as read. */
static void test_identify_values(void **state)
{
	struct nfix *x = *state;
	const struct nvme_id_ctrl *id = nvme_ctrl_identify(x->ctrl[0]);

	assert_memory_equal(id->sn, "HM0000", 6);
	assert_memory_equal(id->mn, "hetmem test NVMe", 16);
	assert_int_equal(id->sn[6], ' '); /* space padded, as the spec says */
	assert_int_not_equal(id->mdts, 0);
	assert_true(nvme_ctrl_max_transfer(x->ctrl[0]) <= (4096ULL << id->mdts));
	assert_true(le16toh(id->oncs) & NVME_CTRL_ONCS_DSM);
	assert_true(le16toh(id->oncs) & NVME_CTRL_ONCS_WRITE_ZEROES);
	assert_int_equal(le32toh(id->nn) >= 2, 1);
	assert_int_equal(id->sqes, 0x66);
	assert_int_equal(id->cqes, 0x44);
}

/* Both namespaces, with their block sizes and sizes from Identify Namespace. */
static void test_namespaces(void **state)
{
	struct nfix *x = *state;
	struct nvme_ns *ns1 = nvme_ctrl_ns(x->ctrl[0], 1), *ns2 = nvme_ctrl_ns(x->ctrl[0], 2);

	assert_int_equal(nvme_ctrl_nr_ns(x->ctrl[0]), 2);
	assert_non_null(ns1);
	assert_non_null(ns2);
	assert_null(nvme_ctrl_ns(x->ctrl[0], 3));
	assert_ptr_equal(nvme_ctrl_ns_at(x->ctrl[0], 0), ns1);
	assert_null(nvme_ctrl_ns_at(x->ctrl[0], 2));
	assert_int_equal(ns1->lba_shift, 9);
	assert_int_equal(ns1->nr_blocks, NFIX_NS_SIZE >> 9);
	assert_int_equal(ns1->size, NFIX_NS_SIZE);
	assert_int_equal(ns2->lba_shift, 12);
	assert_int_equal(ns2->size, NFIX_NS_SIZE / 2);
	assert_int_equal(ns1->ms, 0);
	assert_ptr_equal(ns1->ctrl, x->ctrl[0]);
}

/* Queue pairs up to the number granted, then -EBUSY; freed qids are reused. */
static void test_qpairs_up_to_granted(void **state)
{
	struct nfix *x = *state;
	unsigned int n = nvme_ctrl_nr_io_queues(x->ctrl[0]);
	struct nvme_qpair *qp[64] = { 0 };

	assert_true(n >= 2 && n < 64);
	/* The fixture holds one already. */
	for (unsigned int i = 0; i < n - 1; i++) {
		qp[i] = nvme_qpair_alloc(x->ctrl[0]);
		assert_false(IS_ERR(qp[i]));
		assert_int_not_equal(nvme_qpair_id(qp[i]), nvme_qpair_id(x->qp[0]));
	}
	assert_int_equal(PTR_ERR(nvme_qpair_alloc(x->ctrl[0])), -EBUSY);
	nvme_qpair_free(qp[0]);
	qp[0] = nvme_qpair_alloc(x->ctrl[0]);
	assert_false(IS_ERR(qp[0]));
	for (unsigned int i = 0; i < n - 1; i++)
		nvme_qpair_free(qp[i]);
}

/* Admin passthrough: 0 with data, a positive status for what the controller refuses. */
static void test_admin_passthrough(void **state)
{
	struct nfix *x = *state;
	struct nvme_command cmd = { .opcode = nvme_admin_identify };
	struct nvme_id_ns *id = nfix_alloc(4096);
	uint32_t result = 0xdead;

	cmd.nsid = 2;
	cmd.cdw10 = NVME_ID_CNS_NS;
	assert_int_equal(nvme_admin_cmd(x->ctrl[0], &cmd, id, 4096, DMA_FROM_DEVICE, &result), 0);
	assert_int_equal(le64toh(id->nsze), (NFIX_NS_SIZE / 2) >> 12);
	/* An opcode nobody implements: Invalid Command Opcode with DNR, as the ioctl reports it. */
	memset(&cmd, 0, sizeof(cmd));
	cmd.opcode = 0x7e;
	assert_int_equal(nvme_admin_cmd(x->ctrl[0], &cmd, NULL, 0, DMA_NONE, NULL),
			 NVME_SC_INVALID_OPCODE | NVME_SC_DNR);
	/* Get Features Number of Queues answers with what Set Features granted (0-based). */
	memset(&cmd, 0, sizeof(cmd));
	cmd.opcode = nvme_admin_get_features;
	cmd.cdw10 = NVME_FEAT_NUM_QUEUES;
	assert_int_equal(nvme_admin_cmd(x->ctrl[0], &cmd, NULL, 0, DMA_NONE, &result), 0);
	assert_int_equal((result & 0xffff) + 1, nvme_ctrl_nr_io_queues(x->ctrl[0]));
	/* Too much data for one command, or data without a direction. */
	assert_int_equal(nvme_admin_cmd(x->ctrl[0], &cmd, id, 64 << 20, DMA_FROM_DEVICE, NULL),
			 -EINVAL);
	assert_int_equal(nvme_admin_cmd(x->ctrl[0], &cmd, id, 4096, DMA_NONE, NULL), -EINVAL);
	free(id);
}

/* I/O passthrough: a Read by hand, and an LBA past the end answered with LBA Out of Range. */
static void test_io_passthrough(void **state)
{
	struct nfix *x = *state;
	struct nvme_ns *ns = nvme_ctrl_ns(x->ctrl[0], 1);
	struct nvme_command cmd = { .opcode = nvme_cmd_read };
	uint8_t *buf = nfix_alloc(4096), *pat = malloc(4096);

	nfix_fill(pat, 4096, 7);
	assert_int_equal(nvme_write(ns, x->qp[0], pat, 16, 8), 0);
	cmd.nsid = 1;
	cmd.cdw10 = 16;
	cmd.cdw12 = 7; /* 8 blocks, 0-based */
	assert_int_equal(nvme_io_cmd(x->qp[0], &cmd, buf, 4096, DMA_FROM_DEVICE, NULL), 0);
	assert_memory_equal(buf, pat, 4096);
	cmd.cdw10 = (uint32_t)ns->nr_blocks;
	cmd.cdw12 = 0;
	assert_int_equal(nvme_io_cmd(x->qp[0], &cmd, buf, 512, DMA_FROM_DEVICE, NULL) & 0x7ff,
			 NVME_SC_LBA_RANGE);
	free(buf);
	free(pat);
}

/* A reset on request: the queue pair keeps working afterwards, with the data intact. */
static void test_reset_and_resume(void **state)
{
	struct nfix *x = *state;
	struct nvme_ns *ns = nvme_ctrl_ns(x->ctrl[0], 2);
	uint8_t *pat = nfix_alloc(8192), *buf = nfix_alloc(8192);
	struct nvme_ctrl_stats st;

	nfix_fill(pat, 8192, 99);
	assert_int_equal(nvme_write(ns, x->qp[0], pat, 100, 2), 0);
	assert_int_equal(nvme_ctrl_reset(x->ctrl[0]), 0);
	nvme_ctrl_get_stats(x->ctrl[0], &st);
	assert_int_equal(st.resets, 1);
	assert_int_equal(st.reset_failed, 0);
	assert_true(reg(x, 0, NVME_REG_CSTS) & NVME_CSTS_RDY);
	assert_int_equal(nvme_read(ns, x->qp[0], buf, 100, 2), 0);
	assert_memory_equal(buf, pat, 8192);
	free(pat);
	free(buf);
}

/* Removal shuts down cleanly: CC.SHN normal, CSTS.SHST complete. */
static void test_clean_shutdown(void **state)
{
	struct nfix *x = *state;

	nvme_qpair_free(x->qp[0]);
	x->qp[0] = NULL;
	nvme_ctrl_remove(x->ctrl[0]);
	x->ctrl[0] = NULL;
	assert_int_equal(reg(x, 0, NVME_REG_CC) & NVME_CC_SHN_MASK, NVME_CC_SHN_NORMAL);
	assert_int_equal(reg(x, 0, NVME_REG_CSTS) & NVME_CSTS_SHST_MASK, NVME_CSTS_SHST_CMPLT);
#ifdef CONFIG_PCI_P2PDMA
	/* The CMB was taken out of P2PDMA. */
	assert_false(pci_has_p2pmem(x->nvme[0]));
#endif
}

/*
 * Firmware left the controller enabled with an admin queue of its own (as
 * SeaBIOS does): probe disables it first, and the old queue is never
 * touched again.
 */
static void test_left_enabled_by_firmware(void **state)
{
	struct nfix_opts o = { .no_probe = true };
	struct nfix x;
	uint8_t *old = nfix_alloc(2 * 4096);
	dma_addr_t old_dma;
	struct nvme_ns *ns;
	uint8_t *buf = nfix_alloc(4096), *pat = nfix_alloc(4096);
	int i;

	assert_int_equal(nfix_build(&x, &o), 0);
	memset(old, 0, 2 * 4096);
	old_dma = dma_map_single(x.nvme[0], old, 2 * 4096, DMA_BIDIRECTIONAL);
	assert_int_equal(dma_mapping_error(x.nvme[0], old_dma), 0);
	/* "Firmware": a 2-entry admin queue pair and CC.EN, then wait for RDY. */
	pci_mmio_write(x.nvme[0], 0, NVME_REG_AQA, 4, 0x00010001);
	pci_mmio_write(x.nvme[0], 0, NVME_REG_ASQ, 4, (uint32_t)old_dma);
	pci_mmio_write(x.nvme[0], 0, NVME_REG_ASQ + 4, 4, (uint32_t)(old_dma >> 32));
	pci_mmio_write(x.nvme[0], 0, NVME_REG_ACQ, 4, (uint32_t)(old_dma + 4096));
	pci_mmio_write(x.nvme[0], 0, NVME_REG_ACQ + 4, 4, (uint32_t)((old_dma + 4096) >> 32));
	pci_mmio_write(x.nvme[0], 0, NVME_REG_CC, 4,
		       NVME_CC_ENABLE | (6 << NVME_CC_IOSQES_SHIFT) | (4 << NVME_CC_IOCQES_SHIFT));
	for (i = 0; i < 10000 && !(reg(&x, 0, NVME_REG_CSTS) & NVME_CSTS_RDY); i++)
		usleep(100);
	assert_true(reg(&x, 0, NVME_REG_CSTS) & NVME_CSTS_RDY);
	memset(old, 0xa5, 2 * 4096);
	assert_int_equal(nfix_probe(&x, 0, &o), 0);
	ns = nvme_ctrl_ns(x.ctrl[0], 1);
	nfix_fill(pat, 4096, 3);
	assert_int_equal(nvme_write(ns, x.qp[0], pat, 0, 8), 0);
	assert_int_equal(nvme_read(ns, x.qp[0], buf, 0, 8), 0);
	assert_memory_equal(buf, pat, 4096);
	for (i = 0; i < 2 * 4096; i++)
		assert_int_equal(old[i], 0xa5);
	dma_unmap_single(x.nvme[0], old_dma, 2 * 4096, DMA_BIDIRECTIONAL);
	nfix_destroy(&x);
	free(old);
	free(buf);
	free(pat);
}

/* A transport that is not an emulated controller is refused; probe checks its options. */
static void test_bad_inputs(void **state)
{
	struct nfix *x = *state;
	struct nvme_transport t = { 0 };
	struct nvme_ctrl_opts bad = { .io_queue_depth = 5000 };

	assert_int_equal(nvme_transport_emu_init(&t, x->gpu0), -EINVAL);
	assert_int_equal(PTR_ERR(nvme_ctrl_probe(NULL, NULL)), -EINVAL);
	assert_int_equal(PTR_ERR(nvme_ctrl_probe(&x->t[0], &bad)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_enabled_as_configured, setup, nfix_teardown),
		cmocka_unit_test_setup_teardown(test_identify_values, setup, nfix_teardown),
		cmocka_unit_test_setup_teardown(test_namespaces, setup, nfix_teardown),
		cmocka_unit_test_setup_teardown(test_qpairs_up_to_granted, setup, nfix_teardown),
		cmocka_unit_test_setup_teardown(test_admin_passthrough, setup, nfix_teardown),
		cmocka_unit_test_setup_teardown(test_io_passthrough, setup, nfix_teardown),
		cmocka_unit_test_setup_teardown(test_reset_and_resume, setup, nfix_teardown),
		cmocka_unit_test_setup_teardown(test_clean_shutdown, setup, nfix_teardown),
		cmocka_unit_test(test_left_enabled_by_firmware),
		cmocka_unit_test_setup_teardown(test_bad_inputs, setup, nfix_teardown),
	};

	nfix_quiet();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
