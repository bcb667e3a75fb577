// SPDX-License-Identifier: MIT
/*
 * Description: a stray DMA by the NVMe controller is blocked, counted and
 * reported, and only its command fails. An injected fault sends a Read's
 * data (then a Write's) to an IOVA that is mapped for gpu0, not for the
 * controller. The IOMMU blocks the access: the controller's domain and
 * the root complex count one fault each, the fault names the controller,
 * the address and the direction, a warning is logged, gpu0's memory is
 * untouched, the command completes with Data Transfer Error (in the Error
 * Information log too), and the next command works without a reset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <hetmem/dma-mapping.h>
#include <hetmem/iommu.h>
#include "drivers/nvme/emu/inject.h"
#include "../nvme-host/nvme-fixture.h"

#define VICTIM_LEN (16UL << 20)
#define CANARY	   0xc5

struct ctx {
	struct nfix x;
	uint8_t *victim; /* gpu0's DMA buffer */
	dma_addr_t victim_dma;
	uint64_t stray; /* the IOVA of its last page: gpu0's, not the controller's */
	struct iommu_domain *dom; /* the controller's */
	unsigned int blocked_msgs;
};

static void count_blocked(int level, int guest, const char *msg, void *arg)
{
	struct ctx *c = arg;

	if (strstr(msg, "blocked by the IOMMU"))
		__atomic_add_fetch(&c->blocked_msgs, 1, __ATOMIC_RELAXED);
	else if (level == HETMEM_LOG_ERR)
		fprintf(stderr, "%s\n", msg);
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c || nfix_build(&c->x, &(struct nfix_opts){ 0 }))
		return -1;
	c->victim = nfix_alloc(VICTIM_LEN);
	memset(c->victim + VICTIM_LEN - 4096, CANARY, 4096);
	c->victim_dma = dma_map_single(c->x.gpu0, c->victim, VICTIM_LEN, DMA_BIDIRECTIONAL);
	if (dma_mapping_error(c->x.gpu0, c->victim_dma))
		return -1;
	c->stray = c->victim_dma + VICTIM_LEN - 4096;
	c->dom = iommu_get_domain_for_dev(c->x.nvme[0]);
	hetmem_log_set_level(HETMEM_LOG_WARN);
	hetmem_log_set_handler(count_blocked, c);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	hetmem_log_set_handler(NULL, NULL);
	dma_unmap_single(c->x.gpu0, c->victim_dma, VICTIM_LEN, DMA_BIDIRECTIONAL);
	nfix_destroy(&c->x);
	free(c->victim);
	free(c);
	return 0;
}

static void arm(struct ctx *c, uint8_t opcode)
{
	struct nvme_emu_fault f = {
		.type = NVME_EMU_FAULT_STRAY_DMA,
		.sqid = NVME_EMU_FAULT_ANY_IO_SQ,
		.opcode = opcode,
		.count = 1,
		.stray_addr = c->stray,
	};

	assert_int_equal(nvme_emu_inject(c->x.emu[0], &f), 0);
}

/* The newest Error Information entry of SQ @sqid carries @sc. */
static void check_error_log(struct ctx *c, unsigned int sqid, uint16_t sc)
{
	struct nvme_error_log_entry *log = nfix_alloc(64 * sizeof(*log));
	struct nvme_command cmd = { .opcode = nvme_admin_get_log_page };
	uint64_t newest = 0;
	uint16_t status = 0;

	cmd.cdw10 = ((64 * sizeof(*log) / 4 - 1) << 16) | NVME_LOG_ERROR;
	assert_int_equal(
		nvme_admin_cmd(c->x.ctrl[0], &cmd, log, 64 * sizeof(*log), DMA_FROM_DEVICE, NULL),
		0);
	for (int i = 0; i < 64; i++) {
		if (log[i].sqid == sqid && log[i].error_count > newest) {
			newest = log[i].error_count;
			status = log[i].status_field >> 1;
		}
	}
	assert_true(newest > 0);
	assert_int_equal(status & 0x7ff, sc);
	free(log);
}

