/*
 * cuda_none.c — the `_cuda` symbols of a build without nvcc (or with CUDA=0). Each returns
 * LS_ERR_NO_CUDA so `--device cuda` fails with one clear line instead of a link error.
 * Must declare exactly what the kernels/cuda .cu files define.
 */
#include "kernels/device.h"
#include "kernels/scan.h"

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
int device_cuda_timer_init(DeviceTimer **timer) {
    *timer = NULL;
    return no_cuda();
}
int device_cuda_timer_start(DeviceTimer *timer, void *stream) {
    (void)timer, (void)stream;
    return no_cuda();
}
int device_cuda_timer_stop(DeviceTimer *timer, void *stream, float *ms) {
    (void)timer, (void)stream;
    *ms = 0.0f;
    return no_cuda();
}
void device_cuda_timer_free(DeviceTimer *timer) { (void)timer; }
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

// kernels/scan.h
int scan_cuda_supported(const ScanArgs *a, ScanOp op) {
    (void)a, (void)op;
    return no_cuda();
}
size_t scan_bwd_workspace_size_cuda(const ScanArgs *a) {
    (void)a;
    return 0;
}
int scan_fwd_cuda(const ScanArgs *a) {
    (void)a;
    return no_cuda();
}
int scan_bwd_cuda(const ScanArgs *a) {
    (void)a;
    return no_cuda();
}
int scan_step_cuda(const ScanArgs *a) {
    (void)a;
    return no_cuda();
}
