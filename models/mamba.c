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
#include "kernels/seqpar.h"
#include "models/model_internal.h"
#include "models/slice_exchange.h"

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

// The walk of direction dir over the plan's rows: lengths, mirror and sequence starts. The
// memory split's reverse walk (Plan.ranks) runs over every position of the slice from its last
// (len_walk, rev_mirror), each sequence starting at its last position (rev_reset).
static const int64_t *walk_len(const Plan *p, int dir) {
    return p->ranks > 1 && dir ? p->len_walk : p->len;
}
static const int32_t *walk_mirror(const Plan *p, int dir) {
    return p->ranks > 1 && dir ? p->rev_mirror : p->mirror;
}
static const uint8_t *walk_reset(const Plan *p, int dir) {
    return p->ranks > 1 && dir ? p->rev_reset : p->reset;
}

// Conv arguments for the tile in the plan's buffers: x = the x half of xz, out = u.
static ConvArgs tile_conv_args(Model *m, const DirParams *w, int dir, int64_t s0, int64_t nt) {
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
    if (walk_reset(p, dir)) { // packed rows: the sequence starts of this tile (in walk order)
        a.reset = walk_reset(p, dir) + s0;
        a.reset_stride_b = p->L;
        a.reset_stride_l = 1;
    }
    return a;
}

