/*
 * ops.c — device dispatch for models/ (ops_internal.h).
 *
 * Each dispatcher is one switch on dev->kind: DEVICE_CPU calls the kernels/cpu specification,
 * DEVICE_CUDA the kernels/cuda implementation (`<op>_<dir>_cuda`) with device pointers on the
 * default stream. The CUDA calls only queue work: nothing here waits for the GPU except
 * ops_download (and the kernels that document a wait: the index checks of embedding, pool and
 * loss, and the gradient norm, whose result the host needs). Every kernel is deterministic by
 * design (kernels/<op>.h), so a model's results depend on the device and the shapes only.
 * Tested through tests/unit/test_model.c (CPU) and tests/gpu/model_gpu.c (GPU against CPU).
 */
#include "models/ops_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/act.h"
#include "kernels/dropout.h"
#include "kernels/embedding.h"
#include "kernels/glue.h"
#include "kernels/loss.h"
#include "kernels/matmul.h"
#include "kernels/norm.h"

// ------------------------------------------------------------------------------ profiler
// Off unless ops_profile_start() turned it on (`longscan bench model --profile`): then every
// dispatched op is bracketed by two marks — CUDA events on the default stream, or the host clock
// on the CPU — and ops_profile_stop() sums the time between each op's marks under the op's name.
// On the GPU the time between one op's end and the next op's start is the device waiting for
// the host (launch overhead, host work, synchronisation): reported as its own row.

#define PROFILE_MAX_NAMES 160
#define PROFILE_MAX_OPS   65536

static struct {
    int on, cuda, overflow, failed; // failed: an event could not be recorded
    int n_names, n_ops;
    char names[PROFILE_MAX_NAMES][48];
    int calls[PROFILE_MAX_NAMES];
    double ms[PROFILE_MAX_NAMES];
    int *op_name;           // per recorded op (CUDA): its name's index
    DeviceEvents *events;   // CUDA: 2 per op
    double t_enter, t_first, t_last; // CPU clock
} g_profile;

