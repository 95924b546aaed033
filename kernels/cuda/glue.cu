/*
 * glue.cu — the model glue of kernels/glue.h on the GPU: fills and copies (the runtime's async
 * calls), elementwise updates, per-sequence row moves, the rc pair average, token ids and
 * waveform frames. Must match kernels/cpu/glue.c; checked by tests/gpu/parity_glue.c.
 *
 * Every kernel is a grid-stride loop over the output elements with 64-bit indices, one element
 * per thread per step: these ops move a few bytes per element, and a row's W values are
 * contiguous, so neighbouring threads touch neighbouring addresses. No element is written by
 * two threads and nothing is reduced, so the results are those of the CPU loops bit for bit
 * (glue_neg_exp: CUDA's expf) and never depend on the launch shape. fp32 arithmetic is written
 * with rn_ operations (cuda_math.cuh) so nvcc cannot contract a·b + c into an FMA the CPU does
 * not do.
 */
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_math.cuh"
#include "kernels/glue.h"

namespace {

constexpr int GLUE_THREADS = 256;
constexpr int64_t GLUE_MAX_BLOCKS = 65536;

unsigned glue_blocks(int64_t n) {
    int64_t b = (n + GLUE_THREADS - 1) / GLUE_THREADS;
    return (unsigned)(b < 1 ? 1 : b > GLUE_MAX_BLOCKS ? GLUE_MAX_BLOCKS : b);
}

#define GLUE_LOOP(i, n)                                                                        \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                 \
         i += (int64_t)gridDim.x * blockDim.x)

int bad_dtype(const char *fn, DType t) {
    return ls_error(LS_ERR_USAGE, "%s: dtype %d is neither DTYPE_F32 nor DTYPE_BF16", fn, (int)t);
}

int bad_size(const char *fn, const char *what, int64_t v) {
    return ls_error(LS_ERR_USAGE, "%s: %s = %lld", fn, what, (long long)v);
}

// Sequence position of tile position s in row b, or -1 past the row's length.
__device__ __forceinline__ int64_t row_pos(const int64_t *lengths, const int32_t *mirror,
                                           int64_t L, int64_t b, int64_t s, int reverse) {
    const int64_t n = lengths[b];
    if (s >= n) return -1;
    if (!reverse) return s;
    return mirror ? mirror[b * L + s] : n - 1 - s;
}

// ------------------------------------------------------------------------------ elementwise

template <typename TY, typename TX>
__global__ void add_kernel(TY *__restrict__ y, const TX *__restrict__ x, int64_t n) {
    GLUE_LOOP(i, n) st(y + i, rn_add(ld(y + i), ld(x + i)));
}

template <typename TY> __global__ void cast_kernel(TY *__restrict__ y, const float *__restrict__ x,
                                                    int64_t n) {
    GLUE_LOOP(i, n) st(y + i, x[i]);
}

__global__ void neg_exp_kernel(float *__restrict__ y, const float *__restrict__ x, int64_t n) {
    GLUE_LOOP(i, n) y[i] = -expf(x[i]);
}

__global__ void mul_acc_kernel(float *__restrict__ y, const float *__restrict__ a,
                               const float *__restrict__ b, int64_t n) {
    GLUE_LOOP(i, n) y[i] = rn_add(y[i], rn_mul(a[i], b[i]));
}

// ------------------------------------------------------------------------------ rows

// A warp per tile row (b, s): the row's sequence position is found once, then the lanes walk
// its W values VEC at a time (VEC = 4 when W and the pointers allow 16-byte fp32 / 8-byte bf16
// accesses). Per-element index division made the one-thread-per-element form run at a third of
// the copy bandwidth (bench/results/gpu-profile-7e5885b-h100: 93 µs for a 65,536 × 256 gather).
constexpr int ROWS_WARPS = 8;

unsigned rows_blocks(int64_t rows) {
    int64_t b = (rows + ROWS_WARPS - 1) / ROWS_WARPS;
    return (unsigned)(b < 1 ? 1 : b > GLUE_MAX_BLOCKS ? GLUE_MAX_BLOCKS : b);
}

