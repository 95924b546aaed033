/*
 * trainer.c — the training loop; see trainer.h for the data order, the step and the resume
 * rule. Memory: one Batch grows to the largest batch seen and is then reused, so steps
 * allocate nothing once every batch shape has been met; the model's arena (logits and dlogits
 * included, on the model's device) follows the same rule (models/model.h).
 * Tested by tests/cli/train.tst and tests/unit/test_trainer.c (the time budget).
 */
#include "pipeline/trainer.h"

#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "common/log.h"
#include "common/utf8.h"
#include "kernels/loss.h"
#include "kernels/optim.h"
#include "models/slice_exchange.h"
#include "pipeline/checkpoint.h"

// ---------------------------------------------------------------------------- config table

void config_table_add(ConfigTable *t, int recorded, const char *key, const char *fmt, ...) {
    if (t->n >= CONFIG_TABLE_MAX) return;
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(t->values[t->n], sizeof t->values[t->n], fmt, ap);
    va_end(ap);
    /* a value cut at 255 bytes must not end inside a UTF-8 sequence: the recorded lines are
     * saved as JSON text, and a save at the end of the run would refuse them */
    char *v = t->values[t->n];
    size_t n = strlen(v);
    if (len > (int)n) {
        size_t bad = utf8_check(v, n);
        if (bad != SIZE_MAX && n - bad < 4) v[bad] = '\0';
    }
    t->keys[t->n] = key;
    t->recorded[t->n] = recorded;
    t->n++;
}

void config_table_print(const ConfigTable *t, FILE *fp) {
    int kw = 9, vw = 5;
    for (int i = 0; i < t->n; i++) {
        int k = (int)strlen(t->keys[i]), v = (int)strlen(t->values[i]);
        if (k > kw) kw = k;
        if (v > vw) vw = v;
    }
    if (vw > 72) vw = 72;
    char rule[256];
    int n = snprintf(rule, sizeof rule, "+-%.*s-+-%.*s-+", kw,
                     "------------------------------------------------------------------------",
                     vw,
                     "------------------------------------------------------------------------");
    (void)n;
    fprintf(fp, "%s\n| %-*s | %-*s |\n%s\n", rule, kw, "parameter", vw, "value", rule);
    for (int i = 0; i < t->n; i++)
        fprintf(fp, "| %-*s | %-*.*s |\n", kw, t->keys[i], vw, vw, t->values[i]);
    fprintf(fp, "%s\n", rule);
}

