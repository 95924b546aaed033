/*
 * parity_norm.c — the residual-fused RMSNorm / LayerNorm of kernels/norm.h on the GPU against
 * the CPU specification (norm_fwd_cpu / norm_bwd_cpu): y, residual_out, mean, rstd; dx,
 * dresidual, dw, db (accumulated onto random values), with and without a residual and a
 * gradient arriving at residual_out; rows M = 1, 3, 127, 4097, 1,000,003; widths D = 1, 37,
 * 40, 1000, 1024 (never a multiple of 32 except 1024); fp32 and bf16. Backward twice: same
 * bytes. Tolerances: fp32 1e-5 relative, bf16 2e-2 (parity_ops.h); dw and db, sums over M
 * rows whose terms can differ in the last bit (a row's rstd rounded from a double sum taken in
 * another order), as reductions: |got − ref| <= 1e-5·(Σ|terms| + |initial|) and NMSE <= 1e-10
 * (see parity_conv.c).
 */
#include "kernels/norm.h"
#include "tests/gpu/parity_ops.h"

typedef struct {
    NormKind kind;
    int64_t M, D;
    int residual, dres_out;
    DType t;
} NormCase;

static void norm_case(const NormCase *c, uint64_t salt) {
    const int64_t M = c->M, D = c->D, n = M * D;
    const DType t = c->t;
    const int layer = c->kind == NORM_LAYER;
    char po_case[160], what[256];
    snprintf(po_case, sizeof po_case, "norm %s M=%lld D=%lld%s%s %s", layer ? "layer" : "rms",
             (long long)M, (long long)D, c->residual ? " residual" : "",
             c->dres_out ? " dresidual_out" : "", dtype_name(t));
    if (!po_size_ok(n)) return;
    GcRng r = gc_rng(salt);
    float *x = po_rand(&r, n, -2, 2, t), *res = po_rand(&r, n, -1, 3, t);
    float *w = po_rand(&r, D, 0.5f, 1.5f, DTYPE_F32), *b = po_rand(&r, D, -1, 1, DTYPE_F32);
    float *dy = po_rand(&r, n, -1, 1, t), *dro = po_rand(&r, n, -1, 1, t);
    float *dx0 = po_rand(&r, n, -1, 1, t), *dr0 = po_rand(&r, n, -1, 1, t);
    float *dw0 = po_rand(&r, D, -1, 1, DTYPE_F32), *db0 = po_rand(&r, D, -1, 1, DTYPE_F32);
    float *y = gc_host(n), *ro = gc_host(n), *mean = gc_host(M), *rstd = gc_host(M);
    float *dx = po_copy(dx0, n), *dr = po_copy(dr0, n), *dw = po_copy(dw0, D);
    float *db = po_copy(db0, D), *h = NULL;
    double *bnd_w = calloc((size_t)D, 8), *bnd_b = calloc((size_t)D, 8);
    PoBuf gx = {0}, gres = {0}, gw = {0}, gb = {0}, gdy = {0}, gdro = {0}, gy = {0}, gro = {0};
    PoBuf gmean = {0}, grstd = {0}, gdx[2] = {PO_NONE, PO_NONE}, gdr[2] = {PO_NONE, PO_NONE};
    PoBuf gdw[2] = {PO_NONE, PO_NONE};
    PoBuf gdb[2] = {PO_NONE, PO_NONE}, gdxo = PO_NONE;
    NormArgs a, g;
    float *dxo = po_copy(dx0, n); // dx_overwrite: dx = v whatever it held

    // ---- CPU: forward, then the backward reads h = residual_out rounded as the GPU stores it
    norm_args_init(&a, c->kind, M, D, 1e-5f);
    a.x = x, a.residual = c->residual ? res : NULL, a.w = w, a.b = layer ? b : NULL;
    a.y = y, a.residual_out = ro, a.mean = layer ? mean : NULL, a.rstd = rstd;
    PO_TRY(norm_fwd_cpu(&a));
    h = po_copy(ro, n);
    po_round(h, n, t);
    a.h = h, a.dy = dy, a.dresidual_out = c->dres_out ? dro : NULL;
    a.dx = dx, a.dresidual = dr, a.dw = dw, a.db = layer ? db : NULL;
    PO_TRY(norm_bwd_cpu(&a));
    {
        NormArgs o = a;
        o.dx = dxo, o.dx_overwrite = 1, o.dresidual = NULL, o.dw = NULL, o.db = NULL;
        PO_TRY(norm_bwd_cpu(&o));
    }
    for (int64_t m = 0; m < M; m++)
        for (int64_t d = 0; d < D; d++) {
            double xhat = ((double)h[m * D + d] - (layer ? mean[m] : 0.0)) * rstd[m];
            bnd_w[d] += fabs(dy[m * D + d] * xhat), bnd_b[d] += fabs(dy[m * D + d]);
        }
    for (int64_t d = 0; d < D; d++)
        bnd_w[d] = 1e-5 * (bnd_w[d] + fabs(dw0[d])), bnd_b[d] = 1e-5 * (bnd_b[d] + fabs(db0[d]));

    // ---- GPU
    PO_TRY(po_in(&gx, x, n, t));
    PO_TRY(po_in(&gres, res, n, t));
    PO_TRY(po_in(&gw, w, D, DTYPE_F32));
    PO_TRY(po_in(&gb, b, D, DTYPE_F32));
    PO_TRY(po_in(&gdy, dy, n, t));
    PO_TRY(po_in(&gdro, dro, n, t));
    PO_TRY(po_out(&gy, n, t));
    PO_TRY(po_out(&gro, n, t));
    PO_TRY(po_out(&gmean, M, DTYPE_F32));
    PO_TRY(po_out(&grstd, M, DTYPE_F32));
    for (int k = 0; k < 2; k++) {
        PO_TRY(po_in(&gdx[k], dx0, n, t));
        PO_TRY(po_in(&gdr[k], dr0, n, t));
        PO_TRY(po_in(&gdw[k], dw0, D, DTYPE_F32));
        PO_TRY(po_in(&gdb[k], db0, D, DTYPE_F32));
    }
    norm_args_init(&g, c->kind, M, D, 1e-5f);
    g.dtype = t;
    g.x = po_ptr(&gx), g.residual = c->residual ? po_ptr(&gres) : NULL, g.w = po_ptr(&gw);
    g.b = layer ? po_ptr(&gb) : NULL, g.y = po_ptr(&gy), g.residual_out = po_ptr(&gro);
    g.mean = layer ? po_ptr(&gmean) : NULL, g.rstd = po_ptr(&grstd);
    PO_TRY(norm_fwd_cuda(&g));
    g.h = po_ptr(&gro), g.dy = po_ptr(&gdy), g.dresidual_out = c->dres_out ? po_ptr(&gdro) : NULL;
    for (int k = 0; k < 2; k++) {
        g.dx = po_ptr(&gdx[k]), g.dresidual = po_ptr(&gdr[k]), g.dw = po_ptr(&gdw[k]);
        g.db = layer ? po_ptr(&gdb[k]) : NULL;
        PO_TRY(norm_bwd_cuda(&g));
    }
    PO_TRY(po_in(&gdxo, dx0, n, t));
    {
        NormArgs o = g;
        o.dx = po_ptr(&gdxo), o.dx_overwrite = 1, o.dresidual = NULL, o.dw = NULL, o.db = NULL;
        PO_TRY(norm_bwd_cuda(&o));
    }
    PO_TRY(device_cuda_sync());

    snprintf(what, sizeof what, "%s: y", po_case);
    po_check(what, &gy, y, po_tol(t));
    snprintf(what, sizeof what, "%s: residual_out", po_case);
    po_check(what, &gro, ro, po_tol(t)); // x + residual, one rounding in bf16
    snprintf(what, sizeof what, "%s: rstd", po_case);
    po_check(what, &grstd, rstd, po_tol_f32);
    if (layer) {
        snprintf(what, sizeof what, "%s: mean", po_case);
        po_check(what, &gmean, mean, po_tol_f32);
    }
    snprintf(what, sizeof what, "%s: dx", po_case);
    po_check(what, &gdx[0], dx, po_tol(t));
    snprintf(what, sizeof what, "%s: dx overwritten", po_case);
    po_check(what, &gdxo, dxo, po_tol(t));
    snprintf(what, sizeof what, "%s: dresidual", po_case);
    po_check(what, &gdr[0], dr, po_tol(t));
    snprintf(what, sizeof what, "%s: dw", po_case);
    po_check_bound(what, &gdw[0], dw, bnd_w, 0.0, 1e-10, "1e-5·Σ|terms|");
    if (layer) {
        snprintf(what, sizeof what, "%s: db", po_case);
        po_check_bound(what, &gdb[0], db, bnd_b, 0.0, 1e-10, "1e-5·Σ|terms|");
    }
    snprintf(what, sizeof what, "%s: backward twice, dx", po_case);
    po_same(what, &gdx[0], &gdx[1]);
    snprintf(what, sizeof what, "%s: backward twice, dw", po_case);
    po_same(what, &gdw[0], &gdw[1]);
    if (layer) {
        snprintf(what, sizeof what, "%s: backward twice, db", po_case);
        po_same(what, &gdb[0], &gdb[1]);
    }
done:
    po_free(&gx), po_free(&gres), po_free(&gw), po_free(&gb), po_free(&gdy), po_free(&gdro);
    po_free(&gy), po_free(&gro), po_free(&gmean), po_free(&grstd);
    for (int k = 0; k < 2; k++)
        po_free(&gdx[k]), po_free(&gdr[k]), po_free(&gdw[k]), po_free(&gdb[k]);
    po_free(&gdxo), free(dxo);
    free(x), free(res), free(w), free(b), free(dy), free(dro), free(dx0), free(dr0), free(dw0);
    free(db0), free(y), free(ro), free(mean), free(rstd), free(dx), free(dr), free(dw), free(db);
    free(h), free(bnd_w), free(bnd_b);
}

