/*
 * test_scan.c — the CPU selective scan (kernels/scan.h) against a plain double-precision
 * reference written here (not calling the kernel), its gradients against central finite
 * differences of that reference in double, and its contracts: step ≡ forward, streaming ≡ one
 * pass (forward and backward), views and negative strides, thread-count independence,
 * accumulation, invalid arguments.
 *
 * Inputs are random from a seed printed as a TAP comment; LS_TEST_SEED=<n> replays a run.
 * Tolerances (stated with each check):
 *   forward   |out − ref| <= 1e-5 + 1e-4·|ref|  (fp32 recurrence vs double; seen: <= 1/50 of it)
 *   backward  |g − fd| <= 1e-4 · max(1, |fd|)    (fd: central differences in double, h = 1e-6;
 *                                                 seen: <= 3e-7)
 *   exp, softplus, SiLU  relative error <= 2e-7, 3e-7, 3e-7 (the kernel's own elementary
 *             functions vs libm in double)
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kernels/scan.h"
#include "tests/float_check.h"

// ---------------------------------------------------------------------------------------------
// random numbers (splitmix64), seed printed by main

static uint64_t rng_state;

static uint64_t rng_next(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Uniform in [lo, hi), rounded to float so that kernel and reference see the same value.
static double rng_unif(double lo, double hi) {
    double x = lo + (hi - lo) * (double)(rng_next() >> 11) * 0x1.0p-53;
    return (double)(float)x;
}

// ---------------------------------------------------------------------------------------------
// a problem: dense double inputs

enum {
    HAS_Z = 1,
    HAS_D = 2,
    HAS_BIAS = 4,
    HAS_H0 = 8,
    NO_SOFTPLUS = 16,
    HAS_DHF = 32, // the loss also has a term Σ wh·h_final (tests dh_final)
    HAS_RESET = 64, // packed sequences: random tokens (about 1 in 5, t = 0 too) start a new one
    ALL = HAS_Z | HAS_D | HAS_BIAS | HAS_H0 | HAS_DHF,
};

typedef struct {
    int64_t B, L, D, N, chunk;
    int flags;
    double *u, *delta, *z, *Bm, *Cm; // (B, L, D) ×3, (B, L, N) ×2
    double *A, *Dsk, *bias, *h0;     // (D, N), (D), (D), (B, D, N)
    double *w, *wh;                  // loss weights: (B, L, D), (B, D, N)
    uint8_t *reset;                  // (B, L) or NULL
} Prob;

static double *dnew(int64_t n, double lo, double hi) {
    double *x = calloc((size_t)n, sizeof *x);
    for (int64_t i = 0; i < n; i++)
        x[i] = rng_unif(lo, hi);
    return x;
}

static Prob prob_new(int64_t B, int64_t L, int64_t D, int64_t N, int64_t chunk, int flags) {
    Prob p = {.B = B, .L = L, .D = D, .N = N, .chunk = chunk, .flags = flags};
    int sp = !(flags & NO_SOFTPLUS);
    p.u = dnew(B * L * D, -1, 1);
    p.delta = sp ? dnew(B * L * D, -3, 1) : dnew(B * L * D, 0.05, 1);
    p.z = flags & HAS_Z ? dnew(B * L * D, -2, 2) : NULL;
    p.Bm = dnew(B * L * N, -1, 1);
    p.Cm = dnew(B * L * N, -1, 1);
    p.A = dnew(D * N, -1, 1.5);
    for (int64_t i = 0; i < D * N; i++)
        p.A[i] = (double)(float)-exp(p.A[i]); // [-4.5, -0.37]
    p.Dsk = flags & HAS_D ? dnew(D, -1, 1) : NULL;
    p.bias = flags & HAS_BIAS ? (sp ? dnew(D, -1, 0.5) : dnew(D, 0, 0.2)) : NULL;
    p.h0 = flags & HAS_H0 ? dnew(B * D * N, -1, 1) : NULL;
    p.w = dnew(B * L * D, -1, 1);
    p.wh = flags & HAS_DHF ? dnew(B * D * N, -1, 1) : NULL;
    if (flags & HAS_RESET) {
        p.reset = calloc((size_t)(B * L), 1);
        for (int64_t i = 0; i < B * L; i++)
            p.reset[i] = rng_unif(0, 1) < 0.2;
    }
    return p;
}

static void prob_free(Prob *p) {
    double *all[] = {p->u, p->delta, p->z, p->Bm, p->Cm, p->A, p->Dsk, p->bias, p->h0, p->w, p->wh};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
    free(p->reset);
}

// ---------------------------------------------------------------------------------------------
// the reference: the definition in scan.h, in double, one loop per index

// out (B, L, D); hs (B, L, D, N) or NULL: every state; hfin (B, D, N) or NULL.
static void ref_fwd(const Prob *p, double *out, double *hs, double *hfin) {
    const int64_t B = p->B, L = p->L, D = p->D, N = p->N;
    double *h = calloc((size_t)(D * N), sizeof *h);
    for (int64_t b = 0; b < B; b++) {
        for (int64_t i = 0; i < D * N; i++)
            h[i] = p->h0 ? p->h0[b * D * N + i] : 0.0;
        for (int64_t t = 0; t < L; t++) {
            for (int64_t d = 0; d < D; d++) {
                int64_t i = (b * L + t) * D + d;
                double x = p->delta[i] + (p->bias ? p->bias[d] : 0.0);
                double dt = (p->flags & NO_SOFTPLUS) ? x : log1p(exp(x));
                double y = 0.0;
                const int reset = p->reset && p->reset[b * L + t]; // a packed sequence starts
                for (int64_t n = 0; n < N; n++) {
                    double *hn = &h[d * N + n];
                    double decay = reset ? 0.0 : exp(dt * p->A[d * N + n]);
                    *hn = decay * *hn + dt * p->Bm[(b * L + t) * N + n] * p->u[i];
                    y += p->Cm[(b * L + t) * N + n] * *hn;
                    if (hs) hs[i * N + n] = *hn;
                }
                if (p->Dsk) y += p->Dsk[d] * p->u[i];
                if (p->z) y *= p->z[i] / (1.0 + exp(-p->z[i]));
                out[i] = y;
            }
        }
        if (hfin) memcpy(hfin + b * D * N, h, (size_t)(D * N) * sizeof *h);
    }
    free(h);
}

// loss = Σ w·out + Σ wh·h_final
static double ref_loss(const Prob *p) {
    const int64_t nout = p->B * p->L * p->D, nh = p->B * p->D * p->N;
    double *out = malloc((size_t)nout * sizeof *out), *hf = malloc((size_t)nh * sizeof *hf);
    ref_fwd(p, out, NULL, hf);
    double s = 0.0;
    for (int64_t i = 0; i < nout; i++)
        s += p->w[i] * out[i];
    if (p->wh)
        for (int64_t i = 0; i < nh; i++)
            s += p->wh[i] * hf[i];
    free(out);
    free(hf);
    return s;
}

// ---------------------------------------------------------------------------------------------
// the kernel's buffers (float) for a problem

typedef struct {
    float *u, *delta, *z, *Bm, *Cm, *A, *Dsk, *bias, *h0;
    float *out, *hfin, *ckpt;
    float *dout, *dhfin, *du, *ddelta, *dz, *dB, *dC, *dA, *dD, *dbias, *dh0;
    void *ws;
} Bufs;

static float *fnew(const double *x, int64_t n) { // NULL for NULL; zeros when x is the zero marker
    if (!x) return NULL;
    float *f = malloc((size_t)n * sizeof *f);
    for (int64_t i = 0; i < n; i++)
        f[i] = (float)x[i];
    return f;
}

static float *fzero(int64_t n) {
    return calloc((size_t)n, sizeof(float));
}

static void args_set(ScanArgs *a, const Prob *p, Bufs *f) {
    scan_args_init(a, p->B, p->L, p->D, p->N);
    a->chunk = p->chunk;
    a->delta_softplus = !(p->flags & NO_SOFTPLUS);
    a->u = f->u, a->delta = f->delta, a->z = f->z, a->B_ssm = f->Bm, a->C_ssm = f->Cm;
    a->A = f->A, a->D_skip = f->Dsk, a->delta_bias = f->bias, a->h0 = f->h0;
    a->reset = p->reset;
    a->out = f->out, a->h_final = f->hfin, a->ckpt = f->ckpt;
    a->dout = f->dout, a->dh_final = f->dhfin;
    a->du = f->du, a->ddelta = f->ddelta, a->dz = f->dz, a->dB_ssm = f->dB, a->dC_ssm = f->dC;
    a->dA = f->dA, a->dD_skip = f->dD, a->ddelta_bias = f->dbias, a->dh0 = f->dh0;
    a->workspace = f->ws;
    a->workspace_bytes = f->ws ? scan_bwd_workspace_size_cpu(a) : 0;
}

static Bufs bufs_new(const Prob *p) {
    const int64_t B = p->B, L = p->L, D = p->D, N = p->N;
    Bufs f = {0};
    f.u = fnew(p->u, B * L * D), f.delta = fnew(p->delta, B * L * D), f.z = fnew(p->z, B * L * D);
    f.Bm = fnew(p->Bm, B * L * N), f.Cm = fnew(p->Cm, B * L * N), f.A = fnew(p->A, D * N);
    f.Dsk = fnew(p->Dsk, D), f.bias = fnew(p->bias, D), f.h0 = fnew(p->h0, B * D * N);
    f.out = fzero(B * L * D), f.hfin = fzero(B * D * N);
    ScanArgs a;
    args_set(&a, p, &f);
    f.ckpt = fzero(scan_ckpt_numel(&a));
    f.dout = fnew(p->w, B * L * D), f.dhfin = fnew(p->wh, B * D * N);
    f.du = fzero(B * L * D), f.ddelta = fzero(B * L * D), f.dz = p->z ? fzero(B * L * D) : NULL;
    f.dB = fzero(B * L * N), f.dC = fzero(B * L * N), f.dA = fzero(D * N);
    f.dD = p->Dsk ? fzero(D) : NULL, f.dbias = p->bias ? fzero(D) : NULL;
    f.dh0 = fzero(B * D * N);
    f.ws = calloc(1, scan_bwd_workspace_size_cpu(&a));
    return f;
}

static void bufs_free(Bufs *f) {
    void *all[] = {f->u,  f->delta, f->z,    f->Bm,   f->Cm,   f->A,     f->Dsk, f->bias,
                   f->h0, f->out,   f->hfin, f->ckpt, f->dout, f->dhfin, f->du,  f->ddelta,
                   f->dz, f->dB,    f->dC,   f->dA,   f->dD,   f->dbias, f->dh0, f->ws};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
}

// ---------------------------------------------------------------------------------------------
// forward vs the double reference

static double fwd_case(int64_t B, int64_t L, int64_t D, int64_t N, int64_t chunk, int flags) {
    Prob p = prob_new(B, L, D, N, chunk, flags);
    Bufs f = bufs_new(&p);
    ScanArgs a;
    args_set(&a, &p, &f);
    assert_int_equal(scan_fwd_cpu(&a), 0);

    double *out = malloc((size_t)(B * L * D) * sizeof *out);
    double *hs = malloc((size_t)(B * L * D * N) * sizeof *hs);
    double *hf = malloc((size_t)(B * D * N) * sizeof *hf);
    ref_fwd(&p, out, hs, hf);
    char what[96];
    snprintf(what, sizeof what, "out (B=%lld L=%lld D=%lld N=%lld T=%lld flags=%d)", (long long)B,
             (long long)L, (long long)D, (long long)N, (long long)chunk, flags);
    double worst = check_close(what, f.out, out, B * L * D, 1e-5, 1e-4);
    check_close("h_final", f.hfin, hf, B * D * N, 1e-5, 1e-4);
    // checkpoint slot c = state after token min((c+1)·T, L) − 1
    const int64_t nc = (L - 1) / chunk + 1;
    double *want = malloc((size_t)(B * nc * D * N) * sizeof *want);
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < nc; c++) {
            int64_t t = (c + 1) * chunk < L ? (c + 1) * chunk - 1 : L - 1;
            memcpy(want + (b * nc + c) * D * N, hs + (b * L + t) * D * N,
                   (size_t)(D * N) * sizeof *want);
        }
    check_close("ckpt", f.ckpt, want, B * nc * D * N, 1e-5, 1e-4);
    free(want), free(out), free(hs), free(hf);
    bufs_free(&f);
    prob_free(&p);
    return worst;
}

static void test_forward_vs_reference(void **state) {
    (void)state;
    const int64_t Ls[] = {1, 2, 7, 64, 65, 200, 300}, Ns[] = {1, 4, 16};
    const int flag_sets[] = {ALL, 0, HAS_Z | HAS_BIAS, ALL | NO_SOFTPLUS, HAS_D | HAS_H0};
    double worst = 0.0;
    int k = 0;
    for (size_t il = 0; il < sizeof Ls / sizeof Ls[0]; il++)
        for (size_t in = 0; in < sizeof Ns / sizeof Ns[0]; in++, k++) {
            int64_t B = 1 + k % 2, D = (k % 3 == 0) ? 17 : (k % 3 == 1 ? 5 : 1);
            int64_t chunk = (k % 4 == 0) ? SCAN_CHUNK_DEFAULT : (k % 4 == 1 ? 64 : 7 + k % 5);
            double w = fwd_case(B, Ls[il], D, Ns[in], chunk, flag_sets[k % 5]);
            if (w > worst) worst = w;
        }
    // long: the fp32 error does not grow with L (every step multiplies it by a decay <= 1)
    double w = fwd_case(1, 4096, 3, 16, SCAN_CHUNK_DEFAULT, ALL);
    if (w > worst) worst = w;
    k++;
    // packed sequences (reset tokens), across checkpoint chunks and channel blocks
    const struct {
        int64_t B, L, D, N, T;
    } packed[] = {{1, 1, 3, 4, 128}, {2, 65, 17, 16, 7}, {2, 300, 5, 4, 64}};
    for (size_t i = 0; i < sizeof packed / sizeof packed[0]; i++, k++) {
        w = fwd_case(packed[i].B, packed[i].L, packed[i].D, packed[i].N, packed[i].T,
                     ALL | HAS_RESET);
        if (w > worst) worst = w;
    }
    print_message("# forward: worst |out-ref|/(1e-5+1e-4|ref|) = %.3f over %d shapes\n", worst, k);
}

// One token, one state per channel: with the inputs below, out[d] is exactly one elementary
// function of the kernel (the same code the full scan runs), compared with libm in double.
//   exp:      A = x, dt = 1 (softplus off), h0 = 1, B·u = 0, C = 1    → out = exp(x)
//   softplus: A = 0, delta = x, h0 = 0, u = B = C = 1                → out = softplus(x)
//   SiLU:     A = 0, dt = 1 (softplus off), u = B = C = 1, z = x     → out = x·σ(x)
static void elementary_probe(int which, const float *x, float *out, int64_t n) {
    float *one = malloc((size_t)n * sizeof *one), *zero = calloc((size_t)n, sizeof *zero);
    for (int64_t i = 0; i < n; i++)
        one[i] = 1.0f;
    ScanArgs a;
    scan_args_init(&a, 1, 1, n, 1);
    a.out = out, a.B_ssm = one, a.C_ssm = one;
    if (which == 0) a.delta_softplus = 0, a.A = x, a.delta = one, a.h0 = one, a.u = zero;
    if (which == 1) a.A = zero, a.delta = x, a.u = one;
    if (which == 2) a.delta_softplus = 0, a.A = zero, a.delta = one, a.u = one, a.z = x;
    assert_int_equal(scan_fwd_cpu(&a), 0);
    free(one), free(zero);
}

static void test_elementary_functions_accuracy(void **state) {
    (void)state;
    const int64_t n = 200001;
    const double lo[3] = {-87, -30, -100}, hi[3] = {88, 30, 30}, tol[3] = {2e-7, 3e-7, 3e-7};
    const char *name[3] = {"exp", "softplus", "silu"};
    float *x = malloc(n * sizeof *x), *out = malloc(n * sizeof *out);
    for (int f = 0; f < 3; f++) {
        for (int64_t i = 0; i < n; i++)
            x[i] = (float)(lo[f] + (hi[f] - lo[f]) * (double)i / (double)(n - 1));
        elementary_probe(f, x, out, n);
        double worst = 0.0;
        for (int64_t i = 0; i < n; i++) {
            double v = x[i];
            double ref = f == 0   ? exp(v)
                         : f == 1 ? (v > 20 ? v : log1p(exp(v)))
                                  : v / (1 + exp(-v));
            // relative, with an absolute floor: below 1e-30 the kernel may return 0
            double e = fabs(out[i] - ref) <= 1e-30 ? 0.0 : fabs(out[i] - ref) / fabs(ref);
            if (!(e <= tol[f]))
                fail_msg("%s(%.9g) = %.9g, expected %.9g (rel %.2e > %.0e)", name[f], x[i], out[i],
                         ref, e, tol[f]);
            if (e > worst) worst = e;
        }
        print_message("# %s: worst relative error %.3g on [%g, %g]\n", name[f], worst, lo[f],
                      hi[f]);
    }
    // out of range: exp is 0 below -87, +inf above 88, NaN stays NaN
    const float special[] = {-88.0f, -1e30f, -INFINITY, 88.5f, INFINITY, NAN};
    elementary_probe(0, special, out, 6);
    assert_true(out[0] == 0.0f && out[1] == 0.0f && out[2] == 0.0f);
    assert_true(isinf(out[3]) && isinf(out[4]) && isnan(out[5]));
    free(x), free(out);
}

// ---------------------------------------------------------------------------------------------
// backward vs finite differences of the reference

typedef struct {
    const char *name;
    double *x; // the problem's input (perturbed in place)
    int64_t n;
    const float *g; // the kernel's gradient
} GradCheck;

static double bwd_fd_case(int64_t B, int64_t L, int64_t D, int64_t N, int64_t chunk, int flags) {
    Prob p = prob_new(B, L, D, N, chunk, flags);
    Bufs f = bufs_new(&p);
    ScanArgs a;
    args_set(&a, &p, &f);
    assert_int_equal(scan_fwd_cpu(&a), 0);
    assert_int_equal(scan_bwd_cpu(&a), 0);

    GradCheck gc[] = {
        {"du", p.u, B * L * D, f.du},    {"ddelta", p.delta, B * L * D, f.ddelta},
        {"dz", p.z, B * L * D, f.dz},    {"dB", p.Bm, B * L * N, f.dB},
        {"dC", p.Cm, B * L * N, f.dC},   {"dA", p.A, D * N, f.dA},
        {"dD", p.Dsk, D, f.dD},          {"ddelta_bias", p.bias, D, f.dbias},
        {"dh0", p.h0, B * D * N, f.dh0},
    };
    const double h = 1e-6, tol = 1e-4;
    double worst = 0.0;
    for (size_t k = 0; k < sizeof gc / sizeof gc[0]; k++) {
        if (!gc[k].x) continue;
        for (int64_t i = 0; i < gc[k].n; i++) {
            double v = gc[k].x[i];
            gc[k].x[i] = v + h;
            double lp = ref_loss(&p);
            gc[k].x[i] = v - h;
            double lm = ref_loss(&p);
            gc[k].x[i] = v;
            double fd = (lp - lm) / (2 * h), e = fabs(gc[k].g[i] - fd) / fmax(1.0, fabs(fd));
            if (!(e <= tol))
                fail_msg(
                    "%s[%lld] = %.9g, finite difference %.9g (|diff| %.3g > %.0e·max(1,|fd|)); "
                    "B=%lld L=%lld D=%lld N=%lld T=%lld flags=%d",
                    gc[k].name, (long long)i, gc[k].g[i], fd, fabs(gc[k].g[i] - fd), tol,
                    (long long)B, (long long)L, (long long)D, (long long)N, (long long)chunk,
                    flags);
            if (e > worst) worst = e;
        }
    }
    // dh0 is defined even without h0 (gradient w.r.t. the zero state): check it too.
    if (!p.h0) {
        Prob q = p;
        q.h0 = calloc((size_t)(B * D * N), sizeof *q.h0);
        for (int64_t i = 0; i < B * D * N; i++) {
            q.h0[i] = h;
            double lp = ref_loss(&q);
            q.h0[i] = -h;
            double lm = ref_loss(&q);
            q.h0[i] = 0.0;
            double fd = (lp - lm) / (2 * h);
            if (!(fabs(f.dh0[i] - fd) <= tol * fmax(1.0, fabs(fd))))
                fail_msg("dh0 (no h0)[%lld] = %.9g, finite difference %.9g", (long long)i, f.dh0[i],
                         fd);
        }
        free(q.h0);
    }
    bufs_free(&f);
    prob_free(&p);
    return worst;
}

static void test_backward_vs_finite_differences(void **state) {
    (void)state;
    struct {
        int64_t B, L, D, N, T;
        int flags;
    } cases[] = {
        {1, 1, 1, 1, 128, ALL}, // smallest
        {2, 11, 3, 4, 4, ALL},  // 3 chunks, L not a multiple of T
        {2, 11, 3, 4, 4, 0},    // nothing optional
        {1, 13, 3, 2, 5, ALL | NO_SOFTPLUS},
        {1, 9, 17, 2, 3, ALL},                         // two channel blocks, 3 chunks
        {2, 8, 2, 3, 8, HAS_Z | HAS_DHF},              // L == T, dh0 without h0
        {1, 10, 2, 16, 1, ALL},                        // T = 1: a checkpoint per token
        {1, 12, 2, 3, 100, HAS_D | HAS_BIAS | HAS_H0}, // T > L
        {1, 40, 5, 16, 16, ALL},                       // Mamba's N, 3 chunks, last one short
        {2, 23, 17, 3, 5, ALL | HAS_RESET},            // packed sequences across chunks
        {1, 9, 2, 2, 128, HAS_Z | HAS_RESET},          // packed, one chunk, no h0
    };
    double worst = 0.0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double w =
            bwd_fd_case(cases[i].B, cases[i].L, cases[i].D, cases[i].N, cases[i].T, cases[i].flags);
        if (w > worst) worst = w;
    }
    print_message("# backward: worst |g-fd|/max(1,|fd|) = %.3g (tolerance 1e-4)\n", worst);
}

// ---------------------------------------------------------------------------------------------
// contracts

static void test_backward_accumulates(void **state) {
    (void)state;
    Prob p = prob_new(2, 37, 5, 4, 8, ALL);
    Bufs f = bufs_new(&p);
    ScanArgs a;
    args_set(&a, &p, &f);
    assert_int_equal(scan_fwd_cpu(&a), 0);
    assert_int_equal(scan_bwd_cpu(&a), 0);
    const int64_t nl = 2 * 37 * 5, nn = 2 * 37 * 4;
    float *once[] = {f.du, f.ddelta, f.dz, f.dB, f.dC, f.dA, f.dD, f.dbias, f.dh0};
    const int64_t len[] = {nl, nl, nl, nn, nn, 5 * 4, 5, 5, 2 * 5 * 4};
    float *copy[9];
    for (int i = 0; i < 9; i++) {
        copy[i] = malloc((size_t)len[i] * sizeof(float));
        memcpy(copy[i], once[i], (size_t)len[i] * sizeof(float));
        for (int64_t j = 0; j < len[i]; j++)
            copy[i][j] *= 2.0f;
    }
    assert_int_equal(scan_bwd_cpu(&a), 0);
    const char *names[] = {"du", "ddelta", "dz", "dB", "dC", "dA", "dD", "ddelta_bias", "dh0"};
    // one += per element: exactly twice; dA, dD, ddelta_bias add one partial per chunk: 1e-6
    for (int i = 0; i < 9; i++) {
        if (i == 5 || i == 6 || i == 7)
            check_rel(names[i], once[i], copy[i], len[i], 1e-6);
        else
            check_same(names[i], once[i], copy[i], len[i]);
        free(copy[i]);
    }
    bufs_free(&f);
    prob_free(&p);
}

// Token by token with scan_step_cpu ≡ one scan_fwd_cpu, bit for bit (same per-token function).
static void test_step_equals_forward(void **state) {
    (void)state;
    const int flag_sets[] = {ALL, 0, HAS_Z | NO_SOFTPLUS};
    const int64_t Ns[] = {1, 5, 16};
    for (int k = 0; k < 3; k++) {
        const int64_t B = 2, L = 23, D = 19, N = Ns[k];
        Prob p = prob_new(B, L, D, N, 8, flag_sets[k]);
        Bufs f = bufs_new(&p);
        ScanArgs a;
        args_set(&a, &p, &f);
        assert_int_equal(scan_fwd_cpu(&a), 0);

        float *state_buf = p.h0 ? fnew(p.h0, B * D * N) : fzero(B * D * N);
        float *out = fzero(B * L * D);
        for (int64_t t = 0; t < L; t++) {
            ScanArgs s;
            scan_args_init(&s, B, 1, D, N);
            s.delta_softplus = a.delta_softplus;
            s.u = f.u + t * D, s.delta = f.delta + t * D, s.z = f.z ? f.z + t * D : NULL;
            s.u_stride_b = s.delta_stride_b = s.z_stride_b = s.out_stride_b = L * D;
            s.B_ssm = f.Bm + t * N, s.C_ssm = f.Cm + t * N;
            s.B_ssm_stride_b = s.C_ssm_stride_b = L * N;
            s.A = f.A, s.D_skip = f.Dsk, s.delta_bias = f.bias;
            s.state = state_buf, s.out = out + t * D;
            assert_int_equal(scan_step_cpu(&s), 0);
        }
        check_same("step out", out, f.out, B * L * D);
        check_same("step state", state_buf, f.hfin, B * D * N);
        free(state_buf), free(out);
        bufs_free(&f);
        prob_free(&p);
    }
}

// Forward over [0, s) then [s, L) with the carried state ≡ one pass (bit for bit); backward
// over the two segments in reverse order with dh0 → dh_final ≡ one backward.
static void test_streaming(void **state) {
    (void)state;
    const int64_t B = 2, L = 50, D = 18, N = 4, T = 8;
    const int64_t splits[] = {1, 7, 8, 25, 49};
    Prob p = prob_new(B, L, D, N, T, ALL);
    Bufs f = bufs_new(&p);
    ScanArgs a;
    args_set(&a, &p, &f);
    assert_int_equal(scan_fwd_cpu(&a), 0);
    assert_int_equal(scan_bwd_cpu(&a), 0);

    for (size_t k = 0; k < sizeof splits / sizeof splits[0]; k++) {
        const int64_t s = splits[k], len[2] = {s, L - s}, off[2] = {0, s};
        float *out = fzero(B * L * D), *hmid = fzero(B * D * N), *hend = fzero(B * D * N);
        float *du = fzero(B * L * D), *ddelta = fzero(B * L * D), *dz = fzero(B * L * D);
        float *dB = fzero(B * L * N), *dC = fzero(B * L * N), *dA = fzero(D * N);
        float *dD = fzero(D), *dbias = fzero(D), *dh0 = fzero(B * D * N), *dmid = fzero(B * D * N);
        ScanArgs seg[2];
        float *ckpt[2];
        void *ws[2];
        for (int i = 0; i < 2; i++) {
            ScanArgs *g = &seg[i];
            *g = a; // same strides (views into the full buffers), other length and offsets
            g->L = len[i];
            int64_t o = off[i];
            g->u = f.u + o * D, g->delta = f.delta + o * D, g->z = f.z + o * D;
            g->B_ssm = f.Bm + o * N, g->C_ssm = f.Cm + o * N;
            g->out = out + o * D, g->dout = f.dout + o * D;
            g->du = du + o * D, g->ddelta = ddelta + o * D, g->dz = dz + o * D;
            g->dB_ssm = dB + o * N, g->dC_ssm = dC + o * N;
            g->dA = dA, g->dD_skip = dD, g->ddelta_bias = dbias;
            g->h0 = i == 0 ? f.h0 : hmid;
            g->h_final = i == 0 ? hmid : hend;
            g->dh_final = i == 0 ? dmid : f.dhfin;
            g->dh0 = i == 0 ? dh0 : dmid;
            ckpt[i] = fzero(scan_ckpt_numel(g));
            g->ckpt = ckpt[i];
            g->workspace_bytes = scan_bwd_workspace_size_cpu(g);
            ws[i] = malloc(g->workspace_bytes);
            g->workspace = ws[i];
        }
        assert_int_equal(scan_fwd_cpu(&seg[0]), 0);
        assert_int_equal(scan_fwd_cpu(&seg[1]), 0);
        check_same("streamed out", out, f.out, B * L * D);
        check_same("streamed h_final", hend, f.hfin, B * D * N);
        assert_int_equal(scan_bwd_cpu(&seg[1]), 0); // dh0 of segment 2 → dmid
        assert_int_equal(scan_bwd_cpu(&seg[0]), 0); // which is segment 1's dh_final
        // per-token gradients: the same operations in the same order → the same bits
        check_same("streamed du", du, f.du, B * L * D);
        check_same("streamed ddelta", ddelta, f.ddelta, B * L * D);
        check_same("streamed dz", dz, f.dz, B * L * D);
        check_same("streamed dB", dB, f.dB, B * L * N);
        check_same("streamed dC", dC, f.dC, B * L * N);
        check_same("streamed dh0", dh0, f.dh0, B * D * N);
        // parameter sums: grouped by other chunk boundaries
        check_rel("streamed dA", dA, f.dA, D * N, 1e-5);
        check_rel("streamed dD", dD, f.dD, D, 1e-5);
        check_rel("streamed ddelta_bias", dbias, f.dbias, D, 1e-5);
        float *all[] = {out, hmid,  hend, du,   ddelta,  dz,      dB,    dC,   dA,
                        dD,  dbias, dh0,  dmid, ckpt[0], ckpt[1], ws[0], ws[1]};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            free(all[i]);
    }
    bufs_free(&f);
    prob_free(&p);
}

// x and z as halves of one (B, L, 2D) buffer, B and C inside a (B, L, R+2N) buffer, gradients
// written into buffers of the same shapes: same bits as dense tensors.
static void test_views(void **state) {
    (void)state;
    const int64_t B = 2, L = 21, D = 7, N = 4, R = 3, W = R + 2 * N;
    Prob p = prob_new(B, L, D, N, 6, ALL);
    Bufs f = bufs_new(&p);
    ScanArgs a;
    args_set(&a, &p, &f);
    assert_int_equal(scan_fwd_cpu(&a), 0);
    assert_int_equal(scan_bwd_cpu(&a), 0);

    float *xz = fzero(B * L * 2 * D), *xdbl = fzero(B * L * W), *out = fzero(B * L * D);
    float *dxz = fzero(B * L * 2 * D), *dxdbl = fzero(B * L * W), *ddelta = fzero(B * L * D);
    float *dA = fzero(D * N), *dD = fzero(D), *dbias = fzero(D), *dh0 = fzero(B * D * N);
    float *ckpt = fzero(scan_ckpt_numel(&a)), *hfin = fzero(B * D * N);
    for (int64_t r = 0; r < B * L; r++) {
        memcpy(xz + r * 2 * D, f.u + r * D, D * sizeof(float));
        memcpy(xz + r * 2 * D + D, f.z + r * D, D * sizeof(float));
        memcpy(xdbl + r * W + R, f.Bm + r * N, N * sizeof(float));
        memcpy(xdbl + r * W + R + N, f.Cm + r * N, N * sizeof(float));
    }
    ScanArgs v = a;
    v.u = xz, v.z = xz + D, v.dz = dxz + D, v.du = dxz;
    v.u_stride_b = v.z_stride_b = v.du_stride_b = v.dz_stride_b = L * 2 * D;
    v.u_stride_l = v.z_stride_l = v.du_stride_l = v.dz_stride_l = 2 * D;
    v.B_ssm = xdbl + R, v.C_ssm = xdbl + R + N, v.dB_ssm = dxdbl + R, v.dC_ssm = dxdbl + R + N;
    v.B_ssm_stride_b = v.C_ssm_stride_b = v.dB_ssm_stride_b = v.dC_ssm_stride_b = L * W;
    v.B_ssm_stride_l = v.C_ssm_stride_l = v.dB_ssm_stride_l = v.dC_ssm_stride_l = W;
    v.out = out, v.ckpt = ckpt, v.h_final = hfin, v.ddelta = ddelta;
    v.dA = dA, v.dD_skip = dD, v.ddelta_bias = dbias, v.dh0 = dh0;
    assert_int_equal(scan_fwd_cpu(&v), 0);
    assert_int_equal(scan_bwd_cpu(&v), 0);
    check_same("view out", out, f.out, B * L * D);
    check_same("view ddelta", ddelta, f.ddelta, B * L * D);
    check_same("view dA", dA, f.dA, D * N);
    for (int64_t r = 0; r < B * L; r++) {
        check_same("view du", dxz + r * 2 * D, f.du + r * D, D);
        check_same("view dz", dxz + r * 2 * D + D, f.dz + r * D, D);
        check_same("view dB", dxdbl + r * W + R, f.dB + r * N, N);
        check_same("view dC", dxdbl + r * W + R + N, f.dC + r * N, N);
        for (int64_t i = 0; i < R; i++)
            assert_true(dxdbl[r * W + i] == 0.0f); // untouched
    }
    float *all[] = {xz, xdbl, out, dxz, dxdbl, ddelta, dA, dD, dbias, dh0, ckpt, hfin};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
    bufs_free(&f);
    prob_free(&p);
}

/*
 * A packed row (sequences end to end, reset at each start) gives what the sequences give one
 * row each: every per-token output and gradient bit for bit (a reset makes the decay exactly 0,
 * and the state entering the sequence is then exactly 0, as a fresh row's), and the per-channel
 * parameter gradients (summed in another grouping) within fp32 rounding.
 */
