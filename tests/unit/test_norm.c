/*
 * test_norm.c — kernels/norm.h on the CPU: RMSNorm and LayerNorm forward against a double
 * reference (odd D, rows with a large mean), saved statistics, backward of x, w, b against
 * central finite differences in double (D across the 64-column reduction blocks),
 * accumulation, determinism across thread counts, invalid arguments; the residual-fused form
 * (NormArgs): the same bytes as the plain functions on h = x + residual, gradients of x,
 * residual, w, b against finite differences with a gradient arriving at residual_out too.
 * Tolerances: forward |y − ref| <= 1e-5 + 1e-5·|ref|; statistics <= 1e-6 relative;
 * gradients |g − fd| <= 1e-4·max(1, |fd|).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <omp.h>

#include "kernels/norm.h"
#include "tests/kernel_check.h"

enum { KIND_RMS, KIND_LAYER };

typedef struct {
    int kind;
    int64_t M, D;
    double eps;
    double *x, *w, *b; /* (M, D), (D), (D) or NULL */
    double *wout;      /* (M, D) */
} NormRef;

/* y, and per-row mean / rstd (mean = 0 for RMSNorm), in double */
static void norm_ref(const NormRef *r, double *y, double *mean, double *rstd) {
    for (int64_t m = 0; m < r->M; m++) {
        const double *x = r->x + m * r->D;
        double mu = 0.0, var = 0.0;
        if (r->kind == KIND_LAYER) {
            for (int64_t d = 0; d < r->D; d++) mu += x[d];
            mu /= (double)r->D;
        }
        for (int64_t d = 0; d < r->D; d++) var += (x[d] - mu) * (x[d] - mu);
        double rs = 1.0 / sqrt(var / (double)r->D + r->eps);
        for (int64_t d = 0; d < r->D; d++)
            y[m * r->D + d] = (x[d] - mu) * rs * r->w[d] + (r->b ? r->b[d] : 0.0);
        if (mean) mean[m] = mu;
        if (rstd) rstd[m] = rs;
    }
}

static double norm_loss(void *ctx) {
    NormRef *r = ctx;
    double *y = kc_doubles(r->M * r->D);
    norm_ref(r, y, NULL, NULL);
    double loss = kc_dot(r->wout, y, r->M * r->D);
    free(y);
    return loss;
}

static void check_forward(int kind, int64_t M, int64_t D, double offset, int with_bias,
                          uint64_t stream) {
    KcRng rng = kc_rng(stream);
    float *x = kc_rand_floats(&rng, M * D, offset - 2, offset + 2);
    float *w = kc_rand_floats(&rng, D, 0.5, 1.5);
    float *b = with_bias ? kc_rand_floats(&rng, D, -1, 1) : NULL;
    float *y = kc_floats(M * D), *mean = kc_floats(M), *rstd = kc_floats(M);
    const float eps = 1e-5f;
    if (kind == KIND_RMS)
        assert_int_equal(norm_rms_fwd_cpu(y, rstd, x, w, M, D, eps), 0);
    else
        assert_int_equal(norm_layer_fwd_cpu(y, mean, rstd, x, w, b, M, D, eps), 0);

    NormRef r = {kind, M, D, eps, kc_to_double(x, M * D), kc_to_double(w, D),
                 b ? kc_to_double(b, D) : NULL, NULL};
    double *ref = kc_doubles(M * D), *ref_mean = kc_doubles(M), *ref_rstd = kc_doubles(M);
    norm_ref(&r, ref, ref_mean, ref_rstd);
    double worst = kc_check_close("y", y, ref, M * D, 1e-5, 1e-5);
    kc_check_close("rstd", rstd, ref_rstd, M, 0, 1e-6);
    if (kind == KIND_LAYER) kc_check_close("mean", mean, ref_mean, M, 1e-6, 1e-6);
    printf("# %s fwd M=%lld D=%lld offset=%g: max |diff| %.2g\n",
           kind == KIND_RMS ? "rmsnorm" : "layernorm", (long long)M, (long long)D, offset, worst);

    /* rstd / mean are optional in the forward and do not change y */
    float *y2 = kc_floats(M * D);
    if (kind == KIND_RMS)
        assert_int_equal(norm_rms_fwd_cpu(y2, NULL, x, w, M, D, eps), 0);
    else
        assert_int_equal(norm_layer_fwd_cpu(y2, NULL, NULL, x, w, b, M, D, eps), 0);
    kc_check_same("y without saved stats", y2, y, M * D);
    free(x), free(w), free(b), free(y), free(y2), free(mean), free(rstd);
    free(ref), free(ref_mean), free(ref_rstd), free(r.x), free(r.w), free(r.b);
}

