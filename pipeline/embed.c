/*
 * embed.c — `longscan embed -m MODEL SEQS...`: one vector per record (or audio file), the
 * model's pooled final hidden state (model_embed), as a safetensors file (a (n, d_model) F32
 * tensor "embeddings", the names in metadata) or as TSV. With --seq-len a record's windows
 * are embedded one by one and averaged. Tested by tests/cli/train.tst.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/utf8.h"
#include "io/safetensors.h"
#include "pipeline/checkpoint.h"
#include "pipeline/cli.h"
#include "pipeline/commands.h"
#include "pipeline/infer.h"

enum { OPT_TSV = INFER_OPT_FIRST_COMMAND_OPTION };

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
"      --max-windows N    with --seq-len: at most N windows per record, evenly spread\n"
INFER_HELP_BATCH
CLI_COMMON_HELP
CLI_MODEL_HELP
"\n"
"Examples:\n"
"  longscan embed -m species.safetensors contigs.fa -o contigs.emb.safetensors\n"
"  longscan embed -m species.safetensors --tsv contigs.fa > contigs.emb.tsv\n");
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

static int write_safetensors(const char *path, const char *model_path, const Dataset *ds,
                             const float *vectors, int64_t n, int64_t D) {
    StWriter *w = NULL;
    cJSON *names = cJSON_CreateArray();
    char *names_text = NULL, shown[4096]; /* a model path that is not UTF-8: kept escaped */
    int status = names ? st_writer_init(&w) : ls_error(LS_ERR_NOMEM, "out of memory");
    if (status < 0) goto fail;
    for (int64_t i = 0; i < n; i++) {
        cJSON *s = cJSON_CreateString(dataset_example(ds, i)->name);
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

static int write_tsv(const char *path, const Dataset *ds, const float *vectors, int64_t n,
                     int64_t D) {
    OutputFile out;
    int status = cli_output_open(&out, path);
    if (status < 0) return status;
    fputs("name", out.fp);
    for (int64_t d = 0; d < D; d++) fprintf(out.fp, "\te%lld", (long long)d);
    fputc('\n', out.fp);
    for (int64_t e = 0; e < n; e++) {
        fputs(dataset_example(ds, e)->name, out.fp);
        for (int64_t d = 0; d < D; d++) fprintf(out.fp, "\t%.9g", vectors[e * D + d]);
        fputc('\n', out.fp);
    }
    return cli_output_commit(&out); /* aborts (removes the temporary) on failure */
}

int main_embed(int argc, char **argv) {
    static const struct option long_options[] = {
        INFER_LONG_OPTIONS,
        INFER_WINDOW_LONG_OPTIONS,
        {"tsv", no_argument, NULL, OPT_TSV},
        CLI_COMMON_LONG_OPTIONS,
        CLI_MODEL_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    InferArgs args;
    int tsv = 0;
    ModelFile mf = {0};
    Dataset *ds = NULL;
    DatasetItem *items = NULL;
    EmbedContext ctx = {0};
    int c;
    int status = infer_args_init(&args, argc, 16);
    if (status < 0) goto fail;
    opterr = 0;
    optind = 0;
    while ((c = getopt_long(argc, argv, "m:o:h", long_options, NULL)) != -1) {
        status = infer_args_parse(c, optarg, &args);
        if (status < 0) goto fail;
        if (status == 1) continue;
        status = 0;
        switch (c) {
        case 'h':
            usage(stdout);
            infer_args_free(&args);
            return EXIT_OK;
        case OPT_TSV: tsv = 1; break;
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
    if ((status = infer_args_check_windows(&args)) < 0 ||
        (status = infer_args_open_model(&args, &mf)) < 0 ||
        (status = infer_args_load(&args, &mf, 0, &ds)) < 0)
        goto fail;
    const ModelConfig *cfg = model_config(mf.model);
    int64_t n_items = 0, n = dataset_count(ds), D = cfg->d_model;
    status = infer_items(ds, NULL, 0, cfg, args.seq_len, args.max_windows, &items, &n_items);
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
    status = tsv ? write_tsv(args.common.output, ds, ctx.sum, n, D)
                 : write_safetensors(args.common.output, args.model, ds, ctx.sum, n, D);
fail:
    free(ctx.sum);
    free(ctx.count);
    free(items);
    dataset_free(ds);
    checkpoint_close(&mf);
    infer_args_free(&args);
    return status < 0 ? cli_fail("embed", status) : EXIT_OK;
}