static double profile_clock(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int profile_name(const char *name) {
    for (int i = 0; i < g_profile.n_names; i++)
        if (!strcmp(g_profile.names[i], name)) return i;
    if (g_profile.n_names == PROFILE_MAX_NAMES) return PROFILE_MAX_NAMES - 1; // shared overflow row
    int i = g_profile.n_names++;
    snprintf(g_profile.names[i], sizeof g_profile.names[i], "%s",
             i == PROFILE_MAX_NAMES - 1 ? "(other ops)" : name);
    return i;
}

// Returns the slot to hand to profile_leave, or -1 when nothing is recorded.
static int profile_enter(const char *name) {
    if (g_profile.cuda) {
        if (g_profile.n_ops == PROFILE_MAX_OPS) {
            g_profile.overflow = 1;
            return -1;
        }
        int k = g_profile.n_ops++;
        g_profile.op_name[k] = profile_name(name);
        if (device_cuda_events_record(g_profile.events, 2 * k) < 0) g_profile.failed = 1;
        return k;
    }
    g_profile.t_enter = profile_clock();
    if (g_profile.t_first == 0.0) g_profile.t_first = g_profile.t_enter;
    return profile_name(name);
}

static void profile_leave(int slot) {
    if (slot < 0) return;
    if (g_profile.cuda) {
        if (device_cuda_events_record(g_profile.events, 2 * slot + 1) < 0) g_profile.failed = 1;
        return;
    }
    g_profile.t_last = profile_clock();
    g_profile.calls[slot]++;
    g_profile.ms[slot] += 1e3 * (g_profile.t_last - g_profile.t_enter);
}

int ops_profile_start(const Device *dev) {
    ops_profile_free();
    g_profile.cuda = dev->kind == DEVICE_CUDA;
    if (g_profile.cuda) {
        g_profile.op_name = malloc(PROFILE_MAX_OPS * sizeof *g_profile.op_name);
        if (!g_profile.op_name) return ls_error(LS_ERR_NOMEM, "op profiler: out of memory");
        int status = device_cuda_events_init(&g_profile.events, 2 * PROFILE_MAX_OPS);
        if (status < 0) {
            ops_profile_free();
            return status;
        }
    }
    g_profile.on = 1;
    return 0;
}

int ops_profile_stop(ModelProfile *out) {
    memset(out, 0, sizeof *out);
    if (!g_profile.on) return ls_error(LS_ERR_INTERNAL, "op profiler: not started");
    g_profile.on = 0;
    if (g_profile.failed)
        return ls_error(LS_ERR_CUDA, "op profiler: a CUDA event could not be recorded");
    int status = 0;
    if (g_profile.cuda) {
        float ms = 0.0f;
        for (int k = 0; status == 0 && k < g_profile.n_ops; k++) {
            status = device_cuda_events_elapsed(g_profile.events, 2 * k, 2 * k + 1, &ms);
            g_profile.calls[g_profile.op_name[k]]++;
            g_profile.ms[g_profile.op_name[k]] += ms;
            if (status == 0 && k > 0) {
                status = device_cuda_events_elapsed(g_profile.events, 2 * k - 1, 2 * k, &ms);
                out->idle_ms += ms;
            }
        }
        if (status == 0 && g_profile.n_ops > 0)
            status = device_cuda_events_elapsed(g_profile.events, 0, 2 * g_profile.n_ops - 1,
                                                &ms);
        out->total_ms = ms;
        if (status < 0) return status;
    } else {
        out->total_ms = 1e3 * (g_profile.t_last - g_profile.t_first);
        double busy = 0.0;
        for (int i = 0; i < g_profile.n_names; i++) busy += g_profile.ms[i];
        out->idle_ms = out->total_ms - busy;
    }
    out->n = g_profile.n_names;
    out->truncated = g_profile.overflow;
    for (int i = 0; i < out->n; i++) {
        out->name[i] = g_profile.names[i];
        out->calls[i] = g_profile.calls[i];
        out->ms[i] = g_profile.ms[i];
    }
    return 0;
}

void ops_profile_free(void) {
    device_cuda_events_free(g_profile.events);
    free(g_profile.op_name);
    memset(&g_profile, 0, sizeof g_profile);
}

#define DISPATCH(dev, op, cpu_call, cuda_call) DISPATCH_AS(dev, op, op, cpu_call, cuda_call)

// prof_name: what the profiler files the call under (op, or op with its shape)
#define DISPATCH_AS(dev, op, prof_name, cpu_call, cuda_call)                                        \
    do {                                                                                           \
        if (g_profile.on) {                                                                        \
            int slot_ = profile_enter(prof_name), rc_ = 0;                                         \
            switch ((dev)->kind) {                                                                 \
            case DEVICE_CPU: rc_ = (cpu_call); break;                                              \
            case DEVICE_CUDA: rc_ = (cuda_call); break;                                            \
            default: rc_ = ls_error(LS_ERR_INTERNAL, "%s: unknown device kind", op);               \
            }                                                                                      \
            profile_leave(slot_);                                                                  \
            return rc_;                                                                            \
        }                                                                                          \
        switch ((dev)->kind) {                                                                     \
        case DEVICE_CPU: return (cpu_call);                                                        \
        case DEVICE_CUDA: return (cuda_call);                                                      \
        }                                                                                          \
        return ls_error(LS_ERR_INTERNAL, "%s: unknown device kind %d", op, (int)(dev)->kind);      \
    } while (0)

// "matmul_fwd 256x1024" (K x N): the in_proj, out_proj, x_proj and dt_proj GEMMs of a layer
// differ in shape, so the profile tells them apart.
static const char *matmul_prof_name(char *buf, size_t size, const char *op, int64_t K, int64_t N) {
    if (!g_profile.on) return op;
    snprintf(buf, size, "%s %lldx%lld", op, (long long)K, (long long)N);
    return buf;
}

// The CPU computes in fp32 (the specification); bf16 storage is the GPU's.
static int cpu_fp32(const char *op, DType t) {
    return ls_error(LS_ERR_UNSUPPORTED, "%s: %s on the CPU (the CPU computes in fp32)", op,
                    dtype_name(t));
}

#define CPU_F32(op, t, call) ((t) == DTYPE_F32 ? (call) : cpu_fp32(op, t))

// ------------------------------------------------------------------------------ memory

int ops_alloc(const Device *dev, void **ptr, size_t bytes, const char *what) {
    *ptr = NULL;
    size_t rounded = (bytes + 255) / 256 * 256;
    if (rounded == 0) rounded = 256;
    if (dev->kind == DEVICE_CUDA) {
        char hint[192];
        snprintf(hint, sizeof hint, "%s does not fit: lower --batch-size, --max-tokens or "
                 "--seq-len", what);
        return device_cuda_alloc(ptr, rounded, hint);
    }
    *ptr = aligned_alloc(256, rounded);
    if (!*ptr)
        return ls_error(LS_ERR_NOMEM, "%s: out of memory allocating %.1f MiB", what,
                        (double)bytes / 1048576.0);
    return 0;
}

void ops_free(const Device *dev, void *ptr) {
    if (dev->kind == DEVICE_CUDA) device_cuda_free(ptr);
    else free(ptr);
}

int ops_upload(const Device *dev, void *dst, const void *host, size_t bytes) {
    if (bytes == 0) return 0;
    if (dev->kind == DEVICE_CUDA) return device_cuda_copy(dst, host, bytes, DEVICE_COPY_H2D);
    memcpy(dst, host, bytes);
    return 0;
}

int ops_download(const Device *dev, void *host, const void *src, size_t bytes) {
    if (bytes == 0) return 0;
    if (dev->kind == DEVICE_CUDA) return device_cuda_copy(host, src, bytes, DEVICE_COPY_D2H);
    memcpy(host, src, bytes);
    return 0;
}

// ------------------------------------------------------------------------------ kernels

int ops_matmul_fwd(const Device *dev, DType t, float *y, const float *x, const float *w,
                   const float *b, int64_t M, int64_t K, int64_t N, int64_t ld_x, int64_t ld_y) {
    const MatmulCuda opt = {t, 0, NULL, 0}; // fp32 keeps TF32 off: parity with the CPU
    char prof[48];
    DISPATCH_AS(dev, "matmul_fwd", matmul_prof_name(prof, sizeof prof, "matmul_fwd", K, N),
             CPU_F32("matmul_fwd", t, matmul_fwd_cpu(y, x, w, b, M, K, N, ld_x, ld_y)),
             matmul_fwd_cuda(y, x, w, b, M, K, N, ld_x, ld_y, &opt));
}

// dx_overwrite: dx = dy·W (the CPU zeroes dx's M × K block first, the GPU runs its GEMM with
// beta 0); otherwise dx += dy·W. dw and db always accumulate.
static int matmul_bwd_cpu_over(int dx_overwrite, float *dx, float *dw, float *db,
                               const float *dy, const float *x, const float *w, int64_t M,
                               int64_t K, int64_t N, int64_t ld_x, int64_t ld_y) {
    if (dx && dx_overwrite && K <= ld_x)
        for (int64_t m = 0; m < M; m++) memset(dx + m * ld_x, 0, (size_t)K * sizeof(float));
    return matmul_bwd_cpu(dx, dw, db, dy, x, w, M, K, N, ld_x, ld_y);
}

static int matmul_bwd_any(const Device *dev, DType t, int dx_overwrite, float *dx, float *dw,
                          float *db, const float *dy, const float *x, const float *w, int64_t M,
                          int64_t K, int64_t N, int64_t ld_x, int64_t ld_y) {
    const MatmulCuda opt = {t, 0, NULL, dx_overwrite};
    char prof[48];
    DISPATCH_AS(dev, "matmul_bwd", matmul_prof_name(prof, sizeof prof, "matmul_bwd", K, N),
                CPU_F32("matmul_bwd", t,
                        matmul_bwd_cpu_over(dx_overwrite, dx, dw, db, dy, x, w, M, K, N, ld_x,
                                            ld_y)),
                matmul_bwd_cuda(dx, dw, db, dy, x, w, M, K, N, ld_x, ld_y, &opt));
}

int ops_matmul_bwd(const Device *dev, DType t, float *dx, float *dw, float *db, const float *dy,
                   const float *x, const float *w, int64_t M, int64_t K, int64_t N, int64_t ld_x,
                   int64_t ld_y) {
    return matmul_bwd_any(dev, t, 0, dx, dw, db, dy, x, w, M, K, N, ld_x, ld_y);
}

int ops_matmul_bwd_set_dx(const Device *dev, DType t, float *dx, float *dw, float *db,
                          const float *dy, const float *x, const float *w, int64_t M, int64_t K,
                          int64_t N, int64_t ld_x, int64_t ld_y) {
    return matmul_bwd_any(dev, t, 1, dx, dw, db, dy, x, w, M, K, N, ld_x, ld_y);
}

// The CUDA norm is the residual-fused form (norm.h) without a residual: the same statistics
// and the same gradients as the plain CPU functions applied to x.
static NormArgs norm_args(DType t, int layer_norm, int64_t M, int64_t D, float eps) {
    NormArgs a;
    norm_args_init(&a, layer_norm ? NORM_LAYER : NORM_RMS, M, D, eps);
    a.dtype = t;
    return a;
}

static int norm_fwd_cuda_plain(DType t, int layer_norm, float *y, float *mean, float *rstd,
                               const float *x, const float *w, const float *b, int64_t M,
                               int64_t D, float eps) {
    NormArgs a = norm_args(t, layer_norm, M, D, eps);
    a.x = x, a.w = w, a.b = layer_norm ? b : NULL, a.y = y;
    a.mean = layer_norm ? mean : NULL, a.rstd = rstd;
    return norm_fwd_cuda(&a);
}

static int norm_bwd_cuda_plain(DType t, int layer_norm, int dx_overwrite, float *dx, float *dw,
                               float *db, const float *dy, const float *x, const float *w,
                               const float *mean, const float *rstd, int64_t M, int64_t D) {
    NormArgs a = norm_args(t, layer_norm, M, D, 0.0f);
    a.dx_overwrite = dx_overwrite;
    // mean and rstd are the forward's outputs, read-only here (NormArgs shares the fields)
    a.h = x, a.w = w, a.mean = layer_norm ? (float *)mean : NULL, a.rstd = (float *)rstd;
    a.dy = dy;
    a.dx = dx, a.dw = dw, a.db = layer_norm ? db : NULL;
    return norm_bwd_cuda(&a);
}

int ops_norm_fwd(const Device *dev, DType t, int layer_norm, float *y, float *mean, float *rstd,
                 const float *x, const float *w, const float *b, int64_t M, int64_t D,
                 float eps) {
    if (layer_norm)
        DISPATCH(dev, "norm_layer_fwd",
                 CPU_F32("norm_layer_fwd", t,
                         norm_layer_fwd_cpu(y, mean, rstd, x, w, b, M, D, eps)),
                 norm_fwd_cuda_plain(t, 1, y, mean, rstd, x, w, b, M, D, eps));
    DISPATCH(dev, "norm_rms_fwd",
             CPU_F32("norm_rms_fwd", t, norm_rms_fwd_cpu(y, rstd, x, w, M, D, eps)),
             norm_fwd_cuda_plain(t, 0, y, mean, rstd, x, w, b, M, D, eps));
}

// dx_overwrite: dx = ∂/∂x (the CPU zeroes dx first); otherwise dx += ∂/∂x.
static int norm_bwd_any(const Device *dev, DType t, int layer_norm, int dx_overwrite, float *dx,
                        float *dw, float *db, const float *dy, const float *x, const float *w,
                        const float *mean, const float *rstd, int64_t M, int64_t D) {
    if (dev->kind == DEVICE_CPU && dx && dx_overwrite && t == DTYPE_F32)
        memset(dx, 0, (size_t)(M * D) * sizeof(float));
    if (layer_norm)
        DISPATCH(dev, "norm_layer_bwd",
                 CPU_F32("norm_layer_bwd", t,
                         norm_layer_bwd_cpu(dx, dw, db, dy, x, w, mean, rstd, M, D)),
                 norm_bwd_cuda_plain(t, 1, dx_overwrite, dx, dw, db, dy, x, w, mean, rstd, M,
                                     D));
    DISPATCH(dev, "norm_rms_bwd",
             CPU_F32("norm_rms_bwd", t, norm_rms_bwd_cpu(dx, dw, dy, x, w, rstd, M, D)),
             norm_bwd_cuda_plain(t, 0, dx_overwrite, dx, dw, db, dy, x, w, mean, rstd, M, D));
}

int ops_norm_bwd(const Device *dev, DType t, int layer_norm, float *dx, float *dw, float *db,
                 const float *dy, const float *x, const float *w, const float *mean,
                 const float *rstd, int64_t M, int64_t D) {
    return norm_bwd_any(dev, t, layer_norm, 0, dx, dw, db, dy, x, w, mean, rstd, M, D);
}

int ops_norm_bwd_set_dx(const Device *dev, DType t, int layer_norm, float *dx, float *dw,
                        float *db, const float *dy, const float *x, const float *w,
                        const float *mean, const float *rstd, int64_t M, int64_t D) {
    return norm_bwd_any(dev, t, layer_norm, 1, dx, dw, db, dy, x, w, mean, rstd, M, D);
}

int ops_gelu_fwd(const Device *dev, DType t, float *y, const float *x, int64_t n) {
    DISPATCH(dev, "gelu_fwd", CPU_F32("gelu_fwd", t, act_gelu_fwd_cpu(y, x, n)),
             act_gelu_fwd_cuda(y, x, n, t, NULL));
}

int ops_gelu_bwd(const Device *dev, DType t, float *dx, const float *dy, const float *x,
                 int64_t n) {
    DISPATCH(dev, "gelu_bwd", CPU_F32("gelu_bwd", t, act_gelu_bwd_cpu(dx, dy, x, n)),
             act_gelu_bwd_cuda(dx, dy, x, n, t, NULL));
}

int ops_scan_fwd(const Device *dev, const ScanArgs *a) {
    DISPATCH(dev, "scan_fwd", scan_fwd_cpu(a), scan_fwd_cuda(a));
}
int ops_scan_bwd(const Device *dev, const ScanArgs *a) {
    DISPATCH(dev, "scan_bwd", scan_bwd_cpu(a), scan_bwd_cuda(a));
}
int ops_scan_step(const Device *dev, const ScanArgs *a) {
    DISPATCH(dev, "scan_step", scan_step_cpu(a), scan_step_cuda(a));
}

size_t ops_scan_bwd_workspace_size(const Device *dev, const ScanArgs *a) {
    return dev->kind == DEVICE_CUDA ? scan_bwd_workspace_size_cuda(a)
                                    : scan_bwd_workspace_size_cpu(a);
}

int ops_conv_fwd(const Device *dev, const ConvArgs *a) {
    DISPATCH(dev, "conv_fwd", conv_fwd_cpu(a), conv_fwd_cuda(a));
}
int ops_conv_bwd(const Device *dev, const ConvArgs *a) {
    DISPATCH(dev, "conv_bwd", conv_bwd_cpu(a), conv_bwd_cuda(a));
}
int ops_conv_step(const Device *dev, const ConvArgs *a) {
    DISPATCH(dev, "conv_step", conv_step_cpu(a), conv_step_cuda(a));
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
                                  : attention_fwd_cpu_blocked(out, lse, q, k, v, s),
             attention_fwd_cuda(out, lse, q, k, v, s));
}

