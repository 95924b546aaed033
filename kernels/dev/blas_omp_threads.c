/*
 * blas_omp_threads.c — do OpenBLAS's pthread pool and OpenMP's threads get in each other's
 * way when a CPU training step alternates them (sgemm, then an OpenMP elementwise op, ...)?
 *
 * Times, best of REPS, on the machine's cores:
 *   gemm alone         matmul_fwd_cpu, M = 2048, K = N = 1024, back to back
 *   omp alone          act_silu_fwd_cpu over 16M floats, back to back
 *   gemm | omp         the two alternated, each timed on its own
 * If the alternated times exceed the solo times, one pool's idle threads (spinning after
 * their last job) are slowing the other's. Run with different environments, e.g.
 *   OMP_WAIT_POLICY=passive, OPENBLAS_NUM_THREADS=1, OMP_NUM_THREADS=..., and with the
 *   argument "set" to call matmul_set_threads(omp_get_max_threads()) first.
 *
 * Not part of the build (kernels/dev/ is never linked into the binary). Build:
 *   make && cc -std=c11 -O2 -fopenmp -I. $(pkg-config --cflags openblas) \
 *      kernels/dev/blas_omp_threads.c build/liblongscan.a -o build/blas_omp_threads \
 *      $(pkg-config --libs openblas) -lm
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/act.h"
#include "kernels/matmul.h"

#define REPS 15

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int main(int argc, char **argv) {
    const int64_t M = 2048, K = 1024, N = 1024, E = 16 << 20;
    if (argc > 1 && !strcmp(argv[1], "set") && matmul_set_threads(omp_get_max_threads())) return 1;
    float *x = malloc(M * K * 4), *w = malloc(N * K * 4), *y = malloc(M * N * 4);
    float *a = malloc(E * 4), *b = malloc(E * 4);
    if (!x || !w || !y || !a || !b) return 1;
    for (int64_t i = 0; i < M * K; i++) x[i] = (float)(i % 7) * 0.1f;
    for (int64_t i = 0; i < N * K; i++) w[i] = (float)(i % 5) * 0.1f;
    for (int64_t i = 0; i < E; i++) a[i] = (float)(i % 11) - 5.0f;

    double gemm = 1e9, omp = 1e9, gemm_mix = 1e9, omp_mix = 1e9, t;
    for (int r = 0; r < REPS; r++) {
        t = now();
        if (matmul_fwd_cpu(y, x, w, NULL, M, K, N, K, N)) return 1;
        t = now() - t, gemm = t < gemm ? t : gemm;
    }
    for (int r = 0; r < REPS; r++) {
        t = now();
        if (act_silu_fwd_cpu(b, a, E)) return 1;
        t = now() - t, omp = t < omp ? t : omp;
    }
    for (int r = 0; r < REPS; r++) {
        t = now();
        if (matmul_fwd_cpu(y, x, w, NULL, M, K, N, K, N)) return 1;
        t = now() - t, gemm_mix = t < gemm_mix ? t : gemm_mix;
        t = now();
        if (act_silu_fwd_cpu(b, a, E)) return 1;
        t = now() - t, omp_mix = t < omp_mix ? t : omp_mix;
    }
    printf("omp threads %d, %s: gemm alone %.2f ms (%.0f GFLOP/s), silu alone %.2f ms; "
           "alternated: gemm %.2f ms, silu %.2f ms\n",
           omp_get_max_threads(), argc > 1 ? argv[1] : "default", gemm * 1e3,
           2.0 * M * N * K / gemm * 1e-9, omp * 1e3, gemm_mix * 1e3, omp_mix * 1e3);
    return 0;
}
