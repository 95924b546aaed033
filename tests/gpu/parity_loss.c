/*
 * parity_loss.c — softmax cross-entropy (kernels/loss.h) on the GPU against the CPU
 * specification: mean loss, per-row losses, dlogits accumulated onto random values, for
 * M = 1, 3, 127, 4097, 1,000,003 rows and V = 1, 5, 7, 256, 1000 classes; with per-row weights,
 * ignored rows and grad_scale != 1; fp32 and bf16 logits. Both sides compute the per-row
 * log-sum-exp and softmax in double, so the tolerances are the (fp32 1e-5, bf16 2e-2
 * on dlogits), the mean 1e-12 relative (double sums in two fixed orders). Also: a target out of
 * range or a negative weight is LS_ERR_RANGE and nothing is written; all rows ignored gives a
 * mean of 0 and leaves dlogits alone; two runs give the same bytes.
 */
#include "kernels/loss.h"
#include "tests/gpu/parity_ops.h"

static void loss_case(int64_t M, int64_t V, int weighted, int ignore, DType t, uint64_t salt) {
    char po_case[128], what[200];
    snprintf(po_case, sizeof po_case, "loss M=%lld V=%lld%s%s %s", (long long)M, (long long)V,
             weighted ? " weights" : "", ignore ? " ignored rows" : "", dtype_name(t));
    if (!po_size_ok(M * V)) return;
    GcRng r = gc_rng(salt);
    const float scale = 0.75f;
    int32_t *tg = malloc((size_t)M * 4);
    for (int64_t m = 0; m < M; m++)
        tg[m] = ignore && gc_next(&r) % 5 == 0 ? LOSS_IGNORE_INDEX
                                                : (int32_t)(gc_next(&r) % (uint64_t)V);
    float *logits = po_rand(&r, M * V, -8, 8, t), *wts = po_rand(&r, M, 0, 2, DTYPE_F32);
    // dlogits starts at values of the size of its increments (~1/M) so both matter
    float *dl0 = po_rand(&r, M * V, -1.0f / (float)M, 1.0f / (float)M, t);
    float *dl = po_copy(dl0, M * V), *rl = gc_host(M);
    double mean = 0, gmean[2] = {0, 0};
    PoBuf glog = {0}, gtg = {0}, gw = {0}, grl = {0}, gdl[2] = {PO_NONE, PO_NONE}, gmean_b = {0};
    // dlogits are ~1/M: an absolute floor would hide errors, so relative only
    GcTol tol_dl = {1e-12, t == DTYPE_BF16 ? 2e-2 : 1e-5, 0};

    PO_TRY(loss_xent_cpu(&mean, rl, dl, logits, tg, weighted ? wts : NULL, M, V, scale));
    PO_TRY(po_in(&glog, logits, M * V, t));
    PO_TRY(po_raw(&gtg, tg, (size_t)M * 4));
    PO_TRY(po_in(&gw, wts, M, DTYPE_F32));
    PO_TRY(po_out(&grl, M, DTYPE_F32));
    PO_TRY(po_out(&gmean_b, 4, DTYPE_F32)); // 2 doubles
    for (int k = 0; k < 2; k++) PO_TRY(po_in(&gdl[k], dl0, M * V, t));
    for (int k = 0; k < 2; k++)
        PO_TRY(loss_xent_cuda((double *)gmean_b.b.ptr + k, po_ptr(&grl), po_ptr(&gdl[k]),
                              po_ptr(&glog), (const int32_t *)gtg.b.ptr,
                              weighted ? po_ptr(&gw) : NULL, M, V, scale, t, NULL));
    PO_TRY(device_cuda_sync());
    PO_TRY(device_cuda_copy(gmean, gmean_b.b.ptr, sizeof gmean, DEVICE_COPY_D2H));
    double rel = fabs(gmean[0] - mean) / fmax(fabs(mean), 1e-300);
    gc_report(rel <= 1e-12 && !memcmp(&gmean[0], &gmean[1], 8),
              "%s: mean %.17g vs CPU %.17g (rel %.2g <= 1e-12), same bits twice", po_case,
              gmean[0], mean, rel);
    snprintf(what, sizeof what, "%s: row_loss", po_case);
    po_check(what, &grl, rl, po_tol_f32);
    snprintf(what, sizeof what, "%s: dlogits", po_case);
    po_check(what, &gdl[0], dl, tol_dl);
    snprintf(what, sizeof what, "%s: twice, dlogits", po_case);
    po_same(what, &gdl[0], &gdl[1]);
done:
    po_free(&glog), po_free(&gtg), po_free(&gw), po_free(&grl), po_free(&gdl[0]);
    po_free(&gdl[1]), po_free(&gmean_b);
    free(tg), free(logits), free(wts), free(dl0), free(dl), free(rl);
}

