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
 * bf16 (GPU mixed precision): the residual stream X, mid and dR stay fp32; every tensor inside
 * the block is bf16. The CUDA norm reads and writes one type, so a norm's fp32 input is first
 * cast into plan.cx (the backward casts it again rather than keep it) and its input gradient
 * goes through plan.cdx, added into dR; the branches' output gradient is dR cast into plan.cdR.
 *
 * Dropout (training, model_set_dropout): each branch's output o is dropped before it is added
 * (attention at site 2i, MLP at 2i + 1; the recompute drops the attention output again, as mid
 * depends on it), and each branch's backward reads dR through its mask (branch_grad).
 *
 * Tested by tests/unit/test_model.c (finite differences, causal and bidirectional, padding)
 * and tests/gpu/model_gpu.c (GPU against CPU, fp32 and bf16).
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
    s.dtype = m->act;
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
    r.dtype = m->act;
    return r;
}

// The fp32 tensor @p x (M·D) as the norms read it: itself (fp32), or cast into plan.cx.
static int norm_input(Model *m, const float *x, const float **out) {
    *out = x;
    if (m->act == DTYPE_F32) return 0;
    *out = m->plan.cx;
    return ops_cast(&m->dev, m->plan.cx, m->act, x, m->plan.Be * m->plan.L * m->D);
}

// Attention branch: X → p->o (and xn, stats, qkv, qr, kr, att, lse kept in the plan).
static int attn_fwd(Model *m, const LayerParams *lp, const float *X) {
    Plan *p = &m->plan;
    const Device *dev = &m->dev;
    const DType t = m->act;
    const int64_t M = p->Be * p->L, D = m->D;
    const float *xin;
    int status = norm_input(m, X, &xin);
    if (status == 0)
        status = ops_norm_fwd(dev, t, m->cfg.norm == MODEL_NORM_LAYER, p->xn, p->t_mean,
                              p->t_rstd, xin, model_p(m, lp->norm_w), model_p(m, lp->norm_b), M,
                              D, m->cfg.norm_eps);
    if (status == 0)
        status = ops_matmul_fwd(dev, t, p->qkv, p->xn, model_w(m, lp->qkv_w),
                                model_p(m, lp->qkv_b), M, D, 3 * D, D, 3 * D);
    RopeShape rs = rope_shape(m);
    if (status == 0) status = ops_rope_fwd(dev, p->qr, p->qkv, &rs);
    if (status == 0) status = ops_rope_fwd(dev, p->kr, model_at(m, p->qkv, D), &rs);
    AttentionShape as = attention_shape(m);
    if (status == 0)
        status = ops_attention_fwd(dev, p->att, p->lse, p->qr, p->kr, model_at(m, p->qkv, 2 * D),
                                   &as);
    if (status == 0)
        status = ops_matmul_fwd(dev, t, p->o, p->att, model_w(m, lp->att_w),
                                model_p(m, lp->att_b), M, D, D, D, D);
    return status;
}

// MLP branch: mid → p->o (xn2, stats, h1, g kept); with_out = 0 stops before fc2.
static int mlp_fwd(Model *m, const LayerParams *lp, const float *mid, int with_out) {
    Plan *p = &m->plan;
    const Device *dev = &m->dev;
    const DType t = m->act;
    const int64_t M = p->Be * p->L, D = m->D, F = m->F;
    const float *xin;
    int status = norm_input(m, mid, &xin);
    if (status == 0)
        status = ops_norm_fwd(dev, t, m->cfg.norm == MODEL_NORM_LAYER, p->xn2, p->mean2,
                              p->rstd2, xin, model_p(m, lp->norm2_w), model_p(m, lp->norm2_b), M,
                              D, m->cfg.norm_eps);
    if (status == 0)
        status = ops_matmul_fwd(dev, t, p->h1, p->xn2, model_w(m, lp->fc1_w),
                                model_p(m, lp->fc1_b), M, D, F, D, F);
    if (status == 0) status = ops_gelu_fwd(dev, t, p->g, p->h1, M * F);
    if (status == 0 && with_out)
        status = ops_matmul_fwd(dev, t, p->o, p->g, model_w(m, lp->fc2_w), model_p(m, lp->fc2_b),
                                M, F, D, F, D);
    return status;
}

