/*
 * parity_attention.c — CUDA attention and RoPE (kernels/cuda/attention.cu) against the CPU
 * spec (kernels/cpu/attention.c); suites `attention` (the table below) and `attention_small`
 * (small sizes for compute-sanitizer, plus the argument checks). Harness: gpu_check.h.
 *
 * Each attention case: fresh random q, k, v in one storage buffer (separate contiguous
 * tensors, one packed (B, L, 3, H, hd) qkv buffer, or (B, H, L, hd) tensors), read through
 * views; key padding with ragged lengths (L, 0 and random in between) whose padded rows of
 * q, k, v and dout hold NaN, which neither backend may read. Forward: out and lse poisoned,
 * compared with the CPU's (padded rows must be 0). Backward: from the CPU's out (rounded to
 * bf16 for bf16 cases) and lse, accumulating into random initial gradients in a storage
 * buffer laid out like q, k, v (dq, dk, dv compared separately, padded rows must keep their
 * initial values); then run again from the same inputs, and the gradient bytes must be
 * identical (determinism). bf16 cases feed both backends the same bf16-rounded inputs.
 * Tolerance per tensor, with tol = 1e-5 (fp32) or 2e-2 (bf16):
 *   |got − ref| <= tol·max|ref| + tol·|ref| elementwise, and Σ(got − ref)² <= tol²·Σ ref².
 * RoPE cases: forward through a view into packed storage, backward accumulating through it;
 * partial rotary and pos0 > 0.
 */
#include "kernels/attention.h"
#include "tests/gpu/gpu_check.h"

enum { LAYOUT_SEPARATE, LAYOUT_PACKED, LAYOUT_BHLD };
static const char *layout_name[] = {"separate", "packed", "bhld"};

typedef struct {
    int64_t B, L;
    int H, hd, causal;
    int lens;   /* 0: no lengths; 1: ragged (L, 0, random in [1, L)) */
    int layout; /* LAYOUT_* */
    int skip;   /* 1: backward with dq = dv = NULL (only dk) */
} AttnCase;

/* Storage holding three (B, L, H, hd) tensors t = 0, 1, 2 through views. */
typedef struct {
    int64_t n, n_storage, off[3];
    AttentionView view;
} Storage;

static Storage storage_make(const AttnCase *c) {
    Storage s;
    s.n = c->B * c->L * c->H * c->hd;
    s.n_storage = 3 * s.n;
    if (c->layout == LAYOUT_PACKED) {
        s.view = attention_view_packed(c->L, 3, c->H, c->hd);
        s.off[0] = 0, s.off[1] = (int64_t)c->H * c->hd, s.off[2] = 2 * (int64_t)c->H * c->hd;
    } else {
        s.view = attention_view_contiguous(c->L, c->H, c->hd);
        if (c->layout == LAYOUT_BHLD)
            s.view = (AttentionView){(int64_t)c->H * c->L * c->hd, c->hd, c->L * c->hd};
        s.off[0] = 0, s.off[1] = s.n, s.off[2] = 2 * s.n;
    }
    return s;
}

static int64_t storage_index(const Storage *s, int t, int64_t b, int64_t l, int h, int e) {
    return s->off[t] + b * s->view.batch + l * s->view.pos + h * s->view.head + e;
}

/* tensor t of the storage → contiguous (B, L, H, hd) */
static void gather(float *dst, const float *st, const Storage *s, int t, const AttnCase *c) {
    int64_t i = 0;
    for (int64_t b = 0; b < c->B; b++)
        for (int64_t l = 0; l < c->L; l++)
            for (int h = 0; h < c->H; h++)
                for (int e = 0; e < c->hd; e++) dst[i++] = st[storage_index(s, t, b, l, h, e)];
}

static GcTol attn_tol(DType t) {
    double tol = t == DTYPE_BF16 ? 2e-2 : 1e-5;
    GcTol g = {0, tol, tol * tol};
    return g;
}

