/*
 * generator.h — the generation loop of `longscan generate`, apart from files and options so
 * that tests run exactly the loop the command runs.
 *
 * Rows b = 0..B−1 are generated side by side. Each row has a prefix (its context: the prompt,
 * or one seed token); all but the last prefix token prime the model's streaming state in
 * parallel passes of `segment` positions (model_stream_forward without logits: one pass over
 * a prompt that fits a segment, never token by token), then every new token takes one
 * recurrent step (model_generate_step) fed with the token before it, whose next-token logits
 * the sampler (sampler.h) draws from. Row b draws from its own random stream,
 * rng_seed_stream(seed, b), so the same seed gives the same tokens.
 *
 * Memory: the model's streaming state (constant per row for Mamba; attention layers add a
 * key/value cache that grows with the context, reserved up front), one segment's activations
 * while priming, and a block of generated tokens handed to the caller as it fills.
 *
 * On the GPU the draw runs on the device as well (model_generate_device_*, kernels/sample.h:
 * the same rule and the same per-row random streams), the tokens come back once per run of
 * steps, and for a stack of Mamba layers each run of graph_steps steps replays one captured
 * CUDA graph. With on_step set, every step is its own run (its logits come back to the host).
 *
 * Tested by tests/unit/test_generate.c (teacher forcing: every step's logits equal the full
 * forward's on the generated sequence; seeds; greedy), tests/gpu/model_gpu.c (the same on
 * the GPU; graphs ≡ no graphs) and tests/cli/generate.tst.
 */
#ifndef LS_GENERATOR_H
#define LS_GENERATOR_H

#include <stdint.h>

#include "common/error.h"
#include "models/model.h"
#include "pipeline/sampler.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Tokens generated at positions [t0, t0 + n) of every row: row b at tokens[b·stride ..]. */
typedef int (*GeneratorBlockFn)(void *ctx, int64_t t0, int64_t n, const uint8_t *tokens,
                                int64_t stride);
/** Step t's next-token logits (B, V) and the tokens drawn from them (B) (tests, progress). */
typedef int (*GeneratorStepFn)(void *ctx, int64_t t, const float *logits, const uint8_t *next);

typedef struct {
    int64_t          B;        /* rows, >= 1 */
    const uint8_t   *prefix;   /* (B, P) each row's context; the last token is fed first */
    int64_t          P;        /* >= 1 */
    int64_t          length;   /* tokens to generate per row, >= 1 */
    SamplerOptions   sampler;
    uint64_t         seed;
    int64_t          segment;  /* prefix positions per parallel pass; 0: GENERATOR_PRIME_ROWS/B */
    int64_t          block;    /* tokens per on_block call; 0: GENERATOR_BLOCK */
    GeneratorBlockFn on_block; /* may be NULL */
    GeneratorStepFn  on_step;  /* may be NULL */
    void            *ctx;
    int64_t          graph_steps; /* GPU: steps per CUDA graph; 0: GENERATOR_GRAPH_STEPS; −1: none */
} GeneratorOptions;

/** Rows × positions of activations one priming pass aims at (its memory: ~10·D floats each). */
#define GENERATOR_PRIME_ROWS 65536
/** Default tokens per row handed over at a time. */
#define GENERATOR_BLOCK 4096
/** GPU: steps captured per CUDA graph (and per copy of the tokens back to the host). */
#define GENERATOR_GRAPH_STEPS 128

/**
 * Run the loop on a causal language model (model_stream_* API) whose vocabulary fits 8-bit
 * tokens (<= 256 ids).
 * @return 0; LS_ERR_USAGE (bad options), LS_ERR_UNSUPPORTED (the model cannot generate),
 *         LS_ERR_RANGE (a non-finite logit), LS_ERR_NOMEM; or the first error of a callback.
 */
int generator_run(Model *model, const GeneratorOptions *opt) LS_RESULT_USED;

#ifdef __cplusplus
}
#endif
#endif
