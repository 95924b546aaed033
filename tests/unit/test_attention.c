/*
 * test_attention.c — kernels/attention.h on the CPU.
 *
 * Attention: forward (out and lse) against a plain double reference that builds the full
 * masked score row and its softmax; backward of q, k, v against central finite differences
 * in double; causal and bidirectional, with and without key padding (including an empty
 * row), several (B, L, H, hd), three layouts (separate contiguous tensors, one packed qkv
 * buffer, (B, H, L, hd)); accumulation; bit-identical results for 1 and 2 threads; the same
 * values in two layouts give bit-identical outputs; invalid arguments.
 * RoPE: forward against a double reference (full and partial rotary, pos0, two bases), the
 * rotate-half convention on unit vectors, relative-position invariance of q·k, backward
 * against finite differences through a packed view.
 * Tolerances: out |diff| <= 1e-5 + 1e-5·|ref|, lse <= 1e-5 + 1e-6·|ref|, RoPE <= 1e-6 +
 * 1e-6·|ref|; gradients |g − fd| <= 1e-4·max(1, |fd|).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <omp.h>

#include "kernels/attention.h"
#include "tests/kernel_check.h"

enum { LAYOUT_SEPARATE, LAYOUT_PACKED, LAYOUT_BHLD };
static const char *layout_names[] = {"separate", "packed-qkv", "(B,H,L,hd)"};

/* One problem: q, k, v live in one storage buffer at offsets off[0..2] with views in s. */
typedef struct {
    AttentionShape s;
    int64_t lengths[8];
    int64_t n_storage, off[3];
    double *buf;  /* (n_storage) double copy of the float storage */
    double *wout; /* (B, L, H, hd) loss weights = dout */
} AttnCase;

static void attn_case_init(AttnCase *c, int64_t B, int64_t L, int H, int hd, int causal,
                           const int64_t *lengths, int layout, float scale) {
    memset(c, 0, sizeof *c);
    c->s = (AttentionShape){.B = B, .L = L, .H = H, .hd = hd, .causal = causal, .scale = scale};
    if (lengths) {
        memcpy(c->lengths, lengths, (size_t)B * sizeof(int64_t));
        c->s.lengths = c->lengths;
    }
    int64_t n = B * L * H * hd;
    c->n_storage = 3 * n;
    if (layout == LAYOUT_PACKED) {
        AttentionView view = attention_view_packed(L, 3, H, hd);
        c->s.q = c->s.k = c->s.v = view;
        c->off[0] = 0, c->off[1] = (int64_t)H * hd, c->off[2] = 2 * (int64_t)H * hd;
    } else {
        AttentionView view = attention_view_contiguous(L, H, hd);
        if (layout == LAYOUT_BHLD) view = (AttentionView){(int64_t)H * L * hd, hd, L * hd};
        c->s.q = c->s.k = c->s.v = view;
        c->off[0] = 0, c->off[1] = n, c->off[2] = 2 * n;
    }
}

/* element (b, l, h, e) of tensor t in a storage buffer */
static int64_t attn_index(const AttnCase *c, int t, int64_t b, int64_t l, int h, int e) {
    const AttentionView *v = t == 0 ? &c->s.q : t == 1 ? &c->s.k : &c->s.v;
    return c->off[t] + b * v->batch + l * v->pos + h * v->head + e;
}

