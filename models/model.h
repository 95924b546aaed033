/*
 * model.h — one model definition for every backend: causal Mamba, bidirectional Mamba and the
 * Transformer baseline, with a classification or a next-token LM head. This header is the
 * contract between models/ (which implements it from kernels/<op>.h ops only) and pipeline/
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
 *     BiMamba (Caduceus-style): a forward mixer (mixer.mamba_fwd.*) and a reverse mixer
 *                   (mixer.mamba_rev.*: its own conv1d, x_proj, dt_proj, A_log, D) run over the
 *                   sequence and over each row reversed within its own length; in_proj and
 *                   out_proj are tied (stored once, under mamba_fwd); the two outputs are added.
 *                   Classification only (it sees the future, so it cannot be a next-token LM).
 *                   With rc_equivariant (DNA tokens), the whole backbone also runs, with the
 *                   same parameters, over the reverse complement of each row and the two pooled
 *                   vectors are averaged before the head: logits(x) == logits(revcomp(x)),
 *                   bit for bit (docs/models.md).
 *     Transformer:  norm → multi-head attention (RoPE, causal or bidirectional: cfg.causal)
 *                   → residual → norm2 → MLP (GELU) → residual, on a window of at most `window`
 *                   tokens (the crop is the caller's, see model_crop_window()).
 *     Hybrid (Jamba-style, Lieber et al. 2024): a Mamba stack in which the layers of
 *                   cfg.attn_layers are Transformer blocks instead (attention with RoPE + MLP,
 *                   on the whole sequence, no window); each layer keeps its own block's
 *                   names (backbone.layers.i.mixer.* as in mamba_ssm, or the Transformer's).
 *   backbone.norm_f → head: classification (pool over valid positions → classifier.weight/bias)
 *                   or LM (lm_head.weight, tied to backbone.embedding.weight when tie_embeddings).
 *
 * Input: MODEL_INPUT_WAVEFORM is the waveform encoder of the audio classifier: a learned strided
 * stem (backbone.stem, = nn.Conv1d(1, d_model, frame, stride=frame)) turns each non-overlapping
 * frame of `frame` samples into one position; a row of n samples gives ceil(n/frame) positions,
 * the last frame zero-filled. No spectrogram. Classification only.
 *
 * Devices: a model lives on one Device (model_init / model_load): its parameters, gradients,
 * AdamW moments and activation arena are that device's memory, and every op runs there
 * (models/ops.c). The API is host-facing all the same: batches, labels, logits, dlogits, losses
 * and embeddings are host memory on every device, copied in and out by the model; the GPU
 * training step model_forward_backward() keeps logits and dlogits on the device and reads back
 * only the loss. Parameters and moments move between host and device only through
 * model_buffer_read / model_buffer_write (checkpoints, the state file).
 * Precision (GPU): fp32 (the specification, for parity) or bf16 mixed precision
 * (model_set_precision): bf16 block activations and tensor-core GEMMs with fp32 accumulation;
 * parameters, gradients, AdamW state, the residual stream, the scan and conv states and the head
 * stay fp32 (docs/models.md "Precision"). Checkpoints are fp32 whatever ran.
 *
 * Memory: parameters, gradients, AdamW m and v are one buffer each laid out by one ParamTable
 * (models/params.h). Activations live in one arena planned for the largest (B, L) seen; the
 * backward recomputes block internals from each layer's input, so training keeps the residual
 * stream per layer (O(B·L·d_model) each) plus, per Mamba layer, the conv and scan states at
 * tile boundaries; block internals exist only for one tile of tokens at a time (Mamba) or one
 * window (Transformer). Forward-only keeps two (B·L, d_model) buffers plus one tile. No
 * allocation inside a training step once the arena is planned for that (B, L). See
 * docs/models.md "Memory".
 *
 * Determinism: CPU results are bit-identical for a seed and do not depend on the thread count.
 * Threads: the OpenMP thread count (omp_set_num_threads) is the only knob; the matmul kernel
 * runs BLAS single-threaded on fixed blocks and spreads the blocks over the OpenMP threads
 * (kernels/matmul.h), because OpenBLAS's own threading changes results with the thread count.
 * Details: docs/models.md.
 */
#ifndef LS_MODEL_H
#define LS_MODEL_H

#include <stdint.h>

#include "common/error.h"
#include "kernels/device.h"
#include "kernels/dtype.h"
#include "kernels/optim.h"
#include "models/params.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    MODEL_MAMBA = 0,        /* causal Mamba stack */
    MODEL_BIMAMBA,          /* bidirectional Mamba (forward + reversed, weight-tied) */
    MODEL_TRANSFORMER,      /* pre-norm Transformer baseline on a window */
    MODEL_HYBRID,           /* Jamba-style: Mamba layers, attention (+ MLP) blocks in some */
} ModelArch;

