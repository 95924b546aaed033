/*
 * seqpar.c — the per-slice steps and the combines of kernels/seqpar.h. The slice steps only
 * rewire a ScanArgs / ConvArgs and call the backend through SeqparOps, so the same code drives
 * the CUDA functions; the combines are serial over G (G ≤ a few dozen devices) and parallel
 * over the B·D·N states. Tested by tests/unit/test_seqpar.c; math in docs/parallel.md.
 */
#include "kernels/seqpar.h"

#include <string.h>

const SeqparOps seqpar_ops_cpu = {scan_fwd_cpu, scan_bwd_cpu, conv_fwd_cpu, conv_bwd_cpu};
const SeqparOps seqpar_ops_cuda = {scan_fwd_cuda, scan_bwd_cuda, conv_fwd_cuda, conv_bwd_cuda};

// ------------------------------------------------------------------------------------ scan

int seqpar_scan_summary(const SeqparOps *ops, const ScanArgs *s, const float *ones_bdn,
                        const float *zeros_d, float *end, float *decay) {
    ScanArgs a = *s;
    a.h0 = NULL, a.h_final = end, a.ckpt = NULL; // no backward of this pass: no checkpoints
    int rc = ops->scan_fwd(&a);
    if (rc) return rc;
    // The decay product is the state after the slice from h0 = 1 with no input: the scan does
    // exactly h ← exp(dt·A)·h per token (h ← 0 at a reset). u = 0 as a stride-0 view of D
    // zeros (no (B, L, D) buffer); z and D_skip only touch out, which is scratch here.
    a.u = zeros_d, a.u_stride_b = 0, a.u_stride_l = 0;
    a.z = NULL, a.D_skip = NULL;
    a.h0 = ones_bdn, a.h_final = decay;
    return ops->scan_fwd(&a);
}

void seqpar_scan_combine_fwd(int G, int64_t n, const float *const *decay,
                             const float *const *end, const float *h0, float *const *h_in) {
    if (h0)
        memcpy(h_in[0], h0, (size_t)n * sizeof(float));
    else
        memset(h_in[0], 0, (size_t)n * sizeof(float));
    for (int g = 1; g < G; g++) {
        const float *P = decay[g - 1], *e = end[g - 1], *hp = h_in[g - 1];
        float *h = h_in[g];
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; i++)
            h[i] = P[i] * hp[i] + e[i];
    }
}

int seqpar_scan_bwd_local(const SeqparOps *ops, const ScanArgs *s, float *dh0_local) {
    ScanArgs a = *s;
    a.dh_final = NULL;
    a.dh0 = dh0_local; // accumulated: the caller zeroes it (it may be device memory)
    return ops->scan_bwd(&a);
}

void seqpar_scan_combine_bwd(int G, int64_t n, const float *const *decay,
                             const float *const *dh0_local, const float *dh_final,
                             float *const *dH) {
    if (dh_final)
        memcpy(dH[G], dh_final, (size_t)n * sizeof(float));
    else
        memset(dH[G], 0, (size_t)n * sizeof(float));
    // h_in[g+1] = P_g·h_in[g] + e_g, and e_g does not depend on h_in[g]: the gradient reaching
    // slice g's start is its own dh0 plus P_g times the gradient reaching its end.
    for (int g = G - 1; g >= 0; g--) {
        const float *P = decay[g], *dl = dh0_local[g], *dn = dH[g + 1];
        float *d = dH[g];
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; i++)
            d[i] = dl[i] + P[i] * dn[i];
    }
}

int seqpar_scan_bwd_carry(const SeqparOps *ops, const ScanArgs *s, const float *dh_next,
                          const float *zeros_d) {
    ScanArgs a = *s;
    a.dout = zeros_d, a.dout_stride_b = 0, a.dout_stride_l = 0;
    a.dh_final = dh_next;
    a.dh0 = NULL; // the slice's dh0 was counted in pass 1 and dH carries the rest
    return ops->scan_bwd(&a);
}

// ------------------------------------------------------------------------------------ conv

// The halo is the conv's state_final over the tokens before the slice: the last K−1 entries of
// (state0 or zeros, x), zeroed before the last sequence start among them — what the slice's
// first tokens may read. A conv over at most K−1 tokens computes it with the conv's own rule.
int seqpar_conv_halo_fwd(const SeqparOps *ops, const ConvArgs *prev, float *halo,
                         float *scratch_out) {
    ConvArgs a = *prev;
    a.bias = NULL, a.silu = 0;
    a.out = scratch_out, a.out_stride_b = a.L * a.D, a.out_stride_l = a.D;
    a.state_final = halo;
    return ops->conv_fwd(&a);
}

int seqpar_conv_halo_bwd(const SeqparOps *ops, const ConvArgs *prev, const float *dhalo,
                         const float *zeros_d, float *scratch_dw) {
    ConvArgs a = *prev;
    a.bias = NULL, a.dbias = NULL, a.silu = 0;
    a.dout = zeros_d, a.dout_stride_b = 0, a.dout_stride_l = 0; // the halo conv's out is unused
    a.dstate_final = dhalo;
    a.dweight = scratch_dw; // receives only zeros: keeps the real dweight's sum order intact
    if (!a.state0) a.dstate0 = NULL;
    return ops->conv_bwd(&a);
}
