/*
 * stream_source.h — the records of one input of `score --stream` / `embed --stream`, read a
 * piece at a time and encoded as the model was trained (DataSettings), so a chromosome or an
 * hour of audio never has to be in memory whole:
 *   - an indexed FASTA (FILE with FILE.fai, and FILE.gzi when bgzipped), whole or one region
 *     (FILE:REGION, the ':' rule of the dataset loader): pieces fetched through faidx
 *     (io/seq_index.h) — constant memory;
 *   - any other sequence input (FASTA/FASTQ without an index, gzip, SAM/BAM/CRAM, stdin): one
 *     record at a time read whole by io/seq.h (1 byte per base), then served in pieces;
 *   - audio: blocks of frames from libsndfile, mixed to mono, at the model's rate (constant
 *     memory); a file at another rate is read whole and resampled first (io/audio.h's rule).
 * Names and coordinates follow the non-streaming commands: a record's name; a region's name as
 * written after FILE:, its sequence name and 0-based start for bedGraph; an audio file's source
 * as given.
 *
 * Tested through tests/cli/stream.tst (stream ≡ whole-record results, indexed and not).
 */
#ifndef LS_STREAM_SOURCE_H
#define LS_STREAM_SOURCE_H

#include <stdint.h>

#include "common/error.h"
#include "pipeline/checkpoint.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct StreamSource StreamSource;

typedef struct {
    const char *name;   /* the record's name (embed rows, messages) */
    const char *chrom;  /* score's first column: the sequence name (a region's without
                           its coordinates), or the audio source */
    int64_t     base;   /* coordinate of position 0 (a region's 0-based start), else 0 */
    int64_t     length; /* positions (bases, samples at the model's rate); -1 if unknown */
} StreamRecord;

/**
 * Open one input @p spec ("-" is stdin) for a model reading @p data (DNA or audio).
 * @param reference  --reference FASTA for CRAM and '=' bases, or NULL
 * @return 0 and *out (free with stream_source_close()); the io/ errors naming the file.
 */
int stream_source_open(StreamSource **out, const char *spec, const DataSettings *data,
                       const char *reference) LS_RESULT_USED;
void stream_source_close(StreamSource *s);

/** Move to the next record. @return 1 and *rec (valid until the next call), 0 at the end,
 *  or an LS_ERR_* code. */
int stream_source_next(StreamSource *s, StreamRecord *rec) LS_RESULT_USED;

/**
 * The next pieces of the current record: up to @p max tokens (DNA ids, audio codes) or
 * samples (waveform models). @return the count (> 0), 0 at the record's end, or an error.
 */
int64_t stream_source_read(StreamSource *s, uint8_t *tokens, int64_t max) LS_RESULT_USED;
int64_t stream_source_read_samples(StreamSource *s, float *samples, int64_t max) LS_RESULT_USED;

/** 1 when pieces are read from the file as they are needed (indexed FASTA, audio at the
 *  model's rate), 0 when a whole record is held (1 byte per base, or the resampled audio). */
int stream_source_constant_memory(const StreamSource *s);

#ifdef __cplusplus
}
#endif
#endif
