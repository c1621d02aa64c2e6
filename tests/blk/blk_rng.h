/*
 * The block tests' random numbers: xorshift64 from a fixed seed, so a
 * failure repeats. blk-guest and bench-proc-blk-dom must draw the same
 * offsets from BLK_RNG_SEED: this one header keeps them in step.
 */
#ifndef XENON_TESTS_BLK_RNG_H
#define XENON_TESTS_BLK_RNG_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define BLK_RNG_SEED 88172645463325252ull

static inline uint64_t blk_rnd(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

static inline void blk_fill_random(uint64_t *state, uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = blk_rnd(state);

		memcpy(buf + i, &v, len - i < 8 ? len - i : 8);
	}
}

#endif