/** Most layers of a model (the attention-layer set of a hybrid is a bitmask of this many). */
#define MODEL_MAX_LAYERS 1024

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
    int64_t    n_heads;        /* d_model % n_heads == 0, head dim even (RoPE), <= 256 */
    int64_t    mlp_hidden;     /* hidden width of each block's MLP; -1 (default): 4 · d_model;
                                  0: no MLP, attention-only blocks (norm2, fc1, fc2 absent),
                                  as the Transformer of Zoology's MQAR table */
    int64_t    window;         /* most tokens one forward sees; 0 = no limit */
    int        causal;         /* attention: 1 causal (required for LM), 0 bidirectional;
                                  default 1 for LM, 0 for classification */
    /* Hybrid: bit i set = layer i is a Transformer block (attention + MLP), else a Mamba
       layer; at least one of each (model_config_set_attn_*) */
    uint64_t   attn_layers[MODEL_MAX_LAYERS / 64];
    /* shared */
    ModelNorm  norm;
    float      norm_eps;       /* default 1e-5 */
    int64_t    n_classes;      /* classification */
    ModelPool  pool;
    int        tie_embeddings; /* LM with token input: lm_head shares the embedding (no
                                  lm_head.weight tensor then); default 1 */
} ModelConfig;

/** Checkpoint metadata format_version written by model_save and required by model_load. */
#define MODEL_FORMAT_VERSION "1"

typedef struct Model Model;

/** Defaults for an architecture and task (d_model 128, 4 layers, the values above). */
void model_config_default(ModelConfig *cfg, ModelArch arch, ModelTask task);

/**
 * Check a config before anything is allocated: every size in range, heads divide d_model,
 * classes >= 2 for classification, vocab in 2..MODEL_VOCAB_MAX, the combination supported:
 * waveform input
 * and BiMamba are classification only; rc_equivariant needs BiMamba on DNA tokens (vocab 4
 * or 5, complement t → 3 − t, N = 4 kept); an LM Transformer must be causal.
 * @return 0 or LS_ERR_USAGE naming the option ("--d-model 0: ...").
 */
int model_config_check(const ModelConfig *cfg) LS_RESULT_USED;

/** Config ↔ JSON object text (for checkpoint metadata). *json is malloc'd; free() it. */
int model_config_to_json(const ModelConfig *cfg, char **json) LS_RESULT_USED;
/** @param where names the source in messages (e.g. the checkpoint path). */
int model_config_from_json(ModelConfig *cfg, const char *json, const char *where) LS_RESULT_USED;

/** 1 when layer @p i is an attention block: every layer of a Transformer, the chosen layers
 *  of a hybrid, none of a Mamba. */
int model_layer_is_attention(const ModelConfig *cfg, int64_t i);

/** Attention layers of a model (0 for Mamba, n_layers for a Transformer). */
int64_t model_attention_layers(const ModelConfig *cfg);

/**
 * Hybrid layer plan from `--attn-layers 2,5` (0-based layer indices, comma-separated, each
 * < cfg->n_layers, no repeats): replaces the set. @return 0 or LS_ERR_USAGE naming
 * --attn-layers and the bad item.
 */
int model_config_set_attn_layers(ModelConfig *cfg, const char *list) LS_RESULT_USED;

/**
 * Hybrid layer plan from `--attn-every K`: one attention block in the middle of every K
 * layers, layers i with i % K == K / 2 (Jamba's 1:7 is K = 8: layers 4, 12, ...; K = 4 on 4
 * layers: layer 2). The default of a hybrid is K = n_layers (one attention block, in the
 * middle). @return 0 or LS_ERR_USAGE (K < 1 or no layer chosen) naming --attn-every.
 */
int model_config_set_attn_every(ModelConfig *cfg, int64_t K) LS_RESULT_USED;

/** "mamba", "bimamba", "transformer", "hybrid" and back (LS_ERR_USAGE for an unknown name). */
const char *model_arch_name(ModelArch arch);
int         model_arch_parse(const char *name, ModelArch *arch) LS_RESULT_USED;

/**
 * Build a model on @p dev (DEVICE_CUDA: that GPU is made current) and initialise its parameters
 * from @p seed as mamba_ssm / PyTorch do (documented per tensor in docs/models.md; drawn on the
 * host, so every device starts from the same bytes). Activations are fp32.
 * @return 0 and *out (free with model_free()), LS_ERR_USAGE (config), LS_ERR_NOMEM /
 *         LS_ERR_CUDA_OOM (the message gives the bytes asked for and free), LS_ERR_CUDA,
 *         LS_ERR_NO_CUDA (a CPU-only build).
 */
int model_init(Model **out, const ModelConfig *cfg, const Device *dev,
               uint64_t seed) LS_RESULT_USED;
void model_free(Model *model);

const ModelConfig *model_config(const Model *model);
const ParamTable  *model_param_table(const Model *model);
const Device      *model_device(const Model *model);