int config_table_to_json(const ConfigTable *t, char **json) {
    *json = NULL;
    cJSON *o = cJSON_CreateObject();
    if (!o) return ls_error(LS_ERR_NOMEM, "out of memory for JSON");
    for (int i = 0; i < t->n; i++) {
        if (!t->recorded[i]) continue;
        if (!cJSON_AddStringToObject(o, t->keys[i], t->values[i])) {
            cJSON_Delete(o);
            return ls_error(LS_ERR_NOMEM, "out of memory for JSON");
        }
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (text) *json = strdup(text);
    cJSON_free(text);
    return *json ? 0 : ls_error(LS_ERR_NOMEM, "out of memory for JSON");
}

/* The first recorded key whose value differs between two JSON objects of strings. */
static int config_json_compare(const char *was, const char *now, const char *where) {
    cJSON *a = cJSON_Parse(was), *b = cJSON_Parse(now);
    int status = 0;
    if (!cJSON_IsObject(a) || !cJSON_IsObject(b)) {
        status = ls_error(LS_ERR_FORMAT, "%s: metadata 'training' is not a JSON object", where);
        goto done;
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, b) {
        const cJSON *old = cJSON_GetObjectItemCaseSensitive(a, item->string);
        const char *x = cJSON_IsString(old) ? old->valuestring : "(not set)";
        if (strcmp(x, item->valuestring) != 0) {
            status = ls_error(LS_ERR_USAGE, "--resume %s: '%s' was %s in that run, now %s; a "
                              "resumed run must repeat its settings", where, item->string, x,
                              item->valuestring);
            goto done;
        }
    }
    cJSON_ArrayForEach(item, a) {
        if (!cJSON_GetObjectItemCaseSensitive(b, item->string)) {
            status = ls_error(LS_ERR_USAGE, "--resume %s: '%s' was set in that run, not now",
                              where, item->string);
            goto done;
        }
    }
done:
    cJSON_Delete(a);
    cJSON_Delete(b);
    return status;
}

// ---------------------------------------------------------------------------- options

void trainer_options_default(TrainOptions *opt) {
    *opt = (TrainOptions){0};
    cli_common_default(&opt->common);
    opt->task = MODEL_TASK_CLASSIFY;
    opt->arch = -1;
    opt->d_model = opt->n_layers = opt->d_state = opt->expand = opt->n_heads = -1;
    opt->mlp_hidden = -1;
    opt->window = 0;
    opt->frame = -1;
    opt->pool = opt->norm = -1;
    opt->audio_codes = -1;
    opt->batch_size = 16;
    opt->lr = 1e-3;
    opt->min_lr = -1;
    opt->warmup = -1;
    opt->weight_decay = 0.1;
    opt->clip = 1.0;
    opt->grad_checkpoint = 1;
    opt->beta1 = 0.9;
    opt->beta2 = 0.999;
    opt->eps = 1e-8;
    opt->progress = -1;
}

// ---------------------------------------------------------------------------- the trainer

/* Measured steps: seconds and padded tokens in all, and how many. */
typedef struct {
    double  time, padded;
    int64_t count;
} StepTimes;

enum { BUDGET_RECENT = 8 }; /* the steps that tell whether the machine's speed changed */

typedef struct {
    const TrainOptions *opt;
    /* data */
    Dataset      *train_ds, *valid_ds;   /* valid_ds NULL: validation examples are in train_ds */
    const Dataset *vds;                  /* the dataset validation reads */
    int64_t      *train_idx, n_train, *valid_idx, n_valid;
    DataSettings  data;
    BatchOptions  batch_opt;
    /* model and optimizer */
    ModelConfig   cfg;
    Model        *model;
    AdamWConfig   adamw;
    double        min_lr;
    int64_t       warmup;
    /* data order */
    DatasetItem  *items;          /* whole mode: one per training example */
    BatchPlan     plan;
    int64_t       plan_epoch;     /* epoch `plan` was made for; -1 none */
    WindowSampler *sampler;       /* window mode */
    int64_t       window_rows;    /* rows per window batch */
    int64_t       batches_per_epoch; /* window mode */
    Rng           crop_rng;
    DatasetItem  *rows;
    int64_t       rows_cap;
    /* validation */
    DatasetItem  *valid_items;
    int64_t       n_valid_items;
    Augment      *augment;         /* --augment, or NULL */
    /* step buffers */
    Batch         batch;
    PackedBatch   packed;          /* --pack: the batch as the model reads it */
    int64_t       pos_padded, pos_run; /* positions of the steps: padded batches, as run */
    float        *logits;        /* host logits of the --minutes estimate's timed forward */
    size_t        cap_logits;
    /* bookkeeping */
    TrainState    state;
    int64_t       epochs;          /* for the table and plain progress; 0 when by steps */
    ConfigTable   table;
    char         *training_json;
    char         *state_path, *best_path;
    FILE         *log;
    int           show;            /* progress on stderr */
    int           bar;             /* as a bar (terminal) */
    int           bar_shown;       /* the bar is on the current line */
    double        t_start, t_last_print;
    int64_t       step_at_start, tokens_at_start;
    double        loss_sum;        /* since the last printed line */
    int64_t       loss_count;
    double        last_valid_loss;
    int           have_last_valid;
    /* time budget (--minutes): measured in this session, on the trainer's clock */
    double        t_origin;        /* start of trainer_run: the budget counts from here */
    int           budget_on;       /* --minutes alone: the length follows the clock */
    double        budget_s;        /* this session's budget (M less a resumed run's past) */
    int           budget_next;     /* next re-planning point, index into budget_points */
    StepTimes     since_plan;      /* steps measured since the last plan */
    double        recent_time[BUDGET_RECENT], recent_padded[BUDGET_RECENT];
    int64_t       recent_count;    /* steps measured in the session */
    double        forward_share;   /* a forward alone / a whole step (trial steps) */
    double        valid_time;      /* validations of the session */
    int64_t       valid_count;
    double        save_time;       /* saves of the session */
    int64_t       save_count;
    /* data parallel (opt->comm set): this rank trains rows [B·rank/size, B·(rank+1)/size) of
     * every global batch; see "Data parallel" below */
    Comm         *comm;
    int           rank, size;
    int64_t      *bucket_lo, *bucket_hi; /* gradient buckets in the order they are reduced */
    int           n_buckets, next_bucket;
    int           hook_on;         /* the buckets are reduced during this backward */
    int32_t      *targets;         /* LM: the targets of a batch, to count the scored ones */
    int64_t       targets_cap;
    int           dp_signal;       /* agreed at the last step: some rank got SIGINT/SIGTERM */
    int           dp_time_up;      /* agreed: rank 0's clock passed a --minutes cap */
    /* sequence parallel (--seq-parallel): every rank reads the whole batch and holds and runs
     * only slice `rank` of every row (docs/parallel.md "Sequence parallel across ranks") */
    SliceExchange *sp_exchange;
} Trainer;

static volatile sig_atomic_t stop_signal = 0;
static void on_signal(int sig) { stop_signal = sig; }

static TrainerClock clock_fn = NULL;
static void        *clock_ctx = NULL;

void trainer_set_clock(TrainerClock clock, void *ctx) {
    clock_fn = clock;
    clock_ctx = ctx;
}

static double now_s(void) {
    if (clock_fn) return clock_fn(clock_ctx);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void format_duration(char *buf, size_t size, double s) {
    if (!isfinite(s) || s < 0) s = 0;
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, size, "%ldh%02ldm", t / 3600, (t / 60) % 60);
    else if (t >= 60) snprintf(buf, size, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, size, "%lds", t);
}

/* What train writes, for cli_check_outputs(): the model, its state, the best checkpoint and
 * the log. The state and best names are derived from -o (checkpoint_state_path). */
static int trainer_outputs(const Trainer *T, CliPath out[4]) {
    const TrainOptions *opt = T->opt;
    out[0] = (CliPath){"-o", opt->common.output};
    out[1] = (CliPath){"the training state", T->state_path};
    out[2] = (CliPath){"the best checkpoint", T->best_path};
    out[3] = (CliPath){"--log", opt->log_path};
    return 4;
}

/* Before any work: -o names a model file that can be created, and no output (model, state,
 * best checkpoint, log) is an input named on the command line or another output. The run being
 * resumed is no input here: its state is read before it is replaced. */
static int trainer_check_outputs(const Trainer *T) {
    const TrainOptions *opt = T->opt;
    const char *path = opt->common.output;
    if (!path || !*path || strcmp(path, "-") == 0)
        return ls_error(LS_ERR_USAGE, "-o MODEL.safetensors is required (a checkpoint cannot "
                        "go to stdout)");
    static const char state_ext[] = ".state.safetensors";
    size_t len = strlen(path), n_ext = sizeof state_ext - 1;
    if (len >= n_ext && strcmp(path + len - n_ext, state_ext) == 0)
        return ls_error(LS_ERR_USAGE, "-o %s: that is the name of a training state; give the "
                        "model's name (%.*s.safetensors) and the state goes beside it", path,
                        (int)(len - n_ext), path);
    const InputSpec *specs[2] = {&opt->train, &opt->valid};
    int n_in = 0;
    CliPath *in = malloc((size_t)(2 + 2 * (opt->train.n_sources + opt->train.n_classes +
                                           opt->valid.n_sources + opt->valid.n_classes)) *
                         sizeof *in);
    if (!in) return ls_error(LS_ERR_NOMEM, "out of memory");
    for (int s = 0; s < 2; s++) {
        const InputSpec *spec = specs[s];
        for (int i = 0; i < spec->n_sources; i++)
            in[n_in++] = (CliPath){s ? "--valid" : "--data", spec->sources[i]};
        for (int i = 0; i < spec->n_classes; i++)
            in[n_in++] = (CliPath){"--class", spec->classes[i]};
        if (spec->labels) in[n_in++] = (CliPath){s ? "--valid-labels" : "--labels", spec->labels};
    }
    CliPath out[4];
    int status = cli_check_outputs(out, trainer_outputs(T, out), in, n_in);
    free(in);
    return status;
}

static int append_split(const Dataset *ds, Split split, int64_t **idx, int64_t *n) {
    int64_t *more = NULL, n_more = 0;
    int status = dataset_split_indices(ds, split, &more, &n_more);
    if (status < 0 || n_more == 0) {
        free(more);
        return status;
    }
    int64_t *grown = realloc(*idx, (size_t)(*n + n_more) * sizeof *grown);
    if (!grown) {
        free(more);
        return ls_error(LS_ERR_NOMEM, "out of memory");
    }
    memcpy(grown + *n, more, (size_t)n_more * sizeof *more);
    *idx = grown;
    *n += n_more;
    free(more);
    return 0;
}

static int cmp_int64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int trainer_load_data(Trainer *T) {
    const TrainOptions *opt = T->opt;
    int classify = opt->task == MODEL_TASK_CLASSIFY;
    DatasetOptions dopt;
    dataset_options_default(&dopt);
    dopt.softmask = opt->softmask;
    dopt.sample_rate = opt->sample_rate;
    dopt.labels = classify ? DATASET_LABELS_REQUIRED : DATASET_LABELS_NONE;
    for (int i = 0; classify && i < opt->train.n_sources; i++)
        if (synth_is_spec(opt->train.sources[i]))
            return ls_error(LS_ERR_USAGE, "--task classify: synthetic tasks (%s) train a "
                            "language model on their targets; use --task lm",
                            opt->train.sources[i]);
    int status = infer_check_streams(&opt->train, &opt->valid); /* a pipe is read once */
    if (status < 0) return status;
    status = infer_load(&T->train_ds, &dopt, &opt->train, NULL);
    if (status < 0) return status;
    ExampleKind kind = dataset_kind(T->train_ds);
    if (classify && label_map_count(dataset_labels(T->train_ds)) < 2) {
        char names[256];
        return ls_error(LS_ERR_USAGE, "the training data holds %d label%s (%s); classification "
                        "needs at least two", label_map_count(dataset_labels(T->train_ds)),
                        label_map_count(dataset_labels(T->train_ds)) == 1 ? "" : "s",
                        label_map_describe(dataset_labels(T->train_ds), names, sizeof names));
    }
    if (opt->valid.n_sources + opt->valid.n_classes > 0) {
        if (kind == EXAMPLE_AUDIO) dopt.sample_rate = dataset_sample_rate(T->train_ds);
        status = infer_load(&T->valid_ds, &dopt, &opt->valid,
                            classify ? dataset_labels(T->train_ds) : NULL);
        if (status < 0) {
            ls_error_prefix("--valid");
            return status;
        }
        if (dataset_kind(T->valid_ds) != kind)
            return ls_error(LS_ERR_USAGE, "--valid holds %s but --data holds %s",
                            dataset_kind_name(dataset_kind(T->valid_ds)),
                            dataset_kind_name(kind));
        if (dataset_vocab(T->valid_ds) > dataset_vocab(T->train_ds))
            return ls_error(LS_ERR_USAGE, "--valid %s: key 'vocab': larger than the training "
                            "data's vocab=%lld", dataset_example(T->valid_ds, 0)->source,
                            (long long)dataset_vocab(T->train_ds));
    } else if (opt->valid_fraction > 0) {
        SplitOptions so = {.seed = opt->common.seed, .valid_fraction = opt->valid_fraction,
                           .test_fraction = 0, .stratify = classify};
        status = dataset_assign_splits(T->train_ds, &so);
        if (status < 0) return status;
    }
    /* training: split train and not given; validation: --valid, else split valid */
    if ((status = append_split(T->train_ds, SPLIT_TRAIN, &T->train_idx, &T->n_train)) < 0 ||
        (status = append_split(T->train_ds, SPLIT_NONE, &T->train_idx, &T->n_train)) < 0)
        return status;
    qsort(T->train_idx, (size_t)T->n_train, sizeof *T->train_idx, cmp_int64);
    if (T->valid_ds) {
        T->vds = T->valid_ds;
        status = append_split(T->valid_ds, SPLIT_NONE, &T->valid_idx, &T->n_valid);
        for (Split s = SPLIT_TRAIN; status == 0 && s <= SPLIT_TEST; s++)
            status = append_split(T->valid_ds, s, &T->valid_idx, &T->n_valid);
        if (status < 0) return status;
        qsort(T->valid_idx, (size_t)T->n_valid, sizeof *T->valid_idx, cmp_int64);
    } else {
        T->vds = T->train_ds;
        status = append_split(T->train_ds, SPLIT_VALID, &T->valid_idx, &T->n_valid);
        if (status < 0) return status;
    }
    if (T->n_train == 0)
        return ls_error(LS_ERR_USAGE, "no training examples left (every example is in the "
                        "validation or test split)");
    int64_t *test_idx = NULL, n_test = 0;
    if ((status = dataset_split_indices(T->train_ds, SPLIT_TEST, &test_idx, &n_test)) < 0)
        return status;
    free(test_idx);
    if (n_test > 0)
        ls_log_info("%lld examples of the test split are left out of training (evaluate them "
                    "with 'longscan eval --split test')", (long long)n_test);
    /* what the inputs become */
    T->data = (DataSettings){kind, opt->softmask, 0, AUDIO_CODES_MULAW8};
    if (kind == EXAMPLE_SYNTH) { // token ids of a synthetic task: an LM scored on its targets
        if (classify)
            return ls_error(LS_ERR_USAGE, "--task classify: synthetic tasks (%s) train a "
                            "language model on their targets; use --task lm",
                            dataset_example(T->train_ds, 0)->source);
        if (opt->input == TRAIN_INPUT_WAVEFORM || opt->sample_rate > 0 ||
            opt->audio_codes >= 0 || opt->softmask != DNA_SOFTMASK_UPPER)
            return ls_error(LS_ERR_USAGE, "--%s: the data is a synthetic task's tokens",
                            opt->input == TRAIN_INPUT_WAVEFORM ? "input"
                            : opt->sample_rate > 0             ? "sample-rate"
                            : opt->audio_codes >= 0            ? "audio-codes"
                                                               : "softmask");
    } else if (kind == EXAMPLE_DNA) {
        if (opt->input == TRAIN_INPUT_WAVEFORM)
            return ls_error(LS_ERR_USAGE, "--input waveform: the data is DNA, read as tokens");
        if (opt->sample_rate > 0 || opt->audio_codes >= 0)
            return ls_error(LS_ERR_USAGE, "--%s: the data is DNA, not audio",
                            opt->sample_rate > 0 ? "sample-rate" : "audio-codes");
    } else {
        if (opt->softmask != DNA_SOFTMASK_UPPER)
            return ls_error(LS_ERR_USAGE, "--softmask: the data is audio, not DNA");
        T->data.softmask = DNA_SOFTMASK_UPPER;
        T->data.sample_rate = dataset_sample_rate(T->train_ds);
        int waveform = opt->input == TRAIN_INPUT_WAVEFORM ||
                       (opt->input == TRAIN_INPUT_AUTO && classify);
        if (!classify && opt->input == TRAIN_INPUT_WAVEFORM)
            return ls_error(LS_ERR_USAGE, "--input waveform: a language model predicts audio "
                            "codes; use --input tokens (--audio-codes mulaw8 or linear8)");
        if (waveform && opt->audio_codes >= 0 && opt->audio_codes != AUDIO_CODES_NONE)
            return ls_error(LS_ERR_USAGE, "--audio-codes %s: the classifier reads the waveform; "
                            "add --input tokens to read codes",
                            checkpoint_audio_codes_name((AudioCodes)opt->audio_codes));
        if (!waveform && opt->audio_codes == AUDIO_CODES_NONE)
            return ls_error(LS_ERR_USAGE, "--audio-codes none: token input needs mulaw8 or "
                            "linear8");
        T->data.audio_codes = waveform ? AUDIO_CODES_NONE
                              : opt->audio_codes >= 0 ? (AudioCodes)opt->audio_codes
                                                      : AUDIO_CODES_MULAW8;
    }
    infer_batch_options(&T->data, &T->batch_opt);
    return 0;
}

static int trainer_model_config(Trainer *T) {
    const TrainOptions *opt = T->opt;
    ModelConfig *cfg = &T->cfg;
    ModelArch arch = opt->arch >= 0                    ? (ModelArch)opt->arch
                     : opt->task == MODEL_TASK_CLASSIFY ? MODEL_BIMAMBA
                                                        : MODEL_MAMBA;
    model_config_default(cfg, arch, opt->task);
    if (T->data.kind == EXAMPLE_AUDIO && T->data.audio_codes == AUDIO_CODES_NONE) {
        cfg->input = MODEL_INPUT_WAVEFORM;
        if (opt->frame > 0) cfg->frame = opt->frame;
    } else {
        cfg->input = MODEL_INPUT_TOKENS;
        cfg->vocab = T->data.kind == EXAMPLE_SYNTH ? dataset_vocab(T->train_ds)
                     : T->data.kind == EXAMPLE_DNA  ? DNA_VOCAB
                                                    : 256;
        if (opt->frame > 0)
            return ls_error(LS_ERR_USAGE, "--frame: only waveform input is read in frames");
    }
    if (opt->task == MODEL_TASK_CLASSIFY)
        cfg->n_classes = label_map_count(dataset_labels(T->train_ds));
    if (opt->d_model >= 0) cfg->d_model = opt->d_model;
    if (opt->n_layers >= 0) cfg->n_layers = opt->n_layers;
    if (opt->d_state >= 0) cfg->d_state = opt->d_state;
    if (opt->expand >= 0) cfg->expand = opt->expand;
    if (opt->n_heads >= 0) {
        if (arch != MODEL_TRANSFORMER && arch != MODEL_HYBRID)
            return ls_error(LS_ERR_USAGE, "--heads: only the transformer and the hybrid have "
                            "attention heads");
        cfg->n_heads = opt->n_heads;
    }
    if (opt->mlp_hidden >= 0) {
        if (arch != MODEL_TRANSFORMER && arch != MODEL_HYBRID)
            return ls_error(LS_ERR_USAGE, "--mlp-hidden: only the transformer and the hybrid "
                            "have MLPs (in their attention blocks)");
        cfg->mlp_hidden = opt->mlp_hidden;
    }
    if ((opt->attn_layers || opt->attn_every) && arch != MODEL_HYBRID)
        return ls_error(LS_ERR_USAGE, "--attn-%s: only --model hybrid chooses attention layers",
                        opt->attn_layers ? "layers" : "every");
    if (opt->attn_layers && opt->attn_every)
        return ls_error(LS_ERR_USAGE, "--attn-layers and --attn-every: give one of them");
    if (arch == MODEL_HYBRID) { // the layer plan, for the final --layers
        int status = opt->attn_layers ? model_config_set_attn_layers(cfg, opt->attn_layers)
                                      : model_config_set_attn_every(cfg, opt->attn_every > 0
                                                                             ? opt->attn_every
                                                                             : cfg->n_layers);
        if (status < 0) return status;
    }
    if (opt->window > 0) {
        if (arch != MODEL_TRANSFORMER)
            return ls_error(LS_ERR_USAGE, "--window %lld: only the transformer reads windows; "
                            "Mamba models read whole sequences (--seq-len draws training "
                            "windows)", (long long)opt->window);
        cfg->window = opt->window;
    }
    if (opt->rc_equivariant) {
        if (arch != MODEL_BIMAMBA || T->data.kind != EXAMPLE_DNA)
            return ls_error(LS_ERR_USAGE, "--rc-equivariant: only for bimamba on DNA");
        cfg->rc_equivariant = 1;
    }
    if (opt->pool >= 0) cfg->pool = (ModelPool)opt->pool;
    if (opt->norm >= 0) cfg->norm = (ModelNorm)opt->norm;
    if (cfg->window > 0 && opt->seq_len > cfg->window)
        return ls_error(LS_ERR_USAGE, "--seq-len %lld is longer than --window %lld: the "
                        "transformer sees at most --window tokens", (long long)opt->seq_len,
                        (long long)cfg->window);
    return model_config_check(cfg);
}

/* --augment for the data as loaded: an item that does not apply is an error here, before
 * the model is made. A Transformer's rows stay within its window when the speed changes. */
static int trainer_augment_init(Trainer *T) {
    const TrainOptions *opt = T->opt;
    if (!augment_any(&opt->augment)) return 0;
    AugmentData ad = {.kind = T->data.kind,
                      .waveform = T->data.kind == EXAMPLE_AUDIO &&
                                  T->data.audio_codes == AUDIO_CODES_NONE,
                      .windows = opt->seq_len > 0,
                      .sample_rate = T->data.sample_rate,
                      .max_length = T->cfg.arch == MODEL_TRANSFORMER ? T->cfg.window : 0,
                      .seed = opt->common.seed};
    return augment_init(&T->augment, &opt->augment, &ad);
}

/* The plan of epoch e (whole mode), rebuilt from (seed, e) whenever the epoch changes. */
static int trainer_plan(Trainer *T, int64_t epoch) {
    if (T->plan_epoch == epoch) return 0;
    batch_plan_free(&T->plan);
    T->plan_epoch = -1;
    Rng rng;
    rng_seed_stream(&rng, T->opt->common.seed, (uint64_t)epoch);
    BatchPlanOptions bpo = {.batch_size = T->opt->batch_size, .max_tokens = T->opt->max_tokens,
                            .bucket = !T->opt->no_bucket, .shuffle = 1};
    int status = batch_plan_make(&T->plan, T->train_ds, T->items, T->n_train, &bpo, &rng);
    if (status < 0) return status;
    T->plan_epoch = epoch;
    return 0;
}

/* Steps of one epoch. */
static int trainer_epoch_batches(Trainer *T, int64_t epoch, int64_t *n) {
    if (T->sampler) {
        *n = T->batches_per_epoch;
        return 0;
    }
    int status = trainer_plan(T, epoch);
    if (status < 0) return status;
    *n = T->plan.n_batches;
    return 0;
}

static int trainer_prepare_order(Trainer *T) {
    const TrainOptions *opt = T->opt;
    int status;
    T->plan_epoch = -1;
    rng_seed_stream(&T->crop_rng, opt->common.seed, 0xC809);
    if (opt->seq_len > 0) {
        int balanced = opt->balanced && opt->task == MODEL_TASK_CLASSIFY;
        status = window_sampler_init(&T->sampler, T->train_ds, T->train_idx, T->n_train,
                                     opt->seq_len, balanced, rng_mix64(opt->common.seed + 1));
        if (status < 0) {
            ls_error_prefix("--seq-len %lld", (long long)opt->seq_len);
            return status;
        }
        T->window_rows = opt->batch_size;
        if (opt->max_tokens > 0) {
            if (opt->max_tokens < opt->seq_len)
                return ls_error(LS_ERR_USAGE, "--max-tokens %lld is smaller than one window of "
                                "--seq-len %lld", (long long)opt->max_tokens,
                                (long long)opt->seq_len);
            if (opt->max_tokens / opt->seq_len < T->window_rows)
                T->window_rows = opt->max_tokens / opt->seq_len;
        }
        DatasetStats st;
        dataset_stats(T->train_ds, T->train_idx, T->n_train, &st, NULL);
        int64_t windows = st.total / opt->seq_len;
        if (windows < window_sampler_count(T->sampler)) windows = window_sampler_count(T->sampler);
        T->batches_per_epoch = (windows + T->window_rows - 1) / T->window_rows;
        T->rows_cap = T->window_rows;
    } else {
        status = dataset_items_whole(T->train_ds, T->train_idx, T->n_train, &T->items);
        if (status < 0) return status;
        T->rows_cap = opt->batch_size;
    }
    T->rows = malloc((size_t)T->rows_cap * sizeof *T->rows);
    if (!T->rows) return ls_error(LS_ERR_NOMEM, "out of memory");
    if (T->n_valid > 0) {
        status = infer_items(T->vds, T->valid_idx, T->n_valid, &T->cfg, opt->seq_len, 0,
                             opt->valid_windows, &T->valid_items, &T->n_valid_items);
        if (status < 0) {
            ls_error_prefix("validation data");
            return status;
        }
    }
    return 0;
}

/* The rows of the next step, from the current position; cropped for the Transformer. */
static int trainer_next_rows(Trainer *T, int64_t *n) {
    if (T->sampler) {
        window_sampler_next(T->sampler, T->rows, T->window_rows);
        *n = T->window_rows;
    } else {
        int status = trainer_plan(T, T->state.epoch);
        if (status < 0) return status;
        int64_t k = T->state.epoch_batch;
        if (k >= T->plan.n_batches)
            return ls_error(LS_ERR_INTERNAL, "batch %lld of epoch %lld is past its plan",
                            (long long)k, (long long)T->state.epoch);
        *n = T->plan.starts[k + 1] - T->plan.starts[k];
        memcpy(T->rows, T->plan.items + T->plan.starts[k], (size_t)*n * sizeof *T->rows);
    }
    if (T->cfg.window > 0) {
        for (int64_t i = 0; i < *n; i++) {
            DatasetItem *it = &T->rows[i];
            if (it->length <= T->cfg.window) continue;
            it->offset += model_crop_window(&T->cfg, it->length, MODEL_CROP_RANDOM,
                                            rng_next(&T->crop_rng));
            it->length = T->cfg.window;
        }
    }
    return 0;
}

/* Advance the position past the step just taken. @return 1 when an epoch just ended. */
static int trainer_advance(Trainer *T, int64_t epoch_batches) {
    T->state.epoch_batch++;
    if (T->state.epoch_batch < epoch_batches) return 0;
    T->state.epoch++;
    T->state.epoch_batch = 0;
    return 1;
}

// ---------------------------------------------------------------------------- data parallel

static int  trainer_by_minutes(const TrainOptions *opt);
static void trainer_budget_set_total(Trainer *T, int64_t total);

/*
 * Every rank reads the whole global batch (the same plan, sampler, crops and augmentation as
 * one process: the host work is repeated, the model's is split) and trains its rows
 * [B·rank/size, B·(rank+1)/size). The loss of one process is the mean over the batch's C
 * counted rows (sequences, or an LM's scored tokens): rank r's C_r rows enter it with weight
 * C_r / C, which is the grad_scale of its backward, so the sum of the ranks' gradients is the
 * gradient of that mean, whatever the lengths and padding of each rank's rows; with one rank
 * the weight is exactly 1 and the arithmetic that of a plain run. The gradient buffer is
 * summed in buckets (bucket_lo/hi) as the backward finishes them (model_set_grad_ready); the
 * loss, a stop request and rank 0's schedule length are summed on the host after it. Then every
 * rank holds the same gradients and runs the same norm, clipping and AdamW.
 */

/* Rows [r0, r0 + n) of @p b as a batch (a view: the same buffers, the same row stride L). */
static void batch_rows_view(const Batch *b, int64_t r0, int64_t n, Batch *v) {
    *v = *b;
    v->B = n;
    const int64_t cell = r0 * b->L;
    v->lengths = b->lengths ? b->lengths + r0 : NULL;
    v->labels = b->labels ? b->labels + r0 : NULL;
    v->examples = b->examples ? b->examples + r0 : NULL;
    v->offsets = b->offsets ? b->offsets + r0 : NULL;
    v->tokens = b->tokens ? b->tokens + cell : NULL;
    v->samples = b->samples ? b->samples + cell : NULL;
    v->ids = b->ids ? b->ids + cell : NULL;
    v->target = b->target ? b->target + cell : NULL;
    v->answers = b->answers ? b->answers + cell : NULL;
}

/* The rows of a batch that its mean loss is taken over: sequences, or an LM's scored
 * positions (model_lm_targets less the ignored ones). */
static int trainer_loss_count(Trainer *T, const Batch *b, int64_t *count) {
    *count = 0;
    if (b->B == 0) return 0;
    if (T->cfg.task != MODEL_TASK_LM) {
        *count = b->B;
        return 0;
    }
    if (b->B * b->L > T->targets_cap) {
        int32_t *t = realloc(T->targets, (size_t)(b->B * b->L) * sizeof *t);
        if (!t) return ls_error(LS_ERR_NOMEM, "out of memory for %lld targets",
                                (long long)(b->B * b->L));
        T->targets = t;
        T->targets_cap = b->B * b->L;
    }
    ModelBatch mb;
    infer_model_batch(b, &mb);
    const int64_t rows = model_lm_targets(T->model, &mb, T->targets);
    for (int64_t i = 0; i < rows; i++) *count += T->targets[i] != LOSS_IGNORE_INDEX;
    return 0;
}

/* The backward finished the gradients from float lo on: reduce the buckets inside them. */
static int trainer_grad_ready(void *ctx, int64_t lo) {
    Trainer *T = ctx;
    if (!T->hook_on) return 0;
    while (T->next_bucket < T->n_buckets && lo <= T->bucket_lo[T->next_bucket]) {
        const int k = T->next_bucket++;
        int status = comm_allreduce_start(T->comm, model_grads(T->model) + T->bucket_lo[k],
                                          T->bucket_hi[k] - T->bucket_lo[k]);
        if (status < 0) return status;
    }
    return 0;
}

/* Buckets of about LS_DP_BUCKET_MB megabytes (default 8; 0: one per layer), cut at the marks
 * the backward reports, so each is reduced as soon as its last layer is done. */
static int trainer_dp_buckets(Trainer *T) {
    const int64_t n = model_grad_marks(T->model, NULL);
    int64_t *marks = malloc((size_t)n * sizeof *marks);
    T->bucket_lo = malloc((size_t)n * sizeof *T->bucket_lo);
    T->bucket_hi = malloc((size_t)n * sizeof *T->bucket_hi);
    if (!marks || !T->bucket_lo || !T->bucket_hi) {
        free(marks);
        return ls_error(LS_ERR_NOMEM, "out of memory");
    }
    model_grad_marks(T->model, marks);
    double mb = 8;
    const char *env = getenv("LS_DP_BUCKET_MB");
    if (env && *env) mb = atof(env);
    const int64_t floats = (int64_t)(mb * 1048576.0 / sizeof(float));
    int64_t hi = model_param_table(T->model)->total;
    T->n_buckets = 0;
    for (int64_t i = 0; i < n; i++) {
        if (hi - marks[i] < floats && marks[i] > 0) continue;
        if (hi == marks[i]) continue;
        T->bucket_lo[T->n_buckets] = marks[i];
        T->bucket_hi[T->n_buckets++] = hi;
        hi = marks[i];
    }
    free(marks);
    model_set_grad_ready(T->model, trainer_grad_ready, T);
    return 0;
}

/* Forward + loss + backward of the filled batch on the model's device (logits and dlogits
 * stay there; the loss comes back); leaves the gradients in the model. Data parallel: of
 * this rank's rows, with their weight in the global mean, and *loss is their share of it. */
static int trainer_forward_backward(Trainer *T, double *loss) {
    ModelBatch mb;
    Batch rows = T->batch;
    double weight = 1.0;
    int status = 0;
    if (T->comm && !T->sp_exchange) {
        const int64_t B = T->batch.B, r0 = B * T->rank / T->size;
        int64_t count = 0, mine = 0;
        batch_rows_view(&T->batch, r0, B * (T->rank + 1) / T->size - r0, &rows);
        if ((status = trainer_loss_count(T, &T->batch, &count)) < 0 ||
            (status = trainer_loss_count(T, &rows, &mine)) < 0)
            return status;
        weight = count > 0 ? (double)mine / (double)count : 0.0;
    }
    const int32_t *labels = rows.labels;
    *loss = 0;
    if ((status = model_zero_grads(T->model)) < 0) return status;
    if (weight == 0) return 0; // no rows, or none scored: nothing to add to the gradients
    if (T->opt->pack) { // the same sequences laid out packed: labels in the packed order
        const int64_t frame = T->cfg.input == MODEL_INPUT_WAVEFORM ? T->cfg.frame : 1;
        if ((status = infer_pack_batch(&rows, frame, &T->packed, &mb)) < 0) return status;
        labels = T->packed.labels;
    } else {
        infer_model_batch(&rows, &mb);
    }
    const int64_t F = T->cfg.input == MODEL_INPUT_WAVEFORM ? T->cfg.frame : 1; // positions
    T->pos_padded += rows.B * ((rows.L + F - 1) / F);
    T->pos_run += mb.B * ((mb.L + F - 1) / F);
    model_set_dropout_step(T->model, T->state.step + 1); // the step this batch trains
    status = model_forward_backward(T->model, &mb, labels, (float)weight, loss);
    *loss *= weight;
    /* sequence parallel: every rank has the whole batch's loss (an LM's summed over the
     * ranks by the model, a classifier's head replicated); the host sum counts rank 0's */
    if (T->sp_exchange && T->rank != 0) *loss = 0;
    return status;
}

/* After this rank's backward: the buckets the backward did not reach (all of them when the
 * rank had nothing to compute), then the host values: the loss, a stop request, and rank 0's
 * schedule length (a --minutes run plans it from rank 0's clock). */
static int trainer_dp_reduce(Trainer *T, double *loss) {
    int status = 0;
    T->hook_on = 1;
    if (T->next_bucket < T->n_buckets) status = trainer_grad_ready(T, 0);
    T->hook_on = 0;
    T->next_bucket = 0;
    if (status == 0) status = comm_allreduce_wait(T->comm);
    if (status < 0) return status;
    const TrainOptions *opt = T->opt;
    const int capped = opt->minutes > 0 && !trainer_by_minutes(opt);
    double x[4] = {*loss, stop_signal != 0, T->rank == 0 ? (double)T->state.total_steps : 0,
                   T->rank == 0 && capped && now_s() - T->t_origin >= opt->minutes * 60};
    if ((status = comm_allreduce_host(T->comm, x, 4)) < 0) return status;
    *loss = x[0];
    T->dp_signal = x[1] > 0;
    T->dp_time_up = x[3] > 0;
    if ((int64_t)x[2] != T->state.total_steps) trainer_budget_set_total(T, (int64_t)x[2]);
    return 0;
}

/* Host logits of the filled batch for a timed forward (the --minutes estimate). */
static int trainer_logits_reserve(Trainer *T, const ModelBatch *mb) {
    const ModelConfig *cfg = &T->cfg;
    int64_t M = model_output_rows(T->model, mb); // LM with a target mask: the targets only
    int64_t V = cfg->task == MODEL_TASK_LM ? cfg->vocab : cfg->n_classes;
    size_t need = (size_t)(M * V) > 0 ? (size_t)(M * V) : 1;
    if (need <= T->cap_logits) return 0;
    free(T->logits);
    T->logits = malloc(need * sizeof *T->logits);
    T->cap_logits = T->logits ? need : 0;
    return T->logits ? 0 : ls_error(LS_ERR_NOMEM, "out of memory for %zu logits", need);
}

static int trainer_step(Trainer *T, int64_t n_rows, double *loss, double *grad_norm, double *lr,
                        int64_t *tokens) {
    int status = batch_fill(&T->batch, T->train_ds, T->rows, n_rows, &T->batch_opt);
    if (status < 0) return status;
    /* the step being taken is the augmentation's counter, so a resumed run draws the same */
    if (T->augment &&
        (status = augment_batch(T->augment, &T->batch, (uint64_t)T->state.step + 1)) < 0)
        return status;
    *tokens = 0;
    for (int64_t b = 0; b < T->batch.B; b++) *tokens += T->batch.lengths[b];
    T->hook_on = T->comm != NULL;
    status = trainer_forward_backward(T, loss);
    T->hook_on = 0;
    if (status == 0 && T->comm) status = trainer_dp_reduce(T, loss);
    if (status < 0) return status;
    int64_t step = T->state.step + 1;
    /* a loss that is not a number: the weights have diverged; stop before the update,
     * so nothing of this step is saved */
    if (!isfinite(*loss))
        return ls_error(LS_ERR_RANGE, "step %lld: the loss is %s; training stopped before "
                        "the update (lower --lr %g, or --clip)", (long long)step,
                        isnan(*loss) ? "nan" : "infinite", T->opt->lr);
    status = model_grad_norm(T->model, grad_norm);
    if (status < 0) return status;
    /* a NaN or infinite gradient would write NaN into every weight it touches */
    if (!isfinite(*grad_norm))
        return ls_error(LS_ERR_RANGE, "step %lld: the gradient norm is %s (loss %g); training "
                        "stopped before the update (lower --lr %g, or --clip)", (long long)step,
                        isnan(*grad_norm) ? "nan" : "infinite", *loss, T->opt->lr);
    float scale = optim_clip_scale(*grad_norm, T->opt->clip);
    *lr = optim_lr_schedule(step, T->warmup, T->state.total_steps, T->opt->lr, T->min_lr);
    status = model_adamw_step(T->model, &T->adamw, step, *lr, scale);
    if (status < 0) {
        ls_error_prefix("step %lld (gradient norm %g)", (long long)step, *grad_norm);
        return status;
    }
    T->state.step = step;
    T->state.tokens += *tokens;
    return 0;
}

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// ---------------------------------------------------------------------------- time budget
/* --minutes alone. Why plan more than once: the first estimate times a few steps of one batch
 * before training starts, and such steps are not the run's steps (other batch lengths, caches
 * and arena still cold, the optimizer and validation not in them: a budget of 8 minutes ended
 * after 2.5), nor is a shared machine as fast later as it was then. So the length is planned
 * again from the run's own measurements: at fixed points of the budget, early first so that
 * the learning-rate schedule moves little afterwards, and whenever the last steps say the
 * plan went wrong. The target is the middle of the allowed 90-100 % of M (budget_low ..
 * budget_high, the latter less a margin), and a guard between steps keeps the end inside the
 * budget should the steps slow down after the last plan. */
static const double budget_points[] = {0.05, 0.20, 0.45, 0.70, 0.88};
enum { BUDGET_POINTS = (int)(sizeof budget_points / sizeof budget_points[0]) };
static const double budget_target = 0.95, budget_low = 0.90, budget_high = 0.99;

/* Validations or saves after the steps in (a, b] that are multiples of every. */
static int64_t multiples_between(int64_t a, int64_t b, int64_t every) {
    return every > 0 ? b / every - a / every : 0;
}

/* Seconds from step p->step to the end of a schedule of p->step + n steps. */
static double plan_cost(const TrainTimePlan *p, int64_t n) {
    int64_t end = p->step + n;
    int64_t valids = multiples_between(p->step, end, p->valid_every);
    if (p->valid_at_end && (p->valid_every <= 0 || end % p->valid_every != 0)) valids++;
    int64_t saves = multiples_between(p->step, end, p->save_every);
    if (p->save_every <= 0 || end % p->save_every != 0) saves++;
    return (double)n * p->step_s + (double)valids * p->valid_s + (double)saves * p->save_s;
}

/* The largest n >= 1 with plan_cost(n) <= left (0: none); the cost grows with n. */
static int64_t plan_fit(const TrainTimePlan *p, double left) {
    const int64_t most = (int64_t)1e12;
    double step_s = p->step_s > 1e-12 ? p->step_s : 1e-12;
    if (!(left > 0) || plan_cost(p, 1) > left) return 0;
    double guess = left / step_s + 2;
    int64_t lo = 1, hi = guess > (double)most ? most : (int64_t)guess;
    if (plan_cost(p, hi) <= left) return hi;
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (plan_cost(p, mid) <= left) lo = mid;
        else hi = mid;
    }
    return lo;
}

