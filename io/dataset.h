/*
 * dataset.h — what `longscan train/eval/predict` feed models from: examples loaded from any
 * input (files, regions, directories, manifests), their labels and splits, random or evenly
 * spaced windows of long records, and padded batches of whole sequences.
 *
 * ---------------------------------------------------------------- life cycle of a Dataset
 *   dataset_init(&ds, &opt)                      options: soft-mask rule, audio rate, labels
 *   dataset_read_labels(ds, "labels.tsv")        optional `name<TAB>label` table (--labels)
 *   dataset_add(ds, source, label, split) ...    any number of sources (see below)
 *   dataset_finish(ds, fixed_map)                labels → ids; errors for missing/unknown
 *   dataset_assign_splits(ds, &split_opt)        optional: split what has no split yet
 *   ... dataset_example(ds, i), dataset_split_indices(), windows, batch_plan_make(), batch_fill()
 *   dataset_free(ds)
 * A trainer given --valid builds a second Dataset for it and finishes it with the first one's
 * map (dataset_labels(train)) as the fixed map, so both share ids and a validation label
 * unseen in training is an error. eval/predict finish with the checkpoint's map.
 *
 * ---------------------------------------------------------------- sources (dataset_add)
 *   file             FASTA/FASTQ (plain, gzip, bgzip), SAM/BAM/CRAM: every record is an
 *                    example named by its record name. Audio (anything libsndfile reads): one
 *                    example, named by the path as written. "*.txt": one raw sequence (letters,
 *                    whitespace ignored; the Genomic Benchmarks per-sequence files), named by
 *                    the path. "-" reads stdin. Kinds are told by magic bytes (input_open,
 *                    which also reads a pipe, FIFO or <(...) exactly once); a checkpoint is
 *                    an error. The same file, or stream, given twice is a usage error.
 *   file:region      a samtools region of an indexed FASTA/BAM/CRAM ("ref.fa:chr2:1-1000",
 *                    example named "chr2:1-1000"), or one record by name ("train.fa:seq7";
 *                    without an index the file is scanned for it).
 *                    The ':' rule: if the whole string names an existing file it is a path;
 *                    otherwise it is split at the first ':' whose left part is an existing
 *                    regular file (so "a:b.fa:chr1" finds the file "a:b.fa"); if none is, the
 *                    whole string is reported as a missing file.
 *   directory        with sub-directories: class per sub-directory (Genomic Benchmarks
 *                    layout `train/<class>/<files>`), the sub-directory's name is the label of
 *                    every file in it. Without: a flat list of its files. Files are taken by
 *                    extension (.fa .fasta .fna .fas .ffn .fq .fastq, each optionally .gz/.bgz;
 *                    .sam .bam .cram .txt; .wav .flac .ogg .oga .opus .mp3 .aif .aiff .aifc .au
 *                    .snd .caf .w64 .rf64 .wv), in sorted name order; other files (indexes,
 *                    READMEs, TSVs) and hidden entries are ignored. A directory holding both
 *                    data files and sub-directories, an empty class directory or a directory
 *                    with no data file is an error. (So audio/fsdd/, whose data sit in one
 *                    recordings/ folder, reads as one class; give its manifest instead.)
 *   manifest (*.tsv) one source per line, `source<TAB>label<TAB>split`, extra columns
 *                    ignored; relative sources are taken from the manifest's own folder.
 *                    An optional first line starting with '#' names the columns: the label
 *                    column is the one called "label" (else "class", else the second column
 *                    unless it is called "split"); the split column is the one called
 *                    "split". So `#file<TAB>digit`, `#file<TAB>label<TAB>split<TAB>speaker` and
 *                    `#file<TAB>split` (no labels) all read as meant. Without a header, column
 *                    2 is the label and column 3 the split. Split values: train; valid, val,
 *                    validation or dev; test; empty = not given. Errors name the manifest and
 *                    the line: empty source, missing or empty label, unknown split, a source
 *                    listed twice, a missing file, a manifest listing manifests, no sources.
 * The same file (same device and inode, same region) given twice, by any route, is an error:
 * it would silently double its weight.
 * Names and labels are saved as JSON text (a model's label map, embedding names), so each is
 * checked as UTF-8 when read: a record name (error names the file and record #), a file name
 * that names its example, a label from a manifest (file:line), a class folder, `--class` or a
 * label table (labels.h). Without labels (DATASET_LABELS_NONE) labels are not read or checked.
 *
 * ---------------------------------------------------------------- labels (dataset_finish)
 * Where an example's label comes from, first match wins: the source's own (a dataset_add
 * label, --class, a class directory, a manifest column); then the label table, by the
 * example's name (a record name, or a file path as written) or, for whole-file examples, by
 * file identity with the table's names taken relative to the table's folder.
 * With DATASET_LABELS_REQUIRED (classification):
 *   - an example with no label is an error naming the source and the example (or, with
 *     skip_unlabelled, it is dropped and one warning says how many);
 *   - a label-table entry that matches no example is a warning (one table often covers
 *     several splits), giving the count and the first such line;
 *   - two examples with the same name taking their labels from the table is an error (the
 *     table cannot tell them apart);
 *   - with a fixed map (a model's), a label outside it is an error naming where the label
 *     came from (file:line) and the labels the map holds.
 * Without a fixed map, ids follow the sorted label order (labels.h). DATASET_LABELS_NONE
 * (language modelling, predict) ignores every label: all examples get -1.
 *
 * ---------------------------------------------------------------- splits
 * Splits come from the data (manifest split column, or a separate --valid dataset). Examples
 * still without one are split by dataset_assign_splits() from the seed alone, by hashing the
 * example's name: u = mix64(fnv1a64(name) ^ mix64(seed)) / 2^64; test if u < test_fraction,
 * valid if u < test + valid fraction, else train. Each example's split depends on its own name
 * only, so adding or removing examples moves no other. With stratify, each label's examples
 * are ranked by u and the first round(n·test), then round(n·valid) go to test and valid:
 * exact proportions per label, and adding one example moves at most one other of its label.
 *
 * ---------------------------------------------------------------- windows and batches
 * A DatasetItem is (example, offset, length): a whole example or a window of one. Windows
 * never cross an example's end. Random training windows come from a WindowSampler (every valid
 * window equally likely, or label-balanced), evaluation windows from window_eval_items
 * (non-overlapping or evenly spaced). Examples shorter than the window are left out with a
 * warning; a window longer than every example is an error, never a clip.
 * Batches hold whole items: a BatchPlan groups items (shuffled, optionally bucketed by length,
 * within a rows and a tokens budget); batch_fill copies them into (B, L) arrays padded past
 * each row's length, L = the longest row. Nothing is ever truncated: an item larger than the
 * tokens budget is an error.
 *
 * Memory: a record's bases are encoded in place in the reader's buffer, which the example
 * then keeps (shrunk to size): a 63-Mb chromosome is held once, as 1-byte tokens.
 * Audio samples are float mono at one rate for the whole dataset.
 *
 * Tested by tests/unit/test_dataset.c (fixtures in tests/data/dataset/).
 */
