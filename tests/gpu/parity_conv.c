/*
 * parity_conv.c — kernels/conv.h on the GPU against the CPU specification (kernels/cpu/conv.c):
 * forward (out, state_final), backward (dx, dweight, dbias, dstate0) and the single step, on
 * fresh random inputs: L = 1, 2, 3, 127, 4097, 1,000,003; D = 8, 37, 40, 64, 72 (never a
 * multiple of 32; 37 takes the scalar path, the others the 4-wide one); K = 1, 2, 3, 4 (taps in
 * registers) and 5, 7 (generic path); B = 1, 2, 3; with and without SiLU, bias, carried state,
 * dstate_final; x as a dense tensor, as a column slice of a (B, L, 2D) tensor (the in_proj
 * view) and with a negative token stride (the reverse direction). Backward outputs start from
 * random values (they accumulate); forward outputs are poisoned. Every backward runs twice into
 * identically initialised buffers: the two must be the same bytes (deterministic dweight /
 * dbias, no atomics).
 *
 * Tolerances: fp32 1e-5 relative (the fp32 forward without SiLU must be bit-identical: same
 * operations, no FMA), bf16 2e-2 relative against the CPU on the same bf16-rounded inputs.
 * dweight and dbias are sums over B·L terms whose dy differ between CPU and GPU by the last
 * bits of expf (2 ulp on CUDA, 1 in libm); summed over 10^6 tokens with cancellation, 1e-5
 * relative to the (small) sum is not a meaningful test (measured: up to 1.6x it at L = 65536,
 * D = 1024 in kernels/dev/conv.cu). So they are checked as reductions: |got − ref| <= 1e-5 ·
 * (Σ|terms| + |initial value|) elementwise AND NMSE <= 1e-10 (rms relative error 1e-5; a
 * single missing term of 10^6 already gives ~1e-6), in both dtypes.
 */
#include "kernels/conv.h"
#include "tests/gpu/parity_ops.h"

typedef struct {
    int64_t B, L, D, K;
    int silu, bias, state, view; // state: state0 + state_final + dstate_final + dstate0
    DType t;
    int packed; // random tokens (about 1 in 20) start a packed sequence (ConvArgs.reset)
} ConvCase;

enum { VIEW_DENSE, VIEW_SLICE, VIEW_REVERSED };
static const char *view_names[] = {"dense", "slice of 2D", "reversed"};

// x_ext at x position j of (b, d) in the CPU-side problem (j < 0: state0 or 0)
static double conv_ext_host(const ConvArgs *a, int64_t b, int64_t j, int64_t d) {
    if (j >= 0) return a->x[b * a->x_stride_b + j * a->x_stride_l + d];
    return a->state0 ? a->state0[(b * a->D + d) * (a->K - 1) + (a->K - 1) + j] : 0.0;
}

// conv.h's keep: token t's tap on x position j is kept unless a sequence starts in (j, t]
static int conv_keep_host(const ConvArgs *a, int64_t b, int64_t t, int64_t j) {
    if (!a->reset) return 1;
    for (int64_t s = j + 1; s <= t; s++)
        if (s >= 0 && a->reset[b * a->reset_stride_b + s * a->reset_stride_l]) return 0;
    return 1;
}

/*
 * Σ|terms| of dweight[d, k] = Σ_{b,t} dy·x_ext[t+k] and dbias[d] = Σ dy, plus |initial|,
 * scaled by 1e-5: the elementwise bound of the reduction check. dy from double arithmetic.
 */
