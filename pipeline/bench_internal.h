/* bench_internal.h — what the files of `longscan bench` share (bench.c: io and the command;
 * bench_kernels.c: the CUDA kernel rows; bench_generate.c: generation speed). Private to pipeline/. */
#ifndef LS_BENCH_INTERNAL_H
#define LS_BENCH_INTERNAL_H

#include <stdio.h>

#include "kernels/dtype.h"
#include "models/model.h"
#include "pipeline/cli.h"

struct cJSON;

/** One row of `bench model` (and of `bench models`, two per model and length). */
typedef struct {
    ModelArch arch;
    int train;                 /* 1: training step; 0: inference forward */
    DType dtype;
    int64_t L;
    double dropout;            /* training dropout probability (train rows; 0: none) */
    int64_t grad_ckpt;         /* train rows: model_set_grad_checkpoint's K (0 or 1: every
                                  layer input kept) */
    double ms, tokens_s;       /* ms < 0: did not run (see note) */
    double peak_gib;           /* GPU: device_cuda_memory's peak since the model was made; CPU: -1 */
    double planned_gib;        /* parameters (+ grads, AdamW m, v when training) + activation
                                  arena of the last step: what the model holds, on any device */
    char note[96];             /* "out of memory" when it did not fit */
    const char *peer;
    double peer_ms, peer_peak; /* < 0: no peer row */
} ModelRow;

/** The config `bench model` times: vocabulary 16, 8 heads (causal attention), mean-pool
 *  classifier of 2 classes, at @p d_model × @p layers; callers may change widths after. */
void bench_model_config(ModelArch arch, int64_t d_model, int64_t layers, ModelConfig *cfg);

/** Time r->arch (= shape->arch) at r->L, r->dtype, r->train on common->device: a fresh model,
 *  2 warm-ups, the median of @p repeat steps; @p profile (or NULL) gets one more step with
 *  every op timed; @p tile_rows 0 = the model's default. A model or step that does not fit
 *  sets r->ms = -1 and r->note = "out of memory" and returns 0. @return 0 or an error. */
int bench_model_row(const CommonOptions *common, const ModelConfig *shape, int repeat,
                    int64_t tile_rows, FILE *profile, ModelRow *r);

/** `longscan bench models [options]` (bench_models.c); argv[0] = "models". */
int bench_models(int argc, char **argv);

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
