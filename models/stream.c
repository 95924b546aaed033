/*
 * stream.c — streaming and generation for the causal models (model.h): a sequence goes
 * through in segments, the same result as one pass, and a generation feeds one token per row.
 *
 * What a layer carries from one segment (or token) to the next:
 *   Mamba layer      its conv state (B, E, K−1) and scan state (B, E, N), carried exactly as
 *                    the tiles of one forward carry them; constant size. A generation step
 *                    runs conv_step / scan_step, which share the forward's arithmetic.
 *   attention layer  a key/value cache (KvCache): the keys (after RoPE, at their sequence
 *                    positions) and values of every position so far, (B, positions, D) each,
 *                    so it grows by 2·D floats per position and row. A segment's queries
 *                    attend over the cache and their own keys (kernels/attention_kv.h). A
 *                    Transformer with a window W attends over the last W positions only (a
 *                    sliding window, as in Mistral): its cache keeps W − 1 positions between
 *                    segments, trimmed lazily (only once the older half can be dropped in
 *                    one non-overlapping copy), so it holds at most about 2·W + a segment.
 *                    Up to W positions this is exactly the Transformer's forward; past W it
 *                    is the sliding-window model (each layer sees W back, so the stack sees
 *                    further), which the whole-window forward never computes.
 * A hybrid carries both, by layer. Memory: the states, the caches and one segment's
 * activations.
 *
 * Tested by tests/unit/test_model.c (segments ≡ one pass, token-by-token ≡ the full forward,
 * cache sizes) and tests/unit/test_generate.c (teacher forcing of sampled sequences).
 */
#include <stdio.h>
#include <stdlib.h>
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
    if (c->arch == MODEL_BIMAMBA)
        return ls_error(LS_ERR_UNSUPPORTED,
                        "streaming: a bidirectional mamba cannot stream: its reverse direction "
                        "needs the whole sequence (it runs layer by layer instead; the causal "
                        "mamba, transformer and hybrid stream)");
    if (c->arch != MODEL_MAMBA && !c->causal)
        return ls_error(LS_ERR_UNSUPPORTED, "streaming: a %s with bidirectional attention "
                        "cannot stream (every position sees the whole sequence)",
                        model_arch_name(c->arch));
    return 0;
}

static int64_t mamba_layers(const Model *m) {
    return m->cfg.n_layers - model_attention_layers(&m->cfg);
}

// Layer i's conv + scan state: the states of the Mamba layers are packed, attention layers
// have none.
static float *layer_state(Model *m, int i) {
    int64_t k = 0;
    for (int j = 0; j < i; j++) k += !model_layer_is_attention(&m->cfg, j);
    return m->stream_state + k * model_stream_layer_floats(m, m->stream_B);
}

static void kv_free(Model *m, KvCache *c) {
    ops_free(&m->dev, c->k);
    ops_free(&m->dev, c->v);
    *c = (KvCache){0};
}

static void gen_free(Model *m) {
    ops_free(&m->dev, m->gen_cur);
    ops_free(&m->dev, m->gen_out);
    ops_free(&m->dev, m->gen_rng);
    ops_free(&m->dev, m->gen_err);
    free(m->gen_host);
    device_cuda_graph_free(m->gen_graph);
    m->gen_cur = m->gen_out = m->gen_host = NULL;
    m->gen_rng = m->gen_err = NULL;
    m->gen_graph = m->gen_graph_arena = NULL;
    m->gen_B = m->gen_cols = 0;
    m->gen_graph_state = 0;
    m->gen_fused = 0;
}

