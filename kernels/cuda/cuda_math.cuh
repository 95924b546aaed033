/*
 * cuda_math.cuh — device helpers shared by the kernels/cuda op files: element loads and stores
 * for the two storage types (fp32, bf16; arithmetic is always fp32 or double), vector forms of
 * them, round-to-nearest arithmetic that the compiler may not fuse, and warp reductions.
 *
 * Why explicit rounding: nvcc contracts a·b + c into one FMA by default, gcc on x86-64 (no -mfma)
 * never does. The CPU ops are the specification, so kernels that mirror a CPU formula term for
 * term write it with rn_mul / rn_add (__fmul_rn / __fadd_rn, which are never contracted): the
 * result is then bit-identical to the CPU's wherever the inputs and the libm-vs-CUDA
 * transcendental functions agree. The ops are memory-bound, so the lost FMA costs nothing.
 * Private to kernels/cuda.
 */
#ifndef LS_CUDA_MATH_CUH
#define LS_CUDA_MATH_CUH

#include <cuda_bf16.h>
#include <stdint.h>

typedef __nv_bfloat16 bf16;

// ----------------------------------------------------------------------------- arithmetic

__device__ __forceinline__ float rn_mul(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ float rn_add(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ float rn_sub(float a, float b) { return __fsub_rn(a, b); }
__device__ __forceinline__ float rn_div(float a, float b) { return __fdiv_rn(a, b); }

/** 1/(1 + e^−x), as the CPU ops write it (kernels/cpu/act.c, conv.c). */
__device__ __forceinline__ float sigmoid_spec(float x) {
    return rn_div(1.0f, rn_add(1.0f, expf(-x)));
}

/** d SiLU(x)/dx = σ(x)(1 + x(1 − σ(x))), the CPU's formula. */
__device__ __forceinline__ float silu_grad_spec(float x) {
    float s = sigmoid_spec(x);
    return rn_mul(s, rn_add(1.0f, rn_mul(x, rn_sub(1.0f, s))));
}

// ----------------------------------------------------------------------------- loads, stores

__device__ __forceinline__ float ld(const float *p) { return *p; }
__device__ __forceinline__ float ld(const bf16 *p) { return __bfloat162float(*p); }
__device__ __forceinline__ void st(float *p, float v) { *p = v; }
__device__ __forceinline__ void st(bf16 *p, float v) { *p = __float2bfloat16_rn(v); }

// VEC consecutive elements; the caller guarantees alignment (16 bytes fp32, 8 bytes bf16).
__device__ __forceinline__ void ldv(const float *p, float (&v)[1]) { v[0] = *p; }
__device__ __forceinline__ void ldv(const bf16 *p, float (&v)[1]) { v[0] = __bfloat162float(*p); }
__device__ __forceinline__ void ldv(const float *p, float (&v)[4]) {
    float4 f = *reinterpret_cast<const float4 *>(p);
    v[0] = f.x, v[1] = f.y, v[2] = f.z, v[3] = f.w;
}
__device__ __forceinline__ void ldv(const bf16 *p, float (&v)[4]) {
    uint2 u = *reinterpret_cast<const uint2 *>(p);
    float2 a = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162 *>(&u.x));
    float2 b = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162 *>(&u.y));
    v[0] = a.x, v[1] = a.y, v[2] = b.x, v[3] = b.y;
}
__device__ __forceinline__ void stv(float *p, const float (&v)[1]) { *p = v[0]; }
__device__ __forceinline__ void stv(bf16 *p, const float (&v)[1]) {
    *p = __float2bfloat16_rn(v[0]);
}
__device__ __forceinline__ void stv(float *p, const float (&v)[4]) {
    *reinterpret_cast<float4 *>(p) = make_float4(v[0], v[1], v[2], v[3]);
}
__device__ __forceinline__ void stv(bf16 *p, const float (&v)[4]) {
    __nv_bfloat162 a = __floats2bfloat162_rn(v[0], v[1]), b = __floats2bfloat162_rn(v[2], v[3]);
    uint2 u;
    u.x = *reinterpret_cast<uint32_t *>(&a);
    u.y = *reinterpret_cast<uint32_t *>(&b);
    *reinterpret_cast<uint2 *>(p) = u;
}

/** 1 when p is aligned for VEC-element vector access of element size @p elem. */
static inline int cuda_aligned(const void *p, int vec, size_t elem) {
    return ((uintptr_t)p % (vec * elem)) == 0;
}

// ----------------------------------------------------------------------------- warp reductions

// Butterfly over the 32 lanes: every lane gets the result; the order is fixed by the lane
// pattern, so the result is the same on every run.
__device__ __forceinline__ double warp_sum(double v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

#endif
