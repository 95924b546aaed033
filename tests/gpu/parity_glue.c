/*
 * parity_glue.c — the model glue (kernels/glue.h) on the GPU against the CPU specification:
 * row gather / scatter-add (forward and reversed within each row's length, several tiles,
 * fp32 and bf16 on either side), zero past the lengths, add, cast, −exp, multiply-accumulate,
 * the rc pair mean, token ids (with the reverse complement), ids and waveform frames.
 * Everything but −exp is a copy or one rounding per element: bit-identical to the CPU
 * (bf16: the CPU's result rounded once, as the GPU stores it). −exp: CUDA's expf, 1e-6.
 * Streaming glue: strided block copies (fp32, and bf16 as 2-byte elements: bit-identical),
 * the pooled running sum (one chunk: bit-identical; longer segments in chunks: within
 * 1e-13·Σ|x| of the CPU's double sums, the float mean within 1 ulp) and the mean from it.
 */
#include "kernels/glue.h"
#include "tests/gpu/parity_ops.h"

// bf16 of the CPU's fp32 result (what one rounded store gives).
static float *rounded(const float *x, int64_t n, DType t) {
    float *y = po_copy(x, n);
    if (y) po_round(y, n, t);
    return y;
}

// packed: each row's valid positions split into sequences of random lengths (1..12), each
// reversed in place by the mirror map (glue.h)
static void rows_case(int64_t Be, int64_t L, int64_t W, int64_t Tt, int reverse, DType dt, DType st,
                      int packed, uint64_t salt) {
    char po_case[160], what[220];
    snprintf(po_case, sizeof po_case, "glue rows Be=%lld L=%lld W=%lld tile=%lld%s%s dst %s src %s",
             (long long)Be, (long long)L, (long long)W, (long long)Tt, reverse ? " reversed" : "",
             packed ? " packed" : "", dtype_name(dt), dtype_name(st));
    GcRng r = gc_rng(salt);
    int64_t len[4];
    for (int64_t b = 0; b < Be; b++)
        len[b] = b == 0 ? L : 1 + (int64_t)(gc_next(&r) % (uint64_t)L);
    int32_t *mirror = packed ? (int32_t *)malloc((size_t)(Be * L) * sizeof *mirror) : NULL;
    for (int64_t b = 0; packed && b < Be; b++)
        for (int64_t a = 0; a < L;) {
            int64_t n = 1 + (int64_t)(gc_next(&r) % 12);
            if (a + n > len[b] || a >= len[b]) n = a < len[b] ? len[b] - a : 1;
            for (int64_t s = a; s < a + n && s < L; s++)
                mirror[b * L + s] = (int32_t)(2 * a + n - 1 - s);
            a += n;
        }
    const int64_t n = Be * L * W;
    float *src = po_rand(&r, n, -2, 2, st), *acc = po_rand(&r, n, -2, 2, dt);
    float *tile = gc_host(Be * Tt * W), *tile_src = po_rand(&r, Be * Tt * W, -1, 1, st);
    float *ref_acc = po_copy(acc, n), *ref_g = NULL, *ref_s = NULL;
    PoBuf gsrc = {0}, glen = {0}, gtile = {0}, gtsrc = {0}, gacc = {0}, gmir = {0};
    PO_TRY(po_in(&gsrc, src, n, st));
    PO_TRY(po_raw(&glen, len, (size_t)Be * 8));
    if (packed) PO_TRY(po_raw(&gmir, mirror, (size_t)(Be * L) * sizeof *mirror));
    const int32_t *gm = packed ? (const int32_t *)gmir.b.ptr : NULL;
    PO_TRY(po_out(&gtile, Be * Tt * W, dt));
    PO_TRY(po_in(&gtsrc, tile_src, Be * Tt * W, st));
    PO_TRY(po_in(&gacc, acc, n, dt));
    const int64_t *gl = (const int64_t *)glen.b.ptr;
    for (int64_t s0 = 0; s0 < L; s0 += Tt) { // every tile: gather the last, scatter all
        const int64_t nt = s0 + Tt <= L ? Tt : L - s0;
        PO_TRY(glue_rows_gather_cpu(tile, src, len, mirror, Be, L, W, s0, nt, reverse));
        PO_TRY(glue_rows_gather_cuda(po_ptr(&gtile), dt, po_ptr(&gsrc), st, gl, gm, Be, L, W, s0,
                                     nt, reverse, NULL));
        PO_TRY(
            glue_rows_scatter_add_cpu(ref_acc, tile_src, len, mirror, Be, L, W, s0, nt, reverse));
        PO_TRY(glue_rows_scatter_add_cuda(po_ptr(&gacc), dt, po_ptr(&gtsrc), st, gl, gm, Be, L, W,
                                          s0, nt, reverse, NULL));
        if (dt == DTYPE_BF16) po_round(ref_acc, n, dt); // each scatter stores rounded
        if (s0 + Tt >= L) gtile.n = Be * nt * W;
    }
    PO_TRY(device_cuda_sync());
    ref_g = rounded(tile, gtile.n, dt);
    snprintf(what, sizeof what, "%s: gather (last tile)", po_case);
    po_check_exact(what, &gtile, ref_g);
    ref_s = rounded(ref_acc, n, dt);
    snprintf(what, sizeof what, "%s: scatter-add", po_case);
    po_check_exact(what, &gacc, ref_s);
done:
    po_free(&gsrc), po_free(&glen), po_free(&gtile), po_free(&gtsrc), po_free(&gacc);
    po_free(&gmir), free(mirror);
    free(src), free(acc), free(tile), free(tile_src), free(ref_acc), free(ref_g), free(ref_s);
}