static void test_forward(void **state) {
    (void)state;
    check_forward(KIND_RMS, 6, 37, 0.0, 0, 1);
    check_forward(KIND_RMS, 3, 130, 3.0, 0, 2);
    check_forward(KIND_LAYER, 6, 37, 0.0, 1, 3);
    check_forward(KIND_LAYER, 5, 130, 50.0, 1, 4); /* large mean: two-pass variance */
    check_forward(KIND_LAYER, 4, 1, 0.0, 0, 5);    /* D = 1: y = b */
}

static void check_backward(int kind, int64_t M, int64_t D, int with_bias, uint64_t stream) {
    KcRng rng = kc_rng(stream);
    float *x = kc_rand_floats(&rng, M * D, -2, 2);
    float *w = kc_rand_floats(&rng, D, 0.5, 1.5);
    float *b = with_bias ? kc_rand_floats(&rng, D, -1, 1) : NULL;
    float *dy = kc_rand_floats(&rng, M * D, -1, 1);
    float *y = kc_floats(M * D), *mean = kc_floats(M), *rstd = kc_floats(M);
    float *dx = kc_floats(M * D), *dw = kc_floats(D), *db = kc_floats(D);
    const float eps = 1e-5f;
    if (kind == KIND_RMS) {
        assert_int_equal(norm_rms_fwd_cpu(y, rstd, x, w, M, D, eps), 0);
        assert_int_equal(norm_rms_bwd_cpu(dx, dw, dy, x, w, rstd, M, D), 0);
    } else {
        assert_int_equal(norm_layer_fwd_cpu(y, mean, rstd, x, w, b, M, D, eps), 0);
        assert_int_equal(norm_layer_bwd_cpu(dx, dw, with_bias ? db : NULL, dy, x, w, mean, rstd,
                                            M, D), 0);
    }
    NormRef r = {kind, M, D, eps, kc_to_double(x, M * D), kc_to_double(w, D),
                 b ? kc_to_double(b, D) : NULL, kc_to_double(dy, M * D)};
    double worst = kc_check_grad("x", r.x, M * D, norm_loss, &r, dx, 1e-4);
    worst = fmax(worst, kc_check_grad("w", r.w, D, norm_loss, &r, dw, 1e-4));
    if (b) worst = fmax(worst, kc_check_grad("b", r.b, D, norm_loss, &r, db, 1e-4));
    printf("# %s bwd M=%lld D=%lld: worst rel err vs FD %.2g\n",
           kind == KIND_RMS ? "rmsnorm" : "layernorm", (long long)M, (long long)D, worst);
    free(x), free(w), free(b), free(dy), free(y), free(mean), free(rstd), free(dx), free(dw);
    free(db), free(r.x), free(r.w), free(r.b), free(r.wout);
}

static void test_backward_fd(void **state) {
    (void)state;
    check_backward(KIND_RMS, 3, 5, 0, 10);
    check_backward(KIND_RMS, 4, 70, 0, 11);
    check_backward(KIND_LAYER, 3, 5, 1, 12);
    check_backward(KIND_LAYER, 4, 70, 1, 13);
    check_backward(KIND_LAYER, 2, 9, 0, 14);
}

