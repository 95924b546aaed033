/*
 * test_optim.c — kernels/optim.h on the CPU: AdamW against a hand-computed first step and
 * against torch.optim.AdamW's formulas evaluated in double over several steps (changing lr
 * and gradients, decay and no-decay tensors, gaps in the buffer left untouched); the decay
 * flag alone (zero gradients); gradient norm against a double sum and bit-identical for 1
 * and 2 threads; clipping scales exactly; the schedule at warm-up start and end, middle and
 * end; invalid arguments.
 * Tolerances: parameters after 4 steps |p − ref| <= 1e-6 + 1e-6·|ref|; norm 1e-12 relative;
 * schedule 1e-15 relative.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <omp.h>

#include "kernels/optim.h"
#include "tests/kernel_check.h"

static const AdamWConfig torch_defaults = {0.9, 0.999, 1e-8, 0.01};

static void test_adamw_hand_value(void **state) {
    (void)state;
    /* p = 1, g = 0.5, lr = 0.1, t = 1: decay 1 → 0.999; m = 0.05, v = 0.00025,
     * m̂ = 0.5, √v̂ = 0.5: p = 0.999 − 0.1·0.5/(0.5 + 1e-8) = 0.899 */
    float p = 1.0f, m = 0.0f, v = 0.0f, g = 0.5f;
    OptimTensor t = {0, 1, 1};
    assert_int_equal(optim_adamw_step_cpu(&p, &m, &v, &g, &t, 1, &torch_defaults, 1, 0.1, 1.0f),
                     0);
    assert_true(fabs(p - 0.899) < 1e-6);
    assert_true(fabs(m - 0.05) < 0.05 * 1e-7 && fabs(v - 0.00025) < 0.00025 * 1e-6);
}

/* torch.optim.AdamW, one element, in double */
static void adamw_ref(double *p, double *m, double *v, double g, double lr, double wd,
                      const AdamWConfig *c, int64_t t) {
    *p *= 1.0 - lr * wd;
    *m = c->beta1 * *m + (1.0 - c->beta1) * g;
    *v = c->beta2 * *v + (1.0 - c->beta2) * g * g;
    double step_size = lr / (1.0 - pow(c->beta1, (double)t));
    double denom = sqrt(*v) / sqrt(1.0 - pow(c->beta2, (double)t)) + c->eps;
    *p -= step_size * *m / denom;
}

static void test_adamw_steps(void **state) {
    (void)state;
    /* buffer of 16: tensor 0 at [0, 5) decayed, gap [5, 8), tensor 1 at [8, 12) not decayed,
     * tensor 2 empty at 12, tail [12, 16) unused */
    const int64_t n = 16;
    const OptimTensor table[3] = {{0, 5, 1}, {8, 4, 0}, {12, 0, 1}};
    const AdamWConfig cfg = {0.8, 0.95, 1e-6, 0.1};
    KcRng rng = kc_rng(1);
    float *p = kc_rand_floats(&rng, n, -1, 1), *m = kc_floats(n), *v = kc_floats(n);
    float *g = kc_floats(n);
    double *pr = kc_to_double(p, n), *mr = kc_doubles(n), *vr = kc_doubles(n);
    float gap_p[16];
    memcpy(gap_p, p, sizeof gap_p);
    for (int64_t t = 1; t <= 4; t++) {
        double lr = 0.01 * (double)t;
        for (int64_t i = 0; i < n; i++) g[i] = (float)kc_uniform(&rng, -2, 2);
        assert_int_equal(optim_adamw_step_cpu(p, m, v, g, table, 3, &cfg, t, lr, 1.0f), 0);
        for (int k = 0; k < 2; k++)
            for (int64_t i = table[k].offset; i < table[k].offset + table[k].numel; i++)
                adamw_ref(&pr[i], &mr[i], &vr[i], g[i], lr, table[k].decay ? cfg.weight_decay : 0,
                          &cfg, t);
    }
    double worst = kc_check_close("params", p, pr, n, 1e-6, 1e-6);
    kc_check_close("m", m, mr, n, 1e-6, 1e-6);
    kc_check_close("v", v, vr, n, 1e-6, 1e-6);
    for (int64_t i = 5; i < 8; i++) assert_true(p[i] == gap_p[i] && m[i] == 0.0f && v[i] == 0.0f);
    for (int64_t i = 12; i < 16; i++) assert_true(p[i] == gap_p[i]);
    printf("# adamw 4 steps vs double torch formulas: max |diff| %.2g\n", worst);
    free(p), free(m), free(v), free(g), free(pr), free(mr), free(vr);
}

