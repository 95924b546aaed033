/*
 * ops.c — device dispatch for models/ (ops_internal.h) and the CPU bodies of the glue ops.
 *
 * Each kernel dispatcher is one switch on dev->kind: DEVICE_CPU calls the kernels/cpu
 * specification; DEVICE_CUDA returns LS_ERR_UNSUPPORTED ("<op> on cuda arrives with the GPU
 * issue") until kernels/cuda provides `<op>_<dir>_cuda`, which then goes in that case label.
 * The glue ops are plain loops (OpenMP over rows where it pays): copies and adds have no
 * reduction, so results never depend on the thread count; each kernel guarantees the same
 * itself (GEMM included: kernels/matmul.h "Threads").
 * Tested through tests/unit/test_model.c.
 */
#include "models/ops_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/act.h"
#include "kernels/embedding.h"
#include "kernels/loss.h"
#include "kernels/matmul.h"
#include "kernels/norm.h"

static int cuda_later(const char *op) {
    return ls_error(LS_ERR_UNSUPPORTED, "%s on cuda arrives with the GPU issue (use --device cpu)",
                    op);
}

#define DISPATCH(dev, op, cpu_call)                                                                \
    do {                                                                                           \
        switch ((dev)->kind) {                                                                     \
        case DEVICE_CPU: return (cpu_call);                                                        \
        case DEVICE_CUDA: return cuda_later(op);                                                   \
        }                                                                                          \
        return ls_error(LS_ERR_INTERNAL, "%s: unknown device kind %d", op, (int)(dev)->kind);      \
    } while (0)

// Elementwise loops go parallel only when the work amortises the fork.
#define OPS_PAR_MIN 32768

// ------------------------------------------------------------------------------ memory

int ops_alloc(const Device *dev, void **ptr, size_t bytes, const char *what) {
    *ptr = NULL;
    if (dev->kind != DEVICE_CPU) return cuda_later(what);
    size_t rounded = (bytes + 255) / 256 * 256;
    if (rounded == 0) rounded = 256;
    *ptr = aligned_alloc(256, rounded);
    if (!*ptr)
        return ls_error(LS_ERR_NOMEM, "%s: out of memory allocating %.1f MiB", what,
                        (double)bytes / 1048576.0);
    return 0;
}

void ops_free(const Device *dev, void *ptr) {
    (void)dev;
    free(ptr);
}

// ------------------------------------------------------------------------------ kernels

int ops_matmul_fwd(const Device *dev, float *y, const float *x, const float *w, const float *b,
                   int64_t M, int64_t K, int64_t N, int64_t ld_x, int64_t ld_y) {
    DISPATCH(dev, "matmul_fwd", matmul_fwd_cpu(y, x, w, b, M, K, N, ld_x, ld_y));
}

int ops_matmul_bwd(const Device *dev, float *dx, float *dw, float *db, const float *dy,
                   const float *x, const float *w, int64_t M, int64_t K, int64_t N, int64_t ld_x,
                   int64_t ld_y) {
    DISPATCH(dev, "matmul_bwd", matmul_bwd_cpu(dx, dw, db, dy, x, w, M, K, N, ld_x, ld_y));
}

int ops_norm_fwd(const Device *dev, int layer_norm, float *y, float *mean, float *rstd,
                 const float *x, const float *w, const float *b, int64_t M, int64_t D, float eps) {
    if (layer_norm)
        DISPATCH(dev, "norm_layer_fwd", norm_layer_fwd_cpu(y, mean, rstd, x, w, b, M, D, eps));
    DISPATCH(dev, "norm_rms_fwd", norm_rms_fwd_cpu(y, rstd, x, w, M, D, eps));
}

int ops_norm_bwd(const Device *dev, int layer_norm, float *dx, float *dw, float *db,
                 const float *dy, const float *x, const float *w, const float *mean,
                 const float *rstd, int64_t M, int64_t D) {
    if (layer_norm)
        DISPATCH(dev, "norm_layer_bwd", norm_layer_bwd_cpu(dx, dw, db, dy, x, w, mean, rstd, M, D));
    DISPATCH(dev, "norm_rms_bwd", norm_rms_bwd_cpu(dx, dw, dy, x, w, rstd, M, D));
}

int ops_gelu_fwd(const Device *dev, float *y, const float *x, int64_t n) {
    DISPATCH(dev, "gelu_fwd", act_gelu_fwd_cpu(y, x, n));
}