// The fp32 gradient dR (M·D) as the branch backwards read it: itself, or cast into plan.cdR.
static int grad_input(Model *m, const float *dR, const float **out) {
    *out = dR;
    if (m->act == DTYPE_F32) return 0;
    *out = m->plan.cdR;
    return ops_cast(&m->dev, m->plan.cdR, m->act, dR, m->plan.Be * m->plan.L * m->D);
}

// Norm backward whose input gradient is added into the fp32 dR: directly (fp32), or through
// plan.cdx (bf16: the norm writes the activation type). x is the norm's fp32 input.
static int norm_bwd_into(Model *m, float *dR, float *dw, float *db, const float *dy,
                         const float *x, const float *w, const float *mean, const float *rstd) {
    Plan *p = &m->plan;
    const Device *dev = &m->dev;
    const DType t = m->act;
    const int64_t M = p->Be * p->L, D = m->D;
    const int ln = m->cfg.norm == MODEL_NORM_LAYER;
    if (t == DTYPE_F32) return ops_norm_bwd(dev, t, ln, dR, dw, db, dy, x, w, mean, rstd, M, D);
    const float *xin;
    int status = norm_input(m, x, &xin);
    if (status == 0) status = ops_zero(dev, t, p->cdx, M * D);
    if (status == 0)
        status = ops_norm_bwd(dev, t, ln, p->cdx, dw, db, dy, xin, w, mean, rstd, M, D);
    if (status == 0) status = ops_add(dev, dR, DTYPE_F32, p->cdx, t, M * D);
    return status;
}

// Training dropout of a branch's output p->o (M, D) in place, at @p site (no-op otherwise).
static int branch_dropout(Model *m, uint32_t site) {
    if (!model_dropout_on(m)) return 0;
    DropoutArgs a;
    model_dropout_args(m, &a, site, m->plan.Be * m->plan.L, m->D);
    a.x = a.y = m->plan.o;
    a.x_dtype = a.y_dtype = m->act;
    return ops_dropout_fwd(&m->dev, &a);
}

// The gradient at a branch's output as its backward reads it: grad_input(dR), or with dropout
// dR through the branch's mask, written into p->o in the activation type (p->o is free then:
// the recomputed branch outputs have been consumed).
static int branch_grad(Model *m, const float *dR, uint32_t site, const float **out) {
    if (!model_dropout_on(m)) return grad_input(m, dR, out);
    DropoutArgs a;
    model_dropout_args(m, &a, site, m->plan.Be * m->plan.L, m->D);
    a.dy = dR, a.y_dtype = DTYPE_F32;
    a.dx = m->plan.o, a.x_dtype = m->act;
    *out = m->plan.o;
    return ops_dropout_bwd(&m->dev, &a);
}

int transformer_layer_fwd(Model *m, int layer, const float *X_in, float *X_out) {
    Plan *p = &m->plan;
    const LayerParams *lp = &m->layers[layer];
    const int64_t MD = p->Be * p->L * m->D;
    int status = 0;
    if (X_out != X_in) status = ops_copy(&m->dev, X_out, X_in, MD);
    if (status == 0) status = attn_fwd(m, lp, X_in);
    if (status == 0) status = branch_dropout(m, 2u * (uint32_t)layer);
    if (status == 0) status = ops_add(&m->dev, X_out, DTYPE_F32, p->o, m->act, MD);
    if (m->F == 0) return status; // attention-only block
    if (status == 0) status = mlp_fwd(m, lp, X_out, 1);
    if (status == 0) status = branch_dropout(m, 2u * (uint32_t)layer + 1);
    if (status == 0) status = ops_add(&m->dev, X_out, DTYPE_F32, p->o, m->act, MD);
    return status;
}

