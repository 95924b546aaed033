/*
 * augment.c — training-data augmentation (augment.h): the --augment list, and the changes to
 * a filled batch. Each row's parameters are drawn first, serially, from the row's own Rng
 * (seed, step, row); the rows are then changed in parallel, the noise drawn from the same Rng
 * after the parameters, so the bytes do not depend on the thread count.
 *
 * Tested by tests/unit/test_augment.c and tests/cli/augment.tst.
 */
#include "io/augment.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/encode.h"

struct Augment {
    AugmentSpec spec;
    AugmentData data;
    int64_t     shift_samples;  /* audio shift=MS in samples at the data's rate */
    uint64_t    key;            /* the seed, mixed: stream keys of every step derive from it */
    /* buffers that only grow */
    struct RowDraw *draws;      /* (rows_cap) */
    int64_t     rows_cap;
    float      *samples;        /* (cells_cap) resampled rows when speed= is on */
    int64_t     cells_cap;
};

// ---------------------------------------------------------------------------- the list

/* The item's name and value as written, for messages. */
static int item_error(const char *item, size_t len, const char *what) {
    return ls_error(LS_ERR_USAGE, "--augment %.*s: %s", (int)len, item, what);
}

/* Parse the value of name=value in [lo, hi] (lo excluded when open_lo). */
static int parse_value(const char *item, size_t len, const char *value, double lo, int open_lo,
                       double hi, double *out) {
    char text[64];
    size_t n = len - (size_t)(value - item);
    if (n == 0) return item_error(item, len, "give a value after '='");
    if (n >= sizeof text) return item_error(item, len, "value too long");
    memcpy(text, value, n);
    text[n] = '\0';
    char *end = NULL;
    double v = strtod(text, &end);
    if (end == text || *end != '\0') return item_error(item, len, "the value is not a number");
    if (!isfinite(v) || (open_lo ? v <= lo : v < lo) || v > hi) {
        char what[128];
        snprintf(what, sizeof what, "the value must be %s %g and at most %g",
                 open_lo ? "above" : "at least", lo, hi);
        return item_error(item, len, what);
    }
    *out = v;
    return 0;
}

int augment_parse(const char *list, AugmentSpec *spec) {
    *spec = (AugmentSpec){0};
    if (!list || !*list)
        return ls_error(LS_ERR_USAGE, "--augment: give a list, e.g. rc or shift=50,gain=6 "
                        "(or none)");
    if (strcmp(list, "none") == 0) return 0;
    int seen[5] = {0}; /* rc, shift, gain, noise, speed */
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0)
            return ls_error(LS_ERR_USAGE, "--augment %s: an empty item (two commas, or one at "
                            "an end)", list);
        const char *eq = memchr(p, '=', len);
        size_t name_len = eq ? (size_t)(eq - p) : len;
        static const char *const names[5] = {"rc", "shift", "gain", "noise", "speed"};
        int which = -1;
        for (int i = 0; i < 5; i++)
            if (strlen(names[i]) == name_len && strncmp(p, names[i], name_len) == 0) which = i;
        if (which < 0) {
            if (name_len == 4 && strncmp(p, "none", 4) == 0)
                return item_error(p, len, "'none' stands alone (it means no augmentation)");
            return item_error(p, len, "unknown; expected rc, shift=N, gain=DB, noise=SNR or "
                              "speed=PCT");
        }
        if (seen[which]) return item_error(p, len, "given twice");
        seen[which] = 1;
        int status = 0;
        if (which == 0) {
            if (eq) return item_error(p, len, "takes no value (each row is reverse-"
                                      "complemented with probability 1/2)");
            spec->rc = 1;
        } else if (!eq) {
            static const char *const forms[5] = {"", "shift=N (bases, or ms for audio)",
                                                 "gain=DB", "noise=SNR (dB)", "speed=PCT"};
            char what[96];
            snprintf(what, sizeof what, "give a value: %s", forms[which]);
            return item_error(p, len, what);
        } else if (which == 1) {
            status = parse_value(p, len, eq + 1, 0, 1, 1e6, &spec->shift);
        } else if (which == 2) {
            status = parse_value(p, len, eq + 1, 0, 1, 40, &spec->gain_db);
        } else if (which == 3) {
            status = parse_value(p, len, eq + 1, -20, 0, 100, &spec->noise_snr_db);
            spec->noise = 1;
        } else {
            status = parse_value(p, len, eq + 1, 0, 1, 50, &spec->speed_pct);
        }
        if (status < 0) return status;
        if (!comma) break;
        p = comma + 1;
    }
    return 0;
}

