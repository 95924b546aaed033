/*
 * glue.c — CPU specification of kernels/glue.h: plain loops, OpenMP over rows where the work
 * amortises the fork. Copies and adds have no reduction, so results never depend on the thread
 * count. (Moved from models/ops.c unchanged when the CUDA versions came, kernels/cuda/glue.cu.)
 * Tested through tests/unit/test_model.c; the CUDA versions against these by
 * tests/gpu/parity_glue.c.
 */
#include "kernels/glue.h"

#include <math.h>
#include <string.h>

// Elementwise loops go parallel only when the work amortises the fork.
#define GLUE_PAR_MIN 32768

int glue_add_cpu(float *restrict y, const float *restrict x, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= GLUE_PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        y[i] += x[i];
    return 0;
}

int glue_neg_exp_cpu(float *restrict y, const float *restrict x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        y[i] = -expf(x[i]);
    return 0;
}

int glue_mul_acc_cpu(float *restrict y, const float *restrict a, const float *restrict b,
                     int64_t n) {
    for (int64_t i = 0; i < n; i++)
        y[i] += a[i] * b[i];
    return 0;
}

// Sequence position of tile position s in row b (glue.h), or -1 past the row's length.
static inline int64_t row_pos(const int64_t *lengths, const int32_t *mirror, int64_t L,
                              int64_t b, int64_t s, int reverse) {
    int64_t n = lengths[b];
    if (s >= n) return -1;
    if (!reverse) return s;
    return mirror ? mirror[b * L + s] : n - 1 - s;
}

int glue_rows_gather_cpu(float *restrict dst, const float *restrict src, const int64_t *lengths,
                         const int32_t *mirror, int64_t Be, int64_t L, int64_t W, int64_t s0,
                         int64_t nt, int reverse) {
#pragma omp parallel for schedule(static) if (Be * nt * W >= GLUE_PAR_MIN)
    for (int64_t r = 0; r < Be * nt; r++) {
        const int64_t b = r / nt, s = s0 + r % nt;
        const int64_t p = row_pos(lengths, mirror, L, b, s, reverse);
        float *d = dst + r * W; // (W)
        if (p < 0)
            memset(d, 0, (size_t)W * sizeof *d);
        else
            memcpy(d, src + (b * L + p) * W, (size_t)W * sizeof *d);
    }
    return 0;
}

int glue_rows_scatter_add_cpu(float *restrict dst, const float *restrict src,
                              const int64_t *lengths, const int32_t *mirror, int64_t Be,
                              int64_t L, int64_t W, int64_t s0, int64_t nt, int reverse) {
#pragma omp parallel for schedule(static) if (Be * nt * W >= GLUE_PAR_MIN)
    for (int64_t r = 0; r < Be * nt; r++) {
        const int64_t b = r / nt, s = s0 + r % nt;
        const int64_t p = row_pos(lengths, mirror, L, b, s, reverse);
        if (p < 0) continue;
        float *d = dst + (b * L + p) * W; // (W)
        const float *x = src + r * W;     // (W)
        for (int64_t w = 0; w < W; w++)
            d[w] += x[w];
    }
    return 0;
}

int glue_rows_zero_tail_cpu(float *restrict x, const int64_t *lengths, int64_t Be, int64_t L,
                            int64_t W) {
    for (int64_t b = 0; b < Be; b++)
        if (lengths[b] < L)
            memset(x + (b * L + lengths[b]) * W, 0, (size_t)((L - lengths[b]) * W) * sizeof *x);
    return 0;
}

int glue_pair_mean_fwd_cpu(float *restrict out, const float *restrict x, int64_t B, int64_t W) {
    for (int64_t i = 0; i < B * W; i++)
        out[i] = 0.5f * (x[i] + x[B * W + i]);
    return 0;
}

int glue_pair_mean_bwd_cpu(float *restrict dx, const float *restrict dout, int64_t B,
                           int64_t W) {
    for (int64_t i = 0; i < B * W; i++) {
        dx[i] += 0.5f * dout[i];
        dx[B * W + i] += 0.5f * dout[i];
    }
    return 0;
}

