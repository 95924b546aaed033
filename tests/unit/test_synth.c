/*
 * test_synth.c — io/synth.h: the synthetic tasks. Determinism (same spec → same examples;
 * any example alone equals it in sequence; a pinned hash of the first examples of each task
 * so a change of any generator, or a machine that draws differently, fails here), the layout
 * of every task checked on many examples and several sizes (targets only where the task
 * puts them, the answers right, MQAR's answers absent from the input), every spec error
 * naming its key, and the dataset / batch path (rows generated on demand equal the
 * generator's, windows, padding, kinds).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>

#include "io/dataset.h"
#include "io/synth.h"
#include "models/model.h"
#include "pipeline/infer.h"
#include "pipeline/metrics.h"

static SynthTask parse_ok(const char *spec) {
    SynthTask t;
    int status = synth_parse(&t, spec);
    if (status != 0) fail_msg("synth_parse(\"%s\") failed: %s", spec, ls_error_message());
    return t;
}

/* Example i as the sequence with its answers in place (what the layouts check). */
static void gen(const SynthTask *t, int64_t i, int32_t *seq, uint8_t *target) {
    int status = synth_example(t, i, NULL, target, seq);
    if (status != 0) fail_msg("synth_example(%lld) failed: %s", (long long)i, ls_error_message());
}

/* Example i as the model reads it. */
static void gen_input(const SynthTask *t, int64_t i, int32_t *ids, uint8_t *target) {
    int status = synth_example(t, i, ids, target, NULL);
    if (status != 0) fail_msg("synth_example(%lld) failed: %s", (long long)i, ls_error_message());
}

/* The input is the sequence, except MQAR's answers: the filler 0 (Zoology's layout). */
static void check_input(const SynthTask *t, const int32_t *ids, const int32_t *seq,
                        const uint8_t *target) {
    for (int64_t j = 0; j < t->len; j++) {
        int32_t want = t->kind == SYNTH_MQAR && target[j] ? 0 : seq[j];
        if (ids[j] != want)
            fail_msg("%s: input %d at %lld, expected %d (answer %d, target %d)",
                     synth_kind_name(t->kind), ids[j], (long long)j, want, seq[j], target[j]);
    }
}

static int64_t count_targets(const uint8_t *target, int64_t L) {
    int64_t n = 0;
    for (int64_t i = 0; i < L; i++) n += target[i] != 0;
    return n;
}

// ---------------------------------------------------------------------------- determinism

/* FNV-1a over the ids and targets of examples 0..n-1. */
static uint64_t task_hash(const SynthTask *t, int64_t n) {
    int32_t *ids = malloc((size_t)t->len * sizeof *ids);
    uint8_t *target = malloc((size_t)t->len);
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int64_t i = 0; i < n; i++) {
        gen(t, i, ids, target);
        for (int64_t j = 0; j < t->len; j++) {
            uint32_t v = (uint32_t)ids[j] ^ ((uint32_t)target[j] << 31);
            for (int k = 0; k < 4; k++) h = (h ^ ((v >> (8 * k)) & 0xff)) * 0x100000001b3ULL;
        }
    }
    free(ids);
    free(target);
    return h;
}

