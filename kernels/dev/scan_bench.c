/*
 * scan_bench.c — timing of the CPU scan and conv specs (kernels/cpu/scan.c, kernels/cpu/conv.c).
 * Not part of the build or the tests (STYLE 3.10: speed is measured here, never in a test).
 *
 * Build and run (after `make`, which builds build/liblongscan.a):
 *     gcc -std=c11 -O2 -fopenmp -I. kernels/dev/scan_bench.c build/liblongscan.a -lm \
 *         -o build/scan_bench
 *     build/scan_bench [repeats [threads,...]]        e.g. build/scan_bench 5 1,2
 * (without make: list kernels/scan.c kernels/conv.c kernels/cpu/scan.c kernels/cpu/conv.c
 * common/error.c instead of the library.)
 *
 * Prints, for each thread count (default 1,2), the best of `repeats` (default 3) runs:
 *   scan forward  B=1, L=65536, D=256, N=16 (z, D skip, delta_bias, checkpoints on)
 *   scan backward B=1, L=4096,  D=256, N=16
 *   conv forward / backward B=1, L=65536, D=256, K=4, SiLU
 * in tokens/s and ns per (token, channel).
 */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/conv.h"
#include "kernels/scan.h"

static float *rnd(int64_t n, float lo, float hi) {
    float *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * (float)rand() / (float)RAND_MAX;
    return x;
}

static float *zeros(int64_t n) {
    return calloc((size_t)n, sizeof(float));
}

typedef int (*Fn)(const void *);

static double best_of(int repeats, int (*fn)(const void *), const void *args) {
    double best = 1e30;
    for (int r = 0; r < repeats; r++) {
        double t0 = omp_get_wtime();
        if (fn(args)) {
            fprintf(stderr, "call failed: %s\n", ls_error_message());
            exit(1);
        }
        double dt = omp_get_wtime() - t0;
        if (dt < best) best = dt;
    }
    return best;
}

static int run_scan_fwd(const void *a) {
    return scan_fwd_cpu(a);
}
static int run_scan_bwd(const void *a) {
    return scan_bwd_cpu(a);
}
static int run_conv_fwd(const void *a) {
    return conv_fwd_cpu(a);
}
static int run_conv_bwd(const void *a) {
    return conv_bwd_cpu(a);
}

static void report(const char *what, int threads, int64_t L, int64_t D, double s) {
    printf("%-34s threads=%d  %8.3f s  %10.0f tokens/s  %6.2f ns/(token·channel)\n", what, threads,
           s, (double)L / s, s * 1e9 / (double)(L * D));
}

static void setup_scan(ScanArgs *a, int64_t L, int64_t D, int64_t N) {
    scan_args_init(a, 1, L, D, N);
    a->u = rnd(L * D, -1, 1), a->delta = rnd(L * D, -4, 0), a->z = rnd(L * D, -2, 2);
    a->B_ssm = rnd(L * N, -1, 1), a->C_ssm = rnd(L * N, -1, 1);
    float *A = rnd(D * N, 0, 1);
    for (int64_t i = 0; i < D * N; i++)
        A[i] = -(float)(1 + i % N); // S4D-real init
    a->A = A, a->D_skip = rnd(D, -1, 1), a->delta_bias = rnd(D, -1, 0);
    a->out = zeros(L * D), a->ckpt = zeros(scan_ckpt_numel(a)), a->h_final = zeros(D * N);
    a->dout = rnd(L * D, -1, 1);
    a->du = zeros(L * D), a->ddelta = zeros(L * D), a->dz = zeros(L * D);
    a->dB_ssm = zeros(L * N), a->dC_ssm = zeros(L * N), a->dA = zeros(D * N);
    a->dD_skip = zeros(D), a->ddelta_bias = zeros(D);
    a->workspace_bytes = scan_bwd_workspace_size_cpu(a);
    a->workspace = malloc(a->workspace_bytes);
}

static void setup_conv(ConvArgs *a, int64_t L, int64_t D, int64_t K) {
    conv_args_init(a, 1, L, D, K);
    a->silu = 1;
    a->x = rnd(L * D, -1, 1), a->weight = rnd(D * K, -1, 1), a->bias = rnd(D, -1, 1);
    a->out = zeros(L * D), a->dout = rnd(L * D, -1, 1), a->dx = zeros(L * D);
    a->dweight = zeros(D * K), a->dbias = zeros(D);
}

int main(int argc, char **argv) {
    int repeats = argc > 1 ? atoi(argv[1]) : 3;
    const char *tlist = argc > 2 ? argv[2] : "1,2";
    const int64_t D = 256, N = 16;
    ScanArgs fw, bw;
    setup_scan(&fw, 65536, D, N);
    setup_scan(&bw, 4096, D, N);
    ConvArgs cv;
    setup_conv(&cv, 65536, D, 4);
    if (scan_fwd_cpu(&bw)) return 1; // checkpoints for the backward
    for (const char *p = tlist; *p;) {
        char *end;
        int threads = (int)strtol(p, &end, 10);
        if (end == p || threads < 1) break;
        p = *end == ',' ? end + 1 : end;
        omp_set_num_threads(threads);
        report("scan fwd  L=65536 D=256 N=16", threads, fw.L, D,
               best_of(repeats, run_scan_fwd, &fw));
        report("scan bwd  L=4096  D=256 N=16", threads, bw.L, D,
               best_of(repeats, run_scan_bwd, &bw));
        report("conv fwd  L=65536 D=256 K=4 silu", threads, cv.L, D,
               best_of(repeats, run_conv_fwd, &cv));
        report("conv bwd  L=65536 D=256 K=4 silu", threads, cv.L, D,
               best_of(repeats, run_conv_bwd, &cv));
    }
    return 0;
}
