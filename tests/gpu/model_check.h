/*
 * model_check.h — the comparisons the whole-model GPU suites share (model_gpu.c,
 * model_pack_gpu.c, model_stream_gpu.c, model_seqpar_gpu.c): one relative error per tensor,
 * with the two rules (fp32: ∞-norm, every element within; bf16: 2-norm, the tensor as a
 * whole), and the worst of them over a parameter table's gradients.
 * Header-only (static functions), like gpu_check.h.
 */
#ifndef LS_TESTS_GPU_MODEL_CHECK_H
#define LS_TESTS_GPU_MODEL_CHECK_H

#include <math.h>
#include <stdint.h>

#include "models/params.h"

// Relative error of got against ref: ∞-norm (l2 = 0, the fp32 rule) or 2-norm (l2 = 1, the
// bf16 rule); INFINITY when got holds a NaN or an infinity.
static inline double gm_rel(const float *got, const float *ref, int64_t n, int l2) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]), r = fabs((double)ref[i]);
        if (!isfinite(got[i])) return INFINITY;
        if (l2)
            num += d * d, den += r * r;
        else
            num = d > num ? d : num, den = r > den ? r : den;
    }
    if (l2) num = sqrt(num), den = sqrt(den);
    return den > 0 ? num / den : num;
}

// The worst gm_rel over the tensors of a parameter table (gradients laid out as the table
// says); *worst_name gets that tensor's name ("-" when the table is empty).
static inline double gm_worst_param(const ParamTable *tab, const float *got, const float *ref,
                                    int l2, const char **worst_name) {
    double worst = 0;
    *worst_name = "-";
    for (int64_t i = 0; i < tab->n; i++) {
        const ParamEntry *pe = &tab->entries[i];
        double e = gm_rel(got + pe->offset, ref + pe->offset, pe->numel, l2);
        if (!(e <= worst)) worst = e, *worst_name = pe->name;
    }
    return worst;
}

#endif
