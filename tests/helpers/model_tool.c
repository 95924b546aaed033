/*
 * model_tool.c — test helper for tests/py/test_model_names.py: writes a freshly initialised
 * checkpoint for a config, and prints the logits of one token row, so Python can check the
 * checkpoint's names, shapes and initial values against mamba_ssm's conventions and run an
 * independent NumPy forward on it.
 *
 *   model_tool save CONFIG_JSON OUT.safetensors [SEED]
 *   model_tool logits CKPT.safetensors TOKENS        TOKENS: digits, e.g. 0123401234
 *
 * `logits` prints one value per line (%.9g): (L, vocab) for an LM, (n_classes) otherwise.
 * Errors: one line on stderr, exit 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"

static int fail(const char *what) {
    fprintf(stderr, "model_tool: %s: %s\n", what, ls_error_message());
    return 1;
}

int main(int argc, char **argv) {
    const Device cpu = {DEVICE_CPU, 0};
    if (argc >= 4 && strcmp(argv[1], "save") == 0) {
        ModelConfig cfg;
        Model *m = NULL;
        uint64_t seed = argc > 4 ? strtoull(argv[4], NULL, 10) : 1;
        if (model_config_from_json(&cfg, argv[2], "argv") < 0) return fail("config");
        if (model_init(&m, &cfg, &cpu, seed) < 0) return fail("init");
        const char *keys[1] = {"written_by"}, *values[1] = {"tests/helpers/model_tool"};
        int rc = model_save(m, argv[3], 1, keys, values);
        model_free(m);
        return rc < 0 ? fail(argv[3]) : 0;
    }
    if (argc == 4 && strcmp(argv[1], "logits") == 0) {
        Model *m = NULL;
        if (model_load(&m, argv[2], &cpu) < 0) return fail(argv[2]);
        const ModelConfig *c = model_config(m);
        int64_t L = (int64_t)strlen(argv[3]);
        uint8_t *tok = malloc((size_t)L + 1);
        for (int64_t i = 0; i < L; i++)
            tok[i] = (uint8_t)(argv[3][i] - '0');
        ModelBatch b = {.B = 1, .L = L, .tokens = tok, .lengths = NULL};
        int64_t n = c->task == MODEL_TASK_LM ? L * c->vocab : c->n_classes;
        float *logits = malloc((size_t)n * sizeof *logits);
        int rc = model_forward(m, &b, logits, 0);
        if (rc == 0)
            for (int64_t i = 0; i < n; i++)
                printf("%.9g\n", logits[i]);
        free(tok);
        free(logits);
        model_free(m);
        return rc < 0 ? fail("forward") : 0;
    }
    fprintf(stderr, "usage: model_tool save CONFIG_JSON OUT [SEED] | logits CKPT TOKENS\n");
    return 1;
}
