/*
 * scan.cu — the Mamba-1 selective scan on the GPU: scan_fwd_cuda, scan_bwd_cuda, scan_step_cuda
 * and scan_cuda_supported behind kernels/scan.h. Must match the CPU specification
 * kernels/cpu/scan.c within the tolerances of tests/gpu/parity_scan.c (`make test-gpu`).
 * The algorithm, its floors and the measured versions that led here: docs/scan.md "GPU",
 * kernels/dev/scan.cu (numbered versions and their harness), bench/NOTES.md.
 *
 * Why it is shaped this way. At batch 1 and D = 1024 there are only 1024 independent channel
 * recurrences: one thread per channel walking all of L fills 32 warps of a 132-SM GPU. The
 * recurrence is linear, so L is cut into chunks that run in parallel and are stitched with
 * the decay products: the product of exp(Δ·A) over a chunk is exp(A·ΣΔ), so a chunk's effect
 * on the state that enters it is one multiply per state, given one number per channel (ΣΔ).
 *
 * Forward (3 launches; lane = channel, so every activation load is one coalesced row):
 *   fwd_local  one thread per (chunk, channel): the chunk from a zero state; writes its end
 *              state and ΣΔ into `out` (scratch: rows of the thread's own column of its own
 *              chunk, which only this thread writes later);
 *   fwd_fix    one thread per (channel, state): walks the chunks in order, turning local end
 *              states into the true state entering each chunk (written over the scratch);
 *   fwd_out    one thread per (chunk, channel): from the true state, the recurrence again, with
 *              the C readout, D skip and SiLU(z) gate; writes out, checkpoints, h_final.
 *   The chunks are sized so fwd_out is one full wave of the GPU. Per token, B_t and C_t are
 *   staged once per block in shared memory for its 128 channels; the state (N floats) and
 *   A·log2(e) live in registers; the decay is one ex2.approx (MUFU) per (t, d, n).
 *
 * Backward (5 launches; windows = the checkpoint chunks of T = a->chunk tokens):
 *   bwd_local  one thread per (window, channel), lane = channel: the reverse recurrence of the
 *              state gradient over the window from zero, plus ΣΔ → workspace;
 *   bwd_fix    one thread per (channel, state): walks the windows from the last, giving the
 *              true state gradient entering each window from its right (dh_final first);
 *   bwd_window one block per (window, channel group): the work. A warp owns one channel of
 *              the window, lane = 1/32 of its tokens (J = T/32 each); for each state n it
 *              recomputes the decays, runs the forward scan from the checkpoint and the
 *              reverse scan from the fix-up's gradient (lane-local, then 5 shuffle steps
 *              each), and forms every gradient term. Channel sums (dB, dC) go through
 *              shared memory in a fixed warp order; dA, dD, ddelta_bias per (window,
 *              channel) go to the workspace; du, ddelta, dz are staged and added coalesced;
 *   param_reduce, bc_reduce: the per-window (and, for short L, per-channel-group) partial
 *              sums added into dA, dD, ddelta_bias, dB, dC in a fixed order.
 *   Nothing uses atomics: two runs give the same bytes.
 *
 * Step: one thread per (batch, channel), the same per-token arithmetic as fwd_out.
 *
 * Indexing is 64-bit wherever a product of sizes can pass 2^31 (L up to 2^40).
 */
#include <cuda_bf16.h>
#include <stdint.h>

#include "kernels/cuda/cuda_common.cuh"
#include "kernels/scan.h"

