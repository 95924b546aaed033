/*
 * ops_internal.h — the device dispatch points of models/ (STYLE rule 24): every numeric call
 * the model code makes goes through one of these, which switch on dev->kind and call the
 * kernels' `<op>_<dir>_cpu` function (DEVICE_CPU) or, for DEVICE_CUDA, return
 * LS_ERR_UNSUPPORTED until the GPU issue adds the `_cuda` functions behind the same switch.
 * Arguments are exactly the kernel's (see kernels/<op>.h for shapes and the += convention).
 *
 * The second half are glue ops that kernels/ does not have (copies, residual adds, per-row
 * reversal, the A = −exp(A_log) transform, pair averaging for the RC-equivariant head, token
 * and frame preparation). Their CPU bodies live in models/ops.c; they are elementwise or
 * row moves, deterministic for any thread count, and are candidates to move into kernels/
 * with their CUDA versions.
 *
 * Private to models/. Tested through tests/unit/test_model.c.
 */
#ifndef LS_MODELS_OPS_INTERNAL_H
#define LS_MODELS_OPS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "kernels/attention.h"
#include "kernels/conv.h"
#include "kernels/device.h"
#include "kernels/optim.h"
#include "kernels/pool.h"
#include "kernels/scan.h"

// ------------------------------------------------------------------------------ memory

/** Device buffer of @p bytes (256-byte aligned on the CPU); free with ops_free(). */
int ops_alloc(const Device *dev, void **ptr, size_t bytes, const char *what) LS_RESULT_USED;
void ops_free(const Device *dev, void *ptr);

// ------------------------------------------------------------------------------ kernels

int ops_matmul_fwd(const Device *dev, float *y, const float *x, const float *w, const float *b,
                   int64_t M, int64_t K, int64_t N, int64_t ld_x, int64_t ld_y) LS_RESULT_USED;
int ops_matmul_bwd(const Device *dev, float *dx, float *dw, float *db, const float *dy,
                   const float *x, const float *w, int64_t M, int64_t K, int64_t N, int64_t ld_x,
                   int64_t ld_y) LS_RESULT_USED;

/** RMSNorm (layer_norm = 0; mean unused) or LayerNorm (layer_norm = 1). */
int ops_norm_fwd(const Device *dev, int layer_norm, float *y, float *mean, float *rstd,
                 const float *x, const float *w, const float *b, int64_t M, int64_t D,
                 float eps) LS_RESULT_USED;
int ops_norm_bwd(const Device *dev, int layer_norm, float *dx, float *dw, float *db,
                 const float *dy, const float *x, const float *w, const float *mean,
                 const float *rstd, int64_t M, int64_t D) LS_RESULT_USED;

int ops_gelu_fwd(const Device *dev, float *y, const float *x, int64_t n) LS_RESULT_USED;
int ops_gelu_bwd(const Device *dev, float *dx, const float *dy, const float *x,
                 int64_t n) LS_RESULT_USED;

int ops_scan_fwd(const Device *dev, const ScanArgs *a) LS_RESULT_USED;
int ops_scan_bwd(const Device *dev, const ScanArgs *a) LS_RESULT_USED;
int ops_scan_step(const Device *dev, const ScanArgs *a) LS_RESULT_USED;
/** Backward workspace bytes on @p dev for these shapes. */
size_t ops_scan_bwd_workspace_size(const Device *dev, const ScanArgs *a);

int ops_conv_fwd(const Device *dev, const ConvArgs *a) LS_RESULT_USED;
int ops_conv_bwd(const Device *dev, const ConvArgs *a) LS_RESULT_USED;
int ops_conv_step(const Device *dev, const ConvArgs *a) LS_RESULT_USED;

int ops_attention_fwd(const Device *dev, float *out, float *lse, const float *q, const float *k,
                      const float *v, const AttentionShape *s) LS_RESULT_USED;
int ops_attention_bwd(const Device *dev, float *dq, float *dk, float *dv, const float *dout,
                      const float *q, const float *k, const float *v, const float *out,
                      const float *lse, const AttentionShape *s) LS_RESULT_USED;
int ops_rope_fwd(const Device *dev, float *out, const float *x, const RopeShape *s) LS_RESULT_USED;
int ops_rope_bwd(const Device *dev, float *dx, const float *dout,
                 const RopeShape *s) LS_RESULT_USED;

int ops_embedding_fwd(const Device *dev, float *out, const int32_t *ids, const float *table,
                      int64_t M, int64_t V, int64_t D) LS_RESULT_USED;
int ops_embedding_bwd(const Device *dev, float *dtable, const float *dout, const int32_t *ids,
                      int64_t M, int64_t V, int64_t D) LS_RESULT_USED;

int ops_pool_fwd(const Device *dev, float *out, const float *x, const int64_t *lengths, int64_t B,
                 int64_t L, int64_t D, PoolMode mode) LS_RESULT_USED;
int ops_pool_bwd(const Device *dev, float *dx, const float *dout, const int64_t *lengths, int64_t B,
                 int64_t L, int64_t D, PoolMode mode) LS_RESULT_USED;

int ops_loss_xent(const Device *dev, double *mean_loss, float *row_loss, float *dlogits,
                  const float *logits, const int32_t *targets, const float *weights, int64_t M,
                  int64_t V, float grad_scale) LS_RESULT_USED;

int ops_adamw_step(const Device *dev, float *params, float *m, float *v, const float *grads,
                   const OptimTensor *tensors, int64_t n_tensors, const AdamWConfig *cfg,
                   int64_t step, double lr, float grad_scale) LS_RESULT_USED;
int ops_grad_norm(const Device *dev, double *norm, const float *grads, const OptimTensor *tensors,
                  int64_t n_tensors) LS_RESULT_USED;

