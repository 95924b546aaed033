/*
 * attention_kv.h — causal attention of new queries over a key/value cache: the decoding form
 * of kernels/attention.h that streaming and generation need, where the queries of a segment
 * (or the one token of a generation step) sit after keys already held, so the queries and
 * the keys differ in number and in position.
 *
 * Positions are absolute (tokens since the start of the sequence). Row b holds Lq queries at
 * positions q_pos0 .. q_pos0 + Lq − 1 and Lk keys (and values) at k_pos0 .. k_pos0 + Lk − 1.
 * Query i at p = q_pos0 + i sees key j at k = k_pos0 + j when
 *     k <= p                        (causal)
 *     k >  p − window               (window > 0: a sliding window of `window` positions)
 * and gets out_i = Σ_j softmax_j(scale·q_i·k_j)·v_j over those keys; a query that sees no key
 * gets 0. Without a window, Lk = q_pos0 + Lq − k_pos0 keys and k_pos0 = 0, this is row
 * q_pos0 + i of attention_fwd_cpu(causal) on the whole sequence (tested).
 *
 * Layout: q, k, v are (B, ·, H, hd) views as in attention.h (head dim contiguous); out is
 * contiguous (B, Lq, H, hd). RoPE is the caller's (attention_rope_fwd_cpu with pos0).
 * Numerics: dot products, the online softmax (running max, rescaled sum) and the output
 * accumulators in double; one pass over the keys. Work O(B·H·Lq·Lk·hd), memory O(1) extra.
 * Deterministic for any thread count (one task per (b, h, i), keys in order).
 *
 * CUDA (kernels/cuda/attention_kv.cu): the same rule on device pointers, fp32 or bf16 storage
 * (`dtype`: q, k, v and out; arithmetic in fp32 either way), on `stream`. One warp per query
 * and head walks its keys in fixed chunks with an fp32 online softmax (the chunks' partial
 * max, sum and accumulators combined in chunk order), so it is deterministic but not the
 * CPU's double arithmetic: within 1e-5 relative in fp32 (tests/gpu/parity_attention_kv.c).
 *
 * Tested by tests/unit/test_attention_kv.c (CPU) and tests/gpu/parity_attention_kv.c (CUDA).
 */
#ifndef LS_ATTENTION_KV_H
#define LS_ATTENTION_KV_H

#include <stdint.h>

#include "common/error.h"
#include "kernels/attention.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int64_t B;             /* rows */
    int64_t Lq, Lk;        /* queries, keys per row (>= 0) */
    int H, hd;             /* heads, head dimension (1..ATTENTION_MAX_HEAD_DIM) */
    int64_t q_pos0;        /* position of query 0 (>= 0) */
    int64_t k_pos0;        /* position of key 0 (>= 0) */
    int64_t window;        /* 0: every earlier key; else keys at p − window < k <= p */
    float scale;           /* 0: 1/√hd */
    AttentionView q, k, v; /* q (B, Lq, H, hd); k, v (B, Lk, H, hd) */
    DType dtype;           /* DTYPE_F32 (zero) or DTYPE_BF16 (CUDA only): q, k, v, out */
    void *stream;          /* CUDA: cudaStream_t to run on; NULL = the default stream */
} AttentionKvShape;

/**
 * out = causal attention of the queries over the cached keys and values (rule above).
 * @param out  (B, Lq, H, hd) contiguous, overwritten
 * @return 0; LS_ERR_USAGE for NULL pointers, negative sizes or positions, H < 1, hd outside
 *         1..ATTENTION_MAX_HEAD_DIM, scale < 0, a self-overlapping view, or a dtype other
 *         than DTYPE_F32 (the CPU computes in fp32).
 */
int attention_kv_fwd_cpu(float *out, const float *q, const float *k, const float *v,
                         const AttentionKvShape *s) LS_RESULT_USED;

/**
 * attention_kv_fwd_cpu() on the GPU: device pointers, s->dtype storage, queued on s->stream
 * (never waits). B·H·Lq must fit 2^31 − 1 warps' grid (it does for any model's segment).
 * @return 0; the codes of attention_kv_fwd_cpu() for a bad shape (dtype: F32 or BF16);
 *         LS_ERR_CUDA; LS_ERR_NO_CUDA in a CPU-only build.
 */
int attention_kv_fwd_cuda(float *out, const float *q, const float *k, const float *v,
                          const AttentionKvShape *s) LS_RESULT_USED;

/** Backend-independent validation shared by both (kernels/cpu/attention_kv.c). */
int attention_kv_check(const char *who, const float *out, const float *q, const float *k,
                       const float *v, const AttentionKvShape *s) LS_RESULT_USED;

#ifdef __cplusplus
}
#endif
#endif
