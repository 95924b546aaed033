/*
 * model_pack_gpu.c — packed batches on the GPU (suite model_pack of tests/gpu/test_gpu.c;
 * the CPU's own check is tests/unit/test_model_pack.c, docs/models.md "Packed batches").
 *
 * Seven sequences of different lengths (one of length 1) run padded (one per row) and packed
 * (several per row, end to end, rows of 128 positions) with Mamba tiles lowered so that
 * sequence starts fall inside tiles: causal Mamba classifier and LM, BiMamba classifier
 * (LayerNorm, last-position pooling), the RC-equivariant BiMamba and a waveform BiMamba. Each
 * case checks, in fp32 and bf16:
 *   - GPU packed against the CPU packed (the specification): logits, loss of the device
 *     training step, every gradient tensor. fp32: max|gpu − cpu| ≤ 1e-4 · max|cpu| per tensor;
 *     bf16: ‖gpu − cpu‖₂ ≤ 3e-2 · ‖cpu‖₂ (the model suite's rules);
 *   - GPU packed against the GPU padded: the same tolerances (packing changes which positions
 *     share a tile, a GEMM and a scan chunk, so only rounding differs).
 * Numbers are printed in each TAP line.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"
#include "models/model_internal.h"
#include "tests/gpu/gpu_check.h"
#include "tests/gpu/model_check.h"

static const Device mp_cpu = {DEVICE_CPU, 0}, mp_gpu = {DEVICE_CUDA, 0};

#define MP_SEQS 7
#define MP_ROWS 3
static const int64_t mp_len[MP_SEQS] = {37, 1, 20, 64, 5, 90, 13}; // positions
static const int64_t mp_rows[MP_ROWS] = {3, 2, 2};                 // 58, 69, 103 of 128
#define MP_L 128

typedef struct {
    int64_t n[MP_SEQS], row_seqs[MP_ROWS];
    int32_t labels[MP_SEQS];
    int64_t Lp, Lk, at[MP_SEQS], row_of[MP_SEQS];
    uint8_t *pad_tokens, *pk_tokens;
    float *pad_samples, *pk_samples;
    ModelBatch pad, packed;
} MpPair;

// Padding holds garbage the model must never read (token 0xff is outside every vocabulary).
static void mp_pair(MpPair *p, const ModelConfig *c, GcRng *r) {
    const int wave = c->input == MODEL_INPUT_WAVEFORM;
    const int64_t F = wave ? c->frame : 1;
    memset(p, 0, sizeof *p);
    for (int k = 0; k < MP_SEQS; k++) {
        // waveform: a sequence of mp_len positions ends inside its last frame
        p->n[k] = wave ? mp_len[k] * F - (int64_t)(gc_next(r) % (uint64_t)F) : mp_len[k];
        p->labels[k] = (int32_t)(gc_next(r) % (uint64_t)c->n_classes);
        if (p->n[k] > p->Lp) p->Lp = p->n[k];
    }
    p->Lk = MP_L * F;
    const size_t pad_n = (size_t)p->Lp * MP_SEQS, pk_n = (size_t)p->Lk * MP_ROWS;
    p->pad_tokens = (uint8_t *)malloc((size_t)(MP_SEQS * p->Lp));
    p->pk_tokens = (uint8_t *)malloc((size_t)(MP_ROWS * p->Lk));
    p->pad_samples = gc_host(MP_SEQS * p->Lp);
    p->pk_samples = gc_host(MP_ROWS * p->Lk);
    memset(p->pad_tokens, 0xff, pad_n);
    memset(p->pk_tokens, 0xff, pk_n);
    for (int64_t i = 0; i < MP_SEQS * p->Lp; i++)
        p->pad_samples[i] = 1e30f;
    for (int64_t i = 0; i < MP_ROWS * p->Lk; i++)
        p->pk_samples[i] = 1e30f;
    for (int64_t b = 0, k = 0; b < MP_ROWS; b++) {
        int64_t pos = 0;
        p->row_seqs[b] = mp_rows[b];
        for (int64_t j = 0; j < mp_rows[b]; j++, k++) {
            p->at[k] = pos, p->row_of[k] = b;
            for (int64_t i = 0; i < p->n[k]; i++) {
                const uint8_t tok = (uint8_t)(gc_next(r) % (uint64_t)c->vocab);
                const float x = gc_uniform(r, -1, 1);
                p->pad_tokens[k * p->Lp + i] = p->pk_tokens[b * p->Lk + pos * F + i] = tok;
                p->pad_samples[k * p->Lp + i] = p->pk_samples[b * p->Lk + pos * F + i] = x;
            }
            pos += mp_len[k];
        }
    }
    p->pad = (ModelBatch){.B = MP_SEQS, .L = p->Lp, .lengths = p->n};
    p->packed =
        (ModelBatch){.B = MP_ROWS, .L = p->Lk, .row_seqs = p->row_seqs, .seq_lengths = p->n};
    if (wave)
        p->pad.samples = p->pad_samples, p->packed.samples = p->pk_samples;
    else
        p->pad.tokens = p->pad_tokens, p->packed.tokens = p->pk_tokens;
}

static void mp_pair_free(MpPair *p) {
    free(p->pad_tokens), free(p->pk_tokens), free(p->pad_samples), free(p->pk_samples);
}

// Logits in the padded layout (LM: sequence k's positions of the packed rows, row k).
static void mp_unpack_lm(const MpPair *p, const float *packed, float *out, int64_t V) {
    memset(out, 0, (size_t)(MP_SEQS * p->Lp * V) * sizeof(float));
    for (int k = 0; k < MP_SEQS; k++)
        memcpy(out + k * p->Lp * V, packed + (p->row_of[k] * p->Lk + p->at[k]) * V,
               (size_t)(p->n[k] * V) * sizeof(float));
}

/* One forward and one training step; logits (padded layout), loss and gradients out. */
static int mp_run(Model *m, const MpPair *p, int packed, int64_t tile_rows, float *logits,
                  double *loss, float *grads) {
    const ModelConfig *c = model_config(m);
    const ModelBatch *b = packed ? &p->packed : &p->pad;
    const int lm = c->task == MODEL_TASK_LM;
    const int64_t V = lm ? c->vocab : c->n_classes;
    m->tile_rows = tile_rows;
    float *raw = gc_host(model_output_rows(m, b) * V);
    int status = model_forward(m, b, raw, 0);
    if (status == 0) {
        if (lm && packed)
            mp_unpack_lm(p, raw, logits, V);
        else
            memcpy(logits, raw, (size_t)(model_output_rows(m, b) * V) * sizeof(float));
    }
    if (status == 0) status = model_zero_grads(m);
    if (status == 0) status = model_forward_backward(m, b, p->labels, 1.0f, loss);
    if (status == 0) status = model_buffer_read(m, MODEL_BUF_GRADS, grads);
    free(raw);
    return status;
}

