/*
 * gpu_check.h — the harness of the GPU parity program (tests/gpu/test_gpu.c, `make test-gpu`;
 * STYLE rule 33, after ggml's test-backend-ops and llm.c's dev/cuda/common.h).
 *
 * One file per op family, tests/gpu/parity_<op>.c, defines `void gpu_parity_<op>(void)` and
 * is listed in test_gpu.c's suite table. Each case:
 *   - draws fresh random inputs from a seeded RNG (LS_TEST_SEED, printed at start);
 *   - runs the CPU op (the specification) on the host, on bf16-rounded inputs for bf16 cases;
 *   - runs the CUDA op on device buffers framed by sentinel bytes, whose interior is poisoned
 *     with NaN (0xff bytes) before the call, so an unwritten output element fails;
 *   - compares elementwise: |got − ref| ≤ atol + rtol·|ref| everywhere, NMSE ≤ bound, and NaN/Inf
 *     exactly where the reference has them; then checks the sentinels survived;
 *   - reports one TAP line (`ok N - what` / `not ok N - what: worst element ...`).
 * The plan line "1..N" is printed at the end (TAP allows a trailing plan), so suites need not
 * count their cases in advance.
 *
 * Header-only (static functions): each parity file includes it.
 */
#ifndef LS_TESTS_GPU_CHECK_H
#define LS_TESTS_GPU_CHECK_H

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/device.h"
#include "kernels/dtype.h"

// ----------------------------------------------------------------------------- TAP

extern int gc_n_run, gc_n_failed;