static void elementwise_cases(uint64_t salt) {
    char po_case[] = "glue elementwise";
    char what[160];
    GcRng r = gc_rng(salt);
    const int64_t n = 100003;
    float *x = po_rand(&r, n, -3, 3, DTYPE_F32), *y0 = po_rand(&r, n, -3, 3, DTYPE_F32);
    float *a = po_rand(&r, n, -2, 2, DTYPE_F32), *ref = po_copy(y0, n);
    float *xb = po_rand(&r, n, -3, 3, DTYPE_BF16);
    PoBuf gx = {0}, gy = {0}, ga = {0}, gxb = {0}, gyb = {0};
    PO_TRY(po_in(&gx, x, n, DTYPE_F32));
    PO_TRY(po_in(&gy, y0, n, DTYPE_F32));
    PO_TRY(po_in(&ga, a, n, DTYPE_F32));
    // add: fp32 += fp32, fp32 += bf16
    PO_TRY(glue_add_cpu(ref, x, n));
    PO_TRY(glue_add_cuda(po_ptr(&gy), DTYPE_F32, po_ptr(&gx), DTYPE_F32, n, NULL));
    po_check_exact("glue add fp32 += fp32", &gy, ref);
    PO_TRY(po_in(&gxb, xb, n, DTYPE_BF16));
    PO_TRY(glue_add_cpu(ref, xb, n));
    PO_TRY(glue_add_cuda(po_ptr(&gy), DTYPE_F32, po_ptr(&gxb), DTYPE_BF16, n, NULL));
    po_check_exact("glue add fp32 += bf16", &gy, ref);
    // cast fp32 → bf16
    PO_TRY(po_out(&gyb, n, DTYPE_BF16));
    PO_TRY(glue_cast_cuda(po_ptr(&gyb), DTYPE_BF16, po_ptr(&gx), n, NULL));
    float *xr = rounded(x, n, DTYPE_BF16);
    po_check_exact("glue cast fp32 → bf16", &gyb, xr);
    free(xr);
    // −exp, multiply-accumulate
    float *ne = gc_host(n);
    PO_TRY(glue_neg_exp_cpu(ne, x, n));
    PO_TRY(glue_neg_exp_cuda(po_ptr(&gy), po_ptr(&gx), n, NULL));
    po_check("glue neg_exp", &gy, ne, (GcTol){1e-7, 1e-6, 0});
    float *ma = po_copy(ne, n);
    PO_TRY(glue_mul_acc_cpu(ma, a, x, n));
    PO_TRY(glue_mul_acc_cuda(po_ptr(&gy), po_ptr(&ga), po_ptr(&gx), n, NULL));
    snprintf(what, sizeof what, "glue mul_acc (onto −exp)");
    po_check(what, &gy, ma, (GcTol){1e-6, 1e-6, 0});
    free(ne), free(ma);
done:
    po_free(&gx), po_free(&gy), po_free(&ga), po_free(&gxb), po_free(&gyb);
    free(x), free(y0), free(a), free(ref), free(xb);
}

