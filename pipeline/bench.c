/*
 * bench.c — `longscan bench`: speed measurements (never part of the tests).
 *
 *   longscan bench io FILE...   read + encode throughput of the input path, one core:
 *                               sequences → tokens (bases/s), audio → mono floats (samples/s).
 *   longscan bench kernels      CUDA kernels on the anchors' workloads (bench_kernels.c).
 *   longscan bench model        a whole model's training step or forward (anchors README
 *                               "Whole-model training step", "Transformer baseline"): ms per
 *                               step, tokens/s, peak GPU memory, and the peer's row and ratios.
 *   longscan bench models       the Mamba-vs-Transformer curve over doubling L, built on
 *                               bench_model_row (bench_models.c).
 *
 * bench/io.sh runs the I/O benchmark over ../shared/data and records commit and machine with the
 * numbers; bench/NOTES.md records the kernel numbers and how they were taken.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "io/audio.h"
#include "io/detect.h"
#include "io/encode.h"
#include "io/seq.h"
#include "kernels/device.h"
#include "kernels/dtype.h"
#include "kernels/optim.h"
#include "models/model.h"
#include "pipeline/bench_internal.h"
#include "pipeline/cli.h"
#include "pipeline/commands.h"

enum {
    OPT_REPEAT = CLI_OPT_FIRST_COMMAND_OPTION,
    OPT_PEERS,
    OPT_CSV,
    OPT_PROFILE,
    OPT_TILE_ROWS,
    OPT_DROPOUT, OPT_GRAD_CHECKPOINT,
    OPT_JSON,
    OPT_MODEL,
    OPT_D_MODEL,
    OPT_LAYERS,
    OPT_SEQ_LEN,
    OPT_MODE,
};

void bench_usage(FILE *fp) {
    fprintf(fp,
"Usage: longscan bench io [options] FILE...\n"
"       longscan bench kernels [options]\n"
"       longscan bench model --model NAME [options]\n"
"       longscan bench generate [options]\n"
"       longscan bench models --max-len N [options] -o DIR   (its own --help)\n"
"\n"
"Measure how fast longscan turns files into model input, on one core:\n"
"  sequence files: read, validate and encode every base to tokens (reported in bases/s and\n"
"                  MB/s of bases, 1 base = 1 byte);\n"
"  audio files:    decode and mix down to mono float samples (reported in samples/s).\n"
"Each file is processed --repeat times; the best wall-clock time is reported, as TSV:\n"
"  file  kind  units  count  best_seconds  million_units_per_s  MB_per_s\n"
"\n"
"Options:\n"
"      --repeat N         passes per file, best one reported (default 3)\n"
CLI_COMMON_HELP
"\n"
"bench kernels: time the CUDA kernels on the anchors' workloads (a CUDA build and a GPU):\n"
"  scan_fwd, scan_fwd_bwd   selective scan, batch 1, D = 1024, N = 16, z gate, D skip,\n"
"                           delta_bias, softplus; fp32 and bf16; L = 4K, 16K, 64K, 256K, 1M\n"
"  conv_fwd, conv_fwd_bwd   causal depthwise conv1d, batch 1, D = 1024, K = 4, bias, SiLU;\n"
"                           fp32 and bf16; L = 4K … 1M (no peer: of_copy is the measure;\n"
"                           1 / of_copy = times the bandwidth floor)\n"
"  attn_fwd, attn_fwd_bwd   attention, batch 1, 8 heads x 64, causal, bf16; L = 1K … 64K\n"
"Each row: median of --repeat event-timed calls after 2 warm-ups, the L2 flushed before each;\n"
"for the scan and the conv, GB/s of the compulsory bytes (inputs read once, outputs written\n"
"once) and that as a fraction of a device-to-device copy measured in the same run; for\n"
"attention, TFLOP/s as flash attention counts them (causal halves the forward's 4·L²·hd per\n"
"head; the backward is 2.5 forwards); with --peers, the peer's time for the same row and\n"
"speedup = peer / ours.\n"
"      --peers FILE       peer timings (JSON array of {peer, op, dtype, L, ms}, e.g.\n"
"                         ../shared/anchors/peers-h100.json)\n"
"      --csv FILE         also write the rows as CSV to FILE\n"
"      --json             print the rows as one JSON array instead of the table\n"
"      --max-len N        only rows with L <= N (default: all)\n"
"      --len N            only rows with L = N\n"
"      --workload NAME    only this workload (e.g. scan_fwd_bwd)\n"
"      --dtype T          only f32 or only bf16 rows\n"
"      --repeat N         timed calls per row for bench kernels (default 10, at least 10)\n"
"  (bench kernels uses --device cuda:N for the GPU; default cuda:0)\n"
"\n"
"\n"
"bench model: time a whole model on --device (default auto) as the anchors' peers ran it:\n"
"  token vocabulary 16, mean-pool classifier (2 classes), batch 1, random tokens; a train\n"
"  step is forward + cross-entropy + backward + gradient norm + AdamW (the trainer's step),\n"
"  forward is the inference forward. Each row: median of --repeat steps after 2 warm-ups,\n"
"  wall clock (a step ends when its loss or logits reach the host); peak GPU memory = the\n"
"  most longscan held at once (model, optimizer, activations, scratch; torch's\n"
"  max_memory_allocated counts the same). A row that does not fit says so and the run goes on.\n"
"      --model NAME       mamba, bimamba or transformer (causal, 8 heads, MLP 4x, RoPE)\n"
"      --d-model N        width (default 256)\n"
"      --layers N         layers (default 8)\n"
"      --seq-len L[,L..]  sequence lengths, one row each (default 16384)\n"
"      --mode M           train or forward (default train)\n"
"      --precision P      fp32 or bf16 (default bf16 on a GPU, fp32 on the CPU)\n"
"      --repeat N         timed steps per row (default 5)\n"
"      --peers FILE       the anchors' JSON (peers-model-h100.json,\n"
"                         peers-transformer-h100.json): the peer's row and ours / theirs\n"
"      --csv FILE, --json as for bench kernels\n"
"      --tile-rows N      rows of one Mamba tile (default: 16,384 on the CPU; on a GPU\n"
"                         65,536, or a quarter of a longer input up to 262,144): more\n"
"                         means fewer, larger launches and more memory\n"
"      --dropout P        train rows: the step with dropout P (train --dropout), to time\n"
"                         what it costs (default 0: none)\n"
"      --grad-checkpoint K  train rows: keep every K-th layer input, recompute the others in\n"
"                         the backward (train --grad-checkpoint): the time and memory it\n"
"                         trades (default 1: every input kept)\n"
"      --profile FILE     after the timed steps, one more step with every op timed (CUDA\n"
"                         events, or the host clock on the CPU): per row, each op's calls,\n"
"                         time and share of the step, and the GPU's idle time between ops,\n"
"                         written to FILE as a table (the profiled step runs slower)\n"
"\n"
"bench generate: samples/s of `longscan generate` on --device (default auto) for an audio LM of\n"
"  issue 13's shape with random weights: causal mamba, vocabulary 256 (mu-law), T 1, top-p 1,\n"
"  one seed token per row. Each row times the whole generator (on a GPU: draws on the device,\n"
"  CUDA graphs of --graph-steps steps, tokens back on the host) for --steps tokens per row,\n"
"  median of --repeat runs after a warm-up; samples/s counts every row (batch x steps / s).\n"
"      --batch B[,B..]    rows generated side by side, one table row each (default 1,64)\n"
"      --steps N          tokens per row (default 16384 below batch 16, else 4096)\n"
"      --graph-steps N    steps per CUDA graph (default 128; 0: no graphs)\n"
"      --d-model N        width (default 256)\n"
"      --layers N         layers (default 6)\n"
"      --precision P      fp32 or bf16 (default bf16 on a GPU)\n"
"      --repeat N         timed runs per row (default 3)\n"
"      --unfused          run the step op by op (~10 ops per layer): the default\n"
"      --fused            run the fused step instead (kernels/gen_step.h: one kernel per\n"
"                         step on thread-block clusters; opt-in until measured faster), for\n"
"                         comparison; the path column says which ran and why (on the CPU:\n"
"                         no effect)\n");
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One pass over a sequence file: bases read and encoded; *checksum keeps the work alive. */
static int bench_seq_pass(const char *path, int64_t *count, uint64_t *checksum) {
    SeqReader *reader = NULL;
    SeqRecord rec = {0};
    int status = seq_reader_open(&reader, path, NULL);
    if (status < 0) return status;
    int64_t got;
    *count = 0;
    while ((got = seq_reader_next(reader, &rec)) >= 0) {
        uint8_t *tokens = (uint8_t *)rec.seq;
        dna_encode(tokens, rec.seq, rec.len, DNA_SOFTMASK_UPPER);
        *count += rec.len;
        if (rec.len > 0) *checksum += tokens[rec.len / 2];
    }
    if (got < -1) status = (int)got;
    seq_record_free(&rec);
    seq_reader_close(reader);
    return status;
}

