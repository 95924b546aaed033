/*
 * test_matmul.c — kernels/matmul.h on the CPU: forward against a double reference (with and
 * without bias, strided rows, odd sizes), backward against central finite differences in
 * double, accumulation, determinism (bit-identical for 1, 2 and 3 threads at shapes of several
 * blocks), invalid arguments.
 * Tolerances: forward |y − ref| <= 1e-5 + 1e-5·|ref| (inputs in [-1, 1], K <= 67);
 * gradients |g − fd| <= 1e-4·max(1, |fd|); the 600×96×130 thread check against a double
 * reference: 1e-4 + 1e-4·|ref| (sums of up to 600 products).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <limits.h>
#include <omp.h>

#include "kernels/matmul.h"
#include "tests/kernel_check.h"

typedef struct {
    int64_t M, K, N, ld_x, ld_y;
    double *x, *w, *b; /* x (M, ld_x), w (N, K), b (N) or NULL */
    double *wout;      /* (M, N) loss weights */
} MatmulRef;

/* y[m, n] = Σ_k x[m, k]·w[n, k] + b[n] in double, contiguous (M, N) */
static void matmul_ref(const MatmulRef *r, double *y) {
    for (int64_t m = 0; m < r->M; m++)
        for (int64_t n = 0; n < r->N; n++) {
            double acc = r->b ? r->b[n] : 0.0;
            for (int64_t k = 0; k < r->K; k++) acc += r->x[m * r->ld_x + k] * r->w[n * r->K + k];
            y[m * r->N + n] = acc;
        }
}

static double matmul_loss(void *ctx) {
    MatmulRef *r = ctx;
    double *y = kc_doubles(r->M * r->N);
    matmul_ref(r, y);
    double loss = kc_dot(r->wout, y, r->M * r->N);
    free(y);
    return loss;
}

/* forward at one shape; ld_x/ld_y padding must stay untouched */
static void check_forward(int64_t M, int64_t K, int64_t N, int64_t pad_x, int64_t pad_y,
                          int with_bias, uint64_t stream) {
    KcRng rng = kc_rng(stream);
    int64_t ld_x = K + pad_x, ld_y = N + pad_y;
    float *x = kc_rand_floats(&rng, M * ld_x, -1, 1);
    float *w = kc_rand_floats(&rng, N * K, -1, 1);
    float *b = with_bias ? kc_rand_floats(&rng, N, -1, 1) : NULL;
    float *y = kc_floats(M * ld_y);
    for (int64_t i = 0; i < M * ld_y; i++) /* NaN where y goes (beta = 0 must not read it), */
        y[i] = i % ld_y < N ? NAN : 777.0f;  /* a sentinel in the row gaps */
    assert_int_equal(matmul_fwd_cpu(y, x, w, b, M, K, N, ld_x, ld_y), 0);

    MatmulRef r = {M, K, N, ld_x, ld_y, kc_to_double(x, M * ld_x), kc_to_double(w, N * K),
                   b ? kc_to_double(b, N) : NULL, NULL};
    double *ref = kc_doubles(M * N);
    matmul_ref(&r, ref);
    float *y_packed = kc_floats(M * N);
    for (int64_t m = 0; m < M; m++) {
        memcpy(y_packed + m * N, y + m * ld_y, (size_t)N * sizeof(float));
        kc_check_all("y row padding", y + m * ld_y + N, pad_y, 777.0f);
    }
    double worst = kc_check_close("y", y_packed, ref, M * N, 1e-5, 1e-5);
    printf("# matmul fwd M=%lld K=%lld N=%lld ld_x=%lld ld_y=%lld bias=%d: max |diff| %.2g\n",
           (long long)M, (long long)K, (long long)N, (long long)ld_x, (long long)ld_y,
           with_bias, worst);
    free(x), free(w), free(b), free(y), free(y_packed), free(ref);
    free(r.x), free(r.w), free(r.b);
}

static void test_forward(void **state) {
    (void)state;
    check_forward(5, 7, 3, 0, 0, 1, 1);
    check_forward(5, 7, 3, 0, 0, 0, 2);
    check_forward(37, 67, 33, 3, 2, 1, 3);
    check_forward(1, 1, 1, 0, 0, 1, 4);
    check_forward(130, 19, 65, 0, 5, 0, 5);
}

