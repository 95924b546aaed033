/*
 * attention.c — CPU reference of kernels/attention.h: scaled dot-product attention forward
 * and backward over strided (B, L, H, hd) views, causal or not, with per-row key padding,
 * and the GPT-NeoX rotary embedding. The CUDA version (later) must match it within the
 * tests/gpu tolerances. Tested by tests/unit/test_attention.c.
 *
 * Memory plan (flash-attention style). The forward keeps, per query row, only its
 * log-sum-exp lse_i = log Σ_j exp(s_ij); the probabilities p_ij = exp(s_ij − lse_i) are
 * recomputed by the backward. Extra memory is O(B·H·L), never O(L²). Each query row is
 * computed in two sweeps over its keys (sweep 1: running max and sum → lse; sweep 2:
 * out = Σ p·v), trading a second q·k dot product for no score buffer.
 *
 * Backward, with dp_ij = dout_i·v_j and D_i = dout_i·out_i = Σ_j p_ij·dp_ij:
 *   ds_ij = p_ij·(dp_ij − D_i)
 *   dq_i += scale·Σ_j ds_ij·k_j      dk_j += scale·Σ_i ds_ij·q_i      dv_j += Σ_i p_ij·dout_i
 * Race-freedom without atomics: sweep A runs one task per query row (owns dq_i), sweep B one
 * task per key row (owns dk_j, dv_j) and recomputes p_ij and D_i for the query rows that see
 * key j. Each task sums in a fixed order into double accumulators and adds to the caller's
 * gradient once, so results are bit-identical for any thread count.
 *
 * Numerics: dot products, sums and accumulators in double, tensors and lse in float.
 * The fast path the models use (attention_blocked.c) is checked against this file.
 */
#include "kernels/attention.h"

#include <math.h>
#include <string.h>

#include "kernels/cpu/attention_internal.h"

// ----------------------------------------------------------------------------- checks

/* The shared validation (kernels/attention.c), plus what only the CPU spec refuses. */
int attention_shape_check(const char *fn, const AttentionShape *s) {
    int status = attention_check(fn, s, 1);
    if (status == 0 && s->dtype != DTYPE_F32)
        status = ls_error(LS_ERR_UNSUPPORTED, "%s: dtype %s: the CPU op is fp32 only", fn,
                          dtype_name(s->dtype));
    return status;
}

// ----------------------------------------------------------------------------- helpers

static inline double dot(const float *restrict a, const float *restrict b, int n) {
    double acc = 0.0;
    for (int e = 0; e < n; e++) acc += (double)a[e] * b[e];
    return acc;
}

/* pointer to row (b, l, h) of a view */
static inline const float *at(const float *base, AttentionView view, int64_t b, int64_t l,
                              int h) {
    return base + b * view.batch + l * view.pos + h * view.head;
}

static inline float attn_scale(const AttentionShape *s) {
    return s->scale > 0.0f ? s->scale : 1.0f / sqrtf((float)s->hd);
}

// ----------------------------------------------------------------------------- forward

int attention_fwd_cpu(float *restrict out, float *restrict lse, const float *restrict q,
                      const float *restrict k, const float *restrict v,
                      const AttentionShape *s) {
    // out (B, L, H, hd); lse (B, H, L) or NULL; q, k, v views (B, L, H, hd)
    int status = attention_shape_check(__func__, s);
    if (status) return status;
    if (!out || !q || !k || !v)
        return ls_error(LS_ERR_USAGE, "%s: out, q, k and v must not be NULL", __func__);
    const int64_t B = s->B, L = s->L;
    const int H = s->H, hd = s->hd;
    const double scale = attn_scale(s);

#pragma omp parallel for collapse(3) schedule(static)
    for (int64_t b = 0; b < B; b++) {
        for (int h = 0; h < H; h++) {
            for (int64_t i = 0; i < L; i++) {
                float *out_i = out + ((b * L + i) * H + h) * hd; // (hd)
                int64_t n = s->lengths ? s->lengths[b] : L;
                if (i >= n) { /* padded query row */
                    memset(out_i, 0, (size_t)hd * sizeof(float));
                    if (lse) lse[(b * H + h) * L + i] = 0.0f;
                    continue;
                }
                const float *q_i = at(q, s->q, b, i, h); // (hd)
                int64_t j_end = s->causal ? i + 1 : n;   // keys j < j_end
                /* sweep 1: lse = m + log Σ exp(s_j − m), m the running max */
                double m = -INFINITY, sum = 0.0;
                for (int64_t j = 0; j < j_end; j++) {
                    double s_ij = scale * dot(q_i, at(k, s->k, b, j, h), hd);
                    if (s_ij > m) {
                        sum = sum * exp(m - s_ij) + 1.0;
                        m = s_ij;
                    } else {
                        sum += exp(s_ij - m);
                    }
                }
                double lse_i = m + log(sum);
                /* sweep 2: out = Σ p_j·v_j */
                double acc[ATTENTION_MAX_HEAD_DIM] = {0};
                for (int64_t j = 0; j < j_end; j++) {
                    double p = exp(scale * dot(q_i, at(k, s->k, b, j, h), hd) - lse_i);
                    const float *v_j = at(v, s->v, b, j, h); // (hd)
                    for (int e = 0; e < hd; e++) acc[e] += p * v_j[e];
                }
                for (int e = 0; e < hd; e++) out_i[e] = (float)acc[e];
                if (lse) lse[(b * H + h) * L + i] = (float)lse_i;
            }
        }
    }
    return 0;
}