static void test_determinism(void **state) {
    (void)state;
    static const char *specs[] = {
        "synth:mqar,len=64,pairs=8,vocab=100,n=50,seed=3",
        "synth:induction,len=40,vocab=16,n=50,seed=3",
        "synth:selective-copy,len=50,tokens=6,vocab=12,n=50,seed=3",
        "synth:copy,len=21,vocab=10,n=50,seed=3",
        "synth:recall,len=30,vocab=20,n=50,seed=3",
    };
    // Pinned: the first 20 examples of each spec. These numbers are the generators' output
    // on the machine that wrote them; they must never change (checkpoints are trained on
    // these streams), on any machine. They hash the sequences with their answers in place;
    // the input differs from them only as check_input() says.
    static const uint64_t pinned[] = {
        0xf29418023eca5fa5ULL, 0xa4ca7ef1082c70dbULL, 0xafc954e4996ab805ULL,
        0xe04db625e7694095ULL, 0x0380fbf69740fd03ULL,
    };
    for (int s = 0; s < 5; s++) {
        SynthTask t = parse_ok(specs[s]);
        int32_t a[64], b[64];
        uint8_t ta[64], tb[64];
        gen(&t, 17, a, ta);
        for (int64_t i = 0; i < 17; i++) gen(&t, i, b, tb); // other examples in between
        gen(&t, 17, b, tb);
        assert_memory_equal(a, b, (size_t)t.len * sizeof *a);
        assert_memory_equal(ta, tb, (size_t)t.len);
        SynthTask other = t;
        other.seed = 4;
        gen(&other, 17, b, tb);
        assert_true(memcmp(a, b, (size_t)t.len * sizeof *a) != 0);
        uint64_t h = task_hash(&t, 20);
        if (h != pinned[s])
            fail_msg("%s: examples 0..19 hash to 0x%016llxULL, pinned 0x%016llxULL", specs[s],
                     (unsigned long long)h, (unsigned long long)pinned[s]);
    }
}

// ---------------------------------------------------------------------------- layouts

static void check_mqar(const SynthTask *t, const int32_t *ids, const uint8_t *target) {
    const int64_t P = t->pairs, L = t->len, half = t->vocab / 2;
    int queried[256] = {0};
    assert_true(P <= 256);
    for (int64_t i = 0; i < P; i++) {
        assert_true(ids[2 * i] >= 1 && ids[2 * i] < half);
        assert_true(ids[2 * i + 1] >= half && ids[2 * i + 1] < t->vocab);
        assert_int_equal(target[2 * i], 0);
        assert_int_equal(target[2 * i + 1], 0);
        for (int64_t j = 0; j < i; j++) {
            assert_int_not_equal(ids[2 * i], ids[2 * j]);
            assert_int_not_equal(ids[2 * i + 1], ids[2 * j + 1]);
        }
    }
    assert_int_equal(count_targets(target, L), P);
    for (int64_t q = 2 * P; q < L; q++) {
        if (target[q]) { // an answer: the token before it is a key, this its value
            assert_true((q - 2 * P) % 2 == 1);
            int64_t k = -1;
            for (int64_t i = 0; i < P; i++)
                if (ids[2 * i] == ids[q - 1]) k = i;
            assert_true(k >= 0);
            assert_int_equal(ids[q], ids[2 * k + 1]);
            queried[k]++;
        } else if (!(q + 1 < L && target[q + 1])) { // neither answer nor query key: filler
            assert_int_equal(ids[q], 0);
        }
    }
    for (int64_t i = 0; i < P; i++) assert_int_equal(queried[i], 1);
}

static void check_induction(const SynthTask *t, const int32_t *ids, const uint8_t *target) {
    const int64_t L = t->len;
    int64_t zeros = 0, first = -1;
    for (int64_t i = 0; i < L; i++) {
        assert_true(ids[i] >= 0 && ids[i] < t->vocab);
        if (ids[i] == 0 && zeros++ == 0) first = i;
    }
    assert_int_equal(zeros, 2);
    assert_int_equal(ids[L - 2], 0);
    assert_true(first <= L - 4);
    assert_int_equal(ids[first + 1], ids[L - 1]);
    assert_int_equal(count_targets(target, L), 1);
    assert_int_equal(target[L - 1], 1);
}

static void check_selective_copy(const SynthTask *t, const int32_t *ids, const uint8_t *target) {
    const int64_t L = t->len, T = t->tokens, R = L - 1 - T;
    int64_t j = 0;
    for (int64_t i = 0; i < R; i++) {
        assert_int_equal(target[i], 0);
        assert_int_not_equal(ids[i], 1);
        if (ids[i] == 0) continue;
        assert_true(ids[i] >= 2 && ids[i] < t->vocab);
        assert_true(j < T);
        assert_int_equal(ids[R + 1 + j], ids[i]); // copied in order
        j++;
    }
    assert_int_equal(j, T);
    assert_int_equal(ids[R], 1);
    assert_int_equal(target[R], 0);
    for (int64_t i = R + 1; i < L; i++) assert_int_equal(target[i], 1);
}

