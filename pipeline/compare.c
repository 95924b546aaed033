/*
 * compare.c — `longscan compare`: train and evaluate a grid of (experiment × length × model)
 * at matched parameter counts within one time budget, and write what came out: a CSV of
 * every measurement, gnuplot plots, and a Markdown report that sets our numbers beside the
 * essays' claims (Zoology's MQAR table, the Mamba paper's induction-heads extrapolation)
 * with agree / disagree stated per claim.
 *
 * Experiments (docs/synth.md for the tasks):
 *   mqar       MQAR accuracy against sequence length: per length, each model trains on
 *              synth:mqar at that length and is tested on a fresh seed at the same length.
 *   induction  induction heads: each model trains at --train-len (and --mix-len), is
 *              tested on --n-eval examples at every --eval-lengths (the Transformer's
 *              window covers the longest); --induction-vocab, and --mamba-d-model /
 *              --mamba-layers for the Mamba paper's model instead of the matched one.
 *   recall     recall against distance: trained on random distances at --train-len, tested
 *              at each --distances.
 *   dstate     Mamba's quality dial: MQAR at the first --lengths for each --d-states.
 *   speed      inference against length (the crossover): tokens per second of a forward over
 *              L tokens that predicts the next one, its activation memory (the model's
 *              plan), and the state a model keeps per sequence to go on generating (the KV
 *              cache of attention layers, the conv and SSM state of Mamba layers). Untrained
 *              models: speed and memory do not depend on the weights.
 *   data       the same models on the user's own --data/--valid (any source train reads).
 * Models: transformer (--layers, --d-model: the reference size; attention-only blocks by
 * default, --mlp-hidden 0, as the Transformer of Zoology's MQAR table), mamba (2·--layers layers:
 * a Mamba layer has about half a Transformer block's parameters), hybrid (2·--layers layers,
 * one attention block in the middle of each 4). The Mamba and hybrid widths are chosen so
 * that their backbone parameters (everything but the embedding and the head, which depend on
 * the vocabulary alone) come closest to the Transformer's; the CSV records each count.
 * Each cell trains with `train --minutes` = --minutes / cells (the trainer's estimate of
 * the steps that fit), or `train --steps` = --steps, through the same training loop as
 * `longscan train`.
 *
 * Tested by tests/cli/compare.tst (a grid of seconds: files, rows, the report's verdicts,
 * the plot step with and without gnuplot, bad options).
 */
#include <errno.h>
#include <omp.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "io/rng.h"
#include "io/safetensors.h"
#include "io/synth.h"
#include "pipeline/checkpoint.h"
#include "pipeline/cli.h"
#include "pipeline/commands.h"
#include "pipeline/infer.h"
#include "pipeline/plot.h"
#include "pipeline/trainer.h"

enum {
    OPT_EXPERIMENTS = CLI_OPT_FIRST_COMMAND_OPTION,
    OPT_MODELS, OPT_LENGTHS, OPT_PAIRS, OPT_VOCAB, OPT_TRAIN_LEN, OPT_EVAL_LENGTHS,
    OPT_DISTANCES, OPT_D_STATES, OPT_D_MODEL, OPT_LAYERS, OPT_HEADS, OPT_MINUTES,
    OPT_BATCH_SIZE, OPT_LR, OPT_N_TRAIN, OPT_N_EVAL, OPT_DATA, OPT_VALID, OPT_LABELS, OPT_TASK,
    OPT_SPEED_LENGTHS, OPT_MLP_HIDDEN, OPT_INDUCTION_VOCAB, OPT_STEPS, OPT_MAMBA_D_MODEL,
    OPT_MAMBA_LAYERS, OPT_WEIGHT_DECAY, OPT_MIN_LR, OPT_WARMUP, OPT_MIX_LEN,
};

#define MAX_LIST 32

typedef enum {
    EXP_MQAR = 0, EXP_INDUCTION, EXP_RECALL, EXP_DSTATE, EXP_SPEED, EXP_DATA, N_EXP
} Experiment;
static const char *const exp_names[N_EXP] = {"mqar",   "induction", "recall",
                                             "dstate", "speed",     "data"};

typedef struct {
    CommonOptions common;
    int           experiments[N_EXP];   /* 1: run it */
    int           models[3];            /* transformer, mamba, hybrid */
    int64_t       lengths[MAX_LIST], n_lengths;
    int64_t       eval_lengths[MAX_LIST], n_eval_lengths;
    int64_t       distances[MAX_LIST], n_distances;
    int64_t       d_states[MAX_LIST], n_d_states;
    int64_t       speed_lengths[MAX_LIST], n_speed_lengths;
    int64_t       pairs, vocab, train_len, d_model, layers, heads, batch_size, n_train, n_eval;
    int64_t       mlp_hidden;           /* attention blocks' MLP width; 0: none */
    int64_t       induction_vocab;      /* the induction experiment's vocabulary */
    int64_t       mix_len;              /* induction: also train at this length; 0: no */
    int64_t       mamba_d_model, mamba_layers; /* 0: matched to the Transformer */
    int64_t       steps;                /* > 0: optimizer steps per run instead of --minutes */
    int64_t       warmup;               /* -1: train's default (5 % of the steps) */
    double        minutes, lr, min_lr, weight_decay; /* min_lr < 0: lr / 10 */
    const char   *data[MAX_LIST], *valid[MAX_LIST];
    int           n_data, n_valid;
    const char   *labels;
    ModelTask     task;
} CompareOptions;

static const ModelArch model_arch[3] = {MODEL_TRANSFORMER, MODEL_MAMBA, MODEL_HYBRID};

/* One model of the grid: its architecture at its matched size. */
typedef struct {
    ModelArch arch;
    int64_t   d_model, layers, d_state;
    int64_t   params; /* backbone parameters */
} ModelChoice;

/* One training run and its evaluations. */
typedef struct {
    Experiment  exp;
    ModelChoice model;
    int64_t     x;                 /* the grid's variable: length, d_state; 0: none */
    char        train[256], valid[256];
    char        train_mix[256];    /* a second training input ("": none) */
    int64_t     window;            /* Transformer: the longest evaluation */
    /* results, one per evaluation */
    int64_t     n_evals;
    int64_t     eval_x[MAX_LIST];  /* length or distance of each evaluation */
    char        eval_spec[MAX_LIST][256];
    int64_t     eval_n[MAX_LIST];  /* examples of each evaluation */
    double      accuracy[MAX_LIST], loss[MAX_LIST];
    /* speed: per length, tokens per wall second and per CPU second, activation bytes of the
       forward, state bytes per sequence */
    double      tok_s[MAX_LIST], tok_cpu_s[MAX_LIST], act_bytes[MAX_LIST], state_bytes[MAX_LIST];
    int64_t     steps;
    double      seconds, cpu_seconds;  /* training: wall and process CPU time */
    double      test_cpu_seconds[MAX_LIST]; /* each evaluation, process CPU time */
    int         failed;            /* the cell's error is in message */
    char        message[512];
} Cell;

// ---------------------------------------------------------------------------- usage