int augment_any(const AugmentSpec *s) {
    return s->rc || s->shift > 0 || s->gain_db > 0 || s->noise || s->speed_pct > 0;
}

void augment_describe(const AugmentSpec *s, char *buf, size_t size) {
    if (size == 0) return;
    buf[0] = '\0';
    size_t at = 0;
#define ADD(...)                                                                       \
    do {                                                                               \
        if (at < size) {                                                               \
            int n_ = snprintf(buf + at, size - at, "%s", at ? "," : "");               \
            at += n_ > 0 ? (size_t)n_ : 0;                                             \
        }                                                                              \
        if (at < size) {                                                               \
            int n_ = snprintf(buf + at, size - at, __VA_ARGS__);                       \
            at += n_ > 0 ? (size_t)n_ : 0;                                             \
        }                                                                              \
    } while (0)
    if (s->rc) ADD("rc");
    if (s->speed_pct > 0) ADD("speed=%g", s->speed_pct);
    if (s->shift > 0) ADD("shift=%g", s->shift);
    if (s->gain_db > 0) ADD("gain=%g", s->gain_db);
    if (s->noise) ADD("noise=%g", s->noise_snr_db);
#undef ADD
    if (at == 0) snprintf(buf, size, "none");
}

// ---------------------------------------------------------------------------- the augmenter

int augment_init(Augment **out, const AugmentSpec *spec, const AugmentData *data) {
    *out = NULL;
    const char *dna_only = spec->rc ? "rc" : NULL;
    const char *audio_only = spec->speed_pct > 0 ? "speed"
                             : spec->gain_db > 0 ? "gain"
                             : spec->noise       ? "noise"
                                                 : NULL;
    if (data->kind == EXAMPLE_SYNTH && augment_any(spec))
        return ls_error(LS_ERR_USAGE, "--augment: the data is a synthetic task's tokens; "
                        "augmentation is for DNA and audio waveforms");
    if (data->kind == EXAMPLE_DNA && audio_only)
        return ls_error(LS_ERR_USAGE, "--augment %s: an audio augmentation, but the data is "
                        "DNA (DNA takes rc and shift=N)", audio_only);
    if (data->kind == EXAMPLE_AUDIO && dna_only)
        return ls_error(LS_ERR_USAGE, "--augment rc: reverse complement is for DNA, but the "
                        "data is audio (audio takes speed, shift, gain and noise)");
    if (data->kind == EXAMPLE_AUDIO && !data->waveform && augment_any(spec))
        return ls_error(LS_ERR_USAGE, "--augment: audio augmentation changes the waveform, "
                        "but this run reads 8-bit audio codes (a language model, or --input "
                        "tokens); only --input waveform is augmented");
    if (spec->shift > 0 && data->windows)
        return ls_error(LS_ERR_USAGE, "--augment shift=%g: the training rows are random "
                        "windows (--seq-len), whose offsets are random already", spec->shift);
    if (spec->shift > 0 && data->kind == EXAMPLE_DNA && spec->shift != floor(spec->shift))
        return ls_error(LS_ERR_USAGE, "--augment shift=%g: DNA is shifted by whole bases; give "
                        "an integer", spec->shift);
    if (spec->shift > 0 && data->kind == EXAMPLE_AUDIO && data->sample_rate < 1)
        return ls_error(LS_ERR_INTERNAL, "augment: audio without a sample rate");
    Augment *aug = calloc(1, sizeof *aug);
    if (!aug) return ls_error(LS_ERR_NOMEM, "out of memory");
    aug->spec = *spec;
    aug->data = *data;
    if (data->kind == EXAMPLE_AUDIO)
        aug->shift_samples = (int64_t)llround(spec->shift * 1e-3 * data->sample_rate);
    aug->key = rng_mix64(data->seed ^ 0x61756760a0e1b2c3ULL); /* "aug" salt: not the data order */
    *out = aug;
    return 0;
}

