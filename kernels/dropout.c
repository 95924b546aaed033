/*
 * dropout.c — backend-independent parts of dropout.h: argument defaults and the validation
 * shared by the CPU spec (kernels/cpu/dropout.c) and the CUDA launcher (kernels/cuda/
 * dropout.cu). Tested through tests/unit/test_dropout.c (invalid-argument cases).
 */
#include "kernels/dropout.h"

#include <string.h>

void dropout_args_init(DropoutArgs *a, double p, uint64_t seed, uint64_t step, uint32_t site,
                       int64_t rows, int64_t W) {
    memset(a, 0, sizeof *a);
    a->p = p, a->seed = seed, a->step = step, a->site = site;
    a->Be = rows, a->nt = 1, a->W = W, a->L = 1;
    a->x_dtype = a->y_dtype = DTYPE_F32;
}

void dropout_args_rows(DropoutArgs *a, int64_t Be, int64_t L, int64_t s0, int64_t nt,
                       const int64_t *lengths, const int32_t *mirror, int reverse) {
    a->Be = Be, a->L = L, a->s0 = s0, a->nt = nt;
    a->lengths = lengths, a->mirror = mirror, a->reverse = reverse;
}

static int known_dtype(DType t) { return t == DTYPE_F32 || t == DTYPE_BF16; }

int dropout_args_check(const DropoutArgs *a, int backward) {
    const char *who = backward ? "dropout_bwd" : "dropout_fwd";
    if (!(a->p >= 0.0 && a->p < 1.0))
        return ls_error(LS_ERR_USAGE, "%s: p = %g, expected 0 <= p < 1", who, a->p);
    if (a->Be < 0 || a->W < 0 || a->nt < 1 || a->L < 1 || a->s0 < 0 || a->s0 > a->L - a->nt)
        return ls_error(LS_ERR_USAGE,
                        "%s: Be = %lld, nt = %lld, W = %lld, L = %lld, s0 = %lld (expected "
                        "Be, W >= 0 and 0 <= s0 <= s0 + nt <= L)",
                        who, (long long)a->Be, (long long)a->nt, (long long)a->W, (long long)a->L,
                        (long long)a->s0);
    // g = (b·L + pos)·W + w must fit: the whole tensor's element count
    if (a->Be > 0 && a->W > 0 && (a->L > INT64_MAX / a->Be || a->Be * a->L > INT64_MAX / a->W))
        return ls_error(LS_ERR_USAGE, "%s: (%lld, %lld, %lld) elements overflow 64 bits", who,
                        (long long)a->Be, (long long)a->L, (long long)a->W);
    if (a->reverse && !a->lengths)
        return ls_error(LS_ERR_USAGE, "%s: a reversed walk needs lengths", who);
    if (!known_dtype(a->x_dtype) || !known_dtype(a->y_dtype))
        return ls_error(LS_ERR_USAGE, "%s: dtypes %d, %d (expected DTYPE_F32 or DTYPE_BF16)",
                        who, (int)a->x_dtype, (int)a->y_dtype);
    const int work = a->Be > 0 && a->W > 0;
    const void *in = backward ? (const void *)a->dy : (const void *)a->x;
    const void *out = backward ? (const void *)a->dx : (const void *)a->y;
    if (work && (!in || !out))
        return ls_error(LS_ERR_USAGE, "%s: %s is NULL", who,
                        !in ? (backward ? "dy" : "x") : (backward ? "dx" : "y"));
    return 0;
}
