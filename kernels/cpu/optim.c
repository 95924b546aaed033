/*
 * optim.c — CPU reference of kernels/optim.h: AdamW step, deterministic global gradient
 * norm, clip factor and learning-rate schedule. The CUDA version (later) must match it.
 * Tested by tests/unit/test_optim.c (hand-computed PyTorch-formula values in double).
 *
 * The step reproduces torch.optim.AdamW's single-tensor path operation by operation: each
 * scalar (1 − lr·wd, 1 − β1, lr / bias_correction1, sqrt(bias_correction2)) is formed in
 * double, as Python does, and rounded to float where PyTorch hands it to a float kernel; the
 * elementwise math is float in PyTorch's order. Elements are independent: OpenMP per tensor.
 *
 * The norm sums squares in double over blocks of OPTIM_NORM_BLOCK elements. Blocks are
 * processed OPTIM_NORM_GROUP at a time in parallel into a stack array, then added to the
 * total in block order, so neither the thread count nor the schedule changes a bit of it.
 */
#include "kernels/optim.h"

#include <math.h>

#define OPTIM_NORM_GROUP 64

int optim_check_table(const char *fn, const OptimTensor *tensors, int64_t n_tensors) {
    if (n_tensors < 0 || (n_tensors > 0 && !tensors))
        return ls_error(LS_ERR_USAGE, "%s: bad tensor table (n_tensors=%lld)", fn,
                        (long long)n_tensors);
    int64_t end = 0;
    for (int64_t i = 0; i < n_tensors; i++) {
        const OptimTensor *t = &tensors[i];
        if (t->offset < end || t->numel < 0 || t->numel > INT64_MAX - t->offset)
            return ls_error(LS_ERR_USAGE, "%s: tensor %lld (offset %lld, numel %lld) is not after "
                            "the previous one's end %lld or has a negative size", fn,
                            (long long)i, (long long)t->offset, (long long)t->numel,
                            (long long)end);
        end = t->offset + t->numel;
    }
    return 0;
}

// ----------------------------------------------------------------------------- AdamW

int optim_check_step(const char *fn, const AdamWConfig *cfg, int64_t step, double lr,
                     float grad_scale) {
    if (!cfg) return ls_error(LS_ERR_USAGE, "%s: cfg must not be NULL", fn);
    if (!(cfg->beta1 >= 0.0 && cfg->beta1 < 1.0 && cfg->beta2 >= 0.0 && cfg->beta2 < 1.0 &&
          cfg->eps >= 0.0 && cfg->weight_decay >= 0.0))
        return ls_error(LS_ERR_USAGE, "%s: beta1=%g beta2=%g eps=%g weight_decay=%g (need betas "
                        "in [0, 1), eps and weight_decay >= 0)", fn, cfg->beta1,
                        cfg->beta2, cfg->eps, cfg->weight_decay);
    if (step < 1 || !(lr >= 0.0))
        return ls_error(LS_ERR_USAGE, "%s: step=%lld must be >= 1 and lr=%g >= 0", fn,
                        (long long)step, lr);
    if (!isfinite(grad_scale))
        return ls_error(LS_ERR_RANGE, "%s: gradient scale %g is not finite (the gradient norm "
                        "overflowed or is NaN)", fn, grad_scale);
    return 0;
}