#define ROWS_LOOP(r, rows)                                                                     \
    for (int64_t r = (int64_t)blockIdx.x * ROWS_WARPS + (threadIdx.x >> 5); r < (rows);        \
         r += (int64_t)gridDim.x * ROWS_WARPS)

// dst (Be, nt, W) dense from src (Be, L, W); positions past a row's length read as 0.
template <typename TD, typename TS, int VEC>
__global__ void __launch_bounds__(ROWS_WARPS * 32)
    gather_kernel(TD *__restrict__ dst, const TS *__restrict__ src,
                  const int64_t *__restrict__ lengths, const int32_t *__restrict__ mirror,
                  int64_t Be, int64_t L, int64_t W, int64_t s0, int64_t nt, int reverse) {
    const int lane = threadIdx.x & 31;
    ROWS_LOOP(r, Be * nt) {
        const int64_t b = r / nt, p = row_pos(lengths, mirror, L, b, s0 + (r - b * nt), reverse);
        TD *d = dst + r * W;
        const TS *x = src + (b * L + (p < 0 ? 0 : p)) * W;
        for (int64_t w = (int64_t)lane * VEC; w < W; w += 32 * VEC) {
            float v[VEC];
            if (p < 0)
                for (int k = 0; k < VEC; k++) v[k] = 0.0f;
            else
                ldv(x + w, v);
            stv(d + w, v);
        }
    }
}

// dst (Be, L, W) += src (Be, nt, W) at the valid positions; each dst element has one source.
template <typename TD, typename TS, int VEC>
__global__ void __launch_bounds__(ROWS_WARPS * 32)
    scatter_add_kernel(TD *__restrict__ dst, const TS *__restrict__ src,
                       const int64_t *__restrict__ lengths, const int32_t *__restrict__ mirror,
                       int64_t Be, int64_t L, int64_t W, int64_t s0, int64_t nt, int reverse) {
    const int lane = threadIdx.x & 31;
    ROWS_LOOP(r, Be * nt) {
        const int64_t b = r / nt, p = row_pos(lengths, mirror, L, b, s0 + (r - b * nt), reverse);
        if (p < 0) continue; // the same for the whole warp
        TD *d = dst + (b * L + p) * W;
        const TS *x = src + r * W;
        for (int64_t w = (int64_t)lane * VEC; w < W; w += 32 * VEC) {
            float a[VEC], v[VEC];
            ldv(d + w, a);
            ldv(x + w, v);
            for (int k = 0; k < VEC; k++) a[k] = rn_add(a[k], v[k]);
            stv(d + w, a);
        }
    }
}

template <typename T>
__global__ void zero_tail_kernel(T *__restrict__ x, const int64_t *__restrict__ lengths,
                                 int64_t Be, int64_t L, int64_t W) {
    const int64_t n = Be * L * W;
    GLUE_LOOP(i, n) {
        const int64_t r = i / W, b = r / L, p = r - b * L;
        if (p >= lengths[b]) st(x + i, 0.0f);
    }
}

__global__ void pair_mean_fwd_kernel(float *__restrict__ out, const float *__restrict__ x,
                                     int64_t BW) {
    GLUE_LOOP(i, BW) out[i] = rn_mul(0.5f, rn_add(x[i], x[BW + i]));
}

__global__ void pair_mean_bwd_kernel(float *__restrict__ dx, const float *__restrict__ dout,
                                     int64_t BW) {
    GLUE_LOOP(i, BW) {
        const float g = rn_mul(0.5f, dout[i]);
        dx[i] = rn_add(dx[i], g);
        dx[BW + i] = rn_add(dx[BW + i], g);
    }
}

// ------------------------------------------------------------------------------ inputs

// ids (Be, L): row b < B the tokens, row B + b (rc) the reverse complement within the length.
__global__ void tokens_to_ids_kernel(int32_t *__restrict__ ids, const uint8_t *__restrict__ t,
                                     const int64_t *__restrict__ lengths,
                                     const int32_t *__restrict__ mirror, int64_t B, int64_t L,
                                     int rc) {
    const int64_t n = (rc ? 2 : 1) * B * L;
    GLUE_LOOP(i, n) {
        const int64_t row = i / L, p = i - row * L, b = row < B ? row : row - B;
        const int64_t len = lengths[b];
        int32_t v;
        if (row < B) {
            v = p < len ? t[b * L + p] : 0;
        } else {
            const int64_t q = mirror ? mirror[b * L + p] : len - 1 - p; // in-place reversal
            const int32_t x = p < len ? t[b * L + q] : 0;
            v = p < len && x < 4 ? 3 - x : x;
        }
        ids[i] = v;
    }
}