static void usage(FILE *fp) {
    fprintf(fp,
"Usage: longscan compare [options] -o DIR\n"
"\n"
"Where attention still wins: train a Transformer, a Mamba and a hybrid at matched parameter\n"
"counts on synthetic tasks (or on your data) within one time budget, evaluate them, and\n"
"write DIR/results.csv, DIR/plots/ (gnuplot) and DIR/report.md, which puts the numbers\n"
"beside the essays' claims and says, claim by claim, whether they agree. Models are kept in\n"
"DIR/models/. Tasks: docs/synth.md.\n"
"\n"
"Experiments (--experiments LIST, default mqar,induction):\n"
"  mqar       MQAR accuracy against length: train and test (fresh seed) at each --lengths\n"
"  induction  induction heads trained at --train-len, tested at each --eval-lengths\n"
"  recall     recall accuracy against distance, trained at --train-len on random distances\n"
"  dstate     Mamba's d_state sweep (--d-states) on MQAR at the first of --lengths\n"
"  speed      inference against length (--speed-lengths): tokens/s of a forward over L\n"
"             tokens, its activation memory, the state kept per sequence to generate\n"
"             (KV cache or SSM state); untrained models, no training time\n"
"  data       the models on --data / --valid (any input 'longscan train' reads)\n"
"\n"
"Options:\n"
"  -o, --output DIR       where everything goes (created; required)\n"
"      --experiments LIST comma-separated, from the list above\n"
"      --models LIST      transformer,mamba,hybrid (default all three)\n"
"      --minutes M        training budget of the whole grid (default 10), split evenly\n"
"                         over the training runs; evaluation comes on top\n"
"      --steps N          instead of --minutes: every training run takes N optimizer\n"
"                         steps (the same training whatever the machine's load)\n"
"      --lengths LIST     MQAR lengths (default 128,256,512)\n"
"      --pairs N          MQAR key-value pairs (default 16)\n"
"      --vocab N          MQAR vocabulary (default 8192; recall uses 16)\n"
"      --induction-vocab N induction heads vocabulary (default 16, the Mamba paper's)\n"
"      --train-len N      induction and recall training length (default 256)\n"
"      --mix-len N        induction: train on as many examples of N tokens as of\n"
"                         --train-len (N <= --train-len; default: none): at 256 alone\n"
"                         the circuit forms slowly (the Mamba paper trained 204,800\n"
"                         steps); with 64 beside it, in a few thousand (docs/synth.md)\n"
"      --eval-lengths LIST induction test lengths (default 256,1024,4096,16384); each\n"
"                         has --n-eval examples (the Transformer's cost grows as L^2)\n"
"      --distances LIST   recall test distances (default 8 spread over --train-len)\n"
"      --d-states LIST    d_state sweep (default 8,16,64,256)\n"
"      --speed-lengths LIST  speed test lengths (default 256,1024,4096,16384)\n"
"      --d-model N        the Transformer's width (default 64); the others are matched\n"
"      --layers N         the Transformer's layers (default 2); Mamba and hybrid get 2N\n"
"      --mamba-d-model N, --mamba-layers N  the Mamba's width and layers instead of the\n"
"                         matched ones (the Mamba paper's induction model: 64 and 2)\n"
"      --heads N          attention heads (default 2)\n"
"      --mlp-hidden N     MLP width after each attention (the Transformer's blocks, the\n"
"                         hybrid's attention blocks); default 0: none, attention-only, as\n"
"                         the Transformer of Zoology's MQAR table (docs/synth.md says why)\n"
"      --batch-size N     training batch (default 32)\n"
"      --lr X             peak learning rate (default 3e-3)\n"
"      --min-lr X         final learning rate of the cosine decay (default lr/10; = lr:\n"
"                         constant)\n"
"      --warmup N         warm-up steps (default 5 %% of the steps)\n"
"      --weight-decay X   AdamW decay of weight matrices (default 0.1)\n"
"      --n-train N        training examples per task (default 100000; drawn on demand)\n"
"      --n-eval N         test examples per evaluation (default 500; induction: at every\n"
"                         test length)\n"
"      --data SEQS        experiment data: training input (repeatable)\n"
"      --valid SEQS       experiment data: test input (repeatable; required with --data)\n"
"      --labels TSV       experiment data: label table\n"
"      --task TASK        experiment data: classify or lm (default: lm for synth: data,\n"
"                         else classify)\n"
"      --threads N        CPU threads (default: all cores)\n"
"      --seed N           seed of training; tests use seed+1000 (default 1)\n"
"      --verbosity N      0 errors only, 1 one line per run (default), 2 training progress\n"
"  -h, --help             show this help and exit\n"
"\n"
"Example:\n"
"  longscan compare --experiments mqar,induction --lengths 128,256,512 --minutes 30 -o cmp\n");
}

// ---------------------------------------------------------------------------- parsing

static int parse_list(const char *option, const char *text, int64_t min, int64_t max,
                      int64_t *out, int64_t *n) {
    *n = 0;
    const char *p = text;
    for (;;) {
        char item[32];
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof item)
            return ls_error(LS_ERR_USAGE, "%s %s: expected comma-separated integers", option,
                            text);
        if (*n >= MAX_LIST)
            return ls_error(LS_ERR_USAGE, "%s %s: at most %d values", option, text, MAX_LIST);
        memcpy(item, p, len);
        item[len] = '\0';
        int status = cli_parse_int64(option, item, min, max, &out[(*n)++]);
        if (status < 0) return status;
        p += len;
        if (!*p) return 0;
        p++;
    }
}

static int parse_names(const char *option, const char *text, const char *const *names, int n,
                       int *on) {
    for (int i = 0; i < n; i++) on[i] = 0;
    const char *p = text;
    for (;;) {
        size_t len = strcspn(p, ",");
        int found = -1;
        for (int i = 0; i < n; i++)
            if (strlen(names[i]) == len && strncmp(p, names[i], len) == 0) found = i;
        if (found < 0) {
            char expected[160] = "";
            for (int i = 0; i < n; i++)
                snprintf(expected + strlen(expected), sizeof expected - strlen(expected), "%s%s",
                         i ? ", " : "", names[i]);
            return ls_error(LS_ERR_USAGE, "%s %s: unknown '%.*s' (expected %s)", option, text,
                            (int)len, p, expected);
        }
        on[found] = 1;
        p += len;
        if (!*p) return 0;
        p++;
    }
}

static void options_default(CompareOptions *o) {
    memset(o, 0, sizeof *o);
    cli_common_default(&o->common);
    o->experiments[EXP_MQAR] = o->experiments[EXP_INDUCTION] = 1;
    o->models[0] = o->models[1] = o->models[2] = 1;
    const int64_t lengths[] = {128, 256, 512}, eval_lengths[] = {256, 1024, 4096, 16384};
    const int64_t d_states[] = {8, 16, 64, 256}, speed_lengths[] = {256, 1024, 4096, 16384};
    memcpy(o->lengths, lengths, sizeof lengths);
    o->n_lengths = 3;
    memcpy(o->eval_lengths, eval_lengths, sizeof eval_lengths);
    o->n_eval_lengths = 4;
    memcpy(o->d_states, d_states, sizeof d_states);
    o->n_d_states = 4;
    memcpy(o->speed_lengths, speed_lengths, sizeof speed_lengths);
    o->n_speed_lengths = 4;
    o->mlp_hidden = 0;
    o->pairs = 16;
    o->vocab = 8192;
    o->train_len = 256;
    o->d_model = 64;
    o->layers = 2;
    o->heads = 2;
    o->batch_size = 32;
    o->n_train = 100000;
    o->n_eval = 500;
    o->minutes = 10;
    o->lr = 3e-3;
    o->min_lr = -1;
    o->warmup = -1;
    o->weight_decay = 0.1;
    o->induction_vocab = 16;
    o->task = (ModelTask)-1;
}