void model_stream_free(Model *m) {
    gen_free(m);
    ops_free(&m->dev, m->stream_state);
    ops_free(&m->dev, m->stream_last);
    ops_free(&m->dev, m->stream_sum);
    ops_free(&m->dev, m->stream_first);
    ops_free(&m->dev, m->stream_pooled);
    ops_free(&m->dev, m->stream_logits);
    m->stream_state = m->stream_last = m->stream_first = m->stream_pooled = NULL;
    m->stream_logits = NULL;
    m->stream_sum = NULL;
    for (int i = 0; m->kv && i < m->cfg.n_layers; i++) kv_free(m, &m->kv[i]);
    free(m->kv);
    m->kv = NULL;
    m->stream_B = 0;
}

// Reallocate a cache for @p cap positions per row, keeping what it holds.
static int kv_grow(Model *m, KvCache *c, int64_t cap) {
    const int64_t B = m->stream_B, D = m->D;
    const DType t = m->act; // the cache holds the block's k and v as they are stored
    const size_t bytes = (size_t)(B * cap * D) * dtype_size(t);
    KvCache n = *c;
    n.k = n.v = NULL;
    int status = ops_alloc(&m->dev, (void **)&n.k, bytes, "key/value cache");
    if (status == 0) status = ops_alloc(&m->dev, (void **)&n.v, bytes, "key/value cache");
    if (status == 0 && c->len > 0) {
        status = ops_copy_blocks(&m->dev, t, n.k, cap * D, D, c->k, c->cap * D, D, B, c->len, D);
        if (status == 0)
            status = ops_copy_blocks(&m->dev, t, n.v, cap * D, D, c->v, c->cap * D, D, B, c->len,
                                     D);
    }
    if (status < 0) {
        ops_free(&m->dev, n.k);
        ops_free(&m->dev, n.v);
        ls_error(status, "key/value cache: out of memory for %lld positions x %lld rows "
                 "(%.1f MiB per attention layer; generate or stream less)", (long long)cap,
                 (long long)B, 2.0 * (double)bytes / 1048576.0);
        return status;
    }
    kv_free(m, c);
    n.cap = cap;
    *c = n;
    return 0;
}

// Room for @p L more positions: drop what a sliding window no longer sees, then grow.
static int kv_make_room(Model *m, KvCache *c, int64_t L) {
    if (c->len + L <= c->cap) return 0;
    const int64_t W = m->cfg.arch == MODEL_TRANSFORMER ? m->cfg.window : 0;
    if (W > 0) {
        const int64_t keep = W - 1; // the next position sees these W − 1 and itself
        if (c->len >= 2 * keep) {   // source and destination do not overlap
            const int64_t B = m->stream_B, D = m->D, drop = c->len - keep;
            int status = 0;
            if (keep > 0) {
                status = ops_copy_blocks(&m->dev, m->act, c->k, c->cap * D, D,
                                         model_at(m, c->k, drop * D), c->cap * D, D, B, keep, D);
                if (status == 0)
                    status = ops_copy_blocks(&m->dev, m->act, c->v, c->cap * D, D,
                                             model_at(m, c->v, drop * D), c->cap * D, D, B, keep,
                                             D);
            }
            if (status < 0) return status;
            c->pos0 += drop;
            c->len = keep;
        }
    }
    if (c->len + L <= c->cap) return 0;
    int64_t cap = 2 * c->cap > c->len + L ? 2 * c->cap : c->len + L;
    return kv_grow(m, c, cap);
}

