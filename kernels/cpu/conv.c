/*
 * cpu/conv.c — the CPU specification of the causal depthwise conv1d (kernels/conv.h):
 * conv_fwd_cpu, conv_bwd_cpu, conv_step_cpu. Plain fp32 C with OpenMP; any CUDA version must
 * match these within the tolerances of tests/gpu.
 *
 * Tested by tests/unit/test_conv.c: forward against a plain double-precision reference,
 * backward against central finite differences in double, step ≡ forward, streaming ≡ one pass
 * (forward and backward), accumulation, invalid arguments.
 *
 * Work split: one job = (batch b, block of CONV_CPU_DBLOCK channels) in the forward; one job =
 * one channel block over every batch in the backward, so dweight and dbias (sums over b and t)
 * are owned by one thread and summed in a fixed order (in double, added once at the end).
 *
 * Backward math, with x_ext the input preceded by state0 (conv.h) and dy = dL/dpre:
 *     dx_ext[j]   = Σ_k weight[k] · dy[j−k]        over 0 <= j−k < L   (+ dstate_final[j−L])
 *     dweight[k] += Σ_t dy[t] · x_ext[t+k],   dbias += Σ_t dy[t]
 * dx_ext[j] is x's gradient for j >= K−1 and state0's for j < K−1. The backward walks j from
 * the end down, computing dy[j−K+1] just before it is first needed, and keeps the last K rows
 * of dy of its channel block in a ring: no workspace and one += per output element.
 */
#include "kernels/conv.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline int64_t min64(int64_t a, int64_t b) {
    return a < b ? a : b;
}
static inline int64_t max64(int64_t a, int64_t b) {
    return a > b ? a : b;
}

static int cpu_fp32_only(const char *who) {
    return ls_error(LS_ERR_UNSUPPORTED, "%s: the CPU ops compute in fp32 (dtype bf16 is for "
                    "the CUDA functions)", who);
}

static inline float sigmoid(float x) {
    return 1.0f / (1.0f + expf(-x));
}

// x_ext[j] of (b, d): the state for j < K−1, the input after.
static inline float conv_tap(const ConvArgs *a, int64_t b, int64_t j, int64_t d) {
    int64_t e = j - (a->K - 1);
    if (e >= 0) return a->x[b * a->x_stride_b + e * a->x_stride_l + d];
    return a->state0 ? a->state0[(b * a->D + d) * (a->K - 1) + j] : 0.0f;
}

// No sequence start limits token t's taps (packed batches, conv.h).
#define CONV_NO_FLOOR INT64_MIN

/*
 * The first x position token t's taps may read: the start of t's sequence when it lies within
 * the last K−1 positions (a start at some s in (t−(K−1), t]), else CONV_NO_FLOOR. Taps at x
 * positions below it read 0 (keep(t, ·) of conv.h).
 */
static inline int64_t conv_floor(const ConvArgs *a, int64_t b, int64_t t) {
    if (!a->reset) return CONV_NO_FLOOR;
    const uint8_t *r = a->reset + b * a->reset_stride_b;
    for (int64_t s = t; s > t - (a->K - 1) && s >= 0; s--)
        if (r[s * a->reset_stride_l]) return s;
    return CONV_NO_FLOOR;
}

// conv_tap for output token t whose taps start at x position `floor`: 0 below it.
static inline float conv_tap_kept(const ConvArgs *a, int64_t b, int64_t j, int64_t d,
                                  int64_t floor) {
    return j - (a->K - 1) < floor ? 0.0f : conv_tap(a, b, j, d);
}

/*
 * pre[t, d] = bias + Σ_k w[k]·x_ext[t+k], k ascending (the order the step uses too). Rows
 * t >= K−1 without a sequence start in their window read x directly; the others go through
 * conv_tap_kept (a masked tap adds w·0, as a zero-padded row does, so the sum's bits match
 * the CUDA kernel's, which masks the same way).
 */
