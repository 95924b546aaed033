/*
 * pool.cu — mean / first / last pooling on the GPU (kernels/pool.h): pool_fwd_cuda,
 * pool_bwd_cuda. Must match kernels/cpu/pool.c; checked by tests/gpu/parity_pool.c.
 *
 * Mean forward: one thread per (chunk of rows, b, column) sums its rows of x in order in
 * double (coalesced across columns); cuda_colsum adds the chunks in order; a last kernel
 * divides by n and stores (the CPU's (float)(Σ / n)). Rows past a row's length are never read.
 * First / last: a gather. Backward: elementwise (dx += dout·(float)(1/n) on the valid rows, or
 * dout into the one pooled row): no reduction, no atomics.
 */
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_math.cuh"
#include "kernels/pool.h"

#define POOL_ROWS 256 // rows per partial sum (doubled until chunks <= 65535)

__device__ __forceinline__ int64_t pool_len(const int64_t *lengths, int64_t b, int64_t L) {
    return lengths ? lengths[b] : L;
}

// First flat row of sequence b: b·L (a padded batch) or starts[b] (packed).
__device__ __forceinline__ int64_t pool_row0(const int64_t *starts, int64_t b, int64_t L) {
    return starts ? starts[b] : b * L;
}

// part[c, b, d] = Σ x[b, l, d] over l in chunk c, l < n_b (0 when the chunk is past n_b)
template <typename T>
__global__ void pool_part_kernel(const T *__restrict__ x, const int64_t *__restrict__ starts,
                                 const int64_t *__restrict__ lengths, int64_t B, int64_t L,
                                 int64_t D, int64_t rows, double *__restrict__ part) {
    const int64_t d = (int64_t)blockIdx.x * blockDim.x + threadIdx.x, b = blockIdx.z;
    if (d >= D) return;
    const int64_t n = pool_len(lengths, b, L);
    const int64_t l0 = (int64_t)blockIdx.y * rows, l1 = min(l0 + rows, n);
    double s = 0.0;
    const int64_t r0 = pool_row0(starts, b, L);
    for (int64_t l = l0; l < l1; l++) s += (double)ld(x + (r0 + l) * D + d);
    part[((int64_t)blockIdx.y * B + b) * D + d] = s;
}

template <typename T>
__global__ void pool_mean_kernel(T *__restrict__ out, const double *__restrict__ sums,
                                 const int64_t *__restrict__ lengths, int64_t B, int64_t L,
                                 int64_t D) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < B * D;
         i += (int64_t)gridDim.x * blockDim.x)
        st(out + i, (float)(sums[i] / (double)pool_len(lengths, i / D, L)));
}

template <typename T>
__global__ void pool_pick_kernel(T *__restrict__ out, const T *__restrict__ x,
                                 const int64_t *__restrict__ starts,
                                 const int64_t *__restrict__ lengths, int64_t B, int64_t L,
                                 int64_t D, int last) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < B * D;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t b = i / D, d = i % D, l = last ? pool_len(lengths, b, L) - 1 : 0;
        out[i] = x[(pool_row0(starts, b, L) + l) * D + d];
    }
}

template <typename T>
__global__ void pool_mean_bwd_kernel(T *__restrict__ dx, const T *__restrict__ dout,
                                     const int64_t *__restrict__ starts,
                                     const int64_t *__restrict__ lengths, int64_t B, int64_t L,
                                     int64_t D) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < B * L * D;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t b = i / (L * D), l = (i / D) % L, d = i % D, n = pool_len(lengths, b, L);
        if (l >= n) continue;
        float inv_n = (float)(1.0 / (double)n);
        T *p = dx + (pool_row0(starts, b, L) + l) * D + d;
        st(p, rn_add(ld(p), rn_mul(ld(dout + b * D + d), inv_n)));
    }
}

template <typename T>
__global__ void pool_pick_bwd_kernel(T *__restrict__ dx, const T *__restrict__ dout,
                                     const int64_t *__restrict__ starts,
                                     const int64_t *__restrict__ lengths, int64_t B, int64_t L,
                                     int64_t D, int last) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < B * D;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t b = i / D, d = i % D, l = last ? pool_len(lengths, b, L) - 1 : 0;
        T *p = dx + (pool_row0(starts, b, L) + l) * D + d;
        st(p, rn_add(ld(p), ld(dout + i)));
    }
}

static unsigned pool_blocks(int64_t n) {
    return (unsigned)(n / 256 + 1 < 65536 ? n / 256 + 1 : 65536);
}

static int pool_check(const char *fn, int have_pointers, const int64_t *lengths, int64_t B,
                      int64_t L, int64_t D, PoolMode mode, DType dtype, cudaStream_t st) {
    int64_t bad, bad_value;
    int status;
    if (B < 0 || L < 1 || D < 1)
        return ls_error(LS_ERR_USAGE, "%s: bad shape B=%lld L=%lld D=%lld (need B >= 0, L >= 1, "
                        "D >= 1)", fn, (long long)B, (long long)L, (long long)D);
    if (mode != POOL_MEAN && mode != POOL_FIRST && mode != POOL_LAST)
        return ls_error(LS_ERR_USAGE, "%s: unknown pooling mode %d", fn, (int)mode);
    if (dtype != DTYPE_F32 && dtype != DTYPE_BF16)
        return ls_error(LS_ERR_USAGE, "%s: dtype %d is not a DType", fn, (int)dtype);
    if (B > 0 && !have_pointers) return ls_error(LS_ERR_USAGE, "%s: NULL tensor", fn);
    if (B > 65535)
        return ls_error(LS_ERR_UNSUPPORTED, "%s: B = %lld (at most 65535 on cuda)", fn,
                        (long long)B);
    if (B > 0 && lengths) {
        if ((status = cuda_index_check(lengths, 1, B, 1, L, INT64_MIN, &bad, &bad_value, st)))
            return status;
        if (bad >= 0)
            return ls_error(LS_ERR_RANGE, "%s: lengths[%lld]=%lld outside [1, L=%lld]", fn,
                            (long long)bad, (long long)bad_value, (long long)L);
    }
    return 0;
}

