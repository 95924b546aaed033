/*
 * heads.c — the ends of the stack: the input stage (token embedding, or the waveform stem:
 * non-overlapping frames of `frame` samples → linear → d_model) and the heads (final norm,
 * then next-token logits, or pooling over valid positions → classifier), forward and
 * backward. With rc_equivariant the backbone rows B..2B−1 carry the reverse complement of
 * rows 0..B−1 and the head averages the two pooled vectors (docs/models.md).
 *
 * Padding: positions at or past a row's length are zero in the residual stream after the input
 * stage, and zero in the final norm output before the LM head (so their logits are 0 and their
 * dlogits can never reach a gradient).
 *
 * Target mask (LM): only the scored positions (plan.sel) go through the LM head: their rows
 * of the final norm output are gathered (the embedding gather, rows as the table) into xsel,
 * logits are xsel·Wᵀ, and the backward scatters dxsel back into zeros (embedding backward;
 * the rows are distinct, so it is a plain copy). With vocabularies of thousands and a few
 * targets per sequence (MQAR: 16 of 256) the head is most of a step's work otherwise.
 * Dropout (training, model_set_dropout): a classifier's pooled features (after the rc pair
 * mean) are dropped in place before the classification head, and its gradient goes back
 * through the same mask. The LM head has none (as mamba_ssm's and GPT's LM heads).
 * Tested through tests/unit/test_model.c.
 */
#include "models/model_internal.h"
#include "models/slice_exchange.h"

static PoolMode pool_mode(ModelPool pool) {
    return pool == MODEL_POOL_LAST ? POOL_LAST : pool == MODEL_POOL_FIRST ? POOL_FIRST : POOL_MEAN;
}

int model_input_fwd(Model *m, const ModelBatch *batch, float *X) {
    Plan *p = &m->plan;
    const Device *dev = &m->dev;
    const int64_t Be = p->Be, L = p->L, D = m->D;
    const int cpu = dev->kind == DEVICE_CPU;
    int status = 0;
    if (m->cfg.input == MODEL_INPUT_TOKENS) {
        // on the GPU the batch is uploaded first (checked on the host: model_batch_check)
        const int32_t *ids = batch->ids;
        const uint8_t *tokens = batch->tokens;
        if (!cpu && ids) {
            status = ops_upload(dev, p->in_ids, ids, (size_t)(p->B * L) * sizeof *ids);
            ids = p->in_ids;
        } else if (!cpu) {
            status = ops_upload(dev, p->in_tokens, tokens, (size_t)(p->B * L));
            tokens = p->in_tokens;
        }
        if (!cpu && status < 0) return status;
        status = ids ? ops_ids_to_ids(dev, p->ids, ids, p->len, p->B, L, m->cfg.vocab)
                     : ops_tokens_to_ids(dev, p->ids, tokens, p->len, p->mirror, p->B, L,
                                         m->cfg.vocab, m->rows_per_row == 2);
        if (status == 0)
            status = ops_embedding_fwd(dev, X, p->ids, model_p(m, m->idx_embed), Be * L,
                                       m->cfg.vocab, D);
    } else {
        const int64_t F = m->cfg.frame;
        const float *samples = batch->samples;
        if (!cpu) {
            status = ops_upload(dev, p->in_samples, samples,
                                (size_t)(p->B * p->Ls) * sizeof *samples);
            if (status < 0) return status;
            samples = p->in_samples;
        }
        status = ops_frames(dev, p->frames, samples, p->slen, p->frame_end, p->B, p->Ls, F, L);
        if (status == 0)
            status = ops_matmul_fwd(dev, DTYPE_F32, X, p->frames, model_p(m, m->idx_stem_w),
                                    model_p(m, m->idx_stem_b), Be * L, F, D, F, D);
    }
    if (status == 0) status = ops_rows_zero_tail(dev, X, p->len, Be, L, D);
    return status;
}

int model_input_bwd(Model *m, const float *dX) {
    Plan *p = &m->plan;
    const int64_t M = p->Be * p->L, D = m->D;
    if (m->cfg.input == MODEL_INPUT_TOKENS)
        return ops_embedding_bwd(&m->dev, model_g(m, m->idx_embed), dX, p->ids, M, m->cfg.vocab, D);
    const int64_t F = m->cfg.frame;
    return ops_matmul_bwd(&m->dev, DTYPE_F32, NULL, model_g(m, m->idx_stem_w),
                          model_g(m, m->idx_stem_b), dX, p->frames, NULL, M, F, D, F, D);
}