static void head_and_input_cases(uint64_t salt) {
    char po_case[] = "glue inputs";
    GcRng r = gc_rng(salt);
    enum { B = 3, L = 41, F = 5, W = 67 };
    const int64_t Lt = (L + F - 1) / F;
    int64_t len[B] = {L, 17, 1}, slen[B] = {L, 23, 3};
    uint8_t tok[B * L];
    int32_t ids[B * L], ref_ids[2 * B * L];
    for (int i = 0; i < B * L; i++)
        tok[i] = (uint8_t)(gc_next(&r) % 5), ids[i] = (int32_t)(gc_next(&r) % 1000);
    float *x = po_rand(&r, 2 * B * W, -1, 1, DTYPE_F32), *pm = gc_host(B * W);
    float *dx = po_rand(&r, 2 * B * W, -1, 1, DTYPE_F32), *dxr = po_copy(dx, 2 * B * W);
    float *samples = po_rand(&r, B * L, -1, 1, DTYPE_F32), *frames = gc_host(B * Lt * F);
    float *ids_f = gc_host(2 * B * L);
    PoBuf gtok = {0}, gids = {0}, glen = {0}, gslen = {0}, gout = {0}, gx = {0}, gpm = {0},
          gdx = {0}, gs = {0}, gf = {0};
    PO_TRY(po_raw(&gtok, tok, sizeof tok));
    PO_TRY(po_raw(&glen, len, sizeof len));
    PO_TRY(po_raw(&gslen, slen, sizeof slen));
    PO_TRY(po_out(&gout, 2 * B * L, DTYPE_F32)); // int32 ids, compared as raw 4-byte words
    // tokens → ids with the reverse complement rows
    PO_TRY(glue_tokens_to_ids_cpu(ref_ids, tok, len, NULL, B, L, 5, 1));
    PO_TRY(glue_tokens_to_ids_cuda((int32_t *)po_ptr(&gout), (const uint8_t *)gtok.b.ptr,
                                   (const int64_t *)glen.b.ptr, NULL, B, L, 1, NULL));
    memcpy(ids_f, ref_ids, sizeof ref_ids);
    po_check_exact("glue tokens_to_ids rc (int32 words)", &gout, ids_f);
    PO_TRY(po_raw(&gids, ids, sizeof ids));
    PO_TRY(glue_ids_to_ids_cpu(ref_ids, ids, len, B, L, 1000));
    PO_TRY(glue_ids_to_ids_cuda((int32_t *)po_ptr(&gout), (const int32_t *)gids.b.ptr,
                                (const int64_t *)glen.b.ptr, B, L, NULL));
    memcpy(ids_f, ref_ids, (size_t)B * L * 4);
    gout.n = B * L;
    po_check_exact("glue ids_to_ids (int32 words)", &gout, ids_f);
    // pair mean and its backward
    PO_TRY(po_in(&gx, x, 2 * B * W, DTYPE_F32));
    PO_TRY(po_out(&gpm, B * W, DTYPE_F32));
    PO_TRY(glue_pair_mean_fwd_cpu(pm, x, B, W));
    PO_TRY(glue_pair_mean_fwd_cuda(po_ptr(&gpm), po_ptr(&gx), B, W, NULL));
    po_check_exact("glue pair_mean_fwd", &gpm, pm);
    PO_TRY(po_in(&gdx, dx, 2 * B * W, DTYPE_F32));
    PO_TRY(glue_pair_mean_bwd_cpu(dxr, pm, B, W));
    PO_TRY(glue_pair_mean_bwd_cuda(po_ptr(&gdx), po_ptr(&gpm), B, W, NULL));
    po_check_exact("glue pair_mean_bwd", &gdx, dxr);
    // waveform frames
    PO_TRY(po_in(&gs, samples, B * L, DTYPE_F32));
    PO_TRY(po_out(&gf, B * Lt * F, DTYPE_F32));
    PO_TRY(glue_frames_cpu(frames, samples, slen, NULL, B, L, F, Lt));
    PO_TRY(glue_frames_cuda(po_ptr(&gf), po_ptr(&gs), (const int64_t *)gslen.b.ptr, NULL, B, L, F,
                            Lt, NULL));
    po_check_exact("glue frames", &gf, frames);
    // zero past the lengths (the frames' rows as (B, Lt, F))
    PO_TRY(glue_rows_zero_tail_cpu(frames, len, B, Lt, F));
    PO_TRY(glue_rows_zero_tail_cuda(po_ptr(&gf), DTYPE_F32, (const int64_t *)glen.b.ptr, B, Lt, F,
                                    NULL));
    po_check_exact("glue rows_zero_tail", &gf, frames);
done:
    po_free(&gtok), po_free(&gids), po_free(&glen), po_free(&gslen), po_free(&gout);
    po_free(&gx), po_free(&gpm), po_free(&gdx), po_free(&gs), po_free(&gf);
    free(x), free(pm), free(dx), free(dxr), free(samples), free(frames), free(ids_f);
}

