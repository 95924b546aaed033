/*
 * bench_kernels.c — `longscan bench kernels`: the CUDA kernels on the anchors' workloads
 * (../shared/anchors/README.md), one row per (workload, dtype, L): our median time, the
 * achieved bandwidth of the compulsory bytes as a fraction of a device-to-device copy measured
 * in the same run (memory-bound ops: the scan, the conv), the achieved TFLOP/s (attention), and
 * with --peers the peer's time and the speedup. Never part of the tests (benchmarks only).
 *
 * The workloads come in families that own their device buffers (scan, conv, attention); a
 * family allocates for its longest row, runs its rows, and frees before the next family, so
 * the card holds one family's buffers at a time (the scan at 1M fp32 needs ~50 GiB).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/attention.h"
#include "kernels/conv.h"
#include "kernels/device.h"
#include "kernels/dtype.h"
#include "kernels/scan.h"
#include "pipeline/bench_internal.h"
#include "pipeline/cli.h"

enum {
    OPT_REPEAT = CLI_OPT_FIRST_COMMAND_OPTION,
    OPT_PEERS,
    OPT_CSV,
    OPT_JSON,
    OPT_MAX_LEN,
    OPT_LEN,
    OPT_WORKLOAD,
    OPT_DTYPE,
};

/*
 * Device buffers of the scan rows, allocated once for the longest L in fp32 sizes (bf16 rows use
 * the first half of each) and filled with random values of the row's dtype.
 */
typedef struct {
    int64_t L, D, N;
    void *act[12]; // u, delta, z, B, C, out, dout, du, ddelta, dz, dB, dC
    float *A, *Dsk, *bias, *ckpt, *dA, *dDsk, *dbias, *ws;
    size_t ws_bytes;
    int filled; // dtype the activations hold + 1; 0: none yet
} ScanBench;

enum { SB_U, SB_DELTA, SB_Z, SB_B, SB_C, SB_OUT, SB_DOUT, SB_DU, SB_DDELTA, SB_DZ, SB_DB, SB_DC };

static void scan_bench_free(ScanBench *sb) {
    for (int i = 0; i < 12; i++) device_cuda_free(sb->act[i]);
    float *f[] = {sb->A, sb->Dsk, sb->bias, sb->ckpt, sb->dA, sb->dDsk, sb->dbias, sb->ws};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) device_cuda_free(f[i]);
    memset(sb, 0, sizeof *sb);
}

static ScanArgs scan_bench_args(const ScanBench *sb, int64_t L, DType t) {
    ScanArgs a;
    scan_args_init(&a, 1, L, sb->D, sb->N);
    a.dtype = t;
    a.u = sb->act[SB_U], a.delta = sb->act[SB_DELTA], a.z = sb->act[SB_Z];
    a.B_ssm = sb->act[SB_B], a.C_ssm = sb->act[SB_C], a.out = sb->act[SB_OUT];
    a.A = sb->A, a.D_skip = sb->Dsk, a.delta_bias = sb->bias, a.ckpt = sb->ckpt;
    return a;
}