int model_stream_reset(Model *m, int64_t B) {
    int status = stream_supported(m);
    if (status < 0) return status;
    if (B < 1 || B > (INT64_C(1) << 31))
        return ls_error(LS_ERR_USAGE, "model_stream_reset: B = %lld", (long long)B);
    m->train_ready = 0;
    if (B != m->stream_B) {
        model_stream_free(m);
        const int64_t floats = model_stream_layer_floats(m, B) * mamba_layers(m);
        m->kv = calloc((size_t)m->cfg.n_layers, sizeof *m->kv);
        if (!m->kv) return ls_error(LS_ERR_NOMEM, "stream state: out of memory");
        status = ops_alloc(&m->dev, (void **)&m->stream_state,
                           (size_t)(floats > 0 ? floats : 1) * sizeof(float), "stream state");
        const size_t row_bytes = (size_t)(B * m->D) * sizeof(float);
        if (status == 0)
            status = ops_alloc(&m->dev, (void **)&m->stream_last, row_bytes, "stream state");
        if (status == 0)
            status = ops_alloc(&m->dev, (void **)&m->stream_first, row_bytes, "stream state");
        if (status == 0)
            status = ops_alloc(&m->dev, (void **)&m->stream_pooled, row_bytes, "stream state");
        if (status == 0)
            status = ops_alloc(&m->dev, (void **)&m->stream_sum, 2 * row_bytes, "stream state");
        if (status == 0 && m->dev.kind != DEVICE_CPU && m->cfg.task == MODEL_TASK_CLASSIFY)
            status = ops_alloc(&m->dev, (void **)&m->stream_logits,
                               (size_t)(B * m->cfg.n_classes) * sizeof(float), "stream logits");
        if (status < 0) {
            model_stream_free(m);
            return status;
        }
        m->stream_B = B;
    }
    m->stream_started = 0;
    m->stream_pos = 0;
    m->stream_pooling = m->cfg.task == MODEL_TASK_CLASSIFY;
    for (int i = 0; i < m->cfg.n_layers; i++) m->kv[i].len = m->kv[i].pos0 = 0;
    const int64_t floats = model_stream_layer_floats(m, B) * mamba_layers(m);
    status = floats > 0 ? ops_zero(&m->dev, DTYPE_F32, m->stream_state, floats) : 0;
    // the running sum is doubles: zeroed as twice as many floats (all-zero bits either way)
    return status == 0 ? ops_zero(&m->dev, DTYPE_F32, (float *)m->stream_sum, 2 * B * m->D)
                       : status;
}

int model_stream_set_pooling(Model *m, int on) {
    if (!m->stream_B || m->stream_pos > 0)
        return ls_error(LS_ERR_USAGE, "model_stream_set_pooling: after model_stream_reset, "
                        "before the first segment");
    m->stream_pooling = on || m->cfg.task == MODEL_TASK_CLASSIFY;
    return 0;
}

int model_stream_reserve(Model *m, int64_t positions) {
    if (!m->stream_B)
        return ls_error(LS_ERR_USAGE, "model_stream_reserve: model_stream_reset first");
    const int64_t W = m->cfg.arch == MODEL_TRANSFORMER ? m->cfg.window : 0;
    const int64_t want = W > 0 && positions > 2 * W ? 2 * W : positions;
    for (int i = 0; i < m->cfg.n_layers; i++) {
        if (!model_layer_is_attention(&m->cfg, i) || m->kv[i].cap >= want) continue;
        int status = kv_grow(m, &m->kv[i], want);
        if (status < 0) return status;
    }
    return 0;
}

void model_stream_sizes(const Model *m, int64_t *state_bytes, int64_t *cache_bytes) {
    *state_bytes = mamba_layers(m) * model_stream_layer_floats(m, 1) * (int64_t)sizeof(float);
    *cache_bytes = model_attention_layers(&m->cfg) * 2 * m->D * (int64_t)dtype_size(m->act);
}

int64_t model_stream_cache_bytes(const Model *m, int64_t *positions) {
    int64_t bytes = 0, held = 0;
    for (int i = 0; m->kv && i < m->cfg.n_layers; i++) {
        bytes += 2 * m->stream_B * m->kv[i].cap * m->D * (int64_t)dtype_size(m->act);
        if (m->kv[i].len > held) held = m->kv[i].len;
    }
    if (positions) *positions = held;
    return bytes;
}