static int bench_audio_pass(const char *path, int64_t *count, uint64_t *checksum) {
    enum { BLOCK_FRAMES = 1 << 16 };
    AudioReader *reader = NULL;
    float *block = malloc(BLOCK_FRAMES * sizeof *block);
    if (!block) return ls_error(LS_ERR_NOMEM, "%s: out of memory", path);
    int status = audio_reader_open(&reader, path);
    if (status < 0) goto fail;
    int64_t got;
    *count = 0;
    while ((got = audio_reader_read_mono(reader, block, BLOCK_FRAMES)) > 0) {
        *count += got;
        *checksum += (uint64_t)(fabsf(block[got / 2]) * 1000.0f);
    }
    if (got < 0) status = (int)got;
fail:
    audio_reader_close(reader);
    free(block);
    return status;
}

static int bench_io(int argc, char **argv) {
    static const struct option long_options[] = {
        {"repeat", required_argument, NULL, OPT_REPEAT},
        CLI_COMMON_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    CommonOptions common;
    cli_common_default(&common);
    int repeat = 3, c, status;
    OutputFile out = {0};
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+o:h", long_options, NULL)) != -1) {
        status = cli_common_parse(c, optarg, &common);
        if (status < 0) return cli_fail("bench", status);
        if (status == 1) continue;
        switch (c) {
        case 'h': bench_usage(stdout); return EXIT_OK;
        case OPT_REPEAT:
            status = cli_parse_int("--repeat", optarg, 1, 1000, &repeat);
            if (status < 0) return cli_fail("bench", status);
            break;
        default:
            return cli_usage_error("bench", "unknown or incomplete option '%s'",
                                   argv[optind - 1]);
        }
    }
    if (optind >= argc) return cli_usage_error("bench", "bench io: no input files");
    cli_common_apply(&common);
    for (int i = optind; i < argc; i++) { /* each pass reopens the file: no streams */
        struct stat st;
        int is_stdin = strcmp(argv[i], "-") == 0;
        if ((is_stdin ? fstat(0, &st) : stat(argv[i], &st)) == 0 && !S_ISREG(st.st_mode) &&
            !S_ISDIR(st.st_mode)) {
            ls_error(LS_ERR_USAGE, "%s: bench io reads files again and again, and a stream "
                     "can be read once", argv[i]);
            return cli_fail("bench", LS_ERR_USAGE);
        }
    }
    status = cli_check_input_outputs(common.output, argv + optind, argc - optind, NULL, NULL);
    if (status == 0) status = cli_output_open(&out, common.output);
    if (status < 0) return cli_fail("bench", status);
    fputs("#file\tkind\tunits\tcount\tbest_seconds\tmillion_units_per_s\tMB_per_s\n", out.fp);
    uint64_t checksum = 0;
    for (int i = optind; i < argc; i++) {
        InputFile *in = NULL;
        status = input_open(&in, argv[i]);
        if (status < 0) goto fail;
        InputKind kind = input_kind(in);
        input_close(in);
        if (kind == INPUT_KIND_CHECKPOINT) {
            status = ls_error(LS_ERR_USAGE, "%s: bench io reads sequence and audio files",
                              argv[i]);
            goto fail;
        }
        double best = INFINITY;
        int64_t count = 0;
        for (int r = 0; r < repeat; r++) {
            double start = now_seconds();
            status = kind == INPUT_KIND_AUDIO ? bench_audio_pass(argv[i], &count, &checksum)
                                              : bench_seq_pass(argv[i], &count, &checksum);
            if (status < 0) goto fail;
            double elapsed = now_seconds() - start;
            if (elapsed < best) best = elapsed;
        }
        int audio = kind == INPUT_KIND_AUDIO;
        double rate = (double)count / best;
        fprintf(out.fp, "%s\t%s\t%s\t%lld\t%.4f\t%.1f\t%s", argv[i], input_kind_name(kind),
                audio ? "samples" : "bases", (long long)count, best, rate / 1e6,
                audio ? "." : "");
        if (!audio) fprintf(out.fp, "%.1f", rate / 1e6);
        fputc('\n', out.fp);
        fflush(out.fp);
    }
    (void)checksum;
    status = cli_output_commit(&out);
    if (status < 0) return cli_fail("bench", status);
    return EXIT_OK;
fail:
    cli_output_abort(&out);
    return cli_fail("bench", status);
}

