/*
 * gen_step.cu — the fused generation step of a causal Mamba LM (kernels/gen_step.h):
 * gen_step_layer_cuda, gen_step_head_cuda. Must match the unfused step (models/mamba.c
 * mamba_layer_step, whose ops match their CPU specifications); checked by
 * tests/gpu/parity_gen_step.c (suite gen_step of test_gpu).
 *
 * Why this split. At batch 1 the unfused step is ~60 launches of tiny kernels: inside a CUDA
 * graph each kernel boundary still costs ~2 µs (the next kernel waits for the last block of
 * the previous one, then ramps up), while the arithmetic of a layer is ~0.4 MFLOP per row and
 * its weights (~1.6 MB fp32) sit in the 50 MB L2. So the step is latency-bound, and the count
 * of boundaries is what to minimise. A boundary is needed wherever every output depends on a
 * whole row that other blocks produce:
 *   - in_proj needs the whole normalized row (D values): one boundary after the previous
 *     layer's out_proj. The norm itself is cheap (D = 256), so every block of the in_proj
 *     kernel recomputes it for all B rows (with the unfused norm's sums, lane for lane) rather
 *     than paying a kernel for it. The conv step is per channel: the block that computes
 *     column c of x also steps channel c's conv and applies SiLU, so u leaves this kernel.
 *   - x_proj needs all E channels of u: one boundary. At small B (≤ GEN_STEP_XPROJ_INLINE_ROWS)
 *     the scan kernel's blocks each compute x_proj (W = dt_rank + 2N outputs, ~25 K MACs a row)
 *     for all rows themselves, which costs less than a boundary; at larger B that recompute
 *     grows with B on every block, so a separate kernel computes it once.
 *   - dt_proj (R inputs per channel), the scan step, the D skip and the SiLU(z) gate are per
 *     channel: one kernel over the E channels.
 *   - out_proj needs all E values of y: one boundary, and it adds the residual in place.
 * So 3 kernels per layer at B ≤ 4 (4 above), then the head (final norm recomputed per block +
 * the V logits columns) and the existing sampler: 6 layers → 20 kernels per step at batch 1,
 * against ~60.
 *
 * Work per block. The projection kernels give each warp one output column at a time: the
 * lanes split the reduction (k = lane + 32·j, coalesced), a lane keeps its KPL = K/32 weights
 * of the column in registers and reuses them for all B rows (weights read once per step per
 * kernel in in_proj and the head; x_proj and out_proj split rows over GS_ROWS-row blocks as
 * well, which re-reads those smaller matrices from L2 once per 16 rows but keeps 4× more SMs
 * busy at B = 64), and the row sums end in a fixed butterfly (deterministic). Up to 32 rows
 * are reduced at once by a transpose-reduce (warp_transpose_sum: the butterfly's tree, so the
 * same bits) that leaves row r's sum in lane r, so the epilogues (the conv step, the residual
 * add, the stores) run in 32 lanes side by side rather than in lane 0 row after row: at e30fbd1
 * that serial lane-0 chain made the step ~700 µs at B = 64. The norm loads each row into
 * registers once (KPL values a lane) instead of three dependent passes over memory, and the
 * warp's first weight column is loaded before the norm, so those loads overlap it. The inputs of
 * in_proj and the head (the normalized rows) sit in shared memory; x_proj and out_proj read
 * u and y from global memory (L1 after the first warp).
 *
 * Numerics: the norm (double sums in the norm kernel's order), the conv (rn_ arithmetic), the
 * scan step (exp2 of the same product, even/odd partial sums of C·h) and the residual add are
 * the unfused kernels' formulas; the projections sum in another order than cuBLAS, so fp32
 * logits agree to fp32 rounding (~1e-6 relative), not bit for bit. With bf16 the activations
 * are rounded to bf16 where the unfused path stores them, the weights are the model's bf16
 * copies (model_w), sums are fp32.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_math.cuh"
#include "kernels/gen_step.h"

#define GS_WARPS 8                 // warps per block (256 threads) in every kernel here
#define GS_THREADS (GS_WARPS * 32)
#define GS_ROWS 16                 // rows per block of x_proj, out_proj and the scan (B > 4)
#define GS_SCAN_CH_INLINE 64       // channels per scan block when it computes x_proj itself
#define GS_SCAN_CH 32              // channels per scan block otherwise
#define GS_SMEM_MAX (96 * 1024)    // shared memory of the norm + projection kernels (rows)
static_assert(GS_ROWS <= 32, "x_proj and out_proj reduce a block's rows in one warp_dot_rows");

// ----------------------------------------------------------------------------- launch overlap

/*
 * Programmatic dependent launch (sm_90; gs_launch sets the attribute, also inside the graph's
 * stream capture): each kernel here tells the next one in the stream that it may start as soon
 * as all of this kernel's blocks run (gs_let_next_start, first thing), so the next kernel's
 * launch and prologue overlap this one's tail. The rule that keeps it correct: before
 * gs_wait_prior a kernel only reads what no kernel writes during generation (the weights) and
 * writes nothing; gs_wait_prior returns once the previous kernel has completed and its writes
 * are visible — which, by the same rule, means every earlier kernel has too. Without the
 * attribute (LS_GEN_STEP_PDL=0, or a plain launch) both are no-ops.
 */