/* plain double attention: full masked score row, softmax, weighted sum */
static void attn_ref(const AttnCase *c, const double *buf, double *out, double *lse) {
    const AttentionShape *s = &c->s;
    double scale = s->scale > 0 ? s->scale : 1.0 / sqrt((double)s->hd);
    double *score = kc_doubles(s->L);
    for (int64_t b = 0; b < s->B; b++)
        for (int h = 0; h < s->H; h++)
            for (int64_t i = 0; i < s->L; i++) {
                int64_t n = s->lengths ? s->lengths[b] : s->L;
                double *o = out + ((b * s->L + i) * s->H + h) * s->hd;
                if (i >= n) {
                    for (int e = 0; e < s->hd; e++) o[e] = 0.0;
                    if (lse) lse[(b * s->H + h) * s->L + i] = 0.0;
                    continue;
                }
                double mx = -INFINITY;
                for (int64_t j = 0; j < s->L; j++) {
                    int visible = j < n && (!s->causal || j <= i);
                    double dot = 0.0;
                    for (int e = 0; e < s->hd; e++)
                        dot += buf[attn_index(c, 0, b, i, h, e)] *
                               buf[attn_index(c, 1, b, j, h, e)];
                    score[j] = visible ? scale * dot : -INFINITY;
                    if (score[j] > mx) mx = score[j];
                }
                double sum = 0.0;
                for (int64_t j = 0; j < s->L; j++) sum += exp(score[j] - mx);
                for (int e = 0; e < s->hd; e++) {
                    double acc = 0.0;
                    for (int64_t j = 0; j < s->L; j++)
                        acc += exp(score[j] - mx) / sum * buf[attn_index(c, 2, b, j, h, e)];
                    o[e] = acc;
                }
                if (lse) lse[(b * s->H + h) * s->L + i] = mx + log(sum);
            }
    free(score);
}

static double attn_loss(void *ctx) {
    AttnCase *c = ctx;
    int64_t n = c->s.B * c->s.L * c->s.H * c->s.hd;
    double *out = kc_doubles(n);
    attn_ref(c, c->buf, out, NULL);
    double loss = kc_dot(c->wout, out, n);
    free(out);
    return loss;
}

/* Which implementation the checks run: 0 the reference (attention.c), 1 the blocked fast
 * path (attention_blocked.c). Every attention test runs on both. */
static int blocked;

static int attn_fwd(float *out, float *lse, const float *q, const float *k, const float *v,
                    const AttentionShape *s) {
    return blocked ? attention_fwd_cpu_blocked(out, lse, q, k, v, s)
                   : attention_fwd_cpu(out, lse, q, k, v, s);
}

static int attn_bwd(float *dq, float *dk, float *dv, const float *dout, const float *q,
                    const float *k, const float *v, const float *out, const float *lse,
                    const AttentionShape *s) {
    return blocked ? attention_bwd_cpu_blocked(dq, dk, dv, dout, q, k, v, out, lse, s)
                   : attention_bwd_cpu(dq, dk, dv, dout, q, k, v, out, lse, s);
}

static void run_fwd(const AttnCase *c, const float *st, float *out, float *lse) {
    assert_int_equal(attn_fwd(out, lse, st + c->off[0], st + c->off[1], st + c->off[2], &c->s),
                     0);
}

static void run_bwd(const AttnCase *c, float *dst, const float *dout, const float *st,
                    const float *out, const float *lse) {
    assert_int_equal(attn_bwd(dst + c->off[0], dst + c->off[1], dst + c->off[2], dout,
                              st + c->off[0], st + c->off[1], st + c->off[2], out, lse, &c->s),
                     0);
}

/* forward vs reference; with fd, the backward vs finite differences too */
static void check_case(int64_t B, int64_t L, int H, int hd, int causal, const int64_t *lengths,
                       int layout, float scale, int fd, uint64_t stream) {
    AttnCase c;
    attn_case_init(&c, B, L, H, hd, causal, lengths, layout, scale);
    KcRng rng = kc_rng(stream);
    int64_t n = B * L * H * hd;
    float *st = kc_rand_floats(&rng, c.n_storage, -1.5, 1.5);
    float *out = kc_floats(n), *lse = kc_floats(B * H * L);
    run_fwd(&c, st, out, lse);
    c.buf = kc_to_double(st, c.n_storage);
    double *ref = kc_doubles(n), *ref_lse = kc_doubles(B * H * L);
    attn_ref(&c, c.buf, ref, ref_lse);
    double worst = kc_check_close("out", out, ref, n, 1e-5, 1e-5);
    kc_check_close("lse", lse, ref_lse, B * H * L, 1e-5, 1e-6);
    double worst_fd = 0.0;
    if (fd) {
        float *dout = kc_rand_floats(&rng, n, -1, 1), *dst = kc_floats(c.n_storage);
        run_bwd(&c, dst, dout, st, out, lse);
        c.wout = kc_to_double(dout, n);
        worst_fd = kc_check_grad("qkv", c.buf, c.n_storage, attn_loss, &c, dst, 1e-4);
        free(dout), free(dst), free(c.wout);
    }
    printf("# %s B=%lld L=%lld H=%d hd=%d %s %s%s: out max |diff| %.2g",
           blocked ? "blocked" : "attention", (long long)B,
           (long long)L, H, hd, causal ? "causal" : "bidir", layout_names[layout],
           lengths ? " padded" : "", worst);
    if (fd) printf(", grad worst rel err vs FD %.2g", worst_fd);
    printf("\n");
    free(st), free(out), free(lse), free(ref), free(ref_lse), free(c.buf);
}

