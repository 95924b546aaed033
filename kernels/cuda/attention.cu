/*
 * attention.cu — CUDA attention (forward, backward) and RoPE behind kernels/attention.h;
 * must match the CPU spec kernels/cpu/attention.c within the tests/gpu tolerances
 * (tests/gpu/parity_attention.c, `build/test_gpu attention`). Timed by kernels/dev/attention.cu.
 *
 * bf16 path (the fast one): FlashAttention-2's algorithm written for mma.sync m16n8k16
 * (bf16 operands, fp32 accumulators). Each warp owns 16 rows of the output tile it computes,
 * so a warp never exchanges partial results with another: its A operands (q, dout, or k and v
 * in the dk/dv pass) sit in registers for the whole kernel, the B operands are read from
 * shared memory with ldmatrix (.trans where the operand is needed transposed), and tiles
 * arrive through cp.async, double-buffered. Shared rows are padded by 16 bytes (stride hd+8
 * elements), which puts the 8 row addresses of every ldmatrix in 8 different 16-byte bank
 * groups. Rows past the valid length are zero-filled by cp.async (src-size 0), so padded or
 * never-written memory is never read: a NaN in a padded row cannot leak into a result.
 *   forward  one block per (query tile, head, batch row): S = QKᵀ, online softmax in the
 *            exp2 domain (scale·log2 e folded into one FMA), O += P·V with P rounded to bf16
 *            (FlashAttention does the same); out = O/l, lse = (m + log2 l)·ln 2.
 *   backward two passes, no atomics, so the result is deterministic:
 *            dq pass  one block per query tile, loop over key tiles: S, P = exp(S − lse),
 *                     dP = dO·Vᵀ, dS = P∘(dP − D), dQ += dS·K;
 *            dk/dv    one block per key tile, loop over query tiles, transposed: Sᵀ = K·Qᵀ,
 *                     dV += Pᵀ·dO, dPᵀ = V·dOᵀ, dK += dSᵀ·Q.
 *            D_i = dout_i·out_i is recomputed in each pass from dout and out (the API has no
 *            workspace, and a step must not allocate); it costs one extra tile load.
 *            Compared with FlashAttention-2's single pass with atomic dq this recomputes S and
 *            dP once more (7 matmuls instead of 5) in exchange for bit-identical gradients.
 * Causal calls visit only the key tiles at or below the diagonal; masking is applied only on
 * the tiles that need it (diagonal, or crossing the valid length). Tiles are scheduled
 * heaviest first (the last query tiles in the forward and the dq pass).
 *
 * fp32 path (the parity path): the same tiling on CUDA cores, 4 lanes per row, each owning
 * hd/4 interleaved dimensions (conflict-free shared reads), dot products finished with two
 * shuffles; sums are two-level (within a tile, then across tiles), keeping the error near
 * 1e-6 of the result's scale at L = 4097.
 *
 * RoPE: one thread per (batch row, position, rotated pair or copied dim), looping over the
 * heads; angles in double exactly as the CPU computes them, products rounded as in C (no FMA
 * contraction), so fp32 results match the CPU to the last bit in practice.
 */
#include <cuda_bf16.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/attention.h"
#include "kernels/cuda/cuda_common.cuh"

typedef __nv_bfloat16 bf16;

#define ATTN_LOG2E 1.4426950408889634
#define ATTN_LN2 0.6931471805599453f

// ----------------------------------------------------------------------------- arguments

/* Everything a kernel needs, by value. Views: row (b, l, h) of q at q + b·q_b + l·q_l + h·q_h
 * (elements); out, dout contiguous (B, L, H, hd); lse (B, H, L). */
struct AttnArgs {
    const void *q, *k, *v;  // views (B, L, H, hd)
    const void *out;        // (B, L, H, hd) forward output (backward input)
    const void *dout;       // (B, L, H, hd)
    void *o;                // (B, L, H, hd) forward output
    float *lse_out;         // (B, H, L) forward, or NULL
    const float *lse;       // (B, H, L) backward input
    void *dq, *dk, *dv;     // views as q, k, v; NULL to skip
    const int64_t *lengths; // (B) or NULL
    int64_t L;
    int H, causal;
    int64_t q_b, q_l, q_h, k_b, k_l, k_h, v_b, v_l, v_h;
    float scale;      // softmax scale
    float scale_log2; // scale·log2(e)
};

/* valid positions of batch row b, clamped to [0, L] (device lengths are not checked on the
 * host; see attention.h) */
__device__ __forceinline__ int64_t attn_valid_len(const AttnArgs &a, int64_t b) {
    if (!a.lengths) return a.L;
    int64_t n = a.lengths[b];
    return n < 0 ? 0 : n > a.L ? a.L : n;
}

// ----------------------------------------------------------------------------- PTX helpers

__device__ __forceinline__ uint32_t smem_addr(const void *p) {
    return (uint32_t)__cvta_generic_to_shared(p);
}

/* 16 bytes global → shared, asynchronously; valid = false zero-fills (nothing is read). */
__device__ __forceinline__ void cp_async16(void *dst, const void *src, bool valid) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)),
                 "l"(src), "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> __device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

/* Four 8×8 bf16 matrices; lanes 8i..8i+7 give the row addresses of matrix i. */
__device__ __forceinline__ void ldsm_x4(uint32_t r[4], const bf16 *p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_addr(p)));
}
__device__ __forceinline__ void ldsm_x4_t(uint32_t r[4], const bf16 *p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_addr(p)));
}

/* c (16×8 fp32) += a (16×16 bf16, row) · b (16×8 bf16, col) */
__device__ __forceinline__ void mma_bf16(float c[4], const uint32_t a[4], uint32_t b0,
                                         uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/* two floats → bf16x2 (lo in the low half: the lower column of an mma fragment) */
__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t *>(&v);
}

/* *p (2 bf16) += (x, y), rounded once */
__device__ __forceinline__ void add_bf16x2(bf16 *p, float x, float y) {
    __nv_bfloat162 old = *reinterpret_cast<__nv_bfloat162 *>(p);
    float2 f = __bfloat1622float2(old);
    *reinterpret_cast<__nv_bfloat162 *>(p) = __floats2bfloat162_rn(f.x + x, f.y + y);
}

// ----------------------------------------------------------------------------- bf16 tiles

/* Rows [0, R) of a tile whose row 0 is at g0, row stride ld_g elements, into shared memory
 * with row stride HD + 8; rows >= valid are zero-filled. `base` is any readable address
 * (given to cp.async for zero-filled rows, which read nothing). */
template <int R, int HD, int NT>
__device__ __forceinline__ void tile_load(bf16 *s, const bf16 *g0, int64_t ld_g, int64_t valid,
                                          const bf16 *base, int tid) {
    constexpr int CPR = HD / 8; // 16-byte chunks per row
#pragma unroll
    for (int idx = tid; idx < R * CPR; idx += NT) {
        int r = idx / CPR, c = idx % CPR;
        bool ok = r < valid;
        cp_async16(s + r * (HD + 8) + c * 8, ok ? g0 + (int64_t)r * ld_g + c * 8 : base, ok);
    }
}

/* The A fragments (16 rows × HD) of rows row0..row0+15 of a shared tile, for mma.sync. */
template <int HD>
__device__ __forceinline__ void frag_a(uint32_t f[HD / 16][4], const bf16 *s, int row0,
                                       int lane) {
    const bf16 *p = s + (row0 + (lane & 7) + ((lane >> 3) & 1) * 8) * (HD + 8) + (lane >> 4) * 8;
#pragma unroll
    for (int kk = 0; kk < HD / 16; kk++) ldsm_x4(f[kk], p + kk * 16);
}

