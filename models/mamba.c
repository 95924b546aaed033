/*
 * mamba.c — the Mamba-1 mixer layer (Gu & Dao) and its bidirectional (Caduceus BiMamba)
 * form, forward, backward and one recurrent step, written against the dispatch points of
 * ops_internal.h only.
 *
 * One layer, one direction, for a tile of Tt positions of every row (model_internal.h):
 *
 *   xt    = rows of X_in for this tile (forward: positions s; reverse: lengths[b]−1−s)
 *   xn    = norm(xt)                                          (B·Tt, D)
 *   xz    = xn · in_proj.weightᵀ                              (B·Tt, 2E): x | z
 *   u     = SiLU(conv1d(x))          conv state carried in/out (B, E, K−1)
 *   dbl   = u · x_proj.weightᵀ                                (B·Tt, R + 2N): dt | B | C
 *   delta = dt · dt_proj.weightᵀ     (dt_proj.bias goes into the scan as delta_bias)
 *   y     = scan(u, delta, A = −exp(A_log), B, C, D, z)  with softplus, scan state carried
 *   X_out[rows of the tile] += y · out_proj.weightᵀ
 *
 * The reverse direction of BiMamba is the same causal mixer walked over each row backwards
 * within its own length (tile position s ↔ sequence position lengths[b]−1−s): gather and
 * scatter do the reversal, so every op sees a dense causal problem and padding sits at the
 * end of every row in either direction, where it cannot reach a valid position. in_proj and
 * out_proj are shared by the two directions (tied), so X_out = X + W_out·y_fwd + W_out·y_rev.
 *
 * Backward (per layer, directions in turn, tiles last to first): the tile's forward is
 * recomputed from the layer input X_in and the conv/scan states saved at the tile start by
 * the training forward (the scan forward rerun also writes the chunk checkpoints its backward
 * reads), then out_proj → scan → dt_proj → x_proj → conv1d → in_proj → norm backward, with the
 * state gradients (dh0, dstate0) of tile j carried into tile j−1 as dh_final / dstate_final.
 * Gradients of the residual input are scatter-added into dR.
 *
 * Dropout (training, model_set_dropout): the tile's output o is dropped before the scatter-add
 * (tile_dropout), and the gathered gradient dO through the same mask in the backward.
 *
 * Tested by tests/unit/test_model.c (finite differences for mamba and bimamba, several tiles,
 * padding, streaming and step ≡ forward).
 */
#include "models/model_internal.h"

typedef struct {
    const float *norm_w, *norm_b, *in_w, *out_w;
    const float *conv_w, *conv_b, *x_w, *dt_w, *dt_b, *Dsk, *A;
} DirParams;

static DirParams dir_params(Model *m, int layer, int dir) {
    const LayerParams *lp = &m->layers[layer];
    DirParams d = {model_p(m, lp->norm_w),
                   model_p(m, lp->norm_b),
                   model_w(m, lp->in_proj),
                   model_w(m, lp->out_proj),
                   model_p(m, lp->conv_w[dir]),
                   model_p(m, lp->conv_b[dir]),
                   model_w(m, lp->x_proj[dir]),
                   model_w(m, lp->dt_w[dir]),
                   model_p(m, lp->dt_b[dir]),
                   model_p(m, lp->Dsk[dir]),
                   m->plan.A + ((int64_t)layer * m->ndir + dir) * m->E * m->N};
    return d;
}

int mamba_prepare_A(Model *m) {
    for (int i = 0; i < m->cfg.n_layers; i++)
        for (int dir = 0; dir < m->ndir && !model_layer_is_attention(&m->cfg, i); dir++) {
            int status = ops_neg_exp(&m->dev, (float *)dir_params(m, i, dir).A,
                                     model_p(m, m->layers[i].A_log[dir]), m->E * m->N);
            if (status < 0) return status;
        }
    return 0;
}

// Conv arguments for the tile in the plan's buffers: x = the x half of xz, out = u.
static ConvArgs tile_conv_args(Model *m, const DirParams *w, int64_t s0, int64_t nt) {
    Plan *p = &m->plan;
    const int64_t E = m->E;
    ConvArgs a;
    conv_args_init(&a, p->Be, nt, E, m->K);
    a.dtype = m->act;
    a.silu = 1;
    a.x = p->xz;
    a.x_stride_b = nt * 2 * E;
    a.x_stride_l = 2 * E;
    a.weight = w->conv_w;
    a.bias = w->conv_b;
    a.out = p->u;
    if (p->reset) { // packed rows: the sequence starts of this tile (the same in either walk)
        a.reset = p->reset + s0;
        a.reset_stride_b = p->L;
        a.reset_stride_l = 1;
    }
    return a;
}