int64_t trainer_plan_total(const TrainTimePlan *p) {
    int64_t n = plan_fit(p, p->left_s);
    double low = p->low_s, high = p->high_s;
    if (high > 0 && n < (int64_t)1e12 && (n == 0 || plan_cost(p, n) < low) &&
        plan_cost(p, n + 1) <= high)
        n++;
    return p->step + (n > 0 ? n : 1);
}

/* Mean padded tokens of the steps ahead (the current epoch's plan; windows: all alike). */
static double trainer_padded_ahead(const Trainer *T) {
    if (T->sampler) return (double)T->window_rows * (double)T->opt->seq_len;
    if (T->plan.n_batches <= 0) return 0;
    return (double)T->plan.padded_tokens / (double)T->plan.n_batches;
}

/* What the rest of the run will cost, @p elapsed seconds into the budget, from this session's
 * measurements: @p step_s and @p padded (seconds and padded tokens per measured step) scaled
 * to the batches ahead. */
static void trainer_time_plan(const Trainer *T, double elapsed, double step_s, double padded,
                              TrainTimePlan *p) {
    const TrainOptions *opt = T->opt;
    double ahead = trainer_padded_ahead(T);
    /* whole sequences: batches differ in length, so scale by padded tokens (the cropped
     * Transformer's batches are not what the plan counts: no scaling there) */
    double scale = !T->sampler && T->cfg.window == 0 && ahead > 0 && padded > 0
                       ? ahead / padded : 1.0;
    *p = (TrainTimePlan){0};
    p->step_s = step_s * scale;
    p->step = T->state.step;
    if (T->n_valid_items > 0) {
        p->valid_at_end = 1;
        p->valid_every = opt->eval_every > 0 ? opt->eval_every
                         : T->sampler         ? T->batches_per_epoch
                                              : T->plan.n_batches;
        if (T->valid_count > 0) {
            p->valid_s = T->valid_time / (double)T->valid_count;
        } else {
            /* not measured yet: a forward pass over the validation tokens, at the share of
             * a training step that a forward took in the trial steps (a quarter when there
             * were none, as on resume); planned again once measured */
            double tokens = 0, share = T->forward_share > 0 ? T->forward_share : 0.25;
            for (int64_t i = 0; i < T->n_valid_items; i++)
                tokens += (double)T->valid_items[i].length;
            p->valid_s = padded > 0 ? step_s / padded * tokens * share : 0;
        }
    }
    p->save_every = opt->save_every;
    p->save_s = T->save_count > 0 ? T->save_time / (double)T->save_count : 0;
    p->left_s = budget_target * T->budget_s - elapsed;
    p->low_s = budget_low * T->budget_s - elapsed;
    p->high_s = budget_high * T->budget_s - elapsed;
}