/* acc (16 × 8·NB) += A (16 × HD, registers) · Tᵀ where T is a shared tile (8·NB rows × HD):
 * the "K as B operand" pattern (S = Q·Kᵀ, dP = dO·Vᵀ, Sᵀ = K·Qᵀ, dPᵀ = V·dOᵀ). */
template <int HD, int NB>
__device__ __forceinline__ void mma_abt(float acc[NB][4], const uint32_t a[HD / 16][4],
                                        const bf16 *s, int lane) {
    const bf16 *p = s + ((lane >> 4) * 8 + (lane & 7)) * (HD + 8) + ((lane >> 3) & 1) * 8;
#pragma unroll
    for (int kk = 0; kk < HD / 16; kk++)
#pragma unroll
        for (int np = 0; np < NB / 2; np++) {
            uint32_t r[4];
            ldsm_x4(r, p + np * 16 * (HD + 8) + kk * 16);
            mma_bf16(acc[2 * np], a[kk], r[0], r[1]);
            mma_bf16(acc[2 * np + 1], a[kk], r[2], r[3]);
        }
}

/* acc (16 × HD) += P (16 × 8·NB, fp32 accumulators rounded to bf16) · T where T is a shared
 * tile (8·NB rows × HD): the "V as B operand" pattern (O += P·V, dQ += dS·K, dV += Pᵀ·dO,
 * dK += dSᵀ·Q). */
template <int HD, int NB>
__device__ __forceinline__ void mma_pv(float acc[HD / 8][4], const float p[NB][4], const bf16 *s,
                                       int lane) {
    const bf16 *base = s + (((lane >> 3) & 1) * 8 + (lane & 7)) * (HD + 8) + (lane >> 4) * 8;
#pragma unroll
    for (int kk = 0; kk < NB / 2; kk++) {
        uint32_t a[4] = {pack_bf16(p[2 * kk][0], p[2 * kk][1]),
                         pack_bf16(p[2 * kk][2], p[2 * kk][3]),
                         pack_bf16(p[2 * kk + 1][0], p[2 * kk + 1][1]),
                         pack_bf16(p[2 * kk + 1][2], p[2 * kk + 1][3])};
#pragma unroll
        for (int ep = 0; ep < HD / 16; ep++) {
            uint32_t r[4];
            ldsm_x4_t(r, base + kk * 16 * (HD + 8) + ep * 16);
            mma_bf16(acc[2 * ep], a, r[0], r[1]);
            mma_bf16(acc[2 * ep + 1], a, r[2], r[3]);
        }
    }
}

/* 2^x in one MUFU.EX2 (flush-to-zero: p below 2^-126 becomes 0, as in FlashAttention); plain
 * exp2f adds a denormal-range fix-up around every exponential. */
__device__ __forceinline__ float fast_exp2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
}

__device__ __forceinline__ float quad_max(float x) {
    x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
    return fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
}
__device__ __forceinline__ float quad_sum(float x) {
    x += __shfl_xor_sync(0xffffffffu, x, 1);
    return x + __shfl_xor_sync(0xffffffffu, x, 2);
}

/* bf16 kernels: key tile width of the forward and dq pass, query tile of the dk/dv pass */
#define ATTN_BC 64

template <int HD, int WARPS> constexpr int fwd_smem_bytes() {
    return (WARPS * 16 + 4 * ATTN_BC) * (HD + 8) * 2;
}
template <int HD, int WARPS> constexpr int dq_smem_bytes() {
    return (3 * WARPS * 16 + 4 * ATTN_BC) * (HD + 8) * 2;
}
template <int HD, int WARPS> constexpr int dkdv_smem_bytes() {
    return (2 * WARPS * 16 + 6 * ATTN_BC) * (HD + 8) * 2 + 2 * ATTN_BC * 4;
}

// ----------------------------------------------------------------------------- bf16 forward

template <int HD, int WARPS>
__global__ void __launch_bounds__(WARPS * 32) attn_fwd_bf16(const AttnArgs a) {
    constexpr int BR = WARPS * 16, BC = ATTN_BC, LD = HD + 8, NT = WARPS * 32;
    extern __shared__ __align__(16) unsigned char smem_raw[];
    bf16 *sQ = reinterpret_cast<bf16 *>(smem_raw); // (BR, LD)
    bf16 *sK = sQ + BR * LD;                       // 2 × (BC, LD)
    bf16 *sV = sK + 2 * BC * LD;                   // 2 × (BC, LD)

    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
    const int h = blockIdx.y;
    const int64_t b = blockIdx.z, H = a.H, L = a.L;
    const int64_t tile = a.causal ? gridDim.x - 1 - blockIdx.x : blockIdx.x; // heavy first
    const int64_t q0 = tile * BR, n = attn_valid_len(a, b);
    const bf16 *Q = (const bf16 *)a.q + b * a.q_b + h * a.q_h; // row l at + l·q_l
    const bf16 *K = (const bf16 *)a.k + b * a.k_b + h * a.k_h;
    const bf16 *V = (const bf16 *)a.v + b * a.v_b + h * a.v_h;
    bf16 *O = (bf16 *)a.o + (b * L * H + h) * HD;                  // row l at + l·H·HD
    float *lse = a.lse_out ? a.lse_out + (b * H + h) * L : nullptr; // (L)

    const int64_t kv_end = a.causal ? min(n, q0 + BR) : n; // keys < kv_end
    const int n_kt = q0 < n ? (int)((kv_end + BC - 1) / BC) : 0;
    if (n_kt > 0) {
        tile_load<BR, HD, NT>(sQ, Q + q0 * a.q_l, a.q_l, n - q0, Q, tid);
        tile_load<BC, HD, NT>(sK, K, a.k_l, n, K, tid);
        tile_load<BC, HD, NT>(sV, V, a.v_l, n, V, tid);
    }
    cp_async_commit();
    cp_async_wait<0>();
    __syncthreads();

    const int64_t r0 = q0 + warp * 16; // this warp's first row
    uint32_t qf[HD / 16][4];
    frag_a<HD>(qf, sQ, warp * 16, lane);
    float o[HD / 8][4];
#pragma unroll
    for (int i = 0; i < HD / 8; i++) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f}; // rows g, g + 8 (raw score units)
    const float c = a.scale_log2;

    for (int kt = 0; kt < n_kt; kt++) {
        const int buf = kt & 1;
        if (kt + 1 < n_kt) {
            const int64_t k1 = (int64_t)(kt + 1) * BC;
            tile_load<BC, HD, NT>(sK + (buf ^ 1) * BC * LD, K + k1 * a.k_l, a.k_l, n - k1, K, tid);
            tile_load<BC, HD, NT>(sV + (buf ^ 1) * BC * LD, V + k1 * a.v_l, a.v_l, n - k1, V, tid);
        }
        cp_async_commit();
        cp_async_wait<1>();
        __syncthreads();
        const int64_t k0 = (int64_t)kt * BC;
        if (r0 < n && (!a.causal || k0 <= r0 + 15)) { // else every score of the warp is masked
            float s[BC / 8][4];
#pragma unroll
            for (int i = 0; i < BC / 8; i++) s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0.0f;
            mma_abt<HD, BC / 8>(s, qf, sK + buf * BC * LD, lane);
            if (k0 + BC > n || (a.causal && k0 + BC - 1 > r0)) {
#pragma unroll
                for (int nt = 0; nt < BC / 8; nt++)
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        int64_t j = k0 + nt * 8 + 2 * t + (e & 1), i = r0 + g + (e >> 1) * 8;
                        if (j >= n || (a.causal && j > i)) s[nt][e] = -INFINITY;
                    }
            }
            float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
            for (int nt = 0; nt < BC / 8; nt++) {
                mx[0] = fmaxf(mx[0], fmaxf(s[nt][0], s[nt][1]));
                mx[1] = fmaxf(mx[1], fmaxf(s[nt][2], s[nt][3]));
            }
            float base[2], alpha[2], sum[2] = {0.0f, 0.0f};
#pragma unroll
            for (int r = 0; r < 2; r++) {
                float m_new = fmaxf(m[r], quad_max(mx[r]));
                base[r] = m_new == -INFINITY ? 0.0f : m_new * c; // fully masked so far: p = 0
                alpha[r] = fast_exp2(m[r] * c - base[r]);
                m[r] = m_new;
            }
#pragma unroll
            for (int nt = 0; nt < BC / 8; nt++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    s[nt][e] = fast_exp2(fmaf(s[nt][e], c, -base[e >> 1]));
                    sum[e >> 1] += s[nt][e];
                }
#pragma unroll
            for (int r = 0; r < 2; r++) l[r] = l[r] * alpha[r] + sum[r];
#pragma unroll
            for (int i = 0; i < HD / 8; i++) {
                o[i][0] *= alpha[0], o[i][1] *= alpha[0];
                o[i][2] *= alpha[1], o[i][3] *= alpha[1];
            }
            mma_pv<HD, BC / 8>(o, s, sV + buf * BC * LD, lane);
        }
        __syncthreads();
    }

    // rows g and g + 8 of this warp: out = O / l, lse; padded rows get 0 and 0
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int64_t i = r0 + g + r * 8;
        const float l_row = quad_sum(l[r]);
        if (i >= L) continue;
        const bool valid = i < n;
        const float inv = valid ? 1.0f / l_row : 0.0f;