int ops_gelu_bwd(const Device *dev, float *dx, const float *dy, const float *x, int64_t n) {
    DISPATCH(dev, "gelu_bwd", act_gelu_bwd_cpu(dx, dy, x, n));
}

int ops_scan_fwd(const Device *dev, const ScanArgs *a) {
    DISPATCH(dev, "scan_fwd", scan_fwd_cpu(a));
}
int ops_scan_bwd(const Device *dev, const ScanArgs *a) {
    DISPATCH(dev, "scan_bwd", scan_bwd_cpu(a));
}
int ops_scan_step(const Device *dev, const ScanArgs *a) {
    DISPATCH(dev, "scan_step", scan_step_cpu(a));
}

size_t ops_scan_bwd_workspace_size(const Device *dev, const ScanArgs *a) {
    (void)dev; // the CUDA size function joins here with the GPU issue
    return scan_bwd_workspace_size_cpu(a);
}

int ops_conv_fwd(const Device *dev, const ConvArgs *a) {
    DISPATCH(dev, "conv_fwd", conv_fwd_cpu(a));
}
int ops_conv_bwd(const Device *dev, const ConvArgs *a) {
    DISPATCH(dev, "conv_bwd", conv_bwd_cpu(a));
}
int ops_conv_step(const Device *dev, const ConvArgs *a) {
    DISPATCH(dev, "conv_step", conv_step_cpu(a));
}

// The CPU attention: the blocked sgemm path (kernels/cpu/attention_blocked.c), or the
// reference when LS_CPU_REF=1 (STYLE rule 25: fast paths sit behind a reference switch).
// Strides past BLAS's 32-bit int go to the reference too.
static int attention_use_ref(const AttentionShape *s) {
    static int ref = -1;
    if (ref < 0) {
        const char *env = getenv("LS_CPU_REF");
        ref = env && *env && strcmp(env, "0") != 0;
    }
    return ref || s->q.pos > INT32_MAX || s->k.pos > INT32_MAX || s->v.pos > INT32_MAX ||
           (int64_t)s->H * s->hd > INT32_MAX;
}

int ops_attention_fwd(const Device *dev, float *out, float *lse, const float *q, const float *k,
                      const float *v, const AttentionShape *s) {
    DISPATCH(dev, "attention_fwd",
             attention_use_ref(s) ? attention_fwd_cpu(out, lse, q, k, v, s)
                                  : attention_fwd_cpu_blocked(out, lse, q, k, v, s));
}

int ops_attention_bwd(const Device *dev, float *dq, float *dk, float *dv, const float *dout,
                      const float *q, const float *k, const float *v, const float *out,
                      const float *lse, const AttentionShape *s) {
    DISPATCH(dev, "attention_bwd",
             attention_use_ref(s)
                 ? attention_bwd_cpu(dq, dk, dv, dout, q, k, v, out, lse, s)
                 : attention_bwd_cpu_blocked(dq, dk, dv, dout, q, k, v, out, lse, s));
}

int ops_rope_fwd(const Device *dev, float *out, const float *x, const RopeShape *s) {
    DISPATCH(dev, "rope_fwd", attention_rope_fwd_cpu(out, x, s));
}

int ops_rope_bwd(const Device *dev, float *dx, const float *dout, const RopeShape *s) {
    DISPATCH(dev, "rope_bwd", attention_rope_bwd_cpu(dx, dout, s));
}

int ops_embedding_fwd(const Device *dev, float *out, const int32_t *ids, const float *table,
                      int64_t M, int64_t V, int64_t D) {
    DISPATCH(dev, "embedding_fwd", embedding_fwd_cpu(out, ids, table, M, V, D));
}

int ops_embedding_bwd(const Device *dev, float *dtable, const float *dout, const int32_t *ids,
                      int64_t M, int64_t V, int64_t D) {
    DISPATCH(dev, "embedding_bwd", embedding_bwd_cpu(dtable, dout, ids, M, V, D));
}

int ops_pool_fwd(const Device *dev, float *out, const float *x, const int64_t *lengths, int64_t B,
                 int64_t L, int64_t D, PoolMode mode) {
    DISPATCH(dev, "pool_fwd", pool_fwd_cpu(out, x, lengths, B, L, D, mode));
}

int ops_pool_bwd(const Device *dev, float *dx, const float *dout, const int64_t *lengths, int64_t B,
                 int64_t L, int64_t D, PoolMode mode) {
    DISPATCH(dev, "pool_bwd", pool_bwd_cpu(dx, dout, lengths, B, L, D, mode));
}

