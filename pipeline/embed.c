/*
 * embed.c — `longscan embed -m MODEL SEQS...`: one vector per record (or audio file), the
 * model's pooled final hidden state (model_embed), as a safetensors file (a (n, d_model) F32
 * tensor "embeddings", the names in metadata) or as TSV. With --seq-len a record's windows
 * are embedded one by one and averaged. Tested by tests/cli/train.tst.
 */
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#include <cjson/cJSON.h>

#include "common/utf8.h"
#include "io/safetensors.h"
#include "pipeline/checkpoint.h"
#include "pipeline/cli.h"
#include "pipeline/commands.h"
#include "pipeline/infer.h"
#include "pipeline/stream_source.h"

enum {
    OPT_TSV = INFER_OPT_FIRST_COMMAND_OPTION,
    OPT_STREAM,
    OPT_SEGMENT,
    OPT_TMP_DIR,
    OPT_HOST_MEMORY,
};

/* --segment default of --stream: positions per pass */
#define EMBED_SEGMENT 65536

static void usage(FILE *fp) {
    fprintf(fp,
"Usage: longscan embed -m MODEL.safetensors [options] -o OUT.safetensors SEQS...\n"
"       longscan embed -m MODEL.safetensors --tsv [options] SEQS... > OUT.tsv\n"
"\n"
"One embedding vector per record of FASTA/FASTQ/SAM/BAM/CRAM input (or region, or per audio\n"
"file): the model's final hidden state after its last norm, pooled over the record's\n"
"positions as the model pools (mean by default), d_model numbers. Works with classifiers\n"
"and language models.\n"
"\n"
"Output, in input order:\n"
"  safetensors (-o FILE): tensor 'embeddings', F32, shape (n, d_model); metadata 'names'\n"
"    (JSON array of the n record names), 'model' (the checkpoint path) and\n"
"    'format' = 'longscan-embeddings'. Loads in Python with safetensors as it is.\n"
"  --tsv: a header line 'name e0 e1 ...' and one row per record (stdout or -o FILE).\n"
"\n"
"Options:\n"
"  -m, --model FILE       the checkpoint (required)\n"
INFER_HELP_DATA
"      --tsv              text output instead of safetensors\n"
"      --seq-len L        embed non-overlapping windows of L tokens of each record at least\n"
"                         L long and average them (shorter records whole). Default: whole\n"
"      --stride S         with --seq-len: a window starts every S tokens (default L)\n"
"      --max-windows N    with --seq-len: at most N windows per record, evenly spread\n"
INFER_HELP_BATCH
"      --stream           read each record a piece at a time (an indexed FASTA or FILE:REGION\n"
"                         piece by piece, other sequence inputs a record at a time, audio in\n"
"                         blocks) and embed it whole, without --seq-len windows, the same\n"
"                         vector as one pass (fp32 rounding apart). A causal model (mamba,\n"
"                         or transformer / hybrid with causal attention) carries its state\n"
"                         from piece to piece: constant memory for Mamba, a key/value cache\n"
"                         growing with the record for attention layers. A bidirectional\n"
"                         Mamba cannot stream (each layer's output depends on the whole\n"
"                         record): it runs layer by layer over the pieces, forward then\n"
"                         reverse, keeping every layer's output, (length x d_model) floats\n"
"                         (twice with --rc-equivariant, and a second copy while a layer\n"
"                         runs), in host memory up to --host-memory, else in a temporary file\n"
"                         in --tmp-dir (removed when done). A bidirectional Transformer or\n"
"                         hybrid is refused\n"
"      --segment N        with --stream: positions per pass (default %d)\n"
"      --host-memory SIZE with --stream, bidirectional Mamba: most bytes of layer outputs kept\n"
"                         in memory, e.g. 8G (default: half of the available memory)\n"
"      --tmp-dir DIR      with --stream: folder of that temporary file (default $TMPDIR or\n"
"                         /tmp); its free space is checked before the model runs\n"
CLI_COMMON_HELP
CLI_MODEL_HELP
"\n"
"Examples:\n"
"  longscan embed -m species.safetensors contigs.fa -o contigs.emb.safetensors\n"
"  longscan embed -m species.safetensors --tsv contigs.fa > contigs.emb.tsv\n"
"  longscan embed -m species.safetensors --stream --tsv chr20.fa.gz > chr20.emb.tsv\n",
            EMBED_SEGMENT);
}

