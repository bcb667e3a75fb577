// SPDX-License-Identifier: MIT
/*
 * The NVM commands against RAM and file namespaces with 512-byte and
 * 4 KiB LBAs: Read, Write, Flush, Write Zeroes, Dataset Management
 * (deallocate), Compare, Format NVM; bad NSIDs, LBA ranges, sizes above
 * MDTS, unroutable or read-only data pointers; and a read DMA'd straight
 * into a peer's BAR below the same switch.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "fabric-fixture.h"
#include "raw.h"

#define NS1_SIZE (64 << 20) /* RAM, 512-byte LBAs */
#define NS2_SIZE (32 << 20) /* file, 4 KiB LBAs */
#define NS3_SIZE (16 << 20) /* file, 512-byte LBAs */

struct ctx {
	struct raw r;
	char dir[64];
	char path[2][96];
	struct raw_buf buf, buf2, list;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	struct nvme_emu_params p = raw_params();

	if (!c)
		return -1;
	snprintf(c->dir, sizeof(c->dir), "/tmp/nvme-emu-io-XXXXXX");
	if (!mkdtemp(c->dir))
		return -1;
	snprintf(c->path[0], sizeof(c->path[0]), "%s/ns2", c->dir);
	snprintf(c->path[1], sizeof(c->path[1]), "%s/ns3", c->dir);
	p.nr_ns = 3;
	p.ns[0].size = NS1_SIZE;
	p.ns[1] = (struct nvme_emu_ns_params){ c->path[0], NS2_SIZE, 12 };
	p.ns[2] = (struct nvme_emu_ns_params){ c->path[1], NS3_SIZE, 9 };
	if (raw_setup(&c->r, &p) || !raw_enable(&c->r) || raw_io_pair(&c->r, 1, 64, false, false))
		return -1;
	c->buf = raw_alloc(&c->r, 2 << 20);
	c->buf2 = raw_alloc(&c->r, 2 << 20);
	c->list = raw_alloc(&c->r, 8192);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	raw_teardown(&c->r);
	unlink(c->path[0]);
	unlink(c->path[1]);
	rmdir(c->dir);
	free(c);
	return 0;
}

static unsigned int lba_shift(uint32_t nsid)
{
	return nsid == 2 ? 12 : 9;
}

/* Read/Write/Compare @bytes at byte offset @off of @nsid through @b, PRP list as needed. */
static uint16_t rw(struct ctx *c, uint8_t op, uint32_t nsid, uint64_t off, size_t bytes,
		   uint64_t dma, uint32_t extra_cdw12)
{
	unsigned int s = lba_shift(nsid);
	struct nvme_command cmd = raw_rw(op, nsid, off >> s, (uint32_t)(bytes >> s), 0);

	raw_prps(&cmd, dma, bytes, &c->list);
	cmd.cdw12 |= extra_cdw12;
	return raw_io(&c->r, 1, &cmd, NULL);
}

static void read_file(const char *path, uint64_t off, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* Data written reads back, at every LBA size and backing, whole and partial blocks. */
static void test_read_write(void **state)
{
	struct ctx *c = *state;
	const size_t sizes[] = { 512, 4096, 8192, 12288, 65536, 128 << 10, 1 << 20, 2 << 20 };

	for (uint32_t nsid = 1; nsid <= 3; nsid++) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			size_t n = sizes[i];
			uint64_t off = (uint64_t)(i + 1) * (3 << 20) % (16 << 20);

			if (n < (1u << lba_shift(nsid)))
				continue;
			off &= ~(uint64_t)((1u << lba_shift(nsid)) - 1);
			raw_fill(c->buf.cpu, n, (uint32_t)(nsid * 100 + i));
			memset(c->buf2.cpu, 0, n);
			assert_int_equal(rw(c, nvme_cmd_write, nsid, off, n, c->buf.dma, 0), 0);
			assert_int_equal(rw(c, nvme_cmd_read, nsid, off, n, c->buf2.dma, 0), 0);
			assert_memory_equal(c->buf.cpu, c->buf2.cpu, n);
		}
	}
	/* A 512-byte block inside a cached 4 KiB block keeps its neighbours. */
	raw_fill(c->buf.cpu, 4096, 7);
	assert_int_equal(rw(c, nvme_cmd_write, 3, 8192, 4096, c->buf.dma, 0), 0);
	memset(c->buf2.cpu, 0x5a, 512);
	assert_int_equal(rw(c, nvme_cmd_write, 3, 8192 + 1024, 512, c->buf2.dma, 0), 0);
	memset(c->buf.cpu + 1024, 0x5a, 512);
	assert_int_equal(rw(c, nvme_cmd_read, 3, 8192, 4096, c->buf2.dma, 0), 0);
	assert_memory_equal(c->buf.cpu, c->buf2.cpu, 4096);
	/* Never-written blocks read as zeroes. */
	assert_int_equal(rw(c, nvme_cmd_read, 2, NS2_SIZE - 4096, 4096, c->buf2.dma, 0), 0);
	assert_true(all_zero(c->buf2.cpu, 4096));
}