__global__ void ids_to_ids_kernel(int32_t *__restrict__ ids, const int32_t *__restrict__ src,
                                  const int64_t *__restrict__ lengths, int64_t B, int64_t L) {
    GLUE_LOOP(i, B * L) {
        const int64_t b = i / L, p = i - b * L;
        ids[i] = p < lengths[b] ? src[i] : 0;
    }
}

__global__ void frames_kernel(float *__restrict__ frames, const float *__restrict__ samples,
                              const int64_t *__restrict__ lengths,
                              const int64_t *__restrict__ frame_end, int64_t B, int64_t L,
                              int64_t F, int64_t Lt) {
    GLUE_LOOP(i, B * Lt * F) {
        const int64_t b = i / (Lt * F), j = i - b * Lt * F; // j = frame·F + f = sample index
        const int64_t end = frame_end ? frame_end[b * Lt + j / F] : lengths[b];
        frames[i] = j < end && j < L ? samples[b * L + j] : 0.0f;
    }
}

// ------------------------------------------------------------------------------ launchers

template <typename TD, typename TS, int VEC>
int rows_launch_vec(int scatter, float *dst, const float *src, const int64_t *lengths,
                    const int32_t *mirror, int64_t Be, int64_t L, int64_t W, int64_t s0,
                    int64_t nt, int reverse, cudaStream_t st) {
    int status = 0;
    const unsigned blocks = rows_blocks(Be * nt);
    if (scatter)
        scatter_add_kernel<TD, TS, VEC><<<blocks, ROWS_WARPS * 32, 0, st>>>(
            (TD *)dst, (const TS *)src, lengths, mirror, Be, L, W, s0, nt, reverse);
    else
        gather_kernel<TD, TS, VEC><<<blocks, ROWS_WARPS * 32, 0, st>>>(
            (TD *)dst, (const TS *)src, lengths, mirror, Be, L, W, s0, nt, reverse);
    CUDA_CHECK_LAUNCH();
fail:
    return status;
}

template <typename TD, typename TS>
int rows_launch(int scatter, float *dst, const float *src, const int64_t *lengths,
                const int32_t *mirror, int64_t Be, int64_t L, int64_t W, int64_t s0, int64_t nt,
                int reverse, cudaStream_t st) {
    // every row starts at a multiple of W elements: W % 4 == 0 keeps 4-vectors aligned
    if (W % 4 == 0 && cuda_aligned(dst, 4, sizeof(TD)) && cuda_aligned(src, 4, sizeof(TS)))
        return rows_launch_vec<TD, TS, 4>(scatter, dst, src, lengths, mirror, Be, L, W, s0, nt,
                                          reverse, st);
    return rows_launch_vec<TD, TS, 1>(scatter, dst, src, lengths, mirror, Be, L, W, s0, nt,
                                      reverse, st);
}

int rows_run(const char *fn, int scatter, float *dst, DType dt, const float *src, DType STy,
             const int64_t *lengths, const int32_t *mirror, int64_t Be, int64_t L, int64_t W,
             int64_t s0, int64_t nt, int reverse, void *stream) {
    if (Be < 0 || L < 1 || W < 1 || nt < 0 || s0 < 0)
        return ls_error(LS_ERR_USAGE, "%s: Be = %lld, L = %lld, W = %lld, s0 = %lld, nt = %lld",
                        fn, (long long)Be, (long long)L, (long long)W, (long long)s0,
                        (long long)nt);
    if (dt != DTYPE_F32 && dt != DTYPE_BF16) return bad_dtype(fn, dt);
    if (STy != DTYPE_F32 && STy != DTYPE_BF16) return bad_dtype(fn, STy);
    if (Be * nt == 0) return 0;
    if (!dst || !src || !lengths) return ls_error(LS_ERR_USAGE, "%s: NULL pointer", fn);
    cudaStream_t st = (cudaStream_t)stream;
    if (dt == DTYPE_F32 && STy == DTYPE_F32)
        return rows_launch<float, float>(scatter, dst, src, lengths, mirror, Be, L, W, s0, nt,
                                           reverse, st);
    if (dt == DTYPE_F32)
        return rows_launch<float, bf16>(scatter, dst, src, lengths, mirror, Be, L, W, s0, nt,
                                           reverse, st);
    if (STy == DTYPE_F32)
        return rows_launch<bf16, float>(scatter, dst, src, lengths, mirror, Be, L, W, s0, nt,
                                           reverse, st);
    return rows_launch<bf16, bf16>(scatter, dst, src, lengths, mirror, Be, L, W, s0, nt,
                                           reverse, st);
}