static void check_copy(const SynthTask *t, const int32_t *ids, const uint8_t *target) {
    const int64_t L = t->len, P = t->tokens;
    for (int64_t i = 0; i < P; i++) {
        assert_true(ids[i] >= 2 && ids[i] < t->vocab);
        assert_int_equal(ids[P + 1 + i], ids[i]);
        assert_int_equal(target[i], 0);
        assert_int_equal(target[P + 1 + i], 1);
    }
    assert_int_equal(ids[P], 1);
    for (int64_t i = 2 * P + 1; i < L; i++) {
        assert_int_equal(ids[i], 0);
        assert_int_equal(target[i], 0);
    }
    assert_int_equal(count_targets(target, L), P);
}

static int64_t check_recall(const SynthTask *t, const int32_t *ids, const uint8_t *target) {
    const int64_t L = t->len;
    int64_t store = -1, recalls = 0;
    for (int64_t i = 0; i < L; i++) {
        assert_true(ids[i] >= 0 && ids[i] < t->vocab);
        if (ids[i] == 0) {
            assert_int_equal(store, -1);
            store = i;
        }
        recalls += ids[i] == 1;
    }
    assert_int_equal(recalls, 1);
    assert_int_equal(ids[L - 2], 1);
    assert_true(store >= 0);
    assert_int_equal(ids[store + 1], ids[L - 1]);
    assert_true(ids[L - 1] >= 2);
    assert_int_equal(count_targets(target, L), 1);
    assert_int_equal(target[L - 1], 1);
    int64_t distance = L - 3 - (store + 1);
    if (t->distance >= 0) assert_int_equal(distance, t->distance);
    return distance;
}

static void test_layouts(void **state) {
    (void)state;
    static const char *specs[] = {
        "synth:mqar,len=64,pairs=16,vocab=34,n=300,seed=9",
        "synth:mqar,len=256,pairs=16,vocab=8192,n=300",
        "synth:mqar,len=1001,pairs=3,vocab=100000,n=50,seed=2",
        "synth:induction,len=4,vocab=3,n=300",
        "synth:induction,len=300,vocab=16,n=300,seed=5",
        "synth:selective-copy,len=9,tokens=4,vocab=4,n=300",
        "synth:selective-copy,len=200,tokens=16,vocab=16,n=300,seed=7",
        "synth:copy,len=3,vocab=4,n=100",
        "synth:copy,len=30,vocab=50,n=300,tokens=5",
        "synth:recall,len=4,vocab=4,n=100",
        "synth:recall,len=100,vocab=40,n=300,distance=17",
        "synth:recall,len=100,vocab=40,n=400,seed=8",
    };
    for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++) {
        SynthTask t = parse_ok(specs[s]);
        int32_t *ids = malloc((size_t)t.len * sizeof *ids);
        int32_t *input = malloc((size_t)t.len * 2 * sizeof *input), *both = input + t.len;
        uint8_t *target = malloc((size_t)t.len), *target2 = malloc((size_t)t.len);
        int64_t dmin = t.len, dmax = -1;
        for (int64_t i = 0; i < t.n; i++) {
            gen(&t, i, ids, target);
            gen_input(&t, i, input, target2);
            assert_memory_equal(target, target2, (size_t)t.len);
            check_input(&t, input, ids, target);
            // input and answers at once: the same two rows
            assert_int_equal(synth_example(&t, i, input, target2, both), 0);
            assert_memory_equal(both, ids, (size_t)t.len * sizeof *ids);
            check_input(&t, input, ids, target);
            assert_int_equal(count_targets(target, t.len), synth_targets(&t));
            switch (t.kind) {
            case SYNTH_MQAR: check_mqar(&t, ids, target); break;
            case SYNTH_INDUCTION: check_induction(&t, ids, target); break;
            case SYNTH_SELECTIVE_COPY: check_selective_copy(&t, ids, target); break;
            case SYNTH_COPY: check_copy(&t, ids, target); break;
            case SYNTH_RECALL: {
                int64_t d = check_recall(&t, ids, target);
                if (d < dmin) dmin = d;
                if (d > dmax) dmax = d;
                break;
            }
            }
        }
        if (t.kind == SYNTH_RECALL && t.distance < 0 && t.len > 10) {
            // uniform distances: 400 draws over 0..96 reach both ends' neighbourhoods
            assert_true(dmin <= 5);
            assert_true(dmax >= t.len - 4 - 5);
        }
        free(ids);
        free(input);
        free(target);
        free(target2);
    }
}