// ----------------------------------------------------------------------------- backward

int attention_bwd_cpu(float *restrict dq, float *restrict dk, float *restrict dv,
                      const float *restrict dout, const float *restrict q,
                      const float *restrict k, const float *restrict v,
                      const float *restrict out, const float *restrict lse,
                      const AttentionShape *s) {
    // dq, dk, dv views (B, L, H, hd) or NULL; dout, out (B, L, H, hd); q, k, v views;
    // lse (B, H, L)
    int status = attention_shape_check(__func__, s);
    if (status) return status;
    if (!dout || !q || !k || !v || !out || !lse)
        return ls_error(LS_ERR_USAGE, "%s: dout, q, k, v, out and lse must not be NULL",
                        __func__);
    const int64_t B = s->B, L = s->L;
    const int H = s->H, hd = s->hd;
    const double scale = attn_scale(s);

    /* sweep A: one task per query row i owns dq_i */
    if (dq) {
#pragma omp parallel for collapse(3) schedule(static)
        for (int64_t b = 0; b < B; b++) {
            for (int h = 0; h < H; h++) {
                for (int64_t i = 0; i < L; i++) {
                    int64_t n = s->lengths ? s->lengths[b] : L;
                    if (i >= n) continue;
                    const float *q_i = at(q, s->q, b, i, h);                 // (hd)
                    const float *dout_i = dout + ((b * L + i) * H + h) * hd; // (hd)
                    const float *out_i = out + ((b * L + i) * H + h) * hd;   // (hd)
                    double lse_i = lse[(b * H + h) * L + i];
                    double D_i = dot(dout_i, out_i, hd);
                    int64_t j_end = s->causal ? i + 1 : n;
                    double acc[ATTENTION_MAX_HEAD_DIM] = {0};
                    for (int64_t j = 0; j < j_end; j++) {
                        const float *k_j = at(k, s->k, b, j, h); // (hd)
                        double p = exp(scale * dot(q_i, k_j, hd) - lse_i);
                        double ds = p * (dot(dout_i, at(v, s->v, b, j, h), hd) - D_i);
                        for (int e = 0; e < hd; e++) acc[e] += ds * k_j[e];
                    }
                    float *dq_i = dq + b * s->q.batch + i * s->q.pos + h * s->q.head; // (hd)
                    for (int e = 0; e < hd; e++) dq_i[e] += (float)(scale * acc[e]);
                }
            }
        }
    }

    /* sweep B: one task per key row j owns dk_j and dv_j */
    if (dk || dv) {
#pragma omp parallel for collapse(3) schedule(static)
        for (int64_t b = 0; b < B; b++) {
            for (int h = 0; h < H; h++) {
                for (int64_t j = 0; j < L; j++) {
                    int64_t n = s->lengths ? s->lengths[b] : L;
                    if (j >= n) continue;
                    const float *k_j = at(k, s->k, b, j, h); // (hd)
                    const float *v_j = at(v, s->v, b, j, h); // (hd)
                    double acc_k[ATTENTION_MAX_HEAD_DIM] = {0};
                    double acc_v[ATTENTION_MAX_HEAD_DIM] = {0};
                    for (int64_t i = s->causal ? j : 0; i < n; i++) { // queries that see j
                        const float *q_i = at(q, s->q, b, i, h);                 // (hd)
                        const float *dout_i = dout + ((b * L + i) * H + h) * hd; // (hd)
                        const float *out_i = out + ((b * L + i) * H + h) * hd;   // (hd)
                        double p = exp(scale * dot(q_i, k_j, hd) -
                                       (double)lse[(b * H + h) * L + i]);
                        for (int e = 0; e < hd; e++) acc_v[e] += p * dout_i[e];
                        if (dk) {
                            double ds = p * (dot(dout_i, v_j, hd) - dot(dout_i, out_i, hd));
                            for (int e = 0; e < hd; e++) acc_k[e] += ds * q_i[e];
                        }
                    }
                    if (dk) {
                        float *dk_j = dk + b * s->k.batch + j * s->k.pos + h * s->k.head;
                        for (int e = 0; e < hd; e++) dk_j[e] += (float)(scale * acc_k[e]);
                    }
                    if (dv) {
                        float *dv_j = dv + b * s->v.batch + j * s->v.pos + h * s->v.head;
                        for (int e = 0; e < hd; e++) dv_j[e] += (float)acc_v[e];
                    }
                }
            }
        }
    }
    return 0;
}

