/*
 * infer.h — the data side shared by train, eval, predict, embed and score: loading the inputs
 * named on a command line into a Dataset, turning examples into items (whole sequences,
 * evaluation windows, the Transformer's crop), and running a model over items in batches
 * with a callback per batch.
 *
 * Batching for inference: items are sorted by length (stable, so equal lengths keep their
 * order; keep_order asks for item order instead) and cut greedily into batches of at most
 * --batch-size rows and --max-tokens padded tokens; an item longer than the tokens budget
 * goes alone into its own batch, whole (never truncated). The callback receives each row's
 * index into the caller's item array, so results land in input order whatever the batch
 * order.
 *
 * The options eval, predict, embed and score share (-m, --data and positional inputs,
 * --seq-len, --max-windows, --batch-size, --max-tokens) come from one macro and one parser,
 * InferArgs, as cli.h does for the common options.
 *
 * Tested through the subcommands (tests/cli/train.tst).
 */
#ifndef LS_INFER_H
#define LS_INFER_H

#include <stdint.h>

#include "common/error.h"
#include "io/dataset.h"
#include "models/model.h"
#include "pipeline/checkpoint.h"
#include "pipeline/cli.h"
#include "pipeline/metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The inputs of one command: sources, `--class LABEL=SOURCE` arguments, a label table. */
typedef struct {
    const char **sources;   /* (n_sources) files, regions, directories, manifests */
    int          n_sources;
    const char **classes;   /* (n_classes) "LABEL=SOURCE" */
    int          n_classes;
    const char  *labels;    /* `name<TAB>label` table or NULL */
    const char  *reference; /* --reference FASTA (CRAM, '=' bases in SAM/BAM) or NULL */
} InputSpec;

/**
 * A stream (stdin, pipe, FIFO) named twice among the sources and classes of @p a and @p b
 * (may be NULL) is a usage error: it can be read once (input_check_streams()).
 * @return 0, LS_ERR_USAGE or LS_ERR_NOMEM.
 */
int infer_check_streams(const InputSpec *a, const InputSpec *b) LS_RESULT_USED;

/**
 * Load every source of @p spec into a new Dataset and finish it (labels → ids). A source
 * "synth:TASK,..." is a synthetic task (io/synth.h, dataset_add_synth).
 * @param opt    dataset options (soft-mask rule, audio rate, label requirement)
 * @param fixed  NULL (ids from the data) or the map to use (a model's, the training set's)
 * @return 0 and *out (free with dataset_free()); the dataset_* errors, or LS_ERR_USAGE when
 *         there is no source at all.
 */
int infer_load(Dataset **out, const DatasetOptions *opt, const InputSpec *spec,
               const LabelMap *fixed) LS_RESULT_USED;

/**
 * Check that @p ds holds what @p data describes (DNA vs audio); the message names the model.
 * @return 0 or LS_ERR_USAGE.
 */
int infer_check_kind(const Dataset *ds, const DataSettings *data,
                     const char *model_path) LS_RESULT_USED;

/**
 * Items to evaluate over examples @p idx[0..n_idx) (idx NULL: all): every example whole
 * (@p seq_len 0), or the deterministic evaluation windows of @p seq_len of the examples at
 * least that long (starting every @p stride tokens, 0 meaning seq_len: non-overlapping; the
 * tail not covered; when there are more than @p max_windows > 0 of them, max_windows evenly
 * spread from the start to the end instead: window_eval_items) and the shorter examples
 * whole. Then, for a model with a
 * window (Transformer), rows longer than it are cropped to the centre window
 * (MODEL_CROP_CENTRE). Items come grouped by example, in example order.
 * @return 0 and *items (malloc'd, free()), *n; LS_ERR_NOMEM.
 */
int infer_items(const Dataset *ds, const int64_t *idx, int64_t n_idx, const ModelConfig *cfg,
                int64_t seq_len, int64_t stride, int64_t max_windows, DatasetItem **items,
                int64_t *n) LS_RESULT_USED;

