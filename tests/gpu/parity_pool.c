/*
 * parity_pool.c — mean / first / last pooling (kernels/pool.h) on the GPU against the CPU
 * specification, forward and backward (dx accumulated onto random values), with and without
 * per-row lengths: (B, L, D) = (1, 1, 1), (2, 3, 37), (3, 127, 40), (2, 4097, 33),
 * (1, 1,000,003, 16); fp32 and bf16. Tolerances: fp32 1e-5 relative, bf16 2e-2. Also: a
 * length outside [1, L] is LS_ERR_RANGE and nothing is written.
 */
#include "kernels/pool.h"
#include "tests/gpu/parity_ops.h"

static const char *mode_names[] = {"mean", "first", "last"};

static void pool_case(int64_t B, int64_t L, int64_t D, PoolMode mode, int with_len, DType t,
                      uint64_t salt) {
    char po_case[160], what[220];
    snprintf(po_case, sizeof po_case, "pool %s B=%lld L=%lld D=%lld%s %s", mode_names[mode],
             (long long)B, (long long)L, (long long)D, with_len ? " lengths" : "",
             dtype_name(t));
    if (!po_size_ok(B * L * D)) return;
    GcRng r = gc_rng(salt);
    int64_t *len = malloc((size_t)B * 8);
    for (int64_t b = 0; b < B; b++) len[b] = 1 + (int64_t)(gc_next(&r) % (uint64_t)L);
    if (B > 0) len[0] = L; // one full row
    float *x = po_rand(&r, B * L * D, -2, 2, t), *dout = po_rand(&r, B * D, -1, 1, t);
    float *dx0 = po_rand(&r, B * L * D, -1, 1, t), *out = gc_host(B * D);
    float *dx = po_copy(dx0, B * L * D);
    PoBuf gx = {0}, glen = {0}, gout = {0}, gdout = {0}, gdx = {0};
    const int64_t *lens = with_len ? len : NULL;
    PO_TRY(pool_fwd_cpu(out, x, lens, B, L, D, mode));
    PO_TRY(pool_bwd_cpu(dx, dout, lens, B, L, D, mode));
    PO_TRY(po_in(&gx, x, B * L * D, t));
    PO_TRY(po_raw(&glen, len, (size_t)B * 8));
    PO_TRY(po_out(&gout, B * D, t));
    PO_TRY(po_in(&gdout, dout, B * D, t));
    PO_TRY(po_in(&gdx, dx0, B * L * D, t));
    const int64_t *glens = with_len ? (const int64_t *)glen.b.ptr : NULL;
    PO_TRY(pool_fwd_cuda(po_ptr(&gout), po_ptr(&gx), glens, B, L, D, mode, t, NULL));
    PO_TRY(pool_bwd_cuda(po_ptr(&gdx), po_ptr(&gdout), glens, B, L, D, mode, t, NULL));
    PO_TRY(device_cuda_sync());
    snprintf(what, sizeof what, "%s: out", po_case);
    if (mode == POOL_MEAN)
        po_check(what, &gout, out, po_tol(t));
    else
        po_check_exact(what, &gout, out); // a copy
    snprintf(what, sizeof what, "%s: dx", po_case);
    po_check(what, &gdx, dx, po_tol(t));
done:
    po_free(&gx), po_free(&glen), po_free(&gout), po_free(&gdout), po_free(&gdx);
    free(len), free(x), free(dout), free(dx0), free(out), free(dx);
}