int glue_tokens_to_ids_cpu(int32_t *restrict ids, const uint8_t *restrict tokens,
                           const int64_t *lengths, const int32_t *mirror, int64_t B, int64_t L,
                           int64_t vocab, int rc) {
    for (int64_t b = 0; b < B; b++) {
        const int64_t n = lengths[b];
        const uint8_t *t = tokens + b * L; // (L)
        for (int64_t p = 0; p < n; p++)
            if (t[p] >= vocab)
                return ls_error(LS_ERR_USAGE,
                                "batch row %lld position %lld: token %d is outside "
                                "the model's vocabulary of %lld",
                                (long long)b, (long long)p, t[p], (long long)vocab);
    }
    for (int64_t b = 0; b < B; b++) {
        const int64_t n = lengths[b];
        const uint8_t *t = tokens + b * L;
        int32_t *fw = ids + b * L;
        for (int64_t p = 0; p < L; p++)
            fw[p] = p < n ? t[p] : 0;
        if (!rc) continue;
        int32_t *rv = ids + (B + b) * L;
        for (int64_t p = 0; p < L; p++) {
            int32_t x = p < n ? t[mirror ? mirror[b * L + p] : n - 1 - p] : 0;
            rv[p] = p < n && x < 4 ? 3 - x : x;
        }
    }
    return 0;
}

int glue_ids_to_ids_cpu(int32_t *restrict ids, const int32_t *restrict src,
                        const int64_t *lengths, int64_t B, int64_t L, int64_t vocab) {
    for (int64_t b = 0; b < B; b++) {
        const int64_t n = lengths[b];
        const int32_t *t = src + b * L; // (L)
        for (int64_t p = 0; p < n; p++)
            if (t[p] < 0 || t[p] >= vocab)
                return ls_error(LS_ERR_USAGE,
                                "batch row %lld position %lld: id %d is outside "
                                "the model's vocabulary of %lld",
                                (long long)b, (long long)p, t[p], (long long)vocab);
    }
    for (int64_t b = 0; b < B; b++) {
        const int64_t n = lengths[b];
        for (int64_t p = 0; p < L; p++) ids[b * L + p] = p < n ? src[b * L + p] : 0;
    }
    return 0;
}

int glue_frames_cpu(float *restrict frames, const float *restrict samples,
                    const int64_t *lengths, const int64_t *frame_end, int64_t B, int64_t L,
                    int64_t F, int64_t Lt) {
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < Lt; j++) {
            const int64_t end = frame_end ? frame_end[b * Lt + j] : lengths[b];
            for (int64_t f = 0; f < F; f++) {
                int64_t i = j * F + f;
                frames[(b * Lt + j) * F + f] = i < end && i < L ? samples[b * L + i] : 0.0f;
            }
        }
    return 0;
}

// ------------------------------------------------------------------------------ streaming
// (moved from models/ops.c unchanged when the CUDA versions came)

int glue_copy_blocks_cpu(float *restrict dst, int64_t dst_sb, int64_t dst_sl,
                         const float *restrict src, int64_t src_sb, int64_t src_sl, int64_t B,
                         int64_t L, int64_t W) {
#pragma omp parallel for schedule(static) if (B * L * W >= GLUE_PAR_MIN)
    for (int64_t r = 0; r < B * L; r++) {
        const int64_t b = r / L, l = r % L;
        memcpy(dst + b * dst_sb + l * dst_sl, src + b * src_sb + l * src_sl,
               (size_t)W * sizeof *dst);
    }
    return 0;
}

int glue_sum_rows_acc_cpu(double *restrict acc, const float *restrict x, int64_t B, int64_t L,
                          int64_t W) {
#pragma omp parallel for schedule(static) if (B * L * W >= GLUE_PAR_MIN)
    for (int64_t bw = 0; bw < B * W; bw++) { // one task per output: a fixed order of sums
        const int64_t b = bw / W, w = bw % W;
        double a = acc[bw];
        for (int64_t l = 0; l < L; l++) a += x[(b * L + l) * W + w];
        acc[bw] = a;
    }
    return 0;
}

int glue_mean_from_sum_cpu(float *restrict out, const double *restrict acc, int64_t n,
                           double count) {
    for (int64_t i = 0; i < n; i++) out[i] = (float)(acc[i] / count);
    return 0;
}
