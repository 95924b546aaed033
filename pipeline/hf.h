/*
 * hf.h — Hugging Face transformers model directories as the pipeline sees them: opened as a
 * ModelFile wherever -m takes a model (eval, predict, embed, score), and written whole by
 * `longscan export`. The tensors and config keys are models/hf.h's; this layer adds what a
 * longscan model file carries besides its weights, kept in config.json's "longscan" object:
 *   "data"    how inputs are encoded, as in a model file's metadata (checkpoint.h); absent
 *             (a model from elsewhere): DNA, A C G T N = ids 0..4, soft-masked bases as upper
 *             case. For audio, add {"kind":"audio","sample_rate":R,"audio_codes":"mulaw8"}.
 *   "labels"  a classifier's class names (JSON array), as in a model file's metadata
 * The model's vocabulary must hold every id the data encoding produces (5 for DNA, 256 for
 * 8-bit audio codes); a larger one is fine (its scores are still over the whole vocabulary).
 *
 * Tested by tests/py/test_hf_parity.py, tests/py/test_hf_export.py and tests/cli/hf.tst.
 */
#ifndef LS_PIPELINE_HF_H
#define LS_PIPELINE_HF_H

#include "common/error.h"
#include "pipeline/checkpoint.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Open the transformers directory @p dir as checkpoint_open() opens a model file (same
 * contract; checkpoint_open() calls this for a directory). @return 0; LS_ERR_IO,
 * LS_ERR_FORMAT, LS_ERR_UNSUPPORTED (message names the file and the key or tensor),
 * LS_ERR_NOMEM. Close with checkpoint_close() either way.
 */
int hf_dir_open(ModelFile *mf, const char *dir, const Device *dev) LS_RESULT_USED;

/**
 * Write @p mf as the transformers directory @p dir (config.json + model.safetensors), so that
 * it appears whole or not at all: built in a sibling temporary directory, fsync'd, then
 * renamed into place. @p dir must not exist or be empty; with @p force a directory holding
 * only files export writes (config.json, generation_config.json, model.safetensors, its index
 * and shards) is replaced by an atomic exchange and its old files removed. Anything else in
 * it is refused, never deleted.
 * @return 0; LS_ERR_UNSUPPORTED (no transformers equivalent: model_hf_check), LS_ERR_USAGE
 *         (dir not empty, not a directory), LS_ERR_IO, LS_ERR_NOMEM.
 */
int hf_dir_write(const ModelFile *mf, const char *dir, int force) LS_RESULT_USED;

#ifdef __cplusplus
}
#endif
#endif