// Packed rows (pool_*_packed): S sequences end to end in R rows of L positions, first-fit.
static void pool_packed_case(int64_t S, int64_t L, int64_t D, PoolMode mode, DType t,
                             uint64_t salt) {
    char po_case[160], what[220];
    snprintf(po_case, sizeof po_case, "pool packed %s S=%lld L=%lld D=%lld %s", mode_names[mode],
             (long long)S, (long long)L, (long long)D, dtype_name(t));
    GcRng r = gc_rng(salt);
    int64_t *len = malloc((size_t)S * 8), *start = malloc((size_t)S * 8);
    int64_t rows = 1, used = 0;
    for (int64_t s = 0; s < S; s++) {
        len[s] = 1 + (int64_t)(gc_next(&r) % (uint64_t)(s % 3 ? L / 4 + 1 : L));
        if (used + len[s] > L) rows++, used = 0;
        start[s] = (rows - 1) * L + used;
        used += len[s];
    }
    const int64_t n = rows * L * D;
    float *x = po_rand(&r, n, -2, 2, t), *dout = po_rand(&r, S * D, -1, 1, t);
    float *dx0 = po_rand(&r, n, -1, 1, t), *out = gc_host(S * D), *dx = po_copy(dx0, n);
    PoBuf gx = {0}, glen = {0}, gst = {0}, gout = {0}, gdout = {0}, gdx = {0};
    PO_TRY(pool_fwd_packed_cpu(out, x, start, len, S, L, D, mode));
    PO_TRY(pool_bwd_packed_cpu(dx, dout, start, len, S, L, D, mode));
    PO_TRY(po_in(&gx, x, n, t));
    PO_TRY(po_raw(&glen, len, (size_t)S * 8));
    PO_TRY(po_raw(&gst, start, (size_t)S * 8));
    PO_TRY(po_out(&gout, S * D, t));
    PO_TRY(po_in(&gdout, dout, S * D, t));
    PO_TRY(po_in(&gdx, dx0, n, t));
    PO_TRY(pool_fwd_packed_cuda(po_ptr(&gout), po_ptr(&gx), (const int64_t *)gst.b.ptr,
                                (const int64_t *)glen.b.ptr, S, L, D, mode, t, NULL));
    PO_TRY(pool_bwd_packed_cuda(po_ptr(&gdx), po_ptr(&gdout), (const int64_t *)gst.b.ptr,
                                (const int64_t *)glen.b.ptr, S, L, D, mode, t, NULL));
    PO_TRY(device_cuda_sync());
    snprintf(what, sizeof what, "%s: out", po_case);
    if (mode == POOL_MEAN)
        po_check(what, &gout, out, po_tol(t));
    else
        po_check_exact(what, &gout, out);
    snprintf(what, sizeof what, "%s: dx", po_case);
    po_check(what, &gdx, dx, po_tol(t));
done:
    po_free(&gx), po_free(&glen), po_free(&gst), po_free(&gout), po_free(&gdout), po_free(&gdx);
    free(len), free(start), free(x), free(dout), free(dx0), free(out), free(dx);
}

static void pool_bad_length(void) {
    char po_case[] = "pool bad length";
    int64_t len[3] = {4, 0, 9};
    float x[3 * 8 * 2], out[6];
    for (int i = 0; i < 48; i++)
        x[i] = (float)i;
    PoBuf gx = {0}, glen = {0}, gout = {0};
    PO_TRY(po_in(&gx, x, 48, DTYPE_F32));
    PO_TRY(po_raw(&glen, len, sizeof len));
    PO_TRY(po_out(&gout, 6, DTYPE_F32));
    int rc = pool_fwd_cuda(po_ptr(&gout), po_ptr(&gx), (const int64_t *)glen.b.ptr, 3, 8, 2,
                           POOL_MEAN, DTYPE_F32, NULL);
    gc_report(rc == LS_ERR_RANGE && strstr(ls_error_message(), "lengths[1]=0"),
              "pool refuses length 0 at row 1: %s", ls_error_message());
    PO_TRY(gc_buf_download(out, &gout.b, 6, DTYPE_F32));
    int untouched = 1;
    for (int i = 0; i < 6; i++)
        untouched &= isnan(out[i]);
    gc_report(untouched, "pool wrote nothing after the bad length");
done:
    po_free(&gx), po_free(&glen), po_free(&gout);
}

void gpu_parity_pool(void) {
    static const int64_t shapes[][3] = {
        {1, 1, 1}, {2, 3, 37}, {3, 127, 40}, {2, 4097, 33}, {1, 1000003, 16}};
    uint64_t salt = 800;
    for (int mode = POOL_MEAN; mode <= POOL_LAST; mode++)
        for (int bf = 0; bf < 2; bf++) {
            pool_packed_case(9, 64, 37, (PoolMode)mode, bf ? DTYPE_BF16 : DTYPE_F32, salt++);
            pool_packed_case(40, 5000, 16, (PoolMode)mode, bf ? DTYPE_BF16 : DTYPE_F32, salt++);
        }
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int mode = POOL_MEAN; mode <= POOL_LAST; mode++)
            for (int with_len = 0; with_len < 2; with_len++)
                pool_case(shapes[s][0], shapes[s][1], shapes[s][2], (PoolMode)mode, with_len,
                          DTYPE_F32, salt++);
    for (int mode = POOL_MEAN; mode <= POOL_LAST; mode++) {
        pool_case(2, 4097, 64, (PoolMode)mode, 1, DTYPE_BF16, salt++);
        pool_case(3, 127, 37, (PoolMode)mode, 0, DTYPE_BF16, salt++);
    }
    pool_bad_length();
}
