/*
 * conv.cu — harness of the CUDA causal depthwise conv1d (kernels/cuda/conv.cu, the linked
 * version): validates it against the CPU specification (kernels/cpu/conv.c, linked from the
 * library, not copied), then times forward, backward and forward + backward at B = 1,
 * D = 1024, K = 4, SiLU, bias (Mamba's shape), L = 1,048,576 by default, fp32 and bf16, and
 * prints each median next to its bandwidth floor: the bytes the op's contract must move
 * (forward: read x, write out; backward: read x and dout, read and write dx, which accumulates)
 * over the device-to-device copy bandwidth measured in the same run. Not part of the build or
 * the tests (STYLE 3.10); speed numbers come from here, never from a test.
 *
 * Versions (the linked kernel; earlier ones are described, their numbers in bench/NOTES-ops.md):
 *   1 — one thread per 4 channels × a chunk of tokens (128 forward, 256 backward), taps in
 *       registers, deterministic dweight via per-chunk partial sums in double. Backward 1.74x
 *       its floor on an H100: ~2 memory round trips per token (x/dout, then dx).
 *   2 — (linked) each token's loads (x, dout, the dx row it completes) issued one token ahead.
 *
 * Build (after `make build/liblongscan.a` with nvcc on PATH) and run on the GPU machine:
 *     nvcc -O3 -std=c++17 -I. -gencode arch=compute_90,code=sm_90 kernels/dev/conv.cu \
 *         build/liblongscan.a -Xcompiler -fopenmp -lcublas -lcublasLt -o build/conv_dev
 *     build/conv_dev [L [D [repeats]]]        (defaults 1048576 1024 20)
 * Timing: CUDA events around each call after 3 warm-up calls; median of `repeats` (>= 10).
 * The inputs are 4 GiB (fp32) each, far above the 50 MB L2, so no flush is needed between
 * repeats; they are random (never zeros), filled on the device.
 */
#include <cuda_runtime.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/conv.h"

#define CHECK(x)                                                                               \
    do {                                                                                       \
        cudaError_t e_ = (x);                                                                  \
        if (e_ != cudaSuccess) {                                                               \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)
#define LS(x)                                                                                  \
    do {                                                                                       \
        if ((x) != 0) {                                                                        \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, ls_error_message());    \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

// random values in [-1, 1) from a hash of the index (fp32 storage or bf16 storage)
__global__ void fill_kernel(void *p, size_t n, unsigned seed, int bf16) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        unsigned h = (unsigned)i * 2654435761u ^ seed;
        h ^= h >> 15, h *= 2246822519u, h ^= h >> 13, h *= 3266489917u, h ^= h >> 16;
        float v = (float)(h >> 8) * (2.0f / 16777216.0f) - 1.0f;
        if (bf16) {
            unsigned u;
            memcpy(&u, &v, 4);
            ((unsigned short *)p)[i] = (unsigned short)(u >> 16);
        } else {
            ((float *)p)[i] = v;
        }
    }
}

static void fill(void *p, size_t n, unsigned seed, int bf16) {
    fill_kernel<<<4096, 256>>>(p, n, seed, bf16);
    CHECK(cudaGetLastError());
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

static float median(float *v, int n) {
    qsort(v, n, sizeof *v, cmp_float);
    return n % 2 ? v[n / 2] : 0.5f * (v[n / 2 - 1] + v[n / 2]);
}

typedef enum { T_FWD, T_BWD, T_BOTH } TimeWhat;

// median ms of `reps` event-timed calls (after 3 warm-ups)
static float time_conv(ConvArgs *a, TimeWhat what, int reps) {
    cudaEvent_t e0, e1;
    CHECK(cudaEventCreate(&e0));
    CHECK(cudaEventCreate(&e1));
    float *ms = (float *)malloc(reps * sizeof(float));
    for (int i = -3; i < reps; i++) {
        CHECK(cudaEventRecord(e0));
        if (what != T_BWD) LS(conv_fwd_cuda(a));
        if (what != T_FWD) LS(conv_bwd_cuda(a));
        CHECK(cudaEventRecord(e1));
        CHECK(cudaEventSynchronize(e1));
        if (i >= 0) CHECK(cudaEventElapsedTime(&ms[i], e0, e1));
    }
    float m = median(ms, reps);
    free(ms);
    CHECK(cudaEventDestroy(e0));
    CHECK(cudaEventDestroy(e1));
    return m;
}

// device-to-device copy bandwidth, bytes read + written per second (median of reps)
static double copy_bandwidth(void *dst, const void *src, size_t bytes, int reps) {
    cudaEvent_t e0, e1;
    CHECK(cudaEventCreate(&e0));
    CHECK(cudaEventCreate(&e1));
    float *ms = (float *)malloc(reps * sizeof(float));
    for (int i = -3; i < reps; i++) {
        CHECK(cudaEventRecord(e0));
        CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice));
        CHECK(cudaEventRecord(e1));
        CHECK(cudaEventSynchronize(e1));
        if (i >= 0) CHECK(cudaEventElapsedTime(&ms[i], e0, e1));
    }
    double bw = 2.0 * bytes / (median(ms, reps) * 1e-3);
    free(ms);
    return bw;
}