// ---------------------------------------------------------------------------------------------
// bench model

// The peer's row for (model, L, mode) in an anchors file: an object with "rows", or an array.
static void model_peer(const cJSON *peers, ModelRow *r, int64_t d_model, int64_t layers) {
    r->peer_ms = r->peer_peak = -1.0;
    const cJSON *rows =
        cJSON_IsArray(peers) ? peers : cJSON_GetObjectItemCaseSensitive(peers, "rows");
    const cJSON *e;
    cJSON_ArrayForEach(e, rows) {
        const cJSON *peer = cJSON_GetObjectItemCaseSensitive(e, "peer");
        const cJSON *model = cJSON_GetObjectItemCaseSensitive(e, "model");
        const cJSON *mode = cJSON_GetObjectItemCaseSensitive(e, "mode");
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(e, "L");
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(e, "d_model");
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(e, "layers");
        const cJSON *ms = cJSON_GetObjectItemCaseSensitive(e, "step_ms");
        const cJSON *pk = cJSON_GetObjectItemCaseSensitive(e, "peak_GiB");
        if (!cJSON_IsNumber(ms)) ms = cJSON_GetObjectItemCaseSensitive(e, "ms");
        if (!cJSON_IsString(peer) || !cJSON_IsNumber(l) || !cJSON_IsNumber(ms)) continue;
        // transformer rows name no model: their peer does
        const char *name = cJSON_IsString(model) ? model->valuestring
                           : strstr(peer->valuestring, "transformer") ? "transformer"
                                                                      : "";
        const char *row_mode = cJSON_IsString(mode) ? mode->valuestring : "train";
        if (strcmp(name, model_arch_name(r->arch)) || (int64_t)l->valuedouble != r->L ||
            strcmp(row_mode, r->train ? "train" : "forward") ||
            (cJSON_IsNumber(d) && (int64_t)d->valuedouble != d_model) ||
            (cJSON_IsNumber(n) && (int64_t)n->valuedouble != layers))
            continue;
        r->peer = peer->valuestring;
        r->peer_ms = ms->valuedouble;
        r->peer_peak = cJSON_IsNumber(pk) ? pk->valuedouble : -1.0;
        return;
    }
}

