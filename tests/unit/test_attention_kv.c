/*
 * test_attention_kv.c — kernels/attention_kv.h on the CPU.
 *
 * Against the whole-sequence op: queries [P, L) over the keys [0, L) equal rows P..L−1 of
 * attention_fwd_cpu(causal) on the sequence, for P = 0, 20 and L − 1 (a generation step),
 * with q, k, v read through packed qkv views and contiguous ones: |diff| <= 1e-6 + 1e-6·|ref|
 * (both sum in double; only the softmax's order of operations differs).
 * Against a brute-force double reference (scores, mask, softmax written out) with a sliding
 * window and a trimmed cache (k_pos0 > 0), the tolerance is 1e-6 + 1e-6·|ref| as well.
 * Also: bit-identical results for 1 and 3 threads, 0 for a query that sees no key, and the
 * refused arguments.
 */
#include <math.h>
#include <omp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/attention_kv.h"
#include "tests/kernel_check.h"

#define OK(expr)                                                                                   \
    do {                                                                                           \
        if ((expr) < 0) fail_msg("%s: %s", #expr, ls_error_message());                             \
    } while (0)

// Brute force in double: out (B, Lq, H, hd) from contiguous q (B, Lq, H, hd), k, v (B, Lk, H, hd).
static double *reference(const float *q, const float *k, const float *v, int64_t B, int64_t Lq,
                         int64_t Lk, int H, int hd, int64_t q_pos0, int64_t k_pos0,
                         int64_t window) {
    double *out = kc_doubles(B * Lq * H * hd), *sc = kc_doubles(Lk);
    const double scale = 1.0 / sqrt((double)hd);
    for (int64_t b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int64_t i = 0; i < Lq; i++) {
                const int64_t p = q_pos0 + i;
                double mx = -INFINITY, sum = 0;
                for (int64_t j = 0; j < Lk; j++) {
                    const int64_t kp = k_pos0 + j;
                    int seen = kp <= p && (window == 0 || kp > p - window);
                    double d = 0;
                    for (int e = 0; e < hd; e++)
                        d += (double)q[((b * Lq + i) * H + h) * hd + e] *
                             k[((b * Lk + j) * H + h) * hd + e];
                    sc[j] = seen ? d * scale : -INFINITY;
                    if (sc[j] > mx) mx = sc[j];
                }
                double *o = out + ((b * Lq + i) * H + h) * hd;
                for (int e = 0; e < hd; e++) o[e] = 0;
                if (mx == -INFINITY) continue;
                for (int64_t j = 0; j < Lk; j++) sum += sc[j] == -INFINITY ? 0 : exp(sc[j] - mx);
                for (int64_t j = 0; j < Lk; j++) {
                    if (sc[j] == -INFINITY) continue;
                    double w = exp(sc[j] - mx) / sum;
                    for (int e = 0; e < hd; e++) o[e] += w * v[((b * Lk + j) * H + h) * hd + e];
                }
            }
    free(sc);
    return out;
}

static void test_equals_whole_sequence(void **state) {
    (void)state;
    KcRng r = kc_rng(1);
    const int64_t B = 2, L = 37;
    const int H = 3, hd = 8, D = H * hd;
    float *qkv = kc_rand_floats(&r, B * L * 3 * D, -2, 2); // (B, L, 3, H, hd)
    float *full = kc_floats(B * L * D);
    AttentionShape as = {.B = B, .L = L, .H = H, .hd = hd, .causal = 1};
    as.q = as.k = as.v = attention_view_packed(L, 3, H, hd);
    OK(attention_fwd_cpu(full, NULL, qkv, qkv + D, qkv + 2 * D, &as));
    const int64_t starts[3] = {0, 20, L - 1};
    for (int c = 0; c < 3; c++) {
        const int64_t P = starts[c], Lq = L - P;
        float *out = kc_floats(B * Lq * D);
        AttentionKvShape s = {.B = B, .Lq = Lq, .Lk = L, .H = H, .hd = hd, .q_pos0 = P};
        s.k = s.v = attention_view_packed(L, 3, H, hd);
        s.q = s.k; // queries P.. of the same packed buffer: offset the base by P positions
        OK(attention_kv_fwd_cpu(out, qkv + P * 3 * D, qkv + D, qkv + 2 * D, &s));
        double *want = kc_doubles(B * Lq * D);
        for (int64_t b = 0; b < B; b++)
            for (int64_t i = 0; i < Lq * D; i++) want[b * Lq * D + i] = full[(b * L + P) * D + i];
        char what[64];
        snprintf(what, sizeof what, "queries %lld.. over the whole cache", (long long)P);
        double worst = kc_check_close(what, out, want, B * Lq * D, 1e-6, 1e-6);
        printf("#   %s: max |diff| %.3g\n", what, worst);
        free(out);
        free(want);
    }
    free(qkv);
    free(full);
}

static void test_window_and_trimmed_cache(void **state) {
    (void)state;
    KcRng r = kc_rng(2);
    const int64_t B = 3, Lq = 9, Lk = 30;
    const int H = 2, hd = 16, D = H * hd;
    float *q = kc_rand_floats(&r, B * Lq * D, -1.5, 1.5);
    float *k = kc_rand_floats(&r, B * Lk * D, -1.5, 1.5);
    float *v = kc_rand_floats(&r, B * Lk * D, -1, 1);
    float *out = kc_floats(B * Lq * D), *again = kc_floats(B * Lq * D);
    // cache holds positions 5..34; queries at 26..34; windows 0, 1 (itself only), 7, 100
    const int64_t windows[4] = {0, 1, 7, 100};
    for (int c = 0; c < 4; c++) {
        AttentionKvShape s = {.B = B, .Lq = Lq, .Lk = Lk, .H = H, .hd = hd, .q_pos0 = 26,
                              .k_pos0 = 5, .window = windows[c]};
        s.q = attention_view_contiguous(Lq, H, hd);
        s.k = s.v = attention_view_contiguous(Lk, H, hd);
        omp_set_num_threads(1);
        OK(attention_kv_fwd_cpu(out, q, k, v, &s));
        omp_set_num_threads(3);
        OK(attention_kv_fwd_cpu(again, q, k, v, &s));
        kc_check_same("1 vs 3 threads", out, again, B * Lq * D);
        double *want = reference(q, k, v, B, Lq, Lk, H, hd, 26, 5, windows[c]);
        char what[64];
        snprintf(what, sizeof what, "window %lld, cache from position 5", (long long)windows[c]);
        double worst = kc_check_close(what, out, want, B * Lq * D, 1e-6, 1e-6);
        printf("#   %s: max |diff| %.3g\n", what, worst);
        free(want);
    }
    // queries before every held key see nothing: 0
    AttentionKvShape s = {.B = B, .Lq = 2, .Lk = Lk, .H = H, .hd = hd, .q_pos0 = 2, .k_pos0 = 5};
    s.q = attention_view_contiguous(2, H, hd);
    s.k = s.v = attention_view_contiguous(Lk, H, hd);
    OK(attention_kv_fwd_cpu(out, q, k, v, &s));
    kc_check_all("no visible key", out, B * 2 * D, 0.0f);
    free(q);
    free(k);
    free(v);
    free(out);
    free(again);
}

static void test_errors(void **state) {
    (void)state;
    float x[64] = {0};
    AttentionKvShape s = {.B = 1, .Lq = 1, .Lk = 2, .H = 1, .hd = 4};
    s.q = attention_view_contiguous(1, 1, 4);
    s.k = s.v = attention_view_contiguous(2, 1, 4);
    OK(attention_kv_fwd_cpu(x, x, x + 8, x + 16, &s));
    assert_int_equal(attention_kv_fwd_cpu(NULL, x, x, x, &s), LS_ERR_USAGE);
    AttentionKvShape bad = s;
    bad.hd = 0;
    assert_int_equal(attention_kv_fwd_cpu(x, x, x, x, &bad), LS_ERR_USAGE);
    bad = s;
    bad.q_pos0 = -1;
    assert_int_equal(attention_kv_fwd_cpu(x, x, x, x, &bad), LS_ERR_USAGE);
    bad = s;
    bad.window = -2;
    assert_int_equal(attention_kv_fwd_cpu(x, x, x, x, &bad), LS_ERR_USAGE);
    bad = s;
    bad.k.pos = 2; // positions overlap the head dim
    assert_int_equal(attention_kv_fwd_cpu(x, x, x, x, &bad), LS_ERR_USAGE);
    assert_non_null(strstr(ls_error_message(), "overlap"));
}

int main(void) {
    kc_seed("test_attention_kv");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equals_whole_sequence),
        cmocka_unit_test(test_window_and_trimmed_cache),
        cmocka_unit_test(test_errors),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests_name("attention_kv", tests, NULL, NULL);
}