/**
 * Storage of the block activations: DTYPE_F32 (default; the only one on the CPU) or DTYPE_BF16
 * (GPU mixed precision; allocates the bf16 copy of the weights). Takes effect from the next
 * forward. @return 0; LS_ERR_UNSUPPORTED for bf16 on the CPU; LS_ERR_CUDA_OOM.
 */
int   model_set_precision(Model *model, DType act) LS_RESULT_USED;
DType model_precision(const Model *model);

/** Parameter and gradient buffers (param_table.total floats each) on the model's device: host
 *  memory only for DEVICE_CPU. Use model_buffer_read/write to see them from the host. */
float *model_params(Model *model);
float *model_grads(Model *model);

/** The four buffers laid out by the parameter table. */
typedef enum {
    MODEL_BUF_PARAMS = 0,
    MODEL_BUF_GRADS,
    MODEL_BUF_ADAM_M,
    MODEL_BUF_ADAM_V,
} ModelBuffer;

/** Copy param_table.total floats of buffer @p which into host memory @p host (waits for the
 *  device). @return 0, LS_ERR_CUDA. */
int model_buffer_read(const Model *model, ModelBuffer which, float *host) LS_RESULT_USED;
/** Replace buffer @p which with param_table.total floats from host memory. @return 0,
 *  LS_ERR_CUDA. */
int model_buffer_write(Model *model, ModelBuffer which, const float *host) LS_RESULT_USED;

/**
 * One batch of whole sequences, row-major, padded to L; positions >= lengths[b] are padding
 * (never read: any byte or float may be there). Waveform batches count samples in L and
 * lengths. A row's results do not depend on the other rows or on the padding.
 *
 * Packed batches (row_seqs set; Mamba models): a row holds several sequences laid end to end
 * from position 0, so that rows of short sequences carry no padding. Row b holds row_seqs[b]
 * >= 1 sequences; their lengths are seq_lengths, row after row (S = Σ row_seqs entries;
 * tokens, or samples for a waveform model). Row b's valid positions are the sum of its
 * sequences' positions, the rest of the row is padding; lengths must be NULL. A waveform
 * sequence of n samples has ceil(n/frame) positions and starts on a frame boundary: sample
 * frame·a where a is the positions of the sequences before it in the row (the samples between
 * its end and that boundary are padding, never read).
 * Every sequence is computed as if it were alone in a row: the conv and the scan restart at
 * its first token (kernels' reset), BiMamba's reverse pass and the reverse complement reverse
 * each sequence in place, pooling is per sequence, and an LM position predicts the next token
 * of its own sequence only (the last position of each sequence predicts nothing). The
 * results equal those of the padded batch of the same sequences within fp32 rounding
 * (docs/models.md "Packed batches"). Classification logits, labels and embeddings have one
 * row per sequence (S rows, in row order: model_batch_sequences); LM logits stay (B, L, V).
 * The Transformer and the hybrid refuse packed batches (LS_ERR_UNSUPPORTED): their attention
 * would need a block-diagonal mask that the attention kernels do not have.
 */
typedef struct {
    int64_t        B, L;
    const uint8_t *tokens;   /* (B, L) MODEL_INPUT_TOKENS: 8-bit ids (DNA, audio codes) */
    const int32_t *ids;      /* (B, L) MODEL_INPUT_TOKENS instead of tokens: ids of any
                                vocabulary (synthetic tasks); exactly one of the two is set */
    const float   *samples;  /* (B, L) MODEL_INPUT_WAVEFORM */
    const int64_t *lengths;  /* (B), each in [1, L]; NULL: every row has L */
    const uint8_t *target;   /* (B, L) or NULL; LM only: a target mask. Position t of row b
                                is scored (it predicts token t+1) only when t + 1 < lengths[b]
                                and target[b, t+1] != 0, and the LM's logits are computed for
                                those positions only, packed (model_output_rows). The
                                classifier ignores it. */
    const int32_t *answers;  /* (B, L) or NULL; LM only: the next-token targets when they
                                differ from the input: position t is scored on answers[b,
                                t+1] instead of the token at t+1 (a task that shows its
                                answers to no one, MQAR: io/synth.h). NULL: the input. */
    const int64_t *row_seqs;    /* (B) or NULL: sequences packed in each row (see above) */
    const int64_t *seq_lengths; /* (S) with row_seqs: each sequence's tokens or samples */
} ModelBatch;

/** Sequences of @p batch: Σ row_seqs for a packed batch, else B (rows of classification
 *  logits, labels and embeddings). */
int64_t model_batch_sequences(const ModelBatch *batch);

/** Largest vocabulary of a token model (ids are int32 inside; embeddings (vocab, D)). */
#define MODEL_VOCAB_MAX INT64_C(16777216)