// One row's profile, ops by time, longest first.
static int model_profile_write(FILE *fp, const ModelRow *r, double wall_s) {
    ModelProfile p;
    int status = model_profile_stop(&p);
    if (status < 0) return status;
    int order[160];
    for (int i = 0; i < p.n; i++) order[i] = i;
    for (int i = 1; i < p.n; i++)
        for (int j = i; j > 0 && p.ms[order[j]] > p.ms[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1], order[j - 1] = t;
        }
    double busy = 0.0;
    for (int i = 0; i < p.n; i++) busy += p.ms[i];
    fprintf(fp, "\n## %s %s %s L=%lld: step %.3f ms wall (profiled), ops %.3f ms, between ops "
            "%.3f ms, first op to last %.3f ms%s\n", model_arch_name(r->arch),
            dtype_name(r->dtype), r->train ? "train" : "forward", (long long)r->L, 1e3 * wall_s,
            busy, p.idle_ms, p.total_ms, p.truncated ? " (truncated: more than 65,536 ops)" : "");
    fprintf(fp, "%-36s %7s %11s %7s %10s\n", "op", "calls", "ms", "share", "us/call");
    for (int i = 0; i < p.n; i++) {
        int k = order[i];
        fprintf(fp, "%-36s %7d %11.3f %6.1f%% %10.1f\n", p.name[k], p.calls[k], p.ms[k],
                p.total_ms > 0 ? 100.0 * p.ms[k] / p.total_ms : 0.0,
                p.calls[k] ? 1e3 * p.ms[k] / p.calls[k] : 0.0);
    }
    fprintf(fp, "%-36s %7s %11.3f %6.1f%%\n", "(between ops)", "", p.idle_ms,
            p.total_ms > 0 ? 100.0 * p.idle_ms / p.total_ms : 0.0);
    return 0;
}

