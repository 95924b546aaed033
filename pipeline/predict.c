/*
 * predict.c — `longscan predict -m MODEL SEQS...`: one TSV row per record (or audio file) with
 * the predicted label and the probability of every label. With --seq-len, a record's
 * windows are classified one by one and their probabilities averaged. Rows come in input
 * order. Tested by tests/cli/train.tst.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/checkpoint.h"
#include "pipeline/cli.h"
#include "pipeline/commands.h"
#include "pipeline/infer.h"
#include "pipeline/metrics.h"

enum { OPT_DIGITS = INFER_OPT_FIRST_COMMAND_OPTION };

static void usage(FILE *fp) {
    fprintf(fp,
"Usage: longscan predict -m MODEL.safetensors [options] SEQS...\n"
"\n"
"Classify every record of FASTA/FASTQ/SAM/BAM/CRAM input (or region, or every audio file)\n"
"with a trained classifier. Output: tab-separated, one header line\n"
"    name  predicted_label  p(LABEL1)  p(LABEL2) ...\n"
"then one row per record, in input order: the record name (or the audio file's path as\n"
"given), the most probable label, and the probability of each of the model's labels in\n"
"the model's label order (they sum to 1). Inputs are read as the model was trained (soft-\n"
"mask rule, audio rate and codes come from the checkpoint).\n"
"\n"
"A language model trained on a synthetic task (--data synth:TASK,..., docs/synth.md)\n"
"predicts the task's target tokens instead, one row per target, in input order:\n"
"    name  position  target  predicted  p(predicted)  correct\n"
"\n"
"Options:\n"
"  -m, --model FILE       the classifier checkpoint (required)\n"
INFER_HELP_DATA
"      --seq-len L        classify non-overlapping windows of L tokens of each record at\n"
"                         least L long and average their probabilities (records shorter\n"
"                         than L are classified whole). Default: whole records\n"
"      --stride S         with --seq-len: a window starts every S tokens (default L)\n"
"      --max-windows N    with --seq-len: at most N windows per record, evenly spread\n"
"      --digits N         decimals of the probabilities (default 6)\n"
INFER_HELP_BATCH
CLI_COMMON_HELP
CLI_MODEL_HELP
"\n"
"A Transformer sees the centre --window tokens of longer sequences (its training rule).\n"
"\n"
"Examples:\n"
"  longscan predict -m species.safetensors reads.fq.gz > predictions.tsv\n"
"  longscan predict -m digits.safetensors recordings/*.wav -o predictions.tsv\n");
}

typedef struct {
    int32_t K;
    float  *sum;     /* (examples, K) summed probabilities */
    int64_t *count;  /* (examples) items per example */
} PredictContext;

static int predict_batch(void *ctx_, const Batch *batch, const int64_t *item, const float *out) {
    PredictContext *ctx = ctx_;
    float p[1024];
    (void)item;
    for (int64_t b = 0; b < batch->B; b++) {
        memcpy(p, out + b * ctx->K, (size_t)ctx->K * sizeof *p);
        infer_softmax(p, ctx->K);
        int64_t e = batch->examples[b];
        for (int32_t k = 0; k < ctx->K; k++) ctx->sum[e * ctx->K + k] += p[k];
        ctx->count[e]++;
    }
    return 0;
}

/* Language model on a synthetic task: one row per target token, in input order. The
 * logits rows are the batch's scored positions in (row, position) order (model.h). */
typedef struct {
    FILE          *out;
    const Dataset *ds;
    int64_t        vocab;
    int            digits;
} TargetContext;

static int predict_targets_batch(void *ctx_, const Batch *batch, const int64_t *item,
                                 const float *out) {
    TargetContext *ctx = ctx_;
    const int64_t V = ctx->vocab, L = batch->L;
    const float *row = out;
    (void)item;
    for (int64_t b = 0; b < batch->B; b++) {
        const char *name = dataset_example(ctx->ds, batch->examples[b])->name;
        for (int64_t t = 0; t + 1 < batch->lengths[b]; t++) {
            if (!batch->target[b * L + t + 1]) continue;
            int32_t best = metrics_argmax(row, (int32_t)V);
            double max = row[best], sum = 0;
            for (int64_t v = 0; v < V; v++) sum += exp((double)row[v] - max);
            int32_t truth = batch->answers[b * L + t + 1]; // not the input (MQAR hides it)
            fprintf(ctx->out, "%s\t%lld\t%d\t%d\t%.*f\t%d\n", name,
                    (long long)(batch->offsets[b] + t + 1), truth, best, ctx->digits, 1.0 / sum,
                    best == truth);
            row += V;
        }
    }
    return ferror(ctx->out) ? ls_error(LS_ERR_IO, "write failed") : 0;
}

