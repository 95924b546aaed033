/*
 * cpu/scan.c — the CPU specification of the Mamba-1 selective scan (kernels/scan.h):
 * scan_fwd_cpu, scan_bwd_cpu, scan_step_cpu. Plain fp32 C with OpenMP; any CUDA version must
 * match these within the tolerances of tests/gpu. The math (forward, reverse recurrence,
 * chunked recompute, numerics) is derived in docs/scan.md.
 *
 * Tested by tests/unit/test_scan.c: forward against a plain double-precision reference,
 * backward against central finite differences of that reference in double, step ≡ forward,
 * streaming ≡ one pass (forward and backward), accumulation, invalid arguments.
 *
 * Work split: one job = (batch b, block of SCAN_CPU_DBLOCK channels). Channels never interact
 * in the recurrence, so forward and step jobs are independent. The backward walks the chunks
 * of T tokens from last to first; inside a chunk the channel blocks run in parallel and each
 * writes its share of dB, dC (a sum over channels) into its own slice of the workspace; a second
 * parallel loop over the chunk's tokens adds the slices in block order. All sums have a fixed
 * order, so results do not depend on the thread count.
 *
 * Speed (kernels/dev/scan_bench.c): exp(dt·A), N per (t, d), dominates. The loop over n is
 * vectorised (#pragma omp simd), which needs an exp the compiler can vectorise: glibc's expf is
 * a scalar call (no libmvec at -O2 without -ffast-math), so scan_exp is a Cody–Waite +
 * polynomial exp written with +, × and integer masks. The per-(t, d) softplus and SiLU, a third
 * of the time with libm, use the same exp (and scan_log1p) in loops over the block's channels
 * (forward) or the chunk's tokens (backward) that vectorise as well. All of them are
 * accurate to ~2 ulp (checked by test_scan.c) and give the same bits in SIMD and scalar code.
 */
#include "kernels/scan.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

// Rows ahead that the forward asks the cache for (a job reads a column stripe of each row).
#define SCAN_PREFETCH 8

// ---------------------------------------------------------------------------------------------
// scalar pieces shared by forward, backward and step (same expressions → same bits)

