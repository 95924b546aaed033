/*
 * test_model_seqpar.c — sequence parallel in the model (model_set_seq_slices, docs/parallel.md
 * "The model"): the same model and batch run with the sequence cut into G slices and whole
 * (G = 1), CPU. Compared: logits (classifier rows or every LM position), embeddings, the mean
 * loss of model_forward_backward and the whole gradient buffer.
 *
 * Cases: G ∈ {2, 3, 7} on rows of L = 37 positions (prime: no G divides it) with rows of
 * different lengths (padding), tiles lowered so that slices hold several tiles and tile ends
 * fall mid-slice; causal Mamba (classifier, LM), BiMamba (both walk directions sliced), the
 * reverse-complement model, waveform input, packed batches (sequence starts inside slices,
 * on a slice start and just before one), d_conv 1 (no halo), LayerNorm, dropout.
 *
 * Tolerances: the sliced scan starts each slice from h_g = P_{g−1}·h_{g−1} + e_{g−1}, the
 * same recurrence reassociated (docs/parallel.md), and its backward sums the gradient at a
 * slice boundary in another order; everything else is the same ops on the same values, except
 * GEMMs over a halo's K−1 rows (another BLAS blocking). fp32 rounding of that order: outputs
 * within 2e-5·(1 + |ref|); gradients elementwise within 2e-5·max|g| + 2e-4·|g| (sums over all
 * positions, regrouped per slice). Seen on this machine: outputs within 1.1e-7, gradients
 * within 0.003 of their allowance. A real error moves outputs far more
 * (test_broken_exchange_detected, G = 3: halos lost 9e-2, decay products lost 5e-4 — small
 * at this init, whose decays mostly vanish within a slice, still 24× the tolerance).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"
#include "models/model_internal.h"
#include "models/slice_exchange.h"
#include "tests/kernel_check.h"
#include "tests/model_fixture.h"


static ModelConfig tiny(ModelArch arch, ModelTask task) { return tiny_config(arch, task, 16); }

static double worst_out(const float *got, const float *want, int64_t n) {
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]) / (1.0 + fabs((double)want[i]));
        if (!(d <= worst)) worst = isnan(d) ? INFINITY : d;
    }
    return worst;
}

static void expect_out(const char *what, const float *got, const float *want, int64_t n) {
    double d = worst_out(got, want, n);
    printf("#   %-56s max |diff|/(1+|ref|) = %.2e\n", what, d);
    if (!(d <= 2e-5)) fail_msg("%s: differs by %.3g relative, tolerance 2e-5", what, d);
}

static void expect_grads(const char *what, const float *got, const float *want, int64_t n) {
    double gmax = 0, worst = 0;
    for (int64_t i = 0; i < n; i++) gmax = fmax(gmax, fabs((double)want[i]));
    if (!(gmax > 0)) fail_msg("%s: the reference gradient is all zero", what);
    int64_t at = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        double ratio = d / (2e-5 * gmax + 2e-4 * fabs((double)want[i]));
        if (!(ratio <= worst)) worst = isnan(ratio) ? INFINITY : ratio, at = i;
    }
    printf("#   %-56s worst diff / allowed = %.3f (max|g| %.2e)\n", what, worst, gmax);
    if (!(worst <= 1.0))
        fail_msg("%s: gradient %lld is %.8g sliced, %.8g whole (max|g| %.3g)", what,
                 (long long)at, got[at], want[at], gmax);
}

/* What one configuration of slices gives. */
typedef struct {
    float *logits, *embed, *grads;
    double loss;
} Run;

static void run(Model *m, const ModelBatch *b, const int32_t *labels, int64_t G, Run *out) {
    const ModelConfig *c = model_config(m);
    const int64_t V = c->task == MODEL_TASK_LM ? c->vocab : c->n_classes;
    OK(model_set_seq_slices(m, G));
    out->logits = kc_floats(model_output_rows(m, b) * V);
    out->embed = kc_floats(model_batch_sequences(b) * c->d_model);
    out->grads = kc_floats(model_param_table(m)->total);
    OK(model_forward(m, b, out->logits, 0));
    OK(model_embed(m, b, out->embed));
    OK(model_zero_grads(m));
    OK(model_forward_backward(m, b, labels, 1.0f, &out->loss));
    OK(model_buffer_read(m, MODEL_BUF_GRADS, out->grads));
}