__device__ __forceinline__ void gs_let_next_start() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}
__device__ __forceinline__ void gs_wait_prior() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// ----------------------------------------------------------------------------- scalar helpers

// The scan step's scalar math, as kernels/cuda/scan.cu writes it (step_kernel): the same
// instructions, so the state update is the unfused one's.
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

__device__ __forceinline__ float warp_sum_f(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// Lane's KPL weights of one column (row-major (cols, K) matrix), zero past K.
template <int KPL, typename TW>
__device__ __forceinline__ void load_col(float (&wr)[KPL], const TW *col, int64_t K, int lane) {
#pragma unroll
    for (int j = 0; j < KPL; j++) {
        const int64_t k = lane + 32 * j;
        wr[j] = k < K ? ld(col + k) : 0.0f;
    }
}

// Σ_k w[k]·x[k] over the warp: lane partials in k order, then the butterfly (every lane).
template <int KPL, typename TX>
__device__ __forceinline__ float warp_dot(const float (&wr)[KPL], const TX *x, int64_t K,
                                          int lane) {
    float acc = 0.0f;
#pragma unroll
    for (int j = 0; j < KPL; j++) {
        const int64_t k = lane + 32 * j;
        if (k < K) acc = fmaf(wr[j], ld(x + k), acc);
    }
    return warp_sum_f(acc);
}

// Row sums of up to 32 rows at once: v[r] is this lane's partial of row r; on return lane r
// holds Σ over the lanes of v[r]. Each step halves the rows a lane carries (it keeps one half
// and adds its xor-partner's copy of that half), so it takes 31 shuffles where a butterfly per
// row takes 5·32, and leaves row r in lane r, so 32 lanes run 32 rows' epilogues side by side
// instead of lane 0 alone one after another. The additions pair the same lanes in the same
// tree as warp_sum_f (xor 16, 8, 4, 2, 1; a + b = b + a), so every row's sum has warp_sum_f's
// bits.
__device__ __forceinline__ float warp_transpose_sum(float (&v)[32], int lane) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        const bool upper = (lane & o) != 0;
#pragma unroll
        for (int i = 0; i < o; i++) {
            const float send = upper ? v[i] : v[i + o], keep = upper ? v[i + o] : v[i];
            v[i] = keep + __shfl_xor_sync(0xffffffffu, send, o);
        }
    }
    return v[0];
}

