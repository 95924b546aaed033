/*
 * act.cu — elementwise activations on the GPU (kernels/act.h): SiLU, softplus, GELU and the
 * SiLU gate, forward and backward. Must match the CPU specification kernels/cpu/act.c; checked
 * by tests/gpu/parity_act.c.
 *
 * One kernel template over the operation: a grid-stride loop with 64-bit indices, one element
 * per thread per step (the tensors are contiguous; loads coalesce). Every formula is the CPU's,
 * operation by operation, in rn_ arithmetic (cuda_math.cuh: never contracted into FMA), so the
 * fp32 results differ from the CPU's only through expf / log1pf / erff (CUDA's are within 2 ulp
 * of the correctly rounded value, libm's within 1).
 */
#include "kernels/act.h"
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_math.cuh"

#define SOFTPLUS_THRESHOLD 20.0f
#define INV_SQRT_2 0.70710678118654752440f   // (float)M_SQRT1_2, as the CPU writes it
#define INV_SQRT_2PI 0.39894228040143267794f // (float)(M_2_SQRTPI · M_SQRT1_2 · 0.5)

enum ActOp {
    ACT_SILU_FWD, ACT_SILU_BWD, ACT_SOFTPLUS_FWD, ACT_SOFTPLUS_BWD,
    ACT_GELU_FWD, ACT_GELU_BWD, ACT_GATE_FWD, ACT_GATE_BWD,
};

// out0 / out1: the outputs (y; or dx, dz), in0..in2: the inputs in the CPU function's order.
template <typename T, int OP>
__global__ void act_kernel(T *__restrict__ out0, T *__restrict__ out1,
                           const T *__restrict__ in0, const T *__restrict__ in1,
                           const T *__restrict__ in2, int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        if (OP == ACT_SILU_FWD) { // y = x·σ(x)
            float x = ld(in0 + i);
            st(out0 + i, rn_mul(x, sigmoid_spec(x)));
        } else if (OP == ACT_SILU_BWD) { // dx += dy·SiLU'(x)
            float dy = ld(in0 + i), x = ld(in1 + i);
            st(out0 + i, rn_add(ld(out0 + i), rn_mul(dy, silu_grad_spec(x))));
        } else if (OP == ACT_SOFTPLUS_FWD) {
            float x = ld(in0 + i);
            st(out0 + i, x > SOFTPLUS_THRESHOLD ? x : log1pf(expf(x)));
        } else if (OP == ACT_SOFTPLUS_BWD) { // σ(x) as z/(z+1), z = e^x, as PyTorch
            float dy = ld(in0 + i), x = ld(in1 + i), z = expf(x);
            float g = x > SOFTPLUS_THRESHOLD ? dy : rn_div(rn_mul(dy, z), rn_add(z, 1.0f));
            st(out0 + i, rn_add(ld(out0 + i), g));
        } else if (OP == ACT_GELU_FWD) { // x·½·(1 + erf(x/√2))
            float x = ld(in0 + i);
            st(out0 + i, rn_mul(rn_mul(x, 0.5f), rn_add(1.0f, erff(rn_mul(x, INV_SQRT_2)))));
        } else if (OP == ACT_GELU_BWD) { // dy·(Φ(x) + x·φ(x))
            float dy = ld(in0 + i), x = ld(in1 + i);
            float cdf = rn_mul(0.5f, rn_add(1.0f, erff(rn_mul(x, INV_SQRT_2))));
            float pdf = rn_mul(expf(rn_mul(rn_mul(-0.5f, x), x)), INV_SQRT_2PI);
            st(out0 + i, rn_add(ld(out0 + i), rn_mul(dy, rn_add(cdf, rn_mul(x, pdf)))));
        } else if (OP == ACT_GATE_FWD) { // y = x·(z·σ(z))
            float x = ld(in0 + i), z = ld(in1 + i);
            st(out0 + i, rn_mul(x, rn_mul(z, sigmoid_spec(z))));
        } else { // ACT_GATE_BWD: dx += dy·SiLU(z), dz += dy·x·SiLU'(z)
            float dy = ld(in0 + i), x = ld(in1 + i), z = ld(in2 + i);
            if (out0) st(out0 + i, rn_add(ld(out0 + i), rn_mul(dy, rn_mul(z, sigmoid_spec(z)))));
            if (out1)
                st(out1 + i, rn_add(ld(out1 + i), rn_mul(rn_mul(dy, x), silu_grad_spec(z))));
        }
    }
}

