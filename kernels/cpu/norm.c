/*
 * norm.c — CPU reference of kernels/norm.h: RMSNorm and LayerNorm over the last dimension.
 * The CUDA version (kernels/cuda/norm.cu, later) must match it within the tests/gpu
 * tolerances. Tested by tests/unit/test_norm.c.
 *
 * Numerics. Row sums (mean, variance, the two backward dot products) are accumulated in
 * double; the statistics are stored as float and the backward reads those floats, so forward
 * and backward see the same rstd a GPU kernel would save. Variance is two-pass (mean first),
 * not E[x²]−E[x]², which cancels badly for rows with a large mean.
 *
 * Backward, with x̂ = (x−mean)·rstd (mean = 0 for RMSNorm) and g = dy·w:
 *   LayerNorm  dx = rstd·(g − mean_d(g) − x̂·mean_d(g·x̂))
 *   RMSNorm    dx = rstd·(g − x̂·mean_d(g·x̂))
 *   dw = Σ_rows dy·x̂,  db = Σ_rows dy
 * Rows are independent: OpenMP over rows for y and dx. dw/db reduce over rows: OpenMP over
 * blocks of NORM_COL_BLOCK columns, each block summing all rows in order in double, so there
 * are no races and the result does not depend on the thread count.
 */
#include "kernels/norm.h"

#include <math.h>
#include <stddef.h>

#define NORM_COL_BLOCK 64

static int check_shape(const char *fn, int64_t M, int64_t D) {
    if (M < 0 || D < 1)
        return ls_error(LS_ERR_USAGE, "%s: bad shape M=%lld D=%lld (need M >= 0, D >= 1)", fn,
                        (long long)M, (long long)D);
    return 0;
}

/* dw[d] += Σ_m dy[m,d]·x̂[m,d] and db[d] += Σ_m dy[m,d], x̂ = (x − mean[m])·rstd[m]
 * (mean NULL: RMSNorm). Column blocks in parallel, rows in order, double accumulators. */
static void norm_param_grads(float *restrict dw, float *restrict db, const float *restrict dy,
                             const float *restrict x, const float *restrict mean,
                             const float *restrict rstd, int64_t M, int64_t D) {
    // dw (D); db (D); dy (M, D); x (M, D); mean (M) or NULL; rstd (M)
    int64_t n_blocks = (D + NORM_COL_BLOCK - 1) / NORM_COL_BLOCK;
#pragma omp parallel for schedule(static)
    for (int64_t blk = 0; blk < n_blocks; blk++) {
        int64_t d0 = blk * NORM_COL_BLOCK;
        int nb = (int)(D - d0 < NORM_COL_BLOCK ? D - d0 : NORM_COL_BLOCK);
        double acc_w[NORM_COL_BLOCK] = {0}, acc_b[NORM_COL_BLOCK] = {0};
        for (int64_t m = 0; m < M; m++) {
            const float *dy_m = dy + m * D + d0; // (nb)
            const float *x_m = x + m * D + d0;   // (nb)
            float mu = mean ? mean[m] : 0.0f, r = rstd[m];
            for (int j = 0; j < nb; j++) {
                float xhat = (x_m[j] - mu) * r;
                acc_w[j] += (double)dy_m[j] * xhat;
                acc_b[j] += dy_m[j];
            }
        }
        for (int j = 0; j < nb; j++) {
            if (dw) dw[d0 + j] += (float)acc_w[j];
            if (db) db[d0 + j] += (float)acc_b[j];
        }
    }
}

// ----------------------------------------------------------------------------- RMSNorm

int norm_rms_fwd_cpu(float *restrict y, float *restrict rstd, const float *restrict x,
                     const float *restrict w, int64_t M, int64_t D, float eps) {
    // y (M, D); rstd (M) or NULL; x (M, D); w (D)
    int status = check_shape(__func__, M, D);
    if (status) return status;
    if (!y || !x || !w) return ls_error(LS_ERR_USAGE, "%s: y, x and w must not be NULL", __func__);
    if (!(eps >= 0.0f)) return ls_error(LS_ERR_USAGE, "%s: eps=%g must be >= 0", __func__, eps);

#pragma omp parallel for schedule(static)
    for (int64_t m = 0; m < M; m++) {
        const float *x_m = x + m * D; // (D)
        float *y_m = y + m * D;       // (D)
        double ss = 0.0;
        for (int64_t d = 0; d < D; d++) ss += (double)x_m[d] * x_m[d];
        float r = (float)(1.0 / sqrt(ss / (double)D + eps));
        for (int64_t d = 0; d < D; d++) y_m[d] = x_m[d] * r * w[d];
        if (rstd) rstd[m] = r;
    }
    return 0;
}

