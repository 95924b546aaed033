/*
 * test_dropout.c — kernels/dropout.h on the CPU (the specification).
 *
 * Keep rate: over 2²⁰ elements the kept count is within 6 binomial standard deviations of
 * n·(1 − p) for p = 0.1, 0.5, 0.9; kept values are exactly x·scale, dropped ones exactly 0;
 * p = 0 keeps every value bit for bit. Independence: masks of neighbouring steps, sites, seeds
 * and of neighbouring elements agree as often as independent draws would (p² + (1−p)², within
 * 6σ). Placement: a (Be, L, W) tensor walked in tiles of 1, 4, 7 and L positions, forward and
 * reversed within each row's length (and reversed per packed sequence by a mirror map), gathered
 * and scattered as the models do, gives exactly the mask of the whole tensor computed element
 * by element from dropout_bits(); positions past a row's length come out 0. Threads: 1 and 2
 * give the same bytes. Backward: dx = dy·m·scale with the forward's mask, checked against
 * central finite differences of Σ w·y (the mask held fixed); in place equals out of place.
 * Invalid arguments are refused with a message naming them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/dropout.h"
#include "kernels/glue.h"
#include "tests/kernel_check.h"

#define OK(expr)                                                                                   \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ != 0) fail_msg("%s returned %d: %s", #expr, rc_, ls_error_message());              \
    } while (0)

// Kept elements of y = drop(ones): y is 0 or scale, nothing else.
static int64_t count_kept(const float *y, int64_t n, float scale) {
    int64_t kept = 0;
    for (int64_t i = 0; i < n; i++) {
        if (y[i] == scale) kept++;
        else if (y[i] != 0.0f) fail_msg("y[%lld] = %.9g, expected 0 or %.9g", (long long)i,
                                         (double)y[i], (double)scale);
    }
    return kept;
}

static void expect_binomial(const char *what, int64_t hits, int64_t n, double q) {
    const double mean = (double)n * q, sd = sqrt((double)n * q * (1 - q));
    printf("#   %-44s %lld of %lld (expected %.0f ± %.0f)\n", what, (long long)hits,
           (long long)n, mean, sd);
    if (!(fabs((double)hits - mean) <= 6 * sd))
        fail_msg("%s: %lld of %lld, expected %.1f within 6σ = %.1f", what, (long long)hits,
                 (long long)n, mean, 6 * sd);
}

static float *ones(int64_t n) {
    float *x = kc_floats(n);
    for (int64_t i = 0; i < n; i++) x[i] = 1.0f;
    return x;
}

// y = drop(x) of a flat (rows, W) tensor.
static void drop_flat(float *y, const float *x, double p, uint64_t seed, uint64_t step,
                      uint32_t site, int64_t rows, int64_t W) {
    DropoutArgs a;
    dropout_args_init(&a, p, seed, step, site, rows, W);
    a.x = x, a.y = y;
    OK(dropout_fwd_cpu(&a));
}

// ------------------------------------------------------------------------------ keep rate

static void test_keep_rate(void **state) {
    (void)state;
    const int64_t n = 1 << 20, W = 256;
    float *x = ones(n), *y = kc_floats(n);
    const double ps[3] = {0.1, 0.5, 0.9};
    for (int i = 0; i < 3; i++) {
        drop_flat(y, x, ps[i], 42, 7, 3, n / W, W);
        const float scale = dropout_scale(ps[i]);
        char what[64];
        snprintf(what, sizeof what, "p = %.1f: kept", ps[i]);
        expect_binomial(what, count_kept(y, n, scale), n, 1 - ps[i]);
    }
    // kept values are x·scale exactly (random x), dropped ones 0
    KcRng r = kc_rng(1);
    float *xr = kc_rand_floats(&r, n, -3, 3), *m = kc_floats(n);
    drop_flat(y, xr, 0.3, 42, 7, 3, n / W, W);
    drop_flat(m, x, 0.3, 42, 7, 3, n / W, W);
    const float scale = dropout_scale(0.3);
    for (int64_t k = 0; k < n; k++) {
        const float want = m[k] != 0.0f ? xr[k] * scale : 0.0f;
        if (memcmp(&y[k], &want, sizeof want) != 0 && !(y[k] == 0.0f && want == 0.0f))
            fail_msg("p 0.3: y[%lld] = %.9g, expected %.9g", (long long)k, (double)y[k],
                     (double)want);
    }
    // p = 0: the identity, bit for bit
    drop_flat(y, xr, 0.0, 42, 7, 3, n / W, W);
    kc_check_same("p = 0", y, xr, n);
    assert_int_equal(dropout_threshold(0.0), 0);
    assert_true(dropout_scale(0.0) == 1.0f);
    free(x), free(y), free(xr), free(m);
}

// ------------------------------------------------------------------------------ independence

// How often two masks (drop(ones) outputs) agree, element by element.
static int64_t agreements(const float *a, const float *b, int64_t n) {
    int64_t same = 0;
    for (int64_t i = 0; i < n; i++) same += (a[i] != 0.0f) == (b[i] != 0.0f);
    return same;
}

static void test_independence(void **state) {
    (void)state;
    const int64_t n = 1 << 20, W = 64;
    const double p = 0.5, q = p * p + (1 - p) * (1 - p);
    float *x = ones(n), *a = kc_floats(n), *b = kc_floats(n);
    drop_flat(a, x, p, 9, 100, 4, n / W, W);
    drop_flat(b, x, p, 9, 101, 4, n / W, W);
    expect_binomial("step s vs s + 1: same fate", agreements(a, b, n), n, q);
    drop_flat(b, x, p, 9, 100, 5, n / W, W);
    expect_binomial("site k vs k + 1: same fate", agreements(a, b, n), n, q);
    drop_flat(b, x, p, 10, 100, 4, n / W, W);
    expect_binomial("seed vs seed + 1: same fate", agreements(a, b, n), n, q);
    // neighbouring elements of one mask (g, g + 1) and elements W apart (the next row)
    expect_binomial("element g vs g + 1: same fate", agreements(a, a + 1, n - 1), n - 1, q);
    expect_binomial("element g vs g + W: same fate", agreements(a, a + W, n - W), n - W, q);
    // the same arguments draw the same mask
    drop_flat(b, x, p, 9, 100, 4, n / W, W);
    kc_check_same("same (seed, step, site)", a, b, n);
    free(x), free(a), free(b);
}

// ------------------------------------------------------------------------------ placement

// packed rows: each row's valid positions cut into sequences of 1..5, reversed in place
static void make_mirror(int32_t *mirror, const int64_t *len, int64_t Be, int64_t L, KcRng *r) {
    for (int64_t b = 0; b < Be; b++) {
        for (int64_t s = 0; s < L; s++) mirror[b * L + s] = (int32_t)s;
        for (int64_t a = 0; a < len[b];) {
            int64_t n = kc_int(r, 1, 5);
            if (a + n > len[b]) n = len[b] - a;
            for (int64_t s = a; s < a + n; s++) mirror[b * L + s] = (int32_t)(2 * a + n - 1 - s);
            a += n;
        }
    }
}

static void test_tiles_and_reversal(void **state) {
    (void)state;
    enum { Be = 3, L = 37, W = 5 };
    const int64_t len[Be] = {37, 20, 1};
    const double p = 0.4;
    const uint64_t seed = 77, step = 12;
    const uint32_t site = 6;
    KcRng r = kc_rng(2);
    float *X = kc_rand_floats(&r, Be * L * W, -2, 2);
    int32_t mirror[Be * L];
    make_mirror(mirror, len, Be, L, &r);
    // the reference, element by element from the mask's definition
    const uint64_t key = dropout_key(seed, step, site);
    const uint32_t threshold = dropout_threshold(p);
    const float scale = dropout_scale(p);
    float *want = kc_floats(Be * L * W);
    for (int64_t b = 0; b < Be; b++)
        for (int64_t pos = 0; pos < len[b]; pos++)
            for (int64_t w = 0; w < W; w++) {
                const int64_t g = (b * L + pos) * W + w;
                want[g] = X[g] * (dropout_bits(key, (uint64_t)g) >= threshold ? scale : 0.0f);
            }
    float *got = kc_floats(Be * L * W), *tile = kc_floats(Be * L * W);
    const int64_t tiles[4] = {1, 4, 7, L};
    for (int mode = 0; mode < 3; mode++) { // forward, reversed, reversed per packed sequence
        const int reverse = mode > 0;
        const int32_t *mir = mode == 2 ? mirror : NULL;
        for (int t = 0; t < 4; t++) {
            const int64_t Tt = tiles[t];
            memset(got, 0, (size_t)(Be * L * W) * sizeof *got);
            for (int64_t s0 = 0; s0 < L; s0 += Tt) {
                const int64_t nt = s0 + Tt <= L ? Tt : L - s0;
                OK(glue_rows_gather_cpu(tile, X, len, mir, Be, L, W, s0, nt, reverse));
                for (int64_t i = 0; i < Be * nt * W; i++) tile[i] += 100.0f; // past the lengths too
                DropoutArgs a;
                dropout_args_init(&a, p, seed, step, site, Be, W);
                dropout_args_rows(&a, Be, L, s0, nt, len, mir, reverse);
                a.x = a.y = tile; // in place, as the models run it
                OK(dropout_fwd_cpu(&a));
                for (int64_t b = 0; b < Be; b++)
                    for (int64_t s = 0; s < nt; s++)
                        for (int64_t w = 0; w < W; w++) {
                            float *v = &tile[(b * nt + s) * W + w];
                            if (s0 + s >= len[b] && *v != 0.0f) // past a row's length: 0
                                fail_msg("tile %lld: row %lld position %lld is past the length "
                                         "but %.9g, expected 0", (long long)Tt, (long long)b,
                                         (long long)(s0 + s), (double)*v);
                            if (*v != 0.0f) *v = (*v / scale - 100.0f) * scale; // x·scale again
                        }
                OK(glue_rows_scatter_add_cpu(got, tile, len, mir, Be, L, W, s0, nt, reverse));
            }
            // fate exactly, value within the rounding of the +100 round trip
            for (int64_t b = 0; b < Be; b++)
                for (int64_t pos = 0; pos < len[b]; pos++)
                    for (int64_t w = 0; w < W; w++) {
                        const int64_t g = (b * L + pos) * W + w;
                        if ((got[g] != 0.0f) != (want[g] != 0.0f) ||
                            !(fabs((double)got[g] - want[g]) <= 2e-4 * scale))
                            fail_msg("mode %d tile %lld: element (%lld, %lld, %lld) should be "
                                     "%.7g (%s), the walk gives %.7g", mode, (long long)Tt,
                                     (long long)b, (long long)pos, (long long)w, (double)want[g],
                                     want[g] != 0.0f ? "kept" : "dropped", (double)got[g]);
                    }
        }
    }
    // exactly: one tile of the whole tensor (forward walk), and the flat (Be·L, W) tensor
    {
        DropoutArgs a;
        dropout_args_init(&a, p, seed, step, site, Be, W);
        dropout_args_rows(&a, Be, L, 0, L, len, NULL, 0);
        a.x = X, a.y = tile;
        OK(dropout_fwd_cpu(&a));
        float *flat = kc_floats(Be * L * W);
        dropout_args_init(&a, p, seed, step, site, Be * L, W);
        a.x = X, a.y = flat;
        OK(dropout_fwd_cpu(&a));
        for (int64_t b = 0; b < Be; b++)
            for (int64_t i = b * L * W; i < (b * L + len[b]) * W; i++)
                if (memcmp(&tile[i], &want[i], 4) != 0 || memcmp(&flat[i], &want[i], 4) != 0)
                    fail_msg("[%lld]: one tile %.9g, flat %.9g, expected %.9g", (long long)i,
                             (double)tile[i], (double)flat[i], (double)want[i]);
        free(flat);
    }
    printf("#   tiles of 1, 4, 7, %d positions, forward / reversed / packed-reversed: every "
           "element's fate as the whole tensor's mask\n", L);
    free(X), free(want), free(got), free(tile);
}

// ------------------------------------------------------------------------------ threads

static void test_threads(void **state) {
    (void)state;
    const int64_t n = 1 << 18, W = 128;
    KcRng r = kc_rng(3);
    float *x = kc_rand_floats(&r, n, -1, 1), *a = kc_floats(n), *b = kc_floats(n);
    omp_set_num_threads(1);
    drop_flat(a, x, 0.25, 5, 6, 7, n / W, W);
    omp_set_num_threads(2);
    drop_flat(b, x, 0.25, 5, 6, 7, n / W, W);
    omp_set_num_threads(1);
    kc_check_same("1 vs 2 threads", a, b, n);
    free(x), free(a), free(b);
}

// ------------------------------------------------------------------------------ backward

typedef struct {
    double *x;
    const float *m; // drop(ones): the fixed mask times the scale
    const double *w;
    int64_t n;
} FdCtx;

static double fd_loss(void *ctx) {
    const FdCtx *c = ctx;
    double s = 0;
    for (int64_t i = 0; i < c->n; i++) s += c->w[i] * c->x[i] * (double)c->m[i];
    return s;
}

static void test_backward(void **state) {
    (void)state;
    enum { ROWS = 6, W = 11, N = ROWS * W };
    KcRng r = kc_rng(4);
    float *x = kc_rand_floats(&r, N, -1, 1), *w = kc_rand_floats(&r, N, -1, 1);
    float *m = kc_floats(N), *one = ones(N), *dx = kc_floats(N), *y = kc_floats(N);
    drop_flat(m, one, 0.5, 3, 4, 5, ROWS, W);
    DropoutArgs a;
    dropout_args_init(&a, 0.5, 3, 4, 5, ROWS, W);
    a.dy = w, a.dx = dx;
    OK(dropout_bwd_cpu(&a));
    FdCtx c = {kc_to_double(x, N), m, kc_to_double(w, N), N};
    double worst = kc_check_grad("x", c.x, N, fd_loss, &c, dx, 1e-6);
    printf("#   backward vs finite differences (fixed mask): worst rel. error %.2g\n", worst);
    // in place: the same bytes
    float *inplace = kc_copy_floats(w, N);
    a.dy = a.dx = inplace;
    OK(dropout_bwd_cpu(&a));
    kc_check_same("backward in place", inplace, dx, N);
    // the backward is the forward's map: drop(w) = bwd(w)
    a.x = w, a.y = y;
    OK(dropout_fwd_cpu(&a));
    kc_check_same("forward = backward map", y, dx, N);
    free(x), free(w), free(m), free(one), free(dx), free(y), free(inplace), free(c.x);
    free((void *)c.w);
}

// ------------------------------------------------------------------------------ errors

static void expect_error(const DropoutArgs *a, int backward, int code, const char *needle) {
    int rc = backward ? dropout_bwd_cpu(a) : dropout_fwd_cpu(a);
    if (rc != code || !strstr(ls_error_message(), needle))
        fail_msg("expected error %d mentioning '%s', got %d: %s", code, needle, rc,
                 ls_error_message());
}

static void test_invalid(void **state) {
    (void)state;
    float buf[8] = {0};
    int64_t len[2] = {4, 4};
    DropoutArgs a;
    dropout_args_init(&a, 1.0, 1, 1, 1, 2, 4);
    a.y = a.dx = buf;
    a.x = a.dy = buf;
    expect_error(&a, 0, LS_ERR_USAGE, "p = 1");
    a.p = -0.1;
    expect_error(&a, 1, LS_ERR_USAGE, "p = -0.1");
    a.p = NAN;
    expect_error(&a, 0, LS_ERR_USAGE, "p = nan");
    a.p = 0.5;
    a.y = NULL;
    expect_error(&a, 0, LS_ERR_USAGE, "y is NULL");
    a.y = buf, a.dx = NULL;
    expect_error(&a, 1, LS_ERR_USAGE, "dx is NULL");
    a.dx = buf;
    dropout_args_rows(&a, 2, 4, 2, 3, len, NULL, 0);
    expect_error(&a, 0, LS_ERR_USAGE, "s0 = 2");
    dropout_args_rows(&a, 2, 4, 0, 4, NULL, NULL, 1);
    expect_error(&a, 0, LS_ERR_USAGE, "needs lengths");
    dropout_args_rows(&a, 2, 1, 0, 1, NULL, NULL, 0);
    a.x_dtype = DTYPE_BF16;
    expect_error(&a, 0, LS_ERR_UNSUPPORTED, "bf16 on the CPU");
    a.x_dtype = (DType)7;
    expect_error(&a, 1, LS_ERR_USAGE, "dtypes 7");
    // nothing to do: no pointers needed
    dropout_args_init(&a, 0.5, 1, 1, 1, 0, 4);
    OK(dropout_fwd_cpu(&a));
    // the threshold's ends
    assert_true(dropout_threshold(0.5) == 0x80000000u);
    assert_true(dropout_threshold(0.9999999999999) == 0xFFFFFFFFu);
}

int main(void) {
    kc_seed("test_dropout");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keep_rate),   cmocka_unit_test(test_independence),
        cmocka_unit_test(test_tiles_and_reversal), cmocka_unit_test(test_threads),
        cmocka_unit_test(test_backward),    cmocka_unit_test(test_invalid),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests_name("dropout", tests, NULL, NULL);
}