#pragma unroll
        for (int en = 0; en < HD / 8; en++)
            *reinterpret_cast<__nv_bfloat162 *>(O + i * H * HD + en * 8 + 2 * t) =
                __floats2bfloat162_rn(o[en][2 * r] * inv, o[en][2 * r + 1] * inv);
        if (lse && t == 0) lse[i] = valid ? (m[r] * c + log2f(l_row)) * ATTN_LN2 : 0.0f;
    }
}

// ----------------------------------------------------------------------------- bf16 backward

/* D_i = dout_i·out_i for the 16 rows row0.. of shared tiles, for this lane's rows g and g+8:
 * lanes 2r and 2r+1 sum half a row each. */
template <int HD>
__device__ __forceinline__ void rows_dot16(float d[2], const bf16 *sA, const bf16 *sB, int row0,
                                           int lane) {
    const int r = lane >> 1, half = lane & 1;
    const bf16 *pa = sA + (row0 + r) * (HD + 8) + half * (HD / 2);
    const bf16 *pb = sB + (row0 + r) * (HD + 8) + half * (HD / 2);
    float acc = 0.0f;
#pragma unroll
    for (int e = 0; e < HD / 2; e += 2) {
        float2 x = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162 *>(pa + e));
        float2 y = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162 *>(pb + e));
        acc = fmaf(x.x, y.x, fmaf(x.y, y.y, acc));
    }
    acc += __shfl_xor_sync(0xffffffffu, acc, 1);
    const int g = lane >> 2;
    d[0] = __shfl_sync(0xffffffffu, acc, 2 * g);
    d[1] = __shfl_sync(0xffffffffu, acc, 2 * (g + 8));
}

template <int HD, int WARPS>
__global__ void __launch_bounds__(WARPS * 32) attn_bwd_dq_bf16(const AttnArgs a) {
    constexpr int BR = WARPS * 16, BC = ATTN_BC, LD = HD + 8, NT = WARPS * 32;
    extern __shared__ __align__(16) unsigned char smem_raw[];
    bf16 *sQ = reinterpret_cast<bf16 *>(smem_raw); // (BR, LD)
    bf16 *sdO = sQ + BR * LD;                      // (BR, LD)
    bf16 *sO = sdO + BR * LD;                      // (BR, LD)
    bf16 *sK = sO + BR * LD;                       // 2 × (BC, LD)
    bf16 *sV = sK + 2 * BC * LD;                   // 2 × (BC, LD)

    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
    const int h = blockIdx.y;
    const int64_t b = blockIdx.z, H = a.H, L = a.L;
    const int64_t tile = a.causal ? gridDim.x - 1 - blockIdx.x : blockIdx.x;
    const int64_t q0 = tile * BR, n = attn_valid_len(a, b);
    if (q0 >= n) return; // padded rows: no gradient
    const bf16 *Q = (const bf16 *)a.q + b * a.q_b + h * a.q_h;
    const bf16 *K = (const bf16 *)a.k + b * a.k_b + h * a.k_h;
    const bf16 *V = (const bf16 *)a.v + b * a.v_b + h * a.v_h;
    const int64_t row_off = (b * L * H + h) * HD; // out, dout: row l at + l·H·HD
    const bf16 *dO = (const bf16 *)a.dout + row_off, *Ob = (const bf16 *)a.out + row_off;
    const float *lse = a.lse + (b * H + h) * L;

    const int64_t kv_end = a.causal ? min(n, q0 + BR) : n;
    const int n_kt = (int)((kv_end + BC - 1) / BC);
    tile_load<BR, HD, NT>(sQ, Q + q0 * a.q_l, a.q_l, n - q0, Q, tid);
    tile_load<BR, HD, NT>(sdO, dO + q0 * H * HD, H * HD, n - q0, dO, tid);
    tile_load<BR, HD, NT>(sO, Ob + q0 * H * HD, H * HD, n - q0, Ob, tid);
    tile_load<BC, HD, NT>(sK, K, a.k_l, n, K, tid);
    tile_load<BC, HD, NT>(sV, V, a.v_l, n, V, tid);
    cp_async_commit();
    cp_async_wait<0>();
    __syncthreads();

    const int64_t r0 = q0 + warp * 16;
    uint32_t qf[HD / 16][4], df[HD / 16][4];
    frag_a<HD>(qf, sQ, warp * 16, lane);
    frag_a<HD>(df, sdO, warp * 16, lane);
    float D[2], lse2[2];
    rows_dot16<HD>(D, sdO, sO, warp * 16, lane);
#pragma unroll
    for (int r = 0; r < 2; r++) { // exp2 domain; padded rows: +inf makes p = 0
        int64_t i = r0 + g + r * 8;
        lse2[r] = i < n ? lse[i] * (float)ATTN_LOG2E : INFINITY;
    }
    float acc[HD / 8][4];
#pragma unroll
    for (int i = 0; i < HD / 8; i++) acc[i][0] = acc[i][1] = acc[i][2] = acc[i][3] = 0.0f;
    const float c = a.scale_log2;

    for (int kt = 0; kt < n_kt; kt++) {
        const int buf = kt & 1;
        if (kt + 1 < n_kt) {
            const int64_t k1 = (int64_t)(kt + 1) * BC;
            tile_load<BC, HD, NT>(sK + (buf ^ 1) * BC * LD, K + k1 * a.k_l, a.k_l, n - k1, K, tid);
            tile_load<BC, HD, NT>(sV + (buf ^ 1) * BC * LD, V + k1 * a.v_l, a.v_l, n - k1, V, tid);
        }
        cp_async_commit();
        cp_async_wait<1>();
        __syncthreads();
        const int64_t k0 = (int64_t)kt * BC;
        if (r0 < n && (!a.causal || k0 <= r0 + 15)) {
            float s[BC / 8][4], dp[BC / 8][4];
#pragma unroll
            for (int i = 0; i < BC / 8; i++)
                s[i][0] = s[i][1] = s[i][2] = s[i][3] = dp[i][0] = dp[i][1] = dp[i][2] =
                    dp[i][3] = 0.0f;
            mma_abt<HD, BC / 8>(s, qf, sK + buf * BC * LD, lane);
            mma_abt<HD, BC / 8>(dp, df, sV + buf * BC * LD, lane);
            const bool mask = k0 + BC > n || (a.causal && k0 + BC - 1 > r0);
#pragma unroll
            for (int nt = 0; nt < BC / 8; nt++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    float p = fast_exp2(fmaf(s[nt][e], c, -lse2[e >> 1]));
                    if (mask) {
                        int64_t j = k0 + nt * 8 + 2 * t + (e & 1), i = r0 + g + (e >> 1) * 8;
                        if (j >= n || (a.causal && j > i)) p = 0.0f;
                    }
                    s[nt][e] = p * (dp[nt][e] - D[e >> 1]); // dS
                }
            mma_pv<HD, BC / 8>(acc, s, sK + buf * BC * LD, lane);
        }
        __syncthreads();
    }

    if (!a.dq) return;
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int64_t i = r0 + g + r * 8;
        if (i >= n) continue;
        bf16 *dq = (bf16 *)a.dq + b * a.q_b + h * a.q_h + i * a.q_l;
#pragma unroll
        for (int en = 0; en < HD / 8; en++)
            add_bf16x2(dq + en * 8 + 2 * t, a.scale * acc[en][2 * r],
                       a.scale * acc[en][2 * r + 1]);
    }
}

