/*
 * model_stream_gpu.c — streaming and generation on the GPU (issue 13), suite model_stream of
 * tests/gpu/test_gpu.c. Each whole path against a reference that does not stream:
 *
 *   stream      score-style logits of a causal Mamba, a Transformer and a hybrid fed in
 *               segments (carrying states and key/value caches on the device) equal the
 *               one-pass logits of the same GPU model; a Transformer whose window is shorter
 *               than the sequence (sliding window, which no one-pass forward computes) against
 *               the CPU's stream of the same parameters.
 *   pooling     embed --stream's path: mean / last pooled final states over segments longer
 *               than the GPU's sum chunk equal model_embed of one pass; a classifier's logits.
 *   layerwise   the bidirectional Mamba layer by layer (in host memory and through the file)
 *               equals one pass (model_embed).
 *   generate    teacher forcing: every step's logits (sampled tokens, drawn on the device) equal
 *               the full forward on the generated sequence, Mamba / Transformer / hybrid;
 *               a run through CUDA graphs gives the same tokens as the step-by-step run, and
 *               two runs with one seed the same tokens.
 *
 * Tolerances as model_gpu.c: fp32 max|gpu − ref| <= 1e-4·max|ref|, bf16 ‖·‖₂ within 3e-2.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/rng.h"
#include "models/model.h"
#include "pipeline/generator.h"
#include "tests/gpu/gpu_check.h"
#include "tests/gpu/model_check.h"

static const Device ms_cpu = {DEVICE_CPU, 0}, ms_gpu = {DEVICE_CUDA, 0};

static double ms_tol(DType t) { return t == DTYPE_F32 ? 1e-4 : 3e-2; }

static ModelConfig ms_cfg(ModelArch arch, ModelTask task) {
    ModelConfig c;
    model_config_default(&c, arch, task);
    c.d_model = arch == MODEL_MAMBA || arch == MODEL_BIMAMBA ? 32 : 64; // attention: hd 32
    c.n_layers = 2;
    c.d_state = 8;
    c.n_heads = 2;
    c.n_classes = 3;
    c.vocab = task == MODEL_TASK_LM ? 7 : 5;
    if (arch == MODEL_TRANSFORMER) c.window = 128; // longer than every sequence here
    if (arch == MODEL_HYBRID) {
        c.n_layers = 3;
        if (model_config_set_attn_every(&c, 3) < 0) c.n_layers = 0; // reported at init
    }
    return c;
}

static uint8_t *ms_tokens(GcRng *r, int64_t n, int64_t vocab) {
    uint8_t *t = (uint8_t *)malloc((size_t)(n > 0 ? n : 1));
    for (int64_t i = 0; t && i < n; i++) t[i] = (uint8_t)(gc_next(r) % (uint64_t)vocab);
    return t;
}

static Model *ms_model(const ModelConfig *cfg, const Device *dev, DType act, uint64_t seed) {
    Model *m = NULL;
    int status = model_init(&m, cfg, dev, seed);
    if (status == 0 && dev->kind == DEVICE_CUDA) status = model_set_precision(m, act);
    if (status < 0) {
        model_free(m);
        return NULL;
    }
    return m;
}

// Stream rows (B, L) in segments seg[]; logits (B, L, V) in (b, t) order.
static int stream_logits(Model *m, const uint8_t *tok, int64_t B, int64_t L, const int64_t *seg,
                         int nseg, float *out) {
    const int64_t V = model_config(m)->vocab;
    int status = model_stream_reset(m, B);
    int64_t at = 0;
    for (int k = 0; k < nseg && status == 0; k++) {
        const int64_t n = seg[k];
        uint8_t *part = (uint8_t *)malloc((size_t)(B * n));
        float *lg = gc_host(B * n * V);
        if (!part || !lg) status = ls_error(LS_ERR_NOMEM, "test");
        for (int64_t b = 0; status == 0 && b < B; b++) memcpy(part + b * n, tok + b * L + at, n);
        ModelBatch mb = {.B = B, .L = n, .tokens = part};
        if (status == 0) status = model_stream_forward(m, &mb, lg);
        for (int64_t b = 0; status == 0 && b < B; b++)
            memcpy(out + (b * L + at) * V, lg + b * n * V, (size_t)(n * V) * 4);
        free(part), free(lg);
        at += n;
    }
    return status;
}

// ------------------------------------------------------------------------------ stream

static void stream_case(const char *name, ModelArch arch, int64_t window, DType act,
                        uint64_t salt) {
    const char *prec = dtype_name(act);
    enum { B = 2, L = 90 };
    static const int64_t seg[] = {33, 1, 40, 16};
    ModelConfig cfg = ms_cfg(arch, MODEL_TASK_LM);
    if (window) cfg.window = window;
    const int64_t V = cfg.vocab;
    GcRng r = gc_rng(salt);
    uint8_t *tok = ms_tokens(&r, B * L, V);
    float *ref = gc_host(B * L * V), *got = gc_host(B * L * V);
    Model *gpu = ms_model(&cfg, &ms_gpu, act, 31 + salt), *cpu = NULL;
    int status = gpu ? 0 : -1;
    const char *against = "the one-pass forward on the GPU";
    if (status == 0 && window && window < L) { // sliding window: the CPU's stream is the spec
        cpu = ms_model(&cfg, &ms_cpu, DTYPE_F32, 31 + salt);
        status = cpu ? stream_logits(cpu, tok, B, L, seg, 4, ref) : -1;
        against = "the CPU's stream (sliding window)";
    } else if (status == 0) {
        const ModelBatch whole = {.B = B, .L = L, .tokens = tok};
        status = model_forward(gpu, &whole, ref, 0);
    }
    if (status == 0) status = stream_logits(gpu, tok, B, L, seg, 4, got);
    if (status < 0) {
        gc_report(0, "model_stream %s %s: %s", name, prec, ls_error_message());
    } else {
        const double e = gm_rel(got, ref, B * L * V, act != DTYPE_F32);
        gc_report(e <= ms_tol(act), "model_stream %s %s: segments 33+1+40+16 on the GPU give %s "
                  "(rel. %.3g <= %.0e)", name, prec, against, e, ms_tol(act));
    }
    model_free(gpu), model_free(cpu);
    free(tok), free(ref), free(got);
}

// ------------------------------------------------------------------------------ pooling

static void pooling_case(ModelPool pool, DType act, uint64_t salt) {
    const char *prec = dtype_name(act);
    enum { B = 2, L = 700 };
    static const int64_t seg[] = {300, 300, 100}; // longer than the GPU's sum chunk (256)
    ModelConfig cfg = ms_cfg(MODEL_MAMBA, MODEL_TASK_CLASSIFY);
    cfg.pool = pool;
    const int64_t C = cfg.n_classes;
    GcRng r = gc_rng(salt);
    uint8_t *tok = ms_tokens(&r, B * L, cfg.vocab);
    float lref[B * 3], lgot[B * 3], eref[B * 32], egot[B * 32];
    const int64_t D = cfg.d_model; // 32
    Model *m = ms_model(&cfg, &ms_gpu, act, 41 + salt);
    const ModelBatch whole = {.B = B, .L = L, .tokens = tok};
    int status = m ? model_forward(m, &whole, lref, 0) : -1;
    if (status == 0) status = model_embed(m, &whole, eref);
    if (status == 0) status = model_stream_reset(m, B);
    if (status == 0) status = model_stream_set_pooling(m, 1);
    for (int64_t k = 0, at = 0; k < 3 && status == 0; at += seg[k], k++) {
        uint8_t part[B * 300];
        for (int64_t b = 0; b < B; b++) memcpy(part + b * seg[k], tok + b * L + at, seg[k]);
        ModelBatch mb = {.B = B, .L = seg[k], .tokens = part};
        status = model_stream_forward(m, &mb, NULL);
    }
    // the logits go through the classifier head (the pooled sum, the mean or the last row,
    // and the matmul); model_stream_embed writes the caller's host memory, as model_embed
    if (status == 0) status = model_stream_logits(m, lgot);
    if (status == 0) status = model_stream_embed(m, egot);
    if (status < 0) {
        gc_report(0, "model_stream pooling %d %s: %s", (int)pool, prec, ls_error_message());
    } else {
        const double ee = gm_rel(egot, eref, B * D, act != DTYPE_F32);
        gc_report(ee <= ms_tol(act), "model_stream pooling %s %s: model_stream_embed of "
                  "300+300+100 streamed positions (host memory) = model_embed (rel. %.3g)",
                  pool == MODEL_POOL_LAST ? "last" : pool == MODEL_POOL_FIRST ? "first" : "mean",
                  prec, ee);
        const double e = gm_rel(lgot, lref, B * C, act != DTYPE_F32);
        gc_report(e <= ms_tol(act), "model_stream pooling %s %s: classifier logits of 300+300+100 "
                  "streamed positions = one pass (rel. %.3g)",
                  pool == MODEL_POOL_LAST ? "last" : pool == MODEL_POOL_FIRST ? "first" : "mean",
                  prec, e);
    }
    model_free(m);
    free(tok);
}

// ------------------------------------------------------------------------------ layerwise

static void layerwise_case(int rc, int on_disk, DType act, uint64_t salt) {
    const char *prec = dtype_name(act);
    enum { L = 600 };
    ModelConfig cfg = ms_cfg(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY);
    cfg.rc_equivariant = rc;
    cfg.vocab = 5;
    const int64_t D = cfg.d_model;
    GcRng r = gc_rng(salt);
    uint8_t *tok = ms_tokens(&r, L, 4);
    float ref[32], got[32], lref[3], lgot[3]; // D 32, 3 classes
    Model *m = ms_model(&cfg, &ms_gpu, act, 51 + salt);
    ModelLayerwise *lw = NULL;
    const ModelBatch whole = {.B = 1, .L = L, .tokens = tok};
    int status = m ? model_embed(m, &whole, ref) : -1;
    if (status == 0) status = model_forward(m, &whole, lref, 0);
    LayerwiseOptions opt = {.segment = 256, .host_bytes = on_disk ? 0 : (size_t)1 << 30};
    if (status == 0) status = model_layerwise_begin(&lw, m, L, &opt);
    if (status == 0) status = model_layerwise_feed(lw, tok, 250);
    if (status == 0) status = model_layerwise_feed(lw, tok + 250, L - 250);
    // embed and logits are host memory (the stores too: host or the file)
    if (status == 0) status = model_layerwise_finish(lw, got, lgot);
    if (status < 0) {
        gc_report(0, "model_stream layerwise%s%s %s: %s", rc ? " rc" : "",
                  on_disk ? " file" : "", prec, ls_error_message());
    } else {
        const double e = gm_rel(got, ref, D, act != DTYPE_F32);
        gc_report(e <= ms_tol(act), "model_stream layerwise bimamba%s (%s) %s: 600 positions in "
                  "segments of 256 = one pass (rel. %.3g)", rc ? " rc" : "",
                  on_disk ? "temporary file" : "host memory", prec, e);
        const double el = gm_rel(lgot, lref, cfg.n_classes, act != DTYPE_F32);
        gc_report(el <= ms_tol(act), "model_stream layerwise bimamba%s (%s) %s: classifier "
                  "logits = one pass (rel. %.3g)", rc ? " rc" : "",
                  on_disk ? "temporary file" : "host memory", prec, el);
    }
    model_layerwise_free(lw);
    model_free(m);
    free(tok);
}

// ------------------------------------------------------------------------------ generate

typedef struct {
    int64_t B, V, P, block;
    uint8_t *seq;   // (B, P + length): prefix then generated tokens
    float *logits;  // (length, B, V) of every step
    int64_t length;
} GenLog;

static int gen_on_block(void *ctx, int64_t t0, int64_t n, const uint8_t *tokens,
                        int64_t stride) {
    GenLog *g = (GenLog *)ctx;
    const int64_t W = g->P + g->length;
    for (int64_t b = 0; b < g->B; b++)
        memcpy(g->seq + b * W + g->P + t0, tokens + b * stride, (size_t)n);
    return 0;
}

static int gen_on_step(void *ctx, int64_t t, const float *logits, const uint8_t *next) {
    GenLog *g = (GenLog *)ctx;
    (void)next;
    memcpy(g->logits + t * g->B * g->V, logits, (size_t)(g->B * g->V) * 4);
    return 0;
}

static int gen_run(Model *m, GenLog *g, const uint8_t *prefix, int log_steps, int64_t graph,
                   uint64_t seed) {
    GeneratorOptions o = {.B = g->B, .prefix = prefix, .P = g->P, .length = g->length,
                          .sampler = {.temperature = 1.0, .top_p = 0.9}, .seed = seed,
                          .block = g->block, .on_block = gen_on_block,
                          .on_step = log_steps ? gen_on_step : NULL, .ctx = g,
                          .graph_steps = graph};
    const int64_t W = g->P + g->length;
    for (int64_t b = 0; b < g->B; b++) memcpy(g->seq + b * W, prefix + b * g->P, (size_t)g->P);
    return generator_run(m, &o);
}

static void generate_case(const char *name, ModelArch arch, DType act, uint64_t salt) {
    const char *prec = dtype_name(act);
    enum { B = 3, P = 5, N = 45 };
    ModelConfig cfg = ms_cfg(arch, MODEL_TASK_LM);
    const int64_t V = cfg.vocab, W = P + N;
    GcRng r = gc_rng(salt);
    uint8_t *prefix = ms_tokens(&r, B * P, V);
    GenLog g = {B, V, P, 16, (uint8_t *)malloc(B * W), gc_host(N * B * V), N};
    GenLog h = {B, V, P, 16, (uint8_t *)malloc(B * W), gc_host(N * B * V), N};
    float *full = gc_host(B * W * V), *want = gc_host(N * B * V);
    Model *m = ms_model(&cfg, &ms_gpu, act, 61 + salt);
    int status = m ? gen_run(m, &g, prefix, 1, 0, 7) : -1;
    const ModelBatch whole = {.B = B, .L = W, .tokens = g.seq};
    if (status == 0) status = model_forward(m, &whole, full, 0);
    if (status < 0) {
        gc_report(0, "model_stream generate %s %s: %s", name, prec, ls_error_message());
        goto done;
    }
    // step t's logits predict position P + t from the sequence up to P + t − 1
    for (int64_t t = 0; t < N; t++)
        for (int64_t b = 0; b < B; b++)
            memcpy(want + (t * B + b) * V, full + (b * W + P - 1 + t) * V, (size_t)V * 4);
    {
        const double e = gm_rel(g.logits, want, N * B * V, act != DTYPE_F32);
        gc_report(e <= ms_tol(act), "model_stream generate %s %s: teacher forcing, %d steps x %d "
                  "rows drawn on the GPU (T 1, top-p 0.9): step logits = the full forward "
                  "(rel. %.3g)", name, prec, N, B, e);
    }
    // through graphs of 8 steps (blocks of 16, a tail of 13): the same tokens
    status = gen_run(m, &h, prefix, 0, 8, 7);
    {
        const char *why = "";
        const int graphs = status == 0 && model_generate_device_graphs(m, &why);
        gc_report(status == 0 && memcmp(h.seq, g.seq, (size_t)(B * W)) == 0,
                  "model_stream generate %s %s: %s run gives the step-by-step tokens%s%s", name,
                  prec, graphs ? "a CUDA-graph" : "an uncaptured", status ? ": " : "",
                  status ? ls_error_message() : "");
        if (arch == MODEL_MAMBA)
            gc_report(graphs, "model_stream generate %s %s: the Mamba steps ran as CUDA graphs%s%s",
                      name, prec, graphs ? "" : ": ", why);
    }
    // same seed, same tokens (twice through the default path)
    memset(h.seq, 0, (size_t)(B * W));
    status = gen_run(m, &h, prefix, 0, 0, 7);
    gc_report(status == 0 && memcmp(h.seq, g.seq, (size_t)(B * W)) == 0,
              "model_stream generate %s %s: the same seed gives the same tokens again", name,
              prec);
done:
    model_free(m);
    free(prefix), free(g.seq), free(g.logits), free(h.seq), free(h.logits), free(full);
    free(want);
}

void gpu_model_stream(void) {
    uint64_t salt = 2100;
    for (int p = 0; p < 2; p++) {
        const DType act = p ? DTYPE_BF16 : DTYPE_F32;
        stream_case("mamba", MODEL_MAMBA, 0, act, salt++);
        stream_case("transformer", MODEL_TRANSFORMER, 0, act, salt++);
        stream_case("hybrid", MODEL_HYBRID, 0, act, salt++);
        pooling_case(MODEL_POOL_MEAN, act, salt++);
        pooling_case(MODEL_POOL_LAST, act, salt++);
        layerwise_case(0, 0, act, salt++);
        layerwise_case(1, 1, act, salt++);
        generate_case("mamba", MODEL_MAMBA, act, salt++);
        generate_case("transformer", MODEL_TRANSFORMER, act, salt++);
        generate_case("hybrid", MODEL_HYBRID, act, salt++);
    }
    stream_case("transformer window 16", MODEL_TRANSFORMER, 16, DTYPE_F32, salt++);
}