/* The first estimate, before any step: trial steps on the first batch. Up to six, but no
 * more once they have taken 2 % of the budget (with long steps they would eat it: their
 * updates are thrown away); the median of those after the first (which plans the arena), so
 * that one step slowed by page faults or another process cannot shrink the schedule; scaled
 * from the trial batch's padded tokens to the epoch's mean, plus 20 % for the optimizer and
 * batch filling (measured: a full step is 1.1-1.3 times its forward + backward). With
 * validation, a forward alone is timed too (validation costs that per token; a third of a
 * step is a poor guess: on the example data it was a ninth). The run plans again from its
 * own steps soon after. Nothing of the training state moves. */
static int trainer_estimate_steps(Trainer *T, int64_t *total) {
    enum { TRIALS = 6 };
    Rng saved_sampler = T->sampler ? *window_sampler_rng(T->sampler) : (Rng){{0}};
    Rng saved_crop = T->crop_rng;
    int64_t n = 0;
    int status = trainer_next_rows(T, &n);
    if (status < 0) return status;
    if (T->sampler) *window_sampler_rng(T->sampler) = saved_sampler;
    T->crop_rng = saved_crop;
    status = batch_fill(&T->batch, T->train_ds, T->rows, n, &T->batch_opt);
    double loss, times[TRIALS], spent = 0;
    int k = 0;
    while (status == 0 && k < TRIALS && (k == 0 || spent < 0.02 * T->budget_s)) {
        double t0 = now_s();
        status = trainer_forward_backward(T, &loss);
        times[k] = now_s() - t0;
        spent += times[k++];
    }
    if (status < 0 || (status = model_zero_grads(T->model)) < 0) return status;
    double *timed = k > 1 ? times + 1 : times;
    int n_timed = k > 1 ? k - 1 : 1;
    qsort(timed, (size_t)n_timed, sizeof times[0], compare_double);
    if (T->n_valid_items > 0) {
        /* what a forward alone costs, for validation: the second of two (the first plans
         * the arena for inference) */
        ModelBatch mb;
        infer_model_batch(&T->batch, &mb);
        if ((status = trainer_logits_reserve(T, &mb)) < 0) return status;
        double forward = 0;
        for (int i = 0; i < 2 && status == 0; i++) {
            double t0 = now_s();
            status = model_forward(T->model, &mb, T->logits, 0);
            forward = now_s() - t0;
        }
        if (status < 0) return status;
        if (timed[n_timed / 2] > 0) T->forward_share = forward / (1.2 * timed[n_timed / 2]);
    }
    TrainTimePlan p;
    trainer_time_plan(T, now_s() - T->t_origin, 1.2 * timed[n_timed / 2],
                      (double)(T->batch.B * T->batch.L), &p);
    *total = trainer_plan_total(&p);
    return 0;
}

