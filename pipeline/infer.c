/*
 * infer.c — inputs, items and batched model runs shared by the subcommands; see infer.h.
 */
#include "pipeline/infer.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "io/safetensors.h"
#include "io/detect.h"


int infer_check_streams(const InputSpec *a, const InputSpec *b) {
    const InputSpec *specs[2] = {a, b};
    int n = 0, status = 0;
    for (int k = 0; k < 2; k++)
        if (specs[k]) n += specs[k]->n_sources + specs[k]->n_classes;
    char **paths = malloc((size_t)(n > 0 ? n : 1) * sizeof *paths);
    if (!paths) return ls_error(LS_ERR_NOMEM, "out of memory");
    n = 0;
    for (int k = 0; k < 2; k++) {
        if (!specs[k]) continue;
        for (int i = 0; i < specs[k]->n_sources; i++) paths[n++] = (char *)specs[k]->sources[i];
        for (int i = 0; i < specs[k]->n_classes; i++) { /* LABEL=SOURCE */
            const char *eq = strchr(specs[k]->classes[i], '=');
            if (eq) paths[n++] = (char *)eq + 1;
        }
    }
    status = input_check_streams(paths, n);
    free(paths);
    return status;
}

int infer_load(Dataset **out, const DatasetOptions *opt, const InputSpec *spec,
               const LabelMap *fixed) {
    Dataset *ds = NULL;
    *out = NULL;
    if (spec->n_sources + spec->n_classes == 0)
        return ls_error(LS_ERR_USAGE, "no input data");
    /* a stream named twice: a usage error before anything is read */
    int checked = infer_check_streams(spec, NULL);
    if (checked < 0) return checked;
    DatasetOptions with_ref = *opt;
    if (spec->reference) with_ref.seq.reference = spec->reference;
    int status = dataset_init(&ds, &with_ref);
    if (status < 0) return status;
    if (spec->labels) {
        status = dataset_read_labels(ds, spec->labels);
        if (status < 0) goto fail;
    }
    for (int i = 0; i < spec->n_classes; i++) {
        status = dataset_add_class(ds, spec->classes[i]);
        if (status < 0) goto fail;
    }
    for (int i = 0; i < spec->n_sources; i++) {
        const char *source = spec->sources[i];
        status = synth_is_spec(source) ? dataset_add_synth(ds, source, SPLIT_NONE)
                                       : dataset_add(ds, source, NULL, SPLIT_NONE);
        if (status < 0) goto fail;
    }
    status = dataset_finish(ds, fixed);
    if (status < 0) goto fail;
    *out = ds;
    return 0;
fail:
    dataset_free(ds);
    return status;
}

int infer_check_kind(const Dataset *ds, const DataSettings *data, const char *model_path) {
    ExampleKind kind = dataset_kind(ds);
    if (kind == data->kind) return 0;
    return ls_error(LS_ERR_USAGE, "%s was trained on %s, but the input holds %s", model_path,
                    dataset_kind_name(data->kind), dataset_kind_name(kind));
}

int infer_check_vocab(const Dataset *ds, const ModelConfig *cfg, const char *model_path) {
    if (dataset_kind(ds) != EXAMPLE_SYNTH || cfg->input != MODEL_INPUT_TOKENS ||
        dataset_vocab(ds) <= cfg->vocab)
        return 0;
    const char *source = dataset_count(ds) > 0 ? dataset_example(ds, 0)->source : "synth";
    for (int64_t i = 0; i < dataset_count(ds); i++)
        if (dataset_example(ds, i)->synth->vocab > cfg->vocab) {
            source = dataset_example(ds, i)->source;
            break;
        }
    return ls_error(LS_ERR_USAGE, "%s: key 'vocab': larger than the vocabulary of %lld that %s "
                    "reads", source, (long long)cfg->vocab, model_path);
}