int ops_loss_xent(const Device *dev, double *mean_loss, float *row_loss, float *dlogits,
                  const float *logits, const int32_t *targets, const float *weights, int64_t M,
                  int64_t V, float grad_scale) {
    DISPATCH(
        dev, "loss_xent",
        loss_xent_cpu(mean_loss, row_loss, dlogits, logits, targets, weights, M, V, grad_scale));
}

int ops_adamw_step(const Device *dev, float *params, float *m, float *v, const float *grads,
                   const OptimTensor *tensors, int64_t n_tensors, const AdamWConfig *cfg,
                   int64_t step, double lr, float grad_scale) {
    DISPATCH(
        dev, "adamw_step",
        optim_adamw_step_cpu(params, m, v, grads, tensors, n_tensors, cfg, step, lr, grad_scale));
}

int ops_grad_norm(const Device *dev, double *norm, const float *grads, const OptimTensor *tensors,
                  int64_t n_tensors) {
    DISPATCH(dev, "grad_norm", optim_grad_norm_cpu(norm, grads, tensors, n_tensors));
}

// ------------------------------------------------------------------------------ glue, CPU bodies

static int zero_cpu(float *restrict x, int64_t n) {
    memset(x, 0, (size_t)n * sizeof *x);
    return 0;
}

static int copy_cpu(float *restrict dst, const float *restrict src, int64_t n) {
    memcpy(dst, src, (size_t)n * sizeof *dst);
    return 0;
}

static int add_cpu(float *restrict y, const float *restrict x, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= OPS_PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        y[i] += x[i];
    return 0;
}

static int neg_exp_cpu(float *restrict y, const float *restrict x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        y[i] = -expf(x[i]);
    return 0;
}

static int mul_acc_cpu(float *restrict y, const float *restrict a, const float *restrict b,
                       int64_t n) {
    for (int64_t i = 0; i < n; i++)
        y[i] += a[i] * b[i];
    return 0;
}

static inline int64_t row_pos(const int64_t *lengths, int64_t b, int64_t s, int reverse) {
    int64_t n = lengths[b];
    if (s >= n) return -1;
    return reverse ? n - 1 - s : s;
}

static int rows_gather_cpu(float *restrict dst, const float *restrict src, const int64_t *lengths,
                           int64_t Be, int64_t L, int64_t W, int64_t s0, int64_t nt, int reverse) {
#pragma omp parallel for schedule(static) if (Be * nt * W >= OPS_PAR_MIN)
    for (int64_t r = 0; r < Be * nt; r++) {
        const int64_t b = r / nt, s = s0 + r % nt;
        const int64_t p = row_pos(lengths, b, s, reverse);
        float *d = dst + r * W; // (W)
        if (p < 0)
            memset(d, 0, (size_t)W * sizeof *d);
        else
            memcpy(d, src + (b * L + p) * W, (size_t)W * sizeof *d);
    }
    return 0;
}

static int rows_scatter_add_cpu(float *restrict dst, const float *restrict src,
                                const int64_t *lengths, int64_t Be, int64_t L, int64_t W,
                                int64_t s0, int64_t nt, int reverse) {
#pragma omp parallel for schedule(static) if (Be * nt * W >= OPS_PAR_MIN)
    for (int64_t r = 0; r < Be * nt; r++) {
        const int64_t b = r / nt, s = s0 + r % nt;
        const int64_t p = row_pos(lengths, b, s, reverse);
        if (p < 0) continue;
        float *d = dst + (b * L + p) * W; // (W)
        const float *x = src + r * W;     // (W)
        for (int64_t w = 0; w < W; w++)
            d[w] += x[w];
    }
    return 0;
}

static int rows_zero_tail_cpu(float *restrict x, const int64_t *lengths, int64_t Be, int64_t L,
                              int64_t W) {
    for (int64_t b = 0; b < Be; b++)
        if (lengths[b] < L)
            memset(x + (b * L + lengths[b]) * W, 0, (size_t)((L - lengths[b]) * W) * sizeof *x);
    return 0;
}

static int pair_mean_fwd_cpu(float *restrict out, const float *restrict x, int64_t B, int64_t W) {
    for (int64_t i = 0; i < B * W; i++)
        out[i] = 0.5f * (x[i] + x[B * W + i]);
    return 0;
}

