/*
 * spectrogram.c — the short-time power spectrum of an audio file as text for gnuplot, for
 * the spectrogram PNG of examples/fsdd-lm (generated audio): one line "time_s freq_hz dB"
 * per frame and frequency bin, frames separated by a blank line (gnuplot's grid layout for
 * `plot ... with image`).
 *
 *   build/tools/spectrogram [--window N] [--hop N] AUDIO > spec.dat
 *
 * The file is read by io/audio.c (any format libsndfile reads, mixed down to mono, at its own
 * rate). Frame k covers samples [k·hop, k·hop + window) (frames past the end are not taken;
 * a file shorter than one window is an error), weighted by a periodic Hann window; bin j
 * (0 … window/2) is the DFT at j·rate/window Hz, computed directly in double precision
 * (O(window²) per frame: ~16 M multiply-adds for 5 s at 8 kHz, no FFT needed). Level:
 * 20·log10(|X_j| / Σw + 1e-10) dB, so a full-scale sine centred on a bin reads about −6 dB.
 * Tested by tests/cli/test_examples.sh (a 1 kHz sine peaks in the 1 kHz bin).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/audio.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static int usage(FILE *fp, int status) {
    fprintf(fp, "Usage: spectrogram [--window N] [--hop N] AUDIO > spec.dat\n"
                "Short-time power spectrum (Hann window, default 256 samples, hop 128) as\n"
                "'time_s freq_hz dB' lines, frames separated by blank lines (gnuplot).\n");
    return status;
}

static int parse_size(const char *flag, const char *arg, long *out) {
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || *end || v < 2 || v > 65536) {
        fprintf(stderr, "spectrogram: %s '%s': expected an integer in 2..65536\n", flag, arg);
        return -1;
    }
    *out = v;
    return 0;
}

int main(int argc, char **argv) {
    long window = 256, hop = 128;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return usage(stdout, 0);
        if (i + 1 >= argc) return usage(stderr, 2);
        if (!strcmp(argv[i], "--window")) {
            if (parse_size("--window", argv[++i], &window)) return 2;
        } else if (!strcmp(argv[i], "--hop")) {
            if (parse_size("--hop", argv[++i], &hop)) return 2;
        } else {
            return usage(stderr, 2);
        }
    }
    if (i != argc - 1) return usage(stderr, 2);
    const char *path = argv[i];

    int status = 1;
    float *x = NULL;
    double *w = NULL, *cos_t = NULL, *sin_t = NULL;
    int64_t n = 0;
    AudioInfo info;
    if (audio_load_mono(path, 0, &x, &n, &info)) {
        fprintf(stderr, "spectrogram: %s\n", ls_error_message());
        goto fail;
    }
    if (n < window) {
        fprintf(stderr, "spectrogram: %s: %lld samples, shorter than one window of %ld\n", path,
                (long long)n, window);
        goto fail;
    }
    w = malloc((size_t)window * sizeof *w);
    cos_t = malloc((size_t)window * sizeof *cos_t);
    sin_t = malloc((size_t)window * sizeof *sin_t);
    if (!w || !cos_t || !sin_t) {
        fprintf(stderr, "spectrogram: out of memory\n");
        goto fail;
    }
    double w_sum = 0;
    for (long t = 0; t < window; t++) {
        w[t] = 0.5 - 0.5 * cos(2 * M_PI * (double)t / (double)window); // periodic Hann
        w_sum += w[t];
        cos_t[t] = cos(2 * M_PI * (double)t / (double)window);
        sin_t[t] = sin(2 * M_PI * (double)t / (double)window);
    }
    const double rate = info.sample_rate;
    for (int64_t start = 0; start + window <= n; start += hop) {
        for (long j = 0; j <= window / 2; j++) {
            double re = 0, im = 0;
            for (long t = 0; t < window; t++) {
                long k = (long)(((int64_t)j * t) % window); // twiddle index of j·t
                double v = w[t] * (double)x[start + t];
                re += v * cos_t[k];
                im -= v * sin_t[k];
            }
            double db = 20 * log10(sqrt(re * re + im * im) / w_sum + 1e-10);
            printf("%.6f %.3f %.2f\n", ((double)start + window / 2.0) / rate,
                   (double)j * rate / (double)window, db);
        }
        printf("\n");
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "spectrogram: writing the output failed\n");
        goto fail;
    }
    status = 0;
fail:
    free(x);
    free(w);
    free(cos_t);
    free(sin_t);
    return status;
}
