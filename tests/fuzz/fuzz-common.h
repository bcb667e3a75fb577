/* SPDX-License-Identifier: MIT */
/*
 * What every fuzzer shares: silence the log (guest errors are the expected
 * answer to fuzzed input, and printing them would dominate the run) and a
 * cursor that takes little-endian fields from the input, yielding zeros
 * once it is exhausted.
 */
#ifndef HETMEM_TESTS_FUZZ_COMMON_H
#define HETMEM_TESTS_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <hetmem/log.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz_in {
	const uint8_t *p;
	size_t left;
};

static void fz_log_drop(int level, int guest, const char *msg, void *arg)
{
}

static inline void fz_quiet(void)
{
	hetmem_log_set_level(HETMEM_LOG_ERR);
	hetmem_log_set_handler(fz_log_drop, NULL);
}

static inline uint64_t fz_take(struct fz_in *in, unsigned int bytes)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < bytes && in->left; i++, in->left--)
		v |= (uint64_t)*in->p++ << (8 * i);
	return v;
}

static inline uint8_t fz_u8(struct fz_in *in)
{
	return (uint8_t)fz_take(in, 1);
}

static inline uint16_t fz_u16(struct fz_in *in)
{
	return (uint16_t)fz_take(in, 2);
}

static inline uint32_t fz_u32(struct fz_in *in)
{
	return (uint32_t)fz_take(in, 4);
}

static inline uint64_t fz_u64(struct fz_in *in)
{
	return fz_take(in, 8);
}

#endif /* HETMEM_TESTS_FUZZ_COMMON_H */
