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
#include "kernels/dropout.h"
#include "kernels/matmul.h"
#include "models/model.h"
#include "models/model_internal.h"
#include "tests/kernel_check.h"
#include "tests/model_fixture.h"


// ------------------------------------------------------------------------------ fixtures

static ModelConfig tiny(ModelArch arch, ModelTask task) { return tiny_config(arch, task, 16); }

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
    int32_t *ids;     // mask_batch(): int32 ids in place of the tokens
    uint8_t *target;  // mask_batch(): the target mask
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
    if (c->input == MODEL_INPUT_TOKENS)
        t.b.tokens = t.tokens;
    else
        t.b.samples = t.samples;
    return t;
}

static void free_batch(TestBatch *t) {
    free(t->tokens);
    free(t->samples);
    free(t->lengths);
    free(t->labels);
    free(t->ids);
    free(t->target);
}

// Make an LM batch read int32 ids of the whole vocabulary (which may pass 255) and score only
// the positions a random target mask marks (about a third; row 0 keeps at least one target).
// Padded positions get ids the model must never read (−7) and mask bytes 1.
static void mask_batch(TestBatch *t, const ModelConfig *c, KcRng *r) {
    const int64_t B = t->b.B, L = t->b.L;
    t->ids = malloc((size_t)(B * L) * sizeof *t->ids);
    t->target = malloc((size_t)(B * L));
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < L; i++) {
            int valid = i < t->lengths[b];
            t->ids[b * L + i] = valid ? (int32_t)kc_int(r, 0, c->vocab - 1) : -7;
            t->target[b * L + i] = valid ? kc_int(r, 0, 2) == 0 : 1;
        }
    t->target[2] = 1;
    t->b.tokens = NULL;
    t->b.ids = t->ids;
    t->b.target = t->target;
}

static int64_t logits_numel(const Model *m, const ModelBatch *b) {
    const ModelConfig *c = model_config(m);
    return model_output_rows(m, b) * (c->task == MODEL_TASK_LM ? c->vocab : c->n_classes);
}

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
    int masked;        // LM: int32 ids and a target mask (mask_batch)
} GradCase;

// The loss of a training forward (the one that drops, with the masks of the model's step).
static double batch_loss_train(Model *m, TestBatch *t, float *logits) {
    double loss;
    OK(model_forward(m, &t->b, logits, 1));
    OK(model_loss(m, &t->b, logits, t->labels, &loss, NULL, NULL, 1.0f));
    return loss;
}

// dropout > 0: every forward is a training forward with dropout, the masks fixed (seed, step)
static void grad_check_dropout(const GradCase *gc, uint64_t stream, double dropout) {
    KcRng r = kc_rng(stream);
    Model *m = new_model(&gc->cfg, 1000 + stream);
    if (gc->tile_rows) m->tile_rows = gc->tile_rows;
    if (dropout > 0) { // every forward below draws the masks of step 5: a fixed mask
        OK(model_set_dropout(m, dropout, 99));
        model_set_dropout_step(m, 5);
    }
    double (*loss_of)(Model *, TestBatch *, float *) =
        dropout > 0 ? batch_loss_train : batch_loss;
    const int64_t lengths[2] = {9, 6};
    TestBatch t = make_batch(&gc->cfg, &r, 2, 9, lengths);
    if (gc->cfg.input == MODEL_INPUT_WAVEFORM) { // 9 samples → 3 frames is too short: 27
        free_batch(&t);
        const int64_t wl[2] = {27, 20};
        t = make_batch(&gc->cfg, &r, 2, 27, wl);
    }
    if (gc->masked) mask_batch(&t, &gc->cfg, &r);
    const int64_t nlog = logits_numel(m, &t.b);
    float *logits = kc_floats(nlog), *dlogits = kc_floats(nlog);
    // analytic
    double loss;
    OK(model_zero_grads(m));
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
        double lp = loss_of(m, &t, logits);
        p[at] = (float)(saved - h);
        double lm = loss_of(m, &t, logits);
        p[at] = saved;
        // the step actually taken in float
        double fd = (lp - lm) / ((double)(float)(saved + h) - (double)(float)(saved - h));
        double an = g[at];
        double diff = fabs(fd - an), scale = fmax(fabs(fd), fabs(an));
        num += diff * diff;
        den += fd * fd;
        if (getenv("LS_TEST_VERBOSE")) printf("#   %lld fd %.6g an %.6g\n", (long long)at, fd, an);
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

static void grad_check(const GradCase *gc, uint64_t stream) { grad_check_dropout(gc, stream, 0); }

static void test_grad_mamba(void **state) {
    (void)state;
    GradCase cases[5];
    cases[0] = (GradCase){"mamba classify mean", tiny(MODEL_MAMBA, MODEL_TASK_CLASSIFY), 0, 0};
    cases[1] = (GradCase){"mamba lm untied tiles", tiny(MODEL_MAMBA, MODEL_TASK_LM), 8, 0};
    cases[1].cfg.tie_embeddings = 0;
    cases[2] = (GradCase){"mamba lm tied layernorm", tiny(MODEL_MAMBA, MODEL_TASK_LM), 0, 0};
    cases[2].cfg.norm = MODEL_NORM_LAYER;
    cases[3] = (GradCase){"mamba waveform last", tiny(MODEL_MAMBA, MODEL_TASK_CLASSIFY), 0, 0};
    cases[3].cfg.input = MODEL_INPUT_WAVEFORM;
    cases[3].cfg.pool = MODEL_POOL_LAST;
    cases[4] = (GradCase){"mamba lm d_conv 1 N 1 tiles", tiny(MODEL_MAMBA, MODEL_TASK_LM), 4, 0};
    cases[4].cfg.d_conv = 1;
    cases[4].cfg.d_state = 1;
    cases[4].cfg.expand = 1;
    for (int i = 0; i < 5; i++)
        grad_check(&cases[i], 10 + i);
}

static void test_grad_bimamba(void **state) {
    (void)state;
    GradCase cases[3];
    cases[0] = (GradCase){"bimamba classify tiles", tiny(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY), 6, 0};
    cases[1] = (GradCase){"bimamba rc first", tiny(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY), 0, 0};
    cases[1].cfg.rc_equivariant = 1;
    cases[1].cfg.pool = MODEL_POOL_FIRST;
    cases[2] =
        (GradCase){"bimamba rc mean tiles ln", tiny(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY), 10, 0};
    cases[2].cfg.rc_equivariant = 1;
    cases[2].cfg.norm = MODEL_NORM_LAYER;
    for (int i = 0; i < 3; i++)
        grad_check(&cases[i], 20 + i);
}

static void test_grad_transformer(void **state) {
    (void)state;
    GradCase cases[3];
    cases[0] = (GradCase){"transformer lm causal", tiny(MODEL_TRANSFORMER, MODEL_TASK_LM), 0, 0};
    cases[1] =
        (GradCase){"transformer classify bidir", tiny(MODEL_TRANSFORMER, MODEL_TASK_CLASSIFY), 0,
                   0};
    cases[1].cfg.norm = MODEL_NORM_LAYER;
    cases[2] =
        (GradCase){"transformer waveform causal", tiny(MODEL_TRANSFORMER, MODEL_TASK_CLASSIFY), 0,
                   0};
    cases[2].cfg.input = MODEL_INPUT_WAVEFORM;
    cases[2].cfg.causal = 1;
    cases[2].cfg.pool = MODEL_POOL_LAST;
    cases[2].cfg.window = 0;
    for (int i = 0; i < 3; i++)
        grad_check(&cases[i], 30 + i);
    // attention-only blocks (mlp_hidden 0): no norm2, fc1, fc2; gradients as above
    GradCase ao = {"transformer lm attention-only", tiny(MODEL_TRANSFORMER, MODEL_TASK_LM), 0, 0};
    ao.cfg.mlp_hidden = 0;
    grad_check(&ao, 33);
    Model *m = new_model(&ao.cfg, 1);
    const ParamTable *t = model_param_table(m);
    for (int i = 0; i < t->n; i++)
        if (strstr(t->entries[i].name, "mlp.") || strstr(t->entries[i].name, "norm2"))
            fail_msg("attention-only block has tensor %s", t->entries[i].name);
    assert_non_null(param_table_find(t, "backbone.layers.1.mixer.out_proj.weight"));
    assert_int_equal(model_config(m)->mlp_hidden, 0);
    model_free(m);
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
        if (wave)
            one.tokens = NULL;
        else
            one.samples = NULL;
        float *alone = kc_floats(logits_numel(m, &one));
        OK(model_forward(m, &one, alone, 0));
        snprintf(what, sizeof what, "%s row %lld", name, (long long)b);
        if (lm)
            expect_close(what, alone, all + b * L * per_pos, lengths[b] * per_pos, 1e-5);
        else
            expect_close(what, alone, all + b * c.n_classes, c.n_classes, 1e-5);
        free(alone);
    }
    free(all);
    free_batch(&t);
    model_free(m);
}

// Int32 ids past 255 and a target mask: the packed LM head (only scored rows) and its
// backward against finite differences of the masked loss.
static void test_grad_masked(void **state) {
    (void)state;
    GradCase cases[3];
    // vocab 300 untied: with a tied head every one of the 300 embedding rows gets a gradient
    // of order 1/300 through the softmax, below what a float finite difference resolves
    cases[0] = (GradCase){"mamba lm masked ids untied", tiny(MODEL_MAMBA, MODEL_TASK_LM), 0, 1};
    cases[0].cfg.vocab = 300;
    cases[0].cfg.tie_embeddings = 0;
    cases[1] = (GradCase){"mamba lm masked tied tiles", tiny(MODEL_MAMBA, MODEL_TASK_LM), 6, 1};
    cases[2] = (GradCase){"transformer lm masked ids", tiny(MODEL_TRANSFORMER, MODEL_TASK_LM),
                          0, 1};
    cases[2].cfg.vocab = 300;
    cases[2].cfg.tie_embeddings = 0;
    for (int i = 0; i < 3; i++)
        grad_check(&cases[i], 34 + i);
}