/**
 * Rows of model_forward()'s logits (and of model_loss()'s dlogits and row_loss) for @p batch:
 * B for a classifier (the sequences of a packed batch); for an LM B·L, or, with a target mask, the scored positions in
 * row-major (b, t) order (0 when the batch has no target: then the forward computes no
 * logits, and the loss is 0).
 */
int64_t model_output_rows(const Model *model, const ModelBatch *batch);

/**
 * Forward. Classification: logits (B, n_classes). LM: logits (B, L, vocab), position t
 * predicting token t+1 (padded positions get logits 0); with a target mask in the batch,
 * (model_output_rows, vocab): the scored positions only, packed. @p logits is host memory on
 * every device (the GPU's are copied back). With @p train set,
 * keeps what model_backward needs (until the next forward, embed or stream call).
 * @return 0, LS_ERR_USAGE (bad batch: lengths, tokens >= vocab, wrong input kind, a
 *         Transformer row longer than cfg.window),
 *         LS_ERR_NOMEM / LS_ERR_CUDA_OOM (arena for this B, L: the message says how much).
 */
int model_forward(Model *model, const ModelBatch *batch, float *logits, int train) LS_RESULT_USED;

/**
 * Backward from dlogits (host memory, same shape as the forward's logits) after
 * model_forward(train=1) on the same batch: ACCUMULATES into model_grads(). LS_ERR_USAGE when
 * no such forward ran.
 */
int model_backward(Model *model, const ModelBatch *batch, const float *dlogits) LS_RESULT_USED;

/**
 * One training step's forward, cross-entropy and backward on the model's device, with logits
 * and dlogits kept there: model_forward(train=1) + model_loss + model_backward in one call,
 * the same arithmetic (classification: @p labels (B), host memory; LM: the next tokens, as
 * model_loss). ACCUMULATES the gradient of mean_loss·grad_scale into model_grads(). The host
 * waits for the GPU once, at the end, for *mean_loss (and inside the kernels that check
 * indices on the device: embedding, pool, loss).
 * @return 0; the errors of model_forward and model_loss.
 */
int model_forward_backward(Model *model, const ModelBatch *batch, const int32_t *labels,
                           float grad_scale, double *mean_loss) LS_RESULT_USED;

/** Zero the gradient buffer (one memset on the model's device). @return 0 or LS_ERR_CUDA. */
int model_zero_grads(Model *model) LS_RESULT_USED;

/**
 * Told by the backward that floats [lo, param_table.total) of model_grads() are final for this
 * backward: nothing it still has to queue writes them (on the GPU the kernels that wrote them
 * are queued, not necessarily done: order work after them on the calling thread's stream).
 * Data parallelism all-reduces each bucket of gradients from here while the backward goes on.
 * A negative return stops the backward and is passed on.
 */
typedef int (*ModelGradReady)(void *ctx, int64_t lo);

/**
 * Call @p fn during every backward (model_backward, model_forward_backward) with the values of
 * model_grad_marks(), in that order; NULL turns it off. The table is laid out input stage,
 * layer 0 .. n−1, final norm, head, and the backward runs the other way, so each layer's
 * backward finishes the tail of the buffer that begins with its first tensor (a tied LM head
 * is the embedding, finished only by the input stage).
 */
void model_set_grad_ready(Model *model, ModelGradReady fn, void *ctx);

/**
 * The offsets the backward reports, in its order (strictly decreasing, the last one 0): after
 * the head and final norm, after each layer from the last, after the input stage.
 * @return their count (n_layers + 2); @p marks (NULL: count only) gets them.
 */
int64_t model_grad_marks(const Model *model, int64_t *marks);

/**
 * Rows (batch rows × positions) of one Mamba tile, the unit a layer's internals exist for
 * (docs/models.md "Tiles"): default 16,384 on the CPU; on the GPU 65,536, or a quarter of a
 * longer input's rows up to 262,144 (setting a value turns that off). Larger tiles mean
 * fewer, larger kernel launches and more transient memory (about 14 KB per row in bf16 at
 * d_model 256); a benchmark knob (`bench model --tile-rows`). Results do not depend on it
 * beyond fp32 rounding of the tiled reductions. @return 0 or LS_ERR_RANGE (rows < 1).
 */
int model_set_tile_rows(Model *model, int64_t rows) LS_RESULT_USED;

/**
 * Sequence parallel (docs/parallel.md "The model"): every forward and backward cuts each row's
 * L positions into @p G slices, [g·L/G, (g+1)·L/G), and runs every Mamba layer slice by slice
 * as G devices would: the token-local parts on the slice, the conv from a K−1 halo sent by the
 * left neighbour, the scan from a state combined from every earlier slice's (decay product,
 * end state), the backward likewise from the right; both walk directions of a BiMamba. The
 * slices trade those states through a SliceExchange (models/slice_exchange.h; in-process
 * here: one device simulates all G). Results equal G = 1 within fp32 rounding (the combine
 * reassociates the recurrence). Costs more work than G = 1 on one device (the scan runs twice
 * forward and the tiles are recomputed once more backward) and saves no memory there: a
 * correctness mode there (across ranks: model_set_slice_exchange). G = 1 is the plain
 * path. Streaming and layerwise runs are never sliced. Each batch needs L ≥ G·(d_conv − 1)
 * positions (every slice at least the halo's d_conv − 1), else the forward fails with
 * LS_ERR_USAGE naming --seq-slices.
 * @return 0; LS_ERR_USAGE for G < 1; LS_ERR_UNSUPPORTED for a Transformer or hybrid (its
 *         attention would need every slice's keys).
 */
