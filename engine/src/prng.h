/*
 * prng.h - splitmix64 seeding xoshiro256**: the project's one deterministic
 * generator (engine jitter, simulator faults). No floats, no global state.
 *
 * Must never: be used where unpredictability matters (keys come from
 * libsodium), or read entropy itself: the seed is always an input.
 */
#ifndef BPC_PRNG_H
#define BPC_PRNG_H

#include <stdint.h>

struct bpc_prng {
    uint64_t s[4];
};

static inline uint64_t
bpc_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static inline void
bpc_prng_seed(struct bpc_prng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) {
        r->s[i] = bpc_splitmix64(&seed);
    }
}

static inline uint64_t
bpc_prng_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t
bpc_prng_next(struct bpc_prng *r)
{
    uint64_t *s = r->s;
    uint64_t result = bpc_prng_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = bpc_prng_rotl(s[3], 45);
    return result;
}

#endif /* BPC_PRNG_H */
