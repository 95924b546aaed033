/*
 * test_model_pack.c — packed batches (ModelBatch.row_seqs / seq_lengths, docs/models.md
 * "Packed batches") against the padded batch of the same sequences, CPU.
 *
 * Each case draws S sequences of different lengths (one of length 1), runs them padded (one
 * per row, L = the longest) and packed (several per row, end to end, rows of another L), with
 * Model.tile_rows lowered so that sequence starts fall in the middle of Mamba tiles and tiles
 * carry state across them. Compared: logits (classification: one row per sequence; LM: each
 * sequence's positions), embeddings, the mean loss, and the whole gradient buffer after
 * model_forward_backward. Bytes the model must never read (the padding, the gap samples of a
 * waveform sequence's last frame) are garbage (token 255, sample 1e30).
 *
 * Tolerances (fp32 rounding, not a loosened check): per-sequence outputs come from the same
 * operations on the same values, but a BLAS product's rounding depends on its row count and
 * blocking (as for padded rows vs rows alone in test_model.c, 1e-5 relative), so logits,
 * embeddings and loss are compared within 1e-5 · (1 + |ref|). Parameter gradients are sums
 * over every position of the batch, accumulated in another order and other GEMM blocks when
 * the positions sit elsewhere: each element within 1e-5 · max|g| of the whole buffer
 * + 1e-4·|g| (measured below each case; a real error — a state leaking across a boundary, a
 * sequence reversed wrongly — moves gradients by 1e-2 relative or more, see
 * test_leak_detected).
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

#include "io/encode.h"
#include "models/model.h"
#include "models/model_internal.h"
#include "tests/kernel_check.h"
#include "tests/model_fixture.h"


static ModelConfig tiny(ModelArch arch, ModelTask task) { return tiny_config(arch, task, 64); }

static Model *new_model(const ModelConfig *c, uint64_t seed) {
    Model *m = NULL;
    if (model_init(&m, c, &cpu, seed)) fail_msg("model_init: %s", ls_error_message());
    return m;
}

// ------------------------------------------------------------------------------ batches

#define MAX_SEQS 8

/* S sequences, their padded batch (row k = sequence k) and their packed batch. */
typedef struct {
    int64_t S, n[MAX_SEQS]; // lengths (tokens or samples)
    int64_t pos[MAX_SEQS];  // positions of each (frames for a waveform)
    int32_t labels[MAX_SEQS];
    // padded
    int64_t Lp;
    uint8_t *pad_tokens;
    float *pad_samples;
    ModelBatch pad;
    // packed
    int64_t B, Lk, row_seqs[MAX_SEQS], at[MAX_SEQS]; // at: first position of sequence k
    int64_t row_of[MAX_SEQS];
    uint8_t *pk_tokens;
    float *pk_samples;
    ModelBatch packed;
} Pair;

/*
 * @p n: sequence lengths; @p rows: how many go in each packed row (in order); @p Lk: the packed
 * rows' length (input units). Tokens are uniform in the vocabulary, samples in [−1, 1].
 */
static void make_pair(Pair *out, const ModelConfig *c, KcRng *r, int64_t S, const int64_t *n,
                      int64_t B, const int64_t *rows, int64_t Lk) {
    Pair p = {0}; // filled here, then its batches point into *out
    const int wave = c->input == MODEL_INPUT_WAVEFORM;
    const int64_t F = wave ? c->frame : 1;
    p.S = S;
    p.B = B;
    p.Lk = Lk;
    for (int64_t k = 0; k < S; k++) {
        p.n[k] = n[k];
        p.pos[k] = (n[k] + F - 1) / F;
        p.labels[k] = (int32_t)kc_int(r, 0, c->n_classes - 1);
        if (n[k] > p.Lp) p.Lp = n[k];
    }
    p.pad_tokens = malloc((size_t)(S * p.Lp));
    p.pad_samples = kc_floats(S * p.Lp);
    p.pk_tokens = malloc((size_t)(B * Lk));
    p.pk_samples = kc_floats(B * Lk);
    memset(p.pad_tokens, 255, (size_t)(S * p.Lp));
    memset(p.pk_tokens, 255, (size_t)(B * Lk));
    for (int64_t i = 0; i < S * p.Lp; i++)
        p.pad_samples[i] = 1e30f;
    for (int64_t i = 0; i < B * Lk; i++)
        p.pk_samples[i] = 1e30f;
    for (int64_t b = 0, k = 0; b < B; b++) {
        p.row_seqs[b] = rows[b];
        int64_t pos = 0;
        for (int64_t j = 0; j < rows[b]; j++, k++) {
            p.at[k] = pos;
            p.row_of[k] = b;
            for (int64_t i = 0; i < n[k]; i++) {
                uint8_t tok = (uint8_t)kc_int(r, 0, c->vocab - 1);
                float x = (float)kc_uniform(r, -1, 1);
                p.pad_tokens[k * p.Lp + i] = tok;
                p.pad_samples[k * p.Lp + i] = x;
                p.pk_tokens[b * Lk + pos * F + i] = tok;
                p.pk_samples[b * Lk + pos * F + i] = x;
            }
            pos += p.pos[k];
        }
        assert_true(pos * F <= Lk + F - 1);
    }
    *out = p;
    out->pad = (ModelBatch){.B = S, .L = p.Lp, .lengths = out->n};
    out->packed = (ModelBatch){.B = B, .L = Lk, .row_seqs = out->row_seqs, .seq_lengths = out->n};
    if (wave)
        out->pad.samples = p.pad_samples, out->packed.samples = p.pk_samples;
    else
        out->pad.tokens = p.pad_tokens, out->packed.tokens = p.pk_tokens;
}