namespace {

constexpr float LOG2E = 1.4426950408889634f;
constexpr unsigned FULL = 0xffffffffu;

// Forward and bwd_local: 128 channels per block, tiles of 8 tokens staged per block.
constexpr int FWD_THREADS = 128;
constexpr int FWD_TT = 8;
// bwd_window: 8 warps, 2 channels per warp at a time → 16 channels per iteration.
constexpr int BWD_WARPS = 8;
constexpr int BWD_CPW = 2;
constexpr int BWD_CI = BWD_WARPS * BWD_CPW;
constexpr int BWD_PAD = 4;              // row padding (floats) of the transposed tiles
constexpr int BWD_BLOCKS_TARGET = 256;  // fewer windows than this: split the channels
constexpr size_t BWD_SMEM_MAX = 232448; // sm_90 opt-in shared memory per block (227 KiB)

// Everything a kernel reads from ScanArgs, by value (the pointers are device pointers; the
// activation pointers are `const void *` because their type is the dtype's).
struct ScanDev {
    int64_t B, L, D, N, T;
    int sp;
    const void *u, *delta, *z, *Bm, *Cm;
    int64_t usb, usl, dsb, dsl, zsb, zsl, bsb, bsl, csb, csl;
    const float *A, *Dsk, *bias, *h0;
    const uint8_t *reset; // packed sequences: nonzero where one starts (decay 0 there)
    int64_t rsb, rsl;
    void *out;
    int64_t osb, osl;
    float *h_final, *ckpt;
    const void *dout;
    int64_t gsb, gsl;
    const float *dh_final;
    void *du, *ddelta, *dz, *dB, *dC;
    int64_t dusb, dusl, ddsb, ddsl, dzsb, dzsl, dbsb, dbsl, dcsb, dcsl;
    float *dA, *dDsk, *dbias, *dh0;
    float *ws, *part;
    float *state;
    int64_t nch;    // forward chunks
    int64_t nw;     // backward windows = ceil(L / T)
    int64_t P, CR;  // backward channel groups and channels per group
};

ScanDev dev_view(const ScanArgs *a) {
    ScanDev p = {};
    p.B = a->B, p.L = a->L, p.D = a->D, p.N = a->N, p.T = a->chunk;
    p.sp = a->delta_softplus;
    p.u = a->u, p.delta = a->delta, p.z = a->z, p.Bm = a->B_ssm, p.Cm = a->C_ssm;
    p.usb = a->u_stride_b, p.usl = a->u_stride_l;
    p.dsb = a->delta_stride_b, p.dsl = a->delta_stride_l;
    p.zsb = a->z_stride_b, p.zsl = a->z_stride_l;
    p.bsb = a->B_ssm_stride_b, p.bsl = a->B_ssm_stride_l;
    p.csb = a->C_ssm_stride_b, p.csl = a->C_ssm_stride_l;
    p.A = a->A, p.Dsk = a->D_skip, p.bias = a->delta_bias, p.h0 = a->h0;
    p.reset = a->reset, p.rsb = a->reset_stride_b, p.rsl = a->reset_stride_l;
    p.out = a->out, p.osb = a->out_stride_b, p.osl = a->out_stride_l;
    p.h_final = a->h_final, p.ckpt = a->ckpt;
    p.dout = a->dout, p.gsb = a->dout_stride_b, p.gsl = a->dout_stride_l;
    p.dh_final = a->dh_final;
    p.du = a->du, p.dusb = a->du_stride_b, p.dusl = a->du_stride_l;
    p.ddelta = a->ddelta, p.ddsb = a->ddelta_stride_b, p.ddsl = a->ddelta_stride_l;
    p.dz = a->dz, p.dzsb = a->dz_stride_b, p.dzsl = a->dz_stride_l;
    p.dB = a->dB_ssm, p.dbsb = a->dB_ssm_stride_b, p.dbsl = a->dB_ssm_stride_l;
    p.dC = a->dC_ssm, p.dcsb = a->dC_ssm_stride_b, p.dcsl = a->dC_ssm_stride_l;
    p.dA = a->dA, p.dDsk = a->dD_skip, p.dbias = a->ddelta_bias, p.dh0 = a->dh0;
    p.state = a->state;
    return p;
}

// ---------------------------------------------------------------------------------------------
// element access and scalar math (shared by every kernel, so forward, step and backward agree)

__device__ __forceinline__ float ld(const float *p) { return __ldg(p); }
__device__ __forceinline__ float ld(const __nv_bfloat16 *p) { return __bfloat162float(__ldg(p)); }
// Plain loads for memory the same launch also writes (gradients accumulated in place).
__device__ __forceinline__ float ldp(const float *p) { return *p; }
__device__ __forceinline__ float ldp(const __nv_bfloat16 *p) { return __bfloat162float(*p); }
__device__ __forceinline__ void st(float *p, float v) { *p = v; }
__device__ __forceinline__ void st(__nv_bfloat16 *p, float v) { *p = __float2bfloat16_rn(v); }
template <typename T> __device__ __forceinline__ void add_to(T *p, float v) { st(p, ldp(p) + v); }
// Raw loads kept unconverted in prefetch registers (a bf16 → fp32 conversion right after the
// load would make the thread wait for it), converted when used.
template <typename T> __device__ __forceinline__ T ldr(const T *p) { return __ldg(p); }
__device__ __forceinline__ float to_f(float x) { return x; }
__device__ __forceinline__ float to_f(__nv_bfloat16 x) { return __bfloat162float(x); }
template <typename T> __device__ __forceinline__ T zero_of() { return T(0.0f); }

// 2^x in one MUFU instruction (≈ 2 ulp; results below 2^-126 flush to 0, as the CPU's exp
// returns 0 below −87).
__device__ __forceinline__ float ex2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

/*
 * 2^x on the FMA pipe, for x <= 0 (decays): x = k + f with k = round(x) (the 1.5·2^23 trick
 * leaves k in the low mantissa bits), 2^f by a degree-6 polynomial fitted to relative error on
 * [−½, ½] (≤ 1.3 ulp in fp32 Horner form), 2^k added to the exponent bits. Below −125 the
 * result is ~2^−125 instead of a smaller number (absolute error < 3e−38). About 12 FP32/ALU
 * instructions instead of one MUFU: the forward is MUFU-bound, so a few of the N decays per token
 * can move here (kernels/dev/scan.cu versions 4–6 measure how many).
 */
__device__ __forceinline__ float exp2_poly(float x) {
    x = fmaxf(x, -125.0f);
    const float m = x + 12582912.0f, f = x - (m - 12582912.0f);
    float q = 1.5337577e-4f;
    q = fmaf(q, f, 1.3399860e-3f);
    q = fmaf(q, f, 9.6185198e-3f);
    q = fmaf(q, f, 5.5503290e-2f);
    q = fmaf(q, f, 2.4022646e-1f);
    q = fmaf(q, f, 6.9314718e-1f);
    q = fmaf(q, f, 1.0f);
    return __int_as_float(__float_as_int(q) + (__float_as_int(m) << 23));
}

// The decay of state n: states n >= NT − POLY use the polynomial (POLY = 0 in production).
template <int NT, int POLY> __device__ __forceinline__ float decay(float x, int n) {
    return n >= NT - POLY ? exp2_poly(x) : ex2(x);
}

// softplus with mamba_ssm's (and the CPU spec's) threshold, from accurate libdevice functions:
// dt multiplies every decay exponent, so its error reaches every state.
__device__ __forceinline__ float softplus_f(float x) { return x > 20.0f ? x : log1pf(expf(x)); }
// σ(x) from the fast intrinsics (2 MUFU operations, ≈ 1e-6 relative for |x| ≤ 20: it only scales
// one output or gradient element); 0 below x ≈ −88, 1 above ≈ 17, as the CPU's.
__device__ __forceinline__ float sigmoid_f(float x) { return __fdividef(1.0f, 1.0f + __expf(-x)); }
__device__ __forceinline__ float dt_of(float delta, float bias, int sp) {
    float x = delta + bias;
    return sp ? softplus_f(x) : x;
}

/*
 * Packed sequences. reset_mask: bit i set when token tn + i·dir (i < count) starts a sequence;
 * the same bits for every thread of a block (one batch row), so branches on it are uniform.
 * A chunk or window that holds a start passes nothing of the state entering it: its ΣΔ is
 * marked +inf, and carry_decay(A2, ΣΔ) = exp2(A2·ΣΔ) is then exactly 0 (also when A = 0).
 */
__device__ __forceinline__ uint32_t reset_mask(const ScanDev &p, int64_t b, int64_t tn, int dir,
                                               int count) {
    uint32_t m = 0;
    if (p.reset) {
        const uint8_t *r = p.reset + b * p.rsb + tn * p.rsl;
        for (int i = 0; i < count; i++, r += dir * p.rsl)
            if (*r) m |= 1u << i;
    }
    return m;
}
__device__ __forceinline__ float carry_decay(float A2, float S) {
    return S == INFINITY ? 0.0f : ex2(A2 * S);
}

// The forward's per-chunk scratch lives in `out`: row r of the thread's own column holds one
// float (fp32), or its two halves in rows 2r, 2r+1 (bf16). See fwd_local.
__device__ __forceinline__ void scratch_put(float *col, int64_t sl, int r, float v) {
    col[r * sl] = v;
}
__device__ __forceinline__ float scratch_get(const float *col, int64_t sl, int r) {
    return col[r * sl];
}
__device__ __forceinline__ void scratch_put(__nv_bfloat16 *col, int64_t sl, int r, float v) {
    uint32_t bits = __float_as_uint(v);
    unsigned short *c = reinterpret_cast<unsigned short *>(col);
    c[(int64_t)(2 * r) * sl] = (unsigned short)(bits & 0xffffu);
    c[(int64_t)(2 * r + 1) * sl] = (unsigned short)(bits >> 16);
}
__device__ __forceinline__ float scratch_get(const __nv_bfloat16 *col, int64_t sl, int r) {
    const unsigned short *c = reinterpret_cast<const unsigned short *>(col);
    uint32_t lo = c[(int64_t)(2 * r) * sl], hi = c[(int64_t)(2 * r + 1) * sl];
    return __uint_as_float(lo | (hi << 16));
}

// Rows of scratch one chunk needs: N states and ΣΔ.
__host__ __device__ inline int64_t scratch_rows(int64_t N, bool bf16) {
    return (bf16 ? 2 : 1) * (N + 1);
}

// First token of forward chunk c: chunks differ in length by at most one token.
__device__ __forceinline__ int64_t chunk_start(int64_t c, const ScanDev &p) {
    return c * p.L / p.nch;
}

// ---------------------------------------------------------------------------------------------
// forward

/*
 * Per-thread register prefetch of one tile of FWD_TT tokens (this thread's channel) and of
 * this thread's share of the block's B/C tile, so the loads of tile k+1 are in flight while
 * tile k is computed. States n >= N (NT is N rounded up to a compiled size) see A = 0 and
 * B = C = 0: their decay is 1 and their state stays 0, so the hot loop needs no guards.
 */
template <int NT> struct TileRegs {
    static constexpr int EPT = (FWD_TT * NT + FWD_THREADS - 1) / FWD_THREADS;
};

template <int NT, typename T>
__device__ __forceinline__ void load_bc(T (&dst)[TileRegs<NT>::EPT], const T *base,
                                        int64_t stride_l, int64_t N, int64_t tn, int64_t t1,
                                        bool reverse) {
#pragma unroll
    for (int k = 0; k < TileRegs<NT>::EPT; k++) {
        const int e = threadIdx.x + k * FWD_THREADS, i = e / NT, n = e % NT;
        const int64_t t = reverse ? tn - 1 - i : tn + i;
        const bool ok = i < FWD_TT && n < N && (reverse ? t >= t1 : t < t1);
        dst[k] = ok ? ldr(base + t * stride_l + n) : zero_of<T>();
    }
}

template <int NT, typename T>
__device__ __forceinline__ void store_bc(float (*tile)[NT], const T (&src)[TileRegs<NT>::EPT]) {
#pragma unroll
    for (int k = 0; k < TileRegs<NT>::EPT; k++) {
        const int e = threadIdx.x + k * FWD_THREADS;
        if (e < FWD_TT * NT) tile[e / NT][e % NT] = to_f(src[k]);
    }
}

/*
 * fwd_local: chunk c (< nch − 1) of channel d from a zero state. Leaves the chunk's end state
 * and ΣΔ in the scratch rows of (chunk c, channel d) of `out` (fwd_fix reads them).
 */
template <int NT, typename T, int POLY = 0>
__global__ void __launch_bounds__(FWD_THREADS, NT <= 16 ? 4 : 1) fwd_local_kernel(const ScanDev p) {
    __shared__ __align__(16) float sB[FWD_TT][NT];
    constexpr int EPT = TileRegs<NT>::EPT;
    const int64_t b = blockIdx.z, c = blockIdx.y;
    const int64_t d = (int64_t)blockIdx.x * FWD_THREADS + threadIdx.x;
    const bool active = d < p.D;
    const int64_t dd = active ? d : 0;
    const int64_t t0 = chunk_start(c, p), t1 = chunk_start(c + 1, p);
    const T *up = (const T *)p.u + b * p.usb + dd;
    const T *dp = (const T *)p.delta + b * p.dsb + dd;
    const T *Bp = (const T *)p.Bm + b * p.bsb;

    float A2[NT], h[NT];
#pragma unroll
    for (int n = 0; n < NT; n++) {
        A2[n] = (active && n < p.N) ? p.A[dd * p.N + n] * LOG2E : 0.0f;
        h[n] = 0.0f;
    }
    const float bias = (active && p.bias) ? p.bias[dd] : 0.0f;
    float S = 0.0f;

    // Per-thread pointers walk the tokens (one 64-bit add per load, no index products).
    const T *un = up + t0 * p.usl, *dn = dp + t0 * p.dsl;
    const int64_t ustep = p.usl, dstep = p.dsl;
    T pu[FWD_TT], pd[FWD_TT], pb[EPT];
    uint32_t pr = 0;
    auto prefetch = [&](int64_t tn) {
        const int rem = (int)min((int64_t)FWD_TT, t1 - tn);
#pragma unroll
        for (int i = 0; i < FWD_TT; i++) {
            const bool ok = active && i < rem;
            pu[i] = ok ? ldr(un) : zero_of<T>();
            pd[i] = ok ? ldr(dn) : zero_of<T>();
            un += ustep, dn += dstep;
        }
        load_bc<NT>(pb, Bp, p.bsl, p.N, tn, t1, false);
        pr = reset_mask(p, b, tn, 1, rem);
    };
    prefetch(t0);

    for (int64_t tn = t0; tn < t1; tn += FWD_TT) {
        __syncthreads(); // the previous tile's readers are done with sB
        store_bc<NT>(sB, pb);
        float cu[FWD_TT], cd[FWD_TT];
#pragma unroll
        for (int i = 0; i < FWD_TT; i++) cu[i] = to_f(pu[i]), cd[i] = to_f(pd[i]);
        const uint32_t cr = pr;
        __syncthreads();
        if (tn + FWD_TT < t1) prefetch(tn + FWD_TT);
        const int64_t cnt = t1 - tn;
        // the tile's per-token scalars first (8 independent softplus chains), then the states
#pragma unroll
        for (int i = 0; i < FWD_TT; i++) cd[i] = dt_of(cd[i], bias, p.sp);
#pragma unroll
        for (int i = 0; i < FWD_TT; i++) {
            if (i < cnt) {
                const float dt = cd[i], dtu = dt * cu[i];
                if (cr >> i & 1) { // a sequence starts: nothing before it carries over
                    S = INFINITY;
#pragma unroll
                    for (int n = 0; n < NT; n++) h[n] = 0.0f;
                }
                S += dt;
#pragma unroll
                for (int n = 0; n < NT; n++)
                    h[n] = fmaf(decay<NT, POLY>(dt * A2[n], n), h[n], dtu * sB[i][n]);
            }
        }
    }
    if (active) {
        T *col = (T *)p.out + b * p.osb + t0 * p.osl + d;
#pragma unroll
        for (int n = 0; n < NT; n++)
            if (n < p.N) scratch_put(col, p.osl, n, h[n]);
        scratch_put(col, p.osl, (int)p.N, S);
    }
}

/*
 * fwd_fix: one thread per (b, d, n). H = state entering chunk c; H(0) = h0 (or 0),
 * H(c+1) = exp2(A·log2e·ΣΔ_c)·H(c) + local_c. Writes H(c) over the scratch row n of chunk c.
 */
template <typename T> __global__ void fwd_fix_kernel(const ScanDev p) {
    constexpr int K = 16; // chunks per batch: the next batch's loads fly during this one's chain
    const int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= p.B * p.D * p.N) return;
    const int64_t n = e % p.N, d = (e / p.N) % p.D, b = e / (p.N * p.D);
    const float A2 = p.A[d * p.N + n] * LOG2E;
    T *col0 = (T *)p.out + b * p.osb + d;
    float H = p.h0 ? p.h0[e] : 0.0f;
    float hl[K], S[K], hn[K], Sn[K];
    auto load = [&](float(&h_)[K], float(&S_)[K], int64_t c0) {
#pragma unroll
        for (int k = 0; k < K; k++) {
            const int64_t c = c0 + k;
            h_[k] = S_[k] = 0.0f;
            if (c < p.nch - 1) {
                const T *col = col0 + chunk_start(c, p) * p.osl;
                h_[k] = scratch_get(col, p.osl, (int)n);
                S_[k] = scratch_get(col, p.osl, (int)p.N);
            }
        }
    };
    load(hl, S, 0);
    for (int64_t c0 = 0; c0 < p.nch; c0 += K) {
        if (c0 + K < p.nch) load(hn, Sn, c0 + K);
#pragma unroll
        for (int k = 0; k < K; k++) {
            const int64_t c = c0 + k;
            if (c < p.nch) {
                scratch_put(col0 + chunk_start(c, p) * p.osl, p.osl, (int)n, H);
                H = fmaf(carry_decay(A2, S[k]), H, hl[k]);
            }
        }
#pragma unroll
        for (int k = 0; k < K; k++) hl[k] = hn[k], S[k] = Sn[k];
    }
}