int model_set_seq_slices(Model *model, int64_t G) LS_RESULT_USED;
int64_t model_seq_slices(const Model *model);
/**
 * Gradient checkpointing at layer granularity: a training forward keeps the inputs of layers
 * 0, K, 2K, … and the final one (the head's input) instead of every layer's, plus room for
 * the K − 1 other inputs of one group of K layers; the backward, walking the groups from the
 * top, recomputes a group's inputs from its kept one with the same forward (same ops, same
 * order, same dropout masks), then runs its layers backward as before. The gradients are the
 * same bytes as K = 1's; the cost is one more forward of every layer that is not the first
 * of its group, except in the top group (the forward wrote its inputs last: still there).
 * Residual-stream memory falls from (n_layers + 1) to (ceil(n_layers/K) + 1 +
 * min(K, n_layers) − 1) copies of (Be, L, D) fp32; the smallest is near K = sqrt(n_layers).
 * K ≥ n_layers keeps only the first input (and the final one). Takes effect at the next plan.
 * @return 0; LS_ERR_USAGE for K < 1.
 */
int model_set_grad_checkpoint(Model *model, int64_t K) LS_RESULT_USED;
int64_t model_grad_checkpoint(const Model *model);
/**
 * How the slices trade states (models/slice_exchange.h): NULL = in-process (the default, one
 * process runs every slice); a distributed exchange (slice_exchange_comm_init, G = its ranks)
 * makes this process plan, hold and run its own slice of every row only (the memory split:
 * (B, L/G, D) a layer; the batch stays the whole one, the model takes its slice), weigh an
 * LM's loss by its share of the targets and sum it over the ranks, sum a classifier's pooled
 * parts over the ranks and, on ranks other than 0, drop the classifier head's gradient (the
 * same on every rank) so that the gradient all-reduce counts it once. Refuses (at the
 * forward, LS_ERR_UNSUPPORTED) waveform input, the RC-equivariant model and dropout. The table
 * is the caller's and must outlive its use.
 */
struct SliceExchange;
void model_set_slice_exchange(Model *model, const struct SliceExchange *x);
/**
 * The G every model built after this call starts with (model_init, model_load): the CLI's
 * --seq-slices, set once at start as --threads is (pipeline/cli.c cli_common_apply), so every
 * command that builds a model honours it. A model with attention layers then fails to build
 * (LS_ERR_UNSUPPORTED naming --seq-slices). G < 1 counts as 1. Process-wide, one thread.
 */
void model_set_default_seq_slices(int64_t G);

/**
 * Dropout in training (docs/models.md "Dropout"): inverted dropout with probability @p p on
 * every block's output before it joins the residual stream (a Mamba mixer, the two directions
 * of a BiMamba together, a Transformer block's attention and its MLP) and, for a classifier, on
 * the pooled features before the classification head. Only a forward with train = 1 (and its
 * backward) drops; inference never does. The masks are a function of (@p seed, step, site,
 * element), kernels/dropout.h: the same on every device, thread count and tile size, and the
 * same again for a resumed run at the same step. p = 0 (the default) runs exactly the code of
 * a model without dropout. @return 0 or LS_ERR_USAGE (p outside [0, 1)).
 */
int model_set_dropout(Model *model, double p, uint64_t seed) LS_RESULT_USED;
/** The step whose masks the next training forward draws (the trainer's optimizer step; 0
 *  until set). The backward after it uses that forward's step. */
void model_set_dropout_step(Model *model, int64_t step);
double model_dropout(const Model *model);

/** What model_profile_stop() returns: per op (matmuls named with their K x N), the calls and
 *  the summed time; names live until model_profile_free(). */
typedef struct {
    int n, truncated;  // truncated: more ops than the profiler records (65,536)
    const char *name[160];
    int calls[160];
    double ms[160];
    double total_ms;   // first op's start to the last op's end
    double idle_ms;    // between ops: on the GPU the device waiting for the host
} ModelProfile;

/**
 * Time every op the models run from now on, on @p model's device (CUDA events on the default
 * stream, or the host clock on the CPU), until model_profile_stop(), which waits for the GPU and
 * sums the times per op. For benchmarks (`longscan bench model --profile`): the marks cost host
 * time, so profile a step separate from the timed ones. One profile at a time, one thread.
 */
