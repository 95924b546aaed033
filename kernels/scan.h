/*
 * scan.h — the Mamba-1 selective scan (forward, backward, one recurrent step): one argument
 * struct shared by every backend, and the CPU functions that are its specification.
 *
 * What one call computes, for every batch b, token t, channel d and state n (all fused, as
 * mamba_ssm's selective_scan_fn(u, delta, A, B, C, D, z, delta_bias, delta_softplus=True)):
 *
 *     dt[t,d]    = softplus(delta[t,d] + delta_bias[d])          (or delta + bias, see flag)
 *     h[t,d,n]   = exp(dt[t,d]·A[d,n]) · h[t-1,d,n] + dt[t,d]·B[t,n]·u[t,d]
 *     y[t,d]     = Σ_n C[t,n]·h[t,d,n] + D[d]·u[t,d]
 *     out[t,d]   = y[t,d] · SiLU(z[t,d])                            (y itself when z is absent)
 *
 * with h[-1] = h0 (zeros when absent). Packed batches (several sequences laid end to end in one
 * row): where reset[t] is nonzero a new sequence starts at token t, and the decay of that token
 * is 0 — h[t] = dt·B·u as if h[t-1] were zero — so nothing of one sequence reaches the next,
 * forward or backward (the gradient flowing from token t into t−1 is 0 too).
 * B and C are input-dependent and shared by all channels
 * (one group); A is (D, N), negative (the caller computes −exp(A_log)). The derivation of the
 * backward and the numerics are in docs/scan.md.
 *
 * Layout (chosen to need no copy or transpose around the scan in a Mamba block):
 *   - u, delta, z, out and their gradients are token-major (B, L, D): they are rows of the
 *     row-major matmuls over tokens (in_proj → x and z halves of one (B, L, 2·D) buffer,
 *     dt_proj → delta). Each has its own batch and token strides, in elements, so x and z can
 *     be views of the in_proj output (token stride 2·D) without a copy. Channels are
 *     contiguous (stride 1): a backend loads a token's channels as one vector.
 *   - B and C are (B, L, N) with their own strides, so they can be views of x_proj's output
 *     (B, L, dt_rank + 2·N): B at offset dt_rank, C at dt_rank + N, token stride dt_rank + 2·N.
 *   - Strides may be negative (a view that walks the sequence backwards: the reverse direction
 *     of a bidirectional block without flipped copies); the pointer is element (0, 0, 0).
 *   - States h0, h_final, state (B, D, N), the checkpoints (B, ceil(L/T), D, N) and the
 *     parameters A (D, N), D_skip, delta_bias (D) are dense: the caller owns them as buffers.
 *
 * Memory ("chunk-free", DESIGN.md): the forward writes the state only at the end of every
 * chunk of T = `chunk` tokens into `ckpt`; the backward recomputes the states inside one chunk
 * at a time from the checkpoint before it and runs the reverse recurrence. Sizes in floats:
 *     ckpt                       B · ceil(L/T) · D · N          scan_ckpt_numel()
 *     CPU backward workspace     D·N + ceil(D/16)·(4·T·N + N + 3·T)  scan_bwd_workspace_size_cpu()
 * No O(L·D·N) buffer exists. The checkpoints cost N/T floats per (t, d): 0.125 at N = 16, T = 128.
 *
 * Gradient convention (project-wide): backward ops ACCUMULATE (+=) into every gradient output;
 * the caller zeroes them (one memset of the gradient buffer per step; llm.c convention). This
 * is also what makes a backward over streamed segments add up (see dh_final / dh0).
 *
 * Threads: the CPU functions use OpenMP over (batch, blocks of 16 channels); results do not
 * depend on the number of threads (every sum has a fixed order).
 *
 * Precision (dtype): the CPU functions are fp32 only (they refuse DTYPE_BF16 with
 * LS_ERR_UNSUPPORTED). The CUDA functions also take DTYPE_BF16, which makes exactly these
 * pointers bf16 (same fields, cast; strides still in elements): u, delta, z, B_ssm, C_ssm, out,
 * dout, du, ddelta, dz, dB_ssm, dC_ssm — the (B, L, ·) activations and their gradients. Every
 * other buffer stays fp32 whatever dtype says: A, D_skip, delta_bias, h0, h_final, ckpt, state,
 * dh_final, dA, dD_skip, ddelta_bias, dh0. All arithmetic, the state and every sum are fp32;
 * a bf16 output is rounded once, to nearest even, when stored (an accumulated bf16 gradient is
 * read, added to in fp32, rounded).
 *
 * CUDA (kernels/cuda/scan.cu; the algorithm is in docs/scan.md "GPU"): every pointer is device
 * memory, work goes on `stream` (a cudaStream_t, NULL = the default stream) and the functions
 * return once it is queued. They accept any shape scan_args_check accepts, with these limits
 * (scan_cuda_supported says which one a call breaks): the backward needs chunk = 32, 64, 128
 * or 256 (its windows are the checkpoint chunks) and 8·N·(chunk + 4)·4 + … bytes of shared
 * memory (N ≤ 64 at chunk 128). The forward uses `out` as scratch between its kernels: out
 * must not alias an input (scan_args_check's rule anyway). Results are deterministic: one
 * device and one shape give the same bytes every time (no atomics; fixed reduction orders).
 *
 * Tests: tests/unit/test_scan.c (double-precision reference, finite differences, streaming,
 * step ≡ forward); tests/gpu/parity_scan.c (CUDA against the CPU functions, `make test-gpu`).
 * Timing: kernels/dev/scan_bench.c (CPU), kernels/dev/scan.cu and `longscan bench kernels`
 * (CUDA).
 */
