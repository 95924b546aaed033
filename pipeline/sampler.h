/*
 * sampler.h — drawing the next token from a language model's logits, for `longscan generate`:
 * temperature and nucleus (top-p) sampling, or the most likely token (temperature 0).
 *
 * Rule, for logits z (V) and temperature T > 0, computed in double:
 *   p_v = exp((z_v − max z) / T) / Σ_u exp((z_u − max z) / T)
 *   top-p P < 1: the ids sorted by p, largest first (ties: smaller id first); the kept set is
 *   the shortest prefix whose mass reaches P (at least one id); p renormalised over it.
 *   The draw: one u = rng_uniform() in [0, 1), scaled by the kept mass; the first id (in the
 *   sorted order when top-p is on, in id order otherwise) whose cumulative mass exceeds it.
 * T = 0: the first id of largest logit, and no random number is drawn.
 * Each call uses exactly one draw of @p rng (none when T = 0), so a row's tokens depend only
 * on its seed stream and its own logits.
 *
 * Tested by tests/unit/test_sampler.c.
 */
#ifndef LS_SAMPLER_H
#define LS_SAMPLER_H

#include <stdint.h>

#include "common/error.h"
#include "io/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    double temperature; /* >= 0; 0: greedy */
    double top_p;       /* (0, 1]; 1: the whole distribution */
} SamplerOptions;

typedef struct Sampler Sampler;

/**
 * A sampler for a vocabulary of @p V ids (its buffers: V doubles and V ints).
 * @return 0 and *out (free with sampler_free()); LS_ERR_USAGE for T < 0, top_p outside
 *         (0, 1] or V < 1 (the message names the option); LS_ERR_NOMEM.
 */
int sampler_init(Sampler **out, const SamplerOptions *opt, int64_t V) LS_RESULT_USED;
void sampler_free(Sampler *s);

/**
 * Draw one id from @p logits (V floats) by the rule above.
 * @return the id (>= 0), or LS_ERR_RANGE when a logit is NaN or infinite (the message names
 *         the id and the value).
 */
int64_t sampler_draw(Sampler *s, const float *logits, Rng *rng) LS_RESULT_USED;

#ifdef __cplusplus
}
#endif
#endif