// Every layer over the plan's rows (B, L) in p->R: Mamba layers carry their states, attention
// layers their caches; a generation step (@p step) runs the Mamba layers' recurrent step.
static int stream_layers(Model *m, int step, int prepare_A) {
    Plan *p = &m->plan;
    int status = prepare_A && m->cfg.arch != MODEL_TRANSFORMER ? mamba_prepare_A(m) : 0;
    for (int i = 0; i < m->cfg.n_layers && status == 0; i++) {
        if (model_layer_is_attention(&m->cfg, i)) {
            status = kv_make_room(m, &m->kv[i], p->L);
            if (status == 0)
                status = transformer_layer_stream(m, i, p->R, &m->kv[i], m->stream_pos);
        } else if (step) {
            status = mamba_layer_step(m, i, p->R, layer_state(m, i));
        } else {
            status = mamba_layer_fwd(m, i, p->R, p->R, layer_state(m, i));
        }
    }
    if (status == 0) m->stream_pos += p->L;
    return status;
}

int model_stream_forward(Model *m, const ModelBatch *seg, float *logits) {
    if (!m->stream_B)
        return ls_error(LS_ERR_USAGE, "model_stream_forward: model_stream_reset first");
    int64_t L;
    int status = model_batch_check_shape(m, seg, &L);
    if (status < 0) return status;
    if (seg->row_seqs)
        return ls_error(LS_ERR_UNSUPPORTED, "model_stream_forward: a stream continues one "
                                            "sequence per row; packed segments make no sense");
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
    m->train_ready = 0;
    m->sel_rows = -1; // streaming computes every position's logits
    m->plan_logits = m->cfg.task == MODEL_TASK_LM;
    if ((status = model_plan(m, seg->B, L, seg->L, 0)) < 0) return status;
    if ((status = model_batch_lengths(m, seg)) < 0) return status;
    Plan *p = &m->plan;
    const int first = m->stream_pos == 0;
    status = model_input_fwd(m, seg, p->R);
    if (status == 0) status = stream_layers(m, 0, 1);
    if (status < 0) return status;
    // LM logits (the final norm output stays in aux), or the final norm alone for pooling; an
    // LM without logits or pooling asked (priming a generation) needs no head at all
    const Device *dev = &m->dev;
    const int64_t B = p->Be, D = m->D;
    if (m->cfg.task == MODEL_TASK_LM && logits)
        status = lm_logits(m, logits);
    else if (m->stream_pooling)
        status = ops_norm_fwd(dev, DTYPE_F32, m->cfg.norm == MODEL_NORM_LAYER, p->aux, p->mean_f,
                              p->rstd_f,
                              p->R, model_p(m, m->idx_norm_f_w), model_p(m, m->idx_norm_f_b),
                              B * L, D, m->cfg.norm_eps);
    if (status < 0 || !m->stream_pooling) return status;
    status = ops_sum_rows_acc(dev, m->stream_sum, p->aux, B, L, D);
    if (status == 0 && first)
        status = ops_copy_blocks(dev, DTYPE_F32, m->stream_first, D, 0, p->aux, L * D, 0, B, 1,
                                 D);
    if (status == 0)
        status = ops_copy_blocks(dev, DTYPE_F32, m->stream_last, D, 0, p->aux + (L - 1) * D,
                                 L * D, 0, B, 1, D);
    if (status == 0) m->stream_started = 1;
    return status;
}

// The pooled vectors (B, D) into m->stream_pooled (device memory).
static int stream_pool(Model *m) {
    if (!m->stream_B || !m->stream_started || !m->stream_pooling)
        return ls_error(LS_ERR_USAGE, "model_stream_embed: no segment streamed with pooling");
    const int64_t n = m->stream_B * m->D;
    float *out = m->stream_pooled;
    switch (m->cfg.pool) {
    case MODEL_POOL_LAST: return ops_copy(&m->dev, out, m->stream_last, n);
    case MODEL_POOL_FIRST: return ops_copy(&m->dev, out, m->stream_first, n);
    default: return ops_mean_from_sum(&m->dev, out, m->stream_sum, n, (double)m->stream_pos);
    }
}

