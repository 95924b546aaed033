/*
 * eval.c — `longscan eval -m MODEL --data SEQS`: whole-set metrics of a classifier (accuracy,
 * macro-F1, MCC, AUROC for two classes, per-class scores, confusion matrix) or of a language
 * model (NLL in bits per token, perplexity), as text or one JSON object. The formulas are in
 * pipeline/metrics.h. Tested by tests/cli/train.tst.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "pipeline/checkpoint.h"
#include "pipeline/cli.h"
#include "pipeline/commands.h"
#include "pipeline/infer.h"
#include "pipeline/metrics.h"

enum { OPT_LABELS = INFER_OPT_FIRST_COMMAND_OPTION, OPT_CLASS, OPT_JSON, OPT_SPLIT };

static void usage(FILE *fp) {
    fprintf(fp,
"Usage: longscan eval -m MODEL.safetensors --data SEQS [--labels TSV] [options]\n"
"\n"
"Evaluate a trained model on labelled data (classifier) or on sequences (language model).\n"
"Every number is computed over the whole evaluation set at once, never averaged per batch.\n"
"\n"
"Classifier: accuracy; macro-F1 (mean F1 over the classes present in the labels or the\n"
"predictions); MCC (Matthews correlation; Gorodkin's R_K for more than two classes); AUROC\n"
"for a two-class model (exact, ties counting one half; p of the second label is the score);\n"
"per-class precision, recall, F1 and support; the confusion matrix (rows: true label,\n"
"columns: predicted); and the mean cross-entropy. The predicted label is the most probable\n"
"one. Formulas are scikit-learn's, so numbers match it.\n"
"Language model: the negative log-likelihood of every token given the ones before it, in\n"
"bits per token, the perplexity 2^bits, and the accuracy (the share of tokens whose most\n"
"probable prediction is the token itself). On a synthetic task (--data synth:TASK,...,\n"
"docs/synth.md) only the task's target tokens count: the accuracy is the exact-match\n"
"accuracy over target positions.\n"
"\n"
"Options:\n"
"  -m, --model FILE       the checkpoint written by 'longscan train' (required)\n"
"      --data SEQS        input (repeatable; extra arguments are taken as --data): FASTA,\n"
"                         FASTQ, SAM/BAM/CRAM, FILE:REGION, audio files, directories,\n"
"                         manifests; read as the model was trained (soft-mask rule, audio\n"
"                         rate and codes come from the checkpoint); or a synthetic task,\n"
"                         synth:TASK,key=value,... (docs/synth.md)\n"
"      --labels TSV       'name<TAB>label' table for the records or files\n"
"      --class LABEL=SEQS every example of SEQS has LABEL (repeatable)\n"
"                         Labels must be among the model's; an unknown one is an error.\n"
"      --seq-len L        evaluate windows of L tokens of each example at least L long\n"
"                         (shorter ones whole); each window counts as one item (species\n"
"                         tasks on long references). Default: whole examples\n"
"      --stride S         with --seq-len: a window starts every S tokens (default L:\n"
"                         non-overlapping; S < L: overlapping); the tail is not covered\n"
"      --max-windows N    with --seq-len: at most N windows per example; when there are\n"
"                         more, N evenly spread instead, the first at the start and the\n"
"                         last at the end (with --stride < L they may overlap)\n"
"      --split NAME       evaluate only the examples a manifest puts in this split (train,\n"
"                         valid or test)\n"
"      --json             one JSON object on stdout: n, accuracy, macro_f1, mcc, auroc\n"
"                         (null unless two classes are present), loss, labels, confusion,\n"
"                         per_class; or n, tokens, nll_bits_per_token, perplexity,\n"
"                         accuracy, loss\n"
INFER_HELP_BATCH
CLI_COMMON_HELP
CLI_MODEL_HELP
"\n"
"A Transformer sees the centre --window tokens of longer sequences (its training rule).\n"
"\n"
"Examples:\n"
"  longscan eval -m species.safetensors --data test.fa.gz --labels test.tsv\n"
"  longscan eval -m species.safetensors --data test.fa.gz --labels test.tsv --json\n"
"  longscan eval -m dna_lm.safetensors --data chr21.fa.gz --seq-len 100000\n"
"  longscan eval -m apes.safetensors --data dev/ --labels dev/labels.tsv --seq-len 1048576\n"
"      --stride 65536 --max-windows 16\n"
"  longscan eval -m mqar.safetensors --data synth:mqar,len=256,pairs=16,vocab=8192,n=1000,seed=7\n"
"      --json\n");
}

static void print_text(FILE *out, const ModelFile *mf, const EvalResult *res) {
    const ModelConfig *cfg = model_config(mf->model);
    fprintf(out, "model       %s (%s, %s)\n", mf->path, model_arch_name(cfg->arch),
            cfg->task == MODEL_TASK_LM ? "language model" : "classifier");
    if (cfg->task == MODEL_TASK_LM) {
        fprintf(out, "sequences   %lld\n", (long long)res->n);
        fprintf(out, "tokens      %lld predicted\n", (long long)res->nll.n);
        fprintf(out, "NLL         %.4f bits/token\n", metrics_bits_per_token(&res->nll));
        fprintf(out, "perplexity  %.4f\n", metrics_perplexity(&res->nll));
        fprintf(out, "accuracy    %.4f (the most probable token is the next one)\n",
                res->accuracy);
        return;
    }
    fprintf(out, "items       %lld\n", (long long)res->n);
    fprintf(out, "accuracy    %.4f\n", res->accuracy);
    fprintf(out, "macro-F1    %.4f\n", res->macro_f1);
    fprintf(out, "MCC         %.4f\n", res->mcc);
    if (res->K == 2) {
        if (isnan(res->auroc)) fprintf(out, "AUROC       n/a (one class only)\n");
        else fprintf(out, "AUROC       %.4f\n", res->auroc);
    }
    fprintf(out, "loss        %.4f (mean cross-entropy, nats)\n", res->loss);
    int width = 5;
    for (int32_t k = 0; k < res->K; k++) {
        int w = (int)strlen(label_map_name(mf->labels, k));
        if (w > width) width = w;
    }
    fprintf(out, "\n%-*s  precision  recall      F1  support\n", width, "label");
    for (int32_t k = 0; k < res->K; k++) {
        double p, r, f1;
        int64_t support;
        metrics_class_scores(res->confusion, res->K, k, &p, &r, &f1, &support);
        fprintf(out, "%-*s  %9.4f  %6.4f  %6.4f  %7lld\n", width, label_map_name(mf->labels, k),
                p, r, f1, (long long)support);
    }
    fprintf(out, "\nconfusion matrix (rows: true label, columns: predicted)\n%-*s", width, "");
    int cell = 7;
    for (int32_t k = 0; k < res->K; k++) {
        int w = (int)strlen(label_map_name(mf->labels, k));
        if (w > cell) cell = w;
    }
    for (int32_t k = 0; k < res->K; k++) fprintf(out, "  %*s", cell, label_map_name(mf->labels, k));
    fputc('\n', out);
    for (int32_t t = 0; t < res->K; t++) {
        fprintf(out, "%-*s", width, label_map_name(mf->labels, t));
        for (int32_t p = 0; p < res->K; p++)
            fprintf(out, "  %*lld", cell, (long long)res->confusion[(int64_t)t * res->K + p]);
        fputc('\n', out);
    }
}

static int print_json(FILE *out, const ModelFile *mf, const EvalResult *res) {
    const ModelConfig *cfg = model_config(mf->model);
    cJSON *o = cJSON_CreateObject();
    if (!o) return ls_error(LS_ERR_NOMEM, "out of memory");
    cJSON_AddStringToObject(o, "model", mf->path);
    cJSON_AddStringToObject(o, "task", cfg->task == MODEL_TASK_LM ? "lm" : "classify");
    cJSON_AddNumberToObject(o, "n", (double)res->n);
    cJSON_AddNumberToObject(o, "loss", res->loss);
    if (cfg->task == MODEL_TASK_LM) {
        cJSON_AddNumberToObject(o, "tokens", (double)res->nll.n);
        cJSON_AddNumberToObject(o, "nll_bits_per_token", metrics_bits_per_token(&res->nll));
        cJSON_AddNumberToObject(o, "perplexity", metrics_perplexity(&res->nll));
        cJSON_AddNumberToObject(o, "accuracy", res->accuracy);
    } else {
        cJSON_AddNumberToObject(o, "accuracy", res->accuracy);
        cJSON_AddNumberToObject(o, "macro_f1", res->macro_f1);
        cJSON_AddNumberToObject(o, "mcc", res->mcc);
        if (isnan(res->auroc)) cJSON_AddNullToObject(o, "auroc");
        else cJSON_AddNumberToObject(o, "auroc", res->auroc);
        cJSON_AddItemToObject(o, "labels", label_map_to_cjson(mf->labels));
        cJSON *cm = cJSON_AddArrayToObject(o, "confusion");
        cJSON *per = cJSON_AddObjectToObject(o, "per_class");
        for (int32_t t = 0; cm && per && t < res->K; t++) {
            cJSON *row = cJSON_CreateArray();
            for (int32_t p = 0; row && p < res->K; p++)
                cJSON_AddItemToArray(row, cJSON_CreateNumber(
                                              (double)res->confusion[(int64_t)t * res->K + p]));
            cJSON_AddItemToArray(cm, row);
            double pr, rc, f1;
            int64_t support;
            metrics_class_scores(res->confusion, res->K, t, &pr, &rc, &f1, &support);
            cJSON *c = cJSON_AddObjectToObject(per, label_map_name(mf->labels, t));
            if (!c) continue;
            cJSON_AddNumberToObject(c, "precision", pr);
            cJSON_AddNumberToObject(c, "recall", rc);
            cJSON_AddNumberToObject(c, "f1", f1);
            cJSON_AddNumberToObject(c, "support", (double)support);
        }
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text) return ls_error(LS_ERR_NOMEM, "out of memory");
    fprintf(out, "%s\n", text);
    cJSON_free(text);
    return 0;
}

int main_eval(int argc, char **argv) {
    static const struct option long_options[] = {
        INFER_LONG_OPTIONS,
        INFER_WINDOW_LONG_OPTIONS,
        {"labels", required_argument, NULL, OPT_LABELS},
        {"class", required_argument, NULL, OPT_CLASS},
        {"json", no_argument, NULL, OPT_JSON},
        {"split", required_argument, NULL, OPT_SPLIT},
        CLI_COMMON_LONG_OPTIONS,
        CLI_MODEL_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    InferArgs args;
    int json = 0, split = -1; /* split: -1 all, else a Split */
    ModelFile mf = {0};
    int64_t *idx = NULL, n_idx = 0;
    Dataset *ds = NULL;
    DatasetItem *items = NULL;
    EvalResult res = {0};
    OutputFile out = {0};
    int c;
    int status = infer_args_init(&args, argc, 16);
    const char **classes = calloc((size_t)argc + 1, sizeof *classes);
    if (status == 0 && !classes) status = ls_error(LS_ERR_NOMEM, "out of memory");
    if (status < 0) goto fail;
    args.inputs.classes = classes;
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
            free(classes);
            return EXIT_OK;
        case OPT_LABELS: args.inputs.labels = optarg; break;
        case OPT_CLASS: classes[args.inputs.n_classes++] = optarg; break;
        case OPT_JSON: json = 1; break;
        case OPT_SPLIT: {
            Split parsed;
            if (dataset_split_parse(optarg, &parsed) < 0 || parsed == SPLIT_NONE)
                status = ls_error(LS_ERR_USAGE, "--split %s: expected train, valid or test",
                                  optarg);
            else split = parsed;
            break;
        }
        default:
            status = ls_error(LS_ERR_USAGE, "unknown or incomplete option '%s'; see 'longscan "
                              "eval --help'", argv[optind - 1]);
        }
        if (status < 0) goto fail;
    }
    if ((status = infer_args_finish(&args, argc, argv, "MODEL.safetensors",
                                    "no data: give --data SEQS")) < 0 ||
        (status = infer_args_check_windows(&args)) < 0 ||
        (status = infer_args_open_model(&args, &mf)) < 0)
        goto fail;
    const ModelConfig *cfg = model_config(mf.model);
    int classify = cfg->task == MODEL_TASK_CLASSIFY;
    if (!classify && (args.inputs.labels || args.inputs.n_classes)) {
        status = ls_error(LS_ERR_USAGE, "%s is a language model: --labels and --class do not "
                          "apply", args.model);
        goto fail;
    }
    if ((status = infer_args_load(&args, &mf, classify, &ds)) < 0) goto fail;
    if (split >= 0) {
        status = dataset_split_indices(ds, (Split)split, &idx, &n_idx);
        if (status < 0) goto fail;
        if (n_idx == 0) {
            status = ls_error(LS_ERR_USAGE, "--split %s: no example of the input is in that "
                              "split", dataset_split_name((Split)split));
            goto fail;
        }
    }
    int64_t n_items = 0;
    status = infer_items(ds, idx, split >= 0 ? n_idx : 0, cfg, args.seq_len, args.stride,
                         args.max_windows,
                         &items, &n_items);
    if (status < 0) goto fail;
    InferOptions io;
    infer_args_run_options(&args, &mf, INFER_LOGITS, &io);
    status = infer_evaluate(mf.model, ds, items, n_items, &io, &res);
    if (status < 0) goto fail;
    if ((status = cli_output_open(&out, args.common.output)) < 0) goto fail;
    if (json) status = print_json(out.fp, &mf, &res);
    else print_text(out.fp, &mf, &res);
    if (status < 0) goto fail;
    status = cli_output_commit(&out);
fail:
    if (status < 0) cli_output_abort(&out);
    infer_result_free(&res);
    free(items);
    free(idx);
    dataset_free(ds);
    checkpoint_close(&mf);
    infer_args_free(&args);
    free(classes);
    return status < 0 ? cli_fail("eval", status) : EXIT_OK;
}