int model_head_fwd(Model *m, const float *X, float *xf, float *logits, float *embed_out) {
    Plan *p = &m->plan;
    const Device *dev = &m->dev;
    const ModelConfig *c = &m->cfg;
    const int64_t Be = p->Be, L = p->L, M = Be * L, D = m->D;
    int status =
        ops_norm_fwd(dev, DTYPE_F32, c->norm == MODEL_NORM_LAYER, xf, p->mean_f, p->rstd_f, X,
                     model_p(m, m->idx_norm_f_w), model_p(m, m->idx_norm_f_b), M, D, c->norm_eps);
    if (status < 0) return status;
    if (p->ranks > 1 && c->task == MODEL_TASK_CLASSIFY) {
        // memory split: this rank's part of each sequence's pooled vector, weighted by its
        // share (pool_w), summed over the ranks; then the head runs alike on every rank
        status = ops_pool_fwd(dev, p->pool_tmp, xf, p->pool_start, p->pool_len, p->S, L, D,
                              pool_mode(c->pool));
        if (status == 0) status = ops_zero(dev, DTYPE_F32, p->pooled, p->S * D);
        if (status == 0) status = ops_mul_acc(dev, p->pooled, p->pool_tmp, p->pool_w, p->S * D);
        if (status == 0)
            status = m->exchange->all_reduce(m->exchange, dev, p->pooled, p->S * D);
        if (status < 0) return status;
        return ops_matmul_fwd(dev, DTYPE_F32, logits, p->pooled_out, model_p(m, m->idx_cls_w),
                              model_p(m, m->idx_cls_b), p->S, D, c->n_classes, D, c->n_classes);
    }
    if (embed_out || c->task == MODEL_TASK_CLASSIFY) {
        status = p->packed ? ops_pool_fwd(dev, p->pooled, xf, p->seq_start, p->seq_len, p->Se, L,
                                          D, pool_mode(c->pool))
                           : ops_pool_fwd(dev, p->pooled, xf, NULL, p->len, Be, L, D,
                                          pool_mode(c->pool));
        if (status == 0 && m->rows_per_row == 2)
            status = ops_pair_mean_fwd(dev, p->pooled_out, p->pooled, p->S, D);
        if (status < 0) return status;
        // (on the GPU embed_out is the plan's dpooled, unused in inference, copied back)
        if (embed_out) return ops_copy(dev, embed_out, p->pooled_out, p->S * D);
        if (model_dropout_on(m)) { // what the classifier sees, dropped in place
            DropoutArgs a;
            model_dropout_args(m, &a, MODEL_DROPOUT_SITE_HEAD, p->S, D);
            a.x = a.y = p->pooled_out;
            if ((status = ops_dropout_fwd(dev, &a)) < 0) return status;
        }
        return ops_matmul_fwd(dev, DTYPE_F32, logits, p->pooled_out, model_p(m, m->idx_cls_w),
                              model_p(m, m->idx_cls_b), p->S, D, c->n_classes, D, c->n_classes);
    }
    status = ops_rows_zero_tail(dev, xf, p->len, Be, L, D);
    if (status < 0 || p->n_sel == 0) return status;
    if (p->n_sel > 0) { // target mask: gather the scored rows, logits for them only
        status = ops_embedding_fwd(dev, p->xsel, p->sel, xf, p->n_sel, M, D);
        if (status < 0) return status;
        return ops_matmul_fwd(dev, DTYPE_F32, logits, p->xsel, model_p(m, m->idx_lm_head), NULL,
                              p->n_sel, D, c->vocab, D, c->vocab);
    }
    return ops_matmul_fwd(dev, DTYPE_F32, logits, xf, model_p(m, m->idx_lm_head), NULL, M, D,
                          c->vocab, D, c->vocab);
}

