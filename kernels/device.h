/*
 * device.h — which backend runs the kernels, and the CUDA runtime services the CLI needs
 * before any op runs (device count and names, checked allocation, build information).
 *
 * Every `_cuda` symbol exists in every build: the kernels/cuda .cu files define them when nvcc was
 * found, and kernels/cuda_none.c defines them to return LS_ERR_NO_CUDA otherwise, so code
 * above kernels/ never needs an #ifdef.
 */
#ifndef LS_DEVICE_H
#define LS_DEVICE_H

#include <stddef.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    DEVICE_CPU  = 0,
    DEVICE_CUDA = 1,
} DeviceKind;

typedef struct {
    DeviceKind kind;
    int ordinal; /* CUDA device index; 0 for the CPU */
} Device;

/**
 * Parse "cpu", "cuda" or "cuda:N" into @p out.
 * @return 0, or LS_ERR_USAGE (message names the bad value).
 */
int device_parse(const char *text, Device *out) LS_RESULT_USED;

/** 1 when this binary was built with the CUDA objects, 0 otherwise. */
int device_cuda_built(void);

/**
 * Number of CUDA devices visible. @return 0 and *count, LS_ERR_NO_CUDA in a CPU-only
 * build, LS_ERR_CUDA when the runtime or driver fails (message says which call and why).
 */
int device_cuda_count(int *count) LS_RESULT_USED;

/** Make @p ordinal current and describe it ("NVIDIA H100 80GB HBM3, sm_90, 79.1 GiB"). */
int device_cuda_describe(int ordinal, char *buf, size_t size) LS_RESULT_USED;

/**
 * cudaMalloc with a user-facing failure: on out-of-memory the message gives the bytes asked
 * for, the bytes free and @p lower_hint (e.g. "lower --seq-len or --batch").
 * @return 0, LS_ERR_CUDA_OOM, LS_ERR_CUDA or LS_ERR_NO_CUDA. Free with device_cuda_free().
 */
int device_cuda_alloc(void **ptr, size_t bytes, const char *lower_hint) LS_RESULT_USED;

/** cudaFree; NULL is a no-op. */
void device_cuda_free(void *ptr);

/** Make CUDA device @p ordinal current for this thread (cudaSetDevice): the models' buffers and
 *  kernels go there. @return 0, LS_ERR_CUDA (no such device: the message says how many there
 *  are) or LS_ERR_NO_CUDA. */
int device_cuda_set(int ordinal) LS_RESULT_USED;

/**
 * GPU memory held through device_cuda_alloc() (every longscan buffer: model parameters,
 * gradients, optimizer state, activation arena, the ops' scratch and cuBLAS workspaces), summed
 * over devices: what is held now and the most held at once since the last
 * device_cuda_memory_reset_peak(). The same quantity as PyTorch's max_memory_allocated, so the
 * two compare; the CUDA context and cuBLAS's own handles are not in it. Zeros without CUDA.
 */
void device_cuda_memory(size_t *in_use, size_t *peak);
void device_cuda_memory_reset_peak(void);

/**
 * Event timer for benchmarks (`longscan bench kernels`, kernels/dev): a pair of CUDA events
 * around work queued on one stream. Create with device_cuda_timer_init(), free with
 * device_cuda_timer_free() (NULL is a no-op).
 */
typedef struct DeviceTimer DeviceTimer;

/** @return 0, LS_ERR_NOMEM, LS_ERR_CUDA or LS_ERR_NO_CUDA. */
int device_cuda_timer_init(DeviceTimer **timer) LS_RESULT_USED;

/** Record the start event on @p stream (a cudaStream_t; NULL = default stream). */
int device_cuda_timer_start(DeviceTimer *timer, void *stream) LS_RESULT_USED;

/**
 * Record the stop event on @p stream, wait for it, and set *ms to the time between the two
 * events (GPU time of what was queued between them). @return 0, LS_ERR_CUDA or LS_ERR_NO_CUDA.
 */
