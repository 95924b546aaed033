/*
 * scan.c — backend-independent parts of scan.h: argument defaults, validation shared by the
 * CPU spec (kernels/cpu/scan.c) and any CUDA launcher, and the buffer sizes the activation
 * planner asks for. Tested through tests/unit/test_scan.c (invalid-argument cases).
 */
#include "kernels/scan.h"

#include <string.h>

#include "kernels/view_internal.h"

void scan_args_init(ScanArgs *a, int64_t B, int64_t L, int64_t D, int64_t N) {
    memset(a, 0, sizeof *a);
    a->B = B, a->L = L, a->D = D, a->N = N;
    a->chunk = SCAN_CHUNK_DEFAULT;
    a->delta_softplus = 1;
    int64_t sbd = L * D, sbn = L * N; // overflow is caught later by scan_args_check
    a->u_stride_b = a->delta_stride_b = a->z_stride_b = a->out_stride_b = sbd;
    a->dout_stride_b = a->du_stride_b = a->ddelta_stride_b = a->dz_stride_b = sbd;
    a->u_stride_l = a->delta_stride_l = a->z_stride_l = a->out_stride_l = D;
    a->dout_stride_l = a->du_stride_l = a->ddelta_stride_l = a->dz_stride_l = D;
    a->B_ssm_stride_b = a->C_ssm_stride_b = a->dB_ssm_stride_b = a->dC_ssm_stride_b = sbn;
    a->B_ssm_stride_l = a->C_ssm_stride_l = a->dB_ssm_stride_l = a->dC_ssm_stride_l = N;
    a->reset_stride_b = L, a->reset_stride_l = 1;
}

// -------------------------------------------------------------------------------- checks

static const char *op_name(ScanOp op) {
    return op == SCAN_OP_FWD ? "scan_fwd" : op == SCAN_OP_BWD ? "scan_bwd" : "scan_step";
}

// A (B, L, w) view: pointer present or not as required, offsets fit, outputs do not overlap.
static int check_view(const char *who, const char *name, const void *p, int required, int output,
                      const ScanArgs *a, int64_t w, int64_t sb, int64_t sl) {
    if (!p) {
        if (required) return ls_error(LS_ERR_USAGE, "%s: %s is NULL (required)", who, name);
        return 0;
    }
    int64_t L = a->L;
    if (view_span(a->B, L, w, sb, sl) < 0)
        return ls_error(LS_ERR_RANGE,
                        "%s: %s strides (%lld, %lld) with shape (%lld, %lld, %lld) overflow "
                        "64-bit offsets",
                        who, name, (long long)sb, (long long)sl, (long long)a->B, (long long)L,
                        (long long)w);
    if (output && !view_disjoint(a->B, L, w, sb, sl))
        return ls_error(
            LS_ERR_USAGE, "%s: output %s strides (%lld, %lld) overlap for shape (%lld, %lld, %lld)",
            who, name, (long long)sb, (long long)sl, (long long)a->B, (long long)L, (long long)w);
    return 0;
}

static int check_ptr(const char *who, const char *name, const void *p, int required) {
    if (!p && required) return ls_error(LS_ERR_USAGE, "%s: %s is NULL (required)", who, name);
    return 0;
}

// A gradient exists exactly when its input does.
static int check_pair(const char *who, const char *in, const void *pin, const char *grad,
                      const void *pgrad) {
    if (pin && !pgrad)
        return ls_error(LS_ERR_USAGE, "%s: %s is given but %s is NULL", who, in, grad);
    if (!pin && pgrad)
        return ls_error(LS_ERR_USAGE, "%s: %s is given but %s is absent", who, grad, in);
    return 0;
}

