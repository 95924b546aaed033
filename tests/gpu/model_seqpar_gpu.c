/*
 * model_seqpar_gpu.c — sequence parallel in the model on the GPU (suite model_seqpar of
 * tests/gpu/test_gpu.c; the CPU's own check is tests/unit/test_model_seqpar.c,
 * docs/parallel.md "The model"). One GPU simulates G slices through the in-process exchange.
 *
 * Rows of L = 1000 positions (no G below divides it), two rows, one shorter (padding); Mamba
 * tiles of 150 positions so that slices hold several tiles. Cases: causal Mamba classifier
 * and LM, BiMamba classifier, the RC-equivariant BiMamba, a packed LM batch. For G ∈ {3, 7},
 * in fp32 and bf16, each case checks:
 *   - GPU sliced against GPU whole (G = 1): logits, the device step's loss, every gradient
 *     tensor. fp32: max|sliced − whole| ≤ 1e-4 · max|whole| per tensor; bf16: ‖·‖₂ ratio ≤
 *     3e-2 (the model suite's rules; slicing regroups the scan's recurrence and the sums);
 *   - fp32 only: GPU sliced against CPU sliced (the specification), the same 1e-4.
 * It also exercises what the CPU test cannot: the CUDA scan and conv given stride-0 u and
 * dout views (the decay-product scan, the halo's backward). Numbers are in each TAP line.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"
#include "models/model_internal.h"
#include "tests/gpu/gpu_check.h"
#include "tests/gpu/model_check.h"

static const Device ms_cpu = {DEVICE_CPU, 0}, ms_gpu = {DEVICE_CUDA, 0};

#define MS_B 2
#define MS_L 1000
#define MS_TILE 150

typedef struct {
    float *logits, *grads;
    double loss;
} MsRun;

static int ms_run(Model *m, const ModelBatch *b, const int32_t *labels, int64_t G, MsRun *out) {
    int status = model_set_seq_slices(m, G);
    if (status == 0) status = model_set_tile_rows(m, MS_B * MS_TILE);
    if (status == 0) status = model_forward(m, b, out->logits, 0);
    if (status == 0) status = model_zero_grads(m);
    if (status == 0) status = model_forward_backward(m, b, labels, 1.0f, &out->loss);
    if (status == 0) status = model_buffer_read(m, MODEL_BUF_GRADS, out->grads);
    return status;
}

static void seqpar_case(const char *name, ModelConfig cfg, DType act, int packed, uint64_t salt) {
    const char *prec = dtype_name(act);
    const int l2 = act != DTYPE_F32;
    const double tol = l2 ? 3e-2 : 1e-4;
    GcRng r = gc_rng(salt);
    uint8_t *tokens = (uint8_t *)malloc(MS_B * MS_L);
    int64_t lengths[MS_B] = {MS_L, MS_L - 123};
    int64_t row_seqs[MS_B] = {3, 2}, seq_lengths[5] = {333, 1, 500, 334, 400};
    int32_t labels[5];
    for (int64_t i = 0; i < MS_B * MS_L; i++) tokens[i] = (uint8_t)(gc_next(&r) % 4);
    for (int64_t t = lengths[1]; t < MS_L; t++) tokens[MS_L + t] = 0xff; // never read
    for (int k = 0; k < 5; k++) labels[k] = (int32_t)(gc_next(&r) % (uint64_t)cfg.n_classes);
    ModelBatch b = {.B = MS_B, .L = MS_L, .tokens = tokens};
    if (packed)
        b.row_seqs = row_seqs, b.seq_lengths = seq_lengths;
    else
        b.lengths = lengths;
    Model *cpu = NULL, *gpu = NULL;
    MsRun whole = {0}, sliced = {0}, spec = {0};
    int status = model_init(&cpu, &cfg, &ms_cpu, 7 + salt);
    if (status == 0) status = model_init(&gpu, &cfg, &ms_gpu, 7 + salt);
    if (status == 0) status = model_set_precision(gpu, act);
    if (status < 0) goto fail;
    {
        const int64_t V = cfg.task == MODEL_TASK_LM ? cfg.vocab : cfg.n_classes;
        const int64_t nl = model_output_rows(gpu, &b) * V;
        const ParamTable *tab = model_param_table(gpu);
        MsRun *runs[3] = {&whole, &sliced, &spec};
        for (int i = 0; i < 3; i++)
            runs[i]->logits = gc_host(nl), runs[i]->grads = gc_host(tab->total);
        if ((status = ms_run(gpu, &b, labels, 1, &whole)) < 0) goto fail;
        static const int64_t Gs[2] = {3, 7};
        for (int gi = 0; gi < 2; gi++) {
            const int64_t G = Gs[gi];
            const char *wn;
            if ((status = ms_run(gpu, &b, labels, G, &sliced)) < 0) goto fail;
            double e = gm_rel(sliced.logits, whole.logits, nl, l2);
            gc_report(e <= tol, "model_seqpar %s %s G %lld: GPU sliced logits vs GPU whole: %.3g "
                      "(<= %.0e)", name, prec, (long long)G, e, tol);
            e = fabs(sliced.loss - whole.loss) / fmax(1.0, fabs(whole.loss));
            gc_report(e <= tol, "model_seqpar %s %s G %lld: loss %.6f vs whole %.6f (%.3g)", name,
                      prec, (long long)G, sliced.loss, whole.loss, e);
            e = gm_worst_param(tab, sliced.grads, whole.grads, l2, &wn);
            gc_report(e <= tol, "model_seqpar %s %s G %lld: gradients vs GPU whole: worst %s %.3g",
                      name, prec, (long long)G, wn, e);
            if (act != DTYPE_F32) continue;
            if ((status = ms_run(cpu, &b, labels, G, &spec)) < 0) goto fail;
            e = gm_rel(sliced.logits, spec.logits, nl, 0);
            gc_report(e <= tol, "model_seqpar %s fp32 G %lld: GPU sliced logits vs CPU sliced: "
                      "%.3g", name, (long long)G, e);
            e = gm_worst_param(tab, sliced.grads, spec.grads, 0, &wn);
            gc_report(e <= tol, "model_seqpar %s fp32 G %lld: gradients vs CPU sliced: worst %s "
                      "%.3g", name, (long long)G, wn, e);
        }
    }
fail:
    if (status < 0) gc_report(0, "model_seqpar %s %s: %s", name, prec, ls_error_message());
    model_free(cpu), model_free(gpu);
    free(whole.logits), free(whole.grads), free(sliced.logits), free(sliced.grads);
    free(spec.logits), free(spec.grads), free(tokens);
}

static ModelConfig ms_cfg(ModelArch arch, ModelTask task) {
    ModelConfig c;
    model_config_default(&c, arch, task);
    c.d_model = 32;
    c.n_layers = 2;
    c.vocab = 5;
    c.n_classes = 3;
    return c;
}

void gpu_model_seqpar(void) {
    for (int a = 0; a < 2; a++) {
        const DType act = a == 0 ? DTYPE_F32 : DTYPE_BF16;
        seqpar_case("mamba classify", ms_cfg(MODEL_MAMBA, MODEL_TASK_CLASSIFY), act, 0, 1);
        seqpar_case("mamba LM", ms_cfg(MODEL_MAMBA, MODEL_TASK_LM), act, 0, 2);
        seqpar_case("bimamba classify", ms_cfg(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY), act, 0, 3);
        ModelConfig rc = ms_cfg(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY);
        rc.rc_equivariant = 1;
        seqpar_case("bimamba rc", rc, act, 0, 4);
        seqpar_case("mamba LM packed", ms_cfg(MODEL_MAMBA, MODEL_TASK_LM), act, 1, 5);
    }
}