/*
 * fwd_out: chunk c of channel d from the true entering state (the scratch rows, or h0 when
 * there is one chunk): the recurrence, y = Σ C·h + D·u, out = y·SiLU(z); checkpoints every T
 * tokens (and after the last), h_final after the last chunk. The per-token arithmetic is the
 * same as step_kernel's.
 */
template <int NT, typename T, int POLY = 0>
__global__ void __launch_bounds__(FWD_THREADS, NT <= 16 ? 4 : 1) fwd_out_kernel(const ScanDev p) {
    __shared__ __align__(16) float sB[FWD_TT][NT];
    __shared__ __align__(16) float sC[FWD_TT][NT];
    constexpr int EPT = TileRegs<NT>::EPT;
    const int64_t b = blockIdx.z, c = blockIdx.y;
    const int64_t d = (int64_t)blockIdx.x * FWD_THREADS + threadIdx.x;
    const bool active = d < p.D;
    const int64_t dd = active ? d : 0;
    const int64_t t0 = chunk_start(c, p), t1 = chunk_start(c + 1, p);
    const bool has_z = p.z != nullptr, has_d = p.Dsk != nullptr;
    const T *up = (const T *)p.u + b * p.usb + dd;
    const T *dp = (const T *)p.delta + b * p.dsb + dd;
    const T *zp = has_z ? (const T *)p.z + b * p.zsb + dd : nullptr;
    const T *Bp = (const T *)p.Bm + b * p.bsb;
    const T *Cp = (const T *)p.Cm + b * p.csb;
    T *op = (T *)p.out + b * p.osb + dd;

    float A2[NT], h[NT];
#pragma unroll
    for (int n = 0; n < NT; n++) {
        const bool on = active && n < p.N;
        A2[n] = on ? p.A[dd * p.N + n] * LOG2E : 0.0f;
        if (p.nch == 1)
            h[n] = (on && p.h0) ? p.h0[(b * p.D + dd) * p.N + n] : 0.0f;
        else
            h[n] = on ? scratch_get(op + t0 * p.osl, p.osl, n) : 0.0f;
    }
    const float bias = (active && p.bias) ? p.bias[dd] : 0.0f;
    const float Dd = (active && has_d) ? p.Dsk[dd] : 0.0f;
    // next token after which a checkpoint is due
    int64_t ck = p.ckpt ? min(p.L - 1, (t0 / p.T + 1) * p.T - 1) : -1;

    // Per-thread pointers walk the tokens (one 64-bit add per load, no index products).
    const T *un = up + t0 * p.usl, *dn = dp + t0 * p.dsl, *zn = has_z ? zp + t0 * p.zsl : nullptr;
    const int64_t ustep = p.usl, dstep = p.dsl, zstep = has_z ? p.zsl : 0;
    T pu[FWD_TT], pd[FWD_TT], pz[FWD_TT], pb[EPT], pc[EPT];
    uint32_t pr = 0;
    auto prefetch = [&](int64_t tn) {
        const int rem = (int)min((int64_t)FWD_TT, t1 - tn);
#pragma unroll
        for (int i = 0; i < FWD_TT; i++) {
            const bool ok = active && i < rem;
            pu[i] = ok ? ldr(un) : zero_of<T>();
            pd[i] = ok ? ldr(dn) : zero_of<T>();
            pz[i] = (ok && has_z) ? ldr(zn) : zero_of<T>();
            un += ustep, dn += dstep, zn += zstep;
        }
        load_bc<NT>(pb, Bp, p.bsl, p.N, tn, t1, false);
        load_bc<NT>(pc, Cp, p.csl, p.N, tn, t1, false);
        pr = reset_mask(p, b, tn, 1, rem);
    };
    prefetch(t0);
    T *on = op + t0 * p.osl; // output pointer of the current token

    for (int64_t tn = t0; tn < t1; tn += FWD_TT) {
        __syncthreads();
        store_bc<NT>(sB, pb);
        store_bc<NT>(sC, pc);
        float cu[FWD_TT], cd[FWD_TT], cz[FWD_TT];
#pragma unroll
        for (int i = 0; i < FWD_TT; i++)
            cu[i] = to_f(pu[i]), cd[i] = to_f(pd[i]), cz[i] = to_f(pz[i]);
        const uint32_t cr = pr;
        __syncthreads();
        if (tn + FWD_TT < t1) prefetch(tn + FWD_TT);
        const int64_t cnt = t1 - tn;
        // the tile's per-token scalars first (independent chains), then the states
#pragma unroll
        for (int i = 0; i < FWD_TT; i++) {
            cd[i] = dt_of(cd[i], bias, p.sp);
            if (has_z) cz[i] = cz[i] * sigmoid_f(cz[i]);
        }
#pragma unroll
        for (int i = 0; i < FWD_TT; i++) {
            if (i < cnt) {
                const int64_t t = tn + i;
                const float u = cu[i], dt = cd[i], dtu = dt * u;
                float y2[2] = {0.0f, 0.0f}; // two partial sums: half the dependent chain
                if (cr >> i & 1) { // a sequence starts: the state before it is zero
#pragma unroll
                    for (int n = 0; n < NT; n++) h[n] = 0.0f;
                }
#pragma unroll
                for (int n = 0; n < NT; n++) {
                    h[n] = fmaf(decay<NT, POLY>(dt * A2[n], n), h[n], dtu * sB[i][n]);
                    y2[n & 1] = fmaf(sC[i][n], h[n], y2[n & 1]);
                }
                float y = y2[0] + y2[1];
                if (has_d) y += Dd * u;
                if (has_z) y *= cz[i];
                if (active) st(on, y);
                on += p.osl;
                if (t == ck) {
                    if (active) {
                        float *dst = p.ckpt + ((b * ((p.L - 1) / p.T + 1) + t / p.T) * p.D + d) *
                                                  p.N;
#pragma unroll
                        for (int n = 0; n < NT; n++)
                            if (n < p.N) dst[n] = h[n];
                    }
                    ck = min(p.L - 1, ck + p.T);
                }
            }
        }
    }
    if (active && p.h_final && c == p.nch - 1) {
#pragma unroll
        for (int n = 0; n < NT; n++)
            if (n < p.N) p.h_final[(b * p.D + d) * p.N + n] = h[n];
    }
}