/* run one backward (kind) into zeroed buffers */
static void run_bwd(int kind, float *dx, float *dw, float *db, const float *dy, const float *x,
                    const float *w, const float *mean, const float *rstd, int64_t M, int64_t D) {
    if (kind == KIND_RMS)
        assert_int_equal(norm_rms_bwd_cpu(dx, dw, dy, x, w, rstd, M, D), 0);
    else
        assert_int_equal(norm_layer_bwd_cpu(dx, dw, db, dy, x, w, mean, rstd, M, D), 0);
}

static void test_accumulate_and_determinism(void **state) {
    (void)state;
    const int64_t M = 301, D = 131;
    for (int kind = KIND_RMS; kind <= KIND_LAYER; kind++) {
        KcRng rng = kc_rng(20 + kind);
        float *x = kc_rand_floats(&rng, M * D, -2, 2), *w = kc_rand_floats(&rng, D, 0.5, 1.5);
        float *dy = kc_rand_floats(&rng, M * D, -1, 1);
        float *y = kc_floats(M * D), *mean = kc_floats(M), *rstd = kc_floats(M);
        if (kind == KIND_RMS)
            assert_int_equal(norm_rms_fwd_cpu(y, rstd, x, w, M, D, 1e-5f), 0);
        else
            assert_int_equal(norm_layer_fwd_cpu(y, mean, rstd, x, w, NULL, M, D, 1e-5f), 0);
        int saved = omp_get_max_threads();
        float *g1[3], *g2[3];
        for (int t = 0; t < 2; t++) {
            float **g = t ? g2 : g1;
            g[0] = kc_floats(M * D), g[1] = kc_floats(D), g[2] = kc_floats(D);
            omp_set_num_threads(t + 1);
            run_bwd(kind, g[0], g[1], g[2], dy, x, w, mean, rstd, M, D);
        }
        omp_set_num_threads(saved);
        kc_check_same("dx 1 vs 2 threads", g1[0], g2[0], M * D);
        kc_check_same("dw 1 vs 2 threads", g1[1], g2[1], D);
        kc_check_same("db 1 vs 2 threads", g1[2], g2[2], D);
        /* a second call doubles every gradient: x + x = 2x exactly */
        run_bwd(kind, g1[0], g1[1], g1[2], dy, x, w, mean, rstd, M, D);
        for (int64_t i = 0; i < M * D; i++) g2[0][i] *= 2.0f;
        for (int64_t i = 0; i < D; i++) g2[1][i] *= 2.0f, g2[2][i] *= 2.0f;
        kc_check_same("dx after 2 calls", g1[0], g2[0], M * D);
        kc_check_same("dw after 2 calls", g1[1], g2[1], D);
        kc_check_same("db after 2 calls", g1[2], g2[2], D);
        free(x), free(w), free(dy), free(y), free(mean), free(rstd);
        for (int i = 0; i < 3; i++) free(g1[i]), free(g2[i]);
    }
}

// ----------------------------------------------------------------------------- fused form

static void run_fused_fwd(int kind, float *y, float *res_out, float *mean, float *rstd,
                          const float *x, const float *res, const float *w, const float *b,
                          int64_t M, int64_t D) {
    NormArgs a;
    norm_args_init(&a, kind == KIND_RMS ? NORM_RMS : NORM_LAYER, M, D, 1e-5f);
    a.x = x, a.residual = res, a.w = w, a.b = b, a.y = y, a.residual_out = res_out;
    a.mean = kind == KIND_LAYER ? mean : NULL, a.rstd = rstd;
    assert_int_equal(norm_fwd_cpu(&a), 0);
}