int ops_attention_bwd(const Device *dev, float *dq, float *dk, float *dv, const float *dout,
                      const float *q, const float *k, const float *v, const float *out,
                      const float *lse, const AttentionShape *s) {
    DISPATCH(dev, "attention_bwd",
             attention_use_ref(s)
                 ? attention_bwd_cpu(dq, dk, dv, dout, q, k, v, out, lse, s)
                 : attention_bwd_cpu_blocked(dq, dk, dv, dout, q, k, v, out, lse, s),
             attention_bwd_cuda(dq, dk, dv, dout, q, k, v, out, lse, s));
}

int ops_rope_fwd(const Device *dev, float *out, const float *x, const RopeShape *s) {
    DISPATCH(dev, "rope_fwd", attention_rope_fwd_cpu(out, x, s),
             attention_rope_fwd_cuda(out, x, s));
}

int ops_rope_bwd(const Device *dev, float *dx, const float *dout, const RopeShape *s) {
    DISPATCH(dev, "rope_bwd", attention_rope_bwd_cpu(dx, dout, s),
             attention_rope_bwd_cuda(dx, dout, s));
}

int ops_embedding_fwd(const Device *dev, float *out, const int32_t *ids, const float *table,
                      int64_t M, int64_t V, int64_t D) {
    DISPATCH(dev, "embedding_fwd", embedding_fwd_cpu(out, ids, table, M, V, D),
             embedding_fwd_cuda(out, ids, table, M, V, D, DTYPE_F32, NULL));
}

