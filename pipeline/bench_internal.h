/* bench_internal.h — what the files of `longscan bench` share (bench.c: io and the command;
 * bench_kernels.c: the CUDA kernel rows). Private to pipeline/. */
#ifndef LS_BENCH_INTERNAL_H
#define LS_BENCH_INTERNAL_H

#include <stdio.h>

/** The help text of `longscan bench` (every benchmark and its options). */
void bench_usage(FILE *fp);

/** `longscan bench kernels [options]`; argv[0] = "kernels". */
int bench_kernels(int argc, char **argv);

#endif