static double median_d(double *v, int n) {
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
            double t = v[j];
            v[j] = v[j - 1], v[j - 1] = t;
        }
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void bench_model_config(ModelArch arch, int64_t d_model, int64_t layers, ModelConfig *cfg) {
    model_config_default(cfg, arch, MODEL_TASK_CLASSIFY);
    cfg->vocab = 16;
    cfg->d_model = d_model;
    cfg->n_layers = layers;
    cfg->n_heads = 8;
    cfg->causal = 1; // the peer's Transformer is causal
    cfg->n_classes = 2;
    cfg->pool = MODEL_POOL_MEAN;
}

// One row: a fresh model (the peak counts from its creation), 2 warm-ups, repeat timed steps.
int bench_model_row(const CommonOptions *common, const ModelConfig *shape, int repeat,
                    int64_t tile_rows, FILE *profile, ModelRow *r) {
    ModelConfig cfg = *shape;
    cfg.window = r->arch == MODEL_TRANSFORMER ? r->L : 0;
    const int gpu = common->device.kind == DEVICE_CUDA;
    Model *m = NULL;
    uint8_t *tokens = malloc((size_t)r->L);
    double *times = malloc((size_t)repeat * sizeof *times);
    int status = tokens && times ? 0 : ls_error(LS_ERR_NOMEM, "bench model: host memory");
    uint64_t rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)r->L;
    for (int64_t i = 0; status == 0 && i < r->L; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        tokens[i] = (uint8_t)(rng >> 60);
    }
    int64_t len = r->L;
    int32_t label = 1;
    float logits[2];
    const ModelBatch batch = {.B = 1, .L = r->L, .tokens = tokens, .lengths = &len};
    const AdamWConfig adamw = {0.9, 0.999, 1e-8, 0.01};
    if (gpu) {
        device_cuda_release(); // scratch and cuBLAS workspaces of the previous row
        device_cuda_memory_reset_peak();
    }
    if (status == 0) status = model_init(&m, &cfg, &common->device, common->seed);
    if (status == 0) status = model_set_precision(m, r->dtype);
    if (status == 0 && tile_rows > 0) status = model_set_tile_rows(m, tile_rows);
    if (status == 0 && r->train && r->dropout > 0)
        status = model_set_dropout(m, r->dropout, common->seed);
    if (status == 0 && r->train && r->grad_ckpt > 1)
        status = model_set_grad_checkpoint(m, r->grad_ckpt);
    // k = repeat: the profiled step, when asked for (after the timed ones, so it times nothing)
    const int steps = repeat + (profile != NULL);
    for (int k = -2; status == 0 && k < steps; k++) {
        if (k == repeat) status = model_profile_start(m);
        if (status < 0) break;
        double t0 = now_seconds(), loss, norm;
        if (r->train) {
            model_set_dropout_step(m, k + 3); // a new mask each step, as in training
            status = model_zero_grads(m);
            if (status == 0) status = model_forward_backward(m, &batch, &label, 1.0f, &loss);
            if (status == 0) status = model_grad_norm(m, &norm);
            if (status == 0)
                status = model_adamw_step(m, &adamw, k + 3, 1e-4, optim_clip_scale(norm, 1.0));
        } else {
            status = model_forward(m, &batch, logits, 0);
        }
        if (status == 0 && gpu) status = device_cuda_sync(); // the update is part of the step
        if (status == 0 && k >= 0 && k < repeat) times[k] = now_seconds() - t0;
        if (status == 0 && k == repeat) status = model_profile_write(profile, r, now_seconds() - t0);
    }
    model_profile_free();
    if (status == 0) {
        r->ms = 1e3 * median_d(times, repeat);
        r->tokens_s = (double)r->L / (r->ms * 1e-3);
        size_t peak = 0;
        if (gpu) device_cuda_memory(NULL, &peak);
        r->peak_gib = gpu ? (double)peak / 1073741824.0 : -1.0;
        // what the model itself holds: parameters (+ gradients and AdamW moments when
        // training) and the activation arena its last step planned
        const double params = 4.0 * (double)model_param_table(m)->total;
        r->planned_gib = ((r->train ? 4.0 : 1.0) * params + (double)model_activation_bytes(m)) /
                         1073741824.0;
    } else if (status == LS_ERR_CUDA_OOM || status == LS_ERR_NOMEM) {
        r->ms = -1; // does not fit: the row says so, the run goes on
        snprintf(r->note, sizeof r->note, "out of memory");
        status = 0;
    }
    model_free(m);
    free(tokens);
    free(times);
    return status;
}

