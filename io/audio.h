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
 * naming the file and libsndfile's reason. A truncated file (the header declares more frames
 * than the data holds: WAV/AIFF data chunk longer than the file, FLAC stopping short of its
 * STREAMINFO count, OGG without its end-of-stream page) reads normally up to the frame where
 * the data ends, and there the read fails with an error naming that frame.
 *
 * Scaling: integer PCM is read as s / 2^(bits-1) (libsndfile's normalisation), so PCM16 gives
 * s / 32768 in [-1, 1 - 2^-15]; float files are passed through unchanged (not clipped).
 *
 * stdin ("-"): a regular file redirected to stdin is read in place; a pipe (or any other
 * unseekable input, e.g. /dev/fd/N) is first read whole into memory, then decoded, so every
 * format works from a pipe, at the cost of holding the encoded bytes in memory. A WAV
 * streamed with a placeholder data size (0xFFFFFFFF, as ffmpeg writes to a pipe) reads to the
 * end of the input; one with data size 0 reads as zero frames (an error).
 */
#ifndef LS_AUDIO_H
#define LS_AUDIO_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "io/detect.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int64_t frames;          /* frames in the file (samples per channel); -1 if the header
                                does not say (an OGG stream without end) */
    int     sample_rate;     /* Hz */
    int     channels;
    char    format[32];      /* container: "WAV", "FLAC", "OGG", "AIFF", … (the SF_FORMAT_*
                                names, as Python's soundfile prints them) */
    char    subtype[32];     /* encoding: "PCM_16", "PCM_24", "FLOAT", "VORBIS", … */
} AudioInfo;

typedef struct AudioReader AudioReader;

/**
 * Open @p path ("-" for stdin) for streaming reads.
 * @return 0 and *out; LS_ERR_IO (missing, directory, unreadable), LS_ERR_FORMAT (empty file,
 *         corrupt or unsupported, zero frames), LS_ERR_NOMEM. Messages read
 *         "<path>: <what>[: <libsndfile's reason>]" ("<stdin>" for "-").
 *         Free with audio_reader_close().
 */
int audio_reader_open(AudioReader **out, const char *path) LS_RESULT_USED;

/**
 * Like audio_reader_open() on an input opened by input_open(): a stream's handle is taken
 * over and read whole into memory (its peeked bytes included), so a pipe or FIFO is read
 * exactly once; a regular file is opened by its path. @p in stays the caller's.
 * Errors as audio_reader_open(), and LS_ERR_USAGE when the stream was taken already.
 */
int audio_reader_open_input(AudioReader **out, InputFile *in) LS_RESULT_USED;

/**
 * Open an audio file held in memory (@p size bytes at @p data), decoded through libsndfile's
 * virtual I/O. @p name is used in messages only (NULL: "<memory>"). @p data is not copied and
 * must stay valid until audio_reader_close(). Errors as audio_reader_open().
 */
int audio_reader_open_memory(AudioReader **out, const char *name, const void *data,
                             size_t size) LS_RESULT_USED;

const AudioInfo *audio_reader_info(const AudioReader *reader);

/**
 * Read up to @p max_frames frames, mixed down to mono, into @p dst.
 * @return frames read (0 at end of file; fewer than @p max_frames only at the end), or < -1
 *         on a decode error or truncation (LS_ERR_FORMAT; the message names the file and the
 *         frame where decoding failed), or when the file turns out to hold no frames at all.
 *         Frames decoded before a failure are returned first; the error comes with the next
 *         call, and every later call repeats it.
 */
int64_t audio_reader_read_mono(AudioReader *reader, float *dst, int64_t max_frames) LS_RESULT_USED;

/** Like audio_reader_read_mono() but interleaved, channels × frames floats. */
int64_t audio_reader_read_interleaved(AudioReader *reader, float *dst,
                                      int64_t max_frames) LS_RESULT_USED;

/** Close and free; NULL is a no-op. */
void audio_reader_close(AudioReader *reader);

/**
 * Read a whole file as mono (mix-down rule above), resampled to @p target_rate when it is
 * > 0 and differs from the file's rate.
 * @param target_rate  0: keep the file's rate; 1..1000000 Hz; anything else LS_ERR_RANGE (as
 *                     is a ratio beyond libsamplerate's 1/256..256).
 * @param info  may be NULL; otherwise receives the file's own (pre-resampling) description,
 *              with frames = the frames actually read.
 * @return 0 and *samples (malloc'd, free()), *n samples; or an LS_ERR_* code (a truncated
 *         file is an error, see above).
 */