/* MQAR queries favour early slots (p(g) ∝ 1/(g+1)) but reach late ones. */
static void test_mqar_query_positions(void **state) {
    (void)state;
    SynthTask t = parse_ok("synth:mqar,len=256,pairs=4,vocab=64,n=2000,seed=11");
    int32_t ids[256];
    uint8_t target[256];
    int64_t first_half = 0, second_half = 0, S = (256 - 8) / 2;
    for (int64_t i = 0; i < t.n; i++) {
        gen(&t, i, ids, target);
        for (int64_t q = 8; q < 256; q++)
            if (target[q]) {
                int64_t g = (q - 8 - 1) / 2;
                if (g < S / 2) first_half++;
                else second_half++;
            }
    }
    assert_int_equal(first_half + second_half, 4 * t.n);
    // ∝ 1/(g+1) over 124 slots: ~86 % of single draws fall in the first half
    assert_true(first_half > 2 * second_half);
    assert_true(second_half > t.n / 20);
}

// ---------------------------------------------------------------------------- spec errors

static void test_spec_errors(void **state) {
    (void)state;
    static const struct {
        const char *spec, *message;
    } cases[] = {
        {"synth:foo,len=4", "unknown task 'foo'"},
        {"synth:", "unknown task ''"},
        {"synth:mqar,len=256,vocab=8192,n=10", "missing key 'pairs'"},
        {"synth:mqar,pairs=2,vocab=8192,n=10", "missing key 'len'"},
        {"synth:induction,len=256,vocab=16", "missing key 'n'"},
        {"synth:selective-copy,len=256,vocab=16,n=3", "missing key 'tokens'"},
        {"synth:mqar,len=256,pairs=16,vocab=8192,n=10,colour=red", "unknown key 'colour'"},
        {"synth:induction,len=256,pairs=2,vocab=16,n=3", "unknown key 'pairs'"},
        {"synth:mqar,len=256,len=128,pairs=1,vocab=8192,n=10", "key 'len' is given twice"},
        {"synth:mqar,len=256,pairs=16,vocab=8192,n=10,seed=1,seed=2", "key 'seed' is given"},
        {"synth:mqar,len=60,pairs=16,vocab=8192,n=10", "key 'pairs': 16 pairs do not fit"},
        {"synth:mqar,len=256,pairs=16,vocab=33,n=10", "key 'vocab': 33 is too small"},
        {"synth:mqar,len=256,pairs=0,vocab=33,n=10", "key 'pairs': must be >= 1"},
        {"synth:induction,len=3,vocab=16,n=3", "key 'len': 3 is too short"},
        {"synth:induction,len=30,vocab=2,n=3", "key 'vocab': 2 is too small"},
        {"synth:selective-copy,len=8,tokens=4,vocab=16,n=3", "key 'tokens': 4 tokens do not fit"},
        {"synth:selective-copy,len=80,tokens=4,vocab=3,n=3", "key 'vocab': 3 is too small"},
        {"synth:copy,len=2,vocab=16,n=3", "key 'tokens': must be >= 1"},
        {"synth:recall,len=20,vocab=16,n=3,distance=17", "key 'distance': 17 does not fit"},
        {"synth:recall,len=20,vocab=3,n=3", "key 'vocab': 3 is too small"},
        {"synth:induction,len=256,vocab=16,n=0", "key 'n': 0 is out of range"},
        {"synth:induction,len=256,vocab=16,n=-5", "key 'n': -5 is out of range"},
        {"synth:induction,len=256,vocab=16,n=100000000000", "key 'n': 100000000000 is out"},
        {"synth:induction,len=99999999999999,vocab=16,n=3", "key 'len': 99999999999999 is out"},
        {"synth:induction,len=256,vocab=1,n=3", "key 'vocab': 1 is out of range"},
        {"synth:induction,len=256,vocab=99999999999,n=3", "key 'vocab': 99999999999 is out"},
        {"synth:induction,len=25x,vocab=16,n=3", "key 'len': '25x' is not an integer"},
        {"synth:induction,len=,vocab=16,n=3", "key 'len': '' is not an integer"},
        {"synth:induction,len=256,vocab=16,n=3,seed=-1", "key 'seed': '-1' is not an integer"},
        {"synth:induction,len=256,vocab=16,n=3,oops", "'oops' is not key=value"},
        {"synth:induction,=3,vocab=16,n=3", "'=3' is not key=value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        SynthTask t;
        int status = synth_parse(&t, cases[i].spec);
        if (status != LS_ERR_USAGE || !strstr(ls_error_message(), cases[i].message))
            fail_msg("%s: got %d \"%s\", expected LS_ERR_USAGE naming \"%s\"", cases[i].spec,
                     status, ls_error_message(), cases[i].message);
        if (strncmp(ls_error_message(), cases[i].spec, strlen("synth:")) != 0)
            fail_msg("%s: the message \"%s\" does not start with the spec", cases[i].spec,
                     ls_error_message());
    }
}

static void test_spec_defaults_and_format(void **state) {
    (void)state;
    SynthTask t = parse_ok("synth:copy,len=21,vocab=10,n=5");
    assert_int_equal(t.tokens, 10);
    assert_true(t.seed == 1);
    t = parse_ok("recall,len=21,vocab=10,n=5,seed=18446744073709551615"); // prefix optional
    assert_true(t.seed == UINT64_MAX);
    assert_int_equal(t.distance, -1);
    static const char *specs[] = {
        "synth:mqar,len=256,pairs=16,vocab=8192,n=1000,seed=7",
        "synth:induction,len=256,vocab=16,n=3",
        "synth:selective-copy,len=100,tokens=16,vocab=16,n=3",
        "synth:copy,len=21,vocab=10,n=5,tokens=3",
        "synth:recall,len=64,vocab=10,n=5,distance=3,seed=0",
        "synth:recall,len=64,vocab=10,n=5",
    };
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        SynthTask a = parse_ok(specs[i]), b;
        char text[256];
        synth_format(&a, text, sizeof text);
        b = parse_ok(text);
        assert_int_equal(a.kind, b.kind);
        assert_int_equal(a.len, b.len);
        assert_int_equal(a.vocab, b.vocab);
        assert_int_equal(a.n, b.n);
        assert_int_equal(a.pairs, b.pairs);
        assert_int_equal(a.tokens, b.tokens);
        assert_int_equal(a.distance, b.distance);
        assert_true(a.seed == b.seed);
        assert_true(synth_is_spec(text));
    }
    assert_false(synth_is_spec("mqar,len=3"));
    assert_false(synth_is_spec(NULL));
}