static void test_packed_equals_separate(void **state) {
    (void)state;
    const int64_t D = 19, N = 4, T = 6, lens[] = {7, 1, 13, 5};
    const int64_t S = (int64_t)(sizeof lens / sizeof lens[0]), L = 7 + 1 + 13 + 5;
    Prob p = prob_new(1, L, D, N, T, HAS_Z | HAS_D | HAS_BIAS | HAS_RESET);
    memset(p.reset, 0, (size_t)L);
    for (int64_t s0 = 0, i = 0; i < S; s0 += lens[i++]) p.reset[s0] = 1;
    Bufs f = bufs_new(&p);
    ScanArgs a;
    args_set(&a, &p, &f);
    assert_int_equal(scan_fwd_cpu(&a), 0);
    assert_int_equal(scan_bwd_cpu(&a), 0);
    double *sum_dA = calloc((size_t)(D * N), sizeof *sum_dA), *sum_dD = calloc((size_t)D, 8);
    double *sum_db = calloc((size_t)D, 8);
    for (int64_t s0 = 0, i = 0; i < S; s0 += lens[i++]) {
        const int64_t l = lens[i];
        Prob q = p; // the sequence alone: views of p's inputs at its first token, no reset
        q.L = l, q.reset = NULL;
        q.u = p.u + s0 * D, q.delta = p.delta + s0 * D, q.z = p.z + s0 * D;
        q.Bm = p.Bm + s0 * N, q.Cm = p.Cm + s0 * N, q.w = p.w + s0 * D;
        Bufs g = bufs_new(&q);
        ScanArgs c;
        args_set(&c, &q, &g);
        assert_int_equal(scan_fwd_cpu(&c), 0);
        assert_int_equal(scan_bwd_cpu(&c), 0);
        check_same("packed out", f.out + s0 * D, g.out, l * D);
        check_same("packed du", f.du + s0 * D, g.du, l * D);
        check_same("packed ddelta", f.ddelta + s0 * D, g.ddelta, l * D);
        check_same("packed dz", f.dz + s0 * D, g.dz, l * D);
        check_same("packed dB", f.dB + s0 * N, g.dB, l * N);
        check_same("packed dC", f.dC + s0 * N, g.dC, l * N);
        for (int64_t j = 0; j < D * N; j++) sum_dA[j] += g.dA[j];
        for (int64_t j = 0; j < D; j++) sum_dD[j] += g.dD[j], sum_db[j] += g.dbias[j];
        bufs_free(&g);
    }
    check_close("packed dA", f.dA, sum_dA, D * N, 1e-6, 1e-5);
    check_close("packed dD", f.dD, sum_dD, D, 1e-6, 1e-5);
    check_close("packed ddelta_bias", f.dbias, sum_db, D, 1e-6, 1e-5);
    // nothing flows into the state before the first sequence: dh0 is exactly 0
    for (int64_t j = 0; j < D * N; j++) assert_true(f.dh0[j] == 0.0f);
    free(sum_dA), free(sum_dD), free(sum_db);
    bufs_free(&f);
    prob_free(&p);
}

