// SPDX-License-Identifier: MIT
/*
 * Durability across a killed process: a child drives a controller with a
 * file-backed namespace, writes, flushes, and SIGKILLs itself; a new
 * controller over the same file then finds every block that was flushed,
 * written with FUA, written with the volatile write cache off, or written
 * before a clean shutdown. Blocks written with the cache on and never
 * flushed may or may not be there (this controller keeps them in process
 * memory, so they are normally lost): the test reports which, and asserts
 * nothing about them. And a backing file serves one controller at a time.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "fabric-fixture.h"
#include "raw.h"

#define NS_SIZE (8 << 20)
#define BLK	4096

enum { FLUSHED, FUA, UNFLUSHED, NO_CACHE, SHUTDOWN, NR_BLOCKS };

static const char *const block_name[] = { "flushed", "FUA", "unflushed", "cache off",
					  "before shutdown" };

struct ctx {
	char dir[64];
	char path[96];
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	snprintf(c->dir, sizeof(c->dir), "/tmp/nvme-emu-dur-XXXXXX");
	if (!mkdtemp(c->dir))
		return -1;
	snprintf(c->path, sizeof(c->path), "%s/ns1", c->dir);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	unlink(c->path);
	rmdir(c->dir);
	free(c);
	return 0;
}

static int start(struct raw *r, const char *path)
{
	struct nvme_emu_params p = raw_params();

	p.ns[0] = (struct nvme_emu_ns_params){ path, NS_SIZE, 12 };
	if (raw_setup(r, &p) || !raw_enable(r) || raw_io_pair(r, 1, 16, false, false))
		return -1;
	return 0;
}

/* Block @b (4 KiB LBA @b * 16) holds pattern @b + 1. */
static uint16_t write_block(struct raw *r, struct raw_buf *buf, int b, uint32_t cdw12)
{
	struct nvme_command c = raw_rw(nvme_cmd_write, 1, (uint64_t)b * 16, 1, buf->dma);

	raw_fill(buf->cpu, BLK, (uint32_t)b + 1);
	c.cdw12 |= cdw12;
	return raw_io(r, 1, &c, NULL);
}

static uint16_t simple(struct raw *r, uint8_t opcode)
{
	struct nvme_command c = { .opcode = opcode, .nsid = 1 };

	return raw_io(r, 1, &c, NULL);
}

/* The child: every step must succeed, else it exits with a code instead of SIGKILL. */
static void child(const char *path)
{
	struct raw r;
	struct raw_buf buf;
	struct nvme_command c;

	if (start(&r, path))
		_exit(10);
	buf = raw_alloc(&r, BLK);
	if (write_block(&r, &buf, FLUSHED, 0) || simple(&r, nvme_cmd_flush))
		_exit(11);
	if (write_block(&r, &buf, FUA, 1u << 30))
		_exit(12);
	if (write_block(&r, &buf, UNFLUSHED, 0))
		_exit(13);
	c = raw_feat(nvme_admin_set_features, NVME_FEAT_VOLATILE_WC, 0);
	if (raw_admin(&r, &c, NULL) || write_block(&r, &buf, NO_CACHE, 0))
		_exit(14);
	c = raw_feat(nvme_admin_set_features, NVME_FEAT_VOLATILE_WC, 1);
	if (raw_admin(&r, &c, NULL) || write_block(&r, &buf, SHUTDOWN, 0))
		_exit(15);
	/* Written again after the flush, cache on, not flushed: the old copy or the new. */
	if (write_block(&r, &buf, UNFLUSHED, 0))
		_exit(16);
	raw_wr32(&r, NVME_REG_CC, raw_rd32(&r, NVME_REG_CC) | NVME_CC_SHN_NORMAL);
	if (!raw_wait_csts(&r, NVME_CSTS_SHST_MASK, NVME_CSTS_SHST_CMPLT))
		_exit(17);
	/* After the shutdown completed nothing else reaches the controller. */
	raise(SIGKILL);
	_exit(18);
}

