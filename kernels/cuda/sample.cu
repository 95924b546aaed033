/*
 * sample.cu — kernels/sample.h: one block of 256 threads per row, thread v owns id v. The
 * steps of pipeline/sampler.c, each made block-parallel in a fixed order:
 *   argmax        a tree reduction (larger logit, ties smaller id: the CPU's first maximum)
 *   p_v           exp((z_v − max)/T) in double (1 where z_v is the max, as the CPU keeps it)
 *   top-p order   a bitonic sort of (p, id), larger p first, ties smaller id (the CPU's qsort
 *                 comparator, which is a total order, so the sorted sequence is the same)
 *   masses        Hillis–Steele inclusive prefix sums in double over id order (no top-p) or
 *                 sorted order (top-p); the draw is the first position whose mass exceeds u
 *                 times the total (kept) mass
 * The uniform is drawn by thread 0 from the row's xoshiro256** state in global memory (the
 * code of io/rng.c), so replaying a graph of steps keeps advancing the same stream.
 * Checked against pipeline/sampler.c by tests/gpu/parity_sample.c.
 */
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/sample.h"

#include <math.h>

namespace {

constexpr int SAMPLE_THREADS = SAMPLE_MAX_VOCAB;

__device__ __forceinline__ uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// rng_uniform() of io/rng.c on a state in global memory.
__device__ double xoshiro_uniform(uint64_t *s) {
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return (double)(result >> 11) * 0x1.0p-53;
}

// Inclusive prefix sums of x[0..256) in place (every thread calls it).
__device__ void block_scan(double *x) {
    const int v = threadIdx.x;
    for (int off = 1; off < SAMPLE_THREADS; off <<= 1) {
        const double add = v >= off ? x[v - off] : 0.0;
        __syncthreads();
        x[v] += add;
        __syncthreads();
    }
}

__global__ void __launch_bounds__(SAMPLE_THREADS) sample_kernel(SampleArgs a, double inv_t) {
    __shared__ double mass[SAMPLE_THREADS];
    __shared__ float zs[SAMPLE_THREADS];
    __shared__ int ids[SAMPLE_THREADS];
    __shared__ double u;
    __shared__ int bad, pick, n_kept;
    const int v = threadIdx.x;
    const int64_t b = blockIdx.x, V = a.V;
    const float z = v < V ? a.logits[b * V + v] : -INFINITY;
    if (v == 0) bad = 0, pick = -1, n_kept = (int)V;
    __syncthreads();
    if (v < V && !isfinite(z)) {
        atomicMin((unsigned long long *)a.error, (unsigned long long)(b * V + v));
        bad = 1;
    }
    // the first id of largest logit
    zs[v] = z;
    ids[v] = v;
    __syncthreads();
    for (int s = SAMPLE_THREADS / 2; s > 0; s >>= 1) {
        if (v < s && (zs[v + s] > zs[v] || (zs[v + s] == zs[v] && ids[v + s] < ids[v])))
            zs[v] = zs[v + s], ids[v] = ids[v + s];
        __syncthreads();
    }
    const int best = ids[0];
    const float zmax = zs[0];
    int tok = best;
    if (bad) {
        tok = 0;
    } else if (inv_t > 0.0) {
        const double d = (double)z - (double)zmax;
        const double p = v < V ? (d == 0.0 ? 1.0 : exp(d * inv_t)) : 0.0;
        if (v == 0) u = xoshiro_uniform(a.rng + 4 * b);
        if (a.top_p >= 1.0) {
            mass[v] = p;
            __syncthreads();
            block_scan(mass);
            const double target = u * mass[V - 1];
            if (v < V && mass[v] > target && (v == 0 || mass[v - 1] <= target)) pick = v;
            __syncthreads();
            tok = pick >= 0 ? pick : best; // rounding left the target at the top: the likeliest
        } else {
            // bitonic sort of (p, id): larger p first, ties smaller id; padding (p = −1) last
            __syncthreads(); // ids[] of the argmax is read by every thread above
            mass[v] = v < V ? p : -1.0;
            ids[v] = v;
            __syncthreads();
            for (int k = 2; k <= SAMPLE_THREADS; k <<= 1)
                for (int j = k >> 1; j > 0; j >>= 1) {
                    const int w = v ^ j;
                    if (w > v) {
                        const double pv = mass[v], pw = mass[w];
                        const int iv = ids[v], iw = ids[w];
                        const bool w_first = pw > pv || (pw == pv && iw < iv);
                        const bool v_first = pv > pw || (pv == pw && iv < iw);
                        if ((v & k) == 0 ? w_first : v_first) {
                            mass[v] = pw, mass[w] = pv;
                            ids[v] = iw, ids[w] = iv;
                        }
                    }
                    __syncthreads();
                }
            if (v >= V) mass[v] = 0.0;
            __syncthreads();
            block_scan(mass); // mass[k]: the k + 1 likeliest ids together
            const double need = a.top_p * mass[V - 1];
            if (v < V && mass[v] >= need && (v == 0 || mass[v - 1] < need)) n_kept = v + 1;
            __syncthreads();
            const double target = u * mass[n_kept - 1];
            if (v < n_kept && mass[v] > target && (v == 0 || mass[v - 1] <= target)) pick = v;
            __syncthreads();
            tok = ids[pick >= 0 ? pick : 0];
        }
    }
    if (v == 0) {
        a.next[b] = (uint8_t)tok;
        if (a.out) a.out[b * a.out_stride] = (uint8_t)tok;
    }
}

} // namespace

extern "C" int sample_tokens_cuda(const SampleArgs *a) {
    int status = 0;
    if (!a || a->B < 0 || a->V < 1 || a->V > SAMPLE_MAX_VOCAB || !(a->temperature >= 0.0) ||
        !(a->top_p > 0.0 && a->top_p <= 1.0))
        return ls_error(LS_ERR_USAGE, "%s: B = %lld, V = %lld (1..%d), temperature %g, top-p %g",
                        __func__, a ? (long long)a->B : 0LL, a ? (long long)a->V : 0LL,
                        SAMPLE_MAX_VOCAB, a ? a->temperature : 0.0, a ? a->top_p : 0.0);
    if (a->B == 0) return 0;
    if (!a->logits || !a->next || !a->error || (a->temperature > 0.0 && !a->rng))
        return ls_error(LS_ERR_USAGE, "%s: NULL pointer", __func__);
    if (a->B > INT32_MAX)
        return ls_error(LS_ERR_UNSUPPORTED, "%s: %lld rows", __func__, (long long)a->B);
    sample_kernel<<<(unsigned)a->B, SAMPLE_THREADS, 0, cuda_stream(a->stream)>>>(
        *a, a->temperature > 0.0 ? 1.0 / a->temperature : 0.0);
    CUDA_CHECK_LAUNCH();
fail:
    return status;
}
