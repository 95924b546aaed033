/*
 * act.h — elementwise activations, forward and backward: SiLU, softplus, GELU, and the
 * SiLU gate y = x·SiLU(z) that closes Mamba's mixer.
 *
 * All tensors are n contiguous floats (any shape, e.g. (B, L, D) with n = B·L·D). A column
 * slice of a wider row (z in Mamba's in_proj output) is not contiguous: compute the two halves
 * with two matmul_fwd_cpu calls on the row blocks of in_proj.weight, or pass ld_y to matmul.
 *
 *   SiLU      y = x·σ(x)                                   (torch.nn.functional.silu)
 *   softplus  y = x                 if x > 20               (F.softplus, beta=1, threshold=20)
 *               = log1p(exp(x))     otherwise
 *   GELU      y = x·Φ(x) = ½x(1 + erf(x/√2))               (F.gelu, approximate='none')
 *   gate      y = x·SiLU(z)                                 (Mamba: y * F.silu(z))
 * Derivatives: SiLU' = σ(x)(1 + x(1−σ(x))); softplus' = 1 above the threshold, else σ(x)
 * (as PyTorch's softplus_backward); GELU' = Φ(x) + x·φ(x), φ the normal density.
 *
 * Gradient convention (project-wide): backward ops ACCUMULATE (+=) into every gradient
 * output; the caller zeroes gradients before the first backward of a step.
 * Pointers must not alias (restrict): no in-place forms.
 *
 * Every function returns 0, or LS_ERR_USAGE for n < 0 or a NULL pointer when n > 0.
 * CUDA (kernels/cuda/act.cu): act_<name>_<dir>_cuda takes the same arguments plus the storage
 * type of every tensor (DTYPE_BF16: all of y, x, z, dy, dx, dz are bf16; the arithmetic is fp32)
 * and a cudaStream_t (NULL = default); device pointers, asynchronous. The formulas are the
 * CPU's term for term (no FMA contraction), so fp32 results differ only where CUDA's expf /
 * log1pf / erff round differently from libm's. Each also returns LS_ERR_CUDA or
 * LS_ERR_NO_CUDA. Tested by tests/unit/test_act.c (CPU) and tests/gpu/parity_act.c (CUDA).
 */
#ifndef LS_ACT_H
#define LS_ACT_H

#include <stdint.h>

#include "common/error.h"
#include "kernels/dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

/** y = SiLU(x). y (n), x (n). */
int act_silu_fwd_cpu(float *y, const float *x, int64_t n) LS_RESULT_USED;
/** dx += dy·SiLU'(x). dx (n), dy (n), x (n) the forward input. */
int act_silu_bwd_cpu(float *dx, const float *dy, const float *x, int64_t n) LS_RESULT_USED;

/** y = softplus(x) with PyTorch's threshold 20. y (n), x (n). */
int act_softplus_fwd_cpu(float *y, const float *x, int64_t n) LS_RESULT_USED;
/** dx += dy·softplus'(x). dx (n), dy (n), x (n) the forward input. */
int act_softplus_bwd_cpu(float *dx, const float *dy, const float *x, int64_t n) LS_RESULT_USED;

/** y = GELU(x), exact erf form. y (n), x (n). */
int act_gelu_fwd_cpu(float *y, const float *x, int64_t n) LS_RESULT_USED;
/** dx += dy·GELU'(x). dx (n), dy (n), x (n) the forward input. */
int act_gelu_bwd_cpu(float *dx, const float *dy, const float *x, int64_t n) LS_RESULT_USED;

/** y = x·SiLU(z). y (n), x (n), z (n). */
int act_silu_gate_fwd_cpu(float *y, const float *x, const float *z, int64_t n) LS_RESULT_USED;
/**
 * dx += dy·SiLU(z), dz += dy·x·SiLU'(z). dx or dz may be NULL to skip (not both).
 * dx (n), dz (n), dy (n), x (n), z (n) the forward inputs.
 */
int act_silu_gate_bwd_cpu(float *dx, float *dz, const float *dy, const float *x,
                          const float *z, int64_t n) LS_RESULT_USED;

// CUDA versions (see the top of this file).
int act_silu_fwd_cuda(float *y, const float *x, int64_t n, DType dtype,
                      void *stream) LS_RESULT_USED;
int act_silu_bwd_cuda(float *dx, const float *dy, const float *x, int64_t n, DType dtype,
                      void *stream) LS_RESULT_USED;
int act_softplus_fwd_cuda(float *y, const float *x, int64_t n, DType dtype,
                          void *stream) LS_RESULT_USED;
int act_softplus_bwd_cuda(float *dx, const float *dy, const float *x, int64_t n, DType dtype,
                          void *stream) LS_RESULT_USED;
int act_gelu_fwd_cuda(float *y, const float *x, int64_t n, DType dtype,
                      void *stream) LS_RESULT_USED;
int act_gelu_bwd_cuda(float *dx, const float *dy, const float *x, int64_t n, DType dtype,
                      void *stream) LS_RESULT_USED;
int act_silu_gate_fwd_cuda(float *y, const float *x, const float *z, int64_t n, DType dtype,
                           void *stream) LS_RESULT_USED;
int act_silu_gate_bwd_cuda(float *dx, float *dz, const float *dy, const float *x,
                           const float *z, int64_t n, DType dtype, void *stream) LS_RESULT_USED;

#ifdef __cplusplus
}
#endif
#endif