int model_profile_start(const Model *model) LS_RESULT_USED;
int model_profile_stop(ModelProfile *out) LS_RESULT_USED;
void model_profile_free(void);

/**
 * Cross-entropy of the forward's logits (loss.h), and its gradient for model_backward. Every
 * pointer is host memory and the CPU op computes it whatever the model's device (the logits
 * are on the host already; the device's own loss is in model_forward_backward).
 * Classification: @p labels (B) class ids; LM: labels is ignored, targets are the next tokens
 * of @p batch (position t of row b predicts tokens[b, t+1]; t >= lengths[b] − 1 is ignored;
 * with a target mask only the scored positions count, in the forward's packed layout).
 * @param mean_loss  out: mean over counted rows (sequences, or predicted tokens for LM)
 * @param row_loss   out or NULL: (model_output_rows) — (B) classification, (B, L) LM (0
 *                   where ignored), or the scored positions of a masked LM batch
 * @param dlogits    NULL, or gradient of mean_loss·grad_scale, ACCUMULATED (+=), logits' shape
 * @return 0; LS_ERR_RANGE for a label outside [0, n_classes); LS_ERR_USAGE for a bad batch.
 */
int model_loss(Model *model, const ModelBatch *batch, const float *logits,
               const int32_t *labels, double *mean_loss, float *row_loss, float *dlogits,
               float grad_scale) LS_RESULT_USED;

/**
 * LM: the target of every row of the forward's logits (model_output_rows of them): the next
 * token (of batch->answers when set), or LOSS_IGNORE_INDEX (−100) for a position that
 * predicts nothing (the last of a row, padding; dense batches only). What model_loss scores; accuracy is argmax == target over
 * the rows that are not ignored. @p targets must hold B·L entries. @return the rows written.
 */
int64_t model_lm_targets(const Model *model, const ModelBatch *batch, int32_t *targets);

/**
 * The optimizer's view of the parameter table (optim.h): one OptimTensor per table entry, in
 * table order, decay = !(flags & PARAM_NO_DECAY). @return 0 and *tensors (malloc'd, (*n)
 * entries; free() it), LS_ERR_NOMEM.
 */
int model_optim_tensors(const Model *model, OptimTensor **tensors, int64_t *n) LS_RESULT_USED;

/** AdamW moments, same layout as the parameters (param_table.total floats each, zero after
 *  model_init/model_load), on the model's device (model_buffer_read/write from the host). */
float *model_adam_m(Model *model);
float *model_adam_v(Model *model);

/** Global L2 norm of the gradients (optim_grad_norm on the model's device). */
int model_grad_norm(Model *model, double *norm) LS_RESULT_USED;

/**
 * One AdamW update of every parameter (optim_adamw_step on the model's device), decay per
 * PARAM_NO_DECAY. @p step >= 1 counts this update; grad_scale from optim_clip_scale (or 1).
 */
int model_adamw_step(Model *model, const AdamWConfig *adamw, int64_t step, double lr,
                     float grad_scale) LS_RESULT_USED;

/**
 * Bytes of activation memory the last forward (or training step, stream segment) planned:
 * the arena it ran in holds at least this (docs/models.md "Memory"). Parameters, gradients
 * and AdamW moments come on top (param_table.total floats each). 0 before any forward.
 */
size_t model_activation_bytes(const Model *model);

/**
 * Bytes of state a model must keep per sequence to go on generating after @p L tokens, in
 * fp32: the key and value cache of every attention layer (2·L·d_model floats) and the conv
 * and SSM state of every Mamba layer (d_inner·(d_conv − 1 + d_state) floats per direction),
 * computed from the config. (longscan generates with Mamba models only; for the others this
 * is the size a KV cache of the same layout would have.)
 */
double model_decode_state_bytes(const Model *model, int64_t L);

/** Pooled final hidden state, (B, d_model) (a packed batch: one row per sequence), host
 *  memory: what `longscan embed` writes. */
int model_embed(Model *model, const ModelBatch *batch, float *out) LS_RESULT_USED;

/** Crop rules of model_crop_window(). */
enum {
    MODEL_CROP_CENTRE = 0, /* evaluation */
    MODEL_CROP_FIRST  = 1,
    MODEL_CROP_RANDOM = 2, /* training: start = random % (len − window + 1) */
};

/**
 * The Transformer's window rule, for callers that feed it: a row longer than cfg.window is
 * cropped to `window` tokens — centre crop (MODEL_CROP_CENTRE, evaluation: start
 * (len − window) / 2), first tokens (MODEL_CROP_FIRST), or a random start drawn from
 * @p random (MODEL_CROP_RANDOM, training). Returns the start offset into the row; length
 * min(len, window). For Mamba models window is 0 and the offset is 0 (no crop, ever).
 * model_forward() refuses a Transformer row longer than the window (LS_ERR_USAGE).
 */
int64_t model_crop_window(const ModelConfig *cfg, int64_t len, int mode, uint64_t random);

