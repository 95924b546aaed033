/*
 * conv.cu — causal depthwise conv1d on the GPU (kernels/conv.h): conv_fwd_cuda, conv_bwd_cuda,
 * conv_step_cuda. Must match the CPU specification kernels/cpu/conv.c; checked by
 * tests/gpu/parity_conv.c (`build/test_gpu conv`), timed by kernels/dev/conv.cu.
 *
 * Work split (forward and backward): a thread owns VEC consecutive channels (VEC = 4 when D,
 * the strides and the pointers allow 16-byte fp32 / 8-byte bf16 accesses, else 1) and a chunk of
 * T consecutive tokens of one batch row, which it walks in order. A warp therefore reads whole
 * 128-channel rows of x: token-major, coalesced, each element read once (plus a K−1 token halo
 * per chunk, 1–3 % extra, mostly L2 hits). The last K−1 inputs and, in the backward, the last K
 * gradients are a shift register in registers (K <= 4 is a template constant; larger K takes a
 * generic path that re-reads taps).
 *
 * Forward: pre[t] = bias + Σ_k w[k]·x_ext[t+k] in k order with rn_ arithmetic (no FMA), so the
 * result is the CPU's bit for bit; SiLU through expf (CUDA's, within 2 ulp of libm's).
 * Backward, per chunk [e0, e1) of x positions: dy[t] = dout[t]·SiLU'(pre[t]) for t in
 * [e0, e1 + K − 1) (the K−1 after e1 are recomputed, not shared), dx[e] += Σ_k w[k]·dy[e+K−1−k]
 * (+ dstate_final), and the chunk's own t in [e0, e1) add dy·x_ext into K+1 double accumulators
 * per channel. Those partial sums go to the scratch, one row per chunk; a second kernel sums the
 * rows in chunk order (cuda_colsum) and adds them to dweight / dbias once: deterministic, no
 * atomics. dstate0 (K−1 values per (b, d)) comes from a small kernel that recomputes dy[0..K−2].
 * state_final is written by its own kernel after the forward, in increasing index order, so
 * it may alias state0 as on the CPU.
 */
#include <string.h>

#include "kernels/conv.h"
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_math.cuh"

#define CONV_THREADS 128  // channel groups per block (blockDim.x at most)
#define CONV_T_FWD 128    // tokens per thread, forward
#define CONV_T_BWD 256    // tokens per thread, backward (also the rows of the partial sums)

// Device view of ConvArgs (pointers untyped: the kernel template knows the storage type).
struct ConvDev {
    int64_t B, L, D;
    int K, silu;
    const void *x;
    int64_t xsb, xsl;
    const float *w, *bias, *state0;
    const uint8_t *reset; // packed sequences (conv.h): nonzero where one starts
    int64_t rsb, rsl;
    void *out;
    int64_t osb, osl;
    const void *dout;
    int64_t gsb, gsl;
    const float *dstate_final;
    void *dx;
    int64_t dxsb, dxsl;
    int64_t T, nchunk, groups;
};

// ----------------------------------------------------------------------------- helpers

// x_ext at x position j (j < 0: state0 or zero) for VEC channels from d.
template <typename T, int VEC>
__device__ __forceinline__ void conv_ext(const ConvDev &p, int64_t b, int64_t j, int64_t d,
                                         float (&v)[VEC]) {
    if (j >= 0) {
        ldv((const T *)p.x + b * p.xsb + j * p.xsl + d, v);
    } else {
#pragma unroll
        for (int u = 0; u < VEC; u++)
            v[u] = p.state0 ? p.state0[(b * p.D + d + u) * (p.K - 1) + (p.K - 1) + j] : 0.0f;
    }
}

/*
 * Packed sequences. A token's taps on earlier inputs are kept while no sequence starts in
 * between: with `since` = tokens since the last start (capped at K; K means none in reach),
 * tap k of token t (x position t − (K−1) + k) is kept iff K−1−k <= since. Masked taps read 0,
 * as on the CPU (conv_tap_kept), so the sums are the CPU's bit for bit. All threads of a block
 * share one batch row and token range: the flag loads are broadcasts, the branches uniform.
 */
