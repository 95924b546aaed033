/*
 * conv.h — causal depthwise conv1d as Mamba uses it (forward, backward, one step for
 * generation): one argument struct shared by every backend, and the CPU functions that are its
 * specification.
 *
 * For every batch b, token t and channel d, with K taps and x_ext the input preceded by the
 * K−1 inputs of the previous segment (state0; zeros when absent):
 *
 *     x_ext[j]  = j < K−1 ? state0[b, d, j] : x[b, j−(K−1), d]          j = 0 .. L+K−2
 *     pre[t,d]  = bias[d] + Σ_{k=0}^{K−1} weight[d, k] · x_ext[t+k]     (k ascending)
 *     out[t,d]  = silu ? pre·σ(pre) : pre
 *
 * i.e. PyTorch's conv1d(x, weight (D, 1, K), bias, padding=K−1, groups=D)[..., :L]: weight[d, K−1]
 * multiplies the current token.
 *
 * Packed batches (several sequences end to end in one row, `reset` nonzero at each one's first
 * token): a tap that would read an input before the start of token t's sequence reads 0, as
 * the zero padding before a row would be:
 *     pre[t,d]  = bias[d] + Σ_k weight[d, k] · (keep(t, t+k) ? x_ext[t+k] : 0)
 *     keep(t, j) = no sequence starts at an x position in (j−(K−1), t]
 * The backward differentiates exactly that; state_final keeps only entries after the last
 * start in the row (the inputs the next segment's first token may read). The state after the segment is the last K−1 entries of x_ext:
 * state_final[b, d, i] = x_ext[L+i], which is the next segment's state0 (streaming), and the
 * rolling state of conv_step.
 *
 * Layout: x, out, dout, dx token-major (B, L, D) with their own batch and token strides in
 * elements (either sign; the pointer is element (0, 0, 0)) and contiguous channels, so x can be
 * a view of the in_proj output (token stride 2·D) and out feeds the scan's u directly.
 * weight (D, K), bias (D), states (B, D, K−1) are dense (mamba_ssm's conv_state layout).
 *
 * Gradient convention (project-wide): backward ops ACCUMULATE (+=) into every gradient output;
 * the caller zeroes them. dweight and dbias are summed over (b, t) in double and added once.
 *
 * Threads: OpenMP over (batch, blocks of CONV_CPU_DBLOCK channels); results do not depend on
 * the thread count. No workspace: the backward keeps a ring of the last K gradients per block.
 *
 * CUDA (kernels/cuda/conv.cu): the same struct. `dtype` = DTYPE_BF16 makes x, out, dout and dx
 * bf16 (the activations); weight, bias, the states and every weight/state gradient stay fp32,
 * and all arithmetic is fp32 (dweight / dbias sums in double, as here). The CPU functions
 * take DTYPE_F32 only. `stream` is a cudaStream_t (NULL: the default stream). dweight and dbias
 * are reduced in a fixed order (per-chunk partial sums in double, then summed in chunk order):
 * no float atomics, the same bits on every run. The backward's partial sums live in the
 * device's scratch (B · ceil(L/256) · D · (K+1) doubles).
 *
 * Tests: tests/unit/test_conv.c (CPU), tests/gpu/parity_conv.c (CUDA vs CPU).
 * Timing: kernels/dev/scan_bench.c (CPU), kernels/dev/conv.cu (CUDA).
 */
#ifndef LS_CONV_H
#define LS_CONV_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "kernels/dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Largest kernel width any backend accepts (Mamba uses K = d_conv = 4). */
#define CONV_K_MAX 64
/** Channels per work block of the CPU functions. */
#define CONV_CPU_DBLOCK 64

// clang-format off
/** Which call an argument struct is checked for. */
typedef enum {
    CONV_OP_FWD  = 0,
    CONV_OP_BWD  = 1,
    CONV_OP_STEP = 2,
} ConvOp;

/**
 * Everything one conv call needs; one struct for forward, backward and step (each reads the
 * fields it uses). Fill with conv_args_init() (dense strides, no SiLU, every pointer NULL).
 * "optional" pointers may be NULL. Outputs must not overlap inputs or each other, except
 * state_final, which may equal state0 (in-place state update for streaming).
 */