// step: one token per (b, d); the state row is read and rewritten in place.
template <typename T> __global__ void step_kernel(const ScanDev p) {
    const int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= p.B * p.D) return;
    const int64_t d = e % p.D, b = e / p.D;
    const float u = ld((const T *)p.u + b * p.usb + d);
    const float dt = dt_of(ld((const T *)p.delta + b * p.dsb + d), p.bias ? p.bias[d] : 0.0f, p.sp);
    const float dtu = dt * u;
    const T *Bt = (const T *)p.Bm + b * p.bsb, *Ct = (const T *)p.Cm + b * p.csb;
    float *h = p.state + e * p.N;
    float y2[2] = {0.0f, 0.0f}; // the summation order of fwd_out: even and odd states
    for (int64_t n = 0; n < p.N; n++) {
        const float hn = fmaf(ex2(dt * (p.A[d * p.N + n] * LOG2E)), h[n], dtu * ld(Bt + n));
        h[n] = hn;
        y2[n & 1] = fmaf(ld(Ct + n), hn, y2[n & 1]);
    }
    float y = y2[0] + y2[1];
    if (p.Dsk) y += p.Dsk[d] * u;
    if (p.z) {
        const float zz = ld((const T *)p.z + b * p.zsb + d);
        y *= zz * sigmoid_f(zz);
    }
    st((T *)p.out + b * p.osb + d, y);
}

// ---------------------------------------------------------------------------------------------
// backward

/*
 * bwd_local: window w (>= 1) of channel d, the reverse recurrence of G (the state gradient
 * flowing into the previous token) from G = 0 at the window's end: per token
 * dh = G + gy·C, G = exp(Δ·A)·dh. Writes G and ΣΔ to the workspace slot (b, w, d).
 */
template <int NT, typename T>
__global__ void __launch_bounds__(FWD_THREADS, NT <= 16 ? 4 : 1) bwd_local_kernel(const ScanDev p) {
    __shared__ __align__(16) float sC[FWD_TT][NT];
    constexpr int EPT = TileRegs<NT>::EPT;
    const int64_t w = (int64_t)blockIdx.x + 1, b = blockIdx.z;
    const int64_t d = (int64_t)blockIdx.y * FWD_THREADS + threadIdx.x;
    const bool active = d < p.D;
    const int64_t dd = active ? d : 0;
    const int64_t t0 = w * p.T, t1 = min(p.L, t0 + p.T);
    const bool has_z = p.z != nullptr;
    const T *dp = (const T *)p.delta + b * p.dsb + dd;
    const T *zp = has_z ? (const T *)p.z + b * p.zsb + dd : nullptr;
    const T *gp = (const T *)p.dout + b * p.gsb + dd;
    const T *Cp = (const T *)p.Cm + b * p.csb;

    float A2[NT], G[NT];
#pragma unroll
    for (int n = 0; n < NT; n++) {
        A2[n] = (active && n < p.N) ? p.A[dd * p.N + n] * LOG2E : 0.0f;
        G[n] = 0.0f;
    }
    const float bias = (active && p.bias) ? p.bias[dd] : 0.0f;
    float S = 0.0f;

    // tile k covers tokens te−1, te−2, …, te−FWD_TT (down to t0), te = t1 − k·FWD_TT
    // Per-thread pointers walk the tokens backwards from t1 − 1.
    const T *dn = dp + (t1 - 1) * p.dsl, *zn = has_z ? zp + (t1 - 1) * p.zsl : nullptr;
    const T *gn = gp + (t1 - 1) * p.gsl;
    const int64_t dstep = p.dsl, zstep = has_z ? p.zsl : 0, gstep = p.gsl;
    T pd[FWD_TT], pz[FWD_TT], pg[FWD_TT], pc[EPT];
    uint32_t pr = 0;
    auto prefetch = [&](int64_t te) { // tokens te − 1, te − 2, … (down to t0)
        const int rem = (int)min((int64_t)FWD_TT, te - t0);
        pr = reset_mask(p, b, te - 1, -1, rem);
#pragma unroll
        for (int i = 0; i < FWD_TT; i++) {
            const bool ok = active && i < rem;
            pd[i] = ok ? ldr(dn) : zero_of<T>();
            pz[i] = (ok && has_z) ? ldr(zn) : zero_of<T>();
            pg[i] = ok ? ldr(gn) : zero_of<T>();
            dn -= dstep, zn -= zstep, gn -= gstep;
        }
        load_bc<NT>(pc, Cp, p.csl, p.N, te, t0, true);
    };
    prefetch(t1);

    for (int64_t te = t1; te > t0; te -= FWD_TT) {
        __syncthreads();
        store_bc<NT>(sC, pc);
        float cd[FWD_TT], cz[FWD_TT], cg[FWD_TT];
#pragma unroll
        for (int i = 0; i < FWD_TT; i++)
            cd[i] = to_f(pd[i]), cz[i] = to_f(pz[i]), cg[i] = to_f(pg[i]);
        const uint32_t cr = pr;
        __syncthreads();
        if (te - FWD_TT > t0) prefetch(te - FWD_TT);
        const int64_t cnt = te - t0;
#pragma unroll
        for (int i = 0; i < FWD_TT; i++) {
            cd[i] = dt_of(cd[i], bias, p.sp);
            if (has_z) cg[i] = cg[i] * cz[i] * sigmoid_f(cz[i]);
        }
#pragma unroll
        for (int i = 0; i < FWD_TT; i++) {
            if (i < cnt) {
                const float dt = cd[i], gy = cg[i];
                S += dt;
                if (cr >> i & 1) { // a sequence starts here: no gradient reaches the token before
                    S = INFINITY;
#pragma unroll
                    for (int n = 0; n < NT; n++) G[n] = 0.0f;
                } else {
#pragma unroll
                    for (int n = 0; n < NT; n++)
                        G[n] = ex2(dt * A2[n]) * fmaf(gy, sC[i][n], G[n]);
                }
            }
        }
    }
    if (active) {
        float *slot = p.ws + ((b * p.nw + w) * p.D + d) * (p.N + 2);
#pragma unroll
        for (int n = 0; n < NT; n++)
            if (n < p.N) slot[n] = G[n];
        slot[p.N] = S;
    }
}