/**
 * Streaming (the causal models: Mamba, and Transformer and hybrid with causal attention; LM
 * or classification): process a sequence in segments, the same result as one
 * pass. Mamba layers carry their conv and SSM states (constant memory); attention layers keep
 * a key/value cache of every position so far, 2·D floats per position, row and attention
 * layer (a Transformer with a window keeps only what its sliding window of `window`
 * positions still sees: exactly one pass up to `window` positions, the sliding-window model
 * past it; docs/generate.md). model_stream_reset() starts a new sequence of batch rows
 * (allocates the states once per B, empties the caches); each model_stream_forward() call
 * takes the next segment (B, L) of every row (all rows the same length in one call: lengths
 * NULL or all L) and writes LM logits (B, L, vocab) — or, with @p logits NULL, only advances
 * the state (priming a generation without computing the head) — or nothing (classification:
 * model_stream_logits() after the last). A Transformer segment may be longer than its window.
 * @return 0; LS_ERR_UNSUPPORTED for BiMamba or bidirectional attention;
 *         LS_ERR_USAGE for a bad segment; LS_ERR_NOMEM when a cache cannot grow.
 */
int model_stream_reset(Model *model, int64_t B) LS_RESULT_USED;
int model_stream_forward(Model *model, const ModelBatch *segment, float *logits) LS_RESULT_USED;
/** Classification logits (B, n_classes) of the sequences streamed so far, pooled as the
 *  model pools (mean, last or first position). LS_ERR_USAGE before any segment. */
int model_stream_logits(Model *model, float *logits) LS_RESULT_USED;

/**
 * Keep the pooled final hidden state of what is streamed (after model_stream_reset, before
 * the first segment; a classifier always does): the running sum over positions in double
 * (the mean equals one pass's: the same additions in the same order), the first and the last
 * position. LS_ERR_USAGE otherwise.
 */
int model_stream_set_pooling(Model *model, int on) LS_RESULT_USED;
/** The pooled final hidden state (B, d_model) of the sequences streamed so far: what
 *  model_embed() gives for the whole sequences. LS_ERR_USAGE without pooling or segments. */
int model_stream_embed(Model *model, float *out) LS_RESULT_USED;

/**
 * Allocate the key/value caches for @p positions per row now (after model_stream_reset), so
 * that a stream or generation of known length fails at once if the memory cannot hold it,
 * and no cache grows later (a windowed Transformer needs at most 2·window). No-op for Mamba.
 * @return 0, LS_ERR_USAGE (no reset), LS_ERR_NOMEM / LS_ERR_CUDA_OOM naming the bytes.
 */
int model_stream_reserve(Model *model, int64_t positions) LS_RESULT_USED;

/**
 * What streaming holds per row: @p state_bytes, constant (conv + SSM states of every Mamba
 * layer: E·(K−1+N) floats each), and @p cache_bytes per position of context (keys and values
 * of every attention layer: 2·D floats each; 0 for Mamba).
 */
void model_stream_sizes(const Model *model, int64_t *state_bytes, int64_t *cache_bytes);

/** Bytes of key/value cache allocated now, all rows and layers (what a stream holds beyond
 *  its constant state); *positions (may be NULL) = the most positions a layer holds. */
int64_t model_stream_cache_bytes(const Model *model, int64_t *positions);

/**
 * Generation (a causal LM that streams): one token per row through every layer — a Mamba
 * layer's recurrent step (conv and scan step ops: constant time and memory per token), an
 * attention layer's query over its cache (time and cache growing with the context).
 * model_stream_reset() first; prime with model_stream_forward() on a prompt; then
 * model_generate_step() feeds (B) tokens and writes next-token logits (B, V).
 */
int model_generate_step(Model *model, const uint8_t *tokens, float *logits) LS_RESULT_USED;

/**
 * Generation with the draw on the GPU (kernels/sample.h), so no step waits for the host: after
 * model_stream_reset() and the priming, model_generate_device_start() uploads every row's last
 * token and random state; model_generate_device_run() then takes n steps, each a recurrent
 * step and a draw on the device whose id is the next step's input, and copies the n tokens of
 * every row back once (one wait per run). With graph_steps > 0 and a stack of Mamba layers only
 * (a constant-size state, so every step queues the same work), a run of exactly graph_steps
 * steps is captured once as a CUDA graph (kernels/device.h) and replayed after; attention
 * layers (their caches grow each step) run the same steps uncaptured. If the capture fails the
 * runs go on uncaptured and model_generate_device_graphs() says why.
 * GPU only (LS_ERR_UNSUPPORTED on the CPU, whose generator draws on the host).
 */
typedef struct {
    double temperature;    /* >= 0; 0: greedy */
    double top_p;          /* (0, 1] */
    const uint64_t *rng;   /* (B, 4) each row's xoshiro256** state (io/rng.h) */
    int64_t graph_steps;   /* steps per captured graph (also the most steps per run); 0: none */
} ModelSampling;