static inline void gc_report(int ok, const char *fmt, ...) LS_PRINTF(2, 3);
static inline void gc_report(int ok, const char *fmt, ...) {
    gc_n_run++;
    if (!ok) gc_n_failed++;
    printf("%s %d - ", ok ? "ok" : "not ok", gc_n_run);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

// ----------------------------------------------------------------------------- RNG

typedef struct {
    uint64_t state;
} GcRng;

extern uint64_t gc_seed; // from LS_TEST_SEED, set by test_gpu.c's main

/** An RNG for one case: the global seed mixed with a per-case salt (cases stay independent). */
static inline GcRng gc_rng(uint64_t salt) {
    GcRng r = {gc_seed ^ (salt * 0x9e3779b97f4a7c15ull)};
    return r;
}

static inline uint64_t gc_next(GcRng *r) { // splitmix64
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline float gc_uniform(GcRng *r, float lo, float hi) {
    return lo + (hi - lo) * (float)((gc_next(r) >> 40) * (1.0 / 16777216.0));
}

/** Fill x[0..n) uniformly in [lo, hi); when @p as_bf16, round each value to bf16. */
static inline void gc_fill(GcRng *r, float *x, int64_t n, float lo, float hi, int as_bf16) {
    for (int64_t i = 0; i < n; i++) {
        float v = gc_uniform(r, lo, hi);
        x[i] = as_bf16 ? bf16_round(v) : v;
    }
}

/** Host buffer of n floats (abort-free: returns NULL on failure, the caller reports). */
static inline float *gc_host(int64_t n) { return (float *)malloc((size_t)(n > 0 ? n : 1) * 4); }

// ----------------------------------------------------------------------------- device buffers

#define GC_GUARD 256 // sentinel bytes on each side of every device buffer

typedef struct {
    unsigned char *base; // allocation: GUARD | payload | GUARD
    void *ptr;           // payload (what the op gets)
    size_t bytes;        // payload bytes
} GcBuf;

static const unsigned char gc_sentinel = 0xa5;

/** Device buffer of @p bytes, sentinels around it, payload poisoned with 0xff (NaN). */
static inline int gc_buf_alloc(GcBuf *b, size_t bytes) {
    memset(b, 0, sizeof *b);
    void *base = NULL;
    int status = device_cuda_alloc(&base, bytes + 2 * GC_GUARD, "lower the test size");
    if (status) return status;
    b->base = (unsigned char *)base;
    b->ptr = b->base + GC_GUARD;
    b->bytes = bytes;
    if ((status = device_cuda_memset(b->base, gc_sentinel, bytes + 2 * GC_GUARD))) return status;
    return device_cuda_memset(b->ptr, 0xff, bytes);
}

static inline void gc_buf_free(GcBuf *b) {
    device_cuda_free(b->base);
    memset(b, 0, sizeof *b);
}

/** Re-poison the payload (before each call of the op under test). */
static inline int gc_buf_poison(GcBuf *b) { return device_cuda_memset(b->ptr, 0xff, b->bytes); }

/** Upload n floats as @p t (converted to bf16 on the host when t is DTYPE_BF16). */
static inline int gc_buf_upload(GcBuf *b, const float *x, int64_t n, DType t) {
    if ((size_t)n * dtype_size(t) > b->bytes) return ls_error(LS_ERR_INTERNAL, "upload too big");
    if (t == DTYPE_F32) return device_cuda_copy(b->ptr, x, (size_t)n * 4, DEVICE_COPY_H2D);
    uint16_t *h = (uint16_t *)malloc((size_t)(n > 0 ? n : 1) * 2);
    if (!h) return ls_error(LS_ERR_NOMEM, "upload");
    for (int64_t i = 0; i < n; i++) h[i] = bf16_from_float(x[i]);
    int status = device_cuda_copy(b->ptr, h, (size_t)n * 2, DEVICE_COPY_H2D);
    free(h);
    return status;
}

/** Download n elements of type @p t into floats. */
static inline int gc_buf_download(float *x, const GcBuf *b, int64_t n, DType t) {
    if (t == DTYPE_F32) return device_cuda_copy(x, b->ptr, (size_t)n * 4, DEVICE_COPY_D2H);
    uint16_t *h = (uint16_t *)malloc((size_t)(n > 0 ? n : 1) * 2);
    if (!h) return ls_error(LS_ERR_NOMEM, "download");
    int status = device_cuda_copy(h, b->ptr, (size_t)n * 2, DEVICE_COPY_D2H);
    for (int64_t i = 0; !status && i < n; i++) x[i] = bf16_to_float(h[i]);
    free(h);
    return status;
}

/** 0 when both guard bands still hold the sentinel, else -1 with a message in @p why. */
static inline int gc_buf_guards_ok(const GcBuf *b, char *why, size_t why_size) {
    unsigned char guard[GC_GUARD];
    for (int side = 0; side < 2; side++) {
        const unsigned char *at = side ? b->base + GC_GUARD + b->bytes : b->base;
        if (device_cuda_copy(guard, at, GC_GUARD, DEVICE_COPY_D2H)) {
            snprintf(why, why_size, "%s", ls_error_message());
            return -1;
        }
        for (int i = 0; i < GC_GUARD; i++)
            if (guard[i] != gc_sentinel) {
                snprintf(why, why_size, "write %s the buffer (guard byte %d)",
                         side ? "past the end of" : "before the start of", i);
                return -1;
            }
    }
    return 0;
}

// ----------------------------------------------------------------------------- comparison

typedef struct {
    double atol, rtol; // elementwise: |got − ref| ≤ atol + rtol·|ref|
    double nmse_max;   // Σ(got − ref)² / Σ ref² ≤ nmse_max (0: not checked)
} GcTol;

/**
 * Compare got against ref (n elements). Returns 1 when within @p tol, NaN/Inf where and only
 * where ref has them; else 0 with the worst element described in @p why.
 */
static inline int gc_close(const float *got, const float *ref, int64_t n, GcTol tol, char *why,
                           size_t why_size) {
    double worst = 0, err2 = 0, ref2 = 0;
    int64_t wi = -1;
    for (int64_t i = 0; i < n; i++) {
        int got_finite = isfinite(got[i]), ref_finite = isfinite(ref[i]);
        if (!ref_finite || !got_finite) {
            int same = (isnan(got[i]) && isnan(ref[i])) || got[i] == ref[i];
            if (!same) {
                snprintf(why, why_size, "[%lld] = %.9g, expected %.9g (non-finite mismatch)",
                         (long long)i, got[i], ref[i]);
                return 0;
            }
            continue;
        }
        double d = fabs((double)got[i] - ref[i]);
        double e = d / (tol.atol + tol.rtol * fabs((double)ref[i]));
        err2 += d * d;
        ref2 += (double)ref[i] * ref[i];
        if (e > worst) worst = e, wi = i;
    }
    double nmse = ref2 > 0 ? err2 / ref2 : err2;
    if (worst > 1.0) {
        snprintf(why, why_size, "[%lld] = %.9g, expected %.9g (|diff| %.3g > %.1e + %.1e·|ref|)",
                 (long long)wi, got[wi], ref[wi], fabs((double)got[wi] - ref[wi]), tol.atol,
                 tol.rtol);
        return 0;
    }
    if (tol.nmse_max > 0 && !(nmse <= tol.nmse_max)) {
        snprintf(why, why_size, "NMSE %.3g > %.1e", nmse, tol.nmse_max);
        return 0;
    }
    snprintf(why, why_size, "max err %.2f of tolerance, NMSE %.2g", worst, nmse);
    return 1;
}

#endif
