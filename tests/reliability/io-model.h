/* SPDX-License-Identifier: MIT */
/*
 * A model of outstanding NVMe I/O for the fault-injection tests: many
 * asynchronous reads and writes on several queue pairs of the host driver
 * (tests/nvme-host/nvme-fixture.h), each on its own 4 KiB of namespace 1,
 * every one accounted for after a fault.
 *
 *   namespace 1 (512-byte blocks)
 *   [ read area: RIO_READS x 8 blocks, pattern read_seed(i) ]
 *   [ write area: RIO_WRITES x 8 blocks, old pattern, new pattern on write ]
 *
 * The rules the tests check (what "nothing lost, nothing wrong" means):
 *   - every I/O's callback runs exactly once, within a bounded time;
 *   - a read that succeeded holds exactly what is on the media;
 *   - a write that succeeded is on the media;
 *   - a failed write leaves each block either old or new, never anything
 *     else, and succeeds when retried;
 *   - nothing is written into a failed read's buffer after its callback
 *     (the buffer is refilled with a canary at that moment and must keep
 *     it), and a failed read succeeds when retried.
 */
#ifndef HETMEM_TESTS_RELIABILITY_IO_MODEL_H
#define HETMEM_TESTS_RELIABILITY_IO_MODEL_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../nvme-host/nvme-fixture.h"

#define RIO_BLOCKS  8 /* 512-byte blocks per I/O: 4 KiB */
#define RIO_BYTES   (RIO_BLOCKS * 512)
#define RIO_READS   48
#define RIO_WRITES  48
#define RIO_N	    (RIO_READS + RIO_WRITES)
#define RIO_WBASE   ((uint64_t)RIO_READS * RIO_BLOCKS)
#define RIO_CANARY  0x5a
#define RIO_QPAIRS  2
#define RIO_WAIT_MS 30000 /* every I/O must have been answered by then */

struct rio {
	bool write;
	uint64_t slba;
	uint8_t *buf;
	int calls; /* times its callback ran */
	int status;
	bool canary; /* failed read: buffer refilled with RIO_CANARY */
};

struct rio_model {
	struct nfix *x;
	struct nvme_ns *ns;
	struct nvme_qpair *qp[RIO_QPAIRS];
	struct rio io[RIO_N];
	unsigned int ok, failed;
};

static inline uint32_t rio_read_seed(unsigned int i)
{
	return 1000 + i;
}

static inline uint32_t rio_old_seed(unsigned int i)
{
	return 2000 + i;
}

static inline uint32_t rio_new_seed(unsigned int i)
{
	return 3000 + i;
}

static inline uint64_t rio_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void rio_done(void *arg, int status)
{
	struct rio *io = arg;

	io->calls++;
	io->status = status;
	/* From here on the buffer is the caller's again: no DMA may touch it. */
	if (status && !io->write) {
		memset(io->buf, RIO_CANARY, RIO_BYTES);
		io->canary = true;
	}
}

/* Media content for the model: read area and the write area's old patterns. */
static inline void rio_prefill(struct rio_model *m)
{
	uint8_t *b = nfix_alloc(RIO_BYTES);

	for (unsigned int i = 0; i < RIO_READS; i++) {
		nfix_fill(b, RIO_BYTES, rio_read_seed(i));
		assert_int_equal(
			nvme_write(m->ns, m->qp[0], b, (uint64_t)i * RIO_BLOCKS, RIO_BLOCKS), 0);
	}
	for (unsigned int i = 0; i < RIO_WRITES; i++) {
		nfix_fill(b, RIO_BYTES, rio_old_seed(i));
		assert_int_equal(nvme_write(m->ns, m->qp[0], b,
					    RIO_WBASE + (uint64_t)i * RIO_BLOCKS, RIO_BLOCKS),
				 0);
	}
	free(b);
}

/* A fixture with a second queue pair and the media prefilled. */
static inline void rio_init(struct rio_model *m, struct nfix *x)
{
	memset(m, 0, sizeof(*m));
	m->x = x;
	m->ns = nvme_ctrl_ns(x->ctrl[0], 1);
	assert_non_null(m->ns);
	m->qp[0] = x->qp[0];
	for (int q = 1; q < RIO_QPAIRS; q++) {
		m->qp[q] = nvme_qpair_alloc(x->ctrl[0]);
		assert_false(IS_ERR(m->qp[q]));
	}
	rio_prefill(m);
	for (unsigned int i = 0; i < RIO_N; i++) {
		m->io[i].buf = nfix_alloc(RIO_BYTES);
		assert_non_null(m->io[i].buf);
	}
}

static inline void rio_fini(struct rio_model *m)
{
	for (int q = 1; q < RIO_QPAIRS; q++)
		nvme_qpair_free(m->qp[q]);
	for (unsigned int i = 0; i < RIO_N; i++)
		free(m->io[i].buf);
}