// Scan arguments for the tile: u, delta dense; z, B, C views of xz and dbl; out = y.
static ScanArgs tile_scan_args(Model *m, const DirParams *w, int64_t s0, int64_t nt) {
    Plan *p = &m->plan;
    const int64_t E = m->E, N = m->N, R = m->R, W = R + 2 * N;
    ScanArgs a;
    scan_args_init(&a, p->Be, nt, E, N);
    a.dtype = m->act;
    a.u = p->u;
    a.delta = p->delta;
    a.z = model_at(m, p->xz, E);
    a.z_stride_b = nt * 2 * E;
    a.z_stride_l = 2 * E;
    a.B_ssm = model_at(m, p->dbl, R);
    a.C_ssm = model_at(m, p->dbl, R + N);
    a.B_ssm_stride_b = a.C_ssm_stride_b = nt * W;
    a.B_ssm_stride_l = a.C_ssm_stride_l = W;
    a.A = w->A;
    a.D_skip = w->Dsk;
    a.delta_bias = w->dt_b;
    a.out = p->y;
    if (p->reset) {
        a.reset = p->reset + s0;
        a.reset_stride_b = p->L;
        a.reset_stride_l = 1;
    }
    return a;
}

/*
 * Forward of one tile [s0, s0 + nt) of one direction up to the scan output y (plan buffers).
 * conv0/h0: states before the tile (NULL = zeros); conv1/h1: where the states after it go
 * (may equal conv0/h0, or NULL); ckpt: the scan's chunk checkpoints, or NULL.
 */
static int tile_fwd(Model *m, const DirParams *w, int dir, const float *X_in, int64_t s0,
                    int64_t nt, const float *conv0, float *conv1, const float *h0, float *h1,
                    float *ckpt) {
    Plan *p = &m->plan;
    const Device *dev = &m->dev;
    const DType t = m->act;
    const int64_t rows = p->Be * nt, D = m->D, E = m->E, R = m->R, W = R + 2 * m->N;
    int status = ops_rows_gather(dev, p->xt, t, X_in, DTYPE_F32, p->len, p->mirror, p->Be, p->L,
                                 D, s0, nt, dir);
    if (status == 0)
        status = ops_norm_fwd(dev, t, m->cfg.norm == MODEL_NORM_LAYER, p->xn, p->t_mean,
                              p->t_rstd, p->xt, w->norm_w, w->norm_b, rows, D, m->cfg.norm_eps);
    if (status == 0)
        status = ops_matmul_fwd(dev, t, p->xz, p->xn, w->in_w, NULL, rows, D, 2 * E, D, 2 * E);
    if (status == 0) {
        ConvArgs ca = tile_conv_args(m, w, s0, nt);
        ca.state0 = conv0;
        ca.state_final = conv1;
        status = ops_conv_fwd(dev, &ca);
    }
    if (status == 0)
        status = ops_matmul_fwd(dev, t, p->dbl, p->u, w->x_w, NULL, rows, E, W, E, W);
    if (status == 0)
        status = ops_matmul_fwd(dev, t, p->delta, p->dbl, w->dt_w, NULL, rows, R, E, W, E);
    if (status == 0) {
        ScanArgs sa = tile_scan_args(m, w, s0, nt);
        sa.h0 = h0;
        sa.h_final = h1;
        sa.ckpt = ckpt;
        status = ops_scan_fwd(dev, &sa);
    }
    return status;
}

/*
 * Training dropout of the tile's block output (forward: p->o) or of the gradient there
 * (backward: p->dO), in place. The mask is the layer's site over the (Be, L, D) output, each
 * element numbered by its sequence position: the reverse direction, whose tile position s is
 * position lengths[b]−1−s, drops the same elements as the forward direction, so a BiMamba's
 * two outputs go through one mask, as their sum would.
 */
