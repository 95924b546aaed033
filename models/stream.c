/*
 * stream.c — streaming and generation for the causal Mamba (model.h): a sequence goes
 * through in segments, each layer's conv state (B, E, K−1) and scan state (B, E, N) carried
 * from one segment to the next exactly as the tiles of one forward carry them, so the result
 * equals one pass; generation feeds one token per row through conv_step / scan_step, which
 * share the forward's arithmetic. Memory: the states (n_layers · B · E · (K−1+N) floats) plus
 * the activations of one segment.
 *
 * Tested by tests/unit/test_model.c (two and three segments ≡ one pass, token-by-token
 * generation ≡ the full forward's logits, classification with pool LAST).
 */
#include <string.h>

#include "models/model_internal.h"

// LM logits of the planned positions into host memory: directly on the CPU, through the
// plan's buffer on the GPU.
static int lm_logits(Model *m, float *logits) {
    Plan *p = &m->plan;
    if (m->dev.kind == DEVICE_CPU) return model_head_fwd(m, p->R, p->aux, logits, NULL);
    int status = model_head_fwd(m, p->R, p->aux, p->logits, NULL);
    if (status < 0) return status;
    return ops_download(&m->dev, logits, p->logits,
                        (size_t)(p->logits_rows * m->cfg.vocab) * sizeof(float));
}

static int stream_supported(const Model *m) {
    const ModelConfig *c = &m->cfg;
    if (c->arch == MODEL_HYBRID || c->arch == MODEL_TRANSFORMER)
        return ls_error(LS_ERR_UNSUPPORTED,
                        "streaming: --arch %s cannot stream: its attention layers would need "
                        "a key/value cache, which longscan does not have (the causal mamba "
                        "streams)", model_arch_name(c->arch));
    if (c->arch != MODEL_MAMBA)
        return ls_error(LS_ERR_UNSUPPORTED,
                        "streaming: --arch %s cannot stream (the causal "
                        "mamba can)",
                        model_arch_name(c->arch));
    if (c->task == MODEL_TASK_CLASSIFY && c->pool != MODEL_POOL_LAST)
        return ls_error(LS_ERR_UNSUPPORTED, "streaming: a classifier streams only with --pool "
                                            "last (the last position's state)");
    return 0;
}

int model_stream_reset(Model *m, int64_t B) {
    int status = stream_supported(m);
    if (status < 0) return status;
    if (B < 1 || B > (INT64_C(1) << 31))
        return ls_error(LS_ERR_USAGE, "model_stream_reset: B = %lld", (long long)B);
    m->train_ready = 0;
    const int64_t per_layer = model_stream_layer_floats(m, B);
    if (B != m->stream_B) {
        ops_free(&m->dev, m->stream_state);
        ops_free(&m->dev, m->stream_last);
        ops_free(&m->dev, m->stream_logits);
        m->stream_state = m->stream_last = m->stream_logits = NULL;
        m->stream_B = 0;
        status = ops_alloc(&m->dev, (void **)&m->stream_state,
                           (size_t)(per_layer * m->cfg.n_layers) * sizeof(float), "stream state");
        if (status == 0)
            status = ops_alloc(&m->dev, (void **)&m->stream_last,
                               (size_t)(B * m->D) * sizeof(float), "stream state");
        if (status == 0 && m->dev.kind != DEVICE_CPU && m->cfg.task == MODEL_TASK_CLASSIFY)
            status = ops_alloc(&m->dev, (void **)&m->stream_logits,
                               (size_t)(B * m->cfg.n_classes) * sizeof(float), "stream logits");
        if (status < 0) return status;
        m->stream_B = B;
    }
    m->stream_started = 0;
    return ops_zero(&m->dev, DTYPE_F32, m->stream_state, per_layer * m->cfg.n_layers);
}