#ifndef LS_SCAN_H
#define LS_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "kernels/dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Default checkpoint interval T in tokens (scan_args_init sets it). */
#define SCAN_CHUNK_DEFAULT 128
/** Largest state size N any backend accepts (mamba_ssm's MAX_DSTATE). */
#define SCAN_N_MAX 256

/** Channels per work block of the CPU functions (the CPU workspace is laid out per block). */
#define SCAN_CPU_DBLOCK 16

// clang-format off
/** Which call an argument struct is checked for. */
typedef enum {
    SCAN_OP_FWD  = 0,
    SCAN_OP_BWD  = 1,
    SCAN_OP_STEP = 2,
} ScanOp;

/**
 * Everything one scan call needs; one struct for forward, backward and step (each reads the
 * fields it uses; the others are ignored). Fill it with scan_args_init() (dense strides,
 * T = SCAN_CHUNK_DEFAULT, softplus on, every pointer NULL), then set the pointers and any
 * strides of views. Strides are in elements, 64-bit; the channel/state stride is always 1.
 * "optional" pointers may be NULL. Outputs must not overlap inputs or each other, except
 * h_final, which may equal h0 (in-place state update for streaming).
 */
typedef struct {
    // ---- shapes
    int64_t B;              // batch
    int64_t L;              // tokens (1 for scan_step)
    int64_t D;              // channels (d_inner)
    int64_t N;              // state size per channel, 1..SCAN_N_MAX
    int64_t chunk;          // T: checkpoint interval in tokens, >= 1
    int     delta_softplus; // 1: dt = softplus(delta + bias); 0: dt = delta + bias
    DType   dtype;          // element type of the activations (see "Precision"); DTYPE_F32

    // ---- inputs
    const float *u;          int64_t u_stride_b, u_stride_l;          // (B, L, D)
    const float *delta;      int64_t delta_stride_b, delta_stride_l;  // (B, L, D)
    const float *z;          int64_t z_stride_b, z_stride_l;          // (B, L, D) optional gate
    const float *B_ssm;      int64_t B_ssm_stride_b, B_ssm_stride_l;  // (B, L, N)
    const float *C_ssm;      int64_t C_ssm_stride_b, C_ssm_stride_l;  // (B, L, N)
    const float *A;          // (D, N), dense; expected < 0
    const float *D_skip;     // (D) optional skip weight
    const float *delta_bias; // (D) optional
    const float *h0;         // (B, D, N) optional initial state (zeros when NULL)
    const uint8_t *reset;    int64_t reset_stride_b, reset_stride_l;  // (B, L) optional: nonzero
                             // where a packed sequence starts (in the walk order of the strides:
                             // a reversed view marks sequence ends); forward and backward only

    // ---- forward outputs
    float *out;              int64_t out_stride_b, out_stride_l;      // (B, L, D)
    float *h_final;          // (B, D, N) optional: state after the last token
    float *ckpt;             // (B, ceil(L/T), D, N): forward: optional output (required for
                             // a backward); slot c = state after token min((c+1)·T, L) − 1.
                             // backward: input, as the forward wrote it.

    // ---- backward inputs
    const float *dout;       int64_t dout_stride_b, dout_stride_l;    // (B, L, D)
    const float *dh_final;   // (B, D, N) optional: gradient w.r.t. h_final (streaming)

    // ---- backward outputs (accumulated, +=)
    float *du;               int64_t du_stride_b, du_stride_l;        // (B, L, D)
    float *ddelta;           int64_t ddelta_stride_b, ddelta_stride_l;// (B, L, D)
    float *dz;               int64_t dz_stride_b, dz_stride_l;        // (B, L, D) iff z
    float *dB_ssm;           int64_t dB_ssm_stride_b, dB_ssm_stride_l;// (B, L, N)
    float *dC_ssm;           int64_t dC_ssm_stride_b, dC_ssm_stride_l;// (B, L, N)
    float *dA;               // (D, N)
    float *dD_skip;          // (D) iff D_skip
    float *ddelta_bias;      // (D) iff delta_bias
    float *dh0;              // (B, D, N) optional: gradient w.r.t. h0 (or the zero state)
    void  *workspace;        // backend scratch, scan_bwd_workspace_size_<backend>() bytes
    size_t workspace_bytes;

    // ---- step
    float *state;            // (B, D, N) scan_step: read, then overwritten with the new state

    // ---- CUDA
    void  *stream;           // cudaStream_t the CUDA functions queue on (NULL: default stream)
} ScanArgs;
// clang-format on

