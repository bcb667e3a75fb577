// SPDX-License-Identifier: MIT
/*
 * Identify CNS 00h-03h with good and bad NSIDs, and the checks every
 * admin command goes through first (opcode, fused, PSDT, data pointer).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "fabric-fixture.h"
#include "raw.h"

struct ctx {
	struct raw r;
	struct raw_buf buf;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	struct nvme_emu_params p = raw_params();

	p.nr_ns = 3;
	p.ns[1].size = 16 << 20;
	p.ns[1].lba_shift = 12;
	p.ns[2].size = 8 << 20;
	p.ns[2].lba_shift = 9;
	if (!c || raw_setup(&c->r, &p) || !raw_enable(&c->r))
		return -1;
	c->buf = raw_alloc(&c->r, 8192);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	raw_teardown(&c->r);
	free(c);
	return 0;
}

static uint16_t identify(struct ctx *c, uint8_t cns, uint32_t nsid)
{
	struct nvme_command cmd = raw_identify(cns, nsid, c->buf.dma);

	memset(c->buf.cpu, 0xa5, 4096);
	return raw_admin(&c->r, &cmd, NULL);
}

static bool space_padded(const char *field, size_t len, const char *text)
{
	size_t n = strlen(text);

	if (memcmp(field, text, n))
		return false;
	for (size_t i = n; i < len; i++)
		if (field[i] != ' ')
			return false;
	return true;
}

/* CNS 01h: the controller as drivers and nvme-cli read it. */
static void test_identify_controller(void **state)
{
	struct ctx *c = *state;
	struct nvme_id_ctrl *id = (struct nvme_id_ctrl *)c->buf.cpu;

	assert_int_equal(identify(c, NVME_ID_CNS_CTRL, 0), 0);
	assert_int_equal(id->vid, 0x4854);
	assert_int_equal(id->ssvid, 0x4854);
	assert_true(space_padded(id->sn, sizeof(id->sn), "RAW0001"));
	assert_true(space_padded(id->mn, sizeof(id->mn), "raw test controller"));
	assert_true(space_padded(id->fr, sizeof(id->fr), "1.0"));
	assert_int_equal(id->mdts, 9);
	assert_int_equal(id->ver, NVME_VS(1, 4, 0));
	assert_int_equal(id->oacs, NVME_CTRL_OACS_FORMAT);
	assert_int_equal(id->acl, 3);
	assert_int_equal(id->aerl, 3);
	assert_int_equal(id->frmw, 0x03);
	assert_int_equal(id->lpa, 1 << 2);
	assert_int_equal(id->elpe, 63);
	assert_int_equal(id->npss, 0);
	assert_int_equal(id->sqes, 0x66);
	assert_int_equal(id->cqes, 0x44);
	assert_int_equal(id->nn, 3);
	assert_int_equal(id->oncs,
			 NVME_CTRL_ONCS_COMPARE | NVME_CTRL_ONCS_DSM | NVME_CTRL_ONCS_WRITE_ZEROES);
	assert_int_equal(id->vwc & NVME_CTRL_VWC_PRESENT, NVME_CTRL_VWC_PRESENT);
	assert_int_equal(id->sgls & 3, 2);
	assert_int_equal(strncmp(id->subnqn, "nqn.", 4), 0);
	assert_true(id->psd[0].max_power > 0);
	/* NSID is ignored for CNS 01h. */
	assert_int_equal(identify(c, NVME_ID_CNS_CTRL, 0x1234), 0);
}