// @p out is the caller's host memory (as model_embed's): pooled on the device, downloaded.
int model_stream_embed(Model *m, float *out) {
    int status = stream_pool(m);
    if (status < 0) return status;
    return ops_download(&m->dev, out, m->stream_pooled,
                        (size_t)(m->stream_B * m->D) * sizeof(float));
}

int model_stream_logits(Model *m, float *logits) {
    if (m->cfg.task != MODEL_TASK_CLASSIFY)
        return ls_error(LS_ERR_USAGE, "model_stream_logits: the model is not a classifier");
    if (!m->stream_B || !m->stream_started)
        return ls_error(LS_ERR_USAGE, "model_stream_logits: no segment streamed yet");
    const int64_t C = m->cfg.n_classes;
    int status = stream_pool(m);
    if (status < 0) return status;
    float *out = m->dev.kind == DEVICE_CPU ? logits : m->stream_logits;
    status = ops_matmul_fwd(&m->dev, DTYPE_F32, out, m->stream_pooled, model_p(m, m->idx_cls_w),
                            model_p(m, m->idx_cls_b), m->stream_B, m->D, C, m->D, C);
    if (status < 0 || out == logits) return status;
    return ops_download(&m->dev, logits, out, (size_t)(m->stream_B * C) * sizeof(float));
}

int model_generate_step(Model *m, const uint8_t *tokens, float *logits) {
    if (m->cfg.task != MODEL_TASK_LM)
        return ls_error(LS_ERR_UNSUPPORTED, "generation needs a causal language model, not a "
                        "classifier");
    int status = stream_supported(m);
    if (status < 0) return status;
    if (!m->stream_B)
        return ls_error(LS_ERR_USAGE, "model_generate_step: model_stream_reset first");
    const int64_t B = m->stream_B;
    ModelBatch one = {.B = B, .L = 1, .tokens = tokens, .lengths = NULL};
    int64_t L;
    if ((status = model_batch_check_shape(m, &one, &L)) < 0) return status;
    m->train_ready = 0;
    m->sel_rows = -1;
    m->plan_logits = 1;
    if ((status = model_plan(m, B, 1, 1, 0)) < 0) return status;
    if ((status = model_batch_lengths(m, &one)) < 0) return status;
    Plan *p = &m->plan;
    status = model_input_fwd(m, &one, p->R); // (B, 1, D) = (B, D)
    if (status == 0) status = stream_layers(m, 1, 1);
    if (status == 0) status = lm_logits(m, logits);
    return status;
}

// ------------------------------------------------------------------------------ on the device

static int gen_fused_decide(Model *m);

