/*
 * cuda_common.cuh — the one checking macro every CUDA runtime and cuBLAS call goes through.
 *
 * CUDA_TRY(expr, ok_value, to_string) evaluates expr; if the result differs from ok_value it
 * records the statement text, function, file:line and device in the error message, sets the
 * status to LS_ERR_CUDA and jumps to the enclosing function's `fail:` label. The function must
 * declare `int status = 0;` and return it from `fail:`. After every kernel launch use
 * CUDA_CHECK_LAUNCH(); with LS_CUDA_SYNC=1 in the environment it also synchronizes, so an
 * asynchronous fault is reported at the launch that caused it.
 */
#ifndef LS_CUDA_COMMON_CUH
#define LS_CUDA_COMMON_CUH

#include <cuda_runtime.h>

#include "common/error.h"

extern "C" int cuda_sync_after_launch(void);

#define CUDA_TRY(expr, ok_value, to_string)                                                    \
    do {                                                                                       \
        auto cuda_try_result_ = (expr);                                                        \
        if (cuda_try_result_ != (ok_value)) {                                                  \
            int cuda_try_device_ = -1;                                                         \
            cudaGetDevice(&cuda_try_device_);                                                  \
            status = ls_error(LS_ERR_CUDA, "cuda:%d: %s: %s failed at %s:%d: %s",             \
                              cuda_try_device_, __func__, #expr, __FILE__, __LINE__,           \
                              to_string(cuda_try_result_));                                    \
            goto fail;                                                                         \
        }                                                                                      \
    } while (0)

#define CUDA_RT(expr) CUDA_TRY(expr, cudaSuccess, cudaGetErrorString)

#define CUDA_CHECK_LAUNCH()                                                                    \
    do {                                                                                       \
        CUDA_RT(cudaGetLastError());                                                           \
        if (cuda_sync_after_launch()) CUDA_RT(cudaDeviceSynchronize());                        \
    } while (0)

#endif
