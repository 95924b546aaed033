/*
 * seqpar.h — sequence parallelism for the scan and the conv: one (B, L) input split along L
 * into G slices (one per device), each slice computed from its own tokens plus a few small
 * tensors from its neighbours, with the same result as one call over the whole sequence
 * (within fp32 rounding; tests/unit/test_seqpar.c on the CPU, suite seqpar of
 * tests/gpu/parity_seqpar.c on the CUDA ops). Issue 17; the derivation, the cost and
 * what is still missing (NCCL transport, --gpus) are in docs/parallel.md; models/mamba.c
 * drives these steps for every layer (model_set_seq_slices).
 *
 * Backend-agnostic: the per-slice steps call the scan and conv only through a SeqparOps table
 * of their public entry points (seqpar_ops_cpu here; the CUDA table is the same with _cuda),
 * on buffers the caller owns on that backend. The combines are plain loops over (B, D, N)
 * states on host memory: they are O(G·B·D·N) per layer, the data the devices exchange.
 *
 * Scan, forward (slice g holds tokens [s_g, s_{g+1})):
 *   1. seqpar_scan_summary   each slice alone: end state e_g (scan from h0 = 0) and decay
 *                            product P_g = Π_t exp(dt_t·A) (0 once a reset is passed), both
 *                            (B, D, N); by linearity the slice maps h_in to P_g·h_in + e_g.
 *   2. seqpar_scan_combine_fwd   h_in[0] = h0, h_in[g] = P_{g-1}·h_in[g-1] + e_{g-1}.
 *   3. each slice runs the ordinary forward from h0 = h_in[g] (with ckpt for the backward).
 * Scan, backward:
 *   1. seqpar_scan_bwd_local each slice: the ordinary backward with dh_final = 0; its dh0 (the
 *                            gradient w.r.t. h_in[g] through the slice's own outputs) goes to
 *                            a (B, D, N) buffer; every other gradient accumulates as usual.
 *   2. seqpar_scan_combine_bwd   dH[G] = dh_final, dH[g] = dh0_local[g] + P_g·dH[g+1]:
 *                            dH[g+1] is the gradient reaching slice g's end state.
 *   3. seqpar_scan_bwd_carry each slice g < G−1 (or with a dh_final): the backward again with
 *                            dout = 0 and dh_final = dH[g+1]. The backward is linear in
 *                            (dout, dh_final), so steps 1 + 3 add up to one backward with both.
 *   Parameter gradients (dA, dD_skip, ddelta_bias) are sums over slices (an all-reduce).
 * A reverse-direction scan (bimamba) is the same on the reversed view: slices in reverse order.
 *
 * Conv: slice g's state0 is the halo, the K−1 inputs before s_g as the conv's state_final
 * would hold them (masked by resets): seqpar_conv_halo_fwd computes it with a conv over those
 * tokens; seqpar_conv_halo_bwd sends the gradient of the halo back into the left neighbours'
 * dx (and into dstate0 while the halo reaches before token 0).
 */
#ifndef LS_SEQPAR_H
#define LS_SEQPAR_H

#include <stdint.h>

#include "common/error.h"
#include "kernels/conv.h"
#include "kernels/scan.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The public entry points of one backend that the slice steps call. */
typedef struct {
    int (*scan_fwd)(const ScanArgs *a);
    int (*scan_bwd)(const ScanArgs *a);
    int (*conv_fwd)(const ConvArgs *a);
    int (*conv_bwd)(const ConvArgs *a);
} SeqparOps;

/** scan_fwd_cpu, scan_bwd_cpu, conv_fwd_cpu, conv_bwd_cpu. */
extern const SeqparOps seqpar_ops_cpu;
/** The _cuda versions (stubs returning LS_ERR_NO_CUDA in a CPU-only build): every buffer the
 *  slice steps get is then device memory; the combines still take host memory. */
extern const SeqparOps seqpar_ops_cuda;