// ----------------------------------------------------------------------------- RoPE

static int rope_check(const char *fn, const RopeShape *s) {
    int status = attention_rope_check(fn, s);
    if (status == 0 && s->dtype != DTYPE_F32)
        status = ls_error(LS_ERR_UNSUPPORTED, "%s: dtype %s: the CPU op is fp32 only", fn,
                          dtype_name(s->dtype));
    return status;
}

/* cos and sin of θ_i = (pos0 + l)·base^(−2i/rot_dim), i < rot_dim/2, computed in double */
static void rope_angles(float *restrict c, float *restrict sn, const RopeShape *s, int64_t l) {
    // c (rot_dim/2); sn (rot_dim/2)
    int half = s->rot_dim / 2;
    double pos = (double)(s->pos0 + l);
    for (int i = 0; i < half; i++) {
        double theta = pos * pow((double)s->base, -2.0 * i / s->rot_dim);
        c[i] = (float)cos(theta);
        sn[i] = (float)sin(theta);
    }
}

int attention_rope_fwd_cpu(float *restrict out, const float *restrict x, const RopeShape *s) {
    // out (B, L, H, hd); x view (B, L, H, hd)
    int status = rope_check(__func__, s);
    if (status) return status;
    if (!out || !x) return ls_error(LS_ERR_USAGE, "%s: out and x must not be NULL", __func__);
    const int64_t B = s->B, L = s->L;
    const int H = s->H, hd = s->hd, half = s->rot_dim / 2;

    /* positions outer: the angles of position l are computed once for every row b */
#pragma omp parallel for schedule(static)
    for (int64_t l = 0; l < L; l++) {
        float c[ATTENTION_MAX_HEAD_DIM / 2], sn[ATTENTION_MAX_HEAD_DIM / 2];
        rope_angles(c, sn, s, l);
        for (int64_t b = 0; b < B; b++) {
            for (int h = 0; h < H; h++) {
                const float *x_r = at(x, s->x, b, l, h);            // (hd)
                float *out_r = out + ((b * L + l) * H + h) * hd;    // (hd)
                for (int i = 0; i < half; i++) {
                    float x1 = x_r[i], x2 = x_r[i + half];
                    out_r[i] = x1 * c[i] - x2 * sn[i];
                    out_r[i + half] = x2 * c[i] + x1 * sn[i];
                }
                for (int e = s->rot_dim; e < hd; e++) out_r[e] = x_r[e];
            }
        }
    }
    return 0;
}

int attention_rope_bwd_cpu(float *restrict dx, const float *restrict dout, const RopeShape *s) {
    // dx view (B, L, H, hd); dout (B, L, H, hd)
    int status = rope_check(__func__, s);
    if (status) return status;
    if (!dx || !dout) return ls_error(LS_ERR_USAGE, "%s: dx and dout must not be NULL", __func__);
    const int64_t B = s->B, L = s->L;
    const int H = s->H, hd = s->hd, half = s->rot_dim / 2;

#pragma omp parallel for schedule(static)
    for (int64_t l = 0; l < L; l++) {
        float c[ATTENTION_MAX_HEAD_DIM / 2], sn[ATTENTION_MAX_HEAD_DIM / 2];
        rope_angles(c, sn, s, l);
        for (int64_t b = 0; b < B; b++) {
            for (int h = 0; h < H; h++) {
                const float *d_r = dout + ((b * L + l) * H + h) * hd;           // (hd)
                float *dx_r = dx + b * s->x.batch + l * s->x.pos + h * s->x.head; // (hd)
                for (int i = 0; i < half; i++) { /* transpose of the rotation */
                    float d1 = d_r[i], d2 = d_r[i + half];
                    dx_r[i] += d1 * c[i] + d2 * sn[i];
                    dx_r[i + half] += d2 * c[i] - d1 * sn[i];
                }
                for (int e = s->rot_dim; e < hd; e++) dx_r[e] += d_r[e];
            }
        }
    }
    return 0;
}
