/*
 * model.c — the Model object (model.h): the parameter table built from the config, the
 * initialisation rules (mamba_ssm / PyTorch defaults, docs/models.md "Initialisation"), the
 * activation arena and its plan, forward / backward over the layer stack, embeddings, the
 * loss of a batch and the optimizer entry points. The blocks themselves are in mamba.c and
 * transformer.c, input stage and heads in heads.c, streaming in stream.c, checkpoints in
 * checkpoint.c.
 *
 * Tested by tests/unit/test_model.c: whole-model gradients against finite differences,
 * padding invariance, determinism (seed, thread count), overfitting one batch with AdamW,
 * save → load, streaming and generation against the full forward.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/rng.h"
#include "kernels/loss.h"
#include "models/model.h"
#include "models/model_internal.h"
#include "models/slice_exchange.h"

// ------------------------------------------------------------------------------ the table

// Add one tensor; *idx = its index. Names are built from a printf format.
static int add(Model *m, int *idx, uint32_t flags, int ndim, int64_t d0, int64_t d1, int64_t d2,
               const char *fmt, ...) LS_PRINTF(8, 9);
static int add(Model *m, int *idx, uint32_t flags, int ndim, int64_t d0, int64_t d1, int64_t d2,
               const char *fmt, ...) {
    char name[PARAM_NAME_MAX + 8];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    const int64_t shape[3] = {d0, d1, d2};
    int rc = param_table_add(&m->table, name, ndim, shape, flags);
    if (rc < 0) return rc;
    *idx = rc;
    return 0;
}

#define ND PARAM_NO_DECAY
#define TRY(expr)                                                                                  \
    do {                                                                                           \
        if ((status = (expr)) < 0) goto fail;                                                      \
    } while (0)

static void layer_params_none(LayerParams *lp) {
    int *f = (int *)lp;
    for (size_t i = 0; i < sizeof *lp / sizeof(int); i++)
        f[i] = -1;
}

/*
 * Table order follows PyTorch's state_dict order for the mamba_ssm modules (a module's own
 * parameters, then its children in registration order), so a listing reads like theirs.
 */
static int build_table(Model *m) {
    const ModelConfig *c = &m->cfg;
    const int64_t D = m->D, E = m->E, N = m->N, K = m->K, R = m->R, F = m->F;
    const int ln = c->norm == MODEL_NORM_LAYER;
    int status = 0;
    m->idx_embed = m->idx_stem_w = m->idx_stem_b = m->idx_norm_f_b = m->idx_lm_head = -1;
    m->idx_cls_w = m->idx_cls_b = -1;

    if (c->input == MODEL_INPUT_TOKENS)
        TRY(add(m, &m->idx_embed, ND, 2, c->vocab, D, 0, "backbone.embedding.weight"));
    else {
        TRY(add(m, &m->idx_stem_w, 0, 3, D, 1, c->frame, "backbone.stem.weight"));
        TRY(add(m, &m->idx_stem_b, ND, 1, D, 0, 0, "backbone.stem.bias"));
    }
    for (int i = 0; i < c->n_layers; i++) {
        LayerParams *lp = &m->layers[i];
        layer_params_none(lp);
        if (model_layer_is_attention(c, i)) {
            TRY(add(m, &lp->qkv_w, 0, 2, 3 * D, D, 0, "backbone.layers.%d.mixer.in_proj.weight",
                    i));
            TRY(add(m, &lp->qkv_b, ND, 1, 3 * D, 0, 0, "backbone.layers.%d.mixer.in_proj.bias", i));
            TRY(add(m, &lp->att_w, 0, 2, D, D, 0, "backbone.layers.%d.mixer.out_proj.weight", i));
            TRY(add(m, &lp->att_b, ND, 1, D, 0, 0, "backbone.layers.%d.mixer.out_proj.bias", i));
            TRY(add(m, &lp->norm_w, ND, 1, D, 0, 0, "backbone.layers.%d.norm.weight", i));
            if (ln) TRY(add(m, &lp->norm_b, ND, 1, D, 0, 0, "backbone.layers.%d.norm.bias", i));
            if (F == 0) continue; // attention-only block
            TRY(add(m, &lp->norm2_w, ND, 1, D, 0, 0, "backbone.layers.%d.norm2.weight", i));
            if (ln) TRY(add(m, &lp->norm2_b, ND, 1, D, 0, 0, "backbone.layers.%d.norm2.bias", i));
            TRY(add(m, &lp->fc1_w, 0, 2, F, D, 0, "backbone.layers.%d.mlp.fc1.weight", i));
            TRY(add(m, &lp->fc1_b, ND, 1, F, 0, 0, "backbone.layers.%d.mlp.fc1.bias", i));
            TRY(add(m, &lp->fc2_w, 0, 2, D, F, 0, "backbone.layers.%d.mlp.fc2.weight", i));
            TRY(add(m, &lp->fc2_b, ND, 1, D, 0, 0, "backbone.layers.%d.mlp.fc2.bias", i));
            continue;
        }
        for (int dir = 0; dir < m->ndir; dir++) {
            const char *mix = c->arch != MODEL_BIMAMBA ? "mixer"
                              : dir                    ? "mixer.mamba_rev"
                                                       : "mixer.mamba_fwd";
            TRY(add(m, &lp->A_log[dir], ND, 2, E, N, 0, "backbone.layers.%d.%s.A_log", i, mix));
            TRY(add(m, &lp->Dsk[dir], ND, 1, E, 0, 0, "backbone.layers.%d.%s.D", i, mix));
            if (dir == 0)
                TRY(add(m, &lp->in_proj, 0, 2, 2 * E, D, 0, "backbone.layers.%d.%s.in_proj.weight",
                        i, mix));
            TRY(add(m, &lp->conv_w[dir], 0, 3, E, 1, K, "backbone.layers.%d.%s.conv1d.weight", i,
                    mix));
            TRY(add(m, &lp->conv_b[dir], ND, 1, E, 0, 0, "backbone.layers.%d.%s.conv1d.bias", i,
                    mix));
            TRY(add(m, &lp->x_proj[dir], 0, 2, R + 2 * N, E, 0,
                    "backbone.layers.%d.%s.x_proj.weight", i, mix));
            TRY(add(m, &lp->dt_w[dir], 0, 2, E, R, 0, "backbone.layers.%d.%s.dt_proj.weight", i,
                    mix));
            TRY(add(m, &lp->dt_b[dir], ND, 1, E, 0, 0, "backbone.layers.%d.%s.dt_proj.bias", i,
                    mix));
            if (dir == 0)
                TRY(add(m, &lp->out_proj, 0, 2, D, E, 0, "backbone.layers.%d.%s.out_proj.weight", i,
                        mix));
        }
        TRY(add(m, &lp->norm_w, ND, 1, D, 0, 0, "backbone.layers.%d.norm.weight", i));
        if (ln) TRY(add(m, &lp->norm_b, ND, 1, D, 0, 0, "backbone.layers.%d.norm.bias", i));
    }
    TRY(add(m, &m->idx_norm_f_w, ND, 1, D, 0, 0, "backbone.norm_f.weight"));
    if (ln) TRY(add(m, &m->idx_norm_f_b, ND, 1, D, 0, 0, "backbone.norm_f.bias"));
    if (c->task == MODEL_TASK_LM) {
        if (c->tie_embeddings)
            m->idx_lm_head = m->idx_embed;
        else
            TRY(add(m, &m->idx_lm_head, 0, 2, c->vocab, D, 0, "lm_head.weight"));
    } else {
        TRY(add(m, &m->idx_cls_w, 0, 2, c->n_classes, D, 0, "classifier.weight"));
        TRY(add(m, &m->idx_cls_b, ND, 1, c->n_classes, 0, 0, "classifier.bias"));
    }
fail:
    return status;
}

// ------------------------------------------------------------------------------ initialisation

static float init_uniform(Rng *rng, double bound) {
    return (float)((2.0 * rng_uniform(rng) - 1.0) * bound);
}

