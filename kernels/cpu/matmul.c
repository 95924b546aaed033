/*
 * matmul.c — CPU reference of kernels/matmul.h: y = x·Wᵀ + b and its backward, as cblas_sgemm
 * calls on fixed blocks. The CUDA version (cublasSgemm, same argument order) must match it
 * within fp32 GEMM rounding. Tested by tests/unit/test_matmul.c.
 *
 * Row-major GEMM with PyTorch's (out, in) weight:
 *   y  (M,N)  = x (M,K) · Wᵀ         sgemm(NoTrans, Trans)   beta = 1 over a copy of b
 *   dx (M,K) += dy (M,N) · W (N,K)   sgemm(NoTrans, NoTrans) beta = 1
 *   dW (N,K) += dyᵀ (N,M) · x (M,K)  sgemm(Trans, NoTrans)   beta = 1
 *   db (N)   += Σ_m dy[m, :]         plain C, double, fixed order
 *
 * Thread-count independence. OpenBLAS's threaded sgemm splits a product by its thread count,
 * and its edge kernels round differently, so its results change with the number of threads
 * (measured: thousands of elements of a 600×32·32×128 product differ between 1 and 2
 * threads). Here BLAS runs single-threaded and OpenMP spreads fixed blocks over the threads:
 * y and dx by blocks of MATMUL_ROWS rows, dW by blocks of MATMUL_WROWS output rows (each a
 * full reduction over M inside one sgemm). The partition depends on the shapes only, so every
 * element is computed by the same sgemm call whatever the thread count. Blocks write disjoint
 * rows, so there is no race; the argument checks run before the parallel region, on the
 * caller's thread, and a block cannot fail.
 */
#include "kernels/matmul.h"

#include <cblas.h>
#include <limits.h>
#include <string.h>

/* Rows of y and dx per sgemm (one OpenMP task each). */
#define MATMUL_ROWS 128
/* Rows of dW (= columns of dy) per sgemm, each reducing over all M rows. */
#define MATMUL_WROWS 32
/* Columns per task of the bias-gradient reduction: each task owns a block of columns and
 * walks all rows in order, so no two threads write one element and the summation order does
 * not depend on the thread count. */
#define MATMUL_COL_BLOCK 64

int matmul_check_shape(const char *fn, int64_t M, int64_t K, int64_t N, int64_t ld_x,
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

static inline int64_t block_len(int64_t total, int64_t start, int64_t block) {
    return total - start < block ? total - start : block;
}

// ------------------------------------------------------------------------------ blocks

/* Rows [0, M) of y = x·Wᵀ (+ b), one sgemm. */
static void fwd_rows(float *restrict y, const float *restrict x, const float *restrict w,
                     const float *restrict b, int64_t M, int64_t K, int64_t N, int64_t ld_x,
                     int64_t ld_y) {
    // y (M, N) ld_y; x (M, K) ld_x; w (N, K); b (N) or NULL
    float beta = 0.0f;
    if (b) {
        for (int64_t m = 0; m < M; m++) memcpy(y + m * ld_y, b, (size_t)N * sizeof(float));
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1.0f, x,
                (int)ld_x, w, (int)K, beta, y, (int)ld_y);
}

/* Rows [0, M) of dx += dy·W, one sgemm. */
static void bwd_dx_rows(float *restrict dx, const float *restrict dy, const float *restrict w,
                        int64_t M, int64_t K, int64_t N, int64_t ld_x, int64_t ld_y) {
    // dx (M, K) ld_x; dy (M, N) ld_y; w (N, K)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)K, (int)N, 1.0f, dy,
                (int)ld_y, w, (int)K, 1.0f, dx, (int)ld_x);
}

/* Rows [0, N) of dW += dyᵀ·x over all M rows, one sgemm; dy points at column 0 of the block. */
static void bwd_dw_rows(float *restrict dw, const float *restrict dy, const float *restrict x,
                        int64_t M, int64_t K, int64_t N, int64_t ld_x, int64_t ld_y) {
    // dw (N, K); dy (M, N) ld_y; x (M, K) ld_x
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)N, (int)K, (int)M, 1.0f, dy,
                (int)ld_y, x, (int)ld_x, 1.0f, dw, (int)K);
}

