/*
 * attention.cu (kernels/dev) — validation and timing of the bf16 attention kernels of
 * kernels/cuda/attention.cu (included here, so every template configuration can be timed);
 * not part of the build or the tests (STYLE 38: speed is measured here, never in a test).
 *
 * Versions (warps per block of the forward / dq / dk-dv kernels; each warp owns 16 rows):
 *   1  4 / 4 / 4   the configuration linked into longscan (ATTN_*_WARPS defaults)
 *   2  8 / 8 / 8   twice the rows per block: half the K/V (Q/dO) tile traffic from L2,
 *                  fewer resident blocks (registers)
 *   3  8 / 4 / 4   8-warp forward, 4-warp backward
 *
 * Build (after `make`, which builds build/liblongscan.a with the CPU spec):
 *   nvcc -O3 -std=c++17 -I. -gencode arch=compute_90,code=sm_90 -Xcompiler -fopenmp \
 *       -DLS_CUDA_ARCH_NAME='"sm_90"' kernels/dev/attention.cu build/liblongscan.a \
 *       -o build/attention_dev -lcublas
 * Run: build/attention_dev [L...]   (default 4096 16384 65536)
 *
 * Workload: the anchors' (../shared/anchors/README.md): batch 1, 8 heads × 64, bf16, causal,
 * q, k, v read from one packed (L, 3, H, hd) buffer (the model's layout). For each version:
 * validation against the CPU spec at L = 1024 (out, dq, dk, dv: max |diff| / max |ref|), then
 * per L the forward and forward + backward: median of 20 event-timed calls after 3 warm-ups,
 * L2 flushed (64 MiB memset) before each call, outside the timed region. TFLOP/s count the
 * useful work the way FlashAttention reports it: forward 4·L²·hd·H/2 (causal), backward 2.5×
 * the forward (our deterministic backward does 3.5×: S and dP are computed twice).
 */
#include "kernels/cuda/attention.cu"

#include <stdio.h>
#include <stdlib.h>

#include "kernels/dtype.h"

#define CK(x)                                                                                  \
    do {                                                                                       \
        cudaError_t e_ = (x);                                                                  \
        if (e_ != cudaSuccess) {                                                               \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

typedef cudaError_t (*Launch)(const AttnArgs &, int64_t, cudaStream_t);

typedef struct {
    const char *name;
    Launch fwd, dq, dkdv;
} Version;

static const Version versions[] = {
    {"v1 fwd4 dq4 dkdv4", attn_fwd_bf16_launch<64, 4>, attn_dq_bf16_launch<64, 4>,
     attn_dkdv_bf16_launch<64, 4>},
    {"v2 fwd8 dq8 dkdv8", attn_fwd_bf16_launch<64, 8>, attn_dq_bf16_launch<64, 8>,
     attn_dkdv_bf16_launch<64, 8>},
    {"v3 fwd8 dq4 dkdv4", attn_fwd_bf16_launch<64, 8>, attn_dq_bf16_launch<64, 4>,
     attn_dkdv_bf16_launch<64, 4>},
};

static const int H = 8, HD = 64;

static float frand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}

/* bf16 device buffer from floats (rounded) */
static uint16_t *upload_bf16(const float *x, int64_t n) {
    uint16_t *h = (uint16_t *)malloc((size_t)n * 2), *d = NULL;
    for (int64_t i = 0; i < n; i++) h[i] = bf16_from_float(x[i]);
    CK(cudaMalloc(&d, (size_t)n * 2));
    CK(cudaMemcpy(d, h, (size_t)n * 2, cudaMemcpyHostToDevice));
    free(h);
    return d;
}

static void download_bf16(float *x, const uint16_t *d, int64_t n) {
    uint16_t *h = (uint16_t *)malloc((size_t)n * 2);
    CK(cudaMemcpy(h, d, (size_t)n * 2, cudaMemcpyDeviceToHost));
    for (int64_t i = 0; i < n; i++) x[i] = bf16_to_float(h[i]);
    free(h);
}

/* max |a − b| / max |b| over n elements */
static double rel_err(const float *a, const float *b, int64_t n, int64_t stride, int64_t width) {
    double mx = 0, md = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t at = (i / width) * stride + i % width;
        double d = fabs((double)a[at] - b[at]);
        if (!(d <= md)) md = d; // NaN wins
        if (fabs(b[at]) > mx) mx = fabs(b[at]);
    }
    return md / (mx > 0 ? mx : 1);
}