int ops_embedding_bwd(const Device *dev, float *dtable, const float *dout, const int32_t *ids,
                      int64_t M, int64_t V, int64_t D) {
    DISPATCH(dev, "embedding_bwd", embedding_bwd_cpu(dtable, dout, ids, M, V, D),
             embedding_bwd_cuda(dtable, dout, ids, M, V, D, DTYPE_F32, NULL));
}

int ops_pool_fwd(const Device *dev, float *out, const float *x, const int64_t *starts,
                 const int64_t *lengths, int64_t B, int64_t L, int64_t D, PoolMode mode) {
    if (starts)
        DISPATCH(dev, "pool_fwd", pool_fwd_packed_cpu(out, x, starts, lengths, B, L, D, mode),
                 pool_fwd_packed_cuda(out, x, starts, lengths, B, L, D, mode, DTYPE_F32, NULL));
    DISPATCH(dev, "pool_fwd", pool_fwd_cpu(out, x, lengths, B, L, D, mode),
             pool_fwd_cuda(out, x, lengths, B, L, D, mode, DTYPE_F32, NULL));
}

int ops_pool_bwd(const Device *dev, float *dx, const float *dout, const int64_t *starts,
                 const int64_t *lengths, int64_t B, int64_t L, int64_t D, PoolMode mode) {
    if (starts)
        DISPATCH(dev, "pool_bwd", pool_bwd_packed_cpu(dx, dout, starts, lengths, B, L, D, mode),
                 pool_bwd_packed_cuda(dx, dout, starts, lengths, B, L, D, mode, DTYPE_F32, NULL));
    DISPATCH(dev, "pool_bwd", pool_bwd_cpu(dx, dout, lengths, B, L, D, mode),
             pool_bwd_cuda(dx, dout, lengths, B, L, D, mode, DTYPE_F32, NULL));
}

