/*
 * matmul.c — CPU reference of kernels/matmul.h: y = x·Wᵀ + b and its backward, one
 * cblas_sgemm per product. The CUDA version (cublasSgemm, same argument order) must match it
 * within fp32 GEMM rounding. Tested by tests/unit/test_matmul.c.
 *
 * Row-major GEMM with PyTorch's (out, in) weight:
 *   y  (M,N)  = x (M,K) · Wᵀ         sgemm(NoTrans, Trans)   beta = 1 over a copy of b
 *   dx (M,K) += dy (M,N) · W (N,K)   sgemm(NoTrans, NoTrans) beta = 1
 *   dW (N,K) += dyᵀ (N,M) · x (M,K)  sgemm(Trans, NoTrans)   beta = 1
 *   db (N)   += Σ_m dy[m, :]         plain C, double, fixed order
 */
#include "kernels/matmul.h"

#include <cblas.h>
#include <limits.h>
#include <string.h>

/* Columns per task of the bias-gradient reduction: each task owns a block of columns and
 * walks all rows in order, so no two threads write one element and the summation order does
 * not depend on the thread count. */
#define MATMUL_COL_BLOCK 64

static int check_shape(const char *fn, int64_t M, int64_t K, int64_t N, int64_t ld_x,
                       int64_t ld_y) {
    if (M < 0 || K < 1 || N < 1)
        return ls_error(LS_ERR_USAGE, "%s: bad shape M=%lld K=%lld N=%lld (need M >= 0, K >= 1, "
                        "N >= 1)", fn, (long long)M, (long long)K, (long long)N);
    if (ld_x < K || ld_y < N)
        return ls_error(LS_ERR_USAGE, "%s: row strides ld_x=%lld ld_y=%lld are below K=%lld "
                        "N=%lld", fn, (long long)ld_x, (long long)ld_y, (long long)K,
                        (long long)N);
    if (M > INT_MAX || ld_x > INT_MAX || ld_y > INT_MAX)
        return ls_error(LS_ERR_RANGE, "%s: M=%lld ld_x=%lld ld_y=%lld exceed BLAS's 32-bit int "
                        "(%d)", fn, (long long)M, (long long)ld_x, (long long)ld_y, INT_MAX);
    return 0;
}

int matmul_fwd_cpu(float *restrict y, const float *restrict x, const float *restrict w,
                   const float *restrict b, int64_t M, int64_t K, int64_t N, int64_t ld_x,
                   int64_t ld_y) {
    // y (M, N) ld_y; x (M, K) ld_x; w (N, K); b (N) or NULL
    int status = check_shape(__func__, M, K, N, ld_x, ld_y);
    if (status) return status;
    if (!y || !x || !w)
        return ls_error(LS_ERR_USAGE, "%s: y, x and w must not be NULL", __func__);
    if (M == 0) return 0;

    float beta = 0.0f;
    if (b) {
#pragma omp parallel for schedule(static)
        for (int64_t m = 0; m < M; m++) memcpy(y + m * ld_y, b, (size_t)N * sizeof(float));
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1.0f, x,
                (int)ld_x, w, (int)K, beta, y, (int)ld_y);
    return 0;
}

int matmul_bwd_cpu(float *restrict dx, float *restrict dw, float *restrict db,
                   const float *restrict dy, const float *restrict x, const float *restrict w,
                   int64_t M, int64_t K, int64_t N, int64_t ld_x, int64_t ld_y) {
    // dx (M, K) ld_x; dw (N, K); db (N); dy (M, N) ld_y; x (M, K) ld_x; w (N, K)
    int status = check_shape(__func__, M, K, N, ld_x, ld_y);
    if (status) return status;
    if (!dy || (dx && !w) || (dw && !x))
        return ls_error(LS_ERR_USAGE, "%s: dy must not be NULL, nor w when dx is wanted, nor x "
                        "when dw is wanted", __func__);
    if (M == 0) return 0;

    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)K, (int)N, 1.0f, dy,
                    (int)ld_y, w, (int)K, 1.0f, dx, (int)ld_x);
    if (dw)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)N, (int)K, (int)M, 1.0f, dy,
                    (int)ld_y, x, (int)ld_x, 1.0f, dw, (int)K);
    if (db) {
        int64_t n_blocks = (N + MATMUL_COL_BLOCK - 1) / MATMUL_COL_BLOCK;
#pragma omp parallel for schedule(static)
        for (int64_t blk = 0; blk < n_blocks; blk++) {
            int64_t n0 = blk * MATMUL_COL_BLOCK;
            int nb = (int)(N - n0 < MATMUL_COL_BLOCK ? N - n0 : MATMUL_COL_BLOCK);
            double acc[MATMUL_COL_BLOCK] = {0};
            for (int64_t m = 0; m < M; m++) {
                const float *row = dy + m * ld_y + n0;
                for (int j = 0; j < nb; j++) acc[j] += row[j];
            }
            for (int j = 0; j < nb; j++) db[n0 + j] += (float)acc[j];
        }
    }
    return 0;
}

int matmul_set_threads(int n) {
    if (n < 1) return ls_error(LS_ERR_USAGE, "%s: thread count %d < 1", __func__, n);
    openblas_set_num_threads(n);
    return 0;
}