static void test_attention_fd(void **state) {
    (void)state;
    static const int64_t len_53[] = {5, 3}, len_24[] = {2, 4}, len_0_6[] = {0, 6, 1};
    check_case(2, 5, 2, 3, 1, len_53, LAYOUT_PACKED, 0, 1, 1);
    check_case(2, 5, 2, 3, 0, len_53, LAYOUT_PACKED, 0, 1, 2);
    check_case(2, 4, 1, 4, 0, len_24, LAYOUT_SEPARATE, 0, 1, 3);
    check_case(2, 4, 1, 4, 1, len_24, LAYOUT_SEPARATE, 0, 1, 4);
    check_case(1, 7, 3, 2, 1, NULL, LAYOUT_SEPARATE, 0, 1, 5);
    check_case(3, 3, 2, 5, 0, NULL, LAYOUT_PACKED, 0, 1, 6);
    check_case(3, 6, 2, 4, 1, len_0_6, LAYOUT_BHLD, 0, 1, 7);
    check_case(3, 6, 2, 4, 0, len_0_6, LAYOUT_BHLD, 0.3f, 1, 8);
    check_case(1, 1, 1, 1, 1, NULL, LAYOUT_SEPARATE, 0, 1, 9);
}

static void test_attention_forward_larger(void **state) {
    (void)state;
    static const int64_t len[] = {33, 17};
    check_case(2, 33, 2, 8, 1, len, LAYOUT_PACKED, 0, 0, 20);
    check_case(2, 33, 2, 8, 0, len, LAYOUT_PACKED, 0, 0, 21);
    check_case(1, 64, 1, 256, 1, NULL, LAYOUT_SEPARATE, 0, 0, 22); /* largest head dim */
}

/* padded rows: zero output, zero lse, no gradient; reruns and thread counts bit-identical;
 * a second backward doubles; packed and separate layouts agree bit for bit */
