/*
 * kernel_check.h — shared helpers of the kernel unit tests (tests/unit/test_<op>.c):
 * a seeded RNG, float/double buffers, elementwise comparison with a stated tolerance, and
 * central finite differences in double.
 *
 * Seed: LS_TEST_SEED in the environment, else a fixed default; kc_seed() prints it as a TAP
 * comment so a failure can be replayed.
 *
 * Finite differences: the test writes its reference forward in double, as a function
 * returning loss = Σ w·out for fixed random weights w; kc_check_grad() perturbs each input
 * element by ±KC_FD_H and compares (loss+ − loss−)/2h with the fp32 backward run with
 * dout = w. With h = 1e-6 in double the difference quotient is exact to ~1e-9 for these
 * smooth, O(1) problems, so the tolerance measures the fp32 backward alone.
 *
 * Header-only (static functions) so each test program stays one file plus this header.
 * Failures go through cmocka's fail_msg with what was expected and what came.
 */
#ifndef LS_TESTS_KERNEL_CHECK_H
#define LS_TESTS_KERNEL_CHECK_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka.h must be included before this header */

#define KC_FD_H 1e-6

// ----------------------------------------------------------------------------- RNG

typedef struct {
    uint64_t state;
} KcRng;

static uint64_t kc_seed_value = 20261124;

/* Read LS_TEST_SEED once and print the seed as a TAP comment. */
static inline void kc_seed(const char *program) {
    const char *env = getenv("LS_TEST_SEED");
    if (env && *env) kc_seed_value = strtoull(env, NULL, 10);
    printf("# %s: seed %llu (set LS_TEST_SEED to replay)\n", program,
           (unsigned long long)kc_seed_value);
    fflush(stdout);
}

/* A stream per test case: the global seed mixed with a case number. */
static inline KcRng kc_rng(uint64_t stream) {
    KcRng r = {kc_seed_value * 0x9E3779B97F4A7C15ull + stream * 0xD1B54A32D192ED03ull + 1};
    return r;
}

static inline uint64_t kc_next(KcRng *r) { /* splitmix64 */
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* uniform in [lo, hi) */
static inline double kc_uniform(KcRng *r, double lo, double hi) {
    return lo + (hi - lo) * ((double)(kc_next(r) >> 11) * (1.0 / 9007199254740992.0));
}

static inline int64_t kc_int(KcRng *r, int64_t lo, int64_t hi_inclusive) {
    return lo + (int64_t)(kc_next(r) % (uint64_t)(hi_inclusive - lo + 1));
}

// ----------------------------------------------------------------------------- buffers

static inline float *kc_floats(int64_t n) {
    float *p = calloc((size_t)(n > 0 ? n : 1), sizeof(float));
    assert_non_null(p);
    return p;
}

static inline double *kc_doubles(int64_t n) {
    double *p = calloc((size_t)(n > 0 ? n : 1), sizeof(double));
    assert_non_null(p);
    return p;
}

/* n floats uniform in [lo, hi) */
static inline float *kc_rand_floats(KcRng *r, int64_t n, double lo, double hi) {
    float *p = kc_floats(n);
    for (int64_t i = 0; i < n; i++) p[i] = (float)kc_uniform(r, lo, hi);
    return p;
}

/* a double copy of n floats (the reference sees exactly the fp32 inputs) */
static inline double *kc_to_double(const float *src, int64_t n) {
    double *p = kc_doubles(n);
    for (int64_t i = 0; i < n; i++) p[i] = src[i];
    return p;
}

static inline float *kc_copy_floats(const float *src, int64_t n) {
    float *p = kc_floats(n);
    memcpy(p, src, (size_t)n * sizeof(float));
    return p;
}

// ----------------------------------------------------------------------------- comparison

/* |got − want| <= atol + rtol·|want| for every element, else fail naming the first bad one.
 * Returns the largest |got − want| seen (for the TAP comment of the calling test). */
static inline double kc_check_close(const char *what, const float *got, const double *want,
                                    int64_t n, double atol, double rtol) {
    double worst = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double diff = fabs((double)got[i] - want[i]);
        if (!(diff <= atol + rtol * fabs(want[i])))
            fail_msg("%s[%lld]: got %.9g, expected %.9g (|diff| %.3g > %.1g + %.1g·|ref|)",
                     what, (long long)i, (double)got[i], want[i], diff, atol, rtol);
        if (diff > worst) worst = diff;
    }
    return worst;
}

/* bit-identical float arrays */
static inline void kc_check_same(const char *what, const float *a, const float *b,
                                 int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0)
            fail_msg("%s[%lld]: runs differ, %.9g vs %.9g (expected bit-identical)", what,
                     (long long)i, (double)a[i], (double)b[i]);
}

/* every element equals value exactly */
static inline void kc_check_all(const char *what, const float *a, int64_t n, float value) {
    for (int64_t i = 0; i < n; i++)
        if (a[i] != value)
            fail_msg("%s[%lld]: got %.9g, expected %.9g", what, (long long)i, (double)a[i],
                     (double)value);
}

// ----------------------------------------------------------------------------- gradients

typedef double (*KcLossFn)(void *ctx);

/*
 * Central finite differences of loss() with respect to each x[i] (x is one of the double
 * inputs the reference forward reads through ctx), compared with the fp32 backward's got[i]:
 * |got − fd| <= tol·max(1, |fd|). Returns the worst |got − fd| / max(1, |fd|).
 */
static inline double kc_check_grad(const char *what, double *x, int64_t n, KcLossFn loss,
                                   void *ctx, const float *got, double tol) {
    double worst = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double saved = x[i];
        x[i] = saved + KC_FD_H;
        double lp = loss(ctx);
        x[i] = saved - KC_FD_H;
        double lm = loss(ctx);
        x[i] = saved;
        double fd = (lp - lm) / (2.0 * KC_FD_H);
        double err = fabs((double)got[i] - fd) / fmax(1.0, fabs(fd));
        if (!(err <= tol))
            fail_msg("d%s[%lld]: backward gives %.9g, finite differences %.9g (rel err %.3g > "
                     "%.1g)", what, (long long)i, (double)got[i], fd, err, tol);
        if (err > worst) worst = err;
    }
    return worst;
}

/* Σ w·y in double */
static inline double kc_dot(const double *w, const double *y, int64_t n) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += w[i] * y[i];
    return s;
}

#endif
