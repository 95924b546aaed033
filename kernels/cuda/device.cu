/*
 * device.cu — CUDA runtime services of device.h: device count and description, checked
 * allocation with an out-of-memory message a user can act on, build information.
 * Counterpart: kernels/cuda_none.c (same symbols, CPU-only build). Tested on the GPU machine
 * by tests/gpu/test_gpu.c (`make test-gpu`).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/cuda_common.cuh"
#include "kernels/device.h"

extern "C" {

int cuda_sync_after_launch(void) {
    static int cached = -1;
    if (cached < 0) {
        const char *env = getenv("LS_CUDA_SYNC");
        cached = env && env[0] == '1';
    }
    return cached;
}

int device_cuda_built(void) { return 1; }

int device_cuda_count(int *count) {
    int status = 0;
    *count = 0;
    CUDA_RT(cudaGetDeviceCount(count));
fail:
    return status;
}

int device_cuda_describe(int ordinal, char *buf, size_t size) {
    int status = 0;
    cudaDeviceProp prop;
    CUDA_RT(cudaSetDevice(ordinal));
    CUDA_RT(cudaGetDeviceProperties(&prop, ordinal));
    snprintf(buf, size, "%s, sm_%d%d, %d SMs, %.1f GiB", prop.name, prop.major, prop.minor,
             prop.multiProcessorCount, (double)prop.totalGlobalMem / (1024.0 * 1024 * 1024));
fail:
    return status;
}

/*
 * The bytes of every live allocation, so that device_cuda_free() can subtract them: a small
 * table (the program holds tens of buffers, not thousands), searched linearly under a lock.
 */
typedef struct {
    void *ptr;
    size_t bytes;
} Held;

static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;
static Held *held;
static size_t held_n, held_cap, held_bytes, held_peak;

static void held_add(void *ptr, size_t bytes) {
    pthread_mutex_lock(&held_lock);
    if (held_n == held_cap) {
        size_t cap = held_cap ? 2 * held_cap : 64;
        Held *grown = (Held *)realloc(held, cap * sizeof *grown);
        if (grown) held = grown, held_cap = cap;
    }
    if (held_n < held_cap) held[held_n++] = (Held){ptr, bytes};
    held_bytes += bytes;
    if (held_bytes > held_peak) held_peak = held_bytes;
    pthread_mutex_unlock(&held_lock);
}

static void held_remove(void *ptr) {
    pthread_mutex_lock(&held_lock);
    for (size_t i = 0; i < held_n; i++)
        if (held[i].ptr == ptr) {
            held_bytes -= held[i].bytes;
            held[i] = held[--held_n];
            break;
        }
    pthread_mutex_unlock(&held_lock);
}

void device_cuda_memory(size_t *in_use, size_t *peak) {
    pthread_mutex_lock(&held_lock);
    if (in_use) *in_use = held_bytes;
    if (peak) *peak = held_peak;
    pthread_mutex_unlock(&held_lock);
}

void device_cuda_memory_reset_peak(void) {
    pthread_mutex_lock(&held_lock);
    held_peak = held_bytes;
    pthread_mutex_unlock(&held_lock);
}

int device_cuda_set(int ordinal) {
    int status = 0, count = 0;
    CUDA_RT(cudaGetDeviceCount(&count));
    if (ordinal < 0 || ordinal >= count)
        return ls_error(LS_ERR_CUDA, "--device cuda:%d: no such GPU (%d visible)", ordinal,
                        count);
    CUDA_RT(cudaSetDevice(ordinal));
fail:
    return status;
}

int device_cuda_alloc(void **ptr, size_t bytes, const char *lower_hint) {
    int status = 0;
    *ptr = NULL;
    cudaError_t result = cudaMalloc(ptr, bytes);
    if (result == cudaErrorMemoryAllocation) {
        cudaGetLastError(); /* clear the sticky-free error so later calls are not poisoned */
        size_t free_bytes = 0, total_bytes = 0;
        cudaMemGetInfo(&free_bytes, &total_bytes);
        int device = -1;
        cudaGetDevice(&device);
        return ls_error(LS_ERR_CUDA_OOM,
                        "cuda:%d: out of GPU memory: asked for %.2f GiB with %.2f GiB free of "
                        "%.2f GiB; %s",
                        device, bytes / 1073741824.0, free_bytes / 1073741824.0,
                        total_bytes / 1073741824.0, lower_hint ? lower_hint : "use smaller inputs");
    }
    CUDA_RT(result);
    held_add(*ptr, bytes);
fail:
    return status;
}

void device_cuda_free(void *ptr) {
    if (!ptr) return;
    held_remove(ptr);
    cudaFree(ptr);
}

struct DeviceTimer {
    cudaEvent_t start, stop;
};

int device_cuda_timer_init(DeviceTimer **timer) {
    int status = 0;
    DeviceTimer *t = (DeviceTimer *)calloc(1, sizeof *t);
    *timer = NULL;
    if (!t) return ls_error(LS_ERR_NOMEM, "device_cuda_timer_init: out of memory");
    CUDA_RT(cudaEventCreate(&t->start));
    CUDA_RT(cudaEventCreate(&t->stop));
    *timer = t;
    return 0;
fail:
    device_cuda_timer_free(t);
    return status;
}