// Scan arguments for the tile: u, delta dense; z, B, C views of xz and dbl; out = y.
static ScanArgs tile_scan_args(Model *m, const DirParams *w, int dir, int64_t s0, int64_t nt) {
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
    if (walk_reset(p, dir)) {
        a.reset = walk_reset(p, dir) + s0;
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
// The token-local start of a tile: gather its rows of X_in (walk direction dir), norm, in_proj
// into xz.
static int tile_in(Model *m, const DirParams *w, int dir, const float *X_in, int64_t s0,
                   int64_t nt) {
    Plan *p = &m->plan;
    const Device *dev = &m->dev;
    const DType t = m->act;
    const int64_t rows = p->Be * nt, D = m->D, E = m->E;
    int status = ops_rows_gather(dev, p->xt, t, X_in, DTYPE_F32, walk_len(p, dir),
                                 walk_mirror(p, dir), p->Be, p->L, D, s0, nt, dir);
    if (status == 0)
        status = ops_norm_fwd(dev, t, m->cfg.norm == MODEL_NORM_LAYER, p->xn, p->t_mean,
                              p->t_rstd, p->xt, w->norm_w, w->norm_b, rows, D, m->cfg.norm_eps);
    if (status == 0)
        status = ops_matmul_fwd(dev, t, p->xz, p->xn, w->in_w, NULL, rows, D, 2 * E, D, 2 * E);
    return status;
}

// The backward of tile_in from dxz (in the tile buffers, with xt, xn and the norm statistics
// of the same tile): in_proj and norm gradients accumulate, the input's gradient is added
// into dR.
static int tile_in_bwd(Model *m, int layer, const DirParams *w, int dir, float *dR, int64_t s0,
                       int64_t nt) {
    Plan *p = &m->plan;
    const Device *dev = &m->dev;
    const LayerParams *lp = &m->layers[layer];
    const DType t = m->act;
    const int64_t rows = p->Be * nt, D = m->D, E = m->E;
    int status = ops_matmul_bwd_set_dx(dev, t, p->dxn, model_g(m, lp->in_proj), NULL, p->dxz,
                                       p->xn, w->in_w, rows, D, 2 * E, D, 2 * E);
    if (status == 0)
        status = ops_norm_bwd_set_dx(dev, t, m->cfg.norm == MODEL_NORM_LAYER, p->dxt,
                                     model_g(m, lp->norm_w), model_g(m, lp->norm_b), p->dxn,
                                     p->xt, w->norm_w, p->t_mean, p->t_rstd, rows, D);
    if (status == 0)
        status = ops_rows_scatter_add(dev, dR, DTYPE_F32, p->dxt, t, walk_len(p, dir),
                                      walk_mirror(p, dir), p->Be, p->L, D, s0, nt, dir);
    return status;
}

static int tile_fwd(Model *m, const DirParams *w, int dir, const float *X_in, int64_t s0,
                    int64_t nt, const float *conv0, float *conv1, const float *h0, float *h1,
                    float *ckpt) {
    Plan *p = &m->plan;
    const Device *dev = &m->dev;
    const DType t = m->act;
    const int64_t rows = p->Be * nt, E = m->E, R = m->R, W = R + 2 * m->N;
    int status = tile_in(m, w, dir, X_in, s0, nt);
    if (status == 0) {
        ConvArgs ca = tile_conv_args(m, w, dir, s0, nt);
        ca.state0 = conv0;
        ca.state_final = conv1;
        status = ops_conv_fwd(dev, &ca);
    }
    if (status == 0)
        status = ops_matmul_fwd(dev, t, p->dbl, p->u, w->x_w, NULL, rows, E, W, E, W);
    if (status == 0)
        status = ops_matmul_fwd(dev, t, p->delta, p->dbl, w->dt_w, NULL, rows, R, E, W, E);
    if (status == 0) {
        ScanArgs sa = tile_scan_args(m, w, dir, s0, nt);
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
    dropout_args_rows(&a, p->Be, p->L, s0, nt, walk_len(p, dir), walk_mirror(p, dir), dir);
    a.x_dtype = a.y_dtype = m->act;
    if (!backward) {
        a.x = a.y = buf;
        return ops_dropout_fwd(&m->dev, &a);
    }
    a.dy = a.dx = buf;
    return ops_dropout_bwd(&m->dev, &a);
}

// Tiles [j0, j1) of the plan from the states cs, hs (carried in place): the forward of one
// direction added into X_out, with each tile's start states kept for the backward.
static int fwd_tiles(Model *m, int layer, int dir, const DirParams *w, const float *X_in,
                     float *X_out, int64_t j0, int64_t j1, float *cs, float *hs) {
    Plan *p = &m->plan;
    const Device *dev = &m->dev;
    const int64_t Be = p->Be, D = m->D, E = m->E, N = m->N, K1 = m->K - 1;
    const int64_t state_floats = Be * E * (K1 + N);
    int status = 0;
    for (int64_t j = j0; j < j1; j++) {
        int64_t s0, nt;
        model_tile_span(p, j, &s0, &nt);
        if (p->train) { // the backward restarts this tile from these states
            float *bs =
                p->bstates + (((int64_t)layer * m->ndir + dir) * p->ntiles + j) * state_floats;
            if (cs) status = ops_copy(dev, bs, cs, Be * E * K1);
            if (status == 0) status = ops_copy(dev, bs + Be * E * K1, hs, Be * E * N);
        }
        if (status == 0) status = tile_fwd(m, w, dir, X_in, s0, nt, cs, cs, hs, hs, NULL);
        if (status == 0)
            status = ops_matmul_fwd(dev, m->act, p->o, p->y, w->out_w, NULL, Be * nt, E, D, E, D);
        if (status == 0 && model_dropout_on(m)) status = tile_dropout(m, layer, dir, s0, nt, 0);
        if (status == 0)
            status = ops_rows_scatter_add(dev, X_out, DTYPE_F32, p->o, m->act, walk_len(p, dir),
                                          walk_mirror(p, dir), Be, p->L, D, s0, nt, dir);
        if (status < 0) return status;
    }
    return 0;
}

// ------------------------------------------------------------------------------ slices
// Sequence parallel (model_set_seq_slices, docs/parallel.md "The model"): slice g of the walk
// holds positions [g·L/G, (g+1)·L/G). Each step below loops over the slices as G devices
// would each run their own; what one slice needs of another goes through m->exchange.

// Whether this process runs slice g's steps: all of them in-process, its own one distributed.
static int slice_mine(const Model *m, int64_t g) {
    return !m->exchange->distributed || g == m->exchange->rank;
}

static const SeqparOps *slice_ops(const Model *m) {
    return m->dev.kind == DEVICE_CUDA ? &seqpar_ops_cuda : &seqpar_ops_cpu;
}

// The last K−1 positions before slice g's start (the end of slice g − 1, which owns them) as
// a tile: their norm and in_proj in the tile buffers; *prev = the conv over them.
static int slice_halo_tile(Model *m, const DirParams *w, int dir, const float *X_in, int64_t g,
                           ConvArgs *prev) {
    const int64_t K1 = m->K - 1, s0 = model_slice_start(&m->plan, g) - K1;
    int status = tile_in(m, w, dir, X_in, s0, K1);
    *prev = tile_conv_args(m, w, dir, s0, K1);
    prev->bias = NULL, prev->silu = 0;
    return status;
}

// Per-slice buffers of one layer and direction: n floats per slot, slot g at g·n.
static float *slice_P(Model *m, int layer, int dir) {
    const Plan *p = &m->plan;
    const int64_t slot = p->train ? (int64_t)layer * m->ndir + dir : 0;
    const int64_t G = p->G > 1 ? p->G : p->ranks; // slices, or the ranks of a memory split
    return p->sp_P + slot * G * p->Be * m->E * m->N;
}

// The memory split's forward of one direction ("memory split" below).
static int split_fwd(Model *m, int layer, int dir, const DirParams *w, const float *X_in,
                     float *X_out);

// Forward of one direction with G > 1 slices (the state starts at zero: no stream).
static int slice_fwd(Model *m, int layer, int dir, const DirParams *w, const float *X_in,
                     float *X_out) {
    Plan *p = &m->plan;
    const Device *dev = &m->dev;
    const int G = (int)p->G;
    const int64_t Be = p->Be, E = m->E, K1 = m->K - 1, nh = Be * E * K1, n = Be * E * m->N;
    float *P = slice_P(m, layer, dir), *e = p->sp_e, *h = p->sp_h, *halo = p->sp_halo;
    int status = 0;
    // 1. halo: the owner of the K−1 positions before slice g computes the conv state there
    //    (masked by resets as the conv's state_final is) and sends it right; slice 0 has none
    if (K1 > 0) {
        status = ops_zero(dev, DTYPE_F32, halo, nh);
        for (int64_t g = 1; g < G && status == 0; g++) {
            if (!slice_mine(m, g - 1)) continue; // the owner of the positions computes it
            ConvArgs prev;
            status = slice_halo_tile(m, w, dir, X_in, g, &prev);
            if (status == 0)
                status = seqpar_conv_halo_fwd(slice_ops(m), &prev, halo + g * nh, p->u);
        }
        if (status == 0) status = m->exchange->shift_right(m->exchange, dev, G, halo, halo, nh);
    }
    // 2. summary of every slice but the last (nobody starts after it): e_g, the state after
    //    the slice from h = 0, and P_g, the decay product, a scan with u = 0 from h = 1 that
    //    carries across the slice's tiles as the state does (seqpar_scan_summary, per tile)
    for (int64_t g = 0, j0 = 0; g + 1 < G && status == 0; j0 += model_slice_tiles(p, g++)) {
        if (!slice_mine(m, g)) continue;
        float *Pg = P + g * n, *eg = e + g * n;
        if (K1 > 0) status = ops_copy(dev, p->cs, halo + g * nh, nh);
        if (status == 0) status = ops_zero(dev, DTYPE_F32, eg, n);
        if (status == 0) status = ops_copy(dev, Pg, p->sp_ones, n);
        for (int64_t j = j0; j < j0 + model_slice_tiles(p, g) && status == 0; j++) {
            int64_t s0, nt;
            model_tile_span(p, j, &s0, &nt);
            status = tile_fwd(m, w, dir, X_in, s0, nt, p->cs, p->cs, eg, eg, NULL);
            if (status == 0) {
                ScanArgs sa = tile_scan_args(m, w, dir, s0, nt);
                sa.u = p->sp_zeros, sa.u_stride_b = 0, sa.u_stride_l = 0;
                sa.z = NULL, sa.D_skip = NULL; // they touch only out, scratch here
                sa.h0 = Pg, sa.h_final = Pg;
                status = ops_scan_fwd(dev, &sa);
            }
        }
    }
    // 3. exchange the summaries; each slice combines the state it starts from:
    //    h_0 = 0, h_g = P_{g−1}·h_{g−1} + e_{g−1}
    if (status == 0) status = m->exchange->all_gather(m->exchange, dev, G, P, n);
    if (status == 0) status = m->exchange->all_gather(m->exchange, dev, G, e, n);
    if (status == 0) status = ops_zero(dev, DTYPE_F32, h, n);
    for (int64_t g = 1; g < G && status == 0; g++) {
        status = ops_copy(dev, h + g * n, e + (g - 1) * n, n);
        if (status == 0) status = ops_mul_acc(dev, h + g * n, P + (g - 1) * n, h + (g - 1) * n, n);
    }
    // 4. every slice runs the ordinary forward from its halo and h_g
    for (int64_t g = 0, j0 = 0; g < G && status == 0; j0 += model_slice_tiles(p, g++)) {
        if (!slice_mine(m, g)) continue;
        if (K1 > 0) status = ops_copy(dev, p->cs, halo + g * nh, nh);
        if (status == 0) status = ops_copy(dev, p->hs, h + g * n, n);
        if (status == 0)
            status = fwd_tiles(m, layer, dir, w, X_in, X_out, j0, j0 + model_slice_tiles(p, g),
                               K1 > 0 ? p->cs : NULL, p->hs);
    }
    return status;
}

int mamba_layer_fwd_dir(Model *m, int layer, int dir, const float *X_in, float *X_out,
                        float *state) {
    Plan *p = &m->plan;
    const Device *dev = &m->dev;
    const int64_t Be = p->Be, E = m->E, N = m->N, K1 = m->K - 1;
    const DirParams w = dir_params(m, layer, dir);
    if (p->G > 1 && !state) return slice_fwd(m, layer, dir, &w, X_in, X_out);
    if (p->ranks > 1 && !state) return split_fwd(m, layer, dir, &w, X_in, X_out);
    float *cs = p->cs, *hs = p->hs; // carried across tiles
    int status = 0;
    if (state) {
        cs = K1 > 0 ? state : NULL;
        hs = state + Be * E * K1;
    } else {
        if (cs && (status = ops_zero(dev, DTYPE_F32, cs, Be * E * K1)) < 0) return status;
        if ((status = ops_zero(dev, DTYPE_F32, hs, Be * E * N)) < 0) return status;
    }
    return fwd_tiles(m, layer, dir, &w, X_in, X_out, 0, p->ntiles, cs, hs);
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

/*
 * Backward of tiles [j0, j1) of one direction, last to first: gradients of the mixer output
 * are read from dO_src, gradients of the layer input added into dR. dh_end, dc_end: the
 * gradients reaching the states after tile j1 − 1 (NULL: zero); dh_start, dc_start: where the
 * gradients w.r.t. the states before tile j0 go (zeroed here; NULL: not wanted).
 * probe (sequence parallel): walk back only as far as the scan, into scratch, for dh_start
 * (the gradient at the slice start through the slice's own outputs); nothing else is written.
 */
static int bwd_tiles(Model *m, int layer, int dir, const float *X_in, const float *dO_src,
                     float *dR, int64_t j0, int64_t j1, const float *dh_end, const float *dc_end,
                     float *dh_start, float *dc_start, int probe) {
    Plan *p = &m->plan;
    const Device *dev = &m->dev;
    const LayerParams *lp = &m->layers[layer];
    const DirParams w = dir_params(m, layer, dir);
    const int64_t Be = p->Be, D = m->D, E = m->E, N = m->N, K1 = m->K - 1, R = m->R;
    const int64_t W = R + 2 * N, state_floats = Be * E * (K1 + N);
    const DType t = m->act, F32 = DTYPE_F32;
    int cur = 0, status = 0;
    for (int64_t j = j1 - 1; j >= j0; j--) {
        int64_t s0, nt;
        model_tile_span(p, j, &s0, &nt);
        const int64_t rows = Be * nt;
        const float *bs =
            p->bstates + (((int64_t)layer * m->ndir + dir) * p->ntiles + j) * state_floats;
        const float *conv0 = K1 > 0 ? bs : NULL, *h0 = bs + Be * E * K1;
        const int last = j == j1 - 1, first = j == j0;
        const float *dh_in = last ? dh_end : p->dh[cur];
        float *dh_out = first ? dh_start : p->dh[1 - cur];
        const float *dc_in = !K1 ? NULL : last ? dc_end : p->dc[cur];
        float *dc_out = !K1 ? NULL : first ? dc_start : p->dc[1 - cur];

        // recompute the tile, then walk it back
        status = tile_fwd(m, &w, dir, X_in, s0, nt, conv0, NULL, h0, NULL, p->ckpt);
        if (status == 0)
            status = ops_rows_gather(dev, p->dO, t, dO_src, F32, walk_len(p, dir),
                                     walk_mirror(p, dir), Be, p->L, D, s0, nt, dir);
        if (status == 0 && model_dropout_on(m)) status = tile_dropout(m, layer, dir, s0, nt, 1);
        if (status == 0)
            status = ops_matmul_bwd_set_dx(dev, t, p->dy, probe ? NULL : model_g(m, lp->out_proj),
                                           NULL, p->dO, p->y, w.out_w, rows, E, D, E, D);
        if (status == 0) status = ops_zero(dev, t, p->du, rows * E);
        if (status == 0) status = ops_zero(dev, t, p->ddelta, rows * E);
        if (status == 0) status = ops_zero(dev, t, p->ddbl, rows * W);
        if (status == 0) status = ops_zero(dev, t, p->dxz, rows * 2 * E);
        if (status == 0) status = ops_zero(dev, F32, p->dA, E * N);
        if (status == 0 && dh_out) status = ops_zero(dev, F32, dh_out, Be * E * N);
        if (status == 0 && dc_out) status = ops_zero(dev, F32, dc_out, Be * E * K1);
        if (status < 0) return status;

        ScanArgs sa = tile_scan_args(m, &w, dir, s0, nt);
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
        sa.dD_skip = probe ? p->sp_dpar : model_g(m, lp->Dsk[dir]);
        sa.ddelta_bias = probe ? p->sp_dpar + E : model_g(m, lp->dt_b[dir]);
        sa.dh0 = dh_out;
        sa.workspace = p->scan_ws;
        sa.workspace_bytes = p->scan_ws_bytes;
        status = ops_scan_bwd(dev, &sa);
        if (probe) {
            if (status < 0) return status;
            cur = 1 - cur;
            continue;
        }
        // A = −exp(A_log): ∂A/∂A_log = A
        if (status == 0) status = ops_mul_acc(dev, model_g(m, lp->A_log[dir]), p->dA, w.A, E * N);
        if (status == 0)
            status = ops_matmul_bwd(dev, t, p->ddbl, model_g(m, lp->dt_w[dir]), NULL, p->ddelta,
                                    p->dbl, w.dt_w, rows, R, E, W, E);
        if (status == 0)
            status = ops_matmul_bwd(dev, t, p->du, model_g(m, lp->x_proj[dir]), NULL, p->ddbl,
                                    p->u, w.x_w, rows, E, W, E, W);
        if (status == 0) {
            ConvArgs ca = tile_conv_args(m, &w, dir, s0, nt);
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
            status = tile_in_bwd(m, layer, &w, dir, dR, s0, nt);
        if (status < 0) return status;
        cur = 1 - cur;
    }
    return 0;
}

// Backward of one direction with G > 1 slices (docs/parallel.md "The model", backward).
static int slice_bwd(Model *m, int layer, int dir, const float *X_in, const float *dO_src,
                     float *dR) {
    Plan *p = &m->plan;
    const Device *dev = &m->dev;
    const int G = (int)p->G;
    const int64_t Be = p->Be, E = m->E, K1 = m->K - 1, nh = Be * E * K1, n = Be * E * m->N;
    const float *P = slice_P(m, layer, dir);
    float *dl = p->sp_dl, *dH = p->sp_e, *dhalo = p->sp_dhalo;
    int status = 0;
    // 1. probe every slice but the first: dh0_local, the gradient at its start through its
    //    own outputs (the backward with no gradient arriving at its end)
    for (int64_t g = 1, j0 = model_slice_tiles(p, 0); g < G && status == 0;
         j0 += model_slice_tiles(p, g++))
        if (slice_mine(m, g))
            status = bwd_tiles(m, layer, dir, X_in, dO_src, dR, j0, j0 + model_slice_tiles(p, g),
                           NULL, NULL, dl + g * n, NULL, 1);
    // 2. exchange them; each slice combines the gradient reaching its end, dH_{g+1}:
    //    dH_{G−1} = dl_{G−1}, dH_g = dl_g + P_g·dH_{g+1} (h_{g+1} = P_g·h_g + e_g)
    if (status == 0) status = m->exchange->all_gather(m->exchange, dev, G, dl, n);
    if (status == 0) status = ops_copy(dev, dH + (G - 1) * n, dl + (G - 1) * n, n);
    for (int64_t g = G - 2; g >= 1 && status == 0; g--) {
        status = ops_copy(dev, dH + g * n, dl + g * n, n);
        if (status == 0) status = ops_mul_acc(dev, dH + g * n, P + g * n, dH + (g + 1) * n, n);
    }
    // 3. every slice runs the ordinary backward with dH_{g+1} at its end; the gradient of its
    //    halo (its conv's state0) goes back to the owner of those positions
    for (int64_t g = 0, j0 = 0; g < G && status == 0; j0 += model_slice_tiles(p, g++))
        if (slice_mine(m, g))
            status = bwd_tiles(m, layer, dir, X_in, dO_src, dR, j0, j0 + model_slice_tiles(p, g),
                               g + 1 < G ? dH + (g + 1) * n : NULL, NULL, NULL,
                               g > 0 && K1 > 0 ? dhalo + g * nh : NULL, 0);
    if (K1 == 0 || status < 0) return status;
    if ((status = m->exchange->shift_left(m->exchange, dev, G, dhalo, dhalo, nh)) < 0)
        return status;
    // 4. the owner of each halo takes its gradient through the conv over those positions,
    //    in_proj and the norm into dR (the forward's step 1, backwards)
    const DirParams w = dir_params(m, layer, dir);
    for (int64_t g = 1; g < G && status == 0; g++) {
        if (!slice_mine(m, g - 1)) continue;
        ConvArgs prev;
        const int64_t s0 = model_slice_start(p, g) - K1;
        status = slice_halo_tile(m, &w, dir, X_in, g, &prev);
        if (status == 0) status = ops_zero(dev, m->act, p->dxz, Be * K1 * 2 * E);
        if (status == 0) {
            prev.dx = p->dxz;
            prev.dx_stride_b = K1 * 2 * E;
            prev.dx_stride_l = 2 * E;
            status = seqpar_conv_halo_bwd(slice_ops(m), &prev, dhalo + g * nh, p->sp_zeros,
                                          p->sp_dpar + 2 * E);
        }
        if (status == 0) status = tile_in_bwd(m, layer, &w, dir, dR, s0, K1);
    }
    return status;
}

// ------------------------------------------------------------------------------ memory split
// Distributed sequence parallel with the memory split (Plan.ranks > 1, docs/parallel.md
// "Sequence parallel across ranks"): this rank's plan is its slice of every row, the steps of
// slice_fwd / slice_bwd for that one slice, the other slices' on the other ranks. The walk of
// direction dir visits the ranks in order k = rank (forward) or k = ranks − 1 − rank (reverse:
// the slice walked from its last position), so the walk's previous slice is on rank − 1 or
// rank + 1. The per-slot buffers hold slot r = rank r's values; shifts in place keep a slot's
// index (slice_exchange.h): what rank r sends right it writes in slot r + 1 and receives in
// slot r; left, it writes slot r and receives slot r + 1.

// Rank of walk position k of direction dir.
static int64_t split_rank_at(const Plan *p, int dir, int64_t k) {
    return dir ? p->ranks - 1 - k : k;
}

// The conv state after this rank's last K−1 walk positions: the halo of the walk's next slice.
static int split_halo_tile(Model *m, const DirParams *w, int dir, const float *X_in,
                           ConvArgs *last) {
    const int64_t K1 = m->K - 1, s0 = m->plan.L - K1;
    int status = tile_in(m, w, dir, X_in, s0, K1);
    *last = tile_conv_args(m, w, dir, s0, K1);
    last->bias = NULL, last->silu = 0;
    return status;
}

static int split_fwd(Model *m, int layer, int dir, const DirParams *w, const float *X_in,
                     float *X_out) {
    Plan *p = &m->plan;
    const Device *dev = &m->dev;
    const SliceExchange *x = m->exchange;
    const int G = (int)p->ranks;
    const int64_t r = p->rank, k = dir ? G - 1 - r : r; // this rank's place in the walk
    const int64_t Be = p->Be, E = m->E, K1 = m->K - 1, nh = Be * E * K1, n = Be * E * m->N;
    float *P = slice_P(m, layer, dir), *e = p->sp_e, *h = p->sp_h, *halo = p->sp_halo;
    int status = 0;
    // 1. halo: the conv state after this slice's last K−1 walk positions, to the walk's next
    //    slice (right in the forward walk, left in the reverse walk)
    const int64_t halo_out = dir ? r : r + 1, halo_in = dir ? r + 1 : r;
    if (K1 > 0) {
        status = ops_zero(dev, DTYPE_F32, halo, G * nh);
        if (status == 0 && k + 1 < G) {
            ConvArgs last;
            status = split_halo_tile(m, w, dir, X_in, &last);
            if (status == 0)
                status = seqpar_conv_halo_fwd(slice_ops(m), &last, halo + halo_out * nh, p->u);
        }
        if (status == 0)
            status = (dir ? x->shift_left : x->shift_right)(x, dev, G, halo, halo, nh);
    }
    float *my_halo = K1 > 0 && k > 0 ? halo + halo_in * nh : NULL; // NULL: zeros
    if (status == 0 && K1 > 0)
        status = my_halo ? ops_copy(dev, p->cs, my_halo, nh) : ops_zero(dev, DTYPE_F32, p->cs, nh);
    // 2. summary (every slice but the walk's last): e, the state after the slice from h = 0;
    //    P, the decay product (a scan with u = 0 from h = 1, carried across tiles)
    float *Pr = P + r * n, *er = e + r * n;
    if (status == 0 && k + 1 < G) {
        status = ops_zero(dev, DTYPE_F32, er, n);
        if (status == 0) status = ops_copy(dev, Pr, p->sp_ones, n);
        for (int64_t j = 0; j < p->ntiles && status == 0; j++) {
            int64_t s0, nt;
            model_tile_span(p, j, &s0, &nt);
            status = tile_fwd(m, w, dir, X_in, s0, nt, K1 > 0 ? p->cs : NULL,
                              K1 > 0 ? p->cs : NULL, er, er, NULL);
            if (status == 0) {
                ScanArgs sa = tile_scan_args(m, w, dir, s0, nt);
                sa.u = p->sp_zeros, sa.u_stride_b = 0, sa.u_stride_l = 0;
                sa.z = NULL, sa.D_skip = NULL;
                sa.h0 = Pr, sa.h_final = Pr;
                status = ops_scan_fwd(dev, &sa);
            }
        }
    }
    // 3. exchange the summaries; h_k = P_{k−1}·h_{k−1} + e_{k−1} along the walk
    if (status == 0) status = x->all_gather(x, dev, G, P, n);
    if (status == 0) status = x->all_gather(x, dev, G, e, n);
    if (status == 0) status = ops_zero(dev, DTYPE_F32, h, n);
    for (int64_t j = 1; j <= k && status == 0; j++) {
        const int64_t prev = split_rank_at(p, dir, j - 1); // e_prev += P_prev·h; h = e_prev
        status = ops_mul_acc(dev, e + prev * n, P + prev * n, h, n);
        if (status == 0) status = ops_copy(dev, h, e + prev * n, n);
    }
    // 4. the ordinary forward of the slice from its halo and h_k
    if (status == 0 && K1 > 0)
        status = my_halo ? ops_copy(dev, p->cs, my_halo, nh) : ops_zero(dev, DTYPE_F32, p->cs, nh);
    if (status == 0) status = ops_copy(dev, p->hs, h, n);
    if (status == 0)
        status = fwd_tiles(m, layer, dir, w, X_in, X_out, 0, p->ntiles, K1 > 0 ? p->cs : NULL,
                           p->hs);
    return status;
}

static int split_bwd(Model *m, int layer, int dir, const float *X_in, const float *dO_src,
                     float *dR) {
    Plan *p = &m->plan;
    const Device *dev = &m->dev;
    const SliceExchange *x = m->exchange;
    const int G = (int)p->ranks;
    const int64_t r = p->rank, k = dir ? G - 1 - r : r;
    const int64_t Be = p->Be, E = m->E, K1 = m->K - 1, nh = Be * E * K1, n = Be * E * m->N;
    const float *P = slice_P(m, layer, dir);
    float *dl = p->sp_dl, *dH = p->sp_h, *dhalo = p->sp_dhalo;
    int status = 0;
    // 1. probe (every slice but the walk's first): dh0_local, the gradient at the slice's
    //    start through its own outputs
    if (k > 0)
        status = bwd_tiles(m, layer, dir, X_in, dO_src, dR, 0, p->ntiles, NULL, NULL,
                           dl + r * n, NULL, 1);
    // 2. exchange; the gradient reaching this slice's end: dH_{G−1} = dl_{G−1},
    //    dH_j = dl_j + P_j·dH_{j+1} along the walk, down to j = k + 1
    if (status == 0) status = x->all_gather(x, dev, G, dl, n);
    if (status == 0 && k + 1 < G)
        status = ops_copy(dev, dH, dl + split_rank_at(p, dir, G - 1) * n, n);
    for (int64_t j = G - 2; j > k && status == 0; j--) { // dH = dl_j + P_j·dH, in place
        const int64_t rj = split_rank_at(p, dir, j);
        status = ops_copy(dev, p->sp_e, dl + rj * n, n);
        if (status == 0) status = ops_mul_acc(dev, p->sp_e, P + rj * n, dH, n);
        if (status == 0) status = ops_copy(dev, dH, p->sp_e, n);
    }
    // 3. the ordinary backward with dH at the slice's end; its halo's gradient kept
    const int64_t halo_in = dir ? r + 1 : r, halo_out = dir ? r : r + 1;
    if (status == 0 && K1 > 0) status = ops_zero(dev, DTYPE_F32, dhalo, G * nh);
    if (status == 0)
        status = bwd_tiles(m, layer, dir, X_in, dO_src, dR, 0, p->ntiles, k + 1 < G ? dH : NULL,
                           NULL, NULL, k > 0 && K1 > 0 ? dhalo + halo_in * nh : NULL, 0);
    if (K1 == 0 || status < 0) return status;
    // 4. the halo gradient back to the walk's previous slice (the forward's shift reversed),
    //    which takes it through the conv over its last positions, in_proj and the norm
    if ((status = (dir ? x->shift_right : x->shift_left)(x, dev, G, dhalo, dhalo, nh)) < 0)
        return status;
    if (k + 1 == G) return 0;
    const DirParams w = dir_params(m, layer, dir);
    ConvArgs last;
    status = split_halo_tile(m, &w, dir, X_in, &last);
    if (status == 0) status = ops_zero(dev, m->act, p->dxz, Be * K1 * 2 * E);
    if (status == 0) {
        last.dx = p->dxz;
        last.dx_stride_b = K1 * 2 * E;
        last.dx_stride_l = 2 * E;
        status = seqpar_conv_halo_bwd(slice_ops(m), &last, dhalo + halo_out * nh, p->sp_zeros,
                                      p->sp_dpar + 2 * E);
    }
    if (status == 0) status = tile_in_bwd(m, layer, &w, dir, dR, p->L - K1, K1);
    return status;
}

// Backward of one direction: gradients of the mixer output are read from dO_src, gradients
// of the layer input added into dR.
static int dir_bwd(Model *m, int layer, int dir, const float *X_in, const float *dO_src,
                   float *dR) {
    if (m->plan.G > 1) return slice_bwd(m, layer, dir, X_in, dO_src, dR);
    if (m->plan.ranks > 1) return split_bwd(m, layer, dir, X_in, dO_src, dR);
    return bwd_tiles(m, layer, dir, X_in, dO_src, dR, 0, m->plan.ntiles, NULL, NULL, NULL, NULL,
                     0);
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
        ConvArgs ca = tile_conv_args(m, &w, 0, 0, 1);
        ca.state = K1 > 0 ? state : NULL;
        status = ops_conv_step(dev, &ca);
    }
    if (status == 0) status = ops_matmul_fwd(dev, t, p->dbl, p->u, w.x_w, NULL, B, E, W, E, W);
    if (status == 0)
        status = ops_matmul_fwd(dev, t, p->delta, p->dbl, w.dt_w, NULL, B, R, E, W, E);
    if (status == 0) {
        ScanArgs sa = tile_scan_args(m, &w, 0, 0, 1);
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
                        .state = state, .y = p->y};
}
