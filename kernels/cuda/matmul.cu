/*
 * matmul.cu — the linear layer on the GPU through cuBLAS / cuBLASLt (kernels/matmul.h):
 * matmul_fwd_cuda, matmul_bwd_cuda. No hand-written GEMM. Must match the CPU specification
 * kernels/cpu/matmul.c within GEMM rounding; checked by tests/gpu/parity_matmul.c.
 *
 * Row-major to column-major: a row-major (R, C) matrix with row stride ld is cuBLAS's
 * column-major (C × R) with leading dimension ld, so with Wcm = W as (K × N, ld K):
 *   y  = x·Wᵀ      →  ycm (N × M, ld_y)  = Wcmᵀ · xcm          Lt: A = W op T, B = x op N
 *   dx += dy·W     →  dxcm (K × M, ld_x) = Wcm · dycm          GemmEx(N, N), beta 1
 *   dW += dyᵀ·x    →  dWcm (K × N, ld K) = xcm · dycmᵀ         GemmEx(N, T), beta 1
 * The bias rides the cuBLASLt BIAS epilogue (one pass over y); where cuBLASLt has no algorithm
 * for the layout (fp32), y is first filled with the bias and the GEMM adds onto it (beta = 1,
 * the CPU's own formulation). A bf16 output that is added to (the forward with a bias, dx with
 * beta 1) takes our own epilogue instead: the GEMM's fp32 product in scratch, then one kernel
 * adds and rounds once (bf16_epilogue_gemm says why). The bias gradient is ours: column partial sums over fixed chunks of
 * rows (a function of M) in double, then the chunks in order (cuda_colsum): deterministic.
 *
 * Handles and workspaces come from the per-device context (cuda_common.cu): created once,
 * cuBLAS with atomics disallowed. Descriptors are host objects made per call (no device work).
 */
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_math.cuh"
#include "common/log.h"
#include "kernels/matmul.h"

#define MATMUL_DB_ROWS 256 // rows per partial sum of db (doubled until chunks <= 65535)

// ----------------------------------------------------------------------------- kernels

// y[m, n] = b[n] for every row (the fallback's GEMM then adds x·Wᵀ with beta = 1).
template <typename T>
__global__ void bias_fill_kernel(T *__restrict__ y, const float *__restrict__ b, int64_t M,
                                 int64_t N, int64_t ld_y) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < M * N;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t m = i / N, n = i % N;
        st(y + m * ld_y + n, b[n]);
    }
}

// out[m, n] = bf16(float(add[m, n]) + acc[m, n]) for the rows of one chunk: the bf16 epilogue.
// add is the bias (add_ld 0: the same row for every m, fp32, rounded to bf16 first, matmul.h's
// contract) or the bf16 output itself (accumulate); acc is the GEMM's fp32 product.
__global__ void bf16_epilogue_kernel(bf16 *__restrict__ out, int64_t ld_out,
                                     const float *__restrict__ bias,
                                     const float *__restrict__ acc, int64_t M, int64_t N) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < M * N;
         i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t m = i / N, n = i % N;
        bf16 *o = out + m * ld_out + n;
        const float base = bias ? __bfloat162float(__float2bfloat16_rn(bias[n]))
                                : __bfloat162float(*o);
        *o = __float2bfloat16_rn(base + acc[i]);
    }
}

// part[c, n] = Σ_{m in chunk c} dy[m, n], in row order, in double; one thread per column.
template <typename T>
__global__ void db_part_kernel(const T *__restrict__ dy, int64_t M, int64_t N, int64_t ld_y,
                               int64_t rows, double *__restrict__ part) {
    const int64_t n = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= N) return;
    const int64_t m0 = (int64_t)blockIdx.y * rows;
    const int64_t m1 = min(m0 + rows, M);
    double s = 0.0;
    for (int64_t m = m0; m < m1; m++) s += (double)ld(dy + m * ld_y + n);
    part[blockIdx.y * N + n] = s;
}

__global__ void db_add_kernel(float *__restrict__ db, const double *__restrict__ sums, int64_t N) {
    for (int64_t n = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; n < N;
         n += (int64_t)gridDim.x * blockDim.x)
        db[n] += (float)sums[n];
}

