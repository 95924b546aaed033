/*
 * audio_fixture.c — test helper: write a short audio file with libsndfile, for the CLI tables
 * (tests/cli/make_bad_inputs.sh) where sox cannot write the format (MP3) or the content (NaN).
 *
 *   audio_fixture KIND OUT [RATE [FRAMES]]
 *
 * KIND: mp3 (MPEG layer III, as libsndfile writes it: frames from byte 0, an ID3v1 tag at
 * the end), mp3-id3 (the same behind an ID3v2 tag, as taggers write it), ogg (Vorbis, as
 * libsndfile writes it), wav-nan / wav-inf (32-bit float WAV whose frame FRAMES/2 is NaN /
 * +Inf), double-inf (64-bit float WAV, frame FRAMES/2 is -Inf). The signal is a 440 Hz sine
 * at half scale, mono; RATE defaults to 8000 Hz, FRAMES to RATE/4.
 */
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Put an ID3v2.3 tag (one TIT2 title frame) in front of the file, as taggers do
 * (libsndfile itself writes only an ID3v1 tag, at the end). */
static int prepend_id3v2(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 1;
    static unsigned char body[1 << 20];
    size_t n = fread(body, 1, sizeof body, f);
    fclose(f);
    static const char title[] = "longscan test tone";
    unsigned char frame[10 + 1 + sizeof title - 1] = {'T', 'I', 'T', '2', 0, 0, 0,
                                                     (unsigned char)(1 + sizeof title - 1)};
    memcpy(frame + 11, title, sizeof title - 1); /* frame[10] = 0: ISO-8859-1 text */
    size_t tag = sizeof frame; /* < 128: one syncsafe byte */
    unsigned char head[10] = {'I', 'D', '3', 3, 0, 0, 0, 0, 0, (unsigned char)tag};
    f = fopen(path, "wb");
    if (!f) return 1;
    int ok = fwrite(head, 1, 10, f) == 10 && fwrite(frame, 1, tag, f) == tag &&
             fwrite(body, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 5) {
        fprintf(stderr, "usage: audio_fixture mp3|mp3-id3|ogg|wav-nan|wav-inf|double-inf OUT "
                        "[RATE [FRAMES]]\n");
        return 2;
    }
    const char *kind = argv[1], *out = argv[2];
    int rate = argc > 3 ? atoi(argv[3]) : 8000;
    long frames = argc > 4 ? atol(argv[4]) : rate / 4;
    if (rate <= 0 || frames <= 0) return 2;
    SF_INFO si = {.samplerate = rate, .channels = 1};
    if (strncmp(kind, "mp3", 3) == 0) si.format = SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III;
    else if (strcmp(kind, "ogg") == 0) si.format = SF_FORMAT_OGG | SF_FORMAT_VORBIS;
    else if (strcmp(kind, "double-inf") == 0) si.format = SF_FORMAT_WAV | SF_FORMAT_DOUBLE;
    else if (strncmp(kind, "wav-", 4) == 0) si.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
    else {
        fprintf(stderr, "audio_fixture: unknown kind '%s'\n", kind);
        return 2;
    }
    double *x = malloc((size_t)frames * sizeof *x);
    if (!x) return 1;
    for (long i = 0; i < frames; i++) x[i] = 0.5 * sin(2 * M_PI * 440.0 * (double)i / rate);
    if (strcmp(kind, "wav-nan") == 0) x[frames / 2] = NAN;
    if (strcmp(kind, "wav-inf") == 0) x[frames / 2] = INFINITY;
    if (strcmp(kind, "double-inf") == 0) x[frames / 2] = -INFINITY;
    SNDFILE *sf = sf_open(out, SFM_WRITE, &si);
    if (!sf) {
        fprintf(stderr, "audio_fixture: %s: %s\n", out, sf_strerror(NULL));
        free(x);
        return 1;
    }
    sf_count_t wrote = sf_writef_double(sf, x, frames);
    int closed = sf_close(sf);
    free(x);
    if (wrote != frames || closed != 0) {
        fprintf(stderr, "audio_fixture: %s: write failed\n", out);
        return 1;
    }
    return strcmp(kind, "mp3-id3") == 0 ? prepend_id3v2(out) : 0;
}