// warp_dot of n (1..32) rows x + r·stride against one column's weights: lane r < n gets row
// r's sum (the same bits as warp_dot; n = 1 is warp_dot itself, every lane).
template <int KPL, typename TX>
__device__ __forceinline__ float warp_dot_rows(const float (&wr)[KPL], const TX *x, int64_t K,
                                               int64_t stride, int n, int lane) {
    if (n == 1) return warp_dot<KPL>(wr, x, K, lane);
    float acc[32];
#pragma unroll
    for (int r = 0; r < 32; r++) {
        acc[r] = 0.0f;
        if (r < n) {
#pragma unroll
            for (int j = 0; j < KPL; j++) {
                const int64_t k = lane + 32 * j;
                if (k < K) acc[r] = fmaf(wr[j], ld(x + r * stride + k), acc[r]);
            }
        }
    }
    return warp_transpose_sum(acc, lane);
}

// ----------------------------------------------------------------------------- norm + projection

enum { GS_EPI_MAMBA_IN = 0, GS_EPI_LOGITS = 1 };

struct NormProjDev {
    int64_t B, D, cols, E, RB; // RB rows of normalized input per pass (shared memory)
    int K, layer_norm;
    float eps;
    const float *X;            // (B, D), or NULL with tokens
    const uint8_t *tokens;     // (B) rows of embed instead of X
    const float *embed;
    const float *norm_w, *norm_b;
    const void *w;             // (cols, D)
    const float *conv_w, *conv_b;
    float *state;              // conv state (B, E, K−1)
    void *u, *z;               // (B, E) act
    float *logits;             // (B, cols)
};

/*
 * Norm of every row (in passes of RB rows through shared memory), then each warp takes
 * columns c = blockIdx.x·GS_WARPS + warp, + gridDim.x·GS_WARPS, … and computes them for every
 * row. Epilogue: in_proj (x columns through the conv step and SiLU into u, z columns stored)
 * or logits. TA: the activation type of the norm's input and output (bf16 for a bf16 layer:
 * the unfused step casts X first; float for the head, which is fp32 in either precision).
 */
