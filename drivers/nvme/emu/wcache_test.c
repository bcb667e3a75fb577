// SPDX-License-Identifier: MIT
/*
 * White-box tests of the volatile write cache: what reads see, what
 * reaches the file and when, pressure, zeroing, and a namespace that ends
 * inside a block.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "emu.h"

#define BLK 4096

struct ctx {
	char path[64];
	int fd;
	uint64_t size;
	struct nvme_emu_wcache *wc;
};

static int setup_size(void **state, uint64_t size, unsigned int max)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	snprintf(c->path, sizeof(c->path), "/tmp/wcache-test-XXXXXX");
	c->fd = mkstemp(c->path);
	if (c->fd < 0 || ftruncate(c->fd, (off_t)size))
		return -1;
	c->size = size;
	c->wc = nvme_emu_wc_alloc(max);
	*state = c;
	return c->wc ? 0 : -1;
}

static int setup(void **state)
{
	return setup_size(state, 1 << 20, 8);
}

static int setup_odd(void **state)
{
	return setup_size(state, 10240, 8); /* two and a half blocks */
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	nvme_emu_wc_free(c->wc);
	close(c->fd);
	unlink(c->path);
	free(c);
	return 0;
}

static void file_read(struct ctx *c, uint64_t off, void *buf, size_t len)
{
	assert_int_equal(pread(c->fd, buf, len, (off_t)off), (ssize_t)len);
}

static void cache_read(struct ctx *c, uint64_t off, void *buf, size_t len)
{
	file_read(c, off, buf, len);
	nvme_emu_wc_overlay(c->wc, off, buf, len);
}

static void pattern(uint8_t *p, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

/* A partial write fills the rest of its block from the file; reads see the cache. */
static void test_partial_write_fills_block(void **state)
{
	struct ctx *c = *state;
	uint8_t old[BLK], new[512], got[BLK];

	pattern(old, BLK, 1);
	assert_int_equal(pwrite(c->fd, old, BLK, 8192), BLK);
	pattern(new, sizeof(new), 99);
	assert_int_equal(nvme_emu_wc_write(c->wc, c->fd, c->size, 8192 + 1024, new, 512), 0);
	assert_int_equal(nvme_emu_wc_pages(c->wc), 1);

	file_read(c, 8192, got, BLK);
	assert_memory_equal(got, old, BLK); /* the file has not changed */
	cache_read(c, 8192, got, BLK);
	memcpy(old + 1024, new, 512);
	assert_memory_equal(got, old, BLK);

	assert_int_equal(nvme_emu_wc_writeback(c->wc, c->fd, c->size, 0, UINT64_MAX), 0);
	assert_int_equal(nvme_emu_wc_pages(c->wc), 0);
	file_read(c, 8192, got, BLK);
	assert_memory_equal(got, old, BLK);
}

/* Writing back a range leaves the other blocks cached; adjacent blocks go out together. */
static void test_writeback_range(void **state)
{
	struct ctx *c = *state;
	uint8_t data[4 * BLK], got[4 * BLK];

	pattern(data, sizeof(data), 5);
	assert_int_equal(nvme_emu_wc_write(c->wc, c->fd, c->size, 0, data, sizeof(data)), 0);
	assert_int_equal(nvme_emu_wc_write(c->wc, c->fd, c->size, 64 * BLK, data, BLK), 0);
	assert_int_equal(nvme_emu_wc_pages(c->wc), 5);
	assert_int_equal(nvme_emu_wc_writeback(c->wc, c->fd, c->size, BLK, 2 * BLK), 0);
	assert_int_equal(nvme_emu_wc_pages(c->wc), 3);
	file_read(c, 0, got, sizeof(got));
	assert_memory_equal(got + BLK, data + BLK, 2 * BLK);
	for (size_t i = 0; i < BLK; i++)
		assert_int_equal(got[i], 0);
	assert_int_equal(nvme_emu_wc_writeback(c->wc, c->fd, c->size, 0, UINT64_MAX), 0);
	file_read(c, 0, got, sizeof(got));
	assert_memory_equal(got, data, sizeof(got));
	file_read(c, 64 * BLK, got, BLK);
	assert_memory_equal(got, data, BLK);
}

/* A full cache writes back its oldest quarter to make room. */
static void test_pressure(void **state)
{
	struct ctx *c = *state;
	uint8_t blk[BLK], got[BLK];

	for (int i = 0; i < 20; i++) {
		pattern(blk, BLK, (uint8_t)i);
		assert_int_equal(
			nvme_emu_wc_write(c->wc, c->fd, c->size, (uint64_t)i * BLK, blk, BLK), 0);
		assert_true(nvme_emu_wc_pages(c->wc) <= 8);
	}
	/* The first blocks went to the file, the last are still only cached. */
	pattern(blk, BLK, 0);
	file_read(c, 0, got, BLK);
	assert_memory_equal(got, blk, BLK);
	pattern(blk, BLK, 19);
	cache_read(c, 19 * BLK, got, BLK);
	assert_memory_equal(got, blk, BLK);
	file_read(c, 19 * BLK, got, BLK);
	assert_memory_not_equal(got, blk, BLK);
	/* Rewriting a cached block does not take a new one. */
	assert_int_equal(nvme_emu_wc_write(c->wc, c->fd, c->size, 19 * BLK, blk, 16), 0);
	assert_true(nvme_emu_wc_pages(c->wc) <= 8);
}

/* Zeroing drops blocks inside the range and zeroes the edges of partial ones. */
static void test_zero(void **state)
{
	struct ctx *c = *state;
	uint8_t data[3 * BLK], got[3 * BLK];

	pattern(data, sizeof(data), 3);
	assert_int_equal(nvme_emu_wc_write(c->wc, c->fd, c->size, 0, data, sizeof(data)), 0);
	nvme_emu_wc_zero(c->wc, 1000, BLK + 2000 + 3096);
	assert_int_equal(nvme_emu_wc_pages(c->wc), 2);
	memset(data + 1000, 0, BLK + 2000 + 3096);
	cache_read(c, 0, got, sizeof(got));
	assert_memory_equal(got, data, sizeof(got));
	nvme_emu_wc_drop(c->wc);
	assert_int_equal(nvme_emu_wc_pages(c->wc), 0);
	file_read(c, 0, got, sizeof(got));
	for (size_t i = 0; i < sizeof(got); i++)
		assert_int_equal(got[i], 0);
}

/* A namespace ending inside a block: the tail block is written only up to the end. */
static void test_odd_size(void **state)
{
	struct ctx *c = *state;
	uint8_t data[2048], got[2048];

	pattern(data, sizeof(data), 8);
	assert_int_equal(nvme_emu_wc_write(c->wc, c->fd, c->size, 8192, data, sizeof(data)), 0);
	assert_int_equal(nvme_emu_wc_writeback(c->wc, c->fd, c->size, 0, UINT64_MAX), 0);
	assert_int_equal(lseek(c->fd, 0, SEEK_END), 10240);
	file_read(c, 8192, got, sizeof(got));
	assert_memory_equal(got, data, sizeof(got));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_partial_write_fills_block, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writeback_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pressure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_odd_size, setup_odd, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
