/*
 * gen_step.cu — the fused generation step of a causal Mamba LM (kernels/gen_step.h):
 * gen_step_cuda, one kernel launch per step for up to GEN_STEP_LAYERS_PER_LAUNCH layers and
 * the head. Must match the unfused step (models/mamba.c mamba_layer_step, whose ops match
 * their CPU specifications); checked by tests/gpu/parity_gen_step.c (suite gen_step).
 *
 * Why one kernel on thread-block clusters. At batch 1 the unfused step is ~60 launches of tiny
 * kernels (~2.6 µs each inside a CUDA graph: the next kernel waits for the last block of the
 * previous one, then ramps up), while a layer's arithmetic is ~0.4 MFLOP a row and the whole
 * model's weights (5 MB bf16 for 6 × 256) sit in the 50 MB L2. The first fused step (e30fbd1:
 * 3-4 kernels a layer) cut the launches but its kernels were long dependent chains and ran
 * slower. Here a step is ONE launch: rows are independent in generation, so cluster g owns rows
 * [g·RP, (g+1)·RP) and never waits for another cluster; inside a cluster the C CTAs (16 with
 * the non-portable size where the GPU allows it, else 8) split each projection's work and meet
 * at cluster barriers (barrier.cluster arrive.release / wait.acquire: a hardware barrier over
 * ≤ 16 SMs, no grid-wide sync, no atomics). CTA k owns channels [k·Ec, (k+1)·Ec) of d_inner and
 * columns [k·Dc, (k+1)·Dc) of d_model. Per layer:
 *   A. every CTA reads its rows of X (global, L2) and normalizes them itself (D is small);
 *   B. in_proj for its channels' x and z columns, the conv step + SiLU of its channels → u, z
 *      stay in its shared memory (their owner is the only reader: no barrier);
 *   C. x_proj partial sums over its channels for all W = dt_rank + 2N outputs → shared memory;
 *      cluster barrier 1;
 *   D. dt | B | C of each row = the sum of the C partials, read through distributed shared
 *      memory in rank order (every CTA gets the same bits);
 *   E. dt_proj + softplus + scan step + D skip + SiLU(z) gate for its channels → y (global);
 *      cluster barrier 2;
 *   F. out_proj for its d_model columns over all of y, + residual, into X; cluster barrier 3.
 * Then the head: each CTA normalizes its rows again (fp32) and computes its slice of the V
 * logits columns. 3 barriers a layer, 18 for 6 layers, against ~60 kernel boundaries.
 *
 * Projections. A warp computes CU columns × RP rows at once: the lanes split the reduction in
 * 16-byte weight vectors (8 bf16 or 4 fp32, coalesced; each weight used for every row of the
 * cluster, the rows' inputs in shared memory), CU·RP fp32 partials a lane, then one
 * butterfly-then-transpose reduction leaves value i in lane i, so the epilogues (the conv step,
 * the residual add) run in up to 32 lanes side by side. Shapes whose rows are not 16-byte
 * aligned take a scalar path (same order of work, elementwise loads).
 *
 * Numerics: the norm (double sums, lane order d = lane + 32·j, butterfly), the conv (rn_
 * arithmetic), the scan step (exp2 of the same product, even/odd partial sums of C·h) and the
 * residual add are the unfused kernels' formulas; with act = bf16 every activation is rounded
 * to bf16 where the unfused path stores a bf16 tensor. Only the projections sum in another
 * order than cuBLAS (fp32 logits agree to fp32 rounding, ~1e-6 relative, not bit for bit).
 */
#include <cooperative_groups.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_math.cuh"
#include "common/log.h"
#include "kernels/gen_step.h"

namespace cg = cooperative_groups;

#define GS_WARPS 8 // warps per CTA (256 threads)
#define GS_THREADS (GS_WARPS * 32)
#define GS_SMEM_MAX (200 * 1024) // dynamic shared memory limit set once (worst shape ~104 KB)

// ----------------------------------------------------------------------------- scalar helpers

// The scan step's scalar math, as kernels/cuda/scan.cu writes it (step_kernel).
constexpr float GS_LOG2E = 1.4426950408889634f;
__device__ __forceinline__ float gs_ex2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}
__device__ __forceinline__ float gs_softplus(float x) { return x > 20.0f ? x : log1pf(expf(x)); }
__device__ __forceinline__ float gs_sigmoid(float x) {
    return __fdividef(1.0f, 1.0f + __expf(-x));
}

// A value as the unfused path would store it in an activation of type T.
__device__ __forceinline__ float act_round(float v, const float *) { return v; }
__device__ __forceinline__ float act_round(float v, const bf16 *) {
    return __bfloat162float(__float2bfloat16_rn(v));
}
template <typename T> __device__ __forceinline__ float act(float v) {
    return act_round(v, (const T *)nullptr);
}