static float init_normal(Rng *rng, double std) {
    double u1 = 1.0 - rng_uniform(rng), u2 = rng_uniform(rng); // u1 in (0, 1]
    return (float)(std * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

// Initialisation fills a host copy of the parameter buffer (@p base), uploaded afterwards.
static void fill_uniform(Model *m, float *base, int idx, Rng *rng, double bound) {
    float *x = base + m->table.entries[idx].offset;
    for (int64_t i = 0; i < m->table.entries[idx].numel; i++)
        x[i] = init_uniform(rng, bound);
}

static void fill_const(Model *m, float *base, int idx, float value) {
    if (idx < 0) return;
    float *x = base + m->table.entries[idx].offset;
    for (int64_t i = 0; i < m->table.entries[idx].numel; i++)
        x[i] = value;
}

// The layer of "backbone.layers.<i>.…", −1 for other names.
static int64_t layer_of(const char *name) {
    long long i;
    return sscanf(name, "backbone.layers.%lld.", &i) == 1 ? (int64_t)i : -1;
}

/*
 * Every tensor draws from its own stream, seeded by (seed, hash of its name), so a tensor's
 * values depend on the seed and its name only, never on the table order. Rules (mamba_ssm
 * Mamba.__init__ + _init_weights(rescale_prenorm_residual=True), nn.Linear / nn.Conv1d
 * defaults; kaiming_uniform(a=√5) is U(±1/√fan_in)):
 */
static void init_params(Model *m, float *base, uint64_t seed) {
    const ModelConfig *c = &m->cfg;
    const double D = (double)m->D, E = (double)m->E;
    // residual branches: one per Mamba layer, two per attention block (attention and MLP;
    // one in an attention-only block)
    const int64_t n_attn = model_attention_layers(c);
    const double n_res = (double)(c->n_layers - n_attn) + (m->F > 0 ? 2.0 : 1.0) * (double)n_attn;
    memset(base, 0, (size_t)m->table.total * sizeof(float)); // biases and padding
    for (int t = 0; t < m->table.n; t++) {
        const ParamEntry *e = &m->table.entries[t];
        const char *name = e->name;
        Rng rng;
        rng_seed_stream(&rng, seed, rng_hash_string(name));
        float *x = base + e->offset;
        size_t len = strlen(name);
#define ENDS(suffix) (len >= strlen(suffix) && strcmp(name + len - strlen(suffix), suffix) == 0)
        if (t == m->idx_embed) { // nn.Embedding under _init_weights: N(0, 0.02)
            for (int64_t i = 0; i < e->numel; i++)
                x[i] = init_normal(&rng, 0.02);
        } else if (t == m->idx_stem_w || t == m->idx_stem_b) { // nn.Conv1d(1, D, frame) default
            fill_uniform(m, base, t, &rng, 1.0 / sqrt((double)c->frame));
        } else if (ENDS(".A_log")) { // S4D-real: A = −(1..N) per channel
            for (int64_t i = 0; i < e->numel; i++)
                x[i] = logf((float)(i % m->N + 1));
        } else if (ENDS(".D") || ENDS("norm.weight") || ENDS("norm2.weight") ||
                   ENDS("norm_f.weight")) {
            fill_const(m, base, t, 1.0f);
        } else if (ENDS("conv1d.weight") || ENDS("conv1d.bias")) { // fan_in = K
            fill_uniform(m, base, t, &rng, 1.0 / sqrt((double)m->K));
        } else if (ENDS("dt_proj.weight")) { // dt_init "random", dt_scale 1
            fill_uniform(m, base, t, &rng, 1.0 / sqrt((double)m->R));
        } else if (ENDS("dt_proj.bias")) { // inverse softplus of dt ~ logU(dt_min, dt_max)
            const double lo = log((double)c->dt_min), hi = log((double)c->dt_max);
            for (int64_t i = 0; i < e->numel; i++) {
                double dt = exp(rng_uniform(&rng) * (hi - lo) + lo);
                if (dt < 1e-4) dt = 1e-4; // dt_init_floor
                x[i] = (float)(dt + log(-expm1(-dt)));
            }
        } else if (ENDS("in_proj.weight") || t == m->idx_lm_head || t == m->idx_cls_w ||
                   ENDS("fc1.weight")) {
            fill_uniform(m, base, t, &rng, 1.0 / sqrt(D));
        } else if (ENDS("x_proj.weight")) {
            fill_uniform(m, base, t, &rng, 1.0 / sqrt(E));
        } else if (ENDS("out_proj.weight") && !model_layer_is_attention(c, layer_of(name))) {
            fill_uniform(m, base, t, &rng, 1.0 / sqrt(E) / sqrt(n_res)); // Mamba mixer
        } else if (ENDS("out_proj.weight")) {
            fill_uniform(m, base, t, &rng, 1.0 / sqrt(D) / sqrt(n_res)); // attention
        } else if (ENDS("fc2.weight")) {
            fill_uniform(m, base, t, &rng, 1.0 / sqrt((double)m->F) / sqrt(n_res));
        }
        // everything else (linear biases, LayerNorm biases) stays 0
#undef ENDS
    }
}

// ------------------------------------------------------------------------------ life cycle

static int64_t default_seq_slices = 1; // model_set_default_seq_slices (the CLI's --seq-slices)

int model_init(Model **out, const ModelConfig *cfg, const Device *dev, uint64_t seed) {
    *out = NULL;
    int status = model_config_check(cfg);
    if (status < 0) return status;
    Model *m = calloc(1, sizeof *m);
    if (!m) return ls_error(LS_ERR_NOMEM, "model: out of memory");
    m->cfg = *cfg;
    model_config_resolve(&m->cfg);
    m->dev = *dev;
    m->D = m->cfg.d_model;
    m->E = m->cfg.expand * m->cfg.d_model;
    m->N = m->cfg.d_state;
    m->K = m->cfg.d_conv;
    m->R = m->cfg.dt_rank;
    m->H = m->cfg.n_heads;
    m->hd = m->cfg.d_model / m->cfg.n_heads;
    m->F = m->cfg.mlp_hidden;
    m->ndir = m->cfg.arch == MODEL_BIMAMBA ? 2 : 1;
    m->rows_per_row = m->cfg.rc_equivariant ? 2 : 1;
    m->act = DTYPE_F32;
    m->tile_rows = dev->kind == DEVICE_CUDA ? MODEL_TILE_ROWS_CUDA : MODEL_TILE_ROWS;
    m->tile_rows_auto = dev->kind == DEVICE_CUDA;
    m->seq_slices = 1;
    m->grad_ckpt = 1;
    m->exchange = &slice_exchange_in_process;
    m->sel_rows = -1;
    param_table_init(&m->table);
    m->layers = calloc((size_t)m->cfg.n_layers, sizeof *m->layers);
    if (!m->layers) {
        status = ls_error(LS_ERR_NOMEM, "model: out of memory");
        goto fail;
    }
    TRY(build_table(m));
    if (dev->kind == DEVICE_CUDA) TRY(device_cuda_set(dev->ordinal));
    size_t bytes = (size_t)m->table.total * sizeof(float);
    TRY(ops_alloc(dev, (void **)&m->params, bytes, "model parameters"));
    TRY(ops_alloc(dev, (void **)&m->grads, bytes, "model gradients"));
    TRY(ops_alloc(dev, (void **)&m->adam_m, bytes, "AdamW moments"));
    TRY(ops_alloc(dev, (void **)&m->adam_v, bytes, "AdamW moments"));
    TRY(ops_zero(dev, DTYPE_F32, m->grads, m->table.total));
    TRY(ops_zero(dev, DTYPE_F32, m->adam_m, m->table.total));
    TRY(ops_zero(dev, DTYPE_F32, m->adam_v, m->table.total));
    m->optim = malloc((size_t)m->table.n * sizeof *m->optim);
    if (!m->optim) {
        status = ls_error(LS_ERR_NOMEM, "model: out of memory");
        goto fail;
    }
    for (int i = 0; i < m->table.n; i++) {
        const ParamEntry *e = &m->table.entries[i];
        m->optim[i] = (OptimTensor){e->offset, e->numel, !(e->flags & PARAM_NO_DECAY)};
    }
    if (dev->kind == DEVICE_CPU) {
        init_params(m, m->params, seed);
    } else { // drawn on the host (the same bytes on every device), then uploaded
        float *host = malloc(bytes ? bytes : 1);
        if (!host) {
            status = ls_error(LS_ERR_NOMEM, "model: out of memory");
            goto fail;
        }
        init_params(m, host, seed);
        status = ops_upload(dev, m->params, host, bytes);
        free(host);
        if (status < 0) goto fail;
    }
    if (default_seq_slices > 1 && (status = model_set_seq_slices(m, default_seq_slices)) < 0)
        goto fail;
    *out = m;
    return 0;
fail:
    model_free(m);
    return status;
}

void model_free(Model *m) {
    if (!m) return;
    ops_free(&m->dev, m->params);
    ops_free(&m->dev, m->grads);
    ops_free(&m->dev, m->adam_m);
    ops_free(&m->dev, m->adam_v);
    ops_free(&m->dev, m->arena);
    model_stream_free(m);
    ops_free(&m->dev, m->params16);
    free(m->h_len);
    free(m->h_slen);
    free(m->h_sel);
    free(m->h_reset);
    free(m->h_mirror);
    free(m->h_seq_start);
    free(m->h_seq_len);
    free(m->h_frame_end);
    free(m->h_len_walk);
    free(m->h_pool_start);
    free(m->h_pool_len);
    free(m->h_rev_mirror);
    free(m->h_split_ids);
    free(m->h_rev_reset);
    free(m->h_split_tokens);
    free(m->h_pool_w);
    free(m->targets);
    free(m->row_loss);
    free(m->optim);
    free(m->layers);
    param_table_free(&m->table);
    free(m);
}

const ModelConfig *model_config(const Model *m) {
    return &m->cfg;
}
const ParamTable *model_param_table(const Model *m) {
    return &m->table;
}
const Device *model_device(const Model *m) {
    return &m->dev;
}
DType model_precision(const Model *m) {
    return m->act;
}

int model_params_changed(Model *m) {
    if (m->act != DTYPE_BF16) return 0;
    return ops_cast(&m->dev, m->params16, DTYPE_BF16, m->params, m->table.total);
}

int model_set_precision(Model *m, DType act) {
    if (act != DTYPE_F32 && act != DTYPE_BF16)
        return ls_error(LS_ERR_USAGE, "model_set_precision: %d is not a DType", (int)act);
    if (act == DTYPE_BF16 && m->dev.kind != DEVICE_CUDA)
        return ls_error(LS_ERR_UNSUPPORTED, "--precision bf16 runs on the GPU; the CPU computes "
                                            "in fp32");
    if (act == m->act) return 0;
    model_stream_free(m); // key/value caches hold the old storage type
    if (act == DTYPE_BF16 && !m->params16) {
        int status = ops_alloc(&m->dev, (void **)&m->params16,
                               (size_t)m->table.total * dtype_size(DTYPE_BF16),
                               "bf16 copy of the weights");
        if (status < 0) return status;
    }
    m->act = act;
    m->train_ready = 0; // the next forward lays the plan out for this type
    return model_params_changed(m);
}

static float *model_buffer(const Model *m, ModelBuffer which) {
    switch (which) {
    case MODEL_BUF_PARAMS: return m->params;
    case MODEL_BUF_GRADS: return m->grads;
    case MODEL_BUF_ADAM_M: return m->adam_m;
    case MODEL_BUF_ADAM_V: return m->adam_v;
    }
    return NULL;
}

int model_buffer_read(const Model *m, ModelBuffer which, float *host) {
    const float *b = model_buffer(m, which);
    if (!b) return ls_error(LS_ERR_USAGE, "model_buffer_read: unknown buffer %d", (int)which);
    return ops_download(&m->dev, host, b, (size_t)m->table.total * sizeof(float));
}

int model_buffer_write(Model *m, ModelBuffer which, const float *host) {
    float *b = model_buffer(m, which);
    if (!b) return ls_error(LS_ERR_USAGE, "model_buffer_write: unknown buffer %d", (int)which);
    int status = ops_upload(&m->dev, b, host, (size_t)m->table.total * sizeof(float));
    if (status == 0 && which == MODEL_BUF_PARAMS) status = model_params_changed(m);
    return status;
}
float *model_params(Model *m) {
    return m->params;
}
float *model_grads(Model *m) {
    return m->grads;
}
float *model_adam_m(Model *m) {
    return m->adam_m;
}
float *model_adam_v(Model *m) {
    return m->adam_v;
}

size_t model_activation_bytes(const Model *m) {
    return m->plan.bytes;
}

double model_decode_state_bytes(const Model *m, int64_t L) {
    double floats = 0;
    for (int64_t i = 0; i < m->cfg.n_layers; i++)
        floats += model_layer_is_attention(&m->cfg, i)
                      ? 2.0 * (double)L * (double)m->D
                      : (double)m->ndir * (double)m->E * (double)(m->K - 1 + m->N);
    return floats * sizeof(float);
}

int model_zero_grads(Model *m) {
    return ops_zero(&m->dev, DTYPE_F32, m->grads, m->table.total);
}

int model_set_tile_rows(Model *m, int64_t rows) {
    if (rows < 1) return ls_error(LS_ERR_RANGE, "tile rows %lld: must be at least 1",
                                  (long long)rows);
    m->tile_rows = rows;
    m->tile_rows_auto = 0;
    return 0;
}

int model_set_seq_slices(Model *m, int64_t G) {
    if (G < 1) return ls_error(LS_ERR_USAGE, "--seq-slices %lld: must be at least 1",
                               (long long)G);
    if (G > 1 && model_attention_layers(&m->cfg) > 0)
        return ls_error(LS_ERR_UNSUPPORTED, "--seq-slices %lld: a %s model has attention "
                        "layers, which sequence parallelism does not cut (Mamba and bimamba "
                        "only)", (long long)G, model_arch_name(m->cfg.arch));
    if (G > INT32_MAX) return ls_error(LS_ERR_USAGE, "--seq-slices %lld: too many",
                                       (long long)G);
    m->seq_slices = G;
    return 0;
}

int64_t model_seq_slices(const Model *m) { return m->seq_slices; }

void model_set_slice_exchange(Model *m, const SliceExchange *x) {
    m->exchange = x ? x : &slice_exchange_in_process;
}

int model_set_grad_checkpoint(Model *m, int64_t K) {
    if (K < 1)
        return ls_error(LS_ERR_USAGE, "--grad-checkpoint %lld: must be at least 1 (1 keeps "
                        "every layer's input)", (long long)K);
    m->grad_ckpt = K;
    return 0;
}

int64_t model_grad_checkpoint(const Model *m) { return m->grad_ckpt; }

void model_set_default_seq_slices(int64_t G) { default_seq_slices = G > 1 ? G : 1; }

int model_set_dropout(Model *m, double p, uint64_t seed) {
    if (!(p >= 0.0 && p < 1.0))
        return ls_error(LS_ERR_USAGE, "dropout %g: must be at least 0 and below 1", p);
    m->drop_p = p;
    m->drop_seed = seed;
    return 0;
}

void model_set_dropout_step(Model *m, int64_t step) { m->drop_step = step; }

double model_dropout(const Model *m) { return m->drop_p; }

int model_profile_start(const Model *m) { return ops_profile_start(&m->dev); }
int model_profile_stop(ModelProfile *out) { return ops_profile_stop(out); }
void model_profile_free(void) { ops_profile_free(); }

// ------------------------------------------------------------------------------ the plan

typedef struct {
    char *base; // NULL: only count
    size_t off;
} Bump;

static void *bump(Bump *b, size_t bytes) {
    size_t at = b->off;
    b->off += (bytes + 255) / 256 * 256;
    return b->base ? b->base + at : NULL;
}

#define FLOATS(n) ((float *)bump(&bp, (size_t)(n) * sizeof(float)))
// a block activation: the model's activation type (bf16 takes half the bytes)
#define ACTS(n) ((float *)bump(&bp, (size_t)(n) * dtype_size(m->act)))

// Lay the plan out over base (NULL: just size it). Returns the bytes needed.
static size_t plan_layout(Model *m, Plan *p, char *base) {
    const ModelConfig *c = &m->cfg;
    const int64_t Be = p->Be, L = p->L, M = Be * L, D = m->D, nl = c->n_layers;
    const int gpu = m->dev.kind == DEVICE_CUDA;
    Bump bp = {base, 0};
    // logits: on the GPU always (they are copied back), on the CPU for the training step only
    // (model_forward writes the caller's buffer there)
    p->logits_rows = 0;
    if (m->plan_logits && (gpu || p->train))
        p->logits_rows = c->task != MODEL_TASK_LM ? p->S : m->sel_rows >= 0 ? m->sel_rows : M;
    const int64_t width = c->task == MODEL_TASK_LM ? c->vocab : c->n_classes;
    // (the sizing pass has base NULL: decide by the sizes, never by the pointers)
    const int with_loss = p->logits_rows > 0 && p->train;
    p->logits = p->logits_rows > 0 ? FLOATS(p->logits_rows * width) : NULL;
    p->dlogits = with_loss ? FLOATS(p->logits_rows * width) : NULL;
    p->targets = with_loss ? (int32_t *)bump(&bp, (size_t)p->logits_rows * sizeof(int32_t)) : NULL;
    p->row_loss = with_loss ? FLOATS(p->logits_rows) : NULL;
    p->loss = with_loss ? (double *)bump(&bp, sizeof(double)) : NULL;
    p->in_tokens = gpu && c->input == MODEL_INPUT_TOKENS ? (uint8_t *)bump(&bp, (size_t)(p->B * L))
                                                          : NULL;
    p->in_ids = gpu && c->input == MODEL_INPUT_TOKENS
                    ? (int32_t *)bump(&bp, (size_t)(p->B * L) * sizeof(int32_t))
                    : NULL;
    p->in_samples = gpu && c->input == MODEL_INPUT_WAVEFORM ? FLOATS(p->B * p->Ls) : NULL;
    p->ids =
        c->input == MODEL_INPUT_TOKENS ? (int32_t *)bump(&bp, (size_t)M * sizeof(int32_t)) : NULL;
    p->frames = c->input == MODEL_INPUT_WAVEFORM ? FLOATS(p->B * L * c->frame) : NULL;
    p->len = (int64_t *)bump(&bp, (size_t)Be * sizeof(int64_t));
    p->slen = (int64_t *)bump(&bp, (size_t)p->B * sizeof(int64_t));
    if (p->packed && p->ranks < 2) { // (a split keeps its own maps, below)
        p->reset = (uint8_t *)bump(&bp, (size_t)M);
        p->mirror = (int32_t *)bump(&bp, (size_t)M * sizeof(int32_t));
        p->seq_start = (int64_t *)bump(&bp, (size_t)p->Se * sizeof(int64_t));
        p->seq_len = (int64_t *)bump(&bp, (size_t)p->Se * sizeof(int64_t));
        p->frame_end = c->input == MODEL_INPUT_WAVEFORM
                           ? (int64_t *)bump(&bp, (size_t)(p->B * L) * sizeof(int64_t))
                           : NULL;
    }
    // training keeps ceil(nl / K) group inputs and the final one; the other K − 1 inputs of
    // a group are recomputed into Rw by the backward (K = 1: every input, no Rw)
    const int64_t Kc = p->keep_every, group = Kc < nl ? Kc : nl;
    p->R = FLOATS((p->train ? (nl + Kc - 1) / Kc + 1 : 1) * M * D);
    p->Rw = p->train && group > 1 ? FLOATS((group - 1) * M * D) : NULL;
    p->aux = FLOATS(M * D);
    p->mean_f = FLOATS(M);
    p->rstd_f = FLOATS(M);
    p->pooled = FLOATS(p->Se * D);
    p->pooled_out = m->rows_per_row == 2 ? FLOATS(p->S * D) : p->pooled;
    p->dpooled = FLOATS(p->S * D);
    p->dpool_e = m->rows_per_row == 2 ? FLOATS(p->Se * D) : p->dpooled;
    p->dR = p->train ? FLOATS(M * D) : NULL;
    p->n_sel = m->sel_rows;
    p->sel = p->n_sel > 0 ? (int32_t *)bump(&bp, (size_t)p->n_sel * sizeof(int32_t)) : NULL;
    p->xsel = p->n_sel > 0 ? FLOATS(p->n_sel * D) : NULL;
    p->dxsel = p->n_sel > 0 && p->train ? FLOATS(p->n_sel * D) : NULL;

    // Mamba layers work on tiles of Mt rows, attention blocks on all M; a hybrid has both,
    // and the buffers both use (xn, norm statistics, o, dxn) serve the larger
    const int has_mamba = c->arch != MODEL_TRANSFORMER;
    const int has_attn = c->arch == MODEL_TRANSFORMER || c->arch == MODEL_HYBRID;
    const int64_t Mx = has_attn ? M : Be * p->Tt;
    p->xn = ACTS(Mx * D);
    p->t_mean = FLOATS(Mx);
    p->t_rstd = FLOATS(Mx);
    p->o = ACTS(Mx * D);
    p->dxn = p->train ? ACTS(Mx * D) : NULL;
    if (has_mamba) {
        const int64_t E = m->E, N = m->N, K1 = m->K - 1, W = m->R + 2 * m->N;
        const int64_t Mt = Be * p->Tt;
        p->A = FLOATS(nl * m->ndir * E * N);
        p->xt = ACTS(Mt * D);
        p->xz = ACTS(Mt * 2 * E);
        p->u = ACTS(Mt * E);
        p->dbl = ACTS(Mt * W);
        p->delta = ACTS(Mt * E);
        p->y = ACTS(Mt * E);
        p->cs = K1 > 0 ? FLOATS(Be * E * K1) : NULL;
        p->hs = FLOATS(Be * E * N);
        if (p->train) {
            // the workspace of the longest tile and of the last one: the GPU's grows for
            // short tiles (it splits the channels into more groups)
            ScanArgs sa, last;
            scan_args_init(&sa, Be, p->Tt, E, N);
            sa.dtype = last.dtype = m->act;
            p->bstates = FLOATS(nl * m->ndir * p->ntiles * Be * E * (K1 + N));
            p->ckpt = FLOATS(scan_ckpt_numel(&sa));
            p->scan_ws_bytes = ops_scan_bwd_workspace_size(&m->dev, &sa);
            for (int64_t g = 0; g < p->G; g++) { // each slice's last tile may be shorter
                const int64_t len = model_slice_start(p, g + 1) - model_slice_start(p, g);
                scan_args_init(&last, Be, len - (model_slice_tiles(p, g) - 1) * p->Tt, E, N);
                last.dtype = m->act;
                size_t ws_last = ops_scan_bwd_workspace_size(&m->dev, &last);
                if (ws_last > p->scan_ws_bytes) p->scan_ws_bytes = ws_last;
            }
            p->scan_ws = bump(&bp, p->scan_ws_bytes);
            p->dO = ACTS(Mt * D);
            p->dy = ACTS(Mt * E);
            p->dxz = ACTS(Mt * 2 * E);
            p->du = ACTS(Mt * E);
            p->ddbl = ACTS(Mt * W);
            p->ddelta = ACTS(Mt * E);
            p->dxt = ACTS(Mt * D);
            for (int i = 0; i < 2; i++) {
                p->dh[i] = FLOATS(Be * E * N);
                p->dc[i] = K1 > 0 ? FLOATS(Be * E * K1) : NULL;
            }
            p->dA = FLOATS(E * N);
        }
        if (p->G > 1 || p->ranks > 1) { // slots: the slices, or the ranks of a split
            const int64_t BEN = Be * E * N, G = p->G > 1 ? p->G : p->ranks;
            p->sp_ones = FLOATS(BEN);
            p->sp_zeros = FLOATS(E);
            p->sp_P = FLOATS((p->train ? nl * m->ndir : 1) * G * BEN);
            p->sp_e = FLOATS(G * BEN);
            p->sp_h = FLOATS(G * BEN);
            p->sp_halo = K1 > 0 ? FLOATS(G * Be * E * K1) : NULL;
            if (p->train) {
                p->sp_dhalo = K1 > 0 ? FLOATS(G * Be * E * K1) : NULL;
                p->sp_dl = FLOATS(G * BEN);
                p->sp_dpar = FLOATS(2 * E + E * m->K);
            }
        }
    }
    if (p->ranks > 1) { // the memory split's maps (model_batch_lengths fills them)
        p->len_walk = (int64_t *)bump(&bp, (size_t)Be * sizeof(int64_t));
        if (m->ndir == 2) {
            p->rev_mirror = (int32_t *)bump(&bp, (size_t)M * sizeof(int32_t));
            p->rev_reset = (uint8_t *)bump(&bp, (size_t)M);
        }
        if (p->packed) p->reset = (uint8_t *)bump(&bp, (size_t)M);
        if (c->task == MODEL_TASK_CLASSIFY) {
            p->pool_start = (int64_t *)bump(&bp, (size_t)p->S * sizeof(int64_t));
            p->pool_len = (int64_t *)bump(&bp, (size_t)p->S * sizeof(int64_t));
            p->pool_w = FLOATS(p->S * D);
            p->pool_tmp = FLOATS(p->S * D);
        }
    }
    if (has_attn) {
        const int64_t F = m->F;
        p->qkv = ACTS(M * 3 * D);
        p->qr = ACTS(M * D);
        p->kr = ACTS(M * D);
        p->att = ACTS(M * D);
        p->lse = FLOATS(Be * m->H * L);
        if (F > 0) { // the MLP's (none in an attention-only block)
            p->xn2 = ACTS(M * D);
            p->mean2 = FLOATS(M);
            p->rstd2 = FLOATS(M);
            p->h1 = ACTS(M * F);
            p->g = ACTS(M * F);
        }
        if (p->train) {
            p->dqkv = ACTS(M * 3 * D);
            p->dqr = ACTS(M * D);
            p->dkr = ACTS(M * D);
            p->datt = ACTS(M * D);
            if (F > 0) {
                p->mid = FLOATS(M * D);
                p->dh1 = ACTS(M * F);
                p->dg = ACTS(M * F);
                p->dxn2 = ACTS(M * D);
            }
        }
        if (m->act != DTYPE_F32) {
            p->cx = ACTS(M * D);
            p->cdR = p->train ? ACTS(M * D) : NULL;
            p->cdx = p->train ? ACTS(M * D) : NULL;
        }
    }
    return bp.off;
}

int model_plan(Model *m, int64_t B, int64_t L, int64_t Ls, int train) {
    Plan p = {0};
    p.B = B;
    p.Be = B * m->rows_per_row;
    p.L = L;
    p.Ls = Ls;
    p.train = train;
    p.keep_every = train ? m->grad_ckpt : 1;
    p.packed = m->pack_seqs > 0;
    p.S = p.packed ? m->pack_seqs : B;
    p.Se = p.S * m->rows_per_row;
    m->pack_seqs = 0; // one plan: streams and layerwise runs plan unpacked rows
    p.G = m->plan_slices > 1 ? m->plan_slices : 1;
    m->plan_slices = 0; // likewise: streams and layerwise runs are not sliced
    if (p.G > 1 && m->exchange->distributed) { // the memory split: one slice, this rank's
        p.ranks = p.G;
        p.rank = m->exchange->rank;
        p.pos0 = m->split_lo;
        p.Lg = L;
        p.L = L = m->split_hi - m->split_lo;
        p.G = 1;
    }
    if (m->cfg.arch == MODEL_TRANSFORMER) {
        p.Tt = L;
    } else {
        int64_t rows = m->tile_rows;
        // the GPU default (not a value a caller set): a quarter of a long input's rows
        if (m->tile_rows_auto && rows == MODEL_TILE_ROWS_CUDA) {
            const int64_t quarter = p.Be * L / 4;
            if (quarter > rows) rows = quarter;
            if (rows > MODEL_TILE_ROWS_CUDA_MAX) rows = MODEL_TILE_ROWS_CUDA_MAX;
        }
        int64_t per_row = rows / p.Be;
        p.Tt = per_row < 1 ? 1 : per_row < L ? per_row : L;
        // a slice's halo runs as one tile of K−1 positions (mamba.c slice_halo)
        if ((p.G > 1 || p.ranks > 1) && p.Tt < m->K - 1) p.Tt = m->K - 1;
    }
    p.ntiles = 0;
    for (int64_t g = 0; g < p.G; g++) p.ntiles += model_slice_tiles(&p, g);
    size_t need = plan_layout(m, &p, NULL);
    if (need > m->arena_cap) {
        ops_free(&m->dev, m->arena);
        m->arena = NULL;
        m->arena_cap = 0;
        char what[160];
        snprintf(what, sizeof what, "the activations of %lld rows of %lld positions%s "
                 "(%.1f MiB)", (long long)B, (long long)L, train ? " (training)" : "",
                 (double)need / 1048576.0);
        int status = ops_alloc(&m->dev, &m->arena, need, what);
        if (status < 0) {
            if (m->dev.kind == DEVICE_CPU)
                ls_error(status, "%s: out of memory (lower the batch size or the sequence "
                         "length)", what);
            return status;
        }
        m->arena_cap = need;
    }
    p.bytes = need;
    plan_layout(m, &p, m->arena);
    m->plan = p;
    if ((p.G > 1 || p.ranks > 1) && m->cfg.arch != MODEL_TRANSFORMER) { // sliced scan's
        const int64_t n = p.Be * m->E * m->N;
        float *ones = malloc((size_t)n * sizeof *ones);
        if (!ones) return ls_error(LS_ERR_NOMEM, "model: out of memory for %lld floats",
                                   (long long)n);
        for (int64_t i = 0; i < n; i++) ones[i] = 1.0f;
        int status = ops_to_device(&m->dev, p.sp_ones, ones, n);
        free(ones);
        if (status == 0) status = ops_zero(&m->dev, DTYPE_F32, p.sp_zeros, m->E);
        if (status < 0) return status;
    }
    return 0;
}

// ------------------------------------------------------------------------------ batches

int model_batch_check(const Model *m, const ModelBatch *b, int64_t *L_pos) {
    int status = model_batch_check_shape(m, b, L_pos);
    if (status < 0) return status;
    const ModelConfig *c = &m->cfg;
    if (c->arch == MODEL_TRANSFORMER && c->window > 0)
        for (int64_t i = 0; i < b->B; i++) {
            int64_t n = b->lengths ? b->lengths[i] : b->L;
            if (n > c->window)
                return ls_error(LS_ERR_USAGE,
                                "model batch: row %lld has %lld tokens, more than "
                                "the Transformer's window of %lld (crop it: model_crop_window)",
                                (long long)i, (long long)n, (long long)c->window);
        }
    return 0;
}

int64_t model_batch_sequences(const ModelBatch *b) {
    if (!b->row_seqs) return b->B;
    int64_t S = 0;
    for (int64_t i = 0; i < b->B; i++) S += b->row_seqs[i];
    return S;
}

// The rules of a packed batch (model.h): every row holds whole sequences within its L.
static int batch_check_packed(const Model *m, const ModelBatch *b) {
    const ModelConfig *c = &m->cfg;
    const int64_t F = c->input == MODEL_INPUT_WAVEFORM ? c->frame : 1;
    if (!b->row_seqs || !b->seq_lengths)
        return ls_error(LS_ERR_USAGE, "model batch: a packed batch needs row_seqs and "
                                      "seq_lengths (both)");
    if (b->lengths)
        return ls_error(LS_ERR_USAGE, "model batch: a packed batch gives seq_lengths, not "
                                      "lengths");
    if (model_attention_layers(c) > 0)
        return ls_error(LS_ERR_UNSUPPORTED,
                        "packed batches: the %s's attention would cross the sequences of a "
                        "row (the attention kernels have no block-diagonal mask); give it one "
                        "sequence per row", model_arch_name(c->arch));
    for (int64_t i = 0, k = 0; i < b->B; i++) {
        if (b->row_seqs[i] < 1 || b->row_seqs[i] > b->L)
            return ls_error(LS_ERR_USAGE, "model batch: row %lld packs %lld sequences, expected "
                            "1..%lld", (long long)i, (long long)b->row_seqs[i], (long long)b->L);
        int64_t end = 0; // in input units (samples: the last sequence need not fill its frame)
        for (int64_t j = 0; j < b->row_seqs[i]; j++, k++) {
            const int64_t n = b->seq_lengths[k];
            if (n < 1 || n > b->L)
                return ls_error(LS_ERR_USAGE, "model batch: sequence %lld (row %lld) has length "
                                "%lld, expected 1..%lld", (long long)k, (long long)i,
                                (long long)n, (long long)b->L);
            end += j + 1 < b->row_seqs[i] ? (n + F - 1) / F * F : n;
            if (end > b->L)
                return ls_error(LS_ERR_USAGE, "model batch: the %lld sequences of row %lld "
                                "need %lld %s, more than L = %lld", (long long)b->row_seqs[i],
                                (long long)i, (long long)end, F > 1 ? "samples" : "positions",
                                (long long)b->L);
        }
    }
    return 0;
}

int model_batch_check_shape(const Model *m, const ModelBatch *b, int64_t *L_pos) {
    const ModelConfig *c = &m->cfg;
    if (!b || b->B < 1 || b->L < 1)
        return ls_error(LS_ERR_USAGE, "model batch: B and L must be >= 1");
    if (b->B > (INT64_C(1) << 31) || b->L > (INT64_C(1) << 40))
        return ls_error(LS_ERR_USAGE, "model batch: B = %lld, L = %lld out of range",
                        (long long)b->B, (long long)b->L);
    if (c->input == MODEL_INPUT_TOKENS && !b->tokens == !b->ids)
        return ls_error(LS_ERR_USAGE, "model batch: the model reads tokens: give tokens or ids "
                                      "(one of them)");
    if (b->ids && m->rows_per_row == 2)
        return ls_error(LS_ERR_USAGE, "model batch: the reverse-complement model reads DNA "
                                      "tokens, not ids");
    if (c->task == MODEL_TASK_LM && b->B * b->L > INT32_MAX)
        return ls_error(LS_ERR_USAGE, "model batch: %lld positions; a language model batch "
                        "holds at most %d", (long long)(b->B * b->L), INT32_MAX);
    if (c->input == MODEL_INPUT_WAVEFORM && !b->samples)
        return ls_error(LS_ERR_USAGE, "model batch: the model reads waveform samples, the batch "
                                      "has none");
    for (int64_t i = 0; b->lengths && i < b->B; i++)
        if (b->lengths[i] < 1 || b->lengths[i] > b->L)
            return ls_error(LS_ERR_USAGE, "model batch: row %lld has length %lld, expected 1..%lld",
                            (long long)i, (long long)b->lengths[i], (long long)b->L);
    *L_pos = c->input == MODEL_INPUT_WAVEFORM ? (b->L + c->frame - 1) / c->frame : b->L;
    if (b->row_seqs || b->seq_lengths) {
        int status = batch_check_packed(m, b);
        if (status < 0) return status;
    }
    // the GPU converts tokens without looking at them (a check there would wait for the
    // device): the host checks them here, with the CPU op's message (glue_tokens_to_ids_cpu)
    if (m->dev.kind != DEVICE_CPU && c->input == MODEL_INPUT_TOKENS)
        for (int64_t i = 0, k = 0; i < b->B; i++) {
            int64_t n = b->lengths ? b->lengths[i] : b->L;
            if (b->row_seqs)
                for (int64_t j = n = 0; j < b->row_seqs[i]; j++) n += b->seq_lengths[k++];
            for (int64_t t = 0; t < n; t++) {
                const int64_t v = b->ids ? b->ids[i * b->L + t] : b->tokens[i * b->L + t];
                if (v >= 0 && v < c->vocab) continue;
                return ls_error(LS_ERR_USAGE,
                                "batch row %lld position %lld: %s %lld is outside the model's "
                                "vocabulary of %lld",
                                (long long)i, (long long)t, b->ids ? "id" : "token",
                                (long long)v, (long long)c->vocab);
            }
        }
    return 0;
}

// Host arrays of at least n entries (grown, never shrunk).
static int grow(void **ptr, int64_t *cap, int64_t n, size_t size) {
    if (n <= *cap) return 0;
    void *q = realloc(*ptr, (size_t)n * size);
    if (!q) return ls_error(LS_ERR_NOMEM, "model: out of host memory for %lld rows",
                            (long long)n);
    *ptr = q;
    *cap = n;
    return 0;
}

// A packed batch's maps on the host (model_internal.h Plan): sequence starts for the conv and
// the scan, each position's mirror within its sequence, the sequences' first rows and lengths
// for pooling, and (waveform) where each frame's sequence ends. rc rows repeat their row's maps.
static int batch_pack_maps(Model *m, const ModelBatch *b) {
    Plan *p = &m->plan;
    const int64_t B = p->B, L = p->L, S = p->S, rc = m->rows_per_row == 2;
    const int64_t F = m->cfg.input == MODEL_INPUT_WAVEFORM ? m->cfg.frame : 1;
    int64_t cap = m->h_pos_cap, scap = m->h_seq_cap;
    int status = grow((void **)&m->h_reset, &cap, p->Be * L, sizeof *m->h_reset);
    if (status == 0) status = grow((void **)&m->h_mirror, &m->h_pos_cap, p->Be * L,
                                   sizeof *m->h_mirror);
    if (status == 0) status = grow((void **)&m->h_seq_start, &scap, p->Se, sizeof(int64_t));
    if (status == 0) status = grow((void **)&m->h_seq_len, &m->h_seq_cap, p->Se, sizeof(int64_t));
    if (status == 0 && p->frame_end)
        status = grow((void **)&m->h_frame_end, &m->h_fe_cap, B * L, sizeof(int64_t));
    if (status < 0) return status;
    memset(m->h_reset, 0, (size_t)(p->Be * L));
    for (int64_t i = 0, k = 0; i < B; i++) {
        int64_t pos = 0;
        for (int64_t j = 0; j < b->row_seqs[i]; j++, k++) {
            const int64_t n = b->seq_lengths[k], np = (n + F - 1) / F;
            m->h_seq_start[k] = i * L + pos;
            m->h_seq_len[k] = np;
            if (rc) m->h_seq_start[S + k] = (B + i) * L + pos, m->h_seq_len[S + k] = np;
            m->h_reset[i * L + pos] = 1;
            for (int64_t t = pos; t < pos + np; t++) {
                m->h_mirror[i * L + t] = (int32_t)(2 * pos + np - 1 - t);
                if (p->frame_end) m->h_frame_end[i * L + t] = pos * F + n;
            }
            m->h_slen[i] = pos * F + n;
            pos += np;
        }
        m->h_len[i] = pos;
        for (int64_t t = pos; t < L; t++) { // padding: read by no one
            m->h_mirror[i * L + t] = (int32_t)t;
            if (p->frame_end) m->h_frame_end[i * L + t] = 0;
        }
        if (rc) {
            m->h_len[B + i] = pos;
            memcpy(m->h_reset + (B + i) * L, m->h_reset + i * L, (size_t)L);
            memcpy(m->h_mirror + (B + i) * L, m->h_mirror + i * L, (size_t)L * sizeof(int32_t));
        }
    }
    const Device *dev = &m->dev;
    status = ops_upload(dev, p->reset, m->h_reset, (size_t)(p->Be * L));
    if (status == 0)
        status = ops_upload(dev, p->mirror, m->h_mirror, (size_t)(p->Be * L) * sizeof(int32_t));
    if (status == 0)
        status = ops_upload(dev, p->seq_start, m->h_seq_start, (size_t)p->Se * sizeof(int64_t));
    if (status == 0)
        status = ops_upload(dev, p->seq_len, m->h_seq_len, (size_t)p->Se * sizeof(int64_t));
    if (status == 0 && p->frame_end)
        status = ops_upload(dev, p->frame_end, m->h_frame_end, (size_t)(B * L) * sizeof(int64_t));
    return status;
}

// realloc to n elements (host maps of the memory split; sizes follow the batch's slice).
static int resize(void **ptr, int64_t n, size_t size) {
    void *q = realloc(*ptr, (size_t)(n > 0 ? n : 1) * size);
    if (!q) return ls_error(LS_ERR_NOMEM, "model: out of host memory for %lld values",
                            (long long)n);
    *ptr = q;
    return 0;
}

/*
 * The memory split's maps (Plan.ranks > 1; tokens, one backbone row per row): this rank holds
 * positions [lo, hi) of every row. Valid positions per row (len), its slice of the sequence
 * starts (packed), the reverse walk's map and resets (bimamba: the whole slice walked from its
 * last position, each sequence cut at its last position, so the walk crosses ranks in reverse
 * rank order and padding never reaches a valid position), and the classifier's pooled parts.
 */
static int split_maps(Model *m, const ModelBatch *b) {
    Plan *p = &m->plan;
    const Device *dev = &m->dev;
    const int64_t B = p->B, L = p->L, lo = p->pos0, hi = lo + L, D = m->D;
    const int rev = m->ndir == 2, cls = m->cfg.task == MODEL_TASK_CLASSIFY;
    int status = resize((void **)&m->h_len_walk, B, sizeof(int64_t));
    if (status == 0 && rev) status = resize((void **)&m->h_rev_mirror, B * L, sizeof(int32_t));
    if (status == 0 && rev) status = resize((void **)&m->h_rev_reset, B * L, 1);
    if (status == 0 && p->packed) status = resize((void **)&m->h_reset, B * L, 1);
    if (status == 0 && cls) status = resize((void **)&m->h_pool_start, p->S, sizeof(int64_t));
    if (status == 0 && cls) status = resize((void **)&m->h_pool_len, p->S, sizeof(int64_t));
    if (status == 0 && cls) status = resize((void **)&m->h_pool_w, p->S * D, sizeof(float));
    if (status < 0) return status;
    if (p->packed) memset(m->h_reset, 0, (size_t)(B * L));
    if (rev) memset(m->h_rev_reset, 0, (size_t)(B * L));
    const PoolMode mode = m->cfg.pool == MODEL_POOL_LAST    ? POOL_LAST
                          : m->cfg.pool == MODEL_POOL_FIRST ? POOL_FIRST
                                                            : POOL_MEAN;
    for (int64_t i = 0, k = 0; i < B; i++) {
        int64_t pos = 0;
        for (int64_t j = 0; j < model_row_seqs(b, i); j++, k++) {
            const int64_t n = b->row_seqs ? b->seq_lengths[k] : b->lengths ? b->lengths[i] : b->L;
            const int64_t a = pos > lo ? pos : lo, e = pos + n < hi ? pos + n : hi; // local part
            if (p->packed && pos >= lo && pos < hi) m->h_reset[i * L + pos - lo] = 1;
            if (rev && pos + n - 1 >= lo && pos + n - 1 < hi) // its first in the reverse walk
                m->h_rev_reset[i * L + (hi - 1 - (pos + n - 1))] = 1;
            if (cls) {
                const int here = e > a;
                m->h_pool_start[k] = i * L + (here ? a - lo : 0);
                m->h_pool_len[k] = here ? e - a : 1; // (weight 0 below when not here)
                const int64_t at = mode == POOL_FIRST ? pos : pos + n - 1;
                const double w = mode == POOL_MEAN ? (here ? (double)(e - a) / (double)n : 0.0)
                                 : at >= lo && at < hi ? 1.0 : 0.0;
                if (mode != POOL_MEAN && w > 0) { // the pool picks the local first / last
                    m->h_pool_start[k] = i * L + at - lo;
                    m->h_pool_len[k] = 1;
                }
                for (int64_t d = 0; d < D; d++) m->h_pool_w[k * D + d] = (float)w;
            }
            pos += n;
        }
        m->h_len[i] = pos <= lo ? 0 : pos >= hi ? L : pos - lo; // valid positions held here
        m->h_slen[i] = m->h_len[i];
        m->h_len_walk[i] = L;
        for (int64_t s = 0; rev && s < L; s++) // walk s ↔ position L−1−s, padding: none
            m->h_rev_mirror[i * L + s] = L - 1 - s < m->h_len[i] ? (int32_t)(L - 1 - s) : -1;
    }
    status = ops_upload(dev, p->len_walk, m->h_len_walk, (size_t)B * sizeof(int64_t));
    if (status == 0 && rev)
        status = ops_upload(dev, p->rev_mirror, m->h_rev_mirror, (size_t)(B * L) * sizeof(int32_t));
    if (status == 0 && rev) status = ops_upload(dev, p->rev_reset, m->h_rev_reset, (size_t)(B * L));
    if (status == 0 && p->packed) status = ops_upload(dev, p->reset, m->h_reset, (size_t)(B * L));
    if (status == 0 && cls)
        status = ops_upload(dev, p->pool_start, m->h_pool_start, (size_t)p->S * sizeof(int64_t));
    if (status == 0 && cls)
        status = ops_upload(dev, p->pool_len, m->h_pool_len, (size_t)p->S * sizeof(int64_t));
    if (status == 0 && cls) status = ops_to_device(dev, p->pool_w, m->h_pool_w, p->S * D);
    return status;
}

int model_batch_lengths(Model *m, const ModelBatch *b) {
    Plan *p = &m->plan;
    const int64_t F = m->cfg.input == MODEL_INPUT_WAVEFORM ? m->cfg.frame : 1;
    int64_t cap = m->h_rows_cap;
    int status = grow((void **)&m->h_len, &cap, p->Be, sizeof *m->h_len);
    if (status == 0) status = grow((void **)&m->h_slen, &m->h_rows_cap, p->Be, sizeof *m->h_slen);
    if (status < 0) return status;
    if (p->ranks > 1) {
        if ((status = split_maps(m, b)) < 0) return status;
    } else if (p->packed) {
        if ((status = batch_pack_maps(m, b)) < 0) return status;
    } else {
        for (int64_t i = 0; i < b->B; i++) {
            int64_t n = b->lengths ? b->lengths[i] : b->L;
            m->h_slen[i] = n;
            m->h_len[i] = (n + F - 1) / F;
            if (m->rows_per_row == 2) m->h_len[b->B + i] = m->h_len[i];
        }
    }
    status = ops_upload(&m->dev, p->len, m->h_len, (size_t)p->Be * sizeof *p->len);
    if (status == 0)
        status = ops_upload(&m->dev, p->slen, m->h_slen, (size_t)p->B * sizeof *p->slen);
    if (status == 0 && p->sel) {
        if ((status = grow((void **)&m->h_sel, &m->h_sel_cap, p->n_sel, sizeof *m->h_sel)) < 0)
            return status;
        model_batch_selected(m, b, m->h_sel);
        status = ops_upload(&m->dev, p->sel, m->h_sel, (size_t)p->n_sel * sizeof *p->sel);
    }
    return status;
}

/*
 * Next-token targets of an LM batch, one walk for model_batch_selected and model_lm_targets:
 * position t of row b predicts the token at t + 1 when both are in the same sequence (a row,
 * or one sequence of a packed row). With @p all, one entry per position (ignored ones as
 * LOSS_IGNORE_INDEX); else the scored positions of the target mask only. Writes their flat
 * indices to @p sel and their targets to @p targets when not NULL; returns the count.
 */
static int64_t lm_walk(const Model *m, const ModelBatch *b, int all, int32_t *sel,
                       int32_t *targets) {
    const int64_t L = b->L;
    // the memory split (forward_impl): positions [lo, hi) only, rows of hi − lo positions
    const int split = m->split_hi > 0;
    const int64_t lo = split ? m->split_lo : 0, hi = split ? m->split_hi : L;
    int64_t rows = 0;
    for (int64_t i = 0, k = 0; i < b->B; i++) {
        int64_t pos = 0;
        for (int64_t j = 0; j < model_row_seqs(b, i); j++) {
            const int64_t end = b->row_seqs ? pos + model_seq_positions(m, b->seq_lengths[k++])
                                : b->lengths ? b->lengths[i] : L;
            for (int64_t t = pos > lo ? pos : lo; t < end && t < hi; t++) {
                const int64_t next = i * L + t + 1;
                const int scored = t + 1 < end && (!b->target || b->target[next]);
                if (!all && !scored) continue;
                if (sel) sel[rows] = (int32_t)(i * (hi - lo) + t - lo);
                if (targets)
                    targets[rows] = !scored        ? LOSS_IGNORE_INDEX
                                    : b->answers ? b->answers[next]
                                    : b->ids     ? b->ids[next]
                                                 : (int32_t)b->tokens[next];
                rows++;
            }
            pos = end;
        }
        for (int64_t t = pos > lo ? pos : lo; all && t < hi; t++) { // padding
            if (sel) sel[rows] = (int32_t)(i * (hi - lo) + t - lo);
            if (targets) targets[rows] = LOSS_IGNORE_INDEX;
            rows++;
        }
    }
    return rows;
}

int64_t model_batch_selected(const Model *m, const ModelBatch *b, int32_t *sel) {
    if (m->cfg.task != MODEL_TASK_LM || !b->target) return -1;
    return lm_walk(m, b, 0, sel, NULL);
}

int64_t model_output_rows(const Model *m, const ModelBatch *b) {
    if (m->cfg.task != MODEL_TASK_LM) return model_batch_sequences(b);
    int64_t k = model_batch_selected(m, b, NULL);
    return k >= 0 ? k : b->B * b->L;
}

// ------------------------------------------------------------------------------ forward / backward

// Each layer runs its own block (a hybrid mixes them; one definition of each block).
static int layer_fwd(Model *m, int i, const float *X_in, float *X_out) {
    if (model_layer_is_attention(&m->cfg, i)) return transformer_layer_fwd(m, i, X_in, X_out);
    return mamba_layer_fwd(m, i, X_in, X_out, NULL);
}

/* Where the training plan keeps layer i's input (i = n_layers: the head's input): kept ones in
 * R (i a multiple of K, and the final one), the rest of a group in Rw, where the forward writes
 * them on its way and the backward recomputes them (group_recompute). K = 1: R + i·MD. */
static float *layer_input(const Model *m, int64_t i) {
    const Plan *p = &m->plan;
    const int64_t K = p->keep_every, nl = m->cfg.n_layers, MD = p->Be * p->L * m->D;
    if (i == nl) return p->R + (nl + K - 1) / K * MD;
    if (i % K == 0) return p->R + i / K * MD;
    return p->Rw + (i % K - 1) * MD;
}

/* The inputs of layers first + 1 … top of top's group (first = its kept input) again, by the
 * training forward's own calls in its order: the same bytes, the same dropout masks (they are
 * drawn for drop_step_fwd) and, split across ranks, the same exchanges on every rank. The
 * layers' other per-layer records (tile states, slice summaries) are written again alike. */
static int group_recompute(Model *m, int64_t top) {
    int status = 0;
    for (int64_t j = top - top % m->plan.keep_every; j < top && status == 0; j++)
        status = layer_fwd(m, (int)j, layer_input(m, j), layer_input(m, j + 1));
    return status;
}

// Width of a logits row.
static int64_t logits_width(const Model *m) {
    return m->cfg.task == MODEL_TASK_LM ? m->cfg.vocab : m->cfg.n_classes;
}

/* What the memory split (a distributed exchange: one slice per rank, docs/parallel.md) does
 * not do, refused in one line. */
static int split_check(const Model *m) {
    const char *what = m->cfg.input != MODEL_INPUT_TOKENS ? "a waveform model (frames of samples "
                                                            "are not cut across ranks)"
                       : m->rows_per_row == 2 ? "the reverse-complement-equivariant model (its "
                                                "complement rows walk every row backwards)"
                       : m->drop_p > 0 ? "--dropout (its masks are numbered by the whole "
                                               "row's positions)"
                                             : NULL;
    if (what)
        return ls_error(LS_ERR_UNSUPPORTED, "--seq-parallel: %s is not supported; train it "
                        "without --seq-parallel", what);
    return 0;
}

// This rank's slice of the batch's tokens (or ids) as a batch of hi − lo positions a row, for
// the input stage: the device holds and uploads only those.
static int split_batch(Model *m, const ModelBatch *b, ModelBatch *local) {
    const int64_t lo = m->split_lo, n = m->split_hi - lo, B = b->B;
    *local = *b;
    local->L = n;
    int status = 0;
    if (b->ids) {
        if ((status = resize((void **)&m->h_split_ids, B * n, sizeof(int32_t))) < 0) return status;
        for (int64_t i = 0; i < B; i++)
            memcpy(m->h_split_ids + i * n, b->ids + i * b->L + lo, (size_t)n * sizeof(int32_t));
        local->ids = m->h_split_ids;
    } else {
        if ((status = resize((void **)&m->h_split_tokens, B * n, 1)) < 0) return status;
        for (int64_t i = 0; i < B; i++)
            memcpy(m->h_split_tokens + i * n, b->tokens + i * b->L + lo, (size_t)n);
        local->tokens = m->h_split_tokens;
    }
    return 0;
}

/*
 * The forward over the stack. @p logits and @p embed_out are host memory (NULL: not wanted);
 * with both NULL (the training step) the logits stay in the plan (plan.logits) on the device.
 * On the CPU the head writes the caller's buffers directly; on the GPU it writes the plan's,
 * copied back at the end.
 */
static int forward_impl(Model *m, const ModelBatch *batch, float *logits, float *embed_out,
                        int train) {
    int64_t L;
    int status = model_batch_check(m, batch, &L);
    if (status < 0) return status;
    m->train_ready = 0;
    if (train) m->drop_step_fwd = m->drop_step; // the backward draws this step's masks again
    const int split = m->seq_slices > 1 && m->exchange->distributed;
    m->split_lo = m->split_hi = 0;
    if (split) { // the memory split: this rank's slice of every row (plan, lm_walk)
        if ((status = split_check(m)) < 0) return status;
        m->split_lo = m->exchange->rank * L / m->seq_slices;
        m->split_hi = (m->exchange->rank + 1) * L / m->seq_slices;
    }
    m->sel_rows = embed_out ? -1 : model_batch_selected(m, batch, NULL);
    m->plan_logits = !embed_out;
    m->pack_seqs = batch->row_seqs ? model_batch_sequences(batch) : 0;
    if (m->seq_slices > 1 && L < m->seq_slices * (m->K - 1 > 1 ? m->K - 1 : 1))
        return ls_error(LS_ERR_USAGE, "%s %lld%s: a batch of %lld positions per row "
                        "cannot give every slice the conv's halo of d_conv - 1 = %lld "
                        "positions (at most %lld slices)",
                        m->exchange->distributed ? "--seq-parallel over" : "--seq-slices",
                        (long long)m->seq_slices, m->exchange->distributed ? " ranks" : "",
                        (long long)L, (long long)(m->K - 1),
                        (long long)(L / (m->K - 1 > 1 ? m->K - 1 : 1)));
    m->plan_slices = (int)m->seq_slices;
    if ((status = model_plan(m, batch->B, L, batch->L, train)) < 0) return status;
    if ((status = model_batch_lengths(m, batch)) < 0) return status;
    Plan *p = &m->plan;
    const int cpu = m->dev.kind == DEVICE_CPU;
    float *head_logits = cpu && logits ? logits : embed_out ? NULL : p->logits;
    float *head_embed = !embed_out ? NULL : cpu ? embed_out : p->dpooled;
    float *X = p->R, *spare = p->aux;
    ModelBatch local;
    if (split && (status = split_batch(m, batch, &local)) < 0) return status;
    if ((status = model_input_fwd(m, split ? &local : batch, X)) < 0) return status;
    if (m->cfg.arch != MODEL_TRANSFORMER && (status = mamba_prepare_A(m)) < 0) return status;
    for (int i = 0; i < m->cfg.n_layers; i++) {
        if (train) {
            status = layer_fwd(m, i, layer_input(m, i), layer_input(m, i + 1));
        } else if (m->ndir == 2) { // the reverse pass reads the layer input: ping-pong
            status = layer_fwd(m, i, X, spare);
            float *t = X;
            X = spare, spare = t;
        } else {
            status = layer_fwd(m, i, X, X);
        }
        if (status < 0) return status;
    }
    if (train) X = layer_input(m, m->cfg.n_layers), spare = p->aux;
    if ((status = model_head_fwd(m, X, spare, head_logits, head_embed)) < 0) return status;
    if (!cpu && logits)
        status = ops_download(&m->dev, logits, p->logits,
                              (size_t)(p->logits_rows * logits_width(m)) * sizeof(float));
    if (!cpu && embed_out)
        status = ops_download(&m->dev, embed_out, p->dpooled,
                              (size_t)(p->S * m->D) * sizeof(float));
    if (status < 0) return status;
    if (train) {
        m->train_ready = 1;
        m->train_B = batch->B;
        m->train_L = batch->L;
    }
    return 0;
}

int model_forward(Model *m, const ModelBatch *batch, float *logits, int train) {
    if (!logits) return ls_error(LS_ERR_USAGE, "model_forward: logits is NULL");
    return forward_impl(m, batch, logits, NULL, train);
}

int model_embed(Model *m, const ModelBatch *batch, float *out) {
    if (!out) return ls_error(LS_ERR_USAGE, "model_embed: out is NULL");
    return forward_impl(m, batch, NULL, out, 0);
}

void model_set_grad_ready(Model *m, ModelGradReady fn, void *ctx) {
    m->grad_ready = fn;
    m->grad_ready_ctx = ctx;
}

// First float of layer i's tensors (the table holds each layer's tensors together).
static int64_t layer_first_offset(const Model *m, int64_t i) {
    for (int j = 0; j < m->table.n; j++)
        if (layer_of(m->table.entries[j].name) == i) return m->table.entries[j].offset;
    return 0; // not reached: every layer has a norm
}

int64_t model_grad_marks(const Model *m, int64_t *marks) {
    const int64_t n = m->cfg.n_layers + 2;
    if (!marks) return n;
    marks[0] = m->table.entries[m->idx_norm_f_w].offset; // head and final norm
    for (int64_t i = m->cfg.n_layers - 1, k = 1; i >= 0; i--, k++)
        marks[k] = layer_first_offset(m, i);
    marks[n - 1] = 0; // the input stage (and a tied LM head)
    return n;
}

// Tell the caller that the gradients from float lo on are final (model_set_grad_ready).
static int grads_final_from(Model *m, int64_t lo) {
    return m->grad_ready ? m->grad_ready(m->grad_ready_ctx, lo) : 0;
}

// The memory split (slice_exchange.h): every rank runs a classifier's head on the summed
// pooled vectors, so its gradients are the same on every rank; rank 0 alone keeps them, the
// others zero [lo, hi) before the gradient all-reduce sums the ranks.
static int replica_grads_drop(Model *m, int64_t lo, int64_t hi) {
    if (!m->exchange->distributed || m->exchange->rank == 0 || m->plan.ranks < 2 || hi <= lo)
        return 0;
    return ops_zero(&m->dev, DTYPE_F32, model_grads(m) + lo, hi - lo);
}

// The backward from dlogits on the model's device.
static int backward_impl(Model *m, const float *dlogits) {
    m->train_ready = 0; // the backward reuses the forward's buffers
    Plan *p = &m->plan;
    const int64_t K = p->keep_every, nl = m->cfg.n_layers;
    int status = model_head_bwd(m, layer_input(m, nl), p->aux, dlogits, p->dR);
    if (status == 0 && m->cfg.task == MODEL_TASK_CLASSIFY) // after the pooled sums: replicated
        status = replica_grads_drop(m, m->table.entries[m->idx_cls_w].offset, m->table.total);
    if (status == 0 && m->grad_ready)
        status = grads_final_from(m, m->table.entries[m->idx_norm_f_w].offset);
    for (int i = m->cfg.n_layers - 1; i >= 0 && status == 0; i--) {
        // the top layer of a group whose other inputs are not kept: recompute them first.
        // Not the top group's: Rw still holds them from the forward, which wrote it last.
        if (i % K != 0 && (i + 1) % K == 0 && i + 1 < nl) status = group_recompute(m, i);
        if (status < 0) break;
        if (model_layer_is_attention(&m->cfg, i))
            status = transformer_layer_bwd(m, i, layer_input(m, i), p->dR);
        else
            status = mamba_layer_bwd(m, i, layer_input(m, i), p->dR);
        if (status == 0 && m->grad_ready) status = grads_final_from(m, layer_first_offset(m, i));
    }
    if (status == 0) status = model_input_bwd(m, p->dR);
    if (status == 0) status = grads_final_from(m, 0);
    return status;
}

static int train_ready_for(const Model *m, const ModelBatch *batch, const char *who) {
    if (!m->train_ready || !batch || batch->B != m->train_B || batch->L != m->train_L)
        return ls_error(LS_ERR_USAGE, "%s: needs model_forward(train=1) on this batch first",
                        who);
    return 0;
}

int model_backward(Model *m, const ModelBatch *batch, const float *dlogits) {
    int status = train_ready_for(m, batch, "model_backward");
    if (status < 0) return status;
    if (m->dev.kind == DEVICE_CPU) return backward_impl(m, dlogits);
    Plan *p = &m->plan;
    status = ops_upload(&m->dev, p->dlogits, dlogits,
                        (size_t)(p->logits_rows * logits_width(m)) * sizeof(float));
    return status < 0 ? status : backward_impl(m, p->dlogits);
}

// The host's targets array holds at least @p M entries (and row_loss with it).
static int targets_reserve(Model *m, int64_t M) {
    if (M <= m->targets_cap) return 0; // grows with the batch, never inside a step of a shape
    int32_t *t = realloc(m->targets, (size_t)M * sizeof *t);
    if (t) m->targets = t;
    float *rl = t ? realloc(m->row_loss, (size_t)M * sizeof *rl) : NULL;
    if (!rl) return ls_error(LS_ERR_NOMEM, "model_loss: out of memory for %lld rows", (long long)M);
    m->row_loss = rl;
    m->targets_cap = M;
    return 0;
}

// The memory split's LM: weight C_r / C of this rank's mean (0 when it scores nothing), C
// summed over the ranks on the host.
static int split_loss_weight(Model *m, int64_t rows, double *weight) {
    double c[2] = {0, 0};
    for (int64_t i = 0; i < rows; i++) c[0] += m->targets[i] != LOSS_IGNORE_INDEX;
    c[1] = c[0];
    int status = m->exchange->all_reduce_host(m->exchange, c + 1, 1);
    if (status < 0) return status;
    *weight = c[1] > 0 ? c[0] / c[1] : 0.0;
    return 0;
}

int model_forward_backward(Model *m, const ModelBatch *batch, const int32_t *labels,
                           float grad_scale, double *mean_loss) {
    const int lm = m->cfg.task == MODEL_TASK_LM;
    if (!lm && !labels)
        return ls_error(LS_ERR_USAGE, "model_forward_backward: classification needs labels");
    *mean_loss = 0.0;
    int status = forward_impl(m, batch, NULL, NULL, 1);
    if (status < 0) return status;
    Plan *p = &m->plan;
    const Device *dev = &m->dev;
    const int64_t rows = p->logits_rows, V = logits_width(m);
    if ((status = targets_reserve(m, lm ? batch->B * batch->L : p->S)) < 0) return status;
    const int32_t *targets = labels;
    if (lm) {
        model_lm_targets(m, batch, m->targets);
        targets = m->targets;
    }
    // the memory split's LM: this rank scores its slice's C_r of the batch's C targets, so
    // its mean enters with weight C_r / C (as a data-parallel rank's rows do)
    double weight = 1.0;
    if (lm && p->ranks > 1 && (status = split_loss_weight(m, rows, &weight)) < 0) return status;
    status = ops_zero(dev, DTYPE_F32, p->dlogits, rows * V);
    if (status == 0 && rows > 0 && weight > 0) {
        status = ops_upload(dev, p->targets, targets, (size_t)rows * sizeof *p->targets);
        if (status == 0)
            status = ops_loss_xent(dev, dev->kind == DEVICE_CPU ? mean_loss : p->loss,
                                   p->row_loss, p->dlogits, p->logits, p->targets, NULL, rows, V,
                                   (float)(grad_scale * weight));
        if (status < 0 && !lm) ls_error_prefix("labels");
    }
    if (status < 0) return status;
    if ((status = backward_impl(m, p->dlogits)) < 0) return status;
    // the one wait of the step: the loss, after the backward is queued
    if (rows > 0 && weight > 0 && dev->kind != DEVICE_CPU)
        status = ops_download(dev, mean_loss, p->loss, sizeof *mean_loss);
    if (status == 0 && lm && p->ranks > 1) { // every rank gets the whole batch's mean
        *mean_loss = weight > 0 ? *mean_loss * weight : 0.0;
        status = m->exchange->all_reduce_host(m->exchange, mean_loss, 1);
    }
    return status;
}

// ------------------------------------------------------------------------------ loss, optimizer

int model_loss(Model *m, const ModelBatch *batch, const float *logits, const int32_t *labels,
               double *mean_loss, float *row_loss, float *dlogits, float grad_scale) {
    static const Device host = {DEVICE_CPU, 0}; // host buffers: the CPU op, on any device
    int64_t L;
    int status = model_batch_check(m, batch, &L);
    if (status < 0) return status;
    const int lm = m->cfg.task == MODEL_TASK_LM;
    const int64_t M = lm ? batch->B * batch->L : model_batch_sequences(batch); // targets' room
    if (!lm && !labels) return ls_error(LS_ERR_USAGE, "model_loss: classification needs labels");
    if ((status = targets_reserve(m, M)) < 0) return status;
    if (!row_loss) row_loss = m->row_loss;
    if (!lm) {
        status = ops_loss_xent(&host, mean_loss, row_loss, dlogits, logits, labels, NULL, M,
                               m->cfg.n_classes, grad_scale);
        if (status < 0) ls_error_prefix("labels");
        return status;
    }
    const int64_t rows = model_lm_targets(m, batch, m->targets);
    if (rows == 0) { // a masked batch without targets: nothing to score
        *mean_loss = 0.0;
        return 0;
    }
    return ops_loss_xent(&host, mean_loss, row_loss, dlogits, logits, m->targets, NULL, rows,
                         m->cfg.vocab, grad_scale);
}

int64_t model_lm_targets(const Model *m, const ModelBatch *batch, int32_t *targets) {
    // next tokens as targets: every position (dense), or the scored ones, packed (mask)
    return lm_walk(m, batch, !batch->target, NULL, targets);
}

int model_optim_tensors(const Model *m, OptimTensor **tensors, int64_t *n) {
    *tensors = malloc((size_t)(m->table.n > 0 ? m->table.n : 1) * sizeof **tensors);
    if (!*tensors) return ls_error(LS_ERR_NOMEM, "model_optim_tensors: out of memory");
    memcpy(*tensors, m->optim, (size_t)m->table.n * sizeof **tensors);
    *n = m->table.n;
    return 0;
}

int model_grad_norm(Model *m, double *norm) {
    return ops_grad_norm(&m->dev, norm, m->grads, m->optim, m->table.n);
}

int model_adamw_step(Model *m, const AdamWConfig *adamw, int64_t step, double lr,
                     float grad_scale) {
    int status = ops_adamw_step(&m->dev, m->params, m->adam_m, m->adam_v, m->grads, m->optim,
                                m->table.n, adamw, step, lr, grad_scale);
    return status < 0 ? status : model_params_changed(m);
}