// Strided block copies between a segment and a cache (the key/value cache's layout).
static void copy_blocks_case(DType t, uint64_t salt) {
    char po_case[96], what[160];
    snprintf(po_case, sizeof po_case, "glue copy_blocks %s", dtype_name(t));
    GcRng r = gc_rng(salt);
    enum { B = 3, L = 29, W = 40, CAP = 64, SRC_SL = 3 * W, OFF = 5 };
    const int64_t nd = (int64_t)B * CAP * W, ns = (int64_t)B * L * SRC_SL;
    float *dst = po_rand(&r, nd, -1, 1, t), *src = po_rand(&r, ns, -1, 1, t);
    float *ref = po_copy(dst, nd);
    PoBuf gd = {0}, gs = {0};
    PO_TRY(po_in(&gd, dst, nd, t));
    PO_TRY(po_in(&gs, src, ns, t));
    // rows of the cache (stride CAP·W) at positions OFF.., from v inside a packed qkv (3·W)
    PO_TRY(glue_copy_blocks_cpu(ref + OFF * W, CAP * W, W, src + 2 * W, L * SRC_SL, SRC_SL, B, L,
                                W));
    {
        const size_t es = dtype_size(t);
        float *gdst = (float *)((char *)po_ptr(&gd) + (size_t)OFF * W * es);
        const float *gsrc = (const float *)((const char *)po_ptr(&gs) + (size_t)2 * W * es);
        PO_TRY(glue_copy_blocks_cuda(gdst, CAP * W, W, gsrc, L * SRC_SL, SRC_SL, B, L, W, t,
                                     NULL));
    }
    snprintf(what, sizeof what, "%s: into a cache from a packed buffer", po_case);
    po_check_exact(what, &gd, ref);
done:
    po_free(&gd), po_free(&gs);
    free(dst), free(src), free(ref);
}

