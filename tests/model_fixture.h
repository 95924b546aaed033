/*
 * model_fixture.h — the tiny model the CPU model tests share (test_model.c, test_model_pack.c,
 * test_model_seqpar.c): d_model 8, 2 layers, d_state 4, vocabulary 5, 3 classes, frames of 3
 * samples, 2 heads with an MLP of 16 where the architecture has attention; the attention window
 * is the caller's; and OK(call). Header-only (static functions), like kernel_check.h.
 */
#ifndef LS_TESTS_MODEL_FIXTURE_H
#define LS_TESTS_MODEL_FIXTURE_H

#include "common/error.h"
#include "models/model.h"

// A call that must succeed (0), else the test fails with the project's error message
// (fail_msg: cmocka, included before this header).
#define OK(expr)                                                                                   \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ != 0) fail_msg("%s returned %d: %s", #expr, rc_, ls_error_message());              \
    } while (0)

static const Device cpu = {DEVICE_CPU, 0};

static inline ModelConfig tiny_config(ModelArch arch, ModelTask task, int64_t window) {
    ModelConfig c;
    model_config_default(&c, arch, task);
    c.d_model = 8;
    c.n_layers = 2;
    c.d_state = 4;
    c.expand = 2;
    c.vocab = 5;
    c.n_classes = 3;
    c.n_heads = 2;
    c.mlp_hidden = 16;
    c.window = window;
    c.frame = 3;
    return c;
}

#endif
