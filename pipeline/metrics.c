/*
 * metrics.c — see metrics.h. All sums in double or int64 in a fixed order, so a metric does not
 * depend on batch order or threads. Tested by tests/unit/test_metrics.c.
 */
#include "pipeline/metrics.h"

#include <math.h>
#include <stdlib.h>

int metrics_confusion(int64_t *cm, const int32_t *truth, const int32_t *pred, int64_t n,
                      int32_t K) {
    if (K < 1 || n < 0)
        return ls_error(LS_ERR_USAGE, "confusion matrix: %d classes, %lld examples", K,
                        (long long)n);
    for (int64_t i = 0; i < (int64_t)K * K; i++) cm[i] = 0;
    for (int64_t i = 0; i < n; i++) {
        if (truth[i] < 0 || truth[i] >= K || pred[i] < 0 || pred[i] >= K)
            return ls_error(LS_ERR_RANGE, "confusion matrix: example %lld has class %d / "
                            "prediction %d, outside 0..%d", (long long)i, truth[i], pred[i],
                            K - 1);
        cm[(int64_t)truth[i] * K + pred[i]]++;
    }
    return 0;
}

int32_t metrics_argmax(const float *row, int32_t K) {
    int32_t best = 0;
    for (int32_t k = 1; k < K; k++)
        if (row[k] > row[best] || (isnan(row[best]) && !isnan(row[k]))) best = k;
    return best;
}

int64_t metrics_total(const int64_t *cm, int32_t K) {
    int64_t n = 0;
    for (int64_t i = 0; i < (int64_t)K * K; i++) n += cm[i];
    return n;
}

double metrics_accuracy(const int64_t *cm, int32_t K) {
    int64_t n = metrics_total(cm, K), correct = 0;
    for (int32_t k = 0; k < K; k++) correct += cm[(int64_t)k * K + k];
    return n > 0 ? (double)correct / (double)n : 0.0;
}

/* TP, FP, FN of class c. */
static void class_counts(const int64_t *cm, int32_t K, int32_t c, int64_t *tp, int64_t *fp,
                         int64_t *fn) {
    int64_t row = 0, col = 0;
    for (int32_t k = 0; k < K; k++) {
        row += cm[(int64_t)c * K + k];
        col += cm[(int64_t)k * K + c];
    }
    *tp = cm[(int64_t)c * K + c];
    *fp = col - *tp;
    *fn = row - *tp;
}

void metrics_class_scores(const int64_t *cm, int32_t K, int32_t c, double *precision,
                          double *recall, double *f1, int64_t *support) {
    int64_t tp, fp, fn;
    class_counts(cm, K, c, &tp, &fp, &fn);
    if (precision) *precision = tp + fp > 0 ? (double)tp / (double)(tp + fp) : 0.0;
    if (recall) *recall = tp + fn > 0 ? (double)tp / (double)(tp + fn) : 0.0;
    if (f1) *f1 = 2 * tp + fp + fn > 0 ? 2.0 * (double)tp / (double)(2 * tp + fp + fn) : 0.0;
    if (support) *support = tp + fn;
}

double metrics_macro_f1(const int64_t *cm, int32_t K) {
    double sum = 0;
    int32_t present = 0;
    for (int32_t c = 0; c < K; c++) {
        int64_t tp, fp, fn;
        class_counts(cm, K, c, &tp, &fp, &fn);
        if (tp + fp + fn == 0) continue; /* neither in truth nor in predictions */
        double f1;
        metrics_class_scores(cm, K, c, NULL, NULL, &f1, NULL);
        sum += f1;
        present++;
    }
    return present > 0 ? sum / present : 0.0;
}

double metrics_mcc(const int64_t *cm, int32_t K) {
    double s = 0, c = 0, pt = 0, pp = 0, tt = 0;
    for (int32_t k = 0; k < K; k++) {
        double t_k = 0, p_k = 0;
        for (int32_t j = 0; j < K; j++) {
            t_k += (double)cm[(int64_t)k * K + j];
            p_k += (double)cm[(int64_t)j * K + k];
        }
        s += t_k;
        c += (double)cm[(int64_t)k * K + k];
        pt += p_k * t_k;
        pp += p_k * p_k;
        tt += t_k * t_k;
    }
    double cov_pp = s * s - pp, cov_tt = s * s - tt;
    if (cov_pp * cov_tt == 0) return 0.0;
    return (c * s - pt) / sqrt(cov_tt * cov_pp);
}

typedef struct {
    double  score;
    int32_t positive;
} ScoredExample;

static int compare_score(const void *a, const void *b) {
    double x = ((const ScoredExample *)a)->score, y = ((const ScoredExample *)b)->score;
    return (x > y) - (x < y);
}

int metrics_auroc(double *auc, const double *scores, const int32_t *positive, int64_t n) {
    *auc = NAN;
    if (n < 0) return ls_error(LS_ERR_USAGE, "AUROC: %lld examples", (long long)n);
    int64_t n_pos = 0, n_neg = 0;
    for (int64_t i = 0; i < n; i++) {
        if (isnan(scores[i]))
            return ls_error(LS_ERR_RANGE, "AUROC: score of example %lld is NaN", (long long)i);
        if (positive[i]) n_pos++;
        else n_neg++;
    }
    if (n_pos == 0 || n_neg == 0)
        return ls_error(LS_ERR_RANGE, "AUROC: undefined with %lld positive and %lld negative "
                        "examples (both classes are needed)", (long long)n_pos,
                        (long long)n_neg);
    ScoredExample *sorted = malloc((size_t)n * sizeof *sorted);
    if (!sorted) return ls_error(LS_ERR_NOMEM, "AUROC: out of memory");
    for (int64_t i = 0; i < n; i++) sorted[i] = (ScoredExample){scores[i], positive[i] != 0};
    qsort(sorted, (size_t)n, sizeof *sorted, compare_score);
    /* Ascending scores, one group of equal scores at a time: each positive of the group beats
     * every negative below it and ties with the group's negatives (counted twice, halved at
     * the end, so the sum stays an exact integer). */
    uint64_t twice_wins = 0, neg_below = 0;
    for (int64_t i = 0; i < n;) {
        int64_t j = i;
        uint64_t pos_g = 0, neg_g = 0;
        while (j < n && sorted[j].score == sorted[i].score) {
            if (sorted[j].positive) pos_g++;
            else neg_g++;
            j++;
        }
        twice_wins += 2 * pos_g * neg_below + pos_g * neg_g;
        neg_below += neg_g;
        i = j;
    }
    free(sorted);
    *auc = (double)twice_wins / (2.0 * (double)n_pos * (double)n_neg);
    return 0;
}

double metrics_bits_per_token(const NllSum *sum) {
    return sum->n > 0 ? sum->nats / ((double)sum->n * log(2.0)) : 0.0;
}

double metrics_perplexity(const NllSum *sum) {
    return sum->n > 0 ? exp(sum->nats / (double)sum->n) : 1.0;
}