/* --minutes alone: the length of the run follows the clock. */
static int trainer_by_minutes(const TrainOptions *opt) {
    return opt->minutes > 0 && opt->steps == 0 && opt->epochs == 0;
}

/* A new length; the default warm-up (5 % of the steps) follows it. */
static void trainer_budget_set_total(Trainer *T, int64_t total) {
    T->state.total_steps = total;
    if (T->opt->warmup < 0) T->warmup = total / 20;
}

/* One step measured (its iteration less validation and save). */
static void trainer_budget_measure(Trainer *T, double seconds, double padded) {
    T->since_plan.time += seconds;
    T->since_plan.padded += padded;
    T->since_plan.count++;
    T->recent_time[T->recent_count % BUDGET_RECENT] = seconds;
    T->recent_padded[T->recent_count % BUDGET_RECENT] = padded;
    T->recent_count++;
}

/* The rest of the run as @p times (NULL: the last BUDGET_RECENT steps) predict it. */
static void trainer_budget_plan(const Trainer *T, double elapsed, const StepTimes *times,
                                TrainTimePlan *p) {
    StepTimes recent = {0};
    if (!times) {
        int64_t n = T->recent_count < BUDGET_RECENT ? T->recent_count : BUDGET_RECENT;
        for (int64_t i = 0; i < n; i++) {
            recent.time += T->recent_time[i];
            recent.padded += T->recent_padded[i];
        }
        recent.count = n;
        times = &recent;
    }
    trainer_time_plan(T, elapsed, times->time / (double)times->count,
                      times->padded / (double)times->count, p);
}

/* Between two steps of a --minutes run, @p elapsed seconds into its budget. The length is planned again:
 * at each planning point (from the steps since the last plan, or the last few when those are
 * fewer); whenever the last few steps say that the planned schedule would end outside 91-99 %
 * of the budget (the machine's speed changed, or the plan was made from too little), once
 * there are enough of them (5 steps, or 3 % of the budget: steps can be long); and when the
 * next step is the last but would end the run before 90 % of the budget. Failing those, when
 * the next step would no longer end the run inside the budget, it is made the last. */
static void trainer_budget_between_steps(Trainer *T, double elapsed) {
    enum { MIN_STEPS = 5 };
    if (!T->budget_on || T->recent_count < 1) return;
    double frac = elapsed / T->budget_s;
    int64_t before = T->state.total_steps, step = T->state.step;
    TrainTimePlan recent;
    trainer_budget_plan(T, elapsed, NULL, &recent);
    double end = (elapsed + plan_cost(&recent, before - step)) / T->budget_s;
    int enough = T->since_plan.count >= MIN_STEPS || T->since_plan.time >= 0.03 * T->budget_s;
    int at_point = T->budget_next < BUDGET_POINTS && frac >= budget_points[T->budget_next];
    int off_band = (enough && (end < budget_low + 0.01 || end > budget_high)) ||
                   (before == step + 1 && end < budget_low);
    if (at_point || off_band) {
        while (T->budget_next < BUDGET_POINTS && frac >= budget_points[T->budget_next])
            T->budget_next++;
        /* at a point: the steps since the last plan, unless they are fewer than the recent
         * ones (a plan that was just made); these, when they left the band */
        TrainTimePlan p = recent;
        if (!off_band && T->since_plan.count >= BUDGET_RECENT)
            trainer_budget_plan(T, elapsed, &T->since_plan, &p);
        trainer_budget_set_total(T, trainer_plan_total(&p));
        T->since_plan = (StepTimes){0};
        ls_log_info("time budget: %.1f %% of %.1f s used at step %lld, the schedule of %lld "
                    "steps would end at %.1f %%; now %lld steps", 100 * frac, T->budget_s,
                    (long long)step, (long long)before, 100 * end,
                    (long long)T->state.total_steps);
        return;
    }
    recent.left_s = T->budget_s - elapsed;
    if (before > step + 1 && plan_cost(&recent, 1) > recent.left_s) {
        trainer_budget_set_total(T, step + 1);
        ls_log_info("time budget: %.1f of %.1f s used at step %lld; the next step is the last "
                    "(the schedule was %lld steps)", elapsed, T->budget_s, (long long)step,
                    (long long)before);
    }
}

static int trainer_count_steps(Trainer *T) {
    const TrainOptions *opt = T->opt;
    if (opt->steps > 0) {
        T->state.total_steps = opt->steps;
        return 0;
    }
    if (opt->epochs > 0) {
        int64_t total = 0;
        for (int64_t e = 0; e < opt->epochs; e++) {
            int64_t n;
            int status = trainer_epoch_batches(T, e, &n);
            if (status < 0) return status;
            total += n;
        }
        T->state.total_steps = total;
        return 0;
    }
    int status = trainer_estimate_steps(T, &T->state.total_steps);
    if (status < 0 || !T->comm) return status;
    /* each rank timed its own trial steps; the schedule is rank 0's */
    double total = T->rank == 0 ? (double)T->state.total_steps : 0;
    if ((status = comm_allreduce_host(T->comm, &total, 1)) < 0) return status;
    T->state.total_steps = (int64_t)total;
    return 0;
}

