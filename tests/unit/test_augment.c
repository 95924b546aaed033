/*
 * test_augment.c — io/augment.h: the --augment list (values, canonical form, every error),
 * which items apply to which data, and what each change does to a batch: determinism from
 * (seed, step, row) and independence of the thread count, rc∘rc = identity and the share of
 * reversed rows, the DNA crop's bounds, the audio gain's and noise's statistics, the speed's
 * lengths and interpolation, the circular shift's range.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "io/augment.h"
#include "io/encode.h"

// ---------------------------------------------------------------------------- helpers

static uint64_t fill_state = 0x243f6a8885a308d3ull;
static uint32_t next_u32(void) {
    fill_state ^= fill_state << 13;
    fill_state ^= fill_state >> 7;
    fill_state ^= fill_state << 17;
    return (uint32_t)(fill_state >> 16);
}

/* A DNA batch of B rows, row r of length lengths[r] (random ACGTN), padded with N. */
static Batch dna_batch(int64_t B, int64_t L, const int64_t *lengths) {
    Batch b = {0};
    b.B = B;
    b.L = L;
    b.lengths = malloc((size_t)B * sizeof *b.lengths);
    b.tokens = malloc((size_t)(B * L));
    assert_non_null(b.lengths);
    assert_non_null(b.tokens);
    for (int64_t r = 0; r < B; r++) {
        b.lengths[r] = lengths ? lengths[r] : L;
        for (int64_t t = 0; t < L; t++)
            b.tokens[r * L + t] = t < b.lengths[r] ? (uint8_t)(next_u32() % 5) : DNA_N;
    }
    return b;
}

/* An audio batch (the rows owned by samples_buf: with speed= the augmenter points samples at
 * its own buffer): row r of n samples of f(r, t), zero past its end. */
static Batch audio_batch(int64_t B, int64_t L, int64_t n, float (*f)(int64_t, int64_t)) {
    Batch b = {0};
    b.B = B;
    b.L = L;
    b.lengths = malloc((size_t)B * sizeof *b.lengths);
    b.samples = b.samples_buf = malloc((size_t)(B * L) * sizeof *b.samples);
    assert_non_null(b.lengths);
    assert_non_null(b.samples);
    for (int64_t r = 0; r < B; r++) {
        b.lengths[r] = n;
        for (int64_t t = 0; t < L; t++) b.samples[r * L + t] = t < n ? f(r, t) : 0.0f;
    }
    return b;
}

static void batch_release(Batch *b) {
    free(b->lengths);
    free(b->tokens);
    free(b->samples_buf);
    memset(b, 0, sizeof *b);
}

static Augment *make(const char *list, ExampleKind kind, int windows, int64_t max_length,
                     uint64_t seed) {
    AugmentSpec spec;
    assert_int_equal(augment_parse(list, &spec), 0);
    AugmentData data = {.kind = kind, .waveform = 1, .windows = windows, .sample_rate = 8000,
                        .max_length = max_length, .seed = seed};
    Augment *aug = NULL;
    assert_int_equal(augment_init(&aug, &spec, &data), 0);
    assert_non_null(aug);
    return aug;
}

static float sine(int64_t r, int64_t t) { return 0.5f * sinf(0.05f * (float)t + (float)r); }
static float ramp(int64_t r, int64_t t) { (void)r; return 1e-4f * (float)t; }
static float half(int64_t r, int64_t t) { (void)r; (void)t; return 0.5f; }
static float index_value(int64_t r, int64_t t) { (void)r; return (float)t; }

// ---------------------------------------------------------------------------- the list