/**
 * Zero @p a, set the shapes, chunk = SCAN_CHUNK_DEFAULT, delta_softplus = 1, dtype = DTYPE_F32,
 * stream = NULL, and dense strides for every (B, L, ·) tensor: batch stride L·D (L·N for B, C,
 * L for reset), token stride D (N, 1 for reset).
 */
void scan_args_init(ScanArgs *a, int64_t B, int64_t L, int64_t D, int64_t N);

/**
 * Validate @p a for @p op, the same rules for every backend: sizes >= 1 (L == 1 for a step),
 * N <= SCAN_N_MAX, chunk >= 1, dtype DTYPE_F32 or DTYPE_BF16, required pointers present
 * (forward: u, delta, A, B_ssm, C_ssm, out; backward: also dout, ckpt, du, ddelta, dA, dB_ssm, dC_ssm, and dz / dD_skip /
 * ddelta_bias exactly when z / D_skip / delta_bias are given; step: state and out), no
 * gradient for an absent input, outputs that do not overlap themselves, and offsets that fit
 * in 64 bits.
 * @return 0; LS_ERR_RANGE for a bad size, LS_ERR_USAGE for a missing or superfluous pointer or
 *         a bad stride; the message names the argument and its value.
 */
int scan_args_check(const ScanArgs *a, ScanOp op) LS_RESULT_USED;

/** Number of floats of the checkpoint buffer: B · ceil(L/chunk) · D · N (0 if a size is bad). */
int64_t scan_ckpt_numel(const ScanArgs *a);