int infer_items(const Dataset *ds, const int64_t *idx, int64_t n_idx, const ModelConfig *cfg,
                int64_t seq_len, int64_t stride, int64_t max_windows, DatasetItem **items,
                int64_t *n) {
    int64_t count = idx ? n_idx : dataset_count(ds);
    DatasetItem *out = NULL, *windows = NULL;
    int64_t n_out = 0, cap = count > 0 ? count : 1;
    int status = 0;
    *items = NULL;
    *n = 0;
    out = malloc((size_t)cap * sizeof *out);
    if (!out) return ls_error(LS_ERR_NOMEM, "out of memory for %lld items", (long long)count);
    for (int64_t k = 0; k < count; k++) {
        int64_t i = idx ? idx[k] : k;
        int64_t len = dataset_example(ds, i)->length;
        int64_t n_win = 1;
        if (seq_len > 0 && len >= seq_len) {
            status = window_eval_items(ds, &i, 1, seq_len, stride, max_windows, &windows,
                                       &n_win);
            if (status < 0) goto fail;
        }
        if (n_out + n_win > cap) {
            while (n_out + n_win > cap) cap *= 2;
            DatasetItem *grown = realloc(out, (size_t)cap * sizeof *grown);
            if (!grown) {
                status = ls_error(LS_ERR_NOMEM, "out of memory for %lld items", (long long)cap);
                goto fail;
            }
            out = grown;
        }
        if (windows) memcpy(out + n_out, windows, (size_t)n_win * sizeof *out);
        else out[n_out] = (DatasetItem){i, 0, len};
        n_out += n_win;
        free(windows);
        windows = NULL;
    }
    if (cfg->window > 0) {
        for (int64_t j = 0; j < n_out; j++) {
            DatasetItem *it = &out[j];
            if (it->length <= cfg->window) continue;
            it->offset += model_crop_window(cfg, it->length, MODEL_CROP_CENTRE, 0);
            it->length = cfg->window;
        }
    }
    *items = out;
    *n = n_out;
    out = NULL;
fail:
    free(windows);
    free(out);
    return status;
}

void infer_dataset_options(const DataSettings *data, DatasetLabels labels,
                           DatasetOptions *opt) {
    dataset_options_default(opt);
    opt->softmask = data->softmask;
    opt->sample_rate = data->kind == EXAMPLE_AUDIO ? data->sample_rate : 0;
    opt->labels = labels;
}

void infer_model_batch(const Batch *batch, ModelBatch *mb) {
    *mb = (ModelBatch){.B = batch->B, .L = batch->L, .tokens = batch->tokens,
                       .ids = batch->ids, .samples = batch->samples, .lengths = batch->lengths,
                       .target = batch->target, .answers = batch->answers};
}

int infer_pack_batch(const Batch *batch, int64_t frame, PackedBatch *pk, ModelBatch *mb) {
    int status = batch_pack(pk, batch, frame);
    if (status < 0) return status;
    *mb = (ModelBatch){.B = pk->B, .L = pk->L, .tokens = batch->tokens ? pk->tokens : NULL,
                       .samples = batch->samples ? pk->samples : NULL,
                       .row_seqs = pk->row_seqs, .seq_lengths = pk->seq_lengths};
    return 0;
}

void infer_unpack_outputs(const Batch *batch, const PackedBatch *pk, const float *packed,
                          float *out, int64_t width, int64_t vocab) {
    if (vocab <= 0) { // a row per sequence
        for (int64_t s = 0; s < pk->S; s++)
            memcpy(out + pk->order[s] * width, packed + s * width, (size_t)width * sizeof *out);
        return;
    }
    memset(out, 0, (size_t)(batch->B * batch->L * vocab) * sizeof *out);
    for (int64_t s = 0; s < pk->S; s++) {
        const int64_t i = pk->order[s];
        memcpy(out + i * batch->L * vocab, packed + (pk->row_of[s] * pk->L + pk->at[s]) * vocab,
               (size_t)(batch->lengths[i] * vocab) * sizeof *out);
    }
}

void infer_batch_options(const DataSettings *data, BatchOptions *opt) {
    batch_options_default(opt);
    if (data->kind == EXAMPLE_AUDIO) opt->audio_codes = data->audio_codes;
}