/* Like child(), but killed without a shutdown: only flushed/FUA/cache-off data is safe. */
static void child_no_shutdown(const char *path)
{
	struct raw r;
	struct raw_buf buf;
	struct nvme_command c;

	if (start(&r, path))
		_exit(20);
	buf = raw_alloc(&r, BLK);
	if (write_block(&r, &buf, FLUSHED, 0) || simple(&r, nvme_cmd_flush))
		_exit(21);
	if (write_block(&r, &buf, FUA, 1u << 30))
		_exit(22);
	c = raw_feat(nvme_admin_set_features, NVME_FEAT_VOLATILE_WC, 0);
	if (raw_admin(&r, &c, NULL) || write_block(&r, &buf, NO_CACHE, 0))
		_exit(23);
	c = raw_feat(nvme_admin_set_features, NVME_FEAT_VOLATILE_WC, 1);
	if (raw_admin(&r, &c, NULL) || write_block(&r, &buf, UNFLUSHED, 0))
		_exit(24);
	raise(SIGKILL);
	_exit(25);
}

static void run_child(const char *path, void (*fn)(const char *))
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		fn(path);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFEXITED(status))
		fail_msg("child exited with %d before its SIGKILL", WEXITSTATUS(status));
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
}

/* Read block @b back in a fresh controller; true when it holds its pattern. */
static bool block_intact(struct raw *r, struct raw_buf *buf, int b)
{
	struct nvme_command c = raw_rw(nvme_cmd_read, 1, (uint64_t)b * 16, 1, buf->dma);
	uint8_t want[BLK];

	memset(buf->cpu, 0, BLK);
	assert_int_equal(raw_io(r, 1, &c, NULL), 0);
	raw_fill(want, BLK, (uint32_t)b + 1);
	return !memcmp(buf->cpu, want, BLK);
}

/* Killed after a clean shutdown: everything written is in the file. */
static void test_killed_after_shutdown(void **state)
{
	struct ctx *c = *state;
	struct raw r;
	struct raw_buf buf;

	run_child(c->path, child);
	assert_int_equal(start(&r, c->path), 0);
	buf = raw_alloc(&r, BLK);
	for (int b = 0; b < NR_BLOCKS; b++) {
		bool ok = block_intact(&r, &buf, b);

		print_message("%-16s %s\n", block_name[b], ok ? "intact" : "lost");
		assert_true(ok);
	}
	raw_teardown(&r);
}

/* Killed with a dirty write cache: what Flush, FUA or a disabled cache made durable survives. */
static void test_killed_with_dirty_cache(void **state)
{
	struct ctx *c = *state;
	struct raw r;
	struct raw_buf buf;

	run_child(c->path, child_no_shutdown);
	assert_int_equal(start(&r, c->path), 0);
	buf = raw_alloc(&r, BLK);
	assert_true(block_intact(&r, &buf, FLUSHED));
	assert_true(block_intact(&r, &buf, FUA));
	assert_true(block_intact(&r, &buf, NO_CACHE));
	/* Not asserted either way: a volatile cache may lose it. */
	print_message("unflushed block written with the cache on: %s\n",
		      block_intact(&r, &buf, UNFLUSHED) ? "survived" : "lost");
	raw_teardown(&r);
}

/* A backing file serves one controller at a time: a second is refused while the first lives. */
static void test_file_in_use(void **state)
{
	struct ctx *c = *state;
	struct pci_host_bridge_info hbi = {
		.name = "hbx",
		.domain = 0x1000,
		.bus_offset = 1ULL << 47,
		.mem_base = 0xc0000000,
		.mem_size = 0x10000000,
		.pref_base = 0x8000000000ULL,
		.pref_size = 0x100000000ULL,
	};
	struct nvme_emu_params p = raw_params();
	struct pci_fabric *f = pci_fabric_create();
	struct pci_host_bridge *hb = pci_host_bridge_add(f, &hbi);
	struct pci_dev *rp = pci_root_port_add(hb, "rpx", 0);
	struct nvme_emu *second;
	struct raw r;

	assert_int_equal(start(&r, c->path), 0);
	p.ns[0] = (struct nvme_emu_ns_params){ c->path, NS_SIZE, 12 };
	second = nvme_emu_create(rp, 0, &p);
	assert_true(IS_ERR(second));
	assert_int_equal(PTR_ERR(second), -EBUSY);
	raw_teardown(&r);
	second = nvme_emu_create(rp, 0, &p);
	assert_false(IS_ERR(second));
	nvme_emu_destroy(second);
	pci_fabric_destroy(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_killed_after_shutdown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_killed_with_dirty_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_in_use, setup, teardown),
	};

	quiet_logs();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
