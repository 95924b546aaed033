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
 *
 * In place (send == recv, as the model calls them) a slot keeps its index and the data goes
 * to the slice that reads it: shift_right's slot g + 1 is written by slice g and read by
 * slice g + 1 (the halo before slice g + 1); shift_left's slot g is written by slice g and
 * read by slice g − 1 (the gradient of slice g's halo). In-process that moves nothing.
 *
 * Distributed (slice_exchange_comm_init: one slice per rank of a communicator, rank g owning
 * slice g): the memory split. Each rank's plan holds only its slice of every row, (B, L/G, D)
 * per layer; the exchange carries the halos (to the right for the forward walk, to the left
 * for bimamba's reverse walk, whose walk visits the ranks in reverse order), the scan
 * summaries and state gradients, and, through all_reduce / all_reduce_host, a classifier's
 * pooled parts and an LM's target count and loss (docs/parallel.md "Sequence parallel across
 * ranks").
 */
#ifndef LS_MODELS_SLICE_EXCHANGE_H
#define LS_MODELS_SLICE_EXCHANGE_H

#include <stdint.h>

#include "common/error.h"
#include "kernels/comm.h"
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
    /** 0: this process runs every slice (in-process); 1: it runs slice @c rank only. */
    int distributed;
    int rank;
    /** Distributed only: in-place sum of @p n floats on the device over the slices' ranks
     *  (a classifier's pooled parts; NULL in-process, where nothing needs summing). */
    int (*all_reduce)(const SliceExchange *x, const Device *dev, float *buf, int64_t n);
    /** Distributed only: in-place sum of @p n host doubles (an LM's target count and loss). */
    int (*all_reduce_host)(const SliceExchange *x, double *buf, int n);
};

/** One device holds every slice: all_gather does nothing, the shifts copy send to recv on
 *  @p dev unless they are the same buffer (the model passes one buffer: nothing moves). */
extern const SliceExchange slice_exchange_in_process;

/**
 * A distributed exchange over @p comm (one slice per rank, slice g on rank g; the CPU backend
 * for host buffers, NCCL for device buffers): all_gather, the shifts and all_reduce are
 * comm_allgather, comm_shift and comm_allreduce. @p comm stays the caller's.
 * @return 0 and *out (free with slice_exchange_comm_free()), LS_ERR_NOMEM.
 */
int slice_exchange_comm_init(SliceExchange **out, Comm *comm) LS_RESULT_USED;
void slice_exchange_comm_free(SliceExchange *x);

#ifdef __cplusplus
}
#endif
#endif