static void model_row_print(FILE *fp, const ModelRow *r, int csv) {
    char ms[32] = "-", tok[32] = "-", peak[32] = "-", pms[32] = "", ppk[32] = "", sp[32] = "",
         mem[32] = "";
    if (r->ms >= 0) {
        snprintf(ms, sizeof ms, "%.3f", r->ms);
        snprintf(tok, sizeof tok, "%.0f", r->tokens_s);
        if (r->peak_gib >= 0) snprintf(peak, sizeof peak, "%.3f", r->peak_gib);
    }
    if (r->peer_ms >= 0) {
        snprintf(pms, sizeof pms, "%.3f", r->peer_ms);
        if (r->ms >= 0) snprintf(sp, sizeof sp, "%.2f", r->peer_ms / r->ms);
        if (r->peer_peak >= 0) snprintf(ppk, sizeof ppk, "%.2f", r->peer_peak);
        if (r->peer_peak > 0 && r->ms >= 0 && r->peak_gib >= 0)
            snprintf(mem, sizeof mem, "%.3f", r->peak_gib / r->peer_peak);
    }
    if (csv)
        fprintf(fp, "%s,%s,%s,%lld,%s,%s,%s,%s,%s,%s,%s,%s,%s\n", model_arch_name(r->arch),
                dtype_name(r->dtype), r->train ? "train" : "forward", (long long)r->L, ms, tok,
                peak, r->peer_ms >= 0 ? r->peer : "", pms, ppk, sp, mem, r->note);
    else
        fprintf(fp, "%-11s %-5s %-7s %8lld %10s %11s %9s  %-24s %10s %9s %8s %8s %s\n",
                model_arch_name(r->arch), dtype_name(r->dtype), r->train ? "train" : "forward",
                (long long)r->L, ms, tok, peak, r->peer_ms >= 0 ? r->peer : "-",
                *pms ? pms : "-", *ppk ? ppk : "-", *sp ? sp : "-", *mem ? mem : "-", r->note);
}