static void test_attention_properties(void **state) {
    (void)state;
    static const int64_t len[] = {40, 23};
    const int64_t B = 2, L = 40;
    const int H = 2, hd = 16;
    const int64_t n = B * L * H * hd;
    AttnCase c, cs;
    attn_case_init(&c, B, L, H, hd, 1, len, LAYOUT_PACKED, 0);
    attn_case_init(&cs, B, L, H, hd, 1, len, LAYOUT_SEPARATE, 0);
    KcRng rng = kc_rng(30);
    float *st = kc_rand_floats(&rng, c.n_storage, -2, 2), *dout = kc_rand_floats(&rng, n, -1, 1);
    float *out[2], *lse[2], *dst[2];
    int saved = omp_get_max_threads();
    for (int t = 0; t < 2; t++) {
        out[t] = kc_floats(n), lse[t] = kc_floats(B * H * L), dst[t] = kc_floats(c.n_storage);
        omp_set_num_threads(t + 1);
        run_fwd(&c, st, out[t], lse[t]);
        run_bwd(&c, dst[t], dout, st, out[t], lse[t]);
    }
    omp_set_num_threads(saved);
    kc_check_same("out 1 vs 2 threads", out[0], out[1], n);
    kc_check_same("lse 1 vs 2 threads", lse[0], lse[1], B * H * L);
    kc_check_same("dqkv 1 vs 2 threads", dst[0], dst[1], c.n_storage);

    /* padded positions of row 1 (l >= 23): out = 0, lse = 0, no gradient */
    for (int64_t l = 23; l < L; l++)
        for (int h = 0; h < H; h++) {
            kc_check_all("padded out", out[0] + ((1 * L + l) * H + h) * hd, hd, 0.0f);
            assert_true(lse[0][(1 * H + h) * L + l] == 0.0f);
            for (int t = 0; t < 3; t++)
                kc_check_all("padded grad", dst[0] + attn_index(&c, t, 1, l, h, 0), hd, 0.0f);
        }

    /* accumulation: each task adds once, so a second call gives exactly 2× */
    run_bwd(&c, dst[1], dout, st, out[0], lse[0]);
    for (int64_t i = 0; i < c.n_storage; i++) dst[0][i] *= 2.0f;
    kc_check_same("dqkv after 2 calls", dst[1], dst[0], c.n_storage);

    /* the same values in separate contiguous tensors give the same bits */
    float *sep = kc_floats(cs.n_storage), *out_s = kc_floats(n), *lse_s = kc_floats(B * H * L);
    for (int t = 0; t < 3; t++)
        for (int64_t b = 0; b < B; b++)
            for (int64_t l = 0; l < L; l++)
                for (int h = 0; h < H; h++)
                    memcpy(sep + attn_index(&cs, t, b, l, h, 0),
                           st + attn_index(&c, t, b, l, h, 0), (size_t)hd * sizeof(float));
    run_fwd(&cs, sep, out_s, lse_s);
    kc_check_same("out separate vs packed", out_s, out[0], n);
    kc_check_same("lse separate vs packed", lse_s, lse[0], B * H * L);

    /* gradients may be skipped */
    float *dq_only = kc_floats(c.n_storage);
    assert_int_equal(attn_bwd(dq_only, NULL, NULL, dout, st, st + c.off[1],
                                       st + c.off[2], out[0], lse[0], &c.s), 0);
    for (int64_t b = 0; b < B; b++)
        for (int64_t l = 0; l < L; l++)
            for (int h = 0; h < H; h++)
                for (int e = 0; e < hd; e++)
                    assert_true(dq_only[attn_index(&c, 0, b, l, h, e)] ==
                                dst[1][attn_index(&c, 0, b, l, h, e)] / 2.0f);
    for (int t = 0; t < 2; t++) free(out[t]), free(lse[t]), free(dst[t]);
    free(st), free(dout), free(sep), free(out_s), free(lse_s), free(dq_only);
}

// ----------------------------------------------------------------------------- RoPE

typedef struct {
    RopeShape s;
    double *x;    /* storage of the x view */
    double *wout; /* (B, L, H, hd) */
} RopeCase;

static void rope_ref(const RopeShape *s, const double *x, double *out) {
    int half = s->rot_dim / 2;
    for (int64_t b = 0; b < s->B; b++)
        for (int64_t l = 0; l < s->L; l++)
            for (int h = 0; h < s->H; h++) {
                const double *xr = x + b * s->x.batch + l * s->x.pos + h * s->x.head;
                double *o = out + ((b * s->L + l) * s->H + h) * s->hd;
                for (int i = 0; i < half; i++) {
                    double theta = (double)(s->pos0 + l) * pow(s->base, -2.0 * i / s->rot_dim);
                    o[i] = xr[i] * cos(theta) - xr[i + half] * sin(theta);
                    o[i + half] = xr[i + half] * cos(theta) + xr[i] * sin(theta);
                }
                for (int e = s->rot_dim; e < s->hd; e++) o[e] = xr[e];
            }
}

static double rope_loss(void *ctx) {
    RopeCase *c = ctx;
    int64_t n = c->s.B * c->s.L * c->s.H * c->s.hd;
    double *out = kc_doubles(n);
    rope_ref(&c->s, c->x, out);
    double loss = kc_dot(c->wout, out, n);
    free(out);
    return loss;
}

