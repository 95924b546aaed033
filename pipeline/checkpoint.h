/*
 * checkpoint.h — what the pipeline keeps beside a model's weights: the model file's metadata
 * (label map, how inputs were encoded, the training configuration) and the training-state
 * file that lets `longscan train --resume` continue a run bit for bit.
 *
 * Model file MODEL.safetensors (written by model_save(), models/model.h): parameters under
 * their PyTorch names; `__metadata__` holds format=longscan, format_version and config (the
 * model's), plus these keys written here (all values are strings, as safetensors requires):
 *   labels         JSON array of class names, index = class id (classification only)
 *   data           JSON object: {"kind":"dna","softmask":"upper"} or
 *                  {"kind":"audio","sample_rate":8000,"audio_codes":"mulaw8"|"linear8"|"none"}
 *                  or {"kind":"synth"} (ids of synthetic tasks, io/synth.h)
 *                  ("none": the model reads float samples, MODEL_INPUT_WAVEFORM)
 *   training       JSON object of strings: the effective training configuration, as the
 *                  two-column table train prints (STYLE rule 43)
 *   progress       JSON object: step, epoch, and the last validation numbers if any
 *   longscan_version
 * Nothing time-dependent is written, so two runs that reach the same weights write the same
 * bytes (the resume test compares files with cmp).
 *
 * Training state MODEL.state.safetensors (STYLE rule 29): its own format
 * (format=longscan-train-state, format_version=TRAIN_STATE_VERSION), tensors
 *   model.<name>            the parameters (so the state alone restarts a run)
 *   adamw.exp_avg.<name>    AdamW first moment
 *   adamw.exp_avg_sq.<name> AdamW second moment
 * one per parameter tensor, F32, in table order; metadata: step, epoch, epoch_batch (batches
 * of the current epoch done), total_steps, rng_sampler and rng_crop (xoshiro states, four hex
 * words), best_valid_loss / best_step, tokens (real tokens trained on), elapsed_s, config (the
 * model's), training (as above), argv (JSON array of the command line, so `--resume` alone
 * repeats the run), data_digest (16 hex digits: dataset_digest() of the training then the
 * validation examples, so that a resume on edited data of the same lengths is refused; files
 * written before it existed lack it). Every tensor must hold numbers only: a NaN or infinite
 * value is refused at load, naming the tensor and element (st_read_f32_finite).
 * Written to a unique temporary, fsync'd, renamed (st_writer_save).
 *
 * Tested by tests/cli/train.tst (save → resume → cmp with an uninterrupted run; corrupt and
 * truncated checkpoints).
 */
#ifndef LS_CHECKPOINT_H
#define LS_CHECKPOINT_H

#include <stdint.h>

#include "common/error.h"
#include "io/dataset.h"
#include "io/labels.h"
#include "models/model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TRAIN_STATE_FORMAT  "longscan-train-state"
#define TRAIN_STATE_VERSION "1"

/** How a model's inputs are read and encoded; recorded in the model file. */
typedef struct {
    ExampleKind kind;        /* EXAMPLE_DNA, EXAMPLE_AUDIO or EXAMPLE_SYNTH */
    DnaSoftmask softmask;    /* DNA: lower-case rule */
    int         sample_rate; /* audio: Hz every input is resampled to */
    AudioCodes  audio_codes; /* audio: token code book, or AUDIO_CODES_NONE for waveform input */
} DataSettings;

/** "mulaw8", "linear8", "none" and back (LS_ERR_USAGE naming @p option on a bad name). */
const char *checkpoint_audio_codes_name(AudioCodes codes);
int checkpoint_audio_codes_parse(const char *option, const char *name,
                                 AudioCodes *codes) LS_RESULT_USED;

/** DataSettings ↔ JSON object text (*json malloc'd, free()). */
int checkpoint_data_to_json(const DataSettings *data, char **json) LS_RESULT_USED;
int checkpoint_data_from_json(DataSettings *data, const char *json,
                              const char *where) LS_RESULT_USED;

/** A model file opened for eval, predict, embed or score. */
typedef struct {
    Model       *model;
    LabelMap    *labels;     /* classification: the map (count == n_classes); LM: NULL */
    DataSettings data;
    char        *path;
} ModelFile;

/**
 * Open and check @p path: a longscan safetensors file whose metadata carries a config, data
 * settings and (classification) a label map matching n_classes, then load the weights on
 * @p dev and check that every one is a number. @return 0; LS_ERR_IO, LS_ERR_FORMAT (not a
 * longscan model, bad or missing metadata, missing or misshapen tensors, a NaN or infinite
 * weight; the message names the file and the key, or the tensor and element),
 * LS_ERR_NOMEM, LS_ERR_NO_CUDA. Free with checkpoint_close() (also after a failure).
 */
int checkpoint_open(ModelFile *mf, const char *path, const Device *dev) LS_RESULT_USED;
void checkpoint_close(ModelFile *mf);

/**
 * Write the model file (tmp + fsync + rename). @p labels NULL for an LM; @p training and
 * @p progress are JSON object texts or NULL.
 */
int checkpoint_save(const Model *model, const char *path, const LabelMap *labels,
                    const DataSettings *data, const char *training,
                    const char *progress) LS_RESULT_USED;

/** The training loop's position and counters (everything but the tensors). */
typedef struct {
    int64_t  step;          /* optimizer updates done */
    int64_t  epoch;         /* current epoch, 0-based */
    int64_t  epoch_batch;   /* batches of the current epoch done */
    int64_t  total_steps;   /* schedule length */
    uint64_t rng_sampler[4];
    uint64_t rng_crop[4];
    double   best_valid_loss; /* +inf when no validation yet */
    int64_t  best_step;
    int64_t  tokens;        /* real tokens trained on */
    double   elapsed_s;     /* training time before this run */
    uint64_t data_digest;   /* dataset_digest of the training + validation examples */
    int      has_data_digest; /* load: the file recorded one */
} TrainState;

/**
 * Write the training state (rules in the file comment): the model's parameters and AdamW
 * moments (model_adam_m/v) and @p state.
 */
int checkpoint_state_save(const char *path, Model *model, const TrainState *state,
                          const char *training, const char *argv_json) LS_RESULT_USED;

/**
 * Read a state file's metadata without loading tensors: the recorded command line and
 * training configuration (*argv_json, *training malloc'd, free(); either pointer may be NULL).
 * @return 0; LS_ERR_IO / LS_ERR_FORMAT (not a state file, wrong format_version, key missing).
 */
int checkpoint_state_peek(const char *path, char **argv_json, char **training) LS_RESULT_USED;

/**
 * Load a state into an initialised model of the same config: parameters, AdamW moments,
 * counters, data digest. Checks format and version, that the model config equals the
 * recorded one and that every tensor is present with the table's shape and finite values,
 * before touching anything.
 */
int checkpoint_state_load(const char *path, Model *model, TrainState *state) LS_RESULT_USED;

/** "MODEL.state.safetensors" for "MODEL.safetensors" (or "X" + ".state.safetensors"); a path
 *  already ending in ".state.safetensors" is returned as is. malloc'd; NULL: out of memory. */
char *checkpoint_state_path(const char *model_path);

/** "MODEL.best.safetensors" for "MODEL.safetensors" (same rule); malloc'd. */
char *checkpoint_best_path(const char *model_path);

#ifdef __cplusplus
}
#endif
#endif
