/*
 * kops_run.c — runs one CPU reference op family on raw little-endian inputs in a directory
 * and writes its outputs there, for tests/py/test_torch_ops.py (the PyTorch cross-check).
 *
 *   kops_run <op> <dir> <int/float parameters...>
 *
 * Inputs and outputs are headerless files <name>.f32 / .i32 / .i64 / .f64 whose sizes follow
 * from the parameters; the Python side writes the inputs and reads the outputs. Gradients
 * are written after one backward into zeroed buffers (dout given as an input).
 * A test helper, not library code: it prints to stderr and exits 1 on any failure.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "kernels/act.h"
#include "kernels/attention.h"
#include "kernels/embedding.h"
#include "kernels/loss.h"
#include "kernels/matmul.h"
#include "kernels/norm.h"
#include "kernels/optim.h"
#include "kernels/pool.h"

static const char *dir;

static void die(const char *what) {
    fprintf(stderr, "kops_run: %s\n", what);
    exit(1);
}

static void check(int status) {
    if (status) die(ls_error_message());
}

static void *load(const char *name, size_t bytes) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "rb");
    if (!fp) die(path);
    void *p = calloc(bytes ? bytes : 1, 1);
    if (!p || fread(p, 1, bytes, fp) != bytes || fgetc(fp) != EOF) die(path);
    fclose(fp);
    return p;
}

static void save(const char *name, const void *p, size_t bytes) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(p, 1, bytes, fp) != bytes || fclose(fp)) die(path);
}

static float *zeros(int64_t n) {
    float *p = calloc((size_t)(n ? n : 1), sizeof(float));
    if (!p) die("out of memory");
    return p;
}

#define F32(n) ((size_t)(n) * sizeof(float))

int main(int argc, char **argv) {
    if (argc < 3) die("usage: kops_run <op> <dir> <parameters...>");
    const char *op = argv[1];
    dir = argv[2];
    char **a = argv + 3;
    int na = argc - 3;
#define NEED(k) if (na < (k)) die("too few parameters")

    if (!strcmp(op, "linear")) { /* M K N */
        NEED(3);
        int64_t M = atoll(a[0]), K = atoll(a[1]), N = atoll(a[2]);
        float *x = load("x.f32", F32(M * K)), *w = load("w.f32", F32(N * K));
        float *b = load("b.f32", F32(N)), *dy = load("dy.f32", F32(M * N));
        float *y = zeros(M * N), *dx = zeros(M * K), *dw = zeros(N * K), *db = zeros(N);
        check(matmul_fwd_cpu(y, x, w, b, M, K, N, K, N));
        check(matmul_bwd_cpu(dx, dw, db, dy, x, w, M, K, N, K, N));
        save("y.f32", y, F32(M * N)), save("dx.f32", dx, F32(M * K));
        save("dw.f32", dw, F32(N * K)), save("db.f32", db, F32(N));
    } else if (!strcmp(op, "rmsnorm") || !strcmp(op, "layernorm")) { /* M D eps */
        NEED(3);
        int64_t M = atoll(a[0]), D = atoll(a[1]);
        float eps = strtof(a[2], NULL);
        int ln = !strcmp(op, "layernorm");
        float *x = load("x.f32", F32(M * D)), *w = load("w.f32", F32(D));
        float *b = ln ? load("b.f32", F32(D)) : NULL, *dy = load("dy.f32", F32(M * D));
        float *y = zeros(M * D), *mean = zeros(M), *rstd = zeros(M);
        float *dx = zeros(M * D), *dw = zeros(D), *db = zeros(D);
        if (ln) {
            check(norm_layer_fwd_cpu(y, mean, rstd, x, w, b, M, D, eps));
            check(norm_layer_bwd_cpu(dx, dw, db, dy, x, w, mean, rstd, M, D));
        } else {
            check(norm_rms_fwd_cpu(y, rstd, x, w, M, D, eps));
            check(norm_rms_bwd_cpu(dx, dw, dy, x, w, rstd, M, D));
        }
        save("y.f32", y, F32(M * D)), save("dx.f32", dx, F32(M * D)), save("dw.f32", dw, F32(D));
        if (ln) save("db.f32", db, F32(D));
    } else if (!strcmp(op, "act")) { /* n */
        NEED(1);
        int64_t n = atoll(a[0]);
        float *x = load("x.f32", F32(n)), *z = load("z.f32", F32(n)), *dy = load("dy.f32", F32(n));
        float *y = zeros(n), *dx = zeros(n), *dz = zeros(n);
        static const char *names[] = {"silu", "softplus", "gelu"};
        for (int k = 0; k < 3; k++) {
            memset(dx, 0, F32(n));
            check(k == 0 ? act_silu_fwd_cpu(y, x, n)
                  : k == 1 ? act_softplus_fwd_cpu(y, x, n) : act_gelu_fwd_cpu(y, x, n));
            check(k == 0 ? act_silu_bwd_cpu(dx, dy, x, n)
                  : k == 1 ? act_softplus_bwd_cpu(dx, dy, x, n) : act_gelu_bwd_cpu(dx, dy, x, n));
            char name[64];
            snprintf(name, sizeof name, "y_%s.f32", names[k]), save(name, y, F32(n));
            snprintf(name, sizeof name, "dx_%s.f32", names[k]), save(name, dx, F32(n));
        }
        memset(dx, 0, F32(n));
        check(act_silu_gate_fwd_cpu(y, x, z, n));
        check(act_silu_gate_bwd_cpu(dx, dz, dy, x, z, n));
        save("y_gate.f32", y, F32(n)), save("dx_gate.f32", dx, F32(n));
        save("dz_gate.f32", dz, F32(n));
    } else if (!strcmp(op, "attention")) { /* B L H hd causal; qkv packed (B, L, 3, H, hd) */
        NEED(5);
        int64_t B = atoll(a[0]), L = atoll(a[1]);
        int H = atoi(a[2]), hd = atoi(a[3]), causal = atoi(a[4]);
        int64_t n = B * L * H * hd;
        float *qkv = load("qkv.f32", F32(3 * n)), *dout = load("dout.f32", F32(n));
        int64_t *lengths = load("lengths.i64", (size_t)B * sizeof(int64_t));
        AttentionView view = attention_view_packed(L, 3, H, hd);
        AttentionShape s = {B, L, H, hd, causal, 0.0f, lengths, view, view, view, DTYPE_F32, NULL};
        float *out = zeros(n), *lse = zeros(B * H * L), *dqkv = zeros(3 * n);
        const int64_t step = (int64_t)H * hd;
        check(attention_fwd_cpu(out, lse, qkv, qkv + step, qkv + 2 * step, &s));
        check(attention_bwd_cpu(dqkv, dqkv + step, dqkv + 2 * step, dout, qkv, qkv + step,
                                qkv + 2 * step, out, lse, &s));
        save("out.f32", out, F32(n)), save("lse.f32", lse, F32(B * H * L));
        save("dqkv.f32", dqkv, F32(3 * n));
    } else if (!strcmp(op, "rope")) { /* B L H hd rot_dim pos0 base */
        NEED(7);
        int64_t B = atoll(a[0]), L = atoll(a[1]);
        int H = atoi(a[2]), hd = atoi(a[3]);
        RopeShape s = {B, L, H, hd, atoi(a[4]), strtof(a[6], NULL), atoll(a[5]),
                       attention_view_contiguous(L, H, hd), DTYPE_F32, NULL};
        int64_t n = B * L * H * hd;
        float *x = load("x.f32", F32(n)), *dout = load("dout.f32", F32(n));
        float *out = zeros(n), *dx = zeros(n);
        check(attention_rope_fwd_cpu(out, x, &s));
        check(attention_rope_bwd_cpu(dx, dout, &s));
        save("out.f32", out, F32(n)), save("dx.f32", dx, F32(n));
    } else if (!strcmp(op, "embedding")) { /* M V D */
        NEED(3);
        int64_t M = atoll(a[0]), V = atoll(a[1]), D = atoll(a[2]);
        int32_t *ids = load("ids.i32", (size_t)M * sizeof(int32_t));
        float *table = load("table.f32", F32(V * D)), *dout = load("dout.f32", F32(M * D));
        float *out = zeros(M * D), *dtable = zeros(V * D);
        check(embedding_fwd_cpu(out, ids, table, M, V, D));
        check(embedding_bwd_cpu(dtable, dout, ids, M, V, D));
        save("out.f32", out, F32(M * D)), save("dtable.f32", dtable, F32(V * D));
    } else if (!strcmp(op, "xent")) { /* M V */
        NEED(2);
        int64_t M = atoll(a[0]), V = atoll(a[1]);
        float *logits = load("logits.f32", F32(M * V)), *weights = load("weights.f32", F32(M));
        int32_t *targets = load("targets.i32", (size_t)M * sizeof(int32_t));
        float *rows = zeros(M), *dl = zeros(M * V);
        double mean;
        check(loss_xent_cpu(&mean, rows, dl, logits, targets, weights, M, V, 1.0f));
        save("mean.f64", &mean, sizeof mean), save("rows.f32", rows, F32(M));
        save("dlogits.f32", dl, F32(M * V));
    } else if (!strcmp(op, "pool")) { /* B L D */
        NEED(3);
        int64_t B = atoll(a[0]), L = atoll(a[1]), D = atoll(a[2]);
        float *x = load("x.f32", F32(B * L * D)), *dout = load("dout.f32", F32(B * D));
        int64_t *lengths = load("lengths.i64", (size_t)B * sizeof(int64_t));
        float *out = zeros(B * D), *dx = zeros(B * L * D);
        check(pool_fwd_cpu(out, x, lengths, B, L, D, POOL_MEAN));
        check(pool_bwd_cpu(dx, dout, lengths, B, L, D, POOL_MEAN));
        save("out.f32", out, F32(B * D)), save("dx.f32", dx, F32(B * L * D));
    } else if (!strcmp(op, "adamw")) { /* n_decay n_plain steps lr max_norm */
        NEED(5);
        int64_t n1 = atoll(a[0]), n2 = atoll(a[1]), steps = atoll(a[2]);
        double lr = strtod(a[3], NULL), max_norm = strtod(a[4], NULL);
        int64_t n = n1 + n2;
        float *p = load("params.f32", F32(n)), *g_all = load("grads.f32", F32(steps * n));
        float *m = zeros(n), *v = zeros(n);
        double *norms = calloc((size_t)steps, sizeof(double));
        float *scales = zeros(steps);
        if (!norms) die("out of memory");
        const OptimTensor table[2] = {{0, n1, 1}, {n1, n2, 0}};
        const AdamWConfig cfg = {0.9, 0.999, 1e-8, 0.1};
        for (int64_t t = 1; t <= steps; t++) {
            const float *g = g_all + (t - 1) * n;
            check(optim_grad_norm_cpu(&norms[t - 1], g, table, 2));
            scales[t - 1] = optim_clip_scale(norms[t - 1], max_norm);
            check(optim_adamw_step_cpu(p, m, v, g, table, 2, &cfg, t, lr, scales[t - 1]));
        }
        save("params_out.f32", p, F32(n)), save("m.f32", m, F32(n)), save("v.f32", v, F32(n));
        save("norms.f64", norms, (size_t)steps * sizeof(double));
        save("scales.f32", scales, F32(steps));
    } else {
        die("unknown op");
    }
    return 0;
}