static void run_fused_bwd(int kind, float *dx, float *dres, float *dw, float *db,
                          const float *dy, const float *dres_out, const float *h, const float *w,
                          const float *mean, const float *rstd, int64_t M, int64_t D) {
    NormArgs a;
    norm_args_init(&a, kind == KIND_RMS ? NORM_RMS : NORM_LAYER, M, D, 1e-5f);
    a.h = h, a.w = w, a.rstd = (float *)rstd; /* read by the backward */
    a.mean = kind == KIND_LAYER ? (float *)mean : NULL;
    a.dy = dy, a.dresidual_out = dres_out, a.dx = dx, a.dresidual = dres, a.dw = dw;
    a.db = kind == KIND_LAYER ? db : NULL;
    assert_int_equal(norm_bwd_cpu(&a), 0);
}

/* The fused form is the plain form applied to h = x + residual, to the byte. */
static void test_fused_matches_plain(void **state) {
    (void)state;
    const int64_t M = 37, D = 133;
    for (int kind = KIND_RMS; kind <= KIND_LAYER; kind++) {
        for (int with_res = 0; with_res < 2; with_res++) {
            KcRng rng = kc_rng(40 + 2 * kind + with_res);
            float *x = kc_rand_floats(&rng, M * D, -2, 2), *w = kc_rand_floats(&rng, D, 0.5, 1.5);
            float *res = with_res ? kc_rand_floats(&rng, M * D, -1, 3) : NULL;
            float *b = kind == KIND_LAYER ? kc_rand_floats(&rng, D, -1, 1) : NULL;
            float *dy = kc_rand_floats(&rng, M * D, -1, 1);
            float *h = kc_floats(M * D);
            for (int64_t i = 0; i < M * D; i++) h[i] = res ? x[i] + res[i] : x[i];
            /* plain on h */
            float *y0 = kc_floats(M * D), *mean0 = kc_floats(M), *rstd0 = kc_floats(M);
            float *dx0 = kc_floats(M * D), *dw0 = kc_floats(D), *db0 = kc_floats(D);
            if (kind == KIND_RMS) {
                assert_int_equal(norm_rms_fwd_cpu(y0, rstd0, h, w, M, D, 1e-5f), 0);
                assert_int_equal(norm_rms_bwd_cpu(dx0, dw0, dy, h, w, rstd0, M, D), 0);
            } else {
                assert_int_equal(norm_layer_fwd_cpu(y0, mean0, rstd0, h, w, b, M, D, 1e-5f), 0);
                assert_int_equal(norm_layer_bwd_cpu(dx0, dw0, db0, dy, h, w, mean0, rstd0, M, D),
                                 0);
            }
            /* fused */
            float *y1 = kc_floats(M * D), *ro = kc_floats(M * D), *mean1 = kc_floats(M);
            float *rstd1 = kc_floats(M), *dx1 = kc_floats(M * D), *dr1 = kc_floats(M * D);
            float *dw1 = kc_floats(D), *db1 = kc_floats(D);
            run_fused_fwd(kind, y1, ro, mean1, rstd1, x, res, w, b, M, D);
            run_fused_bwd(kind, dx1, dr1, dw1, db1, dy, NULL, ro, w, mean1, rstd1, M, D);
            kc_check_same("fused y", y1, y0, M * D);
            kc_check_same("fused residual_out", ro, h, M * D);
            kc_check_same("fused rstd", rstd1, rstd0, M);
            if (kind == KIND_LAYER) kc_check_same("fused mean", mean1, mean0, M);
            kc_check_same("fused dx", dx1, dx0, M * D);
            kc_check_same("fused dresidual", dr1, dx0, M * D);
            kc_check_same("fused dw", dw1, dw0, D);
            if (kind == KIND_LAYER) kc_check_same("fused db", db1, db0, D);
            printf("# fused %s, residual %s: bit-identical to the plain form on x + residual\n",
                   kind == KIND_RMS ? "rmsnorm" : "layernorm", with_res ? "yes" : "no");
            free(x), free(w), free(res), free(b), free(dy), free(h), free(y0), free(mean0);
            free(rstd0), free(dx0), free(dw0), free(db0), free(y1), free(ro), free(mean1);
            free(rstd1), free(dx1), free(dr1), free(dw1), free(db1);
        }
    }
}

