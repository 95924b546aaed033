/*
 * window.c — windows of long examples (dataset.h): the random WindowSampler for training and
 * deterministic evaluation windows.
 *
 * Sampling. Candidates (examples at least one window long) are grouped — one group, or one
 * per label when balanced — and each group keeps cumulative window counts
 * cum[k] = Σ_{j<=k} (length_j − window + 1) as uint64. One draw r uniform in [0, total) picks
 * the window: the example is the first k with cum[k] > r (binary search), the offset
 * r − cum[k−1]. So every window of the group is equally likely and a draw costs one (two when
 * balanced: the group first) rng_below call; the sampler's only state is its Rng.
 *
 * Tested by tests/unit/test_dataset.c (bounds, uniformity and balance over many draws,
 * determinism, state save/restore).
 */
#include "io/dataset.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"

struct WindowSampler {
    int64_t   window;
    Rng       rng;
    int64_t   n;            /* candidates */
    int64_t  *examples;     /* (n) example indices, grouped */
    uint64_t *cum;          /* (n) cumulative window counts within the group */
    int32_t   n_groups;
    int64_t  *group_start;  /* (n_groups + 1) */
};

void window_sampler_free(WindowSampler *s) {
    if (!s) return;
    free(s->examples);
    free(s->cum);
    free(s->group_start);
    free(s);
}

Rng *window_sampler_rng(WindowSampler *s) { return &s->rng; }
int64_t window_sampler_count(const WindowSampler *s) { return s->n; }

/* Index of the longest example among idx[0..n) (NULL: all), for messages. */
static int64_t longest_example(const Dataset *ds, const int64_t *idx, int64_t n, int32_t label,
                               int any_label) {
    int64_t best = -1;
    for (int64_t k = 0; k < n; k++) {
        int64_t i = idx ? idx[k] : k;
        const Example *ex = dataset_example(ds, i);
        if (!any_label && ex->label != label) continue;
        if (best < 0 || ex->length > dataset_example(ds, best)->length) best = i;
    }
    return best;
}

int window_sampler_init(WindowSampler **out, const Dataset *ds, const int64_t *idx, int64_t n,
                        int64_t window, int balanced, uint64_t seed) {
    *out = NULL;
    if (!idx) n = dataset_count(ds);
    if (window < 1) return ls_error(LS_ERR_USAGE, "window length %lld: must be >= 1",
                                    (long long)window);
    if (n < 1) return ls_error(LS_ERR_USAGE, "window sampler: no examples to draw from");
    int32_t n_labels = label_map_count(dataset_labels(ds));
    int64_t *per_label = NULL, *has_label = NULL;
    WindowSampler *s = calloc(1, sizeof *s);
    int status = 0;
    if (!s) return ls_error(LS_ERR_NOMEM, "window sampler: out of memory");
    s->window = window;
    rng_seed(&s->rng, seed);
    s->n_groups = balanced ? n_labels : 1;
    s->examples = malloc((size_t)n * sizeof *s->examples);
    s->cum = malloc((size_t)n * sizeof *s->cum);
    s->group_start = calloc((size_t)s->n_groups + 1, sizeof *s->group_start);
    per_label = calloc((size_t)s->n_groups + 1, sizeof *per_label);
    has_label = calloc((size_t)s->n_groups + 1, sizeof *has_label);
    if (!s->examples || !s->cum || !s->group_start || !per_label || !has_label) {
        status = ls_error(LS_ERR_NOMEM, "window sampler: out of memory");
        goto fail;
    }
    /* candidates per group (counting sort keeps the example order within a group) */
    int64_t short_ones = 0;
    for (int64_t k = 0; k < n; k++) {
        const Example *ex = dataset_example(ds, idx ? idx[k] : k);
        if (balanced && ex->label < 0) {
            status = ls_error(LS_ERR_USAGE, "%s: '%s' has no label; label-balanced windows need "
                              "every example labelled", ex->source, ex->name);
            goto fail;
        }
        int32_t g = balanced ? ex->label : 0;
        has_label[g] = 1;
        if (ex->length >= window) per_label[g]++;
        else short_ones++;
    }
    for (int32_t g = 0; g < s->n_groups; g++)
        s->group_start[g + 1] = s->group_start[g] + per_label[g];
    s->n = s->group_start[s->n_groups];
    if (s->n == 0) {
        const Example *ex = dataset_example(ds, longest_example(ds, idx, n, 0, 1));
        status = ls_error(LS_ERR_RANGE, "window of %lld is longer than every example (longest: "
                          "%lld, '%s' from %s)", (long long)window, (long long)ex->length,
                          ex->name, ex->source);
        goto fail;
    }
    for (int32_t g = 0; g < s->n_groups; g++) {
        if (has_label[g] && per_label[g] == 0) {
            const Example *ex = dataset_example(ds, longest_example(ds, idx, n, g, 0));
            status = ls_error(LS_ERR_RANGE, "label '%s': window of %lld is longer than each of "
                              "its examples (longest: %lld, '%s' from %s)",
                              label_map_name(dataset_labels(ds), g), (long long)window,
                              (long long)ex->length, ex->name, ex->source);
            goto fail;
        }
    }
    /* re-drop labels absent from these examples: groups with no candidates are never drawn */
    int32_t kept_groups = 0;
    for (int32_t g = 0; g < s->n_groups; g++) per_label[g] = 0;
    for (int64_t k = 0; k < n; k++) {
        const Example *ex = dataset_example(ds, idx ? idx[k] : k);
        if (ex->length < window) continue;
        int32_t g = balanced ? ex->label : 0;
        int64_t at = s->group_start[g] + per_label[g]++;
        s->examples[at] = idx ? idx[k] : k;
        uint64_t w = (uint64_t)(ex->length - window + 1);
        s->cum[at] = (at > s->group_start[g] ? s->cum[at - 1] : 0) + w;
    }
    for (int32_t g = 0; g < s->n_groups; g++) {
        if (per_label[g] == 0) continue;
        s->group_start[kept_groups] = s->group_start[g];
        kept_groups++;
    }
    s->group_start[kept_groups] = s->n;
    s->n_groups = kept_groups;
    if (short_ones > 0)
        ls_log_warn("%lld of %lld examples are shorter than the window of %lld and are not "
                    "sampled", (long long)short_ones, (long long)n, (long long)window);
    free(per_label);
    free(has_label);
    *out = s;
    return 0;
fail:
    free(per_label);
    free(has_label);
    window_sampler_free(s);
    return status;
}

