/*
 * parity_scan.c — the CUDA selective scan (kernels/cuda/scan.cu) against its CPU specification
 * (kernels/cpu/scan.c): forward, backward and step, fp32 and bf16, on fresh random inputs.
 * Suites of tests/gpu/test_gpu.c: `scan` (every case) and `scan_short` (the small cases only,
 * for compute-sanitizer).
 *
 * Each case lays its tensors out the way a caller may: dense, or as views (u and z the two
 * halves of one (B, L, 2·D) in_proj buffer, B and C columns of one (B, L, R + 2·N) x_proj
 * buffer, likewise du/dz and dB/dC), optionally walking the sequence backwards (negative token
 * strides, the pointer at the last token). Host and device get the same layout; the CPU op runs
 * on the host copy (bf16 cases: on the bf16-rounded values the device sees), the CUDA op on
 * device buffers framed by sentinels, whose outputs are poisoned with NaN before each call.
 * Accumulated gradients start from random values on both sides (so `+=` is checked, and an
 * element the GPU never wrote still differs from the reference).
 *
 * Tolerance (elementwise, gc_close): |got − ref| ≤ atol + rtol·|ref| with
 *   rtol = 1e-5 for fp32 results (1e-4 when L ≥ 1,000,000), 2e-2 for bf16 outputs;
 *   atol = rtol · RMS(ref) of that tensor: an element that is small by cancellation (y = Σ C·h,
 *          a gradient summed over channels) gets the error scale of its tensor, not of itself.
 * fp32 buffers (states, checkpoints, dA, dD, ddelta_bias, dh0) keep the fp32 tolerance in bf16
 * cases too: the GPU does all arithmetic in fp32 on the same rounded inputs.
 * Determinism: the backward is run twice from the same starting gradients and must give the same
 * bytes. Streaming: two half-length calls chained through h_final → h0 (and dh0 → dh_final)
 * must equal one call. Step: token-by-token scan_step_cuda must give the forward's bits when the
 * forward runs as one chunk (short L).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/scan.h"
#include "tests/gpu/gpu_check.h"

enum {
    SC_Z = 1,
    SC_DSK = 2,
    SC_BIAS = 4,
    SC_H0 = 8,
    SC_DHF = 16,
    SC_NOSP = 32,
    SC_VIEW = 64, // u/z halves of xz, B/C columns of dbl (and their gradients likewise)
    SC_REV = 128, // negative token strides
    SC_RESET = 256, // packed sequences: random tokens (about 1 in 40) start a new one
    SC_ALL = SC_Z | SC_DSK | SC_BIAS | SC_H0 | SC_DHF,
};

typedef struct {
    int64_t B, L, D, N, chunk;
    int flags;
    DType dtype;
} ScanCase;

// ----------------------------------------------------------------------------- storage

// One host array (floats, bf16-rounded for bf16 storages) mirrored by one device buffer.
typedef struct {
    float *h;
    GcBuf dev;
    int64_t n;
    DType t; // element type on the device
} Store;

// A (B, L, w) view into a Store: element offset of (0, 0, 0) and strides.
typedef struct {
    int s;
    int64_t off, sb, sl;
} View;

enum { S_U, S_DELTA, S_Z, S_BC, S_B2, S_OUT, S_DOUT, S_DU, S_DDELTA, S_DZ, S_DBC, S_DB2, S_NSTORE };

typedef struct {
    ScanCase c;
    Store st[S_NSTORE];
    View u, delta, z, Bm, Cm, out, dout, du, ddelta, dz, dB, dC;
    // fp32 buffers: host and device
    float *A, *Dsk, *bias, *h0, *dhf, *dA, *dDsk, *dbias, *dh0;
    uint8_t *reset; // (B, L) in memory order, or NULL; walked as the activations are
    GcBuf greset;
    GcBuf gA, gDsk, gbias, gh0, gdhf, ghf, gckpt, gdA, gdDsk, gdbias, gdh0, gws;
    size_t ws_bytes;
} Prob;

static int store_init(Store *s, int64_t n, DType t) {
    memset(s, 0, sizeof *s);
    s->n = n, s->t = t;
    s->h = gc_host(n);
    if (!s->h) return ls_error(LS_ERR_NOMEM, "host buffer of %lld floats", (long long)n);
    return gc_buf_alloc(&s->dev, (size_t)(n > 0 ? n : 1) * dtype_size(t));
}

static void store_free(Store *s) {
    free(s->h);
    gc_buf_free(&s->dev);
}

// View of width w at column offset col in a storage of row width W, dense over (B, L);
// reversed: the pointer sits at token L−1 and the token stride is negative.
static View view_of(int s, int64_t L, int64_t W, int64_t col, int rev) {
    View v = {s, col, L * W, W};
    if (rev) v.off += (L - 1) * W, v.sl = -W;
    return v;
}

static const float *hview(const Prob *p, View v) { return p->st[v.s].h + v.off; }
static void *dview(const Prob *p, View v) {
    return (char *)p->st[v.s].dev.ptr + v.off * (int64_t)dtype_size(p->st[v.s].t);
}

static float *fp32_host(int64_t n, GcRng *r, float lo, float hi) {
    float *x = gc_host(n);
    if (x) gc_fill(r, x, n, lo, hi, 0);
    return x;
}

static void prob_free(Prob *p) {
    for (int i = 0; i < S_NSTORE; i++) store_free(&p->st[i]);
    float *hs[] = {p->A, p->Dsk, p->bias, p->h0, p->dhf, p->dA, p->dDsk, p->dbias, p->dh0};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) free(hs[i]);
    free(p->reset);
    gc_buf_free(&p->greset);
    GcBuf *gs[] = {&p->gA,   &p->gDsk, &p->gbias,  &p->gh0, &p->gdhf, &p->ghf,
                   &p->gckpt, &p->gdA, &p->gdDsk, &p->gdbias, &p->gdh0, &p->gws};
    for (size_t i = 0; i < sizeof gs / sizeof gs[0]; i++) gc_buf_free(gs[i]);
}

// Build the layout and random inputs of a case (starting values of the gradients included).
static int prob_init(Prob *p, const ScanCase *c, uint64_t salt) {
    memset(p, 0, sizeof *p);
    p->c = *c;
    const int64_t B = c->B, L = c->L, D = c->D, N = c->N, R = 3;
    const int view = c->flags & SC_VIEW, rev = (c->flags & SC_REV) != 0;
    const DType t = c->dtype;
    const int bf = t == DTYPE_BF16;
    int status = 0;
    // storages: activations in dtype
    const int64_t wx = view ? 2 * D : D, wbc = view ? R + 2 * N : N;
    int64_t sizes[S_NSTORE] = {B * L * wx, B * L * D, view ? 0 : B * L * D, B * L * wbc,
                               view ? 0 : B * L * N, B * L * D, B * L * D, B * L * wx, B * L * D,
                               view ? 0 : B * L * D, B * L * wbc, view ? 0 : B * L * N};
    for (int i = 0; i < S_NSTORE && !status; i++) status = store_init(&p->st[i], sizes[i], t);
    if (status) return status;
    p->u = view_of(S_U, L, wx, 0, rev);
    p->z = view ? view_of(S_U, L, wx, D, rev) : view_of(S_Z, L, D, 0, rev);
    p->delta = view_of(S_DELTA, L, D, 0, rev);
    p->Bm = view_of(S_BC, L, wbc, view ? R : 0, rev);
    p->Cm = view ? view_of(S_BC, L, wbc, R + N, rev) : view_of(S_B2, L, N, 0, rev);
    p->out = view_of(S_OUT, L, D, 0, rev);
    p->dout = view_of(S_DOUT, L, D, 0, rev);
    p->du = view_of(S_DU, L, wx, 0, rev);
    p->dz = view ? view_of(S_DU, L, wx, D, rev) : view_of(S_DZ, L, D, 0, rev);
    p->ddelta = view_of(S_DDELTA, L, D, 0, rev);
    p->dB = view_of(S_DBC, L, wbc, view ? R : 0, rev);
    p->dC = view ? view_of(S_DBC, L, wbc, R + N, rev) : view_of(S_DB2, L, N, 0, rev);

    GcRng r = gc_rng(salt);
    const int sp = !(c->flags & SC_NOSP);
    gc_fill(&r, p->st[S_U].h, sizes[S_U], -1, 1, bf); // u (and z, overwritten below in view)
    gc_fill(&r, p->st[S_DELTA].h, sizes[S_DELTA], sp ? -3 : 0.05f, sp ? 1 : 1, bf);
    if (!view) gc_fill(&r, p->st[S_Z].h, sizes[S_Z], -2, 2, bf);
    gc_fill(&r, p->st[S_BC].h, sizes[S_BC], -1, 1, bf);
    if (!view) gc_fill(&r, p->st[S_B2].h, sizes[S_B2], -1, 1, bf);
    gc_fill(&r, p->st[S_DOUT].h, sizes[S_DOUT], -1, 1, bf);
    for (int i = S_DU; i < S_NSTORE; i++) gc_fill(&r, p->st[i].h, sizes[i], -1, 1, bf);
    p->A = fp32_host(D * N, &r, -1, 1.5f);
    for (int64_t i = 0; p->A && i < D * N; i++) p->A[i] = -expf(p->A[i]); // [-4.5, -0.37]
    p->Dsk = fp32_host(D, &r, -1, 1);
    p->bias = sp ? fp32_host(D, &r, -1, 0.5f) : fp32_host(D, &r, 0, 0.2f);
    p->h0 = fp32_host(B * D * N, &r, -1, 1);
    p->dhf = fp32_host(B * D * N, &r, -1, 1);
    p->dA = fp32_host(D * N, &r, -1, 1);
    p->dDsk = fp32_host(D, &r, -1, 1);
    p->dbias = fp32_host(D, &r, -1, 1);
    p->dh0 = fp32_host(B * D * N, &r, -1, 1);
    if (!p->A || !p->Dsk || !p->bias || !p->h0 || !p->dhf || !p->dA || !p->dDsk || !p->dbias ||
        !p->dh0)
        return ls_error(LS_ERR_NOMEM, "host parameters");

    ScanArgs a;
    scan_args_init(&a, B, L, D, N);
    a.chunk = c->chunk;
    const int64_t nck = scan_ckpt_numel(&a);
    p->ws_bytes = scan_bwd_workspace_size_cuda(&a);
    struct {
        GcBuf *g;
        const float *h;
        int64_t n;
    } f32[] = {{&p->gA, p->A, D * N},       {&p->gDsk, p->Dsk, D},     {&p->gbias, p->bias, D},
               {&p->gh0, p->h0, B * D * N}, {&p->gdhf, p->dhf, B * D * N}, {&p->ghf, NULL, B * D * N},
               {&p->gckpt, NULL, nck},      {&p->gdA, NULL, D * N},    {&p->gdDsk, NULL, D},
               {&p->gdbias, NULL, D},       {&p->gdh0, NULL, B * D * N}};
    for (size_t i = 0; i < sizeof f32 / sizeof f32[0] && !status; i++) {
        status = gc_buf_alloc(f32[i].g, (size_t)f32[i].n * 4);
        if (!status && f32[i].h) status = gc_buf_upload(f32[i].g, f32[i].h, f32[i].n, DTYPE_F32);
    }
    if (!status) status = gc_buf_alloc(&p->gws, p->ws_bytes ? p->ws_bytes : 4);
    if (!status && (c->flags & SC_RESET)) {
        p->reset = calloc((size_t)(B * L), 1);
        if (!p->reset) return ls_error(LS_ERR_NOMEM, "host reset flags");
        for (int64_t i = 0; i < B * L; i++) p->reset[i] = gc_uniform(&r, 0, 1) < 0.025f;
        status = gc_buf_alloc(&p->greset, (size_t)(B * L));
        if (!status)
            status = device_cuda_copy(p->greset.ptr, p->reset, (size_t)(B * L), DEVICE_COPY_H2D);
    }
    for (int i = 0; i < S_NSTORE && !status; i++)
        status = gc_buf_upload(&p->st[i].dev, p->st[i].h, p->st[i].n, t);
    return status;
}

// ScanArgs over the host copy (dev = 0, fp32) or the device copy (dev = 1, the case's dtype).
static ScanArgs prob_args(Prob *p, int dev, int64_t L, int64_t t0) {
    const ScanCase *c = &p->c;
    ScanArgs a;
    scan_args_init(&a, c->B, L, c->D, c->N);
    a.chunk = c->chunk;
    a.delta_softplus = !(c->flags & SC_NOSP);
    a.dtype = dev ? c->dtype : DTYPE_F32;
    View *vs[] = {&p->u, &p->delta, &p->z, &p->Bm, &p->Cm, &p->out, &p->dout,
                  &p->du, &p->ddelta, &p->dz, &p->dB, &p->dC};
    const float *ptr[12];
    for (int i = 0; i < 12; i++) {
        View v = *vs[i];
        v.off += t0 * v.sl; // a later segment of the sequence starts t0 tokens on
        ptr[i] = dev ? (const float *)dview(p, v) : hview(p, v);
    }
    a.u = ptr[0], a.u_stride_b = p->u.sb, a.u_stride_l = p->u.sl;
    a.delta = ptr[1], a.delta_stride_b = p->delta.sb, a.delta_stride_l = p->delta.sl;
    if (c->flags & SC_Z) a.z = ptr[2], a.z_stride_b = p->z.sb, a.z_stride_l = p->z.sl;
    a.B_ssm = ptr[3], a.B_ssm_stride_b = p->Bm.sb, a.B_ssm_stride_l = p->Bm.sl;
    a.C_ssm = ptr[4], a.C_ssm_stride_b = p->Cm.sb, a.C_ssm_stride_l = p->Cm.sl;
    a.out = (float *)ptr[5], a.out_stride_b = p->out.sb, a.out_stride_l = p->out.sl;
    a.dout = ptr[6], a.dout_stride_b = p->dout.sb, a.dout_stride_l = p->dout.sl;
    a.du = (float *)ptr[7], a.du_stride_b = p->du.sb, a.du_stride_l = p->du.sl;
    a.ddelta = (float *)ptr[8], a.ddelta_stride_b = p->ddelta.sb, a.ddelta_stride_l = p->ddelta.sl;
    if (c->flags & SC_Z) a.dz = (float *)ptr[9], a.dz_stride_b = p->dz.sb, a.dz_stride_l = p->dz.sl;
    a.dB_ssm = (float *)ptr[10], a.dB_ssm_stride_b = p->dB.sb, a.dB_ssm_stride_l = p->dB.sl;
    a.dC_ssm = (float *)ptr[11], a.dC_ssm_stride_b = p->dC.sb, a.dC_ssm_stride_l = p->dC.sl;
    a.A = dev ? p->gA.ptr : p->A;
    if (c->flags & SC_DSK) {
        a.D_skip = dev ? p->gDsk.ptr : p->Dsk;
        a.dD_skip = dev ? p->gdDsk.ptr : p->dDsk;
    }
    if (c->flags & SC_BIAS) {
        a.delta_bias = dev ? p->gbias.ptr : p->bias;
        a.ddelta_bias = dev ? p->gdbias.ptr : p->dbias;
    }
    if (c->flags & SC_H0) a.h0 = dev ? p->gh0.ptr : p->h0;
    if (c->flags & SC_DHF) a.dh_final = dev ? p->gdhf.ptr : p->dhf;
    a.dA = dev ? p->gdA.ptr : p->dA;
    a.dh0 = dev ? p->gdh0.ptr : p->dh0;
    if (c->flags & SC_RESET) { // walked like the activations (reversed views: from the end)
        const int rev = (c->flags & SC_REV) != 0;
        const int64_t off = (rev ? c->L - 1 - t0 : t0);
        a.reset = (dev ? (const uint8_t *)p->greset.ptr : p->reset) + off;
        a.reset_stride_b = c->L, a.reset_stride_l = rev ? -1 : 1;
    }
    return a;
}

// ----------------------------------------------------------------------------- comparisons

static double rms(const float *x, int64_t n) {
    double s = 0;
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(x[i])) s += (double)x[i] * x[i], k++;
    return k ? sqrt(s / k) : 0.0;
}

static GcTol tol_for(double rtol, const float *ref, int64_t n) {
    double r = rms(ref, n);
    GcTol t = {rtol * (r > 0 ? r : 1.0), rtol, 0};
    return t;
}

static double rtol_f32(const ScanCase *c) { return c->L >= 1000000 ? 1e-4 : 1e-5; }

// got (device, type t) against ref (host floats); one TAP line.
static int expect_close(const char *what, const char *name, const GcBuf *g, DType t,
                        const float *ref, int64_t n, double rtol) {
    float *got = gc_host(n);
    char why[256];
    int ok = got && gc_buf_download(got, g, n, t) == 0;
    if (ok) ok = gc_close(got, ref, n, tol_for(rtol, ref, n), why, sizeof why);
    else snprintf(why, sizeof why, "download: %s", ls_error_message());
    if (ok && gc_buf_guards_ok(g, why, sizeof why)) ok = 0;
    gc_report(ok, "%s: %s (%s)", what, name, why);
    free(got);
    return ok;
}

static void describe(char *buf, size_t size, const char *dir, const ScanCase *c) {
    snprintf(buf, size, "scan %s %s B=%lld L=%lld D=%lld N=%lld chunk=%lld%s%s%s%s%s%s%s%s%s", dir,
             dtype_name(c->dtype), (long long)c->B, (long long)c->L, (long long)c->D,
             (long long)c->N, (long long)c->chunk, c->flags & SC_Z ? " z" : "",
             c->flags & SC_DSK ? " D" : "", c->flags & SC_BIAS ? " bias" : "",
             c->flags & SC_H0 ? " h0" : "", c->flags & SC_DHF ? " dh_final" : "",
             c->flags & SC_NOSP ? " no-softplus" : "", c->flags & SC_VIEW ? " views" : "",
             c->flags & SC_REV ? " reversed" : "", c->flags & SC_RESET ? " packed" : "");
}

// ----------------------------------------------------------------------------- one case

static void run_case(const ScanCase *c, uint64_t salt) {
    char what[256];
    describe(what, sizeof what, "fwd", c);
    Prob p;
    int status = prob_init(&p, c, salt);
    if (status) {
        gc_report(0, "%s: setup: %s", what, ls_error_message());
        prob_free(&p);
        return;
    }
    const int64_t B = c->B, L = c->L, D = c->D, N = c->N;
    const double rt = c->dtype == DTYPE_BF16 ? 2e-2 : rtol_f32(c), rs = rtol_f32(c);
    ScanArgs ha = prob_args(&p, 0, L, 0), ga = prob_args(&p, 1, L, 0);
    const int64_t nck = scan_ckpt_numel(&ha);
    float *hf = gc_host(B * D * N), *ck = gc_host(nck), *ws = NULL;
    ha.h_final = hf, ha.ckpt = ck;
    ga.h_final = p.ghf.ptr, ga.ckpt = p.gckpt.ptr;

    // ---- forward
    status = scan_fwd_cpu(&ha);
    if (status) {
        gc_report(0, "%s: CPU reference failed: %s", what, ls_error_message());
        goto done;
    }
    if (gc_buf_poison(&p.st[S_OUT].dev) || gc_buf_poison(&p.ghf) || gc_buf_poison(&p.gckpt) ||
        (status = scan_fwd_cuda(&ga)) || (status = device_cuda_sync())) {
        gc_report(0, "%s: %s", what, ls_error_message());
        goto done;
    }
    expect_close(what, "out", &p.st[S_OUT].dev, c->dtype, p.st[S_OUT].h, p.st[S_OUT].n, rt);
    expect_close(what, "h_final", &p.ghf, DTYPE_F32, hf, B * D * N, rs);
    expect_close(what, "ckpt", &p.gckpt, DTYPE_F32, ck, nck, rs);

    // ---- backward (from the starting gradient values each side holds)
    describe(what, sizeof what, "bwd", c);
    ha.out = NULL, ga.out = NULL;
    ha.h_final = ga.h_final = NULL;
    ha.workspace_bytes = scan_bwd_workspace_size_cpu(&ha);
    ws = malloc(ha.workspace_bytes ? ha.workspace_bytes : 1);
    ha.workspace = ws;
    ga.workspace = p.gws.ptr, ga.workspace_bytes = p.ws_bytes;
    const int gi[] = {S_DU, S_DDELTA, S_DZ, S_DBC, S_DB2};
    if (gc_buf_upload(&p.gdA, p.dA, D * N, DTYPE_F32) ||
        gc_buf_upload(&p.gdDsk, p.dDsk, D, DTYPE_F32) ||
        gc_buf_upload(&p.gdbias, p.dbias, D, DTYPE_F32) ||
        gc_buf_upload(&p.gdh0, p.dh0, B * D * N, DTYPE_F32)) {
        gc_report(0, "%s: upload: %s", what, ls_error_message());
        goto done;
    }
    if (!ws || (status = scan_bwd_cpu(&ha))) {
        gc_report(0, "%s: CPU reference failed: %s", what, ws ? ls_error_message() : "no memory");
        goto done;
    }
    if (gc_buf_poison(&p.gws) || (status = scan_bwd_cuda(&ga)) || (status = device_cuda_sync())) {
        gc_report(0, "%s: %s", what, ls_error_message());
        goto done;
    }
    static const char *gname[] = {"du (+dz half)", "ddelta", "dz", "dB (+dC columns)", "dC"};
    for (int i = 0; i < 5; i++) {
        const Store *s = &p.st[gi[i]];
        if (s->n == 0 || (gi[i] == S_DZ && !(c->flags & SC_Z))) continue;
        expect_close(what, gname[i], &s->dev, c->dtype, s->h, s->n, rt);
    }
    expect_close(what, "dA", &p.gdA, DTYPE_F32, p.dA, D * N, rs);
    if (c->flags & SC_DSK) expect_close(what, "dD", &p.gdDsk, DTYPE_F32, p.dDsk, D, rs);
    if (c->flags & SC_BIAS) expect_close(what, "ddelta_bias", &p.gdbias, DTYPE_F32, p.dbias, D, rs);
    expect_close(what, "dh0", &p.gdh0, DTYPE_F32, p.dh0, B * D * N, rs);

    // ---- determinism: the same call again from the same starting values, the same bytes
    {
        size_t total = 0;
        GcBuf *outs[] = {&p.st[S_DU].dev, &p.st[S_DDELTA].dev, &p.st[S_DZ].dev, &p.st[S_DBC].dev,
                         &p.st[S_DB2].dev, &p.gdA, &p.gdDsk, &p.gdbias, &p.gdh0};
        for (size_t i = 0; i < 9; i++) total += outs[i]->bytes;
        unsigned char *first = malloc(total ? total : 1), *second = malloc(total ? total : 1);
        int ok = first && second;
        for (int round = 0; ok && round < 2; round++) {
            // restore the starting gradients (the CPU copies were overwritten: re-draw them)
            GcRng r = gc_rng(salt + 7);
            for (int i = S_DU; ok && i < S_NSTORE; i++) {
                gc_fill(&r, p.st[i].h, p.st[i].n, -1, 1, c->dtype == DTYPE_BF16);
                ok = gc_buf_upload(&p.st[i].dev, p.st[i].h, p.st[i].n, c->dtype) == 0;
            }
            float *zeros = calloc((size_t)(B * D * N + D * N + 2 * D), sizeof(float));
            ok = ok && zeros && !gc_buf_upload(&p.gdA, zeros, D * N, DTYPE_F32) &&
                 !gc_buf_upload(&p.gdDsk, zeros, D, DTYPE_F32) &&
                 !gc_buf_upload(&p.gdbias, zeros, D, DTYPE_F32) &&
                 !gc_buf_upload(&p.gdh0, zeros, B * D * N, DTYPE_F32) && !gc_buf_poison(&p.gws) &&
                 !scan_bwd_cuda(&ga) && !device_cuda_sync();
            free(zeros);
            size_t at = 0;
            for (size_t i = 0; ok && i < 9; i++) {
                ok = device_cuda_copy((round ? second : first) + at, outs[i]->ptr, outs[i]->bytes,
                                      DEVICE_COPY_D2H) == 0;
                at += outs[i]->bytes;
            }
        }
        gc_report(ok && memcmp(first, second, total) == 0,
                  "%s: backward twice gives identical bytes (%zu bytes)%s", what, total,
                  ok ? "" : ls_error_message());
        free(first);
        free(second);
    }

done:
    free(hf);
    free(ck);
    free(ws);
    prob_free(&p);
}

// ----------------------------------------------------------------------------- streaming

/*
 * Two halves chained (forward: h_final of the first is h0 of the second, in place; backward:
 * the second half's dh0 is the first half's dh_final) against one call over the whole length,
 * all on the GPU.
 */
