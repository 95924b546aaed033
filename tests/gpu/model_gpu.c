/*
 * model_gpu.c — the whole model on the GPU against the CPU specification (issue 12), suites of
 * tests/gpu/test_gpu.c:
 *
 *   model        every architecture (causal Mamba, bidirectional Mamba with the RC-equivariant
 *                head, Transformer, hybrid), both heads, token and waveform input, small sizes,
 *                two rows of different lengths, several Mamba tiles: the same seed gives the
 *                same parameters on both devices; then the logits of model_forward, the loss of
 *                model_forward_backward (the training step, on the device) and every gradient
 *                against the CPU's model_forward + model_loss + model_backward. fp32: per
 *                tensor, max|gpu − cpu| ≤ 1e-4 · max|cpu| (and likewise for the logits);
 *                bf16 mixed precision: per tensor ‖gpu − cpu‖₂ ≤ 3e-2 · ‖cpu‖₂. Also streaming
 *                and generation on the GPU against its own one-pass forward.
 *   model_train  50 AdamW steps (warm-up, cosine, clipping) of a causal Mamba LM and a
 *                bidirectional classifier on fixed batches, the same on both devices: the GPU's
 *                loss curve within 1e-3 of the CPU's (fp32, |Δ| ≤ 1e-3·max(1, |loss|)) and
 *                within 2 % (bf16); two GPU runs give byte-identical checkpoints (fp32 and
 *                bf16); the GPU-trained checkpoint loaded on the CPU gives the GPU's logits
 *                (1e-4 of max|logit|).
 *
 * Numbers are printed in each TAP line (worst tensor, its error) so a run records them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/optim.h"
#include "models/model.h"
#include "models/model_internal.h"
#include "tests/gpu/gpu_check.h"
#include "tests/gpu/model_check.h"

static const Device mg_cpu = {DEVICE_CPU, 0}, mg_gpu = {DEVICE_CUDA, 0};

// ------------------------------------------------------------------------------ batches

typedef struct {
    ModelBatch b;
    uint8_t *tokens;
    float *samples;
    int64_t lengths[4];
    int32_t labels[4];
} MgBatch;

static void mg_batch(MgBatch *t, const ModelConfig *c, GcRng *r, int64_t B, int64_t L) {
    memset(t, 0, sizeof *t);
    t->b.B = B, t->b.L = L;
    for (int64_t i = 0; i < B; i++) {
        t->lengths[i] = i == 0 ? L : L / 2 + (int64_t)(gc_next(r) % (uint64_t)(L / 2));
        t->labels[i] = (int32_t)(gc_next(r) % (uint64_t)(c->n_classes > 1 ? c->n_classes : 2));
    }
    t->b.lengths = t->lengths;
    if (c->input == MODEL_INPUT_WAVEFORM) {
        t->samples = gc_host(B * L);
        gc_fill(r, t->samples, B * L, -1, 1, 0);
        t->b.samples = t->samples;
    } else {
        t->tokens = (uint8_t *)malloc((size_t)(B * L));
        for (int64_t i = 0; i < B * L; i++)
            t->tokens[i] = (uint8_t)(gc_next(r) % (uint64_t)c->vocab);
        t->b.tokens = t->tokens;
    }
}

static void mg_batch_free(MgBatch *t) {
    free(t->tokens);
    free(t->samples);
}

static int64_t mg_logits_numel(const Model *m, const ModelBatch *b) {
    const ModelConfig *c = model_config(m);
    return model_output_rows(m, b) * (c->task == MODEL_TASK_LM ? c->vocab : c->n_classes);
}

// ------------------------------------------------------------------------------ comparisons

// ------------------------------------------------------------------------------ suite: model

typedef struct {
    const char *name;
    ModelConfig cfg;
    int64_t B, L, tile_rows;
} MgCase;

static ModelConfig mg_cfg(ModelArch arch, ModelTask task, ModelInput input) {
    ModelConfig c;
    model_config_default(&c, arch, task);
    c.input = input;
    c.d_model = arch == MODEL_MAMBA || arch == MODEL_BIMAMBA ? 32 : 64; // attention: hd 32
    c.n_layers = 2;
    c.d_state = 8;
    c.n_heads = 2;
    c.n_classes = 3;
    c.vocab = 5;
    c.frame = 4;
    if (task == MODEL_TASK_LM) c.vocab = 7;
    return c;
}

static void model_case(const MgCase *mc, DType act, uint64_t salt) {
    char what[256];
    const char *prec = dtype_name(act);
    Model *cpu = NULL, *gpu = NULL;
    MgBatch t;
    GcRng r = gc_rng(salt);
    mg_batch(&t, &mc->cfg, &r, mc->B, mc->L);
    float *lc = NULL, *lg = NULL, *dl = NULL, *pc = NULL, *pg = NULL, *gcpu = NULL, *ggpu = NULL;
    int status = model_init(&cpu, &mc->cfg, &mg_cpu, 77 + salt);
    if (status == 0) status = model_init(&gpu, &mc->cfg, &mg_gpu, 77 + salt);
    if (status == 0) status = model_set_precision(gpu, act);
    if (status < 0) {
        gc_report(0, "model %s %s: init: %s", mc->name, prec, ls_error_message());
        goto done;
    }
    cpu->tile_rows = gpu->tile_rows = mc->tile_rows; // several Mamba tiles
    const ParamTable *tab = model_param_table(cpu);
    const int64_t P = tab->total, nl = mg_logits_numel(cpu, &t.b);
    lc = gc_host(nl), lg = gc_host(nl), dl = gc_host(nl);
    pc = gc_host(P), pg = gc_host(P), gcpu = gc_host(P), ggpu = gc_host(P);
    // the same parameters on both devices
    status = model_buffer_read(cpu, MODEL_BUF_PARAMS, pc);
    if (status == 0) status = model_buffer_read(gpu, MODEL_BUF_PARAMS, pg);
    if (status < 0) goto fail;
    gc_report(memcmp(pc, pg, (size_t)P * 4) == 0, "model %s %s: the same seed gives the same "
              "%lld parameters on both devices", mc->name, prec, (long long)tab->numel);
    // CPU: forward, loss, backward (the specification)
    double loss_c = 0, loss_g = 0;
    memset(dl, 0, (size_t)nl * 4);
    if ((status = model_zero_grads(cpu)) < 0 || (status = model_forward(cpu, &t.b, lc, 1)) < 0 ||
        (status = model_loss(cpu, &t.b, lc, t.labels, &loss_c, NULL, dl, 1.0f)) < 0 ||
        (status = model_backward(cpu, &t.b, dl)) < 0 ||
        (status = model_buffer_read(cpu, MODEL_BUF_GRADS, gcpu)) < 0)
        goto fail;
    // GPU: logits of model_forward, then the training step on the device
    if ((status = model_forward(gpu, &t.b, lg, 0)) < 0) goto fail;
    const int l2 = act != DTYPE_F32;
    const double tol = l2 ? 3e-2 : 1e-4;
    double e = gm_rel(lg, lc, nl, l2);
    gc_report(e <= tol, "model %s %s: logits (%lld) rel. error %.3g (<= %.0e)", mc->name, prec,
              (long long)nl, e, tol);
    if ((status = model_zero_grads(gpu)) < 0 ||
        (status = model_forward_backward(gpu, &t.b, t.labels, 1.0f, &loss_g)) < 0 ||
        (status = model_buffer_read(gpu, MODEL_BUF_GRADS, ggpu)) < 0)
        goto fail;
    e = fabs(loss_g - loss_c) / fabs(loss_c);
    gc_report(e <= tol, "model %s %s: loss %.6f vs CPU %.6f (rel. %.3g)", mc->name, prec, loss_g,
              loss_c, e);
    const char *worst_name;
    const double worst = gm_worst_param(tab, ggpu, gcpu, l2, &worst_name);
    snprintf(what, sizeof what, "model %s %s: every gradient (%d tensors) within %.0e, worst %s "
             "%.3g", mc->name, prec, tab->n, tol, worst_name, worst);
    gc_report(worst <= tol, "%s", what);
    // the host-dlogits backward of the GPU gives the training step's gradients
    if (salt == 1) {
        memset(dl, 0, (size_t)nl * 4);
        double l;
        if ((status = model_zero_grads(gpu)) < 0 ||
            (status = model_forward(gpu, &t.b, lg, 1)) < 0 ||
            (status = model_loss(gpu, &t.b, lg, t.labels, &l, NULL, dl, 1.0f)) < 0 ||
            (status = model_backward(gpu, &t.b, dl)) < 0 ||
            (status = model_buffer_read(gpu, MODEL_BUF_GRADS, pg)) < 0)
            goto fail;
        e = gm_rel(pg, ggpu, P, 1);
        gc_report(e <= 1e-5, "model %s %s: model_backward(host dlogits) = the device step's "
                  "gradients (rel. %.3g)", mc->name, prec, e);
    }
    goto done;
fail:
    gc_report(0, "model %s %s: %s", mc->name, prec, ls_error_message());
done:
    model_free(cpu);
    model_free(gpu);
    mg_batch_free(&t);
    free(lc), free(lg), free(dl), free(pc), free(pg), free(gcpu), free(ggpu);
}

static MgCase *mg_cases(int *n) {
    static MgCase cases[8];
    int k = 0;
    cases[k++] = (MgCase){"mamba classify tokens", mg_cfg(MODEL_MAMBA, MODEL_TASK_CLASSIFY,
                                                         MODEL_INPUT_TOKENS), 2, 37, 2 * 16};
    cases[k++] = (MgCase){"mamba lm tokens", mg_cfg(MODEL_MAMBA, MODEL_TASK_LM,
                                                    MODEL_INPUT_TOKENS), 2, 37, 2 * 16};
    MgCase rc = {"bimamba classify rc", mg_cfg(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY,
                                               MODEL_INPUT_TOKENS), 2, 37, 4 * 16};
    rc.cfg.rc_equivariant = 1;
    cases[k++] = rc;
    MgCase wav = {"bimamba classify waveform", mg_cfg(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY,
                                                      MODEL_INPUT_WAVEFORM), 2, 150, 2 * 16};
    wav.cfg.norm = MODEL_NORM_LAYER;
    cases[k++] = wav;
    MgCase tc = {"transformer classify", mg_cfg(MODEL_TRANSFORMER, MODEL_TASK_CLASSIFY,
                                                MODEL_INPUT_TOKENS), 2, 37, 0};
    tc.cfg.window = 64;
    cases[k++] = tc;
    MgCase tl = {"transformer lm", mg_cfg(MODEL_TRANSFORMER, MODEL_TASK_LM, MODEL_INPUT_TOKENS),
                 2, 37, 0};
    tl.cfg.window = 64;
    cases[k++] = tl;
    MgCase hy = {"hybrid lm", mg_cfg(MODEL_HYBRID, MODEL_TASK_LM, MODEL_INPUT_TOKENS), 2, 37,
                 2 * 16};
    hy.cfg.n_layers = 3;
    if (model_config_set_attn_every(&hy.cfg, 3) < 0) hy.cfg.n_layers = 0; // (reported at init)
    cases[k++] = hy;
    MgCase hc = {"hybrid classify last", mg_cfg(MODEL_HYBRID, MODEL_TASK_CLASSIFY,
                                                MODEL_INPUT_TOKENS), 2, 37, 2 * 16};
    hc.cfg.n_layers = 3;
    hc.cfg.pool = MODEL_POOL_LAST;
    if (model_config_set_attn_every(&hc.cfg, 3) < 0) hc.cfg.n_layers = 0;
    cases[k++] = hc;
    *n = k;
    return cases;
}

// Streaming and generation on the GPU (the state carried on the device): two segments and a
// final recurrent step give the logits of one forward over the whole rows.
static void stream_case(DType act) {
    const char *prec = dtype_name(act);
    enum { B = 2, L = 40, S1 = 24 };
    ModelConfig cfg = mg_cfg(MODEL_MAMBA, MODEL_TASK_LM, MODEL_INPUT_TOKENS);
    const int64_t V = cfg.vocab;
    Model *m = NULL;
    GcRng r = gc_rng(555);
    uint8_t tok[B * L], seg1[B * S1], seg2[B * (L - 1 - S1)], last[B];
    for (int i = 0; i < B * L; i++) tok[i] = (uint8_t)(gc_next(&r) % (uint64_t)V);
    for (int b = 0; b < B; b++) {
        memcpy(seg1 + b * S1, tok + b * L, S1);
        memcpy(seg2 + b * (L - 1 - S1), tok + b * L + S1, L - 1 - S1);
        last[b] = tok[b * L + L - 1];
    }
    float *full = gc_host(B * L * V), *l1 = gc_host(B * S1 * V);
    float *l2 = gc_host(B * (L - 1 - S1) * V), *lg = gc_host(B * V);
    float *want = gc_host(B * L * V), *got = gc_host(B * L * V);
    const ModelBatch whole = {.B = B, .L = L, .tokens = tok};
    const ModelBatch b1 = {.B = B, .L = S1, .tokens = seg1};
    const ModelBatch b2 = {.B = B, .L = L - 1 - S1, .tokens = seg2};
    int status = model_init(&m, &cfg, &mg_gpu, 9);
    if (status == 0) status = model_set_precision(m, act);
    if (status == 0) status = model_forward(m, &whole, full, 0);
    if (status == 0) status = model_stream_reset(m, B);
    if (status == 0) status = model_stream_forward(m, &b1, l1);
    if (status == 0) status = model_stream_forward(m, &b2, l2);
    if (status == 0) status = model_generate_step(m, last, lg);
    if (status < 0) {
        gc_report(0, "model stream %s: %s", prec, ls_error_message());
        goto done;
    }
    int64_t k = 0; // the streamed logits in (b, t) order, next to the full forward's
    for (int b = 0; b < B; b++)
        for (int t = 0; t < L; t++, k++) {
            const float *src = t < S1              ? l1 + ((int64_t)b * S1 + t) * V
                               : t < L - 1         ? l2 + ((int64_t)b * (L - 1 - S1) + t - S1) * V
                                                   : lg + (int64_t)b * V;
            memcpy(got + k * V, src, (size_t)V * 4);
            memcpy(want + k * V, full + k * V, (size_t)V * 4);
        }
    const double tol = act == DTYPE_F32 ? 1e-4 : 3e-2;
    double e = gm_rel(got, want, B * L * V, act != DTYPE_F32);
    gc_report(e <= tol, "model stream %s: two segments and a generation step on the GPU give "
              "the one-pass logits (rel. %.3g <= %.0e)", prec, e, tol);
done:
    model_free(m);
    free(full), free(l1), free(l2), free(lg), free(want), free(got);
}

void gpu_model(void) {
    int n;
    MgCase *cases = mg_cases(&n);
    for (int i = 0; i < n; i++) model_case(&cases[i], DTYPE_F32, (uint64_t)i + 1);
    for (int i = 0; i < n; i++) model_case(&cases[i], DTYPE_BF16, (uint64_t)i + 101);
    stream_case(DTYPE_F32);
    stream_case(DTYPE_BF16);
}

// ------------------------------------------------------------------------------ suite: train

#define MG_STEPS 50

// A learnable batch: LM rows repeat a short random motif (with noise); the classifier's label
// is the most frequent of the first three tokens.
static void train_batch(MgBatch *t, const ModelConfig *c, GcRng *r, int64_t B, int64_t L) {
    mg_batch(t, c, r, B, L);
    for (int64_t b = 0; b < B; b++) {
        uint8_t motif[5];
        for (int k = 0; k < 5; k++) motif[k] = (uint8_t)(gc_next(r) % (uint64_t)c->vocab);
        int64_t count[3] = {0, 0, 0};
        for (int64_t i = 0; i < L; i++) {
            uint8_t v = gc_next(r) % 8 == 0 ? (uint8_t)(gc_next(r) % (uint64_t)c->vocab)
                                            : motif[i % 5];
            t->tokens[b * L + i] = v;
            if (v < 3 && i < t->lengths[b]) count[v]++;
        }
        t->labels[b] = count[1] > count[0] ? (count[2] > count[1] ? 2 : 1)
                                           : (count[2] > count[0] ? 2 : 0);
    }
}

// MG_STEPS steps on @p m over the batches; losses into @p losses.
static int train_run(Model *m, MgBatch *batches, int nb, double *losses) {
    const AdamWConfig adamw = {0.9, 0.999, 1e-8, 0.01};
    for (int s = 0; s < MG_STEPS; s++) {
        MgBatch *t = &batches[s % nb];
        double norm = 0;
        int status = model_zero_grads(m);
        if (status == 0)
            status = model_forward_backward(m, &t->b, t->labels, 1.0f, &losses[s]);
        if (status == 0) status = model_grad_norm(m, &norm);
        if (status < 0) return status;
        const float scale = optim_clip_scale(norm, 1.0);
        const double lr = optim_lr_schedule(s + 1, 5, MG_STEPS, 3e-3, 3e-4);
        if ((status = model_adamw_step(m, &adamw, s + 1, lr, scale)) < 0) return status;
    }
    return 0;
}

static int file_bytes(const char *path, unsigned char **out, size_t *n) {
    FILE *f = fopen(path, "rb");
    *out = NULL, *n = 0;
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    *out = (unsigned char *)malloc(len > 0 ? (size_t)len : 1);
    *n = *out && fread(*out, 1, (size_t)len, f) == (size_t)len ? (size_t)len : 0;
    fclose(f);
    return *n ? 0 : -1;
}

static void train_case(const char *name, ModelConfig cfg, DType act, uint64_t salt) {
    const char *prec = dtype_name(act);
    enum { NB = 4 };
    MgBatch batches[NB];
    GcRng r = gc_rng(salt);
    for (int i = 0; i < NB; i++) train_batch(&batches[i], &cfg, &r, 2, 96);
    double cpu_loss[MG_STEPS], gpu_loss[MG_STEPS], gpu_loss2[MG_STEPS];
    Model *cpu = NULL, *gpu = NULL, *gpu2 = NULL, *back = NULL;
    char dir[] = "/tmp/ls_model_gpu_XXXXXX", p1[96], p2[96];
    unsigned char *b1 = NULL, *b2 = NULL;
    size_t n1 = 0, n2 = 0;
    float *lg = NULL, *lb = NULL;
    int status = mkdtemp(dir) ? 0 : ls_error(LS_ERR_IO, "mkdtemp failed");
    snprintf(p1, sizeof p1, "%s/a.safetensors", dir);
    snprintf(p2, sizeof p2, "%s/b.safetensors", dir);
    if (status == 0) status = model_init(&cpu, &cfg, &mg_cpu, 5);
    if (status == 0) status = model_init(&gpu, &cfg, &mg_gpu, 5);
    if (status == 0) status = model_init(&gpu2, &cfg, &mg_gpu, 5);
    if (status == 0) status = model_set_precision(gpu, act);
    if (status == 0) status = model_set_precision(gpu2, act);
    if (status == 0 && act == DTYPE_F32) status = train_run(cpu, batches, NB, cpu_loss);
    if (status == 0) status = train_run(gpu, batches, NB, gpu_loss);
    if (status == 0) status = train_run(gpu2, batches, NB, gpu_loss2);
    if (status < 0) goto fail;
    if (act == DTYPE_F32) {
        double worst = 0;
        int at = 0;
        for (int s = 0; s < MG_STEPS; s++) {
            double e = fabs(gpu_loss[s] - cpu_loss[s]) / fmax(1.0, fabs(cpu_loss[s]));
            if (!(e <= worst)) worst = e, at = s;
        }
        gc_report(worst <= 1e-3, "train %s %s: %d-step loss curve within 1e-3 of the CPU's "
                  "(worst %.3g at step %d; first %.4f, last %.4f vs %.4f)", name, prec, MG_STEPS,
                  worst, at + 1, gpu_loss[0], gpu_loss[MG_STEPS - 1], cpu_loss[MG_STEPS - 1]);
    } else { // bf16 against the CPU's fp32 curve, trained here
        if ((status = train_run(cpu, batches, NB, cpu_loss)) < 0) goto fail;
        double worst = 0;
        int at = 0;
        for (int s = 0; s < MG_STEPS; s++) {
            double e = fabs(gpu_loss[s] - cpu_loss[s]) / fabs(cpu_loss[s]);
            if (!(e <= worst)) worst = e, at = s;
        }
        gc_report(worst <= 2e-2, "train %s %s: %d-step loss curve within 2 %% of the CPU's fp32 "
                  "(worst %.3g at step %d; last %.4f vs %.4f)", name, prec, MG_STEPS, worst,
                  at + 1, gpu_loss[MG_STEPS - 1], cpu_loss[MG_STEPS - 1]);
    }
    gc_report(cpu_loss[MG_STEPS - 1] < cpu_loss[0], "train %s %s: the loss falls (%.4f → %.4f)",
              name, prec, cpu_loss[0], cpu_loss[MG_STEPS - 1]);
    if ((status = model_save(gpu, p1, 0, NULL, NULL)) < 0 ||
        (status = model_save(gpu2, p2, 0, NULL, NULL)) < 0)
        goto fail;
    int same = file_bytes(p1, &b1, &n1) == 0 && file_bytes(p2, &b2, &n2) == 0 && n1 == n2 &&
               memcmp(b1, b2, n1) == 0 && memcmp(gpu_loss, gpu_loss2, sizeof gpu_loss) == 0;
    gc_report(same, "train %s %s: two GPU runs give identical losses and checkpoints (%zu "
              "bytes, cmp)", name, prec, n1);
    // the GPU-trained checkpoint on the CPU
    if ((status = model_load(&back, p1, &mg_cpu)) < 0) goto fail;
    const int64_t nl = mg_logits_numel(gpu, &batches[0].b);
    lg = gc_host(nl), lb = gc_host(nl);
    if ((status = model_set_precision(gpu, DTYPE_F32)) < 0 ||
        (status = model_forward(gpu, &batches[0].b, lg, 0)) < 0 ||
        (status = model_forward(back, &batches[0].b, lb, 0)) < 0)
        goto fail;
    double e = gm_rel(lb, lg, nl, 0);
    gc_report(e <= 1e-4, "train %s %s: the GPU-trained checkpoint evaluated on the CPU gives "
              "the GPU's fp32 logits (rel. %.3g)", name, prec, e);
    goto done;
fail:
    gc_report(0, "train %s %s: %s", name, prec, ls_error_message());
done:
    unlink(p1), unlink(p2), rmdir(dir);
    free(b1), free(b2), free(lg), free(lb);
    model_free(cpu), model_free(gpu), model_free(gpu2), model_free(back);
    for (int i = 0; i < NB; i++) mg_batch_free(&batches[i]);
}

void gpu_model_train(void) {
    ModelConfig lm = mg_cfg(MODEL_MAMBA, MODEL_TASK_LM, MODEL_INPUT_TOKENS);
    ModelConfig cls = mg_cfg(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY, MODEL_INPUT_TOKENS);
    train_case("mamba lm", lm, DTYPE_F32, 7);
    train_case("bimamba classify", cls, DTYPE_F32, 8);
    train_case("mamba lm", lm, DTYPE_BF16, 7);
    train_case("bimamba classify", cls, DTYPE_BF16, 8);
}