typedef struct {
    int64_t D;
    float   *sum;    /* (examples, D) */
    int64_t *count;  /* (examples) */
} EmbedContext;

static int embed_batch(void *ctx_, const Batch *batch, const int64_t *item, const float *out) {
    EmbedContext *ctx = ctx_;
    (void)item;
    for (int64_t b = 0; b < batch->B; b++) {
        int64_t e = batch->examples[b];
        for (int64_t d = 0; d < ctx->D; d++) ctx->sum[e * ctx->D + d] += out[b * ctx->D + d];
        ctx->count[e]++;
    }
    return 0;
}

static int write_safetensors(const char *path, const char *model_path,
                             const char *const *row_names, const float *vectors, int64_t n,
                             int64_t D) {
    StWriter *w = NULL;
    cJSON *names = cJSON_CreateArray();
    char *names_text = NULL, shown[4096]; /* a model path that is not UTF-8: kept escaped */
    int status = names ? st_writer_init(&w) : ls_error(LS_ERR_NOMEM, "out of memory");
    if (status < 0) goto fail;
    for (int64_t i = 0; i < n; i++) {
        cJSON *s = cJSON_CreateString(row_names[i]);
        if (!s) {
            status = ls_error(LS_ERR_NOMEM, "out of memory");
            goto fail;
        }
        cJSON_AddItemToArray(names, s);
    }
    names_text = cJSON_PrintUnformatted(names);
    if (!names_text) {
        status = ls_error(LS_ERR_NOMEM, "out of memory");
        goto fail;
    }
    int64_t shape[2] = {n, D};
    if ((status = st_writer_add(w, "embeddings", ST_F32, 2, shape, vectors)) < 0 ||
        (status = st_writer_set_metadata(w, "format", "longscan-embeddings")) < 0 ||
        (status = st_writer_set_metadata(w, "names", names_text)) < 0 ||
        (status = st_writer_set_metadata(w, "model", utf8_valid(model_path) ? model_path
                                             : utf8_escape(shown, sizeof shown, model_path))) < 0)
        goto fail;
    status = st_writer_save(w, path);
fail:
    cJSON_free(names_text);
    cJSON_Delete(names);
    st_writer_free(w);
    return status;
}

static int write_tsv(const char *path, const char *const *row_names, const float *vectors,
                     int64_t n, int64_t D) {
    OutputFile out;
    int status = cli_output_open(&out, path);
    if (status < 0) return status;
    fputs("name", out.fp);
    for (int64_t d = 0; d < D; d++) fprintf(out.fp, "\te%lld", (long long)d);
    fputc('\n', out.fp);
    for (int64_t e = 0; e < n; e++) {
        fputs(row_names[e], out.fp);
        for (int64_t d = 0; d < D; d++) fprintf(out.fp, "\t%.9g", vectors[e * D + d]);
        fputc('\n', out.fp);
    }
    return cli_output_commit(&out); /* aborts (removes the temporary) on failure */
}

// ---------------------------------------------------------------------------- --stream

/* What --stream adds to embed's options. */
typedef struct {
    int         on;
    int64_t     segment;     /* 0: EMBED_SEGMENT */
    const char *tmp_dir;
    int64_t     host_memory; /* bytes; -1: half the available memory */
} StreamArgs;

/* Half of what the system can give without swapping (MemAvailable), for --host-memory. */
static int64_t default_host_memory(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    long long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %lld kB", &kb) == 1) break;
    if (f) fclose(f);
    if (kb < 0) { /* no /proc: the free pages */
        long pages = sysconf(_SC_AVPHYS_PAGES), size = sysconf(_SC_PAGESIZE);
        return pages > 0 && size > 0 ? (int64_t)pages * size / 2 : INT64_C(1) << 30;
    }
    return (int64_t)kb * 1024 / 2;
}

