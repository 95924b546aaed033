/*
 * glue.h — the small ops a model needs between the op families: fills and copies, elementwise
 * updates (residual add, A = −exp(A_log), its chain rule, fp32 → bf16 casts), per-sequence row
 * moves (gather a tile of positions, optionally reversed within each row's length; scatter-add
 * it back; zero the padding past each length), the pair average of the reverse-complement head,
 * and input preparation (token ids for the embedding, waveform frames for the stem).
 *
 * Why a family of its own: these lived in models/ops.c as CPU loops while the model ran on the
 * CPU only. With the GPU path each needs a CUDA kernel, and DESIGN.md keeps every numeric body
 * under kernels/ with one header per family (STYLE 3.1): kernels/cpu/glue.c is the
 * specification, kernels/cuda/glue.cu the CUDA version, models/ops.c dispatches to either.
 *
 * Shapes (outermost first, row-major): a (Be, L, W) tensor is Be rows of L positions of W
 * values; lengths (Be) gives each row's valid positions (1..L). Tile position s of row b maps to
 * sequence position p = s (forward) or p = lengths[b] − 1 − s (reverse), valid when
 * s < lengths[b]: the reverse direction of a bidirectional block sees a dense causal problem
 * with its padding at the end, where it cannot reach a valid position.
 *
 * Packed rows (several sequences end to end in a row, models/model.h): the reverse walk
 * reverses each sequence in place. The caller gives the map as `mirror` (Be, L) int32:
 * mirror[b·L + s] is the position that tile position s reads (s < lengths[b]); for a sequence
 * at positions [a, a + n) it is 2a + n − 1 − s, so every sequence keeps its positions and its
 * first token stays where the conv and scan `reset` marks it. NULL: the per-row rule above.
 * A negative entry reads zeros and is not written (the memory split's reverse walk over a
 * slice's padding, models/mamba.c); the tests leave that case to tests/cli/test_sp.sh.
 *
 * None of these reduces across elements, so results do not depend on threads or launch shape:
 * the CUDA versions are bit-identical to the CPU's except glue_neg_exp (CUDA's expf, within
 * 2 ulp of libm's). The accumulating forms (add, mul_acc, scatter_add, pair_mean_bwd) ADD into
 * their output, as the gradient ops do.
 *
 * Precision (CUDA only; the CPU functions are fp32): the functions that move activations take
 * the storage type of each tensor (DTYPE_BF16: bf16 bits behind the float pointer, as
 * kernels/dtype.h says), so a bf16 tile can be gathered from, and scatter-added into, the fp32
 * residual stream. Arithmetic is fp32; a bf16 store rounds to nearest even once.
 *
 * CUDA: every pointer is device memory (lengths too), work is queued on `stream` (a
 * cudaStream_t, NULL = the default stream) and never waits for the GPU. Token ids are not
 * validated on the device (that would need a copy back): the caller checks them on the host
 * before uploading (models/model.c model_batch_check), and embedding_fwd_cuda checks them again.
 *
 * Tests: tests/unit/test_model.c (through the models, CPU); tests/gpu/parity_glue.c (CUDA vs
 * CPU, `make test-gpu`).
 */
#ifndef LS_GLUE_H
#define LS_GLUE_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "kernels/dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

// ------------------------------------------------------------------------------ CPU (the spec)

/** y += x, n elements (the residual add). */
int glue_add_cpu(float *y, const float *x, int64_t n) LS_RESULT_USED;
/** y = −exp(x) (Mamba's A from A_log). */
int glue_neg_exp_cpu(float *y, const float *x, int64_t n) LS_RESULT_USED;
/** y += a·b elementwise (dA_log += dA·A: the chain rule of A = −exp(A_log)). */
int glue_mul_acc_cpu(float *y, const float *a, const float *b, int64_t n) LS_RESULT_USED;

/**
 * One tile of a per-row, optionally reversed walk over a (Be, L, W) tensor (see the top).
 * gather:       dst (Be, nt, W) dense: dst[b, s − s0] = src[b, p], 0 where s is not valid.
 * scatter_add:  dst (Be, L, W):  dst[b, p] += src[b, s − s0] where valid (src (Be, nt, W)).
 */
int glue_rows_gather_cpu(float *dst, const float *src, const int64_t *lengths,
                         const int32_t *mirror, int64_t Be, int64_t L, int64_t W, int64_t s0,
                         int64_t nt, int reverse) LS_RESULT_USED;