// ---------------------------------------------------------------------------- dataset, batch

static void test_dataset_batch(void **state) {
    (void)state;
    Dataset *ds = NULL;
    DatasetOptions opt;
    dataset_options_default(&opt);
    opt.labels = DATASET_LABELS_NONE;
    assert_int_equal(dataset_init(&ds, &opt), 0);
    const char *spec = "synth:mqar,len=40,pairs=4,vocab=50,n=7,seed=2";
    assert_int_equal(dataset_add_synth(ds, spec, SPLIT_NONE), 0);
    assert_int_equal(dataset_add_synth(ds, "synth:recall,len=12,vocab=64,n=3", SPLIT_NONE), 0);
    assert_int_equal(dataset_add_synth(ds, "synth:recall,len=12,vocab=6", SPLIT_NONE),
                     LS_ERR_USAGE);
    assert_int_equal(dataset_finish(ds, NULL), 0);
    assert_int_equal(dataset_count(ds), 10);
    assert_int_equal(dataset_kind(ds), EXAMPLE_SYNTH);
    assert_int_equal(dataset_vocab(ds), 64);
    assert_string_equal(dataset_example(ds, 3)->name, "mqar_s2_3");
    assert_string_equal(dataset_example(ds, 8)->name, "recall_s1_1");
    assert_string_equal(dataset_example(ds, 0)->source, spec);

    // a batch of a whole mqar example, a recall example (padded) and a window
    DatasetItem items[3] = {{5, 0, 40}, {8, 0, 12}, {2, 10, 20}};
    Batch b = {0};
    assert_int_equal(batch_fill(&b, ds, items, 3, NULL), 0);
    assert_int_equal(b.B, 3);
    assert_int_equal(b.L, 40);
    assert_null(b.tokens);
    assert_null(b.samples);
    SynthTask mq = parse_ok(spec), rc = parse_ok("synth:recall,len=12,vocab=64,n=3");
    int32_t ids[40], seq[40];
    uint8_t target[40];
    assert_int_equal(synth_example(&mq, 5, ids, target, seq), 0);
    assert_memory_equal(b.ids, ids, 40 * sizeof *ids);
    assert_memory_equal(b.answers, seq, 40 * sizeof *seq);
    assert_memory_equal(b.target, target, 40);
    assert_true(memcmp(ids, seq, sizeof ids) != 0); // MQAR: answers are not in the input
    assert_int_equal(synth_example(&mq, 2, ids, target, seq), 0);
    assert_memory_equal(b.ids + 80, ids + 10, 20 * sizeof *ids);
    assert_memory_equal(b.answers + 80, seq + 10, 20 * sizeof *seq);
    assert_memory_equal(b.target + 80, target + 10, 20);
    assert_int_equal(synth_example(&rc, 1, ids, target, seq), 0);
    assert_memory_equal(b.ids + 40, ids, 12 * sizeof *ids);
    assert_memory_equal(b.answers + 40, seq, 12 * sizeof *seq);
    for (int64_t j = 12; j < 40; j++) {
        assert_int_equal(b.ids[40 + j], 0);
        assert_int_equal(b.answers[40 + j], 0);
        assert_int_equal(b.target[40 + j], 0);
    }
    assert_int_equal(b.lengths[1], 12);
    batch_free(&b);
    dataset_free(ds);

    // one kind per dataset
    assert_int_equal(dataset_init(&ds, &opt), 0);
    uint8_t dna[4] = {0, 1, 2, 3};
    assert_int_equal(dataset_add_tokens(ds, "x", dna, 4, NULL, SPLIT_NONE), 0);
    assert_int_equal(dataset_add_synth(ds, spec, SPLIT_NONE), LS_ERR_USAGE);
    assert_non_null(strstr(ls_error_message(), "synthetic tokens data, but the dataset already "
                                               "holds DNA"));
    dataset_free(ds);
}

