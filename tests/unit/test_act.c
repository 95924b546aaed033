/*
 * test_act.c — kernels/act.h on the CPU: SiLU, softplus (threshold 20), GELU (erf) and the
 * SiLU gate, forward against double references over [-12, 30] plus edge points, backward
 * against central finite differences in double, accumulation, invalid arguments.
 * Tolerances: forward |y − ref| <= 1e-6 + 2e-6·|ref|; gradients |g − fd| <= 1e-5·max(1, |fd|)
 * (elementwise ops: only libm rounding separates fp32 from double).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "kernels/act.h"
#include "tests/kernel_check.h"

enum { OP_SILU, OP_SOFTPLUS, OP_GELU, OP_GATE, N_OPS };
static const char *op_names[N_OPS] = {"silu", "softplus", "gelu", "silu_gate"};

static double silu_d(double x) { return x / (1.0 + exp(-x)); }
static double softplus_d(double x) { return x > 20.0 ? x : log1p(exp(x)); }
static double gelu_d(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }

typedef struct {
    int op;
    int64_t n;
    double *x, *z, *wout; /* (n); z only for the gate */
} ActRef;

static void act_ref(const ActRef *r, double *y) {
    for (int64_t i = 0; i < r->n; i++) {
        double x = r->x[i];
        switch (r->op) {
        case OP_SILU: y[i] = silu_d(x); break;
        case OP_SOFTPLUS: y[i] = softplus_d(x); break;
        case OP_GELU: y[i] = gelu_d(x); break;
        default: y[i] = x * silu_d(r->z[i]); break;
        }
    }
}

static double act_loss(void *ctx) {
    ActRef *r = ctx;
    double *y = kc_doubles(r->n);
    act_ref(r, y);
    double loss = kc_dot(r->wout, y, r->n);
    free(y);
    return loss;
}

static int run_fwd(int op, float *y, const float *x, const float *z, int64_t n) {
    switch (op) {
    case OP_SILU: return act_silu_fwd_cpu(y, x, n);
    case OP_SOFTPLUS: return act_softplus_fwd_cpu(y, x, n);
    case OP_GELU: return act_gelu_fwd_cpu(y, x, n);
    default: return act_silu_gate_fwd_cpu(y, x, z, n);
    }
}

static int run_bwd(int op, float *dx, float *dz, const float *dy, const float *x, const float *z,
                   int64_t n) {
    switch (op) {
    case OP_SILU: return act_silu_bwd_cpu(dx, dy, x, n);
    case OP_SOFTPLUS: return act_softplus_bwd_cpu(dx, dy, x, n);
    case OP_GELU: return act_gelu_bwd_cpu(dx, dy, x, n);
    default: return act_silu_gate_bwd_cpu(dx, dz, dy, x, z, n);
    }
}

/* random points in [-12, 30] plus edges; no point within 1e-3 of softplus's kink at 20 */
static float *make_inputs(KcRng *rng, int64_t n) {
    static const float edges[] = {0.0f, -0.0f, 1e-7f, -1e-7f, 19.5f, 20.5f, 25.0f, -30.0f,
                                  -87.0f, 60.0f, 3.0f, -3.0f};
    const int64_t n_edges = sizeof edges / sizeof edges[0];
    float *x = kc_rand_floats(rng, n, -12, 30);
    for (int64_t i = 0; i < n; i++) {
        if (i < n_edges) x[i] = edges[i];
        if (fabsf(x[i] - 20.0f) < 1e-3f) x[i] = 21.0f;
    }
    return x;
}

