/*
 * model.h — one model definition for every backend: causal Mamba, bidirectional Mamba and the
 * Transformer baseline, with a classification or a next-token LM head. This header is the
 * contract between models/ (which implements it from kernels/*.h ops only) and pipeline/
 * (train, eval, predict, embed, score, generate).
 *
 * Architecture (Mamba-1, Gu & Dao; names follow mamba_ssm's state dict so a checkpoint moves
 * to PyTorch with a rename at most — the mapping is in docs/checkpoints.md):
 *   input  → backbone.embedding (tokens) or backbone.stem (waveform frames → d_model)
 *   for each layer i:  h = h + mixer(norm(h))           (pre-norm residual, backbone.layers.i)
 *     Mamba mixer:  in_proj (d_model → 2·d_inner, no bias) → x, z;
 *                   x → conv1d (depthwise causal, d_conv taps, bias) → SiLU
 *                   → x_proj (d_inner → dt_rank + 2·d_state, no bias) → dt, B, C
 *                   dt → dt_proj (dt_rank → d_inner, bias) ; selective scan with
 *                   A = −exp(A_log) (S4D-real init), D skip, softplus(dt + dt_proj.bias), SiLU(z) gate
 *                   → out_proj (d_inner → d_model, no bias)
 *     BiMamba (Caduceus-style): the same mixer weights run forward and over the reversed
 *                   sequence (in/out projections tied), outputs added. With rc_equivariant (DNA),
 *                   see docs/models.md for the parameter sharing between a strand and its
 *                   reverse complement.
 *     Transformer:  norm → multi-head attention (RoPE, causal for LM or bidirectional for
 *                   classification) → residual → norm → MLP (GELU) → residual, on a window of at
 *                   most `window` tokens (the crop is the caller's, see model_crop_window()).
 *   backbone.norm_f → head: classification (pool over valid positions → classifier.weight/bias)
 *                   or LM (lm_head.weight, tied to backbone.embedding.weight when tie_embeddings).
 *
 * Memory: parameters, gradients, AdamW m and v are one buffer each laid out by one ParamTable
 * (models/params.h). Activations live in one arena planned for the largest (B, L) seen; the
 * backward recomputes block internals so the arena is O(B·L·d_model) per layer plus the scan's
 * chunk checkpoints (DESIGN "Chunk-free"). No allocation inside a training step once the
 * arena is planned for that (B, L).
 *
 * Determinism: CPU results are bit-identical for a seed and do not depend on the thread count.
 */
#ifndef LS_MODEL_H
#define LS_MODEL_H

#include <stdint.h>

#include "common/error.h"
#include "kernels/device.h"
#include "models/params.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    MODEL_MAMBA = 0,        /* causal Mamba stack */
    MODEL_BIMAMBA,          /* bidirectional Mamba (forward + reversed, weight-tied) */
    MODEL_TRANSFORMER,      /* pre-norm Transformer baseline on a window */
} ModelArch;

typedef enum {
    MODEL_TASK_CLASSIFY = 0,
    MODEL_TASK_LM,
} ModelTask;

typedef enum {
    MODEL_INPUT_TOKENS = 0, /* ids in [0, vocab): DNA (5) or 8-bit audio codes (256) */
    MODEL_INPUT_WAVEFORM,   /* float samples; non-overlapping frames of `frame` samples are
                               projected to d_model by backbone.stem (a strided linear layer) */
} ModelInput;

typedef enum {
    MODEL_NORM_RMS = 0,
    MODEL_NORM_LAYER,
} ModelNorm;

typedef enum {
    MODEL_POOL_MEAN = 0,    /* mean over valid positions (default) */
    MODEL_POOL_LAST,        /* last valid position (natural for a causal model) */
    MODEL_POOL_FIRST,
} ModelPool;

typedef struct {
    ModelArch  arch;
    ModelTask  task;
    ModelInput input;
    int64_t    vocab;          /* MODEL_INPUT_TOKENS: input vocabulary; LM: also output classes */
    int64_t    frame;          /* MODEL_INPUT_WAVEFORM: samples per frame (>= 1) */
    int64_t    d_model;
    int64_t    n_layers;
    /* Mamba */
    int64_t    d_state;        /* N, default 16 */
    int64_t    d_conv;         /* K, default 4 */
    int64_t    expand;         /* d_inner = expand · d_model, default 2 */
    int64_t    dt_rank;        /* default ceil(d_model / 16) */
    float      dt_min, dt_max; /* dt_proj bias init range, default 0.001 .. 0.1 (mamba_ssm) */
    int        rc_equivariant; /* BiMamba on DNA: reverse-complement parameter sharing */
    /* Transformer */
    int64_t    n_heads;        /* d_model % n_heads == 0 */
    int64_t    mlp_hidden;     /* default 4 · d_model */
    int64_t    window;         /* most tokens one forward sees; 0 = no limit */
    /* shared */
    ModelNorm  norm;
    float      norm_eps;       /* default 1e-5 */
    int64_t    n_classes;      /* classification */
    ModelPool  pool;
    int        tie_embeddings; /* LM with token input: lm_head shares the embedding */
} ModelConfig;

/** Defaults for an architecture and task (d_model 128, 4 layers, the values above). */
void model_config_default(ModelConfig *cfg, ModelArch arch, ModelTask task);