static void trainer_build_table(Trainer *T, const char *argv_note) {
    const TrainOptions *opt = T->opt;
    const ModelConfig *cfg = &T->cfg;
    ConfigTable *t = &T->table;
    char buf[256];
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; i < opt->train.n_sources && at < sizeof buf; i++)
        at += (size_t)snprintf(buf + at, sizeof buf - at, "%s%s", i ? " " : "",
                               opt->train.sources[i]);
    config_table_add(t, 1, "task", "%s", cfg->task == MODEL_TASK_LM ? "lm" : "classify");
    config_table_add(t, 1, "model", "%s", model_arch_name(cfg->arch));
    if (opt->train.n_sources) config_table_add(t, 1, "data", "%s", buf);
    at = 0;
    buf[0] = '\0';
    for (int i = 0; i < opt->train.n_classes && at < sizeof buf; i++)
        at += (size_t)snprintf(buf + at, sizeof buf - at, "%s%s", i ? " " : "",
                               opt->train.classes[i]);
    if (opt->train.n_classes) config_table_add(t, 1, "class", "%s", buf);
    if (opt->train.labels) config_table_add(t, 1, "labels", "%s", opt->train.labels);
    at = 0;
    buf[0] = '\0';
    for (int i = 0; i < opt->valid.n_sources && at < sizeof buf; i++)
        at += (size_t)snprintf(buf + at, sizeof buf - at, "%s%s", i ? " " : "",
                               opt->valid.sources[i]);
    if (opt->valid.n_sources) config_table_add(t, 1, "valid", "%s", buf);
    if (opt->valid.labels) config_table_add(t, 1, "valid_labels", "%s", opt->valid.labels);
    if (!opt->valid.n_sources && opt->valid_fraction > 0)
        config_table_add(t, 1, "valid_fraction", "%g", opt->valid_fraction);
    DatasetStats st;
    dataset_stats(T->train_ds, T->train_idx, T->n_train, &st, NULL);
    config_table_add(t, 1, "train_examples", "%lld (%lld %s, %lld..%lld each)",
                     (long long)st.count, (long long)st.total,
                     T->data.kind == EXAMPLE_AUDIO   ? "samples"
                     : T->data.kind == EXAMPLE_SYNTH ? "tokens"
                                                     : "bases",
                     (long long)st.min_length, (long long)st.max_length);
    config_table_add(t, 1, "valid_examples", "%lld", (long long)T->n_valid);
    if (cfg->task == MODEL_TASK_CLASSIFY)
        config_table_add(t, 1, "classes", "%s",
                         label_map_describe(dataset_labels(T->train_ds), buf, sizeof buf));
    if (T->data.kind == EXAMPLE_SYNTH) {
        config_table_add(t, 1, "input", "synthetic task ids (vocab %lld), scored on targets",
                         (long long)cfg->vocab);
    } else if (T->data.kind == EXAMPLE_DNA) {
        config_table_add(t, 1, "input", "DNA tokens (A C G T N)");
        config_table_add(t, 1, "softmask", "%s",
                         T->data.softmask == DNA_SOFTMASK_AS_N ? "n" : "upper");
    } else {
        if (T->data.audio_codes == AUDIO_CODES_NONE)
            config_table_add(t, 1, "input", "audio waveform, frames of %lld samples",
                             (long long)cfg->frame);
        else
            config_table_add(t, 1, "input", "audio %s codes",
                             checkpoint_audio_codes_name(T->data.audio_codes));
        config_table_add(t, 1, "sample_rate", "%d", T->data.sample_rate);
    }
    config_table_add(t, 1, "d_model", "%lld", (long long)cfg->d_model);
    config_table_add(t, 1, "layers", "%lld", (long long)cfg->n_layers);
    if (cfg->arch == MODEL_TRANSFORMER || cfg->arch == MODEL_HYBRID) {
        const int64_t F = T->model ? model_config(T->model)->mlp_hidden : cfg->mlp_hidden;
        config_table_add(t, 1, "mlp_hidden", "%lld%s", (long long)F,
                         F ? "" : " (no MLP: attention-only blocks)");
    }
    if (cfg->arch == MODEL_TRANSFORMER) {
        config_table_add(t, 1, "heads", "%lld", (long long)cfg->n_heads);
        config_table_add(t, 1, "window", "%lld%s", (long long)cfg->window,
                         cfg->window ? "" : " (no limit)");
    } else if (cfg->arch == MODEL_HYBRID) {
        size_t at = 0;
        buf[0] = '\0';
        for (int64_t i = 0; i < cfg->n_layers && at < sizeof buf; i++)
            if (model_layer_is_attention(cfg, i))
                at += (size_t)snprintf(buf + at, sizeof buf - at, "%s%lld", at ? "," : "",
                                       (long long)i);
        config_table_add(t, 1, "attn_layers", "%s", buf);
        config_table_add(t, 1, "heads", "%lld", (long long)cfg->n_heads);
        config_table_add(t, 1, "d_state", "%lld", (long long)cfg->d_state);
        config_table_add(t, 1, "expand", "%lld", (long long)cfg->expand);
    } else {
        config_table_add(t, 1, "d_state", "%lld", (long long)cfg->d_state);
        config_table_add(t, 1, "expand", "%lld", (long long)cfg->expand);
        if (cfg->rc_equivariant) config_table_add(t, 1, "rc_equivariant", "yes");
    }
    if (cfg->task == MODEL_TASK_CLASSIFY)
        config_table_add(t, 1, "pool", "%s", cfg->pool == MODEL_POOL_LAST ? "last"
                                              : cfg->pool == MODEL_POOL_FIRST ? "first"
                                                                              : "mean");
    config_table_add(t, 1, "norm", "%s", cfg->norm == MODEL_NORM_LAYER ? "layer" : "rms");
    config_table_add(t, 0, "parameters", "%lld", (long long)model_param_table(T->model)->numel);
    if (opt->seq_len > 0) {
        config_table_add(t, 1, "seq_len", "%lld (random windows%s)", (long long)opt->seq_len,
                         opt->balanced ? ", label-balanced" : "");
        config_table_add(t, 1, "batch_size", "%lld windows", (long long)T->window_rows);
    } else {
        config_table_add(t, 1, "seq_len", "whole sequences");
        config_table_add(t, 1, "batch_size", "%lld", (long long)opt->batch_size);
        config_table_add(t, 1, "max_tokens", "%lld%s", (long long)opt->max_tokens,
                         opt->max_tokens ? "" : " (no limit)");
    }
    if (opt->pack) config_table_add(t, 1, "pack", "sequences end to end in each batch's rows");
    if (augment_any(&opt->augment)) {
        augment_describe(&opt->augment, buf, sizeof buf);
        config_table_add(t, 1, "augment", "%s", buf);
    }
    if (opt->no_bucket) config_table_add(t, 1, "bucket", "no (random batches)");
    if (opt->steps > 0) config_table_add(t, 1, "steps", "%lld", (long long)opt->steps);
    else if (opt->epochs > 0)
        config_table_add(t, 1, "epochs", "%lld (%lld steps)", (long long)opt->epochs,
                         (long long)T->state.total_steps);
    else config_table_add(t, 0, "steps", "%lld (first estimate for %g minutes; planned "
                          "again as it runs)", (long long)T->state.total_steps, opt->minutes);
    if (opt->minutes > 0) config_table_add(t, 0, "minutes", "%g", opt->minutes);
    config_table_add(t, 1, "lr", "%g", opt->lr);
    config_table_add(t, 1, "min_lr", "%g", T->min_lr);
    /* --minutes alone plans the length again, and the default warm-up with it */
    if (opt->warmup < 0 && trainer_by_minutes(opt))
        config_table_add(t, 1, "warmup", "5 %% of the steps");
    else config_table_add(t, 1, "warmup", "%lld", (long long)T->warmup);
    config_table_add(t, 1, "weight_decay", "%g", opt->weight_decay);
    /* recorded only when on: runs without dropout keep the record they always had, so
     * their checkpoints and states, older ones included, resume as before */
    if (opt->dropout > 0)
        config_table_add(t, 1, "dropout", "%g (block outputs%s)", opt->dropout,
                         cfg->task == MODEL_TASK_CLASSIFY ? ", pooled features" : "");
    else config_table_add(t, 0, "dropout", "0 (none)");
    /* not recorded: it changes memory and time, never a result (the same bytes as K = 1) */
    if (opt->grad_checkpoint > 1)
        config_table_add(t, 0, "grad_checkpoint", "every %lld layer inputs kept, the others "
                         "recomputed in the backward", (long long)opt->grad_checkpoint);
    config_table_add(t, 1, "clip", "%g", opt->clip);
    config_table_add(t, 1, "betas", "%g, %g", opt->beta1, opt->beta2);
    config_table_add(t, 1, "eps", "%g", opt->eps);
    config_table_add(t, 1, "seed", "%llu", (unsigned long long)opt->common.seed);
    config_table_add(t, 0, "device", "%s", opt->common.device_desc);
    if (T->sp_exchange) {
        config_table_add(t, 0, "sequence_parallel", "%d ranks (%s), slice r of every row on "
                         "rank r, held by rank r alone", T->size,
                         comm_backend(T->comm) == COMM_BACKEND_NCCL ? "NCCL" : "CPU processes");
    } else if (T->comm) {
        const int64_t rows = T->sampler ? T->window_rows : opt->batch_size;
        config_table_add(t, 0, "data_parallel", "%d ranks (%s), %lld of the %lld rows of a "
                         "batch each", T->size, comm_backend(T->comm) == COMM_BACKEND_NCCL
                         ? (opt->gpus > 0 ? "one GPU each, NCCL" : "mpirun, NCCL")
                         : "CPU processes", (long long)((rows + T->size - 1) / T->size),
                         (long long)rows);
    }
    config_table_add(t, 0, "precision", "%s", opt->common.dtype == DTYPE_BF16
                     ? "bf16 (activations, GEMMs; fp32 weights, optimizer, scan state)"
                     : "fp32");
    if (T->n_valid > 0) {
        if (opt->eval_every > 0)
            config_table_add(t, 0, "eval_every", "%lld steps", (long long)opt->eval_every);
        else config_table_add(t, 0, "eval_every", "epoch");
        config_table_add(t, 0, "best", "%s", T->best_path);
    }
    config_table_add(t, 0, "output", "%s", opt->common.output);
    config_table_add(t, 0, "state", "%s (%s)", T->state_path,
                     opt->save_every > 0 ? (snprintf(buf, sizeof buf, "every %lld steps",
                                                     (long long)opt->save_every), buf)
                                         : "at the end");
    if (opt->log_path) config_table_add(t, 0, "log", "%s", opt->log_path);
    if (argv_note) config_table_add(t, 0, "resumed", "%s", argv_note);
}

// ---------------------------------------------------------------------------- reporting

static void progress_clear(Trainer *T) {
    if (T->bar_shown) fputs("\r\033[K", stderr);
    T->bar_shown = 0;
}

