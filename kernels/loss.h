/*
 * loss.h — softmax cross-entropy over V classes with a per-row target, optional per-row
 * weights and ignored rows; forward and backward in one call (llm.c's fused classifier).
 *
 * Shapes: logits, dlogits (M, V) contiguous, M rows (B·L tokens for a language model, B
 * sequences for a classifier); targets (M) int32; weights (M) optional; row_loss (M).
 *
 *   counted rows  C = { m : targets[m] != LOSS_IGNORE_INDEX }
 *   row_loss[m]   = logsumexp(logits[m, :]) − logits[m, targets[m]]   (0 for ignored rows)
 *   w_m           = weights[m] (1 without weights), 0 for ignored rows
 *   mean_loss     = Σ_{m∈C} w_m·row_loss[m] / Σ_{m∈C} w_m
 *   dlogits[m, :] += grad_scale · w_m / Σ w · (softmax(logits[m, :]) − onehot(targets[m]))
 * This is PyTorch's F.cross_entropy(logits, targets, ignore_index=-100, reduction='mean'),
 * with per-row weights in place of per-class weights (same weighted-mean rule). grad_scale is
 * the upstream gradient of mean_loss (1, or 1/k when accumulating k micro-batches).
 * When no row counts (Σ w = 0) mean_loss is 0 and dlogits is left as it was (PyTorch: NaN).
 *
 * Determinism (STYLE rule 34): rows are independent (OpenMP over rows); the mean is summed
 * afterwards over row_loss in row order in double, so it is bit-identical for any thread
 * count. Per-row log-sum-exp and softmax are in double; row_loss is stored as float.
 *
 * Gradient convention (project-wide): backward ops ACCUMULATE (+=) into every gradient
 * output; the caller zeroes gradients before the first backward of a step.
 * CUDA (kernels/cuda/loss.cu): loss_xent_cuda takes the same arguments, all device pointers
 * (mean_loss too: one double on the device, so the loss stays there until the log wants it),
 * plus the storage type of logits / dlogits (DTYPE_BF16 for bf16 logits; row_loss, weights and
 * the arithmetic stay fp32 / double) and a cudaStream_t. Σ w and the mean are reduced by
 * fixed-order kernels (no atomics). Targets and weights are validated on the device before
 * anything is written, which costs one small copy back (the call waits for the GPU).
 * Tested by tests/unit/test_loss.c (CPU) and tests/gpu/parity_loss.c (CUDA).
 */
#ifndef LS_LOSS_H
#define LS_LOSS_H

#include <stdint.h>

#include "common/error.h"
#include "kernels/dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A target equal to this marks an ignored row (PyTorch's ignore_index default). */
#define LOSS_IGNORE_INDEX (-100)

/**
 * Cross-entropy forward (+ backward when dlogits is given).
 * @param mean_loss  out: weighted mean over counted rows (0 when none counts)
 * @param row_loss   (M) out: per-row loss, 0 on ignored rows (e.g. for per-sequence scores)
 * @param dlogits    (M, V) gradient, accumulated; NULL for forward only
 * @param logits     (M, V)
 * @param targets    (M) class ids in [0, V), or LOSS_IGNORE_INDEX
 * @param weights    (M) finite weights >= 0, or NULL for all 1
 * @param grad_scale upstream gradient of mean_loss (usually 1)
 * @return 0; LS_ERR_USAGE for NULL required pointers, M < 0 or V < 1; LS_ERR_RANGE for a
 *         target outside [0, V) that is not LOSS_IGNORE_INDEX, or a negative or non-finite
 *         weight (message names the row). On error nothing is written.
 */
int loss_xent_cpu(double *mean_loss, float *row_loss, float *dlogits, const float *logits,
                  const int32_t *targets, const float *weights, int64_t M, int64_t V,
                  float grad_scale) LS_RESULT_USED;

/** loss_xent_cpu on the GPU (see the top of this file). @return as loss_xent_cpu, plus
 *  LS_ERR_CUDA(_OOM) and LS_ERR_NO_CUDA. */
int loss_xent_cuda(double *mean_loss, float *row_loss, float *dlogits, const float *logits,
                   const int32_t *targets, const float *weights, int64_t M, int64_t V,
                   float grad_scale, DType dtype, void *stream) LS_RESULT_USED;

#ifdef __cplusplus
}
#endif
#endif