// ----------------------------------------------------------------------------- helpers

static const MatmulCuda matmul_default = {DTYPE_F32, 0, NULL, 0};

// Largest power of two (<= 256) dividing the address: cuBLASLt's alignment preference.
static uint32_t ptr_align(const void *p) {
    uintptr_t a = (uintptr_t)p;
    uint32_t al = 256;
    while (al > 1 && a % al) al >>= 1;
    return al;
}

static int matmul_check_dtype(const char *fn, const MatmulCuda *o) {
    if (o->dtype != DTYPE_F32 && o->dtype != DTYPE_BF16)
        return ls_error(LS_ERR_USAGE, "%s: dtype %d is not a DType", fn, (int)o->dtype);
    if (o->allow_tf32 && o->dtype != DTYPE_F32)
        return ls_error(LS_ERR_USAGE, "%s: allow_tf32 applies to fp32 only", fn);
    return 0;
}

/*
 * y = x·Wᵀ + b with cuBLASLt. Sets *done = 0 (and returns 0) when the heuristic offers no
 * algorithm for this layout, so the caller takes the plain path.
 */
static int matmul_fwd_lt(CudaCtx *c, void *y, const void *x, const void *w, const float *b,
                         int64_t M, int64_t K, int64_t N, int64_t ld_x, int64_t ld_y,
                         const MatmulCuda *o, int *done) {
    int status = 0, found = 0;
    cudaDataType_t t = o->dtype == DTYPE_BF16 ? CUDA_R_16BF : CUDA_R_32F;
    cublasComputeType_t ct = o->allow_tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    cublasOperation_t opT = CUBLAS_OP_T, opN = CUBLAS_OP_N;
    cublasLtEpilogue_t epi = b ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
    cudaDataType_t bias_t = CUDA_R_32F;
    cublasLtMatmulDesc_t op = NULL;
    cublasLtMatrixLayout_t la = NULL, lb = NULL, lc = NULL;
    cublasLtMatmulPreference_t pref = NULL;
    cublasLtMatmulHeuristicResult_t res;
    uint32_t al_a = ptr_align(w), al_b = ptr_align(x), al_c = ptr_align(y);
    float alpha = 1.0f, beta = 0.0f;
    const uint32_t no_output_type_reduction =
        CUBLASLT_REDUCTION_SCHEME_MASK & ~(uint32_t)CUBLASLT_REDUCTION_SCHEME_OUTPUT_TYPE;
    *done = 0;

    CUBLAS_TRY(cublasLtMatmulDescCreate(&op, ct, CUDA_R_32F));
    CUBLAS_TRY(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &opT, sizeof opT));
    CUBLAS_TRY(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &opN, sizeof opN));
    CUBLAS_TRY(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
    if (b) {
        CUBLAS_TRY(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &b,
                                                  sizeof b));
        CUBLAS_TRY(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE,
                                                  &bias_t, sizeof bias_t));
    }
    CUBLAS_TRY(cublasLtMatrixLayoutCreate(&la, t, (uint64_t)K, (uint64_t)N, K));
    CUBLAS_TRY(cublasLtMatrixLayoutCreate(&lb, t, (uint64_t)K, (uint64_t)M, ld_x));
    CUBLAS_TRY(cublasLtMatrixLayoutCreate(&lc, t, (uint64_t)N, (uint64_t)M, ld_y));
    CUBLAS_TRY(cublasLtMatmulPreferenceCreate(&pref));
    CUBLAS_TRY(cublasLtMatmulPreferenceSetAttribute(
        pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &c->ws_bytes, sizeof c->ws_bytes));
    CUBLAS_TRY(cublasLtMatmulPreferenceSetAttribute(
        pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al_a, sizeof al_a));
    CUBLAS_TRY(cublasLtMatmulPreferenceSetAttribute(
        pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al_b, sizeof al_b));
    CUBLAS_TRY(cublasLtMatmulPreferenceSetAttribute(
        pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al_c, sizeof al_c));
    CUBLAS_TRY(cublasLtMatmulPreferenceSetAttribute(
        pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al_c, sizeof al_c));
    // split-K partial sums in fp32 only (as cuda_common.cu asks of cuBLAS)
    CUBLAS_TRY(cublasLtMatmulPreferenceSetAttribute(
        pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, &no_output_type_reduction,
        sizeof no_output_type_reduction));
    {
        cublasStatus_t h = cublasLtMatmulAlgoGetHeuristic(c->lt, op, la, lb, lc, lc, pref, 1,
                                                          &res, &found);
        if (h == CUBLAS_STATUS_NOT_SUPPORTED || (h == CUBLAS_STATUS_SUCCESS && found == 0)) {
            ls_log_debug("cuBLASLt has no algorithm for M=%lld K=%lld N=%lld (%s%s); "
                         "taking the GemmEx path", (long long)M, (long long)K, (long long)N,
                         dtype_name(o->dtype), b ? ", bias" : "");
            goto fail; // status 0, *done 0
        }
        CUBLAS_TRY(h);
    }
    CUBLAS_TRY(cublasLtMatmul(c->lt, op, &alpha, w, la, x, lb, &beta, y, lc, y, lc, &res.algo,
                              c->lt_ws, c->ws_bytes, cuda_stream(o->stream)));
    *done = 1;