// A hybrid over 3 layers: Mamba layers and Transformer blocks through the same block code.
static ModelConfig tiny_hybrid(ModelTask task, const char *attn_layers) {
    ModelConfig c = tiny(MODEL_HYBRID, task);
    c.n_layers = 3;
    c.window = 0;
    if (model_config_set_attn_layers(&c, attn_layers) != 0)
        fail_msg("--attn-layers %s: %s", attn_layers, ls_error_message());
    return c;
}

static void test_grad_hybrid(void **state) {
    (void)state;
    GradCase cases[4];
    cases[0] = (GradCase){"hybrid lm attn 1", tiny_hybrid(MODEL_TASK_LM, "1"), 0, 0};
    cases[1] = (GradCase){"hybrid classify attn 0,2 ln", tiny_hybrid(MODEL_TASK_CLASSIFY, "0,2"),
                          0, 0};
    cases[1].cfg.norm = MODEL_NORM_LAYER; // bidirectional attention (classification default)
    cases[2] = (GradCase){"hybrid lm attn 2 tiles masked", tiny_hybrid(MODEL_TASK_LM, "2"), 6, 1};
    cases[2].cfg.vocab = 300;
    cases[2].cfg.tie_embeddings = 0;
    cases[3] = (GradCase){"hybrid waveform last attn 0", tiny_hybrid(MODEL_TASK_CLASSIFY, "0"), 4,
                          0};
    cases[3].cfg.input = MODEL_INPUT_WAVEFORM;
    cases[3].cfg.pool = MODEL_POOL_LAST;
    cases[3].cfg.causal = 1;
    for (int i = 0; i < 4; i++)
        grad_check(&cases[i], 37 + i);
    GradCase ao = {"hybrid lm attention-only attn 1", tiny_hybrid(MODEL_TASK_LM, "1"), 0, 0};
    ao.cfg.mlp_hidden = 0;
    grad_check(&ao, 41);
}

// The target mask: the packed logits are the dense forward's rows at the scored positions,
// the loss is the mean cross-entropy over those positions alone (a reference built from the
// dense logits), and a token that is no target cannot move the loss (bit for bit).
static void test_target_mask(void **state) {
    (void)state;
    const ModelArch archs[2] = {MODEL_MAMBA, MODEL_TRANSFORMER};
    for (int a = 0; a < 2; a++) {
        KcRng r = kc_rng(50 + a);
        ModelConfig c = tiny(archs[a], MODEL_TASK_LM);
        c.vocab = 300;
        Model *m = new_model(&c, 3);
        const int64_t B = 3, L = 10, V = c.vocab, lengths[3] = {10, 7, 4};
        TestBatch t = make_batch(&c, &r, B, L, lengths);
        mask_batch(&t, &c, &r);
        t.target[9] = 0; // row 0's last token: predicted by no scored position
        ModelBatch dense = t.b;
        dense.target = NULL;
        assert_int_equal(model_output_rows(m, &dense), B * L);
        float *dl = kc_floats(B * L * V);
        OK(model_forward(m, &dense, dl, 0));
        int64_t S = 0;
        for (int64_t b = 0; b < B; b++)
            for (int64_t i = 0; i + 1 < lengths[b]; i++) S += t.target[b * L + i + 1] != 0;
        assert_true(S > 0 && S < 2 * L);
        assert_int_equal(model_output_rows(m, &t.b), S);
        float *pl = kc_floats(S * V), *row_loss = kc_floats(S);
        OK(model_forward(m, &t.b, pl, 0));
        double ref = 0, loss, loss2;
        int64_t k = 0;
        for (int64_t b = 0; b < B; b++)
            for (int64_t i = 0; i + 1 < lengths[b]; i++) {
                if (!t.target[b * L + i + 1]) continue;
                const float *d = dl + (b * L + i) * V;
                expect_close("packed row = dense row", pl + k * V, d, V, 1e-6);
                double mx = -INFINITY, sum = 0;
                for (int64_t v = 0; v < V; v++) mx = fmax(mx, d[v]);
                for (int64_t v = 0; v < V; v++) sum += exp(d[v] - mx);
                ref += mx + log(sum) - d[t.ids[b * L + i + 1]];
                k++;
            }
        ref /= (double)S;
        OK(model_loss(m, &t.b, pl, NULL, &loss, row_loss, NULL, 1.0f));
        printf("#   %s masked loss %.6f, reference over the %lld targets %.6f\n",
               model_arch_name(c.arch), loss, (long long)S, ref);
        if (!(fabs(loss - ref) <= 1e-5 * fabs(ref)))
            fail_msg("masked loss %.8g, reference over targets only %.8g", loss, ref);
        int32_t targets[30];
        assert_int_equal(model_lm_targets(m, &t.b, targets), S);
        for (int64_t j = 0; j < S; j++) assert_true(targets[j] >= 0 && targets[j] < V);
        // the last token of row 0 is no target: changing it changes nothing
        t.ids[9] = (t.ids[9] + 1) % (int32_t)V;
        OK(model_forward(m, &t.b, pl, 0));
        OK(model_loss(m, &t.b, pl, NULL, &loss2, row_loss, NULL, 1.0f));
        assert_memory_equal(&loss, &loss2, sizeof loss);
        // ...while a target token does
        int64_t first = -1;
        for (int64_t i = 1; i < L && first < 0; i++)
            if (t.target[i]) first = i;
        t.ids[first] = (t.ids[first] + 1) % (int32_t)V;
        OK(model_forward(m, &t.b, pl, 0));
        OK(model_loss(m, &t.b, pl, NULL, &loss2, row_loss, NULL, 1.0f));
        assert_true(loss2 != loss);
        // no target at all: no rows, loss 0
        memset(t.target, 0, (size_t)(B * L));
        assert_int_equal(model_output_rows(m, &t.b), 0);
        OK(model_forward(m, &t.b, pl, 0));
        OK(model_loss(m, &t.b, pl, NULL, &loss2, row_loss, NULL, 1.0f));
        assert_true(loss2 == 0.0);
        // ids outside the vocabulary are refused
        t.ids[3] = (int32_t)V;
        assert_int_equal(model_forward(m, &t.b, pl, 0), LS_ERR_USAGE);
        assert_non_null(strstr(ls_error_message(), "id 300 is outside"));
        free(dl);
        free(pl);
        free(row_loss);
        free_batch(&t);
        model_free(m);
    }
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
    c = tiny_hybrid(MODEL_TASK_LM, "1");
    padding_case("hybrid lm", c, 0);
    padding_case("hybrid lm, 5-row tiles", c, 5);
    c = tiny_hybrid(MODEL_TASK_CLASSIFY, "0,2");
    padding_case("hybrid classify", c, 0);
}

// Streaming in 2 and 3 segments, and generation token by token, equal one forward pass.
static void test_stream_and_generate(void **state) {
    (void)state;
    KcRng r = kc_rng(50);
    ModelConfig c = tiny(MODEL_MAMBA, MODEL_TASK_LM);
    Model *m = new_model(&c, 9);
    m->tile_rows = 6; // tiles of 3 positions inside each segment too
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
            for (int64_t b = 0; b < B; b++)
                memcpy(seg_tok + b * n, t.tokens + b * L + at, (size_t)n);
            float *seg_logits = kc_floats(B * n * V);
            ModelBatch seg = {.B = B, .L = n, .tokens = seg_tok};
            OK(model_stream_forward(m, &seg, seg_logits));
            for (int64_t b = 0; b < B; b++)
                memcpy(got + (b * L + at) * V, seg_logits + b * n * V,
                       (size_t)(n * V) * sizeof(float));
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
        for (int64_t b = 0; b < B; b++)
            memcpy(prompt + b * 7, t.tokens + b * L, 7);
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
    // d_conv 1 (no conv state) steps too
    model_free(m);
    c.d_conv = 1;
    m = new_model(&c, 10);
    OK(model_forward(m, &t.b, full, 0));
    OK(model_stream_reset(m, B));
    for (int64_t i = 0; i < L; i++) {
        uint8_t tok[2] = {t.tokens[i], t.tokens[L + i]};
        float step[2 * 5];
        OK(model_generate_step(m, tok, step));
        for (int64_t b = 0; b < B; b++)
            memcpy(got + (b * L + i) * V, step + b * V, (size_t)V * sizeof(float));
    }
    expect_close("d_conv 1: 20 generate steps vs one pass", got, full, B * L * V, 1e-6);
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
        for (int64_t b = 0; b < B; b++)
            memcpy(seg_tok + b * 10, t.tokens + b * L + at, 10);
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
}