void window_sampler_next(WindowSampler *s, DatasetItem *items, int64_t n) {
    for (int64_t t = 0; t < n; t++) {
        int32_t g = s->n_groups > 1 ? (int32_t)rng_below(&s->rng, (uint64_t)s->n_groups) : 0;
        int64_t lo = s->group_start[g], hi = s->group_start[g + 1] - 1;
        uint64_t r = rng_below(&s->rng, s->cum[hi]);
        while (lo < hi) { /* first k with cum[k] > r */
            int64_t mid = lo + (hi - lo) / 2;
            if (s->cum[mid] > r) hi = mid;
            else lo = mid + 1;
        }
        uint64_t before = lo > s->group_start[g] ? s->cum[lo - 1] : 0;
        items[t] = (DatasetItem){s->examples[lo], (int64_t)(r - before), s->window};
    }
}

int window_eval_items(const Dataset *ds, const int64_t *idx, int64_t n, int64_t window,
                      int64_t stride, int64_t max_per_example, DatasetItem **items,
                      int64_t *n_items) {
    *items = NULL;
    *n_items = 0;
    if (!idx) n = dataset_count(ds);
    if (window < 1) return ls_error(LS_ERR_USAGE, "window length %lld: must be >= 1",
                                    (long long)window);
    if (stride <= 0) stride = window;
    /* count first, then fill */
    int64_t total = 0, short_ones = 0;
    for (int64_t k = 0; k < n; k++) {
        int64_t len = dataset_example(ds, idx ? idx[k] : k)->length;
        if (len < window) {
            short_ones++;
            continue;
        }
        int64_t count = (len - window) / stride + 1;
        if (max_per_example > 0 && count > max_per_example) count = max_per_example;
        total += count;
    }
    if (total == 0) {
        if (n == 0) return 0;
        const Example *ex = dataset_example(ds, longest_example(ds, idx, n, 0, 1));
        return ls_error(LS_ERR_RANGE, "window of %lld is longer than every example (longest: "
                        "%lld, '%s' from %s)", (long long)window, (long long)ex->length,
                        ex->name, ex->source);
    }
    DatasetItem *out = malloc((size_t)total * sizeof *out);
    if (!out) return ls_error(LS_ERR_NOMEM, "evaluation windows: out of memory");
    int64_t t = 0;
    for (int64_t k = 0; k < n; k++) {
        int64_t i = idx ? idx[k] : k;
        int64_t len = dataset_example(ds, i)->length;
        if (len < window) continue;
        int64_t count = (len - window) / stride + 1;
        if (max_per_example > 0 && count > max_per_example) {
            int64_t m = max_per_example, span = len - window;
            for (int64_t j = 0; j < m; j++) {
                /* evenly spread, first at 0 and last at the end; a single one centred */
                int64_t off = m == 1 ? span / 2
                                     : (int64_t)(__extension__(__int128)j * span / (m - 1));
                out[t++] = (DatasetItem){i, off, window};
            }
        } else {
            for (int64_t j = 0; j < count; j++) out[t++] = (DatasetItem){i, j * stride, window};
        }
    }
    if (short_ones > 0)
        ls_log_warn("%lld of %lld examples are shorter than the window of %lld and are left out",
                    (long long)short_ones, (long long)n, (long long)window);
    *items = out;
    *n_items = total;
    return 0;
}
