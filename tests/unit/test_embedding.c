/*
 * test_embedding.c — kernels/embedding.h on the CPU: the gather is exact; the scatter-add
 * backward (repeated ids, D across column blocks) against finite differences in double and
 * against a serial double reference; accumulation; bit-identical for 1 and 2 threads; bad
 * ids rejected with nothing written.
 * Tolerances: forward exact; gradients |g − fd| <= 1e-5·max(1, |fd|) and
 * |g − ref| <= 1e-6 + 1e-6·|ref| (float sums of at most M terms).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <omp.h>

#include "kernels/embedding.h"
#include "tests/kernel_check.h"

typedef struct {
    int64_t M, V, D;
    const int32_t *ids;
    double *table, *wout; /* (V, D), (M, D) */
} EmbRef;

static double emb_loss(void *ctx) {
    EmbRef *r = ctx;
    double loss = 0.0;
    for (int64_t m = 0; m < r->M; m++)
        for (int64_t d = 0; d < r->D; d++)
            loss += r->wout[m * r->D + d] * r->table[(int64_t)r->ids[m] * r->D + d];
    return loss;
}

static int32_t *make_ids(KcRng *rng, int64_t M, int64_t V) {
    int32_t *ids = calloc((size_t)M, sizeof(int32_t));
    assert_non_null(ids);
    for (int64_t m = 0; m < M; m++) ids[m] = (int32_t)kc_int(rng, 0, V - 1);
    return ids;
}

static void check_case(int64_t M, int64_t V, int64_t D, uint64_t stream) {
    KcRng rng = kc_rng(stream);
    int32_t *ids = make_ids(&rng, M, V);
    float *table = kc_rand_floats(&rng, V * D, -1, 1), *out = kc_floats(M * D);
    assert_int_equal(embedding_fwd_cpu(out, ids, table, M, V, D), 0);
    for (int64_t m = 0; m < M; m++)
        kc_check_same("out row", out + m * D, table + (int64_t)ids[m] * D, D);

    float *dout = kc_rand_floats(&rng, M * D, -1, 1), *dtable = kc_floats(V * D);
    assert_int_equal(embedding_bwd_cpu(dtable, dout, ids, M, V, D), 0);
    EmbRef r = {M, V, D, ids, kc_to_double(table, V * D), kc_to_double(dout, M * D)};
    double worst = kc_check_grad("table", r.table, V * D, emb_loss, &r, dtable, 1e-5);
    double *ref = kc_doubles(V * D);
    for (int64_t m = 0; m < M; m++)
        for (int64_t d = 0; d < D; d++) ref[(int64_t)ids[m] * D + d] += dout[m * D + d];
    kc_check_close("dtable", dtable, ref, V * D, 1e-6, 1e-6);
    printf("# embedding M=%lld V=%lld D=%lld: grad worst rel err vs FD %.2g\n", (long long)M,
           (long long)V, (long long)D, worst);
    free(ids), free(table), free(out), free(dout), free(dtable), free(r.table), free(r.wout);
    free(ref);
}

static void test_forward_backward(void **state) {
    (void)state;
    check_case(9, 5, 3, 1);    /* ids repeat (M > V) */
    check_case(20, 4, 70, 2);  /* two column blocks */
    check_case(3, 16, 1, 3);
}

static void test_accumulate_and_determinism(void **state) {
    (void)state;
    const int64_t M = 500, V = 7, D = 130;
    KcRng rng = kc_rng(10);
    int32_t *ids = make_ids(&rng, M, V);
    float *dout = kc_rand_floats(&rng, M * D, -1, 1);
    float *g1 = kc_floats(V * D), *g2 = kc_floats(V * D);
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    assert_int_equal(embedding_bwd_cpu(g1, dout, ids, M, V, D), 0);
    omp_set_num_threads(2);
    assert_int_equal(embedding_bwd_cpu(g2, dout, ids, M, V, D), 0);
    omp_set_num_threads(saved);
    kc_check_same("dtable 1 vs 2 threads", g1, g2, V * D);
    /* a second call adds the same float terms again, onto the first sum: compare with 2× */
    assert_int_equal(embedding_bwd_cpu(g2, dout, ids, M, V, D), 0);
    double *twice = kc_doubles(V * D);
    for (int64_t i = 0; i < V * D; i++) twice[i] = 2.0 * g1[i];
    kc_check_close("dtable after 2 calls", g2, twice, V * D, 1e-5, 1e-5);
    free(ids), free(dout), free(g1), free(g2), free(twice);
}

static void test_invalid(void **state) {
    (void)state;
    int32_t ids[3] = {0, 4, 1};
    float table[8] = {1, 2, 3, 4, 5, 6, 7, 8}, out[6] = {9, 9, 9, 9, 9, 9}, dt[8] = {0};
    assert_int_equal(embedding_fwd_cpu(out, ids, table, 3, 4, 2), LS_ERR_RANGE);
    assert_non_null(strstr(ls_error_message(), "ids[1]=4"));
    kc_check_all("out untouched", out, 6, 9.0f);
    ids[1] = -1;
    assert_int_equal(embedding_bwd_cpu(dt, out, ids, 3, 4, 2), LS_ERR_RANGE);
    kc_check_all("dtable untouched", dt, 8, 0.0f);
    ids[1] = 3;
    assert_int_equal(embedding_fwd_cpu(out, ids, table, 3, 4, 2), 0);
    assert_true(out[2] == 7.0f && out[3] == 8.0f);
    assert_int_equal(embedding_fwd_cpu(out, ids, table, -1, 4, 2), LS_ERR_USAGE);
    assert_int_equal(embedding_fwd_cpu(out, ids, table, 3, 0, 2), LS_ERR_USAGE);
    assert_int_equal(embedding_fwd_cpu(out, ids, table, 3, 4, 0), LS_ERR_USAGE);
    assert_int_equal(embedding_fwd_cpu(out, NULL, table, 3, 4, 2), LS_ERR_USAGE);
    assert_int_equal(embedding_bwd_cpu(NULL, out, ids, 3, 4, 2), LS_ERR_USAGE);
    assert_int_equal(embedding_fwd_cpu(NULL, NULL, NULL, 0, 4, 2), 0); /* M = 0 */
}

int main(void) {
    kc_seed("test_embedding");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_backward),
        cmocka_unit_test(test_accumulate_and_determinism),
        cmocka_unit_test(test_invalid),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests_name("embedding", tests, NULL, NULL);
}
