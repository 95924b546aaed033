/*
 * attention_kv.cu — kernels/attention_kv.h on the GPU: causal attention of new queries over a
 * key/value cache (a streamed segment's queries, or one generation step's), optionally in a
 * sliding window. Must match kernels/cpu/attention_kv.c; checked by
 * tests/gpu/parity_attention_kv.c.
 *
 * Why not the flash kernels of attention.cu: here queries and keys differ in number and in
 * position (the cache comes first) and a generation step has one query per row, where a tile
 * of 64 queries would idle. So: one block of KV_WARPS warps per (row, head, query). The
 * query's visible keys [lo, hi) are split into KV_WARPS contiguous chunks, one per warp; a warp
 * walks its chunk key by key with its lanes across the head dimension (element e = t·32 +
 * lane), the dot product summed by a butterfly of shuffles (every lane ends with the same
 * bits), and keeps an fp32 online softmax (running max, rescaled sum and accumulators). The
 * chunks' partials are then combined in chunk order by warp 0. Both the split and the order
 * depend on the sizes only, so a call repeated gives the same bits. Differences from the CPU:
 * fp32 instead of double (and CUDA's expf), within the parity suite's 1e-5 relative.
 */
#include "kernels/attention_kv.h"
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_math.cuh"

#include <math.h>

namespace {

constexpr int KV_WARPS = 4;

template <typename T, int EPL>
__global__ void __launch_bounds__(KV_WARPS * 32)
    attention_kv_kernel(T *__restrict__ out, const T *__restrict__ q, const T *__restrict__ k,
                        const T *__restrict__ v, AttentionKvShape s, float scale) {
    __shared__ float part_acc[KV_WARPS][EPL * 32];
    __shared__ float part_m[KV_WARPS], part_l[KV_WARPS];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int hd = s.hd, H = s.H;
    const int64_t bhi = blockIdx.x; // (b, h, i) with i fastest: neighbouring queries share keys
    const int64_t i = bhi % s.Lq, bh = bhi / s.Lq;
    const int h = (int)(bh % H);
    const int64_t b = bh / H;
    const int64_t p = s.q_pos0 + i;
    int64_t hi = p - s.k_pos0 + 1, lo = 0;
    if (hi > s.Lk) hi = s.Lk;
    if (s.window > 0 && p - s.window + 1 - s.k_pos0 > lo) lo = p - s.window + 1 - s.k_pos0;
    const int64_t n = hi > lo ? hi - lo : 0;
    const int64_t chunk = (n + KV_WARPS - 1) / KV_WARPS;
    const int64_t j0 = lo + warp * chunk;
    int64_t j1 = j0 + chunk;
    if (j1 > hi) j1 = hi;

    const T *qi = q + b * s.q.batch + i * s.q.pos + (int64_t)h * s.q.head;
    float qr[EPL], acc[EPL];
#pragma unroll
    for (int t = 0; t < EPL; t++) {
        const int e = t * 32 + lane;
        qr[t] = e < hd ? ld(qi + e) : 0.0f;
        acc[t] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    const T *kb = k + b * s.k.batch + (int64_t)h * s.k.head;
    const T *vb = v + b * s.v.batch + (int64_t)h * s.v.head;
    for (int64_t j = j0; j < j1; j++) {
        const T *kj = kb + j * s.k.pos, *vj = vb + j * s.v.pos;
        float dot = 0.0f;
#pragma unroll
        for (int t = 0; t < EPL; t++) {
            const int e = t * 32 + lane;
            if (e < hd) dot += qr[t] * ld(kj + e);
        }
#pragma unroll
        for (int off = 16; off > 0; off >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, off);
        const float sc = dot * scale;
        if (sc > m) { // rescale what was summed under the old max
            const float r = expf(m - sc);
            l *= r;
#pragma unroll
            for (int t = 0; t < EPL; t++) acc[t] *= r;
            m = sc;
        }
        const float pj = expf(sc - m);
        l += pj;
#pragma unroll
        for (int t = 0; t < EPL; t++) {
            const int e = t * 32 + lane;
            if (e < hd) acc[t] += pj * ld(vj + e);
        }
    }
#pragma unroll
    for (int t = 0; t < EPL; t++) part_acc[warp][t * 32 + lane] = acc[t];
    if (lane == 0) part_m[warp] = m, part_l[warp] = l;
    __syncthreads();
    if (warp != 0) return;
    float M = -INFINITY;
    for (int w = 0; w < KV_WARPS; w++) M = part_l[w] > 0.0f && part_m[w] > M ? part_m[w] : M;
    float L = 0.0f, o[EPL];
#pragma unroll
    for (int t = 0; t < EPL; t++) o[t] = 0.0f;
    for (int w = 0; w < KV_WARPS; w++) { // chunk order: fixed
        if (!(part_l[w] > 0.0f)) continue;
        const float r = expf(part_m[w] - M);
        L += part_l[w] * r;
#pragma unroll
        for (int t = 0; t < EPL; t++) o[t] += part_acc[w][t * 32 + lane] * r;
    }
    T *oi = out + ((b * s.Lq + i) * H + h) * (int64_t)hd;
#pragma unroll
    for (int t = 0; t < EPL; t++) {
        const int e = t * 32 + lane;
        if (e < hd) st(oi + e, L > 0.0f ? o[t] / L : 0.0f);
    }
}

template <typename T>
int launch(float *out, const float *q, const float *k, const float *v, const AttentionKvShape *s,
           float scale) {
    int status = 0;
    const int64_t blocks = s->B * s->H * s->Lq;
    const cudaStream_t st = (cudaStream_t)s->stream;
    T *o = (T *)out;
    const T *qq = (const T *)q, *kk = (const T *)k, *vv = (const T *)v;
    if (s->hd <= 32)
        attention_kv_kernel<T, 1><<<(unsigned)blocks, KV_WARPS * 32, 0, st>>>(o, qq, kk, vv, *s,
                                                                              scale);
    else if (s->hd <= 64)
        attention_kv_kernel<T, 2><<<(unsigned)blocks, KV_WARPS * 32, 0, st>>>(o, qq, kk, vv, *s,
                                                                              scale);
    else if (s->hd <= 128)
        attention_kv_kernel<T, 4><<<(unsigned)blocks, KV_WARPS * 32, 0, st>>>(o, qq, kk, vv, *s,
                                                                              scale);
    else
        attention_kv_kernel<T, 8><<<(unsigned)blocks, KV_WARPS * 32, 0, st>>>(o, qq, kk, vv, *s,
                                                                              scale);
    CUDA_CHECK_LAUNCH();
fail:
    return status;
}

} // namespace

extern "C" int attention_kv_fwd_cuda(float *out, const float *q, const float *k, const float *v,
                                     const AttentionKvShape *s) {
    int status = attention_kv_check(__func__, out, q, k, v, s);
    if (status < 0) return status;
    const int64_t blocks = s->B * s->H * s->Lq;
    if (blocks == 0) return 0;
    if (blocks > INT32_MAX)
        return ls_error(LS_ERR_UNSUPPORTED, "%s: B·H·Lq = %lld queries (at most 2^31 − 1 per "
                        "call on cuda)", __func__, (long long)blocks);
    const float scale = s->scale > 0.0f ? s->scale : (float)(1.0 / sqrt((double)s->hd));
    return s->dtype == DTYPE_BF16 ? launch<bf16>(out, q, k, v, s, scale)
                                  : launch<float>(out, q, k, v, s, scale);
}