static void free_run(Run *r) { free(r->logits), free(r->embed), free(r->grads); }

/* Every G of {2, 3, 7} against G = 1 on one model and batch. */
static void compare(const char *name, Model *m, const ModelBatch *b, const int32_t *labels) {
    const ModelConfig *c = model_config(m);
    const int64_t V = c->task == MODEL_TASK_LM ? c->vocab : c->n_classes;
    const int64_t rows = model_output_rows(m, b), P = model_param_table(m)->total;
    static const int64_t Gs[] = {2, 3, 7};
    Run whole, sliced;
    run(m, b, labels, 1, &whole);
    for (size_t i = 0; i < sizeof Gs / sizeof *Gs; i++) {
        char what[160];
        run(m, b, labels, Gs[i], &sliced);
        snprintf(what, sizeof what, "%s, G %lld: logits", name, (long long)Gs[i]);
        expect_out(what, sliced.logits, whole.logits, rows * V);
        snprintf(what, sizeof what, "%s, G %lld: embeddings", name, (long long)Gs[i]);
        expect_out(what, sliced.embed, whole.embed, model_batch_sequences(b) * c->d_model);
        printf("#   %-56s loss %.9f whole %.9f\n", name, sliced.loss, whole.loss);
        if (!(fabs(sliced.loss - whole.loss) <= 2e-5 * (1 + fabs(whole.loss))))
            fail_msg("%s, G %lld: loss %.9g sliced, %.9g whole", name, (long long)Gs[i],
                     sliced.loss, whole.loss);
        snprintf(what, sizeof what, "%s, G %lld: gradients (%lld)", name, (long long)Gs[i],
                 (long long)P);
        expect_grads(what, sliced.grads, whole.grads, P);
        free_run(&sliced);
    }
    OK(model_set_seq_slices(m, 1));
    free_run(&whole);
}

// ------------------------------------------------------------------------------ batches

#define ROWS 3
#define LEN 37

/* Rows of LEN positions, the others shorter (padding filled with bytes never to be read). */
static void tokens_case(const char *name, ModelConfig c, int64_t tile_rows) {
    KcRng r = kc_rng(17);
    Model *m = NULL;
    OK(model_init(&m, &c, &cpu, 23));
    OK(model_set_tile_rows(m, tile_rows));
    uint8_t tokens[ROWS * LEN];
    int64_t lengths[ROWS] = {LEN, 29, 33};
    int32_t labels[ROWS];
    for (int64_t i = 0; i < ROWS * LEN; i++)
        tokens[i] = (uint8_t)kc_int(&r, 0, (int)c.vocab - 1);
    for (int b = 0; b < ROWS; b++) {
        labels[b] = (int32_t)kc_int(&r, 0, (int)c.n_classes - 1);
        for (int64_t t = lengths[b]; t < LEN; t++) tokens[b * LEN + t] = 255;
    }
    ModelBatch batch = {.B = ROWS, .L = LEN, .tokens = tokens, .lengths = lengths};
    compare(name, m, &batch, labels);
    model_free(m);
}

static void test_seqpar_mamba(void **state) {
    (void)state;
    // 3 rows: tile_rows 15 → tiles of 5 positions, several per slice for G = 2 and 3
    tokens_case("mamba classify mean", tiny(MODEL_MAMBA, MODEL_TASK_CLASSIFY), 15);
    tokens_case("mamba LM", tiny(MODEL_MAMBA, MODEL_TASK_LM), 15);
    ModelConfig last = tiny(MODEL_MAMBA, MODEL_TASK_CLASSIFY);
    last.pool = MODEL_POOL_LAST;
    last.norm = MODEL_NORM_LAYER;
    tokens_case("mamba classify last, LayerNorm", last, 1000);
    ModelConfig k1 = tiny(MODEL_MAMBA, MODEL_TASK_LM);
    k1.d_conv = 1; // no halo
    tokens_case("mamba LM d_conv 1", k1, 15);
}

