/*
 * transformer.c — the pre-norm Transformer block of the baseline (mamba_ssm's MHA + MLP
 * layout), forward and backward, on the whole window (the caller crops rows to cfg.window):
 *
 *   xn   = norm(X)                                   qkv = xn·in_projᵀ + b   (M, 3D): q | k | v
 *   q, k = RoPE (GPT-NeoX rotate-half, all head dims, base 10000, position 0 = window start)
 *   att  = softmax(q·kᵀ/√hd, causal or not, keys < length) · v
 *   mid  = X + att·out_projᵀ + b
 *   X'   = mid + fc2(GELU(fc1(norm2(mid))))          (X' = mid with mlp_hidden 0: no MLP)
 *
 * The backward recomputes the block from its input X (the residual stream saved per layer),
 * then runs MLP → norm2 → out_proj → attention → RoPE → in_proj → norm backward, adding the
 * input gradient into dR in place (each norm backward accumulates into dR after the branch
 * that reads dR has consumed it). Padded query rows get no output and give no gradient
 * (attention.h); padded rows of dR stay zero.
 *
 * Tested by tests/unit/test_model.c (finite differences, causal and bidirectional, padding).
 */
#include "models/model_internal.h"

static AttentionShape attention_shape(Model *m) {
    Plan *p = &m->plan;
    AttentionShape s = {0};
    s.B = p->Be;
    s.L = p->L;
    s.H = (int)m->H;
    s.hd = (int)m->hd;
    s.causal = m->cfg.causal;
    s.scale = 0.0f;
    s.lengths = p->len;
    s.q = attention_view_contiguous(p->L, s.H, s.hd);
    s.k = s.q;
    s.v = attention_view_packed(p->L, 3, s.H, s.hd);
    return s;
}

static RopeShape rope_shape(Model *m) {
    Plan *p = &m->plan;
    RopeShape r = {0};
    r.B = p->Be;
    r.L = p->L;
    r.H = (int)m->H;
    r.hd = (int)m->hd;
    r.rot_dim = (int)m->hd;
    r.base = 10000.0f;
    r.pos0 = 0;
    r.x = attention_view_packed(p->L, 3, r.H, r.hd);
    return r;
}

// Attention branch: X → p->o (and xn, stats, qkv, qr, kr, att, lse kept in the plan).
static int attn_fwd(Model *m, const LayerParams *lp, const float *X) {
    Plan *p = &m->plan;
    const Device *dev = &m->dev;
    const int64_t M = p->Be * p->L, D = m->D;
    int status =
        ops_norm_fwd(dev, m->cfg.norm == MODEL_NORM_LAYER, p->xn, p->t_mean, p->t_rstd, X,
                     model_p(m, lp->norm_w), model_p(m, lp->norm_b), M, D, m->cfg.norm_eps);
    if (status == 0)
        status = ops_matmul_fwd(dev, p->qkv, p->xn, model_p(m, lp->qkv_w), model_p(m, lp->qkv_b), M,
                                D, 3 * D, D, 3 * D);
    RopeShape rs = rope_shape(m);
    if (status == 0) status = ops_rope_fwd(dev, p->qr, p->qkv, &rs);
    if (status == 0) status = ops_rope_fwd(dev, p->kr, p->qkv + D, &rs);
    AttentionShape as = attention_shape(m);
    if (status == 0)
        status = ops_attention_fwd(dev, p->att, p->lse, p->qr, p->kr, p->qkv + 2 * D, &as);
    if (status == 0)
        status = ops_matmul_fwd(dev, p->o, p->att, model_p(m, lp->att_w), model_p(m, lp->att_b), M,
                                D, D, D, D);
    return status;
}

// MLP branch: mid → p->o (xn2, stats, h1, g kept); with_out = 0 stops before fc2.
static int mlp_fwd(Model *m, const LayerParams *lp, const float *mid, int with_out) {
    Plan *p = &m->plan;
    const Device *dev = &m->dev;
    const int64_t M = p->Be * p->L, D = m->D, F = m->F;
    int status =
        ops_norm_fwd(dev, m->cfg.norm == MODEL_NORM_LAYER, p->xn2, p->mean2, p->rstd2, mid,
                     model_p(m, lp->norm2_w), model_p(m, lp->norm2_b), M, D, m->cfg.norm_eps);
    if (status == 0)
        status = ops_matmul_fwd(dev, p->h1, p->xn2, model_p(m, lp->fc1_w), model_p(m, lp->fc1_b), M,
                                D, F, D, F);
    if (status == 0) status = ops_gelu_fwd(dev, p->g, p->h1, M * F);
    if (status == 0 && with_out)
        status = ops_matmul_fwd(dev, p->o, p->g, model_p(m, lp->fc2_w), model_p(m, lp->fc2_b), M, F,
                                D, F, D);
    return status;
}