static void conv_wgrad_bounds(const ConvArgs *a, const float *dw0, const float *db0,
                              double *bw, double *bb) {
    const int64_t B = a->B, L = a->L, D = a->D, K = a->K;
#pragma omp parallel for schedule(static)
    for (int64_t d = 0; d < D; d++) {
        double sw[CONV_K_MAX] = {0}, sb = 0.0;
        for (int64_t b = 0; b < B; b++)
            for (int64_t t = 0; t < L; t++) {
                double dy = a->dout[b * a->dout_stride_b + t * a->dout_stride_l + d];
                if (a->silu) {
                    double p = a->bias ? a->bias[d] : 0.0;
                    for (int64_t k = 0; k < K; k++)
                        if (conv_keep_host(a, b, t, t - (K - 1) + k))
                            p += a->weight[d * K + k] * conv_ext_host(a, b, t - (K - 1) + k, d);
                    double s = 1.0 / (1.0 + exp(-p));
                    dy *= s * (1.0 + p * (1.0 - s));
                }
                sb += fabs(dy);
                for (int64_t k = 0; k < K; k++)
                    if (conv_keep_host(a, b, t, t - (K - 1) + k))
                        sw[k] += fabs(dy * conv_ext_host(a, b, t - (K - 1) + k, d));
            }
        for (int64_t k = 0; k < K; k++) bw[d * K + k] = 1e-5 * (sw[k] + fabs(dw0[d * K + k]));
        bb[d] = 1e-5 * (sb + fabs(db0[d]));
    }
}