// Random values in [lo, hi) of type t in n elements of device memory: 16 Mi generated here,
// uploaded, then doubled by device-to-device copies (timing needs no more randomness).
static int fill_device(void *dst, int64_t n, DType t, float lo, float hi, uint64_t *rng) {
    const int64_t chunk = n < ((int64_t)1 << 24) ? n : ((int64_t)1 << 24);
    const size_t es = dtype_size(t);
    unsigned char *h = malloc((size_t)chunk * es);
    if (!h) return ls_error(LS_ERR_NOMEM, "bench kernels: out of host memory");
    for (int64_t i = 0; i < chunk; i++) {
        uint64_t z = (*rng += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        float v = lo + (hi - lo) * (float)((z >> 40) * (1.0 / 16777216.0));
        if (t == DTYPE_BF16) {
            uint16_t b = bf16_from_float(v);
            memcpy(h + i * 2, &b, 2);
        } else {
            memcpy(h + i * 4, &v, 4);
        }
    }
    int status = device_cuda_copy(dst, h, (size_t)chunk * es, DEVICE_COPY_H2D);
    free(h);
    for (int64_t have = chunk; status == 0 && have < n;) {
        int64_t m = have < n - have ? have : n - have;
        status = device_cuda_copy((char *)dst + have * es, dst, (size_t)m * es, DEVICE_COPY_D2D);
        have += m;
    }
    return status;
}

static int scan_bench_init(ScanBench *sb, int64_t L) {
    memset(sb, 0, sizeof *sb);
    sb->L = L, sb->D = 1024, sb->N = 16;
    const int64_t D = sb->D, N = sb->N;
    const char *hint = "lower --max-len";
    int status = 0;
    for (int i = 0; i < 12 && !status; i++) {
        const int64_t w = (i == SB_B || i == SB_C || i == SB_DB || i == SB_DC) ? N : D;
        status = device_cuda_alloc(&sb->act[i], (size_t)(L * w) * 4, hint);
    }
    ScanArgs a;
    scan_args_init(&a, 1, L, D, N);
    sb->ws_bytes = scan_bwd_workspace_size_cuda(&a);
    struct {
        float **p;
        int64_t n;
    } f[] = {{&sb->A, D * N},   {&sb->Dsk, D},  {&sb->bias, D},  {&sb->ckpt, scan_ckpt_numel(&a)},
             {&sb->dA, D * N}, {&sb->dDsk, D}, {&sb->dbias, D}, {&sb->ws, (int64_t)sb->ws_bytes / 4}};
    for (size_t i = 0; i < sizeof f / sizeof f[0] && !status; i++)
        status = device_cuda_alloc((void **)f[i].p, (size_t)f[i].n * 4, hint);
    if (status) return status;
    // parameters as a fresh Mamba layer has them: A = −(1..N), D = 1, dt = softplus(bias) spread
    // over [0.001, 0.1] (log-uniform across channels)
    float *hA = malloc((size_t)(D * N) * 4), *hD = malloc((size_t)D * 4), *hb = malloc((size_t)D * 4);
    float *zero = calloc((size_t)(D * N), 4);
    if (!hA || !hD || !hb || !zero) status = ls_error(LS_ERR_NOMEM, "bench kernels: host memory");
    for (int64_t d = 0; !status && d < D; d++) {
        for (int64_t n = 0; n < N; n++) hA[d * N + n] = -(float)(n + 1);
        hD[d] = 1.0f;
        double dt = exp(log(0.001) + (log(0.1) - log(0.001)) * (double)d / (double)(D - 1));
        hb[d] = (float)(dt + log(-expm1(-dt)));
    }
    if (!status) status = device_cuda_copy(sb->A, hA, (size_t)(D * N) * 4, DEVICE_COPY_H2D);
    if (!status) status = device_cuda_copy(sb->Dsk, hD, (size_t)D * 4, DEVICE_COPY_H2D);
    if (!status) status = device_cuda_copy(sb->bias, hb, (size_t)D * 4, DEVICE_COPY_H2D);
    if (!status) status = device_cuda_copy(sb->dA, zero, (size_t)(D * N) * 4, DEVICE_COPY_H2D);
    if (!status) status = device_cuda_copy(sb->dDsk, zero, (size_t)D * 4, DEVICE_COPY_H2D);
    if (!status) status = device_cuda_copy(sb->dbias, zero, (size_t)D * 4, DEVICE_COPY_H2D);
    free(hA), free(hD), free(hb), free(zero);
    return status;
}

static int scan_bench_fill(ScanBench *sb, DType t) {
    if (sb->filled == (int)t + 1) return 0;
    uint64_t rng = 20261207;
    static const float lo[12] = {-1, -1, -2, -1, -1, 0, -1, 0, 0, 0, 0, 0};
    static const float hi[12] = {1, 1, 2, 1, 1, 0, 1, 0, 0, 0, 0, 0};
    int status = 0;
    for (int i = 0; i < 12 && !status; i++) {
        const int64_t w = (i == SB_B || i == SB_C || i == SB_DB || i == SB_DC) ? sb->N : sb->D;
        status = fill_device(sb->act[i], sb->L * w, t, lo[i], hi[i], &rng);
    }
    if (!status) sb->filled = (int)t + 1;
    return status;
}

static int scan_bench_fwd(ScanBench *sb, int64_t L, DType t) {
    ScanArgs a = scan_bench_args(sb, L, t);
    return scan_fwd_cuda(&a);
}

static int scan_bench_fwd_bwd(ScanBench *sb, int64_t L, DType t) {
    ScanArgs a = scan_bench_args(sb, L, t);
    int status = scan_fwd_cuda(&a);
    if (status) return status;
    a.out = NULL;
    a.dout = sb->act[SB_DOUT];
    a.du = sb->act[SB_DU], a.ddelta = sb->act[SB_DDELTA], a.dz = sb->act[SB_DZ];
    a.dB_ssm = sb->act[SB_DB], a.dC_ssm = sb->act[SB_DC];
    a.dA = sb->dA, a.dD_skip = sb->dDsk, a.ddelta_bias = sb->dbias;
    a.workspace = sb->ws, a.workspace_bytes = sb->ws_bytes;
    return scan_bwd_cuda(&a);
}

// Compulsory bytes of the scan (anchors README "The floor"): forward reads u, delta, z, B, C and
// writes out; the backward reads u, delta, z, dout, B, C and writes du, ddelta, dz, dB, dC.
static double scan_bytes_fwd(const ScanBench *sb, int64_t L, DType t) {
    return (double)dtype_size(t) * (double)L * (double)(4 * sb->D + 2 * sb->N);
}
static double scan_bytes_fwd_bwd(const ScanBench *sb, int64_t L, DType t) {
    return scan_bytes_fwd(sb, L, t) +
           (double)dtype_size(t) * (double)L * (double)(7 * sb->D + 4 * sb->N);
}


/*
 * Causal depthwise conv1d rows (kernels/conv.h): batch 1, D = 1024, K = 4, bias, SiLU, as in a
 * Mamba block of d_model 512. Buffers for the longest L in fp32 sizes (bf16 rows use half).
 */
typedef struct {
    int64_t L, D, K;
    void *x, *out, *dout, *dx;
    float *weight, *bias, *dweight, *dbias;
    int filled;
} ConvBench;

static void conv_bench_free(ConvBench *cb) {
    void *p[] = {cb->x, cb->out, cb->dout, cb->dx, cb->weight, cb->bias, cb->dweight, cb->dbias};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) device_cuda_free(p[i]);
    memset(cb, 0, sizeof *cb);
}

