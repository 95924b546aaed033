/*
 * embedding.c — CPU reference of kernels/embedding.h: row gather and its deterministic
 * scatter-add. The CUDA version (later) must match it. Tested by tests/unit/test_embedding.c.
 *
 * All ids are validated before anything is written, so a bad id leaves out / dtable as they
 * were. The backward parallelizes over column blocks of dtable rather than over rows of dout:
 * two rows with the same id then never race, and each element of dtable receives its terms in
 * row order (m = 0..M−1), independent of the thread count. The terms are summed in float,
 * straight into dtable (an id repeated n times adds n float terms in order).
 */
#include "kernels/embedding.h"

#include <string.h>

#define EMBEDDING_COL_BLOCK 64

static int check_args(const char *fn, const int32_t *ids, int have_pointers, int64_t M,
                      int64_t V, int64_t D) {
    if (M < 0 || V < 1 || D < 1)
        return ls_error(LS_ERR_USAGE, "%s: bad shape M=%lld V=%lld D=%lld (need M >= 0, V >= 1, "
                        "D >= 1)", fn, (long long)M, (long long)V, (long long)D);
    if (M == 0) return 0;
    if (!have_pointers) return ls_error(LS_ERR_USAGE, "%s: NULL tensor", fn);
    for (int64_t m = 0; m < M; m++)
        if (ids[m] < 0 || ids[m] >= V)
            return ls_error(LS_ERR_RANGE, "%s: ids[%lld]=%d outside [0, V=%lld)", fn,
                            (long long)m, ids[m], (long long)V);
    return 0;
}

int embedding_fwd_cpu(float *restrict out, const int32_t *restrict ids,
                      const float *restrict table, int64_t M, int64_t V, int64_t D) {
    // out (M, D); ids (M); table (V, D)
    int status = check_args(__func__, ids, out && ids && table, M, V, D);
    if (status) return status;
#pragma omp parallel for schedule(static)
    for (int64_t m = 0; m < M; m++)
        memcpy(out + m * D, table + (int64_t)ids[m] * D, (size_t)D * sizeof(float));
    return 0;
}

int embedding_bwd_cpu(float *restrict dtable, const float *restrict dout,
                      const int32_t *restrict ids, int64_t M, int64_t V, int64_t D) {
    // dtable (V, D); dout (M, D); ids (M)
    int status = check_args(__func__, ids, dtable && dout && ids, M, V, D);
    if (status) return status;
    int64_t n_blocks = (D + EMBEDDING_COL_BLOCK - 1) / EMBEDDING_COL_BLOCK;
#pragma omp parallel for schedule(static)
    for (int64_t blk = 0; blk < n_blocks; blk++) {
        int64_t d0 = blk * EMBEDDING_COL_BLOCK;
        int64_t d1 = d0 + EMBEDDING_COL_BLOCK < D ? d0 + EMBEDDING_COL_BLOCK : D;
        for (int64_t m = 0; m < M; m++) {
            float *dst = dtable + (int64_t)ids[m] * D; // (D)
            const float *src = dout + m * D;           // (D)
            for (int64_t d = d0; d < d1; d++) dst[d] += src[d];
        }
    }
    return 0;
}