// Negative token strides walk the sequence backwards: same as running on flipped copies.
static void test_reverse_strides(void **state) {
    (void)state;
    const int64_t B = 2, L = 30, D = 5, N = 4;
    Prob p = prob_new(B, L, D, N, 7, HAS_Z | HAS_D | HAS_BIAS);
    Bufs f = bufs_new(&p);
    ScanArgs a;
    args_set(&a, &p, &f);
    assert_int_equal(scan_fwd_cpu(&a), 0); // forward on the given order
    // flipped copies
    Prob q = p;
    double *flip[5];
    double *src[5] = {p.u, p.delta, p.z, p.Bm, p.Cm};
    const int64_t w[5] = {D, D, D, N, N};
    for (int i = 0; i < 5; i++) {
        flip[i] = malloc((size_t)(B * L * w[i]) * sizeof(double));
        for (int64_t b = 0; b < B; b++)
            for (int64_t t = 0; t < L; t++)
                memcpy(flip[i] + (b * L + t) * w[i], src[i] + (b * L + L - 1 - t) * w[i],
                       (size_t)w[i] * sizeof(double));
    }
    q.u = flip[0], q.delta = flip[1], q.z = flip[2], q.Bm = flip[3], q.Cm = flip[4];
    Bufs g = bufs_new(&q);
    ScanArgs r;
    args_set(&r, &q, &g);
    // r runs on the ORIGINAL buffers through reversed views → must equal a forward on flipped
    // copies (computed by `c`).
    ScanArgs c;
    args_set(&c, &q, &g);
    float *out_rev = fzero(B * L * D);
    r.u = f.u + (L - 1) * D, r.delta = f.delta + (L - 1) * D, r.z = f.z + (L - 1) * D;
    r.B_ssm = f.Bm + (L - 1) * N, r.C_ssm = f.Cm + (L - 1) * N, r.out = out_rev + (L - 1) * D;
    r.u_stride_l = r.delta_stride_l = r.z_stride_l = r.out_stride_l = -D;
    r.B_ssm_stride_l = r.C_ssm_stride_l = -N;
    r.ckpt = NULL, r.h_final = NULL;
    assert_int_equal(scan_fwd_cpu(&c), 0);
    assert_int_equal(scan_fwd_cpu(&r), 0);
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < L; t++)
            check_same("reversed out", out_rev + (b * L + t) * D, g.out + (b * L + L - 1 - t) * D,
                       D);
    free(out_rev);
    for (int i = 0; i < 5; i++)
        free(flip[i]);
    bufs_free(&g);
    bufs_free(&f);
    prob_free(&p);
}