// ------------------------------------------------------------------------------ glue

/** x[0..n) = 0. */
int ops_zero(const Device *dev, float *x, int64_t n) LS_RESULT_USED;
/** dst[0..n) = src[0..n) (no overlap). */
int ops_copy(const Device *dev, float *dst, const float *src, int64_t n) LS_RESULT_USED;
/** y += x, n elements (the residual add). */
int ops_add(const Device *dev, float *y, const float *x, int64_t n) LS_RESULT_USED;
/** y = −exp(x) (Mamba's A from A_log). */
int ops_neg_exp(const Device *dev, float *y, const float *x, int64_t n) LS_RESULT_USED;
/** y += a·b elementwise (dA_log += dA·A, the chain rule of A = −exp(A_log)). */
int ops_mul_acc(const Device *dev, float *y, const float *a, const float *b,
                int64_t n) LS_RESULT_USED;

/**
 * One tile of a per-row, optionally reversed walk over a (Be, L, W) tensor. Tile position
 * s in [s0, s0 + nt) of row b maps to sequence position p = s (reverse = 0) or
 * p = lengths[b] − 1 − s (reverse = 1); it is valid when s < lengths[b].
 * gather:       dst (Be, nt, W) dense: dst[b, s − s0] = src[b, p], 0 where not valid.
 * scatter_add:  dst (Be, L, W):  dst[b, p] += src[b, s − s0] where valid (src (Be, nt, W)).
 */
int ops_rows_gather(const Device *dev, float *dst, const float *src, const int64_t *lengths,
                    int64_t Be, int64_t L, int64_t W, int64_t s0, int64_t nt,
                    int reverse) LS_RESULT_USED;
int ops_rows_scatter_add(const Device *dev, float *dst, const float *src, const int64_t *lengths,
                         int64_t Be, int64_t L, int64_t W, int64_t s0, int64_t nt,
                         int reverse) LS_RESULT_USED;
/** x (Be, L, W): rows p >= lengths[b] set to 0. */
int ops_rows_zero_tail(const Device *dev, float *x, const int64_t *lengths, int64_t Be, int64_t L,
                       int64_t W) LS_RESULT_USED;

/** out (B, W) = ½(x[b] + x[B + b]), x (2B, W); backward: dx[b] += ½dout[b], dx[B+b] too. */
int ops_pair_mean_fwd(const Device *dev, float *out, const float *x, int64_t B,
                      int64_t W) LS_RESULT_USED;
int ops_pair_mean_bwd(const Device *dev, float *dx, const float *dout, int64_t B,
                      int64_t W) LS_RESULT_USED;

/**
 * Token ids for the embedding: ids (Be, L) int32 from tokens (B, L); padded positions get 0.
 * With rc (Be = 2B), rows B + b hold the reverse complement of row b within its length
 * (t < 4 → 3 − t, others kept). @return 0, or LS_ERR_USAGE naming the row and position of a
 * token >= vocab.
 */
int ops_tokens_to_ids(const Device *dev, int32_t *ids, const uint8_t *tokens,
                      const int64_t *lengths, int64_t B, int64_t L, int64_t vocab,
                      int rc) LS_RESULT_USED;

/** ids (B, L) from int32 ids (synthetic tasks): checked against @p vocab (LS_ERR_USAGE as
 *  ops_tokens_to_ids), padded positions 0. */
int ops_ids_to_ids(const Device *dev, int32_t *ids, const int32_t *src, const int64_t *lengths,
                   int64_t B, int64_t L, int64_t vocab) LS_RESULT_USED;

/** frames (B, Lt, F) from samples (B, L): frame j of row b = samples [j·F, (j+1)·F), 0 at
 *  and past sample_lengths[b]; Lt = ceil(L / F). */
int ops_frames(const Device *dev, float *frames, const float *samples,
               const int64_t *sample_lengths, int64_t B, int64_t L, int64_t F,
               int64_t Lt) LS_RESULT_USED;


// ------------------------------------------------------------------------------ streaming
// (added with streaming and generation: the key/value cache of attention layers, strided
// copies in and out of it, and the running sums of pooled streams)

#include "kernels/attention_kv.h"

/** Attention of new queries over a key/value cache (kernels/attention_kv.h). */
int ops_attention_kv_fwd(const Device *dev, float *out, const float *q, const float *k,
                         const float *v, const AttentionKvShape *s) LS_RESULT_USED;

/**
 * Copy a (B, L, W) block between two strided layouts (no overlap):
 * dst[b·dst_sb + l·dst_sl + w] = src[b·src_sb + l·src_sl + w].
 */
int ops_copy_blocks(const Device *dev, float *dst, int64_t dst_sb, int64_t dst_sl,
                    const float *src, int64_t src_sb, int64_t src_sl, int64_t B, int64_t L,
                    int64_t W) LS_RESULT_USED;


/** acc (B, W) += Σ_l x[b, l, :] over x (B, L, W), summed in double in the order l = 0..L−1
 *  (pool_fwd's order, so a mean over segments equals the mean over one pass). */
int ops_sum_rows_acc(const Device *dev, double *acc, const float *x, int64_t B, int64_t L,
                     int64_t W) LS_RESULT_USED;
/** out[i] = (float)(acc[i] / count), n elements (the mean pool's last step). */
int ops_mean_from_sum(const Device *dev, float *out, const double *acc, int64_t n,
                      double count) LS_RESULT_USED;
/** Host ↔ device copies of n floats (the CPU: memcpy). */
int ops_to_device(const Device *dev, float *dst, const float *host_src, int64_t n) LS_RESULT_USED;
int ops_to_host(const Device *dev, float *host_dst, const float *src, int64_t n) LS_RESULT_USED;

#endif
