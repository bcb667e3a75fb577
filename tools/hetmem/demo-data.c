// SPDX-License-Identifier: MIT
/*
 * hetmem demo: the data every step moves, and the checksums that say it
 * arrived. The pattern is a function of (seed, offset), so what a range
 * should hold can be computed again anywhere, at any time, without a
 * reference copy: the NVMe step fills the namespace chunk by chunk and
 * checks GPU memory against the checksums taken as the chunks were sent;
 * the HMM step recomputes what every word of its buffer must be.
 */
#include <stdint.h>
#include <string.h>

#include "demo.h"

#define FNV_PRIME 0x100000001b3ULL

/* splitmix64's finaliser: consecutive inputs give unrelated outputs. */
static inline uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void demo_pattern_fill(void *buf, uint64_t off, size_t len, uint64_t seed)
{
	uint64_t *w = buf, base = seed * 0x9e3779b97f4a7c15ULL + off / sizeof(*w);

	for (size_t i = 0; i < len / sizeof(*w); i++)
		w[i] = mix64(base + i);
}

uint64_t demo_checksum_continue(uint64_t sum, const void *buf, size_t len)
{
	const uint64_t *w = buf;

	for (size_t i = 0; i < len / sizeof(*w); i++)
		sum = (sum ^ w[i]) * FNV_PRIME;
	return sum;
}

uint64_t demo_checksum(const void *buf, size_t len)
{
	return demo_checksum_continue(DEMO_CHECKSUM_INIT, buf, len);
}

uint64_t demo_checksum_combine(const uint64_t *sum, size_t n)
{
	return demo_checksum(sum, n * sizeof(*sum));
}

void demo_kernel_fill(void *buf, uint64_t off, size_t len, uint64_t seed)
{
	const uint32_t mask = (1u << DEMO_KERNEL_BITS) - 1;
	uint32_t *w = buf;

	demo_pattern_fill(buf, off, len, seed);
	for (size_t i = 0; i < len / sizeof(*w); i++) {
		float x = (float)(w[i] & mask);

		memcpy(&w[i], &x, sizeof(x));
	}
}

void demo_kernel_ref(void *buf, size_t len)
{
	float *y = buf;

	/* Below 2^24 in and out: the multiply and the add are both exact. */
	for (size_t i = 0; i < len / sizeof(*y); i++)
		y[i] = (float)DEMO_KERNEL_A * y[i] + (float)DEMO_KERNEL_B;
}

uint64_t demo_fnv1a(uint64_t h, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= FNV_PRIME;
	}
	return h;
}