static int conv_bench_init(ConvBench *cb, int64_t L) {
    memset(cb, 0, sizeof *cb);
    cb->L = L, cb->D = 1024, cb->K = 4;
    const char *hint = "lower --max-len";
    const size_t act = (size_t)(L * cb->D) * 4, par = (size_t)(cb->D * cb->K) * 4;
    int status = 0;
    void **a[] = {&cb->x, &cb->out, &cb->dout, &cb->dx};
    for (size_t i = 0; i < 4 && !status; i++) status = device_cuda_alloc(a[i], act, hint);
    float **p[] = {&cb->weight, &cb->bias, &cb->dweight, &cb->dbias};
    for (size_t i = 0; i < 4 && !status; i++) status = device_cuda_alloc((void **)p[i], par, hint);
    uint64_t rng = 1207;
    if (!status) status = fill_device(cb->weight, cb->D * cb->K, DTYPE_F32, -0.5f, 0.5f, &rng);
    if (!status) status = fill_device(cb->bias, cb->D, DTYPE_F32, -0.5f, 0.5f, &rng);
    if (!status) status = device_cuda_memset(cb->dweight, 0, par);
    if (!status) status = device_cuda_memset(cb->dbias, 0, par);
    return status;
}

static int conv_bench_fill(ConvBench *cb, DType t) {
    if (cb->filled == (int)t + 1) return 0;
    uint64_t rng = 20261207;
    int status = fill_device(cb->x, cb->L * cb->D, t, -1, 1, &rng);
    if (!status) status = fill_device(cb->dout, cb->L * cb->D, t, -1, 1, &rng);
    if (!status) status = device_cuda_memset(cb->dx, 0, (size_t)(cb->L * cb->D) * dtype_size(t));
    if (!status) cb->filled = (int)t + 1;
    return status;
}

static ConvArgs conv_bench_args(const ConvBench *cb, int64_t L, DType t) {
    ConvArgs a;
    conv_args_init(&a, 1, L, cb->D, cb->K);
    a.silu = 1, a.dtype = t;
    a.x = cb->x, a.weight = cb->weight, a.bias = cb->bias, a.out = cb->out;
    return a;
}

static int conv_bench_fwd(ConvBench *cb, int64_t L, DType t) {
    ConvArgs a = conv_bench_args(cb, L, t);
    return conv_fwd_cuda(&a);
}

static int conv_bench_fwd_bwd(ConvBench *cb, int64_t L, DType t) {
    ConvArgs a = conv_bench_args(cb, L, t);
    int status = conv_fwd_cuda(&a);
    if (status) return status;
    a.out = NULL;
    a.dout = cb->dout, a.dx = cb->dx, a.dweight = cb->dweight, a.dbias = cb->dbias;
    return conv_bwd_cuda(&a);
}

// Compulsory bytes (kernels/dev/conv.cu, bench/NOTES-ops.md): the forward reads x and writes
// out; the backward reads x and dout and accumulates into dx (read + write).
static double conv_bytes_fwd(const ConvBench *cb, int64_t L, DType t) {
    return 2.0 * (double)dtype_size(t) * (double)(L * cb->D);
}
static double conv_bytes_fwd_bwd(const ConvBench *cb, int64_t L, DType t) {
    return 6.0 * (double)dtype_size(t) * (double)(L * cb->D);
}

/*
 * Attention rows (kernels/attention.h): batch 1, 8 heads × 64, causal, bf16 (the anchors' flash
 * attention workload); q, k, v, out, dout and the gradients contiguous (1, L, 8, 64).
 */
typedef struct {
    int64_t L;
    void *q, *k, *v, *out, *dout, *dq, *dk, *dv;
    float *lse;
    int filled;
} AttnBench;

enum { ATTN_HEADS = 8, ATTN_HEAD_DIM = 64 };

static void attn_bench_free(AttnBench *ab) {
    void *p[] = {ab->q, ab->k, ab->v, ab->out, ab->dout, ab->dq, ab->dk, ab->dv, ab->lse};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) device_cuda_free(p[i]);
    memset(ab, 0, sizeof *ab);
}