typedef struct {
    NormRef r;        /* r.x is h, rebuilt from x + res before each evaluation */
    double *x, *res;  /* (M, D) each */
    double *wres;     /* (M, D) loss weights of residual_out */
} FusedRef;

/* loss = Σ wout·norm(x + res) + Σ wres·(x + res), in double */
static double fused_loss(void *ctx) {
    FusedRef *f = ctx;
    int64_t n = f->r.M * f->r.D;
    for (int64_t i = 0; i < n; i++) f->r.x[i] = f->x[i] + f->res[i];
    return norm_loss(&f->r) + kc_dot(f->wres, f->r.x, n);
}

static void check_fused_fd(int kind, int64_t M, int64_t D, uint64_t stream) {
    KcRng rng = kc_rng(stream);
    float *x = kc_rand_floats(&rng, M * D, -2, 2), *res = kc_rand_floats(&rng, M * D, -1, 1);
    float *w = kc_rand_floats(&rng, D, 0.5, 1.5);
    float *b = kind == KIND_LAYER ? kc_rand_floats(&rng, D, -1, 1) : NULL;
    float *dy = kc_rand_floats(&rng, M * D, -1, 1), *dro = kc_rand_floats(&rng, M * D, -1, 1);
    float *y = kc_floats(M * D), *ro = kc_floats(M * D), *mean = kc_floats(M);
    float *rstd = kc_floats(M), *dx = kc_floats(M * D), *dr = kc_floats(M * D);
    float *dw = kc_floats(D), *db = kc_floats(D);
    run_fused_fwd(kind, y, ro, mean, rstd, x, res, w, b, M, D);
    run_fused_bwd(kind, dx, dr, dw, db, dy, dro, ro, w, mean, rstd, M, D);

    FusedRef f = {{kind, M, D, 1e-5, kc_doubles(M * D), kc_to_double(w, D),
                   b ? kc_to_double(b, D) : NULL, kc_to_double(dy, M * D)},
                  kc_to_double(x, M * D), kc_to_double(res, M * D), kc_to_double(dro, M * D)};
    double worst = kc_check_grad("x", f.x, M * D, fused_loss, &f, dx, 1e-4);
    worst = fmax(worst, kc_check_grad("residual", f.res, M * D, fused_loss, &f, dr, 1e-4));
    worst = fmax(worst, kc_check_grad("w", f.r.w, D, fused_loss, &f, dw, 1e-4));
    if (b) worst = fmax(worst, kc_check_grad("b", f.r.b, D, fused_loss, &f, db, 1e-4));
    printf("# fused %s bwd M=%lld D=%lld: worst rel err vs FD %.2g\n",
           kind == KIND_RMS ? "rmsnorm" : "layernorm", (long long)M, (long long)D, worst);
    free(x), free(res), free(w), free(b), free(dy), free(dro), free(y), free(ro), free(mean);
    free(rstd), free(dx), free(dr), free(dw), free(db);
    free(f.r.x), free(f.r.w), free(f.r.b), free(f.r.wout), free(f.x), free(f.res), free(f.wres);
}

static void test_fused_fd(void **state) {
    (void)state;
    check_fused_fd(KIND_RMS, 3, 5, 50);
    check_fused_fd(KIND_RMS, 4, 70, 51);
    check_fused_fd(KIND_LAYER, 3, 5, 52);
    check_fused_fd(KIND_LAYER, 4, 70, 53);
}

