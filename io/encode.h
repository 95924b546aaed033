/*
 * encode.h — DNA letters ↔ token ids, reverse complement, and audio samples ↔ 8/16-bit codes.
 *
 * DNA rule (documented with examples in docs/encodings.md):
 *   A C G T            → 0 1 2 3   (either case; lower case = soft-masked, same token unless
 *                                   DNA_SOFTMASK_AS_N asks to hide masked bases)
 *   U                  → 3 (T)     (RNA input)
 *   N and the IUPAC ambiguity codes R Y S W K M B D H V → 4 (N)
 *   anything else      → never reaches the encoder: seq_reader_next() rejects it with the
 *                        file, record and position (dna_find_invalid() is that check).
 * Complement of token t < 4 is 3 - t; N stays N.
 *
 * Audio: samples are floats in [-1, 1] (values outside are clipped).
 *   µ-law, 8 bit (ITU-T G.711 curve with µ = 255, continuous form): code 0..255, 128 ≈ 0.
 *   linear, 8 or 16 bit: code = round((x + 1) / 2 · (2^bits − 1)), decoded to the code's
 *   centre value; 0 ↔ -1.0, 2^bits−1 ↔ +1.0.
 */
#ifndef LS_ENCODE_H
#define LS_ENCODE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    DNA_A = 0,
    DNA_C = 1,
    DNA_G = 2,
    DNA_T = 3,
    DNA_N = 4,
    DNA_VOCAB = 5,
};

typedef enum {
    DNA_SOFTMASK_UPPER = 0, /* lower-case bases encode like upper-case (default) */
    DNA_SOFTMASK_AS_N  = 1, /* lower-case bases encode as N */
} DnaSoftmask;

/**
 * Index of the first byte of @p seq[0..n) that is not an IUPAC nucleotide letter
 * (ACGTUNRYSWKMBDHV, either case), or -1 if all are. NUL bytes count as invalid.
 */
int64_t dna_find_invalid(const char *seq, int64_t n);

/**
 * Letters → tokens by the rule above. @p dst may equal (uint8_t *)src (in place); other
 * overlaps are not allowed. Bytes that are not IUPAC letters give DNA_N.
 */
void dna_encode(uint8_t *dst, const char *src, int64_t n, DnaSoftmask softmask);

/** Tokens → upper-case letters "ACGTN"; tokens >= DNA_VOCAB give 'N'. */
void dna_decode(char *dst, const uint8_t *tokens, int64_t n);

/** Reverse complement of tokens (t < 4 → 3 - t, others kept); in place when dst == src,
 *  other overlaps not allowed. */
void dna_reverse_complement(uint8_t *dst, const uint8_t *src, int64_t n);

/** Reverse complement of IUPAC letters, case kept (A↔T, C↔G, R↔Y, K↔M, B↔V, D↔H; S, W, N
 *  fixed; U → A); other bytes kept. In place when dst == src, other overlaps not allowed. */
void dna_reverse_complement_letters(char *dst, const char *src, int64_t n);

/** Count of each token (counts[DNA_VOCAB], overwritten), for GC and N fractions; tokens
 *  >= DNA_VOCAB are counted as N. */
void dna_count(const uint8_t *tokens, int64_t n, int64_t counts[DNA_VOCAB]);

/**
 * µ-law, computed in double on x clipped to [-1, 1] (docs/encodings.md "Audio"):
 *   y = sign(x)·ln(1 + 255|x|)/ln 256,  code = floor((y + 1)/2·255 + 0.5);
 * NaN → 128. Decoding gives the code's centre, y_c = 2c/255 − 1. These are exactly the
 * "mulaw8-fixed" codes of the project's reference bigram floors. The _array forms give the
 * same values as the scalar ones (table-driven, no log per sample).
 */
uint8_t mulaw_encode(float x);
float   mulaw_decode(uint8_t code);
void    mulaw_encode_array(uint8_t *dst, const float *src, int64_t n);
void    mulaw_decode_array(float *dst, const uint8_t *src, int64_t n);

/**
 * Linear quantisation to @p bits (8 or 16; values outside 1..16 are clamped to that range)
 * bits; code = floor((x + 1)/2·(2^bits − 1) + 0.5) in [0, 2^bits), x clipped, NaN encodes
 * as 0.0 does.
 */
uint16_t linear_encode(float x, int bits);
float    linear_decode(uint16_t code, int bits);
void     linear_encode_array(uint16_t *dst, const float *src, int64_t n, int bits);
void     linear_decode_array(float *dst, const uint16_t *src, int64_t n, int bits);

#ifdef __cplusplus
}
#endif
#endif