fail:
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (lc) cublasLtMatrixLayoutDestroy(lc);
    if (lb) cublasLtMatrixLayoutDestroy(lb);
    if (la) cublasLtMatrixLayoutDestroy(la);
    if (op) cublasLtMatmulDescDestroy(op);
    return status;
}

// The bf16 GEMMs that add onto something (the forward with a bias, dx += dy·W): cuBLAS rounds
// the product to bf16 before adding C in some of its kernels (which ones depends on the shape
// and the leading dimensions: bench/NOTES-ops.md runs 4 and 5), which can cost a whole bf16 ulp
// of the sum on a result near 0. So the GEMM writes its product in fp32 (beta 0) into scratch,
// a chunk of rows at a time (the scratch stays at most BF16_EPILOGUE_BYTES whatever M is), and
// bf16_epilogue_kernel adds the bias or the old output and rounds once.
#define BF16_EPILOGUE_BYTES ((size_t)64 << 20)

// rows: the chunk's rows; out/ld_out: the bf16 output (row-major, M × N); bias: fp32 or NULL
// (then out is accumulated into); gemm(c, m0, rows, acc) fills acc (rows × N, ld N) in fp32.
typedef int (*Bf16ChunkGemm)(CudaCtx *c, const void *ctx, int64_t m0, int64_t rows, float *acc);

static int bf16_epilogue_gemm(CudaCtx *c, cudaStream_t st, bf16 *out, int64_t ld_out,
                              const float *bias, int64_t M, int64_t N, Bf16ChunkGemm gemm,
                              const void *ctx) {
    int64_t chunk = (int64_t)(BF16_EPILOGUE_BYTES / sizeof(float)) / (N > 0 ? N : 1);
    if (chunk < 1) chunk = 1;
    if (chunk > M) chunk = M;
    float *acc = NULL;
    int status = cuda_scratch((size_t)chunk * N * sizeof(float), (void **)&acc,
                              "the bf16 GEMM's fp32 product");
    for (int64_t m0 = 0; status == 0 && m0 < M; m0 += chunk) {
        const int64_t rows = M - m0 < chunk ? M - m0 : chunk, n = rows * N;
        if ((status = gemm(c, ctx, m0, rows, acc))) break;
        unsigned blocks = (unsigned)(n / 256 + 1 < 65536 ? n / 256 + 1 : 65536);
        bf16_epilogue_kernel<<<blocks, 256, 0, st>>>(out + m0 * ld_out, ld_out, bias, acc, rows,
                                                     N);
        CUDA_CHECK_LAUNCH();
    }
fail:
    return status;
}

typedef struct {
    const void *x, *w, *dy;
    int64_t K, N, ld_x, ld_y;
    cublasComputeType_t ct;
} Bf16GemmArgs;