/* Indices 0..n-1 stably sorted by item length (merge sort, bottom-up). */
static int sort_by_length(const DatasetItem *items, int64_t n, int64_t **order_out) {
    int64_t *a = malloc((size_t)(n ? n : 1) * sizeof *a);
    int64_t *tmp = malloc((size_t)(n ? n : 1) * sizeof *tmp);
    if (!a || !tmp) {
        free(a);
        free(tmp);
        return ls_error(LS_ERR_NOMEM, "out of memory for %lld items", (long long)n);
    }
    for (int64_t i = 0; i < n; i++) a[i] = i;
    for (int64_t width = 1; width < n; width *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * width) {
            int64_t mid = lo + width < n ? lo + width : n;
            int64_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            int64_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = items[a[j]].length < items[a[i]].length ? a[j++] : a[i++];
            while (i < mid) tmp[k++] = a[i++];
            while (j < hi) tmp[k++] = a[j++];
        }
        memcpy(a, tmp, (size_t)n * sizeof *a);
    }
    free(tmp);
    *order_out = a;
    return 0;
}

/* Every output of a model run must be a number. A NaN or infinite logit or embedding (a
 * model that overflows on this input) is an error naming the record, never a result: softmax,
 * argmax and means would otherwise turn it into plausible-looking numbers. @p width floats
 * per row; LM logits (@p per_position > 0) are checked over the row's real positions only. */
static int check_finite_rows(const Dataset *ds, const Batch *batch, const float *out,
                             int64_t width, int64_t per_position, const char *what) {
    for (int64_t b = 0; b < batch->B; b++) {
        int64_t count = per_position > 0 ? batch->lengths[b] * per_position : width;
        int64_t bad = st_first_nonfinite(out + b * width, count);
        if (bad < 0) continue;
        const Example *ex = dataset_example(ds, batch->examples[b]);
        float v = out[b * width + bad];
        char at[64] = "";
        if (per_position > 0)
            snprintf(at, sizeof at, " at position %lld",
                     (long long)(batch->offsets[b] + bad / per_position));
        else if (batch->offsets[b] > 0 || batch->lengths[b] < ex->length)
            snprintf(at, sizeof at, " (window at offset %lld)", (long long)batch->offsets[b]);
        return ls_error(LS_ERR_RANGE, "%s: '%s': the model's %s %s%s; no result for this "
                        "record", ex->source, ex->name, what,
                        isnan(v) ? "is nan" : "overflows to infinity", at);
    }
    return 0;
}

/* As check_finite_rows() for an LM batch with a target mask, whose logits hold the scored
 * positions only, packed in row-major (b, t) order (model_output_rows). */
static int check_finite_packed(const Dataset *ds, const Batch *batch, const ModelBatch *mb,
                               const float *out, int64_t vocab, const char *what) {
    int64_t row = 0;
    for (int64_t b = 0; b < batch->B; b++) {
        int64_t len = mb->lengths ? mb->lengths[b] : mb->L;
        for (int64_t t = 0; t + 1 < len; t++) {
            if (!mb->target[b * mb->L + t + 1]) continue;
            int64_t bad = st_first_nonfinite(out + row * vocab, vocab);
            row++;
            if (bad < 0) continue;
            const Example *ex = dataset_example(ds, batch->examples[b]);
            float v = out[(row - 1) * vocab + bad];
            return ls_error(LS_ERR_RANGE, "%s: '%s': the model's %s %s at position %lld; no "
                            "result for this record", ex->source, ex->name, what,
                            isnan(v) ? "is nan" : "overflows to infinity",
                            (long long)(batch->offsets[b] + t));
        }
    }
    return 0;
}

int infer_check_losses(const Dataset *ds, const Batch *batch, const ModelBatch *mb,
                       const float *row_loss) {
    int64_t packed = 0; /* with a target mask: the next scored position's row */
    for (int64_t b = 0; b < batch->B; b++) {
        const float *row = row_loss + b * batch->L;
        for (int64_t t = 0; t + 1 < batch->lengths[b]; t++) {
            if (mb->target && !mb->target[b * mb->L + t + 1]) continue;
            if (isfinite(mb->target ? row_loss[packed++] : row[t])) continue;
            const Example *ex = dataset_example(ds, batch->examples[b]);
            return ls_error(LS_ERR_RANGE, "%s: '%s': the loss at position %lld is %s; no "
                            "result for this record", ex->source, ex->name,
                            (long long)(batch->offsets[b] + t + 1), isnan(row[t]) ? "nan"
                                                                                  : "infinite");
        }
    }
    return 0;
}

