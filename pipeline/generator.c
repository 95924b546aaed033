/*
 * generator.c — the generation loop (generator.h): prime the streaming state with the prefix
 * in parallel passes, then one recurrent step and one draw per token and row.
 * Tested by tests/unit/test_generate.c.
 */
#include "pipeline/generator.h"

#include <stdlib.h>
#include <string.h>

// The steps on the GPU: draws on the device, the tokens back once per run of steps.
static int run_on_device(Model *m, const GeneratorOptions *opt, const Rng *rng, uint8_t *cur,
                         float *logits, uint8_t *out, int64_t block) {
    const int64_t B = opt->B;
    uint64_t *states = malloc((size_t)B * 4 * sizeof *states);
    if (!states) return ls_error(LS_ERR_NOMEM, "generation: out of memory for %lld rows",
                                 (long long)B);
    for (int64_t b = 0; b < B; b++) memcpy(states + 4 * b, rng[b].s, sizeof rng[b].s);
    int64_t graph = opt->graph_steps == 0 ? GENERATOR_GRAPH_STEPS
                    : opt->graph_steps < 0 ? 0 : opt->graph_steps;
    if (graph > block) graph = block;
    const ModelSampling smp = {.temperature = opt->sampler.temperature,
                               .top_p = opt->sampler.top_p,
                               .rng = states,
                               .graph_steps = opt->on_step ? 0 : graph};
    int status = model_generate_device_start(m, cur, &smp);
    free(states);
    const int64_t most = smp.graph_steps > 0 ? smp.graph_steps : 1;
    for (int64_t t = 0, t0 = 0; status == 0 && t < opt->length;) {
        int64_t n = opt->length - t < most ? opt->length - t : most;
        if (n > block - (t - t0)) n = block - (t - t0);
        status = model_generate_device_run(m, n, out + (t - t0), block,
                                           opt->on_step ? logits : NULL);
        if (status == 0 && opt->on_step) {
            for (int64_t b = 0; b < B; b++) cur[b] = out[b * block + (t - t0)];
            status = opt->on_step(opt->ctx, t, logits, cur);
        }
        t += n;
        if (status == 0 && (t - t0 == block || t == opt->length)) {
            if (opt->on_block) status = opt->on_block(opt->ctx, t0, t - t0, out, block);
            t0 = t;
        }
    }
    return status;
}

int generator_run(Model *m, const GeneratorOptions *opt) {
    const ModelConfig *cfg = model_config(m);
    const int64_t B = opt->B, P = opt->P, V = cfg->vocab;
    if (cfg->task != MODEL_TASK_LM)
        return ls_error(LS_ERR_UNSUPPORTED, "generation needs a language model, not a classifier");
    if (V > 256)
        return ls_error(LS_ERR_UNSUPPORTED, "generation writes 8-bit tokens (DNA, audio codes); "
                        "this model has a vocabulary of %lld ids", (long long)V);
    if (B < 1 || P < 1 || opt->length < 1 || !opt->prefix)
        return ls_error(LS_ERR_USAGE, "generator: B %lld, prefix %lld, length %lld",
                        (long long)B, (long long)P, (long long)opt->length);
    const int64_t segment = opt->segment > 0   ? opt->segment
                            : GENERATOR_PRIME_ROWS / B > 0 ? GENERATOR_PRIME_ROWS / B : 1;
    const int64_t block = opt->block > 0 ? opt->block : GENERATOR_BLOCK;
    Sampler *sampler = NULL;
    Rng *rng = malloc((size_t)B * sizeof *rng);
    float *logits = malloc((size_t)(B * V) * sizeof *logits);
    uint8_t *seg = malloc((size_t)(B * (segment < P ? segment : P)));
    uint8_t *cur = malloc((size_t)B), *out = malloc((size_t)(B * block));
    int status = 0;
    if (!rng || !logits || !seg || !cur || !out) {
        status = ls_error(LS_ERR_NOMEM, "generation: out of memory for %lld rows",
                          (long long)B);
        goto fail;
    }
    if ((status = sampler_init(&sampler, &opt->sampler, V)) < 0) goto fail;
    for (int64_t b = 0; b < B; b++) rng_seed_stream(&rng[b], opt->seed, (uint64_t)b);
    // the key/value caches of attention layers for the whole context, before any work
    if ((status = model_stream_reset(m, B)) < 0 ||
        (status = model_stream_reserve(m, P + opt->length)) < 0)
        goto fail;
    // prime: every prefix token but the last, in parallel passes, without logits
    for (int64_t at = 0; at < P - 1; at += segment) {
        const int64_t n = P - 1 - at < segment ? P - 1 - at : segment;
        for (int64_t b = 0; b < B; b++) memcpy(seg + b * n, opt->prefix + b * P + at, (size_t)n);
        ModelBatch mb = {.B = B, .L = n, .tokens = seg};
        if ((status = model_stream_forward(m, &mb, NULL)) < 0) goto fail;
    }
    for (int64_t b = 0; b < B; b++) cur[b] = opt->prefix[b * P + P - 1];
    if (model_device(m)->kind == DEVICE_CUDA) {
        status = run_on_device(m, opt, rng, cur, logits, out, block);
        goto fail;
    }
    int64_t t0 = 0;
    for (int64_t t = 0; t < opt->length; t++) {
        if ((status = model_generate_step(m, cur, logits)) < 0) goto fail;
        for (int64_t b = 0; b < B; b++) {
            int64_t id = sampler_draw(sampler, logits + b * V, &rng[b]);
            if (id < 0) {
                status = (int)id;
                ls_error_prefix("generated row %lld, token %lld", (long long)b, (long long)t);
                goto fail;
            }
            cur[b] = (uint8_t)id;
            out[b * block + (t - t0)] = (uint8_t)id;
        }
        if (opt->on_step && (status = opt->on_step(opt->ctx, t, logits, cur)) < 0) goto fail;
        if (t + 1 - t0 == block || t + 1 == opt->length) {
            if (opt->on_block &&
                (status = opt->on_block(opt->ctx, t0, t + 1 - t0, out, block)) < 0)
                goto fail;
            t0 = t + 1;
        }
    }
fail:
    sampler_free(sampler);
    free(rng);
    free(logits);
    free(seg);
    free(cur);
    free(out);
    return status;
}
