/*
 * test_conv.c — the CPU causal depthwise conv1d (kernels/conv.h) against a plain
 * double-precision reference written here (not calling the kernel), its gradients against
 * central finite differences of that reference in double, and its contracts: step ≡ forward,
 * streaming ≡ one pass (forward and backward), views, thread-count independence,
 * accumulation, invalid arguments.
 *
 * Inputs are random from a seed printed as a TAP comment; LS_TEST_SEED=<n> replays a run.
 * Tolerances:
 *   forward   |out − ref| <= 1e-6 + 1e-5·|ref|   (K products summed in fp32 vs double)
 *   backward  |g − fd| <= 1e-4 · max(1, |fd|)    (fd: central differences in double, h = 1e-6)
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

#include "kernels/conv.h"
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
// a problem: dense double inputs and the reference

enum { HAS_BIAS = 1, HAS_STATE = 2, SILU = 4, HAS_DSF = 8, ALL = 15, HAS_RESET = 16 };

typedef struct {
    int64_t B, L, D, K;
    int flags;
    double *x, *w, *bias, *s0; // (B, L, D), (D, K), (D), (B, D, K-1)
    double *gw, *gs;           // loss weights: (B, L, D), (B, D, K-1)
    uint8_t *reset;            // (B, L) packed sequence starts, or NULL
} Prob;

static double *dnew(int64_t n, double lo, double hi) {
    double *x = calloc((size_t)(n > 0 ? n : 1), sizeof *x);
    for (int64_t i = 0; i < n; i++)
        x[i] = rng_unif(lo, hi);
    return x;
}

static Prob prob_new(int64_t B, int64_t L, int64_t D, int64_t K, int flags) {
    Prob p = {.B = B, .L = L, .D = D, .K = K, .flags = flags};
    p.x = dnew(B * L * D, -1, 1);
    p.w = dnew(D * K, -1, 1);
    p.bias = flags & HAS_BIAS ? dnew(D, -1, 1) : NULL;
    p.s0 = flags & HAS_STATE ? dnew(B * D * (K - 1), -1, 1) : NULL;
    p.gw = dnew(B * L * D, -1, 1);
    p.gs = flags & HAS_DSF ? dnew(B * D * (K - 1), -1, 1) : NULL;
    if (flags & HAS_RESET) {
        p.reset = calloc((size_t)(B * L), 1);
        for (int64_t i = 0; i < B * L; i++) p.reset[i] = rng_unif(0, 1) < 0.25;
    }
    return p;
}

static void prob_free(Prob *p) {
    free(p->x), free(p->w), free(p->bias), free(p->s0), free(p->gw), free(p->gs), free(p->reset);
}

static double ref_xext(const Prob *p, int64_t b, int64_t j, int64_t d) {
    const int64_t K = p->K;
    if (j >= K - 1) return p->x[(b * p->L + j - (K - 1)) * p->D + d];
    return p->s0 ? p->s0[(b * p->D + d) * (K - 1) + j] : 0.0;
}

// conv.h's keep(t, j): no sequence starts at an x position in (j − (K−1), t]
static int ref_keep(const Prob *p, int64_t b, int64_t t, int64_t j) {
    if (!p->reset) return 1;
    for (int64_t s = j - (p->K - 1) + 1; s <= t; s++)
        if (s >= 0 && p->reset[b * p->L + s]) return 0;
    return 1;
}

// out (B, L, D); sfin (B, D, K-1) or NULL
static void ref_fwd(const Prob *p, double *out, double *sfin) {
    const int64_t B = p->B, L = p->L, D = p->D, K = p->K;
    for (int64_t b = 0; b < B; b++)
        for (int64_t d = 0; d < D; d++) {
            for (int64_t t = 0; t < L; t++) {
                double acc = p->bias ? p->bias[d] : 0.0;
                for (int64_t k = 0; k < K; k++)
                    if (ref_keep(p, b, t, t + k)) acc += p->w[d * K + k] * ref_xext(p, b, t + k, d);
                out[(b * L + t) * D + d] = (p->flags & SILU) ? acc / (1.0 + exp(-acc)) : acc;
            }
            if (sfin)
                for (int64_t i = 0; i < K - 1; i++)
                    sfin[(b * D + d) * (K - 1) + i] =
                        ref_keep(p, b, L - 1, L + i) ? ref_xext(p, b, L + i, d) : 0.0;
        }
}

static double ref_loss(const Prob *p) {
    const int64_t no = p->B * p->L * p->D, ns = p->B * p->D * (p->K - 1);
    double *out = malloc((size_t)no * sizeof *out), *sf = calloc((size_t)(ns + 1), sizeof *sf);
    ref_fwd(p, out, sf);
    double s = 0.0;
    for (int64_t i = 0; i < no; i++)
        s += p->gw[i] * out[i];
    if (p->gs)
        for (int64_t i = 0; i < ns; i++)
            s += p->gs[i] * sf[i];
    free(out), free(sf);
    return s;
}

// ---------------------------------------------------------------------------------------------
// kernel buffers

typedef struct {
    float *x, *w, *bias, *s0, *out, *sfin, *dout, *dsf, *dx, *dw, *dbias, *ds0;
} Bufs;

static float *fnew(const double *x, int64_t n) {
    if (!x) return NULL;
    float *f = malloc((size_t)(n > 0 ? n : 1) * sizeof *f);
    for (int64_t i = 0; i < n; i++)
        f[i] = (float)x[i];
    return f;
}

static float *fzero(int64_t n) {
    return calloc((size_t)(n > 0 ? n : 1), sizeof(float));
}

static Bufs bufs_new(const Prob *p) {
    const int64_t B = p->B, L = p->L, D = p->D, K = p->K;
    Bufs f = {0};
    f.x = fnew(p->x, B * L * D), f.w = fnew(p->w, D * K), f.bias = fnew(p->bias, D);
    f.s0 = fnew(p->s0, B * D * (K - 1));
    f.out = fzero(B * L * D), f.sfin = fzero(B * D * (K - 1));
    f.dout = fnew(p->gw, B * L * D), f.dsf = fnew(p->gs, B * D * (K - 1));
    f.dx = fzero(B * L * D), f.dw = fzero(D * K), f.dbias = p->bias ? fzero(D) : NULL;
    f.ds0 = fzero(B * D * (K - 1));
    return f;
}

static void bufs_free(Bufs *f) {
    float *all[] = {f->x,    f->w,   f->bias, f->s0, f->out,   f->sfin,
                    f->dout, f->dsf, f->dx,   f->dw, f->dbias, f->ds0};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
}

static void args_set(ConvArgs *a, const Prob *p, Bufs *f) {
    conv_args_init(a, p->B, p->L, p->D, p->K);
    a->silu = !!(p->flags & SILU);
    a->x = f->x, a->weight = f->w, a->bias = f->bias, a->state0 = f->s0;
    a->reset = p->reset;
    a->out = f->out, a->state_final = f->sfin;
    a->dout = f->dout, a->dstate_final = f->dsf;
    a->dx = f->dx, a->dweight = f->dw, a->dbias = f->dbias, a->dstate0 = f->ds0;
}

// ---------------------------------------------------------------------------------------------
// forward and backward against the reference

static void test_forward_vs_reference(void **state) {
    (void)state;
    const int64_t Ls[] = {1, 2, 7, 64, 65, 200, 300}, Ks[] = {1, 2, 4, 7}, Ds[] = {1, 5, 67};
    const int flag_sets[] = {ALL, 0, SILU | HAS_STATE, HAS_BIAS, ALL | HAS_RESET};
    double worst = 0.0;
    int n = 0;
    for (size_t il = 0; il < sizeof Ls / sizeof Ls[0]; il++)
        for (size_t ik = 0; ik < sizeof Ks / sizeof Ks[0]; ik++, n++) {
            const int64_t B = 1 + n % 2, L = Ls[il], D = Ds[n % 3], K = Ks[ik];
            Prob p = prob_new(B, L, D, K, flag_sets[n % 5]);
            Bufs f = bufs_new(&p);
            ConvArgs a;
            args_set(&a, &p, &f);
            assert_int_equal(conv_fwd_cpu(&a), 0);
            double *out = malloc((size_t)(B * L * D) * sizeof *out);
            double *sf = calloc((size_t)(B * D * K), sizeof *sf);
            ref_fwd(&p, out, sf);
            char what[96];
            snprintf(what, sizeof what, "out (B=%lld L=%lld D=%lld K=%lld flags=%d)", (long long)B,
                     (long long)L, (long long)D, (long long)K, p.flags);
            double w = check_close(what, f.out, out, B * L * D, 1e-6, 1e-5);
            if (w > worst) worst = w;
            check_close("state_final", f.sfin, sf, B * D * (K - 1), 1e-30, 0); // a copy: exact
            free(out), free(sf);
            bufs_free(&f);
            prob_free(&p);
        }
    print_message("# forward: worst |out-ref|/(1e-6+1e-5|ref|) = %.3f over %d shapes\n", worst, n);
}

static double bwd_fd_case(int64_t B, int64_t L, int64_t D, int64_t K, int flags) {
    Prob p = prob_new(B, L, D, K, flags);
    Bufs f = bufs_new(&p);
    ConvArgs a;
    args_set(&a, &p, &f);
    assert_int_equal(conv_bwd_cpu(&a), 0);
    // state0 absent: its gradient is w.r.t. the zeros; make the reference see zeros it can move
    if (!p.s0) p.s0 = dnew(B * D * (K - 1), 0, 0);
    struct {
        const char *name;
        double *x;
        int64_t n;
        const float *g;
    } gc[] = {
        {"dx", p.x, B * L * D, f.dx},
        {"dweight", p.w, D * K, f.dw},
        {"dbias", p.bias, D, f.dbias},
        {"dstate0", p.s0, B * D * (K - 1), f.ds0},
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
                    "B=%lld L=%lld D=%lld K=%lld flags=%d",
                    gc[k].name, (long long)i, gc[k].g[i], fd, fabs(gc[k].g[i] - fd), tol,
                    (long long)B, (long long)L, (long long)D, (long long)K, flags);
            if (e > worst) worst = e;
        }
    }
    bufs_free(&f);
    prob_free(&p);
    return worst;
}

static void test_backward_vs_finite_differences(void **state) {
    (void)state;
    struct {
        int64_t B, L, D, K;
        int flags;
    } cases[] = {
        {1, 1, 1, 1, ALL},
        {2, 7, 3, 4, ALL},
        {2, 7, 3, 4, 0},
        {1, 2, 3, 4, ALL},              // L < K-1
        {1, 9, 67, 2, SILU | HAS_BIAS}, // two channel blocks
        {2, 5, 2, 7, HAS_STATE | HAS_DSF},
        {1, 20, 2, 4, SILU | HAS_DSF}, // dstate0 without state0
        {2, 6, 3, 1, ALL},
        {2, 13, 3, 4, ALL | HAS_RESET},    // packed sequences, state0 and dstate_final
        {1, 30, 67, 4, SILU | HAS_RESET},  // packed, two channel blocks
        {1, 11, 2, 7, HAS_DSF | HAS_RESET}, // long kernel: starts inside its window
    };
    double worst = 0.0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double w = bwd_fd_case(cases[i].B, cases[i].L, cases[i].D, cases[i].K, cases[i].flags);
        if (w > worst) worst = w;
    }
    print_message("# backward: worst |g-fd|/max(1,|fd|) = %.3g (tolerance 1e-4)\n", worst);
}

// ---------------------------------------------------------------------------------------------
// contracts

static void test_backward_accumulates(void **state) {
    (void)state;
    const int64_t B = 2, L = 33, D = 70, K = 4;
    Prob p = prob_new(B, L, D, K, ALL);
    Bufs f = bufs_new(&p);
    ConvArgs a;
    args_set(&a, &p, &f);
    assert_int_equal(conv_bwd_cpu(&a), 0);
    float *g[] = {f.dx, f.dw, f.dbias, f.ds0};
    const int64_t n[] = {B * L * D, D * K, D, B * D * (K - 1)};
    float *twice[4];
    for (int i = 0; i < 4; i++) {
        twice[i] = malloc((size_t)n[i] * sizeof(float));
        for (int64_t j = 0; j < n[i]; j++)
            twice[i][j] = 2.0f * g[i][j];
    }
    assert_int_equal(conv_bwd_cpu(&a), 0);
    const char *names[] = {"dx", "dweight", "dbias", "dstate0"};
    for (int i = 0; i < 4; i++) {
        check_same(names[i], g[i], twice[i], n[i]); // one += per element: exactly twice
        free(twice[i]);
    }
    bufs_free(&f);
    prob_free(&p);
}

static void test_step_equals_forward(void **state) {
    (void)state;
    const int64_t Ks[] = {1, 2, 4, 7};
    for (int k = 0; k < 4; k++) {
        const int64_t B = 2, L = 19, D = 70, K = Ks[k];
        Prob p = prob_new(B, L, D, K, k % 2 ? ALL : SILU | HAS_BIAS);
        Bufs f = bufs_new(&p);
        ConvArgs a;
        args_set(&a, &p, &f);
        assert_int_equal(conv_fwd_cpu(&a), 0);
        float *st = p.s0 ? fnew(p.s0, B * D * (K - 1)) : fzero(B * D * (K - 1));
        float *out = fzero(B * L * D);
        for (int64_t t = 0; t < L; t++) {
            ConvArgs s;
            conv_args_init(&s, B, 1, D, K);
            s.silu = a.silu;
            s.x = f.x + t * D, s.out = out + t * D;
            s.x_stride_b = s.out_stride_b = L * D;
            s.weight = f.w, s.bias = f.bias, s.state = st;
            assert_int_equal(conv_step_cpu(&s), 0);
        }
        check_same("step out", out, f.out, B * L * D);
        check_same("step state", st, f.sfin, B * D * (K - 1));
        free(st), free(out);
        bufs_free(&f);
        prob_free(&p);
    }
}

static void test_streaming(void **state) {
    (void)state;
    const int64_t B = 2, L = 40, D = 70, K = 4;
    const int64_t splits[] = {1, 2, 3, 20, 39};
    Prob p = prob_new(B, L, D, K, ALL);
    Bufs f = bufs_new(&p);
    ConvArgs a;
    args_set(&a, &p, &f);
    assert_int_equal(conv_fwd_cpu(&a), 0);
    assert_int_equal(conv_bwd_cpu(&a), 0);
    for (size_t k = 0; k < sizeof splits / sizeof splits[0]; k++) {
        const int64_t s = splits[k], len[2] = {s, L - s}, off[2] = {0, s}, ns = B * D * (K - 1);
        float *out = fzero(B * L * D), *smid = fzero(ns), *send = fzero(ns);
        float *dx = fzero(B * L * D), *dw = fzero(D * K), *db = fzero(D), *ds0 = fzero(ns);
        float *dmid = fzero(ns);
        ConvArgs seg[2];
        for (int i = 0; i < 2; i++) {
            ConvArgs *g = &seg[i];
            *g = a; // views into the full buffers
            g->L = len[i];
            g->x = f.x + off[i] * D, g->out = out + off[i] * D;
            g->dout = f.dout + off[i] * D, g->dx = dx + off[i] * D;
            g->dweight = dw, g->dbias = db;
            g->state0 = i == 0 ? f.s0 : smid;
            g->state_final = i == 0 ? smid : send;
            g->dstate_final = i == 0 ? dmid : f.dsf;
            g->dstate0 = i == 0 ? ds0 : dmid;
        }
        assert_int_equal(conv_fwd_cpu(&seg[0]), 0);
        assert_int_equal(conv_fwd_cpu(&seg[1]), 0);
        check_same("streamed out", out, f.out, B * L * D);
        check_same("streamed state_final", send, f.sfin, ns);
        assert_int_equal(conv_bwd_cpu(&seg[1]), 0);
        assert_int_equal(conv_bwd_cpu(&seg[0]), 0);
        // sums split at the segment boundary are grouped differently: 1e-6
        check_rel("streamed dx", dx, f.dx, B * L * D, 1e-6);
        check_rel("streamed dweight", dw, f.dw, D * K, 1e-6);
        check_rel("streamed dbias", db, f.dbias, D, 1e-6);
        check_rel("streamed dstate0", ds0, f.ds0, ns, 1e-6);
        free(out), free(smid), free(send), free(dx), free(dw), free(db), free(ds0), free(dmid);
    }
    // state_final may be state0 (in place), even when L < K-1
    for (int64_t Ls = 1; Ls <= 3; Ls++) {
        Prob q = prob_new(1, Ls, 3, 5, HAS_STATE);
        Bufs g = bufs_new(&q);
        ConvArgs c;
        args_set(&c, &q, &g);
        assert_int_equal(conv_fwd_cpu(&c), 0);
        c.state_final = g.s0; // in place
        assert_int_equal(conv_fwd_cpu(&c), 0);
        check_same("in-place state", g.s0, g.sfin, 3 * 4);
        bufs_free(&g);
        prob_free(&q);
    }
    bufs_free(&f);
    prob_free(&p);
}

// x as the first half of a (B, L, 2D) buffer, out and dx strided, one sequence walked backwards.
static void test_views(void **state) {
    (void)state;
    const int64_t B = 2, L = 15, D = 5, K = 4;
    Prob p = prob_new(B, L, D, K, ALL);
    Bufs f = bufs_new(&p);
    ConvArgs a;
    args_set(&a, &p, &f);
    assert_int_equal(conv_fwd_cpu(&a), 0);
    assert_int_equal(conv_bwd_cpu(&a), 0);
    float *xz = fzero(B * L * 2 * D), *out = fzero(B * L * 2 * D), *dxz = fzero(B * L * 2 * D);
    float *dw = fzero(D * K), *db = fzero(D), *ds0 = fzero(B * D * (K - 1)),
          *sf = fzero(B * D * (K - 1));
    for (int64_t r = 0; r < B * L; r++)
        memcpy(xz + r * 2 * D, f.x + r * D, D * sizeof(float));
    ConvArgs v = a;
    v.x = xz, v.out = out + D, v.dx = dxz;
    v.x_stride_b = v.out_stride_b = v.dx_stride_b = L * 2 * D;
    v.x_stride_l = v.out_stride_l = v.dx_stride_l = 2 * D;
    v.dweight = dw, v.dbias = db, v.dstate0 = ds0, v.state_final = sf;
    assert_int_equal(conv_fwd_cpu(&v), 0);
    assert_int_equal(conv_bwd_cpu(&v), 0);
    for (int64_t r = 0; r < B * L; r++) {
        check_same("view out", out + r * 2 * D + D, f.out + r * D, D);
        check_same("view dx", dxz + r * 2 * D, f.dx + r * D, D);
    }
    check_same("view dweight", dw, f.dw, D * K);
    check_same("view dstate0", ds0, f.ds0, B * D * (K - 1));
    // reversed: token stride -D from the last token ≡ a forward on a flipped copy
    Prob q = p;
    q.x = malloc((size_t)(B * L * D) * sizeof(double));
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < L; t++)
            memcpy(q.x + (b * L + t) * D, p.x + (b * L + L - 1 - t) * D, D * sizeof(double));
    Bufs g = bufs_new(&q);
    ConvArgs c, r;
    args_set(&c, &q, &g);
    assert_int_equal(conv_fwd_cpu(&c), 0);
    float *out_rev = fzero(B * L * D);
    r = c;
    r.x = f.x + (L - 1) * D, r.out = out_rev + (L - 1) * D, r.state_final = NULL;
    r.x_stride_l = r.out_stride_l = -D;
    assert_int_equal(conv_fwd_cpu(&r), 0);
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < L; t++)
            check_same("reversed out", out_rev + (b * L + t) * D, g.out + (b * L + L - 1 - t) * D,
                       D);
    free(out_rev), free(q.x);
    q.x = NULL;
    bufs_free(&g);
    free(xz), free(out), free(dxz), free(dw), free(db), free(ds0), free(sf);
    bufs_free(&f);
    prob_free(&p);
}

static void test_thread_count_independent(void **state) {
    (void)state;
    const int64_t B = 2, L = 50, D = 200, K = 4;
    Prob p = prob_new(B, L, D, K, ALL);
    Bufs f1 = bufs_new(&p), f3 = bufs_new(&p);
    ConvArgs a1, a3;
    args_set(&a1, &p, &f1);
    args_set(&a3, &p, &f3);
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    assert_int_equal(conv_fwd_cpu(&a1), 0);
    assert_int_equal(conv_bwd_cpu(&a1), 0);
    omp_set_num_threads(3);
    assert_int_equal(conv_fwd_cpu(&a3), 0);
    assert_int_equal(conv_bwd_cpu(&a3), 0);
    omp_set_num_threads(saved);
    check_same("out", f3.out, f1.out, B * L * D);
    check_same("dx", f3.dx, f1.dx, B * L * D);
    check_same("dweight", f3.dw, f1.dw, D * K);
    check_same("dbias", f3.dbias, f1.dbias, D);
    bufs_free(&f1);
    bufs_free(&f3);
    prob_free(&p);
}

static void expect_err(const ConvArgs *a, int which, int code, const char *needle) {
    int rc = which == 0 ? conv_fwd_cpu(a) : which == 1 ? conv_bwd_cpu(a) : conv_step_cpu(a);
    if (rc != code)
        fail_msg("expected code %d (%s), got %d: %s", code, needle, rc, ls_error_message());
    if (!strstr(ls_error_message(), needle))
        fail_msg("message \"%s\" does not name \"%s\"", ls_error_message(), needle);
}

static void test_invalid_arguments(void **state) {
    (void)state;
    Prob p = prob_new(1, 10, 3, 4, ALL);
    Bufs f = bufs_new(&p);
    ConvArgs ok, a;
    args_set(&ok, &p, &f);
    // clang-format off
    a = ok, a.L = 0;            expect_err(&a, 0, LS_ERR_RANGE, "L = 0");
    a = ok, a.B = -2;           expect_err(&a, 1, LS_ERR_RANGE, "B = -2");
    a = ok, a.D = 0;            expect_err(&a, 0, LS_ERR_RANGE, "D = 0");
    a = ok, a.K = 0;            expect_err(&a, 0, LS_ERR_RANGE, "K = 0");
    a = ok, a.K = CONV_K_MAX + 1; expect_err(&a, 0, LS_ERR_RANGE, "K = 65");
    a = ok, a.B = INT64_MAX / 2, a.D = INT64_MAX / 2; expect_err(&a, 0, LS_ERR_RANGE, "overflow");
    a = ok, a.x = NULL;         expect_err(&a, 0, LS_ERR_USAGE, "x is NULL");
    a = ok, a.weight = NULL;    expect_err(&a, 1, LS_ERR_USAGE, "weight is NULL");
    a = ok, a.out = NULL;       expect_err(&a, 0, LS_ERR_USAGE, "out is NULL");
    a = ok, a.dout = NULL;      expect_err(&a, 1, LS_ERR_USAGE, "dout is NULL");
    a = ok, a.dx = NULL;        expect_err(&a, 1, LS_ERR_USAGE, "dx is NULL");
    a = ok, a.dweight = NULL;   expect_err(&a, 1, LS_ERR_USAGE, "dweight is NULL");
    a = ok, a.dbias = NULL;     expect_err(&a, 1, LS_ERR_USAGE, "dbias is NULL");
    a = ok, a.bias = NULL;      expect_err(&a, 1, LS_ERR_USAGE, "bias is absent");
    a = ok, a.silu = 3;         expect_err(&a, 0, LS_ERR_USAGE, "silu = 3");
    a = ok, a.out_stride_l = 1; expect_err(&a, 0, LS_ERR_USAGE, "output out strides");
    a = ok, a.dx_stride_l = 0;  expect_err(&a, 1, LS_ERR_USAGE, "output dx strides");
    a = ok, a.x_stride_l = INT64_MAX; expect_err(&a, 0, LS_ERR_RANGE, "overflow");
    a = ok;                     expect_err(&a, 2, LS_ERR_RANGE, "L = 10");
    a = ok, a.L = 1;            expect_err(&a, 2, LS_ERR_USAGE, "state is NULL");
    // clang-format on
    assert_int_equal(conv_args_check(NULL, CONV_OP_FWD), LS_ERR_USAGE);
    bufs_free(&f);
    prob_free(&p);
}

int main(void) {
    const char *env = getenv("LS_TEST_SEED");
    uint64_t seed =
        env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    rng_state = seed;
    printf("# test_conv seed = %llu (LS_TEST_SEED=%llu replays it)\n", (unsigned long long)seed,
           (unsigned long long)seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_vs_reference),
        cmocka_unit_test(test_backward_vs_finite_differences),
        cmocka_unit_test(test_backward_accumulates),
        cmocka_unit_test(test_step_equals_forward),
        cmocka_unit_test(test_streaming),
        cmocka_unit_test(test_views),
        cmocka_unit_test(test_thread_count_independent),
        cmocka_unit_test(test_invalid_arguments),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests_name("conv", tests, NULL, NULL);
}