template <typename T>
static int pool_fwd_launch(T *out, const T *x, const int64_t *starts, const int64_t *lengths,
                           int64_t B, int64_t L, int64_t D, PoolMode mode, cudaStream_t st) {
    int status = 0;
    int64_t rows = POOL_ROWS, chunks;
    size_t part_bytes;
    double *part = NULL, *sums;
    if (mode != POOL_MEAN) {
        pool_pick_kernel<T><<<pool_blocks(B * D), 256, 0, st>>>(out, x, starts, lengths, B, L, D,
                                                                 mode == POOL_LAST);
        CUDA_CHECK_LAUNCH();
        return 0;
    }
    while ((L + rows - 1) / rows > 65535) rows *= 2; // grid.y limit; depends on L only
    chunks = (L + rows - 1) / rows;
    part_bytes = cuda_align((size_t)chunks * B * D * sizeof(double));
    if ((status = cuda_scratch(part_bytes + cuda_align((size_t)B * D * sizeof(double)),
                               (void **)&part, "the mean pooling's partial sums")))
        return status;
    sums = (double *)((char *)part + part_bytes);
    pool_part_kernel<T><<<dim3((unsigned)((D + 127) / 128), (unsigned)chunks, (unsigned)B), 128,
                          0, st>>>(x, starts, lengths, B, L, D, rows, part);
    CUDA_CHECK_LAUNCH();
    if ((status = cuda_colsum(part, chunks, B * D, sums, st))) goto fail;
    pool_mean_kernel<T><<<pool_blocks(B * D), 256, 0, st>>>(out, sums, lengths, B, L, D);
    CUDA_CHECK_LAUNCH();
fail:
    return status;
}

extern "C" int pool_fwd_cuda(float *out, const float *x, const int64_t *lengths, int64_t B,
                             int64_t L, int64_t D, PoolMode mode, DType dtype, void *stream) {
    cudaStream_t st = (cudaStream_t)stream;
    int status = pool_check(__func__, out && x, lengths, B, L, D, mode, dtype, st);
    if (status || B == 0) return status;
    return dtype == DTYPE_BF16
               ? pool_fwd_launch<bf16>((bf16 *)out, (const bf16 *)x, NULL, lengths, B, L, D,
                                       mode, st)
               : pool_fwd_launch<float>(out, x, NULL, lengths, B, L, D, mode, st);
}

template <typename T>
static int pool_bwd_launch(T *dx, const T *dout, const int64_t *starts, const int64_t *lengths,
                           int64_t B, int64_t L, int64_t D, PoolMode mode, cudaStream_t st) {
    int status = 0;
    if (mode == POOL_MEAN)
        pool_mean_bwd_kernel<T><<<pool_blocks(B * L * D), 256, 0, st>>>(dx, dout, starts, lengths,
                                                                         B, L, D);
    else
        pool_pick_bwd_kernel<T><<<pool_blocks(B * D), 256, 0, st>>>(dx, dout, starts, lengths, B,
                                                                     L, D,
                                                                     mode == POOL_LAST);
    CUDA_CHECK_LAUNCH();
fail:
    return status;
}

extern "C" int pool_bwd_cuda(float *dx, const float *dout, const int64_t *lengths, int64_t B,
                             int64_t L, int64_t D, PoolMode mode, DType dtype, void *stream) {
    cudaStream_t st = (cudaStream_t)stream;
    int status = pool_check(__func__, dx && dout, lengths, B, L, D, mode, dtype, st);
    if (status || B == 0) return status;
    return dtype == DTYPE_BF16
               ? pool_bwd_launch<bf16>((bf16 *)dx, (const bf16 *)dout, NULL, lengths, B, L, D,
                                       mode, st)
               : pool_bwd_launch<float>(dx, dout, NULL, lengths, B, L, D, mode, st);
}

// Packed: the same kernels with each sequence's first row from starts.
extern "C" int pool_fwd_packed_cuda(float *out, const float *x, const int64_t *starts,
                                    const int64_t *lengths, int64_t S, int64_t L, int64_t D,
                                    PoolMode mode, DType dtype, void *stream) {
    cudaStream_t st = (cudaStream_t)stream;
    int status = pool_check(__func__, out && x && starts && lengths, lengths, S, L, D, mode,
                            dtype, st);
    if (status || S == 0) return status;
    return dtype == DTYPE_BF16
               ? pool_fwd_launch<bf16>((bf16 *)out, (const bf16 *)x, starts, lengths, S, L, D,
                                       mode, st)
               : pool_fwd_launch<float>(out, x, starts, lengths, S, L, D, mode, st);
}

extern "C" int pool_bwd_packed_cuda(float *dx, const float *dout, const int64_t *starts,
                                    const int64_t *lengths, int64_t S, int64_t L, int64_t D,
                                    PoolMode mode, DType dtype, void *stream) {
    cudaStream_t st = (cudaStream_t)stream;
    int status = pool_check(__func__, dx && dout && starts && lengths, lengths, S, L, D, mode,
                            dtype, st);
    if (status || S == 0) return status;
    return dtype == DTYPE_BF16
               ? pool_bwd_launch<bf16>((bf16 *)dx, (const bf16 *)dout, starts, lengths, S, L, D,
                                       mode, st)
               : pool_bwd_launch<float>(dx, dout, starts, lengths, S, L, D, mode, st);
}
