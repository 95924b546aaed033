/*
 * test_metrics.c — pipeline/metrics against hand-computed values and scikit-learn 1.x
 * (accuracy_score, f1_score(average='macro'), matthews_corrcoef, roc_auc_score,
 * confusion_matrix); the sklearn numbers were computed once with the calls shown in each case.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/error.h"
#include "pipeline/metrics.h"

#define N_OF(a) ((int64_t)(sizeof(a) / sizeof((a)[0])))

static void expect_close(double got, double want, const char *what) {
    if (fabs(got - want) > 1e-12) {
        print_error("%s: produced %.17g, expected %.17g\n", what, got, want);
        fail();
    }
}

/* Binary, by hand: CM [[3,1],[1,5]]; accuracy 8/10; F1 = 6/8 and 10/12; MCC = 14/24. */
static void test_binary_by_hand(void **state) {
    (void)state;
    const int32_t truth[] = {0, 0, 0, 0, 1, 1, 1, 1, 1, 1};
    const int32_t pred[] = {0, 0, 1, 0, 1, 1, 0, 1, 1, 1};
    int64_t cm[4];
    assert_int_equal(metrics_confusion(cm, truth, pred, N_OF(truth), 2), 0);
    assert_int_equal(cm[0], 3);
    assert_int_equal(cm[1], 1);
    assert_int_equal(cm[2], 1);
    assert_int_equal(cm[3], 5);
    assert_int_equal(metrics_total(cm, 2), 10);
    expect_close(metrics_accuracy(cm, 2), 0.8, "accuracy");
    expect_close(metrics_macro_f1(cm, 2), (0.75 + 10.0 / 12.0) / 2, "macro-F1");
    expect_close(metrics_mcc(cm, 2), 14.0 / 24.0, "MCC");          /* sklearn 0.5833333333333334 */
    /* binary MCC formula (TP·TN − FP·FN) / sqrt(...) with class 1 positive */
    double tp = 5, tn = 3, fp = 1, fn = 1;
    expect_close(metrics_mcc(cm, 2),
                 (tp * tn - fp * fn) / sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)),
                 "binary MCC formula");
    double p, r, f1;
    int64_t support;
    metrics_class_scores(cm, 2, 1, &p, &r, &f1, &support);
    expect_close(p, 5.0 / 6.0, "precision");
    expect_close(r, 5.0 / 6.0, "recall");
    expect_close(f1, 10.0 / 12.0, "F1");
    assert_int_equal(support, 6);
}

/* sklearn docs' multiclass case: y_true [2,0,2,2,0,1], y_pred [0,0,2,2,0,2]. Gorodkin by hand:
 * c = 4, s = 6, t = (2,1,3), p = (3,0,3): (24 − 15) / sqrt((36 − 18)(36 − 14)). */
static void test_multiclass_sklearn(void **state) {
    (void)state;
    const int32_t truth[] = {2, 0, 2, 2, 0, 1};
    const int32_t pred[] = {0, 0, 2, 2, 0, 2};
    const int64_t want_cm[9] = {2, 0, 0, 0, 0, 1, 1, 0, 2}; /* confusion_matrix */
    int64_t cm[9];
    assert_int_equal(metrics_confusion(cm, truth, pred, N_OF(truth), 3), 0);
    for (int i = 0; i < 9; i++) assert_int_equal(cm[i], want_cm[i]);
    expect_close(metrics_accuracy(cm, 3), 4.0 / 6.0, "accuracy");
    expect_close(metrics_macro_f1(cm, 3), 0.48888888888888893, "macro-F1");
    expect_close(metrics_mcc(cm, 3), 9.0 / sqrt(18.0 * 22.0), "MCC by hand");
    expect_close(metrics_mcc(cm, 3), 0.45226701686664544, "MCC sklearn");
}

/* A second multiclass case, values from sklearn. */
static void test_multiclass_second(void **state) {
    (void)state;
    const int32_t truth[] = {0, 1, 2, 0, 1, 2, 0, 1, 2, 0};
    const int32_t pred[] = {0, 2, 1, 0, 0, 1, 0, 1, 2, 2};
    int64_t cm[9];
    assert_int_equal(metrics_confusion(cm, truth, pred, N_OF(truth), 3), 0);
    assert_int_equal(cm[0 * 3 + 0], 3);
    assert_int_equal(cm[0 * 3 + 2], 1);
    assert_int_equal(cm[2 * 3 + 1], 2);
    expect_close(metrics_macro_f1(cm, 3), 0.47222222222222215, "macro-F1");
    expect_close(metrics_mcc(cm, 3), 0.24242424242424243, "MCC");
}

/* A class of the model absent from truth and predictions does not dilute macro-F1 (sklearn
 * with labels=None sees only classes 0..2): K = 4 here, same numbers as with K = 3. */
static void test_absent_class(void **state) {
    (void)state;
    const int32_t truth[] = {0, 1, 2, 0, 1, 2};
    const int32_t pred[] = {0, 1, 1, 0, 2, 2};
    int64_t cm3[9], cm4[16];
    assert_int_equal(metrics_confusion(cm3, truth, pred, N_OF(truth), 3), 0);
    assert_int_equal(metrics_confusion(cm4, truth, pred, N_OF(truth), 4), 0);
    expect_close(metrics_macro_f1(cm4, 4), 0.6666666666666666, "macro-F1, K = 4");
    expect_close(metrics_macro_f1(cm3, 3), metrics_macro_f1(cm4, 4), "macro-F1, K = 3 vs 4");
    expect_close(metrics_mcc(cm4, 4), 0.5, "MCC");
}