// ------------------------------------------------------------------------- validation

// max over i of |got − ref| / (1e-6 + 1e-5·|ref|) (<= 1 passes, as tests/gpu/parity_conv.c)
static double worst(const float *got, const float *ref, size_t n) {
    double w = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - ref[i]) / (1e-6 + 1e-5 * fabs((double)ref[i]));
        if (!(e <= w)) w = e;
    }
    return w;
}

// reductions (dweight, dbias), as tests/gpu/parity_conv.c: max |got − ref| / (1e-5·Σ|terms|),
// and NMSE in *nmse
static double worst_sum(const float *got, const float *ref, const double *abs_sum, size_t n,
                        double *nmse) {
    double w = 0, e2 = 0, r2 = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]), e = d / (1e-5 * abs_sum[i] + 1e-300);
        e2 += d * d, r2 += (double)ref[i] * ref[i];
        if (!(e <= w)) w = e;
    }
    *nmse = r2 > 0 ? e2 / r2 : e2;
    return w;
}

static int validate(int64_t L, int64_t D) {
    const int64_t K = 4, n = L * D;
    float *h[6];
    size_t sizes[6] = {(size_t)n, (size_t)(D * K), (size_t)D, (size_t)n, (size_t)n, (size_t)n};
    for (int i = 0; i < 6; i++) h[i] = (float *)malloc(sizes[i] * 4); // x w b dout out dx
    srand(7);
    for (int i = 0; i < 6; i++)
        for (size_t j = 0; j < sizes[i]; j++) h[i][j] = 2.0f * rand() / (float)RAND_MAX - 1.0f;
    float *ref_out = (float *)malloc(n * 4), *ref_dx = (float *)malloc(n * 4);
    float *ref_dw = (float *)calloc(D * K, 4), *ref_db = (float *)calloc(D, 4);
    memcpy(ref_dx, h[5], n * 4);
    ConvArgs a;
    conv_args_init(&a, 1, L, D, K);
    a.silu = 1, a.x = h[0], a.weight = h[1], a.bias = h[2], a.dout = h[3], a.out = ref_out;
    a.dx = ref_dx, a.dweight = ref_dw, a.dbias = ref_db;
    LS(conv_fwd_cpu(&a));
    LS(conv_bwd_cpu(&a));
    // Σ|terms| of dweight[d, k] = Σ_t dy·x[t−3+k] and dbias[d] = Σ_t dy (dy in double)
    double *sw = (double *)calloc(D * K, 8), *sb = (double *)calloc(D, 8);
    for (int64_t t = 0; t < L; t++)
        for (int64_t d = 0; d < D; d++) {
            double p = h[2][d], xs[4];
            for (int k = 0; k < K; k++) {
                int64_t j = t - (K - 1) + k;
                xs[k] = j >= 0 ? h[0][j * D + d] : 0.0;
                p += h[1][d * K + k] * xs[k];
            }
            double s = 1.0 / (1.0 + exp(-p)), dy = h[3][t * D + d] * s * (1.0 + p * (1.0 - s));
            sb[d] += fabs(dy);
            for (int k = 0; k < K; k++) sw[d * K + k] += fabs(dy * xs[k]);
        }

    float *d[6], *gdw, *gdb;
    for (int i = 0; i < 6; i++) {
        CHECK(cudaMalloc(&d[i], sizes[i] * 4));
        CHECK(cudaMemcpy(d[i], h[i], sizes[i] * 4, cudaMemcpyHostToDevice));
    }
    CHECK(cudaMalloc(&gdw, D * K * 4));
    CHECK(cudaMalloc(&gdb, D * 4));
    CHECK(cudaMemset(gdw, 0, D * K * 4));
    CHECK(cudaMemset(gdb, 0, D * 4));
    ConvArgs g = a;
    g.x = d[0], g.weight = d[1], g.bias = d[2], g.dout = d[3], g.out = d[4], g.dx = d[5];
    g.dweight = gdw, g.dbias = gdb;
    LS(conv_fwd_cuda(&g));
    LS(conv_bwd_cuda(&g));
    float *got = (float *)malloc(n * 4);
    CHECK(cudaMemcpy(got, d[4], n * 4, cudaMemcpyDeviceToHost));
    double w_out = worst(got, ref_out, n);
    CHECK(cudaMemcpy(got, d[5], n * 4, cudaMemcpyDeviceToHost));
    double w_dx = worst(got, ref_dx, n);
    double n_dw, n_db;
    CHECK(cudaMemcpy(got, gdw, D * K * 4, cudaMemcpyDeviceToHost));
    double w_dw = worst_sum(got, ref_dw, sw, D * K, &n_dw);
    CHECK(cudaMemcpy(got, gdb, D * 4, cudaMemcpyDeviceToHost));
    double w_db = worst_sum(got, ref_db, sb, D, &n_db);
    int ok = w_out <= 1 && w_dx <= 1 && w_dw <= 1 && w_db <= 1 && n_dw <= 1e-10 && n_db <= 1e-10;
    printf("validate fp32 B=1 L=%lld D=%lld K=4 silu bias vs conv_*_cpu: worst error / "
           "(1e-6 + 1e-5|ref|): out %.3g, dx %.3g; / (1e-5 Σ|terms|): dweight %.3g (NMSE %.2g), "
           "dbias %.3g (NMSE %.2g): %s\n", (long long)L, (long long)D, w_out, w_dx, w_dw, n_dw,
           w_db, n_db, ok ? "ok" : "FAILED");
    free(sw), free(sb);
    for (int i = 0; i < 6; i++) free(h[i]), cudaFree(d[i]);
    free(ref_out), free(ref_dx), free(ref_dw), free(ref_db), free(got);
    cudaFree(gdw), cudaFree(gdb);
    return ok;
}