/* with zero gradients and zero moments the Adam term is 0/(0 + eps) = 0: only decay acts */
static void test_adamw_decay_flag(void **state) {
    (void)state;
    float p[6] = {1, -2, 3, 1, -2, 3}, m[6] = {0}, v[6] = {0}, g[6] = {0};
    const OptimTensor table[2] = {{0, 3, 1}, {3, 3, 0}};
    const double lr = 0.5;
    assert_int_equal(optim_adamw_step_cpu(p, m, v, g, table, 2, &torch_defaults, 1, lr, 1.0f), 0);
    float factor = (float)(1.0 - lr * 0.01);
    assert_true(p[0] == 1.0f * factor && p[1] == -2.0f * factor && p[2] == 3.0f * factor);
    assert_true(p[3] == 1.0f && p[4] == -2.0f && p[5] == 3.0f);
}

static void test_grad_norm_and_clip(void **state) {
    (void)state;
    const int64_t n = 300016;
    const OptimTensor table[3] = {{0, 100003, 1}, {100008, 5, 0}, {100016, 200000, 1}};
    KcRng rng = kc_rng(2);
    float *g = kc_rand_floats(&rng, n, -1, 1);
    for (int64_t i = 100003; i < 100008; i++) g[i] = 1e6f; /* gaps are not part of the norm */
    for (int64_t i = 100013; i < 100016; i++) g[i] = 1e6f;
    double ref = 0.0;
    for (int k = 0; k < 3; k++)
        for (int64_t i = table[k].offset; i < table[k].offset + table[k].numel; i++)
            ref += (double)g[i] * g[i];
    ref = sqrt(ref);
    double norm[2];
    int saved = omp_get_max_threads();
    for (int t = 0; t < 2; t++) {
        omp_set_num_threads(t + 1);
        assert_int_equal(optim_grad_norm_cpu(&norm[t], g, table, 3), 0);
    }
    omp_set_num_threads(saved);
    if (memcmp(&norm[0], &norm[1], sizeof(double)) != 0)
        fail_msg("grad norm differs between 1 and 2 threads: %.17g vs %.17g", norm[0], norm[1]);
    if (!(fabs(norm[0] - ref) <= 1e-12 * ref))
        fail_msg("grad norm %.17g, expected %.17g", norm[0], ref);

    /* clipping: factor = max/(norm + 1e-6); the scaled gradients have norm max_norm */
    const double max_norm = 1.0;
    float scale = optim_clip_scale(norm[0], max_norm);
    assert_true(scale == (float)(max_norm / (norm[0] + 1e-6)));
    for (int64_t i = 0; i < n; i++) g[i] *= scale;
    double clipped;
    assert_int_equal(optim_grad_norm_cpu(&clipped, g, table, 3), 0);
    if (!(fabs(clipped - max_norm) <= 1e-6))
        fail_msg("norm after clipping %.9g, expected %.9g", clipped, max_norm);
    assert_true(optim_clip_scale(0.5, 1.0) == 1.0f);   /* below max: untouched */
    assert_true(optim_clip_scale(100.0, 0.0) == 1.0f); /* disabled */
    assert_true(isnan(optim_clip_scale(NAN, 1.0)));
    free(g);

    /* the step's grad_scale is exactly the in-place multiply of clip_grad_norm_ */
    KcRng r2 = kc_rng(3);
    float *p1 = kc_rand_floats(&r2, 64, -1, 1), *gg = kc_rand_floats(&r2, 64, -3, 3);
    float *p2 = kc_copy_floats(p1, 64), *gs = kc_copy_floats(gg, 64);
    float *m1 = kc_floats(64), *v1 = kc_floats(64), *m2 = kc_floats(64), *v2 = kc_floats(64);
    const OptimTensor all = {0, 64, 1};
    const float s = 0.37f;
    for (int64_t i = 0; i < 64; i++) gs[i] *= s;
    assert_int_equal(optim_adamw_step_cpu(p1, m1, v1, gg, &all, 1, &torch_defaults, 3, 1e-3, s), 0);
    assert_int_equal(optim_adamw_step_cpu(p2, m2, v2, gs, &all, 1, &torch_defaults, 3, 1e-3, 1.0f),
                     0);
    kc_check_same("params, grad_scale vs pre-scaled grads", p1, p2, 64);
    kc_check_same("v, grad_scale vs pre-scaled grads", v1, v2, 64);
    assert_int_equal(optim_adamw_step_cpu(p1, m1, v1, gg, &all, 1, &torch_defaults, 4, 1e-3, NAN),
                     LS_ERR_RANGE);
    kc_check_same("params untouched after a refused step", p1, p2, 64);
    free(p1), free(p2), free(gg), free(gs), free(m1), free(v1), free(m2), free(v2);
}