/** Dataset options that read inputs as a model was trained to (soft-mask rule, audio rate). */
void infer_dataset_options(const DataSettings *data, DatasetLabels labels,
                           DatasetOptions *opt);

/** The model's view of a filled batch (tokens or ids, samples, lengths, target mask). */
void infer_model_batch(const Batch *batch, ModelBatch *mb);

/**
 * Check that a model can read @p ds: the kind (infer_check_kind) and, for synthetic tasks,
 * a vocabulary within the model's (config key vocab). @return 0 or LS_ERR_USAGE.
 */
int infer_check_vocab(const Dataset *ds, const ModelConfig *cfg,
                      const char *model_path) LS_RESULT_USED;

/** Batch options for a model's data settings (waveform input: samples only). */
void infer_batch_options(const DataSettings *data, BatchOptions *opt);

typedef enum {
    INFER_LOGITS = 0,   /* model_forward: (B, n_classes) or LM (B, L, vocab) */
    INFER_EMBED  = 1,   /* model_embed: (B, d_model) */
} InferOutput;

typedef struct {
    int64_t      batch_size;   /* rows per batch, >= 1 */
    int64_t      max_tokens;   /* padded tokens per batch; 0: no budget */
    InferOutput  output;
    BatchOptions batch;
    int          keep_order;   /* 1: batches in item order (no sorting by length), so the
                                  callback sees items in order (streamed output) */
    int          every_position; /* LM: logits at every position even where the data marks
                                    targets (score); default: the targets only, packed */
    int          pack;         /* --pack: each batch's sequences packed into rows
                                  (infer_pack_batch); outputs come back in the padded layout */
} InferOptions;

/**
 * Called once per batch. @p item[b] is row b's index into the caller's items; @p out holds
 * the outputs (layout by InferOutput). A negative return stops the run and is passed on.
 */
typedef int (*InferBatchFn)(void *ctx, const Batch *batch, const int64_t *item,
                            const float *out);

/**
 * Run @p model over @p items[0..n) in batches (rule in the file comment). Every output must
 * be a number: a NaN or infinite logit (over the row's real positions) or embedding is
 * LS_ERR_RANGE naming the record, and the callback never sees it.
 * @return 0, the first model/batch error, or the callback's error.
 */
int infer_run(Model *model, const Dataset *ds, const DatasetItem *items, int64_t n,
              const InferOptions *opt, InferBatchFn fn, void *ctx) LS_RESULT_USED;

/**
 * LM losses of a batch (model_loss row_loss for @p mb: (B, L), or the scored positions only,
 * packed, when mb has a target mask) must be numbers: over each row's predicted positions.
 * @return 0, or LS_ERR_RANGE naming the record and the position.
 * (infer_run itself refuses NaN or infinite logits and embeddings the same way.)
 */
int infer_check_losses(const Dataset *ds, const Batch *batch, const ModelBatch *mb,
                       const float *row_loss) LS_RESULT_USED;

/** Whole-set evaluation numbers (metrics.h formulas). */
typedef struct {
    ModelTask task;
    int64_t   n;          /* items (classification) or sequences (LM) evaluated */
    int32_t   K;          /* classes */
    int64_t  *confusion;  /* (K, K) rows truth, columns prediction */
    double    loss;       /* mean cross-entropy in nats: per item (classification) or per
                             predicted token (LM) */
    double    accuracy, macro_f1, mcc; /* LM: accuracy = hits / nll.n, the exact-match
                                          accuracy of the next token over scored positions */
    int64_t   hits;       /* LM: scored positions whose most probable token is the target */
    double    auroc;      /* two classes with both present, else NaN */
    NllSum    nll;        /* LM: Σ nats and predicted tokens */
    float    *probs;      /* (n, K) class probabilities per item, in item order */
} EvalResult;

/**
 * Evaluate @p model over @p items: classification needs every item's example labelled with
 * an id of the model's map; LM predicts every token from the ones before it, or, on
 * synthetic tasks, only the target tokens (loss, NLL and accuracy count those alone).
 * @return 0 and *res (free with infer_result_free()), or the first error.
 */