/* The write cache holds data until Flush; FUA and a disabled cache write through. */
static void test_flush_and_cache(void **state)
{
	struct ctx *c = *state;
	struct nvme_command cmd;
	uint8_t file[8192];

	raw_fill(c->buf.cpu, 8192, 42);
	assert_int_equal(rw(c, nvme_cmd_write, 3, 1 << 20, 8192, c->buf.dma, 0), 0);
	read_file(c->path[1], 1 << 20, file, sizeof(file));
	assert_true(all_zero(file, sizeof(file))); /* still in the volatile cache */

	cmd = (struct nvme_command){ .opcode = nvme_cmd_flush, .nsid = 3 };
	assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), 0);
	read_file(c->path[1], 1 << 20, file, sizeof(file));
	assert_memory_equal(file, c->buf.cpu, sizeof(file));

	/* FUA: on the media at completion. */
	raw_fill(c->buf.cpu, 4096, 43);
	assert_int_equal(rw(c, nvme_cmd_write, 2, 4096, 4096, c->buf.dma, 1u << 30), 0);
	read_file(c->path[0], 4096, file, 4096);
	assert_memory_equal(file, c->buf.cpu, 4096);

	/* Turning the cache off writes it back; later writes go straight through. */
	raw_fill(c->buf.cpu, 4096, 44);
	assert_int_equal(rw(c, nvme_cmd_write, 2, 8192, 4096, c->buf.dma, 0), 0);
	cmd = raw_feat(nvme_admin_set_features, NVME_FEAT_VOLATILE_WC, 0);
	assert_int_equal(raw_admin(&c->r, &cmd, NULL), 0);
	read_file(c->path[0], 8192, file, 4096);
	assert_memory_equal(file, c->buf.cpu, 4096);
	raw_fill(c->buf.cpu, 4096, 45);
	assert_int_equal(rw(c, nvme_cmd_write, 2, 12288, 4096, c->buf.dma, 0), 0);
	read_file(c->path[0], 12288, file, 4096);
	assert_memory_equal(file, c->buf.cpu, 4096);

	/* Flush of every namespace (NSID FFFFFFFFh); NSID 0 is invalid. */
	cmd = (struct nvme_command){ .opcode = nvme_cmd_flush, .nsid = 0xffffffff };
	assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), 0);
	cmd = (struct nvme_command){ .opcode = nvme_cmd_flush, .nsid = 0 };
	assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), RAW_DNR(NVME_SC_INVALID_NS));
	cmd = (struct nvme_command){ .opcode = nvme_cmd_flush, .nsid = 4 };
	assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), RAW_DNR(NVME_SC_INVALID_NS));
}

static uint16_t write_zeroes(struct ctx *c, uint32_t nsid, uint64_t slba, uint32_t nlb)
{
	struct nvme_command cmd = raw_rw(nvme_cmd_write_zeroes, nsid, slba, nlb, 0);

	cmd.prp1 = cmd.prp2 = 0;
	return raw_io(&c->r, 1, &cmd, NULL);
}

/* Write Zeroes zeroes exactly its blocks, cached or not, on RAM and files. */
static void test_write_zeroes(void **state)
{
	struct ctx *c = *state;

	for (uint32_t nsid = 1; nsid <= 3; nsid++) {
		unsigned int s = lba_shift(nsid);

		raw_fill(c->buf.cpu, 64 << 10, nsid);
		assert_int_equal(rw(c, nvme_cmd_write, nsid, 0, 64 << 10, c->buf.dma, 0), 0);
		/* Blocks 3..(3+5) of the namespace. */
		assert_int_equal(write_zeroes(c, nsid, 3, 5), 0);
		assert_int_equal(rw(c, nvme_cmd_read, nsid, 0, 64 << 10, c->buf2.dma, 0), 0);
		assert_memory_equal(c->buf2.cpu, c->buf.cpu, 3u << s);
		assert_true(all_zero(c->buf2.cpu + (3u << s), 5u << s));
		assert_memory_equal(c->buf2.cpu + (8u << s), c->buf.cpu + (8u << s),
				    (64 << 10) - (8u << s));
	}
	/* More than MDTS is fine: no data moves. Out of range is not. */
	assert_int_equal(write_zeroes(c, 1, 0, 65536), 0);
	assert_int_equal(write_zeroes(c, 3, NS3_SIZE / 512 - 1, 2), RAW_DNR(NVME_SC_LBA_RANGE));
	assert_int_equal(write_zeroes(c, 9, 0, 1), RAW_DNR(NVME_SC_INVALID_NS));
}