static void test_fused_invalid(void **state) {
    (void)state;
    float a[16] = {0}, b[16] = {0}, c[16] = {0}, s[4] = {0};
    NormArgs n;
    norm_args_init(&n, NORM_RMS, 4, 4, 1e-5f);
    n.x = a, n.w = b, n.y = c;
    assert_int_equal(norm_fwd_cpu(&n), 0);
    n.b = b; /* bias is LayerNorm's */
    assert_int_equal(norm_fwd_cpu(&n), LS_ERR_USAGE);
    assert_non_null(strstr(ls_error_message(), "LayerNorm only"));
    n.b = NULL, n.kind = (NormKind)7;
    assert_int_equal(norm_fwd_cpu(&n), LS_ERR_USAGE);
    n.kind = NORM_LAYER, n.mean = s; /* mean without rstd */
    assert_int_equal(norm_fwd_cpu(&n), LS_ERR_USAGE);
    n.mean = NULL, n.dtype = DTYPE_BF16; /* the CPU computes fp32 */
    assert_int_equal(norm_fwd_cpu(&n), LS_ERR_UNSUPPORTED);
    n.dtype = DTYPE_F32, n.eps = -1.0f;
    assert_int_equal(norm_fwd_cpu(&n), LS_ERR_USAGE);
    norm_args_init(&n, NORM_LAYER, 4, 4, 1e-5f);
    n.h = a, n.w = b, n.rstd = s, n.dy = a, n.dx = c; /* LayerNorm backward needs mean */
    assert_int_equal(norm_bwd_cpu(&n), LS_ERR_USAGE);
    assert_non_null(strstr(ls_error_message(), "mean"));
    n.kind = NORM_RMS, n.dx = NULL; /* no gradient asked for */
    assert_int_equal(norm_bwd_cpu(&n), LS_ERR_USAGE);
    n.db = c; /* db is LayerNorm's */
    assert_int_equal(norm_bwd_cpu(&n), LS_ERR_USAGE);
    norm_args_init(&n, NORM_RMS, -1, 4, 1e-5f);
    n.x = a, n.w = b, n.y = c;
    assert_int_equal(norm_fwd_cpu(&n), LS_ERR_USAGE);
    assert_non_null(strstr(ls_error_message(), "M=-1"));
}

static void test_invalid(void **state) {
    (void)state;
    float a[16] = {0}, b[16] = {0}, c[16] = {0}, s[4] = {0}, t[4] = {0};
    assert_int_equal(norm_rms_fwd_cpu(c, s, a, b, -1, 4, 1e-5f), LS_ERR_USAGE);
    assert_non_null(strstr(ls_error_message(), "M=-1"));
    assert_int_equal(norm_rms_fwd_cpu(c, s, a, b, 4, 0, 1e-5f), LS_ERR_USAGE);
    assert_int_equal(norm_rms_fwd_cpu(c, s, a, NULL, 4, 4, 1e-5f), LS_ERR_USAGE);
    assert_int_equal(norm_rms_fwd_cpu(c, s, a, b, 4, 4, -1.0f), LS_ERR_USAGE);
    assert_int_equal(norm_rms_fwd_cpu(c, s, a, b, 4, 4, NAN), LS_ERR_USAGE);
    assert_int_equal(norm_rms_bwd_cpu(c, NULL, a, b, b, NULL, 4, 4), LS_ERR_USAGE);
    assert_int_equal(norm_layer_fwd_cpu(c, s, NULL, a, b, NULL, 4, 4, 1e-5f), LS_ERR_USAGE);
    assert_int_equal(norm_layer_fwd_cpu(c, s, t, a, b, NULL, 4, 0, 1e-5f), LS_ERR_USAGE);
    assert_int_equal(norm_layer_bwd_cpu(c, NULL, NULL, a, b, b, NULL, t, 4, 4), LS_ERR_USAGE);
    assert_int_equal(norm_layer_fwd_cpu(c, s, t, a, b, NULL, 0, 4, 1e-5f), 0); /* M = 0 */
}

int main(void) {
    kc_seed("test_norm");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward),
        cmocka_unit_test(test_backward_fd),
        cmocka_unit_test(test_accumulate_and_determinism),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_fused_matches_plain),
        cmocka_unit_test(test_fused_fd),
        cmocka_unit_test(test_fused_invalid),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests_name("norm", tests, NULL, NULL);
}
