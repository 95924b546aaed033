/*
 * norm.h — RMSNorm and LayerNorm over the last dimension, forward and backward.
 *
 * Shapes: x, y, dx, dy (M, D) contiguous, M = B·L rows; weight w and bias b (D);
 * per-row statistics mean, rstd (M) written by the forward into caller buffers and read by
 * the backward (O(M) saved floats instead of the normalized activations).
 *
 *   RMSNorm   (Mamba's RMSNorm, mamba_ssm rms_norm_ref):
 *             rstd = 1/sqrt(mean_d(x²) + eps),          y = x·rstd·w
 *   LayerNorm (torch.nn.LayerNorm, biased variance):
 *             mean = mean_d(x), rstd = 1/sqrt(mean_d((x−mean)²) + eps),
 *             y = (x−mean)·rstd·w + b
 * Row statistics are accumulated in double and stored as float; the backward uses the stored
 * float statistics, as a fused GPU kernel would.
 *
 * Gradient convention (project-wide): backward ops ACCUMULATE (+=) into every gradient
 * output (dx, dw, db); the caller zeroes gradients before the first backward of a step.
 * dw and db are sums over the M rows done in double in a fixed row order, so they are
 * bit-identical for any thread count.
 *
 * Pointers must not alias (restrict): y != x, dx != dy.
 * CUDA (later, kernels/cuda/norm.cu) takes the same arguments and must match within the
 * tolerances of tests/gpu. Tested by tests/unit/test_norm.c.
 */
#ifndef LS_NORM_H
#define LS_NORM_H

#include <stdint.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * RMSNorm forward.
 * @param y     (M, D) output
 * @param rstd  (M) saved 1/rms per row, or NULL when no backward follows
 * @param x     (M, D) input
 * @param w     (D) weight
 * @param eps   added to the mean square (PyTorch/mamba default 1e-5 or 1e-6), must be >= 0
 * @return 0; LS_ERR_USAGE for NULL y/x/w, M < 0, D < 1 or eps < 0 (or NaN).
 */
int norm_rms_fwd_cpu(float *y, float *rstd, const float *x, const float *w, int64_t M,
                     int64_t D, float eps) LS_RESULT_USED;

/**
 * RMSNorm backward: dx += ∂/∂x, dw += Σ_rows dy·x·rstd. dx or dw may be NULL to skip.
 * @param dx    (M, D) or NULL
 * @param dw    (D) or NULL
 * @param dy    (M, D)
 * @param x     (M, D) forward input
 * @param w     (D)
 * @param rstd  (M) from norm_rms_fwd_cpu
 * @return 0; LS_ERR_USAGE for a NULL required pointer, M < 0 or D < 1.
 */
int norm_rms_bwd_cpu(float *dx, float *dw, const float *dy, const float *x, const float *w,
                     const float *rstd, int64_t M, int64_t D) LS_RESULT_USED;

/**
 * LayerNorm forward.
 * @param y     (M, D) output
 * @param mean  (M) saved row mean, or NULL (then rstd must be NULL too)
 * @param rstd  (M) saved 1/std per row, or NULL
 * @param x     (M, D) input
 * @param w     (D) weight
 * @param b     (D) bias, or NULL (nn.LayerNorm(bias=False))
 * @param eps   added to the variance (PyTorch default 1e-5), >= 0
 * @return 0; LS_ERR_USAGE for NULL y/x/w, mean/rstd not both given or both NULL, M < 0,
 *         D < 1 or eps < 0.
 */
int norm_layer_fwd_cpu(float *y, float *mean, float *rstd, const float *x, const float *w,
                       const float *b, int64_t M, int64_t D, float eps) LS_RESULT_USED;

/**
 * LayerNorm backward: dx += ∂/∂x, dw += Σ_rows dy·x̂, db += Σ_rows dy, with
 * x̂ = (x−mean)·rstd. Any of dx, dw, db may be NULL to skip.
 * @param dx    (M, D) or NULL
 * @param dw    (D) or NULL
 * @param db    (D) or NULL
 * @param dy    (M, D)
 * @param x     (M, D) forward input
 * @param w     (D)
 * @param mean  (M), rstd (M) from norm_layer_fwd_cpu
 * @return 0; LS_ERR_USAGE for a NULL required pointer, M < 0 or D < 1.
 */
int norm_layer_bwd_cpu(float *dx, float *dw, float *db, const float *dy, const float *x,
                       const float *w, const float *mean, const float *rstd, int64_t M,
                       int64_t D) LS_RESULT_USED;

#ifdef __cplusplus
}
#endif
#endif