int ops_loss_xent(const Device *dev, double *mean_loss, float *row_loss, float *dlogits,
                  const float *logits, const int32_t *targets, const float *weights, int64_t M,
                  int64_t V, float grad_scale) {
    DISPATCH(
        dev, "loss_xent",
        loss_xent_cpu(mean_loss, row_loss, dlogits, logits, targets, weights, M, V, grad_scale),
        loss_xent_cuda(mean_loss, row_loss, dlogits, logits, targets, weights, M, V, grad_scale,
                       DTYPE_F32, NULL));
}

int ops_adamw_step(const Device *dev, float *params, float *m, float *v, const float *grads,
                   const OptimTensor *tensors, int64_t n_tensors, const AdamWConfig *cfg,
                   int64_t step, double lr, float grad_scale) {
    DISPATCH(
        dev, "adamw_step",
        optim_adamw_step_cpu(params, m, v, grads, tensors, n_tensors, cfg, step, lr, grad_scale),
        optim_adamw_step_cuda(params, m, v, grads, tensors, n_tensors, cfg, step, lr, grad_scale,
                              NULL));
}

int ops_grad_norm(const Device *dev, double *norm, const float *grads, const OptimTensor *tensors,
                  int64_t n_tensors) {
    DISPATCH(dev, "grad_norm", optim_grad_norm_cpu(norm, grads, tensors, n_tensors),
             optim_grad_norm_cuda(norm, grads, tensors, n_tensors, NULL));
}