int infer_run(Model *model, const Dataset *ds, const DatasetItem *items, int64_t n,
              const InferOptions *opt, InferBatchFn fn, void *ctx) {
    const ModelConfig *cfg = model_config(model);
    int64_t *order = NULL;
    DatasetItem *rows = NULL;
    float *out = NULL, *pout = NULL;
    size_t out_cap = 0, pout_cap = 0;
    Batch batch = {0};
    PackedBatch pk = {0};
    const int64_t frame = cfg->input == MODEL_INPUT_WAVEFORM ? cfg->frame : 1;
    int64_t batch_size = opt->batch_size > 0 ? opt->batch_size : 1;
    int status = sort_by_length(items, n, &order);
    if (status < 0) return status;
    if (opt->keep_order)
        for (int64_t i = 0; i < n; i++) order[i] = i;
    rows = malloc((size_t)batch_size * sizeof *rows);
    if (!rows) {
        status = ls_error(LS_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (int64_t start = 0; start < n;) {
        int64_t count = 0, longest = 0;
        while (start + count < n && count < batch_size) {
            int64_t len = items[order[start + count]].length;
            if (len > longest) longest = len;
            if (count > 0 && opt->max_tokens > 0 && (count + 1) * longest > opt->max_tokens)
                break;
            count++;
        }
        for (int64_t b = 0; b < count; b++) rows[b] = items[order[start + b]];
        status = batch_fill(&batch, ds, rows, count, &opt->batch);
        if (status < 0) goto fail;
        ModelBatch mb;
        infer_model_batch(&batch, &mb);
        if (opt->every_position) mb.target = NULL;
        size_t need = opt->output == INFER_EMBED
                          ? (size_t)(batch.B * cfg->d_model)
                          : (size_t)model_output_rows(model, &mb) *
                                (size_t)(cfg->task == MODEL_TASK_LM ? cfg->vocab
                                                                    : cfg->n_classes);
        if (need == 0) need = 1;
        if (need > out_cap) {
            free(out);
            out = malloc(need * sizeof *out);
            if (!out) {
                out_cap = 0;
                status = ls_error(LS_ERR_NOMEM, "out of memory for %zu outputs", need);
                goto fail;
            }
            out_cap = need;
        }
        if (opt->pack) { // the packed batch runs; its outputs come back in the padded layout
            ModelBatch pmb;
            if ((status = infer_pack_batch(&batch, frame, &pk, &pmb)) < 0) goto fail;
            const int lm_logits = opt->output != INFER_EMBED && cfg->task == MODEL_TASK_LM;
            const int64_t width = opt->output == INFER_EMBED ? cfg->d_model
                                  : lm_logits                ? cfg->vocab
                                                             : cfg->n_classes;
            size_t pneed = (size_t)(lm_logits ? pk.B * pk.L : pk.S) * (size_t)width;
            if (pneed > pout_cap) {
                free(pout);
                if (!(pout = malloc(pneed * sizeof *pout))) {
                    pout_cap = 0;
                    status = ls_error(LS_ERR_NOMEM, "out of memory for %zu outputs", pneed);
                    goto fail;
                }
                pout_cap = pneed;
            }
            status = opt->output == INFER_EMBED ? model_embed(model, &pmb, pout)
                                                : model_forward(model, &pmb, pout, 0);
            if (status < 0) goto fail;
            infer_unpack_outputs(&batch, &pk, pout, out, width, lm_logits ? cfg->vocab : 0);
        } else {
            status = opt->output == INFER_EMBED ? model_embed(model, &mb, out)
                                                : model_forward(model, &mb, out, 0);
        }
        if (status < 0) goto fail;
        if (opt->output == INFER_EMBED)
            status = check_finite_rows(ds, &batch, out, cfg->d_model, 0, "output (embedding)");
        else if (cfg->task != MODEL_TASK_LM)
            status = check_finite_rows(ds, &batch, out, cfg->n_classes, 0, "output (logits)");
        else if (!mb.target)
            status = check_finite_rows(ds, &batch, out, batch.L * cfg->vocab, cfg->vocab,
                                       "output (logits)");
        else
            status = check_finite_packed(ds, &batch, &mb, out, cfg->vocab, "output (logits)");
        if (status < 0) goto fail;
        status = fn(ctx, &batch, order + start, out);
        if (status < 0) goto fail;
        start += count;
    }
fail:
    batch_free(&batch);
    packed_batch_free(&pk);
    free(out);
    free(pout);
    free(rows);
    free(order);
    return status;
}

void infer_softmax(float *row, int64_t K) {
    double max = -INFINITY, sum = 0;
    for (int64_t k = 0; k < K; k++)
        if (row[k] > max) max = row[k];
    for (int64_t k = 0; k < K; k++) sum += exp((double)row[k] - max);
    for (int64_t k = 0; k < K; k++) row[k] = (float)(exp((double)row[k] - max) / sum);
}

// ---------------------------------------------------------------------------- evaluation

typedef struct {
    Model             *model;
    const Dataset     *ds;
    const ModelConfig *cfg;
    EvalResult        *res;
    float             *row_loss;  /* LM: (B·L) */
    int32_t           *targets;   /* LM: (B·L) */
    size_t             cap;
} EvalContext;

static int eval_batch(void *ctx_, const Batch *batch, const int64_t *item, const float *out) {
    EvalContext *ctx = ctx_;
    EvalResult *res = ctx->res;
    if (ctx->cfg->task == MODEL_TASK_CLASSIFY) {
        int32_t K = res->K;
        for (int64_t b = 0; b < batch->B; b++) {
            float *p = res->probs + item[b] * K;
            memcpy(p, out + b * K, (size_t)K * sizeof *p);
            infer_softmax(p, K);
        }
        return 0;
    }
    size_t cells = (size_t)(batch->B * batch->L);
    if (cells > ctx->cap) {
        free(ctx->row_loss);
        free(ctx->targets);
        ctx->row_loss = malloc(cells * sizeof *ctx->row_loss);
        ctx->targets = malloc(cells * sizeof *ctx->targets);
        ctx->cap = ctx->row_loss && ctx->targets ? cells : 0;
        if (!ctx->cap) return ls_error(LS_ERR_NOMEM, "out of memory for %zu losses", cells);
    }
    ModelBatch mb;
    infer_model_batch(batch, &mb);
    double mean;
    int status = model_loss(ctx->model, &mb, out, NULL, &mean, ctx->row_loss, NULL, 1.0f);
    if (status == 0) status = infer_check_losses(ctx->ds, batch, &mb, ctx->row_loss);
    if (status < 0) return status;
    /* one row per logits row (every position, or the targets only); ignored rows have the
     * target −100. Batches arrive in a fixed order, rows in order: a reproducible sum */
    const int64_t rows = model_lm_targets(ctx->model, &mb, ctx->targets);
    const int64_t V = ctx->cfg->vocab;
    for (int64_t k = 0; k < rows; k++) {
        if (ctx->targets[k] < 0) continue;
        res->nll.nats += ctx->row_loss[k];
        res->nll.n++;
        res->hits += metrics_argmax(out + k * V, (int32_t)V) == ctx->targets[k];
    }
    return 0;
}

/* Accuracy, F1, MCC and (two classes) AUROC from the per-item probabilities. */
static int classify_summary(EvalResult *res, const int32_t *truth, int32_t *pred) {
    int64_t n = res->n;
    double loss = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *p = res->probs + i * res->K;
        pred[i] = metrics_argmax(p, res->K);
        double q = p[truth[i]];
        loss += -log(q > 1e-30 ? q : 1e-30);
    }
    res->loss = n > 0 ? loss / (double)n : 0.0;
    int status = metrics_confusion(res->confusion, truth, pred, n, res->K);
    if (status < 0) return status;
    res->accuracy = metrics_accuracy(res->confusion, res->K);
    res->macro_f1 = metrics_macro_f1(res->confusion, res->K);
    res->mcc = metrics_mcc(res->confusion, res->K);
    if (res->K != 2 || n == 0) return 0;
    double *score = malloc((size_t)n * sizeof *score);
    if (!score) return ls_error(LS_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++) score[i] = res->probs[i * 2 + 1];
    if (metrics_auroc(&res->auroc, score, truth, n) < 0) {
        res->auroc = NAN; /* one class only: AUROC undefined, reported as such */
        ls_error_clear();
    }
    free(score);
    return 0;
}

int infer_evaluate(Model *model, const Dataset *ds, const DatasetItem *items, int64_t n,
                   const InferOptions *opt, EvalResult *res) {
    const ModelConfig *cfg = model_config(model);
    *res = (EvalResult){.task = cfg->task, .n = n, .auroc = NAN};
    EvalContext ctx = {.model = model, .ds = ds, .cfg = cfg, .res = res};
    int32_t *truth = NULL, *pred = NULL;
    int status = 0;
    InferOptions run = *opt;
    run.output = INFER_LOGITS;
    if (cfg->task == MODEL_TASK_CLASSIFY) {
        res->K = (int32_t)cfg->n_classes;
        res->probs = malloc((size_t)(n ? n : 1) * (size_t)res->K * sizeof *res->probs);
        res->confusion = calloc((size_t)res->K * (size_t)res->K, sizeof *res->confusion);
        truth = malloc((size_t)(n ? n : 1) * sizeof *truth);
        pred = malloc((size_t)(n ? n : 1) * sizeof *pred);
        if (!res->probs || !res->confusion || !truth || !pred) {
            status = ls_error(LS_ERR_NOMEM, "out of memory for %lld evaluation items",
                              (long long)n);
            goto fail;
        }
        for (int64_t i = 0; i < n; i++) {
            const Example *ex = dataset_example(ds, items[i].example);
            if (ex->label < 0 || ex->label >= res->K) {
                status = ls_error(LS_ERR_USAGE, "%s: '%s' has no label the model knows",
                                  ex->source, ex->name);
                goto fail;
            }
            truth[i] = ex->label;
        }
    }
    status = infer_run(model, ds, items, n, &run, eval_batch, &ctx);
    if (status < 0) goto fail;
    if (cfg->task == MODEL_TASK_CLASSIFY) status = classify_summary(res, truth, pred);
    else {
        res->loss = res->nll.n > 0 ? res->nll.nats / (double)res->nll.n : 0.0;
        res->accuracy = res->nll.n > 0 ? (double)res->hits / (double)res->nll.n : 0.0;
    }
fail:
    free(ctx.row_loss);
    free(ctx.targets);
    free(truth);
    free(pred);
    if (status < 0) infer_result_free(res);
    return status;
}

void infer_result_free(EvalResult *res) {
    free(res->confusion);
    free(res->probs);
    res->confusion = NULL;
    res->probs = NULL;
}

// ------------------------------------------------------------------------------ command line

int infer_args_init(InferArgs *a, int argc, int64_t batch_size) {
    *a = (InferArgs){.batch_size = batch_size};
    cli_common_default(&a->common);
    a->inputs.sources = calloc((size_t)argc + 1, sizeof *a->inputs.sources);
    return a->inputs.sources ? 0 : ls_error(LS_ERR_NOMEM, "out of memory");
}

int infer_args_parse(int opt, const char *arg, InferArgs *a) {
    int status = cli_common_parse(opt, arg, &a->common);
    if (status != 0) return status;
    switch (opt) {
    case 'm': a->model = arg; return 1;
    case INFER_OPT_DATA: a->inputs.sources[a->inputs.n_sources++] = arg; return 1;
    case INFER_OPT_SEQ_LEN:
        status = cli_parse_int64("--seq-len", arg, 1, INT64_MAX / 2, &a->seq_len);
        break;
    case INFER_OPT_MAX_WINDOWS:
        status = cli_parse_int64("--max-windows", arg, 1, INT64_MAX / 2, &a->max_windows);
        break;
    case INFER_OPT_STRIDE:
        status = cli_parse_int64("--stride", arg, 1, INT64_MAX / 2, &a->stride);
        break;
    case INFER_OPT_BATCH_SIZE:
        status = cli_parse_int64("--batch-size", arg, 1, 1000000, &a->batch_size);
        break;
    case INFER_OPT_MAX_TOKENS:
        status = cli_parse_int64("--max-tokens", arg, 1, INT64_MAX / 2, &a->max_tokens);
        break;
    case INFER_OPT_REFERENCE: a->inputs.reference = arg; return 1;
    case INFER_OPT_PACK: a->pack = 1; return 1;
    default: return 0;
    }
    return status < 0 ? status : 1;
}

int infer_args_finish(InferArgs *a, int argc, char **argv, const char *model_file,
                      const char *no_input) {
    // the sources array has room for argc entries: each came from one argument
    for (int i = optind; i < argc; i++) a->inputs.sources[a->inputs.n_sources++] = argv[i];
    if (!a->model) return ls_error(LS_ERR_USAGE, "no model: give -m %s", model_file);
    if (a->inputs.n_sources + a->inputs.n_classes == 0)
        return ls_error(LS_ERR_USAGE, "%s", no_input);
    return infer_check_output(a);
}

int infer_check_output(const InferArgs *a) {
    if (!a->common.output || strcmp(a->common.output, "-") == 0) return 0;
    int n = 0;
    CliPath *in = malloc((size_t)(a->inputs.n_sources + a->inputs.n_classes + 2) * sizeof *in);
    if (!in) return ls_error(LS_ERR_NOMEM, "out of memory");
    in[n++] = (CliPath){"-m", a->model};
    if (a->inputs.labels) in[n++] = (CliPath){"--labels", a->inputs.labels};
    for (int i = 0; i < a->inputs.n_sources; i++) in[n++] = (CliPath){"", a->inputs.sources[i]};
    for (int i = 0; i < a->inputs.n_classes; i++)
        in[n++] = (CliPath){"--class", a->inputs.classes[i]};
    CliPath out = {"-o", a->common.output};
    int status = cli_check_outputs(&out, 1, in, n);
    free(in);
    return status;
}

int infer_check_outputs_not_data(const Dataset *ds, const CliPath *outputs, int n) {
    for (int i = 0; i < n; i++) {
        const char *path = outputs[i].path;
        if (!path || strcmp(path, "-") == 0) continue;
        const char *source = dataset_file_source(ds, path);
        if (source)
            return ls_error(LS_ERR_USAGE, "%s %s: is the data file %s (the same file); writing "
                            "it would destroy that input, so choose another output name",
                            outputs[i].option, path, source);
    }
    return 0;
}

int infer_args_check_windows(const InferArgs *a) {
    if (a->max_windows > 0 && a->seq_len == 0)
        return ls_error(LS_ERR_USAGE, "--max-windows needs --seq-len");
    if (a->stride > 0 && a->seq_len == 0)
        return ls_error(LS_ERR_USAGE, "--stride needs --seq-len");
    return 0;
}

int infer_args_open_model(InferArgs *a, ModelFile *mf) {
    cli_common_apply(&a->common);
    *mf = (ModelFile){0};
    int status = cli_resolve_device(&a->common);
    if (status == 0) status = checkpoint_open(mf, a->model, &a->common.device);
    if (status == 0) status = model_set_precision(mf->model, a->common.dtype);
    if (status == 0)
        ls_log_info("running on %s, %s", a->common.device_desc, dtype_name(a->common.dtype));
    return status;
}

int infer_args_load(const InferArgs *a, const ModelFile *mf, int labelled, Dataset **out) {
    DatasetOptions dopt;
    infer_dataset_options(&mf->data, labelled ? DATASET_LABELS_REQUIRED : DATASET_LABELS_NONE,
                          &dopt);
    int status = infer_load(out, &dopt, &a->inputs, labelled ? mf->labels : NULL);
    if (status < 0) return status;
    CliPath output = {"-o", a->common.output};
    status = infer_check_outputs_not_data(*out, &output, 1);
    if (status == 0) status = infer_check_kind(*out, &mf->data, a->model);
    if (status == 0) status = infer_check_vocab(*out, model_config(mf->model), a->model);
    if (status < 0) {
        dataset_free(*out);
        *out = NULL;
    }
    return status;
}

void infer_args_run_options(const InferArgs *a, const ModelFile *mf, InferOutput output,
                            InferOptions *io) {
    *io = (InferOptions){.batch_size = a->batch_size, .max_tokens = a->max_tokens,
                         .output = output, .pack = a->pack};
    infer_batch_options(&mf->data, &io->batch);
}

void infer_args_free(InferArgs *a) {
    free(a->inputs.sources);
    a->inputs.sources = NULL;
    a->inputs.n_sources = 0;
}