static int bench_model(int argc, char **argv) {
    static const struct option long_options[] = {
        {"model", required_argument, NULL, OPT_MODEL},
        {"d-model", required_argument, NULL, OPT_D_MODEL},
        {"layers", required_argument, NULL, OPT_LAYERS},
        {"seq-len", required_argument, NULL, OPT_SEQ_LEN},
        {"mode", required_argument, NULL, OPT_MODE},
        {"repeat", required_argument, NULL, OPT_REPEAT},
        {"peers", required_argument, NULL, OPT_PEERS},
        {"csv", required_argument, NULL, OPT_CSV},
        {"json", no_argument, NULL, OPT_JSON},
        {"profile", required_argument, NULL, OPT_PROFILE},
        {"tile-rows", required_argument, NULL, OPT_TILE_ROWS},
        {"dropout", required_argument, NULL, OPT_DROPOUT},
        {"grad-checkpoint", required_argument, NULL, OPT_GRAD_CHECKPOINT},
        CLI_COMMON_LONG_OPTIONS,
        CLI_MODEL_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    CommonOptions common;
    cli_common_default(&common);
    int repeat = 5, json = 0, train = 1, c, status, n_len = 0;
    int64_t d_model = 256, layers = 8, lens[16] = {16384}, tile_rows = 0, grad_ckpt = 1;
    double dropout = 0;
    ModelArch arch = MODEL_MAMBA;
    const char *peers_path = NULL, *csv_path = NULL, *model_name = NULL, *profile_path = NULL;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+o:h", long_options, NULL)) != -1) {
        status = cli_common_parse(c, optarg, &common);
        if (status < 0) return cli_fail("bench", status);
        if (status == 1) continue;
        switch (c) {
        case 'h': bench_usage(stdout); return EXIT_OK;
        case OPT_MODEL:
            model_name = optarg;
            if (model_arch_parse(optarg, &arch) < 0 || arch == MODEL_HYBRID)
                return cli_usage_error("bench", "--model %s: mamba, bimamba or transformer",
                                       optarg);
            break;
        case OPT_D_MODEL: status = cli_parse_int64("--d-model", optarg, 8, 8192, &d_model); break;
        case OPT_LAYERS: status = cli_parse_int64("--layers", optarg, 1, 1024, &layers); break;
        case OPT_SEQ_LEN: {
            n_len = 0;
            char *copy = strdup(optarg), *save = NULL;
            if (!copy) return cli_fail("bench", ls_error(LS_ERR_NOMEM, "out of memory"));
            for (char *tok = strtok_r(copy, ",", &save); tok && status == 0;
                 tok = strtok_r(NULL, ",", &save)) {
                if (n_len == 16) {
                    status = ls_error(LS_ERR_USAGE, "--seq-len: at most 16 lengths");
                    break;
                }
                status = cli_parse_int64("--seq-len", tok, 1, INT64_C(1) << 31, &lens[n_len++]);
            }
            free(copy);
            if (status == 0 && n_len == 0)
                status = ls_error(LS_ERR_USAGE, "--seq-len %s: no length", optarg);
            break;
        }
        case OPT_MODE:
            if (!strcmp(optarg, "train")) train = 1;
            else if (!strcmp(optarg, "forward")) train = 0;
            else return cli_usage_error("bench", "--mode %s: train or forward", optarg);
            break;
        case OPT_REPEAT: status = cli_parse_int("--repeat", optarg, 1, 1000, &repeat); break;
        case OPT_PEERS: peers_path = optarg; break;
        case OPT_CSV: csv_path = optarg; break;
        case OPT_JSON: json = 1; break;
        case OPT_PROFILE: profile_path = optarg; break;
        case OPT_DROPOUT:
            status = cli_parse_double("--dropout", optarg, -DBL_MAX, DBL_MAX, &dropout);
            if (status == 0 && !(dropout >= 0 && dropout < 1))
                status = ls_error(LS_ERR_USAGE, "--dropout %s: must be at least 0 and below 1",
                                  optarg);
            break;
        case OPT_GRAD_CHECKPOINT:
            status = cli_parse_int64("--grad-checkpoint", optarg, INT64_MIN, INT64_MAX / 2,
                                     &grad_ckpt);
            if (status == 0 && grad_ckpt < 1)
                status = ls_error(LS_ERR_USAGE, "--grad-checkpoint %s: must be at least 1 (1 "
                                  "keeps every layer's input)", optarg);
            break;
        case OPT_TILE_ROWS:
            status = cli_parse_int64("--tile-rows", optarg, 1, INT64_C(1) << 31, &tile_rows);
            break;
        default:
            return cli_usage_error("bench", "unknown or incomplete option '%s'",
                                   argv[optind - 1]);
        }
        if (status < 0) return cli_fail("bench", status);
    }
    if (optind < argc) return cli_usage_error("bench", "bench model takes no file arguments");
    if (!model_name) return cli_usage_error("bench", "bench model: give --model");
    if (n_len == 0) n_len = 1;
    cli_common_apply(&common);
    cJSON *peers = NULL;
    OutputFile out = {0}, csv = {0}, prof = {0};
    ModelRow rows[16];
    memset(rows, 0, sizeof rows);
    if ((status = cli_resolve_device(&common)) < 0) goto fail;
    if (peers_path && (status = bench_load_peers(peers_path, &peers, 1)) < 0) goto fail;
    if (profile_path) {
        if ((status = cli_output_open(&prof, profile_path)) < 0) goto fail;
        fprintf(prof.fp, "# longscan bench model --profile: %s, d_model %lld, %lld layers; one "
                "step per row, every op bracketed by %s\n", common.device_desc,
                (long long)d_model, (long long)layers,
                common.device.kind == DEVICE_CUDA ? "CUDA events" : "the host clock");
    }
    for (int i = 0; i < n_len; i++) {
        ModelRow *r = &rows[i];
        r->arch = arch, r->train = train, r->dtype = common.dtype, r->L = lens[i];
        r->dropout = dropout;
        r->grad_ckpt = grad_ckpt;
        ModelConfig shape;
        bench_model_config(arch, d_model, layers, &shape);
        if ((status = bench_model_row(&common, &shape, repeat, tile_rows,
                                      profile_path ? prof.fp : NULL, r)) < 0) {
            ls_error_prefix("bench model %s L=%lld", model_arch_name(arch), (long long)r->L);
            goto fail;
        }
        if (peers) model_peer(peers, r, d_model, layers);
        else r->peer_ms = r->peer_peak = -1.0;
    }
    if ((status = cli_output_open(&out, common.output)) < 0) goto fail;
    if (json) {
        fputs("[\n", out.fp);
        for (int i = 0; i < n_len; i++) {
            const ModelRow *r = &rows[i];
            fprintf(out.fp, "  {\"model\": \"%s\", \"d_model\": %lld, \"layers\": %lld, "
                    "\"precision\": \"%s\", \"mode\": \"%s\", \"L\": %lld, \"device\": \"%s\"",
                    model_arch_name(r->arch), (long long)d_model, (long long)layers,
                    dtype_name(r->dtype), r->train ? "train" : "forward", (long long)r->L,
                    common.device_desc);
            if (r->train && r->dropout > 0) fprintf(out.fp, ", \"dropout\": %g", r->dropout);
            if (r->train && r->grad_ckpt > 1)
                fprintf(out.fp, ", \"grad_checkpoint\": %lld", (long long)r->grad_ckpt);
            if (r->ms >= 0) {
                fprintf(out.fp, ", \"ms\": %.4f, \"tokens_per_s\": %.1f", r->ms, r->tokens_s);
                if (r->peak_gib >= 0) fprintf(out.fp, ", \"peak_GiB\": %.4f", r->peak_gib);
                fprintf(out.fp, ", \"planned_GiB\": %.4f", r->planned_gib);
            } else {
                fprintf(out.fp, ", \"note\": \"%s\"", r->note);
            }
            if (r->peer_ms >= 0) {
                fprintf(out.fp, ", \"peer\": \"%s\", \"peer_ms\": %.3f", r->peer, r->peer_ms);
                if (r->peer_peak >= 0) fprintf(out.fp, ", \"peer_peak_GiB\": %.3f", r->peer_peak);
            }
            fprintf(out.fp, "}%s\n", i + 1 < n_len ? "," : "");
        }
        fputs("]\n", out.fp);
    } else {
        char drop_note[96] = "";
        if (dropout > 0 && train)
            snprintf(drop_note, sizeof drop_note, "; training dropout %g", dropout);
        if (grad_ckpt > 1 && train)
            snprintf(drop_note + strlen(drop_note), sizeof drop_note - strlen(drop_note),
                     "; every %lld-th layer input kept (--grad-checkpoint)", (long long)grad_ckpt);
        fprintf(out.fp, "# longscan bench model: %s, d_model %lld, %lld layers, vocab 16, "
                "mean-pool classifier, batch 1; median of %d steps after 2 warm-ups%s\n",
                common.device_desc, (long long)d_model, (long long)layers, repeat, drop_note);
        fprintf(out.fp, "%-11s %-5s %-7s %8s %10s %11s %9s  %-24s %10s %9s %8s %8s\n", "model",
                "prec", "mode", "L", "ms", "tokens/s", "peak_GiB", "peer", "peer_ms",
                "peer_GiB", "speedup", "mem/peer");
        for (int i = 0; i < n_len; i++) model_row_print(out.fp, &rows[i], 0);
    }
    if ((status = cli_output_commit(&out)) < 0) goto fail;
    if (profile_path && (status = cli_output_commit(&prof)) < 0) goto fail;
    if (csv_path) {
        if ((status = cli_output_open(&csv, csv_path)) < 0) goto fail;
        fputs("model,precision,mode,L,ms,tokens_per_s,peak_GiB,peer,peer_ms,peer_peak_GiB,"
              "speedup,mem_ratio,note\n", csv.fp);
        for (int i = 0; i < n_len; i++) model_row_print(csv.fp, &rows[i], 1);
        if ((status = cli_output_commit(&csv)) < 0) goto fail;
    }
    status = 0;
fail:
    cli_output_abort(&out);
    cli_output_abort(&csv);
    cli_output_abort(&prof);
    cJSON_Delete(peers);
    return status ? cli_fail("bench", status) : EXIT_OK;
}

int main_bench(int argc, char **argv) {
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        bench_usage(stdout);
        return EXIT_OK;
    }
    if (argc < 2)
        return cli_usage_error("bench", "which benchmark? 'io', 'kernels', 'model', 'models' or 'generate' (see --help)");
    if (strcmp(argv[1], "io") == 0) return bench_io(argc - 1, argv + 1);
    if (strcmp(argv[1], "kernels") == 0) return bench_kernels(argc - 1, argv + 1);
    if (strcmp(argv[1], "model") == 0) return bench_model(argc - 1, argv + 1);
    if (strcmp(argv[1], "generate") == 0) return bench_generate(argc - 1, argv + 1);
    if (strcmp(argv[1], "models") == 0) return bench_models(argc - 1, argv + 1);
    return cli_usage_error("bench", "unknown benchmark '%s'", argv[1]);
}