/* backward of every input against finite differences, strided rows, bias */
static void check_backward(int64_t M, int64_t K, int64_t N, int64_t pad_x, int64_t pad_y,
                           uint64_t stream) {
    KcRng rng = kc_rng(stream);
    int64_t ld_x = K + pad_x, ld_y = N + pad_y;
    float *x = kc_rand_floats(&rng, M * ld_x, -1, 1);
    float *w = kc_rand_floats(&rng, N * K, -1, 1);
    float *b = kc_rand_floats(&rng, N, -1, 1);
    float *dy = kc_floats(M * ld_y); /* dy = loss weights, in the strided layout */
    MatmulRef r = {M, K, N, ld_x, ld_y, kc_to_double(x, M * ld_x), kc_to_double(w, N * K),
                   kc_to_double(b, N), kc_doubles(M * N)};
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            dy[m * ld_y + n] = (float)kc_uniform(&rng, -1, 1);
            r.wout[m * N + n] = dy[m * ld_y + n];
        }
    float *dx = kc_floats(M * ld_x), *dw = kc_floats(N * K), *db = kc_floats(N);
    assert_int_equal(matmul_bwd_cpu(dx, dw, db, dy, x, w, M, K, N, ld_x, ld_y), 0);

    /* FD over every x element including the row gaps, whose gradient must be 0 */
    double worst = kc_check_grad("x", r.x, M * ld_x, matmul_loss, &r, dx, 1e-4);
    worst = fmax(worst, kc_check_grad("w", r.w, N * K, matmul_loss, &r, dw, 1e-4));
    worst = fmax(worst, kc_check_grad("b", r.b, N, matmul_loss, &r, db, 1e-4));
    printf("# matmul bwd M=%lld K=%lld N=%lld: worst rel err vs FD %.2g\n", (long long)M,
           (long long)K, (long long)N, worst);
    free(x), free(w), free(b), free(dy), free(dx), free(dw), free(db);
    free(r.x), free(r.w), free(r.b), free(r.wout);
}

static void test_backward_fd(void **state) {
    (void)state;
    check_backward(4, 5, 3, 0, 0, 10);
    check_backward(3, 6, 5, 2, 1, 11);
    check_backward(7, 1, 2, 0, 3, 12);
}

/* backward twice = 2 × once; NULL outputs skip; bit-identical reruns and thread counts */
static void test_accumulate_and_determinism(void **state) {
    (void)state;
    KcRng rng = kc_rng(20);
    const int64_t M = 97, K = 33, N = 130;
    float *x = kc_rand_floats(&rng, M * K, -1, 1), *w = kc_rand_floats(&rng, N * K, -1, 1);
    float *dy = kc_rand_floats(&rng, M * N, -1, 1);
    float *dx1 = kc_floats(M * K), *dw1 = kc_floats(N * K), *db1 = kc_floats(N);
    float *dx2 = kc_floats(M * K), *dw2 = kc_floats(N * K), *db2 = kc_floats(N);
    assert_int_equal(matmul_bwd_cpu(dx1, dw1, db1, dy, x, w, M, K, N, K, N), 0);
    for (int rep = 0; rep < 2; rep++)
        assert_int_equal(matmul_bwd_cpu(dx2, dw2, db2, dy, x, w, M, K, N, K, N), 0);
    double *twice = kc_doubles(M * K > N * K ? M * K : N * K);
    for (int64_t i = 0; i < M * K; i++) twice[i] = 2.0 * dx1[i];
    kc_check_close("dx (2 calls)", dx2, twice, M * K, 1e-6, 1e-6);
    for (int64_t i = 0; i < N * K; i++) twice[i] = 2.0 * dw1[i];
    kc_check_close("dw (2 calls)", dw2, twice, N * K, 1e-6, 1e-6);
    for (int64_t i = 0; i < N; i++) twice[i] = 2.0 * db1[i];
    kc_check_close("db (2 calls)", db2, twice, N, 0, 0);

    /* only db: x and w may be NULL */
    float *db3 = kc_floats(N);
    assert_int_equal(matmul_bwd_cpu(NULL, NULL, db3, dy, NULL, NULL, M, K, N, K, N), 0);
    kc_check_same("db alone", db3, db1, N);

    /* determinism: same call, 1 and 2 OpenMP threads */
    int saved = omp_get_max_threads();
    float *db_t1 = kc_floats(N), *db_t2 = kc_floats(N), *y1 = kc_floats(M * N),
          *y2 = kc_floats(M * N);
    omp_set_num_threads(1);
    assert_int_equal(matmul_bwd_cpu(NULL, NULL, db_t1, dy, NULL, NULL, M, K, N, K, N), 0);
    assert_int_equal(matmul_fwd_cpu(y1, x, w, db1, M, K, N, K, N), 0);
    omp_set_num_threads(2);
    assert_int_equal(matmul_bwd_cpu(NULL, NULL, db_t2, dy, NULL, NULL, M, K, N, K, N), 0);
    assert_int_equal(matmul_fwd_cpu(y2, x, w, db1, M, K, N, K, N), 0);
    omp_set_num_threads(saved);
    kc_check_same("db 1 vs 2 threads", db_t1, db_t2, N);
    kc_check_same("y rerun", y1, y2, M * N);
    free(x), free(w), free(dy), free(dx1), free(dw1), free(db1), free(dx2), free(dw2);
    free(db2), free(db3), free(twice), free(db_t1), free(db_t2), free(y1), free(y2);
}