int main_predict(int argc, char **argv) {
    static const struct option long_options[] = {
        INFER_LONG_OPTIONS,
        INFER_WINDOW_LONG_OPTIONS,
        {"digits", required_argument, NULL, OPT_DIGITS},
        CLI_COMMON_LONG_OPTIONS,
        CLI_MODEL_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    InferArgs args;
    int digits = 6;
    ModelFile mf = {0};
    Dataset *ds = NULL;
    DatasetItem *items = NULL;
    PredictContext ctx = {0};
    OutputFile out = {0};
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
        case OPT_DIGITS: status = cli_parse_int("--digits", optarg, 0, 17, &digits); break;
        default:
            status = ls_error(LS_ERR_USAGE, "unknown or incomplete option '%s'; see 'longscan "
                              "predict --help'", argv[optind - 1]);
        }
        if (status < 0) goto fail;
    }
    if ((status = infer_args_finish(&args, argc, argv, "MODEL.safetensors",
                                    "no input: give SEQS to classify")) < 0 ||
        (status = infer_args_check_windows(&args)) < 0 ||
        (status = infer_args_open_model(&args, &mf)) < 0)
        goto fail;
    const ModelConfig *cfg = model_config(mf.model);
    if (cfg->task != MODEL_TASK_CLASSIFY && mf.data.kind == EXAMPLE_SYNTH) {
        /* a synthetic task's targets: what the model predicts at each */
        if ((status = infer_args_load(&args, &mf, 0, &ds)) < 0) goto fail;
        int64_t n_items = 0;
        status = infer_items(ds, NULL, 0, cfg, args.seq_len, args.stride, args.max_windows,
                             &items, &n_items);
        if (status < 0) goto fail;
        if ((status = cli_output_open(&out, args.common.output)) < 0) goto fail;
        fputs("name\tposition\ttarget\tpredicted\tp(predicted)\tcorrect\n", out.fp);
        TargetContext tc = {out.fp, ds, cfg->vocab, digits};
        InferOptions io;
        infer_args_run_options(&args, &mf, INFER_LOGITS, &io);
        io.keep_order = 1;
        status = infer_run(mf.model, ds, items, n_items, &io, predict_targets_batch, &tc);
        if (status == 0) status = cli_output_commit(&out);
        goto fail;
    }
    if (cfg->task != MODEL_TASK_CLASSIFY) {
        status = ls_error(LS_ERR_USAGE, "%s is a language model; predict needs a classifier "
                          "('longscan score' scores sequences under a language model), or a "
                          "synthetic task's data (synth:TASK,...)", args.model);
        goto fail;
    }
    if (cfg->n_classes > 1024) {
        status = ls_error(LS_ERR_UNSUPPORTED, "%s: %lld classes, predict handles at most 1024",
                          args.model, (long long)cfg->n_classes);
        goto fail;
    }
    if ((status = infer_args_load(&args, &mf, 0, &ds)) < 0) goto fail;
    int64_t n_items = 0, n_examples = dataset_count(ds);
    status = infer_items(ds, NULL, 0, cfg, args.seq_len, args.stride, args.max_windows,
                             &items, &n_items);
    if (status < 0) goto fail;
    ctx.K = (int32_t)cfg->n_classes;
    ctx.sum = calloc((size_t)(n_examples ? n_examples : 1) * (size_t)ctx.K, sizeof *ctx.sum);
    ctx.count = calloc((size_t)(n_examples ? n_examples : 1), sizeof *ctx.count);
    if (!ctx.sum || !ctx.count) {
        status = ls_error(LS_ERR_NOMEM, "out of memory for %lld records", (long long)n_examples);
        goto fail;
    }
    InferOptions io;
    infer_args_run_options(&args, &mf, INFER_LOGITS, &io);
    status = infer_run(mf.model, ds, items, n_items, &io, predict_batch, &ctx);
    if (status < 0) goto fail;

    if ((status = cli_output_open(&out, args.common.output)) < 0) goto fail;
    fputs("name\tpredicted_label", out.fp);
    for (int32_t k = 0; k < ctx.K; k++) fprintf(out.fp, "\tp(%s)", label_map_name(mf.labels, k));
    fputc('\n', out.fp);
    float p[1024];
    for (int64_t e = 0; e < n_examples; e++) {
        for (int32_t k = 0; k < ctx.K; k++)
            p[k] = ctx.count[e] ? ctx.sum[e * ctx.K + k] / (float)ctx.count[e] : 0.0f;
        fprintf(out.fp, "%s\t%s", dataset_example(ds, e)->name,
                label_map_name(mf.labels, metrics_argmax(p, ctx.K)));
        for (int32_t k = 0; k < ctx.K; k++) fprintf(out.fp, "\t%.*f", digits, p[k]);
        fputc('\n', out.fp);
    }
    status = cli_output_commit(&out);
    if (status < 0) goto fail;
fail:
    if (status < 0) cli_output_abort(&out);
    free(ctx.sum);
    free(ctx.count);
    free(items);
    dataset_free(ds);
    checkpoint_close(&mf);
    infer_args_free(&args);
    return status < 0 ? cli_fail("predict", status) : EXIT_OK;
}