static int tile_dropout(Model *m, int layer, int dir, int64_t s0, int64_t nt, int backward) {
    Plan *p = &m->plan;
    float *buf = backward ? p->dO : p->o; // (Be, nt, D)
    DropoutArgs a;
    model_dropout_args(m, &a, 2u * (uint32_t)layer, p->Be, m->D);
    dropout_args_rows(&a, p->Be, p->L, s0, nt, p->len, p->mirror, dir);
    a.x_dtype = a.y_dtype = m->act;
    if (!backward) {
        a.x = a.y = buf;
        return ops_dropout_fwd(&m->dev, &a);
    }
    a.dy = a.dx = buf;
    return ops_dropout_bwd(&m->dev, &a);
}

int mamba_layer_fwd_dir(Model *m, int layer, int dir, const float *X_in, float *X_out,
                        float *state) {
    Plan *p = &m->plan;
    const Device *dev = &m->dev;
    const int64_t Be = p->Be, D = m->D, E = m->E, N = m->N, K1 = m->K - 1;
    const int64_t state_floats = Be * E * (K1 + N);
    const DirParams w = dir_params(m, layer, dir);
    float *cs = p->cs, *hs = p->hs; // carried across tiles
    int status = 0;
    if (state) {
        cs = K1 > 0 ? state : NULL;
        hs = state + Be * E * K1;
    } else {
        if (cs && (status = ops_zero(dev, DTYPE_F32, cs, Be * E * K1)) < 0) return status;
        if ((status = ops_zero(dev, DTYPE_F32, hs, Be * E * N)) < 0) return status;
    }
    for (int64_t j = 0; j < p->ntiles; j++) {
        const int64_t s0 = j * p->Tt, nt = s0 + p->Tt <= p->L ? p->Tt : p->L - s0;
        if (p->train) { // the backward restarts this tile from these states
            float *bs =
                p->bstates + (((int64_t)layer * m->ndir + dir) * p->ntiles + j) * state_floats;
            if (cs) status = ops_copy(dev, bs, cs, Be * E * K1);
            if (status == 0) status = ops_copy(dev, bs + Be * E * K1, hs, Be * E * N);
        }
        if (status == 0) status = tile_fwd(m, &w, dir, X_in, s0, nt, cs, cs, hs, hs, NULL);
        if (status == 0)
            status = ops_matmul_fwd(dev, m->act, p->o, p->y, w.out_w, NULL, Be * nt, E, D, E, D);
        if (status == 0 && model_dropout_on(m)) status = tile_dropout(m, layer, dir, s0, nt, 0);
        if (status == 0)
            status = ops_rows_scatter_add(dev, X_out, DTYPE_F32, p->o, m->act, p->len, p->mirror,
                                          Be, p->L, D, s0, nt, dir);
        if (status < 0) return status;
    }
    return 0;
}

int mamba_layer_fwd(Model *m, int layer, const float *X_in, float *X_out, float *state) {
    Plan *p = &m->plan;
    int status = 0;
    if (X_out != X_in && (status = ops_copy(&m->dev, X_out, X_in, p->Be * p->L * m->D)) < 0)
        return status;
    for (int dir = 0; dir < m->ndir; dir++) // a stream (state) has one direction
        if ((status = mamba_layer_fwd_dir(m, layer, dir, X_in, X_out, state)) < 0) return status;
    return 0;
}