__device__ __forceinline__ bool conv_starts(const ConvDev &p, int64_t b, int64_t t) {
    return p.reset[b * p.rsb + t * p.rsl] != 0;
}
// `since` before token t0: the last start among the K−1 tokens before it, else K.
__device__ __forceinline__ int conv_since_before(const ConvDev &p, int64_t b, int64_t t0, int K) {
    if (!p.reset) return K;
    for (int i = 1; i <= K - 1 && t0 - i >= 0; i++)
        if (conv_starts(p, b, t0 - i)) return i - 1;
    return K;
}
__device__ __forceinline__ int conv_since_step(const ConvDev &p, int64_t b, int64_t t, int since,
                                               int K) {
    if (!p.reset) return K;
    return t < p.L && conv_starts(p, b, t) ? 0 : min(since + 1, K);
}
// Any start at tokens [lo, hi] (clipped to [0, L)): masks the taps that cross it.
__device__ __forceinline__ bool conv_any_start(const ConvDev &p, int64_t b, int64_t lo,
                                               int64_t hi) {
    if (!p.reset) return false;
    for (int64_t s = max(lo, (int64_t)0); s <= hi && s < p.L; s++)
        if (conv_starts(p, b, s)) return true;
    return false;
}

// The CPU's dy = dout·SiLU'(pre) (or dout) for one element.
__device__ __forceinline__ float conv_dy(float g, float pre, int silu) {
    return silu ? rn_mul(g, silu_grad_spec(pre)) : g;
}

__device__ __forceinline__ float conv_act(float pre, int silu) {
    return silu ? rn_mul(pre, sigmoid_spec(pre)) : pre;
}

// ----------------------------------------------------------------------------- forward

template <typename T, int VEC, int KT>
__global__ void __launch_bounds__(CONV_THREADS) conv_fwd_kernel(ConvDev p) {
    constexpr int KA = KT > 0 ? KT : CONV_K_MAX; // register (or, generic, local) array size
    const int K = KT > 0 ? KT : p.K;
    const int64_t g = (int64_t)blockIdx.y * blockDim.x + threadIdx.x;
    if (g >= p.groups) return;
    const int64_t d = g * VEC;
    const int64_t b = blockIdx.x / p.nchunk, t0 = (blockIdx.x % p.nchunk) * p.T;
    const int64_t t1 = min(t0 + p.T, p.L);

    float w[KA][VEC], bias[VEC], win[KA][VEC]; // win[i] = x_ext at t − (K−1) + i, i < K−1
#pragma unroll
    for (int u = 0; u < VEC; u++) {
        bias[u] = p.bias ? p.bias[d + u] : 0.0f;
#pragma unroll
        for (int k = 0; k < K; k++) w[k][u] = p.w[(d + u) * K + k];
    }
#pragma unroll
    for (int i = 0; i < K - 1; i++) conv_ext<T, VEC>(p, b, t0 - (K - 1) + i, d, win[i]);

    const T *__restrict__ xp = (const T *)p.x + b * p.xsb + d;
    T *__restrict__ op = (T *)p.out + b * p.osb + d;
    float xt[VEC]; // x[t], loaded one token ahead (two loads in flight per thread)
    ldv(xp + t0 * p.xsl, xt);
    int since = conv_since_before(p, b, t0, K);
#pragma unroll 4
    for (int64_t t = t0; t < t1; t++) {
        float xn[VEC], o[VEC];
        if (t + 1 < t1) ldv(xp + (t + 1) * p.xsl, xn);
        since = conv_since_step(p, b, t, since, K);
#pragma unroll
        for (int u = 0; u < VEC; u++) {
            float acc = bias[u];
#pragma unroll
            for (int k = 0; k < K - 1; k++)
                acc = rn_add(acc, rn_mul(w[k][u], K - 1 - k <= since ? win[k][u] : 0.0f));
            acc = rn_add(acc, rn_mul(w[K - 1][u], xt[u]));
            o[u] = conv_act(acc, p.silu);
        }
        stv(op + t * p.osl, o);
#pragma unroll
        for (int i = 0; i + 1 < K - 1; i++)
#pragma unroll
            for (int u = 0; u < VEC; u++) win[i][u] = win[i + 1][u];
        if (K > 1)
#pragma unroll
            for (int u = 0; u < VEC; u++) win[K - 2][u] = xt[u];
#pragma unroll
        for (int u = 0; u < VEC; u++) xt[u] = xn[u];
    }
}