#ifndef LS_DATASET_H
#define LS_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "io/encode.h"
#include "io/labels.h"
#include "io/rng.h"
#include "io/seq.h"
#include "io/synth.h"

#ifdef __cplusplus
extern "C" {
#endif

// ---------------------------------------------------------------------------- examples

typedef enum {
    EXAMPLE_DNA   = 0,   /* tokens: DNA ids 0..4 (encode.h) */
    EXAMPLE_AUDIO = 1,   /* samples: float mono in [-1, 1] */
    EXAMPLE_SYNTH = 2,   /* a synthetic task's token ids and target mask, generated on demand
                            (io/synth.h); no tokens or samples are stored */
} ExampleKind;

typedef enum {
    SPLIT_NONE  = -1,    /* not given and not assigned */
    SPLIT_TRAIN = 0,
    SPLIT_VALID = 1,
    SPLIT_TEST  = 2,
} Split;

typedef struct {
    const char *name;     /* record name, or the file path as written; owned by the dataset */
    const char *source;   /* file (and ":region") it was read from; owned by the dataset */
    int32_t     label;    /* id in dataset_labels(), -1 unlabelled */
    int8_t      split;    /* a Split */
    int8_t      kind;     /* an ExampleKind */
    int64_t     length;   /* tokens or samples */
    uint8_t    *tokens;   /* (length) DNA, else NULL */
    float      *samples;  /* (length) audio at dataset_sample_rate(), else NULL */
    const SynthTask *synth; /* EXAMPLE_SYNTH: the task that makes it (owned by the dataset) */
    int64_t     synth_index; /* EXAMPLE_SYNTH: its index in the task */
} Example;

typedef enum {
    DATASET_LABELS_NONE     = 0, /* ignore labels everywhere (lm, predict) */
    DATASET_LABELS_OPTIONAL = 1, /* keep labels where given; examples without one get -1 */
    DATASET_LABELS_REQUIRED = 2, /* classification: every example needs one */
} DatasetLabels;

typedef struct {
    DnaSoftmask      softmask;        /* lower-case bases: as upper case (default) or N */
    int              sample_rate;     /* audio: resample every file to this (Hz); 0 = keep the
                                         files' own rate, which must then be the same for all */
    SeqReaderOptions seq;             /* alignment filters, CRAM reference (region: per source) */
    DatasetLabels    labels;          /* default DATASET_LABELS_OPTIONAL */
    int              skip_unlabelled; /* with REQUIRED: drop unlabelled examples (one warning) */
} DatasetOptions;

typedef struct Dataset Dataset;

/** Defaults: soft-masked as upper case, files' own audio rate, labels optional. */
void dataset_options_default(DatasetOptions *opt);

/**
 * An empty dataset. @param opt may be NULL for defaults.
 * @return 0 and *out, or LS_ERR_NOMEM. Free with dataset_free().
 */
int dataset_init(Dataset **out, const DatasetOptions *opt) LS_RESULT_USED;

/** Free every example and the dataset; NULL is a no-op. */
void dataset_free(Dataset *ds);

/**
 * Read the `name<TAB>label` table used by dataset_finish() for examples without a label of
 * their own (labels.h gives the file rules). At most one table per dataset.
 * @return 0; LS_ERR_IO, LS_ERR_FORMAT ("<file>:<line>: <what>"), LS_ERR_USAGE (second table).
 */
int dataset_read_labels(Dataset *ds, const char *path) LS_RESULT_USED;

/**
 * Load every example of @p source (rules in the file comment).
 * @param label  NULL, or the label of all its examples (a class file); a manifest or class
 *               directory that brings its own labels as well is an error.
 * @param split  the split of its examples (SPLIT_NONE: not given); a manifest's split column
 *               overrides it line by line.
 * @return 0; LS_ERR_IO (missing file), LS_ERR_FORMAT (bad file or manifest line),
 *         LS_ERR_NOT_FOUND (record or region), LS_ERR_UNSUPPORTED (region without index,
 *         region on audio), LS_ERR_USAGE (mixing DNA and audio, source twice, after finish),
 *         LS_ERR_NOMEM. The message names the file and, in manifests, the line.
 *         After an error the dataset may hold part of the source: free it.
 */
int dataset_add(Dataset *ds, const char *source, const char *label, Split split) LS_RESULT_USED;

/**
 * dataset_add() for a `LABEL=SOURCE` argument (`--class promoter=a.fa`).
 * @return as dataset_add(); LS_ERR_USAGE when there is no '=' or either side is empty.
 */
int dataset_add_class(Dataset *ds, const char *arg) LS_RESULT_USED;

/**
 * Add one in-memory DNA example (synthetic tasks, tests): @p tokens[0..n) are copied; each
 * must be a DNA token (0..4).
 * @param label  NULL or its label text; @p split as for dataset_add().
 * @return 0; LS_ERR_RANGE (n < 1, a token > 4), LS_ERR_USAGE (audio dataset, finished),
 *         LS_ERR_NOMEM.
 */
int dataset_add_tokens(Dataset *ds, const char *name, const uint8_t *tokens, int64_t n,
                       const char *label, Split split) LS_RESULT_USED;

/**
 * Add the n examples of a synthetic task (@p spec "synth:TASK,key=value,...", io/synth.h):
 * each is named "<task>_s<seed>_<index>" and generated when a batch needs it (nothing is
 * stored). A dataset holds synthetic examples or files, not both.
 * @return 0; LS_ERR_USAGE (bad spec: the message names the key; mixing with DNA or audio;
 *         finished), LS_ERR_NOMEM.
 */
int dataset_add_synth(Dataset *ds, const char *spec, Split split) LS_RESULT_USED;

/**
 * Add one in-memory audio example: @p samples[0..n) (mono, at @p sample_rate Hz) are copied.
 * @return 0; LS_ERR_RANGE (n < 1, rate <= 0), LS_ERR_FORMAT (rate differs from the
 *         dataset's), LS_ERR_USAGE (DNA dataset, finished), LS_ERR_NOMEM.
 */
int dataset_add_samples(Dataset *ds, const char *name, const float *samples, int64_t n,
                        int sample_rate, const char *label, Split split) LS_RESULT_USED;

/**
 * Resolve labels to ids (rules in the file comment) and close the dataset to further adds.
 * @param fixed  NULL: build the map from the labels found (sorted order); otherwise use a copy
 *               of it as is (a model's map, or the training set's for validation).
 * @return 0; LS_ERR_FORMAT (unlabelled example, duplicate name, unknown label), LS_ERR_USAGE
 *         (no examples), LS_ERR_NOMEM.
 */
int dataset_finish(Dataset *ds, const LabelMap *fixed) LS_RESULT_USED;

/** Number of examples. */
int64_t dataset_count(const Dataset *ds);

/** Example @p i (0 <= i < count); owned by the dataset. */
const Example *dataset_example(const Dataset *ds, int64_t i);

/** The label map (after dataset_finish; empty before). Owned by the dataset. */
const LabelMap *dataset_labels(const Dataset *ds);

/** EXAMPLE_DNA or EXAMPLE_AUDIO (DNA for an empty dataset). */
ExampleKind dataset_kind(const Dataset *ds);

/** "DNA", "audio" or "synthetic tokens" (for messages). */
const char *dataset_kind_name(ExampleKind kind);

/** Synthetic examples: the largest vocabulary of their tasks (ids are below it); else 0. */
int64_t dataset_vocab(const Dataset *ds);

/** Audio: the samples' rate in Hz; DNA: 0. */
int dataset_sample_rate(const Dataset *ds);

/**
 * The source (as written) through which the dataset read the file @p path, matched by device
 * and inode (hard and symbolic links count), or NULL when it read no such file or @p path does
 * not exist. Callers refuse an output that would replace a file they read.
 */
const char *dataset_file_source(const Dataset *ds, const char *path);

typedef struct {
    int64_t count;       /* examples */
    int64_t total;       /* tokens or samples in all of them */
    int64_t min_length;  /* 0 when count is 0 */
    int64_t max_length;
    int64_t unlabelled;  /* examples with label -1 */
} DatasetStats;

/**
 * Statistics over examples @p idx[0..n) (idx NULL: all examples).
 * @param label_counts  NULL, or (label_map_count) receiving examples per label id.
 */
void dataset_stats(const Dataset *ds, const int64_t *idx, int64_t n, DatasetStats *stats,
                   int64_t *label_counts);

/**
 * A 64-bit digest of examples @p idx[0..n) (idx NULL: all) in that order: for each, its
 * length, its label (the text, "" when unlabelled) and its tokens or samples (bytes), chained
 * from @p seed (pass 0, or a previous digest to continue). Names and sources are left out, so
 * renaming a file changes nothing; any other change of what training would read does. Not
 * cryptographic: it tells `train --resume` that the data were edited since the run started.
 * Each 8-byte word goes through an xor-multiply-xorshift step that is a bijection of the
 * running value, so two inputs that differ in one word only (one edited base, sample or
 * label) always give different digests; other edits collide with probability ~2^-64.
 */
uint64_t dataset_digest(const Dataset *ds, const int64_t *idx, int64_t n, uint64_t seed);

// ---------------------------------------------------------------------------- splits

/** "train", "valid", "test", "none". */
const char *dataset_split_name(Split split);

/**
 * Parse a split name: train; valid, val, validation, dev; test (case-insensitive).
 * @return 0, or LS_ERR_RANGE (no message set; callers add file and line).
 */
int dataset_split_parse(const char *text, Split *split) LS_RESULT_USED;

typedef struct {
    uint64_t seed;
    double   valid_fraction;  /* share of the examples without a split, in [0, 1] */
    double   test_fraction;   /* valid + test <= 1 */
    int      stratify;        /* exact per-label proportions (rank rule) */
} SplitOptions;

/**
 * Give every example still at SPLIT_NONE a split by the hash rule (file comment).
 * Fractions of zero put them all in train. Call after dataset_finish().
 * @return 0; LS_ERR_USAGE (bad fractions, before finish); LS_ERR_NOMEM.
 */
int dataset_assign_splits(Dataset *ds, const SplitOptions *opt) LS_RESULT_USED;

/** The split's value in [0, 1) for @p name under @p seed (the u of the hash rule). */
double dataset_split_hash(const char *name, uint64_t seed);

/**
 * Indices of the examples in @p split, ascending.
 * @return 0 and *idx (malloc'd, free(); NULL when *n is 0), or LS_ERR_NOMEM.
 */
int dataset_split_indices(const Dataset *ds, Split split, int64_t **idx,
                          int64_t *n) LS_RESULT_USED;

// ---------------------------------------------------------------------------- items and windows

typedef struct {
    int64_t example;   /* index in the dataset */
    int64_t offset;    /* first token / sample */
    int64_t length;    /* tokens / samples taken */
} DatasetItem;

/**
 * One whole-example item per index (idx NULL: every example, in order).
 * @return 0 and *items (malloc'd, free()), or LS_ERR_NOMEM.
 */
int dataset_items_whole(const Dataset *ds, const int64_t *idx, int64_t n,
                        DatasetItem **items) LS_RESULT_USED;

/**
 * Deterministic evaluation windows of @p window over examples @p idx[0..n) (NULL: all):
 * offsets 0, stride, 2·stride, … while the window fits (stride <= 0 means stride = window:
 * non-overlapping; the tail shorter than a window is not covered). With
 * @p max_per_example > 0 and more windows than that, exactly max_per_example windows are
 * spread evenly instead: offset_k = floor(k·(len − window) / (max − 1)) (one window: centred).
 * Examples shorter than @p window are left out (one warning with their count).
 * @return 0 and *items (malloc'd, free()), *n_items; LS_ERR_USAGE (window < 1);
 *         LS_ERR_RANGE (window longer than every example, message gives the longest).
 */
int window_eval_items(const Dataset *ds, const int64_t *idx, int64_t n, int64_t window,
                      int64_t stride, int64_t max_per_example, DatasetItem **items,
                      int64_t *n_items) LS_RESULT_USED;

typedef struct WindowSampler WindowSampler;

/**
 * A sampler of random windows of @p window over examples @p idx[0..n) (NULL: all).
 * Unbalanced: every window (example, offset) that fits is equally likely — an example is
 * drawn with weight length − window + 1, then the offset uniformly. Balanced: first a label
 * uniformly among the labels of the candidate examples, then a window of that label as
 * above (needs every example labelled).
 * Examples shorter than the window are left out (one warning).
 * @return 0 and *out (free with window_sampler_free()); LS_ERR_USAGE (window < 1, balanced
 *         with unlabelled examples); LS_ERR_RANGE (window longer than every example, or, when
 *         balanced, than every example of one label: the message names it); LS_ERR_NOMEM.
 */
int window_sampler_init(WindowSampler **out, const Dataset *ds, const int64_t *idx, int64_t n,
                        int64_t window, int balanced, uint64_t seed) LS_RESULT_USED;

/** Free; NULL is a no-op. */
void window_sampler_free(WindowSampler *sampler);

/** Draw @p n windows into @p items. Advances the sampler's Rng only. */
void window_sampler_next(WindowSampler *sampler, DatasetItem *items, int64_t n);

/** The sampler's generator: save/restore it with rng_get_state()/rng_set_state() to resume. */
Rng *window_sampler_rng(WindowSampler *sampler);

/** Number of examples the sampler draws from (those at least one window long). */
int64_t window_sampler_count(const WindowSampler *sampler);

// ---------------------------------------------------------------------------- batch plans

typedef struct {
    int64_t batch_size;   /* most items per batch, >= 1 */
    int64_t max_tokens;   /* 0: no budget; else items × longest item <= max_tokens per batch */
    int     bucket;       /* 1: batch items of similar length together (less padding) */
    int     shuffle;      /* 1: random order from the Rng (items, ties and batch order) */
} BatchPlanOptions;

typedef struct {
    DatasetItem *items;          /* (n_items) in batch order */
    int64_t      n_items;
    int64_t     *starts;         /* (n_batches + 1): batch k is items[starts[k] .. starts[k+1]) */
    int64_t      n_batches;
    int64_t      real_tokens;    /* sum of item lengths */
    int64_t      padded_tokens;  /* sum over batches of rows × longest row */
} BatchPlan;

/**
 * Group @p items into batches. Order: shuffled with @p rng when opt->shuffle (else as
 * given); with bucket, then stably sorted by length (so equal lengths stay shuffled), cut
 * greedily into batches within both budgets, and the batch order shuffled. Without bucket,
 * cut greedily in order. An epoch's plan depends only on the items, the options and the Rng
 * state: seed the Rng with rng_seed_stream(seed, epoch) to recreate any epoch on resume.
 * @param ds   used only to name an oversized item in the message; may be NULL.
 * @param rng  needed when shuffle is set; may be NULL otherwise.
 * @return 0 and *plan (free with batch_plan_free()); LS_ERR_USAGE (batch_size < 1,
 *         max_tokens < 0, shuffle without rng); LS_ERR_RANGE (an item longer than
 *         max_tokens); LS_ERR_NOMEM.
 */
int batch_plan_make(BatchPlan *plan, const Dataset *ds, const DatasetItem *items, int64_t n,
                    const BatchPlanOptions *opt, Rng *rng) LS_RESULT_USED;

/** Free the plan's arrays and zero it; safe on a zeroed plan. */
void batch_plan_free(BatchPlan *plan);

// ---------------------------------------------------------------------------- batches

typedef enum {
    AUDIO_CODES_MULAW8  = 0,  /* tokens = 8-bit µ-law codes of the samples (default) */
    AUDIO_CODES_LINEAR8 = 1,  /* tokens = 8-bit linear codes */
    AUDIO_CODES_NONE    = 2,  /* audio batches carry samples only (tokens NULL) */
} AudioCodes;

typedef struct {
    int        pad_token;    /* tokens past a row's end; -1: DNA_N for DNA, the code of 0.0
                                for audio (default) */
    AudioCodes audio_codes;
} BatchOptions;

/** Defaults: pad_token -1 (automatic), µ-law codes for audio. */
void batch_options_default(BatchOptions *opt);

typedef struct {
    int64_t  B;          /* rows */
    int64_t  L;          /* longest row = row stride */
    int64_t *lengths;    /* (B) real length of each row; positions >= lengths[b] are padding */
    int32_t *labels;     /* (B) label id, -1 unlabelled */
    int64_t *examples;   /* (B) example index of each row */
    int64_t *offsets;    /* (B) offset of each row in its example (0 for whole examples) */
    uint8_t *tokens;     /* (B, L) DNA tokens or audio codes, padded; NULL for AUDIO_CODES_NONE */
    float   *samples;    /* (B, L) audio samples, 0 past each row's end; NULL for DNA */
    int32_t *ids;        /* (B, L) synthetic token ids, 0 past each row's end; else NULL */
    uint8_t *target;     /* (B, L) synthetic: 1 on the task's target tokens; else NULL */
    int32_t *answers;    /* (B, L) synthetic: ids with every answer in place (MQAR's are not
                            in ids: synth_example()); else NULL */
    /* buffers, reused from fill to fill (no allocation once the largest batch was seen) */
    uint8_t *tokens_buf;
    float   *samples_buf;
    int32_t *ids_buf;
    uint8_t *target_buf;
    int32_t *answers_buf;
    int64_t  synth_cap;  /* cells in ids_buf, target_buf and answers_buf */
    int64_t  rows_cap;
    int64_t  cells_cap;  /* elements in tokens_buf (and samples_buf once audio was seen) */
} Batch;

/**
 * Fill @p batch (zero it before first use: `Batch b = {0};`) with @p items[0..n), whole:
 * row b holds item b's tokens/samples, padded to L, the longest item. Synthetic examples are
 * generated here (ids and target, no tokens); a window of one generates the whole example
 * into a scratch row first.
 * @param opt may be NULL for defaults.
 * @return 0; LS_ERR_RANGE (an item outside its example, n < 1); LS_ERR_NOMEM.
 */
int batch_fill(Batch *batch, const Dataset *ds, const DatasetItem *items, int64_t n,
               const BatchOptions *opt) LS_RESULT_USED;

/** Free the buffers and zero the batch; safe on a zeroed batch. */
void batch_free(Batch *batch);

// ---------------------------------------------------------------------------- packed batches

/*
 * A filled Batch laid out packed (models/model.h "Packed batches"): the same sequences,
 * several per row end to end, so that short sequences do not each carry a row of padding.
 * Which sequences form a batch does not change (the plan is the padded run's), only their
 * layout: rows are as long as the batch's longest sequence (its padded L, rounded up to whole
 * frames), and each sequence goes, in batch order, into the first row with room for it
 * (first-fit; deterministic). No sequence is ever split, and none can be longer than a row:
 * the longest fills one. A waveform sequence of n samples takes ceil(n / frame) positions and
 * starts on a frame boundary.
 */
typedef struct {
    int64_t  B, L;        /* packed rows; row length (tokens or samples) */
    int64_t  S;           /* sequences: the padded batch's rows */
    int64_t *row_seqs;    /* (B) sequences in each row */
    int64_t *seq_lengths; /* (S) in packed order (row by row) */
    int64_t *order;       /* (S) the padded row of each packed sequence */
    int64_t *row_of;      /* (S) its packed row */
    int64_t *at;          /* (S) its first position in that row (positions, not samples) */
    int32_t *labels;      /* (S) labels in packed order */
    uint8_t *tokens;      /* (B, L) buffer: the rows when the padded batch has tokens */
    float   *samples;     /* (B, L) buffer: the rows when the padded batch has samples */
    int64_t  seq_cap, cells_cap;
} PackedBatch;

/**
 * Lay @p batch out packed into @p pk (zero it before first use; buffers are reused).
 * @param frame  samples per model position (waveform models), 1 for tokens
 * @return 0; LS_ERR_UNSUPPORTED for synthetic batches (ids, target masks: they stay padded);
 *         LS_ERR_NOMEM.
 */
int batch_pack(PackedBatch *pk, const Batch *batch, int64_t frame) LS_RESULT_USED;

/** Free the buffers and zero @p pk; safe on a zeroed one. */
void packed_batch_free(PackedBatch *pk);

#ifdef __cplusplus
}
#endif
#endif