/*
 * bwd_fix: one thread per (b, d, n). Gin(w) = the state gradient entering window w from its
 * right: Gin(nw−1) = dh_final (or 0), Gin(w−1) = exp2(A·log2e·ΣΔ_w)·Gin(w) + local_w.
 * Writes Gin(w) over slot (b, w, d)[n]; leaves slot[N] (ΣΔ) alone.
 */
__global__ void bwd_fix_kernel(const ScanDev p) {
    constexpr int K = 16; // windows per batch: the next batch's loads fly during this one's chain
    const int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= p.B * p.D * p.N) return;
    const int64_t n = e % p.N, d = (e / p.N) % p.D, b = e / (p.N * p.D);
    const float A2 = p.A[d * p.N + n] * LOG2E;
    float G = p.dh_final ? p.dh_final[e] : 0.0f;
    float gl[K], S[K], gn[K], Sn[K];
    auto slot = [&](int64_t w) { return p.ws + ((b * p.nw + w) * p.D + d) * (p.N + 2); };
    auto load = [&](float(&g_)[K], float(&S_)[K], int64_t w0) {
#pragma unroll
        for (int k = 0; k < K; k++) {
            const int64_t w = w0 - k;
            g_[k] = S_[k] = 0.0f;
            if (w > 0) g_[k] = slot(w)[n], S_[k] = slot(w)[p.N];
        }
    };
    load(gl, S, p.nw - 1);
    for (int64_t w0 = p.nw - 1; w0 >= 0; w0 -= K) {
        if (w0 - K >= 0) load(gn, Sn, w0 - K);
#pragma unroll
        for (int k = 0; k < K; k++) {
            const int64_t w = w0 - k;
            if (w >= 0) {
                slot(w)[n] = G;
                G = fmaf(carry_decay(A2, S[k]), G, gl[k]);
            }
        }
#pragma unroll
        for (int k = 0; k < K; k++) gl[k] = gn[k], S[k] = Sn[k];
    }
}

// Shared-memory layout of bwd_window, in floats (see the kernel).
__host__ __device__ inline size_t bwd_smem_floats(int64_t N, int J) {
    const int64_t TW = 32 * J, TWP = TW + BWD_PAD;
    return (size_t)(2 * N * TWP + 4 * BWD_CI * TWP + 2 * BWD_WARPS * 2 * TW + 2 * N * TW +
                    4 * BWD_CI * N + 2 * BWD_CI);
}

/*
 * bwd_window: block (w, g, b) = window w of batch b, channels [g·CR, min(D, (g+1)·CR)), 16 at a
 * time (2 per warp). Lane k of a warp holds tokens k·J … k·J+J−1 of the window.
 *
 * Per state n and channel: a_t = exp2(Δ·A·log2e); forward scan of (a, Δ·u·B) from the
 * checkpoint state → h_t; reverse scan of (a, gy·C) from the fix-up's Gin → dh_t; then
 *   ddt += dh·(A·a·h_{t−1} + u·B), dA += dh·Δ·a·h_{t−1}, Σ dh·B (du), dB += dh·Δ·u,
 *   dC += gy·h, Σ C·h (y, for dz)
 * exactly as kernels/cpu/scan.c scan_token_bwd. dB and dC are summed over the block's
 * channels: per warp in registers (its 2 channels), then over the 8 warps in warp order into
 * sAcc by the thread that owns that (kind, token); the order is fixed, no atomics.
 */
