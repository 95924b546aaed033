/*
 * test_loss.c — kernels/loss.h on the CPU: cross-entropy with ignored rows and per-row
 * weights against a double reference, dlogits against central finite differences of
 * grad_scale·mean_loss in double, hand-computed values (incl. logits of 1000), all rows
 * ignored, accumulation, bit-identical mean and dlogits for 1 and 2 threads, invalid targets
 * and weights with nothing written.
 * Tolerances: row_loss and mean |diff| <= 1e-6 + 1e-6·|ref|; dlogits |g − fd| <=
 * 1e-5·max(1, |fd|).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <omp.h>

#include "kernels/loss.h"
#include "tests/kernel_check.h"

typedef struct {
    int64_t M, V;
    const int32_t *targets;
    const float *weights;
    double grad_scale;
    double *logits; /* (M, V) */
} LossRef;

/* mean loss in double; row losses into rows if given */
static double loss_ref(const LossRef *r, double *rows) {
    double total = 0.0, wsum = 0.0;
    for (int64_t m = 0; m < r->M; m++) {
        double row = 0.0;
        if (r->targets[m] != LOSS_IGNORE_INDEX) {
            const double *z = r->logits + m * r->V;
            double mx = z[0], sum = 0.0;
            for (int64_t j = 1; j < r->V; j++) mx = fmax(mx, z[j]);
            for (int64_t j = 0; j < r->V; j++) sum += exp(z[j] - mx);
            row = mx + log(sum) - z[r->targets[m]];
            double w = r->weights ? r->weights[m] : 1.0;
            total += w * row;
            wsum += w;
        }
        if (rows) rows[m] = row;
    }
    return wsum > 0 ? total / wsum : 0.0;
}

static double loss_fd_fn(void *ctx) {
    LossRef *r = ctx;
    return r->grad_scale * loss_ref(r, NULL);
}

static void check_case(int64_t M, int64_t V, int n_ignored, int with_weights, float grad_scale,
                       double spread, uint64_t stream) {
    KcRng rng = kc_rng(stream);
    float *logits = kc_rand_floats(&rng, M * V, -spread, spread);
    int32_t *targets = calloc((size_t)M, sizeof(int32_t));
    assert_non_null(targets);
    for (int64_t m = 0; m < M; m++) {
        int ignore = m % 3 == 1 && n_ignored-- > 0;
        targets[m] = ignore ? LOSS_IGNORE_INDEX : (int32_t)kc_int(&rng, 0, V - 1);
    }
    float *weights = with_weights ? kc_rand_floats(&rng, M, 0, 2) : NULL;
    if (weights) weights[0] = 0.0f; /* a counted row of weight 0 */
    float *rows = kc_floats(M), *dlogits = kc_floats(M * V);
    double mean = -1.0;
    assert_int_equal(loss_xent_cpu(&mean, rows, dlogits, logits, targets, weights, M, V,
                                   grad_scale), 0);

    LossRef r = {M, V, targets, weights, grad_scale, kc_to_double(logits, M * V)};
    double *ref_rows = kc_doubles(M);
    double ref_mean = loss_ref(&r, ref_rows);
    kc_check_close("row_loss", rows, ref_rows, M, 1e-6, 1e-6);
    if (!(fabs(mean - ref_mean) <= 1e-6 + 1e-6 * fabs(ref_mean)))
        fail_msg("mean loss %.12g, expected %.12g", mean, ref_mean);
    double worst = kc_check_grad("logits", r.logits, M * V, loss_fd_fn, &r, dlogits, 1e-5);
    printf("# xent M=%lld V=%lld weights=%d scale=%g: mean %.6f (ref %.6f), grad worst rel err "
           "vs FD %.2g\n", (long long)M, (long long)V, with_weights, grad_scale, mean, ref_mean,
           worst);

    /* forward only leaves no trace on dlogits and gives the same loss bits */
    double mean2;
    float *rows2 = kc_floats(M);
    assert_int_equal(loss_xent_cpu(&mean2, rows2, NULL, logits, targets, weights, M, V, 1.0f), 0);
    assert_true(mean2 == mean);
    kc_check_same("row_loss without dlogits", rows2, rows, M);
    free(logits), free(targets), free(weights), free(rows), free(rows2), free(dlogits);
    free(r.logits), free(ref_rows);
}

static void test_against_reference(void **state) {
    (void)state;
    check_case(7, 5, 2, 1, 1.0f, 3.0, 1);
    check_case(9, 3, 1, 0, 0.5f, 3.0, 2);
    check_case(6, 300, 0, 0, 1.0f, 8.0, 3);
    check_case(4, 1, 1, 1, 1.0f, 3.0, 4); /* V = 1: loss 0, gradient 0 */
    check_case(5, 4, 0, 1, 2.0f, 40.0, 5); /* large logits */
}

