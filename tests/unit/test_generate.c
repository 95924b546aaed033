/*
 * test_generate.c — pipeline/generator.h, the loop `longscan generate` runs, on small random
 * language models on the CPU.
 *
 * Teacher forcing: the loop primes the streaming state with a prompt (several parallel
 * passes) and then samples token by token through the recurrent step; the full forward
 * (model_forward, one pass) is then run on the generated sequence, prompt included, and the
 * logits of every step must equal the full forward's at the same position:
 * |step − full| <= 1e-5 + 1e-5·|full| elementwise (the step path and the parallel pass order
 * their fp32 sums differently). Also: the same seed gives the same tokens, another seed other
 * tokens, greedy sampling takes the argmax of the step's logits, and the tokens handed over in
 * blocks are the tokens drawn at each step. For the causal Mamba (recurrent step), the
 * Transformer and the hybrid (key/value caches in their attention layers).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"
#include "pipeline/generator.h"
#include "tests/kernel_check.h"

#define OK(expr)                                                                                   \
    do {                                                                                           \
        if ((expr) < 0) fail_msg("%s: %s", #expr, ls_error_message());                             \
    } while (0)

static const Device cpu = {DEVICE_CPU, 0};

// What the loop produced: every step's logits and tokens, and the blocks handed over.
typedef struct {
    int64_t B, P, n, V;
    uint8_t *seq;       // (B, P + n): the prefix, then the blocks' tokens
    uint8_t *drawn;     // (B, n): the tokens of each step
    float *step_logits; // (B, n, V)
    int greedy;
} Capture;

static int on_block(void *ctx, int64_t t0, int64_t n, const uint8_t *tokens, int64_t stride) {
    Capture *c = ctx;
    for (int64_t b = 0; b < c->B; b++)
        memcpy(c->seq + b * (c->P + c->n) + c->P + t0, tokens + b * stride, (size_t)n);
    return 0;
}

static int on_step(void *ctx, int64_t t, const float *logits, const uint8_t *next) {
    Capture *c = ctx;
    for (int64_t b = 0; b < c->B; b++) {
        memcpy(c->step_logits + (b * c->n + t) * c->V, logits + b * c->V,
               (size_t)c->V * sizeof(float));
        c->drawn[b * c->n + t] = next[b];
        if (c->greedy) {
            int64_t best = 0;
            for (int64_t v = 1; v < c->V; v++)
                if (logits[b * c->V + v] > logits[b * c->V + best]) best = v;
            if (next[b] != best)
                fail_msg("greedy step %lld row %lld: drew %d, the argmax is %lld", (long long)t,
                         (long long)b, next[b], (long long)best);
        }
    }
    return 0;
}

static Capture run(Model *m, const uint8_t *prefix, int64_t B, int64_t P, int64_t n,
                   double temperature, double top_p, uint64_t seed, int64_t segment,
                   int64_t block) {
    const int64_t V = model_config(m)->vocab;
    Capture c = {B, P, n, V, calloc((size_t)(B * (P + n)), 1), calloc((size_t)(B * n), 1),
                 kc_floats(B * n * V), temperature == 0.0};
    for (int64_t b = 0; b < B; b++) memcpy(c.seq + b * (P + n), prefix + b * P, (size_t)P);
    GeneratorOptions o = {.B = B, .prefix = prefix, .P = P, .length = n,
                          .sampler = {temperature, top_p}, .seed = seed, .segment = segment,
                          .block = block, .on_block = on_block, .on_step = on_step, .ctx = &c};
    OK(generator_run(m, &o));
    for (int64_t b = 0; b < B; b++)
        if (memcmp(c.seq + b * (P + n) + P, c.drawn + b * n, (size_t)n) != 0)
            fail_msg("row %lld: the blocks handed over differ from the tokens drawn", (long long)b);
    return c;
}

static void capture_free(Capture *c) {
    free(c->seq);
    free(c->drawn);
    free(c->step_logits);
}

// The step logits of every generated token against the full forward on the sequence.
static void teacher_forcing(const char *what, Model *m, const Capture *c) {
    const int64_t B = c->B, L = c->P + c->n, V = c->V;
    float *full = kc_floats(B * L * V);
    ModelBatch mb = {.B = B, .L = L, .tokens = c->seq};
    OK(model_forward(m, &mb, full, 0));
    double worst = 0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < c->n; t++)
            for (int64_t v = 0; v < V; v++) {
                const double want = full[(b * L + c->P - 1 + t) * V + v];
                const double got = c->step_logits[(b * c->n + t) * V + v];
                const double err = fabs(got - want);
                if (err > worst) worst = err;
                if (!(err <= 1e-5 + 1e-5 * fabs(want)))
                    fail_msg("%s: row %lld step %lld id %lld: step logit %.9g, full forward "
                             "%.9g", what, (long long)b, (long long)t, (long long)v, got, want);
            }
    printf("#   %s: %lld steps x %lld rows, max |step - full| = %.3g\n", what, (long long)c->n,
           (long long)B, worst);
    free(full);
}

static Model *lm(ModelArch arch, int64_t vocab, uint64_t seed) {
    ModelConfig c;
    model_config_default(&c, arch, MODEL_TASK_LM);
    c.d_model = 16;
    c.n_layers = 3;
    c.d_state = 4;
    c.vocab = vocab;
    c.n_heads = 2;
    c.mlp_hidden = 32;
    Model *m = NULL;
    if (model_init(&m, &c, &cpu, seed) < 0) fail_msg("model_init: %s", ls_error_message());
    return m;
}

static uint8_t *random_prefix(KcRng *r, int64_t B, int64_t P, int64_t V) {
    uint8_t *p = malloc((size_t)(B * P));
    for (int64_t i = 0; i < B * P; i++) p[i] = (uint8_t)kc_int(r, 0, V - 1);
    return p;
}

static void check_arch(ModelArch arch, const char *name) {
    KcRng r = kc_rng(7);
    char what[128];
    // 8-bit audio codes: the loop's whole token range
    Model *m = lm(arch, 256, 3);
    const int64_t B = 3, P = 11, n = 37;
    uint8_t *prefix = random_prefix(&r, B, P, 256);
    Capture a = run(m, prefix, B, P, n, 1.0, 0.95, 5, 4, 8); // 3 priming passes, 5 blocks
    snprintf(what, sizeof what, "%s, vocab 256, prompt 11 (passes of 4) + 37 sampled", name);
    teacher_forcing(what, m, &a);
    Capture same = run(m, prefix, B, P, n, 1.0, 0.95, 5, 0, 0); // one pass, one block
    assert_memory_equal(a.seq, same.seq, (size_t)(B * (P + n)));
    Capture other = run(m, prefix, B, P, n, 1.0, 0.95, 6, 0, 0);
    assert_true(memcmp(a.seq, other.seq, (size_t)(B * (P + n))) != 0);
    Capture greedy = run(m, prefix, B, P, n, 0.0, 1.0, 5, 0, 0);
    snprintf(what, sizeof what, "%s, greedy", name);
    teacher_forcing(what, m, &greedy);
    capture_free(&a);
    capture_free(&same);
    capture_free(&other);
    capture_free(&greedy);
    free(prefix);
    model_free(m);
    // DNA: a one-token prefix (no prompt), hot sampling so every id occurs
    m = lm(arch, 5, 4);
    prefix = random_prefix(&r, 2, 1, 4);
    a = run(m, prefix, 2, 1, 60, 2.0, 1.0, 9, 0, 0);
    snprintf(what, sizeof what, "%s, vocab 5, no prompt, 60 sampled", name);
    teacher_forcing(what, m, &a);
    capture_free(&a);
    free(prefix);
    model_free(m);
}

static void test_mamba(void **state) {
    (void)state;
    check_arch(MODEL_MAMBA, "mamba");
}

static void test_transformer(void **state) {
    (void)state;
    check_arch(MODEL_TRANSFORMER, "transformer");
}

static void test_hybrid(void **state) {
    (void)state;
    check_arch(MODEL_HYBRID, "hybrid (attention in layer 1 of 3)");
}

static void test_refused(void **state) {
    (void)state;
    ModelConfig c;
    model_config_default(&c, MODEL_MAMBA, MODEL_TASK_CLASSIFY);
    c.d_model = 8;
    c.n_layers = 1;
    c.vocab = 5;
    c.pool = MODEL_POOL_LAST;
    Model *m = NULL;
    OK(model_init(&m, &c, &cpu, 1));
    const uint8_t p[1] = {0};
    GeneratorOptions o = {.B = 1, .prefix = p, .P = 1, .length = 4, .sampler = {1.0, 1.0}};
    assert_int_equal(generator_run(m, &o), LS_ERR_UNSUPPORTED);
    model_free(m);
    m = lm(MODEL_MAMBA, 300, 1); // ids past 8 bits
    assert_int_equal(generator_run(m, &o), LS_ERR_UNSUPPORTED);
    assert_non_null(strstr(ls_error_message(), "300"));
    model_free(m);
}

int main(void) {
    kc_seed("test_generate");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mamba),
        cmocka_unit_test(test_transformer),
        cmocka_unit_test(test_hybrid),
        cmocka_unit_test(test_refused),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests_name("generate", tests, NULL, NULL);
}
