/*
 * attention.h — multi-head scaled dot-product attention (forward, backward; causal or
 * bidirectional; per-row key padding) and rotary position embedding (RoPE), for the
 * Transformer baseline.
 *
 * Layout. q, k, v are (B, L, H, hd) *views*: element (b, l, h, e) of q is at
 *   q[b·q.batch + l·q.pos + h·q.head + e]
 * with the head dimension contiguous. This reads the output of one fused qkv projection,
 * (B, L, 3, H, hd) = matmul output (M, 3·H·hd), in place: pass q = qkv, k = qkv + H·hd,
 * v = qkv + 2·H·hd, all with attention_view_packed(L, 3, H, hd). Gradients dq, dk, dv are
 * written through the same views as q, k, v (so dqkv can be one buffer). out and dout are
 * contiguous (B, L, H, hd) = (M, H·hd), ready for the output projection. A view must not
 * overlap itself (no broadcasting strides): LS_ERR_USAGE otherwise.
 *
 * Math, for batch row b with n = lengths[b] valid positions (n = L without lengths), head h,
 * query i < n, scale = 1/√hd unless given:
 *   keys(i) = { j : j < n, and j <= i if causal }
 *   s_ij = scale·q_i·k_j,  lse_i = log Σ_{j∈keys(i)} exp(s_ij),  p_ij = exp(s_ij − lse_i)
 *   out_i = Σ_j p_ij·v_j
 * Padded query rows (i >= n) get out_i = 0 and lse_i = 0, and their dout is ignored; this
 * is where we differ from PyTorch, whose fully masked rows give NaN.
 * Memory: the forward saves only lse (B, H, L); the backward recomputes p (flash-attention
 * style), so no O(L²) buffer exists. Work is O(B·H·L²·hd) (plain loops on the CPU).
 *
 * Gradient convention (project-wide): backward ops ACCUMULATE (+=) into every gradient
 * output; the caller zeroes gradients before the first backward of a step.
 * The backward is race-free and deterministic: one pass owns each query row (dq), a second
 * owns each key row (dk, dv); every sum is in a fixed order in double.
 *
 * RoPE (GPT-NeoX / LLaMA "rotate half"): for position p = pos0 + l, pair index
 * i < half = rot_dim/2, θ = p·base^(−2i/rot_dim):
 *   out[i]        = x[i]·cos θ − x[i+half]·sin θ
 *   out[i+half]   = x[i+half]·cos θ + x[i]·sin θ
 *   out[d]        = x[d]  for rot_dim <= d < hd (partial rotary, GPT-NeoX rotary_pct)
 * Angles are computed in double. Apply it to q and k before attention.
 *
 * Lengths (lengths[b]) live on the same device as the tensors. The CPU ops validate them
 * (LS_ERR_RANGE); the CUDA ops do not read device memory on the host, so they clamp each
 * length to [0, L] on the device: validate lengths before uploading them.
 *
 * CUDA (kernels/cuda/attention.cu) takes the same structs and matches the CPU within the
 * tests/gpu tolerances (tests/gpu/parity_attention.c). Precision (`dtype`): with DTYPE_BF16
 * the tensors q, k, v, out, dout, dq, dk, dv (and RoPE's x, out, dx, dout) are bf16 (the same
 * `float *` fields, cast), while lse stays fp32; arithmetic and accumulation are fp32 in both
 * precisions (bf16: tensor-core mma with fp32 accumulators; p and ds are rounded to bf16 as
 * the second matmul's operand, as in FlashAttention). The CPU ops accept DTYPE_F32 only.
 * The CUDA backward is deterministic as well: a dq pass over query tiles and a dk/dv pass
 * over key tiles, no atomics, fixed summation order, so two runs give identical bytes.
 * Which shapes the CUDA kernels serve: attention_cuda_supported().
 * Tested by tests/unit/test_attention.c (CPU) and tests/gpu/parity_attention.c (CUDA).
 */
#ifndef LS_ATTENTION_H
#define LS_ATTENTION_H

#include <stdint.h>

#include "common/error.h"
#include "kernels/dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Largest head dimension (the CPU keeps one head row of accumulators on the stack). */
#define ATTENTION_MAX_HEAD_DIM 256

/** Element strides of one (B, L, H, hd) view; the last (head-dim) stride is 1. */
typedef struct {
    int64_t batch; /* elements from (b, l, h, 0) to (b+1, l, h, 0) */
    int64_t pos;   /* ... to (b, l+1, h, 0) */
    int64_t head;  /* ... to (b, l, h+1, 0) */
} AttentionView;

