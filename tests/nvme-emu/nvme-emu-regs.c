// SPDX-License-Identifier: MIT
/*
 * The controller's registers and state machine: CAP/VS as advertised,
 * enable, disable and shutdown with the timing a driver must wait for, a
 * bad CC leading to controller fatal status, the v1.4 CMB enable sequence,
 * and the answers to malformed register accesses.
 */
#include <poll.h>
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

/* CAP, VS and the reset values say what the controller is. */
static void test_identity_registers(void **state)
{
	struct raw *r = *state;
	uint64_t cap = raw_rd64(r, NVME_REG_CAP);

	assert_int_equal(NVME_CAP_MQES(cap), 1023);
	assert_int_equal(NVME_CAP_CQR(cap), 1);
	assert_int_equal(NVME_CAP_TIMEOUT(cap), 20);
	assert_int_equal(NVME_CAP_DSTRD(cap), 0);
	assert_int_equal(NVME_CAP_CSS(cap) & NVME_CAP_CSS_NVM, NVME_CAP_CSS_NVM);
	assert_int_equal(NVME_CAP_MPSMIN(cap), 0);
	assert_int_equal(NVME_CAP_MPSMAX(cap), 0);
	assert_int_equal(NVME_CAP_CMBS(cap), 1);
	assert_int_equal((uint32_t)cap, raw_rd32(r, NVME_REG_CAP));
	assert_int_equal(cap >> 32, raw_rd32(r, NVME_REG_CAP + 4));
	assert_int_equal(raw_rd32(r, NVME_REG_VS), NVME_VS(1, 4, 0));
	assert_int_equal(raw_rd32(r, NVME_REG_CC), 0);
	assert_int_equal(raw_rd32(r, NVME_REG_CSTS), 0);
	/* Byte and word reads see the same image. */
	assert_int_equal(pci_mmio_read(r->pdev, 0, NVME_REG_VS + 2, 1), 1);
	assert_int_equal(pci_mmio_read(r->pdev, 0, NVME_REG_VS + 1, 1), 4);
	assert_int_equal(pci_mmio_read(r->pdev, 0, NVME_REG_VS + 2, 2), 1);
	/* Undefined registers and doorbells read zero. */
	assert_int_equal(raw_rd32(r, 0x60), 0);
	assert_int_equal(raw_rd32(r, 0xf00), 0);
	assert_int_equal(raw_rd32(r, NVME_SQ_DB(0, 0)), 0);
	assert_int_equal(pci_dev_class(r->pdev), 0x010802);
	assert_int_equal(pci_resource_len(r->pdev, 0), 16 << 10);
	assert_int_equal(pci_resource_flags(r->pdev, 0), PCI_BAR_MEM64);
	assert_int_equal(pci_resource_len(r->pdev, 2), 4 << 20);
	assert_int_equal(pci_resource_flags(r->pdev, 2), PCI_BAR_MEM64 | PCI_BAR_PREFETCH);
	assert_ptr_equal(nvme_emu_from_pdev(r->pdev), r->emu);
	assert_null(nvme_emu_from_pdev(r->peer));
	assert_null(nvme_emu_from_pdev(r->dsp0));
}

/* EN 0->1 sets RDY, 1->0 clears it; the admin queue works in between. */
static void test_enable_disable(void **state)
{
	struct raw *r = *state;
	struct raw_buf id = raw_alloc(r, 4096);
	struct nvme_command c;

	for (int round = 0; round < 3; round++) {
		assert_true(raw_enable(r));
		assert_int_equal(raw_rd32(r, NVME_REG_CSTS), NVME_CSTS_RDY);
		assert_int_equal(raw_rd32(r, NVME_REG_AQA), 31u << 16 | 31u);
		assert_int_equal(raw_rd64(r, NVME_REG_ASQ), r->asq.mem.dma);
		assert_int_equal(raw_rd64(r, NVME_REG_ACQ), r->acq.mem.dma);
		c = raw_identify(NVME_ID_CNS_CTRL, 0, id.dma);
		assert_int_equal(raw_admin(r, &c, NULL), 0);
		assert_true(raw_disable(r));
		assert_int_equal(raw_rd32(r, NVME_REG_CSTS), 0);
	}
}

