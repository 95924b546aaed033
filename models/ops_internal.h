/*
 * ops_internal.h — the device dispatch points of models/ (STYLE rule 24): every numeric call
 * the model code makes, and every move of model memory between the host and the device, goes
 * through one of these. Each switches on dev->kind and calls the kernels' `<op>_<dir>_cpu`
 * function (DEVICE_CPU) or `<op>_<dir>_cuda` (DEVICE_CUDA, device pointers, the default stream,
 * asynchronous). Arguments are exactly the kernel's (see kernels/<op>.h for shapes and the +=
 * convention), plus, where a tensor may be bf16 on the GPU, its storage type `t` (kernels/
 * dtype.h: a bf16 tensor travels behind the same float pointer). The CPU is fp32: a bf16 type
 * there is LS_ERR_UNSUPPORTED.
 *
 * The glue ops (copies, residual adds, per-row reversal, the A = −exp(A_log) transform, pair
 * averaging for the RC-equivariant head, token and frame preparation) are kernels/glue.h.
 *
 * Private to models/. Tested through tests/unit/test_model.c (CPU) and tests/gpu/model_gpu.c
 * (the whole model, GPU against CPU).
 */
#ifndef LS_MODELS_OPS_INTERNAL_H
#define LS_MODELS_OPS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "kernels/attention.h"
#include "kernels/conv.h"
#include "kernels/device.h"
#include "kernels/dropout.h"
#include "kernels/dtype.h"
#include "kernels/optim.h"
#include "kernels/pool.h"
#include "kernels/scan.h"
#include "models/model.h"

// ------------------------------------------------------------------------------ profiler

/** The op profiler behind model_profile_start / model_profile_stop (models/model.h). */
int ops_profile_start(const Device *dev) LS_RESULT_USED;
int ops_profile_stop(ModelProfile *out) LS_RESULT_USED;
void ops_profile_free(void);

// ------------------------------------------------------------------------------ memory

/**
 * Buffer of @p bytes on @p dev, 256-byte aligned; free with ops_free(). On the GPU an
 * out-of-memory failure is LS_ERR_CUDA_OOM with the bytes asked for, the bytes free and what to
 * lower (--batch-size, --max-tokens, --seq-len); @p what names the buffer.
 */
int ops_alloc(const Device *dev, void **ptr, size_t bytes, const char *what) LS_RESULT_USED;
void ops_free(const Device *dev, void *ptr);

/** @p bytes from host memory into the device buffer @p dst (memcpy on the CPU). Synchronous. */
int ops_upload(const Device *dev, void *dst, const void *host, size_t bytes) LS_RESULT_USED;
/** @p bytes from the device buffer @p src into host memory; waits for the work queued before. */
int ops_download(const Device *dev, void *host, const void *src, size_t bytes) LS_RESULT_USED;

// ------------------------------------------------------------------------------ kernels

/** t: storage of x, y, dx, dy (and w: with DTYPE_BF16 the bf16 copy of the weights; b, dw, db
 *  stay fp32). */
int ops_matmul_fwd(const Device *dev, DType t, float *y, const float *x, const float *w,
                   const float *b, int64_t M, int64_t K, int64_t N, int64_t ld_x,
                   int64_t ld_y) LS_RESULT_USED;
int ops_matmul_bwd(const Device *dev, DType t, float *dx, float *dw, float *db, const float *dy,
                   const float *x, const float *w, int64_t M, int64_t K, int64_t N, int64_t ld_x,
                   int64_t ld_y) LS_RESULT_USED;
/** ops_matmul_bwd with dx overwritten (dx = dy·W; dw, db still accumulate): a fresh gradient
 *  buffer needs no zeroing pass first (on the GPU the GEMM runs with beta 0). */
int ops_matmul_bwd_set_dx(const Device *dev, DType t, float *dx, float *dw, float *db,
                          const float *dy, const float *x, const float *w, int64_t M, int64_t K,
                          int64_t N, int64_t ld_x, int64_t ld_y) LS_RESULT_USED;

/** RMSNorm (layer_norm = 0; mean unused) or LayerNorm (layer_norm = 1). t: storage of the
 *  (M, D) tensors x, y, dx, dy; w, b, mean, rstd, dw, db are fp32. */
int ops_norm_fwd(const Device *dev, DType t, int layer_norm, float *y, float *mean, float *rstd,
                 const float *x, const float *w, const float *b, int64_t M, int64_t D,
                 float eps) LS_RESULT_USED;
int ops_norm_bwd(const Device *dev, DType t, int layer_norm, float *dx, float *dw, float *db,
                 const float *dy, const float *x, const float *w, const float *mean,
                 const float *rstd, int64_t M, int64_t D) LS_RESULT_USED;
