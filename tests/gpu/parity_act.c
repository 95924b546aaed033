/*
 * parity_act.c — kernels/act.h on the GPU against the CPU specification: the eight functions
 * (SiLU, softplus, GELU, SiLU gate; forward and backward) at n = 1, 3, 127, 4097, 1,000,003 in
 * fp32 and at 4097 and 1,000,003 in bf16. Inputs span [−25, 25] for softplus (both sides of its
 * threshold 20) and [−6, 6] otherwise. Outputs poisoned, backward outputs start from random
 * values (they accumulate). Tolerances: gpu_check.h / parity_ops.h (fp32 1e-5 relative,
 * bf16 2e-2).
 */
#include "kernels/act.h"
#include "tests/gpu/parity_ops.h"

enum { A_SILU, A_SOFTPLUS, A_GELU, A_GATE, A_COUNT };
static const char *act_names[A_COUNT] = {"silu", "softplus", "gelu", "silu_gate"};

static void act_case(int kind, int64_t n, DType t, uint64_t salt) {
    char po_case[128];
    snprintf(po_case, sizeof po_case, "act %s n=%lld %s", act_names[kind], (long long)n,
             dtype_name(t));
    if (!po_size_ok(n)) return;
    GcRng r = gc_rng(salt);
    float lim = kind == A_SOFTPLUS ? 25.0f : 6.0f;
    float *x = po_rand(&r, n, -lim, lim, t), *z = po_rand(&r, n, -lim, lim, t);
    float *dy = po_rand(&r, n, -1, 1, t), *dx0 = po_rand(&r, n, -1, 1, t);
    float *dz0 = po_rand(&r, n, -1, 1, t);
    float *y = gc_host(n), *dx = po_copy(dx0, n), *dz = po_copy(dz0, n);
    PoBuf bx = {0}, bz = {0}, by = {0}, bdy = {0}, bdx = {0}, bdz = {0};
    char what[160];
    int rc = 0;
    // CPU reference
    switch (kind) {
    case A_SILU:
        rc = act_silu_fwd_cpu(y, x, n) || act_silu_bwd_cpu(dx, dy, x, n);
        break;
    case A_SOFTPLUS:
        rc = act_softplus_fwd_cpu(y, x, n) || act_softplus_bwd_cpu(dx, dy, x, n);
        break;
    case A_GELU:
        rc = act_gelu_fwd_cpu(y, x, n) || act_gelu_bwd_cpu(dx, dy, x, n);
        break;
    default:
        rc = act_silu_gate_fwd_cpu(y, x, z, n) || act_silu_gate_bwd_cpu(dx, dz, dy, x, z, n);
    }
    PO_TRY(rc);
    PO_TRY(po_in(&bx, x, n, t));
    PO_TRY(po_in(&bz, z, n, t));
    PO_TRY(po_in(&bdy, dy, n, t));
    PO_TRY(po_out(&by, n, t));
    PO_TRY(po_in(&bdx, dx0, n, t));
    PO_TRY(po_in(&bdz, dz0, n, t));
    switch (kind) {
    case A_SILU:
        PO_TRY(act_silu_fwd_cuda(po_ptr(&by), po_ptr(&bx), n, t, NULL));
        PO_TRY(act_silu_bwd_cuda(po_ptr(&bdx), po_ptr(&bdy), po_ptr(&bx), n, t, NULL));
        break;
    case A_SOFTPLUS:
        PO_TRY(act_softplus_fwd_cuda(po_ptr(&by), po_ptr(&bx), n, t, NULL));
        PO_TRY(act_softplus_bwd_cuda(po_ptr(&bdx), po_ptr(&bdy), po_ptr(&bx), n, t, NULL));
        break;
    case A_GELU:
        PO_TRY(act_gelu_fwd_cuda(po_ptr(&by), po_ptr(&bx), n, t, NULL));
        PO_TRY(act_gelu_bwd_cuda(po_ptr(&bdx), po_ptr(&bdy), po_ptr(&bx), n, t, NULL));
        break;
    default:
        PO_TRY(act_silu_gate_fwd_cuda(po_ptr(&by), po_ptr(&bx), po_ptr(&bz), n, t, NULL));
        PO_TRY(act_silu_gate_bwd_cuda(po_ptr(&bdx), po_ptr(&bdz), po_ptr(&bdy), po_ptr(&bx),
                                      po_ptr(&bz), n, t, NULL));
    }
    PO_TRY(device_cuda_sync());
    snprintf(what, sizeof what, "%s forward", po_case);
    po_check(what, &by, y, po_tol(t));
    snprintf(what, sizeof what, "%s backward dx", po_case);
    po_check(what, &bdx, dx, po_tol(t));
    if (kind == A_GATE) {
        snprintf(what, sizeof what, "%s backward dz", po_case);
        po_check(what, &bdz, dz, po_tol(t));
    }
done:
    po_free(&bx), po_free(&bz), po_free(&by), po_free(&bdy), po_free(&bdx), po_free(&bdz);
    free(x), free(z), free(dy), free(dx0), free(dz0), free(y), free(dx), free(dz);
}

void gpu_parity_act(void) {
    static const int64_t sizes[] = {1, 3, 127, 4097, 1000003};
    uint64_t salt = 100;
    for (int k = 0; k < A_COUNT; k++) {
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
            act_case(k, sizes[i], DTYPE_F32, salt++);
        act_case(k, 4097, DTYPE_BF16, salt++);
        act_case(k, 1000003, DTYPE_BF16, salt++);
    }
    // n = 0 is a no-op, and a negative count is refused
    int rc = act_silu_fwd_cuda(NULL, NULL, 0, DTYPE_F32, NULL);
    gc_report(rc == 0, "act n=0 is a no-op (rc %d)", rc);
    rc = act_gelu_fwd_cuda(NULL, NULL, -1, DTYPE_F32, NULL);
    gc_report(rc == LS_ERR_USAGE && strstr(ls_error_message(), "n=-1"),
              "act n=-1 is refused: %s", ls_error_message());
}