// Backward of one direction: gradients of the mixer output are read from dO_src, gradients
// of the layer input added into dR.
static int dir_bwd(Model *m, int layer, int dir, const float *X_in, const float *dO_src,
                   float *dR) {
    Plan *p = &m->plan;
    const Device *dev = &m->dev;
    const LayerParams *lp = &m->layers[layer];
    const DirParams w = dir_params(m, layer, dir);
    const int64_t Be = p->Be, D = m->D, E = m->E, N = m->N, K1 = m->K - 1, R = m->R;
    const int64_t W = R + 2 * N, state_floats = Be * E * (K1 + N);
    const int ln = m->cfg.norm == MODEL_NORM_LAYER;
    const DType t = m->act, F32 = DTYPE_F32;
    int cur = 0, status = 0;
    for (int64_t j = p->ntiles - 1; j >= 0; j--) {
        const int64_t s0 = j * p->Tt, nt = s0 + p->Tt <= p->L ? p->Tt : p->L - s0;
        const int64_t rows = Be * nt;
        const float *bs =
            p->bstates + (((int64_t)layer * m->ndir + dir) * p->ntiles + j) * state_floats;
        const float *conv0 = K1 > 0 ? bs : NULL, *h0 = bs + Be * E * K1;
        const int last = j == p->ntiles - 1, first = j == 0;
        float *dh_in = last ? NULL : p->dh[cur], *dh_out = first ? NULL : p->dh[1 - cur];
        float *dc_in = last || !K1 ? NULL : p->dc[cur],
              *dc_out = first || !K1 ? NULL : p->dc[1 - cur];

        // recompute the tile, then walk it back
        status = tile_fwd(m, &w, dir, X_in, s0, nt, conv0, NULL, h0, NULL, p->ckpt);
        if (status == 0)
            status = ops_rows_gather(dev, p->dO, t, dO_src, F32, p->len, p->mirror, Be, p->L, D,
                                     s0, nt, dir);
        if (status == 0 && model_dropout_on(m)) status = tile_dropout(m, layer, dir, s0, nt, 1);
        if (status == 0)
            status = ops_matmul_bwd_set_dx(dev, t, p->dy, model_g(m, lp->out_proj), NULL, p->dO,
                                           p->y, w.out_w, rows, E, D, E, D);
        if (status == 0) status = ops_zero(dev, t, p->du, rows * E);
        if (status == 0) status = ops_zero(dev, t, p->ddelta, rows * E);
        if (status == 0) status = ops_zero(dev, t, p->ddbl, rows * W);
        if (status == 0) status = ops_zero(dev, t, p->dxz, rows * 2 * E);
        if (status == 0) status = ops_zero(dev, F32, p->dA, E * N);
        if (status == 0 && dh_out) status = ops_zero(dev, F32, dh_out, Be * E * N);
        if (status == 0 && dc_out) status = ops_zero(dev, F32, dc_out, Be * E * K1);
        if (status < 0) return status;

        ScanArgs sa = tile_scan_args(m, &w, s0, nt);
        sa.h0 = h0;
        sa.ckpt = p->ckpt;
        sa.out = NULL;
        sa.dout = p->dy;
        sa.dh_final = dh_in;
        sa.du = p->du;
        sa.ddelta = p->ddelta;
        sa.dz = model_at(m, p->dxz, E);
        sa.dz_stride_b = nt * 2 * E;
        sa.dz_stride_l = 2 * E;
        sa.dB_ssm = model_at(m, p->ddbl, R);
        sa.dC_ssm = model_at(m, p->ddbl, R + N);
        sa.dB_ssm_stride_b = sa.dC_ssm_stride_b = nt * W;
        sa.dB_ssm_stride_l = sa.dC_ssm_stride_l = W;
        sa.dA = p->dA;
        sa.dD_skip = model_g(m, lp->Dsk[dir]);
        sa.ddelta_bias = model_g(m, lp->dt_b[dir]);
        sa.dh0 = dh_out;
        sa.workspace = p->scan_ws;
        sa.workspace_bytes = p->scan_ws_bytes;
        status = ops_scan_bwd(dev, &sa);
        // A = −exp(A_log): ∂A/∂A_log = A
        if (status == 0) status = ops_mul_acc(dev, model_g(m, lp->A_log[dir]), p->dA, w.A, E * N);
        if (status == 0)
            status = ops_matmul_bwd(dev, t, p->ddbl, model_g(m, lp->dt_w[dir]), NULL, p->ddelta,
                                    p->dbl, w.dt_w, rows, R, E, W, E);
        if (status == 0)
            status = ops_matmul_bwd(dev, t, p->du, model_g(m, lp->x_proj[dir]), NULL, p->ddbl,
                                    p->u, w.x_w, rows, E, W, E, W);
        if (status == 0) {
            ConvArgs ca = tile_conv_args(m, &w, s0, nt);
            ca.out = NULL;
            ca.state0 = conv0;
            ca.dout = p->du;
            ca.dstate_final = dc_in;
            ca.dx = p->dxz;
            ca.dx_stride_b = nt * 2 * E;
            ca.dx_stride_l = 2 * E;
            ca.dweight = model_g(m, lp->conv_w[dir]);
            ca.dbias = model_g(m, lp->conv_b[dir]);
            ca.dstate0 = dc_out;
            status = ops_conv_bwd(dev, &ca);
        }
        if (status == 0)
            status = ops_matmul_bwd_set_dx(dev, t, p->dxn, model_g(m, lp->in_proj), NULL, p->dxz,
                                           p->xn, w.in_w, rows, D, 2 * E, D, 2 * E);
        if (status == 0)
            status = ops_norm_bwd_set_dx(dev, t, ln, p->dxt, model_g(m, lp->norm_w),
                                         model_g(m, lp->norm_b), p->dxn, p->xt, w.norm_w,
                                         p->t_mean, p->t_rstd, rows, D);
        if (status == 0)
            status = ops_rows_scatter_add(dev, dR, F32, p->dxt, t, p->len, p->mirror, Be, p->L, D,
                                          s0, nt, dir);
        if (status < 0) return status;
        cur = 1 - cur;
    }
    return 0;
}