// state_final[b, d, i] = x_ext[L + i]; i ascending after every read of state0 by this thread.
template <typename T>
__global__ void conv_state_kernel(ConvDev p, float *__restrict__ state_final) {
    const int K = p.K;
    for (int64_t bd = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; bd < p.B * p.D;
         bd += (int64_t)gridDim.x * blockDim.x) {
        const int64_t b = bd / p.D, d = bd % p.D;
        for (int i = 0; i < K - 1; i++) {
            int64_t j = p.L + i - (K - 1); // x position of x_ext[L + i]
            float v = j >= 0 ? ld((const T *)p.x + b * p.xsb + j * p.xsl + d)
                             : (p.state0 ? p.state0[bd * (K - 1) + (K - 1) + j] : 0.0f);
            if (conv_any_start(p, b, j + 1, p.L - 1)) v = 0.0f; // before the last start
            state_final[bd * (K - 1) + i] = v;
        }
    }
}

// ----------------------------------------------------------------------------- backward

// The backward's loads for token t: x[t] and dout[t] (t < L), and dx at x position t − (K−1)
// when t completes one (t >= t_emit).
template <typename T, int VEC>
__device__ __forceinline__ void conv_bwd_load(const ConvDev &p, const T *__restrict__ xp,
                                              const T *__restrict__ gp,
                                              const T *__restrict__ dxp, int64_t t,
                                              int64_t t_emit, int K, float (&xt)[VEC],
                                              float (&gt)[VEC], float (&od)[VEC]) {
    if (t < p.L) {
        ldv(xp + t * p.xsl, xt);
        ldv(gp + t * p.gsl, gt);
    }
    if (t >= t_emit) ldv(dxp + (t - (K - 1)) * p.dxsl, od);
}