int audio_load_mono(const char *path, int target_rate, float **samples, int64_t *n,
                    AudioInfo *info) LS_RESULT_USED;

/** audio_load_mono() of an input opened by input_open() (see audio_reader_open_input()). */
int audio_load_mono_input(InputFile *in, int target_rate, float **samples, int64_t *n,
                          AudioInfo *info) LS_RESULT_USED;

/**
 * Resample mono @p in (n samples at @p from_rate) to @p to_rate: exactly round(n·to/from)
 * samples (ties up), time-aligned with the input (sample k sits at time k/to_rate). The
 * signal is taken as silent outside [0, n), so a few samples at each end feel the edge.
 * Equal rates copy. Rates must be 1..1000000 Hz and their ratio within 1/256..256.
 * @return 0 and *out (malloc'd, free(); non-NULL even for 0 samples), *n_out samples; or
 *         LS_ERR_RANGE / LS_ERR_NOMEM.
 */
int audio_resample(const float *in, int64_t n, int from_rate, int to_rate, float **out,
                   int64_t *n_out) LS_RESULT_USED;

typedef enum {
    AUDIO_WRITE_WAV_PCM16 = 0,
    AUDIO_WRITE_WAV_FLOAT,
    AUDIO_WRITE_FLAC_PCM16,
} AudioWriteFormat;

/**
 * Choose the write format from a file name: ".wav" → WAV PCM16, ".flac" → FLAC PCM16 (either
 * case). WAV float is only ever asked for explicitly.
 * @return 0, or LS_ERR_UNSUPPORTED naming the extension.
 */
int audio_write_format_from_path(const char *path, AudioWriteFormat *format) LS_RESULT_USED;

/**
 * Write interleaved float samples (@p frames × @p channels) to @p path: written to a unique
 * temporary in its folder (common/atomic_file.h), closed, fsync'ed and renamed over @p path,
 * so an existing file is replaced only by a complete one and no other file is touched; on
 * failure the temporary is removed and @p path is untouched.
 * PCM16 (WAV and FLAC): s = round(x · 32768) clipped to [-32768, 32767], NaN → 0 — the exact
 * inverse of the reader, so read → write → read is lossless. WAV float stores x unchanged.
 * Writing to stdout ("-") is not supported (LS_ERR_UNSUPPORTED).
 * @return 0 or LS_ERR_IO / LS_ERR_RANGE (frames < 1, channels outside 1..1024, rate outside
 *         1..1000000 Hz or refused by the format) / LS_ERR_NOMEM; the message names the file.
 */
int audio_write(const char *path, const float *samples, int64_t frames, int channels,
                int sample_rate, AudioWriteFormat format) LS_RESULT_USED;


/**
 * An audio file written block by block (generation writes as it goes, in constant memory),
 * with audio_write()'s rules: PCM16 rounding and clipping, a unique temporary in the target's
 * folder, renamed over @p path only by audio_writer_commit(). Several writers may be open at
 * once, so a set of files can be written side by side and committed together.
 */
typedef struct AudioWriter AudioWriter;

/**
 * Create the temporary for @p path and start a file of @p channels at @p sample_rate.
 * @return 0 and *out; the audio_write() errors (LS_ERR_IO, LS_ERR_RANGE, LS_ERR_UNSUPPORTED
 *         for "-", LS_ERR_NOMEM), *out NULL. Finish with audio_writer_commit() or
 *         audio_writer_abort().
 */
int audio_writer_open(AudioWriter **out, const char *path, int channels, int sample_rate,
                      AudioWriteFormat format) LS_RESULT_USED;

/** Append @p frames interleaved frames. @return 0 or LS_ERR_IO naming the file. */
int audio_writer_write(AudioWriter *w, const float *samples, int64_t frames) LS_RESULT_USED;

/**
 * Close the file, fsync it and rename it over its path; frees @p w either way.
 * @return 0; LS_ERR_RANGE when no frame was written (nothing renamed); LS_ERR_IO.
 */
int audio_writer_commit(AudioWriter *w) LS_RESULT_USED;

/** Remove the temporary (the target stays untouched) and free; NULL is a no-op. */
void audio_writer_abort(AudioWriter *w);

#ifdef __cplusplus
}
#endif
#endif