static void run_chain(const ScanCase *c, uint64_t salt) {
    char what[256];
    describe(what, sizeof what, "chained halves", c);
    Prob p;
    int status = prob_init(&p, c, salt);
    const int64_t B = c->B, L = c->L, D = c->D, N = c->N, L1 = L / 2;
    const int64_t nDN = B * D * N;
    const double rt = c->dtype == DTYPE_BF16 ? 2e-2 : rtol_f32(c);
    float *out_one = gc_host(p.st[S_OUT].n), *hf_one = gc_host(nDN), *hf_two = gc_host(nDN);
    GcBuf state = {0}, ck1 = {0}, ck2 = {0}, ws2 = {0};
    if (status || !out_one || !hf_one || !hf_two) goto fail;
    // one call
    ScanArgs one = prob_args(&p, 1, L, 0);
    one.h_final = p.ghf.ptr;
    if ((status = scan_fwd_cuda(&one)) || (status = device_cuda_sync()) ||
        (status = gc_buf_download(out_one, &p.st[S_OUT].dev, p.st[S_OUT].n, c->dtype)) ||
        (status = gc_buf_download(hf_one, &p.ghf, nDN, DTYPE_F32)))
        goto fail;
    // two halves, the state carried in place (h_final == h0)
    if ((status = gc_buf_alloc(&state, (size_t)nDN * 4)) ||
        (status = device_cuda_copy(state.ptr, p.gh0.ptr, (size_t)nDN * 4, DEVICE_COPY_D2D)) ||
        (status = gc_buf_poison(&p.st[S_OUT].dev)))
        goto fail;
    for (int half = 0; half < 2; half++) {
        ScanArgs a = prob_args(&p, 1, half ? L - L1 : L1, half ? L1 : 0);
        a.h0 = state.ptr, a.h_final = state.ptr;
        if ((status = scan_fwd_cuda(&a))) goto fail;
    }
    if ((status = device_cuda_sync()) || (status = gc_buf_download(hf_two, &state, nDN, DTYPE_F32)))
        goto fail;
    expect_close(what, "out of two halves vs one call", &p.st[S_OUT].dev, c->dtype, out_one,
                 p.st[S_OUT].n, rt);
    {
        char why[256];
        int ok = gc_close(hf_two, hf_one, nDN, tol_for(rtol_f32(c), hf_one, nDN), why, sizeof why);
        gc_report(ok, "%s: h_final of two halves (in place) vs one call (%s)", what, why);
    }

    // backward: one call vs halves (second half first), from zeroed gradients each time
    {
        ScanArgs a1 = prob_args(&p, 1, L1, 0), a2 = prob_args(&p, 1, L - L1, L1);
        ScanArgs full = prob_args(&p, 1, L, 0);
        full.out = a1.out = a2.out = NULL;
        int64_t nst = 0;
        for (int i = S_DU; i < S_NSTORE; i++) nst += p.st[i].n;
        float *zeros = calloc((size_t)(nst + nDN + D * N + 2 * D + 1), sizeof(float));
        float *ref[S_NSTORE] = {0}, *refA = gc_host(D * N), *refh = gc_host(nDN);
        status = zeros && refA && refh ? 0 : LS_ERR_NOMEM;
        // full call
        full.ckpt = p.gckpt.ptr;
        full.workspace = p.gws.ptr, full.workspace_bytes = p.ws_bytes;
        for (int i = S_DU; !status && i < S_NSTORE; i++)
            status = gc_buf_upload(&p.st[i].dev, zeros, p.st[i].n, c->dtype);
        if (!status) status = gc_buf_upload(&p.gdA, zeros, D * N, DTYPE_F32);
        if (!status) status = gc_buf_upload(&p.gdh0, zeros, nDN, DTYPE_F32);
        if (!status) status = gc_buf_upload(&p.gdDsk, zeros, D, DTYPE_F32);
        if (!status) status = gc_buf_upload(&p.gdbias, zeros, D, DTYPE_F32);
        if (!status) {
            ScanArgs f = prob_args(&p, 1, L, 0);
            f.ckpt = p.gckpt.ptr;
            status = scan_fwd_cuda(&f);
        }
        if (!status) status = scan_bwd_cuda(&full);
        if (!status) status = device_cuda_sync();
        for (int i = S_DU; !status && i < S_NSTORE; i++) {
            ref[i] = gc_host(p.st[i].n);
            status = ref[i] ? gc_buf_download(ref[i], &p.st[i].dev, p.st[i].n, c->dtype)
                            : LS_ERR_NOMEM;
        }
        if (!status) status = gc_buf_download(refA, &p.gdA, D * N, DTYPE_F32);
        if (!status) status = gc_buf_download(refh, &p.gdh0, nDN, DTYPE_F32);
        // halves: forward of each half for its checkpoints (first half from h0, second from the
        // first's h_final), then backward second half (dh_final) → dh0 → first half
        ScanArgs f1 = prob_args(&p, 1, L1, 0), f2 = prob_args(&p, 1, L - L1, L1);
        a1.workspace_bytes = scan_bwd_workspace_size_cuda(&a1);
        a2.workspace_bytes = scan_bwd_workspace_size_cuda(&a2);
        if (!status) status = gc_buf_alloc(&ck1, (size_t)scan_ckpt_numel(&f1) * 4);
        if (!status) status = gc_buf_alloc(&ck2, (size_t)scan_ckpt_numel(&f2) * 4);
        if (!status) status = gc_buf_alloc(&ws2, a2.workspace_bytes + a1.workspace_bytes + 4);
        if (!status) {
            f1.ckpt = ck1.ptr, f1.h_final = state.ptr;
            f2.ckpt = ck2.ptr, f2.h0 = state.ptr;
            status = scan_fwd_cuda(&f1);
        }
        if (!status) status = scan_fwd_cuda(&f2);
        for (int i = S_DU; !status && i < S_NSTORE; i++)
            status = gc_buf_upload(&p.st[i].dev, zeros, p.st[i].n, c->dtype);
        if (!status) status = gc_buf_upload(&p.gdA, zeros, D * N, DTYPE_F32);
        if (!status) status = gc_buf_upload(&p.gdDsk, zeros, D, DTYPE_F32);
        if (!status) status = gc_buf_upload(&p.gdbias, zeros, D, DTYPE_F32);
        if (!status) status = gc_buf_upload(&p.gdh0, zeros, nDN, DTYPE_F32);
        if (!status) {
            a2.ckpt = ck2.ptr, a2.h0 = state.ptr;
            a2.dh0 = p.gws.ptr; // the carried state gradient (nDN floats), then a1's dh_final
            a2.workspace = ws2.ptr;
            status = device_cuda_memset(p.gws.ptr, 0, (size_t)nDN * 4);
        }
        if (!status) status = scan_bwd_cuda(&a2);
        if (!status) {
            a1.ckpt = ck1.ptr;
            a1.dh_final = p.gws.ptr;
            a1.workspace = ws2.ptr;
            status = scan_bwd_cuda(&a1);
        }
        if (!status) status = device_cuda_sync();
        describe(what, sizeof what, "bwd chained halves", c);
        if (status) {
            gc_report(0, "%s: %s", what, ls_error_message());
        } else {
            for (int i = S_DU; i < S_NSTORE; i++)
                if (p.st[i].n && ref[i])
                    expect_close(what, "per-token gradient storage", &p.st[i].dev, c->dtype,
                                 ref[i], p.st[i].n, rt);
            expect_close(what, "dA", &p.gdA, DTYPE_F32, refA, D * N, rtol_f32(c));
            expect_close(what, "dh0", &p.gdh0, DTYPE_F32, refh, nDN, rtol_f32(c));
        }
        for (int i = 0; i < S_NSTORE; i++) free(ref[i]);
        free(refA);
        free(refh);
        free(zeros);
    }
    goto done;
fail:
    gc_report(0, "%s: %s", what, ls_error_message());
done:
    gc_buf_free(&state);
    gc_buf_free(&ck1);
    gc_buf_free(&ck2);
    gc_buf_free(&ws2);
    free(out_one);
    free(hf_one);
    free(hf_two);
    prob_free(&p);
}