/* y = x·Wᵀ + b, dx = dy·W, dW = dyᵀ·x, db = Σ_rows dy in double, contiguous results */
static void matmul_ref_all(const float *x, const float *w, const float *b, const float *dy,
                           int64_t M, int64_t K, int64_t N, int64_t ld_x, int64_t ld_y,
                           double *y, double *dx, double *dw, double *db) {
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double acc = b[n];
            for (int64_t k = 0; k < K; k++) acc += (double)x[m * ld_x + k] * w[n * K + k];
            y[m * N + n] = acc;
        }
    for (int64_t m = 0; m < M; m++)
        for (int64_t k = 0; k < K; k++) {
            double acc = 0.0;
            for (int64_t n = 0; n < N; n++) acc += (double)dy[m * ld_y + n] * w[n * K + k];
            dx[m * K + k] = acc;
        }
    for (int64_t n = 0; n < N; n++) {
        for (int64_t k = 0; k < K; k++) {
            double acc = 0.0;
            for (int64_t m = 0; m < M; m++) acc += (double)dy[m * ld_y + n] * x[m * ld_x + k];
            dw[n * K + k] = acc;
        }
        double acc = 0.0;
        for (int64_t m = 0; m < M; m++) acc += dy[m * ld_y + n];
        db[n] = acc;
    }
}

/* Shapes of several blocks (M = 600: 5 row blocks of y and dx, the last partial; N = 130: 5
 * row blocks of dW, the last partial) with strided rows: 1, 2 and 3 OpenMP threads give
 * bit-identical y, dx, dW, db, whatever OpenBLAS's own thread count was set to; the results
 * also match a double reference and leave the row gaps alone. */
static void test_threads_bit_identical(void **state) {
    (void)state;
    KcRng rng = kc_rng(30);
    const int64_t M = 600, K = 96, N = 130, ld_x = K + 5, ld_y = N + 3;
    float *x = kc_rand_floats(&rng, M * ld_x, -1, 1), *w = kc_rand_floats(&rng, N * K, -1, 1);
    float *b = kc_rand_floats(&rng, N, -1, 1), *dy = kc_rand_floats(&rng, M * ld_y, -1, 1);
    float *y[3], *dx[3], *dw[3], *db[3];
    int saved = omp_get_max_threads();
    for (int t = 0; t < 3; t++) {
        y[t] = kc_floats(M * ld_y), dx[t] = kc_floats(M * ld_x);
        dw[t] = kc_floats(N * K), db[t] = kc_floats(N);
        for (int64_t i = 0; i < M * ld_y; i++) y[t][i] = 777.0f; /* row gaps keep it */
        for (int64_t i = 0; i < M * ld_x; i++) dx[t][i] = i % ld_x < K ? 0.0f : 777.0f;
        omp_set_num_threads(t + 1);
        assert_int_equal(matmul_set_threads(t + 1), 0);
        assert_int_equal(matmul_fwd_cpu(y[t], x, w, b, M, K, N, ld_x, ld_y), 0);
        assert_int_equal(matmul_bwd_cpu(dx[t], dw[t], db[t], dy, x, w, M, K, N, ld_x, ld_y), 0);
    }
    omp_set_num_threads(saved);
    assert_int_equal(matmul_set_threads(1), 0);
    for (int t = 1; t < 3; t++) {
        kc_check_same("y, 1 vs 2/3 threads", y[t], y[0], M * ld_y);
        kc_check_same("dx, 1 vs 2/3 threads", dx[t], dx[0], M * ld_x);
        kc_check_same("dw, 1 vs 2/3 threads", dw[t], dw[0], N * K);
        kc_check_same("db, 1 vs 2/3 threads", db[t], db[0], N);
    }

    double *ry = kc_doubles(M * N), *rdx = kc_doubles(M * K), *rdw = kc_doubles(N * K);
    double *rdb = kc_doubles(N);
    matmul_ref_all(x, w, b, dy, M, K, N, ld_x, ld_y, ry, rdx, rdw, rdb);
    float *packed = kc_floats(M * (K > N ? K : N));
    for (int64_t m = 0; m < M; m++) {
        memcpy(packed + m * N, y[0] + m * ld_y, (size_t)N * sizeof(float));
        kc_check_all("y row gap", y[0] + m * ld_y + N, ld_y - N, 777.0f);
    }
    double worst = kc_check_close("y", packed, ry, M * N, 1e-4, 1e-4);
    for (int64_t m = 0; m < M; m++) {
        memcpy(packed + m * K, dx[0] + m * ld_x, (size_t)K * sizeof(float));
        kc_check_all("dx row gap", dx[0] + m * ld_x + K, ld_x - K, 777.0f);
    }
    worst = fmax(worst, kc_check_close("dx", packed, rdx, M * K, 1e-4, 1e-4));
    worst = fmax(worst, kc_check_close("dw", dw[0], rdw, N * K, 1e-4, 1e-4));
    worst = fmax(worst, kc_check_close("db", db[0], rdb, N, 1e-4, 1e-4));
    printf("# matmul M=%lld K=%lld N=%lld ld_x=%lld ld_y=%lld: 1/2/3 threads bit-identical; "
           "max |diff| vs double %.2g\n", (long long)M, (long long)K, (long long)N,
           (long long)ld_x, (long long)ld_y, worst);
    for (int t = 0; t < 3; t++) free(y[t]), free(dx[t]), free(dw[t]), free(db[t]);
    free(x), free(w), free(b), free(dy), free(packed), free(ry), free(rdx), free(rdw), free(rdb);
}