int model_generate_device_start(Model *model, const uint8_t *tokens,
                                const ModelSampling *sampling) LS_RESULT_USED;
/**
 * @p n steps (1..max(graph_steps, 1)); tokens[b·stride + k] = row b's k-th new token (host);
 * @p logits (host, B·V, may be NULL): the next-token logits of the last step (n must be 1).
 * @return 0; LS_ERR_RANGE when a logit was not finite (the message names the row and id);
 *         LS_ERR_USAGE (no start, n out of range); the CUDA codes.
 */
int model_generate_device_run(Model *model, int64_t n, uint8_t *tokens, int64_t stride,
                              float *logits) LS_RESULT_USED;
/** 1 when runs replay a captured graph, 0 when not (yet): then *why (may be NULL) says why. */
int model_generate_device_graphs(const Model *model, const char **why);
/**
 * The fused step (kernels/gen_step.h: every layer and the head in one kernel launch on
 * thread-block clusters instead of ~10 ops per layer) is used by model_generate_device_* only
 * after model_set_generate_fused(model, 1), for a causal Mamba LM of token inputs whose shape
 * the kernel takes; by default (or with 0) the step runs op by op until the cluster kernel is
 * measured faster (docs/generate.md; `longscan bench generate --fused` compares). The choice applies from the
 * next model_generate_device_start().
 */
void model_set_generate_fused(Model *model, int on);
/** 1 when the current device generation runs the fused step, else 0 and *why (may be NULL)
 *  says why not. */
int model_generate_device_fused(const Model *model, const char **why);

/**
 * Layer by layer (Mamba stacks; made for the bidirectional Mamba, which cannot stream): one
 * sequence of L tokens too long for one pass. The tokens are fed in order, in pieces of any
 * size (model_layerwise_feed); model_layerwise_finish() then runs every layer over segments
 * of opt->segment positions — the forward direction over the segments in order, the reverse
 * direction over them in reverse order, each carrying its conv and scan state — keeping each
 * layer's output, (L, d_model) floats per backbone row (two rows with rc_equivariant), in
 * host memory when the stores fit opt->host_bytes (model_layerwise_store_bytes), else in a
 * temporary file in opt->tmp_dir (unlinked as soon as it is created, so nothing is left
 * behind). The results equal one pass (model_embed, model_forward) within fp32 rounding.
 * Free with model_layerwise_free().
 * @return 0; LS_ERR_UNSUPPORTED (attention layers, waveform input), LS_ERR_USAGE (sizes, too
 *         many tokens, finish before L), LS_ERR_NOMEM, LS_ERR_IO (the temporary file, or not
 *         enough free space for it: the message names the folder and the bytes).
 */
typedef struct ModelLayerwise ModelLayerwise;
typedef struct {
    int64_t     segment;    /* positions per pass */
    size_t      host_bytes; /* layer outputs up to this many bytes stay in host memory */
    const char *tmp_dir;    /* folder of the temporary file; NULL: $TMPDIR, else /tmp */
} LayerwiseOptions;

int model_layerwise_begin(ModelLayerwise **out, Model *model, int64_t L,
                          const LayerwiseOptions *opt) LS_RESULT_USED;
int model_layerwise_feed(ModelLayerwise *lw, const uint8_t *tokens, int64_t n) LS_RESULT_USED;
/** Run the layers; @p embed (d_model) and/or @p logits (n_classes, classifiers) may be NULL. */
int model_layerwise_finish(ModelLayerwise *lw, float *embed, float *logits) LS_RESULT_USED;
void model_layerwise_free(ModelLayerwise *lw);
/** Bytes of the layer outputs kept for a sequence of @p L tokens (both stores). */
size_t model_layerwise_store_bytes(const Model *model, int64_t L);
/** 1 when the layer outputs are in the temporary file. */
int model_layerwise_on_disk(const ModelLayerwise *lw);

/**
 * Checkpoint: parameters (F32, PyTorch names, table order; docs/checkpoints.md) plus
 * metadata: format=longscan, format_version=MODEL_FORMAT_VERSION, config (JSON), and the
 * caller's extra key/values (label map, encoding, ...; the three reserved keys are refused
 * with LS_ERR_USAGE). Written to a unique temporary, fsync'd, renamed (st_writer_save).
 * model_load() reads the config from the file, builds the model and loads the parameters;
 * any mismatch or corruption is one error naming the file (and the tensor or key):
 * LS_ERR_FORMAT, LS_ERR_IO. Extra metadata is read back with io/safetensors.h.
 */
int model_save(const Model *model, const char *path, int n_extra, const char *const *keys,
               const char *const *values) LS_RESULT_USED;
int model_load(Model **out, const char *path, const Device *dev) LS_RESULT_USED;

#ifdef __cplusplus
}
#endif
#endif
