/*
 * dropout.cu — kernels/dropout.h on the GPU: inverted dropout over one tile of a site's
 * (Be, L, W) tensor, forward and backward (the same map). Must match kernels/cpu/dropout.c bit
 * for bit; checked by tests/gpu/parity_dropout.c (suite `dropout`).
 *
 * The mask is not stored and not drawn from a sequential generator: every element hashes its
 * place g = (b·L + pos)·W + w with the (seed, step, site) key through dropout_bits(), the very
 * function the CPU calls (dropout.h compiles it for host and device). Keep decisions are integer
 * comparisons and the value is one round-to-nearest multiply (rn_mul, which nvcc cannot fuse),
 * so fp32 results equal the CPU's bits and bf16 results the CPU's rounded once. Nothing is
 * reduced and no element is written twice: results never depend on the launch shape.
 *
 * Layout of the work: a warp per tile row (b, s), as glue.cu's gather: the row's sequence
 * position is found once, then the lanes walk its W values VEC at a time (4 when W and the
 * pointers allow 16-byte fp32 / 8-byte bf16 accesses). The hash costs two 64-bit multiplies per
 * element, which the memory traffic (a read and a write per element) hides.
 */
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_math.cuh"
#include "kernels/dropout.h"

namespace {

constexpr int DROP_WARPS = 8;
constexpr int64_t DROP_MAX_BLOCKS = 65536;

// Sequence position of tile position s of row b (dropout.h), or -1 past the row's length.
__device__ __forceinline__ int64_t tile_pos(const int64_t *lengths, const int32_t *mirror,
                                            int64_t L, int reverse, int64_t b, int64_t s) {
    if (!lengths) return s;
    const int64_t n = lengths[b];
    if (s >= n) return -1;
    if (!reverse) return s;
    return mirror ? mirror[b * L + s] : n - 1 - s;
}

// out (Be, nt, W) = in · (kept ? scale : 0); out may be in (in place, same type).
template <typename TO, typename TI, int VEC>
__global__ void __launch_bounds__(DROP_WARPS * 32)
    dropout_kernel(TO *out, const TI *in, const int64_t *lengths, const int32_t *mirror,
                   int64_t Be, int64_t nt, int64_t W, int64_t L, int64_t s0, int reverse,
                   uint64_t key, uint32_t threshold, float scale) {
    const int lane = threadIdx.x & 31;
    const int64_t rows = Be * nt;
    for (int64_t r = (int64_t)blockIdx.x * DROP_WARPS + (threadIdx.x >> 5); r < rows;
         r += (int64_t)gridDim.x * DROP_WARPS) {
        const int64_t b = r / nt;
        const int64_t pos = tile_pos(lengths, mirror, L, reverse, b, s0 + (r - b * nt));
        TO *o = out + r * W;
        const TI *x = in + r * W;
        const uint64_t g0 = (uint64_t)((b * L + (pos < 0 ? 0 : pos)) * W);
        for (int64_t w = (int64_t)lane * VEC; w < W; w += 32 * VEC) {
            float v[VEC];
            if (pos < 0) { // the same for the whole warp
                for (int k = 0; k < VEC; k++) v[k] = 0.0f;
            } else {
                ldv(x + w, v);
                for (int k = 0; k < VEC; k++)
                    v[k] = rn_mul(v[k], dropout_bits(key, g0 + (uint64_t)(w + k)) >= threshold
                                            ? scale
                                            : 0.0f);
            }
            stv(o + w, v);
        }
    }
}

template <typename TO, typename TI, int VEC>
int launch_vec(const DropoutArgs *a, float *out, const float *in) {
    int status = 0;
    const int64_t rows = a->Be * a->nt;
    int64_t blocks = (rows + DROP_WARPS - 1) / DROP_WARPS;
    if (blocks > DROP_MAX_BLOCKS) blocks = DROP_MAX_BLOCKS;
    dropout_kernel<TO, TI, VEC><<<(unsigned)blocks, DROP_WARPS * 32, 0, (cudaStream_t)a->stream>>>(
        (TO *)out, (const TI *)in, a->lengths, a->mirror, a->Be, a->nt, a->W, a->L, a->s0,
        a->reverse, dropout_key(a->seed, a->step, a->site), dropout_threshold(a->p),
        dropout_scale(a->p));
    CUDA_CHECK_LAUNCH();
fail:
    return status;
}

template <typename TO, typename TI>
int launch(const DropoutArgs *a, float *out, const float *in) {
    // every row starts at a multiple of W elements: W % 4 == 0 keeps 4-vectors aligned
    if (a->W % 4 == 0 && cuda_aligned(out, 4, sizeof(TO)) && cuda_aligned(in, 4, sizeof(TI)))
        return launch_vec<TO, TI, 4>(a, out, in);
    return launch_vec<TO, TI, 1>(a, out, in);
}

// out of type out_t from in of type in_t.
int run(const DropoutArgs *a, float *out, DType out_t, const float *in, DType in_t) {
    if (a->Be * a->W == 0) return 0;
    if (out_t == DTYPE_F32 && in_t == DTYPE_F32) return launch<float, float>(a, out, in);
    if (out_t == DTYPE_F32) return launch<float, bf16>(a, out, in);
    if (in_t == DTYPE_F32) return launch<bf16, float>(a, out, in);
    return launch<bf16, bf16>(a, out, in);
}

} // namespace

extern "C" {

int dropout_fwd_cuda(const DropoutArgs *a) {
    int status = dropout_args_check(a, 0);
    return status < 0 ? status : run(a, a->y, a->y_dtype, a->x, a->x_dtype);
}

int dropout_bwd_cuda(const DropoutArgs *a) {
    int status = dropout_args_check(a, 1);
    return status < 0 ? status : run(a, a->dx, a->x_dtype, a->dy, a->y_dtype);
}

} // extern "C"
