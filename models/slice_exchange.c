/*
 * slice_exchange.c — the in-process SliceExchange (slice_exchange.h): every slice lives in
 * this process's memory on one device, so what a transport would send is already where the
 * receiver reads it. Tested through tests/unit/test_model_seqpar.c (the model sliced against
 * the model whole) and tests/gpu/model_seqpar_gpu.c.
 */
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
};
