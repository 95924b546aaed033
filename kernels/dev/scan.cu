/*
 * dev/scan.cu — development harness of the CUDA selective-scan forward (STYLE 38, after llm.c's
 * dev/cuda): numbered versions, each validated against the CPU specification scan_fwd_cpu and
 * then timed. Never linked into longscan; the chosen version lives in kernels/cuda/scan.cu,
 * which this file includes (so versions 3+ are the production templates, not copies).
 *
 * Build: make build/dev/scan      Run: build/dev/scan [L [repeats [validate_L [version]]]]
 * (defaults: L = 1,048,576, 10 repeats, validation at L = 65,536, every version; B = 1,
 * D = 1024, N = 16,
 * with z, D skip, delta_bias, softplus — the workload of ../shared/anchors/README.md).
 *
 * Versions (what each changes):
 *   kernel1  one thread per (b, d) walks all of L (the obvious port of the CPU loop): B·D = 1024
 *            threads, 32 warps for a 132-SM GPU; B_t, C_t read by every thread from global.
 *   kernel2  L cut into chunks that run in parallel: local pass from a zero state (end state and
 *            ΣΔ per chunk), a fix-up over chunks, the output pass from the true state; B_t, C_t
 *            still read per thread from global, no prefetch.
 *   kernel3  kernels/cuda/scan.cu as it stands: B_t, C_t staged once per 128-channel block in
 *            shared memory per 8-token tile; the next tile's loads in flight (register prefetch)
 *            while this tile computes; chunk count = one full wave of the output pass.
 *   kernel4  kernel3 with 2 of the 16 decays on the FMA pipe (polynomial exp2, exp2_poly)
 *   kernel5  kernel3 with 4 of the 16 decays on the FMA pipe
 *   kernel6  kernel3 with all 16 decays on the FMA pipe (no MUFU for decays)
 *
 * For each version and dtype: worst error against the CPU spec in units of the parity tolerance
 * (tests/gpu/parity_scan.c: rtol 1e-5 fp32 / 2e-2 bf16, atol = rtol·RMS), then the median of
 * `repeats` event-timed calls after 2 warm-ups with the L2 flushed (a 256 MiB memset) before
 * each, the compulsory bytes (u, delta, z, B, C read, out written: s·L·(4·D + 2·N)) per second,
 * and that as a fraction of a device-to-device copy measured in the same run.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/scan.cu"

#define DEV_CHECK(x)                                                                               \
    do {                                                                                           \
        cudaError_t e_ = (x);                                                                      \
        if (e_ != cudaSuccess) {                                                                   \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_));    \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

namespace {

// ------------------------------------------------------------------------------- kernel1

template <typename T> __global__ void naive_kernel(const ScanDev p) {
    const int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= p.B * p.D) return;
    const int64_t d = e % p.D, b = e / p.D;
    float h[16], A2[16];
    for (int n = 0; n < 16; n++) {
        A2[n] = n < p.N ? p.A[d * p.N + n] * LOG2E : 0.0f;
        h[n] = 0.0f;
    }
    const float bias = p.bias ? p.bias[d] : 0.0f, Dd = p.Dsk ? p.Dsk[d] : 0.0f;
    for (int64_t t = 0; t < p.L; t++) {
        const float u = ld((const T *)p.u + b * p.usb + t * p.usl + d);
        const float dt = dt_of(ld((const T *)p.delta + b * p.dsb + t * p.dsl + d), bias, p.sp);
        const float dtu = dt * u;
        const T *Bt = (const T *)p.Bm + b * p.bsb + t * p.bsl;
        const T *Ct = (const T *)p.Cm + b * p.csb + t * p.csl;
        float y = 0.0f;
#pragma unroll
        for (int n = 0; n < 16; n++) {
            const float bn = n < p.N ? ld(Bt + n) : 0.0f, cn = n < p.N ? ld(Ct + n) : 0.0f;
            h[n] = fmaf(ex2(dt * A2[n]), h[n], dtu * bn);
            y = fmaf(cn, h[n], y);
        }
        if (p.Dsk) y += Dd * u;
        if (p.z) {
            const float zz = ld((const T *)p.z + b * p.zsb + t * p.zsl + d);
            y *= zz * sigmoid_f(zz);
        }
        st((T *)p.out + b * p.osb + t * p.osl + d, y);
    }
}

// ------------------------------------------------------------------------------- kernel2

template <typename T> __global__ void v2_local_kernel(const ScanDev p) {
    const int64_t b = blockIdx.z, c = blockIdx.y;
    const int64_t d = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (d >= p.D) return;
    const int64_t t0 = chunk_start(c, p), t1 = chunk_start(c + 1, p);
    float h[16], A2[16], S = 0.0f;
    for (int n = 0; n < 16; n++) {
        A2[n] = n < p.N ? p.A[d * p.N + n] * LOG2E : 0.0f;
        h[n] = 0.0f;
    }
    const float bias = p.bias ? p.bias[d] : 0.0f;
    for (int64_t t = t0; t < t1; t++) {
        const float u = ld((const T *)p.u + b * p.usb + t * p.usl + d);
        const float dt = dt_of(ld((const T *)p.delta + b * p.dsb + t * p.dsl + d), bias, p.sp);
        const float dtu = dt * u;
        const T *Bt = (const T *)p.Bm + b * p.bsb + t * p.bsl;
        S += dt;
#pragma unroll
        for (int n = 0; n < 16; n++)
            h[n] = fmaf(ex2(dt * A2[n]), h[n], dtu * (n < p.N ? ld(Bt + n) : 0.0f));
    }
    T *col = (T *)p.out + b * p.osb + t0 * p.osl + d;
    for (int n = 0; n < p.N; n++) scratch_put(col, p.osl, n, h[n]);
    scratch_put(col, p.osl, (int)p.N, S);
}

template <typename T> __global__ void v2_out_kernel(const ScanDev p) {
    const int64_t b = blockIdx.z, c = blockIdx.y;
    const int64_t d = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (d >= p.D) return;
    const int64_t t0 = chunk_start(c, p), t1 = chunk_start(c + 1, p);
    T *op = (T *)p.out + b * p.osb + d;
    float h[16], A2[16];
    for (int n = 0; n < 16; n++) {
        A2[n] = n < p.N ? p.A[d * p.N + n] * LOG2E : 0.0f;
        h[n] = n >= p.N ? 0.0f
               : p.nch == 1 ? (p.h0 ? p.h0[(b * p.D + d) * p.N + n] : 0.0f)
                            : scratch_get(op + t0 * p.osl, p.osl, n);
    }
    const float bias = p.bias ? p.bias[d] : 0.0f, Dd = p.Dsk ? p.Dsk[d] : 0.0f;
    for (int64_t t = t0; t < t1; t++) {
        const float u = ld((const T *)p.u + b * p.usb + t * p.usl + d);
        const float dt = dt_of(ld((const T *)p.delta + b * p.dsb + t * p.dsl + d), bias, p.sp);
        const float dtu = dt * u;
        const T *Bt = (const T *)p.Bm + b * p.bsb + t * p.bsl;
        const T *Ct = (const T *)p.Cm + b * p.csb + t * p.csl;
        float y = 0.0f;
#pragma unroll
        for (int n = 0; n < 16; n++) {
            const float bn = n < p.N ? ld(Bt + n) : 0.0f, cn = n < p.N ? ld(Ct + n) : 0.0f;
            h[n] = fmaf(ex2(dt * A2[n]), h[n], dtu * bn);
            y = fmaf(cn, h[n], y);
        }
        if (p.Dsk) y += Dd * u;
        if (p.z) {
            const float zz = ld((const T *)p.z + b * p.zsb + t * p.zsl + d);
            y *= zz * sigmoid_f(zz);
        }
        st(op + t * p.osl, y);
    }
}

// Deterministic pseudo-random fill on the device (hash of the index), uniform in [lo, hi).
template <typename T> __global__ void fill_kernel(T *x, int64_t n, float lo, float hi, uint64_t seed) {
    const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    uint64_t z = seed + (uint64_t)i * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    st(x + i, lo + (hi - lo) * (float)((z >> 40) * (1.0 / 16777216.0)));
}

} // namespace

// ------------------------------------------------------------------------------- host

typedef int (*Launch)(const ScanArgs *a);

template <typename T> static int run_v1(const ScanArgs *a) {
    ScanDev p = dev_view(a);
    naive_kernel<T><<<(unsigned)cdiv(a->B * a->D, 128), 128>>>(p);
    return cudaGetLastError() == cudaSuccess ? 0 : -1;
}

template <typename T> static int run_v2(const ScanArgs *a) {
    ScanDev p = dev_view(a);
    int dev = 0, sms = 0;
    cudaGetDevice(&dev);
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
    p.nch = fwd_chunks(a, (int64_t)4 * sms);
    const unsigned nblk = (unsigned)cdiv(a->D, 128);
    if (p.nch > 1) {
        v2_local_kernel<T><<<dim3(nblk, (unsigned)p.nch - 1, (unsigned)a->B), 128>>>(p);
        fwd_fix_kernel<T><<<(unsigned)cdiv(a->B * a->D * a->N, 256), 256>>>(p);
    }
    v2_out_kernel<T><<<dim3(nblk, (unsigned)p.nch, (unsigned)a->B), 128>>>(p);
    return cudaGetLastError() == cudaSuccess ? 0 : -1;
}

template <typename T, int POLY> static int run_prod(const ScanArgs *a) {
    return fwd_run<16, T, POLY>(a, (cudaStream_t)a->stream);
}

struct Version {
    const char *name;
    Launch f32, bf16;
};

static const Version versions[] = {
    {"kernel1 (thread per channel, all of L)", run_v1<float>, run_v1<__nv_bfloat16>},
    {"kernel2 (chunked, B/C from global)", run_v2<float>, run_v2<__nv_bfloat16>},
    {"kernel3 (production: smem B/C, prefetch)", run_prod<float, 0>, run_prod<__nv_bfloat16, 0>},
    {"kernel4 (kernel3 + 2 poly decays)", run_prod<float, 2>, run_prod<__nv_bfloat16, 2>},
    {"kernel5 (kernel3 + 4 poly decays)", run_prod<float, 4>, run_prod<__nv_bfloat16, 4>},
    {"kernel6 (kernel3, all 16 decays poly)", run_prod<float, 16>, run_prod<__nv_bfloat16, 16>},
};

template <typename T> static void fill(void *x, int64_t n, float lo, float hi, uint64_t seed) {
    fill_kernel<T><<<(unsigned)cdiv(n, 256), 256>>>((T *)x, n, lo, hi, seed);
    DEV_CHECK(cudaGetLastError());
}

static float median(float *v, int n) {
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
            float t = v[j];
            v[j] = v[j - 1], v[j - 1] = t;
        }
    return n % 2 ? v[n / 2] : 0.5f * (v[n / 2 - 1] + v[n / 2]);
}

static void *flush_buf;
static const size_t FLUSH_BYTES = (size_t)256 << 20;

static float time_call(Launch f, const ScanArgs *a, int repeats) {
    cudaEvent_t e0, e1;
    DEV_CHECK(cudaEventCreate(&e0));
    DEV_CHECK(cudaEventCreate(&e1));
    float ms[64];
    for (int r = -2; r < repeats; r++) {
        DEV_CHECK(cudaMemset(flush_buf, r & 0xff, FLUSH_BYTES));
        DEV_CHECK(cudaEventRecord(e0));
        if (f(a)) {
            fprintf(stderr, "launch failed: %s\n", ls_error_message());
            exit(1);
        }
        DEV_CHECK(cudaEventRecord(e1));
        DEV_CHECK(cudaEventSynchronize(e1));
        if (r >= 0) DEV_CHECK(cudaEventElapsedTime(&ms[r], e0, e1));
    }
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    return median(ms, repeats);
}

// Worst |got − ref| / (atol + rtol·|ref|), atol = rtol·RMS(ref).
static double worst_err(const float *got, const float *ref, int64_t n, double rtol) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)ref[i] * ref[i];
    const double atol = rtol * sqrt(s / (double)n);
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        const double e = fabs((double)got[i] - ref[i]) / (atol + rtol * fabs((double)ref[i]));
        if (!(e <= worst)) worst = e; // NaN counts as worst
    }
    return worst;
}

static void to_float(float *dst, const void *src, int64_t n, int bf16) {
    if (!bf16) {
        memcpy(dst, src, (size_t)n * 4);
        return;
    }
    const uint16_t *h = (const uint16_t *)src;
    for (int64_t i = 0; i < n; i++) dst[i] = bf16_to_float(h[i]);
}

int main(int argc, char **argv) {
    const int64_t L = argc > 1 ? atoll(argv[1]) : 1048576;
    const int repeats = argc > 2 ? atoi(argv[2]) : 10;
    const int64_t Lv = argc > 3 ? atoll(argv[3]) : 65536;
    const int only = argc > 4 ? atoi(argv[4]) : 0; // run only this version (for ncu)
    const int64_t B = 1, D = 1024, N = 16;
    if (repeats < 1 || repeats > 64 || L < 1 || Lv < 1 || Lv > L) {
        fprintf(stderr, "usage: scan [L [repeats (1..64) [validate_L <= L]]]\n");
        return 2;
    }
    cudaDeviceProp prop;
    DEV_CHECK(cudaGetDeviceProperties(&prop, 0));
    printf("# %s, %d SMs, L2 %d MiB; B=%lld D=%lld N=%lld, L=%lld (validated at L=%lld)\n",
           prop.name, prop.multiProcessorCount, prop.l2CacheSize >> 20, (long long)B,
           (long long)D, (long long)N, (long long)L, (long long)Lv);
    DEV_CHECK(cudaMalloc(&flush_buf, FLUSH_BYTES));

    // copy bandwidth (bytes read + written), 1 GiB
    void *c0, *c1;
    const size_t cb = (size_t)1 << 30;
    DEV_CHECK(cudaMalloc(&c0, cb));
    DEV_CHECK(cudaMalloc(&c1, cb));
    DEV_CHECK(cudaMemset(c0, 1, cb));
    float cms[64];
    cudaEvent_t e0, e1;
    DEV_CHECK(cudaEventCreate(&e0));
    DEV_CHECK(cudaEventCreate(&e1));
    for (int r = -2; r < repeats; r++) {
        DEV_CHECK(cudaEventRecord(e0));
        DEV_CHECK(cudaMemcpy(c1, c0, cb, cudaMemcpyDeviceToDevice));
        DEV_CHECK(cudaEventRecord(e1));
        DEV_CHECK(cudaEventSynchronize(e1));
        if (r >= 0) DEV_CHECK(cudaEventElapsedTime(&cms[r], e0, e1));
    }
    const double copy_gbs = 2.0 * cb / (median(cms, repeats) * 1e-3) / 1e9;
    printf("# device-to-device copy: %.0f GB/s (read + write, 1 GiB, median of %d)\n", copy_gbs,
           repeats);
    cudaFree(c0);
    cudaFree(c1);

    // inputs (fp32-sized; bf16 runs use the first half of each buffer)
    const int64_t nLD = B * L * D, nLN = B * L * N;
    void *u, *dl, *z, *Bm, *Cm, *out;
    float *A, *Dsk, *bias;
    DEV_CHECK(cudaMalloc(&u, nLD * 4));
    DEV_CHECK(cudaMalloc(&dl, nLD * 4));
    DEV_CHECK(cudaMalloc(&z, nLD * 4));
    DEV_CHECK(cudaMalloc(&out, nLD * 4));
    DEV_CHECK(cudaMalloc(&Bm, nLN * 4));
    DEV_CHECK(cudaMalloc(&Cm, nLN * 4));
    DEV_CHECK(cudaMalloc(&A, D * N * 4));
    DEV_CHECK(cudaMalloc(&Dsk, D * 4));
    DEV_CHECK(cudaMalloc(&bias, D * 4));
    // parameters: A = −(1..16) (S4D-real init), D = 1, bias = softplus⁻¹ of dt in [0.001, 0.1]
    float *hA = (float *)malloc(D * N * 4), *hD = (float *)malloc(D * 4), *hb = (float *)malloc(D * 4);
    for (int64_t d = 0; d < D; d++) {
        for (int64_t n = 0; n < N; n++) hA[d * N + n] = -(float)(n + 1);
        hD[d] = 1.0f;
        const double dt = exp(log(0.001) + (log(0.1) - log(0.001)) * (double)d / (double)(D - 1));
        hb[d] = (float)(dt + log(-expm1(-dt))); // softplus⁻¹(dt)
    }
    DEV_CHECK(cudaMemcpy(A, hA, D * N * 4, cudaMemcpyHostToDevice));
    DEV_CHECK(cudaMemcpy(Dsk, hD, D * 4, cudaMemcpyHostToDevice));
    DEV_CHECK(cudaMemcpy(bias, hb, D * 4, cudaMemcpyHostToDevice));

    float *ref = (float *)malloc((size_t)(B * Lv * D) * 4), *got = (float *)malloc((size_t)(B * Lv * D) * 4);
    float *hin[5];
    void *raw = malloc((size_t)(B * Lv * D) * 4);
    for (int i = 0; i < 5; i++) hin[i] = (float *)malloc((size_t)(B * Lv * D) * 4);
    const int nver = sizeof versions / sizeof versions[0];

    for (int bf = 0; bf < 2; bf++) {
        const size_t es = bf ? 2 : 4;
        const char *tn = bf ? "bf16" : "f32";
        if (bf) {
            fill<__nv_bfloat16>(u, nLD, -1, 1, 1), fill<__nv_bfloat16>(dl, nLD, -1, 1, 2);
            fill<__nv_bfloat16>(z, nLD, -2, 2, 3), fill<__nv_bfloat16>(Bm, nLN, -1, 1, 4);
            fill<__nv_bfloat16>(Cm, nLN, -1, 1, 5);
        } else {
            fill<float>(u, nLD, -1, 1, 1), fill<float>(dl, nLD, -1, 1, 2);
            fill<float>(z, nLD, -2, 2, 3), fill<float>(Bm, nLN, -1, 1, 4);
            fill<float>(Cm, nLN, -1, 1, 5);
        }
        DEV_CHECK(cudaDeviceSynchronize());
        // CPU reference at L = Lv on exactly the device's values
        ScanArgs h;
        scan_args_init(&h, B, Lv, D, N);
        void *srcs[5] = {u, dl, z, Bm, Cm};
        const int64_t cnt[5] = {B * Lv * D, B * Lv * D, B * Lv * D, B * Lv * N, B * Lv * N};
        for (int i = 0; i < 5; i++) {
            DEV_CHECK(cudaMemcpy(raw, srcs[i], cnt[i] * es, cudaMemcpyDeviceToHost));
            to_float(hin[i], raw, cnt[i], bf);
        }
        h.u = hin[0], h.delta = hin[1], h.z = hin[2], h.B_ssm = hin[3], h.C_ssm = hin[4];
        h.A = hA, h.D_skip = hD, h.delta_bias = hb, h.out = ref;
        if (scan_fwd_cpu(&h)) {
            fprintf(stderr, "CPU reference: %s\n", ls_error_message());
            return 1;
        }
        ScanArgs a;
        scan_args_init(&a, B, Lv, D, N);
        a.dtype = bf ? DTYPE_BF16 : DTYPE_F32;
        a.u = (float *)u, a.delta = (float *)dl, a.z = (float *)z;
        a.B_ssm = (float *)Bm, a.C_ssm = (float *)Cm;
        a.A = A, a.D_skip = Dsk, a.delta_bias = bias, a.out = (float *)out;
        const double bytes = (double)es * (double)B * (double)L * (double)(4 * D + 2 * N);
        printf("\n%-42s %5s %10s %10s %9s %8s\n", "version", "dtype", "err/tol", "ms", "GB/s",
               "of copy");
        for (int v = 0; v < nver; v++) {
            if (only && v + 1 != only) continue;
            Launch f = bf ? versions[v].bf16 : versions[v].f32;
            a.L = Lv;
            a.u_stride_b = a.delta_stride_b = a.z_stride_b = a.out_stride_b = Lv * D;
            a.B_ssm_stride_b = a.C_ssm_stride_b = Lv * N;
            DEV_CHECK(cudaMemset(out, 0xff, nLD * es));
            if (f(&a)) {
                fprintf(stderr, "%s: %s\n", versions[v].name, ls_error_message());
                return 1;
            }
            DEV_CHECK(cudaDeviceSynchronize());
            DEV_CHECK(cudaMemcpy(raw, out, B * Lv * D * es, cudaMemcpyDeviceToHost));
            to_float(got, raw, B * Lv * D, bf);
            const double err = worst_err(got, ref, B * Lv * D, bf ? 2e-2 : 1e-5);
            a.L = L;
            a.u_stride_b = a.delta_stride_b = a.z_stride_b = a.out_stride_b = L * D;
            a.B_ssm_stride_b = a.C_ssm_stride_b = L * N;
            // kernel1 at long L takes seconds a call: time it on fewer repeats
            const int reps = v == 0 && L > 65536 ? 3 : repeats;
            const float ms = time_call(f, &a, reps);
            const double gbs = bytes / (ms * 1e-3) / 1e9;
            printf("%-42s %5s %10.3f %10.3f %9.0f %7.1f%%\n", versions[v].name, tn, err, ms, gbs,
                   100.0 * gbs / copy_gbs);
            fflush(stdout);
        }
    }
    return 0;
}