static void conv_case(const ConvCase *c, uint64_t salt) {
    const int64_t B = c->B, L = c->L, D = c->D, K = c->K, n = B * L * D;
    const int64_t ns = B * D * (K - 1) > 0 ? B * D * (K - 1) : 1;
    const DType t = c->t;
    char po_case[160], what[256];
    snprintf(po_case, sizeof po_case, "conv B=%lld L=%lld D=%lld K=%lld%s%s%s%s x %s %s",
             (long long)B, (long long)L, (long long)D, (long long)K, c->silu ? " silu" : "",
             c->bias ? " bias" : "", c->state ? " state" : "", c->packed ? " packed" : "",
             view_names[c->view], dtype_name(t));
    if (!po_size_ok(n)) return;
    GcRng r = gc_rng(salt);
    // x storage: (B, L, D), or (B, L, 2D) for the slice view
    const int64_t xw = c->view == VIEW_SLICE ? 2 * D : D, xn = B * L * xw;
    const int64_t xoff = c->view == VIEW_REVERSED ? (L - 1) * D : 0;
    const int64_t xsb = L * xw, xsl = c->view == VIEW_REVERSED ? -D : xw;
    float *x = po_rand(&r, xn, -1, 1, t), *w = po_rand(&r, D * K, -1, 1, DTYPE_F32);
    float *bias = po_rand(&r, D, -1, 1, DTYPE_F32), *s0 = po_rand(&r, ns, -1, 1, t);
    float *dout = po_rand(&r, n, -1, 1, t), *dsf = po_rand(&r, ns, -1, 1, DTYPE_F32);
    float *dx0 = po_rand(&r, n, -1, 1, t), *dw0 = po_rand(&r, D * K, -1, 1, DTYPE_F32);
    float *db0 = po_rand(&r, D, -1, 1, DTYPE_F32), *ds00 = po_rand(&r, ns, -1, 1, DTYPE_F32);
    float *out = gc_host(n), *sf = gc_host(ns), *dx = po_copy(dx0, n), *dw = po_copy(dw0, D * K);
    float *db = po_copy(db0, D), *ds0 = po_copy(ds00, ns);
    double *bnd_w = calloc((size_t)(D * K), 8), *bnd_b = calloc((size_t)D, 8);
    PoBuf bx = {0}, bw = {0}, bb = {0}, bs0 = {0}, bout = {0}, bsf = {0}, bdout = {0};
    PoBuf bdsf = {0}, bdx[2] = {PO_NONE, PO_NONE}, bdw[2] = {PO_NONE, PO_NONE};
    PoBuf bdb[2] = {PO_NONE, PO_NONE}, bds0[2] = {PO_NONE, PO_NONE};
    ConvArgs a, g;
    uint8_t *reset = c->packed ? calloc((size_t)(B * L), 1) : NULL;
    GcBuf breset = {0};
    for (int64_t i = 0; reset && i < B * L; i++) reset[i] = gc_uniform(&r, 0, 1) < 0.05f;

    // ---- CPU reference
    conv_args_init(&a, B, L, D, K);
    a.silu = c->silu;
    a.x = x + xoff, a.x_stride_b = xsb, a.x_stride_l = xsl;
    a.weight = w, a.bias = c->bias ? bias : NULL;
    if (c->state && K > 1) a.state0 = s0, a.state_final = sf, a.dstate_final = dsf, a.dstate0 = ds0;
    a.out = out, a.dout = dout, a.dx = dx, a.dweight = dw, a.dbias = c->bias ? db : NULL;
    a.reset = reset;
    PO_TRY(conv_fwd_cpu(&a));
    PO_TRY(conv_bwd_cpu(&a));
    conv_wgrad_bounds(&a, dw0, db0, bnd_w, bnd_b);

    // ---- GPU
    PO_TRY(po_in(&bx, x, xn, t));
    PO_TRY(po_in(&bw, w, D * K, DTYPE_F32));
    PO_TRY(po_in(&bb, bias, D, DTYPE_F32));
    PO_TRY(po_in(&bs0, s0, ns, DTYPE_F32));
    PO_TRY(po_in(&bdout, dout, n, t));
    PO_TRY(po_in(&bdsf, dsf, ns, DTYPE_F32));
    PO_TRY(po_out(&bout, n, t));
    PO_TRY(po_out(&bsf, ns, DTYPE_F32));
    for (int k = 0; k < 2; k++) {
        PO_TRY(po_in(&bdx[k], dx0, n, t));
        PO_TRY(po_in(&bdw[k], dw0, D * K, DTYPE_F32));
        PO_TRY(po_in(&bdb[k], db0, D, DTYPE_F32));
        PO_TRY(po_in(&bds0[k], ds00, ns, DTYPE_F32));
    }
    if (reset) {
        PO_TRY(gc_buf_alloc(&breset, (size_t)(B * L)));
        PO_TRY(device_cuda_copy(breset.ptr, reset, (size_t)(B * L), DEVICE_COPY_H2D));
    }
    g = a;
    g.dtype = t;
    g.reset = reset ? (const uint8_t *)breset.ptr : NULL;
    g.x = (const float *)((char *)bx.b.ptr + xoff * dtype_size(t));
    g.weight = po_ptr(&bw), g.bias = c->bias ? po_ptr(&bb) : NULL;
    g.state0 = NULL, g.state_final = NULL, g.dstate_final = NULL, g.dstate0 = NULL;
    if (c->state && K > 1)
        g.state0 = po_ptr(&bs0), g.state_final = po_ptr(&bsf), g.dstate_final = po_ptr(&bdsf);
    g.out = po_ptr(&bout), g.dout = po_ptr(&bdout);
    PO_TRY(conv_fwd_cuda(&g));
    for (int k = 0; k < 2; k++) {
        g.dx = po_ptr(&bdx[k]), g.dweight = po_ptr(&bdw[k]);
        g.dbias = c->bias ? po_ptr(&bdb[k]) : NULL;
        g.dstate0 = c->state && K > 1 ? po_ptr(&bds0[k]) : NULL;
        PO_TRY(conv_bwd_cuda(&g));
    }
    PO_TRY(device_cuda_sync());

    snprintf(what, sizeof what, "%s: out", po_case);
    if (t == DTYPE_F32 && !c->silu)
        po_check_exact(what, &bout, out);
    else
        po_check(what, &bout, out, po_tol(t));
    if (c->state && K > 1) {
        snprintf(what, sizeof what, "%s: state_final", po_case);
        po_check_exact(what, &bsf, sf); // a copy of inputs (bf16 inputs are exact in fp32)
        snprintf(what, sizeof what, "%s: dstate0", po_case);
        po_check(what, &bds0[0], ds0, po_tol(t));
    }
    snprintf(what, sizeof what, "%s: dx", po_case);
    po_check(what, &bdx[0], dx, po_tol(t));
    snprintf(what, sizeof what, "%s: dweight", po_case);
    po_check_bound(what, &bdw[0], dw, bnd_w, 0.0, 1e-10, "1e-5·Σ|terms|");
    if (c->bias) {
        snprintf(what, sizeof what, "%s: dbias", po_case);
        po_check_bound(what, &bdb[0], db, bnd_b, 0.0, 1e-10, "1e-5·Σ|terms|");
    }
    snprintf(what, sizeof what, "%s: backward twice, dx", po_case);
    po_same(what, &bdx[0], &bdx[1]);
    snprintf(what, sizeof what, "%s: backward twice, dweight", po_case);
    po_same(what, &bdw[0], &bdw[1]);
    if (c->bias) {
        snprintf(what, sizeof what, "%s: backward twice, dbias", po_case);
        po_same(what, &bdb[0], &bdb[1]);
    }
    if (c->state && K > 1) {
        snprintf(what, sizeof what, "%s: backward twice, dstate0", po_case);
        po_same(what, &bds0[0], &bds0[1]);
    }
done:
    po_free(&bx), po_free(&bw), po_free(&bb), po_free(&bs0), po_free(&bout), po_free(&bsf);
    po_free(&bdout), po_free(&bdsf);
    for (int k = 0; k < 2; k++)
        po_free(&bdx[k]), po_free(&bdw[k]), po_free(&bdb[k]), po_free(&bds0[k]);
    free(x), free(w), free(bias), free(s0), free(dout), free(dsf), free(dx0), free(dw0);
    free(db0), free(ds00), free(out), free(sf), free(dx), free(dw), free(db), free(ds0);
    free(bnd_w), free(bnd_b), free(reset);
    gc_buf_free(&breset);
}

