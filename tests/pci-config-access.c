// SPDX-License-Identifier: MIT
/*
 * Malformed and stray configuration accesses behave as PCIe does: all-ones
 * reads, dropped writes, a guest error logged; nothing crashes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <cmocka.h>

#include "fabric-fixture.h"

static int setup(void **state)
{
	static struct fixture x;
	struct fixture_opts o = { 0 };

	quiet_logs();
	if (fixture_build(&x, &o))
		return -1;
	*state = &x;
	return 0;
}

static int teardown(void **state)
{
	fixture_destroy(*state);
	return 0;
}

/* Reads of absent functions, buses and domains return all ones of the access size. */
static void test_absent_reads_all_ones(void **state)
{
	struct fixture *x = *state;

	assert_int_equal(pci_cfg_read(x->f, 0x1000, 3, PCI_DEVFN(0, 1), 0, 4), 0xffffffff);
	assert_int_equal(pci_cfg_read(x->f, 0x1000, 3, PCI_DEVFN(1, 0), 0, 2), 0xffff);
	assert_int_equal(pci_cfg_read(x->f, 0x1000, 0x40, 0, 0, 1), 0xff);
	assert_int_equal(pci_cfg_read(x->f, 0x7777, 0, 0, 0, 4), 0xffffffff);
	assert_int_equal(pci_cfg_read(x->f, 0x1000, 300, 0, 0, 4), 0xffffffff);
}

/* Misaligned, oversized and out-of-range accesses read all ones and count a guest error each. */
static void test_malformed_reads(void **state)
{
	struct fixture *x = *state;
	unsigned long before = hetmem_guest_errors();

	assert_int_equal(pci_cfg_read(x->f, 0x1000, 3, 0, 1, 2), 0xffff);
	assert_int_equal(pci_cfg_read(x->f, 0x1000, 3, 0, 2, 4), 0xffffffff);
	assert_int_equal(pci_cfg_read(x->f, 0x1000, 3, 0, 4094, 4), 0xffffffff);
	assert_int_equal(pci_cfg_read(x->f, 0x1000, 3, 0, 4096, 1), 0xff);
	assert_int_equal(pci_cfg_read(x->f, 0x1000, 3, 0, 0, 3), 0xffffff);
	assert_int_equal(pci_cfg_read(x->f, 0x1000, 3, 0, 0, 8), 0xffffffff);
	assert_int_equal(hetmem_guest_errors(), before + 6);
}

/* Malformed writes are dropped, and writes to absent functions vanish. */
static void test_malformed_writes_dropped(void **state)
{
	struct fixture *x = *state;
	uint32_t cmd = pci_cfg_read(x->f, 0x1000, 3, 0, PCI_COMMAND, 2);
	unsigned long before = hetmem_guest_errors();

	pci_cfg_write(x->f, 0x1000, 3, 0, PCI_COMMAND + 1, 2, 0xffff);
	pci_cfg_write(x->f, 0x1000, 3, 0, 4095, 2, 0xffff);
	pci_cfg_write(x->f, 0x1000, 3, 0, PCI_COMMAND, 3, 0xffffff);
	assert_int_equal(hetmem_guest_errors(), before + 3);
	assert_int_equal(pci_cfg_read(x->f, 0x1000, 3, 0, PCI_COMMAND, 2), cmd);
	pci_cfg_write(x->f, 0x1000, 3, PCI_DEVFN(3, 0), PCI_COMMAND, 2, 0xffff);
	pci_cfg_write(x->f, 0x5555, 0, 0, PCI_COMMAND, 2, 0xffff);
	assert_int_equal(hetmem_guest_errors(), before + 3);
}

/* The device-level helpers return -EINVAL for malformed accesses and leave all ones. */
static void test_helpers_einval(void **state)
{
	struct fixture *x = *state;
	uint32_t v = 0;
	uint16_t w = 0;

	assert_int_equal(pci_read_config_dword(x->a, 2, &v), -EINVAL);
	assert_int_equal(v, 0xffffffff);
	assert_int_equal(pci_read_config_word(x->a, 4095, &w), -EINVAL);
	assert_int_equal(w, 0xffff);
	assert_int_equal(pci_read_config_dword(x->a, -4, &v), -EINVAL);
	assert_int_equal(pci_write_config_word(x->a, 1, 0), -EINVAL);
	assert_int_equal(pci_write_config_dword(x->a, 4096, 0), -EINVAL);
}

/* Read-only registers keep their values under writes; unimplemented space reads zero. */
static void test_read_only(void **state)
{
	struct fixture *x = *state;
	unsigned int bus = pci_dev_busnr(x->a);
	uint32_t id = pci_cfg_read(x->f, 0x1000, bus, 0, 0, 4);

	pci_cfg_write(x->f, 0x1000, bus, 0, 0, 4, 0);
	pci_cfg_write(x->f, 0x1000, bus, 0, PCI_CLASS_REVISION, 4, 0);
	pci_cfg_write(x->f, 0x1000, bus, 0, PCI_CAPABILITY_LIST, 1, 0);
	assert_int_equal(pci_cfg_read(x->f, 0x1000, bus, 0, 0, 4), id);
	assert_int_equal(pci_cfg_read(x->f, 0x1000, bus, 0, PCI_CLASS_REVISION, 4) >> 8, 0x058000);
	assert_int_equal(pci_cfg_read(x->f, 0x1000, bus, 0, PCI_CAPABILITY_LIST, 1), 0x40);
	pci_cfg_write(x->f, 0x1000, bus, 0, 0x800, 4, 0xffffffff);
	assert_int_equal(pci_cfg_read(x->f, 0x1000, bus, 0, 0x800, 4), 0);
	/* An endpoint has no extended capabilities: the header at 0x100 is zero. */
	assert_int_equal(pci_cfg_read(x->f, 0x1000, bus, 0, 0x100, 4), 0);
}

/* The PCIe capability says what each function is, and ACS sits at 0x100 on ports. */
static void test_capabilities(void **state)
{
	struct fixture *x = *state;
	uint16_t flags, acscap;
	uint32_t hdr;

	pci_read_config_word(x->dsp0, 0x40 + PCI_EXP_FLAGS, &flags);
	assert_int_equal((flags & PCI_EXP_FLAGS_TYPE) >> 4, PCI_EXP_TYPE_DOWNSTREAM);
	assert_int_equal(flags & PCI_EXP_FLAGS_VERS, 2);
	pci_read_config_dword(x->dsp0, 0x100, &hdr);
	assert_int_equal(PCI_EXT_CAP_ID(hdr), PCI_EXT_CAP_ID_ACS);
	assert_int_equal(PCI_EXT_CAP_NEXT(hdr), 0);
	pci_read_config_word(x->dsp0, 0x100 + PCI_ACS_CAP, &acscap);
	assert_true(acscap & PCI_ACS_RR);
	assert_true(acscap & PCI_ACS_CR);
	assert_true(acscap & PCI_ACS_EC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_absent_reads_all_ones),
		cmocka_unit_test(test_malformed_reads),
		cmocka_unit_test(test_malformed_writes_dropped),
		cmocka_unit_test(test_helpers_einval),
		cmocka_unit_test(test_read_only),
		cmocka_unit_test(test_capabilities),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