/* MLP branch backward after mlp_fwd(p->mid, with_out = 0): dR, the gradient at the block's
 * output, gains the branch's input gradient in place and becomes the gradient at mid. */
static int mlp_bwd(Model *m, const LayerParams *lp, float *dR) {
    Plan *p = &m->plan;
    const Device *dev = &m->dev;
    const int64_t M = p->Be * p->L, D = m->D, F = m->F;
    const int ln = m->cfg.norm == MODEL_NORM_LAYER;
    int status = ops_zero(dev, p->dg, M * F);
    if (status == 0)
        status = ops_matmul_bwd(dev, p->dg, model_g(m, lp->fc2_w), model_g(m, lp->fc2_b), dR, p->g,
                                model_p(m, lp->fc2_w), M, F, D, F, D);
    if (status == 0) status = ops_zero(dev, p->dh1, M * F);
    if (status == 0) status = ops_gelu_bwd(dev, p->dh1, p->dg, p->h1, M * F);
    if (status == 0) status = ops_zero(dev, p->dxn2, M * D);
    if (status == 0)
        status = ops_matmul_bwd(dev, p->dxn2, model_g(m, lp->fc1_w), model_g(m, lp->fc1_b), p->dh1,
                                p->xn2, model_p(m, lp->fc1_w), M, D, F, D, F);
    if (status == 0)
        status = ops_norm_bwd(dev, ln, dR, model_g(m, lp->norm2_w), model_g(m, lp->norm2_b),
                              p->dxn2, p->mid, model_p(m, lp->norm2_w), p->mean2, p->rstd2, M, D);
    return status;
}

int transformer_layer_fwd(Model *m, int layer, const float *X_in, float *X_out) {
    Plan *p = &m->plan;
    const LayerParams *lp = &m->layers[layer];
    const int64_t MD = p->Be * p->L * m->D;
    int status = 0;
    if (X_out != X_in) status = ops_copy(&m->dev, X_out, X_in, MD);
    if (status == 0) status = attn_fwd(m, lp, X_in);
    if (status == 0) status = ops_add(&m->dev, X_out, p->o, MD);
    if (m->F == 0) return status; // attention-only block
    if (status == 0) status = mlp_fwd(m, lp, X_out, 1);
    if (status == 0) status = ops_add(&m->dev, X_out, p->o, MD);
    return status;
}

int transformer_layer_bwd(Model *m, int layer, const float *X_in, float *dR) {
    Plan *p = &m->plan;
    const Device *dev = &m->dev;
    const LayerParams *lp = &m->layers[layer];
    const int64_t M = p->Be * p->L, D = m->D, F = m->F;
    const int ln = m->cfg.norm == MODEL_NORM_LAYER;
    // recompute
    int status = attn_fwd(m, lp, X_in);
    if (F > 0) {
        if (status == 0) status = ops_copy(dev, p->mid, X_in, M * D);
        if (status == 0) status = ops_add(dev, p->mid, p->o, M * D);
        if (status == 0) status = mlp_fwd(m, lp, p->mid, 0);
    }
    // MLP branch (none in an attention-only block, where dR is the gradient at mid already)
    if (F > 0 && status == 0) status = mlp_bwd(m, lp, dR);
    // attention branch: dR is now the gradient at mid
    if (status == 0) status = ops_zero(dev, p->datt, M * D);
    if (status == 0)
        status = ops_matmul_bwd(dev, p->datt, model_g(m, lp->att_w), model_g(m, lp->att_b), dR,
                                p->att, model_p(m, lp->att_w), M, D, D, D, D);
    if (status == 0) status = ops_zero(dev, p->dqkv, M * 3 * D);
    if (status == 0) status = ops_zero(dev, p->dqr, M * D);
    if (status == 0) status = ops_zero(dev, p->dkr, M * D);
    AttentionShape as = attention_shape(m);
    if (status == 0)
        status = ops_attention_bwd(dev, p->dqr, p->dkr, p->dqkv + 2 * D, p->datt, p->qr, p->kr,
                                   p->qkv + 2 * D, p->att, p->lse, &as);
    RopeShape rs = rope_shape(m);
    if (status == 0) status = ops_rope_bwd(dev, p->dqkv, p->dqr, &rs);
    if (status == 0) status = ops_rope_bwd(dev, p->dqkv + D, p->dkr, &rs);
    if (status == 0) status = ops_zero(dev, p->dxn, M * D);
    if (status == 0)
        status = ops_matmul_bwd(dev, p->dxn, model_g(m, lp->qkv_w), model_g(m, lp->qkv_b), p->dqkv,
                                p->xn, model_p(m, lp->qkv_w), M, D, 3 * D, D, 3 * D);
    if (status == 0)
        status = ops_norm_bwd(dev, ln, dR, model_g(m, lp->norm_w), model_g(m, lp->norm_b), p->dxn,
                              X_in, model_p(m, lp->norm_w), p->t_mean, p->t_rstd, M, D);
    return status;
}
