// SPDX-License-Identifier: MIT
/*
 * Description: NVMe reads into (and writes from) "GPU" memory allocated
 * from a peer's published p2pmem, in the three map types, with checksums
 * over a multi-MiB transfer and the fabric's link counters as the proof of
 * the path taken: BUS_ADDR stays below the switch (no data through the
 * root port or the root complex), THRU_HOST_BRIDGE crosses the root
 * complex as peer traffic, NOT_SUPPORTED bounces through system memory and
 * says so once.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "nvme-fixture.h"

#define LEN (4 << 20)

struct ctx {
	struct nfix x;
	struct nvme_ns *ns;
	uint8_t *pat, *host;
};

static int setup_hb(void **state, uint16_t hb_device)
{
	struct nfix_opts o = { .hb_device = hb_device };
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c || nfix_build(&c->x, &o))
		return -1;
	c->ns = nvme_ctrl_ns(c->x.ctrl[0], 1);
	c->pat = nfix_alloc(LEN);
	c->host = nfix_alloc(LEN);
	nfix_fill(c->pat, LEN, 42);
	/* The namespace holds the pattern, written from system memory. */
	if (nvme_write(c->ns, c->x.qp[0], c->pat, 0, LEN >> 9))
		return -1;
	*state = c;
	return 0;
}

/* The whitelisted host bridge 8086:09a2: peer traffic may cross it. */
static int setup(void **state)
{
	return setup_hb(state, 0x09a2);
}

/* 8086:3e30 is not on the kernel's list: no peer traffic between root ports. */
static int setup_unlisted(void **state)
{
	return setup_hb(state, 0x3e30);
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	nfix_destroy(&c->x);
	free(c->pat);
	free(c->host);
	free(c);
	return 0;
}

static uint64_t bounced(struct ctx *c)
{
	struct nvme_ctrl_stats st;

	nvme_ctrl_get_stats(c->x.ctrl[0], &st);
	return st.bounced_ios;
}

/* Same switch: the controller writes the GPU BAR directly; only completions reach the root port. */
static void test_bus_addr(void **state)
{
	struct ctx *c = *state;
	struct nfix *x = &c->x;
	uint8_t *gpu = pci_alloc_p2pmem(x->gpu0, LEN);
	struct pci_rc_stats rc;

	assert_non_null(gpu);
	assert_int_equal(pci_p2pdma_map_type_of(x->gpu0, x->nvme[0], NULL, 0),
			 PCI_P2PDMA_MAP_BUS_ADDR);
	pci_fabric_reset_stats(x->f);
	assert_int_equal(nvme_read(c->ns, x->qp[0], gpu, 0, LEN >> 9), 0);
	assert_int_equal(nfix_sum(gpu, LEN), nfix_sum(c->pat, LEN));
	assert_int_equal(nfix_link(x->gpu0, PCI_LINK_DOWN), LEN);
	rc = nfix_rc(x->hb);
	assert_int_equal(rc.p2p_bytes, 0);
	/* Only 16-byte completion entries go up to host memory: no data. */
	assert_true(nfix_link(x->rp0, PCI_LINK_UP) < 4096);
	assert_true(rc.mem_bytes[0] < 4096);
	assert_int_equal(nfix_link(x->rp1, PCI_LINK_DOWN), 0);
	assert_int_equal(bounced(c), 0);

	/* And back: a write from GPU memory reads the BAR switch-locally. */
	nfix_fill(gpu, LEN, 43);
	pci_fabric_reset_stats(x->f);
	assert_int_equal(nvme_write(c->ns, x->qp[0], gpu, 0, LEN >> 9), 0);
	assert_int_equal(nfix_link(x->gpu0, PCI_LINK_UP), LEN);
	assert_int_equal(nfix_rc(x->hb).p2p_bytes, 0);
	assert_true(nfix_rc(x->hb).mem_bytes[1] < LEN / 64); /* SQEs and PRP lists only */
	assert_int_equal(nvme_read(c->ns, x->qp[0], c->host, 0, LEN >> 9), 0);
	assert_memory_equal(c->host, gpu, LEN);
	pci_free_p2pmem(x->gpu0, gpu, LEN);
}