// ---------------------------------------------------------------------------- evaluation

/* eval's loss and accuracy count the target positions alone: infer_evaluate on a task
 * against a reference from the dense forward of each example (every position's logits) read
 * at the targets only. Counting any other position changes both numbers. The reference
 * reads the input and scores the answers (MQAR: the input holds filler where the answers
 * are), so a model shown an answer, or scored on the filler, fails here. */
static void test_eval_counts_only_targets(void **state) {
    (void)state;
    static const char *specs[] = {"synth:induction,len=12,vocab=6,n=24,seed=4",
                                  "synth:copy,len=11,vocab=7,n=9,seed=2",
                                  "synth:mqar,len=16,pairs=3,vocab=10,n=20,seed=6"};
    for (int s = 0; s < 3; s++) {
        Dataset *ds = NULL;
        DatasetOptions opt;
        dataset_options_default(&opt);
        opt.labels = DATASET_LABELS_NONE;
        assert_int_equal(dataset_init(&ds, &opt), 0);
        assert_int_equal(dataset_add_synth(ds, specs[s], SPLIT_NONE), 0);
        assert_int_equal(dataset_finish(ds, NULL), 0);
        SynthTask t = parse_ok(specs[s]);
        ModelConfig c;
        model_config_default(&c, MODEL_MAMBA, MODEL_TASK_LM);
        c.vocab = t.vocab;
        c.d_model = 8;
        c.n_layers = 1;
        c.d_state = 4;
        Model *m = NULL;
        const Device cpu = {DEVICE_CPU, 0};
        assert_int_equal(model_init(&m, &c, &cpu, 5), 0);
        DatasetItem *items = NULL;
        int64_t n_items = 0;
        assert_int_equal(infer_items(ds, NULL, 0, model_config(m), 0, 0, 0, &items, &n_items), 0);
        InferOptions io = {.batch_size = 4, .output = INFER_LOGITS};
        batch_options_default(&io.batch);
        EvalResult res;
        assert_int_equal(infer_evaluate(m, ds, items, n_items, &io, &res), 0);
        // reference: dense logits of each example, read at its targets
        int64_t hits = 0, scored = 0;
        double nats = 0;
        int32_t *ids = malloc((size_t)t.len * sizeof *ids);
        int32_t *seq = malloc((size_t)t.len * sizeof *seq);
        uint8_t *target = malloc((size_t)t.len);
        float *logits = malloc((size_t)(t.len * t.vocab) * sizeof *logits);
        for (int64_t i = 0; i < t.n; i++) {
            assert_int_equal(synth_example(&t, i, ids, target, seq), 0);
            ModelBatch mb = {.B = 1, .L = t.len, .ids = ids};
            assert_int_equal(model_forward(m, &mb, logits, 0), 0);
            for (int64_t p = 0; p + 1 < t.len; p++) {
                if (!target[p + 1]) continue;
                const float *row = logits + p * t.vocab;
                double mx = -INFINITY, sum = 0;
                for (int64_t v = 0; v < t.vocab; v++) mx = fmax(mx, row[v]);
                for (int64_t v = 0; v < t.vocab; v++) sum += exp(row[v] - mx);
                nats += mx + log(sum) - row[seq[p + 1]];
                hits += metrics_argmax(row, (int32_t)t.vocab) == seq[p + 1];
                scored++;
            }
        }
        printf("# %s: %lld targets, accuracy %.4f (reference %.4f), loss %.6f (reference "
               "%.6f)\n", specs[s], (long long)res.nll.n, res.accuracy,
               (double)hits / (double)scored, res.loss, nats / (double)scored);
        assert_int_equal(res.nll.n, scored);
        assert_int_equal(scored, t.n * synth_targets(&t));
        assert_int_equal(res.hits, hits);
        assert_true(fabs(res.accuracy - (double)hits / (double)scored) < 1e-12);
        assert_true(fabs(res.loss - nats / (double)scored) <= 1e-5 * nats / (double)scored);
        infer_result_free(&res);
        free(ids);
        free(seq);
        free(target);
        free(logits);
        free(items);
        model_free(m);
        dataset_free(ds);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_layouts),
        cmocka_unit_test(test_mqar_query_positions),
        cmocka_unit_test(test_spec_errors),
        cmocka_unit_test(test_spec_defaults_and_format),
        cmocka_unit_test(test_dataset_batch),
        cmocka_unit_test(test_eval_counts_only_targets),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests_name("synth", tests, NULL, NULL);
}