template <int HD, int WARPS>
__global__ void __launch_bounds__(WARPS * 32) attn_bwd_dkdv_bf16(const AttnArgs a) {
    constexpr int BK = WARPS * 16, BQ = ATTN_BC, LD = HD + 8, NT = WARPS * 32;
    constexpr int TPR = NT / BQ; // threads per query row for D
    static_assert(NT % BQ == 0 && TPR >= 1 && TPR <= 32 && HD % TPR == 0, "D layout");
    extern __shared__ __align__(16) unsigned char smem_raw[];
    bf16 *sK = reinterpret_cast<bf16 *>(smem_raw); // (BK, LD)
    bf16 *sV = sK + BK * LD;                       // (BK, LD)
    bf16 *sQ = sV + BK * LD;                       // 2 × (BQ, LD)
    bf16 *sdO = sQ + 2 * BQ * LD;                  // 2 × (BQ, LD)
    bf16 *sO = sdO + 2 * BQ * LD;                  // 2 × (BQ, LD)
    float *sD = reinterpret_cast<float *>(sO + 2 * BQ * LD); // (BQ)
    float *sL = sD + BQ;                                      // (BQ) lse·log2 e, +inf if padded

    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
    const int h = blockIdx.y;
    const int64_t b = blockIdx.z, H = a.H, L = a.L;
    const int64_t k0 = (int64_t)blockIdx.x * BK, n = attn_valid_len(a, b); // key tile 0 first
    if (k0 >= n) return;
    const bf16 *Q = (const bf16 *)a.q + b * a.q_b + h * a.q_h;
    const bf16 *K = (const bf16 *)a.k + b * a.k_b + h * a.k_h;
    const bf16 *V = (const bf16 *)a.v + b * a.v_b + h * a.v_h;
    const int64_t row_off = (b * L * H + h) * HD;
    const bf16 *dO = (const bf16 *)a.dout + row_off, *Ob = (const bf16 *)a.out + row_off;
    const float *lse = a.lse + (b * H + h) * L;

    const int qt0 = a.causal ? (int)(k0 / BQ) : 0; // query tiles that see a key of this tile
    const int qt_end = (int)((n + BQ - 1) / BQ);
    tile_load<BK, HD, NT>(sK, K + k0 * a.k_l, a.k_l, n - k0, K, tid);
    tile_load<BK, HD, NT>(sV, V + k0 * a.v_l, a.v_l, n - k0, V, tid);
    {
        const int64_t i0 = (int64_t)qt0 * BQ;
        tile_load<BQ, HD, NT>(sQ, Q + i0 * a.q_l, a.q_l, n - i0, Q, tid);
        tile_load<BQ, HD, NT>(sdO, dO + i0 * H * HD, H * HD, n - i0, dO, tid);
        tile_load<BQ, HD, NT>(sO, Ob + i0 * H * HD, H * HD, n - i0, Ob, tid);
    }
    cp_async_commit();
    cp_async_wait<0>();
    __syncthreads();

    const int64_t j0 = k0 + warp * 16; // this warp's first key
    uint32_t kf[HD / 16][4], vf[HD / 16][4];
    frag_a<HD>(kf, sK, warp * 16, lane);
    frag_a<HD>(vf, sV, warp * 16, lane);
    float dk[HD / 8][4], dv[HD / 8][4];
#pragma unroll
    for (int i = 0; i < HD / 8; i++)
        dk[i][0] = dk[i][1] = dk[i][2] = dk[i][3] = dv[i][0] = dv[i][1] = dv[i][2] = dv[i][3] =
            0.0f;
    const float c = a.scale_log2;

    for (int qt = qt0; qt < qt_end; qt++) {
        const int buf = (qt - qt0) & 1;
        const int64_t i0 = (int64_t)qt * BQ;
        if (qt + 1 < qt_end) {
            const int64_t i1 = i0 + BQ;
            tile_load<BQ, HD, NT>(sQ + (buf ^ 1) * BQ * LD, Q + i1 * a.q_l, a.q_l, n - i1, Q, tid);
            tile_load<BQ, HD, NT>(sdO + (buf ^ 1) * BQ * LD, dO + i1 * H * HD, H * HD, n - i1, dO,
                                  tid);
            tile_load<BQ, HD, NT>(sO + (buf ^ 1) * BQ * LD, Ob + i1 * H * HD, H * HD, n - i1, Ob,
                                  tid);
        }
        cp_async_commit();
        cp_async_wait<1>();
        __syncthreads();
        { // D and lse of this query tile, TPR threads per row
            const int row = tid / TPR, part = tid % TPR;
            const bf16 *pa = sdO + buf * BQ * LD + row * LD + part * (HD / TPR);
            const bf16 *pb = sO + buf * BQ * LD + row * LD + part * (HD / TPR);
            float acc = 0.0f;
#pragma unroll
            for (int e = 0; e < HD / TPR; e += 2) {
                float2 x = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162 *>(pa + e));
                float2 y = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162 *>(pb + e));
                acc = fmaf(x.x, y.x, fmaf(x.y, y.y, acc));
            }
#pragma unroll
            for (int w = TPR / 2; w >= 1; w >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, w);
            if (part == 0) {
                sD[row] = acc;
                sL[row] = i0 + row < n ? lse[i0 + row] * (float)ATTN_LOG2E : INFINITY;
            }
        }
        __syncthreads();
        if (j0 < n && (!a.causal || i0 + BQ - 1 >= j0)) { // else every query is before the keys
            const bf16 *tQ = sQ + buf * BQ * LD, *tdO = sdO + buf * BQ * LD;
            float s[BQ / 8][4], dp[BQ / 8][4];
#pragma unroll
            for (int i = 0; i < BQ / 8; i++)
                s[i][0] = s[i][1] = s[i][2] = s[i][3] = dp[i][0] = dp[i][1] = dp[i][2] =
                    dp[i][3] = 0.0f;
            mma_abt<HD, BQ / 8>(s, kf, tQ, lane); // Sᵀ (keys × queries)
            const bool mask = a.causal && i0 < j0 + 15;
#pragma unroll
            for (int nt = 0; nt < BQ / 8; nt++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const int col = nt * 8 + 2 * t + (e & 1);
                    float p = fast_exp2(fmaf(s[nt][e], c, -sL[col]));
                    if (mask && i0 + col < j0 + g + (e >> 1) * 8) p = 0.0f;
                    s[nt][e] = p; // Pᵀ
                }
            mma_pv<HD, BQ / 8>(dv, s, tdO, lane);   // dV += Pᵀ·dO
            mma_abt<HD, BQ / 8>(dp, vf, tdO, lane); // dPᵀ = V·dOᵀ
#pragma unroll
            for (int nt = 0; nt < BQ / 8; nt++)
#pragma unroll
                for (int e = 0; e < 4; e++)
                    s[nt][e] *= dp[nt][e] - sD[nt * 8 + 2 * t + (e & 1)]; // dSᵀ
            mma_pv<HD, BQ / 8>(dk, s, tQ, lane); // dK += dSᵀ·Q
        }
        __syncthreads();
    }