static int attn_bench_init(AttnBench *ab, int64_t L) {
    memset(ab, 0, sizeof *ab);
    ab->L = L;
    const size_t act = (size_t)(L * ATTN_HEADS * ATTN_HEAD_DIM) * 4;
    void **a[] = {&ab->q, &ab->k, &ab->v, &ab->out, &ab->dout, &ab->dq, &ab->dk, &ab->dv};
    int status = 0;
    for (size_t i = 0; i < 8 && !status; i++) status = device_cuda_alloc(a[i], act, "lower --max-len");
    if (!status)
        status = device_cuda_alloc((void **)&ab->lse, (size_t)(L * ATTN_HEADS) * 4, "lower --max-len");
    return status;
}

static int attn_bench_fill(AttnBench *ab, DType t) {
    if (ab->filled == (int)t + 1) return 0;
    uint64_t rng = 20261207;
    const int64_t n = ab->L * ATTN_HEADS * ATTN_HEAD_DIM;
    int status = 0;
    void *in[] = {ab->q, ab->k, ab->v, ab->dout};
    for (size_t i = 0; i < 4 && !status; i++) status = fill_device(in[i], n, t, -1, 1, &rng);
    void *g[] = {ab->dq, ab->dk, ab->dv};
    for (size_t i = 0; i < 3 && !status; i++)
        status = device_cuda_memset(g[i], 0, (size_t)n * dtype_size(t));
    if (!status) ab->filled = (int)t + 1;
    return status;
}

static AttentionShape attn_bench_shape(int64_t L, DType t) {
    AttentionShape s;
    memset(&s, 0, sizeof s);
    s.B = 1, s.L = L, s.H = ATTN_HEADS, s.hd = ATTN_HEAD_DIM, s.causal = 1, s.dtype = t;
    s.q = s.k = s.v = attention_view_contiguous(L, ATTN_HEADS, ATTN_HEAD_DIM);
    return s;
}

static int attn_bench_fwd(AttnBench *ab, int64_t L, DType t) {
    AttentionShape s = attn_bench_shape(L, t);
    return attention_fwd_cuda(ab->out, ab->lse, ab->q, ab->k, ab->v, &s);
}

static int attn_bench_fwd_bwd(AttnBench *ab, int64_t L, DType t) {
    AttentionShape s = attn_bench_shape(L, t);
    int status = attention_fwd_cuda(ab->out, ab->lse, ab->q, ab->k, ab->v, &s);
    if (status) return status;
    return attention_bwd_cuda(ab->dq, ab->dk, ab->dv, ab->dout, ab->q, ab->k, ab->v, ab->out,
                              ab->lse, &s);
}

// FLOPs as flash attention counts them: the forward's two L×L×hd products per head, halved by
// the causal mask; the backward 2.5 times the forward.
static double attn_flops_fwd(int64_t L) {
    return 4.0 * ATTN_HEADS * (double)L * (double)L * ATTN_HEAD_DIM * 0.5;
}
static double attn_flops_fwd_bwd(int64_t L) { return 3.5 * attn_flops_fwd(L); }

// ---------------------------------------------------------------------------------------------
// families and workloads

typedef struct {
    ScanBench scan;
    ConvBench conv;
    AttnBench attn;
} Buffers;

typedef enum { FAMILY_SCAN, FAMILY_CONV, FAMILY_ATTENTION, FAMILY_COUNT } Family;

static const int64_t scan_lengths[] = {4096, 16384, 65536, 262144, 1048576, 0};
static const int64_t attn_lengths[] = {1024, 4096, 16384, 65536, 0};

typedef struct {
    const char *name;
    const int64_t *lengths; // 0-terminated, ascending
    int dtypes;             // bit 0: f32 rows, bit 1: bf16 rows
} FamilyInfo;

static const FamilyInfo families[FAMILY_COUNT] = {
    [FAMILY_SCAN] = {"scan", scan_lengths, 3},
    [FAMILY_CONV] = {"conv", scan_lengths, 3},
    [FAMILY_ATTENTION] = {"attention", attn_lengths, 2},
};

static int family_init(Buffers *b, Family f, int64_t longest) {
    switch (f) {
    case FAMILY_SCAN: return scan_bench_init(&b->scan, longest);
    case FAMILY_CONV: return conv_bench_init(&b->conv, longest);
    default: return attn_bench_init(&b->attn, longest);
    }
}
static int family_fill(Buffers *b, Family f, DType t) {
    switch (f) {
    case FAMILY_SCAN: return scan_bench_fill(&b->scan, t);
    case FAMILY_CONV: return conv_bench_fill(&b->conv, t);
    default: return attn_bench_fill(&b->attn, t);
    }
}
static void family_free(Buffers *b) {
    scan_bench_free(&b->scan);
    conv_bench_free(&b->conv);
    attn_bench_free(&b->attn);
}

