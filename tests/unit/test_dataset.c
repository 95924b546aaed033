/*
 * test_dataset.c — datasets (io/dataset.h), labels (io/labels.h) and the generator (io/rng.h).
 *
 * Pure parts first (generator reference values, label tables and maps, split hashing, window
 * sampling and batching over in-memory examples), then loading through the readers: the
 * fixtures in tests/data/dataset/ (a small FASTA with index, a label table with CRLF and
 * comments, a manifest, a Genomic-Benchmarks-style class directory), the shipped
 * examples/data (bacteria windows with labels, great-ape slices), and files written at test
 * time into a temporary folder (bad manifests and tables, WAVs through audio_write).
 * Every error case checks the code and that the message names the file (and line).
 * Run from the repository root (as `make test` does).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <sndfile.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "io/audio.h"
#include "io/dataset.h"
#include "io/encode.h"
#include "io/labels.h"
#include "io/rng.h"

#define DATA "tests/data/dataset/"
#define EXAMPLES "examples/data/"

static char tmp_dir[256];

// ---------------------------------------------------------------------------- helpers

/* Write @p text to tmp_dir/@p name (creating sub-folders); returns the full path (static). */
static const char *tmp_write(const char *name, const char *text) {
    static char path[4][512];
    static int turn;
    char *p = path[turn++ % 4];
    snprintf(p, 512, "%s/%s", tmp_dir, name);
    for (char *s = strchr(p + strlen(tmp_dir) + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        mkdir(p, 0755);
        *s = '/';
    }
    FILE *fp = fopen(p, "wb");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    return p;
}

static const char *tmp_path(const char *name) {
    static char path[4][512];
    static int turn;
    char *p = path[turn++ % 4];
    snprintf(p, 512, "%s/%s", tmp_dir, name);
    return p;
}

/* status must be @p code and the message must contain every given piece. */
static void expect_error_(int status, int code, const char *const *pieces, const char *file,
                          int line) {
    if (status != code)
        fail_msg("%s:%d: status %d (%s), expected %d; message: %s", file, line, status,
                 ls_strerror(status), code, ls_error_message());
    for (int i = 0; pieces[i]; i++)
        if (!strstr(ls_error_message(), pieces[i]))
            fail_msg("%s:%d: message \"%s\" lacks \"%s\"", file, line, ls_error_message(),
                     pieces[i]);
}
#define expect_error(status, code, ...)                                                        \
    expect_error_((status), (code), (const char *const[]){__VA_ARGS__, NULL}, __FILE__, __LINE__)

static Dataset *new_dataset(DatasetLabels labels) {
    DatasetOptions opt;
    dataset_options_default(&opt);
    opt.labels = labels;
    Dataset *ds = NULL;
    assert_int_equal(dataset_init(&ds, &opt), 0);
    return ds;
}

/* The example named @p name, or fail. */
static const Example *find_example(const Dataset *ds, const char *name) {
    for (int64_t i = 0; i < dataset_count(ds); i++)
        if (strcmp(dataset_example(ds, i)->name, name) == 0) return dataset_example(ds, i);
    fail_msg("no example named '%s'", name);
    return NULL;
}

static int label_of(const Dataset *ds, const char *name) { return find_example(ds, name)->label; }

static const char *label_name_of(const Dataset *ds, const char *name) {
    return label_map_name(dataset_labels(ds), label_of(ds, name));
}

/* A DNA dataset of @p n in-memory examples "s<i>" of length 50 + i % 7, labels from @p labels
 * (cycled; NULL: unlabelled). */
static Dataset *memory_dataset(int64_t n, const char *const *labels, int n_labels) {
    Dataset *ds = new_dataset(DATASET_LABELS_OPTIONAL);
    uint8_t tokens[64];
    char name[32];
    for (int64_t i = 0; i < n; i++) {
        int64_t len = 50 + i % 7;
        for (int64_t j = 0; j < len; j++) tokens[j] = (uint8_t)((i + j) % 4);
        snprintf(name, sizeof name, "s%lld", (long long)i);
        assert_int_equal(dataset_add_tokens(ds, name, tokens, len,
                                            labels ? labels[i % n_labels] : NULL, SPLIT_NONE),
                         0);
    }
    assert_int_equal(dataset_finish(ds, NULL), 0);
    return ds;
}

// ---------------------------------------------------------------------------- generator

static void test_rng_reference(void **state) {
    (void)state;
    /* splitmix64 from 1234567 and xoshiro256** from {1,2,3,4}: the reference outputs */
    static const uint64_t sm_ref[5] = {6457827717110365317ULL, 3203168211198807973ULL,
                                       9817491932198370423ULL, 4593380528125082431ULL,
                                       16408922859458223821ULL};
    uint64_t sm = 1234567;
    for (int i = 0; i < 5; i++) assert_true(rng_splitmix64(&sm) == sm_ref[i]);
    static const uint64_t xo_ref[6] = {11520ULL, 0ULL, 1509978240ULL, 1215971899390074240ULL,
                                       1216172134540287360ULL, 607988272756665600ULL};
    Rng rng;
    uint64_t s[4] = {1, 2, 3, 4};
    assert_int_equal(rng_set_state(&rng, s), 0);
    for (int i = 0; i < 6; i++) assert_true(rng_next(&rng) == xo_ref[i]);
    /* rng_seed = four splitmix64 outputs: first outputs for seed 42 */
    rng_seed(&rng, 42);
    assert_true(rng_next(&rng) == 1546998764402558742ULL);
    assert_true(rng_next(&rng) == 6990951692964543102ULL);
    /* FNV-1a 64 reference values */
    assert_true(rng_hash_string("") == 0xcbf29ce484222325ULL);
    assert_true(rng_hash_string("a") == 0xaf63dc4c8601ec8cULL);
    assert_true(rng_hash_string("foobar") == 0x85944171f73967e8ULL);
}

static void test_rng_state_and_ranges(void **state) {
    (void)state;
    Rng a, b;
    rng_seed(&a, 7);
    for (int i = 0; i < 100; i++) (void)rng_next(&a);
    uint64_t saved[4];
    rng_get_state(&a, saved);
    uint64_t first[50];
    for (int i = 0; i < 50; i++) first[i] = rng_next(&a);
    assert_int_equal(rng_set_state(&b, saved), 0);
    for (int i = 0; i < 50; i++) assert_true(rng_next(&b) == first[i]);
    uint64_t zero[4] = {0};
    expect_error(rng_set_state(&b, zero), LS_ERR_RANGE, "zero");

    /* rng_below: in range, every value hit, roughly uniform */
    int64_t counts[7] = {0};
    for (int i = 0; i < 70000; i++) {
        uint64_t v = rng_below(&a, 7);
        assert_true(v < 7);
        counts[v]++;
    }
    for (int i = 0; i < 7; i++) assert_true(counts[i] > 9400 && counts[i] < 10600);
    assert_true(rng_below(&a, 0) == 0);
    assert_true(rng_below(&a, 1) == 0);
    for (int i = 0; i < 1000; i++) {
        double u = rng_uniform(&a);
        assert_true(u >= 0 && u < 1);
    }
    /* shuffle is a permutation; distinct streams differ */
    int64_t perm[100], seen[100] = {0};
    for (int i = 0; i < 100; i++) perm[i] = i;
    rng_shuffle_int64(&a, perm, 100);
    for (int i = 0; i < 100; i++) seen[perm[i]]++;
    for (int i = 0; i < 100; i++) assert_int_equal(seen[i], 1);
    rng_seed_stream(&a, 1, 0);
    rng_seed_stream(&b, 1, 1);
    assert_true(rng_next(&a) != rng_next(&b));
}

// ---------------------------------------------------------------------------- label tables

static void test_label_table_good(void **state) {
    (void)state;
    LabelTable *t = NULL;
    assert_int_equal(label_table_read(&t, DATA "labels.tsv"), 0);
    assert_int_equal(label_table_count(t), 4);
    int64_t line = 0;
    assert_string_equal(label_table_lookup(t, "r1", &line), "pos");
    assert_int_equal(line, 2);
    assert_string_equal(label_table_lookup(t, "r3", &line), "pos"); /* extra columns ignored */
    assert_int_equal(line, 6);
    assert_string_equal(label_table_lookup(t, "r4", NULL), "neg"); /* CRLF stripped */
    assert_null(label_table_lookup(t, "name", NULL));              /* header skipped */
    assert_null(label_table_lookup(t, "r5", NULL));
    const char *first;
    assert_int_equal(label_table_unused(t, &first, &line), 1);
    assert_string_equal(first, "r2");
    assert_int_equal(line, 4);
    label_table_free(t);

    /* byte-order mark, no final newline */
    assert_int_equal(label_table_read(&t, tmp_write("bom.tsv", "\xef\xbb\xbfx\t1\ny\t2")), 0);
    assert_string_equal(label_table_lookup(t, "x", NULL), "1");
    assert_string_equal(label_table_lookup(t, "y", NULL), "2");
    label_table_free(t);
    label_table_free(NULL);
}

static void test_label_table_errors(void **state) {
    (void)state;
    LabelTable *t = NULL;
    const char *p = tmp_write("missing_col.tsv", "a\t1\nb\t0\nc\n");
    expect_error(label_table_read(&t, p), LS_ERR_FORMAT, "missing_col.tsv:3:", "one column");
    assert_null(t);
    p = tmp_write("empty_label.tsv", "# header\na\t1\nb\t\n");
    expect_error(label_table_read(&t, p), LS_ERR_FORMAT, "empty_label.tsv:3:", "empty label",
                 "'b'");
    p = tmp_write("empty_name.tsv", "\t1\n");
    expect_error(label_table_read(&t, p), LS_ERR_FORMAT, "empty_name.tsv:1:", "empty name");
    p = tmp_write("dup.tsv", "a\t1\nb\t0\r\na\t1\n");
    expect_error(label_table_read(&t, p), LS_ERR_FORMAT, "dup.tsv:3:", "duplicate name 'a'",
                 "first on line 1");
    p = tmp_write("only_comments.tsv", "# name\tlabel\n\n   \n");
    expect_error(label_table_read(&t, p), LS_ERR_FORMAT, "only_comments.tsv", "no name<TAB>label");
    p = tmp_write("spaces.tsv", "a 1\n");
    expect_error(label_table_read(&t, p), LS_ERR_FORMAT, "spaces.tsv:1:", "tab-separated");
    expect_error(label_table_read(&t, tmp_path("nonexistent.tsv")), LS_ERR_IO,
                 "nonexistent.tsv", "No such file");
    expect_error(label_table_read(&t, tmp_dir), LS_ERR_IO, tmp_dir, "directory");
    /* a binary file given by mistake */
    FILE *fp = fopen(tmp_path("binary.tsv"), "wb");
    fwrite("a\t1\nb\0\t2\n", 1, 9, fp);
    fclose(fp);
    expect_error(label_table_read(&t, tmp_path("binary.tsv")), LS_ERR_FORMAT, "binary.tsv:2:",
                 "not a text file");
}

// ---------------------------------------------------------------------------- label maps

static void test_label_map_sort_and_json(void **state) {
    (void)state;
    LabelMap *m = NULL;
    assert_int_equal(label_map_init(&m), 0);
    const char *numeric[] = {"10", "2", "0", "-1", "1"};
    for (int i = 0; i < 5; i++) assert_int_equal(label_map_add(m, numeric[i], NULL), 0);
    int32_t id;
    assert_int_equal(label_map_add(m, "2", &id), 0); /* present: same id, no growth */
    assert_int_equal(id, 1);
    assert_int_equal(label_map_count(m), 5);
    int32_t remap[5];
    assert_int_equal(label_map_sort(m, remap), 0);
    const char *sorted[] = {"-1", "0", "1", "2", "10"}; /* numeric order */
    for (int i = 0; i < 5; i++) assert_string_equal(label_map_name(m, i), sorted[i]);
    assert_int_equal(remap[0], 4); /* old id 0 ("10") is now 4 */
    assert_int_equal(label_map_find(m, "10"), 4);
    assert_int_equal(label_map_find(m, "3"), -1);
    assert_null(label_map_name(m, 5));
    expect_error(label_map_add(m, "", NULL), LS_ERR_RANGE, "empty");

    char *json = NULL;
    assert_int_equal(label_map_to_json(m, &json), 0);
    assert_string_equal(json, "[\"-1\",\"0\",\"1\",\"2\",\"10\"]");
    LabelMap *back = NULL;
    assert_int_equal(label_map_from_json(&back, json, "test"), 0);
    assert_int_equal(label_map_count(back), 5);
    for (int i = 0; i < 5; i++) assert_string_equal(label_map_name(back, i), sorted[i]);
    free(json);
    label_map_free(back);
    label_map_free(m);

    /* bytewise order when any label is not an integer; quotes and UTF-8 survive JSON */
    assert_int_equal(label_map_init(&m), 0);
    const char *words[] = {"vcholerae", "ecoli", "Zeta", "10", "caf\xc3\xa9 \"q\""};
    for (int i = 0; i < 5; i++) assert_int_equal(label_map_add(m, words[i], NULL), 0);
    assert_int_equal(label_map_sort(m, NULL), 0);
    const char *bytewise[] = {"10", "Zeta", "caf\xc3\xa9 \"q\"", "ecoli", "vcholerae"};
    for (int i = 0; i < 5; i++) assert_string_equal(label_map_name(m, i), bytewise[i]);
    assert_int_equal(label_map_to_json(m, &json), 0);
    assert_int_equal(label_map_from_json(&back, json, "test"), 0);
    for (int i = 0; i < 5; i++) assert_string_equal(label_map_name(back, i), bytewise[i]);
    LabelMap *copy = NULL;
    assert_int_equal(label_map_copy(&copy, back), 0);
    assert_int_equal(label_map_find(copy, "ecoli"), 3);
    char buf[64];
    assert_string_equal(label_map_describe(copy, buf, sizeof buf),
                        "10, Zeta, caf\xc3\xa9 \"q\", ecoli, vcholerae");
    label_map_describe(copy, buf, 20);
    assert_string_equal(buf, "10, Zeta, …");
    free(json);
    label_map_free(back);
    label_map_free(copy);
    label_map_free(m);
}

static void test_label_map_json_errors(void **state) {
    (void)state;
    LabelMap *m = NULL;
    expect_error(label_map_from_json(&m, "{\"a\":1}", "model.safetensors: labels"),
                 LS_ERR_FORMAT, "model.safetensors: labels", "array");
    expect_error(label_map_from_json(&m, "[\"a\",", "w"), LS_ERR_FORMAT, "w:", "not valid JSON");
    expect_error(label_map_from_json(&m, "[\"a\",\"b\",\"a\"]", "w"), LS_ERR_FORMAT,
                 "'a' appears twice");
    expect_error(label_map_from_json(&m, "[\"a\",3]", "w"), LS_ERR_FORMAT, "label 1");
    expect_error(label_map_from_json(&m, "[\"\"]", "w"), LS_ERR_FORMAT, "label 0");
    assert_null(m);
    assert_int_equal(label_map_from_json(&m, "[]", "w"), 0);
    assert_int_equal(label_map_count(m), 0);
    label_map_free(m);
}

// ---------------------------------------------------------------------------- in-memory datasets

static void test_memory_dataset_labels(void **state) {
    (void)state;
    const char *labels[] = {"pos", "neg", "mid"};
    Dataset *ds = memory_dataset(30, labels, 3);
    assert_int_equal(dataset_count(ds), 30);
    const LabelMap *map = dataset_labels(ds);
    assert_int_equal(label_map_count(map), 3);
    assert_string_equal(label_map_name(map, 0), "mid"); /* sorted */
    assert_string_equal(label_map_name(map, 1), "neg");
    assert_string_equal(label_map_name(map, 2), "pos");
    assert_string_equal(label_name_of(ds, "s0"), "pos");
    assert_string_equal(label_name_of(ds, "s4"), "neg");
    DatasetStats st;
    int64_t per_label[3];
    dataset_stats(ds, NULL, 0, &st, per_label);
    assert_int_equal(st.count, 30);
    assert_int_equal(st.min_length, 50);
    assert_int_equal(st.max_length, 56);
    assert_int_equal(per_label[0], 10);
    assert_int_equal(st.unlabelled, 0);
    /* finished: no more adds */
    uint8_t t[3] = {0, 1, 2};
    expect_error(dataset_add_tokens(ds, "late", t, 3, NULL, SPLIT_NONE), LS_ERR_USAGE, "late");
    expect_error(dataset_finish(ds, NULL), LS_ERR_USAGE, "twice");

    /* the same data against a fixed map that lacks "mid": error naming the label's origin */
    Dataset *other = new_dataset(DATASET_LABELS_REQUIRED);
    assert_int_equal(dataset_add_tokens(other, "x1", t, 3, "neg", SPLIT_NONE), 0);
    assert_int_equal(dataset_add_tokens(other, "x2", t, 3, "other", SPLIT_NONE), 0);
    LabelMap *fixed = NULL;
    assert_int_equal(label_map_from_json(&fixed, "[\"pos\",\"neg\"]", "fixed"), 0);
    expect_error(dataset_finish(other, fixed), LS_ERR_FORMAT, "x2", "unknown label 'other'",
                 "known labels: pos, neg");
    dataset_free(other);
    /* with a fixed map, ids are the map's (not re-sorted), and labels it has but the data
     * lacks are kept */
    other = new_dataset(DATASET_LABELS_REQUIRED);
    assert_int_equal(dataset_add_tokens(other, "x1", t, 3, "neg", SPLIT_NONE), 0);
    assert_int_equal(dataset_finish(other, fixed), 0);
    assert_int_equal(label_of(other, "x1"), 1);
    assert_int_equal(label_map_count(dataset_labels(other)), 2);
    dataset_free(other);
    label_map_free(fixed);

    /* required labels: an unlabelled example is an error, or dropped when asked */
    other = new_dataset(DATASET_LABELS_REQUIRED);
    assert_int_equal(dataset_add_tokens(other, "a", t, 3, "neg", SPLIT_NONE), 0);
    assert_int_equal(dataset_add_tokens(other, "b", t, 3, NULL, SPLIT_NONE), 0);
    expect_error(dataset_finish(other, NULL), LS_ERR_FORMAT, "'b' has no label",
                 "1 of 2 examples");
    dataset_free(other);
    DatasetOptions opt;
    dataset_options_default(&opt);
    opt.labels = DATASET_LABELS_REQUIRED;
    opt.skip_unlabelled = 1;
    assert_int_equal(dataset_init(&other, &opt), 0);
    assert_int_equal(dataset_add_tokens(other, "a", t, 3, "neg", SPLIT_NONE), 0);
    assert_int_equal(dataset_add_tokens(other, "b", t, 3, NULL, SPLIT_NONE), 0);
    assert_int_equal(dataset_finish(other, NULL), 0);
    assert_int_equal(dataset_count(other), 1);
    assert_string_equal(dataset_example(other, 0)->name, "a");
    dataset_free(other);
    /* labels ignored (lm) */
    other = new_dataset(DATASET_LABELS_NONE);
    assert_int_equal(dataset_add_tokens(other, "a", t, 3, "neg", SPLIT_NONE), 0);
    assert_int_equal(dataset_finish(other, NULL), 0);
    assert_int_equal(dataset_example(other, 0)->label, -1);
    assert_int_equal(label_map_count(dataset_labels(other)), 0);
    dataset_free(other);
    /* bad in-memory input */
    other = new_dataset(DATASET_LABELS_OPTIONAL);
    uint8_t bad[2] = {1, 9};
    expect_error(dataset_add_tokens(other, "bad", bad, 2, NULL, SPLIT_NONE), LS_ERR_RANGE, "bad",
                 "token 9");
    expect_error(dataset_add_tokens(other, "empty", bad, 0, NULL, SPLIT_NONE), LS_ERR_RANGE,
                 "empty");
    float s[2] = {0, 0};
    assert_int_equal(dataset_add_tokens(other, "dna", t, 3, NULL, SPLIT_NONE), 0);
    expect_error(dataset_add_samples(other, "au", s, 2, 8000, NULL, SPLIT_NONE), LS_ERR_USAGE,
                 "au", "already holds DNA");
    dataset_free(other);
    dataset_free(ds);
}

static void test_empty_dataset(void **state) {
    (void)state;
    Dataset *ds = new_dataset(DATASET_LABELS_OPTIONAL);
    expect_error(dataset_finish(ds, NULL), LS_ERR_USAGE, "no examples");
    dataset_free(ds);
    dataset_free(NULL);
}

// ---------------------------------------------------------------------------- splits

static void test_split_hash(void **state) {
    (void)state;
    /* deterministic, seed-dependent, uniform enough */
    assert_true(dataset_split_hash("seq1", 1) == dataset_split_hash("seq1", 1));
    int differ = 0, below = 0;
    char name[32];
    for (int i = 0; i < 4000; i++) {
        snprintf(name, sizeof name, "rec%d", i);
        double u = dataset_split_hash(name, 1);
        assert_true(u >= 0 && u < 1);
        below += u < 0.25;
        differ += (u < 0.25) != (dataset_split_hash(name, 2) < 0.25);
    }
    assert_true(below > 900 && below < 1100);
    assert_true(differ > 1000); /* another seed, another split */
    Split s;
    assert_int_equal(dataset_split_parse("dev", &s), 0);
    assert_int_equal(s, SPLIT_VALID);
    assert_int_equal(dataset_split_parse("TEST", &s), 0);
    assert_int_equal(s, SPLIT_TEST);
    assert_int_equal(dataset_split_parse("holdout", &s), LS_ERR_RANGE);
    assert_string_equal(dataset_split_name(SPLIT_VALID), "valid");
}

static void assign(Dataset *ds, uint64_t seed, double v, double t, int stratify) {
    SplitOptions so = {.seed = seed, .valid_fraction = v, .test_fraction = t,
                       .stratify = stratify};
    assert_int_equal(dataset_assign_splits(ds, &so), 0);
}

static void test_splits(void **state) {
    (void)state;
    const char *labels[] = {"a", "b", "c", "d", "e"};
    Dataset *d1 = memory_dataset(1000, labels, 2);
    Dataset *d2 = memory_dataset(1000, labels, 2);
    Dataset *d3 = memory_dataset(1001, labels, 2); /* one example more */
    Dataset *d4 = memory_dataset(1000, labels, 2);
    assign(d1, 5, 0.2, 0.1, 0);
    assign(d2, 5, 0.2, 0.1, 0);
    assign(d3, 5, 0.2, 0.1, 0);
    assign(d4, 6, 0.2, 0.1, 0);
    int64_t counts[3] = {0}, moved_seed = 0;
    for (int64_t i = 0; i < 1000; i++) {
        int8_t s = dataset_example(d1, i)->split;
        assert_int_equal(s, dataset_example(d2, i)->split); /* same seed, same split */
        assert_int_equal(s, dataset_example(d3, i)->split); /* adding one moves nothing */
        moved_seed += s != dataset_example(d4, i)->split;
        counts[s]++;
    }
    assert_true(moved_seed > 200);
    assert_true(counts[SPLIT_TRAIN] > 650 && counts[SPLIT_TRAIN] < 750);
    assert_true(counts[SPLIT_VALID] > 160 && counts[SPLIT_VALID] < 240);
    assert_true(counts[SPLIT_TEST] > 70 && counts[SPLIT_TEST] < 130);
    int64_t *idx, n;
    assert_int_equal(dataset_split_indices(d1, SPLIT_VALID, &idx, &n), 0);
    assert_int_equal(n, counts[SPLIT_VALID]);
    for (int64_t k = 1; k < n; k++) assert_true(idx[k] > idx[k - 1]);
    free(idx);
    assert_int_equal(dataset_split_indices(d1, SPLIT_NONE, &idx, &n), 0);
    assert_int_equal(n, 0);
    assert_null(idx);
    dataset_free(d1);
    dataset_free(d2);
    dataset_free(d3);
    dataset_free(d4);

    /* stratified: exact per-label counts; adding one example moves at most one other */
    Dataset *s1 = memory_dataset(503, labels, 5);
    Dataset *s2 = memory_dataset(504, labels, 5);
    assign(s1, 9, 0.2, 0.1, 1);
    assign(s2, 9, 0.2, 0.1, 1);
    int64_t per[5][3] = {{0}};
    for (int64_t i = 0; i < 503; i++) {
        const Example *ex = dataset_example(s1, i);
        per[ex->label][ex->split]++;
    }
    for (int l = 0; l < 5; l++) {
        int64_t size = per[l][0] + per[l][1] + per[l][2];
        assert_int_equal(per[l][SPLIT_TEST], llround(size * 0.1));
        assert_int_equal(per[l][SPLIT_VALID], llround(size * 0.2));
    }
    int64_t moved = 0;
    for (int64_t i = 0; i < 503; i++)
        moved += dataset_example(s1, i)->split != dataset_example(s2, i)->split;
    assert_true(moved <= 1);
    /* given splits stay; fractions are checked */
    SplitOptions bad = {.seed = 1, .valid_fraction = 0.7, .test_fraction = 0.4};
    expect_error(dataset_assign_splits(s1, &bad), LS_ERR_USAGE, "fractions");
    assign(s1, 10, 0.5, 0.5, 0); /* everything already assigned: nothing moves */
    for (int l = 0; l < 5; l++) per[l][0] = per[l][1] = per[l][2] = 0;
    for (int64_t i = 0; i < 503; i++) {
        const Example *ex = dataset_example(s1, i);
        per[ex->label][ex->split]++;
    }
    assert_int_equal(per[0][SPLIT_TEST], llround((per[0][0] + per[0][1] + per[0][2]) * 0.1));
    dataset_free(s1);
    dataset_free(s2);

    /* zero fractions: all train */
    Dataset *z = memory_dataset(10, NULL, 0);
    assign(z, 1, 0, 0, 0);
    for (int64_t i = 0; i < 10; i++) assert_int_equal(dataset_example(z, i)->split, SPLIT_TRAIN);
    dataset_free(z);
}

// ---------------------------------------------------------------------------- windows

/* Records of lengths 100, 300, 1000 (labels x, x, y) plus a short one (20, label y). */
static Dataset *window_dataset(void) {
    Dataset *ds = new_dataset(DATASET_LABELS_REQUIRED);
    static uint8_t tokens[1000];
    for (int i = 0; i < 1000; i++) tokens[i] = (uint8_t)(i % 5);
    assert_int_equal(dataset_add_tokens(ds, "r100", tokens, 100, "x", SPLIT_NONE), 0);
    assert_int_equal(dataset_add_tokens(ds, "r300", tokens, 300, "x", SPLIT_NONE), 0);
    assert_int_equal(dataset_add_tokens(ds, "r1000", tokens, 1000, "y", SPLIT_NONE), 0);
    assert_int_equal(dataset_add_tokens(ds, "r20", tokens, 20, "y", SPLIT_NONE), 0);
    assert_int_equal(dataset_finish(ds, NULL), 0);
    return ds;
}

static void test_window_sampler(void **state) {
    (void)state;
    Dataset *ds = window_dataset();
    WindowSampler *ws = NULL;
    const int64_t W = 50, draws = 60000;
    assert_int_equal(window_sampler_init(&ws, ds, NULL, 0, W, 0, 11), 0);
    assert_int_equal(window_sampler_count(ws), 3); /* r20 is too short */
    DatasetItem items[1000];
    int64_t per_example[4] = {0};
    for (int64_t done = 0; done < draws; done += 1000) {
        window_sampler_next(ws, items, 1000);
        for (int k = 0; k < 1000; k++) {
            const Example *ex = dataset_example(ds, items[k].example);
            assert_int_equal(items[k].length, W);
            assert_true(items[k].offset >= 0 && items[k].offset + W <= ex->length);
            per_example[items[k].example]++;
        }
    }
    /* every window equally likely: example weight = length - W + 1 = 51, 251, 951 */
    double total = 51 + 251 + 951;
    assert_int_equal(per_example[3], 0);
    assert_true(fabs(per_example[0] / (double)draws - 51 / total) < 0.01);
    assert_true(fabs(per_example[2] / (double)draws - 951 / total) < 0.01);

    /* save, draw, restore: the same stream; a second sampler with the same seed agrees */
    uint64_t saved[4];
    rng_get_state(window_sampler_rng(ws), saved);
    DatasetItem a[64], b[64];
    window_sampler_next(ws, a, 64);
    assert_int_equal(rng_set_state(window_sampler_rng(ws), saved), 0);
    window_sampler_next(ws, b, 64);
    assert_memory_equal(a, b, sizeof a);
    WindowSampler *again = NULL;
    assert_int_equal(window_sampler_init(&again, ds, NULL, 0, W, 0, 11), 0);
    DatasetItem c[64];
    window_sampler_next(again, c, 64);
    window_sampler_free(ws);
    assert_int_equal(window_sampler_init(&ws, ds, NULL, 0, W, 0, 11), 0);
    window_sampler_next(ws, a, 64);
    assert_memory_equal(a, c, sizeof a);
    window_sampler_free(again);
    window_sampler_free(ws);

    /* balanced: labels x and y equally often although y has 3.2x the windows */
    assert_int_equal(window_sampler_init(&ws, ds, NULL, 0, W, 1, 3), 0);
    int64_t per_label[2] = {0};
    for (int64_t done = 0; done < draws; done += 1000) {
        window_sampler_next(ws, items, 1000);
        for (int k = 0; k < 1000; k++) per_label[dataset_example(ds, items[k].example)->label]++;
    }
    assert_true(fabs(per_label[0] / (double)draws - 0.5) < 0.01);
    window_sampler_free(ws);

    /* a subset of examples */
    int64_t only[1] = {1};
    assert_int_equal(window_sampler_init(&ws, ds, only, 1, W, 1, 3), 0);
    window_sampler_next(ws, items, 100);
    for (int k = 0; k < 100; k++) assert_int_equal(items[k].example, 1);
    window_sampler_free(ws);

    /* a window longer than every example, or than every example of one label: errors */
    expect_error(window_sampler_init(&ws, ds, NULL, 0, 1001, 0, 1), LS_ERR_RANGE,
                 "window of 1001", "longest: 1000", "r1000");
    expect_error(window_sampler_init(&ws, ds, NULL, 0, 301, 1, 1), LS_ERR_RANGE, "label 'x'",
                 "longest: 300", "r300");
    expect_error(window_sampler_init(&ws, ds, NULL, 0, 0, 0, 1), LS_ERR_USAGE, "window");
    assert_null(ws);
    /* exactly one window: offset 0 */
    assert_int_equal(window_sampler_init(&ws, ds, NULL, 0, 1000, 0, 1), 0);
    window_sampler_next(ws, items, 10);
    for (int k = 0; k < 10; k++) assert_int_equal(items[k].offset, 0);
    window_sampler_free(ws);
    window_sampler_free(NULL);
    dataset_free(ds);

    /* balanced needs labels */
    Dataset *unlabelled = memory_dataset(3, NULL, 0);
    expect_error(window_sampler_init(&ws, unlabelled, NULL, 0, 10, 1, 1), LS_ERR_USAGE,
                 "no label");
    dataset_free(unlabelled);
}

static void test_eval_windows(void **state) {
    (void)state;
    Dataset *ds = window_dataset();
    DatasetItem *items = NULL;
    int64_t n = 0;
    /* non-overlapping windows of 100: 1 + 3 + 10, r20 left out */
    assert_int_equal(window_eval_items(ds, NULL, 0, 100, 0, 0, &items, &n), 0);
    assert_int_equal(n, 14);
    assert_int_equal(items[0].example, 0);
    assert_int_equal(items[3].example, 1);
    assert_int_equal(items[3].offset, 200);
    assert_int_equal(items[13].offset, 900);
    free(items);
    /* stride 50 over r300: 0, 50, ..., 200 */
    int64_t one[1] = {1};
    assert_int_equal(window_eval_items(ds, one, 1, 100, 50, 0, &items, &n), 0);
    assert_int_equal(n, 5);
    assert_int_equal(items[4].offset, 200);
    free(items);
    /* at most 4 per example, evenly spread from start to end */
    int64_t big[1] = {2};
    assert_int_equal(window_eval_items(ds, big, 1, 100, 0, 4, &items, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(items[0].offset, 0);
    assert_int_equal(items[1].offset, 300);
    assert_int_equal(items[2].offset, 600);
    assert_int_equal(items[3].offset, 900);
    free(items);
    assert_int_equal(window_eval_items(ds, big, 1, 100, 0, 1, &items, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(items[0].offset, 450); /* centred */
    free(items);
    expect_error(window_eval_items(ds, NULL, 0, 5000, 0, 0, &items, &n), LS_ERR_RANGE,
                 "longer than every example", "r1000");
    expect_error(window_eval_items(ds, NULL, 0, -1, 0, 0, &items, &n), LS_ERR_USAGE, "window");
    dataset_free(ds);
}

// ---------------------------------------------------------------------------- batches

static void test_batch_plan(void **state) {
    (void)state;
    /* 200 items of lengths 1..200 in a scrambled order */
    const int64_t n = 200;
    DatasetItem items[200];
    for (int64_t k = 0; k < n; k++) items[k] = (DatasetItem){k, 0, (k * 37) % n + 1};
    BatchPlanOptions opt = {.batch_size = 16, .max_tokens = 0, .bucket = 0, .shuffle = 1};
    Rng rng;
    rng_seed_stream(&rng, 1, 0);
    BatchPlan plain, bucketed, again;
    assert_int_equal(batch_plan_make(&plain, NULL, items, n, &opt, &rng), 0);
    opt.bucket = 1;
    rng_seed_stream(&rng, 1, 0);
    assert_int_equal(batch_plan_make(&bucketed, NULL, items, n, &opt, &rng), 0);
    rng_seed_stream(&rng, 1, 0);
    assert_int_equal(batch_plan_make(&again, NULL, items, n, &opt, &rng), 0);
    /* same Rng state, same plan */
    assert_int_equal(again.n_batches, bucketed.n_batches);
    assert_memory_equal(again.items, bucketed.items, (size_t)n * sizeof *items);
    assert_memory_equal(again.starts, bucketed.starts, (size_t)(again.n_batches + 1) * 8);
    batch_plan_free(&again);
    /* every item exactly once, batches within size, accounting right */
    const BatchPlan *plans[2] = {&plain, &bucketed};
    for (int p = 0; p < 2; p++) {
        const BatchPlan *pl = plans[p];
        int seen[200] = {0};
        int64_t padded = 0, real = 0;
        assert_int_equal(pl->n_items, n);
        assert_int_equal(pl->starts[0], 0);
        assert_int_equal(pl->starts[pl->n_batches], n);
        for (int64_t b = 0; b < pl->n_batches; b++) {
            int64_t rows = pl->starts[b + 1] - pl->starts[b], longest = 0;
            assert_true(rows >= 1 && rows <= 16);
            for (int64_t k = pl->starts[b]; k < pl->starts[b + 1]; k++) {
                seen[pl->items[k].example]++;
                real += pl->items[k].length;
                if (pl->items[k].length > longest) longest = pl->items[k].length;
            }
            padded += rows * longest;
        }
        for (int64_t k = 0; k < n; k++) assert_int_equal(seen[k], 1);
        assert_int_equal(pl->real_tokens, real);
        assert_int_equal(pl->padded_tokens, padded);
    }
    assert_int_equal(plain.n_batches, 13); /* ceil(200 / 16) */
    /* bucketing wastes little: lengths within a batch span 16 at most */
    assert_true(bucketed.padded_tokens - bucketed.real_tokens <= 13 * 16 * 15);
    assert_true(bucketed.padded_tokens < plain.padded_tokens);
    batch_plan_free(&plain);
    batch_plan_free(&bucketed);

    /* token budget: rows x longest <= 400; without shuffle, order kept */
    opt = (BatchPlanOptions){.batch_size = 1000, .max_tokens = 400, .bucket = 1, .shuffle = 0};
    assert_int_equal(batch_plan_make(&plain, NULL, items, n, &opt, NULL), 0);
    for (int64_t b = 0; b < plain.n_batches; b++) {
        int64_t rows = plain.starts[b + 1] - plain.starts[b];
        int64_t longest = plain.items[plain.starts[b + 1] - 1].length; /* ascending */
        assert_true(rows * longest <= 400);
    }
    for (int64_t k = 1; k < n; k++) assert_true(plain.items[k].length >= plain.items[k - 1].length);
    batch_plan_free(&plain);
    /* an item bigger than the budget is an error, never cut */
    opt.max_tokens = 150;
    expect_error(batch_plan_make(&plain, NULL, items, n, &opt, NULL), LS_ERR_RANGE,
                 "does not fit", "150");
    opt.batch_size = 0;
    expect_error(batch_plan_make(&plain, NULL, items, n, &opt, NULL), LS_ERR_USAGE, "batch size");
    opt = (BatchPlanOptions){.batch_size = 4, .shuffle = 1};
    expect_error(batch_plan_make(&plain, NULL, items, n, &opt, NULL), LS_ERR_USAGE, "random");
    /* no items: no batches */
    opt.shuffle = 0;
    assert_int_equal(batch_plan_make(&plain, NULL, items, 0, &opt, NULL), 0);
    assert_int_equal(plain.n_batches, 0);
    batch_plan_free(&plain);
}

static void test_batch_fill(void **state) {
    (void)state;
    Dataset *ds = window_dataset();
    DatasetItem items[3] = {{3, 0, 20}, {0, 0, 100}, {2, 990, 10}};
    Batch b = {0};
    assert_int_equal(batch_fill(&b, ds, items, 3, NULL), 0);
    assert_int_equal(b.B, 3);
    assert_int_equal(b.L, 100);
    assert_null(b.samples);
    assert_int_equal(b.lengths[0], 20);
    assert_int_equal(b.lengths[1], 100);
    assert_int_equal(b.labels[0], 1); /* y */
    assert_int_equal(b.labels[1], 0); /* x */
    assert_int_equal(b.offsets[2], 990);
    assert_int_equal(b.examples[2], 2);
    /* whole rows copied (no truncation), padding with N after each row's end */
    for (int64_t j = 0; j < 100; j++) {
        assert_int_equal(b.tokens[1 * 100 + j], j % 5);
        assert_int_equal(b.tokens[0 * 100 + j], j < 20 ? j % 5 : DNA_N);
        assert_int_equal(b.tokens[2 * 100 + j], j < 10 ? (990 + j) % 5 : DNA_N);
    }
    /* a smaller batch reuses the buffers; explicit pad value */
    uint8_t *buf = b.tokens_buf;
    BatchOptions bo;
    batch_options_default(&bo);
    bo.pad_token = 7;
    assert_int_equal(batch_fill(&b, ds, items, 1, &bo), 0);
    assert_ptr_equal(b.tokens_buf, buf);
    assert_int_equal(b.L, 20);
    /* a whole long record: nothing cut */
    DatasetItem whole = {2, 0, 1000};
    assert_int_equal(batch_fill(&b, ds, &whole, 1, &bo), 0);
    assert_int_equal(b.L, 1000);
    assert_int_equal(b.tokens[999], 999 % 5);
    /* items outside their example */
    DatasetItem bad = {0, 60, 50};
    expect_error(batch_fill(&b, ds, &bad, 1, NULL), LS_ERR_RANGE, "outside 'r100'");
    bad = (DatasetItem){9, 0, 1};
    expect_error(batch_fill(&b, ds, &bad, 1, NULL), LS_ERR_RANGE, "example 9");
    expect_error(batch_fill(&b, ds, items, 0, NULL), LS_ERR_RANGE, "no items");
    batch_free(&b);
    batch_free(&b);

    /* items from dataset_items_whole + a plan, filled batch by batch */
    DatasetItem *all = NULL;
    assert_int_equal(dataset_items_whole(ds, NULL, 0, &all), 0);
    assert_int_equal(all[2].length, 1000);
    BatchPlan plan;
    BatchPlanOptions po = {.batch_size = 2, .bucket = 1};
    assert_int_equal(batch_plan_make(&plan, ds, all, 4, &po, NULL), 0);
    assert_int_equal(plan.n_batches, 2);
    int64_t rows = plan.starts[2] - plan.starts[1];
    assert_int_equal(batch_fill(&b, ds, plan.items + plan.starts[1], rows, NULL), 0);
    assert_int_equal(b.L, 1000);
    batch_plan_free(&plan);
    po.max_tokens = 999;
    expect_error(batch_plan_make(&plan, ds, all, 4, &po, NULL), LS_ERR_RANGE, "'r1000'",
                 "1000 long");
    free(all);
    batch_free(&b);
    dataset_free(ds);
}

static void test_batch_audio(void **state) {
    (void)state;
    Dataset *ds = new_dataset(DATASET_LABELS_OPTIONAL);
    float s1[8] = {0.0f, 0.5f, -0.5f, 1.0f, -1.0f, 0.25f, 0.0f, 0.1f};
    float s2[3] = {0.9f, -0.9f, 0.0f};
    assert_int_equal(dataset_add_samples(ds, "a", s1, 8, 8000, "one", SPLIT_NONE), 0);
    assert_int_equal(dataset_add_samples(ds, "b", s2, 3, 8000, "two", SPLIT_NONE), 0);
    expect_error(dataset_add_samples(ds, "c", s2, 3, 16000, NULL, SPLIT_NONE), LS_ERR_FORMAT,
                 "16000", "8000");
    assert_int_equal(dataset_finish(ds, NULL), 0);
    assert_int_equal(dataset_kind(ds), EXAMPLE_AUDIO);
    assert_int_equal(dataset_sample_rate(ds), 8000);
    DatasetItem items[2] = {{0, 0, 8}, {1, 0, 3}};
    Batch b = {0};
    assert_int_equal(batch_fill(&b, ds, items, 2, NULL), 0);
    assert_int_equal(b.L, 8);
    assert_non_null(b.samples);
    assert_non_null(b.tokens);
    for (int j = 0; j < 8; j++) {
        assert_true(b.samples[j] == s1[j]);
        assert_int_equal(b.tokens[j], mulaw_encode(s1[j]));
        assert_true(b.samples[8 + j] == (j < 3 ? s2[j] : 0.0f));
        assert_int_equal(b.tokens[8 + j], mulaw_encode(j < 3 ? s2[j] : 0.0f));
    }
    BatchOptions bo = {.pad_token = -1, .audio_codes = AUDIO_CODES_LINEAR8};
    assert_int_equal(batch_fill(&b, ds, items, 2, &bo), 0);
    assert_int_equal(b.tokens[3], linear_encode(1.0f, 8));
    assert_int_equal(b.tokens[15], linear_encode(0.0f, 8));
    bo.audio_codes = AUDIO_CODES_NONE;
    assert_int_equal(batch_fill(&b, ds, items, 2, &bo), 0);
    assert_null(b.tokens);
    assert_true(b.samples[8 + 1] == s2[1]);
    batch_free(&b);
    dataset_free(ds);
}

// ---------------------------------------------------------------------------- loading files

static void test_load_fasta_with_labels(void **state) {
    (void)state;
    Dataset *ds = new_dataset(DATASET_LABELS_REQUIRED);
    assert_int_equal(dataset_read_labels(ds, DATA "labels.tsv"), 0);
    expect_error(dataset_read_labels(ds, DATA "labels.tsv"), LS_ERR_USAGE, "already");
    assert_int_equal(dataset_add(ds, DATA "small.fa", NULL, SPLIT_NONE), 0);
    assert_int_equal(dataset_finish(ds, NULL), 0);
    assert_int_equal(dataset_count(ds), 4);
    assert_int_equal(dataset_kind(ds), EXAMPLE_DNA);
    assert_int_equal(dataset_sample_rate(ds), 0);
    const Example *r2 = find_example(ds, "r2");
    assert_int_equal(r2->length, 10);
    /* acgtnNNacg: soft-masked bases read as upper case by default */
    const uint8_t want[10] = {0, 1, 2, 3, 4, 4, 4, 0, 1, 2};
    assert_memory_equal(r2->tokens, want, 10);
    assert_string_equal(r2->source, DATA "small.fa");
    assert_int_equal(find_example(ds, "r3")->length, 8);
    assert_string_equal(label_map_name(dataset_labels(ds), 0), "neg");
    assert_string_equal(label_name_of(ds, "r1"), "pos");
    assert_string_equal(label_name_of(ds, "r2"), "neg");
    dataset_free(ds);

    /* soft-mask as N */
    DatasetOptions opt;
    dataset_options_default(&opt);
    opt.softmask = DNA_SOFTMASK_AS_N;
    assert_int_equal(dataset_init(&ds, &opt), 0);
    assert_int_equal(dataset_add(ds, DATA "small.fa", NULL, SPLIT_NONE), 0);
    assert_int_equal(dataset_finish(ds, NULL), 0);
    assert_int_equal(find_example(ds, "r2")->tokens[0], DNA_N);
    assert_int_equal(find_example(ds, "r1")->tokens[0], DNA_A);
    assert_int_equal(find_example(ds, "r1")->label, -1);
    dataset_free(ds);
}

static void test_label_errors_end_to_end(void **state) {
    (void)state;
    /* a record with no label: the error names the file and the record */
    const char *labels = tmp_write("partial.tsv", "r1\tpos\nr2\tneg\nr3\tpos\nzz\tneg\n");
    Dataset *ds = new_dataset(DATASET_LABELS_REQUIRED);
    assert_int_equal(dataset_read_labels(ds, labels), 0);
    assert_int_equal(dataset_add(ds, DATA "small.fa", NULL, SPLIT_NONE), 0);
    expect_error(dataset_finish(ds, NULL), LS_ERR_FORMAT, "small.fa", "'r4' has no label",
                 "partial.tsv");
    dataset_free(ds);
    /* an unknown label against a model's map: the table's file and line */
    const char *other = tmp_write("other.tsv", "r1\tpos\nr2\tneg\nr3\tmaybe\nr4\tneg\n");
    LabelMap *fixed = NULL;
    assert_int_equal(label_map_from_json(&fixed, "[\"neg\",\"pos\"]", "model"), 0);
    ds = new_dataset(DATASET_LABELS_REQUIRED);
    assert_int_equal(dataset_read_labels(ds, other), 0);
    assert_int_equal(dataset_add(ds, DATA "small.fa", NULL, SPLIT_NONE), 0);
    expect_error(dataset_finish(ds, fixed), LS_ERR_FORMAT, "other.tsv:3:",
                 "unknown label 'maybe'", "known labels: neg, pos");
    dataset_free(ds);
    label_map_free(fixed);
    /* records with the same name in two files cannot take labels from one table */
    char fasta[256];
    snprintf(fasta, sizeof fasta, "%s", tmp_write("copy.fa", ">r1\nACGT\n"));
    ds = new_dataset(DATASET_LABELS_REQUIRED);
    assert_int_equal(dataset_read_labels(ds, DATA "labels.tsv"), 0);
    assert_int_equal(dataset_add(ds, DATA "small.fa", NULL, SPLIT_NONE), 0);
    assert_int_equal(dataset_add(ds, fasta, NULL, SPLIT_NONE), 0);
    expect_error(dataset_finish(ds, NULL), LS_ERR_FORMAT, "copy.fa", "'r1' appears twice",
                 "small.fa");
    dataset_free(ds);
    /* but their own labels (class files) make them fine */
    ds = new_dataset(DATASET_LABELS_REQUIRED);
    assert_int_equal(dataset_add(ds, DATA "small.fa", "a", SPLIT_NONE), 0);
    assert_int_equal(dataset_add(ds, fasta, "b", SPLIT_NONE), 0);
    assert_int_equal(dataset_finish(ds, NULL), 0);
    assert_int_equal(dataset_count(ds), 5);
    dataset_free(ds);
    /* skip: unlabelled records dropped */
    DatasetOptions opt;
    dataset_options_default(&opt);
    opt.labels = DATASET_LABELS_REQUIRED;
    opt.skip_unlabelled = 1;
    assert_int_equal(dataset_init(&ds, &opt), 0);
    assert_int_equal(dataset_read_labels(ds, labels), 0);
    assert_int_equal(dataset_add(ds, DATA "small.fa", NULL, SPLIT_NONE), 0);
    assert_int_equal(dataset_finish(ds, NULL), 0);
    assert_int_equal(dataset_count(ds), 3);
    dataset_free(ds);
}

static void test_manifest(void **state) {
    (void)state;
    Dataset *ds = new_dataset(DATASET_LABELS_REQUIRED);
    assert_int_equal(dataset_add(ds, DATA "manifest.tsv", NULL, SPLIT_NONE), 0);
    assert_int_equal(dataset_finish(ds, NULL), 0);
    assert_int_equal(dataset_count(ds), 3);
    const Example *r1 = find_example(ds, "r1"); /* file.fa:seqname */
    assert_int_equal(r1->length, 10);
    assert_int_equal(r1->split, SPLIT_TRAIN);
    assert_string_equal(label_name_of(ds, "r1"), "pos");
    const Example *reg = find_example(ds, "r2:3-8"); /* samtools region: gtnNNa */
    assert_int_equal(reg->length, 6);
    const uint8_t want[6] = {2, 3, 4, 4, 4, 0};
    assert_memory_equal(reg->tokens, want, 6);
    assert_int_equal(reg->split, SPLIT_VALID);
    assert_string_equal(label_name_of(ds, "r2:3-8"), "neg");
    const Example *txt = find_example(ds, "gb/positive/0.txt"); /* named as written */
    assert_int_equal(txt->length, 6);
    assert_int_equal(txt->split, SPLIT_TEST);
    dataset_free(ds);

    /* relative to the manifest's folder, from anywhere; header names the columns */
    char line[1024], cwd[512];
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(line, sizeof line, "#file\tdigit\tsplit\n%s/" DATA "small.fa\t7\tdev\n", cwd);
    ds = new_dataset(DATASET_LABELS_REQUIRED);
    const char *m = tmp_write("sub/abs.tsv", line);
    assert_int_equal(dataset_add(ds, m, NULL, SPLIT_TRAIN), 0);
    assert_int_equal(dataset_finish(ds, NULL), 0);
    assert_int_equal(dataset_count(ds), 4);
    assert_int_equal(dataset_example(ds, 0)->split, SPLIT_VALID);
    assert_string_equal(label_name_of(ds, "r4"), "7"); /* 'digit': the label column */
    dataset_free(ds);

    tmp_write("rel/seqs/a.fa", ">a1\nACGT\n>a2\nGG\n");
    tmp_write("rel/seqs/b.fa", ">b1\nTTTT\n");
    m = tmp_write("rel/list.tsv", "seqs/a.fa\tx\nseqs/b.fa\ty\ttest\n");
    ds = new_dataset(DATASET_LABELS_REQUIRED);
    assert_int_equal(dataset_add(ds, m, NULL, SPLIT_TRAIN), 0);
    assert_int_equal(dataset_finish(ds, NULL), 0);
    assert_int_equal(dataset_count(ds), 3);
    assert_int_equal(find_example(ds, "a2")->split, SPLIT_TRAIN); /* the default */
    assert_int_equal(find_example(ds, "b1")->split, SPLIT_TEST);
    assert_string_equal(label_name_of(ds, "b1"), "y");
    dataset_free(ds);
    /* split-only manifest (language modelling): no labels */
    m = tmp_write("rel/lm.tsv", "#file\tsplit\nseqs/a.fa\ttrain\nseqs/b.fa\tvalid\n");
    ds = new_dataset(DATASET_LABELS_OPTIONAL);
    assert_int_equal(dataset_add(ds, m, NULL, SPLIT_NONE), 0);
    assert_int_equal(dataset_finish(ds, NULL), 0);
    assert_int_equal(find_example(ds, "b1")->label, -1);
    assert_int_equal(find_example(ds, "b1")->split, SPLIT_VALID);
    dataset_free(ds);
}

static void test_manifest_errors(void **state) {
    (void)state;
    tmp_write("bad/a.fa", ">a1\nACGT\n");
    struct {
        const char *name, *text, *piece1, *piece2;
        int code;
    } cases[] = {
        {"bad/missing.tsv", "a.fa\tx\nnot_there.fa\ty\n", "missing.tsv:2:", "not_there.fa",
         LS_ERR_IO},
        {"bad/empty.tsv", "# only a header\n\n", "empty.tsv", "empty manifest", LS_ERR_FORMAT},
        {"bad/dup.tsv", "a.fa\tx\n./a.fa\tx\na.fa\ty\n", "dup.tsv:2:", "given twice",
         LS_ERR_USAGE},
        {"bad/dup2.tsv", "a.fa\tx\na.fa\ty\n", "dup2.tsv:2:", "listed twice (first on line 1)",
         LS_ERR_FORMAT},
        {"bad/split.tsv", "a.fa\tx\tholdout\n", "split.tsv:1:", "unknown split 'holdout'",
         LS_ERR_FORMAT},
        {"bad/label.tsv", "#file\tlabel\na.fa\t\n", "label.tsv:2:", "empty label", LS_ERR_FORMAT},
        {"bad/nolabel.tsv", "#file\tlabel\tsplit\na.fa\n", "nolabel.tsv:2:", "no label column",
         LS_ERR_FORMAT},
        {"bad/source.tsv", "\tx\n", "source.tsv:1:", "empty source", LS_ERR_FORMAT},
        {"bad/nested.tsv", "missing.tsv\tx\n", "nested.tsv:1:", "another manifest", LS_ERR_USAGE},
        {"bad/region.tsv", "a.fa:nope\tx\n", "region.tsv:1:", "nope", LS_ERR_NOT_FOUND},
        {"bad/colon.tsv", "a.fa:\tx\n", "colon.tsv:1:", "empty region", LS_ERR_USAGE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *m = tmp_write(cases[i].name, cases[i].text);
        Dataset *ds = new_dataset(DATASET_LABELS_REQUIRED);
        int status = dataset_add(ds, m, NULL, SPLIT_NONE);
        if (status != cases[i].code || !strstr(ls_error_message(), cases[i].piece1) ||
            !strstr(ls_error_message(), cases[i].piece2))
            fail_msg("%s: status %d, message \"%s\"; expected %d with \"%s\" and \"%s\"",
                     cases[i].name, status, ls_error_message(), cases[i].code, cases[i].piece1,
                     cases[i].piece2);
        dataset_free(ds);
    }
    /* a label given to a manifest that has its own */
    Dataset *ds = new_dataset(DATASET_LABELS_REQUIRED);
    expect_error(dataset_add(ds, tmp_write("bad/own.tsv", "a.fa\tx\n"), "y", SPLIT_NONE),
                 LS_ERR_USAGE, "own.tsv:1:", "gives labels");
    dataset_free(ds);
}

static void test_sources_and_colon_rule(void **state) {
    (void)state;
    Dataset *ds = new_dataset(DATASET_LABELS_OPTIONAL);
    /* a file whose name holds ':' */
    tmp_write("colon/a:b.fa", ">q1\nACGT\n>q2\nGGGG\n");
    char src[512];
    snprintf(src, sizeof src, "%s/colon/a:b.fa", tmp_dir);
    assert_int_equal(dataset_add(ds, src, NULL, SPLIT_NONE), 0); /* whole string exists */
    assert_int_equal(dataset_count(ds), 2);
    dataset_free(ds);
    ds = new_dataset(DATASET_LABELS_OPTIONAL);
    snprintf(src, sizeof src, "%s/colon/a:b.fa:q2", tmp_dir); /* record by name, no index */
    assert_int_equal(dataset_add(ds, src, NULL, SPLIT_NONE), 0);
    assert_int_equal(dataset_count(ds), 1);
    assert_string_equal(dataset_example(ds, 0)->name, "q2");
    snprintf(src, sizeof src, "%s/colon/nothing.fa:q2", tmp_dir);
    expect_error(dataset_add(ds, src, NULL, SPLIT_NONE), LS_ERR_IO, "nothing.fa:q2",
                 "No such file");
    /* region with coordinates on an indexed file */
    assert_int_equal(dataset_add(ds, DATA "small.fa:r4:1-4", NULL, SPLIT_NONE), 0);
    assert_int_equal(find_example(ds, "r4:1-4")->length, 4);
    /* the same file (and region) twice, even spelled differently */
    expect_error(dataset_add(ds, "./" DATA "small.fa:r4:1-4", NULL, SPLIT_NONE), LS_ERR_USAGE,
                 "given twice");
    assert_int_equal(dataset_add(ds, DATA "small.fa", NULL, SPLIT_NONE), 0);
    expect_error(dataset_add(ds, "tests/data/../data/dataset/small.fa", NULL, SPLIT_NONE),
                 LS_ERR_USAGE, "given twice", "first as " DATA "small.fa");
    /* a checkpoint is not data */
    FILE *fp = fopen(tmp_path("model.safetensors"), "wb");
    fwrite("\x02\0\0\0\0\0\0\0{}", 1, 10, fp);
    fclose(fp);
    expect_error(dataset_add(ds, tmp_path("model.safetensors"), NULL, SPLIT_NONE), LS_ERR_USAGE,
                 "checkpoint");
    dataset_free(ds);
    /* bad class arguments */
    ds = new_dataset(DATASET_LABELS_REQUIRED);
    expect_error(dataset_add_class(ds, "promoter"), LS_ERR_USAGE, "LABEL=SOURCE");
    expect_error(dataset_add_class(ds, "=a.fa"), LS_ERR_USAGE, "LABEL=SOURCE");
    expect_error(dataset_add_class(ds, "x="), LS_ERR_USAGE, "LABEL=SOURCE");
    /* class per file */
    tmp_write("cls/prom.fa", ">p1\nACGT\n>p2\nACGA\n");
    tmp_write("cls/other.fa", ">o1\nTTGA\n");
    snprintf(src, sizeof src, "promoter=%s/cls/prom.fa", tmp_dir);
    assert_int_equal(dataset_add_class(ds, src), 0);
    snprintf(src, sizeof src, "other=%s/cls/other.fa", tmp_dir);
    assert_int_equal(dataset_add_class(ds, src), 0);
    assert_int_equal(dataset_finish(ds, NULL), 0);
    assert_string_equal(label_name_of(ds, "p2"), "promoter");
    assert_string_equal(label_name_of(ds, "o1"), "other");
    assert_int_equal(label_of(ds, "o1"), 0);
    dataset_free(ds);
    /* a text file with a bad byte: file, line and column */
    ds = new_dataset(DATASET_LABELS_OPTIONAL);
    expect_error(dataset_add(ds, tmp_write("bad.txt", "ACGT\nAC-T\n"), NULL, SPLIT_NONE),
                 LS_ERR_FORMAT, "bad.txt:2:3:", "'-'");
    expect_error(dataset_add(ds, tmp_write("blank.txt", " \n\n"), NULL, SPLIT_NONE),
                 LS_ERR_FORMAT, "blank.txt", "no bases");
    /* a .txt that is FASTA after all */
    assert_int_equal(dataset_add(ds, tmp_write("fasta.txt", ">t1\nAC\n"), NULL, SPLIT_NONE), 0);
    assert_string_equal(dataset_example(ds, 0)->name, "t1");
    dataset_free(ds);
}

static void test_class_directory(void **state) {
    (void)state;
    Dataset *ds = new_dataset(DATASET_LABELS_REQUIRED);
    assert_int_equal(dataset_add(ds, DATA "gb", NULL, SPLIT_NONE), 0); /* README ignored */
    assert_int_equal(dataset_finish(ds, NULL), 0);
    assert_int_equal(dataset_count(ds), 4);
    assert_string_equal(dataset_example(ds, 0)->name, DATA "gb/negative/0.txt"); /* sorted */
    assert_string_equal(label_map_name(dataset_labels(ds), 0), "negative");
    assert_string_equal(label_name_of(ds, DATA "gb/positive/1.txt"), "positive");
    assert_int_equal(find_example(ds, DATA "gb/positive/1.txt")->length, 7); /* GGCCA TT */
    dataset_free(ds);
    /* a flat directory: files without labels; the table labels them by path */
    tmp_write("flat/x.fa", ">x1\nAC\n");
    tmp_write("flat/y.txt", "GGT\n");
    tmp_write("flat/x.fa.fai", "x1\t2\t4\t2\t3\n");
    tmp_write("flat/notes.md", "ignored\n");
    const char *labels = tmp_write("flat/labels.tsv", "x1\ta\ny.txt\tb\n");
    ds = new_dataset(DATASET_LABELS_REQUIRED);
    assert_int_equal(dataset_read_labels(ds, labels), 0);
    assert_int_equal(dataset_add(ds, tmp_path("flat"), NULL, SPLIT_NONE), 0);
    assert_int_equal(dataset_finish(ds, NULL), 0);
    assert_int_equal(dataset_count(ds), 2);
    assert_string_equal(label_map_name(dataset_labels(ds), dataset_example(ds, 1)->label), "b");
    dataset_free(ds);
    /* errors: mixed layout, empty class, nested class folders, nothing to read, label given */
    tmp_write("mixed/a.fa", ">m\nAC\n");
    tmp_write("mixed/cls/b.fa", ">n\nAC\n");
    tmp_write("emptycls/pos/a.fa", ">m\nAC\n");
    mkdir(tmp_path("emptycls/neg"), 0755);
    tmp_write("nested/pos/deeper/a.fa", ">m\nAC\n");
    tmp_write("nodata/readme.md", "x\n");
    ds = new_dataset(DATASET_LABELS_REQUIRED);
    expect_error(dataset_add(ds, tmp_path("mixed"), NULL, SPLIT_NONE), LS_ERR_FORMAT, "mixed",
                 "both data files");
    expect_error(dataset_add(ds, tmp_path("emptycls"), NULL, SPLIT_NONE), LS_ERR_FORMAT,
                 "emptycls/neg", "empty class directory");
    expect_error(dataset_add(ds, tmp_path("nested"), NULL, SPLIT_NONE), LS_ERR_FORMAT,
                 "nested/pos/deeper", "inside a class directory");
    expect_error(dataset_add(ds, tmp_path("nodata"), NULL, SPLIT_NONE), LS_ERR_FORMAT, "nodata",
                 "no sequence or audio files");
    expect_error(dataset_add(ds, DATA "gb", "x", SPLIT_NONE), LS_ERR_USAGE, "gb",
                 "own labels");
    dataset_free(ds);
}

// ---------------------------------------------------------------------------- shipped data

static void test_examples_bacteria(void **state) {
    (void)state;
    Dataset *ds = new_dataset(DATASET_LABELS_REQUIRED);
    assert_int_equal(dataset_read_labels(ds, EXAMPLES "dna/bacteria_train.labels.tsv"), 0);
    assert_int_equal(dataset_add(ds, EXAMPLES "dna/bacteria_train.fa.gz", NULL, SPLIT_NONE), 0);
    assert_int_equal(dataset_finish(ds, NULL), 0);
    assert_int_equal(dataset_count(ds), 240);
    const LabelMap *map = dataset_labels(ds);
    const char *species[] = {"ecoli", "hpylori", "saureus", "vcholerae"};
    assert_int_equal(label_map_count(map), 4);
    for (int i = 0; i < 4; i++) assert_string_equal(label_map_name(map, i), species[i]);
    DatasetStats st;
    int64_t per[4];
    dataset_stats(ds, NULL, 0, &st, per);
    assert_int_equal(st.min_length, 1000);
    assert_int_equal(st.max_length, 1000);
    for (int i = 0; i < 4; i++) assert_int_equal(per[i], 60);
    assert_string_equal(label_name_of(ds, "saureus_007"), "saureus");
    /* a stratified 20 % validation split: 12 per species */
    SplitOptions so = {.seed = 1, .valid_fraction = 0.2, .stratify = 1};
    assert_int_equal(dataset_assign_splits(ds, &so), 0);
    int64_t *idx, n;
    assert_int_equal(dataset_split_indices(ds, SPLIT_VALID, &idx, &n), 0);
    assert_int_equal(n, 48);
    dataset_stats(ds, idx, n, &st, per);
    for (int i = 0; i < 4; i++) assert_int_equal(per[i], 12);
    /* the model's map saved and restored: the test set finishes against it */
    char *json;
    assert_int_equal(label_map_to_json(map, &json), 0);
    LabelMap *restored;
    assert_int_equal(label_map_from_json(&restored, json, "checkpoint"), 0);
    Dataset *test = new_dataset(DATASET_LABELS_REQUIRED);
    assert_int_equal(dataset_read_labels(test, EXAMPLES "dna/bacteria_test.labels.tsv"), 0);
    assert_int_equal(dataset_add(test, EXAMPLES "dna/bacteria_test.fa.gz", NULL, SPLIT_NONE), 0);
    assert_int_equal(dataset_finish(test, restored), 0);
    assert_int_equal(dataset_count(test), 100);
    assert_int_equal(label_of(test, "vcholerae_001"), 3);
    free(json);
    free(idx);
    label_map_free(restored);
    dataset_free(test);
    dataset_free(ds);
}

static void test_examples_apes_windows(void **state) {
    (void)state;
    /* the species task: one long record per species, label by record name, windows */
    const char *labels = tmp_write("apes.tsv", "hsap.dev.slice\thsap\nptro.dev.slice\tptro\n"
                                               "ggor.dev.slice\tggor\nppyg.dev.slice\tppyg\n");
    Dataset *ds = new_dataset(DATASET_LABELS_REQUIRED);
    assert_int_equal(dataset_read_labels(ds, labels), 0);
    assert_int_equal(dataset_add(ds, EXAMPLES "dna/apes_chr22_dev_slice.fa.gz", NULL, SPLIT_NONE),
                     0);
    assert_int_equal(dataset_finish(ds, NULL), 0);
    assert_int_equal(dataset_count(ds), 4);
    for (int64_t i = 0; i < 4; i++) assert_int_equal(dataset_example(ds, i)->length, 20000);
    WindowSampler *ws;
    assert_int_equal(window_sampler_init(&ws, ds, NULL, 0, 5000, 1, 42), 0);
    DatasetItem items[400];
    window_sampler_next(ws, items, 400);
    int64_t per[4] = {0};
    for (int k = 0; k < 400; k++) {
        assert_true(items[k].offset + 5000 <= 20000);
        per[dataset_example(ds, items[k].example)->label]++;
    }
    for (int l = 0; l < 4; l++) assert_true(per[l] > 70 && per[l] < 130);
    Batch b = {0};
    assert_int_equal(batch_fill(&b, ds, items, 8, NULL), 0);
    assert_int_equal(b.L, 5000);
    const Example *ex = dataset_example(ds, items[0].example);
    assert_memory_equal(b.tokens, ex->tokens + items[0].offset, 5000);
    batch_free(&b);
    window_sampler_free(ws);
    DatasetItem *eval;
    int64_t n;
    assert_int_equal(window_eval_items(ds, NULL, 0, 5000, 0, 0, &eval, &n), 0);
    assert_int_equal(n, 16);
    free(eval);
    expect_error(window_sampler_init(&ws, ds, NULL, 0, 20001, 0, 1), LS_ERR_RANGE,
                 "longer than every example", "20000");
    dataset_free(ds);
}

static void write_tone(const char *name, int rate, int64_t frames, int channels) {
    float *x = malloc((size_t)(frames * channels) * sizeof *x);
    assert_non_null(x);
    for (int64_t i = 0; i < frames; i++)
        for (int c = 0; c < channels; c++)
            x[i * channels + c] = 0.5f * sinf(2.0f * 3.14159265f * 440.0f * (float)i / (float)rate);
    assert_int_equal(audio_write(tmp_path(name), x, frames, channels, rate,
                                 AUDIO_WRITE_WAV_PCM16),
                     0);
    free(x);
}

static void test_audio_sources(void **state) {
    (void)state;
    mkdir(tmp_path("fsdd"), 0755);
    mkdir(tmp_path("fsdd/recordings"), 0755);
    write_tone("fsdd/recordings/0_a_0.wav", 8000, 800, 1);
    write_tone("fsdd/recordings/0_a_1.wav", 8000, 1200, 1);
    write_tone("fsdd/recordings/1_b_0.wav", 8000, 900, 2);
    const char *m = tmp_write("fsdd/split.tsv", "#file\tlabel\tsplit\tspeaker\n"
                                                "recordings/0_a_0.wav\t0\ttest\ta\n"
                                                "recordings/0_a_1.wav\t0\ttrain\ta\n"
                                                "recordings/1_b_0.wav\t1\ttrain\tb\n");
    Dataset *ds = new_dataset(DATASET_LABELS_REQUIRED);
    assert_int_equal(dataset_add(ds, m, NULL, SPLIT_NONE), 0);
    assert_int_equal(dataset_finish(ds, NULL), 0);
    assert_int_equal(dataset_kind(ds), EXAMPLE_AUDIO);
    assert_int_equal(dataset_sample_rate(ds), 8000);
    assert_int_equal(dataset_count(ds), 3);
    const Example *ex = find_example(ds, "recordings/0_a_1.wav");
    assert_int_equal(ex->length, 1200);
    assert_int_equal(ex->split, SPLIT_TRAIN);
    assert_null(ex->tokens);
    assert_true(fabsf(ex->samples[100] - 0.5f * sinf(2.0f * 3.14159265f * 440.0f * 100 / 8000)) <
                1e-3f);
    assert_int_equal(find_example(ds, "recordings/1_b_0.wav")->length, 900); /* stereo → mono */
    assert_string_equal(label_name_of(ds, "recordings/1_b_0.wav"), "1");
    DatasetItem *items;
    assert_int_equal(dataset_items_whole(ds, NULL, 0, &items), 0);
    Batch b = {0};
    assert_int_equal(batch_fill(&b, ds, items, 3, NULL), 0);
    assert_int_equal(b.L, 1200);
    assert_true(b.samples[0 * 1200 + 1000] == 0.0f); /* 800-sample row padded */
    assert_int_equal(b.tokens[0 * 1200 + 1000], mulaw_encode(0.0f));
    batch_free(&b);
    free(items);
    dataset_free(ds);

    /* a flat directory of audio files, labels from a table keyed by path relative to it */
    const char *labels = tmp_write("fsdd/labels.tsv", "#file\tdigit\nrecordings/0_a_0.wav\t0\n"
                                                      "recordings/0_a_1.wav\t0\n"
                                                      "recordings/1_b_0.wav\t1\n");
    ds = new_dataset(DATASET_LABELS_REQUIRED);
    assert_int_equal(dataset_read_labels(ds, labels), 0);
    assert_int_equal(dataset_add(ds, tmp_path("fsdd/recordings"), NULL, SPLIT_NONE), 0);
    assert_int_equal(dataset_finish(ds, NULL), 0);
    assert_int_equal(dataset_count(ds), 3);
    assert_string_equal(label_map_name(dataset_labels(ds), dataset_example(ds, 2)->label), "1");
    dataset_free(ds);
    /* the same table read as a manifest (its first column are sources) */
    ds = new_dataset(DATASET_LABELS_REQUIRED);
    assert_int_equal(dataset_add(ds, labels, NULL, SPLIT_NONE), 0);
    assert_int_equal(dataset_finish(ds, NULL), 0);
    assert_int_equal(dataset_count(ds), 3);
    dataset_free(ds);

    /* mixed rates: an error unless a rate to resample to is given */
    write_tone("rate16k.wav", 16000, 1600, 1);
    ds = new_dataset(DATASET_LABELS_OPTIONAL);
    assert_int_equal(dataset_add(ds, tmp_path("fsdd/recordings/0_a_0.wav"), NULL, SPLIT_NONE), 0);
    expect_error(dataset_add(ds, tmp_path("rate16k.wav"), NULL, SPLIT_NONE), LS_ERR_FORMAT,
                 "rate16k.wav", "16000", "8000");
    /* DNA into an audio dataset */
    expect_error(dataset_add(ds, DATA "small.fa", NULL, SPLIT_NONE), LS_ERR_USAGE, "small.fa",
                 "already holds audio");
    /* an audio file takes no region */
    expect_error(dataset_add(ds, tmp_path("fsdd/recordings/0_a_1.wav:x"), NULL, SPLIT_NONE),
                 LS_ERR_UNSUPPORTED, "0_a_1.wav", "audio");
    dataset_free(ds);
    DatasetOptions opt;
    dataset_options_default(&opt);
    opt.sample_rate = 16000;
    assert_int_equal(dataset_init(&ds, &opt), 0);
    assert_int_equal(dataset_add(ds, tmp_path("fsdd/recordings/0_a_0.wav"), NULL, SPLIT_NONE), 0);
    assert_int_equal(dataset_add(ds, tmp_path("rate16k.wav"), NULL, SPLIT_NONE), 0);
    assert_int_equal(dataset_finish(ds, NULL), 0);
    assert_int_equal(dataset_sample_rate(ds), 16000);
    assert_int_equal(dataset_example(ds, 0)->length, 1600); /* 800 at 8 kHz → 1600 */
    assert_int_equal(dataset_example(ds, 1)->length, 1600);
    dataset_free(ds);

    /* the shipped example audio: WAV, OGG, FLAC (stereo) resampled to one rate */
    assert_int_equal(dataset_init(&ds, &opt), 0);
    assert_int_equal(dataset_add(ds, EXAMPLES "audio", NULL, SPLIT_NONE), 0);
    assert_int_equal(dataset_finish(ds, NULL), 0);
    assert_int_equal(dataset_count(ds), 4);
    assert_int_equal(find_example(ds, EXAMPLES "audio/morning_coffee_5s.wav")->length, 80000);
    dataset_free(ds);
}

/* MP3 beside WAV in a class folder (by content: libsndfile's MP3 starts with a frame, not a
 * magic word); a float WAV holding NaN is refused naming file and frame. */
static void test_mp3_and_nonfinite_audio(void **state) {
    (void)state;
    mkdir(tmp_path("mp3cls"), 0755);
    mkdir(tmp_path("mp3cls/tone"), 0755);
    write_tone("mp3cls/tone/a.wav", 8000, 2000, 1);
    float x[2000];
    for (int i = 0; i < 2000; i++) x[i] = 0.5f * sinf(2.0f * 3.14159265f * 440.0f * i / 8000);
    SF_INFO si = {.samplerate = 8000, .channels = 1,
                  .format = SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III};
    SNDFILE *sf = sf_open(tmp_path("mp3cls/tone/b.mp3"), SFM_WRITE, &si);
    assert_non_null(sf);
    assert_int_equal(sf_writef_float(sf, x, 2000), 2000);
    assert_int_equal(sf_close(sf), 0);
    Dataset *ds = new_dataset(DATASET_LABELS_OPTIONAL);
    char arg[600];
    snprintf(arg, sizeof arg, "tone=%s", tmp_path("mp3cls/tone"));
    assert_int_equal(dataset_add_class(ds, arg), 0);
    assert_int_equal(dataset_finish(ds, NULL), 0);
    assert_int_equal(dataset_kind(ds), EXAMPLE_AUDIO);
    assert_int_equal(dataset_count(ds), 2);
    char name[600];
    snprintf(name, sizeof name, "%s", tmp_path("mp3cls/tone/b.mp3"));
    const Example *mp3 = find_example(ds, name);
    assert_int_equal(mp3->length, 2000);
    assert_non_null(mp3->samples);
    assert_string_equal(label_name_of(ds, name), "tone");
    dataset_free(ds);

    x[1234] = NAN;
    assert_int_equal(audio_write(tmp_path("nan.wav"), x, 2000, 1, 8000, AUDIO_WRITE_WAV_FLOAT), 0);
    ds = new_dataset(DATASET_LABELS_OPTIONAL);
    expect_error(dataset_add(ds, tmp_path("nan.wav"), NULL, SPLIT_NONE), LS_ERR_FORMAT,
                 "nan.wav", "frame 1234, channel 1: sample is NaN");
    dataset_free(ds);
}

/* "-" is read once, through its kind (audio or DNA); naming it twice, or with /dev/stdin,
 * is a usage error. */
static void test_stdin_sources(void **state) {
    (void)state;
    int saved = dup(0);
    const char *fa = tmp_write("stdin.fa", ">s1\nACGT\n>s2\nGG\n");
    for (int pass = 0; pass < 2; pass++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        assert_int_equal(write(p[1], ">s1\nACGT\n>s2\nGG\n", 16), 16);
        close(p[1]);
        dup2(p[0], 0);
        close(p[0]);
        Dataset *ds = new_dataset(DATASET_LABELS_OPTIONAL);
        assert_int_equal(dataset_add(ds, "-", NULL, SPLIT_NONE), 0);
        expect_error(dataset_add(ds, pass ? "/dev/stdin" : "-", NULL, SPLIT_NONE),
                     LS_ERR_USAGE, "the same data is given twice (first as -)");
        assert_int_equal(dataset_finish(ds, NULL), 0);
        assert_int_equal(dataset_count(ds), 2);
        assert_int_equal(dataset_example(ds, 0)->length, 4);
        dataset_free(ds);
    }
    /* a file on stdin is the file: naming it too is naming it twice */
    int fd = open(fa, O_RDONLY);
    dup2(fd, 0);
    close(fd);
    Dataset *ds = new_dataset(DATASET_LABELS_OPTIONAL);
    assert_int_equal(dataset_add(ds, "-", NULL, SPLIT_NONE), 0);
    expect_error(dataset_add(ds, fa, NULL, SPLIT_NONE), LS_ERR_USAGE, "given twice");
    dataset_free(ds);
    /* audio on stdin through a pipe is audio */
    write_tone("stdin.wav", 8000, 500, 1);
    FILE *f = fopen(tmp_path("stdin.wav"), "rb");
    assert_non_null(f);
    static unsigned char bytes[4096];
    size_t n = fread(bytes, 1, sizeof bytes, f);
    fclose(f);
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(write(p[1], bytes, n), (ssize_t)n);
    close(p[1]);
    dup2(p[0], 0);
    close(p[0]);
    ds = new_dataset(DATASET_LABELS_OPTIONAL);
    assert_int_equal(dataset_add(ds, "-", NULL, SPLIT_NONE), 0);
    assert_int_equal(dataset_finish(ds, NULL), 0);
    assert_int_equal(dataset_kind(ds), EXAMPLE_AUDIO);
    assert_int_equal(dataset_example(ds, 0)->length, 500);
    dataset_free(ds);
    dup2(saved, 0);
    close(saved);
}

// ---------------------------------------------------------------------------- main

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

// ---------------------------------------------------------------------------- safety

/* Labels and names that are not UTF-8 are refused when read, naming the file and the line
 * (or record), not when the model or embeddings are saved after the whole run. */
static void test_utf8_names_and_labels(void **state) {
    (void)state;
    LabelTable *t = NULL;
    expect_error(label_table_read(&t, tmp_write("latin1.tsv", "a\tgood\nb\tcaf\xe9\n")),
                 LS_ERR_FORMAT, "latin1.tsv:2: label 'caf\\xe9' is not valid UTF-8",
                 "byte 0xe9 at offset 3");
    expect_error(label_table_read(&t, tmp_write("latin1_name.tsv", "caf\xe9\tx\n")),
                 LS_ERR_FORMAT, "latin1_name.tsv:1: name 'caf\\xe9'");
    assert_null(t);

    Dataset *ds = new_dataset(DATASET_LABELS_REQUIRED);
    const char *fa = tmp_write("latin1.fa", ">ok\nACGT\n>caf\xe9\nACGT\n");
    expect_error(dataset_add(ds, fa, "x", SPLIT_NONE), LS_ERR_FORMAT,
                 "latin1.fa: record #2: name 'caf\\xe9' is not valid UTF-8");
    dataset_free(ds);

    tmp_write("m_utf8/a.fa", ">a\nACGT\n");
    ds = new_dataset(DATASET_LABELS_REQUIRED);
    expect_error(dataset_add(ds, tmp_write("m_utf8/label.tsv", "a.fa\tok\na.fa\tcaf\xe9\n"),
                             NULL, SPLIT_NONE),
                 LS_ERR_FORMAT, "label.tsv:2: label 'caf\\xe9'");
    dataset_free(ds);
    ds = new_dataset(DATASET_LABELS_REQUIRED);
    expect_error(dataset_add(ds, tmp_write("m_utf8/source.tsv", "caf\xe9.fa\tx\n"), NULL,
                             SPLIT_NONE),
                 LS_ERR_FORMAT, "source.tsv:1: source 'caf\\xe9.fa'");
    dataset_free(ds);
    /* without labels (predict) a manifest's label column is not read, so not checked */
    ds = new_dataset(DATASET_LABELS_NONE);
    assert_int_equal(dataset_add(ds, tmp_write("m_utf8/nolabels.tsv", "a.fa\tcaf\xe9\n"), NULL,
                                 SPLIT_NONE),
                     0);
    dataset_free(ds);

    /* a class folder's name is a label; a file's name names a whole-file example */
    tmp_write("cls_utf8/caf\xe9/a.fa", ">a\nACGT\n");
    tmp_write("cls_utf8/ok/b.fa", ">b\nACGT\n");
    ds = new_dataset(DATASET_LABELS_REQUIRED);
    expect_error(dataset_add(ds, tmp_path("cls_utf8"), NULL, SPLIT_NONE), LS_ERR_FORMAT,
                 "cls_utf8/caf\\xe9: label 'caf\\xe9'");
    dataset_free(ds);
    write_tone("caf\xe9.wav", 8000, 100, 1);
    ds = new_dataset(DATASET_LABELS_NONE);
    expect_error(dataset_add(ds, tmp_path("caf\xe9.wav"), NULL, SPLIT_NONE), LS_ERR_FORMAT,
                 "caf\\xe9.wav: the file name (it names the example) is not valid UTF-8",
                 "byte 0xe9");
    expect_error(dataset_add(ds, tmp_write("caf\xe9.txt", "ACGT\n"), NULL, SPLIT_NONE),
                 LS_ERR_FORMAT, "file name");
    dataset_free(ds);

    /* --class LABEL=SOURCE and in-memory examples */
    ds = new_dataset(DATASET_LABELS_REQUIRED);
    char arg[600];
    snprintf(arg, sizeof arg, "caf\xe9=%s", tmp_path("m_utf8/a.fa"));
    expect_error(dataset_add_class(ds, arg), LS_ERR_FORMAT, "label 'caf\\xe9'");
    const uint8_t tokens[4] = {0, 1, 2, 3};
    expect_error(dataset_add_tokens(ds, "caf\xe9", tokens, 4, NULL, SPLIT_NONE), LS_ERR_FORMAT,
                 "name 'caf\\xe9'");
    expect_error(dataset_add_tokens(ds, "s", tokens, 4, "\xff", SPLIT_NONE), LS_ERR_FORMAT,
                 "label '\\xff'");
    /* valid UTF-8 beyond ASCII is fine */
    assert_int_equal(dataset_add_tokens(ds, "caf\xc3\xa9", tokens, 4, "\xc3\xa9t\xc3\xa9",
                                        SPLIT_NONE),
                     0);
    assert_int_equal(dataset_add_tokens(ds, "s2", tokens, 4, "hiver", SPLIT_NONE), 0);
    assert_int_equal(dataset_finish(ds, NULL), 0);
    assert_string_equal(label_name_of(ds, "caf\xc3\xa9"), "\xc3\xa9t\xc3\xa9");
    dataset_free(ds);
}

/* A dataset of three in-memory examples; @p edit: 0 as is, 1 one base changed, 2 one label
 * changed, 3 the names changed. */
static Dataset *digest_dataset(int edit) {
    Dataset *ds = new_dataset(DATASET_LABELS_OPTIONAL);
    uint8_t tokens[40];
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 40; j++) tokens[j] = (uint8_t)((i * 7 + j * 3) % 5);
        if (edit == 1 && i == 1) tokens[17] = (uint8_t)((tokens[17] + 1) % 5);
        char name[16];
        snprintf(name, sizeof name, edit == 3 ? "renamed%d" : "s%d", i);
        const char *label = i == 2 ? (edit == 2 ? "b" : "a") : "a";
        if (i == 0) label = "b";
        assert_int_equal(dataset_add_tokens(ds, name, tokens, 30 + i, label, SPLIT_NONE), 0);
    }
    assert_int_equal(dataset_finish(ds, NULL), 0);
    return ds;
}

static void test_digest(void **state) {
    (void)state;
    Dataset *ds[4];
    for (int k = 0; k < 4; k++) ds[k] = digest_dataset(k);
    Dataset *again = digest_dataset(0);
    uint64_t d0 = dataset_digest(ds[0], NULL, 0, 0);
    assert_true(d0 == dataset_digest(again, NULL, 0, 0));         /* deterministic */
    assert_true(d0 != dataset_digest(ds[1], NULL, 0, 0));         /* one base */
    assert_true(d0 != dataset_digest(ds[2], NULL, 0, 0));         /* one label */
    assert_true(d0 == dataset_digest(ds[3], NULL, 0, 0));         /* names do not count */
    const int64_t order[3] = {0, 1, 2}, swapped[3] = {1, 0, 2};
    assert_true(d0 == dataset_digest(ds[0], order, 3, 0));
    assert_true(d0 != dataset_digest(ds[0], swapped, 3, 0));      /* order counts */
    assert_true(d0 != dataset_digest(ds[0], order, 2, 0));        /* so does a missing one */
    /* chained: the seed carries a previous digest on */
    uint64_t first = dataset_digest(ds[0], order, 1, 0);
    assert_true(dataset_digest(ds[0], order + 1, 2, first) ==
                dataset_digest(again, order + 1, 2, dataset_digest(again, order, 1, 0)));
    assert_true(dataset_digest(ds[0], order + 1, 2, first) !=
                dataset_digest(ds[1], order + 1, 2, first));
    /* audio: samples count bit for bit */
    Dataset *au[2];
    float x[64];
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < 64; i++) x[i] = 0.01f * (float)i;
        if (k) x[63] = nextafterf(x[63], 1.0f);
        au[k] = new_dataset(DATASET_LABELS_OPTIONAL);
        assert_int_equal(dataset_add_samples(au[k], "a", x, 64, 8000, NULL, SPLIT_NONE), 0);
        assert_int_equal(dataset_finish(au[k], NULL), 0);
    }
    assert_true(dataset_digest(au[0], NULL, 0, 0) != dataset_digest(au[1], NULL, 0, 0));
    for (int k = 0; k < 4; k++) dataset_free(ds[k]);
    dataset_free(again);
    dataset_free(au[0]);
    dataset_free(au[1]);
}

/* The files a dataset read, found again by identity (an output must not replace one). */
static void test_file_source(void **state) {
    (void)state;
    const char *a = tmp_write("read/dir/a.fa", ">a\nACGT\n");
    tmp_write("read/dir/b.fa", ">b\nACGT\n");
    const char *other = tmp_write("read/other.fa", ">o\nACGT\n");
    assert_int_equal(link(a, tmp_path("read/hard.fa")), 0);
    Dataset *ds = new_dataset(DATASET_LABELS_NONE);
    assert_int_equal(dataset_add(ds, tmp_path("read/dir"), NULL, SPLIT_NONE), 0);
    assert_int_equal(dataset_finish(ds, NULL), 0);
    const char *source = dataset_file_source(ds, a);
    assert_non_null(source);
    assert_non_null(strstr(source, "read/dir/a.fa"));
    /* a hard link to a file read through the directory is that file */
    assert_string_equal(dataset_file_source(ds, tmp_path("read/hard.fa")), source);
    assert_null(dataset_file_source(ds, other));
    assert_null(dataset_file_source(ds, tmp_path("read/none.fa")));
    dataset_free(ds);
}

static int setup(void **state) {
    (void)state;
    snprintf(tmp_dir, sizeof tmp_dir, "%s/ls_dataset_XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp_dir)) return -1;
    ls_log_set_level(LOG_LEVEL_ERROR); /* the expected warnings stay quiet */
    return 0;
}

static int teardown(void **state) {
    (void)state;
    return nftw(tmp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_reference),
        cmocka_unit_test(test_rng_state_and_ranges),
        cmocka_unit_test(test_label_table_good),
        cmocka_unit_test(test_label_table_errors),
        cmocka_unit_test(test_label_map_sort_and_json),
        cmocka_unit_test(test_label_map_json_errors),
        cmocka_unit_test(test_memory_dataset_labels),
        cmocka_unit_test(test_empty_dataset),
        cmocka_unit_test(test_split_hash),
        cmocka_unit_test(test_splits),
        cmocka_unit_test(test_window_sampler),
        cmocka_unit_test(test_eval_windows),
        cmocka_unit_test(test_batch_plan),
        cmocka_unit_test(test_batch_fill),
        cmocka_unit_test(test_batch_audio),
        cmocka_unit_test(test_load_fasta_with_labels),
        cmocka_unit_test(test_label_errors_end_to_end),
        cmocka_unit_test(test_manifest),
        cmocka_unit_test(test_manifest_errors),
        cmocka_unit_test(test_sources_and_colon_rule),
        cmocka_unit_test(test_class_directory),
        cmocka_unit_test(test_examples_bacteria),
        cmocka_unit_test(test_examples_apes_windows),
        cmocka_unit_test(test_audio_sources),
        cmocka_unit_test(test_utf8_names_and_labels),
        cmocka_unit_test(test_digest),
        cmocka_unit_test(test_file_source),
        cmocka_unit_test(test_mp3_and_nonfinite_audio),
        cmocka_unit_test(test_stdin_sources),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests_name("dataset", tests, setup, teardown);
}