static void check_fault(struct ctx *c, uint64_t faults_before, uint64_t rc_before, int prot)
{
	struct iommu_fault last;
	struct pci_rc_stats rc;

	assert_int_equal(iommu_domain_faults(c->dom, &last), faults_before + 1);
	assert_int_equal(last.iova, c->stray);
	assert_int_equal(last.prot, prot);
	assert_string_equal(last.requester, pci_name(c->x.nvme[0]));
	pci_rc_stats_get(c->x.hb, &rc);
	assert_int_equal(rc.iommu_faults, rc_before + 1);
}

static void test_stray_read_data_blocked(void **state)
{
	struct ctx *c = *state;
	struct nvme_ns *ns = nvme_ctrl_ns(c->x.ctrl[0], 1);
	uint8_t *buf = nfix_alloc(4096);
	struct nvme_ctrl_stats st;
	uint64_t faults = iommu_domain_faults(c->dom, NULL);
	struct pci_rc_stats rc;

	/* The stray page belongs to gpu0 only. */
	assert_int_equal(iommu_iova_to_phys(c->dom, c->stray), 0);
	assert_int_equal(iommu_iova_to_phys(iommu_get_domain_for_dev(c->x.gpu0), c->stray),
			 (uintptr_t)c->victim + VICTIM_LEN - 4096);
	pci_rc_stats_get(c->x.hb, &rc);
	memset(buf, 0, 4096);
	arm(c, nvme_cmd_read);
	/* A Data Transfer Error may succeed on retry: no DNR. */
	assert_int_equal(nvme_read(ns, c->x.qp[0], buf, 0, 8), NVME_SC_DATA_XFER_ERROR);
	assert_int_equal(nvme_emu_inject_hits(c->x.emu[0]), 1);
	check_fault(c, faults, rc.iommu_faults, IOMMU_WRITE);
	assert_true(__atomic_load_n(&c->blocked_msgs, __ATOMIC_RELAXED) >= 1);
	for (int i = 0; i < 4096; i++) {
		assert_int_equal(c->victim[VICTIM_LEN - 4096 + i], CANARY);
		assert_int_equal(buf[i], 0);
	}
	check_error_log(c, nvme_qpair_id(c->x.qp[0]), NVME_SC_DATA_XFER_ERROR);
	/* Nothing else is affected: the next I/O works, and nothing was reset. */
	nfix_round_trip(&c->x, 1, 0, 0, 8, 21);
	nvme_ctrl_get_stats(c->x.ctrl[0], &st);
	assert_int_equal(st.resets, 0);
	assert_int_equal(st.timeouts, 0);
	free(buf);
}

static void test_stray_write_data_blocked(void **state)
{
	struct ctx *c = *state;
	struct nvme_ns *ns = nvme_ctrl_ns(c->x.ctrl[0], 1);
	uint8_t *old = nfix_alloc(4096), *buf = nfix_alloc(4096), *media = nfix_alloc(4096);
	uint64_t faults = iommu_domain_faults(c->dom, NULL);
	struct pci_rc_stats rc;

	nfix_fill(old, 4096, 31);
	assert_int_equal(nvme_write(ns, c->x.qp[0], old, 256, 8), 0);
	pci_rc_stats_get(c->x.hb, &rc);
	nfix_fill(buf, 4096, 32);
	arm(c, nvme_cmd_write);
	assert_int_equal(nvme_write(ns, c->x.qp[0], buf, 256, 8), NVME_SC_DATA_XFER_ERROR);
	check_fault(c, faults, rc.iommu_faults, IOMMU_READ);
	/* The media still holds the old data: nothing was read from gpu0's page. */
	assert_int_equal(nvme_read(ns, c->x.qp[0], media, 256, 8), 0);
	assert_memory_equal(media, old, 4096);
	/* The same write without the fault goes through. */
	assert_int_equal(nvme_write(ns, c->x.qp[0], buf, 256, 8), 0);
	assert_int_equal(nvme_read(ns, c->x.qp[0], media, 256, 8), 0);
	assert_memory_equal(media, buf, 4096);
	free(old);
	free(buf);
	free(media);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stray_read_data_blocked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stray_write_data_blocked, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