/* compare with atol scaled by max|ref| (see the file top) */
static int attn_close(const float *got, const float *ref, int64_t n, DType t, char *why,
                      size_t size) {
    GcTol tol = attn_tol(t);
    double mx = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(ref[i]) && fabs(ref[i]) > mx) mx = fabs(ref[i]);
    tol.atol = tol.rtol * (mx > 0 ? mx : 1.0);
    return gc_close(got, ref, n, tol, why, size);
}

static int64_t case_len(const AttnCase *c, const int64_t *lens, int64_t b) {
    return c->lens ? lens[b] : c->L;
}

/* Device copies of everything one case needs. */
typedef struct {
    GcBuf qkv, out, lse, dout, outin, grad, lens;
} AttnDev;

static void attn_dev_free(AttnDev *d) {
    gc_buf_free(&d->qkv), gc_buf_free(&d->out), gc_buf_free(&d->lse), gc_buf_free(&d->dout);
    gc_buf_free(&d->outin), gc_buf_free(&d->grad), gc_buf_free(&d->lens);
}

static int guards(AttnDev *d, char *why, size_t size) {
    GcBuf *bufs[] = {&d->qkv, &d->out, &d->lse, &d->dout, &d->outin, &d->grad, &d->lens};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i]->base && gc_buf_guards_ok(bufs[i], why, size)) return -1;
    return 0;
}

