/*
 * optim.h — AdamW over the model's contiguous parameter buffer, global gradient norm,
 * clipping factor, and the learning-rate schedule.
 *
 * Buffers. params, grads, m (first moment) and v (second moment) are four buffers with the
 * same layout (STYLE rule 12); a table of OptimTensor {offset, numel, decay} says where each
 * tensor lies. Entries must be in ascending, non-overlapping order (the model's table order);
 * alignment gaps between them are never read or written. m and v start at zero.
 *
 * Weight decay is a per-tensor flag so the model decides. Recommended (mamba_ssm, nanoGPT):
 * decay = 1 for weight matrices of linear and conv layers; decay = 0 for biases, norm
 * weights, A_log, D, dt_proj.bias, and embeddings (mamba_ssm's _no_weight_decay set).
 *
 * AdamW is torch.optim.AdamW (amsgrad=False, maximize=False), single-tensor CPU path, step
 * t >= 1 counting this update, float ops in PyTorch's order, scalars formed in double:
 *   g  = grad·grad_scale                                  (clip factor; 1 without clipping)
 *   p *= (float)(1 − lr·wd)                               (only where decay is set)
 *   m  = m + (1−β1)·(g − m)                               (torch lerp_ with weight < 0.5)
 *   v  = v·β2 + (1−β2)·g·g
 *   denom = sqrt(v) / sqrt(1 − β2^t) + eps
 *   p  = p − (lr / (1 − β1^t))·m / denom
 *
 * Gradient norm and clipping (torch.nn.utils.clip_grad_norm_): norm = sqrt(Σ g²) over all
 * tensors in the table, summed in double in a fixed order (blocks of OPTIM_NORM_BLOCK
 * elements summed in parallel, block sums added in order: bit-identical for any thread
 * count, STYLE rule 34); the clip factor min(1, max_norm / (norm + 1e-6)) is then passed to
 * the step as grad_scale, which multiplies each gradient exactly as clip_grad_norm_'s in-place
 * multiply would.
 *
 * Schedule: linear warm-up then cosine decay to a floor, a pure function of the step.
 *
 * This family updates state, it is not a gradient op (no += convention applies).
 * CUDA (kernels/cuda/optim.cu): the same arguments plus a cudaStream_t; params, m, v, grads are
 * device buffers, the table and the norm result host memory. fp32 only (master weights and
 * optimizer state are fp32 whatever the activations are). The step is one fused kernel over
 * the buffer (each block owns a slice of one tensor; up to OPTIM_CUDA_BATCH tensors per launch)
 * with the CPU's float operations in its order and IEEE sqrt / division, so it is
 * bit-identical to the CPU. The norm uses the CPU's blocks of OPTIM_NORM_BLOCK elements (each
 * summed by a fixed tree in double) and adds the block sums with a fixed tree: deterministic,
 * within 1e-12 of the CPU's, and it waits for the GPU to return the norm to the host (the
 * clip factor and the log need it there). Tested by tests/unit/test_optim.c (CPU) and
 * tests/gpu/parity_optim.c (CUDA).
 */
#ifndef LS_OPTIM_H
#define LS_OPTIM_H

#include <stdint.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Elements per partial sum of the gradient norm (fixed: it defines the summation order). */
#define OPTIM_NORM_BLOCK 4096

/** Where one tensor lies in the params / grads / m / v buffers. */
typedef struct {
    int64_t offset; /* first element */
    int64_t numel;  /* number of elements, >= 0 */
    int decay;      /* nonzero: apply weight decay */
} OptimTensor;

/** AdamW hyper-parameters (torch defaults: 0.9, 0.999, 1e-8, 0.01). Double, as PyTorch's
 *  Python floats: 1 − 0.999f would be off by 2e-5 relative. */
typedef struct {
    double beta1, beta2;  /* in [0, 1) */
    double eps;           /* >= 0 */
    double weight_decay;  /* >= 0, applied to tensors with decay set */
} AdamWConfig;

