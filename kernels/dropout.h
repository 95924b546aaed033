/*
 * dropout.h — inverted dropout for training (issue 14's regularisation): forward and backward,
 * one argument struct for every backend, and the counter-based mask both backends draw.
 *
 *     y = x · m / (1 − p),    m ∈ {0, 1},  P(m = 1) = 1 − p         (torch.nn.Dropout, train)
 *     dx = dy · m / (1 − p)   (the same diagonal map, the same m)
 *
 * The mask. Element g of a site's tensor is kept when
 *
 *     dropout_bits(key, g) ≥ threshold,  key = dropout_key(seed, step, site),
 *     threshold = round(p · 2³²)  (dropout_threshold),  scale = (float)(1 / (1 − p))
 *
 * dropout_bits is splitmix64's output function applied to the counter key + (g + 1)·γ: a pure
 * function of (seed, step, site, g), not a sequential generator, so the mask does not depend on
 * threads, tiles, launch shapes or the device, the backward recomputes it instead of storing it,
 * and a resumed run draws the same masks from the step it resumes at. The functions below are
 * compiled into both the CPU ops and the CUDA kernels (host and device), so the two backends
 * compare the same 32-bit integers: the masks are equal, bit for bit.
 *
 * Element index. The op sees one tile of a site's tensor (Be, L, W): Be rows of L positions of
 * W values (Mamba: the block output, B·rc rows × L × d_model), and g = (b·L + pos)·W + w is the
 * element's place in that whole tensor, whatever tile it arrives in. A tile holds nt positions
 * per row, tile position s0 + s of row b being sequence position
 *     pos = s0 + s                                    (reverse = 0, or lengths NULL)
 *     pos = lengths[b] − 1 − (s0 + s)                 (reverse = 1)
 *     pos = mirror[b·L + s0 + s]                      (reverse = 1, mirror given: packed rows)
 * exactly as kernels/glue.h's gather and scatter map them, so the reverse walk of a
 * bidirectional block drops the same elements as the forward walk. With lengths given, tile
 * positions at or past a row's length are written 0 (no element of the tensor: the scatter
 * that follows never reads them). A flat (M, W) tensor is Be = M rows of one position
 * (dropout_args_init's default): g = row·W + w.
 *
 * Values: y = x · (kept ? scale : 0), one fp32 multiply (a dropped NaN stays NaN, as in
 * PyTorch). No reduction, nothing depends on other elements: the CUDA results are bit-identical
 * to the CPU's in fp32, and equal to the CPU's result rounded once to bf16 for a bf16 output.
 *
 * Unlike the other backward ops (which accumulate), the backward WRITES dx: the models apply it
 * in place to a gradient they own (y may equal x, dx may equal dy; any other overlap is an
 * error of the caller).
 *
 * Precision (CUDA only; the CPU functions take fp32): x_dtype is the storage of x and dx (the
 * block side), y_dtype of y and dy (the output side), each DTYPE_F32 or DTYPE_BF16, so a bf16
 * gradient can be drawn straight from the fp32 gradient of the residual stream.
 *
 * Tests: tests/unit/test_dropout.c (CPU: keep rate, independence, tiles, reversal, backward);
 * tests/unit/test_model.c (the models with dropout: finite differences with a fixed mask,
 * threads, tiles); tests/gpu/parity_dropout.c (suite `dropout`: CUDA against the CPU, masks
 * bit for bit, and a whole-model training step).
 */
#ifndef LS_DROPOUT_H
#define LS_DROPOUT_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "kernels/dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

// ------------------------------------------------------------------------------ the mask

// Compiled for the host and, in kernels/cuda, for the device: one definition of the mask.
#ifdef __CUDACC__
#define DROPOUT_FN static inline __host__ __device__
#else
#define DROPOUT_FN static inline
#endif

#define DROPOUT_GAMMA 0x9E3779B97F4A7C15ull // splitmix64's increment (2⁶⁴/φ)

/** splitmix64's finaliser (Stafford's Mix13): a bijection of 64-bit words with full avalanche. */
DROPOUT_FN uint64_t dropout_mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/** The stream of one site at one step: each of seed, step and site goes through the mix. */
DROPOUT_FN uint64_t dropout_key(uint64_t seed, uint64_t step, uint32_t site) {
    uint64_t k = dropout_mix(seed + DROPOUT_GAMMA);
    k = dropout_mix(k + (step + 1) * DROPOUT_GAMMA);
    return dropout_mix(k + ((uint64_t)site + 1) * DROPOUT_GAMMA);
}

/** 32 random bits for element @p g of the stream @p key (splitmix64 at counter g). */
DROPOUT_FN uint32_t dropout_bits(uint64_t key, uint64_t g) {
    return (uint32_t)(dropout_mix(key + (g + 1) * DROPOUT_GAMMA) >> 32);
}

