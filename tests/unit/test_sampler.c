/*
 * test_sampler.c — pipeline/sampler.h: greedy (temperature 0) is the first largest logit and
 * draws nothing; temperature T samples softmax(z / T) (frequencies of 200,000 draws within 5
 * standard errors of each probability); top-p keeps the shortest most-likely set whose mass
 * reaches P and never draws outside it; one random number per call; the same stream gives
 * the same ids; a non-finite logit and bad options are refused.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "pipeline/sampler.h"

#define OK(expr)                                                                                   \
    do {                                                                                           \
        if ((expr) < 0) fail_msg("%s: %s", #expr, ls_error_message());                             \
    } while (0)

static Sampler *new_sampler(double t, double p, int64_t V) {
    Sampler *s = NULL;
    SamplerOptions o = {t, p};
    OK(sampler_init(&s, &o, V));
    return s;
}

// Frequencies of n draws against the probabilities want[]: each within 5 standard errors.
static void check_frequencies(const char *what, Sampler *s, const float *z, const double *want,
                              int64_t V, int64_t n, uint64_t seed) {
    int64_t count[16] = {0};
    Rng rng;
    rng_seed(&rng, seed);
    for (int64_t i = 0; i < n; i++) {
        int64_t id = sampler_draw(s, z, &rng);
        assert_true(id >= 0 && id < V);
        count[id]++;
    }
    for (int64_t v = 0; v < V; v++) {
        double f = (double)count[v] / (double)n;
        double se = sqrt(want[v] * (1.0 - want[v]) / (double)n);
        if (fabs(f - want[v]) > 5.0 * se + 1e-12)
            fail_msg("%s: id %lld drawn %.5f of the time, expected %.5f (5 s.e. = %.5f)", what,
                     (long long)v, f, want[v], 5.0 * se);
        if (want[v] == 0.0 && count[v] != 0)
            fail_msg("%s: id %lld is outside the kept set but was drawn %lld times", what,
                     (long long)v, (long long)count[v]);
    }
}

static void test_greedy(void **state) {
    (void)state;
    Sampler *s = new_sampler(0.0, 1.0, 5);
    const float z[5] = {0.1f, 2.0f, -1.0f, 2.0f, 1.9f};
    Rng rng, before;
    rng_seed(&rng, 7);
    before = rng;
    for (int i = 0; i < 10; i++) assert_int_equal(sampler_draw(s, z, &rng), 1);
    assert_memory_equal(&rng, &before, sizeof rng); // greedy draws no random number
    sampler_free(s);
}

static void test_temperature(void **state) {
    (void)state;
    const float z[4] = {1.0f, 0.0f, -0.5f, 2.0f};
    const double T[3] = {1.0, 0.5, 3.0};
    for (int k = 0; k < 3; k++) {
        Sampler *s = new_sampler(T[k], 1.0, 4);
        double want[4], total = 0;
        for (int v = 0; v < 4; v++) total += want[v] = exp(z[v] / T[k]);
        for (int v = 0; v < 4; v++) want[v] /= total;
        char what[64];
        snprintf(what, sizeof what, "temperature %g", T[k]);
        check_frequencies(what, s, z, want, 4, 200000, 11 + (uint64_t)k);
        // one random number per call: the stream after a draw is the stream after one uniform
        Rng a, b;
        rng_seed(&a, 5);
        rng_seed(&b, 5);
        assert_true(sampler_draw(s, z, &a) >= 0);
        (void)rng_uniform(&b);
        assert_memory_equal(&a, &b, sizeof a);
        sampler_free(s);
    }
}

static void test_top_p(void **state) {
    (void)state;
    // p = 0.5, 0.3, 0.15, 0.05 (ids 2, 0, 3, 1)
    const double p[4] = {0.3, 0.05, 0.5, 0.15};
    float z[4];
    for (int v = 0; v < 4; v++) z[v] = (float)log(p[v]);
    Sampler *s = new_sampler(1.0, 0.75, 4); // kept: ids 2 and 0 (0.5 < 0.75 <= 0.8)
    const double want[4] = {0.3 / 0.8, 0.0, 0.5 / 0.8, 0.0};
    check_frequencies("top-p 0.75", s, z, want, 4, 200000, 21);
    sampler_free(s);
    s = new_sampler(1.0, 0.9, 4); // kept: 2, 0, 3 (0.8 < 0.9 <= 0.95)
    const double want3[4] = {0.3 / 0.95, 0.0, 0.5 / 0.95, 0.15 / 0.95};
    check_frequencies("top-p 0.9", s, z, want3, 4, 200000, 22);
    sampler_free(s);
    s = new_sampler(1.0, 1e-9, 4); // the likeliest alone
    Rng rng;
    rng_seed(&rng, 3);
    for (int i = 0; i < 1000; i++) assert_int_equal(sampler_draw(s, z, &rng), 2);
    sampler_free(s);
    // ties in probability: the smaller id first, so a set of one keeps id 1 of {1, 3}
    const float tie[4] = {-3.0f, 1.0f, 0.0f, 1.0f};
    s = new_sampler(1.0, 0.01, 4);
    for (int i = 0; i < 100; i++) assert_int_equal(sampler_draw(s, tie, &rng), 1);
    sampler_free(s);
}

static void test_repeatable(void **state) {
    (void)state;
    Sampler *s = new_sampler(0.8, 0.95, 7);
    float z[7] = {0.3f, -1.0f, 0.9f, 0.0f, 1.2f, -0.2f, 0.5f};
    Rng a, b;
    rng_seed_stream(&a, 42, 3);
    rng_seed_stream(&b, 42, 3);
    int64_t x[64], y[64];
    for (int i = 0; i < 64; i++) x[i] = sampler_draw(s, z, &a);
    for (int i = 0; i < 64; i++) y[i] = sampler_draw(s, z, &b);
    assert_memory_equal(x, y, sizeof x);
    sampler_free(s);
}

static void test_errors(void **state) {
    (void)state;
    Sampler *s = NULL;
    SamplerOptions o = {-0.1, 1.0};
    assert_int_equal(sampler_init(&s, &o, 4), LS_ERR_USAGE);
    assert_non_null(strstr(ls_error_message(), "--temperature"));
    o = (SamplerOptions){1.0, 0.0};
    assert_int_equal(sampler_init(&s, &o, 4), LS_ERR_USAGE);
    assert_non_null(strstr(ls_error_message(), "--top-p"));
    o = (SamplerOptions){1.0, 1.5};
    assert_int_equal(sampler_init(&s, &o, 4), LS_ERR_USAGE);
    o = (SamplerOptions){NAN, 1.0};
    assert_int_equal(sampler_init(&s, &o, 4), LS_ERR_USAGE);
    assert_null(s);
    s = new_sampler(1.0, 1.0, 3);
    float z[3] = {0.0f, NAN, 1.0f};
    Rng rng;
    rng_seed(&rng, 1);
    assert_int_equal(sampler_draw(s, z, &rng), LS_ERR_RANGE);
    assert_non_null(strstr(ls_error_message(), "id 1"));
    z[1] = INFINITY;
    assert_int_equal(sampler_draw(s, z, &rng), LS_ERR_RANGE);
    sampler_free(s);
    sampler_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy),     cmocka_unit_test(test_temperature),
        cmocka_unit_test(test_top_p),      cmocka_unit_test(test_repeatable),
        cmocka_unit_test(test_errors),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests_name("sampler", tests, NULL, NULL);
}