/**
 * Pass 1 of the forward for one slice @p s (a ScanArgs of the slice's tokens; its h0, h_final,
 * ckpt and z are ignored). Writes @p end (B, D, N): the state after the slice from h0 = 0, and
 * @p decay (B, D, N): the slice's decay product, computed as a scan with u = 0 from h0 = 1 so
 * it has the scan's own arithmetic (exactly 0 past a reset). Uses s->out as scratch (pass 3
 * overwrites it). @p ones_bdn: B·D·N ones; @p zeros_d: D zeros (u is a stride-0 view of it).
 * @return 0 or the scan's error.
 */
int seqpar_scan_summary(const SeqparOps *ops, const ScanArgs *s, const float *ones_bdn,
                        const float *zeros_d, float *end, float *decay) LS_RESULT_USED;

/**
 * h_in[0] = h0 (zeros when NULL); h_in[g] = decay[g-1]·h_in[g-1] + end[g-1], g = 1..G−1,
 * elementwise over @p n = B·D·N. h_in[g] may not alias decay or end.
 */
void seqpar_scan_combine_fwd(int G, int64_t n, const float *const *decay,
                             const float *const *end, const float *h0, float *const *h_in);

/**
 * Pass 1 of the backward for one slice: the ordinary backward of @p s (h0 = this slice's
 * h_in, ckpt from pass 3 of the forward) with dh_final = 0; dh0 is ACCUMULATED into
 * @p dh0_local (B, D, N), which the caller zeroes (on the backend's memory).
 * @return 0 or the scan's error.
 */
int seqpar_scan_bwd_local(const SeqparOps *ops, const ScanArgs *s, float *dh0_local)
    LS_RESULT_USED;

/**
 * dH[G] = dh_final (zeros when NULL); dH[g] = dh0_local[g] + decay[g]·dH[g+1], g = G−1..0.
 * dH has G+1 entries of @p n floats; dH[g+1] is slice g's dh_final and dH[0] the gradient
 * w.r.t. the whole scan's h0.
 */
void seqpar_scan_combine_bwd(int G, int64_t n, const float *const *decay,
                             const float *const *dh0_local, const float *dh_final,
                             float *const *dH);

/**
 * Pass 3 of the backward for one slice: the backward of @p s again with dout = 0 (a stride-0
 * view of @p zeros_d, D zeros), dh_final = @p dh_next (dH[g+1]) and no dh0, accumulating
 * into the slice's gradient buffers what the later slices' outputs owe to this one.
 * @return 0 or the scan's error.
 */
int seqpar_scan_bwd_carry(const SeqparOps *ops, const ScanArgs *s, const float *dh_next,
                          const float *zeros_d) LS_RESULT_USED;

/**
 * The halo of the slice that starts after the tokens of @p prev: @p prev describes the
 * min(K−1, s_g) tokens just before the slice (x and reset views; weight; state0 = the whole
 * sequence's state0 when those tokens start at token 0, else NULL), its other fields are
 * ignored. Writes @p halo (B, D, K−1), the slice's state0. @p scratch_out holds
 * B·(K−1)·D floats. @return 0 or the conv's error.
 */
int seqpar_conv_halo_fwd(const SeqparOps *ops, const ConvArgs *prev, float *halo,
                         float *scratch_out) LS_RESULT_USED;

/**
 * The backward of seqpar_conv_halo_fwd: given @p dhalo (the slice's dstate0), ACCUMULATES into
 * prev->dx (the left neighbours' dx of those tokens) and prev->dstate0 (when prev->state0 is
 * given). @p zeros_d: D zeros (dout is a stride-0 view); @p scratch_dw: D·K floats.
 * @return 0 or the conv's error.
 */
int seqpar_conv_halo_bwd(const SeqparOps *ops, const ConvArgs *prev, const float *dhalo,
                         const float *zeros_d, float *scratch_dw) LS_RESULT_USED;

#ifdef __cplusplus
}
#endif
#endif
