// SPDX-License-Identifier: MIT
/*
 * BAR sizing and assignment: sizing through configuration space, every BAR
 * aligned and inside its bridges' windows, windows nested, 64-bit
 * prefetchable BARs in the prefetchable window, and a window too small.
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
	struct fixture_opts o = { .with_hb1 = true };

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

static struct pci_range_t {
	uint64_t base, size;
} window(struct pci_dev *bridge, bool pref)
{
	uint16_t b, l;
	uint32_t bu = 0, lu = 0;
	uint64_t base, limit;

	pci_read_config_word(bridge, pref ? PCI_PREF_MEMORY_BASE : PCI_MEMORY_BASE, &b);
	pci_read_config_word(bridge, pref ? PCI_PREF_MEMORY_LIMIT : PCI_MEMORY_LIMIT, &l);
	if (pref) {
		pci_read_config_dword(bridge, PCI_PREF_BASE_UPPER32, &bu);
		pci_read_config_dword(bridge, PCI_PREF_LIMIT_UPPER32, &lu);
	}
	base = ((uint64_t)(b & 0xfff0) << 16) | ((uint64_t)bu << 32);
	limit = ((uint64_t)(l & 0xfff0) << 16) | 0xfffff | ((uint64_t)lu << 32);
	return (struct pci_range_t){ base, base <= limit ? limit - base + 1 : 0 };
}

static bool inside(uint64_t a, uint64_t asz, struct pci_range_t w)
{
	return w.size && a >= w.base && a + asz <= w.base + w.size;
}

/* Writing all ones to a BAR through configuration space reads back its size mask. */
static void test_sizing_through_config(void **state)
{
	struct fixture *x = *state;
	unsigned int bus = pci_dev_busnr(x->a);
	uint32_t lo, hi, olo, ohi;

	olo = pci_cfg_read(x->f, 0x1000, bus, 0, PCI_BASE_ADDRESS_2, 4);
	ohi = pci_cfg_read(x->f, 0x1000, bus, 0, PCI_BASE_ADDRESS_3, 4);
	pci_cfg_write(x->f, 0x1000, bus, 0, PCI_BASE_ADDRESS_2, 4, 0xffffffff);
	pci_cfg_write(x->f, 0x1000, bus, 0, PCI_BASE_ADDRESS_3, 4, 0xffffffff);
	lo = pci_cfg_read(x->f, 0x1000, bus, 0, PCI_BASE_ADDRESS_2, 4);
	hi = pci_cfg_read(x->f, 0x1000, bus, 0, PCI_BASE_ADDRESS_3, 4);
	/* 16 MiB, 64-bit, prefetchable */
	assert_int_equal(lo, 0xff000000 | PCI_BASE_ADDRESS_MEM_TYPE_64 |
				     PCI_BASE_ADDRESS_MEM_PREFETCH);
	assert_int_equal(hi, 0xffffffff);
	assert_int_equal(~((((uint64_t)hi << 32) | (lo & ~0xfULL))) + 1, 16 << 20);
	pci_cfg_write(x->f, 0x1000, bus, 0, PCI_BASE_ADDRESS_2, 4, olo);
	pci_cfg_write(x->f, 0x1000, bus, 0, PCI_BASE_ADDRESS_3, 4, ohi);
	assert_int_equal(pci_resource_len(x->a, 2), 16 << 20);
	assert_int_equal(pci_resource_len(x->a, 0), 64 << 10);
	assert_int_equal(pci_resource_len(x->a, 1), 0);
	assert_int_equal(pci_resource_flags(x->a, 2), PCI_BAR_MEM64 | PCI_BAR_PREFETCH);
}

/* Every BAR is aligned to its size, inside every window above it, and in the window of its type. */
static void test_bars_inside_windows(void **state)
{
	struct fixture *x = *state;
	struct pci_dev *eps[] = { x->a, x->b, x->c, x->d };

	for (size_t i = 0; i < 4; i++) {
		for (int bar = 0; bar <= 2; bar += 2) {
			uint64_t addr = pci_bus_address(eps[i], bar);
			uint64_t len = pci_resource_len(eps[i], bar);
			bool pref = bar == 2;

			assert_int_equal(addr % len, 0);
			if (!pref)
				assert_true(addr + len <= (1ULL << 32));
			else
				assert_true(addr >= 0x8000000000ULL);
			for (struct pci_dev *br = pci_upstream_bridge(eps[i]); br;
			     br = pci_upstream_bridge(br))
				assert_true(inside(addr, len, window(br, pref)));
		}
	}
}

/* No two BARs overlap, and sibling windows do not overlap. */
static void test_no_overlap(void **state)
{
	struct fixture *x = *state;
	struct pci_dev *eps[] = { x->a, x->b, x->c };
	struct pci_range_t w0 = window(x->dsp0, true), w1 = window(x->dsp1, true);

	for (size_t i = 0; i < 3; i++)
		for (size_t j = i + 1; j < 3; j++)
			for (int bar = 0; bar <= 2; bar += 2) {
				uint64_t a = pci_bus_address(eps[i], bar);
				uint64_t b = pci_bus_address(eps[j], bar);
				uint64_t l = pci_resource_len(eps[i], bar);

				assert_true(a + l <= b || b + l <= a);
			}
	assert_true(w0.base + w0.size <= w1.base || w1.base + w1.size <= w0.base);
}