// Every sum has a fixed order: 1 thread and 3 threads give the same bits.
static void test_thread_count_independent(void **state) {
    (void)state;
    const int64_t B = 2, L = 70, D = 50, N = 8;
    Prob p = prob_new(B, L, D, N, 16, ALL);
    Bufs f1 = bufs_new(&p), f3 = bufs_new(&p);
    ScanArgs a1, a3;
    args_set(&a1, &p, &f1);
    args_set(&a3, &p, &f3);
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    assert_int_equal(scan_fwd_cpu(&a1), 0);
    assert_int_equal(scan_bwd_cpu(&a1), 0);
    omp_set_num_threads(3);
    assert_int_equal(scan_fwd_cpu(&a3), 0);
    assert_int_equal(scan_bwd_cpu(&a3), 0);
    omp_set_num_threads(saved);
    check_same("out", f3.out, f1.out, B * L * D);
    check_same("du", f3.du, f1.du, B * L * D);
    check_same("ddelta", f3.ddelta, f1.ddelta, B * L * D);
    check_same("dB", f3.dB, f1.dB, B * L * N);
    check_same("dC", f3.dC, f1.dC, B * L * N);
    check_same("dA", f3.dA, f1.dA, D * N);
    check_same("dh0", f3.dh0, f1.dh0, B * D * N);
    bufs_free(&f1);
    bufs_free(&f3);
    prob_free(&p);
}