static void run_case(const AttnCase *c, DType dt, uint64_t salt) {
    const int bf = dt == DTYPE_BF16;
    char what[200], why[300];
    snprintf(what, sizeof what, "attention %s B=%lld L=%lld H=%d hd=%d %s%s %s%s", dtype_name(dt),
             (long long)c->B, (long long)c->L, c->H, c->hd, c->causal ? "causal" : "bidir",
             c->lens ? " lengths" : "", layout_name[c->layout], c->skip ? " dk-only" : "");
    GcRng rng = gc_rng(salt);
    Storage s = storage_make(c);
    const int64_t n = s.n, nl = c->B * c->H * c->L;
    int64_t lens[64];
    for (int64_t b = 0; b < c->B && c->lens; b++) {
        int kind = (int)(b % 4);
        lens[b] = kind == 0 ? c->L : (kind == 1 && c->B > 1) ? 0
                  : c->L > 1 ? 1 + (int64_t)(gc_next(&rng) % (uint64_t)(c->L - 1)) : c->L;
    }
    float *st = gc_host(s.n_storage), *dout = gc_host(n), *g0 = gc_host(s.n_storage);
    float *out_ref = gc_host(n), *lse_ref = gc_host(nl), *g_ref = gc_host(s.n_storage);
    float *got = gc_host(s.n_storage), *outin = gc_host(n), *ta = gc_host(n), *tb = gc_host(n);
    unsigned char *bytes1 = malloc((size_t)s.n_storage * 4 + 1);
    unsigned char *bytes2 = malloc((size_t)s.n_storage * 4 + 1);
    AttnDev d;
    memset(&d, 0, sizeof d);
    int ok = st && dout && g0 && out_ref && lse_ref && g_ref && got && outin && ta && tb &&
             bytes1 && bytes2;
    if (!ok) {
        gc_report(0, "%s: host allocation failed", what);
        goto done;
    }
    // inputs: q, k in [-2, 2] (peaked softmax), v, dout in [-1, 1]; padded rows NaN
    gc_fill(&rng, st, s.n_storage, -2.0f, 2.0f, bf);
    gc_fill(&rng, dout, n, -1.0f, 1.0f, bf);
    gc_fill(&rng, g0, s.n_storage, -0.1f, 0.1f, bf);
    for (int64_t b = 0; b < c->B; b++)
        for (int64_t l = 0; l < c->L; l++)
            for (int h = 0; h < c->H; h++)
                for (int e = 0; e < c->hd; e++) {
                    int64_t iv = storage_index(&s, 2, b, l, h, e);
                    st[iv] *= 0.5f; // v in [-1, 1] (exact in bf16 too)
                    if (l < case_len(c, lens, b)) continue;
                    for (int t = 0; t < 3; t++) st[storage_index(&s, t, b, l, h, e)] = NAN;
                    dout[((b * c->L + l) * c->H + h) * c->hd + e] = NAN;
                }
    AttentionShape sh = {c->B, c->L, c->H, c->hd, c->causal, 0.0f, c->lens ? lens : NULL,
                         s.view, s.view, s.view, DTYPE_F32, NULL};

    // CPU spec
    if (attention_fwd_cpu(out_ref, lse_ref, st + s.off[0], st + s.off[1], st + s.off[2], &sh)) {
        gc_report(0, "%s: CPU forward: %s", what, ls_error_message());
        goto done;
    }
    for (int64_t i = 0; i < n; i++) outin[i] = bf ? bf16_round(out_ref[i]) : out_ref[i];
    memcpy(g_ref, g0, (size_t)s.n_storage * 4);
    if (attention_bwd_cpu(c->skip ? NULL : g_ref + s.off[0], g_ref + s.off[1],
                          c->skip ? NULL : g_ref + s.off[2], dout, st + s.off[0], st + s.off[1],
                          st + s.off[2], outin, lse_ref, &sh)) {
        gc_report(0, "%s: CPU backward: %s", what, ls_error_message());
        goto done;
    }

    // device buffers
    const size_t es = dtype_size(dt);
    int status = gc_buf_alloc(&d.qkv, (size_t)s.n_storage * es);
    if (!status) status = gc_buf_alloc(&d.out, (size_t)n * es);
    if (!status) status = gc_buf_alloc(&d.lse, (size_t)nl * 4);
    if (!status) status = gc_buf_alloc(&d.dout, (size_t)n * es);
    if (!status) status = gc_buf_alloc(&d.outin, (size_t)n * es);
    if (!status) status = gc_buf_alloc(&d.grad, (size_t)s.n_storage * es);
    if (!status && c->lens) status = gc_buf_alloc(&d.lens, (size_t)c->B * 8);
    if (!status) status = gc_buf_upload(&d.qkv, st, s.n_storage, dt);
    if (!status) status = gc_buf_upload(&d.dout, dout, n, dt);
    if (!status) status = gc_buf_upload(&d.outin, outin, n, dt);
    if (!status && c->lens)
        status = device_cuda_copy(d.lens.ptr, lens, (size_t)c->B * 8, DEVICE_COPY_H2D);
    if (status) {
        gc_report(0, "%s: device setup: %s", what, ls_error_message());
        goto done;
    }
    AttentionShape gs = sh;
    gs.dtype = dt;
    gs.lengths = c->lens ? (const int64_t *)d.lens.ptr : NULL;
    char *qkv = (char *)d.qkv.ptr, *grad = (char *)d.grad.ptr;
    const float *q_ = (const float *)(qkv + s.off[0] * es);
    const float *k_ = (const float *)(qkv + s.off[1] * es);
    const float *v_ = (const float *)(qkv + s.off[2] * es);

    // forward
    status = attention_fwd_cuda((float *)d.out.ptr, (float *)d.lse.ptr, q_, k_, v_, &gs);
    if (!status) status = device_cuda_sync();
    if (!status) status = gc_buf_download(got, &d.out, n, dt);
    if (status) {
        gc_report(0, "%s: forward: %s", what, ls_error_message());
        goto done;
    }
    ok = attn_close(got, out_ref, n, dt, why, sizeof why);
    gc_report(ok, "%s: out: %s", what, why);
    if (!gc_buf_download(got, &d.lse, nl, DTYPE_F32)) {
        ok = attn_close(got, lse_ref, nl, dt, why, sizeof why);
        gc_report(ok, "%s: lse: %s", what, why);
    }

    // backward, twice from the same inputs (the CPU's out and lse, as the CPU backward got)
    if (gc_buf_upload(&d.lse, lse_ref, nl, DTYPE_F32)) {
        gc_report(0, "%s: upload: %s", what, ls_error_message());
        goto done;
    }
    for (int run = 0; run < 2; run++) {
        status = gc_buf_upload(&d.grad, g0, s.n_storage, dt);
        if (!status)
            status = attention_bwd_cuda(
                c->skip ? NULL : (float *)(grad + s.off[0] * es), (float *)(grad + s.off[1] * es),
                c->skip ? NULL : (float *)(grad + s.off[2] * es), (const float *)d.dout.ptr, q_,
                k_, v_, (const float *)d.outin.ptr, (const float *)d.lse.ptr, &gs);
        if (!status) status = device_cuda_sync();
        if (!status)
            status = device_cuda_copy(run ? bytes2 : bytes1, grad, (size_t)s.n_storage * es,
                                      DEVICE_COPY_D2H);
        if (status) {
            gc_report(0, "%s: backward: %s", what, ls_error_message());
            goto done;
        }
        if (run == 0) {
            gc_buf_download(got, &d.grad, s.n_storage, dt);
            static const char *names[3] = {"dq", "dk", "dv"};
            for (int t = 0; t < 3; t++) {
                gather(ta, got, &s, t, c);
                gather(tb, g_ref, &s, t, c);
                ok = attn_close(ta, tb, n, dt, why, sizeof why);
                gc_report(ok, "%s: %s: %s", what, names[t], why);
            }
        }
    }
    ok = memcmp(bytes1, bytes2, (size_t)s.n_storage * es) == 0;
    gc_report(ok, "%s: backward twice gives identical bytes", what);
    ok = guards(&d, why, sizeof why) == 0;
    gc_report(ok, "%s: sentinels intact%s%s", what, ok ? "" : ": ", ok ? "" : why);
done:
    attn_dev_free(&d);
    free(st), free(dout), free(g0), free(out_ref), free(lse_ref), free(g_ref), free(got);
    free(outin), free(ta), free(tb), free(bytes1), free(bytes2);
}

