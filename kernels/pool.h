/*
 * pool.h — sequence pooling for classification heads: mean over the valid positions, or the
 * first or last valid token; forward and backward.
 *
 * Shapes: x, dx (B, L, D) contiguous; out, dout (B, D); lengths (B) optional, each in
 * [1, L] (NULL: every row has L valid positions). With n = lengths[b]:
 *   POOL_MEAN   out[b, :] = (1/n)·Σ_{l<n} x[b, l, :]     (sum in double)
 *   POOL_FIRST  out[b, :] = x[b, 0, :]
 *   POOL_LAST   out[b, :] = x[b, n−1, :]                 (the causal model's summary token)
 * Padded positions (l >= n) are never read by the forward and get no gradient.
 *
 * Gradient convention (project-wide): backward ops ACCUMULATE (+=) into every gradient
 * output; the caller zeroes gradients before the first backward of a step.
 * No reduction crosses a thread: OpenMP over (row, column block); deterministic.
 *
 * CUDA (kernels/cuda/pool.cu): the same arguments (device pointers, lengths too) plus the
 * storage type of x, out, dout, dx (DTYPE_BF16 for bf16 activations) and a cudaStream_t. The
 * mean sums fixed chunks of rows in double and adds the chunks in order (deterministic). The
 * lengths are checked on the device first (one small copy back: the call waits for the GPU).
 * Tested by tests/unit/test_pool.c (CPU) and tests/gpu/parity_pool.c (CUDA).
 */
#ifndef LS_POOL_H
#define LS_POOL_H

#include <stdint.h>

#include "common/error.h"
#include "kernels/dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    POOL_MEAN  = 0,
    POOL_FIRST = 1,
    POOL_LAST  = 2,
} PoolMode;

/**
 * Pool each row of x.
 * @param out      (B, D) output
 * @param x        (B, L, D)
 * @param lengths  (B) valid positions per row in [1, L], or NULL for all L
 * @return 0; LS_ERR_USAGE for NULL pointers (when B > 0), B < 0, L < 1, D < 1 or an unknown
 *         mode; LS_ERR_RANGE for a length outside [1, L] (message names the row).
 */
int pool_fwd_cpu(float *out, const float *x, const int64_t *lengths, int64_t B, int64_t L,
                 int64_t D, PoolMode mode) LS_RESULT_USED;

/**
 * dx += ∂(Σ dout·out)/∂x.
 * @param dx       (B, L, D)
 * @param dout     (B, D)
 * @param lengths  (B) as in the forward
 * @return as pool_fwd_cpu.
 */
int pool_bwd_cpu(float *dx, const float *dout, const int64_t *lengths, int64_t B, int64_t L,
                 int64_t D, PoolMode mode) LS_RESULT_USED;

/**
 * Packed batches (several sequences end to end in one row, models/model.h): pool S sequences
 * of a tensor x viewed as rows of D values. Sequence s is the rows starts[s] ..
 * starts[s] + lengths[s] − 1 (flat row indices: row b, position p of a (B, L, D) tensor is
 * b·L + p); out[s] is its mean, first or last row, exactly as pool_fwd_cpu pools a row of that
 * length (the same sum in the same order). Sequences must not overlap (the backward writes
 * each row of dx from one sequence only).
 * @param L  bound of every length (lengths[s] in [1, L]); no row at or past
 *           starts[s] + lengths[s] is read or written.
 * @return as pool_fwd_cpu; LS_ERR_RANGE for a negative start.
 */
int pool_fwd_packed_cpu(float *out, const float *x, const int64_t *starts,
                        const int64_t *lengths, int64_t S, int64_t L, int64_t D,
                        PoolMode mode) LS_RESULT_USED;
int pool_bwd_packed_cpu(float *dx, const float *dout, const int64_t *starts,
                        const int64_t *lengths, int64_t S, int64_t L, int64_t D,
                        PoolMode mode) LS_RESULT_USED;
/** pool_fwd_cpu on the GPU. @return as pool_fwd_cpu, plus LS_ERR_CUDA(_OOM), LS_ERR_NO_CUDA,
 *  and LS_ERR_UNSUPPORTED for B > 65535. */
int pool_fwd_cuda(float *out, const float *x, const int64_t *lengths, int64_t B, int64_t L,
                  int64_t D, PoolMode mode, DType dtype, void *stream) LS_RESULT_USED;

/** pool_bwd_cpu on the GPU (accumulating). @return as pool_fwd_cuda. */
int pool_bwd_cuda(float *dx, const float *dout, const int64_t *lengths, int64_t B, int64_t L,
                  int64_t D, PoolMode mode, DType dtype, void *stream) LS_RESULT_USED;
/** The packed forms on the GPU (starts and lengths on the device; the starts are not checked
 *  there: the caller builds them). @return as pool_fwd_cuda. */
int pool_fwd_packed_cuda(float *out, const float *x, const int64_t *starts,
                         const int64_t *lengths, int64_t S, int64_t L, int64_t D, PoolMode mode,
                         DType dtype, void *stream) LS_RESULT_USED;
int pool_bwd_packed_cuda(float *dx, const float *dout, const int64_t *starts,
                         const int64_t *lengths, int64_t S, int64_t L, int64_t D, PoolMode mode,
                         DType dtype, void *stream) LS_RESULT_USED;

#ifdef __cplusplus
}
#endif
#endif
