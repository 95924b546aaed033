/*
 * attention.c — backend-independent parts of attention.h: the argument validation shared by
 * the CPU spec (kernels/cpu/attention.c) and the CUDA launchers (kernels/cuda/attention.cu),
 * so both backends refuse exactly the same calls with the same messages. Tested through
 * tests/unit/test_attention.c (invalid-argument cases) and tests/gpu/parity_attention.c.
 */
#include "kernels/attention.h"

/* A view must not overlap itself: sorting its dims (extent > 1) by stride, each stride must be
 * at least the span of the dims inside it. This accepts any permutation of (B, L, H, hd) with
 * gaps (packed qkv, (B, H, L, hd), ...) and rejects broadcasting (stride 0) and overlap. */
static int view_check(const char *fn, const char *name, AttentionView view, int64_t B,
                      int64_t L, int H, int hd) {
    int64_t stride[4] = {1, view.head, view.pos, view.batch};
    int64_t extent[4] = {hd, H, L, B};
    int n = 0;
    int64_t st[4], ex[4];
    for (int d = 0; d < 4; d++) {
        if (extent[d] <= 1) continue;
        int at = n++; /* insertion sort by stride */
        while (at > 0 && st[at - 1] > stride[d]) {
            st[at] = st[at - 1];
            ex[at] = ex[at - 1];
            at--;
        }
        st[at] = stride[d];
        ex[at] = extent[d];
    }
    for (int d = 0; d < n; d++)
        if (st[d] < 1 || (d > 0 && st[d] / ex[d - 1] < st[d - 1]))
            return ls_error(LS_ERR_USAGE, "%s: view %s strides (batch %lld, pos %lld, head %lld) "
                            "overlap for B=%lld L=%lld H=%d hd=%d", fn, name,
                            (long long)view.batch, (long long)view.pos, (long long)view.head,
                            (long long)B, (long long)L, H, hd);
    return 0;
}

static int dims_check(const char *fn, int64_t B, int64_t L, int H, int hd) {
    if (B < 0 || L < 0 || H < 1 || hd < 1 || hd > ATTENTION_MAX_HEAD_DIM)
        return ls_error(LS_ERR_USAGE, "%s: bad shape B=%lld L=%lld H=%d hd=%d (need B, L >= 0, "
                        "H >= 1, 1 <= hd <= %d)", fn, (long long)B, (long long)L, H, hd,
                        ATTENTION_MAX_HEAD_DIM);
    return 0;
}

static int dtype_check(const char *fn, DType t) {
    if (t != DTYPE_F32 && t != DTYPE_BF16)
        return ls_error(LS_ERR_USAGE, "%s: unknown dtype %d", fn, (int)t);
    return 0;
}

int attention_check(const char *fn, const AttentionShape *s, int lengths_on_host) {
    if (!s) return ls_error(LS_ERR_USAGE, "%s: shape must not be NULL", fn);
    int status = dims_check(fn, s->B, s->L, s->H, s->hd);
    if (status || (status = dtype_check(fn, s->dtype))) return status;
    if (!(s->scale >= 0.0f))
        return ls_error(LS_ERR_USAGE, "%s: scale=%g must be >= 0 (0: 1/sqrt(hd))", fn, s->scale);
    if (s->B == 0 || s->L == 0) return 0;
    if ((status = view_check(fn, "q", s->q, s->B, s->L, s->H, s->hd)) ||
        (status = view_check(fn, "k", s->k, s->B, s->L, s->H, s->hd)) ||
        (status = view_check(fn, "v", s->v, s->B, s->L, s->H, s->hd)))
        return status;
    if (s->lengths && lengths_on_host)
        for (int64_t b = 0; b < s->B; b++)
            if (s->lengths[b] < 0 || s->lengths[b] > s->L)
                return ls_error(LS_ERR_RANGE, "%s: lengths[%lld]=%lld outside [0, L=%lld]", fn,
                                (long long)b, (long long)s->lengths[b], (long long)s->L);
    return 0;
}

int attention_rope_check(const char *fn, const RopeShape *s) {
    if (!s) return ls_error(LS_ERR_USAGE, "%s: shape must not be NULL", fn);
    int status = dims_check(fn, s->B, s->L, s->H, s->hd);
    if (status || (status = dtype_check(fn, s->dtype))) return status;
    if (s->rot_dim < 2 || s->rot_dim > s->hd || s->rot_dim % 2)
        return ls_error(LS_ERR_USAGE, "%s: rot_dim=%d must be even and in [2, hd=%d]", fn,
                        s->rot_dim, s->hd);
    if (!(s->base > 0.0f) || s->pos0 < 0)
        return ls_error(LS_ERR_USAGE, "%s: base=%g must be > 0 and pos0=%lld >= 0", fn, s->base,
                        (long long)s->pos0);
    if (s->B == 0 || s->L == 0) return 0;
    return view_check(fn, "x", s->x, s->B, s->L, s->H, s->hd);
}
