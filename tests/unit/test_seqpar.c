/*
 * test_seqpar.c — sequence parallelism (kernels/seqpar.h) simulated on the CPU: one (B, L)
 * input split into G slices, each slice computed by the seqpar steps from its own tokens plus
 * the small tensors its neighbours pass (scan: decay product and end state, dh0; conv: the
 * K−1 halo and its gradient), against one call of the scan / conv over the whole sequence.
 * G ∈ {1, 2, 3, 5, 8}, random slice lengths (L = 37 and 2003 are prime: no G divides them; one
 * slice of one token, some shorter than the scan chunk and than K−1), packed resets at random
 * tokens and forced onto slice starts and onto the token before them, both walk directions
 * (the reverse one as negative-stride views, as bimamba runs it), every output and gradient
 * compared.
 *
 * Tolerances. The split re-associates fp32 arithmetic: h = P·h_in + e instead of one running
 * recurrence, the backward's dout and dh_final terms in two passes, every sum over tokens
 * grouped by slice. Per-token outputs and gradients and the (B, D, N) states:
 * |split − whole| <= 2e-5·max(1, |whole|). Their terms are bounded (decays exp(dt·A) <= 1), so
 * at L = 37 the reordering moves them by at most ~L·2⁻²⁴ ≈ 2.2e-6; at L = 2003 the errors seen
 * stayed below 2e-6 too (the forgetting of the recurrence keeps them from growing with L).
 * Parameter gradients (dA, dD_skip, ddelta_bias, dweight, dbias) are sums over all B·L tokens
 * whose rounding grows like the square root of the number of terms: 2e-5·sqrt(B·L / 74), which
 * is 2e-5 at the short case (B·L = 74) and 1.5e-4 at L = 2003 (seen: <= 6.3e-6). A wrong
 * combine (a missing P, a skipped carry pass, an unmasked or dropped halo) errs by O(0.1–1).
 * Each test prints its worst error in units of its tolerance as a TAP comment.
 *
 * Inputs are random from a seed printed as a TAP comment; LS_TEST_SEED=<n> replays a run.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kernels/seqpar.h"

#define TOL 2e-5

static uint64_t rng_state;

static uint64_t rng_next(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static float rng_unif(double lo, double hi) {
    return (float)(lo + (hi - lo) * (double)(rng_next() >> 11) * 0x1.0p-53);
}

static float *frand(int64_t n, double lo, double hi) {
    float *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n; i++)
        x[i] = rng_unif(lo, hi);
    return x;
}

static float *fzero(int64_t n) {
    return calloc((size_t)(n > 0 ? n : 1), sizeof(float));
}

static double worst_seen; // largest |split − whole| / (tol·max(1, |whole|)) of a test

// Fails unless |got − want| <= tol·max(1, |want|) everywhere; names the worst element.
static void check_split(const char *what, int G, int dir, const float *got, const float *want,
                        int64_t n, double tol) {
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]) / fmax(1.0, fabs(want[i]));
        if (!(e <= tol))
            fail_msg("G=%d %s %s[%lld] = %.9g, expected %.9g (|diff| %.3g > %.1e·max(1,|ref|))",
                     G, dir ? "reverse" : "forward", what, (long long)i, got[i], want[i],
                     fabs(got[i] - want[i]), tol);
        if (e / tol > worst_seen) worst_seen = e / tol;
    }
}

// G slices of L tokens: G−1 distinct random cuts in 1..L−1, one of the slices a single token
// when G > 2 (bounds has G+1 entries).
static void random_bounds(int G, int64_t L, int64_t *bounds) {
    bounds[0] = 0, bounds[G] = L;
    for (;;) {
        for (int g = 1; g < G; g++)
            bounds[g] = 1 + (int64_t)(rng_next() % (uint64_t)(L - 1));
        for (int i = 1; i < G; i++) // insertion sort
            for (int j = i; j > 1 && bounds[j - 1] > bounds[j]; j--) {
                int64_t t = bounds[j];
                bounds[j] = bounds[j - 1], bounds[j - 1] = t;
            }
        if (G > 2) { // force one single-token slice: [bounds[g], bounds[g] + 1)
            int g = 1 + (int)(rng_next() % (uint64_t)(G - 2));
            bounds[g + 1] = bounds[g] + 1;
        }
        int ok = 1, one = G <= 2;
        for (int g = 0; g < G; g++) {
            ok &= bounds[g + 1] > bounds[g];
            one |= bounds[g + 1] - bounds[g] == 1;
        }
        if (ok && one) return;
    }
}

// Resets (B, L) in storage order: about 1 in 6 tokens, plus, in walk order @p dir, a start on
// every other slice start and one on the token before some other slice start.
static uint8_t *random_resets(int64_t B, int64_t L, int G, const int64_t *bounds, int dir) {
    uint8_t *r = calloc((size_t)(B * L), 1);
    for (int64_t i = 0; i < B * L; i++)
        r[i] = rng_unif(0, 1) < 1.0 / 6;
    for (int64_t b = 0; b < B; b++)
        for (int g = 1; g < G; g++) {
            int64_t w = g % 2 ? bounds[g] : bounds[g] - 1; // walk position
            int64_t t = dir ? L - 1 - w : w;
            if ((g + b) % 3 != 2) r[b * L + t] = 1;
        }
    return r;
}

// ---------------------------------------------------------------------------------------- scan

typedef struct {
    float *u, *delta, *z, *Bm, *Cm, *A, *Dsk, *bias, *h0, *dout, *dhfin; // inputs
    float *out, *hfin, *du, *ddelta, *dz, *dB, *dC, *dA, *dD, *dbias, *dh0; // outputs
} ScanBufs;

static void scan_outputs_new(ScanBufs *f, int64_t B, int64_t L, int64_t D, int64_t N) {
    f->out = fzero(B * L * D), f->hfin = fzero(B * D * N);
    f->du = fzero(B * L * D), f->ddelta = fzero(B * L * D), f->dz = fzero(B * L * D);
    f->dB = fzero(B * L * N), f->dC = fzero(B * L * N), f->dA = fzero(D * N);
    f->dD = fzero(D), f->dbias = fzero(D), f->dh0 = fzero(B * D * N);
}

static void scan_outputs_free(ScanBufs *f) {
    float *all[] = {f->out, f->hfin, f->du, f->ddelta, f->dz, f->dB,
                    f->dC,  f->dA,   f->dD, f->dbias,  f->dh0};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
}

// The whole-sequence arguments in walk direction @p dir (1: every (B, L, ·) view starts at the
// last token with a negative token stride, as the reverse half of a bimamba block).
static void scan_whole_args(ScanArgs *a, const ScanBufs *in, const ScanBufs *o,
                            const uint8_t *reset, int64_t B, int64_t L, int64_t D, int64_t N,
                            int64_t chunk, int dir) {
    scan_args_init(a, B, L, D, N);
    a->chunk = chunk;
    int64_t od = dir ? (L - 1) * D : 0, on = dir ? (L - 1) * N : 0, sd = dir ? -D : D,
            sn = dir ? -N : N;
    a->u = in->u + od, a->delta = in->delta + od, a->z = in->z + od;
    a->B_ssm = in->Bm + on, a->C_ssm = in->Cm + on;
    a->A = in->A, a->D_skip = in->Dsk, a->delta_bias = in->bias, a->h0 = in->h0;
    a->reset = reset + (dir ? L - 1 : 0), a->reset_stride_l = dir ? -1 : 1;
    a->out = o->out + od, a->h_final = o->hfin;
    a->dout = in->dout + od, a->dh_final = in->dhfin;
    a->du = o->du + od, a->ddelta = o->ddelta + od, a->dz = o->dz + od;
    a->dB_ssm = o->dB + on, a->dC_ssm = o->dC + on;
    a->dA = o->dA, a->dD_skip = o->dD, a->ddelta_bias = o->dbias, a->dh0 = o->dh0;
    a->u_stride_l = a->delta_stride_l = a->z_stride_l = a->out_stride_l = sd;
    a->dout_stride_l = a->du_stride_l = a->ddelta_stride_l = a->dz_stride_l = sd;
    a->B_ssm_stride_l = a->C_ssm_stride_l = a->dB_ssm_stride_l = a->dC_ssm_stride_l = sn;
}

// Slice [s, s + len) in walk order of the whole view @p w: every (B, L, ·) pointer moved by s
// tokens along its own stride. States and checkpoints are set by the caller.
static ScanArgs scan_slice(const ScanArgs *w, int64_t s, int64_t len) {
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

// The G-slice forward and backward of the whole view @p w, the way G devices would run it
// (each loop over g is what the devices do in parallel; the combines are the exchange).
static void scan_split_run(const ScanArgs *w, int G, const int64_t *bounds) {
    const int64_t n = w->B * w->D * w->N;
    float *ones = malloc((size_t)n * sizeof *ones), *zeros = fzero(w->D);
    for (int64_t i = 0; i < n; i++)
        ones[i] = 1.0f;
    float *decay[8], *end[8], *h_in[8], *dloc[8], *dH[9], *ckpt[8];
    void *ws[8];
    ScanArgs sl[8];
    for (int g = 0; g < G; g++) {
        sl[g] = scan_slice(w, bounds[g], bounds[g + 1] - bounds[g]);
        decay[g] = fzero(n), end[g] = fzero(n), h_in[g] = fzero(n), dloc[g] = fzero(n);
        ckpt[g] = fzero(scan_ckpt_numel(&sl[g]));
        sl[g].workspace_bytes = scan_bwd_workspace_size_cpu(&sl[g]);
        ws[g] = malloc(sl[g].workspace_bytes);
        sl[g].workspace = ws[g];
    }
    for (int g = 0; g <= G; g++)
        dH[g] = fzero(n);

    for (int g = 0; g < G; g++)
        assert_int_equal(
            seqpar_scan_summary(&seqpar_ops_cpu, &sl[g], ones, zeros, end[g], decay[g]), 0);
    seqpar_scan_combine_fwd(G, n, (const float *const *)decay, (const float *const *)end, w->h0,
                            h_in);
    for (int g = 0; g < G; g++) {
        sl[g].h0 = h_in[g], sl[g].ckpt = ckpt[g];
        sl[g].h_final = g == G - 1 ? w->h_final : NULL;
        assert_int_equal(seqpar_ops_cpu.scan_fwd(&sl[g]), 0);
    }

    for (int g = 0; g < G; g++)
        assert_int_equal(seqpar_scan_bwd_local(&seqpar_ops_cpu, &sl[g], dloc[g]), 0);
    seqpar_scan_combine_bwd(G, n, (const float *const *)decay, (const float *const *)dloc,
                            w->dh_final, dH);
    for (int g = 0; g < G; g++)
        if (g < G - 1 || w->dh_final)
            assert_int_equal(seqpar_scan_bwd_carry(&seqpar_ops_cpu, &sl[g], dH[g + 1], zeros), 0);
    for (int64_t i = 0; i < n; i++)
        w->dh0[i] += dH[0][i];

    for (int g = 0; g < G; g++)
        free(decay[g]), free(end[g]), free(h_in[g]), free(dloc[g]), free(ckpt[g]), free(ws[g]);
    for (int g = 0; g <= G; g++)
        free(dH[g]);
    free(ones), free(zeros);
}

static void scan_case(int G, int dir, int64_t L, int64_t chunk) {
    const int64_t B = 2, D = 18, N = 4;
    int64_t bounds[9];
    random_bounds(G, L, bounds);
    ScanBufs in = {0}, one = {0}, split = {0};
    in.u = frand(B * L * D, -1, 1), in.delta = frand(B * L * D, -3, 1);
    in.z = frand(B * L * D, -2, 2), in.Bm = frand(B * L * N, -1, 1);
    in.Cm = frand(B * L * N, -1, 1), in.A = frand(D * N, -1, 1.5);
    for (int64_t i = 0; i < D * N; i++)
        in.A[i] = -expf(in.A[i]);
    in.Dsk = frand(D, -1, 1), in.bias = frand(D, -1, 0.5), in.h0 = frand(B * D * N, -1, 1);
    in.dout = frand(B * L * D, -1, 1), in.dhfin = frand(B * D * N, -1, 1);
    uint8_t *reset = random_resets(B, L, G, bounds, dir);
    scan_outputs_new(&one, B, L, D, N);
    scan_outputs_new(&split, B, L, D, N);

    ScanArgs a, s;
    scan_whole_args(&a, &in, &one, reset, B, L, D, N, chunk, dir);
    float *ck = fzero(scan_ckpt_numel(&a));
    a.ckpt = ck;
    a.workspace_bytes = scan_bwd_workspace_size_cpu(&a);
    a.workspace = malloc(a.workspace_bytes);
    assert_int_equal(scan_fwd_cpu(&a), 0);
    assert_int_equal(scan_bwd_cpu(&a), 0);

    scan_whole_args(&s, &in, &split, reset, B, L, D, N, chunk, dir);
    scan_split_run(&s, G, bounds);

    const double tol_sum = TOL * sqrt((double)(B * L) / 74.0); // parameter sums over B·L tokens
    check_split("out", G, dir, split.out, one.out, B * L * D, TOL);
    check_split("h_final", G, dir, split.hfin, one.hfin, B * D * N, TOL);
    check_split("du", G, dir, split.du, one.du, B * L * D, TOL);
    check_split("ddelta", G, dir, split.ddelta, one.ddelta, B * L * D, TOL);
    check_split("dz", G, dir, split.dz, one.dz, B * L * D, TOL);
    check_split("dB", G, dir, split.dB, one.dB, B * L * N, TOL);
    check_split("dC", G, dir, split.dC, one.dC, B * L * N, TOL);
    check_split("dA", G, dir, split.dA, one.dA, D * N, tol_sum);
    check_split("dD_skip", G, dir, split.dD, one.dD, D, tol_sum);
    check_split("ddelta_bias", G, dir, split.dbias, one.dbias, D, tol_sum);
    check_split("dh0", G, dir, split.dh0, one.dh0, B * D * N, TOL);

    free(ck), free(a.workspace), free(reset);
    scan_outputs_free(&one), scan_outputs_free(&split);
    float *ins[] = {in.u,   in.delta, in.z,  in.Bm,   in.Cm,   in.A,
                    in.Dsk, in.bias,  in.h0, in.dout, in.dhfin};
    for (size_t i = 0; i < sizeof ins / sizeof ins[0]; i++)
        free(ins[i]);
}

static const int Gs[] = {1, 2, 3, 5, 8};

static void test_scan_split_equals_whole(void **state) {
    (void)state;
    worst_seen = 0;
    for (int dir = 0; dir < 2; dir++)
        for (size_t k = 0; k < sizeof Gs / sizeof Gs[0]; k++)
            for (int rep = 0; rep < 3; rep++)
                scan_case(Gs[k], dir, 37, rep == 0 ? 4 : rep == 1 ? 5 : 128);
    // long slices: the error must not grow with the length (older state decays away)
    for (int dir = 0; dir < 2; dir++)
        for (size_t k = 0; k < sizeof Gs / sizeof Gs[0]; k++)
            scan_case(Gs[k], dir, 2003, 128);
    printf("# scan: max |split - whole| / (tol * max(1, |whole|)) = %.3f (pass: <= 1)\n",
           worst_seen);
}

// ---------------------------------------------------------------------------------------- conv

typedef struct {
    float *out, *sfin, *dx, *dw, *db, *ds0;
} ConvOuts;

static void conv_whole_args(ConvArgs *a, const float *x, const float *w, const float *bias,
                            const float *s0, const float *dout, const float *dsf,
                            const uint8_t *reset, const ConvOuts *o, int64_t B, int64_t L,
                            int64_t D, int64_t K, int dir) {
    conv_args_init(a, B, L, D, K);
    a->silu = 1;
    int64_t od = dir ? (L - 1) * D : 0, sd = dir ? -D : D;
    a->x = x + od, a->weight = w, a->bias = bias, a->state0 = s0;
    a->reset = reset + (dir ? L - 1 : 0), a->reset_stride_l = dir ? -1 : 1;
    a->out = o->out + od, a->state_final = o->sfin;
    a->dout = dout + od, a->dstate_final = dsf;
    a->dx = o->dx + od, a->dweight = o->dw, a->dbias = o->db, a->dstate0 = o->ds0;
    a->x_stride_l = a->out_stride_l = a->dout_stride_l = a->dx_stride_l = sd;
}

static ConvArgs conv_slice(const ConvArgs *w, int64_t s, int64_t len) {
    ConvArgs a = *w;
    a.L = len;
#define MOVE(p) a.p = w->p + s * w->p##_stride_l
    MOVE(x), MOVE(reset), MOVE(out), MOVE(dout), MOVE(dx);
#undef MOVE
    a.state0 = NULL, a.state_final = NULL, a.dstate_final = NULL, a.dstate0 = NULL;
    return a;
}

// G slices: slice g's state0 is its halo (slice 0: the whole conv's state0); the last slice
// writes the whole conv's state_final. Backward: each slice's dstate0 goes back into the dx of
// the tokens before it (and the whole dstate0 while the halo reaches before token 0).
static void conv_split_run(const ConvArgs *w, int G, const int64_t *bounds) {
    const int64_t B = w->B, D = w->D, K = w->K, ns = B * D * (K - 1);
    float *halo[8], *dhalo[8], *scratch = fzero(B * (K - 1) * D), *zeros = fzero(D);
    float *dw_scratch = fzero(D * K);
    ConvArgs sl[8], prev[8];
    for (int g = 0; g < G; g++) {
        int64_t s = bounds[g], m = s < K - 1 ? s : K - 1;
        sl[g] = conv_slice(w, s, bounds[g + 1] - s);
        halo[g] = fzero(ns), dhalo[g] = fzero(ns);
        if (g > 0 && K > 1) {
            prev[g] = conv_slice(w, s - m, m);
            prev[g].state0 = s - m == 0 ? w->state0 : NULL;
            prev[g].dstate0 = s - m == 0 ? w->dstate0 : NULL;
            assert_int_equal(seqpar_conv_halo_fwd(&seqpar_ops_cpu, &prev[g], halo[g], scratch),
                             0);
        }
        sl[g].state0 = g == 0 || K == 1 ? w->state0 : halo[g];
        sl[g].dstate0 = g == 0 || K == 1 ? w->dstate0 : dhalo[g];
        sl[g].state_final = g == G - 1 ? w->state_final : NULL;
        sl[g].dstate_final = g == G - 1 ? w->dstate_final : NULL;
    }
    for (int g = 0; g < G; g++)
        assert_int_equal(seqpar_ops_cpu.conv_fwd(&sl[g]), 0);
    for (int g = 0; g < G; g++)
        assert_int_equal(seqpar_ops_cpu.conv_bwd(&sl[g]), 0);
    for (int g = 1; g < G && K > 1; g++)
        assert_int_equal(
            seqpar_conv_halo_bwd(&seqpar_ops_cpu, &prev[g], dhalo[g], zeros, dw_scratch), 0);
    for (int g = 0; g < G; g++)
        free(halo[g]), free(dhalo[g]);
    free(scratch), free(zeros), free(dw_scratch);
}

static void conv_case(int G, int dir, int64_t K) {
    const int64_t B = 2, L = 37, D = 70, ns = B * D * (K - 1);
    int64_t bounds[9];
    random_bounds(G, L, bounds);
    float *x = frand(B * L * D, -1, 1), *w = frand(D * K, -1, 1), *bias = frand(D, -1, 1);
    float *s0 = frand(ns, -1, 1), *dout = frand(B * L * D, -1, 1), *dsf = frand(ns, -1, 1);
    uint8_t *reset = random_resets(B, L, G, bounds, dir);
    ConvOuts o1 = {fzero(B * L * D), fzero(ns), fzero(B * L * D), fzero(D * K), fzero(D),
                   fzero(ns)};
    ConvOuts o2 = {fzero(B * L * D), fzero(ns), fzero(B * L * D), fzero(D * K), fzero(D),
                   fzero(ns)};
    ConvArgs a, s;
    conv_whole_args(&a, x, w, bias, s0, dout, dsf, reset, &o1, B, L, D, K, dir);
    if (K == 1) a.state0 = NULL, a.state_final = NULL, a.dstate_final = NULL, a.dstate0 = NULL;
    assert_int_equal(conv_fwd_cpu(&a), 0);
    assert_int_equal(conv_bwd_cpu(&a), 0);
    conv_whole_args(&s, x, w, bias, s0, dout, dsf, reset, &o2, B, L, D, K, dir);
    if (K == 1) s.state0 = NULL, s.state_final = NULL, s.dstate_final = NULL, s.dstate0 = NULL;
    conv_split_run(&s, G, bounds);

    const double tol_sum = TOL; // B·L = 74: the base case
    check_split("conv out", G, dir, o2.out, o1.out, B * L * D, TOL);
    check_split("conv state_final", G, dir, o2.sfin, o1.sfin, ns, TOL);
    check_split("conv dx", G, dir, o2.dx, o1.dx, B * L * D, TOL);
    check_split("conv dweight", G, dir, o2.dw, o1.dw, D * K, tol_sum);
    check_split("conv dbias", G, dir, o2.db, o1.db, D, tol_sum);
    check_split("conv dstate0", G, dir, o2.ds0, o1.ds0, ns, TOL);

    float *all[] = {x,      w,      bias,  s0,     dout,   dsf,    o1.out, o1.sfin, o1.dx,
                    o1.dw,  o1.db,  o1.ds0, o2.out, o2.sfin, o2.dx, o2.dw,  o2.db,   o2.ds0};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
    free(reset);
}

static void test_conv_split_equals_whole(void **state) {
    (void)state;
    worst_seen = 0;
    const int64_t Ks[] = {4, 7, 1};
    for (int dir = 0; dir < 2; dir++)
        for (size_t k = 0; k < sizeof Gs / sizeof Gs[0]; k++)
            for (size_t j = 0; j < sizeof Ks / sizeof Ks[0]; j++)
                conv_case(Gs[k], dir, Ks[j]);
    printf("# conv: max |split - whole| / (tol * max(1, |whole|)) = %.3f (pass: <= 1)\n",
           worst_seen);
}

int main(void) {
    const char *env = getenv("LS_TEST_SEED");
    uint64_t seed =
        env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    rng_state = seed;
    printf("# test_seqpar seed = %llu (LS_TEST_SEED=%llu replays it)\n",
           (unsigned long long)seed, (unsigned long long)seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_split_equals_whole),
        cmocka_unit_test(test_conv_split_equals_whole),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests_name("seqpar", tests, NULL, NULL);
}