template <int J, typename T>
__global__ void __launch_bounds__(BWD_WARPS * 32, J >= 8 ? 1 : 2) bwd_window_kernel(const ScanDev p) {
    constexpr int TW = 32 * J, TWP = TW + BWD_PAD, NTHR = BWD_WARPS * 32;
    static_assert(NTHR % BWD_CI == 0 && TW % (NTHR / BWD_CI) == 0, "tile map of the staging");
    extern __shared__ __align__(16) float smem[];
    const int64_t N = p.N;
    float *sB = smem;                              // [N][TWP]   B of the window, transposed
    float *sC = sB + N * TWP;                      // [N][TWP]
    float *sIO = sC + N * TWP;                     // [4][CI][TWP] u, delta, z, dout → du, dd, dz
    float *sRed = sIO + 4 * BWD_CI * TWP;          // [2][WARPS][2][TW] per-n warp partials
    float *sAcc = sRed + 2 * BWD_WARPS * 2 * TW;   // [2][N][TW] dB, dC over the block's channels
    float *sHs = sAcc + 2 * N * TW;                // [CI][N] state entering the window
    float *sGw = sHs + BWD_CI * N;                 // [CI][N] gradient entering from the right
    float *sA = sGw + BWD_CI * N;                  // [CI][N] A
    float *sDA = sA + BWD_CI * N;                  // [CI][N] dA of this window
    float *sDD = sDA + BWD_CI * N;                 // [CI]    dD of this window
    float *sDBias = sDD + BWD_CI;                  // [CI]    ddelta_bias of this window

    const int tid = threadIdx.x, lane = tid & 31, wid = tid >> 5;
    const int64_t w = blockIdx.x, g = blockIdx.y, b = blockIdx.z;
    const int64_t tw0 = w * TW;
    const int nvalid = (int)min((int64_t)TW, p.L - tw0);
    const int64_t c_lo = g * p.CR, c_hi = min(p.D, c_lo + p.CR);
    const bool has_z = p.z != nullptr, has_d = p.Dsk != nullptr;
    const T *Bp = (const T *)p.Bm + b * p.bsb, *Cp = (const T *)p.Cm + b * p.csb;

    // B, C of the window, transposed; all loads of a batch issued before any store
    const int N32 = (int)N; // 32-bit index math below: N·TW <= 65536 (scan_cuda_supported)
    for (int e0 = tid; e0 < TW * N32; e0 += 4 * NTHR) {
        T rb[4], rc[4];
#pragma unroll
        for (int k = 0; k < 4; k++) {
            const int e = e0 + k * NTHR, t = e / N32, n = e - t * N32;
            const bool ok = e < TW * N32 && t < nvalid;
            rb[k] = ok ? ldr(Bp + (tw0 + t) * p.bsl + n) : zero_of<T>();
            rc[k] = ok ? ldr(Cp + (tw0 + t) * p.csl + n) : zero_of<T>();
        }
#pragma unroll
        for (int k = 0; k < 4; k++) {
            const int e = e0 + k * NTHR, t = e / N32, n = e - t * N32;
            if (e < TW * N32) sB[n * TWP + t] = to_f(rb[k]), sC[n * TWP + t] = to_f(rc[k]);
        }
    }
    for (int e = tid; e < 2 * N32 * TW; e += NTHR) sAcc[e] = 0.0f;

    int buf = 0;
    for (int64_t g0 = c_lo; g0 < c_hi; g0 += BWD_CI) {
        __syncthreads(); // the previous group is done with sIO and the small arrays
        // the group's u, delta, z, dout. Thread tid always serves channel ci = tid mod CI and
        // tokens tf, tf + TS, tf + 2·TS, …: per-thread pointers step by TS tokens; each batch's
        // loads are all issued before its stores.
        constexpr int TS = NTHR / BWD_CI, EIO = TW / TS, UNR = EIO < 4 ? EIO : 4;
        const int ci_t = tid % BWD_CI, tf = tid / BWD_CI;
        const int64_t d_t = g0 + ci_t;
        const bool dv_t = d_t < c_hi;
        {
            const int64_t d0 = dv_t ? d_t : 0, tt0 = tw0 + tf;
            const T *xu = (const T *)p.u + b * p.usb + tt0 * p.usl + d0;
            const T *xd = (const T *)p.delta + b * p.dsb + tt0 * p.dsl + d0;
            const T *xz = has_z ? (const T *)p.z + b * p.zsb + tt0 * p.zsl + d0 : nullptr;
            const T *xg = (const T *)p.dout + b * p.gsb + tt0 * p.gsl + d0;
            const int64_t su = TS * p.usl, sd = TS * p.dsl, sz = has_z ? TS * p.zsl : 0,
                          sg = TS * p.gsl;
            for (int k0 = 0; k0 < EIO; k0 += UNR) {
                T r[4][UNR];
#pragma unroll
                for (int k = 0; k < UNR; k++) {
                    const bool ok = dv_t && tf + (k0 + k) * TS < nvalid;
                    r[0][k] = ok ? ldr(xu) : zero_of<T>();
                    r[1][k] = ok ? ldr(xd) : zero_of<T>();
                    r[2][k] = (ok && has_z) ? ldr(xz) : zero_of<T>();
                    r[3][k] = ok ? ldr(xg) : zero_of<T>();
                    xu += su, xd += sd, xz += sz, xg += sg;
                }
#pragma unroll
                for (int k = 0; k < UNR; k++) {
                    float *row = sIO + ci_t * TWP + tf + (k0 + k) * TS;
#pragma unroll
                    for (int q = 0; q < 4; q++) row[q * BWD_CI * TWP] = to_f(r[q][k]);
                }
            }
        }
        for (int e = tid; e < BWD_CI * N32; e += NTHR) {
            const int ci = e / N32, n = e - ci * N32;
            const int64_t d = g0 + ci;
            const bool ok = d < c_hi;
            sA[e] = ok ? p.A[d * N + n] : 0.0f;
            float hs = 0.0f;
            if (ok && w > 0)
                hs = p.ckpt[((b * p.nw + w - 1) * p.D + d) * N + n];
            else if (ok && p.h0)
                hs = p.h0[(b * p.D + d) * N + n];
            sHs[e] = hs;
            sGw[e] = ok ? p.ws[((b * p.nw + w) * p.D + d) * (N + 2) + n] : 0.0f;
        }
        __syncthreads();

        // The lane's J tokens that start a packed sequence (decay 0 there).
        const int lane_valid = max(0, min(J, nvalid - lane * J));
        const uint32_t rbits = reset_mask(p, b, tw0 + lane * J, 1, lane_valid);
        // This warp's channels: per-token values in registers (lane's J tokens).
        float u_[BWD_CPW][J], dt_[BWD_CPW][J], dtu_[BWD_CPW][J], gy_[BWD_CPW][J];
        float ddt_[BWD_CPW][J], gB_[BWD_CPW][J], yC_[BWD_CPW][J];
#pragma unroll
        for (int cc = 0; cc < BWD_CPW; cc++) {
            const int ci = wid * BWD_CPW + cc;
            const int64_t d = g0 + ci;
            const bool dv = d < c_hi;
            const float bias = (dv && p.bias) ? p.bias[d] : 0.0f;
            const float *row = sIO + ci * TWP + lane * J;
#pragma unroll
            for (int j = 0; j < J; j++) {
                const bool v = dv && lane * J + j < nvalid;
                const float uu = row[j], dl = row[BWD_CI * TWP + j];
                const float zz = row[2 * BWD_CI * TWP + j], gg = row[3 * BWD_CI * TWP + j];
                const float dt = v ? dt_of(dl, bias, p.sp) : 0.0f;
                u_[cc][j] = uu;
                dt_[cc][j] = dt;
                dtu_[cc][j] = dt * uu;
                gy_[cc][j] = v ? (has_z ? gg * zz * sigmoid_f(zz) : gg) : 0.0f;
                ddt_[cc][j] = gB_[cc][j] = yC_[cc][j] = 0.0f;
            }
        }

        for (int n = 0; n < N32; n++) {
            float Bv[J], Cv[J], dBc[J], dCc[J];
#pragma unroll
            for (int j = 0; j < J; j++) {
                Bv[j] = sB[n * TWP + lane * J + j];
                Cv[j] = sC[n * TWP + lane * J + j];
                dBc[j] = dCc[j] = 0.0f;
            }
#pragma unroll
            for (int cc = 0; cc < BWD_CPW; cc++) {
                const int ci = wid * BWD_CPW + cc;
                const int64_t d = g0 + ci;
                const float An = sA[ci * N + n], A2n = An * LOG2E;
                const float hs = sHs[ci * N + n], Gw = sGw[ci * N + n];
                // forward: lane aggregate of (a, b), then an inclusive scan over the lanes
                float a[J], bb[J];
#pragma unroll
                for (int j = 0; j < J; j++) {
                    a[j] = (rbits >> j & 1) ? 0.0f : ex2(dt_[cc][j] * A2n);
                    bb[j] = dtu_[cc][j] * Bv[j];
                }
                float P = a[0], hl = bb[0];
#pragma unroll
                for (int j = 1; j < J; j++) {
                    hl = fmaf(a[j], hl, bb[j]);
                    P *= a[j];
                }
                const float Pl = P;
#pragma unroll
                for (int o = 1; o < 32; o <<= 1) {
                    const float Pp = __shfl_up_sync(FULL, P, o), hp = __shfl_up_sync(FULL, hl, o);
                    if (lane >= o) {
                        hl = fmaf(P, hp, hl);
                        P *= Pp;
                    }
                }
                const float hx = __shfl_up_sync(FULL, hl, 1), Px = __shfl_up_sync(FULL, P, 1);
                float h = lane == 0 ? hs : fmaf(Px, hs, hx);
                float ah[J], hj[J];
#pragma unroll
                for (int j = 0; j < J; j++) {
                    ah[j] = a[j] * h;
                    h = ah[j] + bb[j];
                    hj[j] = h;
                }
                // reverse: lane aggregate of G ← a·(G + gy·C), then a suffix scan
                float ec[J], gl = 0.0f;
#pragma unroll
                for (int j = 0; j < J; j++) ec[j] = gy_[cc][j] * Cv[j];
#pragma unroll
                for (int j = J - 1; j >= 0; j--) gl = a[j] * (gl + ec[j]);
                float Ps = Pl, gs = gl;
#pragma unroll
                for (int o = 1; o < 32; o <<= 1) {
                    const float Pn = __shfl_down_sync(FULL, Ps, o),
                                gn = __shfl_down_sync(FULL, gs, o);
                    if (lane + o < 32) {
                        gs = fmaf(Ps, gn, gs);
                        Ps *= Pn;
                    }
                }
                const float gn1 = __shfl_down_sync(FULL, gs, 1), Pn1 = __shfl_down_sync(FULL, Ps, 1);
                float G = lane == 31 ? Gw : fmaf(Pn1, Gw, gn1);
                float dAl = 0.0f;
#pragma unroll
                for (int j = J - 1; j >= 0; j--) {
                    const float dh = G + ec[j];
                    ddt_[cc][j] = fmaf(dh, fmaf(An, ah[j], u_[cc][j] * Bv[j]), ddt_[cc][j]);
                    dAl = fmaf(dh * dt_[cc][j], ah[j], dAl);
                    gB_[cc][j] = fmaf(dh, Bv[j], gB_[cc][j]);
                    dBc[j] = fmaf(dh, dtu_[cc][j], dBc[j]);
                    dCc[j] = fmaf(gy_[cc][j], hj[j], dCc[j]);
                    yC_[cc][j] = fmaf(Cv[j], hj[j], yC_[cc][j]);
                    G = a[j] * dh;
                }
                if (w == 0 && lane == 0 && p.dh0 && d < c_hi) p.dh0[(b * p.D + d) * N + n] += G;
#pragma unroll
                for (int o = 16; o > 0; o >>= 1) dAl += __shfl_xor_sync(FULL, dAl, o);
                if (lane == 0) sDA[ci * N + n] = dAl;
            }
            float *red = sRed + ((buf * BWD_WARPS + wid) * 2) * TW + lane * J;
#pragma unroll
            for (int j = 0; j < J; j++) {
                red[j] = dBc[j];
                red[TW + j] = dCc[j];
            }
            __syncthreads();
            for (int e = tid; e < 2 * TW; e += NTHR) {
                const int kind = e / TW, t = e % TW;
                float s = 0.0f;
#pragma unroll
                for (int q = 0; q < BWD_WARPS; q++) s += sRed[((buf * BWD_WARPS + q) * 2 + kind) * TW + t];
                sAcc[(kind * N + n) * TW + t] += s;
            }
            buf ^= 1; // the next state writes the other half: no second barrier needed
        }

        // per-token gradients of this warp's channels, staged over u/delta/z
#pragma unroll
        for (int cc = 0; cc < BWD_CPW; cc++) {
            const int ci = wid * BWD_CPW + cc;
            const int64_t d = g0 + ci;
            const bool dv = d < c_hi;
            const float bias = (dv && p.bias) ? p.bias[d] : 0.0f;
            const float Dd = (dv && has_d) ? p.Dsk[d] : 0.0f;
            float *row = sIO + ci * TWP + lane * J;
            float dDl = 0.0f, dbl = 0.0f;
#pragma unroll
            for (int j = 0; j < J; j++) {
                const bool v = dv && lane * J + j < nvalid;
                const float uu = u_[cc][j], gy = gy_[cc][j];
                const float dl = row[BWD_CI * TWP + j], zz = row[2 * BWD_CI * TWP + j];
                const float gg = row[3 * BWD_CI * TWP + j];
                float du = dt_[cc][j] * gB_[cc][j], y = yC_[cc][j];
                if (has_d) {
                    du += gy * Dd;
                    dDl += gy * uu;
                    y += Dd * uu;
                }
                float dzv = 0.0f;
                if (has_z) {
                    const float sz = sigmoid_f(zz);
                    dzv = gg * y * sz * (1.0f + zz * (1.0f - sz));
                }
                const float ddl = ddt_[cc][j] * (p.sp ? sigmoid_f(dl + bias) : 1.0f);
                if (v) dbl += ddl;
                row[j] = v ? du : 0.0f;
                row[BWD_CI * TWP + j] = v ? ddl : 0.0f;
                row[2 * BWD_CI * TWP + j] = v ? dzv : 0.0f;
            }
#pragma unroll
            for (int o = 16; o > 0; o >>= 1) {
                dDl += __shfl_xor_sync(FULL, dDl, o);
                dbl += __shfl_xor_sync(FULL, dbl, o);
            }
            if (lane == 0) sDD[ci] = dDl, sDBias[ci] = dbl;
        }
        __syncthreads();
        {
            // += into du, delta, dz (same thread ↔ element map as the loads): each batch's old
            // values loaded before its stores
            const int64_t d0 = dv_t ? d_t : 0, tt0 = tw0 + tf;
            T *yu = (T *)p.du + b * p.dusb + tt0 * p.dusl + d0;
            T *yd = (T *)p.ddelta + b * p.ddsb + tt0 * p.ddsl + d0;
            T *yz = has_z ? (T *)p.dz + b * p.dzsb + tt0 * p.dzsl + d0 : nullptr;
            const int64_t su = TS * p.dusl, sd = TS * p.ddsl, sz = has_z ? TS * p.dzsl : 0;
            for (int k0 = 0; k0 < EIO; k0 += UNR) {
                T o[3][UNR];
#pragma unroll
                for (int k = 0; k < UNR; k++) {
                    const bool ok = dv_t && tf + (k0 + k) * TS < nvalid;
                    o[0][k] = ok ? yu[k * su] : zero_of<T>();
                    o[1][k] = ok ? yd[k * sd] : zero_of<T>();
                    o[2][k] = (ok && has_z) ? yz[k * sz] : zero_of<T>();
                }
#pragma unroll
                for (int k = 0; k < UNR; k++) {
                    if (!dv_t || tf + (k0 + k) * TS >= nvalid) continue;
                    const float *row = sIO + ci_t * TWP + tf + (k0 + k) * TS;
                    st(yu + k * su, to_f(o[0][k]) + row[0]);
                    st(yd + k * sd, to_f(o[1][k]) + row[BWD_CI * TWP]);
                    if (has_z) st(yz + k * sz, to_f(o[2][k]) + row[2 * BWD_CI * TWP]);
                }
                yu += UNR * su, yd += UNR * sd, yz += UNR * sz;
            }
        }
        // the window's parameter partials replace its (consumed) slot of the workspace
        for (int e = tid; e < BWD_CI * (N32 + 2); e += NTHR) {
            const int ci = e / (N32 + 2), j = e - ci * (N32 + 2);
            const int64_t d = g0 + ci;
            if (d >= c_hi) continue;
            const float v = j < N ? sDA[ci * N + j] : j == N ? sDD[ci] : sDBias[ci];
            p.ws[((b * p.nw + w) * p.D + d) * (N + 2) + j] = v;
        }
    }
    __syncthreads();
    // dB, dC of the window's tokens: this group's sum (the only one when P == 1)
    for (int e = tid; e < 2 * TW; e += NTHR) {
        const int kind = e / TW, t = e % TW;
        if (t >= nvalid) continue;
        const int64_t tt = tw0 + t;
        if (p.P == 1) {
            T *dst = kind == 0 ? (T *)p.dB + b * p.dbsb + tt * p.dbsl
                               : (T *)p.dC + b * p.dcsb + tt * p.dcsl;
            for (int64_t n = 0; n < N; n++) add_to(dst + n, sAcc[(kind * N + n) * TW + t]);
        } else {
            float *dst = p.part + (((kind * p.P + g) * p.B + b) * p.L + tt) * N;
            for (int64_t n = 0; n < N; n++) dst[n] = sAcc[(kind * N + n) * TW + t];
        }
    }
}