static void expect_lr(int64_t t, int64_t warmup, int64_t total, double want) {
    double got = optim_lr_schedule(t, warmup, total, 1e-3, 1e-5);
    if (!(fabs(got - want) <= 1e-15 * fabs(want) + 1e-20))
        fail_msg("lr(t=%lld, warmup=%lld, total=%lld) = %.17g, expected %.17g", (long long)t,
                 (long long)warmup, (long long)total, got, want);
}

static void test_schedule(void **state) {
    (void)state;
    expect_lr(1, 10, 110, 1e-4);              /* warm-up start: lr_max/warmup */
    expect_lr(0, 10, 110, 1e-4);              /* t < 1 is taken as 1 */
    expect_lr(5, 10, 110, 5e-4);
    expect_lr(10, 10, 110, 1e-3);             /* warm-up end: lr_max */
    expect_lr(60, 10, 110, (1e-3 + 1e-5) / 2); /* middle of the cosine */
    expect_lr(35, 10, 110, 1e-5 + 0.5 * (1e-3 - 1e-5) * (1 + cos(M_PI * 0.25)));
    expect_lr(110, 10, 110, 1e-5);            /* end: lr_min */
    expect_lr(1000, 10, 110, 1e-5);
    expect_lr(50, 0, 100, (1e-3 + 1e-5) / 2); /* no warm-up */
    expect_lr(11, 10, 10, 1e-5);              /* total <= warmup */
}

static void test_invalid(void **state) {
    (void)state;
    float p[4] = {1, 2, 3, 4}, m[4] = {0}, v[4] = {0}, g[4] = {1, 1, 1, 1};
    OptimTensor ok = {0, 4, 1}, overlap[2] = {{0, 3, 1}, {2, 2, 0}}, neg = {0, -1, 0};
    AdamWConfig bad = torch_defaults;
    double norm;
    assert_int_equal(optim_adamw_step_cpu(p, m, v, g, &ok, 1, &torch_defaults, 0, 1e-3, 1.0f),
                     LS_ERR_USAGE);
    assert_non_null(strstr(ls_error_message(), "step=0"));
    assert_int_equal(optim_adamw_step_cpu(p, m, v, g, &ok, 1, &torch_defaults, 1, -1.0, 1.0f),
                     LS_ERR_USAGE);
    bad.beta1 = 1.0;
    assert_int_equal(optim_adamw_step_cpu(p, m, v, g, &ok, 1, &bad, 1, 1e-3, 1.0f), LS_ERR_USAGE);
    bad = torch_defaults, bad.eps = -1.0;
    assert_int_equal(optim_adamw_step_cpu(p, m, v, g, &ok, 1, &bad, 1, 1e-3, 1.0f), LS_ERR_USAGE);
    assert_int_equal(optim_adamw_step_cpu(p, m, v, g, overlap, 2, &torch_defaults, 1, 1e-3, 1.0f),
                     LS_ERR_USAGE);
    assert_non_null(strstr(ls_error_message(), "tensor 1"));
    assert_int_equal(optim_grad_norm_cpu(&norm, g, &neg, 1), LS_ERR_USAGE);
    assert_int_equal(optim_grad_norm_cpu(&norm, g, &ok, -1), LS_ERR_USAGE);
    assert_int_equal(optim_grad_norm_cpu(NULL, g, &ok, 1), LS_ERR_USAGE);
    assert_int_equal(optim_adamw_step_cpu(p, NULL, v, g, &ok, 1, &torch_defaults, 1, 1e-3, 1.0f),
                     LS_ERR_USAGE);
    assert_true(p[0] == 1.0f && p[3] == 4.0f && m[0] == 0.0f); /* nothing updated */
    assert_int_equal(optim_grad_norm_cpu(&norm, NULL, NULL, 0), 0);
    assert_true(norm == 0.0);
}

int main(void) {
    kc_seed("test_optim");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adamw_hand_value),
        cmocka_unit_test(test_adamw_steps),
        cmocka_unit_test(test_adamw_decay_flag),
        cmocka_unit_test(test_grad_norm_and_clip),
        cmocka_unit_test(test_schedule),
        cmocka_unit_test(test_invalid),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests_name("optim", tests, NULL, NULL);
}
