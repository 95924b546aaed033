/*
 * cuda_common.cuh — the one checking macro every CUDA runtime and cuBLAS call goes through.
 *
 * CUDA_TRY(expr, ok_value, to_string) evaluates expr; if the result differs from ok_value it
 * records the statement text, function, file:line and device in the error message, sets the
 * status to LS_ERR_CUDA and jumps to the enclosing function's `fail:` label. The function must
 * declare `int status = 0;` and return it from `fail:`. After every kernel launch use
 * CUDA_CHECK_LAUNCH(); with LS_CUDA_SYNC=1 in the environment it also synchronizes, so an
 * asynchronous fault is reported at the launch that caused it. cuBLAS / cuBLASLt calls go
 * through CUBLAS_TRY (same statement text, place and device in the message). A failure also
 * clears the runtime's last error, so a non-sticky one (an invalid argument) is reported once,
 * by the call that failed, and not again by whichever launch checks cudaGetLastError next
 * (issue 13: one bad copy showed up as two more failures in later, unrelated tests).
 *
 * Below the macros: the per-device context every kernels/cuda file shares (cuBLAS and cuBLASLt
 * handles and their workspaces, created once; a scratch buffer for deterministic two-stage
 * reductions, grown only when a larger call comes, never freed in a step), and launchers of the
 * reduction helpers in kernels/cuda/cuda_common.cu. Private to kernels/cuda.
 */
#ifndef LS_CUDA_COMMON_CUH
#define LS_CUDA_COMMON_CUH

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

extern "C" int cuda_sync_after_launch(void);

#define CUDA_TRY(expr, ok_value, to_string)                                                    \
    do {                                                                                       \
        auto cuda_try_result_ = (expr);                                                        \
        if (cuda_try_result_ != (ok_value)) {                                                  \
            int cuda_try_device_ = -1;                                                         \
            cudaGetDevice(&cuda_try_device_);                                                  \
            (void)cudaGetLastError(); /* reported once: here */                                \
            status = ls_error(LS_ERR_CUDA, "cuda:%d: %s: %s failed at %s:%d: %s",             \
                              cuda_try_device_, __func__, #expr, __FILE__, __LINE__,           \
                              to_string(cuda_try_result_));                                    \
            goto fail;                                                                         \
        }                                                                                      \
    } while (0)

#define CUDA_RT(expr) CUDA_TRY(expr, cudaSuccess, cudaGetErrorString)

#define CUBLAS_TRY(expr) CUDA_TRY(expr, CUBLAS_STATUS_SUCCESS, cublasGetStatusString)

#define CUDA_CHECK_LAUNCH()                                                                    \
    do {                                                                                       \
        CUDA_RT(cudaGetLastError());                                                           \
        if (cuda_sync_after_launch()) CUDA_RT(cudaDeviceSynchronize());                        \
    } while (0)

/*
 * The stream a NULL `stream` argument means. kernels/cuda is compiled with --default-stream
 * per-thread (Makefile), so our own launches and runtime calls with stream 0 already go to the
 * host thread's own stream; cuBLAS and cuBLASLt are prebuilt libraries that read 0 as the
 * legacy default stream, so their calls take this instead. One stream for everything keeps
 * the order the model relies on, and lets a CUDA graph capture a whole step (device.h).
 */
static inline cudaStream_t cuda_stream(void *stream) {
    return stream ? (cudaStream_t)stream : cudaStreamPerThread;
}

// ----------------------------------------------------------------------------- context

/*
 * One per device, created on first use by cuda_ctx_get() and kept until device_cuda_release().
 * The handles are not thread-safe: one host thread drives a device at a time (the model does).
 * The scratch is shared by every op on the device: an op may use it only between its own
 * launches on its own stream, so ops that use it must not run concurrently on two streams.
 */
typedef struct {
    int device;
    cublasHandle_t blas;
    cublasLtHandle_t lt;
    void *blas_ws;  // cuBLAS workspace (cublasSetWorkspace): no allocation inside a GEMM call
    void *lt_ws;    // cuBLASLt workspace, passed to every cublasLtMatmul
    size_t ws_bytes;
    void *scratch;  // reduction partials, sort buffers; grows, never shrinks
    size_t scratch_bytes;
} CudaCtx;

/** The current device's context (handles created on first use). @return 0 or LS_ERR_CUDA. */
extern "C" int cuda_ctx_get(CudaCtx **out);

/**
 * Point *out at >= @p bytes of the current device's scratch (256-byte aligned). Grows the
 * buffer when needed (the old one is freed after the device is idle); out of memory names the
 * bytes and @p what. @return 0, LS_ERR_CUDA_OOM or LS_ERR_CUDA.
 */
extern "C" int cuda_scratch(size_t bytes, void **out, const char *what);

/** Bytes rounded up to the scratch alignment, for carving several arrays out of one request. */
static inline size_t cuda_align(size_t bytes) { return (bytes + 255) / 256 * 256; }

// ----------------------------------------------------------------------------- reductions

/*
 * Deterministic reductions (STYLE 34: fixed order, no float atomics). Each sums in double in an
 * order that depends on the sizes only, never on timing, so a call repeated gives the same bits.
 */

/** sums[c] = Σ_{r=0}^{R−1} part[r·C + c] for c < C. part (R, C), sums (C), both device. */
extern "C" int cuda_colsum(const double *part, int64_t R, int64_t C, double *sums,
                           cudaStream_t stream);

/** *out = Σ x[0..n) (one block, fixed tree). x (n), out (1), both device. */
extern "C" int cuda_sum(const double *x, int64_t n, double *out, cudaStream_t stream);

/**
 * Data-dependent argument check of an index array on the device: finds the first i with
 * idx[i] outside [lo, hi] and != ignore (INT64_MIN for none). idx is int32 when
 * @p is64 is 0, int64 otherwise. Synchronizes (one 16-byte copy to the host). Uses the
 * scratch: call it before taking scratch pointers of your own.
 * @return 0 with *bad = −1 when all are valid, else 0 with *bad = i and *bad_value = idx[i];
 *         LS_ERR_CUDA when a CUDA call fails.
 */
extern "C" int cuda_index_check(const void *idx, int is64, int64_t n, int64_t lo, int64_t hi,
                                int64_t ignore, int64_t *bad, int64_t *bad_value,
                                cudaStream_t stream);

#endif
