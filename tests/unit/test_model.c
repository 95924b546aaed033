/*
 * test_model.c — models/ (model.h) on tiny configurations, CPU.
 *
 * Gradients: for each case (architecture × head × input) the loss is model_loss()'s mean
 * cross-entropy (loss.h, accumulated in double) of the fp32 forward; the analytic gradient is
 * model_backward() of its dlogits. About 300 parameters are drawn per case, at least 4 from
 * every tensor of the table, the rest uniformly; each is compared with the central difference
 * (loss(p + h) − loss(p − h)) / 2h, h = 1e-3, of the fp32 forward. Pass: for every drawn
 * parameter |fd − an| <= 2e-4 + 1e-2·max(|fd|, |an|) (2e-4 covers the fp32 forward's rounding
 * divided by 2h), and over all drawn parameters ‖fd − an‖₂ <= 1e-2·‖fd‖₂.
 *
 * Also: padded rows ≡ rows alone (every arch), streaming in 2 and 3 segments ≡ one pass,
 * token-by-token generation ≡ the full forward, reverse-complement invariance of the rc
 * classifier, determinism (seed; 1 vs 2 threads), overfitting one batch with AdamW, save →
 * load with bit-identical logits, wrong-config / corrupt checkpoints refused, config checks
 * and JSON. Tolerances are stated at each check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/encode.h"
#include "io/safetensors.h"
#include "kernels/matmul.h"
#include "models/model.h"
#include "models/model_internal.h"
#include "tests/kernel_check.h"

static const Device cpu = {DEVICE_CPU, 0};

// ------------------------------------------------------------------------------ fixtures

static ModelConfig tiny(ModelArch arch, ModelTask task) {
    ModelConfig c;
    model_config_default(&c, arch, task);
    c.d_model = 8;
    c.n_layers = 2;
    c.d_state = 4;
    c.expand = 2;
    c.vocab = 5;
    c.n_classes = 3;
    c.n_heads = 2;
    c.mlp_hidden = 16;
    c.window = 16;
    c.frame = 3;
    return c;
}

static Model *new_model(const ModelConfig *c, uint64_t seed) {
    Model *m = NULL;
    int rc = model_init(&m, c, &cpu, seed);
    if (rc) fail_msg("model_init: %s", ls_error_message());
    return m;
}

typedef struct {
    ModelBatch b;
    uint8_t *tokens;
    float *samples;
    int64_t *lengths;
    int32_t *labels;
} TestBatch;

// Rows padded with bytes / floats the model must never read (tokens 255, samples 1e30).
static TestBatch make_batch(const ModelConfig *c, KcRng *r, int64_t B, int64_t L,
                            const int64_t *lengths) {
    TestBatch t = {0};
    t.tokens = malloc((size_t)(B * L));
    t.samples = kc_floats(B * L);
    t.lengths = malloc((size_t)B * sizeof(int64_t));
    t.labels = malloc((size_t)B * sizeof(int32_t));
    for (int64_t b = 0; b < B; b++) {
        t.lengths[b] = lengths ? lengths[b] : L;
        t.labels[b] = (int32_t)kc_int(r, 0, c->n_classes - 1);
        for (int64_t i = 0; i < L; i++) {
            int valid = i < t.lengths[b];
            t.tokens[b * L + i] = valid ? (uint8_t)kc_int(r, 0, c->vocab - 1) : 255;
            t.samples[b * L + i] = valid ? (float)kc_uniform(r, -1, 1) : 1e30f;
        }
    }
    t.b = (ModelBatch){.B = B, .L = L, .lengths = t.lengths};
    if (c->input == MODEL_INPUT_TOKENS) t.b.tokens = t.tokens;
    else t.b.samples = t.samples;
    return t;
}

static void free_batch(TestBatch *t) {
    free(t->tokens);
    free(t->samples);
    free(t->lengths);
    free(t->labels);
}

static int64_t logits_numel(const Model *m, const ModelBatch *b) {
    const ModelConfig *c = model_config(m);
    return c->task == MODEL_TASK_LM ? b->B * b->L * c->vocab : b->B * c->n_classes;
}

#define OK(expr)                                                                                 \
    do {                                                                                         \
        int rc_ = (expr);                                                                        \
        if (rc_ != 0) fail_msg("%s returned %d: %s", #expr, rc_, ls_error_message());            \
    } while (0)

static double batch_loss(Model *m, TestBatch *t, float *logits) {
    double loss;
    OK(model_forward(m, &t->b, logits, 0));
    OK(model_loss(m, &t->b, logits, t->labels, &loss, NULL, NULL, 1.0f));
    return loss;
}

// ------------------------------------------------------------------------------ gradients

typedef struct {
    const char *name;
    ModelConfig cfg;
    int64_t tile_rows; // 0: default
} GradCase;

static void grad_check(const GradCase *gc, uint64_t stream) {
    KcRng r = kc_rng(stream);
    Model *m = new_model(&gc->cfg, 1000 + stream);
    if (gc->tile_rows) m->tile_rows = gc->tile_rows;
    const int64_t lengths[2] = {9, 6};
    TestBatch t = make_batch(&gc->cfg, &r, 2, 9, lengths);
    if (gc->cfg.input == MODEL_INPUT_WAVEFORM) { // 9 samples → 3 frames is too short: 27
        free_batch(&t);
        const int64_t wl[2] = {27, 20};
        t = make_batch(&gc->cfg, &r, 2, 27, wl);
    }
    const int64_t nlog = logits_numel(m, &t.b);
    float *logits = kc_floats(nlog), *dlogits = kc_floats(nlog);
    // analytic
    double loss;
    model_zero_grads(m);
    OK(model_forward(m, &t.b, logits, 1));
    OK(model_loss(m, &t.b, logits, t.labels, &loss, NULL, dlogits, 1.0f));
    OK(model_backward(m, &t.b, dlogits));
    const ParamTable *tab = model_param_table(m);
    float *p = model_params(m), *g = model_grads(m);
    // draw: 4 per tensor, then uniform over all parameters up to 300
    int64_t picks[600];
    int np = 0;
    for (int i = 0; i < tab->n; i++)
        for (int k = 0; k < 4; k++)
            picks[np++] = tab->entries[i].offset + kc_int(&r, 0, tab->entries[i].numel - 1);
    while (np < 300) {
        const ParamEntry *e = &tab->entries[kc_int(&r, 0, tab->n - 1)];
        picks[np++] = e->offset + kc_int(&r, 0, e->numel - 1);
    }
    double num = 0, den = 0, worst = 0;
    const ParamEntry *emb = param_table_find(tab, "backbone.embedding.weight");
    for (int i = 0; i < np; i++) {
        const int64_t at = picks[i];
        const int in_emb = emb && at >= emb->offset && at < emb->offset + emb->numel;
        const double h = in_emb ? 1e-4 : 1e-3, atol = 2e-7 / h;
        const float saved = p[at];
        p[at] = (float)(saved + h);
        double lp = batch_loss(m, &t, logits);
        p[at] = (float)(saved - h);
        double lm = batch_loss(m, &t, logits);
        p[at] = saved;
        // the step actually taken in float
        double fd = (lp - lm) / ((double)(float)(saved + h) - (double)(float)(saved - h));
        double an = g[at];
        double diff = fabs(fd - an), scale = fmax(fabs(fd), fabs(an));
        num += diff * diff;
        den += fd * fd;
        if (getenv("LS_TEST_VERBOSE"))
            printf("#   %lld fd %.6g an %.6g\n", (long long)at, fd, an);
        if (diff / (atol + 1e-2 * scale) > worst) worst = diff / (atol + 1e-2 * scale);
        if (!(diff <= atol + 1e-2 * scale)) {
            const char *name = "?";
            for (int k = 0; k < tab->n; k++)
                if (at >= tab->entries[k].offset &&
                    at < tab->entries[k].offset + tab->entries[k].numel)
                    name = tab->entries[k].name;
            fail_msg("%s: d loss / d %s[%lld] = %.6g by finite differences, %.6g by backward",
                     gc->name, name, (long long)at, fd, an);
        }
    }
    double rel = sqrt(num / (den > 0 ? den : 1));
    printf("# grad %-28s %3d params, loss %.4f, ||fd-an||/||fd|| = %.2e, worst/tol = %.2f\n",
           gc->name, np, loss, rel, worst);
    if (!(rel <= 1e-2)) fail_msg("%s: relative L2 error %.3g > 1e-2", gc->name, rel);
    free(logits);
    free(dlogits);
    free_batch(&t);
    model_free(m);
}

static void test_grad_mamba(void **state) {
    (void)state;
    GradCase cases[4];
    cases[0] = (GradCase){"mamba classify mean", tiny(MODEL_MAMBA, MODEL_TASK_CLASSIFY), 0};
    cases[1] = (GradCase){"mamba lm untied tiles", tiny(MODEL_MAMBA, MODEL_TASK_LM), 8};
    cases[1].cfg.tie_embeddings = 0;
    cases[2] = (GradCase){"mamba lm tied layernorm", tiny(MODEL_MAMBA, MODEL_TASK_LM), 0};
    cases[2].cfg.norm = MODEL_NORM_LAYER;
    cases[3] = (GradCase){"mamba waveform last", tiny(MODEL_MAMBA, MODEL_TASK_CLASSIFY), 0};
    cases[3].cfg.input = MODEL_INPUT_WAVEFORM;
    cases[3].cfg.pool = MODEL_POOL_LAST;
    for (int i = 0; i < 4; i++) grad_check(&cases[i], 10 + i);
}

static void test_grad_bimamba(void **state) {
    (void)state;
    GradCase cases[3];
    cases[0] = (GradCase){"bimamba classify tiles", tiny(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY), 6};
    cases[1] = (GradCase){"bimamba rc first", tiny(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY), 0};
    cases[1].cfg.rc_equivariant = 1;
    cases[1].cfg.pool = MODEL_POOL_FIRST;
    cases[2] = (GradCase){"bimamba rc mean tiles ln", tiny(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY), 10};
    cases[2].cfg.rc_equivariant = 1;
    cases[2].cfg.norm = MODEL_NORM_LAYER;
    for (int i = 0; i < 3; i++) grad_check(&cases[i], 20 + i);
}

static void test_grad_transformer(void **state) {
    (void)state;
    GradCase cases[3];
    cases[0] = (GradCase){"transformer lm causal", tiny(MODEL_TRANSFORMER, MODEL_TASK_LM), 0};
    cases[1] = (GradCase){"transformer classify bidir", tiny(MODEL_TRANSFORMER, MODEL_TASK_CLASSIFY), 0};
    cases[1].cfg.norm = MODEL_NORM_LAYER;
    cases[2] = (GradCase){"transformer waveform causal", tiny(MODEL_TRANSFORMER, MODEL_TASK_CLASSIFY), 0};
    cases[2].cfg.input = MODEL_INPUT_WAVEFORM;
    cases[2].cfg.causal = 1;
    cases[2].cfg.pool = MODEL_POOL_LAST;
    cases[2].cfg.window = 0;
    for (int i = 0; i < 3; i++) grad_check(&cases[i], 30 + i);
}


// ------------------------------------------------------------------------------ equivalences

// Largest |a − b| / (1 + |b|) over n floats; *same = 1 when every element is bit-identical.
static double max_rel_diff(const float *a, const float *b, int64_t n, int *same) {
    double worst = 0;
    *same = 1;
    for (int64_t i = 0; i < n; i++) {
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0) *same = 0;
        double d = fabs((double)a[i] - b[i]) / (1.0 + fabs((double)b[i]));
        if (!(d <= worst)) worst = isnan(d) ? INFINITY : d;
    }
    return worst;
}

static void expect_close(const char *what, const float *got, const float *want, int64_t n,
                         double tol) {
    int same;
    double d = max_rel_diff(got, want, n, &same);
    printf("#   %-44s max |diff|/(1+|ref|) = %.2e%s\n", what, d, same ? " (bit-identical)" : "");
    if (!(d <= tol)) fail_msg("%s: differs by %.3g relative, tolerance %.1g", what, d, tol);
}

// Padded rows give the logits of the same rows alone (tolerance 1e-5 relative: BLAS may sum
// a row differently when the matrix has another number of rows; measured bit-identical).
static void padding_case(const char *name, ModelConfig c, int64_t tile_rows) {
    KcRng r = kc_rng(40);
    Model *m = new_model(&c, 7);
    if (tile_rows) m->tile_rows = tile_rows;
    const int wave = c.input == MODEL_INPUT_WAVEFORM;
    const int64_t unit = wave ? c.frame : 1;
    const int64_t lengths[3] = {11 * unit, 5 * unit - 1, 8 * unit};
    const int64_t L = 11 * unit;
    TestBatch t = make_batch(&c, &r, 3, L, lengths);
    const int lm = c.task == MODEL_TASK_LM;
    const int64_t per_pos = lm ? c.vocab : 0;
    float *all = kc_floats(logits_numel(m, &t.b));
    OK(model_forward(m, &t.b, all, 0));
    char what[96];
    for (int64_t b = 0; b < 3; b++) {
        ModelBatch one = {.B = 1, .L = lengths[b], .lengths = NULL};
        one.tokens = t.tokens + b * L;
        one.samples = t.samples + b * L;
        if (wave) one.tokens = NULL;
        else one.samples = NULL;
        float *alone = kc_floats(logits_numel(m, &one));
        OK(model_forward(m, &one, alone, 0));
        snprintf(what, sizeof what, "%s row %lld", name, (long long)b);
        if (lm) expect_close(what, alone, all + b * L * per_pos, lengths[b] * per_pos, 1e-5);
        else expect_close(what, alone, all + b * c.n_classes, c.n_classes, 1e-5);
        free(alone);
    }
    free(all);
    free_batch(&t);
    model_free(m);
}

static void test_padding(void **state) {
    (void)state;
    ModelConfig c = tiny(MODEL_MAMBA, MODEL_TASK_LM);
    padding_case("mamba lm", c, 0);
    padding_case("mamba lm, 4-row tiles", c, 4);
    c = tiny(MODEL_MAMBA, MODEL_TASK_CLASSIFY);
    c.pool = MODEL_POOL_LAST;
    padding_case("mamba classify last", c, 0);
    c.input = MODEL_INPUT_WAVEFORM;
    padding_case("mamba waveform", c, 0);
    c = tiny(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY);
    padding_case("bimamba", c, 0);
    padding_case("bimamba, 6-row tiles", c, 6);
    c.rc_equivariant = 1;
    padding_case("bimamba rc", c, 0);
    c = tiny(MODEL_TRANSFORMER, MODEL_TASK_LM);
    padding_case("transformer lm", c, 0);
    c = tiny(MODEL_TRANSFORMER, MODEL_TASK_CLASSIFY);
    padding_case("transformer classify", c, 0);
}

// Streaming in 2 and 3 segments, and generation token by token, equal one forward pass.
static void test_stream_and_generate(void **state) {
    (void)state;
    KcRng r = kc_rng(50);
    ModelConfig c = tiny(MODEL_MAMBA, MODEL_TASK_LM);
    Model *m = new_model(&c, 9);
    const int64_t B = 2, L = 20, V = c.vocab;
    TestBatch t = make_batch(&c, &r, B, L, NULL);
    float *full = kc_floats(B * L * V), *got = kc_floats(B * L * V);
    OK(model_forward(m, &t.b, full, 0));
    const int64_t splits[2][3] = {{8, 12, 0}, {5, 9, 6}};
    for (int s = 0; s < 2; s++) {
        OK(model_stream_reset(m, B));
        int64_t at = 0;
        for (int k = 0; k < 3 && splits[s][k]; k++) {
            const int64_t n = splits[s][k];
            uint8_t seg_tok[2 * 20];
            for (int64_t b = 0; b < B; b++) memcpy(seg_tok + b * n, t.tokens + b * L + at, (size_t)n);
            float *seg_logits = kc_floats(B * n * V);
            ModelBatch seg = {.B = B, .L = n, .tokens = seg_tok};
            OK(model_stream_forward(m, &seg, seg_logits));
            for (int64_t b = 0; b < B; b++)
                memcpy(got + (b * L + at) * V, seg_logits + b * n * V, (size_t)(n * V) * sizeof(float));
            free(seg_logits);
            at += n;
        }
        expect_close(s ? "stream 5+9+6 vs one pass" : "stream 8+12 vs one pass", got, full,
                     B * L * V, 1e-6);
    }
    // generation: prime with 7 tokens, then one token at a time
    OK(model_stream_reset(m, B));
    {
        uint8_t prompt[2 * 7];
        for (int64_t b = 0; b < B; b++) memcpy(prompt + b * 7, t.tokens + b * L, 7);
        ModelBatch seg = {.B = B, .L = 7, .tokens = prompt};
        float *pl = kc_floats(B * 7 * V);
        OK(model_stream_forward(m, &seg, pl));
        for (int64_t b = 0; b < B; b++)
            memcpy(got + b * L * V, pl + b * 7 * V, (size_t)(7 * V) * sizeof(float));
        free(pl);
    }
    for (int64_t i = 7; i < L; i++) {
        uint8_t tok[2] = {t.tokens[i], t.tokens[L + i]};
        float step[2 * 5];
        OK(model_generate_step(m, tok, step));
        for (int64_t b = 0; b < B; b++)
            memcpy(got + (b * L + i) * V, step + b * V, (size_t)V * sizeof(float));
    }
    expect_close("prompt 7 + 13 generate steps vs one pass", got, full, B * L * V, 1e-6);
    // all steps from an empty state
    OK(model_stream_reset(m, B));
    for (int64_t i = 0; i < L; i++) {
        uint8_t tok[2] = {t.tokens[i], t.tokens[L + i]};
        float step[2 * 5];
        OK(model_generate_step(m, tok, step));
        for (int64_t b = 0; b < B; b++)
            memcpy(got + (b * L + i) * V, step + b * V, (size_t)V * sizeof(float));
    }
    expect_close("20 generate steps vs one pass", got, full, B * L * V, 1e-6);
    free(full);
    free(got);
    free_batch(&t);
    model_free(m);

    // classification with pool LAST: two segments, then model_stream_logits
    c = tiny(MODEL_MAMBA, MODEL_TASK_CLASSIFY);
    c.pool = MODEL_POOL_LAST;
    m = new_model(&c, 11);
    t = make_batch(&c, &r, B, L, NULL);
    float want[2 * 3], have[2 * 3];
    OK(model_forward(m, &t.b, want, 0));
    OK(model_stream_reset(m, B));
    assert_int_equal(model_stream_logits(m, have), LS_ERR_USAGE);
    for (int64_t at = 0; at < L; at += 10) {
        uint8_t seg_tok[2 * 10];
        for (int64_t b = 0; b < B; b++) memcpy(seg_tok + b * 10, t.tokens + b * L + at, 10);
        ModelBatch seg = {.B = B, .L = 10, .tokens = seg_tok};
        OK(model_stream_forward(m, &seg, NULL));
    }
    OK(model_stream_logits(m, have));
    expect_close("classify stream 10+10 vs one pass", have, want, B * 3, 1e-6);
    free_batch(&t);
    model_free(m);

    // what cannot stream says so
    c = tiny(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY);
    m = new_model(&c, 1);
    assert_int_equal(model_stream_reset(m, 1), LS_ERR_UNSUPPORTED);
    model_free(m);
    c = tiny(MODEL_MAMBA, MODEL_TASK_CLASSIFY); // pool mean
    m = new_model(&c, 1);
    assert_int_equal(model_stream_reset(m, 1), LS_ERR_UNSUPPORTED);
    model_free(m);
}

// The rc classifier: logits and embedding of a sequence equal those of its reverse complement,
// bit for bit, whatever the padding (docs/models.md: the two strands' pooled vectors are
// averaged, and the pair average is symmetric).
static void test_rc_invariance(void **state) {
    (void)state;
    KcRng r = kc_rng(60);
    for (int pool = MODEL_POOL_MEAN; pool <= MODEL_POOL_FIRST; pool++) {
        ModelConfig c = tiny(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY);
        c.rc_equivariant = 1;
        c.pool = (ModelPool)pool;
        Model *m = new_model(&c, 21);
        m->tile_rows = 8; // several tiles
        const int64_t L = 13, lengths[4] = {13, 13, 9, 9};
        TestBatch t = make_batch(&c, &r, 4, L, lengths);
        dna_reverse_complement(t.tokens + L, t.tokens, 13);
        dna_reverse_complement(t.tokens + 3 * L, t.tokens + 2 * L, 9);
        float logits[4 * 3], emb[4 * 8];
        OK(model_forward(m, &t.b, logits, 0));
        OK(model_embed(m, &t.b, emb));
        kc_check_same("rc logits (13 tokens)", logits + 3, logits, 3);
        kc_check_same("rc logits (9 of 13, padded)", logits + 9, logits + 6, 3);
        kc_check_same("rc embedding", emb + 8, emb, 8);
        free_batch(&t);
        model_free(m);
    }
    printf("#   rc classifier: logits(x) == logits(revcomp x) bit for bit (mean, last, first)\n");
}

// ------------------------------------------------------------------------------ determinism

static void run_step(const ModelConfig *c, int threads, float *logits, float *grads_out,
                     int64_t *n_grads) {
    omp_set_num_threads(threads);
    OK(matmul_set_threads(threads));
    KcRng r = kc_rng(70);
    Model *m = new_model(c, 3);
    const int64_t lengths[2] = {300, 217};
    TestBatch t = make_batch(c, &r, 2, 300, lengths);
    const int64_t nlog = logits_numel(m, &t.b);
    float *dl = kc_floats(nlog);
    double loss;
    model_zero_grads(m);
    OK(model_forward(m, &t.b, logits, 1));
    OK(model_loss(m, &t.b, logits, t.labels, &loss, NULL, dl, 1.0f));
    OK(model_backward(m, &t.b, dl));
    *n_grads = model_param_table(m)->total;
    memcpy(grads_out, model_grads(m), (size_t)*n_grads * sizeof(float));
    free(dl);
    free_batch(&t);
    model_free(m);
}

static void test_determinism(void **state) {
    (void)state;
    // same seed, same parameters; another seed, others
    ModelConfig c = tiny(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY);
    Model *a = new_model(&c, 5), *b = new_model(&c, 5), *d = new_model(&c, 6);
    const int64_t total = model_param_table(a)->total;
    kc_check_same("params, same seed", model_params(a), model_params(b), total);
    assert_true(memcmp(model_params(a), model_params(d), (size_t)total * sizeof(float)) != 0);
    model_free(a);
    model_free(b);
    model_free(d);

    // 1 vs 2 threads: forward logits and every gradient bit-identical (sizes where the
    // OpenMP loops and BLAS do split the work: E = 64, L = 300)
    const ModelArch arches[3] = {MODEL_MAMBA, MODEL_BIMAMBA, MODEL_TRANSFORMER};
    for (int i = 0; i < 3; i++) {
        c = tiny(arches[i], arches[i] == MODEL_BIMAMBA ? MODEL_TASK_CLASSIFY : MODEL_TASK_LM);
        c.d_model = 32;
        c.window = 0;
        if (arches[i] == MODEL_BIMAMBA) c.rc_equivariant = 1;
        float *l1 = kc_floats(2 * 300 * 5), *l2 = kc_floats(2 * 300 * 5);
        float *g1 = kc_floats(1 << 20), *g2 = kc_floats(1 << 20);
        int64_t n1, n2;
        run_step(&c, 1, l1, g1, &n1);
        run_step(&c, 2, l2, g2, &n2);
        const int64_t nlog = c.task == MODEL_TASK_LM ? 2 * 300 * 5 : 2 * 3;
        kc_check_same("logits, 1 vs 2 threads", l1, l2, nlog);
        kc_check_same("grads, 1 vs 2 threads", g1, g2, n1);
        printf("#   %s: logits and grads bit-identical with 1 and 2 threads\n",
               model_arch_name(arches[i]));
        free(l1);
        free(l2);
        free(g1);
        free(g2);
    }
    omp_set_num_threads(1);
    OK(matmul_set_threads(1));
}

// ------------------------------------------------------------------------------ training

static double overfit(ModelConfig c, int steps, double lr) {
    KcRng r = kc_rng(80);
    Model *m = new_model(&c, 13);
    const int64_t lengths[2] = {24, 19};
    TestBatch t = make_batch(&c, &r, 2, 24, lengths);
    const int64_t nlog = logits_numel(m, &t.b);
    float *logits = kc_floats(nlog), *dl = kc_floats(nlog);
    AdamWConfig opt = {0.9, 0.999, 1e-8, 0.01};
    double loss = 0, first = 0;
    for (int s = 1; s <= steps; s++) {
        model_zero_grads(m);
        memset(dl, 0, (size_t)nlog * sizeof(float));
        OK(model_forward(m, &t.b, logits, 1));
        OK(model_loss(m, &t.b, logits, t.labels, &loss, NULL, dl, 1.0f));
        if (s == 1) first = loss;
        OK(model_backward(m, &t.b, dl));
        double norm;
        OK(model_grad_norm(m, &norm));
        OK(model_adamw_step(m, &opt, s, lr, optim_clip_scale(norm, 1.0)));
    }
    loss = batch_loss(m, &t, logits);
    printf("#   overfit %-12s %s: loss %.4f → %.5f after %d AdamW steps (lr %g)\n",
           model_arch_name(c.arch), c.task == MODEL_TASK_LM ? "lm" : "classify", first, loss,
           steps, lr);
    free(logits);
    free(dl);
    free_batch(&t);
    model_free(m);
    return loss;
}

static void test_overfit(void **state) {
    (void)state;
    ModelConfig c = tiny(MODEL_MAMBA, MODEL_TASK_LM);
    c.d_model = 16;
    double loss = overfit(c, 300, 1e-2);
    if (!(loss < 0.05)) fail_msg("mamba lm: loss %.4f after 300 steps, expected < 0.05", loss);
    c = tiny(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY);
    c.d_model = 16;
    loss = overfit(c, 100, 1e-2);
    if (!(loss < 0.01)) fail_msg("bimamba classify: loss %.4f after 100 steps, expected < 0.01", loss);
    c = tiny(MODEL_TRANSFORMER, MODEL_TASK_LM);
    c.d_model = 16;
    c.window = 0;
    loss = overfit(c, 300, 1e-2);
    if (!(loss < 0.05)) fail_msg("transformer lm: loss %.4f after 300 steps, expected < 0.05", loss);
}

int main(void) {
    kc_seed("test_model");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grad_mamba),
        cmocka_unit_test(test_grad_bimamba),
        cmocka_unit_test(test_grad_transformer),
        cmocka_unit_test(test_padding),
        cmocka_unit_test(test_stream_and_generate),
        cmocka_unit_test(test_rc_invariance),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_overfit),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests_name("model", tests, NULL, NULL);
}