static int run_scan_fwd(Buffers *b, int64_t L, DType t) { return scan_bench_fwd(&b->scan, L, t); }
static int run_scan_fwd_bwd(Buffers *b, int64_t L, DType t) {
    return scan_bench_fwd_bwd(&b->scan, L, t);
}
static int run_conv_fwd(Buffers *b, int64_t L, DType t) { return conv_bench_fwd(&b->conv, L, t); }
static int run_conv_fwd_bwd(Buffers *b, int64_t L, DType t) {
    return conv_bench_fwd_bwd(&b->conv, L, t);
}
static int run_attn_fwd(Buffers *b, int64_t L, DType t) { return attn_bench_fwd(&b->attn, L, t); }
static int run_attn_fwd_bwd(Buffers *b, int64_t L, DType t) {
    return attn_bench_fwd_bwd(&b->attn, L, t);
}
static double bytes_scan_fwd(const Buffers *b, int64_t L, DType t) {
    return scan_bytes_fwd(&b->scan, L, t);
}
static double bytes_scan_fwd_bwd(const Buffers *b, int64_t L, DType t) {
    return scan_bytes_fwd_bwd(&b->scan, L, t);
}
static double bytes_conv_fwd(const Buffers *b, int64_t L, DType t) {
    return conv_bytes_fwd(&b->conv, L, t);
}
static double bytes_conv_fwd_bwd(const Buffers *b, int64_t L, DType t) {
    return conv_bytes_fwd_bwd(&b->conv, L, t);
}

/*
 * One row per (workload, dtype, L): a run function (one call, queued on the default stream),
 * its compulsory bytes (memory-bound ops) or FLOPs (attention), and the peer's op in the peers
 * file (NULL: the anchors have none; the bandwidth fraction is then the measure).
 */
typedef struct {
    const char *name;
    Family family;
    const char *peer, *peer_op;
    int (*run)(Buffers *, int64_t L, DType t);
    double (*bytes)(const Buffers *, int64_t L, DType t);
    double (*flops)(int64_t L);
} Workload;

static const Workload workloads[] = {
    {"scan_fwd", FAMILY_SCAN, "mamba_ssm_cuda", "mamba1_scan_fwd", run_scan_fwd, bytes_scan_fwd,
     NULL},
    {"scan_fwd_bwd", FAMILY_SCAN, "mamba_ssm_cuda", "mamba1_scan_fwd_bwd", run_scan_fwd_bwd,
     bytes_scan_fwd_bwd, NULL},
    {"conv_fwd", FAMILY_CONV, NULL, NULL, run_conv_fwd, bytes_conv_fwd, NULL},
    {"conv_fwd_bwd", FAMILY_CONV, NULL, NULL, run_conv_fwd_bwd, bytes_conv_fwd_bwd, NULL},
    {"attn_fwd", FAMILY_ATTENTION, "torch_sdpa", "attn_causal_fwd", run_attn_fwd, NULL,
     attn_flops_fwd},
    {"attn_fwd_bwd", FAMILY_ATTENTION, "torch_sdpa", "attn_causal_fwd_bwd", run_attn_fwd_bwd, NULL,
     attn_flops_fwd_bwd},
};
enum { N_WORKLOADS = (int)(sizeof workloads / sizeof workloads[0]) };

typedef struct {
    const char *workload;
    DType dtype;
    int64_t L;
    double ms, gbps, frac, tflops; // gbps/frac < 0: not memory-bound; tflops < 0: none
    const char *peer;
    double peer_ms; // < 0: none
} BenchRow;

static double peer_ms(const cJSON *peers, const char *peer, const char *op, DType t, int64_t L) {
    const char *dt = t == DTYPE_BF16 ? "bfloat16" : "float32";
    const cJSON *e;
    cJSON_ArrayForEach(e, peers) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "peer");
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(e, "op");
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(e, "dtype");
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(e, "L");
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "ms");
        if (cJSON_IsString(p) && cJSON_IsString(o) && cJSON_IsString(d) && cJSON_IsNumber(l) &&
            cJSON_IsNumber(m) && !strcmp(p->valuestring, peer) && !strcmp(o->valuestring, op) &&
            !strcmp(d->valuestring, dt) && (int64_t)l->valuedouble == L)
            return m->valuedouble;
    }
    return -1.0;
}

// A peers file: a JSON array of rows, or (@p any_shape) an object holding "rows" too.
int bench_load_peers(const char *path, cJSON **out, int any_shape) {
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) return ls_error(LS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *text = NULL;
    size_t len = 0, cap = 0;
    int status = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? 2 * cap : 65536;
            if (cap > ((size_t)64 << 20)) {
                status = ls_error(LS_ERR_FORMAT, "%s: larger than 64 MiB", path);
                break;
            }
            char *t = realloc(text, cap);
            if (!t) {
                status = ls_error(LS_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            text = t;
        }
        size_t got = fread(text + len, 1, 4096, fp);
        len += got;
        if (got < 4096) break;
    }
    if (!status && ferror(fp)) status = ls_error(LS_ERR_IO, "%s: read error", path);
    fclose(fp);
    if (!status) {
        text[len] = '\0';
        cJSON *j = cJSON_Parse(text);
        if (!j || !(cJSON_IsArray(j) || (any_shape && cJSON_IsObject(j)))) {
            const char *at = cJSON_GetErrorPtr();
            status = ls_error(LS_ERR_FORMAT, "%s:byte %lld: not a JSON array of peer rows", path,
                              (long long)(j || !at ? 0 : at - text));
            cJSON_Delete(j);
        } else {
            *out = j;
        }
    }
    free(text);
    return status;
}


