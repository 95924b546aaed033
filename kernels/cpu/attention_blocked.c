/*
 * attention_blocked.c — the fast CPU path of kernels/attention.h: the same attention forward
 * and backward as attention.c (the reference, the spec), computed on blocks of queries and
 * keys with single-threaded sgemm and float softmax (flash-attention's tiling, Dao et al.
 * 2022). models/ops.c calls it unless LS_CPU_REF=1 is set in the environment; the reference
 * stays what tests and the CUDA version are checked against.
 *
 * Why: the reference walks every (query, key) pair in double with two libm exp calls per
 * pair and per sweep; a 2-layer Transformer at L = 256 spends about 80 % of a training step
 * there. Here a (BQ × BK) block of scores is one sgemm, its softmax one expf per score, and
 * its contribution to the output one more sgemm.
 *
 * Forward: one task per (row b, head h, block of BQ queries); the keys the block needs
 * (causal: up to its last query) in blocks of BK with the online softmax (running max m and
 * sum l per query, the accumulated output rescaled by exp(m_old − m_new)), then out = O / l
 * and lse = m + log l. Extra memory per thread: BQ·BK + BQ·hd floats.
 * Backward: one task per (b, h). D_i = dout_i·out_i for the row's queries, then for each key
 * block, the query blocks that see it: P = exp(S − lse) (recomputed), dP = dout·vᵀ,
 * dS = P∘(dP − D); dV_blk += Pᵀ·dout and dK_blk += scale·dSᵀ·q into block-local buffers that
 * are added to dv, dk once, dQ += scale·dS·k into a task-local (L, hd) buffer added to dq
 * once at the end. Each task writes only its own (b, h) slices, every sum runs in a fixed
 * order, and OpenBLAS runs single-threaded: bit-identical for any thread count, and a second
 * call adds exactly the same values again (the += convention).
 * Numerics: float throughout (sgemm accumulates in float; softmax sums in double); the
 * results match the reference within the tolerances of tests/unit/test_attention.c, which
 * runs every reference case on both.
 */
#include "kernels/attention.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/attention_internal.h"

#define BQ 64  /* queries per block */
#define BK 256 /* keys per block */

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Last key + 1 that query i of a row of n valid positions sees. */
static inline int64_t key_end(const AttentionShape *s, int64_t i, int64_t n) {
    return s->causal ? min64(i + 1, n) : n;
}