static inline float conv_pre(const ConvArgs *a, int64_t b, int64_t t, int64_t d, int64_t floor) {
    const int64_t K = a->K;
    const float *w = a->weight + d * K; // (K)
    float acc = a->bias ? a->bias[d] : 0.0f;
    if (floor != CONV_NO_FLOOR) {
        for (int64_t k = 0; k < K; k++)
            acc += w[k] * conv_tap_kept(a, b, t + k, d, floor);
    } else if (t >= K - 1) {
        const float *x = a->x + b * a->x_stride_b + (t - K + 1) * a->x_stride_l + d;
        for (int64_t k = 0; k < K; k++)
            acc += w[k] * x[k * a->x_stride_l];
    } else {
        for (int64_t k = 0; k < K; k++)
            acc += w[k] * conv_tap(a, b, t + k, d);
    }
    return acc;
}

// ---------------------------------------------------------------------------------------------
// forward

int conv_fwd_cpu(const ConvArgs *a) {
    int rc = conv_args_check(a, CONV_OP_FWD);
    if (rc) return rc;
    if (a->dtype != DTYPE_F32) return cpu_fp32_only(__func__);
    const int64_t B = a->B, L = a->L, D = a->D, K = a->K;
    const int64_t nblk = (D - 1) / CONV_CPU_DBLOCK + 1;
#pragma omp parallel for schedule(static)
    for (int64_t job = 0; job < B * nblk; job++) {
        const int64_t b = job / nblk, d0 = (job % nblk) * CONV_CPU_DBLOCK;
        const int64_t d1 = min64(d0 + CONV_CPU_DBLOCK, D);
        for (int64_t t = 0; t < L; t++) {
            float *out = a->out + b * a->out_stride_b + t * a->out_stride_l; // (D)
            const int64_t floor = conv_floor(a, b, t);
            for (int64_t d = d0; d < d1; d++) {
                float p = conv_pre(a, b, t, d, floor);
                out[d] = a->silu ? p * sigmoid(p) : p;
            }
        }
        // The new state is x_ext[L .. L+K−2] (0 before the row's last sequence start); written
        // after every read of state0 of these rows and in increasing index order (reads are at
        // L+i >= i), so it may overwrite state0.
        if (a->state_final && K > 1) {
            const int64_t floor = conv_floor(a, b, L - 1);
            for (int64_t d = d0; d < d1; d++)
                for (int64_t i = 0; i < K - 1; i++)
                    a->state_final[(b * D + d) * (K - 1) + i] =
                        conv_tap_kept(a, b, L + i, d, floor);
        }
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------
// step

int conv_step_cpu(const ConvArgs *a) {
    int rc = conv_args_check(a, CONV_OP_STEP);
    if (rc) return rc;
    if (a->dtype != DTYPE_F32) return cpu_fp32_only(__func__);
    const int64_t B = a->B, D = a->D, K = a->K;
#pragma omp parallel for schedule(static) if (B * D * K >= 65536)
    for (int64_t bd = 0; bd < B * D; bd++) {
        const int64_t b = bd / D, d = bd % D;
        const float *w = a->weight + d * K;                // (K)
        float *s = K > 1 ? a->state + bd * (K - 1) : NULL; // (K-1)
        float x = a->x[b * a->x_stride_b + d];
        float acc = a->bias ? a->bias[d] : 0.0f;
        for (int64_t k = 0; k < K - 1; k++)
            acc += w[k] * s[k];
        acc += w[K - 1] * x;
        a->out[b * a->out_stride_b + d] = a->silu ? acc * sigmoid(acc) : acc;
        if (K > 1) {
            memmove(s, s + 1, (size_t)(K - 2) * sizeof(float));
            s[K - 2] = x;
        }
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------
// backward

int conv_bwd_cpu(const ConvArgs *a) {
    int rc = conv_args_check(a, CONV_OP_BWD);
    if (rc) return rc;
    if (a->dtype != DTYPE_F32) return cpu_fp32_only(__func__);
    const int64_t B = a->B, L = a->L, D = a->D, K = a->K;
    const int64_t nblk = (D - 1) / CONV_CPU_DBLOCK + 1;
#pragma omp parallel for schedule(static)
    for (int64_t blk = 0; blk < nblk; blk++) {
        const int64_t d0 = blk * CONV_CPU_DBLOCK, nd = min64(CONV_CPU_DBLOCK, D - d0);
        double dw_acc[CONV_CPU_DBLOCK * CONV_K_MAX] = {0}; // (nd, K)
        double db_acc[CONV_CPU_DBLOCK] = {0};              // (nd)
        float ring[CONV_K_MAX * CONV_CPU_DBLOCK];          // (K, nd): dy[t] in slot t % K
        int64_t floors[CONV_K_MAX];                        // (K): conv_floor(t) in slot t % K

        for (int64_t b = 0; b < B; b++) {
            const int64_t floor_last = conv_floor(a, b, L - 1); // state_final's kept entries
            for (int64_t j = L + K - 2; j >= 0; j--) {
                const int64_t t = j - (K - 1); // the newest dy row dx_ext[j] needs
                if (t >= 0) {
                    const float *g = a->dout + b * a->dout_stride_b + t * a->dout_stride_l;
                    float *slot = ring + (t % K) * nd;
                    const int64_t floor = floors[t % K] = conv_floor(a, b, t);
                    for (int64_t d = d0; d < d0 + nd; d++) {
                        float dy = g[d];
                        if (a->silu) { // d SiLU(p)/dp = σ(p)·(1 + p·(1 − σ(p)))
                            float p = conv_pre(a, b, t, d, floor), s = sigmoid(p);
                            dy *= s * (1.0f + p * (1.0f - s));
                        }
                        slot[d - d0] = dy;
                        db_acc[d - d0] += dy;
                        double *dw = dw_acc + (d - d0) * K; // (K)
                        if (floor != CONV_NO_FLOOR) {      // a sequence starts in the window
                            for (int64_t k = 0; k < K; k++)
                                dw[k] += (double)dy * conv_tap_kept(a, b, t + k, d, floor);
                        } else if (t >= K - 1) { // all taps in x: read the rows directly
                            const float *x =
                                a->x + b * a->x_stride_b + (t - K + 1) * a->x_stride_l + d;
                            for (int64_t k = 0; k < K; k++)
                                dw[k] += (double)dy * x[k * a->x_stride_l];
                        } else {
                            for (int64_t k = 0; k < K; k++)
                                dw[k] += (double)dy * conv_tap(a, b, t + k, d);
                        }
                    }
                }
                // dx_ext[j] = Σ_k w[k]·dy[j−k] over 0 <= j−k < L, where token j−k keeps the
                // tap (x position j−(K−1) not before its floor); dy_row[k] = NULL: not kept
                const int64_t kmin = max64(0, j - (L - 1)), kmax = min64(K - 1, j);
                const float *dy_row[CONV_K_MAX]; // (K) dy[j−k] of this block, from the ring
                int any_masked = 0;
                for (int64_t k = kmin; k <= kmax; k++) {
                    const int keep = j - (K - 1) >= floors[(j - k) % K];
                    dy_row[k] = keep ? ring + ((j - k) % K) * nd : NULL;
                    any_masked |= !keep;
                }
                float *dx = j >= K - 1 ? a->dx + b * a->dx_stride_b + (j - K + 1) * a->dx_stride_l
                                       : NULL; // (D)
                for (int64_t d = d0; d < d0 + nd; d++) {
                    const float *w = a->weight + d * K; // (K)
                    float v = 0.0f;
                    if (any_masked) {
                        for (int64_t k = kmin; k <= kmax; k++)
                            if (dy_row[k]) v += w[k] * dy_row[k][d - d0];
                    } else {
                        for (int64_t k = kmin; k <= kmax; k++)
                            v += w[k] * dy_row[k][d - d0];
                    }
                    if (a->dstate_final && j >= L && j - (K - 1) >= floor_last)
                        v += a->dstate_final[(b * D + d) * (K - 1) + j - L];
                    if (dx)
                        dx[d] += v;
                    else if (a->dstate0)
                        a->dstate0[(b * D + d) * (K - 1) + j] += v;
                }
            }
        }
        for (int64_t d = d0; d < d0 + nd; d++) {
            for (int64_t k = 0; k < K; k++)
                a->dweight[d * K + k] += (float)dw_acc[(d - d0) * K + k];
            if (a->dbias) a->dbias[d] += (float)db_acc[d - d0];
        }
    }
    return 0;
}