/* SHN reports "occurring" then "complete"; a reset clears it. */
static void test_shutdown(void **state)
{
	struct raw *r = *state;
	uint32_t cc;

	assert_true(raw_enable(r));
	cc = raw_rd32(r, NVME_REG_CC);
	raw_wr32(r, NVME_REG_CC, cc | NVME_CC_SHN_NORMAL);
	assert_true(raw_wait_csts(r, NVME_CSTS_SHST_MASK, NVME_CSTS_SHST_CMPLT));
	assert_true(raw_rd32(r, NVME_REG_CSTS) & NVME_CSTS_RDY);
	/* A shut down controller fetches nothing until reset. */
	{
		struct nvme_command c = raw_identify(NVME_ID_CNS_CTRL, 0, r->acq.mem.dma);
		struct nvme_completion cqe = { 0 };

		raw_push(r, &r->asq, &c, true);
		assert_false(raw_reap_timeout(r, &r->acq, &cqe, 50));
	}
	raw_wr32(r, NVME_REG_CC, 0);
	assert_true(raw_wait_csts(r, NVME_CSTS_RDY | NVME_CSTS_SHST_MASK, 0));

	/* Shutdown and disable in one write: SHST stays complete. */
	assert_true(raw_enable(r));
	raw_wr32(r, NVME_REG_CC, NVME_CC_SHN_ABRUPT);
	assert_true(raw_wait_csts(r, NVME_CSTS_RDY | NVME_CSTS_SHST_MASK, NVME_CSTS_SHST_CMPLT));
	raw_wr32(r, NVME_REG_CC, 0);
	assert_true(raw_enable(r));
	assert_int_equal(raw_rd32(r, NVME_REG_CSTS), NVME_CSTS_RDY);
}

/* Each invalid configuration at enable is controller fatal status, cleared by a reset. */
static void test_bad_cc_is_fatal(void **state)
{
	struct raw *r = *state;
	const uint32_t good = RAW_CC_DEFAULT;
	const uint32_t bad[] = {
		good | (1u << NVME_CC_CSS_SHIFT), /* CSS: not NVM */
		good | (1u << NVME_CC_MPS_SHIFT), /* 8 KiB pages */
		good | (1u << NVME_CC_AMS_SHIFT), /* weighted round robin */
		(good & ~NVME_CC_IOSQES_MASK) | (7u << NVME_CC_IOSQES_SHIFT),
		(good & ~NVME_CC_IOCQES_MASK) | (5u << NVME_CC_IOCQES_SHIFT),
		good & ~NVME_CC_IOSQES_MASK,
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned long errs = hetmem_guest_errors();

		raw_program(r, 8, bad[i]);
		assert_true(raw_wait_csts(r, NVME_CSTS_CFS, NVME_CSTS_CFS));
		assert_int_equal(raw_rd32(r, NVME_REG_CSTS) & NVME_CSTS_RDY, 0);
		assert_true(hetmem_guest_errors() > errs);
		raw_wr32(r, NVME_REG_CC, 0);
		assert_true(raw_wait_csts(r, NVME_CSTS_CFS | NVME_CSTS_RDY, 0));
	}
	/* An admin queue of one entry. */
	raw_wr32(r, NVME_REG_AQA, 0);
	raw_wr32(r, NVME_REG_CC, good);
	assert_true(raw_wait_csts(r, NVME_CSTS_CFS, NVME_CSTS_CFS));
	raw_wr32(r, NVME_REG_CC, 0);
	assert_true(raw_wait_csts(r, NVME_CSTS_CFS | NVME_CSTS_RDY, 0));
	assert_true(raw_enable(r));
}

/* v1.4 CMB: CMBLOC/CMBSZ read 0 until CRE; the low dword write latches CBA; CBA must be BAR2. */
static void test_cmb_enable_sequence(void **state)
{
	struct raw *r = *state;
	uint64_t bar2 = pci_bus_address(r->pdev, 2);
	uint32_t sz;

	assert_int_equal(raw_rd32(r, NVME_REG_CMBLOC), 0);
	assert_int_equal(raw_rd32(r, NVME_REG_CMBSZ), 0);
	raw_wr32(r, NVME_REG_CMBMSC, NVME_CMBMSC_CRE);
	assert_int_equal(NVME_CMBLOC_BIR(raw_rd32(r, NVME_REG_CMBLOC)), 2);
	assert_int_equal(NVME_CMBLOC_OFST(raw_rd32(r, NVME_REG_CMBLOC)), 0);
	sz = raw_rd32(r, NVME_REG_CMBSZ);
	assert_int_equal(sz & 0x1f,
			 NVME_CMBSZ_SQS | NVME_CMBSZ_LISTS | NVME_CMBSZ_RDS | NVME_CMBSZ_WDS);
	assert_int_equal(NVME_CMBSZ_SZU(sz), 2); /* 1 MiB units */
	assert_int_equal(NVME_CMBSZ_SZ(sz), 4);

	/* The high dword alone changes nothing. */
	raw_wr32(r, NVME_REG_CMBMSC + 4, (uint32_t)(bar2 >> 32));
	assert_int_equal(raw_rd64(r, NVME_REG_CMBMSC), NVME_CMBMSC_CRE);
	raw_wr32(r, NVME_REG_CMBMSC, (uint32_t)bar2 | NVME_CMBMSC_CRE | NVME_CMBMSC_CMSE);
	assert_int_equal(raw_rd64(r, NVME_REG_CMBMSC), bar2 | NVME_CMBMSC_CRE | NVME_CMBMSC_CMSE);
	assert_int_equal(raw_rd32(r, NVME_REG_CMBSTS), 0);

	/* A CBA elsewhere is invalid: CBAI. */
	raw_wr32(r, NVME_REG_CMBMSC + 4, (uint32_t)(bar2 >> 32));
	raw_wr32(r, NVME_REG_CMBMSC, (uint32_t)(bar2 + (1 << 20)) | 3);
	assert_int_equal(raw_rd32(r, NVME_REG_CMBSTS), NVME_CMBSTS_CBAI);
	/* A 64-bit write latches in one go. */
	raw_wr64(r, NVME_REG_CMBMSC, bar2 | 3);
	assert_int_equal(raw_rd32(r, NVME_REG_CMBSTS), 0);

	/* Clearing CRE hides the registers again. */
	raw_wr64(r, NVME_REG_CMBMSC, 0);
	assert_int_equal(raw_rd32(r, NVME_REG_CMBLOC), 0);
	assert_int_equal(raw_rd32(r, NVME_REG_CMBSZ), 0);
}

