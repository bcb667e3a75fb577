// SPDX-License-Identifier: MIT
/*
 * Runs inside the QEMU guest: hetmem's NVMe driver, unchanged, on QEMU's
 * NVMe controller through the sysfs transport, with the ivshmem BAR as the
 * peer-to-peer target. Writes a pattern from system memory, reads it into
 * the ivshmem BAR by P2P at queue depth 16, writes another pattern from the
 * BAR to the namespace (the controller reading the BAR), and checks what it
 * can from inside. The host then checks the memory-backend file and the
 * namespace image: the independent proof.
 *
 * The I/O submission queue lives in the controller memory buffer, so every
 * command here is fetched from the CMB.
 *
 * Layout (shared with qemu-nvme-p2p.sh):
 *   namespace [0, 4 MiB)      pattern 0x11, written from system memory
 *   ivshmem   [0, 4 MiB)      read from the namespace by P2P
 *   ivshmem   [8 MiB, 9 MiB)  pattern 0x22, filled by the CPU
 *   namespace [8 MiB, 9 MiB)  written from ivshmem by P2P
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <hetmem/err.h>
#include <hetmem/nvme.h>
#include <hetmem/pci-sysfs.h>

#define MB (1UL << 20)
#define CHUNK (256UL << 10)

static int failures;

static void check(int ok, const char *what)
{
	printf("%s %s\n", ok ? "ok" : "not ok", what);
	failures += !ok;
}

static uint8_t pattern(uint64_t i, uint8_t seed)
{
	return (uint8_t)(((i * 2654435761u) >> 7) ^ seed ^ (i >> 12));
}

static void fill(uint8_t *p, uint64_t off, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = pattern(off + i, seed);
}

static int matches(const volatile uint8_t *p, uint64_t off, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != pattern(off + i, seed))
			return 0;
	return 1;
}

static int done, errors;

static void complete(void *arg, int status)
{
	done++;
	errors += status != 0;
}

int main(void)
{
	struct nvme_ctrl_opts opts = { .io_queue_depth = 16, .timeout_ms = 10000,
				       .sq_in_cmb = true };
	char nvme_bdf[16], shm_bdf[16];
	struct pci_sysfs_dev shm;
	struct nvme_transport t;
	struct phys_dma_buf sys;
	struct nvme_ctrl *ctrl;
	struct nvme_qpair *qp;
	struct nvme_ns *ns;
	uint8_t *bar;
	uint32_t blocks;

	if (pci_sysfs_find_class(PCI_SYSFS_ROOT, 0x010802, 0xffffff, 0, nvme_bdf) ||
	    pci_sysfs_find_id(PCI_SYSFS_ROOT, 0x1af4, 0x1110, shm_bdf)) {
		check(0, "nvme and ivshmem present");
		return 1;
	}
	check(!pci_sysfs_open(PCI_SYSFS_ROOT, shm_bdf, &shm) && !pci_sysfs_enable(&shm),
	      "ivshmem opened and enabled");
	bar = pci_sysfs_map_bar(&shm, 2);
	check(bar != NULL, "ivshmem BAR2 mapped");
	check(!nvme_transport_sysfs_init(&t, PCI_SYSFS_ROOT, nvme_bdf), "sysfs transport");
	if (failures)
		return 1;
	nvme_transport_sysfs_add_peer(&t, bar, shm.bar_start[2], shm.bar_len[2]);
	printf("ivshmem BAR2 at bus address 0x%llx\n", (unsigned long long)shm.bar_start[2]);

	ctrl = nvme_ctrl_probe(&t, &opts);
	if (IS_ERR_OR_NULL(ctrl))
		printf("probe: %s\n", strerror(ctrl ? (int)-PTR_ERR(ctrl) : ENOMEM));
	check(!IS_ERR_OR_NULL(ctrl), "controller probed (firmware left it enabled)");
	if (IS_ERR_OR_NULL(ctrl))
		return 1;
	printf("model '%.40s'\n", nvme_ctrl_identify(ctrl)->mn);
	ns = nvme_ctrl_ns_at(ctrl, 0);
	qp = nvme_qpair_alloc(ctrl);
	check(ns && !IS_ERR_OR_NULL(qp), "namespace and I/O queue pair");
	if (!ns || IS_ERR_OR_NULL(qp))
		return 1;
	blocks = (uint32_t)(CHUNK >> ns->lba_shift);

	/* System memory -> namespace [0, 4 MiB). */
	check(!phys_dma_alloc(&sys, 4 * MB, true), "DMA memory");
	fill(sys.va, 0, 4 * MB, 0x11);
	check(!nvme_write(ns, qp, sys.va, 0, (uint32_t)((4 * MB) >> ns->lba_shift)) &&
	      !nvme_flush(ns, qp), "4 MiB written from system memory and flushed");

	/* Namespace -> ivshmem BAR, 16 reads of 256 KiB in flight. */
	memset(bar, 0, 4 * MB);
	for (unsigned int i = 0; i < 16; i++)
		if (nvme_submit_read(ns, qp, bar + i * CHUNK, (i * CHUNK) >> ns->lba_shift, blocks,
				     complete, NULL))
			errors++;
	while (done < 16 && !errors)
		nvme_qpair_process_completions(qp, 0);
	check(!errors && done == 16, "16 P2P reads of 256 KiB completed (QD 16)");
	check(matches(bar, 0, 4 * MB, 0x11), "the ivshmem BAR holds the namespace's data");

	/* ivshmem BAR -> namespace [8 MiB, 9 MiB): the controller reads the peer BAR. */
	fill(bar + 8 * MB, 0, MB, 0x22);
	check(!nvme_write(ns, qp, bar + 8 * MB, (8 * MB) >> ns->lba_shift,
			  (uint32_t)(MB >> ns->lba_shift)) && !nvme_flush(ns, qp),
	      "1 MiB written from the ivshmem BAR and flushed");
	memset(sys.va, 0, MB);
	check(!nvme_read(ns, qp, sys.va, (8 * MB) >> ns->lba_shift,
			 (uint32_t)(MB >> ns->lba_shift)) && matches(sys.va, 0, MB, 0x22),
	      "read back into system memory: the BAR's data");

	/* The controller memory buffer as a data target: a read into the CMB. */
	{
		struct nvme_cmb_info cmb;
		uint64_t len = 0;
		uint8_t *map;

		nvme_ctrl_cmb(ctrl, &cmb);
		map = cmb.size ? t.ops->bar_map(t.priv, cmb.bar, &len) : NULL;
		check(map && (cmb.cmbsz & NVME_CMBSZ_RDS), "CMB enabled (v1.4 sequence), reads allowed");
		check(cmb.sqs, "I/O submission queues in the CMB");
		if (map) {
			/* The front of the CMB holds the SQs: data goes to its second half. */
			uint8_t *cmb_buf = map + cmb.offset + cmb.size / 2;
			const volatile uint8_t *front = map + cmb.offset;
			int sqes = 0;

			/* The commands above were fetched from there: their opcodes are in it. */
			for (unsigned int i = 0; i < 64 * 16; i += 64)
				sqes += front[i] == nvme_cmd_read || front[i] == nvme_cmd_write;
			check(sqes > 0, "submission queue entries found in the CMB");

			printf("CMB %llu MiB in BAR%d at bus address 0x%llx\n",
			       (unsigned long long)(cmb.size >> 20), cmb.bar,
			       (unsigned long long)cmb.bus_addr);
			nvme_transport_sysfs_add_peer(&t, cmb_buf, cmb.bus_addr + cmb.size / 2,
						      cmb.size / 2);
			memset(cmb_buf, 0, MB);
			check(!nvme_read(ns, qp, cmb_buf, 0, (uint32_t)(MB >> ns->lba_shift)) &&
			      matches(cmb_buf, 0, MB, 0x11),
			      "1 MiB read into the controller's own CMB");
		}
	}

	nvme_qpair_free(qp);
	nvme_ctrl_remove(ctrl);
	nvme_transport_sysfs_fini(&t);
	phys_dma_free(&sys);
	pci_sysfs_close(&shm);
	printf("%d failures\n", failures);
	return failures ? 1 : 0;
}