/** round(p·2³²) for 0 <= p < 1 (at most 2³² − 1): an element is kept when its bits are >= it,
 *  so the keep rate is 1 − threshold/2³² (= 1 − p within 2⁻³³). */
static inline uint32_t dropout_threshold(double p) {
    double t = p * 4294967296.0 + 0.5;
    return t >= 4294967295.0 ? 0xFFFFFFFFu : t <= 0 ? 0u : (uint32_t)t;
}

/** 1/(1 − p) rounded to fp32: what a kept element is multiplied by. */
static inline float dropout_scale(double p) { return (float)(1.0 / (1.0 - p)); }

// ------------------------------------------------------------------------------ the op

// clang-format off
/**
 * One call of the op (forward or backward: each reads the fields it uses). Fill with
 * dropout_args_init(), then set the tile fields for a per-row walk.
 */
typedef struct {
    // ---- the mask
    double   p;         // drop probability, 0 <= p < 1
    uint64_t seed;      // the run's seed
    uint64_t step;      // the training step: the counter (a resumed run repeats it)
    uint32_t site;      // which place in the model (models/: one per block output, and the head)

    // ---- shapes: a tile of Be rows × nt positions × W values of the site's (Be, L, W) tensor
    int64_t Be, nt, W;
    int64_t L;          // positions per row of the whole tensor
    int64_t s0;         // first tile position
    const int64_t *lengths; // (Be) optional: valid positions per row (host or device memory,
                            //  as the tensors); needed for reverse
    const int32_t *mirror;  // (Be, L) optional: packed rows' in-place reversal (glue.h)
    int      reverse;   // 1: tile position s is sequence position lengths[b]−1−s (or mirror)

    // ---- tensors, (Be, nt, W) dense
    const float *x;  float *y;    // forward:  y = drop(x)
    const float *dy; float *dx;   // backward: dx = drop(dy)  (written, not accumulated)
    DType x_dtype;   // storage of x and dx (CUDA; the CPU takes DTYPE_F32)
    DType y_dtype;   // storage of y and dy
    void *stream;    // cudaStream_t for the CUDA functions, NULL = default stream
} DropoutArgs;
// clang-format on

/**
 * Zero @p a and set a flat (rows, W) tensor: Be = rows, nt = L = 1, s0 = 0, no lengths, no
 * reversal, fp32, the default stream; p, seed, step and site as given.
 */
void dropout_args_init(DropoutArgs *a, double p, uint64_t seed, uint64_t step, uint32_t site,
                       int64_t rows, int64_t W);

/**
 * Make @p a a tile of a per-row walk (glue.h's gather/scatter map): rows Be of the (Be, L, W)
 * tensor, tile positions [s0, s0 + nt), reversed within each row's length when @p reverse
 * (lengths required then; mirror for packed rows, or NULL).
 */
void dropout_args_rows(DropoutArgs *a, int64_t Be, int64_t L, int64_t s0, int64_t nt,
                       const int64_t *lengths, const int32_t *mirror, int reverse);

/**
 * Validate @p a for the forward (@p backward 0: x, y) or the backward (1: dy, dx): sizes
 * (Be, W >= 0, 1 <= nt, s0 + nt <= L), 0 <= p < 1 (a site that drops everything
 * has no scale), lengths given when reverse,
 * pointers present when there is work, dtypes known.
 * @return 0; LS_ERR_USAGE naming the argument and its value.
 */
int dropout_args_check(const DropoutArgs *a, int backward) LS_RESULT_USED;

/** y = x · m · scale over the tile (in place allowed: y == x). @return 0 or LS_ERR_USAGE. */
int dropout_fwd_cpu(const DropoutArgs *a) LS_RESULT_USED;
/** dx = dy · m · scale with the forward's mask, recomputed (in place allowed). */
int dropout_bwd_cpu(const DropoutArgs *a) LS_RESULT_USED;

/*
 * CUDA (kernels/cuda/dropout.cu; stubs returning LS_ERR_NO_CUDA in kernels/cuda_none.c): the
 * same contract on device pointers (lengths and mirror too), x_dtype and y_dtype as above,
 * queued on a->stream. Every shape runs (a warp per tile row, 4-vectors when W and the
 * pointers allow). @return 0, the dropout_args_check error, LS_ERR_CUDA, LS_ERR_NO_CUDA.
 */
int dropout_fwd_cuda(const DropoutArgs *a) LS_RESULT_USED;
int dropout_bwd_cuda(const DropoutArgs *a) LS_RESULT_USED;

#ifdef __cplusplus
}
#endif
#endif