int optim_adamw_step_cpu(float *restrict params, float *restrict m, float *restrict v,
                         const float *restrict grads, const OptimTensor *tensors,
                         int64_t n_tensors, const AdamWConfig *cfg, int64_t step, double lr,
                         float grad_scale) {
    // params, m, v, grads: one buffer each, same layout, tensors at tensors[i].offset
    int status = optim_check_table(__func__, tensors, n_tensors);
    if (status) return status;
    if (!params || !m || !v || !grads)
        return ls_error(LS_ERR_USAGE, "%s: params, m, v and grads must not be NULL", __func__);
    if ((status = optim_check_step(__func__, cfg, step, lr, grad_scale))) return status;

    /* scalars as torch.optim.AdamW forms them (Python floats = double) */
    const double beta1 = cfg->beta1, beta2 = cfg->beta2;
    const double bias_correction1 = 1.0 - pow(beta1, (double)step);
    const double bias_correction2 = 1.0 - pow(beta2, (double)step);
    const float step_size = (float)(lr / bias_correction1);
    const float bc2_sqrt = (float)sqrt(bias_correction2);
    const float decay_factor = (float)(1.0 - lr * cfg->weight_decay);
    const float one_minus_b1 = (float)(1.0 - beta1), one_minus_b2 = (float)(1.0 - beta2);
    const float b2 = (float)beta2, eps = (float)cfg->eps;

    for (int64_t ti = 0; ti < n_tensors; ti++) {
        const int64_t off = tensors[ti].offset, n = tensors[ti].numel;
        const int decay = tensors[ti].decay != 0;
        float *p_t = params + off, *m_t = m + off, *v_t = v + off; // (numel)
        const float *g_t = grads + off;                            // (numel)
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; i++) {
            float g = g_t[i] * grad_scale;
            float p = p_t[i];
            if (decay) p = p * decay_factor;
            float mi = m_t[i] + one_minus_b1 * (g - m_t[i]);
            float vi = v_t[i] * b2 + one_minus_b2 * g * g;
            float denom = sqrtf(vi) / bc2_sqrt + eps;
            p_t[i] = p + (-step_size) * mi / denom;
            m_t[i] = mi;
            v_t[i] = vi;
        }
    }
    return 0;
}

// ----------------------------------------------------------------------------- norm, clip

int optim_grad_norm_cpu(double *norm, const float *restrict grads, const OptimTensor *tensors,
                        int64_t n_tensors) {
    // grads: buffer with tensors at tensors[i].offset
    int status = optim_check_table(__func__, tensors, n_tensors);
    if (status) return status;
    if (!norm || (n_tensors > 0 && !grads))
        return ls_error(LS_ERR_USAGE, "%s: norm and grads must not be NULL", __func__);

    double total = 0.0;
    for (int64_t ti = 0; ti < n_tensors; ti++) {
        const float *g = grads + tensors[ti].offset; // (numel)
        const int64_t n = tensors[ti].numel;
        const int64_t n_blocks = (n + OPTIM_NORM_BLOCK - 1) / OPTIM_NORM_BLOCK;
        for (int64_t g0 = 0; g0 < n_blocks; g0 += OPTIM_NORM_GROUP) {
            int ng = (int)(n_blocks - g0 < OPTIM_NORM_GROUP ? n_blocks - g0 : OPTIM_NORM_GROUP);
            double part[OPTIM_NORM_GROUP];
#pragma omp parallel for schedule(static) if (ng > 1)
            for (int k = 0; k < ng; k++) {
                int64_t i0 = (g0 + k) * OPTIM_NORM_BLOCK;
                int64_t i1 = i0 + OPTIM_NORM_BLOCK < n ? i0 + OPTIM_NORM_BLOCK : n;
                double acc = 0.0;
                for (int64_t i = i0; i < i1; i++) acc += (double)g[i] * g[i];
                part[k] = acc;
            }
            for (int k = 0; k < ng; k++) total += part[k];
        }
    }
    *norm = sqrt(total);
    return 0;
}

float optim_clip_scale(double norm, double max_norm) {
    if (!(max_norm > 0.0)) return 1.0f;
    double coef = max_norm / (norm + 1e-6);
    if (isnan(coef)) return NAN;
    return coef < 1.0 ? (float)coef : 1.0f;
}

// ----------------------------------------------------------------------------- schedule

double optim_lr_schedule(int64_t t, int64_t warmup, int64_t total, double lr_max,
                         double lr_min) {
    if (t < 1) t = 1;
    if (t <= warmup) return lr_max * (double)t / (double)warmup;
    if (t >= total) return lr_min;
    double progress = (double)(t - warmup) / (double)(total - warmup);
    return lr_min + 0.5 * (lr_max - lr_min) * (1.0 + cos(M_PI * progress));
}