/* Submit every I/O, reads and writes interleaved and spread over the queue pairs. */
static inline void rio_submit_all(struct rio_model *m)
{
	for (unsigned int k = 0; k < RIO_N; k++) {
		unsigned int i = k / 2;
		bool write = k & 1;
		struct rio *io = &m->io[k];
		struct nvme_qpair *qp = m->qp[k % RIO_QPAIRS];
		int ret;

		io->write = write;
		io->calls = 0;
		io->status = 0;
		io->canary = false;
		if (write) {
			io->slba = RIO_WBASE + (uint64_t)i * RIO_BLOCKS;
			nfix_fill(io->buf, RIO_BYTES, rio_new_seed(i));
			ret = nvme_submit_write(m->ns, qp, io->buf, io->slba, RIO_BLOCKS, rio_done,
						io);
		} else {
			io->slba = (uint64_t)i * RIO_BLOCKS;
			memset(io->buf, 0, RIO_BYTES);
			ret = nvme_submit_read(m->ns, qp, io->buf, io->slba, RIO_BLOCKS, rio_done,
					       io);
		}
		assert_int_equal(ret, 0);
	}
}

/* Poll every queue pair until each I/O's callback ran; fails the test after RIO_WAIT_MS. */
static inline void rio_wait_all(struct rio_model *m)
{
	uint64_t end = rio_ms() + RIO_WAIT_MS;

	for (;;) {
		unsigned int answered = 0;

		for (unsigned int i = 0; i < RIO_N; i++)
			answered += m->io[i].calls > 0;
		if (answered == RIO_N)
			break;
		if (rio_ms() > end)
			fail_msg("%u of %u I/Os never completed", RIO_N - answered, RIO_N);
		for (int q = 0; q < RIO_QPAIRS; q++)
			nvme_qpair_wait(m->qp[q], 2);
	}
	m->ok = m->failed = 0;
	for (unsigned int i = 0; i < RIO_N; i++) {
		struct rio *io = &m->io[i];

		/* Exactly once; and an error is one the interface documents for a reset. */
		assert_int_equal(io->calls, 1);
		if (!io->status) {
			m->ok++;
			continue;
		}
		m->failed++;
		if (io->status != -EIO && io->status != -ETIMEDOUT)
			fail_msg("I/O %u (%s at %llu) failed with %d", i,
				 io->write ? "write" : "read", (unsigned long long)io->slba,
				 io->status);
	}
}

/* Byte-exact comparison of one 512-byte block against @seed's pattern. */
static inline bool rio_block_is(const uint8_t *blk, unsigned int b, uint32_t seed)
{
	uint8_t want[RIO_BYTES];

	nfix_fill(want, RIO_BYTES, seed);
	return !memcmp(blk, want + b * 512, 512);
}

/*
 * Check the media and the buffers against the model, retry what failed,
 * and check again: afterwards every write is on the media and every read
 * got its data.
 */
static inline void rio_verify_and_retry(struct rio_model *m)
{
	uint8_t *media = nfix_alloc(RIO_BYTES), want[RIO_BYTES];

	for (unsigned int k = 0; k < RIO_N; k++) {
		struct rio *io = &m->io[k];
		unsigned int i = k / 2;

		if (!io->write) {
			nfix_fill(want, RIO_BYTES, rio_read_seed(i));
			if (!io->status) {
				assert_memory_equal(io->buf, want, RIO_BYTES);
				continue;
			}
			/* Nothing landed in the buffer after the failure was reported. */
			for (unsigned int j = 0; j < RIO_BYTES; j++)
				if (io->buf[j] != RIO_CANARY)
					fail_msg("read %u: byte %u written after its failure", k,
						 j);
			assert_int_equal(nvme_read(m->ns, m->qp[0], io->buf, io->slba, RIO_BLOCKS),
					 0);
			assert_memory_equal(io->buf, want, RIO_BYTES);
			continue;
		}
		assert_int_equal(nvme_read(m->ns, m->qp[0], media, io->slba, RIO_BLOCKS), 0);
		for (unsigned int b = 0; b < RIO_BLOCKS; b++) {
			bool is_new = rio_block_is(media + b * 512, b, rio_new_seed(i));
			bool is_old = rio_block_is(media + b * 512, b, rio_old_seed(i));

			if (!io->status && !is_new)
				fail_msg("write %u: block %u is not what the write wrote", k, b);
			if (io->status && !is_new && !is_old)
				fail_msg("write %u (failed): block %u is neither old nor new", k,
					 b);
		}
		if (io->status) {
			assert_int_equal(nvme_write(m->ns, m->qp[0], io->buf, io->slba, RIO_BLOCKS),
					 0);
			assert_int_equal(nvme_read(m->ns, m->qp[0], media, io->slba, RIO_BLOCKS),
					 0);
			assert_memory_equal(media, io->buf, RIO_BYTES);
		}
	}
	free(media);
}

#endif /* HETMEM_TESTS_RELIABILITY_IO_MODEL_H */
