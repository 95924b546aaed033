/*
 * test_norm.c — kernels/norm.h on the CPU: RMSNorm and LayerNorm forward against a double
 * reference (odd D, rows with a large mean), saved statistics, backward of x, w, b against
 * central finite differences in double (D across the 64-column reduction blocks),
 * accumulation, determinism across thread counts, invalid arguments.
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
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests_name("norm", tests, NULL, NULL);
}
