/*
 * model_internal.h — what the files of models/ share: the Model struct, the activation plan
 * (one arena, pointers into it), per-layer parameter indices, and the entry points of each
 * part (mamba.c, transformer.c, heads.c, stream.c, checkpoint.c). Private to models/ and the
 * model tests (which read Model.tile_rows to force several tiles on tiny inputs).
 *
 * Memory plan (docs/models.md "Memory"). M = Be·L positions, Be = B rows (2B with the
 * reverse-complement stream), D = d_model, E = d_inner, Mt = Be·Tt rows of one Mamba tile:
 *   forward only   R (M, D) + aux (M, D) + Mamba tile buffers (Mt rows) or Transformer
 *                  buffers (M rows: the window)
 *   training       R (n_layers + 1, M, D): the residual stream at every layer input and the
 *                  final one; dR (M, D); the conv/scan states at every tile start of every
 *                  Mamba layer and direction; the tile's backward buffers. With gradient
 *                  checkpointing every K layers (model_set_grad_checkpoint) R keeps only
 *                  inputs 0, K, 2K, … and the final one, (ceil(n_layers/K) + 1, M, D), and
 *                  Rw (min(K, n_layers) − 1, M, D) the rest of one group, which the backward
 *                  recomputes from the group's kept input.
 * A Mamba layer runs over tiles of Tt positions per row, carrying its conv and scan state from
 * one tile to the next (bit-identical to one pass: the same ops in the same order), so block
 * internals (in_proj output, conv output, dt, B, C, y) never exist for the whole sequence.
 */
#ifndef LS_MODELS_MODEL_INTERNAL_H
#define LS_MODELS_MODEL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "models/model.h"
#include "models/ops_internal.h"

/** Rows (Be·Tt) one Mamba tile aims at: big enough for BLAS, small enough to stay O(1). */
#define MODEL_TILE_ROWS 16384
/** The same on the GPU: four times the CPU's, so that a tile's GEMMs and scan fill the card
 *  and the launches per token stay few (27 KB per row of training buffers at d_model 256:
 *  1.8 GB per tile, next to the residual stream's 1 KB per row and layer). */
#define MODEL_TILE_ROWS_CUDA 65536
/** Long inputs on the GPU get tiles of a quarter of their rows, up to this many: the scan's
 *  kernels run closer to their full speed on longer tiles (measured, bimamba d256×8 bf16
 *  training at 1M: 713 K tokens/s at 65,536 rows, 748 K at 131,072, 787 K at 262,144; peak
 *  12.0 → 14.6 GiB; bench/results/gpu-b4f6bfc-h100), while a tile's transient buffers stay
 *  under a third of what training stores for the whole input. */
#define MODEL_TILE_ROWS_CUDA_MAX 262144

/** Tensor indices of one layer in the ParamTable (-1 when the config has no such tensor).
 *  Mamba: direction 0 = forward mixer, 1 = reverse mixer (BiMamba); in/out_proj are shared. */
typedef struct {
    int norm_w, norm_b;
    int in_proj, out_proj;
    int conv_w[2], conv_b[2], x_proj[2], dt_w[2], dt_b[2], A_log[2], Dsk[2];
    int qkv_w, qkv_b, att_w, att_b, norm2_w, norm2_b, fc1_w, fc1_b, fc2_w, fc2_b;
} LayerParams;