#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int64_t j = j0 + g + r * 8;
        if (j >= n) continue;
        bf16 *pk = a.dk ? (bf16 *)a.dk + b * a.k_b + h * a.k_h + j * a.k_l : nullptr;
        bf16 *pv = a.dv ? (bf16 *)a.dv + b * a.v_b + h * a.v_h + j * a.v_l : nullptr;
#pragma unroll
        for (int en = 0; en < HD / 8; en++) {
            if (pk) add_bf16x2(pk + en * 8 + 2 * t, a.scale * dk[en][2 * r],
                               a.scale * dk[en][2 * r + 1]);
            if (pv) add_bf16x2(pv + en * 8 + 2 * t, dv[en][2 * r], dv[en][2 * r + 1]);
        }
    }
}

// ----------------------------------------------------------------------------- fp32 path

/* 4 lanes per row; lane u of a group owns dims d·4 + u (d < HD/4). */
#define F32_G 4
#define F32_ROWS 32 /* rows per block: 128 threads */
#define F32_TILE 32 /* keys (forward, dq) or queries (dk/dv) per shared tile */

__device__ __forceinline__ float group_sum(float x) {
    x += __shfl_xor_sync(0xffffffffu, x, 1);
    return x + __shfl_xor_sync(0xffffffffu, x, 2);
}

/* rows [0, F32_TILE) of a view into shared (F32_TILE, HD); rows >= valid become 0 */
template <int HD>
__device__ __forceinline__ void f32_tile_load(float *s, const float *g0, int64_t ld_g,
                                              int64_t valid, int tid) {
    for (int idx = tid; idx < F32_TILE * HD; idx += F32_ROWS * F32_G) {
        int r = idx / HD, e = idx % HD;
        s[idx] = r < valid ? g0[(int64_t)r * ld_g + e] : 0.0f;
    }
}