static void free_pair(Pair *p) {
    free(p->pad_tokens);
    free(p->pad_samples);
    free(p->pk_tokens);
    free(p->pk_samples);
}

// ------------------------------------------------------------------------------ comparisons

// Largest |a − b| / (1 + |b|); *same = 1 when all bit-identical.
static double max_rel(const float *a, const float *b, int64_t n, int *same) {
    double worst = 0;
    *same = 1;
    for (int64_t i = 0; i < n; i++) {
        if (memcmp(&a[i], &b[i], sizeof(float))) *same = 0;
        double d = fabs((double)a[i] - b[i]) / (1.0 + fabs((double)b[i]));
        if (!(d <= worst)) worst = isnan(d) ? INFINITY : d;
    }
    return worst;
}

static void expect_close(const char *what, const float *got, const float *want, int64_t n,
                         double tol) {
    int same;
    double d = max_rel(got, want, n, &same);
    printf("#   %-52s max |diff|/(1+|ref|) = %.2e%s\n", what, d, same ? " (bit-identical)" : "");
    if (!(d <= tol)) fail_msg("%s: differs by %.3g relative, tolerance %.1g", what, d, tol);
}

// Gradients: |got − want| <= 1e-5·max|want| + 1e-4·|want| elementwise (see the top).
static void expect_grads(const char *what, const float *got, const float *want, int64_t n) {
    double gmax = 0, worst = 0;
    for (int64_t i = 0; i < n; i++)
        gmax = fmax(gmax, fabs((double)want[i]));
    if (!(gmax > 0)) fail_msg("%s: the reference gradient is all zero", what);
    int64_t at = -1;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        double allowed = 1e-5 * gmax + 1e-4 * fabs((double)want[i]);
        double ratio = d / allowed;
        if (!(ratio <= worst)) worst = isnan(ratio) ? INFINITY : ratio, at = i;
    }
    printf("#   %-52s worst diff / allowed = %.2f (max|g| %.2e)\n", what, worst, gmax);
    if (!(worst <= 1.0))
        fail_msg("%s: gradient %lld is %.8g, padded %.8g (max|g| %.3g)", what, (long long)at,
                 got[at], want[at], gmax);
}

/*
 * Forward (logits or LM logits, embeddings), loss and gradients of the packed batch against
 * the padded one, on one model.
 */