// Loads of what another CTA of the cluster wrote in this launch (X, y): from L2 (.cg), never
// a stale L1 line; the cluster barrier's release/acquire orders them.
__device__ __forceinline__ float ld_l2(const float *p) { return __ldcg(p); }
__device__ __forceinline__ float ld_l2(const bf16 *p) { return __bfloat162float(__ldcg(p)); }

// VEC = 16 / sizeof(T) weights from a 16-byte aligned address, as fp32.
__device__ __forceinline__ void ld_vec(float (&f)[4], const float *p) {
    const float4 q = __ldg((const float4 *)p);
    f[0] = q.x, f[1] = q.y, f[2] = q.z, f[3] = q.w;
}
__device__ __forceinline__ void ld_vec(float (&f)[8], const bf16 *p) {
    const uint4 q = __ldg((const uint4 *)p);
    const unsigned w[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
    for (int i = 0; i < 4; i++) { // little endian: the lower half is the earlier element
        f[2 * i] = __uint_as_float(w[i] << 16);
        f[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
    }
}

/*
 * M (a power of two ≤ 32) partial sums a lane → lane l holds Σ over the 32 lanes of value
 * l mod M. First a butterfly over the lane bits ≥ M (every value summed across them), then a
 * transpose over the bits < M: at offset o a lane keeps one half of its 2o values and adds its
 * partner's copy of that half, so value i ends in the lanes whose low bits are i. M − 1 +
 * M·(5 − log2 M) shuffles instead of 5·M for a butterfly per value.
 */
template <int M> __device__ __forceinline__ float gs_warp_reduce(float (&v)[M], int lane) {
    constexpr int LOG_M = M >= 32 ? 5 : M >= 16 ? 4 : M >= 8 ? 3 : M >= 4 ? 2 : M >= 2 ? 1 : 0;
    // (loops over the exponent with constant bounds: fully unrolled, v stays in registers)
#pragma unroll
    for (int e = 4; e >= LOG_M; e--) {
#pragma unroll
        for (int i = 0; i < M; i++) v[i] += __shfl_xor_sync(0xffffffffu, v[i], 1 << e);
    }
#pragma unroll
    for (int e = LOG_M - 1; e >= 0; e--) {
        const int o = 1 << e;
        const bool upper = (lane & o) != 0;
#pragma unroll
        for (int i = 0; i < M / 2; i++) {
            if (i >= o) break;
            const float lo = v[i], hi = v[i + o];
            const float send = upper ? lo : hi, keep = upper ? hi : lo;
            v[i] = keep + __shfl_xor_sync(0xffffffffu, send, o);
        }
    }
    return v[0];
}

/*
 * out(c, r) = Σ_k w[row_of(c)·ldw + koff + k] · xin[r·xstride + k] for columns c < ncols and
 * rows r < nr (≤ RP), k < K; epi(c, r, sum) for each, called by one lane. Warps take tiles of
 * CU columns. vec: every weight row slice and xin row is 16-byte aligned and K % VEC == 0 (the
 * caller checks once), then the lanes load 16-byte vectors k = (lane + 32·i)·VEC; else
 * elementwise k = lane + 32·i.
 */
template <int RP, typename TW, typename RowOf, typename Epi>
__device__ __forceinline__ void gs_proj(const TW *__restrict__ w, RowOf row_of, int ncols,
                                        int64_t ldw, int64_t koff, int K, bool vec,
                                        const float *xin, int xstride, int nr, Epi epi) {
    constexpr int CU = RP >= 8 ? 4 : 8; // columns a warp computes at once
    constexpr int M = CU * RP;
    constexpr int VEC = 16 / (int)sizeof(TW);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    for (int c0 = warp * CU; c0 < ncols; c0 += GS_WARPS * CU) {
        float acc[M];
#pragma unroll
        for (int i = 0; i < M; i++) acc[i] = 0.0f;
        const TW *wp[CU];
        bool cv[CU];
#pragma unroll
        for (int cu = 0; cu < CU; cu++) {
            cv[cu] = c0 + cu < ncols;
            wp[cu] = w + (int64_t)row_of(cv[cu] ? c0 + cu : c0) * ldw + koff;
        }
        if (vec) {
            for (int k = lane * VEC; k < K; k += 32 * VEC) {
                float wv[CU][VEC];
#pragma unroll
                for (int cu = 0; cu < CU; cu++) {
                    if (cv[cu]) {
                        ld_vec(wv[cu], wp[cu] + k);
                    } else {
#pragma unroll
                        for (int i = 0; i < VEC; i++) wv[cu][i] = 0.0f;
                    }
                }
#pragma unroll
                for (int r = 0; r < RP; r++) {
                    // rows past nr read row 0 again (in bounds) and their sums are dropped
                    const int rr = r < nr ? r : 0;
                    float xv[VEC];
#pragma unroll
                    for (int i = 0; i < VEC; i += 4) {
                        const float4 q = *(const float4 *)(xin + rr * xstride + k + i);
                        xv[i] = q.x, xv[i + 1] = q.y, xv[i + 2] = q.z, xv[i + 3] = q.w;
                    }
#pragma unroll
                    for (int cu = 0; cu < CU; cu++)
#pragma unroll
                        for (int i = 0; i < VEC; i++)
                            acc[cu * RP + r] = fmaf(wv[cu][i], xv[i], acc[cu * RP + r]);
                }
            }
        } else {
            for (int k = lane; k < K; k += 32) {
                float wv[CU];
#pragma unroll
                for (int cu = 0; cu < CU; cu++) wv[cu] = cv[cu] ? ld(wp[cu] + k) : 0.0f;
#pragma unroll
                for (int r = 0; r < RP; r++) {
                    const float x = xin[(r < nr ? r : 0) * xstride + k];
#pragma unroll
                    for (int cu = 0; cu < CU; cu++)
                        acc[cu * RP + r] = fmaf(wv[cu], x, acc[cu * RP + r]);
                }
            }
        }
        const float s = gs_warp_reduce<M>(acc, lane);
        const int i = lane & (M - 1), cu = i / RP, r = i % RP;
        if (lane < M && c0 + cu < ncols && r < nr) epi(c0 + cu, r, s);
    }
}

/*
 * Ask L1 for the weight slices a phase will read (rows row_of(0..nrows) of ldw elements, from
 * koff, K long): they are constant during the step, so issuing this at the top of a layer lets
 * their lines stream in while the norm and the barriers run, and the phase's loads after a
 * barrier hit L1 instead of waiting a round trip to L2. A hint: no effect on results.
 */
template <typename TW, typename RowOf>
__device__ __forceinline__ void gs_prefetch(const TW *w, RowOf row_of, int nrows, int64_t ldw,
                                            int64_t koff, int K) {
    const int64_t bytes = (int64_t)K * (int64_t)sizeof(TW);
    if (bytes <= 0) return;
    const int lines = (int)((bytes + 127) / 128) + 1; // + 1: the slice need not start on a line
    for (int i = threadIdx.x; i < nrows * lines; i += GS_THREADS) {
        const int r = i / lines, q = i % lines;
        const int64_t off = (int64_t)q * 128 < bytes ? (int64_t)q * 128 : bytes - 1;
        const char *a = (const char *)(w + (int64_t)row_of(r) * ldw + koff) + off;
        asm volatile("prefetch.global.L1 [%0];" ::"l"(a));
    }
}

/*
 * Rows [b0, b0 + nr) normalized into xs (row stride xstride), one warp a row: norm_fwd_kernel's
 * statistics lane for lane (double sums over d = lane + 32·j, fixed butterfly). TA: the type
 * the unfused path holds the norm's input and output in (the layer's act; fp32 for the head).
 */
template <typename TA>
__device__ void gs_norm_rows(float *xs, int xstride, const float *X, const uint8_t *tokens,
                             const float *embed, int64_t b0, int nr, int D, const float *nw,
                             const float *nb, int layer_norm, float eps) {
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    for (int r = warp; r < nr; r += GS_WARPS) {
        const int64_t b = b0 + r;
        float *row = xs + r * xstride;
        double s1 = 0.0;
        if (tokens) {
            const float *src = embed + (int64_t)tokens[b] * D;
            for (int d = lane; d < D; d += 32) {
                const float v = act<TA>(src[d]);
                row[d] = v;
                s1 += layer_norm ? (double)v : (double)v * v;
            }
        } else {
            const float *src = X + b * D;
            for (int d = lane; d < D; d += 32) {
                const float v = act<TA>(ld_l2(src + d));
                row[d] = v;
                s1 += layer_norm ? (double)v : (double)v * v;
            }
        }
        float muf = 0.0f, rs;
        if (layer_norm) {
            const double mu = warp_sum(s1) / (double)D;
            double var = 0.0;
            for (int d = lane; d < D; d += 32) {
                const double c = (double)row[d] - mu;
                var += c * c;
            }
            var = warp_sum(var);
            muf = (float)mu, rs = (float)(1.0 / sqrt(var / (double)D + eps));
        } else {
            rs = (float)(1.0 / sqrt(warp_sum(s1) / (double)D + eps));
        }
        for (int d = lane; d < D; d += 32) {
            const float h = row[d];
            const float y = layer_norm ? rn_add(rn_mul(rn_mul(rn_sub(h, muf), rs), nw[d]),
                                                nb ? nb[d] : 0.0f)
                                       : rn_mul(rn_mul(h, rs), nw[d]);
            row[d] = act<TA>(y);
        }
    }
}

// ----------------------------------------------------------------------------- the step

struct GsLayerDev {
    const float *norm_w, *norm_b;
    const void *in_w;
    const float *conv_w, *conv_b;
    const void *x_w, *dt_w;
    const float *dt_b, *A, *Dsk;
    const void *out_w;
    float *state; // conv (B, E, K−1) then scan (B, E, N)
};

struct GsStepDev {
    int B, D, E, N, K, R, W, n_layers, layer_norm;
    int Ec, Dc, Vc; // channels, d_model columns, logits columns per CTA
    int KX, Wp;     // shared-memory row strides (multiples of 4)
    int vec_in, vec_x, vec_out, vec_head; // 16-byte paths usable (gs_proj)
    int prefetch;                         // gs_prefetch the weights (LS_GEN_STEP_PREFETCH=0: no)
    float eps;
    float *X;              // (B, D) residual stream
    const uint8_t *tokens; // layer 0's input rows: embed[tokens[b]], or NULL (X)
    const float *embed;
    void *y;               // (B, E) act
    GsLayerDev L[GEN_STEP_LAYERS_PER_LAUNCH];
    int head, head_layer_norm, V;
    float head_eps;
    const float *head_norm_w, *head_norm_b, *head_w;
    float *logits; // (B, V)
};

template <int RP, typename TA>
__global__ void __launch_bounds__(GS_THREADS, 1)
    gen_step_kernel(const __grid_constant__ GsStepDev p) {
    extern __shared__ __align__(16) float smem[];
    cg::cluster_group cluster = cg::this_cluster();
    const int C = (int)cluster.num_blocks(), rank = (int)cluster.block_rank();
    const int64_t b0 = (int64_t)(blockIdx.x / C) * RP;
    const int nr = p.B - b0 < RP ? (int)(p.B - b0) : RP;
    const int D = p.D, E = p.E, N = p.N, R = p.R, W = p.W, Ec = p.Ec, Wp = p.Wp, KX = p.KX;
    float *xs = smem;               // (RP, KX): normalized rows, then y rows
    float *u_loc = xs + RP * KX;    // (RP, Ec): this CTA's channels of u
    float *z_loc = u_loc + RP * Ec; // (RP, Ec): and of z
    float *xpart = z_loc + RP * Ec; // (RP, Wp): x_proj partial sums over this CTA's channels
    float *dbl = xpart + RP * Wp;   // (RP, Wp): dt | B | C, the cluster's sum
    const int e0 = rank * Ec, ne = E - e0 < 0 ? 0 : E - e0 < Ec ? E - e0 : Ec;
    const int d0 = rank * p.Dc, nd = D - d0 < 0 ? 0 : D - d0 < p.Dc ? D - d0 : p.Dc;
    const int tid = threadIdx.x;

    for (int l = 0; l < p.n_layers; l++) {
        const GsLayerDev &w = p.L[l];
        const uint8_t *tokens = l == 0 ? p.tokens : nullptr;
        auto in_row = [=](int c) { return c < ne ? e0 + c : E + e0 + (c - ne); };
        if (p.prefetch) {
            gs_prefetch((const TA *)w.in_w, in_row, 2 * ne, D, 0, D);
            gs_prefetch((const TA *)w.x_w, [](int c) { return c; }, W, E, e0, ne);
            gs_prefetch((const TA *)w.out_w, [=](int c) { return d0 + c; }, nd, E, 0, E);
        }
        // A. the rows, normalized
        gs_norm_rows<TA>(xs, KX, p.X, tokens, p.embed, b0, nr, D, w.norm_w, w.norm_b,
                         p.layer_norm, p.eps);
        __syncthreads();
        // B. in_proj: x columns of channels [e0, e0 + ne), then their z columns
        const int K = p.K;
        gs_proj<RP>(
            (const TA *)w.in_w, in_row, 2 * ne, D, 0, D, p.vec_in, xs, KX, nr,
            [&](int c, int r, float v) {
                const float x = act<TA>(v); // the in_proj output as the unfused xz holds it
                if (c >= ne) {
                    z_loc[r * Ec + (c - ne)] = x;
                    return;
                }
                // conv_step_kernel's arithmetic for channel e, then SiLU (conv_act)
                const int64_t e = e0 + c, b = b0 + r;
                const float *cw = w.conv_w + e * K;
                float *s = K > 1 ? w.state + (b * E + e) * (K - 1) : nullptr;
                float acc = w.conv_b ? w.conv_b[e] : 0.0f;
                for (int k = 0; k < K - 1; k++) acc = rn_add(acc, rn_mul(cw[k], s[k]));
                acc = rn_add(acc, rn_mul(cw[K - 1], x));
                u_loc[r * Ec + c] = act<TA>(rn_mul(acc, sigmoid_spec(acc)));
                if (K > 1) {
                    for (int k = 0; k + 1 < K - 1; k++) s[k] = s[k + 1];
                    s[K - 2] = x;
                }
            });
        __syncthreads();
        // C. x_proj partials over this CTA's channels (zeros where it has none)
        if (ne == 0) {
            for (int i = tid; i < nr * Wp; i += GS_THREADS) xpart[i] = 0.0f;
        } else {
            gs_proj<RP>(
                (const TA *)w.x_w, [](int c) { return c; }, W, E, e0, ne, p.vec_x, u_loc, Ec,
                nr, [&](int c, int r, float v) { xpart[r * Wp + c] = v; });
        }
        cluster.sync(); // 1: every CTA's partials
        // D. dt | B | C = Σ over the ranks in rank order (the same bits in every CTA)
        for (int i = tid; i < nr * W; i += GS_THREADS) {
            const int r = i / W, c = i % W;
            float s = 0.0f;
#pragma unroll 8
            for (int q = 0; q < C; q++) s += cluster.map_shared_rank(xpart, q)[r * Wp + c];
            dbl[r * Wp + c] = act<TA>(s);
        }
        __syncthreads();
        // E. dt_proj, softplus, scan step, D skip, SiLU(z) gate of this CTA's channels → y
        float *ssm = w.state + (int64_t)p.B * E * (K - 1);
        for (int i = tid; i < nr * ne; i += GS_THREADS) {
            const int r = i / ne, j = i % ne;
            const int64_t e = e0 + j, b = b0 + r;
            const float *db = dbl + r * Wp;
            const TA *dw = (const TA *)w.dt_w + e * R;
            float delta = 0.0f;
            for (int q = 0; q < R; q++) delta = fmaf(db[q], ld(dw + q), delta);
            delta = act<TA>(delta);
            const float dt = gs_softplus(delta + (w.dt_b ? w.dt_b[e] : 0.0f));
            // scan.cu step_kernel, term for term
            const float u = u_loc[r * Ec + j];
            const float dtu = dt * u;
            float *h = ssm + (b * E + e) * N;
            float y2[2] = {0.0f, 0.0f};
            for (int n = 0; n < N; n++) {
                const float hn = fmaf(gs_ex2(dt * (w.A[e * N + n] * GS_LOG2E)), h[n],
                                      dtu * db[R + n]);
                h[n] = hn;
                y2[n & 1] = fmaf(db[R + N + n], hn, y2[n & 1]);
            }
            float y = y2[0] + y2[1];
            if (w.Dsk) y += w.Dsk[e] * u;
            const float zz = z_loc[r * Ec + j];
            y *= zz * gs_sigmoid(zz);
            st((TA *)p.y + b * E + e, y);
        }
        cluster.sync(); // 2: all of y
        // F. out_proj columns [d0, d0 + nd) over all of y, + the residual
        for (int i = tid; i < nr * E; i += GS_THREADS) {
            const int r = i / E, k = i % E;
            xs[r * KX + k] = ld_l2((const TA *)p.y + (b0 + r) * E + k);
        }
        __syncthreads();
        gs_proj<RP>(
            (const TA *)w.out_w, [=](int c) { return d0 + c; }, nd, E, 0, E, p.vec_out, xs, KX,
            nr, [&](int c, int r, float v) {
                const int64_t b = b0 + r, col = d0 + c;
                const float in = tokens ? p.embed[(int64_t)tokens[b] * D + col]
                                        : ld_l2(p.X + b * D + col);
                __stcg(p.X + b * D + col, rn_add(in, act<TA>(v)));
            });
        cluster.sync(); // 3: all of X
    }
    if (!p.head) return;
    // the head: final norm (fp32) + logits columns [rank·Vc, +Vc)
    const int v0 = rank * p.Vc, nv = p.V - v0 < 0 ? 0 : p.V - v0 < p.Vc ? p.V - v0 : p.Vc;
    if (p.prefetch) gs_prefetch(p.head_w, [=](int c) { return v0 + c; }, nv, D, 0, D);
    gs_norm_rows<float>(xs, KX, p.X, nullptr, nullptr, b0, nr, D, p.head_norm_w, p.head_norm_b,
                        p.head_layer_norm, p.head_eps);
    __syncthreads();
    gs_proj<RP>(
        p.head_w, [=](int c) { return v0 + c; }, nv, D, 0, D, p.vec_head, xs, KX, nr,
        [&](int c, int r, float v) { p.logits[(b0 + r) * p.V + v0 + c] = v; });
}

// ----------------------------------------------------------------------------- launchers

static int cdiv(int64_t a, int64_t b) { return (int)((a + b - 1) / b); }
static int round_up(int a, int m) { return (a + m - 1) / m * m; }

// f(Rows<RP>()) for RP in 1, 2, 4, 8 (the kernel's rows per cluster, a template constant).
template <int V> struct Rows {
    static constexpr int value = V;
};
template <typename F> static int with_rows(int RP, F f) {
    switch (RP) {
    case 1: return f(Rows<1>());
    case 2: return f(Rows<2>());
    case 4: return f(Rows<4>());
    default: return f(Rows<8>());
    }
}

static int g_prepared; // one host thread drives generation (cuda_common.cuh's rule)
static int g_cluster = 16; // LS_GEN_STEP_CLUSTER=8 in the environment: portable clusters
static int g_prefetch = 1; // LS_GEN_STEP_PREFETCH=0: no L1 prefetch of the weights (compare)

template <int RP, typename TA> static int prepare_one(void) {
    int status = 0;
    CUDA_RT(cudaFuncSetAttribute(gen_step_kernel<RP, TA>,
                                 cudaFuncAttributeMaxDynamicSharedMemorySize, GS_SMEM_MAX));
    CUDA_RT(cudaFuncSetAttribute(gen_step_kernel<RP, TA>,
                                 cudaFuncAttributeNonPortableClusterSizeAllowed, 1));
fail:
    return status;
}

// Keep in step with the kernel: shared-memory rows of at most GEN_STEP_MAX_K (D, E) and
// GEN_STEP_MAX_W (dt_rank + 2N) values, a positive conv width.
extern "C" int gen_step_cuda_supported(const GenStepLayer *a) {
    if (a->act != DTYPE_F32 && a->act != DTYPE_BF16)
        return ls_error(LS_ERR_UNSUPPORTED, "fused generation step: activation type %d", a->act);
    if (a->D < 1 || a->D > GEN_STEP_MAX_K || a->E < 1 || a->E > GEN_STEP_MAX_K)
        return ls_error(LS_ERR_UNSUPPORTED, "fused generation step: d_model %lld, d_inner %lld "
                        "(1..%d each)", (long long)a->D, (long long)a->E, GEN_STEP_MAX_K);
    if (a->N < 1 || a->R < 1 || a->R + 2 * a->N > GEN_STEP_MAX_W || a->K < 1)
        return ls_error(LS_ERR_UNSUPPORTED, "fused generation step: d_state %lld, dt_rank %lld, "
                        "d_conv %lld (dt_rank + 2·d_state <= %d, d_conv >= 1)", (long long)a->N,
                        (long long)a->R, (long long)a->K, GEN_STEP_MAX_W);
    if (a->B > (INT64_C(1) << 24))
        return ls_error(LS_ERR_UNSUPPORTED, "fused generation step: batch %lld (<= 2^24)",
                        (long long)a->B);
    return 0;
}

static bool aligned16(const void *p) { return ((uintptr_t)p & 15) == 0; }

// Whether the 16-byte path of gs_proj holds for weights w (rows of ldw elements of size es,
// slices from koff, K long): every slice start 16-byte aligned and K a multiple of the vector.
static int vec_ok(const void *w, int64_t ldw, int64_t koff, int64_t K, size_t es) {
    const int64_t vec = 16 / (int64_t)es;
    return aligned16(w) && ldw % vec == 0 && koff % vec == 0 && K % vec == 0;
}

// The launch configuration of `clusters` clusters of C CTAs with RP rows each; attr (the
// cluster dimension) must outlive cfg's use.
template <int RP>
static cudaLaunchConfig_t cluster_config(const GsStepDev &p, int C, int64_t clusters,
                                         cudaStream_t s, cudaLaunchAttribute *attr) {
    attr->id = cudaLaunchAttributeClusterDimension;
    attr->val.clusterDim.x = (unsigned)C, attr->val.clusterDim.y = 1;
    attr->val.clusterDim.z = 1;
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3((unsigned)(clusters * C)), cfg.blockDim = dim3(GS_THREADS);
    cfg.dynamicSmemBytes = (size_t)RP * (p.KX + 2 * p.Ec + 2 * p.Wp) * sizeof(float);
    cfg.stream = s, cfg.attrs = attr, cfg.numAttrs = 1;
    return cfg;
}

template <int RP, typename TA> static int step_launch(GsStepDev &p, int C, cudaStream_t s) {
    int status = 0;
    cudaLaunchAttribute attr;
    const cudaLaunchConfig_t cfg = cluster_config<RP>(p, C, cdiv(p.B, RP), s, &attr);
    CUDA_RT(cudaLaunchKernelEx(&cfg, gen_step_kernel<RP, TA>, p));
    CUDA_CHECK_LAUNCH();
fail:
    return status;
}

// How many clusters of C CTAs (RP rows each) can run at once; 0 if none fits.
template <int RP, typename TA> static int max_clusters(const GsStepDev &p, int C) {
    cudaLaunchAttribute attr;
    const cudaLaunchConfig_t cfg = cluster_config<RP>(p, C, 1, nullptr, &attr);
    int n = 0;
    if (cudaOccupancyMaxActiveClusters(&n, gen_step_kernel<RP, TA>, &cfg) != cudaSuccess) {
        (void)cudaGetLastError(); // not sticky: the answer is "none"
        return 0;
    }
    return n;
}

// The shared-memory row strides and the x_proj width of a layer's shape.
static void step_dims(GsStepDev &p, const GenStepLayer *a) {
    p.B = (int)a->B, p.D = (int)a->D, p.E = (int)a->E, p.N = (int)a->N, p.K = (int)a->K;
    p.R = (int)a->R, p.W = (int)(a->R + 2 * a->N);
    p.KX = round_up(p.D > p.E ? p.D : p.E, 4), p.Wp = round_up(p.W, 4);
}

// The launch plan of a shape, computed once (the occupancy queries are not free) and reused
// while the shape stays (generation runs the same shape step after step).
typedef struct {
    int64_t B, D, E, W;
    DType act;
    int C, RP;
} GsPlan;
static GsPlan g_plan;

static int plan_matches(int64_t B, int64_t D, int64_t E, int64_t W, DType act) {
    return g_plan.C && g_plan.B == B && g_plan.D == D && g_plan.E == E && g_plan.W == W &&
           g_plan.act == act;
}

/*
 * The plan: the largest cluster (16, then 8: more SMs share a row's weights) and the fewest rows
 * per cluster whose clusters all run in one wave (cudaOccupancyMaxActiveClusters: a cluster of
 * 16 needs 16 free SMs of one GPC, so an H100 may hold only 7 or 8 of them while it holds 16
 * clusters of 8). If no plan fits in one wave (large B), the largest clusters of 8 rows run in
 * several waves.
 */
template <typename TA> static int step_plan(const GsStepDev &p) {
    int best_C = 0, best_RP = 0;
    for (int C = g_cluster; C >= 8; C /= 2) {
        for (int RP = 1; RP <= 8; RP *= 2) {
            GsStepDev q = p;
            q.Ec = round_up(cdiv(p.E, C), 8);
            const int fit = with_rows(RP, [&](auto rp) {
                return max_clusters<decltype(rp)::value, TA>(q, C);
            });
            if (fit < 1) break; // more rows only need more shared memory
            if (!best_C && RP == 8) best_C = C, best_RP = 8; // several waves, if nothing better
            if (cdiv(p.B, RP) <= fit) {
                best_C = C, best_RP = RP;
                goto chosen;
            }
        }
    }
    if (!best_C)
        return ls_error(LS_ERR_UNSUPPORTED, "fused generation step: no cluster of 8 or 16 CTAs "
                        "of %d threads fits this GPU (d_model %d, d_inner %d)", GS_THREADS, p.D,
                        p.E);
chosen:
    g_plan.B = p.B, g_plan.D = p.D, g_plan.E = p.E, g_plan.W = p.W;
    g_plan.act = sizeof(TA) == 2 ? DTYPE_BF16 : DTYPE_F32;
    g_plan.C = best_C, g_plan.RP = best_RP;
    ls_log_debug("fused generation step: B %d in clusters of %d CTAs, %d rows each", p.B,
                 best_C, best_RP);
    return 0;
}

template <typename TA>
static int step_cuda(const GenStepLayer *layers, int n_layers, const GenStepHead *head) {
    const GenStepLayer *a = &layers[0];
    GsStepDev p = {};
    step_dims(p, a);
    p.n_layers = n_layers, p.layer_norm = a->layer_norm, p.eps = a->eps;
    p.X = a->X, p.tokens = a->tokens, p.embed = a->embed, p.y = a->y;
    const int C = g_plan.C, RP = g_plan.RP;
    p.Ec = round_up(cdiv(p.E, C), 8), p.Dc = cdiv(p.D, C);
    p.vec_in = p.vec_x = p.vec_out = 1, p.prefetch = g_prefetch;
    for (int l = 0; l < n_layers; l++) {
        const GenStepLayer *q = &layers[l];
        p.L[l] = GsLayerDev{q->norm_w, q->layer_norm ? q->norm_b : nullptr, q->in_w,
                            q->conv_w, q->conv_b, q->x_w, q->dt_w, q->dt_b, q->A, q->D_skip,
                            q->out_w, q->state};
        p.vec_in &= vec_ok(q->in_w, p.D, 0, p.D, sizeof(TA));
        // x_proj slices start at e0 = rank·Ec (a multiple of 8); the last may be shorter
        p.vec_x &= vec_ok(q->x_w, p.E, 0, p.Ec, sizeof(TA)) && p.E % (16 / sizeof(TA)) == 0;
        p.vec_out &= vec_ok(q->out_w, p.E, 0, p.E, sizeof(TA));
    }
    // the shared-memory rows the 16-byte path reads: KX, Ec are multiples of 4
    if (head) {
        p.head = 1, p.head_layer_norm = head->layer_norm, p.head_eps = head->eps;
        p.V = (int)head->V, p.Vc = cdiv(head->V, C);
        p.head_norm_w = head->norm_w, p.head_norm_b = head->layer_norm ? head->norm_b : nullptr;
        p.head_w = head->w, p.logits = head->logits;
        p.vec_head = vec_ok(head->w, p.D, 0, p.D, sizeof(float));
    }
    cudaStream_t s = cuda_stream(a->stream);
    return with_rows(RP, [&](auto rp) { return step_launch<decltype(rp)::value, TA>(p, C, s); });
}

extern "C" int gen_step_cuda(const GenStepLayer *layers, int n_layers, const GenStepHead *head) {
    if (!layers || n_layers < 1 || n_layers > GEN_STEP_LAYERS_PER_LAUNCH)
        return ls_error(LS_ERR_USAGE, "gen_step_cuda: %d layers (1..%d)", n_layers,
                        GEN_STEP_LAYERS_PER_LAUNCH);
    const GenStepLayer *a = &layers[0];
    int status = gen_step_cuda_supported(a);
    if (status < 0) return status;
    for (int l = 0; l < n_layers; l++) {
        const GenStepLayer *q = &layers[l];
        if (q->B != a->B || q->D != a->D || q->E != a->E || q->N != a->N || q->K != a->K ||
            q->R != a->R || q->act != a->act || q->layer_norm != a->layer_norm ||
            q->eps != a->eps || q->X != a->X || q->y != a->y || (l > 0 && q->tokens))
            return ls_error(LS_ERR_USAGE, "gen_step_cuda: layer %d differs from layer 0 in "
                            "shape, norm, X or y (or has tokens)", l);
        if (a->B < 1 || !q->X || (q->tokens && !q->embed) || !q->norm_w || !q->in_w ||
            !q->conv_w || !q->x_w || !q->dt_w || !q->A || !q->out_w || !q->state || !q->y)
            return ls_error(LS_ERR_USAGE, "gen_step_cuda: layer %d: B %lld or a NULL pointer", l,
                            (long long)a->B);
    }
    if (head && (head->B != a->B || head->D != a->D || head->V < 1 || head->X != a->X ||
                 !head->norm_w || !head->w || !head->logits))
        return ls_error(LS_ERR_USAGE, "gen_step_cuda: the head's B %lld, d_model %lld, vocab "
                        "%lld, X or a NULL pointer", (long long)head->B, (long long)head->D,
                        (long long)head->V);
    if (!plan_matches(a->B, a->D, a->E, a->R + 2 * a->N, a->act))
        return ls_error(LS_ERR_USAGE, "gen_step_cuda: gen_step_prepare_cuda for this shape "
                        "first (B %lld, d_model %lld)", (long long)a->B, (long long)a->D);
    return a->act == DTYPE_BF16 ? step_cuda<bf16>(layers, n_layers, head)
                                : step_cuda<float>(layers, n_layers, head);
}

extern "C" int gen_step_prepare_cuda(const GenStepLayer *a) {
    int status = gen_step_cuda_supported(a);
    if (status < 0) return status;
    if (a->B < 1) return ls_error(LS_ERR_USAGE, "gen_step_prepare_cuda: B %lld", (long long)a->B);
    if (!g_prepared) {
        const char *cl = getenv("LS_GEN_STEP_CLUSTER");
        g_cluster = cl && strcmp(cl, "8") == 0 ? 8 : 16;
        const char *pf = getenv("LS_GEN_STEP_PREFETCH");
        g_prefetch = !(pf && strcmp(pf, "0") == 0);
        for (int RP = 1; RP <= 8 && status == 0; RP *= 2)
            status = with_rows(RP, [&](auto rp) {
                constexpr int RPc = decltype(rp)::value;
                int s = prepare_one<RPc, float>();
                return s == 0 ? prepare_one<RPc, bf16>() : s;
            });
        if (status < 0) return status;
        g_prepared = 1;
    }
    if (plan_matches(a->B, a->D, a->E, a->R + 2 * a->N, a->act)) return 0;
    GsStepDev p = {};
    step_dims(p, a);
    g_plan.C = 0;
    return a->act == DTYPE_BF16 ? step_plan<bf16>(p) : step_plan<float>(p);
}
