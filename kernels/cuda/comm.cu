/*
 * comm.cu — the CUDA side of the NCCL communicator (kernels/comm.h, "CUDA helpers"): its own
 * communication stream and the events that order it against the calling thread's stream,
 * where the model computes. NCCL itself is loaded by kernels/comm.c; nothing here links it.
 * Exercised by bench/gpu_dp.sh (train --gpus N).
 */
#include <cuda_runtime.h>

#include "kernels/comm.h"
#include "kernels/cuda/cuda_common.cuh"

extern "C" int comm_cuda_stream_create(void **stream) {
    int status = 0;
    cudaStream_t s = NULL;
    *stream = NULL;
    // non-blocking: it must not wait for, nor be waited for by, the legacy default stream
    CUDA_RT(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    *stream = (void *)s;
fail:
    return status;
}

extern "C" void comm_cuda_stream_destroy(void *stream) {
    if (stream) cudaStreamDestroy((cudaStream_t)stream);
}

extern "C" int comm_cuda_event_create(void **event) {
    int status = 0;
    cudaEvent_t e = NULL;
    *event = NULL;
    CUDA_RT(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    *event = (void *)e;
fail:
    return status;
}

extern "C" void comm_cuda_event_destroy(void *event) {
    if (event) cudaEventDestroy((cudaEvent_t)event);
}

extern "C" int comm_cuda_event_record(void *event, void *stream) {
    int status = 0;
    CUDA_RT(cudaEventRecord((cudaEvent_t)event, cuda_stream(stream)));
fail:
    return status;
}

extern "C" int comm_cuda_stream_wait(void *stream, void *event) {
    int status = 0;
    CUDA_RT(cudaStreamWaitEvent(cuda_stream(stream), (cudaEvent_t)event, 0));
fail:
    return status;
}

extern "C" int comm_cuda_stream_sync(void *stream) {
    int status = 0;
    CUDA_RT(cudaStreamSynchronize(cuda_stream(stream)));
fail:
    return status;
}

extern "C" void *comm_cuda_thread_stream(void) { return (void *)cudaStreamPerThread; }
