/*
 * fuzz_audio.c — libFuzzer target for the audio reader: bytes → libsndfile virtual I/O
 * (audio_reader_open_memory) → every frame read, alternating mono and interleaved reads,
 * then the first samples through the resampler and the µ-law encoder. Any crash, leak or
 * sanitizer report is a bug; error returns are the expected outcome for most inputs.
 *
 *   make fuzz && build-fuzz/fuzz/fuzz_audio -max_total_time=60 tests/fuzz/corpus/audio
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/error.h"
#include "io/audio.h"
#include "io/encode.h"

/* libsndfile leaks the vorbis_info of a malformed OGG/Vorbis header (its bug, see
 * tests/unit/test_audio.c); do not let it hide our own leaks behind it. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:vorbis_info_init\n"; }
const char *__lsan_default_options(void);
const char *__lsan_default_options(void) { return "print_suppressions=0"; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    enum { BUF = 8192, MAX_FRAMES = 1 << 22 };
    static float buf[BUF], first[BUF];
    static uint8_t codes[BUF];
    AudioReader *r = NULL;
    if (audio_reader_open_memory(&r, "fuzz", data, size) != 0) {
        ls_error_clear();
        return 0;
    }
    const AudioInfo *info = audio_reader_info(r);
    int64_t total = 0, n_first = 0, per = BUF / info->channels;
    for (int turn = 0; total < MAX_FRAMES; turn++) {
        int mono = turn % 2 == 0;
        int64_t got = mono ? audio_reader_read_mono(r, buf, BUF)
                           : audio_reader_read_interleaved(r, buf, per > 0 ? per : 1);
        if (got <= 0) break;
        if (mono && n_first == 0) {
            n_first = got;
            for (int64_t i = 0; i < got; i++) first[i] = buf[i];
        }
        total += got;
    }
    if (n_first > 0) {
        float *out = NULL;
        int64_t n_out = 0;
        if (audio_resample(first, n_first, info->sample_rate, 16000, &out, &n_out) == 0) {
            mulaw_encode_array(codes, out, n_out < BUF ? n_out : BUF);
            free(out);
        }
    }
    audio_reader_close(r);
    ls_error_clear();
    return 0;
}