static uint16_t dsm(struct ctx *c, uint32_t nsid, const struct nvme_dsm_range *r, unsigned int nr,
		    uint32_t attrs)
{
	struct nvme_command cmd = { .opcode = nvme_cmd_dsm, .nsid = nsid };

	memcpy(c->list.cpu, r, nr * sizeof(*r));
	cmd.prp1 = c->list.dma;
	cmd.prp2 = c->list.dma + 4096;
	cmd.cdw10 = nr - 1;
	cmd.cdw11 = attrs;
	return raw_io(&c->r, 1, &cmd, NULL);
}

/* Deallocated ranges read as zeroes; a bad range fails the whole command first. */
static void test_dsm_deallocate(void **state)
{
	struct ctx *c = *state;
	const struct nvme_dsm_range ranges[] = {
		{ .slba = 8, .nlb = 8 },
		{ .slba = 40, .nlb = 1 },
		{ .slba = 100, .nlb = 0 },
	};
	struct nvme_dsm_range bad[2] = { { .slba = 0, .nlb = 4 },
					 { .slba = NS3_SIZE / 512 - 2, .nlb = 3 } };
	struct nvme_dsm_range many[256];

	for (uint32_t nsid = 1; nsid <= 3; nsid++) {
		unsigned int s = lba_shift(nsid);
		size_t len = 64u << s;

		raw_fill(c->buf.cpu, len, nsid + 10);
		assert_int_equal(rw(c, nvme_cmd_write, nsid, 0, len, c->buf.dma, 0), 0);
		/* Without AD the ranges are hints: nothing changes. */
		assert_int_equal(dsm(c, nsid, ranges, 3, 1 /* IDR */), 0);
		assert_int_equal(rw(c, nvme_cmd_read, nsid, 0, len, c->buf2.dma, 0), 0);
		assert_memory_equal(c->buf.cpu, c->buf2.cpu, len);

		assert_int_equal(dsm(c, nsid, ranges, 3, NVME_DSMGMT_AD), 0);
		memset(c->buf.cpu + (8u << s), 0, 8u << s);
		memset(c->buf.cpu + (40u << s), 0, 1u << s);
		assert_int_equal(rw(c, nvme_cmd_read, nsid, 0, len, c->buf2.dma, 0), 0);
		assert_memory_equal(c->buf.cpu, c->buf2.cpu, len);
	}
	raw_fill(c->buf.cpu, 2048, 77);
	assert_int_equal(rw(c, nvme_cmd_write, 3, 0, 2048, c->buf.dma, 0), 0);
	assert_int_equal(dsm(c, 3, bad, 2, NVME_DSMGMT_AD), RAW_DNR(NVME_SC_LBA_RANGE));
	assert_int_equal(rw(c, nvme_cmd_read, 3, 0, 2048, c->buf2.dma, 0), 0);
	assert_memory_equal(c->buf.cpu, c->buf2.cpu, 2048);

	for (int i = 0; i < 256; i++)
		many[i] = (struct nvme_dsm_range){ .slba = (uint64_t)i * 4, .nlb = 2 };
	assert_int_equal(dsm(c, 3, many, 256, NVME_DSMGMT_AD), 0);
	assert_int_equal(rw(c, nvme_cmd_read, 3, 0, 2048, c->buf2.dma, 0), 0);
	assert_true(all_zero(c->buf2.cpu, 1024));
	assert_memory_equal(c->buf2.cpu + 1024, c->buf.cpu + 1024, 1024);
}

/* Compare succeeds on equal data and fails with Compare Failure on a mismatch. */
static void test_compare(void **state)
{
	struct ctx *c = *state;

	for (uint32_t nsid = 1; nsid <= 3; nsid++) {
		raw_fill(c->buf.cpu, 16384, nsid + 20);
		assert_int_equal(rw(c, nvme_cmd_write, nsid, 4096, 16384, c->buf.dma, 0), 0);
		assert_int_equal(rw(c, nvme_cmd_compare, nsid, 4096, 16384, c->buf.dma, 0), 0);
		c->buf.cpu[16383] ^= 1;
		assert_int_equal(rw(c, nvme_cmd_compare, nsid, 4096, 16384, c->buf.dma, 0),
				 RAW_DNR(NVME_SC_COMPARE_FAILED));
	}
}