template <int HD>
__global__ void __launch_bounds__(F32_ROWS *F32_G) attn_fwd_f32(const AttnArgs a) {
    constexpr int DL = HD / F32_G; // dims per lane
    __shared__ float sK[F32_TILE * HD], sV[F32_TILE * HD];
    const int tid = threadIdx.x, u = tid % F32_G, row = tid / F32_G;
    const int h = blockIdx.y;
    const int64_t b = blockIdx.z, H = a.H, L = a.L;
    const int64_t tile = a.causal ? gridDim.x - 1 - blockIdx.x : blockIdx.x;
    const int64_t q0 = tile * F32_ROWS, i = q0 + row, n = attn_valid_len(a, b);
    const float *Q = (const float *)a.q + b * a.q_b + h * a.q_h;
    const float *K = (const float *)a.k + b * a.k_b + h * a.k_h;
    const float *V = (const float *)a.v + b * a.v_b + h * a.v_h;
    const bool valid = i < n;

    float q[DL], acc[DL];
#pragma unroll
    for (int d = 0; d < DL; d++) {
        q[d] = valid ? Q[i * a.q_l + d * F32_G + u] : 0.0f;
        acc[d] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    const int64_t kv_end = q0 >= n ? 0 : a.causal ? min(n, q0 + F32_ROWS) : n;
    for (int64_t j0 = 0; j0 < kv_end; j0 += F32_TILE) {
        __syncthreads();
        f32_tile_load<HD>(sK, K + j0 * a.k_l, a.k_l, n - j0, tid);
        f32_tile_load<HD>(sV, V + j0 * a.v_l, a.v_l, n - j0, tid);
        __syncthreads();
        // rows past the valid length run along (masked or zero inputs): the shuffles below
        // need every lane of the warp
        float sv[F32_TILE], mx = -INFINITY;
#pragma unroll
        for (int jj = 0; jj < F32_TILE; jj++) {
            float x = 0.0f;
#pragma unroll
            for (int d = 0; d < DL; d++) x = fmaf(q[d], sK[jj * HD + d * F32_G + u], x);
            x = group_sum(x) * a.scale;
            int64_t j = j0 + jj;
            if (j >= n || (a.causal && j > i)) x = -INFINITY;
            sv[jj] = x;
            mx = fmaxf(mx, x);
        }
        if (mx == -INFINITY) continue;
        const float m_new = fmaxf(m, mx), alpha = expf(m - m_new);
        float part[DL], psum = 0.0f;
#pragma unroll
        for (int d = 0; d < DL; d++) part[d] = 0.0f;
#pragma unroll
        for (int jj = 0; jj < F32_TILE; jj++) {
            float p = expf(sv[jj] - m_new);
            psum += p;
#pragma unroll
            for (int d = 0; d < DL; d++) part[d] = fmaf(p, sV[jj * HD + d * F32_G + u], part[d]);
        }
        l = l * alpha + psum;
#pragma unroll
        for (int d = 0; d < DL; d++) acc[d] = fmaf(acc[d], alpha, part[d]);
        m = m_new;
    }
    if (i >= L) return;
    float *out = (float *)a.o + ((b * L + i) * H + h) * HD;
#pragma unroll
    for (int d = 0; d < DL; d++) out[d * F32_G + u] = valid ? acc[d] / l : 0.0f;
    if (a.lse_out && u == 0) a.lse_out[(b * H + h) * L + i] = valid ? m + logf(l) : 0.0f;
}

template <int HD>
__global__ void __launch_bounds__(F32_ROWS *F32_G) attn_bwd_dq_f32(const AttnArgs a) {
    constexpr int DL = HD / F32_G;
    __shared__ float sK[F32_TILE * HD], sV[F32_TILE * HD];
    const int tid = threadIdx.x, u = tid % F32_G, row = tid / F32_G;
    const int h = blockIdx.y;
    const int64_t b = blockIdx.z, H = a.H, L = a.L;
    const int64_t tile = a.causal ? gridDim.x - 1 - blockIdx.x : blockIdx.x;
    const int64_t q0 = tile * F32_ROWS, i = q0 + row, n = attn_valid_len(a, b);
    if (q0 >= n) return;
    const float *Q = (const float *)a.q + b * a.q_b + h * a.q_h;
    const float *K = (const float *)a.k + b * a.k_b + h * a.k_h;
    const float *V = (const float *)a.v + b * a.v_b + h * a.v_h;
    const bool valid = i < n;
    const float *dO = (const float *)a.dout + ((b * L + i) * H + h) * HD;
    const float *Ob = (const float *)a.out + ((b * L + i) * H + h) * HD;

    float q[DL], dout[DL], acc[DL], Dp = 0.0f;
#pragma unroll
    for (int d = 0; d < DL; d++) {
        q[d] = valid ? Q[i * a.q_l + d * F32_G + u] : 0.0f;
        dout[d] = valid ? dO[d * F32_G + u] : 0.0f;
        Dp = fmaf(dout[d], valid ? Ob[d * F32_G + u] : 0.0f, Dp);
        acc[d] = 0.0f;
    }
    const float D = group_sum(Dp);
    const float lse_i = valid ? a.lse[(b * H + h) * L + i] : 0.0f;
    const int64_t kv_end = a.causal ? min(n, q0 + F32_ROWS) : n;
    for (int64_t j0 = 0; j0 < kv_end; j0 += F32_TILE) {
        __syncthreads();
        f32_tile_load<HD>(sK, K + j0 * a.k_l, a.k_l, n - j0, tid);
        f32_tile_load<HD>(sV, V + j0 * a.v_l, a.v_l, n - j0, tid);
        __syncthreads();
        // rows past the valid length run along (masked or zero inputs): the shuffles below
        // need every lane of the warp
        float part[DL];
#pragma unroll
        for (int d = 0; d < DL; d++) part[d] = 0.0f;
#pragma unroll 4
        for (int jj = 0; jj < F32_TILE; jj++) {
            float x = 0.0f, y = 0.0f;
#pragma unroll
            for (int d = 0; d < DL; d++) {
                x = fmaf(q[d], sK[jj * HD + d * F32_G + u], x);
                y = fmaf(dout[d], sV[jj * HD + d * F32_G + u], y);
            }
            x = group_sum(x), y = group_sum(y);
            int64_t j = j0 + jj;
            float p = (j >= n || (a.causal && j > i)) ? 0.0f : expf(x * a.scale - lse_i);
            float ds = p * (y - D);
#pragma unroll
            for (int d = 0; d < DL; d++) part[d] = fmaf(ds, sK[jj * HD + d * F32_G + u], part[d]);
        }
#pragma unroll
        for (int d = 0; d < DL; d++) acc[d] += part[d];
    }
    if (!valid || !a.dq) return;
    float *dq = (float *)a.dq + b * a.q_b + h * a.q_h + i * a.q_l;
#pragma unroll
    for (int d = 0; d < DL; d++) dq[d * F32_G + u] += a.scale * acc[d];
}

template <int HD>
__global__ void __launch_bounds__(F32_ROWS *F32_G) attn_bwd_dkdv_f32(const AttnArgs a) {
    constexpr int DL = HD / F32_G;
    __shared__ float sQ[F32_TILE * HD], sdO[F32_TILE * HD], sD[F32_TILE], sL[F32_TILE];
    const int tid = threadIdx.x, u = tid % F32_G, row = tid / F32_G;
    const int h = blockIdx.y;
    const int64_t b = blockIdx.z, H = a.H, L = a.L;
    const int64_t k0 = (int64_t)blockIdx.x * F32_ROWS, j = k0 + row, n = attn_valid_len(a, b);
    if (k0 >= n) return;
    const float *Q = (const float *)a.q + b * a.q_b + h * a.q_h;
    const float *K = (const float *)a.k + b * a.k_b + h * a.k_h;
    const float *V = (const float *)a.v + b * a.v_b + h * a.v_h;
    const float *dO = (const float *)a.dout + (b * L * H + h) * HD; // row i at + i·H·HD
    const float *Ob = (const float *)a.out + (b * L * H + h) * HD;
    const bool valid = j < n;

    float kr[DL], vr[DL], dk[DL], dv[DL];
#pragma unroll
    for (int d = 0; d < DL; d++) {
        kr[d] = valid ? K[j * a.k_l + d * F32_G + u] : 0.0f;
        vr[d] = valid ? V[j * a.v_l + d * F32_G + u] : 0.0f;
        dk[d] = dv[d] = 0.0f;
    }
    for (int64_t i0 = a.causal ? k0 : 0; i0 < n; i0 += F32_TILE) {
        __syncthreads();
        f32_tile_load<HD>(sQ, Q + i0 * a.q_l, a.q_l, n - i0, tid);
        f32_tile_load<HD>(sdO, dO + i0 * H * HD, H * HD, n - i0, tid);
        { // D and lse of query row `row` of the tile (F32_ROWS == F32_TILE)
            const int64_t i = i0 + row;
            float x = 0.0f;
            if (i < n)
#pragma unroll
                for (int d = 0; d < DL; d++)
                    x = fmaf(dO[i * H * HD + d * F32_G + u], Ob[i * H * HD + d * F32_G + u], x);
            x = group_sum(x);
            if (u == 0) {
                sD[row] = x;
                sL[row] = i < n ? a.lse[(b * H + h) * L + i] : INFINITY; // padded: p = 0
            }
        }
        __syncthreads();
        // rows past the valid length run along (masked or zero inputs): the shuffles below
        // need every lane of the warp
        float pk[DL], pv[DL];
#pragma unroll
        for (int d = 0; d < DL; d++) pk[d] = pv[d] = 0.0f;
#pragma unroll 4
        for (int ii = 0; ii < F32_TILE; ii++) {
            float x = 0.0f, y = 0.0f;
#pragma unroll
            for (int d = 0; d < DL; d++) {
                x = fmaf(kr[d], sQ[ii * HD + d * F32_G + u], x);
                y = fmaf(vr[d], sdO[ii * HD + d * F32_G + u], y);
            }
            x = group_sum(x), y = group_sum(y);
            float p = (a.causal && i0 + ii < j) ? 0.0f : expf(x * a.scale - sL[ii]);
            float ds = p * (y - sD[ii]);
#pragma unroll
            for (int d = 0; d < DL; d++) {
                pv[d] = fmaf(p, sdO[ii * HD + d * F32_G + u], pv[d]);
                pk[d] = fmaf(ds, sQ[ii * HD + d * F32_G + u], pk[d]);
            }
        }
#pragma unroll
        for (int d = 0; d < DL; d++) dk[d] += pk[d], dv[d] += pv[d];
    }
    if (!valid) return;
    if (a.dk) {
        float *p = (float *)a.dk + b * a.k_b + h * a.k_h + j * a.k_l;
#pragma unroll
        for (int d = 0; d < DL; d++) p[d * F32_G + u] += a.scale * dk[d];
    }
    if (a.dv) {
        float *p = (float *)a.dv + b * a.v_b + h * a.v_h + j * a.v_l;
#pragma unroll
        for (int d = 0; d < DL; d++) p[d * F32_G + u] += dv[d];
    }
}

// ----------------------------------------------------------------------------- RoPE

template <typename T> __device__ __forceinline__ float to_f(T x);
template <> __device__ __forceinline__ float to_f<float>(float x) { return x; }
template <> __device__ __forceinline__ float to_f<bf16>(bf16 x) { return __bfloat162float(x); }
template <typename T> __device__ __forceinline__ T from_f(float x);
template <> __device__ __forceinline__ float from_f<float>(float x) { return x; }
template <> __device__ __forceinline__ bf16 from_f<bf16>(float x) { return __float2bfloat16_rn(x); }

/* One thread per (b, l, c) for c < half + (hd − rot_dim), looping over the heads: c < half
 * rotates the pair (c, c + half), the rest copy (fwd) or add (bwd) dim rot_dim + c − half.
 * fwd: out (contiguous) = RoPE(x view); bwd: dx (view) += RoPE⁻¹(dout contiguous). */
template <typename T, bool BWD>
__global__ void rope_kernel(T *dst, const T *src, RopeShape s) {
    const int half = s.rot_dim / 2, ncol = half + (s.hd - s.rot_dim);
    const int64_t total = s.B * s.L * ncol;
    for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < total;
         idx += (int64_t)gridDim.x * blockDim.x) {
        const int cidx = (int)(idx % ncol);
        const int64_t l = (idx / ncol) % s.L, b = idx / ((int64_t)ncol * s.L);
        float cf = 1.0f, sf = 0.0f;
        if (cidx < half) { // exactly the CPU's angle: double, then rounded to float
            double theta = (double)(s.pos0 + l) * pow((double)s.base, -2.0 * cidx / s.rot_dim);
            double sn, cs;
            sincos(theta, &sn, &cs);
            cf = (float)cs, sf = (float)sn;
        }
        for (int h = 0; h < s.H; h++) {
            // view row (x or dx) and contiguous row (out or dout)
            const int64_t vrow = b * s.x.batch + l * s.x.pos + h * s.x.head;
            const int64_t crow = ((b * s.L + l) * s.H + h) * s.hd;
            if (cidx < half) {
                const int64_t e1 = cidx, e2 = cidx + half;
                if (!BWD) {
                    float x1 = to_f(src[vrow + e1]), x2 = to_f(src[vrow + e2]);
                    dst[crow + e1] = from_f<T>(__fsub_rn(__fmul_rn(x1, cf), __fmul_rn(x2, sf)));
                    dst[crow + e2] = from_f<T>(__fadd_rn(__fmul_rn(x2, cf), __fmul_rn(x1, sf)));
                } else {
                    float d1 = to_f(src[crow + e1]), d2 = to_f(src[crow + e2]);
                    float g1 = __fadd_rn(__fmul_rn(d1, cf), __fmul_rn(d2, sf));
                    float g2 = __fsub_rn(__fmul_rn(d2, cf), __fmul_rn(d1, sf));
                    dst[vrow + e1] = from_f<T>(__fadd_rn(to_f(dst[vrow + e1]), g1));
                    dst[vrow + e2] = from_f<T>(__fadd_rn(to_f(dst[vrow + e2]), g2));
                }
            } else {
                const int64_t e = s.rot_dim + (cidx - half);
                if (!BWD)
                    dst[crow + e] = src[vrow + e];
                else
                    dst[vrow + e] = from_f<T>(__fadd_rn(to_f(dst[vrow + e]), to_f(src[crow + e])));
            }
        }
    }
}

