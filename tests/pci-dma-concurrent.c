// SPDX-License-Identifier: MIT
/*
 * Concurrent DMA: device threads move data peer-to-peer and to host memory
 * while another thread reprograms ACS on an unrelated port and maps and
 * unmaps unrelated IOVAs. Every transfer lands intact and the link counters
 * add up exactly. Runs under TSan too.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "fabric-fixture.h"

#define PG 4096
#define ROUNDS 2000
#define CHUNK (8 * PG)

struct ctx {
	struct fixture x;
	struct iommu_domain *dom;
	uint8_t *host;
	int stop;
	int errors;
};

/* a writes CHUNK-sized stamped blocks into slot @id of b's BAR and checks them. */
static void *p2p_writer(void *arg)
{
	struct ctx *c = arg;
	uint8_t *buf = malloc(CHUNK), *bmem = pci_iomap(c->x.b, 2);
	uint64_t base = pci_bus_address(c->x.b, 2);

	for (int r = 0; r < ROUNDS; r++) {
		memset(buf, (uint8_t)r, CHUNK);
		if (pci_dma_write(c->x.a, base, buf, CHUNK) ||
		    memcmp(bmem, buf, CHUNK))
			__atomic_add_fetch(&c->errors, 1, __ATOMIC_RELAXED);
	}
	free(buf);
	return NULL;
}

/* c reads host memory through its IOMMU mapping. */
static void *host_reader(void *arg)
{
	struct ctx *c = arg;
	uint8_t *buf = malloc(CHUNK);

	for (int r = 0; r < ROUNDS; r++)
		if (pci_dma_read(c->x.c, 0x100000, buf, CHUNK) || buf[0] != 0x5c ||
		    buf[CHUNK - 1] != 0x5c)
			__atomic_add_fetch(&c->errors, 1, __ATOMIC_RELAXED);
	free(buf);
	return NULL;
}

/* Reconfigures what the transfers above must not depend on. */
static void *meddler(void *arg)
{
	struct ctx *c = arg;
	static uint8_t page[PG] __attribute__((aligned(PG)));
	int i = 0;

	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		pci_write_config_word(c->x.dsp1, 0x100 + PCI_ACS_CTRL, (i & 1) ? PCI_ACS_RR : 0);
		if (iommu_map(c->dom, 0x900000, (uintptr_t)page, PG, IOMMU_READ) == 0)
			iommu_unmap(c->dom, 0x900000, PG);
		i++;
	}
	pci_write_config_word(c->x.dsp1, 0x100 + PCI_ACS_CTRL, 0);
	return NULL;
}

/* Concurrent transfers and reconfiguration: every byte lands and every counter adds up. */
static void test_concurrent(void **state)
{
	struct ctx c = { 0 };
	struct fixture_opts o = { 0 };
	pthread_t t[3];

	assert_int_equal(fixture_build(&c.x, &o), 0);
	c.dom = iommu_domain_alloc();
	c.host = aligned_alloc(PG, CHUNK);
	memset(c.host, 0x5c, CHUNK);
	assert_int_equal(iommu_attach_device(c.dom, c.x.c), 0);
	assert_int_equal(iommu_map(c.dom, 0x100000, (uintptr_t)c.host, CHUNK, IOMMU_READ), 0);
	pci_set_master(c.x.a);
	pci_set_master(c.x.c);

	pthread_create(&t[0], NULL, p2p_writer, &c);
	pthread_create(&t[1], NULL, host_reader, &c);
	pthread_create(&t[2], NULL, meddler, &c);
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	__atomic_store_n(&c.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t[2], NULL);

	assert_int_equal(c.errors, 0);
	assert_int_equal(link_bytes(c.x.a, PCI_LINK_UP), (uint64_t)ROUNDS * CHUNK);
	assert_int_equal(link_bytes(c.x.b, PCI_LINK_DOWN), (uint64_t)ROUNDS * CHUNK);
	assert_int_equal(link_bytes(c.x.c, PCI_LINK_DOWN), (uint64_t)ROUNDS * CHUNK);
	assert_int_equal(rc_stats(c.x.hb0).mem_bytes[1], (uint64_t)ROUNDS * CHUNK);
	assert_int_equal(rc_stats(c.x.hb0).p2p_bytes, 0);

	iommu_detach_device(c.dom, c.x.c);
	iommu_domain_free(c.dom);
	fixture_destroy(&c.x);
	free(c.host);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent),
	};

	quiet_logs();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