int ops_dropout_fwd(const Device *dev, const DropoutArgs *a) {
    DISPATCH(dev, "dropout_fwd", dropout_fwd_cpu(a), dropout_fwd_cuda(a));
}

int ops_dropout_bwd(const Device *dev, const DropoutArgs *a) {
    DISPATCH(dev, "dropout_bwd", dropout_bwd_cpu(a), dropout_bwd_cuda(a));
}

// ------------------------------------------------------------------------------ glue

int ops_zero(const Device *dev, DType t, float *x, int64_t n) {
    const size_t bytes = (size_t)n * dtype_size(t);
    DISPATCH(dev, "zero", CPU_F32("zero", t, (memset(x, 0, bytes), 0)),
             glue_zero_cuda(x, bytes, NULL));
}

int ops_copy(const Device *dev, float *dst, const float *src, int64_t n) {
    const size_t bytes = (size_t)n * sizeof(float);
    DISPATCH(dev, "copy", (memcpy(dst, src, bytes), 0), glue_copy_cuda(dst, src, bytes, NULL));
}

int ops_add(const Device *dev, float *y, DType yt, const float *x, DType xt, int64_t n) {
    DISPATCH(dev, "add",
             CPU_F32("add", yt, CPU_F32("add", xt, glue_add_cpu(y, x, n))),
             glue_add_cuda(y, yt, x, xt, n, NULL));
}

