/*
 * audio_ngram_floor.c — measurement helper (not a test): the unigram and bigram (order-1)
 * floors, in bits per sample, of 8-bit µ-law codes from longscan's own reader and encoder,
 * with the rules of shared/data/audio/fsdd/README.md: add-0.5 smoothing over 256 symbols,
 * counts over train files (pairs inside a file), the first sample of each test file scored
 * with the unigram. Reproducing the README's numbers shows our µ-law codes are the ones the
 * floors were computed on.
 *
 *   build/tests/helpers/audio_ngram_floor TRAIN.wav ... -- TEST.wav ...
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/audio.h"
#include "io/encode.h"

static int64_t uni[256], bi[256][256], bi_row[256], n_uni;

static int load_codes(const char *path, uint8_t **codes, int64_t *n) {
    float *x = NULL;
    int err = audio_load_mono(path, 0, &x, n, NULL);
    if (err) {
        fprintf(stderr, "audio_ngram_floor: %s\n", ls_error_message());
        return err;
    }
    *codes = malloc((size_t)*n);
    if (!*codes) {
        free(x);
        return LS_ERR_NOMEM;
    }
    mulaw_encode_array(*codes, x, *n);
    free(x);
    return 0;
}

int main(int argc, char **argv) {
    int split = 1;
    while (split < argc && strcmp(argv[split], "--") != 0) split++;
    if (split >= argc - 1 || split == 1) {
        fprintf(stderr, "usage: audio_ngram_floor TRAIN... -- TEST...\n");
        return 1;
    }
    for (int i = 1; i < split; i++) {
        uint8_t *c;
        int64_t n;
        if (load_codes(argv[i], &c, &n)) return 1;
        for (int64_t t = 0; t < n; t++) {
            uni[c[t]]++;
            if (t) {
                bi[c[t - 1]][c[t]]++;
                bi_row[c[t - 1]]++;
            }
        }
        n_uni += n;
        free(c);
    }
    double bits_uni = 0, bits_bi = 0;
    int64_t n_test = 0;
    for (int i = split + 1; i < argc; i++) {
        uint8_t *c;
        int64_t n;
        if (load_codes(argv[i], &c, &n)) return 1;
        for (int64_t t = 0; t < n; t++) {
            double pu = (uni[c[t]] + 0.5) / (n_uni + 128.0);
            bits_uni -= log2(pu);
            if (t == 0) bits_bi -= log2(pu);
            else bits_bi -= log2((bi[c[t - 1]][c[t]] + 0.5) / (bi_row[c[t - 1]] + 128.0));
        }
        n_test += n;
        free(c);
    }
    printf("test_samples\t%lld\nunigram\t%.4f\nbigram\t%.4f\n", (long long)n_test,
           bits_uni / n_test, bits_bi / n_test);
    return 0;
}