/** Pointers into the arena for one (B, L, train) shape; see model.c plan_layout(). */
typedef struct {
    int64_t B, Be, L, Ls; // caller rows, backbone rows, positions, samples (waveform) per row
    int64_t S, Se;        // sequences (S = B unless packed), backbone sequences (2S with rc)
    int packed;           // rows hold several sequences (ModelBatch.row_seqs)
    int64_t Tt, ntiles;   // Mamba tile length and count (Transformer: Tt = L, one tile)
    int train;
    size_t bytes;
    // ---- every model
    int logits_rows;        // rows of logits / dlogits (0: no logits buffer in the plan)
    float *logits;          // GPU, or training: (logits_rows, V or n_classes), fp32
    float *dlogits;         // training: the same shape
    int32_t *targets;       // training: (logits_rows) labels or next tokens
    float *row_loss;        // training: (logits_rows)
    double *loss;           // training: the mean loss (one double, on the model's device)
    uint8_t *in_tokens;     // GPU: (B, L) the batch's tokens, uploaded
    int32_t *in_ids;        // GPU: (B, L) the batch's ids, uploaded
    float *in_samples;      // GPU: (B, Ls) the batch's samples, uploaded
    int32_t *ids;           // (Be, L) token ids
    float *frames;          // (B, L, frame) waveform frames
    int64_t *len;           // (Be) valid positions per row
    int64_t *slen;          // (B) valid samples per row (waveform)
    // packed batches only (NULL otherwise), filled on the host by model_batch_lengths:
    uint8_t *reset;         // (Be, L) 1 at each sequence's first position (conv, scan)
    int32_t *mirror;        // (Be, L) position p ↔ its mirror within its sequence (glue.h)
    int64_t *seq_start;     // (Se) flat row b·L + first position of each sequence
    int64_t *seq_len;       // (Se) its positions
    int64_t *frame_end;     // waveform: (B, L) end (in samples) of each frame's sequence
    // train: the kept layer inputs (model_layer_input): inputs 0, K, 2K, … below n_layers and
    // the final one (n_layers), K = keep_every (model_set_grad_checkpoint; K = 1: every
    // input), each (Be, L, D); forward only: one (Be, L, D)
    float *R;
    float *Rw;              // train, K > 1: (min(K, n_layers) − 1, Be, L, D) the inputs of
                            // one group's other layers, recomputed by the backward
    int64_t keep_every;     // train: K of this plan (1 otherwise)
    float *aux;             // (Be, L, D) second residual buffer / final norm output
    float *mean_f, *rstd_f; // (Be·L) final norm statistics
    float *pooled;          // (Se, D) pooled per backbone sequence (row, unless packed)
    float *pooled_out;      // (S, D) what the classifier sees (pair mean with rc)
    float *dpooled;         // (S, D)
    float *dpool_e;         // (Se, D)
    float *A;               // (n_layers, ndir, E, N) A = −exp(A_log)
    int64_t n_sel;          // LM with a target mask: scored positions; −1: dense LM head
    int32_t *sel;           // (n_sel) their flat indices b·L + t into the (Be·L) rows
    float *xsel;            // (n_sel, D) final-norm output at those positions
    float *dxsel;           // train (n_sel, D)
    float *dR;              // train (Be, L, D) gradient of the residual stream
    // ---- Mamba tile (rows Be·Tt); xn, t_mean, t_rstd, o, dxn also serve the Transformer
    float *xt, *xn, *t_mean, *t_rstd, *xz, *u, *dbl, *delta, *y, *o;
    float *cs, *hs; // (Be, E, K−1), (Be, E, N) carried states
    float *bstates; // train (n_layers, ndir, ntiles, Be, E·(K−1) + E·N) tile-start states
    float *ckpt;    // train (Be, ceil(Tt/chunk), E, N)
    void *scan_ws;
    size_t scan_ws_bytes;
    float *dO, *dy, *dxz, *du, *ddbl, *ddelta, *dxn, *dxt;
    float *dh[2], *dc[2]; // carried state gradients (ping-pong)
    float *dA;            // (E, N)
    // ---- sequence parallel (G > 1 slices, model_set_seq_slices; mamba.c, docs/parallel.md):
    // slice g holds walk positions [g·L/G, (g+1)·L/G); tiles never straddle a slice boundary
    int64_t G;
    float *sp_ones;   // (Be, E, N) ones: the decay product's scan starts from h = 1
    float *sp_zeros;  // (E) zeros: u = 0 and dout = 0 as stride-0 views
    float *sp_P;      // train (n_layers, ndir, G, Be, E, N), else (G, ...): decay products
    float *sp_e;      // (G, Be, E, N) end states from h = 0; in the backward dH
    float *sp_h;      // (G, Be, E, N) h_in, the scan state each slice starts from
    float *sp_halo;   // (G, Be, E, K−1) conv state each slice starts from
    float *sp_dhalo;  // train (G, Be, E, K−1) its gradient
    float *sp_dl;     // train (G, Be, E, N) dh0_local
    float *sp_dpar;   // train (2E + E·K) the probe's parameter gradients (discarded)
    // ---- memory split (distributed sequence parallel: model_set_slice_exchange with a
    // distributed exchange; mamba.c split_fwd / split_bwd, docs/parallel.md): this rank holds
    // positions [pos0, pos0 + L) of rows of Lg positions, the plan's L being its slice only.
    // The per-slot buffers above then hold `ranks` slots (slot r: rank r), G stays 1 (the
    // rank's own positions are one slice). ranks = 0: no split.
    int64_t ranks, rank, pos0, Lg;
    int64_t *len_walk;   // (Be) L: the reverse walk runs over every position of the slice
    int32_t *rev_mirror; // (Be, L) reverse walk s ↔ position L−1−s, −1 where that is padding
    uint8_t *rev_reset;  // (Be, L) reverse walk: 1 at each sequence's last position (its first
                         // in that walk), so padding walked before it never reaches it
    int64_t *pool_start; // classifier (S) flat row of each sequence's first local position
    int64_t *pool_len;   // (S) its local positions (at least 1: see pool_w)
    float *pool_w;       // (S, D) weight of this rank's pooled part in the whole sequence's
                         // (mean: local / all positions; first, last: 1 or 0)
    float *pool_tmp;     // (S, D) the local pooled part, or its gradient
    // ---- Transformer (rows Be·L)
    float *qkv, *qr, *kr, *att, *lse, *mid, *xn2, *mean2, *rstd2, *h1, *g;
    float *dqkv, *dqr, *dkr, *datt, *dh1, *dg, *dxn2;
    // bf16 only: the block input, dR and a norm's input gradient in the activation type
    // (the residual stream and dR stay fp32; the CUDA norm reads and writes one type)
    float *cx, *cdR, *cdx;
} Plan;