/** ops_norm_bwd with dx overwritten (dx = ∂/∂x; dw, db still accumulate). */
int ops_norm_bwd_set_dx(const Device *dev, DType t, int layer_norm, float *dx, float *dw,
                        float *db, const float *dy, const float *x, const float *w,
                        const float *mean, const float *rstd, int64_t M, int64_t D) LS_RESULT_USED;

int ops_gelu_fwd(const Device *dev, DType t, float *y, const float *x, int64_t n) LS_RESULT_USED;
int ops_gelu_bwd(const Device *dev, DType t, float *dx, const float *dy, const float *x,
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

/** fp32 (the embedding writes the fp32 residual stream). */
int ops_embedding_fwd(const Device *dev, float *out, const int32_t *ids, const float *table,
                      int64_t M, int64_t V, int64_t D) LS_RESULT_USED;
int ops_embedding_bwd(const Device *dev, float *dtable, const float *dout, const int32_t *ids,
                      int64_t M, int64_t V, int64_t D) LS_RESULT_USED;

/** fp32 (the head). lengths on @p dev. @p starts NULL: B rows of x (B, L, D); else B
 *  sequences of a packed batch, first rows starts[b] of x viewed as rows of D (pool.h). */
int ops_pool_fwd(const Device *dev, float *out, const float *x, const int64_t *starts,
                 const int64_t *lengths, int64_t B, int64_t L, int64_t D,
                 PoolMode mode) LS_RESULT_USED;
int ops_pool_bwd(const Device *dev, float *dx, const float *dout, const int64_t *starts,
                 const int64_t *lengths, int64_t B, int64_t L, int64_t D,
                 PoolMode mode) LS_RESULT_USED;

/** fp32; every pointer on @p dev, mean_loss too (one double). */
int ops_loss_xent(const Device *dev, double *mean_loss, float *row_loss, float *dlogits,
                  const float *logits, const int32_t *targets, const float *weights, int64_t M,
                  int64_t V, float grad_scale) LS_RESULT_USED;

/** params, m, v, grads on @p dev; the table and *norm on the host (the GPU norm waits). */
int ops_adamw_step(const Device *dev, float *params, float *m, float *v, const float *grads,
                   const OptimTensor *tensors, int64_t n_tensors, const AdamWConfig *cfg,
                   int64_t step, double lr, float grad_scale) LS_RESULT_USED;
int ops_grad_norm(const Device *dev, double *norm, const float *grads, const OptimTensor *tensors,
                  int64_t n_tensors) LS_RESULT_USED;

/** Inverted dropout of a tile or flat tensor and its backward (kernels/dropout.h; the CPU
 *  takes fp32 only); a->stream stays NULL, the default stream, as for every op here. */
int ops_dropout_fwd(const Device *dev, const DropoutArgs *a) LS_RESULT_USED;
int ops_dropout_bwd(const Device *dev, const DropoutArgs *a) LS_RESULT_USED;

// ------------------------------------------------------------------------------ glue (glue.h)

/** x[0..n) = 0, n elements of type t. */
int ops_zero(const Device *dev, DType t, float *x, int64_t n) LS_RESULT_USED;
/** dst[0..n) = src[0..n), fp32 (no overlap). */
int ops_copy(const Device *dev, float *dst, const float *src, int64_t n) LS_RESULT_USED;
/** y += x, n elements (the residual add); y of type yt, x of type xt. */
int ops_add(const Device *dev, float *y, DType yt, const float *x, DType xt,
            int64_t n) LS_RESULT_USED;
/** y (type yt) = x (fp32): the bf16 copy of the weights or of an fp32 activation. */
int ops_cast(const Device *dev, float *y, DType yt, const float *x, int64_t n) LS_RESULT_USED;
/** y = −exp(x) (Mamba's A from A_log), fp32. */
int ops_neg_exp(const Device *dev, float *y, const float *x, int64_t n) LS_RESULT_USED;
/** y += a·b elementwise, fp32 (dA_log += dA·A). */
int ops_mul_acc(const Device *dev, float *y, const float *a, const float *b,
                int64_t n) LS_RESULT_USED;

/** glue_rows_gather / glue_rows_scatter_add with each tensor's storage type; @p mirror (Be, L)
 *  the in-place reversal of packed rows, or NULL (glue.h). */
int ops_rows_gather(const Device *dev, float *dst, DType dst_t, const float *src, DType src_t,
                    const int64_t *lengths, const int32_t *mirror, int64_t Be, int64_t L,
                    int64_t W, int64_t s0, int64_t nt, int reverse) LS_RESULT_USED;
int ops_rows_scatter_add(const Device *dev, float *dst, DType dst_t, const float *src,
                         DType src_t, const int64_t *lengths, const int32_t *mirror, int64_t Be,
                         int64_t L, int64_t W, int64_t s0, int64_t nt, int reverse) LS_RESULT_USED;
/** x (Be, L, W) fp32: rows p >= lengths[b] set to 0. */
int ops_rows_zero_tail(const Device *dev, float *x, const int64_t *lengths, int64_t Be, int64_t L,
                       int64_t W) LS_RESULT_USED;

/** fp32 pair mean of the reverse-complement head and its backward (glue.h). */
int ops_pair_mean_fwd(const Device *dev, float *out, const float *x, int64_t B,
                      int64_t W) LS_RESULT_USED;
int ops_pair_mean_bwd(const Device *dev, float *dx, const float *dout, int64_t B,
                      int64_t W) LS_RESULT_USED;

/**
 * Token ids for the embedding (glue_tokens_to_ids): tokens and lengths on @p dev. The CPU
 * checks the vocabulary (LS_ERR_USAGE naming row and position); the GPU does not (the model
 * checks the batch on the host before uploading it, model_batch_check).
 */
int ops_tokens_to_ids(const Device *dev, int32_t *ids, const uint8_t *tokens,
                      const int64_t *lengths, const int32_t *mirror, int64_t B, int64_t L,
                      int64_t vocab, int rc) LS_RESULT_USED;
int ops_ids_to_ids(const Device *dev, int32_t *ids, const int32_t *src, const int64_t *lengths,
                   int64_t B, int64_t L, int64_t vocab) LS_RESULT_USED;
int ops_frames(const Device *dev, float *frames, const float *samples,
               const int64_t *sample_lengths, const int64_t *frame_end, int64_t B, int64_t L,
               int64_t F, int64_t Lt) LS_RESULT_USED;


// ------------------------------------------------------------------------------ streaming
// (added with streaming and generation: the key/value cache of attention layers, strided
// copies in and out of it, and the running sums of pooled streams)

#include "kernels/attention_kv.h"

/** Attention of new queries over a key/value cache (kernels/attention_kv.h). */
int ops_attention_kv_fwd(const Device *dev, float *out, const float *q, const float *k,
                         const float *v, const AttentionKvShape *s) LS_RESULT_USED;

/**
 * Copy a (B, L, W) block between two strided layouts (no overlap), elements of type @p t
 * (strides in elements; bf16 on the GPU only):
 * dst[b·dst_sb + l·dst_sl + w] = src[b·src_sb + l·src_sl + w].
 */
int ops_copy_blocks(const Device *dev, DType t, float *dst, int64_t dst_sb, int64_t dst_sl,
                    const float *src, int64_t src_sb, int64_t src_sl, int64_t B, int64_t L,
                    int64_t W) LS_RESULT_USED;

/** acc (B, W) += Σ_l x[b, l, :] over x (B, L, W), summed in double in the order l = 0..L−1
 *  (pool_fwd's order, so a mean over segments equals the mean over one pass). The GPU sums
 *  long segments in chunks (kernels/glue.h): within double rounding of the CPU. */
int ops_sum_rows_acc(const Device *dev, double *acc, const float *x, int64_t B, int64_t L,
                     int64_t W) LS_RESULT_USED;
/** out[i] = (float)(acc[i] / count), n elements (the mean pool's last step). */
int ops_mean_from_sum(const Device *dev, float *out, const double *acc, int64_t n,
                      double count) LS_RESULT_USED;
/** ops_embedding_fwd without the index check that waits for the device (CUDA only; ids the
 *  device produced in range: kernels/embedding.h embedding_fwd_cuda_trusted). */
int ops_embedding_fwd_trusted(const Device *dev, DType t, float *out, const int32_t *ids,
                              const float *table, int64_t M, int64_t V, int64_t D) LS_RESULT_USED;
/** One draw per row on the device (kernels/sample.h; CUDA only). */
#include "kernels/sample.h"
int ops_sample(const Device *dev, const SampleArgs *a) LS_RESULT_USED;
/** The fused generation step of a Mamba LM (kernels/gen_step.h; CUDA only): whether a layer's
 *  shape is taken, the preparation of a shape (outside a graph capture), up to
 *  GEN_STEP_LAYERS_PER_LAUNCH layers and optionally the head in one launch. */
#include "kernels/gen_step.h"
int ops_gen_step_supported(const Device *dev, const GenStepLayer *a) LS_RESULT_USED;
int ops_gen_step_prepare(const Device *dev, const GenStepLayer *a) LS_RESULT_USED;
int ops_gen_step(const Device *dev, const GenStepLayer *layers, int n_layers,
                 const GenStepHead *head) LS_RESULT_USED;
/** Host ↔ device copies of n floats (the CPU: memcpy). */
int ops_to_device(const Device *dev, float *dst, const float *host_src, int64_t n) LS_RESULT_USED;
int ops_to_host(const Device *dev, float *host_dst, const float *src, int64_t n) LS_RESULT_USED;

#endif