/** Shape and options of one attention call. */
typedef struct {
    int64_t B, L;           /* batch rows, positions per row (queries = keys = L) */
    int H, hd;              /* heads, head dimension (1..ATTENTION_MAX_HEAD_DIM) */
    int causal;             /* nonzero: query i sees keys j <= i */
    float scale;            /* softmax scale; 0 means 1/√hd */
    const int64_t *lengths; /* (B) valid positions per row, each in [0, L]; NULL: all L */
    AttentionView q, k, v;  /* views of q/dq, k/dk, v/dv */
    DType dtype;            /* DTYPE_F32 (zero) or DTYPE_BF16: q, k, v, out, dout, dq, dk, dv */
    void *stream;           /* CUDA: cudaStream_t to run on; NULL = default stream */
} AttentionShape;

/** Contiguous (B, L, H, hd). */
static inline AttentionView attention_view_contiguous(int64_t L, int H, int hd) {
    AttentionView view = {L * H * hd, (int64_t)H * hd, hd};
    return view;
}

/** One of n_packed tensors of a packed (B, L, n_packed, H, hd) buffer; offset the base
 *  pointer by t·H·hd for the t-th tensor (q, k, v = 0, 1, 2 for a fused qkv). */
static inline AttentionView attention_view_packed(int64_t L, int n_packed, int H, int hd) {
    AttentionView view = {L * n_packed * H * hd, (int64_t)n_packed * H * hd, hd};
    return view;
}

/**
 * Attention forward.
 * @param out  (B, L, H, hd) contiguous output (overwritten; zero on padded query rows)
 * @param lse  (B, H, L) log-sum-exp per query row, saved for the backward; NULL to skip
 * @param q    view (B, L, H, hd); @param k, @param v likewise
 * @param s    shape, options and views
 * @return 0; LS_ERR_USAGE for NULL pointers, B or L < 0, H < 1, hd outside
 *         1..ATTENTION_MAX_HEAD_DIM, scale < 0, or a self-overlapping view;
 *         LS_ERR_RANGE for a length outside [0, L] (message names the row).
 */
int attention_fwd_cpu(float *out, float *lse, const float *q, const float *k, const float *v,
                      const AttentionShape *s) LS_RESULT_USED;

/**
 * Attention backward: dq += ∂/∂q, dk += ∂/∂k, dv += ∂/∂v of Σ dout·out. Any of dq, dk, dv
 * may be NULL to skip it. The gradients must not alias q, k, v, out or dout, nor each other
 * (they may be three disjoint views of one packed buffer).
 * @param dq, dk, dv   views as q, k, v in @p s
 * @param dout  (B, L, H, hd) contiguous
 * @param q, k, v      forward inputs
 * @param out   (B, L, H, hd) forward output
 * @param lse   (B, H, L) from attention_fwd_cpu
 * @return as attention_fwd_cpu.
 */
int attention_bwd_cpu(float *dq, float *dk, float *dv, const float *dout, const float *q,
                      const float *k, const float *v, const float *out, const float *lse,
                      const AttentionShape *s) LS_RESULT_USED;

/**
 * The same forward and backward on blocks of queries and keys with sgemm and float softmax
 * (kernels/cpu/attention_blocked.c): the fast CPU path models/ops.c uses unless the
 * environment sets LS_CPU_REF=1. Same arguments, checks, padding rules and += convention;
 * results within the reference's test tolerances, bit-identical for any thread count.
 * @return as the reference; LS_ERR_NOMEM for its block buffers (per thread: the forward
 *         64·256 + 64·hd floats, the backward about 2·64·256 + 2·256·hd + L·(hd + 1)).
 */
int attention_fwd_cpu_blocked(float *out, float *lse, const float *q, const float *k,
                              const float *v, const AttentionShape *s) LS_RESULT_USED;
int attention_bwd_cpu_blocked(float *dq, float *dk, float *dv, const float *dout, const float *q,
                              const float *k, const float *v, const float *out, const float *lse,
                              const AttentionShape *s) LS_RESULT_USED;