int norm_rms_bwd_cpu(float *restrict dx, float *restrict dw, const float *restrict dy,
                     const float *restrict x, const float *restrict w,
                     const float *restrict rstd, int64_t M, int64_t D) {
    // dx (M, D) or NULL; dw (D) or NULL; dy (M, D); x (M, D); w (D); rstd (M)
    int status = check_shape(__func__, M, D);
    if (status) return status;
    if (!dy || !x || !w || !rstd)
        return ls_error(LS_ERR_USAGE, "%s: dy, x, w and rstd must not be NULL", __func__);

    if (dx) {
#pragma omp parallel for schedule(static)
        for (int64_t m = 0; m < M; m++) {
            const float *dy_m = dy + m * D, *x_m = x + m * D; // (D)
            float *dx_m = dx + m * D;                         // (D)
            float r = rstd[m];
            double dot = 0.0; // Σ g·x̂
            for (int64_t d = 0; d < D; d++) dot += (double)(dy_m[d] * w[d]) * (x_m[d] * r);
            float c = (float)(dot / (double)D);
            for (int64_t d = 0; d < D; d++) {
                float xhat = x_m[d] * r, g = dy_m[d] * w[d];
                dx_m[d] += r * (g - xhat * c);
            }
        }
    }
    if (dw) norm_param_grads(dw, NULL, dy, x, NULL, rstd, M, D);
    return 0;
}

// ----------------------------------------------------------------------------- LayerNorm

int norm_layer_fwd_cpu(float *restrict y, float *restrict mean, float *restrict rstd,
                       const float *restrict x, const float *restrict w,
                       const float *restrict b, int64_t M, int64_t D, float eps) {
    // y (M, D); mean (M) or NULL; rstd (M) or NULL; x (M, D); w (D); b (D) or NULL
    int status = check_shape(__func__, M, D);
    if (status) return status;
    if (!y || !x || !w) return ls_error(LS_ERR_USAGE, "%s: y, x and w must not be NULL", __func__);
    if (!mean != !rstd)
        return ls_error(LS_ERR_USAGE, "%s: mean and rstd must be both given or both NULL",
                        __func__);
    if (!(eps >= 0.0f)) return ls_error(LS_ERR_USAGE, "%s: eps=%g must be >= 0", __func__, eps);

#pragma omp parallel for schedule(static)
    for (int64_t m = 0; m < M; m++) {
        const float *x_m = x + m * D; // (D)
        float *y_m = y + m * D;       // (D)
        double sum = 0.0;
        for (int64_t d = 0; d < D; d++) sum += x_m[d];
        double mu = sum / (double)D, var = 0.0;
        for (int64_t d = 0; d < D; d++) var += ((double)x_m[d] - mu) * ((double)x_m[d] - mu);
        float muf = (float)mu, r = (float)(1.0 / sqrt(var / (double)D + eps));
        for (int64_t d = 0; d < D; d++) y_m[d] = (x_m[d] - muf) * r * w[d] + (b ? b[d] : 0.0f);
        if (mean) {
            mean[m] = muf;
            rstd[m] = r;
        }
    }
    return 0;
}

int norm_layer_bwd_cpu(float *restrict dx, float *restrict dw, float *restrict db,
                       const float *restrict dy, const float *restrict x,
                       const float *restrict w, const float *restrict mean,
                       const float *restrict rstd, int64_t M, int64_t D) {
    // dx (M, D) or NULL; dw (D) or NULL; db (D) or NULL; dy (M, D); x (M, D); w (D);
    // mean (M); rstd (M)
    int status = check_shape(__func__, M, D);
    if (status) return status;
    if (!dy || !x || !w || !mean || !rstd)
        return ls_error(LS_ERR_USAGE, "%s: dy, x, w, mean and rstd must not be NULL", __func__);

    if (dx) {
#pragma omp parallel for schedule(static)
        for (int64_t m = 0; m < M; m++) {
            const float *dy_m = dy + m * D, *x_m = x + m * D; // (D)
            float *dx_m = dx + m * D;                         // (D)
            float mu = mean[m], r = rstd[m];
            double sum_g = 0.0, dot = 0.0; // Σ g, Σ g·x̂
            for (int64_t d = 0; d < D; d++) {
                float g = dy_m[d] * w[d], xhat = (x_m[d] - mu) * r;
                sum_g += g;
                dot += (double)g * xhat;
            }
            float c1 = (float)(sum_g / (double)D), c2 = (float)(dot / (double)D);
            for (int64_t d = 0; d < D; d++) {
                float xhat = (x_m[d] - mu) * r, g = dy_m[d] * w[d];
                dx_m[d] += r * (g - c1 - xhat * c2);
            }
        }
    }
    if (dw || db) norm_param_grads(dw, db, dy, x, mean, rstd, M, D);
    return 0;
}