static AttnArgs make_args(int64_t L, const uint16_t *qkv, uint16_t *out, float *lse,
                          uint16_t *dout, uint16_t *dqkv) {
    AttentionShape s = {1, L, H, HD, 1, 0.0f, NULL, attention_view_packed(L, 3, H, HD),
                        attention_view_packed(L, 3, H, HD), attention_view_packed(L, 3, H, HD),
                        DTYPE_BF16, NULL};
    AttnArgs a;
    attn_args_fill(&a, &s);
    a.q = qkv, a.k = qkv + H * HD, a.v = qkv + 2 * H * HD;
    a.o = out, a.lse_out = lse, a.out = out, a.lse = lse, a.dout = dout;
    a.dq = dqkv, a.dk = dqkv + H * HD, a.dv = dqkv + 2 * H * HD;
    return a;
}

static int validate(const Version *v) {
    const int64_t L = 1024, n = L * H * HD;
    uint64_t seed = 42;
    float *qkv = (float *)malloc(3 * n * 4), *dout = (float *)malloc(n * 4);
    for (int64_t i = 0; i < 3 * n; i++) qkv[i] = bf16_round(2.0f * frand(&seed));
    for (int64_t i = 0; i < n; i++) dout[i] = bf16_round(frand(&seed));
    AttentionShape s = {1, L, H, HD, 1, 0.0f, NULL, attention_view_packed(L, 3, H, HD),
                        attention_view_packed(L, 3, H, HD), attention_view_packed(L, 3, H, HD),
                        DTYPE_F32, NULL};
    float *out = (float *)malloc(n * 4), *lse = (float *)malloc(L * H * 4);
    float *g = (float *)calloc(3 * n, 4), *got = (float *)malloc(3 * n * 4);
    if (attention_fwd_cpu(out, lse, qkv, qkv + H * HD, qkv + 2 * H * HD, &s) ||
        attention_bwd_cpu(g, g + H * HD, g + 2 * H * HD, dout, qkv, qkv + H * HD,
                          qkv + 2 * H * HD, out, lse, &s)) {
        fprintf(stderr, "CPU spec: %s\n", ls_error_message());
        exit(1);
    }
    // the backward gets the CPU's out rounded to bf16 (what it would see), the GPU's lse
    uint16_t *d_qkv = upload_bf16(qkv, 3 * n), *d_dout = upload_bf16(dout, n), *d_out, *d_g;
    float *d_lse;
    CK(cudaMalloc(&d_out, n * 2));
    CK(cudaMalloc(&d_g, 3 * n * 2));
    CK(cudaMalloc(&d_lse, L * H * 4));
    CK(cudaMemset(d_g, 0, 3 * n * 2));
    AttnArgs a = make_args(L, d_qkv, d_out, d_lse, d_dout, d_g);
    CK(v->fwd(a, 1, 0));
    CK(cudaDeviceSynchronize());
    download_bf16(got, d_out, n);
    double e_out = rel_err(got, out, n, n, n);
    uint16_t *d_outin = upload_bf16(out, n);
    a.out = d_outin;
    CK(v->dq(a, 1, 0));
    CK(v->dkdv(a, 1, 0));
    CK(cudaDeviceSynchronize());
    download_bf16(got, d_g, 3 * n);
    double e[3];
    for (int t = 0; t < 3; t++) // tensor t: width H·HD at offset t·H·HD of each 3·H·HD row
        e[t] = rel_err(got + t * H * HD, g + t * H * HD, L * H * HD, 3 * H * HD, H * HD);
    int ok = e_out < 2e-2 && e[0] < 2e-2 && e[1] < 2e-2 && e[2] < 2e-2;
    printf("%-20s validate L=1024 causal: out %.2e dq %.2e dk %.2e dv %.2e (max|diff|/max|ref|)"
           " %s\n", v->name, e_out, e[0], e[1], e[2], ok ? "ok" : "FAIL");
    cudaFree(d_qkv), cudaFree(d_dout), cudaFree(d_out), cudaFree(d_g), cudaFree(d_lse);
    cudaFree(d_outin);
    free(qkv), free(dout), free(out), free(lse), free(g), free(got);
    return ok;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int64_t Ls[8] = {4096, 16384, 65536};
    int nL = 3;
    if (argc > 1) {
        nL = 0;
        for (int i = 1; i < argc && nL < 8; i++) Ls[nL++] = atoll(argv[i]);
    }
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    printf("# %s, %d SMs, L2 %d MiB; B=1 H=%d hd=%d bf16 causal, packed qkv\n", prop.name,
           prop.multiProcessorCount, prop.l2CacheSize >> 20, H, HD);
    const int nv = sizeof versions / sizeof versions[0];
    for (int i = 0; i < nv; i++) validate(&versions[i]);

    void *flush;
    const size_t flush_bytes = (size_t)64 << 20;
    CK(cudaMalloc(&flush, flush_bytes));
    cudaEvent_t t0, t1;
    CK(cudaEventCreate(&t0));
    CK(cudaEventCreate(&t1));
    printf("%-20s %7s %10s %10s %10s %10s\n", "version", "L", "fwd ms", "fwd TF/s", "f+b ms",
           "f+b TF/s");
    for (int li = 0; li < nL; li++) {
        const int64_t L = Ls[li], n = L * H * HD;
        uint64_t seed = 7 + li;
        float *h = (float *)malloc(3 * n * 4);
        for (int64_t i = 0; i < 3 * n; i++) h[i] = frand(&seed);
        uint16_t *d_qkv = upload_bf16(h, 3 * n), *d_dout = upload_bf16(h, n), *d_out, *d_g;
        float *d_lse;
        CK(cudaMalloc(&d_out, n * 2));
        CK(cudaMalloc(&d_g, 3 * n * 2));
        CK(cudaMalloc(&d_lse, L * H * 4));
        CK(cudaMemset(d_g, 0, 3 * n * 2));
        AttnArgs a = make_args(L, d_qkv, d_out, d_lse, d_dout, d_g);
        const double flop_fwd = 4.0 * L * L * HD * H / 2;
        for (int vi = 0; vi < nv; vi++) {
            const Version *v = &versions[vi];
            float ms[2][20];
            for (int mode = 0; mode < 2; mode++)
                for (int r = -3; r < 20; r++) {
                    CK(cudaMemsetAsync(flush, r & 0xff, flush_bytes, 0));
                    CK(cudaEventRecord(t0, 0));
                    CK(v->fwd(a, 1, 0));
                    if (mode) {
                        CK(v->dq(a, 1, 0));
                        CK(v->dkdv(a, 1, 0));
                    }
                    CK(cudaEventRecord(t1, 0));
                    CK(cudaEventSynchronize(t1));
                    if (r >= 0) CK(cudaEventElapsedTime(&ms[mode][r], t0, t1));
                }
            qsort(ms[0], 20, sizeof(float), cmp_float);
            qsort(ms[1], 20, sizeof(float), cmp_float);
            double f = (ms[0][9] + ms[0][10]) / 2, fb = (ms[1][9] + ms[1][10]) / 2;
            printf("%-20s %7lld %10.3f %10.1f %10.3f %10.1f   (fwd min %.3f max %.3f; f+b min "
                   "%.3f max %.3f)\n",
                   v->name, (long long)L, f, flop_fwd / f * 1e-9, fb, 3.5 * flop_fwd / fb * 1e-9,
                   ms[0][0], ms[0][19], ms[1][0], ms[1][19]);
            fflush(stdout);
        }
        cudaFree(d_qkv), cudaFree(d_dout), cudaFree(d_out), cudaFree(d_g), cudaFree(d_lse);
        free(h);
    }
    printf("# peers (anchors, H100 80GB HBM3, PyTorch SDPA flash): fwd 0.101 / 0.735 / 9.613 ms,"
           " fwd+bwd 0.551 / 2.380 / 34.97 ms at L = 4096 / 16384 / 65536\n");
    return 0;
}