// Pooled streams: the classifier's logits and the embedding of every pool (mean, last, first)
// after segments equal one pass's (mean: the same double sum in the same order), for the
// Mamba, an LM that pools on request, and the hybrid.
static void test_stream_pooled(void **state) {
    (void)state;
    KcRng r = kc_rng(52);
    const int64_t B = 2, L = 21, D = 8;
    const int64_t splits[3] = {6, 10, 5};
    for (int k = 0; k < 3; k++) {
        for (int pool = MODEL_POOL_MEAN; pool <= MODEL_POOL_FIRST; pool++) {
            ModelConfig c = k == 0   ? tiny(MODEL_MAMBA, MODEL_TASK_CLASSIFY)
                            : k == 1 ? tiny(MODEL_MAMBA, MODEL_TASK_LM)
                                     : tiny_hybrid(MODEL_TASK_CLASSIFY, "1");
            c.pool = (ModelPool)pool;
            c.causal = 1;
            Model *m = new_model(&c, 30 + (uint64_t)pool);
            m->tile_rows = 8;
            TestBatch t = make_batch(&c, &r, B, L, NULL);
            float want[2 * 8], got[2 * 8], wl[2 * 3], gl[2 * 3];
            OK(model_embed(m, &t.b, want));
            if (c.task == MODEL_TASK_CLASSIFY) OK(model_forward(m, &t.b, wl, 0));
            OK(model_stream_reset(m, B));
            if (c.task == MODEL_TASK_LM) {
                assert_int_equal(model_stream_embed(m, got), LS_ERR_USAGE); // not pooling
                OK(model_stream_set_pooling(m, 1));
            }
            for (int64_t s = 0, at = 0; s < 3; at += splits[s], s++) {
                uint8_t seg_tok[2 * 10];
                for (int64_t b = 0; b < B; b++)
                    memcpy(seg_tok + b * splits[s], t.tokens + b * L + at, (size_t)splits[s]);
                ModelBatch seg = {.B = B, .L = splits[s], .tokens = seg_tok};
                float *lg = c.task == MODEL_TASK_LM ? kc_floats(B * splits[s] * c.vocab) : NULL;
                OK(model_stream_forward(m, &seg, lg));
                free(lg);
            }
            assert_int_equal(model_stream_set_pooling(m, 1), LS_ERR_USAGE); // too late
            OK(model_stream_embed(m, got));
            char what[96];
            const char *pools[3] = {"mean", "last", "first"};
            snprintf(what, sizeof what, "%s %s pool %s: stream 6+10+5 embed",
                     k == 2 ? "hybrid" : "mamba", k == 1 ? "lm" : "classify", pools[pool]);
            expect_close(what, got, want, B * D, 1e-6);
            if (c.task == MODEL_TASK_CLASSIFY) {
                OK(model_stream_logits(m, gl));
                snprintf(what, sizeof what, "%s classify pool %s: stream logits",
                         k == 2 ? "hybrid" : "mamba", pools[pool]);
                expect_close(what, gl, wl, B * 3, 1e-6);
            }
            free_batch(&t);
            model_free(m);
        }
    }
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

// (step_grad_ckpt > 1: with model_set_grad_checkpoint, test_grad_checkpoint)
static int64_t step_grad_ckpt = 1;

// One training forward + backward on a fixed batch; with dropout p > 0 the masks of step
// @p step, and tile_rows > 0 forces Mamba tiles of that many rows.
static void run_step_dropout(const ModelConfig *c, int threads, float *logits, float *grads_out,
                             int64_t *n_grads, double p, int64_t step, int64_t tile_rows) {
    omp_set_num_threads(threads);
    OK(matmul_set_threads(threads));
    KcRng r = kc_rng(70);
    Model *m = new_model(c, 3);
    OK(model_set_grad_checkpoint(m, step_grad_ckpt));
    if (tile_rows) OK(model_set_tile_rows(m, tile_rows));
    if (p > 0) OK(model_set_dropout(m, p, 17));
    model_set_dropout_step(m, step);
    const int64_t lengths[2] = {300, 217};
    TestBatch t = make_batch(c, &r, 2, 300, lengths);
    const int64_t nlog = logits_numel(m, &t.b);
    float *dl = kc_floats(nlog);
    double loss;
    OK(model_zero_grads(m));
    OK(model_forward(m, &t.b, logits, 1));
    OK(model_loss(m, &t.b, logits, t.labels, &loss, NULL, dl, 1.0f));
    OK(model_backward(m, &t.b, dl));
    *n_grads = model_param_table(m)->total;
    memcpy(grads_out, model_grads(m), (size_t)*n_grads * sizeof(float));
    free(dl);
    free_batch(&t);
    model_free(m);
}

static void run_step(const ModelConfig *c, int threads, float *logits, float *grads_out,
                     int64_t *n_grads) {
    run_step_dropout(c, threads, logits, grads_out, n_grads, 0, 0, 0);
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
    const ModelArch arches[4] = {MODEL_MAMBA, MODEL_BIMAMBA, MODEL_TRANSFORMER, MODEL_HYBRID};
    for (int i = 0; i < 4; i++) {
        c = tiny(arches[i], arches[i] == MODEL_BIMAMBA ? MODEL_TASK_CLASSIFY : MODEL_TASK_LM);
        c.d_model = 32;
        c.window = 0;
        if (arches[i] == MODEL_BIMAMBA) c.rc_equivariant = 1;
        if (arches[i] == MODEL_HYBRID) OK(model_config_set_attn_layers(&c, "1"));
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

// Layer-input checkpointing: K = 2, 3 and n_layers give K = 1's logits and gradients bit for
// bit (the backward recomputes a group's inputs with the forward's own calls), with dropout
// and with several tiles, for every architecture; the arena falls by the dropped copies.
static void test_grad_checkpoint(void **state) {
    (void)state;
    const ModelArch arches[4] = {MODEL_MAMBA, MODEL_BIMAMBA, MODEL_TRANSFORMER, MODEL_HYBRID};
    for (int i = 0; i < 4; i++) {
        ModelConfig c = tiny(arches[i], arches[i] == MODEL_BIMAMBA ? MODEL_TASK_CLASSIFY
                                                                   : MODEL_TASK_LM);
        c.n_layers = 5;
        c.window = 0;
        if (arches[i] == MODEL_BIMAMBA) c.rc_equivariant = 1;
        if (arches[i] == MODEL_HYBRID) OK(model_config_set_attn_layers(&c, "1,3"));
        const int64_t nlog = c.task == MODEL_TASK_LM ? 2 * 300 * 5 : 2 * 3;
        float *l1 = kc_floats(2 * 300 * 5), *lk = kc_floats(2 * 300 * 5);
        float *g1 = kc_floats(1 << 20), *gk = kc_floats(1 << 20);
        int64_t n1, nk;
        const int64_t Ks[3] = {2, 3, 5};
        for (int drop = 0; drop < 2; drop++) {
            step_grad_ckpt = 1;
            run_step_dropout(&c, 1, l1, g1, &n1, drop ? 0.3 : 0, 4, 64);
            for (int k = 0; k < 3; k++) {
                step_grad_ckpt = Ks[k];
                run_step_dropout(&c, 1, lk, gk, &nk, drop ? 0.3 : 0, 4, 64);
                kc_check_same("logits, K vs 1", l1, lk, nlog);
                kc_check_same("grads, K vs 1", g1, gk, n1);
            }
        }
        step_grad_ckpt = 1;
        printf("#   %s, 5 layers: K = 2, 3, 5 give K = 1's logits and grads bit for bit "
               "(with and without dropout, tiles of 64 rows)\n", model_arch_name(arches[i]));
        free(l1);
        free(lk);
        free(g1);
        free(gk);
    }
    // the arena: 5 layers keep 6 copies of (Be, L, D) fp32 at K = 1, ceil(5/K) + 1 +
    // min(K, 5) − 1 at K: 5 at K = 2 (3 + 1 + 1) and K = 3 (2 + 1 + 2), 6 at K = 5
    ModelConfig c = tiny(MODEL_MAMBA, MODEL_TASK_LM);
    c.n_layers = 5;
    size_t bytes[6] = {0};
    const int64_t Ks[4] = {1, 2, 3, 5};
    for (int k = 0; k < 4; k++) {
        Model *m = new_model(&c, 3);
        OK(model_set_grad_checkpoint(m, Ks[k]));
        KcRng r = kc_rng(70);
        const int64_t lengths[2] = {300, 300};
        TestBatch t = make_batch(&c, &r, 2, 300, lengths);
        float *logits = kc_floats(logits_numel(m, &t.b));
        OK(model_forward(m, &t.b, logits, 1));
        bytes[Ks[k]] = model_activation_bytes(m);
        free(logits);
        free_batch(&t);
        model_free(m);
    }
    const size_t copy = (size_t)2 * 300 * (size_t)c.d_model * sizeof(float);
    assert_true(copy % 256 == 0); // (the arena rounds each buffer to 256 bytes)
    assert_int_equal(bytes[1] - bytes[2], copy);
    assert_int_equal(bytes[1] - bytes[3], copy);
    assert_int_equal(bytes[1], bytes[5]);
    Model *m = new_model(&c, 3);
    assert_int_equal(model_set_grad_checkpoint(m, 0), LS_ERR_USAGE);
    assert_int_equal(model_grad_checkpoint(m), 1);
    model_free(m);
    omp_set_num_threads(1);
    OK(matmul_set_threads(1));
}

// ------------------------------------------------------------------------------ dropout

// Gradients with dropout against finite differences of the training forward's loss, the masks
// held fixed (the same seed and step in every forward): every block kind and head, tiles,
// the reverse walk and the rc rows, the pooled features' site.
static void test_grad_dropout(void **state) {
    (void)state;
    GradCase cases[7];
    cases[0] = (GradCase){"mamba classify dropout tiles", tiny(MODEL_MAMBA, MODEL_TASK_CLASSIFY),
                          8, 0};
    cases[1] = (GradCase){"mamba lm dropout masked", tiny(MODEL_MAMBA, MODEL_TASK_LM), 0, 1};
    cases[2] = (GradCase){"bimamba rc dropout tiles", tiny(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY),
                          6, 0};
    cases[2].cfg.rc_equivariant = 1;
    cases[3] = (GradCase){"bimamba last dropout", tiny(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY), 0, 0};
    cases[3].cfg.pool = MODEL_POOL_LAST;
    cases[4] = (GradCase){"transformer classify dropout",
                          tiny(MODEL_TRANSFORMER, MODEL_TASK_CLASSIFY), 0, 0};
    cases[5] = (GradCase){"transformer lm dropout", tiny(MODEL_TRANSFORMER, MODEL_TASK_LM), 0, 0};
    cases[6] = (GradCase){"hybrid classify dropout attn 1",
                          tiny_hybrid(MODEL_TASK_CLASSIFY, "1"), 4, 0};
    for (int i = 0; i < 7; i++) grad_check_dropout(&cases[i], 60 + i, i % 2 ? 0.5 : 0.3);
}

// Largest |a − b| over n floats.
static double max_abs_diff(const float *a, const float *b, int64_t n) {
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= worst)) worst = isnan(d) ? INFINITY : d;
    }
    return worst;
}