/* Invalid NSIDs, LBA ranges, MDTS, opcodes, fields, and data pointers that go nowhere. */
static void test_bad_commands(void **state)
{
	struct ctx *c = *state;
	const uint32_t bad_ns[] = { 0, 4, 0xffffffff };
	struct nvme_command cmd;
	uint64_t ro;

	for (size_t i = 0; i < 3; i++) {
		cmd = raw_rw(nvme_cmd_read, bad_ns[i], 0, 1, c->buf.dma);
		assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), RAW_DNR(NVME_SC_INVALID_NS));
	}
	cmd = raw_rw(nvme_cmd_read, 1, NS1_SIZE / 512, 1, c->buf.dma);
	assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), RAW_DNR(NVME_SC_LBA_RANGE));
	cmd = raw_rw(nvme_cmd_write, 1, NS1_SIZE / 512 - 1, 2, c->buf.dma);
	assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), RAW_DNR(NVME_SC_LBA_RANGE));
	cmd = raw_rw(nvme_cmd_read, 1, ~0ULL, 2, c->buf.dma);
	assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), RAW_DNR(NVME_SC_LBA_RANGE));
	cmd = raw_rw(nvme_cmd_read, 2, NS2_SIZE / 4096, 1, c->buf.dma);
	assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), RAW_DNR(NVME_SC_LBA_RANGE));
	/* 2 MiB is MDTS; 2 MiB + 512 is over, and checked before the LBA range. */
	cmd = raw_rw(nvme_cmd_read, 1, 0, 4097, c->buf.dma);
	assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), RAW_DNR(NVME_SC_INVALID_FIELD));
	cmd = raw_rw(nvme_cmd_read, 2, NS2_SIZE, 513, c->buf.dma);
	assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), RAW_DNR(NVME_SC_INVALID_FIELD));

	cmd = raw_rw(0x7e, 1, 0, 1, c->buf.dma);
	assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), RAW_DNR(NVME_SC_INVALID_OPCODE));
	cmd = raw_rw(nvme_admin_identify, 1, 0, 1, c->buf.dma); /* admin opcode on an I/O SQ */
	assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), RAW_DNR(NVME_SC_INVALID_OPCODE));
	cmd = raw_rw(nvme_cmd_read, 1, 0, 1, c->buf.dma);
	cmd.flags = 2 << 6; /* PSDT 10b */
	assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), RAW_DNR(NVME_SC_INVALID_FIELD));
	cmd = raw_rw(nvme_cmd_compare, 1, 0, 1, c->buf.dma);
	cmd.flags = 1; /* fused compare-and-write */
	assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), RAW_DNR(NVME_SC_INVALID_FIELD));

	/* Unmapped IOVA, nothing at all, or a mapping the device may only read. */
	cmd = raw_rw(nvme_cmd_read, 1, 0, 8, c->buf.dma + (256ULL << 20));
	assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), NVME_SC_DATA_XFER_ERROR);
	cmd = raw_rw(nvme_cmd_write, 1, 0, 8, 0x1000);
	assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), NVME_SC_DATA_XFER_ERROR);
	ro = dma_map_single(c->r.pdev, c->buf2.cpu, 4096, DMA_TO_DEVICE);
	assert_true(ro != DMA_MAPPING_ERROR);
	cmd = raw_rw(nvme_cmd_write, 1, 0, 8, ro);
	assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), 0);
	cmd = raw_rw(nvme_cmd_read, 1, 0, 8, ro);
	assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), NVME_SC_DATA_XFER_ERROR);
	dma_unmap_single(c->r.pdev, ro, 4096, DMA_TO_DEVICE);
	/* The controller is fine afterwards. */
	assert_int_equal(rw(c, nvme_cmd_read, 1, 0, 4096, c->buf.dma, 0), 0);
}

static uint16_t format(struct ctx *c, uint32_t nsid, uint32_t cdw10)
{
	struct nvme_command cmd = { .opcode = nvme_admin_format_nvm, .nsid = nsid };

	cmd.cdw10 = cdw10;
	return raw_admin(&c->r, &cmd, NULL);
}