int device_cuda_timer_stop(DeviceTimer *timer, void *stream, float *ms) LS_RESULT_USED;

void device_cuda_timer_free(DeviceTimer *timer);

/**
 * A row of CUDA events for the op profiler (`longscan bench model --profile`): event i is
 * recorded on the default stream by device_cuda_events_record(); after a sync the time between
 * any two recorded events comes back from device_cuda_events_elapsed(). Created with room for
 * @p capacity events; free with device_cuda_events_free() (NULL is a no-op).
 */
typedef struct DeviceEvents DeviceEvents;

/** @return 0, LS_ERR_NOMEM, LS_ERR_CUDA or LS_ERR_NO_CUDA. */
int device_cuda_events_init(DeviceEvents **events, int capacity) LS_RESULT_USED;
/** Record event @p index (0 <= index < capacity) on the default stream. */
int device_cuda_events_record(DeviceEvents *events, int index) LS_RESULT_USED;
/** Wait for event @p to, then *ms = GPU time from event @p from to event @p to. */
int device_cuda_events_elapsed(DeviceEvents *events, int from, int to,
                               float *ms) LS_RESULT_USED;
void device_cuda_events_free(DeviceEvents *events);

/** Direction of device_cuda_copy(). */
typedef enum {
    DEVICE_COPY_H2D = 0,
    DEVICE_COPY_D2H = 1,
    DEVICE_COPY_D2D = 2,
} DeviceCopy;

/**
 * Synchronous cudaMemcpy of @p bytes (host code above kernels/ never sees cuda_runtime.h).
 * @return 0, LS_ERR_CUDA or LS_ERR_NO_CUDA.
 */
int device_cuda_copy(void *dst, const void *src, size_t bytes, DeviceCopy dir) LS_RESULT_USED;

/** cudaMemset of @p bytes to @p byte_value. @return 0, LS_ERR_CUDA or LS_ERR_NO_CUDA. */
int device_cuda_memset(void *ptr, int byte_value, size_t bytes) LS_RESULT_USED;

/**
 * Wait for all work on the current device; reports an asynchronous fault of an earlier launch.
 * @return 0, LS_ERR_CUDA or LS_ERR_NO_CUDA.
 */
int device_cuda_sync(void) LS_RESULT_USED;

/*
 * CUDA graphs: record the work a piece of host code queues, then replay it with one launch
 * (generation captures many recurrent steps: models/stream.c). Capture runs on the host
 * thread's own stream, where every kernels/cuda call queues its work when given no stream
 * (cuda_common.cuh), in relaxed mode: nothing runs while capturing, so the code between begin
 * and end must not wait for the device or read device memory on the host (index checks,
 * downloads); such a call fails the capture, and device_cuda_graph_end reports it.
 */

/** Begin capturing the calling thread's stream. @return 0, LS_ERR_CUDA, LS_ERR_NO_CUDA. */
int device_cuda_graph_begin(void) LS_RESULT_USED;

/**
 * End the capture and instantiate it: *graph is the executable graph (free with
 * device_cuda_graph_free). After an error nothing is captured any more and *graph is NULL.
 * @return 0, LS_ERR_CUDA (the message names the call that broke the capture), LS_ERR_NO_CUDA.
 */
int device_cuda_graph_end(void **graph) LS_RESULT_USED;

/** Queue one replay of @p graph on the thread's stream (never waits). */
int device_cuda_graph_launch(void *graph) LS_RESULT_USED;

void device_cuda_graph_free(void *graph);

/**
 * Free the per-device cuBLAS handles, workspaces and scratch the CUDA ops created (at exit, or
 * before handing a device to other code). The next CUDA op creates them again. No-op without CUDA.
 */
void device_cuda_release(void);

/** "CUDA runtime 13.0, built for sm_90 (+PTX)" or "CPU only". */
const char *device_build_info(void);

#ifdef __cplusplus
}
#endif
#endif
