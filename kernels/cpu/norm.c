/*
 * norm.c — CPU reference of kernels/norm.h: RMSNorm and LayerNorm over the last dimension.
 * The residual-fused form (norm_fwd_cpu / norm_bwd_cpu, NormArgs) repeats the same arithmetic
 * on h = x + residual. The CUDA version (kernels/cuda/norm.cu) must match it within the
 * tests/gpu/parity_norm.c tolerances. Tested by tests/unit/test_norm.c.
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

// ----------------------------------------------------------------------------- fused form

/* h[d] = x[d] + residual[d] in float (x alone without a residual). */
static inline float norm_h(const float *x_m, const float *r_m, int64_t d) {
    return r_m ? x_m[d] + r_m[d] : x_m[d];
}

/*
 * The same arithmetic as norm_rms_fwd_cpu / norm_layer_fwd_cpu, on h. With residual = NULL it
 * gives their bytes (tests/unit/test_norm.c checks this).
 */
int norm_fwd_cpu(const NormArgs *a) {
    int status = norm_args_check(a, 0);
    if (status) return status;
    if (a->dtype != DTYPE_F32)
        return ls_error(LS_ERR_UNSUPPORTED, "%s: the CPU ops compute in fp32", __func__);
    const int64_t M = a->M, D = a->D;
    const int layer = a->kind == NORM_LAYER;
#pragma omp parallel for schedule(static)
    for (int64_t m = 0; m < M; m++) {
        const float *x_m = a->x + m * D;                                // (D)
        const float *r_m = a->residual ? a->residual + m * D : NULL;    // (D)
        float *y_m = a->y + m * D;                                      // (D)
        float *ro_m = a->residual_out ? a->residual_out + m * D : NULL; // (D)
        float muf = 0.0f, r;
        if (layer) {
            double sum = 0.0;
            for (int64_t d = 0; d < D; d++) sum += norm_h(x_m, r_m, d);
            double mu = sum / (double)D, var = 0.0;
            for (int64_t d = 0; d < D; d++) {
                double c = (double)norm_h(x_m, r_m, d) - mu;
                var += c * c;
            }
            muf = (float)mu, r = (float)(1.0 / sqrt(var / (double)D + a->eps));
            for (int64_t d = 0; d < D; d++)
                y_m[d] = (norm_h(x_m, r_m, d) - muf) * r * a->w[d] + (a->b ? a->b[d] : 0.0f);
        } else {
            double ss = 0.0;
            for (int64_t d = 0; d < D; d++) {
                float h = norm_h(x_m, r_m, d);
                ss += (double)h * h;
            }
            r = (float)(1.0 / sqrt(ss / (double)D + a->eps));
            for (int64_t d = 0; d < D; d++) y_m[d] = norm_h(x_m, r_m, d) * r * a->w[d];
        }
        if (ro_m)
            for (int64_t d = 0; d < D; d++) ro_m[d] = norm_h(x_m, r_m, d);
        if (layer && a->mean) a->mean[m] = muf;
        if (a->rstd) a->rstd[m] = r;
    }
    return 0;
}

/* The same arithmetic as norm_rms_bwd_cpu / norm_layer_bwd_cpu on h, then v += dresidual_out. */
int norm_bwd_cpu(const NormArgs *a) {
    int status = norm_args_check(a, 1);
    if (status) return status;
    if (a->dtype != DTYPE_F32)
        return ls_error(LS_ERR_UNSUPPORTED, "%s: the CPU ops compute in fp32", __func__);
    const int64_t M = a->M, D = a->D;
    const int layer = a->kind == NORM_LAYER;
    const float *w = a->w;
    if (a->dx || a->dresidual) {
#pragma omp parallel for schedule(static)
        for (int64_t m = 0; m < M; m++) {
            const float *dy_m = a->dy + m * D, *h_m = a->h + m * D;                 // (D)
            const float *dro_m = a->dresidual_out ? a->dresidual_out + m * D : NULL; // (D)
            float *dx_m = a->dx ? a->dx + m * D : NULL;                              // (D)
            float *dr_m = a->dresidual ? a->dresidual + m * D : NULL;                // (D)
            float r = a->rstd[m], mu = layer ? a->mean[m] : 0.0f, c1 = 0.0f, c2;
            if (layer) {
                double sum_g = 0.0, dot = 0.0; // Σ g, Σ g·x̂
                for (int64_t d = 0; d < D; d++) {
                    float g = dy_m[d] * w[d], xhat = (h_m[d] - mu) * r;
                    sum_g += g;
                    dot += (double)g * xhat;
                }
                c1 = (float)(sum_g / (double)D), c2 = (float)(dot / (double)D);
            } else {
                double dot = 0.0;
                for (int64_t d = 0; d < D; d++) dot += (double)(dy_m[d] * w[d]) * (h_m[d] * r);
                c2 = (float)(dot / (double)D);
            }
            for (int64_t d = 0; d < D; d++) {
                float v;
                if (layer) {
                    float xhat = (h_m[d] - mu) * r, g = dy_m[d] * w[d];
                    v = r * (g - c1 - xhat * c2);
                } else {
                    float xhat = h_m[d] * r, g = dy_m[d] * w[d];
                    v = r * (g - xhat * c2);
                }
                if (dro_m) v += dro_m[d];
                if (dx_m) dx_m[d] = a->dx_overwrite ? v : dx_m[d] + v;
                if (dr_m) dr_m[d] += v;
            }
        }
    }
    if (a->dw || a->db)
        norm_param_grads(a->dw, a->db, a->dy, a->h, layer ? a->mean : NULL, a->rstd, M, D);
    return 0;
}