// ----------------------------------------------------------------------------- step

// scan_step_cuda token by token against scan_fwd_cuda over the same tokens (one chunk: bits).
static void run_step(const ScanCase *c, uint64_t salt) {
    char what[256];
    describe(what, sizeof what, "step x L vs fwd", c);
    Prob p;
    int status = prob_init(&p, c, salt);
    const int64_t B = c->B, L = c->L, D = c->D, N = c->N, nDN = B * D * N;
    float *fwd_out = gc_host(p.st[S_OUT].n), *fwd_h = gc_host(nDN);
    float *step_out = gc_host(p.st[S_OUT].n), *step_h = gc_host(nDN);
    GcBuf state = {0};
    if (status || !fwd_out || !fwd_h || !step_out || !step_h) goto fail;
    ScanArgs f = prob_args(&p, 1, L, 0);
    f.h_final = p.ghf.ptr;
    if ((status = scan_fwd_cuda(&f)) || (status = device_cuda_sync()) ||
        (status = gc_buf_download(fwd_out, &p.st[S_OUT].dev, p.st[S_OUT].n, c->dtype)) ||
        (status = gc_buf_download(fwd_h, &p.ghf, nDN, DTYPE_F32)))
        goto fail;
    if ((status = gc_buf_alloc(&state, (size_t)nDN * 4)) ||
        (status = device_cuda_copy(state.ptr, p.gh0.ptr, (size_t)nDN * 4, DEVICE_COPY_D2D)) ||
        (status = gc_buf_poison(&p.st[S_OUT].dev)))
        goto fail;
    for (int64_t t = 0; t < L; t++) {
        ScanArgs a = prob_args(&p, 1, 1, t);
        a.h0 = NULL, a.dh_final = NULL;
        a.state = state.ptr;
        if ((status = scan_step_cuda(&a))) goto fail;
    }
    if ((status = device_cuda_sync()) ||
        (status = gc_buf_download(step_out, &p.st[S_OUT].dev, p.st[S_OUT].n, c->dtype)) ||
        (status = gc_buf_download(step_h, &state, nDN, DTYPE_F32)))
        goto fail;
    {
        const int same = !memcmp(fwd_out, step_out, (size_t)p.st[S_OUT].n * 4) &&
                         !memcmp(fwd_h, step_h, (size_t)nDN * 4);
        char why[256] = "";
        int64_t bad = -1;
        for (int64_t i = 0; bad < 0 && i < p.st[S_OUT].n; i++)
            if (memcmp(&fwd_out[i], &step_out[i], 4)) bad = i;
        if (bad >= 0)
            snprintf(why, sizeof why, ": out[%lld] %.9g vs %.9g", (long long)bad, step_out[bad],
                     fwd_out[bad]);
        gc_report(same, "%s: outputs and final state bit-identical%s", what, why);
    }
    goto done;
fail:
    gc_report(0, "%s: %s", what, ls_error_message());
done:
    gc_buf_free(&state);
    free(fwd_out);
    free(fwd_h);
    free(step_out);
    free(step_h);
    prob_free(&p);
}