int model_generate_device_start(Model *m, const uint8_t *tokens, const ModelSampling *smp) {
    if (m->dev.kind != DEVICE_CUDA)
        return ls_error(LS_ERR_UNSUPPORTED, "model_generate_device_start: a GPU path (the CPU "
                        "draws on the host: model_generate_step)");
    if (m->cfg.task != MODEL_TASK_LM)
        return ls_error(LS_ERR_UNSUPPORTED, "generation needs a causal language model, not a "
                        "classifier");
    if (!m->stream_B)
        return ls_error(LS_ERR_USAGE, "model_generate_device_start: model_stream_reset first");
    const int64_t B = m->stream_B, V = m->cfg.vocab;
    if (V > SAMPLE_MAX_VOCAB)
        return ls_error(LS_ERR_UNSUPPORTED, "generation on the GPU draws 8-bit tokens; this "
                        "model has a vocabulary of %lld ids", (long long)V);
    if (smp->graph_steps < 0 || smp->graph_steps > (INT64_C(1) << 20) || !smp->rng)
        return ls_error(LS_ERR_USAGE, "model_generate_device_start: graph_steps %lld, rng %p",
                        (long long)smp->graph_steps, (const void *)smp->rng);
    ModelBatch one = {.B = B, .L = 1, .tokens = tokens, .lengths = NULL};
    int64_t L;
    int status = model_batch_check_shape(m, &one, &L); // the tokens, on the host, once
    if (status < 0) return status;
    const int64_t cols = smp->graph_steps > 0 ? smp->graph_steps : 1;
    if (m->gen_B != B || m->gen_cols != cols) {
        gen_free(m);
        status = ops_alloc(&m->dev, (void **)&m->gen_cur, (size_t)B, "generation state");
        if (status == 0)
            status = ops_alloc(&m->dev, (void **)&m->gen_out, (size_t)(B * cols),
                               "generation state");
        if (status == 0)
            status = ops_alloc(&m->dev, (void **)&m->gen_rng, (size_t)B * 4 * sizeof(uint64_t),
                               "generation state");
        if (status == 0)
            status = ops_alloc(&m->dev, (void **)&m->gen_err, sizeof(uint64_t),
                               "generation state");
        if (status == 0 && !(m->gen_host = malloc((size_t)(B * cols))))
            status = ls_error(LS_ERR_NOMEM, "generation: out of memory for %lld rows",
                              (long long)B);
        if (status < 0) {
            gen_free(m);
            return status;
        }
        m->gen_B = B, m->gen_cols = cols;
    }
    device_cuda_graph_free(m->gen_graph); // a new sequence: capture again (pointers may move)
    m->gen_graph = m->gen_graph_arena = NULL;
    m->gen_graph_state = 0;
    m->gen_graph_steps = smp->graph_steps;
    m->gen_temperature = smp->temperature;
    m->gen_top_p = smp->top_p;
    const uint64_t no_error = SAMPLE_NO_ERROR;
    status = ops_upload(&m->dev, m->gen_cur, tokens, (size_t)B);
    if (status == 0)
        status = ops_upload(&m->dev, m->gen_rng, smp->rng, (size_t)B * 4 * sizeof(uint64_t));
    if (status == 0) status = ops_upload(&m->dev, m->gen_err, &no_error, sizeof no_error);
    // the step's plan, row lengths and A = −exp(A_log), once for every step
    m->train_ready = 0;
    m->sel_rows = -1;
    m->plan_logits = 1;
    if (status == 0) status = model_plan(m, B, 1, 1, 0);
    if (status == 0) status = model_batch_lengths(m, &one);
    if (status == 0 && m->cfg.arch != MODEL_TRANSFORMER) status = mamba_prepare_A(m);
    if (status == 0) status = gen_fused_decide(m);
    return status;
}

// The fused step (kernels/gen_step.h), when asked for, takes a stack of causal Mamba layers over
// token rows, one row per sequence, whose shape its kernels support; anything else steps op by
// op. Op by op is the default: at e30fbd1 the fused step was measured slower (docs/generate.md).
static int gen_fused_decide(Model *m) {
    const ModelConfig *c = &m->cfg;
    const char *why = !m->gen_fused_asked
                          ? "not asked (the default: measured slower than op by op on an H100, "
                            "docs/generate.md; model_set_generate_fused(m, 1) asks)"
                      : c->arch != MODEL_MAMBA           ? "attention layers (not a Mamba stack)"
                      : c->input != MODEL_INPUT_TOKENS   ? "waveform input (a stem, not tokens)"
                      : m->rows_per_row != 1             ? "reverse-complement rows"
                                                         : NULL;
    m->gen_fused = 0;
    if (why) {
        snprintf(m->gen_fused_why, sizeof m->gen_fused_why, "%s", why);
        return 0;
    }
    GenStepLayer a;
    mamba_layer_step_args(m, 0, m->plan.R, layer_state(m, 0), m->gen_cur, &a);
    if (ops_gen_step_supported(&m->dev, &a) < 0) { // not an error: the unfused step runs
        snprintf(m->gen_fused_why, sizeof m->gen_fused_why, "%s", ls_error_message());
        return 0;
    }
    int status = ops_gen_step_prepare(&m->dev, &a); // outside any capture
    if (status == LS_ERR_UNSUPPORTED) { // no cluster fits this GPU: the unfused step runs
        snprintf(m->gen_fused_why, sizeof m->gen_fused_why, "%s", ls_error_message());
        return 0;
    }
    if (status == 0) m->gen_fused = 1, m->gen_fused_why[0] = '\0';
    return status;
}