// dA, dD, ddelta_bias += the per-window partials, summed over (b, w) in order.
__global__ void param_reduce_kernel(const ScanDev p) {
    const int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    const int64_t W = p.N + 2;
    if (e >= p.D * W) return;
    const int64_t d = e / W, j = e % W;
    float *dst = j < p.N ? p.dA + d * p.N + j : j == p.N ? p.dDsk : p.dbias;
    if (!dst) return;
    if (j >= p.N) dst += d;
    // 8 running sums (window w goes to sum w mod 8; the last nw mod 8 windows to sum 0), added
    // in a fixed order at the end: 8 loads in flight instead of one
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t b = 0; b < p.B; b++) {
        const float *col = p.ws + (b * p.nw * p.D + d) * W + j;
        const int64_t step = p.D * W;
        int64_t w = 0;
        for (; w + 8 <= p.nw; w += 8) {
#pragma unroll
            for (int k = 0; k < 8; k++) s[k] += col[(w + k) * step];
        }
        for (; w < p.nw; w++) s[0] += col[w * step];
    }
    *dst += ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

// dB, dC += Σ over channel groups, in group order (only when P > 1).
template <typename T> __global__ void bc_reduce_kernel(const ScanDev p) {
    const int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    const int64_t per = p.B * p.L * p.N;
    if (e >= per) return;
    const int64_t n = e % p.N, t = (e / p.N) % p.L, b = e / (p.N * p.L);
    for (int kind = 0; kind < 2; kind++) {
        float s = 0.0f;
        for (int64_t g = 0; g < p.P; g++) s += p.part[(kind * p.P + g) * per + e];
        T *dst = kind == 0 ? (T *)p.dB + b * p.dbsb + t * p.dbsl + n
                           : (T *)p.dC + b * p.dcsb + t * p.dcsl + n;
        add_to(dst, s);
    }
}

// ---------------------------------------------------------------------------------------------
// host side

int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Channel groups of the backward: split the channels only when the windows alone give fewer
// than BWD_BLOCKS_TARGET blocks. Depends on the shapes only (so does the workspace size).
void bwd_groups(const ScanArgs *a, int64_t *P, int64_t *CR) {
    const int64_t nw = cdiv(a->L, a->chunk);
    int64_t g = 1;
    while (a->B * nw * g < BWD_BLOCKS_TARGET && 2 * g * BWD_CI <= a->D) g *= 2;
    *CR = cdiv(cdiv(a->D, g), BWD_CI) * BWD_CI;
    *P = cdiv(a->D, *CR);
}

int bwd_j(int64_t chunk) {
    return chunk == 32 ? 1 : chunk == 64 ? 2 : chunk == 128 ? 4 : chunk == 256 ? 8 : 0;
}

// Forward chunks: enough (chunk, 128-channel) blocks for one full wave of fwd_out, each chunk
// long enough for its scratch rows and worth a launch.
int64_t fwd_chunks(const ScanArgs *a, int64_t resident_blocks) {
    const int64_t nblk = cdiv(a->D, FWD_THREADS);
    int64_t nch = resident_blocks / (a->B * nblk);
    const int64_t min_len = scratch_rows(a->N, a->dtype == DTYPE_BF16) > 64
                                ? scratch_rows(a->N, a->dtype == DTYPE_BF16)
                                : 64;
    if (nch > a->L / min_len) nch = a->L / min_len;
    if (nch > 65535) nch = 65535;
    return nch < 1 ? 1 : nch;
}