int model_head_bwd(Model *m, const float *X, const float *xf_const, const float *dlogits,
                   float *dR) {
    Plan *p = &m->plan;
    const Device *dev = &m->dev;
    const ModelConfig *c = &m->cfg;
    const int64_t Be = p->Be, L = p->L, M = Be * L, D = m->D;
    float *dxf = (float *)xf_const; // the final norm output is dead once its uses are done
    int status;
    if (c->task == MODEL_TASK_CLASSIFY) {
        const int64_t C = c->n_classes;
        status = ops_zero(dev, DTYPE_F32, p->dpooled, p->S * D);
        if (status == 0)
            status = ops_matmul_bwd(dev, DTYPE_F32, p->dpooled, model_g(m, m->idx_cls_w),
                                    model_g(m, m->idx_cls_b), dlogits, p->pooled_out,
                                    model_p(m, m->idx_cls_w), p->S, D, C, D, C);
        if (status == 0 && model_dropout_on(m)) { // through the forward's mask, in place
            DropoutArgs a;
            model_dropout_args(m, &a, MODEL_DROPOUT_SITE_HEAD, p->S, D);
            a.dy = a.dx = p->dpooled;
            status = ops_dropout_bwd(dev, &a);
        }
        if (status == 0 && m->rows_per_row == 2) {
            status = ops_zero(dev, DTYPE_F32, p->dpool_e, p->Se * D);
            if (status == 0) status = ops_pair_mean_bwd(dev, p->dpool_e, p->dpooled, p->S, D);
        }
        if (status == 0) status = ops_zero(dev, DTYPE_F32, dxf, M * D);
        if (status == 0 && p->ranks > 1) { // memory split: through this rank's share
            status = ops_zero(dev, DTYPE_F32, p->pool_tmp, p->S * D);
            if (status == 0)
                status = ops_mul_acc(dev, p->pool_tmp, p->dpool_e, p->pool_w, p->S * D);
            if (status == 0)
                status = ops_pool_bwd(dev, dxf, p->pool_tmp, p->pool_start, p->pool_len, p->S, L,
                                      D, pool_mode(c->pool));
        } else if (status == 0)
            status = p->packed ? ops_pool_bwd(dev, dxf, p->dpool_e, p->seq_start, p->seq_len,
                                              p->Se, L, D, pool_mode(c->pool))
                               : ops_pool_bwd(dev, dxf, p->dpool_e, NULL, p->len, Be, L, D,
                                              pool_mode(c->pool));
    } else if (p->n_sel >= 0) { // target mask: the scored rows' gradients scattered back
        const int64_t V = c->vocab, S = p->n_sel;
        status = ops_zero(dev, DTYPE_F32, dxf, M * D);
        if (status == 0 && S > 0)
            status = ops_matmul_bwd(dev, DTYPE_F32, NULL, model_g(m, m->idx_lm_head), NULL, dlogits,
                                    p->xsel, NULL, S, D, V, D, V);
        if (status == 0 && S > 0) status = ops_zero(dev, DTYPE_F32, p->dxsel, S * D);
        if (status == 0 && S > 0)
            status = ops_matmul_bwd(dev, DTYPE_F32, p->dxsel, NULL, NULL, dlogits, NULL,
                                    model_p(m, m->idx_lm_head), S, D, V, D, V);
        if (status == 0 && S > 0) // rows are distinct: a plain scatter
            status = ops_embedding_bwd(dev, dxf, p->dxsel, p->sel, S, M, D);
    } else {
        const int64_t V = c->vocab;
        status = ops_matmul_bwd(dev, DTYPE_F32, NULL, model_g(m, m->idx_lm_head), NULL, dlogits,
                                xf_const, NULL, M, D, V, D, V);
        if (status == 0) status = ops_zero(dev, DTYPE_F32, dxf, M * D);
        if (status == 0)
            status = ops_matmul_bwd(dev, DTYPE_F32, dxf, NULL, NULL, dlogits, NULL,
                                    model_p(m, m->idx_lm_head), M, D, V, D, V);
        if (status == 0) status = ops_rows_zero_tail(dev, dxf, p->len, Be, L, D);
    }
    if (status == 0) status = ops_zero(dev, DTYPE_F32, dR, M * D);
    if (status == 0)
        status = ops_norm_bwd(dev, DTYPE_F32, c->norm == MODEL_NORM_LAYER, dR,
                              model_g(m, m->idx_norm_f_w), model_g(m, m->idx_norm_f_b), dxf, X,
                              model_p(m, m->idx_norm_f_w), p->mean_f, p->rstd_f, M, D);
    if (status == 0) status = ops_rows_zero_tail(dev, dR, p->len, Be, L, D);
    return status;
}