void model_set_generate_fused(Model *m, int on) { m->gen_fused_asked = !!on; }

int model_generate_device_fused(const Model *m, const char **why) {
    if (why) *why = m->gen_fused ? "" : m->gen_B ? m->gen_fused_why : "no device generation yet";
    return m->gen_fused;
}

// The fused step: every layer (layer 0 reads the embedding of gen_cur itself) and the head in
// one launch (GEN_STEP_LAYERS_PER_LAUNCH layers a launch for deeper models, the head in the
// last).
static int fused_step(Model *m) {
    Plan *p = &m->plan;
    const GenStepHead h = {.B = p->Be, .D = m->D, .V = m->cfg.vocab,
                           .layer_norm = m->cfg.norm == MODEL_NORM_LAYER,
                           .eps = m->cfg.norm_eps, .X = p->R,
                           .norm_w = model_p(m, m->idx_norm_f_w),
                           .norm_b = model_p(m, m->idx_norm_f_b),
                           .w = model_p(m, m->idx_lm_head), .logits = p->logits};
    GenStepLayer a[GEN_STEP_LAYERS_PER_LAUNCH];
    const int L = m->cfg.n_layers;
    int status = 0;
    for (int i0 = 0; i0 < L && status == 0; i0 += GEN_STEP_LAYERS_PER_LAUNCH) {
        const int n = L - i0 < GEN_STEP_LAYERS_PER_LAUNCH ? L - i0 : GEN_STEP_LAYERS_PER_LAUNCH;
        for (int i = 0; i < n; i++)
            mamba_layer_step_args(m, i0 + i, p->R, layer_state(m, i0 + i),
                                  i0 + i == 0 ? m->gen_cur : NULL, &a[i]);
        status = ops_gen_step(&m->dev, a, n, i0 + n == L ? &h : NULL);
    }
    if (status == 0) m->stream_pos += 1;
    return status;
}

// One step and one draw, all queued on the device: the token in gen_cur → logits → the next
// token into gen_cur and gen_out[b, col].
static int device_step(Model *m, int64_t col) {
    Plan *p = &m->plan;
    const Device *dev = &m->dev;
    const int64_t B = m->gen_B, V = m->cfg.vocab;
    int status = 0;
    if (m->gen_fused) {
        status = fused_step(m);
    } else {
        status = ops_tokens_to_ids(dev, p->ids, m->gen_cur, p->len, NULL, B, 1, V, 0);
        if (status == 0)
            status = ops_embedding_fwd_trusted(dev, DTYPE_F32, p->R, p->ids,
                                               model_p(m, m->idx_embed), B, V, m->D);
        if (status == 0) status = stream_layers(m, 1, 0);
        if (status == 0) status = model_head_fwd(m, p->R, p->aux, p->logits, NULL);
    }
    if (status < 0) return status;
    SampleArgs sa = {.B = B, .V = V, .temperature = m->gen_temperature, .top_p = m->gen_top_p,
                     .logits = p->logits, .rng = m->gen_rng, .next = m->gen_cur,
                     .out = m->gen_out + col, .out_stride = m->gen_cols, .error = m->gen_err};
    return ops_sample(dev, &sa);
}

