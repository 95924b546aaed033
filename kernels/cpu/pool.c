/*
 * pool.c — CPU reference of kernels/pool.h: mean / first / last pooling over the valid
 * positions of each row, and the backward. The CUDA version (later) must match it within the
 * tests/gpu tolerances. Tested by tests/unit/test_pool.c.
 *
 * The mean walks l = 0..n−1 for a block of POOL_COL_BLOCK columns at a time with double
 * accumulators on the stack; tasks are (row, column block), so nothing is shared between
 * threads and the order of every sum is fixed.
 */
#include "kernels/pool.h"

#include <string.h>

#define POOL_COL_BLOCK 64

static int check_args(const char *fn, int have_pointers, const int64_t *lengths, int64_t B,
                      int64_t L, int64_t D, PoolMode mode) {
    if (B < 0 || L < 1 || D < 1)
        return ls_error(LS_ERR_USAGE, "%s: bad shape B=%lld L=%lld D=%lld (need B >= 0, L >= 1, "
                        "D >= 1)", fn, (long long)B, (long long)L, (long long)D);
    if (mode != POOL_MEAN && mode != POOL_FIRST && mode != POOL_LAST)
        return ls_error(LS_ERR_USAGE, "%s: unknown pooling mode %d", fn, (int)mode);
    if (B > 0 && !have_pointers) return ls_error(LS_ERR_USAGE, "%s: NULL tensor", fn);
    if (lengths)
        for (int64_t b = 0; b < B; b++)
            if (lengths[b] < 1 || lengths[b] > L)
                return ls_error(LS_ERR_RANGE, "%s: lengths[%lld]=%lld outside [1, L=%lld]", fn,
                                (long long)b, (long long)lengths[b], (long long)L);
    return 0;
}

// x rows of sequence b start at flat row row0(b): b·L in a padded batch, starts[b] packed.
static inline int64_t row0(const int64_t *starts, int64_t b, int64_t L) {
    return starts ? starts[b] : b * L;
}

static int pool_fwd_impl(float *restrict out, const float *restrict x,
                         const int64_t *restrict starts, const int64_t *restrict lengths,
                         int64_t B, int64_t L, int64_t D, PoolMode mode) {
    int64_t n_blocks = (D + POOL_COL_BLOCK - 1) / POOL_COL_BLOCK;

#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; b++) {
        for (int64_t blk = 0; blk < n_blocks; blk++) {
            int64_t n = lengths ? lengths[b] : L;
            int64_t d0 = blk * POOL_COL_BLOCK;
            int nb = (int)(D - d0 < POOL_COL_BLOCK ? D - d0 : POOL_COL_BLOCK);
            float *out_b = out + b * D + d0;                    // (nb)
            const float *x_b = x + row0(starts, b, L) * D + d0; // (n, D) from column d0
            if (mode == POOL_MEAN) {
                double acc[POOL_COL_BLOCK] = {0};
                for (int64_t l = 0; l < n; l++)
                    for (int j = 0; j < nb; j++) acc[j] += x_b[l * D + j];
                for (int j = 0; j < nb; j++) out_b[j] = (float)(acc[j] / (double)n);
            } else {
                int64_t l = mode == POOL_FIRST ? 0 : n - 1;
                memcpy(out_b, x_b + l * D, (size_t)nb * sizeof(float));
            }
        }
    }
    return 0;
}

static int pool_bwd_impl(float *restrict dx, const float *restrict dout,
                         const int64_t *restrict starts, const int64_t *restrict lengths,
                         int64_t B, int64_t L, int64_t D, PoolMode mode) {
    if (mode == POOL_MEAN) {
#pragma omp parallel for collapse(2) schedule(static)
        for (int64_t b = 0; b < B; b++) {
            for (int64_t l = 0; l < L; l++) {
                int64_t n = lengths ? lengths[b] : L;
                if (l >= n) continue;
                const float *dout_b = dout + b * D;                  // (D)
                float *dx_bl = dx + (row0(starts, b, L) + l) * D;    // (D)
                float inv_n = (float)(1.0 / (double)n);
                for (int64_t d = 0; d < D; d++) dx_bl[d] += dout_b[d] * inv_n;
            }
        }
    } else {
#pragma omp parallel for schedule(static)
        for (int64_t b = 0; b < B; b++) {
            int64_t n = lengths ? lengths[b] : L;
            int64_t l = mode == POOL_FIRST ? 0 : n - 1;
            const float *dout_b = dout + b * D;                  // (D)
            float *dx_bl = dx + (row0(starts, b, L) + l) * D;    // (D)
            for (int64_t d = 0; d < D; d++) dx_bl[d] += dout_b[d];
        }
    }
    return 0;
}

int pool_fwd_cpu(float *restrict out, const float *restrict x, const int64_t *restrict lengths,
                 int64_t B, int64_t L, int64_t D, PoolMode mode) {
    // out (B, D); x (B, L, D); lengths (B) or NULL
    int status = check_args(__func__, out && x, lengths, B, L, D, mode);
    return status ? status : pool_fwd_impl(out, x, NULL, lengths, B, L, D, mode);
}

int pool_bwd_cpu(float *restrict dx, const float *restrict dout,
                 const int64_t *restrict lengths, int64_t B, int64_t L, int64_t D,
                 PoolMode mode) {
    // dx (B, L, D); dout (B, D); lengths (B) or NULL
    int status = check_args(__func__, dx && dout, lengths, B, L, D, mode);
    return status ? status : pool_bwd_impl(dx, dout, NULL, lengths, B, L, D, mode);
}

// A packed batch: starts present and non-negative (their upper bound is the caller's buffer).
static int check_starts(const char *fn, const int64_t *starts, int64_t S) {
    if (S > 0 && !starts) return ls_error(LS_ERR_USAGE, "%s: NULL starts", fn);
    for (int64_t s = 0; s < S; s++)
        if (starts[s] < 0)
            return ls_error(LS_ERR_RANGE, "%s: starts[%lld]=%lld is negative", fn, (long long)s,
                            (long long)starts[s]);
    return 0;
}

int pool_fwd_packed_cpu(float *restrict out, const float *restrict x,
                        const int64_t *restrict starts, const int64_t *restrict lengths,
                        int64_t S, int64_t L, int64_t D, PoolMode mode) {
    // out (S, D); x (rows, D); starts, lengths (S)
    int status = check_args(__func__, out && x && lengths, lengths, S, L, D, mode);
    if (status == 0) status = check_starts(__func__, starts, S);
    return status ? status : pool_fwd_impl(out, x, starts, lengths, S, L, D, mode);
}

int pool_bwd_packed_cpu(float *restrict dx, const float *restrict dout,
                        const int64_t *restrict starts, const int64_t *restrict lengths,
                        int64_t S, int64_t L, int64_t D, PoolMode mode) {
    // dx (rows, D); dout (S, D); starts, lengths (S)
    int status = check_args(__func__, dx && dout && lengths, lengths, S, L, D, mode);
    if (status == 0) status = check_starts(__func__, starts, S);
    return status ? status : pool_bwd_impl(dx, dout, starts, lengths, S, L, D, mode);
}
