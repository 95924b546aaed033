/*
 * rng.c — xoshiro256** and splitmix64 (see rng.h), written from the public-domain reference
 * implementations at prng.di.unimi.it. Tested by tests/unit/test_dataset.c, which checks the
 * first outputs against the reference values.
 */
#include "io/rng.h"

uint64_t rng_splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    return rng_mix64(z);
}

uint64_t rng_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t rng_hash_string(const char *s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    return h;
}

void rng_seed(Rng *rng, uint64_t seed) {
    uint64_t sm = seed;
    for (int i = 0; i < 4; i++) rng->s[i] = rng_splitmix64(&sm);
    /* splitmix64 is a bijection of its counter, so four successive outputs are never all
     * zero; keep the guard anyway since the state must not be. */
    if ((rng->s[0] | rng->s[1] | rng->s[2] | rng->s[3]) == 0) rng->s[0] = 1;
}

void rng_seed_stream(Rng *rng, uint64_t seed, uint64_t stream) {
    rng_seed(rng, rng_mix64(seed) ^ rng_mix64(stream + 0x632be59bd9b4e019ULL));
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rng_next(Rng *rng) {
    uint64_t *s = rng->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t rng_below(Rng *rng, uint64_t n) {
    if (n == 0) return 0;
    /* reject the lowest (2^64 mod n) values so every residue is equally likely */
    uint64_t threshold = (0 - n) % n;
    for (;;) {
        uint64_t r = rng_next(rng);
        if (r >= threshold) return r % n;
    }
}

double rng_uniform(Rng *rng) { return (double)(rng_next(rng) >> 11) * 0x1.0p-53; }

void rng_shuffle_int64(Rng *rng, int64_t *a, int64_t n) {
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)rng_below(rng, (uint64_t)i + 1);
        int64_t t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

void rng_get_state(const Rng *rng, uint64_t state[4]) {
    for (int i = 0; i < 4; i++) state[i] = rng->s[i];
}

int rng_set_state(Rng *rng, const uint64_t state[4]) {
    if ((state[0] | state[1] | state[2] | state[3]) == 0)
        return ls_error(LS_ERR_RANGE, "random generator state: all four words are zero, "
                        "which is not a valid xoshiro256** state");
    for (int i = 0; i < 4; i++) rng->s[i] = state[i];
    return 0;
}
