/*
 * loss.c — CPU reference of kernels/loss.h: softmax cross-entropy with ignored rows and
 * per-row weights, loss and dlogits in one pass. The CUDA version (later) must match it
 * within the tests/gpu tolerances. Tested by tests/unit/test_loss.c.
 *
 * Order of work, chosen so every reduction has a fixed order:
 *   1. serial: validate targets and weights, Σ w over counted rows in double;
 *   2. OpenMP over rows: log-sum-exp (max-shifted, double), row_loss, and dlogits with the
 *      already known normalizer w_m/Σ w;
 *   3. serial: mean = Σ w_m·row_loss[m] / Σ w in double, m = 0..M−1.
 * Step 3 reads the float row_loss, so the mean is what a GPU kernel computing the same float
 * row losses and reducing them in the same order would get.
 */
#include "kernels/loss.h"

#include <math.h>

int loss_xent_cpu(double *restrict mean_loss, float *restrict row_loss,
                  float *restrict dlogits, const float *restrict logits,
                  const int32_t *restrict targets, const float *restrict weights, int64_t M,
                  int64_t V, float grad_scale) {
    // row_loss (M); dlogits (M, V) or NULL; logits (M, V); targets (M); weights (M) or NULL
    if (M < 0 || V < 1)
        return ls_error(LS_ERR_USAGE, "%s: bad shape M=%lld V=%lld (need M >= 0, V >= 1)",
                        __func__, (long long)M, (long long)V);
    if (!mean_loss || (M > 0 && (!row_loss || !logits || !targets)))
        return ls_error(LS_ERR_USAGE, "%s: mean_loss, row_loss, logits and targets must not be "
                        "NULL", __func__);

    /* 1. validate, normalizer */
    double wsum = 0.0;
    for (int64_t m = 0; m < M; m++) {
        int32_t t = targets[m];
        if (t != LOSS_IGNORE_INDEX && (t < 0 || t >= V))
            return ls_error(LS_ERR_RANGE, "%s: targets[%lld]=%d outside [0, V=%lld) and not the "
                            "ignore index %d", __func__, (long long)m, t, (long long)V,
                            LOSS_IGNORE_INDEX);
        if (weights && !(weights[m] >= 0.0f && isfinite(weights[m])))
            return ls_error(LS_ERR_RANGE, "%s: weights[%lld]=%g must be finite and >= 0",
                            __func__, (long long)m, weights[m]);
        if (t != LOSS_IGNORE_INDEX) wsum += weights ? weights[m] : 1.0;
    }

    /* 2. per row: loss and gradient */
#pragma omp parallel for schedule(static)
    for (int64_t m = 0; m < M; m++) {
        int32_t t = targets[m];
        if (t == LOSS_IGNORE_INDEX) {
            row_loss[m] = 0.0f;
            continue;
        }
        const float *z = logits + m * V; // (V)
        double zmax = z[0];
        for (int64_t j = 1; j < V; j++) zmax = z[j] > zmax ? z[j] : zmax;
        double sum = 0.0;
        for (int64_t j = 0; j < V; j++) sum += exp(z[j] - zmax);
        double lse = zmax + log(sum);
        row_loss[m] = (float)(lse - z[t]);
        if (dlogits && wsum > 0.0) {
            double coef = (double)grad_scale * (weights ? weights[m] : 1.0) / wsum;
            float *dz = dlogits + m * V; // (V)
            for (int64_t j = 0; j < V; j++)
                dz[j] += (float)(coef * (exp(z[j] - lse) - (j == t ? 1.0 : 0.0)));
        }
    }

    /* 3. mean, fixed order */
    double total = 0.0;
    for (int64_t m = 0; m < M; m++)
        if (targets[m] != LOSS_IGNORE_INDEX) total += (weights ? weights[m] : 1.0) * row_loss[m];
    *mean_loss = wsum > 0.0 ? total / wsum : 0.0;
    return 0;
}