/** One attention layer's keys (after RoPE) and values while streaming (stream.c). Held
 *  positions 0..len−1 of every row are the sequence positions pos0..pos0+len−1. */
typedef struct {
    float *k, *v;  // (B, cap, D) each
    int64_t cap;   // positions allocated per row
    int64_t len;   // positions held
    int64_t pos0;  // sequence position of held position 0 (> 0 once a window trimmed it)
} KvCache;

struct Model {
    ModelConfig cfg; // resolved (dt_rank, mlp_hidden filled in)
    Device dev;
    DType act;       // storage of the block activations: DTYPE_F32, or DTYPE_BF16 (GPU)
    ParamTable table;
    float *params, *grads, *adam_m, *adam_v;             // table.total floats each, on dev
    float *params16; // act bf16: the weights as bf16 (table.total values), refreshed after
                     // every change of params (model_params_changed)
    int64_t D, E, N, K, R, H, hd, F, ndir, rows_per_row; // sizes; rows_per_row 2 with rc
    int idx_embed, idx_stem_w, idx_stem_b, idx_norm_f_w, idx_norm_f_b, idx_lm_head;
    int idx_cls_w, idx_cls_b;
    LayerParams *layers; // (n_layers)
    OptimTensor *optim;  // (table.n) the optimizer's view of the table
    ModelGradReady grad_ready; // model_set_grad_ready: told as the backward finishes tails
    void *grad_ready_ctx;      // of the gradient buffer (data parallel's buckets)
    // activation arena
    void *arena;
    size_t arena_cap;
    Plan plan;
    int64_t tile_rows; // MODEL_TILE_ROWS(_CUDA); tests lower it to exercise several tiles
    int64_t seq_slices; // G of model_set_seq_slices (1: the sequence in one piece)
    int64_t grad_ckpt;  // K of model_set_grad_checkpoint (1: every layer input kept)
    const struct SliceExchange *exchange; // how slices trade states (in-process by default)
    int tile_rows_auto; // GPU default: long inputs get longer tiles (MODEL_TILE_ROWS_CUDA_MAX)
    int64_t sel_rows;  // the next plan's n_sel (−1: dense), set from the batch before planning
    int plan_logits;   // the next plan keeps a logits buffer (see Plan.logits)
    int plan_slices;   // the next plan's G (forward_impl; read and cleared by model_plan)
    int64_t pack_seqs; // the next plan's sequences when its batch is packed, else 0 (read and
                       // cleared by model_plan: streams and layerwise runs never pack)
    // host copies of the plan's small per-row arrays, filled here and uploaded (any device)
    int64_t *h_len, *h_slen;
    int32_t *h_sel;
    int64_t h_rows_cap, h_sel_cap;
    // packed batches: host copies of plan.reset, mirror, seq_start, seq_len, frame_end
    uint8_t *h_reset;
    int32_t *h_mirror;
    int64_t *h_seq_start, *h_seq_len, *h_frame_end;
    // memory split (Plan.ranks > 1): the next plan's slice of every row, set by forward_impl
    // before planning; host copies of the split maps and of the slice's tokens or ids
    int64_t split_lo, split_hi;
    int64_t *h_len_walk, *h_pool_start, *h_pool_len;
    int32_t *h_rev_mirror, *h_split_ids;
    uint8_t *h_rev_reset, *h_split_tokens;
    float *h_pool_w;
    int64_t h_pos_cap, h_seq_cap, h_fe_cap;
    // training forward → backward handshake
    int train_ready;
    // dropout (model_set_dropout): drop probability and the run's seed; the step the next
    // training forward draws its masks for (model_set_dropout_step), and the step the last
    // training forward drew, which its backward recomputes the masks from
    double drop_p;
    uint64_t drop_seed;
    int64_t drop_step, drop_step_fwd;
    int64_t train_B, train_L;
    // next-token targets for model_loss (grown, never shrunk)
    int32_t *targets;
    float *row_loss; // per-row losses when the caller does not want them
    int64_t targets_cap;
    // streaming (stream.c)
    int64_t stream_B;
    float *stream_state; // per layer: conv (B, E, K−1) then ssm (B, E, N)
    float *stream_last;  // (B, D) final-norm output at the last streamed position
    float *stream_logits; // GPU: (B, n_classes) for model_stream_logits
    int stream_started;
    int64_t stream_pos;  // positions streamed so far (every row alike)
    int stream_pooling;  // accumulate the pooled final hidden state (classifier, embed)
    double *stream_sum;  // (B, D) Σ of the final-norm output over the positions streamed
    float *stream_first; // (B, D) final-norm output at position 0
    float *stream_pooled; // (B, D) the pooled vector (model_stream_embed, logits)
    KvCache *kv;         // (n_layers) key/value caches; used by attention layers only
    // generation drawn on the device (stream.c, model_generate_device_*)
    uint8_t *gen_cur;    // (B) the tokens fed to the next step (device)
    uint8_t *gen_out;    // (B, gen_cols) the tokens of the current run (device)
    uint8_t *gen_host;   // (B, gen_cols) their host copy
    uint64_t *gen_rng;   // (B, 4) xoshiro states (device)
    uint64_t *gen_err;   // one word: SAMPLE_NO_ERROR or the first bad (row·V + id) (device)
    int64_t gen_B, gen_cols, gen_graph_steps;
    double gen_temperature, gen_top_p;
    void *gen_graph;     // executable CUDA graph of gen_graph_steps steps, or NULL
    void *gen_graph_arena; // the arena the graph's pointers were captured in
    int gen_graph_state; // 0 not tried, 1 captured, −1 not possible (gen_graph_why)
    char gen_graph_why[200];
    // the fused step (kernels/gen_step.h): off unless model_set_generate_fused(m, 1); in use
    // for the current generation (decided by model_generate_device_start), or why not
    int gen_fused_asked;
    int gen_fused;
    char gen_fused_why[200];
};

