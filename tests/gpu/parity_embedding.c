/*
 * parity_embedding.c — kernels/embedding.h on the GPU against the CPU specification: the
 * forward (exact: a copy, or one bf16 rounding) and the deterministic backward, for M = 1, 3,
 * 127, 4097, 1,000,003 rows, V from 1 to 1000 and D = 1, 33, 37, 64 (few ids with thousands of
 * rows each cross the 256-row tiles of the sorted list; many ids stay inside one tile).
 * dtable starts from random values (it accumulates). Backward twice: same bytes.
 *
 * Tolerance of the backward: an id whose rows fit in one tile gets the CPU's exact sequence of
 * float adds; an id spanning tiles is summed per tile, then the tile sums in order, so the two
 * differ by rounding only: |got − ref| <= 2·(c+1)·u·S elementwise, c the id's row count,
 * S = |dtable| + Σ|dout| over its rows, u = 2^-24, and NMSE <= 1e-10 (rms 1e-5 relative).
 * Also: an id outside [0, V) is LS_ERR_RANGE naming the row, and nothing is written.
 */
#include "kernels/embedding.h"
#include "tests/gpu/parity_ops.h"

#define U32 (1.0 / 16777216.0)

static void emb_case(int64_t M, int64_t V, int64_t D, DType t, uint64_t salt) {
    char po_case[128], what[200];
    snprintf(po_case, sizeof po_case, "embedding M=%lld V=%lld D=%lld %s", (long long)M,
             (long long)V, (long long)D, dtype_name(t));
    if (!po_size_ok(M * D)) return;
    GcRng r = gc_rng(salt);
    int32_t *ids = malloc((size_t)M * 4);
    for (int64_t m = 0; m < M; m++) ids[m] = (int32_t)(gc_next(&r) % (uint64_t)V);
    float *table = po_rand(&r, V * D, -1, 1, DTYPE_F32), *dout = po_rand(&r, M * D, -1, 1, t);
    float *dt0 = po_rand(&r, V * D, -1, 1, DTYPE_F32), *out = gc_host(M * D);
    float *dt = po_copy(dt0, V * D);
    double *bound = calloc((size_t)(V * D), 8);
    int64_t *count = calloc((size_t)V, 8);
    PoBuf gids = {0}, gtab = {0}, gout = {0}, gdout = {0}, gdt[2] = {PO_NONE, PO_NONE};

    PO_TRY(embedding_fwd_cpu(out, ids, table, M, V, D));
    po_round(out, M * D, t);
    PO_TRY(embedding_bwd_cpu(dt, dout, ids, M, V, D));
    for (int64_t m = 0; m < M; m++) count[ids[m]]++;
    for (int64_t i = 0; i < V * D; i++) bound[i] = fabs(dt0[i]);
    for (int64_t m = 0; m < M; m++)
        for (int64_t d = 0; d < D; d++) bound[ids[m] * D + d] += fabs(dout[m * D + d]);
    for (int64_t v = 0; v < V; v++)
        for (int64_t d = 0; d < D; d++) bound[v * D + d] *= 2.0 * (count[v] + 1) * U32;

    PO_TRY(po_raw(&gids, ids, (size_t)M * 4));
    PO_TRY(po_in(&gtab, table, V * D, DTYPE_F32));
    PO_TRY(po_in(&gdout, dout, M * D, t));
    PO_TRY(po_out(&gout, M * D, t));
    for (int k = 0; k < 2; k++) PO_TRY(po_in(&gdt[k], dt0, V * D, DTYPE_F32));
    PO_TRY(embedding_fwd_cuda(po_ptr(&gout), (const int32_t *)gids.b.ptr, po_ptr(&gtab), M, V, D,
                              t, NULL));
    for (int k = 0; k < 2; k++)
        PO_TRY(embedding_bwd_cuda(po_ptr(&gdt[k]), po_ptr(&gdout), (const int32_t *)gids.b.ptr, M,
                                  V, D, t, NULL));
    PO_TRY(device_cuda_sync());
    snprintf(what, sizeof what, "%s: forward", po_case);
    po_check_exact(what, &gout, out);
    snprintf(what, sizeof what, "%s: backward dtable", po_case);
    po_check_bound(what, &gdt[0], dt, bound, 0.0, 1e-10, "2(c+1)u·S");
    snprintf(what, sizeof what, "%s: backward twice", po_case);
    po_same(what, &gdt[0], &gdt[1]);
done:
    po_free(&gids), po_free(&gtab), po_free(&gout), po_free(&gdout), po_free(&gdt[0]);
    po_free(&gdt[1]);
    free(ids), free(table), free(dout), free(dt0), free(out), free(dt), free(bound), free(count);
}

// An id outside [0, V): LS_ERR_RANGE naming the row; out and dtable untouched.
static void emb_bad_id(void) {
    const int64_t M = 300, V = 10, D = 8;
    char po_case[] = "embedding bad id";
    int32_t ids[300];
    for (int m = 0; m < M; m++) ids[m] = m % V;
    ids[211] = (int32_t)V, ids[250] = -3;
    float table[80], before[2400];
    for (int i = 0; i < 80; i++) table[i] = (float)i;
    PoBuf gids = {0}, gtab = {0}, gout = {0}, gdt = {0};
    PO_TRY(po_raw(&gids, ids, sizeof ids));
    PO_TRY(po_in(&gtab, table, V * D, DTYPE_F32));
    PO_TRY(po_out(&gout, M * D, DTYPE_F32));
    PO_TRY(po_in(&gdt, table, V * D, DTYPE_F32));
    int rc = embedding_fwd_cuda(po_ptr(&gout), (const int32_t *)gids.b.ptr, po_ptr(&gtab), M, V,
                                D, DTYPE_F32, NULL);
    gc_report(rc == LS_ERR_RANGE && strstr(ls_error_message(), "ids[211]=10"),
              "embedding forward refuses id 10 at row 211: %s", ls_error_message());
    PO_TRY(gc_buf_download(before, &gout.b, M * D, DTYPE_F32));
    int untouched = 1;
    for (int i = 0; i < M * D; i++) untouched &= isnan(before[i]);
    gc_report(untouched, "embedding forward wrote nothing after the bad id");
    rc = embedding_bwd_cuda(po_ptr(&gdt), po_ptr(&gout), (const int32_t *)gids.b.ptr, M, V, D,
                            DTYPE_F32, NULL);
    gc_report(rc == LS_ERR_RANGE && strstr(ls_error_message(), "ids[211]"),
              "embedding backward refuses it too: %s", ls_error_message());
    po_check_exact("embedding backward left dtable as it was", &gdt, table);
done:
    po_free(&gids), po_free(&gtab), po_free(&gout), po_free(&gdt);
}

void gpu_parity_embedding(void) {
    emb_case(1, 1, 1, DTYPE_F32, 600);
    emb_case(3, 5, 37, DTYPE_F32, 601);
    emb_case(127, 3, 40, DTYPE_F32, 602);
    emb_case(4097, 5, 33, DTYPE_F32, 603);    // 5 ids x ~800 rows: segments span tiles
    emb_case(4097, 1000, 64, DTYPE_F32, 604); // ~4 rows per id: mostly inside one tile
    emb_case(1000003, 7, 16, DTYPE_F32, 605);
    emb_case(4097, 5, 33, DTYPE_BF16, 606);
    emb_case(1000003, 300, 16, DTYPE_BF16, 607);
    emb_bad_id();
}
