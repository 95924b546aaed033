/*
 * loss.cu — softmax cross-entropy on the GPU (kernels/loss.h): loss_xent_cuda. Must match
 * kernels/cpu/loss.c; checked by tests/gpu/parity_loss.c.
 *
 * The CPU's three steps, each a fixed-order reduction:
 *   1. one thread per row validates target and weight (first bad row by an integer atomicMin,
 *      whose result is order-free) and adds its weight to a per-block tree sum; cuda_sum adds
 *      the block sums (Σ w, double). The host reads the first bad row back (the only wait);
 *   2. one warp per row: max, Σ exp(z − max) in double (lane partial sums, fixed butterfly),
 *      log-sum-exp, row_loss, and dlogits += coef·(softmax − onehot) with the CPU's double
 *      formula; each block adds its 8 rows' w·row_loss in row order;
 *   3. cuda_sum over the block sums, and mean = total / Σ w on the device.
 */
#include <math.h>

#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_math.cuh"
#include "kernels/loss.h"

#define LOSS_CHECK_THREADS 256
#define LOSS_WARPS 8 // rows per block of the row kernel

__global__ void loss_check_kernel(const int32_t *__restrict__ targets,
                                  const float *__restrict__ weights, int64_t M, int64_t V,
                                  unsigned long long *__restrict__ first_bad,
                                  double *__restrict__ wpart) {
    __shared__ double acc[LOSS_CHECK_THREADS];
    const int64_t m = (int64_t)blockIdx.x * LOSS_CHECK_THREADS + threadIdx.x;
    double w = 0.0;
    if (m < M) {
        int32_t t = targets[m];
        float wm = weights ? weights[m] : 1.0f;
        bool bad_t = t != LOSS_IGNORE_INDEX && (t < 0 || t >= V);
        bool bad_w = weights && !(wm >= 0.0f && isfinite(wm));
        if (bad_t || bad_w) atomicMin(first_bad, (unsigned long long)m);
        if (t != LOSS_IGNORE_INDEX) w = weights ? (double)wm : 1.0;
    }
    acc[threadIdx.x] = w;
    __syncthreads();
    for (int half = LOSS_CHECK_THREADS / 2; half > 0; half >>= 1) {
        if ((int)threadIdx.x < half) acc[threadIdx.x] += acc[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0) wpart[blockIdx.x] = acc[0];
}

template <typename T>
__global__ void __launch_bounds__(LOSS_WARPS * 32)
    loss_row_kernel(const T *__restrict__ logits, const int32_t *__restrict__ targets,
                    const float *__restrict__ weights, int64_t M, int64_t V, float grad_scale,
                    const double *__restrict__ wsum_p, float *__restrict__ row_loss,
                    T *__restrict__ dlogits, double *__restrict__ lpart) {
    __shared__ double contrib[LOSS_WARPS];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int64_t m = (int64_t)blockIdx.x * LOSS_WARPS + warp;
    double c = 0.0;
    if (m < M) {
        const int32_t t = targets[m];
        if (t == LOSS_IGNORE_INDEX) {
            if (lane == 0) row_loss[m] = 0.0f;
        } else {
            const T *z = logits + m * V;
            float zm = -INFINITY;
            for (int64_t j = lane; j < V; j += 32) zm = fmaxf(zm, ld(z + j));
            const double zmax = (double)warp_max(zm);
            double sum = 0.0;
            for (int64_t j = lane; j < V; j += 32) sum += exp((double)ld(z + j) - zmax);
            const double lse = zmax + log(warp_sum(sum));
            const float rl = (float)(lse - (double)ld(z + t));
            const double wm = weights ? (double)weights[m] : 1.0, wsum = *wsum_p;
            if (lane == 0) row_loss[m] = rl;
            c = wm * rl;
            if (dlogits && wsum > 0.0) {
                const double coef = (double)grad_scale * wm / wsum;
                T *dz = dlogits + m * V;
                for (int64_t j = lane; j < V; j += 32) {
                    double g = coef * (exp((double)ld(z + j) - lse) - (j == t ? 1.0 : 0.0));
                    st(dz + j, rn_add(ld(dz + j), (float)g));
                }
            }
        }
    }
    if (lane == 0) contrib[warp] = c;
    __syncthreads();
    if (threadIdx.x == 0) {
        double s = 0.0;
        for (int w = 0; w < LOSS_WARPS; w++) s += contrib[w];
        lpart[blockIdx.x] = s;
    }
}

__global__ void loss_mean_kernel(const double *__restrict__ total, const double *__restrict__ wsum,
                                 double *__restrict__ mean) {
    *mean = *wsum > 0.0 ? *total / *wsum : 0.0;
}

extern "C" int loss_xent_cuda(double *mean_loss, float *row_loss, float *dlogits,
                              const float *logits, const int32_t *targets, const float *weights,
                              int64_t M, int64_t V, float grad_scale, DType dtype, void *stream) {
    int status = 0;
    cudaStream_t st = (cudaStream_t)stream;
    int64_t nb1 = (M + LOSS_CHECK_THREADS - 1) / LOSS_CHECK_THREADS;
    int64_t nb2 = (M + LOSS_WARPS - 1) / LOSS_WARPS;
    char *base = NULL;
    unsigned long long *first_bad, bad = 0;
    double *wpart, *wsum, *lpart, *total;
    size_t o1, o2, o3, o4;
    if (M < 0 || V < 1)
        return ls_error(LS_ERR_USAGE, "%s: bad shape M=%lld V=%lld (need M >= 0, V >= 1)",
                        __func__, (long long)M, (long long)V);
    if (!mean_loss || (M > 0 && (!row_loss || !logits || !targets)))
        return ls_error(LS_ERR_USAGE, "%s: mean_loss, row_loss, logits and targets must not be "
                        "NULL", __func__);
    if (dtype != DTYPE_F32 && dtype != DTYPE_BF16)
        return ls_error(LS_ERR_USAGE, "%s: dtype %d is not a DType", __func__, (int)dtype);
    if (M == 0) {
        CUDA_RT(cudaMemsetAsync(mean_loss, 0, sizeof(double), st));
        return 0;
    }
    o1 = cuda_align(sizeof(unsigned long long));
    o2 = o1 + cuda_align((size_t)nb1 * sizeof(double));
    o3 = o2 + cuda_align(sizeof(double));
    o4 = o3 + cuda_align((size_t)nb2 * sizeof(double));
    if ((status = cuda_scratch(o4 + cuda_align(sizeof(double)), (void **)&base,
                               "the cross-entropy reductions")))
        return status;
    first_bad = (unsigned long long *)base, wpart = (double *)(base + o1);
    wsum = (double *)(base + o2), lpart = (double *)(base + o3), total = (double *)(base + o4);

    // 1. validate, Σ w
    CUDA_RT(cudaMemsetAsync(first_bad, 0xff, sizeof *first_bad, st));
    loss_check_kernel<<<(unsigned)nb1, LOSS_CHECK_THREADS, 0, st>>>(targets, weights, M, V,
                                                                      first_bad, wpart);
    CUDA_CHECK_LAUNCH();
    if ((status = cuda_sum(wpart, nb1, wsum, st))) goto fail;
    CUDA_RT(cudaMemcpyAsync(&bad, first_bad, sizeof bad, cudaMemcpyDeviceToHost, st));
    CUDA_RT(cudaStreamSynchronize(st));
    if (bad != ~0ull) {
        int32_t t = 0;
        float w = 1.0f;
        CUDA_RT(cudaMemcpy(&t, targets + bad, sizeof t, cudaMemcpyDeviceToHost));
        if (weights) CUDA_RT(cudaMemcpy(&w, weights + bad, sizeof w, cudaMemcpyDeviceToHost));
        if (t != LOSS_IGNORE_INDEX && (t < 0 || t >= V))
            return ls_error(LS_ERR_RANGE, "%s: targets[%lld]=%d outside [0, V=%lld) and not the "
                            "ignore index %d", __func__, (long long)bad, t, (long long)V,
                            LOSS_IGNORE_INDEX);
        return ls_error(LS_ERR_RANGE, "%s: weights[%lld]=%g must be finite and >= 0", __func__,
                        (long long)bad, w);
    }
    // 2. rows
    if (dtype == DTYPE_BF16)
        loss_row_kernel<bf16><<<(unsigned)nb2, LOSS_WARPS * 32, 0, st>>>(
            (const bf16 *)logits, targets, weights, M, V, grad_scale, wsum, row_loss,
            (bf16 *)dlogits, lpart);
    else
        loss_row_kernel<float><<<(unsigned)nb2, LOSS_WARPS * 32, 0, st>>>(
            logits, targets, weights, M, V, grad_scale, wsum, row_loss, dlogits, lpart);
    CUDA_CHECK_LAUNCH();
    // 3. mean
    if ((status = cuda_sum(lpart, nb2, total, st))) goto fail;
    loss_mean_kernel<<<1, 1, 0, st>>>(total, wsum, mean_loss);
    CUDA_CHECK_LAUNCH();
fail:
    return status;
}