/* x is the k part of a packed (B, L, 3, H, hd) buffer when packed, else contiguous */
static void check_rope(int64_t B, int64_t L, int H, int hd, int rot_dim, int64_t pos0,
                       float base, int packed, uint64_t stream) {
    KcRng rng = kc_rng(stream);
    AttentionView view = packed ? attention_view_packed(L, 3, H, hd)
                                : attention_view_contiguous(L, H, hd);
    RopeCase c = {{B, L, H, hd, rot_dim, base, pos0, view, DTYPE_F32, NULL}, NULL, NULL};
    int64_t n = B * L * H * hd, n_storage = packed ? 3 * n : n;
    int64_t off = packed ? (int64_t)H * hd : 0;
    float *st = kc_rand_floats(&rng, n_storage, -1, 1), *out = kc_floats(n);
    assert_int_equal(attention_rope_fwd_cpu(out, st + off, &c.s), 0);
    double *st_d = kc_to_double(st, n_storage), *ref = kc_doubles(n);
    c.x = st_d + off;
    rope_ref(&c.s, c.x, ref);
    double worst = kc_check_close("rope out", out, ref, n, 1e-6, 1e-6);

    float *dout = kc_rand_floats(&rng, n, -1, 1), *dst = kc_floats(n_storage);
    assert_int_equal(attention_rope_bwd_cpu(dst + off, dout, &c.s), 0);
    c.wout = kc_to_double(dout, n);
    double worst_fd = kc_check_grad("x", st_d, n_storage, rope_loss, &c, dst, 1e-4);
    printf("# rope B=%lld L=%lld H=%d hd=%d rot=%d pos0=%lld base=%g%s: max |diff| %.2g, grad "
           "worst rel err vs FD %.2g\n", (long long)B, (long long)L, H, hd, rot_dim,
           (long long)pos0, base, packed ? " packed" : "", worst, worst_fd);
    free(st), free(out), free(st_d), free(ref), free(dout), free(dst), free(c.wout);
}

static void test_rope(void **state) {
    (void)state;
    check_rope(2, 5, 3, 8, 8, 0, 10000.0f, 0, 40);
    check_rope(2, 4, 2, 6, 4, 7, 10000.0f, 1, 41);  /* partial rotary, offset, packed view */
    check_rope(1, 9, 1, 10, 10, 1000, 500000.0f, 1, 42);

    /* rotate-half convention: dim i pairs with i + hd/2, θ_i = p·base^(−2i/hd) */
    RopeShape s = {1, 2, 1, 4, 4, 10000.0f, 0, attention_view_contiguous(2, 1, 4), DTYPE_F32, NULL};
    float x[8] = {0, 0, 0, 0, 1, 0, 0, 0}, out[8];
    assert_int_equal(attention_rope_fwd_cpu(out, x, &s), 0);
    kc_check_all("position 0 is the identity", out, 4, 0.0f);
    double want1[4] = {cos(1.0), 0, sin(1.0), 0};
    kc_check_close("rope e0 at p=1", out + 4, want1, 4, 1e-7, 0);
    float y[8] = {0, 0, 0, 0, 0, 1, 0, 0};
    assert_int_equal(attention_rope_fwd_cpu(out, y, &s), 0);
    double want2[4] = {0, cos(0.01), 0, sin(0.01)};
    kc_check_close("rope e1 at p=1", out + 4, want2, 4, 1e-7, 0);

    /* relative positions: RoPE(q, p)·RoPE(k, p') depends on p − p' only */
    KcRng rng = kc_rng(43);
    const int hd = 16;
    float *q = kc_rand_floats(&rng, 4 * hd, -1, 1);
    float *qr = kc_floats(4 * hd), *qr2 = kc_floats(4 * hd);
    RopeShape s2 = {1, 4, 1, hd, hd, 10000.0f, 0, attention_view_contiguous(4, 1, hd),
                    DTYPE_F32, NULL};
    assert_int_equal(attention_rope_fwd_cpu(qr, q, &s2), 0);
    s2.pos0 = 37;
    assert_int_equal(attention_rope_fwd_cpu(qr2, q, &s2), 0);
    double d1 = 0, d2 = 0;
    for (int e = 0; e < hd; e++) {
        d1 += qr[3 * hd + e] * qr[1 * hd + e];
        d2 += qr2[3 * hd + e] * qr2[1 * hd + e];
    }
    assert_true(fabs(d1 - d2) < 1e-5);
    free(q), free(qr), free(qr2);
}