/** Shape and options of one RoPE call. */
typedef struct {
    int64_t B, L;    /* batch rows, positions */
    int H, hd;       /* heads, head dimension */
    int rot_dim;     /* rotated leading dims, even, 2..hd (hd for LLaMA) */
    float base;      /* frequency base, > 0 (10000 in GPT-NeoX and LLaMA) */
    int64_t pos0;    /* position of l = 0 (>= 0; e.g. tokens already generated) */
    AttentionView x; /* view of x / dx; out and dout are contiguous (B, L, H, hd) */
    DType dtype;     /* DTYPE_F32 (zero) or DTYPE_BF16: x, out, dx, dout */
    void *stream;    /* CUDA: cudaStream_t to run on; NULL = default stream */
} RopeShape;

/**
 * out = RoPE(x).
 * @param out  (B, L, H, hd) contiguous
 * @param x    view (B, L, H, hd), e.g. q or k inside a packed qkv buffer
 * @return 0; LS_ERR_USAGE for NULL pointers, B or L < 0, H < 1, hd outside
 *         1..ATTENTION_MAX_HEAD_DIM, rot_dim odd or outside 2..hd, base <= 0, pos0 < 0, or a
 *         self-overlapping view.
 */
int attention_rope_fwd_cpu(float *out, const float *x, const RopeShape *s) LS_RESULT_USED;

/**
 * dx += RoPE⁻¹(dout) (the rotation is orthogonal: its backward rotates by −θ).
 * @param dx    view (B, L, H, hd), e.g. the q part of a packed dqkv buffer
 * @param dout  (B, L, H, hd) contiguous
 * @return as attention_rope_fwd_cpu.
 */
int attention_rope_bwd_cpu(float *dx, const float *dout, const RopeShape *s) LS_RESULT_USED;

/**
 * Backend-independent validation (kernels/attention.c), called by the CPU and CUDA ops:
 * shape, scale, views, and (when @p lengths_on_host) each lengths[b] in [0, L].
 * @param who  function name for the message
 * @return 0, LS_ERR_USAGE or LS_ERR_RANGE (message names the bad value).
 */
int attention_check(const char *who, const AttentionShape *s, int lengths_on_host) LS_RESULT_USED;

/** As attention_check() for RoPE. */
int attention_rope_check(const char *who, const RopeShape *s) LS_RESULT_USED;

// ----------------------------------------------------------------------------- CUDA

/**
 * Whether the CUDA attention kernels serve @p s (STYLE 22; kept next to the launchers in
 * kernels/cuda/attention.cu). Served: hd in {32, 64, 128}; B, H <= 65535; DTYPE_F32 with any
 * valid views; DTYPE_BF16 with view strides that are multiples of 8 elements (16-byte rows;
 * the launchers also need 16-byte aligned base pointers). Anything else is refused, never
 * run elsewhere silently.
 * @return 0 when served; LS_ERR_UNSUPPORTED (message names the shape and the reason), or the
 *         code of attention_check().
 */
int attention_cuda_supported(const AttentionShape *s) LS_RESULT_USED;

/**
 * attention_fwd_cpu() on the GPU: every pointer (lengths too) is device memory; runs
 * asynchronously on s->stream. bf16: FlashAttention-2-style kernel (mma.sync m16n8k16,
 * online softmax in fp32). @return 0, the codes of attention_cuda_supported(), LS_ERR_CUDA;
 * LS_ERR_NO_CUDA in a CPU-only build.
 */
int attention_fwd_cuda(float *out, float *lse, const float *q, const float *k, const float *v,
                       const AttentionShape *s) LS_RESULT_USED;

/** attention_bwd_cpu() on the GPU (device pointers, s->stream); accumulates (+=) into
 *  dq, dk, dv; deterministic. @return as attention_fwd_cuda(). */
int attention_bwd_cuda(float *dq, float *dk, float *dv, const float *dout, const float *q,
                       const float *k, const float *v, const float *out, const float *lse,
                       const AttentionShape *s) LS_RESULT_USED;

/** attention_rope_fwd_cpu() on the GPU (device pointers, s->stream; any hd, both dtypes).
 *  @return 0, the codes of attention_rope_check(), LS_ERR_CUDA, LS_ERR_NO_CUDA. */
int attention_rope_fwd_cuda(float *out, const float *x, const RopeShape *s) LS_RESULT_USED;

/** attention_rope_bwd_cpu() on the GPU (dx += ...). @return as attention_rope_fwd_cuda(). */
int attention_rope_bwd_cuda(float *dx, const float *dout, const RopeShape *s) LS_RESULT_USED;

#ifdef __cplusplus
}
#endif
#endif