// ------------------------------------------------------------------------------ helpers

static inline float *model_p(Model *m, int idx) {
    return idx < 0 ? NULL : m->params + m->table.entries[idx].offset;
}
/** A weight as the block matmuls read it: fp32, or its bf16 copy when the activations are. */
static inline float *model_w(Model *m, int idx) {
    if (idx < 0) return NULL;
    if (m->act == DTYPE_F32) return model_p(m, idx);
    return (float *)((uint16_t *)m->params16 + m->table.entries[idx].offset);
}
/** Element k of an activation buffer (a view at an element offset; bf16 elements are 2 bytes). */
static inline float *model_at(const Model *m, const float *base, int64_t k) {
    return (float *)((const char *)base + (size_t)k * dtype_size(m->act));
}
static inline float *model_g(Model *m, int idx) {
    return idx < 0 ? NULL : m->grads + m->table.entries[idx].offset;
}
/** Per-layer stream state size in floats for B rows. */
static inline int64_t model_stream_layer_floats(const Model *m, int64_t B) {
    return B * m->E * (m->K - 1 + m->N);
}

/*
 * Dropout sites (kernels/dropout.h): layer i's block output is site 2i (a Mamba mixer — both
 * directions of a BiMamba share it, so X + drop(o_fwd) + drop(o_rev) is the merged output
 * dropped — or a Transformer block's attention), its MLP output 2i + 1, and the pooled
 * features before the classifier MODEL_DROPOUT_SITE_HEAD. A block output's elements are
 * numbered in the (Be, L, D) tensor of the batch, (row, sequence position, channel), whatever
 * tile or walk direction computes them.
 */
