/*
 * encode_dna.c — the DNA half of encode.h: IUPAC check, letters → tokens, tokens → letters,
 * reverse complement (tokens and letters) and token counts. The rule is in encode.h and
 * docs/encodings.md; the audio half lives in encode_audio.c.
 *
 * Speed: these run over whole chromosomes (100+ Mb), so the hot paths read 16 bytes at a
 * time with SSE2 (baseline on x86-64) and fall back to 256-entry tables for the rare bytes
 * (IUPAC codes other than N) and for other CPUs. The tables are the specification; the SSE2
 * paths must give the same result for every byte, which tests/unit/test_encode_dna.c checks
 * by running all 256 byte values through both paths (at aligned and unaligned offsets).
 */
#include "io/encode.h"

#include <stddef.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#define DNA_HAVE_SSE2 1
#else
#define DNA_HAVE_SSE2 0
#endif

// ---------------------------------------------------------------------------- tables

/* 1 for the 32 IUPAC nucleotide letters (ACGTUNRYSWKMBDHV, either case), else 0. */
static const uint8_t dna_valid[256] = {
    ['A'] = 1, ['C'] = 1, ['G'] = 1, ['T'] = 1, ['U'] = 1, ['N'] = 1, ['R'] = 1, ['Y'] = 1,
    ['S'] = 1, ['W'] = 1, ['K'] = 1, ['M'] = 1, ['B'] = 1, ['D'] = 1, ['H'] = 1, ['V'] = 1,
    ['a'] = 1, ['c'] = 1, ['g'] = 1, ['t'] = 1, ['u'] = 1, ['n'] = 1, ['r'] = 1, ['y'] = 1,
    ['s'] = 1, ['w'] = 1, ['k'] = 1, ['m'] = 1, ['b'] = 1, ['d'] = 1, ['h'] = 1, ['v'] = 1,
};

/* Letter → token with lower case kept as its base; every byte that is not A/C/G/T/U in
 * either case is N (4) — IUPAC ambiguity codes by the rule, other bytes because they never
 * reach here from the reader and N is the safe token if a caller passes them anyway. */
#define DNA_ROW_N4 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4
static const uint8_t dna_token_upper[256] = {
    DNA_ROW_N4, DNA_ROW_N4, DNA_ROW_N4, DNA_ROW_N4,
    /* 0x40 */ 4, 0, 4, 1, 4, 4, 4, 2, 4, 4, 4, 4, 4, 4, 4, 4,
    /* 0x50 */ 4, 4, 4, 4, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    /* 0x60 */ 4, 0, 4, 1, 4, 4, 4, 2, 4, 4, 4, 4, 4, 4, 4, 4,
    /* 0x70 */ 4, 4, 4, 4, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    DNA_ROW_N4, DNA_ROW_N4, DNA_ROW_N4, DNA_ROW_N4,
    DNA_ROW_N4, DNA_ROW_N4, DNA_ROW_N4, DNA_ROW_N4,
};
/* The same with lower case (soft-masked) bases hidden as N. */
static const uint8_t dna_token_mask_n[256] = {
    DNA_ROW_N4, DNA_ROW_N4, DNA_ROW_N4, DNA_ROW_N4,
    /* 0x40 */ 4, 0, 4, 1, 4, 4, 4, 2, 4, 4, 4, 4, 4, 4, 4, 4,
    /* 0x50 */ 4, 4, 4, 4, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    DNA_ROW_N4, DNA_ROW_N4,
    DNA_ROW_N4, DNA_ROW_N4, DNA_ROW_N4, DNA_ROW_N4,
    DNA_ROW_N4, DNA_ROW_N4, DNA_ROW_N4, DNA_ROW_N4,
};
#undef DNA_ROW_N4

/* IUPAC complement, case kept; 0 for bytes that are not IUPAC letters (they map to
 * themselves, see dna_complement_byte). */