template <int KPL, typename TW, typename TA, int EPI>
__global__ void __launch_bounds__(GS_THREADS) norm_proj_kernel(const NormProjDev p) {
    extern __shared__ float xs[]; // (RB, D)
    gs_let_next_start();
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int64_t D = p.D;
    // The warp's first column's weights do not depend on the rows: their loads are issued
    // before the norm so they are in flight while it runs (one column per warp is the usual
    // case: cols ≤ gridDim.x·GS_WARPS).
    const int64_t c_first = (int64_t)blockIdx.x * GS_WARPS + warp;
    float wr_first[KPL];
    if (c_first < p.cols) load_col<KPL>(wr_first, (const TW *)p.w + c_first * D, D, lane);
    gs_wait_prior(); // X / tokens, the conv state and u, z: the previous kernels' to touch
    for (int64_t r0 = 0; r0 < p.B; r0 += p.RB) {
        const int64_t nr = p.B - r0 < p.RB ? p.B - r0 : p.RB;
        __syncthreads(); // the previous pass's readers are done with xs
        for (int64_t r = warp; r < nr; r += GS_WARPS) {
            const int64_t b = r0 + r;
            const float *x = p.tokens ? p.embed + (int64_t)p.tokens[b] * D : p.X + b * D;
            // the row in registers, loaded once (all KPL loads in flight together) rather than
            // by three dependent passes over memory; d = lane + 32·j, so the sums below run in
            // the order of the loops `for (d = lane; d < D; d += 32)` they replace
            float xr[KPL];
#pragma unroll
            for (int j = 0; j < KPL; j++) {
                const int64_t d = lane + 32 * j;
                xr[j] = d < D ? act<TA>(x[d]) : 0.0f;
            }
            // norm_fwd_kernel's statistics, lane for lane (double sums, fixed butterfly)
            float muf = 0.0f, rs;
            if (p.layer_norm) {
                double sum = 0.0;
#pragma unroll
                for (int j = 0; j < KPL; j++)
                    if (lane + 32 * j < D) sum += xr[j];
                double mu = warp_sum(sum) / (double)D, var = 0.0;
#pragma unroll
                for (int j = 0; j < KPL; j++)
                    if (lane + 32 * j < D) {
                        double c = (double)xr[j] - mu;
                        var += c * c;
                    }
                var = warp_sum(var);
                muf = (float)mu, rs = (float)(1.0 / sqrt(var / (double)D + p.eps));
            } else {
                double ss = 0.0;
#pragma unroll
                for (int j = 0; j < KPL; j++)
                    if (lane + 32 * j < D) ss += (double)xr[j] * xr[j];
                rs = (float)(1.0 / sqrt(warp_sum(ss) / (double)D + p.eps));
            }
#pragma unroll
            for (int j = 0; j < KPL; j++) {
                const int64_t d = lane + 32 * j;
                if (d >= D) continue;
                float h = xr[j], y;
                if (p.layer_norm)
                    y = rn_add(rn_mul(rn_mul(rn_sub(h, muf), rs), p.norm_w[d]),
                               p.norm_b ? p.norm_b[d] : 0.0f);
                else
                    y = rn_mul(rn_mul(h, rs), p.norm_w[d]);
                xs[r * D + d] = act<TA>(y);
            }
        }
        __syncthreads();
        for (int64_t c = (int64_t)blockIdx.x * GS_WARPS + warp; c < p.cols;
             c += (int64_t)gridDim.x * GS_WARPS) {
            float wr[KPL];
            if (c == c_first) {
#pragma unroll
                for (int j = 0; j < KPL; j++) wr[j] = wr_first[j];
            } else {
                load_col<KPL>(wr, (const TW *)p.w + c * D, D, lane);
            }
            // 32 rows at a time; lane i finishes row g0 + i (the epilogue's dependent conv
            // state loads and stores then run for 32 rows side by side)
            for (int64_t g0 = 0; g0 < nr; g0 += 32) {
                const int ng = nr - g0 < 32 ? (int)(nr - g0) : 32;
                const float v = warp_dot_rows<KPL>(wr, xs + g0 * D, D, D, ng, lane);
                if (lane >= ng) continue;
                const int64_t b = r0 + g0 + lane;
                if (EPI == GS_EPI_LOGITS) {
                    p.logits[b * p.cols + c] = v;
                    continue;
                }
                const int64_t E = p.E;
                const float x = act<TA>(v); // the in_proj output as the unfused xz holds it
                if (c >= E) {
                    st((TA *)p.z + b * E + (c - E), x);
                    continue;
                }
                // conv_step_kernel's arithmetic for channel c, then SiLU (conv_act)
                const int K = p.K;
                const float *w = p.conv_w + c * K;
                float *s = K > 1 ? p.state + (b * E + c) * (K - 1) : nullptr;
                float acc = p.conv_b ? p.conv_b[c] : 0.0f;
                for (int k = 0; k < K - 1; k++) acc = rn_add(acc, rn_mul(w[k], s[k]));
                acc = rn_add(acc, rn_mul(w[K - 1], x));
                st((TA *)p.u + b * E + c, rn_mul(acc, sigmoid_spec(acc)));
                if (K > 1) {
                    for (int k = 0; k + 1 < K - 1; k++) s[k] = s[k + 1];
                    s[K - 2] = x;
                }
            }
        }
    }
}

// ----------------------------------------------------------------------------- x_proj

struct LayerDev {
    int64_t B, D, E, N, R, W;
    float *X;                     // (B, D) residual stream, += out_proj (input: embed with tokens)
    const uint8_t *tokens;
    const float *embed;
    const void *x_w, *dt_w, *out_w;
    const float *dt_b, *A, *Dsk;
    float *ssm;                   // (B, E, N)
    const void *u, *z;
    void *dbl, *y;
};

