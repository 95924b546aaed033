/*
 * bench_audio.c — timing program (not a test): audio decode + mono mix-down throughput, the
 * same through libsndfile's own float conversion for comparison, µ-law encoding and
 * resampling. Best of N repeats (files come from the page cache after the first).
 *
 *   build/tests/helpers/bench_audio [-r REPEATS] FILE...
 *
 * "M samples/s" counts input samples (frames × channels) per second of wall time.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sndfile.h>

#include "io/audio.h"
#include "io/encode.h"

static volatile double bench_sink;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Streaming read through the AudioReader into a reused 64 K-frame buffer. */
static double time_reader(const char *path, int64_t *samples) {
    static float buf[1 << 16];
    AudioReader *r;
    double t0 = now();
    if (audio_reader_open(&r, path)) return -1;
    int64_t frames = 0, got;
    while ((got = audio_reader_read_mono(r, buf, 1 << 16)) > 0) frames += got;
    *samples = frames * audio_reader_info(r)->channels;
    audio_reader_close(r);
    return got < 0 ? -1 : now() - t0;
}

/* audio_load_mono: the whole file into one malloc'd array. */
static double time_load(const char *path, int64_t *samples) {
    float *x;
    int64_t n;
    AudioInfo info;
    double t0 = now();
    if (audio_load_mono(path, 0, &x, &n, &info)) return -1;
    double t = now() - t0;
    *samples = n * info.channels;
    free(x);
    return t;
}

/* libsndfile's sf_readf_float (its own short → float conversion) + the same mean. */
static double time_sf_float(const char *path, int64_t *samples) {
    static float buf[1 << 16], mono[1 << 16];
    SF_INFO si = {0};
    double t0 = now();
    SNDFILE *sf = sf_open(path, SFM_READ, &si);
    if (!sf) return -1;
    int64_t per = (1 << 16) / si.channels, got, total = 0;
    while ((got = sf_readf_float(sf, buf, per)) > 0) {
        for (int64_t i = 0; i < got; i++) {
            float s = 0;
            for (int c = 0; c < si.channels; c++) s += buf[i * si.channels + c];
            mono[i] = s / si.channels;
        }
        bench_sink += mono[got - 1]; /* keep the mean from being optimised out */
        total += got;
    }
    sf_close(sf);
    *samples = total * si.channels;
    return now() - t0;
}

typedef double (*TimeFn)(const char *, int64_t *);

static void bench_file(const char *path, int repeats) {
    const struct { const char *name; TimeFn fn; } ways[] = {
        {"reader (read_mono, 64K buffer)", time_reader},
        {"audio_load_mono (whole file)", time_load},
        {"sf_readf_float + mean (libsndfile conversion)", time_sf_float},
    };
    for (size_t w = 0; w < sizeof ways / sizeof *ways; w++) {
        double best = 1e30;
        int64_t samples = 0;
        for (int k = 0; k < repeats; k++) {
            double t = ways[w].fn(path, &samples);
            if (t < 0) {
                fprintf(stderr, "bench_audio: %s: %s\n", path, ls_error_message());
                return;
            }
            if (t < best) best = t;
        }
        printf("%-48s %-44s %10lld samples %8.1f M samples/s\n", path, ways[w].name,
               (long long)samples, samples / best / 1e6);
    }
}

static void bench_mulaw(int repeats) {
    enum { N = 1 << 24 };
    float *x = malloc(N * sizeof(float));
    uint8_t *c = malloc(N);
    if (!x || !c) return;
    uint64_t s = 1;
    for (int i = 0; i < N; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((int16_t)(s >> 48)) / 32768.0f * 0.5f; /* speech-like range */
    }
    double best_a = 1e30, best_s = 1e30;
    for (int k = 0; k < repeats; k++) {
        double t0 = now();
        mulaw_encode_array(c, x, N);
        double t1 = now();
        for (int i = 0; i < N / 16; i++) c[i] = mulaw_encode(x[i]);
        double t2 = now();
        if (t1 - t0 < best_a) best_a = t1 - t0;
        if ((t2 - t1) * 16 < best_s) best_s = (t2 - t1) * 16;
    }
    printf("mulaw_encode_array: %.1f M samples/s; scalar mulaw_encode (log per sample): "
           "%.1f M samples/s\n", N / best_a / 1e6, N / best_s / 1e6);
    float *y = malloc(N * sizeof(float));
    if (y) {
        double best_d = 1e30;
        for (int k = 0; k < repeats; k++) {
            double t0 = now();
            mulaw_decode_array(y, c, N);
            if (now() - t0 < best_d) best_d = now() - t0;
        }
        printf("mulaw_decode_array: %.1f M samples/s\n", N / best_d / 1e6);
        free(y);
    }
    double best_r = 1e30;
    int64_t n_out = 0;
    for (int k = 0; k < repeats; k++) {
        float *out;
        double t0 = now();
        if (audio_resample(x, 44100 * 60, 44100, 16000, &out, &n_out)) break;
        double t = now() - t0;
        free(out);
        if (t < best_r) best_r = t;
    }
    printf("audio_resample 44.1 kHz → 16 kHz, 60 s mono: %.3f s (%.1f M input samples/s)\n",
           best_r, 44100 * 60 / best_r / 1e6);
    free(c);
    free(x);
}

int main(int argc, char **argv) {
    int repeats = 5, first = 1;
    if (argc > 2 && strcmp(argv[1], "-r") == 0) {
        repeats = atoi(argv[2]);
        first = 3;
    }
    for (int i = first; i < argc; i++) bench_file(argv[i], repeats);
    bench_mulaw(repeats);
    return 0;
}