// The pooled running sum over segments of different lengths, then the mean.
static void sum_rows_case(uint64_t salt) {
    char po_case[] = "glue sum_rows_acc";
    char what[200];
    GcRng r = gc_rng(salt);
    enum { B = 2, W = 67 };
    static const int64_t seg[] = {1, GLUE_SUM_CHUNK, 1000, 7, 4 * GLUE_SUM_CHUNK + 3};
    const int nseg = (int)(sizeof seg / sizeof *seg);
    double acc[B * W] = {0}, got_acc[B * W], mass[B * W] = {0}; // mass: Σ|x| per output
    float mean[B * W], *x = NULL;
    PoBuf gacc = {0}, gx = {0}, gm = {0};
    int64_t count = 0;
    PO_TRY(po_raw(&gacc, acc, sizeof acc));
    PO_TRY(po_out(&gm, B * W, DTYPE_F32));
    for (int k = 0; k < nseg; k++) {
        const int64_t L = seg[k];
        x = po_rand(&r, B * L * W, -3, 3, DTYPE_F32);
        PO_TRY(po_in(&gx, x, B * L * W, DTYPE_F32));
        PO_TRY(glue_sum_rows_acc_cpu(acc, x, B, L, W));
        for (int64_t i = 0; i < B * L * W; i++) mass[(i / (L * W)) * W + i % W] += fabs(x[i]);
        PO_TRY(glue_sum_rows_acc_cuda((double *)gacc.b.ptr, po_ptr(&gx), B, L, W, NULL));
        count += L;
        po_free(&gx);
        free(x);
        x = NULL;
        if (k == 1) { // so far every segment fits one chunk: the CPU's order, the same bits
            PO_TRY(device_cuda_copy(got_acc, gacc.b.ptr, sizeof got_acc, DEVICE_COPY_D2H));
            gc_report(memcmp(got_acc, acc, sizeof acc) == 0, "%s: segments of <= %d positions "
                      "give the CPU's double sums bit for bit", po_case, GLUE_SUM_CHUNK);
        }
    }
    PO_TRY(device_cuda_copy(got_acc, gacc.b.ptr, sizeof got_acc, DEVICE_COPY_D2H));
    {
        double worst = 0;
        for (int i = 0; i < B * W; i++) {
            const double e = fabs(got_acc[i] - acc[i]) / mass[i];
            worst = e > worst ? e : worst;
        }
        gc_report(worst <= 1e-13, "%s: long segments (chunked) within 1e-13·Σ|x| of the CPU's "
                  "double sums (worst %.3g)", po_case, worst);
    }
    PO_TRY(glue_mean_from_sum_cpu(mean, acc, B * W, (double)count));
    PO_TRY(glue_mean_from_sum_cuda(po_ptr(&gm), (const double *)gacc.b.ptr, B * W,
                                   (double)count, NULL));
    {
        GcTol ulp = {0, 1.2e-7, 0}; // one float ulp: the sums differ in their last double bits
        snprintf(what, sizeof what, "glue mean_from_sum after %d segments (%lld positions)", nseg,
                 (long long)count);
        po_check(what, &gm, mean, ulp);
    }
    // and exactly the CPU's division on the same sums
    PO_TRY(glue_mean_from_sum_cpu(mean, got_acc, B * W, (double)count));
    po_check_exact("glue mean_from_sum on the same sums", &gm, mean);
done:
    po_free(&gacc), po_free(&gx), po_free(&gm);
    free(x);
}

void gpu_parity_glue(void) {
    uint64_t salt = 900;
    for (int rev = 0; rev < 2; rev++)
        for (int dt = 0; dt < 2; dt++)
            for (int st = 0; st < 2; st++)
                for (int wide = 0; wide < 2; wide++) // W = 37: one value a lane; 260: 4-vectors
                    rows_case(3, 50, wide ? 260 : 37, 16, rev, dt ? DTYPE_BF16 : DTYPE_F32,
                              st ? DTYPE_BF16 : DTYPE_F32, 0, salt++);
    rows_case(2, 4099, 256, 1024, 1, DTYPE_F32, DTYPE_F32, 0, salt++);
    for (int dt = 0; dt < 2; dt++) // packed rows: each sequence reversed in place
        for (int wide = 0; wide < 2; wide++)
            rows_case(3, 50, wide ? 260 : 37, 16, 1, dt ? DTYPE_BF16 : DTYPE_F32, DTYPE_F32, 1,
                      salt++);
    rows_case(2, 4099, 256, 1024, 1, DTYPE_F32, DTYPE_F32, 1, salt++);
    elementwise_cases(salt++);
    head_and_input_cases(salt++);
    copy_blocks_case(DTYPE_F32, salt++);
    copy_blocks_case(DTYPE_BF16, salt++);
    sum_rows_case(salt++);
}
