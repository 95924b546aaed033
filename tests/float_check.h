/*
 * float_check.h — comparisons of float results shared by the kernel unit tests (include after
 * cmocka.h): against a double reference within atol + rtol·|ref|, bit-identical, and relative
 * agreement for sums whose order legitimately differs. Each failure names the worst element.
 */
#ifndef LS_TESTS_FLOAT_CHECK_H
#define LS_TESTS_FLOAT_CHECK_H

#include <math.h>
#include <stdint.h>
#include <string.h>

// Fails naming the worst element unless |got − ref| <= atol + rtol·|ref| everywhere.
static double check_close(const char *what, const float *got, const double *ref, int64_t n,
                          double atol, double rtol) {
    double worst = 0.0;
    int64_t wi = -1;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - ref[i]) / (atol + rtol * fabs(ref[i]));
        if (!(e <= worst)) worst = e, wi = i; // NaN counts as worst
    }
    if (!(worst <= 1.0))
        fail_msg("%s[%lld] = %.9g, expected %.9g (|diff| %.3g > %.1e + %.1e·|ref|)", what,
                 (long long)wi, got[wi], ref[wi], fabs(got[wi] - ref[wi]), atol, rtol);
    return worst;
}

static void check_same(const char *what, const float *got, const float *want, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&got[i], &want[i], sizeof(float)))
            fail_msg("%s[%lld] = %.9g, expected bit-identical %.9g", what, (long long)i, got[i],
                     want[i]);
}

// Relative agreement for sums whose order legitimately differs.
static void check_rel(const char *what, const float *got, const float *want, int64_t n,
                      double tol) {
    for (int64_t i = 0; i < n; i++)
        if (!(fabs(got[i] - want[i]) <= tol * fmax(1.0, fabs(want[i]))))
            fail_msg("%s[%lld] = %.9g, expected %.9g (tol %.1e)", what, (long long)i, got[i],
                     want[i], tol);
}

#endif