// dbl (B, W) = u · x_projᵀ: warp per output column (grid x), GS_ROWS rows per block (grid y).
template <int KPL, typename TA> __global__ void __launch_bounds__(GS_THREADS) xproj_kernel(
    const LayerDev p) {
    gs_let_next_start();
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int64_t b0 = (int64_t)blockIdx.y * GS_ROWS, b1 = b0 + GS_ROWS < p.B ? b0 + GS_ROWS : p.B;
    const int64_t w_first = (int64_t)blockIdx.x * GS_WARPS + warp;
    float wr[KPL]; // the first column's weights before the wait (see gs_wait_prior)
    if (w_first < p.W) load_col<KPL>(wr, (const TA *)p.x_w + w_first * p.E, p.E, lane);
    gs_wait_prior();
    for (int64_t w = w_first; w < p.W; w += (int64_t)gridDim.x * GS_WARPS) {
        if (w != w_first) load_col<KPL>(wr, (const TA *)p.x_w + w * p.E, p.E, lane);
        // GS_ROWS ≤ 32 rows at once, lane i stores row b0 + i
        const int n = (int)(b1 - b0);
        const float v = warp_dot_rows<KPL>(wr, (const TA *)p.u + b0 * p.E, p.E, p.E, n, lane);
        if (lane < n) st((TA *)p.dbl + (b0 + lane) * p.W + w, v);
    }
}

// ----------------------------------------------------------------------------- scan step

/*
 * Channels [blockIdx.x·CH, +CH) of rows [blockIdx.y·RB, +RB), one (row, channel) per thread:
 * dt_proj, softplus(+bias), the state update over N, C readout, D skip, SiLU(z) gate → y.
 * INLINE: the block first computes dbl of its rows into shared memory (x_proj, the same lane
 * order as xproj_kernel, so both ways give the same bits); else it reads dbl from memory.
 */
template <typename TA, bool INLINE>
__global__ void __launch_bounds__(GS_THREADS) scan_kernel(const LayerDev p, int CH, int RB) {
    extern __shared__ float sdbl[]; // INLINE: (rows of the block, W)
    gs_let_next_start();
    gs_wait_prior(); // u, z, dbl, the scan state
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int64_t E = p.E, N = p.N, R = p.R, W = p.W;
    const int64_t b0 = (int64_t)blockIdx.y * RB, nb = p.B - b0 < RB ? p.B - b0 : RB;
    if (INLINE) {
        for (int64_t q = warp; q < nb * W; q += GS_WARPS) {
            const int64_t b = b0 + q / W, w = q % W;
            const TA *xw = (const TA *)p.x_w + w * E, *u = (const TA *)p.u + b * E;
            float acc = 0.0f;
            for (int64_t k = lane; k < E; k += 32) acc = fmaf(ld(xw + k), ld(u + k), acc);
            acc = warp_sum_f(acc);
            if (lane == 0) sdbl[q] = act<TA>(acc);
        }
        __syncthreads();
    }
    for (int64_t i = threadIdx.x; i < nb * CH; i += blockDim.x) {
        const int64_t b = b0 + i / CH, e = (int64_t)blockIdx.x * CH + i % CH;
        if (e >= E) continue;
        const float *srow = INLINE ? sdbl + (b - b0) * W : nullptr;
        const TA *grow = INLINE ? nullptr : (const TA *)p.dbl + b * W;
#define GS_DBL(k) (INLINE ? srow[k] : ld(grow + (k)))
        // dt_proj (R inputs), stored as the unfused delta, then dt_of()
        const TA *dw = (const TA *)p.dt_w + e * R;
        float delta = 0.0f;
        for (int64_t r = 0; r < R; r++) delta = fmaf(GS_DBL(r), ld(dw + r), delta);
        delta = act<TA>(delta);
        const float dt = gs_softplus(delta + (p.dt_b ? p.dt_b[e] : 0.0f));
        // scan.cu step_kernel, term for term
        const float u = ld((const TA *)p.u + b * E + e);
        const float dtu = dt * u;
        float *h = p.ssm + (b * E + e) * N;
        float y2[2] = {0.0f, 0.0f};
        for (int64_t n = 0; n < N; n++) {
            const float hn = fmaf(gs_ex2(dt * (p.A[e * N + n] * GS_LOG2E)), h[n],
                                  dtu * GS_DBL(R + n));
            h[n] = hn;
            y2[n & 1] = fmaf(GS_DBL(R + N + n), hn, y2[n & 1]);
        }
#undef GS_DBL
        float y = y2[0] + y2[1];
        if (p.Dsk) y += p.Dsk[e] * u;
        const float zz = ld((const TA *)p.z + b * E + e);
        y *= zz * gs_sigmoid(zz);
        st((TA *)p.y + b * E + e, y);
    }
}