/* Format NVM erases and switches between 512-byte and 4 KiB LBAs. */
static void test_format(void **state)
{
	struct ctx *c = *state;
	struct nvme_id_ns *id = (struct nvme_id_ns *)c->list.cpu;
	struct nvme_command cmd;

	raw_fill(c->buf.cpu, 8192, 5);
	assert_int_equal(rw(c, nvme_cmd_write, 1, 0, 8192, c->buf.dma, 0), 0);
	assert_int_equal(rw(c, nvme_cmd_write, 3, 0, 8192, c->buf.dma, 0), 0);
	assert_int_equal(format(c, 1, 0), 0);
	assert_int_equal(rw(c, nvme_cmd_read, 1, 0, 8192, c->buf2.dma, 0), 0);
	assert_true(all_zero(c->buf2.cpu, 8192));
	assert_int_equal(rw(c, nvme_cmd_read, 3, 0, 8192, c->buf2.dma, 0), 0);
	assert_memory_equal(c->buf2.cpu, c->buf.cpu, 8192);

	/* To 4 KiB blocks. */
	assert_int_equal(format(c, 1, 1), 0);
	cmd = raw_identify(NVME_ID_CNS_NS, 1, c->list.dma);
	assert_int_equal(raw_admin(&c->r, &cmd, NULL), 0);
	assert_int_equal(id->flbas & 0xf, 1);
	assert_int_equal(id->nsze, NS1_SIZE / 4096);
	cmd = raw_rw(nvme_cmd_write, 1, NS1_SIZE / 4096 - 1, 1, c->buf.dma);
	assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), 0);
	cmd = raw_rw(nvme_cmd_write, 1, NS1_SIZE / 4096, 1, c->buf.dma);
	assert_int_equal(raw_io(&c->r, 1, &cmd, NULL), RAW_DNR(NVME_SC_LBA_RANGE));
	assert_int_equal(format(c, 1, 0), 0);

	assert_int_equal(format(c, 1, 2), RAW_DNR(NVME_SC_INVALID_FORMAT));
	assert_int_equal(format(c, 1, 1u << 4), RAW_DNR(NVME_SC_INVALID_FORMAT)); /* MSET */
	assert_int_equal(format(c, 1, 1u << 5), RAW_DNR(NVME_SC_INVALID_FORMAT)); /* PI */
	assert_int_equal(format(c, 1, 2u << 9), RAW_DNR(NVME_SC_INVALID_FIELD)); /* crypto */
	assert_int_equal(format(c, 0, 0), RAW_DNR(NVME_SC_INVALID_NS));
	assert_int_equal(format(c, 5, 0), RAW_DNR(NVME_SC_INVALID_NS));
	/* Every namespace at once, user data erase. */
	assert_int_equal(format(c, 0xffffffff, 1u << 9), 0);
	assert_int_equal(rw(c, nvme_cmd_read, 3, 0, 8192, c->buf2.dma, 0), 0);
	assert_true(all_zero(c->buf2.cpu, 8192));
}

/* A read DMAs straight into a peer's BAR below the same switch: the root complex sees no data. */
static void test_read_into_peer_bar(void **state)
{
	struct ctx *c = *state;
	uint64_t peer = pci_bus_address(c->r.peer, 2);
	uint8_t *peer_mem = pci_iomap(c->r.peer, 2);
	struct pci_rc_stats before, after;
	struct pci_link_stats lb, la;

	raw_fill(c->buf.cpu, 1 << 20, 99);
	assert_int_equal(rw(c, nvme_cmd_write, 1, 0, 1 << 20, c->buf.dma, 0), 0);
	pci_rc_stats_get(c->r.hb, &before);
	pci_link_stats_get(c->r.peer, &lb);
	assert_int_equal(rw(c, nvme_cmd_read, 1, 0, 1 << 20, peer + 4096, 0), 0);
	pci_rc_stats_get(c->r.hb, &after);
	pci_link_stats_get(c->r.peer, &la);
	assert_memory_equal(peer_mem + 4096, c->buf.cpu, 1 << 20);
	assert_int_equal(la.bytes[PCI_LINK_DOWN] - lb.bytes[PCI_LINK_DOWN], 1 << 20);
	assert_int_equal(after.p2p_bytes, before.p2p_bytes);
	/* Only the SQE, the PRP list and the CQE went to host memory. */
	assert_true(after.mem_bytes[0] + after.mem_bytes[1] -
			    (before.mem_bytes[0] + before.mem_bytes[1]) <
		    8192);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_and_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_zeroes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dsm_deallocate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compare, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_commands, setup, teardown),
		cmocka_unit_test_setup_teardown(test_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_into_peer_bar, setup, teardown),
	};

	quiet_logs();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
