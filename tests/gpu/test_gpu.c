/*
 * test_gpu.c — the GPU program of `make test-gpu` (also run by bench/gpu.sh on the lent GPU
 * machine), TAP output. First the CUDA runtime services of kernels/device.h (device discovery,
 * checked allocation, an impossible allocation is a clear out-of-memory error rather than a
 * crash), then every CUDA op against its CPU specification: one suite per op family,
 * tests/gpu/parity_<op>.c, listed in `suites` below (harness: tests/gpu/gpu_check.h); last the
 * whole model against the CPU (tests/gpu/model_gpu.c: suites model and model_train;
 * tests/gpu/model_pack_gpu.c: suite model_pack, packed batches; tests/gpu/parity_dropout.c:
 * suite dropout, the op and the models' training step with dropout; tests/gpu/parity_seqpar.c:
 * suite seqpar, the sequence-parallel steps on the CUDA ops with G simulated slices;
<<<<<<< HEAD
 * tests/gpu/parity_gen_step.c: suite gen_step, the fused generation step against the unfused).
=======
 * tests/gpu/model_seqpar_gpu.c: suite model_seqpar, the models sliced on one GPU).
>>>>>>> wip4/sp
 *
 * Usage: test_gpu [SUITE...]   (no argument: all suites). LS_TEST_SEED=N replays a seed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/gpu/gpu_check.h"

int gc_n_run, gc_n_failed;
uint64_t gc_seed = 20261207;

void gpu_runtime(void) {
    int count = 0;
    int status = device_cuda_count(&count);
    gc_report(status == 0 && count >= 1, "at least one CUDA device%s%s", status ? ": " : "",
              status ? ls_error_message() : "");
    if (status != 0 || count < 1) return;
    char description[256];
    status = device_cuda_describe(0, description, sizeof description);
    gc_report(status == 0 && strstr(description, "sm_") != NULL, "describe device 0: %s",
              description);

    void *ptr = NULL;
    status = device_cuda_alloc(&ptr, (size_t)1 << 20, NULL);
    gc_report(status == 0 && ptr != NULL, "allocate 1 MiB%s%s", status ? ": " : "",
              status ? ls_error_message() : "");
    device_cuda_free(ptr);

    status = device_cuda_alloc(&ptr, (size_t)1 << 50, "lower --seq-len");
    gc_report(status == LS_ERR_CUDA_OOM && strstr(ls_error_message(), "lower --seq-len") &&
                  strstr(ls_error_message(), "GiB free"),
              "1 PiB allocation is a clear out-of-memory error: %s", ls_error_message());

    status = device_cuda_alloc(&ptr, (size_t)1 << 20, NULL);
    gc_report(status == 0, "allocation works again after an out-of-memory error%s%s",
              status ? ": " : "", status ? ls_error_message() : "");
    device_cuda_free(ptr);
}

// Parity suites (one per op family; each file is tests/gpu/parity_<name>.c).
#define GPU_SUITES(X)                                                                          \
    X(runtime, gpu_runtime)                                                                    \
    X(attention, gpu_parity_attention)                                                         \
    X(attention_small, gpu_parity_attention_small)                                             \
    X(attention_kv, gpu_parity_attention_kv)                                                   \
    X(conv, gpu_parity_conv)                                                                   \
    X(matmul, gpu_parity_matmul)                                                               \
    X(norm, gpu_parity_norm)                                                                   \
    X(act, gpu_parity_act)                                                                     \
    X(embedding, gpu_parity_embedding)                                                         \
    X(loss, gpu_parity_loss)                                                                   \
    X(pool, gpu_parity_pool)                                                                   \
    X(optim, gpu_parity_optim)                                                                 \
    X(scan, gpu_parity_scan)                                                                   \
    X(scan_short, gpu_parity_scan_short)                                                       \
    X(glue, gpu_parity_glue)                                                                   \
    X(model, gpu_model)                                                                        \
    X(model_train, gpu_model_train)                                                            \
    X(model_stream, gpu_model_stream)                                                          \
    X(sample, gpu_parity_sample)                                                              \
    X(model_pack, gpu_model_pack)                                                              \
    X(dropout, gpu_parity_dropout)                                                             \
    X(seqpar, gpu_parity_seqpar)                                                               \
    X(gen_step, gpu_parity_gen_step)                                                           \
    X(model_seqpar, gpu_model_seqpar)

#define GPU_DECLARE(name, fn) void fn(void);
GPU_SUITES(GPU_DECLARE)

static const struct {
    const char *name;
    void (*run)(void);
} suites[] = {
#define GPU_ENTRY(name, fn) {#name, fn},
    GPU_SUITES(GPU_ENTRY)};

int main(int argc, char **argv) {
    const char *seed_text = getenv("LS_TEST_SEED");
    if (seed_text && *seed_text) gc_seed = strtoull(seed_text, NULL, 10);
    printf("# seed %llu (LS_TEST_SEED=%llu replays it)\n", (unsigned long long)gc_seed,
           (unsigned long long)gc_seed);
    for (size_t s = 0; s < sizeof suites / sizeof suites[0]; s++) {
        int wanted = argc < 2;
        for (int i = 1; i < argc; i++) wanted |= !strcmp(argv[i], suites[s].name);
        if (!wanted) continue;
        printf("# suite %s\n", suites[s].name);
        suites[s].run();
    }
    device_cuda_release(); // cuBLAS handles and scratch: a leak check sees none left
    printf("1..%d\n# %s\n", gc_n_run, device_build_info());
    return gc_n_failed != 0;
}
