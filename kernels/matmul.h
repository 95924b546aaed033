/*
 * matmul.h — the linear layer y = x·Wᵀ + b and its backward (PyTorch nn.Linear layout).
 *
 * Shapes, outermost first, row-major:
 *   x  (M, K)   M = B·L tokens, K = in_features; rows ld_x >= K elements apart
 *   W  (N, K)   as PyTorch stores nn.Linear.weight (out_features, in_features), contiguous
 *   b  (N)      optional bias
 *   y  (M, N)   rows ld_y >= N elements apart
 * The row strides let a column slice of a wider activation (e.g. the dt part of Mamba's
 * x_proj output, or one of q/k/v in a fused projection) be read or written in place. Pass
 * ld_x = K and ld_y = N for contiguous tensors. The same strides apply to dx and dy.
 *
 * Gradient convention (project-wide): backward ops ACCUMULATE (+=) into every gradient
 * output (dx, dW, db); the caller zeroes gradients before the first backward of a step
 * (llm.c convention), so a tensor used twice (tied weights, residual branches) just adds.
 *
 * CPU: cblas_sgemm (OpenBLAS) on fixed blocks, bias and bias gradient in plain C.
 * BLAS takes 32-bit ints: M, K, N, ld_x, ld_y must each be <= INT_MAX (LS_ERR_RANGE else).
 * CUDA (kernels/cuda/matmul.cu): cuBLAS / cuBLASLt only, same arguments plus a MatmulCuda
 * (dtype, TF32 switch, stream). Forward: cublasLtMatmul with the BIAS epilogue (bias added in
 * fp32 inside the GEMM; a bf16 output with a bias gets the GEMM's fp32 product and our own
 * epilogue, as cuBLASLt takes no fp32 bias with a bf16 output and cuBLAS's beta = 1 kernels
 * may round the product to bf16 before adding); backward: cublasGemmEx for dx and dW, and the bias gradient by a
 * fixed-order two-stage column sum in double (no atomics). cuBLAS runs with atomics disallowed
 * and its own preallocated workspace, so a call repeated on one stream gives the same bits.
 * Activation epilogues: cuBLASLt offers ReLU and GELU; the models use SiLU (not offered) and
 * act.h's exact erf GELU, so no activation is fused here (see bench/NOTES-ops.md).
 *
 * Threads: results are bit-identical for any OpenMP thread count. OpenBLAS's own threading
 * is not (it splits a product by its thread count, and its edge kernels round differently),
 * so each call sets OpenBLAS to one thread (openblas_set_num_threads(1), process-wide) and
 * spreads fixed blocks over the OpenMP threads: 128 rows of y or dx per sgemm, 32 rows of dW
 * per sgemm (each a full reduction over M). The blocks depend on the shapes only. The thread
 * count is therefore OpenMP's alone (omp_set_num_threads, the CLI's --threads). Call these
 * functions outside any OpenMP parallel region: they open their own.
 *
 * Tested by tests/unit/test_matmul.c (double reference, finite differences, accumulation,
 * strided rows, 1/2/3 threads bit-identical, invalid arguments).
 */
#ifndef LS_MATMUL_H
#define LS_MATMUL_H

#include <stdint.h>

#include "common/error.h"
#include "kernels/dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * y = x·Wᵀ + b (overwrites y).
 * @param y    (M, N) output, row stride ld_y
 * @param x    (M, K) input, row stride ld_x
 * @param w    (N, K) weight, contiguous
 * @param b    (N) bias, or NULL for none
 * @return 0; LS_ERR_USAGE for a NULL required pointer, M < 0, K < 1, N < 1, ld_x < K or
 *         ld_y < N; LS_ERR_RANGE when a size exceeds BLAS's 32-bit int. M = 0 is a no-op.
 */
int matmul_fwd_cpu(float *y, const float *x, const float *w, const float *b, int64_t M,
                   int64_t K, int64_t N, int64_t ld_x, int64_t ld_y) LS_RESULT_USED;

