/*
 * dropout.c — CPU specification of kernels/dropout.h: y = x · (kept ? scale : 0) over one tile
 * of a site's (Be, L, W) tensor, each element's fate drawn from the counter-based mask of its
 * place g = (b·L + pos)·W + w in the whole tensor (dropout.h). The CUDA version
 * (kernels/cuda/dropout.cu) compares the same integers and does the same one multiply, so its
 * results are these bit for bit. Tested by tests/unit/test_dropout.c; the CUDA version against
 * this one by tests/gpu/parity_dropout.c.
 *
 * OpenMP over tile rows when the work amortises the fork; no element depends on another, so
 * results never depend on the thread count. In place is allowed (out == in): each element is
 * read before it is written, by the one iteration that owns it.
 */
#include "kernels/dropout.h"

#include <string.h>

#define DROPOUT_PAR_MIN 32768

// Sequence position of tile row r's position (glue.h's map), or -1 past the row's length.
static inline int64_t tile_pos(const DropoutArgs *a, int64_t b, int64_t s) {
    if (!a->lengths) return s;
    const int64_t n = a->lengths[b];
    if (s >= n) return -1;
    if (!a->reverse) return s;
    return a->mirror ? a->mirror[b * a->L + s] : n - 1 - s;
}

static int dropout_apply_cpu(const DropoutArgs *a, float *out, const float *in) {
    const int64_t rows = a->Be * a->nt, W = a->W;
    const uint64_t key = dropout_key(a->seed, a->step, a->site);
    const uint32_t threshold = dropout_threshold(a->p);
    const float scale = dropout_scale(a->p);
#pragma omp parallel for schedule(static) if (rows * W >= DROPOUT_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const int64_t b = r / a->nt, pos = tile_pos(a, b, a->s0 + r % a->nt);
        float *o = out + r * W;      // (W)
        const float *x = in + r * W; // (W)
        if (pos < 0) {
            memset(o, 0, (size_t)W * sizeof *o);
            continue;
        }
        const uint64_t g0 = (uint64_t)((b * a->L + pos) * W);
        for (int64_t w = 0; w < W; w++)
            o[w] = x[w] * (dropout_bits(key, g0 + (uint64_t)w) >= threshold ? scale : 0.0f);
    }
    return 0;
}

static int cpu_fp32(const DropoutArgs *a, const char *who) {
    if (a->x_dtype == DTYPE_F32 && a->y_dtype == DTYPE_F32) return 0;
    return ls_error(LS_ERR_UNSUPPORTED, "%s: bf16 on the CPU (the CPU computes in fp32)", who);
}

int dropout_fwd_cpu(const DropoutArgs *a) {
    int status = dropout_args_check(a, 0);
    if (status == 0) status = cpu_fp32(a, "dropout_fwd");
    if (status < 0 || a->Be * a->W == 0) return status;
    return dropout_apply_cpu(a, a->y, a->x);
}

int dropout_bwd_cpu(const DropoutArgs *a) {
    int status = dropout_args_check(a, 1);
    if (status == 0) status = cpu_fp32(a, "dropout_bwd");
    if (status < 0 || a->Be * a->W == 0) return status;
    return dropout_apply_cpu(a, a->dx, a->dy);
}