int infer_evaluate(Model *model, const Dataset *ds, const DatasetItem *items, int64_t n,
                   const InferOptions *opt, EvalResult *res) LS_RESULT_USED;

void infer_result_free(EvalResult *res);

/** In place: logits → probabilities (softmax in double, written as float) over @p K. */
void infer_softmax(float *row, int64_t K);

// ------------------------------------------------------------------------------ command line

/** The command line of eval, predict, embed and score, less each command's own options. */
typedef struct {
    CommonOptions common;
    const char   *model;        /* -m/--model */
    InputSpec     inputs;       /* sources: --data and positional arguments, in order (the
                                   array is owned); classes and labels: left to the command */
    int64_t       seq_len;      /* --seq-len; 0: whole examples */
    int64_t       max_windows;  /* --max-windows; 0: every window */
    int64_t       stride;       /* --stride; 0: seq_len (non-overlapping windows) */
    int64_t       batch_size;   /* --batch-size */
    int64_t       max_tokens;   /* --max-tokens; 0: no budget */
    int           pack;         /* --pack */
} InferArgs;

/* getopt_long codes of the shared long-only options; commands number theirs from
 * INFER_OPT_FIRST_COMMAND_OPTION. */
enum {
    INFER_OPT_DATA = CLI_OPT_FIRST_COMMAND_OPTION,
    INFER_OPT_SEQ_LEN,
    INFER_OPT_MAX_WINDOWS,
    INFER_OPT_STRIDE,
    INFER_OPT_BATCH_SIZE,
    INFER_OPT_MAX_TOKENS,
    INFER_OPT_REFERENCE,
    INFER_OPT_PACK,
    INFER_OPT_FIRST_COMMAND_OPTION,
};

/* Put in the `static const struct option` table beside CLI_COMMON_LONG_OPTIONS, and "m:" in
 * the getopt string. All four commands take these... */
#define INFER_LONG_OPTIONS                                                                     \
    {"model", required_argument, NULL, 'm'},                                                   \
    {"data", required_argument, NULL, INFER_OPT_DATA},                                         \
    {"batch-size", required_argument, NULL, INFER_OPT_BATCH_SIZE},                             \
    {"max-tokens", required_argument, NULL, INFER_OPT_MAX_TOKENS},                             \
    {"reference", required_argument, NULL, INFER_OPT_REFERENCE}

/* ...and these the commands that evaluate windows (eval, predict, embed; not score). */
#define INFER_WINDOW_LONG_OPTIONS                                                              \
    {"seq-len", required_argument, NULL, INFER_OPT_SEQ_LEN},                                   \
    {"max-windows", required_argument, NULL, INFER_OPT_MAX_WINDOWS},                           \
    {"pack", no_argument, NULL, INFER_OPT_PACK},                                               \
    {"stride", required_argument, NULL, INFER_OPT_STRIDE}

/* Help lines the commands share word for word (the others differ per command). */
#define INFER_HELP_DATA                                                                        \
    "      --data SEQS        another input (the same as a positional SEQS; repeatable)\n"
#define INFER_HELP_REFERENCE                                                                   \
    "      --reference FASTA  reference (with .fai) for CRAM and for SAM/BAM bases written '='\n"
#define INFER_HELP_MAX_TOKENS                                                                  \
    "      --max-tokens N     at most N padded tokens per forward pass (default: no limit)\n"     \
    INFER_HELP_REFERENCE
#define INFER_HELP_BATCH                                                                       \
    "      --batch-size N     sequences per forward pass (default 16)\n" INFER_HELP_MAX_TOKENS     \
    "      --pack             lay each batch's sequences end to end in rows as long as its\n"      \
    "                         longest, so short ones carry no padding (Mamba models; the same\n"  \
    "                         results within fp32 rounding; docs/models.md \"Packed batches\")\n"

/**
 * Defaults (cli_common_default, @p batch_size, no model, no input) and room for up to
 * @p argc sources. @return 0 or LS_ERR_NOMEM; free with infer_args_free() either way.
 */