// ------------------------------------------------------------------------------ streaming

// (B, L) blocks of W elements of E (uint16_t for bf16, float for fp32: a bit copy either way).
template <typename E>
__global__ void copy_blocks_kernel(E *__restrict__ dst, int64_t dst_sb, int64_t dst_sl,
                                   const E *__restrict__ src, int64_t src_sb, int64_t src_sl,
                                   int64_t B, int64_t L, int64_t W) {
    const int64_t n = B * L * W;
    GLUE_LOOP(i, n) {
        const int64_t r = i / W, w = i - r * W, b = r / L, l = r - b * L;
        dst[b * dst_sb + l * dst_sl + w] = src[b * src_sb + l * src_sl + w];
    }
}

// acc (B, W) += Σ_l x, l in order: the CPU's loop, one thread per output.
__global__ void sum_rows_acc_kernel(double *__restrict__ acc, const float *__restrict__ x,
                                    int64_t B, int64_t L, int64_t W) {
    GLUE_LOOP(bw, B * W) {
        const int64_t b = bw / W, w = bw - b * W;
        double a = acc[bw];
        for (int64_t l = 0; l < L; l++) a += (double)x[(b * L + l) * W + w];
        acc[bw] = a;
    }
}

// part (C, B, W): the sum over chunk c's positions [c·GLUE_SUM_CHUNK, ...), in order.
__global__ void sum_rows_part_kernel(double *__restrict__ part, const float *__restrict__ x,
                                     int64_t B, int64_t L, int64_t W, int64_t C) {
    GLUE_LOOP(i, C * B * W) {
        const int64_t c = i / (B * W), bw = i - c * (B * W), b = bw / W, w = bw - b * W;
        const int64_t l0 = c * GLUE_SUM_CHUNK,
                      l1 = l0 + GLUE_SUM_CHUNK < L ? l0 + GLUE_SUM_CHUNK : L;
        double a = 0.0;
        for (int64_t l = l0; l < l1; l++) a += (double)x[(b * L + l) * W + w];
        part[i] = a;
    }
}

// acc (B, W) += Σ_c part[c], c in order.
__global__ void sum_rows_fold_kernel(double *__restrict__ acc, const double *__restrict__ part,
                                     int64_t BW, int64_t C) {
    GLUE_LOOP(bw, BW) {
        double a = acc[bw];
        for (int64_t c = 0; c < C; c++) a += part[c * BW + bw];
        acc[bw] = a;
    }
}

__global__ void mean_from_sum_kernel(float *__restrict__ out, const double *__restrict__ acc,
                                     int64_t n, double count) {
    GLUE_LOOP(i, n) out[i] = (float)__ddiv_rn(acc[i], count);
}

} // namespace

extern "C" {

int glue_zero_cuda(void *x, size_t bytes, void *stream) {
    int status = 0;
    if (bytes == 0) return 0;
    if (!x) return ls_error(LS_ERR_USAGE, "glue_zero_cuda: NULL pointer");
    CUDA_RT(cudaMemsetAsync(x, 0, bytes, (cudaStream_t)stream));
fail:
    return status;
}

int glue_copy_cuda(void *dst, const void *src, size_t bytes, void *stream) {
    int status = 0;
    if (bytes == 0) return 0;
    if (!dst || !src) return ls_error(LS_ERR_USAGE, "glue_copy_cuda: NULL pointer");
    CUDA_RT(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, (cudaStream_t)stream));
fail:
    return status;
}

