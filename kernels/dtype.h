/*
 * dtype.h — element types of the tensors an op reads and writes, shared by every op family.
 *
 * The CPU specification is fp32 throughout. The CUDA ops also take bf16 inputs/outputs (mixed
 * precision: bf16 in memory, fp32 arithmetic, state and accumulation); an op's argument struct
 * says which of its pointers follow its `dtype` field. A bf16 tensor is passed through the same
 * pointer fields as an fp32 one (cast: the bytes are uint16_t bf16 values).
 *
 * bf16_from_float() rounds to nearest even, as CUDA's __float2bfloat16_rn and PyTorch do, so a
 * test can feed the CPU op the exact values a bf16 GPU op sees (STYLE 33: bf16 is compared with
 * the CPU op on the same bf16-rounded inputs).
 */
#ifndef LS_DTYPE_H
#define LS_DTYPE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    DTYPE_F32  = 0,
    DTYPE_BF16 = 1,
} DType;

/** Bytes per element. */
static inline size_t dtype_size(DType t) { return t == DTYPE_BF16 ? 2 : 4; }

/** "f32" / "bf16". */
static inline const char *dtype_name(DType t) { return t == DTYPE_BF16 ? "bf16" : "f32"; }

/** fp32 → bf16 bits, round to nearest even; NaN stays a (quiet) NaN. */
static inline uint16_t bf16_from_float(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu)) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

/** bf16 bits → fp32 (exact). */
static inline float bf16_to_float(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/** Round an fp32 value to the nearest bf16 and back (what a bf16 tensor can hold). */
static inline float bf16_round(float f) { return bf16_to_float(bf16_from_float(f)); }

#ifdef __cplusplus
}
#endif
#endif