/* CNS 00h for each namespace; 0, FFFFFFFFh and inactive NSIDs are Invalid Namespace. */
static void test_identify_namespace(void **state)
{
	struct ctx *c = *state;
	struct nvme_id_ns *id = (struct nvme_id_ns *)c->buf.cpu;
	const uint64_t nsze[] = { (64 << 20) / 512, (16 << 20) / 4096, (8 << 20) / 512 };
	const uint32_t bad[] = { 0, 4, 0x100, 0xffffffff };

	for (uint32_t nsid = 1; nsid <= 3; nsid++) {
		assert_int_equal(identify(c, NVME_ID_CNS_NS, nsid), 0);
		assert_int_equal(id->nsze, nsze[nsid - 1]);
		assert_int_equal(id->ncap, nsze[nsid - 1]);
		assert_int_equal(id->nlbaf, 1);
		assert_int_equal(id->flbas & NVME_NS_FLBAS_LBA_MASK, nsid == 2 ? 1 : 0);
		assert_int_equal(id->lbaf[0].ds, 9);
		assert_int_equal(id->lbaf[1].ds, 12);
		assert_int_equal(id->lbaf[0].ms, 0);
		assert_int_equal(id->dlfeat & 7, NVME_NS_DLFEAT_READS_ZERO);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned long errs = hetmem_guest_errors();

		assert_int_equal(identify(c, NVME_ID_CNS_NS, bad[i]), RAW_DNR(NVME_SC_INVALID_NS));
		assert_int_equal(hetmem_guest_errors(), errs + 1);
	}
}

/* CNS 02h lists active NSIDs above the one given. */
static void test_active_ns_list(void **state)
{
	struct ctx *c = *state;
	uint32_t *list = (uint32_t *)c->buf.cpu;

	assert_int_equal(identify(c, NVME_ID_CNS_NS_ACTIVE_LIST, 0), 0);
	assert_int_equal(list[0], 1);
	assert_int_equal(list[1], 2);
	assert_int_equal(list[2], 3);
	assert_int_equal(list[3], 0);
	assert_int_equal(identify(c, NVME_ID_CNS_NS_ACTIVE_LIST, 2), 0);
	assert_int_equal(list[0], 3);
	assert_int_equal(list[1], 0);
	assert_int_equal(identify(c, NVME_ID_CNS_NS_ACTIVE_LIST, 3), 0);
	assert_int_equal(list[0], 0);
	assert_int_equal(identify(c, NVME_ID_CNS_NS_ACTIVE_LIST, 0xfffffffe),
			 RAW_DNR(NVME_SC_INVALID_NS));
	assert_int_equal(identify(c, NVME_ID_CNS_NS_ACTIVE_LIST, 0xffffffff),
			 RAW_DNR(NVME_SC_INVALID_NS));
}

/* CNS 03h: EUI64, NGUID and UUID descriptors matching Identify Namespace. */
static void test_ns_descriptors(void **state)
{
	struct ctx *c = *state;
	uint8_t *p = c->buf.cpu, eui[8], nguid[16], uuid2[16];
	struct nvme_ns_id_desc d;

	assert_int_equal(identify(c, NVME_ID_CNS_NS, 1), 0);
	memcpy(eui, ((struct nvme_id_ns *)p)->eui64, 8);
	memcpy(nguid, ((struct nvme_id_ns *)p)->nguid, 16);

	assert_int_equal(identify(c, NVME_ID_CNS_NS_DESC_LIST, 1), 0);
	memcpy(&d, p, sizeof(d));
	assert_int_equal(d.nidt, NVME_NIDT_EUI64);
	assert_int_equal(d.nidl, 8);
	assert_memory_equal(p + 4, eui, 8);
	p += 4 + 8;
	memcpy(&d, p, sizeof(d));
	assert_int_equal(d.nidt, NVME_NIDT_NGUID);
	assert_int_equal(d.nidl, 16);
	assert_memory_equal(p + 4, nguid, 16);
	p += 4 + 16;
	memcpy(&d, p, sizeof(d));
	assert_int_equal(d.nidt, NVME_NIDT_UUID);
	assert_int_equal(d.nidl, 16);
	assert_int_equal(p[4 + 6] >> 4, 4); /* version 4 */
	p += 4 + 16;
	assert_int_equal(p[0], 0); /* end of list */

	/* Namespaces have distinct identifiers. */
	memcpy(uuid2, c->buf.cpu + 4 + 8 + 4 + 16 + 4, 16);
	assert_int_equal(identify(c, NVME_ID_CNS_NS_DESC_LIST, 2), 0);
	assert_memory_not_equal(c->buf.cpu + 4, eui, 8);
	assert_memory_not_equal(c->buf.cpu + 4 + 8 + 4 + 16 + 4, uuid2, 16);

	assert_int_equal(identify(c, NVME_ID_CNS_NS_DESC_LIST, 0), RAW_DNR(NVME_SC_INVALID_NS));
	assert_int_equal(identify(c, NVME_ID_CNS_NS_DESC_LIST, 9), RAW_DNR(NVME_SC_INVALID_NS));
}

