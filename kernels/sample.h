/*
 * sample.h — drawing the next token of every row on the GPU, so that generation needs no host
 * round trip per token (models/stream.c, model_generate_device_*): the logits stay on the
 * device, the drawn ids go straight into the next step's input and into a block of output
 * tokens that the host fetches once per many steps.
 *
 * The rule is pipeline/sampler.h's (the specification; tested against it): temperature T and
 * nucleus top-p over p_v = exp((z_v − max z)/T) in double, ties of the sort by smaller id, one
 * uniform u per row and call, the first id whose cumulative mass exceeds u times the kept
 * mass; T = 0 the first id of largest logit, no draw. The uniform comes from the row's own
 * xoshiro256** state (io/rng.h), kept on the device and advanced exactly as rng_uniform
 * advances it on the host: seeded with rng_seed_stream(seed, b) as the CPU generator seeds row
 * b, the device draws the same u sequence as the CPU.
 *
 * Where the GPU can differ from pipeline/sampler.c on the same logits and state: the sums
 * (block-wide prefix sums in a fixed tree order instead of a left-to-right loop) and CUDA's
 * double exp, i.e. in the last bits of the cumulative masses; the drawn id differs only when u
 * falls within that rounding of a boundary. Deterministic: the same logits and states give the
 * same ids on every run. (The logits themselves come from the GPU forward, which is not the
 * CPU's bit for bit, so a file generated on the GPU is reproducible on the GPU, not on the
 * CPU: docs/generate.md.)
 *
 * One block of 256 threads per row; V <= 256 (8-bit tokens: generation writes uint8).
 */
#ifndef LS_SAMPLE_H
#define LS_SAMPLE_H

#include <stdint.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SAMPLE_MAX_VOCAB 256

/** Sentinel of the error word: no non-finite logit seen. */
#define SAMPLE_NO_ERROR UINT64_MAX

typedef struct {
    int64_t B, V;        /* rows; ids per row (1..SAMPLE_MAX_VOCAB) */
    double temperature;  /* >= 0; 0: greedy */
    double top_p;        /* (0, 1] */
    const float *logits; /* (B, V) fp32, device */
    uint64_t *rng;       /* (B, 4) xoshiro256** states, device; advanced once per call (T > 0) */
    uint8_t *next;       /* (B) the drawn ids, device (the next step's input) */
    uint8_t *out;        /* device; id of row b also written to out[b·out_stride]; may be NULL */
    int64_t out_stride;
    uint64_t *error;     /* device word: min over bad (b·V + v) of rows with a non-finite logit
                          * (atomicMin; SAMPLE_NO_ERROR when none); such a row draws id 0 */
    void *stream;        /* cudaStream_t; NULL = the thread's stream */
} SampleArgs;

/**
 * Queue one draw per row (never waits).
 * @return 0; LS_ERR_USAGE (V outside 1..256, B < 0, T < 0, top_p outside (0, 1], NULL
 *         pointer); LS_ERR_CUDA; LS_ERR_NO_CUDA in a CPU-only build.
 */
int sample_tokens_cuda(const SampleArgs *a) LS_RESULT_USED;

#ifdef __cplusplus
}
#endif
#endif