typedef struct {
    // ---- shapes
    int64_t B;      // batch
    int64_t L;      // tokens (1 for conv_step)
    int64_t D;      // channels
    int64_t K;      // taps, 1..CONV_K_MAX
    int     silu;   // 1: out = SiLU(conv), 0: out = conv
    DType   dtype;  // storage of x, out, dout, dx (CUDA only; the CPU takes DTYPE_F32)
    void   *stream; // cudaStream_t for the CUDA functions, NULL = default stream

    // ---- inputs
    const float *x;        int64_t x_stride_b, x_stride_l;       // (B, L, D)
    const float *weight;   // (D, K)
    const float *bias;     // (D) optional
    const float *state0;   // (B, D, K-1) optional: last K-1 inputs before x (zeros if NULL)
    const uint8_t *reset;  int64_t reset_stride_b, reset_stride_l;  // (B, L) optional: nonzero
                           // where a packed sequence starts (forward and backward only)

    // ---- forward outputs
    float *out;            int64_t out_stride_b, out_stride_l;   // (B, L, D)
    float *state_final;    // (B, D, K-1) optional: last K-1 entries of x_ext

    // ---- backward inputs
    const float *dout;     int64_t dout_stride_b, dout_stride_l; // (B, L, D)
    const float *dstate_final; // (B, D, K-1) optional: gradient w.r.t. state_final

    // ---- backward outputs (accumulated, +=)
    float *dx;             int64_t dx_stride_b, dx_stride_l;     // (B, L, D)
    float *dweight;        // (D, K)
    float *dbias;          // (D) iff bias
    float *dstate0;        // (B, D, K-1) optional: gradient w.r.t. state0 (or the zeros)

    // ---- step
    float *state;          // (B, D, K-1) conv_step: read, then shifted by one token (K > 1)
} ConvArgs;
// clang-format on

/**
 * Zero @p a, set the shapes, silu = 0, dtype = DTYPE_F32, stream = NULL, dense strides
 * (batch L·D, token D) for x, out, dout, dx, and (L, 1) for reset.
 */
void conv_args_init(ConvArgs *a, int64_t B, int64_t L, int64_t D, int64_t K);

/**
 * Validate @p a for @p op, the same rules for every backend: sizes >= 1 (L == 1 for a step),
 * K <= CONV_K_MAX, required pointers present (forward: x, weight, out; backward: x, weight,
 * dout, dx, dweight, and dbias exactly when bias is given; step: x, weight, out, and state
 * when K > 1), no gradient for an absent input, outputs that do not overlap themselves,
 * offsets that fit in 64 bits.
 * @return 0; LS_ERR_RANGE for a bad size, LS_ERR_USAGE for a missing or superfluous pointer or
 *         a bad stride; the message names the argument and its value.
 */
int conv_args_check(const ConvArgs *a, ConvOp op) LS_RESULT_USED;

/** Forward over a->L tokens: writes out, and state_final when given. @return 0 or an error. */
int conv_fwd_cpu(const ConvArgs *a) LS_RESULT_USED;

/**
 * Backward: given dout (and dstate_final), ACCUMULATES dx, dweight, dbias and dstate0.
 * Recomputes the pre-activation when silu is set (out is not read). @return 0 or an error.
 */
int conv_bwd_cpu(const ConvArgs *a) LS_RESULT_USED;

/**
 * One token (a->L == 1): out = conv of (state, x), then state ← its last K−2 entries and x.
 * Same arithmetic as conv_fwd_cpu: token-by-token is bit-identical to one forward.
 * @return 0 or an error.
 */
int conv_step_cpu(const ConvArgs *a) LS_RESULT_USED;

/*
 * CUDA versions: every pointer is device memory; same contract as the CPU functions, within
 * the tolerances of tests/gpu/parity_conv.c (fp32: the forward and dx are bit-identical to the
 * CPU's up to expf; dweight/dbias sum in another fixed order). Each returns 0, the
 * conv_args_check error, the conv_cuda_supported error, LS_ERR_CUDA(_OOM) or LS_ERR_NO_CUDA
 * (built without CUDA). Asynchronous: no host synchronization.
 */

/**
 * What the CUDA functions accept beyond conv_args_check: every (B, L, D) view and the dtype.
 * Vector loads are used when D, the strides and the pointers allow; any other layout takes the
 * scalar path. K <= 4 keeps its taps in registers; larger K (up to CONV_K_MAX) is correct but
 * re-reads taps (O(K²) per element in the backward). @return 0 or LS_ERR_UNSUPPORTED.
 */
int conv_cuda_supported(const ConvArgs *a, ConvOp op) LS_RESULT_USED;

/** Forward on the GPU (conv_fwd_cpu's contract). */
int conv_fwd_cuda(const ConvArgs *a) LS_RESULT_USED;

/** Backward on the GPU (conv_bwd_cpu's contract; deterministic dweight / dbias). */
int conv_bwd_cuda(const ConvArgs *a) LS_RESULT_USED;

/** One token on the GPU (conv_step_cpu's contract). */
int conv_step_cuda(const ConvArgs *a) LS_RESULT_USED;

#ifdef __cplusplus
}
#endif
#endif