// ----------------------------------------------------------------------------- out_proj

// X[b, c] = input[b, c] + act(y[b] · out_proj[c]): warp per column (grid x), GS_ROWS rows per
// block (grid y). Each element is read and written by one lane only (row b0 + i by lane i).
template <int KPL, typename TA> __global__ void __launch_bounds__(GS_THREADS) out_kernel(
    const LayerDev p) {
    gs_let_next_start();
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int64_t b0 = (int64_t)blockIdx.y * GS_ROWS, b1 = b0 + GS_ROWS < p.B ? b0 + GS_ROWS : p.B;
    const int64_t c_first = (int64_t)blockIdx.x * GS_WARPS + warp;
    float wr[KPL]; // the first column's weights before the wait (see gs_wait_prior)
    if (c_first < p.D) load_col<KPL>(wr, (const TA *)p.out_w + c_first * p.E, p.E, lane);
    gs_wait_prior(); // y, and X (read and written in place)
    for (int64_t c = c_first; c < p.D; c += (int64_t)gridDim.x * GS_WARPS) {
        if (c != c_first) load_col<KPL>(wr, (const TA *)p.out_w + c * p.E, p.E, lane);
        const int n = (int)(b1 - b0);
        const float v = act<TA>(
            warp_dot_rows<KPL>(wr, (const TA *)p.y + b0 * p.E, p.E, p.E, n, lane));
        if (lane >= n) continue;
        const int64_t b = b0 + lane;
        const float in = p.tokens ? p.embed[(int64_t)p.tokens[b] * p.D + c] : p.X[b * p.D + c];
        p.X[b * p.D + c] = rn_add(in, v);
    }
}

// ----------------------------------------------------------------------------- launchers

// KPL = ceil(K / 32) rounded up to a power of two (1..32): f(Kpl<KPL>()) with it.
template <int V> struct Kpl {
    static constexpr int value = V;
};
template <typename F> static int with_kpl(int64_t K, F f) {
    if (K <= 32) return f(Kpl<1>());
    if (K <= 64) return f(Kpl<2>());
    if (K <= 128) return f(Kpl<4>());
    if (K <= 256) return f(Kpl<8>());
    if (K <= 512) return f(Kpl<16>());
    return f(Kpl<32>());
}

static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

static int g_pdl = 1; // LS_GEN_STEP_PDL=0 in the environment: plain launches (to compare)

// kernel<<<grid, GS_THREADS, smem, s>>>(args), with programmatic stream serialization (see
// gs_wait_prior) unless LS_GEN_STEP_PDL=0.
template <typename... KArgs, typename... Args>
static cudaError_t gs_launch(void (*kernel)(KArgs...), dim3 grid, size_t smem, cudaStream_t s,
                             Args... args) {
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[0].val.programmaticStreamSerializationAllowed = 1;
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = grid, cfg.blockDim = dim3(GS_THREADS), cfg.dynamicSmemBytes = smem;
    cfg.stream = s, cfg.attrs = attr, cfg.numAttrs = g_pdl ? 1 : 0;
    return cudaLaunchKernelEx(&cfg, kernel, args...);
}