/**
 * Backward of matmul_fwd_cpu, accumulating: dx += dy·W, dW += dyᵀ·x, db += Σ_rows dy.
 * Any of dx, dw, db may be NULL to skip that gradient; x may be NULL when dw is NULL,
 * w may be NULL when dx is NULL. db sums rows in a fixed order in double, so it is
 * bit-identical for any thread count.
 * @param dx   (M, K) row stride ld_x, or NULL
 * @param dw   (N, K) or NULL
 * @param db   (N) or NULL
 * @param dy   (M, N) row stride ld_y
 * @param x    (M, K) row stride ld_x (the forward input)
 * @param w    (N, K)
 * @return as matmul_fwd_cpu.
 */
int matmul_bwd_cpu(float *dx, float *dw, float *db, const float *dy, const float *x,
                   const float *w, int64_t M, int64_t K, int64_t N, int64_t ld_x,
                   int64_t ld_y) LS_RESULT_USED;

/**
 * The shape rules shared by both backends (used by the CPU and CUDA functions; @p fn names the
 * caller in the message). @return 0, LS_ERR_USAGE or LS_ERR_RANGE as described above.
 */
int matmul_check_shape(const char *fn, int64_t M, int64_t K, int64_t N, int64_t ld_x,
                       int64_t ld_y) LS_RESULT_USED;

/** How a CUDA matmul runs. A NULL MatmulCuda means {DTYPE_F32, allow_tf32 = 0, NULL}. */
typedef struct {
    DType dtype;    /* DTYPE_BF16: x, w, y, dx, dy are bf16 (w a bf16 copy of the fp32 master
                       weights); b, dw, db stay fp32; accumulation is fp32 either way. With a
                       bias the forward adds b rounded to bf16 to the fp32 product and rounds
                       once (y = bf16(x·Wᵀ + bf16(b))); dx += dy·W likewise adds the fp32
                       product to the old bf16 dx and rounds once */
    int allow_tf32; /* fp32 only: 1 lets cuBLAS round the inputs to TF32 on the tensor cores
                       (about 8x the FP32 rate, ~1e-3 relative error); 0 (default) keeps fp32
                       parity with the CPU */
    void *stream;   /* cudaStream_t, NULL = default stream */
    int dx_overwrite; /* backward: 1 writes dx = dy·W (GEMM beta 0) instead of adding to it,
                         so a fresh gradient buffer needs no zeroing pass; dw, db still add */
} MatmulCuda;

/**
 * matmul_fwd_cpu on the GPU (device pointers). Within K·eps of the CPU result (fp32; see
 * tests/gpu/parity_matmul.c for the stated tolerance). @return 0, a shape error as the CPU's,
 * LS_ERR_CUDA (a cuBLAS call failed: the message names it), LS_ERR_CUDA_OOM or LS_ERR_NO_CUDA.
 */
int matmul_fwd_cuda(float *y, const float *x, const float *w, const float *b, int64_t M,
                    int64_t K, int64_t N, int64_t ld_x, int64_t ld_y,
                    const MatmulCuda *opt) LS_RESULT_USED;

/** matmul_bwd_cpu on the GPU (accumulating; db deterministic). @return as matmul_fwd_cuda. */
int matmul_bwd_cuda(float *dx, float *dw, float *db, const float *dy, const float *x,
                    const float *w, int64_t M, int64_t K, int64_t N, int64_t ld_x, int64_t ld_y,
                    const MatmulCuda *opt) LS_RESULT_USED;

/**
 * Number of OpenBLAS threads (openblas_set_num_threads) for code that calls cblas directly
 * (kernels/dev harnesses). matmul_fwd_cpu and matmul_bwd_cpu do not use it: they set
 * OpenBLAS to one thread on every call (see "Threads" above).
 * @return 0, or LS_ERR_USAGE when n < 1.
 */
int matmul_set_threads(int n) LS_RESULT_USED;

#ifdef __cplusplus
}
#endif
#endif
