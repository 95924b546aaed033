/*
 * parity_attention_kv.c — the key/value-cache attention (kernels/attention_kv.h) on the GPU
 * against the CPU specification: a generation step (one query per row after a long cache), a
 * segment after a cache, a sliding window with the cache trimmed (k_pos0 > 0), queries that see
 * no key, head dimensions 16, 32, 48, 64, 128, 256, q read from a packed qkv buffer and k, v
 * from a cache with spare capacity (row stride > Lk), fp32 and bf16 storage; plus determinism
 * (two calls, the same bytes).
 *
 * Tolerance as parity_attention.c: with tol = 1e-5 (fp32) or 2e-2 (bf16, on bf16-rounded
 * inputs), |got − ref| <= tol·max|ref| + tol·|ref| elementwise and NMSE <= tol².
 */
#include "kernels/attention_kv.h"
#include "tests/gpu/parity_ops.h"

typedef struct {
    const char *what;
    int64_t B, Lq, Lk, cap; // cap: the cache's positions per row (>= Lk)
    int H, hd;
    int64_t q_pos0, k_pos0, window;
    int packed_q; // q from a (B, Lq, 3, H, hd) qkv buffer
} KvCase;

static void kv_case(const KvCase *c, DType t, uint64_t salt) {
    char po_case[256], what[300];
    snprintf(po_case, sizeof po_case,
             "attention_kv %s B=%lld Lq=%lld Lk=%lld H=%d hd=%d q_pos0=%lld k_pos0=%lld "
             "window=%lld%s",
             c->what, (long long)c->B, (long long)c->Lq, (long long)c->Lk, c->H, c->hd,
             (long long)c->q_pos0, (long long)c->k_pos0, (long long)c->window,
             c->packed_q ? " packed q" : "");
    GcRng r = gc_rng(salt);
    const int64_t D = (int64_t)c->H * c->hd;
    const int64_t nq = c->B * c->Lq * D * (c->packed_q ? 3 : 1), nk = c->B * c->cap * D;
    const int64_t no = c->B * c->Lq * D;
    float *q = po_rand(&r, nq, -1, 1, t), *k = po_rand(&r, nk, -1, 1, t);
    float *v = po_rand(&r, nk, -1, 1, t), *ref = gc_host(no);
    PoBuf gq = {0}, gk = {0}, gv = {0}, go = {0}, go2 = {0};
    AttentionKvShape s = {.B = c->B, .Lq = c->Lq, .Lk = c->Lk, .H = c->H, .hd = c->hd,
                          .q_pos0 = c->q_pos0, .k_pos0 = c->k_pos0, .window = c->window};
    s.q = c->packed_q ? attention_view_packed(c->Lq, 3, c->H, c->hd)
                      : attention_view_contiguous(c->Lq, c->H, c->hd);
    s.k = s.v = attention_view_contiguous(c->cap, c->H, c->hd);
    if (!q || !k || !v || !ref) {
        gc_report(0, "%s: out of host memory", po_case);
        goto done;
    }
    PO_TRY(attention_kv_fwd_cpu(ref, q, k, v, &s)); // fp32 on the (rounded) inputs
    PO_TRY(po_in(&gq, q, nq, t));
    PO_TRY(po_in(&gk, k, nk, t));
    PO_TRY(po_in(&gv, v, nk, t));
    PO_TRY(po_out(&go, no, t));
    PO_TRY(po_out(&go2, no, t));
    s.dtype = t;
    PO_TRY(attention_kv_fwd_cuda(po_ptr(&go), po_ptr(&gq), po_ptr(&gk), po_ptr(&gv), &s));
    PO_TRY(attention_kv_fwd_cuda(po_ptr(&go2), po_ptr(&gq), po_ptr(&gk), po_ptr(&gv), &s));
    PO_TRY(device_cuda_sync());
    {
        const double tol = t == DTYPE_BF16 ? 2e-2 : 1e-5;
        double mx = 0;
        for (int64_t i = 0; i < no; i++) mx = fabs(ref[i]) > mx ? fabs(ref[i]) : mx;
        GcTol g = {tol * (mx > 0 ? mx : 1.0), tol, tol * tol};
        snprintf(what, sizeof what, "%s: out", po_case);
        po_check(what, &go, ref, g);
        snprintf(what, sizeof what, "%s: deterministic", po_case);
        po_same(what, &go, &go2);
    }
done:
    po_free(&gq), po_free(&gk), po_free(&gv), po_free(&go), po_free(&go2);
    free(q), free(k), free(v), free(ref);
}

// Usage errors are the CPU's (the shared check), and bf16 is the GPU's only.
static void kv_errors(void) {
    float dummy = 0;
    AttentionKvShape s = {.B = 1, .Lq = 1, .Lk = 1, .H = 1, .hd = 0};
    s.q = s.k = s.v = attention_view_contiguous(1, 1, 1);
    int st = attention_kv_fwd_cuda(&dummy, &dummy, &dummy, &dummy, &s);
    gc_report(st == LS_ERR_USAGE && strstr(ls_error_message(), "hd=0"),
              "attention_kv cuda: hd 0 is a usage error naming it: %s", ls_error_message());
    s.hd = 1, s.dtype = DTYPE_BF16;
    st = attention_kv_fwd_cpu(&dummy, &dummy, &dummy, &dummy, &s);
    gc_report(st == LS_ERR_USAGE && strstr(ls_error_message(), "bf16"),
              "attention_kv cpu: bf16 storage is refused (the CPU computes in fp32): %s",
              ls_error_message());
}

void gpu_parity_attention_kv(void) {
    static const KvCase cases[] = {
        {"generation step", 2, 1, 300, 300, 4, 32, 299, 0, 0, 0},
        {"generation step, long cache", 1, 1, 5000, 6000, 2, 64, 4999, 0, 0, 0},
        {"segment after a cache", 2, 37, 87, 100, 2, 64, 50, 0, 0, 1},
        {"first segment", 3, 40, 40, 64, 2, 16, 0, 0, 0, 1},
        {"sliding window, trimmed cache", 1, 20, 70, 80, 2, 48, 100, 50, 33, 0},
        {"window of 1", 2, 5, 9, 9, 1, 32, 4, 0, 1, 0},
        {"queries before every key", 2, 6, 10, 10, 2, 32, 0, 5, 0, 0},
        {"hd 128", 2, 9, 200, 256, 2, 128, 191, 0, 0, 1},
        {"hd 256", 1, 3, 129, 129, 2, 256, 126, 0, 0, 0},
        {"many heads", 2, 17, 33, 33, 8, 32, 16, 0, 0, 1},
    };
    uint64_t salt = 1300;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        kv_case(&cases[i], DTYPE_F32, salt++);
        kv_case(&cases[i], DTYPE_BF16, salt++);
    }
    kv_errors();
}
