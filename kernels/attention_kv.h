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
 * Tested by tests/unit/test_attention_kv.c. CUDA: not yet (models/ops.c refuses it there).
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
} AttentionKvShape;

/**
 * out = causal attention of the queries over the cached keys and values (rule above).
 * @param out  (B, Lq, H, hd) contiguous, overwritten
 * @return 0; LS_ERR_USAGE for NULL pointers, negative sizes or positions, H < 1, hd outside
 *         1..ATTENTION_MAX_HEAD_DIM, scale < 0 or a self-overlapping view.
 */
int attention_kv_fwd_cpu(float *out, const float *q, const float *k, const float *v,
                         const AttentionKvShape *s) LS_RESULT_USED;

#ifdef __cplusplus
}
#endif
#endif
