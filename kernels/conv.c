/*
 * conv.c — backend-independent parts of conv.h: argument defaults and the validation shared by
 * the CPU spec (kernels/cpu/conv.c) and any CUDA launcher. Tested through
 * tests/unit/test_conv.c (invalid-argument cases).
 */
#include "kernels/conv.h"

#include <string.h>

#include "kernels/view_internal.h"

void conv_args_init(ConvArgs *a, int64_t B, int64_t L, int64_t D, int64_t K) {
    memset(a, 0, sizeof *a);
    a->B = B, a->L = L, a->D = D, a->K = K;
    int64_t sb = L * D; // overflow is caught later by conv_args_check
    a->x_stride_b = a->out_stride_b = a->dout_stride_b = a->dx_stride_b = sb;
    a->x_stride_l = a->out_stride_l = a->dout_stride_l = a->dx_stride_l = D;
    a->reset_stride_b = L, a->reset_stride_l = 1;
}

static const char *op_name(ConvOp op) {
    return op == CONV_OP_FWD ? "conv_fwd" : op == CONV_OP_BWD ? "conv_bwd" : "conv_step";
}

// A (B, L, D) view: present as required, offsets fit, an output does not overlap itself.
static int check_view(const char *who, const char *name, const void *p, int required, int output,
                      const ConvArgs *a, int64_t sb, int64_t sl) {
    if (!p) {
        if (required) return ls_error(LS_ERR_USAGE, "%s: %s is NULL (required)", who, name);
        return 0;
    }
    if (view_span(a->B, a->L, a->D, sb, sl) < 0)
        return ls_error(LS_ERR_RANGE,
                        "%s: %s strides (%lld, %lld) with shape (%lld, %lld, %lld) overflow "
                        "64-bit offsets",
                        who, name, (long long)sb, (long long)sl, (long long)a->B, (long long)a->L,
                        (long long)a->D);
    if (output && !view_disjoint(a->B, a->L, a->D, sb, sl))
        return ls_error(LS_ERR_USAGE,
                        "%s: output %s strides (%lld, %lld) overlap for shape (%lld, %lld, %lld)",
                        who, name, (long long)sb, (long long)sl, (long long)a->B, (long long)a->L,
                        (long long)a->D);
    return 0;
}

static int check_ptr(const char *who, const char *name, const void *p) {
    if (!p) return ls_error(LS_ERR_USAGE, "%s: %s is NULL (required)", who, name);
    return 0;
}

int conv_args_check(const ConvArgs *a, ConvOp op) {
    const char *who = op_name(op);
    int rc;
    if (!a) return ls_error(LS_ERR_USAGE, "%s: argument struct is NULL", who);
    const struct {
        const char *name;
        int64_t v;
    } dims[] = {{"B", a->B}, {"L", a->L}, {"D", a->D}, {"K", a->K}};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
        if (dims[i].v < 1)
            return ls_error(LS_ERR_RANGE, "%s: %s = %lld (must be >= 1)", who, dims[i].name,
                            (long long)dims[i].v);
    if (a->K > CONV_K_MAX)
        return ls_error(LS_ERR_RANGE, "%s: K = %lld (at most %d)", who, (long long)a->K,
                        CONV_K_MAX);
    if (op == CONV_OP_STEP && a->L != 1)
        return ls_error(LS_ERR_RANGE, "%s: L = %lld (a step takes one token, L = 1)", who,
                        (long long)a->L);
    if (a->dtype != DTYPE_F32 && a->dtype != DTYPE_BF16)
        return ls_error(LS_ERR_USAGE, "%s: dtype = %d (not a DType)", who, (int)a->dtype);
    if (a->silu != 0 && a->silu != 1)
        return ls_error(LS_ERR_USAGE, "%s: silu = %d (must be 0 or 1)", who, a->silu);
    // Dense buffers: B·D·K (states, weights) must fit; B·D·(K−1) <= B·D·K.
    int64_t n;
    if (__builtin_mul_overflow(a->B, a->D, &n) || __builtin_mul_overflow(n, a->K, &n))
        return ls_error(LS_ERR_RANGE,
                        "%s: shape (B=%lld, D=%lld, K=%lld) overflows 64-bit "
                        "offsets",
                        who, (long long)a->B, (long long)a->D, (long long)a->K);
    int bwd = op == CONV_OP_BWD, step = op == CONV_OP_STEP;
#define VIEW(name, req, out)                                                                       \
    if ((rc = check_view(who, #name, a->name, req, out, a, a->name##_stride_b,                     \
                         step ? 0 : a->name##_stride_l)))                                          \
        return rc;
    VIEW(x, 1, 0)
    if ((rc = check_ptr(who, "weight", a->weight))) return rc;
    if (!bwd) VIEW(out, 1, 1)
    if (step && a->K > 1 && (rc = check_ptr(who, "state", a->state))) return rc;
    if (step && a->reset)
        return ls_error(LS_ERR_USAGE, "%s: reset is for a forward or backward over a packed "
                                      "row (a step starts a sequence by zeroing its state)", who);
    if (a->reset && view_span(a->B, a->L, 1, a->reset_stride_b, a->reset_stride_l) < 0)
        return ls_error(LS_ERR_RANGE,
                        "%s: reset strides (%lld, %lld) with shape (%lld, %lld) overflow 64-bit "
                        "offsets",
                        who, (long long)a->reset_stride_b, (long long)a->reset_stride_l,
                        (long long)a->B, (long long)a->L);
    if (bwd) {
        VIEW(dout, 1, 0)
        VIEW(dx, 1, 1)
        if ((rc = check_ptr(who, "dweight", a->dweight))) return rc;
        if (a->bias && !a->dbias)
            return ls_error(LS_ERR_USAGE, "%s: bias is given but dbias is NULL", who);
        if (!a->bias && a->dbias)
            return ls_error(LS_ERR_USAGE, "%s: dbias is given but bias is absent", who);
    }
#undef VIEW
    return 0;
}
