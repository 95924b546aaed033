/*
 * norm.cu — RMSNorm and LayerNorm fused with the residual add, on the GPU (kernels/norm.h,
 * NormArgs): norm_fwd_cuda, norm_bwd_cuda. Must match the CPU specification norm_fwd_cpu /
 * norm_bwd_cpu (kernels/cpu/norm.c); checked by tests/gpu/parity_norm.c.
 *
 * One warp per row (8 rows per block): lanes stride over the D columns (coalesced), the row
 * sums are in double as on the CPU (lane partial sums, then a fixed butterfly), and the
 * elementwise formulas are the CPU's with rn_ arithmetic (no FMA contraction), so y, dx and
 * the statistics differ from the CPU's only by the order of the double sums. The row is read
 * again for each pass (mean, variance, output): the passes after the first hit L1/L2.
 *
 * dw / db (sums over the M rows): a second kernel gives each thread one column and a fixed
 * chunk of rows (partial sums in double, in row order), then cuda_colsum adds the chunks in
 * order and one kernel adds the totals to dw / db: deterministic, no atomics. It re-reads dy
 * and h; norms are not on the bar, clarity won over one fused pass.
 */
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_math.cuh"
#include "kernels/norm.h"

#define NORM_WARPS 8       // rows per block
#define NORM_DW_ROWS 256   // rows per partial sum of dw / db (doubled until chunks <= 65535)

struct NormDev {
    int64_t M, D;
    int layer;
    float eps;
    const void *x, *residual, *h, *dy, *dres_out;
    const float *w, *b;
    void *y, *res_out, *dx, *dres;
    float *mean, *rstd;
    int dx_over; // dx = v instead of dx += v
};

template <typename T>
__device__ __forceinline__ float norm_h(const NormDev &p, int64_t i) {
    float x = ld((const T *)p.x + i);
    return p.residual ? rn_add(x, ld((const T *)p.residual + i)) : x;
}

// ----------------------------------------------------------------------------- forward

template <typename T>
__global__ void __launch_bounds__(NORM_WARPS * 32) norm_fwd_kernel(NormDev p) {
    const int lane = threadIdx.x & 31;
    const int64_t m = (int64_t)blockIdx.x * NORM_WARPS + (threadIdx.x >> 5);
    if (m >= p.M) return;
    const int64_t D = p.D, row = m * D;
    float muf = 0.0f, r;
    if (p.layer) {
        double sum = 0.0;
        for (int64_t d = lane; d < D; d += 32) sum += norm_h<T>(p, row + d);
        double mu = warp_sum(sum) / (double)D, var = 0.0;
        for (int64_t d = lane; d < D; d += 32) {
            double c = (double)norm_h<T>(p, row + d) - mu;
            var += c * c;
        }
        var = warp_sum(var);
        muf = (float)mu, r = (float)(1.0 / sqrt(var / (double)D + p.eps));
    } else {
        double ss = 0.0;
        for (int64_t d = lane; d < D; d += 32) {
            float h = norm_h<T>(p, row + d);
            ss += (double)h * h;
        }
        r = (float)(1.0 / sqrt(warp_sum(ss) / (double)D + p.eps));
    }
    for (int64_t d = lane; d < D; d += 32) {
        float h = norm_h<T>(p, row + d), y;
        if (p.layer)
            y = rn_add(rn_mul(rn_mul(rn_sub(h, muf), r), p.w[d]), p.b ? p.b[d] : 0.0f);
        else
            y = rn_mul(rn_mul(h, r), p.w[d]);
        st((T *)p.y + row + d, y);
        if (p.res_out) st((T *)p.res_out + row + d, h);
    }
    if (lane == 0) {
        if (p.layer && p.mean) p.mean[m] = muf;
        if (p.rstd) p.rstd[m] = r;
    }
}

// ----------------------------------------------------------------------------- backward

template <typename T>
__global__ void __launch_bounds__(NORM_WARPS * 32) norm_bwd_kernel(NormDev p) {
    const int lane = threadIdx.x & 31;
    const int64_t m = (int64_t)blockIdx.x * NORM_WARPS + (threadIdx.x >> 5);
    if (m >= p.M) return;
    const int64_t D = p.D, row = m * D;
    const T *h = (const T *)p.h + row, *dy = (const T *)p.dy + row;
    const float r = p.rstd[m], mu = p.layer ? p.mean[m] : 0.0f;
    double sum_g = 0.0, dot = 0.0;
    for (int64_t d = lane; d < D; d += 32) {
        float g = rn_mul(ld(dy + d), p.w[d]);
        float xhat = p.layer ? rn_mul(rn_sub(ld(h + d), mu), r) : rn_mul(ld(h + d), r);
        sum_g += g;
        dot += (double)g * xhat;
    }
    const float c1 = (float)(warp_sum(sum_g) / (double)D), c2 = (float)(warp_sum(dot) / (double)D);
    for (int64_t d = lane; d < D; d += 32) {
        float g = rn_mul(ld(dy + d), p.w[d]), v;
        if (p.layer) {
            float xhat = rn_mul(rn_sub(ld(h + d), mu), r);
            v = rn_mul(r, rn_sub(rn_sub(g, c1), rn_mul(xhat, c2)));
        } else {
            float xhat = rn_mul(ld(h + d), r);
            v = rn_mul(r, rn_sub(g, rn_mul(xhat, c2)));
        }
        if (p.dres_out) v = rn_add(v, ld((const T *)p.dres_out + row + d));
        if (p.dx) {
            T *dx = (T *)p.dx + row + d;
            st(dx, p.dx_over ? v : rn_add(ld(dx), v));
        }
        if (p.dres) {
            T *dr = (T *)p.dres + row + d;
            st(dr, rn_add(ld(dr), v));
        }
    }
}