static void test_invalid(void **state) {
    (void)state;
    float buf[512] = {0}, o[512], l[64];
    int64_t lens[2] = {3, 5};
    AttentionShape s = {.B = 2, .L = 4, .H = 2, .hd = 4, .q = attention_view_contiguous(4, 2, 4)};
    s.k = s.v = s.q;
    assert_int_equal(attn_fwd(o, l, buf, buf, buf, &s), 0);
    s.hd = 0;
    assert_int_equal(attn_fwd(o, l, buf, buf, buf, &s), LS_ERR_USAGE);
    assert_non_null(strstr(ls_error_message(), "hd=0"));
    s.hd = ATTENTION_MAX_HEAD_DIM + 1;
    assert_int_equal(attn_fwd(o, l, buf, buf, buf, &s), LS_ERR_USAGE);
    s.hd = 4;
    s.lengths = lens;
    assert_int_equal(attn_fwd(o, l, buf, buf, buf, &s), LS_ERR_RANGE);
    assert_non_null(strstr(ls_error_message(), "lengths[1]=5"));
    s.lengths = NULL;
    s.k.head = 0; /* broadcasting a head: overlapping view */
    assert_int_equal(attn_bwd(o, o, o, buf, buf, buf, buf, buf, l, &s), LS_ERR_USAGE);
    assert_non_null(strstr(ls_error_message(), "view k"));
    s.k = s.q;
    s.k.pos = 4; /* positions overlap heads */
    assert_int_equal(attn_fwd(o, l, buf, buf, buf, &s), LS_ERR_USAGE);
    s.k = s.q;
    s.scale = -1.0f;
    assert_int_equal(attn_fwd(o, l, buf, buf, buf, &s), LS_ERR_USAGE);
    s.scale = 0.0f;
    s.dtype = DTYPE_BF16; /* the CPU spec is fp32 only: refused, not misread */
    assert_int_equal(attention_fwd_cpu(o, l, buf, buf, buf, &s), LS_ERR_UNSUPPORTED);
    assert_non_null(strstr(ls_error_message(), "bf16"));
    s.dtype = (DType)7;
    assert_int_equal(attention_fwd_cpu(o, l, buf, buf, buf, &s), LS_ERR_USAGE);
    s.dtype = DTYPE_F32;
    assert_int_equal(attn_fwd(o, l, NULL, buf, buf, &s), LS_ERR_USAGE);
    assert_int_equal(attn_bwd(o, o, o, buf, buf, buf, buf, buf, NULL, &s), LS_ERR_USAGE);
    assert_int_equal(attn_fwd(o, l, buf, buf, buf, NULL), LS_ERR_USAGE);
    s.B = 0; /* empty batch: nothing to do */
    assert_int_equal(attn_fwd(o, l, buf, buf, buf, &s), 0);

    RopeShape r = {1, 4, 2, 4, 4, 10000.0f, 0, attention_view_contiguous(4, 2, 4), DTYPE_F32,
                   NULL};
    assert_int_equal(attention_rope_fwd_cpu(o, buf, &r), 0);
    r.rot_dim = 3;
    assert_int_equal(attention_rope_fwd_cpu(o, buf, &r), LS_ERR_USAGE);
    assert_non_null(strstr(ls_error_message(), "rot_dim=3"));
    r.rot_dim = 6;
    assert_int_equal(attention_rope_fwd_cpu(o, buf, &r), LS_ERR_USAGE);
    r.rot_dim = 4, r.base = 0.0f;
    assert_int_equal(attention_rope_bwd_cpu(o, buf, &r), LS_ERR_USAGE);
    r.base = 10000.0f, r.pos0 = -1;
    assert_int_equal(attention_rope_fwd_cpu(o, buf, &r), LS_ERR_USAGE);
    r.pos0 = 0;
    assert_int_equal(attention_rope_bwd_cpu(NULL, buf, &r), LS_ERR_USAGE);
    r.dtype = DTYPE_BF16;
    assert_int_equal(attention_rope_fwd_cpu(o, buf, &r), LS_ERR_UNSUPPORTED);
}