int device_cuda_timer_start(DeviceTimer *timer, void *stream) {
    int status = 0;
    CUDA_RT(cudaEventRecord(timer->start, (cudaStream_t)stream));
fail:
    return status;
}

int device_cuda_timer_stop(DeviceTimer *timer, void *stream, float *ms) {
    int status = 0;
    *ms = 0.0f;
    CUDA_RT(cudaEventRecord(timer->stop, (cudaStream_t)stream));
    CUDA_RT(cudaEventSynchronize(timer->stop));
    CUDA_RT(cudaEventElapsedTime(ms, timer->start, timer->stop));
fail:
    return status;
}

void device_cuda_timer_free(DeviceTimer *timer) {
    if (!timer) return;
    if (timer->start) cudaEventDestroy(timer->start);
    if (timer->stop) cudaEventDestroy(timer->stop);
    free(timer);
}

struct DeviceEvents {
    int capacity;
    cudaEvent_t *event;
};

int device_cuda_events_init(DeviceEvents **events, int capacity) {
    int status = 0;
    *events = NULL;
    DeviceEvents *e = (DeviceEvents *)calloc(1, sizeof *e);
    if (e) e->event = (cudaEvent_t *)calloc((size_t)capacity, sizeof *e->event);
    if (!e || !e->event) {
        free(e);
        return ls_error(LS_ERR_NOMEM, "device_cuda_events_init: out of memory");
    }
    e->capacity = capacity;
    for (int i = 0; i < capacity; i++) CUDA_RT(cudaEventCreate(&e->event[i]));
    *events = e;
    return 0;
fail:
    device_cuda_events_free(e);
    return status;
}

int device_cuda_events_record(DeviceEvents *events, int index) {
    int status = 0;
    if (index < 0 || index >= events->capacity)
        return ls_error(LS_ERR_INTERNAL, "device_cuda_events_record: event %d of %d", index,
                        events->capacity);
    CUDA_RT(cudaEventRecord(events->event[index], 0));
fail:
    return status;
}

int device_cuda_events_elapsed(DeviceEvents *events, int from, int to, float *ms) {
    int status = 0;
    *ms = 0.0f;
    if (from < 0 || to < 0 || from >= events->capacity || to >= events->capacity)
        return ls_error(LS_ERR_INTERNAL, "device_cuda_events_elapsed: events %d, %d of %d", from,
                        to, events->capacity);
    CUDA_RT(cudaEventSynchronize(events->event[to]));
    CUDA_RT(cudaEventElapsedTime(ms, events->event[from], events->event[to]));
fail:
    return status;
}

void device_cuda_events_free(DeviceEvents *events) {
    if (!events) return;
    for (int i = 0; i < events->capacity; i++)
        if (events->event[i]) cudaEventDestroy(events->event[i]);
    free(events->event);
    free(events);
}

int device_cuda_copy(void *dst, const void *src, size_t bytes, DeviceCopy dir) {
    int status = 0;
    cudaMemcpyKind kind = dir == DEVICE_COPY_H2D   ? cudaMemcpyHostToDevice
                          : dir == DEVICE_COPY_D2H ? cudaMemcpyDeviceToHost
                                                   : cudaMemcpyDeviceToDevice;
    CUDA_RT(cudaMemcpy(dst, src, bytes, kind));
fail:
    return status;
}

int device_cuda_memset(void *ptr, int byte_value, size_t bytes) {
    int status = 0;
    CUDA_RT(cudaMemset(ptr, byte_value, bytes));
fail:
    return status;
}

int device_cuda_graph_begin(void) {
    int status = 0;
    CUDA_RT(cudaStreamBeginCapture(cudaStreamPerThread, cudaStreamCaptureModeRelaxed));
fail:
    return status;
}

int device_cuda_graph_end(void **graph) {
    int status = 0;
    cudaGraph_t g = NULL;
    cudaGraphExec_t exec = NULL;
    *graph = NULL;
    CUDA_RT(cudaStreamEndCapture(cudaStreamPerThread, &g));
    CUDA_RT(cudaGraphInstantiate(&exec, g, 0));
    *graph = exec;
fail:
    if (g) cudaGraphDestroy(g);
    if (status) (void)cudaGetLastError(); // a broken capture leaves a sticky error: clear it
    return status;
}

int device_cuda_graph_launch(void *graph) {
    int status = 0;
    CUDA_RT(cudaGraphLaunch((cudaGraphExec_t)graph, cudaStreamPerThread));
fail:
    return status;
}

void device_cuda_graph_free(void *graph) {
    if (graph) cudaGraphExecDestroy((cudaGraphExec_t)graph);
}

int device_cuda_sync(void) {
    int status = 0;
    CUDA_RT(cudaDeviceSynchronize());
fail:
    return status;
}

const char *device_build_info(void) {
    static char info[128];
    int runtime = 0;
    if (cudaRuntimeGetVersion(&runtime) != cudaSuccess) runtime = CUDART_VERSION;
    snprintf(info, sizeof info, "CUDA runtime %d.%d, built for %s", runtime / 1000,
             (runtime % 1000) / 10, LS_CUDA_ARCH_NAME);
    return info;
}

} /* extern "C" */