static void compare(const char *name, Model *m, Pair *p, int64_t tile_rows_packed) {
    const ModelConfig *c = model_config(m);
    const int lm = c->task == MODEL_TASK_LM;
    const int64_t D = c->d_model, V = lm ? c->vocab : c->n_classes;
    const int64_t P = model_param_table(m)->total;
    const int64_t tile_default = m->tile_rows;
    char what[128];
    assert_int_equal(model_output_rows(m, &p->packed), lm ? p->B * p->Lk : p->S);

    // forward
    float *lp = kc_floats(model_output_rows(m, &p->pad) * V);
    float *lk = kc_floats(model_output_rows(m, &p->packed) * V);
    OK(model_forward(m, &p->pad, lp, 0));
    m->tile_rows = tile_rows_packed;
    OK(model_forward(m, &p->packed, lk, 0));
    m->tile_rows = tile_default;
    if (!lm) {
        snprintf(what, sizeof what, "%s: logits", name);
        expect_close(what, lk, lp, p->S * V, 1e-5);
    } else {
        const int64_t F = 1;
        for (int64_t k = 0; k < p->S; k++) {
            snprintf(what, sizeof what, "%s: LM logits of sequence %lld (%lld)", name, (long long)k,
                     (long long)p->n[k]);
            expect_close(what, lk + (p->row_of[k] * p->Lk + p->at[k] * F) * V, lp + k * p->Lp * V,
                         p->n[k] * V, 1e-5);
        }
    }
    float *ep = kc_floats(p->S * D), *ek = kc_floats(p->S * D);
    OK(model_embed(m, &p->pad, ep));
    m->tile_rows = tile_rows_packed;
    OK(model_embed(m, &p->packed, ek));
    m->tile_rows = tile_default;
    snprintf(what, sizeof what, "%s: embeddings", name);
    expect_close(what, ek, ep, p->S * D, 1e-5);

    // the training step: loss and every gradient
    float *gp = kc_floats(P), *gk = kc_floats(P);
    double loss_p, loss_k;
    OK(model_zero_grads(m));
    OK(model_forward_backward(m, &p->pad, p->labels, 1.0f, &loss_p));
    OK(model_buffer_read(m, MODEL_BUF_GRADS, gp));
    OK(model_zero_grads(m));
    m->tile_rows = tile_rows_packed;
    OK(model_forward_backward(m, &p->packed, p->labels, 1.0f, &loss_k));
    m->tile_rows = tile_default;
    OK(model_buffer_read(m, MODEL_BUF_GRADS, gk));
    printf("#   %-52s loss %.9f packed %.9f\n", name, loss_p, loss_k);
    if (!(fabs(loss_k - loss_p) <= 1e-5 * (1 + fabs(loss_p))))
        fail_msg("%s: loss %.9g packed, %.9g padded", name, loss_k, loss_p);
    // model_loss on the host agrees with the device step
    if (!lm) {
        double host_loss;
        float *logits = kc_floats(p->S * V);
        OK(model_forward(m, &p->packed, logits, 0));
        OK(model_loss(m, &p->packed, logits, p->labels, &host_loss, NULL, NULL, 1.0f));
        if (!(fabs(host_loss - loss_k) <= 1e-5 * (1 + fabs(loss_k))))
            fail_msg("%s: model_loss %.9g, model_forward_backward %.9g", name, host_loss, loss_k);
        free(logits);
    }
    snprintf(what, sizeof what, "%s: gradients (%lld)", name, (long long)P);
    expect_grads(what, gk, gp, P);
    free(lp), free(lk), free(ep), free(ek), free(gp), free(gk);
}

// S = 6 token sequences, one of length 1, packed 3 + 1 + 2 into rows of 16.
static const int64_t tok_n[6] = {7, 1, 3, 12, 5, 9};
static const int64_t tok_rows[3] = {3, 1, 2};

static void run_tokens(const char *name, ModelConfig c, int64_t tile_rows) {
    KcRng r = kc_rng(80);
    Model *m = new_model(&c, 31);
    Pair p;
    make_pair(&p, &c, &r, 6, tok_n, 3, tok_rows, 16);
    compare(name, m, &p, tile_rows);
    free_pair(&p);
    model_free(m);
}

// ------------------------------------------------------------------------------ cases

static void test_pack_mamba(void **state) {
    (void)state;
    // 3 rows (Be 3): tile_rows 15 → tiles of 5 positions; starts at 7, 8 (mid-tile), 5 (edge)
    run_tokens("mamba classify mean", tiny(MODEL_MAMBA, MODEL_TASK_CLASSIFY), 15);
    ModelConfig last = tiny(MODEL_MAMBA, MODEL_TASK_CLASSIFY);
    last.pool = MODEL_POOL_LAST;
    run_tokens("mamba classify last", last, 15);
    run_tokens("mamba LM", tiny(MODEL_MAMBA, MODEL_TASK_LM), 15);
    run_tokens("mamba LM, one tile", tiny(MODEL_MAMBA, MODEL_TASK_LM), 0 + MODEL_TILE_ROWS);
    ModelConfig k1 = tiny(MODEL_MAMBA, MODEL_TASK_CLASSIFY);
    k1.d_conv = 1; // no conv state
    run_tokens("mamba classify d_conv 1", k1, 6);
}

