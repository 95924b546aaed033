/*
 * sampler.c — temperature and top-p sampling of the next token; the rule is in sampler.h.
 * Tested by tests/unit/test_sampler.c.
 */
#include "pipeline/sampler.h"

#include <math.h>
#include <stdlib.h>

struct Sampler {
    SamplerOptions opt;
    int64_t V;
    double *p;     /* (V) probabilities */
    int32_t *order; /* (V) ids by decreasing probability (top-p) */
};

int sampler_init(Sampler **out, const SamplerOptions *opt, int64_t V) {
    *out = NULL;
    if (!(opt->temperature >= 0.0) || !isfinite(opt->temperature))
        return ls_error(LS_ERR_USAGE, "--temperature %g: must be >= 0 (0: the most likely "
                        "token)", opt->temperature);
    if (!(opt->top_p > 0.0 && opt->top_p <= 1.0))
        return ls_error(LS_ERR_USAGE, "--top-p %g: must be in (0, 1]", opt->top_p);
    if (V < 1 || V > INT32_MAX)
        return ls_error(LS_ERR_USAGE, "sampler: vocabulary of %lld ids", (long long)V);
    Sampler *s = calloc(1, sizeof *s);
    if (s) {
        s->p = malloc((size_t)V * sizeof *s->p);
        s->order = malloc((size_t)V * sizeof *s->order);
    }
    if (!s || !s->p || !s->order) {
        sampler_free(s);
        return ls_error(LS_ERR_NOMEM, "sampler: out of memory for %lld ids", (long long)V);
    }
    s->opt = *opt;
    s->V = V;
    *out = s;
    return 0;
}

void sampler_free(Sampler *s) {
    if (!s) return;
    free(s->p);
    free(s->order);
    free(s);
}

// qsort has no context argument: the probabilities being sorted are passed through this.
static _Thread_local const double *sort_p;

static int by_probability(const void *a, const void *b) {
    const int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
    if (sort_p[i] != sort_p[j]) return sort_p[i] > sort_p[j] ? -1 : 1;
    return (i > j) - (i < j); /* ties: smaller id first */
}

int64_t sampler_draw(Sampler *s, const float *logits, Rng *rng) {
    const int64_t V = s->V;
    int64_t best = 0;
    for (int64_t v = 0; v < V; v++) {
        if (!isfinite(logits[v]))
            return ls_error(LS_ERR_RANGE, "the model's logit for id %lld is %g; cannot sample",
                            (long long)v, (double)logits[v]);
        if (logits[v] > logits[best]) best = v;
    }
    if (s->opt.temperature == 0.0) return best;
    const double max = logits[best], inv_t = 1.0 / s->opt.temperature;
    double total = 0.0;
    for (int64_t v = 0; v < V; v++) { // d = 0 kept apart: 0 · inf is NaN for a tiny T
        const double d = (double)logits[v] - max;
        total += s->p[v] = d == 0.0 ? 1.0 : exp(d * inv_t);
    }
    const double u = rng_uniform(rng);
    if (s->opt.top_p >= 1.0) {
        double target = u * total, acc = 0.0;
        for (int64_t v = 0; v < V; v++)
            if ((acc += s->p[v]) > target) return v;
        return best; /* rounding left the target at the very top: the likeliest id */
    }
    for (int64_t v = 0; v < V; v++) s->order[v] = (int32_t)v;
    sort_p = s->p;
    qsort(s->order, (size_t)V, sizeof *s->order, by_probability);
    double need = s->opt.top_p * total, kept = 0.0;
    int64_t n_kept = 0;
    while (n_kept < V && (n_kept == 0 || kept < need)) kept += s->p[s->order[n_kept++]];
    double target = u * kept, acc = 0.0;
    for (int64_t k = 0; k < n_kept; k++)
        if ((acc += s->p[s->order[k]]) > target) return s->order[k];
    return s->order[0];
}