template <int NT, typename T, int POLY = 0> int fwd_run(const ScanArgs *a, cudaStream_t stream) {
    int status = 0, dev = 0, sms = 0, occ = 0;
    ScanDev p = dev_view(a);
    const int64_t nblk = cdiv(a->D, FWD_THREADS);
    CUDA_RT(cudaGetDevice(&dev));
    CUDA_RT(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
    CUDA_RT(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&occ, fwd_out_kernel<NT, T, POLY>,
                                                          FWD_THREADS, 0));
    p.nch = fwd_chunks(a, (int64_t)(occ > 0 ? occ : 1) * sms);
    if (p.nch > 1) {
        fwd_local_kernel<NT, T, POLY>
            <<<dim3((unsigned)nblk, (unsigned)(p.nch - 1), (unsigned)a->B), FWD_THREADS, 0,
               stream>>>(p);
        CUDA_CHECK_LAUNCH();
        fwd_fix_kernel<T><<<(unsigned)cdiv(a->B * a->D * a->N, 256), 256, 0, stream>>>(p);
        CUDA_CHECK_LAUNCH();
    }
    fwd_out_kernel<NT, T, POLY>
        <<<dim3((unsigned)nblk, (unsigned)p.nch, (unsigned)a->B), FWD_THREADS, 0, stream>>>(p);
    CUDA_CHECK_LAUNCH();
fail:
    return status;
}

template <typename T> int fwd_dispatch(const ScanArgs *a, cudaStream_t s) {
    if (a->N <= 4) return fwd_run<4, T>(a, s);
    if (a->N <= 16) return fwd_run<16, T>(a, s);
    if (a->N <= 64) return fwd_run<64, T>(a, s);
    return fwd_run<256, T>(a, s);
}

template <int NT, typename T> int bwd_local_run(const ScanDev &p, cudaStream_t stream) {
    int status = 0;
    if (p.nw > 1) {
        bwd_local_kernel<NT, T><<<dim3((unsigned)(p.nw - 1), (unsigned)cdiv(p.D, FWD_THREADS),
                                       (unsigned)p.B),
                                  FWD_THREADS, 0, stream>>>(p);
        CUDA_CHECK_LAUNCH();
    }
fail:
    return status;
}

template <int J, typename T> int bwd_window_run(const ScanDev &p, cudaStream_t stream) {
    int status = 0;
    const size_t smem = bwd_smem_floats(p.N, J) * sizeof(float);
    CUDA_RT(cudaFuncSetAttribute(bwd_window_kernel<J, T>,
                                 cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    bwd_window_kernel<J, T>
        <<<dim3((unsigned)p.nw, (unsigned)p.P, (unsigned)p.B), BWD_WARPS * 32, smem, stream>>>(p);
    CUDA_CHECK_LAUNCH();
fail:
    return status;
}

template <typename T> int bwd_dispatch(const ScanArgs *a, float *ws, cudaStream_t stream) {
    int status = 0;
    ScanDev p = dev_view(a);
    p.nw = cdiv(a->L, a->chunk);
    bwd_groups(a, &p.P, &p.CR);
    p.ws = ws;
    p.part = ws + a->B * p.nw * a->D * (a->N + 2);
    const int J = bwd_j(a->chunk);
    status = a->N <= 4    ? bwd_local_run<4, T>(p, stream)
             : a->N <= 16 ? bwd_local_run<16, T>(p, stream)
             : a->N <= 64 ? bwd_local_run<64, T>(p, stream)
                          : bwd_local_run<256, T>(p, stream);
    if (status) return status;
    bwd_fix_kernel<<<(unsigned)cdiv(a->B * a->D * a->N, 256), 256, 0, stream>>>(p);
    CUDA_CHECK_LAUNCH();
    status = J == 1   ? bwd_window_run<1, T>(p, stream)
             : J == 2 ? bwd_window_run<2, T>(p, stream)
             : J == 4 ? bwd_window_run<4, T>(p, stream)
                      : bwd_window_run<8, T>(p, stream);
    if (status) return status;
    param_reduce_kernel<<<(unsigned)cdiv(a->D * (a->N + 2), 256), 256, 0, stream>>>(p);
    CUDA_CHECK_LAUNCH();
    if (p.P > 1) {
        bc_reduce_kernel<T><<<(unsigned)cdiv(a->B * a->L * a->N, 256), 256, 0, stream>>>(p);
        CUDA_CHECK_LAUNCH();
    }
fail:
    return status;
}

const char *op_name(ScanOp op) {
    return op == SCAN_OP_FWD ? "scan_fwd_cuda" : op == SCAN_OP_BWD ? "scan_bwd_cuda"
                                                                     : "scan_step_cuda";
}

} // namespace

extern "C" {

// Keep in step with the kernels above: what they index with (grid dimensions, template sizes,
// shared memory) decides what is supported (STYLE 22).
int scan_cuda_supported(const ScanArgs *a, ScanOp op) {
    int rc = scan_args_check(a, op);
    if (rc) return rc;
    const char *who = op_name(op);
    if (a->B > 65535)
        return ls_error(LS_ERR_UNSUPPORTED, "%s: batch B = %lld (the CUDA scan takes at most 65535)",
                        who, (long long)a->B);
    if (op == SCAN_OP_BWD) {
        const int J = bwd_j(a->chunk);
        if (!J)
            return ls_error(LS_ERR_UNSUPPORTED,
                            "%s: chunk = %lld (the CUDA backward takes chunk 32, 64, 128 or 256)",
                            who, (long long)a->chunk);
        const size_t smem = bwd_smem_floats(a->N, J) * sizeof(float);
        if (smem > BWD_SMEM_MAX)
            return ls_error(LS_ERR_UNSUPPORTED,
                            "%s: N = %lld with chunk = %lld needs %zu bytes of shared memory per "
                            "block, more than sm_90's %zu; use a smaller chunk",
                            who, (long long)a->N, (long long)a->chunk, smem, BWD_SMEM_MAX);
        if (cdiv(a->L, a->chunk) > 0x7fffffffLL)
            return ls_error(LS_ERR_UNSUPPORTED, "%s: L / chunk = %lld windows (at most 2^31 − 1)",
                            who, (long long)cdiv(a->L, a->chunk));
    }
    return 0;
}

size_t scan_bwd_workspace_size_cuda(const ScanArgs *a) {
    if (scan_ckpt_numel(a) <= 0) return 0;
    int64_t P, CR, n, m;
    const int64_t nw = cdiv(a->L, a->chunk);
    bwd_groups(a, &P, &CR);
    if (__builtin_mul_overflow(a->B * nw, a->D, &n) || __builtin_mul_overflow(n, a->N + 2, &n))
        return 0;
    if (P > 1) {
        if (__builtin_mul_overflow(2 * P * a->B, a->L, &m) || __builtin_mul_overflow(m, a->N, &m) ||
            __builtin_add_overflow(n, m, &n))
            return 0;
    }
    if (n > INT64_MAX / 8) return 0;
    return (size_t)n * sizeof(float);
}

int scan_fwd_cuda(const ScanArgs *a) {
    int rc = scan_cuda_supported(a, SCAN_OP_FWD);
    if (rc) return rc;
    cudaStream_t s = (cudaStream_t)a->stream;
    return a->dtype == DTYPE_BF16 ? fwd_dispatch<__nv_bfloat16>(a, s) : fwd_dispatch<float>(a, s);
}

int scan_bwd_cuda(const ScanArgs *a) {
    int rc = scan_cuda_supported(a, SCAN_OP_BWD);
    if (rc) return rc;
    const size_t need = scan_bwd_workspace_size_cuda(a);
    if (!a->workspace || a->workspace_bytes < need)
        return ls_error(LS_ERR_USAGE,
                        "scan_bwd_cuda: workspace of %zu bytes%s, needs %zu "
                        "(scan_bwd_workspace_size_cuda)",
                        a->workspace_bytes, a->workspace ? "" : " (NULL)", need);
    cudaStream_t s = (cudaStream_t)a->stream;
    float *ws = (float *)a->workspace;
    return a->dtype == DTYPE_BF16 ? bwd_dispatch<__nv_bfloat16>(a, ws, s)
                                  : bwd_dispatch<float>(a, ws, s);
}

int scan_step_cuda(const ScanArgs *a) {
    int status = scan_cuda_supported(a, SCAN_OP_STEP);
    if (status) return status;
    {
        const ScanDev p = dev_view(a);
        cudaStream_t s = (cudaStream_t)a->stream;
        const unsigned blocks = (unsigned)cdiv(a->B * a->D, 128);
        if (a->dtype == DTYPE_BF16)
            step_kernel<__nv_bfloat16><<<blocks, 128, 0, s>>>(p);
        else
            step_kernel<float><<<blocks, 128, 0, s>>>(p);
    }
    CUDA_CHECK_LAUNCH();
fail:
    return status;
}

} // extern "C"