static void test_seqpar_bimamba(void **state) {
    (void)state;
    tokens_case("bimamba classify mean", tiny(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY), 15);
    ModelConfig first = tiny(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY);
    first.pool = MODEL_POOL_FIRST;
    first.norm = MODEL_NORM_LAYER;
    tokens_case("bimamba classify first, LayerNorm", first, 12);
    ModelConfig rc = tiny(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY);
    rc.rc_equivariant = 1; // 6 backbone rows: tiles of 3 positions
    tokens_case("bimamba rc-equivariant", rc, 18);
}

// Waveform rows of LEN frames of 3 samples, two rows shorter (a partial last frame).
static void waveform_case(const char *name, ModelConfig c) {
    KcRng r = kc_rng(29);
    Model *m = NULL;
    OK(model_init(&m, &c, &cpu, 41));
    OK(model_set_tile_rows(m, 21));
    const int64_t Ls = LEN * c.frame;
    float *samples = kc_floats(ROWS * Ls);
    int64_t lengths[ROWS] = {Ls, Ls - 7, Ls - 20};
    int32_t labels[ROWS] = {2, 0, 1};
    for (int b = 0; b < ROWS; b++)
        for (int64_t t = 0; t < Ls; t++)
            samples[b * Ls + t] = t < lengths[b] ? (float)kc_uniform(&r, -1, 1) : 1e30f;
    ModelBatch batch = {.B = ROWS, .L = Ls, .samples = samples, .lengths = lengths};
    compare(name, m, &batch, labels);
    free(samples);
    model_free(m);
}

static void test_seqpar_waveform(void **state) {
    (void)state;
    ModelConfig c = tiny(MODEL_MAMBA, MODEL_TASK_CLASSIFY);
    c.input = MODEL_INPUT_WAVEFORM;
    waveform_case("mamba waveform classify", c);
    c.arch = MODEL_BIMAMBA;
    waveform_case("bimamba waveform classify", c);
}

// Packed rows of LEN positions: sequences start mid-slice, on a slice start (12 and 24 for
// G = 3, 18 for G = 2) and one position before one; the last row ends in padding.
static void packed_case(const char *name, ModelConfig c) {
    KcRng r = kc_rng(31);
    Model *m = NULL;
    OK(model_init(&m, &c, &cpu, 43));
    OK(model_set_tile_rows(m, 15));
    int64_t row_seqs[ROWS] = {3, 2, 3};
    int64_t seq_lengths[8] = {12, 1, 24, 18, 19, 11, 9, 4};
    int32_t labels[8];
    uint8_t tokens[ROWS * LEN];
    for (int64_t i = 0; i < ROWS * LEN; i++) tokens[i] = (uint8_t)kc_int(&r, 0, 4);
    for (int64_t t = 24; t < LEN; t++) tokens[2 * LEN + t] = 255; // padding: never read
    for (int k = 0; k < 8; k++) labels[k] = (int32_t)kc_int(&r, 0, (int)c.n_classes - 1);
    ModelBatch batch = {.B = ROWS, .L = LEN, .tokens = tokens, .row_seqs = row_seqs,
                        .seq_lengths = seq_lengths};
    compare(name, m, &batch, labels);
    model_free(m);
}

static void test_seqpar_packed(void **state) {
    (void)state;
    packed_case("mamba LM packed", tiny(MODEL_MAMBA, MODEL_TASK_LM));
    packed_case("mamba classify packed", tiny(MODEL_MAMBA, MODEL_TASK_CLASSIFY));
    packed_case("bimamba classify packed", tiny(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY));
    ModelConfig rc = tiny(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY);
    rc.rc_equivariant = 1;
    packed_case("bimamba rc-equivariant packed", rc);
}

static void test_seqpar_dropout(void **state) {
    (void)state;
    ModelConfig c = tiny(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY);
    Model *m = NULL;
    OK(model_init(&m, &c, &cpu, 47));
    OK(model_set_dropout(m, 0.2, 99));
    OK(model_set_tile_rows(m, 15));
    KcRng r = kc_rng(37);
    uint8_t tokens[ROWS * LEN];
    for (int64_t i = 0; i < ROWS * LEN; i++) tokens[i] = (uint8_t)kc_int(&r, 0, 4);
    int32_t labels[ROWS] = {0, 2, 1};
    ModelBatch batch = {.B = ROWS, .L = LEN, .tokens = tokens};
    compare("bimamba classify, dropout 0.2", m, &batch, labels);
    model_free(m);
}

