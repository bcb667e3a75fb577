// SPDX-License-Identifier: MIT
/*
 * The controller memory buffer: SQs (admin and I/O), PRP lists, SGL
 * segments and data in the CMB, which the controller reaches without
 * crossing its link; CQs refused there; and CMB addresses used while the
 * memory space is off routed by the fabric like any bus address.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "fabric-fixture.h"
#include "raw.h"

static int setup(void **state)
{
	struct raw *r = calloc(1, sizeof(*r));
	struct nvme_emu_params p = raw_params();

	if (!r || raw_setup(r, &p))
		return -1;
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	raw_teardown(*state);
	free(*state);
	return 0;
}

static uint64_t link_bytes_of(struct pci_dev *dev)
{
	struct pci_link_stats s;

	pci_link_stats_get(dev, &s);
	return s.bytes[0] + s.bytes[1];
}

/* An I/O SQ in the CMB, with PRP lists and data there too: only CQEs cross the link. */
static void test_sq_lists_and_data_in_cmb(void **state)
{
	struct raw *r = *state;
	struct raw_buf src, dst, list, host;
	struct nvme_command cmd;
	uint64_t before;

	raw_cmb_enable(r);
	assert_true(raw_enable(r));
	assert_int_equal(raw_io_pair(r, 1, 16, false, true), 0);
	src = raw_cmb_alloc(r, 64 << 10);
	dst = raw_cmb_alloc(r, 64 << 10);
	list = raw_cmb_alloc(r, 4096);
	host = raw_alloc(r, 64 << 10);

	raw_fill(src.cpu, 64 << 10, 17);
	before = link_bytes_of(r->pdev);
	cmd = raw_rw(nvme_cmd_write, 1, 0, 128, 0);
	raw_prps(&cmd, src.dma, 64 << 10, &list);
	assert_int_equal(raw_io(r, 1, &cmd, NULL), 0);
	cmd = raw_rw(nvme_cmd_read, 1, 0, 128, 0);
	raw_prps(&cmd, dst.dma, 64 << 10, &list);
	assert_int_equal(raw_io(r, 1, &cmd, NULL), 0);
	/* Two CQEs and the doorbell writes; no SQE, list or data bytes. */
	assert_true(link_bytes_of(r->pdev) - before < 128);
	assert_memory_equal(dst.cpu, src.cpu, 64 << 10);

	/* CMB and host memory mixed in one command. */
	cmd = raw_rw(nvme_cmd_read, 1, 0, 16, host.dma);
	cmd.prp2 = dst.dma + 4096;
	memset(dst.cpu + 4096, 0, 4096);
	assert_int_equal(raw_io(r, 1, &cmd, NULL), 0);
	assert_memory_equal(host.cpu, src.cpu, 4096);
	assert_memory_equal(dst.cpu + 4096, src.cpu + 4096, 4096);
}

/* SGL segments and data blocks in the CMB. */
static void test_sgl_in_cmb(void **state)
{
	struct raw *r = *state;
	struct raw_buf segm, data;
	struct nvme_sgl_desc *s;
	struct nvme_command cmd = { .opcode = nvme_cmd_write, .nsid = 1 };

	raw_cmb_enable(r);
	assert_true(raw_enable(r));
	assert_int_equal(raw_io_pair(r, 1, 16, false, false), 0);
	segm = raw_cmb_alloc(r, 4096);
	data = raw_cmb_alloc(r, 8192);
	s = (struct nvme_sgl_desc *)segm.cpu;
	raw_fill(data.cpu, 8192, 23);
	s[0] = (struct nvme_sgl_desc){ data.dma + 4096, 4096, { 0 }, 0 };
	s[1] = (struct nvme_sgl_desc){ data.dma, 4096, { 0 }, 0 };
	cmd.flags = NVME_CMD_PSDT_SGL;
	cmd.sgl = (struct nvme_sgl_desc){
		segm.dma, 32, { 0 }, NVME_SGL_TYPE(NVME_SGL_FMT_LAST_SEG_DESC, 0)
	};
	cmd.cdw12 = 15;
	assert_int_equal(raw_io(r, 1, &cmd, NULL), 0);
	{
		struct raw_buf back = raw_alloc(r, 8192);

		cmd = raw_rw(nvme_cmd_read, 1, 0, 16, back.dma);
		assert_int_equal(raw_io(r, 1, &cmd, NULL), 0);
		assert_memory_equal(back.cpu, data.cpu + 4096, 4096);
		assert_memory_equal(back.cpu + 4096, data.cpu, 4096);
	}
}