int glue_add_cuda(float *y, DType yt, const float *x, DType xt, int64_t n, void *stream) {
    int status = 0;
    if (n < 0) return bad_size(__func__, "n", n);
    if (yt != DTYPE_F32 && yt != DTYPE_BF16) return bad_dtype(__func__, yt);
    if (xt != DTYPE_F32 && xt != DTYPE_BF16) return bad_dtype(__func__, xt);
    if (n == 0) return 0;
    if (!y || !x) return ls_error(LS_ERR_USAGE, "%s: NULL pointer", __func__);
    {
        cudaStream_t st = (cudaStream_t)stream;
        const unsigned blocks = glue_blocks(n);
        if (yt == DTYPE_F32 && xt == DTYPE_F32)
            add_kernel<float, float><<<blocks, GLUE_THREADS, 0, st>>>(y, x, n);
        else if (yt == DTYPE_F32)
            add_kernel<float, bf16><<<blocks, GLUE_THREADS, 0, st>>>(y, (const bf16 *)x, n);
        else if (xt == DTYPE_F32)
            add_kernel<bf16, float><<<blocks, GLUE_THREADS, 0, st>>>((bf16 *)y, x, n);
        else
            add_kernel<bf16, bf16><<<blocks, GLUE_THREADS, 0, st>>>((bf16 *)y, (const bf16 *)x, n);
    }
    CUDA_CHECK_LAUNCH();
fail:
    return status;
}

int glue_cast_cuda(float *y, DType yt, const float *x, int64_t n, void *stream) {
    int status = 0;
    if (n < 0) return bad_size(__func__, "n", n);
    if (yt != DTYPE_F32 && yt != DTYPE_BF16) return bad_dtype(__func__, yt);
    if (n == 0) return 0;
    if (!y || !x) return ls_error(LS_ERR_USAGE, "%s: NULL pointer", __func__);
    if (yt == DTYPE_F32) return glue_copy_cuda(y, x, (size_t)n * sizeof(float), stream);
    cast_kernel<bf16><<<glue_blocks(n), GLUE_THREADS, 0, (cudaStream_t)stream>>>((bf16 *)y, x, n);
    CUDA_CHECK_LAUNCH();
fail:
    return status;
}

int glue_neg_exp_cuda(float *y, const float *x, int64_t n, void *stream) {
    int status = 0;
    if (n < 0) return bad_size(__func__, "n", n);
    if (n == 0) return 0;
    if (!y || !x) return ls_error(LS_ERR_USAGE, "%s: NULL pointer", __func__);
    neg_exp_kernel<<<glue_blocks(n), GLUE_THREADS, 0, (cudaStream_t)stream>>>(y, x, n);
    CUDA_CHECK_LAUNCH();
fail:
    return status;
}

int glue_mul_acc_cuda(float *y, const float *a, const float *b, int64_t n, void *stream) {
    int status = 0;
    if (n < 0) return bad_size(__func__, "n", n);
    if (n == 0) return 0;
    if (!y || !a || !b) return ls_error(LS_ERR_USAGE, "%s: NULL pointer", __func__);
    mul_acc_kernel<<<glue_blocks(n), GLUE_THREADS, 0, (cudaStream_t)stream>>>(y, a, b, n);
    CUDA_CHECK_LAUNCH();
fail:
    return status;
}

int glue_rows_gather_cuda(float *dst, DType dst_t, const float *src, DType src_t,
                          const int64_t *lengths, const int32_t *mirror, int64_t Be, int64_t L,
                          int64_t W, int64_t s0, int64_t nt, int reverse, void *stream) {
    return rows_run(__func__, 0, dst, dst_t, src, src_t, lengths, mirror, Be, L, W, s0, nt,
                    reverse, stream);
}

int glue_rows_scatter_add_cuda(float *dst, DType dst_t, const float *src, DType src_t,
                               const int64_t *lengths, const int32_t *mirror, int64_t Be,
                               int64_t L, int64_t W, int64_t s0, int64_t nt, int reverse,
                               void *stream) {
    return rows_run(__func__, 1, dst, dst_t, src, src_t, lengths, mirror, Be, L, W, s0, nt,
                    reverse, stream);
}