/* db += Σ_m dy[m, :], column blocks in parallel, rows in order, in double. */
static void bwd_db(float *restrict db, const float *restrict dy, int64_t M, int64_t N,
                   int64_t ld_y) {
    // db (N); dy (M, N) ld_y
    const int64_t n_blocks = (N + MATMUL_COL_BLOCK - 1) / MATMUL_COL_BLOCK;
#pragma omp parallel for schedule(static)
    for (int64_t blk = 0; blk < n_blocks; blk++) {
        const int64_t n0 = blk * MATMUL_COL_BLOCK;
        const int nb = (int)block_len(N, n0, MATMUL_COL_BLOCK);
        double acc[MATMUL_COL_BLOCK] = {0};
        for (int64_t m = 0; m < M; m++) {
            const float *row = dy + m * ld_y + n0;
            for (int j = 0; j < nb; j++) acc[j] += row[j];
        }
        for (int j = 0; j < nb; j++) db[n0 + j] += (float)acc[j];
    }
}

// ------------------------------------------------------------------------------ public

int matmul_fwd_cpu(float *restrict y, const float *restrict x, const float *restrict w,
                   const float *restrict b, int64_t M, int64_t K, int64_t N, int64_t ld_x,
                   int64_t ld_y) {
    // y (M, N) ld_y; x (M, K) ld_x; w (N, K); b (N) or NULL
    int status = matmul_check_shape(__func__, M, K, N, ld_x, ld_y);
    if (status) return status;
    if (!y || !x || !w)
        return ls_error(LS_ERR_USAGE, "%s: y, x and w must not be NULL", __func__);
    if (M == 0) return 0;

    openblas_set_num_threads(1);
    const int64_t n_blocks = (M + MATMUL_ROWS - 1) / MATMUL_ROWS;
#pragma omp parallel for schedule(dynamic, 1) if (n_blocks > 1)
    for (int64_t blk = 0; blk < n_blocks; blk++) {
        const int64_t m0 = blk * MATMUL_ROWS;
        fwd_rows(y + m0 * ld_y, x + m0 * ld_x, w, b, block_len(M, m0, MATMUL_ROWS), K, N, ld_x,
                 ld_y);
    }
    return 0;
}

int matmul_bwd_cpu(float *restrict dx, float *restrict dw, float *restrict db,
                   const float *restrict dy, const float *restrict x, const float *restrict w,
                   int64_t M, int64_t K, int64_t N, int64_t ld_x, int64_t ld_y) {
    // dx (M, K) ld_x; dw (N, K); db (N); dy (M, N) ld_y; x (M, K) ld_x; w (N, K)
    int status = matmul_check_shape(__func__, M, K, N, ld_x, ld_y);
    if (status) return status;
    if (!dy || (dx && !w) || (dw && !x))
        return ls_error(LS_ERR_USAGE, "%s: dy must not be NULL, nor w when dx is wanted, nor x "
                        "when dw is wanted", __func__);
    if (M == 0) return 0;

    if (db) bwd_db(db, dy, M, N, ld_y);
    openblas_set_num_threads(1);
    // One task list: the row blocks of dx, then the row blocks of dW.
    const int64_t nx = dx ? (M + MATMUL_ROWS - 1) / MATMUL_ROWS : 0;
    const int64_t nw = dw ? (N + MATMUL_WROWS - 1) / MATMUL_WROWS : 0;
#pragma omp parallel for schedule(dynamic, 1) if (nx + nw > 1)
    for (int64_t k = 0; k < nx + nw; k++) {
        if (k < nx) { // rows [m0, m0 + mb) of dx
            const int64_t m0 = k * MATMUL_ROWS;
            bwd_dx_rows(dx + m0 * ld_x, dy + m0 * ld_y, w, block_len(M, m0, MATMUL_ROWS), K, N,
                        ld_x, ld_y);
        } else { // rows [n0, n0 + nb) of dW: columns n0.. of dy
            const int64_t n0 = (k - nx) * MATMUL_WROWS;
            bwd_dw_rows(dw + n0 * K, dy + n0, x, M, K, block_len(N, n0, MATMUL_WROWS), ld_x,
                        ld_y);
        }
    }
    return 0;
}

int matmul_set_threads(int n) {
    if (n < 1) return ls_error(LS_ERR_USAGE, "%s: thread count %d < 1", __func__, n);
    openblas_set_num_threads(n);
    return 0;
}