// ----------------------------------------------------------------------------- launchers

/* bf16 configurations (warps per block); kernels/dev/attention.cu times the alternatives. */
#ifndef ATTN_FWD_WARPS
#define ATTN_FWD_WARPS 4
#endif
#ifndef ATTN_DQ_WARPS
#define ATTN_DQ_WARPS 4
#endif
#ifndef ATTN_DKDV_WARPS
#define ATTN_DKDV_WARPS 4
#endif
#define ATTN_MAX_GRID_YZ 65535

static int64_t cdiv(int64_t x, int64_t y) { return (x + y - 1) / y; }

static void attn_args_fill(AttnArgs *a, const AttentionShape *s) {
    memset(a, 0, sizeof *a);
    a->lengths = s->lengths;
    a->L = s->L, a->H = s->H, a->causal = s->causal != 0;
    a->q_b = s->q.batch, a->q_l = s->q.pos, a->q_h = s->q.head;
    a->k_b = s->k.batch, a->k_l = s->k.pos, a->k_h = s->k.head;
    a->v_b = s->v.batch, a->v_l = s->v.pos, a->v_h = s->v.head;
    a->scale = s->scale > 0.0f ? s->scale : 1.0f / sqrtf((float)s->hd); // as the CPU
    a->scale_log2 = (float)(a->scale * ATTN_LOG2E);
}

/* 16-byte alignment of a bf16 tensor's base (cp.async moves 16-byte rows) */
static int attn_aligned(const char *fn, const char *name, const void *p) {
    if ((uintptr_t)p % 16)
        return ls_error(LS_ERR_UNSUPPORTED, "%s: bf16 %s at %p is not 16-byte aligned", fn, name,
                        p);
    return 0;
}

/* STYLE 22: what the kernels below serve; every launcher calls this first. */
extern "C" int attention_cuda_supported(const AttentionShape *s) {
    int status = attention_check("attention_cuda", s, 0);
    if (status) return status;
    if (s->hd != 32 && s->hd != 64 && s->hd != 128)
        return ls_error(LS_ERR_UNSUPPORTED, "attention_cuda: head dim %d not served (CUDA kernels "
                        "exist for hd = 32, 64, 128; B=%lld L=%lld H=%d)", s->hd,
                        (long long)s->B, (long long)s->L, s->H);
    if (s->B > ATTN_MAX_GRID_YZ || s->H > ATTN_MAX_GRID_YZ)
        return ls_error(LS_ERR_UNSUPPORTED, "attention_cuda: B=%lld H=%d: at most %d each",
                        (long long)s->B, s->H, ATTN_MAX_GRID_YZ);
    if (s->dtype == DTYPE_BF16) {
        const AttentionView *views[3] = {&s->q, &s->k, &s->v};
        for (int t = 0; t < 3; t++)
            if (views[t]->batch % 8 || views[t]->pos % 8 || views[t]->head % 8)
                return ls_error(LS_ERR_UNSUPPORTED, "attention_cuda: bf16 view %c strides (batch "
                                "%lld, pos %lld, head %lld) must be multiples of 8 elements",
                                "qkv"[t], (long long)views[t]->batch, (long long)views[t]->pos,
                                (long long)views[t]->head);
    }
    return 0;
}

template <typename K>
static cudaError_t attn_launch(K kernel, dim3 grid, int threads, int smem, cudaStream_t stream,
                               const AttnArgs &a) {
    if (smem > 48 * 1024) {
        cudaError_t e =
            cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
        if (e != cudaSuccess) return e;
    }
    kernel<<<grid, threads, smem, stream>>>(a);
    return cudaGetLastError();
}

template <int HD, int WARPS>
static cudaError_t attn_fwd_bf16_launch(const AttnArgs &a, int64_t B, cudaStream_t st) {
    dim3 grid((unsigned)cdiv(a.L, WARPS * 16), a.H, (unsigned)B);
    return attn_launch(attn_fwd_bf16<HD, WARPS>, grid, WARPS * 32, fwd_smem_bytes<HD, WARPS>(),
                       st, a);
}
template <int HD, int WARPS>
static cudaError_t attn_dq_bf16_launch(const AttnArgs &a, int64_t B, cudaStream_t st) {
    dim3 grid((unsigned)cdiv(a.L, WARPS * 16), a.H, (unsigned)B);
    return attn_launch(attn_bwd_dq_bf16<HD, WARPS>, grid, WARPS * 32, dq_smem_bytes<HD, WARPS>(),
                       st, a);
}
template <int HD, int WARPS>
static cudaError_t attn_dkdv_bf16_launch(const AttnArgs &a, int64_t B, cudaStream_t st) {
    dim3 grid((unsigned)cdiv(a.L, WARPS * 16), a.H, (unsigned)B);
    return attn_launch(attn_bwd_dkdv_bf16<HD, WARPS>, grid, WARPS * 32,
                       dkdv_smem_bytes<HD, WARPS>(), st, a);
}
template <int HD>
static cudaError_t attn_f32_launch(const AttnArgs &a, int64_t B, cudaStream_t st, int pass) {
    dim3 grid((unsigned)cdiv(a.L, F32_ROWS), a.H, (unsigned)B);
    if (pass == 0) return attn_launch(attn_fwd_f32<HD>, grid, F32_ROWS * F32_G, 0, st, a);
    if (pass == 1) return attn_launch(attn_bwd_dq_f32<HD>, grid, F32_ROWS * F32_G, 0, st, a);
    return attn_launch(attn_bwd_dkdv_f32<HD>, grid, F32_ROWS * F32_G, 0, st, a);
}

