/*
 * embedding.cu — token embedding on the GPU (kernels/embedding.h): embedding_fwd_cuda and a
 * deterministic embedding_bwd_cuda. Must match kernels/cpu/embedding.c; checked by
 * tests/gpu/parity_embedding.c.
 *
 * Backward without atomics (why: a float atomicAdd per (row, column) sums repeated ids in
 * whatever order the hardware serves them, so the bits change run to run):
 *   1. keys = ids (as unsigned), values = row numbers; CUB's stable radix sort over the bits
 *      V needs: each id's rows are now contiguous and in increasing row order;
 *   2. the sorted list is cut into tiles of `tile` entries (a function of M); one thread per
 *      (tile, column) walks the tile. A run of one id that is the id's whole segment is added
 *      to dtable starting from dtable's value, one float add per row in row order: the CPU's
 *      exact sequence. A run cut by a tile edge is summed from 0 into one of two slots per
 *      tile (slot 0: the run at the tile's start; slot 1: the run at its end);
 *   3. one block per id whose segment spans tiles adds its slots to dtable in tile order.
 * Every sum has a fixed order; ids are owned by one thread per column in each phase.
 */
#include <cub/device/device_radix_sort.cuh>

#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_math.cuh"
#include "kernels/embedding.h"

#define EMB_TILE 256 // sorted entries per tile (doubled until tiles <= 65535)

template <typename T>
__global__ void emb_fwd_kernel(T *__restrict__ out, const int32_t *__restrict__ ids,
                               const float *__restrict__ table, int64_t M, int64_t D) {
    for (int64_t m = blockIdx.x; m < M; m += gridDim.x) {
        const float *src = table + (int64_t)ids[m] * D;
        for (int64_t d = threadIdx.x; d < D; d += blockDim.x) st(out + m * D + d, src[d]);
    }
}

__global__ void emb_keys_kernel(const int32_t *__restrict__ ids, int64_t M,
                                uint32_t *__restrict__ keys, int32_t *__restrict__ rows) {
    for (int64_t m = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; m < M;
         m += (int64_t)gridDim.x * blockDim.x) {
        keys[m] = (uint32_t)ids[m];
        rows[m] = (int32_t)m;
    }
}

template <typename T>
__global__ void emb_tile_kernel(const uint32_t *__restrict__ sk, const int32_t *__restrict__ sv,
                                const T *__restrict__ dout, int64_t M, int64_t D, int64_t tile,
                                float *__restrict__ dtable, float *__restrict__ part) {
    const int64_t d = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (d >= D) return;
    const int64_t i0 = (int64_t)blockIdx.y * tile, i1 = min(i0 + tile, M);
    for (int64_t i = i0; i < i1;) {
        const uint32_t v = sk[i];
        int64_t j = i + 1;
        while (j < i1 && sk[j] == v) j++;
        const bool whole = (i == 0 || sk[i - 1] != v) && (j == M || sk[j] != v);
        float acc = whole ? dtable[(int64_t)v * D + d] : 0.0f;
        for (int64_t q = i; q < j; q++) acc = rn_add(acc, ld(dout + (int64_t)sv[q] * D + d));
        if (whole)
            dtable[(int64_t)v * D + d] = acc;
        else
            part[((int64_t)blockIdx.y * 2 + (i == i0 ? 0 : 1)) * D + d] = acc;
        i = j;
    }
}