// A few AdamW steps of a tiny model on one batch: the losses, and the parameters after.
static void dropout_steps(const ModelConfig *c, int set_dropout, double p, double *losses,
                          int n_steps, float *params) {
    KcRng r = kc_rng(90);
    Model *m = new_model(c, 21);
    if (set_dropout) OK(model_set_dropout(m, p, 5));
    const int64_t lengths[2] = {24, 19};
    TestBatch t = make_batch(c, &r, 2, 24, lengths);
    const int64_t nlog = logits_numel(m, &t.b);
    float *logits = kc_floats(nlog), *dl = kc_floats(nlog);
    AdamWConfig opt = {0.9, 0.999, 1e-8, 0.01};
    for (int s = 1; s <= n_steps; s++) {
        if (set_dropout) model_set_dropout_step(m, s);
        OK(model_zero_grads(m));
        memset(dl, 0, (size_t)nlog * sizeof(float));
        OK(model_forward(m, &t.b, logits, 1));
        OK(model_loss(m, &t.b, logits, t.labels, &losses[s - 1], NULL, dl, 1.0f));
        OK(model_backward(m, &t.b, dl));
        double norm;
        OK(model_grad_norm(m, &norm));
        OK(model_adamw_step(m, &opt, s, 1e-2, optim_clip_scale(norm, 1.0)));
    }
    memcpy(params, model_params(m), (size_t)model_param_table(m)->total * sizeof(float));
    free(logits);
    free(dl);
    free_batch(&t);
    model_free(m);
}

// p = 0 is today's training bit for bit; p > 0 changes the training forward only (inference is
// the model without dropout, bit for bit); one step draws one mask, the next step another.
static void test_dropout_switch(void **state) {
    (void)state;
    const ModelArch arches[4] = {MODEL_MAMBA, MODEL_BIMAMBA, MODEL_TRANSFORMER, MODEL_HYBRID};
    for (int i = 0; i < 4; i++) {
        ModelConfig c = arches[i] == MODEL_HYBRID ? tiny_hybrid(MODEL_TASK_CLASSIFY, "1")
                                                  : tiny(arches[i], MODEL_TASK_CLASSIFY);
        c.window = 0; // (the Transformer's rows are longer than tiny()'s window)
        const char *name = model_arch_name(arches[i]);
        enum { STEPS = 4 };
        double l_none[STEPS], l_zero[STEPS], l_drop[STEPS];
        Model *probe = new_model(&c, 21);
        const int64_t total = model_param_table(probe)->total;
        model_free(probe);
        float *p_none = kc_floats(total), *p_zero = kc_floats(total), *p_drop = kc_floats(total);
        dropout_steps(&c, 0, 0, l_none, STEPS, p_none);
        dropout_steps(&c, 1, 0.0, l_zero, STEPS, p_zero);
        dropout_steps(&c, 1, 0.4, l_drop, STEPS, p_drop);
        for (int s = 0; s < STEPS; s++)
            if (memcmp(&l_none[s], &l_zero[s], sizeof(double)) != 0)
                fail_msg("%s: step %d loss %.17g with dropout 0, %.17g without (expected the "
                         "same bits)", name, s + 1, l_zero[s], l_none[s]);
        kc_check_same("parameters after steps with dropout 0 vs none", p_zero, p_none, total);
        const double moved = max_abs_diff(p_drop, p_none, total);
        if (!(fabs(l_drop[0] - l_none[0]) > 1e-4 && moved > 1e-4))
            fail_msg("%s: dropout 0.4 left the loss (%.6f vs %.6f) or the parameters (max "
                     "change %.3g) alone", name, l_drop[0], l_none[0], moved);
        printf("#   %-11s dropout 0: %d steps bit-identical to none; 0.4: first loss %.4f vs "
               "%.4f\n", name, STEPS, l_drop[0], l_none[0]);
        free(p_none), free(p_zero), free(p_drop);

        // inference never drops; training forwards at one step agree, at the next they differ
        KcRng r = kc_rng(91);
        const int64_t lengths[2] = {17, 11};
        TestBatch t = make_batch(&c, &r, 2, 17, lengths);
        Model *m = new_model(&c, 22), *plain = new_model(&c, 22);
        OK(model_set_dropout(m, 0.5, 8));
        const int64_t nlog = logits_numel(m, &t.b);
        float *a = kc_floats(nlog), *b = kc_floats(nlog), *e = kc_floats(nlog);
        OK(model_forward(m, &t.b, a, 0));
        OK(model_forward(plain, &t.b, b, 0));
        kc_check_same("inference logits with dropout 0.5 vs none", a, b, nlog);
        float *emb_a = kc_floats(2 * c.d_model), *emb_b = kc_floats(2 * c.d_model);
        OK(model_embed(m, &t.b, emb_a));
        OK(model_embed(plain, &t.b, emb_b));
        kc_check_same("embeddings with dropout 0.5 vs none", emb_a, emb_b, 2 * c.d_model);
        model_set_dropout_step(m, 3);
        OK(model_forward(m, &t.b, a, 1));
        OK(model_forward(m, &t.b, b, 1));
        kc_check_same("two training forwards at step 3", a, b, nlog);
        model_set_dropout_step(m, 4);
        OK(model_forward(m, &t.b, e, 1));
        if (!(max_abs_diff(a, e, nlog) > 1e-4))
            fail_msg("%s: steps 3 and 4 gave the same logits (max diff %.3g): one mask for both",
                     name, max_abs_diff(a, e, nlog));
        free(a), free(b), free(e), free(emb_a), free(emb_b);
        free_batch(&t);
        model_free(m);
        model_free(plain);
    }
    Model *m = new_model((const ModelConfig[]){tiny(MODEL_MAMBA, MODEL_TASK_LM)}, 1);
    assert_int_equal(model_set_dropout(m, 1.0, 1), LS_ERR_USAGE);
    assert_int_equal(model_set_dropout(m, -0.5, 1), LS_ERR_USAGE);
    assert_int_equal(model_set_dropout(m, NAN, 1), LS_ERR_USAGE);
    assert_true(model_dropout(m) == 0.0);
    model_free(m);
}

// Where each site drops, read off the model itself: after a training forward the residual
// stream R (the plan keeps every layer's input) changes exactly where the layer's block output
// is kept. Element (b, pos, d) of layer i's output must follow the mask of site 2i at its
// place (b·L + pos)·D + d (kernels/dropout.h): dropped elements leave R unchanged — for a
// BiMamba, both directions' contributions together, i.e. one mask on the merged output —
// and kept ones change it (all but a rounding-absorbed few). The classifier's input is the
// pooled features through the head's mask.
static void test_dropout_sites(void **state) {
    (void)state;
    ModelConfig cs[4] = {tiny(MODEL_MAMBA, MODEL_TASK_CLASSIFY),
                         tiny(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY),
                         tiny(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY),
                         tiny(MODEL_TRANSFORMER, MODEL_TASK_CLASSIFY)};
    cs[2].rc_equivariant = 1;
    cs[3].mlp_hidden = 0; // attention-only: one site per block
    cs[3].window = 0;
    const double p = 0.4;
    const uint64_t seed = 31, step = 9;
    for (int k = 0; k < 4; k++) {
        const ModelConfig *c = &cs[k];
        KcRng r = kc_rng(95 + k);
        const int64_t lengths[2] = {23, 14};
        TestBatch t = make_batch(c, &r, 2, 23, lengths);
        Model *m = new_model(c, 40 + k);
        OK(model_set_tile_rows(m, 10)); // several tiles for the Mamba layers
        OK(model_set_dropout(m, p, seed));
        model_set_dropout_step(m, (int64_t)step);
        float *logits = kc_floats(logits_numel(m, &t.b));
        OK(model_forward(m, &t.b, logits, 1));
        const Plan *pl = &m->plan;
        const int64_t Be = pl->Be, L = pl->L, D = m->D, MD = Be * L * D;
        const uint32_t threshold = dropout_threshold(p);
        int64_t kept = 0, moved = 0, dropped = 0;
        for (int layer = 0; layer < c->n_layers; layer++) {
            const float *R0 = pl->R + layer * MD, *R1 = R0 + MD;
            const uint64_t key = dropout_key(seed, step, 2u * (uint32_t)layer);
            for (int64_t b = 0; b < Be; b++)
                for (int64_t pos = 0; pos < lengths[b % 2]; pos++)
                    for (int64_t d = 0; d < D; d++) {
                        const int64_t g = (b * L + pos) * D + d;
                        if (dropout_bits(key, (uint64_t)g) >= threshold) {
                            kept++;
                            moved += R1[g] != R0[g];
                        } else if (dropped++, R1[g] != R0[g]) {
                            fail_msg("%s layer %d: element (%lld, %lld, %lld) is dropped by the "
                                     "mask but the residual moved %.9g -> %.9g",
                                     model_arch_name(c->arch), layer, (long long)b,
                                     (long long)pos, (long long)d, (double)R0[g], (double)R1[g]);
                        }
                    }
        }
        if (!(moved >= kept - kept / 100))
            fail_msg("%s: only %lld of %lld kept elements moved the residual",
                     model_arch_name(c->arch), (long long)moved, (long long)kept);
        // the head: pooled_out holds what the classifier saw, zero where the head's mask drops
        const uint64_t hkey = dropout_key(seed, step, MODEL_DROPOUT_SITE_HEAD);
        int64_t hz = 0;
        for (int64_t g = 0; g < pl->S * D; g++) {
            const int drop = dropout_bits(hkey, (uint64_t)g) < threshold;
            if (drop && pl->pooled_out[g] != 0.0f)
                fail_msg("%s: pooled feature %lld is dropped by the head's mask but %.9g",
                         model_arch_name(c->arch), (long long)g, (double)pl->pooled_out[g]);
            hz += drop;
        }
        printf("#   %-11s%s: %lld dropped block outputs left the residual alone, %lld of %lld "
               "kept moved it; %lld of %lld pooled features dropped\n",
               model_arch_name(c->arch), c->rc_equivariant ? " rc" : "   ", (long long)dropped,
               (long long)moved, (long long)kept, (long long)hz, (long long)(pl->S * D));
        free(logits);
        free_batch(&t);
        model_free(m);
    }
}