static void loss_errors(void) {
    char po_case[] = "loss errors";
    const int64_t M = 100, V = 4;
    int32_t tg[100];
    float logits[400], w[100], dl[400];
    for (int i = 0; i < 400; i++) logits[i] = (float)(i % 7) - 3.0f, dl[i] = 0.5f;
    for (int m = 0; m < M; m++) tg[m] = m % V, w[m] = 1.0f;
    PoBuf gl = {0}, gt = {0}, gw = {0}, grl = {0}, gdl = {0}, gm = {0};
    PO_TRY(po_in(&gl, logits, M * V, DTYPE_F32));
    PO_TRY(po_in(&gw, w, M, DTYPE_F32));
    PO_TRY(po_out(&grl, M, DTYPE_F32));
    PO_TRY(po_in(&gdl, dl, M * V, DTYPE_F32));
    PO_TRY(po_out(&gm, 2, DTYPE_F32));
    tg[70] = 4, tg[80] = -7;
    PO_TRY(po_raw(&gt, tg, sizeof tg));
    int rc = loss_xent_cuda((double *)gm.b.ptr, po_ptr(&grl), po_ptr(&gdl), po_ptr(&gl),
                            (const int32_t *)gt.b.ptr, po_ptr(&gw), M, V, 1.0f, DTYPE_F32, NULL);
    gc_report(rc == LS_ERR_RANGE && strstr(ls_error_message(), "targets[70]=4"),
              "loss refuses target 4 of V=4 at row 70: %s", ls_error_message());
    po_check_exact("loss left dlogits as it was after the bad target", &gdl, dl);
    po_free(&gt);
    tg[70] = 1, tg[80] = 2, w[33] = -1.0f;
    PO_TRY(po_raw(&gt, tg, sizeof tg));
    PO_TRY(gc_buf_upload(&gw.b, w, M, DTYPE_F32));
    rc = loss_xent_cuda((double *)gm.b.ptr, po_ptr(&grl), po_ptr(&gdl), po_ptr(&gl),
                        (const int32_t *)gt.b.ptr, po_ptr(&gw), M, V, 1.0f, DTYPE_F32, NULL);
    gc_report(rc == LS_ERR_RANGE && strstr(ls_error_message(), "weights[33]"),
              "loss refuses a negative weight at row 33: %s", ls_error_message());
    for (int m = 0; m < M; m++) tg[m] = LOSS_IGNORE_INDEX;
    po_free(&gt);
    PO_TRY(po_raw(&gt, tg, sizeof tg));
    rc = loss_xent_cuda((double *)gm.b.ptr, po_ptr(&grl), po_ptr(&gdl), po_ptr(&gl),
                        (const int32_t *)gt.b.ptr, NULL, M, V, 1.0f, DTYPE_F32, NULL);
    double mean = -1;
    PO_TRY(device_cuda_copy(&mean, gm.b.ptr, 8, DEVICE_COPY_D2H));
    gc_report(rc == 0 && mean == 0.0, "loss with every row ignored: mean %g (expected 0)", mean);
    po_check_exact("loss with every row ignored leaves dlogits alone", &gdl, dl);
done:
    po_free(&gl), po_free(&gt), po_free(&gw), po_free(&grl), po_free(&gdl), po_free(&gm);
}

void gpu_parity_loss(void) {
    loss_case(1, 1, 0, 0, DTYPE_F32, 700);
    loss_case(3, 5, 1, 0, DTYPE_F32, 701);
    loss_case(127, 256, 1, 1, DTYPE_F32, 702);
    loss_case(4097, 7, 0, 1, DTYPE_F32, 703);
    loss_case(4097, 1000, 1, 1, DTYPE_F32, 704);
    loss_case(1000003, 5, 1, 1, DTYPE_F32, 705);
    loss_case(4097, 256, 1, 1, DTYPE_BF16, 706);
    loss_case(1000003, 7, 0, 1, DTYPE_BF16, 707);
    loss_errors();
}