int glue_rows_scatter_add_cpu(float *dst, const float *src, const int64_t *lengths,
                              const int32_t *mirror, int64_t Be, int64_t L, int64_t W,
                              int64_t s0, int64_t nt, int reverse) LS_RESULT_USED;
/** x (Be, L, W): positions p >= lengths[b] set to 0. */
int glue_rows_zero_tail_cpu(float *x, const int64_t *lengths, int64_t Be, int64_t L,
                            int64_t W) LS_RESULT_USED;

/** out (B, W) = ½(x[b] + x[B + b]), x (2B, W); backward: dx[b] += ½dout[b], dx[B+b] too. */
int glue_pair_mean_fwd_cpu(float *out, const float *x, int64_t B, int64_t W) LS_RESULT_USED;
int glue_pair_mean_bwd_cpu(float *dx, const float *dout, int64_t B, int64_t W) LS_RESULT_USED;

/**
 * Token ids for the embedding: ids (Be, L) int32 from tokens (B, L); padded positions get 0.
 * With rc (Be = 2B), rows B + b hold the reverse complement of row b within its length
 * (t < 4 → 3 − t, others kept); with @p mirror (B, L) (packed rows, see the top) position p
 * of row B + b complements token mirror[b·L + p], so each sequence is reverse-complemented in
 * place. @return 0, or LS_ERR_USAGE naming the row and position of a token >= vocab (nothing
 * written then).
 */
int glue_tokens_to_ids_cpu(int32_t *ids, const uint8_t *tokens, const int64_t *lengths,
                           const int32_t *mirror, int64_t B, int64_t L, int64_t vocab,
                           int rc) LS_RESULT_USED;

/** ids (B, L) from int32 ids (synthetic tasks): checked against @p vocab (LS_ERR_USAGE as
 *  glue_tokens_to_ids_cpu), padded positions 0. */
int glue_ids_to_ids_cpu(int32_t *ids, const int32_t *src, const int64_t *lengths, int64_t B,
                        int64_t L, int64_t vocab) LS_RESULT_USED;

/** frames (B, Lt, F) from samples (B, L): frame j of row b = samples [j·F, (j+1)·F), 0 at
 *  and past sample_lengths[b]; Lt = ceil(L / F). With @p frame_end (B, Lt) (packed rows, whose
 *  sequences each start on a frame boundary and end anywhere) frame j reads samples below
 *  frame_end[b·Lt + j] (the end of its sequence) instead, 0 from there. */
int glue_frames_cpu(float *frames, const float *samples, const int64_t *sample_lengths,
                    const int64_t *frame_end, int64_t B, int64_t L, int64_t F,
                    int64_t Lt) LS_RESULT_USED;

/*
 * Streaming (models/stream.c, models/layerwise.c): block copies between a segment and a
 * key/value cache, and pooling carried across segments as a running sum in double.
 */

/** (B, L) blocks of W floats: dst[b·dst_sb + l·dst_sl + w] = src[b·src_sb + l·src_sl + w]
 *  (element strides; the blocks must not overlap). */
int glue_copy_blocks_cpu(float *dst, int64_t dst_sb, int64_t dst_sl, const float *src,
                         int64_t src_sb, int64_t src_sl, int64_t B, int64_t L,
                         int64_t W) LS_RESULT_USED;
/** acc (B, W) += Σ_l x[b, l, :] over x (B, L, W), in double, l in order (a segment's part of
 *  a mean pool). */
int glue_sum_rows_acc_cpu(double *acc, const float *x, int64_t B, int64_t L,
                          int64_t W) LS_RESULT_USED;
/** out[i] = (float)(acc[i] / count), n elements. */
int glue_mean_from_sum_cpu(float *out, const double *acc, int64_t n,
                           double count) LS_RESULT_USED;

// ------------------------------------------------------------------------------ CUDA

/*
 * kernels/cuda/glue.cu (stubs returning LS_ERR_NO_CUDA in kernels/cuda_none.c). The same
 * contracts on device pointers, plus storage types and a stream. Each returns 0,
 * LS_ERR_USAGE (a negative size, NULL pointer, or a dtype the function does not take),
 * LS_ERR_CUDA or LS_ERR_NO_CUDA. Sizes are 64-bit throughout; grids are grid-stride loops,
 * so any size runs.
 */

