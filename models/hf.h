/*
 * hf.h — causal Mamba models as Hugging Face transformers directories: config.json (a
 * transformers MambaConfig, model_type "mamba") plus model.safetensors (or shards listed in
 * model.safetensors.index.json), as MambaForCausalLM.save_pretrained writes them.
 *
 * transformers' Mamba is mamba_ssm's Mamba-1 block under other top-level names, so the
 * mapping is a rename (docs/checkpoints.md "Hugging Face transformers"):
 *   backbone.embedding.weight  <->  backbone.embeddings.weight
 *   backbone.layers.{i}.…      <->  backbone.layers.{i}.…   (mixer.* and norm.weight as is)
 *   backbone.norm_f.weight     <->  backbone.norm_f.weight
 *   lm_head.weight             <->  lm_head.weight           (absent when tied)
 * A MambaModel directory (no "backbone." prefix) is read too. Classifiers keep their head as
 * classifier.weight / classifier.bias; config.json's "longscan" object records the task,
 * pooling, number of classes and whatever the pipeline adds (data settings, labels).
 *
 * Only what longscan computes the same way is accepted: model_type "mamba", hidden_act SiLU,
 * use_bias false, RMSNorm; anything else is one error naming config.json and the key. Weights
 * may be F32, BF16 or F16 (converted exactly to F32); the directory is read before anything
 * is trusted (every tensor present, no stray one, shapes equal to what config.json implies).
 *
 * Tested by tests/py/test_hf_parity.py (transformers → longscan: the same log-probabilities),
 * tests/py/test_hf_export.py (longscan → transformers) and tests/cli/hf.tst (bad directories).
 */
#ifndef LS_MODELS_HF_H
#define LS_MODELS_HF_H

#include "common/error.h"
#include "models/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/** 1 if @p path names a directory (what -m takes as a transformers model), else 0. */
int model_hf_is_dir(const char *path);

/**
 * Read the transformers Mamba directory @p dir: config.json → ModelConfig (causal Mamba LM, or
 * the classifier its "longscan" object describes), then every tensor mapped by name.
 * @param longscan_json out: config.json's "longscan" object as JSON text (malloc'd, free()), or
 *                      NULL when config.json has none (a model that did not come from longscan)
 * @return 0 and *out (free with model_free()); LS_ERR_IO (no config.json, no weights),
 *         LS_ERR_FORMAT / LS_ERR_UNSUPPORTED (the message names the file and the key or tensor),
 *         LS_ERR_NOMEM.
 */
int model_load_hf(Model **out, const char *dir, const Device *dev,
                  char **longscan_json) LS_RESULT_USED;

/**
 * Whether @p cfg has a transformers equivalent: a causal Mamba (arch mamba) on tokens with
 * RMSNorm. @return 0, or LS_ERR_UNSUPPORTED saying why (BiMamba, the Transformer baseline,
 * waveform input and LayerNorm have no transformers Mamba class).
 */
int model_hf_check(const ModelConfig *cfg) LS_RESULT_USED;

/**
 * Write config.json and model.safetensors (F32, metadata format=pt as transformers writes it)
 * into the existing directory @p dir. @p longscan_json (a JSON object text, or NULL) becomes
 * config.json's "longscan" object, with the model's task, pool and n_classes added.
 * Each file is written to "<file>.tmp", fsync'd and renamed; making the directory appear
 * whole is the caller's (pipeline/hf.c). @return 0, LS_ERR_UNSUPPORTED (model_hf_check),
 * LS_ERR_USAGE (longscan_json not an object), LS_ERR_IO, LS_ERR_NOMEM.
 */
int model_save_hf(const Model *model, const char *dir, const char *longscan_json) LS_RESULT_USED;

#ifdef __cplusplus
}
#endif
#endif