// ----------------------------------------------------------------------------- RoPE

static void run_rope(int64_t B, int64_t L, int H, int hd, int rot_dim, int64_t pos0, DType dt,
                     uint64_t salt) {
    const int bf = dt == DTYPE_BF16;
    char what[160], why[300];
    snprintf(what, sizeof what, "rope %s B=%lld L=%lld H=%d hd=%d rot=%d pos0=%lld packed",
             dtype_name(dt), (long long)B, (long long)L, H, hd, rot_dim, (long long)pos0);
    GcRng rng = gc_rng(salt);
    const int64_t n = B * L * H * hd, off = (int64_t)H * hd; // x = the k part of packed qkv
    float *st = gc_host(3 * n), *dout = gc_host(n), *g0 = gc_host(3 * n);
    float *ref = gc_host(3 * n), *got = gc_host(3 * n);
    GcBuf dx = {0}, dst = {0}, dd = {0}, dout_b = {0};
    if (!st || !dout || !g0 || !ref || !got) {
        gc_report(0, "%s: host allocation failed", what);
        goto done;
    }
    gc_fill(&rng, st, 3 * n, -2.0f, 2.0f, bf);
    gc_fill(&rng, dout, n, -1.0f, 1.0f, bf);
    gc_fill(&rng, g0, 3 * n, -1.0f, 1.0f, bf);
    RopeShape rs = {B, L, H, hd, rot_dim, 10000.0f, pos0, attention_view_packed(L, 3, H, hd),
                    DTYPE_F32, NULL};
    if (attention_rope_fwd_cpu(ref, st + off, &rs)) {
        gc_report(0, "%s: CPU: %s", what, ls_error_message());
        goto done;
    }
    const size_t es = dtype_size(dt);
    int status = gc_buf_alloc(&dx, (size_t)3 * n * es);
    if (!status) status = gc_buf_alloc(&dst, (size_t)n * es);
    if (!status) status = gc_buf_alloc(&dd, (size_t)3 * n * es);
    if (!status) status = gc_buf_alloc(&dout_b, (size_t)n * es);
    if (!status) status = gc_buf_upload(&dx, st, 3 * n, dt);
    if (!status) status = gc_buf_upload(&dd, g0, 3 * n, dt);
    if (!status) status = gc_buf_upload(&dout_b, dout, n, dt);
    RopeShape gs = rs;
    gs.dtype = dt;
    if (!status)
        status = attention_rope_fwd_cuda((float *)dst.ptr,
                                         (const float *)((char *)dx.ptr + off * es), &gs);
    if (!status) status = device_cuda_sync();
    if (!status) status = gc_buf_download(got, &dst, n, dt);
    if (status) {
        gc_report(0, "%s: forward: %s", what, ls_error_message());
        goto done;
    }
    int ok = attn_close(got, ref, n, dt, why, sizeof why);
    gc_report(ok, "%s: forward: %s", what, why);

    memcpy(ref, g0, (size_t)3 * n * 4);
    if (attention_rope_bwd_cpu(ref + off, dout, &rs)) {
        gc_report(0, "%s: CPU backward: %s", what, ls_error_message());
        goto done;
    }
    status = attention_rope_bwd_cuda((float *)((char *)dd.ptr + off * es),
                                     (const float *)dout_b.ptr, &gs);
    if (!status) status = device_cuda_sync();
    if (!status) status = gc_buf_download(got, &dd, 3 * n, dt);
    if (status) {
        gc_report(0, "%s: backward: %s", what, ls_error_message());
        goto done;
    }
    ok = attn_close(got, ref, 3 * n, dt, why, sizeof why); // q and v parts must be untouched
    gc_report(ok, "%s: backward (+= through the view): %s", what, why);
    ok = !gc_buf_guards_ok(&dx, why, sizeof why) && !gc_buf_guards_ok(&dst, why, sizeof why) &&
         !gc_buf_guards_ok(&dd, why, sizeof why);
    gc_report(ok, "%s: sentinels intact%s%s", what, ok ? "" : ": ", ok ? "" : why);
done:
    gc_buf_free(&dx), gc_buf_free(&dst), gc_buf_free(&dd), gc_buf_free(&dout_b);
    free(st), free(dout), free(g0), free(ref), free(got);
}