/**
 * One AdamW update of every tensor in the table.
 * @param params     parameter buffer, updated
 * @param m, v       moment buffers (same layout), updated
 * @param grads      gradient buffer (same layout), read only
 * @param tensors    (n_tensors) table, ascending and non-overlapping
 * @param step       t >= 1, the number of this update (1 for the first)
 * @param lr         learning rate for this step (optim_lr_schedule), >= 0
 * @param grad_scale factor applied to every gradient (optim_clip_scale, or 1), finite
 * @return 0; LS_ERR_USAGE for NULL pointers, n_tensors < 0, a bad table entry (named by
 *         index), hyper-parameters outside their ranges, step < 1 or lr < 0 (or NaN);
 *         LS_ERR_RANGE for a non-finite grad_scale (a NaN gradient norm). Nothing is updated
 *         on error.
 */
int optim_adamw_step_cpu(float *params, float *m, float *v, const float *grads,
                         const OptimTensor *tensors, int64_t n_tensors, const AdamWConfig *cfg,
                         int64_t step, double lr, float grad_scale) LS_RESULT_USED;

/**
 * Global L2 norm of the gradients of every tensor in the table, in double, fixed order.
 * @param norm       out: sqrt(Σ g²)
 * @param grads      gradient buffer
 * @param tensors    (n_tensors) table, ascending and non-overlapping
 * @return 0; LS_ERR_USAGE for NULL pointers, n_tensors < 0 or a bad table entry.
 */
int optim_grad_norm_cpu(double *norm, const float *grads, const OptimTensor *tensors,
                        int64_t n_tensors) LS_RESULT_USED;

/**
 * Clip factor of clip_grad_norm_: min(1, max_norm / (norm + 1e-6)), as a float to pass as
 * grad_scale. max_norm <= 0 disables clipping (returns 1). A NaN norm returns NaN (as
 * PyTorch's factor), which optim_adamw_step_cpu refuses with LS_ERR_RANGE: a diverged step
 * stops training with a clear error instead of writing NaN into the parameters.
 */
float optim_clip_scale(double norm, double max_norm);

/**
 * Learning rate at update t (1-based, as AdamW's step; t < 1 is taken as 1):
 *   t <= warmup:           lr_max · t / warmup                       (linear warm-up)
 *   warmup < t < total:    lr_min + ½(lr_max − lr_min)(1 + cos(π·(t − warmup)/(total − warmup)))
 *   t >= total:            lr_min
 * So t = warmup gives lr_max, t = (warmup + total)/2 gives (lr_max + lr_min)/2 and t = total
 * gives lr_min. warmup = 0: no warm-up (the cosine starts at t = 0); total <= warmup: lr_min
 * after the warm-up.
 */
double optim_lr_schedule(int64_t t, int64_t warmup, int64_t total, double lr_max,
                         double lr_min);

/** Tensors per launch of the CUDA kernels (the table travels as a kernel parameter). */
#define OPTIM_CUDA_BATCH 64

/**
 * The argument rules of optim_adamw_step_cpu / optim_grad_norm_cpu, shared with the CUDA
 * versions: the table (ascending, non-overlapping) and the step's scalars. @p fn names the
 * caller in the message. @return 0, LS_ERR_USAGE or LS_ERR_RANGE as documented above.
 */
int optim_check_table(const char *fn, const OptimTensor *tensors,
                      int64_t n_tensors) LS_RESULT_USED;
int optim_check_step(const char *fn, const AdamWConfig *cfg, int64_t step, double lr,
                     float grad_scale) LS_RESULT_USED;

/** optim_adamw_step_cpu on the GPU (bit-identical). @return as the CPU function, plus
 *  LS_ERR_CUDA and LS_ERR_NO_CUDA. */
int optim_adamw_step_cuda(float *params, float *m, float *v, const float *grads,
                          const OptimTensor *tensors, int64_t n_tensors, const AdamWConfig *cfg,
                          int64_t step, double lr, float grad_scale, void *stream) LS_RESULT_USED;

/** optim_grad_norm_cpu on the GPU: *norm (host) = sqrt(Σ g²). @return as the CPU function,
 *  plus LS_ERR_CUDA(_OOM) and LS_ERR_NO_CUDA. */
int optim_grad_norm_cuda(double *norm, const float *grads, const OptimTensor *tensors,
                         int64_t n_tensors, void *stream) LS_RESULT_USED;

#ifdef __cplusplus
}
#endif
#endif
