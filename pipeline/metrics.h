/*
 * metrics.h — evaluation metrics of `longscan eval` and `longscan train`'s validation, as pure
 * functions over whole evaluation sets (never averaged per batch).
 *
 * Classification works from a K×K confusion matrix cm[t·K + p] = number of examples of true
 * class t predicted as p (rows: truth, columns: prediction; sklearn's confusion_matrix order).
 * Every formula is the one scikit-learn uses, so numbers match it:
 *   accuracy  = trace / n                                  (accuracy_score)
 *   F1 of c   = 2·TP / (2·TP + FP + FN), 0 when that is 0/0 (f1_score, zero_division=0)
 *   macro-F1  = mean F1 over the classes present in the truth or the predictions
 *               (f1_score(average='macro') with labels=None); a class the model never
 *               predicts and the data never holds does not dilute it
 *   MCC       = Gorodkin's R_K (matthews_corrcoef), for two or more classes:
 *               (c·s − Σ_k p_k t_k) / sqrt((s² − Σ p_k²)(s² − Σ t_k²)),
 *               c = trace, s = n, t_k = true count, p_k = predicted count; 0 when the
 *               denominator is 0.
 *               For K = 2 it equals the binary (TP·TN − FP·FN)/sqrt(...) formula.
 *   AUROC     = probability that a random positive scores above a random negative, ties
 *               counting one half (the Mann–Whitney U / midrank form; equal to
 *               roc_auc_score's trapezoidal area, ties included). Computed exactly from
 *               integer counts over score groups.
 * Language models: negative log-likelihood summed in double over every predicted token;
 * bits per token = Σ nats / (n · ln 2), perplexity = exp(Σ nats / n) = 2^bits.
 *
 * Tested by tests/unit/test_metrics.c (hand-computed cases and values from scikit-learn 1.x).
 */
#ifndef LS_METRICS_H
#define LS_METRICS_H

#include <stdint.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Count pairs into @p cm (K×K, overwritten).
 * @param truth, pred  (n) class ids in [0, K)
 * @return 0, LS_ERR_USAGE (K < 1, n < 0), LS_ERR_RANGE (an id outside [0, K), named by index).
 */
int metrics_confusion(int64_t *cm, const int32_t *truth, const int32_t *pred, int64_t n,
                      int32_t K) LS_RESULT_USED;

/** Index of the largest of @p row[0..K) (the first on ties, as numpy.argmax; NaN never wins). */
int32_t metrics_argmax(const float *row, int32_t K);

/** Number of examples (sum of cm). */
int64_t metrics_total(const int64_t *cm, int32_t K);

/** trace / n; 0 for an empty matrix. */
double metrics_accuracy(const int64_t *cm, int32_t K);

/**
 * One class's precision TP/(TP+FP), recall TP/(TP+FN), F1 and support (true count), each 0
 * when its denominator is 0. Any output pointer may be NULL.
 */
void metrics_class_scores(const int64_t *cm, int32_t K, int32_t c, double *precision,
                          double *recall, double *f1, int64_t *support);

/** Macro-F1 over the classes present in truth or prediction; 0 for an empty matrix. */
double metrics_macro_f1(const int64_t *cm, int32_t K);

/** Matthews correlation (Gorodkin's R_K for K > 2), in [-1, 1]; 0 when undefined. */
double metrics_mcc(const int64_t *cm, int32_t K);

/**
 * Area under the ROC curve of @p scores for the binary truth @p positive (nonzero = positive).
 * @return 0 and *auc; LS_ERR_RANGE when one of the two classes is absent (AUROC undefined;
 *         *auc set to NaN) or a score is NaN; LS_ERR_NOMEM; LS_ERR_USAGE (n < 0).
 */
int metrics_auroc(double *auc, const double *scores, const int32_t *positive,
                  int64_t n) LS_RESULT_USED;

/** Sum of negative log-likelihoods (nats) over n predicted tokens. */
typedef struct {
    double  nats;
    int64_t n;
} NllSum;

/** Σ nats / (n · ln 2); 0 when n is 0. */
double metrics_bits_per_token(const NllSum *sum);
/** exp(Σ nats / n); 1 when n is 0. */
double metrics_perplexity(const NllSum *sum);

#ifdef __cplusplus
}
#endif
#endif