#define MODEL_DROPOUT_SITE_HEAD ((uint32_t)(2 * MODEL_MAX_LAYERS))

/** 1 when the plan's forward and backward drop: a training plan of a model with p > 0. */
static inline int model_dropout_on(const Model *m) { return m->plan.train && m->drop_p > 0; }

/** Dropout of a flat (rows, W) tensor at @p site, with the masks of the last training
 *  forward's step (dropout_args_rows() makes it a tile of a per-row walk). */
static inline void model_dropout_args(const Model *m, DropoutArgs *a, uint32_t site, int64_t rows,
                                      int64_t W) {
    dropout_args_init(a, m->drop_p, m->drop_seed, (uint64_t)m->drop_step_fwd, site, rows, W);
}

/** Fill dt_rank and mlp_hidden when 0 (auto); window 0 for Mamba models (config.c). */
void model_config_resolve(ModelConfig *cfg);

/** Slice g's first walk position, g = 0..G (G: L). */
static inline int64_t model_slice_start(const Plan *p, int64_t g) { return g * p->L / p->G; }
/** Tiles of slice g: ceil(its length / Tt). */
static inline int64_t model_slice_tiles(const Plan *p, int64_t g) {
    return (model_slice_start(p, g + 1) - model_slice_start(p, g) + p->Tt - 1) / p->Tt;
}
/** Tile j of the plan, [*s0, *s0 + *nt): tiles of Tt positions, slice by slice. */
static inline void model_tile_span(const Plan *p, int64_t j, int64_t *s0, int64_t *nt) {
    int64_t g = 0, first = 0;
    while (g + 1 < p->G && first + model_slice_tiles(p, g) <= j) first += model_slice_tiles(p, g++);
    const int64_t end = model_slice_start(p, g + 1);
    *s0 = model_slice_start(p, g) + (j - first) * p->Tt;
    *nt = *s0 + p->Tt <= end ? p->Tt : end - *s0;
}

/** Make the arena serve (B, L positions, Ls samples, train); grows it only when needed. */
int model_plan(Model *m, int64_t B, int64_t L, int64_t Ls, int train) LS_RESULT_USED;

/** Check a batch against the config; *L_pos = positions per row (frames for waveform). */
int model_batch_check(const Model *m, const ModelBatch *batch, int64_t *L_pos) LS_RESULT_USED;
/** model_batch_check() less the Transformer's window rule (streaming: the cache's sliding
 *  window applies instead). */
int model_batch_check_shape(const Model *m, const ModelBatch *batch,
                            int64_t *L_pos) LS_RESULT_USED;
/** plan.len from the batch (token lengths, frames, duplicated for the rc rows), plan.sel
 *  from its target mask (LM), and a packed batch's reset, mirror, sequence and frame maps:
 *  computed on the host, uploaded into the plan. */
int model_batch_lengths(Model *m, const ModelBatch *batch) LS_RESULT_USED;
/** Sequences packed in row @p b of a batch (1 when it is not packed). Walk a row's sequences
 *  with k running over seq_lengths across rows, model_seq_positions(m, seq_lengths[k]) each. */