int mamba_layer_bwd(Model *m, int layer, const float *X_in, float *dR) {
    Plan *p = &m->plan;
    const float *dO_src = dR;
    int status;
    if (m->ndir == 2) { // the second direction must read the gradient at the layer output
        if ((status = ops_copy(&m->dev, p->aux, dR, p->Be * p->L * m->D)) < 0) return status;
        dO_src = p->aux;
    }
    for (int dir = 0; dir < m->ndir; dir++)
        if ((status = dir_bwd(m, layer, dir, X_in, dO_src, dR)) < 0) return status;
    return 0;
}

int mamba_layer_step(Model *m, int layer, float *X, float *state) {
    Plan *p = &m->plan;
    const Device *dev = &m->dev;
    const DirParams w = dir_params(m, layer, 0);
    const int64_t B = p->Be, D = m->D, E = m->E, N = m->N, K1 = m->K - 1, R = m->R;
    const int64_t W = R + 2 * N;
    const DType t = m->act;
    // X is the fp32 residual stream; the norm reads the activation type
    const float *xin = X;
    int status = 0;
    if (t != DTYPE_F32) {
        status = ops_cast(dev, p->xt, t, X, B * D);
        xin = p->xt;
    }
    if (status == 0)
        status = ops_norm_fwd(dev, t, m->cfg.norm == MODEL_NORM_LAYER, p->xn, p->t_mean,
                              p->t_rstd, xin, w.norm_w, w.norm_b, B, D, m->cfg.norm_eps);
    if (status == 0)
        status = ops_matmul_fwd(dev, t, p->xz, p->xn, w.in_w, NULL, B, D, 2 * E, D, 2 * E);
    if (status == 0) {
        ConvArgs ca = tile_conv_args(m, &w, 0, 1);
        ca.state = K1 > 0 ? state : NULL;
        status = ops_conv_step(dev, &ca);
    }
    if (status == 0) status = ops_matmul_fwd(dev, t, p->dbl, p->u, w.x_w, NULL, B, E, W, E, W);
    if (status == 0)
        status = ops_matmul_fwd(dev, t, p->delta, p->dbl, w.dt_w, NULL, B, R, E, W, E);
    if (status == 0) {
        ScanArgs sa = tile_scan_args(m, &w, 0, 1);
        sa.state = state + B * E * K1;
        status = ops_scan_step(dev, &sa);
    }
    if (status == 0) status = ops_matmul_fwd(dev, t, p->o, p->y, w.out_w, NULL, B, E, D, E, D);
    if (status == 0) status = ops_add(dev, X, DTYPE_F32, p->o, t, B * D);
    return status;
}

void mamba_layer_step_args(Model *m, int layer, float *X, float *state, const uint8_t *tokens,
                           GenStepLayer *a) {
    Plan *p = &m->plan;
    const DirParams w = dir_params(m, layer, 0);
    // the unfused step's tensors: the same weights (bf16 copies with bf16 activations) and the
    // plan's step buffers as scratch (xz holds z only: x goes through the conv in-kernel)
    *a = (GenStepLayer){.B = p->Be, .D = m->D, .E = m->E, .N = m->N, .K = m->K, .R = m->R,
                        .act = m->act, .layer_norm = m->cfg.norm == MODEL_NORM_LAYER,
                        .eps = m->cfg.norm_eps, .X = X, .tokens = tokens,
                        .embed = tokens ? model_p(m, m->idx_embed) : NULL,
                        .norm_w = w.norm_w, .norm_b = w.norm_b, .in_w = w.in_w,
                        .conv_w = w.conv_w, .conv_b = w.conv_b, .x_w = w.x_w, .dt_w = w.dt_w,
                        .dt_b = w.dt_b, .A = w.A, .D_skip = w.Dsk, .out_w = w.out_w,
                        .state = state, .u = p->u, .z = p->xz, .dbl = p->dbl, .y = p->y};
}