// The masks do not depend on threads or tiles: a training step with dropout gives the same
// logits and gradients with 1 and 2 threads (bit for bit) and with several Mamba tiles as with
// one (bit for bit where the model without dropout is, else within what tiling moves it).
static void test_dropout_threads_tiles(void **state) {
    (void)state;
    const ModelArch arches[4] = {MODEL_MAMBA, MODEL_BIMAMBA, MODEL_TRANSFORMER, MODEL_HYBRID};
    for (int i = 0; i < 4; i++) {
        ModelConfig c = tiny(arches[i], MODEL_TASK_CLASSIFY);
        c.d_model = 32;
        c.window = 0;
        if (arches[i] == MODEL_BIMAMBA) c.rc_equivariant = 1;
        if (arches[i] == MODEL_HYBRID) OK(model_config_set_attn_layers(&c, "1"));
        const int64_t nlog = 2 * 3;
        float *l1 = kc_floats(nlog), *l2 = kc_floats(nlog), *lt = kc_floats(nlog);
        float *g1 = kc_floats(1 << 20), *g2 = kc_floats(1 << 20), *gt = kc_floats(1 << 20);
        float *l0 = kc_floats(nlog), *l0t = kc_floats(nlog), *ls = kc_floats(nlog);
        float *g0 = kc_floats(1 << 20), *g0t = kc_floats(1 << 20), *gs = kc_floats(1 << 20);
        int64_t n;
        run_step_dropout(&c, 1, l1, g1, &n, 0.3, 7, 0);
        run_step_dropout(&c, 2, l2, g2, &n, 0.3, 7, 0);
        kc_check_same("dropout logits, 1 vs 2 threads", l1, l2, nlog);
        kc_check_same("dropout grads, 1 vs 2 threads", g1, g2, n);
        // tiles of 64 rows (32 positions of the 2 rows, 10 tiles) against one tile
        run_step_dropout(&c, 1, lt, gt, &n, 0.3, 7, 64);
        run_step_dropout(&c, 1, l0, g0, &n, 0, 0, 0);
        run_step_dropout(&c, 1, l0t, g0t, &n, 0, 0, 64);
        run_step_dropout(&c, 1, ls, gs, &n, 0.3, 8, 64); // another step: another mask
        const double dl = max_abs_diff(lt, l1, nlog), dg = max_abs_diff(gt, g1, n);
        const double dl0 = max_abs_diff(l0t, l0, nlog), dg0 = max_abs_diff(g0t, g0, n);
        const double ds = max_abs_diff(gs, gt, n);
        printf("#   %-11s dropout: 1 = 2 threads bit for bit; tiles vs one tile: logits %.2g, "
               "grads %.2g (no dropout: %.2g, %.2g); next step's mask moves grads %.2g\n",
               model_arch_name(arches[i]), dl, dg, dl0, dg0, ds);
        if (dl0 == 0 && dl != 0)
            fail_msg("%s: tiles change the dropout logits (%.3g) but not the plain ones",
                     model_arch_name(arches[i]), dl);
        if (!(dl <= 2 * dl0 + 1e-6 && dg <= 2 * dg0 + 1e-6))
            fail_msg("%s: with dropout, tiles move logits %.3g and grads %.3g; without, %.3g "
                     "and %.3g", model_arch_name(arches[i]), dl, dg, dl0, dg0);
        if (!(ds > 1e3 * (dg + 1e-9)))
            fail_msg("%s: another step's mask moves the grads by %.3g only, tiles by %.3g",
                     model_arch_name(arches[i]), ds, dg);
        free(l1), free(l2), free(lt), free(g1), free(g2), free(gt);
        free(l0), free(l0t), free(ls), free(g0), free(g0t), free(gs);
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
        OK(model_zero_grads(m));
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
           model_arch_name(c.arch), c.task == MODEL_TASK_LM ? "lm" : "classify", first, loss, steps,
           lr);
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
    if (!(loss < 0.01))
        fail_msg("bimamba classify: loss %.4f after 100 steps, expected < 0.01", loss);
    c = tiny(MODEL_TRANSFORMER, MODEL_TASK_LM);
    c.d_model = 16;
    c.window = 0;
    loss = overfit(c, 300, 1e-2);
    if (!(loss < 0.05))
        fail_msg("transformer lm: loss %.4f after 300 steps, expected < 0.05", loss);
    c = tiny_hybrid(MODEL_TASK_LM, "1");
    c.d_model = 16;
    loss = overfit(c, 300, 1e-2);
    if (!(loss < 0.05)) fail_msg("hybrid lm: loss %.4f after 300 steps, expected < 0.05", loss);
}

// ------------------------------------------------------------------------------ checkpoints

static char tmpdir[64];

static void make_tmpdir(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_model.XXXXXX");
    if (!mkdtemp(tmpdir)) fail_msg("mkdtemp failed");
}