// Median of `repeat` event-timed runs of fn after 2 warm-ups, the L2 flushed before each.
static float median_f(float *v, int n) {
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
            float t = v[j];
            v[j] = v[j - 1], v[j - 1] = t;
        }
    return n % 2 ? v[n / 2] : 0.5f * (v[n / 2 - 1] + v[n / 2]);
}

enum { FLUSH_BYTES = 256 << 20, MAX_REPEAT = 1000 };

// Median of `repeat` event-timed runs after 2 warm-ups, the L2 flushed before each.
static int time_median(DeviceTimer *timer, void *flush, int repeat, Buffers *b,
                       const Workload *w, int64_t L, DType t, double *ms_out) {
    float *ms = malloc((size_t)repeat * sizeof *ms);
    if (!ms) return ls_error(LS_ERR_NOMEM, "bench kernels: host memory");
    int status = 0;
    for (int r = -2; r < repeat && !status; r++) {
        float one = 0;
        status = device_cuda_memset(flush, r & 0xff, FLUSH_BYTES);
        if (!status) status = device_cuda_timer_start(timer, NULL);
        if (!status) status = w->run(b, L, t);
        if (!status) status = device_cuda_timer_stop(timer, NULL, &one);
        if (!status && r >= 0) ms[r] = one;
    }
    if (!status) *ms_out = median_f(ms, repeat);
    free(ms);
    return status;
}

static int copy_bandwidth(DeviceTimer *timer, int repeat, double *gbps) {
    const size_t bytes = (size_t)1 << 30;
    void *a = NULL, *b = NULL;
    float *ms = malloc((size_t)repeat * sizeof *ms);
    int status = ms ? 0 : ls_error(LS_ERR_NOMEM, "bench kernels: host memory");
    if (!status) status = device_cuda_alloc(&a, bytes, "free GPU memory");
    if (!status) status = device_cuda_alloc(&b, bytes, "free GPU memory");
    if (!status) status = device_cuda_memset(a, 1, bytes);
    for (int r = -2; r < repeat && !status; r++) {
        float one = 0;
        status = device_cuda_timer_start(timer, NULL);
        if (!status) status = device_cuda_copy(b, a, bytes, DEVICE_COPY_D2D);
        if (!status) status = device_cuda_timer_stop(timer, NULL, &one);
        if (!status && r >= 0) ms[r] = one;
    }
    if (!status) *gbps = 2.0 * (double)bytes / (median_f(ms, repeat) * 1e-3) / 1e9;
    device_cuda_free(a);
    device_cuda_free(b);
    free(ms);
    return status;
}

static void fmt_or_dash(char *buf, size_t size, const char *fmt, double v) {
    if (v < 0) snprintf(buf, size, "-");
    else snprintf(buf, size, fmt, v);
}

static void print_row(FILE *fp, const BenchRow *r, int csv) {
    char peer[32], ratio[32], gbps[32], frac[32], tflops[32];
    fmt_or_dash(peer, sizeof peer, "%.3f", r->peer_ms);
    fmt_or_dash(ratio, sizeof ratio, "%.2f", r->peer_ms >= 0 ? r->peer_ms / r->ms : -1);
    fmt_or_dash(gbps, sizeof gbps, "%.0f", r->gbps);
    fmt_or_dash(frac, sizeof frac, csv ? "%.3f" : "%.1f%%", r->frac < 0 ? -1 : (csv ? 1 : 100) * r->frac);
    fmt_or_dash(tflops, sizeof tflops, "%.1f", r->tflops);
    const int has_peer = r->peer_ms >= 0;
    if (csv)
        fprintf(fp, "%s,%s,%lld,%.4f,%s,%s,%s,%s,%s,%s\n", r->workload, dtype_name(r->dtype),
                (long long)r->L, r->ms, r->gbps < 0 ? "" : gbps, r->frac < 0 ? "" : frac,
                r->tflops < 0 ? "" : tflops, has_peer ? r->peer : "", has_peer ? peer : "",
                has_peer ? ratio : "");
    else
        fprintf(fp, "%-13s %-5s %9lld %10.3f %8s %8s %8s  %-15s %9s %8s\n", r->workload,
                dtype_name(r->dtype), (long long)r->L, r->ms, gbps, frac, tflops,
                has_peer ? r->peer : "-", peer, ratio);
}