// ------------------------------------------------------------------------- main

int main(int argc, char **argv) {
    int64_t L = argc > 1 ? atoll(argv[1]) : 1048576, D = argc > 2 ? atoll(argv[2]) : 1024;
    int reps = argc > 3 ? atoi(argv[3]) : 20;
    const int64_t K = 4, n = L * D;
    if (reps < 10) reps = 10;
    cudaDeviceProp prop;
    CHECK(cudaGetDeviceProperties(&prop, 0));
    printf("# card: %s, %d SMs, %.1f GiB\n", prop.name, prop.multiProcessorCount,
           prop.totalGlobalMem / 1073741824.0);

    int ok = validate(65536, D);

    void *x, *out, *dout, *dx;
    float *w, *b, *dw, *db;
    CHECK(cudaMalloc(&x, n * 4));
    CHECK(cudaMalloc(&out, n * 4));
    CHECK(cudaMalloc(&dout, n * 4));
    CHECK(cudaMalloc(&dx, n * 4));
    CHECK(cudaMalloc(&w, D * K * 4));
    CHECK(cudaMalloc(&b, D * 4));
    CHECK(cudaMalloc(&dw, D * K * 4));
    CHECK(cudaMalloc(&db, D * 4));
    fill(w, D * K, 11, 0), fill(b, D, 12, 0);
    CHECK(cudaMemset(dw, 0, D * K * 4));
    CHECK(cudaMemset(db, 0, D * 4));

    fill(x, n, 1, 0);
    double bw = copy_bandwidth(out, x, (size_t)n * 4, reps);
    printf("copy bandwidth: %.0f GB/s (cudaMemcpy device to device of %.2f GiB, read + write, "
           "median of %d)\n", bw / 1e9, n * 4 / 1073741824.0, reps);
    printf("%-5s %-8s %10s %10s %10s %8s %10s\n", "dtype", "op", "median_ms", "GB_moved",
           "floor_ms", "x_floor", "GB/s");
    for (int bf = 0; bf < 2; bf++) {
        size_t es = bf ? 2 : 4;
        fill(x, n, 1, bf), fill(dout, n, 2, bf), fill(dx, n, 3, bf);
        ConvArgs a;
        conv_args_init(&a, 1, L, D, K);
        a.silu = 1, a.dtype = bf ? DTYPE_BF16 : DTYPE_F32;
        a.x = (const float *)x, a.weight = w, a.bias = b, a.out = (float *)out;
        a.dout = (const float *)dout, a.dx = (float *)dx, a.dweight = dw, a.dbias = db;
        const double fwd_bytes = 2.0 * n * es, bwd_bytes = 4.0 * n * es;
        struct {
            const char *name;
            TimeWhat what;
            double bytes;
        } rows[3] = {{"fwd", T_FWD, fwd_bytes}, {"bwd", T_BWD, bwd_bytes},
                     {"fwd+bwd", T_BOTH, fwd_bytes + bwd_bytes}};
        for (int r = 0; r < 3; r++) {
            float ms = time_conv(&a, rows[r].what, reps);
            double floor_ms = rows[r].bytes / bw * 1e3;
            printf("%-5s %-8s %10.3f %10.2f %10.3f %8.2f %10.0f\n", bf ? "bf16" : "fp32",
                   rows[r].name, ms, rows[r].bytes / 1e9, floor_ms, ms / floor_ms,
                   rows[r].bytes / (ms * 1e-3) / 1e9);
        }
    }
    CHECK(cudaDeviceSynchronize());
    printf("# B=1 L=%lld D=%lld K=4 SiLU bias; floor = bytes / copy bandwidth; x_floor = median "
           "/ floor (bar: <= 1.5 for fwd+bwd)\n", (long long)L, (long long)D);
    return ok ? 0 : 1;
}