// ----------------------------------------------------------------------------- argument checks

static void check_arguments(void) {
    AttentionShape s = {2, 64, 2, 48, 1, 0.0f, NULL, attention_view_contiguous(64, 2, 48),
                        attention_view_contiguous(64, 2, 48),
                        attention_view_contiguous(64, 2, 48), DTYPE_F32, NULL};
    int status = attention_cuda_supported(&s);
    gc_report(status == LS_ERR_UNSUPPORTED && strstr(ls_error_message(), "head dim 48"),
              "hd=48 is refused by name: %s", ls_error_message());
    s.hd = 64;
    s.q = s.k = s.v = attention_view_contiguous(64, 2, 64);
    gc_report(attention_cuda_supported(&s) == 0, "hd=64 fp32 is served");
    s.dtype = DTYPE_BF16;
    gc_report(attention_cuda_supported(&s) == 0, "hd=64 bf16 is served");
    s.q.pos = 130; /* rows not 16-byte aligned in bf16 */
    s.q.batch = 130 * 64;
    status = attention_cuda_supported(&s);
    gc_report(status == LS_ERR_UNSUPPORTED && strstr(ls_error_message(), "multiples of 8"),
              "bf16 view strides not multiples of 8 are refused: %s", ls_error_message());
    s.dtype = DTYPE_F32;
    gc_report(attention_cuda_supported(&s) == 0, "the same strides are served in fp32");
    s.q = s.k;
    s.k.head = 0;
    status = attention_fwd_cuda((float *)16, NULL, (float *)16, (float *)16, (float *)16, &s);
    gc_report(status == LS_ERR_USAGE && strstr(ls_error_message(), "view k"),
              "an overlapping view is refused before any launch: %s", ls_error_message());
    s.k = s.q;
    s.dtype = DTYPE_BF16;
    void *buf = NULL;
    status = device_cuda_alloc(&buf, 3 * 2 * 64 * 2 * 64 * 2 + 64, NULL);
    if (!status) {
        char *p = (char *)buf;
        status = attention_fwd_cuda((float *)(p + 2), NULL, (float *)p, (float *)p, (float *)p, &s);
        gc_report(status == LS_ERR_UNSUPPORTED && strstr(ls_error_message(), "aligned"),
                  "a misaligned bf16 pointer is refused: %s", ls_error_message());
        status = device_cuda_sync();
        gc_report(status == 0, "nothing was launched%s%s", status ? ": " : "",
                  status ? ls_error_message() : "");
        device_cuda_free(buf);
    }
    s.B = 0;
    gc_report(attention_fwd_cuda((float *)16, NULL, (float *)16, (float *)16, (float *)16, &s) ==
                  0,
              "B=0 is an empty call");
    RopeShape r = {1, 4, 2, 4, 3, 10000.0f, 0, attention_view_contiguous(4, 2, 4), DTYPE_F32,
                   NULL};
    status = attention_rope_fwd_cuda((float *)16, (float *)16, &r);
    gc_report(status == LS_ERR_USAGE && strstr(ls_error_message(), "rot_dim=3"),
              "RoPE: odd rot_dim refused: %s", ls_error_message());
}