/* Unsupported CNS values, opcodes, fused operations, SGLs on admin queues, bad PRPs. */
static void test_generic_checks(void **state)
{
	struct ctx *c = *state;
	struct nvme_command cmd;
	unsigned long errs = hetmem_guest_errors();

	assert_int_equal(identify(c, 0x10, 0), RAW_DNR(NVME_SC_INVALID_FIELD));
	assert_int_equal(identify(c, 0x04, 1), RAW_DNR(NVME_SC_INVALID_FIELD));

	memset(&cmd, 0, sizeof(cmd));
	cmd.opcode = 0x7f;
	assert_int_equal(raw_admin(&c->r, &cmd, NULL), RAW_DNR(NVME_SC_INVALID_OPCODE));
	cmd.opcode = 0x18; /* Keep Alive */
	assert_int_equal(raw_admin(&c->r, &cmd, NULL), RAW_DNR(NVME_SC_INVALID_OPCODE));
	cmd.opcode = 0x11; /* Firmware Image Download */
	assert_int_equal(raw_admin(&c->r, &cmd, NULL), RAW_DNR(NVME_SC_INVALID_OPCODE));

	cmd = raw_identify(NVME_ID_CNS_CTRL, 0, c->buf.dma);
	cmd.flags = 1; /* first of a fused pair */
	assert_int_equal(raw_admin(&c->r, &cmd, NULL), RAW_DNR(NVME_SC_INVALID_FIELD));
	cmd = raw_identify(NVME_ID_CNS_CTRL, 0, c->buf.dma);
	cmd.flags = NVME_CMD_PSDT_SGL;
	assert_int_equal(raw_admin(&c->r, &cmd, NULL), RAW_DNR(NVME_SC_INVALID_FIELD));

	/* A PRP1 that is not dword aligned; an address the IOMMU never mapped. */
	cmd = raw_identify(NVME_ID_CNS_CTRL, 0, c->buf.dma + 2);
	assert_int_equal(raw_admin(&c->r, &cmd, NULL), RAW_DNR(NVME_SC_PRP_INVALID_OFFSET));
	cmd = raw_identify(NVME_ID_CNS_CTRL, 0, c->buf.dma + (64ULL << 20));
	assert_int_equal(raw_admin(&c->r, &cmd, NULL), NVME_SC_DATA_XFER_ERROR);
	/* A buffer split over two pages: PRP2 names the second. */
	cmd = raw_identify(NVME_ID_CNS_CTRL, 0, c->buf.dma + 2048);
	cmd.prp2 = c->buf.dma + 4096;
	assert_int_equal(raw_admin(&c->r, &cmd, NULL), 0);
	assert_int_equal(((struct nvme_id_ctrl *)(c->buf.cpu + 2048))->vid, 0x4854);

	assert_int_equal(hetmem_guest_errors() - errs, 9);
}

/* With bus mastering off the controller cannot DMA: Data Transfer Error, then fine again. */
static void test_bus_master_off(void **state)
{
	struct ctx *c = *state;

	pci_clear_master(c->r.pdev);
	/* The SQE fetch itself is DMA: the controller cannot even read the command. */
	{
		struct nvme_command cmd = raw_identify(NVME_ID_CNS_CTRL, 0, c->buf.dma);
		struct nvme_completion cqe = { 0 };

		raw_push(&c->r, &c->r.asq, &cmd, true);
		assert_true(raw_wait_csts(&c->r, NVME_CSTS_CFS, NVME_CSTS_CFS));
		assert_false(raw_reap_timeout(&c->r, &c->r.acq, &cqe, 20));
	}
	pci_set_master(c->r.pdev);
	assert_true(raw_disable(&c->r));
	assert_int_equal(raw_rd32(&c->r, NVME_REG_CSTS), 0);
	assert_true(raw_enable(&c->r));
	assert_int_equal(identify(c, NVME_ID_CNS_CTRL, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identify_controller, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identify_namespace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_active_ns_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ns_descriptors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_generic_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bus_master_off, setup, teardown),
	};

	quiet_logs();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
