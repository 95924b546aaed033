/*
 * attention_kv.c — CPU reference of kernels/attention_kv.h: queries after a key/value cache,
 * causal, optionally within a sliding window. One task per (row, head, query) walks its
 * visible keys once with an online softmax in double (running max m, sum l, accumulators
 * rescaled by exp(m_old − m_new) when the max grows), so no score buffer exists.
 * Tested by tests/unit/test_attention_kv.c.
 */
#include "kernels/attention_kv.h"

#include <math.h>
#include <string.h>

static int view_ok(AttentionView v, int64_t L, int H, int hd) {
    // the layouts the models use: head dim contiguous, heads inside a position, positions
    // inside a row, rows apart (any gaps allowed, no overlap)
    return L <= 1 || (v.head >= hd && v.pos >= (int64_t)(H - 1) * v.head + hd &&
                      v.batch >= (L - 1) * v.pos + (int64_t)(H - 1) * v.head + hd);
}

int attention_kv_check(const char *who, const float *out, const float *q, const float *k,
                       const float *v, const AttentionKvShape *s) {
    // out (B, Lq, H, hd); q view (B, Lq, H, hd); k, v views (B, Lk, H, hd)
    if (!s || !out || !q || !k || !v)
        return ls_error(LS_ERR_USAGE, "%s: shape, out, q, k and v must not be NULL", who);
    if (s->B < 0 || s->Lq < 0 || s->Lk < 0 || s->H < 1 || s->hd < 1 ||
        s->hd > ATTENTION_MAX_HEAD_DIM || s->q_pos0 < 0 || s->k_pos0 < 0 || s->window < 0 ||
        !(s->scale >= 0.0f))
        return ls_error(LS_ERR_USAGE, "%s: bad shape B=%lld Lq=%lld Lk=%lld H=%d hd=%d q_pos0=%lld "
                        "k_pos0=%lld window=%lld scale=%g", who, (long long)s->B,
                        (long long)s->Lq, (long long)s->Lk, s->H, s->hd, (long long)s->q_pos0,
                        (long long)s->k_pos0, (long long)s->window, s->scale);
    if (!view_ok(s->q, s->Lq, s->H, s->hd) || !view_ok(s->k, s->Lk, s->H, s->hd) ||
        !view_ok(s->v, s->Lk, s->H, s->hd) || s->q.head < 1 || s->k.head < 1 || s->v.head < 1)
        return ls_error(LS_ERR_USAGE, "%s: a view's strides overlap (head dim contiguous, heads "
                        "within a position, positions within a row)", who);
    if (s->dtype != DTYPE_F32 && s->dtype != DTYPE_BF16)
        return ls_error(LS_ERR_USAGE, "%s: dtype %d is neither DTYPE_F32 nor DTYPE_BF16", who,
                        (int)s->dtype);
    return 0;
}

int attention_kv_fwd_cpu(float *restrict out, const float *restrict q, const float *restrict k,
                         const float *restrict v, const AttentionKvShape *s) {
    int status = attention_kv_check(__func__, out, q, k, v, s);
    if (status < 0) return status;
    if (s->dtype != DTYPE_F32)
        return ls_error(LS_ERR_USAGE, "%s: %s storage (the CPU computes in fp32)", __func__,
                        dtype_name(s->dtype));
    const int64_t B = s->B, Lq = s->Lq, Lk = s->Lk;
    const int H = s->H, hd = s->hd;
    const double scale = s->scale > 0.0f ? s->scale : 1.0 / sqrt((double)hd);

#pragma omp parallel for collapse(3) schedule(static)
    for (int64_t b = 0; b < B; b++) {
        for (int h = 0; h < H; h++) {
            for (int64_t i = 0; i < Lq; i++) {
                const int64_t p = s->q_pos0 + i;
                // visible keys j in [lo, hi): k_pos0 + j <= p, and > p − window
                int64_t hi = p - s->k_pos0 + 1, lo = 0;
                if (hi > Lk) hi = Lk;
                if (s->window > 0 && p - s->window + 1 - s->k_pos0 > lo)
                    lo = p - s->window + 1 - s->k_pos0;
                const float *qi = q + b * s->q.batch + i * s->q.pos + h * s->q.head; // (hd)
                float *oi = out + ((b * Lq + i) * H + h) * hd;                      // (hd)
                double acc[ATTENTION_MAX_HEAD_DIM], m = -INFINITY, l = 0.0;
                for (int e = 0; e < hd; e++) acc[e] = 0.0;
                for (int64_t j = lo; j < hi; j++) {
                    const float *kj = k + b * s->k.batch + j * s->k.pos + h * s->k.head;
                    const float *vj = v + b * s->v.batch + j * s->v.pos + h * s->v.head;
                    double dot = 0.0;
                    for (int e = 0; e < hd; e++) dot += (double)qi[e] * kj[e];
                    const double sc = dot * scale;
                    if (sc > m) { // rescale what was summed under the old max
                        const double r = exp(m - sc);
                        l *= r;
                        for (int e = 0; e < hd; e++) acc[e] *= r;
                        m = sc;
                    }
                    const double pj = exp(sc - m);
                    l += pj;
                    for (int e = 0; e < hd; e++) acc[e] += pj * vj[e];
                }
                for (int e = 0; e < hd; e++) oi[e] = l > 0.0 ? (float)(acc[e] / l) : 0.0f;
            }
        }
    }
    return 0;
}