// ------------------------------------------------------------------------------ mutations

// An exchange that loses what it should deliver: the decay products (the combine then adds
// the end states without decaying the earlier state) or the halos.
static int lose_decay(const SliceExchange *x, const Device *dev, int G, float *bufs, int64_t n) {
    (void)x;
    static int calls;
    // the forward gathers P then e per layer and direction; zero every P
    if (calls++ % 2 == 0) return ops_zero(dev, DTYPE_F32, bufs + n, (G - 1) * n);
    return 0;
}
static int lose_halo(const SliceExchange *x, const Device *dev, int G, const float *send,
                     float *recv, int64_t n) {
    (void)x, (void)send;
    return ops_zero(dev, DTYPE_F32, recv + n, (G - 1) * n);
}

static void test_broken_exchange_detected(void **state) {
    (void)state;
    ModelConfig c = tiny(MODEL_MAMBA, MODEL_TASK_LM);
    Model *m = NULL;
    OK(model_init(&m, &c, &cpu, 23));
    KcRng r = kc_rng(5);
    uint8_t tokens[2 * LEN];
    for (int64_t i = 0; i < 2 * LEN; i++) tokens[i] = (uint8_t)kc_int(&r, 0, 4);
    ModelBatch b = {.B = 2, .L = LEN, .tokens = tokens};
    const int64_t n = 2 * LEN * c.vocab;
    float *whole = kc_floats(n), *got = kc_floats(n);
    OK(model_forward(m, &b, whole, 0));
    SliceExchange broken[2] = {slice_exchange_in_process, slice_exchange_in_process};
    broken[0].all_gather = lose_decay;
    broken[1].shift_right = lose_halo;
    const char *names[2] = {"decay products lost", "halos lost"};
    for (int k = 0; k < 2; k++) {
        m->exchange = &broken[k];
        OK(model_set_seq_slices(m, 3));
        OK(model_forward(m, &b, got, 0));
        double d = worst_out(got, whole, n);
        printf("#   %-56s max |diff|/(1+|ref|) = %.2e\n", names[k], d);
        if (!(d > 1e-4)) fail_msg("%s: the sliced model still matches (%.3g)", names[k], d);
    }
    m->exchange = &slice_exchange_in_process;
    OK(model_forward(m, &b, got, 0));
    expect_out("the in-process exchange again", got, whole, n);
    free(whole), free(got);
    model_free(m);
}

// ------------------------------------------------------------------------------ errors

static void test_seqpar_errors(void **state) {
    (void)state;
    ModelConfig c = tiny(MODEL_MAMBA, MODEL_TASK_LM);
    Model *m = NULL;
    OK(model_init(&m, &c, &cpu, 1));
    assert_int_equal(model_set_seq_slices(m, 0), LS_ERR_USAGE);
    assert_non_null(strstr(ls_error_message(), "--seq-slices 0"));
    OK(model_set_seq_slices(m, 13)); // d_conv 4: 13 slices need 39 positions
    uint8_t tokens[LEN] = {0};
    float *logits = kc_floats(LEN * c.vocab);
    ModelBatch b = {.B = 1, .L = LEN, .tokens = tokens};
    assert_int_equal(model_forward(m, &b, logits, 0), LS_ERR_USAGE);
    printf("#   %s\n", ls_error_message());
    assert_non_null(strstr(ls_error_message(), "--seq-slices 13"));
    OK(model_set_seq_slices(m, 12));
    OK(model_forward(m, &b, logits, 0));
    free(logits);
    model_free(m);
    c = tiny(MODEL_TRANSFORMER, MODEL_TASK_LM);
    c.n_heads = 2;
    OK(model_init(&m, &c, &cpu, 1));
    assert_int_equal(model_set_seq_slices(m, 2), LS_ERR_UNSUPPORTED);
    OK(model_set_seq_slices(m, 1));
    model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seqpar_mamba),
        cmocka_unit_test(test_seqpar_bimamba),
        cmocka_unit_test(test_seqpar_waveform),
        cmocka_unit_test(test_seqpar_packed),
        cmocka_unit_test(test_seqpar_dropout),
        cmocka_unit_test(test_broken_exchange_detected),
        cmocka_unit_test(test_seqpar_errors),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests_name("model_seqpar", tests, NULL, NULL);
}