/* Another root port of a whitelisted host bridge: an IOVA, the data crosses the root complex. */
static void test_thru_host_bridge(void **state)
{
	struct ctx *c = *state;
	struct nfix *x = &c->x;
	uint8_t *gpu = pci_alloc_p2pmem(x->gpu1, LEN);

	assert_non_null(gpu);
	assert_int_equal(pci_p2pdma_map_type_of(x->gpu1, x->nvme[0], NULL, 0),
			 PCI_P2PDMA_MAP_THRU_HOST_BRIDGE);
	pci_fabric_reset_stats(x->f);
	assert_int_equal(nvme_read(c->ns, x->qp[0], gpu, 0, LEN >> 9), 0);
	assert_int_equal(nfix_sum(gpu, LEN), nfix_sum(c->pat, LEN));
	assert_int_equal(nfix_rc(x->hb).p2p_bytes, LEN);
	assert_int_equal(nfix_link(x->gpu1, PCI_LINK_DOWN), LEN);
	assert_true(nfix_link(x->rp0, PCI_LINK_UP) >= LEN);
	assert_int_equal(nfix_link(x->gpu0, PCI_LINK_DOWN), 0);
	assert_int_equal(bounced(c), 0);
	pci_free_p2pmem(x->gpu1, gpu, LEN);
}

struct captured {
	int bounce_msgs;
};

static void capture(int level, int guest, const char *msg, void *arg)
{
	struct captured *cap = arg;

	if (strstr(msg, "bouncing"))
		cap->bounce_msgs++;
}

/* Unreachable: the driver bounces through system memory, the data is right, and it says so once. */
static void test_not_supported_bounces(void **state)
{
	struct ctx *c = *state;
	struct nfix *x = &c->x;
	uint8_t *gpu = pci_alloc_p2pmem(x->gpu1, LEN);
	size_t cmds = LEN / nvme_ctrl_max_transfer(x->ctrl[0]);
	struct captured cap = { 0 };
	int level;

	assert_non_null(gpu);
	assert_int_equal(pci_p2pdma_map_type_of(x->gpu1, x->nvme[0], NULL, 0),
			 PCI_P2PDMA_MAP_NOT_SUPPORTED);
	/* Switch-local P2P is unaffected by the host bridge. */
	assert_int_equal(pci_p2pdma_map_type_of(x->gpu0, x->nvme[0], NULL, 0),
			 PCI_P2PDMA_MAP_BUS_ADDR);
	level = hetmem_log_set_level(HETMEM_LOG_INFO);
	hetmem_log_set_handler(capture, &cap);
	pci_fabric_reset_stats(x->f);
	assert_int_equal(nvme_read(c->ns, x->qp[0], gpu, 0, LEN >> 9), 0);
	assert_int_equal(nfix_sum(gpu, LEN), nfix_sum(c->pat, LEN));
	assert_int_equal(bounced(c), cmds);
	/* The controller never touched the GPU: the data went to host memory, the CPU copied it. */
	assert_int_equal(nfix_link(x->gpu1, PCI_LINK_DOWN), 0);
	assert_int_equal(nfix_rc(x->hb).p2p_bytes, 0);
	assert_true(nfix_rc(x->hb).mem_bytes[0] >= LEN);
	/* The write direction bounces too, and the data lands in the namespace. */
	nfix_fill(gpu, LEN, 44);
	assert_int_equal(nvme_write(c->ns, x->qp[0], gpu, 0, LEN >> 9), 0);
	assert_int_equal(bounced(c), 2 * cmds);
	assert_int_equal(nvme_read(c->ns, x->qp[0], c->host, 0, LEN >> 9), 0);
	assert_memory_equal(c->host, gpu, LEN);
	hetmem_log_set_handler(NULL, NULL);
	hetmem_log_set_level(level);
	assert_int_equal(cap.bounce_msgs, 1);
	pci_free_p2pmem(x->gpu1, gpu, LEN);
}

/* A failed read leaves the bounced P2P buffer as it was: no stale bounce data copied in. */
static void test_bounce_failure_leaves_buffer(void **state)
{
	struct ctx *c = *state;
	struct nfix *x = &c->x;
	uint8_t *gpu = pci_alloc_p2pmem(x->gpu1, 8192);

	memset(gpu, 0x3c, 8192);
	assert_int_equal(nvme_read(c->ns, x->qp[0], gpu, c->ns->nr_blocks - 8, 16) & 0x7ff,
			 NVME_SC_LBA_RANGE);
	for (int i = 0; i < 8192; i++)
		assert_int_equal(gpu[i], 0x3c);
	pci_free_p2pmem(x->gpu1, gpu, 8192);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bus_addr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thru_host_bridge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_supported_bounces, setup_unlisted,
						teardown),
		cmocka_unit_test_setup_teardown(test_bounce_failure_leaves_buffer, setup_unlisted,
						teardown),
	};

	nfix_quiet();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
