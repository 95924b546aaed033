/*
 * test_encode_dna.c — the DNA half of io/encode.h: every byte value classified and encoded by
 * the rule (through the scalar tail and the 16-byte SSE2 path, at every offset), round trips,
 * reverse complement (tokens and IUPAC letters, in place and not), soft-masking, counts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "io/encode.h"

static const char iupac[] = "ACGTUNRYSWKMBDHVacgtunryswkmbdhv";

static int is_iupac(int c) { return c != 0 && strchr(iupac, c) != NULL; }

/* The rule of encode.h, written out independently of the implementation's tables. */
static uint8_t rule_token(int c, DnaSoftmask mask) {
    if (mask == DNA_SOFTMASK_AS_N && c >= 'a' && c <= 'z' && is_iupac(c)) return DNA_N;
    switch (c) {
    case 'A': case 'a': return DNA_A;
    case 'C': case 'c': return DNA_C;
    case 'G': case 'g': return DNA_G;
    case 'T': case 't': case 'U': case 'u': return DNA_T;
    default: return DNA_N;
    }
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rng_next(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static void test_find_invalid_every_byte(void **state) {
    (void)state;
    int valid = 0;
    for (int c = 0; c < 256; c++) {
        char one = (char)c;
        int64_t got = dna_find_invalid(&one, 1);
        if (is_iupac(c)) {
            valid++;
            if (got != -1) fail_msg("byte 0x%02x is IUPAC but dna_find_invalid gave %lld", c,
                                    (long long)got);
        } else if (got != 0) {
            fail_msg("byte 0x%02x is not IUPAC but dna_find_invalid gave %lld", c, (long long)got);
        }
        /* the same byte at every offset of a 48-byte run of valid bases (SSE2 blocks) */
        char buf[48];
        for (int pos = 0; pos < 48; pos++) {
            for (int i = 0; i < 48; i++) buf[i] = "ACGTNacgtnRYKM"[i % 14];
            buf[pos] = (char)c;
            int64_t want = is_iupac(c) ? -1 : pos;
            int64_t at = dna_find_invalid(buf, 48);
            if (at != want)
                fail_msg("byte 0x%02x at offset %d: produced %lld, expected %lld", c, pos,
                         (long long)at, (long long)want);
        }
    }
    assert_int_equal(valid, 32);
    assert_int_equal(dna_find_invalid("", 0), -1);
    /* the first of several bad bytes is reported */
    assert_int_equal(dna_find_invalid("ACGTACGTACGTACGTACGT-ACGT*", 26), 20);
}

static void test_encode_every_byte(void **state) {
    (void)state;
    for (int m = 0; m < 2; m++) {
        DnaSoftmask mask = m ? DNA_SOFTMASK_AS_N : DNA_SOFTMASK_UPPER;
        for (int c = 0; c < 256; c++) {
            uint8_t want = rule_token(c, mask), tok;
            char one = (char)c;
            dna_encode(&tok, &one, 1, mask);
            if (tok != want)
                fail_msg("byte 0x%02x mask %d: scalar produced %u, expected %u", c, m, tok, want);
            char buf[40];
            uint8_t toks[40];
            for (int pos = 0; pos < 40; pos += 7) {
                memset(buf, 'g', sizeof buf);
                buf[pos] = (char)c;
                dna_encode(toks, buf, 40, mask);
                if (toks[pos] != want)
                    fail_msg("byte 0x%02x mask %d offset %d: produced %u, expected %u", c, m, pos,
                             toks[pos], want);
                uint8_t g = mask == DNA_SOFTMASK_AS_N ? DNA_N : DNA_G;
                for (int i = 0; i < 40; i++)
                    if (i != pos && toks[i] != g) fail_msg("neighbour %d changed to %u", i, toks[i]);
            }
        }
    }
}

static void test_encode_examples_and_softmask(void **state) {
    (void)state;
    const char *s = "ACGTUNacgtunRYSWKMBDHVrysw";
    uint8_t up[26], asn[26];
    dna_encode(up, s, 26, DNA_SOFTMASK_UPPER);
    dna_encode(asn, s, 26, DNA_SOFTMASK_AS_N);
    const uint8_t want_up[26] = {0, 1, 2, 3, 3, 4, 0, 1, 2, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4,
                                 4, 4, 4, 4, 4, 4};
    const uint8_t want_asn[26] = {0, 1, 2, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
                                  4, 4, 4, 4, 4, 4};
    assert_memory_equal(up, want_up, 26);
    assert_memory_equal(asn, want_asn, 26);
}

static void test_encode_in_place(void **state) {
    (void)state;
    for (int64_t n = 0; n < 100; n++) {
        char *buf = malloc((size_t)n + 1);
        uint8_t *want = malloc((size_t)n + 1);
        for (int64_t i = 0; i < n; i++) buf[i] = iupac[rng_next() % 32];
        dna_encode(want, buf, n, DNA_SOFTMASK_AS_N);
        dna_encode((uint8_t *)buf, buf, n, DNA_SOFTMASK_AS_N);
        if (n) assert_memory_equal(buf, want, (size_t)n);
        free(buf);
        free(want);
    }
}

static void test_round_trip(void **state) {
    (void)state;
    char dec[64];
    uint8_t tok[64];
    dna_encode(tok, "ACGTNacgtnU", 11, DNA_SOFTMASK_UPPER);
    dna_decode(dec, tok, 11);
    assert_memory_equal(dec, "ACGTNACGTNT", 11);
    /* random ACGTN strings survive encode -> decode exactly */
    for (int rep = 0; rep < 50; rep++) {
        int n = 1 + (int)(rng_next() % 64);
        char s[64];
        for (int i = 0; i < n; i++) s[i] = "ACGTN"[rng_next() % 5];
        dna_encode(tok, s, n, DNA_SOFTMASK_UPPER);
        dna_decode(dec, tok, n);
        assert_memory_equal(dec, s, (size_t)n);
    }
    /* tokens out of range decode to N */
    const uint8_t odd[3] = {5, 200, 3};
    dna_decode(dec, odd, 3);
    assert_memory_equal(dec, "NNT", 3);
}

static void test_reverse_complement_tokens(void **state) {
    (void)state;
    const uint8_t t[6] = {DNA_A, DNA_A, DNA_C, DNA_G, DNA_N, DNA_T};
    uint8_t rc[6];
    dna_reverse_complement(rc, t, 6);
    const uint8_t want[6] = {DNA_A, DNA_N, DNA_C, DNA_G, DNA_T, DNA_T};
    assert_memory_equal(rc, want, 6);
    for (int64_t n = 0; n < 40; n++) {
        uint8_t a[40], b[40], c[40];
        for (int64_t i = 0; i < n; i++) a[i] = (uint8_t)(rng_next() % 5);
        dna_reverse_complement(b, a, n);
        dna_reverse_complement(c, b, n);
        if (n) assert_memory_equal(c, a, (size_t)n);
        memcpy(c, a, (size_t)n); /* in place, odd and even n */
        dna_reverse_complement(c, c, n);
        if (n) assert_memory_equal(c, b, (size_t)n);
        dna_reverse_complement(c, c, n);
        if (n) assert_memory_equal(c, a, (size_t)n);
    }
}

static void test_reverse_complement_letters(void **state) {
    (void)state;
    char out[64];
    const char *s = "ACGTUNRYSWKMBDHVacgtunryswkmbdhv";
    dna_reverse_complement_letters(out, s, 32);
    assert_memory_equal(out, "bdhvkmwsrynaacgtBDHVKMWSRYNAACGT", 32);
    /* case kept, and bytes that are not letters left alone */
    dna_reverse_complement_letters(out, "aC-*gT", 6);
    assert_memory_equal(out, "Ac*-Gt", 6);
    /* twice = identity for IUPAC strings without U (U -> A -> T), in place too */
    const char *no_u = "ACGTNRYSWKMBDHVacgtnryswkmbdhv";
    for (int rep = 0; rep < 50; rep++) {
        int n = (int)(rng_next() % 64);
        char a[64], b[64];
        for (int i = 0; i < n; i++) a[i] = no_u[rng_next() % 30];
        memcpy(b, a, (size_t)n);
        dna_reverse_complement_letters(b, b, n);
        dna_reverse_complement_letters(out, b, n);
        if (n) assert_memory_equal(out, a, (size_t)n);
        /* agrees with the token version on ACGTN */
        for (int i = 0; i < n; i++) a[i] = "ACGTN"[rng_next() % 5];
        uint8_t ta[64], tb[64], tc[64];
        dna_encode(ta, a, n, DNA_SOFTMASK_UPPER);
        dna_reverse_complement(tb, ta, n);
        dna_reverse_complement_letters(b, a, n);
        dna_encode(tc, b, n, DNA_SOFTMASK_UPPER);
        if (n) assert_memory_equal(tb, tc, (size_t)n);
    }
}

static void test_count(void **state) {
    (void)state;
    int64_t counts[DNA_VOCAB];
    for (int64_t n = 0; n < 70; n += 3) {
        uint8_t t[70];
        int64_t want[DNA_VOCAB] = {0};
        for (int64_t i = 0; i < n; i++) {
            t[i] = (uint8_t)(rng_next() % 5);
            want[t[i]]++;
        }
        dna_count(t, n, counts);
        assert_memory_equal(counts, want, sizeof want);
    }
    const uint8_t odd[5] = {0, 7, 255, 4, 3};
    dna_count(odd, 5, counts);
    assert_int_equal(counts[DNA_A], 1);
    assert_int_equal(counts[DNA_T], 1);
    assert_int_equal(counts[DNA_N], 3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_invalid_every_byte),
        cmocka_unit_test(test_encode_every_byte),
        cmocka_unit_test(test_encode_examples_and_softmask),
        cmocka_unit_test(test_encode_in_place),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_reverse_complement_tokens),
        cmocka_unit_test(test_reverse_complement_letters),
        cmocka_unit_test(test_count),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests_name("encode_dna", tests, NULL, NULL);
}