// ---------------------------------------------------------------------------------------------
// invalid arguments: an error code and a message naming the argument, nothing written

static void expect_err(const ScanArgs *a, int which, int code, const char *needle) {
    int rc = which == 0 ? scan_fwd_cpu(a) : which == 1 ? scan_bwd_cpu(a) : scan_step_cpu(a);
    if (rc != code)
        fail_msg("expected code %d (%s), got %d: %s", code, needle, rc, ls_error_message());
    if (!strstr(ls_error_message(), needle))
        fail_msg("message \"%s\" does not name \"%s\"", ls_error_message(), needle);
}

static void test_invalid_arguments(void **state) {
    (void)state;
    Prob p = prob_new(1, 10, 3, 2, 4, ALL);
    Bufs f = bufs_new(&p);
    ScanArgs ok, a;
    args_set(&ok, &p, &f);
    float *out_before = fzero(10 * 3);
    memcpy(out_before, f.out, 30 * sizeof(float));

    // clang-format off
    a = ok, a.L = 0;           expect_err(&a, 0, LS_ERR_RANGE, "L = 0");
    a = ok, a.B = -1;          expect_err(&a, 0, LS_ERR_RANGE, "B = -1");
    a = ok, a.D = 0;           expect_err(&a, 1, LS_ERR_RANGE, "D = 0");
    a = ok, a.N = 0;           expect_err(&a, 0, LS_ERR_RANGE, "N = 0");
    a = ok, a.N = SCAN_N_MAX + 1; expect_err(&a, 0, LS_ERR_RANGE, "N = 257");
    a = ok, a.chunk = 0;       expect_err(&a, 1, LS_ERR_RANGE, "chunk = 0");
    a = ok, a.L = INT64_MAX / 2, a.D = INT64_MAX / 2; expect_err(&a, 0, LS_ERR_RANGE, "overflow");
    a = ok, a.u = NULL;        expect_err(&a, 0, LS_ERR_USAGE, "u is NULL");
    a = ok, a.A = NULL, a.L = 1, a.state = f.hfin; expect_err(&a, 2, LS_ERR_USAGE, "A is NULL");
    a = ok, a.out = NULL;      expect_err(&a, 0, LS_ERR_USAGE, "out is NULL");
    a = ok, a.ckpt = NULL;     expect_err(&a, 1, LS_ERR_USAGE, "ckpt is NULL");
    a = ok, a.dout = NULL;     expect_err(&a, 1, LS_ERR_USAGE, "dout is NULL");
    a = ok, a.dz = NULL;       expect_err(&a, 1, LS_ERR_USAGE, "dz is NULL");
    a = ok, a.D_skip = NULL;   expect_err(&a, 1, LS_ERR_USAGE, "D_skip is absent");
    a = ok, a.delta_softplus = 2; expect_err(&a, 0, LS_ERR_USAGE, "delta_softplus = 2");
    a = ok, a.out_stride_l = 2; expect_err(&a, 0, LS_ERR_USAGE, "out strides (30, 2) overlap");
    a = ok, a.du_stride_l = -1; expect_err(&a, 1, LS_ERR_USAGE, "output du strides");
    a = ok, a.u_stride_b = INT64_MIN; expect_err(&a, 0, LS_ERR_RANGE, "overflow");
    a = ok, a.workspace_bytes -= 4; expect_err(&a, 1, LS_ERR_USAGE, "workspace");
    a = ok, a.workspace = NULL; expect_err(&a, 1, LS_ERR_USAGE, "workspace");
    a = ok, a.state = f.hfin;  expect_err(&a, 2, LS_ERR_RANGE, "L = 10");
    a = ok, a.L = 1;           expect_err(&a, 2, LS_ERR_USAGE, "state is NULL");
    a = ok, a.L = 1, a.state = f.hfin, a.reset = (const uint8_t *)"\1";
                               expect_err(&a, 2, LS_ERR_USAGE, "reset is for a forward");
    a = ok, a.reset = (const uint8_t *)"0123456789", a.reset_stride_l = INT64_MAX;
                               expect_err(&a, 0, LS_ERR_RANGE, "reset strides");
    // clang-format on
    assert_int_equal(scan_args_check(NULL, SCAN_OP_FWD), LS_ERR_USAGE);
    check_same("out after failed calls", f.out, out_before, 30);
    // sizes of a bad shape are 0, not garbage
    a = ok, a.L = 0;
    assert_true(scan_ckpt_numel(&a) == 0 && scan_bwd_workspace_size_cpu(&a) == 0);
    free(out_before);
    bufs_free(&f);
    prob_free(&p);
}

int main(void) {
    const char *env = getenv("LS_TEST_SEED");
    uint64_t seed =
        env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    rng_state = seed;
    printf("# test_scan seed = %llu (LS_TEST_SEED=%llu replays it)\n", (unsigned long long)seed,
           (unsigned long long)seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elementary_functions_accuracy),
        cmocka_unit_test(test_forward_vs_reference),
        cmocka_unit_test(test_backward_vs_finite_differences),
        cmocka_unit_test(test_backward_accumulates),
        cmocka_unit_test(test_step_equals_forward),
        cmocka_unit_test(test_streaming),
        cmocka_unit_test(test_views),
        cmocka_unit_test(test_packed_equals_separate),
        cmocka_unit_test(test_reverse_strides),
        cmocka_unit_test(test_thread_count_independent),
        cmocka_unit_test(test_invalid_arguments),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests_name("scan", tests, NULL, NULL);
}