void gpu_parity_norm(void) {
    static const NormCase cases[] = {
        {NORM_RMS, 1, 1, 0, 0, DTYPE_F32},
        {NORM_LAYER, 1, 1, 1, 1, DTYPE_F32},
        {NORM_RMS, 3, 37, 1, 1, DTYPE_F32},
        {NORM_LAYER, 3, 37, 0, 0, DTYPE_F32},
        {NORM_RMS, 127, 1000, 1, 0, DTYPE_F32},
        {NORM_LAYER, 127, 1000, 1, 1, DTYPE_F32},
        {NORM_RMS, 4097, 1024, 1, 1, DTYPE_F32},
        {NORM_LAYER, 4097, 40, 0, 1, DTYPE_F32},
        {NORM_RMS, 1000003, 40, 1, 1, DTYPE_F32},
        {NORM_LAYER, 1000003, 37, 1, 0, DTYPE_F32},
        {NORM_RMS, 4097, 256, 1, 1, DTYPE_BF16},
        {NORM_LAYER, 4097, 1000, 1, 1, DTYPE_BF16},
        {NORM_LAYER, 127, 37, 0, 0, DTYPE_BF16},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) norm_case(&cases[i], 500 + i);

    NormArgs a;
    norm_args_init(&a, NORM_RMS, 4, 8, 1e-5f);
    int rc = norm_fwd_cuda(&a);
    gc_report(rc == LS_ERR_USAGE, "norm without x is refused: %s", ls_error_message());
}
