/*
 * test_pool.c — kernels/pool.h on the CPU: mean / first / last pooling with ragged lengths
 * (and without lengths) against a double reference, backward against central finite
 * differences in double (padded positions get no gradient), accumulation, bit-identical for
 * 1 and 2 threads, invalid lengths and modes.
 * Tolerances: forward |diff| <= 1e-6 + 1e-6·|ref| (first/last exact); gradients
 * |g − fd| <= 1e-5·max(1, |fd|).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <omp.h>

#include "kernels/pool.h"
#include "tests/kernel_check.h"

static const char *mode_names[] = {"mean", "first", "last"};

typedef struct {
    PoolMode mode;
    int64_t B, L, D;
    const int64_t *lengths;
    double *x, *wout; /* (B, L, D), (B, D) */
} PoolRef;

static void pool_ref(const PoolRef *r, double *out) {
    for (int64_t b = 0; b < r->B; b++) {
        int64_t n = r->lengths ? r->lengths[b] : r->L;
        for (int64_t d = 0; d < r->D; d++) {
            const double *x = r->x + b * r->L * r->D + d;
            double v;
            if (r->mode == POOL_MEAN) {
                v = 0.0;
                for (int64_t l = 0; l < n; l++) v += x[l * r->D];
                v /= (double)n;
            } else {
                v = x[(r->mode == POOL_FIRST ? 0 : n - 1) * r->D];
            }
            out[b * r->D + d] = v;
        }
    }
}

static double pool_loss(void *ctx) {
    PoolRef *r = ctx;
    double *out = kc_doubles(r->B * r->D);
    pool_ref(r, out);
    double loss = kc_dot(r->wout, out, r->B * r->D);
    free(out);
    return loss;
}

static void check_case(PoolMode mode, int64_t B, int64_t L, int64_t D, const int64_t *lengths,
                       uint64_t stream) {
    KcRng rng = kc_rng(stream);
    float *x = kc_rand_floats(&rng, B * L * D, -3, 3), *out = kc_floats(B * D);
    assert_int_equal(pool_fwd_cpu(out, x, lengths, B, L, D, mode), 0);
    PoolRef r = {mode, B, L, D, lengths, kc_to_double(x, B * L * D), NULL};
    double *ref = kc_doubles(B * D);
    pool_ref(&r, ref);
    double tol = mode == POOL_MEAN ? 1e-6 : 0.0;
    double worst = kc_check_close("out", out, ref, B * D, tol, tol);

    float *dout = kc_rand_floats(&rng, B * D, -1, 1), *dx = kc_floats(B * L * D);
    assert_int_equal(pool_bwd_cpu(dx, dout, lengths, B, L, D, mode), 0);
    r.wout = kc_to_double(dout, B * D);
    double worst_fd = kc_check_grad("x", r.x, B * L * D, pool_loss, &r, dx, 1e-5);
    printf("# pool %s B=%lld L=%lld D=%lld%s: max |diff| %.2g, grad worst rel err vs FD %.2g\n",
           mode_names[mode], (long long)B, (long long)L, (long long)D,
           lengths ? " ragged" : "", worst, worst_fd);
    free(x), free(out), free(ref), free(dout), free(dx), free(r.x), free(r.wout);
}

static void test_forward_backward(void **state) {
    (void)state;
    static const int64_t ragged[] = {5, 1, 3};
    static const int64_t ragged2[] = {7, 2};
    for (int mode = POOL_MEAN; mode <= POOL_LAST; mode++) {
        check_case((PoolMode)mode, 3, 5, 4, ragged, 1 + mode);
        check_case((PoolMode)mode, 2, 7, 70, ragged2, 4 + mode); /* two column blocks */
        check_case((PoolMode)mode, 2, 3, 5, NULL, 7 + mode);
    }
}

static void test_accumulate_and_determinism(void **state) {
    (void)state;
    const int64_t B = 3, L = 50, D = 130;
    static const int64_t len[] = {50, 17, 1};
    KcRng rng = kc_rng(20);
    float *x = kc_rand_floats(&rng, B * L * D, -1, 1), *dout = kc_rand_floats(&rng, B * D, -1, 1);
    for (int mode = POOL_MEAN; mode <= POOL_LAST; mode++) {
        float *out[2], *dx[2];
        int saved = omp_get_max_threads();
        for (int t = 0; t < 2; t++) {
            out[t] = kc_floats(B * D), dx[t] = kc_floats(B * L * D);
            omp_set_num_threads(t + 1);
            assert_int_equal(pool_fwd_cpu(out[t], x, len, B, L, D, (PoolMode)mode), 0);
            assert_int_equal(pool_bwd_cpu(dx[t], dout, len, B, L, D, (PoolMode)mode), 0);
        }
        omp_set_num_threads(saved);
        kc_check_same("out 1 vs 2 threads", out[0], out[1], B * D);
        kc_check_same("dx 1 vs 2 threads", dx[0], dx[1], B * L * D);
        assert_int_equal(pool_bwd_cpu(dx[1], dout, len, B, L, D, (PoolMode)mode), 0);
        for (int64_t i = 0; i < B * L * D; i++) dx[0][i] *= 2.0f;
        kc_check_same("dx after 2 calls", dx[1], dx[0], B * L * D);
        for (int t = 0; t < 2; t++) free(out[t]), free(dx[t]);
    }
    free(x), free(dout);
}

static void test_invalid(void **state) {
    (void)state;
    float x[24] = {0}, out[8] = {0};
    int64_t len[2] = {3, 0};
    assert_int_equal(pool_fwd_cpu(out, x, len, 2, 3, 4, POOL_MEAN), LS_ERR_RANGE);
    assert_non_null(strstr(ls_error_message(), "lengths[1]=0"));
    len[1] = 4;
    assert_int_equal(pool_bwd_cpu(x, out, len, 2, 3, 4, POOL_LAST), LS_ERR_RANGE);
    len[1] = 2;
    assert_int_equal(pool_fwd_cpu(out, x, len, 2, 3, 4, (PoolMode)7), LS_ERR_USAGE);
    assert_int_equal(pool_fwd_cpu(out, x, len, 2, 0, 4, POOL_MEAN), LS_ERR_USAGE);
    assert_int_equal(pool_fwd_cpu(out, x, len, -1, 3, 4, POOL_MEAN), LS_ERR_USAGE);
    assert_int_equal(pool_fwd_cpu(NULL, x, len, 2, 3, 4, POOL_MEAN), LS_ERR_USAGE);
    assert_int_equal(pool_bwd_cpu(x, NULL, len, 2, 3, 4, POOL_FIRST), LS_ERR_USAGE);
    assert_int_equal(pool_fwd_cpu(out, x, len, 2, 3, 4, POOL_FIRST), 0);
}

int main(void) {
    kc_seed("test_pool");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_backward),
        cmocka_unit_test(test_accumulate_and_determinism),
        cmocka_unit_test(test_invalid),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