// Capture gen_graph_steps steps as a graph; on failure say why and stay uncaptured.
static void capture(Model *m) {
    const int64_t pos = m->stream_pos;
    int status = device_cuda_graph_begin();
    int step_status = 0;
    for (int64_t k = 0; status == 0 && step_status == 0 && k < m->gen_graph_steps; k++)
        step_status = device_step(m, k);
    char step_why[160] = "";
    if (step_status < 0) snprintf(step_why, sizeof step_why, "%s", ls_error_message());
    void *graph = NULL;
    if (status == 0) status = device_cuda_graph_end(&graph);
    m->stream_pos = pos; // nothing ran: the positions advance when the graph does
    if (status == 0 && step_status == 0) {
        m->gen_graph = graph;
        m->gen_graph_arena = m->arena;
        m->gen_graph_state = 1;
        return;
    }
    device_cuda_graph_free(graph);
    m->gen_graph_state = -1;
    snprintf(m->gen_graph_why, sizeof m->gen_graph_why, "the capture failed: %s",
             step_status < 0 ? step_why : ls_error_message());
}

int model_generate_device_graphs(const Model *m, const char **why) {
    if (why) {
        if (m->gen_graph_state == 1) *why = "";
        else if (m->gen_graph_state < 0) *why = m->gen_graph_why;
        else if (m->gen_graph_steps <= 0) *why = "not asked for (graph_steps 0)";
        else if (model_attention_layers(&m->cfg) > 0)
            *why = "attention layers: their key/value caches grow every step";
        else *why = "no run of graph_steps steps yet";
    }
    return m->gen_graph_state == 1;
}

int model_generate_device_run(Model *m, int64_t n, uint8_t *tokens, int64_t stride,
                              float *logits) {
    if (!m->gen_B || m->gen_B != m->stream_B)
        return ls_error(LS_ERR_USAGE, "model_generate_device_run: model_generate_device_start "
                        "first");
    if (n < 1 || n > m->gen_cols || (logits && n != 1) || stride < n)
        return ls_error(LS_ERR_USAGE, "model_generate_device_run: %lld steps (1..%lld; 1 with "
                        "logits), stride %lld", (long long)n, (long long)m->gen_cols,
                        (long long)stride);
    const int64_t B = m->gen_B, V = m->cfg.vocab;
    Plan *p = &m->plan;
    int status = 0;
    if (p->B != B || p->L != 1 || !p->logits) // something else planned since: plan the step
        status = model_plan(m, B, 1, 1, 0);
    if (m->gen_graph && m->gen_graph_arena != m->arena) { // the arena moved: capture again
        device_cuda_graph_free(m->gen_graph);
        m->gen_graph = NULL;
        m->gen_graph_state = 0;
    }
    const int graphs = m->gen_graph_steps > 0 && n == m->gen_graph_steps &&
                       model_attention_layers(&m->cfg) == 0;
    if (status == 0 && graphs && m->gen_graph_state == 0) capture(m);
    if (status == 0 && graphs && m->gen_graph_state == 1) {
        status = device_cuda_graph_launch(m->gen_graph);
        if (status == 0) m->stream_pos += n;
    } else {
        for (int64_t k = 0; k < n && status == 0; k++) status = device_step(m, k);
    }
    if (status < 0) return status;
    if (logits)
        status = ops_download(&m->dev, logits, p->logits, (size_t)(B * V) * sizeof(float));
    uint64_t err = SAMPLE_NO_ERROR;
    if (status == 0) status = ops_download(&m->dev, &err, m->gen_err, sizeof err);
    if (status == 0 && err != SAMPLE_NO_ERROR)
        return ls_error(LS_ERR_RANGE, "generated row %lld: the model's logit for id %lld is not "
                        "finite; cannot sample", (long long)(err / (uint64_t)V),
                        (long long)(err % (uint64_t)V));
    if (status == 0)
        status = ops_download(&m->dev, m->gen_host, m->gen_out, (size_t)(B * m->gen_cols));
    for (int64_t b = 0; status == 0 && b < B; b++)
        memcpy(tokens + b * stride, m->gen_host + b * m->gen_cols, (size_t)n);
    return status;
}