static int parse_args(int argc, char **argv, CompareOptions *o) {
    static const struct option long_options[] = {
        {"experiments", required_argument, NULL, OPT_EXPERIMENTS},
        {"models", required_argument, NULL, OPT_MODELS},
        {"lengths", required_argument, NULL, OPT_LENGTHS},
        {"pairs", required_argument, NULL, OPT_PAIRS},
        {"vocab", required_argument, NULL, OPT_VOCAB},
        {"train-len", required_argument, NULL, OPT_TRAIN_LEN},
        {"eval-lengths", required_argument, NULL, OPT_EVAL_LENGTHS},
        {"distances", required_argument, NULL, OPT_DISTANCES},
        {"d-states", required_argument, NULL, OPT_D_STATES},
        {"speed-lengths", required_argument, NULL, OPT_SPEED_LENGTHS},
        {"mlp-hidden", required_argument, NULL, OPT_MLP_HIDDEN},
        {"d-model", required_argument, NULL, OPT_D_MODEL},
        {"layers", required_argument, NULL, OPT_LAYERS},
        {"heads", required_argument, NULL, OPT_HEADS},
        {"minutes", required_argument, NULL, OPT_MINUTES},
        {"batch-size", required_argument, NULL, OPT_BATCH_SIZE},
        {"lr", required_argument, NULL, OPT_LR},
        {"n-train", required_argument, NULL, OPT_N_TRAIN},
        {"n-eval", required_argument, NULL, OPT_N_EVAL},
        {"data", required_argument, NULL, OPT_DATA},
        {"valid", required_argument, NULL, OPT_VALID},
        {"labels", required_argument, NULL, OPT_LABELS},
        {"task", required_argument, NULL, OPT_TASK},
        {"induction-vocab", required_argument, NULL, OPT_INDUCTION_VOCAB},
        {"steps", required_argument, NULL, OPT_STEPS},
        {"mamba-d-model", required_argument, NULL, OPT_MAMBA_D_MODEL},
        {"mamba-layers", required_argument, NULL, OPT_MAMBA_LAYERS},
        {"weight-decay", required_argument, NULL, OPT_WEIGHT_DECAY},
        {"min-lr", required_argument, NULL, OPT_MIN_LR},
        {"warmup", required_argument, NULL, OPT_WARMUP},
        {"mix-len", required_argument, NULL, OPT_MIX_LEN},
        CLI_COMMON_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    static const char *const model_names[3] = {"transformer", "mamba", "hybrid"};
    static const char *const task_names[2] = {"classify", "lm"};
    int c, status;
    opterr = 0;
    optind = 0;
    while ((c = getopt_long(argc, argv, "o:h", long_options, NULL)) != -1) {
        status = cli_common_parse(c, optarg, &o->common);
        if (status < 0) return status;
        if (status == 1) continue;
        status = 0;
        switch (c) {
        case 'h': return 1;
        case OPT_EXPERIMENTS:
            status = parse_names("--experiments", optarg, exp_names, N_EXP, o->experiments);
            break;
        case OPT_MODELS: status = parse_names("--models", optarg, model_names, 3, o->models); break;
        case OPT_LENGTHS:
            status = parse_list("--lengths", optarg, 8, SYNTH_MAX_LEN, o->lengths, &o->n_lengths);
            break;
        case OPT_EVAL_LENGTHS:
            status = parse_list("--eval-lengths", optarg, 4, SYNTH_MAX_LEN, o->eval_lengths,
                                &o->n_eval_lengths);
            break;
        case OPT_DISTANCES:
            status = parse_list("--distances", optarg, 0, SYNTH_MAX_LEN, o->distances,
                                &o->n_distances);
            break;
        case OPT_D_STATES:
            status = parse_list("--d-states", optarg, 1, 256, o->d_states, &o->n_d_states);
            break;
        case OPT_SPEED_LENGTHS:
            status = parse_list("--speed-lengths", optarg, 2, SYNTH_MAX_LEN, o->speed_lengths,
                                &o->n_speed_lengths);
            break;
        case OPT_MLP_HIDDEN:
            status = cli_parse_int64("--mlp-hidden", optarg, 0, 1048576, &o->mlp_hidden);
            break;
        case OPT_PAIRS: status = cli_parse_int64("--pairs", optarg, 1, 1 << 20, &o->pairs); break;
        case OPT_VOCAB:
            status = cli_parse_int64("--vocab", optarg, 4, SYNTH_MAX_VOCAB, &o->vocab);
            break;
        case OPT_TRAIN_LEN:
            status = cli_parse_int64("--train-len", optarg, 8, SYNTH_MAX_LEN, &o->train_len);
            break;
        case OPT_D_MODEL:
            status = cli_parse_int64("--d-model", optarg, 2, 65536, &o->d_model);
            break;
        case OPT_LAYERS: status = cli_parse_int64("--layers", optarg, 1, 256, &o->layers); break;
        case OPT_HEADS: status = cli_parse_int64("--heads", optarg, 1, 256, &o->heads); break;
        case OPT_MINUTES:
            status = cli_parse_double("--minutes", optarg, 1e-3, 1e6, &o->minutes);
            break;
        case OPT_BATCH_SIZE:
            status = cli_parse_int64("--batch-size", optarg, 1, 1000000, &o->batch_size);
            break;
        case OPT_LR: status = cli_parse_double("--lr", optarg, 1e-12, 10, &o->lr); break;
        case OPT_MIN_LR:
            status = cli_parse_double("--min-lr", optarg, 0, 10, &o->min_lr);
            break;
        case OPT_WARMUP:
            status = cli_parse_int64("--warmup", optarg, 0, INT64_MAX / 2, &o->warmup);
            break;
        case OPT_WEIGHT_DECAY:
            status = cli_parse_double("--weight-decay", optarg, 0, 10, &o->weight_decay);
            break;
        case OPT_STEPS:
            status = cli_parse_int64("--steps", optarg, 1, INT64_MAX / 2, &o->steps);
            break;
        case OPT_INDUCTION_VOCAB: // the trigger and at least two other tokens (io/synth.c)
            status = cli_parse_int64("--induction-vocab", optarg, 3, SYNTH_MAX_VOCAB,
                                     &o->induction_vocab);
            break;
        case OPT_MAMBA_D_MODEL:
            status = cli_parse_int64("--mamba-d-model", optarg, 1, 65536, &o->mamba_d_model);
            break;
        case OPT_MIX_LEN:
            status = cli_parse_int64("--mix-len", optarg, 4, SYNTH_MAX_LEN, &o->mix_len);
            break;
        case OPT_MAMBA_LAYERS:
            status = cli_parse_int64("--mamba-layers", optarg, 1, 256, &o->mamba_layers);
            break;
        case OPT_N_TRAIN:
            status = cli_parse_int64("--n-train", optarg, 1, SYNTH_MAX_N, &o->n_train);
            break;
        case OPT_N_EVAL:
            status = cli_parse_int64("--n-eval", optarg, 1, SYNTH_MAX_N, &o->n_eval);
            break;
        case OPT_DATA:
        case OPT_VALID: {
            int *n = c == OPT_DATA ? &o->n_data : &o->n_valid;
            if (*n >= MAX_LIST)
                return ls_error(LS_ERR_USAGE, "--%s: at most %d inputs",
                                c == OPT_DATA ? "data" : "valid", MAX_LIST);
            (c == OPT_DATA ? o->data : o->valid)[(*n)++] = optarg;
            break;
        }
        case OPT_LABELS: o->labels = optarg; break;
        case OPT_TASK: {
            int t[2];
            status = parse_names("--task", optarg, task_names, 2, t);
            if (status == 0 && t[0] + t[1] != 1)
                status = ls_error(LS_ERR_USAGE, "--task %s: give one task", optarg);
            o->task = t[1] ? MODEL_TASK_LM : MODEL_TASK_CLASSIFY;
            break;
        }
        default:
            return ls_error(LS_ERR_USAGE, "unknown or incomplete option '%s'; see 'longscan "
                            "compare --help'", argv[optind - 1]);
        }
        if (status < 0) return status;
    }
    if (optind < argc)
        return ls_error(LS_ERR_USAGE, "unexpected argument '%s'; see 'longscan compare --help'",
                        argv[optind]);
    if (!o->common.output || !strcmp(o->common.output, "-"))
        return ls_error(LS_ERR_USAGE, "no output: give -o DIR (a directory for the CSV, plots, "
                        "report and models)");
    if (o->n_data > 0) o->experiments[EXP_DATA] = 1;
    if (o->experiments[EXP_DATA] && (o->n_data == 0 || o->n_valid == 0))
        return ls_error(LS_ERR_USAGE, "experiment data: give --data SEQS and --valid SEQS (the "
                        "test input)");
    if (o->n_valid > 0 && o->n_data == 0)
        return ls_error(LS_ERR_USAGE, "--valid without --data");
    if (o->d_model % (2 * o->heads) != 0)
        return ls_error(LS_ERR_USAGE, "--d-model %lld: must be a multiple of 2·--heads (%lld) "
                        "for the attention head dimension", (long long)o->d_model,
                        (long long)(2 * o->heads));
    if (o->experiments[EXP_MQAR] || o->experiments[EXP_DSTATE])
        for (int64_t i = 0; i < o->n_lengths; i++)
            if (4 * o->pairs > o->lengths[i])
                return ls_error(LS_ERR_USAGE, "--lengths %lld: %lld MQAR pairs need len >= %lld",
                                (long long)o->lengths[i], (long long)o->pairs,
                                (long long)(4 * o->pairs));
    if ((o->experiments[EXP_MQAR] || o->experiments[EXP_DSTATE]) && o->vocab < 2 * o->pairs + 2)
        return ls_error(LS_ERR_USAGE, "--vocab %lld: %lld MQAR pairs need vocab >= %lld",
                        (long long)o->vocab, (long long)o->pairs, (long long)(2 * o->pairs + 2));
    if (o->mix_len > o->train_len)
        return ls_error(LS_ERR_USAGE, "--mix-len %lld: longer than --train-len %lld (the "
                        "tests beyond --train-len are the extrapolation)", (long long)o->mix_len,
                        (long long)o->train_len);
    if (o->experiments[EXP_RECALL]) {
        if (o->n_distances == 0) { // 8 distances spread over what fits in the training length
            for (int i = 0; i < 8; i++)
                o->distances[i] = (o->train_len - 4) * i / 7;
            o->n_distances = 8;
        }
        for (int64_t i = 0; i < o->n_distances; i++)
            if (o->distances[i] > o->train_len - 4)
                return ls_error(LS_ERR_USAGE, "--distances %lld: longer than --train-len %lld "
                                "allows (%lld)", (long long)o->distances[i],
                                (long long)o->train_len, (long long)(o->train_len - 4));
    }
    int any = 0;
    for (int i = 0; i < 3; i++) any |= o->models[i];
    if (!any) return ls_error(LS_ERR_USAGE, "--models: no model");
    return 0;
}

// ---------------------------------------------------------------------------- models

/* A config of @p arch at width @p d (LM, tiny vocabulary: only the backbone is counted). */
static void model_choice_config(const CompareOptions *o, ModelArch arch, int64_t d,
                                int64_t layers, int64_t d_state, ModelConfig *c) {
    model_config_default(c, arch, MODEL_TASK_LM);
    c->vocab = 2;
    c->d_model = d;
    c->n_layers = layers;
    c->n_heads = o->heads;
    c->mlp_hidden = o->mlp_hidden;
    c->d_state = d_state;
    c->window = 0;
    if (arch == MODEL_HYBRID && model_config_set_attn_every(c, layers >= 4 ? 4 : layers) < 0)
        ls_error_clear(); // cannot happen for 1 <= K <= layers; the check below would refuse
}

/* Backbone parameters (backbone.layers.*) of a config; −1 if it is not valid. */
static int64_t backbone_params(const ModelConfig *c) {
    if (model_config_check(c) < 0) {
        ls_error_clear();
        return -1;
    }
    Model *m = NULL;
    const Device cpu = {DEVICE_CPU, 0};
    if (model_init(&m, c, &cpu, 1) < 0) {
        ls_error_clear();
        return -1;
    }
    const ParamTable *t = model_param_table(m);
    int64_t n = 0;
    for (int i = 0; i < t->n; i++)
        if (!strncmp(t->entries[i].name, "backbone.layers.", 16)) n += t->entries[i].numel;
    model_free(m);
    return n;
}

/* The width of @p arch whose backbone comes closest to @p target parameters: multiples of
 * 2·heads (the attention head dimension must be even), up to 4× the reference width. */
static int choose_model(const CompareOptions *o, ModelArch arch, int64_t d_state, int64_t target,
                        ModelChoice *out) {
    const int64_t layers = arch == MODEL_TRANSFORMER ? o->layers : 2 * o->layers;
    const int64_t step = 2 * o->heads;
    int64_t best_d = -1, best_p = -1;
    for (int64_t d = step; d <= 4 * o->d_model; d += step) {
        ModelConfig c;
        model_choice_config(o, arch, d, layers, d_state, &c);
        int64_t p = backbone_params(&c);
        if (p < 0) continue;
        if (best_d < 0 || llabs(p - target) < llabs(best_p - target)) best_d = d, best_p = p;
        if (p > 2 * target) break;
    }
    if (best_d < 0)
        return ls_error(LS_ERR_USAGE, "--d-model %lld: no %s width fits", (long long)o->d_model,
                        model_arch_name(arch));
    *out = (ModelChoice){arch, best_d, layers, d_state, best_p};
    return 0;
}

// ---------------------------------------------------------------------------- cells

static uint64_t test_seed(const CompareOptions *o) { return o->common.seed + 1000; }

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The process's CPU seconds, every thread: on a shared machine the wall clock measures the
 * neighbours too. */
static double cpu_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The grid, in order: experiment, then its variable, then the model. */
static int build_cells(const CompareOptions *o, Cell **cells_out, int64_t *n_out) {
    ModelChoice ref;
    int status = choose_model(o, MODEL_TRANSFORMER, 16, -1, &ref);
    if (status < 0) return status;
    { // the reference is the Transformer of --d-model, not the closest to −1
        ModelConfig c;
        model_choice_config(o, MODEL_TRANSFORMER, o->d_model, o->layers, 16, &c);
        ref = (ModelChoice){MODEL_TRANSFORMER, o->d_model, o->layers, 16, backbone_params(&c)};
        if (ref.params < 0)
            return ls_error(LS_ERR_USAGE, "--d-model %lld --heads %lld: not a valid Transformer",
                            (long long)o->d_model, (long long)o->heads);
    }
    ModelChoice choice[3];
    for (int k = 0; k < 3; k++) {
        if (!o->models[k] && k != 1) continue; // the Mamba serves the d_state sweep too
        if (model_arch[k] == MODEL_TRANSFORMER) choice[k] = ref;
        else if ((status = choose_model(o, model_arch[k], 16, ref.params, &choice[k])) < 0)
            return status;
    }
    if (o->mamba_d_model > 0 || o->mamba_layers > 0) { // a given shape, not the matched one
        ModelChoice *m = &choice[1];
        if (o->mamba_d_model > 0) m->d_model = o->mamba_d_model;
        if (o->mamba_layers > 0) m->layers = o->mamba_layers;
        ModelConfig mc;
        model_choice_config(o, MODEL_MAMBA, m->d_model, m->layers, 16, &mc);
        if ((m->params = backbone_params(&mc)) < 0)
            return ls_error(LS_ERR_USAGE, "--mamba-d-model %lld --mamba-layers %lld: not a valid "
                            "Mamba", (long long)m->d_model, (long long)m->layers);
    }
    Cell *cells = calloc(MAX_LIST * 8 * 3 + 16, sizeof *cells);
    if (!cells) return ls_error(LS_ERR_NOMEM, "out of memory");
    int64_t n = 0;
    const uint64_t ts = test_seed(o);
    const unsigned long long seed = (unsigned long long)o->common.seed;
    for (int e = 0; e < N_EXP; e++) {
        if (!o->experiments[e]) continue;
        int64_t nx = e == EXP_MQAR ? o->n_lengths : e == EXP_DSTATE ? o->n_d_states : 1;
        for (int64_t xi = 0; xi < nx; xi++)
            for (int k = 0; k < 3; k++) {
                if (e == EXP_DSTATE && k != 1) continue; // the dial is Mamba's
                if (!o->models[k] && e != EXP_DSTATE) continue;
                Cell *c = &cells[n++];
                c->exp = (Experiment)e;
                c->model = choice[k];
                if (e == EXP_DSTATE) {
                    const ModelChoice m = choice[1]; // the width matched (or given) at d_state 16
                    c->model = (ModelChoice){MODEL_MAMBA, m.d_model, m.layers, o->d_states[xi], 0};
                    ModelConfig mc;
                    model_choice_config(o, MODEL_MAMBA, m.d_model, m.layers, o->d_states[xi], &mc);
                    c->model.params = backbone_params(&mc);
                }
                switch (c->exp) {
                case EXP_MQAR:
                case EXP_DSTATE: {
                    int64_t L = c->exp == EXP_MQAR ? o->lengths[xi] : o->lengths[0];
                    c->x = c->exp == EXP_MQAR ? L : o->d_states[xi];
                    snprintf(c->train, sizeof c->train,
                             "synth:mqar,len=%lld,pairs=%lld,vocab=%lld,n=%lld,seed=%llu",
                             (long long)L, (long long)o->pairs, (long long)o->vocab,
                             (long long)o->n_train, seed);
                    c->n_evals = 1;
                    c->eval_x[0] = L;
                    snprintf(c->eval_spec[0], sizeof c->eval_spec[0],
                             "synth:mqar,len=%lld,pairs=%lld,vocab=%lld,n=%lld,seed=%llu",
                             (long long)L, (long long)o->pairs, (long long)o->vocab,
                             (long long)o->n_eval, (unsigned long long)ts);
                    c->window = L;
                    break;
                }
                case EXP_INDUCTION:
                    snprintf(c->train, sizeof c->train,
                             "synth:induction,len=%lld,vocab=%lld,n=%lld,seed=%llu",
                             (long long)o->train_len, (long long)o->induction_vocab,
                             (long long)o->n_train, seed);
                    if (o->mix_len > 0)
                        snprintf(c->train_mix, sizeof c->train_mix,
                                 "synth:induction,len=%lld,vocab=%lld,n=%lld,seed=%llu",
                                 (long long)o->mix_len, (long long)o->induction_vocab,
                                 (long long)o->n_train, seed);
                    c->n_evals = o->n_eval_lengths;
                    c->window = o->train_len;
                    for (int64_t i = 0; i < o->n_eval_lengths; i++) {
                        const int64_t L = o->eval_lengths[i];
                        c->eval_x[i] = L;
                        // as many examples at every length: the claim (>= 99 % at 16K) is
                        // about the longest as much as the shortest
                        c->eval_n[i] = o->n_eval;
                        snprintf(c->eval_spec[i], sizeof c->eval_spec[i],
                                 "synth:induction,len=%lld,vocab=%lld,n=%lld,seed=%llu",
                                 (long long)L, (long long)o->induction_vocab,
                                 (long long)o->n_eval, (unsigned long long)ts);
                        if (L > c->window) c->window = L;
                    }
                    break;
                case EXP_RECALL:
                    snprintf(c->train, sizeof c->train,
                             "synth:recall,len=%lld,vocab=16,n=%lld,seed=%llu",
                             (long long)o->train_len, (long long)o->n_train, seed);
                    c->n_evals = o->n_distances;
                    c->window = o->train_len;
                    for (int64_t i = 0; i < o->n_distances; i++) {
                        c->eval_x[i] = o->distances[i];
                        snprintf(c->eval_spec[i], sizeof c->eval_spec[i],
                                 "synth:recall,len=%lld,vocab=16,n=%lld,distance=%lld,seed=%llu",
                                 (long long)o->train_len, (long long)o->n_eval,
                                 (long long)o->distances[i], (unsigned long long)ts);
                    }
                    break;
                case EXP_SPEED:
                    c->n_evals = o->n_speed_lengths;
                    for (int64_t i = 0; i < o->n_speed_lengths; i++) {
                        c->eval_x[i] = o->speed_lengths[i];
                        snprintf(c->eval_spec[i], sizeof c->eval_spec[i], "speed,len=%lld",
                                 (long long)o->speed_lengths[i]);
                    }
                    break;
                case EXP_DATA:
                    c->n_evals = 1;
                    c->window = 0; // the Transformer's default window
                    break;
                default: break;
                }
            }
    }
    *cells_out = cells;
    *n_out = n;
    return 0;
}

static const char *model_label(const ModelChoice *m) {
    return m->arch == MODEL_TRANSFORMER ? "transformer"
           : m->arch == MODEL_HYBRID    ? "hybrid"
                                        : "mamba";
}

static void cell_model_path(const CompareOptions *o, const Cell *c, char *buf, size_t size) {
    if (c->x)
        snprintf(buf, size, "%s/models/%s-%s-%lld.safetensors", o->common.output,
                 exp_names[c->exp], model_label(&c->model), (long long)c->x);
    else
        snprintf(buf, size, "%s/models/%s-%s.safetensors", o->common.output, exp_names[c->exp],
                 model_label(&c->model));
}

/* Train one cell through the training loop of `longscan train`. */
static int cell_train(const CompareOptions *o, Cell *c, double minutes, const char *path) {
    TrainOptions t;
    trainer_options_default(&t);
    t.common = o->common;
    t.common.output = path;
    t.common.verbosity = o->common.verbosity >= 2 ? 1 : 0;
    t.progress = 0;
    const char *train_src[MAX_LIST], *valid_src[MAX_LIST] = {NULL};
    const char *classes[1] = {NULL};
    t.train.sources = train_src;
    t.train.classes = classes;
    t.valid.sources = valid_src;
    t.valid.classes = classes;
    if (c->exp == EXP_DATA) {
        for (int i = 0; i < o->n_data; i++) train_src[i] = o->data[i];
        t.train.n_sources = o->n_data;
        t.train.labels = o->labels;
        t.task = (int)o->task >= 0 ? o->task
                 : synth_is_spec(o->data[0]) ? MODEL_TASK_LM
                                             : MODEL_TASK_CLASSIFY;
    } else {
        train_src[0] = c->train;
        t.train.n_sources = 1;
        if (c->train_mix[0]) train_src[t.train.n_sources++] = c->train_mix;
        t.task = MODEL_TASK_LM;
    }
    t.arch = (int)c->model.arch;
    t.d_model = c->model.d_model;
    t.n_layers = c->model.layers;
    if (c->model.arch != MODEL_TRANSFORMER) t.d_state = c->model.d_state;
    if (c->model.arch != MODEL_MAMBA) t.n_heads = o->heads, t.mlp_hidden = o->mlp_hidden;
    if (c->model.arch == MODEL_HYBRID) t.attn_every = c->model.layers >= 4 ? 4 : c->model.layers;
    if (c->model.arch == MODEL_TRANSFORMER && c->window > 0) t.window = c->window;
    if (o->steps > 0) t.steps = o->steps;
    else t.minutes = minutes;
    t.batch_size = o->batch_size;
    t.lr = o->lr;
    t.min_lr = o->min_lr;
    t.warmup = o->warmup;
    t.weight_decay = o->weight_decay;
    double t0 = now_s(), c0 = cpu_now_s();
    int status = trainer_run(&t, "[\"compare\"]");
    c->seconds = now_s() - t0;
    c->cpu_seconds = cpu_now_s() - c0;
    return status;
}

/* The steps a run took, from its checkpoint's "progress" metadata. */
static int64_t model_steps(const char *path) {
    StFile *f = NULL;
    int64_t steps = -1;
    if (st_open(&f, path) < 0) {
        ls_error_clear();
        return -1;
    }
    const char *progress = st_metadata_get(f, "progress");
    const char *at = progress ? strstr(progress, "\"step\":") : NULL;
    if (at) steps = strtoll(at + 7, NULL, 10);
    st_close(f);
    return steps;
}

/* Evaluate a trained cell on each of its test inputs. */
static int cell_eval(const CompareOptions *o, Cell *c, const char *path) {
    ModelFile mf = {0};
    int status = checkpoint_open(&mf, path, &o->common.device);
    if (status < 0) return status;
    const ModelConfig *cfg = model_config(mf.model);
    for (int64_t i = 0; i < c->n_evals && status == 0; i++) {
        const double c0 = cpu_now_s();
        InputSpec spec = {0};
        const char *one[1] = {c->eval_spec[i]};
        if (c->exp == EXP_DATA) {
            spec.sources = (const char **)o->valid;
            spec.n_sources = o->n_valid;
            spec.labels = o->labels; // one label table serves both inputs
        } else {
            spec.sources = one;
            spec.n_sources = 1;
        }
        const int labelled = cfg->task == MODEL_TASK_CLASSIFY;
        DatasetOptions dopt;
        infer_dataset_options(&mf.data, labelled ? DATASET_LABELS_REQUIRED : DATASET_LABELS_NONE,
                              &dopt);
        Dataset *ds = NULL;
        DatasetItem *items = NULL;
        int64_t n_items = 0;
        EvalResult res = {0};
        InferOptions io = {.output = INFER_LOGITS};
        infer_batch_options(&mf.data, &io.batch);
        // a batch of at most 64k tokens: long tests go a few rows at a time
        status = infer_load(&ds, &dopt, &spec, labelled ? mf.labels : NULL);
        if (status == 0) status = infer_check_kind(ds, &mf.data, path);
        if (status == 0) status = infer_check_vocab(ds, cfg, path);
        if (status == 0) {
            DatasetStats st;
            dataset_stats(ds, NULL, 0, &st, NULL);
            io.batch_size = st.max_length > 0 ? 65536 / st.max_length : 1;
            if (io.batch_size < 1) io.batch_size = 1;
            if (io.batch_size > 64) io.batch_size = 64;
            status = infer_items(ds, NULL, 0, cfg, 0, 0, 0, &items, &n_items);
        }
        if (status == 0) status = infer_evaluate(mf.model, ds, items, n_items, &io, &res);
        if (status == 0) {
            c->accuracy[i] = res.accuracy;
            c->loss[i] = res.loss;
            c->test_cpu_seconds[i] = cpu_now_s() - c0;
        }
        infer_result_free(&res);
        free(items);
        dataset_free(ds);
    }
    checkpoint_close(&mf);
    return status;
}

/* Inference against length: a model of the cell's shape (vocabulary 16, random weights:
 * the cost does not depend on them) reads one sequence of L random tokens and predicts the
 * next token (the head runs for that position only, so the backbone is what is timed). One
 * warm-up forward plans the arena; then forwards are repeated until they took 1 CPU-second
 * (at most 5). Wall: the fastest forward (the least disturbed on a shared machine); CPU: the
 * process's CPU time per forward, all threads. */
static int cell_speed(const CompareOptions *o, Cell *c) {
    ModelConfig cfg;
    model_choice_config(o, c->model.arch, c->model.d_model, c->model.layers, c->model.d_state,
                        &cfg);
    cfg.vocab = 16;
    Model *m = NULL;
    int status = model_init(&m, &cfg, &o->common.device, o->common.seed);
    for (int64_t i = 0; i < c->n_evals && status == 0; i++) {
        const int64_t L = c->eval_x[i];
        int32_t *ids = malloc((size_t)L * sizeof *ids);
        uint8_t *target = calloc((size_t)L, 1);
        float logits[16];
        if (!ids || !target) {
            status = ls_error(LS_ERR_NOMEM, "speed: out of memory for %lld tokens", (long long)L);
        } else {
            Rng rng;
            rng_seed_stream(&rng, o->common.seed, (uint64_t)L);
            for (int64_t t = 0; t < L; t++) ids[t] = (int32_t)(1 + rng_below(&rng, 15));
            target[L - 1] = 1; // position L−2 predicts token L−1: one row of logits
            ModelBatch mb = {.B = 1, .L = L, .ids = ids, .target = target};
            status = model_forward(m, &mb, logits, 0);
            double best_wall = INFINITY, cpu = 0;
            int reps = 0;
            while (status == 0 && reps < 5 && (reps == 0 || cpu < 1.0)) {
                double w0 = now_s(), c0 = cpu_now_s();
                status = model_forward(m, &mb, logits, 0);
                double w = now_s() - w0;
                cpu += cpu_now_s() - c0;
                if (w < best_wall) best_wall = w;
                reps++;
            }
            if (status == 0) {
                c->tok_s[i] = (double)L / best_wall;
                c->tok_cpu_s[i] = (double)L * reps / cpu;
                c->act_bytes[i] = (double)model_activation_bytes(m);
                c->state_bytes[i] = model_decode_state_bytes(m, L);
            }
        }
        free(ids);
        free(target);
    }
    model_free(m);
    return status;
}

// ---------------------------------------------------------------------------- outputs

static int write_csv(const CompareOptions *o, const Cell *cells, int64_t n) {
    OutputFile out = {0};
    int status = plot_file_open(&out, o->common.output, "results.csv");
    if (status < 0) return status;
    fputs("experiment,model,params,d_model,layers,d_state,x,train,test,test_x,accuracy,loss,"
          "steps,train_seconds,error,tokens_per_s,tokens_per_cpu_s,activation_bytes,"
          "state_bytes,train_cpu_seconds,test_cpu_seconds\n", out.fp);
    for (int64_t k = 0; k < n; k++) {
        const Cell *c = &cells[k];
        const int speed = c->exp == EXP_SPEED;
        char train[520];
        snprintf(train, sizeof train, "%s%s%s", c->exp == EXP_DATA ? "data" : c->train,
                 c->train_mix[0] ? " + " : "", c->train_mix);
        for (int64_t i = 0; i < (c->failed ? 1 : c->n_evals); i++) {
            fprintf(out.fp, "%s,%s,%lld,%lld,%lld,%lld,%lld,\"%s\",\"%s\",%lld,",
                    exp_names[c->exp], model_label(&c->model), (long long)c->model.params,
                    (long long)c->model.d_model, (long long)c->model.layers,
                    c->model.arch == MODEL_TRANSFORMER ? 0LL : (long long)c->model.d_state,
                    (long long)c->x, train,
                    c->exp == EXP_DATA ? "valid" : c->eval_spec[i], (long long)c->eval_x[i]);
            if (speed) fputs(",,", out.fp); // no accuracy, no loss: nothing was trained
            else
                fprintf(out.fp, "%.6f,%.6f,", c->failed ? NAN : c->accuracy[i],
                        c->failed ? NAN : c->loss[i]);
            fprintf(out.fp, "%lld,%.1f,%s,", (long long)c->steps, c->seconds,
                    c->failed ? "failed" : "");
            if (speed && !c->failed)
                fprintf(out.fp, "%.1f,%.1f,%.0f,%.0f,,\n", c->tok_s[i], c->tok_cpu_s[i],
                        c->act_bytes[i], c->state_bytes[i]);
            else
                fprintf(out.fp, ",,,,%.1f,%.1f\n", c->cpu_seconds,
                        c->failed ? NAN : c->test_cpu_seconds[i]);
        }
    }
    return cli_output_commit(&out);
}

/* One data file per plot; plot_write() adds its gnuplot script and draws it (plot.h). */
static int write_plot(const CompareOptions *o, const Cell *cells, int64_t n, Experiment e,
                      const char *name, const char *title, const char *xlabel, int logx,
                      int *plotted, char *note, size_t note_size) {
    char dat[4200];
    snprintf(dat, sizeof dat, "%s/plots/%s.dat", o->common.output, name);
    FILE *f = fopen(dat, "w");
    if (!f) return ls_error(LS_ERR_IO, "%s: cannot create: %s", dat, strerror(errno));
    int series = 0;
    char labels[3][32];
    for (int k = 0; k < 3; k++) {
        int any = 0;
        for (int64_t j = 0; j < n; j++) {
            const Cell *c = &cells[j];
            if (c->exp != e || c->failed || model_arch[k] != c->model.arch) continue;
            if (!any) fprintf(f, "# %s\n", model_label(&c->model));
            any = 1;
            for (int64_t i = 0; i < c->n_evals; i++)
                fprintf(f, "%lld %.6f\n",
                        (long long)(e == EXP_MQAR || e == EXP_DSTATE ? c->x : c->eval_x[i]),
                        e == EXP_SPEED ? c->tok_cpu_s[i] : 100.0 * c->accuracy[i]);
        }
        if (any) {
            snprintf(labels[series], sizeof labels[series], "%s", model_label(&(ModelChoice){
                                                                   model_arch[k], 0, 0, 0, 0}));
            series++;
            fputs("\n\n", f);
        }
    }
    fclose(f);
    const char *label_ptrs[3] = {labels[0], labels[1], labels[2]};
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/plots", o->common.output);
    const PlotSpec spec = {
        .name = name, .title = title, .xlabel = xlabel,
        .ylabel = e == EXP_SPEED ? "tokens per CPU-second" : "accuracy (%)",
        .logx = logx, .logy = e == EXP_SPEED, .ymin = 0, .ymax = e == EXP_SPEED ? 0 : 100,
        .key = "left bottom"};
    return plot_write(dir, &spec, label_ptrs, series, plotted, note, note_size);
}

// ---------------------------------------------------------------------------- report

/* The essays' MQAR table (Zoology's, as the essays quote it): a 2-layer Transformer and a
 * Mamba with d_state 16 at L = 128, 256, 512, 1024. */
static const int64_t essay_len[4] = {128, 256, 512, 1024};
static const double essay_transformer[4] = {99.8, 99.1, 97.9, 95.2};
static const double essay_mamba[4] = {24.5, 12.3, 8.7, 6.1};

/* The accuracy (%) of model @p arch in experiment @p e at grid value @p x (MQAR, d_state) or
 * test value @p x (induction, recall); NAN when not measured. */
static double find(const Cell *cells, int64_t n, Experiment e, ModelArch arch, int64_t x) {
    for (int64_t k = 0; k < n; k++) {
        const Cell *c = &cells[k];
        if (c->exp != e || c->model.arch != arch || c->failed) continue;
        if (e == EXP_MQAR || e == EXP_DSTATE) {
            if (c->x == x) return 100.0 * c->accuracy[0];
            continue;
        }
        for (int64_t i = 0; i < c->n_evals; i++)
            if (c->eval_x[i] == x) return 100.0 * c->accuracy[i];
    }
    return NAN;
}

static void pct(FILE *f, double v) {
    if (isnan(v)) fputs(" — |", f);
    else fprintf(f, " %.1f |", v);
}

static const char *verdict(int tested, int ok) {
    return !tested ? "not tested" : ok ? "**agree**" : "**disagree**";
}

static void report_mqar(FILE *f, const CompareOptions *o, const Cell *cells, int64_t n) {
    fprintf(f, "## MQAR: accuracy against sequence length\n\n"
               "%lld key-value pairs, vocabulary %lld, trained on `synth:mqar` at each length, "
               "tested on %lld examples of a fresh seed (%llu) at the same length. Accuracy: "
               "exact match over the query answers (%%).\n\n"
               "| L | transformer | mamba | hybrid | essay: Transformer "
               "| essay: Mamba (d_state 16) |\n"
               "|---|---|---|---|---|---|\n",
            (long long)o->pairs, (long long)o->vocab, (long long)o->n_eval,
            (unsigned long long)test_seed(o));
    int t_tested = 0, t_ok = 1, m_tested = 0, m_ok = 1, gap_ok = 1, gap_tested = 0;
    int h_tested = 0, h_ok = 1;
    double m_prev = NAN;
    int m_mono = 1;
    for (int64_t i = 0; i < o->n_lengths; i++) {
        const int64_t L = o->lengths[i];
        double t = find(cells, n, EXP_MQAR, MODEL_TRANSFORMER, L);
        double m = find(cells, n, EXP_MQAR, MODEL_MAMBA, L);
        double h = find(cells, n, EXP_MQAR, MODEL_HYBRID, L);
        double et = NAN, em = NAN;
        for (int j = 0; j < 4; j++)
            if (essay_len[j] == L) et = essay_transformer[j], em = essay_mamba[j];
        fprintf(f, "| %lld |", (long long)L);
        pct(f, t), pct(f, m), pct(f, h), pct(f, et), pct(f, em);
        fputc('\n', f);
        if (!isnan(t)) t_tested = 1, t_ok &= t >= 95.0;
        if (!isnan(m)) {
            m_tested = 1;
            m_ok &= m <= 25.0;
            if (!isnan(m_prev) && m > m_prev + 2.0) m_mono = 0;
            m_prev = m;
        }
        if (!isnan(t) && !isnan(m)) gap_tested = 1, gap_ok &= t - m >= 20.0;
        if (!isnan(h)) h_tested = 1, h_ok &= h >= 90.0;
    }
    fprintf(f, "\nClaims (the essays, after Zoology):\n\n"
               "1. *A 2-layer Transformer recalls nearly perfectly at every length (>= 95 %%).* "
               "%s.\n"
               "2. *Mamba with d_state 16 collapses (<= 25 %%) and gets worse as L grows.* %s%s.\n"
               "3. *Attention beats Mamba by a wide margin (>= 20 points) at every length.* "
               "%s.\n"
               "4. *A hybrid gets attention's recall (>= 90 %%).* %s.\n\n",
            verdict(t_tested, t_ok), verdict(m_tested, m_ok && m_mono),
            m_tested && m_ok && !m_mono ? " (low, but not falling with L)" : "",
            verdict(gap_tested, gap_ok), verdict(h_tested, h_ok));
}

static void report_induction(FILE *f, const CompareOptions *o, const Cell *cells, int64_t n) {
    char mix[96] = "";
    if (o->mix_len > 0)
        snprintf(mix, sizeof mix, " (and as many examples at L = %lld, so that the circuit "
                 "forms sooner)", (long long)o->mix_len);
    fprintf(f, "## Induction heads: length extrapolation\n\n"
               "Trained on `synth:induction` (vocabulary %lld) at L = %lld%s, tested on n "
               "examples of a fresh seed (%llu) at each length; the Transformer's window "
               "covers the longest, so it reads every token, at RoPE positions past the ones "
               "it trained on. Accuracy (%%) of the token after the last trigger (chance: "
               "1/%lld).\n\n"
               "| test L | n | transformer | mamba | hybrid |\n|---|---|---|---|---|\n",
            (long long)o->induction_vocab, (long long)o->train_len, mix,
            (unsigned long long)test_seed(o), (long long)(o->induction_vocab - 1));
    int m_tested = 0, m_ok = 1, t_tested = 0, t_ok = 1, h_tested = 0, h_ok = 1;
    for (int64_t i = 0; i < o->n_eval_lengths; i++) {
        const int64_t L = o->eval_lengths[i];
        double t = find(cells, n, EXP_INDUCTION, MODEL_TRANSFORMER, L);
        double m = find(cells, n, EXP_INDUCTION, MODEL_MAMBA, L);
        double h = find(cells, n, EXP_INDUCTION, MODEL_HYBRID, L);
        fprintf(f, "| %lld | %lld |", (long long)L, (long long)o->n_eval);
        pct(f, t), pct(f, m), pct(f, h);
        fputc('\n', f);
        if (L >= o->train_len && !isnan(m)) m_tested = 1, m_ok &= m >= 99.0;
        if (L >= 2 * o->train_len && !isnan(t)) t_tested = 1, t_ok &= t < 50.0;
        if (L >= o->train_len && !isnan(h)) h_tested = 1, h_ok &= h >= 99.0;
    }
    fprintf(f, "\nClaims (the Mamba paper, as the essays quote it):\n\n"
               "1. *Mamba trained at %lld keeps its induction head at every longer length (>= 99 "
               "%%; the paper: up to 1M tokens).* %s.\n"
               "2. *The Transformer fails past twice its training length (< 50 %%).* %s.\n"
               "3. *A hybrid extrapolates like Mamba (>= 99 %%).* %s.\n\n",
            (long long)o->train_len, verdict(m_tested, m_ok), verdict(t_tested, t_ok),
            verdict(h_tested, h_ok));
}

static void report_recall(FILE *f, const CompareOptions *o, const Cell *cells, int64_t n) {
    fprintf(f, "## Recall against distance\n\n"
               "Trained on `synth:recall` (vocabulary 16) at L = %lld with random distances, "
               "tested at each distance. Accuracy (%%).\n\n"
               "| distance | transformer | mamba | hybrid |\n|---|---|---|---|\n",
            (long long)o->train_len);
    int t_tested = 0, t_ok = 1;
    double m_first = NAN, m_last = NAN;
    for (int64_t i = 0; i < o->n_distances; i++) {
        const int64_t d = o->distances[i];
        double t = find(cells, n, EXP_RECALL, MODEL_TRANSFORMER, d);
        double m = find(cells, n, EXP_RECALL, MODEL_MAMBA, d);
        double h = find(cells, n, EXP_RECALL, MODEL_HYBRID, d);
        fprintf(f, "| %lld |", (long long)d);
        pct(f, t), pct(f, m), pct(f, h);
        fputc('\n', f);
        if (!isnan(t)) t_tested = 1, t_ok &= t >= 90.0;
        if (!isnan(m)) {
            if (isnan(m_first)) m_first = m;
            m_last = m;
        }
    }
    int m_tested = !isnan(m_first) && o->n_distances > 1;
    fprintf(f, "\nClaims:\n\n"
               "1. *Attention recalls at any distance within its window (>= 90 %%).* %s.\n"
               "2. *Mamba's recall decays with distance (the farthest >= 10 points below the "
               "nearest).* %s.\n\n",
            verdict(t_tested, t_ok), verdict(m_tested, m_first - m_last >= 10.0));
}

static void report_dstate(FILE *f, const CompareOptions *o, const Cell *cells, int64_t n) {
    fprintf(f, "## d_state: Mamba's quality dial\n\n"
               "MQAR at L = %lld (%lld pairs, vocabulary %lld), Mamba of the matched width with "
               "each state size.\n\n| d_state | backbone params | accuracy (%%) |\n|---|---|---|\n",
            (long long)o->lengths[0], (long long)o->pairs, (long long)o->vocab);
    double first = NAN, last = NAN, prev = NAN;
    int mono = 1;
    for (int64_t k = 0; k < n; k++) {
        const Cell *c = &cells[k];
        if (c->exp != EXP_DSTATE) continue;
        double a = c->failed ? NAN : 100.0 * c->accuracy[0];
        fprintf(f, "| %lld | %lld |", (long long)c->x, (long long)c->model.params);
        pct(f, a);
        fputc('\n', f);
        if (isnan(a)) continue;
        if (isnan(first)) first = a;
        if (!isnan(prev) && a < prev - 2.0) mono = 0;
        prev = last = a;
    }
    fprintf(f, "\nClaim: *more state, better recall (accuracy rises with d_state).* %s.\n\n",
            verdict(!isnan(first) && o->n_d_states > 1, mono && last > first + 5.0));
}

/* A speed cell's value at length @p L: which = 0 tokens per CPU-second, 1 per wall second,
 * 2 activation bytes, 3 state bytes; NAN when not measured. */
static double speed_at(const Cell *cells, int64_t n, ModelArch arch, int64_t L, int which) {
    for (int64_t k = 0; k < n; k++) {
        const Cell *c = &cells[k];
        if (c->exp != EXP_SPEED || c->model.arch != arch || c->failed) continue;
        for (int64_t i = 0; i < c->n_evals; i++)
            if (c->eval_x[i] == L)
                return which == 0   ? c->tok_cpu_s[i]
                       : which == 1 ? c->tok_s[i]
                       : which == 2 ? c->act_bytes[i]
                                    : c->state_bytes[i];
    }
    return NAN;
}

static void num_cell(FILE *f, double v, const char *fmt, double scale) {
    if (isnan(v)) fputs(" — |", f);
    else {
        fputc(' ', f);
        fprintf(f, fmt, v * scale);
        fputs(" |", f);
    }
}

static void report_speed(FILE *f, const CompareOptions *o, const Cell *cells, int64_t n) {
    fprintf(f, "## Inference against length: the crossover\n\n"
               "One sequence of L tokens through each model (untrained, vocabulary 16), "
               "predicting the next token. Tokens per CPU-second (the process's CPU time, "
               "every thread), and per wall second for the fastest of the repeats; activation "
               "memory is what the forward planned (measured from the model's plan); state is "
               "what a model keeps per sequence to go on generating: the key-value cache of "
               "its attention layers (2·L·d_model floats each) and the conv + SSM state of its "
               "Mamba layers (d_inner·(d_conv − 1 + d_state) floats each), computed from the "
               "shapes.\n\n"
               "| L | tokens/CPU-s transformer | mamba | hybrid | tokens/s (wall) transformer "
               "| mamba | hybrid | activations MiB transformer | mamba | hybrid "
               "| state KiB transformer | mamba | hybrid |\n"
               "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    double t_first = NAN, t_last = NAN, m_min = NAN, m_max = NAN, m_last = NAN;
    int64_t crossover = -1, n_both = 0;
    for (int64_t i = 0; i < o->n_speed_lengths; i++) {
        const int64_t L = o->speed_lengths[i];
        fprintf(f, "| %lld |", (long long)L);
        for (int which = 0; which < 4; which++)
            for (int k = 0; k < 3; k++)
                num_cell(f, speed_at(cells, n, model_arch[k], L, which),
                         which == 2 ? "%.2f" : which == 3 ? "%.1f" : "%.0f",
                         which == 2 ? 1.0 / 1048576.0 : which == 3 ? 1.0 / 1024.0 : 1.0);
        fputc('\n', f);
        double t = speed_at(cells, n, MODEL_TRANSFORMER, L, 0);
        double m = speed_at(cells, n, MODEL_MAMBA, L, 0);
        if (!isnan(t)) {
            if (isnan(t_first)) t_first = t;
            t_last = t;
        }
        if (!isnan(m)) {
            m_min = isnan(m_min) || m < m_min ? m : m_min;
            m_max = isnan(m_max) || m > m_max ? m : m_max;
            m_last = m;
        }
        if (!isnan(t) && !isnan(m)) {
            n_both++;
            if (crossover < 0 && m > t) crossover = L;
            if (m <= t) crossover = -1; // the crossover is where Mamba stays ahead
        }
    }
    const int64_t L0 = o->speed_lengths[0], L1 = o->speed_lengths[o->n_speed_lengths - 1];
    const int span = o->n_speed_lengths > 1 && L1 >= 4 * L0;
    char cross[160];
    if (n_both == 0) snprintf(cross, sizeof cross, "not measured");
    else if (crossover < 0) snprintf(cross, sizeof cross, "none up to L = %lld", (long long)L1);
    else if (crossover == L0)
        snprintf(cross, sizeof cross, "at or below L = %lld (the shortest tested)",
                 (long long)L0);
    else snprintf(cross, sizeof cross, "at L = %lld", (long long)crossover);
    fprintf(f, "\nClaims (the essays: attention's cost per token grows with the context, an "
               "SSM's does not, so past some length the SSM is cheaper):\n\n"
               "1. *Mamba's tokens per second do not depend on the length (within a factor 1.5 "
               "from L = %lld to %lld).* %s.\n"
               "2. *The Transformer's tokens per second fall with the length (by more than 2× "
               "from L = %lld to %lld).* %s.\n"
               "3. *Past a crossover length Mamba is faster than the Transformer of matched "
               "parameters.* %s (crossover: %s).\n"
               "4. *Generating, the Transformer's state (its KV cache) grows with L while "
               "Mamba's is fixed; a hybrid's grows in its attention layers only.* True by "
               "construction of the shapes (the state columns; not a measurement).\n\n",
            (long long)L0, (long long)L1,
            verdict(span && !isnan(m_min), m_max <= 1.5 * m_min), (long long)L0, (long long)L1,
            verdict(span && !isnan(t_first), t_first > 2.0 * t_last),
            verdict(n_both > 0, crossover > 0 && !isnan(m_last)), cross);
}

static void report_data(FILE *f, const CompareOptions *o, const Cell *cells, int64_t n) {
    fprintf(f, "## Your data\n\nTrained on");
    for (int i = 0; i < o->n_data; i++) fprintf(f, " `%s`", o->data[i]);
    fprintf(f, ", tested on");
    for (int i = 0; i < o->n_valid; i++) fprintf(f, " `%s`", o->valid[i]);
    fprintf(f, ". No essay claim is tied to it: the table is the comparison.\n\n"
               "| model | backbone params | loss | accuracy (%%) |\n|---|---|---|---|\n");
    for (int64_t k = 0; k < n; k++) {
        const Cell *c = &cells[k];
        if (c->exp != EXP_DATA) continue;
        fprintf(f, "| %s | %lld | %.4f |", model_label(&c->model), (long long)c->model.params,
                c->failed ? NAN : c->loss[0]);
        pct(f, c->failed ? NAN : 100.0 * c->accuracy[0]);
        fputc('\n', f);
    }
    fputc('\n', f);
}

static int write_report(const CompareOptions *o, const Cell *cells, int64_t n, double per_cell,
                        const char *plot_note, int plotted) {
    OutputFile out = {0};
    int status = plot_file_open(&out, o->common.output, "report.md");
    if (status < 0) return status;
    FILE *f = out.fp;
    fputs("# longscan compare\n\n", f);
    if (o->steps > 0)
        fprintf(f, "Training: %lld optimizer steps per run", (long long)o->steps);
    else
        fprintf(f, "Time budget %g minutes of training in all, %.2f per run (`train --minutes`)",
                o->minutes, per_cell);
    char schedule[64];
    if (o->min_lr == o->lr) snprintf(schedule, sizeof schedule, "constant");
    else if (o->min_lr < 0) snprintf(schedule, sizeof schedule, "decaying to lr/10");
    else snprintf(schedule, sizeof schedule, "decaying to %g", o->min_lr);
    fprintf(f, ", batch %lld, learning rate %g %s, weight decay %g, on %s with %d "
               "thread%s, seed %llu; each run's training and test CPU time is in results.csv. "
               "The numbers are what this budget buys on this machine: small CPU runs, not the "
               "papers' GPU training.\n\n"
               "Models (backbone = everything but the embedding and the head; the %s widths "
               "are chosen to match the Transformer's backbone%s):\n\n"
               "| model | d_model | layers | attention layers | d_state | backbone params |\n"
               "|---|---|---|---|---|---|\n",
            (long long)o->batch_size, o->lr, schedule, o->weight_decay,
            o->common.device.kind == DEVICE_CUDA ? "cuda" : "the CPU", omp_get_max_threads(),
            omp_get_max_threads() == 1 ? "" : "s", (unsigned long long)o->common.seed,
            o->mamba_d_model > 0 || o->mamba_layers > 0 ? "hybrid's" : "Mamba and hybrid",
            o->mamba_d_model > 0 || o->mamba_layers > 0
                ? "; the Mamba's shape is given (--mamba-d-model, --mamba-layers)" : "");
    for (int k = 0; k < 3; k++)
        for (int64_t j = 0; j < n; j++) {
            const ModelChoice *m = &cells[j].model;
            if (cells[j].exp == EXP_DSTATE || m->arch != model_arch[k]) continue;
            char attn[32];
            const int64_t every = m->layers >= 4 ? 4 : m->layers;
            if (m->arch == MODEL_HYBRID)
                snprintf(attn, sizeof attn, "%lld (every %lld, the middle one)",
                         (long long)(m->layers / every), (long long)every);
            fprintf(f, "| %s | %lld | %lld | %s | %s | %lld |\n", model_label(m),
                    (long long)m->d_model, (long long)m->layers,
                    m->arch == MODEL_TRANSFORMER ? "all" : m->arch == MODEL_HYBRID ? attn : "0",
                    m->arch == MODEL_TRANSFORMER ? "—" : "16", (long long)m->params);
            break;
        }
    fputc('\n', f);
    if (o->experiments[EXP_MQAR]) report_mqar(f, o, cells, n);
    if (o->experiments[EXP_INDUCTION]) report_induction(f, o, cells, n);
    if (o->experiments[EXP_RECALL]) report_recall(f, o, cells, n);
    if (o->experiments[EXP_DSTATE]) report_dstate(f, o, cells, n);
    if (o->experiments[EXP_SPEED]) report_speed(f, o, cells, n);
    if (o->experiments[EXP_DATA]) report_data(f, o, cells, n);
    fprintf(f, "## Files\n\n`results.csv` (every measurement), `models/` (every trained model; "
               "`longscan info` shows how it was trained), `plots/` (%s).\n\n"
               "Verdicts compare the stated thresholds with our numbers; \"not tested\" means "
               "the grid did not include what the claim needs.\n",
            plotted ? "PNG plots, with their data and gnuplot scripts" : plot_note);
    return cli_output_commit(&out);
}

// ---------------------------------------------------------------------------- main

int main_compare(int argc, char **argv) {
    CompareOptions o;
    Cell *cells = NULL;
    int64_t n = 0;
    options_default(&o);
    int status = parse_args(argc, argv, &o);
    if (status == 1) {
        usage(stdout);
        return EXIT_OK;
    }
    if (status < 0) return cli_fail("compare", status);
    if (o.common.device.kind != DEVICE_CPU) {
        ls_error(LS_ERR_NOT_READY, "--device cuda: compare trains on the CPU (its budgets are "
                 "CPU minutes); use --device cpu");
        return cli_fail("compare", LS_ERR_NOT_READY);
    }
    o.common.device_auto = 0; /* auto: the CPU, as above */
    cli_common_apply(&o.common);
    char dir[4200];
    if ((status = plot_mkdir_p(o.common.output)) < 0) goto fail;
    snprintf(dir, sizeof dir, "%s/models", o.common.output);
    if ((status = plot_mkdir_p(dir)) < 0) goto fail;
    snprintf(dir, sizeof dir, "%s/plots", o.common.output);
    if ((status = plot_mkdir_p(dir)) < 0) goto fail;
    if ((status = build_cells(&o, &cells, &n)) < 0) goto fail;
    int64_t n_trained = 0; // the budget is split over the runs that train
    for (int64_t k = 0; k < n; k++) n_trained += cells[k].exp != EXP_SPEED;
    const double per_cell = n_trained > 0 ? o.minutes / (double)n_trained : 0;
    for (int64_t k = 0; k < n; k++) {
        Cell *c = &cells[k];
        char path[4400];
        cell_model_path(&o, c, path, sizeof path);
        if (o.common.verbosity >= 1) {
            fprintf(stderr, "run %lld/%lld: %s%s", (long long)k + 1, (long long)n,
                    exp_names[c->exp], c->exp == EXP_DSTATE ? " d_state " : " ");
            if (c->x) fprintf(stderr, "%lld ", (long long)c->x);
            fprintf(stderr, "%s (d_model %lld, layers %lld, %lld backbone params)",
                    model_label(&c->model), (long long)c->model.d_model,
                    (long long)c->model.layers, (long long)c->model.params);
            if (c->exp != EXP_SPEED && o.steps > 0)
                fprintf(stderr, ", %lld steps", (long long)o.steps);
            else if (c->exp != EXP_SPEED) fprintf(stderr, ", %.2f min", per_cell);
            fputs(": ", stderr);
            fflush(stderr);
        }
        if (c->exp == EXP_SPEED) {
            if ((status = cell_speed(&o, c)) < 0) {
                if (o.common.verbosity >= 1) fputc('\n', stderr);
                ls_error_prefix("speed %s", model_label(&c->model));
                goto fail;
            }
            if (o.common.verbosity >= 1) {
                fputs("tokens per CPU-second", stderr);
                for (int64_t i = 0; i < c->n_evals; i++) fprintf(stderr, " %.0f", c->tok_cpu_s[i]);
                fputc('\n', stderr);
            }
            if ((status = write_csv(&o, cells, k + 1)) < 0) goto fail;
            continue;
        }
        if ((status = cell_train(&o, c, per_cell, path)) < 0 ||
            (status = cell_eval(&o, c, path)) < 0) {
            if (o.common.verbosity >= 1) fputc('\n', stderr);
            ls_error_prefix("%s %s", exp_names[c->exp], model_label(&c->model));
            goto fail;
        }
        c->steps = model_steps(path);
        if (o.common.verbosity >= 1) {
            fprintf(stderr, "%lld steps in %.0f s; accuracy", (long long)c->steps, c->seconds);
            for (int64_t i = 0; i < c->n_evals; i++)
                fprintf(stderr, " %.3f", c->accuracy[i]);
            fputc('\n', stderr);
        }
        if ((status = write_csv(&o, cells, k + 1)) < 0) goto fail;
    }
    char note[1024] = "";
    int plotted = 0;
    static const struct {
        Experiment e;
        const char *name, *title, *xlabel;
        int logx;
    } plots[] = {
        {EXP_MQAR, "mqar", "MQAR accuracy against sequence length", "sequence length", 1},
        {EXP_INDUCTION, "induction", "Induction heads: accuracy at test length", "test length", 1},
        {EXP_RECALL, "recall", "Recall accuracy against distance", "distance", 0},
        {EXP_DSTATE, "dstate", "Mamba on MQAR: accuracy against d_state", "d_state", 1},
        {EXP_SPEED, "speed", "Inference: tokens per CPU-second against length", "length", 1},
    };
    for (size_t p = 0; p < sizeof plots / sizeof plots[0]; p++)
        if (o.experiments[plots[p].e] &&
            (status = write_plot(&o, cells, n, plots[p].e, plots[p].name, plots[p].title,
                                 plots[p].xlabel, plots[p].logx, &plotted, note,
                                 sizeof note)) < 0)
            goto fail;
    if ((status = write_report(&o, cells, n, per_cell, note, plotted)) < 0) goto fail;
    if (o.common.verbosity >= 1) plot_say_written(o.common.output, "results.csv", plotted, note);
    free(cells);
    return EXIT_OK;
fail:
    free(cells);
    return cli_fail("compare", status);
}