static void test_hand_values(void **state) {
    (void)state;
    float logits[9] = {0, 0, 1, 2, 3, 1000, 0, 0, 0};
    int32_t targets[3] = {0, 2, LOSS_IGNORE_INDEX};
    float rows[3];
    double mean;
    /* rows (0,0)→0 and (1,2,3)→2, rows of 2 and 3 classes: use V = 2 then V = 3 views */
    assert_int_equal(loss_xent_cpu(&mean, rows, NULL, logits, targets, NULL, 1, 2, 1.0f), 0);
    assert_true(fabs(mean - log(2.0)) < 1e-7);
    assert_int_equal(loss_xent_cpu(&mean, rows, NULL, logits + 2, targets + 1, NULL, 1, 3, 1.0f),
                     0);
    double want = log(exp(1.0) + exp(2.0) + exp(3.0)) - 3.0;
    assert_true(fabs(mean - want) < 1e-6);
    int32_t t1000[2] = {1, 0};
    float dl[4] = {0};
    assert_int_equal(loss_xent_cpu(&mean, rows, dl, logits + 5, t1000, NULL, 2, 2, 1.0f), 0);
    /* row 0: logits (1000, 0), target 1 → 1000; row 1: (0, 0) → log 2; mean of both */
    assert_true(fabs(rows[0] - 1000.0f) < 1e-3);
    assert_true(fabs(mean - (1000.0 + log(2.0)) / 2.0) < 1e-4);
    assert_true(fabs(dl[0] - 0.5f) < 1e-7 && fabs(dl[1] + 0.5f) < 1e-7);
    assert_true(fabs(dl[2] + 0.25f) < 1e-7 && fabs(dl[3] - 0.25f) < 1e-7);

    /* every row ignored: mean 0, dlogits untouched */
    int32_t ign[3] = {LOSS_IGNORE_INDEX, LOSS_IGNORE_INDEX, LOSS_IGNORE_INDEX};
    float d6[6] = {0};
    assert_int_equal(loss_xent_cpu(&mean, rows, d6, logits, ign, NULL, 3, 2, 1.0f), 0);
    assert_true(mean == 0.0);
    kc_check_all("dlogits with all rows ignored", d6, 6, 0.0f);
    kc_check_all("row_loss with all rows ignored", rows, 3, 0.0f);
}

static void test_accumulate_and_determinism(void **state) {
    (void)state;
    const int64_t M = 301, V = 17;
    KcRng rng = kc_rng(20);
    float *logits = kc_rand_floats(&rng, M * V, -4, 4), *weights = kc_rand_floats(&rng, M, 0, 1);
    int32_t *targets = calloc((size_t)M, sizeof(int32_t));
    assert_non_null(targets);
    for (int64_t m = 0; m < M; m++)
        targets[m] = m % 7 == 0 ? LOSS_IGNORE_INDEX : (int32_t)kc_int(&rng, 0, V - 1);
    float *rows[2], *dl[2];
    double mean[2];
    int saved = omp_get_max_threads();
    for (int t = 0; t < 2; t++) {
        rows[t] = kc_floats(M), dl[t] = kc_floats(M * V);
        omp_set_num_threads(t + 1);
        assert_int_equal(loss_xent_cpu(&mean[t], rows[t], dl[t], logits, targets, weights, M, V,
                                       1.0f), 0);
    }
    omp_set_num_threads(saved);
    if (memcmp(&mean[0], &mean[1], sizeof(double)) != 0)
        fail_msg("mean loss differs between 1 and 2 threads: %.17g vs %.17g", mean[0], mean[1]);
    kc_check_same("row_loss 1 vs 2 threads", rows[0], rows[1], M);
    kc_check_same("dlogits 1 vs 2 threads", dl[0], dl[1], M * V);
    assert_int_equal(loss_xent_cpu(&mean[1], rows[1], dl[1], logits, targets, weights, M, V, 1.0f),
                     0);
    for (int64_t i = 0; i < M * V; i++) dl[0][i] *= 2.0f;
    kc_check_same("dlogits after 2 calls", dl[1], dl[0], M * V);
    free(logits), free(weights), free(targets);
    for (int t = 0; t < 2; t++) free(rows[t]), free(dl[t]);
}

static void test_invalid(void **state) {
    (void)state;
    float logits[6] = {0}, rows[2] = {7, 7}, dl[6] = {0}, w[2] = {1, -1};
    int32_t t[2] = {0, 3};
    double mean = 42.0;
    assert_int_equal(loss_xent_cpu(&mean, rows, dl, logits, t, NULL, 2, 3, 1.0f), LS_ERR_RANGE);
    assert_non_null(strstr(ls_error_message(), "targets[1]=3"));
    assert_true(mean == 42.0 && rows[0] == 7.0f);
    t[1] = -1;
    assert_int_equal(loss_xent_cpu(&mean, rows, dl, logits, t, NULL, 2, 3, 1.0f), LS_ERR_RANGE);
    t[1] = 1;
    assert_int_equal(loss_xent_cpu(&mean, rows, dl, logits, t, w, 2, 3, 1.0f), LS_ERR_RANGE);
    assert_non_null(strstr(ls_error_message(), "weights[1]"));
    w[1] = NAN;
    assert_int_equal(loss_xent_cpu(&mean, rows, dl, logits, t, w, 2, 3, 1.0f), LS_ERR_RANGE);
    kc_check_all("dlogits untouched", dl, 6, 0.0f);
    assert_int_equal(loss_xent_cpu(&mean, rows, dl, logits, t, NULL, -1, 3, 1.0f), LS_ERR_USAGE);
    assert_int_equal(loss_xent_cpu(&mean, rows, dl, logits, t, NULL, 2, 0, 1.0f), LS_ERR_USAGE);
    assert_int_equal(loss_xent_cpu(NULL, rows, dl, logits, t, NULL, 2, 3, 1.0f), LS_ERR_USAGE);
    assert_int_equal(loss_xent_cpu(&mean, NULL, dl, logits, t, NULL, 2, 3, 1.0f), LS_ERR_USAGE);
    assert_int_equal(loss_xent_cpu(&mean, NULL, NULL, NULL, NULL, NULL, 0, 3, 1.0f), 0);
    assert_true(mean == 0.0);
}

int main(void) {
    kc_seed("test_loss");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_reference),
        cmocka_unit_test(test_hand_values),
        cmocka_unit_test(test_accumulate_and_determinism),
        cmocka_unit_test(test_invalid),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests_name("loss", tests, NULL, NULL);
}