static int64_t norm_rows_per_pass(int64_t B, int64_t D) {
    const int64_t fit = GS_SMEM_MAX / (D * (int64_t)sizeof(float));
    return B < fit ? B : fit;
}

template <typename TW, typename TA, int EPI> static int norm_proj_launch(const NormProjDev &p,
                                                                          cudaStream_t s) {
    return with_kpl(p.D, [&](auto kpl) {
        constexpr int KPL = decltype(kpl)::value;
        int status = 0;
        const size_t smem = (size_t)(p.RB * p.D) * sizeof(float);
        const unsigned blocks = (unsigned)cdiv(p.cols, GS_WARPS);
        CUDA_RT(gs_launch(norm_proj_kernel<KPL, TW, TA, EPI>, dim3(blocks), smem, s, p));
        CUDA_CHECK_LAUNCH();
    fail:
        return status;
    });
}

// The attribute once per instantiation that may need more than the default 48 KB.
template <typename TW, typename TA, int EPI> static int norm_proj_prepare(void) {
    int status = 0;
    for (int64_t K = 32; K <= GEN_STEP_MAX_K && status == 0; K *= 2)
        status = with_kpl(K, [&](auto kpl) {
            constexpr int KPL = decltype(kpl)::value;
            int status = 0;
            CUDA_RT(cudaFuncSetAttribute(norm_proj_kernel<KPL, TW, TA, EPI>,
                                         cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         GS_SMEM_MAX));
        fail:
            return status;
        });
    return status;
}

static int g_prepared; // one host thread drives generation (cuda_common.cuh's rule)

extern "C" int gen_step_prepare_cuda(void) {
    if (g_prepared) return 0;
    const char *pdl = getenv("LS_GEN_STEP_PDL");
    g_pdl = !(pdl && strcmp(pdl, "0") == 0);
    int status = norm_proj_prepare<float, float, GS_EPI_MAMBA_IN>();
    if (status == 0) status = norm_proj_prepare<bf16, bf16, GS_EPI_MAMBA_IN>();
    if (status == 0) status = norm_proj_prepare<float, float, GS_EPI_LOGITS>();
    if (status == 0) g_prepared = 1;
    return status;
}

// Keep in step with the kernels: KPL ≤ 32 (the reductions over D and E), the scan's inline
// shared memory (≤ GEN_STEP_XPROJ_INLINE_ROWS rows of W floats), a positive conv width.
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
    return 0;
}

