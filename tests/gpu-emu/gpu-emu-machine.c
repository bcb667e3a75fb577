// SPDX-License-Identifier: MIT
/*
 * The "gpu" machine model: gpu0 and gpu1 of the default machine are
 * running emulated GPUs with the BARs the plain endpoints had (BAR0 16M
 * 64-bit, BAR2 256M 64-bit prefetchable) and 1 GiB of VRAM; gpu0's copy
 * engine reaches nvme0's CMB below the same switch without touching the
 * root complex; vram and bar2 reach the device; bad values are refused
 * with the line that holds them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <hetmem/machine.h>

#include "fabric-fixture.h"
#include "tgpu.h"

/* Drive @name of @m with the test driver. */
static void attach(struct tgpu *t, struct machine *m, const char *name)
{
	memset(t, 0, sizeof(*t));
	t->f = machine_fabric(m);
	t->pdev = machine_find(m, name);
	assert_non_null(t->pdev);
	t->emu = gpu_emu_from_pdev(t->pdev);
	assert_non_null(t->emu);
	pci_set_master(t->pdev);
}

/*
 * Stop the channels, then free what the device wrote: a command's status
 * word comes before its fence, so a buffer freed as soon as the status
 * says done may still take the fence.
 */
static void detach(struct tgpu *t)
{
	for (unsigned int c = 0; c < GPU_NR_CHANNELS; c++) {
		if (!t->ch[c].ring.cpu)
			continue;
		assert_true(tg_wait_reg(t, GPU_CH_REG(c, GPU_CH_STATUS), GPU_CH_STS_IDLE,
					GPU_CH_STS_IDLE));
		tg_wr32(t, GPU_CH_REG(c, GPU_CH_CTRL), 0);
		assert_true(tg_wait_reg(t, GPU_CH_REG(c, GPU_CH_STATUS), GPU_CH_STS_ENABLED, 0));
	}
	for (unsigned int i = 0; i < t->nr_bufs; i++) {
		dma_unmap_single(t->pdev, t->bufs[i].dma, t->bufs[i].len, DMA_BIDIRECTIONAL);
		free(t->bufs[i].cpu);
	}
	t->nr_bufs = 0;
}