// ----------------------------------------------------------------------------- refusals

static void run_refusals(void) {
    ScanArgs a;
    scan_args_init(&a, 1, 256, 32, 16);
    float dummy[4] = {0};
    a.u = a.delta = a.B_ssm = a.C_ssm = a.A = a.dout = dummy;
    a.out = a.du = a.ddelta = a.dB_ssm = a.dC_ssm = a.dA = a.ckpt = dummy;
    a.dtype = DTYPE_BF16;
    int rc = scan_fwd_cpu(&a);
    gc_report(rc == LS_ERR_UNSUPPORTED && strstr(ls_error_message(), "bf16"),
              "scan_fwd_cpu refuses bf16 with one clear error: %s", ls_error_message());
    a.dtype = DTYPE_F32;
    a.chunk = 100;
    a.out = NULL;
    rc = scan_cuda_supported(&a, SCAN_OP_BWD);
    gc_report(rc == LS_ERR_UNSUPPORTED && strstr(ls_error_message(), "chunk = 100"),
              "scan_bwd_cuda refuses chunk = 100 naming it: %s", ls_error_message());
    a.chunk = 128;
    a.workspace = dummy, a.workspace_bytes = 4;
    rc = scan_bwd_cuda(&a);
    gc_report(rc == LS_ERR_USAGE && strstr(ls_error_message(), "workspace"),
              "scan_bwd_cuda refuses a workspace that is too small: %s", ls_error_message());
}