static inline int64_t model_row_seqs(const ModelBatch *batch, int64_t b) {
    return batch->row_seqs ? batch->row_seqs[b] : 1;
}
/** Positions of a sequence of @p n tokens or samples (waveform: ceil(n / frame)). */
static inline int64_t model_seq_positions(const Model *m, int64_t n) {
    const int64_t F = m->cfg.input == MODEL_INPUT_WAVEFORM ? m->cfg.frame : 1;
    return (n + F - 1) / F;
}

/** After params changed (AdamW, a load): refresh the bf16 copy of the weights, if any. */
int model_params_changed(Model *m) LS_RESULT_USED;
/** The scored positions of an LM batch with a target mask (model_output_rows' rule): their
 *  count, and their flat indices b·L + t into @p sel when it is not NULL. −1 without a mask. */
int64_t model_batch_selected(const Model *m, const ModelBatch *batch, int32_t *sel);

// ------------------------------------------------------------------------------ parts

/** heads.c: input stage → X (Be, L, D) with padded rows zero; its backward from dX. */
int model_input_fwd(Model *m, const ModelBatch *batch, float *X) LS_RESULT_USED;
int model_input_bwd(Model *m, const float *dX) LS_RESULT_USED;
/** heads.c: final norm into xf, then LM logits (Be·L, V) or pooled → classifier logits;
 *  @p embed_out (B, D) instead of logits when given (classification and LM alike). */
int model_head_fwd(Model *m, const float *X, float *xf, float *logits,
                   float *embed_out) LS_RESULT_USED;
/** heads.c: dR = ∂/∂X of the head (overwritten; padded rows zero). xf as the forward left it. */
int model_head_bwd(Model *m, const float *X, const float *xf, const float *dlogits,
                   float *dR) LS_RESULT_USED;

/** mamba.c: X_out = X_in + mixer(norm(X_in)) (X_out may equal X_in for one direction).
 *  @p state: per-layer stream state (Be rows) carried in and out, or NULL (zeros). */
int mamba_layer_fwd(Model *m, int layer, const float *X_in, float *X_out,
                    float *state) LS_RESULT_USED;
/** mamba.c: X_out += mixer_dir(norm(X_in)) for one direction (0 forward, 1 reverse: each
 *  row walked backwards within its length); @p state as above, of that direction. */
int mamba_layer_fwd_dir(Model *m, int layer, int dir, const float *X_in, float *X_out,
                        float *state) LS_RESULT_USED;
/** mamba.c: dR (gradient at the layer output) becomes the gradient at its input. */
int mamba_layer_bwd(Model *m, int layer, const float *X_in, float *dR) LS_RESULT_USED;
/** mamba.c: one token per row, X (B, D) updated in place, @p state the layer's stream state,
 *  scratch from the plan (B rows). */
int mamba_layer_step(Model *m, int layer, float *X, float *state) LS_RESULT_USED;
/** mamba.c: the arguments of layer @p layer's fused step (kernels/gen_step.h) over the plan's
 *  B rows: X the residual stream, @p state the layer's stream state, @p tokens (device, B)
 *  when the input rows are the embedding of these tokens (layer 0), else NULL. */
void mamba_layer_step_args(Model *m, int layer, float *X, float *state, const uint8_t *tokens,
                           GenStepLayer *a);
/** mamba.c: A = −exp(A_log) of every layer and direction into plan.A. */
int mamba_prepare_A(Model *m) LS_RESULT_USED;

/** stream.c: free the streaming state and caches (model_free). */
void model_stream_free(Model *m);

/** transformer.c: X_out = block(X_in) (may be in place); backward as mamba_layer_bwd. */
int transformer_layer_fwd(Model *m, int layer, const float *X_in, float *X_out) LS_RESULT_USED;
int transformer_layer_bwd(Model *m, int layer, const float *X_in, float *dR) LS_RESULT_USED;
/** transformer.c: X = block(X) in place for the next segment of a stream (plan rows B·L,
 *  every row full): its keys and values go into @p cache at held positions len..len+L−1
 *  (room there is the caller's), its queries at sequence positions @p pos0.. attend over
 *  the cache (causal; the Transformer's window as a sliding window), then len += L. */
int transformer_layer_stream(Model *m, int layer, float *X, KvCache *cache,
                             int64_t pos0) LS_RESULT_USED;

#endif