static void test_pack_bimamba(void **state) {
    (void)state;
    run_tokens("bimamba classify mean", tiny(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY), 15);
    ModelConfig first = tiny(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY);
    first.pool = MODEL_POOL_FIRST;
    first.norm = MODEL_NORM_LAYER;
    run_tokens("bimamba classify first, LayerNorm", first, 9); // tiles of 3
    ModelConfig last = tiny(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY);
    last.pool = MODEL_POOL_LAST;
    run_tokens("bimamba classify last", last, 15);
}

static void test_pack_rc(void **state) {
    (void)state;
    for (int pool = MODEL_POOL_MEAN; pool <= MODEL_POOL_FIRST; pool++) {
        ModelConfig c = tiny(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY);
        c.rc_equivariant = 1;
        c.pool = (ModelPool)pool;
        const char *names[] = {"rc bimamba mean", "rc bimamba last", "rc bimamba first"};
        run_tokens(names[pool], c, 30); // Be 6: tiles of 5
    }
    // the packed rc classifier is still exactly reverse-complement invariant per sequence.
    // Bit for bit only when a strand's row and its partner's are computed by the same BLAS
    // micro-kernel: 4 rows (Be 8) in tiles of 1 position, as test_model.c's rc check does.
    ModelConfig c = tiny(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY);
    c.rc_equivariant = 1;
    Model *m = new_model(&c, 5);
    m->tile_rows = 8;
    KcRng r = kc_rng(81);
    static const int64_t rows4[4] = {2, 1, 2, 1}; // 8, 3, 17, 9 positions of 17
    Pair p;
    make_pair(&p, &c, &r, 6, tok_n, 4, rows4, 17);
    uint8_t *rcp = malloc((size_t)(p.B * p.Lk));
    memcpy(rcp, p.pk_tokens, (size_t)(p.B * p.Lk));
    for (int64_t k = 0; k < p.S; k++) {
        uint8_t *seq = rcp + p.row_of[k] * p.Lk + p.at[k];
        dna_reverse_complement(seq, p.pk_tokens + p.row_of[k] * p.Lk + p.at[k], p.n[k]);
    }
    float a[6 * 3], b[6 * 3];
    OK(model_forward(m, &p.packed, a, 0));
    p.packed.tokens = rcp;
    OK(model_forward(m, &p.packed, b, 0));
    kc_check_same("packed rc logits(x) == logits(revcomp x) per sequence", b, a, 6 * 3);
    free(rcp);
    free_pair(&p);
    model_free(m);
}

static void test_pack_waveform(void **state) {
    (void)state;
    // frame 3: samples 20, 2, 33, 9, 14, 28 → positions 7, 1, 11, 3, 5, 10; each packed
    // sequence starts on a frame boundary, the gap after a sequence's last sample is garbage
    static const int64_t n[6] = {20, 2, 33, 9, 14, 28}, rows[3] = {2, 2, 2};
    ModelConfig c = tiny(MODEL_MAMBA, MODEL_TASK_CLASSIFY);
    c.input = MODEL_INPUT_WAVEFORM;
    KcRng r = kc_rng(82);
    Model *m = new_model(&c, 32);
    Pair p;
    make_pair(&p, &c, &r, 6, n, 3, rows, 48);      // rows: 8, 14, 15 positions of 16
    compare("mamba waveform classify", m, &p, 12); // tiles of 4 positions
    free_pair(&p);
    model_free(m);
    ModelConfig bi = c;
    bi.arch = MODEL_BIMAMBA;
    m = new_model(&bi, 33);
    make_pair(&p, &bi, &r, 6, n, 3, rows, 47); // the last sequence ends mid-frame at sample 47
    compare("bimamba waveform classify", m, &p, 12);
    free_pair(&p);
    model_free(m);
}

// One sequence per row packed is the padded batch itself: bit-identical to it.
static void test_pack_one_per_row(void **state) {
    (void)state;
    ModelConfig c = tiny(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY);
    Model *m = new_model(&c, 34);
    KcRng r = kc_rng(83);
    static const int64_t n[3] = {9, 1, 6}, rows[3] = {1, 1, 1};
    Pair p;
    make_pair(&p, &c, &r, 3, n, 3, rows, 9);
    float a[3 * 3], b[3 * 3];
    OK(model_forward(m, &p.pad, a, 0));
    OK(model_forward(m, &p.packed, b, 0));
    kc_check_same("packed one per row == padded (logits)", b, a, 9);
    free_pair(&p);
    model_free(m);
}