template <typename T, int OP>
static int act_launch(float *out0, float *out1, const float *in0, const float *in1,
                      const float *in2, int64_t n, void *stream) {
    int status = 0;
    unsigned blocks = (unsigned)(n / 256 + 1 < 65536 ? n / 256 + 1 : 65536);
    act_kernel<T, OP><<<blocks, 256, 0, (cudaStream_t)stream>>>(
        (T *)out0, (T *)out1, (const T *)in0, (const T *)in1, (const T *)in2, n);
    CUDA_CHECK_LAUNCH();
fail:
    return status;
}

template <int OP>
static int act_run(const char *fn, int have_pointers, float *out0, float *out1,
                   const float *in0, const float *in1, const float *in2, int64_t n, DType dtype,
                   void *stream) {
    if (n < 0) return ls_error(LS_ERR_USAGE, "%s: element count n=%lld < 0", fn, (long long)n);
    if (n > 0 && !have_pointers)
        return ls_error(LS_ERR_USAGE, "%s: NULL tensor with n=%lld", fn, (long long)n);
    if (dtype != DTYPE_F32 && dtype != DTYPE_BF16)
        return ls_error(LS_ERR_USAGE, "%s: dtype %d is not a DType", fn, (int)dtype);
    if (n == 0) return 0;
    return dtype == DTYPE_BF16 ? act_launch<bf16, OP>(out0, out1, in0, in1, in2, n, stream)
                               : act_launch<float, OP>(out0, out1, in0, in1, in2, n, stream);
}

extern "C" {

int act_silu_fwd_cuda(float *y, const float *x, int64_t n, DType dtype, void *stream) {
    return act_run<ACT_SILU_FWD>(__func__, y && x, y, NULL, x, NULL, NULL, n, dtype, stream);
}
int act_silu_bwd_cuda(float *dx, const float *dy, const float *x, int64_t n, DType dtype,
                      void *stream) {
    return act_run<ACT_SILU_BWD>(__func__, dx && dy && x, dx, NULL, dy, x, NULL, n, dtype,
                                 stream);
}
int act_softplus_fwd_cuda(float *y, const float *x, int64_t n, DType dtype, void *stream) {
    return act_run<ACT_SOFTPLUS_FWD>(__func__, y && x, y, NULL, x, NULL, NULL, n, dtype, stream);
}
int act_softplus_bwd_cuda(float *dx, const float *dy, const float *x, int64_t n, DType dtype,
                          void *stream) {
    return act_run<ACT_SOFTPLUS_BWD>(__func__, dx && dy && x, dx, NULL, dy, x, NULL, n, dtype,
                                     stream);
}
int act_gelu_fwd_cuda(float *y, const float *x, int64_t n, DType dtype, void *stream) {
    return act_run<ACT_GELU_FWD>(__func__, y && x, y, NULL, x, NULL, NULL, n, dtype, stream);
}
int act_gelu_bwd_cuda(float *dx, const float *dy, const float *x, int64_t n, DType dtype,
                      void *stream) {
    return act_run<ACT_GELU_BWD>(__func__, dx && dy && x, dx, NULL, dy, x, NULL, n, dtype,
                                 stream);
}
int act_silu_gate_fwd_cuda(float *y, const float *x, const float *z, int64_t n, DType dtype,
                           void *stream) {
    return act_run<ACT_GATE_FWD>(__func__, y && x && z, y, NULL, x, z, NULL, n, dtype, stream);
}
int act_silu_gate_bwd_cuda(float *dx, float *dz, const float *dy, const float *x,
                           const float *z, int64_t n, DType dtype, void *stream) {
    return act_run<ACT_GATE_BWD>(__func__, (dx || dz) && dy && x && z, dx, dz, dy, x, z, n,
                                 dtype, stream);
}

} /* extern "C" */