template <typename T, int VEC, int KT>
__global__ void __launch_bounds__(CONV_THREADS) conv_bwd_kernel(ConvDev p,
                                                                double *__restrict__ part) {
    constexpr int KA = KT > 0 ? KT : CONV_K_MAX;
    const int K = KT > 0 ? KT : p.K;
    const int64_t g = (int64_t)blockIdx.y * blockDim.x + threadIdx.x;
    if (g >= p.groups) return;
    const int64_t d = g * VEC;
    const int64_t b = blockIdx.x / p.nchunk, c = blockIdx.x % p.nchunk;
    const int64_t e0 = c * p.T, e1 = min(e0 + p.T, p.L);

    float w[KA][VEC], bias[VEC], win[KA][VEC], ring[KA][VEC]; // ring[K−1] = newest dy
    double dw[KA][VEC], db[VEC];
#pragma unroll
    for (int u = 0; u < VEC; u++) {
        bias[u] = p.bias ? p.bias[d + u] : 0.0f;
        db[u] = 0.0;
#pragma unroll
        for (int k = 0; k < K; k++) {
            w[k][u] = p.w[(d + u) * K + k];
            dw[k][u] = 0.0;
            ring[k][u] = 0.0f;
        }
    }
#pragma unroll
    for (int i = 0; i < K - 1; i++) conv_ext<T, VEC>(p, b, e0 - (K - 1) + i, d, win[i]);

    const T *__restrict__ xp = (const T *)p.x + b * p.xsb + d;
    const T *__restrict__ gp = (const T *)p.dout + b * p.gsb + d;
    T *__restrict__ dxp = (T *)p.dx + b * p.dxsb + d;
    const int64_t tend = e1 + K - 1, t_emit = e0 + K - 1; // dy for t in [e0, tend), zero past L
    // Token t's loads (x, dout, and the dx row it completes) are issued one token ahead, so
    // two tokens' loads are in flight per thread (measured: without it, ~2 memory round trips
    // per token made the backward 1.7x its floor). Prefetching dx[e+1] before storing dx[e]
    // is safe: dx rows are disjoint and no output overlaps an input (conv.h).
    float xc[VEC], gc[VEC], oc[VEC];
#pragma unroll
    for (int u = 0; u < VEC; u++) xc[u] = gc[u] = oc[u] = 0.0f;
    conv_bwd_load<T, VEC>(p, xp, gp, dxp, e0, t_emit, K, xc, gc, oc);
    // packed sequences: `since` of token t (as the forward's), and hist bit i = a start at
    // token t − i (the K−1 latest), which masks the dx terms that cross a start
    int since = conv_since_before(p, b, e0, K);
    uint64_t hist = 0;
    if (p.reset)
        for (int i = 1; i <= K - 1; i++)
            if (e0 - i >= 0 && conv_starts(p, b, e0 - i)) hist |= 1ull << i;
#pragma unroll 2
    for (int64_t t = e0; t < tend; t++) {
        float xn[VEC], gn[VEC], on[VEC], dy[VEC];
#pragma unroll
        for (int u = 0; u < VEC; u++) xn[u] = gn[u] = on[u] = 0.0f;
        if (t + 1 < tend) conv_bwd_load<T, VEC>(p, xp, gp, dxp, t + 1, t_emit, K, xn, gn, on);
        if (p.reset) {
            if (t > e0) hist <<= 1;
            if (t < p.L && conv_starts(p, b, t)) hist |= 1;
            since = conv_since_step(p, b, t, since, K);
        }
        if (t < p.L) {
            if (p.reset)
#pragma unroll
                for (int k = 0; k < K - 1; k++)
                    if (K - 1 - k > since)
#pragma unroll
                        for (int u = 0; u < VEC; u++) win[k][u] = 0.0f; // masked: reads 0
#pragma unroll
            for (int u = 0; u < VEC; u++) {
                float pre = 0.0f;
                if (p.silu) {
                    pre = bias[u];
#pragma unroll
                    for (int k = 0; k < K - 1; k++) pre = rn_add(pre, rn_mul(w[k][u], win[k][u]));
                    pre = rn_add(pre, rn_mul(w[K - 1][u], xc[u]));
                }
                dy[u] = conv_dy(gc[u], pre, p.silu);
                if (t < e1) { // this chunk's own token: into dweight / dbias
                    db[u] += (double)dy[u];
#pragma unroll
                    for (int k = 0; k < K - 1; k++) dw[k][u] += (double)dy[u] * win[k][u];
                    dw[K - 1][u] += (double)dy[u] * xc[u];
                }
            }
#pragma unroll
            for (int i = 0; i + 1 < K - 1; i++)
#pragma unroll
                for (int u = 0; u < VEC; u++) win[i][u] = win[i + 1][u];
            if (K > 1)
#pragma unroll
                for (int u = 0; u < VEC; u++) win[K - 2][u] = xc[u];
        } else {
#pragma unroll
            for (int u = 0; u < VEC; u++) dy[u] = 0.0f;
        }
#pragma unroll
        for (int i = 0; i + 1 < K; i++)
#pragma unroll
            for (int u = 0; u < VEC; u++) ring[i][u] = ring[i + 1][u];
#pragma unroll
        for (int u = 0; u < VEC; u++) ring[K - 1][u] = dy[u];

        if (t >= e0 + K - 1) { // dx at x position e = t − (K−1): Σ_k w[k]·dy[t−k], k ascending
            const int64_t e = t - (K - 1);
            // term k (token t − k) crosses a start iff one lies at tokens (e, t − k]: hist bits
            // k … K−2; the dstate_final term crosses one iff any lies in (e, L − 1]
            const uint64_t low = K > 1 ? (~0ull >> (64 - (K - 1))) : 0ull; // bits 0 … K−2
            float v[VEC];
#pragma unroll
            for (int u = 0; u < VEC; u++) {
                float acc = 0.0f;
#pragma unroll
                for (int k = 0; k < K; k++) {
                    const bool kept = !p.reset || ((hist & low) >> k) == 0;
                    acc = rn_add(acc, rn_mul(w[k][u], kept ? ring[K - 1 - k][u] : 0.0f));
                }
                if (p.dstate_final && t >= p.L && !(p.reset && (hist & low)))
                    acc = rn_add(acc, p.dstate_final[(b * p.D + d + u) * (K - 1) + (t - p.L)]);
                v[u] = rn_add(oc[u], acc);
            }
            stv(dxp + e * p.dxsl, v);
        }
#pragma unroll
        for (int u = 0; u < VEC; u++) xc[u] = xn[u], gc[u] = gn[u], oc[u] = on[u];
    }
    // partial sums of this chunk: part[(b·nchunk + c), d, 0..K] (K = the bias slot)
    double *row = part + ((b * p.nchunk + c) * p.D + d) * (K + 1);
#pragma unroll
    for (int u = 0; u < VEC; u++) {
#pragma unroll
        for (int k = 0; k < K; k++) row[u * (K + 1) + k] = dw[k][u];
        row[u * (K + 1) + K] = db[u];
    }
}