/* The blocked path against the reference where it differs in structure: several query and
 * key blocks (64 × 256), rows ending inside a block, an empty row, causal and not; forward
 * against the double reference, gradients against the reference implementation's. */
static void test_blocked_vs_reference(void **state) {
    (void)state;
    static const int64_t len_a[] = {600, 317, 0}, len_b[] = {257, 64};
    const struct {
        int64_t B, L;
        int H, hd, causal, layout;
        const int64_t *lengths;
    } cases[] = {
        {3, 600, 2, 8, 1, LAYOUT_PACKED, len_a}, {3, 600, 2, 8, 0, LAYOUT_PACKED, len_a},
        {2, 257, 1, 16, 1, LAYOUT_BHLD, len_b},  {2, 257, 3, 4, 0, LAYOUT_SEPARATE, len_b},
        {1, 65, 2, 32, 1, LAYOUT_SEPARATE, NULL},
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        AttnCase c;
        attn_case_init(&c, cases[t].B, cases[t].L, cases[t].H, cases[t].hd, cases[t].causal,
                       cases[t].lengths, cases[t].layout, 0);
        const int64_t B = c.s.B, L = c.s.L, n = B * L * c.s.H * c.s.hd;
        KcRng rng = kc_rng(200 + t);
        float *st = kc_rand_floats(&rng, c.n_storage, -1.5, 1.5);
        float *dout = kc_rand_floats(&rng, n, -1, 1);
        float *out[2], *lse[2], *dst[2];
        for (int impl = 0; impl < 2; impl++) {
            blocked = impl;
            out[impl] = kc_floats(n), lse[impl] = kc_floats(B * c.s.H * L);
            dst[impl] = kc_floats(c.n_storage);
            run_fwd(&c, st, out[impl], lse[impl]);
            run_bwd(&c, dst[impl], dout, st, out[impl], lse[impl]);
        }
        c.buf = kc_to_double(st, c.n_storage);
        double *ref = kc_doubles(n), *ref_lse = kc_doubles(B * c.s.H * L);
        attn_ref(&c, c.buf, ref, ref_lse);
        double w_out = kc_check_close("blocked out", out[1], ref, n, 1e-5, 1e-5);
        kc_check_close("blocked lse", lse[1], ref_lse, B * c.s.H * L, 1e-5, 1e-6);
        double *gref = kc_to_double(dst[0], c.n_storage);
        double w_grad = kc_check_close("blocked dqkv vs reference", dst[1], gref, c.n_storage,
                                       1e-5, 1e-4);
        printf("# blocked vs reference B=%lld L=%lld H=%d hd=%d %s: out %.2g, grads %.2g\n",
               (long long)B, (long long)L, c.s.H, c.s.hd, c.s.causal ? "causal" : "bidir", w_out,
               w_grad);
        for (int impl = 0; impl < 2; impl++) free(out[impl]), free(lse[impl]), free(dst[impl]);
        free(st), free(dout), free(c.buf), free(ref), free(ref_lse), free(gref);
    }
    blocked = 0;
}

#define BOTH(fn)                                                                                   \
    static void fn##_blocked(void **state) {                                                       \
        blocked = 1;                                                                               \
        fn(state);                                                                                 \
        blocked = 0;                                                                               \
    }
BOTH(test_attention_fd)
BOTH(test_attention_forward_larger)
BOTH(test_attention_properties)
BOTH(test_invalid)

int main(void) {
    kc_seed("test_attention");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attention_fd),
        cmocka_unit_test(test_attention_forward_larger),
        cmocka_unit_test(test_attention_properties),
        cmocka_unit_test(test_rope),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_attention_fd_blocked),
        cmocka_unit_test(test_attention_forward_larger_blocked),
        cmocka_unit_test(test_attention_properties_blocked),
        cmocka_unit_test(test_invalid_blocked),
        cmocka_unit_test(test_blocked_vs_reference),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests_name("attention", tests, NULL, NULL);
}