// The comparison can fail: a state leaking across a boundary is caught. Packing without
// marking the starts (two sequences read as one) must move the logits far past 1e-5.
static void test_leak_detected(void **state) {
    (void)state;
    ModelConfig c = tiny(MODEL_MAMBA, MODEL_TASK_CLASSIFY);
    Model *m = new_model(&c, 35);
    KcRng r = kc_rng(84);
    static const int64_t n[2] = {6, 5}, rows[1] = {2};
    Pair p;
    make_pair(&p, &c, &r, 2, n, 1, rows, 11);
    float pad[2 * 3], logits[2 * 3];
    int same;
    OK(model_forward(m, &p.pad, pad, 0));
    OK(model_forward(m, &p.packed, logits, 0));
    double ok = max_rel(logits, pad, 6, &same);
    // the same row read as one sequence of 11: the second sequence sees the first's state
    int64_t one = 11;
    ModelBatch whole = {.B = 1, .L = 11, .tokens = p.pk_tokens, .lengths = &one};
    // last-position pooling of the joined row is sequence 2 with sequence 1's state
    c.pool = MODEL_POOL_LAST;
    Model *ml = new_model(&c, 35);
    float lp[2 * 3], lj[3];
    OK(model_forward(ml, &p.pad, lp, 0));
    OK(model_forward(ml, &whole, lj, 0));
    double leak = max_rel(lj, lp + 3, 3, &same);
    printf("#   packed vs padded %.2e; a state carried across the boundary: %.2e\n", ok, leak);
    assert_true(ok <= 1e-5);
    assert_true(leak > 1e-3);
    free_pair(&p);
    model_free(m);
    model_free(ml);
}

static void test_pack_errors(void **state) {
    (void)state;
    KcRng r = kc_rng(85);
    ModelConfig c = tiny(MODEL_MAMBA, MODEL_TASK_CLASSIFY);
    Model *m = new_model(&c, 36);
    Pair p;
    make_pair(&p, &c, &r, 6, tok_n, 3, tok_rows, 16);
    float logits[6 * 3];
    // sequences that overflow their row
    int64_t rows_bad[3] = {4, 1, 1};
    ModelBatch bad = p.packed;
    bad.row_seqs = rows_bad; // row 0: 7 + 1 + 3 + 12 > 16
    assert_int_equal(model_forward(m, &bad, logits, 0), LS_ERR_USAGE);
    assert_non_null(strstr(ls_error_message(), "row 0"));
    bad = p.packed;
    bad.lengths = p.n;
    assert_int_equal(model_forward(m, &bad, logits, 0), LS_ERR_USAGE);
    int64_t zero[6] = {7, 0, 3, 12, 5, 9};
    bad = p.packed;
    bad.seq_lengths = zero;
    assert_int_equal(model_forward(m, &bad, logits, 0), LS_ERR_USAGE);
    bad = p.packed;
    bad.seq_lengths = NULL;
    assert_int_equal(model_forward(m, &bad, logits, 0), LS_ERR_USAGE);
    // streams do not pack
    OK(model_stream_reset(m, 3));
    assert_int_equal(model_stream_forward(m, &p.packed, NULL), LS_ERR_UNSUPPORTED);
    model_free(m);
    // attention would cross the sequences: the Transformer and the hybrid refuse
    ModelConfig t = tiny(MODEL_TRANSFORMER, MODEL_TASK_CLASSIFY);
    m = new_model(&t, 37);
    assert_int_equal(model_forward(m, &p.packed, logits, 0), LS_ERR_UNSUPPORTED);
    printf("#   Transformer: %s\n", ls_error_message());
    assert_non_null(strstr(ls_error_message(), "attention"));
    model_free(m);
    ModelConfig h = tiny(MODEL_HYBRID, MODEL_TASK_CLASSIFY);
    OK(model_config_set_attn_every(&h, 2));
    m = new_model(&h, 38);
    assert_int_equal(model_forward(m, &p.packed, logits, 0), LS_ERR_UNSUPPORTED);
    model_free(m);
    free_pair(&p);
}

int main(void) {
    kc_seed("test_model_pack");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pack_mamba),       cmocka_unit_test(test_pack_bimamba),
        cmocka_unit_test(test_pack_rc),          cmocka_unit_test(test_pack_waveform),
        cmocka_unit_test(test_pack_one_per_row), cmocka_unit_test(test_leak_detected),
        cmocka_unit_test(test_pack_errors),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests_name("model_pack", tests, NULL, NULL);
}