/** @p bytes bytes of x set to 0 (cudaMemsetAsync). */
int glue_zero_cuda(void *x, size_t bytes, void *stream) LS_RESULT_USED;
/** @p bytes bytes copied device to device, no overlap (cudaMemcpyAsync). */
int glue_copy_cuda(void *dst, const void *src, size_t bytes, void *stream) LS_RESULT_USED;

/** y += x (y of type @p yt, x of type @p xt: bf16 into an fp32 stream, or alike). */
int glue_add_cuda(float *y, DType yt, const float *x, DType xt, int64_t n,
                  void *stream) LS_RESULT_USED;
/** y (bf16, or fp32 when @p yt is DTYPE_F32) = x (fp32): the bf16 copy of fp32 values. */
int glue_cast_cuda(float *y, DType yt, const float *x, int64_t n, void *stream) LS_RESULT_USED;
int glue_neg_exp_cuda(float *y, const float *x, int64_t n, void *stream) LS_RESULT_USED;
int glue_mul_acc_cuda(float *y, const float *a, const float *b, int64_t n,
                      void *stream) LS_RESULT_USED;

int glue_rows_gather_cuda(float *dst, DType dst_t, const float *src, DType src_t,
                          const int64_t *lengths, const int32_t *mirror, int64_t Be, int64_t L,
                          int64_t W, int64_t s0, int64_t nt, int reverse,
                          void *stream) LS_RESULT_USED;
int glue_rows_scatter_add_cuda(float *dst, DType dst_t, const float *src, DType src_t,
                               const int64_t *lengths, const int32_t *mirror, int64_t Be,
                               int64_t L, int64_t W, int64_t s0, int64_t nt, int reverse,
                               void *stream) LS_RESULT_USED;
int glue_rows_zero_tail_cuda(float *x, DType t, const int64_t *lengths, int64_t Be, int64_t L,
                             int64_t W, void *stream) LS_RESULT_USED;

/** fp32 only (the pooled vectors of the head). */
int glue_pair_mean_fwd_cuda(float *out, const float *x, int64_t B, int64_t W,
                            void *stream) LS_RESULT_USED;
int glue_pair_mean_bwd_cuda(float *dx, const float *dout, int64_t B, int64_t W,
                            void *stream) LS_RESULT_USED;

/** As the CPU functions without the vocabulary check (see the top of this file). */
int glue_tokens_to_ids_cuda(int32_t *ids, const uint8_t *tokens, const int64_t *lengths,
                            const int32_t *mirror, int64_t B, int64_t L, int rc,
                            void *stream) LS_RESULT_USED;
int glue_ids_to_ids_cuda(int32_t *ids, const int32_t *src, const int64_t *lengths, int64_t B,
                         int64_t L, void *stream) LS_RESULT_USED;
int glue_frames_cuda(float *frames, const float *samples, const int64_t *sample_lengths,
                     const int64_t *frame_end, int64_t B, int64_t L, int64_t F, int64_t Lt,
                     void *stream) LS_RESULT_USED;

/** glue_copy_blocks_cpu() with elements of type @p t (bf16: 2 bytes each; strides in
 *  elements): a byte copy, bit-identical. */
int glue_copy_blocks_cuda(float *dst, int64_t dst_sb, int64_t dst_sl, const float *src,
                          int64_t src_sb, int64_t src_sl, int64_t B, int64_t L, int64_t W,
                          DType t, void *stream) LS_RESULT_USED;
/**
 * glue_sum_rows_acc_cpu() on fp32 x. Up to GLUE_SUM_CHUNK positions it is the CPU's loop (one
 * thread per output, l in order: bit-identical). Longer segments are summed in chunks of
 * GLUE_SUM_CHUNK positions (double partials in the device scratch), then the partials are
 * added to acc in chunk order: deterministic, but a different order of double additions
 * than the CPU's, so within double rounding of it (≈1e-16 relative per addition). Uses the
 * scratch of kernels/cuda (cuda_common.cuh).
 */
int glue_sum_rows_acc_cuda(double *acc, const float *x, int64_t B, int64_t L, int64_t W,
                           void *stream) LS_RESULT_USED;
#define GLUE_SUM_CHUNK 256
/** glue_mean_from_sum_cpu() (IEEE double division, then one rounding: bit-identical). */
int glue_mean_from_sum_cuda(float *out, const double *acc, int64_t n, double count,
                            void *stream) LS_RESULT_USED;

#ifdef __cplusplus
}
#endif
#endif
