/*
 * gen_step.h — the fused generation step of a causal Mamba language model on the GPU (issue 13,
 * "Audio generation"): one token per row through every layer and the head in ONE kernel launch
 * (thread-block clusters, sm_90) instead of ~60 launches of the unfused step.
 *
 * The specification is the unfused step, models/mamba.c mamba_layer_step() (cast, norm,
 * in_proj, conv_step, x_proj, dt_proj, scan_step, out_proj, add) and models/heads.c
 * model_head_fwd() for one position; the per-element formulas here are theirs (the norm's
 * double sums in the same lane order, the conv's rn_ arithmetic, the scan step's exp2 form),
 * and with act = bf16 every activation is rounded to bf16 where the unfused path stores a bf16
 * tensor (xt, xn, x|z, u, dt|B|C, delta, y, out_proj output), so the two paths differ only in
 * the summation order of the projections. Tested by tests/gpu/parity_gen_step.c (suite
 * gen_step): fused against unfused, logits every step and the carried states at the end.
 *
 * The kernel (argued in kernels/cuda/gen_step.cu and docs/generate.md "The fused step"): a
 * cluster of 8 or 16 CTAs owns 1, 2, 4 or 8 rows; its CTAs split d_inner's channels and
 * d_model's columns and meet at 3 cluster barriers a layer (after the x_proj partial sums,
 * after y, after the residual add); the head's logits columns are split the same way. Layer 0
 * may read its input rows from the embedding table (tokens): then no embedding kernel runs.
 *
 * The launch goes on the given stream (NULL: the thread's stream), so a CUDA graph captures
 * it; nothing here allocates or synchronizes. Call gen_step_prepare_cuda() once before the
 * first launch, outside a capture (it sets the kernel's shared-memory and cluster limits).
 */
#ifndef LS_GEN_STEP_H
#define LS_GEN_STEP_H

#include <stdint.h>

#include "common/error.h"
#include "kernels/dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Layers one launch takes (the kernel's parameter block holds their pointers, < 4 KB); a
 *  deeper model is stepped in launches of this many. */
#define GEN_STEP_LAYERS_PER_LAUNCH 16
/** Largest d_model and d_inner (rows of normalized inputs and of y in shared memory). */
#define GEN_STEP_MAX_K 1024
/** Largest dt_rank + 2·d_state (the x_proj outputs of a row kept in shared memory). */
#define GEN_STEP_MAX_W 1024

/** One Mamba layer's step (the layers of one gen_step_cuda call share everything but the
 *  weights and the state). Shapes (B rows, D = d_model, E = d_inner, N = d_state, K = d_conv,
 *  R = dt_rank, W = R + 2N). "act" tensors are fp32 or bf16 as @p act says; the rest fp32. */
typedef struct {
    int64_t B, D, E, N, K, R;
    DType act;             /* DTYPE_F32 or DTYPE_BF16: the projection weights and activations */
    int layer_norm;        /* 1 LayerNorm (norm_b used), 0 RMSNorm */
    float eps;
    float *X;              /* (B, D) fp32 residual stream: read (unless tokens), then += mixer */
    const uint8_t *tokens; /* (B) or NULL: the input rows are embed[tokens[b]] instead of X */
    const float *embed;    /* (V, D) fp32, with tokens (ids are trusted: < V) */
    const float *norm_w, *norm_b;  /* (D), (D) or NULL */
    const void *in_w;              /* act (2E, D) */
    const float *conv_w, *conv_b;  /* (E, K), (E) or NULL */
    const void *x_w;               /* act (W, E) */
    const void *dt_w;              /* act (E, R) */
    const float *dt_b;             /* (E) or NULL */
    const float *A;                /* (E, N) = −exp(A_log) */
    const float *D_skip;           /* (E) or NULL */
    const void *out_w;             /* act (D, E) */
    float *state;          /* conv (B, E, K−1) then scan (B, E, N): read and rewritten */
    void *y;               /* act scratch (B, E): the gated scan output, between CTAs */
    void *stream;          /* cudaStream_t; NULL = the thread's stream */
} GenStepLayer;

/** The head of one position: logits = norm_f(X) · wᵀ, all fp32 (as model_head_fwd). */
typedef struct {
    int64_t B, D, V;
    int layer_norm;
    float eps;
    const float *X;               /* (B, D) */
    const float *norm_w, *norm_b; /* (D), (D) or NULL */
    const float *w;               /* (V, D) */
    float *logits;                /* (B, V) */
} GenStepHead;

/**
 * 0 when the fused kernels take this layer's shape, else LS_ERR_UNSUPPORTED with a message
 * naming the size out of range (the caller then runs the unfused step). Keep in step with the
 * launcher in kernels/cuda/gen_step.cu (shared-memory rows: D, E ≤ GEN_STEP_MAX_K, …).
 */
int gen_step_cuda_supported(const GenStepLayer *a) LS_RESULT_USED;

/** Outside any capture, before the first gen_step_cuda of a shape: set the kernel's
 *  shared-memory limit and allow clusters of 16 (once per process), and plan the launch of
 *  @p a's shape (B, D, E, dt_rank + 2N, act): the cluster size and rows per cluster, from the
 *  occupancy API. The plan is kept until another shape is prepared.
 *  @return 0; LS_ERR_UNSUPPORTED (no cluster fits the GPU); LS_ERR_CUDA; LS_ERR_NO_CUDA in a
 *  CPU-only build. */
int gen_step_prepare_cuda(const GenStepLayer *a) LS_RESULT_USED;

/**
 * Queue one step of @p n_layers (1..GEN_STEP_LAYERS_PER_LAUNCH) layers and then, if @p head is
 * not NULL, the head, as one kernel launch on layers[0].stream (never waits). Only layers[0]
 * may have tokens; all layers share B, the shapes, the norm, X and y; the head's X is theirs.
 * @return 0; LS_ERR_UNSUPPORTED (shape, see above); LS_ERR_USAGE (NULL pointer, B < 1, layers
 * that differ, shape not prepared); LS_ERR_CUDA; LS_ERR_NO_CUDA in a
 * CPU-only build.
 */
int gen_step_cuda(const GenStepLayer *layers, int n_layers, const GenStepHead *head)
    LS_RESULT_USED;

#ifdef __cplusplus
}
#endif
#endif
