// SPDX-License-Identifier: MIT
/*
 * White-box test of one function's configuration space: write masks,
 * write-one-to-clear bits, BAR sizing and window decode, without a fabric.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "internal.h"

static struct pci_dev *endpoint(void)
{
	static struct pci_dev dev;
	struct pci_endpoint_info info = {
		.name = "ep", .vendor = 0x4854, .device = 0x1, .class = 0x010802,
		.bar = { [0] = { .size = 16384, .flags = PCI_BAR_MEM64 },
			 [2] = { .size = 1ULL << 33, .flags = PCI_BAR_MEM64 | PCI_BAR_PREFETCH },
			 [4] = { .size = 4096 } },
	};

	memset(&dev, 0, sizeof(dev));
	dev.kind = PCI_KIND_ENDPOINT;
	for (int i = 0; i < PCI_STD_NUM_BARS_HM; i++) {
		dev.bar[i].size = info.bar[i].size;
		dev.bar[i].flags = info.bar[i].flags;
	}
	pci_config_init_endpoint(&dev, &info);
	pci_config_decode(&dev);
	return &dev;
}

/* IDs and class are read-only; the class code carries the prog-if. */
static void test_ids_read_only(void **state)
{
	struct pci_dev *dev = endpoint();

	pci_config_write(dev, PCI_VENDOR_ID, 4, 0x12345678);
	assert_int_equal(pci_config_read(dev, PCI_VENDOR_ID, 2), 0x4854);
	assert_int_equal(pci_config_read(dev, PCI_DEVICE_ID, 2), 0x1);
	pci_config_write(dev, PCI_CLASS_REVISION, 4, 0);
	assert_int_equal(pci_config_read(dev, PCI_CLASS_REVISION, 4) >> 8, 0x010802);
}

/* Writing all ones to a BAR reads back the size mask and the read-only type bits. */
static void test_bar_sizing_masks(void **state)
{
	struct pci_dev *dev = endpoint();

	pci_config_write(dev, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
	assert_int_equal(pci_config_read(dev, PCI_BASE_ADDRESS_0, 4), 0xffffc004);
	pci_config_write(dev, PCI_BASE_ADDRESS_1, 4, 0xffffffff);
	assert_int_equal(pci_config_read(dev, PCI_BASE_ADDRESS_1, 4), 0xffffffff);

	/* An 8 GiB BAR: nothing writable in the low dword's address bits. */
	pci_config_write(dev, PCI_BASE_ADDRESS_2, 4, 0xffffffff);
	assert_int_equal(pci_config_read(dev, PCI_BASE_ADDRESS_2, 4), 0x0000000c);
	pci_config_write(dev, PCI_BASE_ADDRESS_3, 4, 0xffffffff);
	assert_int_equal(pci_config_read(dev, PCI_BASE_ADDRESS_3, 4), 0xfffffffe);

	/* A 32-bit 4 KiB BAR. */
	pci_config_write(dev, PCI_BASE_ADDRESS_4, 4, 0xffffffff);
	assert_int_equal(pci_config_read(dev, PCI_BASE_ADDRESS_4, 4), 0xfffff000);

	/* Unimplemented BARs read zero whatever is written. */
	pci_config_write(dev, PCI_BASE_ADDRESS_5, 4, 0xffffffff);
	assert_int_equal(pci_config_read(dev, PCI_BASE_ADDRESS_5, 4), 0);
}

/* A programmed 64-bit BAR decodes to its full address. */
static void test_bar_decode(void **state)
{
	struct pci_dev *dev = endpoint();

	pci_config_write(dev, PCI_BASE_ADDRESS_2, 4, 0x0);
	pci_config_write(dev, PCI_BASE_ADDRESS_3, 4, 0x82);
	assert_int_equal(dev->bar[2].addr, 0x8200000000ULL);
	pci_config_write(dev, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	assert_true(dev->mem_enable);
	assert_true(dev->master);
}

/* Error bits in the status register clear when written with one, ignore zero. */
static void test_status_w1c(void **state)
{
	struct pci_dev *dev = endpoint();

	dev->cfg.data[PCI_STATUS + 1] |= PCI_STATUS_REC_MASTER_ABORT >> 8;
	pci_config_write(dev, PCI_STATUS, 2, 0);
	assert_true(pci_config_read(dev, PCI_STATUS, 2) & PCI_STATUS_REC_MASTER_ABORT);
	pci_config_write(dev, PCI_STATUS, 2, PCI_STATUS_REC_MASTER_ABORT);
	assert_false(pci_config_read(dev, PCI_STATUS, 2) & PCI_STATUS_REC_MASTER_ABORT);
	/* The capability-list bit is read-only. */
	assert_true(pci_config_read(dev, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
}

/* Bridge windows decode in 1 MiB granules; base above limit means closed. */
static void test_bridge_windows(void **state)
{
	static struct pci_dev port;

	memset(&port, 0, sizeof(port));
	port.kind = PCI_KIND_DSP;
	pci_config_init_port(&port, PCI_EXP_TYPE_DOWNSTREAM, PCI_ACS_RR);
	pci_config_decode(&port);
	assert_int_equal(port.acs_ctrl, PCI_ACS_RR);

	pci_config_write(&port, PCI_MEMORY_BASE, 2, 0xc010);
	pci_config_write(&port, PCI_MEMORY_LIMIT, 2, 0xc02f);
	assert_int_equal(port.win_mem.base, 0xc0100000);
	assert_int_equal(port.win_mem.size, 0x200000);

	pci_config_write(&port, PCI_PREF_MEMORY_BASE, 2, 0x0000);
	pci_config_write(&port, PCI_PREF_BASE_UPPER32, 4, 0x80);
	pci_config_write(&port, PCI_PREF_MEMORY_LIMIT, 2, 0x0ff0);
	pci_config_write(&port, PCI_PREF_LIMIT_UPPER32, 4, 0x80);
	assert_int_equal(port.win_pref.base, 0x8000000000ULL);
	assert_int_equal(port.win_pref.size, 0x10000000);
	/* The 64-bit type nibble is read-only. */
	assert_int_equal(pci_config_read(&port, PCI_PREF_MEMORY_BASE, 2) & 0xf,
			 PCI_PREF_RANGE_TYPE_64);

	pci_config_write(&port, PCI_MEMORY_BASE, 2, 0xfff0);
	pci_config_write(&port, PCI_MEMORY_LIMIT, 2, 0x0000);
	assert_int_equal(port.win_mem.size, 0);

	/* ACS control accepts only advertised bits. */
	pci_config_write(&port, PCI_ACS_CAP_OFF + PCI_ACS_CTRL, 2, 0xffff);
	assert_int_equal(port.acs_ctrl & ~0x7f, 0);
	assert_true(port.acs_ctrl & PCI_ACS_EC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids_read_only),
		cmocka_unit_test(test_bar_sizing_masks),
		cmocka_unit_test(test_bar_decode),
		cmocka_unit_test(test_status_w1c),
		cmocka_unit_test(test_bridge_windows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
