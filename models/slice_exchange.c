/*
 * slice_exchange.c — the in-process SliceExchange (slice_exchange.h): every slice lives in
 * this process's memory on one device, so what a transport would send is already where the
 * receiver reads it. Tested through tests/unit/test_model_seqpar.c (the model sliced against
 * the model whole) and tests/gpu/model_seqpar_gpu.c. And the distributed one over a
 * communicator (kernels/comm.h), tested end to end by tests/cli/test_sp.sh (CPU ranks) and
 * bench/gpu_sp.sh (NCCL).
 */
#include <stdlib.h>

#include "models/slice_exchange.h"

#include "models/ops_internal.h"

static int in_process_all_gather(const SliceExchange *x, const Device *dev, int G, float *bufs,
                                 int64_t n) {
    (void)x, (void)dev, (void)G, (void)bufs, (void)n;
    return 0;
}

// recv slot g + step = send slot g, for the slots that exist.
static int shift(const Device *dev, int G, const float *send, float *recv, int64_t n, int step) {
    if (send == recv) return 0;
    for (int g = 0; g < G; g++) {
        const int to = g + step;
        if (to < 0 || to >= G) continue;
        int status = ops_copy(dev, recv + (int64_t)to * n, send + (int64_t)g * n, n);
        if (status < 0) return status;
    }
    return 0;
}

static int in_process_shift_right(const SliceExchange *x, const Device *dev, int G,
                                  const float *send, float *recv, int64_t n) {
    (void)x;
    return shift(dev, G, send, recv, n, 1);
}

static int in_process_shift_left(const SliceExchange *x, const Device *dev, int G,
                                 const float *send, float *recv, int64_t n) {
    (void)x;
    return shift(dev, G, send, recv, n, -1);
}

const SliceExchange slice_exchange_in_process = {
    "in-process", NULL, in_process_all_gather, in_process_shift_right, in_process_shift_left,
    0, 0, NULL, NULL,
};

// ------------------------------------------------------------------------------ over a comm

static int comm_check(const SliceExchange *x, int G) {
    Comm *c = x->ctx;
    if (G == comm_size(c)) return 0;
    return ls_error(LS_ERR_USAGE, "sequence parallel: %d slices over %d ranks (one slice a "
                    "rank)", G, comm_size(c));
}

static int comm_all_gather(const SliceExchange *x, const Device *dev, int G, float *bufs,
                           int64_t n) {
    (void)dev;
    int status = comm_check(x, G);
    return status < 0 ? status : comm_allgather(x->ctx, bufs, n);
}

/* In place (send == recv) the slot keeps its index (slice_exchange.h): rank r sends the slot
 * it wrote and receives the slot it reads; otherwise slot r goes to slot r + step. */
static int comm_shift_slots(const SliceExchange *x, int G, const float *send, float *recv,
                            int64_t n, int step) {
    int status = comm_check(x, G);
    if (status < 0) return status;
    const int64_t r = x->rank;
    if (send != recv) return comm_shift(x->ctx, send + r * n, recv + r * n, n, step);
    const int64_t out = step > 0 ? r + 1 : r, in = step > 0 ? r : r + 1;
    /* past the ends (the last rank's send right, its receive from the left) comm_shift
     * neither sends nor receives: any slot that exists will do */
    return comm_shift(x->ctx, send + (out < G ? out : r) * n, recv + (in < G ? in : r) * n, n,
                      step);
}

static int comm_shift_right(const SliceExchange *x, const Device *dev, int G, const float *send,
                            float *recv, int64_t n) {
    (void)dev;
    return comm_shift_slots(x, G, send, recv, n, 1);
}

static int comm_shift_left(const SliceExchange *x, const Device *dev, int G, const float *send,
                           float *recv, int64_t n) {
    (void)dev;
    return comm_shift_slots(x, G, send, recv, n, -1);
}

static int comm_all_reduce(const SliceExchange *x, const Device *dev, float *buf, int64_t n) {
    (void)dev;
    return comm_allreduce(x->ctx, buf, n);
}

static int comm_all_reduce_host(const SliceExchange *x, double *buf, int n) {
    return comm_allreduce_host(x->ctx, buf, n);
}

int slice_exchange_comm_init(SliceExchange **out, Comm *comm) {
    *out = malloc(sizeof **out);
    if (!*out) return ls_error(LS_ERR_NOMEM, "out of memory");
    **out = (SliceExchange){comm_backend(comm) == COMM_BACKEND_NCCL ? "nccl" : "cpu-ranks",
                            comm, comm_all_gather, comm_shift_right, comm_shift_left, 1,
                            comm_rank(comm), comm_all_reduce, comm_all_reduce_host};
    return 0;
}

void slice_exchange_comm_free(SliceExchange *x) { free(x); }