int attention_fwd_cpu_blocked(float *out, float *lse, const float *q, const float *k,
                              const float *v, const AttentionShape *s) {
    // out (B, L, H, hd); lse (B, H, L) or NULL; q, k, v views (B, L, H, hd)
    int status = attention_shape_check(__func__, s);
    if (status) return status;
    if (!out || !q || !k || !v)
        return ls_error(LS_ERR_USAGE, "%s: out, q, k and v must not be NULL", __func__);
    const int64_t B = s->B, L = s->L, nqb = (L + BQ - 1) / BQ;
    const int H = s->H, hd = s->hd;
    const int64_t ostride = (int64_t)H * hd;
    const float scale = s->scale > 0.0f ? s->scale : 1.0f / sqrtf((float)hd);
    int failed = 0;
    openblas_set_num_threads(1);
#pragma omp parallel
    {
        float *S = malloc((size_t)BQ * BK * sizeof *S); // (BQ, BK) scores, then weights
        float *O = malloc((size_t)BQ * hd * sizeof *O); // (BQ, hd) unnormalised output
        if (!S || !O) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for collapse(3) schedule(dynamic, 1)
        for (int64_t b = 0; b < B; b++)
            for (int h = 0; h < H; h++)
                for (int64_t qb = 0; qb < nqb; qb++) {
                    if (!S || !O) continue;
                    const int64_t n = s->lengths ? s->lengths[b] : L;
                    const int64_t i0 = qb * BQ, i1 = min64(i0 + BQ, L);
                    const int64_t iv = min64(i1, n); // valid queries [i0, iv)
                    for (int64_t i = i0 > n ? i0 : n; i < i1; i++) { // padded query rows
                        memset(out + (b * L + i) * ostride + (int64_t)h * hd, 0,
                               (size_t)hd * sizeof(float));
                        if (lse) lse[(b * H + h) * L + i] = 0.0f;
                    }
                    if (i0 >= iv) continue;
                    const int64_t mi = iv - i0, jn = s->causal ? iv : n;
                    const float *qi = q + b * s->q.batch + i0 * s->q.pos + (int64_t)h * s->q.head;
                    double m[BQ], l[BQ];
                    for (int64_t r = 0; r < mi; r++) m[r] = -INFINITY, l[r] = 0.0;
                    memset(O, 0, (size_t)(mi * hd) * sizeof *O);
                    for (int64_t j0 = 0; j0 < jn; j0 += BK) {
                        const int64_t nk = min64(BK, jn - j0);
                        const float *kj =
                            k + b * s->k.batch + j0 * s->k.pos + (int64_t)h * s->k.head;
                        const float *vj =
                            v + b * s->v.batch + j0 * s->v.pos + (int64_t)h * s->v.head;
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)mi, (int)nk, hd,
                                    scale, qi, (int)s->q.pos, kj, (int)s->k.pos, 0.0f, S,
                                    (int)nk);
                        for (int64_t r = 0; r < mi; r++) {
                            float *row = S + r * nk; // (nk)
                            const int64_t cnt = key_end(s, i0 + r, n) - j0; // visible keys
                            if (cnt <= 0) { // the whole block is in this query's future
                                memset(row, 0, (size_t)nk * sizeof *row);
                                continue;
                            }
                            const int64_t c_end = min64(cnt, nk);
                            float mx = row[0];
                            for (int64_t c = 1; c < c_end; c++) mx = row[c] > mx ? row[c] : mx;
                            const double m_new = mx > m[r] ? mx : m[r];
                            const float alpha = (float)exp(m[r] - m_new); // 0 on the first
                            double sum = 0.0;
                            for (int64_t c = 0; c < c_end; c++) {
                                row[c] = expf(row[c] - (float)m_new);
                                sum += row[c];
                            }
                            for (int64_t c = c_end; c < nk; c++) row[c] = 0.0f;
                            l[r] = l[r] * alpha + sum;
                            m[r] = m_new;
                            if (alpha != 1.0f)
                                for (int e = 0; e < hd; e++) O[r * hd + e] *= alpha;
                        }
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)mi, hd,
                                    (int)nk, 1.0f, S, (int)nk, vj, (int)s->v.pos, 1.0f, O, hd);
                    }
                    for (int64_t r = 0; r < mi; r++) {
                        float *o = out + (b * L + i0 + r) * ostride + (int64_t)h * hd; // (hd)
                        const float inv = (float)(1.0 / l[r]);
                        for (int e = 0; e < hd; e++) o[e] = O[r * hd + e] * inv;
                        if (lse) lse[(b * H + h) * L + i0 + r] = (float)(m[r] + log(l[r]));
                    }
                }
        free(S);
        free(O);
    }
    if (failed) return ls_error(LS_ERR_NOMEM, "%s: out of memory for block buffers", __func__);
    return 0;
}

