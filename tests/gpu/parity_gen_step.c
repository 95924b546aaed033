/*
 * parity_gen_step.c — suite gen_step of tests/gpu/test_gpu.c: the fused generation step
 * (kernels/gen_step.h, used by model_generate_device_* for a Mamba LM) against the unfused
 * step (the per-op path, whose ops match their CPU specifications), on the GPU.
 *
 * Each case builds two models from one seed (the same weights), one fused and one with
 * model_set_generate_fused(m, 0), primes both with the same prompt (model_stream_forward: the
 * same states), then runs N steps one at a time: both start from the same token (the unfused
 * model's last draw) and their next-token logits are compared every step; at the end their
 * carried conv and scan states. Shapes: d_model not a multiple of 32, d_state 1 and 16,
 * d_conv 2 and 4, 1 and 3 layers, LayerNorm and RMSNorm, vocabularies 37 and 256; d_model 38
 * (rows not 16-byte aligned: the kernel's scalar loads); B = 1, 2, 3, 5, 8, 17, 64 (1, 2, 4
 * and 8 rows per cluster, last clusters part full, clusters with no channels at small d_inner).
 * A shape the kernel does not take (d_inner > GEN_STEP_MAX_K) runs unfused and says why.
 * Last, fp32: whole generations through CUDA graphs with one seed give the same tokens fused
 * and unfused. LS_GEN_STEP_CLUSTER=8 in the environment runs it all with clusters of 8.
 *
 * LS_GEN_STEP_SHORT=1 runs four of the step cases only (for compute-sanitizer).
 *
 * Tolerances: fp32 max|fused − unfused| <= 1e-5·max|unfused| (the projections sum in another
 * order than cuBLAS: fp32 rounding); bf16 ‖·‖₂ within 3e-2 (model_stream_gpu.c's, as both
 * paths round activations to bf16 at the same points).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/rng.h"
#include "models/model_internal.h"
#include "pipeline/generator.h"
#include "tests/gpu/gpu_check.h"

static const Device gs_gpu = {DEVICE_CUDA, 0};

typedef struct {
    int64_t d_model, d_state, d_conv, layers, vocab;
    int layer_norm;
} GsShape;

static double gs_rel(const float *got, const float *ref, int64_t n, int l2) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]), r = fabs((double)ref[i]);
        if (!isfinite(got[i]) || !isfinite(ref[i])) return INFINITY;
        if (l2) num += d * d, den += r * r;
        else num = d > num ? d : num, den = r > den ? r : den;
    }
    if (l2) num = sqrt(num), den = sqrt(den);
    return den > 0 ? num / den : num;
}

static double gs_tol(DType t) { return t == DTYPE_F32 ? 1e-5 : 3e-2; }

static Model *gs_model(const GsShape *s, DType act, int fused, uint64_t seed) {
    ModelConfig c;
    model_config_default(&c, MODEL_MAMBA, MODEL_TASK_LM);
    c.d_model = s->d_model, c.d_state = s->d_state, c.d_conv = s->d_conv;
    c.n_layers = s->layers, c.vocab = s->vocab;
    c.norm = s->layer_norm ? MODEL_NORM_LAYER : MODEL_NORM_RMS;
    Model *m = NULL;
    int status = model_init(&m, &c, &gs_gpu, seed);
    if (status == 0) status = model_set_precision(m, act);
    if (status < 0) {
        model_free(m);
        return NULL;
    }
    model_set_generate_fused(m, fused);
    return m;
}

static void gs_name(char *buf, size_t n, const GsShape *s, int64_t B, DType act) {
    snprintf(buf, n, "d%lld N%lld K%lld x%lld %s V%lld B%lld %s", (long long)s->d_model,
             (long long)s->d_state, (long long)s->d_conv, (long long)s->layers,
             s->layer_norm ? "layernorm" : "rmsnorm", (long long)s->vocab, (long long)B,
             dtype_name(act));
}

static void step_case(const GsShape *s, int64_t B, DType act, uint64_t salt) {
    enum { P = 7, N = 24 };
    char name[160];
    gs_name(name, sizeof name, s, B, act);
    const int64_t V = s->vocab;
    GcRng r = gc_rng(salt);
    uint8_t *prompt = (uint8_t *)malloc((size_t)(B * P)), *cur = (uint8_t *)malloc((size_t)B);
    uint8_t *tok_f = (uint8_t *)malloc((size_t)B), *tok_u = (uint8_t *)malloc((size_t)B);
    uint64_t *rng = (uint64_t *)malloc((size_t)B * 4 * sizeof *rng);
    float *lf = gc_host(B * V), *lu = gc_host(B * V), *sf = NULL, *su = NULL;
    Model *fu = gs_model(s, act, 1, 900 + salt), *un = gs_model(s, act, 0, 900 + salt);
    int status = fu && un && prompt && cur && tok_f && tok_u && rng && lf && lu ? 0 : -1;
    if (status < 0) {
        gc_report(0, "gen_step %s: setup: %s", name, ls_error_message());
        goto done;
    }
    for (int64_t i = 0; i < B * P; i++) prompt[i] = (uint8_t)(gc_next(&r) % (uint64_t)V);
    for (int64_t b = 0; b < B; b++) {
        Rng g;
        rng_seed_stream(&g, 5 + salt, (uint64_t)b);
        memcpy(rng + 4 * b, g.s, sizeof g.s);
        cur[b] = prompt[b * P + P - 1];
    }
    // the same primed state in both (all but the last prompt token)
    const ModelBatch seg = {.B = B, .L = P - 1, .tokens = prompt};
    uint8_t *rows = (uint8_t *)malloc((size_t)(B * P)); // (B, P − 1) used
    for (int64_t b = 0; rows && b < B; b++) memcpy(rows + b * (P - 1), prompt + b * P, P - 1);
    ModelBatch seg_rows = seg;
    seg_rows.tokens = rows;
    Model *both[2] = {fu, un};
    for (int k = 0; k < 2 && status == 0; k++) {
        status = rows ? model_stream_reset(both[k], B) : ls_error(LS_ERR_NOMEM, "rows");
        if (status == 0) status = model_stream_forward(both[k], &seg_rows, NULL);
    }
    free(rows);
    double worst = 0;
    int worst_step = -1;
    const ModelSampling smp = {.temperature = 1.0, .top_p = 1.0, .rng = rng, .graph_steps = 0};
    for (int t = 0; t < N && status == 0; t++) {
        status = model_generate_device_start(fu, cur, &smp);
        if (status == 0) status = model_generate_device_start(un, cur, &smp);
        if (status == 0) status = model_generate_device_run(fu, 1, tok_f, 1, lf);
        if (status == 0) status = model_generate_device_run(un, 1, tok_u, 1, lu);
        if (status < 0) break;
        const double e = gs_rel(lf, lu, B * V, act != DTYPE_F32);
        if (!(e <= worst)) worst = e, worst_step = t;
        memcpy(cur, tok_u, (size_t)B); // both go on from the reference's draw
    }
    if (status < 0) {
        gc_report(0, "gen_step %s: %s", name, ls_error_message());
        goto done;
    }
    {
        const char *why = "";
        const int fused = model_generate_device_fused(fu, &why);
        gc_report(fused && !model_generate_device_fused(un, NULL),
                  "gen_step %s: the fused step ran in the fused model only%s%s", name,
                  fused ? "" : ": ", why);
    }
    gc_report(worst <= gs_tol(act), "gen_step %s: %d steps, logits fused = unfused every step "
              "(worst rel. %.3g at step %d <= %.0e)", name, N, worst, worst_step, gs_tol(act));
    {
        const int64_t n = model_stream_layer_floats(fu, B) * s->layers;
        sf = gc_host(n), su = gc_host(n);
        status = sf && su ? 0 : ls_error(LS_ERR_NOMEM, "states");
        if (status == 0) status = device_cuda_copy(sf, fu->stream_state, (size_t)n * 4,
                                                   DEVICE_COPY_D2H);
        if (status == 0) status = device_cuda_copy(su, un->stream_state, (size_t)n * 4,
                                                   DEVICE_COPY_D2H);
        // per layer: the conv states (inputs of the conv, i.e. in_proj outputs) and the scan
        // states, each against its own scale
        double ec = 0, eh = 0;
        const int64_t per = model_stream_layer_floats(fu, B), nc = B * fu->E * (fu->K - 1);
        for (int64_t i = 0; status == 0 && i < s->layers; i++) {
            const float *f = sf + i * per, *u = su + i * per;
            double c = nc ? gs_rel(f, u, nc, act != DTYPE_F32) : 0;
            double h = gs_rel(f + nc, u + nc, per - nc, act != DTYPE_F32);
            ec = c > ec || isnan(c) ? c : ec, eh = h > eh || isnan(h) ? h : eh;
        }
        gc_report(status == 0 && ec <= gs_tol(act) && eh <= gs_tol(act),
                  "gen_step %s: carried states after %d steps, conv rel. %.3g, scan rel. %.3g "
                  "(<= %.0e)%s%s", name, N, ec, eh, gs_tol(act), status ? ": " : "",
                  status ? ls_error_message() : "");
    }
done:
    model_free(fu), model_free(un);
    free(prompt), free(cur), free(tok_f), free(tok_u), free(rng);
    free(lf), free(lu), free(sf), free(su);
}

// A shape the fused kernel does not take: the fused model falls back to the unfused step and
// says why (the size out of range), and its logits are the unfused ones.
static void fallback_case(void) {
    const GsShape s = {520, 16, 4, 1, 37, 0}; // d_inner 1040 > GEN_STEP_MAX_K
    const int64_t B = 2, V = s.vocab;
    uint8_t cur[2] = {3, 5}, tok[2];
    uint64_t rng[8];
    for (int b = 0; b < 2; b++) {
        Rng g;
        rng_seed_stream(&g, 77, (uint64_t)b);
        memcpy(rng + 4 * b, g.s, sizeof g.s);
    }
    float *lf = gc_host(B * V);
    Model *fu = gs_model(&s, DTYPE_F32, 1, 901);
    const ModelSampling smp = {.temperature = 1.0, .top_p = 1.0, .rng = rng, .graph_steps = 0};
    int status = fu && lf ? model_stream_reset(fu, B) : -1;
    if (status == 0) status = model_generate_device_start(fu, cur, &smp);
    if (status == 0) status = model_generate_device_run(fu, 1, tok, 1, lf);
    const char *why = "";
    const int fused = status == 0 && model_generate_device_fused(fu, &why);
    gc_report(status == 0 && !fused && strstr(why, "d_inner 1040") != NULL,
              "gen_step d520 (d_inner 1040): not fused, runs op by op, says why: \"%s\"%s%s",
              why, status ? ": " : "", status ? ls_error_message() : "");
    model_free(fu);
    free(lf);
}

// ------------------------------------------------------------------------------ whole runs

typedef struct {
    int64_t B, W;
    uint8_t *seq; // (B, W) generated tokens
} GsLog;

static int gs_on_block(void *ctx, int64_t t0, int64_t n, const uint8_t *tokens,
                       int64_t stride) {
    GsLog *g = (GsLog *)ctx;
    for (int64_t b = 0; b < g->B; b++) memcpy(g->seq + b * g->W + t0, tokens + b * stride,
                                              (size_t)n);
    return 0;
}

// fp32: the whole generator (priming, graphs of 32 steps, the tail uncaptured) with one seed
// gives the same tokens through the fused and the unfused step.
static void tokens_case(const GsShape *s, int64_t B, uint64_t salt) {
    enum { P = 5, LEN = 300 };
    char name[160];
    gs_name(name, sizeof name, s, B, DTYPE_F32);
    GcRng r = gc_rng(salt);
    uint8_t *prefix = (uint8_t *)malloc((size_t)(B * P));
    GsLog a = {B, LEN, (uint8_t *)calloc((size_t)(B * LEN), 1)};
    GsLog b = {B, LEN, (uint8_t *)calloc((size_t)(B * LEN), 1)};
    Model *fu = gs_model(s, DTYPE_F32, 1, 700 + salt), *un = gs_model(s, DTYPE_F32, 0, 700 + salt);
    int status = fu && un && prefix && a.seq && b.seq ? 0 : -1;
    for (int64_t i = 0; status == 0 && i < B * P; i++)
        prefix[i] = (uint8_t)(gc_next(&r) % (uint64_t)s->vocab);
    GeneratorOptions o = {.B = B, .prefix = prefix, .P = P, .length = LEN,
                          .sampler = {.temperature = 1.0, .top_p = 0.95}, .seed = 11 + salt,
                          .block = 64, .on_block = gs_on_block, .graph_steps = 32};
    o.ctx = &a;
    if (status == 0) status = generator_run(fu, &o);
    const char *why = "";
    const int graphs = status == 0 && model_generate_device_graphs(fu, &why);
    const int fused = status == 0 && model_generate_device_fused(fu, NULL);
    o.ctx = &b;
    if (status == 0) status = generator_run(un, &o);
    gc_report(status == 0 && fused && graphs && memcmp(a.seq, b.seq, (size_t)(B * LEN)) == 0,
              "gen_step %s: %d tokens per row, one seed, fused (%s) = unfused tokens%s%s", name,
              LEN, graphs ? "cuda graphs" : why, status ? ": " : "",
              status ? ls_error_message() : "");
    model_free(fu), model_free(un);
    free(prefix), free(a.seq), free(b.seq);
}

void gpu_parity_gen_step(void) {
    static const GsShape shapes[] = {
        {40, 16, 4, 3, 37, 0}, // RMSNorm, 3 layers, d_model not a multiple of 32
        {40, 1, 2, 1, 256, 1}, // LayerNorm, d_state 1, d_conv 2
        {72, 1, 4, 3, 256, 1},
        {64, 16, 2, 1, 37, 0},
        {38, 16, 4, 2, 37, 1}, // rows of 38 and 76: not 16-byte multiples (scalar loads)
    };
    static const int64_t batches[] = {1, 2, 3, 5, 8, 17, 64};
    uint64_t salt = 3100;
    const char *short_run = getenv("LS_GEN_STEP_SHORT"); // a few cases (compute-sanitizer)
    if (short_run && *short_run && strcmp(short_run, "0") != 0) {
        for (int p = 0; p < 2; p++) {
            step_case(&shapes[0], 3, p ? DTYPE_BF16 : DTYPE_F32, salt++);
            step_case(&shapes[1], 64, p ? DTYPE_BF16 : DTYPE_F32, salt++);
        }
        step_case(&shapes[4], 17, DTYPE_BF16, salt++); // the scalar loads, a part-full cluster
        return;
    }
    // every batch size on three shapes (the rows-per-cluster plans), B 1, 17, 64 on the others
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (size_t j = 0; j < sizeof batches / sizeof batches[0]; j++) {
            const int64_t B = batches[j];
            if ((i == 1 || i == 3) && B != 1 && B != 17 && B != 64) continue;
            for (int p = 0; p < 2; p++)
                step_case(&shapes[i], B, p ? DTYPE_BF16 : DTYPE_F32, salt++);
        }
    fallback_case();
    tokens_case(&shapes[0], 3, salt++);
    tokens_case(&shapes[2], 64, salt++);
    static const GsShape bench_shape = {256, 16, 4, 2, 256, 0}; // issue 13's width, 2 layers
    step_case(&bench_shape, 1, DTYPE_F32, salt++);
    step_case(&bench_shape, 8, DTYPE_BF16, salt++);
    step_case(&bench_shape, 64, DTYPE_BF16, salt++);
    step_case(&bench_shape, 64, DTYPE_F32, salt++);
    static const GsShape deep = {64, 16, 4, 18, 37, 0}; // 18 layers: two launches a step
    step_case(&deep, 3, DTYPE_F32, salt++);
}