static const uint8_t dna_complement_letter[256] = {
    ['A'] = 'T', ['C'] = 'G', ['G'] = 'C', ['T'] = 'A', ['U'] = 'A', ['N'] = 'N', ['R'] = 'Y',
    ['Y'] = 'R', ['S'] = 'S', ['W'] = 'W', ['K'] = 'M', ['M'] = 'K', ['B'] = 'V', ['V'] = 'B',
    ['D'] = 'H', ['H'] = 'D',
    ['a'] = 't', ['c'] = 'g', ['g'] = 'c', ['t'] = 'a', ['u'] = 'a', ['n'] = 'n', ['r'] = 'y',
    ['y'] = 'r', ['s'] = 's', ['w'] = 'w', ['k'] = 'm', ['m'] = 'k', ['b'] = 'v', ['v'] = 'b',
    ['d'] = 'h', ['h'] = 'd',
};

static inline char dna_complement_byte(char c) {
    uint8_t x = dna_complement_letter[(uint8_t)c];
    return x ? (char)x : c;
}

// ---------------------------------------------------------------------------- validation

int64_t dna_find_invalid(const char *seq, int64_t n) {
    const uint8_t *s = (const uint8_t *)seq;
    int64_t i = 0;
#if DNA_HAVE_SSE2
    /* Fast path: 16 bytes that are all one of ACGTN (either case) pass with 5 compares;
     * a block with anything else (R, Y, ... or a bad byte) is checked by the table. */
    const __m128i lower = _mm_set1_epi8(0x20);
    const __m128i a = _mm_set1_epi8('a'), c = _mm_set1_epi8('c'), g = _mm_set1_epi8('g');
    const __m128i t = _mm_set1_epi8('t'), nn = _mm_set1_epi8('n');
    for (; i + 16 <= n; i += 16) {
        __m128i v = _mm_or_si128(_mm_loadu_si128((const __m128i *)(s + i)), lower);
        __m128i ok = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, a), _mm_cmpeq_epi8(v, c)),
                                  _mm_or_si128(_mm_cmpeq_epi8(v, g), _mm_cmpeq_epi8(v, t)));
        ok = _mm_or_si128(ok, _mm_cmpeq_epi8(v, nn));
        if (_mm_movemask_epi8(ok) != 0xffff) {
            for (int64_t j = i; j < i + 16; j++)
                if (!dna_valid[s[j]]) return j;
        }
    }
#endif
    for (; i < n; i++)
        if (!dna_valid[s[i]]) return i;
    return -1;
}

// ---------------------------------------------------------------------------- encode / decode

void dna_encode(uint8_t *dst, const char *src, int64_t n, DnaSoftmask softmask) {
    const uint8_t *s = (const uint8_t *)src;
    const uint8_t *table = softmask == DNA_SOFTMASK_AS_N ? dna_token_mask_n : dna_token_upper;
    int64_t i = 0;
#if DNA_HAVE_SSE2
    /* token = C?1 | G?2 | T/U?3 | (none of A,C,G,T,U)?4 on the upper-cased byte; clearing bit
     * 0x20 maps exactly {0x41,0x61} onto 'A' (and likewise for C, G, T, U), so the result
     * equals the table for all 256 byte values. Lower case is any byte with bit 0x20 set
     * among those that matched a base. Reading 16 bytes before writing 16 keeps dst == src
     * (in place) correct. */
    const __m128i up = _mm_set1_epi8((char)0xdf), bit20 = _mm_set1_epi8(0x20);
    const __m128i A = _mm_set1_epi8('A'), C = _mm_set1_epi8('C'), G = _mm_set1_epi8('G');
    const __m128i T = _mm_set1_epi8('T'), U = _mm_set1_epi8('U');
    const __m128i one = _mm_set1_epi8(1), two = _mm_set1_epi8(2), three = _mm_set1_epi8(3);
    const __m128i four = _mm_set1_epi8(4);
    const int mask_n = softmask == DNA_SOFTMASK_AS_N;
    for (; i + 16 <= n; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(s + i));
        __m128i u = _mm_and_si128(v, up);
        __m128i is_a = _mm_cmpeq_epi8(u, A), is_c = _mm_cmpeq_epi8(u, C);
        __m128i is_g = _mm_cmpeq_epi8(u, G);
        __m128i is_t = _mm_or_si128(_mm_cmpeq_epi8(u, T), _mm_cmpeq_epi8(u, U));
        __m128i base = _mm_or_si128(_mm_or_si128(is_a, is_c), _mm_or_si128(is_g, is_t));
        __m128i tok = _mm_or_si128(_mm_and_si128(is_c, one), _mm_and_si128(is_g, two));
        tok = _mm_or_si128(tok, _mm_and_si128(is_t, three));
        tok = _mm_or_si128(tok, _mm_andnot_si128(base, four));
        if (mask_n) {
            __m128i low = _mm_and_si128(base, _mm_cmpeq_epi8(_mm_and_si128(v, bit20), bit20));
            tok = _mm_or_si128(_mm_andnot_si128(low, tok), _mm_and_si128(low, four));
        }
        _mm_storeu_si128((__m128i *)(dst + i), tok);
    }
