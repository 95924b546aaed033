/*
 * act.c — CPU reference of kernels/act.h: SiLU, softplus, GELU and the SiLU gate, forward
 * and backward, elementwise in fp32 with libm's expf/log1pf/erff. The formulas follow
 * PyTorch's CPU kernels (aten/src/ATen/native/cpu/Activation.cpp) term for term, so the
 * difference from PyTorch is libm rounding only. The CUDA version (later) must match within
 * the tests/gpu tolerances. Tested by tests/unit/test_act.c.
 *
 * Every element is independent: one OpenMP loop per call, no reductions.
 */
#include "kernels/act.h"

#include <math.h>

#define SOFTPLUS_THRESHOLD 20.0f

static int check_args(const char *fn, int64_t n, int have_pointers) {
    if (n < 0) return ls_error(LS_ERR_USAGE, "%s: element count n=%lld < 0", fn, (long long)n);
    if (n > 0 && !have_pointers)
        return ls_error(LS_ERR_USAGE, "%s: NULL tensor with n=%lld", fn, (long long)n);
    return 0;
}

static inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

/* d SiLU(x)/dx = σ(x) + x·σ(x)(1 − σ(x)) = σ(x)(1 + x(1 − σ(x))) */
static inline float silu_grad(float x) {
    float s = sigmoidf(x);
    return s * (1.0f + x * (1.0f - s));
}

// ----------------------------------------------------------------------------- SiLU

int act_silu_fwd_cpu(float *restrict y, const float *restrict x, int64_t n) {
    // y (n); x (n)
    int status = check_args(__func__, n, y && x);
    if (status) return status;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * sigmoidf(x[i]);
    return 0;
}

int act_silu_bwd_cpu(float *restrict dx, const float *restrict dy, const float *restrict x,
                     int64_t n) {
    // dx (n); dy (n); x (n)
    int status = check_args(__func__, n, dx && dy && x);
    if (status) return status;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) dx[i] += dy[i] * silu_grad(x[i]);
    return 0;
}

// ----------------------------------------------------------------------------- softplus

int act_softplus_fwd_cpu(float *restrict y, const float *restrict x, int64_t n) {
    // y (n); x (n)
    int status = check_args(__func__, n, y && x);
    if (status) return status;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) y[i] = x[i] > SOFTPLUS_THRESHOLD ? x[i] : log1pf(expf(x[i]));
    return 0;
}

int act_softplus_bwd_cpu(float *restrict dx, const float *restrict dy, const float *restrict x,
                         int64_t n) {
    // dx (n); dy (n); x (n)
    int status = check_args(__func__, n, dx && dy && x);
    if (status) return status;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float z = expf(x[i]); // σ(x) written as z/(z+1), as PyTorch does
        dx[i] += x[i] > SOFTPLUS_THRESHOLD ? dy[i] : dy[i] * z / (z + 1.0f);
    }
    return 0;
}

// ----------------------------------------------------------------------------- GELU

int act_gelu_fwd_cpu(float *restrict y, const float *restrict x, int64_t n) {
    // y (n); x (n)
    int status = check_args(__func__, n, y && x);
    if (status) return status;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] * 0.5f * (1.0f + erff(x[i] * (float)M_SQRT1_2));
    return 0;
}

int act_gelu_bwd_cpu(float *restrict dx, const float *restrict dy, const float *restrict x,
                     int64_t n) {
    // dx (n); dy (n); x (n)
    int status = check_args(__func__, n, dx && dy && x);
    if (status) return status;
    const float inv_sqrt_2pi = (float)(M_2_SQRTPI * M_SQRT1_2 * 0.5); // 1/√(2π)
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float cdf = 0.5f * (1.0f + erff(x[i] * (float)M_SQRT1_2));
        float pdf = expf(-0.5f * x[i] * x[i]) * inv_sqrt_2pi;
        dx[i] += dy[i] * (cdf + x[i] * pdf);
    }
    return 0;
}

// ----------------------------------------------------------------------------- SiLU gate

int act_silu_gate_fwd_cpu(float *restrict y, const float *restrict x, const float *restrict z,
                          int64_t n) {
    // y (n); x (n); z (n)
    int status = check_args(__func__, n, y && x && z);
    if (status) return status;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * (z[i] * sigmoidf(z[i]));
    return 0;
}

int act_silu_gate_bwd_cpu(float *restrict dx, float *restrict dz, const float *restrict dy,
                          const float *restrict x, const float *restrict z, int64_t n) {
    // dx (n) or NULL; dz (n) or NULL; dy (n); x (n); z (n)
    int status = check_args(__func__, n, (dx || dz) && dy && x && z);
    if (status) return status;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        if (dx) dx[i] += dy[i] * (z[i] * sigmoidf(z[i]));
        if (dz) dz[i] += dy[i] * x[i] * silu_grad(z[i]);
    }
    return 0;
}