// conv_step_cuda, token by token, against conv_step_cpu (out of every step, final state).
static void conv_step_case(int64_t B, int64_t D, int64_t K, DType t, uint64_t salt) {
    const int steps = 5;
    const int64_t ns = B * D * (K - 1) > 0 ? B * D * (K - 1) : 1;
    char po_case[128], what[200];
    snprintf(po_case, sizeof po_case, "conv step B=%lld D=%lld K=%lld silu bias %s", (long long)B,
             (long long)D, (long long)K, dtype_name(t));
    GcRng r = gc_rng(salt);
    float *x = po_rand(&r, steps * B * D, -1, 1, t), *w = po_rand(&r, D * K, -1, 1, DTYPE_F32);
    float *bias = po_rand(&r, D, -1, 1, DTYPE_F32), *s = po_rand(&r, ns, -1, 1, t);
    float *out = gc_host(B * D);
    PoBuf bx = {0}, bw = {0}, bb = {0}, bs = {0}, bout = {0};
    ConvArgs a, g;
    int ok = 1;
    PO_TRY(po_in(&bx, x, steps * B * D, t));
    PO_TRY(po_in(&bw, w, D * K, DTYPE_F32));
    PO_TRY(po_in(&bb, bias, D, DTYPE_F32));
    PO_TRY(po_in(&bs, s, ns, DTYPE_F32));
    PO_TRY(po_out(&bout, B * D, t));
    for (int i = 0; i < steps; i++) {
        conv_args_init(&a, B, 1, D, K);
        a.silu = 1, a.x = x + i * B * D, a.weight = w, a.bias = bias, a.state = s, a.out = out;
        PO_TRY(conv_step_cpu(&a));
        g = a;
        g.dtype = t;
        g.x = (const float *)((char *)bx.b.ptr + (size_t)(i * B * D) * dtype_size(t));
        g.weight = po_ptr(&bw), g.bias = po_ptr(&bb), g.state = po_ptr(&bs), g.out = po_ptr(&bout);
        PO_TRY(gc_buf_poison(&bout.b));
        PO_TRY(conv_step_cuda(&g));
        PO_TRY(device_cuda_sync());
        snprintf(what, sizeof what, "%s: out of step %d", po_case, i + 1);
        ok &= po_check(what, &bout, out, po_tol(t));
    }
    snprintf(what, sizeof what, "%s: state after %d steps", po_case, steps);
    po_check_exact(what, &bs, s);
    (void)ok;
done:
    po_free(&bx), po_free(&bw), po_free(&bb), po_free(&bs), po_free(&bout);
    free(x), free(w), free(bias), free(s), free(out);
}