// ----------------------------------------------------------------------------- suites

/* B, L, H, hd, causal, lens, layout, skip */
static const AttnCase small_cases[] = {
    {1, 1, 1, 32, 1, 0, LAYOUT_SEPARATE, 0}, {2, 3, 2, 64, 1, 1, LAYOUT_PACKED, 0},
    {3, 70, 2, 32, 0, 1, LAYOUT_PACKED, 0},  {2, 130, 1, 64, 1, 1, LAYOUT_BHLD, 0},
};

static const AttnCase cases[] = {
    {1, 1, 1, 32, 1, 0, LAYOUT_SEPARATE, 0},   {1, 1, 2, 64, 0, 0, LAYOUT_PACKED, 0},
    {2, 3, 2, 64, 1, 1, LAYOUT_PACKED, 0},     {2, 3, 1, 32, 0, 1, LAYOUT_SEPARATE, 0},
    {3, 127, 2, 32, 0, 1, LAYOUT_PACKED, 0},   {2, 127, 3, 64, 1, 0, LAYOUT_BHLD, 0},
    {5, 127, 2, 64, 1, 1, LAYOUT_PACKED, 0},   {4, 200, 2, 128, 1, 1, LAYOUT_PACKED, 0},
    {2, 129, 2, 128, 0, 0, LAYOUT_SEPARATE, 0}, {2, 300, 2, 64, 1, 1, LAYOUT_PACKED, 1},
    {1, 4097, 2, 64, 1, 0, LAYOUT_PACKED, 0},  {2, 4097, 1, 32, 0, 1, LAYOUT_SEPARATE, 0},
    {4, 1000, 2, 64, 0, 1, LAYOUT_BHLD, 0},
};

void gpu_parity_attention(void) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int t = 0; t < 2; t++)
            run_case(&cases[i], t ? DTYPE_BF16 : DTYPE_F32, 100 + 2 * i + t);
    for (int t = 0; t < 2; t++) {
        DType dt = t ? DTYPE_BF16 : DTYPE_F32;
        run_rope(2, 127, 3, 64, 64, 0, dt, 300 + t);
        run_rope(1, 4097, 2, 32, 16, 1000, dt, 310 + t);
        run_rope(3, 5, 2, 128, 128, 7, dt, 320 + t);
    }
}

void gpu_parity_attention_small(void) {
    check_arguments();
    for (size_t i = 0; i < sizeof small_cases / sizeof small_cases[0]; i++)
        for (int t = 0; t < 2; t++)
            run_case(&small_cases[i], t ? DTYPE_BF16 : DTYPE_F32, 200 + 2 * i + t);
    run_rope(2, 9, 2, 32, 32, 3, DTYPE_F32, 330);
    run_rope(2, 9, 2, 64, 16, 3, DTYPE_BF16, 331);
}
