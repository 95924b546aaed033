/*
 * rng.h — the one pseudo-random generator of the data path, and the hashes that make splits
 * and seeds deterministic.
 *
 * Generator: xoshiro256** (Blackman & Vigna, 2018; public domain reference at
 * prng.di.unimi.it), 256 bits of state, period 2^256 − 1. Seeding: the four state words are
 * four successive outputs of splitmix64 started at the seed, so any 64-bit seed (0 included)
 * gives a valid, well-mixed state. The state is four plain uint64_t: a trainer saves them in
 * its training-state file and restores them to continue the exact same stream (resume with
 * identical results).
 *
 * Bounded integers are exact (rejection, no modulo bias); doubles take the top 53 bits.
 * Tested by tests/unit/test_dataset.c (reference outputs of both generators, state round trip).
 */
#ifndef LS_RNG_H
#define LS_RNG_H

#include <stdint.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint64_t s[4];   /* xoshiro256** state; never all zero */
} Rng;

/** One step of splitmix64: advances *state by the golden-ratio increment, returns the mix. */
uint64_t rng_splitmix64(uint64_t *state);

/** splitmix64's finaliser alone: a bijective 64-bit mix (for hashing seeds and names). */
uint64_t rng_mix64(uint64_t x);

/** FNV-1a 64-bit hash of a NUL-terminated string (stable across runs and machines). */
uint64_t rng_hash_string(const char *s);

/** Seed from one 64-bit number (any value): s[i] = successive splitmix64 outputs. */
void rng_seed(Rng *rng, uint64_t seed);

/**
 * Seed an independent stream for (@p seed, @p stream), e.g. (seed, epoch) for an epoch's
 * shuffle, so a run can recreate any epoch's order without replaying earlier ones.
 */
void rng_seed_stream(Rng *rng, uint64_t seed, uint64_t stream);

/** Next 64 random bits. */
uint64_t rng_next(Rng *rng);

/** Uniform integer in [0, n); n == 0 returns 0. Exact (rejection sampling). */
uint64_t rng_below(Rng *rng, uint64_t n);

/** Uniform double in [0, 1) with 53 random bits. */
double rng_uniform(Rng *rng);

/** Fisher–Yates shuffle of @p a[0..n) (uniform over permutations). */
void rng_shuffle_int64(Rng *rng, int64_t *a, int64_t n);

/** Copy the state out (for a training-state file). */
void rng_get_state(const Rng *rng, uint64_t state[4]);

/**
 * Restore a state saved by rng_get_state().
 * @return 0, or LS_ERR_RANGE for the all-zero state (not a xoshiro state).
 */
int rng_set_state(Rng *rng, const uint64_t state[4]) LS_RESULT_USED;

#ifdef __cplusplus
}
#endif
#endif
