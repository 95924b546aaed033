/*
 * parity_ops.h — shared helpers of the op-family parity suites (tests/gpu/parity_{conv,matmul,
 * norm,act,embedding,loss,pool,optim}.c), on top of gpu_check.h: device buffers that know their
 * length and storage type, one-line checks that download, compare with the CPU reference,
 * verify the guard bytes and report one TAP line, a bit-identity check for determinism, and a
 * per-element bound for long reductions (GEMM: K·eps, see parity_matmul.c).
 *
 * Each case declares its PoBuf zeroed, jumps to `done:` through PO_TRY on any error (reported
 * as a failed TAP line with the message) and frees everything there.
 *
 * LS_GPU_SHORT=1 (the compute-sanitizer run) skips cases above PO_SHORT_MAX elements.
 */
#ifndef LS_TESTS_GPU_PARITY_OPS_H
#define LS_TESTS_GPU_PARITY_OPS_H

#include "tests/gpu/gpu_check.h"

#define PO_SHORT_MAX 600000 // elements: larger cases are skipped when LS_GPU_SHORT=1

// Tolerances of issue 11 (fp32: 1e-5 relative; bf16: 2e-2 relative on bf16-rounded inputs).
static const GcTol po_tol_f32 = {1e-6, 1e-5, 0};
static const GcTol po_tol_bf16 = {1e-5, 2e-2, 0};

static inline GcTol po_tol(DType t) { return t == DTYPE_BF16 ? po_tol_bf16 : po_tol_f32; }

/** 1 when the case with @p n elements runs (always, unless LS_GPU_SHORT=1 and n is large). */
static inline int po_size_ok(int64_t n) {
    const char *e = getenv("LS_GPU_SHORT");
    return !(e && e[0] == '1' && n > PO_SHORT_MAX);
}

typedef struct {
    GcBuf b;
    int64_t n; // elements
    DType t;   // storage
} PoBuf;

/** An empty PoBuf, for arrays: PoBuf two[2] = {PO_NONE, PO_NONE}. */
#define PO_NONE {{0}, 0, DTYPE_F32}