int bench_kernels(int argc, char **argv) {
    static const struct option long_options[] = {
        {"repeat", required_argument, NULL, OPT_REPEAT},
        {"peers", required_argument, NULL, OPT_PEERS},
        {"csv", required_argument, NULL, OPT_CSV},
        {"json", no_argument, NULL, OPT_JSON},
        {"max-len", required_argument, NULL, OPT_MAX_LEN},
        {"len", required_argument, NULL, OPT_LEN},
        {"workload", required_argument, NULL, OPT_WORKLOAD},
        {"dtype", required_argument, NULL, OPT_DTYPE},
        CLI_COMMON_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    CommonOptions common;
    cli_common_default(&common);
    int repeat = 10, json = 0, c, status, ordinal = 0;
    int64_t max_len = INT64_MAX, only_len = 0;
    int dtypes = 3; // bit 0: f32, bit 1: bf16
    const char *peers_path = NULL, *csv_path = NULL, *only_workload = NULL;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+o:h", long_options, NULL)) != -1) {
        status = cli_common_parse(c, optarg, &common);
        if (status < 0) return cli_fail("bench", status);
        if (status == 1) continue;
        switch (c) {
        case 'h': bench_usage(stdout); return EXIT_OK;
        case OPT_REPEAT:
            status = cli_parse_int("--repeat", optarg, 10, MAX_REPEAT, &repeat);
            if (status < 0) return cli_fail("bench", status);
            break;
        case OPT_PEERS: peers_path = optarg; break;
        case OPT_CSV: csv_path = optarg; break;
        case OPT_JSON: json = 1; break;
        case OPT_MAX_LEN:
            status = cli_parse_int64("--max-len", optarg, 1, INT64_MAX, &max_len);
            if (status < 0) return cli_fail("bench", status);
            break;
        case OPT_LEN:
            status = cli_parse_int64("--len", optarg, 1, INT64_MAX, &only_len);
            if (status < 0) return cli_fail("bench", status);
            break;
        case OPT_WORKLOAD: only_workload = optarg; break;
        case OPT_DTYPE:
            if (!strcmp(optarg, "f32")) dtypes = 1;
            else if (!strcmp(optarg, "bf16")) dtypes = 2;
            else return cli_usage_error("bench", "--dtype %s: must be f32 or bf16", optarg);
            break;
        default:
            return cli_usage_error("bench", "unknown or incomplete option '%s'",
                                   argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_usage_error("bench", "bench kernels takes no file arguments");
    cli_common_apply(&common);
    if (common.device.kind == DEVICE_CUDA) ordinal = common.device.ordinal;

    cJSON *peers = NULL;
    Buffers buffers;
    memset(&buffers, 0, sizeof buffers);
    DeviceTimer *timer = NULL;
    void *flush = NULL;
    BenchRow *rows = NULL;
    OutputFile out = {0}, csv = {0};
    int nrows = 0, count = 0;
    char device[256];
    double copy_gbps = 0;

    status = device_cuda_count(&count);
    if (status == 0 && count <= ordinal)
        status = ls_error(LS_ERR_NO_CUDA, "no CUDA device %d (%d found)", ordinal, count);
    if (status < 0) {
        ls_error_prefix("kernels");
        goto fail;
    }
    if ((status = device_cuda_describe(ordinal, device, sizeof device)) < 0) goto fail;
    if (peers_path && (status = bench_load_peers(peers_path, &peers, 0)) < 0) goto fail;
    if (only_workload) {
        int found = 0;
        for (int i = 0; i < N_WORKLOADS; i++) found |= !strcmp(workloads[i].name, only_workload);
        if (!found) {
            status = ls_error(LS_ERR_USAGE, "--workload %s: no such workload (scan_fwd, "
                                            "scan_fwd_bwd, conv_fwd, conv_fwd_bwd, attn_fwd, "
                                            "attn_fwd_bwd)", only_workload);
            goto fail;
        }
    }
    // which (workload, dtype, L) rows run, and each family's longest L
    int64_t longest[FAMILY_COUNT] = {0};
    int wanted = 0;
    for (int wi = 0; wi < N_WORKLOADS; wi++) {
        const Workload *w = &workloads[wi];
        if (only_workload && strcmp(only_workload, w->name)) continue;
        if (!(families[w->family].dtypes & dtypes)) continue;
        for (const int64_t *L = families[w->family].lengths; *L; L++)
            if (*L <= max_len && (!only_len || *L == only_len)) {
                if (*L > longest[w->family]) longest[w->family] = *L;
                wanted++;
            }
    }
    if (wanted == 0) {
        status = ls_error(LS_ERR_USAGE, "--max-len / --len / --dtype / --workload: no row has "
                                        "them (scan and conv rows: L = 4096 … 1048576, f32 and "
                                        "bf16; attention rows: L = 1024 … 65536, bf16)");
        goto fail;
    }
    rows = calloc((size_t)(2 * wanted), sizeof *rows);
    if (!rows) {
        status = ls_error(LS_ERR_NOMEM, "bench kernels: host memory");
        goto fail;
    }
    if ((status = device_cuda_timer_init(&timer)) < 0) goto fail;
    if ((status = device_cuda_alloc(&flush, FLUSH_BYTES, "free GPU memory")) < 0) goto fail;
    if ((status = copy_bandwidth(timer, repeat, &copy_gbps)) < 0) goto fail;
    for (int f = 0; f < FAMILY_COUNT; f++) {
        if (longest[f] == 0) continue;
        if ((status = family_init(&buffers, (Family)f, longest[f])) < 0) goto fail;
        for (int ti = 0; ti < 2; ti++) {
            const DType t = ti ? DTYPE_BF16 : DTYPE_F32;
            if (!(dtypes & families[f].dtypes & (1 << ti))) continue;
            if ((status = family_fill(&buffers, (Family)f, t)) < 0) goto fail;
            for (int wi = 0; wi < N_WORKLOADS; wi++) {
                const Workload *w = &workloads[wi];
                if ((int)w->family != f || (only_workload && strcmp(only_workload, w->name)))
                    continue;
                for (const int64_t *Lp = families[f].lengths; *Lp; Lp++) {
                    const int64_t L = *Lp;
                    if (L > longest[f] || (only_len && L != only_len)) continue;
                    BenchRow *r = &rows[nrows];
                    r->workload = w->name, r->dtype = t, r->L = L;
                    status = time_median(timer, flush, repeat, &buffers, w, L, t, &r->ms);
                    if (status < 0) goto fail;
                    r->gbps = w->bytes ? w->bytes(&buffers, L, t) / (r->ms * 1e-3) / 1e9 : -1;
                    r->frac = w->bytes ? r->gbps / copy_gbps : -1;
                    r->tflops = w->flops ? w->flops(L) / (r->ms * 1e-3) / 1e12 : -1;
                    r->peer = w->peer;
                    r->peer_ms = peers && w->peer ? peer_ms(peers, w->peer, w->peer_op, t, L) : -1;
                    nrows++;
                }
            }
        }
        family_free(&buffers);
    }

    if ((status = cli_output_open(&out, common.output)) < 0) goto fail;
    if (json) {
        fputs("[\n", out.fp);
        for (int i = 0; i < nrows; i++) {
            const BenchRow *r = &rows[i];
            fprintf(out.fp,
                    "  {\"workload\": \"%s\", \"dtype\": \"%s\", \"L\": %lld, \"ms\": %.4f, "
                    "\"copy_GBps\": %.1f, \"device\": \"%s\"",
                    r->workload, dtype_name(r->dtype), (long long)r->L, r->ms, copy_gbps, device);
            if (r->gbps >= 0)
                fprintf(out.fp, ", \"GBps\": %.1f, \"of_copy\": %.4f", r->gbps, r->frac);
            if (r->tflops >= 0) fprintf(out.fp, ", \"TFLOPs\": %.2f", r->tflops);
            if (r->peer_ms >= 0)
                fprintf(out.fp, ", \"peer\": \"%s\", \"peer_ms\": %.4f, \"speedup\": %.3f", r->peer,
                        r->peer_ms, r->peer_ms / r->ms);
            fprintf(out.fp, "}%s\n", i + 1 < nrows ? "," : "");
        }
        fputs("]\n", out.fp);
    } else {
        fprintf(out.fp, "# longscan bench kernels: %s\n", device);
        fprintf(out.fp, "# device-to-device copy %.0f GB/s (read + write, 1 GiB); ms = median of "
                        "%d event-timed calls, L2 flushed\n", copy_gbps, repeat);
        fprintf(out.fp, "%-13s %-5s %9s %10s %8s %8s %8s  %-15s %9s %8s\n", "workload", "dtype",
                "L", "ms", "GB/s", "of_copy", "TFLOP/s", "peer", "peer_ms", "speedup");
        for (int i = 0; i < nrows; i++) print_row(out.fp, &rows[i], 0);
    }
    if ((status = cli_output_commit(&out)) < 0) goto fail;
    if (csv_path) {
        if ((status = cli_output_open(&csv, csv_path)) < 0) goto fail;
        fputs("workload,dtype,L,ms,GBps,of_copy,TFLOPs,peer,peer_ms,speedup\n", csv.fp);
        for (int i = 0; i < nrows; i++) print_row(csv.fp, &rows[i], 1);
        if ((status = cli_output_commit(&csv)) < 0) goto fail;
    }
    status = 0;
fail:
    cli_output_abort(&out);
    cli_output_abort(&csv);
    free(rows);
    family_free(&buffers);
    device_cuda_free(flush);
    device_cuda_timer_free(timer);
    cJSON_Delete(peers);
    return status ? cli_fail("bench", status) : EXIT_OK;
}

