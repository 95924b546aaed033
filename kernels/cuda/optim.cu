/*
 * optim.cu — AdamW and the global gradient norm on the GPU (kernels/optim.h):
 * optim_adamw_step_cuda, optim_grad_norm_cuda. Must match kernels/cpu/optim.c (the step bit for
 * bit); checked by tests/gpu/parity_optim.c.
 *
 * One fused kernel for the step: the table (up to OPTIM_CUDA_BATCH tensors per launch, as a
 * kernel parameter) gives each tensor a range of blocks; a block finds its tensor by a search
 * over the block starts (uniform across the block) and updates ADAMW_PER_BLOCK elements of it:
 * p, m, v read once and written once, g read once. Gaps between tensors are never touched.
 * The scalars are formed on the host exactly as the CPU forms them, and the element update is
 * the CPU's float expression in its order with IEEE division and square root (__fdiv_rn,
 * __fsqrt_rn; rn_ products and sums are never fused), hence bit-identical results.
 *
 * The norm: one block per OPTIM_NORM_BLOCK elements of a tensor (the CPU's blocks), a fixed
 * tree in double inside the block, the block sums in table order in the scratch, cuda_sum over
 * them; the host takes the square root of the total as the CPU does.
 */
#include <math.h>
#include <string.h>

#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_math.cuh"
#include "kernels/optim.h"

#define ADAMW_THREADS 256
#define ADAMW_PER_THREAD 4
#define ADAMW_PER_BLOCK (ADAMW_THREADS * ADAMW_PER_THREAD)
#define NORM_THREADS 256

struct OptimBatch {
    int n;
    int64_t off[OPTIM_CUDA_BATCH], numel[OPTIM_CUDA_BATCH];
    int64_t blk0[OPTIM_CUDA_BATCH + 1]; // first block of each tensor; blk0[n] = total blocks
    int64_t part0;                      // norm: index of this batch's first block sum
    unsigned char decay[OPTIM_CUDA_BATCH];
};

struct AdamWScalars {
    float step_size, bc2_sqrt, decay_factor, one_minus_b1, one_minus_b2, b2, eps, grad_scale;
};

