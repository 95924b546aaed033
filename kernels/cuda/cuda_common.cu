/*
 * cuda_common.cu — what every kernels/cuda op file shares (declared in cuda_common.cuh): the
 * per-device context (cuBLAS / cuBLASLt handles and workspaces, created once), the growing
 * scratch buffer, deterministic reductions in double, and the device-side check of index arrays
 * (token ids, targets, lengths) whose values the host cannot see.
 * Counterpart of nothing on the CPU (host memory needs no context); exercised by every
 * tests/gpu/parity_<op>.c suite.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/cuda_common.cuh"
#include "kernels/device.h"

// ----------------------------------------------------------------------------- context

#define CUDA_CTX_MAX 64                   // devices per process
#define CUDA_WS_BYTES ((size_t)32 << 20)  // cuBLAS's recommended workspace on Hopper

static CudaCtx *ctx_table[CUDA_CTX_MAX];
static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;

static void ctx_destroy(CudaCtx *c) {
    if (!c) return;
    if (c->blas) cublasDestroy(c->blas);
    if (c->lt) cublasLtDestroy(c->lt);
    device_cuda_free(c->blas_ws);
    device_cuda_free(c->lt_ws);
    device_cuda_free(c->scratch);
    free(c);
}

static int ctx_create(int device, CudaCtx **out) {
    int status = 0;
    CudaCtx *c = (CudaCtx *)calloc(1, sizeof *c);
    if (!c) return ls_error(LS_ERR_NOMEM, "cuda:%d: out of host memory for the context", device);
    c->device = device;
    c->ws_bytes = CUDA_WS_BYTES;
    CUBLAS_TRY(cublasCreate(&c->blas));
    CUBLAS_TRY(cublasLtCreate(&c->lt));
    if ((status = device_cuda_alloc(&c->blas_ws, c->ws_bytes, "free GPU memory for cuBLAS")))
        goto fail;
    if ((status = device_cuda_alloc(&c->lt_ws, c->ws_bytes, "free GPU memory for cuBLASLt")))
        goto fail;
    CUBLAS_TRY(cublasSetWorkspace(c->blas, c->blas_ws, c->ws_bytes));
    // Deterministic by default (no atomics mode); say so rather than rely on the default.
    CUBLAS_TRY(cublasSetAtomicsMode(c->blas, CUBLAS_ATOMICS_NOT_ALLOWED));
    // bf16 GEMMs reduce split-K partial sums in fp32, never in bf16: cuBLAS may otherwise
    // round partials to the output type (PyTorch's allow_bf16_reduced_precision_reduction),
    // which the parity run of 927e8b5 caught as dx errors of 1e-4·Σ|terms| on an H100.
    CUBLAS_TRY(cublasSetMathMode(c->blas, (cublasMath_t)(CUBLAS_DEFAULT_MATH |
                                                         CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION)));
    *out = c;
    return 0;
fail:
    ctx_destroy(c);
    return status;
}

extern "C" int cuda_ctx_get(CudaCtx **out) {
    int status = 0, device = -1;
    *out = NULL;
    CUDA_RT(cudaGetDevice(&device));
    if (device < 0 || device >= CUDA_CTX_MAX)
        return ls_error(LS_ERR_UNSUPPORTED, "cuda:%d: device index above %d", device,
                        CUDA_CTX_MAX - 1);
    pthread_mutex_lock(&ctx_lock);
    if (!ctx_table[device]) status = ctx_create(device, &ctx_table[device]);
    *out = ctx_table[device];
    pthread_mutex_unlock(&ctx_lock);
fail:
    return status;
}

extern "C" int cuda_scratch(size_t bytes, void **out, const char *what) {
    CudaCtx *c;
    int status = cuda_ctx_get(&c);
    *out = NULL;
    if (status) return status;
    if (bytes > c->scratch_bytes) {
        // cudaFree waits for the device, so work still reading the old buffer has finished.
        device_cuda_free(c->scratch);
        c->scratch = NULL, c->scratch_bytes = 0;
        char hint[160];
        snprintf(hint, sizeof hint, "the GPU lacks scratch memory for %s; lower the sequence "
                 "length or batch", what);
        size_t grown = cuda_align(bytes + bytes / 4); // headroom: fewer regrowths
        if ((status = device_cuda_alloc(&c->scratch, grown, hint))) return status;
        c->scratch_bytes = grown;
    }
    *out = c->scratch;
    return 0;
}

extern "C" void device_cuda_release(void) {
    pthread_mutex_lock(&ctx_lock);
    for (int i = 0; i < CUDA_CTX_MAX; i++) {
        if (!ctx_table[i]) continue;
        int saved = -1;
        cudaGetDevice(&saved);
        cudaSetDevice(i);
        ctx_destroy(ctx_table[i]);
        ctx_table[i] = NULL;
        if (saved >= 0) cudaSetDevice(saved);
    }
    pthread_mutex_unlock(&ctx_lock);
}

// ----------------------------------------------------------------------------- reductions

#define COLSUM_X 32
#define COLSUM_Y 16

// Block (32, 16) per 32 columns: thread y sums rows y, y+16, … in order; then row 0 adds the
// 16 partial sums in order. The assignment depends on R and C only.
__global__ void colsum_kernel(const double *__restrict__ part, int64_t R, int64_t C,
                              double *__restrict__ sums) {
    __shared__ double acc[COLSUM_Y][COLSUM_X + 1];
    const int64_t c = (int64_t)blockIdx.x * COLSUM_X + threadIdx.x;
    double s = 0.0;
    if (c < C)
        for (int64_t r = threadIdx.y; r < R; r += COLSUM_Y) s += part[r * C + c];
    acc[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        double t = 0.0;
        for (int y = 0; y < COLSUM_Y; y++) t += acc[y][threadIdx.x];
        sums[c] = t;
    }
}

extern "C" int cuda_colsum(const double *part, int64_t R, int64_t C, double *sums,
                           cudaStream_t stream) {
    int status = 0;
    if (C <= 0) return 0;
    colsum_kernel<<<(unsigned)((C + COLSUM_X - 1) / COLSUM_X), dim3(COLSUM_X, COLSUM_Y), 0,
                    stream>>>(part, R, C, sums);
    CUDA_CHECK_LAUNCH();
fail:
    return status;
}

#define SUM_THREADS 1024

// One block: thread i sums x[i], x[i+1024], … in order, then a fixed binary tree.
__global__ void sum_kernel(const double *__restrict__ x, int64_t n, double *__restrict__ out) {
    __shared__ double acc[SUM_THREADS];
    double s = 0.0;
    for (int64_t i = threadIdx.x; i < n; i += SUM_THREADS) s += x[i];
    acc[threadIdx.x] = s;
    __syncthreads();
    for (int half = SUM_THREADS / 2; half > 0; half >>= 1) {
        if ((int)threadIdx.x < half) acc[threadIdx.x] += acc[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0) *out = acc[0];
}

extern "C" int cuda_sum(const double *x, int64_t n, double *out, cudaStream_t stream) {
    int status = 0;
    sum_kernel<<<1, SUM_THREADS, 0, stream>>>(x, n, out);
    CUDA_CHECK_LAUNCH();
fail:
    return status;
}

// ----------------------------------------------------------------------------- index check

// first bad position: an integer atomicMin, whose result does not depend on the order
__global__ void index_check_kernel(const void *__restrict__ idx, int is64, int64_t n,
                                   int64_t lo, int64_t hi, int64_t ignore,
                                   unsigned long long *__restrict__ first_bad) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t v = is64 ? ((const int64_t *)idx)[i] : ((const int32_t *)idx)[i];
        if ((v < lo || v > hi) && v != ignore) atomicMin(first_bad, (unsigned long long)i);
    }
}

__global__ void index_value_kernel(const void *__restrict__ idx, int is64,
                                   unsigned long long *__restrict__ res) {
    // res[0] = first bad position (or ~0), res[1] = its value
    unsigned long long i = res[0];
    if (i != ~0ull) {
        int64_t v = is64 ? ((const int64_t *)idx)[i] : ((const int32_t *)idx)[i];
        res[1] = (unsigned long long)v;
    }
}

extern "C" int cuda_index_check(const void *idx, int is64, int64_t n, int64_t lo, int64_t hi,
                                int64_t ignore, int64_t *bad, int64_t *bad_value,
                                cudaStream_t stream) {
    int status = 0;
    unsigned long long *res = NULL, host[2] = {0, 0};
    unsigned blocks = (unsigned)(n / 256 + 1 < 4096 ? n / 256 + 1 : 4096);
    *bad = -1, *bad_value = 0;
    if (n <= 0) return 0;
    if ((status = cuda_scratch(2 * sizeof(unsigned long long), (void **)&res, "an index check")))
        return status;
    CUDA_RT(cudaMemsetAsync(res, 0xff, sizeof host, stream)); // first bad = none (~0)
    index_check_kernel<<<blocks, 256, 0, stream>>>(idx, is64, n, lo, hi, ignore, res);
    CUDA_CHECK_LAUNCH();
    index_value_kernel<<<1, 1, 0, stream>>>(idx, is64, res);
    CUDA_CHECK_LAUNCH();
    CUDA_RT(cudaMemcpyAsync(host, res, sizeof host, cudaMemcpyDeviceToHost, stream));
    CUDA_RT(cudaStreamSynchronize(stream));
    if (host[0] != ~0ull) *bad = (int64_t)host[0], *bad_value = (int64_t)host[1];
fail:
    return status;
}