static int pair_mean_bwd_cpu(float *restrict dx, const float *restrict dout, int64_t B, int64_t W) {
    for (int64_t i = 0; i < B * W; i++) {
        dx[i] += 0.5f * dout[i];
        dx[B * W + i] += 0.5f * dout[i];
    }
    return 0;
}

static int tokens_to_ids_cpu(int32_t *restrict ids, const uint8_t *restrict tokens,
                             const int64_t *lengths, int64_t B, int64_t L, int64_t vocab, int rc) {
    for (int64_t b = 0; b < B; b++) {
        const int64_t n = lengths[b];
        const uint8_t *t = tokens + b * L; // (L)
        for (int64_t p = 0; p < n; p++)
            if (t[p] >= vocab)
                return ls_error(LS_ERR_USAGE,
                                "batch row %lld position %lld: token %d is outside "
                                "the model's vocabulary of %lld",
                                (long long)b, (long long)p, t[p], (long long)vocab);
    }
    for (int64_t b = 0; b < B; b++) {
        const int64_t n = lengths[b];
        const uint8_t *t = tokens + b * L;
        int32_t *fw = ids + b * L;
        for (int64_t p = 0; p < L; p++)
            fw[p] = p < n ? t[p] : 0;
        if (!rc) continue;
        int32_t *rv = ids + (B + b) * L;
        for (int64_t p = 0; p < L; p++) {
            int32_t x = p < n ? t[n - 1 - p] : 0;
            rv[p] = p < n && x < 4 ? 3 - x : x;
        }
    }
    return 0;
}

static int ids_to_ids_cpu(int32_t *restrict ids, const int32_t *restrict src,
                          const int64_t *lengths, int64_t B, int64_t L, int64_t vocab) {
    for (int64_t b = 0; b < B; b++) {
        const int64_t n = lengths[b];
        const int32_t *t = src + b * L; // (L)
        for (int64_t p = 0; p < n; p++)
            if (t[p] < 0 || t[p] >= vocab)
                return ls_error(LS_ERR_USAGE,
                                "batch row %lld position %lld: id %d is outside "
                                "the model's vocabulary of %lld",
                                (long long)b, (long long)p, t[p], (long long)vocab);
    }
    for (int64_t b = 0; b < B; b++) {
        const int64_t n = lengths[b];
        for (int64_t p = 0; p < L; p++) ids[b * L + p] = p < n ? src[b * L + p] : 0;
    }
    return 0;
}

static int frames_cpu(float *restrict frames, const float *restrict samples, const int64_t *lengths,
                      int64_t B, int64_t L, int64_t F, int64_t Lt) {
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < Lt; j++)
            for (int64_t f = 0; f < F; f++) {
                int64_t i = j * F + f;
                frames[(b * Lt + j) * F + f] = i < lengths[b] ? samples[b * L + i] : 0.0f;
            }
    return 0;
}

// ------------------------------------------------------------------------------ glue dispatch

int ops_zero(const Device *dev, float *x, int64_t n) {
    DISPATCH(dev, "zero", zero_cpu(x, n));
}

int ops_copy(const Device *dev, float *dst, const float *src, int64_t n) {
    DISPATCH(dev, "copy", copy_cpu(dst, src, n));
}

int ops_add(const Device *dev, float *y, const float *x, int64_t n) {
    DISPATCH(dev, "add", add_cpu(y, x, n));
}

int ops_neg_exp(const Device *dev, float *y, const float *x, int64_t n) {
    DISPATCH(dev, "neg_exp", neg_exp_cpu(y, x, n));
}

int ops_mul_acc(const Device *dev, float *y, const float *a, const float *b, int64_t n) {
    DISPATCH(dev, "mul_acc", mul_acc_cpu(y, a, b, n));
}

int ops_rows_gather(const Device *dev, float *dst, const float *src, const int64_t *lengths,
                    int64_t Be, int64_t L, int64_t W, int64_t s0, int64_t nt, int reverse) {
    DISPATCH(dev, "rows_gather", rows_gather_cpu(dst, src, lengths, Be, L, W, s0, nt, reverse));
}

int ops_rows_scatter_add(const Device *dev, float *dst, const float *src, const int64_t *lengths,
                         int64_t Be, int64_t L, int64_t W, int64_t s0, int64_t nt, int reverse) {
    DISPATCH(dev, "rows_scatter_add",
             rows_scatter_add_cpu(dst, src, lengths, Be, L, W, s0, nt, reverse));
}

int ops_rows_zero_tail(const Device *dev, float *x, const int64_t *lengths, int64_t Be, int64_t L,
                       int64_t W) {
    DISPATCH(dev, "rows_zero_tail", rows_zero_tail_cpu(x, lengths, Be, L, W));
}

