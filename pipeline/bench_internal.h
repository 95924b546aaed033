/* bench_internal.h — what the files of `longscan bench` share (bench.c: io and the command;
 * bench_kernels.c: the CUDA kernel rows; bench_generate.c: generation speed). Private to pipeline/. */
#ifndef LS_BENCH_INTERNAL_H
#define LS_BENCH_INTERNAL_H

#include <stdio.h>

struct cJSON;

/** The help text of `longscan bench` (every benchmark and its options). */
void bench_usage(FILE *fp);

/** Read a peers file (../shared/anchors/ files): a JSON array of rows, or with @p any_shape
 *  also an object holding them. @return 0 and *out (cJSON_Delete it), or an error naming the
 *  file and the byte. */
int bench_load_peers(const char *path, struct cJSON **out, int any_shape);

/** `longscan bench kernels [options]`; argv[0] = "kernels". */
int bench_kernels(int argc, char **argv);

/** `longscan bench generate [options]` (bench_generate.c); argv[0] = "generate". */
int bench_generate(int argc, char **argv);

#endif