/* Degenerate cases: one predicted class → MCC 0 (sklearn); empty sets → 0. */
static void test_degenerate(void **state) {
    (void)state;
    const int32_t truth[] = {0, 1, 1, 0};
    const int32_t pred[] = {1, 1, 1, 1};
    int64_t cm[4];
    assert_int_equal(metrics_confusion(cm, truth, pred, N_OF(truth), 2), 0);
    expect_close(metrics_mcc(cm, 2), 0.0, "MCC with one predicted class");
    expect_close(metrics_macro_f1(cm, 2), 1.0 / 3.0, "macro-F1");  /* sklearn 0.333… */
    assert_int_equal(metrics_confusion(cm, truth, pred, 0, 2), 0);
    expect_close(metrics_accuracy(cm, 2), 0.0, "empty accuracy");
    expect_close(metrics_macro_f1(cm, 2), 0.0, "empty macro-F1");
    expect_close(metrics_mcc(cm, 2), 0.0, "empty MCC");
    /* perfect and inverted predictions */
    const int32_t inv[] = {1, 0, 0, 1};
    assert_int_equal(metrics_confusion(cm, truth, truth, 4, 2), 0);
    expect_close(metrics_mcc(cm, 2), 1.0, "perfect MCC");
    assert_int_equal(metrics_confusion(cm, truth, inv, 4, 2), 0);
    expect_close(metrics_mcc(cm, 2), -1.0, "inverted MCC");
}

static void test_confusion_errors(void **state) {
    (void)state;
    const int32_t truth[] = {0, 3};
    const int32_t pred[] = {0, 1};
    int64_t cm[9];
    assert_int_equal(metrics_confusion(cm, truth, pred, 2, 3), LS_ERR_RANGE);
    assert_int_equal(metrics_confusion(cm, truth, pred, 2, 0), LS_ERR_USAGE);
    assert_int_equal(metrics_confusion(cm, truth, pred, -1, 3), LS_ERR_USAGE);
}

/* AUROC with ties. By hand: positives 0.35 0.8 0.4 0.9, negatives 0.1 0.4 0.4 0.2;
 * wins 2 + 4 + (2 + ½·2) + 4 = 13 of 16 (sklearn roc_auc_score: 0.8125). */
static void test_auroc(void **state) {
    (void)state;
    const double s[] = {0.1, 0.4, 0.35, 0.8, 0.4, 0.4, 0.9, 0.2};
    const int32_t t[] = {0, 0, 1, 1, 1, 0, 1, 0};
    double auc;
    assert_int_equal(metrics_auroc(&auc, s, t, N_OF(s)), 0);
    expect_close(auc, 0.8125, "AUROC with ties");
    const double same[] = {0.5, 0.5, 0.5, 0.5};
    const int32_t t2[] = {0, 1, 0, 1};
    assert_int_equal(metrics_auroc(&auc, same, t2, 4), 0);
    expect_close(auc, 0.5, "AUROC all tied");
    const double sep[] = {0.9, 0.1, 0.8, 0.2};
    const int32_t t3[] = {1, 0, 1, 0};
    assert_int_equal(metrics_auroc(&auc, sep, t3, 4), 0);
    expect_close(auc, 1.0, "AUROC separated");
    const int32_t flipped[] = {0, 1, 0, 1};
    assert_int_equal(metrics_auroc(&auc, sep, flipped, 4), 0);
    expect_close(auc, 0.0, "AUROC reversed");
    /* nonzero truth counts as positive */
    const int32_t t4[] = {7, 0, 7, 0};
    assert_int_equal(metrics_auroc(&auc, sep, t4, 4), 0);
    expect_close(auc, 1.0, "AUROC, positive = nonzero");
}

static void test_auroc_undefined(void **state) {
    (void)state;
    const double s[] = {0.1, 0.2, 0.3};
    const int32_t all_neg[] = {0, 0, 0};
    double auc = 0;
    assert_int_equal(metrics_auroc(&auc, s, all_neg, 3), LS_ERR_RANGE);
    assert_true(isnan(auc));
    const double with_nan[] = {0.1, NAN};
    const int32_t t[] = {0, 1};
    assert_int_equal(metrics_auroc(&auc, with_nan, t, 2), LS_ERR_RANGE);
}

static void test_argmax(void **state) {
    (void)state;
    const float a[] = {0.1f, 0.7f, 0.7f, 0.2f};
    assert_int_equal(metrics_argmax(a, 4), 1); /* first of the ties, as numpy */
    const float b[] = {NAN, 0.3f, 0.1f};
    assert_int_equal(metrics_argmax(b, 3), 1);
    const float c[] = {-3.0f};
    assert_int_equal(metrics_argmax(c, 1), 0);
}

/* 2 bits per token ⇔ nats = 2·ln 2 per token; perplexity 4. */
static void test_nll(void **state) {
    (void)state;
    NllSum sum = {.nats = 10 * 2 * log(2.0), .n = 10};
    expect_close(metrics_bits_per_token(&sum), 2.0, "bits per token");
    assert_true(fabs(metrics_perplexity(&sum) - 4.0) < 1e-12);
    NllSum none = {0};
    expect_close(metrics_bits_per_token(&none), 0.0, "no tokens");
    expect_close(metrics_perplexity(&none), 1.0, "no tokens perplexity");
}

int main(void) {
    cmocka_set_message_output(CM_OUTPUT_TAP);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binary_by_hand),
        cmocka_unit_test(test_multiclass_sklearn),
        cmocka_unit_test(test_multiclass_second),
        cmocka_unit_test(test_absent_class),
        cmocka_unit_test(test_degenerate),
        cmocka_unit_test(test_confusion_errors),
        cmocka_unit_test(test_auroc),
        cmocka_unit_test(test_auroc_undefined),
        cmocka_unit_test(test_argmax),
        cmocka_unit_test(test_nll),
    };
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