/* The CPU address of a BAR is its bus address plus the host bridge's offset. */
static void test_cpu_addresses(void **state)
{
	struct fixture *x = *state;

	assert_int_equal(pci_resource_start(x->b, 2) - pci_bus_address(x->b, 2), FIX_HB0_OFFSET);
	assert_int_equal(pci_resource_start(x->d, 2) - pci_bus_address(x->d, 2), FIX_HB1_OFFSET);
	assert_int_equal(pci_resource_start(x->d, 3), 0);
}

/* Enumeration enables memory decode everywhere, bus mastering only on bridges. */
static void test_command_bits(void **state)
{
	struct fixture *x = *state;
	uint16_t cmd;

	pci_read_config_word(x->a, PCI_COMMAND, &cmd);
	assert_true(cmd & PCI_COMMAND_MEMORY);
	assert_false(cmd & PCI_COMMAND_MASTER);
	pci_read_config_word(x->dsp0, PCI_COMMAND, &cmd);
	assert_true(cmd & PCI_COMMAND_MEMORY);
	assert_true(cmd & PCI_COMMAND_MASTER);
}

/* Routing follows what is programmed: moving a BAR in config space moves where DMA lands. */
static void test_reprogrammed_bar_moves(void **state)
{
	struct fixture *x = *state;
	uint64_t old = pci_bus_address(x->b, 0), moved = old + (64 << 10);
	uint8_t *mem = pci_iomap(x->b, 0);
	uint32_t v = 0xfeedf00d;
	struct pci_range_t w = window(x->dsp1, false);

	/* Only move inside the window so the bridge still forwards it. */
	if (!inside(moved, 64 << 10, w))
		moved = old - (64 << 10);
	assert_true(inside(moved, 64 << 10, w));
	pci_set_master(x->a);
	pci_write_config_dword(x->b, PCI_BASE_ADDRESS_0, (uint32_t)moved | PCI_BASE_ADDRESS_MEM_TYPE_64);
	assert_int_equal(pci_bus_address(x->b, 0), moved);
	assert_int_equal(pci_dma_write(x->a, moved + 8, &v, 4), 0);
	assert_memory_equal(mem + 8, &v, 4);
	/* The old address is now a hole in the window: nothing claims it. */
	assert_int_equal(pci_dma_write(x->a, old + 8, &v, 4), -EREMOTEIO);
	pci_write_config_dword(x->b, PCI_BASE_ADDRESS_0, (uint32_t)old | PCI_BASE_ADDRESS_MEM_TYPE_64);
	pci_clear_master(x->a);
}

/* BARs that do not fit the host bridge's windows fail enumeration with -ENOSPC. */
static void test_window_too_small(void **state)
{
	struct pci_fabric *f = pci_fabric_create();
	struct pci_host_bridge_info hbi = {
		.name = "hb", .domain = 0x1000, .bus_offset = FIX_HB0_OFFSET,
		.mem_base = 0xc0000000, .mem_size = 0x100000,
		.pref_base = 0x8000000000ULL, .pref_size = 0x800000, /* 8 MiB < 16 MiB BAR */
	};
	struct pci_host_bridge *hb = pci_host_bridge_add(f, &hbi);
	struct pci_dev *rp = pci_root_port_add(hb, "rp", 0);
	struct pci_endpoint_info ep = fixture_ep("big");

	assert_false(IS_ERR(pci_endpoint_add(rp, &ep)));
	assert_int_equal(pci_fabric_enumerate(f), -ENOSPC);
	pci_fabric_destroy(f);
}

/* A BAR larger than 4 GiB sizes and places correctly above 4 GiB. */
static void test_huge_bar(void **state)
{
	struct pci_fabric *f = pci_fabric_create();
	struct pci_host_bridge_info hbi = {
		.name = "hb", .domain = 0x1000, .bus_offset = FIX_HB0_OFFSET,
		.mem_base = 0xc0000000, .mem_size = 0x1000000,
		.pref_base = 0x4000000000ULL, .pref_size = 0x4000000000ULL,
	};
	struct pci_host_bridge *hb = pci_host_bridge_add(f, &hbi);
	struct pci_dev *rp = pci_root_port_add(hb, "rp", 0), *ep;
	struct pci_endpoint_info info = fixture_ep("huge");
	static uint8_t backing[4096] __attribute__((aligned(4096)));

	/* Backed by caller memory: only the address space is big. */
	info.bar[2] = (struct pci_bar_desc){ .size = 8ULL << 30,
					     .flags = PCI_BAR_MEM64 | PCI_BAR_PREFETCH,
					     .ram = backing };
	ep = pci_endpoint_add(rp, &info);
	assert_false(IS_ERR(ep));
	assert_int_equal(pci_fabric_enumerate(f), 0);
	assert_int_equal(pci_resource_len(ep, 2), 8ULL << 30);
	assert_int_equal(pci_bus_address(ep, 2) % (8ULL << 30), 0);
	assert_true(inside(pci_bus_address(ep, 2), 8ULL << 30, window(rp, true)));
	pci_fabric_destroy(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizing_through_config),
		cmocka_unit_test(test_bars_inside_windows),
		cmocka_unit_test(test_no_overlap),
		cmocka_unit_test(test_cpu_addresses),
		cmocka_unit_test(test_command_bits),
		cmocka_unit_test(test_reprogrammed_bar_moves),
	};
	const struct CMUnitTest standalone[] = {
		cmocka_unit_test(test_window_too_small),
		cmocka_unit_test(test_huge_bar),
	};

	return cmocka_run_group_tests(tests, setup, teardown) |
	       cmocka_run_group_tests(standalone, NULL, NULL);
}