// dweight[d, k] += (float)Σ, dbias[d] += (float)Σ from the column sums (D, K+1).
__global__ void conv_wgrad_kernel(const double *__restrict__ sums, int64_t D, int K,
                                  float *__restrict__ dweight, float *__restrict__ dbias) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < D * (K + 1);
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t d = i / (K + 1);
        int k = (int)(i % (K + 1));
        if (k < K)
            dweight[d * K + k] += (float)sums[i];
        else if (dbias)
            dbias[d] += (float)sums[i];
    }
}

// dstate0[b, d, j] += Σ_{k} w[k]·dy[j−k] (0 <= j−k < L) + dstate_final[j−L] (j >= L), j < K−1.
template <typename T>
__global__ void conv_dstate0_kernel(ConvDev p, float *__restrict__ dstate0) {
    const int K = p.K;
    for (int64_t bd = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; bd < p.B * p.D;
         bd += (int64_t)gridDim.x * blockDim.x) {
        const int64_t b = bd / p.D, d = bd % p.D;
        const float *w = p.w + d * K;
        for (int j = 0; j < K - 1; j++) {
            int kmin = (int)max((int64_t)0, (int64_t)j - (p.L - 1)), kmax = min(K - 1, j);
            float v = 0.0f;
            for (int k = kmin; k <= kmax; k++) {
                int64_t t = j - k; // 0 <= t < min(L, K−1): recompute dy[t]
                // a start at tokens 0 … t: the tap reads 0, nothing flows into the state
                if (conv_any_start(p, b, 0, t)) continue;
                float pre = 0.0f;
                if (p.silu) {
                    pre = p.bias ? p.bias[d] : 0.0f;
                    for (int q = 0; q < K; q++) {
                        int64_t xj = t - (K - 1) + q;
                        float xv = xj >= 0 ? ld((const T *)p.x + b * p.xsb + xj * p.xsl + d)
                                           : (p.state0 ? p.state0[bd * (K - 1) + (K - 1) + xj]
                                                       : 0.0f);
                        pre = rn_add(pre, rn_mul(w[q], xv));
                    }
                }
                float dy = conv_dy(ld((const T *)p.dout + b * p.gsb + t * p.gsl + d), pre, p.silu);
                v = rn_add(v, rn_mul(w[k], dy));
            }
            if (p.dstate_final && j >= p.L && !conv_any_start(p, b, j - (K - 1) + 1, p.L - 1))
                v = rn_add(v, p.dstate_final[bd * (K - 1) + j - p.L]);
            dstate0[bd * (K - 1) + j] += v;
        }
    }
}

// ----------------------------------------------------------------------------- step

template <typename T>
__global__ void conv_step_kernel(ConvDev p, float *__restrict__ state) {
    const int K = p.K;
    for (int64_t bd = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; bd < p.B * p.D;
         bd += (int64_t)gridDim.x * blockDim.x) {
        const int64_t b = bd / p.D, d = bd % p.D;
        const float *w = p.w + d * K;
        float *s = K > 1 ? state + bd * (K - 1) : NULL;
        float x = ld((const T *)p.x + b * p.xsb + d);
        float acc = p.bias ? p.bias[d] : 0.0f;
        for (int k = 0; k < K - 1; k++) acc = rn_add(acc, rn_mul(w[k], s[k]));
        acc = rn_add(acc, rn_mul(w[K - 1], x));
        st((T *)p.out + b * p.osb + d, conv_act(acc, p.silu));
        if (K > 1) {
            for (int k = 0; k + 1 < K - 1; k++) s[k] = s[k + 1];
            s[K - 2] = x;
        }
    }
}

// ----------------------------------------------------------------------------- launchers

static ConvDev conv_dev(const ConvArgs *a) {
    ConvDev p;
    memset(&p, 0, sizeof p);
    p.B = a->B, p.L = a->L, p.D = a->D, p.K = (int)a->K, p.silu = a->silu;
    p.x = a->x, p.xsb = a->x_stride_b, p.xsl = a->x_stride_l;
    p.w = a->weight, p.bias = a->bias, p.state0 = a->state0;
    p.reset = a->reset, p.rsb = a->reset_stride_b, p.rsl = a->reset_stride_l;
    p.out = a->out, p.osb = a->out_stride_b, p.osl = a->out_stride_l;
    p.dout = a->dout, p.gsb = a->dout_stride_b, p.gsl = a->dout_stride_l;
    p.dstate_final = a->dstate_final;
    p.dx = a->dx, p.dxsb = a->dx_stride_b, p.dxsl = a->dx_stride_l;
    return p;
}

