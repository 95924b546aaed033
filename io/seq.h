/*
 * seq.h — streaming reader for DNA records on htslib: FASTA and FASTQ (plain, gzip, bgzip),
 * SAM, BAM and CRAM, from a path or "-" (stdin), whole files or a samtools-style region.
 *
 * One SeqReader yields one SeqRecord at a time and reuses its buffers, so a 250-Mb chromosome
 * is held once and never copied twice. Every base byte is checked while reading: a record
 * that holds anything but IUPAC letters (either case) is an error naming the file, the record
 * and the 1-based base position, so encoders downstream cannot meet a bad byte.
 *
 * Regions ("chr2", "chr2:1000-2000", "chr2:1,000-2,000", 1-based inclusive as in samtools)
 * need an index: .fai (+ .gzi for bgzip) for FASTA, .bai/.csi/.crai for SAM/BAM/CRAM.
 * The reader never writes an index: a missing one is an error that says which command builds
 * it. A region on FASTA yields one record named "chr2:1000-2000"; on alignments it yields the
 * reads overlapping it.
 *
 * Reads from alignment files come back in their original orientation (reverse-strand reads,
 * flag 0x10, are reverse-complemented, qualities reversed), as `samtools fastq` does.
 * Records are filtered by flags (-f/-F), then MAPQ (-q); a record without bases (SEQ '*',
 * legal SAM: secondary alignments, minimal records) is skipped too, unless no_bases_error
 * asks for an error; seq_reader_counts() says how many each filter dropped. A base written
 * '=' (same as the reference) is decoded from the reference FASTA in the options, through
 * the CIGAR; without one it is an error that says so.
 *
 * Text rules (docs/encodings.md): trailing spaces, tabs and '\r' on a line are dropped,
 * whitespace inside a sequence line is an error, blank lines are ignored; an empty file, a
 * record with no bases and a record with an empty name are errors. FASTQ sequence and quality
 * may span lines; a one-line sequence needs a one-line quality of the same length. bgzip input
 * without its end-of-file block, and gzip or CRAM input that stops early, is an error (not a
 * silently short read). Reading "-" reads a duplicate of descriptor 0, so standard input stays
 * open (and a second "-" can be recognised as the same stream).
 * htslib may also log its own "[E::...]" / "[W::...]" lines on stderr (hts_set_log_level).
 */
#ifndef LS_SEQ_H
#define LS_SEQ_H

#include <stdint.h>
#include <stddef.h>

#include "common/error.h"
#include "io/detect.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    SEQ_FORMAT_UNKNOWN = 0,
    SEQ_FORMAT_FASTA,
    SEQ_FORMAT_FASTQ,
    SEQ_FORMAT_SAM,
    SEQ_FORMAT_BAM,
    SEQ_FORMAT_CRAM,
} SeqFormat;

typedef enum {
    SEQ_COMPRESSION_NONE = 0,
    SEQ_COMPRESSION_GZIP,  /* plain gzip: streams, no random access */
    SEQ_COMPRESSION_BGZF,  /* blocked gzip: random access with .gzi */
} SeqCompression;

typedef struct {
    const char *region;      /* NULL: whole file */
    int         min_mapq;    /* alignments: skip MAPQ below this (0: keep all) */
    uint32_t    require_flags; /* alignments: keep only records with all these flags (-f) */
    uint32_t    exclude_flags; /* alignments: drop records with any of these (-F) */
    const char *reference;   /* reference FASTA (with .fai): decodes CRAM and the '=' bases
                                of SAM/BAM; NULL: CRAM from header M5/UR or REF_PATH, and '='
                                is an error */
    int         no_bases_error; /* alignments: a record without bases (SEQ '*') is an error
                                   instead of being skipped and counted */
} SeqReaderOptions;

/** Defaults: whole file, no MAPQ filter, exclude secondary and supplementary (0x900), skip
 *  (and count) alignment records without bases. */
void seq_reader_options_default(SeqReaderOptions *opt);

