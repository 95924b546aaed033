/*
 * slice_exchange.h — what the slices of one sequence send each other when a Mamba model runs
 * sequence parallel (model_set_seq_slices; docs/parallel.md "The model" and "The exchange").
 * The model calls these and nothing else to move data between slices, so a multi-device
 * transport (NCCL all-gather and send/recv, the communicator of kernels/comm.h) plugs in by
 * filling the same table; the model code does not change.
 *
 * Every call is collective over the G slices and takes G slots of @p n fp32 values on the
 * model's device, slot g (at g·n) being slice g's. A transport with one slice per process
 * fills only its own slot and finds the others filled after the call; the in-process
 * implementation (one device simulating every slice, the slices being views of one buffer)
 * has every slot filled already, so for it a call is at most a copy.
 *
 * What travels, per Mamba layer and walk direction (B rows, E = d_inner, N = d_state,
 * K = d_conv):
 *   forward   shift_right  the conv halo: slice g's conv state after its last K−1 tokens,
 *                          (B, E, K−1), becomes slice g+1's conv state0;
 *             all_gather   the scan summaries (decay product P_g, end state e_g), (B, E, N)
 *                          each; every slice then combines the h_in it starts from.
 *   backward  all_gather   dh0_local (B, E, N): the gradient at each slice's start through its
 *                          own outputs; every slice combines the dH its end receives;
 *             shift_left   the halo gradient (B, E, K−1), back to the slice that owns those
 *                          tokens.
 *   And once per step, an all-reduce of the parameter gradients (each slice's are partial
 *   sums over its tokens): the data-parallel all-reduce (kernels/comm.h), not in this table.
 *   In-process every slice accumulates into the one gradient buffer, which is that sum.
 */
#ifndef LS_MODELS_SLICE_EXCHANGE_H
#define LS_MODELS_SLICE_EXCHANGE_H

#include <stdint.h>

#include "common/error.h"
#include "kernels/device.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct SliceExchange SliceExchange;

struct SliceExchange {
    const char *name; // for messages ("in-process", "nccl")
    void *ctx;        // the transport's state (communicator, rank); NULL in-process
    /** bufs holds G slots of @p n values, slot g slice g's: after the call every slot holds
     *  slice g's values on every slice (NCCL: an all-gather into bufs). */
    int (*all_gather)(const SliceExchange *x, const Device *dev, int G, float *bufs, int64_t n);
    /** recv slot g + 1 = send slot g, g = 0..G−2 (slot 0 of recv untouched): a halo to the
     *  right (NCCL: send to rank g + 1, receive from rank g − 1). */
    int (*shift_right)(const SliceExchange *x, const Device *dev, int G, const float *send,
                       float *recv, int64_t n);
    /** recv slot g − 1 = send slot g, g = 1..G−1 (slot G−1 untouched): a gradient back. */
    int (*shift_left)(const SliceExchange *x, const Device *dev, int G, const float *send,
                      float *recv, int64_t n);
};

/** One device holds every slice: all_gather does nothing, the shifts copy send to recv on
 *  @p dev unless they are the same buffer (the model passes one buffer: nothing moves). */
extern const SliceExchange slice_exchange_in_process;

#ifdef __cplusplus
}
#endif
#endif
