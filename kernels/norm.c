/*
 * norm.c — backend-independent parts of norm.h's residual-fused form: NormArgs defaults and the
 * validation shared by the CPU spec (kernels/cpu/norm.c) and the CUDA launcher
 * (kernels/cuda/norm.cu). Tested through tests/unit/test_norm.c (invalid-argument cases).
 */
#include "kernels/norm.h"

#include <string.h>

void norm_args_init(NormArgs *a, NormKind kind, int64_t M, int64_t D, float eps) {
    memset(a, 0, sizeof *a);
    a->kind = kind, a->M = M, a->D = D, a->eps = eps;
}

int norm_args_check(const NormArgs *a, int backward) {
    const char *who = backward ? "norm_bwd" : "norm_fwd";
    if (!a) return ls_error(LS_ERR_USAGE, "%s: argument struct is NULL", who);
    if (a->kind != NORM_RMS && a->kind != NORM_LAYER)
        return ls_error(LS_ERR_USAGE, "%s: kind = %d (NORM_RMS or NORM_LAYER)", who, (int)a->kind);
    if (a->M < 0 || a->D < 1)
        return ls_error(LS_ERR_USAGE, "%s: bad shape M=%lld D=%lld (need M >= 0, D >= 1)", who,
                        (long long)a->M, (long long)a->D);
    if (a->M > INT64_MAX / a->D)
        return ls_error(LS_ERR_USAGE, "%s: M·D = %lld·%lld overflows", who, (long long)a->M,
                        (long long)a->D);
    if (a->dtype != DTYPE_F32 && a->dtype != DTYPE_BF16)
        return ls_error(LS_ERR_USAGE, "%s: dtype = %d (not a DType)", who, (int)a->dtype);
    int layer = a->kind == NORM_LAYER;
    if (!backward) {
        if (!(a->eps >= 0.0f))
            return ls_error(LS_ERR_USAGE, "%s: eps=%g must be >= 0", who, a->eps);
        if (!a->x || !a->w || !a->y)
            return ls_error(LS_ERR_USAGE, "%s: x, w and y must not be NULL", who);
        if (a->b && !layer) return ls_error(LS_ERR_USAGE, "%s: b is for LayerNorm only", who);
        if (layer && !a->mean != !a->rstd)
            return ls_error(LS_ERR_USAGE, "%s: mean and rstd must be both given or both NULL",
                            who);
        return 0;
    }
    if (!a->h || !a->w || !a->rstd || !a->dy || (layer && !a->mean))
        return ls_error(LS_ERR_USAGE, "%s: h, w, rstd, dy%s must not be NULL", who,
                        layer ? " and mean" : "");
    if (a->db && !layer) return ls_error(LS_ERR_USAGE, "%s: db is for LayerNorm only", who);
    if (!a->dx && !a->dresidual && !a->dw && !a->db)
        return ls_error(LS_ERR_USAGE, "%s: no gradient asked for (dx, dresidual, dw, db all NULL)",
                        who);
    return 0;
}