#endif
    for (; i < n; i++) dst[i] = table[s[i]];
}

void dna_decode(char *dst, const uint8_t *tokens, int64_t n) {
    static const char letters[8] = {'A', 'C', 'G', 'T', 'N', 'N', 'N', 'N'};
    for (int64_t i = 0; i < n; i++) dst[i] = tokens[i] < DNA_VOCAB ? letters[tokens[i]] : 'N';
}

// ---------------------------------------------------------------------------- reverse complement

static inline uint8_t dna_complement_token(uint8_t t) { return t < DNA_N ? (uint8_t)(3 - t) : t; }

void dna_reverse_complement(uint8_t *dst, const uint8_t *src, int64_t n) {
    if (dst == src) {
        for (int64_t i = 0, j = n - 1; i < j; i++, j--) {
            uint8_t x = dna_complement_token(dst[i]);
            dst[i] = dna_complement_token(dst[j]);
            dst[j] = x;
        }
        if (n & 1) dst[n / 2] = dna_complement_token(dst[n / 2]);
        return;
    }
    for (int64_t i = 0; i < n; i++) dst[i] = dna_complement_token(src[n - 1 - i]);
}

void dna_reverse_complement_letters(char *dst, const char *src, int64_t n) {
    if (dst == src) {
        for (int64_t i = 0, j = n - 1; i < j; i++, j--) {
            char x = dna_complement_byte(dst[i]);
            dst[i] = dna_complement_byte(dst[j]);
            dst[j] = x;
        }
        if (n & 1) dst[n / 2] = dna_complement_byte(dst[n / 2]);
        return;
    }
    for (int64_t i = 0; i < n; i++) dst[i] = dna_complement_byte(src[n - 1 - i]);
}

// ---------------------------------------------------------------------------- counts

void dna_count(const uint8_t *tokens, int64_t n, int64_t counts[DNA_VOCAB]) {
    /* Four interleaved 256-bin histograms so runs of one token do not serialise on one
     * counter; tokens >= DNA_VOCAB (never made by dna_encode) are counted as N. */
    int64_t h[4][256];
    memset(h, 0, sizeof h);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        h[0][tokens[i]]++;
        h[1][tokens[i + 1]]++;
        h[2][tokens[i + 2]]++;
        h[3][tokens[i + 3]]++;
    }
    for (; i < n; i++) h[0][tokens[i]]++;
    for (int v = 0; v < DNA_VOCAB; v++) counts[v] = h[0][v] + h[1][v] + h[2][v] + h[3][v];
    for (int v = DNA_VOCAB; v < 256; v++) counts[DNA_N] += h[0][v] + h[1][v] + h[2][v] + h[3][v];
}