// the tensor whose blocks contain block b (largest i with blk0[i] <= b)
__device__ __forceinline__ int batch_find(const OptimBatch &t, int64_t b) {
    int lo = 0, hi = t.n - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (t.blk0[mid] <= b)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

__global__ void __launch_bounds__(ADAMW_THREADS)
    adamw_kernel(float *__restrict__ params, float *__restrict__ m, float *__restrict__ v,
                 const float *__restrict__ grads, const OptimBatch t, const AdamWScalars s) {
    const int ti = batch_find(t, blockIdx.x);
    const int64_t off = t.off[ti], n = t.numel[ti];
    const int64_t i0 = ((int64_t)blockIdx.x - t.blk0[ti]) * ADAMW_PER_BLOCK;
    const bool decay = t.decay[ti] != 0;
#pragma unroll
    for (int k = 0; k < ADAMW_PER_THREAD; k++) {
        const int64_t i = i0 + k * ADAMW_THREADS + threadIdx.x;
        if (i >= n) break;
        const int64_t e = off + i;
        float g = rn_mul(grads[e], s.grad_scale);
        float p = params[e];
        if (decay) p = rn_mul(p, s.decay_factor);
        float mi = rn_add(m[e], rn_mul(s.one_minus_b1, rn_sub(g, m[e])));
        float vi = rn_add(rn_mul(v[e], s.b2), rn_mul(rn_mul(s.one_minus_b2, g), g));
        float denom = rn_add(rn_div(__fsqrt_rn(vi), s.bc2_sqrt), s.eps);
        params[e] = rn_add(p, rn_div(rn_mul(-s.step_size, mi), denom));
        m[e] = mi;
        v[e] = vi;
    }
}

__global__ void __launch_bounds__(NORM_THREADS)
    norm_part_kernel(const float *__restrict__ grads, const OptimBatch t,
                     double *__restrict__ part) {
    __shared__ double acc[NORM_THREADS];
    const int ti = batch_find(t, blockIdx.x);
    const int64_t i0 = ((int64_t)blockIdx.x - t.blk0[ti]) * OPTIM_NORM_BLOCK;
    const int64_t i1 = min(i0 + OPTIM_NORM_BLOCK, t.numel[ti]);
    const float *g = grads + t.off[ti];
    double s = 0.0;
    for (int64_t i = i0 + threadIdx.x; i < i1; i += NORM_THREADS) s += (double)g[i] * g[i];
    acc[threadIdx.x] = s;
    __syncthreads();
    for (int half = NORM_THREADS / 2; half > 0; half >>= 1) {
        if ((int)threadIdx.x < half) acc[threadIdx.x] += acc[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0) part[t.part0 + blockIdx.x] = acc[0];
}

// Fill a batch from tensors [first, first + count) with `per_block` elements per block;
// empty tensors get no blocks. Returns the number of blocks.
static int64_t batch_fill(OptimBatch *b, const OptimTensor *tensors, int64_t first, int count,
                          int64_t per_block) {
    memset(b, 0, sizeof *b);
    int64_t blocks = 0;
    for (int i = 0; i < count; i++) {
        const OptimTensor *t = &tensors[first + i];
        b->off[i] = t->offset, b->numel[i] = t->numel, b->decay[i] = t->decay != 0;
        b->blk0[i] = blocks;
        blocks += (t->numel + per_block - 1) / per_block;
    }
    b->n = count, b->blk0[count] = blocks;
    return blocks;
}

extern "C" int optim_adamw_step_cuda(float *params, float *m, float *v, const float *grads,
                                     const OptimTensor *tensors, int64_t n_tensors,
                                     const AdamWConfig *cfg, int64_t step, double lr,
                                     float grad_scale, void *stream) {
    int status = optim_check_table(__func__, tensors, n_tensors);
    cudaStream_t st = (cudaStream_t)stream;
    AdamWScalars s;
    OptimBatch batch;
    if (status) return status;
    if (!params || !m || !v || !grads)
        return ls_error(LS_ERR_USAGE, "%s: params, m, v and grads must not be NULL", __func__);
    if ((status = optim_check_step(__func__, cfg, step, lr, grad_scale))) return status;
    {
        // the CPU's scalars, formed the same way (double, then float)
        const double bias_correction1 = 1.0 - pow(cfg->beta1, (double)step);
        const double bias_correction2 = 1.0 - pow(cfg->beta2, (double)step);
        s.step_size = (float)(lr / bias_correction1);
        s.bc2_sqrt = (float)sqrt(bias_correction2);
        s.decay_factor = (float)(1.0 - lr * cfg->weight_decay);
        s.one_minus_b1 = (float)(1.0 - cfg->beta1), s.one_minus_b2 = (float)(1.0 - cfg->beta2);
        s.b2 = (float)cfg->beta2, s.eps = (float)cfg->eps, s.grad_scale = grad_scale;
    }
    for (int64_t first = 0; first < n_tensors; first += OPTIM_CUDA_BATCH) {
        int count = (int)(n_tensors - first < OPTIM_CUDA_BATCH ? n_tensors - first
                                                                : OPTIM_CUDA_BATCH);
        int64_t blocks = batch_fill(&batch, tensors, first, count, ADAMW_PER_BLOCK);
        if (blocks == 0) continue;
        if (blocks > 2147483647LL)
            return ls_error(LS_ERR_UNSUPPORTED, "%s: %lld blocks in one launch", __func__,
                            (long long)blocks);
        adamw_kernel<<<(unsigned)blocks, ADAMW_THREADS, 0, st>>>(params, m, v, grads, batch, s);
        CUDA_CHECK_LAUNCH();
    }
fail:
    return status;
}

extern "C" int optim_grad_norm_cuda(double *norm, const float *grads, const OptimTensor *tensors,
                                    int64_t n_tensors, void *stream) {
    int status = optim_check_table(__func__, tensors, n_tensors);
    cudaStream_t st = (cudaStream_t)stream;
    OptimBatch batch;
    int64_t parts = 0;
    double *part = NULL, *total, host_total = 0.0;
    size_t part_bytes;
    if (status) return status;
    if (!norm || (n_tensors > 0 && !grads))
        return ls_error(LS_ERR_USAGE, "%s: norm and grads must not be NULL", __func__);
    for (int64_t i = 0; i < n_tensors; i++)
        parts += (tensors[i].numel + OPTIM_NORM_BLOCK - 1) / OPTIM_NORM_BLOCK;
    if (parts == 0) {
        *norm = 0.0;
        return 0;
    }
    part_bytes = cuda_align((size_t)parts * sizeof(double));
    if ((status = cuda_scratch(part_bytes + cuda_align(sizeof(double)), (void **)&part,
                               "the gradient norm's partial sums")))
        return status;
    total = (double *)((char *)part + part_bytes);
    parts = 0;
    for (int64_t first = 0; first < n_tensors; first += OPTIM_CUDA_BATCH) {
        int count = (int)(n_tensors - first < OPTIM_CUDA_BATCH ? n_tensors - first
                                                                : OPTIM_CUDA_BATCH);
        int64_t blocks = batch_fill(&batch, tensors, first, count, OPTIM_NORM_BLOCK);
        batch.part0 = parts;
        parts += blocks;
        if (blocks == 0) continue;
        norm_part_kernel<<<(unsigned)blocks, NORM_THREADS, 0, st>>>(grads, batch, part);
        CUDA_CHECK_LAUNCH();
    }
    if ((status = cuda_sum(part, parts, total, st))) goto fail;
    CUDA_RT(cudaMemcpyAsync(&host_total, total, sizeof host_total, cudaMemcpyDeviceToHost, st));
    CUDA_RT(cudaStreamSynchronize(st));
    *norm = sqrt(host_total);
fail:
    return status;
}