int attention_bwd_cpu_blocked(float *dq, float *dk, float *dv, const float *dout, const float *q,
                              const float *k, const float *v, const float *out, const float *lse,
                              const AttentionShape *s) {
    // dq, dk, dv views (B, L, H, hd) or NULL; dout, out (B, L, H, hd); q, k, v views;
    // lse (B, H, L)
    int status = attention_shape_check(__func__, s);
    if (status) return status;
    if (!dout || !q || !k || !v || !out || !lse)
        return ls_error(LS_ERR_USAGE, "%s: dout, q, k, v, out and lse must not be NULL",
                        __func__);
    if (!dq && !dk && !dv) return 0;
    const int64_t B = s->B, L = s->L;
    const int H = s->H, hd = s->hd;
    const int64_t ostride = (int64_t)H * hd;
    const float scale = s->scale > 0.0f ? s->scale : 1.0f / sqrtf((float)hd);
    int failed = 0;
    openblas_set_num_threads(1);
#pragma omp parallel
    {
        float *P = malloc((size_t)BQ * BK * sizeof *P);  // (BQ, BK) weights
        float *dS = malloc((size_t)BQ * BK * sizeof *dS); // (BQ, BK) dP, then dS
        float *dKb = malloc((size_t)BK * hd * sizeof *dKb), *dVb = malloc((size_t)BK * hd *
                                                                           sizeof *dVb);
        float *D = malloc((size_t)(L > 0 ? L : 1) * sizeof *D);          // (L)
        float *dQ = dq ? malloc((size_t)(L > 0 ? L : 1) * hd * sizeof *dQ) : NULL; // (L, hd)
        if (!P || !dS || !dKb || !dVb || !D || (dq && !dQ)) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for collapse(2) schedule(dynamic, 1)
        for (int64_t b = 0; b < B; b++)
            for (int h = 0; h < H; h++) {
                if (!P || !dS || !dKb || !dVb || !D || (dq && !dQ)) continue;
                const int64_t n = s->lengths ? s->lengths[b] : L;
                if (n == 0) continue;
                const float *qb = q + b * s->q.batch + (int64_t)h * s->q.head;
                const float *kb = k + b * s->k.batch + (int64_t)h * s->k.head;
                const float *vb = v + b * s->v.batch + (int64_t)h * s->v.head;
                const float *dob = dout + b * L * ostride + (int64_t)h * hd; // rows ostride
                const float *lb = lse + (b * H + h) * L;
                for (int64_t i = 0; i < n; i++) {
                    const float *o = out + (b * L + i) * ostride + (int64_t)h * hd;
                    double acc = 0.0;
                    for (int e = 0; e < hd; e++) acc += (double)dob[i * ostride + e] * o[e];
                    D[i] = (float)acc;
                }
                if (dQ) memset(dQ, 0, (size_t)(n * hd) * sizeof *dQ);
                for (int64_t j0 = 0; j0 < n; j0 += BK) {
                    const int64_t nk = min64(BK, n - j0);
                    const float *kj = kb + j0 * s->k.pos, *vj = vb + j0 * s->v.pos;
                    memset(dKb, 0, (size_t)(nk * hd) * sizeof *dKb);
                    memset(dVb, 0, (size_t)(nk * hd) * sizeof *dVb);
                    // queries that see a key of this block: causal from j0 on, else all
                    for (int64_t i0 = s->causal ? j0 / BQ * BQ : 0; i0 < n; i0 += BQ) {
                        const int64_t mi = min64(BQ, n - i0);
                        const float *qi = qb + i0 * s->q.pos, *doi = dob + i0 * ostride;
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)mi, (int)nk, hd,
                                    scale, qi, (int)s->q.pos, kj, (int)s->k.pos, 0.0f, P,
                                    (int)nk);
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)mi, (int)nk, hd,
                                    1.0f, doi, (int)ostride, vj, (int)s->v.pos, 0.0f, dS,
                                    (int)nk);
                        for (int64_t r = 0; r < mi; r++) {
                            const int64_t i = i0 + r;
                            const int64_t c_end = min64(key_end(s, i, n) - j0, nk);
                            float *p = P + r * nk, *ds = dS + r * nk; // (nk)
                            const float li = lb[i], Di = D[i];
                            int64_t c = 0;
                            for (; c < c_end; c++) {
                                p[c] = expf(p[c] - li);
                                ds[c] = p[c] * (ds[c] - Di);
                            }
                            for (; c < nk; c++) p[c] = ds[c] = 0.0f;
                        }
                        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)nk, hd, (int)mi,
                                    1.0f, P, (int)nk, doi, (int)ostride, 1.0f, dVb, hd);
                        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)nk, hd, (int)mi,
                                    scale, dS, (int)nk, qi, (int)s->q.pos, 1.0f, dKb, hd);
                        if (dQ)
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)mi, hd,
                                        (int)nk, scale, dS, (int)nk, kj, (int)s->k.pos, 1.0f,
                                        dQ + i0 * hd, hd);
                    }
                    for (int64_t r = 0; r < nk; r++) {
                        const int64_t j = j0 + r;
                        if (dk) {
                            float *d = dk + b * s->k.batch + j * s->k.pos + (int64_t)h * s->k.head;
                            for (int e = 0; e < hd; e++) d[e] += dKb[r * hd + e];
                        }
                        if (dv) {
                            float *d = dv + b * s->v.batch + j * s->v.pos + (int64_t)h * s->v.head;
                            for (int e = 0; e < hd; e++) d[e] += dVb[r * hd + e];
                        }
                    }
                }
                for (int64_t i = 0; dQ && i < n; i++) {
                    float *d = dq + b * s->q.batch + i * s->q.pos + (int64_t)h * s->q.head;
                    for (int e = 0; e < hd; e++) d[e] += dQ[i * hd + e];
                }
            }
        free(P);
        free(dS);
        free(dKb);
        free(dVb);
        free(D);
        free(dQ);
    }
    if (failed) return ls_error(LS_ERR_NOMEM, "%s: out of memory for block buffers", __func__);
    return 0;
}