static void test_default_machine(void **state)
{
	char err[256] = "";
	struct machine *m = machine_load(NULL, err, sizeof(err));
	struct pci_dev *nvme;
	struct tg_buf src;
	struct tgpu t;
	struct gpu_cmd c;

	assert_false(IS_ERR_OR_NULL(m));
	for (int g = 0; g < 2; g++) {
		attach(&t, m, g ? "gpu1" : "gpu0");
		assert_int_equal(pci_dev_vendor(t.pdev), 0x4854);
		assert_int_equal(pci_dev_device(t.pdev), 0x0002);
		assert_int_equal(pci_dev_class(t.pdev), 0x030200);
		assert_int_equal(pci_resource_len(t.pdev, 0), 16 << 20);
		assert_int_equal(pci_resource_flags(t.pdev, 0), PCI_BAR_MEM64);
		assert_int_equal(pci_resource_len(t.pdev, 2), 256 << 20);
		assert_int_equal(pci_resource_flags(t.pdev, 2), PCI_BAR_MEM64 | PCI_BAR_PREFETCH);
		assert_int_equal(tg_rd32(&t, GPU_REG_ID), GPU_ID_MAGIC);
		assert_int_equal(tg_rd64(&t, GPU_REG_VRAM_SIZE), 1 << 30);
		assert_int_equal(tg_rd64(&t, GPU_REG_VRAM_VISIBLE), 256 << 20);
	}
	nvme = machine_find(m, "nvme0");
	assert_null(gpu_emu_from_pdev(nvme));

	/* gpu0's engine writes nvme0's CMB: a turn inside sw0. */
	attach(&t, m, "gpu0");
	assert_true(tg_ch_enable(&t, TG_CH_WORK));
	src = tg_alloc(&t, 64 << 10);
	memset(src.cpu, 0x6b, src.len);
	c = tg_copy(300 << 20, GPU_APERTURE_VRAM, src.dma, GPU_APERTURE_SYSTEM, src.len);
	assert_int_equal(tg_run(&t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
	pci_fabric_reset_stats(t.f);
	c = tg_copy(pci_bus_address(nvme, 2), GPU_APERTURE_SYSTEM, 300 << 20, GPU_APERTURE_VRAM,
		    src.len);
	assert_int_equal(tg_run(&t, TG_CH_WORK, &c), GPU_SC_SUCCESS);
	assert_memory_equal(pci_iomap(nvme, 2), src.cpu, src.len);
	assert_int_equal(link_bytes(nvme, PCI_LINK_DOWN), src.len);
	assert_int_equal(rc_stats(pci_host_bridge_of(nvme)).p2p_bytes, 0);
	detach(&t);
	machine_destroy(m);
}

static struct machine *load(const char *keys, char *err, size_t errlen)
{
	char text[1024];

	snprintf(text, sizeof(text),
		 "[host-bridge hb0]\n"
		 "[root-port rp0]\n"
		 "parent = hb0\n"
		 "[endpoint g]\n"
		 "parent = rp0\n"
		 "model = gpu\n"
		 "%s",
		 keys);
	return machine_load_string(text, "gpu.ini", err, errlen);
}

static void test_model_keys(void **state)
{
	char err[256] = "";
	struct machine *m;
	struct tgpu t;

	m = load("vram = 64M\nbar2 = 16M\n", err, sizeof(err));
	assert_false(IS_ERR_OR_NULL(m));
	attach(&t, m, "g");
	assert_int_equal(tg_rd64(&t, GPU_REG_VRAM_SIZE), 64 << 20);
	assert_int_equal(tg_rd64(&t, GPU_REG_VRAM_VISIBLE), 16 << 20);
	assert_int_equal(pci_resource_len(t.pdev, 2), 16 << 20);
	assert_int_equal(pci_dev_class(t.pdev), GPU_CLASS);
	assert_int_equal(pci_dev_device(t.pdev), GPU_DEVICE_ID);
	machine_destroy(m);

	/* The generic spelling of BAR2, and the default window for a small VRAM. */
	m = load("vram = 6M\nbar2 = 4M 64 pref\ndevice = 0x1234\n", err, sizeof(err));
	assert_false(IS_ERR_OR_NULL(m));
	attach(&t, m, "g");
	assert_int_equal(tg_rd64(&t, GPU_REG_VRAM_VISIBLE), 4 << 20);
	assert_int_equal(pci_dev_device(t.pdev), 0x1234);
	machine_destroy(m);
	m = load("vram = 6M\n", err, sizeof(err));
	assert_false(IS_ERR_OR_NULL(m));
	attach(&t, m, "g");
	assert_int_equal(tg_rd64(&t, GPU_REG_VRAM_VISIBLE), 4 << 20);
	machine_destroy(m);
	m = load("", err, sizeof(err));
	assert_false(IS_ERR_OR_NULL(m));
	attach(&t, m, "g");
	assert_int_equal(tg_rd64(&t, GPU_REG_VRAM_SIZE), 1 << 30);
	assert_int_equal(tg_rd64(&t, GPU_REG_VRAM_VISIBLE), 256 << 20);
	machine_destroy(m);
}

static void expect_refused(const char *keys, const char *where)
{
	char err[256] = "";
	struct machine *m = load(keys, err, sizeof(err));

	assert_true(IS_ERR(m));
	if (!strstr(err, where)) {
		print_error("got \"%s\", expected it to contain \"%s\"\n", err, where);
		fail();
	}
}

static void test_bad_keys(void **state)
{
	expect_refused("bar0 = 16M 64\n", "gpu.ini:7: bar0: set by the gpu model");
	expect_refused("bar4 = 4K\n", "gpu.ini:7: bar4");
	expect_refused("vram = 3K\n", "gpu.ini:7: vram = 3K");
	expect_refused("vram = 0\n", "gpu.ini:7: vram = 0");
	expect_refused("bar2 = 3M\n", "gpu.ini:7: bar2 = 3M");
	expect_refused("bar2 = 512K\n", "gpu.ini:7: bar2 = 512K");
	expect_refused("bar2 = 16M 64\n", "gpu.ini:7: bar2 = 16M 64");
	expect_refused("vram = 32M\nbar2 = 64M\n", "gpu.ini:8: g: the VRAM window");
	expect_refused("vram = 512K\n", "gpu.ini:4: g: the VRAM window");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_machine),
		cmocka_unit_test(test_model_keys),
		cmocka_unit_test(test_bad_keys),
	};

	quiet_logs();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