// 4 when every (B, L, D) view the op touches allows VEC-4 accesses (and K <= 4), else 1.
static int conv_vec(const ConvArgs *a, ConvOp op) {
    size_t es = dtype_size(a->dtype);
    if (a->D % 4 || a->K > 4) return 1;
    struct {
        const void *p;
        int64_t sb, sl;
    } v[3] = {{a->x, a->x_stride_b, a->x_stride_l},
              {op == CONV_OP_BWD ? (const void *)a->dout : (const void *)a->out,
               op == CONV_OP_BWD ? a->dout_stride_b : a->out_stride_b,
               op == CONV_OP_BWD ? a->dout_stride_l : a->out_stride_l},
              {op == CONV_OP_BWD ? (const void *)a->dx : NULL, a->dx_stride_b, a->dx_stride_l}};
    for (int i = 0; i < 3; i++)
        if (v[i].p && (v[i].sb % 4 || v[i].sl % 4 || !cuda_aligned(v[i].p, 4, es))) return 1;
    return 4;
}

extern "C" int conv_cuda_supported(const ConvArgs *a, ConvOp op) {
    (void)op;
    if (a->dtype != DTYPE_F32 && a->dtype != DTYPE_BF16)
        return ls_error(LS_ERR_UNSUPPORTED, "conv (cuda): dtype %d", (int)a->dtype);
    // grid.y = channel groups / 128 must stay <= 65535; grid.x = B · chunks <= 2^31 − 1
    if (a->D > (int64_t)65535 * CONV_THREADS)
        return ls_error(LS_ERR_UNSUPPORTED, "conv (cuda): D = %lld (at most %lld)",
                        (long long)a->D, (long long)65535 * CONV_THREADS);
    if (a->B * ((a->L + CONV_T_FWD - 1) / CONV_T_FWD) > 2147483647LL)
        return ls_error(LS_ERR_UNSUPPORTED,
                        "conv (cuda): B·L = %lld·%lld is more than 2^31 blocks of %d tokens",
                        (long long)a->B, (long long)a->L, CONV_T_FWD);
    return 0;
}

// Launch geometry for VEC channels per thread and T tokens per thread.
static void conv_grid(ConvDev *p, int vec, int64_t T, dim3 *grid, dim3 *block) {
    p->T = T;
    p->nchunk = (p->L + T - 1) / T;
    p->groups = p->D / vec;
    int threads = (int)(p->groups < CONV_THREADS ? (p->groups + 31) / 32 * 32 : CONV_THREADS);
    *block = dim3(threads);
    *grid = dim3((unsigned)(p->B * p->nchunk), (unsigned)((p->groups + threads - 1) / threads));
}

// K as a template constant for the widths models use (taps in registers), else generic.
template <typename T, int VEC>
static void conv_fwd_go(dim3 grid, dim3 block, cudaStream_t st, const ConvDev &p) {
    switch (p.K) {
    case 1: conv_fwd_kernel<T, VEC, 1><<<grid, block, 0, st>>>(p); break;
    case 2: conv_fwd_kernel<T, VEC, 2><<<grid, block, 0, st>>>(p); break;
    case 3: conv_fwd_kernel<T, VEC, 3><<<grid, block, 0, st>>>(p); break;
    case 4: conv_fwd_kernel<T, VEC, 4><<<grid, block, 0, st>>>(p); break;
    default: conv_fwd_kernel<T, 1, 0><<<grid, block, 0, st>>>(p); break;
    }
}

template <typename T, int VEC>
static void conv_bwd_go(dim3 grid, dim3 block, cudaStream_t st, const ConvDev &p, double *part) {
    switch (p.K) {
    case 1: conv_bwd_kernel<T, VEC, 1><<<grid, block, 0, st>>>(p, part); break;
    case 2: conv_bwd_kernel<T, VEC, 2><<<grid, block, 0, st>>>(p, part); break;
    case 3: conv_bwd_kernel<T, VEC, 3><<<grid, block, 0, st>>>(p, part); break;
    case 4: conv_bwd_kernel<T, VEC, 4><<<grid, block, 0, st>>>(p, part); break;
    default: conv_bwd_kernel<T, 1, 0><<<grid, block, 0, st>>>(p, part); break;
    }
}