int glue_rows_zero_tail_cuda(float *x, DType t, const int64_t *lengths, int64_t Be, int64_t L,
                             int64_t W, void *stream) {
    int status = 0;
    if (Be < 0 || L < 1 || W < 1)
        return bad_size(__func__, "Be, L or W", Be < 0 ? Be : L < 1 ? L : W);
    if (t != DTYPE_F32 && t != DTYPE_BF16) return bad_dtype(__func__, t);
    if (Be == 0) return 0;
    if (!x || !lengths) return ls_error(LS_ERR_USAGE, "%s: NULL pointer", __func__);
    {
        cudaStream_t st = (cudaStream_t)stream;
        const unsigned blocks = glue_blocks(Be * L * W);
        if (t == DTYPE_F32)
            zero_tail_kernel<float><<<blocks, GLUE_THREADS, 0, st>>>(x, lengths, Be, L, W);
        else
            zero_tail_kernel<bf16><<<blocks, GLUE_THREADS, 0, st>>>((bf16 *)x, lengths, Be, L, W);
    }
    CUDA_CHECK_LAUNCH();
fail:
    return status;
}

int glue_pair_mean_fwd_cuda(float *out, const float *x, int64_t B, int64_t W, void *stream) {
    int status = 0;
    if (B < 0 || W < 1) return bad_size(__func__, "B or W", B < 0 ? B : W);
    if (B == 0) return 0;
    if (!out || !x) return ls_error(LS_ERR_USAGE, "%s: NULL pointer", __func__);
    pair_mean_fwd_kernel<<<glue_blocks(B * W), GLUE_THREADS, 0, (cudaStream_t)stream>>>(out, x,
                                                                                      B * W);
    CUDA_CHECK_LAUNCH();
fail:
    return status;
}

int glue_pair_mean_bwd_cuda(float *dx, const float *dout, int64_t B, int64_t W, void *stream) {
    int status = 0;
    if (B < 0 || W < 1) return bad_size(__func__, "B or W", B < 0 ? B : W);
    if (B == 0) return 0;
    if (!dx || !dout) return ls_error(LS_ERR_USAGE, "%s: NULL pointer", __func__);
    pair_mean_bwd_kernel<<<glue_blocks(B * W), GLUE_THREADS, 0, (cudaStream_t)stream>>>(dx, dout,
                                                                                      B * W);
    CUDA_CHECK_LAUNCH();
fail:
    return status;
}

int glue_tokens_to_ids_cuda(int32_t *ids, const uint8_t *tokens, const int64_t *lengths,
                            const int32_t *mirror, int64_t B, int64_t L, int rc, void *stream) {
    int status = 0;
    if (B < 0 || L < 1) return bad_size(__func__, "B or L", B < 0 ? B : L);
    if (B == 0) return 0;
    if (!ids || !tokens || !lengths) return ls_error(LS_ERR_USAGE, "%s: NULL pointer", __func__);
    tokens_to_ids_kernel<<<glue_blocks((rc ? 2 : 1) * B * L), GLUE_THREADS, 0,
                           (cudaStream_t)stream>>>(ids, tokens, lengths, mirror, B, L, rc);
    CUDA_CHECK_LAUNCH();
fail:
    return status;
}

int glue_ids_to_ids_cuda(int32_t *ids, const int32_t *src, const int64_t *lengths, int64_t B,
                         int64_t L, void *stream) {
    int status = 0;
    if (B < 0 || L < 1) return bad_size(__func__, "B or L", B < 0 ? B : L);
    if (B == 0) return 0;
    if (!ids || !src || !lengths) return ls_error(LS_ERR_USAGE, "%s: NULL pointer", __func__);
    ids_to_ids_kernel<<<glue_blocks(B * L), GLUE_THREADS, 0, (cudaStream_t)stream>>>(ids, src,
                                                                                  lengths, B, L);
    CUDA_CHECK_LAUNCH();
fail:
    return status;
}

