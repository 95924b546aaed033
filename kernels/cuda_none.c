/*
 * cuda_none.c — the `_cuda` symbols of a build without nvcc (or with CUDA=0). Each returns
 * LS_ERR_NO_CUDA so `--device cuda` fails with one clear line instead of a link error.
 * Must declare exactly what the kernels/cuda .cu files define.
 */
#include "kernels/attention.h"
#include "kernels/device.h"

static int no_cuda(void) {
    return ls_error(LS_ERR_NO_CUDA, "--device cuda: this longscan was built without CUDA "
                                    "(rebuild with nvcc on PATH, without CUDA=0)");
}

int device_cuda_built(void) { return 0; }
int device_cuda_count(int *count) {
    *count = 0;
    return no_cuda();
}
int device_cuda_describe(int ordinal, char *buf, size_t size) {
    (void)ordinal;
    if (size) buf[0] = '\0';
    return no_cuda();
}
int device_cuda_alloc(void **ptr, size_t bytes, const char *lower_hint) {
    (void)bytes;
    (void)lower_hint;
    *ptr = NULL;
    return no_cuda();
}
void device_cuda_free(void *ptr) { (void)ptr; }
int device_cuda_copy(void *dst, const void *src, size_t bytes, DeviceCopy dir) {
    (void)dst, (void)src, (void)bytes, (void)dir;
    return no_cuda();
}
int device_cuda_memset(void *ptr, int byte_value, size_t bytes) {
    (void)ptr, (void)byte_value, (void)bytes;
    return no_cuda();
}
int device_cuda_sync(void) { return no_cuda(); }
const char *device_build_info(void) { return "CPU only (built without CUDA)"; }

// attention.h
int attention_cuda_supported(const AttentionShape *s) {
    (void)s;
    return no_cuda();
}
int attention_fwd_cuda(float *out, float *lse, const float *q, const float *k, const float *v,
                       const AttentionShape *s) {
    (void)out, (void)lse, (void)q, (void)k, (void)v, (void)s;
    return no_cuda();
}
int attention_bwd_cuda(float *dq, float *dk, float *dv, const float *dout, const float *q,
                       const float *k, const float *v, const float *out, const float *lse,
                       const AttentionShape *s) {
    (void)dq, (void)dk, (void)dv, (void)dout, (void)q, (void)k, (void)v, (void)out, (void)lse;
    (void)s;
    return no_cuda();
}
int attention_rope_fwd_cuda(float *out, const float *x, const RopeShape *s) {
    (void)out, (void)x, (void)s;
    return no_cuda();
}
int attention_rope_bwd_cuda(float *dx, const float *dout, const RopeShape *s) {
    (void)dx, (void)dout, (void)s;
    return no_cuda();
}
