/*
 * dataset_load.c — load a dataset the way `longscan train` will and print what it holds
 * (test helper and measuring tool; not part of the binary).
 *
 *   dataset_load [--labels TSV] [--class LABEL=SRC]... [--required] [--rate HZ]
 *                [--valid F] [--window W] [--seed N] SRC...
 *
 * Prints one line per label (id, name, examples), a summary line and the split counts
 * (--valid F: a stratified hash split of what has none); with --window, 8 random windows and
 * the evaluation window count.
 * Errors print the single message line and exit 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "io/dataset.h"

static int fail(int status) {
    fprintf(stderr, "dataset_load: %s\n", ls_error_message());
    return status < 0 ? 1 : 0;
}

int main(int argc, char **argv) {
    DatasetOptions opt;
    dataset_options_default(&opt);
    const char *labels = NULL;
    double valid = 0;
    int64_t window = 0;
    uint64_t seed = 1;
    int first_source = argc;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--labels") == 0 && i + 1 < argc) labels = argv[++i];
        else if (strcmp(argv[i], "--required") == 0) opt.labels = DATASET_LABELS_REQUIRED;
        else if (strcmp(argv[i], "--rate") == 0 && i + 1 < argc) opt.sample_rate = atoi(argv[++i]);
        else if (strcmp(argv[i], "--valid") == 0 && i + 1 < argc) valid = atof(argv[++i]);
        else if (strcmp(argv[i], "--window") == 0 && i + 1 < argc) window = atoll(argv[++i]);
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) seed = strtoull(argv[++i], 0, 10);
        else if (strcmp(argv[i], "--class") == 0 && i + 1 < argc) i++; /* second pass */
        else {
            first_source = i;
            break;
        }
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    Dataset *ds = NULL;
    int status = dataset_init(&ds, &opt);
    if (status == 0 && labels) status = dataset_read_labels(ds, labels);
    for (int i = 1; i < first_source && status == 0; i++)
        if (strcmp(argv[i], "--class") == 0) status = dataset_add_class(ds, argv[++i]);
    for (int i = first_source; i < argc && status == 0; i++)
        status = dataset_add(ds, argv[i], NULL, SPLIT_NONE);
    if (status == 0) status = dataset_finish(ds, NULL);
    if (status < 0) {
        dataset_free(ds);
        return fail(status);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    const LabelMap *map = dataset_labels(ds);
    int32_t n_labels = label_map_count(map);
    int64_t *per = calloc((size_t)n_labels + 1, sizeof *per);
    DatasetStats st;
    dataset_stats(ds, NULL, 0, &st, per);
    for (int32_t l = 0; l < n_labels; l++)
        printf("label\t%d\t%s\t%lld\n", l, label_map_name(map, l), (long long)per[l]);
    printf("examples\t%lld\ttotal\t%lld\tmin\t%lld\tmax\t%lld\tunlabelled\t%lld\tkind\t%s\t"
           "rate\t%d\tseconds\t%.3f\n",
           (long long)st.count, (long long)st.total, (long long)st.min_length,
           (long long)st.max_length, (long long)st.unlabelled,
           dataset_kind(ds) == EXAMPLE_AUDIO ? "audio" : "dna", dataset_sample_rate(ds),
           (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    if (valid > 0) {
        SplitOptions so = {.seed = seed, .valid_fraction = valid, .stratify = 1};
        status = dataset_assign_splits(ds, &so);
    }
    for (Split s = SPLIT_NONE; s <= SPLIT_TEST && status == 0; s++) {
        int64_t *idx, n;
        status = dataset_split_indices(ds, s, &idx, &n);
        if (status == 0 && n > 0)
            printf("split\t%s\t%lld\n", dataset_split_name(s), (long long)n);
        free(idx);
    }
    if (status == 0 && window > 0) {
        WindowSampler *ws = NULL;
        status = window_sampler_init(&ws, ds, NULL, 0, window, n_labels > 0, seed);
        if (status == 0) {
            DatasetItem items[8];
            window_sampler_next(ws, items, 8);
            for (int k = 0; k < 8; k++)
                printf("window\t%s\t%lld\t%lld\n", dataset_example(ds, items[k].example)->name,
                       (long long)items[k].offset, (long long)items[k].length);
            window_sampler_free(ws);
        }
        DatasetItem *eval = NULL;
        int64_t n_eval = 0;
        if (status == 0) status = window_eval_items(ds, NULL, 0, window, 0, 0, &eval, &n_eval);
        if (status == 0) printf("eval_windows\t%lld\n", (long long)n_eval);
        free(eval);
    }
    free(per);
    dataset_free(ds);
    return status < 0 ? fail(status) : 0;
}
