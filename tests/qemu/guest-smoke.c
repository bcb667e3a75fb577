// SPDX-License-Identifier: MIT
/*
 * Runs inside the QEMU guest: finds QEMU's NVMe controller and the ivshmem
 * "GPU BAR" through sysfs, checks they sit below one switch, enables them,
 * reads the NVMe registers through the BAR0 mapping and allocates DMA
 * memory with physical addresses. Prints "ok"/"not ok" lines; the host
 * checks them.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <hetmem/err.h>
#include <hetmem/nvme-spec.h>
#include <hetmem/pci-import.h>
#include <hetmem/pci-sysfs.h>

static int failures;

static void check(int ok, const char *what)
{
	printf("%s %s\n", ok ? "ok" : "not ok", what);
	failures += !ok;
}

int main(void)
{
	char nvme[16], shm[16], nvme_dsp[16], shm_dsp[16], nvme_usp[16], shm_usp[16];
	struct pci_sysfs_dev n, s;
	struct phys_dma_buf buf;
	volatile uint32_t *regs;
	uint64_t cap;

	check(!pci_sysfs_find_class(PCI_SYSFS_ROOT, 0x010802, 0xffffff, 0, nvme), "nvme found");
	check(!pci_sysfs_find_id(PCI_SYSFS_ROOT, 0x1af4, 0x1110, shm), "ivshmem found");
	if (failures)
		return 1;
	printf("nvme %s ivshmem %s\n", nvme, shm);
	pci_sysfs_parent(PCI_SYSFS_ROOT, nvme, nvme_dsp);
	pci_sysfs_parent(PCI_SYSFS_ROOT, shm, shm_dsp);
	pci_sysfs_parent(PCI_SYSFS_ROOT, nvme_dsp, nvme_usp);
	pci_sysfs_parent(PCI_SYSFS_ROOT, shm_dsp, shm_usp);
	check(strcmp(nvme_dsp, shm_dsp) && !strcmp(nvme_usp, shm_usp) && nvme_usp[0],
	      "nvme and ivshmem below one switch, different downstream ports");

	/* hetmem's topology discovery on this machine: the p2p-check import. */
	{
		char err[256];
		struct pci_import *imp = pci_import_sysfs(PCI_SYSFS_ROOT, err, sizeof(err));
		struct pci_dev *pn, *ps;
		struct pci_p2p_result res;

		if (IS_ERR(imp)) {
			printf("import: %s\n", err);
			imp = NULL;
		}
		pn = imp ? pci_import_find(imp, nvme) : NULL;
		ps = imp ? pci_import_find(imp, shm) : NULL;

		check(imp && pn && ps, "topology imported from sysfs");
		if (pn && ps) {
			pci_p2p_check_pair(ps, pn, NULL, &res);
			printf("nvme -> ivshmem: %s, distance %d\n", pci_p2p_map_type_name(res.type),
			       res.distance);
			check(res.type == PCI_P2PDMA_MAP_BUS_ADDR && res.distance == 4,
			      "map type BUS_ADDR at distance 4: same switch");
		}
		if (imp)
			pci_import_destroy(imp);
	}

	check(!pci_sysfs_open(PCI_SYSFS_ROOT, nvme, &n), "nvme opened");
	check(!pci_sysfs_open(PCI_SYSFS_ROOT, shm, &s), "ivshmem opened");
	check(!pci_sysfs_enable(&n) && !pci_sysfs_enable(&s), "memory and bus mastering on");
	check(s.bar_len[2] == 64ULL << 20, "ivshmem BAR2 is 64 MiB");
	regs = pci_sysfs_map_bar(&n, 0);
	check(regs != NULL, "nvme BAR0 mapped");
	if (regs) {
		cap = regs[NVME_REG_CAP / 4] | (uint64_t)regs[NVME_REG_CAP / 4 + 1] << 32;
		printf("CAP 0x%016llx VS 0x%08x\n", (unsigned long long)cap, regs[NVME_REG_VS / 4]);
		check(NVME_CAP_MQES(cap) > 0 && NVME_CAP_CMBS(cap), "CAP has queues and a CMB");
		check(regs[NVME_REG_VS / 4] >= NVME_VS(1, 2, 0), "version 1.2 or later");
	}
	check(pci_sysfs_map_bar(&s, 2) != NULL, "ivshmem BAR2 mapped");
	check(!phys_dma_alloc(&buf, 1 << 20, true), "DMA memory with physical addresses");
	check(virt_to_phys_self((char *)buf.va + 4096) != 0, "pagemap gives physical addresses");
	phys_dma_free(&buf);
	pci_sysfs_close(&n);
	pci_sysfs_close(&s);
	printf("%d failures\n", failures);
	return failures ? 1 : 0;
}