int infer_args_init(InferArgs *a, int argc, int64_t batch_size) LS_RESULT_USED;

/**
 * Handle one getopt_long result if it is a common option (cli_common_parse) or a shared one.
 * @return 1 handled, 0 neither, LS_ERR_USAGE on a bad value (message names the option).
 */
int infer_args_parse(int opt, const char *arg, InferArgs *a) LS_RESULT_USED;

/**
 * After getopt_long: take argv[optind..argc) as more sources, then require a model and an
 * input (a source or a class of @p a->inputs), then check -o (infer_check_output).
 * @param model_file  the file in "no model: give -m <model_file>"
 * @param no_input    the whole message when there is no input
 * @return 0 or LS_ERR_USAGE.
 */
int infer_args_finish(InferArgs *a, int argc, char **argv, const char *model_file,
                      const char *no_input) LS_RESULT_USED;

/**
 * -o before any work: it can be created, and it is not the model, the label table or an input
 * named on the command line (cli_check_outputs). @return 0, LS_ERR_USAGE, LS_ERR_IO.
 */
int infer_check_output(const InferArgs *a) LS_RESULT_USED;

/**
 * After loading: no output is one of the data files read, including those found through a
 * directory or a manifest (dataset_file_source). @return 0 or LS_ERR_USAGE naming both.
 */
int infer_check_outputs_not_data(const Dataset *ds, const CliPath *outputs,
                                 int n) LS_RESULT_USED;

/**
 * "--max-windows needs --seq-len" (and --stride: "--stride needs --seq-len"). Apart from infer_args_finish() so that embed keeps its
 * order of messages (its output check comes between the two).
 * @return 0 or LS_ERR_USAGE.
 */
int infer_args_check_windows(const InferArgs *a) LS_RESULT_USED;

/**
 * Apply the common options (cli_common_apply), settle --device and --precision
 * (cli_resolve_device: an unusable GPU is one error before any work), open the model there and
 * give it the precision. @return as cli_resolve_device() and checkpoint_open(); close @p mf
 * with checkpoint_close() either way.
 */
int infer_args_open_model(InferArgs *a, ModelFile *mf) LS_RESULT_USED;

/**
 * Load the inputs as @p mf's model was trained to read them (infer_dataset_options), check
 * that -o is none of the data files read (infer_check_outputs_not_data) and check their kind
 * (infer_check_kind). @p labelled: labels required and mapped to the
 * model's ids (classifier evaluation); else labels are ignored.
 * @return 0 and *out (free with dataset_free()); the infer_load / infer_check_kind errors,
 *         *out NULL.
 */
int infer_args_load(const InferArgs *a, const ModelFile *mf, int labelled,
                    Dataset **out) LS_RESULT_USED;

/**
 * A filled batch as the model reads it, packed (io/dataset.h batch_pack, @p frame samples per
 * position for a waveform model, else 1) into @p pk, @p mb pointing into it: one sequence per
 * padded row of @p batch, pk->order[s] the padded row of packed sequence s. @return as
 * batch_pack.
 */
int infer_pack_batch(const Batch *batch, int64_t frame, PackedBatch *pk,
                     ModelBatch *mb) LS_RESULT_USED;

/**
 * Outputs of a packed batch back in the padded batch's layout: one row per sequence
 * (classification logits, embeddings: @p width floats each) moved to its padded row, or LM
 * logits (@p vocab floats per position) of each sequence's positions into its padded row
 * (positions past a row's length set to 0, as the padded forward leaves them).
 */
void infer_unpack_outputs(const Batch *batch, const PackedBatch *pk, const float *packed,
                          float *out, int64_t width, int64_t vocab);

/** Run options from --batch-size, --max-tokens and @p mf's data settings; keep_order 0. */
void infer_args_run_options(const InferArgs *a, const ModelFile *mf, InferOutput output,
                            InferOptions *io);

/** Free the sources array (also after a failed infer_args_init(), or on a zeroed struct). */
void infer_args_free(InferArgs *a);

#ifdef __cplusplus
}
#endif
#endif