static void test_forward(void **state) {
    (void)state;
    const int64_t n = 4099;
    for (int op = 0; op < N_OPS; op++) {
        KcRng rng = kc_rng(1 + op);
        float *x = make_inputs(&rng, n), *z = make_inputs(&rng, n), *y = kc_floats(n);
        assert_int_equal(run_fwd(op, y, x, z, n), 0);
        ActRef r = {op, n, kc_to_double(x, n), kc_to_double(z, n), NULL};
        double *ref = kc_doubles(n);
        act_ref(&r, ref);
        double worst = kc_check_close(op_names[op], y, ref, n, 1e-6, 2e-6);
        printf("# %s fwd n=%lld: max |diff| %.2g\n", op_names[op], (long long)n, worst);
        free(x), free(z), free(y), free(ref), free(r.x), free(r.z);
    }
    /* PyTorch's threshold rule: above 20 softplus is the identity, exactly */
    float x[3] = {20.5f, 25.0f, 1e4f}, y[3];
    assert_int_equal(act_softplus_fwd_cpu(y, x, 3), 0);
    for (int i = 0; i < 3; i++) assert_true(y[i] == x[i]);
}

static void test_backward_fd(void **state) {
    (void)state;
    const int64_t n = 301;
    for (int op = 0; op < N_OPS; op++) {
        KcRng rng = kc_rng(10 + op);
        float *x = make_inputs(&rng, n), *z = make_inputs(&rng, n);
        float *dy = kc_rand_floats(&rng, n, -1, 1);
        float *dx = kc_floats(n), *dz = kc_floats(n);
        assert_int_equal(run_bwd(op, dx, dz, dy, x, z, n), 0);
        ActRef r = {op, n, kc_to_double(x, n), kc_to_double(z, n), kc_to_double(dy, n)};
        double worst = kc_check_grad("x", r.x, n, act_loss, &r, dx, 1e-5);
        if (op == OP_GATE) worst = fmax(worst, kc_check_grad("z", r.z, n, act_loss, &r, dz, 1e-5));
        printf("# %s bwd n=%lld: worst rel err vs FD %.2g\n", op_names[op], (long long)n, worst);

        /* accumulation: a second call doubles the gradients exactly */
        float *dx2 = kc_copy_floats(dx, n), *dz2 = kc_copy_floats(dz, n);
        assert_int_equal(run_bwd(op, dx2, dz2, dy, x, z, n), 0);
        for (int64_t i = 0; i < n; i++) dx[i] *= 2.0f, dz[i] *= 2.0f;
        kc_check_same("dx after 2 calls", dx2, dx, n);
        kc_check_same("dz after 2 calls", dz2, dz, n);
        free(x), free(z), free(dy), free(dx), free(dz), free(dx2), free(dz2);
        free(r.x), free(r.z), free(r.wout);
    }
    /* the gate with one gradient skipped */
    float x[2] = {0.5f, -1.0f}, z[2] = {1.0f, 2.0f}, dy[2] = {1.0f, 1.0f}, dz[2] = {0}, dx[2] = {0};
    assert_int_equal(act_silu_gate_bwd_cpu(NULL, dz, dy, x, z, 2), 0);
    assert_int_equal(act_silu_gate_bwd_cpu(dx, NULL, dy, x, z, 2), 0);
    assert_true(fabs(dx[0] - silu_d(1.0)) < 1e-6);
}

static void test_invalid(void **state) {
    (void)state;
    float a[4] = {0}, b[4] = {0};
    assert_int_equal(act_silu_fwd_cpu(a, b, -1), LS_ERR_USAGE);
    assert_non_null(strstr(ls_error_message(), "n=-1"));
    assert_int_equal(act_gelu_fwd_cpu(NULL, b, 4), LS_ERR_USAGE);
    assert_int_equal(act_softplus_bwd_cpu(a, NULL, b, 4), LS_ERR_USAGE);
    assert_int_equal(act_silu_gate_bwd_cpu(NULL, NULL, a, b, b, 4), LS_ERR_USAGE);
    assert_int_equal(act_silu_gate_fwd_cpu(a, b, NULL, 4), LS_ERR_USAGE);
    assert_int_equal(act_silu_fwd_cpu(NULL, NULL, 0), 0); /* empty: no-op */
}

int main(void) {
    kc_seed("test_act");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward),
        cmocka_unit_test(test_backward_fd),
        cmocka_unit_test(test_invalid),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests_name("act", tests, NULL, NULL);
}