static inline uint32_t bits_of(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}
static inline float float_of(uint32_t u) {
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/*
 * exp(x) for the decays exp(dt·A). x = k·ln2 + r with k = round(x/ln2) (found by adding
 * 1.5·2^23, which leaves k in the low mantissa bits), r by a two-constant Cody–Waite
 * subtraction (the first part of ln2 has few bits, so k·0.693359375 is exact), exp(r) by the
 * Cephes degree-6 polynomial, 2^k by writing the exponent bits. Relative error <= 2 ulp on
 * [-87, 88] (checked in test_scan.c). Below -87 it returns 0 (the exact value is < 1.7e-38: a
 * decay that small is 0 for any purpose), above 88 +inf, NaN stays NaN.
 * Why not expf: glibc's expf is a scalar call, and a call keeps the loop over n scalar. The
 * range tests are integer compares on the bits turned into masks, because GCC at -O2 will not
 * vectorise a select that follows a float compare (it might trap). Only IEEE +, × and bit
 * moves: the same result in SIMD and scalar code, on any x86 or ARM build.
 */
static inline float scan_exp(float x) {
    const uint32_t ix = bits_of(x);
    const uint32_t under = -(uint32_t)(ix > 0xC2AE0000u);        // x < -87 (or -NaN)
    const uint32_t over = -(uint32_t)((int32_t)ix > 0x42B00000); // x > 88 (or +NaN)
    const uint32_t nan = -(uint32_t)((ix & 0x7FFFFFFFu) > 0x7F800000u);
    const uint32_t keep = ~(under | over);
    const float xc = float_of((ix & keep) | (0xC2AE0000u & under) | (0x42B00000u & over));

    const float magic = 12582912.0f; // 1.5·2^23
    float kf = xc * 1.44269504088896341f + magic;
    const int32_t k = (int32_t)(bits_of(kf) - bits_of(magic)); // in [-126, 127]
    kf -= magic;
    float r = xc - kf * 0.693359375f;
    r = r + kf * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const float er = p * (r * r) + r + 1.0f;                    // exp(r)
    const float res = er * float_of((uint32_t)(k + 127) << 23); // · 2^k
    return float_of((bits_of(res) & keep) | (0x7F800000u & over & ~nan) | (ix & nan));
}

/*
 * log(1 + y) for y >= 0 (softplus only). w = 1 + y = 2^e·m with m in [√½, √2) read from the
 * bits, log(w) = e·ln2 + log(m) with the Cephes logf polynomial, then the classic correction
 * log1p(y) = log(w)·y/(w − 1) (w − 1 is exact), which restores the low bits that 1 + y lost;
 * y itself when w rounds to 1. Relative error ~1e-7. Integer masks for the same reason as in
 * scan_exp. Not meant for y < 0 or NaN beyond propagating it.
 */
static inline float scan_log1p(float y) {
    const float w = 1.0f + y;
    const uint32_t iw = bits_of(w);
    const uint32_t big = -(uint32_t)((iw & 0x007FFFFFu) > 0x003504F3u); // mantissa > √2
    const int32_t e = (int32_t)(iw >> 23) - 127 + (int32_t)(big & 1u);
    const float m = float_of((iw & 0x007FFFFFu) | (0x3F800000u - (big & 0x00800000u)));
    const float f = m - 1.0f, z = f * f, fe = (float)e;
    float p = 7.0376836292e-2f;
    p = p * f - 1.1514610310e-1f;
    p = p * f + 1.1676998740e-1f;
    p = p * f - 1.2420140846e-1f;
    p = p * f + 1.4249322787e-1f;
    p = p * f - 1.6668057665e-1f;
    p = p * f + 2.0000714765e-1f;
    p = p * f - 2.4999993993e-1f;
    p = p * f + 3.3333331174e-1f;
    float lg = f * z * p;
    lg += -2.12194440e-4f * fe;
    lg += -0.5f * z;
    lg = f + lg + 0.693359375f * fe;                     // log(w)
    const uint32_t one = -(uint32_t)(iw == 0x3F800000u); // w == 1: log1p(y) = y
    const float dw = float_of((bits_of(w - 1.0f) & ~one) | (0x3F800000u & one));
    const float res = lg * (y / dw);
    return float_of((bits_of(res) & ~one) | (bits_of(y) & one));
}

// softplus with mamba_ssm's threshold: x itself above 20 (log1p(e^x) − x < 2.1e-9 there).
static inline float scan_softplus(float x) {
    const uint32_t above = -(uint32_t)((int32_t)bits_of(x) > 0x41A00000); // x > 20 (or +NaN)
    const float sp = scan_log1p(scan_exp(x));
    return float_of((bits_of(sp) & ~above) | (bits_of(x) & above));
}

// σ(x) = 1 / (1 + e^−x): e^−x is +inf below −88 (σ = 0) and 0 above 87 (σ = 1).
static inline float scan_sigmoid(float x) {
    return 1.0f / (1.0f + scan_exp(-x));
}

// dt for one (t, d).
static inline float scan_dt(float delta, float bias, int use_softplus) {
    float x = delta + bias;
    return use_softplus ? scan_softplus(x) : x;
}

/*
 * One token of one channel: h ← exp(dt·A)⊙h + dt·u·B, returns Σ_n C·h (the new h); at a reset
 * token (packed batches) the decay is 0.
 * The sum is a vectorised reduction: its order is fixed by this function, which forward and
 * step share, so both give the same bits.
 */
static inline float scan_token(int64_t N, float dt, float u, int reset,
                               const float *restrict A,  // (N) A[d, :]
                               const float *restrict Bt, // (N) B[b, t, :]
                               const float *restrict Ct, // (N) C[b, t, :]
                               float *restrict h) {      // (N) state of (b, d), in place
    float dtu = dt * u, y = 0.0f;
#pragma omp simd reduction(+ : y)
    for (int64_t n = 0; n < N; n++) {
        float an = reset ? 0.0f : scan_exp(dt * A[n]); // a packed sequence starts: decay 0
        float hn = an * h[n] + dtu * Bt[n];
        h[n] = hn;
        y += Ct[n] * hn;
    }
    return y;
}

static inline int64_t min64(int64_t a, int64_t b) {
    return a < b ? a : b;
}

// The checks every CPU entry point runs: the shared ones, then fp32 only (the specification).
static int check_cpu(const ScanArgs *a, ScanOp op) {
    int rc = scan_args_check(a, op);
    if (rc) return rc;
    if (a->dtype != DTYPE_F32)
        return ls_error(LS_ERR_UNSUPPORTED,
                        "%s_cpu: dtype %s (the CPU scan is fp32; bf16 runs on --device cuda)",
                        op == SCAN_OP_FWD ? "scan_fwd" : op == SCAN_OP_BWD ? "scan_bwd" : "scan_step",
                        dtype_name(a->dtype));
    return 0;
}

/*
 * One token for the channels [d0, d0+nd) of one batch row (nd <= SCAN_CPU_DBLOCK): dt, the
 * state update (scan_token, vectorised over n), then out = (y + D·u)·SiLU(z). The softplus and
 * SiLU loops run over the block's channels and vectorise too (scan_softplus, scan_sigmoid
 * use no libm call). Forward and step both call this: they give the same bits.
 */
static inline void scan_block_token(const ScanArgs *a, int64_t d0, int64_t nd, int reset,
                                    const float *restrict u,  // (D) u[b, t, :]
                                    const float *restrict dl, // (D) delta[b, t, :]
                                    const float *restrict z,  // (D) z[b, t, :] or NULL
                                    const float *restrict Bt, // (N) B[b, t, :]
                                    const float *restrict Ct, // (N) C[b, t, :]
                                    float *restrict out,      // (D) out[b, t, :]
                                    float *restrict h) {      // (nd, N) states, in place
    const int64_t N = a->N;
    const float *bias = a->delta_bias, *Dsk = a->D_skip; // (D) or NULL
    float dt[SCAN_CPU_DBLOCK], y[SCAN_CPU_DBLOCK];
    if (bias)
        for (int64_t j = 0; j < nd; j++)
            dt[j] = dl[d0 + j] + bias[d0 + j];
    else
        for (int64_t j = 0; j < nd; j++)
            dt[j] = dl[d0 + j] + 0.0f; // as scan_dt(dl, 0)
    if (a->delta_softplus) {
#pragma omp simd
        for (int64_t j = 0; j < nd; j++)
            dt[j] = scan_softplus(dt[j]);
    }
    for (int64_t j = 0; j < nd; j++)
        y[j] = scan_token(N, dt[j], u[d0 + j], reset, a->A + (d0 + j) * N, Bt, Ct, h + j * N);
    if (Dsk)
        for (int64_t j = 0; j < nd; j++)
            y[j] += Dsk[d0 + j] * u[d0 + j];
    if (z) {
#pragma omp simd
        for (int64_t j = 0; j < nd; j++)
            y[j] *= z[d0 + j] * scan_sigmoid(z[d0 + j]);
    }
    memcpy(out + d0, y, (size_t)nd * sizeof(float));
}

// ---------------------------------------------------------------------------------------------
// forward

int scan_fwd_cpu(const ScanArgs *a) {
    int rc = check_cpu(a, SCAN_OP_FWD);
    if (rc) return rc;
    const int64_t B = a->B, L = a->L, D = a->D, N = a->N, T = a->chunk;
    const int64_t nc = (L - 1) / T + 1, nblk = (D - 1) / SCAN_CPU_DBLOCK + 1;

#pragma omp parallel for schedule(static)
    for (int64_t job = 0; job < B * nblk; job++) {
        const int64_t b = job / nblk, d0 = (job % nblk) * SCAN_CPU_DBLOCK;
        const int64_t nd = min64(SCAN_CPU_DBLOCK, D - d0);
        float h[SCAN_CPU_DBLOCK * SCAN_N_MAX]; // (nd, N) states of this job's channels
        // h0 is read here and h_final written at the end, for this job's rows only: the two may
        // be the same buffer.
        if (a->h0)
            memcpy(h, a->h0 + (b * D + d0) * N, (size_t)(nd * N) * sizeof(float));
        else
            memset(h, 0, (size_t)(nd * N) * sizeof(float));

        for (int64_t t = 0; t < L; t++) {
            const float *u = a->u + b * a->u_stride_b + t * a->u_stride_l;               // (D)
            const float *dl = a->delta + b * a->delta_stride_b + t * a->delta_stride_l;  // (D)
            const float *z = a->z ? a->z + b * a->z_stride_b + t * a->z_stride_l : NULL; // (D)
            const float *Bt = a->B_ssm + b * a->B_ssm_stride_b + t * a->B_ssm_stride_l;  // (N)
            const float *Ct = a->C_ssm + b * a->C_ssm_stride_b + t * a->C_ssm_stride_l;  // (N)
            float *out = a->out + b * a->out_stride_b + t * a->out_stride_l;             // (D)
            if (t + SCAN_PREFETCH < L) { // rows are a stride apart: help the prefetcher
                const int64_t ahead = SCAN_PREFETCH;
                __builtin_prefetch(u + ahead * a->u_stride_l + d0);
                __builtin_prefetch(dl + ahead * a->delta_stride_l + d0);
                if (z) __builtin_prefetch(z + ahead * a->z_stride_l + d0);
                __builtin_prefetch(out + ahead * a->out_stride_l + d0, 1);
            }
            const int reset = a->reset && a->reset[b * a->reset_stride_b + t * a->reset_stride_l];
            scan_block_token(a, d0, nd, reset, u, dl, z, Bt, Ct, out, h);
            if (a->ckpt && ((t + 1) % T == 0 || t == L - 1)) {
                float *dst = a->ckpt + ((b * nc + t / T) * D + d0) * N; // (nd, N)
                memcpy(dst, h, (size_t)(nd * N) * sizeof(float));
            }
        }
        if (a->h_final) memcpy(a->h_final + (b * D + d0) * N, h, (size_t)(nd * N) * sizeof(float));
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------
// step

int scan_step_cpu(const ScanArgs *a) {
    int rc = check_cpu(a, SCAN_OP_STEP);
    if (rc) return rc;
    const int64_t B = a->B, D = a->D, N = a->N, nblk = (D - 1) / SCAN_CPU_DBLOCK + 1;
#pragma omp parallel for schedule(static) if (B * D * N >= 16384)
    for (int64_t job = 0; job < B * nblk; job++) {
        const int64_t b = job / nblk, d0 = (job % nblk) * SCAN_CPU_DBLOCK;
        const int64_t nd = min64(SCAN_CPU_DBLOCK, D - d0);
        scan_block_token(a, d0, nd, 0, a->u + b * a->u_stride_b, // (D)
                         a->delta + b * a->delta_stride_b,       // (D)
                         a->z ? a->z + b * a->z_stride_b : NULL, // (D)
                         a->B_ssm + b * a->B_ssm_stride_b,       // (N)
                         a->C_ssm + b * a->C_ssm_stride_b,       // (N)
                         a->out + b * a->out_stride_b,           // (D)
                         a->state + (b * D + d0) * N);           // (nd, N)
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------
// backward

/*
 * Forward recompute of one token of one channel inside a chunk, keeping what the reverse step
 * needs: a = exp(dt·A) (0 at a reset token) and the new state. Same expressions as scan_token,
 * so the states are the forward's bit for bit. With a = 0 the reverse step below sends no
 * gradient into the previous token and adds nothing to dA or to ddt through the decay.
 */
static inline void scan_token_states(int64_t N, float dt, float u, int reset,
                                     const float *restrict A,      // (N)
                                     const float *restrict Bt,     // (N)
                                     const float *restrict h_prev, // (N) h_{t-1}
                                     float *restrict a_t,          // (N) out: exp(dt·A)
                                     float *restrict h_t) {        // (N) out: h_t
    float dtu = dt * u;
#pragma omp simd
    for (int64_t n = 0; n < N; n++) {
        float an = reset ? 0.0f : scan_exp(dt * A[n]);
        a_t[n] = an;
        h_t[n] = an * h_prev[n] + dtu * Bt[n];
    }
}

/*
 * Reverse step for one token of one channel. On entry G = a_{t+1}⊙dh_{t+1} (the part of dL/dh_t
 * that comes from later tokens); gy = dL/dy_t. Adds dh_t = G + gy·C_t into the gradients and
 * leaves G = a_t⊙dh_t, the gradient that flows into h_{t-1}. Returns the sums over n.
 */
typedef struct {
    float yC;  // Σ C·h_t (to rebuild y for dz)
    float ddt; // dL/d dt
    float gB;  // Σ dh_t·B (du = dt·gB + gy·D)
} ScanTokenSums;

static inline ScanTokenSums scan_token_bwd(int64_t N, float gy, float dt, float u,
                                           const float *restrict A,      // (N)
                                           const float *restrict Bt,     // (N)
                                           const float *restrict Ct,     // (N)
                                           const float *restrict a_t,    // (N)
                                           const float *restrict h_prev, // (N)
                                           const float *restrict h_t,    // (N)
                                           float *restrict G,            // (N) in/out
                                           float *restrict dA_acc,       // (N) += over tokens
                                           float *restrict dBt,          // (N) += over channels
                                           float *restrict dCt) {        // (N) += over channels
    float yC = 0.0f, ddt = 0.0f, gB = 0.0f, dtu = dt * u;
#pragma omp simd reduction(+ : yC, ddt, gB)
    for (int64_t n = 0; n < N; n++) {
        float dh = G[n] + gy * Ct[n];  // dL/dh_t
        float ah = a_t[n] * h_prev[n]; // the decayed old state
        yC += Ct[n] * h_t[n];
        dCt[n] += gy * h_t[n];
        ddt += dh * (A[n] * ah + u * Bt[n]);
        gB += dh * Bt[n];
        dBt[n] += dh * dtu;
        dA_acc[n] += dh * dt * ah;
        G[n] = dh * a_t[n];
    }
    return (ScanTokenSums){yC, ddt, gB};
}

int scan_bwd_cpu(const ScanArgs *a) {
    int rc = check_cpu(a, SCAN_OP_BWD);
    if (rc) return rc;
    size_t need = scan_bwd_workspace_size_cpu(a);
    if (!a->workspace || a->workspace_bytes < need)
        return ls_error(LS_ERR_USAGE,
                        "scan_bwd_cpu: workspace of %zu bytes%s, needs %zu "
                        "(scan_bwd_workspace_size_cpu)",
                        a->workspace_bytes, a->workspace ? "" : " (NULL)", need);
    const int64_t B = a->B, L = a->L, D = a->D, N = a->N, T = a->chunk;
    const int64_t Te = min64(T, L), nc = (L - 1) / T + 1;
    const int64_t nblk = (D - 1) / SCAN_CPU_DBLOCK + 1;
    const int64_t per_blk = 4 * Te * N + N + 3 * Te;
    const int sp = a->delta_softplus;
    float *carry = a->workspace;   // (D, N) a⊙dh carried from chunk c+1 into chunk c
    float *blk_ws = carry + D * N; // (nblk, per_blk) per-block scratch, see below

#pragma omp parallel
    for (int64_t b = 0; b < B; b++) {
        for (int64_t c = nc - 1; c >= 0; c--) {
            const int64_t t0 = c * T, nt = min64(T, L - t0);

            // Phase 1: per channel block, recompute the chunk's states from the checkpoint,
            // then walk it backwards. Writes only this block's channels and dB/dC slices.
#pragma omp for schedule(static)
            for (int64_t k = 0; k < nblk; k++) {
                const int64_t d0 = k * SCAN_CPU_DBLOCK, nd = min64(SCAN_CPU_DBLOCK, D - d0);
                float *ws = blk_ws + k * per_blk;
                float *hbuf = ws;                  // (nt+1, N) row 0 = state before the chunk
                float *abuf = hbuf + (Te + 1) * N; // (nt, N) exp(dt·A)
                float *dBp = abuf + Te * N;        // (nt, N) this block's share of dB
                float *dCp = dBp + Te * N;         // (nt, N) this block's share of dC
                float *dtbuf = dCp + Te * N;       // (nt) dt
                float *dsbuf = dtbuf + Te;         // (nt) d dt / d delta = σ(delta + bias)
                float *szbuf = dsbuf + Te;         // (nt) σ(z)
                memset(dBp, 0, (size_t)(2 * Te * N) * sizeof(float));

                for (int64_t d = d0; d < d0 + nd; d++) {
                    const float *Ad = a->A + d * N; // (N)
                    const float bias = a->delta_bias ? a->delta_bias[d] : 0.0f;
                    float *G = carry + d * N; // (N)
                    if (c == nc - 1) {
                        if (a->dh_final)
                            memcpy(G, a->dh_final + (b * D + d) * N, N * sizeof(float));
                        else
                            memset(G, 0, (size_t)N * sizeof(float));
                    }
                    // state before the chunk: h0 (or 0) for the first, else the checkpoint
                    if (c > 0)
                        memcpy(hbuf, a->ckpt + ((b * nc + c - 1) * D + d) * N,
                               (size_t)N * sizeof(float));
                    else if (a->h0)
                        memcpy(hbuf, a->h0 + (b * D + d) * N, (size_t)N * sizeof(float));
                    else
                        memset(hbuf, 0, (size_t)N * sizeof(float));

                    // The chunk's per-token scalars of this channel, vectorised over tokens:
                    // dt (as the forward computes it), softplus' and σ(z).
                    const float *dl = a->delta + b * a->delta_stride_b + t0 * a->delta_stride_l + d;
                    const int64_t dls = a->delta_stride_l;
                    if (sp) {
#pragma omp simd
                        for (int64_t i = 0; i < nt; i++) {
                            float x = dl[i * dls] + bias;
                            dtbuf[i] = scan_softplus(x);
                            dsbuf[i] = scan_sigmoid(x);
                        }
                    } else {
                        for (int64_t i = 0; i < nt; i++)
                            dtbuf[i] = dl[i * dls] + bias, dsbuf[i] = 1.0f;
                    }
                    if (a->z) {
                        const float *zc = a->z + b * a->z_stride_b + t0 * a->z_stride_l + d;
                        const int64_t zs = a->z_stride_l;
#pragma omp simd
                        for (int64_t i = 0; i < nt; i++)
                            szbuf[i] = scan_sigmoid(zc[i * zs]);
                    }

                    for (int64_t i = 0; i < nt; i++) { // forward recompute of the states
                        const int64_t t = t0 + i;
                        float u = a->u[b * a->u_stride_b + t * a->u_stride_l + d];
                        const float *Bt = a->B_ssm + b * a->B_ssm_stride_b + t * a->B_ssm_stride_l;
                        const int reset =
                            a->reset && a->reset[b * a->reset_stride_b + t * a->reset_stride_l];
                        scan_token_states(N, dtbuf[i], u, reset, Ad, Bt, hbuf + i * N,
                                          abuf + i * N, hbuf + (i + 1) * N);
                    }

                    float dA_acc[SCAN_N_MAX] = {0}; // (N) this chunk's part of dA[d, :]
                    float dD_acc = 0.0f, dbias_acc = 0.0f;
                    for (int64_t i = nt - 1; i >= 0; i--) { // reverse
                        const int64_t t = t0 + i;
                        float u = a->u[b * a->u_stride_b + t * a->u_stride_l + d];
                        float g = a->dout[b * a->dout_stride_b + t * a->dout_stride_l + d];
                        const float *Bt = a->B_ssm + b * a->B_ssm_stride_b + t * a->B_ssm_stride_l;
                        const float *Ct = a->C_ssm + b * a->C_ssm_stride_b + t * a->C_ssm_stride_l;
                        float dt = dtbuf[i];
                        // gate: out = y·s(z), s = SiLU → dL/dy = g·s(z)
                        float gy = g, zz = 0.0f, sz = 0.0f;
                        if (a->z) {
                            zz = a->z[b * a->z_stride_b + t * a->z_stride_l + d];
                            sz = szbuf[i];
                            gy = g * zz * sz;
                        }
                        ScanTokenSums s =
                            scan_token_bwd(N, gy, dt, u, Ad, Bt, Ct, abuf + i * N, hbuf + i * N,
                                           hbuf + (i + 1) * N, G, dA_acc, dBp + i * N, dCp + i * N);
                        float du = dt * s.gB;
                        float y = s.yC;
                        if (a->D_skip) {
                            du += gy * a->D_skip[d];
                            dD_acc += gy * u;
                            y += a->D_skip[d] * u;
                        }
                        if (a->z) // d SiLU(z)/dz = σ(z)·(1 + z·(1 − σ(z)))
                            a->dz[b * a->dz_stride_b + t * a->dz_stride_l + d] +=
                                g * y * sz * (1.0f + zz * (1.0f - sz));
                        float ddl = s.ddt * dsbuf[i]; // softplus' = σ (1 without softplus)
                        dbias_acc += ddl;
                        a->du[b * a->du_stride_b + t * a->du_stride_l + d] += du;
                        a->ddelta[b * a->ddelta_stride_b + t * a->ddelta_stride_l + d] += ddl;
                    }
                    for (int64_t n = 0; n < N; n++)
                        a->dA[d * N + n] += dA_acc[n];
                    if (a->dD_skip) a->dD_skip[d] += dD_acc;
                    if (a->ddelta_bias) a->ddelta_bias[d] += dbias_acc;
                    if (c == 0 && a->dh0)
                        for (int64_t n = 0; n < N; n++)
                            a->dh0[(b * D + d) * N + n] += G[n];
                }
            }

            // Phase 2: dB, dC of the chunk's tokens = Σ over blocks, in block order.
#pragma omp for schedule(static)
            for (int64_t i = 0; i < nt; i++) {
                const int64_t t = t0 + i;
                float *dB = a->dB_ssm + b * a->dB_ssm_stride_b + t * a->dB_ssm_stride_l; // (N)
                float *dC = a->dC_ssm + b * a->dC_ssm_stride_b + t * a->dC_ssm_stride_l; // (N)
                for (int64_t n = 0; n < N; n++) {
                    float sb = 0.0f, sc = 0.0f;
                    for (int64_t k = 0; k < nblk; k++) {
                        const float *ws = blk_ws + k * per_blk + (Te + 1) * N + Te * N;
                        sb += ws[i * N + n];
                        sc += ws[Te * N + i * N + n];
                    }
                    dB[n] += sb;
                    dC[n] += sc;
                }
            }
        }
    }
    return 0;
}
