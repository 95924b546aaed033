/*
 * parity_seqpar.c — the sequence-parallel steps (kernels/seqpar.h) driving the CUDA scan and
 * conv (seqpar_ops_cuda) on one GPU with G simulated slices, against one call of the CPU scan /
 * conv over the whole sequence: forward outputs, final state and every gradient. Suite
 * `seqpar` of tests/gpu/test_gpu.c. The CPU version of the same math is tests/unit/
 * test_seqpar.c; this file checks that the steps run unchanged on device memory (stride-0
 * views of u and dout, the scan's out as pass-1 scratch, halos through the CUDA conv).
 *
 * The slices are views into whole-sequence device buffers; each loop over g is what G devices
 * would run in parallel. The scan's combines run on the host (download P_g, e_g, dh0_local;
 * upload h_in, dH), as docs/parallel.md describes.
 *
 * Tolerance: the sum of the two stated elsewhere: the split's own (test_seqpar.c:
 * 2e-5·max(1, |ref|), parameter sums 2e-5·sqrt(B·L/74)) plus the fp32 CUDA-vs-CPU one of
 * parity_scan.c (rtol 1e-5, atol 1e-5·RMS(ref)).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/seqpar.h"
#include "tests/gpu/parity_ops.h"

#define SP_TOL 2e-5

static double sp_rms(const float *x, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return n ? sqrt(s / (double)n) : 0;
}

static int sp_check(const char *what, int G, int dir, const PoBuf *p, const float *ref,
                    double split_tol) {
    char name[160];
    snprintf(name, sizeof name, "seqpar G=%d %s %s", G, dir ? "reverse" : "forward", what);
    GcTol tol = {split_tol + 1e-5 * sp_rms(ref, p->n), split_tol + 1e-5, 0};
    return po_check(name, p, ref, tol);
}

// G slices of L tokens, random cuts (L prime: no G divides it).
static void sp_bounds(GcRng *r, int G, int64_t L, int64_t *bounds) {
    bounds[0] = 0, bounds[G] = L;
    for (;;) {
        for (int g = 1; g < G; g++) bounds[g] = 1 + (int64_t)(gc_next(r) % (uint64_t)(L - 1));
        for (int i = 1; i < G; i++)
            for (int j = i; j > 1 && bounds[j - 1] > bounds[j]; j--) {
                int64_t t = bounds[j];
                bounds[j] = bounds[j - 1], bounds[j - 1] = t;
            }
        int ok = 1;
        for (int g = 0; g < G; g++) ok &= bounds[g + 1] > bounds[g];
        if (ok) return;
    }
}

// Resets about 1 in 40 tokens, plus starts on odd slice starts and on the token before even ones.
static uint8_t *sp_resets(GcRng *r, int64_t B, int64_t L, int G, const int64_t *bounds, int dir) {
    uint8_t *x = (uint8_t *)calloc((size_t)(B * L), 1);
    for (int64_t i = 0; i < B * L; i++) x[i] = gc_uniform(r, 0, 1) < 1.0f / 40;
    for (int64_t b = 0; b < B; b++)
        for (int g = 1; g < G; g++) {
            int64_t w = g % 2 ? bounds[g] : bounds[g] - 1, t = dir ? L - 1 - w : w;
            x[b * L + t] = 1;
        }
    return x;
}

// Point every (B, L, ·) view of @p a at its buffers in walk direction @p dir.
static void sp_scan_views(ScanArgs *a, int64_t L, int64_t D, int64_t N, int dir, float *u,
                          float *delta, float *z, float *Bm, float *Cm, const uint8_t *reset,
                          float *out, float *dout, float *du, float *ddelta, float *dz, float *dB,
                          float *dC) {
    int64_t od = dir ? (L - 1) * D : 0, on = dir ? (L - 1) * N : 0, sd = dir ? -D : D,
            sn = dir ? -N : N;
    a->u = u + od, a->delta = delta + od, a->z = z + od, a->B_ssm = Bm + on, a->C_ssm = Cm + on;
    a->reset = reset + (dir ? L - 1 : 0), a->reset_stride_l = dir ? -1 : 1;
    a->out = out + od, a->dout = dout + od, a->du = du + od, a->ddelta = ddelta + od;
    a->dz = dz + od, a->dB_ssm = dB + on, a->dC_ssm = dC + on;
    a->u_stride_l = a->delta_stride_l = a->z_stride_l = a->out_stride_l = sd;
    a->dout_stride_l = a->du_stride_l = a->ddelta_stride_l = a->dz_stride_l = sd;
    a->B_ssm_stride_l = a->C_ssm_stride_l = a->dB_ssm_stride_l = a->dC_ssm_stride_l = sn;
}

static ScanArgs sp_scan_slice(const ScanArgs *w, int64_t s, int64_t len) {
    ScanArgs a = *w;
    a.L = len;
#define MOVE(p) a.p = w->p + s * w->p##_stride_l
    MOVE(u), MOVE(delta), MOVE(z), MOVE(B_ssm), MOVE(C_ssm), MOVE(reset), MOVE(out), MOVE(dout);
    MOVE(du), MOVE(ddelta), MOVE(dz), MOVE(dB_ssm), MOVE(dC_ssm);
#undef MOVE
    a.h0 = NULL, a.h_final = NULL, a.ckpt = NULL, a.dh_final = NULL, a.dh0 = NULL;
    a.workspace = NULL, a.workspace_bytes = 0;
    return a;
}

enum { SP_IN = 11, SP_GRAD = 8, SP_GMAX = 8 };

static void sp_scan_case(int G, int dir) {
    const int64_t B = 2, L = 3001, D = 80, N = 16, T = 64, n = B * D * N;
    const int64_t nld = B * L * D, nln = B * L * N;
    char po_case[64];
    snprintf(po_case, sizeof po_case, "seqpar scan G=%d dir=%d", G, dir);
    GcRng r = gc_rng(1700 + 10 * (uint64_t)G + (uint64_t)dir);
    int64_t bounds[SP_GMAX + 1];
    sp_bounds(&r, G, L, bounds);
    uint8_t *reset = sp_resets(&r, B, L, G, bounds, dir);
    // host inputs: u delta z Bm Cm A Dsk bias h0 dout dhfin
    const int64_t in_n[SP_IN] = {nld, nld, nld, nln, nln, D * N, D, D, n, nld, n};
    const float lo[SP_IN] = {-1, -3, -2, -1, -1, -1, -1, -1, -1, -1, -1};
    const float hi[SP_IN] = {1, 1, 2, 1, 1, 1.5f, 1, 0.5f, 1, 1, 1};
    float *h[SP_IN] = {0}, *ref_out = NULL, *ref_hfin = NULL, *ref_g[SP_GRAD] = {0};
    float *ref_ck = NULL, *hdec = NULL, *hend = NULL, *hhin = NULL, *hdloc = NULL, *hdH = NULL;
    void *ref_ws = NULL;
    PoBuf d[SP_IN], out = PO_NONE, hfin = PO_NONE, dg[SP_GRAD], ones = PO_NONE, zeros = PO_NONE,
                    rst = PO_NONE;
    PoBuf dec[SP_GMAX], end[SP_GMAX], hin[SP_GMAX], dloc[SP_GMAX], dH[SP_GMAX + 1],
        ck[SP_GMAX], ws[SP_GMAX], dh0 = PO_NONE;
    memset(d, 0, sizeof d), memset(dg, 0, sizeof dg), memset(dec, 0, sizeof dec);
    memset(end, 0, sizeof end), memset(hin, 0, sizeof hin), memset(dloc, 0, sizeof dloc);
    memset(dH, 0, sizeof dH), memset(ck, 0, sizeof ck), memset(ws, 0, sizeof ws);
    // gradients: du ddelta dz dB dC dA dD dbias
    const int64_t g_n[SP_GRAD] = {nld, nld, nld, nln, nln, D * N, D, D};
    const char *g_name[SP_GRAD] = {"du", "ddelta", "dz", "dB", "dC", "dA", "dD_skip",
                                   "ddelta_bias"};
    for (int i = 0; i < SP_IN; i++) h[i] = po_rand(&r, in_n[i], lo[i], hi[i], DTYPE_F32);
    for (int64_t i = 0; i < D * N; i++) h[5][i] = -expf(h[5][i]);

    // the CPU reference: one call over the whole sequence
    ScanArgs a;
    scan_args_init(&a, B, L, D, N);
    a.chunk = T;
    ref_out = gc_host(nld), ref_hfin = gc_host(n);
    for (int i = 0; i < SP_GRAD; i++) ref_g[i] = (float *)calloc((size_t)g_n[i], 4);
    float *ref_dh0 = (float *)calloc((size_t)n, 4);
    sp_scan_views(&a, L, D, N, dir, h[0], h[1], h[2], h[3], h[4], reset, ref_out, h[9],
                  ref_g[0], ref_g[1], ref_g[2], ref_g[3], ref_g[4]);
    a.A = h[5], a.D_skip = h[6], a.delta_bias = h[7], a.h0 = h[8], a.dh_final = h[10];
    a.h_final = ref_hfin, a.dA = ref_g[5], a.dD_skip = ref_g[6], a.ddelta_bias = ref_g[7];
    a.dh0 = ref_dh0;
    ref_ck = gc_host(scan_ckpt_numel(&a)), a.ckpt = ref_ck;
    a.workspace_bytes = scan_bwd_workspace_size_cpu(&a);
    ref_ws = malloc(a.workspace_bytes), a.workspace = ref_ws;
    PO_TRY(scan_fwd_cpu(&a));
    PO_TRY(scan_bwd_cpu(&a));

    // the device: whole-sequence buffers, slices as views
    for (int i = 0; i < SP_IN; i++) PO_TRY(po_in(&d[i], h[i], in_n[i], DTYPE_F32));
    for (int i = 0; i < SP_GRAD; i++) {
        float *z0 = (float *)calloc((size_t)g_n[i], 4);
        int rc = po_in(&dg[i], z0, g_n[i], DTYPE_F32);
        free(z0);
        PO_TRY(rc);
    }
    PO_TRY(po_raw(&rst, reset, (size_t)(B * L)));
    PO_TRY(po_out(&out, nld, DTYPE_F32));
    PO_TRY(po_out(&hfin, n, DTYPE_F32));
    PO_TRY(po_out(&dh0, n, DTYPE_F32));
    hdec = gc_host(G * n), hend = gc_host(G * n), hhin = gc_host(G * n);
    hdloc = gc_host(G * n), hdH = gc_host((G + 1) * n);
    {
        float *one = gc_host(n), *zero = (float *)calloc((size_t)n, 4);
        for (int64_t i = 0; i < n; i++) one[i] = 1.0f;
        int rc = po_in(&ones, one, n, DTYPE_F32);
        if (!rc) rc = po_in(&zeros, zero, D, DTYPE_F32);
        for (int g = 0; !rc && g < G; g++) rc = po_in(&dloc[g], zero, n, DTYPE_F32);
        free(one), free(zero);
        PO_TRY(rc);
    }
    ScanArgs w, sl[SP_GMAX];
    scan_args_init(&w, B, L, D, N);
    w.chunk = T;
    sp_scan_views(&w, L, D, N, dir, po_ptr(&d[0]), po_ptr(&d[1]), po_ptr(&d[2]), po_ptr(&d[3]),
                  po_ptr(&d[4]), (const uint8_t *)po_ptr(&rst), po_ptr(&out), po_ptr(&d[9]),
                  po_ptr(&dg[0]), po_ptr(&dg[1]), po_ptr(&dg[2]), po_ptr(&dg[3]),
                  po_ptr(&dg[4]));
    w.A = po_ptr(&d[5]), w.D_skip = po_ptr(&d[6]), w.delta_bias = po_ptr(&d[7]);
    w.dA = po_ptr(&dg[5]), w.dD_skip = po_ptr(&dg[6]), w.ddelta_bias = po_ptr(&dg[7]);
    for (int g = 0; g < G; g++) {
        sl[g] = sp_scan_slice(&w, bounds[g], bounds[g + 1] - bounds[g]);
        PO_TRY(po_out(&dec[g], n, DTYPE_F32));
        PO_TRY(po_out(&end[g], n, DTYPE_F32));
        PO_TRY(po_out(&hin[g], n, DTYPE_F32));
        PO_TRY(po_out(&ck[g], scan_ckpt_numel(&sl[g]), DTYPE_F32));
        size_t wsb = scan_bwd_workspace_size_cuda(&sl[g]);
        PO_TRY(po_out(&ws[g], (int64_t)(wsb / 4 + 1), DTYPE_F32));
        sl[g].workspace = po_ptr(&ws[g]), sl[g].workspace_bytes = wsb;
    }
    for (int g = 0; g <= G; g++) PO_TRY(po_out(&dH[g], n, DTYPE_F32));

    // forward: summaries, host combine, rescan
    for (int g = 0; g < G; g++)
        PO_TRY(seqpar_scan_summary(&seqpar_ops_cuda, &sl[g], po_ptr(&ones), po_ptr(&zeros),
                                   po_ptr(&end[g]), po_ptr(&dec[g])));
    PO_TRY(device_cuda_sync());
    const float *cdec[SP_GMAX], *cend[SP_GMAX], *cdloc[SP_GMAX];
    float *phin[SP_GMAX], *pdH[SP_GMAX + 1];
    for (int g = 0; g < G; g++) {
        PO_TRY(gc_buf_download(hdec + g * n, &dec[g].b, n, DTYPE_F32));
        PO_TRY(gc_buf_download(hend + g * n, &end[g].b, n, DTYPE_F32));
        cdec[g] = hdec + g * n, cend[g] = hend + g * n, phin[g] = hhin + g * n;
        cdloc[g] = hdloc + g * n;
    }
    for (int g = 0; g <= G; g++) pdH[g] = hdH + g * n;
    seqpar_scan_combine_fwd(G, n, cdec, cend, h[8], phin);
    for (int g = 0; g < G; g++) {
        PO_TRY(gc_buf_upload(&hin[g].b, phin[g], n, DTYPE_F32));
        sl[g].h0 = po_ptr(&hin[g]), sl[g].ckpt = po_ptr(&ck[g]);
        sl[g].h_final = g == G - 1 ? po_ptr(&hfin) : NULL;
        PO_TRY(seqpar_ops_cuda.scan_fwd(&sl[g]));
    }
    // backward: local, host combine, carry
    for (int g = 0; g < G; g++)
        PO_TRY(seqpar_scan_bwd_local(&seqpar_ops_cuda, &sl[g], po_ptr(&dloc[g])));
    PO_TRY(device_cuda_sync());
    for (int g = 0; g < G; g++) PO_TRY(gc_buf_download(hdloc + g * n, &dloc[g].b, n, DTYPE_F32));
    seqpar_scan_combine_bwd(G, n, cdec, cdloc, h[10], pdH);
    for (int g = 0; g <= G; g++) PO_TRY(gc_buf_upload(&dH[g].b, pdH[g], n, DTYPE_F32));
    for (int g = 0; g < G; g++) // the whole scan has a dh_final: the last slice carries too
        PO_TRY(seqpar_scan_bwd_carry(&seqpar_ops_cuda, &sl[g], po_ptr(&dH[g + 1]),
                                     po_ptr(&zeros)));
    PO_TRY(gc_buf_upload(&dh0.b, pdH[0], n, DTYPE_F32));
    PO_TRY(device_cuda_sync());

    const double tol_sum = SP_TOL * sqrt((double)(B * L) / 74.0);
    sp_check("out", G, dir, &out, ref_out, SP_TOL);
    sp_check("h_final", G, dir, &hfin, ref_hfin, SP_TOL);
    for (int i = 0; i < SP_GRAD; i++)
        sp_check(g_name[i], G, dir, &dg[i], ref_g[i], i < 5 ? SP_TOL : tol_sum);
    sp_check("dh0", G, dir, &dh0, ref_dh0, SP_TOL);
done:
    for (int i = 0; i < SP_IN; i++) free(h[i]), po_free(&d[i]);
    for (int i = 0; i < SP_GRAD; i++) free(ref_g[i]), po_free(&dg[i]);
    for (int g = 0; g < SP_GMAX; g++) {
        po_free(&dec[g]), po_free(&end[g]), po_free(&hin[g]), po_free(&dloc[g]);
        po_free(&ck[g]), po_free(&ws[g]);
    }
    for (int g = 0; g <= SP_GMAX; g++) po_free(&dH[g]);
    po_free(&out), po_free(&hfin), po_free(&ones), po_free(&zeros), po_free(&rst), po_free(&dh0);
    free(ref_out), free(ref_hfin), free(ref_dh0), free(ref_ck), free(ref_ws), free(reset);
    free(hdec), free(hend), free(hhin), free(hdloc), free(hdH);
}

static ConvArgs sp_conv_slice(const ConvArgs *w, int64_t s, int64_t len) {
    ConvArgs a = *w;
    a.L = len;
#define MOVE(p) a.p = w->p + s * w->p##_stride_l
    MOVE(x), MOVE(reset), MOVE(out), MOVE(dout), MOVE(dx);
#undef MOVE
    a.state0 = NULL, a.state_final = NULL, a.dstate_final = NULL, a.dstate0 = NULL;
    return a;
}

// Point the (B, L, D) views of @p a at their buffers in walk direction @p dir.
static void sp_conv_views(ConvArgs *a, int64_t L, int64_t D, int dir, const float *x,
                          const uint8_t *reset, float *out, const float *dout, float *dx) {
    int64_t od = dir ? (L - 1) * D : 0, sd = dir ? -D : D;
    a->x = x + od, a->out = out + od, a->dout = dout + od, a->dx = dx + od;
    a->reset = reset + (dir ? L - 1 : 0), a->reset_stride_l = dir ? -1 : 1;
    a->x_stride_l = a->out_stride_l = a->dout_stride_l = a->dx_stride_l = sd;
}

static void sp_conv_case(int G, int dir) {
    const int64_t B = 2, L = 3001, D = 192, K = 4, ns = B * D * (K - 1), nld = B * L * D;
    char po_case[64];
    snprintf(po_case, sizeof po_case, "seqpar conv G=%d dir=%d", G, dir);
    GcRng r = gc_rng(1900 + 10 * (uint64_t)G + (uint64_t)dir);
    int64_t bounds[SP_GMAX + 1];
    sp_bounds(&r, G, L, bounds);
    uint8_t *reset = sp_resets(&r, B, L, G, bounds, dir);
    float *x = po_rand(&r, nld, -1, 1, DTYPE_F32), *wt = po_rand(&r, D * K, -1, 1, DTYPE_F32);
    float *bias = po_rand(&r, D, -1, 1, DTYPE_F32), *s0 = po_rand(&r, ns, -1, 1, DTYPE_F32);
    float *dout = po_rand(&r, nld, -1, 1, DTYPE_F32), *dsf = po_rand(&r, ns, -1, 1, DTYPE_F32);
    float *ref_out = gc_host(nld), *ref_sf = gc_host(ns), *ref_dx = (float *)calloc(nld, 4);
    float *ref_dw = (float *)calloc(D * K, 4), *ref_db = (float *)calloc(D, 4);
    float *ref_ds0 = (float *)calloc(ns, 4), *zero = (float *)calloc(nld, 4);
    PoBuf dx_ = PO_NONE, dw = PO_NONE, db = PO_NONE, ds0 = PO_NONE, out = PO_NONE, sf = PO_NONE;
    PoBuf xd = PO_NONE, wd = PO_NONE, bd = PO_NONE, s0d = PO_NONE, doutd = PO_NONE, dsfd = PO_NONE;
    PoBuf rst = PO_NONE, zeros = PO_NONE, scratch = PO_NONE, dws = PO_NONE;
    PoBuf halo[SP_GMAX], dhalo[SP_GMAX];
    memset(halo, 0, sizeof halo), memset(dhalo, 0, sizeof dhalo);

    ConvArgs a;
    conv_args_init(&a, B, L, D, K);
    a.silu = 1;
    sp_conv_views(&a, L, D, dir, x, reset, ref_out, dout, ref_dx);
    a.weight = wt, a.bias = bias, a.state0 = s0, a.state_final = ref_sf, a.dstate_final = dsf;
    a.dweight = ref_dw, a.dbias = ref_db, a.dstate0 = ref_ds0;
    PO_TRY(conv_fwd_cpu(&a));
    PO_TRY(conv_bwd_cpu(&a));

    PO_TRY(po_in(&xd, x, nld, DTYPE_F32));
    PO_TRY(po_in(&wd, wt, D * K, DTYPE_F32));
    PO_TRY(po_in(&bd, bias, D, DTYPE_F32));
    PO_TRY(po_in(&s0d, s0, ns, DTYPE_F32));
    PO_TRY(po_in(&doutd, dout, nld, DTYPE_F32));
    PO_TRY(po_in(&dsfd, dsf, ns, DTYPE_F32));
    PO_TRY(po_raw(&rst, reset, (size_t)(B * L)));
    PO_TRY(po_out(&out, nld, DTYPE_F32));
    PO_TRY(po_out(&sf, ns, DTYPE_F32));
    PO_TRY(po_in(&dx_, zero, nld, DTYPE_F32));
    PO_TRY(po_in(&dw, zero, D * K, DTYPE_F32));
    PO_TRY(po_in(&db, zero, D, DTYPE_F32));
    PO_TRY(po_in(&ds0, zero, ns, DTYPE_F32));
    PO_TRY(po_in(&zeros, zero, D, DTYPE_F32));
    PO_TRY(po_out(&scratch, B * (K - 1) * D, DTYPE_F32));
    PO_TRY(po_in(&dws, zero, D * K, DTYPE_F32));
    ConvArgs w, sl[SP_GMAX], prev[SP_GMAX];
    conv_args_init(&w, B, L, D, K);
    w.silu = 1;
    sp_conv_views(&w, L, D, dir, po_ptr(&xd), (const uint8_t *)po_ptr(&rst), po_ptr(&out),
                  po_ptr(&doutd), po_ptr(&dx_));
    w.weight = po_ptr(&wd), w.bias = po_ptr(&bd), w.dweight = po_ptr(&dw), w.dbias = po_ptr(&db);
    for (int g = 0; g < G; g++) {
        int64_t s = bounds[g], m = s < K - 1 ? s : K - 1;
        sl[g] = sp_conv_slice(&w, s, bounds[g + 1] - s);
        PO_TRY(po_out(&halo[g], ns, DTYPE_F32));
        PO_TRY(po_in(&dhalo[g], zero, ns, DTYPE_F32));
        if (g > 0) {
            prev[g] = sp_conv_slice(&w, s - m, m);
            prev[g].state0 = s - m == 0 ? po_ptr(&s0d) : NULL;
            prev[g].dstate0 = s - m == 0 ? po_ptr(&ds0) : NULL;
            PO_TRY(seqpar_conv_halo_fwd(&seqpar_ops_cuda, &prev[g], po_ptr(&halo[g]),
                                        po_ptr(&scratch)));
        }
        sl[g].state0 = g == 0 ? po_ptr(&s0d) : po_ptr(&halo[g]);
        sl[g].dstate0 = g == 0 ? po_ptr(&ds0) : po_ptr(&dhalo[g]);
        sl[g].state_final = g == G - 1 ? po_ptr(&sf) : NULL;
        sl[g].dstate_final = g == G - 1 ? po_ptr(&dsfd) : NULL;
    }
    for (int g = 0; g < G; g++) PO_TRY(seqpar_ops_cuda.conv_fwd(&sl[g]));
    for (int g = 0; g < G; g++) PO_TRY(seqpar_ops_cuda.conv_bwd(&sl[g]));
    for (int g = 1; g < G; g++)
        PO_TRY(seqpar_conv_halo_bwd(&seqpar_ops_cuda, &prev[g], po_ptr(&dhalo[g]),
                                    po_ptr(&zeros), po_ptr(&dws)));
    PO_TRY(device_cuda_sync());

    const double tol_sum = SP_TOL * sqrt((double)(B * L) / 74.0);
    sp_check("conv out", G, dir, &out, ref_out, SP_TOL);
    sp_check("conv state_final", G, dir, &sf, ref_sf, SP_TOL);
    sp_check("conv dx", G, dir, &dx_, ref_dx, SP_TOL);
    sp_check("conv dweight", G, dir, &dw, ref_dw, tol_sum);
    sp_check("conv dbias", G, dir, &db, ref_db, tol_sum);
    sp_check("conv dstate0", G, dir, &ds0, ref_ds0, SP_TOL);
done:
    for (int g = 0; g < SP_GMAX; g++) po_free(&halo[g]), po_free(&dhalo[g]);
    PoBuf *all[] = {&dx_, &dw,    &db,  &ds0,   &out,   &sf,      &xd,  &wd,
                    &bd,  &s0d,   &doutd, &dsfd, &rst,  &zeros, &scratch, &dws};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) po_free(all[i]);
    float *hs[] = {x, wt, bias, s0, dout, dsf, ref_out, ref_sf, ref_dx, ref_dw, ref_db, ref_ds0,
                   zero};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) free(hs[i]);
    free(reset);
}

void gpu_parity_seqpar(void) {
    static const int Gs[] = {1, 2, 3, 5, 8};
    for (int dir = 0; dir < 2; dir++)
        for (size_t k = 0; k < sizeof Gs / sizeof Gs[0]; k++) {
            sp_scan_case(Gs[k], dir);
            sp_conv_case(Gs[k], dir);
        }
}