int ops_cast(const Device *dev, float *y, DType yt, const float *x, int64_t n) {
    DISPATCH(dev, "cast",
             CPU_F32("cast", yt, (memcpy(y, x, (size_t)n * sizeof(float)), 0)),
             glue_cast_cuda(y, yt, x, n, NULL));
}

int ops_neg_exp(const Device *dev, float *y, const float *x, int64_t n) {
    DISPATCH(dev, "neg_exp", glue_neg_exp_cpu(y, x, n), glue_neg_exp_cuda(y, x, n, NULL));
}

int ops_mul_acc(const Device *dev, float *y, const float *a, const float *b, int64_t n) {
    DISPATCH(dev, "mul_acc", glue_mul_acc_cpu(y, a, b, n), glue_mul_acc_cuda(y, a, b, n, NULL));
}

int ops_rows_gather(const Device *dev, float *dst, DType dst_t, const float *src, DType src_t,
                    const int64_t *lengths, const int32_t *mirror, int64_t Be, int64_t L,
                    int64_t W, int64_t s0, int64_t nt, int reverse) {
    DISPATCH(dev, "rows_gather",
             CPU_F32("rows_gather", dst_t,
                     CPU_F32("rows_gather", src_t,
                             glue_rows_gather_cpu(dst, src, lengths, mirror, Be, L, W, s0, nt,
                                                  reverse))),
             glue_rows_gather_cuda(dst, dst_t, src, src_t, lengths, mirror, Be, L, W, s0, nt,
                                   reverse, NULL));
}

int ops_rows_scatter_add(const Device *dev, float *dst, DType dst_t, const float *src,
                         DType src_t, const int64_t *lengths, const int32_t *mirror, int64_t Be,
                         int64_t L, int64_t W, int64_t s0, int64_t nt, int reverse) {
    DISPATCH(dev, "rows_scatter_add",
             CPU_F32("rows_scatter_add", dst_t,
                     CPU_F32("rows_scatter_add", src_t,
                             glue_rows_scatter_add_cpu(dst, src, lengths, mirror, Be, L, W, s0,
                                                       nt, reverse))),
             glue_rows_scatter_add_cuda(dst, dst_t, src, src_t, lengths, mirror, Be, L, W, s0,
                                        nt, reverse, NULL));
}

int ops_rows_zero_tail(const Device *dev, float *x, const int64_t *lengths, int64_t Be, int64_t L,
                       int64_t W) {
    DISPATCH(dev, "rows_zero_tail", glue_rows_zero_tail_cpu(x, lengths, Be, L, W),
             glue_rows_zero_tail_cuda(x, DTYPE_F32, lengths, Be, L, W, NULL));
}

int ops_pair_mean_fwd(const Device *dev, float *out, const float *x, int64_t B, int64_t W) {
    DISPATCH(dev, "pair_mean_fwd", glue_pair_mean_fwd_cpu(out, x, B, W),
             glue_pair_mean_fwd_cuda(out, x, B, W, NULL));
}

int ops_pair_mean_bwd(const Device *dev, float *dx, const float *dout, int64_t B, int64_t W) {
    DISPATCH(dev, "pair_mean_bwd", glue_pair_mean_bwd_cpu(dx, dout, B, W),
             glue_pair_mean_bwd_cuda(dx, dout, B, W, NULL));
}

int ops_tokens_to_ids(const Device *dev, int32_t *ids, const uint8_t *tokens,
                      const int64_t *lengths, const int32_t *mirror, int64_t B, int64_t L,
                      int64_t vocab, int rc) {
    DISPATCH(dev, "tokens_to_ids",
             glue_tokens_to_ids_cpu(ids, tokens, lengths, mirror, B, L, vocab, rc),
             glue_tokens_to_ids_cuda(ids, tokens, lengths, mirror, B, L, rc, NULL));
}