static void pack_case(const char *name, ModelConfig cfg, DType act, uint64_t salt) {
    const char *prec = dtype_name(act);
    const int l2 = act != DTYPE_F32;
    const double tol = l2 ? 3e-2 : 1e-4;
    Model *cpu = NULL, *gpu = NULL;
    MpPair p;
    GcRng r = gc_rng(salt);
    mp_pair(&p, &cfg, &r);
    const int lm = cfg.task == MODEL_TASK_LM;
    const int64_t V = lm ? cfg.vocab : cfg.n_classes;
    const int64_t nl = lm ? MP_SEQS * p.Lp * V : MP_SEQS * V;
    const int64_t rows = MP_ROWS * (cfg.rc_equivariant ? 2 : 1);
    float *lc = gc_host(nl), *lk = gc_host(nl), *lp = gc_host(nl);
    float *gc = NULL, *gk = NULL, *gp = NULL;
    double loss_c, loss_k, loss_p;
    const char *wn;
    int status = model_init(&cpu, &cfg, &mp_cpu, 91 + salt);
    if (status == 0) status = model_init(&gpu, &cfg, &mp_gpu, 91 + salt);
    if (status == 0) status = model_set_precision(gpu, act);
    if (status < 0) goto fail;
    {
        const ParamTable *tab = model_param_table(cpu);
        gc = gc_host(tab->total), gk = gc_host(tab->total), gp = gc_host(tab->total);
        // packed rows in tiles of 40 positions (starts inside tiles), the padded at the default
        if ((status = mp_run(cpu, &p, 1, rows * 40, lc, &loss_c, gc)) < 0) goto fail;
        if ((status = mp_run(gpu, &p, 1, rows * 40, lk, &loss_k, gk)) < 0) goto fail;
        if ((status = mp_run(gpu, &p, 0, MODEL_TILE_ROWS_CUDA, lp, &loss_p, gp)) < 0) goto fail;
        double e = gm_rel(lk, lc, nl, l2);
        gc_report(e <= tol, "model_pack %s %s: GPU packed logits vs CPU packed: %.3g (<= %.0e)",
                  name, prec, e, tol);
        e = fabs(loss_k - loss_c) / fabs(loss_c);
        gc_report(e <= tol, "model_pack %s %s: GPU packed loss %.6f vs CPU packed %.6f (%.3g)",
                  name, prec, loss_k, loss_c, e);
        e = gm_worst_param(tab, gk, gc, l2, &wn);
        gc_report(e <= tol,
                  "model_pack %s %s: GPU packed gradients vs CPU packed: worst %s "
                  "%.3g",
                  name, prec, wn, e);
        e = gm_rel(lk, lp, nl, l2);
        gc_report(e <= tol, "model_pack %s %s: GPU packed logits vs GPU padded: %.3g", name, prec,
                  e);
        e = fabs(loss_k - loss_p) / fabs(loss_p);
        gc_report(e <= tol, "model_pack %s %s: GPU packed loss %.6f vs GPU padded %.6f (%.3g)",
                  name, prec, loss_k, loss_p, e);
        e = gm_worst_param(tab, gk, gp, l2, &wn);
        gc_report(e <= tol,
                  "model_pack %s %s: GPU packed gradients vs GPU padded: worst %s "
                  "%.3g",
                  name, prec, wn, e);
    }
    goto done;
fail:
    gc_report(0, "model_pack %s %s: %s", name, prec, ls_error_message());
done:
    model_free(cpu), model_free(gpu), mp_pair_free(&p);
    free(lc), free(lk), free(lp), free(gc), free(gk), free(gp);
}

