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

static void fill_uniform(Model *m, int idx, Rng *rng, double bound) {
    float *x = model_p(m, idx);
    for (int64_t i = 0; i < m->table.entries[idx].numel; i++)
        x[i] = init_uniform(rng, bound);
}

static void fill_const(Model *m, int idx, float value) {
    if (idx < 0) return;
    float *x = model_p(m, idx);
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
static void init_params(Model *m, uint64_t seed) {
    const ModelConfig *c = &m->cfg;
    const double D = (double)m->D, E = (double)m->E;
    // residual branches: one per Mamba layer, two per attention block (attention and MLP;
    // one in an attention-only block)
    const int64_t n_attn = model_attention_layers(c);
    const double n_res = (double)(c->n_layers - n_attn) + (m->F > 0 ? 2.0 : 1.0) * (double)n_attn;
    memset(m->params, 0, (size_t)m->table.total * sizeof(float)); // biases and padding
    for (int t = 0; t < m->table.n; t++) {
        const ParamEntry *e = &m->table.entries[t];
        const char *name = e->name;
        Rng rng;
        rng_seed_stream(&rng, seed, rng_hash_string(name));
        float *x = model_p(m, t);
        size_t len = strlen(name);
#define ENDS(suffix) (len >= strlen(suffix) && strcmp(name + len - strlen(suffix), suffix) == 0)
        if (t == m->idx_embed) { // nn.Embedding under _init_weights: N(0, 0.02)
            for (int64_t i = 0; i < e->numel; i++)
                x[i] = init_normal(&rng, 0.02);
        } else if (t == m->idx_stem_w || t == m->idx_stem_b) { // nn.Conv1d(1, D, frame) default
            fill_uniform(m, t, &rng, 1.0 / sqrt((double)c->frame));
        } else if (ENDS(".A_log")) { // S4D-real: A = −(1..N) per channel
            for (int64_t i = 0; i < e->numel; i++)
                x[i] = logf((float)(i % m->N + 1));
        } else if (ENDS(".D") || ENDS("norm.weight") || ENDS("norm2.weight") ||
                   ENDS("norm_f.weight")) {
            fill_const(m, t, 1.0f);
        } else if (ENDS("conv1d.weight") || ENDS("conv1d.bias")) { // fan_in = K
            fill_uniform(m, t, &rng, 1.0 / sqrt((double)m->K));
        } else if (ENDS("dt_proj.weight")) { // dt_init "random", dt_scale 1
            fill_uniform(m, t, &rng, 1.0 / sqrt((double)m->R));
        } else if (ENDS("dt_proj.bias")) { // inverse softplus of dt ~ logU(dt_min, dt_max)
            const double lo = log((double)c->dt_min), hi = log((double)c->dt_max);
            for (int64_t i = 0; i < e->numel; i++) {
                double dt = exp(rng_uniform(&rng) * (hi - lo) + lo);
                if (dt < 1e-4) dt = 1e-4; // dt_init_floor
                x[i] = (float)(dt + log(-expm1(-dt)));
            }
        } else if (ENDS("in_proj.weight") || t == m->idx_lm_head || t == m->idx_cls_w ||
                   ENDS("fc1.weight")) {
            fill_uniform(m, t, &rng, 1.0 / sqrt(D));
        } else if (ENDS("x_proj.weight")) {
            fill_uniform(m, t, &rng, 1.0 / sqrt(E));
        } else if (ENDS("out_proj.weight") && !model_layer_is_attention(c, layer_of(name))) {
            fill_uniform(m, t, &rng, 1.0 / sqrt(E) / sqrt(n_res)); // Mamba mixer
        } else if (ENDS("out_proj.weight")) {
            fill_uniform(m, t, &rng, 1.0 / sqrt(D) / sqrt(n_res)); // attention
        } else if (ENDS("fc2.weight")) {
            fill_uniform(m, t, &rng, 1.0 / sqrt((double)m->F) / sqrt(n_res));
        }
        // everything else (linear biases, LayerNorm biases) stays 0
#undef ENDS
    }
}

// ------------------------------------------------------------------------------ life cycle

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
    m->tile_rows = MODEL_TILE_ROWS;
    m->sel_rows = -1;
    param_table_init(&m->table);
    m->layers = calloc((size_t)m->cfg.n_layers, sizeof *m->layers);
    if (!m->layers) {
        status = ls_error(LS_ERR_NOMEM, "model: out of memory");
        goto fail;
    }
    TRY(build_table(m));
    size_t bytes = (size_t)m->table.total * sizeof(float);
    TRY(ops_alloc(dev, (void **)&m->params, bytes, "model parameters"));
    TRY(ops_alloc(dev, (void **)&m->grads, bytes, "model gradients"));
    TRY(ops_alloc(dev, (void **)&m->adam_m, bytes, "AdamW moments"));
    TRY(ops_alloc(dev, (void **)&m->adam_v, bytes, "AdamW moments"));
    memset(m->grads, 0, bytes);
    memset(m->adam_m, 0, bytes);
    memset(m->adam_v, 0, bytes);
    m->optim = malloc((size_t)m->table.n * sizeof *m->optim);
    if (!m->optim) {
        status = ls_error(LS_ERR_NOMEM, "model: out of memory");
        goto fail;
    }
    for (int i = 0; i < m->table.n; i++) {
        const ParamEntry *e = &m->table.entries[i];
        m->optim[i] = (OptimTensor){e->offset, e->numel, !(e->flags & PARAM_NO_DECAY)};
    }
    init_params(m, seed);
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
    ops_free(&m->dev, m->stream_state);
    ops_free(&m->dev, m->stream_last);
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

void model_zero_grads(Model *m) {
    memset(m->grads, 0, (size_t)m->table.total * sizeof(float));
}

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

// Lay the plan out over base (NULL: just size it). Returns the bytes needed.
static size_t plan_layout(Model *m, Plan *p, char *base) {
    const ModelConfig *c = &m->cfg;
    const int64_t Be = p->Be, L = p->L, M = Be * L, D = m->D, nl = c->n_layers;
    Bump bp = {base, 0};
    p->ids =
        c->input == MODEL_INPUT_TOKENS ? (int32_t *)bump(&bp, (size_t)M * sizeof(int32_t)) : NULL;
    p->frames = c->input == MODEL_INPUT_WAVEFORM ? FLOATS(p->B * L * c->frame) : NULL;
    p->len = (int64_t *)bump(&bp, (size_t)Be * sizeof(int64_t));
    p->slen = (int64_t *)bump(&bp, (size_t)p->B * sizeof(int64_t));
    p->R = FLOATS((p->train ? nl + 1 : 1) * M * D);
    p->aux = FLOATS(M * D);
    p->mean_f = FLOATS(M);
    p->rstd_f = FLOATS(M);
    p->pooled = FLOATS(Be * D);
    p->pooled_out = m->rows_per_row == 2 ? FLOATS(p->B * D) : p->pooled;
    p->dpooled = FLOATS(p->B * D);
    p->dpool_e = m->rows_per_row == 2 ? FLOATS(Be * D) : p->dpooled;
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
    p->xn = FLOATS(Mx * D);
    p->t_mean = FLOATS(Mx);
    p->t_rstd = FLOATS(Mx);
    p->o = FLOATS(Mx * D);
    p->dxn = p->train ? FLOATS(Mx * D) : NULL;
    if (has_mamba) {
        const int64_t E = m->E, N = m->N, K1 = m->K - 1, W = m->R + 2 * m->N;
        const int64_t Mt = Be * p->Tt;
        p->A = FLOATS(nl * m->ndir * E * N);
        p->xt = FLOATS(Mt * D);
        p->xz = FLOATS(Mt * 2 * E);
        p->u = FLOATS(Mt * E);
        p->dbl = FLOATS(Mt * W);
        p->delta = FLOATS(Mt * E);
        p->y = FLOATS(Mt * E);
        p->cs = K1 > 0 ? FLOATS(Be * E * K1) : NULL;
        p->hs = FLOATS(Be * E * N);
        if (p->train) {
            ScanArgs sa;
            scan_args_init(&sa, Be, p->Tt, E, N);
            p->bstates = FLOATS(nl * m->ndir * p->ntiles * Be * E * (K1 + N));
            p->ckpt = FLOATS(scan_ckpt_numel(&sa));
            p->scan_ws_bytes = ops_scan_bwd_workspace_size(&m->dev, &sa);
            p->scan_ws = bump(&bp, p->scan_ws_bytes);
            p->dO = FLOATS(Mt * D);
            p->dy = FLOATS(Mt * E);
            p->dxz = FLOATS(Mt * 2 * E);
            p->du = FLOATS(Mt * E);
            p->ddbl = FLOATS(Mt * W);
            p->ddelta = FLOATS(Mt * E);
            p->dxt = FLOATS(Mt * D);
            for (int i = 0; i < 2; i++) {
                p->dh[i] = FLOATS(Be * E * N);
                p->dc[i] = K1 > 0 ? FLOATS(Be * E * K1) : NULL;
            }
            p->dA = FLOATS(E * N);
        }
    }
    if (has_attn) {
        const int64_t F = m->F;
        p->qkv = FLOATS(M * 3 * D);
        p->qr = FLOATS(M * D);
        p->kr = FLOATS(M * D);
        p->att = FLOATS(M * D);
        p->lse = FLOATS(Be * m->H * L);
        if (F > 0) { // the MLP's (none in an attention-only block)
            p->xn2 = FLOATS(M * D);
            p->mean2 = FLOATS(M);
            p->rstd2 = FLOATS(M);
            p->h1 = FLOATS(M * F);
            p->g = FLOATS(M * F);
        }
        if (p->train) {
            p->dqkv = FLOATS(M * 3 * D);
            p->dqr = FLOATS(M * D);
            p->dkr = FLOATS(M * D);
            p->datt = FLOATS(M * D);
            if (F > 0) {
                p->mid = FLOATS(M * D);
                p->dh1 = FLOATS(M * F);
                p->dg = FLOATS(M * F);
                p->dxn2 = FLOATS(M * D);
            }
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
    if (m->cfg.arch == MODEL_TRANSFORMER) {
        p.Tt = L;
    } else {
        int64_t per_row = m->tile_rows / p.Be;
        p.Tt = per_row < 1 ? 1 : per_row < L ? per_row : L;
    }
    p.ntiles = (L + p.Tt - 1) / p.Tt;
    size_t need = plan_layout(m, &p, NULL);
    if (need > m->arena_cap) {
        ops_free(&m->dev, m->arena);
        m->arena = NULL;
        m->arena_cap = 0;
        int status = ops_alloc(&m->dev, &m->arena, need, "activations");
        if (status < 0) {
            ls_error(status,
                     "activations for %lld rows of %lld positions%s: out of memory for "
                     "%.1f MiB (lower the batch size or the sequence length)",
                     (long long)B, (long long)L, train ? " (training)" : "",
                     (double)need / 1048576.0);
            return status;
        }
        m->arena_cap = need;
    }
    p.bytes = need;
    plan_layout(m, &p, m->arena);
    m->plan = p;
    return 0;
}

// ------------------------------------------------------------------------------ batches

int model_batch_check(const Model *m, const ModelBatch *b, int64_t *L_pos) {
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
    if (c->arch == MODEL_TRANSFORMER && c->window > 0)
        for (int64_t i = 0; i < b->B; i++) {
            int64_t n = b->lengths ? b->lengths[i] : b->L;
            if (n > c->window)
                return ls_error(LS_ERR_USAGE,
                                "model batch: row %lld has %lld tokens, more than "
                                "the Transformer's window of %lld (crop it: model_crop_window)",
                                (long long)i, (long long)n, (long long)c->window);
        }
    *L_pos = c->input == MODEL_INPUT_WAVEFORM ? (b->L + c->frame - 1) / c->frame : b->L;
    return 0;
}

void model_batch_lengths(Model *m, const ModelBatch *b) {
    Plan *p = &m->plan;
    const int64_t F = m->cfg.input == MODEL_INPUT_WAVEFORM ? m->cfg.frame : 1;
    for (int64_t i = 0; i < b->B; i++) {
        int64_t n = b->lengths ? b->lengths[i] : b->L;
        p->slen[i] = n;
        p->len[i] = (n + F - 1) / F;
        if (m->rows_per_row == 2) p->len[b->B + i] = p->len[i];
    }
    if (p->sel) model_batch_selected(m, b, p->sel);
}

int64_t model_batch_selected(const Model *m, const ModelBatch *b, int32_t *sel) {
    if (m->cfg.task != MODEL_TASK_LM || !b->target) return -1;
    int64_t k = 0;
    for (int64_t i = 0; i < b->B; i++) {
        const int64_t n = b->lengths ? b->lengths[i] : b->L;
        const uint8_t *tg = b->target + i * b->L; // (L)
        for (int64_t t = 0; t + 1 < n; t++) {
            if (!tg[t + 1]) continue;
            if (sel) sel[k] = (int32_t)(i * b->L + t);
            k++;
        }
    }
    return k;
}

int64_t model_output_rows(const Model *m, const ModelBatch *b) {
    if (m->cfg.task != MODEL_TASK_LM) return b->B;
    int64_t k = model_batch_selected(m, b, NULL);
    return k >= 0 ? k : b->B * b->L;
}

// ------------------------------------------------------------------------------ forward / backward

// Each layer runs its own block (a hybrid mixes them; one definition of each block).
static int layer_fwd(Model *m, int i, const float *X_in, float *X_out) {
    if (model_layer_is_attention(&m->cfg, i)) return transformer_layer_fwd(m, i, X_in, X_out);
    return mamba_layer_fwd(m, i, X_in, X_out, NULL);
}

static int forward_impl(Model *m, const ModelBatch *batch, float *logits, float *embed_out,
                        int train) {
    int64_t L;
    int status = model_batch_check(m, batch, &L);
    if (status < 0) return status;
    m->train_ready = 0;
    m->sel_rows = embed_out ? -1 : model_batch_selected(m, batch, NULL);
    if ((status = model_plan(m, batch->B, L, batch->L, train)) < 0) return status;
    model_batch_lengths(m, batch);
    Plan *p = &m->plan;
    const int64_t MD = p->Be * L * m->D;
    float *X = p->R, *spare = p->aux;
    if ((status = model_input_fwd(m, batch, X)) < 0) return status;
    if (m->cfg.arch != MODEL_TRANSFORMER && (status = mamba_prepare_A(m)) < 0) return status;
    for (int i = 0; i < m->cfg.n_layers; i++) {
        if (train) {
            status = layer_fwd(m, i, p->R + i * MD, p->R + (i + 1) * MD);
        } else if (m->ndir == 2) { // the reverse pass reads the layer input: ping-pong
            status = layer_fwd(m, i, X, spare);
            float *t = X;
            X = spare, spare = t;
        } else {
            status = layer_fwd(m, i, X, X);
        }
        if (status < 0) return status;
    }
    if (train) X = p->R + m->cfg.n_layers * MD, spare = p->aux;
    if ((status = model_head_fwd(m, X, spare, logits, embed_out)) < 0) return status;
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

int model_backward(Model *m, const ModelBatch *batch, const float *dlogits) {
    if (!m->train_ready || !batch || batch->B != m->train_B || batch->L != m->train_L)
        return ls_error(LS_ERR_USAGE, "model_backward: needs model_forward(train=1) on this "
                                      "batch first");
    m->train_ready = 0; // the backward reuses the forward's buffers
    Plan *p = &m->plan;
    const int64_t MD = p->Be * p->L * m->D;
    int status = model_head_bwd(m, p->R + m->cfg.n_layers * MD, p->aux, dlogits, p->dR);
    for (int i = m->cfg.n_layers - 1; i >= 0 && status == 0; i--) {
        if (model_layer_is_attention(&m->cfg, i))
            status = transformer_layer_bwd(m, i, p->R + i * MD, p->dR);
        else
            status = mamba_layer_bwd(m, i, p->R + i * MD, p->dR);
    }
    if (status == 0) status = model_input_bwd(m, p->dR);
    return status;
}

// ------------------------------------------------------------------------------ loss, optimizer

int model_loss(Model *m, const ModelBatch *batch, const float *logits, const int32_t *labels,
               double *mean_loss, float *row_loss, float *dlogits, float grad_scale) {
    int64_t L;
    int status = model_batch_check(m, batch, &L);
    if (status < 0) return status;
    const int lm = m->cfg.task == MODEL_TASK_LM;
    const int64_t M = lm ? batch->B * batch->L : batch->B; // room for the targets
    if (!lm && !labels) return ls_error(LS_ERR_USAGE, "model_loss: classification needs labels");
    if (M > m->targets_cap) { // grows with the batch, never inside a step of a fixed shape
        int32_t *t = realloc(m->targets, (size_t)M * sizeof *t);
        if (t) m->targets = t;
        float *rl = t ? realloc(m->row_loss, (size_t)M * sizeof *rl) : NULL;
        if (!rl)
            return ls_error(LS_ERR_NOMEM, "model_loss: out of memory for %lld rows", (long long)M);
        m->row_loss = rl;
        m->targets_cap = M;
    }
    if (!row_loss) row_loss = m->row_loss;
    if (!lm) {
        status = ops_loss_xent(&m->dev, mean_loss, row_loss, dlogits, logits, labels, NULL,
                               batch->B, m->cfg.n_classes, grad_scale);
        if (status < 0) ls_error_prefix("labels");
        return status;
    }
    const int64_t rows = model_lm_targets(m, batch, m->targets);
    if (rows == 0) { // a masked batch without targets: nothing to score
        *mean_loss = 0.0;
        return 0;
    }
    return ops_loss_xent(&m->dev, mean_loss, row_loss, dlogits, logits, m->targets, NULL, rows,
                         m->cfg.vocab, grad_scale);
}

int64_t model_lm_targets(const Model *m, const ModelBatch *batch, int32_t *targets) {
    (void)m;
    // next tokens as targets: every position (dense), or the scored ones, packed (mask)
    const int64_t L = batch->L;
    int64_t rows = 0;
    for (int64_t b = 0; b < batch->B; b++) {
        const int64_t n = batch->lengths ? batch->lengths[b] : L;
        for (int64_t t = 0; t < L; t++) {
            const int64_t next = b * L + t + 1;
            const int32_t tok = t + 1 >= n       ? LOSS_IGNORE_INDEX
                                : batch->answers ? batch->answers[next]
                                : batch->ids     ? batch->ids[next]
                                                 : (int32_t)batch->tokens[next];
            if (!batch->target) targets[rows++] = tok;
            else if (t + 1 < n && batch->target[next]) targets[rows++] = tok;
        }
    }
    return rows;
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
    return ops_adamw_step(&m->dev, m->params, m->adam_m, m->adam_v, m->grads, m->optim, m->table.n,
                          adamw, step, lr, grad_scale);
}