int model_stream_forward(Model *m, const ModelBatch *seg, float *logits) {
    if (!m->stream_B)
        return ls_error(LS_ERR_USAGE, "model_stream_forward: model_stream_reset first");
    int64_t L;
    int status = model_batch_check(m, seg, &L);
    if (status < 0) return status;
    if (seg->B != m->stream_B)
        return ls_error(LS_ERR_USAGE,
                        "model_stream_forward: segment has %lld rows, the stream %lld",
                        (long long)seg->B, (long long)m->stream_B);
    for (int64_t b = 0; seg->lengths && b < seg->B; b++)
        if (seg->lengths[b] != seg->L)
            return ls_error(LS_ERR_USAGE,
                            "model_stream_forward: row %lld has %lld of %lld "
                            "positions; every row of a segment must be full",
                            (long long)b, (long long)seg->lengths[b], (long long)seg->L);
    if (m->cfg.task == MODEL_TASK_LM && !logits)
        return ls_error(LS_ERR_USAGE, "model_stream_forward: logits is NULL");
    m->train_ready = 0;
    m->sel_rows = -1; // streaming computes every position's logits
    m->plan_logits = m->cfg.task == MODEL_TASK_LM;
    if ((status = model_plan(m, seg->B, L, seg->L, 0)) < 0) return status;
    if ((status = model_batch_lengths(m, seg)) < 0) return status;
    Plan *p = &m->plan;
    const int64_t per_layer = model_stream_layer_floats(m, seg->B);
    status = model_input_fwd(m, seg, p->R);
    if (status == 0) status = mamba_prepare_A(m);
    for (int i = 0; i < m->cfg.n_layers && status == 0; i++)
        status = mamba_layer_fwd(m, i, p->R, p->R, m->stream_state + i * per_layer);
    if (status < 0) return status;
    if (m->cfg.task == MODEL_TASK_LM) return lm_logits(m, logits);
    status = model_head_fwd(m, p->R, p->aux, NULL, m->stream_last); // pool LAST
    if (status == 0) m->stream_started = 1;
    return status;
}

int model_stream_logits(Model *m, float *logits) {
    if (m->cfg.task != MODEL_TASK_CLASSIFY)
        return ls_error(LS_ERR_USAGE, "model_stream_logits: the model is not a classifier");
    if (!m->stream_B || !m->stream_started)
        return ls_error(LS_ERR_USAGE, "model_stream_logits: no segment streamed yet");
    const int64_t C = m->cfg.n_classes;
    float *out = m->dev.kind == DEVICE_CPU ? logits : m->stream_logits;
    int status = ops_matmul_fwd(&m->dev, DTYPE_F32, out, m->stream_last, model_p(m, m->idx_cls_w),
                                model_p(m, m->idx_cls_b), m->stream_B, m->D, C, m->D, C);
    if (status < 0 || out == logits) return status;
    return ops_download(&m->dev, logits, out, (size_t)(m->stream_B * C) * sizeof(float));
}

int model_generate_step(Model *m, const uint8_t *tokens, float *logits) {
    if (m->cfg.arch != MODEL_MAMBA || m->cfg.task != MODEL_TASK_LM)
        return ls_error(LS_ERR_UNSUPPORTED, "generation needs a causal mamba language model");
    if (!m->stream_B)
        return ls_error(LS_ERR_USAGE, "model_generate_step: model_stream_reset first");
    const int64_t B = m->stream_B;
    ModelBatch one = {.B = B, .L = 1, .tokens = tokens, .lengths = NULL};
    int64_t L;
    int status = model_batch_check(m, &one, &L);
    if (status < 0) return status;
    m->train_ready = 0;
    m->sel_rows = -1;
    m->plan_logits = 1;
    if ((status = model_plan(m, B, 1, 1, 0)) < 0) return status;
    if ((status = model_batch_lengths(m, &one)) < 0) return status;
    Plan *p = &m->plan;
    const int64_t per_layer = model_stream_layer_floats(m, B);
    status = model_input_fwd(m, &one, p->R); // (B, 1, D) = (B, D)
    if (status == 0) status = mamba_prepare_A(m);
    for (int i = 0; i < m->cfg.n_layers && status == 0; i++)
        status = mamba_layer_step(m, i, p->R, m->stream_state + i * per_layer);
    if (status == 0) status = lm_logits(m, logits);
    return status;
}