void gpu_parity_conv(void) {
    static const ConvCase cases[] = {
        // B  L        D   K  silu bias state view           dtype    packed
        {1, 1, 40, 4, 1, 1, 1, VIEW_DENSE, DTYPE_F32, 0},
        {2, 2, 40, 2, 0, 1, 1, VIEW_DENSE, DTYPE_F32, 0},
        {2, 3, 37, 4, 1, 1, 1, VIEW_DENSE, DTYPE_F32, 0},
        {1, 1, 8, 1, 0, 1, 0, VIEW_DENSE, DTYPE_F32, 0},
        {3, 127, 40, 3, 0, 1, 1, VIEW_SLICE, DTYPE_F32, 0},
        {3, 127, 37, 4, 1, 0, 0, VIEW_DENSE, DTYPE_F32, 0},
        {2, 4097, 72, 4, 1, 1, 1, VIEW_REVERSED, DTYPE_F32, 0},
        {2, 4097, 40, 4, 0, 0, 1, VIEW_SLICE, DTYPE_F32, 0},
        {1, 4097, 37, 7, 1, 1, 1, VIEW_DENSE, DTYPE_F32, 0},
        {2, 127, 40, 5, 1, 1, 1, VIEW_REVERSED, DTYPE_F32, 0},
        {1, 1000003, 40, 4, 1, 1, 1, VIEW_DENSE, DTYPE_F32, 0},
        {2, 4097, 64, 4, 1, 1, 1, VIEW_DENSE, DTYPE_BF16, 0},
        {3, 127, 37, 4, 1, 1, 1, VIEW_SLICE, DTYPE_BF16, 0},
        {1, 1000003, 40, 4, 1, 1, 1, VIEW_DENSE, DTYPE_BF16, 0},
        // packed sequences: vectorised (D % 4 == 0, K <= 4), generic K, reversed, bf16
        {2, 4097, 72, 4, 1, 1, 1, VIEW_DENSE, DTYPE_F32, 1},
        {3, 127, 37, 3, 0, 1, 1, VIEW_REVERSED, DTYPE_F32, 1},
        {1, 4097, 37, 7, 1, 1, 1, VIEW_SLICE, DTYPE_F32, 1},
        {2, 4097, 64, 4, 1, 1, 1, VIEW_DENSE, DTYPE_BF16, 1},
        {1, 5, 8, 4, 1, 1, 1, VIEW_DENSE, DTYPE_F32, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) conv_case(&cases[i], 200 + i);
    conv_step_case(3, 40, 4, DTYPE_F32, 300);
    conv_step_case(2, 37, 7, DTYPE_F32, 301);
    conv_step_case(3, 40, 4, DTYPE_BF16, 302);

    // invalid arguments come back as the shared check's errors, not a launch
    ConvArgs a;
    conv_args_init(&a, 1, 4, 8, CONV_K_MAX + 1);
    int rc = conv_fwd_cuda(&a);
    gc_report(rc == LS_ERR_RANGE, "conv K > CONV_K_MAX is refused: %s", ls_error_message());
    conv_args_init(&a, 1, 4, 8, 4);
    a.x = (const float *)&a, a.weight = (const float *)&a; // out missing
    rc = conv_fwd_cuda(&a);
    gc_report(rc == LS_ERR_USAGE && strstr(ls_error_message(), "out"),
              "conv without out is refused: %s", ls_error_message());
}