void augment_free(Augment *aug) {
    if (!aug) return;
    free(aug->draws);
    free(aug->samples);
    free(aug);
}

/* One row's parameters, and its generator after drawing them (the noise continues it). */
typedef struct RowDraw {
    Rng     rng;
    int64_t length;      /* the row's length after augmentation */
    int64_t crop_start;  /* DNA: bases dropped at the start; audio speed: first output sample */
    int     reverse;     /* DNA: reverse-complement */
    double  speed;       /* audio: factor f (1: none) */
    int64_t shift;       /* audio: circular shift in samples */
    double  gain;        /* audio: linear factor */
    double  snr_db;      /* audio: NAN for no noise */
} RowDraw;

/* The row generator of (step, row): independent streams for every pair. */
static void row_rng(const Augment *aug, uint64_t step, int64_t row, Rng *rng) {
    rng_seed_stream(rng, aug->key ^ rng_mix64(step + 0x9e3779b97f4a7c15ULL), (uint64_t)row);
}

/* Samples after resampling n by f: the last output j has j·f <= n − 1. */
static int64_t speed_length(int64_t n, double f) {
    if (n <= 1) return n;
    return (int64_t)floor((double)(n - 1) / f) + 1;
}

static void draw_row(const Augment *aug, uint64_t step, int64_t row, int64_t n, RowDraw *d) {
    const AugmentSpec *s = &aug->spec;
    *d = (RowDraw){.length = n, .speed = 1.0, .gain = 1.0, .snr_db = NAN};
    row_rng(aug, step, row, &d->rng);
    if (aug->data.kind == EXAMPLE_DNA) {
        if (s->shift > 0) {
            int64_t most = n > 0 ? n - 1 : 0;
            if ((int64_t)s->shift < most) most = (int64_t)s->shift;
            int64_t k = (int64_t)rng_below(&d->rng, (uint64_t)most + 1);
            d->crop_start = (int64_t)rng_below(&d->rng, (uint64_t)k + 1);
            d->length = n - k;
        }
        if (s->rc) d->reverse = (int)(rng_next(&d->rng) >> 63);
        return;
    }
    if (s->speed_pct > 0) {
        d->speed = 1.0 + s->speed_pct / 100.0 * (2.0 * rng_uniform(&d->rng) - 1.0);
        d->length = speed_length(n, d->speed);
        int64_t max = aug->data.max_length;
        if (max > 0 && d->length > max) { // keep the centre
            d->crop_start = (d->length - max) / 2;
            d->length = max;
        }
    }
    if (aug->shift_samples > 0) {
        uint64_t span = 2 * (uint64_t)aug->shift_samples + 1;
        d->shift = (int64_t)rng_below(&d->rng, span) - aug->shift_samples;
    }
    if (s->gain_db > 0)
        d->gain = pow(10.0, s->gain_db * (2.0 * rng_uniform(&d->rng) - 1.0) / 20.0);
    if (s->noise) d->snr_db = s->noise_snr_db + AUGMENT_NOISE_SPAN_DB * rng_uniform(&d->rng);
}

/* Reverse x[0..n) in place. */
static void reverse_floats(float *x, int64_t n) {
    for (int64_t i = 0, j = n - 1; i < j; i++, j--) {
        float t = x[i];
        x[i] = x[j];
        x[j] = t;
    }
}

/* y[t] = x[(t − s) mod n] in place, by three reversals (no scratch). */
static void rotate_right(float *x, int64_t n, int64_t s) {
    if (n <= 1) return;
    s %= n;
    if (s < 0) s += n;
    if (s == 0) return;
    reverse_floats(x, n);
    reverse_floats(x, s);
    reverse_floats(x + s, n - s);
}

/* y[j] = x((j + start)·f) for j in [0, m), linearly interpolated; y past m is zero to L. */
static void resample_row(float *y, int64_t m, int64_t L, const float *x, int64_t n, double f,
                         int64_t start) {
    for (int64_t j = 0; j < m; j++) {
        double t = (double)(j + start) * f;
        int64_t i = (int64_t)t;
        if (i >= n - 1) {
            y[j] = n > 0 ? x[n - 1] : 0.0f;
            continue;
        }
        double frac = t - (double)i;
        y[j] = (float)((1.0 - frac) * x[i] + frac * x[i + 1]);
    }
    memset(y + m, 0, (size_t)(L - m) * sizeof *y);
}