#define PO_TRY(expr)                                                                           \
    do {                                                                                       \
        int po_rc_ = (expr);                                                                   \
        if (po_rc_) {                                                                          \
            gc_report(0, "%s: %s failed: %s", po_case, #expr, ls_error_message());            \
            goto done;                                                                         \
        }                                                                                      \
    } while (0)

/** Poisoned output buffer of n elements of type t. */
static inline int po_out(PoBuf *p, int64_t n, DType t) {
    p->n = n, p->t = t;
    return gc_buf_alloc(&p->b, (size_t)(n > 0 ? n : 1) * dtype_size(t));
}

/** Buffer holding h[0..n) as type t (an input, or the initial value of an accumulated output). */
static inline int po_in(PoBuf *p, const float *h, int64_t n, DType t) {
    int rc = po_out(p, n, t);
    return rc ? rc : gc_buf_upload(&p->b, h, n, t);
}

/** Raw bytes (ids, lengths, targets). */
static inline int po_raw(PoBuf *p, const void *h, size_t bytes) {
    p->n = (int64_t)bytes, p->t = DTYPE_F32;
    int rc = gc_buf_alloc(&p->b, bytes ? bytes : 1);
    return rc ? rc : device_cuda_copy(p->b.ptr, h, bytes, DEVICE_COPY_H2D);
}

static inline void po_free(PoBuf *p) {
    if (p->b.base) gc_buf_free(&p->b);
    memset(p, 0, sizeof *p);
}

static inline float *po_ptr(PoBuf *p) { return (float *)p->b.ptr; }

/** Download into a fresh host array (caller frees), NULL on failure (message set). */
static inline float *po_get(const PoBuf *p) {
    float *h = gc_host(p->n);
    if (!h) return NULL;
    if (gc_buf_download(h, &p->b, p->n, p->t)) {
        free(h);
        return NULL;
    }
    return h;
}

/** Compare with ref within tol (gc_close), check the guards, report. Returns 1 when ok. */
static inline int po_check(const char *what, const PoBuf *p, const float *ref, GcTol tol) {
    char why[256] = "", guard[128] = "";
    float *got = po_get(p);
    if (!got) {
        gc_report(0, "%s: download failed: %s", what, ls_error_message());
        return 0;
    }
    int ok = gc_close(got, ref, p->n, tol, why, sizeof why);
    int gok = gc_buf_guards_ok(&p->b, guard, sizeof guard) == 0;
    gc_report(ok && gok, "%s (%s, n=%lld): %s%s%s", what, dtype_name(p->t), (long long)p->n, why,
              gok ? "" : "; ", guard);
    free(got);
    return ok && gok;
}

/**
 * Compare with ref element by element against a bound: |got − ref| <= bound[i] + rtol·|ref[i]|
 * and NMSE <= nmse_max; NaN only where ref has NaN. Used where the error grows with the
 * length of a reduction (GEMM, long scatter-adds).
 */
static inline int po_check_bound(const char *what, const PoBuf *p, const float *ref,
                                 const double *bound, double rtol, double nmse_max,
                                 const char *rule) {
    char guard[128] = "";
    float *got = po_get(p);
    if (!got) {
        gc_report(0, "%s: download failed: %s", what, ls_error_message());
        return 0;
    }
    double worst = 0, err2 = 0, ref2 = 0;
    int64_t wi = -1;
    int ok = 1;
    for (int64_t i = 0; i < p->n; i++) {
        if (isnan(ref[i]) || isnan(got[i])) {
            if (!(isnan(ref[i]) && isnan(got[i]))) ok = 0, wi = i, worst = INFINITY;
            continue;
        }
        double d = fabs((double)got[i] - ref[i]);
        double e = d / (bound[i] + rtol * fabs((double)ref[i]) + 1e-300);
        err2 += d * d, ref2 += (double)ref[i] * ref[i];
        if (!(e <= worst)) worst = e, wi = i;
    }
    double nmse = ref2 > 0 ? err2 / ref2 : err2;
    if (!(worst <= 1.0) || !(nmse <= nmse_max)) ok = 0;
    int gok = gc_buf_guards_ok(&p->b, guard, sizeof guard) == 0;
    gc_report(ok && gok,
              "%s (%s, n=%lld): max err %.3g of the bound (%s) at [%lld] (%.9g vs %.9g), NMSE "
              "%.2g (<= %.0e)%s%s",
              what, dtype_name(p->t), (long long)p->n, worst, rule, (long long)wi,
              wi >= 0 ? got[wi] : 0.0, wi >= 0 ? ref[wi] : 0.0, nmse, nmse_max,
              gok ? "" : "; ", guard);
    free(got);
    return ok && gok;
}

/** Bit-identical to ref (after conversion from the storage type). */
static inline int po_check_exact(const char *what, const PoBuf *p, const float *ref) {
    char guard[128] = "";
    float *got = po_get(p);
    if (!got) {
        gc_report(0, "%s: download failed: %s", what, ls_error_message());
        return 0;
    }
    int64_t bad = -1;
    for (int64_t i = 0; i < p->n && bad < 0; i++)
        if (memcmp(&got[i], &ref[i], 4) != 0) bad = i;
    int gok = gc_buf_guards_ok(&p->b, guard, sizeof guard) == 0;
    if (bad >= 0)
        gc_report(0, "%s (%s, n=%lld): [%lld] = %.9g, expected bit-identical %.9g", what,
                  dtype_name(p->t), (long long)p->n, (long long)bad, got[bad], ref[bad]);
    else
        gc_report(gok, "%s (%s, n=%lld): bit-identical to the CPU%s%s", what, dtype_name(p->t),
                  (long long)p->n, gok ? "" : "; ", guard);
    free(got);
    return bad < 0 && gok;
}

/** Two device results of the same call are the same bytes (determinism). */
static inline int po_same(const char *what, const PoBuf *a, const PoBuf *b) {
    size_t bytes = (size_t)a->n * dtype_size(a->t);
    unsigned char *ha = (unsigned char *)malloc(bytes ? bytes : 1);
    unsigned char *hb = (unsigned char *)malloc(bytes ? bytes : 1);
    int ok = ha && hb && !device_cuda_copy(ha, a->b.ptr, bytes, DEVICE_COPY_D2H) &&
             !device_cuda_copy(hb, b->b.ptr, bytes, DEVICE_COPY_D2H);
    size_t bad = 0;
    if (ok)
        for (bad = 0; bad < bytes && ha[bad] == hb[bad]; bad++) {}
    gc_report(ok && bad == bytes, "%s: two runs give the same %zu bytes%s", what, bytes,
              ok && bad != bytes ? " (they differ)" : "");
    free(ha), free(hb);
    return ok && bad == bytes;
}

/** Round host values to what storage type t holds (in place). */
static inline void po_round(float *x, int64_t n, DType t) {
    if (t == DTYPE_BF16)
        for (int64_t i = 0; i < n; i++) x[i] = bf16_round(x[i]);
}

/** n uniform values in [lo, hi), already rounded to t. Caller frees. */
static inline float *po_rand(GcRng *r, int64_t n, float lo, float hi, DType t) {
    float *x = gc_host(n);
    if (x) gc_fill(r, x, n, lo, hi, t == DTYPE_BF16);
    return x;
}

static inline float *po_copy(const float *x, int64_t n) {
    float *y = gc_host(n);
    if (y && n > 0) memcpy(y, x, (size_t)n * 4);
    return y;
}

#endif