static void progress_line(Trainer *T, int force) {
    if (!T->show) return;
    double t = now_s();
    int64_t step = T->state.step, total = T->state.total_steps;
    int64_t every = T->opt->print_every > 0 ? T->opt->print_every
                    : total >= 20 ? total / 20 : 1;
    if (T->bar) {
        if (!force && t - T->t_last_print < 0.1) return;
    } else if (!force && step % every != 0 && step != 1) {
        return;
    }
    double elapsed = t - T->t_start;
    int64_t done = step - T->step_at_start;
    double tok_s = elapsed > 0 ? (double)(T->state.tokens - T->tokens_at_start) / elapsed : 0;
    double eta = done > 0 ? elapsed / (double)done * (double)(total - step) : 0;
    double loss = T->loss_count ? T->loss_sum / (double)T->loss_count : 0;
    double lr = optim_lr_schedule(step, T->warmup, total, T->opt->lr, T->min_lr);
    /* the epoch of the step just taken (the position has already moved past an epoch end) */
    int64_t epoch = T->state.epoch_batch == 0 ? T->state.epoch : T->state.epoch + 1;
    char eta_text[32];
    format_duration(eta_text, sizeof eta_text, eta);
    if (T->bar) {
        char bar[21];
        int filled = total > 0 ? (int)(20 * step / total) : 20;
        for (int i = 0; i < 20; i++) bar[i] = i < filled ? '#' : '.';
        bar[20] = '\0';
        fprintf(stderr, "\r\033[K%3d%% [%s] %lld/%lld  loss %.4f  lr %.2e  %.0f tok/s  ETA %s",
                total > 0 ? (int)(100 * step / total) : 100, bar, (long long)step,
                (long long)total, loss, lr, tok_s, eta_text);
        T->bar_shown = 1;
    } else {
        fprintf(stderr, "step %lld/%lld  epoch %lld  loss %.4f  lr %.2e  %.0f tok/s  ETA %s\n",
                (long long)step, (long long)total, (long long)epoch, loss, lr, tok_s, eta_text);
    }
    fflush(stderr);
    T->t_last_print = t;
    T->loss_sum = 0;
    T->loss_count = 0;
}

/* Peak GPU memory held by this process so far, in GiB (0 on the CPU). */
static double peak_gpu_gib(const Trainer *T) {
    size_t peak = 0;
    if (T->opt->common.device.kind == DEVICE_CUDA) device_cuda_memory(NULL, &peak);
    return (double)peak / (1024.0 * 1024.0 * 1024.0);
}

static void log_row(Trainer *T, double loss, double lr, double grad_norm, int64_t tokens,
                    double step_s, const EvalResult *valid) {
    if (!T->log) return;
    fprintf(T->log, "%lld,%lld,%.6f,%.6e,%.6f,%lld,%.1f,%.3f",
            (long long)T->state.step, (long long)T->state.epoch, loss, lr, grad_norm,
            (long long)tokens, step_s > 0 ? (double)tokens / step_s : 0.0,
            T->state.elapsed_s + (now_s() - T->t_start));
    if (valid && valid->task == MODEL_TASK_CLASSIFY)
        fprintf(T->log, ",%.6f,%.6f,%.6f,%.6f,", valid->loss, valid->accuracy,
                valid->macro_f1, valid->mcc);
    else if (valid)
        fprintf(T->log, ",%.6f,%.6f,,,%.6f", valid->loss, valid->accuracy,
                metrics_bits_per_token(&valid->nll));
    else fputs(",,,,,", T->log);
    /* the GPU's peak memory so far (empty on the CPU) */
    if (T->opt->common.device.kind == DEVICE_CUDA) fprintf(T->log, ",%.3f\n", peak_gpu_gib(T));
    else fputs(",\n", T->log);
    fflush(T->log);
}

static int trainer_progress_json(Trainer *T, const EvalResult *valid, char **json) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return ls_error(LS_ERR_NOMEM, "out of memory");
    cJSON_AddNumberToObject(o, "step", (double)T->state.step);
    cJSON_AddNumberToObject(o, "total_steps", (double)T->state.total_steps);
    cJSON_AddNumberToObject(o, "epoch", (double)T->state.epoch);
    cJSON_AddNumberToObject(o, "tokens", (double)T->state.tokens);
    if (valid) {
        cJSON_AddNumberToObject(o, "valid_loss", valid->loss);
        if (valid->task == MODEL_TASK_CLASSIFY) {
            cJSON_AddNumberToObject(o, "valid_accuracy", valid->accuracy);
            cJSON_AddNumberToObject(o, "valid_macro_f1", valid->macro_f1);
            cJSON_AddNumberToObject(o, "valid_mcc", valid->mcc);
        } else {
            cJSON_AddNumberToObject(o, "valid_bits_per_token",
                                    metrics_bits_per_token(&valid->nll));
            cJSON_AddNumberToObject(o, "valid_accuracy", valid->accuracy);
        }
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    *json = text ? strdup(text) : NULL;
    cJSON_free(text);
    return *json ? 0 : ls_error(LS_ERR_NOMEM, "out of memory");
}

static int trainer_save_model(Trainer *T, const char *path, const EvalResult *valid) {
    char *progress = NULL;
    int status = trainer_progress_json(T, valid, &progress);
    if (status < 0) return status;
    const LabelMap *labels =
        T->cfg.task == MODEL_TASK_CLASSIFY ? dataset_labels(T->train_ds) : NULL;
    status = checkpoint_save(T->model, path, labels, &T->data, T->training_json, progress);
    free(progress);
    return status;
}

/* The state first, then the model: a write that fails (a full disk) can leave the state of
 * step N beside the model of an earlier step, from which --resume continues, but never a
 * model of step N without the state that continues it. */
static int trainer_save_all(Trainer *T, const char *argv_json) {
    if (T->sampler) rng_get_state(window_sampler_rng(T->sampler), T->state.rng_sampler);
    rng_get_state(&T->crop_rng, T->state.rng_crop);
    TrainState st = T->state;
    st.elapsed_s += now_s() - T->t_start;
    int status = checkpoint_state_save(T->state_path, T->model, &st, T->training_json,
                                       argv_json);
    if (status < 0) return status;
    return trainer_save_model(T, T->opt->common.output, NULL);
}

static int trainer_validate(Trainer *T, EvalResult *res) {
    InferOptions io = {.batch_size = T->opt->batch_size, .max_tokens = T->opt->max_tokens,
                       .output = INFER_LOGITS, .batch = T->batch_opt, .pack = T->opt->pack};
    int status = infer_evaluate(T->model, T->vds, T->valid_items, T->n_valid_items, &io, res);
    if (status < 0) ls_error_prefix("validation at step %lld", (long long)T->state.step);
    return status;
}

static int trainer_after_validation(Trainer *T, const EvalResult *res) {
    int best = res->loss < T->state.best_valid_loss;
    if (best) {
        T->state.best_valid_loss = res->loss;
        T->state.best_step = T->state.step;
        int status = trainer_save_model(T, T->best_path, res);
        if (status < 0) return status;
    }
    if (!T->show) return 0;
    progress_clear(T);
    if (res->task == MODEL_TASK_CLASSIFY)
        fprintf(stderr, "valid step %lld: loss %.4f  accuracy %.4f  macro-F1 %.4f  MCC %.4f%s\n",
                (long long)T->state.step, res->loss, res->accuracy, res->macro_f1, res->mcc,
                best ? "  (best)" : "");
    else
        fprintf(stderr, "valid step %lld: %.4f bits/token  perplexity %.3f  accuracy %.4f%s\n",
                (long long)T->state.step, metrics_bits_per_token(&res->nll),
                metrics_perplexity(&res->nll), res->accuracy, best ? "  (best)" : "");
    return 0;
}

/* The data of a resumed run must be the data it started with: same counts and lengths are
 * checked with the configuration (the 'training' record); this catches edited bases, samples
 * and labels. A state written before digests were recorded is resumed with a warning. */
static int trainer_check_digest(const Trainer *T, uint64_t now, const char *resume_path) {
    if (!T->state.has_data_digest) {
        ls_log_warn("%s: written without a data digest; cannot check that the data are those "
                    "of that run", resume_path);
        return 0;
    }
    if (T->state.data_digest == now) return 0;
    return ls_error(LS_ERR_USAGE, "--resume %s: the training or validation data differ from "
                    "that run's (data digest %016llx then, %016llx now: the same examples and "
                    "lengths, but other bases, samples or labels); resume with the data the run "
                    "started with, or start a new run", resume_path,
                    (unsigned long long)T->state.data_digest, (unsigned long long)now);
}

static void trainer_free(Trainer *T) {
    // the backward's callback points into T: unhook it while the model still exists
    if (T->model) model_set_grad_ready(T->model, NULL, NULL);
    dataset_free(T->train_ds);
    dataset_free(T->valid_ds);
    free(T->train_idx);
    free(T->valid_idx);
    model_free(T->model);
    augment_free(T->augment);
    free(T->items);
    batch_plan_free(&T->plan);
    window_sampler_free(T->sampler);
    free(T->rows);
    free(T->valid_items);
    batch_free(&T->batch);
    packed_batch_free(&T->packed);
    free(T->logits);
    free(T->training_json);
    free(T->state_path);
    free(T->best_path);
    free(T->bucket_lo);
    slice_exchange_comm_free(T->sp_exchange);
    free(T->bucket_hi);
    free(T->targets);
    if (T->log) fclose(T->log);
}

// ---------------------------------------------------------------------------- the run