// ----------------------------------------------------------------------------- suites

static const ScanCase short_cases[] = {
    {2, 1, 40, 16, 128, SC_ALL, DTYPE_F32},
    {1, 3, 33, 1, 128, SC_Z | SC_DSK | SC_BIAS, DTYPE_F32},
    {2, 127, 70, 16, 128, SC_ALL | SC_VIEW, DTYPE_F32},
    {1, 500, 20, 3, 64, SC_ALL | SC_REV, DTYPE_F32},
    {1, 4097, 40, 16, 32, SC_NOSP | SC_DHF | SC_H0, DTYPE_F32},
    {2, 4097, 50, 16, 128, SC_ALL | SC_VIEW, DTYPE_BF16},
    {1, 2000, 64, 16, 256, SC_ALL | SC_REV, DTYPE_F32},
    {2, 500, 40, 16, 64, SC_ALL | SC_RESET, DTYPE_F32},
    {1, 700, 33, 16, 128, SC_ALL | SC_REV | SC_RESET, DTYPE_F32},
    {2, 4097, 50, 16, 128, SC_ALL | SC_VIEW | SC_RESET, DTYPE_BF16},
};

static const ScanCase long_cases[] = {
    {1, 4097, 96, 64, 64, SC_ALL | SC_REV, DTYPE_F32},
    {1, 4097, 48, 64, 128, SC_ALL | SC_VIEW, DTYPE_BF16},
    {1, 65537, 1024, 16, 128, SC_ALL | SC_VIEW, DTYPE_F32},
    {1, 65537, 1024, 16, 128, SC_ALL, DTYPE_BF16},
    {1, 1000003, 24, 16, 128, SC_ALL | SC_REV, DTYPE_F32},
    {1, 1000003, 24, 16, 128, SC_ALL | SC_VIEW, DTYPE_BF16},
    {1, 65537, 1024, 16, 128, SC_ALL | SC_RESET, DTYPE_F32},
};

static const ScanCase chain_cases[] = {
    {2, 3001, 40, 16, 128, SC_ALL | SC_VIEW | SC_RESET, DTYPE_F32},
    {1, 1000003, 24, 16, 128, SC_ALL, DTYPE_F32},
};

static const ScanCase step_case = {2, 50, 40, 16, 128, SC_ALL | SC_VIEW, DTYPE_F32};
static const ScanCase step_case_bf16 = {1, 20, 33, 16, 128, SC_ALL, DTYPE_BF16};

void gpu_parity_scan_short(void) {
    run_refusals();
    for (size_t i = 0; i < sizeof short_cases / sizeof short_cases[0]; i++)
        run_case(&short_cases[i], 100 + i);
    run_chain(&chain_cases[0], 300);
    run_step(&step_case, 400);
    run_step(&step_case_bf16, 401);
}

void gpu_parity_scan(void) {
    gpu_parity_scan_short();
    for (size_t i = 0; i < sizeof long_cases / sizeof long_cases[0]; i++)
        run_case(&long_cases[i], 200 + i);
    run_chain(&chain_cases[1], 301);
}