int glue_frames_cuda(float *frames, const float *samples, const int64_t *sample_lengths,
                     const int64_t *frame_end, int64_t B, int64_t L, int64_t F, int64_t Lt,
                     void *stream) {
    int status = 0;
    if (B < 0 || L < 1 || F < 1 || Lt < 1) return bad_size(__func__, "B, L, F or Lt", B);
    if (B == 0) return 0;
    if (!frames || !samples || !sample_lengths)
        return ls_error(LS_ERR_USAGE, "%s: NULL pointer", __func__);
    frames_kernel<<<glue_blocks(B * Lt * F), GLUE_THREADS, 0, (cudaStream_t)stream>>>(
        frames, samples, sample_lengths, frame_end, B, L, F, Lt);
    CUDA_CHECK_LAUNCH();
fail:
    return status;
}

int glue_copy_blocks_cuda(float *dst, int64_t dst_sb, int64_t dst_sl, const float *src,
                          int64_t src_sb, int64_t src_sl, int64_t B, int64_t L, int64_t W,
                          DType t, void *stream) {
    int status = 0;
    if (B < 0 || L < 0 || W < 0) return bad_size(__func__, "B, L or W", B < 0 ? B : L < 0 ? L : W);
    if (t != DTYPE_F32 && t != DTYPE_BF16) return bad_dtype(__func__, t);
    if (B * L * W == 0) return 0;
    if (!dst || !src) return ls_error(LS_ERR_USAGE, "%s: NULL pointer", __func__);
    {
        cudaStream_t st = (cudaStream_t)stream;
        const unsigned blocks = glue_blocks(B * L * W);
        if (t == DTYPE_F32)
            copy_blocks_kernel<float><<<blocks, GLUE_THREADS, 0, st>>>(
                dst, dst_sb, dst_sl, src, src_sb, src_sl, B, L, W);
        else
            copy_blocks_kernel<uint16_t><<<blocks, GLUE_THREADS, 0, st>>>(
                (uint16_t *)dst, dst_sb, dst_sl, (const uint16_t *)src, src_sb, src_sl, B, L, W);
    }
    CUDA_CHECK_LAUNCH();
fail:
    return status;
}

int glue_sum_rows_acc_cuda(double *acc, const float *x, int64_t B, int64_t L, int64_t W,
                           void *stream) {
    int status = 0;
    if (B < 0 || L < 0 || W < 0) return bad_size(__func__, "B, L or W", B < 0 ? B : L < 0 ? L : W);
    if (B * L * W == 0) return 0;
    if (!acc || !x) return ls_error(LS_ERR_USAGE, "%s: NULL pointer", __func__);
    {
        cudaStream_t st = (cudaStream_t)stream;
        if (L <= GLUE_SUM_CHUNK) {
            sum_rows_acc_kernel<<<glue_blocks(B * W), GLUE_THREADS, 0, st>>>(acc, x, B, L, W);
        } else {
            const int64_t C = (L + GLUE_SUM_CHUNK - 1) / GLUE_SUM_CHUNK;
            double *part = NULL;
            if ((status = cuda_scratch((size_t)(C * B * W) * sizeof(double), (void **)&part,
                                       "the partial sums of a pooled segment")))
                return status;
            sum_rows_part_kernel<<<glue_blocks(C * B * W), GLUE_THREADS, 0, st>>>(part, x, B, L,
                                                                                  W, C);
            CUDA_CHECK_LAUNCH();
            sum_rows_fold_kernel<<<glue_blocks(B * W), GLUE_THREADS, 0, st>>>(acc, part, B * W, C);
        }
    }
    CUDA_CHECK_LAUNCH();
fail:
    return status;
}

int glue_mean_from_sum_cuda(float *out, const double *acc, int64_t n, double count,
                            void *stream) {
    int status = 0;
    if (n < 0) return bad_size(__func__, "n", n);
    if (n == 0) return 0;
    if (!out || !acc) return ls_error(LS_ERR_USAGE, "%s: NULL pointer", __func__);
    mean_from_sum_kernel<<<glue_blocks(n), GLUE_THREADS, 0, (cudaStream_t)stream>>>(out, acc, n,
                                                                                    count);
    CUDA_CHECK_LAUNCH();
fail:
    return status;
}

} // extern "C"