/* "4G", "512M", "100000k" or bytes. */
static int parse_size(const char *option, const char *text, int64_t *out) {
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    double unit = 1;
    if (end != text && *end) {
        switch (*end) {
        case 'k': case 'K': unit = 1024.0; break;
        case 'm': case 'M': unit = 1048576.0; break;
        case 'g': case 'G': unit = 1073741824.0; break;
        case 't': case 'T': unit = 1099511627776.0; break;
        default: unit = -1;
        }
        if (end[1] && !((end[1] == 'b' || end[1] == 'B') && !end[2])) unit = -1;
    }
    if (end == text || unit < 0 || errno || !(v >= 0) || v * unit > 9e18)
        return ls_error(LS_ERR_USAGE, "%s %s: expected a size such as 4G, 512M or bytes", option,
                        text);
    *out = (int64_t)(v * unit);
    return 0;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One record through a causal model in pieces (pooled state), or through a bidirectional
 * Mamba layer by layer; its embedding into @p vec (D). */
static int embed_record(const ModelFile *mf, StreamSource *src, const StreamRecord *rec,
                        const StreamArgs *sa, int64_t segment, uint8_t *tok, float *smp,
                        float *vec, int *on_disk) {
    Model *m = mf->model;
    const ModelConfig *cfg = model_config(m);
    int status = 0;
    int64_t n;
    if (cfg->arch == MODEL_BIMAMBA) {
        if (rec->length < 1)
            return ls_error(LS_ERR_UNSUPPORTED, "'%s': a bidirectional model needs the record's "
                            "length first, and this input does not say it", rec->name);
        ModelLayerwise *lw = NULL;
        LayerwiseOptions o = {.segment = segment, .host_bytes = (size_t)sa->host_memory,
                              .tmp_dir = sa->tmp_dir};
        if ((status = model_layerwise_begin(&lw, m, rec->length, &o)) < 0) return status;
        *on_disk = model_layerwise_on_disk(lw);
        while ((n = stream_source_read(src, tok, segment)) > 0)
            if ((status = model_layerwise_feed(lw, tok, n)) < 0) break;
        if (status == 0 && n < 0) status = (int)n;
        if (status == 0) status = model_layerwise_finish(lw, vec, NULL);
        model_layerwise_free(lw);
        return status;
    }
    if ((status = model_stream_reset(m, 1)) < 0 || (status = model_stream_set_pooling(m, 1)) < 0)
        return status;
    if (rec->length > 0 && (status = model_stream_reserve(m, rec->length)) < 0) return status;
    for (;;) {
        ModelBatch mb = {.B = 1};
        if (cfg->input == MODEL_INPUT_WAVEFORM) {
            n = stream_source_read_samples(src, smp, segment);
            mb.samples = smp;
        } else {
            n = stream_source_read(src, tok, segment);
            mb.tokens = tok;
        }
        if (n <= 0) break;
        mb.L = n;
        if ((status = model_stream_forward(m, &mb, NULL)) < 0) return status;
    }
    if (n < 0) return (int)n;
    return model_stream_embed(m, vec);
}

static int embed_stream(const InferArgs *a, const ModelFile *mf, const StreamArgs *sa, int tsv) {
    const ModelConfig *cfg = model_config(mf->model);
    const int64_t D = cfg->d_model;
    int64_t segment = sa->segment ? sa->segment : EMBED_SEGMENT;
    if (cfg->input == MODEL_INPUT_WAVEFORM) /* whole frames per piece, as one pass frames them */
        segment = segment < cfg->frame ? cfg->frame : segment / cfg->frame * cfg->frame;
    uint8_t *tok = malloc((size_t)segment);
    float *smp = malloc((size_t)segment * sizeof *smp);
    float *vecs = NULL;
    char **names = NULL;
    int64_t n = 0, cap = 0, positions = 0;
    StreamSource *src = NULL;
    int status = tok && smp ? 0 : ls_error(LS_ERR_NOMEM, "out of memory for segments of %lld "
                                           "positions (lower --segment)", (long long)segment);
    const double start = now_seconds();
    for (int k = 0; k < a->inputs.n_sources && status == 0; k++) {
        if ((status = stream_source_open(&src, a->inputs.sources[k], &mf->data,
                                         a->inputs.reference)) < 0)
            break;
        StreamRecord rec;
        while ((status = stream_source_next(src, &rec)) == 1) {
            if (n == cap) {
                cap = cap ? 2 * cap : 16;
                float *v = realloc(vecs, (size_t)(cap * D) * sizeof *v);
                char **nm = v ? realloc(names, (size_t)cap * sizeof *nm) : NULL;
                if (v) vecs = v;
                if (nm) names = nm;
                if (!v || !nm) {
                    status = ls_error(LS_ERR_NOMEM, "out of memory for %lld vectors",
                                      (long long)cap);
                    break;
                }
            }
            if (!(names[n] = strdup(rec.name))) {
                status = ls_error(LS_ERR_NOMEM, "out of memory");
                break;
            }
            int on_disk = 0;
            status = embed_record(mf, src, &rec, sa, segment, tok, smp, vecs + n * D, &on_disk);
            if (status < 0) {
                ls_error_prefix("%s", a->inputs.sources[k]);
                n++;
                break;
            }
            int64_t bad = st_first_nonfinite(vecs + n * D, D);
            if (bad >= 0) {
                status = ls_error(LS_ERR_RANGE, "%s: '%s': the model's output (embedding) is "
                                  "not a number; no result for this record",
                                  a->inputs.sources[k], rec.name);
                n++;
                break;
            }
            ls_log_info("%s: '%s': %lld positions%s", a->inputs.sources[k], rec.name,
                        (long long)rec.length, on_disk ? ", layer outputs in a temporary file"
                                                       : "");
            positions += rec.length > 0 ? rec.length : 0;
            n++;
        }
        stream_source_close(src);
        src = NULL;
    }
    if (status == 0) {
        const double el = now_seconds() - start;
        ls_log_info("embedded %lld records, %lld positions in %.2f s: %.4f M positions/s",
                    (long long)n, (long long)positions, el,
                    el > 0 ? (double)positions / el / 1e6 : 0.0);
        if (a->common.device.kind == DEVICE_CUDA) {
            size_t peak = 0;
            device_cuda_memory(NULL, &peak); // what longscan held at most (bench/gpu_stream.sh)
            ls_log_info("peak GPU memory held: %.1f MiB", (double)peak / 1048576.0);
        }
        status = tsv ? write_tsv(a->common.output, (const char *const *)names, vecs, n, D)
                     : write_safetensors(a->common.output, a->model, (const char *const *)names,
                                         vecs, n, D);
    }
    for (int64_t i = 0; i < n; i++) free(names[i]);
    free(names);
    free(vecs);
    free(tok);
    free(smp);
    return status;
}

int main_embed(int argc, char **argv) {
    static const struct option long_options[] = {
        INFER_LONG_OPTIONS,
        INFER_WINDOW_LONG_OPTIONS,
        {"tsv", no_argument, NULL, OPT_TSV},
        {"stream", no_argument, NULL, OPT_STREAM},
        {"segment", required_argument, NULL, OPT_SEGMENT},
        {"tmp-dir", required_argument, NULL, OPT_TMP_DIR},
        {"host-memory", required_argument, NULL, OPT_HOST_MEMORY},
        CLI_COMMON_LONG_OPTIONS,
        CLI_MODEL_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    InferArgs args;
    int tsv = 0, batch_given = 0;
    ModelFile mf = {0};
    Dataset *ds = NULL;
    DatasetItem *items = NULL;
    EmbedContext ctx = {0};
    const char **names = NULL;
    StreamArgs sa = {.host_memory = -1};
    int c;
    int status = infer_args_init(&args, argc, 16);
    if (status < 0) goto fail;
    opterr = 0;
    optind = 0;
    while ((c = getopt_long(argc, argv, "m:o:h", long_options, NULL)) != -1) {
        status = infer_args_parse(c, optarg, &args);
        if (status < 0) goto fail;
        if (c == INFER_OPT_BATCH_SIZE || c == INFER_OPT_MAX_TOKENS || c == INFER_OPT_SEQ_LEN ||
            c == INFER_OPT_MAX_WINDOWS || c == INFER_OPT_STRIDE)
            batch_given = 1;
        if (status == 1) continue;
        status = 0;
        switch (c) {
        case 'h':
            usage(stdout);
            infer_args_free(&args);
            return EXIT_OK;
        case OPT_TSV: tsv = 1; break;
        case OPT_STREAM: sa.on = 1; break;
        case OPT_SEGMENT:
            status = cli_parse_int64("--segment", optarg, 1, INT64_C(1) << 30, &sa.segment);
            break;
        case OPT_TMP_DIR: sa.tmp_dir = optarg; break;
        case OPT_HOST_MEMORY: status = parse_size("--host-memory", optarg, &sa.host_memory); break;
        default:
            status = ls_error(LS_ERR_USAGE, "unknown or incomplete option '%s'; see 'longscan "
                              "embed --help'", argv[optind - 1]);
        }
        if (status < 0) goto fail;
    }
    status = infer_args_finish(&args, argc, argv, "MODEL.safetensors",
                               "no input: give SEQS to embed");
    if (status < 0) goto fail;
    if (!tsv && (!args.common.output || strcmp(args.common.output, "-") == 0)) {
        status = ls_error(LS_ERR_USAGE, "safetensors output needs a file: give -o "
                          "OUT.safetensors, or --tsv for text on stdout");
        goto fail;
    }
    if (!sa.on && (sa.segment || sa.tmp_dir || sa.host_memory >= 0)) {
        status = ls_error(LS_ERR_USAGE, "--%s needs --stream", sa.segment ? "segment"
                          : sa.tmp_dir ? "tmp-dir" : "host-memory");
        goto fail;
    }
    if (sa.on && args.pack) {
        status = ls_error(LS_ERR_USAGE, "--stream embeds one record at a time; --pack does not "
                          "apply");
        goto fail;
    }
    if (sa.on && batch_given) {
        status = ls_error(LS_ERR_USAGE, "--stream embeds whole records, one at a time, in "
                          "--segment pieces; --batch-size, --max-tokens, --seq-len, "
                          "--stride and --max-windows do not apply");
        goto fail;
    }
    if (sa.on) {
        if (sa.host_memory < 0) sa.host_memory = default_host_memory();
        if ((status = infer_args_open_model(&args, &mf)) < 0 ||
            (status = infer_check_streams(&args.inputs, NULL)) < 0)
            goto fail;
        status = embed_stream(&args, &mf, &sa, tsv);
        goto fail;
    }
    if ((status = infer_args_check_windows(&args)) < 0 ||
        (status = infer_args_open_model(&args, &mf)) < 0 ||
        (status = infer_args_load(&args, &mf, 0, &ds)) < 0)
        goto fail;
    const ModelConfig *cfg = model_config(mf.model);
    int64_t n_items = 0, n = dataset_count(ds), D = cfg->d_model;
    status = infer_items(ds, NULL, 0, cfg, args.seq_len, args.stride, args.max_windows, &items,
                         &n_items);
    if (status < 0) goto fail;
    ctx.D = D;
    ctx.sum = calloc((size_t)(n ? n : 1) * (size_t)D, sizeof *ctx.sum);
    ctx.count = calloc((size_t)(n ? n : 1), sizeof *ctx.count);
    if (!ctx.sum || !ctx.count) {
        status = ls_error(LS_ERR_NOMEM, "out of memory for %lld vectors", (long long)n);
        goto fail;
    }
    InferOptions io;
    infer_args_run_options(&args, &mf, INFER_EMBED, &io);
    status = infer_run(mf.model, ds, items, n_items, &io, embed_batch, &ctx);
    if (status < 0) goto fail;
    for (int64_t e = 0; e < n; e++)
        for (int64_t d = 0; d < D && ctx.count[e] > 1; d++)
            ctx.sum[e * D + d] /= (float)ctx.count[e];
    names = malloc((size_t)(n ? n : 1) * sizeof *names);
    if (!names) {
        status = ls_error(LS_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (int64_t e = 0; e < n; e++) names[e] = dataset_example(ds, e)->name;
    status = tsv ? write_tsv(args.common.output, names, ctx.sum, n, D)
                 : write_safetensors(args.common.output, args.model, names, ctx.sum, n, D);
fail:
    free(names);
    free(ctx.sum);
    free(ctx.count);
    free(items);
    dataset_free(ds);
    checkpoint_close(&mf);
    infer_args_free(&args);
    return status < 0 ? cli_fail("embed", status) : EXIT_OK;
}