/* one switch over the head dims the kernels are built for (attention_cuda_supported) */
#define ATTN_HD_SWITCH(hd, CALL)                                                               \
    ((hd) == 32 ? CALL(32) : (hd) == 64 ? CALL(64) : CALL(128))

extern "C" int attention_fwd_cuda(float *out, float *lse, const float *q, const float *k,
                                  const float *v, const AttentionShape *s) {
    // out (B, L, H, hd); lse (B, H, L) or NULL; q, k, v views (B, L, H, hd)
    int status = attention_cuda_supported(s);
    if (status) return status;
    if (!out || !q || !k || !v)
        return ls_error(LS_ERR_USAGE, "%s: out, q, k and v must not be NULL", __func__);
    if (s->B == 0 || s->L == 0) return 0;
    {
        cudaStream_t st = (cudaStream_t)s->stream;
        AttnArgs a;
        attn_args_fill(&a, s);
        a.q = q, a.k = k, a.v = v, a.o = out, a.lse_out = lse;
        if (s->dtype == DTYPE_BF16) {
            if ((status = attn_aligned(__func__, "q", q)) ||
                (status = attn_aligned(__func__, "k", k)) ||
                (status = attn_aligned(__func__, "v", v)) ||
                (status = attn_aligned(__func__, "out", out)))
                return status;
#define FWD(HD) attn_fwd_bf16_launch<HD, ATTN_FWD_WARPS>(a, s->B, st)
            CUDA_RT(ATTN_HD_SWITCH(s->hd, FWD));
#undef FWD
        } else {
#define FWD(HD) attn_f32_launch<HD>(a, s->B, st, 0)
            CUDA_RT(ATTN_HD_SWITCH(s->hd, FWD));
#undef FWD
        }
        if (cuda_sync_after_launch()) CUDA_RT(cudaStreamSynchronize(st));
    }
fail:
    return status;
}

extern "C" int attention_bwd_cuda(float *dq, float *dk, float *dv, const float *dout,
                                  const float *q, const float *k, const float *v,
                                  const float *out, const float *lse, const AttentionShape *s) {
    // dq, dk, dv views or NULL; dout, out (B, L, H, hd); q, k, v views; lse (B, H, L)
    int status = attention_cuda_supported(s);
    if (status) return status;
    if (!dout || !q || !k || !v || !out || !lse)
        return ls_error(LS_ERR_USAGE, "%s: dout, q, k, v, out and lse must not be NULL",
                        __func__);
    if (s->B == 0 || s->L == 0 || (!dq && !dk && !dv)) return 0;
    {
        cudaStream_t st = (cudaStream_t)s->stream;
        AttnArgs a;
        attn_args_fill(&a, s);
        a.q = q, a.k = k, a.v = v, a.out = out, a.dout = dout, a.lse = lse;
        a.dq = dq, a.dk = dk, a.dv = dv;
        if (s->dtype == DTYPE_BF16) {
            const void *ptrs[8] = {q, k, v, out, dout, dq, dk, dv};
            const char *names[8] = {"q", "k", "v", "out", "dout", "dq", "dk", "dv"};
            for (int i = 0; i < 8; i++)
                if (ptrs[i] && (status = attn_aligned(__func__, names[i], ptrs[i]))) return status;
#define DQ(HD) attn_dq_bf16_launch<HD, ATTN_DQ_WARPS>(a, s->B, st)
#define DKDV(HD) attn_dkdv_bf16_launch<HD, ATTN_DKDV_WARPS>(a, s->B, st)
            if (dq) CUDA_RT(ATTN_HD_SWITCH(s->hd, DQ));
            if (dk || dv) CUDA_RT(ATTN_HD_SWITCH(s->hd, DKDV));
#undef DQ
#undef DKDV
        } else {
#define DQ(HD) attn_f32_launch<HD>(a, s->B, st, 1)
#define DKDV(HD) attn_f32_launch<HD>(a, s->B, st, 2)
            if (dq) CUDA_RT(ATTN_HD_SWITCH(s->hd, DQ));
            if (dk || dv) CUDA_RT(ATTN_HD_SWITCH(s->hd, DKDV));
#undef DQ
#undef DKDV
        }
        if (cuda_sync_after_launch()) CUDA_RT(cudaStreamSynchronize(st));
    }
fail:
    return status;
}

static int rope_launch(void *dst, const void *src, const RopeShape *s, bool bwd) {
    int status = 0;
    const int ncol = s->rot_dim / 2 + (s->hd - s->rot_dim);
    const int64_t total = s->B * s->L * ncol;
    const int threads = 256;
    const unsigned blocks = (unsigned)(total / threads + 1 < 65536 * 8 ? total / threads + 1
                                                                       : 65536 * 8);
    cudaStream_t st = (cudaStream_t)s->stream;
    if (s->dtype == DTYPE_BF16) {
        bf16 *d = (bf16 *)dst;
        const bf16 *x = (const bf16 *)src;
        if (bwd)
            rope_kernel<bf16, true><<<blocks, threads, 0, st>>>(d, x, *s);
        else
            rope_kernel<bf16, false><<<blocks, threads, 0, st>>>(d, x, *s);
    } else {
        float *d = (float *)dst;
        const float *x = (const float *)src;
        if (bwd)
            rope_kernel<float, true><<<blocks, threads, 0, st>>>(d, x, *s);
        else
            rope_kernel<float, false><<<blocks, threads, 0, st>>>(d, x, *s);
    }
    CUDA_RT(cudaGetLastError());
    if (cuda_sync_after_launch()) CUDA_RT(cudaStreamSynchronize(st));
fail:
    return status;
}

extern "C" int attention_rope_fwd_cuda(float *out, const float *x, const RopeShape *s) {
    // out (B, L, H, hd); x view (B, L, H, hd)
    int status = attention_rope_check(__func__, s);
    if (status) return status;
    if (!out || !x) return ls_error(LS_ERR_USAGE, "%s: out and x must not be NULL", __func__);
    if (s->B == 0 || s->L == 0) return 0;
    return rope_launch(out, x, s, false);
}

extern "C" int attention_rope_bwd_cuda(float *dx, const float *dout, const RopeShape *s) {
    // dx view (B, L, H, hd); dout (B, L, H, hd)
    int status = attention_rope_check(__func__, s);
    if (status) return status;
    if (!dx || !dout) return ls_error(LS_ERR_USAGE, "%s: dx and dout must not be NULL", __func__);
    if (s->B == 0 || s->L == 0) return 0;
    return rope_launch(dx, dout, s, true);
}