static void test_invalid(void **state) {
    (void)state;
    float a[64] = {0}, b[64] = {0}, c[64] = {0};
    assert_int_equal(matmul_fwd_cpu(c, a, b, NULL, -1, 2, 2, 2, 2), LS_ERR_USAGE);
    assert_non_null(strstr(ls_error_message(), "M=-1"));
    assert_int_equal(matmul_fwd_cpu(c, a, b, NULL, 2, 0, 2, 2, 2), LS_ERR_USAGE);
    assert_int_equal(matmul_fwd_cpu(c, a, b, NULL, 2, 2, 0, 2, 2), LS_ERR_USAGE);
    assert_int_equal(matmul_fwd_cpu(c, a, b, NULL, 2, 3, 2, 2, 2), LS_ERR_USAGE);
    assert_non_null(strstr(ls_error_message(), "ld_x=2"));
    assert_int_equal(matmul_fwd_cpu(c, a, b, NULL, 2, 2, 3, 2, 2), LS_ERR_USAGE);
    assert_int_equal(matmul_fwd_cpu(NULL, a, b, NULL, 2, 2, 2, 2, 2), LS_ERR_USAGE);
    assert_int_equal(matmul_fwd_cpu(c, NULL, b, NULL, 2, 2, 2, 2, 2), LS_ERR_USAGE);
    assert_int_equal(matmul_fwd_cpu(c, a, b, NULL, (int64_t)INT_MAX + 1, 2, 2, 2, 2),
                     LS_ERR_RANGE);
    assert_non_null(strstr(ls_error_message(), "32-bit"));
    assert_int_equal(matmul_fwd_cpu(c, a, b, NULL, 0, 2, 2, 2, 2), 0); /* M = 0: no-op */
    assert_int_equal(matmul_bwd_cpu(c, NULL, NULL, a, b, NULL, 2, 2, 2, 2, 2), LS_ERR_USAGE);
    assert_int_equal(matmul_bwd_cpu(NULL, c, NULL, a, NULL, b, 2, 2, 2, 2, 2), LS_ERR_USAGE);
    assert_int_equal(matmul_bwd_cpu(c, NULL, NULL, NULL, a, b, 2, 2, 2, 2, 2), LS_ERR_USAGE);
    assert_int_equal(matmul_set_threads(0), LS_ERR_USAGE);
    assert_int_equal(matmul_set_threads(1), 0);
}

int main(void) {
    kc_seed("test_matmul");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward),
        cmocka_unit_test(test_backward_fd),
        cmocka_unit_test(test_accumulate_and_determinism),
        cmocka_unit_test(test_threads_bit_identical),
        cmocka_unit_test(test_invalid),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests_name("matmul", tests, NULL, NULL);
}