int scan_args_check(const ScanArgs *a, ScanOp op) {
    const char *who = op_name(op);
    int rc;
    if (!a) return ls_error(LS_ERR_USAGE, "%s: argument struct is NULL", who);
    const struct {
        const char *name;
        int64_t v;
    } dims[] = {{"B", a->B}, {"L", a->L}, {"D", a->D}, {"N", a->N}, {"chunk", a->chunk}};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
        if (dims[i].v < 1)
            return ls_error(LS_ERR_RANGE, "%s: %s = %lld (must be >= 1)", who, dims[i].name,
                            (long long)dims[i].v);
    if (a->N > SCAN_N_MAX)
        return ls_error(LS_ERR_RANGE, "%s: N = %lld (at most %d)", who, (long long)a->N,
                        SCAN_N_MAX);
    if (op == SCAN_OP_STEP && a->L != 1)
        return ls_error(LS_ERR_RANGE, "%s: L = %lld (a step takes one token, L = 1)", who,
                        (long long)a->L);
    if (a->dtype != DTYPE_F32 && a->dtype != DTYPE_BF16)
        return ls_error(LS_ERR_USAGE, "%s: dtype = %d (must be DTYPE_F32 or DTYPE_BF16)", who,
                        (int)a->dtype);
    if (a->delta_softplus != 0 && a->delta_softplus != 1)
        return ls_error(LS_ERR_USAGE, "%s: delta_softplus = %d (must be 0 or 1)", who,
                        a->delta_softplus);
    // Dense buffers: B·ceil(L/T)·D·N must fit (it bounds every state offset too).
    if (scan_ckpt_numel(a) <= 0)
        return ls_error(LS_ERR_RANGE,
                        "%s: shape (B=%lld, L=%lld, D=%lld, N=%lld) overflows "
                        "64-bit offsets",
                        who, (long long)a->B, (long long)a->L, (long long)a->D, (long long)a->N);
    int64_t D = a->D, N = a->N;
    int bwd = op == SCAN_OP_BWD, step = op == SCAN_OP_STEP;
    // A step ignores token strides (it reads one token).
#define VIEW(name, req, out, w, pre)                                                               \
    if ((rc = check_view(who, #name, a->name, req, out, a, w, a->pre##_stride_b,                   \
                         step ? 0 : a->pre##_stride_l)))                                           \
        return rc;
    VIEW(u, 1, 0, D, u)
    VIEW(delta, 1, 0, D, delta)
    VIEW(z, 0, 0, D, z)
    VIEW(B_ssm, 1, 0, N, B_ssm)
    VIEW(C_ssm, 1, 0, N, C_ssm)
    if ((rc = check_ptr(who, "A", a->A, 1))) return rc;
    if (step && a->reset)
        return ls_error(LS_ERR_USAGE, "%s: reset is for a forward or backward over a packed "
                                      "row (a step starts a sequence by zeroing its state)", who);
    VIEW(reset, 0, 0, 1, reset)
    if (op == SCAN_OP_FWD || step) VIEW(out, 1, 1, D, out)
    if (step && (rc = check_ptr(who, "state", a->state, 1))) return rc;
    if (bwd) {
        VIEW(dout, 1, 0, D, dout)
        if ((rc = check_ptr(who, "ckpt", a->ckpt, 1))) return rc;
        VIEW(du, 1, 1, D, du)
        VIEW(ddelta, 1, 1, D, ddelta)
        VIEW(dB_ssm, 1, 1, N, dB_ssm)
        VIEW(dC_ssm, 1, 1, N, dC_ssm)
        if ((rc = check_ptr(who, "dA", a->dA, 1))) return rc;
        if ((rc = check_pair(who, "z", a->z, "dz", a->dz))) return rc;
        VIEW(dz, 0, 1, D, dz)
        if ((rc = check_pair(who, "D_skip", a->D_skip, "dD_skip", a->dD_skip))) return rc;
        if ((rc = check_pair(who, "delta_bias", a->delta_bias, "ddelta_bias", a->ddelta_bias)))
            return rc;
    }
#undef VIEW
    return 0;
}

// -------------------------------------------------------------------------------- sizes

int64_t scan_ckpt_numel(const ScanArgs *a) {
    if (!a || a->B < 1 || a->L < 1 || a->D < 1 || a->N < 1 || a->chunk < 1) return 0;
    int64_t nc = (a->L - 1) / a->chunk + 1, n;
    if (__builtin_mul_overflow(a->B, nc, &n) || __builtin_mul_overflow(n, a->D, &n) ||
        __builtin_mul_overflow(n, a->N, &n) || n > INT64_MAX / 8)
        return 0;
    return n;
}

size_t scan_bwd_workspace_size_cpu(const ScanArgs *a) {
    if (scan_ckpt_numel(a) <= 0) return 0;
    int64_t T = a->chunk < a->L ? a->chunk : a->L; // a chunk never holds more than L tokens
    int64_t nblk = (a->D + SCAN_CPU_DBLOCK - 1) / SCAN_CPU_DBLOCK, per, n;
    if (__builtin_mul_overflow(T, 4 * a->N, &per) ||
        __builtin_add_overflow(per, a->N + 3 * T, &per) || __builtin_mul_overflow(nblk, per, &n) ||
        __builtin_add_overflow(n, a->D * a->N, &n) || n > INT64_MAX / 8)
        return 0;
    return (size_t)n * sizeof(float);
}
