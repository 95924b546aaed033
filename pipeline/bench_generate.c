/*
 * bench_generate.c — `longscan bench generate`: how many samples per second `longscan
 * generate` draws from an audio language model of issue 13's shape (a causal Mamba LM,
 * µ-law codes: vocabulary 256; default 6 layers of d_model 256) with random weights, at each
 * --batch. Each row times the whole generator (pipeline/generator.c, what `generate` runs):
 * stream reset, the device draws, on the GPU the CUDA-graph capture, and the tokens back on
 * the host, for --steps tokens per row after one warm-up run; the median of --repeat runs.
 * samples/s = batch · steps / seconds (all rows together), as the bars count them.
 * Which path ran is in the row: the unfused step (the default, --unfused says so explicitly)
 * or the fused one (kernels/gen_step.h; --fused asks for it, and the row says why it could not
 * run where it did not), and graphs on or why not.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/device.h"
#include "models/model.h"
#include "pipeline/bench_internal.h"
#include "pipeline/cli.h"
#include "pipeline/generator.h"

enum {
    OPT_BATCH = CLI_OPT_FIRST_COMMAND_OPTION,
    OPT_STEPS,
    OPT_GRAPH_STEPS,
    OPT_D_MODEL,
    OPT_LAYERS,
    OPT_REPEAT,
    OPT_UNFUSED,
    OPT_FUSED,
};

static double seconds_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct {
    int64_t B, steps;
    double seconds, samples_s;
    int graphs, fused;
    char note[400];
} GenRow;

static int gen_row(Model *m, const CommonOptions *common, int64_t graph_steps, int repeat,
                   GenRow *r) {
    uint8_t *prefix = calloc((size_t)r->B, 1); // one seed token per row (µ-law code 0)
    double *times = malloc((size_t)repeat * sizeof *times);
    int status = prefix && times ? 0 : ls_error(LS_ERR_NOMEM, "bench generate: host memory");
    GeneratorOptions o = {.B = r->B, .prefix = prefix, .P = 1, .length = r->steps,
                          .sampler = {.temperature = 1.0, .top_p = 1.0}, .seed = common->seed,
                          .graph_steps = graph_steps > 0 ? graph_steps : -1};
    for (int k = -1; status == 0 && k < repeat; k++) {
        const double t0 = seconds_now();
        status = generator_run(m, &o); // ends with the last tokens on the host
        if (status == 0 && k >= 0) times[k] = seconds_now() - t0;
    }
    if (status == 0) {
        qsort(times, (size_t)repeat, sizeof *times, cmp_double);
        r->seconds = times[repeat / 2];
        r->samples_s = (double)(r->B * r->steps) / r->seconds;
        const char *why = "", *fused_why = "";
        const int cuda = common->device.kind == DEVICE_CUDA;
        r->graphs = cuda && model_generate_device_graphs(m, &why);
        r->fused = cuda && model_generate_device_fused(m, &fused_why);
        if (!cuda)
            snprintf(r->note, sizeof r->note, "cpu: host draws");
        else
            snprintf(r->note, sizeof r->note, "%s%s%s, %s", r->fused ? "fused step" : "unfused",
                     r->fused ? "" : ": ", fused_why, r->graphs ? "cuda graphs" : why);
    }
    free(prefix);
    free(times);
    return status;
}

int bench_generate(int argc, char **argv) {
    static const struct option long_options[] = {
        {"batch", required_argument, NULL, OPT_BATCH},
        {"steps", required_argument, NULL, OPT_STEPS},
        {"graph-steps", required_argument, NULL, OPT_GRAPH_STEPS},
        {"d-model", required_argument, NULL, OPT_D_MODEL},
        {"layers", required_argument, NULL, OPT_LAYERS},
        {"repeat", required_argument, NULL, OPT_REPEAT},
        {"unfused", no_argument, NULL, OPT_UNFUSED},
        {"fused", no_argument, NULL, OPT_FUSED},
        CLI_COMMON_LONG_OPTIONS,
        CLI_MODEL_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    CommonOptions common;
    cli_common_default(&common);
    int64_t batches[8] = {1, 64}, steps = 0, graph_steps = GENERATOR_GRAPH_STEPS, d_model = 256,
            layers = 6;
    int n_batch = 2, repeat = 3, fused = 0, c, status = 0;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+o:h", long_options, NULL)) != -1) {
        status = cli_common_parse(c, optarg, &common);
        if (status < 0) return cli_fail("bench", status);
        if (status == 1) continue;
        status = 0;
        switch (c) {
        case 'h': bench_usage(stdout); return EXIT_OK;
        case OPT_BATCH: {
            n_batch = 0;
            char *copy = strdup(optarg), *save = NULL;
            if (!copy) return cli_fail("bench", ls_error(LS_ERR_NOMEM, "out of memory"));
            for (char *tok = strtok_r(copy, ",", &save); tok && status == 0;
                 tok = strtok_r(NULL, ",", &save)) {
                if (n_batch == 8) {
                    status = ls_error(LS_ERR_USAGE, "--batch: at most 8 sizes");
                    break;
                }
                status = cli_parse_int64("--batch", tok, 1, 65536, &batches[n_batch++]);
            }
            free(copy);
            if (status == 0 && n_batch == 0)
                status = ls_error(LS_ERR_USAGE, "--batch %s: no size", optarg);
            break;
        }
        case OPT_STEPS: status = cli_parse_int64("--steps", optarg, 1, INT64_C(1) << 30, &steps);
            break;
        case OPT_GRAPH_STEPS:
            status = cli_parse_int64("--graph-steps", optarg, 0, 65536, &graph_steps);
            break;
        case OPT_D_MODEL: status = cli_parse_int64("--d-model", optarg, 8, 8192, &d_model); break;
        case OPT_LAYERS: status = cli_parse_int64("--layers", optarg, 1, 1024, &layers); break;
        case OPT_REPEAT: status = cli_parse_int("--repeat", optarg, 1, 100, &repeat); break;
        case OPT_UNFUSED: fused = 0; break;
        case OPT_FUSED: fused = 1; break;
        default:
            return cli_usage_error("bench", "unknown or incomplete option '%s'",
                                   argv[optind - 1]);
        }
        if (status < 0) return cli_fail("bench", status);
    }
    if (optind < argc) return cli_usage_error("bench", "bench generate takes no file arguments");
    cli_common_apply(&common);
    if ((status = cli_resolve_device(&common)) < 0) return cli_fail("bench", status);
    ModelConfig cfg;
    model_config_default(&cfg, MODEL_MAMBA, MODEL_TASK_LM);
    cfg.vocab = 256; // µ-law codes
    cfg.d_model = d_model;
    cfg.n_layers = layers;
    Model *m = NULL;
    OutputFile out = {0};
    GenRow rows[8];
    memset(rows, 0, sizeof rows);
    if ((status = model_init(&m, &cfg, &common.device, common.seed)) < 0) goto fail;
    if ((status = model_set_precision(m, common.dtype)) < 0) goto fail;
    model_set_generate_fused(m, fused);
    for (int i = 0; i < n_batch; i++) {
        GenRow *r = &rows[i];
        r->B = batches[i];
        r->steps = steps > 0 ? steps : r->B >= 16 ? 4096 : 16384;
        if ((status = gen_row(m, &common, graph_steps, repeat, r)) < 0) {
            ls_error_prefix("bench generate batch %lld", (long long)r->B);
            goto fail;
        }
    }
    if ((status = cli_output_open(&out, common.output)) < 0) goto fail;
    fprintf(out.fp, "# longscan bench generate: %s, mamba LM d_model %lld x %lld layers, vocab "
            "256 (mu-law), %s, T 1, top-p 1; median of %d runs after 1 warm-up; wall clock "
            "of the whole generator; step %s\n", common.device_desc, (long long)d_model,
            (long long)layers, dtype_name(common.dtype), repeat,
            fused ? "fused where it applies (--fused)" : "unfused (the default)");
    fprintf(out.fp, "%-6s %8s %6s %10s %14s %14s  %s\n", "batch", "steps", "graph", "seconds",
            "samples/s", "per_row/s", "path");
    for (int i = 0; i < n_batch; i++) {
        const GenRow *r = &rows[i];
        fprintf(out.fp, "%-6lld %8lld %6lld %10.4f %14.0f %14.0f  %s\n", (long long)r->B,
                (long long)r->steps, (long long)graph_steps, r->seconds, r->samples_s,
                r->samples_s / (double)r->B, r->note);
    }
    if ((status = cli_output_commit(&out)) < 0) goto fail;
    status = 0;
fail:
    cli_output_abort(&out);
    model_free(m);
    return status ? cli_fail("bench", status) : EXIT_OK;
}
