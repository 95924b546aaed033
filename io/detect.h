/*
 * detect.h — opening an input once and deciding what kind it holds (sequences, audio or a
 * checkpoint) from its first bytes, so commands and datasets take any input without a --type
 * flag, and so inputs that can be read only once (stdin, pipes, FIFOs, `<(...)`) are.
 *
 * Regular files are peeked at with pread(2) and reopened by the reader that reads them.
 * Anything else (stdin as a pipe, /dev/fd/N, a named FIFO, a character device) is opened
 * once as an htslib hFILE whose first bytes are peeked at (hpeek: buffered, not consumed);
 * that handle then goes to the reader (seq_reader_open_input, audio_reader_open_input), so
 * nothing is read twice and nothing is lost. "-" is standard input, as in samtools.
 */
#ifndef LS_DETECT_H
#define LS_DETECT_H

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct hFILE; /* htslib/hfile.h */

typedef enum {
    INPUT_KIND_AUTO = 0,   /* not decided yet: input_open() decides */
    INPUT_KIND_SEQ,        /* FASTA/FASTQ (plain, gzip, bgzip), SAM/BAM/CRAM, or unknown */
    INPUT_KIND_AUDIO,      /* RIFF/RF64 WAV, FLAC, OGG, AIFF, AU, CAF, W64, WavPack, MP3 */
    INPUT_KIND_CHECKPOINT, /* safetensors: u64 header length then '{' */
} InputKind;

typedef struct InputFile InputFile;

/**
 * Open @p path ("-": standard input) and decide its kind from its first bytes (a file that
 * is neither audio nor a checkpoint is INPUT_KIND_SEQ: the sequence reader then names the
 * format problem). A stream (anything but a regular file) stays open with its first bytes
 * buffered; a regular file is not held open.
 * Audio is recognised by its container's magic ("RIFF", "fLaC", "OggS", "FORM", ...), MP3 by
 * an ID3v2 tag or an MPEG audio frame header (sync, valid version, layer, bitrate and rate).
 * @return 0 and *out (free with input_close()); LS_ERR_IO (missing, unreadable, a
 *         directory) or LS_ERR_FORMAT (empty), message naming the file ("<stdin>" for "-").
 */
int input_open(InputFile **out, const char *path) LS_RESULT_USED;

/** The kind decided by input_open(). */
InputKind input_kind(const InputFile *in);

/** The path as given ("-" for stdin). */
const char *input_path(const InputFile *in);

/** The name for messages: the path, or "<stdin>" for "-". */
const char *input_name(const InputFile *in);

/** 1 when the input is not a regular file and must be read through input_take_hfile(). */
int input_is_stream(const InputFile *in);

/**
 * Hand over a stream's open handle (its peeked bytes still unread); the caller closes it
 * with hclose(). @return the handle, or NULL with LS_ERR_USAGE when the input is not a
 * stream or its handle was already taken (a stream can be read once).
 */
struct hFILE *input_take_hfile(InputFile *in) LS_RESULT_USED;

/** Close (a stream's handle, if not taken) and free; NULL is a no-op. */
void input_close(InputFile *in);

/**
 * Check that no stream is named twice among @p paths: "-" twice, or two paths naming the
 * same pipe or FIFO (the same device and inode, e.g. "-" and /dev/stdin), since a stream can
 * be read once. Paths that do not exist are ignored (the caller reports them).
 * @return 0, or LS_ERR_USAGE naming both arguments.
 */
int input_check_streams(char *const *paths, int n) LS_RESULT_USED;

/**
 * An hFILE reading a duplicate of descriptor 0, so that closing it leaves standard input
 * open (htslib's hopen("-") closes descriptor 0, after which a second "-" or /dev/stdin
 * cannot be recognised as the same stream). NULL with errno on failure.
 */
struct hFILE *input_hdopen_stdin(void);

/** "sequence", "audio", "checkpoint" ("auto" for INPUT_KIND_AUTO). */
const char *input_kind_name(InputKind kind);

#ifdef __cplusplus
}
#endif
#endif