template <typename TA> static int layer_launch(const GenStepLayer *a) {
    int status = 0;
    cudaStream_t s = cuda_stream(a->stream);
    const int64_t B = a->B, E = a->E, N = a->N, R = a->R, W = R + 2 * N;
    NormProjDev np = {};
    np.B = B, np.D = a->D, np.cols = 2 * E, np.E = E, np.RB = norm_rows_per_pass(B, a->D);
    np.K = (int)a->K, np.layer_norm = a->layer_norm, np.eps = a->eps;
    np.X = a->X, np.tokens = a->tokens, np.embed = a->embed;
    np.norm_w = a->norm_w, np.norm_b = a->layer_norm ? a->norm_b : nullptr, np.w = a->in_w;
    np.conv_w = a->conv_w, np.conv_b = a->conv_b, np.state = a->state, np.u = a->u, np.z = a->z;
    LayerDev lp = {};
    lp.B = B, lp.D = a->D, lp.E = E, lp.N = N, lp.R = R, lp.W = W;
    lp.X = a->X, lp.tokens = a->tokens, lp.embed = a->embed;
    lp.x_w = a->x_w, lp.dt_w = a->dt_w, lp.out_w = a->out_w;
    lp.dt_b = a->dt_b, lp.A = a->A, lp.Dsk = a->D_skip;
    lp.ssm = a->state + B * E * (a->K - 1);
    lp.u = a->u, lp.z = a->z, lp.dbl = a->dbl, lp.y = a->y;
    const unsigned row_blocks = (unsigned)cdiv(B, GS_ROWS);
    const int inline_x = B <= GEN_STEP_XPROJ_INLINE_ROWS;

    if ((status = norm_proj_launch<TA, TA, GS_EPI_MAMBA_IN>(np, s)) < 0) return status;
    if (!inline_x) {
        status = with_kpl(E, [&](auto kpl) {
            constexpr int KPL = decltype(kpl)::value;
            int status = 0;
            CUDA_RT(gs_launch(xproj_kernel<KPL, TA>, dim3((unsigned)cdiv(W, GS_WARPS), row_blocks),
                              0, s, lp));
            CUDA_CHECK_LAUNCH();
        fail:
            return status;
        });
        if (status < 0) return status;
    }
    if (inline_x) {
        const int CH = GS_SCAN_CH_INLINE, RB = (int)B;
        CUDA_RT(gs_launch(scan_kernel<TA, true>, dim3((unsigned)cdiv(E, CH), 1),
                          (size_t)(B * W) * sizeof(float), s, lp, CH, RB));
    } else {
        const int CH = GS_SCAN_CH, RB = GS_THREADS / GS_SCAN_CH;
        const dim3 grid((unsigned)cdiv(E, CH), (unsigned)cdiv(B, RB));
        CUDA_RT(gs_launch(scan_kernel<TA, false>, grid, 0, s, lp, CH, RB));
    }
    CUDA_CHECK_LAUNCH();
    status = with_kpl(E, [&](auto kpl) {
        constexpr int KPL = decltype(kpl)::value;
        int status = 0;
        CUDA_RT(gs_launch(out_kernel<KPL, TA>, dim3((unsigned)cdiv(a->D, GS_WARPS), row_blocks), 0,
                          s, lp));
        CUDA_CHECK_LAUNCH();
    fail:
        return status;
    });
fail:
    return status;
}

extern "C" int gen_step_layer_cuda(const GenStepLayer *a) {
    int status = gen_step_cuda_supported(a);
    if (status < 0) return status;
    if (a->B < 1 || (!a->X) || (a->tokens && !a->embed) || !a->norm_w || !a->in_w ||
        !a->conv_w || !a->x_w || !a->dt_w || !a->A || !a->out_w || !a->state || !a->u || !a->z ||
        !a->dbl || !a->y)
        return ls_error(LS_ERR_USAGE, "gen_step_layer_cuda: B %lld or a NULL pointer",
                        (long long)a->B);
    if (!g_prepared)
        return ls_error(LS_ERR_USAGE, "gen_step_layer_cuda: gen_step_prepare_cuda first");
    return a->act == DTYPE_BF16 ? layer_launch<bf16>(a) : layer_launch<float>(a);
}

extern "C" int gen_step_head_cuda(const GenStepHead *a) {
    if (a->B < 1 || a->D < 1 || a->D > GEN_STEP_MAX_K || a->V < 1 || !a->X || !a->norm_w ||
        !a->w || !a->logits)
        return ls_error(LS_ERR_USAGE, "gen_step_head_cuda: B %lld, d_model %lld (<= %d), vocab "
                        "%lld, or a NULL pointer", (long long)a->B, (long long)a->D,
                        GEN_STEP_MAX_K, (long long)a->V);
    if (!g_prepared)
        return ls_error(LS_ERR_USAGE, "gen_step_head_cuda: gen_step_prepare_cuda first");
    NormProjDev np = {};
    np.B = a->B, np.D = a->D, np.cols = a->V, np.RB = norm_rows_per_pass(a->B, a->D);
    np.layer_norm = a->layer_norm, np.eps = a->eps, np.X = a->X;
    np.norm_w = a->norm_w, np.norm_b = a->layer_norm ? a->norm_b : nullptr, np.w = a->w;
    np.logits = a->logits;
    return norm_proj_launch<float, float, GS_EPI_LOGITS>(np, cuda_stream(a->stream));
}
