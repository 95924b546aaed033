/*
 * audio.h — audio in and out through libsndfile (WAV, FLAC, OGG/Vorbis, AIFF, … anything it
 * reads), resampling through libsamplerate.
 *
 * Samples are float in [-1, 1]. Mix-down rule: a multi-channel file becomes mono by the plain
 * mean of its channels, frame by frame (no panning law, no normalisation), so a stereo file
 * with identical channels yields exactly that channel.
 * Resampling rule: only when a target rate is asked for and differs from the file's; done once
 * over the whole mono signal with libsamplerate's SRC_SINC_MEDIUM_QUALITY converter (band-limited
 * sinc, ~121 dB SNR), output length round(n · to / from).
 *
 * A file with zero frames, a corrupt header or a format libsndfile cannot read is an error
 * naming the file and libsndfile's reason.
 */
#ifndef LS_AUDIO_H
#define LS_AUDIO_H

#include <stdint.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int64_t frames;          /* frames in the file (samples per channel) */
    int     sample_rate;     /* Hz */
    int     channels;
    char    format[32];      /* container: "WAV", "FLAC", "OGG", … (libsndfile's name) */
    char    subtype[32];     /* encoding: "PCM_16", "PCM_24", "FLOAT", "VORBIS", … */
} AudioInfo;

typedef struct AudioReader AudioReader;

/**
 * Open @p path ("-" for stdin) for streaming reads.
 * @return 0 and *out; LS_ERR_IO (missing, directory, unreadable), LS_ERR_FORMAT (corrupt or
 *         unsupported, zero frames). Free with audio_reader_close().
 */
int audio_reader_open(AudioReader **out, const char *path) LS_RESULT_USED;

const AudioInfo *audio_reader_info(const AudioReader *reader);

/**
 * Read up to @p max_frames frames, mixed down to mono, into @p dst.
 * @return frames read (0 at end of file), or < -1 on a decode error (message names the file
 *         and the frame where decoding failed).
 */
int64_t audio_reader_read_mono(AudioReader *reader, float *dst, int64_t max_frames) LS_RESULT_USED;

/** Like audio_reader_read_mono() but interleaved, channels × frames floats. */
int64_t audio_reader_read_interleaved(AudioReader *reader, float *dst,
                                      int64_t max_frames) LS_RESULT_USED;

/** Close; NULL is a no-op. */
void audio_reader_close(AudioReader *reader);

/**
 * Read a whole file as mono (mix-down rule above), resampled to @p target_rate when it is
 * > 0 and differs from the file's rate.
 * @param info  may be NULL; otherwise receives the file's own (pre-resampling) description.
 * @return 0 and *samples (malloc'd, free()), *n samples; or an LS_ERR_* code.
 */
int audio_load_mono(const char *path, int target_rate, float **samples, int64_t *n,
                    AudioInfo *info) LS_RESULT_USED;

/**
 * Resample mono @p in (n samples at @p from_rate) to @p to_rate.
 * @return 0 and *out (malloc'd, free()), *n_out samples; or LS_ERR_RANGE / LS_ERR_NOMEM.
 */
int audio_resample(const float *in, int64_t n, int from_rate, int to_rate, float **out,
                   int64_t *n_out) LS_RESULT_USED;

typedef enum {
    AUDIO_WRITE_WAV_PCM16 = 0,
    AUDIO_WRITE_WAV_FLOAT,
    AUDIO_WRITE_FLAC_PCM16,
} AudioWriteFormat;

/**
 * Choose the write format from a file name: ".wav" → WAV PCM16, ".flac" → FLAC PCM16.
 * @return 0, or LS_ERR_UNSUPPORTED naming the extension.
 */
int audio_write_format_from_path(const char *path, AudioWriteFormat *format) LS_RESULT_USED;

/**
 * Write interleaved float samples to @p path: written to "<path>.tmp", flushed and renamed,
 * so an existing file is replaced only by a complete one and a failure leaves nothing.
 * @return 0 or LS_ERR_IO / LS_ERR_RANGE (message names the file).
 */
int audio_write(const char *path, const float *samples, int64_t frames, int channels,
                int sample_rate, AudioWriteFormat format) LS_RESULT_USED;

#ifdef __cplusplus
}
#endif
#endif
