/*
 * encode_audio.c — audio samples ↔ 8-bit µ-law codes and 8/16-bit linear codes (io/encode.h).
 * The exact formulas, and why they are these, are in docs/encodings.md ("Audio").
 *
 * µ-law (µ = 255, fixed full scale, continuous curve), computed in double:
 *     y    = sign(x) · ln(1 + 255·|x|) / ln(256)            x clipped to [-1, 1]
 *     code = floor((y + 1) / 2 · 255 + 0.5)                 0..255, x = 0 → 128
 * This is, operation for operation, the "mulaw8-fixed" encoding that computed the project's
 * bigram floors (shared/data/audio/{fsdd,opsound-moh}/README.md), so codes and their
 * boundaries are the same; tests/py/test_mulaw_reference.py checks every PCM16 value.
 * Decoding returns the code's centre: y_c = 2c/255 − 1, x = sign(y_c) · (256^|y_c| − 1) / 255.
 * NaN encodes as the code of 0 (128 for µ-law, round(0.5·(2^bits − 1)) for linear).
 *
 * Speed: mulaw_encode_array() must not call log() per sample. The code is a monotone
 * function of |x| on each side of 0, so it is tabulated over buckets of 2^16 consecutive
 * float bit patterns (the top 16 bits of |x|): each bucket stores its first code and, where
 * the code steps inside the bucket, the low 16 bits at which it steps. A bucket is at most
 * 2^-7 of its magnitude wide, so the code moves by at most 127.5·255/ln256 · 2^-7/255 ≈ 0.36
 * of a level inside it — one step at most (checked while building). The tables are built
 * once from mulaw_encode() itself (evaluated at bucket ends and bisected at steps), so the
 * array path equals the scalar path bit for bit.
 *
 * Tested by tests/unit/test_encode_audio.c (round trips, monotonicity, clipping, NaN,
 * array == scalar at every step boundary) and tests/py/test_mulaw_reference.py.
 */
#include "io/encode.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

// ---------------------------------------------------------------------------- µ-law scalar

uint8_t mulaw_encode(float x) {
    if (isnan(x)) return 128;
    double a = fabs((double)x);
    if (a > 1.0) a = 1.0;
    double y = log(1.0 + 255.0 * a) / log(256.0);
    if (x < 0) y = -y;
    return (uint8_t)floor((y + 1.0) / 2.0 * 255.0 + 0.5);
}

static float mulaw_decode_exact(uint8_t code) {
    double y = 2.0 * code / 255.0 - 1.0;
    double a = (pow(256.0, fabs(y)) - 1.0) / 255.0;
    return (float)(y < 0 ? -a : a);
}

// ---------------------------------------------------------------------------- tables

enum {
    MULAW_SHIFT   = 16,                          /* bucket = top 16 bits of |x|'s bit pattern */
    MULAW_ONE     = 0x3F800000u >> MULAW_SHIFT,  /* bucket of 1.0f: everything from here clips */
    MULAW_BUCKETS = MULAW_ONE + 1,
};

typedef struct {
    uint8_t  lo;     /* code at the bucket's first bit pattern */
    int8_t   delta;  /* 0, +1 (x >= 0 side) or -1 (x < 0 side) */
    uint16_t step;   /* low 16 bits from which the code is lo + delta */
} MulawBucket;

static MulawBucket mulaw_table[2][MULAW_BUCKETS]; /* [sign][bucket] */
static float mulaw_centres[256];
static int mulaw_table_ok;                        /* 0: a bucket held two steps, use scalar */
static pthread_once_t mulaw_once = PTHREAD_ONCE_INIT;

static float float_from_bits(uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static void mulaw_tables_build(void) {
    int ok = 1;
    for (int c = 0; c < 256; c++) mulaw_centres[c] = mulaw_decode_exact((uint8_t)c);
    for (uint32_t sign = 0; sign < 2; sign++) {
        for (uint32_t b = 0; b < MULAW_BUCKETS; b++) {
            uint32_t first = sign << 31 | b << MULAW_SHIFT;
            uint32_t last = first | ((1u << MULAW_SHIFT) - 1);
            int lo = mulaw_encode(float_from_bits(first));
            int hi = mulaw_encode(float_from_bits(last));
            MulawBucket e = {(uint8_t)lo, 0, 0};
            if (b == MULAW_ONE) hi = lo; /* whole bucket is >= 1.0: clipped */
            if (hi != lo) {
                if (hi - lo != 1 && lo - hi != 1) ok = 0;
                uint32_t l = first, h = last; /* code(l) == lo, code(h) == hi */
                while (h - l > 1) {
                    uint32_t m = l + (h - l) / 2;
                    if (mulaw_encode(float_from_bits(m)) == lo) l = m;
                    else h = m;
                }
                e.delta = (int8_t)(hi - lo);
                e.step = (uint16_t)(h & 0xFFFFu);
            }
            mulaw_table[sign][b] = e;
        }
    }
    mulaw_table_ok = ok;
}

static void mulaw_tables_init(void) { pthread_once(&mulaw_once, mulaw_tables_build); }

// ---------------------------------------------------------------------------- µ-law public

float mulaw_decode(uint8_t code) {
    mulaw_tables_init();
    return mulaw_centres[code];
}

void mulaw_encode_array(uint8_t *restrict dst, const float *restrict src, int64_t n) {
    mulaw_tables_init();
    if (!mulaw_table_ok) {
        for (int64_t i = 0; i < n; i++) dst[i] = mulaw_encode(src[i]);
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &src[i], sizeof bits);
        uint32_t sign = bits >> 31;
        uint32_t mag = bits & 0x7FFFFFFFu;
        uint32_t b = mag >> MULAW_SHIFT;
        if (b > MULAW_ONE) {
            if (mag > 0x7F800000u) { /* NaN */
                dst[i] = 128;
                continue;
            }
            b = MULAW_ONE;
        }
        MulawBucket e = mulaw_table[sign][b];
        dst[i] = (uint8_t)(e.lo + ((mag & 0xFFFFu) >= e.step ? e.delta : 0));
    }
}

void mulaw_decode_array(float *restrict dst, const uint8_t *restrict src, int64_t n) {
    mulaw_tables_init();
    for (int64_t i = 0; i < n; i++) dst[i] = mulaw_centres[src[i]];
}

// ---------------------------------------------------------------------------- linear

static int linear_bits(int bits) { return bits < 1 ? 1 : bits > 16 ? 16 : bits; }

uint16_t linear_encode(float x, int bits) {
    double levels = (double)((1u << linear_bits(bits)) - 1);
    double v = isnan(x) ? 0.0 : (double)x;
    if (v < -1.0) v = -1.0;
    if (v > 1.0) v = 1.0;
    /* v + 1 >= 0, so truncation is floor */
    return (uint16_t)((v + 1.0) / 2.0 * levels + 0.5);
}

float linear_decode(uint16_t code, int bits) {
    uint32_t max = (1u << linear_bits(bits)) - 1;
    uint32_t c = code > max ? max : code;
    return (float)(2.0 * c / (double)max - 1.0);
}

void linear_encode_array(uint16_t *restrict dst, const float *restrict src, int64_t n,
                         int bits) {
    for (int64_t i = 0; i < n; i++) dst[i] = linear_encode(src[i], bits);
}

void linear_decode_array(float *restrict dst, const uint16_t *restrict src, int64_t n,
                         int bits) {
    for (int64_t i = 0; i < n; i++) dst[i] = linear_decode(src[i], bits);
}
