/*
 * matmul.h — the linear layer y = x·Wᵀ + b and its backward (PyTorch nn.Linear layout).
 *
 * Shapes, outermost first, row-major:
 *   x  (M, K)   M = B·L tokens, K = in_features; rows ld_x >= K elements apart
 *   W  (N, K)   as PyTorch stores nn.Linear.weight (out_features, in_features), contiguous
 *   b  (N)      optional bias
 *   y  (M, N)   rows ld_y >= N elements apart
 * The row strides let a column slice of a wider activation (e.g. the dt part of Mamba's
 * x_proj output, or one of q/k/v in a fused projection) be read or written in place. Pass
 * ld_x = K and ld_y = N for contiguous tensors. The same strides apply to dx and dy.
 *
 * Gradient convention (project-wide): backward ops ACCUMULATE (+=) into every gradient
 * output (dx, dW, db); the caller zeroes gradients before the first backward of a step
 * (llm.c convention), so a tensor used twice (tied weights, residual branches) just adds.
 *
 * CPU: cblas_sgemm (OpenBLAS) on fixed blocks, bias and bias gradient in plain C.
 * BLAS takes 32-bit ints: M, K, N, ld_x, ld_y must each be <= INT_MAX (LS_ERR_RANGE else).
 * CUDA (later, kernels/cuda/matmul.cu): cublasSgemm with the same arguments.
 *
 * Threads: results are bit-identical for any OpenMP thread count. OpenBLAS's own threading
 * is not (it splits a product by its thread count, and its edge kernels round differently),
 * so each call sets OpenBLAS to one thread (openblas_set_num_threads(1), process-wide) and
 * spreads fixed blocks over the OpenMP threads: 128 rows of y or dx per sgemm, 32 rows of dW
 * per sgemm (each a full reduction over M). The blocks depend on the shapes only. The thread
 * count is therefore OpenMP's alone (omp_set_num_threads, the CLI's --threads). Call these
 * functions outside any OpenMP parallel region: they open their own.
 *
 * Tested by tests/unit/test_matmul.c (double reference, finite differences, accumulation,
 * strided rows, 1/2/3 threads bit-identical, invalid arguments).
 */
#ifndef LS_MATMUL_H
#define LS_MATMUL_H

#include <stdint.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * y = x·Wᵀ + b (overwrites y).
 * @param y    (M, N) output, row stride ld_y
 * @param x    (M, K) input, row stride ld_x
 * @param w    (N, K) weight, contiguous
 * @param b    (N) bias, or NULL for none
 * @return 0; LS_ERR_USAGE for a NULL required pointer, M < 0, K < 1, N < 1, ld_x < K or
 *         ld_y < N; LS_ERR_RANGE when a size exceeds BLAS's 32-bit int. M = 0 is a no-op.
 */
int matmul_fwd_cpu(float *y, const float *x, const float *w, const float *b, int64_t M,
                   int64_t K, int64_t N, int64_t ld_x, int64_t ld_y) LS_RESULT_USED;

/**
 * Backward of matmul_fwd_cpu, accumulating: dx += dy·W, dW += dyᵀ·x, db += Σ_rows dy.
 * Any of dx, dw, db may be NULL to skip that gradient; x may be NULL when dw is NULL,
 * w may be NULL when dx is NULL. db sums rows in a fixed order in double, so it is
 * bit-identical for any thread count.
 * @param dx   (M, K) row stride ld_x, or NULL
 * @param dw   (N, K) or NULL
 * @param db   (N) or NULL
 * @param dy   (M, N) row stride ld_y
 * @param x    (M, K) row stride ld_x (the forward input)
 * @param w    (N, K)
 * @return as matmul_fwd_cpu.
 */
int matmul_bwd_cpu(float *dx, float *dw, float *db, const float *dy, const float *x,
                   const float *w, int64_t M, int64_t K, int64_t N, int64_t ld_x,
                   int64_t ld_y) LS_RESULT_USED;

/**
 * Number of OpenBLAS threads (openblas_set_num_threads) for code that calls cblas directly
 * (kernels/dev harnesses). matmul_fwd_cpu and matmul_bwd_cpu do not use it: they set
 * OpenBLAS to one thread on every call (see "Threads" above).
 * @return 0, or LS_ERR_USAGE when n < 1.
 */
int matmul_set_threads(int n) LS_RESULT_USED;

#ifdef __cplusplus
}
#endif
#endif