typedef struct {
    char   *name;      /* NUL-terminated record name (FASTA/FASTQ: up to first whitespace) */
    char   *seq;       /* bases as letters from the file, NUL-terminated; len of them */
    char   *qual;      /* FASTQ/alignments: phred+33, len bytes, NUL-terminated; NULL for
                          FASTA and for alignments whose QUAL is '*' */
    int64_t len;       /* number of bases */
    int64_t index;     /* 0-based record number among records yielded by this reader */
    /* buffer capacities, owned by the reader's record; do not touch */
    size_t  name_cap, seq_cap, qual_cap;
} SeqRecord;

typedef struct SeqReader SeqReader;

/**
 * Open @p path ("-" for stdin) and detect its format from its content (not its name).
 * @param opt  may be NULL for defaults; its strings are copied.
 * @return 0 and *out; LS_ERR_IO (missing file, directory, unreadable, missing CRAM reference),
 *         LS_ERR_FORMAT (empty file, not a sequence file, text before the first header,
 *         truncated/corrupt start or header), LS_ERR_NOT_FOUND (unknown sequence name in the
 *         region), LS_ERR_UNSUPPORTED (region without an index, on stdin, on plain gzip or
 *         FASTQ), LS_ERR_RANGE (region starts after the sequence ends), LS_ERR_USAGE
 *         (malformed region, or one starting at 0: positions are 1-based). On error *out is
 *         NULL. Free with seq_reader_close().
 */
int seq_reader_open(SeqReader **out, const char *path, const SeqReaderOptions *opt) LS_RESULT_USED;

/**
 * Like seq_reader_open() on an input opened by input_open(): a stream's handle (its first
 * bytes peeked at, not lost) is taken over, so a pipe is read exactly once; a regular file is
 * opened by its path. Errors as seq_reader_open(), and LS_ERR_USAGE when the stream's handle
 * was taken already. @p in stays the caller's (input_close()).
 */
int seq_reader_open_input(SeqReader **out, InputFile *in,
                          const SeqReaderOptions *opt) LS_RESULT_USED;

/**
 * Read the next record into @p rec (initialise it with `SeqRecord rec = {0};`). The record's
 * buffers are reused and grown as needed; one record may be passed to several readers.
 * @return >= 0 (the record's index), -1 at end of input, < -1 an LS_ERR_* code with a message
 *         "<file>:<where>: <what>" (where = line[:column] for FASTA/FASTQ text, plus the
 *         record name, its 1-based number "#n" and the 1-based base position for bad bases;
 *         "record #n 'name'" for alignments). An error is final: later calls return it again.
 */
int64_t seq_reader_next(SeqReader *reader, SeqRecord *rec) LS_RESULT_USED;

/* What a reader has read so far, and what its filters dropped (alignment files; for
 * FASTA/FASTQ seen == kept and nothing is dropped). Records are tested in this order: flags
 * (-f/-F), MAPQ (-q), then bases, so each dropped record is counted once. */
typedef struct {
    int64_t seen;          /* records read from the file or region, before any filter */
    int64_t kept;          /* records returned by seq_reader_next() */
    int64_t dropped_flag;  /* by require_flags / exclude_flags */
    int64_t dropped_mapq;  /* by min_mapq */
    int64_t no_bases;      /* SEQ '*' (skipped unless no_bases_error) */
} SeqReaderCounts;

/** Counts of @p reader so far (final once seq_reader_next() returned -1). */
void seq_reader_counts(const SeqReader *reader, SeqReaderCounts *counts);

SeqFormat      seq_reader_format(const SeqReader *reader);
/** Compression of the file; CRAM (compressed by its own codecs) reports plain. */
SeqCompression seq_reader_compression(const SeqReader *reader);
/** The path as given to seq_reader_open ("-" for stdin; messages say "<stdin>"). */
const char    *seq_reader_path(const SeqReader *reader);

/** "FASTA", "FASTQ", "SAM", "BAM", "CRAM", "unknown". */
const char *seq_format_name(SeqFormat format);
/** "plain", "gzip", "bgzip". */
const char *seq_compression_name(SeqCompression compression);

/** Close the file and free the reader; NULL is a no-op. */
void seq_reader_close(SeqReader *reader);

/** Free a record's buffers (the reader does not own them); NULL is a no-op. */
void seq_record_free(SeqRecord *rec);

#ifdef __cplusplus
}
#endif
#endif