int trainer_run(const TrainOptions *opt, const char *argv_json) {
    Trainer T_ = {0}, *T = &T_;
    T->opt = opt;
    T->plan_epoch = -1;
    T->state.best_valid_loss = INFINITY;
    T->state.best_step = -1;
    char *resume_path = NULL, *resume_training = NULL;
    struct sigaction old_int, old_term;
    int signals_set = 0;
    T->t_origin = now_s();
    /* --minutes alone: the run's length follows the clock (a time cap otherwise) */
    T->budget_on = trainer_by_minutes(opt);
    T->budget_s = opt->minutes * 60;
    T->comm = opt->comm;
    T->rank = T->comm ? comm_rank(T->comm) : 0;
    T->size = T->comm ? comm_size(T->comm) : 1;
    int status = 0;
    if (opt->common.output && strcmp(opt->common.output, "-") != 0) {
        T->state_path = checkpoint_state_path(opt->common.output);
        T->best_path = checkpoint_best_path(opt->common.output);
        if (!T->state_path || !T->best_path) {
            status = ls_error(LS_ERR_NOMEM, "out of memory");
            goto fail;
        }
    }
    /* (rank 0 alone writes; a failure there stops the other ranks at their first exchange) */
    if (T->rank == 0 && (status = trainer_check_outputs(T)) < 0) goto fail;
    if (opt->resume) {
        resume_path = checkpoint_state_path(opt->resume);
        if (!resume_path) {
            status = ls_error(LS_ERR_NOMEM, "out of memory");
            goto fail;
        }
        status = checkpoint_state_peek(resume_path, NULL, &resume_training);
        if (status < 0) goto fail;
    }
    if ((status = trainer_load_data(T)) < 0) goto fail;
    {   /* outputs that are files read through a directory or manifest */
        CliPath out[4];
        int n_out = trainer_outputs(T, out);
        if ((status = infer_check_outputs_not_data(T->train_ds, out, n_out)) < 0 ||
            (T->valid_ds && (status = infer_check_outputs_not_data(T->valid_ds, out, n_out)) < 0))
            goto fail;
    }
    /* what the run reads, in order: recorded in the state so --resume can tell edited data */
    uint64_t data_digest = dataset_digest(T->train_ds, T->train_idx, T->n_train, 0);
    data_digest = dataset_digest(T->vds, T->valid_idx, T->n_valid, data_digest);
    if ((status = trainer_model_config(T)) < 0) goto fail;
    if ((status = trainer_augment_init(T)) < 0) goto fail;
    status = model_init(&T->model, &T->cfg, &opt->common.device, opt->common.seed);
    /* every rank initialises from the same seed; rank 0's weights are given to all anyway, so
     * that nothing but the arithmetic of the step can make the ranks differ */
    if (status == 0 && T->comm)
        status = comm_broadcast(T->comm, model_params(T->model),
                                model_param_table(T->model)->total, 0);
    if (status == 0 && T->comm && opt->seq_parallel) {
        /* one slice a rank: the exchange over this communicator */
        if (model_attention_layers(&T->cfg) > 0)
            status = ls_error(LS_ERR_UNSUPPORTED, "--seq-parallel: a %s model has attention "
                              "layers, which sequence parallelism does not cut (mamba and "
                              "bimamba only)", model_arch_name(T->cfg.arch));
        if (status == 0) status = model_set_seq_slices(T->model, T->size);
        if (status == 0) status = slice_exchange_comm_init(&T->sp_exchange, T->comm);
        if (status == 0) model_set_slice_exchange(T->model, T->sp_exchange);
    }
    if (status == 0) status = model_set_precision(T->model, opt->common.dtype);
    /* each rank draws its own dropout masks (rank 0 those of a plain run): the same masks on
     * every rank would drop the same places of their rows together; sequence parallel: the
     * same masks everywhere (the ranks hold pieces of the same rows) */
    if (status == 0)
        status = model_set_dropout(T->model, opt->dropout,
                                   T->rank == 0 || T->sp_exchange ? opt->common.seed
                                                : rng_mix64(opt->common.seed ^
                                                            (0xD1B54A32D192ED03ull *
                                                             (uint64_t)T->rank)));
    if (status == 0) status = model_set_grad_checkpoint(T->model, opt->grad_checkpoint);
    if (status == 0 && T->comm) status = trainer_dp_buckets(T);
    if (status < 0) goto fail;
    T->adamw = (AdamWConfig){opt->beta1, opt->beta2, opt->eps, opt->weight_decay};
    T->min_lr = opt->min_lr >= 0 ? opt->min_lr : opt->lr / 10;
    if ((status = trainer_prepare_order(T)) < 0) goto fail;
    if (resume_path) {
        status = checkpoint_state_load(resume_path, T->model, &T->state);
        if (status < 0) goto fail;
        if ((T->sampler &&
             rng_set_state(window_sampler_rng(T->sampler), T->state.rng_sampler) < 0) ||
            rng_set_state(&T->crop_rng, T->state.rng_crop) < 0) {
            status = ls_error(LS_ERR_FORMAT, "%s: a random generator state is all zero",
                              resume_path);
            goto fail;
        }
        /* a resumed --minutes run plans the rest of its schedule in what is left of M */
        T->budget_s -= T->state.elapsed_s;
        if (T->budget_on && T->budget_s <= 0) {
            T->budget_on = 0;
            ls_log_info("--minutes %g: the budget was used before; finishing the schedule "
                        "(%lld steps)", opt->minutes, (long long)T->state.total_steps);
        }
    } else {
        if ((status = trainer_count_steps(T)) < 0) goto fail;
    }
    T->warmup = opt->warmup >= 0 ? opt->warmup : T->state.total_steps / 20;
    trainer_build_table(T, resume_path);
    if ((status = config_table_to_json(&T->table, &T->training_json)) < 0) goto fail;
    if (resume_path &&
        (status = config_json_compare(resume_training, T->training_json, resume_path)) < 0)
        goto fail;
    if (resume_path && (status = trainer_check_digest(T, data_digest, resume_path)) < 0)
        goto fail;
    T->state.data_digest = data_digest;
    if (opt->log_path && T->rank == 0) {
        T->log = fopen(opt->log_path, resume_path ? "a" : "w");
        if (!T->log) {
            status = ls_error(LS_ERR_IO, "--log %s: cannot create: %s", opt->log_path,
                              strerror(errno));
            goto fail;
        }
        if (ftell(T->log) == 0)
            fputs("step,epoch,loss,lr,grad_norm,tokens,tokens_per_s,elapsed_s,valid_loss,"
                  "valid_accuracy,valid_macro_f1,valid_mcc,valid_bits_per_token,peak_gpu_gib\n",
                  T->log);
    }
    T->show = opt->common.verbosity >= 1 && T->rank == 0;
    if (T->state.step >= T->state.total_steps) {
        if (T->show)
            fprintf(stderr, "%s: the run had already finished at step %lld; nothing to do\n",
                    resume_path, (long long)T->state.step);
        goto fail; /* status 0: nothing written */
    }
    T->bar = opt->progress == 1 || (opt->progress < 0 && cli_stderr_is_tty());
    if (T->show) {
        fflush(stdout);
        config_table_print(&T->table, stderr);
        if (resume_path)
            fprintf(stderr, "resuming at step %lld of %lld (epoch %lld)\n",
                    (long long)T->state.step, (long long)T->state.total_steps,
                    (long long)T->state.epoch + 1);
    }

    /* the loop */
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    stop_signal = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    signals_set = 1;
    T->t_start = now_s();
    T->t_last_print = 0;
    T->step_at_start = T->state.step;
    T->tokens_at_start = T->state.tokens;
    int stopped = 0; /* 1 --stop-after, 2 signal, 3 time limit */
    /* a time cap: --minutes with --steps or --epochs, for each session */
    int capped = opt->minutes > 0 && !trainer_by_minutes(opt);
    /* the time planning measures whole iterations, start to start (step, log, progress,
     * bookkeeping), less their validation and save, which it counts apart */
    double prev_t0 = 0, prev_apart = 0, prev_padded = 0;
    while (T->state.step < T->state.total_steps) {
        int64_t n_rows, tokens, epoch_batches;
        double loss = 0, grad_norm = 0, lr = 0, t0 = now_s();
        if (T->state.step > T->step_at_start) {
            trainer_budget_measure(T, t0 - prev_t0 - prev_apart, prev_padded);
            trainer_budget_between_steps(T, t0 - T->t_origin);
        }
        prev_t0 = t0;
        prev_apart = 0;
        if ((status = trainer_epoch_batches(T, T->state.epoch, &epoch_batches)) < 0 ||
            (status = trainer_next_rows(T, &n_rows)) < 0 ||
            (status = trainer_step(T, n_rows, &loss, &grad_norm, &lr, &tokens)) < 0)
            goto fail;
        prev_padded = (double)(T->batch.B * T->batch.L);
        int epoch_end = trainer_advance(T, epoch_batches);
        T->loss_sum += loss;
        T->loss_count++;
        int64_t step = T->state.step;
        int last = step == T->state.total_steps;
        EvalResult valid = {0};
        int validated = 0;
        /* validation and checkpoints: rank 0 alone (the others go on to the next step and
         * wait for it in its gradient exchange) */
        if (T->n_valid_items > 0 && T->rank == 0 &&
            (last || (opt->eval_every > 0 ? step % opt->eval_every == 0 : epoch_end))) {
            progress_line(T, 1);
            double tv = now_s();
            /* rank 0 alone: the slices in-process (the others are not in this forward) */
            if (T->sp_exchange) model_set_slice_exchange(T->model, NULL);
            status = trainer_validate(T, &valid);
            if (T->sp_exchange) model_set_slice_exchange(T->model, T->sp_exchange);
            if (status < 0) goto fail;
            tv = now_s() - tv;
            T->valid_time += tv;
            T->valid_count++;
            prev_apart += tv;
            validated = 1;
            status = trainer_after_validation(T, &valid);
        }
        log_row(T, loss, lr, grad_norm, tokens, now_s() - t0, validated ? &valid : NULL);
        infer_result_free(&valid);
        if (status < 0) goto fail;
        if (!validated) progress_line(T, last);
        /* data parallel: as the ranks agreed in the step's exchange */
        if (opt->stop_after > 0 && step >= opt->stop_after && !last) stopped = 1;
        else if (T->comm ? T->dp_signal : stop_signal) stopped = 2;
        else if (capped && !last &&
                 (T->comm ? T->dp_time_up : now_s() - T->t_origin >= opt->minutes * 60))
            stopped = 3;
        if (T->rank == 0 &&
            (last || stopped || (opt->save_every > 0 && step % opt->save_every == 0))) {
            double ts = now_s();
            if ((status = trainer_save_all(T, argv_json)) < 0) goto fail;
            ts = now_s() - ts;
            T->save_time += ts;
            T->save_count++;
            prev_apart += ts;
        }
        if (stopped) break;
    }
    if (stopped) progress_clear(T);
    else if (T->bar_shown) fputc('\n', stderr); /* keep the finished bar */
    T->bar_shown = 0;
    double elapsed = now_s() - T->t_start;
    char took[32];
    format_duration(took, sizeof took, elapsed);
    if (T->show && !stopped) {
        fprintf(stderr, "trained %lld steps in %s (%.0f tokens/s); wrote %s and %s",
                (long long)(T->state.step - T->step_at_start), took,
                elapsed > 0 ? (double)(T->state.tokens - T->tokens_at_start) / elapsed : 0.0,
                opt->common.output, T->state_path);
        if (T->state.best_step >= 0)
            fprintf(stderr, "; best validation loss %.4f at step %lld in %s",
                    T->state.best_valid_loss, (long long)T->state.best_step, T->best_path);
        if (opt->common.device.kind == DEVICE_CUDA)
            fprintf(stderr, "; peak GPU memory %.2f GiB", peak_gpu_gib(T));
        /* per rank: a sequence-parallel rank plans only its slice of the rows; with
         * --grad-checkpoint the fall from keeping fewer layer inputs */
        if (T->comm || opt->grad_checkpoint > 1)
            fprintf(stderr, "; activation arena %zu bytes%s", model_activation_bytes(T->model),
                    T->comm ? " on rank 0" : "");
        if (opt->pack && T->pos_padded > 0)
            fprintf(stderr, "; packed: %lld positions run, %lld padded (%.1f %%)",
                    (long long)T->pos_run, (long long)T->pos_padded,
                    100.0 * (double)T->pos_run / (double)T->pos_padded);
        fputc('\n', stderr);
    } else if (stopped && opt->common.verbosity >= 1 && T->rank == 0) {
        static const char *const why[] = {"", "as asked (--stop-after)", "by a signal",
                                          "at the time limit (--minutes)"};
        fprintf(stderr, "stopped %s at step %lld of %lld; wrote %s and %s; continue with "
                "'longscan train --resume %s'\n", why[stopped], (long long)T->state.step,
                (long long)T->state.total_steps, opt->common.output, T->state_path,
                T->state_path);
    }
    if (stopped == 2) status = 130;
fail:
    if (signals_set) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
    }
    if (status < 0) progress_clear(T);
    free(resume_path);
    free(resume_training);
    trainer_free(T);
    return status;
}