int ops_pair_mean_fwd(const Device *dev, float *out, const float *x, int64_t B, int64_t W) {
    DISPATCH(dev, "pair_mean_fwd", pair_mean_fwd_cpu(out, x, B, W));
}

int ops_pair_mean_bwd(const Device *dev, float *dx, const float *dout, int64_t B, int64_t W) {
    DISPATCH(dev, "pair_mean_bwd", pair_mean_bwd_cpu(dx, dout, B, W));
}

int ops_tokens_to_ids(const Device *dev, int32_t *ids, const uint8_t *tokens,
                      const int64_t *lengths, int64_t B, int64_t L, int64_t vocab, int rc) {
    DISPATCH(dev, "tokens_to_ids", tokens_to_ids_cpu(ids, tokens, lengths, B, L, vocab, rc));
}

int ops_ids_to_ids(const Device *dev, int32_t *ids, const int32_t *src, const int64_t *lengths,
                   int64_t B, int64_t L, int64_t vocab) {
    DISPATCH(dev, "ids_to_ids", ids_to_ids_cpu(ids, src, lengths, B, L, vocab));
}

int ops_frames(const Device *dev, float *frames, const float *samples,
               const int64_t *sample_lengths, int64_t B, int64_t L, int64_t F, int64_t Lt) {
    DISPATCH(dev, "frames", frames_cpu(frames, samples, sample_lengths, B, L, F, Lt));
}

// ------------------------------------------------------------------------------ streaming

int ops_attention_kv_fwd(const Device *dev, float *out, const float *q, const float *k,
                         const float *v, const AttentionKvShape *s) {
    DISPATCH(dev, "attention_kv_fwd", attention_kv_fwd_cpu(out, q, k, v, s));
}

static int copy_blocks_cpu(float *restrict dst, int64_t dst_sb, int64_t dst_sl,
                           const float *restrict src, int64_t src_sb, int64_t src_sl, int64_t B,
                           int64_t L, int64_t W) {
#pragma omp parallel for schedule(static) if (B * L * W >= OPS_PAR_MIN)
    for (int64_t r = 0; r < B * L; r++) {
        const int64_t b = r / L, l = r % L;
        memcpy(dst + b * dst_sb + l * dst_sl, src + b * src_sb + l * src_sl,
               (size_t)W * sizeof *dst);
    }
    return 0;
}

int ops_copy_blocks(const Device *dev, float *dst, int64_t dst_sb, int64_t dst_sl,
                    const float *src, int64_t src_sb, int64_t src_sl, int64_t B, int64_t L,
                    int64_t W) {
    DISPATCH(dev, "copy_blocks",
             copy_blocks_cpu(dst, dst_sb, dst_sl, src, src_sb, src_sl, B, L, W));
}

static int sum_rows_acc_cpu(double *restrict acc, const float *restrict x, int64_t B, int64_t L,
                            int64_t W) {
#pragma omp parallel for schedule(static) if (B * L * W >= OPS_PAR_MIN)
    for (int64_t bw = 0; bw < B * W; bw++) { // one task per output: a fixed order of sums
        const int64_t b = bw / W, w = bw % W;
        double a = acc[bw];
        for (int64_t l = 0; l < L; l++) a += x[(b * L + l) * W + w];
        acc[bw] = a;
    }
    return 0;
}

int ops_sum_rows_acc(const Device *dev, double *acc, const float *x, int64_t B, int64_t L,
                     int64_t W) {
    DISPATCH(dev, "sum_rows_acc", sum_rows_acc_cpu(acc, x, B, L, W));
}

static int mean_from_sum_cpu(float *restrict out, const double *restrict acc, int64_t n,
                             double count) {
    for (int64_t i = 0; i < n; i++) out[i] = (float)(acc[i] / count);
    return 0;
}

int ops_mean_from_sum(const Device *dev, float *out, const double *acc, int64_t n,
                      double count) {
    DISPATCH(dev, "mean_from_sum", mean_from_sum_cpu(out, acc, n, count));
}

int ops_to_device(const Device *dev, float *dst, const float *host_src, int64_t n) {
    DISPATCH(dev, "to_device", copy_cpu(dst, host_src, n));
}

int ops_to_host(const Device *dev, float *host_dst, const float *src, int64_t n) {
    DISPATCH(dev, "to_host", copy_cpu(host_dst, src, n));
}