/**
 * Check a config before anything is allocated: every size in range, heads divide d_model,
 * classes >= 2 for classification, vocab >= 2, the combination supported (e.g. waveform input
 * with an LM head is not). @return 0 or LS_ERR_USAGE naming the option ("--d-model 0: ...").
 */
int model_config_check(const ModelConfig *cfg) LS_RESULT_USED;

/** Config ↔ JSON object text (for checkpoint metadata). *json is malloc'd; free() it. */
int model_config_to_json(const ModelConfig *cfg, char **json) LS_RESULT_USED;
/** @param where names the source in messages (e.g. the checkpoint path). */
int model_config_from_json(ModelConfig *cfg, const char *json, const char *where) LS_RESULT_USED;

/** "mamba", "bimamba", "transformer" and back (LS_ERR_USAGE for an unknown name). */
const char *model_arch_name(ModelArch arch);
int         model_arch_parse(const char *name, ModelArch *arch) LS_RESULT_USED;

typedef struct Model Model;

/**
 * Build a model on @p dev and initialise its parameters from @p seed as mamba_ssm / PyTorch do
 * (documented per tensor in docs/models.md). @return 0 and *out (free with model_free()),
 * LS_ERR_USAGE (config), LS_ERR_NOMEM / LS_ERR_CUDA_OOM, LS_ERR_NO_CUDA.
 */
int model_init(Model **out, const ModelConfig *cfg, const Device *dev, uint64_t seed) LS_RESULT_USED;
void model_free(Model *model);

const ModelConfig *model_config(const Model *model);
const ParamTable  *model_param_table(const Model *model);
/** Host-visible parameter and gradient buffers (param_table.total floats each). */
float *model_params(Model *model);
float *model_grads(Model *model);

/** One batch of whole sequences, row-major, padded to L; positions >= lengths[b] are padding. */
typedef struct {
    int64_t        B, L;
    const uint8_t *tokens;   /* (B, L) MODEL_INPUT_TOKENS */
    const float   *samples;  /* (B, L) MODEL_INPUT_WAVEFORM */
    const int64_t *lengths;  /* (B), each in [1, L] */
} ModelBatch;

/**
 * Forward. Classification: logits (B, n_classes). LM: logits (B, L, vocab), position t
 * predicting token t+1. With @p train set, keeps what model_backward needs.
 * @return 0, LS_ERR_USAGE (bad batch: lengths, tokens >= vocab, wrong input kind),
 *         LS_ERR_NOMEM / LS_ERR_CUDA_OOM (arena for this B, L: the message says how much).
 */
int model_forward(Model *model, const ModelBatch *batch, float *logits, int train) LS_RESULT_USED;

/**
 * Backward from dlogits (same shape as the forward's logits) after model_forward(train=1):
 * ACCUMULATES into model_grads().
 */
int model_backward(Model *model, const ModelBatch *batch, const float *dlogits) LS_RESULT_USED;

/** Zero the gradient buffer (one memset). */
void model_zero_grads(Model *model);

/** Pooled final hidden state, (B, d_model): what `longscan embed` writes. */
int model_embed(Model *model, const ModelBatch *batch, float *out) LS_RESULT_USED;

/**
 * The Transformer's window rule, for callers that feed it: a row longer than cfg.window is
 * cropped to `window` tokens — centre crop when @p offset_out is computed for evaluation
 * (mode 0), first tokens (mode 1), or a random start from @p random (mode 2, training).
 * Returns the start offset into the row; length min(len, window). For Mamba models window is
 * 0 and the offset is 0 (no crop, ever).
 */
int64_t model_crop_window(const ModelConfig *cfg, int64_t len, int mode, uint64_t random);

/**
 * Streaming (causal Mamba, LM or classification with last-token pooling): process a sequence
 * in segments with carried conv and SSM state, constant memory, the same result as one pass.
 * model_stream_reset() starts a new sequence of batch rows; each model_stream_forward() call
 * takes the next segment (B, L) of every row (all rows the same length in one call) and writes
 * LM logits (B, L, vocab) or nothing (classification: model_stream_logits() after the last).
 */
int model_stream_reset(Model *model, int64_t B) LS_RESULT_USED;
int model_stream_forward(Model *model, const ModelBatch *segment, float *logits) LS_RESULT_USED;

/**
 * Generation (causal Mamba LM): one token per row through the recurrent step of every layer
 * (conv and scan step ops). model_stream_reset() first; prime with model_stream_forward()
 * on a prompt; then model_generate_step() feeds (B) tokens and writes next-token logits (B, V).
 */
int model_generate_step(Model *model, const uint8_t *tokens, float *logits) LS_RESULT_USED;

/**
 * Checkpoint: parameters (F32, PyTorch names) plus metadata: format=longscan,
 * format_version, config (JSON), and the caller's extra key/values (label map, encoding, ...).
 * model_load() reads the config from the file, builds the model and loads the parameters;
 * any mismatch or corruption is one error naming the file and the tensor.
 */
int model_save(const Model *model, const char *path, int n_extra, const char *const *keys,
               const char *const *values) LS_RESULT_USED;
int model_load(Model **out, const char *path, const Device *dev) LS_RESULT_USED;

#ifdef __cplusplus
}
#endif
#endif