// acc (rows × N) = x[m0 .. m0 + rows) · Wᵀ, fp32 out of bf16 inputs
static int fwd_chunk(CudaCtx *c, const void *ctx, int64_t m0, int64_t rows, float *acc) {
    const Bf16GemmArgs *a = (const Bf16GemmArgs *)ctx;
    const float alpha = 1.0f, beta = 0.0f;
    int status = 0;
    CUBLAS_TRY(cublasGemmEx(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)a->N, (int)rows, (int)a->K,
                            &alpha, a->w, CUDA_R_16BF, (int)a->K,
                            (const bf16 *)a->x + m0 * a->ld_x, CUDA_R_16BF, (int)a->ld_x, &beta,
                            acc, CUDA_R_32F, (int)a->N, a->ct, CUBLAS_GEMM_DEFAULT));
fail:
    return status;
}

// acc (rows × K) = dy[m0 .. m0 + rows) · W, fp32 out of bf16 inputs (here N is the GEMM's
// reduction length and the output has K columns)
static int dx_chunk(CudaCtx *c, const void *ctx, int64_t m0, int64_t rows, float *acc) {
    const Bf16GemmArgs *a = (const Bf16GemmArgs *)ctx;
    const float alpha = 1.0f, beta = 0.0f;
    int status = 0;
    CUBLAS_TRY(cublasGemmEx(c->blas, CUBLAS_OP_N, CUBLAS_OP_N, (int)a->K, (int)rows, (int)a->N,
                            &alpha, a->w, CUDA_R_16BF, (int)a->K,
                            (const bf16 *)a->dy + m0 * a->ld_y, CUDA_R_16BF, (int)a->ld_y, &beta,
                            acc, CUDA_R_32F, (int)a->K, a->ct, CUBLAS_GEMM_DEFAULT));
fail:
    return status;
}

// ----------------------------------------------------------------------------- public

extern "C" int matmul_fwd_cuda(float *y, const float *x, const float *w, const float *b,
                               int64_t M, int64_t K, int64_t N, int64_t ld_x, int64_t ld_y,
                               const MatmulCuda *opt) {
    const MatmulCuda *o = opt ? opt : &matmul_default;
    int status = matmul_check_shape(__func__, M, K, N, ld_x, ld_y), done = 0;
    CudaCtx *c = NULL;
    cudaStream_t st = cuda_stream(o->stream);
    cudaDataType_t t = o->dtype == DTYPE_BF16 ? CUDA_R_16BF : CUDA_R_32F;
    cublasComputeType_t ct = o->allow_tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    float alpha = 1.0f, beta = b ? 1.0f : 0.0f;
    if (status) return status;
    if ((status = matmul_check_dtype(__func__, o))) return status;
    if (!y || !x || !w) return ls_error(LS_ERR_USAGE, "%s: y, x and w must not be NULL", __func__);
    if (M == 0) return 0;
    if ((status = cuda_ctx_get(&c))) return status;

    // cuBLASLt 13.0 refuses an fp32 bias vector with a bf16 output (measured on an H100:
    // CUBLAS_STATUS_INVALID_VALUE from the heuristic), and our bias is fp32: bf16 with a bias
    // takes the plain path, where the bias is rounded to bf16 once when it fills y.
    if (!(b && o->dtype == DTYPE_BF16) &&
        ((status = matmul_fwd_lt(c, y, x, w, b, M, K, N, ld_x, ld_y, o, &done)) || done))
        return status;
    if (b && o->dtype == DTYPE_BF16) { // fp32 product, bias added and rounded once
        CUBLAS_TRY(cublasSetStream(c->blas, st));
        Bf16GemmArgs a = {x, w, NULL, K, N, ld_x, ld_y, ct};
        return bf16_epilogue_gemm(c, st, (bf16 *)y, ld_y, b, M, N, fwd_chunk, &a);
    }
    // Plain path: y = b (broadcast), then y = x·Wᵀ + y.
    if (b) {
        int64_t n = M * N;
        unsigned blocks = (unsigned)(n / 256 + 1 < 65536 ? n / 256 + 1 : 65536);
        if (o->dtype == DTYPE_BF16)
            bias_fill_kernel<bf16><<<blocks, 256, 0, st>>>((bf16 *)y, b, M, N, ld_y);
        else
            bias_fill_kernel<float><<<blocks, 256, 0, st>>>(y, b, M, N, ld_y);
        CUDA_CHECK_LAUNCH();
    }
    CUBLAS_TRY(cublasSetStream(c->blas, st));
    CUBLAS_TRY(cublasGemmEx(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)N, (int)M, (int)K, &alpha, w,
                            t, (int)K, x, t, (int)ld_x, &beta, y, t, (int)ld_y, ct,
                            CUBLAS_GEMM_DEFAULT));
