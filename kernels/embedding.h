/*
 * embedding.h — token embedding lookup (torch.nn.Embedding) and its backward.
 *
 * Shapes: ids (M) int32 token ids, M = B·L; table (V, D) = nn.Embedding.weight;
 * out, dout (M, D) contiguous.
 *   out[m, :] = table[ids[m], :]
 *   dtable[v, :] += Σ_{m : ids[m] = v} dout[m, :]
 * Every id must be in [0, V): LS_ERR_RANGE names the first bad position and id, and nothing
 * is written. (There is no padding_idx: give padded positions any valid id and mask them
 * downstream, e.g. with the loss's ignore index.)
 *
 * Gradient convention (project-wide): backward ops ACCUMULATE (+=) into every gradient
 * output; the caller zeroes gradients before the first backward of a step.
 * The backward scatter-add is deterministic without atomics: OpenMP over blocks of columns
 * of dtable, each block walking m = 0..M−1 in order, so a repeated id adds in row order and
 * the result is bit-identical for any thread count.
 *
 * CUDA (later, kernels/cuda/embedding.cu) takes the same arguments and must match: the
 * forward exactly, the backward within the tests/gpu tolerances (bit-exact if it keeps the
 * row order). Tested by tests/unit/test_embedding.c.
 */
#ifndef LS_EMBEDDING_H
#define LS_EMBEDDING_H

#include <stdint.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * out[m, :] = table[ids[m], :].
 * @param out    (M, D) output
 * @param ids    (M) token ids in [0, V)
 * @param table  (V, D) embedding matrix
 * @return 0; LS_ERR_USAGE for NULL pointers (when M > 0), M < 0, V < 1 or D < 1;
 *         LS_ERR_RANGE for an id outside [0, V).
 */
int embedding_fwd_cpu(float *out, const int32_t *ids, const float *table, int64_t M, int64_t V,
                      int64_t D) LS_RESULT_USED;

/**
 * dtable[ids[m], :] += dout[m, :] for every m, in row order.
 * @param dtable (V, D) gradient of the table
 * @param dout   (M, D)
 * @param ids    (M) token ids in [0, V)
 * @return as embedding_fwd_cpu.
 */
int embedding_bwd_cpu(float *dtable, const float *dout, const int32_t *ids, int64_t M,
                      int64_t V, int64_t D) LS_RESULT_USED;

#ifdef __cplusplus
}
#endif
#endif