/* The admin SQ may be in the CMB; the admin CQ may not (CMBSZ.CQS = 0): fatal at enable. */
static void test_admin_queues_in_cmb(void **state)
{
	struct raw *r = *state;
	struct raw_buf id = raw_alloc(r, 4096);
	struct nvme_command cmd;

	raw_cmb_enable(r);
	raw_q_init(&r->asq, raw_cmb_alloc(r, 16 * 64), 0, 16);
	raw_q_init(&r->acq, raw_alloc(r, 16 * 16), 0, 16);
	raw_wr32(r, NVME_REG_AQA, 15u << 16 | 15u);
	raw_wr64(r, NVME_REG_ASQ, r->asq.mem.dma);
	raw_wr64(r, NVME_REG_ACQ, r->acq.mem.dma);
	raw_wr32(r, NVME_REG_CC, RAW_CC_DEFAULT);
	assert_true(raw_wait_csts(r, NVME_CSTS_RDY, NVME_CSTS_RDY));
	cmd = raw_identify(NVME_ID_CNS_CTRL, 0, id.dma);
	assert_int_equal(raw_admin(r, &cmd, NULL), 0);
	assert_int_equal(((struct nvme_id_ctrl *)id.cpu)->vid, 0x4854);

	assert_true(raw_disable(r));
	raw_wr64(r, NVME_REG_ACQ, raw_cmb_alloc(r, 4096).dma);
	raw_wr32(r, NVME_REG_CC, RAW_CC_DEFAULT);
	assert_true(raw_wait_csts(r, NVME_CSTS_CFS, NVME_CSTS_CFS));
}

/*
 * With CMSE off the CMB is only BAR2: its addresses are bus addresses like
 * any other, routed by the fabric (here back to the controller's own BAR,
 * without crossing its link). CMSE with a CBA other than BAR2's is CBAI.
 */
static void test_cmb_memory_space_off(void **state)
{
	struct raw *r = *state;
	uint64_t bar2 = pci_bus_address(r->pdev, 2);
	uint8_t *cmb = pci_iomap(r->pdev, 2);
	struct raw_buf src;
	struct nvme_command cmd;

	raw_wr32(r, NVME_REG_CMBMSC, NVME_CMBMSC_CRE);
	assert_true(raw_enable(r));
	assert_int_equal(raw_io_pair(r, 1, 16, false, false), 0);
	src = raw_alloc(r, 4096);
	raw_fill(src.cpu, 4096, 31);
	cmd = raw_rw(nvme_cmd_write, 1, 0, 8, src.dma);
	assert_int_equal(raw_io(r, 1, &cmd, NULL), 0);
	cmd = raw_rw(nvme_cmd_read, 1, 0, 8, bar2 + 8192);
	assert_int_equal(raw_io(r, 1, &cmd, NULL), 0);
	assert_memory_equal(cmb + 8192, src.cpu, 4096);

	raw_wr64(r, NVME_REG_CMBMSC, (bar2 + (1 << 20)) | 3);
	assert_int_equal(raw_rd32(r, NVME_REG_CMBSTS), NVME_CMBSTS_CBAI);
	raw_wr64(r, NVME_REG_CMBMSC, bar2 | 3);
	assert_int_equal(raw_rd32(r, NVME_REG_CMBSTS), 0);
	memset(cmb + 8192, 0, 4096);
	assert_int_equal(raw_io(r, 1, &cmd, NULL), 0);
	assert_memory_equal(cmb + 8192, src.cpu, 4096);
	/* One data block running off the end of the CMB. */
	cmd = raw_rw(nvme_cmd_read, 1, 0, 16, 0);
	cmd.flags = NVME_CMD_PSDT_SGL;
	cmd.sgl = (struct nvme_sgl_desc){ bar2 + (4 << 20) - 4096, 8192, { 0 }, 0 };
	assert_int_equal(raw_io(r, 1, &cmd, NULL), NVME_SC_DATA_XFER_ERROR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sq_lists_and_data_in_cmb, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sgl_in_cmb, setup, teardown),
		cmocka_unit_test_setup_teardown(test_admin_queues_in_cmb, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmb_memory_space_off, setup, teardown),
	};

	quiet_logs();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
