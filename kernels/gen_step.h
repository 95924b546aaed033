/*
 * gen_step.h — the fused generation step of a causal Mamba language model on the GPU (issue 13,
 * "Audio generation"): one token per row through a layer in 3 or 4 kernels instead of ~10, and
 * the head (final norm + vocabulary projection) in one, every kernel handling all B rows so
 * each weight is read once per step whatever B is.
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
 * The kernels of one layer (the split is argued in kernels/cuda/gen_step.cu and docs/models.md):
 *   1. norm + in_proj + conv step + SiLU: blocks split the 2E output columns; each block
 *      normalizes the B input rows itself (D is small) into shared memory; the x half goes
 *      through the conv (state updated in place) into u, the z half is stored.
 *   2. (B > GEN_STEP_XPROJ_INLINE_ROWS only) x_proj: dt | B | C of every row into dbl.
 *   3. dt_proj + softplus + scan step + D skip + SiLU(z) gate: blocks split the E channels; at
 *      small B each block computes x_proj for all rows itself (no kernel boundary).
 *   4. out_proj + residual add into X: blocks split the D output columns.
 * Layer 0 may read its input rows from the embedding table (tokens): then no embedding kernel
 * runs, and kernel 4 writes X = embedding row + mixer output.
 *
 * All launches go on the given stream (NULL: the thread's stream), so a CUDA graph captures
 * them; nothing here allocates or synchronizes. Call gen_step_prepare_cuda() once before the
 * first launch, outside a capture (it raises the kernels' shared-memory limit).
 */
#ifndef LS_GEN_STEP_H
#define LS_GEN_STEP_H

#include <stdint.h>

#include "common/error.h"
#include "kernels/dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Up to this many rows the scan kernel computes x_proj itself (one kernel boundary fewer);
 *  above it a separate kernel does, once for all rows (the per-block recompute grows with B). */
#define GEN_STEP_XPROJ_INLINE_ROWS 4
/** Largest reduction length (D for in_proj and the head, E for x_proj and out_proj): each lane
 *  holds up to 32 weights of a column in registers. */
#define GEN_STEP_MAX_K 1024
/** Largest dt_rank + 2·d_state (the x_proj outputs of a row kept in shared memory). */
#define GEN_STEP_MAX_W 1024

/** One Mamba layer's step. Shapes (B rows, D = d_model, E = d_inner, N = d_state, K = d_conv,
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
    void *u, *z, *dbl, *y; /* act scratch: (B, E), (B, E), (B, W), (B, E) */
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
    void *stream;
} GenStepHead;

/**
 * 0 when the fused kernels take this layer's shape, else LS_ERR_UNSUPPORTED with a message
 * naming the size out of range (the caller then runs the unfused step). Keep in step with the
 * launchers in kernels/cuda/gen_step.cu (what they index with: K ≤ GEN_STEP_MAX_K, …).
 */
int gen_step_cuda_supported(const GenStepLayer *a) LS_RESULT_USED;

/** Raise the shared-memory limit of every fused kernel (once per process; outside a capture).
 *  @return 0; LS_ERR_CUDA; LS_ERR_NO_CUDA in a CPU-only build. */
int gen_step_prepare_cuda(void) LS_RESULT_USED;

/** Queue one layer's step (never waits). @return 0; LS_ERR_UNSUPPORTED (shape, see above);
 *  LS_ERR_USAGE (NULL pointer, B < 1); LS_ERR_CUDA; LS_ERR_NO_CUDA in a CPU-only build. */
int gen_step_layer_cuda(const GenStepLayer *a) LS_RESULT_USED;

/** Queue the head (one kernel). Errors as gen_step_layer_cuda. */
int gen_step_head_cuda(const GenStepHead *a) LS_RESULT_USED;

#ifdef __cplusplus
}
#endif
#endif