/* Writes to read-only, undefined or reserved registers and odd widths are dropped and logged. */
static void test_malformed_accesses(void **state)
{
	struct raw *r = *state;
	unsigned long errs = hetmem_guest_errors();

	raw_wr32(r, NVME_REG_CAP, 0x12345678);
	raw_wr32(r, NVME_REG_VS, 0);
	raw_wr32(r, NVME_REG_CSTS, NVME_CSTS_RDY);
	raw_wr32(r, 0x60, 1);
	raw_wr32(r, NVME_REG_NSSR, 0x4e564d65);
	pci_mmio_write(r->pdev, 0, NVME_REG_CC, 1, NVME_CC_ENABLE);
	pci_mmio_write(r->pdev, 0, NVME_REG_CC, 2, NVME_CC_ENABLE);
	pci_mmio_write(r->pdev, 0, NVME_REG_INTMC, 8, 1); /* 64-bit write to 32-bit registers */
	assert_int_equal(hetmem_guest_errors() - errs, 8);
	assert_int_equal(raw_rd64(r, NVME_REG_CAP) & 0xffff, 1023);
	assert_int_equal(raw_rd32(r, NVME_REG_VS), NVME_VS(1, 4, 0));
	assert_int_equal(raw_rd32(r, NVME_REG_CC), 0);
	assert_int_equal(raw_rd32(r, NVME_REG_CSTS), 0);

	/* Doorbells while not ready. */
	errs = hetmem_guest_errors();
	raw_wr32(r, NVME_SQ_DB(0, 0), 1);
	pci_mmio_write(r->pdev, 0, NVME_SQ_DB(0, 0), 2, 1);
	assert_int_equal(hetmem_guest_errors() - errs, 2);

	/* INTMS sets, INTMC clears. */
	raw_wr32(r, NVME_REG_INTMS, 0x5);
	assert_int_equal(raw_rd32(r, NVME_REG_INTMS), 0x5);
	raw_wr32(r, NVME_REG_INTMC, 0x1);
	assert_int_equal(raw_rd32(r, NVME_REG_INTMC), 0x4);
	raw_wr32(r, NVME_REG_INTMC, 0x4);
	assert_int_equal(raw_rd32(r, NVME_REG_INTMS), 0);
}

/* A masked vector holds its interrupts until INTMC unmasks it; the count survives. */
static void test_interrupt_mask(void **state)
{
	struct raw *r = *state;
	int fd = nvme_emu_irq_fd(r->emu, 0);
	struct nvme_command c;
	uint64_t v = 0;

	assert_true(fd >= 0);
	assert_int_equal(nvme_emu_irq_fd(r->emu, 9), -EINVAL);
	assert_true(raw_enable(r));
	c = raw_identify(NVME_ID_CNS_CTRL, 0, raw_alloc(r, 4096).dma);
	assert_int_equal(raw_admin(r, &c, NULL), 0);
	assert_int_equal(read(fd, &v, sizeof(v)), sizeof(v));
	assert_int_equal(v, 1);

	raw_wr32(r, NVME_REG_INTMS, 1);
	for (int i = 0; i < 3; i++)
		assert_int_equal(raw_admin(r, &c, NULL), 0);
	{
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		/* Nothing signalled while masked. */
		assert_int_equal(poll(&pfd, 1, 20), 0);
	}
	raw_wr32(r, NVME_REG_INTMC, 1);
	assert_int_equal(read(fd, &v, sizeof(v)), sizeof(v));
	assert_int_equal(v, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identity_registers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enable_disable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_cc_is_fatal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmb_enable_sequence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_accesses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interrupt_mask, setup, teardown),
	};

	quiet_logs();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
