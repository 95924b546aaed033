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
 * CPU: each product is one cblas_sgemm (OpenBLAS), bias and bias gradient in plain C.
 * BLAS takes 32-bit ints: M, K, N, ld_x, ld_y must each be <= INT_MAX (LS_ERR_RANGE else).
 * CUDA (later, kernels/cuda/matmul.cu): cublasSgemm with the same arguments.
 *
 * Threads. Debian's libopenblas0-pthread runs its own thread pool, separate from OpenMP's.
 * The two never run at the same time (sgemm is called outside any parallel region), but
 * both default to all cores, and idle OpenMP workers spin for a while after each region.
 * Call matmul_set_threads(n) once with the same n as omp_set_num_threads(n) (the CLI's
 * --threads); never call these functions from inside an OpenMP parallel region (OpenBLAS
 * would run a pool per caller thread and oversubscribe the cores). If sgemm is slower right
 * after OpenMP regions than alone, OMP_WAIT_POLICY=passive makes idle OpenMP workers sleep
 * at once; kernels/dev/blas_omp_threads.c measures exactly this (gemm and OpenMP op alone vs
 * alternated) under any environment.
 *
 * Tested by tests/unit/test_matmul.c (double reference, finite differences, accumulation,
 * strided rows, invalid arguments).
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
 * Number of OpenBLAS threads (openblas_set_num_threads). Use the same count as OpenMP.
 * @return 0, or LS_ERR_USAGE when n < 1.
 */
int matmul_set_threads(int n) LS_RESULT_USED;

#ifdef __cplusplus
}
#endif
#endif