// part[c, d] = Σ dy·x̂, part[c, D + d] = Σ dy over the rows of chunk c, in row order (double).
template <typename T>
__global__ void norm_wpart_kernel(NormDev p, int64_t rows, double *__restrict__ part) {
    const int64_t d = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (d >= p.D) return;
    const int64_t m0 = (int64_t)blockIdx.y * rows, m1 = min(m0 + rows, p.M);
    double sw = 0.0, sb = 0.0;
    for (int64_t m = m0; m < m1; m++) {
        float h = ld((const T *)p.h + m * p.D + d), dy = ld((const T *)p.dy + m * p.D + d);
        float mu = p.layer ? p.mean[m] : 0.0f;
        float xhat = rn_mul(rn_sub(h, mu), p.rstd[m]);
        sw += (double)dy * xhat;
        sb += dy;
    }
    part[blockIdx.y * 2 * p.D + d] = sw;
    part[blockIdx.y * 2 * p.D + p.D + d] = sb;
}

__global__ void norm_wadd_kernel(const double *__restrict__ sums, int64_t D,
                                 float *__restrict__ dw, float *__restrict__ db) {
    for (int64_t d = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; d < D;
         d += (int64_t)gridDim.x * blockDim.x) {
        if (dw) dw[d] += (float)sums[d];
        if (db) db[d] += (float)sums[D + d];
    }
}

// ----------------------------------------------------------------------------- launchers

static NormDev norm_dev(const NormArgs *a) {
    NormDev p;
    p.M = a->M, p.D = a->D, p.layer = a->kind == NORM_LAYER, p.eps = a->eps;
    p.x = a->x, p.residual = a->residual, p.h = a->h, p.dy = a->dy;
    p.dres_out = a->dresidual_out, p.w = a->w, p.b = a->b;
    p.y = a->y, p.res_out = a->residual_out, p.dx = a->dx, p.dres = a->dresidual;
    p.mean = a->mean, p.rstd = a->rstd;
    p.dx_over = a->dx_overwrite;
    return p;
}

extern "C" int norm_fwd_cuda(const NormArgs *a) {
    int status = norm_args_check(a, 0);
    if (status) return status;
    if (a->M == 0) return 0;
    NormDev p = norm_dev(a);
    cudaStream_t st = (cudaStream_t)a->stream;
    unsigned blocks = (unsigned)((a->M + NORM_WARPS - 1) / NORM_WARPS);
    if (a->dtype == DTYPE_BF16)
        norm_fwd_kernel<bf16><<<blocks, NORM_WARPS * 32, 0, st>>>(p);
    else
        norm_fwd_kernel<float><<<blocks, NORM_WARPS * 32, 0, st>>>(p);
    CUDA_CHECK_LAUNCH();
fail:
    return status;
}

extern "C" int norm_bwd_cuda(const NormArgs *a) {
    int status = norm_args_check(a, 1);
    if (status) return status;
    if (a->M == 0) return 0;
    NormDev p = norm_dev(a);
    cudaStream_t st = (cudaStream_t)a->stream;
    int bf = a->dtype == DTYPE_BF16;
    int64_t rows = NORM_DW_ROWS, chunks;
    double *part = NULL, *sums = NULL;
    size_t part_bytes;
    while ((a->M + rows - 1) / rows > 65535) rows *= 2; // grid.y limit; depends on M only
    chunks = (a->M + rows - 1) / rows;
    part_bytes = cuda_align((size_t)chunks * 2 * a->D * sizeof(double));

    if (a->dx || a->dresidual) {
        unsigned blocks = (unsigned)((a->M + NORM_WARPS - 1) / NORM_WARPS);
        if (bf)
            norm_bwd_kernel<bf16><<<blocks, NORM_WARPS * 32, 0, st>>>(p);
        else
            norm_bwd_kernel<float><<<blocks, NORM_WARPS * 32, 0, st>>>(p);
        CUDA_CHECK_LAUNCH();
    }
    if (a->dw || a->db) {
        if ((status = cuda_scratch(part_bytes + cuda_align((size_t)2 * a->D * sizeof(double)),
                                   (void **)&part, "the norm weight gradient's partial sums")))
            goto fail;
        sums = (double *)((char *)part + part_bytes);
        dim3 grid((unsigned)((a->D + 127) / 128), (unsigned)chunks);
        if (bf)
            norm_wpart_kernel<bf16><<<grid, 128, 0, st>>>(p, rows, part);
        else
            norm_wpart_kernel<float><<<grid, 128, 0, st>>>(p, rows, part);
        CUDA_CHECK_LAUNCH();
        if ((status = cuda_colsum(part, chunks, 2 * a->D, sums, st))) goto fail;
        norm_wadd_kernel<<<(unsigned)(a->D / 256 + 1), 256, 0, st>>>(sums, a->D, a->dw, a->db);
        CUDA_CHECK_LAUNCH();
    }
fail:
    return status;
}