static void remove_tmpdir(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fail_msg("could not remove %s", tmpdir);
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void *read_bytes(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    void *p = malloc(*n);
    assert_int_equal(fread(p, 1, *n, f), *n);
    fclose(f);
    return p;
}

static void expect_load_error(const char *path, const char *needle) {
    Model *m = (Model *)0x1;
    int rc = model_load(&m, path, &cpu);
    if (rc >= 0) fail_msg("model_load(%s) succeeded, expected an error", path);
    assert_null(m);
    const char *msg = ls_error_message();
    if (!strstr(msg, needle))
        fail_msg("model_load(%s): message '%s' lacks '%s'", path, msg, needle);
    printf("#   refused: %s\n", msg);
}

static void test_save_load(void **state) {
    (void)state;
    make_tmpdir();
    KcRng r = kc_rng(90);
    char path[128], bad[128];
    const ModelArch arches[4] = {MODEL_MAMBA, MODEL_BIMAMBA, MODEL_TRANSFORMER, MODEL_HYBRID};
    for (int i = 0; i < 4; i++) {
        ModelConfig c = tiny(arches[i], MODEL_TASK_CLASSIFY);
        if (i == 1) c.rc_equivariant = 1, c.norm = MODEL_NORM_LAYER;
        if (i == 3) c = tiny_hybrid(MODEL_TASK_CLASSIFY, "0,2");
        if (i == 2) c.mlp_hidden = 0; // attention-only blocks survive the round trip
        Model *m = new_model(&c, 31 + i);
        // move the parameters away from their initial values
        float *p = model_params(m);
        for (int64_t k = 0; k < model_param_table(m)->total; k++)
            p[k] += 0.01f * (float)(k % 7);
        snprintf(path, sizeof path, "%s/%s.safetensors", tmpdir, model_arch_name(c.arch));
        const char *keys[2] = {"labels", "encoding"}, *values[2] = {"a,b,c", "dna"};
        OK(model_save(m, path, 2, keys, values));
        Model *l = NULL;
        OK(model_load(&l, path, &cpu));
        const int64_t lengths[2] = {9, 4};
        TestBatch t = make_batch(&c, &r, 2, 9, lengths);
        float a[6], b[6];
        OK(model_forward(m, &t.b, a, 0));
        OK(model_forward(l, &t.b, b, 0));
        kc_check_same("logits after save → load", b, a, 6);
        assert_memory_equal(model_config(l), model_config(m), sizeof(ModelConfig));
        StFile *f = NULL;
        OK(st_open(&f, path));
        assert_string_equal(st_metadata_get(f, "format"), "longscan");
        assert_string_equal(st_metadata_get(f, "format_version"), MODEL_FORMAT_VERSION);
        assert_string_equal(st_metadata_get(f, "labels"), "a,b,c");
        assert_string_equal(st_metadata_get(f, "encoding"), "dna");
        st_close(f);
        free_batch(&t);
        model_free(l);
        model_free(m);
    }
    printf("#   save → load: bit-identical logits for mamba, bimamba (rc), transformer, hybrid\n");

    // reserved metadata keys are refused
    ModelConfig c = tiny(MODEL_MAMBA, MODEL_TASK_LM);
    Model *m = new_model(&c, 1);
    const char *k1[1] = {"config"}, *v1[1] = {"{}"};
    snprintf(path, sizeof path, "%s/x.safetensors", tmpdir);
    assert_int_equal(model_save(m, path, 1, k1, v1), LS_ERR_USAGE);
    OK(model_save(m, path, 0, NULL, NULL));

    // wrong config: the tensors of this model under another model's config
    {
        ModelConfig other = c;
        other.d_state = 8;
        char *json = NULL;
        OK(model_config_to_json(&other, &json));
        const char *keys[3] = {"format", "format_version", "config"};
        const char *vals[3] = {"longscan", MODEL_FORMAT_VERSION, json};
        snprintf(bad, sizeof bad, "%s/wrong_config.safetensors", tmpdir);
        OK(param_table_save(model_param_table(m), model_params(m), bad, 3, keys, vals));
        expect_load_error(bad, "A_log");
        // no metadata at all / another format / another version / broken config JSON
        snprintf(bad, sizeof bad, "%s/no_meta.safetensors", tmpdir);
        OK(param_table_save(model_param_table(m), model_params(m), bad, 0, NULL, NULL));
        expect_load_error(bad, "not a longscan checkpoint");
        vals[1] = "99";
        snprintf(bad, sizeof bad, "%s/version.safetensors", tmpdir);
        OK(param_table_save(model_param_table(m), model_params(m), bad, 3, keys, vals));
        expect_load_error(bad, "format_version 99");
        vals[1] = MODEL_FORMAT_VERSION;
        vals[2] = "{\"arch\": \"mamba\", \"task\": \"lm\", \"d_model\": ";
        snprintf(bad, sizeof bad, "%s/json.safetensors", tmpdir);
        OK(param_table_save(model_param_table(m), model_params(m), bad, 3, keys, vals));
        expect_load_error(bad, "not a JSON object");
        vals[2] = "{\"arch\": \"mamba\", \"task\": \"lm\", \"d_model\": 0}";
        OK(param_table_save(model_param_table(m), model_params(m), bad, 3, keys, vals));
        expect_load_error(bad, "--d-model 0");
        free(json);
    }
    // corrupt files: truncated, header garbage, empty, missing
    {
        size_t n;
        unsigned char *bytes = read_bytes(path, &n);
        snprintf(bad, sizeof bad, "%s/truncated.safetensors", tmpdir);
        write_bytes(bad, bytes, n - 17);
        expect_load_error(bad, "truncated.safetensors");
        unsigned char *copy = malloc(n);
        memcpy(copy, bytes, n);
        for (size_t i = 8; i < 40 && i < n; i++)
            copy[i] = (unsigned char)('#' + i);
        snprintf(bad, sizeof bad, "%s/garbage.safetensors", tmpdir);
        write_bytes(bad, copy, n);
        expect_load_error(bad, "garbage.safetensors");
        snprintf(bad, sizeof bad, "%s/empty.safetensors", tmpdir);
        write_bytes(bad, copy, 0);
        expect_load_error(bad, "empty.safetensors");
        snprintf(bad, sizeof bad, "%s/missing.safetensors", tmpdir);
        expect_load_error(bad, "missing.safetensors");
        free(copy);
        free(bytes);
    }
    model_free(m);
    remove_tmpdir();
}

// ------------------------------------------------------------------------------ hybrid

// The hybrid's tensors are those of the existing blocks, layer by layer: its Mamba layers
// have a Mamba model's names and shapes, its attention layers a Transformer's. The layer
// plan: --attn-layers and --attn-every, their errors, the JSON round trip.
static void test_hybrid(void **state) {
    (void)state;
    ModelConfig h = tiny_hybrid(MODEL_TASK_LM, "1"), mc = tiny(MODEL_MAMBA, MODEL_TASK_LM);
    ModelConfig tc = tiny(MODEL_TRANSFORMER, MODEL_TASK_LM);
    mc.n_layers = tc.n_layers = 3;
    Model *mh = new_model(&h, 1), *mm = new_model(&mc, 1), *mt = new_model(&tc, 1);
    const ParamTable *th = model_param_table(mh);
    int matched = 0;
    for (int i = 0; i < th->n; i++) {
        const ParamEntry *e = &th->entries[i];
        int layer = -1;
        sscanf(e->name, "backbone.layers.%d.", &layer);
        const ParamTable *ref = model_param_table(layer == 1 ? mt : mm);
        const ParamEntry *r = param_table_find(ref, e->name);
        if (!r) fail_msg("hybrid tensor %s is in neither block's table", e->name);
        assert_int_equal(r->ndim, e->ndim);
        for (int d = 0; d < e->ndim; d++) assert_int_equal(r->shape[d], e->shape[d]);
        matched++;
    }
    const int64_t mamba_layer = param_table_find(model_param_table(mm),
                                                 "backbone.layers.1.norm.weight")->offset -
                                param_table_find(model_param_table(mm),
                                                 "backbone.layers.0.norm.weight")->offset;
    assert_true(mamba_layer > 0);
    assert_non_null(param_table_find(th, "backbone.layers.1.mlp.fc1.weight"));
    assert_null(param_table_find(th, "backbone.layers.0.mlp.fc1.weight"));
    assert_non_null(param_table_find(th, "backbone.layers.2.mixer.A_log"));
    assert_null(param_table_find(th, "backbone.layers.1.mixer.A_log"));
    printf("#   hybrid: %d tensors, each a Mamba's (layers 0, 2) or a Transformer's (layer 1)\n",
           matched);
    model_free(mh);
    model_free(mm);
    model_free(mt);

    // the layer plan
    ModelConfig c = tiny(MODEL_HYBRID, MODEL_TASK_LM);
    c.n_layers = 8;
    OK(model_config_set_attn_every(&c, 8)); // Jamba's 1:7, in the middle
    for (int i = 0; i < 8; i++) assert_int_equal(model_layer_is_attention(&c, i), i == 4);
    OK(model_config_set_attn_every(&c, 4));
    for (int i = 0; i < 8; i++) assert_int_equal(model_layer_is_attention(&c, i), i % 4 == 2);
    assert_int_equal(model_attention_layers(&c), 2);
    OK(model_config_check(&c));
    c.n_layers = 4;
    OK(model_config_set_attn_every(&c, 4));
    assert_int_equal(model_attention_layers(&c), 1);
    assert_int_equal(model_layer_is_attention(&c, 2), 1);
    ModelConfig d = tiny(MODEL_HYBRID, MODEL_TASK_LM); // default: the middle of 4 layers
    d.n_layers = 4;
    assert_int_equal(model_layer_is_attention(&d, 2), 1);
    assert_int_equal(model_attention_layers(&d), 1);
#define REFUSE_SET(call, needle)                                                                   \
    do {                                                                                           \
        assert_int_equal((call), LS_ERR_USAGE);                                                    \
        if (!strstr(ls_error_message(), needle))                                                   \
            fail_msg("%s: message '%s' lacks '%s'", #call, ls_error_message(), needle);            \
    } while (0)
    REFUSE_SET(model_config_set_attn_layers(&c, "4"), "layer 4 does not exist");
    REFUSE_SET(model_config_set_attn_layers(&c, "1,x"), "'x' is not a layer index");
    REFUSE_SET(model_config_set_attn_layers(&c, "1,1"), "layer 1 is given twice");
    REFUSE_SET(model_config_set_attn_layers(&c, "-1"), "layer -1 does not exist");
    REFUSE_SET(model_config_set_attn_layers(&c, ""), "--attn-layers");
    REFUSE_SET(model_config_set_attn_every(&c, 0), "--attn-every 0");
    REFUSE_SET(model_config_set_attn_every(&c, 5), "--attn-every 5");
    OK(model_config_set_attn_layers(&c, "0,1,2,3"));
    REFUSE_SET(model_config_check(&c), "needs a Mamba layer");
    memset(c.attn_layers, 0, sizeof c.attn_layers);
    REFUSE_SET(model_config_check(&c), "at least one attention layer");
    OK(model_config_set_attn_layers(&c, "3"));
    c.n_layers = 3;
    REFUSE_SET(model_config_check(&c), "--attn-layers 3");
    c.n_layers = 4;
    c.n_heads = 3;
    REFUSE_SET(model_config_check(&c), "--n-heads 3");
    c.n_heads = 2;
    ModelConfig m4 = tiny(MODEL_MAMBA, MODEL_TASK_LM);
    m4.attn_layers[0] = 1;
    REFUSE_SET(model_config_check(&m4), "only a hybrid");
#undef REFUSE_SET
    // JSON: attn_layers round trip (hybrid only)
    OK(model_config_set_attn_layers(&c, "0,3"));
    char *json = NULL;
    OK(model_config_to_json(&c, &json));
    assert_non_null(strstr(json, "\"arch\":\"hybrid\""));
    assert_non_null(strstr(json, "\"attn_layers\":[0,3]"));
    ModelConfig back;
    OK(model_config_from_json(&back, json, "test"));
    assert_memory_equal(back.attn_layers, c.attn_layers, sizeof c.attn_layers);
    assert_int_equal(model_attention_layers(&back), 2);
    free(json);
    OK(model_config_to_json(&m4, &json) == 0 ? 0 : -1);
    free(json);
    m4.attn_layers[0] = 0;
    OK(model_config_to_json(&m4, &json));
    assert_null(strstr(json, "attn_layers"));
    free(json);
    assert_int_equal(model_config_from_json(&back, "{\"arch\":\"hybrid\",\"task\":\"lm\","
                                                   "\"attn_layers\":[9]}", "x.safetensors"),
                     LS_ERR_FORMAT);
    assert_non_null(strstr(ls_error_message(), "x.safetensors"));
}

// ------------------------------------------------------------------------------ config, API

static void test_config(void **state) {
    (void)state;
    for (int a = MODEL_MAMBA; a <= MODEL_TRANSFORMER; a++)
        for (int t = MODEL_TASK_CLASSIFY; t <= MODEL_TASK_LM; t++) {
            ModelConfig c;
            model_config_default(&c, (ModelArch)a, (ModelTask)t);
            int rc = model_config_check(&c);
            if (a == MODEL_BIMAMBA && t == MODEL_TASK_LM)
                assert_int_equal(rc, LS_ERR_USAGE);
            else if (rc)
                fail_msg("default %s/%d refused: %s", model_arch_name((ModelArch)a), t,
                         ls_error_message());
        }
    ModelConfig base = tiny(MODEL_MAMBA, MODEL_TASK_CLASSIFY), c;
#define REFUSE(stmt, needle)                                                                       \
    do {                                                                                           \
        c = base;                                                                                  \
        stmt;                                                                                      \
        assert_int_equal(model_config_check(&c), LS_ERR_USAGE);                                    \
        if (!strstr(ls_error_message(), needle))                                                   \
            fail_msg("%s: message '%s' lacks '%s'", #stmt, ls_error_message(), needle);            \
    } while (0)
    REFUSE(c.d_model = 0, "--d-model 0");
    REFUSE(c.n_layers = 0, "--n-layers 0");
    REFUSE(c.d_state = 300, "--d-state 300");
    REFUSE(c.vocab = 1, "--vocab 1");
    REFUSE(c.n_classes = 1, "--n-classes 1");
    REFUSE(c.dt_min = 0, "--dt-min");
    REFUSE(c.rc_equivariant = 1, "--rc-equivariant");
    REFUSE((c.arch = MODEL_BIMAMBA, c.rc_equivariant = 1, c.vocab = 256), "--vocab 256");
    REFUSE((c.input = MODEL_INPUT_WAVEFORM, c.task = MODEL_TASK_LM), "waveform");
    REFUSE((c.arch = MODEL_BIMAMBA, c.task = MODEL_TASK_LM), "bimamba");
    REFUSE((c.arch = MODEL_TRANSFORMER, c.n_heads = 3), "--n-heads 3");
    REFUSE((c.arch = MODEL_TRANSFORMER, c.n_heads = 8), "--n-heads 8"); // head dim 1: odd
    REFUSE((c.arch = MODEL_TRANSFORMER, c.task = MODEL_TASK_LM, c.causal = 0), "causal");
    REFUSE((c.arch = MODEL_TRANSFORMER, c.mlp_hidden = -2), "--mlp-hidden -2");
#undef REFUSE
    // JSON round trip of every field, and what a reader refuses
    c = base;
    c.arch = MODEL_BIMAMBA, c.rc_equivariant = 1, c.norm = MODEL_NORM_LAYER,
    c.pool = MODEL_POOL_FIRST;
    c.dt_min = 0.002f, c.dt_max = 0.07f, c.norm_eps = 1e-6f, c.dt_rank = 3, c.window = 0;
    char *json = NULL;
    OK(model_config_to_json(&c, &json));
    printf("#   config JSON: %s\n", json);
    ModelConfig back;
    OK(model_config_from_json(&back, json, "test"));
    assert_memory_equal(&back, &c, sizeof c);
    free(json);
    assert_int_equal(model_config_from_json(&back, "[1]", "x"), LS_ERR_FORMAT);
    assert_int_equal(model_config_from_json(&back, "{\"task\": \"lm\"}", "x"), LS_ERR_FORMAT);
    assert_int_equal(model_config_from_json(&back,
                                            "{\"arch\": \"mamba\", \"task\": \"lm\", "
                                            "\"d_modle\": 8}",
                                            "x"),
                     LS_ERR_FORMAT);
    assert_non_null(strstr(ls_error_message(), "d_modle"));
    assert_int_equal(model_config_from_json(&back,
                                            "{\"arch\": \"mamba\", \"task\": \"lm\", "
                                            "\"d_model\": 8.5}",
                                            "x"),
                     LS_ERR_FORMAT);
    assert_int_equal(model_config_from_json(&back,
                                            "{\"arch\": \"mamba\", \"task\": \"lm\", "
                                            "\"causal\": 1}",
                                            "x"),
                     LS_ERR_FORMAT);
    assert_int_equal(model_config_from_json(&back, "{\"arch\": \"rnn\", \"task\": \"lm\"}", "x"),
                     LS_ERR_FORMAT);
    ModelArch arch;
    OK(model_arch_parse("bimamba", &arch));
    assert_int_equal(arch, MODEL_BIMAMBA);
    assert_int_equal(model_arch_parse("gru", &arch), LS_ERR_USAGE);
    assert_string_equal(model_arch_name(MODEL_TRANSFORMER), "transformer");
    // crop rule
    ModelConfig tc = tiny(MODEL_TRANSFORMER, MODEL_TASK_CLASSIFY); // window 16
    assert_int_equal(model_crop_window(&tc, 10, MODEL_CROP_CENTRE, 0), 0);
    assert_int_equal(model_crop_window(&tc, 26, MODEL_CROP_CENTRE, 0), 5);
    assert_int_equal(model_crop_window(&tc, 26, MODEL_CROP_FIRST, 0), 0);
    assert_int_equal(model_crop_window(&tc, 26, MODEL_CROP_RANDOM, 23), 23 % 11);
    assert_int_equal(model_crop_window(&base, 1000000, MODEL_CROP_CENTRE, 0), 0);
    // resolved defaults
    Model *m = new_model(&base, 1);
    assert_int_equal(model_config(m)->dt_rank, 1);
    assert_int_equal(model_config(m)->mlp_hidden, 16);
    model_free(m);
    tc = tiny(MODEL_TRANSFORMER, MODEL_TASK_LM);
    tc.mlp_hidden = -1; // the default: 4 · d_model
    m = new_model(&tc, 1);
    assert_int_equal(model_config(m)->mlp_hidden, 4 * tc.d_model);
    model_free(m);
}

static void test_api_errors(void **state) {
    (void)state;
    KcRng r = kc_rng(100);
    ModelConfig c = tiny(MODEL_TRANSFORMER, MODEL_TASK_CLASSIFY);
    Model *m = new_model(&c, 1);
    TestBatch t = make_batch(&c, &r, 2, 20, NULL); // 20 > window 16
    float logits[2 * 3] = {0};
    assert_int_equal(model_forward(m, &t.b, logits, 1), LS_ERR_USAGE);
    assert_non_null(strstr(ls_error_message(), "window"));
    assert_int_equal(model_backward(m, &t.b, logits), LS_ERR_USAGE);
    t.lengths[0] = 16, t.lengths[1] = 0;
    assert_int_equal(model_forward(m, &t.b, logits, 0), LS_ERR_USAGE);
    t.lengths[1] = 3;
    t.tokens[1] = 7; // vocab 5
    assert_int_equal(model_forward(m, &t.b, logits, 0), LS_ERR_USAGE);
    assert_non_null(strstr(ls_error_message(), "token 7"));
    t.tokens[1] = 2;
    t.b.tokens = NULL;
    assert_int_equal(model_forward(m, &t.b, logits, 0), LS_ERR_USAGE);
    t.b.tokens = t.tokens;
    OK(model_forward(m, &t.b, logits, 0));
    t.labels[0] = 3; // n_classes 3
    double loss;
    assert_int_equal(model_loss(m, &t.b, logits, t.labels, &loss, NULL, NULL, 1.0f), LS_ERR_RANGE);
    assert_int_equal(model_generate_step(m, t.tokens, logits), LS_ERR_UNSUPPORTED);
    free_batch(&t);
    model_free(m);
    // the optimizer's table: decay exactly on weight matrices
    c = tiny(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY);
    m = new_model(&c, 1);
    OptimTensor *ot = NULL;
    int64_t n = 0;
    OK(model_optim_tensors(m, &ot, &n));
    const ParamTable *tab = model_param_table(m);
    assert_int_equal(n, tab->n);
    for (int i = 0; i < tab->n; i++) {
        const char *name = tab->entries[i].name;
        size_t len = strlen(name);
        int want = strstr(name, "norm") == NULL && strstr(name, "embedding") == NULL &&
                   strcmp(name + len - 5, ".bias") != 0 && strcmp(name + len - 6, ".A_log") != 0 &&
                   strcmp(name + len - 2, ".D") != 0;
        if (ot[i].decay != want) fail_msg("%s: decay %d, expected %d", name, ot[i].decay, want);
        assert_int_equal(ot[i].offset, tab->entries[i].offset);
        assert_int_equal(ot[i].numel, tab->entries[i].numel);
    }
    free(ot);
    // embed = what the classifier sees
    t = make_batch(&c, &r, 2, 9, NULL);
    float emb[2 * 8], want[2 * 3], got[2 * 3];
    OK(model_embed(m, &t.b, emb));
    OK(model_forward(m, &t.b, want, 0));
    const float *w = model_params(m) + param_table_find(tab, "classifier.weight")->offset;
    const float *bias = model_params(m) + param_table_find(tab, "classifier.bias")->offset;
    for (int b = 0; b < 2; b++)
        for (int k = 0; k < 3; k++) {
            double acc = bias[k];
            for (int d = 0; d < 8; d++)
                acc += (double)emb[b * 8 + d] * w[k * 8 + d];
            got[b * 3 + k] = (float)acc;
        }
    expect_close("classifier(embed) vs forward", got, want, 6, 1e-5);
    free_batch(&t);
    model_free(m);
    // a CUDA model says why it cannot be built, and nothing leaks
    Device gpu = {DEVICE_CUDA, 0};
    m = (Model *)0x1;
    int rc = model_init(&m, &c, &gpu, 1);
    assert_true(rc < 0);
    assert_null(m);
    printf("#   --device cuda: %s\n", ls_error_message());
}


// ------------------------------------------------------------------------------ attention streams

// Logits of a stream in segments of splits[] (0-terminated) and of token-by-token steps after a
// prompt of `prompt` tokens, against one pass; then what the caches hold.
static void stream_vs_pass(const char *name, Model *m, const TestBatch *t, const int64_t *splits,
                           int64_t prompt, double tol) {
    const int64_t B = t->b.B, L = t->b.L, V = model_config(m)->vocab;
    float *full = kc_floats(B * L * V), *got = kc_floats(B * L * V);
    OK(model_forward(m, &t->b, full, 0));
    OK(model_stream_reset(m, B));
    int64_t at = 0;
    for (int k = 0; splits[k]; k++) {
        const int64_t n = splits[k];
        uint8_t *seg_tok = malloc((size_t)(B * n));
        float *seg_logits = kc_floats(B * n * V);
        for (int64_t b = 0; b < B; b++) memcpy(seg_tok + b * n, t->tokens + b * L + at, (size_t)n);
        ModelBatch seg = {.B = B, .L = n, .tokens = seg_tok};
        OK(model_stream_forward(m, &seg, seg_logits));
        for (int64_t b = 0; b < B; b++)
            memcpy(got + (b * L + at) * V, seg_logits + b * n * V, (size_t)(n * V) * sizeof(float));
        free(seg_tok);
        free(seg_logits);
        at += n;
    }
    assert_int_equal(at, L);
    char what[96];
    snprintf(what, sizeof what, "%s: segments vs one pass", name);
    expect_close(what, got, full, B * L * V, tol);
    OK(model_stream_reset(m, B));
    uint8_t *pt = malloc((size_t)(B * prompt));
    for (int64_t b = 0; b < B; b++) memcpy(pt + b * prompt, t->tokens + b * L, (size_t)prompt);
    ModelBatch seg = {.B = B, .L = prompt, .tokens = pt};
    float *pl = kc_floats(B * prompt * V), *step = kc_floats(B * V);
    OK(model_stream_forward(m, &seg, pl));
    for (int64_t b = 0; b < B; b++)
        memcpy(got + b * L * V, pl + b * prompt * V, (size_t)(prompt * V) * sizeof(float));
    uint8_t tok[8];
    for (int64_t i = prompt; i < L; i++) {
        for (int64_t b = 0; b < B; b++) tok[b] = t->tokens[b * L + i];
        OK(model_generate_step(m, tok, step));
        for (int64_t b = 0; b < B; b++)
            memcpy(got + (b * L + i) * V, step + b * V, (size_t)V * sizeof(float));
    }
    snprintf(what, sizeof what, "%s: prompt %lld + steps vs one pass", name, (long long)prompt);
    expect_close(what, got, full, B * L * V, tol);
    int64_t held = 0;
    model_stream_cache_bytes(m, &held);
    assert_int_equal(held, model_attention_layers(model_config(m)) > 0 ? L : 0);
    free(pt);
    free(pl);
    free(step);
    free(full);
    free(got);
}

// The Transformer and the hybrid stream through key/value caches: segments and steps equal one
// pass; the caches hold 2·D floats per position, row and attention layer and nothing for a
// Mamba layer; past its window the Transformer is a sliding-window model (one layer: position
// t sees exactly the window t−W+1..t, as a fresh forward over that window does).
static void test_stream_attention(void **state) {
    (void)state;
    KcRng r = kc_rng(51);
    ModelConfig c = tiny(MODEL_TRANSFORMER, MODEL_TASK_LM); // window 16
    Model *m = new_model(&c, 12);
    TestBatch t = make_batch(&c, &r, 2, 16, NULL);
    const int64_t s1[] = {5, 9, 2, 0};
    stream_vs_pass("transformer lm", m, &t, s1, 6, 1e-5);
    free_batch(&t);
    model_free(m);

    c = tiny_hybrid(MODEL_TASK_LM, "1");
    m = new_model(&c, 13);
    m->tile_rows = 6; // several Mamba tiles per segment
    t = make_batch(&c, &r, 3, 20, NULL);
    const int64_t s2[] = {5, 9, 6, 0};
    stream_vs_pass("hybrid lm (attention in layer 1 of 3)", m, &t, s2, 7, 1e-5);
    // sizes: 1 attention layer of 3 → 2·D floats per position; 2 Mamba layers of E·(K−1+N)
    int64_t state_bytes, cache_bytes;
    model_stream_sizes(m, &state_bytes, &cache_bytes);
    const int64_t D = c.d_model, E = c.expand * c.d_model;
    assert_int_equal(cache_bytes, 2 * D * 4);
    assert_int_equal(state_bytes, 2 * E * (c.d_conv - 1 + c.d_state) * 4);
    OK(model_stream_reset(m, 3));
    OK(model_stream_reserve(m, 1000));
    assert_int_equal(model_stream_cache_bytes(m, NULL), 3 * 1000 * cache_bytes);
    printf("#   hybrid: %lld bytes of state per row, %lld bytes of cache per position and row\n",
           (long long)state_bytes, (long long)cache_bytes);
    free_batch(&t);
    model_free(m);

    // a Mamba LM has no cache; a bidirectional model does not stream
    c = tiny(MODEL_MAMBA, MODEL_TASK_LM);
    m = new_model(&c, 1);
    model_stream_sizes(m, &state_bytes, &cache_bytes);
    assert_int_equal(cache_bytes, 0);
    OK(model_stream_reset(m, 2));
    OK(model_stream_reserve(m, 1000));
    assert_int_equal(model_stream_cache_bytes(m, NULL), 0);
    model_free(m);
    c = tiny_hybrid(MODEL_TASK_CLASSIFY, "0,2"); // bidirectional attention
    c.pool = MODEL_POOL_LAST;
    m = new_model(&c, 1);
    assert_int_equal(model_stream_reset(m, 1), LS_ERR_UNSUPPORTED);
    assert_non_null(strstr(ls_error_message(), "bidirectional"));
    model_free(m);

    // past the window: one layer, W = 6, 30 positions streamed in segments of 4, 13, 13
    c = tiny(MODEL_TRANSFORMER, MODEL_TASK_LM);
    c.n_layers = 1;
    c.window = 6;
    m = new_model(&c, 14);
    const int64_t B = 2, L = 30, V = c.vocab, W = 6;
    t = make_batch(&c, &r, B, L, NULL);
    float *got = kc_floats(B * L * V), *one = kc_floats(W * V);
    OK(model_stream_reset(m, B));
    const int64_t s3[] = {4, 13, 13};
    for (int64_t k = 0, at = 0; k < 3; at += s3[k], k++) {
        uint8_t seg_tok[2 * 13];
        float seg_logits[2 * 13 * 5];
        for (int64_t b = 0; b < B; b++)
            memcpy(seg_tok + b * s3[k], t.tokens + b * L + at, (size_t)s3[k]);
        ModelBatch seg = {.B = B, .L = s3[k], .tokens = seg_tok};
        OK(model_stream_forward(m, &seg, seg_logits));
        for (int64_t b = 0; b < B; b++)
            memcpy(got + (b * L + at) * V, seg_logits + b * s3[k] * V,
                   (size_t)(s3[k] * V) * sizeof(float));
    }
    int64_t held = 0;
    const int64_t cap_bytes = model_stream_cache_bytes(m, &held);
    assert_true(held <= 2 * W + 13);
    double worst = 0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t p = W; p < L; p++) {
            ModelBatch win = {.B = 1, .L = W, .tokens = t.tokens + b * L + p - W + 1};
            OK(model_forward(m, &win, one, 0));
            int same;
            double d = max_rel_diff(got + (b * L + p) * V, one + (W - 1) * V, V, &same);
            if (d > worst) worst = d;
        }
    printf("#   transformer 1 layer, window 6, 30 positions: stream vs fresh windows max "
           "|diff|/(1+|ref|) = %.2e; cache %lld bytes, %lld positions held\n", worst,
           (long long)cap_bytes, (long long)held);
    if (!(worst <= 1e-5)) fail_msg("sliding window differs from fresh windows by %.3g", worst);
    // the same stream token by token (the cache trimmed as it fills); reserved for the whole
    // stream (2·W positions for a window, or what it had), the cache never grows
    float *steps = kc_floats(B * L * V), logit[2 * 5];
    OK(model_stream_reset(m, B));
    OK(model_stream_reserve(m, L));
    const int64_t reserved = model_stream_cache_bytes(m, NULL);
    assert_true(reserved >= 2 * B * (2 * W) * c.d_model * 4); // kept from the segments' run
    for (int64_t i = 0; i < L; i++) {
        uint8_t tok[2] = {t.tokens[i], t.tokens[L + i]};
        OK(model_generate_step(m, tok, logit));
        for (int64_t b = 0; b < B; b++)
            memcpy(steps + (b * L + i) * V, logit + b * V, (size_t)V * sizeof(float));
    }
    expect_close("transformer window 6: 30 steps vs segments", steps, got, B * L * V, 1e-5);
    assert_int_equal(model_stream_cache_bytes(m, &held), reserved);
    assert_true(held <= reserved / (2 * B * c.d_model * 4));
    free(steps);
    free(got);
    free(one);
    free_batch(&t);
    model_free(m);
}


// Layer by layer equals one pass: BiMamba with and without rc, every pool, the layer outputs
// in memory and in the temporary file, segments of 5 over 23 positions (the last one 3), fed
// in pieces of 7; a causal Mamba too. Refusals: attention layers, too many tokens, early finish.
static void test_layerwise(void **state) {
    (void)state;
    KcRng r = kc_rng(53);
    const int64_t L = 23, D = 8;
    char dir[] = "/tmp/test_layerwise.XXXXXX";
    assert_non_null(mkdtemp(dir));
    for (int k = 0; k < 3; k++)
        for (int pool = MODEL_POOL_MEAN; pool <= MODEL_POOL_FIRST; pool++)
            for (int on_disk = 0; on_disk < 2; on_disk++) {
                ModelConfig c = tiny(k < 2 ? MODEL_BIMAMBA : MODEL_MAMBA, MODEL_TASK_CLASSIFY);
                c.rc_equivariant = k == 1;
                c.vocab = 5;
                c.pool = (ModelPool)pool;
                Model *m = new_model(&c, 40 + (uint64_t)pool);
                m->tile_rows = 4;
                TestBatch t = make_batch(&c, &r, 1, L, NULL);
                float want[8], wl[3], got[8], gl[3];
                OK(model_embed(m, &t.b, want));
                OK(model_forward(m, &t.b, wl, 0));
                ModelLayerwise *lw = NULL;
                LayerwiseOptions o = {.segment = 5, .host_bytes = on_disk ? 0 : (size_t)1 << 30,
                                      .tmp_dir = dir};
                OK(model_layerwise_begin(&lw, m, L, &o));
                assert_int_equal(model_layerwise_on_disk(lw), on_disk);
                assert_int_equal(model_layerwise_finish(lw, got, gl), LS_ERR_USAGE); // early
                for (int64_t at = 0; at < L; at += 7)
                    OK(model_layerwise_feed(lw, t.tokens + at, L - at < 7 ? L - at : 7));
                assert_int_equal(model_layerwise_feed(lw, t.tokens, 1), LS_ERR_USAGE);
                OK(model_layerwise_finish(lw, got, gl));
                model_layerwise_free(lw);
                const char *pools[3] = {"mean", "last", "first"};
                char what[96];
                snprintf(what, sizeof what, "%s pool %s, %s: layerwise embed",
                         k == 0 ? "bimamba" : k == 1 ? "bimamba rc" : "mamba", pools[pool],
                         on_disk ? "file" : "memory");
                expect_close(what, got, want, D, 1e-6);
                snprintf(what, sizeof what, "%s pool %s, %s: layerwise logits",
                         k == 0 ? "bimamba" : k == 1 ? "bimamba rc" : "mamba", pools[pool],
                         on_disk ? "file" : "memory");
                expect_close(what, gl, wl, 3, 1e-6);
                free_batch(&t);
                model_free(m);
            }
    assert_int_equal(rmdir(dir), 0); // the temporary files were unlinked: the folder is empty
    ModelConfig c = tiny_hybrid(MODEL_TASK_CLASSIFY, "1");
    Model *m = new_model(&c, 1);
    ModelLayerwise *lw = NULL;
    LayerwiseOptions o = {.segment = 5, .host_bytes = 1 << 20};
    assert_int_equal(model_layerwise_begin(&lw, m, 10, &o), LS_ERR_UNSUPPORTED);
    assert_null(lw);
    model_free(m);
}

int main(void) {
    kc_seed("test_model");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grad_mamba),          cmocka_unit_test(test_grad_bimamba),
        cmocka_unit_test(test_grad_transformer),    cmocka_unit_test(test_padding),
        cmocka_unit_test(test_stream_and_generate), cmocka_unit_test(test_rc_invariance),
        cmocka_unit_test(test_determinism),         cmocka_unit_test(test_overfit),
        cmocka_unit_test(test_grad_checkpoint),
        cmocka_unit_test(test_save_load),           cmocka_unit_test(test_config),
        cmocka_unit_test(test_api_errors),          cmocka_unit_test(test_grad_masked),
        cmocka_unit_test(test_target_mask),         cmocka_unit_test(test_grad_hybrid),
        cmocka_unit_test(test_hybrid),              cmocka_unit_test(test_stream_attention),
        cmocka_unit_test(test_stream_pooled),       cmocka_unit_test(test_layerwise),
        cmocka_unit_test(test_grad_dropout),        cmocka_unit_test(test_dropout_switch),
        cmocka_unit_test(test_dropout_threads_tiles), cmocka_unit_test(test_dropout_sites),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests_name("model", tests, NULL, NULL);
}