__device__ __forceinline__ int64_t emb_lower_bound(const uint32_t *sk, int64_t n, uint64_t v) {
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if ((uint64_t)sk[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

__global__ void emb_combine_kernel(const uint32_t *__restrict__ sk, int64_t M, int64_t D,
                                   int64_t tile, const float *__restrict__ part,
                                   float *__restrict__ dtable) {
    const uint32_t v = blockIdx.x;
    const int64_t d = (int64_t)blockIdx.y * blockDim.x + threadIdx.x;
    const int64_t s = emb_lower_bound(sk, M, v), e = emb_lower_bound(sk, M, (uint64_t)v + 1);
    if (e == s || s / tile == (e - 1) / tile || d >= D) return; // absent, or done in one tile
    float acc = dtable[(int64_t)v * D + d];
    for (int64_t t = s / tile; t <= (e - 1) / tile; t++) {
        int slot = (t == s / tile && s != t * tile) ? 1 : 0;
        acc = rn_add(acc, part[(t * 2 + slot) * D + d]);
    }
    dtable[(int64_t)v * D + d] = acc;
}

// ----------------------------------------------------------------------------- launchers

static int emb_check(const char *fn, const int32_t *ids, int have_pointers, int64_t M, int64_t V,
                     int64_t D, DType dtype, cudaStream_t st, int check_ids = 1) {
    int64_t bad, bad_value;
    int status;
    if (M < 0 || V < 1 || D < 1)
        return ls_error(LS_ERR_USAGE, "%s: bad shape M=%lld V=%lld D=%lld (need M >= 0, V >= 1, "
                        "D >= 1)", fn, (long long)M, (long long)V, (long long)D);
    if (dtype != DTYPE_F32 && dtype != DTYPE_BF16)
        return ls_error(LS_ERR_USAGE, "%s: dtype %d is not a DType", fn, (int)dtype);
    if (M == 0) return 0;
    if (!have_pointers) return ls_error(LS_ERR_USAGE, "%s: NULL tensor", fn);
    if (M > 2147483647LL || V > 2147483647LL)
        return ls_error(LS_ERR_UNSUPPORTED, "%s: M=%lld, V=%lld (at most 2^31 − 1 on cuda)", fn,
                        (long long)M, (long long)V);
    if (!check_ids) return 0;
    if ((status = cuda_index_check(ids, 0, M, 0, V - 1, INT64_MIN, &bad, &bad_value, st)))
        return status;
    if (bad >= 0)
        return ls_error(LS_ERR_RANGE, "%s: ids[%lld]=%lld outside [0, V=%lld)", fn,
                        (long long)bad, (long long)bad_value, (long long)V);
    return 0;
}

// The forward, with or without the index check (embedding_fwd_cuda_trusted).
static int emb_fwd(const char *fn, float *out, const int32_t *ids, const float *table, int64_t M,
                   int64_t V, int64_t D, DType dtype, void *stream, int check_ids) {
    cudaStream_t st = (cudaStream_t)stream;
    int status = emb_check(fn, ids, out && ids && table, M, V, D, dtype, st, check_ids);
    unsigned blocks = (unsigned)(M < 65536 ? M : 65536);
    if (status || M == 0) return status;
    if (dtype == DTYPE_BF16)
        emb_fwd_kernel<bf16><<<blocks, 128, 0, st>>>((bf16 *)out, ids, table, M, D);
    else
        emb_fwd_kernel<float><<<blocks, 128, 0, st>>>(out, ids, table, M, D);
    CUDA_CHECK_LAUNCH();
fail:
    return status;
}

extern "C" int embedding_fwd_cuda(float *out, const int32_t *ids, const float *table, int64_t M,
                                  int64_t V, int64_t D, DType dtype, void *stream) {
    return emb_fwd(__func__, out, ids, table, M, V, D, dtype, stream, 1);
}

extern "C" int embedding_fwd_cuda_trusted(float *out, const int32_t *ids, const float *table,
                                          int64_t M, int64_t V, int64_t D, DType dtype,
                                          void *stream) {
    return emb_fwd(__func__, out, ids, table, M, V, D, dtype, stream, 0);
}

extern "C" int embedding_bwd_cuda(float *dtable, const float *dout, const int32_t *ids,
                                  int64_t M, int64_t V, int64_t D, DType dtype, void *stream) {
    cudaStream_t st = (cudaStream_t)stream;
    int status = emb_check(__func__, ids, dtable && dout && ids, M, V, D, dtype, st);
    int end_bit = 1;
    int64_t tile = EMB_TILE, tiles;
    size_t sort_bytes = 0, n4, part_bytes;
    char *base = NULL;
    uint32_t *keys_in, *keys_out;
    int32_t *rows_in, *rows_out;
    float *part;
    void *sort_tmp;
    unsigned blocks = (unsigned)(M / 256 + 1 < 65536 ? M / 256 + 1 : 65536);
    if (status || M == 0) return status;
    while (end_bit < 32 && ((int64_t)1 << end_bit) < V) end_bit++;
    while ((M + tile - 1) / tile > 65535) tile *= 2;
    tiles = (M + tile - 1) / tile;
    CUDA_RT(cub::DeviceRadixSort::SortPairs(NULL, sort_bytes, (const uint32_t *)NULL,
                                            (uint32_t *)NULL, (const int32_t *)NULL,
                                            (int32_t *)NULL, (int)M, 0, end_bit, st));
    n4 = cuda_align((size_t)M * 4);
    part_bytes = cuda_align((size_t)tiles * 2 * D * sizeof(float));
    if ((status = cuda_scratch(4 * n4 + part_bytes + cuda_align(sort_bytes), (void **)&base,
                               "sorting the embedding gradient")))
        return status;
    keys_in = (uint32_t *)base, keys_out = (uint32_t *)(base + n4);
    rows_in = (int32_t *)(base + 2 * n4), rows_out = (int32_t *)(base + 3 * n4);
    part = (float *)(base + 4 * n4), sort_tmp = base + 4 * n4 + part_bytes;

    emb_keys_kernel<<<blocks, 256, 0, st>>>(ids, M, keys_in, rows_in);
    CUDA_CHECK_LAUNCH();
    CUDA_RT(cub::DeviceRadixSort::SortPairs(sort_tmp, sort_bytes, keys_in, keys_out, rows_in,
                                            rows_out, (int)M, 0, end_bit, st));
    {
        dim3 grid((unsigned)((D + 127) / 128), (unsigned)tiles);
        if (dtype == DTYPE_BF16)
            emb_tile_kernel<bf16><<<grid, 128, 0, st>>>(keys_out, rows_out, (const bf16 *)dout,
                                                        M, D, tile, dtable, part);
        else
            emb_tile_kernel<float><<<grid, 128, 0, st>>>(keys_out, rows_out, dout, M, D, tile,
                                                         dtable, part);
        CUDA_CHECK_LAUNCH();
        dim3 grid2((unsigned)V, (unsigned)((D + 127) / 128));
        emb_combine_kernel<<<grid2, 128, 0, st>>>(keys_out, M, D, tile, part, dtable);
        CUDA_CHECK_LAUNCH();
    }
fail:
    return status;
}