/* Gaussian white noise at snr_db below the row's mean square: Marsaglia's polar method (no
 * trigonometry; a pair of normals per accepted point of the unit disc, π/4 of the draws),
 * each point from one 64-bit draw (two 32-bit coordinates), in float. Box–Muller in double
 * cost 47 ns a sample, most of a batch's augmentation. */
static void add_noise(float *x, int64_t n, double snr_db, Rng *rng) {
    if (n < 1 || isnan(snr_db)) return;
    double power = 0;
    for (int64_t t = 0; t < n; t++) power += (double)x[t] * x[t];
    power /= (double)n;
    if (!(power > 0)) return;
    const float sigma = (float)sqrt(power / pow(10.0, snr_db / 10.0));
    const float unit = 0x1.0p-31f; // 32-bit integer -> [-1, 1)
    for (int64_t t = 0; t < n; t += 2) {
        float u, v, q;
        do {
            uint64_t bits = rng_next(rng);
            u = (float)(int32_t)(uint32_t)bits * unit;
            v = (float)(int32_t)(uint32_t)(bits >> 32) * unit;
            q = u * u + v * v;
        } while (q >= 1.0f || q == 0.0f);
        float f = sigma * sqrtf(-2.0f * logf(q) / q);
        x[t] += u * f;
        if (t + 1 < n) x[t + 1] += v * f;
    }
}

int augment_batch(Augment *aug, Batch *b, uint64_t step) {
    if (!augment_any(&aug->spec) || b->B < 1) return 0;
    const int64_t B = b->B;
    if (B > aug->rows_cap) {
        RowDraw *d = realloc(aug->draws, (size_t)B * sizeof *d);
        if (!d) return ls_error(LS_ERR_NOMEM, "augment: out of memory for %lld rows",
                                (long long)B);
        aug->draws = d;
        aug->rows_cap = B;
    }
    RowDraw *draws = aug->draws;
    for (int64_t r = 0; r < B; r++) draw_row(aug, step, r, b->lengths[r], &draws[r]);

    if (aug->data.kind == EXAMPLE_DNA) {
        const int64_t L = b->L;
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < B; r++) {
            uint8_t *row = b->tokens + r * L; // (L)
            const RowDraw *d = &draws[r];
            if (d->crop_start > 0) memmove(row, row + d->crop_start, (size_t)d->length);
            if (d->length < b->lengths[r])
                memset(row + d->length, DNA_N, (size_t)(b->lengths[r] - d->length));
            if (d->reverse) dna_reverse_complement(row, row, d->length);
        }
        for (int64_t r = 0; r < B; r++) b->lengths[r] = draws[r].length;
        return 0;
    }

    /* audio: resample into the augmenter's buffer when the speed changes, else in place */
    float *rows = b->samples;
    int64_t L = b->L;
    if (aug->spec.speed_pct > 0) {
        int64_t L_new = 0;
        for (int64_t r = 0; r < B; r++)
            if (draws[r].length > L_new) L_new = draws[r].length;
        if (L_new < 1) L_new = 1;
        if (B * L_new > aug->cells_cap) {
            float *s = realloc(aug->samples, (size_t)(B * L_new) * sizeof *s);
            if (!s) return ls_error(LS_ERR_NOMEM, "augment: out of memory for %lld samples",
                                    (long long)(B * L_new));
            aug->samples = s;
            aug->cells_cap = B * L_new;
        }
        const float *src = b->samples;
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < B; r++)
            resample_row(aug->samples + r * L_new, draws[r].length, L_new, src + r * L,
                         b->lengths[r], draws[r].speed, draws[r].crop_start);
        rows = aug->samples;
        L = L_new;
    }
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < B; r++) {
        RowDraw *d = &draws[r];
        float *x = rows + r * L; // (L)
        rotate_right(x, d->length, d->shift);
        if (d->gain != 1.0)
            for (int64_t t = 0; t < d->length; t++) x[t] = (float)(x[t] * d->gain);
        add_noise(x, d->length, d->snr_db, &d->rng);
    }
    b->samples = rows;
    b->L = L;
    for (int64_t r = 0; r < B; r++) b->lengths[r] = draws[r].length;
    return 0;
}
