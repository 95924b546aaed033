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
 *
 * Residual-fused form (NormArgs, norm_fwd_* / norm_bwd_*): the pre-norm residual stream of
 * mamba_ssm's layer_norm_fn(x, w, b, residual, prenorm=True):
 *     h = x + residual (fp32 add; h = x without a residual),  residual_out = h,  y = norm(h)
 * backward, with g = ∂(Σ dy·y)/∂h exactly as norm_*_bwd_cpu computes dx, plus dresidual_out:
 *     v = g + dresidual_out;  dx += v;  dresidual += v
 * (both inputs of the add get the same gradient). The statistics and dw / db are those of the
 * plain functions applied to h: with residual = NULL the fused functions give the same bytes.
 * CUDA (kernels/cuda/norm.cu): the NormArgs form, with `dtype` = DTYPE_BF16 making every
 * (M, D) tensor bf16 (x, residual, y, residual_out, h, dy, dresidual_out, dx, dresidual) while
 * w, b, mean, rstd, dw, db stay fp32; row statistics in double as here; dw / db by fixed-order
 * partial sums (deterministic, no atomics). Tested by tests/unit/test_norm.c (CPU) and
 * tests/gpu/parity_norm.c (CUDA vs CPU).
 */
#ifndef LS_NORM_H
#define LS_NORM_H

#include <stdint.h>

#include "common/error.h"
#include "kernels/dtype.h"

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

// ----------------------------------------------------------------------------- fused form

typedef enum {
    NORM_RMS   = 0, /* RMSNorm */
    NORM_LAYER = 1, /* LayerNorm */
} NormKind;

/**
 * One residual-fused norm call (forward or backward; each reads the fields it needs). Fill with
 * norm_args_init(). "optional" pointers may be NULL. No output may alias an input.
 */
// clang-format off
typedef struct {
    NormKind kind;
    int64_t  M, D;          // rows (B·L), width
    float    eps;           // >= 0
    DType    dtype;         // storage of the (M, D) tensors (CUDA only; CPU: DTYPE_F32)
    void    *stream;        // cudaStream_t for the CUDA functions, NULL = default stream
    // ---- forward
    const float *x;             // (M, D)
    const float *residual;      // (M, D) optional: added to x before the norm
    const float *w;             // (D)
    const float *b;             // (D) optional, LayerNorm only
    float       *y;             // (M, D)
    float       *residual_out;  // (M, D) optional: h = x + residual (x when no residual)
    float       *mean;          // (M) LayerNorm: optional, given together with rstd
    float       *rstd;          // (M) optional (required by the backward)
    // ---- backward (w, mean, rstd as above)
    const float *h;             // (M, D) the forward's h: its residual_out, or x without residual
    const float *dy;            // (M, D)
    const float *dresidual_out; // (M, D) optional: gradient arriving at residual_out
    float       *dx;            // (M, D) optional, += (=, with dx_overwrite)
    int          dx_overwrite;  // 1: dx = v, so a fresh buffer needs no zeroing pass
    float       *dresidual;     // (M, D) optional, += (the same v as dx)
    float       *dw;            // (D) optional, +=
    float       *db;            // (D) optional, += (LayerNorm)
} NormArgs;
// clang-format on

/** Zero @p a and set kind, shapes and eps (dtype DTYPE_F32, stream NULL, pointers NULL). */
void norm_args_init(NormArgs *a, NormKind kind, int64_t M, int64_t D, float eps);

/**
 * The rules both backends apply: kind known, M >= 0, D >= 1, eps >= 0; forward: x, w, y
 * present, b only for LayerNorm, mean with rstd (LayerNorm); backward: h, w, rstd, dy present,
 * mean for LayerNorm, db only for LayerNorm, at least one output.
 * @return 0 or LS_ERR_USAGE naming the field.
 */
int norm_args_check(const NormArgs *a, int backward) LS_RESULT_USED;

/** Fused forward on the CPU (fp32). @return 0, a norm_args_check error or LS_ERR_UNSUPPORTED
 *  for a bf16 dtype. */
int norm_fwd_cpu(const NormArgs *a) LS_RESULT_USED;

/** Fused backward on the CPU (fp32, accumulating). @return as norm_fwd_cpu. */
int norm_bwd_cpu(const NormArgs *a) LS_RESULT_USED;

/**
 * The CUDA versions (device pointers; asynchronous). Same contract; parity within the
 * tolerances of tests/gpu/parity_norm.c. @return 0, a norm_args_check error,
 * LS_ERR_CUDA(_OOM) or LS_ERR_NO_CUDA.
 */
int norm_fwd_cuda(const NormArgs *a) LS_RESULT_USED;
int norm_bwd_cuda(const NormArgs *a) LS_RESULT_USED;

#ifdef __cplusplus
}
#endif
#endif