int transformer_layer_bwd(Model *m, int layer, const float *X_in, float *dR) {
    Plan *p = &m->plan;
    const Device *dev = &m->dev;
    const LayerParams *lp = &m->layers[layer];
    const DType t = m->act;
    const int64_t M = p->Be * p->L, D = m->D, F = m->F;
    const float *dy;
    // recompute
    int status = attn_fwd(m, lp, X_in);
    if (F > 0) { // (none in an attention-only block, where dR is the gradient at mid already)
        if (status == 0) status = branch_dropout(m, 2u * (uint32_t)layer);
        if (status == 0) status = ops_copy(dev, p->mid, X_in, M * D);
        if (status == 0) status = ops_add(dev, p->mid, DTYPE_F32, p->o, t, M * D);
        if (status == 0) status = mlp_fwd(m, lp, p->mid, 0);
        // MLP branch
        if (status == 0) status = branch_grad(m, dR, 2u * (uint32_t)layer + 1, &dy);
        if (status == 0) status = ops_zero(dev, t, p->dg, M * F);
        if (status == 0)
            status = ops_matmul_bwd(dev, t, p->dg, model_g(m, lp->fc2_w), model_g(m, lp->fc2_b), dy,
                                    p->g, model_w(m, lp->fc2_w), M, F, D, F, D);
        if (status == 0) status = ops_zero(dev, t, p->dh1, M * F);
        if (status == 0) status = ops_gelu_bwd(dev, t, p->dh1, p->dg, p->h1, M * F);
        if (status == 0) status = ops_zero(dev, t, p->dxn2, M * D);
        if (status == 0)
            status = ops_matmul_bwd(dev, t, p->dxn2, model_g(m, lp->fc1_w), model_g(m, lp->fc1_b),
                                    p->dh1, p->xn2, model_w(m, lp->fc1_w), M, D, F, D, F);
        if (status == 0)
            status = norm_bwd_into(m, dR, model_g(m, lp->norm2_w), model_g(m, lp->norm2_b), p->dxn2,
                                   p->mid, model_p(m, lp->norm2_w), p->mean2, p->rstd2);
    }
    // attention branch: dR is now the gradient at mid
    if (status == 0) status = branch_grad(m, dR, 2u * (uint32_t)layer, &dy);
    if (status == 0) status = ops_zero(dev, t, p->datt, M * D);
    if (status == 0)
        status = ops_matmul_bwd(dev, t, p->datt, model_g(m, lp->att_w), model_g(m, lp->att_b), dy,
                                p->att, model_w(m, lp->att_w), M, D, D, D, D);
    if (status == 0) status = ops_zero(dev, t, p->dqkv, M * 3 * D);
    if (status == 0) status = ops_zero(dev, t, p->dqr, M * D);
    if (status == 0) status = ops_zero(dev, t, p->dkr, M * D);
    AttentionShape as = attention_shape(m);
    if (status == 0)
        status = ops_attention_bwd(dev, p->dqr, p->dkr, model_at(m, p->dqkv, 2 * D), p->datt,
                                   p->qr, p->kr, model_at(m, p->qkv, 2 * D), p->att, p->lse, &as);
    RopeShape rs = rope_shape(m);
    if (status == 0) status = ops_rope_bwd(dev, p->dqkv, p->dqr, &rs);
    if (status == 0) status = ops_rope_bwd(dev, model_at(m, p->dqkv, D), p->dkr, &rs);
    if (status == 0) status = ops_zero(dev, t, p->dxn, M * D);
    if (status == 0)
        status = ops_matmul_bwd(dev, t, p->dxn, model_g(m, lp->qkv_w), model_g(m, lp->qkv_b),
                                p->dqkv, p->xn, model_w(m, lp->qkv_w), M, D, 3 * D, D, 3 * D);
    if (status == 0)
        status = norm_bwd_into(m, dR, model_g(m, lp->norm_w), model_g(m, lp->norm_b), p->dxn,
                               X_in, model_p(m, lp->norm_w), p->t_mean, p->t_rstd);
    return status;
}