template <typename T>
static int conv_fwd_launch(const ConvArgs *a) {
    int status = 0;
    cudaStream_t st = (cudaStream_t)a->stream;
    ConvDev p = conv_dev(a);
    int vec = conv_vec(a, CONV_OP_FWD);
    dim3 grid, block;
    conv_grid(&p, vec, CONV_T_FWD, &grid, &block);
    if (vec == 4)
        conv_fwd_go<T, 4>(grid, block, st, p);
    else
        conv_fwd_go<T, 1>(grid, block, st, p);
    CUDA_CHECK_LAUNCH();
    if (a->state_final && a->K > 1) {
        int64_t n = a->B * a->D;
        conv_state_kernel<T><<<(unsigned)(n / 256 + 1 < 8192 ? n / 256 + 1 : 8192), 256, 0,
                               st>>>(p, a->state_final);
        CUDA_CHECK_LAUNCH();
    }
fail:
    return status;
}

extern "C" int conv_fwd_cuda(const ConvArgs *a) {
    int rc = conv_args_check(a, CONV_OP_FWD);
    if (!rc) rc = conv_cuda_supported(a, CONV_OP_FWD);
    if (rc) return rc;
    return a->dtype == DTYPE_BF16 ? conv_fwd_launch<bf16>(a) : conv_fwd_launch<float>(a);
}

template <typename T>
static int conv_bwd_launch(const ConvArgs *a) {
    int status = 0;
    cudaStream_t st = (cudaStream_t)a->stream;
    ConvDev p = conv_dev(a);
    int vec = conv_vec(a, CONV_OP_BWD);
    dim3 grid, block;
    double *part = NULL, *sums = NULL;
    size_t part_bytes, sums_bytes;
    int64_t rows, cols = a->D * (a->K + 1), n = a->B * a->D;
    unsigned small_grid = (unsigned)(n / 256 + 1 < 8192 ? n / 256 + 1 : 8192);

    conv_grid(&p, vec, CONV_T_BWD, &grid, &block);
    rows = a->B * p.nchunk;
    part_bytes = cuda_align((size_t)rows * cols * sizeof(double));
    sums_bytes = cuda_align((size_t)cols * sizeof(double));
    if ((status = cuda_scratch(part_bytes + sums_bytes, (void **)&part,
                               "the conv backward's weight-gradient partial sums")))
        return status;
    sums = (double *)((char *)part + part_bytes);

    if (vec == 4)
        conv_bwd_go<T, 4>(grid, block, st, p, part);
    else
        conv_bwd_go<T, 1>(grid, block, st, p, part);
    CUDA_CHECK_LAUNCH();
    if ((status = cuda_colsum(part, rows, cols, sums, st))) goto fail;
    conv_wgrad_kernel<<<(unsigned)(cols / 256 + 1), 256, 0, st>>>(sums, a->D, (int)a->K,
                                                                   a->dweight, a->dbias);
    CUDA_CHECK_LAUNCH();
    if (a->dstate0 && a->K > 1) {
        conv_dstate0_kernel<T><<<small_grid, 256, 0, st>>>(p, a->dstate0);
        CUDA_CHECK_LAUNCH();
    }
fail:
    return status;
}

extern "C" int conv_bwd_cuda(const ConvArgs *a) {
    int rc = conv_args_check(a, CONV_OP_BWD);
    if (!rc) rc = conv_cuda_supported(a, CONV_OP_BWD);
    if (rc) return rc;
    return a->dtype == DTYPE_BF16 ? conv_bwd_launch<bf16>(a) : conv_bwd_launch<float>(a);
}

template <typename T>
static int conv_step_launch(const ConvArgs *a) {
    int status = 0;
    ConvDev p = conv_dev(a);
    int64_t n = a->B * a->D;
    conv_step_kernel<T><<<(unsigned)(n / 256 + 1 < 8192 ? n / 256 + 1 : 8192), 256, 0,
                          (cudaStream_t)a->stream>>>(p, a->state);
    CUDA_CHECK_LAUNCH();
fail:
    return status;
}

extern "C" int conv_step_cuda(const ConvArgs *a) {
    int rc = conv_args_check(a, CONV_OP_STEP);
    if (!rc) rc = conv_cuda_supported(a, CONV_OP_STEP);
    if (rc) return rc;
    return a->dtype == DTYPE_BF16 ? conv_step_launch<bf16>(a) : conv_step_launch<float>(a);
}