int ops_ids_to_ids(const Device *dev, int32_t *ids, const int32_t *src, const int64_t *lengths,
                   int64_t B, int64_t L, int64_t vocab) {
    DISPATCH(dev, "ids_to_ids", glue_ids_to_ids_cpu(ids, src, lengths, B, L, vocab),
             glue_ids_to_ids_cuda(ids, src, lengths, B, L, NULL));
}

int ops_frames(const Device *dev, float *frames, const float *samples,
               const int64_t *sample_lengths, const int64_t *frame_end, int64_t B, int64_t L,
               int64_t F, int64_t Lt) {
    DISPATCH(dev, "frames",
             glue_frames_cpu(frames, samples, sample_lengths, frame_end, B, L, F, Lt),
             glue_frames_cuda(frames, samples, sample_lengths, frame_end, B, L, F, Lt, NULL));
}

// ------------------------------------------------------------------------------ streaming

int ops_attention_kv_fwd(const Device *dev, float *out, const float *q, const float *k,
                         const float *v, const AttentionKvShape *s) {
    DISPATCH(dev, "attention_kv_fwd", attention_kv_fwd_cpu(out, q, k, v, s),
             attention_kv_fwd_cuda(out, q, k, v, s));
}

int ops_copy_blocks(const Device *dev, DType t, float *dst, int64_t dst_sb, int64_t dst_sl,
                    const float *src, int64_t src_sb, int64_t src_sl, int64_t B, int64_t L,
                    int64_t W) {
    DISPATCH(dev, "copy_blocks",
             CPU_F32("copy_blocks", t,
                     glue_copy_blocks_cpu(dst, dst_sb, dst_sl, src, src_sb, src_sl, B, L, W)),
             glue_copy_blocks_cuda(dst, dst_sb, dst_sl, src, src_sb, src_sl, B, L, W, t, NULL));
}

int ops_sum_rows_acc(const Device *dev, double *acc, const float *x, int64_t B, int64_t L,
                     int64_t W) {
    DISPATCH(dev, "sum_rows_acc", glue_sum_rows_acc_cpu(acc, x, B, L, W),
             glue_sum_rows_acc_cuda(acc, x, B, L, W, NULL));
}

int ops_mean_from_sum(const Device *dev, float *out, const double *acc, int64_t n,
                      double count) {
    DISPATCH(dev, "mean_from_sum", glue_mean_from_sum_cpu(out, acc, n, count),
             glue_mean_from_sum_cuda(out, acc, n, count, NULL));
}

static int cuda_only(const char *op) {
    return ls_error(LS_ERR_UNSUPPORTED, "%s: a GPU op (the CPU generator draws on the host)",
                    op);
}

int ops_embedding_fwd_trusted(const Device *dev, DType t, float *out, const int32_t *ids,
                              const float *table, int64_t M, int64_t V, int64_t D) {
    DISPATCH(dev, "embedding_fwd_trusted", cuda_only("embedding_fwd_trusted"),
             embedding_fwd_cuda_trusted(out, ids, table, M, V, D, t, NULL));
}

int ops_sample(const Device *dev, const SampleArgs *a) {
    DISPATCH(dev, "sample", cuda_only("sample"), sample_tokens_cuda(a));
}

int ops_gen_step_supported(const Device *dev, const GenStepLayer *a) {
    return dev->kind == DEVICE_CUDA ? gen_step_cuda_supported(a) : cuda_only("gen_step");
}
int ops_gen_step_prepare(const Device *dev, const GenStepLayer *a) {
    return dev->kind == DEVICE_CUDA ? gen_step_prepare_cuda(a) : cuda_only("gen_step");
}
int ops_gen_step(const Device *dev, const GenStepLayer *layers, int n_layers,
                 const GenStepHead *head) {
    DISPATCH(dev, "gen_step", cuda_only("gen_step"), gen_step_cuda(layers, n_layers, head));
}

int ops_to_device(const Device *dev, float *dst, const float *host_src, int64_t n) {
    return ops_upload(dev, dst, host_src, (size_t)n * sizeof *dst);
}

int ops_to_host(const Device *dev, float *host_dst, const float *src, int64_t n) {
    return ops_download(dev, host_dst, src, (size_t)n * sizeof *host_dst);
}
