/* test_encode_audio.c — µ-law and linear audio codes (io/encode_audio.c): known values from
 * the reference formula, round trips both ways, monotonicity, clipping, NaN, and the table
 * path (arrays) equal to the scalar path everywhere the code steps. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/encode.h"

static float float_from_bits(uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static uint32_t bits_from_float(float f) {
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

/* The companding curve F(x) = sign(x)·ln(1+255|x|)/ln 256 on clipped x, in double. */
static double compand(double x) {
    if (x > 1) x = 1;
    if (x < -1) x = -1;
    double y = log(1.0 + 255.0 * fabs(x)) / log(256.0);
    return x < 0 ? -y : y;
}

/* xorshift64*: deterministic test inputs */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double rng_uniform(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

// ---------------------------------------------------------------------------- µ-law

static void test_mulaw_known_values(void **state) {
    (void)state;
    /* codes from floor((sign(x)·ln(1+255|x|)/ln256 + 1)/2·255 + 0.5) evaluated in Python */
    static const struct {
        float x;
        int code;
    } cases[] = {
        {0.0f, 128},   {1.0f, 255},     {-1.0f, 0},       {0.5f, 239},     {-0.25f, 32},
        {0.01f, 157},  {-0.01f, 98},    {0.1f, 203},      {-0.9f, 2},      {0.001f, 133},
        {-0.001f, 122}, {1.0f / 32768, 128}, {-1.0f / 32768, 127},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int got = mulaw_encode(cases[i].x);
        if (got != cases[i].code)
            fail_msg("mulaw_encode(%g) produced %d, expected %d", cases[i].x, got,
                     cases[i].code);
    }
}

static void test_mulaw_clip_nan_inf(void **state) {
    (void)state;
    assert_int_equal(mulaw_encode(2.0f), 255);
    assert_int_equal(mulaw_encode(-7.5f), 0);
    assert_int_equal(mulaw_encode(INFINITY), 255);
    assert_int_equal(mulaw_encode(-INFINITY), 0);
    assert_int_equal(mulaw_encode(NAN), 128);
    assert_int_equal(mulaw_encode(-NAN), 128);
    assert_int_equal(mulaw_encode(-0.0f), 128);
    assert_true(mulaw_decode(255) == 1.0f);
    assert_true(mulaw_decode(0) == -1.0f);
    /* 128 is the smallest positive level; 127 its mirror */
    assert_true(mulaw_decode(128) > 0.0f && mulaw_decode(128) < 1e-4f);
    assert_true(mulaw_decode(127) == -mulaw_decode(128));
}

static void test_mulaw_encode_decode_code(void **state) {
    (void)state;
    for (int c = 0; c < 256; c++) {
        int back = mulaw_encode(mulaw_decode((uint8_t)c));
        if (back != c) fail_msg("mulaw_encode(mulaw_decode(%d)) produced %d", c, back);
        /* the decoded value is the code's centre in the companded domain */
        double y = compand(mulaw_decode((uint8_t)c));
        if (fabs(y - (2.0 * c / 255.0 - 1.0)) > 1e-6)
            fail_msg("code %d decodes to y = %.9f, expected %.9f", c, y, 2.0 * c / 255.0 - 1.0);
    }
    for (int c = 1; c < 256; c++)
        assert_true(mulaw_decode((uint8_t)c) > mulaw_decode((uint8_t)(c - 1)));
}

static void test_mulaw_round_trip_half_step(void **state) {
    (void)state;
    /* |F(decode(encode(x))) − F(x)| ≤ half a level = 1/255 in the companded domain */
    double worst = 0;
    for (int i = 0; i <= 2000000; i++) {
        float x = (float)(-1.0 + 2.0 * i / 2000000.0);
        double err = fabs(compand(mulaw_decode(mulaw_encode(x))) - compand(x));
        if (err > worst) worst = err;
    }
    if (worst > 1.0 / 255.0 + 1e-6) fail_msg("worst companded error %.9f > 1/255", worst);
    /* and every level is reached by the sweep's neighbourhood: errors are not all tiny */
    assert_true(worst > 0.9 / 255.0);
}

static void test_mulaw_monotonic(void **state) {
    (void)state;
    /* every float from -1.5 up to 1.5, in steps of 997 ulps, through zero */
    int prev = -1;
    for (int64_t b = bits_from_float(-1.5f); b >= 0x80000000LL; b -= 997) {
        int c = mulaw_encode(float_from_bits((uint32_t)b));
        if (c < prev) fail_msg("mulaw_encode not monotonic at %a", float_from_bits(b));
        prev = c;
    }
    for (uint32_t b = 0; b <= bits_from_float(1.5f); b += 997) {
        int c = mulaw_encode(float_from_bits(b));
        if (c < prev) fail_msg("mulaw_encode not monotonic at %a", float_from_bits(b));
        prev = c;
    }
}

/* Smallest float in [lo, hi] (same sign, ordered by magnitude) whose code differs from
 * code(lo), found by bisection on bit patterns; 0 if none. */
static uint32_t mulaw_find_step(uint32_t lo, uint32_t hi) {
    int c0 = mulaw_encode(float_from_bits(lo));
    if (mulaw_encode(float_from_bits(hi)) == c0) return 0;
    while (hi - lo > 1) {
        uint32_t m = lo + (hi - lo) / 2;
        if (mulaw_encode(float_from_bits(m)) == c0) lo = m;
        else hi = m;
    }
    return hi;
}

static void check_array_equals_scalar(const float *x, int64_t n) {
    uint8_t *codes = malloc((size_t)n);
    assert_non_null(codes);
    mulaw_encode_array(codes, x, n);
    for (int64_t i = 0; i < n; i++) {
        if (codes[i] != mulaw_encode(x[i])) {
            float bad = x[i];
            int got = codes[i];
            free(codes);
            fail_msg("mulaw_encode_array(%a) = %d, mulaw_encode = %d", bad, got,
                     mulaw_encode(bad));
        }
    }
    free(codes);
}

static void test_mulaw_array_equals_scalar(void **state) {
    (void)state;
    /* every PCM16 value */
    float *x = malloc(65536 * sizeof(float));
    assert_non_null(x);
    for (int s = -32768; s < 32768; s++) x[s + 32768] = (float)s / 32768.0f;
    check_array_equals_scalar(x, 65536);
    /* random floats, some outside [-1, 1], and specials */
    for (int i = 0; i < 65536; i++) x[i] = (float)(3.0 * rng_uniform() - 1.5);
    x[0] = NAN; x[1] = -NAN; x[2] = INFINITY; x[3] = -INFINITY; x[4] = 0.0f; x[5] = -0.0f;
    x[6] = 1e-45f; x[7] = -1e-45f; x[8] = 1.0f; x[9] = -1.0f; x[10] = nextafterf(1.0f, 2.0f);
    x[11] = FLT_MAX; x[12] = -FLT_MAX; x[13] = 1e-30f; x[14] = -1e-30f; x[15] = -2.5e-18f;
    check_array_equals_scalar(x, 65536);
    /* ±2 ulps around every step of the code, on both sides of zero */
    int n = 0;
    for (uint32_t sign = 0; sign < 2; sign++) {
        uint32_t lo = sign << 31, end = sign << 31 | 0x3F800000u;
        for (;;) {
            uint32_t step = mulaw_find_step(lo, end);
            if (!step) break;
            for (int d = -2; d <= 2; d++) x[n++] = float_from_bits(step + (uint32_t)d);
            lo = step;
        }
    }
    assert_int_equal(n, 5 * 255); /* 127 steps above zero (128 → 255), 128 below (128 → 0) */
    check_array_equals_scalar(x, n);
    free(x);
}

static void test_mulaw_decode_array(void **state) {
    (void)state;
    uint8_t codes[256];
    float out[256];
    for (int c = 0; c < 256; c++) codes[c] = (uint8_t)(255 - c);
    mulaw_decode_array(out, codes, 256);
    for (int c = 0; c < 256; c++) assert_true(out[c] == mulaw_decode(codes[c]));
}

// ---------------------------------------------------------------------------- linear

static void test_linear_known_values(void **state) {
    (void)state;
    assert_int_equal(linear_encode(-1.0f, 8), 0);
    assert_int_equal(linear_encode(1.0f, 8), 255);
    assert_int_equal(linear_encode(0.0f, 8), 128); /* round(127.5) ties up */
    assert_int_equal(linear_encode(-1.0f, 16), 0);
    assert_int_equal(linear_encode(1.0f, 16), 65535);
    assert_int_equal(linear_encode(0.0f, 16), 32768);
    assert_int_equal(linear_encode(0.5f, 8), 191);   /* 1.5/2·255 = 191.25 */
    assert_int_equal(linear_encode(-0.5f, 16), 16384); /* 0.25·65535 = 16383.75 */
    /* clipping, NaN = silence, infinities */
    assert_int_equal(linear_encode(3.0f, 8), 255);
    assert_int_equal(linear_encode(-3.0f, 16), 0);
    assert_int_equal(linear_encode(INFINITY, 16), 65535);
    assert_int_equal(linear_encode(-INFINITY, 8), 0);
    assert_int_equal(linear_encode(NAN, 8), 128);
    assert_int_equal(linear_encode(NAN, 16), 32768);
    assert_true(linear_decode(0, 8) == -1.0f);
    assert_true(linear_decode(255, 8) == 1.0f);
    assert_true(linear_decode(65535, 16) == 1.0f);
    assert_true(linear_decode(300, 8) == 1.0f); /* out-of-range code clips to the top */
    /* bits outside 1..16 are clamped to that range */
    assert_int_equal(linear_encode(1.0f, 20), 65535);
    assert_int_equal(linear_encode(1.0f, 0), 1);
}

static void test_linear_round_trips(void **state) {
    (void)state;
    const int bits_list[] = {8, 16};
    for (int k = 0; k < 2; k++) {
        int bits = bits_list[k];
        uint32_t max = (1u << bits) - 1;
        for (uint32_t c = 0; c <= max; c++) {
            int back = linear_encode(linear_decode((uint16_t)c, bits), bits);
            if ((uint32_t)back != c)
                fail_msg("%d-bit: encode(decode(%u)) produced %d", bits, c, back);
            if (c && !(linear_decode((uint16_t)c, bits) > linear_decode((uint16_t)(c - 1), bits)))
                fail_msg("%d-bit: decode not increasing at %u", bits, c);
        }
        /* decode(encode(x)) within half a step (1/max) of x, monotone encode */
        int prev = -1;
        double worst = 0;
        for (int i = 0; i <= 1000000; i++) {
            float x = (float)(-1.0 + 2.0 * i / 1000000.0);
            int c = linear_encode(x, bits);
            if (c < prev) fail_msg("%d-bit: encode not monotonic at %g", bits, x);
            prev = c;
            double err = fabs((double)linear_decode((uint16_t)c, bits) - x);
            if (err > worst) worst = err;
        }
        if (worst > 1.0 / max + 1e-7)
            fail_msg("%d-bit: worst round-trip error %g > half step %g", bits, worst, 1.0 / max);
    }
}

static void test_linear_arrays(void **state) {
    (void)state;
    enum { N = 4096 };
    float x[N], back[N];
    uint16_t codes[N];
    for (int i = 0; i < N; i++) x[i] = (float)(2.4 * rng_uniform() - 1.2);
    x[0] = NAN;
    for (int bits = 8; bits <= 16; bits += 8) {
        linear_encode_array(codes, x, N, bits);
        linear_decode_array(back, codes, N, bits);
        for (int i = 0; i < N; i++) {
            assert_int_equal(codes[i], linear_encode(x[i], bits));
            assert_true(back[i] == linear_decode(codes[i], bits));
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mulaw_known_values),
        cmocka_unit_test(test_mulaw_clip_nan_inf),
        cmocka_unit_test(test_mulaw_encode_decode_code),
        cmocka_unit_test(test_mulaw_round_trip_half_step),
        cmocka_unit_test(test_mulaw_monotonic),
        cmocka_unit_test(test_mulaw_array_equals_scalar),
        cmocka_unit_test(test_mulaw_decode_array),
        cmocka_unit_test(test_linear_known_values),
        cmocka_unit_test(test_linear_round_trips),
        cmocka_unit_test(test_linear_arrays),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests_name("encode_audio", tests, NULL, NULL);
}
