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
 * CUDA (kernels/cuda/embedding.cu): the same arguments plus the storage type of out / dout
 * (DTYPE_BF16 for bf16 activations; table and dtable stay fp32) and a cudaStream_t; device
 * pointers. The ids are checked on the device first (one 16-byte copy back, so the call waits
 * for the GPU); on a bad id nothing is written. The forward is exact (a copy; bf16 rounds).
 * The backward has no atomics: the (id, row) pairs are sorted by id with CUB's stable radix
 * sort, so each id's rows come in row order; tiles of 256 sorted rows sum each id's run in
 * that order, an id whose rows fit in one tile is added to dtable directly (the CPU's exact
 * sequence of float adds, so bit-identical), and an id spanning tiles is added from its
 * per-tile sums in tile order. Deterministic; within K·eps of the CPU for ids with many rows.
 * Tested by tests/unit/test_embedding.c (CPU) and tests/gpu/parity_embedding.c (CUDA).
 */
#ifndef LS_EMBEDDING_H
#define LS_EMBEDDING_H

#include <stdint.h>

#include "common/error.h"
#include "kernels/dtype.h"

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

/** embedding_fwd_cpu on the GPU; @p dtype is out's storage. @return as the CPU function,
 *  plus LS_ERR_CUDA(_OOM) and LS_ERR_NO_CUDA. */
int embedding_fwd_cuda(float *out, const int32_t *ids, const float *table, int64_t M, int64_t V,
                       int64_t D, DType dtype, void *stream) LS_RESULT_USED;

/**
 * embedding_fwd_cuda without the index check, which waits for the device (a copy back): for
 * ids the device itself produced in range (generation feeds back ids its sampler drew below
 * V, kernels/sample.h), where a step must queue without waiting so a CUDA graph can capture
 * it. Out-of-range ids here read outside the table: never pass ids from elsewhere.
 */
int embedding_fwd_cuda_trusted(float *out, const int32_t *ids, const float *table, int64_t M,
                               int64_t V, int64_t D, DType dtype, void *stream) LS_RESULT_USED;

/** embedding_bwd_cpu on the GPU; @p dtype is dout's storage. @return as embedding_fwd_cuda. */
int embedding_bwd_cuda(float *dtable, const float *dout, const int32_t *ids, int64_t M,
                       int64_t V, int64_t D, DType dtype, void *stream) LS_RESULT_USED;

#ifdef __cplusplus
}
#endif
#endif