static void test_parse_and_describe(void **state) {
    (void)state;
    AugmentSpec s;
    char d[128];
    assert_int_equal(augment_parse("rc,shift=3", &s), 0);
    assert_int_equal(s.rc, 1);
    assert_true(s.shift == 3);
    augment_describe(&s, d, sizeof d);
    assert_string_equal(d, "rc,shift=3");
    /* any order in, the canonical order out */
    assert_int_equal(augment_parse("noise=20,gain=6,shift=50,speed=10", &s), 0);
    assert_true(s.noise && s.noise_snr_db == 20 && s.gain_db == 6 && s.shift == 50 &&
                s.speed_pct == 10);
    augment_describe(&s, d, sizeof d);
    assert_string_equal(d, "speed=10,shift=50,gain=6,noise=20");
    assert_int_equal(augment_parse("noise=0", &s), 0); /* 0 dB is an SNR, not "off" */
    assert_true(augment_any(&s));
    augment_describe(&s, d, sizeof d);
    assert_string_equal(d, "noise=0");
    assert_int_equal(augment_parse("none", &s), 0);
    assert_false(augment_any(&s));
    augment_describe(&s, d, sizeof d);
    assert_string_equal(d, "none");
}

static void test_parse_errors(void **state) {
    (void)state;
    static const struct {
        const char *list, *message;
    } bad[] = {
        {"", "give a list"},
        {"flip", "--augment flip: unknown"},
        {"rc,rc", "--augment rc: given twice"},
        {"rc=1", "--augment rc=1: takes no value"},
        {"gain", "--augment gain: give a value: gain=DB"},
        {"gain=", "--augment gain=: give a value after '='"},
        {"gain=0", "--augment gain=0: the value must be above 0 and at most 40"},
        {"gain=41", "at most 40"},
        {"gain=6dB", "--augment gain=6dB: the value is not a number"},
        {"speed=50.5", "--augment speed=50.5: the value must be above 0 and at most 50"},
        {"noise=-21", "the value must be at least -20"},
        {"shift=nan", "the value must be above 0"},
        {"shift=inf", "the value must be above 0"},
        {"rc,", "an empty item"},
        {",rc", "an empty item"},
        {"rc,,shift=1", "an empty item"},
        {"none,rc", "'none' stands alone"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        AugmentSpec s;
        int status = augment_parse(bad[i].list, &s);
        if (status != LS_ERR_USAGE)
            fail_msg("'%s' gave status %d, expected LS_ERR_USAGE", bad[i].list, status);
        if (!strstr(ls_error_message(), bad[i].message))
            fail_msg("'%s' said \"%s\", expected it to contain \"%s\"", bad[i].list,
                     ls_error_message(), bad[i].message);
    }
}

static void test_init_errors(void **state) {
    (void)state;
    static const struct {
        const char *list;
        ExampleKind kind;
        int waveform, windows;
        const char *message;
    } bad[] = {
        {"rc", EXAMPLE_AUDIO, 1, 0, "--augment rc: reverse complement is for DNA"},
        {"gain=6", EXAMPLE_DNA, 1, 0, "--augment gain: an audio augmentation"},
        {"rc,noise=10", EXAMPLE_DNA, 1, 0, "--augment noise: an audio augmentation"},
        {"speed=5", EXAMPLE_DNA, 1, 0, "--augment speed:"},
        {"gain=6", EXAMPLE_AUDIO, 0, 0, "this run reads 8-bit audio codes"},
        {"shift=3", EXAMPLE_DNA, 1, 1, "--augment shift=3: the training rows are random windows"},
        {"shift=20", EXAMPLE_AUDIO, 1, 1, "random windows"},
        {"shift=2.5", EXAMPLE_DNA, 1, 0, "--augment shift=2.5: DNA is shifted by whole bases"},
        {"rc", EXAMPLE_SYNTH, 1, 0, "synthetic task"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        AugmentSpec s;
        assert_int_equal(augment_parse(bad[i].list, &s), 0);
        AugmentData data = {.kind = bad[i].kind, .waveform = bad[i].waveform,
                            .windows = bad[i].windows, .sample_rate = 8000, .seed = 1};
        Augment *aug = (Augment *)&s; /* must be reset to NULL on failure */
        int status = augment_init(&aug, &s, &data);
        if (status != LS_ERR_USAGE || aug != NULL)
            fail_msg("'%s' gave status %d (aug %p), expected LS_ERR_USAGE and NULL",
                     bad[i].list, status, (void *)aug);
        if (!strstr(ls_error_message(), bad[i].message))
            fail_msg("'%s' said \"%s\", expected it to contain \"%s\"", bad[i].list,
                     ls_error_message(), bad[i].message);
    }
    /* what does apply: rc on windows, audio items on windows except shift */
    augment_free(make("rc", EXAMPLE_DNA, 1, 0, 1));
    augment_free(make("speed=10,gain=6,noise=20", EXAMPLE_AUDIO, 1, 0, 1));
    augment_free(NULL);
}

// ---------------------------------------------------------------------------- DNA

/* Rows reverse-complemented or not, each as drawn; the same (seed, step) twice is rc∘rc. */
static void test_rc(void **state) {
    (void)state;
    enum { B = 2000, L = 37 };
    Batch b = dna_batch(B, L, NULL);
    uint8_t *orig = malloc(B * L), *once = malloc(B * L), *rc = malloc(L);
    memcpy(orig, b.tokens, B * L);
    Augment *aug = make("rc", EXAMPLE_DNA, 0, 0, 7);
    assert_int_equal(augment_batch(aug, &b, 3), 0);
    memcpy(once, b.tokens, B * L);
    int reversed = 0;
    for (int r = 0; r < B; r++) {
        assert_int_equal(b.lengths[r], L);
        dna_reverse_complement(rc, orig + r * L, L);
        int same = memcmp(once + r * L, orig + r * L, L) == 0;
        int is_rc = memcmp(once + r * L, rc, L) == 0;
        if (!same && !is_rc) fail_msg("row %d is neither the original nor its rc", r);
        reversed += is_rc && !same;
    }
    /* p = 1/2 over 2000 rows: sd 22.4; 1000 +- 120 is beyond 5 sd */
    if (reversed < 880 || reversed > 1120)
        fail_msg("%d of %d rows reversed, expected about half", reversed, B);
    /* the same draws again reverse the same rows: the original comes back */
    assert_int_equal(augment_batch(aug, &b, 3), 0);
    assert_memory_equal(b.tokens, orig, B * L);
    /* another step draws otherwise */
    assert_int_equal(augment_batch(aug, &b, 4), 0);
    assert_true(memcmp(b.tokens, once, B * L) != 0);
    augment_free(aug);
    /* another augmenter of the same seed: the same bytes; another seed: others */
    memcpy(b.tokens, orig, B * L);
    aug = make("rc", EXAMPLE_DNA, 0, 0, 7);
    assert_int_equal(augment_batch(aug, &b, 3), 0);
    assert_memory_equal(b.tokens, once, B * L);
    augment_free(aug);
    memcpy(b.tokens, orig, B * L);
    aug = make("rc", EXAMPLE_DNA, 0, 0, 8);
    assert_int_equal(augment_batch(aug, &b, 3), 0);
    assert_true(memcmp(b.tokens, once, B * L) != 0);
    augment_free(aug);
    free(orig);
    free(once);
    free(rc);
    batch_release(&b);
}

/* shift=N: a contiguous piece of n - k bases, k in 0..N (at most n - 1), padded with N. */
static void test_dna_shift(void **state) {
    (void)state;
    enum { B = 3000, L = 40, N = 5 };
    int64_t lengths[B];
    for (int r = 0; r < B; r++) lengths[r] = r % 4 == 0 ? 1 + r % 3 : L - r % 7; // some tiny
    Batch b = dna_batch(B, L, lengths);
    uint8_t *orig = malloc(B * L);
    memcpy(orig, b.tokens, B * L);
    Augment *aug = make("shift=5", EXAMPLE_DNA, 0, 0, 1);
    assert_int_equal(augment_batch(aug, &b, 1), 0);
    int seen_k[N + 1] = {0}, seen_start0 = 0, seen_end0 = 0;
    for (int r = 0; r < B; r++) {
        int64_t n = lengths[r], m = b.lengths[r], k = n - m;
        if (m < 1 || k < 0 || k > N) fail_msg("row %d: %lld bases became %lld", r,
                                              (long long)n, (long long)m);
        int64_t a = -1; // the piece's start in the original
        for (int64_t s = 0; s <= k && a < 0; s++)
            if (memcmp(b.tokens + r * L, orig + r * L + s, (size_t)m) == 0) a = s;
        if (a < 0) fail_msg("row %d is not a piece of its original", r);
        for (int64_t t = m; t < L; t++)
            if (b.tokens[r * L + t] != DNA_N) fail_msg("row %d: padding at %lld is not N", r,
                                                       (long long)t);
        if (n > N) {
            seen_k[k]++;
            if (k > 0 && a == 0) seen_start0++;
            if (k > 0 && a == k) seen_end0++;
        }
    }
    for (int k = 0; k <= N; k++)
        if (seen_k[k] < 200) fail_msg("k = %d dropped only %d times of ~%d", k, seen_k[k],
                                      3 * B / 4 / (N + 1));
    assert_true(seen_start0 > 100 && seen_end0 > 100); /* cut at one end only, both ways */
    augment_free(aug);
    free(orig);
    batch_release(&b);
}

// ---------------------------------------------------------------------------- audio

/* gain=6: every row scaled by one factor, its dB uniform in [-6, 6]. */
static void test_gain(void **state) {
    (void)state;
    enum { B = 2000, L = 64 };
    Batch b = audio_batch(B, L, L, half);
    Augment *aug = make("gain=6", EXAMPLE_AUDIO, 0, 0, 1);
    assert_int_equal(augment_batch(aug, &b, 1), 0);
    double sum = 0, lo = 1e9, hi = -1e9;
    for (int r = 0; r < B; r++) {
        double db = 20 * log10(b.samples[r * L] / 0.5);
        for (int t = 1; t < L; t++)
            if (b.samples[r * L + t] != b.samples[r * L]) fail_msg("row %d: not one gain", r);
        if (db < -6.0001 || db > 6.0001) fail_msg("row %d: gain %g dB outside +-6", r, db);
        sum += db;
        lo = db < lo ? db : lo;
        hi = db > hi ? db : hi;
    }
    /* uniform on [-6, 6]: sd 3.46, the mean of 2000 has sd 0.077 */
    if (fabs(sum / B) > 0.4) fail_msg("mean gain %g dB, expected about 0", sum / B);
    if (lo > -5.9 || hi < 5.9) fail_msg("gains span %g..%g dB, expected -6..6", lo, hi);
    augment_free(aug);
    batch_release(&b);
}

/* noise=10: the measured SNR within [10, 30] dB, uniform; zero-mean noise; silence kept. */
static void test_noise(void **state) {
    (void)state;
    enum { B = 300, L = 20000 };
    Batch b = audio_batch(B, L, L, sine);
    b.lengths[B - 1] = L / 2;
    for (int t = 0; t < L; t++) b.samples[(B - 1) * L + t] = 0; /* a silent row */
    float *orig = malloc((size_t)B * L * sizeof *orig);
    memcpy(orig, b.samples, (size_t)B * L * sizeof *orig);
    Augment *aug = make("noise=10", EXAMPLE_AUDIO, 0, 0, 1);
    assert_int_equal(augment_batch(aug, &b, 1), 0);
    double snr_sum = 0, lo = 1e9, hi = -1e9;
    for (int r = 0; r < B - 1; r++) {
        double ps = 0, pn = 0, mean = 0;
        for (int t = 0; t < L; t++) {
            double x = orig[r * L + t], e = b.samples[r * L + t] - x;
            ps += x * x;
            pn += e * e;
            mean += e;
        }
        double snr = 10 * log10(ps / pn);
        /* 20000 samples: the noise power is within ~2 % (0.1 dB) of its aim */
        if (snr < 9.7 || snr > 30.3) fail_msg("row %d: SNR %g dB outside [10, 30]", r, snr);
        if (fabs(mean / L) > 5 * sqrt(pn / L / L)) fail_msg("row %d: noise mean %g", r,
                                                            mean / L);
        snr_sum += snr;
        lo = snr < lo ? snr : lo;
        hi = snr > hi ? snr : hi;
    }
    /* uniform on [10, 30]: sd 5.8, the mean of 299 has sd 0.33 */
    if (fabs(snr_sum / (B - 1) - 20) > 1.7) fail_msg("mean SNR %g dB, expected 20",
                                                     snr_sum / (B - 1));
    if (lo > 11 || hi < 29) fail_msg("SNRs span %g..%g dB, expected 10..30", lo, hi);
    for (int t = 0; t < L; t++)
        if (b.samples[(B - 1) * L + t] != 0) fail_msg("the silent row got noise at %d", t);
    augment_free(aug);
    free(orig);
    batch_release(&b);
}

/* speed=10: n samples become floor((n - 1)/f) + 1 with f in [0.9, 1.1], y[j] = x(j f). */
static void test_speed(void **state) {
    (void)state;
    enum { B = 500, L = 4001 };
    Batch b = audio_batch(B, L, L, ramp);
    b.lengths[1] = 1; /* one sample stays one sample */
    Augment *aug = make("speed=10", EXAMPLE_AUDIO, 0, 0, 1);
    assert_int_equal(augment_batch(aug, &b, 1), 0);
    int64_t longest = 0, shortest = INT64_MAX;
    int off_by_one = 0;
    for (int r = 0; r < B; r++) {
        int64_t m = b.lengths[r];
        longest = m > longest ? m : longest;
        if (r == 1) {
            assert_int_equal(m, 1);
            continue;
        }
        shortest = m < shortest ? m : shortest;
        /* a ramp resampled linearly is a ramp of slope f: read f back from the samples */
        const float *y = b.samples + r * b.L;
        double f = (y[m - 1] - y[0]) / 1e-4 / (double)(m - 1);
        if (f < 0.8999 || f > 1.1001) fail_msg("row %d: factor %g outside 0.9..1.1", r, f);
        /* f read back is within ~1e-7, so (L - 1)/f within ~3e-4: off by one only where
         * that lies that close to a whole number (a few rows in 500 at most) */
        int64_t want = (int64_t)floor((L - 1) / f) + 1;
        off_by_one += m != want;
        if (m < want - 1 || m > want + 1)
            fail_msg("row %d: %lld samples at factor %g, expected %lld", r, (long long)m, f,
                     (long long)want);
        for (int64_t j = 0; j < m; j += 97)
            if (fabs(y[j] - 1e-4 * (double)j * f) > 1e-5)
                fail_msg("row %d: y[%lld] = %g, expected x(j f) = %g", r, (long long)j, y[j],
                         1e-4 * (double)j * f);
        for (int64_t j = m; j < b.L; j++)
            if (y[j] != 0) fail_msg("row %d: padding at %lld is %g", r, (long long)j, y[j]);
    }
    if (off_by_one > 3) fail_msg("%d rows one sample off floor((n - 1)/f) + 1", off_by_one);
    assert_int_equal(b.L, longest);
    /* f near 0.9 and 1.1 both occur: (L - 1)/0.9 = 4444, (L - 1)/1.1 = 3636 */
    if (longest < 4400 || shortest > 3680)
        fail_msg("lengths span %lld..%lld, expected about 3637..4445", (long long)shortest,
                 (long long)longest);
    augment_free(aug);
    batch_release(&b);
    /* the Transformer's window: rows never longer than max_length, the centre kept */
    b = audio_batch(B, L, L, ramp);
    aug = make("speed=10", EXAMPLE_AUDIO, 0, 4000, 1);
    assert_int_equal(augment_batch(aug, &b, 1), 0);
    int cropped = 0;
    for (int r = 0; r < B; r++) {
        if (b.lengths[r] > 4000) fail_msg("row %d: %lld samples, window 4000", r,
                                          (long long)b.lengths[r]);
        cropped += b.lengths[r] == 4000 && b.samples[r * b.L] > 0;
    }
    assert_true(cropped > 100);
    assert_true(b.L <= 4000);
    augment_free(aug);
    batch_release(&b);
}

/* shift=10 at 8 kHz: a rotation by s samples, |s| <= 80, all of them seen. */
static void test_audio_shift(void **state) {
    (void)state;
    enum { B = 3000, L = 200, S = 80 };
    Batch b = audio_batch(B, L, L - 10, index_value);
    Augment *aug = make("shift=10", EXAMPLE_AUDIO, 0, 0, 1);
    assert_int_equal(augment_batch(aug, &b, 1), 0);
    int seen[2 * S + 1] = {0};
    const int64_t n = L - 10;
    for (int r = 0; r < B; r++) {
        assert_int_equal(b.lengths[r], n);
        const float *y = b.samples + r * L;
        int64_t s = ((int64_t)0 - (int64_t)y[0] + n) % n; // y[0] = x[-s mod n]
        if (s > n / 2) s -= n;
        if (s < -S || s > S) fail_msg("row %d: shift %lld beyond +-%d", r, (long long)s, S);
        for (int64_t t = 0; t < n; t++)
            if (y[t] != (float)(((t - s) % n + n) % n)) fail_msg("row %d: not a rotation", r);
        for (int64_t t = n; t < L; t++) assert_true(y[t] == 0);
        seen[s + S]++;
    }
    int never = 0;
    for (int i = 0; i <= 2 * S; i++) never += seen[i] == 0;
    if (never > 0) fail_msg("%d of the %d shifts never drawn in %d rows", never, 2 * S + 1, B);
    augment_free(aug);
    batch_release(&b);
}

/* Every change at once: the same bytes with 1 thread and with 4. */
static void test_threads(void **state) {
    (void)state;
    enum { B = 64, L = 3000 };
    float *out[2];
    int64_t lengths[2][B], Ls[2];
    for (int k = 0; k < 2; k++) {
        omp_set_num_threads(k ? 4 : 1);
        Batch b = audio_batch(B, L, L, sine);
        for (int r = 0; r < B; r++) b.lengths[r] = L - 13 * r;
        Augment *aug = make("speed=10,shift=20,gain=6,noise=5", EXAMPLE_AUDIO, 0, 0, 9);
        assert_int_equal(augment_batch(aug, &b, 12345), 0);
        out[k] = malloc((size_t)(B * b.L) * sizeof *out[k]);
        memcpy(out[k], b.samples, (size_t)(B * b.L) * sizeof *out[k]);
        memcpy(lengths[k], b.lengths, sizeof lengths[k]);
        Ls[k] = b.L;
        augment_free(aug);
        batch_release(&b);
    }
    assert_int_equal(Ls[0], Ls[1]);
    assert_memory_equal(lengths[0], lengths[1], sizeof lengths[0]);
    assert_memory_equal(out[0], out[1], (size_t)(B * Ls[0]) * sizeof *out[0]);
    free(out[0]);
    free(out[1]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_describe),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_init_errors),
        cmocka_unit_test(test_rc),
        cmocka_unit_test(test_dna_shift),
        cmocka_unit_test(test_gain),
        cmocka_unit_test(test_noise),
        cmocka_unit_test(test_speed),
        cmocka_unit_test(test_audio_shift),
        cmocka_unit_test(test_threads),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests_name("augment", tests, NULL, NULL);
}