static ModelConfig mp_cfg(ModelArch arch, ModelTask task) {
    ModelConfig c;
    model_config_default(&c, arch, task);
    c.d_model = 32;
    c.n_layers = 2;
    c.d_state = 8;
    c.n_classes = 3;
    c.vocab = task == MODEL_TASK_LM ? 7 : 5;
    c.frame = 4;
    return c;
}

void gpu_model_pack(void) {
    for (int a = 0; a < 2; a++) {
        const DType act = a ? DTYPE_BF16 : DTYPE_F32;
        pack_case("mamba classify", mp_cfg(MODEL_MAMBA, MODEL_TASK_CLASSIFY), act, 1);
        pack_case("mamba LM", mp_cfg(MODEL_MAMBA, MODEL_TASK_LM), act, 2);
        ModelConfig bi = mp_cfg(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY);
        bi.norm = MODEL_NORM_LAYER;
        bi.pool = MODEL_POOL_LAST;
        pack_case("bimamba classify (LayerNorm, last)", bi, act, 3);
        ModelConfig rc = mp_cfg(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY);
        rc.rc_equivariant = 1;
        pack_case("bimamba rc classify", rc, act, 4);
        ModelConfig wave = mp_cfg(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY);
        wave.input = MODEL_INPUT_WAVEFORM;
        pack_case("bimamba waveform classify", wave, act, 5);
    }
}