fail:
    return status;
}

extern "C" int matmul_bwd_cuda(float *dx, float *dw, float *db, const float *dy, const float *x,
                               const float *w, int64_t M, int64_t K, int64_t N, int64_t ld_x,
                               int64_t ld_y, const MatmulCuda *opt) {
    const MatmulCuda *o = opt ? opt : &matmul_default;
    int status = matmul_check_shape(__func__, M, K, N, ld_x, ld_y);
    CudaCtx *c = NULL;
    cudaStream_t st = cuda_stream(o->stream);
    cudaDataType_t t = o->dtype == DTYPE_BF16 ? CUDA_R_16BF : CUDA_R_32F;
    cublasComputeType_t ct = o->allow_tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    float one = 1.0f, dx_beta = o->dx_overwrite ? 0.0f : 1.0f;
    double *part = NULL, *sums = NULL;
    int64_t rows = MATMUL_DB_ROWS, chunks;
    size_t part_bytes;
    if (status) return status;
    if ((status = matmul_check_dtype(__func__, o))) return status;
    if (!dy || (dx && !w) || (dw && !x))
        return ls_error(LS_ERR_USAGE, "%s: dy must not be NULL, nor w when dx is wanted, nor x "
                        "when dw is wanted", __func__);
    if (M == 0) return 0;
    while ((M + rows - 1) / rows > 65535) rows *= 2; // grid.y limit; depends on M only
    chunks = (M + rows - 1) / rows;
    part_bytes = cuda_align((size_t)chunks * N * sizeof(double));
    if ((status = cuda_ctx_get(&c))) return status;
    CUBLAS_TRY(cublasSetStream(c->blas, st));

    if (dx && o->dtype == DTYPE_BF16 && !o->dx_overwrite) { // fp32 product, added, rounded once
        Bf16GemmArgs a = {NULL, w, dy, K, N, ld_x, ld_y, ct};
        if ((status = bf16_epilogue_gemm(c, st, (bf16 *)dx, ld_x, NULL, M, K, dx_chunk, &a)))
            goto fail;
    } else if (dx) // dxcm (K × M) += (or =, dx_overwrite) Wcm (K × N) · dycm (N × M)
        CUBLAS_TRY(cublasGemmEx(c->blas, CUBLAS_OP_N, CUBLAS_OP_N, (int)K, (int)M, (int)N, &one,
                                w, t, (int)K, dy, t, (int)ld_y, &dx_beta, dx, t, (int)ld_x, ct,
                                CUBLAS_GEMM_DEFAULT));
    if (dw) // dWcm (K × N, fp32) += xcm (K × M) · dycmᵀ (M × N)
        CUBLAS_TRY(cublasGemmEx(c->blas, CUBLAS_OP_N, CUBLAS_OP_T, (int)K, (int)N, (int)M, &one,
                                x, t, (int)ld_x, dy, t, (int)ld_y, &one, dw, CUDA_R_32F, (int)K,
                                ct, CUBLAS_GEMM_DEFAULT));
    if (db) {
        if ((status = cuda_scratch(part_bytes + cuda_align((size_t)N * sizeof(double)),
                                   (void **)&part, "the bias gradient's partial sums")))
            goto fail;
        sums = (double *)((char *)part + part_bytes);
        dim3 grid((unsigned)((N + 127) / 128), (unsigned)chunks);
        if (o->dtype == DTYPE_BF16)
            db_part_kernel<bf16><<<grid, 128, 0, st>>>((const bf16 *)dy, M, N, ld_y, rows, part);
        else
            db_part_kernel<float><<<grid, 128, 0, st>>>(dy, M, N, ld_y, rows, part);
        CUDA_CHECK_LAUNCH();
        if ((status = cuda_colsum(part, chunks, N, sums, st))) goto fail;
        db_add_kernel<<<(unsigned)(N / 256 + 1), 256, 0, st>>>(db, sums, N);
        CUDA_CHECK_LAUNCH();
    }
fail:
    return status;
}