/**
 * Bytes of workspace scan_bwd_cpu needs for these shapes (independent of the thread count):
 * 4 · (D·N + ceil(D/16)·(4·T·N + N + 3·T)) with T = min(chunk, L). 0 if a size is bad.
 */
size_t scan_bwd_workspace_size_cpu(const ScanArgs *a);

/**
 * Forward over a->L tokens. Writes out; h_final and ckpt when given.
 * @return 0, or the code of scan_args_check (nothing written then); LS_ERR_UNSUPPORTED for
 *         dtype DTYPE_BF16 (the CPU specification is fp32).
 */
int scan_fwd_cpu(const ScanArgs *a) LS_RESULT_USED;

/**
 * Backward: given dout (and dh_final), ACCUMULATES du, ddelta, dz, dB_ssm, dC_ssm, dA, dD_skip,
 * ddelta_bias and dh0. Reads the inputs of the forward (same u, delta, z, B, C, A, D_skip,
 * delta_bias, h0, chunk) and the checkpoints it wrote; never reads out.
 * a->workspace must hold scan_bwd_workspace_size_cpu(a) bytes (a->workspace_bytes says how
 * many it has). @return 0, LS_ERR_USAGE / LS_ERR_RANGE (bad arguments or workspace too small).
 */
int scan_bwd_cpu(const ScanArgs *a) LS_RESULT_USED;

/**
 * One token for generation (a->L == 1; token strides are ignored): reads a->state (B, D, N),
 * writes out (B, 1, D) and the new state into a->state. Same arithmetic as scan_fwd_cpu, so a
 * token-by-token run is bit-identical to one forward over the same tokens.
 * @return 0 or the code of scan_args_check.
 */
int scan_step_cpu(const ScanArgs *a) LS_RESULT_USED;

// ---------------------------------------------------------------------------------------------
// CUDA (kernels/cuda/scan.cu; stubs returning LS_ERR_NO_CUDA in kernels/cuda_none.c)

/**
 * Whether the CUDA functions take @p a for @p op: scan_args_check, then the CUDA limits
 * (see "CUDA" above). Each scan_*_cuda calls it first, so an unsupported shape is one clear
 * error, never a silent CPU fallback. Does not touch the device.
 * @return 0; the code of scan_args_check; LS_ERR_UNSUPPORTED naming the shape and the limit.
 */
int scan_cuda_supported(const ScanArgs *a, ScanOp op) LS_RESULT_USED;

/**
 * Bytes of device workspace scan_bwd_cuda needs for these shapes (a->workspace,
 * a->workspace_bytes): B·ceil(L/chunk)·D·(N+2) floats (per checkpoint chunk and channel: the
 * state gradient carried into the chunk, then the chunk's dA, dD, ddelta_bias partial sums),
 * plus 2·P·B·L·N floats of dB/dC partial sums when the channels are split into P > 1 groups
 * (short sequences; P depends on the shapes only). 0 if a size is bad.
 */
size_t scan_bwd_workspace_size_cuda(const ScanArgs *a);

/** scan_fwd_cpu on the GPU (fp32 or bf16). @return 0, LS_ERR_CUDA, LS_ERR_UNSUPPORTED, … */
int scan_fwd_cuda(const ScanArgs *a) LS_RESULT_USED;

/**
 * scan_bwd_cpu on the GPU: reads the checkpoints the forward (CUDA or CPU) wrote with the same
 * chunk; needs scan_bwd_workspace_size_cuda(a) bytes of device workspace. Gradients are
 * accumulated (+=) and bit-identical from run to run.
 */
int scan_bwd_cuda(const ScanArgs *a) LS_RESULT_USED;

/** scan_step_cpu on the GPU: one token, a->state (B, D, N) updated in place. */
int scan_step_cuda(const ScanArgs *a) LS_RESULT_USED;

#ifdef __cplusplus
}
#endif
#endif