// ------------------------------------------------------------------------------ streaming

int transformer_layer_stream(Model *m, int layer, float *X, KvCache *c, int64_t pos0) {
    Plan *p = &m->plan;
    const Device *dev = &m->dev;
    const LayerParams *lp = &m->layers[layer];
    const int64_t B = p->Be, L = p->L, M = B * L, D = m->D;
    const int H = (int)m->H, hd = (int)m->hd;
    if (c->len + L > c->cap)
        return ls_error(LS_ERR_INTERNAL, "transformer_layer_stream: cache of %lld positions "
                        "holds %lld, %lld more do not fit", (long long)c->cap,
                        (long long)c->len, (long long)L);
    const DType t = m->act; // the block's tensors, as transformer_layer_fwd stores them
    // bf16: X (the residual stream) is fp32 and the norm reads and writes one type, so X goes
    // through its bf16 copy in plan.cx first, as attn_fwd does (reading the fp32 X as bf16
    // was issue 13's bf16 stream/generate failure). What the stream then equals, element for
    // element, is the one-pass bf16 block: xn = bf16(norm(bf16(X))), qkv and the rotated
    // q, k rounded to bf16 once each, the cache holding those very bf16 k and v (copy_blocks
    // moves 2-byte elements, no rounding), attention in fp32 over them. What differs from one
    // pass is summation order only (attention_kv vs the flash kernel; GEMMs over fewer rows),
    // each a few bf16 ulps, so the logits match one pass within the bf16 tolerance (3e-2, L2).
    const float *xin;
    int status = norm_input(m, X, &xin);
    if (status == 0)
        status = ops_norm_fwd(dev, t, m->cfg.norm == MODEL_NORM_LAYER, p->xn, p->t_mean,
                              p->t_rstd, xin, model_p(m, lp->norm_w), model_p(m, lp->norm_b), M,
                              D, m->cfg.norm_eps);
    if (status == 0)
        status = ops_matmul_fwd(dev, t, p->qkv, p->xn, model_w(m, lp->qkv_w),
                                model_p(m, lp->qkv_b), M, D, 3 * D, D, 3 * D);
    // q and k rotated at their sequence positions; k straight into the cache, v copied there
    RopeShape rs = rope_shape(m);
    rs.pos0 = pos0;
    if (status == 0) status = ops_rope_fwd(dev, p->qr, p->qkv, &rs);
    if (status == 0) status = ops_rope_fwd(dev, p->kr, model_at(m, p->qkv, D), &rs);
    const int64_t sb = c->cap * D; // cache row stride
    if (status == 0)
        status = ops_copy_blocks(dev, t, model_at(m, c->k, c->len * D), sb, D, p->kr, L * D, D,
                                 B, L, D);
    if (status == 0)
        status = ops_copy_blocks(dev, t, model_at(m, c->v, c->len * D), sb, D,
                                 model_at(m, p->qkv, 2 * D), L * 3 * D, 3 * D, B, L, D);
    if (status < 0) return status;
    c->len += L;
    AttentionKvShape as = {.B = B, .Lq = L, .Lk = c->len, .H = H, .hd = hd, .q_pos0 = pos0,
                           .k_pos0 = c->pos0, .window = m->cfg.window, .dtype = t};
    as.q = attention_view_contiguous(L, H, hd);
    as.k = as.v = attention_view_contiguous(c->cap, H, hd);
    status = ops_attention_kv_fwd(dev, p->att, p->qr, c->k, c->v, &as);
    if (status == 0)
        status = ops_matmul_fwd(dev, t, p->o, p->att, model_w(m, lp->att_w),
                                model_p(m, lp->att_b), M, D, D, D, D);
    if (status == 0) status = ops_add(dev, X, DTYPE_F32, p->o, t, M * D);
    if (status == 0 && m->F > 0) status = mlp_fwd(m, lp, X, 1);
    if (status == 0 && m->F > 0) status = ops_add(dev, X, DTYPE_F32, p->o, t, M * D);
    return status;
}
